//! A multi-file transaction through the library, for the crash and error sweeps and the
//! benchmark: `txn ROOT [--atomic] OP...` where OP is `write:PATH=SOURCE` (the bytes of the file
//! SOURCE) or `delete:PATH`. Paths are relative to ROOT. Prints one line per file; exits 2 on
//! failure, like the CLI.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use cargo_atomic::event::Discard;
use cargo_atomic::store::{Durability, Store, StoreOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((root, ops)) = args.split_first() else {
        eprintln!("usage: txn ROOT [--atomic] write:PATH=SOURCE | delete:PATH ...");
        return ExitCode::from(2);
    };
    match run(Path::new(root), ops) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&*e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(root: &Path, ops: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = StoreOptions {
        command: "txn".into(),
        ..StoreOptions::default()
    };
    if ops.iter().any(|o| o == "--atomic") {
        options.durability = Durability::Atomic;
    }
    let store = Store::open(root, options, &mut Discard)?;
    let mut tx = store.transaction("write");
    for op in ops.iter().filter(|o| *o != "--atomic") {
        if let Some(spec) = op.strip_prefix("write:") {
            let (path, source) = spec.split_once('=').ok_or("write:PATH=SOURCE")?;
            let bytes =
                std::fs::read(source).map_err(|e| format!("cannot read `{source}`: {e}"))?;
            tx.write(path, bytes)?;
        } else if let Some(path) = op.strip_prefix("delete:") {
            tx.delete(path)?;
        } else {
            return Err(format!("unknown op {op}").into());
        }
    }
    let done = tx.commit()?;
    // The transaction is done: a failure to print it must not look like a failed transaction
    // (`println!` would panic), so write errors on stdout are ignored.
    let mut out = std::io::stdout().lock();
    for f in done.files {
        let _ = writeln!(
            out,
            "{} {:?} -> {:?}",
            f.path.display(),
            f.before.map(|s| s.sha256),
            f.after.map(|s| s.sha256)
        );
    }
    Ok(())
}

//! The store's side of `bench/store_vs_anchors.sh`: the same work as the kit's `atomic_limit`,
//! through the real [`Store`] and [`Transaction`](cargo_atomic::store::Transaction).
//!
//! ```text
//! bench_store txn ROOT [N=1000] [SIZE=4096] [DIRS=10] [--atomic]
//! bench_store hash FILE
//! ```
//!
//! `txn` replaces N existing files of SIZE bytes, spread over DIRS directories
//! (`ROOT/d00/f-00000.cfg` ...), in one transaction: backups, journal and manifest included.
//! The targets are created (and synced) on the first run, untimed; every run writes content that
//! differs per run and per file (as `atomic_limit`'s `fill`), so every file is changed and gets
//! a backup object. It prints one line in `atomic_limit`'s format plus a breakdown:
//! `mode=store-txn n=... dirs=... total_s=... per_file_us=... open_s=... add_s=... commit_s=...`.
//!
//! `hash` prints `DIGEST  FILE` (as `sha256sum`) from [`cargo_atomic::store::hash_path`].

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use cargo_atomic::event::Discard;
use cargo_atomic::store::{Durability, Store, StoreOptions, hash_path};

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("txn") => txn(&args[1..]),
        Some("hash") if args.len() == 2 => hash(Path::new(&args[1])),
        _ => Err("usage: bench_store txn ROOT [N] [SIZE] [DIRS] [--atomic] | hash FILE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("bench_store: {msg}");
            ExitCode::from(2)
        }
    }
}

fn hash(file: &Path) -> Result<(), BoxError> {
    let state = hash_path(file)?;
    println!("{}  {}", state.sha256, file.display());
    Ok(())
}

/// Positional numbers with defaults, and the `--atomic` flag anywhere.
struct TxnArgs {
    root: PathBuf,
    n: usize,
    size: usize,
    dirs: usize,
    atomic: bool,
}

fn parse_txn(args: &[String]) -> Result<TxnArgs, BoxError> {
    let atomic = args.iter().any(|a| a == "--atomic");
    let pos: Vec<&String> = args.iter().filter(|a| *a != "--atomic").collect();
    let root = PathBuf::from(pos.first().ok_or("txn needs ROOT")?);
    let num = |i: usize, default: usize| -> Result<usize, BoxError> {
        Ok(pos
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (n, size, dirs) = (num(1, 1000)?, num(2, 4096)?, num(3, 10)?);
    if dirs == 0 || n == 0 {
        return Err("N and DIRS must be positive".into());
    }
    Ok(TxnArgs {
        root,
        n,
        size,
        dirs,
        atomic,
    })
}

/// `ROOT`-relative path of file `i`: files are split into `dirs` contiguous groups.
fn target(i: usize, n: usize, dirs: usize) -> PathBuf {
    PathBuf::from(format!("d{:02}/f-{i:05}.cfg", i * dirs / n))
}

/// The same bytes as `atomic_limit.c`'s `fill`: differs per run and per file.
fn fill(buf: &mut Vec<u8>, size: usize, run: u64, i: usize) {
    buf.clear();
    let _ = writeln!(buf, "# run {run} file {i}");
    buf.truncate(size);
    for k in buf.len()..size {
        buf.push(b'a' + ((k as u64 * 7 + i as u64 + run) % 26) as u8);
    }
    if let Some(last) = buf.last_mut() {
        *last = b'\n';
    }
}

/// Creates the targets that are missing (run 0 content) and syncs the filesystem once.
fn setup(a: &TxnArgs) -> Result<(), BoxError> {
    fs::create_dir_all(&a.root)?;
    let mut created = false;
    let mut buf = Vec::new();
    for i in 0..a.n {
        let path = a.root.join(target(i, a.n, a.dirs));
        if !path.exists() {
            fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            fill(&mut buf, a.size, 0, i);
            fs::write(&path, &buf)?;
            created = true;
        }
    }
    if created {
        rustix::fs::syncfs(fs::File::open(&a.root)?)?;
    }
    Ok(())
}

fn txn(args: &[String]) -> Result<(), BoxError> {
    let a = parse_txn(args)?;
    setup(&a)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let run = now.as_secs() ^ (u64::from(std::process::id()) << 16) ^ u64::from(now.subsec_nanos());
    let options = StoreOptions {
        command: "bench_store".into(),
        durability: if a.atomic {
            Durability::Atomic
        } else {
            Durability::Full
        },
        ..StoreOptions::default()
    };

    let t0 = Instant::now();
    let store = Store::open(&a.root, options, &mut Discard)?;
    let t_open = t0.elapsed();
    let mut tx = store.transaction("write");
    let mut buf = Vec::with_capacity(a.size);
    for i in 0..a.n {
        fill(&mut buf, a.size, run, i);
        tx.write(target(i, a.n, a.dirs), buf.as_slice())?;
    }
    let t_add = t0.elapsed();
    let done = tx.commit()?;
    let total = t0.elapsed();

    let backed_up = done.files.iter().filter(|f| f.backup.is_some()).count();
    if backed_up != a.n || done.files.iter().any(|f| f.unchanged()) {
        return Err(format!(
            "expected {} changed files with backups, got {backed_up}",
            a.n
        )
        .into());
    }
    let s = |d: std::time::Duration| d.as_secs_f64();
    println!(
        "mode=store-txn{} n={} size={} dirs={} total_s={:.4} per_file_us={:.1} open_s={:.4} add_s={:.4} commit_s={:.4}",
        if a.atomic { "-atomic" } else { "" },
        a.n,
        a.size,
        a.dirs,
        s(total),
        s(total) / a.n as f64 * 1e6,
        s(t_open),
        s(t_add - t_open),
        s(total - t_add),
    );
    Ok(())
}

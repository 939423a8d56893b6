//! `backups prune` at scale: a store with N backups, pruned by a real retention policy.
//!
//! ```text
//! bench_prune ROOT [N=10000] [FILES=100] [--setup-only]
//! ```
//!
//! Creates a workspace in ROOT (which must not exist) whose store holds N backups of FILES files,
//! spread evenly over the year 2026, each with its own 256-byte object, and an `atomic.toml`
//! with `keep-last 5, keep-daily 7, keep-weekly 4, keep-monthly 6, max-total-size 1MiB`. The
//! set-up writes the index and objects directly (untimed). Then it runs `ops::prune` once,
//! timed, and prints `backups=... files=... total_s=... backups_per_s=... dropped=...
//! objects_removed=...`. With `--setup-only` it stops after the set-up, so the binary can be
//! measured instead:
//!
//! ```text
//! /usr/bin/time -v cargo-atomic --manifest-path ROOT backups prune -q
//! ```

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use cargo_atomic::event::{Event, Sink};
use cargo_atomic::ops::{self, PruneRequest, Workspace};
use cargo_atomic::store::{BackupRecord, Sha256Digest, Store, StoreOptions};

type BoxError = Box<dyn std::error::Error>;

const POLICY: &str = "[backups]\nkeep-last = 5\nkeep-daily = 7\nkeep-weekly = 4\nkeep-monthly = 6\nmax-total-size = \"1MiB\"\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let setup_only = args.iter().any(|a| a == "--setup-only");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(root) = pos.first().map(PathBuf::from) else {
        eprintln!("usage: bench_prune ROOT [N=10000] [FILES=100] [--setup-only]");
        return ExitCode::from(2);
    };
    let n = pos.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let files = pos.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    match run(&root, n, files, setup_only) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_prune: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &Path, n: usize, files: usize, setup_only: bool) -> Result<(), BoxError> {
    setup(root, n, files)?;
    if setup_only {
        return Ok(());
    }
    let root = &fs::canonicalize(root)?;
    let ws = Workspace::discover(Some(&root.join("Cargo.toml")), None, root)?;
    let mut tally = Tally::default();
    let req = PruneRequest {
        dry_run: false,
        command: "bench_prune".into(),
        now: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600)), // 2027-01-01
    };
    let start = Instant::now();
    let outcome = ops::prune(&ws, &req, &mut tally)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "backups={n} files={files} total_s={secs:.4} backups_per_s={:.0} dropped={} objects_removed={}",
        n as f64 / secs,
        outcome.written,
        tally.objects_removed
    );
    Ok(())
}

/// Counts what the prune reported, as a sink that keeps nothing else.
#[derive(Default)]
struct Tally {
    objects_removed: usize,
}

impl Sink for Tally {
    fn event(&mut self, e: Event) {
        if let Event::BackupsPruned {
            objects_removed, ..
        } = e
        {
            self.objects_removed = objects_removed;
        }
    }
}

fn setup(root: &Path, n: usize, files: usize) -> Result<(), BoxError> {
    fs::create_dir(root)?;
    fs::write(root.join("Cargo.toml"), "[workspace]\n")?;
    fs::write(root.join("atomic.toml"), POLICY)?;
    let store = Store::open(
        root,
        StoreOptions::default(),
        &mut cargo_atomic::event::Discard,
    )?;
    let objects = store.state_dir().join("objects");
    let start = humantime::parse_rfc3339("2026-01-01T00:00:00Z")?;
    let step = Duration::from_secs(365 * 86_400) / n.max(1) as u32;
    // Written as it is made, so that the set-up adds nothing to the peak RSS measured.
    let mut index = BufWriter::new(fs::File::create(store.state_dir().join("backups.jsonl"))?);
    for i in 0..n {
        let mut bytes = format!("{{\"backup\": {i}}}\n").into_bytes();
        bytes.resize(256, b' ');
        let sha256 = Sha256Digest::of(&bytes);
        fs::write(objects.join(sha256.to_string()), &bytes)?;
        let path = PathBuf::from(format!("config/f{:04}.json", i % files));
        let txid = format!("{:013}-{i:016x}", 1_767_225_600_000u64 + i as u64);
        let record = BackupRecord {
            id: BackupRecord::make_id(&txid, &path),
            txid,
            time: humantime::format_rfc3339_millis(start + step * i as u32).to_string(),
            path,
            sha256,
            size: bytes.len() as u64,
            mode: 0o644,
            op: "write".into(),
            command: "bench_prune".into(),
        };
        serde_json::to_writer(&mut index, &record)?;
        index.write_all(b"\n")?;
    }
    index.flush()?;
    Ok(())
}

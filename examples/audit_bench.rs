//! How fast `audit verify` streams a long log, and in how much memory.
//!
//! `audit_bench DIR [--records N]` makes DIR a workspace (a `Cargo.toml` with `[workspace]`)
//! whose audit log holds N records (default 100,000, appended in batches of 1,000 through the
//! store, without fsync), then times one verification of the whole chain.
//! `audit_bench DIR --verify-only` only verifies, so that `/usr/bin/time -v` measures the
//! verification's peak RSS alone:
//!
//! ```text
//! cargo build --release --example audit_bench
//! target/release/examples/audit_bench /tmp/audit-bench
//! /usr/bin/time -v target/release/examples/audit_bench /tmp/audit-bench --verify-only
//! (cd /tmp/audit-bench && /usr/bin/time -v cargo-atomic atomic audit verify)
//! ```

use std::path::Path;
use std::time::Instant;

use cargo_atomic::event::Discard;
use cargo_atomic::store::{
    AuditEntry, AuditOutcome, Durability, FileState, Sha256Digest, Store, StoreOptions,
    VerifyOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or("usage: audit_bench DIR [--records N] [--verify-only]")?;
    let root = Path::new(dir);
    let records: u64 = match args.iter().position(|a| a == "--records") {
        Some(i) => args.get(i + 1).ok_or("--records N")?.parse()?,
        None => 100_000,
    };
    let options = StoreOptions {
        durability: Durability::Atomic,
        ..StoreOptions::default()
    };
    if !args.iter().any(|a| a == "--verify-only") {
        std::fs::create_dir_all(root)?;
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n")?;
        let _ = std::fs::remove_dir_all(root.join(".atomic"));
        let store = Store::open(root, options.clone(), &mut Discard)?;
        let start = Instant::now();
        let mut n = 1; // the genesis record
        while n < records {
            let batch: Vec<AuditEntry> = (n..records.min(n + 1000))
                .map(|i| AuditEntry {
                    op: "write".into(),
                    path: Some(format!("config/file{}.json", i % 100)),
                    before: Some(state(i)),
                    after: Some(state(i + 1)),
                    outcome: AuditOutcome::Ok,
                })
                .collect();
            n += batch.len() as u64;
            let warnings = store.append_audit(&batch);
            if !warnings.is_empty() {
                return Err(format!("append: {warnings:?}").into());
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let size = std::fs::metadata(root.join(".atomic/audit.jsonl"))?.len();
        println!(
            "appended {n} records ({:.1} MiB) in {secs:.2} s: {:.0} records/s",
            size as f64 / (1 << 20) as f64,
            n as f64 / secs
        );
    }
    let store = Store::open_shared(root, options, &mut Discard)?.ok_or("no store in DIR")?;
    let start = Instant::now();
    let report = store.verify_audit(&VerifyOptions::default(), &mut |_, _| {})?;
    let secs = start.elapsed().as_secs_f64();
    if !report.findings.is_empty() {
        return Err(format!("findings: {:#?}", report.findings).into());
    }
    println!(
        "verified {} records in {secs:.3} s: {:.0} records/s",
        report.records,
        report.records as f64 / secs
    );
    Ok(())
}

fn state(i: u64) -> FileState {
    FileState {
        sha256: Sha256Digest::of(&i.to_le_bytes()),
        size: i % 4096,
    }
}

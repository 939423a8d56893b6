//! Reads are bounded and never block: a FIFO, a link to `/dev/zero` and a sparse 1 GiB file
//! as inputs each end quickly with a finding that says what is wrong, in bounded memory.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs the binary under `sh` with a data-size cap (KiB) and a wall-clock cap, so a read that
/// blocks or eats memory fails the test instead of hanging it.
fn capped(ws: &Ws, args: &[&str], data_kib: u64) -> (Run, Duration) {
    let mut script = format!("ulimit -d {data_kib}; exec timeout -s KILL 60 \"$0\" atomic");
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg(bin()).current_dir(ws.root());
    let start = Instant::now();
    let r = run(cmd, None);
    (r, start.elapsed())
}

fn mkfifo(path: &std::path::Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo");
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let ws = Ws::new();
    ws.put("schema.json", "{}");
    mkfifo(&ws.path("pipe.json"));
    let (r, took) = capped(
        &ws,
        &["validate", "pipe.json", "--schema", "schema.json"],
        1 << 20,
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    assert!(took < Duration::from_secs(50), "it blocked: {took:?}");

    // As a schema too.
    mkfifo(&ws.path("pipe.schema.json"));
    ws.put("a.json", "{}");
    let (r, _) = capped(
        &ws,
        &["validate", "a.json", "--schema", "pipe.schema.json"],
        1 << 20,
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
}

#[test]
fn a_link_to_dev_zero_is_refused() {
    let ws = Ws::new();
    ws.put("schema.json", "{}");
    std::os::unix::fs::symlink("/dev/zero", ws.path("zero.json")).unwrap();
    let (r, took) = capped(
        &ws,
        &["validate", "zero.json", "--schema", "schema.json"],
        1 << 20,
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    assert!(took < Duration::from_secs(50), "it read forever: {took:?}");
}

#[test]
fn a_sparse_gigabyte_costs_the_limit_not_a_gigabyte() {
    let ws = Ws::new();
    ws.put("schema.json", "{}");
    let f = std::fs::File::create(ws.path("big.json")).unwrap();
    f.set_len(1 << 30).unwrap();
    // 200 MiB of data segment: the whole file could not be read into it.
    let (r, _) = capped(
        &ws,
        &["validate", "big.json", "--schema", "schema.json"],
        200 << 10,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[limit]"), "{}", r.stderr);
}

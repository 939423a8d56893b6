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

/// A schema whose forms refer back to it (`anyOf` of three `$ref: "#"`) makes collecting a
/// document's errors exponential in its depth: 14 levels took minutes and gigabytes. It gets a
/// `limit` finding at once, in bounded memory, while the same schema's other files are
/// validated as always.
#[test]
fn a_schema_bomb_gets_a_limit_finding_not_a_hang() {
    let ws = Ws::new();
    ws.put(
        "bomb.schema.json",
        r##"{"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#"}, {"$ref": "#"}]}}"##,
    );
    let nest = |leaf: &str| {
        let mut v = leaf.to_owned();
        for _ in 0..14 {
            v = format!("{{\"a\": {v}}}");
        }
        v
    };
    ws.put("deep.json", &nest("1"));
    ws.put("fine.json", &nest("{}"));
    ws.put("shallow.json", r#"{"a": {"b": 1}}"#);
    let (r, took) = capped(
        &ws,
        &[
            "validate",
            "--schema",
            "bomb.schema.json",
            "deep.json",
            "fine.json",
            "shallow.json",
        ],
        1 << 20,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("error[limit]: the document is not valid, and explaining why would walk more than 1000000 paths"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--> deep.json"), "{}", r.stderr);
    assert!(!r.stderr.contains("--> fine.json"), "{}", r.stderr);
    // The shallow mistake is still found, at its place, through the budgeted path.
    assert!(r.stderr.contains("--> shallow.json:1:"), "{}", r.stderr);
    assert!(took < Duration::from_secs(20), "no budget: {took:?}");
}

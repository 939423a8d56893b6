//! Damaged state never blocks the way out: `check` and `audit verify --deep` report each damage
//! at its place, and `recover --repair` sets it aside (never deleting it) and rebuilds what can
//! be rebuilt, audited.

use crate::support::*;

/// A workspace with a managed `a.json` written three times: two backups.
fn written() -> Ws {
    let ws = Ws::new();
    for v in 0..3 {
        ws.run_stdin(
            &["write", "a.json"],
            Some(format!("{{\"v\": {v}}}\n").as_bytes()),
        )
        .ok();
    }
    ws
}

#[test]
fn a_garbled_index_line_is_reported_then_set_aside_and_the_rest_kept() {
    let ws = written();
    let index = ws.read(".atomic/backups.jsonl");
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), 2, "{index}");
    let garbled = format!("{}\n{{garbage\n{}\n", lines[0], lines[1]);
    ws.put(".atomic/backups.jsonl", &garbled);

    for args in [&["check"][..], &["audit", "verify", "--deep"]] {
        let r = ws.run(args).code(1);
        assert!(
            r.stderr.contains(".atomic/backups.jsonl:2"),
            "{args:?} should place the damage:\n{}",
            r.stderr
        );
        assert!(r.stderr.contains("recover --repair"), "{}", r.stderr);
    }
    let r = ws.run(&["backups", "restore", "a.json"]).code(2);
    assert!(r.stderr.contains("recover --repair"), "{}", r.stderr);

    let r = ws.run(&["recover", "--repair"]).ok();
    assert!(r.stderr.contains("set aside"), "{}", r.stderr);
    assert_eq!(
        ws.read(".atomic/backups.jsonl.damaged-1"),
        garbled,
        "never deleted"
    );
    assert_eq!(
        ws.read(".atomic/backups.jsonl"),
        format!("{}\n{}\n", lines[0], lines[1])
    );
    ws.run(&["check"]).ok();
    ws.run(&["audit", "verify", "--deep"]).ok();
    ws.run(&["backups", "restore", "a.json"]).ok();
    assert_eq!(ws.read("a.json"), "{\"v\": 1}\n");
    let log = ws.read(".atomic/audit.jsonl");
    assert!(log.contains("\"op\":\"doctor\""), "{log}");
}

#[test]
fn a_damaged_manifest_is_rebuilt_from_the_audit_log() {
    let ws = written();
    let good = ws.read(".atomic/manifest.json");
    ws.put(".atomic/manifest.json", "{\"version\": 1, \"files\": {");
    let r = ws.run(&["check"]).code(1);
    assert!(r.stderr.contains(".atomic/manifest.json"), "{}", r.stderr);
    ws.run(&["recover", "--repair"]).ok();
    assert_eq!(
        ws.read(".atomic/manifest.json.damaged-1"),
        "{\"version\": 1, \"files\": {"
    );
    let rebuilt: serde_json::Value =
        serde_json::from_str(&ws.read(".atomic/manifest.json")).unwrap();
    let good: serde_json::Value = serde_json::from_str(&good).unwrap();
    assert_eq!(rebuilt["files"], good["files"]);
    ws.run(&["verify"]).ok();
    ws.run(&["check"]).ok();
}

#[test]
fn a_damaged_journal_is_named_with_the_way_out_and_set_aside() {
    let ws = written();
    let journal = ".atomic/journal/0000000000001-0123456789abcdef.jsonl";
    ws.put(journal, "{not json\n{\"kind\":\"commit\"}\n");
    let before = ws.snapshot();
    for args in [&["check"][..], &["write", "b.json"], &["recover"]] {
        let r = ws.run_stdin(args, Some(b"{}\n")).code(2);
        assert!(
            r.stderr.contains("0000000000001-0123456789abcdef.jsonl"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("recover --repair"), "{}", r.stderr);
    }
    assert_eq!(ws.snapshot(), before);
    ws.run(&["recover", "--repair"]).ok();
    assert!(ws.path(&format!("{journal}.damaged-1")).is_file());
    ws.run(&["check"]).ok();
    ws.run_stdin(&["write", "b.json"], Some(b"{}\n")).ok();
}

#[test]
fn an_index_line_longer_than_any_record_is_damage_at_its_line() {
    let ws = written();
    let index = ws.read(".atomic/backups.jsonl");
    let lines: Vec<&str> = index.lines().collect();
    let long = "x".repeat(3 << 20);
    ws.put(
        ".atomic/backups.jsonl",
        &format!("{}\n{long}\n{}\n", lines[0], lines[1]),
    );
    let r = ws.run(&["check"]).code(1);
    assert!(r.stderr.contains(".atomic/backups.jsonl:2"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(".atomic/backups.jsonl:3"),
        "{}",
        r.stderr
    );
}

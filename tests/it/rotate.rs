//! `rotate` through the real binary: output, exit codes, refusals that change nothing. The
//! rules themselves are tested on the plan (`src/ops/rotate/tests.rs`); crashes in
//! `crash_rotate.rs`.

use crate::support::*;

const CONFIG: &str = r#"
[[rotate]]
name = "reports"
files = "target/reports/*.json"
keep-last = 1
compress = "gzip"

[[rotate]]
name = "logs"
files = "target/*.log"
naming = "numbered"
"#;

fn ws() -> Ws {
    let ws = Ws::new();
    ws.put("atomic.toml", CONFIG);
    ws.put("target/reports/a.json", "{\"run\": 1}\n");
    ws.put("target/app.log", "one\n");
    ws
}

#[test]
fn json_lines_of_rotate() {
    let ws = ws();
    let mut text = ws.run(&["rotate", "--message-format", "json"]).ok().stdout;
    ws.put("target/reports/a.json", "{\"run\": 2}\n");
    ws.put("target/app.log", "two\n");
    text.push_str(&ws.run(&["rotate", "--message-format", "json"]).ok().stdout);
    assert_eq!(ws.read("target/app.log.2"), "one\n");
    assert_eq!(ws.read("target/app.log.1"), "two\n");
    snapshots(|| {
        insta::with_settings!({filters => vec![
            (r"\d{8}T\d{6}Z-\d{3}", "[stamp]"),
        ]}, {
            insta::assert_snapshot!("rotate-json-lines", text);
        })
    });
}

#[test]
fn dry_run_through_the_cli_changes_nothing() {
    let ws = ws();
    ws.run(&["rotate"]).ok();
    ws.put("target/reports/a.json", "{\"run\": 2}\n");
    ws.put("target/app.log", "two\n");
    let before = ws.snapshot();
    let state = std::fs::read(ws.path(".atomic/rotations.json")).unwrap();
    let r = ws.run(&["rotate", "--dry-run"]).ok();
    assert_eq!(ws.snapshot(), before);
    assert_eq!(
        std::fs::read(ws.path(".atomic/rotations.json")).unwrap(),
        state
    );
    for word in ["Would rotate", "Would shift", "Would gzip", "Would prune"] {
        assert!(r.stderr.contains(word), "{word}:\n{}", r.stderr);
    }
    assert!(r.stderr.contains("(beyond keep-last 1)"), "{}", r.stderr);
}

#[test]
fn only_the_named_entries_rotate_and_an_unknown_name_is_refused() {
    let ws = ws();
    ws.run(&["rotate", "logs"]).ok();
    assert!(ws.path("target/reports/a.json").exists());
    assert!(ws.path("target/app.log.1").exists());
    let before = ws.snapshot();
    let r = ws.run(&["rotate", "nope"]).code(2);
    assert!(
        r.stderr.contains("no [[rotate]] entry is named `nope`"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_foreign_file_in_the_way_of_numbered_rotation_is_refused_and_nothing_changes() {
    let ws = ws();
    ws.put("target/app.log.1", "somebody else's\n");
    let before = ws.snapshot();
    let r = ws.run(&["rotate"]).code(2);
    assert!(
        r.stderr.contains("`target/app.log.1` is in the way"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_bad_size_in_the_config_is_located() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[rotate]]\nname = \"r\"\nfiles = \"*.log\"\nmax-size = \"ten megs\"\n",
    );
    let r = ws.run(&["rotate"]).code(2);
    assert!(r.stderr.contains("atomic.toml:4:12"), "{}", r.stderr);
    assert!(!ws.path(".atomic").exists());
}

#[test]
fn human_output_of_a_dry_run() {
    let ws = ws();
    ws.run(&["rotate"]).ok();
    ws.put("target/reports/a.json", "{\"run\": 2}\n");
    ws.put("target/app.log", "two\n");
    let r = ws.run(&["rotate", "--dry-run"]).ok();
    snapshots(|| {
        insta::with_settings!({filters => vec![(r"\d{8}T\d{6}Z-\d{3}", "[stamp]")]}, {
            insta::assert_snapshot!("rotate-dry-run-human", r.stderr);
        })
    });
}

#[test]
fn a_glob_of_everything_never_takes_git_the_state_or_the_configuration() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[rotate]]\nname = \"all\"\nfiles = \"**\"\nnaming = \"numbered\"\n",
    );
    ws.put(".git/HEAD", "ref: refs/heads/main\n");
    ws.put("sub/Cargo.toml", "[package]\nname = \"sub\"\n");
    ws.put("out/report.txt", "r\n");
    ws.run(&["rotate"]).ok();
    for stays in [
        ".git/HEAD",
        "atomic.toml",
        "Cargo.toml",
        "sub/Cargo.toml",
        ".atomic/rotations.json",
        ".atomic/lock",
    ] {
        assert!(ws.path(stays).is_file(), "{stays} was rotated away");
    }
    assert!(!ws.path("out/report.txt").exists(), "the artifact rotates");
    assert_eq!(ws.read("out/report.txt.1"), "r\n");
}

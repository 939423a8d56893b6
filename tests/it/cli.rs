//! The command line: plumbing, exit codes, output formats, and the store commands end to end.

use crate::support::*;

#[test]
fn write_replaces_and_keeps_a_backup_then_restore_puts_it_back() {
    let ws = Ws::new();
    ws.put("config/app.json", "{\"port\": 80}\n");
    ws.run_stdin(&["write", "config/app.json"], Some(b"{\"port\": 8080}\n"))
        .ok();
    assert_eq!(ws.read("config/app.json"), "{\"port\": 8080}\n");
    let list = ws
        .run(&["backups", "list", "--message-format", "json"])
        .ok();
    let rows = list.records();
    assert_eq!(rows.len(), 1, "{}", list.stdout);
    assert_eq!(rows[0]["path"], "config/app.json");
    ws.run(&["backups", "restore", "config/app.json"]).ok();
    assert_eq!(ws.read("config/app.json"), "{\"port\": 80}\n");
    // The restore kept the bytes it replaced, too.
    assert_eq!(
        ws.run(&["backups", "list", "--message-format", "json"])
            .ok()
            .records()
            .len(),
        2
    );
    assert!(ws.leftover_temps().is_empty());
}

#[test]
fn works_as_cargo_atomic_and_as_cargo_dash_atomic() {
    let ws = Ws::new();
    // As cargo calls it: `cargo-atomic atomic write ...`.
    ws.run_stdin(&["write", "a.json"], Some(b"1\n")).ok();
    // Called directly, without the extra word.
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["write", "b.json"]).current_dir(ws.root());
    run(cmd, Some(b"2\n")).ok();
    assert_eq!(
        (ws.read("a.json"), ws.read("b.json")),
        ("1\n".into(), "2\n".into())
    );
}

#[test]
fn manifest_path_selects_the_workspace_from_anywhere() {
    let ws = Ws::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let manifest = ws.path("Cargo.toml");
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("atomic")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["verify", "--message-format", "json"])
        .current_dir(elsewhere.path());
    let r = run(cmd, None).ok();
    assert_eq!(r.json().last().unwrap()["reason"], "summary");
}

#[test]
fn verify_finds_an_edited_file_and_a_missing_one() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "a.json"], Some(b"{}\n")).ok();
    ws.run_stdin(&["write", "b.json"], Some(b"{}\n")).ok();
    ws.run(&["verify"]).ok();
    ws.put("a.json", "{\"edited\": true}\n");
    std::fs::remove_file(ws.path("b.json")).unwrap();
    let r = ws.run(&["verify", "--message-format", "json"]).code(1);
    let lines = r.json();
    let diags: Vec<_> = lines
        .iter()
        .filter(|l| l["reason"] == "diagnostic")
        .collect();
    assert_eq!(diags.len(), 2, "{}", r.stdout);
    assert!(
        diags
            .iter()
            .all(|d| d["code"] == "integrity" && d["severity"] == "error")
    );
    assert_eq!(diags[0]["file"], "a.json");
    assert_eq!(diags[1]["file"], "b.json");
    assert_eq!(lines.last().unwrap()["errors"], 2);
}

#[test]
fn verify_of_a_file_the_store_never_wrote_is_a_finding() {
    let ws = Ws::new();
    ws.put("x.json", "{}\n");
    let r = ws
        .run(&["verify", "x.json", "--message-format", "short"])
        .code(1);
    assert!(
        r.stdout
            .contains("x.json: error[integrity]: no checksum is recorded"),
        "{}",
        r.stdout
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let ws = Ws::new();
    let r = ws.run(&["no-such-command"]).code(2);
    assert!(r.stderr.contains("unrecognized subcommand"), "{}", r.stderr);
    ws.run(&["--message-format", "xml", "verify"]).code(2);
    let r = ws.run(&["--help"]).ok();
    assert!(r.stdout.contains("Usage: cargo atomic"), "{}", r.stdout);
}

#[test]
fn a_failure_in_json_mode_is_also_a_json_line() {
    let ws = Ws::new();
    let r = ws
        .run(&[
            "backups",
            "restore",
            "nothing.json",
            "--message-format",
            "json",
        ])
        .code(2);
    let lines = r.json();
    assert_eq!(lines[0]["reason"], "error");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("no backup of `nothing.json`")
    );
    assert!(
        r.stderr
            .contains("error: no backup of `nothing.json` exists"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_panic_prints_a_bug_report_line_and_exits_101() {
    let ws = Ws::new();
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["atomic", "verify"])
        .current_dir(ws.root())
        .env("__CARGO_ATOMIC_TEST_PANIC", "1");
    let r = run(cmd, None).code(101);
    assert!(r.stderr.contains("internal bug"), "{}", r.stderr);
    assert!(r.stderr.contains("Please report it"), "{}", r.stderr);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let ws = Ws::new();
    for i in 0..40 {
        ws.run_stdin(
            &["write", &format!("f{i}.json")],
            Some(format!("{i}\n").as_bytes()),
        )
        .ok();
        ws.run_stdin(
            &["write", &format!("f{i}.json")],
            Some(format!("{i}{i}\n").as_bytes()),
        )
        .ok();
    }
    // `cargo atomic backups list | head -1`: stdout closes after the first line.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' atomic backups list | head -c 10 >/dev/null",
            bin().display()
        ))
        .current_dir(ws.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn colour_follows_flag_then_cargo_term_color_then_no_color() {
    let ws = Ws::new();
    let run_with = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("atomic").args(args).current_dir(ws.root());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let r = run_unfiltered(cmd, Some(b"{}\n"));
        r.stderr.contains("\x1b[")
    };
    assert!(run_with(&["--color", "always", "write", "a.json"], &[]));
    assert!(!run_with(
        &["--color", "never", "write", "a.json"],
        &[("CARGO_TERM_COLOR", "always")]
    ));
    assert!(run_with(
        &["write", "a.json"],
        &[("CARGO_TERM_COLOR", "always")]
    ));
    // Not a terminal: no colour by default.
    assert!(!run_with(&["write", "a.json"], &[]));
    assert!(!run_with(&["write", "a.json"], &[("NO_COLOR", "1")]));
}

#[test]
fn a_writer_waits_for_the_lock_and_says_whom_it_waits_for() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "a.json"], Some(b"1\n")).ok(); // creates the state dir
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(ws.path(".atomic/lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(ws.path(".atomic/lock"), std::process::id().to_string()).unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["atomic", "write", "a.json"])
        .current_dir(ws.root())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"2\n").unwrap();
    } // stdin closed: the writer now has its bytes and goes for the lock
    // Read its stderr as it comes: the message must appear while we still hold the lock.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the writer says it waits");
    assert!(
        first.contains(&format!(
            "Waiting for the store lock held by pid {}",
            std::process::id()
        )),
        "{first}"
    );
    assert_eq!(ws.read("a.json"), "1\n", "the writer must wait");
    drop(lock);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("Written a.json")),
        "{rest:?}"
    );
    assert_eq!(ws.read("a.json"), "2\n");
}

#[test]
fn the_starter_config_template_is_a_valid_config() {
    let ws = Ws::new();
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/atomic.toml");
    ws.run(&["--config", template, "verify"]).ok();
    ws.put(
        "atomic.toml",
        "[settings]\nstate-dir = '.atomic'\ndurabilty = 'full'\n",
    );
    let r = ws.run(&["verify"]).code(2);
    assert!(r.stderr.contains("atomic.toml:3:1"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`durabilty` is not an allowed key; did you mean `durability`?"),
        "{}",
        r.stderr
    );
}

/// The committed schema of `atomic.toml` is the one generated from the config types. When it is
/// stale the test rewrites it (and fails), except under CI, where it only fails.
#[test]
fn the_committed_config_schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/atomic.schema.json");
    let mut want = serde_json::to_string_pretty(&cargo_atomic::ops::config_schema()).unwrap();
    want.push('\n');
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want {
        if std::env::var_os("CI").is_none() {
            std::fs::write(path, &want).unwrap();
        }
        panic!(
            "schemas/atomic.schema.json was stale{}",
            if std::env::var_os("CI").is_none() {
                "; rewritten, run again"
            } else {
                ""
            }
        );
    }
}

#[test]
fn a_bad_config_gets_every_finding_located() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[settings]\ndurability = \"sometimes\"\nstate-dri = \".x\"\n",
    );
    let r = ws.run(&["verify", "--message-format", "short"]).code(2);
    assert!(
        r.stdout.contains("atomic.toml:2:14: error[config]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("atomic.toml:3:1: error[config]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("state-dri"), "{}", r.stdout);
}

/// On a pipe, long work shows at most one plain progress line per task and no escape codes,
/// even with colour asked for in the environment's absence; `--quiet` shows none.
#[test]
fn progress_on_a_pipe_is_a_plain_line_and_quiet_is_silent() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"c/*.json\"]\nschema = \"s.json\"\n",
    );
    ws.put("s.json", r#"{"properties": {"port": {"type": "integer"}}}"#);
    for i in 0..300 {
        ws.put(&format!("c/{i}.json"), &format!("{{\"port\": {i}}}"));
    }
    let r = ws.run(&["validate"]).ok();
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    assert_eq!(
        r.stderr,
        "  Validating 300 files\n    Finished validation of 300 files\n"
    );
    let r = ws.run(&["validate", "--quiet"]).ok();
    assert_eq!(r.stderr, "");
    // Few files: no progress line at all.
    let r = ws.run(&["validate", "c/1.json", "c/2.json"]).ok();
    assert_eq!(r.stderr, "    Finished validation of 2 files\n");
    // Machine output carries no progress.
    let r = ws.run(&["validate", "--message-format", "json"]).ok();
    assert!(!r.stdout.contains("progress"), "{}", r.stdout);
}

/// The state directory is the store's: no command writes a user file into it, whether named
/// directly or as a `[[merge]]` output (a first version wrote over the manifest and rolled back
/// with a confusing "manifest is damaged").
#[test]
fn nothing_is_written_into_the_state_directory() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "a.json"], Some(b"1\n")).ok();
    let before = std::fs::read(ws.path(".atomic/manifest.json")).unwrap();
    let r = ws
        .run_stdin(&["write", ".atomic/manifest.json"], Some(b"{}\n"))
        .code(2);
    assert!(
        r.stderr.contains("is inside the state directory"),
        "{}",
        r.stderr
    );
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"x\"\nsources = [\"a.json\"]\noutput = \".atomic/manifest.json\"\n",
    );
    let r = ws.run(&["apply"]).code(2);
    assert!(
        r.stderr.contains("is inside the state directory"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(ws.path(".atomic/manifest.json")).unwrap(),
        before
    );
}

/// Nor does `rotate` touch the state directory, even when a glob names it (the walk skips it,
/// and the store refuses to open an artifact directory inside it).
#[test]
fn rotate_never_touches_the_state_directory() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "a.json"], Some(b"1\n")).ok();
    ws.put(
        "atomic.toml",
        "[[rotate]]\nname = \"x\"\nfiles = \".atomic/*.jsonl\"\n",
    );
    let before = std::fs::read(ws.path(".atomic/audit.jsonl")).unwrap();
    let r = ws.run(&["rotate"]).ok();
    assert!(r.stderr.contains("rotation of 0 files"), "{}", r.stderr);
    let names: Vec<String> = std::fs::read_dir(ws.path(".atomic"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("audit.jsonl.") || n.starts_with("backups.jsonl.")),
        "{names:?}"
    );
    assert!(
        std::fs::read(ws.path(".atomic/audit.jsonl"))
            .unwrap()
            .starts_with(&before)
    );
}

#[test]
fn writing_a_directory_says_what_is_wrong() {
    let ws = Ws::new();
    std::fs::create_dir(ws.path("d")).unwrap();
    let r = ws.run_stdin(&["write", "."], Some(b"{}\n")).code(2);
    assert!(
        r.stderr.contains("is the workspace root, a directory"),
        "{}",
        r.stderr
    );
    let r = ws.run_stdin(&["write", "d"], Some(b"{}\n")).code(2);
    assert!(
        r.stderr.contains("`d` is not a regular file (a directory"),
        "{}",
        r.stderr
    );
}

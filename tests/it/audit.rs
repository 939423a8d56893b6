//! G7: the audit log records every change, `audit verify` names the first bad line of every
//! kind of tampering, many processes append without losing a record, and a damaged log never
//! blocks a write.

use cargo_atomic::store::Sha256Digest;

use crate::support::*;

const LOG: &str = ".atomic/audit.jsonl";
const HEAD: &str = ".atomic/audit.head";

/// A workspace whose log has a genesis record and `n` writes: `n + 1` lines.
fn logged(n: usize) -> Ws {
    let ws = Ws::new();
    for i in 0..n {
        ws.run_stdin(
            &["write", &format!("f{}.json", i % 3)],
            Some(format!("{{\"n\": {i}}}\n").as_bytes()),
        )
        .ok();
    }
    assert_eq!(lines(&ws).len(), n + 1);
    ws
}

fn lines(ws: &Ws) -> Vec<String> {
    ws.read(LOG).lines().map(str::to_owned).collect()
}

fn set_lines(ws: &Ws, lines: &[String]) {
    std::fs::write(ws.path(LOG), lines.join("\n") + "\n").unwrap();
}

fn record(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

/// The hash of a record line, computed as DESIGN §4 says.
fn hash_of(line_without_hash: &str) -> String {
    let mut bytes = b"cargo-atomic/audit/v1\n".to_vec();
    bytes.extend_from_slice(line_without_hash.as_bytes());
    Sha256Digest::of(&bytes).to_string()
}

/// Re-seals a record (as a forger who knows the format would).
fn seal(mut v: serde_json::Value) -> String {
    v.as_object_mut().unwrap().shift_remove("hash");
    let unsealed = serde_json::to_string(&v).unwrap();
    let hash = hash_of(&unsealed);
    format!("{},\"hash\":\"{hash}\"}}", &unsealed[..unsealed.len() - 1])
}

/// `audit verify` (with extra args) as JSON lines: the audit diagnostics, and the exit code.
fn verify(ws: &Ws, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut args = vec!["audit", "verify", "--message-format", "json"];
    args.extend_from_slice(extra);
    let r = ws.run(&args);
    let diags = r
        .json()
        .into_iter()
        .filter(|v| v["reason"] == "diagnostic")
        .collect::<Vec<_>>();
    for d in &diags {
        assert_eq!(d["code"], "audit", "{d}");
    }
    (r.code, diags)
}

/// Verification fails and its first finding names `line` of the log.
#[track_caller]
fn assert_first_bad_line(ws: &Ws, extra: &[&str], line: u64) -> serde_json::Value {
    let (code, diags) = verify(ws, extra);
    assert_eq!(code, 1, "{diags:#?}");
    let first = diags.first().expect("a finding").clone();
    assert_eq!(first["file"], LOG, "{first}");
    assert_eq!(first["line"], line, "{diags:#?}");
    first
}

#[test]
fn every_write_is_recorded_and_the_chain_verifies() {
    let ws = logged(4);
    let (code, diags) = verify(&ws, &[]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
    let lines = lines(&ws);
    let g = record(&lines[0]);
    assert_eq!(g["op"], "genesis");
    for (i, l) in lines.iter().enumerate().skip(1) {
        let r = record(l);
        assert_eq!(r["seq"], i);
        assert_eq!(r["op"], "write");
        assert_eq!(r["prev"], record(&lines[i - 1])["hash"]);
        assert_eq!(r["log_id"], g["log_id"]);
        assert_eq!(r["tool"]["mode"], "cli");
        assert_eq!(r["tool"]["argv"][0], "cargo-atomic");
        assert_eq!(r["outcome"], "ok");
    }
    let head: serde_json::Value = serde_json::from_str(&ws.read(HEAD)).unwrap();
    assert_eq!(head["hash"], record(&lines[4])["hash"]);
    // The head that verify prints is the one to keep for --expect-head.
    let out = ws.run(&["audit", "verify"]).ok();
    assert!(
        out.stderr.contains(head["hash"].as_str().unwrap()),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unchanged_write_records_nothing() {
    let ws = logged(1);
    ws.run_stdin(&["write", "f0.json"], Some(b"{\"n\": 0}\n"))
        .ok();
    assert_eq!(lines(&ws).len(), 2);
}

#[test]
fn a_flipped_byte_is_found_on_its_line() {
    // In a digest (the line stays valid JSON) and in the hash itself.
    for (needle, line) in [("\"after\":{\"sha256\":\"", 3), ("\"hash\":\"", 5)] {
        let ws = logged(5);
        let mut lines = lines(&ws);
        let at = lines[line - 1].find(needle).unwrap() + needle.len();
        let mut bytes = lines[line - 1].clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        lines[line - 1] = String::from_utf8(bytes).unwrap();
        set_lines(&ws, &lines);
        let d = assert_first_bad_line(&ws, &[], line as u64);
        assert!(d["message"].as_str().unwrap().contains("edited"), "{d}");
    }
}

#[test]
fn a_deleted_line_is_found_where_it_was() {
    let ws = logged(5);
    let mut lines = lines(&ws);
    lines.remove(2);
    set_lines(&ws, &lines);
    assert_first_bad_line(&ws, &[], 3);
    // The first line too: the log must start with its genesis.
    let ws = logged(2);
    let mut lines = self::lines(&ws);
    lines.remove(0);
    set_lines(&ws, &lines);
    assert_first_bad_line(&ws, &[], 1);
}

#[test]
fn swapped_lines_are_found_at_the_first_of_them() {
    let ws = logged(5);
    let mut lines = lines(&ws);
    lines.swap(3, 4);
    set_lines(&ws, &lines);
    assert_first_bad_line(&ws, &[], 4);
}

#[test]
fn an_inserted_line_is_found() {
    // A forged record whose hash looks right but is not its contents' hash: found on its line.
    let ws = logged(5);
    let mut lines = lines(&ws);
    let mut forged = record(&lines[2]);
    forged["path"] = "evil.json".into();
    lines.insert(3, serde_json::to_string(&forged).unwrap());
    set_lines(&ws, &lines);
    assert_first_bad_line(&ws, &[], 4);

    // A forger who recomputes the hash and links it to line 3 makes a line that is valid on
    // its own; the record after it no longer links, and is named.
    let ws = logged(5);
    let mut lines = self::lines(&ws);
    let mut forged = record(&lines[2]);
    forged["seq"] = 3.into();
    forged["path"] = "evil.json".into();
    forged["prev"] = record(&lines[2])["hash"].clone();
    lines.insert(3, seal(forged));
    set_lines(&ws, &lines);
    let d = assert_first_bad_line(&ws, &[], 5);
    assert!(d["message"].as_str().unwrap().contains("line 4"), "{d}");

    // Added at the end, it is past the head.
    let ws = logged(3);
    let mut lines = self::lines(&ws);
    let mut forged = record(&lines[3]);
    forged["seq"] = 4.into();
    forged["prev"] = record(&lines[3])["hash"].clone();
    lines.push(seal(forged));
    set_lines(&ws, &lines);
    assert_first_bad_line(&ws, &[], 5);
}

#[test]
fn a_truncated_tail_is_found_through_the_head() {
    let ws = logged(5);
    let mut lines = lines(&ws);
    lines.truncate(4);
    set_lines(&ws, &lines);
    let d = assert_first_bad_line(&ws, &[], 5);
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("removed from the end"),
        "{d}"
    );
}

#[test]
fn a_truncated_tail_with_a_rewritten_head_is_found_through_expect_head() {
    let ws = logged(5);
    let kept_head: serde_json::Value = serde_json::from_str(&ws.read(HEAD)).unwrap();
    let kept = kept_head["hash"].as_str().unwrap().to_owned();
    ws.run(&["audit", "verify", "--expect-head", &kept]).ok();
    // Remove two records and forge a head that matches what is left.
    let mut lines = lines(&ws);
    lines.truncate(4);
    set_lines(&ws, &lines);
    let last = record(&lines[3]);
    let head = serde_json::json!({
        "seq": last["seq"],
        "hash": last["hash"],
        "log_id": last["log_id"],
        "size": std::fs::metadata(ws.path(LOG)).unwrap().len(),
    });
    std::fs::write(ws.path(HEAD), format!("{head}\n")).unwrap();
    let (code, diags) = verify(&ws, &[]);
    assert_eq!(
        (code, diags.len()),
        (0, 0),
        "only a head kept elsewhere can tell"
    );
    let d = assert_first_bad_line(&ws, &["--expect-head", &format!("sha256:{kept}")], 5);
    assert!(d["notes"][0].as_str().unwrap().contains(&kept), "{d}");
}

#[test]
fn a_torn_last_line_is_a_warning_that_repair_cuts_off() {
    let ws = logged(2);
    let whole = ws.read(LOG);
    let torn = "{\"v\":1,\"log_id\":";
    std::fs::write(ws.path(LOG), format!("{whole}{torn}")).unwrap();
    let (code, diags) = verify(&ws, &[]);
    assert_eq!(code, 0, "{diags:#?}");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        (diags[0]["severity"].as_str(), diags[0]["line"].as_u64()),
        (Some("warning"), Some(4))
    );
    assert!(diags[0]["message"].as_str().unwrap().contains("torn"));

    let r = ws.run(&["audit", "verify", "--repair"]).ok();
    assert!(r.stderr.contains("torn"), "{}", r.stderr);
    let lines = lines(&ws);
    assert_eq!(lines.len(), 4);
    let repair = record(&lines[3]);
    assert_eq!(repair["op"], "repair");
    assert_eq!(repair["before"]["size"], torn.len());
    let (code, diags) = verify(&ws, &[]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
}

#[test]
fn sixteen_processes_appending_at_once_lose_no_record() {
    const N: usize = 16;
    let ws = Ws::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let ws = &ws;
                s.spawn(move || {
                    ws.run_stdin(
                        &["write", &format!("p{i}.json")],
                        Some(format!("{{\"p\": {i}}}\n").as_bytes()),
                    )
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().ok();
        }
    });
    let (code, diags) = verify(&ws, &[]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
    let records = ws
        .run(&["audit", "show", "--message-format", "json"])
        .ok()
        .records();
    assert_eq!(records.len(), N + 1);
    let mut paths: Vec<String> = records
        .iter()
        .filter(|r| r["op"] == "write")
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("p{i}.json")).collect();
    want.sort();
    assert_eq!(paths, want);
}

#[test]
fn a_damaged_log_does_not_block_a_write_and_a_new_segment_explains_it() {
    let ws = logged(4);
    let mut old = lines(&ws);
    old.truncate(4); // the last record removed: the head no longer matches
    set_lines(&ws, &old);
    let r = ws
        .run_stdin(&["write", "new.json"], Some(b"{\"ok\": true}\n"))
        .ok();
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the audit log is damaged"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(".atomic/audit.1.jsonl"), "{}", r.stderr);
    assert_eq!(ws.read("new.json"), "{\"ok\": true}\n");
    assert_eq!(ws.read(".atomic/audit.1.jsonl"), old.join("\n") + "\n");

    let lines = lines(&ws);
    assert_eq!(lines.len(), 2);
    let seg = record(&lines[0]);
    let last_good = record(&old[3]);
    assert_eq!(seg["op"], "segment");
    assert_eq!(seg["prev"], last_good["hash"]);
    assert_eq!(seg["seq"], 4);
    assert_eq!(seg["log_id"], last_good["log_id"]);
    assert_eq!(seg["path"], "audit.1.jsonl");
    let set_aside = old.join("\n") + "\n";
    assert_eq!(
        seg["before"]["sha256"],
        Sha256Digest::of(set_aside.as_bytes()).to_string()
    );
    assert_eq!(seg["before"]["size"], set_aside.len());
    assert_eq!(record(&lines[1])["path"], "new.json");

    let d = assert_first_bad_line(&ws, &[], 1);
    let notes = d["notes"].to_string();
    assert!(notes.contains("audit.1.jsonl"), "{notes}");
    assert!(notes.contains("intact up to its line 4 (seq 3)"), "{notes}");
    // Writes go on without further warnings.
    let r = ws.run_stdin(&["write", "new.json"], Some(b"{}\n")).ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // The set-aside segment is evidence too: changing it shows.
    std::fs::write(ws.path(".atomic/audit.1.jsonl"), "").unwrap();
    let d = assert_first_bad_line(&ws, &[], 1);
    assert!(
        d["notes"]
            .to_string()
            .contains("changed since it was set aside"),
        "{d}"
    );
}

#[test]
fn under_pre_commit_the_tool_mode_is_hook() {
    let ws = Ws::new();
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["atomic", "write", "a.json"])
        .current_dir(ws.root())
        .env("PRE_COMMIT", "1");
    run(cmd, Some(b"{}\n")).ok();
    let last = lines(&ws).pop().unwrap();
    assert_eq!(record(&last)["tool"]["mode"], "hook");
}

#[test]
fn an_unwritable_log_refuses_the_write_and_changes_nothing() {
    // Every committed change has its audit record: a log that cannot take one is found before
    // the commit point (its space is reserved there), so the write is refused, nothing changed.
    let ws = logged(1);
    std::fs::remove_file(ws.path(LOG)).unwrap();
    std::fs::remove_file(ws.path(HEAD)).unwrap();
    std::fs::create_dir(ws.path(LOG)).unwrap();
    let before = ws.snapshot();
    let r = ws.run_stdin(&["write", "x.json"], Some(b"{}\n")).code(2);
    assert!(r.stderr.contains("audit.jsonl"), "{}", r.stderr);
    assert!(!ws.path("x.json").exists());
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn audit_can_be_disabled() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[audit]\nenabled = false\n");
    ws.run_stdin(&["write", "a.json"], Some(b"{}\n")).ok();
    assert!(!ws.path(LOG).exists());
    ws.put("atomic.toml", "[audit]\nenable = false\n");
    ws.run_stdin(&["write", "a.json"], Some(b"[]\n")).code(2);
}

#[test]
fn deep_verification_checks_files_and_backup_objects() {
    let ws = Ws::new();
    ws.put("a.json", "{\"v\": 0}\n");
    ws.run_stdin(&["write", "a.json"], Some(b"{\"v\": 1}\n"))
        .ok();
    ws.run_stdin(&["write", "b.json"], Some(b"{\"v\": 2}\n"))
        .ok();
    let (code, diags) = verify(&ws, &["--deep"]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
    ws.put("b.json", "{\"v\": 3}\n");
    let object = Sha256Digest::of(b"{\"v\": 0}\n");
    std::fs::remove_file(ws.path(&format!(".atomic/objects/{object}"))).unwrap();
    let (code, diags) = verify(&ws, &["--deep"]);
    assert_eq!(code, 1);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_eq!(diags[0]["file"], "b.json");
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("last audited state")
    );
    assert_eq!(
        (diags[1]["file"].as_str(), diags[1]["line"].as_u64()),
        (Some(LOG), Some(2))
    );
    assert!(diags[1]["message"].as_str().unwrap().contains("missing"));
    // Without --deep the chain alone is fine.
    assert_eq!(verify(&ws, &[]).0, 0);
}

#[test]
fn show_filters_by_path_limit_and_time() {
    let ws = logged(6);
    let show = |args: &[&str]| {
        let mut a = vec!["audit", "show", "--message-format", "json"];
        a.extend_from_slice(args);
        ws.run(&a).ok().records()
    };
    let all = show(&[]);
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|r| r["reason"] == "audit-record"));
    let f1 = show(&["--path", "f1.json"]);
    assert_eq!(
        f1.iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 5]
    );
    let newest = show(&["--limit", "2"]);
    assert_eq!(
        newest
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [5, 6],
        "the newest, oldest first"
    );
    assert_eq!(show(&["--since", "1h"]).len(), 7);
    assert_eq!(show(&["--since", "2999-01-01"]).len(), 0);
    ws.run(&["audit", "show", "--since", "whenever"]).code(2);
    let human = ws.run(&["audit", "show", "--limit", "1"]).ok();
    let mut rows = human.stdout.lines();
    assert!(rows.next().unwrap().starts_with("TIME"));
    let row = rows.next().unwrap();
    assert!(
        row.contains(" write ") && row.ends_with("f2.json") && row.contains(" → "),
        "{row}"
    );
}

#[test]
fn verify_without_a_store_is_clean_unless_a_head_is_expected() {
    let ws = Ws::new();
    ws.run(&["audit", "verify"]).ok();
    assert!(!ws.path(".atomic").exists());
    let (code, diags) = verify(&ws, &["--expect-head", &"ab".repeat(32)]);
    assert_eq!((code, diags.len()), (1, 1));
    ws.run(&["audit", "verify", "--expect-head", "nothex"])
        .code(2);
}

#[test]
fn the_actor_names_user_host_git_email_and_ci() {
    let ws = Ws::new();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".gitconfig"),
        "[user]\n\tname = Ada\n\temail = ada@example.com\n",
    )
    .unwrap();
    let write = |envs: &[(&str, &str)], file: &str| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["atomic", "write", file])
            .current_dir(ws.root())
            .env("HOME", home.path())
            .env("USER", "ada")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .envs(envs.iter().copied());
        run(cmd, Some(b"{}\n")).ok();
        record(&lines(&ws).pop().unwrap())["actor"].clone()
    };
    let a = write(&[], "a.json");
    assert_eq!(a["user"], "ada");
    assert_eq!(a["email"], "ada@example.com");
    assert_eq!(a["ci"], serde_json::Value::Null);
    assert!(a["host"].is_string() && a["uid"].is_u64(), "{a}");
    let a = write(&[("CI", "true"), ("GITHUB_ACTIONS", "true")], "b.json");
    assert_eq!(a["ci"], "github-actions");
    let a = write(&[("CI", "1")], "c.json");
    assert_eq!(a["ci"], "ci");
    // Without any git configuration there is no email, and nothing fails.
    std::fs::remove_file(home.path().join(".gitconfig")).unwrap();
    let a = write(&[], "d.json");
    assert_eq!(a["email"], serde_json::Value::Null);
}

#[test]
fn audit_show_columns_fit_a_long_actor() {
    let ws = Ws::new();
    let home = tempfile::tempdir().unwrap();
    let write = |email: &str, file: &str| {
        std::fs::write(
            home.path().join(".gitconfig"),
            format!("[user]\n\temail = {email}\n"),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["atomic", "write", file])
            .current_dir(ws.root())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CI");
        run(cmd, Some(b"{}\n")).ok();
    };
    write("a@b.example", "a.json");
    write(
        "a.very.long.name.that.goes.on@a.long.subdomain.example.com",
        "b.json",
    );
    let shown = ws.run(&["audit", "show"]).ok().stdout;
    let rows: Vec<&str> = shown.lines().collect();
    assert_eq!(rows.len(), 4, "{shown}");
    // Every row's OP column starts where the header's does.
    let column = |row: &str, word: &str| row.chars().collect::<String>().find(word);
    let op = column(rows[0], " OP ").map(|i| i + 1);
    for row in &rows[2..] {
        assert_eq!(column(row, " write "), op.map(|i| i - 1), "{shown}");
    }
    assert!(rows[3].contains("a.very.long.name.that.goes.on@a.long.subdomain.example.com  write"));
}

/// Rotation, retention and apply record their changes too, and `--deep` agrees with the disk
/// afterwards: rotated copies are not mistaken for backups, pruned backups are not expected.
#[test]
fn rotate_prune_and_apply_are_recorded_and_deep_verification_passes() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        r#"[[rotate]]
name = "logs"
files = "logs/*.log"
keep-last = 1
compress = "gzip"

[backups]
keep-last = 1

[[merge]]
name = "app"
sources = ["base.json", "prod.json"]
output = "out/app.json"
"#,
    );
    ws.put("base.json", "{\"a\": 1}");
    ws.put("prod.json", "{\"b\": 2}");
    ws.run(&["apply"]).ok();
    ws.put("prod.json", "{\"b\": 3}");
    ws.run(&["apply"]).ok();
    ws.put("prod.json", "{\"b\": 4}");
    ws.run(&["apply"]).ok();
    for i in 0..3 {
        ws.put("logs/run.log", &format!("run {i}\n"));
        ws.run(&["rotate"]).ok();
    }
    ws.run(&["backups", "prune"]).ok();
    let r = ws.run(&["audit", "show", "--message-format", "json"]).ok();
    let ops: Vec<String> = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "audit-record")
        .map(|l| l["op"].as_str().unwrap().to_owned())
        .collect();
    for op in ["apply", "rotate", "prune"] {
        assert!(ops.iter().any(|o| o == op), "no {op} record: {ops:?}");
    }
    let (code, lines) = verify(&ws, &["--deep"]);
    assert_eq!(code, 0, "{lines:#?}");
}

#[test]
fn a_head_left_behind_by_an_interrupted_append_is_settled_by_the_next_writer() {
    // What a kill between the log's fsync and the head's rename leaves: whole, chained records
    // after the one the head names.
    let ws = logged(2);
    let old_head = ws.read(HEAD);
    ws.run_stdin(&["write", "late.json"], Some(b"{}\n")).ok();
    std::fs::write(ws.path(HEAD), &old_head).unwrap();
    // Readers report it, pointing at the way out, and change nothing.
    let (code, diags) = verify(&ws, &[]);
    assert_eq!((code, diags.len()), (1, 1), "{diags:#?}");
    let note = diags[0]["notes"][0].as_str().unwrap();
    assert!(note.contains("cargo atomic recover"), "{note}");
    assert_eq!(ws.read(HEAD), old_head);
    // `recover` settles it, with no record of its own: nothing changed but the head.
    let lines = ws.read(LOG).lines().count();
    ws.run(&["recover"]).ok();
    assert_eq!(ws.read(LOG).lines().count(), lines);
    let (code, diags) = verify(&ws, &["--deep"]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");

    // So does any command that writes.
    let ws = logged(1);
    let old_head = ws.read(HEAD);
    ws.run_stdin(&["write", "late.json"], Some(b"{}\n")).ok();
    std::fs::write(ws.path(HEAD), &old_head).unwrap();
    ws.run_stdin(&["write", "other.json"], Some(b"{}\n")).ok();
    let (code, diags) = verify(&ws, &["--deep"]);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
}

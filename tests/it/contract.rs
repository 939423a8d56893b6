//! The daily contract (issue 15): what a user meets in a day of edits, commits and layered
//! configs — sources stay the user's, `write` validates, every JSON stream ends with a
//! `summary`, a missing path is a usage error, an empty run says why.

use serde_json::Value;

use crate::support::*;

const SCHEMA: &str = r#"{"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}, "name": {"type": "string"}}}"#;

/// A workspace with a validated `config/` and one `[[merge]]` entry fed by two sources.
fn layered() -> Ws {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.toml\", \"config/*.json\"]\nschema = \"schema.json\"\n\n\
         [[merge]]\nname = \"prod\"\nsources = [\"config/base.toml\", \"config/prod.toml\"]\n\
         output = \"out/prod.json\"\nschema = \"schema.json\"\n",
    );
    ws.put("schema.json", SCHEMA);
    ws.put("config/base.toml", "# the base\nport = 80\n");
    ws.put("config/prod.toml", "name = \"prod\" # production\n");
    ws.put("config/app.json", "{\"port\": 0}\n");
    ws
}

fn codes(r: &Run) -> Vec<String> {
    r.json()
        .iter()
        .filter(|v| v["reason"] == "diagnostic")
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_ops(ws: &Ws) -> Vec<String> {
    ws.read(".atomic/audit.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["op"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Story: after one `set config/prod.toml …`, a hand edit or a `git checkout` of that file
/// made `check` fail with `drift`, and nothing documented accepted the edit.
#[test]
fn sources_stay_the_users_and_a_managed_file_edit_can_be_accepted() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    ws.run(&["set", "config/prod.toml", "name=production"]).ok();
    ws.run(&["apply"]).ok();
    ws.put("config/prod.toml", "name = \"by hand\"\n");
    // The source is the user's: no drift; the output is stale, as it should be.
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(codes(&r), ["stale"], "{}", r.stdout);
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();
    ws.run(&["verify", "config/prod.toml"]).code(1);

    // A file `write` manages is the tool's: a hand edit is drift until accepted.
    ws.run_stdin(&["write", "config/app.json"], Some(b"{\"port\": 1}\n"))
        .ok();
    ws.put("config/app.json", "{\"port\": 2}\n");
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(codes(&r), ["drift"], "{}", r.stdout);
    let before = ws.snapshot();
    let r = ws
        .run(&[
            "verify",
            "--accept",
            "config/app.json",
            "--message-format",
            "json",
        ])
        .ok();
    assert_eq!(r.json().last().unwrap()["reason"], "summary");
    assert_eq!(ws.snapshot(), before, "accepting touches no file");
    ws.run(&["check"]).ok();
    ws.run(&["verify", "config/app.json"]).ok();
    let ops = audit_ops(&ws);
    assert_eq!(ops.last().map(String::as_str), Some("accept"), "{ops:?}");
    let last: Value =
        serde_json::from_str(ws.read(".atomic/audit.jsonl").lines().last().unwrap()).unwrap();
    assert_eq!(last["path"], "config/app.json");
    assert_ne!(last["before"], last["after"]);
    ws.run(&["audit", "verify", "--deep"]).ok();

    // Only managed files can be accepted.
    let r = ws.run(&["verify", "--accept", "config/prod.toml"]).code(2);
    assert!(
        r.stderr.contains("not a file cargo atomic manages"),
        "{}",
        r.stderr
    );
    // A deleted managed file has no present bytes to accept; nothing changes.
    std::fs::remove_file(ws.path("config/app.json")).unwrap();
    let before = ws.snapshot();
    let r = ws.run(&["verify", "--accept", "config/app.json"]).code(2);
    assert!(r.stderr.contains("backups restore"), "{}", r.stderr);
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_path_that_does_not_exist_is_a_usage_error() {
    let ws = layered();
    for args in [
        &["validate", "config/nope.toml"][..],
        &["check", "config/nope.toml"],
        &["verify", "config/nope.toml"],
        &["set", "config/nope.toml", "a=1"],
        &["merge", "config/base.toml", "config/nope.toml"],
    ] {
        let r = ws.run(args).code(2);
        assert!(r.stderr.contains("nope.toml"), "{args:?}: {}", r.stderr);
    }
}

/// Story: a typo such as `confg/*.yaml` passed CI silently with "0 files".
#[test]
fn a_glob_that_matches_nothing_is_a_warning_at_its_line() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.json\",\n  \"confg/*.yaml\"]\nschema = \"schema.json\"\n",
    );
    ws.put("schema.json", SCHEMA);
    ws.put("config/a.json", "{}\n");
    let r = ws.run(&["validate", "--message-format", "json"]).ok();
    let lines = r.json();
    let w = lines
        .iter()
        .find(|v| v["reason"] == "diagnostic")
        .expect("a warning");
    assert_eq!(w["severity"], "warning");
    assert_eq!(w["file"], "atomic.toml");
    assert_eq!(
        (w["line"].as_u64(), w["column"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(w["message"].as_str().unwrap().contains("`confg/*.yaml`"));
    assert_eq!(lines.last().unwrap()["warnings"], 1);
    let r = ws.run(&["check"]).ok();
    assert!(r.stderr.contains("confg/*.yaml"), "{}", r.stderr);

    // No [[validate]] entry and no paths: the 0-file run says why.
    let ws = Ws::new();
    let r = ws.run(&["validate"]).ok();
    assert!(
        r.stderr.contains("nothing to validate") && r.stderr.contains("0 files"),
        "{}",
        r.stderr
    );
    // A new user with no atomic.toml learns both ways on: the catalog and a config to create.
    assert!(
        r.stderr
            .contains("`cargo atomic fetch` pins the SchemaStore catalog")
            && r.stderr.contains("there is no atomic.toml"),
        "{}",
        r.stderr
    );
    let r = ws.run(&["check"]).ok();
    assert!(r.stderr.contains("nothing to check"), "{}", r.stderr);
}

/// Story: `write` wrote data that broke the file's schema (DESIGN.md: "validated when a schema
/// applies").
#[test]
fn write_validates_against_the_files_schema_and_writes_nothing_on_a_finding() {
    let ws = layered();
    let before = ws.snapshot();
    let r = ws
        .run_stdin(
            &["write", "config/app.json", "--message-format", "json"],
            Some(b"{\n  \"port\": \"eighty\"\n}\n"),
        )
        .code(1);
    let d = &r.records()[0];
    assert_eq!(d["code"], "schema");
    assert_eq!(d["file"], "<stdin>");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(11))
    );
    assert_eq!(ws.snapshot(), before);
    assert!(
        !ws.path(".atomic").exists(),
        "a refused write creates no state"
    );
    // Unparsable input under a schema is refused too.
    ws.run_stdin(&["write", "config/app.json"], Some(b"{\"port\": "))
        .code(1);
    // --schema wins over the configuration.
    ws.put("loose.json", "{}");
    ws.run_stdin(
        &["write", "config/app.json", "--schema", "loose.json"],
        Some(b"{\"port\": \"eighty\"}\n"),
    )
    .ok();
    // A file no schema applies to is written as given.
    ws.run_stdin(&["write", "notes/free.json"], Some(b"{\"port\": \"x\"}\n"))
        .ok();
    assert_eq!(ws.read("notes/free.json"), "{\"port\": \"x\"}\n");
}

/// Story: `apply config/base.yaml` said "no [[merge]] entry is named" outside pre-commit.
#[test]
fn apply_given_a_source_renders_the_outputs_it_feeds() {
    let ws = layered();
    ws.put(
        "atomic.toml",
        &(ws.read("atomic.toml")
            + "\n[[merge]]\nname = \"other\"\nsources = [\"config/app.json\"]\noutput = \"out/other.json\"\n"),
    );
    ws.run(&["apply", "config/prod.toml"]).ok();
    assert!(ws.path("out/prod.json").exists());
    assert!(!ws.path("out/other.json").exists());
    // A name and a file together: both entries.
    ws.run(&["apply", "prod", "config/app.json"]).ok();
    assert!(ws.path("out/other.json").exists());
    let r = ws.run(&["apply", "config/nope.toml"]).code(2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let r = ws.run(&["apply", "nope"]).code(2);
    assert!(
        r.stderr.contains("no [[merge]] entry is named `nope`"),
        "{}",
        r.stderr
    );
}

/// Story: `set config/prod.toml server.port=70000` exited 0; only the next `apply` found that
/// the output it feeds broke its schema.
#[test]
fn set_on_a_merge_source_sees_what_it_breaks_and_apply_writes_all_at_once() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"prod\"\nsources = [\"config/base.yaml\", \"config/prod.toml\"]\n\
         output = \"out/prod.json\"\nschema = \"schema.json\"\n",
    );
    ws.put(
        "schema.json",
        r#"{"type": "object", "required": ["name"], "properties": {"port": {"type": "integer", "maximum": 65535}, "name": {"type": "string"}}}"#,
    );
    ws.put("config/base.yaml", "port: 80\n");
    ws.put("config/prod.toml", "# production\nname = \"prod\"\n");
    ws.run(&["apply"]).ok();
    let before = ws.snapshot();
    let output = ws.read("out/prod.json");

    let r = ws
        .run(&[
            "set",
            "config/prod.toml",
            "port=70000",
            "--message-format",
            "json",
        ])
        .code(1);
    let d = &r.records()[0];
    assert_eq!(d["code"], "schema");
    assert_eq!(d["file"], "config/prod.toml");
    assert_eq!(d["pointer"], "/port");
    // At the edited place: the line the edit added.
    assert_eq!(d["line"], 3, "{}", r.stdout);
    assert_eq!(ws.snapshot(), before, "nothing written");
    let r = ws.run(&["unset", "config/prod.toml", "name"]).code(1);
    assert!(
        r.stderr.contains("\"name\" is a required property"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.snapshot(), before, "nothing written");

    // A good edit alone leaves the output stale, as before, and says so.
    let r = ws.run(&["set", "config/prod.toml", "port=8443"]).ok();
    assert!(
        r.stderr.contains("warning[stale]") && r.stderr.contains("cargo atomic apply prod"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.read("out/prod.json"), output);
    ws.run(&["check"]).code(1);

    // --apply: the edit and the outputs it feeds, one transaction.
    let r = ws
        .run(&[
            "set",
            "config/prod.toml",
            "port=9000",
            "--apply",
            "--message-format",
            "json",
        ])
        .ok();
    let written: Vec<String> = r
        .records()
        .iter()
        .filter(|l| l["reason"] == "file-written")
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(written, ["config/prod.toml", "out/prod.json"]);
    assert!(ws.read("out/prod.json").contains("\"port\": 9000"));
    ws.run(&["check"]).ok();
    let log = ws.read(".atomic/audit.jsonl");
    let last: Vec<Value> = log
        .lines()
        .rev()
        .take(2)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(last.iter().all(|r| r["op"] == "set"));
    assert_eq!(
        last[0]["run_id"], last[1]["run_id"],
        "one run, one transaction"
    );
    // The source stays the user's; the output is managed.
    ws.put("config/prod.toml", "name = \"by hand\"\nport = 9000\n");
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(codes(&r), ["stale"], "{}", r.stdout);
}

#[test]
fn restoring_a_source_leaves_it_the_users() {
    let ws = layered();
    ws.run(&["set", "config/prod.toml", "name=one"]).ok();
    ws.run(&["backups", "restore", "config/prod.toml"]).ok();
    assert_eq!(
        ws.read("config/prod.toml"),
        "name = \"prod\" # production\n"
    );
    ws.put("config/prod.toml", "name = \"by hand\"\n");
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();
    ws.run(&["audit", "verify", "--deep"]).ok();
}

/// The sequence of issue 15, item 2, exactly: an edited source is the user's, a written file
/// is the tool's until a hand edit is accepted.
#[test]
fn the_issue_sequence_set_hand_edit_write_hand_edit_accept() {
    let ws = layered();
    ws.run(&["set", "config/app.json", "port=8080"]).ok();
    ws.put("config/app.json", "{\"port\": 9090}\n");
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();

    ws.run_stdin(&["write", "config/app.json"], Some(b"{\"port\": 1}\n"))
        .ok();
    ws.put("config/app.json", "{\"port\": 2}\n");
    let r = ws.run(&["check"]).code(1);
    assert!(
        r.stderr
            .contains("error[drift]: file was changed since cargo atomic wrote it"),
        "{}",
        r.stderr
    );
    let records = ws.read(".atomic/audit.jsonl").lines().count();
    ws.run(&["verify", "--accept", "config/app.json"]).ok();
    ws.run(&["check"]).ok();
    let log = ws.read(".atomic/audit.jsonl");
    assert_eq!(log.lines().count(), records + 1);
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["op"].as_str(), last["path"].as_str()),
        (Some("accept"), Some("config/app.json"))
    );
}

/// Item 8 through the binary: the file's diff is the value's bytes and nothing else.
#[test]
fn set_keeps_yaml_plain_and_one_line_json_on_one_line() {
    let ws = Ws::new();
    let yaml = "# deploy\nimage: nginx:1.27   # pinned\nbind: 0.0.0.0\n";
    ws.put("deploy.yaml", yaml);
    ws.run(&["set", "deploy.yaml", "image=nginx:1.28", "bind=127.0.0.1"])
        .ok();
    assert_eq!(
        ws.read("deploy.yaml"),
        yaml.replace("nginx:1.27", "nginx:1.28")
            .replace("0.0.0.0", "127.0.0.1")
    );
    let json = "{\n  \"limits\": {\"cpu\": 1},\n  \"name\": \"web\"\n}\n";
    ws.put("app.json", json);
    ws.run(&["set", "app.json", "limits.memory=512"]).ok();
    assert_eq!(
        ws.read("app.json"),
        json.replace("{\"cpu\": 1}", "{\"cpu\": 1, \"memory\": 512}")
    );
}

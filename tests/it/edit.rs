//! `set` and `unset`: edits in place that keep every byte outside the edited value, validated
//! before an atomic write, with refusals that change nothing.

use std::fs;

use crate::support::*;

/// Asserts that `after` is `before` with exactly one region changed: `old` became `new`, and
/// every byte before and after that region is the same.
#[track_caller]
fn only_changed(before: &str, after: &str, old: &str, new: &str) {
    let prefix = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max = before.len().min(after.len()) - prefix;
    let suffix = before
        .bytes()
        .rev()
        .zip(after.bytes().rev())
        .take(max)
        .take_while(|(a, b)| a == b)
        .count();
    let changed_old = &before[prefix..before.len() - suffix];
    let changed_new = &after[prefix..after.len() - suffix];
    // The common prefix/suffix may eat shared bytes of the fragments; compare with them trimmed
    // the same way.
    assert!(
        old.contains(changed_old) && new.contains(changed_new),
        "changed {changed_old:?} → {changed_new:?}, expected within {old:?} → {new:?}\n{after}"
    );
    assert_eq!(
        before.replacen(old, new, 1),
        after,
        "only `{old}` may change"
    );
}

const TOML: &str = "\
#:schema ../schemas/app.schema.json
# The service.
name = \"app\"   # shown in logs
log.level = \"info\"

[server]
port = 80      # http
tls = { enabled = false, cert = \"a.pem\" }

[[plugin]]
name = \"auth\"
";

const YAML: &str = "\
# The service.
name: app   # shown in logs
server:
  port: 80      # http
  hosts:
    - a.example   # primary
    - b.example
limits: {cpu: 1, mem: 2}
";

const JSON: &str = "{\n  \"name\": \"app\",\n  \"server\": {\n    \"port\": 80,\n    \"hosts\": [\"a\", \"b\"]\n  }\n}\n";

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {"port": {"type": "integer", "maximum": 65535}}
    }
  }
}"#;

fn ws() -> Ws {
    let ws = Ws::new();
    ws.put("config/app.toml", TOML);
    ws.put("config/app.yaml", YAML);
    ws.put("config/app.json", JSON);
    ws.put("schemas/app.schema.json", SCHEMA);
    ws
}

#[test]
fn set_changes_only_the_value_in_every_format() {
    let ws = ws();
    let cases = [
        (
            "config/app.toml",
            "server.port=8080",
            "80      #",
            "8080      #",
        ),
        (
            "config/app.toml",
            "log.level=debug",
            "\"info\"",
            "\"debug\"",
        ),
        (
            "config/app.toml",
            "server.tls.enabled=true",
            "= false",
            "= true",
        ),
        (
            "config/app.toml",
            "plugin.0.name=sso",
            "\"auth\"",
            "\"sso\"",
        ),
        (
            "config/app.yaml",
            "server.port=8080",
            "80      #",
            "8080      #",
        ),
        (
            "config/app.yaml",
            "/server/hosts/0=c.example",
            "a.example   #",
            "c.example   #",
        ),
        ("config/app.yaml", "limits.cpu=4", "cpu: 1", "cpu: 4"),
        ("config/app.json", "server.port=8080", "80,", "8080,"),
        (
            "config/app.json",
            "/server/hosts/1=\"c\"",
            "\"b\"]",
            "\"c\"]",
        ),
    ];
    for (file, assignment, old, new) in cases {
        let before = ws.read(file);
        ws.run(&["set", file, assignment]).ok();
        only_changed(&before, &ws.read(file), old, new);
    }
}

#[test]
fn set_adds_missing_keys_where_their_neighbours_are() {
    let ws = ws();
    ws.run(&[
        "set",
        "config/app.toml",
        "server.host=h",
        "db.pool={\"size\": 5}",
    ])
    .ok();
    assert_eq!(
        ws.read("config/app.toml"),
        TOML.replace("cert = \"a.pem\" }\n", "cert = \"a.pem\" }\nhost = \"h\"\n")
            .replace(
                "log.level = \"info\"\n",
                "log.level = \"info\"\ndb = { pool = { size = 5 } }\n"
            )
    );
    ws.run(&[
        "set",
        "config/app.yaml",
        "server.tls.cert=x.pem",
        "server.hosts.-=c.example",
    ])
    .ok();
    assert_eq!(
        ws.read("config/app.yaml"),
        YAML.replace(
            "    - b.example\n",
            "    - b.example\n    - c.example\n  tls:\n    cert: x.pem\n"
        )
    );
    ws.run(&["set", "config/app.json", "server.tls=true"]).ok();
    assert_eq!(
        ws.read("config/app.json"),
        JSON.replace("\"b\"]\n", "\"b\"],\n    \"tls\": true\n")
    );
}

#[test]
fn unset_removes_the_entry_and_keeps_the_rest() {
    let ws = ws();
    ws.run(&["unset", "config/app.toml", "server.tls", "log"])
        .ok();
    assert_eq!(
        ws.read("config/app.toml"),
        TOML.replace("tls = { enabled = false, cert = \"a.pem\" }\n", "")
            .replace("log.level = \"info\"\n", "")
    );
    ws.run(&["unset", "config/app.yaml", "server.hosts.0", "limits.mem"])
        .ok();
    assert_eq!(
        ws.read("config/app.yaml"),
        YAML.replace("    - a.example   # primary\n", "")
            .replace(", mem: 2", "")
    );
    ws.run(&["unset", "config/app.json", "/server/port"]).ok();
    assert_eq!(
        ws.read("config/app.json"),
        JSON.replace("    \"port\": 80,\n", "")
    );
}

#[test]
fn string_flag_keeps_values_that_look_like_json_as_strings() {
    let ws = ws();
    ws.run(&["set", "config/app.json", "name=1.10", "--string"])
        .ok();
    assert!(ws.read("config/app.json").contains("\"name\": \"1.10\""));
    // Without it, 1.10 is the number 1.1.
    ws.run(&["set", "config/app.json", "name=1.10"]).ok();
    assert!(ws.read("config/app.json").contains("\"name\": 1.1,"));
}

#[test]
fn an_invalid_result_is_a_finding_located_in_the_edited_text_and_writes_nothing() {
    let ws = ws();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.yaml\", \"config/*.json\"]\nschema = \"schemas/app.schema.json\"\n",
    );
    let before = ws.snapshot();
    // The in-file `#:schema` of the TOML file applies too.
    for file in ["config/app.yaml", "config/app.json", "config/app.toml"] {
        let r = ws
            .run(&[
                "set",
                file,
                "server.port=eighty",
                "--message-format",
                "json",
            ])
            .code(1);
        let lines = r.json();
        let d = lines
            .iter()
            .find(|l| l["reason"] == "diagnostic")
            .unwrap_or_else(|| panic!("{file}: no diagnostic in {}", r.stdout));
        assert_eq!(d["code"], "schema", "{file}");
        assert_eq!(d["pointer"], "/server/port", "{file}");
        let (line, column) = match file {
            "config/app.yaml" => (4, 9),
            "config/app.json" => (4, 13),
            _ => (7, 8),
        };
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(line), Some(column)),
            "{file}: {d}"
        );
    }
    let r = ws
        .run(&["set", "config/app.yaml", "server.port=70000"])
        .code(1);
    assert!(r.stderr.contains("config/app.yaml:4:9"), "{}", r.stderr);
    assert!(r.stderr.contains("70000"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the file was not changed"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.snapshot(), before, "nothing written");
    assert!(
        !ws.path(".atomic").exists(),
        "no state directory for a refused edit"
    );
}

#[test]
fn an_invalid_file_can_be_fixed_one_edit_at_a_time_but_not_made_worse() {
    let ws = ws();
    ws.put(
        "schemas/two.json",
        r#"{"properties": {"name": {"type": "integer"}, "server": {"properties": {"port": {"maximum": 10}}}}}"#,
    );
    let set = |arg: &str| {
        ws.run(&[
            "set",
            "config/app.yaml",
            arg,
            "--schema",
            "schemas/two.json",
            "--message-format",
            "json",
        ])
    };
    // Two errors (name, port): fixing one is allowed and changes only that value.
    let before = ws.read("config/app.yaml");
    set("server.port=5").ok();
    only_changed(&before, &ws.read("config/app.yaml"), "80", "5");
    // An edit that adds an error is refused, naming only the error it adds.
    let before = ws.read("config/app.yaml");
    let r = set("server.port=50").code(1);
    let pointers: Vec<String> = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "diagnostic")
        .map(|d| d["pointer"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(pointers, ["/server/port"], "{}", r.stdout);
    assert_eq!(ws.read("config/app.yaml"), before);
    // Replacing a wrong value with another wrong one keeps the same error (the same place
    // and keyword), though its message quotes the new value: not a new error.
    set("name=other").ok();
    set("name=7").ok();
}

#[test]
fn the_schema_flag_wins_over_the_file() {
    let ws = ws();
    ws.put(
        "schemas/strict.json",
        r#"{"properties": {"name": {"const": "app"}}}"#,
    );
    ws.run(&[
        "set",
        "config/app.toml",
        "name=other",
        "--schema",
        "schemas/strict.json",
    ])
    .code(1);
    assert_eq!(ws.read("config/app.toml"), TOML);
    ws.run(&["set", "config/app.toml", "name=other"]).ok();
}

#[test]
fn one_bad_edit_of_several_writes_none() {
    let ws = ws();
    let before = ws.snapshot();
    let r = ws
        .run(&["set", "config/app.yaml", "name=b", "name.x=1"])
        .code(2);
    assert!(r.stderr.contains("`/name` is a string"), "{}", r.stderr);
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn refusals_exit_2_and_change_nothing() {
    let ws = ws();
    ws.put(
        "config/anchors.yaml",
        "base: &base\n  port: 80\nprod:\n  <<: *base\n  host: h\ncopy: *base\n",
    );
    ws.put("config/stream.yaml", "a: 1\n---\na: 2\n");
    let before = ws.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (
            &["set", "config/anchors.yaml", "base.port=81"],
            "anchored value",
        ),
        (&["set", "config/anchors.yaml", "copy=1"], "is an alias"),
        (&["set", "config/anchors.yaml", "prod.port=81"], "alias"),
        (&["set", "config/anchors.yaml", "prod.extra=1"], "merge key"),
        (&["set", "config/stream.yaml", "a=3"], "2 YAML documents"),
        (&["set", "config/app.toml", "name=null"], "TOML has no null"),
        (
            &["unset", "config/app.toml", "server.nope"],
            "`/server/nope` is not in the document",
        ),
        (
            &["set", "config/app.json", "server.hosts.7=x"],
            "not an index",
        ),
        (&["set", "config/app.json", "a..b=1"], "invalid KEY `a..b`"),
        (&["set", "config/app.json", "novalue"], "expected KEY=VALUE"),
        (&["unset", "config/app.json", "/a~2"], "invalid KEY"),
        (&["set", "../outside.json", "a=1"], "outside the workspace"),
        (&["set", "Cargo.lock", "a=1"], "not a .json, .yaml"),
        (&["set", "config/missing.json", "a=1"], "cannot read"),
    ];
    for (args, message) in cases {
        let r = ws.run(args).code(2);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    assert_eq!(ws.snapshot(), before);
    assert!(!ws.path(".atomic").exists());
}

#[test]
fn a_file_that_does_not_parse_is_a_located_finding() {
    let ws = ws();
    ws.put("config/bad.json", "{\"a\": 1,, }\n");
    let r = ws.run(&["set", "config/bad.json", "a=2"]).code(1);
    assert!(r.stderr.contains("config/bad.json:1:"), "{}", r.stderr);
    assert_eq!(ws.read("config/bad.json"), "{\"a\": 1,, }\n");
}

#[test]
fn the_write_is_a_transaction_with_a_backup_and_identical_bytes_touch_nothing() {
    let ws = ws();
    let r = ws
        .run(&[
            "set",
            "config/app.json",
            "server.port=81",
            "--message-format",
            "json",
        ])
        .ok();
    let written = &r.json()[0];
    assert_eq!(written["reason"], "file-written", "{}", r.stdout);
    assert!(written["backup"].as_str().unwrap().starts_with("sha256:"));
    let list = ws.run(&["backups", "list", "config/app.json"]).ok();
    assert!(list.stdout.contains("config/app.json"), "{}", list.stdout);
    ws.run(&["backups", "restore", "config/app.json"]).ok();
    assert_eq!(ws.read("config/app.json"), JSON);

    // The value it already has: no byte and no mtime changes.
    let mtime = || {
        fs::metadata(ws.path("config/app.json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = mtime();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = ws
        .run(&[
            "set",
            "config/app.json",
            "server.port=80",
            "--message-format",
            "json",
        ])
        .ok();
    assert_eq!(r.json()[0]["reason"], "file-unchanged", "{}", r.stdout);
    assert_eq!(mtime(), before);
    assert_eq!(ws.read("config/app.json"), JSON);
    assert!(ws.leftover_temps().is_empty());
}

/// Eight processes setting different keys of one file at once: every key is there at the end.
/// Each reads the file again under the store's lock, so none writes over another's edit.
#[test]
fn concurrent_sets_of_one_file_lose_no_update() {
    let ws = ws();
    ws.put("config/shared.yaml", "# shared\nkeys: {}\n");
    const WRITERS: usize = 8;
    const ROUNDS: usize = 3;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let ws = &ws;
            s.spawn(move || {
                for r in 0..ROUNDS {
                    let assignment = format!("keys.w{w}r{r}={r}");
                    ws.run(&["set", "config/shared.yaml", &assignment]).ok();
                }
            });
        }
    });
    let text = ws.read("config/shared.yaml");
    assert!(text.starts_with("# shared\nkeys: {"), "{text}");
    for w in 0..WRITERS {
        for r in 0..ROUNDS {
            assert!(
                text.contains(&format!("w{w}r{r}: {r}")),
                "w{w}r{r} lost:\n{text}"
            );
        }
    }
}

#[test]
fn what_a_person_reads_when_an_edit_is_refused() {
    let ws = ws();
    let invalid = ws
        .run(&[
            "set",
            "config/app.yaml",
            "server.port=eighty",
            "--schema",
            "schemas/app.schema.json",
        ])
        .code(1);
    let missing = ws.run(&["unset", "config/app.yaml", "server.tls"]).code(2);
    let alias = {
        ws.put("config/a.yaml", "base: &b {x: 1}\ncopy: *b\n");
        ws.run(&["set", "config/a.yaml", "copy.x=2"]).code(2)
    };
    let text = [invalid.stderr, missing.stderr, alias.stderr].join("\n---\n");
    snapshots(|| insta::assert_snapshot!("edit-human-refusals", text));
}

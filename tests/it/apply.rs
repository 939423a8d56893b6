//! `[[merge]]` entries through `apply`, `check`, `explain` and `config`: all outputs in one
//! transaction or none, unchanged outputs untouched, stale and drifted files found, provenance
//! shown, array strategies per path, and a config that is wrong refused with its place.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::*;

const CONFIG: &str = r#"[[merge]]
name = "prod"
sources = ["config/base.yaml", "config/staging.json", "config/prod.toml"]
output = "out/prod/app.json"
schema = "schemas/app.schema.json"
paths = { "/servers" = { by-key = "name" }, "/plugins" = "append" }

[[merge]]
name = "dev"
sources = ["config/base.yaml", "config/dev.json"]
output = "out/dev/app.yaml"

[[merge]]
name = "ci"
sources = ["config/base.yaml"]
output = "gen/app.toml"
"#;

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {"port": {"type": "integer", "maximum": 65535}}
    },
    "servers": {"type": "array", "items": {"type": "object", "required": ["name"]}}
  }
}
"#;

/// Three layers: a YAML base, a JSON staging overlay, a TOML production overlay.
fn layered() -> Ws {
    let ws = Ws::new();
    ws.put("atomic.toml", CONFIG);
    ws.put("schemas/app.schema.json", SCHEMA);
    ws.put(
        "config/base.yaml",
        "# shared by every environment\nserver:\n  host: localhost\n  port: 8080\n  debug: true\nservers:\n  - name: a\n    weight: 1\n  - name: b\n    weight: 1\nplugins: [auth]\n",
    );
    ws.put(
        "config/staging.json",
        "{\n  \"server\": {\"host\": \"staging.example\", \"port\": 8443},\n  \"plugins\": [\"trace\"]\n}\n",
    );
    ws.put(
        "config/prod.toml",
        "plugins = [\"metrics\"]\n\n[server]\nhost = \"prod.example\"\nport = 443\ndebug = false\n\n[[servers]]\nname = \"b\"\nweight = 5\n",
    );
    ws.put("config/dev.json", "{\"server\": {\"debug\": null}}\n");
    ws
}

fn mtime(ws: &Ws, rel: &str) -> SystemTime {
    fs::metadata(ws.path(rel)).unwrap().modified().unwrap()
}

fn manifest(ws: &Ws) -> Value {
    serde_json::from_str(&ws.read(".atomic/manifest.json")).unwrap()
}

fn codes(r: &Run) -> Vec<String> {
    r.json()
        .iter()
        .filter(|l| l["reason"] == "diagnostic")
        .map(|l| {
            format!(
                "{}:{}",
                l["code"].as_str().unwrap(),
                l["file"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn apply_writes_every_output_merged_with_its_strategies() {
    let ws = layered();
    let r = ws.run(&["apply", "--message-format", "json"]).ok();
    let written: Vec<String> = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "file-written")
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        written,
        ["out/prod/app.json", "out/dev/app.yaml", "gen/app.toml"]
    );
    let prod: Value = serde_json::from_str(&ws.read("out/prod/app.json")).unwrap();
    assert_eq!(
        prod,
        serde_json::json!({
            "server": {"host": "prod.example", "port": 443, "debug": false},
            // by-key: b merged in place, a kept
            "servers": [{"name": "a", "weight": 1}, {"name": "b", "weight": 5}],
            // append: every layer's plugins, in order
            "plugins": ["auth", "trace", "metrics"],
        })
    );
    assert_eq!(
        ws.read("out/dev/app.yaml"),
        "server:\n  host: localhost\n  port: 8080\nservers:\n- name: a\n  weight: 1\n- name: b\n  weight: 1\nplugins:\n- auth\n"
    );
    assert!(ws.read("gen/app.toml").contains("port = 8080"));
}

#[test]
fn apply_records_the_digests_of_sources_and_schema() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    let m = manifest(&ws);
    let inputs = &m["inputs"]["out/prod/app.json"];
    let digest = |rel: &str| {
        cargo_atomic::store::Sha256Digest::of(&fs::read(ws.path(rel)).unwrap()).to_string()
    };
    for s in [
        "config/base.yaml",
        "config/staging.json",
        "config/prod.toml",
    ] {
        assert_eq!(inputs["sources"][s], digest(s), "{s}");
    }
    assert_eq!(inputs["schema"], digest("schemas/app.schema.json"));
    assert!(m["inputs"]["gen/app.toml"]["schema"].is_null());
    assert_eq!(
        m["files"]["out/prod/app.json"]["sha256"],
        digest("out/prod/app.json")
    );
}

#[test]
fn a_second_apply_touches_nothing() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    let before: Vec<SystemTime> = ["out/prod/app.json", "out/dev/app.yaml", "gen/app.toml"]
        .iter()
        .map(|p| mtime(&ws, p))
        .collect();
    assert!(
        !ws.path(".atomic/backups.jsonl").exists(),
        "nothing replaced yet"
    );
    std::thread::sleep(Duration::from_millis(20));
    let r = ws.run(&["apply", "--message-format", "json"]).ok();
    let unchanged = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "file-unchanged")
        .count();
    assert_eq!(unchanged, 3, "{}", r.stdout);
    let after: Vec<SystemTime> = ["out/prod/app.json", "out/dev/app.yaml", "gen/app.toml"]
        .iter()
        .map(|p| mtime(&ws, p))
        .collect();
    assert_eq!(before, after, "mtimes kept");
    assert!(!ws.path(".atomic/backups.jsonl").exists(), "no backup made");
}

#[test]
fn only_the_changed_output_is_rewritten_and_backed_up() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    let dev_mtime = mtime(&ws, "out/dev/app.yaml");
    let old_prod = ws.read("out/prod/app.json");
    std::thread::sleep(Duration::from_millis(20));
    ws.put(
        "config/prod.toml",
        &ws.read("config/prod.toml").replace("443", "444"),
    );
    let r = ws.run(&["apply", "--message-format", "json"]).ok();
    let written: Vec<String> = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "file-written")
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(written, ["out/prod/app.json"]);
    assert_eq!(mtime(&ws, "out/dev/app.yaml"), dev_mtime);
    // The old bytes can be had back.
    ws.run(&["backups", "restore", "out/prod/app.json"]).ok();
    assert_eq!(ws.read("out/prod/app.json"), old_prod);
}

#[test]
fn an_invalid_source_leaves_every_output_untouched() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    ws.put("config/base.yaml", "server:\n  port: 8081\n");
    ws.put(
        "config/prod.toml",
        "[server]\nport = 70000\n[[servers]]\nweight = 5\n",
    );
    let before = ws.snapshot();
    let state_before = fs::read(ws.path(".atomic/manifest.json")).unwrap();
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    let diags: Vec<Value> = r
        .json()
        .into_iter()
        .filter(|l| l["reason"] == "diagnostic")
        .collect();
    // Each error is placed in the source that gave the value, not in the output.
    let places: Vec<(String, u64, u64)> = diags
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_owned(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert!(
        places.contains(&("config/prod.toml".into(), 2, 8)),
        "{places:?}"
    );
    assert_eq!(ws.snapshot(), before, "nothing written");
    assert_eq!(
        fs::read(ws.path(".atomic/manifest.json")).unwrap(),
        state_before
    );
    assert!(ws.leftover_temps().is_empty());
}

#[test]
fn a_refused_first_apply_creates_no_state() {
    let ws = layered();
    ws.put("config/prod.toml", "[server]\nport = \"https\"\n");
    ws.run(&["apply"]).code(1);
    assert!(!ws.path(".atomic").exists());
    assert!(!ws.path("out").exists() && !ws.path("gen").exists());
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let ws = layered();
    ws.run(&["apply", "ci"]).ok();
    ws.put(
        "config/base.yaml",
        &ws.read("config/base.yaml").replace("8080", "9090"),
    );
    let before = ws.snapshot();
    let state = fs::read(ws.path(".atomic/manifest.json")).unwrap();
    let r = ws.run(&["apply", "ci", "dev", "--dry-run"]).ok();
    assert!(
        r.stdout
            .contains("--- a/gen/app.toml\n+++ b/gen/app.toml\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("-port = 8080\n+port = 9090\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("--- /dev/null\n+++ b/out/dev/app.yaml\n"),
        "{}",
        r.stdout
    );
    assert_eq!(ws.snapshot(), before);
    assert_eq!(fs::read(ws.path(".atomic/manifest.json")).unwrap(), state);
    let r = ws
        .run(&["apply", "--dry-run", "--message-format", "json"])
        .ok();
    let would: Vec<(String, bool)> = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "would-write")
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_owned(),
                l["created"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        would,
        [
            ("out/prod/app.json".to_owned(), true),
            ("out/dev/app.yaml".to_owned(), true),
            ("gen/app.toml".to_owned(), false)
        ]
    );
}

#[test]
fn an_unknown_name_is_a_usage_error() {
    let ws = layered();
    let r = ws.run(&["apply", "prod", "nope"]).code(2);
    assert!(
        r.stderr
            .contains("no [[merge]] entry is named `nope` (known: prod, dev, ci)"),
        "{}",
        r.stderr
    );
    assert!(!ws.path("out").exists());
}

#[test]
fn check_is_clean_after_apply_and_finds_stale_and_drift() {
    let ws = layered();
    // Before any apply every output is missing.
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(
        codes(&r),
        [
            "stale:out/prod/app.json",
            "stale:out/dev/app.yaml",
            "stale:gen/app.toml"
        ]
    );
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();

    // A source changes: its outputs are stale, with the diff.
    ws.put("config/dev.json", "{\"server\": {\"port\": 1234}}\n");
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(codes(&r), ["stale:out/dev/app.yaml"]);
    let d = r
        .json()
        .into_iter()
        .find(|l| l["reason"] == "diagnostic")
        .unwrap();
    assert!(
        d["diff"]
            .as_str()
            .unwrap()
            .contains("-  port: 8080\n+  port: 1234\n"),
        "{d}"
    );
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();

    // An output edited by hand has drifted, and is stale too.
    ws.put("gen/app.toml", "port = 1\n");
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert_eq!(codes(&r), ["stale:gen/app.toml", "drift:gen/app.toml"]);
    // The human form shows the diff under the finding.
    let r = ws.run(&["check"]).code(1);
    assert!(
        r.stderr
            .contains("error[drift]: file was changed since cargo atomic wrote it")
    );
    assert!(r.stderr.contains("+++ b/gen/app.toml"), "{}", r.stderr);
}

#[test]
fn check_also_validates_the_files_validate_names() {
    let ws = layered();
    ws.put(
        "atomic.toml",
        &format!(
            "[[validate]]\nfiles = [\"config/*.json\"]\nschema = \"schemas/app.schema.json\"\n\n{CONFIG}"
        ),
    );
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();
    ws.put(
        "config/staging.json",
        "{\"server\": {\"port\": \"x\"}, \"plugins\": []}\n",
    );
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    // Reported once: the merge whose source it is does not report it again.
    assert_eq!(codes(&r), ["schema:config/staging.json"]);
}

#[test]
fn check_changes_nothing() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    ws.put("config/prod.toml", "[server]\nport = 1\n");
    ws.put("gen/app.toml", "edited = true\n");
    let before = ws.snapshot();
    let state: Vec<Vec<u8>> = ["manifest.json", "backups.jsonl"]
        .iter()
        .map(|f| fs::read(ws.path(".atomic").join(f)).unwrap_or_default())
        .collect();
    ws.run(&["check"]).code(1);
    assert_eq!(ws.snapshot(), before);
    let after: Vec<Vec<u8>> = ["manifest.json", "backups.jsonl"]
        .iter()
        .map(|f| fs::read(ws.path(".atomic").join(f)).unwrap_or_default())
        .collect();
    assert_eq!(state, after);
}

/// `check` takes only a shared lock: it runs while another reader holds the lock, where `apply`
/// has to wait.
#[test]
fn check_takes_only_a_shared_lock() {
    use std::process::{Command, Stdio};
    let ws = layered();
    ws.run(&["apply"]).ok();
    let lock = fs::File::open(ws.path(".atomic/lock")).unwrap();
    lock.lock_shared().unwrap();
    ws.run(&["check"]).ok();
    let mut apply = Command::new(bin())
        .args(["atomic", "apply", "--message-format", "json"])
        .current_dir(ws.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        apply.try_wait().unwrap().is_none(),
        "apply must wait for the reader"
    );
    lock.unlock().unwrap();
    let out = apply.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"reason\":\"lock-wait\""));
}

#[test]
fn by_key_and_merge_errors_are_placed_in_their_source() {
    let ws = layered();
    ws.put(
        "config/prod.toml",
        "[[servers]]\nname = \"b\"\n\n[[servers]]\nweight = 3\n",
    );
    let r = ws
        .run(&["apply", "prod", "--message-format", "short"])
        .code(1);
    assert!(
        r.stdout.contains(
            "config/prod.toml:4:1: error[parse]: array item has no `name` field to merge by"
        ),
        "{}",
        r.stdout
    );
    ws.put(
        "config/prod.toml",
        "[[servers]]\nname = \"b\"\n\n[[servers]]\nname = \"b\"\n",
    );
    let r = ws
        .run(&["apply", "prod", "--message-format", "short"])
        .code(1);
    assert!(
        r.stdout.contains(
            "config/prod.toml:4:1: error[parse]: `name` = \"b\" appears twice in an array merged by `name`"
        ),
        "{}",
        r.stdout
    );
    assert!(!ws.path("out").exists());
}

/// Strategies, table-driven: (arrays, paths, base, overlay, expected).
#[test]
fn array_strategies_by_path() {
    let cases: &[(&str, &str, &str, &str, Value)] = &[
        (
            "replace",
            "",
            r#"{"a": [1, 2], "o": {"b": [1]}}"#,
            r#"{"a": [3], "o": {"b": [2]}}"#,
            serde_json::json!({"a": [3], "o": {"b": [2]}}),
        ),
        (
            "append",
            "",
            r#"{"a": [1, 2], "o": {"b": [1]}}"#,
            r#"{"a": [3], "o": {"b": [2]}}"#,
            serde_json::json!({"a": [1, 2, 3], "o": {"b": [1, 2]}}),
        ),
        (
            "replace",
            r#"paths = { "/o/b" = "append" }"#,
            r#"{"a": [1, 2], "o": {"b": [1]}}"#,
            r#"{"a": [3], "o": {"b": [2]}}"#,
            serde_json::json!({"a": [3], "o": {"b": [1, 2]}}),
        ),
        (
            "append",
            r#"paths = { "/a" = "replace" }"#,
            r#"{"a": [1, 2], "o": {"b": [1]}}"#,
            r#"{"a": [3], "o": {"b": [2]}}"#,
            serde_json::json!({"a": [3], "o": {"b": [1, 2]}}),
        ),
        (
            "replace",
            r#"paths = { "/o/items" = { by-key = "id" } }"#,
            r#"{"o": {"items": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]}}"#,
            r#"{"o": {"items": [{"id": 2, "v": null, "w": 1}, {"id": 3}]}}"#,
            serde_json::json!({"o": {"items": [{"id": 1, "v": "a"}, {"id": 2, "w": 1}, {"id": 3}]}}),
        ),
    ];
    for (i, (arrays, paths, base, overlay, expected)) in cases.iter().enumerate() {
        let ws = Ws::new();
        ws.put(
            "atomic.toml",
            &format!(
                "[[merge]]\nname = \"x\"\nsources = [\"base.json\", \"over.yaml\"]\noutput = \"out.json\"\narrays = \"{arrays}\"\n{paths}\n"
            ),
        );
        ws.put("base.json", base);
        // The overlay is YAML: mixed formats merge the same.
        ws.put("over.yaml", overlay);
        ws.run(&["apply"]).ok();
        let got: Value = serde_json::from_str(&ws.read("out.json")).unwrap();
        assert_eq!(&got, expected, "case {i}: arrays={arrays} {paths}");
    }
}

#[test]
fn explain_shows_every_layer_in_order() {
    let ws = layered();
    let r = ws
        .run(&["explain", "out/prod/app.json", "/server/port"])
        .ok();
    let json = ws
        .run(&[
            "explain",
            "prod",
            "servers.1.weight",
            "--message-format",
            "json",
        ])
        .ok();
    let deleted = ws.run(&["explain", "dev", "/server/debug"]).ok();
    let plugins = ws.run(&["explain", "prod", "/plugins"]).ok();
    snapshots(|| {
        insta::assert_snapshot!("explain_port", r.stdout);
        insta::assert_snapshot!("explain_json", json.stdout);
        insta::assert_snapshot!("explain_deleted", deleted.stdout);
        insta::assert_snapshot!("explain_appended", plugins.stdout);
    });
    let r = ws.run(&["explain", "prod", "/nothing"]).code(2);
    assert!(
        r.stderr
            .contains("no source of `out/prod/app.json` sets `/nothing`")
    );
    let r = ws.run(&["explain", "config/base.yaml", "/server"]).code(2);
    assert!(
        r.stderr
            .contains("`config/base.yaml` is not the output of any [[merge]] entry")
    );
}

#[test]
fn config_shows_each_value_and_where_it_came_from() {
    let ws = layered();
    let r = ws.run(&["config"]).ok();
    let json = ws.run(&["config", "--message-format", "json"]).ok();
    let v = &json.json()[0];
    assert_eq!(v["reason"], "config");
    assert_eq!(v["config"]["merge"][0]["name"], "prod");
    snapshots(|| insta::assert_snapshot!("config_listing", r.stdout));
}

#[test]
fn config_mistakes_are_refused_with_their_place() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        r#"[[merge]]
name = "a"
sources = ["../outside.yaml"]
output = "out.json"

[[merge]]
name = "a"
sources = ["b.yaml"]
output = "out.json"
paths = { "servers" = "append" }

[[merge]]
name = "c"
sources = ["out.json"]
output = "c.ini"
"#,
    );
    let r = ws.run(&["apply", "--message-format", "short"]).code(2);
    for expected in [
        "atomic.toml:3:12: error[config]: `../outside.yaml` points outside the workspace",
        "atomic.toml:7:8: error[config]: [[merge]] name `a` is also used by entry 0",
        "atomic.toml:9:10: error[config]: `out.json` is also the output of [[merge]] `a`",
        "atomic.toml:9:10: error[config]: `out.json` is both an output and a source",
        "error[config]: `servers` is not a JSON pointer",
        "atomic.toml:15:10: error[config]: `c.ini`: unknown format",
    ] {
        assert!(r.stdout.contains(expected), "{expected}\n{}", r.stdout);
    }
    assert!(!Path::new(&ws.path(".atomic")).exists());
}

/// `check` also verifies the audit chain: an edited record fails it.
#[test]
fn check_finds_a_tampered_audit_log() {
    let ws = layered();
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();
    let log = ws.path(".atomic/audit.jsonl");
    let text = fs::read_to_string(&log).unwrap();
    fs::write(
        &log,
        text.replacen("\"op\":\"apply\"", "\"op\":\"write\"", 1),
    )
    .unwrap();
    let r = ws.run(&["check", "--message-format", "json"]).code(1);
    assert!(
        codes(&r).iter().any(|c| c.starts_with("audit:")),
        "{}",
        r.stdout
    );
}

/// Workspace members add entries from `[package.metadata.atomic]`, with paths relative to their
/// own directory; `config` shows which `Cargo.toml` each came from.
#[test]
fn members_add_their_own_entries() {
    let ws = Ws::new();
    ws.put(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/skipped\"]\n",
    );
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"root\"\nsources = [\"base.json\"]\noutput = \"out/root.json\"\n",
    );
    ws.put("base.json", "{\"a\": 1}");
    ws.put(
        "crates/svc/Cargo.toml",
        r#"[package]
name = "svc"

[package.metadata.atomic]
validate = [{ files = ["config/*.json"], schema = "schema.json" }]

[[package.metadata.atomic.merge]]
name = "svc"
sources = ["config/base.json", "config/prod.json"]
output = "rendered/prod.json"
schema = "schema.json"
"#,
    );
    ws.put(
        "crates/svc/schema.json",
        r#"{"properties": {"port": {"type": "integer"}}}"#,
    );
    ws.put("crates/svc/config/base.json", "{\"port\": 80}");
    ws.put("crates/svc/config/prod.json", "{\"port\": 443}");
    ws.put(
        "crates/skipped/Cargo.toml",
        "[package]\nname = \"x\"\n[package.metadata.atomic]\nmerge = [{ name = \"root\", sources = [\"a.json\"], output = \"b.json\" }]\n",
    );
    ws.run(&["apply"]).ok();
    assert_eq!(
        ws.read("crates/svc/rendered/prod.json"),
        "{\n  \"port\": 443\n}\n"
    );
    assert!(ws.path("out/root.json").exists());
    let r = ws.run(&["validate"]).ok();
    assert!(r.stderr.contains("validation of 2 files"), "{}", r.stderr);
    let r = ws.run(&["config"]).ok();
    assert!(
        r.stdout.lines().any(|l| l
            .starts_with("merge[1].output = \"crates/svc/rendered/prod.json\"")
            && l.ends_with("# crates/svc/Cargo.toml:10:10")),
        "{}",
        r.stdout
    );
    // An error in a member names its Cargo.toml; a name used twice across files is refused.
    ws.put("crates/svc/config/prod.json", "{\"port\": \"https\"}");
    let r = ws.run(&["apply", "--message-format", "short"]).code(1);
    assert!(
        r.stdout.contains("crates/svc/config/prod.json:1:10"),
        "{}",
        r.stdout
    );
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"svc\"\nsources = [\"base.json\"]\noutput = \"out/root.json\"\n",
    );
    let r = ws.run(&["apply"]).code(2);
    assert!(
        r.stderr.contains("crates/svc/Cargo.toml")
            && r.stderr.contains("[[merge]] name `svc` is also used"),
        "{}",
        r.stderr
    );
    // Workspace-wide settings stay the workspace's.
    ws.put(
        "crates/svc/Cargo.toml",
        "[package]\nname = \"svc\"\n[package.metadata.atomic.settings]\nstate-dir = \"x\"\n",
    );
    let r = ws.run(&["config"]).code(2);
    assert!(
        r.stderr
            .contains("a member may set [[validate]], [[merge]] and [[rotate]]"),
        "{}",
        r.stderr
    );
}

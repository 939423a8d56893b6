//! Findings a user can act on, on a real schema (SchemaStore's GitHub workflow schema): a
//! failed `oneOf` explained at the mistake, a did-you-mean key, an enum's allowed values, every
//! form under `-v` and as `alternatives` in JSON, and `set` on a file that is already invalid.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/realworld/schemas/github-workflow.json"
);

fn workspace(workflow: &str) -> Ws {
    let ws = Ws::new();
    ws.put(
        "schemas/github-workflow.json",
        &fs::read_to_string(Path::new(SCHEMA)).unwrap(),
    );
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\".github/workflows/*.yml\"]\nschema = \"schemas/github-workflow.json\"\n",
    );
    ws.put(".github/workflows/ci.yml", workflow);
    ws
}

const JOB_TYPO: &str = "\
name: CI
on: [push]
jobs:
  test:
    name: Test suite
    runs_on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
";

#[test]
fn a_oneof_job_is_explained_at_the_misspelt_key() {
    let ws = workspace(JOB_TYPO);
    let r = ws.run(&["validate"]).code(1);
    assert!(!r.stderr.contains("not valid under any of"), "{}", r.stderr);
    snapshots(|| insta::assert_snapshot!("findings-oneof-job", r.stderr));

    let r = ws.run(&["validate", "--message-format", "json"]).code(1);
    let found: Vec<Value> = r
        .json()
        .into_iter()
        .filter(|d| d["reason"] == "diagnostic")
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(6), Some(5))
    );
    assert_eq!(
        d["message"],
        "`runs_on` is not an allowed key; did you mean `runs-on`? (`runs-on` is required)"
    );
    let forms = d["alternatives"].as_array().expect("alternatives");
    assert_eq!(forms.len(), 2, "{d:#}");
    assert_eq!(forms.iter().filter(|f| f["closest"] == true).count(), 1);
    assert!(
        forms
            .iter()
            .all(|f| !f["errors"].as_array().unwrap().is_empty())
    );

    let r = ws.run(&["validate", "-v"]).code(1);
    assert!(r.stderr.contains("(closest):"), "{}", r.stderr);
    assert!(
        r.stderr.contains("`uses` is a required") || r.stderr.contains("\"uses\" is a required"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_misspelt_step_key_gets_a_suggestion() {
    let ws = workspace(
        "\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - name: Build
        rnu: cargo build
",
    );
    let r = ws.run(&["validate"]).code(1);
    assert!(r.stderr.contains("did you mean `run`?"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("error[schema]").count(), 1, "{}", r.stderr);
    snapshots(|| insta::assert_snapshot!("findings-did-you-mean", r.stderr));
}

#[test]
fn a_bad_enum_value_lists_the_allowed_ones() {
    let ws = workspace(
        "\
on: push
permissions:
  contents: reed
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: cargo test
",
    );
    let r = ws.run(&["validate"]).code(1);
    assert!(r.stderr.contains("did you mean \"read\"?"), "{}", r.stderr);
    assert!(
        r.stderr.contains(" --> .github/workflows/ci.yml:3:13"),
        "{}",
        r.stderr
    );
    snapshots(|| insta::assert_snapshot!("findings-enum", r.stderr));
}

#[test]
fn set_fixes_an_invalid_workflow_one_value_at_a_time() {
    let ws = workspace(
        "\
on: push
permissions:
  contents: reed
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: forty
    steps:
      - run: cargo test
",
    );
    ws.run(&["validate"]).code(1);
    // An edit that adds an error is refused, and nothing changes.
    let before = ws.read(".github/workflows/ci.yml");
    ws.run(&[
        "set",
        ".github/workflows/ci.yml",
        "jobs.test.steps.0.shell=12",
    ])
    .code(1);
    assert_eq!(ws.read(".github/workflows/ci.yml"), before);
    // Each fix is taken though the file is still invalid.
    ws.run(&[
        "set",
        ".github/workflows/ci.yml",
        "permissions.contents=read",
    ])
    .ok();
    ws.run(&["validate"]).code(1);
    ws.run(&[
        "set",
        ".github/workflows/ci.yml",
        "jobs.test.timeout-minutes=45",
    ])
    .ok();
    ws.run(&["validate"]).ok();
}

#[test]
fn an_unrelated_edit_is_not_refused_because_a_message_quotes_it() {
    let ws = Ws::new();
    ws.put(
        "s.json",
        r#"{"properties": {"job": {"not": {"required": ["legacy"]}}}}"#,
    );
    ws.put("c.json", "{\"job\": {\"legacy\": 1, \"name\": \"a\"}}\n");
    let r = ws
        .run(&["validate", "c.json", "--schema", "s.json"])
        .code(1);
    assert!(r.stderr.contains("\"name\":\"a\""), "{}", r.stderr);
    // The `not` finding quotes the job, name and all: the edit changes that message, not the
    // finding.
    ws.run(&["set", "c.json", "/job/name=\"b\"", "--schema", "s.json"])
        .ok();
    assert!(ws.read("c.json").contains("\"b\""));
}

const PORT_SCHEMA: &str = r#"{"properties": {"port": {"type": "integer"}, "tags": {"type": "array", "uniqueItems": true, "maxItems": 2}, "名前": {"type": "integer"}}}"#;

/// The human rendering of `validate` of `file` (written with `text`) against `PORT_SCHEMA`.
fn rendered(file: &str, text: &str) -> String {
    let ws = Ws::new();
    ws.put("s.json", PORT_SCHEMA);
    ws.put(file, text);
    ws.run(&["validate", file, "--schema", "s.json"])
        .code(1)
        .stderr
}

#[test]
fn columns_start_after_a_byte_order_mark_which_is_not_shown() {
    let out = rendered("c.json", "\u{feff}{\"port\": \"x\"}\n");
    assert!(out.contains(" --> c.json:1:10"), "{out}");
    assert!(!out.contains('\u{feff}'), "{out:?}");
    snapshots(|| insta::assert_snapshot!("findings-bom", out));
}

#[test]
fn tabs_and_wide_characters_keep_the_underline_under_the_value() {
    let out = rendered("c.toml", "\tport = \"x\"\n");
    snapshots(|| insta::assert_snapshot!("findings-tab", out));
    let out = rendered("c.yaml", "名前: \"x\"\n");
    snapshots(|| insta::assert_snapshot!("findings-wide", out));
}

#[test]
fn a_long_line_is_cut_around_the_finding() {
    let text = format!(
        "{{\"a\": \"{}\", \"port\": \"x\", \"tags\": [1, 1, 2], \"b\": \"{}\"}}\n",
        "a".repeat(320_000),
        "b".repeat(320_000)
    );
    let out = rendered("c.json", &text);
    assert!(out.len() < 4000, "{} bytes", out.len());
    snapshots(|| insta::assert_snapshot!("findings-long-line", out));
}

#[test]
fn array_keywords_are_placed_at_the_array() {
    let ws = Ws::new();
    ws.put("s.json", PORT_SCHEMA);
    ws.put("c.yaml", "tags: [1, 1, 2]\n");
    let r = ws
        .run(&[
            "validate",
            "c.yaml",
            "--schema",
            "s.json",
            "--message-format",
            "json",
        ])
        .code(1);
    let places: Vec<(u64, u64)> = r
        .json()
        .iter()
        .filter(|d| d["reason"] == "diagnostic")
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(places, [(1, 7), (1, 7)], "{}", r.stdout);
}

//! `validate`: every finding at the exact file:line:column of the offending value, in all three
//! formats; bad input gets a located finding and a documented exit code, never a panic.

use serde_json::Value;

use crate::support::*;

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer", "maximum": 65535}
      },
      "required": ["host"],
      "additionalProperties": false
    },
    "servers": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}
      }
    },
    "contact": {"type": "string", "format": "email"}
  }
}
"#;

fn ws_with_schema() -> Ws {
    let ws = Ws::new();
    ws.put("schemas/app.schema.json", SCHEMA);
    ws
}

/// (line, column, end_line, end_column, pointer) of every diagnostic of one validate run.
fn places(ws: &Ws, file: &str) -> Vec<(u64, u64, u64, u64, String)> {
    let r = ws.run(&[
        "validate",
        file,
        "--schema",
        "schemas/app.schema.json",
        "--message-format",
        "json",
    ]);
    assert!(
        r.code == 1 || r.code == 0,
        "exit {}: {}{}",
        r.code,
        r.stdout,
        r.stderr
    );
    r.json()
        .iter()
        .filter(|l| l["reason"] == "diagnostic")
        .map(|d| {
            let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("no {k} in {d}"));
            (
                n("line"),
                n("column"),
                n("end_line"),
                n("end_column"),
                d["pointer"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn json_nested_value() {
    let ws = ws_with_schema();
    ws.put(
        "c.json",
        "{\n  \"server\": {\n    \"host\": \"h\",\n    \"port\": \"eighty\"\n  }\n}\n",
    );
    assert_eq!(
        places(&ws, "c.json"),
        vec![(4, 13, 4, 21, "/server/port".into())]
    );
}

#[test]
fn json_array_of_objects() {
    let ws = ws_with_schema();
    ws.put(
        "c.json",
        "{\"servers\": [\n  {\"name\": \"a\", \"port\": 1},\n  {\"name\": 2}\n]}\n",
    );
    assert_eq!(
        places(&ws, "c.json"),
        vec![(3, 12, 3, 13, "/servers/1/name".into())]
    );
}

#[test]
fn an_unexpected_property_is_shown_at_its_key_and_a_missing_one_at_the_object() {
    let ws = ws_with_schema();
    ws.put("c.json", "{\n  \"server\": {\n    \"prot\": 80\n  }\n}\n");
    let got = places(&ws, "c.json");
    // `required: host` at the `server` key; `additionalProperties` at `prot`.
    assert!(got.contains(&(2, 3, 2, 11, "/server".into())), "{got:?}");
    assert!(got.contains(&(3, 5, 3, 11, "/server".into())), "{got:?}");
}

#[test]
fn yaml_block_flow_and_anchors() {
    let ws = ws_with_schema();
    ws.put(
        "c.yaml",
        "defaults: &d\n  host: h\n  port: 80\nserver:\n  <<: *d\n  port: eighty\nservers: [{name: a}, {name: 7}]\n",
    );
    let got = places(&ws, "c.yaml");
    assert!(
        got.contains(&(6, 9, 6, 15, "/server/port".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&(7, 29, 7, 30, "/servers/1/name".into())),
        "{got:?}"
    );
}

#[test]
fn yaml_multi_document_streams_validate_every_document() {
    let ws = ws_with_schema();
    ws.put(
        "c.yaml",
        "server: {host: a, port: 1}\n---\nserver:\n  host: b\n  port: x\n",
    );
    let r = ws
        .run(&[
            "validate",
            "c.yaml",
            "--schema",
            "schemas/app.schema.json",
            "--message-format",
            "json",
        ])
        .code(1);
    let d: Vec<Value> = r
        .json()
        .into_iter()
        .filter(|l| l["reason"] == "diagnostic")
        .collect();
    assert_eq!(d.len(), 1, "{}", r.stdout);
    assert_eq!(
        (
            d[0]["document"].as_u64(),
            d[0]["line"].as_u64(),
            d[0]["column"].as_u64()
        ),
        (Some(1), Some(5), Some(9))
    );
    let short = ws.run(&[
        "validate",
        "c.yaml",
        "--schema",
        "schemas/app.schema.json",
        "--message-format",
        "short",
    ]);
    assert!(
        short.stdout.contains("c.yaml#1:5:9: error[schema]"),
        "{}",
        short.stdout
    );
}

#[test]
fn toml_tables_inline_tables_arrays_of_tables_and_dotted_keys() {
    let ws = ws_with_schema();
    ws.put("a.toml", "[server]\nhost = \"h\"\nport = \"eighty\"\n");
    assert_eq!(
        places(&ws, "a.toml"),
        vec![(3, 8, 3, 16, "/server/port".into())]
    );
    ws.put("b.toml", "server = { host = \"h\", port = true }\n");
    assert_eq!(
        places(&ws, "b.toml"),
        vec![(1, 31, 1, 35, "/server/port".into())]
    );
    ws.put(
        "c.toml",
        "[[servers]]\nname = \"a\"\n\n[[servers]]\nname = 3\n",
    );
    assert_eq!(
        places(&ws, "c.toml"),
        vec![(5, 8, 5, 9, "/servers/1/name".into())]
    );
    ws.put("d.toml", "server.host = \"h\"\nserver.port = 1.5\n");
    assert_eq!(
        places(&ws, "d.toml"),
        vec![(2, 15, 2, 18, "/server/port".into())]
    );
}

#[test]
fn duplicate_keys_are_errors_in_every_format_naming_both_places() {
    let ws = Ws::new();
    for (file, text, second, first) in [
        ("d.json", "{\n  \"a\": 1,\n  \"a\": 2\n}\n", (3, 3), (2, 3)),
        ("d.yaml", "a: 1\nb: 2\na: 3\n", (3, 1), (1, 1)),
        ("d.toml", "a = 1\nb = 2\na = 3\n", (3, 1), (1, 1)),
    ] {
        ws.put(file, text);
        let r = ws
            .run(&["validate", file, "--message-format", "json"])
            .code(1);
        let d = &r.json()[0];
        assert_eq!(d["code"], "duplicate-key", "{file}: {}", r.stdout);
        assert_eq!(
            (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()),
            second,
            "{file}"
        );
        assert_eq!(
            (
                d["related"][0]["line"].as_u64().unwrap(),
                d["related"][0]["column"].as_u64().unwrap()
            ),
            first,
            "{file}"
        );
    }
}

#[test]
fn all_errors_of_a_file_are_reported_not_just_the_first() {
    let ws = ws_with_schema();
    ws.put(
        "c.json",
        "{\"server\": {\"host\": 1, \"port\": 99999}, \"contact\": \"not-an-email\"}\n",
    );
    let got = places(&ws, "c.json");
    assert_eq!(got.len(), 3, "{got:?}");
    // Formats are asserted by default, and only then.
    let r = ws.run(&[
        "validate",
        "c.json",
        "--schema",
        "schemas/app.schema.json",
        "--no-format-checks",
        "--message-format",
        "json",
    ]);
    assert_eq!(
        r.json()
            .iter()
            .filter(|l| l["reason"] == "diagnostic")
            .count(),
        2
    );
}

#[test]
fn exit_codes_valid_invalid_and_unusable_schema() {
    let ws = ws_with_schema();
    ws.put("ok.json", "{\"server\": {\"host\": \"h\", \"port\": 80}}\n");
    ws.put(
        "bad.json",
        "{\"server\": {\"host\": \"h\", \"port\": \"x\"}}\n",
    );
    ws.run(&["validate", "ok.json", "--schema", "schemas/app.schema.json"])
        .ok();
    ws.run(&[
        "validate",
        "ok.json",
        "bad.json",
        "--schema",
        "schemas/app.schema.json",
    ])
    .code(1);
    ws.put(
        "schemas/broken.json",
        "{\"type\": \"object\", \"minimum\": \"x\"}\n",
    );
    let r = ws
        .run(&["validate", "ok.json", "--schema", "schemas/broken.json"])
        .code(2);
    assert!(r.stderr.contains("schema does not compile"), "{}", r.stderr);
    ws.put(
        "schemas/remote.json",
        "{\"$ref\": \"https://example.com/s.json\"}\n",
    );
    let r = ws
        .run(&["validate", "ok.json", "--schema", "schemas/remote.json"])
        .code(2);
    assert!(
        r.stderr.contains("https://example.com/s.json"),
        "{}",
        r.stderr
    );
}

#[test]
fn remote_refs_resolve_through_the_offline_map() {
    let ws = ws_with_schema();
    ws.put(
        "atomic.toml",
        "[schemas]\nmap = { \"https://example.com/schemas/\" = \"schemas/vendor/\" }\n",
    );
    ws.put("schemas/vendor/port.json", "{\"type\": \"integer\"}\n");
    ws.put(
        "schemas/s.json",
        "{\"properties\": {\"port\": {\"$ref\": \"https://example.com/schemas/port.json\"}}}\n",
    );
    ws.put("c.json", "{\"port\": \"x\"}\n");
    let r = ws
        .run(&[
            "validate",
            "c.json",
            "--schema",
            "schemas/s.json",
            "--message-format",
            "json",
        ])
        .code(1);
    assert_eq!(r.json()[0]["pointer"], "/port");
}

#[test]
fn the_config_names_files_and_schemas_and_gitignore_is_respected() {
    let ws = ws_with_schema();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/**/*.json\"]\nschema = \"schemas/app.schema.json\"\n",
    );
    ws.put(".gitignore", "config/ignored/\n");
    ws.put("config/a.json", "{\"server\": {\"host\": 1}}\n");
    ws.put("config/ignored/b.json", "{\"server\": {\"host\": 1}}\n");
    std::process::Command::new("git")
        .arg("init")
        .arg("-q")
        .current_dir(ws.root())
        .status()
        .unwrap();
    let r = ws.run(&["validate", "--message-format", "json"]).code(1);
    let files: Vec<Value> = r
        .json()
        .into_iter()
        .filter(|l| l["reason"] == "diagnostic")
        .map(|d| d["file"].clone())
        .collect();
    assert_eq!(files, vec![Value::from("config/a.json")]);
}

#[test]
fn schemas_named_in_the_file_itself() {
    let ws = ws_with_schema();
    ws.put(
        "c.json",
        "{\"$schema\": \"schemas/app.schema.json\", \"server\": {\"host\": 1}}\n",
    );
    ws.put(
        "c.toml",
        "#:schema schemas/app.schema.json\n[server]\nhost = 1\n",
    );
    ws.run(&["validate", "c.json"]).code(1);
    ws.run(&["validate", "c.toml"]).code(1);
}

#[test]
fn bad_input_gets_a_located_finding_never_a_panic() {
    let ws = Ws::new();
    let bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    ws.put("bomb.yaml", bomb);
    ws.put("deep.json", &("[".repeat(100_000) + &"]".repeat(100_000)));
    ws.put("deep.yaml", &("[".repeat(100_000) + &"]".repeat(100_000)));
    ws.put(
        "deep.toml",
        &("a = ".to_owned() + &"[".repeat(100_000) + &"]".repeat(100_000)),
    );
    std::fs::write(ws.path("utf8.json"), b"{\"a\": \"\xff\"}").unwrap();
    std::fs::write(ws.path("nul.yaml"), b"a: b\0c\n").unwrap();
    std::fs::write(ws.path("nul.toml"), b"a = \"b\0c\"\n").unwrap();
    let big = format!("[{}1]", "1,".repeat(25 * 1024 * 1024));
    std::fs::write(ws.path("big.json"), big).unwrap();
    for (file, code) in [
        ("bomb.yaml", "limit"),
        ("deep.json", "limit"),
        ("deep.yaml", "limit"),
        ("deep.toml", "limit"),
        ("utf8.json", "parse"),
        ("nul.yaml", "parse"),
        ("nul.toml", "parse"),
        ("big.json", "limit"),
    ] {
        let r = ws.run(&["validate", file, "--message-format", "json"]);
        assert_eq!(r.code, 1, "{file}: {}{}", r.stdout, r.stderr);
        let d = &r.json()[0];
        assert_eq!(d["code"], code, "{file}: {}", r.stdout);
        assert!(!r.stderr.contains("panicked"), "{file}: {}", r.stderr);
    }
    let r = ws.run(&["validate", "utf8.json", "--message-format", "short"]);
    assert!(
        r.stdout
            .contains("utf8.json:1:8: error[parse]: invalid UTF-8"),
        "{}",
        r.stdout
    );
}

#[test]
fn human_output_underlines_the_value_like_rustc() {
    let ws = ws_with_schema();
    ws.put(
        "config/prod.yaml",
        "server:\n  host: example.com\n  port: \"eighty\"\n",
    );
    let r = ws
        .run(&[
            "validate",
            "config/prod.yaml",
            "--schema",
            "schemas/app.schema.json",
        ])
        .code(1);
    snapshots(|| insta::assert_snapshot!("validate-human-yaml", r.stderr));
    ws.put("config/dup.toml", "[server]\nhost = \"a\"\nhost = \"b\"\n");
    let r = ws.run(&["validate", "config/dup.toml"]).code(1);
    snapshots(|| insta::assert_snapshot!("validate-human-duplicate", r.stderr));
}

#[test]
fn github_and_sarif_formats() {
    let ws = ws_with_schema();
    ws.put(
        "c.json",
        "{\"server\": {\"host\": \"h\", \"port\": \"x\"}}\n",
    );
    let r = ws
        .run(&[
            "validate",
            "c.json",
            "--schema",
            "schemas/app.schema.json",
            "--message-format",
            "github",
        ])
        .code(1);
    assert!(
        r.stdout.starts_with("::error file=c.json,line=1,col=34,"),
        "{}",
        r.stdout
    );
    let r = ws
        .run(&[
            "validate",
            "c.json",
            "--schema",
            "schemas/app.schema.json",
            "--message-format",
            "sarif",
        ])
        .code(1);
    let log: Value = serde_json::from_str(&r.stdout).expect("one SARIF document");
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "schema");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startColumn"],
        34
    );
}

#[test]
fn an_empty_yaml_file_is_validated_as_null() {
    let ws = ws_with_schema();
    ws.put("empty.yaml", "# nothing here\n");
    let r = ws
        .run(&[
            "validate",
            "empty.yaml",
            "--schema",
            "schemas/app.schema.json",
            "--message-format",
            "json",
        ])
        .code(1);
    let d = &r.json()[0];
    assert_eq!(
        (d["code"].as_str(), d["pointer"].as_str()),
        (Some("schema"), Some("")),
        "{}",
        r.stdout
    );
    assert!(
        d["message"].as_str().unwrap().contains("null"),
        "{}",
        r.stdout
    );
}

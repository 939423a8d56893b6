//! Related places: a finding names, besides its own place, the other places that made it what
//! it is — the other layers that set a merged value, the anchor of a YAML alias, the line of
//! `atomic.toml` that named a schema that does not compile — in every format.

use crate::support::*;

/// The `related` places of each diagnostic line, as `file:line:column message`.
fn related(r: &Run) -> Vec<Vec<String>> {
    r.json()
        .into_iter()
        .filter(|v| v["reason"] == "diagnostic")
        .map(|v| {
            v["related"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| {
                            let file = r["file"]
                                .as_str()
                                .unwrap_or_else(|| v["file"].as_str().unwrap());
                            format!(
                                "{file}:{}:{} {}",
                                r["line"],
                                r["column"],
                                r["message"].as_str().unwrap()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

const LAYERS_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {"port": {"type": "integer", "maximum": 65535}, "host": {"type": "string"}},
      "additionalProperties": false
    }
  }
}"#;

fn layers(prod: &str) -> Ws {
    let ws = Ws::new();
    ws.put("schema.json", LAYERS_SCHEMA);
    ws.put("config/base.yaml", "server:\n  port: 80\n  host: a\n");
    ws.put("config/prod.toml", prod);
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"prod\"\nsources = [\"config/base.yaml\", \"config/prod.toml\"]\noutput = \"out/prod.json\"\nschema = \"schema.json\"\n",
    );
    ws
}

#[test]
fn a_bad_value_names_the_other_layers_that_set_it() {
    let ws = layers("[server]\nport = 70000\n");
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    assert_eq!(
        related(&r),
        [["config/base.yaml:2:9 also set here"]],
        "{}",
        r.stdout
    );
    let r = ws.run(&["check"]).code(1);
    assert!(
        r.stderr.contains("--> config/prod.toml:2:8")
            && r.stderr
                .contains("= note: also set here: config/base.yaml:2:9"),
        "{}",
        r.stderr
    );
    // A GitHub annotation stays at the primary place; the other layer is a line of its text.
    let r = ws.run(&["apply", "--message-format", "github"]).code(1);
    let annotations: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{}", r.stdout);
    assert!(
        annotations[0].starts_with("::error file=config/prod.toml,line=2,col=8,")
            && annotations[0].contains("%0Anote: also set here: config/base.yaml:2:9"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_unexpected_key_only_one_layer_has_names_no_other_place() {
    let ws = layers("[server]\nextra = true\n");
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    assert_eq!(related(&r), [Vec::<String>::new()], "{}", r.stdout);
}

#[test]
fn a_key_both_layers_set_names_the_other_one() {
    let ws = layers("[server]\nextra = true\n");
    ws.put("config/base.yaml", "server:\n  port: 80\n  extra: false\n");
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    assert_eq!(
        related(&r),
        [["config/base.yaml:3:3 also set here"]],
        "{}",
        r.stdout
    );
}

const PORT_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": {
    "type": "object",
    "properties": {"port": {"type": "integer"}}
  }
}"#;

#[test]
fn a_finding_inside_an_alias_names_the_anchor() {
    let ws = Ws::new();
    ws.put("schema.json", PORT_SCHEMA);
    ws.put(
        "c.yaml",
        "base: &b\n  port: eighty\nprod: *b\ndev:\n  <<: *b\n  host: h\nstaging:\n  <<: *b\n  port: x\n",
    );
    let r = ws
        .run(&[
            "validate",
            "c.yaml",
            "--schema",
            "schema.json",
            "--message-format",
            "json",
        ])
        .code(1);
    let anchor = "c.yaml:1:7 the value comes from the anchor `&b`";
    let mut got = related(&r);
    got.sort();
    // `/base/port` and `/staging/port` (which overrides the merge) are where they are written;
    // `/dev/port` (merged) and `/prod/port` (aliased) are at their aliases, with the anchor as
    // the related place.
    assert_eq!(
        got,
        [vec![], vec![], vec![anchor], vec![anchor]],
        "{}",
        r.stdout
    );
    let r = ws
        .run(&["validate", "c.yaml", "--schema", "schema.json"])
        .code(1);
    assert!(
        r.stderr.contains("--> c.yaml:3:7")
            && r.stderr
                .contains("= note: the value comes from the anchor `&b`: c.yaml:1:7"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_anchor_after_a_tag_or_in_a_flow_collection_is_found() {
    let ws = Ws::new();
    ws.put("schema.json", PORT_SCHEMA);
    ws.put(
        "c.yaml",
        "a: {port: &p !!str x}\nb: {port: *p}\nc: [&q {port: y}]\nd: *p\n",
    );
    let r = ws
        .run(&[
            "validate",
            "c.yaml",
            "--schema",
            "schema.json",
            "--message-format",
            "json",
        ])
        .code(1);
    let all: Vec<String> = related(&r).concat();
    assert!(
        all.contains(&"c.yaml:1:11 the value comes from the anchor `&p`".to_owned()),
        "{}",
        r.stdout
    );
}

#[test]
fn a_schema_that_does_not_compile_names_the_config_line_that_named_it() {
    let ws = Ws::new();
    ws.put(
        "bad.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": {\"type\": \"integr\"}\n  }\n}\n",
    );
    ws.put("a.yaml", "port: 1\n");
    ws.put("b.yaml", "port: 2\n");
    ws.put(
        "atomic.toml",
        "# the files\n[[validate]]\nfiles = [\"*.yaml\"]\nschema = \"bad.json\"\n",
    );
    let r = ws.run(&["validate"]).code(2);
    assert!(
        r.stderr.contains("--> bad.json:4:22")
            && r.stderr
                .contains("= note: the schema is named here: atomic.toml:4:10"),
        "{}",
        r.stderr
    );
    // A schema problem, once, and not an error of the files that use the schema.
    assert!(
        r.stderr
            .contains("validation of 2 files found 1 schema problem\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("found 1 error"), "{}", r.stderr);
    let r = ws.run(&["validate", "--message-format", "sarif"]).code(2);
    let log: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let related = &log["runs"][0]["results"][0]["relatedLocations"][0];
    assert_eq!(
        related["physicalLocation"]["artifactLocation"]["uri"], "atomic.toml",
        "{}",
        r.stdout
    );
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 4);
    assert_eq!(related["message"]["text"], "the schema is named here");
}

#[test]
fn a_merge_schema_that_does_not_compile_names_its_merge_entry() {
    let ws = layers("[server]\nport = 1\n");
    ws.put("schema.json", "{\"type\": \"objekt\"}\n");
    let r = ws.run(&["apply"]).code(2);
    assert!(
        r.stderr
            .contains("= note: the schema is named here: atomic.toml:5:10"),
        "{}",
        r.stderr
    );
}

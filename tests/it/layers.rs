//! A finding in a rendered output is placed at the layer that made the mistake: an unexpected
//! key where an overlay added it, a missing key at the last layer that wrote its object, a bad
//! value where it was set.

use crate::support::*;

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {"port": {"type": "integer", "maximum": 65535}, "host": {"type": "string"}},
      "required": ["port", "host"],
      "additionalProperties": false
    }
  }
}"#;

fn ws(prod: &str) -> Ws {
    let ws = Ws::new();
    ws.put("schema.json", SCHEMA);
    ws.put("config/base.yaml", "server:\n  port: 80\n  host: a\n");
    ws.put("config/prod.toml", prod);
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"prod\"\nsources = [\"config/base.yaml\", \"config/prod.toml\"]\noutput = \"out/prod.json\"\nschema = \"schema.json\"\n",
    );
    ws
}

fn places(r: &Run) -> Vec<String> {
    r.json()
        .into_iter()
        .filter(|v| v["reason"] == "diagnostic")
        .map(|v| {
            format!(
                "{}:{}:{}",
                v["file"].as_str().unwrap(),
                v["line"],
                v["column"]
            )
        })
        .collect()
}

#[test]
fn an_unexpected_key_an_overlay_added_is_placed_in_the_overlay() {
    let ws = ws("# prod\n[server]\nport = 8080\nextra = true\n");
    for args in [
        &["apply", "--message-format", "json"][..],
        &[
            "merge",
            "config/base.yaml",
            "config/prod.toml",
            "--schema",
            "schema.json",
            "--message-format",
            "json",
        ],
    ] {
        let r = ws.run(args).code(1);
        assert_eq!(
            places(&r),
            ["config/prod.toml:4:1"],
            "{args:?}\n{}",
            r.stdout
        );
    }
}

#[test]
fn a_bad_value_is_placed_where_it_was_set() {
    let ws = ws("[server]\nport = 70000\n");
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    assert_eq!(places(&r), ["config/prod.toml:2:8"], "{}", r.stdout);
}

#[test]
fn a_missing_key_is_placed_at_the_last_layer_that_wrote_its_object() {
    let ws = ws("[server]\nport = 8080\n");
    ws.put("config/base.yaml", "server:\n  port: 80\n");
    let r = ws.run(&["apply", "--message-format", "json"]).code(1);
    let p = places(&r);
    assert_eq!(p.len(), 1, "{}", r.stdout);
    assert!(p[0].starts_with("config/prod.toml:"), "{}", r.stdout);
}

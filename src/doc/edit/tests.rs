use serde_json::{Value, json};

use super::*;

/// Sets (`Some`) or unsets (`None`) `key` in `input` and compares the whole text.
#[track_caller]
fn check(format: Format, input: &str, key: &str, value: Option<Value>, expected: &str) {
    let path = KeyPath::parse(key).unwrap();
    let out = match &value {
        Some(v) => set(format, input, &path, v),
        None => unset(format, input, &path),
    };
    match out {
        Ok(out) => assert_eq!(out, expected, "\n--- got:\n{out}\n--- want:\n{expected}"),
        Err(e) => panic!("{key}: {e}"),
    }
}

#[track_caller]
fn refused(format: Format, input: &str, key: &str, value: Option<Value>) -> EditError {
    let path = KeyPath::parse(key).unwrap();
    let out = match &value {
        Some(v) => set(format, input, &path, v),
        None => unset(format, input, &path),
    };
    out.expect_err("expected a refusal")
}

const J: Format = Format::Json;
const Y: Format = Format::Yaml;
const T: Format = Format::Toml;

#[test]
fn json_replace_insert_and_remove_keep_the_rest() {
    let pretty = "{\n  \"name\": \"app\",\n  \"server\": {\n    \"port\": 80,\n    \"host\": \"a\"\n  },\n  \"tags\": [\"x\", \"y\"]\n}\n";
    check(
        J,
        pretty,
        "server.port",
        Some(json!(8080)),
        &pretty.replace("80,", "8080,"),
    );
    check(
        J,
        pretty,
        "server.tls",
        Some(json!(true)),
        &pretty.replace("\"a\"\n", "\"a\",\n    \"tls\": true\n"),
    );
    check(
        J,
        pretty,
        "db.pool.size",
        Some(json!(5)),
        &pretty.replace(
            "\"y\"]\n",
            "\"y\"],\n  \"db\": {\n    \"pool\": {\n      \"size\": 5\n    }\n  }\n",
        ),
    );
    check(
        J,
        pretty,
        "/tags/-",
        Some(json!("z")),
        &pretty.replace("\"y\"]", "\"y\", \"z\"]"),
    );
    check(
        J,
        pretty,
        "tags.0",
        Some(json!("w")),
        &pretty.replace("[\"x\"", "[\"w\""),
    );
    check(
        J,
        pretty,
        "server.port",
        None,
        &pretty.replace("\"port\": 80,\n    ", ""),
    );
    check(
        J,
        pretty,
        "server.host",
        None,
        &pretty.replace(",\n    \"host\": \"a\"", ""),
    );
    check(J, pretty, "tags.1", None, &pretty.replace(", \"y\"", ""));
    check(J, "{\"a\":{}}", "a.b", Some(json!(1)), "{\"a\":{\"b\":1}}");
    check(J, "{\"a\":{\"b\":1}}", "a.b", None, "{\"a\":{}}");
    check(
        J,
        "{\"a\":1,\"b\":2}",
        "c",
        Some(json!([1])),
        "{\"a\":1,\"b\":2,\"c\":[1]}",
    );
}

#[test]
fn yaml_replace_insert_and_remove_keep_comments() {
    let text = "\
# the app
name: app   # its name
server:
  port: 80  # http
  host: a
tags:
  - x
  - y
# the end
";
    check(
        Y,
        text,
        "server.port",
        Some(json!(8080)),
        &text.replace("80  #", "8080  #"),
    );
    check(
        Y,
        text,
        "name",
        Some(json!("two words")),
        &text.replace("app   #", "two words   #"),
    );
    check(
        Y,
        text,
        "name",
        Some(json!("yes")),
        &text.replace("app   #", "\"yes\"   #"),
    );
    check(
        Y,
        text,
        "server.tls",
        Some(json!(true)),
        &text.replace("host: a\n", "host: a\n  tls: true\n"),
    );
    check(
        Y,
        text,
        "db.pool.size",
        Some(json!(5)),
        &text.replace("  - y\n", "  - y\ndb:\n  pool:\n    size: 5\n"),
    );
    check(
        Y,
        text,
        "tags.-",
        Some(json!("z")),
        &text.replace("  - y\n", "  - y\n  - z\n"),
    );
    check(
        Y,
        text,
        "tags.2",
        Some(json!({"k": 1, "l": [2]})),
        &text.replace("  - y\n", "  - y\n  - k: 1\n    l:\n      - 2\n"),
    );
    check(
        Y,
        text,
        "server.port",
        None,
        &text.replace("  port: 80  # http\n", ""),
    );
    check(Y, text, "tags.0", None, &text.replace("  - x\n", ""));
    check(
        Y,
        text,
        "server",
        Some(json!({"port": 1})),
        &text.replace("  port: 80  # http\n  host: a\n", "  port: 1\n"),
    );
    check(
        Y,
        text,
        "server",
        Some(json!(null)),
        &text.replace("\n  port: 80  # http\n  host: a\n", " null\n"),
    );
    check(
        Y,
        text,
        "name",
        Some(json!({"a": 1})),
        &text.replace(" app   #", "\n  a: 1   #"),
    );
}

#[test]
fn yaml_flow_collections_and_sequence_items() {
    check(
        Y,
        "a: {x: 1, y: 2}\n",
        "a.z",
        Some(json!(3)),
        "a: {x: 1, y: 2, z: 3}\n",
    );
    check(Y, "a: {x: 1, y: 2}\n", "a.x", None, "a: {y: 2}\n");
    check(Y, "a: [1, 2]\n", "a.1", None, "a: [1]\n");
    check(Y, "a: {}\n", "a.b", Some(json!("c")), "a: {b: c}\n");
    check(Y, "a: [1]\n", "a.0", None, "a: []\n");
    let items = "list:\n  - name: a\n    port: 1\n  - name: b\n";
    check(
        Y,
        items,
        "list.0.name",
        None,
        "list:\n  - port: 1\n  - name: b\n",
    );
    check(
        Y,
        items,
        "list.0.port",
        None,
        "list:\n  - name: a\n  - name: b\n",
    );
    check(
        Y,
        items,
        "list.1.port",
        Some(json!(2)),
        "list:\n  - name: a\n    port: 1\n  - name: b\n    port: 2\n",
    );
    check(
        Y,
        items,
        "list.1",
        None,
        "list:\n  - name: a\n    port: 1\n",
    );
    check(
        Y,
        "k: |\n  text\n  more\nz: 1\n",
        "k",
        Some(json!("x")),
        "k: x\nz: 1\n",
    );
    check(Y, "a: 1\nb: 2", "b", None, "a: 1");
}

#[test]
fn yaml_aliases_anchors_and_streams_are_refused() {
    let aliased = "base: &b\n  x: 1\nother: *b\nm:\n  <<: *b\n  y: 2\n";
    assert!(
        matches!(refused(Y, aliased, "base.x", Some(json!(2))), EditError::Unsupported(m) if m.contains("anchored"))
    );
    assert!(
        matches!(refused(Y, aliased, "other", Some(json!(2))), EditError::Unsupported(m) if m.contains("alias"))
    );
    assert!(matches!(
        refused(Y, aliased, "other.x", Some(json!(2))),
        EditError::Unsupported(_)
    ));
    assert!(
        matches!(refused(Y, aliased, "m.z", Some(json!(2))), EditError::Unsupported(m) if m.contains("merge key"))
    );
    assert!(matches!(
        refused(Y, aliased, "m.x", Some(json!(5))),
        EditError::Unsupported(_)
    ));
    // Outside the anchored value, edits are fine.
    check(
        Y,
        aliased,
        "m.y",
        Some(json!(3)),
        &aliased.replace("y: 2", "y: 3"),
    );
    assert!(
        matches!(refused(Y, "a: 1\n---\nb: 2\n", "a", Some(json!(2))), EditError::Unsupported(m) if m.contains("2 YAML documents"))
    );
}

#[test]
fn toml_keeps_comments_dotted_keys_and_inline_tables() {
    let text = "\
#:schema app.schema.json
# the app
name = \"app\" # its name
a.b.c = 1

[server]
port = 80 # http
tls = { on = true, cert = \"x\" }

[[plugin]]
name = \"p\"
";
    check(
        T,
        text,
        "server.port",
        Some(json!(8080)),
        &text.replace("80 #", "8080 #"),
    );
    check(
        T,
        text,
        "a.b.c",
        Some(json!(2)),
        &text.replace("c = 1", "c = 2"),
    );
    check(
        T,
        text,
        "server.tls.on",
        Some(json!(false)),
        &text.replace("on = true", "on = false"),
    );
    check(
        T,
        text,
        "server.tls.cert",
        None,
        &text.replace(", cert = \"x\"", ""),
    );
    check(
        T,
        text,
        "server.host",
        Some(json!("h")),
        &text.replace("cert = \"x\" }\n", "cert = \"x\" }\nhost = \"h\"\n"),
    );
    check(
        T,
        text,
        "plugin.0.name",
        Some(json!("q")),
        &text.replace("\"p\"", "\"q\""),
    );
    check(
        T,
        text,
        "server.port",
        None,
        &text.replace("port = 80 # http\n", ""),
    );
    assert!(
        matches!(refused(T, text, "name", Some(json!(null))), EditError::Unsupported(m) if m.contains("no null"))
    );
}

#[test]
fn paths_through_scalars_and_past_arrays_are_refused() {
    let text = "{\"a\": 1, \"l\": [1]}";
    assert!(matches!(
        refused(J, text, "a.b", Some(json!(1))),
        EditError::NotContainer {
            found: "a number",
            ..
        }
    ));
    assert!(matches!(
        refused(J, text, "l.5", Some(json!(1))),
        EditError::BadIndex { len: 1, .. }
    ));
    assert!(matches!(
        refused(J, text, "l.01", Some(json!(1))),
        EditError::BadIndex { .. }
    ));
    assert!(
        matches!(refused(J, text, "missing", None), EditError::NotFound { pointer } if pointer == "/missing")
    );
    assert!(matches!(refused(J, "{", "a", None), EditError::Parse(_)));
}

#[test]
fn setting_the_same_value_changes_no_byte() {
    let text = "{ \"a\" : 1.0 }";
    check(J, text, "a", Some(json!(1.0)), text);
}

#[test]
fn a_null_on_the_path_becomes_the_objects_it_needs() {
    check(
        Y,
        "server:\nname: x\n",
        "server.port",
        Some(json!(1)),
        "server:\n  port: 1\nname: x\n",
    );
    check(
        Y,
        "server:   # c\nname: x\n",
        "server.port",
        Some(json!(1)),
        "server:   # c\n  port: 1\nname: x\n",
    );
    check(
        Y,
        "server:\nname: x\n",
        "server",
        Some(json!(5)),
        "server: 5\nname: x\n",
    );
    check(
        Y,
        "list:\n- \n- 1\n",
        "list.0",
        Some(json!("a")),
        "list:\n- a\n- 1\n",
    );
    check(
        J,
        "{\"a\": null}",
        "a.b.c",
        Some(json!(true)),
        "{\"a\": {\"b\": {\"c\": true}}}",
    );
    assert!(matches!(
        refused(J, "{\"a\": null}", "a.b", None),
        EditError::NotContainer { found: "null", .. }
    ));
}

#[test]
fn crlf_texts_keep_crlf() {
    let text = "a: 1\r\nb:\r\n  c: 2\r\n";
    check(
        Y,
        text,
        "b.d",
        Some(json!(3)),
        "a: 1\r\nb:\r\n  c: 2\r\n  d: 3\r\n",
    );
    check(Y, text, "a", None, "b:\r\n  c: 2\r\n");
    let toml = "a = 1\r\n[b]\r\nc = 2\r\n";
    let out = set(T, toml, &KeyPath::parse("b.d").unwrap(), &json!(3)).unwrap();
    assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
}

#[test]
fn yaml_core_tags_go_with_the_old_value_and_other_tags_stay() {
    check(
        Y,
        "a: !!int 1\nb: !Ref x\n",
        "a",
        Some(json!("s")),
        "a: s\nb: !Ref x\n",
    );
    check(
        Y,
        "a: !!int 1\nb: !Ref x\n",
        "b",
        Some(json!("z")),
        "a: !!int 1\nb: !Ref z\n",
    );
    check(Y, "b: x\n", "b", Some(json!("y")), "b: \"y\"\n");
    check(Y, "- !!str 1\n- 2\n", "0", Some(json!(3)), "- 3\n- 2\n");
}

#[test]
fn toml_an_emptied_dotted_table_stays() {
    check(
        T,
        "a = { x.y = 1, z = 2 }\n",
        "a.x.y",
        None,
        "a = { x = {}, z = 2 }\n",
    );
    check(T, "x.y = 1\nz = 2\n", "x.y", None, "z = 2\n\n[x]\n");
}

#[test]
fn yaml_tagged_sequence_items_are_found_by_their_dash() {
    check(Y, "- !!int 1\n- !!int 2\n", "0", None, "- !!int 2\n");
    check(
        Y,
        "- !!int 1\n- !!int 2\n",
        "-",
        Some(json!(3)),
        "- !!int 1\n- !!int 2\n- 3\n",
    );
}

#[test]
fn an_empty_yaml_stream_gets_a_mapping() {
    check(Y, "", "a.b", Some(json!(1)), "a:\n  b: 1\n");
    check(
        Y,
        "# nothing yet",
        "a",
        Some(json!([1])),
        "# nothing yet\na:\n  - 1\n",
    );
    assert!(matches!(
        refused(Y, "# c\n", "a", None),
        EditError::NotFound { .. }
    ));
    check(T, "# c\n", "a.b", Some(json!(1)), "# c\na = { b = 1 }\n");
}

#[test]
fn toml_schema_comment_stays_first() {
    let text = "#:schema s.json\n\n[server]\nport = 1\n";
    let out = set(T, text, &KeyPath::parse("name").unwrap(), &json!("x")).unwrap();
    assert!(out.starts_with("#:schema s.json\n"), "{out}");
}

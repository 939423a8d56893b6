//! `merge`: RFC 7396 exactly, through the library and the binary; mixed formats; findings at
//! the source that set the value; `-o` written atomically with a backup.

use serde_json::Value;

use crate::support::*;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpora/rfc7396/vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

#[test]
fn all_rfc7396_vectors_through_the_library() {
    if crate::support::skip_without_corpus("rfc7396") {
        return;
    }
    let vectors = vectors();
    assert_eq!(vectors.len(), 15);
    for v in &vectors {
        let got = cargo_atomic::doc::merge::merge_patch(v["target"].clone(), &v["patch"]);
        assert_eq!(got, v["result"], "{v}");
    }
}

#[test]
fn all_rfc7396_vectors_through_the_binary() {
    if crate::support::skip_without_corpus("rfc7396") {
        return;
    }
    let ws = Ws::new();
    for (i, v) in vectors().iter().enumerate() {
        ws.put("target.json", &v["target"].to_string());
        ws.put("patch.json", &v["patch"].to_string());
        let r = ws.run(&["merge", "target.json", "patch.json"]).ok();
        let got: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("vector {i}: {e}: {}", r.stdout));
        assert_eq!(got, v["result"], "vector {i}: {v}");
        assert!(r.stdout.ends_with('\n'));
    }
}

#[test]
fn mixed_formats_and_output_formats() {
    let ws = Ws::new();
    ws.put(
        "base.yaml",
        "server:\n  host: a\n  port: 80\nlist: [1, 2]\n",
    );
    ws.put("prod.toml", "list = [3]\n[server]\nport = 443\n");
    let r = ws.run(&["merge", "base.yaml", "prod.toml"]).ok();
    assert_eq!(
        r.stdout,
        "{\n  \"server\": {\n    \"host\": \"a\",\n    \"port\": 443\n  },\n  \"list\": [\n    3\n  ]\n}\n"
    );
    let r = ws
        .run(&["merge", "base.yaml", "prod.toml", "--to", "toml"])
        .ok();
    assert!(r.stdout.contains("port = 443"), "{}", r.stdout);
    let r = ws
        .run(&[
            "merge",
            "base.yaml",
            "prod.toml",
            "--arrays",
            "append",
            "--to",
            "yaml",
        ])
        .ok();
    let back: Value = serde_json::to_value(
        cargo_atomic::doc::parse(
            cargo_atomic::doc::Format::Yaml,
            r.stdout.as_bytes(),
            &Default::default(),
        )
        .unwrap()[0]
            .clone(),
    )
    .unwrap();
    assert_eq!(back["list"], serde_json::json!([1, 2, 3]));
}

#[test]
fn a_schema_error_in_the_result_is_reported_where_a_source_set_it() {
    let ws = Ws::new();
    ws.put("base.yaml", "server:\n  port: 80\n");
    ws.put("prod.toml", "[server]\nport = \"eighty\"\n");
    ws.put(
        "s.json",
        "{\"properties\": {\"server\": {\"properties\": {\"port\": {\"type\": \"integer\"}}}}}",
    );
    let r = ws
        .run(&[
            "merge",
            "base.yaml",
            "prod.toml",
            "--schema",
            "s.json",
            "--message-format",
            "short",
        ])
        .code(1);
    assert!(
        r.stdout.contains("prod.toml:2:8: error[schema]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .all(|l| l.contains(": error[") || l.contains(": note: ")),
        "an invalid result is not printed, only the finding: {}",
        r.stdout
    );
}

#[test]
fn output_is_written_atomically_with_a_backup_and_nothing_on_failure() {
    let ws = Ws::new();
    ws.put("a.json", "{\"x\": 1}");
    ws.put("b.json", "{\"y\": 2}");
    ws.put("out/r.json", "old\n");
    ws.run(&["merge", "a.json", "b.json", "-o", "out/r.json"])
        .ok();
    assert_eq!(ws.read("out/r.json"), "{\n  \"x\": 1,\n  \"y\": 2\n}\n");
    assert_eq!(
        ws.run(&["backups", "list", "--message-format", "json"])
            .ok()
            .records()
            .len(),
        1
    );
    ws.put("bad.json", "{\"x\": ");
    let before = ws.snapshot();
    ws.run(&["merge", "a.json", "bad.json", "-o", "out/r.json"])
        .code(1);
    assert_eq!(ws.snapshot(), before);
    let r = ws
        .run(&["merge", "a.json", "b.json", "-o", "../escape.json"])
        .code(2);
    assert!(r.stderr.contains("outside the workspace"), "{}", r.stderr);
}

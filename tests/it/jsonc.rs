//! JSON with comments and trailing commas (`tsconfig.json`, `.eslintrc`, `.vscode/*.json`) and
//! `[[validate]] format` for files whose names say nothing: read with exact spans.

use crate::support::*;

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "compilerOptions": {
      "type": "object",
      "properties": {"strict": {"type": "boolean"}, "target": {"type": "string"}}
    },
    "rules": {"type": "object", "additionalProperties": {"type": "integer"}}
  }
}
"#;

/// (code, line, column) of each diagnostic of `validate ARGS`.
fn found(ws: &Ws, args: &[&str]) -> (i32, Vec<(String, u64, u64)>) {
    let mut all = vec!["validate", "--message-format", "json"];
    all.extend_from_slice(args);
    let r = ws.run(&all);
    let diags = r
        .json()
        .iter()
        .filter(|l| l["reason"] == "diagnostic")
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_owned(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    (r.code, diags)
}

#[test]
fn a_tsconfig_with_comments_is_read_with_exact_spans() {
    let ws = Ws::new();
    ws.put("schemas/ts.json", SCHEMA);
    ws.put(
        "tsconfig.json",
        "{\n  // strict mode\n  \"compilerOptions\": {\n    /* the target */ \"target\": \"es2022\",\n    \"strict\": \"yes\",\n  },\n}\n",
    );
    let (code, diags) = found(&ws, &["tsconfig.json", "--schema", "schemas/ts.json"]);
    assert_eq!(code, 1);
    assert_eq!(diags, vec![("schema".to_owned(), 5, 15)]);
}

#[test]
fn comments_in_a_plain_json_file_are_still_a_parse_error() {
    let ws = Ws::new();
    ws.put("schemas/ts.json", SCHEMA);
    ws.put("package.json", "{\n  // no\n  \"a\": 1\n}\n");
    let (code, diags) = found(&ws, &["package.json", "--schema", "schemas/ts.json"]);
    assert_eq!(code, 1);
    assert_eq!(diags[0].0, "parse");
    assert_eq!(diags[0].1, 2);
}

#[test]
fn an_extensionless_file_takes_the_format_of_its_validate_entry() {
    let ws = Ws::new();
    ws.put("schemas/ts.json", SCHEMA);
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"conf/lintrc\"]\nschema = \"schemas/ts.json\"\nformat = \"jsonc\"\n\n\
         [[validate]]\nfiles = [\"conf/settings\"]\nschema = \"schemas/ts.json\"\nformat = \"yaml\"\n",
    );
    ws.put(
        "conf/lintrc",
        "{\n  \"rules\": {\n    \"semi\": 2, // error\n    \"quotes\": \"x\",\n  }\n}\n",
    );
    ws.put("conf/settings", "rules:\n  semi: 1\n  quotes: two\n");
    let (code, diags) = found(&ws, &[]);
    assert_eq!(code, 1, "{diags:?}");
    assert_eq!(
        diags,
        vec![("schema".to_owned(), 4, 15), ("schema".to_owned(), 3, 11)]
    );
    // Named on the command line, the entry's format still applies.
    let (code, diags) = found(&ws, &["conf/settings"]);
    assert_eq!((code, diags.len()), (1, 1));
}

#[test]
fn an_extensionless_file_with_no_format_is_unknown_with_the_fix() {
    let ws = Ws::new();
    ws.put("schemas/ts.json", SCHEMA);
    ws.put("conf/lintrc", "{}\n");
    let r = ws.run(&["validate", "conf/lintrc", "--schema", "schemas/ts.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("format = \"json\""), "{}", r.stderr);
}

#[test]
fn a_directory_argument_validates_the_files_under_it() {
    let ws = Ws::new();
    ws.put("schemas/ts.json", SCHEMA);
    ws.put(
        "web/tsconfig.json",
        "{\n  // ok\n  \"compilerOptions\": {\"strict\": 1},\n}\n",
    );
    ws.put("web/sub/b.json", "{\"rules\": {\"x\": \"y\"}}\n");
    ws.put("web/readme.md", "# not config\n");
    ws.put("web/.gitignore", "ignored.json\n");
    ws.put("web/ignored.json", "{ broken");
    // `.gitignore` counts in a git repository, as git has it.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(ws.root())
        .output()
        .unwrap();
    assert!(git.status.success());
    let (code, diags) = found(&ws, &["web", "--schema", "schemas/ts.json"]);
    assert_eq!(code, 1, "{diags:?}");
    assert_eq!(
        diags,
        vec![("schema".to_owned(), 1, 17), ("schema".to_owned(), 3, 33)]
    );
}

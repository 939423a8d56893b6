//! `doc::edit` on real files nobody here wrote (yaml-test-suite, toml-test, JSON-Schema-Test-
//! Suite, read in place): every value of every document is set, unset and given a new member.
//! Nothing may panic; each edit either returns a text that `doc::edit` has checked parses to
//! the edited value, or a refusal. The refusals are counted and bounded, so a regression that
//! turns exact edits into refusals fails too.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use cargo_atomic::doc::edit::{self, EditError, KeyPath};
use cargo_atomic::doc::{self, Format, Limits};
use serde_json::{Value, json};

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

fn files(dir: &Path, name: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, name, out);
        } else if name(&path) {
            out.push(path);
        }
    }
}

/// The token paths of every value below the root of `v`, at most `max`.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>, max: usize) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, x)| (k.clone(), x)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| (i.to_string(), x))
            .collect(),
        _ => return,
    };
    for (t, x) in children {
        if out.len() >= max {
            return;
        }
        at.push(t);
        out.push(at.clone());
        paths(x, at, out, max);
        at.pop();
    }
}

#[derive(Default, Debug)]
struct Tally {
    edits: usize,
    exact: usize,
    refused: usize,
    panics: Vec<String>,
}

fn sweep(format: Format, files: &[PathBuf], per_file: usize) -> Tally {
    let mut t = Tally::default();
    for path in files {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let Ok(docs) = doc::parse(format, text.as_bytes(), &Limits::default()) else {
            continue;
        };
        let [root] = docs.as_slice() else { continue };
        let mut all = Vec::new();
        paths(root, &mut Vec::new(), &mut all, per_file);
        let mut edits: Vec<(Vec<String>, Option<Value>)> = Vec::new();
        for p in &all {
            edits.push((p.clone(), Some(json!("edited"))));
            edits.push((p.clone(), Some(json!({"k": [1, "two"]}))));
            edits.push((p.clone(), None));
            if root
                .pointer(&KeyPath::from_tokens(p.clone()).unwrap().pointer())
                .is_some_and(Value::is_object)
            {
                let mut fresh = p.clone();
                fresh.push("added key".into());
                edits.push((fresh, Some(json!(7))));
            }
        }
        if root.is_object() {
            edits.push((vec!["added".into(), "deeper".into()], Some(json!(true))));
        }
        for (tokens, value) in edits {
            let key = KeyPath::from_tokens(tokens).unwrap();
            t.edits += 1;
            let run = catch_unwind(AssertUnwindSafe(|| match &value {
                Some(v) => edit::set(format, &text, &key, v),
                None => edit::unset(format, &text, &key),
            }));
            match run {
                Ok(Ok(_)) => t.exact += 1,
                Ok(Err(EditError::Unsupported(why))) => {
                    t.refused += 1;
                    if std::env::var_os("SHOW_REFUSALS").is_some() {
                        eprintln!("REFUSAL {}: {key}: {why}", path.display());
                    }
                }
                Ok(Err(EditError::NotContainer { .. })) => t.refused += 1,
                Ok(Err(e)) => panic!("{}: {key}: unexpected {e:?}", path.display()),
                Err(_) => t.panics.push(format!("{}: {key}", path.display())),
            }
        }
    }
    t
}

#[test]
fn yaml_test_suite_edits_never_panic() {
    if crate::support::skip_without_corpus("yaml-test-suite") {
        return;
    }
    let mut all = Vec::new();
    files(
        &Path::new(CORPORA).join("yaml-test-suite"),
        &|p| p.file_name().is_some_and(|n| n == "in.yaml"),
        &mut all,
    );
    all.sort();
    let t = sweep(Format::Yaml, &all, 40);
    eprintln!("yaml-test-suite: {t:?}");
    assert!(t.panics.is_empty(), "{:#?}", t.panics);
    assert!(t.edits > 2_000, "{t:?}");
    // Measured: 423 of 2304 edits (18%) are refused. The suite is made of the corners of YAML
    // (anchors and aliases, complex keys, implicit flow keys), where a refusal is the answer.
    assert!(t.refused * 2 < t.edits, "{t:?}");
}

#[test]
fn toml_test_edits_never_panic() {
    if crate::support::skip_without_corpus("toml-test") {
        return;
    }
    let suite = Path::new(CORPORA).join("toml-test/tests");
    let list = fs::read_to_string(suite.join("files-toml-1.0.0")).unwrap();
    let all: Vec<PathBuf> = list
        .lines()
        .filter(|l| l.starts_with("valid/") && l.ends_with(".toml"))
        .map(|l| suite.join(l))
        .collect();
    let t = sweep(Format::Toml, &all, 40);
    eprintln!("toml-test: {t:?}");
    assert!(t.panics.is_empty(), "{:#?}", t.panics);
    assert!(t.edits > 2_000, "{t:?}");
    // Measured: 38 of 4387 (0.9%), all a non-table set into an array of tables (`[[a]]`).
    assert!(t.refused * 10 < t.edits, "{t:?}");
}

#[test]
fn json_schema_test_suite_edits_never_panic_nor_refuse() {
    if crate::support::skip_without_corpus("JSON-Schema-Test-Suite") {
        return;
    }
    let mut all = Vec::new();
    files(
        &Path::new(CORPORA).join("JSON-Schema-Test-Suite/tests/draft2020-12"),
        &|p| p.extension().is_some_and(|e| e == "json"),
        &mut all,
    );
    all.sort();
    let t = sweep(Format::Json, &all, 25);
    eprintln!("JSON-Schema-Test-Suite: {t:?}");
    assert!(t.panics.is_empty(), "{:#?}", t.panics);
    assert!(t.edits > 3_000, "{t:?}");
    assert_eq!(t.refused, 0, "{t:?}");
}

/// Story: `image: nginx:1.27` set to `nginx:1.28` became `"nginx:1.28"`, and a key added to a
/// one-line JSON object spread it over lines. Each case: the text, the key, the new value, and
/// the value's bytes before and after; the edit must change those bytes and nothing else.
#[test]
fn quoting_cases_change_only_the_value_bytes() {
    use Format::{Json, Yaml};
    let cases: &[(Format, &str, &str, Value, &str, &str)] = &[
        // Plain stays plain when it reads back the same, in YAML 1.2 and 1.1 readers.
        (
            Yaml,
            "image: nginx:1.27  # pinned\nport: 80\n",
            "image",
            json!("nginx:1.28"),
            "nginx:1.27",
            "nginx:1.28",
        ),
        (
            Yaml,
            "bind: 0.0.0.0\n",
            "bind",
            json!("127.0.0.1"),
            "0.0.0.0",
            "127.0.0.1",
        ),
        (
            Yaml,
            "s:\n  - name: web\n    url: http://a/x\n",
            "s.0.url",
            json!("https://b/y?q=1"),
            "http://a/x",
            "https://b/y?q=1",
        ),
        (
            Yaml,
            "tag: v1\n",
            "tag",
            json!("v1.2.3-rc.1"),
            "v1",
            "v1.2.3-rc.1",
        ),
        // ...and is quoted when a reader would take it for something else.
        (
            Yaml,
            "version: v1\n",
            "version",
            json!("1.28"),
            "v1",
            "\"1.28\"",
        ),
        (Yaml, "mode: fast\n", "mode", json!("on"), "fast", "\"on\""),
        (
            Yaml,
            "when: later\n",
            "when",
            json!("2026-12-07"),
            "later",
            "\"2026-12-07\"",
        ),
        (Yaml, "t: a\n", "t", json!("1:30"), "a", "\"1:30\""),
        (Yaml, "n: a\n", "n", json!("0x1F"), "a", "\"0x1F\""),
        (Yaml, "k: a\n", "k", json!("a: b"), "a", "\"a: b\""),
        (Yaml, "k: a\n", "k", json!("x #y"), "a", "\"x #y\""),
        (Yaml, "k: a\n", "k", json!(""), "a", "\"\""),
        // Quoted stays quoted, in its own style.
        (
            Yaml,
            "name: 'web'\n",
            "name",
            json!("it's"),
            "'web'",
            "'it''s'",
        ),
        (
            Yaml,
            "name: \"web\"\n",
            "name",
            json!("api"),
            "\"web\"",
            "\"api\"",
        ),
        // A number replacing a plain string is a number.
        (Yaml, "port: eighty\n", "port", json!(80), "eighty", "80"),
        // In a flow collection, plain only as strictly as before.
        (
            Yaml,
            "tags: [a, b]\n",
            "tags.1",
            json!("c:d"),
            "b",
            "\"c:d\"",
        ),
        // JSON: a member added to a one-line object stays on that line.
        (
            Json,
            "{\n  \"a\": {\"x\": 1},\n  \"b\": 2\n}\n",
            "a.y",
            json!(2),
            "{\"x\": 1}",
            "{\"x\": 1, \"y\": 2}",
        ),
        (
            Json,
            "{\n  \"a\": {\"x\": 1},\n  \"b\": 2\n}\n",
            "a.y",
            json!({"z": [1]}),
            "{\"x\": 1}",
            "{\"x\": 1, \"y\": {\"z\": [1]}}",
        ),
        (
            Json,
            "{\n  \"a\": {},\n  \"b\": 2\n}\n",
            "a.y",
            json!(1),
            "{}",
            "{\"y\": 1}",
        ),
        (
            Json,
            "{\n  \"a\": { \"x\": 1 },\n  \"b\": 2\n}\n",
            "a.y",
            json!(2),
            "{ \"x\": 1 }",
            "{ \"x\": 1, \"y\": 2 }",
        ),
        (
            Json,
            "{\"a\": {\"x\": 1}}\n",
            "a.y",
            json!(2),
            "{\"x\": 1}",
            "{\"x\": 1, \"y\": 2}",
        ),
        (
            Json,
            "{\n  \"a\": {\"x\": 1},\n  \"b\": 2\n}\n",
            "a.x",
            json!({"k": 1}),
            "{\"x\": 1}",
            "{\"x\": {\"k\": 1}}",
        ),
    ];
    let mut failures = Vec::new();
    for (format, text, key, value, old, new) in cases {
        let expected = text.replacen(old, new, 1);
        let key = KeyPath::parse(key).unwrap();
        match edit::set(*format, text, &key, value) {
            Ok(after) if after == expected => {}
            Ok(after) => failures.push(format!(
                "{key} = {value}:\n{text}---\n{after}---expected\n{expected}"
            )),
            Err(e) => failures.push(format!("{key} = {value}: refused: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

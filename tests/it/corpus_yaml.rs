//! yaml-test-suite (`../shared/corpora/yaml-test-suite`, read in place) through
//! `doc::parse(Format::Yaml, …)` and `doc::index`: a case with `in.json` must parse to exactly
//! those documents (key order included), a case with `error` must be refused, and nothing may
//! panic. Known gaps are listed, with a reason, in `tests/known-failures/yaml-test-suite.txt`;
//! the test fails on any other failure and on any listed case that now passes.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use cargo_atomic::doc::{self, Format, Limits};
use serde_json::Value;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpora/yaml-test-suite"
);
const KNOWN: &str = include_str!("../known-failures/yaml-test-suite.txt");

/// Every case: its id (`2JQS`, or `SM9W/00` for numbered sub-cases) and folder.
fn cases() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(SUITE)
        .unwrap_or_else(|e| panic!("{SUITE}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.join("in.yaml").is_file() {
            out.push((id, dir));
            continue;
        }
        let mut subs: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("in.yaml").is_file())
            .collect();
        subs.sort();
        for sub in subs {
            let n = sub.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("{id}/{n}"), sub));
        }
    }
    assert!(out.len() > 300, "the suite is there: {} cases", out.len());
    out
}

/// The documents `in.json` holds: JSON texts one after another.
fn expected(dir: &Path) -> Option<Vec<Value>> {
    let text = fs::read_to_string(dir.join("in.json")).ok()?;
    let docs = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    Some(
        docs.collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    )
}

/// Equal as JSON documents: numbers by value (`1` = `1.0`), objects in the same key order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

/// A problem message as STYLE.md wants it: one line, lower-case first, no trailing period.
fn one_line_lower_case(message: &str) -> bool {
    !message.is_empty()
        && !message.contains('\n')
        && !message.ends_with('.')
        && !message.starts_with(char::is_uppercase)
}

fn known() -> BTreeMap<String, String> {
    KNOWN
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, reason) = l.split_once('#').unwrap_or((l, ""));
            (id.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

/// What is wrong with one case, if anything.
fn check(dir: &Path) -> Option<String> {
    let yaml = fs::read(dir.join("in.yaml")).unwrap();
    let parsed = doc::parse(Format::Yaml, &yaml, &Limits::default());
    if dir.join("error").exists() {
        return match parsed {
            Ok(v) => Some(format!("accepted invalid YAML as {v:?}")),
            Err(p) if p.span.is_none() => Some(format!("problem without a place: {p:?}")),
            Err(p) if !one_line_lower_case(&p.message) => Some(format!("message style: {p:?}")),
            Err(_) => None,
        };
    }
    let values = match (parsed, expected(dir)) {
        (Err(p), Some(_)) => return Some(format!("refused: {p:?}")),
        (Err(_), None) => return None,
        (Ok(values), Some(want)) => {
            if values.len() != want.len() || !values.iter().zip(&want).all(|(a, b)| same(a, b)) {
                return Some(format!("got {values:?}, want {want:?}"));
            }
            values
        }
        (Ok(values), None) => values,
    };
    let text = std::str::from_utf8(&yaml).unwrap();
    let ix = doc::index(Format::Yaml, text);
    if ix.len() != values.len() {
        return Some(format!(
            "{} documents indexed, {} parsed",
            ix.len(),
            values.len()
        ));
    }
    if let Some(i) = ix.iter().position(|d| d.get("").is_none()) {
        return Some(format!("document {i}: root not indexed"));
    }
    None
}

#[test]
fn yaml_test_suite() {
    if crate::support::skip_without_corpus("yaml-test-suite") {
        return;
    }
    let known = known();
    let mut passed = 0;
    let mut known_failed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let cases = cases();
    for (id, dir) in &cases {
        let failure = check(dir);
        match (failure, known.get(id)) {
            (None, None) => passed += 1,
            (None, Some(_)) => fixed.push(id.clone()),
            (Some(_), Some(reason)) => known_failed.entry(reason).or_default().push(id),
            (Some(why), None) => unexpected.push(format!("{id}: {why}")),
        }
    }
    for id in known.keys() {
        assert!(
            cases.iter().any(|(c, _)| c == id),
            "listed case {id} is not in the suite"
        );
    }
    let listed: usize = known_failed.values().map(Vec::len).sum();
    eprintln!(
        "yaml-test-suite: {} cases, {passed} pass, {listed} known failures",
        cases.len()
    );
    for (reason, ids) in &known_failed {
        eprintln!("  {:3} {reason}: {}", ids.len(), ids.join(" "));
    }
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "unlisted failures:\n{}\nlisted as failing but now pass (remove them): {fixed:?}",
        unexpected.join("\n")
    );
}

/// parse() and index() on every input of the suite, valid or not, and on every prefix of some:
/// a result or a problem, never a panic. index() is meant for texts that parse() accepted, but
/// is run on every text here: a partial index is fine, a panic is not.
#[test]
fn no_yaml_input_panics() {
    if crate::support::skip_without_corpus("yaml-test-suite") {
        return;
    }
    let mut panics = Vec::new();
    let mut try_text = |label: String, bytes: &[u8]| {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let parsed = doc::parse(Format::Yaml, bytes, &Limits::default());
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    let ix = doc::index(Format::Yaml, text);
                    if let Ok(values) = parsed {
                        assert_eq!(ix.len(), values.len(), "one index per document");
                    }
                }
                Err(_) => assert!(parsed.is_err(), "parse accepts only UTF-8"),
            }
        }));
        if outcome.is_err() {
            panics.push(label);
        }
    };
    let cases = cases();
    let mut prefixes = 0;
    for (n, (id, dir)) in cases.iter().enumerate() {
        let yaml = fs::read(dir.join("in.yaml")).unwrap();
        try_text(id.clone(), &yaml);
        if n % 4 == 0 {
            for cut in 0..yaml.len() {
                prefixes += 1;
                try_text(format!("{id}[..{cut}]"), &yaml[..cut]);
            }
        }
    }
    eprintln!("{} inputs and {prefixes} prefixes", cases.len());
    assert!(panics.is_empty(), "panicked on: {panics:?}");
}

//! The YAML tape builder against serde-saphyr over the yaml-test-suite (whole texts, every
//! line-cut prefix, tight limits): wherever the builder gives tapes, they hold exactly the
//! documents `doc::parse` gives (key order and number types included), and wherever `parse`
//! refuses, the builder gives up. The same over hand-written and generated texts is the unit
//! test `doc/yaml/tape_tests.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use cargo_atomic::doc::{self, Format, Limits};
use serde_json::Value;

use crate::support::{CORPORA, skip_without_corpus};

#[derive(Debug, Default)]
struct Tally {
    compared: usize,
    fell_back: usize,
    refused: usize,
}

/// Exact JSON text of the documents: key order and `1` vs `1.0` count.
fn exact(values: &[Value]) -> String {
    serde_json::to_string(values).unwrap()
}

fn check(text: &str, limits: &Limits, tally: &mut Tally) {
    let old = doc::parse(Format::Yaml, text.as_bytes(), limits);
    let new = doc::yaml_builder_only(text, limits);
    match (old, new) {
        (Ok(values), Some(tapes)) => {
            let got: Vec<Value> = tapes.iter().map(|t| t.to_value()).collect();
            assert_eq!(
                exact(&got),
                exact(&values),
                "{text:?} with {limits:?}: the tape differs from the value"
            );
            tally.compared += 1;
        }
        (Err(p), Some(tapes)) => {
            let got: Vec<Value> = tapes.iter().map(|t| t.to_value()).collect();
            panic!(
                "{text:?} with {limits:?}: the builder gave {} where parse refuses: {p:?}",
                exact(&got)
            );
        }
        (Ok(_), None) => tally.fell_back += 1,
        (Err(_), None) => tally.refused += 1,
    }
}

/// Every `in.yaml` of the suite, sub-cases included.
fn suite_texts() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n == "in.yaml")
                && let Ok(text) = fs::read_to_string(&path)
            {
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(CORPORA).join("yaml-test-suite"), &mut out);
    assert!(out.len() > 300, "the suite is there: {} texts", out.len());
    out
}

fn tight_limits() -> Vec<Limits> {
    let mut out = Vec::new();
    for max_depth in [1, 2, 3, 4, 8] {
        for max_nodes in [1, 2, 5, 10, 20, 40] {
            out.push(Limits {
                max_depth,
                max_nodes,
                ..Limits::default()
            });
        }
    }
    out
}

#[test]
fn the_builder_agrees_with_parse_over_the_yaml_test_suite() {
    if skip_without_corpus("yaml-test-suite") {
        return;
    }
    let mut whole = Tally::default();
    let mut cut = Tally::default();
    for (_, text) in suite_texts() {
        check(&text, &Limits::default(), &mut whole);
        // Every prefix that ends a line: unterminated structures, dangling aliases.
        for (i, _) in text.match_indices('\n') {
            check(&text[..i], &Limits::default(), &mut cut);
        }
    }
    eprintln!("yaml-test-suite, whole texts: {whole:?}; line-cut prefixes: {cut:?}");
    assert!(
        whole.compared > 150,
        "the builder takes the common cases itself: {whole:?}"
    );
}

#[test]
fn the_builder_refuses_where_tight_limits_refuse() {
    if skip_without_corpus("yaml-test-suite") {
        return;
    }
    let mut tally = Tally::default();
    for (_, text) in suite_texts() {
        for limits in tight_limits() {
            check(&text, &limits, &mut tally);
        }
    }
    eprintln!("yaml-test-suite under tight limits: {tally:?}");
    assert!(
        tally.compared > 0,
        "some texts fit the tight limits: {tally:?}"
    );
}

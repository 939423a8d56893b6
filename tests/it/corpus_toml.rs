//! toml-test (toml-lang/toml-test), read in place: every case that applies to TOML 1.0 through
//! the public `doc::parse`. Valid cases must parse to their tagged JSON expectation; invalid
//! cases must be refused. A case that fails is allowed only when
//! `tests/known-failures/toml-test.txt` lists it with a reason, and a listed case that passes
//! fails the test too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use cargo_atomic::doc::{self, Format, Limits};
use serde_json::Value;

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/toml-test");
const KNOWN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/known-failures/toml-test.txt"
);

#[test]
fn toml_test_suite_for_toml_1_0() {
    if crate::support::skip_without_corpus("toml-test") {
        return;
    }
    let suite = Path::new(SUITE).join("tests");
    let list = fs::read_to_string(suite.join("files-toml-1.0.0")).expect("toml-test file list");
    let known = known_failures();

    let (mut valid, mut invalid) = (0, 0);
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for case in list.lines().filter(|l| l.ends_with(".toml")) {
        let bytes = fs::read(suite.join(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
        let parsed = doc::parse(Format::Toml, &bytes, &Limits::default());
        let outcome = if case.starts_with("valid/") {
            let expected_path = suite.join(case).with_extension("json");
            let expected: Value = serde_json::from_slice(
                &fs::read(&expected_path).unwrap_or_else(|e| panic!("{case}: {e}")),
            )
            .unwrap_or_else(|e| panic!("{case}: expectation: {e}"));
            match parsed {
                Ok(docs) if docs.len() == 1 => same(&expected, &docs[0], ""),
                Ok(docs) => Err(format!("{} documents", docs.len())),
                Err(p) => Err(format!("refused: {} ({:?})", p.message, p.code)),
            }
            .map(|()| valid += 1)
        } else {
            match parsed {
                Err(_) => {
                    invalid += 1;
                    Ok(())
                }
                Ok(docs) => Err(format!("accepted as {}", docs[0])),
            }
        };
        if let Err(why) = outcome {
            failures.insert(case.to_owned(), why);
        }
    }

    let unexpected: Vec<String> = failures
        .iter()
        .filter(|(case, _)| !known.contains_key(*case))
        .map(|(case, why)| format!("  {case}: {why}"))
        .collect();
    let listed: BTreeSet<&str> = list.lines().collect();
    let stale: Vec<String> = known
        .keys()
        .filter(|case| !failures.contains_key(*case))
        .map(|case| {
            let why = if listed.contains(case.as_str()) {
                "passes now"
            } else {
                "is not a TOML 1.0 case"
            };
            format!("  {case} {why}: remove it from the known failures")
        })
        .collect();
    println!(
        "toml-test: {valid} valid passed, {invalid} invalid rejected, {} known failures",
        failures.len() - unexpected.len()
    );
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "toml-test:\n{}\n{}",
        unexpected.join("\n"),
        stale.join("\n")
    );
}

/// `case # reason` per line; `#` lines and blank lines are comments.
fn known_failures() -> BTreeMap<String, String> {
    let text = fs::read_to_string(KNOWN).expect("known failures file");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (case, reason) = l
                .split_once('#')
                .expect("every known failure has a # reason");
            (case.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

/// Whether `actual` is the value that the tagged JSON `expected` describes: tables and arrays
/// as JSON objects and arrays, scalars as `{"type": ..., "value": "..."}`.
fn same(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    let differ = || Err(format!("at {at:?}: expected {expected}, got {actual}"));
    match expected {
        Value::Object(tagged)
            if tagged.len() == 2
                && tagged.get("type").is_some_and(Value::is_string)
                && tagged.get("value").is_some_and(Value::is_string) =>
        {
            let kind = tagged["type"].as_str().unwrap_or_default();
            let text = tagged["value"].as_str().unwrap_or_default();
            let ok = match kind {
                "string" => actual.as_str() == Some(text),
                "integer" => text.parse::<i64>().ok() == actual.as_i64() && actual.is_i64(),
                "float" => actual.is_f64() && same_float(text, actual.as_f64()),
                "bool" => actual.as_bool().map(|b| b.to_string()).as_deref() == Some(text),
                "datetime" | "datetime-local" | "date-local" | "time-local" => actual
                    .as_str()
                    .is_some_and(|s| normal_datetime(s) == normal_datetime(text)),
                _ => false,
            };
            if ok { Ok(()) } else { differ() }
        }
        Value::Object(table) => {
            let Some(actual) = actual.as_object() else {
                return differ();
            };
            let keys: BTreeSet<&String> = table.keys().collect();
            if keys != actual.keys().collect() {
                return differ();
            }
            for (k, v) in table {
                same(v, &actual[k], &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let Some(actual) = actual.as_array().filter(|a| a.len() == items.len()) else {
                return differ();
            };
            for (i, (e, a)) in items.iter().zip(actual).enumerate() {
                same(e, a, &format!("{at}/{i}"))?;
            }
            Ok(())
        }
        _ => differ(),
    }
}

/// Floats by value, with toml-test's spellings of NaN and the infinities.
fn same_float(expected: &str, actual: Option<f64>) -> bool {
    let expected = match expected {
        "nan" | "+nan" | "-nan" => f64::NAN,
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        text => match text.parse() {
            Ok(f) => f,
            Err(_) => return false,
        },
    };
    actual.is_some_and(|a| {
        (a.is_nan() && expected.is_nan())
            || (a == expected && a.is_sign_negative() == expected.is_sign_negative())
    })
}

/// A date-time's text up to spelling: `T` and `Z` upper-case, and trailing zeros of the
/// fraction of a second dropped (`.600` is `.6`).
fn normal_datetime(text: &str) -> String {
    let text = text.to_ascii_uppercase().replacen(' ', "T", 1);
    let Some(dot) = text.find('.') else {
        return text;
    };
    let digits = text[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let fraction = text[dot + 1..dot + 1 + digits].trim_end_matches('0');
    let rest = &text[dot + 1 + digits..];
    if fraction.is_empty() {
        format!("{}{rest}", &text[..dot])
    } else {
        format!("{}.{fraction}{rest}", &text[..dot])
    }
}

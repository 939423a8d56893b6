use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{Tape, TapeJson};
use crate::doc::json::{parse, parse_tape};
use crate::doc::{Format, Limits, parse_tapes};

fn sample() -> Value {
    json!({
        "name": "svc",
        "escaped": "tab\there \"quoted\" \u{e9}\u{1F980}",
        "numbers": [0, 1, -1, 18446744073709551615u64, -9223372036854775808i64, 1.5, -0.0, 1e300],
        "flags": [true, false, null],
        "empty": {"object": {}, "array": []},
        "nested": [[{"a": [1, {"b": {"c": "d"}}]}]],
        "": "an empty key",
        "z": 1, "a": 2
    })
}

#[test]
fn a_value_round_trips_through_a_tape_with_key_order_kept() {
    let value = sample();
    let tape = Tape::from_value(&value);
    assert!(tape.is_complete());
    let back = tape.to_value();
    assert_eq!(back, value);
    let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
    let expected: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, expected);
}

#[test]
fn nodes_read_members_items_and_scalars() {
    let value = sample();
    let tape = Tape::from_value(&value);
    let root = tape.root().unwrap();
    let object = root.as_object().unwrap();
    assert_eq!(object.len(), 9);
    assert_eq!(root.get("name").unwrap().as_str(), Some("svc"));
    assert_eq!(root.get("missing").map(|n| n.index()), None);
    let numbers = root.get("numbers").unwrap().as_array().unwrap();
    assert_eq!(numbers.len(), 8);
    let got: Vec<Value> = numbers.items().map(|n| n.to_value()).collect();
    assert_eq!(Value::Array(got), value["numbers"]);
    let deep = root
        .get("nested")
        .unwrap()
        .as_array()
        .unwrap()
        .items()
        .next();
    assert_eq!(deep.unwrap().to_value(), value["nested"][0]);
    // Members skip whole subtrees: the key after a nested value is still found.
    assert_eq!(root.get("a").unwrap().as_number(), Some(2.into()));
}

#[test]
fn an_empty_tape_has_no_root_and_is_null() {
    let tape = Tape::new("");
    assert!(tape.root().is_none());
    assert_eq!(tape.to_value(), Value::Null);
}

#[test]
fn an_unclosed_container_is_no_document() {
    let mut tape = Tape::new("");
    tape.open_object();
    tape.push_key("a");
    tape.push_null();
    assert!(!tape.is_complete());
    assert!(tape.root().is_none());
    tape.close();
    assert_eq!(tape.to_value(), json!({"a": null}));
}

#[test]
fn duplicate_keys_are_found_in_small_and_large_objects() {
    for n in [2usize, 8, 15, 16, 17, 100] {
        let mut tape = Tape::new("");
        tape.open_object();
        for i in 0..n {
            tape.push_key(&format!("k{i}"));
            tape.push_null();
        }
        tape.push_key("k1");
        tape.push_null();
        tape.close();
        assert!(tape.has_duplicate_key(0), "{n} keys");
        let root = tape.root().unwrap();
        assert_eq!(root.as_object().unwrap().duplicate(), Some("k1"));
    }
    let tape = Tape::from_value(&sample());
    assert!(!tape.has_duplicate_key(0));
}

#[test]
fn json_strings_without_escapes_are_borrowed_from_the_text() {
    let text = r#"{"plain": "value", "esc\naped": "a\tb"}"#;
    let tape = parse_tape(text, &Limits::default()).unwrap();
    // Only the two escaped strings are copied.
    assert_eq!(tape.strings, "esc\napeda\tb");
    assert_eq!(
        tape.to_value(),
        json!({"plain": "value", "esc\naped": "a\tb"})
    );
}

#[test]
fn json_on_a_tape_equals_json_as_a_value() {
    let texts = [
        "\u{feff}{\"bom\": true}",
        "[]",
        "{}",
        "0",
        "-0",
        "-0.0",
        "1.0",
        "1e2",
        "12345678901234567890",
        "123456789012345678901234567890",
        "-9223372036854775809",
        "\"\\ud83e\\udd80 \\u00e9\"",
        r#"{"a": {"b": [1, 2, {"c": null}]}, "d": "e"}"#,
    ];
    for text in texts {
        let value = parse(text, &Limits::default()).unwrap();
        let tape = parse_tape(text, &Limits::default()).unwrap();
        assert_eq!(tape.to_value(), value, "{text}");
    }
}

#[test]
fn json_refused_on_a_tape_reports_the_same_problem_as_a_value() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    for text in [
        r#"{"a": 1, "b": 2, "a": 3}"#,
        r#"{"x": {"k": 1, "k": 1}}"#,
        "[[[[1]]]]",
        r#"{"a": 1,}"#,
        "[1, 2",
        "",
        "nul",
        "1e999",
    ] {
        let value = parse(text, &limits).unwrap_err();
        let tape = parse_tape(text, &limits).unwrap_err();
        assert_eq!(tape, value, "{text}");
    }
}

#[test]
fn every_format_parses_onto_tapes_as_it_parses_into_values() {
    let limits = Limits::default();
    let cases = [
        (Format::Json, "{\"a\": [1, 2]}"),
        (Format::Yaml, "a: [1, 2]\n---\nb: c\n"),
        (Format::Yaml, "# only a comment\n"),
        (Format::Toml, "a = [1, 2]\n[t]\nd = 1979-05-27T07:32:00Z\n"),
    ];
    for (format, text) in cases {
        let values = crate::doc::parse(format, text.as_bytes(), &limits).unwrap();
        let tapes = parse_tapes(format, text.as_bytes(), &limits).unwrap();
        let back: Vec<Value> = tapes.iter().map(Tape::to_value).collect();
        assert_eq!(back, values, "{text}");
    }
}

#[test]
fn the_tape_meets_the_validator_librarys_contract() {
    let tape = Tape::from_value(&jsonschema::json::conformance::document());
    jsonschema::json::conformance::assert_conformance::<TapeJson>(&tape.root().unwrap());
}

/// Arbitrary JSON with every kind of number and string.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[a-c\"\\\\\n]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-e\"]{0,2}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_json_text_reads_the_same_on_a_tape(value in json()) {
        for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
            let tape = parse_tape(&text, &Limits::default()).unwrap();
            prop_assert_eq!(tape.to_value(), parse(&text, &Limits::default()).unwrap());
            prop_assert_eq!(Tape::from_value(&value).to_value(), value.clone());
        }
    }
}

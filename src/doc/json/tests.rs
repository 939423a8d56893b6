use serde_json::json;

use super::*;
use crate::doc::{Located, Pos, Span};

fn ok(text: &str) -> Value {
    parse(text, &Limits::default()).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
}

fn err(text: &str) -> Problem {
    match parse(text, &Limits::default()) {
        Ok(v) => panic!("{text:?} parsed as {v}"),
        Err(p) => p,
    }
}

/// `text` fails with `code`, `message`, and a span starting at `line:column`.
fn check_err(text: &str, code: Code, message: &str, line: u32, column: u32) {
    let p = err(text);
    let shown: String = text.chars().take(40).collect();
    assert_eq!((p.code, p.message.as_str()), (code, message), "{shown:?}");
    assert_eq!(
        p.span.map(|s| s.start),
        Some(Pos { line, column }),
        "{shown:?}: {p:?}"
    );
}

#[test]
fn values_parse_with_key_order_kept() {
    let text = r#"{"z": 1, "a": [true, null, -2, 1.5, 1e400000000000000000000],
                  "m": {"y": "é\u00e9", "b": {}}, "big": 18446744073709551615}"#;
    // 1e400000000000000000000 is out of range for serde_json too: drop it from the check.
    let text = text.replace(", 1e400000000000000000000", "");
    let v = ok(&text);
    assert_eq!(
        v,
        json!({"z": 1, "a": [true, null, -2, 1.5], "m": {"y": "éé", "b": {}}, "big": 18446744073709551615u64})
    );
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"z":1,"a":[true,null,-2,1.5],"m":{"y":"éé","b":{}},"big":18446744073709551615}"#,
        "keys stay in document order"
    );
    assert_eq!(ok(" 7 "), json!(7));
    assert_eq!(
        ok("\u{feff}{\"a\": 1}"),
        json!({"a": 1}),
        "a byte order mark is ignored"
    );
}

#[test]
fn a_duplicate_key_names_both_places() {
    let text = "{\n  \"a\": 1,\n  \"b\": {\"a\": 2},\n  \"a\": 3\n}";
    let p = err(text);
    assert_eq!(p.code, Code::DuplicateKey);
    assert_eq!(p.message, "duplicate key `a`");
    assert_eq!(
        p.span,
        Some(Span::new(4, 3, 4, 6)),
        "the second `a`, with its quotes"
    );
    assert_eq!(
        p.related,
        Some((Span::new(2, 3, 2, 6), "first defined here".to_owned()))
    );
}

#[test]
fn a_duplicate_is_found_through_escapes_and_nesting() {
    // "\u0061" is "a": the same key spelled differently.
    let p = err("[0, {\"x\": {\"a\": 1, \"\\u0061\": 2}}]");
    assert_eq!(p.code, Code::DuplicateKey);
    assert_eq!(p.message, "duplicate key `a`");
    assert_eq!(p.span, Some(Span::new(1, 20, 1, 28)));
    assert_eq!(p.related.map(|r| r.0), Some(Span::new(1, 12, 1, 15)));
    // The same key in two objects is no duplicate.
    assert_eq!(ok(r#"[{"a":1},{"a":2}]"#), json!([{"a": 1}, {"a": 2}]));
}

#[test]
fn nesting_past_the_limit_is_a_limit_problem_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    check_err(&deep, Code::Limit, "nesting deeper than 128 levels", 1, 129);
    let objects = "{\"a\":".repeat(100_000);
    check_err(
        &objects,
        Code::Limit,
        "nesting deeper than 128 levels",
        1,
        5 * 128 + 1,
    );

    let at_limit = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert!(
        parse(&at_limit, &Limits::default()).is_ok(),
        "128 levels are allowed"
    );
    let over = format!("{}{}", "[".repeat(129), "]".repeat(129));
    check_err(&over, Code::Limit, "nesting deeper than 128 levels", 1, 129);

    let tight = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(parse("[[1]]", &tight).is_ok());
    let p = parse("{\"a\": [{}]}", &tight).unwrap_err();
    assert_eq!(p.code, Code::Limit);
    assert_eq!(p.message, "nesting deeper than 2 levels");
}

#[test]
fn a_huge_configured_depth_is_capped_to_keep_the_stack_safe() {
    let unbounded = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let p = parse(&"[".repeat(100_000), &unbounded).unwrap_err();
    assert_eq!(p.code, Code::Limit);
    assert_eq!(p.message, format!("nesting deeper than {DEPTH_CAP} levels"));
    // Up to the cap, in this thread's stack (2 MiB, unoptimized): arrays and objects.
    let arrays = format!("{}{}", "[".repeat(DEPTH_CAP), "]".repeat(DEPTH_CAP));
    assert!(parse(&arrays, &unbounded).is_ok());
    let objects = format!(
        "{}1{}",
        "{\"a\":".repeat(DEPTH_CAP - 1),
        "}".repeat(DEPTH_CAP - 1)
    );
    assert!(parse(&objects, &unbounded).is_ok());
}

#[test]
fn syntax_errors_are_located_in_characters() {
    check_err("{\"é\": tru}", Code::Parse, "expected ident", 1, 10);
    check_err("{\n  \"a\": 1,\n}", Code::Parse, "trailing comma", 3, 1);
    check_err("[1] x", Code::Parse, "trailing characters", 1, 5);
    check_err("{\"a\" 1}", Code::Parse, "expected `:`", 1, 6);
    check_err("[1e999]", Code::Parse, "number out of range", 1, 6);
}

#[test]
fn empty_input_nul_bytes_and_truncation_are_parse_problems() {
    check_err(
        "",
        Code::Parse,
        "unexpected end of input while parsing a value",
        1,
        1,
    );
    check_err(
        "  \n ",
        Code::Parse,
        "unexpected end of input while parsing a value",
        2,
        2,
    );
    check_err("\0", Code::Parse, "expected value", 1, 1);
    check_err(
        "[\"a\0\"]",
        Code::Parse,
        "control character (\\u0000-\\u001F) found while parsing a string",
        1,
        4,
    );
    check_err(
        "{\"a\": [1,\n",
        Code::Parse,
        "unexpected end of input while parsing a value",
        2,
        1,
    );
    let p = err("\u{feff}[1,]");
    assert_eq!(
        p.span.map(|s| s.start),
        Some(Pos { line: 1, column: 5 }),
        "the BOM is a column"
    );
}

/// Index `text` and look up `pointer`.
fn at(text: &str, pointer: &str) -> Located {
    let ix = index(text);
    *ix.get(pointer)
        .unwrap_or_else(|| panic!("{pointer:?} not indexed in {text:?}"))
}

#[test]
fn index_spans_nested_objects_exactly() {
    let text = "{\n  \"server\": {\"port\": 8080,\n    \"host\": \"h\"},\n  \"x\": null\n}\n";
    assert_eq!(
        at(text, ""),
        Located {
            value: Span::new(1, 1, 5, 2),
            key: None
        }
    );
    assert_eq!(
        at(text, "/server"),
        Located {
            value: Span::new(2, 13, 3, 17),
            key: Some(Span::new(2, 3, 2, 11)),
        }
    );
    assert_eq!(
        at(text, "/server/port"),
        Located {
            value: Span::new(2, 22, 2, 26),
            key: Some(Span::new(2, 14, 2, 20)),
        }
    );
    assert_eq!(
        at(text, "/server/host").value,
        Span::new(3, 13, 3, 16),
        "quotes included"
    );
    assert_eq!(at(text, "/x").value, Span::new(4, 8, 4, 12));
    assert_eq!(index(text).len(), 5);
}

#[test]
fn index_spans_arrays_of_objects() {
    let text = r#"{"items": [{"id": 1}, {"id": [2, {}], "e": []}], "k": 0}"#;
    assert_eq!(at(text, "/items").value, Span::new(1, 11, 1, 48));
    assert_eq!(at(text, "/items/0").value, Span::new(1, 12, 1, 21));
    assert_eq!(at(text, "/items/0").key, None);
    assert_eq!(at(text, "/items/0/id").value, Span::new(1, 19, 1, 20));
    assert_eq!(at(text, "/items/1").value, Span::new(1, 23, 1, 47));
    assert_eq!(at(text, "/items/1/id/1").value, Span::new(1, 34, 1, 36));
    assert_eq!(at(text, "/items/1/e").value, Span::new(1, 44, 1, 46));
    assert_eq!(at(text, "/k").value, Span::new(1, 55, 1, 56));
    assert!(index(text).get("/items/2").is_none());
}

#[test]
fn index_counts_multibyte_characters_as_one_column() {
    let text = "{\"naïve\": \"日本語\", \"e\": \"\\u00e9\", \"a/b~\": \"😀\", \"n\": 1}";
    assert_eq!(
        at(text, "/naïve"),
        Located {
            value: Span::new(1, 11, 1, 16),
            key: Some(Span::new(1, 2, 1, 9)),
        }
    );
    assert_eq!(at(text, "/e").value, Span::new(1, 23, 1, 31));
    assert_eq!(
        at(text, "/a~1b~0").key,
        Some(Span::new(1, 33, 1, 39)),
        "pointer escapes"
    );
    assert_eq!(
        at(text, "/a~1b~0").value,
        Span::new(1, 41, 1, 44),
        "one column for a 4-byte char"
    );
    assert_eq!(at(text, "/n").value, Span::new(1, 51, 1, 52));
    // A byte order mark counts as a column of line 1.
    assert_eq!(at("\u{feff}[1]", "/0").value, Span::new(1, 3, 1, 4));
}

#[test]
fn index_keys_spelled_with_escapes_by_their_value() {
    let text = r#"{"\u0061\/b": 1}"#;
    assert_eq!(at(text, "/a~1b").key, Some(Span::new(1, 2, 1, 13)));
}

#[test]
fn index_survives_any_text() {
    let deep = "[".repeat(200_000);
    assert_eq!(index(&deep).len(), 0);
    for text in [
        "",
        "{",
        "{\"a\"",
        "{\"a\":",
        "[1,",
        "\"abc",
        "é",
        "[1}",
        "{]",
        "{\"a\":1,}",
        "\u{feff}",
    ] {
        let _ = index(text);
    }
    // What precedes the first error is indexed.
    assert_eq!(at("[1, 2, }", "/1").value, Span::new(1, 5, 1, 6));
}

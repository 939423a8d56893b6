use serde_json::json;

use super::*;
use crate::doc::{Located, Pos};

fn ok(text: &str) -> Value {
    parse(text, &Limits::default()).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
}

fn err(text: &str) -> Problem {
    match parse(text, &Limits::default()) {
        Ok(v) => panic!("{text:?} parsed as {v}"),
        Err(p) => p,
    }
}

/// `text` fails with `code` and `message` at `span`.
fn check_err(text: &str, code: Code, message: &str, span: Span) {
    let p = err(text);
    assert_eq!(
        (p.code, p.message.as_str(), p.span),
        (code, message, Some(span)),
        "{text:?}"
    );
}

#[test]
fn values_convert_to_json_in_document_order() {
    let text = r#"
title = "TOML"
hex = 0x1F
float = 1.5e3
zero = -0.0
yes = true
odt = 1979-05-27 07:32:00.50z
odt2 = 1979-05-27T07:32:00-07:00
ldt = 1979-05-27t07:32:00
ld = 1979-05-27
lt = 07:32:00.999
mixed = [1, "a", [true], { k = 'v' }]

[z]
b = 1
a = 2

[a.b]
c = 1
"#;
    let v = ok(text);
    assert_eq!(
        v,
        json!({
            "title": "TOML", "hex": 31, "float": 1500.0, "zero": -0.0, "yes": true,
            "odt": "1979-05-27T07:32:00.50Z", "odt2": "1979-05-27T07:32:00-07:00",
            "ldt": "1979-05-27T07:32:00", "ld": "1979-05-27", "lt": "07:32:00.999",
            "mixed": [1, "a", [true], {"k": "v"}],
            "z": {"b": 1, "a": 2},
            "a": {"b": {"c": 1}}
        })
    );
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "title", "hex", "float", "zero", "yes", "odt", "odt2", "ldt", "ld", "lt", "mixed", "z",
            "a"
        ]
    );
    let z: Vec<&String> = v["z"].as_object().unwrap().keys().collect();
    assert_eq!(z, ["b", "a"]);
    assert!(v["hex"].is_i64() && v["float"].is_f64());
}

#[test]
fn a_table_reopened_later_keeps_its_first_place() {
    // toml_edit moves `x` after `c` when `[x]` is defined after `[x.y]` made it implicitly.
    let v = ok("[x.y]\n[c]\n[x]\nz = 1\n");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["x", "c"]);
    assert_eq!(v, json!({"x": {"y": {}, "z": 1}, "c": {}}));
}

#[test]
fn arrays_of_tables_dotted_keys_and_inline_tables() {
    let text = "a.b.c = 1\na.d = { e.f = 2 }\n[[s]]\nn = 1\n[[s]]\n[s.t]\nm = 2\n";
    assert_eq!(
        ok(text),
        json!({"a": {"b": {"c": 1}, "d": {"e": {"f": 2}}}, "s": [{"n": 1}, {"t": {"m": 2}}]})
    );
    assert_eq!(ok(""), json!({}));
    assert_eq!(
        ok("\u{feff}a = 1"),
        json!({"a": 1}),
        "a byte order mark is fine"
    );
}

#[test]
fn nan_and_infinity_are_refused_where_they_are() {
    check_err(
        "a = 1\nb = -inf\n",
        Code::Parse,
        "`-inf` cannot be represented in JSON, which has no NaN or infinity",
        Span::new(2, 5, 2, 9),
    );
    check_err(
        "x = [1.0, nan]",
        Code::Parse,
        "`nan` cannot be represented in JSON, which has no NaN or infinity",
        Span::new(1, 11, 1, 14),
    );
}

#[test]
fn a_duplicate_key_names_both_places() {
    let p = err("a = 1\nb = 2\na = 3\n");
    assert_eq!(p.code, Code::DuplicateKey);
    assert_eq!(p.message, "duplicate key `a`");
    assert_eq!(p.span, Some(Span::new(3, 1, 3, 2)));
    assert_eq!(
        p.related,
        Some((Span::new(1, 1, 1, 2), "first defined here".to_owned()))
    );
}

/// `text` has a duplicate key: `message`, the second place and the first.
fn check_dup(text: &str, message: &str, second: Span, first: Span) {
    let p = err(text);
    assert_eq!(
        (p.code, p.message.as_str(), p.span, p.related.map(|r| r.0)),
        (Code::DuplicateKey, message, Some(second), Some(first)),
        "{text:?}"
    );
}

#[test]
fn duplicates_in_every_form_name_both_places() {
    check_dup(
        "[server]\nport = 1\n\n[server]\n",
        "duplicate key `server`",
        Span::new(4, 2, 4, 8),
        Span::new(1, 2, 1, 8),
    );
    check_dup(
        "t = { x = 1, \"x\" = 2 }",
        "duplicate key `t.x`",
        Span::new(1, 14, 1, 17),
        Span::new(1, 7, 1, 8),
    );
    check_dup(
        "[s]\na.b = 1\n\"a\".b = 2",
        "duplicate key `s.a.b`",
        Span::new(3, 5, 3, 6),
        Span::new(2, 3, 2, 4),
    );
    check_dup(
        "a = 1\na.b = 2",
        "duplicate key `a`: the integer defined first cannot be extended",
        Span::new(2, 1, 2, 2),
        Span::new(1, 1, 1, 2),
    );
    check_dup(
        "[[srv]]\n[srv]",
        "duplicate key `srv`",
        Span::new(2, 2, 2, 5),
        Span::new(1, 3, 1, 6),
    );
    check_dup(
        "\"é ü\" = 1\n'é ü' = 2",
        "duplicate key `\"é ü\"`",
        Span::new(2, 1, 2, 6),
        Span::new(1, 1, 1, 6),
    );
    check_dup(
        "[t]\na = { b = 1 }\n[t.a.c]",
        "duplicate key `t.a`: the inline table defined first cannot be extended",
        Span::new(3, 4, 3, 5),
        Span::new(2, 1, 2, 2),
    );
    check_dup(
        "a = {x = {y = 1, y = 2}}",
        "duplicate key `a.x.y`",
        Span::new(1, 18, 1, 19),
        Span::new(1, 11, 1, 12),
    );
    // Later duplicates do not hide the first one's places.
    check_dup(
        "a = 1\na = 2\na = 3\n[t]\nx = 1\nx = 2",
        "duplicate key `a`",
        Span::new(2, 1, 2, 2),
        Span::new(1, 1, 1, 2),
    );
}

#[test]
fn nesting_past_the_limit_is_a_limit_problem() {
    let tight = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(
        parse("a = [[1]]", &tight).is_ok(),
        "root, a, a/0: three levels"
    );
    let p = parse("a = [[[1]]]", &tight).unwrap_err();
    assert_eq!(
        (p.code, p.message.as_str(), p.span),
        (
            Code::Limit,
            "nesting deeper than 3 levels",
            Some(Span::new(1, 7, 1, 10))
        )
    );
    let p = parse("[a.b.c]\nd = 1", &tight).unwrap_err();
    assert_eq!((p.code, p.span), (Code::Limit, Some(Span::new(1, 1, 1, 8))));

    // toml_edit's own bounds, far below what would hurt the stack.
    let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let p = err(&deep);
    assert_eq!(p.code, Code::Limit);
    assert_eq!(
        p.message,
        "arrays and inline tables nested deeper than 80 levels"
    );
    let dotted = format!("x = 1\n{} = 1", vec!["k"; 200].join("."));
    let p = err(&dotted);
    assert_eq!(p.code, Code::Limit);
    assert_eq!(p.message, "a key of more than 80 dotted parts");
    assert_eq!(p.span, Some(Span::new(2, 1, 2, 400)));
}

#[test]
fn dotted_keys_in_nested_inline_tables_stay_within_the_stack() {
    // Each of 79 nested inline tables adds a key of 79 parts: over 6,000 levels, which
    // toml_edit accepts; parse stops at the limit and index at its cap.
    let key = vec!["k"; 79].join(".");
    let text = format!(
        "a = {}1{}",
        format!("{{ {key} = ").repeat(79),
        " }".repeat(79)
    );
    let p = err(&text);
    assert_eq!(p.code, Code::Limit);
    assert_eq!(p.message, "nesting deeper than 128 levels");
    let ix = index(&text);
    assert!(ix.len() > 200, "{}", ix.len());
}

#[test]
fn syntax_errors_are_parse_problems_located_in_characters() {
    let p = err("a = 1\nb = \"é\nc = 2\n");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.span.map(|s| s.start.line), Some(2));
    assert!(
        p.message.starts_with("invalid basic string"),
        "{}",
        p.message
    );

    let p = err("é = 1");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.span.map(|s| s.start), Some(Pos { line: 1, column: 1 }));

    let p = err("ké = 1");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(
        p.span,
        Some(Span::new(1, 2, 1, 3)),
        "é, one column: bare keys are ASCII"
    );

    let p = err("a = 'é' x");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.span.map(|s| s.start), Some(Pos { line: 1, column: 9 }));
    assert!(!p.message.ends_with('.'));

    let p = err("a = 1\0");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(
        p.span,
        Some(Span::new(1, 5, 1, 7)),
        "the token that holds the NUL"
    );
}

#[test]
fn toml_1_1_syntax_is_refused_with_a_reason() {
    let why = |what: &str| format!("{what} is TOML 1.1, and this tool reads TOML 1.0");
    check_err(
        "t = 07:32",
        Code::Parse,
        &why("a time without seconds"),
        Span::new(1, 5, 1, 10),
    );
    check_err(
        "s = \"a\\x41\"",
        Code::Parse,
        &why("the escape `\\x`"),
        Span::new(1, 7, 1, 11),
    );
    check_err(
        "\"\\e\" = 1",
        Code::Parse,
        &why("the escape `\\e`"),
        Span::new(1, 2, 1, 4),
    );
    check_err(
        "t = { a = 1,\n  b = 2 }",
        Code::Parse,
        &why("a newline inside an inline table"),
        Span::new(1, 5, 2, 10),
    );
    check_err(
        "t = { a = 1, }",
        Code::Parse,
        &why("a trailing comma in an inline table"),
        Span::new(1, 12, 1, 13),
    );
    // What 1.0 allows: newlines inside values of an inline table; escaped backslashes.
    assert_eq!(
        ok("t = { a = [\n1,\n2], s = \"\"\"\nx\"\"\" }\nu = \"\\\\x\""),
        json!({"t": {"a": [1, 2], "s": "x"}, "u": "\\x"})
    );
    assert_eq!(
        ok("t = { a.b = 1, c = {} }"),
        json!({"t": {"a": {"b": 1}, "c": {}}})
    );
}

/// Index `text` and look up `pointer`.
fn at(text: &str, pointer: &str) -> Located {
    let ix = index(text);
    *ix.get(pointer)
        .unwrap_or_else(|| panic!("{pointer:?} not indexed in {text:?}"))
}

#[test]
fn index_spans_tables_and_their_keys() {
    let text = "name = \"x\"\n\n[server]\nport = 8080\n\n[server.tls]\ncert = 'c'\n";
    assert_eq!(
        at(text, ""),
        Located {
            value: Span::new(1, 1, 8, 1),
            key: None
        }
    );
    assert_eq!(
        at(text, "/name"),
        Located {
            value: Span::new(1, 8, 1, 11),
            key: Some(Span::new(1, 1, 1, 5)),
        }
    );
    assert_eq!(
        at(text, "/server"),
        Located {
            value: Span::new(3, 1, 3, 9),
            key: Some(Span::new(3, 2, 3, 8)),
        }
    );
    assert_eq!(at(text, "/server/port").value, Span::new(4, 8, 4, 12));
    assert_eq!(
        at(text, "/server/tls"),
        Located {
            value: Span::new(6, 1, 6, 13),
            key: Some(Span::new(6, 9, 6, 12)),
        }
    );
    assert_eq!(at(text, "/server/tls/cert").value, Span::new(7, 8, 7, 11));
}

#[test]
fn index_spans_inline_tables_and_arrays() {
    let text = "p = { x = 1, y = [2, { z = \"é\" }] }\n";
    assert_eq!(
        at(text, "/p"),
        Located {
            value: Span::new(1, 5, 1, 36),
            key: Some(Span::new(1, 1, 1, 2)),
        }
    );
    assert_eq!(
        at(text, "/p/x"),
        Located {
            value: Span::new(1, 11, 1, 12),
            key: Some(Span::new(1, 7, 1, 8)),
        }
    );
    assert_eq!(at(text, "/p/y").value, Span::new(1, 18, 1, 34));
    assert_eq!(
        at(text, "/p/y/0"),
        Located {
            value: Span::new(1, 19, 1, 20),
            key: None,
        }
    );
    assert_eq!(at(text, "/p/y/1").value, Span::new(1, 22, 1, 33));
    assert_eq!(
        at(text, "/p/y/1/z"),
        Located {
            value: Span::new(1, 28, 1, 31),
            key: Some(Span::new(1, 24, 1, 25)),
        },
        "a multi-byte character is one column"
    );
}

#[test]
fn index_spans_arrays_of_tables() {
    let text = "[[servers]]\nname = \"a\"\n\n[[servers]]\nname = \"b\"\n";
    assert_eq!(
        at(text, "/servers"),
        Located {
            value: Span::new(1, 1, 1, 12),
            key: Some(Span::new(1, 3, 1, 10)),
        }
    );
    assert_eq!(
        at(text, "/servers/0"),
        Located {
            value: Span::new(1, 1, 1, 12),
            key: None,
        }
    );
    assert_eq!(at(text, "/servers/1").value, Span::new(4, 1, 4, 12));
    assert_eq!(
        at(text, "/servers/1/name"),
        Located {
            value: Span::new(5, 8, 5, 11),
            key: Some(Span::new(5, 1, 5, 5)),
        }
    );
    assert_eq!(at(text, "/servers/0/name").value, Span::new(2, 8, 2, 11));
}

#[test]
fn index_spans_dotted_keys_and_escaped_pointers() {
    let text = "a.b.c = 1\n\"x/y\".\"m~n\" = 2\n[t.u]\n";
    assert_eq!(
        at(text, "/a"),
        Located {
            value: Span::new(1, 1, 1, 2),
            key: Some(Span::new(1, 1, 1, 2)),
        },
        "an implicit table is the key that made it"
    );
    assert_eq!(at(text, "/a/b").value, Span::new(1, 3, 1, 4));
    assert_eq!(
        at(text, "/a/b/c"),
        Located {
            value: Span::new(1, 9, 1, 10),
            key: Some(Span::new(1, 5, 1, 6)),
        }
    );
    assert_eq!(at(text, "/x~1y/m~0n").key, Some(Span::new(2, 7, 2, 12)));
    assert_eq!(
        at(text, "/t").value,
        Span::new(3, 2, 3, 3),
        "implicit by a header"
    );
    assert_eq!(at(text, "/t/u").value, Span::new(3, 1, 3, 6));
}

#[test]
fn index_of_text_that_does_not_parse_is_empty() {
    assert!(index("a = ").is_empty());
    assert_eq!(index("").len(), 1, "the root of an empty document");
}

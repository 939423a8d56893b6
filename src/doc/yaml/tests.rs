//! YAML values, problems and spans, each decision of the module docs pinned by a case.

use serde_json::{Value, json};

use super::parse;
use crate::diagnostic::Code;
use crate::doc::{Limits, Pos, Problem, Span};

fn values(text: &str) -> Vec<Value> {
    parse(text, &Limits::default()).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
}

fn one(text: &str) -> Value {
    let mut v = values(text);
    assert_eq!(v.len(), 1, "{text:?}");
    v.remove(0)
}

fn problem(text: &str) -> Problem {
    problem_with(text, &Limits::default())
}

fn problem_with(text: &str, limits: &Limits) -> Problem {
    match parse(text, limits) {
        Ok(v) => panic!("{text:?} parsed to {v:?}"),
        Err(p) => {
            assert!(!p.message.contains('\n'), "one line: {:?}", p.message);
            let first = p.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "lower-case: {:?}", p.message);
            assert!(!p.message.ends_with('.'), "no period: {:?}", p.message);
            p
        }
    }
}

fn pos(line: u32, column: u32) -> Pos {
    Pos { line, column }
}

fn span(l1: u32, c1: u32, l2: u32, c2: u32) -> Span {
    Span {
        start: pos(l1, c1),
        end: pos(l2, c2),
    }
}

// ---- values ----

#[test]
fn scalars_follow_the_yaml_1_2_core_schema() {
    let v = one(
        "a: yes\nb: no\nc: on\nd: off\ne: y\nf: True\ng: FALSE\nh: 0o17\ni: 0x1F\nj: 2001-12-14\n\
         k: ~\nl: null\nm:\nn: 1.5e3\no: -7\np: '12'\nq: 0b101\n",
    );
    assert_eq!(
        v,
        json!({"a": "yes", "b": "no", "c": "on", "d": "off", "e": "y", "f": true, "g": false,
               "h": 15, "i": 31, "j": "2001-12-14", "k": null, "l": null, "m": null,
               "n": 1500.0, "o": -7, "p": "12", "q": 5})
    );
}

#[test]
fn numbers_that_yaml_1_1_reads_differently_stay_strings() {
    // YAML 1.1 reads 017 as 15 and 1_000 as 1000; YAML 1.2 reads 17 and "1_000".
    assert_eq!(
        one("a: 017\nb: 1_000\nc: -007\n"),
        json!({"a": "017", "b": "1_000", "c": "-007"})
    );
}

#[test]
fn key_order_is_kept() {
    let v = one("zeta: 1\nalpha: 2\nmid: {y: 1, b: 2, a: 3}\n");
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["zeta", "alpha", "mid"]);
    let inner: Vec<_> = v["mid"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(inner, ["y", "b", "a"]);
}

#[test]
fn every_document_of_a_stream_is_a_value_empty_ones_null() {
    assert_eq!(
        values("a: 1\n---\n---\n- x\n--- ~\n--- !!null\n--- ''\n"),
        vec![
            json!({"a": 1}),
            json!(null),
            json!(["x"]),
            json!(null),
            json!(null),
            json!("")
        ]
    );
    assert_eq!(values("---\n"), vec![json!(null)]);
    assert_eq!(
        values("--- |\n  text\n...\n--- 2\n"),
        vec![json!("text\n"), json!(2)]
    );
}

#[test]
fn a_text_without_documents_has_no_values() {
    assert_eq!(values(""), Vec::<Value>::new());
    assert_eq!(values("# only a comment\n\n"), Vec::<Value>::new());
}

#[test]
fn scalar_keys_become_their_text() {
    assert_eq!(
        one("1: a\ntrue: b\nnull: c\n~: d\n1.5: e\n0x0B: f\n'q': g\n"),
        json!({"1": "a", "true": "b", "null": "c", "~": "d", "1.5": "e", "0x0B": "f", "q": "g"})
    );
    assert_eq!(one(": omitted\n"), json!({"": "omitted"}));
}

#[test]
fn a_collection_as_key_is_a_parse_problem() {
    for text in ["[1, 2]: a\n", "? {a: 1}\n: b\n", "x:\n  ? - a\n  : b\n"] {
        let p = problem(text);
        assert_eq!(p.code, Code::Parse, "{text:?}");
        assert!(p.message.contains("key"), "{}", p.message);
        assert!(p.span.is_some());
    }
}

#[test]
fn non_finite_numbers_are_refused_where_they_are() {
    for (text, col) in [
        ("a: .nan\n", 4),
        ("a: .inf\n", 4),
        ("a: [1, -.Inf]\n", 8),
        ("a: 1e999\n", 4),
    ] {
        let p = problem(text);
        assert_eq!(p.code, Code::Parse, "{text:?}");
        assert!(p.message.contains("quote it"), "{}", p.message);
        assert_eq!(p.span.unwrap().start, pos(1, col), "{text:?}");
    }
    assert_eq!(
        one("a: '.nan'\nb: \".inf\"\n"),
        json!({"a": ".nan", "b": ".inf"})
    );
}

#[test]
fn tags_core_ones_convert_others_are_ignored() {
    assert_eq!(
        one(
            "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: ! 12\ne: !!binary aGVsbG8=\n\
             f: !!binary \"////\"\ng: !Ref bucket\nh: !custom {k: 1}\ni: !!set {x, y}\n\
             j: !!omap [k: 1]\nk: !secret 12\n"
        ),
        json!({"a": "12", "b": 12, "c": 1.0, "d": "12", "e": "aGVsbG8=", "f": "////",
               "g": "bucket", "h": {"k": 1}, "i": {"x": null, "y": null}, "j": [{"k": 1}],
               "k": 12})
    );
}

#[test]
fn merge_keys_expand_explicit_entries_win() {
    let text = "base: &b {x: 1, y: 1}\nother: &o {y: 2, z: 2}\n\
                m:\n  <<: [*b, *o]\n  x: 0\ninline: {<<: {p: 1}, q: 2}\n";
    assert_eq!(
        one(text),
        json!({"base": {"x": 1, "y": 1}, "other": {"y": 2, "z": 2},
               "m": {"x": 0, "y": 1, "z": 2}, "inline": {"q": 2, "p": 1}})
    );
    assert_eq!(
        one("'<<': 1\n"),
        json!({"<<": 1}),
        "a quoted << is a plain key"
    );
}

#[test]
fn aliases_share_values() {
    assert_eq!(
        one("a: &x {k: [1]}\nb: *x\n"),
        json!({"a": {"k": [1]}, "b": {"k": [1]}})
    );
}

// ---- problems ----

#[test]
fn duplicate_keys_name_both_places() {
    let cases = [
        ("a: 1\nb: 2\na: 3\n", span(3, 1, 3, 2), span(1, 1, 1, 2)),
        ("top:\n  k: 1\n  k: 2\n", span(3, 3, 3, 4), span(2, 3, 2, 4)),
        ("{x: 1, y: 2, x: 3}\n", span(1, 14, 1, 15), span(1, 2, 1, 3)),
        ("0x0B: 1\n11: 2\n", span(2, 1, 2, 3), span(1, 1, 1, 5)),
        (
            "- name: a\n  'é': 1\n  \"é\": 2\n",
            span(3, 3, 3, 6),
            span(2, 3, 2, 6),
        ),
        (
            "a: &m {k: 1, k: 2}\nb: *m\n",
            span(1, 14, 1, 15),
            span(1, 8, 1, 9),
        ),
        ("~: 1\n: 2\n", span(2, 1, 2, 1), span(1, 1, 1, 2)),
        (
            "true: 1\nTrue: 2\n'true': 3\n",
            span(3, 1, 3, 7),
            span(1, 1, 1, 5),
        ),
    ];
    for (text, second, first) in cases {
        let p = problem(text);
        assert_eq!(p.code, Code::DuplicateKey, "{text:?}: {p:?}");
        assert_eq!(p.span, Some(second), "{text:?}");
        assert_eq!(
            p.related,
            Some((first, "first defined here".to_owned())),
            "{text:?}"
        );
        assert!(p.message.starts_with("duplicate key"), "{}", p.message);
        assert_eq!(p.document, None);
    }
}

#[test]
fn a_duplicate_in_a_later_document_names_it() {
    let p = problem("a: 1\n---\nb: 1\nb: 2\n");
    assert_eq!(p.code, Code::DuplicateKey);
    assert_eq!(p.document, Some(1));
    assert_eq!(p.span.unwrap().start, pos(4, 1));
    assert_eq!(p.related.unwrap().0.start, pos(3, 1));
}

/// The billion laughs: nine levels of ten aliases, 10^9 strings once expanded.
fn billion_laughs() -> String {
    let mut text = String::from(
        "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_is_a_limit_at_the_alias_that_crosses_it() {
    let text = billion_laughs();
    let p = problem(&text);
    assert_eq!(p.code, Code::Limit, "{p:?}");
    assert!(p.message.contains("aliases"), "{}", p.message);
    let line = p.span.unwrap().start.line;
    assert!(
        (7..=10).contains(&line),
        "located at a line of aliases: {p:?}"
    );
}

#[test]
fn aliases_are_sized_before_anything_is_expanded() {
    let text = billion_laughs();
    assert!(super::scan::may_have_aliases(&text));
    let fault = super::scan::check_expansion(&text, &Limits::default()).unwrap_err();
    assert_eq!(fault.code, Code::Limit);
    assert!(!super::scan::may_have_aliases(
        "cron: \"35 16 * * 0\"\nglob: config/**/*.yaml\n"
    ));
    assert!(super::scan::may_have_aliases("a: &x 1\nb: [*x]\n"));
}

#[test]
fn aliases_that_nest_deep_do_not_overflow_the_stack() {
    // Six anchors of 20 levels, each inside the next: the text nests 21 deep, the value 121.
    // Read on the caller's stack, that is 121 levels of serde recursion: a debug build's test
    // thread overflows.
    let mut text = format!("a0: &a0 {}1{}\n", "[".repeat(20), "]".repeat(20));
    for i in 1..6 {
        text.push_str(&format!(
            "a{i}: &a{i} {}*a{}{}\n",
            "[".repeat(20),
            i - 1,
            "]".repeat(20)
        ));
    }
    assert!(!super::scan::may_nest_deeper_than(&text, 32));
    let v = one(&text);
    let mut depth = 0;
    let mut node = &v["a5"];
    while let Some(inner) = node.get(0) {
        depth += 1;
        node = inner;
    }
    assert_eq!(depth, 120);
}

#[test]
fn alias_expansion_counts_against_max_nodes() {
    let limits = Limits {
        max_nodes: 50,
        ..Limits::default()
    };
    let text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a]\nc: [*a]\n";
    assert_eq!(problem_with(text, &limits).code, Code::Limit);
    assert!(parse("a: &a [1, 2, 3]\nb: [*a, *a]\n", &limits).is_ok());
    // Without any alias the same bound holds (serde-saphyr's node budget).
    let many = format!("[{}]", vec!["1"; 60].join(", "));
    assert_eq!(problem_with(&many, &limits).code, Code::Limit);
}

#[test]
fn one_anchor_merged_into_many_entries_is_fine() {
    // serde-saphyr's alias/anchor ratio heuristic would refuse this ordinary CI file.
    let mut text = String::from("defaults: &d {image: rust, retry: 2}\n");
    for i in 0..300 {
        text.push_str(&format!("job{i}:\n  <<: *d\n  script: [make]\n"));
    }
    let v = one(&text);
    assert_eq!(
        v["job299"],
        json!({"script": ["make"], "image": "rust", "retry": 2})
    );
}

#[test]
fn nesting_past_max_depth_is_a_limit() {
    let limits = Limits::default();
    let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert!(parse(&ok, &limits).is_ok());
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let p = problem(&deep);
    assert_eq!(p.code, Code::Limit);
    assert!(p.message.contains("128"), "{}", p.message);
    let block: String = (0..129).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    assert_eq!(problem(&block).code, Code::Limit);
}

#[test]
fn hostile_depth_neither_overflows_the_stack_nor_parses() {
    // Runs on a test thread (2 MiB of stack): any recursion per level would overflow.
    let n = 100_000;
    for text in [
        "[".repeat(n),
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        "{a: ".repeat(n),
        "- ".repeat(n) + "x\n",
        (0..2000)
            .map(|i| format!("{}- \n", " ".repeat(i)))
            .collect::<String>(),
    ] {
        let p = problem(&text);
        assert_eq!(p.code, Code::Limit, "{p:?}");
    }
}

#[test]
fn an_alias_that_nests_past_max_depth_is_a_limit() {
    let limits = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    let text = "a: &a [[[[[1]]]]]\nb: [[[*a]]]\n";
    let p = problem_with(text, &limits);
    assert_eq!(p.code, Code::Limit, "{p:?}");
    assert_eq!(p.span.unwrap().start, pos(2, 7));
}

#[test]
fn control_characters_are_parse_problems_located() {
    for (text, at) in [
        ("a: b\0c\n", pos(1, 5)),
        ("k: 1\n# \u{1}\n", pos(2, 3)),
        ("a: \"x\u{7f}\"\n", pos(1, 6)),
        ("é: \u{9f}\n", pos(1, 4)),
    ] {
        let p = problem(text);
        assert_eq!(p.code, Code::Parse, "{text:?}");
        assert_eq!(p.span.unwrap().start, at, "{text:?}");
        assert!(p.message.contains("U+"), "{}", p.message);
    }
}

#[test]
fn syntax_errors_are_located_and_name_the_document() {
    let p = problem("a: [1, 2\n");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.document, None);
    assert!(p.span.is_some());

    let p = problem("ok: 1\n---\nbad: b: c\n");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.span.unwrap().start, pos(3, 7));
    assert_eq!(p.document, Some(1));

    let p = problem("bad: b: c\n---\nok: 1\n");
    assert_eq!(
        p.document,
        Some(0),
        "a stream with several documents names the first"
    );

    let p = problem("a: *nope\n");
    assert_eq!(p.code, Code::Parse);
    assert_eq!(p.span.unwrap().start, pos(1, 4));

    let p = problem("m:\n  <<: 1\n");
    assert!(p.message.contains("merge"), "{}", p.message);
    let p = problem("%YAML 1.2\n%YAML 1.2\n---\na\n");
    assert_eq!(p.code, Code::Parse);
}

#[test]
fn a_long_duplicate_key_is_shortened_in_the_message() {
    let key = "k".repeat(500);
    let p = problem(&format!("? {key}\n: 1\n? {key}\n: 2\n"));
    assert_eq!(p.code, Code::DuplicateKey);
    assert!(p.message.chars().count() < 80, "{}", p.message);
    assert_eq!(p.related.unwrap().0.start, pos(1, 3));
}

//! YAML values, problems and spans, each decision of the module docs pinned by a case.

use serde_json::{Value, json};

use super::{index, parse};
use crate::diagnostic::Code;
use crate::doc::{Limits, Pos, Problem, Span, SpanIndex};

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

/// The source text that `span` covers (lines and columns counted as `Pos` counts them).
fn cut(text: &str, span: Span) -> String {
    let offset = |p: Pos| {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(p.line as usize - 1)
            .map(str::len)
            .sum();
        let rest = &text[line_start..];
        line_start
            + rest
                .char_indices()
                .nth(p.column as usize - 1)
                .map_or(rest.len(), |(i, _)| i)
    };
    text[offset(span.start)..offset(span.end)].to_owned()
}

/// The text at `pointer` in document `doc`, and the text of its key.
fn at(text: &str, ix: &[SpanIndex], doc: usize, pointer: &str) -> (String, Option<String>) {
    let l = ix[doc]
        .get(pointer)
        .unwrap_or_else(|| panic!("{pointer:?} not indexed in document {doc}"));
    (cut(text, l.value), l.key.map(|k| cut(text, k)))
}

fn value_at(text: &str, pointer: &str) -> String {
    at(text, &index(text), 0, pointer).0
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
    assert_eq!(value_at(": omitted\n", "/"), "omitted");
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
        (
            "a: 1\nb: 2\na: 3\n",
            Span::new(3, 1, 3, 2),
            Span::new(1, 1, 1, 2),
        ),
        (
            "top:\n  k: 1\n  k: 2\n",
            Span::new(3, 3, 3, 4),
            Span::new(2, 3, 2, 4),
        ),
        (
            "{x: 1, y: 2, x: 3}\n",
            Span::new(1, 14, 1, 15),
            Span::new(1, 2, 1, 3),
        ),
        (
            "0x0B: 1\n11: 2\n",
            Span::new(2, 1, 2, 3),
            Span::new(1, 1, 1, 5),
        ),
        (
            "0X0B: 1\n11: 2\n",
            Span::new(2, 1, 2, 3),
            Span::new(1, 1, 1, 5),
        ),
        (
            "- name: a\n  'é': 1\n  \"é\": 2\n",
            Span::new(3, 3, 3, 6),
            Span::new(2, 3, 2, 6),
        ),
        (
            "a: &m {k: 1, k: 2}\nb: *m\n",
            Span::new(1, 14, 1, 15),
            Span::new(1, 8, 1, 9),
        ),
        ("~: 1\n: 2\n", Span::new(2, 1, 2, 1), Span::new(1, 1, 1, 2)),
        (
            "true: 1\nTrue: 2\n'true': 3\n",
            Span::new(3, 1, 3, 7),
            Span::new(1, 1, 1, 5),
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
        let _ = index(&text);
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

// ---- spans ----

#[test]
fn nested_mappings_have_exact_spans() {
    let text = "server:\n  host: example.org\n  tls:\n    enabled: true\nport: 80\n";
    let ix = index(text);
    assert_eq!(ix.len(), 1);
    let root = ix[0].get("").unwrap();
    assert_eq!(root.value, Span::new(1, 1, 5, 9));
    assert_eq!(root.key, None);
    let host = ix[0].get("/server/host").unwrap();
    assert_eq!(host.value, Span::new(2, 9, 2, 20));
    assert_eq!(host.key, Some(Span::new(2, 3, 2, 7)));
    let server = ix[0].get("/server").unwrap();
    assert_eq!(server.value, Span::new(2, 3, 4, 18));
    assert_eq!(server.key, Some(Span::new(1, 1, 1, 7)));
    assert_eq!(
        at(text, &ix, 0, "/server/tls/enabled"),
        ("true".into(), Some("enabled".into()))
    );
    assert_eq!(
        at(text, &ix, 0, "/port"),
        ("80".into(), Some("port".into()))
    );
}

#[test]
fn sequences_of_mappings() {
    let text = "items:\n  - name: a\n    size: 1\n  - name: b\n";
    let ix = index(text);
    assert_eq!(
        value_at(text, "/items"),
        "- name: a\n    size: 1\n  - name: b"
    );
    assert_eq!(
        at(text, &ix, 0, "/items/0"),
        ("name: a\n    size: 1".into(), None)
    );
    assert_eq!(
        ix[0].get("/items/1/name").unwrap().value,
        Span::new(4, 11, 4, 12)
    );
    assert_eq!(at(text, &ix, 0, "/items/1/name").1.as_deref(), Some("name"));
}

#[test]
fn flow_style() {
    let text = "{a: 1, b: [x, \"y z\"], c: {d: 'e'}}\n";
    let ix = index(text);
    assert_eq!(value_at(text, ""), text.trim_end());
    assert_eq!(value_at(text, "/b"), "[x, \"y z\"]");
    assert_eq!(value_at(text, "/b/1"), "\"y z\"");
    assert_eq!(at(text, &ix, 0, "/c/d"), ("'e'".into(), Some("d".into())));
    assert_eq!(ix[0].get("/b/0").unwrap().value, Span::new(1, 12, 1, 13));

    let text = "s: [a: 1, b]\nm: {k, l: [\n  x ]}\n";
    let ix = index(text);
    assert_eq!(value_at(text, "/s/0"), "a: 1");
    assert_eq!(value_at(text, "/s/0/a"), "1");
    assert_eq!(value_at(text, "/s/1"), "b");
    assert_eq!(at(text, &ix, 0, "/m/k").1.as_deref(), Some("k"));
    assert_eq!(value_at(text, "/m/l"), "[\n  x ]");
    assert_eq!(value_at(text, "/m"), "{k, l: [\n  x ]}");
    assert_eq!(
        one(text),
        json!({"s": [{"a": 1}, "b"], "m": {"k": null, "l": ["x"]}})
    );
}

#[test]
fn crlf_line_ends_are_not_part_of_spans() {
    let text = "a: 1\r\nb:\r\n  - x\r\n  - 'y'\r\n";
    let ix = index(text);
    assert_eq!(ix[0].get("/a").unwrap().value, Span::new(1, 4, 1, 5));
    assert_eq!(value_at(text, "/b"), "- x\r\n  - 'y'");
    assert_eq!(ix[0].get("/b/1").unwrap().value, Span::new(4, 5, 4, 8));
}

#[test]
fn scalar_styles() {
    let text = "plain: some words\nmulti: first\n  second\nsq: 'it''s'\ndq: \"a\\nb\"\n\
                lit: |\n  one\n  two\n\nfold: >-\n  x\n  y\nempty: |\nnull:\ntail: 1\n";
    assert_eq!(value_at(text, "/plain"), "some words");
    assert_eq!(value_at(text, "/multi"), "first\n  second");
    assert_eq!(value_at(text, "/sq"), "'it''s'");
    assert_eq!(value_at(text, "/dq"), "\"a\\nb\"");
    assert_eq!(value_at(text, "/lit"), "|\n  one\n  two");
    assert_eq!(value_at(text, "/fold"), ">-\n  x\n  y");
    assert_eq!(value_at(text, "/empty"), "|");
    assert_eq!(value_at(text, "/null"), "");
    assert_eq!(value_at(text, "/tail"), "1");
}

#[test]
fn anchors_and_aliases() {
    let text = "base: &b\n  k: v\n  list: [1, 2]\nuse: *b\nseq:\n  - &s scalar\n  - *s\n";
    let ix = index(text);
    assert_eq!(value_at(text, "/base"), "k: v\n  list: [1, 2]");
    assert_eq!(at(text, &ix, 0, "/use"), ("*b".into(), Some("use".into())));
    assert_eq!(
        ix[0].get("/use/k"),
        None,
        "nothing is indexed below an alias"
    );
    let (p, l) = ix[0].nearest("/use/list/1").unwrap();
    assert_eq!((p, cut(text, l.value)), ("/use", "*b".to_owned()));
    assert_eq!(value_at(text, "/seq/0"), "scalar");
    assert_eq!(value_at(text, "/seq/1"), "*s");
    // The values agree: /use holds what /base holds.
    assert_eq!(one(text)["use"]["list"], json!([1, 2]));
}

#[test]
fn merged_keys_point_at_the_merge() {
    let text = "base: &b {x: 1, y: 1}\nm:\n  <<: *b\n  y: 2\nl:\n  <<: [{p: 1}, *b]\n";
    let ix = index(text);
    assert_eq!(at(text, &ix, 0, "/m/x"), ("*b".into(), Some("<<".into())));
    assert_eq!(at(text, &ix, 0, "/m/y"), ("2".into(), Some("y".into())));
    assert_eq!(at(text, &ix, 0, "/l/p"), ("1".into(), Some("p".into())));
    assert_eq!(at(text, &ix, 0, "/l/x"), ("*b".into(), Some("<<".into())));
    assert_eq!(ix[0].get("/m/<<"), None);
    let v = one(text);
    assert_eq!(v["m"], json!({"y": 2, "x": 1}));
    assert_eq!(v["l"], json!({"p": 1, "x": 1, "y": 1}));
}

#[test]
fn multi_document_streams_index_each_document_on_its_own_lines() {
    let text = "a: 1\n---\nb:\n  - c\n---\n--- |\n  t\n";
    let ix = index(text);
    assert_eq!(ix.len(), values(text).len());
    assert_eq!(ix.len(), 4);
    assert_eq!(ix[0].get("/a").unwrap().value, Span::new(1, 4, 1, 5));
    assert_eq!(ix[1].get("/b/0").unwrap().value, Span::new(4, 5, 4, 6));
    assert_eq!(ix[1].get("/a"), None);
    assert!(
        ix[2].get("").is_some(),
        "an empty document still has a root"
    );
    assert_eq!(at(text, &ix, 3, ""), ("|\n  t".into(), None));
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = "名前: 値\nemoji: \"🎉🎉\"\nk: [é, ü]\n";
    let ix = index(text);
    let name = ix[0].get("/名前").unwrap();
    assert_eq!(name.key, Some(Span::new(1, 1, 1, 3)));
    assert_eq!(name.value, Span::new(1, 5, 1, 6));
    assert_eq!(ix[0].get("/emoji").unwrap().value, Span::new(2, 8, 2, 12));
    assert_eq!(ix[0].get("/k/1").unwrap().value, Span::new(3, 8, 3, 9));
}

#[test]
fn pointers_escape_slash_and_tilde_and_use_key_text() {
    let text = "a/b: 1\n\"c~d\": 2\n1: 3\n~: 4\nnull: 5\n";
    let ix = index(text);
    assert_eq!(value_at(text, "/a~1b"), "1");
    assert_eq!(value_at(text, "/c~0d"), "2");
    assert_eq!(value_at(text, "/1"), "3");
    assert_eq!(value_at(text, "/~0"), "4");
    assert_eq!(value_at(text, "/null"), "5");
    assert_eq!(ix[0].len(), 6);
    let v = one(text);
    for key in ["a/b", "c~d", "1", "~", "null"] {
        assert!(v.get(key).is_some(), "value has key {key:?}");
    }
}

#[test]
fn a_huge_key_above_many_nodes_does_not_blow_up_the_index() {
    let key = "k".repeat(1 << 20);
    let items = vec!["1"; 20_000].join(", ");
    let text = format!("? {key}\n: [{items}]\n");
    let ix = index(&text);
    let total: usize = ix[0].len();
    assert!(total < 2000, "pointer budget stops indexing: {total}");
    let probe = format!("/{key}/19999");
    assert!(ix[0].nearest(&probe).is_some());
}

#[test]
fn a_long_single_line_document_indexes_in_linear_time() {
    // Positions are counted forward from the previous one, not from the line start each time:
    // quadratic here would be 10^11 steps.
    let items = vec!["123"; 200_000].join(", ");
    let text = format!("[{items}]");
    let ix = index(&text);
    assert_eq!(
        ix[0].get("/199999").unwrap().value.start.column,
        1 + 200_000 * 5 - 4
    );
}

#[test]
fn a_tab_used_as_indentation_is_reported_at_the_tab() {
    let p = problem("a:\n\tb: 1\n");
    assert!(p.message.contains("tab"), "{p:?}");
    let span = p.span.expect("located");
    assert_eq!((span.start.line, span.start.column), (2, 1), "{p:?}");
}

//! The tape builder against serde-saphyr: wherever the builder gives tapes, they hold exactly
//! the documents `parse` gives (key order and number types included), and wherever `parse`
//! refuses, the builder gives up. Over every text of `tests.rs` and generated texts; the same
//! over the yaml-test-suite is `tests/it/yaml_builder.rs` (unit tests never read the external corpora).

use proptest::prelude::*;
use serde_json::Value;

use super::parse;
use super::tape::build;
use crate::doc::Limits;

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

fn differ(text: &str, limits: &Limits, tally: &mut Tally) -> Result<(), String> {
    let old = parse(text, limits);
    let new = build(text, limits);
    match (old, new) {
        (Ok(values), Some(tapes)) => {
            let got: Vec<Value> = tapes.iter().map(|t| t.to_value()).collect();
            if exact(&got) != exact(&values) {
                return Err(format!(
                    "{text:?} with {limits:?}:\n  tape:  {}\n  value: {}",
                    exact(&got),
                    exact(&values)
                ));
            }
            tally.compared += 1;
        }
        (Err(p), Some(tapes)) => {
            let got: Vec<Value> = tapes.iter().map(|t| t.to_value()).collect();
            return Err(format!(
                "{text:?} with {limits:?}: the builder gave {} where parse refuses: {p:?}",
                exact(&got)
            ));
        }
        (Ok(_), None) => tally.fell_back += 1,
        (Err(_), None) => tally.refused += 1,
    }
    Ok(())
}

fn check(text: &str, limits: &Limits, tally: &mut Tally) {
    if let Err(e) = differ(text, limits, tally) {
        panic!("{e}");
    }
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

/// The texts of `tests.rs` and of the module docs' rules.
fn rule_texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "a: yes\nb: no\nc: on\nd: off\ne: y\nf: True\ng: FALSE\nh: 0o17\ni: 0x1F\nj: 2001-12-14\n\
         k: ~\nl: null\nm:\nn: 1.5e3\no: -7\np: '12'\nq: 0b101\n",
        "a: 017\nb: 1_000\nc: -007\n",
        "zeta: 1\nalpha: 2\nmid: {y: 1, b: 2, a: 3}\n",
        "a: 1\n---\n---\n- x\n--- ~\n--- !!null\n--- ''\n",
        "---\n",
        "--- |\n  text\n...\n--- 2\n",
        "",
        "# only a comment\n\n",
        "1: a\ntrue: b\nnull: c\n~: d\n1.5: e\n0x0B: f\n'q': g\n",
        ": omitted\n",
        "[1, 2]: a\n",
        "? {a: 1}\n: b\n",
        "x:\n  ? - a\n  : b\n",
        "a: .nan\n",
        "a: .inf\n",
        "a: [1, -.Inf]\n",
        "a: 1e999\n",
        "a: '.nan'\nb: \".inf\"\n",
        "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: ! 12\ne: !!binary aGVsbG8=\n\
         f: !!binary \"////\"\ng: !Ref bucket\nh: !custom {k: 1}\ni: !!set {x, y}\n\
         j: !!omap [k: 1]\nk: !secret 12\n",
        "base: &b {x: 1, y: 1}\nother: &o {y: 2, z: 2}\n\
         m:\n  <<: [*b, *o]\n  x: 0\ninline: {<<: {p: 1}, q: 2}\n",
        "'<<': 1\n",
        "a: &x {k: [1]}\nb: *x\n",
        "a: 1\nb: 2\na: 3\n",
        "top:\n  k: 1\n  k: 2\n",
        "{x: 1, y: 2, x: 3}\n",
        "0x0B: 1\n11: 2\n",
        "0X0B: 1\n11: 2\n",
        "- name: a\n  'é': 1\n  \"é\": 2\n",
        "a: &m {k: 1, k: 2}\nb: *m\n",
        "~: 1\n: 2\n",
        "true: 1\nTrue: 2\n'true': 3\n",
        "'1': a\n1: b\n",
        "null: 1\n~: 2\n",
        "'~': 1\n~: 2\n",
        "a: 1\n---\nb: 1\nb: 2\n",
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a]\nc: [*a]\n",
        "a: &a [1, 2, 3]\nb: [*a, *a]\n",
        "a: &a [[[[[1]]]]]\nb: [[[*a]]]\n",
        "a: b\0c\n",
        "k: 1\n# \u{1}\n",
        "a: \"x\u{7f}\"\n",
        "é: \u{9f}\n",
        "a: [1, 2\n",
        "ok: 1\n---\nbad: b: c\n",
        "bad: b: c\n---\nok: 1\n",
        "a: *nope\n",
        "m:\n  <<: 1\n",
        "%YAML 1.2\n%YAML 1.2\n---\na\n",
        "server:\n  host: example.org\n  tls:\n    enabled: true\nport: 80\n",
        "items:\n  - name: a\n    size: 1\n  - name: b\n",
        "{a: 1, b: [x, \"y z\"], c: {d: 'e'}}\n",
        "s: [a: 1, b]\nm: {k, l: [\n  x ]}\n",
        "a: 1\r\nb:\r\n  - x\r\n  - 'y'\r\n",
        "plain: some words\nmulti: first\n  second\nsq: 'it''s'\ndq: \"a\\nb\"\n\
         lit: |\n  one\n  two\n\nfold: >-\n  x\n  y\nempty: |\nnull:\ntail: 1\n",
        "base: &b\n  k: v\n  list: [1, 2]\nuse: *b\nseq:\n  - &s scalar\n  - *s\n",
        "base: &b {x: 1, y: 1}\nm:\n  <<: *b\n  y: 2\nl:\n  <<: [{p: 1}, *b]\n",
        "a: 1\n---\nb:\n  - c\n---\n--- |\n  t\n",
        "名前: 値\nemoji: \"🎉🎉\"\nk: [é, ü]\n",
        "a/b: 1\n\"c~d\": 2\n1: 3\n~: 4\nnull: 5\n",
        "cron: \"35 16 * * 0\"\nglob: config/**/*.yaml\n",
        "a: &x 1\nb: [*x]\n",
        // Merge order: explicit first, then sources in order, earlier wins; nested merges.
        "a: &a {x: 1, y: 1}\nb: &b {<<: *a, y: 2, z: 2}\nc: {<<: [*b, *a], w: 0}\nd: {<<: *b, x: 9}\n",
        "a: &a {x: 1}\nm:\n  <<: *a\n  <<: {y: 2}\n",
        "a: &a {x: 1}\nm: {<<: ~, k: 1}\nn: {<<: [], k: 1}\n",
        "a: &a {1: x}\nm: {<<: *a, '1': y}\n",
        "a: &a {k: 1}\nm: {<<: *a, k: 2, k: 3}\n",
        "a: &a [1]\nm: {<<: *a}\n",
        "a: &a x\nm: {<<: *a}\n",
        "a: &a {x: 1}\nm: {<<: &z [*a]}\n",
        "a: &a {x: 1}\nm: {!!merge <<: *a}\n",
        "&k key: 1\nother: *k\n",
        "a: &a 1\n*a : 2\n",
        "&a [*a]\n",
        "a: &a {x: &b 1}\nb: *b\nc: &a 2\nd: *a\n",
        "- !!int 0x1F\n- !!int -0o17\n- !!int +12\n- !!int 1_0\n- !!float -1\n- !!bool True\n",
        "- !!int x\n- !!float .inf\n- !!float -.nan\n- !!bool yes\n- !!timestamp 2001-12-14\n",
        "- !str x\n- !int 1\n- !null x\n- !include f.yaml\n- !<tag:yaml.org,2002:str> 1\n",
        "%TAG !e! tag:example.com,2000:\n---\n- !e!x 1\n",
        "- !!str\n- !!null\n- !\n- !Ref\n- !!binary\n",
        "--- !!str\n--- !null x\n--- 5\n",
        "--- !custom ~\n--- !!null x\n",
        "- !!map {a: 1}\n- !!seq [1]\n- !!map [1]\n- !!seq {a: 1}\n- !!str [1]\n",
        "- 18446744073709551615\n- 18446744073709551616\n- -9223372036854775808\n\
         - -9223372036854775809\n- 0xFFFFFFFFFFFFFFFF\n- 0x10000000000000000\n",
        "- 0X1F\n- 0O17\n- 0B101\n- +0x1F\n- -0x1F\n- 0x\n- -0\n- +0\n- -0.0\n- 1.\n- .5\n- 1E5\n",
        "- inf\n- nan\n- Infinity\n- +.nan\n- +.inf\n- 1e-999\n- 9e400\n- -1e999\n",
        "? |\n  block key\n: v\n? a\n  b\n: w\n",
        "\u{feff}a: 1\n",
        "a: \"\\u00e9\\t\"\nb: 'x\n\n  y'\nc: >\n  folded\n  text\n\n",
    ]
    .map(str::to_owned)
    .to_vec();
    texts.push(billion_laughs());
    texts.push(format!("{}{}", "[".repeat(128), "]".repeat(128)));
    texts.push(format!("{}{}", "[".repeat(129), "]".repeat(129)));
    texts.push((0..129).map(|i| format!("{}k:\n", " ".repeat(i))).collect());
    texts.push((0..128).map(|i| format!("{}k:\n", " ".repeat(i))).collect());
    texts.push((0..127).map(|i| format!("{}k:\n", " ".repeat(i))).collect());
    texts.push("[".repeat(100_000));
    texts.push("- ".repeat(10_000) + "x\n");
    let mut deep = format!("a0: &a0 {}1{}\n", "[".repeat(20), "]".repeat(20));
    for i in 1..6 {
        deep.push_str(&format!(
            "a{i}: &a{i} {}*a{}{}\n",
            "[".repeat(20),
            i - 1,
            "]".repeat(20)
        ));
    }
    texts.push(deep);
    let mut ci = String::from("defaults: &d {image: rust, retry: 2}\n");
    for i in 0..300 {
        ci.push_str(&format!("job{i}:\n  <<: *d\n  script: [make]\n"));
    }
    texts.push(ci);
    texts.push(format!("? {k}\n: 1\n? {k}\n: 2\n", k = "k".repeat(500)));
    texts.push(format!("{}: 1\n", "k".repeat(2000)));
    texts.push(format!("[{}]", vec!["1"; 60].join(", ")));
    texts
}

fn billion_laughs() -> String {
    let mut text = String::from("a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn the_builder_agrees_with_parse_on_every_rule() {
    let mut tally = Tally::default();
    let mut tight = Tally::default();
    for text in rule_texts() {
        check(&text, &Limits::default(), &mut tally);
        for limits in tight_limits() {
            check(&text, &limits, &mut tight);
        }
    }
    eprintln!("rule texts: {tally:?}; under tight limits: {tight:?}");
}

/// Anchors are numbered through the whole stream; each document reaches only its own, and a
/// stream of many anchored documents is read by the builder itself, the same as `parse`.
#[test]
fn anchors_of_many_documents_stay_in_their_own() {
    let mut tally = Tally::default();
    for text in [
        "--- &a {x: 1}\n--- {y: *a}\n".to_owned(),
        "--- &a [1]\n--- &a [2]\n--- {y: *a}\n".to_owned(),
        "--- &a 1\n---\nb: &b 2\nc: *b\n".to_owned(),
        (0..2000)
            .map(|i| format!("--- &a x{i}\n--- *a\n"))
            .collect(),
    ] {
        check(&text, &Limits::default(), &mut tally);
    }
    assert!(
        build(
            &(0..2000)
                .map(|i| format!("--- &a{i} [{i}]\n"))
                .collect::<String>(),
            &Limits::default()
        )
        .is_some()
    );
}

#[test]
fn the_builder_takes_the_common_constructs_itself() {
    for text in [
        "a: yes\nb: [1, -2, 1.5, 0x1F, '12', ~, true]\nc: {d: \"x\\ty\"}\n",
        "a: !!str 12\nb: !!int \"12\"\nc: !Ref x\nd: !!set {x}\ne: !!binary aGk=\n",
        "base: &b {x: 1, y: 1}\nm:\n  <<: [*b]\n  x: 0\nn: *b\n",
        "a: 1\n---\n--- ~\n",
        "cron: \"44 8 * * 0\"\n",
    ] {
        assert!(build(text, &Limits::default()).is_some(), "{text:?}");
    }
    // Strings without escapes are borrowed from the text, not copied as a value's are.
    let text = "key: some value\nlist: [a, 'b']\n";
    let tapes = build(text, &Limits::default()).unwrap();
    let copied = crate::doc::Tape::from_value(&tapes[0].to_value());
    assert!(tapes[0].heap_bytes() < copied.heap_bytes());
}

#[test]
fn an_alias_bomb_is_refused_before_it_is_copied() {
    let text = billion_laughs();
    assert!(build(&text, &Limits::default()).is_none());
    let limits = Limits {
        max_nodes: 1000,
        ..Limits::default()
    };
    let text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
    assert!(build(text, &limits).is_none());
}

// ---- generated texts ----

#[derive(Debug, Clone)]
enum Node {
    Scalar(&'static str),
    /// `|` or `>` block scalar: block context only.
    Block(&'static str),
    Seq(Vec<Node>, bool),
    Map(Vec<(&'static str, Node)>, bool),
    Alias(u8),
    Anchored(u8, Box<Node>),
    Tagged(&'static str, Box<Node>),
}

/// Scalars every path reads alike.
const SCALARS: &[&str] = &[
    "x",
    "a b",
    "12",
    "-7",
    "0",
    "-0",
    "+12",
    "017",
    "-007",
    "1_000",
    "0x1F",
    "0X1F",
    "0o17",
    "0O17",
    "0b101",
    "1.5",
    "1.5e3",
    ".5",
    "5.",
    "-.nan",
    "inf",
    "18446744073709551616",
    "-9223372036854775809",
    "true",
    "True",
    "TRUE",
    "yes",
    "no",
    "on",
    "~",
    "null",
    "Null",
    "",
    "2001-12-14",
    "'12'",
    "'it''s'",
    "\"a\\tb\"",
    "\"\\u00e9\"",
    "'~'",
    "\"\"",
    "'null'",
    "'<<'",
];

/// Scalars that are refused as values (non-finite) or mean something else (`<<`).
const EDGY: &[&str] = &["1e999", "-.inf", ".nan", "<<", "*", "&"];

const KEYS: &[&str] = &[
    "a", "b", "c", "1", "0x01", "01", "'1'", "\"a\"", "~", "null", "'~'", "true", "'true'", "'<<'",
    "1_0", "10", "0o12",
];

const TAGS: &[&str] = &[
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!Ref",
    "!",
    "!!set",
    "!!omap",
    "!!map",
    "!!seq",
    "!!timestamp",
    "!!merge",
];

const BLOCKS: &[&str] = &["|\n{i}text\n", ">-\n{i}a\n{i}b\n", "|+\n{i}x\n\n"];

fn node() -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        12 => prop::sample::select(SCALARS).prop_map(Node::Scalar),
        1 => prop::sample::select(EDGY).prop_map(Node::Scalar),
        1 => prop::sample::select(BLOCKS).prop_map(Node::Block),
        2 => (0u8..3).prop_map(Node::Alias),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            3 => (prop::collection::vec(inner.clone(), 0..5), any::<bool>())
                .prop_map(|(items, flow)| Node::Seq(items, flow)),
            4 => (prop::collection::vec(member(inner.clone().boxed()), 0..5), any::<bool>())
                .prop_map(|(members, flow)| Node::Map(members, flow)),
            // An alias cannot carry an anchor or a tag: those stay bare.
            2 => (0u8..3, inner.clone()).prop_map(|(a, n)| match n {
                Node::Alias(_) => n,
                n => Node::Anchored(a, Box::new(n)),
            }),
            1 => (prop::sample::select(TAGS), inner).prop_map(|(t, n)| match n {
                Node::Alias(_) => n,
                n => Node::Tagged(t, Box::new(n)),
            }),
        ]
    })
    .boxed()
}

/// A mapping member: mostly an ordinary key, sometimes a merge key with an alias, a
/// sequence of aliases, or anything.
fn member(value: BoxedStrategy<Node>) -> impl Strategy<Value = (&'static str, Node)> {
    let alias = (0u8..3).prop_map(Node::Alias);
    prop_oneof![
        24 => (prop::sample::select(KEYS), value.clone()),
        3 => alias.clone().prop_map(|a| ("<<", a)),
        2 => (prop::collection::vec(alias, 0..3), any::<bool>())
            .prop_map(|(items, flow)| ("<<", Node::Seq(items, flow))),
        1 => value.prop_map(|v| ("<<", v)),
    ]
}

/// `node` as flow text (block scalars become plain text).
fn flow(node: &Node, n: u8, out: &mut String) {
    match node {
        Node::Scalar(s) => out.push_str(s),
        Node::Block(_) => out.push_str("blk"),
        Node::Alias(a) if n > 0 => out.push_str(&format!("*a{}", a % n)),
        Node::Alias(_) => out.push('~'),
        Node::Anchored(a, inner) => {
            out.push_str(&format!("&a{a} "));
            flow(inner, n, out);
        }
        Node::Tagged(t, inner) => {
            out.push_str(t);
            out.push(' ');
            flow(inner, n, out);
        }
        Node::Seq(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, n, out);
            }
            out.push(']');
        }
        Node::Map(members, _) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                flow(v, n, out);
            }
            out.push('}');
        }
    }
}

/// `node` in a block context at `indent`, after text on the current line.
fn block(node: &Node, indent: usize, n: u8, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Anchored(a, inner) => {
            out.push_str(&format!(" &a{a}"));
            block_body(inner, indent, n, out);
        }
        Node::Tagged(t, inner) => {
            out.push(' ');
            out.push_str(t);
            block_body(inner, indent, n, out);
        }
        Node::Block(b) => {
            out.push(' ');
            out.push_str(&b.replace("{i}", &format!("{pad}  ")));
        }
        _ => block_body(node, indent, n, out),
    }
}

fn block_body(node: &Node, indent: usize, n: u8, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Seq(items, false) if !items.is_empty() => {
            for item in items {
                out.push('\n');
                out.push_str(&pad);
                out.push('-');
                block(item, indent + 2, n, out);
            }
        }
        Node::Map(members, false) if !members.is_empty() => {
            for (k, v) in members {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                block(v, indent + 2, n, out);
            }
        }
        Node::Anchored(..) | Node::Tagged(..) | Node::Block(_) => block(node, indent, n, out),
        _ => {
            out.push(' ');
            flow(node, n, out);
        }
    }
}

/// A document: a node alone, or under `body:` after three anchored definitions (mappings
/// mostly, so that aliases and merge keys find what they name).
#[derive(Debug, Clone)]
struct Doc {
    anchors: Option<Vec<Node>>,
    body: Node,
}

fn doc() -> impl Strategy<Value = Doc> {
    let map =
        prop::collection::vec(member(node()), 0..4).prop_map(|members| Node::Map(members, false));
    let definition = prop_oneof![9 => map, 1 => node()];
    (
        prop::option::weighted(0.7, prop::collection::vec(definition, 3)),
        node(),
    )
        .prop_map(|(anchors, body)| Doc { anchors, body })
}

fn render(doc: &Doc) -> String {
    let mut out = String::from("---");
    // Aliases name only anchors defined before them (and read `~` where there are none).
    match &doc.anchors {
        None => block(&doc.body, 0, 0, &mut out),
        Some(anchors) => {
            for (i, a) in anchors.iter().enumerate() {
                out.push_str(&format!("\nd{i}:"));
                let a = Node::Anchored(i as u8, Box::new(a.clone()));
                block(&a, 2, i as u8, &mut out);
            }
            out.push_str("\nbody:");
            block(&doc.body, 2, 3, &mut out);
        }
    }
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn generated_texts_agree(docs in prop::collection::vec(doc(), 1..3)) {
        let text: String = docs.iter().map(render).collect();
        let mut tally = Tally::default();
        if let Err(e) = differ(&text, &Limits::default(), &mut tally) {
            return Err(TestCaseError::fail(e));
        }
        let tight = Limits { max_depth: 3, max_nodes: 12, ..Limits::default() };
        if let Err(e) = differ(&text, &tight, &mut tally) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn generated_texts_are_mostly_taken_by_the_builder() {
    // The generator must reach the builder's cases, not only its refusals.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut tally = Tally::default();
    for _ in 0..500 {
        let docs = prop::collection::vec(doc(), 1..3)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let text: String = docs.iter().map(render).collect();
        check(&text, &Limits::default(), &mut tally);
    }
    eprintln!("generated: {tally:?}");
    // Most generated texts hold something serde-saphyr refuses (a merge of a scalar, a
    // non-finite float, a duplicate, a tag on the wrong node): those check that the builder
    // refuses too. A fifth must still reach the comparison.
    assert!(tally.compared * 5 > 500, "{tally:?}");
}

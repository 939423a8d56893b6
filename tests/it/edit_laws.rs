//! Property tests of `doc::edit`: on random documents in every format, with a comment on and
//! above every line, a random `set` or `unset` gives a text that parses to the serde_json-edited
//! value and keeps every comment outside the edited entry — or a clear refusal, counted here.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

use cargo_atomic::doc::edit::{self, EditError, KeyPath};
use cargo_atomic::doc::{self, Format, Limits};

/// Documents: an object at the top (TOML needs one), small keys, no nulls (TOML has none).
fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-50i64..50).prop_map(Value::from),
        "[a-c]{1,3}( [a-c])?".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    });
    prop::collection::btree_map("[a-d]", value, 1..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn new_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-9i64..9).prop_map(Value::from),
        "[a-z]{1,4}".prop_map(Value::from),
        Just(serde_json::json!({"n": 1, "m": ["x", true]})),
        Just(serde_json::json!([1, {"k": "v"}])),
        Just(serde_json::json!({})),
    ]
}

/// Every path of `v` (not the root), and paths that do not exist yet.
fn candidates(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut push = |tokens: Vec<String>| out.push(tokens);
    match v {
        Value::Object(m) => {
            let mut fresh = at.clone();
            fresh.push("e".into());
            push(fresh.clone());
            fresh.push("f".into());
            push(fresh);
            for (k, x) in m {
                at.push(k.clone());
                out.push(at.clone());
                candidates(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            let mut end = at.clone();
            end.push("-".into());
            push(end);
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                out.push(at.clone());
                candidates(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The old value with the change made, written independently of `doc::edit`.
fn expected(old: &Value, tokens: &[String], value: Option<&Value>) -> Option<Value> {
    let mut root = old.clone();
    change(&mut root, tokens, value)?;
    Some(root)
}

fn change(node: &mut Value, tokens: &[String], value: Option<&Value>) -> Option<()> {
    let (t, rest) = tokens.split_first()?;
    match node {
        Value::Object(m) => {
            if rest.is_empty() {
                match value {
                    Some(v) => drop(m.insert(t.clone(), v.clone())),
                    None => drop(m.shift_remove(t)?),
                }
                return Some(());
            }
            if !m.contains_key(t) {
                value?;
                m.insert(t.clone(), Value::Object(Map::new()));
            }
            change(m.get_mut(t)?, rest, value)
        }
        Value::Array(a) => {
            let n = if t == "-" { a.len() } else { t.parse().ok()? };
            if n > a.len() || (n == a.len() && value.is_none()) {
                return None;
            }
            if n == a.len() {
                a.push(Value::Object(Map::new()));
            }
            if rest.is_empty() {
                match value {
                    Some(v) => a[n] = v.clone(),
                    None => drop(a.remove(n)),
                }
                return Some(());
            }
            change(&mut a[n], rest, value)
        }
        _ => None,
    }
}

/// Writes `v` in `format` with a comment line above every line and a comment after each.
fn commented(format: Format, v: &Value) -> String {
    let plain = doc::serialize(format, v).unwrap();
    if format == Format::Json {
        return plain;
    }
    let mut out = String::new();
    for (i, line) in plain.lines().enumerate() {
        out.push_str(&format!("# c{i}a\n{line}"));
        if !line.trim().is_empty() {
            out.push_str(&format!(" # c{i}b"));
        }
        out.push('\n');
    }
    out
}

/// The comments of `text` with the line each is on.
fn comments(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(n, l)| l.find("# c").map(|i| (n + 1, l[i..].to_owned())))
        .collect()
}

struct Counts {
    edits: Cell<usize>,
    refused: Cell<usize>,
}

fn run(format: Format, cases: u32) -> Counts {
    let counts = Counts {
        edits: Cell::new(0),
        refused: Cell::new(0),
    };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (document(), any::<usize>(), any::<bool>(), new_value());
    runner
        .run(&strategy, |(old, pick, unset, value)| {
            let text = commented(format, &old);
            let parsed = doc::parse(format, text.as_bytes(), &Limits::default());
            prop_assume!(parsed.as_deref() == Ok(std::slice::from_ref(&old)));
            let mut all = Vec::new();
            candidates(&old, &mut Vec::new(), &mut all);
            let tokens = all[pick % all.len()].clone();
            let path = KeyPath::from_tokens(tokens.clone()).unwrap();
            let want = expected(&old, &tokens, (!unset).then_some(&value));
            let got = if unset {
                edit::unset(format, &text, &path)
            } else {
                edit::set(format, &text, &path, &value)
            };
            counts.edits.set(counts.edits.get() + 1);
            let new = match (got, want) {
                (Ok(new), Some(want)) => {
                    let back = doc::parse(format, new.as_bytes(), &Limits::default());
                    prop_assert_eq!(back, Ok(vec![want]), "{}\n---\n{}", text, new);
                    new
                }
                (Err(EditError::NotFound { .. }), None) if unset => return Ok(()),
                (Err(EditError::Unsupported(why)), Some(_)) => {
                    counts.refused.set(counts.refused.get() + 1);
                    prop_assert!(format != Format::Json, "JSON refused: {}", why);
                    return Ok(());
                }
                (got, want) => {
                    prop_assert!(false, "{path}: got {got:?}, expected {want:?}\n{text}");
                    unreachable!()
                }
            };
            // Comments outside the edited entry (and the line above it) are all still there.
            let ix = &doc::index(format, &text)[0];
            let lines = match ix.get(&path.pointer()) {
                Some(l) => {
                    let mut first = l.key.unwrap_or(l.value).start.line as usize;
                    // toml_edit keeps the comments above a table header with the table.
                    let lines: Vec<&str> = text.lines().collect();
                    while format == Format::Toml
                        && first > 1
                        && (lines[first - 2].starts_with('#') || lines[first - 2].is_empty())
                    {
                        first -= 1;
                    }
                    // A TOML table's span is its header: its body goes with it.
                    let table = format == Format::Toml
                        && old
                            .pointer(&path.pointer())
                            .is_some_and(|v| v.is_object() || v.is_array());
                    // A removed entry that shares its line (`- - a`) is cut up to the next
                    // one, with the comment line above it.
                    let last = if table {
                        usize::MAX
                    } else {
                        l.value.end.line as usize + usize::from(unset)
                    };
                    first.saturating_sub(1)..=last
                }
                _ => 0..=0,
            };
            for (line, c) in comments(&text) {
                if !lines.contains(&line) {
                    prop_assert!(
                        new.contains(&c),
                        "{} lost at line {} by {} of {}\n{}\n---\n{}",
                        c,
                        line,
                        if unset { "unset" } else { "set" },
                        path,
                        text,
                        new
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    counts
}

#[test]
fn json_edits_are_exact_and_never_refused() {
    let c = run(Format::Json, 1000);
    assert_eq!(c.refused.get(), 0);
}

/// Refused in TOML: a non-table in an array of tables (`[[a]]`), about 0.6% of these edits.
#[test]
fn toml_edits_are_exact_or_refused() {
    let c = run(Format::Toml, 1000);
    eprintln!(
        "toml: {} of {} edits refused",
        c.refused.get(),
        c.edits.get()
    );
    assert!(
        c.refused.get() * 10 <= c.edits.get(),
        "more than 10% refused"
    );
}

/// These documents have no anchors, so nothing should be refused; a few are allowed for
/// layouts the splices do not know.
#[test]
fn yaml_edits_are_exact_or_refused() {
    let c = run(Format::Yaml, 1000);
    eprintln!(
        "yaml: {} of {} edits refused",
        c.refused.get(),
        c.edits.get()
    );
    assert!(
        c.refused.get() * 10 <= c.edits.get(),
        "more than 10% refused"
    );
}

//! The pointer → span index of `doc::index` on real files nobody here wrote: every value that
//! `doc::parse` returns has a span, and (for JSON) the text under each span is that value.

use std::fs;
use std::path::{Path, PathBuf};

use cargo_atomic::doc::{self, Format, Limits, Pos, Span, SpanIndex};
use serde_json::Value;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

/// Every JSON pointer in `value`, the root (``) first.
fn pointers(value: &Value, at: &mut String, out: &mut Vec<String>) {
    out.push(at.clone());
    let base = at.len();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                at.push('/');
                at.push_str(&doc::escape_pointer_token(k));
                pointers(v, at, out);
                at.truncate(base);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push_str(&format!("/{i}"));
                pointers(v, at, out);
                at.truncate(base);
            }
        }
        _ => {}
    }
}

/// Byte offsets of 1-based line and character column positions.
struct Offsets<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Offsets { text, starts }
    }

    fn at(&self, pos: Pos) -> usize {
        let start = self.starts[pos.line as usize - 1];
        let line = &self.text[start..];
        start
            + line
                .char_indices()
                .nth(pos.column as usize - 1)
                .map_or(line.len(), |(i, _)| i)
    }

    fn text(&self, span: Span) -> &'a str {
        &self.text[self.at(span.start)..self.at(span.end)]
    }
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn parse_and_index(format: Format, path: &Path) -> Option<(String, Value, SpanIndex)> {
    let bytes = fs::read(path).unwrap();
    let mut values = doc::parse(format, &bytes, &Limits::default()).ok()?;
    let text = String::from_utf8(bytes).unwrap();
    let index = doc::index(format, &text).pop().unwrap();
    Some((text, values.pop().unwrap(), index))
}

#[test]
fn json_spans_hold_exactly_their_values_and_keys() {
    if crate::support::skip_without_corpus("JSON-Schema-Test-Suite") {
        return;
    }
    let suite = Path::new(CORPORA).join("JSON-Schema-Test-Suite/tests");
    let mut checked = 0;
    for path in files(&suite, "json") {
        let (text, value, index) =
            parse_and_index(Format::Json, &path).unwrap_or_else(|| panic!("{}", path.display()));
        let offsets = Offsets::new(&text);
        let mut all = Vec::new();
        pointers(&value, &mut String::new(), &mut all);
        for pointer in &all {
            let located = index
                .get(pointer)
                .unwrap_or_else(|| panic!("{}: {pointer:?} not indexed", path.display()));
            let under: Value = serde_json::from_str(offsets.text(located.value))
                .unwrap_or_else(|e| panic!("{}: {pointer:?}: {e}", path.display()));
            assert_eq!(Some(&under), value.pointer(pointer), "{}", path.display());
            if let Some(key) = located.key {
                let key: String = serde_json::from_str(offsets.text(key)).unwrap();
                let token = pointer.rsplit('/').next().unwrap();
                assert_eq!(doc::escape_pointer_token(&key), token, "{}", path.display());
            }
            checked += 1;
        }
        assert_eq!(index.len(), all.len(), "{}: nothing extra", path.display());
    }
    assert!(checked > 10_000, "{checked} values checked");
}

#[test]
fn every_toml_test_value_has_a_span() {
    if crate::support::skip_without_corpus("toml-test") {
        return;
    }
    let suite = Path::new(CORPORA).join("toml-test/tests");
    let list = fs::read_to_string(suite.join("files-toml-1.0.0")).unwrap();
    let mut checked = 0;
    for case in list
        .lines()
        .filter(|l| l.starts_with("valid/") && l.ends_with(".toml"))
    {
        // The few valid cases that `parse` refuses (nan, inf) have nothing to index.
        let Some((text, value, index)) = parse_and_index(Format::Toml, &suite.join(case)) else {
            continue;
        };
        let offsets = Offsets::new(&text);
        let mut all = Vec::new();
        pointers(&value, &mut String::new(), &mut all);
        for pointer in &all {
            let located = index
                .get(pointer)
                .unwrap_or_else(|| panic!("{case}: {pointer:?} not indexed"));
            // Positions exist in the text, in order.
            assert!(
                located.value.start <= located.value.end,
                "{case}: {pointer:?}"
            );
            let _ = offsets.text(located.value);
            if let Some(key) = located.key {
                let raw = offsets.text(key);
                let key: toml_edit::Key = raw
                    .parse()
                    .unwrap_or_else(|e| panic!("{case}: {pointer:?}: {raw:?}: {e}"));
                let token = pointer.rsplit('/').next().unwrap();
                assert_eq!(doc::escape_pointer_token(key.get()), token, "{case}");
            }
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked} values checked");
}

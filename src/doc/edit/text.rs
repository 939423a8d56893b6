//! Byte ranges from the span index, for the JSON and YAML splices.

use std::ops::Range;

use serde_json::Value;

use crate::doc::span::LineIndex;
use crate::doc::{SpanIndex, escape_pointer_token};

use super::EditError;

/// A member of an object (with its key) or an element of an array, as byte ranges.
#[derive(Debug, Clone)]
pub(super) struct Child {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

impl Child {
    /// Where the member starts: its key, else its value.
    pub fn start(&self) -> usize {
        self.key.as_ref().map_or(self.value.start, |k| k.start)
    }
}

/// The byte range of the value at `pointer`, which must be indexed exactly.
pub(super) fn located(
    index: &SpanIndex,
    offsets: &LineIndex,
    pointer: &str,
) -> Result<(Range<usize>, Option<Range<usize>>), EditError> {
    let l = index.get(pointer).ok_or_else(|| {
        // Below an alias nothing is indexed: name the alias that stands there.
        let alias = index.nearest(pointer).and_then(|(_, l)| {
            let t = offsets.text()[offsets.range(l.value)].trim();
            t.starts_with('*')
                .then(|| (t.to_owned(), l.value.start.line))
        });
        EditError::Unsupported(match alias {
            Some((alias, line)) => format!(
                "`{pointer}` is inside the alias `{alias}` (line {line}); edit the anchored \
                 value it repeats, or the text by hand"
            ),
            None => format!(
                "`{pointer}` has no place of its own in the text (it comes from an alias or a \
                 merge key); edit it by hand"
            ),
        })
    })?;
    Ok((offsets.range(l.value), l.key.map(|k| offsets.range(k))))
}

/// The members or elements of the container `value` at `pointer`, in text order.
pub(super) fn children(
    index: &SpanIndex,
    offsets: &LineIndex,
    pointer: &str,
    value: &Value,
) -> Result<Vec<Child>, EditError> {
    let tokens: Vec<String> = match value {
        Value::Object(m) => m
            .keys()
            .map(|k| escape_pointer_token(k).into_owned())
            .collect(),
        Value::Array(a) => (0..a.len()).map(|i| i.to_string()).collect(),
        _ => Vec::new(),
    };
    let mut out = tokens
        .iter()
        .map(|t| {
            let (value, key) = located(index, offsets, &format!("{pointer}/{t}"))?;
            Ok(Child { key, value })
        })
        .collect::<Result<Vec<_>, EditError>>()?;
    out.sort_by_key(|c| c.start());
    Ok(out)
}

/// The value of the container a plan changes (it exists: the plan was resolved against `root`).
pub(super) fn parent_value<'v>(root: &'v Value, pointer: &str) -> &'v Value {
    root.pointer(pointer).unwrap_or(&Value::Null)
}

/// The offset where the line holding `at` starts.
pub(super) fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The offset of the line break ending the line holding `at` (or the end of the text).
pub(super) fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

/// The leading whitespace of the line holding `at`.
pub(super) fn indent_of(text: &str, at: usize) -> &str {
    let start = line_start(text, at);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The smallest indentation step of the text (spaces or a tab), else two spaces.
pub(super) fn indent_unit(text: &str) -> String {
    let mut best: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ws = &line[..line.len() - trimmed.len()];
        if !ws.is_empty() && best.is_none_or(|b| ws.len() < b.len()) {
            best = Some(ws);
        }
    }
    match best {
        Some(ws) if ws.starts_with('\t') => "\t".to_owned(),
        Some(ws) if ws.len() <= 8 => ws.to_owned(),
        _ => "  ".to_owned(),
    }
}

/// `text` with `range` replaced by `with`.
pub(super) fn splice(text: &str, range: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

//! TOML 1.0: values and spans, both read from toml_edit's [`Document`], which keeps the span of
//! every key, value and table header.
//!
//! Invariant: [`parse`] accepts exactly TOML 1.0 whose value JSON can hold. toml_edit reads
//! TOML 1.1; the syntax 1.1 added (newlines and trailing commas in inline tables, `\xHH` and
//! `\e` escapes, times without seconds) is refused here, because the programs that read these
//! files may not know it yet. Offset and local date-times, dates and times become RFC 3339
//! strings (their TOML text with `T` and `Z` upper-case); `nan` and `inf` are refused, since
//! JSON has no number for them and turning them into strings would change their type behind
//! the user's back. Keys keep the order in which they first appear.

mod index;

use std::ops::Range;

use serde_json::{Map, Number, Value};
use toml_edit::{Document, Item, TableLike, TomlError};

use super::span::{LineIndex, Span};
use super::{Limits, Problem, SpanIndex};
use crate::diagnostic::Code;

/// toml_edit's own bound on nested arrays and inline tables, and on the parts of one key.
const TOML_EDIT_LIMIT: usize = 80;

/// The deepest nesting we descend into, whatever [`Limits::max_depth`] says (see the JSON
/// module: the stack is finite). Dotted keys inside nested inline tables can nest deeper than
/// toml_edit's own limit.
const DEPTH_CAP: usize = 256;

pub(crate) fn parse(text: &str, limits: &Limits) -> Result<Value, Problem> {
    let doc = Document::parse(text).map_err(|e| error_problem(text, &e))?;
    let convert = Convert {
        text,
        max_depth: limits.max_depth.min(DEPTH_CAP),
    };
    let converted = convert.members(doc.as_table(), None, 1);
    if converted.is_err() {
        // Maybe refused for its depth: a document within the limit drops quickly as it is.
        drop_flat(doc);
    }
    converted.map(|(v, _)| v)
}

pub(crate) fn index(text: &str) -> SpanIndex {
    index::index(text)
}

/// Builds the value of a parsed document, checking what toml_edit lets through.
struct Convert<'a> {
    text: &'a str,
    max_depth: usize,
}

/// A converted value and the byte offset where it (or anything in it) first appears, so that
/// a table reopened later (`[a.b]`, `[c]`, `[a]`) keeps `a` first.
type Converted = (Value, usize);

impl Convert<'_> {
    fn problem(&self, code: Code, message: impl Into<String>, at: Range<usize>) -> Problem {
        Problem::new(code, message, Some(span(self.text, at)))
    }

    /// Refuses a container at nesting level `depth` (the root table is level 1).
    fn enter(&self, depth: usize, at: Option<Range<usize>>) -> Result<(), Problem> {
        if depth > self.max_depth {
            let at = at.unwrap_or(0..0);
            return Err(self.problem(
                Code::Limit,
                format!("nesting deeper than {} levels", self.max_depth),
                at,
            ));
        }
        Ok(())
    }

    /// A table or inline table, whose own span is `at`.
    fn members(
        &self,
        table: &dyn TableLike,
        at: Option<Range<usize>>,
        depth: usize,
    ) -> Result<Converted, Problem> {
        self.enter(depth, at.clone())?;
        let mut members = Vec::with_capacity(table.len());
        let mut in_order = true;
        for (name, item) in table.iter() {
            let key_at = table.key(name).and_then(|k| k.span());
            if let Some(key_at) = &key_at {
                self.escapes(key_at.clone())?;
            }
            let (value, first) = self.item(item, depth + 1)?;
            let first = key_at.map_or(first, |k| k.start.min(first));
            in_order &= members
                .last()
                .is_none_or(|&(previous, _, _)| previous <= first);
            members.push((first, name, value));
        }
        if !in_order {
            members.sort_by_key(|&(first, _, _)| first);
        }
        let first = members
            .first()
            .map_or(usize::MAX, |&(first, _, _)| first)
            .min(at.map_or(usize::MAX, |r| r.start));
        let mut map = Map::with_capacity(members.len());
        for (_, name, value) in members {
            map.insert(name.to_owned(), value);
        }
        Ok((Value::Object(map), first))
    }

    fn item(&self, item: &Item, depth: usize) -> Result<Converted, Problem> {
        match item {
            Item::None => Ok((Value::Null, usize::MAX)),
            Item::Value(value) => self.value(value, depth),
            Item::Table(table) => self.members(table, table.span(), depth),
            Item::ArrayOfTables(tables) => {
                self.enter(depth, tables.span())?;
                let mut items = Vec::with_capacity(tables.len());
                for table in tables.iter() {
                    items.push(self.members(table, table.span(), depth + 1)?.0);
                }
                let first = tables.span().map_or(usize::MAX, |r| r.start);
                Ok((Value::Array(items), first))
            }
        }
    }

    fn value(&self, value: &toml_edit::Value, depth: usize) -> Result<Converted, Problem> {
        use toml_edit::Value as V;
        let at = value.span();
        let first = at.as_ref().map_or(usize::MAX, |r| r.start);
        let converted = match value {
            V::String(s) => {
                if let Some(at) = &at {
                    self.escapes(at.clone())?;
                }
                Value::String(s.value().clone())
            }
            V::Integer(i) => Value::Number((*i.value()).into()),
            V::Float(f) => match Number::from_f64(*f.value()) {
                Some(n) => Value::Number(n),
                None => {
                    let at = at.unwrap_or(0..0);
                    let raw = self.text.get(at.clone()).unwrap_or("nan");
                    return Err(self.problem(
                        Code::Parse,
                        format!(
                            "`{raw}` cannot be represented in JSON, which has no NaN or infinity"
                        ),
                        at,
                    ));
                }
            },
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Datetime(d) => Value::String(self.datetime(d.value(), at)?),
            V::Array(array) => {
                self.enter(depth, at)?;
                let mut items = Vec::with_capacity(array.len());
                for item in array.iter() {
                    items.push(self.value(item, depth + 1)?.0);
                }
                Value::Array(items)
            }
            V::InlineTable(table) => {
                if let Some(at) = &at {
                    self.inline_table_1_0(table, at.clone())?;
                }
                return self.members(table, at, depth);
            }
        };
        Ok((converted, first))
    }

    /// The datetime's TOML text with a `T` between date and time and an upper-case `Z`: RFC
    /// 3339 (a local date-time, date or time is the matching part of it).
    fn datetime(
        &self,
        datetime: &toml_edit::Datetime,
        at: Option<Range<usize>>,
    ) -> Result<String, Problem> {
        let Some(raw) = at.clone().and_then(|at| self.text.get(at)) else {
            return Ok(datetime.to_string());
        };
        if datetime.time.is_some_and(|t| t.second.is_none()) {
            return Err(self.toml_1_1("a time without seconds", at.unwrap_or(0..0)));
        }
        let mut text = raw.to_owned();
        if datetime.date.is_some() && datetime.time.is_some() {
            // "YYYY-MM-DD" is always 10 characters; the separator follows.
            text.replace_range(10..11, "T");
        }
        if text.ends_with('z') {
            text.pop();
            text.push('Z');
        }
        Ok(text)
    }

    fn toml_1_1(&self, what: &str, at: Range<usize>) -> Problem {
        self.problem(
            Code::Parse,
            format!("{what} is TOML 1.1, and this tool reads TOML 1.0"),
            at,
        )
    }

    /// Refuses the escapes TOML 1.1 added (`\xHH`, `\e`) in the basic string or quoted key
    /// written at `at`.
    fn escapes(&self, at: Range<usize>) -> Result<(), Problem> {
        let raw = self.text.get(at.clone()).unwrap_or_default();
        if !raw.starts_with('"') {
            return Ok(());
        }
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' {
                match bytes.get(i + 1) {
                    Some(b'x') => {
                        let end = (at.start + i + 4).min(at.end);
                        return Err(self.toml_1_1("the escape `\\x`", at.start + i..end));
                    }
                    Some(b'e') => {
                        return Err(
                            self.toml_1_1("the escape `\\e`", at.start + i..at.start + i + 2)
                        );
                    }
                    _ => i += 2,
                }
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Refuses what TOML 1.1 added to inline tables: newlines (and so comments) outside the
    /// values, and a trailing comma.
    fn inline_table_1_0(
        &self,
        table: &toml_edit::InlineTable,
        at: Range<usize>,
    ) -> Result<(), Problem> {
        let Some(raw) = self.text.get(at.clone()) else {
            return Ok(());
        };
        // The text between the values: blank every value, which may hold newlines.
        let mut gaps = raw.as_bytes().to_vec();
        let mut last_value_end = 0;
        for range in value_spans(table) {
            let (start, end) = (range.start - at.start, range.end - at.start);
            if end <= gaps.len() {
                gaps[start..end].fill(b' ');
                last_value_end = last_value_end.max(end);
            }
        }
        if gaps.contains(&b'\n') {
            return Err(self.toml_1_1("a newline inside an inline table", at));
        }
        if table.trailing_comma() {
            let tail = &gaps[last_value_end..];
            if let Some(comma) = tail.iter().position(|&b| b == b',') {
                let comma = at.start + last_value_end + comma;
                return Err(self.toml_1_1("a trailing comma in an inline table", comma..comma + 1));
            }
        }
        Ok(())
    }
}

/// Drops a document without recursing once per level of nesting, as the drop glue does: dotted
/// keys in nested inline tables reach thousands of levels within toml_edit's limits.
fn drop_flat(doc: Document<&str>) {
    let mut stack = vec![doc.into_item()];
    while let Some(item) = stack.pop() {
        match item {
            Item::Table(t) => stack.extend(t.into_iter().map(|(_, i)| i)),
            Item::ArrayOfTables(a) => stack.extend(a.into_iter().map(Item::Table)),
            Item::Value(toml_edit::Value::Array(a)) => {
                stack.extend(a.into_iter().map(Item::Value));
            }
            Item::Value(toml_edit::Value::InlineTable(t)) => {
                stack.extend(t.into_iter().map(|(_, v)| Item::Value(v)));
            }
            Item::Value(_) | Item::None => {}
        }
    }
}

/// The spans of the values written in an inline table, through its dotted keys.
fn value_spans(table: &dyn TableLike) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for (_, item) in table.iter() {
        match item {
            Item::Value(toml_edit::Value::InlineTable(t)) if t.is_dotted() => {
                spans.extend(value_spans(t));
            }
            Item::Value(v) => spans.extend(v.span()),
            _ => {}
        }
    }
    spans
}

/// The span of bytes `at` in `text`.
fn span(text: &str, at: Range<usize>) -> Span {
    LineIndex::new(text).span(at.start, at.end)
}

/// Turns toml_edit's error into a located problem.
fn error_problem(text: &str, error: &TomlError) -> Problem {
    if index::is_duplicate(error) {
        return index::duplicate(text, error);
    }
    let message = error.message();
    let at = error.span().map(|at| widen(text, at));
    if message.starts_with("cannot recurse further") {
        return Problem::new(
            Code::Limit,
            format!("arrays and inline tables nested deeper than {TOML_EDIT_LIMIT} levels"),
            at.map(|at| span(text, at)),
        );
    }
    if message == "recursion limit" {
        return Problem::new(
            Code::Limit,
            format!("a key of more than {TOML_EDIT_LIMIT} dotted parts"),
            long_key(text).map(|at| span(text, at)),
        );
    }
    Problem::new(
        Code::Parse,
        lower_first(message.trim_end_matches('.')),
        at.map(|at| span(text, at)),
    )
}

/// An empty range widened to the character there, so that a caret has something under it
/// (unless it is the end of the text or of a line).
fn widen(text: &str, at: Range<usize>) -> Range<usize> {
    if at.start != at.end {
        return at;
    }
    match text.get(at.start..).and_then(|rest| rest.chars().next()) {
        Some(c) if c != '\n' && c != '\r' => at.start..at.start + c.len_utf8(),
        _ => at,
    }
}

/// Where a key of too many dotted parts is, for toml_edit's error that has no span: the first
/// line whose key (before `=`, or inside a `[header]`) has that many dots.
fn long_key(text: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key = if trimmed.starts_with('[') {
            trimmed.split(']').next()
        } else {
            trimmed.split('=').next()
        }
        .unwrap_or_default();
        if key.matches('.').count() >= TOML_EDIT_LIMIT {
            let start = offset + (line.len() - trimmed.len());
            return Some(start..start + key.trim_end().len());
        }
        offset += line.len();
    }
    None
}

/// `message` with a lower-case first letter, unless it starts an acronym.
fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => first
            .to_lowercase()
            .chain(message[first.len_utf8()..].chars())
            .collect(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;

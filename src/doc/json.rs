//! JSON (RFC 8259): values through serde_json, spans through a scanner of our own.
//!
//! Invariant: [`parse`] accepts exactly what serde_json accepts (plus a leading byte order
//! mark), minus duplicate keys and nesting past [`Limits::max_depth`] (at most 256), and never
//! recurses deeper than that, so no input can overflow the stack. It builds the value in one
//! pass with no spans; only when it fails does the scanner in `scan` re-read the text to name
//! both places of a duplicate key.

pub(crate) mod jsonc;
mod scan;
mod tape;

use std::cell::{Cell, RefCell};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::span::LineIndex;
use super::{Limits, Problem, SpanIndex};
use crate::diagnostic::Code;

pub(crate) use tape::parse_tape;

/// The deepest nesting we ever descend into, whatever [`Limits::max_depth`] says: each level
/// costs a few stack frames (about 3 KiB unoptimized), and a thread may have only 2 MiB.
const DEPTH_CAP: usize = 256;

/// A leading byte order mark, which RFC 8259 (§8.1) lets a parser ignore: editors on Windows
/// write one, and YAML and TOML accept it, so JSON does too.
const BOM: &str = "\u{feff}";

pub(crate) fn parse(text: &str, limits: &Limits) -> Result<Value, Problem> {
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let max_depth = limits.max_depth.min(DEPTH_CAP);
    let failure = Cell::new(None);
    let scratch = RefCell::default();
    let mut de = serde_json::Deserializer::from_str(body);
    // Our seed counts depth itself and stops at `max_depth`; serde_json's fixed limit of 128
    // (which rejects 128 levels) would otherwise cap every configured limit.
    de.disable_recursion_limit();
    let seed = ValueSeed {
        depth: 1,
        max_depth,
        failure: &failure,
        scratch: &scratch,
    };
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| problem(text, text.len() - body.len(), &e, failure.get(), max_depth))
}

pub(crate) fn index(text: &str) -> SpanIndex {
    scan::index(text)
}

/// What went wrong inside the seed, beside serde_json's own syntax errors.
#[derive(Debug, Clone, Copy)]
enum Failure {
    DuplicateKey,
    TooDeep,
}

/// Builds a `Value` as serde_json's own visitor does, but refuses duplicate keys and nesting
/// deeper than `max_depth`. `depth` is the level a container at this place would have (the
/// root container is level 1).
///
/// Members and elements are gathered on shared stacks and moved into a container of exactly
/// their number: a map that grows one insert at a time keeps up to twice the room it needs,
/// which for a document of small objects is a third of its memory.
#[derive(Clone, Copy)]
struct ValueSeed<'f> {
    depth: usize,
    max_depth: usize,
    failure: &'f Cell<Option<Failure>>,
    scratch: &'f RefCell<Scratch>,
}

/// The members and elements of the containers being read, innermost last.
#[derive(Default)]
struct Scratch {
    members: Vec<(String, Value)>,
    items: Vec<Value>,
}

impl ValueSeed<'_> {
    fn child(self) -> Self {
        ValueSeed {
            depth: self.depth + 1,
            ..self
        }
    }

    fn fail<E: de::Error>(self, failure: Failure) -> E {
        self.failure.set(Some(failure));
        // The message is replaced by `problem`; serde_json adds the position we need.
        E::custom("rejected")
    }

    fn enter<E: de::Error>(self) -> Result<(), E> {
        if self.depth > self.max_depth {
            return Err(self.fail(Failure::TooDeep));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json's parser never yields a non-finite float ("number out of range").
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mark = self.scratch.borrow().items.len();
        while let Some(item) = seq.next_element_seed(self.child())? {
            self.scratch.borrow_mut().items.push(item);
        }
        let items: Vec<Value> = self.scratch.borrow_mut().items.drain(mark..).collect();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mark = self.scratch.borrow().members.len();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(self.child())?;
            self.scratch.borrow_mut().members.push((key, value));
        }
        let mut scratch = self.scratch.borrow_mut();
        let mut map = Map::with_capacity(scratch.members.len() - mark);
        for (key, value) in scratch.members.drain(mark..) {
            // A duplicate is found once its object is read, so the scanner names the place
            // (see `problem`).
            if map.insert(key, value).is_some() {
                return Err(self.fail(Failure::DuplicateKey));
            }
        }
        Ok(Value::Object(map))
    }
}

/// Turns serde_json's error into a located problem. `skipped` bytes (a byte order mark) were
/// cut from the front of `text` before serde_json saw it.
fn problem(
    text: &str,
    skipped: usize,
    error: &serde_json::Error,
    failure: Option<Failure>,
    max_depth: usize,
) -> Problem {
    if let Some(Failure::DuplicateKey) = failure
        && let Some(dup) = scan::first_duplicate(text)
    {
        let mut p = Problem::new(
            Code::DuplicateKey,
            format!("duplicate key `{}`", dup.key.escape_debug()),
            Some(dup.second),
        );
        p.related = Some((dup.first, "first defined here".to_owned()));
        return p;
    }
    let mut at = if error.is_eof() {
        // Where the input stops short, not where serde_json's column happens to point.
        text.len()
    } else {
        skipped + byte_offset(&text[skipped..], error.line(), error.column())
    };
    if let Some(Failure::TooDeep) = failure {
        // serde_json's position may have moved past the refused bracket (it tries to close
        // the array before returning the error), so find the bracket itself.
        at = scan::too_deep(text, max_depth).unwrap_or(at);
    }
    let lines = LineIndex::new(text);
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    let span = Some(lines.span(at, end));
    match failure {
        Some(Failure::TooDeep) => Problem::new(
            Code::Limit,
            format!("nesting deeper than {max_depth} levels"),
            span,
        ),
        // A duplicate the scanner could not find again would be a bug in one of the two; the
        // finding is still a duplicate key, reported where serde_json stopped.
        Some(Failure::DuplicateKey) => Problem::new(Code::DuplicateKey, "duplicate key", span),
        None => Problem::new(Code::Parse, message(error), span),
    }
}

/// serde_json's message without its " at line L column C" suffix, in our style: lower-case
/// start, no trailing period.
fn message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let text = match full.rfind(" at line ") {
        Some(cut) if error.line() > 0 => &full[..cut],
        _ => &full[..],
    };
    let text = text.trim_end_matches('.');
    if let Some(rest) = text.strip_prefix("EOF ") {
        return format!("unexpected end of input {rest}");
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        // Lower-case a capital that starts a word, not an acronym.
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_owned(),
    }
}

/// The byte offset of serde_json's 1-based `line` and `column`. The column counts bytes and is
/// 0 when the last byte read was a newline (the position is then the start of `line`).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let mut at = (line_start + column.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests;

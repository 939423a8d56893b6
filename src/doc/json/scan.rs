//! Where every value of a JSON text is, found without building the value.
//!
//! Invariant: never panics and never recurses, whatever the text (an explicit stack holds the
//! open containers). It stops quietly at the first byte that is not JSON: `index` is called on
//! text that parsed, and `first_duplicate` on text that parsed up to its duplicate.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

use crate::doc::span::{Located, Pos, Span, SpanIndex, escape_pointer_token};

/// A key that appears twice in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Duplicate {
    /// The key, unescaped.
    pub key: String,
    /// Its first appearance (the key, with its quotes).
    pub first: Span,
    /// Its second appearance.
    pub second: Span,
}

/// The span of every value (and member key), by JSON pointer.
pub(super) fn index(text: &str) -> SpanIndex {
    let mut sink = Sink::Index(SpanIndex::default());
    let _ = Scanner::new(text).run(&mut sink);
    match sink {
        Sink::Index(index) => index,
        Sink::Duplicates(_) => unreachable!("the sink keeps its kind"),
    }
}

/// The first key, in document order, that repeats a key of its object.
pub(super) fn first_duplicate(text: &str) -> Option<Duplicate> {
    let mut scanner = Scanner::new(text);
    let _ = scanner.run(&mut Sink::Duplicates(HashMap::new()));
    scanner.found
}

/// The byte offset of the first opening bracket nested deeper than `max_depth` levels.
pub(super) fn too_deep(text: &str, max_depth: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => {
                // Skip the string, escapes and all.
                at += 1;
                while let Some(&c) = bytes.get(at) {
                    match c {
                        b'"' => break,
                        b'\\' => at += 2,
                        _ => at += 1,
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// What the scan is for: recording every place, or remembering each member's key until one
/// repeats (members are told apart by their pointer, so a global map serves every object).
enum Sink {
    Index(SpanIndex),
    Duplicates(HashMap<String, Span>),
}

/// An open container: where its pointer ends in the current pointer, where it starts, and the
/// key it is the value of.
struct Frame {
    base: usize,
    start: Pos,
    key: Option<Span>,
    /// The index of the current element, for arrays; `None` for objects.
    next: Option<usize>,
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
    lines: Locator<'a>,
    found: Option<Duplicate>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let at = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Scanner {
            text,
            at,
            lines: Locator::new(text),
            found: None,
        }
    }

    /// Scans the text, feeding `sink`, until its end, the first thing that is not JSON, or (for
    /// a sink of duplicates) the first duplicate key, kept in `found`.
    fn run(&mut self, sink: &mut Sink) -> Option<()> {
        let mut pointer = String::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut key: Option<Span> = None;
        loop {
            // A value starts here, at `pointer`, with `key` as its member key.
            self.skip_ws();
            let start_at = self.at;
            let start = self.lines.pos(start_at);
            let mut closed = match self.peek()? {
                b'{' | b'[' => {
                    let array = self.peek()? == b'[';
                    self.at += 1;
                    stack.push(Frame {
                        base: pointer.len(),
                        start,
                        key: key.take(),
                        next: array.then_some(0),
                    });
                    self.skip_ws();
                    let close = if array { b']' } else { b'}' };
                    if self.peek()? == close {
                        self.at += 1;
                        true
                    } else if array {
                        pointer.push_str("/0");
                        continue;
                    } else {
                        key = Some(self.member(&mut pointer, sink)?);
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                    let value = Span {
                        start,
                        end: self.lines.pos(self.at),
                    };
                    record(sink, &pointer, value, key.take());
                    false
                }
                _ => {
                    self.scalar()?;
                    let value = Span {
                        start,
                        end: self.lines.pos(self.at),
                    };
                    record(sink, &pointer, value, key.take());
                    false
                }
            };
            // A value ended; close containers until one has a next member or element.
            loop {
                if closed {
                    let frame = stack.pop()?;
                    let value = Span {
                        start: frame.start,
                        end: self.lines.pos(self.at),
                    };
                    record(sink, &pointer, value, frame.key);
                }
                let Some(frame) = stack.last_mut() else {
                    return Some(());
                };
                pointer.truncate(frame.base);
                self.skip_ws();
                match (self.peek()?, frame.next.as_mut()) {
                    (b',', Some(next)) => {
                        self.at += 1;
                        *next += 1;
                        let _ = write!(pointer, "/{next}");
                        break;
                    }
                    (b',', None) => {
                        self.at += 1;
                        key = Some(self.member(&mut pointer, sink)?);
                        break;
                    }
                    (b']', Some(_)) | (b'}', None) => {
                        self.at += 1;
                        closed = true;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Reads `"key":`, appends the key to `pointer`, and returns the key's span.
    fn member(&mut self, pointer: &mut String, sink: &mut Sink) -> Option<Span> {
        self.skip_ws();
        if self.peek()? != b'"' {
            return None;
        }
        let start_at = self.at;
        let start = self.lines.pos(start_at);
        self.string()?;
        let span = Span {
            start,
            end: self.lines.pos(self.at),
        };
        let raw = &self.text[start_at..self.at];
        let key: String = if raw.contains('\\') {
            serde_json::from_str(raw).ok()?
        } else {
            raw[1..raw.len() - 1].to_owned()
        };
        pointer.push('/');
        pointer.push_str(&escape_pointer_token(&key));
        if let Sink::Duplicates(seen) = sink {
            match seen.entry(pointer.clone()) {
                Entry::Occupied(first) => {
                    self.found = Some(Duplicate {
                        key,
                        first: *first.get(),
                        second: span,
                    });
                    return None;
                }
                Entry::Vacant(slot) => {
                    slot.insert(span);
                }
            }
        }
        self.skip_ws();
        if self.peek()? != b':' {
            return None;
        }
        self.at += 1;
        Some(span)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Moves past the string that starts here (at its opening quote).
    fn string(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut at = self.at + 1;
        loop {
            match *bytes.get(at)? {
                b'"' => break,
                b'\\' => at += 2,
                _ => at += 1,
            }
        }
        self.at = at + 1;
        Some(())
    }

    /// Moves past a number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        while let Some(&b) = bytes.get(self.at) {
            if matches!(
                b,
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b':' | b'"'
            ) {
                break;
            }
            self.at += 1;
        }
        // Stop at a boundary that is not a character's (only in text that is not JSON).
        (self.at > start && self.text.is_char_boundary(self.at)).then_some(())
    }
}

fn record(sink: &mut Sink, pointer: &str, value: Span, key: Option<Span>) {
    if let Sink::Index(index) = sink {
        index.insert(pointer.to_owned(), Located { value, key });
    }
}

/// Positions of byte offsets asked for in increasing order, in time linear in the text (a
/// minified document is one long line, where [`LineIndex`](crate::doc::span::LineIndex) would
/// count each line's characters again for every value).
struct Locator<'a> {
    bytes: &'a [u8],
    at: usize,
    pos: Pos,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            bytes: text.as_bytes(),
            at: 0,
            pos: Pos { line: 1, column: 1 },
        }
    }

    /// The position of byte `offset`, which is not before the last one asked for.
    fn pos(&mut self, offset: usize) -> Pos {
        let offset = offset.min(self.bytes.len());
        if offset < self.at {
            // Not reached by the scanner; kept correct anyway.
            *self = Locator {
                bytes: self.bytes,
                ..Locator::new("")
            };
        }
        for &b in &self.bytes[self.at..offset] {
            if b == b'\n' {
                self.pos.line += 1;
                self.pos.column = 1;
            } else if b & 0xc0 != 0x80 {
                // Count a character at its first byte, not at UTF-8 continuation bytes.
                self.pos.column += 1;
            }
        }
        self.at = offset;
        self.pos
    }
}

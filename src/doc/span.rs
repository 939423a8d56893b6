//! Positions, spans, and the index from JSON pointer to source span.

use std::collections::HashMap;

use super::Problem;
use crate::diagnostic::Code;

/// A 1-based line and column; the column counts Unicode scalar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

/// A range of source text: `start` inclusive, `end` exclusive (the position just after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    /// First character.
    pub start: Pos,
    /// Just after the last character.
    pub end: Pos,
}

impl Span {
    /// The span from `start_line:start_column` to just before `end_line:end_column` (1-based).
    pub fn new(start_line: u32, start_column: u32, end_line: u32, end_column: u32) -> Self {
        Span {
            start: Pos {
                line: start_line,
                column: start_column,
            },
            end: Pos {
                line: end_line,
                column: end_column,
            },
        }
    }
}

/// Where a value (and, for an object member, its key) sits in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The value.
    pub value: Span,
    /// The key, for members of an object (table, mapping).
    pub key: Option<Span>,
}

/// JSON pointer (RFC 6901, e.g. `/server/port`, `/items/0`; the root is ``) → where it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanIndex {
    map: HashMap<String, Located>,
    /// YAML: the pointer of each alias (and of each key a `<<` alias merges in) → the anchor
    /// it names.
    anchors: HashMap<String, Anchor>,
}

/// The anchor an alias names: `&name`, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The anchor's name, without the `&`.
    pub name: String,
    /// The `&name` token.
    pub span: Span,
}

impl SpanIndex {
    /// Records where `pointer` is. A later insert for the same pointer wins (and what it
    /// replaced is no longer an alias).
    pub fn insert(&mut self, pointer: String, located: Located) {
        if !self.anchors.is_empty() {
            self.anchors.remove(&pointer);
        }
        self.map.insert(pointer, located);
    }

    /// Where exactly `pointer` is.
    pub fn get(&self, pointer: &str) -> Option<&Located> {
        self.map.get(pointer)
    }

    /// Records that the value at `pointer` (already inserted) is an alias of `anchor`.
    pub fn insert_anchor(&mut self, pointer: String, anchor: Anchor) {
        self.anchors.insert(pointer, anchor);
    }

    /// The anchor of the alias indexed at `pointer`, if that value is an alias.
    pub fn anchor_of(&self, pointer: &str) -> Option<&Anchor> {
        self.anchors.get(pointer)
    }

    /// `pointer` itself or, failing that, its nearest ancestor that is indexed (a missing
    /// property is reported at the object that lacks it).
    pub fn nearest<'a>(&self, mut pointer: &'a str) -> Option<(&'a str, &Located)> {
        loop {
            if let Some(l) = self.map.get(pointer) {
                return Some((pointer, l));
            }
            let cut = pointer.rfind('/')?;
            pointer = &pointer[..cut];
        }
    }

    /// How many pointers are indexed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Nothing indexed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Escapes one reference token of a JSON pointer (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1").into()
    } else {
        token.into()
    }
}

/// The text, or a `parse` problem located at the first byte that is not UTF-8.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // The valid prefix is UTF-8, so it can be measured in characters.
        let prefix = std::str::from_utf8(good).unwrap_or_default();
        let at = pos_at(prefix, prefix.len());
        Problem::new(
            Code::Parse,
            format!(
                "invalid UTF-8 (byte 0x{:02x} at offset {})",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ),
            Some(Span {
                start: at,
                end: Pos {
                    line: at.line,
                    column: at.column + 1,
                },
            }),
        )
    })
}

/// The position of byte `offset` in `text` (which must be a char boundary or the end).
pub(crate) fn pos_at(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Pos {
        line: line as u32,
        column: column as u32,
    }
}

/// Converts between byte offsets and positions quickly, for many lookups in one text.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// The text indexed.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The byte offset of `pos` (the end of the text for a position past it).
    pub fn offset(&self, pos: Pos) -> usize {
        let line = (pos.line as usize).saturating_sub(1);
        let Some(&start) = self.starts.get(line) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth((pos.column as usize).saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    /// The bytes of `span`.
    pub fn range(&self, span: Span) -> std::ops::Range<usize> {
        self.offset(span.start)..self.offset(span.end)
    }

    /// The position of byte `offset` (clamped to the text, and back to a char boundary).
    pub fn pos(&self, offset: usize) -> Pos {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        Pos {
            line: line as u32 + 1,
            column: column as u32,
        }
    }

    /// The span of bytes `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.pos(start),
            end: self.pos(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let text = "ab\nçd\n";
        let li = LineIndex::new(text);
        assert_eq!(li.pos(0), Pos { line: 1, column: 1 });
        assert_eq!(li.pos(3), Pos { line: 2, column: 1 });
        assert_eq!(
            li.pos(5),
            Pos { line: 2, column: 2 },
            "ç is 2 bytes, 1 column"
        );
        assert_eq!(pos_at(text, 5), li.pos(5));
    }

    #[test]
    fn nearest_falls_back_to_the_closest_ancestor() {
        let mut ix = SpanIndex::default();
        let sp = Span {
            start: Pos { line: 1, column: 1 },
            end: Pos { line: 1, column: 2 },
        };
        ix.insert(
            String::new(),
            Located {
                value: sp,
                key: None,
            },
        );
        ix.insert(
            "/a".into(),
            Located {
                value: sp,
                key: None,
            },
        );
        assert_eq!(ix.nearest("/a/b/c").map(|(p, _)| p), Some("/a"));
        assert_eq!(ix.nearest("/x").map(|(p, _)| p), Some(""));
    }

    #[test]
    fn invalid_utf8_is_located() {
        let p = utf8(b"ok\nab\xff").unwrap_err();
        assert_eq!(p.span.unwrap().start, Pos { line: 2, column: 3 });
        assert!(p.message.contains("0xff"), "{}", p.message);
    }
}

//! What the event scans share: one way to start granit-parser, the text of a mapping key as
//! serde-saphyr reads it, merge keys, integer key identity, block scalar extents, and byte
//! offsets → positions in O(distance) for a forward-moving walk.

use std::borrow::Cow;

use granit_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span as RawSpan, Tag};

use crate::doc::Pos;
use crate::doc::span::LineIndex;

use super::scalar;

/// One parser event with its span, as granit-parser yields them.
pub(super) type Raw<'a> = Result<(Event<'a>, RawSpan), ScanError>;

/// The event stream of `text` with the nesting bounds serde-saphyr uses for a budget depth of
/// `max_depth` (so a scan stops where the value parse would), no comment events and no anchor
/// metadata events.
pub(super) fn events(text: &str, max_depth: usize) -> impl Iterator<Item = Raw<'_>> {
    let mut options = granit_parser::Options::default();
    options.emit_comments = false;
    options.flow_nesting_limit = max_depth.saturating_add(1);
    options.block_nesting_limit = options.block_nesting_limit.max(max_depth.saturating_add(1));
    Parser::new_from_str_with_options(text, options)
}

/// Byte offset of a marker. Parsers over `&str` always carry it; the character index is a
/// fallback that is only exact for ASCII text.
pub(super) fn byte(marker: &Marker) -> usize {
    marker.byte_offset().unwrap_or_else(|| marker.index())
}

/// The text of a scalar used as a mapping key, as serde-saphyr gives it to a string key with
/// `null_as_string`: the scalar's value, except that an omitted key (granit-parser reports it
/// as a plain `~` with an `empty` span) is the empty string.
pub(super) fn key_text(value: &str, style: ScalarStyle, empty: bool) -> &str {
    if style == ScalarStyle::Plain && value == "~" && empty {
        ""
    } else {
        value
    }
}

/// `<<` as a YAML 1.1 merge key: plain and untagged, or tagged `!!merge`.
pub(super) fn is_merge_key(value: &str, style: ScalarStyle, tag: Option<&Cow<'_, Tag>>) -> bool {
    value == "<<"
        && match tag {
            None => style == ScalarStyle::Plain,
            Some(t) => t.handle() == "tag:yaml.org,2002:" && t.suffix() == "merge",
        }
}

/// A scalar key as serde-saphyr compares keys for duplicates: plain integers by value (`0x0B`
/// and `11` are one key; see [`scalar::integer_identity`]), other scalars by their text, null
/// or not (an omitted key and a plain `~` are one null key, `'~'` is another; `true` and
/// `'true'` are one key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyIdentity {
    /// Negative or not, and the magnitude.
    Integer(bool, u128),
    Scalar(ScalarKind, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarKind {
    Null,
    Other,
}

pub(super) fn key_identity(value: &str, style: ScalarStyle) -> KeyIdentity {
    let plain = style == ScalarStyle::Plain;
    if plain && let Some((negative, magnitude)) = scalar::integer_identity(value) {
        return KeyIdentity::Integer(negative, magnitude);
    }
    let kind = if plain && scalar::is_nullish(value) {
        ScalarKind::Null
    } else {
        ScalarKind::Other
    };
    KeyIdentity::Scalar(kind, value.to_owned())
}

/// The extent of a block scalar (`|` or `>`): from its header indicator to the end of its last
/// non-blank content line. granit-parser's span covers only the content, including trailing
/// blank lines, and is empty for an empty scalar; `after` is where the previous event ended, so
/// the header lies between it and the content.
pub(super) fn block_scalar_extent(
    text: &str,
    after: usize,
    content: (usize, usize),
) -> (usize, usize) {
    let (start, end) = (content.0.min(text.len()), content.1.min(text.len()));
    let header = find_block_indicator(text, after.min(start), start);
    let Some(h) = header else {
        return (start, start.max(trim_end(text, start, end)));
    };
    let bytes = text.as_bytes();
    let mut header_end = h + 1;
    while header_end < start && matches!(bytes[header_end], b'+' | b'-' | b'0'..=b'9') {
        header_end += 1;
    }
    let content_end = trim_end(text, start, end);
    (
        h,
        if content_end > start {
            content_end.max(header_end)
        } else {
            header_end
        },
    )
}

fn trim_end(text: &str, start: usize, end: usize) -> usize {
    text.get(start..end).map_or(start, |s| {
        start + s.trim_end_matches([' ', '\t', '\r', '\n']).len()
    })
}

/// The first `|` or `>` in `text[from..to]` that is not inside a tag, an anchor or a comment.
fn find_block_indicator(text: &str, from: usize, to: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut after_space = true;
    while i < to {
        match bytes[i] {
            b'|' | b'>' => return Some(i),
            b'#' if after_space => {
                while i < to && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'!' | b'&' => {
                while i < to && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                continue;
            }
            b => after_space = b.is_ascii_whitespace(),
        }
        i += 1;
    }
    None
}

/// Byte offset → [`Pos`] for a walk whose offsets mostly move forward: a step forward costs the
/// distance moved, any other lookup falls back to [`LineIndex`]. Keeps a single-line document of
/// megabytes linear instead of quadratic.
pub(super) struct Positions<'a> {
    text: &'a str,
    lines: LineIndex<'a>,
    last: (usize, Pos),
}

impl<'a> Positions<'a> {
    pub fn new(text: &'a str) -> Self {
        Positions {
            text,
            lines: LineIndex::new(text),
            last: (0, Pos { line: 1, column: 1 }),
        }
    }

    pub fn pos(&mut self, offset: usize) -> Pos {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let (last_offset, last_pos) = self.last;
        let pos = if offset >= last_offset {
            let gap = &self.text[last_offset..offset];
            match gap.rfind('\n') {
                None => Pos {
                    line: last_pos.line,
                    column: last_pos.column + gap.chars().count() as u32,
                },
                Some(nl) => Pos {
                    line: last_pos.line + gap.bytes().filter(|&b| b == b'\n').count() as u32,
                    column: gap[nl + 1..].chars().count() as u32 + 1,
                },
            }
        } else {
            self.lines.pos(offset)
        };
        self.last = (offset, pos);
        pos
    }

    pub fn span(&mut self, start: usize, end: usize) -> crate::doc::Span {
        let start = self.pos(start);
        let end = self.pos(end);
        crate::doc::Span { start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_agree_with_the_line_index_in_any_order() {
        let text = "ab\nçd é\n\n日本語: x\n🎉 z";
        let li = LineIndex::new(text);
        let offsets: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let mut forward = Positions::new(text);
        for &o in &offsets {
            assert_eq!(forward.pos(o), li.pos(o), "forward at {o}");
        }
        let mut backward = Positions::new(text);
        for &o in offsets.iter().rev() {
            assert_eq!(backward.pos(o), li.pos(o), "backward at {o}");
        }
    }

    #[test]
    fn integer_keys_compare_by_value() {
        use ScalarStyle::*;
        let int = |negative, magnitude| KeyIdentity::Integer(negative, magnitude);
        let text = |kind, t: &str| KeyIdentity::Scalar(kind, t.to_owned());
        assert_eq!(key_identity("0xB", Plain), int(false, 11));
        assert_eq!(key_identity("0X0B", Plain), int(false, 11));
        assert_eq!(key_identity("11", Plain), int(false, 11));
        assert_eq!(key_identity("-0o17", Plain), int(true, 15));
        assert_eq!(
            key_identity("11", DoubleQuoted),
            text(ScalarKind::Other, "11")
        );
        assert_eq!(key_identity("1.5", Plain), text(ScalarKind::Other, "1.5"));
        assert_eq!(key_identity("-", Plain), text(ScalarKind::Other, "-"));
        assert_eq!(key_identity("", Plain), text(ScalarKind::Null, ""));
        assert_eq!(
            key_identity("~", SingleQuoted),
            text(ScalarKind::Other, "~")
        );
    }

    #[test]
    fn block_scalar_extent_runs_from_the_indicator_to_the_last_text() {
        let text = "a: !t &x |2- # c|>\n   text\n\n  more\n\nb: >\n\nc: 1\n";
        let content = (text.find("   text").unwrap(), text.find("b:").unwrap());
        let (s, e) = block_scalar_extent(text, 1, content);
        assert_eq!(&text[s..e], "|2- # c|>\n   text\n\n  more");
        let after_b = text.find("b:").unwrap() + 1;
        let c = text.find("c:").unwrap();
        let (s, e) = block_scalar_extent(text, after_b, (c, c));
        assert_eq!(&text[s..e], ">");
    }
}

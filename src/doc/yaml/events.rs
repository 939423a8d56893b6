//! What the event scans share: one way to start granit-parser, byte offsets of markers, and
//! mapping keys compared as serde-saphyr compares them.

use granit_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span as RawSpan};

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

/// A scalar key as serde-saphyr compares keys for duplicates: plain integers by value (`0x0B`,
/// `11` and `1_1` are one key), other scalars by their text, null or not (an omitted key and a
/// plain `~` are one null key, `'~'` is another; `true` and `'true'` are one key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyIdentity {
    Integer(i128),
    Scalar(ScalarKind, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarKind {
    Null,
    Other,
}

pub(super) fn key_identity(value: &str, style: ScalarStyle) -> KeyIdentity {
    if let Some(i) = integer_key(value, style) {
        return KeyIdentity::Integer(i);
    }
    let kind = match (style, value) {
        (ScalarStyle::Plain, "" | "~" | "null" | "Null" | "NULL") => ScalarKind::Null,
        _ => ScalarKind::Other,
    };
    KeyIdentity::Scalar(kind, value.to_owned())
}

/// The value of a plain scalar that reads as an integer, if it does.
fn integer_key(value: &str, style: ScalarStyle) -> Option<i128> {
    if style != ScalarStyle::Plain {
        return None;
    }
    let (negative, rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let (radix, digits) = if let Some(d) = rest.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = rest.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = rest.strip_prefix("0b") {
        (2, d)
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    let digits = digits.replace('_', "");
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_compare_by_value() {
        use ScalarStyle::*;
        assert_eq!(integer_key("0xB", Plain), Some(11));
        assert_eq!(integer_key("1_1", Plain), Some(11));
        assert_eq!(integer_key("-0o17", Plain), Some(-15));
        assert_eq!(integer_key("11", DoubleQuoted), None);
        assert_eq!(integer_key("1.5", Plain), None);
        assert_eq!(integer_key("-", Plain), None);
        assert_eq!(integer_key("", Plain), None);
    }
}

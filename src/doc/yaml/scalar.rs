//! Scalars and tags as serde-saphyr resolves them into a `serde_json::Value` under the options
//! of [`super::options`], for the tape builder.
//!
//! Invariant: every answer here is the one serde-saphyr gives, or `None` ("not sure"), which
//! sends the whole text back to serde-saphyr. The integer and float readers are ports of
//! serde-saphyr's own (`parse_scalars.rs`, `legacy_octal_numbers` off), so that numbers in odd
//! spellings (`+0x1F`, `1__0`, `0X1F`, `1e999`) resolve as they do there.

use granit_parser::{ScalarStyle, Tag};

/// The YAML core schema's tag namespace.
const CORE: &str = "tag:yaml.org,2002:";

/// What a node's tag means here. Tags whose meaning is not listed are `None` from [`kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagKind {
    /// No tag.
    Untagged,
    /// `!!str`.
    Str,
    /// `!` alone: the text, unresolved.
    NonSpecific,
    Null,
    Bool,
    Int,
    Float,
    /// `!!binary`: its base64 text, as a string.
    Binary,
    Map,
    Seq,
    /// A local tag such as `!Ref`, or `!!set`/`!!omap`/`!!pairs`: ignored.
    Other,
}

/// The meaning of `tag`, or `None` when serde-saphyr gives it one this builder does not take
/// on (`!!timestamp`, `!include`, `!!merge` on a value, `%TAG`-resolved handles, verbatim tags).
pub(super) fn kind(tag: Option<&Tag>) -> Option<TagKind> {
    let Some(tag) = tag else {
        return Some(TagKind::Untagged);
    };
    match (tag.handle(), tag.suffix()) {
        (CORE, "str") => Some(TagKind::Str),
        (CORE, "null") => Some(TagKind::Null),
        (CORE, "bool") => Some(TagKind::Bool),
        (CORE, "int") => Some(TagKind::Int),
        (CORE, "float") => Some(TagKind::Float),
        (CORE, "binary") => Some(TagKind::Binary),
        (CORE, "map") => Some(TagKind::Map),
        (CORE, "seq") => Some(TagKind::Seq),
        (CORE, "set" | "omap" | "pairs") => Some(TagKind::Other),
        ("!", "") => Some(TagKind::NonSpecific),
        ("!", name) if is_plain_local_name(name) => Some(TagKind::Other),
        _ => None,
    }
}

/// A local tag name that serde-saphyr reads as an unknown tag: a simple name that is none of
/// the names it gives a meaning to even without `!!` (`!str`, `!int`, `!include`, …).
fn is_plain_local_name(name: &str) -> bool {
    const MEANINGFUL: [&str; 13] = [
        "int",
        "float",
        "bool",
        "null",
        "seq",
        "map",
        "str",
        "timestamp",
        "time",
        "binary",
        "include",
        "degrees",
        "radians",
    ];
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !MEANINGFUL.contains(&name)
        && !name.starts_with("include")
}

/// A resolved scalar value. `Str` is the scalar's own text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str,
}

/// The value of a scalar in value position; `None` for what serde-saphyr refuses or what this
/// builder does not take on (non-finite floats, a collection tag on a scalar).
pub(super) fn resolve(value: &str, style: ScalarStyle, tag: TagKind) -> Option<Scalar> {
    let plain = style == ScalarStyle::Plain;
    match tag {
        TagKind::Null => Some(Scalar::Null),
        TagKind::Bool => yaml12_bool(value).map(Scalar::Bool),
        TagKind::Int => {
            if trim(value).starts_with('-') {
                i64::try_from(signed(value)?).ok().map(Scalar::I64)
            } else {
                u64::try_from(unsigned(value)?).ok().map(Scalar::U64)
            }
        }
        TagKind::Float => {
            let t = trim(value);
            if is_signed_nan(t) {
                return None;
            }
            finite_float(value).map(Scalar::F64)
        }
        TagKind::Str | TagKind::NonSpecific | TagKind::Binary => Some(Scalar::Str),
        TagKind::Untagged | TagKind::Other if plain => resolve_plain(value),
        TagKind::Untagged | TagKind::Other => Some(Scalar::Str),
        TagKind::Map | TagKind::Seq => None,
    }
}

/// An untagged (or unknown-tagged) plain scalar: null, bool, integer, float, else a string.
fn resolve_plain(value: &str) -> Option<Scalar> {
    if is_nullish(value) {
        return Some(Scalar::Null);
    }
    if let Some(b) = yaml12_bool(value) {
        return Some(Scalar::Bool(b));
    }
    let t = trim(value);
    // Most plain scalars of a config are words: no number starts with anything else (and
    // `inf`/`nan` without the YAML dot stay strings), so they skip the number readers.
    if !matches!(t.as_bytes().first(), Some(b'0'..=b'9' | b'+' | b'-' | b'.')) {
        return Some(Scalar::Str);
    }
    let unsigned_part = t.strip_prefix(['+', '-']).unwrap_or(t);
    let uppercase_radix = matches!(unsigned_part.as_bytes(), [b'0', b'X' | b'O' | b'B', ..]);
    if uppercase_radix || is_signed_nan(t) || leading_zero_decimal(t) || t.contains('_') {
        return Some(Scalar::Str);
    }
    if t.starts_with('-') {
        if let Some(i) = signed(t).and_then(|i| i64::try_from(i).ok()) {
            return Some(Scalar::I64(i));
        }
    } else if let Some(u) = unsigned(t).and_then(|u| u64::try_from(u).ok()) {
        return Some(Scalar::U64(u));
    }
    match float(value) {
        Float::Finite(f) => Some(Scalar::F64(f)),
        Float::NonFinite => None,
        Float::Text => Some(Scalar::Str),
    }
}

/// Whether a plain scalar's text is null: empty, `~`, `null`, `Null`, `NULL`.
pub(super) fn is_nullish(value: &str) -> bool {
    matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// A plain key's integer identity, as serde-saphyr compares keys: `(negative, magnitude)`.
pub(super) fn integer_identity(value: &str) -> Option<(bool, u128)> {
    let t = trim(value);
    if t.starts_with('-') {
        let i = signed(t)?;
        Some((i < 0, i.unsigned_abs()))
    } else {
        Some((false, unsigned(t)?))
    }
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

fn yaml12_bool(s: &str) -> Option<bool> {
    match trim(s) {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn is_signed_nan(t: &str) -> bool {
    t.strip_prefix(['+', '-'])
        .is_some_and(|u| matches!(u, ".nan" | ".NaN" | ".NAN"))
}

fn leading_zero_decimal(t: &str) -> bool {
    let s = trim(t);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// What an untagged plain scalar reads as, float-wise.
enum Float {
    Finite(f64),
    NonFinite,
    Text,
}

/// serde-saphyr's `try_parse_float_incl_overflow` for an untagged scalar.
fn float(s: &str) -> Float {
    let t = trim(s);
    let unsigned_part = t.strip_prefix('-').or_else(|| t.strip_prefix('+'));
    if matches!(
        unsigned_part.unwrap_or(t),
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF"
    ) {
        return Float::NonFinite;
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Float::Finite(v),
        parsed => {
            let unsigned_part = t.strip_prefix(['+', '-']).unwrap_or(t);
            let digit = unsigned_part
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_digit);
            if digit && matches!(parsed, Ok(v) if v.is_infinite()) {
                Float::NonFinite
            } else {
                Float::Text
            }
        }
    }
}

/// A finite float, as `!!float` reads one.
fn finite_float(s: &str) -> Option<f64> {
    match float(s) {
        Float::Finite(f) => Some(f),
        _ => None,
    }
}

/// serde-saphyr's `parse_int_signed::<i128>`.
fn signed(s: &str) -> Option<i128> {
    let t = trim(s);
    let (neg, rest) = match t.strip_prefix('+') {
        Some(r) => (false, r),
        None => match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        },
    };
    let (radix, digits) = radix_and_digits(rest);
    if radix == 10 {
        if digits.starts_with('0') && digits != "0" {
            return None;
        }
        let magnitude = digits_u128(digits, 10)?;
        return if neg {
            if magnitude == (i128::MAX as u128) + 1 {
                Some(i128::MIN)
            } else {
                i128::try_from(magnitude).ok().map(|m| -m)
            }
        } else {
            i128::try_from(magnitude).ok()
        };
    }
    let magnitude = digits_u128(digits, radix)?;
    if neg {
        if magnitude == (i128::MAX as u128) + 1 {
            Some(i128::MIN)
        } else {
            i128::try_from(magnitude).ok()?.checked_neg()
        }
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// serde-saphyr's `parse_int_unsigned::<u128>`.
fn unsigned(s: &str) -> Option<u128> {
    let t = trim(s);
    if t.starts_with('-') {
        return None;
    }
    let rest = t.strip_prefix('+').unwrap_or(t);
    let (radix, digits) = radix_and_digits(rest);
    if radix == 10 && digits.starts_with('0') && digits != "0" {
        return None;
    }
    digits_u128(digits, radix)
}

fn radix_and_digits(rest: &str) -> (u32, &str) {
    for (prefixes, radix) in [(["0x", "0X"], 16), (["0o", "0O"], 8), (["0b", "0B"], 2)] {
        for p in prefixes {
            if let Some(r) = rest.strip_prefix(p) {
                return (radix, r);
            }
        }
    }
    (10, rest)
}

/// Digits in `radix` with single underscores between them; `None` on overflow or anything
/// else.
fn digits_u128(digits: &str, radix: u32) -> Option<u128> {
    let bytes = digits.as_bytes();
    let mut value: u128 = 0;
    let mut saw = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let prev_ok = i > 0 && bytes[i - 1] != b'_';
            let next_ok = i + 1 < bytes.len() && bytes[i + 1] != b'_';
            if !prev_ok || !next_ok {
                return None;
            }
            continue;
        }
        let d = (b as char).to_digit(16)?;
        if d >= radix {
            return None;
        }
        value = value
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))?;
        saw = true;
    }
    saw.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Option<Scalar> {
        resolve(s, ScalarStyle::Plain, TagKind::Untagged)
    }

    #[test]
    fn plain_scalars_resolve_as_serde_saphyr_does() {
        use Scalar::*;
        for (text, want) in [
            ("~", Some(Null)),
            ("", Some(Null)),
            ("True", Some(Bool(true))),
            ("yes", Some(Str)),
            ("0x1F", Some(U64(31))),
            ("0X1F", Some(Str)),
            ("+0x1F", Some(U64(31))),
            ("-0x1F", Some(I64(-31))),
            ("0o17", Some(U64(15))),
            ("0b101", Some(U64(5))),
            ("017", Some(Str)),
            ("-007", Some(Str)),
            ("1_000", Some(Str)),
            ("-0", Some(I64(0))),
            ("+12", Some(U64(12))),
            ("18446744073709551616", Some(F64(18446744073709551616.0))),
            ("-9223372036854775809", Some(F64(-9223372036854775809.0))),
            ("0xFFFFFFFFFFFFFFFFF", Some(Str)),
            ("1.5e3", Some(F64(1500.0))),
            (".5", Some(F64(0.5))),
            ("5.", Some(F64(5.0))),
            ("01.5", Some(F64(1.5))),
            ("1e999", None),
            (".inf", None),
            ("-.Inf", None),
            (".nan", None),
            ("-.nan", Some(Str)),
            ("inf", Some(Str)),
            ("nan", Some(Str)),
            ("Infinity", Some(Str)),
            ("2001-12-14", Some(Str)),
            ("0x", Some(Str)),
        ] {
            assert_eq!(plain(text), want, "{text:?}");
        }
    }

    #[test]
    fn tags_resolve_as_serde_saphyr_does() {
        use ScalarStyle::*;
        assert_eq!(
            resolve("12", DoubleQuoted, TagKind::Int),
            Some(Scalar::U64(12))
        );
        assert_eq!(
            resolve("1_000", Plain, TagKind::Int),
            Some(Scalar::U64(1000))
        );
        assert_eq!(resolve("017", Plain, TagKind::Int), None);
        assert_eq!(resolve("1", Plain, TagKind::Float), Some(Scalar::F64(1.0)));
        assert_eq!(resolve("~", Plain, TagKind::Str), Some(Scalar::Str));
        assert_eq!(resolve("x", Plain, TagKind::Null), Some(Scalar::Null));
        assert_eq!(resolve("yes", Plain, TagKind::Bool), None);
        assert_eq!(resolve("12", Plain, TagKind::Other), Some(Scalar::U64(12)));
        assert_eq!(
            resolve("12", SingleQuoted, TagKind::Other),
            Some(Scalar::Str)
        );
    }

    #[test]
    fn integer_identity_is_by_value() {
        assert_eq!(integer_identity("0x0B"), Some((false, 11)));
        assert_eq!(integer_identity("0X0B"), Some((false, 11)));
        assert_eq!(integer_identity("1_1"), Some((false, 11)));
        assert_eq!(integer_identity("-0"), Some((false, 0)));
        assert_eq!(integer_identity("017"), None);
        assert_eq!(integer_identity("1.5"), None);
    }
}

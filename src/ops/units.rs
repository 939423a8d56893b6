//! Sizes and durations as the configuration writes them, one grammar for every table
//! (`[backups]`, `[[rotate]]`): a size is a whole number of bytes with an optional unit, in any
//! case, a space allowed between (`512`, `512B`, `500kB`, `500k`, `10MiB`, `1 GB`: `k`/`KB`…`T`/
//! `TB` are powers of 1000, `KiB`…`TiB` of 1024); a duration is humantime's (`30d`, `12h 30m`,
//! `2weeks`) and never zero (zero would mean "keep nothing" or "always", which a key left out
//! already says).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The schema's pattern for a size string: what [`parse_size`] reads, short of overflow.
pub(crate) const SIZE_PATTERN: &str = r"^\s*[0-9]+\s*([bB]|[kKmMgGtT]([iI]?[bB])?)?\s*$";
/// The schema's pattern for a duration: numbers with units (`14d`, `1h 30m`).
pub(crate) const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*[a-zA-Z]+\s*)+$";

/// A positive duration, written as humantime reads it (`30d`, `12h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(self.0))
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"200MiB\", or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a positive duration: `30d`, `12h`, `2weeks 3d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.is_zero() => Err(format!("`{s}` is zero; remove the key to turn it off")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "`{s}` is not a duration ({e}); write a number and a unit, like \"30d\" or \"12h\""
        )),
    }
}

/// Parses a size: a whole number and an optional unit (B; k, KB, M, MB, G, GB, T, TB; KiB,
/// MiB, GiB, TiB; any case; a space between is allowed).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("`{s}` is not a size; write a whole number and a unit, like \"200MiB\" or \"1GB\"")
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, want) in [
            ("200MiB", Ok(200 << 20)),
            ("200 MiB", Ok(200 << 20)),
            ("1GB", Ok(1_000_000_000)),
            ("1kib", Ok(1024)),
            ("512B", Ok(512)),
            ("512", Ok(512)),
            ("0", Ok(0)),
            ("500k", Ok(500_000)),
            ("500kB", Ok(500_000)),
            ("5 GB", Ok(5_000_000_000)),
            ("10MiB", Ok(10 << 20)),
        ] {
            assert_eq!(parse_size(text), want, "{text}");
        }
        for bad in [
            "",
            "MiB",
            "1.5GiB",
            "-1MiB",
            "12 parsecs",
            "99999999999999TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        for bad in ["", "0s", "thirty days", "30"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    /// The schema's pattern and the parser agree: a spelling the pattern takes parses, and one
    /// it refuses does not (overflow aside).
    #[test]
    fn the_size_pattern_is_the_parsers_grammar() {
        let pattern = regex_lite(SIZE_PATTERN);
        for text in [
            "512",
            "512B",
            "512 b",
            "500k",
            "500K",
            "500kB",
            "500KB",
            "10MiB",
            "10mib",
            "1 GB",
            "2T",
            "2tib",
            "",
            "MiB",
            "1.5GiB",
            "-1MiB",
            "12 parsecs",
            "10 Mi",
            "10ib",
        ] {
            assert_eq!(
                pattern(text),
                parse_size(text).is_ok(),
                "{text:?}: the pattern and the parser disagree"
            );
        }
    }

    /// The pattern as the schema validator reads it.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({ "type": "string", "pattern": pattern });
        let compiled = crate::doc::schema::compile(
            &schema,
            &crate::doc::schema::CompileOptions::default(),
            std::sync::Arc::new(crate::doc::schema::NoSource),
        )
        .unwrap();
        move |text| compiled.validate(&serde_json::json!(text)).is_empty()
    }
}

//! The `[backups]` table: how long backups are kept, as a typed retention policy.
//!
//! Durations are humantime's (`30d`, `12h`, `2weeks`), sizes are a whole number with a unit
//! (`200MiB`, `1GB`, `512B`; KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB of 1000) or a bare
//! number of bytes. Counts and durations must be positive: `keep-last = 0` would mean "keep no
//! backup", which nobody means. A bad value is a located `config` diagnostic.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::store::retention::Policy;

/// The `[backups]` table. With no key set, `backups prune` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BackupsConfig {
    /// Keep the N newest backups of each file.
    #[schemars(range(min = 1))]
    pub keep_last: Option<usize>,
    /// Keep every backup made within this long of its file's newest backup, e.g. "30d".
    #[schemars(with = "Option<String>")]
    pub keep_within: Option<HumanDuration>,
    /// Keep the newest backup of each of the last N days (UTC) that have backups, per file.
    #[schemars(range(min = 1))]
    pub keep_daily: Option<usize>,
    /// Keep the newest backup of each of the last N ISO weeks (UTC) that have backups, per file.
    #[schemars(range(min = 1))]
    pub keep_weekly: Option<usize>,
    /// Keep the newest backup of each of the last N months (UTC) that have backups, per file.
    #[schemars(range(min = 1))]
    pub keep_monthly: Option<usize>,
    /// Cap on the bytes of all backup objects, e.g. "200MiB": the oldest backups beyond it are
    /// dropped, never the newest of a file.
    #[schemars(with = "Option<SizeSpelling>")]
    pub max_total_size: Option<ByteSize>,
}

impl BackupsConfig {
    /// The retention policy these keys describe.
    pub fn policy(&self) -> Policy {
        Policy {
            keep_last: self.keep_last,
            keep_within: self.keep_within.map(|d| d.0),
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            max_total_size: self.max_total_size.map(|s| s.0),
        }
    }
}

/// How `max-total-size` may be written (the schema's view).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum SizeSpelling {
    /// With a unit: "200MiB".
    Text(String),
    /// Bytes.
    Bytes(u64),
}

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

/// Parses a size: a whole number and an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB;
/// any case; a space between is allowed).
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
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// The values of `[backups]` that the schema cannot judge, as (JSON pointer, message): for
/// located diagnostics. `table` is the parsed `[backups]` value.
pub(crate) fn check_values(table: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(s) = table.get("keep-within").and_then(|v| v.as_str())
        && let Err(e) = parse_duration(s)
    {
        out.push(("/backups/keep-within".to_owned(), e));
    }
    if let Some(s) = table.get("max-total-size").and_then(|v| v.as_str())
        && let Err(e) = parse_size(s)
    {
        out.push(("/backups/max-total-size".to_owned(), e));
    }
    out
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

    #[test]
    fn a_table_becomes_a_policy() {
        let c: BackupsConfig = toml::from_str(
            "keep-last = 3\nkeep-within = \"30d\"\nkeep-weekly = 4\nmax-total-size = \"200MiB\"\n",
        )
        .unwrap();
        assert_eq!(
            c.policy().to_string(),
            "keep-last 3, keep-within 30d, keep-weekly 4, max-total-size 200MiB"
        );
        assert!(BackupsConfig::default().policy().is_empty());
        assert!(toml::from_str::<BackupsConfig>("keep-hourly = 1\n").is_err());
    }
}

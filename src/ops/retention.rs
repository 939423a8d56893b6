//! The `[backups]` table: how long backups are kept, as a typed retention policy.
//!
//! Durations and sizes are read by `units` (one grammar for `[backups]` and `[[rotate]]`).
//! Counts and durations must be positive: `keep-last = 0` would mean "keep no
//! backup", which nobody means. A bad value is a located `config` diagnostic.

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::{ByteSize, HumanDuration, parse_duration, parse_size};
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

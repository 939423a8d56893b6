//! Retention (G3): which backups a policy keeps, and the rule behind each decision.
//!
//! Pure: backups and the current time come in as data, decisions come out; nothing here reads
//! the disk or the clock, so the same inputs give the same plan. The planner is streamed
//! (`stream.rs`): [`Survey`] and [`Weighing`] take the backups in two passes, as compact
//! [`Backup`]s in index order, and hold per file only what the rules need (O(files × rule
//! sizes + kept objects), nothing per backup); [`Ruling`] then gives any backup's two-byte
//! [`Verdict`]. [`decide`] runs the passes over a slice; [`apply`] is the same over borrowed
//! [`Item`]s, with the reasons spelled out.
//!
//! The keep rules are restic's and borg's, applied to each *group* separately — a group is one
//! file (all backups of one path), as restic applies its policy to each snapshot group:
//!
//! - `keep-last N`: the N newest backups.
//! - `keep-within D`: every backup made less than D before the group's newest backup (restic's
//!   reading: a file nobody has changed for a year keeps the history of its last busy month;
//!   the newest is the newest not after `now`, so one backup stamped in the future by a wrong
//!   clock does not anchor the window). A backup exactly D before is not kept.
//! - `keep-daily N`, `keep-weekly N`, `keep-monthly N`: the newest backup of each of the last N
//!   distinct days (ISO weeks, months) that have backups, in UTC. When a group has fewer such
//!   buckets than N, its oldest backup is kept too ("oldest for keep-daily"), as restic (0.17)
//!   and borg (1.2) do, so that a young history is kept whole.
//!
//! A backup is kept if any rule keeps it. Then `max-total-size` is a cap over the whole store:
//! while the distinct objects of the kept backups take more bytes than the cap, the oldest kept
//! backup is dropped — except the newest backup of each file, which the cap never drops (so
//! the cap may stay unmet; [`Plan::over_cap`] says so). With no keep rule but a cap, every
//! backup starts as kept. With no policy at all, everything is kept.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::digest::Sha256Digest;

#[cfg(test)]
mod oracle;
mod stream;
#[cfg(test)]
mod tests;

pub use stream::{Ruling, Survey, Weighing};

/// A retention policy; `None` turns a rule off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep the N newest backups of each file.
    pub keep_last: Option<usize>,
    /// Keep every backup made within this long of its file's newest backup.
    pub keep_within: Option<Duration>,
    /// Keep the newest backup of each of the last N days that have backups.
    pub keep_daily: Option<usize>,
    /// The same per ISO week (Monday to Sunday, UTC).
    pub keep_weekly: Option<usize>,
    /// The same per calendar month (UTC).
    pub keep_monthly: Option<usize>,
    /// Cap, in bytes, on the distinct objects that the kept backups of all files use.
    pub max_total_size: Option<u64>,
}

impl Policy {
    /// No rule at all: everything is kept.
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    fn has_keep_rules(&self) -> bool {
        Policy {
            max_total_size: None,
            ..*self
        } != Policy::default()
    }
}

impl fmt::Display for Policy {
    /// `keep-last 3, keep-daily 7, max-total-size 200MiB`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_last {
            parts.push(format!("keep-last {n}"));
        }
        if let Some(d) = self.keep_within {
            parts.push(format!("keep-within {}", ShortDuration(d)));
        }
        for (rule, n) in [
            (Rule::Daily, self.keep_daily),
            (Rule::Weekly, self.keep_weekly),
            (Rule::Monthly, self.keep_monthly),
        ] {
            if let Some(n) = n {
                parts.push(format!("{rule} {n}"));
            }
        }
        if let Some(b) = self.max_total_size {
            parts.push(format!("max-total-size {}", ByteCount(b)));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// One backup, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The file it belongs to: its group.
    pub group: &'a Path,
    /// When it was made.
    pub time: SystemTime,
    /// Its size in bytes.
    pub size: u64,
    /// Its object; backups with the same object share their bytes.
    pub object: Sha256Digest,
}

/// A calendar rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// `keep-daily`.
    Daily,
    /// `keep-weekly`.
    Weekly,
    /// `keep-monthly`.
    Monthly,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Daily => "keep-daily",
            Rule::Weekly => "keep-weekly",
            Rule::Monthly => "keep-monthly",
        })
    }
}

/// Why a backup is kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No policy is configured: everything is kept.
    NoPolicy,
    /// Only `max-total-size` is configured: kept unless the cap drops it.
    NoKeepRule,
    /// Among the N newest of its file.
    Last(usize),
    /// Made within this long of its file's newest backup.
    Within(Duration),
    /// The newest of its bucket (day, week, month), one of the last N.
    Calendar(Rule, usize, Bucket),
    /// The oldest of its file, kept because the rule found fewer buckets than N.
    Oldest(Rule),
    /// The newest of its file, which `max-total-size` never drops (shown when the cap is not met).
    NewestOfFile,
    /// Dropped: no rule keeps it.
    Unselected,
    /// Dropped by the `max-total-size` cap.
    MaxTotalSize(u64),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoPolicy => f.write_str("no retention policy"),
            Reason::NoKeepRule => f.write_str("no keep rule"),
            Reason::Last(n) => write!(f, "keep-last {n}"),
            Reason::Within(d) => write!(f, "keep-within {}", ShortDuration(*d)),
            Reason::Calendar(rule, n, bucket) => write!(f, "{rule} {n} ({bucket})"),
            Reason::Oldest(rule) => write!(f, "oldest for {rule}"),
            Reason::NewestOfFile => f.write_str("newest of its file"),
            Reason::Unselected => f.write_str("no rule keeps it"),
            Reason::MaxTotalSize(b) => write!(f, "max-total-size {}", ByteCount(*b)),
        }
    }
}

/// A calendar bucket, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// A day: year, month, day.
    Day(i64, u32, u32),
    /// An ISO week: ISO year, week (1 to 53).
    Week(i64, u32),
    /// A month: year, month.
    Month(i64, u32),
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bucket::Day(y, m, d) => write!(f, "{y:04}-{m:02}-{d:02}"),
            Bucket::Week(y, w) => write!(f, "{y:04}-W{w:02}"),
            Bucket::Month(y, m) => write!(f, "{y:04}-{m:02}"),
        }
    }
}

impl Bucket {
    /// The bucket of `rule` that `time` falls in.
    pub fn of(rule: Rule, time: SystemTime) -> Bucket {
        let days = unix_seconds(time).div_euclid(86_400);
        match rule {
            Rule::Daily => {
                let (y, m, d) = civil_from_days(days);
                Bucket::Day(y, m, d)
            }
            Rule::Weekly => {
                let (y, w) = iso_week(days);
                Bucket::Week(y, w)
            }
            Rule::Monthly => {
                let (y, m, _) = civil_from_days(days);
                Bucket::Month(y, m)
            }
        }
    }
}

/// The decision for one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Kept or dropped.
    pub keep: bool,
    /// The rules behind it, in the order of the policy's keys.
    pub reasons: Vec<Reason>,
}

/// Decisions for every item, in the order the items came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per item.
    pub decisions: Vec<Decision>,
    /// Bytes of the distinct objects the kept backups use.
    pub kept_bytes: u64,
    /// `max-total-size` could not be met without dropping the newest backup of some file.
    pub over_cap: bool,
}

/// Applies `policy` to `items` at time `now`: [`decide`] over borrowed items, with each
/// decision's reasons spelled out.
pub fn apply(policy: &Policy, items: &[Item<'_>], now: SystemTime) -> Plan {
    let mut files: HashMap<&Path, u32> = HashMap::new();
    let backups: Vec<Backup> = items
        .iter()
        .map(|it| {
            let next = files.len() as u32;
            Backup {
                time: it.time,
                size: it.size,
                object: it.object,
                file: *files.entry(it.group).or_insert(next),
            }
        })
        .collect();
    let verdicts = decide(policy, &backups, now);
    Plan {
        decisions: verdicts
            .verdicts
            .iter()
            .zip(items)
            .map(|(v, it)| Decision {
                keep: v.keep(),
                reasons: v.reasons(policy, it.time),
            })
            .collect(),
        kept_bytes: verdicts.kept_bytes,
        over_cap: verdicts.over_cap,
    }
}

/// One backup as the planner is handed it, in at most 64 bytes, so that planning a large index
/// costs little memory per backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    /// When it was made.
    pub time: SystemTime,
    /// Its size in bytes.
    pub size: u64,
    /// Its object; backups with the same object share their bytes.
    pub object: Sha256Digest,
    /// The file it belongs to (its group), numbered by the caller: equal numbers, same file.
    pub file: u32,
}

const _: () = assert!(std::mem::size_of::<Backup>() <= 64);

/// The decision for one backup in two bytes: kept or not, and which rules are behind it. The
/// rules' numbers are the policy's and a calendar bucket is the backup's time's, so
/// [`Verdict::reasons`] spells them out from those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict(u16);

impl Verdict {
    const KEEP: u16 = 1;
    const NO_POLICY: u16 = 1 << 1;
    const NO_KEEP_RULE: u16 = 1 << 2;
    const LAST: u16 = 1 << 3;
    const WITHIN: u16 = 1 << 4;
    /// `CALENDAR << rule` and `OLDEST << rule`, `rule` 0 (daily) to 2 (monthly).
    const CALENDAR: u16 = 1 << 5;
    const OLDEST: u16 = 1 << 8;
    const UNSELECTED: u16 = 1 << 11;
    const MAX_TOTAL_SIZE: u16 = 1 << 12;
    const NEWEST_OF_FILE: u16 = 1 << 13;

    /// Kept or dropped.
    pub fn keep(self) -> bool {
        self.0 & Self::KEEP != 0
    }

    fn has(self, flag: u16) -> bool {
        self.0 & flag != 0
    }

    /// The rules behind it, in the order of the policy's keys, for a backup made at `time`
    /// under the `policy` it was decided by.
    pub fn reasons(self, policy: &Policy, time: SystemTime) -> Vec<Reason> {
        let mut out = Vec::new();
        if self.has(Self::NO_POLICY) {
            out.push(Reason::NoPolicy);
        }
        if self.has(Self::NO_KEEP_RULE) {
            out.push(Reason::NoKeepRule);
        }
        if let (true, Some(n)) = (self.has(Self::LAST), policy.keep_last) {
            out.push(Reason::Last(n));
        }
        if let (true, Some(d)) = (self.has(Self::WITHIN), policy.keep_within) {
            out.push(Reason::Within(d));
        }
        for (k, (rule, n)) in calendar_rules(policy).into_iter().enumerate() {
            let Some(n) = n else { continue };
            if self.has(Self::CALENDAR << k) {
                out.push(Reason::Calendar(rule, n, Bucket::of(rule, time)));
            } else if self.has(Self::OLDEST << k) {
                out.push(Reason::Oldest(rule));
            }
        }
        if self.has(Self::UNSELECTED) {
            out.push(Reason::Unselected);
        }
        if let (true, Some(cap)) = (self.has(Self::MAX_TOTAL_SIZE), policy.max_total_size) {
            out.push(Reason::MaxTotalSize(cap));
        }
        if self.has(Self::NEWEST_OF_FILE) {
            out.push(Reason::NewestOfFile);
        }
        out
    }
}

/// A [`Verdict`] for every backup, in the order the backups came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdicts {
    /// One per backup.
    pub verdicts: Vec<Verdict>,
    /// Bytes of the distinct objects the kept backups use.
    pub kept_bytes: u64,
    /// `max-total-size` could not be met without dropping the newest backup of some file.
    pub over_cap: bool,
}

/// The calendar rules of `policy`, in the order of its keys.
fn calendar_rules(policy: &Policy) -> [(Rule, Option<usize>); 3] {
    [
        (Rule::Daily, policy.keep_daily),
        (Rule::Weekly, policy.keep_weekly),
        (Rule::Monthly, policy.keep_monthly),
    ]
}

/// Applies `policy` to `backups` at time `now`: the passes of [`Survey`], [`Weighing`] and
/// [`Ruling`] over a slice. Besides the verdicts it holds per file what the rules need, and
/// the distinct objects of the kept backups.
pub fn decide(policy: &Policy, backups: &[Backup], now: SystemTime) -> Verdicts {
    assert!(u32::try_from(backups.len()).is_ok(), "at most 2^32 backups");
    let mut survey = Survey::new(policy, now);
    for b in backups {
        survey.add(b);
    }
    let mut weighing = survey.finish();
    for b in backups {
        weighing.add(b);
    }
    let ruling = weighing.finish();
    Verdicts {
        verdicts: (0..)
            .zip(backups)
            .map(|(i, b)| ruling.verdict(i, b))
            .collect(),
        kept_bytes: ruling.kept_bytes,
        over_cap: ruling.over_cap,
    }
}

/// Seconds since the Unix epoch (negative before it).
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of January 1st of `y`.
fn days_from_jan1(y: i64) -> i64 {
    let y = y - 1; // January and February count in the previous year
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = 306; // March 1st + 306 days = January 1st
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO 8601 (year, week) of a day number: weeks start on Monday, and week 1 holds the year's
/// first Thursday, so 2026-12-31 is in 2026-W53 and 2027-01-01 too.
fn iso_week(days: i64) -> (i64, u32) {
    let weekday = (days + 3).rem_euclid(7); // Monday = 0; 1970-01-01 was a Thursday
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_jan1(year)) / 7 + 1;
    (year, week as u32)
}

/// A duration the way people write it in `atomic.toml`: `30d`, `12h`, `90s`.
#[derive(Debug, Clone, Copy)]
pub struct ShortDuration(pub Duration);

impl fmt::Display for ShortDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        if self.0.subsec_nanos() != 0 || s == 0 {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s.is_multiple_of(len) {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

/// A byte count in the largest binary unit that divides it: `200MiB`, `1536B`.
#[derive(Debug, Clone, Copy)]
pub struct ByteCount(pub u64);

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, len) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= len && self.0.is_multiple_of(len) {
                return write!(f, "{}{unit}", self.0 / len);
            }
        }
        write!(f, "{}B", self.0)
    }
}

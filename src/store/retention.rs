//! Retention (G3): which backups a policy keeps, and the rule behind each decision.
//!
//! Pure: backups and the current time come in as data, decisions come out; nothing here reads
//! the disk or the clock, so the same inputs give the same plan.
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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::hash::Sha256Digest;

#[cfg(test)]
mod tests;

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

/// Applies `policy` to `items` at time `now`.
pub fn apply(policy: &Policy, items: &[Item<'_>], now: SystemTime) -> Plan {
    let mut decisions: Vec<Decision> = if policy.is_empty() {
        vec![keep(Reason::NoPolicy); items.len()]
    } else if !policy.has_keep_rules() {
        vec![keep(Reason::NoKeepRule); items.len()]
    } else {
        vec![
            Decision {
                keep: false,
                reasons: Vec::new(),
            };
            items.len()
        ]
    };
    // Each group newest first; equal times: the later item (appended later) is newer.
    let mut groups: BTreeMap<&Path, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        groups.entry(it.group).or_default().push(i);
    }
    for members in groups.values_mut() {
        members.sort_by(|&a, &b| items[b].time.cmp(&items[a].time).then(b.cmp(&a)));
        if policy.has_keep_rules() {
            keep_rules(policy, items, members, now, &mut decisions);
        }
    }
    for d in &mut decisions {
        if !d.keep && d.reasons.is_empty() {
            d.reasons.push(Reason::Unselected);
        }
    }
    let newest: Vec<usize> = groups.values().map(|m| m[0]).collect();
    let (kept_bytes, over_cap) = match policy.max_total_size {
        Some(cap) => cap_total(cap, items, &newest, &mut decisions),
        None => (kept_total(items, &decisions), false),
    };
    Plan {
        decisions,
        kept_bytes,
        over_cap,
    }
}

fn keep(reason: Reason) -> Decision {
    Decision {
        keep: true,
        reasons: vec![reason],
    }
}

/// The keep rules over one group, `members` newest first.
fn keep_rules(
    policy: &Policy,
    items: &[Item<'_>],
    members: &[usize],
    now: SystemTime,
    decisions: &mut [Decision],
) {
    let mut mark = |i: usize, r: Reason| {
        decisions[i].keep = true;
        decisions[i].reasons.push(r);
    };
    if let Some(n) = policy.keep_last {
        for &i in members.iter().take(n) {
            mark(i, Reason::Last(n));
        }
    }
    if let Some(d) = policy.keep_within {
        let anchor = members
            .iter()
            .map(|&i| items[i].time)
            .find(|t| *t <= now)
            .unwrap_or(now);
        let from = anchor.checked_sub(d);
        for &i in members {
            if from.is_none_or(|from| items[i].time > from) {
                mark(i, Reason::Within(d));
            }
        }
    }
    for (rule, n) in [
        (Rule::Daily, policy.keep_daily),
        (Rule::Weekly, policy.keep_weekly),
        (Rule::Monthly, policy.keep_monthly),
    ] {
        let Some(n) = n else { continue };
        let mut left = n;
        let mut last = None;
        let mut oldest_kept = false;
        for &i in members {
            if left == 0 {
                break;
            }
            let b = Bucket::of(rule, items[i].time);
            if last != Some(b) {
                mark(i, Reason::Calendar(rule, n, b));
                last = Some(b);
                left -= 1;
                oldest_kept = i == *members.last().expect("a group has members");
            }
        }
        if left > 0
            && !oldest_kept
            && let Some(&oldest) = members.last()
        {
            mark(oldest, Reason::Oldest(rule));
        }
    }
}

/// Bytes of the distinct objects of the kept items.
fn kept_total(items: &[Item<'_>], decisions: &[Decision]) -> u64 {
    let mut seen = HashMap::new();
    for (it, d) in items.iter().zip(decisions) {
        if d.keep {
            seen.insert(it.object, it.size);
        }
    }
    seen.values().sum()
}

/// Drops the oldest kept items until the distinct objects of the kept ones fit in `cap`; the
/// newest of each group is never dropped, nor an item whose object a newest one still needs
/// (dropping it would free nothing).
fn cap_total(
    cap: u64,
    items: &[Item<'_>],
    newest: &[usize],
    decisions: &mut [Decision],
) -> (u64, bool) {
    let mut refs: HashMap<Sha256Digest, (usize, u64)> = HashMap::new();
    for (it, d) in items.iter().zip(decisions.iter()) {
        if d.keep {
            refs.entry(it.object).or_insert((0, it.size)).0 += 1;
        }
    }
    let mut total: u64 = refs.values().map(|(_, s)| s).sum();
    if total <= cap {
        return (total, false);
    }
    let protected: std::collections::HashSet<usize> = newest.iter().copied().collect();
    let pinned: std::collections::HashSet<Sha256Digest> =
        newest.iter().map(|&i| items[i].object).collect();
    let mut order: Vec<usize> = (0..items.len())
        .filter(|i| decisions[*i].keep && !protected.contains(i))
        .filter(|&i| !pinned.contains(&items[i].object))
        .collect();
    order.sort_by(|&a, &b| items[a].time.cmp(&items[b].time).then(a.cmp(&b)));
    for i in order {
        if total <= cap {
            break;
        }
        decisions[i] = Decision {
            keep: false,
            reasons: vec![Reason::MaxTotalSize(cap)],
        };
        let entry = refs.get_mut(&items[i].object).expect("counted above");
        entry.0 -= 1;
        if entry.0 == 0 {
            total -= entry.1;
        }
    }
    let over = total > cap;
    if over {
        for &i in newest {
            decisions[i].reasons.push(Reason::NewestOfFile);
        }
    }
    (total, over)
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

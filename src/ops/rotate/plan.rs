//! What `rotate` does, decided without I/O: which live files rotate, the names they get, which
//! copies move up, which are compressed, which are pruned. The time and everything seen on disk
//! come in as data, so every rule is tested with fixed clocks.
//!
//! Invariant: every action names either a live file the glob matched or a file the records say
//! the tool created; a new name is always one no file in its directory has (in either variant,
//! plain or `.gz`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::ops::{Compress, Naming, RotateEntry, units};
use crate::store::RotatedFile;

/// A `[[rotate]]` entry with its durations and sizes read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub name: String,
    pub files: String,
    pub keep_last: Option<usize>,
    pub keep_within: Option<(Duration, String)>,
    pub max_size: Option<u64>,
    pub max_age: Option<Duration>,
    pub naming: Naming,
    pub compress: Compress,
}

impl Policy {
    /// Reads an entry; the error says which key is wrong.
    pub fn from_entry(e: &RotateEntry) -> Result<Self, String> {
        let duration = |key: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    units::parse_duration(s)
                        .map_err(|err| format!("[[rotate]] `{}`: {key}: {err}", e.name))
                })
                .transpose()
        };
        let max_size = e
            .max_size
            .as_deref()
            .map(|s| {
                units::parse_size(s)
                    .map_err(|err| format!("[[rotate]] `{}`: max-size: {err}", e.name))
            })
            .transpose()?;
        Ok(Policy {
            name: e.name.clone(),
            files: e.files.trim_start_matches("./").to_owned(),
            keep_last: e.keep_last.map(|n| n as usize),
            keep_within: duration("keep-within", &e.keep_within)?
                .map(|d| (d, e.keep_within.clone().unwrap_or_default())),
            max_size,
            max_age: duration("max-age", &e.max_age)?,
            naming: e.naming,
            compress: e.compress,
        })
    }
}

/// A live artifact as it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Live {
    /// Relative to the workspace root.
    pub path: PathBuf,
    pub size: u64,
    /// When it came to be: its birth time where the filesystem keeps one, else its mtime.
    pub born: SystemTime,
}

/// Everything the plan looks at.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub now: SystemTime,
    /// The selected entries, each with the live files its glob matched.
    pub entries: Vec<(Policy, Vec<Live>)>,
    pub records: &'a [RotatedFile],
    /// The names in each directory that holds a live file or a recorded copy.
    pub listing: BTreeMap<PathBuf, BTreeSet<OsString>>,
}

/// One thing to do, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// A recorded copy is gone (somebody removed it): drop its record.
    Forget { path: PathBuf },
    /// Numbered naming: a recorded copy moves to the next number.
    Shift { from: PathBuf, to: PathBuf },
    /// A live file is renamed aside.
    Rotate {
        entry: String,
        live: PathBuf,
        to: PathBuf,
        size: u64,
    },
    /// A rotated copy is replaced by its gzip.
    Compress { path: PathBuf, to: PathBuf },
    /// Retention removes a rotated copy.
    Prune { path: PathBuf, rule: String },
}

/// Why the plan cannot be carried out. Nothing has been done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InTheWay {
    /// The file that blocks a numbered rotation.
    pub path: PathBuf,
}

/// Decides every action of one run.
pub(crate) fn plan(view: &View<'_>) -> Result<Vec<Action>, InTheWay> {
    let mut actions = Vec::new();
    let mut listing = view.listing.clone();
    let selected: HashSet<&str> = view.entries.iter().map(|(p, _)| p.name.as_str()).collect();
    // Records of the selected entries whose files still exist, in rotation order.
    let mut copies: Vec<RotatedFile> = Vec::new();
    for r in view.records {
        if !selected.contains(r.entry.as_str()) {
            continue;
        }
        if present(&listing, &r.path) {
            copies.push(r.clone());
        } else {
            actions.push(Action::Forget {
                path: r.path.clone(),
            });
        }
    }
    let stamp = stamp(view.now);
    let time = humantime::format_rfc3339_millis(view.now).to_string();
    // Every shift goes before every rotation: the executor runs them in this order.
    let mut rotations = Vec::new();
    let mut claimed: HashSet<&Path> = HashSet::new();
    let mut tail = Vec::new();
    for (policy, lives) in &view.entries {
        let mut lives: Vec<&Live> = lives.iter().collect();
        lives.sort_by(|a, b| a.path.cmp(&b.path));
        for live in lives {
            if !claimed.insert(&live.path) || !due(policy, live, &copies, view.now) {
                continue;
            }
            let to = match policy.naming {
                Naming::Timestamp => timestamp_name(&listing, &live.path, &stamp),
                Naming::Numbered => {
                    let (shifts, to) = numbered(&listing, &copies, &live.path)?;
                    for (from, to) in shifts {
                        move_name(&mut listing, &from, &to);
                        for c in copies.iter_mut().filter(|c| c.path == from) {
                            c.path = to.clone();
                        }
                        actions.push(Action::Shift { from, to });
                    }
                    to
                }
            };
            add_name(&mut listing, &to);
            rotations.push(Action::Rotate {
                entry: policy.name.clone(),
                live: live.path.clone(),
                to: to.clone(),
                size: live.size,
            });
            // Stands for the copy this run makes, for retention and compression below (its
            // digest is known only once it is renamed, and nothing here reads it).
            copies.push(RotatedFile {
                entry: policy.name.clone(),
                live: live.path.clone(),
                path: to,
                sha256: crate::store::Sha256Digest([0; 32]),
                size: live.size,
                time: time.clone(),
                compressed: false,
            });
        }
        tail.push(policy);
    }
    actions.append(&mut rotations);
    // Retention, per live file, newest first; then compression of what stays.
    let mut pruned: HashSet<PathBuf> = HashSet::new();
    let mut prunes = Vec::new();
    for policy in &tail {
        let mut by_live: BTreeMap<&Path, Vec<&RotatedFile>> = BTreeMap::new();
        for c in copies.iter().filter(|c| c.entry == policy.name) {
            by_live.entry(&c.live).or_default().push(c);
        }
        for group in by_live.values() {
            for (i, c) in group.iter().rev().enumerate() {
                if let Some(rule) = drop_rule(policy, i, c, view.now) {
                    pruned.insert(c.path.clone());
                    prunes.push(Action::Prune {
                        path: c.path.clone(),
                        rule,
                    });
                }
            }
        }
    }
    for policy in tail.iter().filter(|p| p.compress == Compress::Gzip) {
        for c in copies.iter().filter(|c| c.entry == policy.name) {
            if c.compressed || pruned.contains(&c.path) {
                continue;
            }
            let mut name = c.path.clone().into_os_string();
            name.push(".gz");
            actions.push(Action::Compress {
                path: c.path.clone(),
                to: PathBuf::from(name),
            });
        }
    }
    actions.extend(prunes);
    Ok(actions)
}

/// Whether a live file is due: no trigger means every run; with triggers, any one that fires.
fn due(policy: &Policy, live: &Live, copies: &[RotatedFile], now: SystemTime) -> bool {
    if policy.max_size.is_none() && policy.max_age.is_none() {
        return true;
    }
    let big = policy.max_size.is_some_and(|m| live.size >= m);
    let old = policy.max_age.is_some_and(|age| {
        let since = copies
            .iter()
            .rev()
            .find(|c| c.entry == policy.name && c.live == live.path)
            .and_then(|c| humantime::parse_rfc3339(&c.time).ok())
            .unwrap_or(live.born);
        now.duration_since(since).is_ok_and(|d| d >= age)
    });
    big || old
}

/// Why retention drops the `i`th newest copy, or `None` if a rule keeps it. Without rules,
/// everything is kept; with both, a copy either rule keeps stays.
fn drop_rule(policy: &Policy, i: usize, c: &RotatedFile, now: SystemTime) -> Option<String> {
    if policy.keep_last.is_none() && policy.keep_within.is_none() {
        return None;
    }
    if policy.keep_last.is_some_and(|n| i < n) {
        return None;
    }
    let within = policy.keep_within.as_ref().is_some_and(|(d, _)| {
        humantime::parse_rfc3339(&c.time)
            .ok()
            .is_none_or(|t| now.duration_since(t).map_or(true, |age| age <= *d))
    });
    if within {
        return None;
    }
    let mut why = Vec::new();
    if let Some(n) = policy.keep_last {
        why.push(format!("beyond keep-last {n}"));
    }
    if let Some((_, text)) = &policy.keep_within {
        why.push(format!("older than keep-within {text}"));
    }
    Some(why.join(" and "))
}

/// `20261126T001500Z`: sorts as it reads.
fn stamp(now: SystemTime) -> String {
    humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(['-', ':'], "")
}

/// `FILE.STAMP-SEQ`, with SEQ one past every sequence number of that stamp in the directory,
/// so names of one second still sort in rotation order.
fn timestamp_name(
    listing: &BTreeMap<PathBuf, BTreeSet<OsString>>,
    live: &Path,
    stamp: &str,
) -> PathBuf {
    let (dir, file) = split(live);
    let prefix = format!("{}.{stamp}-", file.to_string_lossy());
    let names = listing.get(dir);
    let mut seq = names
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let rest = n.to_str()?.strip_prefix(&prefix)?;
            let digits = rest.strip_suffix(".gz").unwrap_or(rest);
            digits.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
        + 1;
    loop {
        let cand = dir.join(format!("{prefix}{seq:03}"));
        if !present(listing, &cand) {
            return cand;
        }
        seq += 1;
    }
}

/// The shifts that free `FILE.1`, from the highest, and that name. The copies at `.1`, `.2`, ...
/// up to the first free number move up by one; a gap stops the shift. A file at one of those
/// numbers that the tool did not create is in the way.
fn numbered(
    listing: &BTreeMap<PathBuf, BTreeSet<OsString>>,
    copies: &[RotatedFile],
    live: &Path,
) -> Result<(Vec<(PathBuf, PathBuf)>, PathBuf), InTheWay> {
    let (dir, file) = split(live);
    let slot = |n: u32, gz: bool| {
        dir.join(format!(
            "{}.{n}{}",
            file.to_string_lossy(),
            if gz { ".gz" } else { "" }
        ))
    };
    let mut chain = Vec::new();
    for n in 1.. {
        let here: Vec<PathBuf> = [slot(n, false), slot(n, true)]
            .into_iter()
            .filter(|p| present(listing, p))
            .collect();
        match here.as_slice() {
            [] => break,
            [one] if copies.iter().any(|c| &c.path == one) => {
                chain.push((n, one.clone(), one.extension().is_some_and(|e| e == "gz")));
            }
            _ => {
                let foreign = here
                    .iter()
                    .find(|p| !copies.iter().any(|c| &c.path == *p))
                    .unwrap_or(&here[0]);
                return Err(InTheWay {
                    path: foreign.clone(),
                });
            }
        }
    }
    let shifts = chain
        .into_iter()
        .rev()
        .map(|(n, from, gz)| (from, slot(n + 1, gz)))
        .collect();
    Ok((shifts, slot(1, false)))
}

fn split(p: &Path) -> (&Path, &OsStr) {
    (
        p.parent().unwrap_or(Path::new("")),
        p.file_name().unwrap_or_default(),
    )
}

fn present(listing: &BTreeMap<PathBuf, BTreeSet<OsString>>, p: &Path) -> bool {
    let (dir, name) = split(p);
    listing.get(dir).is_some_and(|s| s.contains(name))
}

fn add_name(listing: &mut BTreeMap<PathBuf, BTreeSet<OsString>>, p: &Path) {
    let (dir, name) = split(p);
    listing
        .entry(dir.to_owned())
        .or_default()
        .insert(name.to_owned());
}

fn move_name(listing: &mut BTreeMap<PathBuf, BTreeSet<OsString>>, from: &Path, to: &Path) {
    let (dir, name) = split(from);
    if let Some(s) = listing.get_mut(dir) {
        s.remove(name);
    }
    add_name(listing, to);
}

/// Whether a file name looks like a rotated copy (`X.3`, `X.3.gz`, `X.20261126T001500Z-001`,
/// with or without `.gz`). Such files are never taken for live artifacts, so a broad glob never
/// rotates rotated copies, the tool's or anybody's.
pub(crate) fn looks_rotated(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let name = name.strip_suffix(".gz").unwrap_or(name);
    let Some((_, last)) = name.rsplit_once('.') else {
        return false;
    };
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // 20261126T001500Z-001
    let b = last.as_bytes();
    b.len() >= 18
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(u8::is_ascii_digit)
}

//! The planner in passes over the backups in index order, holding per file only what the rules
//! need of it — never anything per backup — so that its memory is O(files × rule sizes + kept
//! objects).
//!
//! Every rule is decided by per-file state that does not depend on the order the backups come
//! in, because a file's backups are ordered by (time, place in the index), not by the index:
//!
//! - `keep-last N`: the N greatest keys (time, place) of the file, a bounded heap;
//! - `keep-within D`: the file's newest time not after `now` (the window's anchor);
//! - calendar rules: the N newest buckets of the file and the greatest key in each (buckets are
//!   ordered as their times are), plus the file's oldest key: it is kept too when the file has
//!   fewer than N buckets and it is not itself the newest of its bucket;
//! - `max-total-size`: drops kept backups oldest first until the distinct kept objects fit.
//!   Backups whose object the newest backup of some file uses are never dropped (it would free
//!   nothing), so for every other kept object all of its kept backups are candidates, and the
//!   object is freed when its newest kept backup goes. So the cap drops exactly the candidates
//!   with a key up to the newest key of the object whose freeing meets the cap: one key
//!   decides it, found from the distinct kept objects with their size and newest key.
//!
//! [`Survey`] takes pass 1 (the keep rules' state), [`Weighing`] pass 2 (the kept objects),
//! and [`Ruling`] then gives any backup's [`Verdict`] from its place and compact form.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::SystemTime;

use super::{Backup, Bucket, Policy, Sha256Digest, Verdict, calendar_rules};

/// A backup's order among its file's: the newer is greater; of equal times, the later in the
/// index.
type Key = (SystemTime, u32);

/// What pass 1 keeps of one file.
#[derive(Debug)]
struct FileSurvey {
    /// The `keep-last` newest keys.
    last: BinaryHeap<Reverse<Key>>,
    /// Per calendar rule: the newest buckets (at most N) and the newest key in each, oldest
    /// bucket first (a sorted `Vec`: a third of a `BTreeMap`'s memory for a few buckets).
    buckets: [Vec<(Bucket, Key)>; 3],
    oldest: Key,
    newest: Key,
    newest_object: Sha256Digest,
    /// The newest time not after `now`.
    anchor: Option<SystemTime>,
}

/// Pass 1: every backup, in index order, into what the keep rules need of each file.
#[derive(Debug)]
pub struct Survey {
    policy: Policy,
    now: SystemTime,
    files: Vec<Option<FileSurvey>>,
    count: u32,
}

impl Survey {
    /// A survey for `policy` at time `now`.
    pub fn new(policy: &Policy, now: SystemTime) -> Survey {
        Survey {
            policy: *policy,
            now,
            files: Vec::new(),
            count: 0,
        }
    }

    /// How many backups were added.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The next backup of the index.
    pub fn add(&mut self, b: &Backup) {
        let key = (b.time, self.count);
        self.count = self.count.checked_add(1).expect("at most 2^32 backups");
        let slot = b.file as usize;
        if self.files.len() <= slot {
            self.files.resize_with(slot + 1, || None);
        }
        let f = self.files[slot].get_or_insert_with(|| FileSurvey {
            last: BinaryHeap::new(),
            buckets: Default::default(),
            oldest: key,
            newest: key,
            newest_object: b.object,
            anchor: None,
        });
        f.oldest = f.oldest.min(key);
        if key > f.newest {
            f.newest = key;
            f.newest_object = b.object;
        }
        if !self.policy.has_keep_rules() {
            return;
        }
        if let Some(n) = self.policy.keep_last {
            if f.last.len() < n {
                f.last.push(Reverse(key));
            } else if f.last.peek().is_some_and(|Reverse(min)| key > *min) {
                f.last.pop();
                f.last.push(Reverse(key));
            }
        }
        if self.policy.keep_within.is_some() && b.time <= self.now {
            f.anchor = f.anchor.max(Some(b.time));
        }
        for (k, (rule, n)) in calendar_rules(&self.policy).into_iter().enumerate() {
            let Some(n) = n else { continue };
            let kept = &mut f.buckets[k];
            let bucket = Bucket::of(rule, b.time);
            match kept.binary_search_by(|(x, _)| x.cmp(&bucket)) {
                Ok(at) => kept[at].1 = kept[at].1.max(key),
                Err(at) if kept.len() < n => kept.insert(at, (bucket, key)),
                // Newer than the oldest of N buckets: it replaces that one.
                Err(at) if at > 0 => {
                    kept.remove(0);
                    kept.insert(at - 1, (bucket, key));
                }
                Err(_) => {}
            }
        }
    }

    /// The end of pass 1: the keep rules' marks, for pass 2.
    pub fn finish(self) -> Weighing {
        let mut marks: HashMap<u32, u16> = HashMap::new();
        let mut mark = |i: u32, flag: u16| *marks.entry(i).or_default() |= Verdict::KEEP | flag;
        let pinned = self
            .files
            .iter()
            .flatten()
            .map(|f| f.newest_object)
            .collect();
        let mut files = Vec::with_capacity(self.files.len());
        for f in self.files {
            let Some(f) = f else {
                files.push(None);
                continue;
            };
            for Reverse((_, i)) in f.last {
                mark(i, Verdict::LAST);
            }
            for (k, (_, n)) in calendar_rules(&self.policy).into_iter().enumerate() {
                let Some(n) = n else { continue };
                let kept = &f.buckets[k];
                for &(_, (_, i)) in kept {
                    mark(i, Verdict::CALENDAR << k);
                }
                // Fewer buckets than N: the oldest too, unless it is the newest of its bucket.
                if kept.len() < n && kept.first().is_some_and(|(_, m)| *m != f.oldest) {
                    mark(f.oldest.1, Verdict::OLDEST << k);
                }
            }
            files.push(Some(FileRuling {
                anchor: f.anchor.unwrap_or(self.now),
                newest: f.newest.1,
            }));
        }
        marks.shrink_to_fit();
        Weighing {
            rules: Rules {
                policy: self.policy,
                marks,
                files,
            },
            pinned,
            expected: self.count,
            count: 0,
            kept: HashMap::new(),
        }
    }
}

/// What the verdicts need of one file.
#[derive(Debug)]
struct FileRuling {
    anchor: SystemTime,
    newest: u32,
}

/// The keep rules, decided: a backup's verdict before the cap.
#[derive(Debug)]
struct Rules {
    policy: Policy,
    /// The backups that `keep-last` and the calendar rules keep, by place, with their flags.
    marks: HashMap<u32, u16>,
    files: Vec<Option<FileRuling>>,
}

impl Rules {
    fn verdict(&self, i: u32, b: &Backup) -> Verdict {
        if self.policy.is_empty() {
            return Verdict(Verdict::KEEP | Verdict::NO_POLICY);
        }
        if !self.policy.has_keep_rules() {
            return Verdict(Verdict::KEEP | Verdict::NO_KEEP_RULE);
        }
        let mut v = self.marks.get(&i).copied().unwrap_or(0);
        if let Some(d) = self.policy.keep_within {
            let f = self.file(b);
            if f.anchor.checked_sub(d).is_none_or(|from| b.time > from) {
                v |= Verdict::KEEP | Verdict::WITHIN;
            }
        }
        Verdict(if v == 0 { Verdict::UNSELECTED } else { v })
    }

    fn file(&self, b: &Backup) -> &FileRuling {
        self.files
            .get(b.file as usize)
            .and_then(Option::as_ref)
            .expect("a file the survey saw")
    }
}

/// Pass 2: every backup again, in index order, to weigh the kept objects against the cap.
#[derive(Debug)]
pub struct Weighing {
    rules: Rules,
    /// The objects of the files' newest backups: the cap never frees them.
    pinned: HashSet<Sha256Digest>,
    expected: u32,
    count: u32,
    /// Per distinct kept object: its size (with a cap: the first kept backup's; without: the
    /// last's, as the planner always counted) and its newest kept key.
    kept: HashMap<Sha256Digest, (u64, Key)>,
}

impl Weighing {
    /// How many backups were added.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The next backup of the index: the same backups as pass 1, in the same order.
    pub fn add(&mut self, b: &Backup) {
        let i = self.count;
        self.count += 1;
        if !self.rules.verdict(i, b).keep() {
            return;
        }
        let key = (b.time, i);
        let capped = self.rules.policy.max_total_size.is_some();
        self.kept
            .entry(b.object)
            .and_modify(|(size, newest)| {
                if !capped {
                    *size = b.size;
                }
                *newest = (*newest).max(key);
            })
            .or_insert((b.size, key));
    }

    /// The end of pass 2: the plan, from which each backup's verdict follows.
    pub fn finish(self) -> Ruling {
        assert_eq!(
            self.count, self.expected,
            "pass 2 saw the backups of pass 1"
        );
        let Weighing {
            rules,
            pinned,
            kept,
            ..
        } = self;
        let mut total = kept.values().fold(0u64, |t, (s, _)| t.saturating_add(*s));
        let mut cut = None;
        let mut over_cap = false;
        if let Some(cap) = rules.policy.max_total_size
            && total > cap
        {
            let mut frees: Vec<(Key, u64)> = kept
                .iter()
                .filter(|(o, _)| !pinned.contains(*o))
                .map(|(_, &(size, newest))| (newest, size))
                .collect();
            drop(kept);
            frees.sort_unstable();
            for (newest, size) in frees {
                if total <= cap {
                    break;
                }
                total = total.saturating_sub(size);
                cut = Some(newest);
            }
            over_cap = total > cap;
        }
        Ruling {
            rules,
            pinned,
            cut,
            kept_bytes: total,
            over_cap,
        }
    }
}

/// The plan: any backup's [`Verdict`] from its place in the index and its compact form.
#[derive(Debug)]
pub struct Ruling {
    rules: Rules,
    pinned: HashSet<Sha256Digest>,
    /// `max-total-size` drops the kept backups up to this key whose object is not pinned.
    cut: Option<Key>,
    /// Bytes of the distinct objects the kept backups use.
    pub kept_bytes: u64,
    /// `max-total-size` could not be met without dropping the newest backup of some file.
    pub over_cap: bool,
}

impl Ruling {
    /// The verdict for backup `b`, the `i`th of the index (counting from 0, as the passes did).
    pub fn verdict(&self, i: u32, b: &Backup) -> Verdict {
        let mut v = self.rules.verdict(i, b);
        if v.keep()
            && self.cut.is_some_and(|cut| (b.time, i) <= cut)
            && !self.pinned.contains(&b.object)
        {
            v = Verdict(Verdict::MAX_TOTAL_SIZE);
        }
        if self.over_cap && self.rules.file(b).newest == i {
            v.0 |= Verdict::NEWEST_OF_FILE;
        }
        v
    }
}

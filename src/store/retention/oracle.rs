//! The planner as it was before it held compact items, let alone streamed them: every backup
//! held, each file's sorted newest first. Kept as the oracle that
//! `tests::against_the_oracle::the_streaming_planner_decides_as_the_oracle` compares the
//! planner with on random timelines.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::SystemTime;

use super::*;

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

//! Synthetic timelines, one table per rule; each row is a backup and what the policy does with it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// One backup of the timeline: file, time, size, object (backups with the same object share it).
type Row = (&'static str, &'static str, u64, u8);

/// Applies `policy` at `now` and gives `keep: reasons` or `drop: reasons` per row.
fn decide(policy: Policy, now: &str, rows: &[Row]) -> (Vec<String>, Plan) {
    let items: Vec<Item<'_>> = rows
        .iter()
        .map(|&(group, time, size, obj)| Item {
            group: Path::new(group),
            time: at(time),
            size,
            object: Sha256Digest([obj; 32]),
        })
        .collect();
    let plan = apply(&policy, &items, at(now));
    let shown = plan
        .decisions
        .iter()
        .map(|d| {
            let reasons: Vec<String> = d.reasons.iter().map(ToString::to_string).collect();
            format!(
                "{}: {}",
                if d.keep { "keep" } else { "drop" },
                reasons.join("; ")
            )
        })
        .collect();
    (shown, plan)
}

#[track_caller]
fn check(policy: Policy, rows: &[Row], want: &[&str]) {
    let (got, _) = decide(policy, "2030-01-01T00:00:00Z", rows);
    assert_eq!(got, want, "policy: {policy}");
}

/// Rows of one file `a`, distinct objects, size 1.
fn a(times: &[&'static str]) -> Vec<Row> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| ("a", *t, 1, i as u8))
        .collect()
}

#[test]
fn no_policy_keeps_everything() {
    check(
        Policy::default(),
        &a(&["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"]),
        &["keep: no retention policy", "keep: no retention policy"],
    );
}

#[test]
fn keep_last_keeps_the_newest_n_of_each_file() {
    let rows = [
        ("a", "2026-11-01T00:00:00Z", 1, 1),
        ("b", "2026-11-01T00:00:00Z", 1, 2),
        ("a", "2026-11-02T00:00:00Z", 1, 3),
        ("a", "2026-11-03T00:00:00Z", 1, 4),
        ("b", "2026-11-04T00:00:00Z", 1, 5),
        ("a", "2026-11-04T00:00:00Z", 1, 6),
    ];
    let p = Policy {
        keep_last: Some(2),
        ..Policy::default()
    };
    check(
        p,
        &rows,
        &[
            "drop: no rule keeps it",
            "keep: keep-last 2",
            "drop: no rule keeps it",
            "keep: keep-last 2",
            "keep: keep-last 2",
            "keep: keep-last 2",
        ],
    );
}

#[test]
fn equal_times_order_by_the_index_later_is_newer() {
    let p = Policy {
        keep_last: Some(1),
        ..Policy::default()
    };
    check(
        p,
        &a(&["2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"]),
        &["drop: no rule keeps it", "keep: keep-last 1"],
    );
}

#[test]
fn keep_within_counts_back_from_the_newest_backup_and_excludes_the_boundary() {
    let p = Policy {
        keep_within: Some(DAY),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-11-18T23:59:59Z",
            "2026-11-19T00:00:00Z", // exactly one day before the newest: out
            "2026-11-19T00:00:01Z",
            "2026-11-20T00:00:00Z",
        ]),
        &[
            "drop: no rule keeps it",
            "drop: no rule keeps it",
            "keep: keep-within 1d",
            "keep: keep-within 1d",
        ],
    );
}

#[test]
fn keep_within_is_not_anchored_by_a_backup_from_the_future() {
    let p = Policy {
        keep_within: Some(DAY),
        ..Policy::default()
    };
    let (got, _) = decide(
        p,
        "2026-11-20T12:00:00Z",
        &a(&[
            "2026-11-18T23:00:00Z",
            "2026-11-20T00:00:00Z",
            "2027-06-01T00:00:00Z", // a wrong clock
        ]),
    );
    assert_eq!(
        got,
        [
            "drop: no rule keeps it",
            "keep: keep-within 1d",
            "keep: keep-within 1d"
        ]
    );
}

#[test]
fn keep_within_of_a_dormant_file_keeps_its_last_busy_days() {
    let p = Policy {
        keep_within: Some(7 * DAY),
        ..Policy::default()
    };
    let (got, _) = decide(
        p,
        "2030-01-01T00:00:00Z",
        &a(&[
            "2026-01-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "2026-03-05T00:00:00Z",
        ]),
    );
    assert_eq!(
        got,
        [
            "drop: no rule keeps it",
            "keep: keep-within 7d",
            "keep: keep-within 7d"
        ]
    );
}

#[test]
fn keep_daily_keeps_the_newest_of_each_of_the_last_n_days_with_backups() {
    let p = Policy {
        keep_daily: Some(2),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-11-10T08:00:00Z",
            "2026-11-18T08:00:00Z",
            "2026-11-18T23:59:59Z",
            "2026-11-20T00:00:00Z", // days without backups do not count
            "2026-11-20T09:00:00Z",
        ]),
        &[
            "drop: no rule keeps it",
            "drop: no rule keeps it",
            "keep: keep-daily 2 (2026-11-18)",
            "drop: no rule keeps it",
            "keep: keep-daily 2 (2026-11-20)",
        ],
    );
}

#[test]
fn a_calendar_rule_short_of_buckets_keeps_the_oldest_too() {
    let p = Policy {
        keep_daily: Some(7),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-11-19T08:00:00Z",
            "2026-11-19T09:00:00Z",
            "2026-11-20T08:00:00Z",
            "2026-11-20T09:00:00Z",
        ]),
        &[
            "keep: oldest for keep-daily",
            "keep: keep-daily 7 (2026-11-19)",
            "drop: no rule keeps it",
            "keep: keep-daily 7 (2026-11-20)",
        ],
    );
    // When the oldest is the newest of its bucket already, nothing more is kept.
    check(
        p,
        &a(&[
            "2026-11-19T08:00:00Z",
            "2026-11-20T08:00:00Z",
            "2026-11-20T09:00:00Z",
        ]),
        &[
            "keep: keep-daily 7 (2026-11-19)",
            "drop: no rule keeps it",
            "keep: keep-daily 7 (2026-11-20)",
        ],
    );
    // With enough buckets, the oldest goes.
    let p = Policy {
        keep_daily: Some(1),
        ..Policy::default()
    };
    check(
        p,
        &a(&["2026-11-19T08:00:00Z", "2026-11-20T08:00:00Z"]),
        &["drop: no rule keeps it", "keep: keep-daily 1 (2026-11-20)"],
    );
}

#[test]
fn iso_weeks_across_year_boundaries() {
    let cases = [
        ("1970-01-01T00:00:00Z", "1970-W01"),
        ("2020-12-31T12:00:00Z", "2020-W53"),
        ("2021-01-03T23:59:59Z", "2020-W53"),
        ("2021-01-04T00:00:00Z", "2021-W01"),
        ("2024-12-29T12:00:00Z", "2024-W52"),
        ("2024-12-30T00:00:00Z", "2025-W01"),
        ("2026-12-28T00:00:00Z", "2026-W53"),
        ("2027-01-01T00:00:00Z", "2026-W53"),
        ("2027-01-04T00:00:00Z", "2027-W01"),
    ];
    for (time, want) in cases {
        assert_eq!(
            Bucket::of(Rule::Weekly, at(time)).to_string(),
            want,
            "{time}"
        );
    }
}

#[test]
fn keep_weekly_across_a_year_boundary() {
    let p = Policy {
        keep_weekly: Some(2),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-12-21T00:00:00Z", // 2026-W52
            "2026-12-28T00:00:00Z", // 2026-W53
            "2027-01-02T00:00:00Z", // 2026-W53 still (a Saturday)
            "2027-01-05T00:00:00Z", // 2027-W01
        ]),
        &[
            "drop: no rule keeps it",
            "drop: no rule keeps it",
            "keep: keep-weekly 2 (2026-W53)",
            "keep: keep-weekly 2 (2027-W01)",
        ],
    );
}

#[test]
fn keep_monthly() {
    let p = Policy {
        keep_monthly: Some(2),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-09-30T23:59:59Z",
            "2026-10-01T00:00:00Z",
            "2026-10-31T23:59:59Z",
            "2026-11-01T00:00:00Z",
            "2026-11-20T00:00:00Z",
        ]),
        &[
            "drop: no rule keeps it",
            "drop: no rule keeps it",
            "keep: keep-monthly 2 (2026-10)",
            "drop: no rule keeps it",
            "keep: keep-monthly 2 (2026-11)",
        ],
    );
    let p = Policy {
        keep_monthly: Some(12),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2024-02-29T12:00:00Z",
            "2024-02-29T13:00:00Z",
            "2024-03-01T00:00:00Z",
        ]),
        &[
            "keep: oldest for keep-monthly",
            "keep: keep-monthly 12 (2024-02)",
            "keep: keep-monthly 12 (2024-03)",
        ],
    );
}

#[test]
fn a_backup_is_kept_if_any_rule_keeps_it_with_every_reason_listed() {
    let p = Policy {
        keep_last: Some(1),
        keep_within: Some(DAY),
        keep_daily: Some(2),
        keep_monthly: Some(1),
        ..Policy::default()
    };
    check(
        p,
        &a(&[
            "2026-10-15T00:00:00Z",
            "2026-11-18T12:00:00Z",
            "2026-11-19T05:00:00Z", // before the day that keep-within keeps
            "2026-11-20T00:00:00Z",
            "2026-11-20T06:00:00Z",
        ]),
        &[
            "drop: no rule keeps it",
            "drop: no rule keeps it",
            "keep: keep-daily 2 (2026-11-19)",
            "keep: keep-within 1d",
            "keep: keep-last 1; keep-within 1d; keep-daily 2 (2026-11-20); keep-monthly 1 (2026-11)",
        ],
    );
}

#[test]
fn max_total_size_drops_the_oldest_across_files_but_never_a_files_newest() {
    let p = Policy {
        max_total_size: Some(30),
        ..Policy::default()
    };
    let rows = [
        ("a", "2026-11-01T00:00:00Z", 10, 1),
        ("b", "2026-11-02T00:00:00Z", 10, 2),
        ("a", "2026-11-03T00:00:00Z", 10, 3),
        ("b", "2026-11-04T00:00:00Z", 10, 4),
        ("a", "2026-11-05T00:00:00Z", 10, 5),
    ];
    let (got, plan) = decide(p, "2030-01-01T00:00:00Z", &rows);
    assert_eq!(
        got,
        [
            "drop: max-total-size 30B",
            "drop: max-total-size 30B",
            "keep: no keep rule",
            "keep: no keep rule",
            "keep: no keep rule",
        ]
    );
    assert_eq!((plan.kept_bytes, plan.over_cap), (30, false));
    // A cap below what the newest backups take is not met, and says so.
    let p = Policy {
        max_total_size: Some(5),
        keep_last: Some(3),
        ..Policy::default()
    };
    let (got, plan) = decide(p, "2030-01-01T00:00:00Z", &rows);
    assert_eq!(
        got,
        [
            "drop: max-total-size 5B",
            "drop: max-total-size 5B",
            "drop: max-total-size 5B",
            "keep: keep-last 3; newest of its file",
            "keep: keep-last 3; newest of its file",
        ]
    );
    assert_eq!((plan.kept_bytes, plan.over_cap), (20, true));
}

#[test]
fn max_total_size_counts_a_shared_object_once_and_keeps_what_a_newest_needs() {
    let p = Policy {
        max_total_size: Some(10),
        ..Policy::default()
    };
    // a's oldest shares object 7 with b's newest: dropping it frees nothing.
    let rows = [
        ("a", "2026-11-01T00:00:00Z", 10, 7),
        ("a", "2026-11-02T00:00:00Z", 10, 8),
        ("b", "2026-11-03T00:00:00Z", 10, 7),
        ("a", "2026-11-04T00:00:00Z", 0, 9),
    ];
    let (got, plan) = decide(p, "2030-01-01T00:00:00Z", &rows);
    assert_eq!(
        got,
        [
            "keep: no keep rule",
            "drop: max-total-size 10B",
            "keep: no keep rule",
            "keep: no keep rule",
        ]
    );
    assert_eq!(plan.kept_bytes, 10);
}

#[test]
fn civil_dates() {
    for (days, want) in [
        (0, (1970, 1, 1)),
        (-1, (1969, 12, 31)),
        (11_016, (2000, 2, 29)),
        (19_782, (2024, 2, 29)),
        (20_788, (2026, 12, 1)),
    ] {
        assert_eq!(civil_from_days(days), want, "{days}");
    }
    for y in [1969, 1970, 2000, 2024, 2026, 2100] {
        assert_eq!(civil_from_days(days_from_jan1(y)), (y, 1, 1));
    }
}

#[test]
fn policies_and_sizes_print_as_configured() {
    let p = Policy {
        keep_last: Some(3),
        keep_within: Some(30 * DAY),
        keep_weekly: Some(4),
        max_total_size: Some(200 << 20),
        ..Policy::default()
    };
    assert_eq!(
        p.to_string(),
        "keep-last 3, keep-within 30d, keep-weekly 4, max-total-size 200MiB"
    );
    assert_eq!(Policy::default().to_string(), "none");
    assert_eq!(ByteCount(1536).to_string(), "1536B");
    assert_eq!(ShortDuration(Duration::from_secs(90)).to_string(), "90s");
}

mod against_the_oracle {
    //! The streaming planner (`stream.rs`, through `apply` and `decide`) decides exactly as the
    //! planner that held every backup (`oracle.rs`), reasons and all, on random timelines whose
    //! times are in no particular index order: ties, shared objects, backups from the future,
    //! every rule; and its verdicts do not depend on how the caller numbers the files.

    use proptest::prelude::*;

    use super::super::oracle;
    use super::*;

    const BASE: u64 = 1_767_225_600; // 2026-01-01

    fn policy() -> impl Strategy<Value = Policy> {
        let n = || prop::option::of(0usize..6);
        (
            n(),
            prop::option::of(prop_oneof![Just(0u64), 1u64..400 * 86_400]),
            (n(), n(), n()),
            prop::option::of(0u64..40),
        )
            .prop_map(
                |(keep_last, within, (daily, weekly, monthly), cap)| Policy {
                    keep_last,
                    keep_within: within.map(Duration::from_secs),
                    keep_daily: daily,
                    keep_weekly: weekly,
                    keep_monthly: monthly,
                    max_total_size: cap,
                },
            )
    }

    /// (file, seconds after BASE, size, object): times over two years, coarse so that ties,
    /// same days and same weeks are common.
    fn timeline() -> impl Strategy<Value = Vec<(u8, u64, u64, u8)>> {
        prop::collection::vec(
            (
                0u8..4,
                prop_oneof![0u64..40, 0u64..800].prop_map(|t| t * 21_600),
                1u64..6,
                0u8..12,
            ),
            0..48,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_streaming_planner_decides_as_the_oracle(
            policy in policy(),
            rows in timeline(),
            now in 0u64..900 * 86_400,
        ) {
            let groups = ["a", "b", "dir/c", "d"];
            let items: Vec<Item<'_>> = rows
                .iter()
                .map(|&(g, t, size, obj)| Item {
                    group: Path::new(groups[g as usize]),
                    time: SystemTime::UNIX_EPOCH + Duration::from_secs(BASE + t),
                    size,
                    object: Sha256Digest([obj; 32]),
                })
                .collect();
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(BASE + now);
            let plan = apply(&policy, &items, now);
            prop_assert_eq!(&plan, &oracle::apply(&policy, &items, now));
            // Files numbered sparsely and in reverse, as no caller does: the same decisions.
            let backups: Vec<Backup> = rows
                .iter()
                .zip(&items)
                .map(|(&(g, ..), it)| Backup {
                    time: it.time,
                    size: it.size,
                    object: it.object,
                    file: 3 * (4 - u32::from(g)),
                })
                .collect();
            let verdicts = super::super::decide(&policy, &backups, now);
            let keep: Vec<bool> = verdicts.verdicts.iter().map(|v| v.keep()).collect();
            let want: Vec<bool> = plan.decisions.iter().map(|d| d.keep).collect();
            prop_assert_eq!(keep, want);
            prop_assert_eq!(
                (verdicts.kept_bytes, verdicts.over_cap),
                (plan.kept_bytes, plan.over_cap)
            );
        }
    }
}

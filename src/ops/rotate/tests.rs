//! The plan with fixed clocks, and the executor on temp workspaces.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::plan::{self, Action, Live, Policy, View};
use super::{RotateRequest, rotate_at};
use crate::event::Event;
use crate::ops::{Compress, Naming, Workspace};
use crate::store::{RotatedFile, RotationStep, Rotations, Sha256Digest};

const DAY: Duration = Duration::from_secs(86_400);

fn t(secs: u64) -> SystemTime {
    // 2026-11-26T00:00:00Z
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_651_200 + secs)
}

fn policy(naming: Naming) -> Policy {
    Policy {
        name: "r".into(),
        files: "out/*.json".into(),
        keep_last: None,
        keep_within: None,
        max_size: None,
        max_age: None,
        naming,
        compress: Compress::None,
    }
}

fn live(path: &str, size: u64, born: SystemTime) -> Live {
    Live {
        path: path.into(),
        size,
        born,
    }
}

fn record(path: &str, time: SystemTime) -> RotatedFile {
    RotatedFile {
        entry: "r".into(),
        live: "out/a.json".into(),
        path: path.into(),
        sha256: Sha256Digest::of(path.as_bytes()),
        size: 1,
        time: humantime::format_rfc3339_millis(time).to_string(),
        compressed: path.ends_with(".gz"),
    }
}

/// The directory `out/` holding `names`.
fn listing(names: &[&str]) -> BTreeMap<PathBuf, BTreeSet<OsString>> {
    let mut m = BTreeMap::new();
    m.insert(
        PathBuf::from("out"),
        names.iter().map(OsString::from).collect(),
    );
    m
}

fn run_plan(
    p: Policy,
    lives: Vec<Live>,
    records: &[RotatedFile],
    names: &[&str],
    now: SystemTime,
) -> Vec<Action> {
    let view = View {
        now,
        entries: vec![(p, lives)],
        records,
        listing: listing(names),
    };
    plan::plan(&view).expect("a plan")
}

fn rotate_to(a: &[Action]) -> Vec<String> {
    a.iter()
        .filter_map(|a| match a {
            Action::Rotate { to, .. } => Some(to.display().to_string()),
            _ => None,
        })
        .collect()
}

fn pruned(a: &[Action]) -> Vec<String> {
    a.iter()
        .filter_map(|a| match a {
            Action::Prune { path, .. } => Some(path.display().to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn timestamp_names_sort_and_take_the_next_sequence_in_the_same_second() {
    let now = t(3 * 3600 + 4 * 60 + 5);
    let a = run_plan(
        policy(Naming::Timestamp),
        vec![live("out/a.json", 1, now)],
        &[],
        &["a.json"],
        now,
    );
    assert_eq!(rotate_to(&a), ["out/a.json.20261126T030405Z-001"]);
    // Two earlier rotations in the same second (one compressed, one foreign): one past both.
    let a = run_plan(
        policy(Naming::Timestamp),
        vec![live("out/a.json", 1, now)],
        &[record("out/a.json.20261126T030405Z-001.gz", now)],
        &[
            "a.json",
            "a.json.20261126T030405Z-001.gz",
            "a.json.20261126T030405Z-002",
        ],
        now,
    );
    assert_eq!(rotate_to(&a), ["out/a.json.20261126T030405Z-003"]);
    let mut names = [
        "a.json.20261126T030405Z-009",
        "a.json.20261126T030405Z-010",
        "a.json.20261126T030406Z-001",
    ];
    names.sort();
    assert_eq!(
        names[2], "a.json.20261126T030406Z-001",
        "stamps sort by time"
    );
}

#[test]
fn numbered_shifts_from_the_highest_and_stops_at_a_gap() {
    let now = t(0);
    let recs = [
        record("out/a.json.1", t(0)),
        record("out/a.json.2.gz", t(0)),
        record("out/a.json.4", t(0)),
    ];
    let a = run_plan(
        policy(Naming::Numbered),
        vec![live("out/a.json", 1, now)],
        &recs,
        &["a.json", "a.json.1", "a.json.2.gz", "a.json.4"],
        now,
    );
    assert_eq!(
        a,
        [
            Action::Shift {
                from: "out/a.json.2.gz".into(),
                to: "out/a.json.3.gz".into()
            },
            Action::Shift {
                from: "out/a.json.1".into(),
                to: "out/a.json.2".into()
            },
            Action::Rotate {
                entry: "r".into(),
                live: "out/a.json".into(),
                to: "out/a.json.1".into(),
                size: 1
            },
        ]
    );
}

#[test]
fn numbered_refuses_a_foreign_file_in_the_way() {
    let recs = [record("out/a.json.1", t(0))];
    let view = View {
        now: t(0),
        entries: vec![(policy(Naming::Numbered), vec![live("out/a.json", 1, t(0))])],
        records: &recs,
        listing: listing(&["a.json", "a.json.1", "a.json.2"]),
    };
    let err = plan::plan(&view).unwrap_err();
    assert_eq!(err.path, Path::new("out/a.json.2"));
}

#[test]
fn max_size_rotates_only_files_at_least_that_big() {
    let mut p = policy(Naming::Timestamp);
    p.max_size = Some(100);
    let lives = vec![live("out/a.json", 99, t(0)), live("out/b.json", 100, t(0))];
    let a = run_plan(p, lives, &[], &["a.json", "b.json"], t(0));
    assert_eq!(rotate_to(&a), ["out/b.json.20261126T000000Z-001"]);
}

#[test]
fn max_age_counts_from_the_last_rotation_else_from_the_file() {
    let mut p = policy(Naming::Timestamp);
    p.max_age = Some(DAY);
    // Never rotated: the file's own age.
    let young = run_plan(
        p.clone(),
        vec![live("out/a.json", 1, t(0))],
        &[],
        &["a.json"],
        t(3600),
    );
    assert!(rotate_to(&young).is_empty());
    let old = run_plan(
        p.clone(),
        vec![live("out/a.json", 1, t(0))],
        &[],
        &["a.json"],
        t(86_400),
    );
    assert_eq!(rotate_to(&old).len(), 1);
    // Rotated an hour ago: not due, however old the file is.
    let recs = [record("out/a.json.20261126T230000Z-001", t(82_800))];
    let names = ["a.json", "a.json.20261126T230000Z-001"];
    let a = run_plan(
        p.clone(),
        vec![live("out/a.json", 1, t(0))],
        &recs,
        &names,
        t(86_400),
    );
    assert!(rotate_to(&a).is_empty(), "{a:?}");
    let a = run_plan(
        p,
        vec![live("out/a.json", 1, t(0))],
        &recs,
        &names,
        t(82_800 + 86_400),
    );
    assert_eq!(rotate_to(&a).len(), 1);
}

#[test]
fn keep_last_and_keep_within_prune_what_neither_keeps() {
    let recs = [
        record("out/a.json.20261120T000000Z-001", t(0) - 6 * DAY),
        record("out/a.json.20261123T000000Z-001", t(0) - 3 * DAY),
        record("out/a.json.20261125T000000Z-001", t(0) - DAY),
    ];
    let names: Vec<&str> = recs
        .iter()
        .map(|r| r.path.file_name().unwrap().to_str().unwrap())
        .collect();
    let mut p = policy(Naming::Timestamp);
    p.keep_last = Some(2);
    // keep-last 2 alone: the new rotation and the newest record stay.
    let a = run_plan(p.clone(), vec![], &recs, &names, t(0));
    assert_eq!(
        pruned(&a),
        ["out/a.json.20261120T000000Z-001"],
        "no live file: the two newest stay"
    );
    let a = run_plan(
        p.clone(),
        vec![live("out/a.json", 1, t(0))],
        &recs,
        &names,
        t(0),
    );
    assert_eq!(
        pruned(&a),
        [
            "out/a.json.20261123T000000Z-001",
            "out/a.json.20261120T000000Z-001"
        ]
    );
    // keep-within 4d keeps the 3-day-old one too; either rule keeps.
    p.keep_within = Some((4 * DAY, "4d".into()));
    let a = run_plan(
        p.clone(),
        vec![live("out/a.json", 1, t(0))],
        &recs,
        &names,
        t(0),
    );
    assert_eq!(pruned(&a), ["out/a.json.20261120T000000Z-001"]);
    let Some(Action::Prune { rule, .. }) = a.iter().find(|a| matches!(a, Action::Prune { .. }))
    else {
        unreachable!()
    };
    assert_eq!(rule, "beyond keep-last 2 and older than keep-within 4d");
    // No rule: everything stays.
    let a = run_plan(policy(Naming::Timestamp), vec![], &recs, &names, t(0));
    assert!(pruned(&a).is_empty());
}

#[test]
fn a_copy_pruned_in_the_same_run_is_not_compressed() {
    let recs = [record("out/a.json.20261120T000000Z-001", t(0) - DAY)];
    let mut p = policy(Naming::Timestamp);
    p.keep_last = Some(1);
    p.compress = Compress::Gzip;
    let names = ["a.json", "a.json.20261120T000000Z-001"];
    let a = run_plan(p, vec![live("out/a.json", 1, t(0))], &recs, &names, t(0));
    let kinds: Vec<String> = a
        .iter()
        .map(|a| {
            format!("{a:?}")
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["Rotate", "Compress", "Prune"]);
    assert!(
        matches!(&a[1], Action::Compress { path, .. } if path.to_str().unwrap().ends_with("-001") && path.to_str().unwrap().contains("T000000Z") && !path.to_str().unwrap().contains("1120"))
    );
}

#[test]
fn a_recorded_copy_that_is_gone_is_forgotten() {
    let recs = [record("out/a.json.1", t(0))];
    let a = run_plan(policy(Naming::Numbered), vec![], &recs, &[], t(0));
    assert_eq!(
        a,
        [Action::Forget {
            path: "out/a.json.1".into()
        }]
    );
}

#[test]
fn rotated_looking_names() {
    for n in [
        "a.json.1",
        "a.json.12.gz",
        "a.json.20261126T001500Z-001",
        "x.20261126T001500Z-012.gz",
    ] {
        assert!(plan::looks_rotated(n.as_ref()), "{n}");
    }
    for n in ["a.json", "a.json.gz", "v1.2.json", "a.20261126.json"] {
        assert!(!plan::looks_rotated(n.as_ref()), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// The executor, on disk

struct Tmp {
    dir: tempfile::TempDir,
}

impl Tmp {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        fs::write(dir.path().join("atomic.toml"), config).unwrap();
        fs::create_dir_all(dir.path().join("out")).unwrap();
        Tmp { dir }
    }

    fn put(&self, rel: &str, bytes: &[u8]) {
        fs::write(self.dir.path().join(rel), bytes).unwrap();
    }

    fn ws(&self) -> Workspace {
        Workspace::discover(None, None, self.dir.path()).unwrap()
    }

    fn rotate(&self, now: SystemTime, dry_run: bool) -> Vec<Event> {
        let mut events = Vec::new();
        let req = RotateRequest {
            dry_run,
            ..RotateRequest::default()
        };
        rotate_at(&self.ws(), &req, now, &mut events).unwrap();
        events
    }

    /// Every file under `out/` with its bytes (decompressed when `.gz`).
    fn contents(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in fs::read_dir(self.dir.path().join("out")).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let mut bytes = fs::read(e.path()).unwrap();
            if name.ends_with(".gz") {
                let mut d = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut d)
                    .unwrap();
                bytes = d;
            }
            out.insert(name, bytes);
        }
        out
    }

    /// Every file of the workspace, the state directory included, with its bytes.
    fn everything(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.insert(p.strip_prefix(root).unwrap().into(), fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out
    }

    fn records(&self) -> Rotations {
        let text = fs::read(self.dir.path().join(".atomic/rotations.json")).unwrap();
        serde_json::from_slice(&text).unwrap()
    }
}

const GZIP_KEEP_2: &str = r#"
[[rotate]]
name = "reports"
files = "out/*.json"
keep-last = 2
compress = "gzip"
"#;

#[test]
fn gzip_round_trips_and_keeps_the_mode() {
    let w = Tmp::new(GZIP_KEEP_2);
    let original: Vec<u8> = (0..50_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    w.put("out/a.json", &original);
    fs::set_permissions(
        w.dir.path().join("out/a.json"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let events = w.rotate(t(0), false);
    assert!(
        matches!(events[1], Event::RotationCompressed { bytes: Some(b), .. } if b < original.len() as u64)
    );
    let c = w.contents();
    assert_eq!(c.len(), 1, "{:?}", c.keys());
    let (name, bytes) = c.iter().next().unwrap();
    assert_eq!(
        name,
        "out/a.json.20261126T000000Z-001.gz"
            .strip_prefix("out/")
            .unwrap()
    );
    assert!(
        bytes == &original,
        "the decompressed bytes are the original"
    );
    let mode = fs::metadata(w.dir.path().join("out").join(name))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let r = w.records();
    assert_eq!(r.files[0].sha256, Sha256Digest::of(&original));
    assert!(r.files[0].compressed && r.pending.is_empty());
}

#[test]
fn foreign_files_are_never_touched_even_when_they_look_rotated() {
    let w = Tmp::new(GZIP_KEEP_2);
    let foreign = [
        ("out/a.json.1", &b"numbered, not ours"[..]),
        ("out/a.json.20261125T000000Z-001.gz", b"not even gzip"),
        (
            "out/a.json.20261126T000000Z-001",
            b"ours would have been this name",
        ),
        ("out/notes.txt", b"beside"),
    ];
    for (p, b) in foreign {
        w.put(p, b);
    }
    for i in 0..5u64 {
        w.put("out/a.json", format!("run {i}").as_bytes());
        w.rotate(t(i), false);
    }
    let c = w.contents_raw();
    for (p, b) in foreign {
        assert_eq!(
            c.get(p.strip_prefix("out/").unwrap()).map(Vec::as_slice),
            Some(b),
            "{p}"
        );
    }
    // Ours: the two newest, compressed; the foreign name made ours take the next sequence.
    let ours: Vec<&String> = c
        .keys()
        .filter(|k| !foreign.iter().any(|(p, _)| p.ends_with(k.as_str())))
        .collect();
    assert_eq!(
        ours,
        [
            "a.json.20261126T000003Z-001.gz",
            "a.json.20261126T000004Z-001.gz"
        ]
    );
    assert!(!c.contains_key("a.json.20261126T000000Z-002.gz"), "pruned");
}

impl Tmp {
    fn contents_raw(&self) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(self.dir.path().join("out"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

#[test]
fn a_rotated_copy_that_vanished_is_not_an_error() {
    let w = Tmp::new(GZIP_KEEP_2);
    w.put("out/a.json", b"one");
    w.rotate(t(0), false);
    let gone = w.records().files[0].path.clone();
    fs::remove_file(w.dir.path().join(&gone)).unwrap();
    w.put("out/a.json", b"two");
    let events = w.rotate(t(1), false);
    assert_eq!(
        events[0],
        Event::RotationVanished {
            path: gone,
            dry_run: false
        }
    );
    assert_eq!(w.records().files.len(), 1);
}

#[test]
fn dry_run_changes_nothing_and_shows_each_action() {
    let w = Tmp::new(GZIP_KEEP_2);
    for i in 0..3u64 {
        w.put("out/a.json", format!("run {i}").as_bytes());
        w.rotate(t(i), false);
    }
    w.put("out/a.json", b"run 3");
    let before = w.everything();
    let events = w.rotate(t(3), true);
    assert_eq!(w.everything(), before, "nothing changed");
    let shown: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Rotated { dry_run: true, .. } => "rotate",
            Event::RotationCompressed { dry_run: true, .. } => "compress",
            Event::RotationPruned { dry_run: true, .. } => "prune",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(shown, ["rotate", "compress", "prune"]);
}

#[test]
fn dry_run_without_a_store_creates_none() {
    let w = Tmp::new(GZIP_KEEP_2);
    w.put("out/a.json", b"x");
    let events = w.rotate(t(0), true);
    assert_eq!(events.len(), 2);
    assert!(!w.dir.path().join(".atomic").exists());
}

/// Recovery of each step, as a crash leaves it: the record says the step was in flight.
#[test]
fn an_interrupted_compression_is_finished_from_the_records() {
    let w = Tmp::new(GZIP_KEEP_2);
    w.put("out/a.json", b"payload");
    w.rotate(t(0), false);
    // Put the disk back to "the .gz is in place but the uncompressed copy is still there".
    let mut r = w.records();
    let gz = r.files[0].path.clone();
    let plain = PathBuf::from(gz.to_str().unwrap().strip_suffix(".gz").unwrap());
    w.put(plain.to_str().unwrap(), b"payload");
    r.files[0].path = plain.clone();
    r.files[0].compressed = false;
    r.pending = vec![RotationStep::Compress {
        from: plain.clone(),
        to: gz.clone(),
        temp: crate::store::temp_name(gz.file_name().unwrap()),
    }];
    fs::write(
        w.dir.path().join(".atomic/rotations.json"),
        serde_json::to_vec(&r).unwrap(),
    )
    .unwrap();
    let events = w.rotate(t(1), false);
    assert!(matches!(&events[0], Event::Recovered { .. }), "{events:?}");
    let c = w.contents();
    assert_eq!(
        c.values().filter(|b| b.as_slice() == b"payload").count(),
        1,
        "exactly once: {:?}",
        c.keys()
    );
    assert!(!w.dir.path().join(&plain).exists());
}

#[test]
fn an_interrupted_rotation_is_recorded_from_the_disk() {
    let w = Tmp::new("[[rotate]]\nname = \"r\"\nfiles = \"out/*.json\"\nnaming = \"numbered\"\n");
    w.put("out/a.json.1", b"renamed before the crash");
    let r = Rotations {
        pending: vec![RotationStep::Rotate {
            entry: "r".into(),
            from: "out/a.json".into(),
            to: "out/a.json.1".into(),
            time: "2026-11-26T00:00:00.000Z".into(),
        }],
        ..Rotations::default()
    };
    fs::create_dir_all(w.dir.path().join(".atomic")).unwrap();
    fs::write(w.dir.path().join(".atomic/lock"), b"").unwrap();
    fs::write(
        w.dir.path().join(".atomic/rotations.json"),
        serde_json::to_vec(&r).unwrap(),
    )
    .unwrap();
    w.put("out/a.json", b"next");
    // A dry run sees the step finished, and changes nothing.
    let before = w.everything();
    let planned = w.rotate(t(1), true);
    assert_eq!(w.everything(), before);
    assert!(
        matches!(
            &planned[..],
            [
                Event::RotationShifted { dry_run: true, .. },
                Event::Rotated { dry_run: true, .. }
            ]
        ),
        "{planned:?}"
    );
    w.rotate(t(1), false);
    let c = w.contents();
    assert_eq!(
        c["a.json.2"], b"renamed before the crash",
        "recorded, so it was shifted"
    );
    assert_eq!(c["a.json.1"], b"next");
    assert_eq!(w.records().files.len(), 2);
}

#[test]
fn a_glob_matches_at_its_depth_and_double_star_descends() {
    let w = Tmp::new(
        "[[rotate]]\nname = \"flat\"\nfiles = \"out/*.json\"\n\n\
         [[rotate]]\nname = \"deep\"\nfiles = \"deep/**/*.json\"\n",
    );
    for d in ["out/sub", "deep/x/y"] {
        fs::create_dir_all(w.dir.path().join(d)).unwrap();
    }
    w.put("out/a.json", b"a");
    w.put("out/sub/b.json", b"b");
    w.put("deep/x/y/c.json", b"c");
    w.put("deep/d.json", b"d");
    let mut rotated: Vec<String> = w
        .rotate(t(0), false)
        .into_iter()
        .filter_map(|e| match e {
            Event::Rotated { path, .. } => Some(path.display().to_string()),
            _ => None,
        })
        .collect();
    rotated.sort();
    assert_eq!(rotated, ["deep/d.json", "deep/x/y/c.json", "out/a.json"]);
    assert!(w.dir.path().join("out/sub/b.json").exists());
}

//! Unit tests of the record format and the append path; tamper tests run the binary in
//! `tests/it/audit.rs`.

use super::*;

fn options() -> AuditOptions {
    AuditOptions {
        enabled: true,
        actor: Actor {
            user: Some("ada".into()),
            uid: 1000,
            host: Some("box".into()),
            email: None,
            ci: None,
        },
        tool: Tool::default(),
    }
}

fn entry(path: &str, n: u8) -> AuditEntry {
    AuditEntry {
        op: "write".into(),
        path: Some(path.into()),
        before: None,
        after: Some(FileState {
            sha256: Sha256Digest::of(&[n]),
            size: 1,
        }),
        outcome: AuditOutcome::Ok,
    }
}

fn lines(state: &Path) -> Vec<String> {
    fs::read_to_string(state.join(LOG))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify_clean(state: &Path) -> AuditReport {
    let r = verify(state, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    r
}

#[test]
fn a_record_has_the_keys_of_design_4_in_order_and_its_hash_covers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    append(dir.path(), false, &options(), &[entry("a.json", 1)], false).unwrap();
    let lines = lines(dir.path());
    assert_eq!(lines.len(), 2, "genesis, then the record");
    let keys = [
        "v", "log_id", "seq", "ts", "run_id", "actor", "tool", "op", "path", "before", "after",
        "outcome", "prev", "hash",
    ];
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let have: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(have, keys);
        assert!(!line.contains(": ") && !line.contains(", "), "{line}");
        let (unsealed, _) = line.split_once(",\"hash\":").unwrap();
        assert_eq!(record_hash(format!("{unsealed}}}").as_bytes()), v["hash"]);
    }
    let g: AuditRecord = serde_json::from_str(&lines[0]).unwrap();
    let r: AuditRecord = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(
        (g.op.as_str(), g.seq, g.prev.as_deref()),
        ("genesis", 0, None)
    );
    assert_eq!(g.log_id.len(), 32);
    assert_eq!((r.seq, r.prev.as_deref()), (1, Some(g.hash.as_str())));
    assert_eq!(r.log_id, g.log_id);
    assert!(r.ts.ends_with('Z') && r.ts.len() == 24, "{}", r.ts);
    assert!(
        lines[1]
            .contains(r#""actor":{"user":"ada","uid":1000,"host":"box","email":null,"ci":null}"#)
    );
    assert!(lines[1].contains(r#""before":null,"after":{"sha256":""#));
    let head: Head = serde_json::from_slice(&fs::read(dir.path().join(HEAD)).unwrap()).unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (1, r.hash.as_str()));
    assert_eq!(head.size, fs::metadata(dir.path().join(LOG)).unwrap().len());
    assert_eq!(verify_clean(dir.path()).records, 2);
}

#[test]
fn appends_continue_the_chain_and_keep_the_head() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5u8 {
        let batch: Vec<_> = (0..3).map(|j| entry(&format!("f{j}"), i)).collect();
        assert!(
            append(dir.path(), false, &options(), &batch, false)
                .unwrap()
                .is_empty()
        );
    }
    let r = verify_clean(dir.path());
    assert_eq!(r.records, 16);
    assert_eq!(r.last.unwrap().seq, 15);
}

#[test]
fn records_past_the_head_are_accepted_when_they_chain_onto_it() {
    // A crash between the log's fsync and the head's rename leaves the head one batch behind.
    let dir = tempfile::tempdir().unwrap();
    append(dir.path(), false, &options(), &[entry("a", 1)], false).unwrap();
    let head = fs::read(dir.path().join(HEAD)).unwrap();
    append(
        dir.path(),
        false,
        &options(),
        &[entry("a", 2), entry("b", 2)],
        false,
    )
    .unwrap();
    fs::write(dir.path().join(HEAD), head).unwrap();
    let r = verify(dir.path(), &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].line, Some(3));
    let notices = append(dir.path(), false, &options(), &[entry("c", 3)], false).unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(verify_clean(dir.path()).records, 5);
}

#[test]
fn a_torn_tail_is_cut_off_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    append(dir.path(), false, &options(), &[entry("a", 1)], false).unwrap();
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG))
        .unwrap();
    f.write_all(br#"{"v":1,"log_id":"ab"#).unwrap();
    let r = verify(dir.path(), &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert!(r.findings[0].torn);
    assert_eq!(r.findings[0].line, Some(3));
    let notices = append(dir.path(), false, &options(), &[entry("b", 2)], false).unwrap();
    assert!(matches!(
        notices[..],
        [AppendNotice::Repaired { bytes: 19, .. }]
    ));
    let lines = lines(dir.path());
    let repair: AuditRecord = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(repair.op, "repair");
    assert_eq!(repair.before.unwrap().size, 19);
    assert_eq!(verify_clean(dir.path()).records, 4);
}

#[test]
fn a_damaged_log_is_set_aside_and_a_segment_links_to_its_last_good_record() {
    let dir = tempfile::tempdir().unwrap();
    append(
        dir.path(),
        false,
        &options(),
        &[entry("a", 1), entry("b", 1)],
        false,
    )
    .unwrap();
    let before = lines(dir.path());
    // Remove the last record: the head no longer matches.
    fs::write(
        dir.path().join(LOG),
        format!("{}\n{}\n", before[0], before[1]),
    )
    .unwrap();
    let notices = append(dir.path(), false, &options(), &[entry("c", 2)], false).unwrap();
    let [
        AppendNotice::Segment {
            set_aside, linked, ..
        },
    ] = &notices[..]
    else {
        panic!("{notices:?}")
    };
    assert_eq!(set_aside, "audit.1.jsonl");
    let second: AuditRecord = serde_json::from_str(&before[1]).unwrap();
    assert_eq!(linked.as_ref().unwrap().hash, second.hash);
    let now = lines(dir.path());
    let seg: AuditRecord = serde_json::from_str(&now[0]).unwrap();
    assert_eq!(seg.op, "segment");
    assert_eq!(
        (seg.seq, seg.prev.as_deref()),
        (2, Some(second.hash.as_str()))
    );
    assert_eq!(seg.path.as_deref(), Some("audit.1.jsonl"));
    // Verify explains the break at line 1 and nothing else.
    let r = verify(dir.path(), &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].line, Some(1));
    let notes = r.findings[0].notes.join("\n");
    assert!(notes.contains("intact up to its line 2 (seq 1)"), "{notes}");
    // Appends go on normally after the segment.
    assert!(
        append(dir.path(), false, &options(), &[entry("d", 3)], false)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_missing_head_is_damage_unless_the_log_is_one_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log {
        state: dir.path(),
        sync: false,
        options: &options(),
    };
    log.create(None, None).unwrap();
    fs::remove_file(dir.path().join(HEAD)).unwrap();
    assert!(
        append(dir.path(), false, &options(), &[entry("a", 1)], false)
            .unwrap()
            .is_empty()
    );
    fs::remove_file(dir.path().join(HEAD)).unwrap();
    let notices = append(dir.path(), false, &options(), &[entry("b", 1)], false).unwrap();
    assert!(
        matches!(notices[..], [AppendNotice::Segment { .. }]),
        "{notices:?}"
    );
}

#[test]
fn a_huge_or_garbage_line_does_not_exhaust_memory() {
    let dir = tempfile::tempdir().unwrap();
    append(dir.path(), false, &options(), &[entry("a", 1)], false).unwrap();
    let mut text = fs::read(dir.path().join(LOG)).unwrap();
    text.splice(0..0, vec![b'x'; 3 * MAX_LINE].into_iter().chain([b'\n']));
    fs::write(dir.path().join(LOG), text).unwrap();
    let r = verify(dir.path(), &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.findings[0].line, Some(1));
}

#[test]
fn an_empty_log_without_a_head_starts_again() {
    // A crash right after the log file was created, before its first record.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(LOG), b"").unwrap();
    assert!(
        append(dir.path(), false, &options(), &[entry("a", 1)], false)
            .unwrap()
            .is_empty()
    );
    assert_eq!(verify_clean(dir.path()).records, 2);
}

#[test]
fn a_damaged_head_is_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    append(dir.path(), false, &options(), &[entry("a", 1)], false).unwrap();
    fs::write(dir.path().join(HEAD), b"{\"seq\":").unwrap();
    let r = verify(dir.path(), &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        (r.findings[0].file.as_str(), r.findings[0].line),
        (HEAD, None)
    );
    // The next append cannot trust the head: a new segment.
    let notices = append(dir.path(), false, &options(), &[entry("b", 2)], false).unwrap();
    assert!(
        matches!(notices[..], [AppendNotice::Segment { .. }]),
        "{notices:?}"
    );
}

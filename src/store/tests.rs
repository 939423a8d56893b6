//! Unit tests of the store as a whole: transactions, and recovery from journals left in every
//! stage (written here by hand, as a crash would leave them).

use std::fs;
use std::path::Path;

use super::journal::{Entry, Intent, Journal};
use super::*;
use crate::event::{Discard, Event, RecoveryAction};

fn open(root: &Path) -> Store {
    Store::open(root, StoreOptions::default(), &mut Discard).unwrap()
}

fn state(bytes: &[u8]) -> FileState {
    FileState {
        sha256: Sha256Digest::of(bytes),
        size: bytes.len() as u64,
    }
}

fn no_temps(root: &Path) {
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            assert!(
                !p.to_string_lossy().ends_with(".atomic-tmp"),
                "temp left: {}",
                p.display()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn commit_writes_every_file_keeps_backups_and_records_the_manifest() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("a"), "old a").unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("a", "new a").unwrap();
    tx.write("sub/dir/b", "new b").unwrap();
    let done = tx.commit().unwrap();
    assert_eq!(fs::read_to_string(t.path().join("a")).unwrap(), "new a");
    assert_eq!(
        fs::read_to_string(t.path().join("sub/dir/b")).unwrap(),
        "new b"
    );
    assert_eq!(done.files[0].backup, Some(Sha256Digest::of(b"old a")));
    assert_eq!(done.files[1].backup, None);
    let m = store.manifest().unwrap();
    assert_eq!(m.files["a"], state(b"new a"));
    assert_eq!(m.files["sub/dir/b"], state(b"new b"));
    let backups = store.backups().unwrap();
    assert_eq!(backups.len(), 1);
    assert_eq!(store.read_backup(&backups[0]).unwrap(), b"old a");
    assert!(journal::list(&store.journal_dir()).unwrap().is_empty());
    no_temps(t.path());
}

#[test]
fn dropping_an_uncommitted_transaction_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("a"), "old").unwrap();
    let store = open(t.path());
    {
        let mut tx = store.transaction("write");
        tx.write("a", "new").unwrap();
        tx.write("n/new", "x").unwrap();
    }
    assert_eq!(fs::read_to_string(t.path().join("a")).unwrap(), "old");
    assert!(!t.path().join("n").exists());
    assert!(store.manifest().unwrap().files.is_empty());
    no_temps(t.path());
}

#[test]
fn identical_bytes_touch_nothing_but_are_recorded() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("a"), "same").unwrap();
    let mtime = fs::metadata(t.path().join("a"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("a", "same").unwrap();
    let done = tx.commit().unwrap();
    assert!(done.files[0].unchanged());
    assert_eq!(
        fs::metadata(t.path().join("a"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert_eq!(store.manifest().unwrap().files["a"], state(b"same"));
    assert!(store.backups().unwrap().is_empty());
}

#[test]
fn delete_keeps_a_backup_and_forgets_the_file() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("gone", "bytes").unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction("write");
    tx.delete("gone").unwrap();
    tx.commit().unwrap();
    assert!(!t.path().join("gone").exists());
    assert!(!store.manifest().unwrap().files.contains_key("gone"));
    let b = store.backups().unwrap();
    assert_eq!(
        (b[0].op.as_str(), store.read_backup(&b[0]).unwrap()),
        ("delete", b"bytes".to_vec())
    );
}

#[test]
fn the_same_path_twice_and_deleting_nothing_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("a", "1").unwrap();
    assert!(matches!(
        tx.write("a", "2"),
        Err(StoreError::Duplicate { .. })
    ));
    assert!(tx.delete("missing").is_err());
}

/// A journal as a crash after staging leaves it: intent written, temp staged, backup kept.
fn crashed(root: &Path, old: &[u8], new: &[u8], commit: bool, abort: bool) -> (Store, String) {
    crashed_write(root, old, new, commit, abort, false)
}

/// [`crashed`], of a user file's write (`unmanaged`) when asked.
fn crashed_write(
    root: &Path,
    old: &[u8],
    new: &[u8],
    commit: bool,
    abort: bool,
    unmanaged: bool,
) -> (Store, String) {
    fs::write(root.join("f"), old).unwrap();
    let store = open(root);
    let temp = ".f.0123456789abcdef.atomic-tmp";
    fs::write(root.join(temp), new).unwrap();
    fs::write(
        store
            .state
            .join("objects")
            .join(Sha256Digest::of(old).to_string()),
        old,
    )
    .unwrap();
    let intent = Intent {
        txid: "0000000000001-feedfacefeedface".into(),
        time: "2026-11-25T20:00:00.000Z".into(),
        command: "test".into(),
        op: "write".into(),
        created_dirs: vec![],
        manifest_temp: std::ffi::OsString::from(".manifest.json.0123456789abcdef.atomic-tmp")
            .into(),
        entries: vec![Entry {
            path: "f".into(),
            real: "f".into(),
            temp: std::ffi::OsString::from(temp).into(),
            before: Some(state(old)),
            after: Some(state(new)),
            mode: 0o644,
            uid: None,
            gid: None,
            backup_temp: Some(std::ffi::OsString::from(bk_temp(old)).into()),
            manifest_before: None,
            inputs: None,
            inputs_before: None,
            unmanaged,
        }],
    };
    let mut j = Journal::create(&store.journal_dir(), &intent).unwrap();
    if commit {
        j.commit(true).unwrap();
    }
    if abort {
        j.abort(true).unwrap();
    }
    (store, intent.txid)
}

fn recover(store: &Store, mode: RecoverMode) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    store.recover(mode, &mut events)?;
    Ok(events)
}

#[test]
fn a_user_file_is_recorded_only_if_it_was_already() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("src.toml"), "a = 1").unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("set");
    tx.write_with("src.toml", "a = 2", user_file()).unwrap();
    tx.write("out.json", "{}").unwrap();
    let done = tx.commit().unwrap();
    assert_eq!(done.files[0].backup, Some(Sha256Digest::of(b"a = 1")));
    let m = store.manifest().unwrap();
    assert!(
        !m.files.contains_key("src.toml"),
        "an edit does not manage a file"
    );
    assert_eq!(m.files["out.json"], state(b"{}"));
    assert_eq!(store.backups().unwrap().len(), 1);
    // A file the manifest records stays recorded, with its new state.
    let mut tx = store.transaction("set");
    tx.write_with("out.json", "[]", user_file()).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.manifest().unwrap().files["out.json"], state(b"[]"));
    // Roll forward after a crash keeps the rule.
    drop(store);
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed_write(t.path(), b"old", b"new", true, false, true);
    recover(&store, RecoverMode::RollForward).unwrap();
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"new");
    assert!(!store.manifest().unwrap().files.contains_key("f"));
}

#[test]
fn recovery_discards_a_transaction_that_never_committed() {
    let t = tempfile::tempdir().unwrap();
    let (store, txid) = crashed(t.path(), b"old", b"new", false, false);
    let events = recover(&store, RecoverMode::RollForward).unwrap();
    assert!(
        matches!(&events[0], Event::Recovered { txid: id, action: RecoveryAction::Discarded, .. } if *id == txid)
    );
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"old");
    no_temps(t.path());
    assert!(journal::list(&store.journal_dir()).unwrap().is_empty());
}

#[test]
fn recovery_rolls_a_committed_transaction_forward() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    let events = recover(&store, RecoverMode::RollForward).unwrap();
    assert!(matches!(
        &events[0],
        Event::Recovered {
            action: RecoveryAction::RolledForward,
            ..
        }
    ));
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"new");
    assert_eq!(store.manifest().unwrap().files["f"], state(b"new"));
    assert_eq!(store.backups().unwrap().len(), 1);
    // Recovering twice (a crash during recovery) changes nothing more.
    assert!(
        recover(&store, RecoverMode::RollForward)
            .unwrap()
            .is_empty()
    );
    no_temps(t.path());
}

#[test]
fn rollback_undoes_a_committed_transaction() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    // Half done: the rename happened before the crash.
    fs::rename(
        t.path().join(".f.0123456789abcdef.atomic-tmp"),
        t.path().join("f"),
    )
    .unwrap();
    recover(&store, RecoverMode::RollBack).unwrap();
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"old");
    assert!(store.manifest().unwrap().files.is_empty());
    no_temps(t.path());
}

#[test]
fn an_aborted_transaction_is_rolled_back_even_when_asked_to_roll_forward() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, true);
    fs::rename(
        t.path().join(".f.0123456789abcdef.atomic-tmp"),
        t.path().join("f"),
    )
    .unwrap();
    let events = recover(&store, RecoverMode::RollForward).unwrap();
    assert!(matches!(
        &events[0],
        Event::Recovered {
            action: RecoveryAction::RolledBack,
            ..
        }
    ));
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"old");
}

#[test]
fn recovery_never_overwrites_a_file_changed_since_the_crash() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    fs::write(t.path().join("f"), b"edited by hand").unwrap();
    let err = recover(&store, RecoverMode::RollForward).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"edited by hand");
    assert_eq!(
        journal::list(&store.journal_dir()).unwrap().len(),
        1,
        "the journal is kept"
    );
}

#[test]
fn a_torn_intent_is_removed_and_nothing_else_is_touched() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    fs::write(t.path().join("keep.atomic-tmp"), "not ours to delete").unwrap();
    fs::write(
        store.journal_dir().join("0000000000001-aa.jsonl"),
        "{\"kind\":\"intent\",\"txid\":",
    )
    .unwrap();
    assert!(
        recover(&store, RecoverMode::RollForward)
            .unwrap()
            .is_empty()
    );
    assert!(journal::list(&store.journal_dir()).unwrap().is_empty());
    assert!(
        t.path().join("keep.atomic-tmp").exists(),
        "never delete by pattern"
    );
}

#[test]
fn a_corrupt_backup_object_is_never_restored() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("f", "v1").unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction("write");
    tx.write("f", "v2").unwrap();
    tx.commit().unwrap();
    let rec = &store.backups().unwrap()[0];
    fs::write(
        store.state.join("objects").join(rec.sha256.to_string()),
        "tampered",
    )
    .unwrap();
    assert!(matches!(
        store.read_backup(rec),
        Err(StoreError::CorruptObject { .. })
    ));
}

#[test]
fn the_backup_index_tolerates_a_torn_tail_but_not_a_damaged_middle() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("f", "v1").unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction("write");
    tx.write("f", "v2").unwrap();
    tx.commit().unwrap();
    let index = store.index_path();
    let whole = fs::read_to_string(&index).unwrap();
    fs::write(&index, format!("{whole}{{\"id\":\"abc")).unwrap();
    assert_eq!(store.backups().unwrap().len(), 1);
    fs::write(&index, format!("garbage\n{whole}")).unwrap();
    assert!(matches!(store.backups(), Err(StoreError::Damaged { .. })));
}

/// A crash mid-append left a torn last line; the next append glued its record onto it, so that
/// record was lost, and one more append made the index unreadable. Now the torn tail is cut
/// off before appending (and a whole record missing only its newline gets one).
#[test]
fn appending_after_a_torn_tail_loses_no_record() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    let write = |bytes: &str| {
        let mut tx = store.transaction("write");
        tx.write("f", bytes).unwrap();
        tx.commit().unwrap();
    };
    write("v1");
    write("v2");
    let index = store.index_path();
    let whole = fs::read_to_string(&index).unwrap();
    fs::write(&index, format!("{whole}{{\"id\":\"abc")).unwrap();
    write("v3");
    write("v4");
    assert_eq!(store.backups().unwrap().len(), 3);
    // A whole last record without its newline is kept.
    let whole = fs::read_to_string(&index).unwrap();
    fs::write(&index, whole.trim_end()).unwrap();
    write("v5");
    assert_eq!(store.backups().unwrap().len(), 4);
}

/// A backup kept by hard link lives under its journal-listed temp name until the target is
/// renamed away. Regression guard: had it taken its final name before COMMIT, a discarded
/// transaction would leave the user's file with a second link, and every later write would be
/// refused as "hard-linked".
#[test]
fn a_discarded_transaction_leaves_no_second_link_to_the_users_file() {
    use std::os::unix::fs::MetadataExt;
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", false, false);
    fs::remove_file(
        store
            .state
            .join("objects")
            .join(Sha256Digest::of(b"old").to_string()),
    )
    .unwrap();
    fs::hard_link(
        t.path().join("f"),
        store.state.join("objects").join(bk_temp(b"old")),
    )
    .unwrap();
    assert_eq!(fs::metadata(t.path().join("f")).unwrap().nlink(), 2);
    recover(&store, RecoverMode::RollForward).unwrap();
    assert_eq!(fs::metadata(t.path().join("f")).unwrap().nlink(), 1);
    let mut tx = store.transaction("write");
    tx.write("f", "again").unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_linked_backup_is_published_by_roll_forward() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    let object = store
        .state
        .join("objects")
        .join(Sha256Digest::of(b"old").to_string());
    fs::remove_file(&object).unwrap();
    fs::hard_link(
        t.path().join("f"),
        store.state.join("objects").join(bk_temp(b"old")),
    )
    .unwrap();
    recover(&store, RecoverMode::RollForward).unwrap();
    assert_eq!(fs::read(&object).unwrap(), b"old");
    assert_eq!(fs::read(t.path().join("f")).unwrap(), b"new");
    no_temps(t.path());
}

#[test]
fn commit_keeps_backups_by_link_with_the_original_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("a"), "old").unwrap();
    fs::set_permissions(t.path().join("a"), fs::Permissions::from_mode(0o640)).unwrap();
    let old_ino = fs::metadata(t.path().join("a")).unwrap().ino();
    let store = open(t.path());
    let mut tx = store.transaction("write");
    tx.write("a", "new").unwrap();
    tx.commit().unwrap();
    let object = fs::metadata(
        store
            .state
            .join("objects")
            .join(Sha256Digest::of(b"old").to_string()),
    )
    .unwrap();
    assert_eq!(
        object.ino(),
        old_ino,
        "the old inode itself is the backup: nothing copied"
    );
    assert_eq!(
        (object.nlink(), object.permissions().mode() & 0o7777),
        (1, 0o640)
    );
}

fn audit_records(store: &Store) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    store
        .audit_records(&mut |r| {
            out.push(r);
            true
        })
        .unwrap();
    out
}

#[test]
fn recovery_is_recorded_in_the_audit_log() {
    // Rolled forward: old → new.
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    recover(&store, RecoverMode::RollForward).unwrap();
    let records = audit_records(&store);
    let ops: Vec<&str> = records.iter().map(|r| r.op.as_str()).collect();
    assert_eq!(ops, ["genesis", "recover"]);
    let r = &records[1];
    assert_eq!(r.path.as_deref(), Some("f"));
    assert_eq!(
        (r.before, r.after),
        (Some(state(b"old")), Some(state(b"new")))
    );

    // Rolled back: the record says the file went back from the new bytes to the old.
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", true, false);
    recover(&store, RecoverMode::RollBack).unwrap();
    let r = audit_records(&store).pop().unwrap();
    assert_eq!(r.op, "recover");
    assert_eq!(
        (r.before, r.after),
        (Some(state(b"new")), Some(state(b"old")))
    );

    // Discarded: nothing changed, nothing recorded.
    let t = tempfile::tempdir().unwrap();
    let (store, _) = crashed(t.path(), b"old", b"new", false, false);
    recover(&store, RecoverMode::RollForward).unwrap();
    assert!(audit_records(&store).is_empty());
}

#[test]
fn a_committed_transaction_records_one_audit_record_per_changed_file() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("same"), b"same").unwrap();
    fs::write(t.path().join("gone"), b"gone").unwrap();
    let store = open(t.path());
    let mut tx = store.transaction("merge");
    tx.write("a", b"a".to_vec()).unwrap();
    tx.write("same", b"same".to_vec()).unwrap();
    tx.delete("gone").unwrap();
    let done = tx.commit().unwrap();
    assert!(done.audit.is_empty(), "{:?}", done.audit);
    let records = audit_records(&store);
    let got: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| (r.op.as_str(), r.path.as_deref()))
        .collect();
    // `same` was only recorded in the manifest: its bytes did not change.
    assert_eq!(
        got,
        [
            ("genesis", None),
            ("merge", Some("a")),
            ("merge", Some("gone"))
        ]
    );
    assert_eq!(records[2].after, None);
    let report = store
        .verify_audit(&VerifyOptions::default(), &mut |_, _| {})
        .unwrap();
    assert!(report.findings.is_empty());
    assert_eq!(report.records, 3);
}

/// The index is read a line at a time: blank lines and a torn tail are skipped, a line that
/// does not parse is an error once any line follows it, and each record reads again at its
/// place.
#[test]
fn the_index_reads_a_line_at_a_time_and_each_record_again_at_its_place() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    for v in ["v1", "v2", "v3", "v4"] {
        let mut tx = store.transaction("write");
        tx.write("f", v).unwrap();
        tx.commit().unwrap();
    }
    let path = store.index_path();
    let whole = fs::read_to_string(&path).unwrap();
    let records = store.backups().unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let scanned = |text: String| {
        fs::write(&path, text).unwrap();
        let index = store.backup_index().unwrap();
        let mut got = Vec::new();
        index.scan(|r| {
            got.push(r);
            Ok::<_, StoreError>(())
        })?;
        Ok::<_, StoreError>(got)
    };
    let spaced = format!("\n{}\r\n\n  {}\n{}", lines[0], lines[1], lines[2]);
    assert_eq!(scanned(spaced).unwrap(), records);
    assert_eq!(
        scanned(format!("{whole}{{\"id\":\"ab")).unwrap(),
        records,
        "a torn tail"
    );
    assert_eq!(
        scanned(format!("{whole}not json\n")).unwrap(),
        records,
        "a last line with its newline"
    );
    for damaged in [
        format!("{whole}not json\n\n"),
        format!("{}\nnot json\n{}\n", lines[0], lines[1]),
    ] {
        assert!(
            matches!(scanned(damaged), Err(StoreError::Damaged { .. })),
            "a damaged line with a line after it"
        );
    }
}

/// Removing backups copies the lines that stay as they are, frees only objects no remaining
/// record needs, and refuses when the index is not the one the decision was made on.
#[test]
fn removing_backups_streams_the_index_and_refuses_a_changed_one() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    for v in ["v1", "v2", "v1", "v3"] {
        let mut tx = store.transaction("write");
        tx.write("f", v).unwrap();
        tx.commit().unwrap();
    }
    // The backups hold "v1", "v2", "v1" (the first write made none).
    let records = store.backups().unwrap();
    assert_eq!(records.len(), 3);
    let path = store.index_path();
    let whole = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let index = store.backup_index().unwrap();
    // Drop the first two ("v1", "v2"): "v1" is still needed by the third.
    let dropped = Marks::from_flags(&[true, true, false]);
    let planned = store.plan_removal(&index, &dropped).unwrap();
    assert_eq!(planned.records, 2);
    assert_eq!((planned.objects, planned.bytes), (1, records[1].size));
    // An index that changed since it was read is refused, and nothing changes.
    fs::write(&path, format!("{whole}\n")).unwrap();
    assert!(matches!(
        store.remove_backups(&index, &dropped),
        Err(StoreError::Damaged { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{whole}\n"));
    assert!(
        store
            .state_dir()
            .join("objects")
            .join(records[1].sha256.to_string())
            .exists()
    );
    let index = store.backup_index().unwrap();
    let removal = store.remove_backups(&index, &dropped).unwrap();
    assert_eq!(removal, planned);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", lines[2])
    );
    assert!(
        !store
            .state_dir()
            .join("objects")
            .join(records[1].sha256.to_string())
            .exists()
    );
    assert!(
        store
            .state_dir()
            .join("objects")
            .join(records[0].sha256.to_string())
            .exists()
    );
    // The old index still reads through the handle, for whoever reports what was removed.
    let mut old = Vec::new();
    index
        .scan(|r| {
            old.push(r);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(old, records);
    // A wrong count of marks is refused too.
    let index = store.backup_index().unwrap();
    assert!(
        store
            .remove_backups(&index, &Marks::from_flags(&[true, false]))
            .is_err()
    );
    no_temps(t.path());
}

/// A dry run counts an object that several dropped backups share once, as the removal does,
/// though it does not hold the objects: the filter's flagged objects are counted exactly.
#[test]
fn a_planned_removal_counts_each_shared_object_once() {
    let t = tempfile::tempdir().unwrap();
    let store = open(t.path());
    for v in ["v0", "v1", "v2", "v1", "v2", "v1", "v3"] {
        let mut tx = store.transaction("write");
        tx.write("f", v).unwrap();
        tx.commit().unwrap();
    }
    // Backups of v0, v1, v2, v1, v2, v1: all but the last dropped. v1 stays needed.
    let index = store.backup_index().unwrap();
    let dropped = Marks::from_flags(&[true, true, true, true, true, false]);
    let planned = store.plan_removal(&index, &dropped).unwrap();
    assert_eq!((planned.records, planned.objects, planned.bytes), (5, 2, 4));
    // A filter that flags every object as maybe seen: still each counted once.
    let full = store
        .plan_with(&index, &dropped, super::prune::Seen::full())
        .unwrap();
    assert_eq!(full, planned);
    let mut seen = super::prune::Seen::new(0);
    let d = Sha256Digest([7; 32]);
    assert!(!seen.insert(&d));
    assert!(seen.insert(&d));
    let removal = store.remove_backups(&index, &dropped).unwrap();
    assert_eq!(removal, planned);
    no_temps(t.path());
}

#[test]
fn an_index_line_past_the_limit_is_damage_not_a_read_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backups.jsonl");
    let mut text = "x".repeat(super::audit::MAX_LINE + 10);
    text.push_str("\n{}\n");
    fs::write(&path, text).unwrap();
    let index = super::index::BackupIndex::open(&path).unwrap();
    let err = index.scan(|_| Ok::<(), StoreError>(())).unwrap_err();
    assert!(err.to_string().contains("longer than"), "{err}");
}

/// The name under which a crashed transaction kept the old bytes `old` (the store's shape).
fn bk_temp(old: &[u8]) -> String {
    format!(
        ".{}.0123456789abcdef.atomic-tmp",
        Sha256Digest::of(old).short(16)
    )
}

fn user_file() -> super::WriteAs {
    super::WriteAs {
        unmanaged: true,
        ..super::WriteAs::default()
    }
}

//! Carrying out a plan, and finishing what a crash interrupted. Every step is in the record's
//! `pending` list before it starts, and leaves it only once it is durable (its directory
//! fsynced); see the table in the parent module's docs for the order and the recovery rules.
//!
//! Steps go in batches, so a run saves the record a few times rather than per file: all
//! rotations, then all compressions, then all prunes. Each batch's steps name distinct files
//! and targets that were free when the batch was recorded, so each is finished or undone on its
//! own. Shifts (numbered naming) go one at a time before the rotations: a shift's target is the
//! name the next shift frees, so only one at a time is unambiguous.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::event;
use super::plan::Action;
use crate::event::{Event, RecoveryAction, Sink};
use crate::ops::Error;
use crate::store::{
    self, ArtifactDir, AuditEntry, AuditOutcome, FileState, RotatedFile, RotationStep, Rotations,
    Sha256Digest, Store, StoreError,
};

/// One audit record of a rotation step: `path` went from `before` to `after`. Rotated copies are
/// not backups, so `--deep` expects no object for their `before`.
fn audit_entry(
    op: &str,
    path: &Path,
    before: Option<FileState>,
    after: Option<FileState>,
) -> AuditEntry {
    AuditEntry {
        op: op.to_owned(),
        path: Some(path.to_string_lossy().replace('\\', "/")),
        before,
        after,
        outcome: AuditOutcome::Ok,
    }
}

/// Appends the records under the run's lock, while the steps they record are still listed as
/// in flight: a kill after the append makes the next run record them again (as `recover`), a
/// kill before it makes the next run record them for the first time; never not at all. A log
/// that cannot be written stops the run (exit 2) with the steps still pending, for the next
/// run to finish and record. Damage the append can mend (a torn tail, a log set aside) is a
/// warning, as everywhere (G7).
fn audit(store: &Store, entries: &[AuditEntry], sink: &mut dyn Sink) -> Result<(), Error> {
    for d in store.try_append_audit(entries)? {
        sink.event(Event::Diagnostic(d));
    }
    Ok(())
}

fn state_of(r: &RotatedFile) -> FileState {
    FileState {
        sha256: r.sha256,
        size: r.size,
    }
}

pub(super) fn split(p: &Path) -> (&Path, &OsStr) {
    (
        p.parent().unwrap_or(Path::new("")),
        p.file_name().unwrap_or_default(),
    )
}

/// The artifact directories of a run: each opened once, and fsynced once per batch.
struct Dirs<'s> {
    store: &'s Store,
    open: BTreeMap<PathBuf, ArtifactDir>,
    changed: BTreeSet<PathBuf>,
}

impl<'s> Dirs<'s> {
    fn new(store: &'s Store) -> Self {
        Dirs {
            store,
            open: BTreeMap::new(),
            changed: BTreeSet::new(),
        }
    }

    /// The directory of `path`; `change` marks it for the next [`Dirs::sync`].
    fn of(&mut self, path: &Path, change: bool) -> Result<&ArtifactDir, Error> {
        let d = split(path).0;
        if change {
            self.changed.insert(d.to_owned());
        }
        if !self.open.contains_key(d) {
            let dir = self.store.artifact_dir(d)?;
            self.open.insert(d.to_owned(), dir);
        }
        Ok(&self.open[d])
    }

    /// Makes every change since the last call durable.
    fn sync(&mut self) -> Result<(), Error> {
        for d in std::mem::take(&mut self.changed) {
            if let Some(dir) = self.open.get(&d) {
                dir.sync()?;
            }
        }
        Ok(())
    }
}

/// Records `steps` as in flight, durably.
fn begin(store: &Store, records: &mut Rotations, steps: Vec<RotationStep>) -> Result<(), Error> {
    records.pending = steps;
    store.save_rotations(records)?;
    Ok(())
}

/// Marks the steps in flight done, durably (their directories must be synced).
fn end(store: &Store, records: &mut Rotations) -> Result<(), Error> {
    records.pending.clear();
    store.save_rotations(records)?;
    Ok(())
}

/// Carries out the plan; the number of actions done. Reports each as it becomes durable.
pub(super) fn execute(
    store: &Store,
    records: &mut Rotations,
    actions: Vec<Action>,
    time: &str,
    sink: &mut dyn Sink,
) -> Result<usize, Error> {
    let mut dirs = Dirs::new(store);
    let mut done = 0;
    let mut report = |e: Event, sink: &mut dyn Sink| {
        done += 1;
        sink.event(e);
    };
    let (mut forgets, mut shifts, mut rotates, mut compresses, mut prunes) =
        (vec![], vec![], vec![], vec![], vec![]);
    for a in actions {
        match a {
            Action::Forget { .. } => forgets.push(a),
            Action::Shift { .. } => shifts.push(a),
            Action::Rotate { .. } => rotates.push(a),
            Action::Compress { .. } => compresses.push(a),
            Action::Prune { .. } => prunes.push(a),
        }
    }

    // Records of copies somebody removed.
    if !forgets.is_empty() {
        let mut entries = Vec::new();
        for a in &forgets {
            if let Action::Forget { path } = a {
                let before = records.files.iter().find(|r| &r.path == path).map(state_of);
                entries.push(audit_entry("rotate", path, before, None));
                records.files.retain(|r| &r.path != path);
            }
        }
        audit(store, &entries, sink)?;
        store.save_rotations(records)?;
        for a in &forgets {
            report(event(a, None, false), sink);
        }
    }

    // Shifts, one at a time, highest first.
    for a in &shifts {
        let Action::Shift { from, to } = a else {
            continue;
        };
        begin(
            store,
            records,
            vec![RotationStep::Shift {
                from: from.clone(),
                to: to.clone(),
            }],
        )?;
        dirs.of(from, true)?
            .rename_new(split(from).1, split(to).1)?;
        dirs.sync()?;
        let mut state = None;
        for r in records.files.iter_mut().filter(|r| &r.path == from) {
            r.path = to.clone();
            state = Some(state_of(r));
        }
        audit(
            store,
            &[
                audit_entry("rotate", from, state, None),
                audit_entry("rotate", to, None, state),
            ],
            sink,
        )?;
        end(store, records)?;
        report(event(a, None, false), sink);
    }

    // Rotations: every target is free now, and no two are the same.
    if !rotates.is_empty() {
        let steps = rotates
            .iter()
            .filter_map(|a| match a {
                Action::Rotate {
                    entry, live, to, ..
                } => Some(RotationStep::Rotate {
                    entry: entry.clone(),
                    from: live.clone(),
                    to: to.clone(),
                    time: time.to_owned(),
                }),
                _ => None,
            })
            .collect();
        begin(store, records, steps)?;
        let mut moved = Vec::new();
        for a in &rotates {
            let Action::Rotate {
                entry, live, to, ..
            } = a
            else {
                continue;
            };
            match dirs.of(live, true)?.rename_new(split(live).1, split(to).1) {
                Ok(()) => moved.push((entry, live, to)),
                // The producer removed it meanwhile: nothing to rotate.
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        dirs.sync()?;
        let mut events = Vec::new();
        let mut entries = Vec::new();
        for (entry, live, to) in moved {
            let (sha256, size) = dirs
                .of(to, false)?
                .hash(split(to).1)?
                .ok_or_else(|| gone(to))?;
            records.files.push(RotatedFile {
                entry: entry.clone(),
                live: live.clone(),
                path: to.clone(),
                sha256,
                size,
                time: time.to_owned(),
                compressed: false,
            });
            entries.push(audit_entry(
                "rotate",
                to,
                None,
                Some(FileState { sha256, size }),
            ));
            events.push(Event::Rotated {
                name: entry.clone(),
                path: live.clone(),
                to: to.clone(),
                bytes: size,
                dry_run: false,
            });
        }
        audit(store, &entries, sink)?;
        end(store, records)?;
        for e in events {
            report(e, sink);
        }
    }

    // Compression: each `.gz` name is free, each source a recorded copy.
    let mut jobs = Vec::new();
    for a in &compresses {
        let Action::Compress { path, to } = a else {
            continue;
        };
        let Some(digest) = records
            .files
            .iter()
            .find(|r| &r.path == path)
            .map(|r| r.sha256)
        else {
            continue; // a live file that vanished before its rotation
        };
        if !dirs.of(path, false)?.exists(split(path).1)? {
            records.files.retain(|r| &r.path != path);
            report(
                Event::RotationVanished {
                    path: path.clone(),
                    dry_run: false,
                },
                sink,
            );
            continue;
        }
        let temp = store::temp_name(split(to).1);
        jobs.push((path, to, temp, digest));
    }
    if !jobs.is_empty() {
        let steps = jobs
            .iter()
            .map(|(from, to, temp, _)| RotationStep::Compress {
                from: (*from).clone(),
                to: (*to).clone(),
                temp: temp.clone(),
            })
            .collect();
        begin(store, records, steps)?;
        for (from, to, temp, _) in &jobs {
            let dir = dirs.of(to, true)?;
            let mut src = dir.open(split(from).1)?.ok_or_else(|| gone(from))?;
            dir.create_new(split(to).1, temp, split(from).1, &mut |out| {
                gzip(&mut src, out)
            })?;
        }
        dirs.sync()?;
        let mut sizes = Vec::new();
        let mut entries = Vec::new();
        for (from, to, _, digest) in &jobs {
            let dir = dirs.of(to, false)?;
            if gunzip_digest(dir, split(to).1)? != Some(*digest) {
                // Left in `pending`: the next run removes this `.gz` and compresses again.
                return Err(damaged(to, "it does not decompress to the rotated bytes").into());
            }
            sizes.push(dir.size(split(to).1)?);
            let before = records
                .files
                .iter()
                .find(|r| &r.path == *from)
                .map(state_of);
            let gz = dir
                .hash(split(to).1)?
                .map(|(sha256, size)| FileState { sha256, size });
            entries.push(audit_entry("rotate", from, before, None));
            entries.push(audit_entry("rotate", to, None, gz));
        }
        for (from, _, _, _) in &jobs {
            dirs.of(from, true)?.remove(split(from).1)?;
        }
        dirs.sync()?;
        for (from, to, _, _) in &jobs {
            for r in records.files.iter_mut().filter(|r| &r.path == *from) {
                r.path = (*to).clone();
                r.compressed = true;
            }
        }
        audit(store, &entries, sink)?;
        end(store, records)?;
        for ((from, to, _, _), bytes) in jobs.iter().zip(sizes) {
            report(
                Event::RotationCompressed {
                    path: (*from).clone(),
                    to: (*to).clone(),
                    bytes,
                    dry_run: false,
                },
                sink,
            );
        }
    } else if compresses.len() != jobs.len() {
        store.save_rotations(records)?; // only vanished copies were dropped
    }

    // Pruning, once everything above is durable.
    if !prunes.is_empty() {
        let steps = prunes
            .iter()
            .filter_map(|a| match a {
                Action::Prune { path, .. } => Some(RotationStep::Prune { path: path.clone() }),
                _ => None,
            })
            .collect();
        begin(store, records, steps)?;
        for a in &prunes {
            if let Action::Prune { path, .. } = a {
                dirs.of(path, true)?.remove(split(path).1)?;
            }
        }
        dirs.sync()?;
        let mut entries = Vec::new();
        for a in &prunes {
            if let Action::Prune { path, .. } = a {
                let before = records.files.iter().find(|r| &r.path == path).map(state_of);
                entries.push(audit_entry("rotate", path, before, None));
                records.files.retain(|r| &r.path != path);
            }
        }
        audit(store, &entries, sink)?;
        end(store, records)?;
        for a in &prunes {
            report(event(a, None, false), sink);
        }
    }
    Ok(done)
}

/// Finishes or undoes the steps an interrupted run left, each on its own, per the table in the
/// parent module's docs. With `dry_run`, only the records change (in memory), so the plan sees
/// what the next real run will see; nothing is removed or saved, and nothing is reported.
pub(super) fn recover(
    store: &Store,
    records: &mut Rotations,
    dry_run: bool,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    if records.pending.is_empty() {
        return Ok(());
    }
    let mut dirs = Dirs::new(store);
    let mut outcomes = Vec::new();
    for step in records.pending.clone() {
        outcomes.push(recover_step(&mut dirs, records, &step, dry_run)?);
    }
    if dry_run {
        records.pending.clear();
        return Ok(());
    }
    dirs.sync()?;
    // One `recover` record per file a step concerned, with the state it was left in.
    let mut entries = Vec::new();
    for (_, files) in &outcomes {
        for f in files {
            let now = store.hash(f)?;
            entries.push(audit_entry("recover", f, None, now));
        }
    }
    audit(store, &entries, sink)?;
    end(store, records)?;
    for (action, files) in outcomes {
        sink.event(Event::Recovered {
            txid: "rotate".into(),
            action,
            files,
        });
    }
    Ok(())
}

fn recover_step(
    dirs: &mut Dirs<'_>,
    records: &mut Rotations,
    step: &RotationStep,
    dry_run: bool,
) -> Result<(RecoveryAction, Vec<PathBuf>), Error> {
    let remove = |dir: &ArtifactDir, name: &OsStr| -> Result<(), Error> {
        if !dry_run {
            dir.remove(name)?;
        }
        Ok(())
    };
    Ok(match step {
        RotationStep::Rotate {
            entry,
            from,
            to,
            time,
        } => match dirs.of(to, true)?.hash(split(to).1)? {
            Some((sha256, size)) => {
                if !records.files.iter().any(|r| &r.path == to) {
                    records.files.push(RotatedFile {
                        entry: entry.clone(),
                        live: from.clone(),
                        path: to.clone(),
                        sha256,
                        size,
                        time: time.clone(),
                        compressed: false,
                    });
                }
                (
                    RecoveryAction::RolledForward,
                    vec![from.clone(), to.clone()],
                )
            }
            None => (RecoveryAction::Discarded, vec![from.clone()]),
        },
        RotationStep::Shift { from, to } => {
            let dir = dirs.of(to, true)?;
            if dir.exists(split(to).1)? && !dir.exists(split(from).1)? {
                for r in records.files.iter_mut().filter(|r| &r.path == from) {
                    r.path = to.clone();
                }
                (
                    RecoveryAction::RolledForward,
                    vec![from.clone(), to.clone()],
                )
            } else {
                (RecoveryAction::Discarded, vec![from.clone()])
            }
        }
        RotationStep::Compress { from, to, temp } => {
            let dir = dirs.of(to, true)?;
            if !dry_run {
                dir.remove_temp(temp)?;
            }
            let (from_name, to_name) = (split(from).1, split(to).1);
            let digest = records
                .files
                .iter()
                .find(|r| &r.path == from)
                .map(|r| r.sha256);
            let good = match (digest, dir.exists(to_name)?) {
                (Some(d), true) => gunzip_digest(dir, to_name)? == Some(d),
                _ => false,
            };
            if good {
                remove(dir, from_name)?;
                for r in records.files.iter_mut().filter(|r| &r.path == from) {
                    r.path = to.clone();
                    r.compressed = true;
                }
                (
                    RecoveryAction::RolledForward,
                    vec![from.clone(), to.clone()],
                )
            } else {
                if dir.exists(to_name)? {
                    if !dir.exists(from_name)? {
                        return Err(damaged(
                            to,
                            "it does not decompress to the rotated bytes, and the uncompressed copy is gone",
                        )
                        .into());
                    }
                    // Ours (the step chose this free name): a gzip that is not whole.
                    remove(dir, to_name)?;
                }
                (RecoveryAction::Discarded, vec![from.clone()])
            }
        }
        RotationStep::Prune { path } => {
            remove(dirs.of(path, true)?, split(path).1)?;
            records.files.retain(|r| &r.path != path);
            (RecoveryAction::RolledForward, vec![path.clone()])
        }
    })
}

/// Streams `src` into `out` as gzip (no name, mtime 0: the same bytes give the same file).
fn gzip(src: &mut fs::File, out: &mut fs::File) -> io::Result<()> {
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(src, &mut enc)?;
    enc.finish()?.flush()
}

/// The digest of what `name` decompresses to; `None` if it is gone or not whole gzip.
fn gunzip_digest(dir: &ArtifactDir, name: &OsStr) -> Result<Option<Sha256Digest>, Error> {
    let Some(f) = dir.open(name)? else {
        return Ok(None);
    };
    let mut dec = flate2::read::GzDecoder::new(f);
    match Sha256Digest::of_reader(&mut dec as &mut dyn Read) {
        Ok((d, _)) => Ok(Some(d)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::io("read", &dir.rel().join(name), e)),
    }
}

fn damaged(path: &Path, detail: &str) -> StoreError {
    StoreError::Damaged {
        path: path.to_owned(),
        detail: detail.to_owned(),
    }
}

fn gone(path: &Path) -> StoreError {
    StoreError::Io {
        op: "read",
        path: path.to_owned(),
        source: io::Error::from(io::ErrorKind::NotFound),
    }
}

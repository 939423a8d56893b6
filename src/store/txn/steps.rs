//! The steps of a transaction that recovery shares: prepare (step 2), apply (step 4), roll
//! back, discard and settle, and the manifest's staging and publishing.

use super::super::Store;
use super::super::atomic::{self, NewMeta};
use super::super::error::{IoContext, Result, StoreError};
use super::super::journal::{Entry, Intent};
use super::super::manifest::{FileState, Inputs};
use super::super::objects::{self, BackupRecord};
use super::super::sys;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::util::{hash_file_opt, open_nofollow, parallel_map};
use super::{Dirs, dir_of, name_of};

/// Step 2: directories, backups and temps, all durable.
pub(super) fn prepare(store: &Store, intent: &Intent, payloads: &[Option<Vec<u8>>]) -> Result<()> {
    let sync = store.durability.syncs();
    for d in &intent.created_dirs {
        let abs = store.root.join(d);
        fs::create_dir(&abs).ctx("create the directory", &abs)?;
    }
    let objects = store.objects()?;
    let dirs = Dirs::open(&store.root, intent.entries.iter().map(|e| dir_of(&e.real)))?;
    let work: Vec<(&Entry, &Option<Vec<u8>>)> = intent.entries.iter().zip(payloads).collect();
    parallel_map(&work, |(e, bytes)| {
        let dir = dir_of(&e.real);
        let abs_dir = store.root.join(dir);
        if let (Some(before), Some(temp)) = (e.before, &e.backup_temp) {
            let src = abs_dir.join(name_of(&e.real));
            let (fd, name, temp) = (dirs.fd(dir), name_of(&e.real), temp.os());
            if !objects.keep_by_link(fd, name, &src, &before.sha256, &temp)? {
                objects.keep(
                    &mut open_nofollow(&src)?,
                    &src,
                    &before.sha256,
                    e.mode,
                    &temp,
                )?;
            }
        }
        if let Some(bytes) = bytes {
            let meta = NewMeta {
                mode: e.mode,
                from_existing: e.before.is_some(),
            };
            atomic::stage(
                dirs.fd(dir),
                &abs_dir,
                name_of(&e.real),
                &temp_os(e),
                bytes,
                meta,
                sync,
            )?;
        }
        Ok(())
    })?;
    if sync {
        dirs.sync_all()?;
        objects.sync_dir()?;
        atomic::fsync_dir(&store.journal_dir())?;
        let mut parents: BTreeSet<&Path> = BTreeSet::new();
        for d in &intent.created_dirs {
            parents.insert(Path::new(d).parent().unwrap_or(Path::new("")));
        }
        for p in parents {
            atomic::fsync_dir(&store.root.join(p))?;
        }
    }
    // Whatever needs new space after the commit point gets it now, so that a full disk fails
    // the transaction before it commits instead of after: the manifest is staged whole, and
    // the index's and the audit log's appends get their blocks reserved.
    stage_manifest(store, intent, manifest_after(intent))?;
    let changed = intent.entries.iter().filter(|e| e.before != e.after);
    let index_bytes: u64 = changed
        .clone()
        .filter(|e| e.backup_temp.is_some())
        .map(|e| 512 + 2 * e.path.len() as u64 + intent.command.len() as u64)
        .sum();
    if index_bytes > 0 {
        reserve(&store.index_path(), index_bytes)?;
    }
    if store.audit.enabled {
        let audit_bytes: u64 = changed.map(|e| 2048 + 2 * e.path.len() as u64).sum();
        if audit_bytes > 0 {
            reserve(
                &store.state.join(super::super::audit::LOG),
                audit_bytes + 4096,
            )?;
            super::super::audit::reserve_head_temp(&store.state)?;
        }
    }
    Ok(())
}

/// Reserves `extra` bytes of blocks past the end of the append-only file `path` (creating it
/// empty if needed) without changing its size, so the append that follows the commit point
/// does not run out of space. Filesystems without `fallocate` get no reservation.
pub(super) fn reserve(path: &Path, extra: u64) -> Result<()> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(super::super::trust::not_a_link)
        .ctx("open", path)?;
    let len = f.metadata().ctx("inspect", path)?.len();
    match rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::KEEP_SIZE, len, extra) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => Ok(()),
        Err(e) => Err(io::Error::from(e)).ctx("reserve space in", path),
    }
}

fn temp_os(e: &Entry) -> std::ffi::OsString {
    e.temp.os()
}

/// Step 4 (and roll-forward in recovery, with `verify`): put every new version in place, then
/// record it. With `verify`, each file's current bytes are checked against the journal first,
/// so a file changed by someone else since is never overwritten.
pub(in crate::store) fn apply(store: &Store, intent: &Intent, verify: bool) -> Result<()> {
    let sync = store.durability.syncs();
    let dirs = Dirs::open(&store.root, intent.entries.iter().map(|e| dir_of(&e.real)))?;
    for e in &intent.entries {
        if e.before == e.after {
            continue;
        }
        let dir = dir_of(&e.real);
        let fd = dirs.fd(dir);
        let target = store.root.join(&e.real);
        if verify {
            let now = hash_file_opt(&target)?;
            if now == e.after {
                sys::unlink_at_if_exists(fd, &temp_os(e)).ctx("remove", dir.join(temp_os(e)))?;
                continue;
            }
            if now != e.before {
                return Err(conflict(intent, e, now));
            }
            if e.after.is_some() {
                let temp = store.root.join(dir).join(temp_os(e));
                match hash_file_opt(&temp)? {
                    Some(t) if Some(t) == e.after => {}
                    _ => {
                        return Err(StoreError::Damaged {
                            path: temp,
                            detail: "the staged temp file is missing or differs from the journal"
                                .into(),
                        });
                    }
                }
            }
        }
        match e.after {
            Some(_) => sys::rename_at(fd, &temp_os(e), name_of(&e.real))
                .ctx("rename into place", &target)?,
            None => sys::unlink_at(fd, name_of(&e.real)).ctx("delete", &target)?,
        }
    }
    if sync {
        dirs.sync_all()?;
    }
    // Only now, with every target renamed away, may a linked backup take its final name: before,
    // it would be a second link of the user's live file.
    let objects = store.objects()?;
    for e in intent.entries.iter().filter(|e| e.before != e.after) {
        if let (Some(b), Some(t)) = (e.before, &e.backup_temp) {
            objects.publish(&t.os(), &b.sha256)?;
        }
    }
    if sync {
        objects.sync_dir()?;
    }
    if !publish_manifest(store, intent)? {
        write_manifest(store, intent, manifest_after(intent))?;
    }
    if verify {
        // The manifest may be new already, and then nothing above removed a temp that an
        // interrupted attempt left.
        remove_manifest_temp(store, intent)?;
    }
    let mut records: Vec<BackupRecord> = intent
        .entries
        .iter()
        .filter(|e| e.backup_temp.is_some())
        .filter_map(|e| {
            let b = e.before?;
            Some(BackupRecord {
                id: BackupRecord::make_id(&intent.txid, Path::new(&e.path)),
                txid: intent.txid.clone(),
                time: intent.time.clone(),
                path: PathBuf::from(&e.path),
                sha256: b.sha256,
                size: b.size,
                mode: e.mode,
                op: if e.after.is_some() {
                    intent.op.clone()
                } else {
                    "delete".into()
                },
                command: intent.command.clone(),
            })
        })
        .collect();
    if verify {
        let have: BTreeSet<String> = super::super::index::read_index(&store.index_path())?
            .into_iter()
            .map(|r| r.id)
            .collect();
        records.retain(|r| !have.contains(&r.id));
    }
    objects::append_index(&store.index_path(), &records, sync)
}

/// Undo a committed transaction: every file gets its old bytes back (from the verified backup
/// objects), new files are removed, the manifest entries are put back.
pub(in crate::store) fn roll_back(store: &Store, intent: &Intent) -> Result<()> {
    let sync = store.durability.syncs();
    let objects = store.objects()?;
    let mut present = Vec::new();
    for e in &intent.entries {
        // A directory that does not exist was never created: nothing of its entries exists.
        // Any other error must stop the rollback, not skip the files in it.
        let abs = store.root.join(dir_of(&e.real));
        match fs::metadata(&abs) {
            Ok(_) => present.push(dir_of(&e.real)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).ctx("inspect", abs),
        }
    }
    let dirs = Dirs::open(&store.root, present)?;
    for e in &intent.entries {
        let dir = dir_of(&e.real);
        let Some(fd) = dirs.fds.get(dir) else {
            continue; // its directory was never created: nothing of it exists
        };
        let target = store.root.join(&e.real);
        let now = hash_file_opt(&target)?;
        if now != e.before {
            if now != e.after {
                return Err(conflict(intent, e, now));
            }
            match e.before {
                None => sys::unlink_at(fd, name_of(&e.real)).ctx("delete", &target)?,
                Some(b) => {
                    let temp = e.backup_temp.as_ref().map(|t| t.os());
                    let bytes = objects.read_verified_or_temp(&b.sha256, temp.as_deref())?;
                    sys::unlink_at_if_exists(fd, &temp_os(e))
                        .ctx("remove", dir.join(temp_os(e)))?;
                    let meta = NewMeta {
                        mode: e.mode,
                        from_existing: now.is_some(),
                    };
                    let abs_dir = store.root.join(dir);
                    atomic::stage(
                        fd,
                        &abs_dir,
                        name_of(&e.real),
                        &temp_os(e),
                        &bytes,
                        meta,
                        sync,
                    )?;
                    if let (None, Some(uid), Some(gid)) = (now, e.uid, e.gid) {
                        let f = open_nofollow(&abs_dir.join(temp_os(e)))?;
                        sys::fchown_if_permitted(&f, uid, gid).ctx("set the owner of", &target)?;
                        sys::fchmod(&f, e.mode).ctx("set permissions of", &target)?;
                    }
                    sys::rename_at(fd, &temp_os(e), name_of(&e.real))
                        .ctx("rename into place", &target)?;
                }
            }
        }
        sys::unlink_at_if_exists(fd, &temp_os(e)).ctx("remove", dir.join(temp_os(e)))?;
    }
    if sync {
        dirs.sync_all()?;
    }
    write_manifest(
        store,
        intent,
        intent
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.manifest_before, e.inputs_before.as_ref())),
    )?;
    // `write_manifest` writes nothing when the manifest already holds the old entries, so a
    // temp left by the attempt that failed (or was killed) must be removed here.
    remove_manifest_temp(store, intent)?;
    remove_backup_temps(store, intent)?;
    remove_created_dirs(store, intent)?;
    settle(store, intent)
}

/// Makes the clean-up of a discarded or rolled-back transaction durable before its journal
/// goes: otherwise a power loss could bring back temps that no journal lists any more (and
/// recovery never deletes by pattern).
fn settle(store: &Store, intent: &Intent) -> Result<()> {
    if !store.durability.syncs() {
        return Ok(());
    }
    let parent = |d: &String| {
        let abs = store.root.join(d);
        abs.parent()
            .map_or_else(|| store.root.clone(), Path::to_owned)
    };
    let mut dirs: BTreeSet<PathBuf> = intent
        .entries
        .iter()
        .map(|e| store.root.join(dir_of(&e.real)))
        .chain(intent.created_dirs.iter().map(parent))
        .collect();
    dirs.insert(store.state.clone());
    dirs.insert(store.state.join("objects"));
    for d in dirs {
        match atomic::fsync_dir(&d) {
            Ok(()) => {}
            // A directory the transaction created, which the clean-up removed again.
            Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Undo a transaction that never committed: only its listed temps exist; remove them.
pub(in crate::store) fn discard(store: &Store, intent: &Intent) -> Result<()> {
    for e in &intent.entries {
        let abs = store.root.join(dir_of(&e.real)).join(temp_os(e));
        match fs::remove_file(&abs) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).ctx("remove", abs),
        }
    }
    remove_manifest_temp(store, intent)?;
    remove_backup_temps(store, intent)?;
    remove_created_dirs(store, intent)?;
    settle(store, intent)
}

fn remove_manifest_temp(store: &Store, intent: &Intent) -> Result<()> {
    let abs = store.state.join(intent.manifest_temp.os());
    match fs::remove_file(&abs) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).ctx("remove", abs),
    }
}

fn remove_backup_temps(store: &Store, intent: &Intent) -> Result<()> {
    let objects = store.objects()?;
    for t in intent.entries.iter().filter_map(|e| e.backup_temp.as_ref()) {
        let abs = objects.dir.join(t.os());
        match fs::remove_file(&abs) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).ctx("remove", abs),
        }
    }
    Ok(())
}

/// Removes the directories the transaction created, innermost first, if they are empty.
fn remove_created_dirs(store: &Store, intent: &Intent) -> Result<()> {
    for d in intent.created_dirs.iter().rev() {
        let abs = store.root.join(d);
        match fs::remove_dir(&abs) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {}
            Err(e) => return Err(e).ctx("remove the directory", abs),
        }
    }
    Ok(())
}

/// The manifest entries a transaction leaves: every file it manages, at its new state.
fn manifest_after(
    intent: &Intent,
) -> impl Iterator<Item = (&str, Option<FileState>, Option<&Inputs>)> {
    intent
        .entries
        .iter()
        .filter(|e| !e.unmanaged)
        .map(|e| (e.path.as_str(), e.after, e.inputs.as_ref()))
}

/// Stages the manifest with these entries set (fsynced, under the journal's temp name);
/// `false`, and nothing staged, when it would not change. Before the commit point, with the
/// transaction's own entries, so that after it only a rename remains.
fn stage_manifest<'a>(
    store: &Store,
    intent: &Intent,
    changes: impl IntoIterator<Item = (&'a str, Option<FileState>, Option<&'a Inputs>)>,
) -> Result<bool> {
    let mut manifest = store.manifest()?;
    let old = manifest.clone();
    manifest.upsert(changes);
    if manifest == old {
        return Ok(false);
    }
    let fd = sys::open_dir(&store.state).ctx("open", &store.state)?;
    let temp = intent.manifest_temp.os();
    sys::unlink_at_if_exists(&fd, &temp).ctx("remove", store.state.join(&temp))?;
    let meta = NewMeta {
        mode: 0o600,
        from_existing: false,
    };
    atomic::stage(
        &fd,
        &store.state,
        OsStr::new("manifest.json"),
        &temp,
        &manifest.to_bytes(),
        meta,
        store.durability.syncs(),
    )?;
    Ok(true)
}

/// Renames the manifest [`stage_manifest`] staged into place; `false` when there is none (it
/// would not have changed, or a recovery before this one renamed it).
fn publish_manifest(store: &Store, intent: &Intent) -> Result<bool> {
    let fd = sys::open_dir(&store.state).ctx("open", &store.state)?;
    let temp = intent.manifest_temp.os();
    match sys::rename_at(&fd, &temp, OsStr::new("manifest.json")) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            let _ = sys::unlink_at(&fd, &temp);
            return Err(e).ctx("rename into place", store.manifest_path());
        }
    }
    if store.durability.syncs() {
        sys::fsync(&fd).ctx("fsync", &store.state)?;
    }
    Ok(true)
}

/// Rewrites the manifest with these entries set, atomically: staged, then renamed.
fn write_manifest<'a>(
    store: &Store,
    intent: &Intent,
    changes: impl IntoIterator<Item = (&'a str, Option<FileState>, Option<&'a Inputs>)>,
) -> Result<()> {
    if stage_manifest(store, intent, changes)? {
        publish_manifest(store, intent)?;
    }
    Ok(())
}

fn conflict(intent: &Intent, e: &Entry, now: Option<FileState>) -> StoreError {
    StoreError::Conflict {
        txid: intent.txid.clone(),
        path: PathBuf::from(&e.path),
        actual: now.map_or("missing".into(), |s| s.sha256.to_string()),
    }
}

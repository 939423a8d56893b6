//! All-or-nothing transactions over many files (G2).
//!
//! Guarantee: after a crash at any instant, every file of a transaction holds wholly its old
//! bytes or, for all of them, wholly its new bytes, and no temp file is left once recovery ran.
//!
//! How it works, in order:
//! 1. hash every target's current bytes (the "before"), and write the journal's intent, which
//!    names every temp that may be created;
//! 2. create missing directories, keep each old version as a backup (by hard-linking the old
//!    inode into `objects/` under a listed temp name and `fdatasync`ing it, or by copying where a
//!    link cannot serve) and stage each new version in a temp beside its target, in parallel,
//!    each fsynced; fsync each directory once;
//! 3. append COMMIT to the journal and fsync it: the single commit point;
//! 4. rename every temp over its target (unlink for deletions), fsync each directory once,
//!    give linked backups their content-addressed names (only now: before, such a link would
//!    be a second name of the user's live file), update the manifest and the backup index, mark
//!    the journal done and remove it.
//!
//! An error before 3 removes the listed temps. An error after 3 appends ABORT and puts the old
//! bytes back from the backup objects, so a failed command leaves the disk as it was. A crash
//! is finished by [`super::recover`] at the start of the next command.
//!
//! Proven by the unit tests below and the crash and error sweeps in `tests/it/crash.rs`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Store;
use super::atomic::{self, NewMeta, Target};
use super::error::{IoContext, Result, StoreError};
use super::journal::{Entry, Intent, Journal};
use super::manifest::{FileState, Inputs};
use super::objects::{self, BackupRecord, Objects};
use super::sys;
use crate::digest::Sha256Digest;

/// A set of file changes that happen together or not at all.
///
/// Nothing touches the disk until [`commit`](Transaction::commit); dropping an uncommitted
/// transaction discards it.
#[derive(Debug)]
#[must_use = "a transaction does nothing until it is committed"]
pub struct Transaction<'s> {
    store: &'s Store,
    op: String,
    pending: Vec<Pending>,
    /// The resolved files of `pending`, to refuse the same file twice without a quadratic scan.
    reals: HashSet<PathBuf>,
    /// Canonical directories seen by this transaction (most targets share a few).
    dirs: atomic::DirCache,
}

#[derive(Debug)]
struct Pending {
    target: Target,
    change: Change,
}

#[derive(Debug)]
enum Change {
    Write {
        bytes: Vec<u8>,
        mode: Option<u32>,
        inputs: Option<Inputs>,
        /// The user's file: the manifest records it only if it already did.
        unmanaged: bool,
    },
    Delete,
}

/// What a committed transaction did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// As named, relative to the workspace root.
    pub path: PathBuf,
    /// Its state before (`None`: it did not exist).
    pub before: Option<FileState>,
    /// Its state after (`None`: deleted).
    pub after: Option<FileState>,
    /// The backup object of the old bytes, when there were old bytes and they changed.
    pub backup: Option<Sha256Digest>,
}

impl FileChange {
    /// The bytes did not change: the file was not touched.
    pub fn unchanged(&self) -> bool {
        self.before.is_some() && self.before == self.after
    }
}

/// The outcome of [`Transaction::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The transaction's id (also in backup records).
    pub txid: String,
    /// Each file, in the order it was added.
    pub files: Vec<FileChange>,
    /// Warnings about the audit log (it could not be written, or was damaged and restarted):
    /// the changes stand all the same.
    pub audit: Vec<crate::diagnostic::Diagnostic>,
}

impl<'s> Transaction<'s> {
    pub(crate) fn new(store: &'s Store, op: &str) -> Self {
        Transaction {
            store,
            op: op.to_owned(),
            pending: Vec::new(),
            reals: HashSet::new(),
            dirs: atomic::DirCache::default(),
        }
    }

    /// Replaces (or creates) `path` with `bytes`. The path is resolved now, so a refused
    /// symlink or hard link is reported here, before anything is written.
    pub fn write(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<&mut Self> {
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                mode: None,
                inputs: None,
                unmanaged: false,
            },
        )
    }

    /// Like [`write`](Self::write), for a generated file: the manifest also records what it
    /// was made from, so a later check can tell which inputs changed.
    pub fn write_generated(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        inputs: Inputs,
    ) -> Result<&mut Self> {
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                mode: None,
                inputs: Some(inputs),
                unmanaged: false,
            },
        )
    }

    /// Like [`write`](Self::write), with explicit permission bits (a restore uses the backup's).
    pub fn write_with_mode(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<&mut Self> {
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                mode: Some(mode & 0o7777),
                inputs: None,
                unmanaged: false,
            },
        )
    }

    /// Like [`write`](Self::write), for a file that stays the user's (a `set` or `unset`
    /// edit of a source): backed up, journaled and audited the same, but not recorded in the
    /// manifest unless it is recorded already, so a later hand edit is no `drift`.
    pub fn write_user_file(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<&mut Self> {
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                mode: None,
                inputs: None,
                unmanaged: true,
            },
        )
    }

    /// [`write_user_file`](Self::write_user_file) with explicit permission bits (a restore of
    /// a file the manifest does not record uses the backup's).
    pub fn write_user_file_with_mode(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<&mut Self> {
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                mode: Some(mode & 0o7777),
                inputs: None,
                unmanaged: true,
            },
        )
    }

    /// Deletes `path`; its bytes are kept as a backup first.
    pub fn delete(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        self.add(path.as_ref(), Change::Delete)
    }

    fn add(&mut self, path: &Path, change: Change) -> Result<&mut Self> {
        let target =
            atomic::resolve_with(&self.store.root, path, self.store.links, &mut self.dirs)?;
        if self
            .store
            .root
            .join(&target.real)
            .starts_with(&self.store.state)
        {
            return Err(StoreError::InStateDir {
                path: target.path,
                state: self.store.state.clone(),
            });
        }
        if matches!(change, Change::Delete) && target.existing.is_none() {
            return Err(StoreError::Io {
                op: "delete",
                path: target.path,
                source: io::ErrorKind::NotFound.into(),
            });
        }
        if !self.reals.insert(target.real.clone()) {
            return Err(StoreError::Duplicate { path: target.path });
        }
        self.pending.push(Pending { target, change });
        Ok(self)
    }

    /// Makes every change, or none. See the module docs for the protocol.
    pub fn commit(self) -> Result<Committed> {
        let store = self.store;
        let sync = store.durability.syncs();
        let txid = new_txid();
        let manifest = store.manifest()?;
        let befores = parallel_map(&self.pending, |p| match p.target.existing {
            Some(_) => hash_file(&store.root.join(&p.target.real)).map(Some),
            None => Ok(None),
        })?;
        let mut entries = Vec::with_capacity(self.pending.len());
        let mut payloads = Vec::with_capacity(self.pending.len());
        for (p, before) in self.pending.into_iter().zip(befores) {
            // The resolved file is the key of the manifest, the index and the audit log, so
            // that every spelling of one file (a link to it included) is one entry.
            let path = path_key(&p.target.real)?;
            let (after, bytes, mode, inputs, unmanaged) = match p.change {
                Change::Write {
                    bytes,
                    mode,
                    inputs,
                    unmanaged,
                } => {
                    let after = FileState {
                        sha256: Sha256Digest::of(&bytes),
                        size: bytes.len() as u64,
                    };
                    let mode = mode.unwrap_or_else(|| NewMeta::for_target(&p.target).mode);
                    (Some(after), Some(bytes), mode, inputs, unmanaged)
                }
                Change::Delete => (
                    None,
                    None,
                    p.target.existing.map_or(0o600, |m| m.mode),
                    None,
                    false,
                ),
            };
            let manifest_before = manifest.files.get(&path).copied();
            let changed = before != after;
            entries.push(Entry {
                unmanaged: unmanaged && manifest_before.is_none(),
                manifest_before,
                inputs_before: manifest.inputs.get(&path).cloned(),
                inputs,
                path,
                real: path_key(&p.target.real)?,
                temp: sys::temp_name(p.target.name()).into(),
                before,
                after,
                mode,
                uid: p.target.existing.map(|m| m.uid),
                gid: p.target.existing.map(|m| m.gid),
                backup_temp: before
                    .filter(|_| changed)
                    .map(|b| Objects::temp_name(&b.sha256).into()),
            });
            payloads.push(bytes.filter(|_| changed));
        }
        let files: Vec<FileChange> = entries
            .iter()
            .map(|e| FileChange {
                path: PathBuf::from(&e.path),
                before: e.before,
                after: e.after,
                backup: e.backup_temp.as_ref().and(e.before).map(|b| b.sha256),
            })
            .collect();
        let all_recorded = entries.iter().all(|e| {
            e.before == e.after
                && (e.unmanaged || e.manifest_before == e.after)
                && e.inputs == e.inputs_before
        });
        if all_recorded {
            return Ok(Committed {
                txid,
                files,
                audit: Vec::new(),
            });
        }
        let op = self.op;
        let intent = Intent {
            txid: txid.clone(),
            time: now_rfc3339(),
            command: store.command.clone(),
            op: op.clone(),
            created_dirs: missing_dirs(&store.root, &entries)?,
            manifest_temp: sys::temp_name(OsStr::new("manifest.json")).into(),
            entries,
        };
        let mut journal = Journal::create(&store.journal_dir(), &intent)?;
        if let Err(e) = prepare(store, &intent, &payloads) {
            // Best effort: anything left is listed in the journal for the next recovery.
            if discard(store, &intent).is_ok() {
                let _ = super::journal::remove(&journal.path);
            }
            return Err(e);
        }
        if let Err(e) = journal.commit(sync) {
            // The COMMIT record may be on disk even though its fsync failed. Before a single
            // temp goes, the journal must say "not committed" (ABORT) or be gone; otherwise a
            // later recovery would roll forward onto missing temps. If neither can be done,
            // everything stays for recovery to finish.
            let undone =
                journal.abort(sync).is_ok() || super::journal::remove(&journal.path).is_ok();
            if undone && discard(store, &intent).is_ok() {
                let _ = super::journal::remove(&journal.path);
            }
            return Err(e);
        }
        if let Err(e) = apply(store, &intent, false) {
            if journal.abort(sync).is_ok() && roll_back(store, &intent).is_ok() {
                let _ = super::journal::remove(&journal.path);
            }
            return Err(e);
        }
        // Every file is new and recorded now, so nothing after this may report failure: a
        // failed command must mean "nothing changed". The audit append and `finish` are best
        // effort for that reason. The append goes first: a crash between the two leaves a
        // journal, and recovery then records the transaction again (as `recover`), rather than
        // not at all.
        let audit = store.append_audit(&audit_entries(&op, &files, &intent.entries));
        journal.finish();
        Ok(Committed { txid, files, audit })
    }
}

/// One audit entry per file whose bytes changed; for [`ACCEPT`], per file whose recorded
/// state changed (the bytes stay, the manifest takes them).
fn audit_entries(op: &str, files: &[FileChange], entries: &[Entry]) -> Vec<super::AuditEntry> {
    files
        .iter()
        .zip(entries)
        .filter_map(|(f, e)| {
            let before = if op == ACCEPT {
                e.manifest_before
            } else {
                f.before
            };
            (before != f.after).then(|| super::AuditEntry {
                op: if f.after.is_none() && op == "write" {
                    "delete".into()
                } else {
                    op.to_owned()
                },
                path: Some(f.path.to_string_lossy().into_owned()),
                before,
                after: f.after,
                outcome: super::AuditOutcome::Ok,
            })
        })
        .collect()
}

/// The operation of a transaction that records files' present bytes as managed (`verify
/// --accept`): audited as what the manifest recorded before → the bytes now.
pub const ACCEPT: &str = "accept";

/// Directories that must be created for the targets, outermost first, relative to the root.
fn missing_dirs(root: &Path, entries: &[Entry]) -> Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for e in entries {
        let mut d = Path::new(&e.real).parent();
        while let Some(dir) = d.filter(|d| !d.as_os_str().is_empty()) {
            // Not `Path::exists`, which reads any error as "missing": a directory listed here
            // is removed again by a rollback, so an existing one must never be listed.
            let abs = root.join(dir);
            match fs::metadata(&abs) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("inspect", abs),
            }
            out.insert(path_key(dir)?);
            d = dir.parent();
        }
    }
    // BTreeSet order puts a parent before its children.
    Ok(out.into_iter().collect())
}

/// Open directory fds, one per distinct directory.
struct Dirs {
    root: PathBuf,
    fds: BTreeMap<PathBuf, OwnedFd>,
}

impl Dirs {
    fn open<'a>(root: &Path, dirs: impl IntoIterator<Item = &'a Path>) -> Result<Self> {
        let mut fds = BTreeMap::new();
        for d in dirs {
            if !fds.contains_key(d) {
                let abs = root.join(d);
                fds.insert(d.to_owned(), sys::open_dir(&abs).ctx("open", abs)?);
            }
        }
        Ok(Dirs {
            root: root.to_owned(),
            fds,
        })
    }

    fn fd(&self, dir: &Path) -> &OwnedFd {
        &self.fds[dir]
    }

    fn sync_all(&self) -> Result<()> {
        for (d, fd) in &self.fds {
            sys::fsync(fd).ctx("fsync", self.root.join(d))?;
        }
        Ok(())
    }
}

fn dir_of(real: &str) -> &Path {
    Path::new(real).parent().unwrap_or(Path::new(""))
}

fn name_of(real: &str) -> &OsStr {
    Path::new(real).file_name().unwrap_or_default()
}

/// Step 2: directories, backups and temps, all durable.
fn prepare(store: &Store, intent: &Intent, payloads: &[Option<Vec<u8>>]) -> Result<()> {
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
    stage_manifest(store, intent)?;
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
            reserve(&store.state.join(super::audit::LOG), audit_bytes + 4096)?;
            super::audit::reserve_head_temp(&store.state)?;
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
        .map_err(super::trust::not_a_link)
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
pub(super) fn apply(store: &Store, intent: &Intent, verify: bool) -> Result<()> {
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
        write_manifest(
            store,
            intent,
            intent
                .entries
                .iter()
                .filter(|e| !e.unmanaged)
                .map(|e| (e.path.as_str(), e.after, e.inputs.as_ref())),
        )?;
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
        let have: BTreeSet<String> = super::index::read_index(&store.index_path())?
            .into_iter()
            .map(|r| r.id)
            .collect();
        records.retain(|r| !have.contains(&r.id));
    }
    objects::append_index(&store.index_path(), &records, sync)
}

/// Undo a committed transaction: every file gets its old bytes back (from the verified backup
/// objects), new files are removed, the manifest entries are put back.
pub(super) fn roll_back(store: &Store, intent: &Intent) -> Result<()> {
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
pub(super) fn discard(store: &Store, intent: &Intent) -> Result<()> {
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

/// Stages the manifest the transaction leaves (fsynced, under the journal's temp name), before
/// the commit point; nothing when it would not change.
fn stage_manifest(store: &Store, intent: &Intent) -> Result<()> {
    let mut manifest = store.manifest()?;
    let old = manifest.clone();
    manifest.upsert(
        intent
            .entries
            .iter()
            .filter(|e| !e.unmanaged)
            .map(|e| (e.path.as_str(), e.after, e.inputs.as_ref())),
    );
    if manifest == old {
        return Ok(());
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
    )
}

/// Renames the manifest [`stage_manifest`] staged into place; `false` when there is none (it
/// would not have changed, or a recovery before this one renamed it).
fn publish_manifest(store: &Store, intent: &Intent) -> Result<bool> {
    let fd = sys::open_dir(&store.state).ctx("open", &store.state)?;
    let temp = intent.manifest_temp.os();
    match sys::rename_at(&fd, &temp, OsStr::new("manifest.json")) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).ctx("rename into place", store.manifest_path()),
    }
    if store.durability.syncs() {
        sys::fsync(&fd).ctx("fsync", &store.state)?;
    }
    Ok(true)
}

/// Rewrites the manifest with these entries set, atomically, through the journal's listed temp.
fn write_manifest<'a>(
    store: &Store,
    intent: &Intent,
    changes: impl IntoIterator<Item = (&'a str, Option<FileState>, Option<&'a Inputs>)>,
) -> Result<()> {
    let sync = store.durability.syncs();
    let mut manifest = store.manifest()?;
    let old = manifest.clone();
    manifest.upsert(changes);
    if manifest == old {
        return Ok(());
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
        sync,
    )?;
    if let Err(e) = sys::rename_at(&fd, &temp, OsStr::new("manifest.json")) {
        let _ = sys::unlink_at(&fd, &temp);
        return Err(e).ctx("rename into place", store.manifest_path());
    }
    if sync {
        sys::fsync(&fd).ctx("fsync", &store.state)?;
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

fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .ctx("open", path)
}

/// Digest and size of a file, streaming.
pub(crate) fn hash_file(path: &Path) -> Result<FileState> {
    let f = open_nofollow(path)?;
    let (sha256, size) = Sha256Digest::of_reader(f).ctx("read", path)?;
    Ok(FileState { sha256, size })
}

/// Like [`hash_file`], `None` when the file does not exist.
pub(crate) fn hash_file_opt(path: &Path) -> Result<Option<FileState>> {
    match hash_file(path) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Paths in the journal and manifest are UTF-8 with `/` separators.
pub(crate) fn path_key(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| StoreError::NotUtf8 { path: p.to_owned() })
}

/// Runs `f` over `items` on up to 8 threads (fsync latency overlaps; the kernel groups the
/// commits) and returns the results in order, or the first error.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = items.len().min(max_threads());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = f(&items[i]);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::with_capacity(results.len());
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The most threads [`parallel_map`] uses: 8, or `CARGO_ATOMIC_THREADS` when it is a positive
/// number. `1` makes every system call of a transaction happen on one thread in a fixed order,
/// which the crash and error sweeps need: `strace` counts the calls it injects into per
/// thread, so calls made on worker threads could not be singled out.
fn max_threads() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("CARGO_ATOMIC_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(8)
    })
}

/// A unique, time-sortable transaction id.
fn new_txid() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms:013}-{}", sys::random_hex())
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

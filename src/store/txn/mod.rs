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
//!    be a second name of the user's live file), update the manifest and the backup index;
//! 5. append APPLIED to the journal, append the audit records, then mark the journal done and
//!    remove it. Records that cannot be written leave the journal at APPLIED: the change
//!    stands (exit 0, with a warning), and the next recovery, finding each file in the state
//!    the journal names, writes them. Every committed change is recorded, now or then.
//!
//! An error before 3 removes the listed temps. An error after 3 appends ABORT and puts the old
//! bytes back from the backup objects, so a failed command leaves the disk as it was. A crash
//! is finished by [`super::recover`] at the start of the next command.
//!
//! Proven by the unit tests in `src/store/tests.rs` and the crash and error sweeps in
//! `tests/it/crash.rs`.

//!
//! The code: this file is the builder ([`Transaction`]) and what it decides; `steps.rs` the
//! steps shared with recovery (prepare, apply, roll back, discard, settle); `util.rs` hashing,
//! path keys, the thread pool, ids and clocks.

mod steps;
mod util;

use super::Store;
use super::atomic::{self, NewMeta, Target};
use super::error::{IoContext, Result, StoreError};
use super::journal::{Entry, Intent, Journal};
use super::manifest::{FileState, Inputs};
use super::objects::Objects;
use super::sys;
use crate::digest::Sha256Digest;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use steps::prepare;
pub(super) use steps::{apply, discard, roll_back};
pub(crate) use util::{hash_file, hash_file_opt, now_rfc3339, path_key};
use util::{new_txid, parallel_map};

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
    Write { bytes: Vec<u8>, how: WriteAs },
    Delete,
}

/// How [`Transaction::write_with`] writes a file, beyond its bytes.
#[derive(Debug, Clone, Default)]
pub struct WriteAs {
    /// Permission bits to give it (a restore uses the backup's); `None`: the existing file's,
    /// or the default for a new one.
    pub mode: Option<u32>,
    /// What a generated file was made from: the manifest records it, so a later check can tell
    /// which inputs changed.
    pub inputs: Option<Inputs>,
    /// A file that stays the user's (a `set` edit of a source, the restore of one): backed up,
    /// journaled and audited the same, but recorded in the manifest only if it already is, so a
    /// later hand edit is no `drift`.
    pub unmanaged: bool,
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
        self.write_with(path, bytes, WriteAs::default())
    }

    /// Like [`write`](Self::write), written as `how` says: with given permission bits, as a
    /// generated file with its inputs, or as a file that stays the user's.
    pub fn write_with(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        how: WriteAs,
    ) -> Result<&mut Self> {
        let how = WriteAs {
            mode: how.mode.map(|m| m & 0o7777),
            ..how
        };
        self.add(
            path.as_ref(),
            Change::Write {
                bytes: bytes.into(),
                how,
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
                Change::Write { bytes, how } => {
                    let after = FileState {
                        sha256: Sha256Digest::of(&bytes),
                        size: bytes.len() as u64,
                    };
                    let mode = how
                        .mode
                        .unwrap_or_else(|| NewMeta::for_target(&p.target).mode);
                    (Some(after), Some(bytes), mode, how.inputs, how.unmanaged)
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
        // failed command must mean "nothing changed". The audit records go next; only once
        // they are written does the journal go. If they cannot be written, the journal stays
        // (APPLIED), and the next command's recovery writes them: every committed change gets
        // its records, now or then.
        journal.applied();
        let records = audit_entries(&op, &files, &intent.entries);
        let audit = match store.try_append_audit(&records) {
            Ok(notices) => {
                journal.finish();
                notices
            }
            Err(e) => vec![store.audit_warning(
                format!(
                    "cannot append to the audit log: {}",
                    super::error_chain(&e)
                ),
                "the change is complete; its journal stays, and the next command that writes (or `cargo atomic recover`) records it",
            )],
        };
        Ok(Committed { txid, files, audit })
    }
}

/// One audit entry per file whose bytes changed; for [`ACCEPT`], per file whose recorded
/// state changed (the bytes stay, the manifest takes them).
pub(super) fn audit_entries(
    op: &str,
    files: &[FileChange],
    entries: &[Entry],
) -> Vec<super::AuditEntry> {
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
pub(super) struct Dirs {
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

pub(super) fn dir_of(real: &str) -> &Path {
    Path::new(real).parent().unwrap_or(Path::new(""))
}

pub(super) fn name_of(real: &str) -> &OsStr {
    Path::new(real).file_name().unwrap_or_default()
}

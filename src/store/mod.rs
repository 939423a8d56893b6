//! Durable state: atomic writes, the lock, transactions with their journal and recovery,
//! backup objects, the manifest, streaming SHA-256.
//!
//! Invariant: nothing here knows JSON Schema, YAML or TOML documents; files are bytes. Every
//! change to a managed file goes through a [`Transaction`], under the exclusive [`StoreLock`],
//! after recovery of any interrupted transaction.
//!
//! On disk (`<root>/<state-dir>`, created 0700): `lock`, `journal/`, `objects/<sha256>`,
//! `backups.jsonl`, `manifest.json`, `rotations.json`, `audit.jsonl` and `audit.head`, and
//! `prune-pending.json` while a prune removes objects.

mod atomic;
pub mod audit;
mod doctor;
mod error;
mod index;
mod journal;
mod lock;
mod manifest;
mod objects;
mod prune;
pub mod retention;
mod rotation;
mod sys;
#[cfg(test)]
mod tests;
mod trust;
mod txn;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::digest::{ParseDigestError, Sha256Digest};
pub use atomic::{
    Durability, LinkPolicy, WriteOptions, Written, remove_file, remove_write_temps, write_file,
};
pub use doctor::{Damage, Repair};
pub use error::{Result, StoreError};
pub use index::{BackupIndex, Marks};
pub use lock::{LockMode, StoreLock};
pub use manifest::{FileState, Inputs, Manifest};
pub use objects::BackupRecord;
pub use prune::Removal;
pub use rotation::{ArtifactDir, RotatedFile, Rotations, Step as RotationStep, temp_name};
pub use txn::{ACCEPT, Committed, FileChange, Transaction, WriteAs};

pub use audit::{
    Actor, AuditEntry, AuditFinding, AuditOptions, AuditOutcome, AuditRecord, AuditReport,
    ObjectCheck, Tool, ToolMode, VerifyOptions,
};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::event::{Event, RecoveryAction, Sink};
use error::IoContext;
use journal::Stage;

const ROTATIONS: &str = "rotations.json";

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The state directory, relative to the root (or absolute).
    pub state_dir: PathBuf,
    /// fsync or not.
    pub durability: Durability,
    /// What writes may do to links.
    pub links: LinkPolicy,
    /// The command line, recorded with each backup.
    pub command: String,
    /// Whether and as whom changes are recorded in the audit log.
    pub audit: AuditOptions,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            state_dir: PathBuf::from(".atomic"),
            durability: Durability::Full,
            links: LinkPolicy::default(),
            command: String::new(),
            audit: AuditOptions::default(),
        }
    }
}

/// What recovery does with a transaction that had committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverMode {
    /// Finish it (the automatic choice).
    RollForward,
    /// Undo it: every file gets its old bytes back.
    RollBack,
}

/// An open store, with its lock held for as long as it lives.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    state: PathBuf,
    durability: Durability,
    links: LinkPolicy,
    command: String,
    audit: AuditOptions,
    lock: StoreLock,
}

impl Store {
    /// Opens the store for writing: creates the state directory (0700) if needed, takes the
    /// exclusive lock (reporting [`Event::LockWait`] if it must wait), and finishes any
    /// interrupted transaction.
    pub fn open(root: &Path, options: StoreOptions, sink: &mut dyn Sink) -> Result<Self> {
        let store = Self::open_exclusive(root, options, sink)?;
        store.recover(RecoverMode::RollForward, sink)?;
        Ok(store)
    }

    /// Opens the store for writing without recovering: for `recover` itself, which decides.
    pub fn open_exclusive(root: &Path, options: StoreOptions, sink: &mut dyn Sink) -> Result<Self> {
        let root = fs::canonicalize(root).ctx("resolve the workspace root", root)?;
        let state = state_path(&root, &options.state_dir);
        trust::state_dir(&root, &state, true, options.durability.syncs())?;
        let lock = StoreLock::acquire(&state.join("lock"), LockMode::Exclusive, &mut |pid| {
            sink.event(Event::LockWait { pid })
        })?;
        Ok(Store {
            root,
            state,
            durability: options.durability,
            links: options.links,
            command: options.command,
            audit: options.audit,
            lock,
        })
    }

    /// Opens the store for reading under a shared lock, or `None` if it was never created.
    /// An interrupted transaction is finished first (briefly taking the exclusive lock).
    pub fn open_shared(
        root: &Path,
        options: StoreOptions,
        sink: &mut dyn Sink,
    ) -> Result<Option<Self>> {
        let root = fs::canonicalize(root).ctx("resolve the workspace root", root)?;
        let state = state_path(&root, &options.state_dir);
        if trust::state_dir(&root, &state, false, false)? == trust::Presence::Absent {
            return Ok(None);
        }
        // Not `Path::exists`, which reads any error as "no store": a reader would then report
        // that there is nothing to check instead of failing.
        let lock = state.join("lock");
        match fs::symlink_metadata(&lock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx("inspect", lock),
        }
        if !journal::list(&state.join("journal"))?.is_empty() {
            drop(Self::open(&root, options.clone(), sink)?);
        }
        let lock = StoreLock::acquire(&state.join("lock"), LockMode::Shared, &mut |pid| {
            sink.event(Event::LockWait { pid })
        })?;
        Ok(Some(Store {
            root,
            state,
            durability: options.durability,
            links: options.links,
            command: options.command,
            audit: options.audit,
            lock,
        }))
    }

    /// Finishes (or, with [`RecoverMode::RollBack`], undoes) every interrupted transaction,
    /// and reports each. Needs the exclusive lock.
    pub fn recover(&self, mode: RecoverMode, sink: &mut dyn Sink) -> Result<usize> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "recovery needs the exclusive lock"
        );
        audit::remove_stale_temp(&self.state)?;
        let mut n = 0;
        for path in journal::list(&self.journal_dir())? {
            let (intent, stage) = journal::read(&path)?;
            let Some(intent) = intent else {
                // The intent was torn: nothing after it ran, so nothing exists to clean.
                journal::remove(&path)?;
                continue;
            };
            intent.check(&self.root, &self.state, &self.shown(&path))?;
            let action = match (stage, mode) {
                (Stage::Prepared, _) => {
                    txn::discard(self, &intent)?;
                    RecoveryAction::Discarded
                }
                (Stage::Committed, RecoverMode::RollForward) => {
                    txn::apply(self, &intent, true)?;
                    RecoveryAction::RolledForward
                }
                (Stage::Committed, RecoverMode::RollBack) => {
                    journal::Journal::reopen(&path)?.abort(self.durability.syncs())?;
                    txn::roll_back(self, &intent)?;
                    RecoveryAction::RolledBack
                }
                (Stage::Aborted, _) => {
                    txn::roll_back(self, &intent)?;
                    RecoveryAction::RolledBack
                }
                (Stage::Done, _) => {
                    journal::remove(&path)?;
                    continue;
                }
                (Stage::Applied, _) => {
                    // Every file in place; only the records are missing. They are written as
                    // the transaction's own, once each file is checked to be what the journal
                    // says (a journal is input: it must not make the log claim a change).
                    for e in &intent.entries {
                        let now = self.hash(Path::new(&e.real))?;
                        if now != e.after {
                            return Err(StoreError::Untrusted {
                                file: self.shown(&path),
                                detail: format!(
                                    "it says the transaction was applied, but `{}` is not in the state it records",
                                    e.path
                                ),
                            });
                        }
                    }
                    let files: Vec<FileChange> = intent
                        .entries
                        .iter()
                        .map(|e| FileChange {
                            path: PathBuf::from(&e.path),
                            before: e.before,
                            after: e.after,
                            backup: None,
                        })
                        .collect();
                    let records = txn::audit_entries(&intent.op, &files, &intent.entries);
                    for w in self.try_append_audit(&records)? {
                        sink.event(Event::Diagnostic(w));
                    }
                    journal::remove(&path)?;
                    n += 1;
                    continue;
                }
            };
            // Recorded before the journal goes: a crash in between records it again (the next
            // recovery finds nothing to do but appends), rather than never.
            let entries: Vec<AuditEntry> = intent
                .entries
                .iter()
                .filter(|e| e.before != e.after && action != RecoveryAction::Discarded)
                .map(|e| {
                    let (before, after) = match action {
                        RecoveryAction::RolledBack => (e.after, e.before),
                        _ => (e.before, e.after),
                    };
                    AuditEntry {
                        op: "recover".into(),
                        path: Some(e.path.clone()),
                        before,
                        after,
                        outcome: AuditOutcome::Ok,
                    }
                })
                .collect();
            // A record that cannot be written keeps the journal: the next recovery, which
            // finds every file done, writes it then.
            let warnings = self.try_append_audit(&entries)?;
            journal::remove(&path)?;
            n += 1;
            for w in warnings {
                sink.event(Event::Diagnostic(w));
            }
            sink.event(Event::Recovered {
                txid: intent.txid.clone(),
                action,
                files: intent
                    .entries
                    .iter()
                    .map(|e| PathBuf::from(&e.path))
                    .collect(),
            });
        }
        // An append interrupted between the log and its head (or within a line) leaves the
        // head behind whole records, or a torn tail: `audit verify` would report them until
        // the next append. Every writer settles them here first (`recover` is the command that
        // does only that). Readers report and never settle: records added at the end by hand
        // must stay visible to `audit verify`. A log that cannot be read is left to the
        // append, which warns.
        if self.audit.enabled && audit::unsettled(&self.state).unwrap_or(false) {
            for w in self.repair_audit()? {
                sink.event(Event::Diagnostic(w));
            }
        }
        Ok(n)
    }

    /// Starts a transaction; `op` names it in backup records (`write`, `restore`, ...).
    pub fn transaction(&self, op: &str) -> Transaction<'_> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "writing needs the exclusive lock"
        );
        Transaction::new(self, op)
    }

    /// The canonical workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The manifest of managed files.
    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::load(&self.manifest_path())
    }

    /// Every backup, oldest first.
    pub fn backups(&self) -> Result<Vec<BackupRecord>> {
        index::read_index(&self.index_path())
    }

    /// The bytes of a backup, verified against its hash.
    pub fn read_backup(&self, record: &BackupRecord) -> Result<Vec<u8>> {
        self.objects()?.read_verified(&record.sha256)
    }

    /// The digest and size of a file under the root, streaming; `None` if it does not exist.
    pub fn hash(&self, path: &Path) -> Result<Option<FileState>> {
        txn::hash_file_opt(&self.root.join(path))
    }

    /// The record of rotated artifacts (empty if nothing was ever rotated). Under the exclusive
    /// lock, a staged copy of the record that a crash left is removed first.
    pub fn rotations(&self) -> Result<Rotations> {
        if self.lock.mode() == LockMode::Exclusive {
            rotation::clean(&self.state, ROTATIONS)?;
        }
        rotation::load(&self.state.join(ROTATIONS))
    }

    /// Replaces the record of rotated artifacts atomically. Needs the exclusive lock.
    pub fn save_rotations(&self, r: &Rotations) -> Result<()> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "writing needs the exclusive lock"
        );
        rotation::save(&self.state, ROTATIONS, r, self.durability.syncs())
    }

    /// Opens a directory of artifacts, `rel` to the root, which must resolve inside the root.
    pub fn artifact_dir(&self, rel: &Path) -> Result<ArtifactDir> {
        let abs = self.root.join(rel);
        let real = fs::canonicalize(&abs).ctx("resolve", &abs)?;
        if !real.starts_with(&self.root) {
            return Err(StoreError::OutsideRoot {
                path: rel.to_owned(),
                root: self.root.clone(),
            });
        }
        if real.starts_with(&self.state) {
            return Err(StoreError::InStateDir {
                path: rel.to_owned(),
                state: self.state.clone(),
            });
        }
        ArtifactDir::open_abs(rel.to_owned(), real, self.durability.syncs())
    }

    /// Appends one audit record per entry, under the exclusive lock. Never fails: what went
    /// wrong (the log could not be written; it was damaged and a new segment started; a torn
    /// line was cut off) comes back as warnings, because the changes it records stand.
    pub fn append_audit(&self, entries: &[AuditEntry]) -> Vec<Diagnostic> {
        match self.try_append_audit(entries) {
            Ok(notices) => notices,
            Err(e) => vec![self.audit_warning(
                format!("cannot append to the audit log: {}", error_chain(&e)),
                "the change itself is complete, but it is not recorded in the audit log",
            )],
        }
    }

    /// [`Store::append_audit`] that returns the failure, for a caller that keeps what the
    /// records describe pending until they are written.
    pub(crate) fn try_append_audit(&self, entries: &[AuditEntry]) -> Result<Vec<Diagnostic>> {
        if !self.audit.enabled || entries.is_empty() {
            return Ok(Vec::new());
        }
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "appending needs the exclusive lock"
        );
        let sync = self.durability.syncs();
        let notices = audit::append(&self.state, sync, &self.audit, entries, false)?;
        Ok(notices.iter().map(|n| self.audit_notice(n)).collect())
    }

    /// `audit verify --repair`: cuts off a torn last line and appends a `repair` record.
    /// Returns what was done (nothing when the tail was whole).
    pub fn repair_audit(&self) -> Result<Vec<Diagnostic>> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "repairing needs the exclusive lock"
        );
        let sync = self.durability.syncs();
        let notices = audit::append(&self.state, sync, &self.audit, &[], true)?;
        Ok(notices.iter().map(|n| self.audit_notice(n)).collect())
    }

    /// Verifies the audit chain, streaming; `visit` gets each good record with its line.
    pub fn verify_audit(
        &self,
        options: &VerifyOptions,
        visit: &mut dyn FnMut(u64, &AuditRecord),
    ) -> Result<AuditReport> {
        audit::verify(&self.state, options, visit)
    }

    /// Every audit record that parses, oldest first, unverified; stops when `visit` says so.
    pub fn audit_records(&self, visit: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        audit::read_records(&self.state, visit)
    }

    /// Whether the backup object `d` exists and hashes to its name (streaming).
    pub fn check_object(&self, d: &Sha256Digest) -> Result<ObjectCheck> {
        audit::check_object(&self.state.join("objects"), d)
    }

    /// A file of the state directory as findings name it: relative to the root when inside it.
    pub fn state_file(&self, name: &str) -> PathBuf {
        let abs = self.state.join(name);
        abs.strip_prefix(&self.root)
            .map(Path::to_owned)
            .unwrap_or(abs)
    }

    /// An absolute path as messages show it: relative to the root when inside it.
    fn shown(&self, abs: &Path) -> PathBuf {
        abs.strip_prefix(&self.root)
            .map(Path::to_owned)
            .unwrap_or_else(|_| abs.to_owned())
    }

    fn audit_notice(&self, n: &audit::AppendNotice) -> Diagnostic {
        match n {
            audit::AppendNotice::Repaired { bytes, .. } => self.audit_warning(
                format!(
                    "cut off a torn last line of the audit log ({bytes} bytes): an earlier append was interrupted"
                ),
                "a `repair` record in the log says so",
            ),
            audit::AppendNotice::Segment {
                reason,
                set_aside,
                linked,
            } => {
                let link = match linked {
                    Some(l) => format!("that links to its last good record (seq {})", l.seq),
                    None => "(it had no good record to link to)".into(),
                };
                let mut d = self.audit_warning(
                    format!("the audit log is damaged: {reason}"),
                    format!("a new log starts with a `segment` record {link}"),
                );
                if !set_aside.is_empty() {
                    d.notes.push(format!(
                        "the damaged log is kept as `{}`",
                        self.state_file(set_aside).display()
                    ));
                }
                d.notes
                    .push("`cargo atomic audit verify` explains the break".into());
                d
            }
        }
    }

    /// Whether changes are recorded in the audit log.
    pub fn audit_enabled(&self) -> bool {
        self.audit.enabled
    }

    /// A warning about the audit log, for a change that is complete but not recorded.
    pub(crate) fn audit_warning(&self, message: String, note: impl Into<String>) -> Diagnostic {
        let mut d =
            Diagnostic::error(Code::Audit, self.state_file(audit::LOG), message).with_note(note);
        d.severity = Severity::Warning;
        d
    }

    fn journal_dir(&self) -> PathBuf {
        self.state.join("journal")
    }

    fn manifest_path(&self) -> PathBuf {
        self.state.join("manifest.json")
    }

    fn index_path(&self) -> PathBuf {
        self.state.join("backups.jsonl")
    }

    fn objects(&self) -> Result<objects::Objects> {
        objects::Objects::open(self.state.join("objects"), self.durability.syncs())
    }
}

/// Checks, without touching the disk and without the lock, what cannot change under a running
/// transaction: `path` (relative to `root`) is inside the root, not a link out of it or a
/// dangling one, not a directory, and not inside the state directory `state_dir` (which only
/// the store writes). Commands call it before opening the store, so such a write is refused
/// before the state directory exists. Hard links are not checked here: a running transaction's
/// backup is briefly a second link to its file. [`Transaction::write`] checks everything again
/// under the lock.
pub fn check_target(root: &Path, state_dir: &Path, path: &Path) -> Result<()> {
    let root = fs::canonicalize(root).ctx("resolve the workspace root", root)?;
    let links = LinkPolicy {
        allow_hardlinks: true,
    };
    let target = atomic::resolve(&root, path, links)?;
    let state = root.join(state_dir);
    if root.join(&target.real).starts_with(&state) {
        return Err(StoreError::InStateDir {
            path: target.path,
            state,
        });
    }
    Ok(())
}

/// Whether `name` has the shape of a temp the store gives a file named `stem`
/// (`.STEM.<16 hex>.atomic-tmp`).
pub fn is_temp_of(name: &[u8], stem: &[u8]) -> bool {
    trust::is_temp_of(name, stem)
}

/// The state directory, absolute: `state_dir` is relative to the root, and spelled with no
/// `.`/`..` ([`trust::state_dir`] refuses one that lands outside).
fn state_path(root: &Path, state_dir: &Path) -> PathBuf {
    let mut out = root.to_owned();
    for c in state_dir.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::RootDir => out = PathBuf::from("/"),
            _ => {}
        }
    }
    out
}

/// An error and its causes, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The one name of the file `path` (absolute, or relative to the canonical `root`) inside the
/// root: its directory canonicalized (`./a`, `d/../a` and a symlinked directory all give one
/// spelling) and a final symlink followed when it leads inside the root. Paths that name the
/// same file get the same key; the manifest, the backup index and every comparison of paths
/// use it. A path that leads outside is [`StoreError::OutsideRoot`].
pub fn resolve_key(root: &Path, path: &Path) -> Result<PathBuf> {
    let abs = root.join(path);
    let outside = || StoreError::OutsideRoot {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let (Some(name), Some(dir)) = (abs.file_name(), abs.parent()) else {
        return Err(outside());
    };
    if matches!(
        abs.components().next_back(),
        Some(std::path::Component::ParentDir)
    ) {
        return Err(outside());
    }
    let lexical = atomic::canonical_ancestor(dir)?.join(name);
    let rel = lexical
        .strip_prefix(root)
        .map_err(|_| outside())?
        .to_owned();
    if fs::symlink_metadata(&lexical).is_ok_and(|m| m.file_type().is_symlink())
        && let Ok(target) = fs::canonicalize(&lexical)
        && let Ok(inside) = target.strip_prefix(root)
    {
        return Ok(inside.to_owned());
    }
    Ok(rel)
}

/// Reads a file of the user's (a source, a schema, a config) for parsing. Links are followed,
/// but anything that is not then a regular file (a FIFO, a device, a directory) is refused
/// without blocking: the open does not wait for a FIFO's writer, and nothing is read before
/// `fstat` says what it is. At most `limit + 1` bytes are read, so a file past the limit costs
/// no more than that and the parser still sees that it is too big.
pub fn read_input(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(
            "not a regular file (a FIFO, a device or a directory); cargo atomic reads only \
             regular files",
        ));
    }
    // A regular file never blocks; reads go back to blocking mode for clarity.
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty()).map_err(io::Error::from)?;
    let mut bytes = Vec::with_capacity(meta.len().min(limit.saturating_add(1)) as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Digest and size of any file, streaming in constant memory.
pub fn hash_path(path: &Path) -> Result<FileState> {
    txn::hash_file(path)
}

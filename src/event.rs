//! Typed events: what `store` and `ops` report while they work.
//!
//! Doing is separated from showing: the layers below `cli` never print. They push `Event`s into a
//! [`Sink`], and the CLI renders them as human text or JSON lines; a `build.rs` caller may ignore
//! them or collect them.

use std::path::PathBuf;

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::digest::Sha256Digest;

/// Something that happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Event {
    /// Another process holds the store's lock; we are waiting for it.
    LockWait {
        /// The pid the holder recorded, when it did.
        pid: Option<u32>,
    },
    /// An interrupted transaction was finished or undone.
    Recovered {
        /// The transaction's id.
        txid: String,
        /// `rolled-forward`, `rolled-back` or `discarded` (it had not committed).
        action: RecoveryAction,
        /// The files it concerned, relative to the workspace root.
        files: Vec<PathBuf>,
    },
    /// A file was replaced (or created) atomically.
    FileWritten {
        /// Relative to the workspace root.
        path: PathBuf,
        /// Digest of the new bytes.
        sha256: Sha256Digest,
        /// Size of the new bytes.
        bytes: u64,
        /// The backup object that keeps the old bytes, if the file existed.
        #[serde(serialize_with = "ser_backup")]
        backup: Option<Sha256Digest>,
    },
    /// A file was removed; its bytes are kept as a backup.
    FileDeleted {
        /// Relative to the workspace root.
        path: PathBuf,
        /// The backup object that keeps the old bytes.
        #[serde(serialize_with = "ser_backup")]
        backup: Option<Sha256Digest>,
    },
    /// A managed file matches its recorded digest.
    Verified {
        /// Relative to the workspace root.
        path: PathBuf,
        /// Its digest.
        sha256: Sha256Digest,
    },
    /// A finding about user data.
    Diagnostic(Diagnostic),
    /// `--dry-run`: the file would be written with these changes.
    WouldWrite {
        /// Relative to the workspace root.
        path: PathBuf,
        /// A unified diff from the current bytes (none: a new file) to the new ones.
        diff: String,
        /// The file does not exist yet.
        created: bool,
    },
    /// `audit verify` finished (its findings were reported as diagnostics before).
    AuditVerified {
        /// Good records read.
        records: u64,
        /// The hash of the last good record: keep it to pass as `--expect-head` later.
        head: Option<String>,
        /// Error findings reported.
        errors: usize,
    },
    /// Long work advanced: `done` of `total` items (`total` 0: not known in advance). Sent at
    /// most about a hundred times per task, and once with `done == total` at the end. For a
    /// progress display; the JSON output leaves it out.
    Progress {
        /// What is being done: `validating`, `verifying`, `checking audit log`.
        task: String,
        /// Items done.
        done: u64,
        /// Items in all (0 if unknown).
        total: u64,
    },
    /// A write that would not change the bytes was skipped: the file and its mtime are untouched.
    FileUnchanged {
        /// Relative to the workspace root.
        path: PathBuf,
        /// Digest of its bytes.
        sha256: Sha256Digest,
    },
    /// `backups prune` keeps this backup.
    BackupKept(BackupDecision),
    /// `backups prune` drops this backup: removed, unless it is a dry run.
    BackupDropped(BackupDecision),
    /// `backups prune` is done.
    BackupsPruned {
        /// The policy applied (`keep-last 3, max-total-size 200MiB`); `None`: none is configured,
        /// and everything is kept.
        policy: Option<String>,
        /// Backups kept.
        kept: usize,
        /// Backups dropped (removed, unless `dry_run`).
        dropped: usize,
        /// Objects removed (or that would be), no remaining backup needing them.
        objects_removed: usize,
        /// Bytes those objects held.
        bytes_freed: u64,
        /// Bytes of the objects the kept backups use.
        kept_bytes: u64,
        /// `max-total-size` is not met: the newest backup of each file alone is larger.
        over_cap: bool,
        /// Nothing was changed.
        dry_run: bool,
        /// Why some objects of removed backups are not freed yet; the next prune frees them.
        #[serde(skip_serializing_if = "Option::is_none")]
        unfinished: Option<String>,
    },
    /// A live artifact was renamed aside by `rotate` (with `dry_run`: would be).
    Rotated {
        /// The `[[rotate]]` entry.
        name: String,
        /// The live file, relative to the workspace root.
        path: PathBuf,
        /// Its rotated name.
        to: PathBuf,
        /// Its size.
        bytes: u64,
        /// Only planned (`--dry-run`): nothing was changed.
        dry_run: bool,
    },
    /// A rotated copy moved up one number (numbered naming).
    RotationShifted {
        /// Its old name.
        from: PathBuf,
        /// Its new name.
        to: PathBuf,
        /// Only planned.
        dry_run: bool,
    },
    /// A rotated copy was replaced by its gzip, written atomically.
    RotationCompressed {
        /// The uncompressed copy (now gone).
        path: PathBuf,
        /// The `.gz`.
        to: PathBuf,
        /// The compressed size, once known.
        bytes: Option<u64>,
        /// Only planned.
        dry_run: bool,
    },
    /// Retention removed a rotated copy.
    RotationPruned {
        /// The copy.
        path: PathBuf,
        /// The rule that drops it (`beyond keep-last 5 and older than keep-within 14d`).
        rule: String,
        /// Only planned.
        dry_run: bool,
    },
    /// A rotated copy the records name is gone (removed by someone else); its record is dropped.
    RotationVanished {
        /// The copy.
        path: PathBuf,
        /// Only planned.
        dry_run: bool,
    },
}

/// One backup and what retention decides for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupDecision {
    /// The backup's id.
    pub id: String,
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// When it was made (RFC 3339, UTC).
    pub time: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its object.
    pub sha256: Sha256Digest,
    /// The rules that keep or drop it: `keep-last 3`, `keep-daily 7 (2026-11-20)`,
    /// `oldest for keep-monthly`, `max-total-size 200MiB`, `no rule keeps it`.
    pub rules: Vec<String>,
}

/// How recovery ended an interrupted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecoveryAction {
    /// It had committed: every file now holds its new bytes.
    RolledForward,
    /// It was undone: every file holds its old bytes.
    RolledBack,
    /// It had not committed: its temp files were removed, targets were never touched.
    Discarded,
}

fn ser_backup<S: serde::Serializer>(b: &Option<Sha256Digest>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(d) => s.collect_str(&format_args!("sha256:{d}")),
        None => s.serialize_none(),
    }
}

/// Emits [`Event::Progress`] for a task of `total` items, throttled to about a hundred events.
#[derive(Debug)]
pub struct Progress {
    task: &'static str,
    total: u64,
    done: u64,
    step: u64,
}

impl Progress {
    /// A task of `total` items (0: unknown).
    pub fn new(task: &'static str, total: u64) -> Self {
        Progress {
            task,
            total,
            done: 0,
            step: (total / 100).max(1),
        }
    }

    /// One more item done; reports when a step is complete or the task is.
    pub fn tick(&mut self, sink: &mut dyn Sink) {
        self.done += 1;
        let step = if self.total == 0 {
            // Unknown length: every power-of-ten-ish step, at most about every 1,000.
            self.step.max(1000)
        } else {
            self.step
        };
        if self.done.is_multiple_of(step) || self.done == self.total {
            sink.event(Event::Progress {
                task: self.task.to_owned(),
                done: self.done,
                total: self.total,
            });
        }
    }

    /// The task ended (possibly early): lets a display clear itself.
    pub fn finish(self, sink: &mut dyn Sink) {
        if self.done != self.total || self.total == 0 {
            sink.event(Event::Progress {
                task: self.task.to_owned(),
                done: self.done,
                total: self.done,
            });
        }
    }
}

/// Receives events. Implemented by the CLI's renderers, and by `Vec<Event>` for tests and
/// library callers that want to look at them afterwards.
pub trait Sink {
    /// Called once per event, in order.
    fn event(&mut self, event: Event);
}

impl Sink for Vec<Event> {
    fn event(&mut self, event: Event) {
        self.push(event);
    }
}

/// A sink that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl Sink for Discard {
    fn event(&mut self, _: Event) {}
}

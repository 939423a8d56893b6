//! The audit log (G7): one hash-chained JSON line per change, appended under the exclusive lock.
//!
//! Guarantee: an edited, removed, reordered, inserted or truncated record is found by
//! [`verify`] and named by its line; a damaged log never blocks a write.
//!
//! How it works. `<state>/audit.jsonl` holds one record a line, keys in a fixed order, no
//! whitespace (DESIGN §4). Each record's `hash` is
//! `sha256("cargo-atomic/audit/v1\n" + the line without its "hash" member)` and its `prev` is
//! the hash of the record before, so every record pins the whole history. The first record is a
//! `genesis` (seq 0, `prev` null, a random `log_id`). After every append, `<state>/audit.head`
//! (`{"seq","hash","log_id","size"}`: the last record and the log's length in bytes) is replaced
//! atomically, after the log was fsynced; so removing records from the end is caught too.
//! An append checks only the log's tail against the head (constant time):
//! - records past the head's `size` (an append whose head update was interrupted) are accepted
//!   when they chain onto the head;
//! - a torn last line (a crash mid-append; no newline or not JSON) is cut off and a `repair`
//!   record says so, with the sha256 and size of the bytes removed;
//! - anything else (the head does not match the log, a bad tail, a missing log or head) is
//!   damage: the log is renamed aside to `audit.<n>.jsonl` and a new `audit.jsonl` starts with
//!   a `segment` record that links (`prev`, `seq`, `log_id`) to the last good record of the old
//!   one, names it in `path` and records its sha256 and size in `before`. The caller gets a
//!   warning; the write it was recording stands. `audit verify` reports the restart as an error,
//!   with the old segment's first bad line, for as long as the log exists.
//!
//! A new log (or segment) is created holding only its first record, fsynced, with its head,
//! before anything else is appended: a log without a head is accepted only when it is exactly
//! that one record, so deleting the head cannot hide a truncation.
//!
//! Limitations: records appended past the head with a correct chain look like an interrupted
//! append until the next write re-links the head; `audit verify --expect-head HASH` with a head
//! kept elsewhere catches rewrites of the whole tail. Records are written for committed changes
//! only (`outcome` "ok"); `rejected` and `error` exist for callers that record refusals.

mod chain;
mod record;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub use chain::{AuditFinding, AuditReport, Head, Link, Torn, VerifyOptions, read_records, verify};
#[cfg(test)]
use record::record_hash;
pub use record::{Actor, AuditEntry, AuditOptions, AuditOutcome, AuditRecord, Tool, ToolMode};

use super::atomic::{self, NewMeta};
use super::error::{IoContext, Result, StoreError};
use super::manifest::FileState;
use super::sys;
use crate::digest::Sha256Digest;

/// The log's file name in the state directory.
pub const LOG: &str = "audit.jsonl";
/// The head's file name in the state directory.
pub const HEAD: &str = "audit.head";
const HEAD_TEMP: &str = "audit.head.tmp";

/// Removes the head's temp file that a crash during an append left (a name this module owns;
/// never a pattern). Under the exclusive lock, no append is under way.
pub(crate) fn remove_stale_temp(state: &Path) -> Result<()> {
    let fd = sys::open_dir(state).ctx("open", state)?;
    sys::unlink_at_if_exists(&fd, OsStr::new(HEAD_TEMP)).ctx("remove", state.join(HEAD_TEMP))?;
    Ok(())
}
/// Longer lines are damage, not records: it bounds the memory a reader needs.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Something an append had to do besides appending, for the caller to warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendNotice {
    /// A torn last line was cut off (and a `repair` record appended).
    Repaired {
        /// Where the torn bytes started.
        offset: u64,
        /// How many bytes were removed.
        bytes: u64,
    },
    /// The log was damaged and set aside; a new segment started.
    Segment {
        /// Why the log was judged damaged.
        reason: String,
        /// The set-aside log, in the state directory.
        set_aside: String,
        /// The record the new segment links to, if any was good.
        linked: Option<Link>,
    },
}

/// The id of this run: random, one per process.
fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(sys::random_hex)
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn new_log_id() -> String {
    sys::random_hex() + &sys::random_hex()
}

/// Where the next record goes.
enum Start {
    /// No log yet: a genesis record first.
    New,
    /// The tail is sound; append after `link`, first cutting `torn` off if there is one.
    /// `behind`: whole records follow the one the head names (an append whose head update was
    /// interrupted), so the head must move to `link`.
    Continue {
        link: Link,
        torn: Option<Torn>,
        behind: bool,
    },
    /// The log cannot be continued.
    Damaged { reason: String },
}

/// The state directory's audit files, for one append.
struct Log<'a> {
    state: &'a Path,
    sync: bool,
    options: &'a AuditOptions,
}

/// Makes the head's temp hold one block before a transaction commits: the head update after the
/// commit point removes it and creates it again, reusing that block on a full disk.
pub(crate) fn reserve_head_temp(state: &Path) -> Result<()> {
    let fd = sys::open_dir(state).ctx("open", state)?;
    let path = state.join(HEAD_TEMP);
    sys::unlink_at_if_exists(&fd, OsStr::new(HEAD_TEMP)).ctx("remove", &path)?;
    let f = sys::create_excl(&fd, OsStr::new(HEAD_TEMP), 0o600).ctx("create", &path)?;
    match rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, 4096) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => Ok(()),
        Err(e) => Err(io::Error::from(e)).ctx("reserve space in", path),
    }
}

/// Whether the log's tail is not where its head says: whole records after it (an append whose
/// head update was interrupted) or a torn line. Reads only the tail past the head. Damage of
/// any other kind is not "unsettled": `audit verify` reports it, and the next append starts a
/// new segment.
pub(crate) fn unsettled(state: &Path) -> Result<bool> {
    let log = Log {
        state,
        sync: false,
        options: &AuditOptions::default(),
    };
    Ok(match log.start()? {
        Start::Continue { torn, behind, .. } => torn.is_some() || behind,
        Start::New | Start::Damaged { .. } => false,
    })
}

/// Appends one record per entry (and, when it must, a `repair` or `segment` record first).
/// With `repair_only`, appends nothing unless a torn tail must be cut off. Needs the exclusive
/// lock. An I/O failure is returned; damage is handled and reported as a notice.
pub(crate) fn append(
    state: &Path,
    sync: bool,
    options: &AuditOptions,
    entries: &[AuditEntry],
    repair_only: bool,
) -> Result<Vec<AppendNotice>> {
    if entries.is_empty() && !repair_only {
        return Ok(Vec::new());
    }
    let log = Log {
        state,
        sync,
        options,
    };
    let mut notices = Vec::new();
    let (mut link, mut file) = match log.start()? {
        Start::New => {
            if repair_only {
                return Ok(notices);
            }
            log.create(None, None)?
        }
        Start::Continue { link, torn, behind } => {
            let mut file = log.open_append()?;
            if let Some(torn) = torn {
                let link = log.cut(&mut file, &link, &torn)?;
                notices.push(AppendNotice::Repaired {
                    offset: torn.offset,
                    bytes: torn.len,
                });
                (link, file)
            } else if repair_only {
                // Reconcile: the records are in the log, only the head lags behind them.
                if behind {
                    log.write_head(&link, &file)?;
                }
                return Ok(notices);
            } else {
                (link, file)
            }
        }
        Start::Damaged { reason } => {
            let (set_aside, state, linked) = log.set_aside()?;
            notices.push(AppendNotice::Segment {
                reason,
                set_aside: set_aside.clone(),
                linked: linked.clone(),
            });
            log.create(Some((set_aside, state)), linked)?
        }
    };
    if !entries.is_empty() {
        let mut bytes = Vec::new();
        for e in entries {
            let mut r = log.record(&link, e);
            bytes.extend_from_slice(&r.seal());
            link = r.link();
        }
        log.write_synced(&mut file, &bytes)?;
        log.write_head(&link, &file)?;
    }
    Ok(notices)
}

impl Log<'_> {
    fn path(&self) -> PathBuf {
        self.state.join(LOG)
    }

    fn record(&self, prev: &Link, e: &AuditEntry) -> AuditRecord {
        AuditRecord {
            v: 1,
            log_id: prev.log_id.clone(),
            seq: prev.seq + 1,
            ts: now(),
            run_id: run_id().to_owned(),
            actor: self.options.actor.clone(),
            tool: self.options.tool.clone(),
            op: e.op.clone(),
            path: e.path.clone(),
            before: e.before,
            after: e.after,
            outcome: e.outcome,
            prev: Some(prev.hash.clone()),
            hash: String::new(),
        }
    }

    /// Judges the tail of the log against the head, reading only what lies past the head.
    fn start(&self) -> Result<Start> {
        let head = read_head(self.state)?;
        let path = self.path();
        let file = match crate::store::trust::open_read(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).ctx("open", path),
        };
        let len = match &file {
            Some(f) => f.metadata().ctx("inspect", &path)?.len(),
            None => 0,
        };
        let damaged = |reason: String| Ok(Start::Damaged { reason });
        let head = match (head, file) {
            (Ok(None), None) => return Ok(Start::New),
            (Ok(None), Some(_)) if len == 0 => return Ok(Start::New),
            (Ok(Some(h)), None) => {
                return damaged(format!(
                    "{LOG} is missing, but {HEAD} records seq {}",
                    h.seq
                ));
            }
            (Err(reason), _) => return damaged(reason),
            (Ok(h), Some(f)) => (h, f),
        };
        let (head, file) = head;
        let Some(head) = head else {
            // Only a new log's first record, before its head was written, may lack a head.
            return match chain::first_line_alone(&file, len).ctx("read", &path)? {
                Some(r) => Ok(Start::Continue {
                    link: r.link(),
                    torn: None,
                    behind: true,
                }),
                None => damaged(format!("{HEAD} is missing")),
            };
        };
        if len < head.size {
            return damaged(format!(
                "{LOG} is {len} bytes, shorter than the {} that {HEAD} records: records were removed",
                head.size
            ));
        }
        match chain::record_ending_at(&file, head.size).ctx("read", &path)? {
            Some(r) if r.hash == head.hash && r.seq == head.seq && r.log_id == head.log_id => {}
            _ => {
                return damaged(format!(
                    "the record that ends at byte {} is not the one {HEAD} records (seq {})",
                    head.size, head.seq
                ));
            }
        }
        let link = Link {
            seq: head.seq,
            hash: head.hash,
            log_id: head.log_id,
        };
        let tail =
            chain::walk_from(&file, head.size, Some(link), &mut |_, _, _| {}).ctx("read", &path)?;
        if let Some(bad) = tail.bad {
            return damaged(format!("a record after {HEAD}: {}", bad.reason));
        }
        Ok(Start::Continue {
            link: tail.last.expect("walk_from starts from a link"),
            torn: tail.torn,
            behind: tail.lines > 0,
        })
    }

    fn open_append(&self) -> Result<File> {
        let path = self.path();
        OpenOptions::new()
            .append(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .read(true)
            .open(&path)
            .ctx("open", path)
    }

    /// Cuts a torn tail off and records that in a `repair` record.
    fn cut(&self, file: &mut File, link: &Link, torn: &Torn) -> Result<Link> {
        let path = self.path();
        let mut reader = file.try_clone().ctx("open", &path)?;
        reader
            .seek(SeekFrom::Start(torn.offset))
            .ctx("read", &path)?;
        let (sha256, size) = Sha256Digest::of_reader(reader.take(torn.len)).ctx("read", &path)?;
        file.set_len(torn.offset).ctx("truncate", &path)?;
        let mut r = self.record(
            link,
            &AuditEntry {
                op: "repair".into(),
                path: None,
                before: Some(FileState { sha256, size }),
                after: None,
                outcome: AuditOutcome::Ok,
            },
        );
        let line = r.seal();
        self.write_synced(file, &line)?;
        let link = r.link();
        self.write_head(&link, file)?;
        Ok(link)
    }

    /// Renames the damaged log to `audit.<n>.jsonl` (the first free n) and returns that name,
    /// its digest and size, and its last good record.
    #[allow(clippy::type_complexity)]
    fn set_aside(&self) -> Result<(String, Option<FileState>, Option<Link>)> {
        let path = self.path();
        let file = match crate::store::trust::open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Nothing to set aside; link to what the head remembers, if it can be read.
                let linked = read_head(self.state)
                    .ok()
                    .and_then(|h| h.ok())
                    .flatten()
                    .map(|h| Link {
                        seq: h.seq,
                        hash: h.hash,
                        log_id: h.log_id,
                    });
                return Ok((String::new(), None, linked));
            }
            Err(e) => return Err(e).ctx("open", path),
        };
        let walked = chain::walk_from(&file, 0, None, &mut |_, _, _| {}).ctx("read", &path)?;
        let (sha256, size) = chain::digest_of(&file).ctx("read", &path)?;
        drop(file);
        let fd = sys::open_dir(self.state).ctx("open", self.state)?;
        let mut n = 1u32;
        let name = loop {
            let name = format!("audit.{n}.jsonl");
            match fs::symlink_metadata(self.state.join(&name)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => break name,
                Err(e) => return Err(e).ctx("inspect", self.state.join(&name)),
                Ok(_) => n += 1,
            }
        };
        sys::rename_at(&fd, OsStr::new(LOG), OsStr::new(&name))
            .ctx("set aside", self.state.join(&name))?;
        if self.sync {
            sys::fsync(&fd).ctx("fsync", self.state)?;
        }
        Ok((name, Some(FileState { sha256, size }), walked.last))
    }

    /// Creates a new log holding only its first record (a genesis, or a segment that follows
    /// `linked`), durable with its head before anything else is appended.
    fn create(
        &self,
        segment: Option<(String, Option<FileState>)>,
        linked: Option<Link>,
    ) -> Result<(Link, File)> {
        let (op, path, before) = match segment {
            None => ("genesis", None, None),
            Some((name, state)) => ("segment", Some(name).filter(|n| !n.is_empty()), state),
        };
        let mut r = AuditRecord {
            v: 1,
            log_id: linked
                .as_ref()
                .map_or_else(new_log_id, |l| l.log_id.clone()),
            seq: linked.as_ref().map_or(0, |l| l.seq + 1),
            ts: now(),
            run_id: run_id().to_owned(),
            actor: self.options.actor.clone(),
            tool: self.options.tool.clone(),
            op: op.into(),
            path,
            before,
            after: None,
            outcome: AuditOutcome::Ok,
            prev: linked.map(|l| l.hash),
            hash: String::new(),
        };
        let line = r.seal();
        let path = self.path();
        // Not `create_new`: an empty log (a crash right after creating it) is started again.
        let mut file = OpenOptions::new()
            .append(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .read(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .ctx("create", &path)?;
        if file.metadata().ctx("inspect", &path)?.len() != 0 {
            return Err(StoreError::Damaged {
                path,
                detail: "a new log was to be started, but the file is not empty".into(),
            });
        }
        self.write_synced(&mut file, &line)?;
        if self.sync {
            atomic::fsync_dir(self.state)?;
        }
        let link = r.link();
        self.write_head(&link, &file)?;
        Ok((link, file))
    }

    fn write_synced(&self, file: &mut File, bytes: &[u8]) -> Result<()> {
        let path = self.path();
        file.write_all(bytes).ctx("append to", &path)?;
        if self.sync {
            sys::fsync(&*file).ctx("fsync", &path)?;
        }
        Ok(())
    }

    /// Replaces the head atomically: a fixed temp name (we hold the lock), fsynced, renamed.
    fn write_head(&self, link: &Link, log: &File) -> Result<()> {
        let size = log.metadata().ctx("inspect", self.path())?.len();
        let head = Head {
            seq: link.seq,
            hash: link.hash.clone(),
            log_id: link.log_id.clone(),
            size,
        };
        let mut bytes = serde_json::to_vec(&head).expect("a head serializes");
        bytes.push(b'\n');
        let fd = sys::open_dir(self.state).ctx("open", self.state)?;
        let temp = OsStr::new(HEAD_TEMP);
        sys::unlink_at_if_exists(&fd, temp).ctx("remove", self.state.join(HEAD_TEMP))?;
        let meta = NewMeta {
            mode: 0o600,
            from_existing: false,
        };
        atomic::stage(
            &fd,
            self.state,
            OsStr::new(HEAD),
            temp,
            &bytes,
            meta,
            self.sync,
        )?;
        if let Err(e) = sys::rename_at(&fd, temp, OsStr::new(HEAD)) {
            let _ = sys::unlink_at(&fd, temp);
            return Err(e).ctx("rename into place", self.state.join(HEAD));
        }
        if self.sync {
            sys::fsync(&fd).ctx("fsync", self.state)?;
        }
        Ok(())
    }
}

/// Reads `audit.head`: `Ok(None)` when there is none, `Err(reason)` when it is damaged; an I/O
/// failure is the outer error.
pub(crate) fn read_head(state: &Path) -> Result<std::result::Result<Option<Head>, String>> {
    let path = state.join(HEAD);
    let bytes = match crate::store::trust::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(e) => return Err(e).ctx("read", path),
    };
    Ok(serde_json::from_slice::<Head>(&bytes)
        .map(Some)
        .map_err(|e| format!("{HEAD} is damaged: {e}")))
}

/// The state of a backup object, for `audit verify --deep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectCheck {
    /// Present, and its bytes hash to its name.
    Ok,
    /// Not there.
    Missing,
    /// Its bytes hash to something else.
    Corrupt(Sha256Digest),
}

/// Hashes `objects/<d>`, streaming.
pub(crate) fn check_object(objects: &Path, d: &Sha256Digest) -> Result<ObjectCheck> {
    let path = objects.join(d.to_string());
    let f = match crate::store::trust::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ObjectCheck::Missing),
        Err(e) => return Err(e).ctx("open", path),
    };
    let (actual, _) = Sha256Digest::of_reader(f).ctx("read", &path)?;
    Ok(if actual == *d {
        ObjectCheck::Ok
    } else {
        ObjectCheck::Corrupt(actual)
    })
}

/// Reads `len` bytes at `offset` (a helper for the tail readers).
pub(crate) fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

#[cfg(test)]
mod tests;

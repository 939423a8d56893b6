//! `backups prune`: applies the `[backups]` retention policy (G3).
//!
//! Every backup is reported with the decision and the rules behind it, in index order (the order
//! the backups were made, and of their audit records: the one order a prune can report in
//! without holding anything per backup); then, unless it is a dry run, a `prune` audit record
//! is appended for each dropped backup, and the dropped backups leave the index and their
//! objects are removed (`Store::remove_backups`, crash-safe). Records before removal: a prune
//! stopped between the two leaves records of backups still there (the next prune removes them
//! and records them again), never a removal without its record. With no policy configured everything is kept
//! — only what an interrupted earlier prune left unreferenced is removed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use super::{Error, Outcome, Workspace};
use crate::event::{BackupDecision, Event, Sink};
use crate::store::retention::{self, Backup, Verdict};
use crate::store::{
    AuditEntry, AuditOutcome, BackupIndex, BackupRecord, FileState, Marks, Removal, Store,
    StoreError,
};

/// Audit records appended at a time: what the prune holds of them, however many it removed.
const AUDIT_CHUNK: usize = 1024;

/// What `backups prune` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct PruneRequest {
    /// Report only; change nothing.
    pub dry_run: bool,
    /// The command line, for the audit log.
    pub command: String,
    /// The time that `keep-within` measures from at most (a backup stamped later came from a
    /// wrong clock); `None`: now. Tests fix it.
    pub now: Option<SystemTime>,
}

/// Applies the retention policy of `ws` to its backups. `Outcome::files` counts the backups,
/// `Outcome::written` the ones removed.
///
/// The index is read a record at a time, over and over: to survey what the rules need of each
/// file, to weigh the kept objects, to report each decision (marking the dropped ones, one bit
/// each), to remove, and to audit the removed. Memory grows with the distinct files, the rules'
/// sizes and the kept objects, and by one bit per backup (see `store::retention`).
pub fn prune(ws: &Workspace, req: &PruneRequest, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let policy = ws.config.backups.policy();
    // A store that was never created has nothing to prune, and a dry run creates nothing.
    let Some(shared) = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)? else {
        sink.event(summary(
            &policy,
            0,
            0,
            &Removal::default(),
            0,
            false,
            req.dry_run,
        ));
        return Ok(Outcome::default());
    };
    let store = if req.dry_run {
        shared
    } else {
        drop(shared);
        Store::open(&ws.root, ws.store_options(req.command.clone()), sink)?
    };
    let index = store.backup_index()?;
    let now = req.now.unwrap_or_else(SystemTime::now);
    // Pass 1 numbers the files; passes 2 and 3 must meet the same records, in the same order.
    let mut files: HashMap<PathBuf, u32> = HashMap::new();
    let mut survey = retention::Survey::new(&policy, now);
    index.scan(|r| {
        let next = files.len() as u32;
        let file = match files.get(&r.path) {
            Some(&f) => f,
            None => *files.entry(r.path.clone()).or_insert(next),
        };
        survey.add(&compact(&index, &r, file)?);
        Ok::<_, StoreError>(())
    })?;
    let total = survey.count();
    let mut weighing = survey.finish();
    index.scan(|r| {
        if weighing.count() == total {
            return Err(index.changed());
        }
        weighing.add(&known(&index, &files, &r)?);
        Ok(())
    })?;
    if weighing.count() != total {
        return Err(index.changed().into());
    }
    let ruling = weighing.finish();
    // Pass 3: each decision as it is read, in index order; what stays of it is one bit.
    let mut dropped = Marks::new(total as usize);
    let mut k = 0u32;
    index.scan(|r| {
        if k == total {
            return Err(index.changed());
        }
        let b = known(&index, &files, &r)?;
        let verdict = ruling.verdict(k, &b);
        let shown = decision(r, verdict, &policy, b.time);
        sink.event(if verdict.keep() {
            Event::BackupKept(shown)
        } else {
            dropped.insert(k as usize);
            Event::BackupDropped(shown)
        });
        k += 1;
        Ok(())
    })?;
    if k != total {
        return Err(index.changed().into());
    }
    let (kept_bytes, over_cap) = (ruling.kept_bytes, ruling.over_cap);
    drop((ruling, files));
    let removal = if req.dry_run {
        store.plan_removal(&index, &dropped)?
    } else {
        // The records go first: a prune killed or failed after them has its records (the next
        // prune, deciding the same, removes what is left and records it again); one killed
        // before them changed nothing. A log that cannot take them stops the prune before
        // anything is removed: a removed backup is never unrecorded.
        if dropped.count() > 0 && store.audit_enabled() {
            audit_removed(&store, &index, &dropped, sink)?;
        }
        store.remove_backups(&index, &dropped)?
    };
    let dropped_count = dropped.count();
    let total = total as usize;
    sink.event(summary(
        &policy,
        total - dropped_count,
        dropped_count,
        &removal,
        kept_bytes,
        over_cap,
        req.dry_run,
    ));
    Ok(Outcome {
        files: total,
        written: if req.dry_run { 0 } else { removal.records },
        ..Outcome::default()
    })
}

/// A record as the planner sees it, of the file numbered `file`.
fn compact(index: &BackupIndex, r: &BackupRecord, file: u32) -> Result<Backup, StoreError> {
    let time = humantime::parse_rfc3339_weak(&r.time).map_err(|e| StoreError::Damaged {
        path: index.path().to_owned(),
        detail: format!("backup {}: time `{}`: {e}", r.id, r.time),
    })?;
    Ok(Backup {
        time,
        size: r.size,
        object: r.sha256,
        file,
    })
}

/// [`compact`] for a record of a file that pass 1 numbered.
fn known(
    index: &BackupIndex,
    files: &HashMap<PathBuf, u32>,
    r: &BackupRecord,
) -> Result<Backup, StoreError> {
    let &file = files.get(&r.path).ok_or_else(|| index.changed())?;
    compact(index, r, file)
}

/// One `prune` audit record per backup about to be removed, oldest first, read again from the old index
/// and appended a chunk at a time, under the lock the removal ran under.
fn audit_removed(
    store: &Store,
    index: &BackupIndex,
    dropped: &Marks,
    sink: &mut dyn Sink,
) -> Result<(), StoreError> {
    let mut chunk = Vec::with_capacity(AUDIT_CHUNK.min(dropped.count()));
    let mut warned = Vec::new();
    let mut flush = |chunk: &mut Vec<AuditEntry>| -> Result<(), StoreError> {
        for d in store.try_append_audit(chunk)? {
            // One notice of each kind, however many chunks met it.
            if !warned.contains(&d.message) {
                warned.push(d.message.clone());
                sink.event(Event::Diagnostic(d));
            }
        }
        chunk.clear();
        Ok(())
    };
    let mut k = 0;
    index.scan(|r| {
        if dropped.contains(k) {
            chunk.push(AuditEntry {
                op: "prune".into(),
                path: Some(r.path.to_string_lossy().replace('\\', "/")),
                before: Some(FileState {
                    sha256: r.sha256,
                    size: r.size,
                }),
                after: None,
                outcome: AuditOutcome::Ok,
            });
            if chunk.len() == AUDIT_CHUNK {
                flush(&mut chunk)?;
            }
        }
        k += 1;
        Ok::<_, StoreError>(())
    })?;
    flush(&mut chunk)
}

fn decision(
    r: BackupRecord,
    v: Verdict,
    policy: &retention::Policy,
    time: SystemTime,
) -> BackupDecision {
    BackupDecision {
        id: r.id,
        path: r.path,
        time: r.time,
        size: r.size,
        sha256: r.sha256,
        rules: v
            .reasons(policy, time)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

fn summary(
    policy: &retention::Policy,
    kept: usize,
    dropped: usize,
    removal: &Removal,
    kept_bytes: u64,
    over_cap: bool,
    dry_run: bool,
) -> Event {
    Event::BackupsPruned {
        policy: (!policy.is_empty()).then(|| policy.to_string()),
        kept,
        dropped,
        objects_removed: removal.objects,
        bytes_freed: removal.bytes,
        kept_bytes,
        over_cap,
        dry_run,
        unfinished: removal.unfinished.clone(),
    }
}

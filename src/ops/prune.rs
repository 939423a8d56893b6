//! `backups prune`: applies the `[backups]` retention policy (G3).
//!
//! Every backup is reported with the decision and the rules behind it, per file, newest first;
//! then, unless it is a dry run, the dropped backups leave the index and their objects are
//! removed (`Store::remove_backups`, crash-safe). With no policy configured everything is kept
//! — only what an interrupted earlier prune left unreferenced is removed.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::{Error, Outcome, Workspace};
use crate::event::{BackupDecision, Event, Sink};
use crate::store::retention::{self, Item};
use crate::store::{AuditEntry, AuditOutcome, BackupRecord, FileState, Removal, Store, StoreError};

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
    let records = store.backups()?;
    let items = records
        .iter()
        .map(|r| {
            Ok(Item {
                group: &r.path,
                time: humantime::parse_rfc3339_weak(&r.time).map_err(|e| StoreError::Damaged {
                    path: store.state_dir().join("backups.jsonl"),
                    detail: format!("backup {}: time `{}`: {e}", r.id, r.time),
                })?,
                size: r.size,
                object: r.sha256,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let plan = retention::apply(&policy, &items, req.now.unwrap_or_else(SystemTime::now));
    // Per file, newest first, as `backups list` shows them.
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| {
        (&records[a].path, items[b].time, b).cmp(&(&records[b].path, items[a].time, a))
    });
    let mut dropped = BTreeSet::new();
    for i in order {
        let d = &plan.decisions[i];
        let shown = decision(&records[i], d);
        if d.keep {
            sink.event(Event::BackupKept(shown));
        } else {
            dropped.insert(records[i].id.clone());
            sink.event(Event::BackupDropped(shown));
        }
    }
    let removal = if req.dry_run {
        store.plan_removal(&dropped)?
    } else {
        let removal = store.remove_backups(&dropped)?;
        // One `prune` record per removed backup, under the lock the removal ran under.
        let entries: Vec<AuditEntry> = removal
            .records
            .iter()
            .map(|r| AuditEntry {
                op: "prune".into(),
                path: Some(r.path.to_string_lossy().replace('\\', "/")),
                before: Some(FileState {
                    sha256: r.sha256,
                    size: r.size,
                }),
                after: None,
                outcome: AuditOutcome::Ok,
            })
            .collect();
        for d in store.append_audit(&entries) {
            sink.event(Event::Diagnostic(d));
        }
        removal
    };
    let kept = records.len() - dropped.len();
    sink.event(summary(
        &policy,
        kept,
        dropped.len(),
        &removal,
        plan.kept_bytes,
        plan.over_cap,
        req.dry_run,
    ));
    Ok(Outcome {
        files: records.len(),
        written: if req.dry_run {
            0
        } else {
            removal.records.len()
        },
        ..Outcome::default()
    })
}

fn decision(r: &BackupRecord, d: &retention::Decision) -> BackupDecision {
    BackupDecision {
        id: r.id.clone(),
        path: r.path.clone(),
        time: r.time.clone(),
        size: r.size,
        sha256: r.sha256,
        rules: d.reasons.iter().map(ToString::to_string).collect(),
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
        objects_removed: removal.objects.len(),
        bytes_freed: removal.bytes(),
        kept_bytes,
        over_cap,
        dry_run,
        unfinished: removal.unfinished.clone(),
    }
}

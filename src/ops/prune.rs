//! `backups prune`: applies the `[backups]` retention policy (G3).
//!
//! Every backup is reported with the decision and the rules behind it, per file, newest first;
//! then, unless it is a dry run, the dropped backups leave the index and their objects are
//! removed (`Store::remove_backups`, crash-safe). With no policy configured everything is kept
//! — only what an interrupted earlier prune left unreferenced is removed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use super::{Error, Outcome, Workspace};
use crate::event::{BackupDecision, Event, Sink};
use crate::store::retention::{self, Backup, Verdict};
use crate::store::{
    AuditEntry, AuditOutcome, BackupIndex, BackupRecord, FileState, Place, Removal, Store,
    StoreError,
};

/// Audit records appended at a time: what the prune holds of them, however many it removed.
const AUDIT_CHUNK: usize = 4096;

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
/// The index is read a record at a time, three times over (to decide; to report each decision,
/// reading each record again at its place; to remove), so that memory grows only by a compact
/// [`Backup`] and its place per backup, the distinct files and the kept objects.
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
    let Compact {
        backups,
        places,
        paths,
    } = read(&index)?;
    let verdicts = retention::decide(&policy, &backups, req.now.unwrap_or_else(SystemTime::now));
    let dropped: Vec<bool> = verdicts.verdicts.iter().map(|v| !v.keep()).collect();
    // Per file, newest first, as `backups list` shows them: the files are numbered in path
    // order, so this is the order of (file, time) with the later of equal times first.
    let mut order: Vec<u32> = (0..backups.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&backups[a as usize], &backups[b as usize]);
        x.file
            .cmp(&y.file)
            .then(y.time.cmp(&x.time))
            .then(b.cmp(&a))
    });
    for i in order {
        let i = i as usize;
        let record = index.read(places[i])?;
        let shown = decision(record, verdicts.verdicts[i], &policy, backups[i].time);
        sink.event(if dropped[i] {
            Event::BackupDropped(shown)
        } else {
            Event::BackupKept(shown)
        });
    }
    drop(places);
    let total = backups.len();
    let removal = if req.dry_run {
        drop((backups, paths));
        store.plan_removal(&index, &dropped)?
    } else {
        let removal = store.remove_backups(&index, &dropped)?;
        audit_removed(&store, &backups, &paths, &dropped, sink);
        removal
    };
    let dropped_count = dropped.iter().filter(|&&d| d).count();
    sink.event(summary(
        &policy,
        total - dropped_count,
        dropped_count,
        &removal,
        verdicts.kept_bytes,
        verdicts.over_cap,
        req.dry_run,
    ));
    Ok(Outcome {
        files: total,
        written: if req.dry_run { 0 } else { removal.records },
        ..Outcome::default()
    })
}

/// What a prune holds of the index: per backup a few dozen bytes, per file its path.
struct Compact {
    /// Every backup as the planner sees it, in index order.
    backups: Vec<Backup>,
    /// Where each is in the index, to read it again.
    places: Vec<Place>,
    /// The files, in path order: [`Backup::file`] indexes this.
    paths: Vec<PathBuf>,
}

/// Reads the index a record at a time into its [`Compact`] form.
fn read(index: &BackupIndex) -> Result<Compact, StoreError> {
    let mut files: HashMap<PathBuf, u32> = HashMap::new();
    let (mut backups, mut places) = (Vec::new(), Vec::new());
    index.scan(|place, r: BackupRecord| {
        let time = humantime::parse_rfc3339_weak(&r.time).map_err(|e| StoreError::Damaged {
            path: index.path().to_owned(),
            detail: format!("backup {}: time `{}`: {e}", r.id, r.time),
        })?;
        let next = files.len() as u32;
        let file = *files.entry(r.path).or_insert(next);
        backups.push(Backup {
            time,
            size: r.size,
            object: r.sha256,
            file,
        });
        places.push(place);
        Ok::<_, StoreError>(())
    })?;
    // Renumber the files in path order.
    let mut paths: Vec<(PathBuf, u32)> = files.into_iter().collect();
    paths.sort_unstable();
    let mut rank = vec![0u32; paths.len()];
    for (r, (_, old)) in paths.iter().enumerate() {
        rank[*old as usize] = r as u32;
    }
    for b in &mut backups {
        b.file = rank[b.file as usize];
    }
    Ok(Compact {
        backups,
        places,
        paths: paths.into_iter().map(|(p, _)| p).collect(),
    })
}

/// One `prune` audit record per removed backup, oldest first, made from what the planner
/// holds and appended a chunk at a time, under the lock the removal ran under.
fn audit_removed(
    store: &Store,
    backups: &[Backup],
    paths: &[PathBuf],
    dropped: &[bool],
    sink: &mut dyn Sink,
) {
    let mut chunk = Vec::with_capacity(AUDIT_CHUNK.min(dropped.len()));
    let mut warned = Vec::new();
    let mut flush = |chunk: &mut Vec<AuditEntry>| {
        for d in store.append_audit(chunk) {
            // One warning of each kind, however many chunks met it.
            if !warned.contains(&d.message) {
                warned.push(d.message.clone());
                sink.event(Event::Diagnostic(d));
            }
        }
        chunk.clear();
    };
    for (b, _) in backups.iter().zip(dropped).filter(|(_, d)| **d) {
        chunk.push(AuditEntry {
            op: "prune".into(),
            path: Some(paths[b.file as usize].to_string_lossy().replace('\\', "/")),
            before: Some(FileState {
                sha256: b.object,
                size: b.size,
            }),
            after: None,
            outcome: AuditOutcome::Ok,
        });
        if chunk.len() == AUDIT_CHUNK {
            flush(&mut chunk);
        }
    }
    flush(&mut chunk);
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
        objects_removed: removal.objects.len(),
        bytes_freed: removal.bytes(),
        kept_bytes,
        over_cap,
        dry_run,
        unfinished: removal.unfinished.clone(),
    }
}

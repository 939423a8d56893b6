//! `write FILE`: replace one file with given bytes, as a transaction with a backup.

use std::path::PathBuf;

use super::{Error, Outcome, Workspace};
use crate::event::{Event, Sink};
use crate::store::{self, Committed, LinkPolicy, Store};

/// What to write where.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// Its new bytes.
    pub bytes: Vec<u8>,
    /// Replace a file that has other hard links.
    pub allow_hardlinks: bool,
    /// The command line, recorded with the backup.
    pub command: String,
}

/// Replaces `req.path` with `req.bytes` atomically; the old bytes become a backup. Writing the
/// bytes a file already has touches nothing (its mtime stays).
pub fn write(ws: &Workspace, req: WriteRequest, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let mut options = ws.store_options(req.command);
    options.links = LinkPolicy {
        allow_hardlinks: req.allow_hardlinks,
    };
    // Refuse a path that can never be written before the store (and its state directory) is
    // created. Hard links are checked under the lock only: while another writer's transaction
    // runs, its backup is a second link to the file, so a check here would see a transient state.
    store::check_target(&ws.root, &ws.config.settings.state_dir, &req.path)?;
    let store = Store::open(&ws.root, options, sink)?;
    let mut tx = store.transaction("write");
    tx.write(&req.path, req.bytes)?;
    let committed = tx.commit()?;
    drop(store);
    Ok(report(committed, sink))
}

/// Reports each file of a committed transaction as an event, after any warning about the
/// audit log (which never fails a committed change).
pub(crate) fn report(committed: Committed, sink: &mut dyn Sink) -> Outcome {
    let mut outcome = Outcome {
        files: committed.files.len(),
        warnings: committed.audit.len(),
        ..Outcome::default()
    };
    for d in committed.audit {
        sink.event(Event::Diagnostic(d));
    }
    for f in committed.files {
        match f.after {
            Some(after) if f.unchanged() => sink.event(Event::FileUnchanged {
                path: f.path,
                sha256: after.sha256,
            }),
            Some(after) => {
                outcome.written += 1;
                sink.event(Event::FileWritten {
                    path: f.path,
                    sha256: after.sha256,
                    bytes: after.size,
                    backup: f.backup,
                });
            }
            None => {
                outcome.written += 1;
                sink.event(Event::FileDeleted {
                    path: f.path,
                    backup: f.backup,
                });
            }
        }
    }
    outcome
}

//! `backups list` and `backups restore`.

use std::path::Path;

use super::{Error, Outcome, Workspace, write};
use crate::event::Sink;
use crate::store::{BackupRecord, Store, WriteAs};

/// Every backup (of `path` only, when given), newest first.
pub fn list_backups(
    ws: &Workspace,
    path: Option<&Path>,
    sink: &mut dyn Sink,
) -> Result<Vec<BackupRecord>, Error> {
    let Some(store) = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)? else {
        return Ok(Vec::new());
    };
    let mut all = store.backups()?;
    if let Some(p) = path {
        all.retain(|r| r.path == p);
    }
    all.reverse();
    Ok(all)
}

/// Puts back a backup of `path`: the newest, or the one whose id starts with `id`. The object
/// is verified by hash first; the current bytes become a backup themselves.
pub fn restore(
    ws: &Workspace,
    path: &Path,
    id: Option<&str>,
    command: String,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let store = Store::open(&ws.root, ws.store_options(command), sink)?;
    let mut candidates: Vec<BackupRecord> = store
        .backups()?
        .into_iter()
        .filter(|r| r.path == path)
        .collect();
    if let Some(id) = id {
        candidates.retain(|r| {
            r.id.starts_with(id)
                || r.sha256
                    .to_string()
                    .starts_with(id.trim_start_matches("sha256:"))
        });
        if candidates.len() > 1 && candidates.iter().any(|r| r.id != candidates[0].id) {
            let ids: Vec<_> = candidates.iter().map(|r| r.id.as_str()).collect();
            return Err(Error::Usage(format!(
                "backup id `{id}` is ambiguous: {}",
                ids.join(", ")
            )));
        }
    }
    let Some(record) = candidates.pop() else {
        return Err(Error::Usage(match id {
            Some(id) => format!("no backup of `{}` has id `{id}`", path.display()),
            None => format!("no backup of `{}` exists", path.display()),
        }));
    };
    let bytes = store.read_backup(&record)?;
    let mut tx = store.transaction("restore");
    // Restoring a file does not make it cargo atomic's: one the manifest does not record (a
    // source edited with `set`) stays the user's.
    tx.write_with(
        &record.path,
        bytes,
        WriteAs {
            mode: Some(record.mode),
            unmanaged: true,
            ..WriteAs::default()
        },
    )?;
    let committed = tx.commit()?;
    drop(store);
    Ok(write::report(committed, sink))
}

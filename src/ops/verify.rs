//! `verify [PATHS]`: compare files with the SHA-256 the manifest recorded for them; `--accept`
//! takes the present bytes of hand-edited managed files as recorded.

use std::fs;
use std::path::PathBuf;

use super::{Error, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic};
use crate::event::{Event, Progress, Sink};
use crate::store::{self, Store};

/// Checks every managed file (or only `paths`, relative to the root) against the manifest.
/// A mismatch, a missing file, or a named path the store does not manage is an `integrity`
/// finding.
pub fn verify(ws: &Workspace, paths: &[PathBuf], sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let mut outcome = Outcome::default();
    let store = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)?;
    let manifest = match &store {
        Some(s) => s.manifest()?,
        None => Default::default(),
    };
    let wanted: Vec<(String, Option<_>)> = if paths.is_empty() {
        manifest
            .files
            .iter()
            .map(|(p, s)| (p.clone(), Some(*s)))
            .collect()
    } else {
        paths
            .iter()
            .map(|p| {
                let key = p.to_string_lossy().into_owned();
                let state = manifest.files.get(&key).copied();
                (key, state)
            })
            .collect()
    };
    // Named, neither on disk nor in the manifest: a typo, not a finding.
    if let Some((path, _)) = wanted
        .iter()
        .find(|(p, r)| r.is_none() && fs::symlink_metadata(ws.root.join(p)).is_err())
    {
        return Err(Error::Usage(format!("`{path}` does not exist")));
    }
    let mut progress = Progress::new("verifying files", wanted.len() as u64);
    for (path, recorded) in wanted {
        progress.tick(sink);
        outcome.files += 1;
        let Some(recorded) = recorded else {
            outcome.errors += 1;
            sink.event(Event::Diagnostic(
                Diagnostic::error(
                    Code::Integrity,
                    &path,
                    "no checksum is recorded for this file",
                )
                .with_note("only files written by cargo atomic are recorded"),
            ));
            continue;
        };
        let now = match &store {
            Some(s) => s.hash(path.as_ref())?,
            None => None,
        };
        match now {
            Some(now) if now == recorded => sink.event(Event::Verified {
                path: PathBuf::from(&path),
                sha256: now.sha256,
            }),
            Some(now) => {
                outcome.errors += 1;
                sink.event(Event::Diagnostic(
                    Diagnostic::error(
                        Code::Integrity,
                        &path,
                        "file does not match its recorded sha256",
                    )
                    .with_note(format!(
                        "recorded {} ({} bytes)",
                        recorded.sha256, recorded.size
                    ))
                    .with_note(format!("found    {} ({} bytes)", now.sha256, now.size)),
                ));
            }
            None => {
                outcome.errors += 1;
                sink.event(Event::Diagnostic(
                    Diagnostic::error(Code::Integrity, &path, "managed file is missing").with_note(
                        format!("recorded {} ({} bytes)", recorded.sha256, recorded.size),
                    ),
                ));
            }
        }
    }
    Ok(outcome)
}

/// `verify --accept PATHS`: takes the present bytes of managed files (edited by hand) as what
/// cargo atomic recorded for them, so that `check` and `verify` pass again. One transaction,
/// audited as `accept` (recorded state → present bytes); the files themselves are not touched.
/// A path the store does not manage, or that does not exist, is refused (exit 2).
pub fn accept(
    ws: &Workspace,
    paths: &[PathBuf],
    command: String,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    if paths.is_empty() {
        return Err(Error::Usage(
            "--accept needs the paths whose present bytes to accept".to_owned(),
        ));
    }
    for p in paths {
        store::check_target(&ws.root, &ws.config.settings.state_dir, p)?;
    }
    let store = Store::open(&ws.root, ws.store_options(command), sink)?;
    let manifest = store.manifest()?;
    let mut tx = store.transaction(store::ACCEPT);
    for p in paths {
        let key = p.to_string_lossy();
        if !manifest.files.contains_key(key.as_ref()) {
            return Err(Error::Usage(format!(
                "`{key}` is not a file cargo atomic manages: there is nothing to accept"
            )));
        }
        // Read under the exclusive lock: no other writer changes it meanwhile.
        let abs = ws.root.join(p);
        if fs::symlink_metadata(&abs).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Err(Error::Usage(format!(
                "`{key}` does not exist: there are no present bytes to accept (`cargo atomic \
                 backups restore {key}` puts the last written ones back)"
            )));
        }
        let bytes = fs::read(&abs).map_err(|e| Error::io("read", &abs, e))?;
        tx.write(p, bytes)?;
    }
    let committed = tx.commit()?;
    drop(store);
    Ok(super::write::report(committed, sink))
}

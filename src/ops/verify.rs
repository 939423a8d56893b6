//! `verify [PATHS]`: compare files with the SHA-256 the manifest recorded for them.

use std::path::PathBuf;

use super::{Error, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic};
use crate::event::{Event, Progress, Sink};
use crate::store::Store;

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

//! `write FILE`: replace one file with given bytes, as a transaction with a backup, once the
//! bytes pass the schema `validate` would use for the file (a finding, located in the input's
//! text, writes nothing). The file becomes managed: the manifest records it.

use std::path::PathBuf;

use super::place::{problem_diagnostic, schema_diagnostic};
use super::schemas::SchemaCache;
use super::validate::{configured_schema, in_file_schema};
use super::{Error, Outcome, Workspace};
use crate::diagnostic::Diagnostic;
use crate::doc::{self, Format, Limits};
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
    /// Validate against this schema (absolute, or relative to the root) instead of the one
    /// `validate` would choose for the file.
    pub schema: Option<PathBuf>,
}

/// Replaces `req.path` with `req.bytes` atomically; the old bytes become a backup. Writing the
/// bytes a file already has touches nothing (its mtime stays).
pub fn write(ws: &Workspace, req: WriteRequest, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let mut options = ws.store_options(req.command.clone());
    options.links = LinkPolicy {
        allow_hardlinks: req.allow_hardlinks,
    };
    // Refuse a path that can never be written before the store (and its state directory) is
    // created. Hard links are checked under the lock only: while another writer's transaction
    // runs, its backup is a second link to the file, so a check here would see a transient state.
    store::check_target(&ws.root, &ws.config.settings.state_dir, &req.path)?;
    // Data the file's schema refuses is a finding in the standard input's text; nothing is
    // written, and the store is not even opened.
    let (found, fatal) = validate_input(ws, &req)?;
    if !found.is_empty() {
        let mut outcome = Outcome {
            files: 1,
            ..Outcome::default()
        };
        for d in found {
            if fatal {
                outcome.fatal += 1;
            } else {
                outcome.errors += 1;
            }
            sink.event(Event::Diagnostic(d));
        }
        return Ok(outcome);
    }
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

/// The findings of `req.bytes` under the schema that applies to `req.path` (`--schema` >
/// `[[validate]]` > the data's own `$schema`/`#:schema`); `true` with them when the schema
/// itself cannot be used. A file of no known format, or with no schema, is not checked.
fn validate_input(ws: &Workspace, req: &WriteRequest) -> Result<(Vec<Diagnostic>, bool), Error> {
    let Some(format) = Format::from_path(&req.path) else {
        return Ok((Vec::new(), false));
    };
    let abs = ws.root.join(&req.path);
    let flag = req.schema.as_ref().map(|s| ws.root.join(s));
    let limits = Limits::default();
    let parsed = doc::parse(format, &req.bytes, &limits);
    let schema_path = match &flag {
        Some(s) => Some(s.clone()),
        None => match configured_schema(ws, &req.path)? {
            Some(s) => Some(s),
            None => {
                let docs = parsed.as_ref().ok();
                let named = docs
                    .and_then(|d| d.first())
                    .and_then(|d| d.get("$schema")?.as_str());
                in_file_schema(format, &req.bytes, named, &abs)
            }
        },
    };
    let Some(schema_path) = schema_path else {
        return Ok((Vec::new(), false));
    };
    let text = String::from_utf8_lossy(&req.bytes);
    let shown = PathBuf::from("<stdin>");
    let note = format!(
        "in the standard input, for `{}`; the file was not changed",
        req.path.display()
    );
    let docs = match parsed {
        Ok(docs) => docs,
        Err(p) => {
            let d = problem_diagnostic(&shown, &text, &p).with_note(note);
            return Ok((vec![d], false));
        }
    };
    let cache = SchemaCache::new(ws, true, flag.as_deref());
    let schema = match cache.get(&schema_path) {
        Ok(s) => s,
        Err(d) => return Ok((vec![*d], true)),
    };
    if docs.iter().all(|v| schema.is_valid(v)) {
        return Ok((Vec::new(), false));
    }
    let indexes = doc::index(format, &text);
    let mut found = Vec::new();
    for (n, v) in docs.iter().enumerate() {
        for err in schema.validate(v) {
            let mut d = schema_diagnostic(&shown, &text, indexes.get(n), &err);
            if docs.len() > 1 {
                d.document = Some(n);
            }
            found.push(d.with_note(note.clone()));
        }
    }
    Ok((found, false))
}

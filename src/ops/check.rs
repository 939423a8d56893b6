//! `check`: everything CI and a pre-commit hook want to know, read-only, under a shared lock.
//!
//! 1. every file the `[[validate]]` entries name is valid;
//! 2. every `[[merge]]` output is what `apply` would write now (else `stale`, with the diff);
//! 3. every managed file matches the manifest (else `drift`: edited by hand since written);
//! 4. the audit log's hash chain and head are whole (else `audit`).
//!
//! Given files (a pre-commit hook's), only what concerns them is checked.
//!
//! Invariant: nothing here writes, except that opening the store finishes an interrupted
//! transaction first, as every command does.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::apply::{current, has_invalid_source, select, unified_diff};
use super::render::Findings;
use super::{Error, Outcome, ValidateRequest, Workspace, validate};
use crate::diagnostic::{Code, Diagnostic};
use crate::event::{Event, Progress, Sink};
use crate::store::{Store, VerifyOptions};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// Only these files (relative to the current directory): a hook's staged files. They are
    /// parsed, validated when a schema applies, and the `[[merge]]` entries they are a source,
    /// schema or output of are checked. Empty: everything.
    pub files: Vec<PathBuf>,
}

/// Runs every check; findings are events, counted in the outcome.
pub fn check(
    ws: &Workspace,
    cwd: &Path,
    req: &CheckRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let files: HashSet<PathBuf> = req
        .files
        .iter()
        .map(|f| ws.relative(cwd, f))
        .collect::<Result<_, _>>()?;
    // Held to the end: no writer changes outputs or the manifest while we compare them.
    let store = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)?;
    let mut invalid = Invalid {
        sink,
        files: HashSet::new(),
    };
    let mut outcome = validate(
        ws,
        cwd,
        &ValidateRequest {
            paths: req.files.clone(),
            format_checks: true,
            quiet_without_schema: !files.is_empty(),
            ..ValidateRequest::default()
        },
        &mut invalid,
    )?;
    let invalid_files = invalid.files;
    let mut entries = select(ws, &[])?;
    if !files.is_empty() {
        entries.retain(|e| super::apply::touches(e, &files));
    }
    let mut merged = Outcome {
        files: entries.len(),
        ..Outcome::default()
    };
    let mut found = Findings {
        sink,
        outcome: &mut merged,
    };
    // An entry with findings is reported by the render; the others are compared with the disk.
    let cache = super::schemas::SchemaCache::new(ws, true, None);
    for e in &entries {
        // Its sources' errors are reported above; a render would report them again.
        if has_invalid_source(ws, e, &invalid_files) {
            continue;
        }
        let plan = super::render::Plan::of_entry(ws, e);
        let Some(r) = super::render::render(ws, &cache, &plan, &mut found)? else {
            continue;
        };
        let old = current(&ws.root.join(&e.output))?;
        let old = old.as_deref().map(String::from_utf8_lossy);
        match old.as_deref() {
            Some(o) if o == r.text => {}
            Some(o) => found.error(
                Diagnostic::error(
                    Code::Stale,
                    &e.output,
                    "output is out of date with its sources",
                )
                .with_note(format!(
                    "`cargo atomic apply {}` would write the difference below",
                    e.name
                ))
                .with_diff(unified_diff(&e.output, Some(o), &r.text)),
            ),
            None => found.error(
                Diagnostic::error(Code::Stale, &e.output, "output does not exist")
                    .with_note(format!("`cargo atomic apply {}` would create it", e.name)),
            ),
        }
    }
    outcome.add(merged);
    if let Some(store) = &store {
        outcome.add(drift(store, &files, sink)?);
        // The whole chain, once per run; a hook's run over some files leaves it to CI.
        if files.is_empty() && ws.config.audit.enabled {
            outcome.add(audit_chain(store, sink)?);
        }
    }
    Ok(outcome)
}

/// Passes events on, noting the files with errors.
struct Invalid<'a> {
    sink: &'a mut dyn Sink,
    files: HashSet<PathBuf>,
}

impl Sink for Invalid<'_> {
    fn event(&mut self, event: Event) {
        if let Event::Diagnostic(d) = &event
            && d.severity == crate::diagnostic::Severity::Error
        {
            self.files.insert(d.file.clone());
        }
        self.sink.event(event);
    }
}

/// The audit log's chain and head, as `audit verify` checks them.
fn audit_chain(store: &Store, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let report = store.verify_audit(&VerifyOptions::default(), &mut |_, _| {})?;
    let mut outcome = Outcome::default();
    for f in &report.findings {
        let d = super::audit::finding(store, f);
        match d.severity {
            crate::diagnostic::Severity::Error => outcome.errors += 1,
            crate::diagnostic::Severity::Warning => outcome.warnings += 1,
        }
        sink.event(Event::Diagnostic(d));
    }
    Ok(outcome)
}

/// Every managed file against the manifest.
fn drift(store: &Store, only: &HashSet<PathBuf>, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let mut manifest = store.manifest()?;
    if !only.is_empty() {
        manifest.files.retain(|p, _| only.contains(Path::new(p)));
    }
    let mut outcome = Outcome {
        files: manifest.files.len(),
        ..Outcome::default()
    };
    let mut progress = Progress::new("verifying files", manifest.files.len() as u64);
    for (path, recorded) in &manifest.files {
        progress.tick(sink);
        let now = store.hash(path.as_ref())?;
        let d = match now {
            Some(now) if now == *recorded => {
                sink.event(Event::Verified {
                    path: path.into(),
                    sha256: now.sha256,
                });
                continue;
            }
            Some(now) => Diagnostic::error(
                Code::Drift,
                path,
                "file was changed since cargo atomic wrote it",
            )
            .with_note(format!(
                "recorded {} ({} bytes)",
                recorded.sha256, recorded.size
            ))
            .with_note(format!("found    {} ({} bytes)", now.sha256, now.size)),
            None => Diagnostic::error(Code::Drift, path, "managed file is missing").with_note(
                format!("recorded {} ({} bytes)", recorded.sha256, recorded.size),
            ),
        };
        outcome.errors += 1;
        sink.event(Event::Diagnostic(d));
    }
    Ok(outcome)
}

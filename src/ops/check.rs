//! `check`: everything CI and a pre-commit hook want to know, read-only, under a shared lock.
//!
//! 1. every file the `[[validate]]` entries name is valid;
//! 2. every `[[merge]]` output is what `apply` would write now (else `stale`, with the diff);
//! 3. every managed file matches the manifest (else `drift`: edited by hand since written);
//! 4. the audit log's hash chain and head are whole (else `audit`).
//!
//! Given files (a pre-commit hook's), only what concerns them is checked. With `staged`, the
//! files are what git's index holds (every staged file, or those given), read from the index:
//! what a commit would contain, whatever the working tree says.
//!
//! Invariant: nothing here writes, except that opening the store finishes an interrupted
//! transaction first, as every command does.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::apply::{has_invalid_source, select, unified_diff};
use super::render::Findings;
use super::staged::{Overlay, Staged};
use super::validate::validate_through;
use super::{Error, Outcome, ValidateRequest, Workspace};
use crate::diagnostic::{Code, Diagnostic};
use crate::event::{Event, Progress, Sink};
use crate::store::{Damage, FileState, Sha256Digest, Store, VerifyOptions};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// Only these files (relative to the current directory): a hook's staged files. They are
    /// parsed, validated when a schema applies, and the `[[merge]]` entries they are a source,
    /// schema or output of are checked. Empty: everything (with `staged`: every staged file).
    pub files: Vec<PathBuf>,
    /// Judge what git's index holds, not the working tree: what a commit would contain.
    pub staged: bool,
}

/// The file kinds a hook looks at among the staged files.
const HOOK_EXTENSIONS: &[&str] = &["json", "yaml", "yml", "toml"];

/// Runs every check; findings are events, counted in the outcome.
pub fn check(
    ws: &Workspace,
    cwd: &Path,
    req: &CheckRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let mut files: HashSet<PathBuf> = req
        .files
        .iter()
        .map(|f| ws.relative(cwd, f))
        .collect::<Result<_, _>>()?;
    // Relative to the root, as the files are (`cwd` itself for the working tree).
    let mut paths = req.files.clone();
    let mut base = cwd.to_owned();
    let mut overlay = Overlay::default();
    let mut deleted = HashSet::new();
    let mut entries = select(ws, &[])?;
    if req.staged {
        let staged = Staged::read(ws)?;
        if files.is_empty() {
            files = staged
                .changed
                .iter()
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| HOOK_EXTENSIONS.iter().any(|x| e == *x))
                })
                .cloned()
                .collect();
        } else if let Some(f) = files.iter().find(|f| !staged.holds(f)) {
            return Err(Error::Usage(format!(
                "`{}` is not in the git index: nothing of it would be committed",
                f.display()
            )));
        }
        deleted = staged.deleted.iter().cloned().collect();
        let concerned: HashSet<PathBuf> = files.union(&deleted).cloned().collect();
        entries.retain(|e| super::apply::touches(e, &concerned));
        // Everything these entries read is judged as the commit holds it; an output the
        // index does not hold (ignored, say) is not committed, so it is compared on disk.
        let mut wanted: BTreeSet<PathBuf> = concerned.iter().cloned().collect();
        // The schemas the configuration names, as the commit holds them.
        let schemas = ws.config.validate.iter().map(|v| &v.schema);
        let schemas = schemas.chain(ws.config.merge.iter().filter_map(|m| m.schema.as_ref()));
        wanted.extend(schemas.filter(|s| staged.holds(s)).cloned());
        for e in &entries {
            wanted.extend(e.sources.iter().cloned());
            if staged.holds(&e.output) {
                wanted.insert(e.output.clone());
            }
        }
        overlay = staged.overlay(ws, &wanted)?;
        let mut sorted: Vec<PathBuf> = files.iter().cloned().collect();
        sorted.sort();
        paths = sorted;
        base = ws.root.clone();
        if files.is_empty() && deleted.is_empty() {
            // Nothing staged that cargo atomic reads: nothing to judge.
            return Ok(Outcome::default());
        }
    } else if !files.is_empty() {
        entries.retain(|e| super::apply::touches(e, &files));
    }
    let overlay = Arc::new(overlay);
    // A finding in a file whose staged text is not the working tree's says so: the file a
    // person opens may not show it.
    let mut noted = StagedNote {
        sink,
        root: &ws.root,
        overlay: &overlay,
        staged: req.staged,
    };
    let sink: &mut dyn Sink = &mut noted;
    // Held to the end: no writer changes outputs or the manifest while we compare them.
    let store = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)?;
    let mut invalid = Invalid {
        sink,
        files: HashSet::new(),
    };
    let mut outcome = if req.staged && paths.is_empty() {
        // Only deletions: there is no staged file to validate.
        Outcome::default()
    } else {
        validate_through(
            ws,
            &base,
            &ValidateRequest {
                paths,
                format_checks: true,
                quiet_without_schema: !files.is_empty(),
                ..ValidateRequest::default()
            },
            &overlay,
            &mut invalid,
        )?
    };
    let invalid_files = invalid.files;
    let mut merged = Outcome {
        files: entries.len(),
        ..Outcome::default()
    };
    let mut found = Findings {
        sink,
        outcome: &mut merged,
    };
    // An entry with findings is reported by the render; the others are compared with the disk.
    let cache = super::schemas::SchemaCache::through(ws, true, None, overlay.clone());
    for e in &entries {
        // Its sources' errors are reported above; a render would report them again.
        if has_invalid_source(ws, e, &invalid_files) {
            continue;
        }
        let plan = super::render::Plan::of_entry(ws, e).with_overlay(overlay.clone());
        let Some(r) = super::render::render(ws, &cache, &plan, &mut found)? else {
            continue;
        };
        let abs = ws.root.join(&e.output);
        let old = overlay
            .read_optional(&abs)
            .map_err(|err| Error::io("read", &abs, err))?;
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
        let only: HashSet<PathBuf> = files.union(&deleted).cloned().collect();
        // The whole index is scanned once per whole check; a hook's run over some files
        // checks the manifest only, and leaves the index to CI, as it does the audit chain.
        let whole = only.is_empty() && !req.staged;
        let damage = if whole {
            store.damage()?
        } else {
            store.manifest_damage()?.into_iter().collect()
        };
        let (damage, manifest_sound) = state_damage(store, damage, sink);
        outcome.add(damage);
        if manifest_sound {
            outcome.add(drift(store, &only, &overlay, sink)?);
        }
        // The whole chain, once per run; a hook's run over some files leaves it to CI.
        if only.is_empty() && !req.staged && ws.config.audit.enabled {
            outcome.add(audit_chain(store, sink)?);
        }
    }
    if outcome.files == 0 && files.is_empty() && !req.staged && ws.config.validate.is_empty() {
        outcome.warnings += 1;
        sink.event(Event::Diagnostic(super::validate::nothing_to_do(
            ws,
            "nothing to check: no [[validate]] or [[merge]] entry, and no file cargo atomic wrote",
        )));
    }
    Ok(outcome)
}

/// Passes events on, adding to a finding in a staged file that differs from the working tree
/// a note that it is about the staged text.
struct StagedNote<'a> {
    sink: &'a mut dyn Sink,
    root: &'a Path,
    overlay: &'a Overlay,
    staged: bool,
}

impl Sink for StagedNote<'_> {
    fn event(&mut self, mut event: Event) {
        if let Event::Diagnostic(d) = &mut event
            && self.staged
        {
            let abs = self.root.join(&d.file);
            if self.overlay.covers(&abs)
                && self.overlay.read_optional(&abs).ok() != Some(std::fs::read(&abs).ok())
            {
                d.notes.push(
                    "in the staged text (git's index), which differs from the working tree"
                        .to_owned(),
                );
            }
        }
        self.sink.event(event);
    }
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

/// Reports `damage` of the state directory (a backup index line, the manifest), each an `integrity`
/// error at its place, and whether the manifest could be read.
pub(crate) fn state_damage(
    store: &Store,
    damage: Vec<Damage>,
    sink: &mut dyn Sink,
) -> (Outcome, bool) {
    let mut outcome = Outcome::default();
    let mut manifest_sound = true;
    for d in damage {
        outcome.errors += 1;
        manifest_sound &= d.file != store.state_file("manifest.json");
        let mut diag = Diagnostic::error(Code::Integrity, &d.file, d.detail).with_note(
            "`cargo atomic recover --repair` sets it aside, never deleting it, and rebuilds what it can",
        );
        diag.line = d.line.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
        sink.event(Event::Diagnostic(diag));
    }
    (outcome, manifest_sound)
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
fn drift(
    store: &Store,
    only: &HashSet<PathBuf>,
    overlay: &Overlay,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
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
        let abs = store.root().join(path);
        let now = if overlay.covers(&abs) {
            let bytes = overlay
                .read_optional(&abs)
                .map_err(|e| Error::io("read", &abs, e))?;
            bytes.map(|b| FileState {
                sha256: Sha256Digest::of(&b),
                size: b.len() as u64,
            })
        } else {
            store.hash(path.as_ref())?
        };
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

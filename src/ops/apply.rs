//! `apply [NAMES]... [--dry-run]`: render every `[[merge]]` output and write the changed ones as
//! one transaction.
//!
//! Nothing is written unless every selected output renders and validates: one finding anywhere
//! and the disk is left as it was (exit 1). Outputs whose bytes are already right are not
//! touched (their mtime stays). The manifest records, for each output, the digests of its
//! sources and schema. Rendering happens before the lock (so a refused run creates no state);
//! under the lock the sources are hashed again, and rendered again if another process changed
//! them meanwhile, so what is written always matches the sources at commit time.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use super::render::{self, Findings, Plan, Rendered};
use super::schemas::SchemaCache;
use super::{Error, MergeEntry, Outcome, Workspace, write};
use crate::event::{Event, Sink};
use crate::store::{self, Sha256Digest, Store, WriteAs};

/// Which outputs to render, and whether to write them.
#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    /// `[[merge]]` names; empty: all of them.
    pub names: Vec<String>,
    /// Also the entries these files (relative to the current directory) are a source, schema
    /// or output of (`apply config/base.yaml`, a pre-commit hook's staged files); with no
    /// names, only those.
    pub files: Vec<PathBuf>,
    /// Print a unified diff per output instead of writing.
    pub dry_run: bool,
    /// The command line, recorded with backups.
    pub command: String,
}

/// Splits `apply`'s arguments into `[[merge]]` names and files (whose entries are re-rendered,
/// as `check FILES` checks them): a name the configuration has is a name; an argument that
/// exists as a path, or looks like one (a `/`, or a known extension), is a file; the rest are
/// names, so an unknown one is reported as such.
pub fn split_targets(ws: &Workspace, cwd: &Path, args: &[String]) -> (Vec<String>, Vec<PathBuf>) {
    let mut names = Vec::new();
    let mut files = Vec::new();
    for a in args {
        let path = Path::new(a);
        let looks_like_path = a.contains('/') || crate::doc::Format::from_path(path).is_some();
        if ws.config.merge.iter().any(|e| &e.name == a) {
            names.push(a.clone());
        } else if looks_like_path || cwd.join(path).exists() {
            files.push(path.to_owned());
        } else {
            names.push(a.clone());
        }
    }
    (names, files)
}

/// The `[[merge]]` entries `names` selects (all for none); an unknown name is a usage error.
pub(crate) fn select<'w>(
    ws: &'w Workspace,
    names: &[String],
) -> Result<Vec<&'w MergeEntry>, Error> {
    let all = &ws.config.merge;
    if names.is_empty() {
        return Ok(all.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|e| &e.name == n).ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
                Error::Usage(if known.is_empty() {
                    format!("no [[merge]] entry is named `{n}`: the configuration has none")
                } else {
                    format!(
                        "no [[merge]] entry is named `{n}` (known: {})",
                        known.join(", ")
                    )
                })
            })
        })
        .collect()
}

/// [`render_all`] with an outcome that counts the entries and the findings.
fn render_counted(
    ws: &Workspace,
    entries: &[&MergeEntry],
    sink: &mut dyn Sink,
) -> Result<(Outcome, Option<Vec<Rendered>>), Error> {
    let mut outcome = Outcome {
        files: entries.len(),
        ..Outcome::default()
    };
    let mut found = Findings {
        sink,
        outcome: &mut outcome,
    };
    let rendered = render_all(ws, entries, &mut found)?;
    Ok((outcome, rendered))
}

/// Renders every entry; `None` if any has a finding (all are reported).
pub(crate) fn render_all(
    ws: &Workspace,
    entries: &[&MergeEntry],
    found: &mut Findings<'_>,
) -> Result<Option<Vec<Rendered>>, Error> {
    let cache = SchemaCache::new(ws, true, None);
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for entry in entries {
        match render::render(ws, &cache, &Plan::of_entry(ws, entry), found)? {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    Ok(ok.then_some(out))
}

/// Rendered outputs: each one's path (relative to the root, as configured) and bytes.
pub type Outputs = Vec<(PathBuf, String)>;

/// Renders every `[[merge]]` entry for a caller that writes elsewhere (a build script): each
/// output's path (as configured) and bytes, or `None` when anything was found (reported to
/// `sink`, counted in the outcome). Entries with a source in `invalid` (files already reported
/// as invalid) are skipped: their errors would only be reported twice.
pub fn render_merges(
    ws: &Workspace,
    invalid: &HashSet<PathBuf>,
    sink: &mut dyn Sink,
) -> Result<(Outcome, Option<Outputs>), Error> {
    let mut entries = select(ws, &[])?;
    entries.retain(|e| !has_invalid_source(ws, e, invalid));
    let (outcome, rendered) = render_counted(ws, &entries, sink)?;
    let rendered = rendered.map(|r| {
        entries
            .iter()
            .zip(r)
            .map(|(e, r)| (e.output.clone(), r.text))
            .collect()
    });
    Ok((outcome, rendered))
}

/// Whether `files` (relative to the root) hold a source, the schema or the output of `entry`.
pub(crate) fn touches(entry: &MergeEntry, files: &HashSet<PathBuf>) -> bool {
    let normal = |p: &PathBuf| -> PathBuf { p.components().collect() };
    entry
        .sources
        .iter()
        .chain(entry.schema.iter())
        .chain(std::iter::once(&entry.output))
        .any(|p| files.contains(&normal(p)))
}

/// Whether a source of `entry` is among the files (as shown) already found invalid.
pub(crate) fn has_invalid_source(
    ws: &Workspace,
    entry: &MergeEntry,
    invalid: &HashSet<PathBuf>,
) -> bool {
    !invalid.is_empty()
        && entry
            .sources
            .iter()
            .any(|s| invalid.contains(&ws.shown(&ws.root.join(s))))
}

/// The current bytes of a file (`None`: it does not exist).
pub(crate) fn current(path: &std::path::Path) -> Result<Option<Vec<u8>>, Error> {
    match crate::store::read_input(path, u64::MAX) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// A unified diff from `old` (`None`: no file yet) to `new`, with the file's name in the headers.
pub fn unified_diff(path: &std::path::Path, old: Option<&str>, new: &str) -> String {
    let name = render::key(path);
    let (a, b) = match old {
        Some(_) => (format!("a/{name}"), format!("b/{name}")),
        None => ("/dev/null".to_owned(), format!("b/{name}")),
    };
    similar::TextDiff::from_lines(old.unwrap_or(""), new)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string()
}

/// Renders the selected outputs and writes the changed ones as one transaction (or, with
/// `dry_run`, reports a diff for each and writes nothing).
pub fn apply(
    ws: &Workspace,
    cwd: &Path,
    req: &ApplyRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let mut entries = if req.names.is_empty() && !req.files.is_empty() {
        Vec::new()
    } else {
        select(ws, &req.names)?
    };
    if !req.files.is_empty() {
        let files: HashSet<PathBuf> = req
            .files
            .iter()
            .map(|f| ws.relative(cwd, f))
            .collect::<Result<_, _>>()?;
        if let Some(f) = req.files.iter().find(|f| !cwd.join(f).exists()) {
            return Err(Error::Usage(format!("`{}` does not exist", f.display())));
        }
        for e in select(ws, &[])? {
            if touches(e, &files) && !entries.iter().any(|s| std::ptr::eq(*s, e)) {
                entries.push(e);
            }
        }
    }
    let (mut outcome, rendered) = render_counted(ws, &entries, sink)?;
    let Some(mut rendered) = rendered else {
        return Ok(outcome);
    };
    for e in &entries {
        store::check_target(&ws.root, &ws.config.settings.state_dir, &e.output)?;
    }
    if req.dry_run {
        for (e, r) in entries.iter().zip(&rendered) {
            let old = current(&ws.root.join(&e.output))?;
            let old = old.as_deref().map(String::from_utf8_lossy);
            if old.as_deref() == Some(r.text.as_str()) {
                sink.event(Event::FileUnchanged {
                    path: e.output.clone(),
                    sha256: Sha256Digest::of(r.text.as_bytes()),
                });
                continue;
            }
            outcome.written += 1;
            sink.event(Event::WouldWrite {
                path: e.output.clone(),
                diff: unified_diff(&e.output, old.as_deref(), &r.text),
                created: old.is_none(),
            });
        }
        return Ok(outcome);
    }
    let store = Store::open(&ws.root, ws.store_options(req.command.clone()), sink)?;
    // Under the lock: if a source changed since it was read, render again from what is there now.
    if sources_changed(ws, &entries, &rendered)? {
        let mut found = Findings {
            sink,
            outcome: &mut outcome,
        };
        match render_all(ws, &entries, &mut found)? {
            Some(r) => rendered = r,
            None => return Ok(outcome),
        }
    }
    let mut tx = store.transaction("apply");
    for (e, r) in entries.iter().zip(rendered) {
        tx.write_with(
            &e.output,
            r.text,
            WriteAs {
                inputs: Some(r.inputs),
                ..WriteAs::default()
            },
        )?;
    }
    let committed = tx.commit()?;
    drop(store);
    let written = write::report(committed, sink);
    outcome.written = written.written;
    Ok(outcome)
}

fn sources_changed(
    ws: &Workspace,
    entries: &[&MergeEntry],
    rendered: &[Rendered],
) -> Result<bool, Error> {
    for (e, r) in entries.iter().zip(rendered) {
        for s in &e.sources {
            let abs = ws.root.join(s);
            let now = current(&abs)?.map(|b| Sha256Digest::of(&b));
            if now.as_ref() != r.inputs.sources.get(&render::key(&ws.shown(&abs))) {
                return Ok(true);
            }
        }
        if let Some(schema) = &e.schema {
            let now = current(&ws.root.join(schema))?.map(|b| Sha256Digest::of(&b));
            if now != r.inputs.schema {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

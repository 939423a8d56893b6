//! `set FILE KEY=VALUE...` and `unset FILE KEY...`: edit values in place, keeping comments and
//! layout (see [`crate::doc::edit`]), validate the edited text, and write it as a transaction.
//!
//! Invariant: the file changes only when every edit was made exactly and the edited text is
//! valid against the schema `validate` would choose (`--schema` > `[[validate]]` > in-file);
//! otherwise nothing is written — an invalid result is a finding (exit 1) located in the edited
//! text, an edit that cannot be made is an [`Error::Edit`] (exit 2). The file is read again
//! under the store's lock, so a change made meanwhile by another writer is never lost.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use std::sync::Arc;

use super::place::{problem_diagnostic, schema_diagnostic};
use super::render::{Findings, Plan, Rendered, render};
use super::schemas::SchemaCache;
use super::staged::Overlay;
use super::validate::{configured_schema, in_file_schema};
use super::{Error, Outcome, Workspace, write};
use crate::diagnostic::Diagnostic;
use crate::doc::edit::{self, EditError, KeyPath};
use crate::doc::schema::SchemaError;
use crate::doc::{self, Format, Limits};
use crate::event::{Event, Sink};
use crate::store::{self, Store, WriteAs};

/// `set`: what to change in which file.
#[derive(Debug, Clone, Default)]
pub struct SetRequest {
    /// The file, relative to the current directory or absolute; inside the workspace.
    pub file: PathBuf,
    /// `KEY=VALUE`, applied in order. VALUE is JSON when it parses as JSON, else a string.
    pub assignments: Vec<String>,
    /// Every VALUE is a string.
    pub string: bool,
    /// Validate against this schema instead of the one `validate` would choose.
    pub schema: Option<PathBuf>,
    /// The command line, recorded with the backup.
    pub command: String,
    /// Also write the `[[merge]]` outputs the file feeds, re-rendered, in the same transaction.
    pub apply: bool,
}

/// `unset`: which keys to remove from which file.
#[derive(Debug, Clone, Default)]
pub struct UnsetRequest {
    /// The file, relative to the current directory or absolute; inside the workspace.
    pub file: PathBuf,
    /// Dotted paths or JSON pointers, removed in order. Each must be there.
    pub keys: Vec<String>,
    /// Validate against this schema instead of the one `validate` would choose.
    pub schema: Option<PathBuf>,
    /// The command line, recorded with the backup.
    pub command: String,
    /// Also write the `[[merge]]` outputs the file feeds, re-rendered, in the same transaction.
    pub apply: bool,
}

/// One change.
#[derive(Debug, Clone)]
enum Change {
    Set(KeyPath, Value),
    Unset(KeyPath),
}

/// Sets values in a file: exit 0 written (or already so), 1 the result would be invalid.
pub fn set(
    ws: &Workspace,
    cwd: &Path,
    req: &SetRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let changes = req
        .assignments
        .iter()
        .map(|a| edit::parse_assignment(a, req.string).map(|(k, v)| Change::Set(k, v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let target = Target::new(ws, cwd, &req.file, req.schema.as_deref(), req.apply)?;
    target.run(ws, "set", &changes, req.command.clone(), sink)
}

/// Removes keys from a file: exit 0 written, 1 the result would be invalid, 2 a key is missing.
pub fn unset(
    ws: &Workspace,
    cwd: &Path,
    req: &UnsetRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let changes = req
        .keys
        .iter()
        .map(|k| KeyPath::parse(k).map(Change::Unset))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let target = Target::new(ws, cwd, &req.file, req.schema.as_deref(), req.apply)?;
    target.run(ws, "unset", &changes, req.command.clone(), sink)
}

/// The file to edit.
struct Target {
    /// Relative to the root.
    rel: PathBuf,
    abs: PathBuf,
    format: Format,
    /// `--schema`, absolute.
    flag: Option<PathBuf>,
    /// Write the outputs the file feeds too.
    apply: bool,
}

/// The edited text, or why it must not be written.
enum Computed {
    Text(String),
    /// Findings; `fatal`: a schema that cannot be used (exit 2).
    Findings(Vec<Diagnostic>, bool),
}

impl Target {
    fn new(
        ws: &Workspace,
        cwd: &Path,
        file: &Path,
        schema: Option<&Path>,
        apply: bool,
    ) -> Result<Self, Error> {
        let rel = ws.relative(cwd, file)?;
        let format = Format::from_path(&rel).ok_or_else(|| {
            Error::Usage(format!(
                "`{}` is not a .json, .yaml, .yml or .toml file",
                rel.display()
            ))
        })?;
        Ok(Target {
            abs: ws.root.join(&rel),
            rel,
            format,
            flag: schema.map(|s| cwd.join(s)),
            apply,
        })
    }

    fn read(&self) -> Result<Vec<u8>, Error> {
        crate::store::read_input(&self.abs, crate::doc::Limits::default().max_bytes as u64)
            .map_err(|e| Error::io("read", &self.abs, e))
    }

    fn run(
        &self,
        ws: &Workspace,
        op: &str,
        changes: &[Change],
        command: String,
        sink: &mut dyn Sink,
    ) -> Result<Outcome, Error> {
        let mut outcome = Outcome {
            files: 1,
            ..Outcome::default()
        };
        // Refusals come before the store (and its state directory) is touched.
        store::check_target(&ws.root, &ws.config.settings.state_dir, &self.rel)?;
        let before = self.read()?;
        let mut computed = self.compute(ws, &before, changes)?;
        let mut store = None;
        let mut outputs = Vec::new();
        if let Computed::Text(text) = &computed {
            // The outputs this file feeds, rendered from the edited text: their findings are
            // the edit's, placed in the edited text.
            match self.outputs(ws, &before, text)? {
                Ok(rendered) => outputs = rendered,
                Err(found) => computed = Computed::Findings(found, false),
            }
        }
        if let Computed::Text(_) = computed {
            let opened = Store::open(&ws.root, ws.store_options(command), sink)?;
            // Under the lock: if another writer changed the file meanwhile, edit its bytes.
            let now = self.read()?;
            if now != before {
                computed = self.compute(ws, &now, changes)?;
                if let Computed::Text(text) = &computed {
                    match self.outputs(ws, &now, text)? {
                        Ok(rendered) => outputs = rendered,
                        Err(found) => computed = Computed::Findings(found, false),
                    }
                }
            }
            store = Some(opened);
        }
        let text = match computed {
            Computed::Text(text) => text,
            Computed::Findings(diagnostics, fatal) => {
                for d in diagnostics {
                    if fatal {
                        outcome.fatal += 1;
                    } else {
                        outcome.errors += 1;
                    }
                    sink.event(Event::Diagnostic(d));
                }
                return Ok(outcome);
            }
        };
        let store = store.expect("opened for a text to write");
        let mut tx = store.transaction(op);
        // An edit does not make the file cargo atomic's: a later hand edit is no drift.
        tx.write_with(
            &self.rel,
            text,
            WriteAs {
                unmanaged: true,
                ..WriteAs::default()
            },
        )?;
        let mut stale = Vec::new();
        for (output, rendered) in outputs {
            if self.apply {
                store::check_target(&ws.root, &ws.config.settings.state_dir, &output)?;
                tx.write_with(
                    &output,
                    rendered.text,
                    WriteAs {
                        inputs: Some(rendered.inputs),
                        ..WriteAs::default()
                    },
                )?;
            } else if super::apply::current(&ws.root.join(&output))?.as_deref()
                != Some(rendered.text.as_bytes())
            {
                stale.push(output);
            }
        }
        let committed = tx.commit()?;
        drop(store);
        let reported = write::report(committed, sink);
        outcome.files = reported.files;
        outcome.written = reported.written;
        // Without --apply, say which outputs the edit left behind (the next `check` would).
        for output in stale {
            let name = ws.config.merge.iter().find(|e| e.output == output);
            let name = name.map_or("", |e| e.name.as_str());
            let mut d = Diagnostic::error(
                crate::diagnostic::Code::Stale,
                &output,
                "output is now out of date with its sources",
            )
            .with_note(format!(
                "`cargo atomic apply {name}` writes it; `--apply` writes it with the edit"
            ));
            d.severity = crate::diagnostic::Severity::Warning;
            outcome.warnings += 1;
            sink.event(Event::Diagnostic(d));
        }
        Ok(outcome)
    }

    /// Renders every `[[merge]]` entry that has this file as a source, reading it as `text`:
    /// each output's path and bytes, or the findings the edit brings (those a render of the
    /// file as it is, `before`, does not have), placed in the edited text.
    #[allow(clippy::type_complexity)]
    fn outputs(
        &self,
        ws: &Workspace,
        before: &[u8],
        text: &str,
    ) -> Result<Result<Vec<(PathBuf, Rendered)>, Vec<Diagnostic>>, Error> {
        let normal = |p: &Path| -> PathBuf { p.components().collect() };
        let me = normal(&self.rel);
        let entries: Vec<_> = ws
            .config
            .merge
            .iter()
            .filter(|e| e.sources.iter().any(|s| normal(s) == me))
            .collect();
        if entries.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let cache = SchemaCache::new(ws, true, None);
        let render_with =
            |bytes: &[u8]| -> Result<(Vec<Diagnostic>, Vec<(PathBuf, Rendered)>), Error> {
                let mut overlay = Overlay::default();
                overlay.insert(self.abs.clone(), Some(bytes.to_vec()));
                let overlay = Arc::new(overlay);
                let mut sink = Collect::default();
                let mut counted = Outcome::default();
                let mut found = Findings {
                    sink: &mut sink,
                    outcome: &mut counted,
                };
                let mut rendered = Vec::new();
                for e in &entries {
                    let plan = Plan::of_entry(ws, e).with_overlay(overlay.clone());
                    if let Some(r) = render(ws, &cache, &plan, &mut found)? {
                        rendered.push((e.output.clone(), r));
                    }
                }
                Ok((sink.0, rendered))
            };
        let (found, rendered) = render_with(text.as_bytes())?;
        if found.is_empty() {
            return Ok(Ok(rendered));
        }
        // A layered config that was already broken may still be fixed one edit at a time:
        // what is refused is what the edit adds.
        let (had, _) = render_with(before)?;
        let same = |a: &Diagnostic, b: &Diagnostic| {
            (a.code, &a.file, &a.pointer, &a.schema_path, &a.message)
                == (b.code, &b.file, &b.pointer, &b.schema_path, &b.message)
        };
        let new: Vec<Diagnostic> = found
            .into_iter()
            .filter(|d| !had.iter().any(|h| same(h, d)))
            .map(|mut d| {
                d.notes.push(format!(
                    "in the [[merge]] output{} `{}` feeds, rendered with the edit; nothing was changed",
                    if entries.len() == 1 { "" } else { "s" },
                    self.rel.display()
                ));
                d
            })
            .collect();
        if new.is_empty() {
            Ok(Ok(rendered))
        } else {
            Ok(Err(new))
        }
    }

    /// Applies every change to `bytes` and validates the result.
    fn compute(&self, ws: &Workspace, bytes: &[u8], changes: &[Change]) -> Result<Computed, Error> {
        let limits = Limits::default();
        let original = match doc::parse(self.format, bytes, &limits) {
            Ok(docs) => docs,
            Err(p) => {
                let text = String::from_utf8_lossy(bytes);
                return Ok(Computed::Findings(
                    vec![problem_diagnostic(&self.rel, &text, &p)],
                    false,
                ));
            }
        };
        // It parsed, so it is UTF-8.
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        for change in changes {
            let edited = match change {
                Change::Set(key, value) => edit::set(self.format, &text, key, value),
                Change::Unset(key) => edit::unset(self.format, &text, key),
            };
            text = edited.map_err(|source| self.refused(source))?;
        }
        let docs = doc::parse(self.format, text.as_bytes(), &limits)
            .map_err(|p| self.refused(EditError::Parse(Box::new(p))))?;
        let schema_path = match &self.flag {
            Some(s) => Some(s.clone()),
            None => match configured_schema(ws, &self.rel)? {
                Some(s) => Some(s),
                None => {
                    let named = docs.first().and_then(|d| d.get("$schema")?.as_str());
                    in_file_schema(self.format, text.as_bytes(), named, &self.abs)
                }
            },
        };
        let Some(schema_path) = schema_path else {
            return Ok(Computed::Text(text));
        };
        let cache = SchemaCache::new(ws, true, self.flag.as_deref());
        let schema = match cache.get(&schema_path) {
            Ok(s) => s,
            Err(d) => return Ok(Computed::Findings(vec![*d], true)),
        };
        if docs.iter().all(|v| schema.is_valid(v)) {
            return Ok(Computed::Text(text));
        }
        // A file that was already invalid may still be edited, one fix at a time: what is
        // refused is an edit that adds an error the file did not have.
        // Errors are compared by identity (place and schema keyword), never by message: a
        // message may quote the value that was edited.
        let had: HashSet<_> = original
            .iter()
            .enumerate()
            .flat_map(|(n, v)| {
                schema
                    .validate(v)
                    .into_iter()
                    .map(move |e| (n, e.identity()))
            })
            .collect();
        let new: Vec<(usize, SchemaError)> = docs
            .iter()
            .enumerate()
            .flat_map(|(n, v)| schema.validate(v).into_iter().map(move |e| (n, e)))
            .filter(|(n, e)| !had.contains(&(*n, e.identity())))
            .collect();
        if new.is_empty() {
            return Ok(Computed::Text(text));
        }
        let indexes = doc::index(self.format, &text);
        let mut found = Vec::new();
        for (n, err) in new {
            let mut d = schema_diagnostic(&self.rel, &text, indexes.get(n), &err);
            d.notes
                .push("in the edited text; the file was not changed".to_owned());
            found.push(d);
        }
        Ok(Computed::Findings(found, false))
    }

    fn refused(&self, source: EditError) -> Error {
        Error::Edit {
            path: self.rel.clone(),
            source: Box::new(source),
        }
    }
}

/// Keeps the findings a render reports.
#[derive(Default)]
struct Collect(Vec<Diagnostic>);

impl Sink for Collect {
    fn event(&mut self, event: Event) {
        if let Event::Diagnostic(d) = event {
            self.0.push(d);
        }
    }
}

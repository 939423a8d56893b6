//! `merge SOURCES... [-o OUT] [--schema S] [--arrays replace|append] [--to json|yaml|toml]`:
//! deep-merge sources left to right (RFC 7396 by default), validate the result, and print it or
//! write it atomically. Every finding in the result is reported where a source set the value.

use std::fs;
use std::path::{Path, PathBuf};

use super::schemas::SchemaCache;
use super::validate::{place_at, problem_diagnostic, schema_diagnostic_at};
use super::{Error, Outcome, Workspace, write};
use crate::diagnostic::{Code, Diagnostic};
use crate::doc::merge::{self, ArrayStrategy, MergeError, MergeOptions};
use crate::doc::{self, Format, Limits, SpanIndex};
use crate::event::{Event, Sink};
use crate::store::Store;

/// What to merge and where the result goes.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    /// Sources, base first (relative to the current directory or absolute).
    pub sources: Vec<PathBuf>,
    /// Write here (inside the workspace) instead of returning the text.
    pub output: Option<PathBuf>,
    /// Validate the result against this schema.
    pub schema: Option<PathBuf>,
    /// How arrays merge.
    pub arrays: ArrayStrategy,
    /// The output format; default: the output's extension, else JSON.
    pub to: Option<Format>,
    /// The command line, recorded with a backup.
    pub command: String,
}

/// A source, read and parsed.
struct Source {
    shown: PathBuf,
    text: String,
    format: Format,
}

/// Merges; returns the outcome and, when there is no output file and nothing was found, the
/// merged text for the caller to print.
pub fn merge(
    ws: &Workspace,
    cwd: &Path,
    req: &MergeRequest,
    sink: &mut dyn Sink,
) -> Result<(Outcome, Option<String>), Error> {
    let mut outcome = Outcome {
        files: req.sources.len(),
        ..Outcome::default()
    };
    let mut report = |d: Diagnostic, outcome: &mut Outcome| {
        outcome.errors += 1;
        sink.event(Event::Diagnostic(d));
    };
    let mut sources = Vec::new();
    let mut values = Vec::new();
    for p in &req.sources {
        let path = cwd.join(p);
        let shown = ws.shown(&path);
        let Some(format) = Format::from_path(&path) else {
            let d = Diagnostic::error(
                Code::Parse,
                &shown,
                "unknown format: expected a .json, .yaml, .yml or .toml file",
            );
            report(d, &mut outcome);
            continue;
        };
        let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match doc::parse(format, &bytes, &Limits::default()) {
            Ok(docs) if docs.len() == 1 => values.extend(docs),
            Ok(docs) => {
                let d = Diagnostic::error(
                    Code::Parse,
                    &shown,
                    format!(
                        "holds {} documents; a merge source must hold one",
                        docs.len()
                    ),
                );
                report(d, &mut outcome);
            }
            Err(p) => report(problem_diagnostic(&shown, &text, &p), &mut outcome),
        }
        sources.push(Source {
            shown,
            text,
            format,
        });
    }
    if outcome.errors > 0 {
        return Ok((outcome, None));
    }
    let options = MergeOptions {
        arrays: req.arrays.clone(),
        ..MergeOptions::default()
    };
    let merged = match &req.schema {
        // Provenance is only wanted to place schema errors at their source.
        Some(_) => merge::merge_all(&values, &options).map(|(v, p)| (v, Some(p))),
        None => merge::merge_values(&values, &options).map(|v| (v, None)),
    };
    let (value, prov) = match merged {
        Ok(r) => r,
        Err(e) => {
            let (input, pointer) = match &e {
                MergeError::MissingKey { input, pointer, .. }
                | MergeError::DuplicateKey { input, pointer, .. } => (*input, pointer.clone()),
            };
            let src = &sources[input];
            let mut d = Diagnostic::error(Code::Parse, &src.shown, e.to_string());
            place_at(
                &mut d,
                &src.text,
                &doc::index(src.format, &src.text)[0],
                &pointer,
            );
            d.pointer = Some(pointer);
            report(d, &mut outcome);
            return Ok((outcome, None));
        }
    };
    if let (Some(schema_path), Some(prov)) = (&req.schema, &prov) {
        let schema_path = cwd.join(schema_path);
        let cache = SchemaCache::new(ws, true, Some(&schema_path));
        let schema = match cache.get(&schema_path) {
            Ok(s) => s,
            Err(d) => {
                outcome.fatal += 1;
                sink.event(Event::Diagnostic(*d));
                return Ok((outcome, None));
            }
        };
        if !schema.is_valid(&value) {
            let mut indexes: Vec<Option<SpanIndex>> = sources.iter().map(|_| None).collect();
            for err in schema.validate(&value) {
                // Report the error where the offending value came from (every value of a
                // merge result has a source: the base is recorded whole).
                let (n, at) = prov
                    .source_of(&err.instance_pointer)
                    .unwrap_or((0, err.instance_pointer.clone()));
                let src = &sources[n];
                let index =
                    indexes[n].get_or_insert_with(|| doc::index(src.format, &src.text).remove(0));
                let d = schema_diagnostic_at(&src.shown, &src.text, Some(index), &err, &at);
                report(d, &mut outcome);
            }
            return Ok((outcome, None));
        }
    }
    let format = req
        .to
        .or_else(|| req.output.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Json);
    let text = match doc::serialize(format, &value) {
        Ok(t) => t,
        Err(message) => {
            let file = req
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from("<stdout>"));
            report(Diagnostic::error(Code::Parse, file, message), &mut outcome);
            return Ok((outcome, None));
        }
    };
    let Some(output) = &req.output else {
        return Ok((outcome, Some(text)));
    };
    let rel = ws.relative(cwd, output)?;
    crate::store::check_target(&ws.root, &rel)?;
    let store = Store::open(&ws.root, ws.store_options(req.command.clone()), sink)?;
    let mut tx = store.transaction("merge");
    tx.write(&rel, text)?;
    let committed = tx.commit()?;
    drop(store);
    let written = write::report(committed, sink);
    outcome.written = written.written;
    outcome.warnings += written.warnings;
    Ok((outcome, None))
}

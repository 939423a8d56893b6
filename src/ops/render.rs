//! Rendering layered sources into one output: read and parse the sources, merge them, validate
//! the result and serialize it. Shared by `merge`, `apply`, `check`, `explain` and `build`.
//!
//! Every finding is reported where a source gave the offending value, never at the generated
//! output. Invariant: nothing here writes; a render either yields the output's bytes or reports
//! why it cannot.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::place::{place_at, problem_diagnostic, schema_diagnostic_at};
use super::schemas::SchemaCache;
pub(crate) use super::staged::Overlay;
use super::{Error, MergeEntry, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic, Related};
use crate::doc::merge::{self, MergeError, MergeOptions, Provenance};
use crate::doc::schema::SchemaError;
use crate::doc::{self, Format, Limits, SpanIndex};
use crate::event::{Event, Sink};
use crate::store::{Inputs, Sha256Digest};

/// One source, read and parsed.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// As reported: relative to the root when inside it.
    pub shown: PathBuf,
    /// Its text (lossy for bytes that are not UTF-8, which do not parse anyway).
    pub text: String,
    /// Its format.
    pub format: Format,
    /// Digest of the bytes read.
    pub sha256: Sha256Digest,
}

impl Source {
    /// The span index of the source (built on demand: only findings and `explain` need it).
    pub fn index(&self) -> SpanIndex {
        doc::index(self.format, &self.text)
            .into_iter()
            .next()
            .unwrap_or_default()
    }
}

/// What to render.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Sources, base first, absolute.
    pub sources: Vec<PathBuf>,
    /// The schema the result must satisfy, absolute.
    pub schema: Option<PathBuf>,
    /// Array strategies.
    pub options: MergeOptions,
    /// The output's format.
    pub format: Format,
    /// How the output is named in findings.
    pub output: PathBuf,
    /// Contents read instead of the disk's (the index's, or an edit not yet written).
    pub overlay: std::sync::Arc<Overlay>,
}

impl Plan {
    /// The plan of a `[[merge]]` entry.
    pub fn of_entry(ws: &Workspace, entry: &MergeEntry) -> Self {
        Plan {
            sources: entry.sources.iter().map(|s| ws.root.join(s)).collect(),
            schema: entry
                .schema
                .as_ref()
                .map(|s| super::schemas::schema_target(&ws.root, s)),
            options: entry.options(),
            // The config check refuses outputs of unknown formats.
            format: Format::from_path(&entry.output).unwrap_or(Format::Json),
            output: entry.output.clone(),
            overlay: Default::default(),
        }
    }

    /// This plan, reading its sources through `overlay`.
    pub fn with_overlay(mut self, overlay: std::sync::Arc<Overlay>) -> Self {
        self.overlay = overlay;
        self
    }
}

/// A rendered output.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    /// Its bytes in the output's format.
    pub text: String,
    /// What it was made from, for the manifest.
    pub inputs: Inputs,
}

/// Counts findings into an [`Outcome`] as they are reported.
pub(crate) struct Findings<'a> {
    pub sink: &'a mut dyn Sink,
    pub outcome: &'a mut Outcome,
}

impl Findings<'_> {
    pub fn error(&mut self, d: Diagnostic) {
        self.outcome.errors += 1;
        self.sink.event(Event::Diagnostic(d));
    }

    pub fn fatal(&mut self, d: Diagnostic) {
        self.outcome.fatal += 1;
        self.sink.event(Event::Diagnostic(d));
    }
}

/// The sources of a render and, in the same order, their values.
pub(crate) type Loaded = (Vec<Source>, Vec<Value>);

/// Reads and parses every source: each one's text and place, and (in the same order) its value,
/// kept apart so that a merge takes the values without copying them. `None` when any source has
/// a finding (each is reported).
pub(crate) fn load(
    ws: &Workspace,
    paths: &[PathBuf],
    found: &mut Findings<'_>,
) -> Result<Option<Loaded>, Error> {
    load_through(ws, paths, &Overlay::default(), found)
}

/// [`load`], reading through `overlay`: a source it holds as gone is a finding.
pub(crate) fn load_through(
    ws: &Workspace,
    paths: &[PathBuf],
    overlay: &Overlay,
    found: &mut Findings<'_>,
) -> Result<Option<Loaded>, Error> {
    let mut sources = Vec::with_capacity(paths.len());
    let mut values = Vec::with_capacity(paths.len());
    let mut ok = true;
    for path in paths {
        let shown = ws.shown(path);
        let Some(format) = Format::from_path(path) else {
            found.error(Diagnostic::error(
                Code::Parse,
                &shown,
                "unknown format: expected a .json, .yaml, .yml or .toml file",
            ));
            ok = false;
            continue;
        };
        let bytes = match overlay.read_optional(path) {
            Ok(Some(b)) => b,
            Ok(None) if overlay.covers(path) => {
                found.error(Diagnostic::error(
                    Code::Io,
                    &shown,
                    "source is not in the commit (deleted, or never added)",
                ));
                ok = false;
                continue;
            }
            Ok(None) => {
                let e = std::io::Error::from(std::io::ErrorKind::NotFound);
                return Err(Error::io("read", path, e));
            }
            Err(e) => return Err(Error::io("read", path, e)),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let sha256 = Sha256Digest::of(&bytes);
        let value = match doc::parse(format, &bytes, &Limits::default()) {
            Ok(mut docs) if docs.len() == 1 => docs.pop().unwrap_or_default(),
            Ok(docs) => {
                found.error(Diagnostic::error(
                    Code::Parse,
                    &shown,
                    format!(
                        "holds {} documents; a merge source must hold one",
                        docs.len()
                    ),
                ));
                ok = false;
                continue;
            }
            Err(p) => {
                found.error(problem_diagnostic(&shown, &text, &p));
                ok = false;
                continue;
            }
        };
        sources.push(Source {
            shown,
            text,
            format,
            sha256,
        });
        values.push(value);
    }
    Ok(ok.then_some((sources, values)))
}

/// Merges the sources with provenance, or reports the merge error at its source.
pub(crate) fn merge_with_provenance(
    sources: &[Source],
    values: &[Value],
    options: &MergeOptions,
    found: &mut Findings<'_>,
) -> Option<(Value, Provenance)> {
    match merge::merge_all(values, options) {
        Ok(r) => Some(r),
        Err(e) => {
            found.error(merge_error(sources, &e));
            None
        }
    }
}

fn merge_error(sources: &[Source], e: &MergeError) -> Diagnostic {
    // The diagnostic names the source; the message says what is wrong in it.
    let (input, pointer, message) = match e {
        MergeError::MissingKey {
            input,
            pointer,
            key,
        } => (
            *input,
            pointer,
            format!("array item has no `{key}` field to merge by"),
        ),
        MergeError::DuplicateKey {
            input,
            pointer,
            key,
            value,
        } => (
            *input,
            pointer,
            format!("`{key}` = {value} appears twice in an array merged by `{key}`"),
        ),
    };
    let src = &sources[input];
    let mut d = Diagnostic::error(Code::Parse, &src.shown, message);
    let pointer = pointer.clone();
    place_at(&mut d, &src.text, &src.index(), &pointer);
    d.pointer = Some(pointer);
    d
}

/// Renders `plan`: `None` when anything was found (each finding reported, counted in `found`).
pub(crate) fn render(
    ws: &Workspace,
    cache: &SchemaCache,
    plan: &Plan,
    found: &mut Findings<'_>,
) -> Result<Option<Rendered>, Error> {
    let Some((sources, values)) = load_through(ws, &plan.sources, &plan.overlay, found)? else {
        return Ok(None);
    };
    let value = match merge::merge_values(&values, &plan.options) {
        Ok(v) => v,
        Err(e) => {
            found.error(merge_error(&sources, &e));
            return Ok(None);
        }
    };
    let mut schema_digest = None;
    if let Some(schema_path) = &plan.schema {
        let schema = match cache.get(schema_path) {
            Ok(s) => s,
            Err(d) => {
                found.fatal(*d);
                return Ok(None);
            }
        };
        let bytes = plan
            .overlay
            .read(schema_path)
            .map_err(|e| Error::io("read", schema_path, e))?;
        schema_digest = Some(Sha256Digest::of(&bytes));
        if !schema.is_valid(&value) {
            // Only now is the provenance worth its cost: it places each error at its source.
            let Some((_, prov)) = merge_with_provenance(&sources, &values, &plan.options, found)
            else {
                return Ok(None);
            };
            let mut indexes: Vec<Option<SpanIndex>> = sources.iter().map(|_| None).collect();
            for err in schema.validate(&value) {
                // Each finding at the layer that made it: an unexpected key where it was
                // introduced, a missing key at the last layer that wrote its object, any other
                // at the layer that set the value.
                let found_in = match (&err.property, err.keyword.as_str()) {
                    (Some(_), "required" | "dependentRequired" | "dependencies") => {
                        prov.last_writer_of(&err.instance_pointer)
                    }
                    (Some(_), _) => prov.source_of(&err.place()).and_then(|(n, key)| {
                        // The object's pointer in that layer: the key's, less its last token.
                        let object = key[..key.rfind('/')?].to_owned();
                        Some((n, object))
                    }),
                    (None, _) => None,
                };
                let (n, at) = found_in
                    .or_else(|| prov.source_of(&err.instance_pointer))
                    .unwrap_or((0, err.instance_pointer.clone()));
                let related = other_layers(&sources, &mut indexes, &prov, &err, n);
                let src = &sources[n];
                let index = indexes[n].get_or_insert_with(|| src.index());
                let mut d = schema_diagnostic_at(&src.shown, &src.text, Some(index), &err, &at);
                d.related.extend(related);
                found.error(d);
            }
            return Ok(None);
        }
    }
    let text = match doc::serialize(plan.format, &value) {
        Ok(t) => t,
        Err(message) => {
            found.error(Diagnostic::error(Code::Parse, &plan.output, message));
            return Ok(None);
        }
    };
    let inputs = Inputs {
        sources: sources.iter().map(|s| (key(&s.shown), s.sha256)).collect(),
        schema: schema_digest,
    };
    Ok(Some(Rendered { text, inputs }))
}

/// The other layers that touched the value of a finding placed in layer `primary`: each one
/// once, at the place it wrote the value (for an error about a key: the object's key), oldest
/// first.
fn other_layers(
    sources: &[Source],
    indexes: &mut [Option<SpanIndex>],
    prov: &Provenance,
    err: &SchemaError,
    primary: usize,
) -> Vec<Related> {
    let pointer = match (&err.property, err.keyword.as_str()) {
        (Some(_), "required" | "dependentRequired" | "dependencies") | (None, _) => {
            err.instance_pointer.clone()
        }
        (Some(_), _) => err.place(),
    };
    let mut seen = vec![primary];
    let mut related = Vec::new();
    for o in prov.of(&pointer) {
        if seen.contains(&o.source) {
            continue;
        }
        seen.push(o.source);
        let src = &sources[o.source];
        let index = indexes[o.source].get_or_insert_with(|| src.index());
        if let Some((_, l)) = index.nearest(&o.pointer) {
            let span = match (err.property.is_some(), l.key) {
                (true, Some(k)) => k,
                _ => l.value,
            };
            related.push(Related {
                file: Some(src.shown.clone()),
                line: span.start.line,
                column: span.start.column,
                message: "also set here".to_owned(),
            });
        }
    }
    related
}

/// A path as the manifest keys it: `/`-separated.
pub(crate) fn key(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

//! `explain FILE POINTER`: where a value of a merged output came from.
//!
//! Renders the `[[merge]]` entry that produces FILE with provenance and lists, oldest first,
//! every source that set, overrode or deleted the value at POINTER, each with its place
//! (`file:line:col`) and what it gave there. Nothing is written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::apply::select;
use super::render::{self, Findings};
use super::{Error, Outcome, Workspace};
use crate::doc::escape_pointer_token;
use crate::doc::merge::{ArrayStrategy, Given};
use crate::event::Sink;

/// The history of one value of a merged output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The output, relative to the workspace root.
    pub file: PathBuf,
    /// The `[[merge]]` entry that renders it.
    pub merge: String,
    /// The JSON pointer asked about.
    pub pointer: String,
    /// The final value (`None`: the last source deleted it).
    pub value: Option<Value>,
    /// Every source that set it, oldest first; the last one decides.
    pub steps: Vec<Step>,
}

/// One source's part in a value's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The source, relative to the workspace root.
    pub source: PathBuf,
    /// 1-based line of the value in the source, when it can be placed.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// Its JSON pointer in the source.
    pub pointer: String,
    /// `set` (first), `override` (replaced an earlier value), `merge` (an object merged member
    /// by member, or an array by key, into the earlier one), `append` (an array's items added
    /// to the earlier one's) or `delete` (a `null` in an overlay).
    pub action: &'static str,
    /// What the source gave there (`null` for a deletion).
    pub given: Value,
}

/// What to explain.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// The output (relative to the current directory), or the `[[merge]]` entry's name.
    pub file: PathBuf,
    /// A JSON pointer (`/server/port`) or a dotted path (`server.port`).
    pub key: String,
}

/// A dotted path (`server.port`, `servers.0.name`) or a JSON pointer (`/server/port`, or `""`
/// for the whole document) as a JSON pointer.
pub fn key_to_pointer(key: &str) -> String {
    if key.is_empty() || key.starts_with('/') {
        return key.to_owned();
    }
    key.split('.')
        .map(|t| format!("/{}", escape_pointer_token(t)))
        .collect()
}

/// Explains one value; `None` (with findings reported) when the sources do not merge.
pub fn explain(
    ws: &Workspace,
    cwd: &Path,
    req: &ExplainRequest,
    sink: &mut dyn Sink,
) -> Result<(Outcome, Option<Explanation>), Error> {
    let entries = select(ws, &[])?;
    let by_name = entries
        .iter()
        .find(|e| e.name == req.file.to_string_lossy());
    let entry = match by_name {
        Some(e) => *e,
        None => {
            let rel = ws.relative(cwd, &req.file)?;
            entries
                .iter()
                .find(|e| e.output == rel)
                .copied()
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "`{}` is not the output of any [[merge]] entry",
                        rel.display()
                    ))
                })?
        }
    };
    let mut outcome = Outcome {
        files: entry.sources.len(),
        ..Outcome::default()
    };
    let mut found = Findings {
        sink,
        outcome: &mut outcome,
    };
    let plan = render::Plan::of_entry(ws, entry);
    let Some((sources, values)) = render::load(ws, &plan.sources, &mut found)? else {
        return Ok((outcome, None));
    };
    let Some((value, prov)) =
        render::merge_with_provenance(&sources, &values, &plan.options, &mut found)
    else {
        return Ok((outcome, None));
    };
    let pointer = key_to_pointer(&req.key);
    let history = prov.of(&pointer);
    let value = value.pointer(&pointer).cloned();
    if history.is_empty() && value.is_none() {
        return Err(Error::Usage(format!(
            "no source of `{}` sets `{pointer}`",
            entry.output.display()
        )));
    }
    let mut indexes: Vec<Option<crate::doc::SpanIndex>> = sources.iter().map(|_| None).collect();
    let mut steps = Vec::with_capacity(history.len());
    for (i, origin) in history.iter().enumerate() {
        let src = &sources[origin.source];
        let index = indexes[origin.source].get_or_insert_with(|| src.index());
        let at = index.get(&origin.pointer).map(|l| l.value.start);
        let given = match &origin.given {
            Given::Scalar(v) => v.clone(),
            Given::Deleted => Value::Null,
            Given::Object | Given::Array | Given::Merged => values[origin.source]
                .pointer(&origin.pointer)
                .cloned()
                .unwrap_or_default(),
        };
        let appends = matches!(
            plan.options
                .paths
                .get(&pointer)
                .unwrap_or(&plan.options.arrays),
            ArrayStrategy::Append
        );
        let action = match (&origin.given, i) {
            (Given::Deleted, _) => "delete",
            (Given::Merged, _) if given.is_array() && appends => "append",
            (Given::Merged, _) => "merge",
            (_, 0) => "set",
            _ => "override",
        };
        steps.push(Step {
            source: src.shown.clone(),
            line: at.map(|p| p.line),
            column: at.map(|p| p.column),
            pointer: origin.pointer.clone(),
            action,
            given,
        });
    }
    Ok((
        outcome,
        Some(Explanation {
            file: entry.output.clone(),
            merge: entry.name.clone(),
            pointer,
            value,
            steps,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::key_to_pointer;

    #[test]
    fn keys_become_pointers() {
        for (key, pointer) in [
            ("server.port", "/server/port"),
            ("servers.0.name", "/servers/0/name"),
            ("a~b/c.d", "/a~0b~1c/d"),
            ("/already/a/pointer", "/already/a/pointer"),
            ("", ""),
        ] {
            assert_eq!(key_to_pointer(key), pointer, "{key}");
        }
    }
}

//! `merge SOURCES... [-o OUT] [--schema S] [--arrays replace|append] [--to json|yaml|toml]`:
//! deep-merge sources left to right (RFC 7396 by default), validate the result, and print it or
//! write it atomically. Every finding in the result is reported where a source set the value.

use std::path::{Path, PathBuf};

use super::render::{self, Findings, Plan};
use super::schemas::SchemaCache;
use super::{Error, Outcome, Workspace, write};
use crate::doc::Format;
use crate::doc::merge::{ArrayStrategy, MergeOptions};
use crate::event::Sink;
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
    let schema = req.schema.as_ref().map(|s| cwd.join(s));
    let plan = Plan {
        sources: req.sources.iter().map(|s| cwd.join(s)).collect(),
        schema: schema.clone(),
        options: MergeOptions {
            arrays: req.arrays.clone(),
            ..MergeOptions::default()
        },
        format: req
            .to
            .or_else(|| req.output.as_deref().and_then(Format::from_path))
            .unwrap_or(Format::Json),
        output: req
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("<stdout>")),
        overlay: Default::default(),
    };
    let cache = SchemaCache::new(ws, true, schema.as_deref());
    let mut found = Findings {
        sink,
        outcome: &mut outcome,
    };
    let Some(rendered) = render::render(ws, &cache, &plan, &mut found)? else {
        return Ok((outcome, None));
    };
    let Some(output) = &req.output else {
        return Ok((outcome, Some(rendered.text)));
    };
    let rel = ws.relative(cwd, output)?;
    crate::store::check_target(&ws.root, &ws.config.settings.state_dir, &rel)?;
    let store = Store::open(&ws.root, ws.store_options(req.command.clone()), sink)?;
    let mut tx = store.transaction("merge");
    tx.write(&rel, rendered.text)?;
    let committed = tx.commit()?;
    drop(store);
    let written = write::report(committed, sink);
    outcome.written = written.written;
    outcome.warnings += written.warnings;
    Ok((outcome, None))
}

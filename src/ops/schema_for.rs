//! `schema-for FILE...`: which schema applies to each file and why — the `[[validate]]` entry,
//! the file's own `$schema`, or the catalog entry and its glob — with the pinned sha256 of a
//! remote schema. The same precedence as `validate`; reads the lock and the cache, no network.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pins::{Lock, is_url};
use super::{Error, Workspace};
use crate::digest::Sha256Digest;
use crate::doc::{self, Limits, Syntax};

/// Why a schema applies to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaReason {
    /// The `[[validate]]` entry number `index` (0-based) of the config, whose glob matched.
    Config {
        /// Its place in the list.
        index: usize,
        /// The glob that matched.
        glob: String,
    },
    /// The file's own `$schema`, `#:schema` or modeline.
    InFile,
    /// The catalog entry `name`, by its `fileMatch` glob.
    Catalog {
        /// The entry's name.
        name: String,
        /// The glob.
        glob: String,
    },
    /// Nothing applies.
    None,
}

/// The schema of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChoice {
    /// The file, relative to the root.
    pub file: PathBuf,
    /// The schema: a path relative to the root, or a URL; empty when none applies.
    pub schema: String,
    /// Why.
    pub reason: SchemaReason,
    /// For a URL, its pin in atomic.lock (none: not fetched yet).
    pub sha256: Option<Sha256Digest>,
}

/// The choice for each of `files` (relative to `cwd`).
pub fn schema_for(
    ws: &Workspace,
    cwd: &Path,
    files: &[PathBuf],
) -> Result<Vec<SchemaChoice>, Error> {
    let catalog = super::catalog::active(ws)?;
    let lock = Lock::read(&ws.root).ok().flatten().unwrap_or_default();
    let mut out = Vec::new();
    for f in files {
        let abs = cwd.join(f);
        let rel = ws.shown(&abs);
        let mut choice = SchemaChoice {
            file: rel.clone(),
            schema: String::new(),
            reason: SchemaReason::None,
            sha256: None,
        };
        let entry = ws.config.validate.iter().enumerate().find_map(|(i, e)| {
            let glob = e.files.iter().find(|g| {
                globset::Glob::new(g).is_ok_and(|g| g.compile_matcher().is_match(&rel))
            })?;
            Some((i, glob.clone(), e.schema.clone()))
        });
        if let Some((index, glob, schema)) = entry {
            choice.schema = schema.to_string_lossy().into_owned();
            choice.reason = SchemaReason::Config { index, glob };
        } else if let Some(named) = in_file(&abs) {
            choice.schema = match named.to_str().filter(|s| is_url(s)) {
                Some(url) => url.to_owned(),
                None => ws.shown(&named).to_string_lossy().into_owned(),
            };
            choice.reason = SchemaReason::InFile;
        } else if let Some(m) = catalog.as_ref().and_then(|c| c.find(&rel)) {
            choice.schema = m.entry.url.clone();
            choice.reason = SchemaReason::Catalog {
                name: m.entry.name.clone(),
                glob: m.glob.to_owned(),
            };
        }
        if is_url(&choice.schema) {
            let url = choice.schema.split('#').next().unwrap_or_default();
            choice.sha256 = lock.schemas.get(url).copied();
        }
        out.push(choice);
    }
    Ok(out)
}

fn in_file(abs: &Path) -> Option<PathBuf> {
    let limits = Limits::default();
    let syntax = Syntax::from_path(abs)?;
    let bytes = crate::store::read_input(abs, limits.max_bytes as u64).ok()?;
    let read = syntax.reader_text(&bytes);
    let dollar = doc::parse(syntax.format, &read, &limits)
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .and_then(|v| v.get("$schema").and_then(Value::as_str).map(str::to_owned));
    super::validate::in_file_schema(syntax.format, &bytes, dollar.as_deref(), abs)
}

//! The schema catalog (SchemaStore's `catalog.json`): which schema a file gets by its name,
//! when no `--schema`, `[[validate]]` entry or in-file `$schema` claims it.
//!
//! Invariant: the catalog is read from `atomic.lock` and the cache like any pinned schema, never
//! from the network, and its globs are compiled once into one `GlobSet`, so matching a file
//! costs one set lookup whatever the catalog's size. The first entry (in catalog order) whose
//! glob matches wins.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// SchemaStore's catalog.
pub const SCHEMASTORE: &str = "https://www.schemastore.org/api/json/catalog.json";

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogEntry {
    /// Its name (`GitHub Workflow`).
    pub name: String,
    /// The schema's URL.
    pub url: String,
    /// Globs of the files it applies to, as the catalog spells them.
    #[serde(default, rename = "fileMatch")]
    pub file_match: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    schemas: Vec<CatalogEntry>,
}

/// A parsed catalog with its globs compiled.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    set: GlobSet,
    /// For each glob of `set`: (entry, index in its `file_match`).
    owners: Vec<(usize, usize)>,
    exclude: GlobSet,
}

/// Why the catalog picked a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogMatch<'c> {
    /// The entry.
    pub entry: &'c CatalogEntry,
    /// The glob of its `fileMatch` that matched.
    pub glob: &'c str,
}

impl Catalog {
    /// Reads a catalog body; `exclude` are globs (relative to the root) it never claims. Globs
    /// that do not compile, and negations (`!x`), are left out.
    pub fn parse(body: &[u8], exclude: &[String]) -> Result<Catalog, String> {
        let raw: Raw = serde_json::from_slice(body)
            .map_err(|e| format!("the catalog is not a schema catalog: {e}"))?;
        let mut builder = GlobSetBuilder::new();
        let mut owners = Vec::new();
        for (e, entry) in raw.schemas.iter().enumerate() {
            if !super::pins::is_url(&entry.url) {
                continue;
            }
            for (g, pattern) in entry.file_match.iter().enumerate() {
                if let Some(glob) = compile(pattern) {
                    builder.add(glob);
                    owners.push((e, g));
                }
            }
        }
        let set = builder
            .build()
            .map_err(|e| format!("the catalog's globs: {e}"))?;
        let mut ex = GlobSetBuilder::new();
        for g in exclude {
            ex.add(Glob::new(g).map_err(|e| format!("[catalog] exclude: bad glob `{g}`: {e}"))?);
        }
        let exclude = ex.build().map_err(|e| format!("[catalog] exclude: {e}"))?;
        Ok(Catalog {
            entries: raw.schemas,
            set,
            owners,
            exclude,
        })
    }

    /// The entry for the file at `rel` (relative to the root), and the glob that matched.
    pub fn find(&self, rel: &Path) -> Option<CatalogMatch<'_>> {
        if self.exclude.is_match(rel) {
            return None;
        }
        let hits = self.set.matches(rel);
        // `matches` lists glob indexes in ascending order, and globs were added in catalog
        // order: the first hit is the first entry that matches.
        let &(e, g) = self.owners.get(*hits.first()?)?;
        let entry = &self.entries[e];
        Some(CatalogMatch {
            entry,
            glob: &entry.file_match[g],
        })
    }

    /// Every schema URL the catalog names (for `fetch`), in catalog order, without duplicates.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .map(|e| e.url.as_str())
            .filter(move |u| seen.insert(*u))
    }
}

/// A catalog glob as a path glob. SchemaStore's globs follow VS Code's: one without a `/`
/// matches a file name in any directory; one with a `/` is relative to the root unless it
/// starts with `**/`. `*` never crosses a `/`.
fn compile(pattern: &str) -> Option<Glob> {
    if pattern.starts_with('!') || pattern.is_empty() {
        return None;
    }
    let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let full = if pattern.starts_with("**/") || pattern.contains('/') {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    };
    GlobBuilder::new(&full).literal_separator(true).build().ok()
}

/// The workspace's catalog, when it applies: enabled, and pinned by `atomic.lock` (until
/// `cargo atomic fetch` pins it, validation has no catalog). A pinned catalog whose cached body
/// is missing or refused is an error naming the fix.
pub(crate) fn active(ws: &super::Workspace) -> Result<Option<Catalog>, super::Error> {
    let cfg = &ws.config.catalog;
    if !cfg.enabled {
        return Ok(None);
    }
    let pins = super::pins::Pins::load(&ws.root);
    if pins.lock_error.is_none() && !pins.lock.schemas.contains_key(&cfg.url) {
        return Ok(None);
    }
    let config_error = |message: String| super::Error::Config {
        path: ws.root.join(super::pins::LOCK_FILE),
        message,
    };
    let body = pins.body(&cfg.url).map_err(config_error)?;
    Catalog::parse(&body, &cfg.exclude)
        .map(Some)
        .map_err(config_error)
}

/// Whether a file the catalog names is one `validate` can read: a known extension, or none at
/// all (`.eslintrc`, `.babelrc`: read as JSON with comments).
pub(crate) fn readable(rel: &Path) -> bool {
    crate::doc::Syntax::from_path(rel).is_some()
        || rel
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.trim_start_matches('.').contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"{"schemas": [
      {"name": "GitHub Workflow", "url": "https://www.schemastore.org/github-workflow.json",
       "fileMatch": ["**/.github/workflows/*.yml", "**/.github/workflows/*.yaml"]},
      {"name": "tsconfig.json", "url": "https://www.schemastore.org/tsconfig.json", "fileMatch": ["tsconfig*.json"]},
      {"name": "Cargo.toml", "url": "https://www.schemastore.org/cargo.json", "fileMatch": ["Cargo.toml"]},
      {"name": "any yaml", "url": "https://example.com/y.json", "fileMatch": ["*.yml", "!skip.yml"]},
      {"name": "no files", "url": "https://example.com/n.json"}
    ]}"#;

    fn name(c: &Catalog, path: &str) -> Option<String> {
        c.find(Path::new(path))
            .map(|m| format!("{} ({})", m.entry.name, m.glob))
    }

    #[test]
    fn paths_get_the_first_entry_that_matches() {
        let c = Catalog::parse(CATALOG.as_bytes(), &[]).unwrap();
        let table = [
            (
                ".github/workflows/ci.yml",
                Some("GitHub Workflow (**/.github/workflows/*.yml)"),
            ),
            (
                "sub/.github/workflows/ci.yaml",
                Some("GitHub Workflow (**/.github/workflows/*.yaml)"),
            ),
            (".github/workflows/nested/ci.yml", Some("any yaml (*.yml)")),
            (
                "tsconfig.build.json",
                Some("tsconfig.json (tsconfig*.json)"),
            ),
            ("web/tsconfig.json", Some("tsconfig.json (tsconfig*.json)")),
            ("crates/a/Cargo.toml", Some("Cargo.toml (Cargo.toml)")),
            ("Cargo.lock", None),
            ("src/main.rs", None),
        ];
        for (path, want) in table {
            assert_eq!(name(&c, path).as_deref(), want, "{path}");
        }
        assert_eq!(c.urls().count(), 5);
    }

    #[test]
    fn excluded_files_are_never_claimed() {
        let c = Catalog::parse(CATALOG.as_bytes(), &["vendor/**".to_owned()]).unwrap();
        assert_eq!(name(&c, "vendor/Cargo.toml"), None);
        assert!(name(&c, "Cargo.toml").is_some());
    }
}

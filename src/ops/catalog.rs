//! The schema catalog (SchemaStore's `catalog.json`): which schema a file gets by its name,
//! when no `--schema`, `[[validate]]` entry or in-file `$schema` claims it.
//!
//! Invariant: the catalog is read from `atomic.lock` and the cache like any pinned schema, never
//! from the network. Matching a file costs a hash lookup by its name, plus, for the few globs
//! with wildcards that end like it (by their literal tail), one compiled matcher each: a glob
//! is compiled the first time a file could match it, never all 2,700 at start (compiling them
//! into one `GlobSet` cost more than validating a hundred files). The first entry (in catalog
//! order) whose glob matches wins, unless one of its negated globs (`!pattern`, as VS Code reads
//! them) also matches: then the entry does not claim the file, and the next one may.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
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

/// One usable glob of the catalog, in catalog order.
#[derive(Debug)]
struct Pattern {
    /// (entry, index in its `file_match`).
    owner: (usize, usize),
    /// As a path glob (see [`normalize`]).
    glob: String,
    /// Compiled on first use; `None` if it does not compile.
    matcher: OnceLock<Option<GlobMatcher>>,
}

/// A negated glob of an entry (`!pattern`): a file it matches is not the entry's.
#[derive(Debug)]
struct Negation {
    /// The pattern after `!`, as a path glob.
    glob: String,
    matcher: OnceLock<Option<GlobMatcher>>,
}

/// What a path must hold for a wildcard glob to match it: checked before the glob is compiled.
#[derive(Debug)]
struct Wild {
    /// The glob's literal text after its last wildcard: the path ends with it.
    tail: String,
    /// Its other literal runs (without `{...}` or `[...]` in the glob): the path contains each.
    needles: Vec<String>,
    /// The pattern.
    n: usize,
}

impl Wild {
    fn may_match(&self, text: &str) -> bool {
        text.ends_with(self.tail.as_str()) && self.needles.iter().all(|n| text.contains(n.as_str()))
    }
}

/// A parsed catalog, indexed for matching.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    patterns: Vec<Pattern>,
    /// Globs with no wildcard, by their last component: `**/NAME`, `NAME` or `dir/NAME`.
    literal: HashMap<String, Vec<usize>>,
    /// Globs with a wildcard, by the extension of their literal tail (`""`: none).
    wild: HashMap<String, Vec<Wild>>,
    /// Each entry's negated globs, by entry.
    negated: HashMap<usize, Vec<Negation>>,
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
    /// that do not compile are left out; a negation (`!x`) that does not compile excludes
    /// nothing.
    pub fn parse(body: &[u8], exclude: &[String]) -> Result<Catalog, String> {
        Catalog::from_entries(entries(body)?, exclude)
    }

    /// The catalog of these entries (in catalog order); see [`Catalog::parse`].
    fn from_entries(schemas: Vec<CatalogEntry>, exclude: &[String]) -> Result<Catalog, String> {
        let raw = Raw { schemas };
        let mut patterns = Vec::new();
        let mut literal: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wild: HashMap<String, Vec<Wild>> = HashMap::new();
        let mut negated: HashMap<usize, Vec<Negation>> = HashMap::new();
        for (e, entry) in raw.schemas.iter().enumerate() {
            if !super::pins::is_url(&entry.url) {
                continue;
            }
            for (g, pattern) in entry.file_match.iter().enumerate() {
                if let Some(glob) = pattern.strip_prefix('!').and_then(normalize) {
                    negated.entry(e).or_default().push(Negation {
                        glob,
                        matcher: OnceLock::new(),
                    });
                    continue;
                }
                let Some(glob) = normalize(pattern) else {
                    continue;
                };
                let n = patterns.len();
                let last = glob.rsplit('/').next().unwrap_or(&glob).to_owned();
                let body = glob.strip_prefix("**/").unwrap_or(&glob);
                match body.rfind(is_meta) {
                    None => literal.entry(last).or_default().push(n),
                    Some(i) => {
                        // `a/**/b.json` also matches `a/b.json`: the tail is `b.json`.
                        let tail = body[i + 1..].trim_start_matches('/').to_owned();
                        let ext = tail
                            .rsplit_once('.')
                            .map(|(_, x)| x.to_owned())
                            .unwrap_or_default();
                        let needles = if glob.contains(['{', '[']) {
                            Vec::new()
                        } else {
                            glob.split(is_meta)
                                .map(|run| run.trim_matches('/'))
                                .filter(|run| !run.is_empty())
                                .map(str::to_owned)
                                .collect()
                        };
                        wild.entry(ext).or_default().push(Wild { tail, needles, n });
                    }
                }
                patterns.push(Pattern {
                    owner: (e, g),
                    glob,
                    matcher: OnceLock::new(),
                });
            }
        }
        let mut ex = GlobSetBuilder::new();
        for g in exclude {
            ex.add(Glob::new(g).map_err(|e| format!("[catalog] exclude: bad glob `{g}`: {e}"))?);
        }
        let exclude = ex.build().map_err(|e| format!("[catalog] exclude: {e}"))?;
        Ok(Catalog {
            entries: raw.schemas,
            patterns,
            literal,
            wild,
            negated,
            exclude,
        })
    }

    /// For the corpus test (`tests/it/catalog_corpus.rs`): every path (those given, and one
    /// filled in from each glob of the first `per_entries` entries, at the root and deep) whose
    /// entry from [`Catalog::find`] differs from what one plain `GlobSet` of every glob says.
    #[doc(hidden)]
    pub fn disagreements_with_globset(&self, given: &[&str], per_entries: usize) -> Vec<String> {
        let mut b = GlobSetBuilder::new();
        let mut owners = Vec::new();
        for p in &self.patterns {
            if let Ok(g) = GlobBuilder::new(&p.glob).literal_separator(true).build() {
                b.add(g);
                owners.push(p.owner.0);
            }
        }
        let mut nb = GlobSetBuilder::new();
        let mut negation_owners = Vec::new();
        for (&e, negations) in &self.negated {
            for n in negations {
                if let Ok(g) = GlobBuilder::new(&n.glob).literal_separator(true).build() {
                    nb.add(g);
                    negation_owners.push(e);
                }
            }
        }
        let (Ok(set), Ok(negations)) = (b.build(), nb.build()) else {
            return vec!["the catalog's globs do not build into one GlobSet".into()];
        };
        let mut paths: Vec<String> = given.iter().map(|p| (*p).to_owned()).collect();
        for e in self.entries.iter().take(per_entries) {
            for g in &e.file_match {
                // A path the glob should match: its wildcards filled in.
                let p = g
                    .trim_start_matches("**/")
                    .replace("**/", "x/")
                    .replace(['*', '?'], "a");
                paths.push(format!("deep/dir/{p}"));
                paths.push(p);
            }
        }
        paths
            .iter()
            .filter_map(|p| {
                let negated: Vec<usize> = negations
                    .matches(p)
                    .into_iter()
                    .map(|i| negation_owners[i])
                    .collect();
                let want = set
                    .matches(p)
                    .into_iter()
                    .map(|i| owners[i])
                    .find(|e| !negated.contains(e));
                let got = self
                    .find(Path::new(p))
                    .and_then(|m| self.entries.iter().position(|e| std::ptr::eq(e, m.entry)));
                (got != want).then(|| format!("{p}: index says {got:?}, GlobSet says {want:?}"))
            })
            .collect()
    }

    /// The entry for the file at `rel` (relative to the root), and the glob that matched.
    pub fn find(&self, rel: &Path) -> Option<CatalogMatch<'_>> {
        if self.exclude.is_match(rel) {
            return None;
        }
        let text = rel.to_str()?;
        let name = text.rsplit('/').next().unwrap_or(text);
        let ext = name.rsplit_once('.').map_or("", |(_, x)| x);
        let literal = self.literal.get(name).into_iter().flatten().copied();
        let wild = [ext, ""]
            .into_iter()
            .filter_map(|x| self.wild.get(x))
            .flatten()
            .filter(|w| w.may_match(text))
            .map(|w| w.n);
        let mut candidates: Vec<usize> = literal.chain(wild).collect();
        // Catalog order: the first entry that matches wins.
        candidates.sort_unstable();
        let n = candidates
            .into_iter()
            .find(|&n| self.matches(n, rel) && !self.negated(self.patterns[n].owner.0, rel))?;
        let (e, g) = self.patterns[n].owner;
        let entry = &self.entries[e];
        Some(CatalogMatch {
            entry,
            glob: &entry.file_match[g],
        })
    }

    fn matches(&self, n: usize, rel: &Path) -> bool {
        let p = &self.patterns[n];
        p.matcher
            .get_or_init(|| compile(&p.glob))
            .as_ref()
            .is_some_and(|m| m.is_match(rel))
    }

    /// Whether a negated glob of entry `e` matches `rel`.
    fn negated(&self, e: usize, rel: &Path) -> bool {
        self.negated.get(&e).is_some_and(|negations| {
            negations.iter().any(|n| {
                n.matcher
                    .get_or_init(|| compile(&n.glob))
                    .as_ref()
                    .is_some_and(|m| m.is_match(rel))
            })
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

/// A catalog glob's matcher: `*` never crosses a `/`.
fn compile(glob: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The entries of a catalog body, in catalog order.
fn entries(body: &[u8]) -> Result<Vec<CatalogEntry>, String> {
    serde_json::from_slice::<Raw>(body)
        .map(|r| r.schemas)
        .map_err(|e| format!("the catalog is not a schema catalog: {e}"))
}

/// The compact index of a catalog: its entries' names, URLs and globs and nothing else (the
/// catalog's descriptions and versions are most of its 470 KB), length-prefixed, so that a run
/// reads a few hundred KB less and parses no JSON. Kept in the schema cache under the catalog
/// body's sha256 ([`super::pins::Cache::read_derived`] checks its own digest).
mod index {
    use super::CatalogEntry;

    /// The format's name and version: a new one never reads an old one.
    pub(super) const KIND: &str = "catalog-index-v1";

    pub(super) fn encode(entries: &[CatalogEntry]) -> Vec<u8> {
        let mut out = Vec::new();
        let put = |s: &str, out: &mut Vec<u8>| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in entries {
            put(&e.name, &mut out);
            put(&e.url, &mut out);
            out.extend_from_slice(&(e.file_match.len() as u32).to_le_bytes());
            for g in &e.file_match {
                put(g, &mut out);
            }
        }
        out
    }

    /// `None` for anything [`encode`] did not write.
    pub(super) fn decode(mut bytes: &[u8]) -> Option<Vec<CatalogEntry>> {
        fn number(bytes: &mut &[u8]) -> Option<usize> {
            let (n, rest) = bytes.split_first_chunk::<4>()?;
            *bytes = rest;
            Some(u32::from_le_bytes(*n) as usize)
        }
        fn text(bytes: &mut &[u8]) -> Option<String> {
            let n = number(bytes)?;
            let (s, rest) = bytes.split_at_checked(n)?;
            *bytes = rest;
            String::from_utf8(s.to_vec()).ok()
        }
        let count = number(&mut bytes)?;
        // Each entry takes at least 12 bytes: a count that the bytes cannot hold is damage.
        let mut out = Vec::with_capacity(count.min(bytes.len() / 12));
        for _ in 0..count {
            let name = text(&mut bytes)?;
            let url = text(&mut bytes)?;
            let globs = number(&mut bytes)?;
            let mut file_match = Vec::with_capacity(globs.min(bytes.len() / 4));
            for _ in 0..globs {
                file_match.push(text(&mut bytes)?);
            }
            out.push(CatalogEntry {
                name,
                url,
                file_match,
            });
        }
        bytes.is_empty().then_some(out)
    }
}

fn is_meta(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '{' | '}')
}

/// A catalog glob as a path glob. SchemaStore's globs follow VS Code's: one without a `/`
/// matches a file name in any directory; one with a `/` is relative to the root unless it
/// starts with `**/`. `*` never crosses a `/`.
fn normalize(pattern: &str) -> Option<String> {
    if pattern.starts_with('!') || pattern.is_empty() {
        return None;
    }
    let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    Some(if pattern.starts_with("**/") || pattern.contains('/') {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    })
}

/// The workspace's catalog, when it applies: enabled, and pinned by `atomic.lock` (until
/// `cargo atomic fetch` pins it, validation has no catalog). A pinned catalog whose cached body
/// is missing or refused is an error naming the fix. Its entries come from the compact index
/// the cache keeps under the catalog's digest, when it is there and whole; else from the body,
/// after which the index is kept for the next run (best effort: a cache that cannot be written
/// only costs the next run the same parse).
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
    let indexed = match (&pins.cache, pins.lock.schemas.get(&cfg.url)) {
        (Some(cache), Some(sha)) if pins.lock_error.is_none() => Some((cache, sha)),
        _ => None,
    };
    let kept = indexed
        .and_then(|(cache, sha)| cache.read_derived(index::KIND, sha))
        .and_then(|bytes| index::decode(&bytes));
    let entries = match kept {
        Some(entries) => entries,
        None => {
            let body = pins.body(&cfg.url).map_err(config_error)?;
            let entries = entries(&body).map_err(config_error)?;
            if let Some((cache, sha)) = indexed {
                cache.put_derived(index::KIND, sha, &index::encode(&entries));
            }
            entries
        }
    };
    Catalog::from_entries(entries, &cfg.exclude)
        .map(Some)
        .map_err(config_error)
}

/// Whether the catalog applies at all (enabled, and its URL in `atomic.lock`): cheap, for
/// deciding before [`active`] loads it. An unreadable lock counts as yes, so that [`active`]
/// reports it.
pub(crate) fn pinned(ws: &super::Workspace) -> bool {
    let cfg = &ws.config.catalog;
    cfg.enabled
        && match super::pins::Lock::read(&ws.root) {
            Ok(lock) => lock.is_some_and(|l| l.schemas.contains_key(&cfg.url)),
            Err(_) => true,
        }
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
    fn a_negated_glob_takes_its_files_from_its_entry_only() {
        // SchemaStore's `fileMatch` may hold `!pattern` (VS Code's negation): `skip.yml` is not
        // "any yaml"'s, anywhere, and then the next entry that matches may claim it.
        let c = Catalog::parse(CATALOG.as_bytes(), &[]).unwrap();
        assert_eq!(name(&c, "skip.yml"), None);
        assert_eq!(name(&c, "deep/dir/skip.yml"), None);
        assert_eq!(name(&c, "keep.yml").as_deref(), Some("any yaml (*.yml)"));
        let with_fallback = CATALOG.replace(
            r#"{"name": "no files""#,
            r#"{"name": "skips", "url": "https://example.com/s.json", "fileMatch": ["skip.yml"]},
      {"name": "no files""#,
        );
        let c = Catalog::parse(with_fallback.as_bytes(), &[]).unwrap();
        assert_eq!(name(&c, "a/skip.yml").as_deref(), Some("skips (skip.yml)"));
        assert_eq!(name(&c, "a/keep.yml").as_deref(), Some("any yaml (*.yml)"));
        // The index agrees with one GlobSet that honours negations the same way.
        assert_eq!(
            c.disagreements_with_globset(&["skip.yml", "a/skip.yml", "keep.yml", "x.yaml"], 10),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_compact_index_gives_back_the_same_entries_and_refuses_damage() {
        let all = entries(CATALOG.as_bytes()).unwrap();
        let bytes = index::encode(&all);
        assert_eq!(index::decode(&bytes), Some(all));
        for cut in [0, 3, 4, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(index::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(index::decode(&longer), None);
        assert_eq!(index::decode(&[0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn excluded_files_are_never_claimed() {
        let c = Catalog::parse(CATALOG.as_bytes(), &["vendor/**".to_owned()]).unwrap();
        assert_eq!(name(&c, "vendor/Cargo.toml"), None);
        assert!(name(&c, "Cargo.toml").is_some());
    }
}

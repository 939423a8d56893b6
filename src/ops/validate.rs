//! `validate [PATHS]... [--schema S]`: parse each file, validate it against the schema that
//! applies, and report every finding at its place in the source.
//!
//! Which schema applies: `--schema` > the `[[validate]]` entries whose globs match > the file's
//! own `$schema` (JSON, YAML) or `#:schema` comment (TOML). Files are parsed and validated in
//! parallel; each schema is compiled once. Span indexes are built only for files with findings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use super::place::{place_at, problem_diagnostic, schema_diagnostic};
use super::schemas::{SchemaCache, schema_target};
use super::staged::Overlay;
use super::{Error, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::doc::schema::Schema;
use crate::doc::{self, Format, Limits, Span, SpanIndex, Syntax, Tape};
use crate::event::{Event, Progress, Sink};

/// What to validate.
#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    /// Files, relative to the current directory or absolute; empty: what the config names.
    pub paths: Vec<PathBuf>,
    /// A schema for all of them, overriding config and in-file schemas.
    pub schema: Option<PathBuf>,
    /// Assert `format` keywords (on by default).
    pub format_checks: bool,
    /// A file no schema applies to is only parsed, without a warning (for hooks, which are
    /// handed every file of a kind).
    pub quiet_without_schema: bool,
    /// With no paths and no `[[validate]]` entry, warn that there is nothing to validate (the
    /// `validate` command; `check` says it for its whole run instead).
    pub say_why_empty: bool,
}

/// A warning that a run looked at no file, and why.
pub(crate) fn nothing_to_do(ws: &Workspace, why: &str) -> Diagnostic {
    // With no configuration file, the finding names the one to create.
    let (file, note) = match ws.config_source.as_deref() {
        Some(p) => (
            ws.shown(p),
            "name files on the command line, or add a [[validate]] entry (`files` globs and a `schema`) to it",
        ),
        None => (
            PathBuf::from("atomic.toml"),
            "there is no atomic.toml: name files on the command line, or create one with a [[validate]] entry (`files` globs and a `schema`; `cargo atomic init` writes a starter)",
        ),
    };
    let mut d = Diagnostic::error(Code::Config, file, why).with_note(note);
    d.severity = Severity::Warning;
    d
}

/// One file to check and where its schema comes from.
#[derive(Debug, Clone)]
struct Job {
    /// Absolute.
    path: PathBuf,
    /// As reported: relative to the root when inside it.
    shown: PathBuf,
    /// Absolute schema path from the flag or config; `None`: look in the file.
    schema: Option<PathBuf>,
    /// How to read it when the config says (`[[validate]] format`); `None`: by its name.
    syntax: Option<Syntax>,
    /// The catalog's schema URL for it: used when the file names none itself.
    catalog: Option<PathBuf>,
}

/// From how many files on validation reports its progress.
const PROGRESS_FROM: usize = 64;

/// Validates files; findings become [`Event::Diagnostic`]s.
pub fn validate(
    ws: &Workspace,
    cwd: &Path,
    req: &ValidateRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    validate_through(ws, cwd, req, &Arc::default(), sink)
}

/// [`validate`], reading the files through `overlay` (the index's contents, for
/// `check --staged`).
pub(crate) fn validate_through(
    ws: &Workspace,
    cwd: &Path,
    req: &ValidateRequest,
    overlay: &Arc<Overlay>,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let flag_schema = req.schema.as_ref().map(|s| schema_target(cwd, s));
    let cache = SchemaCache::through(
        ws,
        req.format_checks,
        flag_schema.as_deref(),
        Arc::clone(overlay),
    );
    let limits = Limits::default();
    let (jobs, mut results, unmatched) = std::thread::scope(|scope| {
        // The schema of `--schema` applies to every file: compile it beside listing and
        // parsing them rather than before. For one small file, compiling is most of the work.
        // One file named on the command line gains nothing from it: its schema is needed next,
        // and starting a thread costs more than reading the file.
        if let Some(flag) = flag_schema.as_deref()
            && req.paths.len() != 1
        {
            let cache = &cache;
            scope.spawn(move || drop(cache.get(flag)));
        }
        let (jobs, unmatched) = if req.paths.is_empty() {
            config_jobs(ws)?
        } else {
            (explicit_jobs(ws, cwd, &req.paths, overlay)?, Vec::new())
        };
        let check = |job: &Job| {
            let quiet = req.quiet_without_schema;
            check_file(job, flag_schema.as_deref(), quiet, &cache, &limits, overlay)
        };
        // One file needs no thread pool (starting one costs more than a small file).
        let results: Vec<Vec<Diagnostic>> = if jobs.len() == 1 {
            jobs.iter().map(check).collect()
        } else if jobs.len() < PROGRESS_FROM {
            jobs.par_iter().map(check).collect()
        } else {
            // Many files: the pool works as for few, counting files done; this thread reports
            // the count for a progress display. Findings are still reported in file order.
            let done = std::sync::atomic::AtomicU64::new(0);
            let mut progress = Progress::new("validating files", jobs.len() as u64);
            let reporter = std::thread::current();
            std::thread::scope(|s| {
                let worker = s.spawn(|| {
                    let results = jobs
                        .par_iter()
                        .map(|job| {
                            let found = check(job);
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            found
                        })
                        .collect::<Vec<_>>();
                    // Done: wake the reporter now rather than at its next tick.
                    reporter.unpark();
                    results
                });
                let mut reported = 0;
                while !worker.is_finished() {
                    std::thread::park_timeout(std::time::Duration::from_millis(50));
                    let now = done.load(std::sync::atomic::Ordering::Relaxed);
                    for _ in reported..now {
                        progress.tick(sink);
                    }
                    reported = now;
                }
                let results = worker
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                for _ in reported..results.len() as u64 {
                    progress.tick(sink);
                }
                results
            })
        };
        Ok::<_, Error>((jobs, results, unmatched))
    })?;
    let mut outcome = Outcome {
        files: jobs.len(),
        ..Outcome::default()
    };
    // A glob that matches nothing is most often a typo that would pass CI silently.
    for d in unmatched {
        outcome.warnings += 1;
        sink.event(Event::Diagnostic(d));
    }
    if jobs.is_empty() && req.paths.is_empty() && req.say_why_empty && ws.config.validate.is_empty()
    {
        outcome.warnings += 1;
        let mut d = nothing_to_do(
            ws,
            "nothing to validate: the configuration has no [[validate]] entry",
        );
        if ws.config.catalog.enabled && !super::catalog::pinned(ws) {
            // The zero-config path: what a new user most likely wants.
            d.notes.insert(
                0,
                "`cargo atomic fetch` pins the SchemaStore catalog (in atomic.lock); from then on \
                 `validate` checks every file it has a schema for, offline"
                    .into(),
            );
        }
        sink.event(Event::Diagnostic(d));
    }
    // A schema that does not compile is reported once, not once per file.
    let mut seen_config = std::collections::HashSet::new();
    for diags in results.iter_mut() {
        for d in diags.drain(..) {
            if d.code == Code::Config && !seen_config.insert((d.file.clone(), d.message.clone())) {
                continue;
            }
            match d.severity {
                Severity::Error if d.code == Code::Config => outcome.fatal += 1,
                Severity::Error => outcome.errors += 1,
                Severity::Warning => outcome.warnings += 1,
            }
            sink.event(Event::Diagnostic(d));
        }
    }
    super::discard(cache);
    Ok(outcome)
}

fn explicit_jobs(
    ws: &Workspace,
    cwd: &Path,
    paths: &[PathBuf],
    overlay: &Overlay,
) -> Result<Vec<Job>, Error> {
    let entries = compiled_entries(ws)?;
    let catalog = super::catalog::active(ws)?;
    let job = |path: PathBuf| {
        let shown = ws.shown(&path);
        let entry = entries.iter().find(|e| e.files.is_match(&shown));
        let catalog = match (entry, &catalog) {
            (None, Some(c)) => c.find(&shown).map(|m| PathBuf::from(&m.entry.url)),
            _ => None,
        };
        Job {
            path,
            schema: entry.map(|e| schema_target(&ws.root, &e.schema)),
            syntax: entry.and_then(|e| e.syntax),
            catalog,
            shown,
        }
    };
    let mut jobs = Vec::new();
    for p in paths {
        let path = cwd.join(p);
        // A typo on the command line is a usage error, not a finding about the file.
        if let Err(e) = std::fs::symlink_metadata(&path)
            && e.kind() == std::io::ErrorKind::NotFound
            && !overlay.covers(&path)
        {
            return Err(Error::Usage(format!("`{}` does not exist", p.display())));
        }
        if !path.is_dir() {
            jobs.push(job(path));
            continue;
        }
        // A directory: the files under it that a [[validate]] entry or the catalog claims, or
        // that are JSON, YAML or TOML by name (`.gitignore` respected; never `.git/`, `target/`
        // nor the state directory).
        let state = ws.root.join(&ws.config.settings.state_dir);
        let target = ws.root.join("target");
        let mut under = Vec::new();
        let walker = ignore::WalkBuilder::new(&path)
            .hidden(false)
            .filter_entry(move |e| {
                e.file_name() != ".git" && e.path() != state && e.path() != target
            })
            .build();
        for entry in walker {
            let entry =
                entry.map_err(|e| Error::Usage(format!("cannot list `{}`: {e}", p.display())))?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let j = job(entry.path().to_owned());
            let claimed = j.schema.is_some() || j.catalog.is_some();
            if claimed || Syntax::from_path(&j.path).is_some() {
                under.push(j);
            }
        }
        under.sort_by(|a, b| a.shown.cmp(&b.shown));
        jobs.extend(under);
    }
    super::discard(catalog);
    Ok(jobs)
}

/// The schema `[[validate]]` gives the file shown as `shown` (relative to the root): the first
/// entry whose globs match.
pub(crate) fn configured_schema(ws: &Workspace, shown: &Path) -> Result<Option<PathBuf>, Error> {
    Ok(compiled_entries(ws)?
        .into_iter()
        .find(|e| e.files.is_match(shown))
        .map(|e| schema_target(&ws.root, &e.schema)))
}

/// The globs of every `[[validate]]` entry: the files the config claims (`fetch` leaves those
/// to their entries rather than to the catalog).
pub(crate) fn claimed_by_config(ws: &Workspace) -> Result<Vec<GlobSet>, Error> {
    Ok(compiled_entries(ws)?.into_iter().map(|e| e.files).collect())
}

/// A `[[validate]]` entry with its globs compiled.
struct Entry {
    files: GlobSet,
    schema: PathBuf,
    syntax: Option<Syntax>,
}

fn compiled_entries(ws: &Workspace) -> Result<Vec<Entry>, Error> {
    ws.config
        .validate
        .iter()
        .map(|e| {
            let mut b = GlobSetBuilder::new();
            for g in &e.files {
                let glob = Glob::new(g).map_err(|err| Error::Config {
                    path: ws.config_source.clone().unwrap_or_default(),
                    message: format!("[[validate]] files: bad glob `{g}`: {err}"),
                })?;
                b.add(glob);
            }
            let set = b.build().map_err(|err| Error::Config {
                path: ws.config_source.clone().unwrap_or_default(),
                message: err.to_string(),
            })?;
            Ok(Entry {
                files: set,
                schema: e.schema.clone(),
                syntax: e.format.map(|f| f.syntax()),
            })
        })
        .collect()
}

/// Every file the `[[validate]]` entries name, and every other file the catalog (when it
/// applies) has a schema for, walking the root with `.gitignore` respected; never `target/`
/// nor the state directory.
///
/// Also a warning for each `[[validate]]` glob that matched no file, at its place in the
/// configuration.
fn config_jobs(ws: &Workspace) -> Result<(Vec<Job>, Vec<Diagnostic>), Error> {
    let entries = compiled_entries(ws)?;
    let catalog_on = super::catalog::pinned(ws);
    if entries.is_empty() && !catalog_on {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut matched: Vec<Vec<bool>> = ws
        .config
        .validate
        .iter()
        .map(|e| vec![false; e.files.len()])
        .collect();
    for e in &entries {
        check_inside(ws, &e.schema)?;
    }
    // The catalog (a large JSON to verify, parse and index) loads on another thread while
    // this one walks the tree; the files no entry claims are matched against it afterwards.
    std::thread::scope(|scope| {
        let loading = catalog_on.then(|| scope.spawn(|| super::catalog::active(ws)));
        let mut jobs = Vec::new();
        let mut unclaimed = Vec::new();
        let state = ws.root.join(&ws.config.settings.state_dir);
        let target = ws.root.join("target");
        let walker = ignore::WalkBuilder::new(&ws.root)
            .hidden(false)
            .filter_entry(move |e| {
                e.file_name() != ".git" && e.path() != state && e.path() != target
            })
            .build();
        for entry in walker {
            let entry =
                entry.map_err(|e| Error::Usage(format!("cannot list the workspace: {e}")))?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let rel = ws.shown(entry.path());
            let before = jobs.len();
            for (n, e) in entries.iter().enumerate() {
                let which = e.files.matches(&rel);
                for &g in &which {
                    matched[n][g] = true;
                }
                if !which.is_empty() {
                    jobs.push(Job {
                        path: entry.path().to_owned(),
                        shown: rel.clone(),
                        schema: Some(schema_target(&ws.root, &e.schema)),
                        syntax: e.syntax,
                        catalog: None,
                    });
                }
            }
            if jobs.len() == before && catalog_on && super::catalog::readable(&rel) {
                unclaimed.push((entry.path().to_owned(), rel));
            }
        }
        let catalog = match loading {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => None,
        };
        if let Some(catalog) = &catalog {
            for (path, rel) in unclaimed {
                if let Some(m) = catalog.find(&rel) {
                    jobs.push(Job {
                        path,
                        shown: rel,
                        schema: None,
                        syntax: None,
                        catalog: Some(PathBuf::from(&m.entry.url)),
                    });
                }
            }
        }
        // Thousands of small strings: left to the process exit when it is about to come.
        super::discard(catalog);
        jobs.sort_by(|a, b| a.shown.cmp(&b.shown));
        let mut unmatched = Vec::new();
        for (n, globs) in matched.iter().enumerate() {
            for (g, _) in globs.iter().enumerate().filter(|(_, m)| !**m) {
                unmatched.push(unmatched_glob(ws, n, g));
            }
        }
        Ok((jobs, unmatched))
    })
}

/// The warning for glob `g` of `[[validate]]` entry `n`, which matched no file.
fn unmatched_glob(ws: &Workspace, n: usize, g: usize) -> Diagnostic {
    let glob = &ws.config.validate[n].files[g];
    let message = format!("[[validate]] glob `{glob}` matches no file");
    let origin = super::show_config::config_origin(ws, &format!("/validate/{n}/files/{g}"));
    let file = match &origin {
        Some((file, ..)) => file.clone(),
        None => nothing_to_do(ws, "").file,
    };
    let mut d = Diagnostic::error(Code::Config, file, message)
        .with_note("no file under the workspace root (outside .gitignore) has that path; a typo?");
    d.severity = Severity::Warning;
    if let Some((_, text, index, at)) = &origin {
        place_at(&mut d, text, index, at);
    }
    d
}

/// A path named by the config must stay inside the workspace.
fn check_inside(ws: &Workspace, rel: &Path) -> Result<(), Error> {
    let escapes = rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if escapes {
        return Err(Error::Config {
            path: ws.config_source.clone().unwrap_or_default(),
            message: format!("`{}` points outside the workspace", rel.display()),
        });
    }
    Ok(())
}

/// Parses `job`'s file and validates it against its schema. A file no schema applies to is only
/// parsed: with a warning, unless `quiet_without_schema`.
fn check_file(
    job: &Job,
    flag: Option<&Path>,
    quiet_without_schema: bool,
    cache: &SchemaCache,
    limits: &Limits,
    overlay: &Overlay,
) -> Vec<Diagnostic> {
    let file = &job.shown;
    // A file the catalog names without an extension we know (`.eslintrc`) is JSON with comments.
    let by_catalog = job.catalog.as_ref().map(|_| Syntax {
        format: Format::Json,
        jsonc: true,
    });
    let syntax = job.syntax.or_else(|| Syntax::from_path(&job.path));
    let Some(syntax) = syntax.or(by_catalog) else {
        return vec![
            Diagnostic::error(
                Code::Parse,
                file,
                "unknown format: expected a .json, .jsonc, .yaml, .yml or .toml file",
            )
            .with_note("name its format with `format = \"json\"` (or jsonc, yaml, toml) in its [[validate]] entry"),
        ];
    };
    let format = syntax.format;
    let bytes = match overlay.read(&job.path) {
        Ok(b) => b,
        Err(e) => {
            return vec![Diagnostic::error(
                Code::Io,
                file,
                format!("cannot read the file: {e}"),
            )];
        }
    };
    // JSONC is read as JSON with its comments blanked in place: spans stay the original's.
    let read = syntax.reader_text(&bytes);
    let docs = match doc::parse_tapes(format, &read, limits) {
        // An empty YAML stream holds no document; it is validated as `null` (an empty tape),
        // as YAML loaders read it, so that an emptied config cannot pass a schema that wants
        // an object.
        Ok(d) if d.is_empty() => vec![Tape::new("")],
        Ok(d) => d,
        Err(p) => {
            let text = String::from_utf8_lossy(&bytes);
            return vec![problem_diagnostic(file, &text, &p)];
        }
    };
    let schema_path = match flag.map(Path::to_owned).or_else(|| job.schema.clone()) {
        Some(s) => Some(s),
        None => {
            let named = docs.first().and_then(Tape::root);
            let named = named.and_then(|r| r.get("$schema")?.as_str());
            in_file_schema(format, &bytes, named, &job.path).or_else(|| job.catalog.clone())
        }
    };
    let Some(schema_path) = schema_path else {
        if quiet_without_schema {
            return Vec::new();
        }
        let mut d = Diagnostic::error(
            Code::Config,
            file,
            "no schema applies to this file; only its syntax was checked",
        );
        d.severity = Severity::Warning;
        return vec![d.with_note(
            "name one with --schema, a [[validate]] entry, or $schema / #:schema in the file",
        )];
    };
    let schema = match cache.get(&schema_path) {
        Ok(s) => s,
        Err(d) if super::schemas::remote(&schema_path).is_some() => {
            // A remote schema that is not pinned (or whose cached body is refused) is a finding
            // of the file that needs it, placed at its in-file `$schema` when it has one.
            let mut d = *d;
            d.file = file.clone();
            if job.schema.is_none() && flag.is_none() {
                place_url(&mut d, &bytes, &schema_path.to_string_lossy());
            }
            return vec![d];
        }
        Err(d) => return vec![*d],
    };
    findings(&schema, file, format, &bytes, &read, &docs)
}

/// The most (subschema, value) paths the errors of one invalid document may be collected over
/// (each keeps its errors in memory): past it, a `limit` finding.
const MAX_ERROR_PATHS: u64 = 1_000_000;

/// The findings of every document of a parsed file.
fn findings(
    schema: &Schema,
    file: &Path,
    format: Format,
    bytes: &[u8],
    read: &[u8],
    docs: &[Tape<'_>],
) -> Vec<Diagnostic> {
    let multi = docs.len() > 1;
    let mut out = Vec::new();
    let mut indexes: Option<Vec<SpanIndex>> = None;
    for (n, value) in docs.iter().enumerate() {
        if schema.is_valid_tape(value) {
            continue;
        }
        // The bytes parsed, so they are UTF-8; checked again only for files with findings.
        // The index is of what was read; the lines shown are the original's (comments kept).
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        let ix = indexes
            .get_or_insert_with(|| doc::index(format, std::str::from_utf8(read).unwrap_or(text)));
        let index = ix.get(n);
        if schema.explaining_exceeds(value, MAX_ERROR_PATHS) {
            let mut d = Diagnostic::error(
                Code::Limit,
                file,
                format!(
                    "the document is not valid, and explaining why would walk more than {MAX_ERROR_PATHS} paths through the schema's recursive forms"
                ),
            )
            .with_note("simplify the schema's recursive anyOf/oneOf, or the document's nesting");
            if multi {
                d.document = Some(n);
            }
            out.push(d);
            continue;
        }
        for err in schema.validate_tape(value) {
            let mut d = schema_diagnostic(file, text, index, &err);
            if multi {
                d.document = Some(n);
            }
            out.push(d);
        }
    }
    out
}

/// `$schema` at the top of a JSON or YAML document, a `# yaml-language-server: $schema=`
/// modeline heading a YAML file, or a `#:schema` comment heading a TOML file, relative to the
/// file's directory. A URL is kept as it is: its body comes from `atomic.lock` and the cache.
pub(crate) fn in_file_schema(
    format: Format,
    bytes: &[u8],
    dollar_schema: Option<&str>,
    path: &Path,
) -> Option<PathBuf> {
    let named = match format {
        Format::Yaml => match dollar_schema {
            Some(s) => s.to_owned(),
            None => yaml_modeline(bytes)?,
        },
        Format::Json => dollar_schema?.to_owned(),
        Format::Toml => {
            let text = std::str::from_utf8(bytes).ok()?;
            text.lines()
                .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
                .find_map(|l| {
                    l.trim_start()
                        .strip_prefix("#:schema")
                        .map(|s| s.trim().to_owned())
                })?
        }
    };
    if super::pins::is_url(&named) {
        // A schema file's own `$schema` names its draft's meta-schema, not a schema to validate
        // it with here (jsonschema has the drafts built in; nothing to fetch).
        if named.contains("://json-schema.org/") {
            return None;
        }
        return Some(PathBuf::from(named));
    }
    if named.contains("://") {
        // Other schemes (file://, ...) are not taken from the file itself.
        return None;
    }
    Some(path.parent()?.join(named))
}

/// The schema of a `# yaml-language-server: $schema=URL` comment among a YAML file's leading
/// comment lines (the modeline the YAML language server reads).
pub(crate) fn yaml_modeline(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines()
        .take_while(|l| {
            let l = l.trim_start();
            l.starts_with('#') || l.is_empty() || l == "---"
        })
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix('#')?.trim_start();
            let rest = rest.strip_prefix("yaml-language-server:")?.trim_start();
            Some(rest.strip_prefix("$schema=")?.trim().to_owned())
        })
        .filter(|s| !s.is_empty())
}

/// Places `d` at the first place `url` is written in the file (its `$schema`, `#:schema` or
/// modeline), when it is there.
fn place_url(d: &mut Diagnostic, bytes: &[u8], url: &str) {
    let text = String::from_utf8_lossy(bytes);
    for (n, line) in text.lines().enumerate() {
        if let Some(col) = line.find(url) {
            let column = line[..col].chars().count() as u32 + 1;
            let end = column + url.chars().count() as u32;
            let pos = |column| doc::Pos {
                line: n as u32 + 1,
                column,
            };
            super::place::at_span(
                d,
                &text,
                Span {
                    start: pos(column),
                    end: pos(end),
                },
            );
            return;
        }
    }
}

//! `fetch`: the only command that uses the network. Resolves every remote schema the workspace
//! uses — `--schema`, `[[validate]]`/`[[merge]]` schemas, in-file `$schema` / `#:schema` /
//! `# yaml-language-server: $schema=`, the catalog and the schemas it picks for workspace files —
//! plus every `$ref` they reach, keeps each body in the content-addressed cache, and pins them
//! all in `atomic.lock`.
//!
//! Invariant: the HTTP client is the caller's ([`Http`], the CLI's; the library has none).
//! Nothing is written unless everything resolved (and, under `--locked`, the lock stays as it
//! is): downloaded bodies are held in memory until then, so on any failure the lock and the
//! cache are as they were. Then the new bodies go into the cache first and the lock last
//! (atomically), so a lock never pins a body the cache lacks, even after a crash. The lock
//! keeps the original URLs; `[schemas] mirror` only changes where they are downloaded from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::pins::{Cache, LOCK_FILE, Lock, is_url};
use super::{Error, Workspace};
use crate::digest::Sha256Digest;
use crate::doc::schema::{self, CompileOptions, SchemaSource};
use crate::doc::{self, Limits, Syntax};
use crate::event::{Event, Progress, Sink};

/// A blocking HTTP GET: the body of `url`, or one line naming the URL and what went wrong.
/// Timeouts, retries, the size cap ([`super::pins::MAX_BODY`]) and proxies are its business.
pub trait Http: Send + Sync {
    /// The body at `url` (`http://` only when a mirror names it).
    fn get(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// What to fetch and how.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// A schema named on the command line, as `validate --schema` takes it.
    pub schema: Option<PathBuf>,
    /// Fail if the lock would change (`--locked`).
    pub locked: bool,
    /// Never use the network: fill the lock from the cache only (`--offline`).
    pub offline: bool,
    /// Download again even what the lock pins and the cache holds (`--update`).
    pub update: bool,
    /// With `update`: only these URLs (`--update URL`); empty: every one.
    pub only: Vec<String>,
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Every pinned URL and its digest, sorted.
    pub pinned: BTreeMap<String, Sha256Digest>,
    /// How many bodies came from the network this run.
    pub downloaded: usize,
    /// URLs whose pin is new or changed, and URLs no longer pinned.
    pub changed: Vec<String>,
    /// Schemas that were fetched but do not compile (validation will say so at each file).
    pub warnings: Vec<String>,
    /// With `--update`, when a pin changed: the workspace files that pass under the old pins
    /// and fail under the new ones, sorted.
    pub now_failing: Vec<PathBuf>,
}

/// Resolves, downloads and pins; see the module docs.
pub fn fetch(
    ws: &Workspace,
    cwd: &Path,
    req: &FetchRequest,
    http: Arc<dyn Http>,
    sink: &mut dyn Sink,
) -> Result<FetchOutcome, Error> {
    let fail = |message: String| Error::Fetch { message };
    let old = Lock::read(&ws.root).map_err(fail)?.unwrap_or_default();
    if let Some(u) = req.only.iter().find(|u| !old.schemas.contains_key(*u)) {
        return Err(fail(format!(
            "`{u}` is not pinned in {LOCK_FILE}: `cargo atomic fetch` pins what the workspace uses"
        )));
    }
    let cache = Cache::from_env().ok_or_else(|| {
        fail("no schema cache: set CARGO_ATOMIC_CACHE, CARGO_HOME or HOME".into())
    })?;
    let mut mirror: Vec<(String, String)> = ws
        .config
        .schemas
        .mirror
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    mirror.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut local = super::schemas::FileSource::new(ws);
    if let Some(dir) = req.schema.as_ref().map(|s| cwd.join(s)) {
        local.allow(dir.parent().unwrap_or(&ws.root));
    }
    let net = Arc::new(Net {
        local,
        http,
        mirror,
        old: old.clone(),
        cache,
        offline: req.offline,
        update: req.update,
        only: req.only.clone(),
        got: Mutex::default(),
        fresh: Mutex::default(),
        downloaded: Mutex::default(),
        failures: Mutex::default(),
    });

    let files = workspace_files(ws);
    // Every schema to compile: URLs, and local files (whose `$ref`s may name URLs), as the
    // URI they are compiled from.
    let mut roots = BTreeSet::new();
    let mut push = |named: &Path, base: &Path| {
        let uri = match named.to_str().filter(|s| is_url(s)) {
            Some(url) => strip_fragment(url).to_owned(),
            None => super::schemas::file_uri(&base.join(named)),
        };
        roots.insert(uri);
    };
    if let Some(s) = &req.schema {
        push(s, cwd);
    }
    ws.config
        .validate
        .iter()
        .for_each(|v| push(&v.schema, &ws.root));
    ws.config
        .merge
        .iter()
        .filter_map(|m| m.schema.as_ref())
        .for_each(|s| push(s, &ws.root));
    let limits = Limits::default();
    // Files that name their own schema: the catalog does not claim them.
    let mut own = BTreeSet::new();
    for (abs, rel) in &files {
        if let Some(named) = in_file(abs, &limits) {
            own.insert(rel.clone());
            push(&named, &ws.root);
        }
    }
    if ws.config.catalog.enabled {
        let url = &ws.config.catalog.url;
        let body = net.body(url).map_err(fail)?;
        let catalog = super::catalog::Catalog::parse(&body, &ws.config.catalog.exclude)
            .map_err(|m| fail(format!("`{url}`: {m}")))?;
        let claimed = super::validate::claimed_by_config(ws)?;
        for (_, rel) in &files {
            if own.contains(rel)
                || claimed.iter().any(|set| set.is_match(rel))
                || !super::catalog::readable(rel)
            {
                continue;
            }
            if let Some(m) = catalog.find(rel) {
                roots.insert(strip_fragment(&m.entry.url).to_owned());
            }
        }
    }

    let mut outcome = FetchOutcome::default();
    let mut progress = Progress::new("fetching schemas", roots.len() as u64);
    for url in &roots {
        let value = SchemaSource::fetch(&*net, url).map_err(fail)?;
        let options = CompileOptions {
            base_uri: url.clone(),
            format_checks: false,
            ..CompileOptions::default()
        };
        if let Err(p) = schema::compile(&value, &options, net.clone()) {
            let failures =
                std::mem::take(&mut *net.failures.lock().unwrap_or_else(|p| p.into_inner()));
            if let Some(first) = failures.into_iter().next() {
                return Err(fail(first));
            }
            outcome
                .warnings
                .push(format!("`{url}` does not compile: {}", p.message));
        }
        progress.tick(sink);
    }

    outcome.pinned = std::mem::take(&mut *net.got.lock().unwrap_or_else(|p| p.into_inner()));
    outcome.downloaded = *net.downloaded.lock().unwrap_or_else(|p| p.into_inner());
    let new = Lock {
        schemas: outcome.pinned.clone(),
    };
    let keys: BTreeSet<&String> = old.schemas.keys().chain(new.schemas.keys()).collect();
    outcome.changed = keys
        .into_iter()
        .filter(|k| old.schemas.get(*k) != new.schemas.get(*k))
        .cloned()
        .collect();
    let unchanged = new == old && ws.root.join(LOCK_FILE).exists();
    if !unchanged && req.locked {
        let what = if outcome.changed.is_empty() {
            "it does not exist".to_owned()
        } else {
            outcome.changed.join(", ")
        };
        return Err(fail(format!(
            "{LOCK_FILE} needs to change but --locked was given: {what}"
        )));
    }
    // A temp a killed fetch left beside the lock goes first.
    crate::store::remove_write_temps(&ws.root, LOCK_FILE.as_bytes())?;
    // The bodies before the lock that pins them.
    let fresh = std::mem::take(&mut *net.fresh.lock().unwrap_or_else(|p| p.into_inner()));
    for bytes in fresh.values() {
        net.cache.put(bytes).map_err(fail)?;
    }
    if unchanged {
        return Ok(outcome);
    }
    // What the new versions break: the workspace validated under the old pins and the new.
    let compare = req.update && !outcome.changed.is_empty() && !old.schemas.is_empty();
    let failing_before = if compare {
        failing_files(ws, cwd)?
    } else {
        BTreeSet::new()
    };
    let bytes = new.to_toml();
    let written = crate::store::write_file(
        &ws.root,
        Path::new(LOCK_FILE),
        bytes.as_bytes(),
        crate::store::WriteOptions::default(),
    )?;
    sink.event(Event::FileWritten {
        path: PathBuf::from(LOCK_FILE),
        sha256: written.sha256,
        bytes: bytes.len() as u64,
        backup: None,
    });
    if compare {
        // The lock is written: from here on a failure must not read as "nothing changed".
        match failing_files(ws, cwd) {
            Ok(after) => {
                outcome.now_failing = after.difference(&failing_before).cloned().collect();
            }
            Err(e) => outcome.warnings.push(format!(
                "{LOCK_FILE} is updated, but the files could not be validated under the new pins: {e}"
            )),
        }
    }
    Ok(outcome)
}

/// The files of the workspace with at least one error when validated as `validate` with no
/// arguments does, under the lock as it is on disk now.
fn failing_files(ws: &Workspace, cwd: &Path) -> Result<BTreeSet<PathBuf>, Error> {
    struct Failing(BTreeSet<PathBuf>);
    impl Sink for Failing {
        fn event(&mut self, event: Event) {
            if let Event::Diagnostic(d) = event
                && d.severity == crate::diagnostic::Severity::Error
            {
                self.0.insert(d.file);
            }
        }
    }
    let req = super::ValidateRequest {
        format_checks: true,
        quiet_without_schema: true,
        ..super::ValidateRequest::default()
    };
    let mut failing = Failing(BTreeSet::new());
    super::validate(ws, cwd, &req, &mut failing)?;
    Ok(failing.0)
}

fn strip_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// Every readable file of the workspace (absolute, relative), `.gitignore` respected, never
/// `.git/`, `target/` nor the state directory; sorted.
fn workspace_files(ws: &Workspace) -> Vec<(PathBuf, PathBuf)> {
    let state = ws.root.join(&ws.config.settings.state_dir);
    let target = ws.root.join("target");
    let mut out: Vec<(PathBuf, PathBuf)> = ignore::WalkBuilder::new(&ws.root)
        .hidden(false)
        .filter_entry(move |e| e.file_name() != ".git" && e.path() != state && e.path() != target)
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| (e.path().to_owned(), ws.shown(e.path())))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The schema a file names itself (a URL, or a path), if any.
fn in_file(abs: &Path, limits: &Limits) -> Option<PathBuf> {
    let syntax = Syntax::from_path(abs)?;
    let bytes = crate::store::read_input(abs, limits.max_bytes as u64).ok()?;
    let mentions = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if !mentions(b"$schema") && !mentions(b"#:schema") {
        return None;
    }
    let read = syntax.reader_text(&bytes);
    let dollar = doc::parse(syntax.format, &read, limits)
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .and_then(|v| v.get("$schema").and_then(Value::as_str).map(str::to_owned));
    super::validate::in_file_schema(syntax.format, &bytes, dollar.as_deref(), abs)
}

/// The network (through the mirror), the old lock and the cache, recording every body used;
/// local files and `[schemas] map`ped URIs as validation reads them.
struct Net {
    local: super::schemas::FileSource,
    http: Arc<dyn Http>,
    mirror: Vec<(String, String)>,
    old: Lock,
    cache: Cache,
    offline: bool,
    update: bool,
    only: Vec<String>,
    got: Mutex<BTreeMap<String, Sha256Digest>>,
    /// Bodies downloaded this run, kept in memory until everything resolved.
    fresh: Mutex<BTreeMap<Sha256Digest, Vec<u8>>>,
    downloaded: Mutex<usize>,
    failures: Mutex<Vec<String>>,
}

impl Net {
    /// The body of `url`: the cached one the old lock pins (unless updating), else downloaded.
    fn body(&self, url: &str) -> Result<Vec<u8>, String> {
        let seen = self
            .got
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .copied();
        if let Some(sha) = seen {
            let fresh = self.fresh.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = fresh.get(&sha) {
                return Ok(b.clone());
            }
            drop(fresh);
            if let Ok(b) = self.cache.read(&sha) {
                return Ok(b);
            }
        }
        let refresh = self.update && (self.only.is_empty() || self.only.iter().any(|u| u == url));
        let pinned = self.old.schemas.get(url).filter(|_| !refresh);
        let cached = pinned.map(|sha| self.cache.read(sha));
        let bytes = match cached {
            Some(Ok(b)) => b,
            _ if self.offline => {
                return Err(format!(
                    "`{url}` is not in the schema cache, and --offline forbids fetching it"
                ));
            }
            _ => {
                let from = self.mirrored(url)?;
                let bytes = self.http.get(&from).map_err(|e| {
                    if from == url {
                        e
                    } else {
                        format!("{e} (the mirror of `{url}`)")
                    }
                })?;
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    return Err(format!("`{url}` is not JSON: {e}"));
                }
                *self.downloaded.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                self.fresh
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(Sha256Digest::of(&bytes), bytes.clone());
                bytes
            }
        };
        self.got
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_owned(), Sha256Digest::of(&bytes));
        Ok(bytes)
    }

    fn value(&self, url: &str) -> Result<Value, String> {
        let body = self.body(url)?;
        serde_json::from_slice(&body).map_err(|e| format!("`{url}` is not JSON: {e}"))
    }

    /// Where `url` is downloaded from: its mirror, if one covers it. Only https, unless the
    /// mirror itself names http.
    fn mirrored(&self, url: &str) -> Result<String, String> {
        for (prefix, to) in &self.mirror {
            if let Some(rest) = url.strip_prefix(prefix.as_str()) {
                return Ok(format!("{to}{rest}"));
            }
        }
        if !url.starts_with("https://") {
            return Err(format!(
                "`{url}` is not https: refused (a [schemas] mirror may name an http:// server)"
            ));
        }
        Ok(url.to_owned())
    }
}

impl SchemaSource for Net {
    fn fetch(&self, uri: &str) -> Result<Value, String> {
        let uri = strip_fragment(uri);
        let got = if self.local.is_local(uri) || !is_url(uri) {
            self.local.fetch(uri)
        } else {
            self.value(uri)
        };
        got.inspect_err(|e| {
            self.failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.clone());
        })
    }
}

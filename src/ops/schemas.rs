//! Loading schemas from the workspace: files next to each other, remote URIs through the
//! `[schemas] map` or else the bodies `atomic.lock` pins in the cache (`pins`), never the
//! network; each schema compiled once per run. A schema "path" whose text is an `http(s)://`
//! URL stands for that remote schema.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::Workspace;
use super::staged::Overlay;
use crate::diagnostic::{Code, Diagnostic, Related};
use crate::doc::schema::{self, CompileOptions, Schema, SchemaSource};
use crate::doc::{self, Format, Limits};

/// Resolves schema URIs to files inside the workspace, offline.
pub(crate) struct FileSource {
    /// Directories schemas may be read from: the workspace, and the folder of a schema named
    /// on the command line.
    allowed: Vec<PathBuf>,
    map: Vec<(String, PathBuf)>,
    /// Every file read so far: what a schema depends on.
    read: Mutex<Vec<PathBuf>>,
    /// Contents read instead of the disk's (git's index, for `check --staged`).
    overlay: Arc<Overlay>,
    /// `atomic.lock` and the cache: remote schemas the map does not cover.
    pins: super::pins::Pins,
    /// The lock's path: what a remote schema depends on (for `build()`'s rerun-if-changed).
    lock_path: PathBuf,
}

impl FileSource {
    pub fn new(ws: &Workspace) -> Self {
        let mut map: Vec<(String, PathBuf)> = ws
            .config
            .schemas
            .map
            .iter()
            .map(|(k, v)| (k.clone(), ws.root.join(v)))
            .collect();
        // Longest prefix first, so the most specific mapping wins.
        map.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        FileSource {
            allowed: vec![ws.root.clone()],
            map,
            read: Mutex::default(),
            overlay: Arc::default(),
            pins: super::pins::Pins::load(&ws.root),
            lock_path: ws.root.join(super::pins::LOCK_FILE),
        }
    }

    /// Also allows reading schemas under `dir` (the folder of a `--schema` given explicitly).
    pub fn allow(&mut self, dir: &Path) {
        if let Ok(d) = fs::canonicalize(dir) {
            self.allowed.push(d);
        }
    }

    /// Whether `uri` is read from a local file: `file://`, or covered by the `[schemas] map`.
    pub fn is_local(&self, uri: &str) -> bool {
        uri.starts_with("file://") || self.map.iter().any(|(p, _)| uri.starts_with(p.as_str()))
    }

    /// The local file a URI stands for, if it may be read.
    fn local_path(&self, uri: &str) -> Result<PathBuf, String> {
        let uri = uri.split('#').next().unwrap_or(uri);
        if let Some(path) = uri.strip_prefix("file://") {
            let path = PathBuf::from(schema::percent_decode(path));
            return self.inside(path, uri);
        }
        for (prefix, dir) in &self.map {
            if let Some(rest) = uri.strip_prefix(prefix.as_str()) {
                return self.inside(dir.join(rest), uri);
            }
        }
        Err(format!(
            "`{uri}` is not available offline; map it to a local folder in atomic.toml: \
             [schemas] map = {{ \"{}\" = \"schemas/vendor/\" }}",
            uri.rsplit_once('/').map_or(uri, |(p, _)| p).to_owned() + "/"
        ))
    }

    fn inside(&self, path: PathBuf, uri: &str) -> Result<PathBuf, String> {
        let canon = fs::canonicalize(&path).map_err(|e| format!("cannot read `{uri}`: {e}"))?;
        if !self.allowed.iter().any(|a| canon.starts_with(a)) {
            return Err(format!(
                "`{uri}` is outside the workspace; refusing to read it"
            ));
        }
        Ok(canon)
    }
}

impl SchemaSource for FileSource {
    fn fetch(&self, uri: &str) -> Result<Value, String> {
        let uri = uri.split('#').next().unwrap_or(uri);
        if super::pins::is_url(uri) && !self.map.iter().any(|(p, _)| uri.starts_with(p.as_str())) {
            self.read
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.lock_path.clone());
            let body = self.pins.body(uri)?;
            return serde_json::from_slice(&body)
                .map_err(|e| format!("the pinned body of `{uri}` is not JSON: {e}"));
        }
        let path = self.local_path(uri)?;
        let bytes = self
            .overlay
            .read(&path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        self.read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.clone());
        let format = Format::from_path(&path).unwrap_or(Format::Json);
        let mut docs = doc::parse(format, &bytes, &Limits::default()).map_err(|p| {
            let rel = (self.allowed.iter().find_map(|a| path.strip_prefix(a).ok()))
                .unwrap_or(&path)
                .display()
                .to_string();
            match p.span {
                Some(s) => format!(
                    "`{rel}:{}:{}` does not parse: {}",
                    s.start.line, s.start.column, p.message
                ),
                None => format!("`{rel}` does not parse: {}", p.message),
            }
        })?;
        if docs.len() != 1 {
            return Err(format!(
                "`{}` holds {} documents, not one schema",
                path.display(),
                docs.len()
            ));
        }
        Ok(docs.remove(0))
    }
}

/// Every schema file the configuration's schemas are made of: each `[[validate]]` and
/// `[[merge]]` schema and every file their `$ref`s reach (absolute, canonical, sorted). A schema
/// that does not compile counts with what was read of it.
pub fn schema_files(ws: &Workspace) -> Vec<PathBuf> {
    let cache = SchemaCache::new(ws, true, None);
    let named = ws.config.validate.iter().map(|v| &v.schema);
    for schema in named.chain(ws.config.merge.iter().filter_map(|m| m.schema.as_ref())) {
        let _ = cache.get(&schema_target(&ws.root, schema));
    }
    let mut read =
        std::mem::take(&mut *cache.source.read.lock().unwrap_or_else(|p| p.into_inner()));
    read.sort();
    read.dedup();
    read
}

/// The places of `config` (the TOML file the configuration came from) that name the schema at
/// `path`: each `schema = "…"` whose value, relative to `root`, is that file (or that URL).
fn named_in_config(config: &Path, root: &Path, path: &Path) -> Vec<Related> {
    let Ok(bytes) = crate::store::read_input(config, Limits::default().max_bytes as u64) else {
        return Vec::new();
    };
    let Ok(Some(value)) = doc::parse(Format::Toml, &bytes, &Limits::default()).map(|mut d| d.pop())
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(index) = doc::index(Format::Toml, &text).into_iter().next() else {
        return Vec::new();
    };
    let same = |named: &str| {
        let target = schema_target(root, Path::new(named));
        target == path || fs::canonicalize(&target).is_ok_and(|t| t == path)
    };
    let mut pointers = Vec::new();
    named_schemas(&value, String::new(), &mut pointers);
    let shown = config.strip_prefix(root).unwrap_or(config);
    pointers
        .into_iter()
        .filter(|(_, named)| same(named))
        .filter_map(|(pointer, _)| {
            let at = index.get(&pointer)?.value.start;
            Some(Related {
                file: Some(shown.to_owned()),
                line: at.line,
                column: at.column,
                message: "the schema is named here".to_owned(),
            })
        })
        .collect()
}

/// Every `schema` key of `value` with a string value: its pointer and the string.
fn named_schemas<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{pointer}/{}", doc::escape_pointer_token(k));
                match v.as_str() {
                    Some(named) if k == "schema" => out.push((p, named)),
                    _ => named_schemas(v, p, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                named_schemas(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The URL a schema "path" stands for, when it is one (`https://...`), not a file.
pub(crate) fn remote(path: &Path) -> Option<&str> {
    path.to_str().filter(|s| super::pins::is_url(s))
}

/// The schema named `named` (by the config, relative to the root, or a URL) as a schema path
/// for [`SchemaCache::get`]: URLs stay as they are.
pub(crate) fn schema_target(root: &Path, named: &Path) -> PathBuf {
    match remote(named) {
        Some(_) => named.to_owned(),
        None => root.join(named),
    }
}

/// The `file://` URI of an absolute path.
pub(crate) fn file_uri(path: &Path) -> String {
    let mut s = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                s.push(*b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

/// A compiled schema, or the diagnostic of why it does not compile.
type Compiled = Result<Arc<Schema>, Box<Diagnostic>>;

/// One schema of the cache: its canonical path, compiled by the first thread that needs it
/// while the others wait, so that files validated in parallel do not each compile it.
struct Slot {
    key: PathBuf,
    compiled: OnceLock<Compiled>,
}

/// Compiled schemas of one run, by canonical path. A schema that fails to compile is
/// remembered as its diagnostic, reported once.
pub(crate) struct SchemaCache {
    source: Arc<FileSource>,
    format_checks: bool,
    root: PathBuf,
    /// The file the configuration came from: where a schema that does not compile was named.
    config: Option<PathBuf>,
    slots: Mutex<HashMap<PathBuf, Arc<Slot>>>,
}

impl SchemaCache {
    pub fn new(ws: &Workspace, format_checks: bool, explicit: Option<&Path>) -> Self {
        Self::through(ws, format_checks, explicit, Arc::default())
    }

    /// [`SchemaCache::new`], reading schema files through `overlay` (git's index, for
    /// `check --staged`).
    pub fn through(
        ws: &Workspace,
        format_checks: bool,
        explicit: Option<&Path>,
        overlay: Arc<Overlay>,
    ) -> Self {
        let mut source = FileSource::new(ws);
        source.overlay = overlay;
        if let Some(dir) = explicit.and_then(Path::parent) {
            source.allow(dir);
        }
        SchemaCache {
            source: Arc::new(source),
            format_checks,
            root: ws.root.clone(),
            config: ws.config_source.clone(),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled schema at `path` (absolute), compiling it on first use.
    pub fn get(&self, path: &Path) -> Compiled {
        let slot = self.slot(path);
        slot.compiled
            .get_or_init(|| self.compile(&slot.key).map(Arc::new))
            .clone()
    }

    fn slot(&self, path: &Path) -> Arc<Slot> {
        // Most files name their schema by the same path: look that up before paying for
        // canonicalization (several syscalls) on every file.
        if let Some(slot) = self.lock().get(path) {
            return Arc::clone(slot);
        }
        let key = match remote(path) {
            Some(_) => path.to_owned(),
            None => fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
        };
        let mut slots = self.lock();
        let slot = Arc::clone(slots.entry(key.clone()).or_insert_with(|| {
            Arc::new(Slot {
                key,
                compiled: OnceLock::new(),
            })
        }));
        slots.insert(path.to_owned(), Arc::clone(&slot));
        slot
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn compile(&self, path: &Path) -> Result<Schema, Box<Diagnostic>> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path).to_owned();
        let uri = match remote(path) {
            Some(url) => url.to_owned(),
            None => file_uri(path),
        };
        let value = self
            .source
            .fetch(&uri)
            .map_err(|m| Diagnostic::error(Code::Config, &rel, m))?;
        let options = CompileOptions {
            base_uri: uri,
            format_checks: self.format_checks,
            ..CompileOptions::default()
        };
        schema::compile(&value, &options, self.source.clone()).map_err(|p| {
            let mut d = Diagnostic::error(
                Code::Config,
                &rel,
                format!("schema does not compile: {}", p.message),
            );
            // Placed in the schema's own text, and every other problem with its line:column.
            let text = crate::store::read_input(path, Limits::default().max_bytes as u64)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let format = crate::doc::Format::from_path(path).unwrap_or(crate::doc::Format::Json);
            let index = crate::doc::index(format, &text).into_iter().next();
            if let (Some(ptr), Some(index)) = (&p.pointer, &index) {
                super::place::place_at(&mut d, &text, index, ptr);
            }
            for (message, ptr) in &p.others {
                let at = index
                    .as_ref()
                    .and_then(|i| i.nearest(ptr))
                    .map(|(_, l)| {
                        format!(
                            "{}:{}:{}",
                            rel.display(),
                            l.value.start.line,
                            l.value.start.column
                        )
                    })
                    .unwrap_or_else(|| format!("{} at {ptr}", rel.display()));
                d.notes.push(format!("also {at}: {message}"));
            }
            if let Some(ptr) = p.pointer {
                d.pointer = Some(ptr);
            }
            if let Some(config) = &self.config {
                d.related = named_in_config(config, &self.root, path);
            }
            Box::new(d)
        })
    }
}

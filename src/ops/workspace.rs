//! Finding the workspace and its configuration.
//!
//! The root is the directory of `--manifest-path` (or of the nearest `Cargo.toml` above the
//! current directory that declares `[workspace]`, else the nearest `Cargo.toml`, else the nearest
//! directory with an `atomic.toml`, else the current directory). The configuration is
//! `--config`, else `atomic.toml` or `.config/atomic.toml` at the root, else
//! `[workspace.metadata.atomic]` (or, for a package, `[package.metadata.atomic]`) of the root
//! `Cargo.toml`. This reads files and never runs `cargo metadata`, so it is safe inside a build
//! script.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Error;
use super::retention::BackupsConfig;
use super::units::{DURATION_PATTERN, SIZE_PATTERN};
use crate::diagnostic::{Code, Diagnostic};
use crate::doc::{self, Format, Limits, schema};
use crate::store::{AuditOptions, Durability, StoreOptions, Tool};

/// The `[settings]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Settings {
    /// The state directory, relative to the workspace root.
    pub state_dir: PathBuf,
    /// `full`: fsync every write, surviving power loss (the default); `atomic`: skip fsync,
    /// for outputs a build can regenerate.
    #[schemars(with = "DurabilityName")]
    pub durability: Durability,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            state_dir: PathBuf::from(".atomic"),
            durability: Durability::Full,
        }
    }
}

/// How `[settings] durability` is spelled (the store's `Durability` knows no schemas).
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum DurabilityName {
    Full,
    Atomic,
}

/// One `[[validate]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ValidateEntry {
    /// Globs, relative to the workspace root (`.gitignore` is respected).
    pub files: Vec<String>,
    /// The schema, relative to the workspace root.
    pub schema: PathBuf,
    /// How to read the files, whatever their names: `json`, `jsonc` (comments and trailing
    /// commas), `yaml` or `toml`. Default: by name (`.json`, `.yaml`/`.yml`, `.toml`; JSONC
    /// for `*.jsonc`, `tsconfig*.json`, `.vscode/*.json`, `.eslintrc`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FormatName>,
}

/// A `format` of `[[validate]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FormatName {
    /// JSON (RFC 8259).
    Json,
    /// JSON with `//` and `/* */` comments and trailing commas.
    Jsonc,
    /// YAML 1.2.
    Yaml,
    /// TOML 1.0.
    Toml,
}

impl FormatName {
    /// The syntax files of this format are read with.
    pub fn syntax(self) -> crate::doc::Syntax {
        use crate::doc::{Format, Syntax};
        match self {
            FormatName::Json => Syntax::plain(Format::Json),
            FormatName::Jsonc => Syntax {
                format: Format::Json,
                jsonc: true,
            },
            FormatName::Yaml => Syntax::plain(Format::Yaml),
            FormatName::Toml => Syntax::plain(Format::Toml),
        }
    }
}

/// One `[[merge]]` entry: an output rendered from base + overlays by `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MergeEntry {
    /// The entry's name, for `apply NAME` (unique).
    #[schemars(length(min = 1))]
    pub name: String,
    /// The sources, base first, relative to the workspace root; formats may differ.
    #[schemars(length(min = 1))]
    pub sources: Vec<PathBuf>,
    /// The rendered file, relative to the workspace root; its extension picks the format.
    pub output: PathBuf,
    /// Validate the result against this schema before writing it.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// How arrays merge where `paths` says nothing: `replace` (RFC 7396) or `append`.
    #[serde(default)]
    pub arrays: ArraysName,
    /// JSON pointer (in the result) → how the array there merges: `"append"`, `"replace"`, or
    /// `{ by-key = "field" }` (arrays of objects merged item by item on that field).
    #[serde(default)]
    pub paths: std::collections::BTreeMap<String, PathStrategy>,
}

/// `arrays = ...` of a `[[merge]]` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArraysName {
    /// A later array replaces an earlier one (RFC 7396).
    #[default]
    Replace,
    /// A later array's items follow the earlier one's.
    Append,
}

/// The strategy for the array at one path of a `[[merge]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PathStrategy {
    /// `"append"` or `"replace"`.
    Named(ArraysName),
    /// `{ by-key = "field" }`.
    ByKey(ByKey),
}

/// `{ by-key = "field" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ByKey {
    /// The field that identifies an item.
    #[schemars(length(min = 1))]
    pub by_key: String,
}

impl MergeEntry {
    /// The merge options this entry asks for.
    pub fn options(&self) -> crate::doc::merge::MergeOptions {
        use crate::doc::merge::ArrayStrategy;
        let named = |n: ArraysName| match n {
            ArraysName::Replace => ArrayStrategy::Replace,
            ArraysName::Append => ArrayStrategy::Append,
        };
        crate::doc::merge::MergeOptions {
            arrays: named(self.arrays),
            paths: self
                .paths
                .iter()
                .map(|(p, s)| {
                    let s = match s {
                        PathStrategy::Named(n) => named(*n),
                        PathStrategy::ByKey(b) => ArrayStrategy::ByKey(b.by_key.clone()),
                    };
                    (p.clone(), s)
                })
                .collect(),
        }
    }
}

/// One `[[rotate]]` entry: live artifacts that `rotate` renames aside, and which rotated copies
/// it keeps. Without `max-size` or `max-age`, every run rotates every live file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RotateEntry {
    /// Names the entry, for `rotate NAMES...`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// A glob of the live artifacts, relative to the workspace root. `.gitignore` is not
    /// consulted (artifacts usually live in ignored directories).
    #[schemars(length(min = 1))]
    pub files: String,
    /// Keep this many rotated copies of each live file, the newest.
    #[schemars(range(min = 1))]
    pub keep_last: Option<u32>,
    /// Keep the rotated copies younger than this (`14d`, `12h`, `1w 2d`).
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub keep_within: Option<String>,
    /// Rotate a live file only once it is at least this big (`10MiB`, `500kB`, `4096`).
    #[schemars(regex(pattern = SIZE_PATTERN))]
    pub max_size: Option<String>,
    /// Rotate a live file only once its last rotation (or, never rotated, the file itself) is
    /// at least this old (`1d`, `12h`).
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_age: Option<String>,
    /// How rotated copies are named.
    #[serde(default)]
    pub naming: Naming,
    /// Whether rotated copies are compressed.
    #[serde(default)]
    pub compress: Compress,
}

/// `[[rotate]] naming`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    /// `FILE.20261126T001500Z-001`: a sortable UTC stamp and a sequence number; one rename per
    /// rotation.
    #[default]
    Timestamp,
    /// `FILE.1`, `FILE.2`, ...: the newest is `.1`, older copies move up (logrotate's style).
    Numbered,
}

/// `[[rotate]] compress`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Compress {
    /// Keep rotated copies as they are.
    #[default]
    None,
    /// gzip them (`.gz`), written atomically.
    Gzip,
}

/// The `[schemas]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SchemasConfig {
    /// URI prefix → local directory (relative to the root): how `$ref`s to `http(s)://` schemas
    /// resolve offline, e.g. `"https://example.com/schemas/" = "schemas/vendor/"`.
    pub map: std::collections::BTreeMap<String, PathBuf>,
    /// URL prefix → mirror prefix, applied to every URL `fetch` downloads (the catalog's too);
    /// `atomic.lock` keeps the original URLs. Only a mirror may name `http://`, e.g.
    /// `"https://www.schemastore.org/" = "https://mirror.example.com/schemastore/"`.
    pub mirror: std::collections::BTreeMap<String, String>,
}

/// The `[catalog]` table: the SchemaStore catalog, which picks a schema by file name for
/// every file that no `--schema`, `[[validate]]` entry or in-file `$schema` claims.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CatalogConfig {
    /// Use the catalog (default: true; it applies once `cargo atomic fetch` has pinned it).
    pub enabled: bool,
    /// The catalog's URL (default: SchemaStore's).
    pub url: String,
    /// Globs (relative to the root) of files the catalog never claims.
    pub exclude: Vec<String>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            enabled: true,
            url: super::catalog::SCHEMASTORE.to_owned(),
            exclude: Vec::new(),
        }
    }
}

/// The `[audit]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AuditConfig {
    /// Append a record to `<state-dir>/audit.jsonl` for every change (default: true).
    pub enabled: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: true }
    }
}

/// `atomic.toml`. The tables that later commands read are accepted here and checked by them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[schemars(title = "atomic.toml", description = "Configuration of cargo atomic")]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// `[settings]`.
    pub settings: Settings,
    /// `[[validate]]`: which files, against which schema.
    pub validate: Vec<ValidateEntry>,
    /// `[[merge]]`: outputs rendered from layered sources.
    pub merge: Vec<MergeEntry>,
    /// `[[rotate]]`: which artifacts to rotate, how, and how many to keep.
    pub rotate: Vec<RotateEntry>,
    /// `[backups]`: how long backups are kept (`backups prune`).
    pub backups: BackupsConfig,
    /// `[audit]`: the hash-chained log of every change.
    pub audit: AuditConfig,
    /// `[schemas]`: offline locations of remote schemas.
    pub schemas: SchemasConfig,
    /// `[catalog]`: the schema catalog (SchemaStore's by default).
    pub catalog: CatalogConfig,
}

/// The JSON Schema of `atomic.toml`, generated from [`Config`]. The committed copy in
/// `schemas/atomic.schema.json` is checked against it by a test.
pub fn config_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Config>();
    serde_json::to_value(schema).expect("a schema serializes")
}

/// A workspace: its root, its configuration, and where that came from.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Canonical root directory.
    pub root: PathBuf,
    /// The effective configuration.
    pub config: Config,
    /// The file the configuration came from, if any.
    pub config_source: Option<PathBuf>,
    /// The entries workspace members added from their `[package.metadata.atomic]`.
    pub packages: Vec<super::members::PackagePart>,
    /// What audit records say made the changes: the library by default; the CLI sets its
    /// mode and command line.
    pub tool: Tool,
}

impl Workspace {
    /// Finds the workspace from `manifest_path` (a `Cargo.toml` or its directory) or from
    /// `cwd`, and loads its configuration (`config` overrides where it comes from).
    pub fn discover(
        manifest_path: Option<&Path>,
        config: Option<&Path>,
        cwd: &Path,
    ) -> Result<Self, Error> {
        let root = match manifest_path {
            Some(m) => {
                let m = cwd.join(m);
                let dir = if m.is_dir() {
                    m.clone()
                } else {
                    m.parent().map(Path::to_owned).unwrap_or_default()
                };
                if !m.exists() {
                    return Err(Error::Usage(format!(
                        "manifest path `{}` does not exist",
                        m.display()
                    )));
                }
                dir
            }
            None => find_root(cwd)?,
        };
        let root = fs::canonicalize(&root).map_err(|e| Error::io("resolve", &root, e))?;
        let (mut config, config_source) = match config {
            Some(c) => {
                let c = cwd.join(c);
                (load_config_file(&c, &root)?, Some(c))
            }
            None => load_default_config(&root)?,
        };
        let packages = super::members::add_members(&root, &mut config)?;
        if !packages.is_empty() {
            // What only shows across files: a name or an output used twice, a member's path
            // that leaves the workspace. The root's own problems were reported when it loaded.
            if let Some((pointer, message)) =
                config.problems(&root).into_iter().find_map(|(ptr, msg)| {
                    let mut parts = ptr.trim_start_matches('/').splitn(3, '/');
                    let (list, i) = (parts.next()?, parts.next()?.parse().ok()?);
                    let (part, local) = super::members::owner(&packages, list, i)?;
                    let rest = parts.next().map(|r| format!("/{r}")).unwrap_or_default();
                    Some((
                        (part.manifest.clone(), format!("/{list}/{local}{rest}")),
                        msg,
                    ))
                })
            {
                return Err(Error::Config {
                    path: pointer.0,
                    message: format!("[package.metadata.atomic] at {}: {message}", pointer.1),
                });
            }
        }
        // Every path of an entry by the file it names: `./a.yaml`, `d/../a.yaml`, an absolute
        // path inside the root or a link to the file are all `a.yaml`, so that an output is
        // recognised as a source, and a file as managed, whatever its spelling.
        let key = |p: &Path| crate::store::resolve_key(&root, p).unwrap_or_else(|_| p.to_owned());
        for m in &mut config.merge {
            m.output = key(&m.output);
            for s in &mut m.sources {
                *s = key(s);
            }
            if let Some(s) = &mut m.schema {
                *s = key(s);
            }
        }
        Ok(Workspace {
            root,
            config,
            config_source,
            packages,
            tool: Tool::default(),
        })
    }

    /// How to open the store of this workspace.
    pub fn store_options(&self, command: String) -> StoreOptions {
        StoreOptions {
            state_dir: self.config.settings.state_dir.clone(),
            durability: self.config.settings.durability,
            command,
            audit: AuditOptions {
                enabled: self.config.audit.enabled,
                actor: super::audit::actor(&self.root),
                tool: self.tool.clone(),
            },
            ..StoreOptions::default()
        }
    }

    /// How a file is named in findings: relative to the root when inside it, else as given
    /// (absolute).
    pub fn shown(&self, abs: &Path) -> PathBuf {
        abs.strip_prefix(&self.root)
            .map(Path::to_owned)
            .unwrap_or_else(|_| abs.to_owned())
    }

    /// A path given on the command line (relative to `cwd`), as the key of the file it names
    /// inside the root ([`crate::store::resolve_key`]): every spelling of a file, through `..`,
    /// a symlinked directory or a link to it, gives one key. Paths that lead outside the root
    /// are refused.
    pub fn relative(&self, cwd: &Path, path: &Path) -> Result<PathBuf, Error> {
        let key = crate::store::resolve_key(&self.root, &cwd.join(path)).map_err(|_| {
            Error::Usage(format!(
                "`{}` is outside the workspace root `{}`",
                path.display(),
                self.root.display()
            ))
        })?;
        if key.as_os_str().is_empty() {
            return Err(Error::Usage(format!(
                "`{}` is the workspace root, a directory: name a file",
                path.display()
            )));
        }
        Ok(key)
    }
}

/// The workspace root above `cwd`. A `Cargo.toml` that cannot be read (other than not being
/// there) is an error naming it, never taken for "no manifest here".
fn find_root(cwd: &Path) -> Result<PathBuf, Error> {
    let mut nearest_manifest = None;
    let mut nearest_config = None;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let text = match fs::read_to_string(&manifest) {
            Ok(t) => Some(t),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                ) || e.raw_os_error() == Some(20) /* ENOTDIR */ =>
            {
                None
            }
            Err(e) => return Err(Error::io("read", &manifest, e)),
        };
        if let Some(text) = text {
            if text
                .parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("workspace"))
            {
                return Ok(dir.to_owned());
            }
            nearest_manifest.get_or_insert_with(|| dir.to_owned());
        }
        if nearest_config.is_none()
            && (dir.join("atomic.toml").is_file() || dir.join(".config/atomic.toml").is_file())
        {
            nearest_config = Some(dir.to_owned());
        }
    }
    Ok(nearest_manifest
        .or(nearest_config)
        .unwrap_or_else(|| cwd.to_owned()))
}

fn load_default_config(root: &Path) -> Result<(Config, Option<PathBuf>), Error> {
    for name in ["atomic.toml", ".config/atomic.toml"] {
        let p = root.join(name);
        if p.is_file() {
            return Ok((load_config_file(&p, root)?, Some(p)));
        }
    }
    let manifest = root.join("Cargo.toml");
    let text = match fs::read_to_string(&manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Config::default(), None)),
        Err(e) => return Err(Error::io("read", &manifest, e)),
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
        path: manifest.clone(),
        message: e.message().to_owned(),
    })?;
    // A package (a build script's CARGO_MANIFEST_DIR) may carry its own.
    let meta = ["workspace", "package"].into_iter().find_map(|t| {
        let v = table.get(t)?.get("metadata")?.get("atomic")?.clone();
        Some((format!("[{t}.metadata.atomic]"), v))
    });
    match meta {
        None => Ok((Config::default(), None)),
        Some((name, v)) => {
            let config: Config = v.try_into().map_err(|e: toml::de::Error| Error::Config {
                path: manifest.clone(),
                message: format!("{name}: {}", e.message()),
            })?;
            if let Some((pointer, message)) = config.problems(root).into_iter().next() {
                return Err(Error::Config {
                    path: manifest,
                    message: format!("{name} at {pointer}: {message}"),
                });
            }
            Ok((config, Some(manifest)))
        }
    }
}

fn load_config_file(path: &Path, root: &Path) -> Result<Config, Error> {
    let bytes = crate::store::read_input(path, crate::doc::Limits::default().max_bytes as u64)
        .map_err(|e| Error::io("read the config", path, e))?;
    let value = check_config(path, root, &bytes)?;
    // The schema check has found anything a user gets wrong, located; this cannot fail but for
    // a rule the schema does not state.
    let config: Config = serde_json::from_value(value).map_err(|e| Error::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let problems = config.problems(root);
    if problems.is_empty() {
        return Ok(config);
    }
    let shown = path.strip_prefix(root).unwrap_or(path).to_owned();
    let text = String::from_utf8_lossy(&bytes);
    let index = doc::index(Format::Toml, &text);
    let diagnostics = problems
        .into_iter()
        .map(|(pointer, message)| {
            let mut d = crate::diagnostic::Diagnostic::error(
                crate::diagnostic::Code::Config,
                &shown,
                message,
            );
            if let Some(index) = index.first() {
                super::place::place_at(&mut d, &text, index, &pointer);
            }
            d.pointer = Some(pointer);
            d
        })
        .collect();
    Err(Error::ConfigFindings {
        path: shown,
        diagnostics,
    })
}

impl Config {
    /// What the schema cannot say: each problem's pointer in the config and message.
    fn problems(&self, root: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut inside = |pointer: String, p: &Path| {
            // Lexically: `src/../src/a.json` and an absolute path under the root are inside.
            let escapes = match p.strip_prefix(root) {
                Ok(_) => false,
                Err(_) if p.is_absolute() => true,
                Err(_) => {
                    let mut depth = 0usize;
                    p.components().any(|c| match c {
                        std::path::Component::ParentDir => {
                            let out = depth == 0;
                            depth = depth.saturating_sub(1);
                            out
                        }
                        std::path::Component::Normal(_) => {
                            depth += 1;
                            false
                        }
                        _ => false,
                    })
                }
            };
            if escapes {
                out.push((
                    pointer,
                    format!("`{}` points outside the workspace", p.display()),
                ));
            }
        };
        for (i, v) in self.validate.iter().enumerate() {
            inside(format!("/validate/{i}/schema"), &v.schema);
        }
        for (i, m) in self.merge.iter().enumerate() {
            for (j, s) in m.sources.iter().enumerate() {
                inside(format!("/merge/{i}/sources/{j}"), s);
            }
            inside(format!("/merge/{i}/output"), &m.output);
            if let Some(s) = &m.schema {
                inside(format!("/merge/{i}/schema"), s);
            }
        }
        let mut names = std::collections::HashMap::new();
        let mut outputs = std::collections::HashMap::new();
        // Compared by the file they name, not by spelling: `./a.yaml` or a link to it is `a.yaml`.
        let key = |p: &Path| crate::store::resolve_key(root, p).unwrap_or_else(|_| p.to_owned());
        let sources: std::collections::HashSet<PathBuf> = self
            .merge
            .iter()
            .flat_map(|m| m.sources.iter().map(|s| key(s)))
            .collect();
        for (i, m) in self.merge.iter().enumerate() {
            if let Some(first) = names.insert(m.name.as_str(), i) {
                out.push((
                    format!("/merge/{i}/name"),
                    format!("[[merge]] name `{}` is also used by entry {first}", m.name),
                ));
            }
            if let Some(first) = outputs.insert(key(&m.output), i) {
                out.push((
                    format!("/merge/{i}/output"),
                    format!(
                        "`{}` is also the output of [[merge]] `{}`",
                        m.output.display(),
                        self.merge[first].name
                    ),
                ));
            }
            if sources.contains(&key(&m.output)) {
                out.push((
                    format!("/merge/{i}/output"),
                    format!(
                        "`{}` is both an output and a source: outputs are rendered from sources only",
                        m.output.display()
                    ),
                ));
            }
            if Format::from_path(&m.output).is_none() {
                out.push((
                    format!("/merge/{i}/output"),
                    format!(
                        "`{}`: unknown format: the output must end in .json, .yaml, .yml or .toml",
                        m.output.display()
                    ),
                ));
            }
            for p in m.paths.keys() {
                if !p.starts_with('/') {
                    out.push((
                        format!("/merge/{i}/paths/{}", crate::doc::escape_pointer_token(p)),
                        format!("`{p}` is not a JSON pointer: it must start with `/`"),
                    ));
                }
            }
        }
        out
    }
}

/// Parses `atomic.toml` and validates it against the schema generated from [`Config`], so a
/// bad config gets every finding located, like any other validated file.
fn check_config(path: &Path, root: &Path, bytes: &[u8]) -> Result<serde_json::Value, Error> {
    static SCHEMA: std::sync::OnceLock<Result<schema::Schema, String>> = std::sync::OnceLock::new();
    let shown = path.strip_prefix(root).unwrap_or(path).to_owned();
    let findings = |diagnostics| Error::ConfigFindings {
        path: shown.clone(),
        diagnostics,
    };
    let mut docs = match doc::parse(Format::Toml, bytes, &Limits::default()) {
        Ok(d) => d,
        Err(p) => {
            let text = String::from_utf8_lossy(bytes);
            return Err(findings(vec![super::place::problem_diagnostic(
                &shown, &text, &p,
            )]));
        }
    };
    let compiled = SCHEMA.get_or_init(|| {
        schema::compile(
            &config_schema(),
            &schema::CompileOptions::default(),
            std::sync::Arc::new(schema::NoSource),
        )
        .map_err(|p| p.to_string())
    });
    let schema = compiled
        .as_ref()
        .expect("the generated config schema compiles");
    let value = docs.pop().unwrap_or_default(); // TOML is one document
    // What the schema cannot say: values with their own grammar (`30d`, `200MiB`).
    let bad =
        super::retention::check_values(value.get("backups").unwrap_or(&serde_json::Value::Null));
    if bad.is_empty() && schema.is_valid(&value) {
        return Ok(value);
    }
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let index = doc::index(Format::Toml, text);
    let mut diagnostics: Vec<Diagnostic> = schema
        .validate(&value)
        .iter()
        .map(|e| super::place::schema_diagnostic(&shown, text, index.first(), e))
        .map(|mut d| {
            d.code = Code::Config;
            d
        })
        .collect();
    diagnostics.extend(bad.into_iter().map(|(pointer, message)| {
        let mut d = Diagnostic::error(Code::Config, &shown, message);
        if let Some(index) = index.first() {
            super::place::place_at(&mut d, text, index, &pointer);
        }
        d.pointer = Some(pointer);
        d
    }));
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Err(findings(diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_workspace_manifest_above_a_member() {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("Cargo.toml"),
            "[workspace]\nmembers = ['a']\n",
        )
        .unwrap();
        fs::create_dir_all(t.path().join("a/src")).unwrap();
        fs::write(t.path().join("a/Cargo.toml"), "[package]\nname = 'a'\n").unwrap();
        assert_eq!(find_root(&t.path().join("a/src")).unwrap(), t.path());
    }

    #[test]
    fn config_errors_are_located() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("atomic.toml");
        fs::write(&p, "[settings]\ndurability = \"sometimes\"\n").unwrap();
        let Err(Error::ConfigFindings { diagnostics, .. }) = load_config_file(&p, t.path()) else {
            panic!("expected located findings");
        };
        assert_eq!(
            (diagnostics[0].line, diagnostics[0].column),
            (Some(2), Some(14))
        );
        assert!(
            diagnostics[0].message.contains("sometimes"),
            "{:?}",
            diagnostics[0]
        );
    }

    #[test]
    fn bad_retention_values_are_located() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("atomic.toml");
        fs::write(
            &p,
            "[backups]\nkeep-within = \"thirty days\"\nkeep-last = 0\nmax-total-size = \"12 parsecs\"\n",
        )
        .unwrap();
        let Err(Error::ConfigFindings { diagnostics, .. }) = load_config_file(&p, t.path()) else {
            panic!("expected located findings");
        };
        let at: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.line, d.column, d.code))
            .collect();
        assert_eq!(
            at,
            [
                (Some(2), Some(15), Code::Config),
                (Some(3), Some(13), Code::Config),
                (Some(4), Some(18), Code::Config)
            ]
        );
        assert!(
            diagnostics[0].message.contains("thirty days"),
            "{diagnostics:?}"
        );
        assert!(diagnostics[2].message.contains("200MiB"), "{diagnostics:?}");
        fs::write(
            &p,
            "[backups]\nkeep-within = \"30d\"\nmax-total-size = 1000\n",
        )
        .unwrap();
        let c = load_config_file(&p, t.path()).unwrap();
        assert_eq!(
            c.backups.policy().to_string(),
            "keep-within 30d, max-total-size 1000B"
        );
    }

    #[test]
    fn metadata_table_in_cargo_toml_is_read() {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("Cargo.toml"),
            "[workspace]\n[workspace.metadata.atomic.settings]\nstate-dir = 'state'\n",
        )
        .unwrap();
        let ws = Workspace::discover(None, None, t.path()).unwrap();
        assert_eq!(ws.config.settings.state_dir, PathBuf::from("state"));
    }
}

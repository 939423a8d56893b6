//! The configuration model: `atomic.toml` (or `[workspace.metadata.atomic]`) as Rust types,
//! the JSON Schema generated from them, and the rules the schema cannot state (paths inside the
//! root, unique names and outputs, known output formats). No I/O.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::doc::Format;
use crate::ops::retention::BackupsConfig;
use crate::ops::units::{DURATION_PATTERN, SIZE_PATTERN};
use crate::store::Durability;

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
            url: crate::ops::catalog::SCHEMASTORE.to_owned(),
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

impl Config {
    /// What the schema cannot say: each problem's pointer in the config and message.
    pub(super) fn problems(&self, root: &Path) -> Vec<(String, String)> {
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

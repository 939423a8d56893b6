//! Finding the workspace and its configuration.
//!
//! The root is the directory of `--manifest-path` (or of the nearest `Cargo.toml` above the
//! current directory that declares `[workspace]`, else the nearest `Cargo.toml`, else the nearest
//! directory with an `atomic.toml`, else the current directory). The configuration is
//! `--config`, else `atomic.toml` or `.config/atomic.toml` at the root, else
//! `[workspace.metadata.atomic]` of the root `Cargo.toml`. This reads files and never runs
//! `cargo metadata`, so it is safe inside a build script.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::Error;
use crate::doc::{self, Format, Limits, schema};
use crate::store::{AuditOptions, Durability, StoreOptions, Tool};

/// The `[settings]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ValidateEntry {
    /// Globs, relative to the workspace root (`.gitignore` is respected).
    pub files: Vec<String>,
    /// The schema, relative to the workspace root.
    pub schema: PathBuf,
}

/// The `[schemas]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SchemasConfig {
    /// URI prefix → local directory (relative to the root): how `$ref`s to `http(s)://` schemas
    /// resolve offline, e.g. `"https://example.com/schemas/" = "schemas/vendor/"`.
    pub map: std::collections::BTreeMap<String, PathBuf>,
}

/// The `[audit]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(title = "atomic.toml", description = "Configuration of cargo atomic")]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// `[settings]`.
    pub settings: Settings,
    /// `[[validate]]`: which files, against which schema.
    pub validate: Vec<ValidateEntry>,
    /// `[[merge]]`.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub merge: Vec<toml::Table>,
    /// `[[rotate]]`.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub rotate: Vec<toml::Table>,
    /// `[backups]`.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub backups: Option<toml::Table>,
    /// `[audit]`: the hash-chained log of every change.
    pub audit: AuditConfig,
    /// `[schemas]`: offline locations of remote schemas.
    pub schemas: SchemasConfig,
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
            None => find_root(cwd),
        };
        let root = fs::canonicalize(&root).map_err(|e| Error::io("resolve", &root, e))?;
        let (config, config_source) = match config {
            Some(c) => {
                let c = cwd.join(c);
                (load_config_file(&c, &root)?, Some(c))
            }
            None => load_default_config(&root)?,
        };
        Ok(Workspace {
            root,
            config,
            config_source,
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

    /// A path given on the command line (relative to `cwd`), relative to the root. Paths that
    /// lead outside the root are refused.
    pub fn relative(&self, cwd: &Path, path: &Path) -> Result<PathBuf, Error> {
        let abs = normalize(&cwd.join(path));
        let root_lex = normalize(&self.root);
        if let Ok(rel) = abs.strip_prefix(&root_lex) {
            return Ok(rel.to_owned());
        }
        // cwd may be reached through a symlink: compare canonical parents too.
        if let Some(parent) = abs.parent()
            && let Ok(canon) = fs::canonicalize(parent)
            && let (Ok(rel), Some(name)) = (canon.strip_prefix(&self.root), abs.file_name())
        {
            return Ok(rel.join(name));
        }
        Err(Error::Usage(format!(
            "`{}` is outside the workspace root `{}`",
            path.display(),
            self.root.display()
        )))
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn find_root(cwd: &Path) -> PathBuf {
    let mut nearest_manifest = None;
    let mut nearest_config = None;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() {
            if fs::read_to_string(&manifest)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .is_some_and(|t| t.contains_key("workspace"))
            {
                return dir.to_owned();
            }
            nearest_manifest.get_or_insert_with(|| dir.to_owned());
        }
        if nearest_config.is_none()
            && (dir.join("atomic.toml").is_file() || dir.join(".config/atomic.toml").is_file())
        {
            nearest_config = Some(dir.to_owned());
        }
    }
    nearest_manifest
        .or(nearest_config)
        .unwrap_or_else(|| cwd.to_owned())
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
    let meta = table
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("atomic"))
        .cloned();
    match meta {
        None => Ok((Config::default(), None)),
        Some(v) => {
            let config = v.try_into().map_err(|e: toml::de::Error| Error::Config {
                path: manifest.clone(),
                message: format!("[workspace.metadata.atomic]: {}", e.message()),
            })?;
            Ok((config, Some(manifest)))
        }
    }
}

fn load_config_file(path: &Path, root: &Path) -> Result<Config, Error> {
    let bytes = fs::read(path).map_err(|e| Error::io("read the config", path, e))?;
    let value = check_config(path, root, &bytes)?;
    // The schema check has found anything a user gets wrong, located; this cannot fail but for
    // a rule the schema does not state.
    serde_json::from_value(value).map_err(|e| Error::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })
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
            return Err(findings(vec![super::validate::problem_diagnostic(
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
    if schema.is_valid(&value) {
        return Ok(value);
    }
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let index = doc::index(Format::Toml, text);
    let diagnostics = schema
        .validate(&value)
        .iter()
        .map(|e| super::validate::schema_diagnostic(&shown, text, index.first(), e))
        .map(|mut d| {
            d.code = crate::diagnostic::Code::Config;
            d
        })
        .collect();
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
        assert_eq!(find_root(&t.path().join("a/src")), t.path());
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

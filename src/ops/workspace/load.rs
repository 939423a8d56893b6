//! Loading the configuration: `atomic.toml` (or the file `--config` names) parsed and validated
//! against the schema generated from [`Config`], every finding located like any validated
//! file's; or the `[workspace.metadata.atomic]` / `[package.metadata.atomic]` table of the root
//! `Cargo.toml`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::model::{Config, config_schema};
use crate::diagnostic::{Code, Diagnostic};
use crate::doc::{self, Format, Limits, schema};
use crate::ops::Error;

pub(super) fn load_default_config(root: &Path) -> Result<(Config, Option<PathBuf>), Error> {
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

pub(super) fn load_config_file(path: &Path, root: &Path) -> Result<Config, Error> {
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
                crate::ops::place::place_at(&mut d, &text, index, &pointer);
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
            return Err(findings(vec![crate::ops::place::problem_diagnostic(
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
    let bad = crate::ops::retention::check_values(
        value.get("backups").unwrap_or(&serde_json::Value::Null),
    );
    if bad.is_empty() && schema.is_valid(&value) {
        return Ok(value);
    }
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let index = doc::index(Format::Toml, text);
    let mut diagnostics: Vec<Diagnostic> = schema
        .validate(&value)
        .iter()
        .map(|e| crate::ops::place::schema_diagnostic(&shown, text, index.first(), e))
        .map(|mut d| {
            d.code = Code::Config;
            d
        })
        .collect();
    diagnostics.extend(bad.into_iter().map(|(pointer, message)| {
        let mut d = Diagnostic::error(Code::Config, &shown, message);
        if let Some(index) = index.first() {
            crate::ops::place::place_at(&mut d, text, index, &pointer);
        }
        d.pointer = Some(pointer);
        d
    }));
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Err(findings(diagnostics))
}

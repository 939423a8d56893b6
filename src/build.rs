//! For build scripts and tests: validate the package's config files and render its `[[merge]]`
//! outputs into `OUT_DIR`, and keep committed generated files fresh.
//!
//! In `build.rs`'s `main`:
//!
//! ```no_run
//! if let Err(e) = cargo_atomic::build::build() {
//!     // Located, rustc-style diagnostics; cargo shows them and the build fails.
//!     eprintln!("{e}");
//!     std::process::exit(1);
//! }
//! ```
//!
//! and in the crate: `include_str!(concat!(env!("OUT_DIR"), "/config/rendered/prod.json"))`.
//!
//! The configuration is read from `CARGO_MANIFEST_DIR` (its `atomic.toml`, `.config/atomic.toml`,
//! or `[workspace.metadata.atomic]`), by reading files: `cargo metadata` is never run, since it can
//! deadlock inside a build. Each output is written to `OUT_DIR/<output>` atomically, and only when
//! its bytes change, so nothing downstream rebuilds for nothing. Every file read is announced with
//! `cargo::rerun-if-changed`. Like `cli`, this is a front end: the only thing it prints is those
//! directives, and only when asked to ([`Build::emit`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::event::{Event, Sink};
use crate::ops::{self, ValidateRequest, Workspace};
use crate::store::{self, Durability, WriteOptions};

/// A build run: where the package is and where outputs go.
#[derive(Debug, Clone)]
pub struct Build {
    manifest_dir: PathBuf,
    out_dir: PathBuf,
    emit: bool,
}

/// What a successful build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    /// Each rendered output, absolute, in `OUT_DIR`.
    pub outputs: Vec<PathBuf>,
    /// How many of them were written (the others already had the right bytes).
    pub written: usize,
    /// Every file the run read (and that exists): what `rerun-if-changed` names.
    pub read: Vec<PathBuf>,
}

/// Why a build failed: located findings, or a failure to run at all.
#[derive(Debug)]
pub enum BuildError {
    /// Invalid config files, sources or results; each finding is located.
    Findings(Vec<Diagnostic>),
    /// The configuration or the disk stopped the run.
    Failed(ops::Error),
    /// `CARGO_MANIFEST_DIR` or `OUT_DIR` is not set: not run by cargo.
    Env(&'static str),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Findings(ds) => {
                for d in ds {
                    f.write_str(&d.to_human(false))?;
                }
                let n = ds.len();
                write!(
                    f,
                    "cargo atomic: {n} problem{} in the package's config files",
                    if n == 1 { "" } else { "s" }
                )
            }
            BuildError::Failed(e) => {
                if let ops::Error::ConfigFindings { diagnostics, .. } = e {
                    for d in diagnostics {
                        f.write_str(&d.to_human(false))?;
                    }
                }
                write!(f, "cargo atomic: {e}")?;
                let mut cause = std::error::Error::source(e);
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
            BuildError::Env(var) => write!(
                f,
                "cargo atomic: `{var}` is not set; cargo_atomic::build runs in a build script"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<ops::Error> for BuildError {
    fn from(e: ops::Error) -> Self {
        BuildError::Failed(e)
    }
}

/// [`Build::from_env`], then [`Build::run`]: the whole build script.
pub fn build() -> Result<Built, BuildError> {
    Build::from_env()?.run()
}

impl Build {
    /// The package and `OUT_DIR` cargo gives a build script; `rerun-if-changed` is printed.
    pub fn from_env() -> Result<Self, BuildError> {
        let var = |name| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .ok_or(BuildError::Env(name))
        };
        Ok(Build {
            manifest_dir: var("CARGO_MANIFEST_DIR")?,
            out_dir: var("OUT_DIR")?,
            emit: true,
        })
    }

    /// A build of the package in `manifest_dir` into `out_dir`, printing nothing.
    pub fn new(manifest_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        Build {
            manifest_dir: manifest_dir.into(),
            out_dir: out_dir.into(),
            emit: false,
        }
    }

    /// Whether to print `cargo::rerun-if-changed=` lines to stdout.
    pub fn emit(mut self, emit: bool) -> Self {
        self.emit = emit;
        self
    }

    /// Validates, renders and writes the changed outputs. Nothing is written unless everything
    /// is valid.
    pub fn run(&self) -> Result<Built, BuildError> {
        let mut read = vec![self.manifest_dir.join("Cargo.toml")];
        let ws = Workspace::discover(Some(&self.manifest_dir), None, &self.manifest_dir);
        // Even a broken config must be watched, or fixing it would not rerun the script.
        for name in ["atomic.toml", ".config/atomic.toml"] {
            read.push(self.manifest_dir.join(name));
        }
        let result = ws.map_err(BuildError::from).and_then(|ws| {
            watch_config(&ws, &mut read);
            self.render(&ws)
        });
        read.retain(|p| p.exists());
        read.sort();
        read.dedup();
        if self.emit {
            for p in &read {
                println!("cargo::rerun-if-changed={}", p.display());
            }
        }
        let mut built = result?;
        built.read = read;
        Ok(built)
    }

    fn render(&self, ws: &Workspace) -> Result<Built, BuildError> {
        let mut findings = Collect::default();
        let mut outcome = ops::validate(
            ws,
            &ws.root,
            &ValidateRequest {
                format_checks: true,
                ..ValidateRequest::default()
            },
            &mut findings,
        )?;
        let invalid = findings.0.iter().map(|d| d.file.clone()).collect();
        let rendered = ops::render_merges(ws, &invalid, &mut findings)?;
        outcome.add(rendered.0);
        if outcome.errors + outcome.fatal > 0 || rendered.1.is_none() {
            return Err(BuildError::Findings(findings.0));
        }
        let mut built = Built::default();
        // `write_file` resolves against an existing root.
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| ops::Error::io("create", &self.out_dir, e))?;
        for (output, text) in rendered.1.unwrap_or_default() {
            let abs = self.out_dir.join(&output);
            built.outputs.push(abs.clone());
            if std::fs::read(&abs).is_ok_and(|old| old == text.as_bytes()) {
                continue;
            }
            let options = WriteOptions {
                durability: Durability::Atomic,
                ..WriteOptions::default()
            };
            store::write_file(&self.out_dir, &output, text.as_bytes(), options)
                .map_err(ops::Error::from)?;
            built.written += 1;
        }
        Ok(built)
    }
}

/// Every file the configuration names that a change to should rebuild: sources, schemas, and
/// the directories `[[validate]]` globs start in (new files there match too).
fn watch_config(ws: &Workspace, read: &mut Vec<PathBuf>) {
    if let Some(c) = &ws.config_source {
        read.push(c.clone());
    }
    for m in &ws.config.merge {
        read.extend(m.sources.iter().map(|s| ws.root.join(s)));
        read.extend(m.schema.iter().map(|s| ws.root.join(s)));
    }
    for v in &ws.config.validate {
        read.push(ws.root.join(&v.schema));
        // A glob with no literal directory would watch the whole package, target/ included,
        // and rerun every build: such globs are watched through their schema and config only.
        for glob in &v.files {
            let dir = literal_prefix(glob);
            if !dir.as_os_str().is_empty() {
                read.push(ws.root.join(dir));
            }
        }
    }
    // The files the schemas `$ref`, which no config entry names.
    read.extend(ops::schema_files(ws));
}

/// The directory part of a glob before its first pattern character: `config/**/*.yaml` →
/// `config`.
fn literal_prefix(glob: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in Path::new(glob).components() {
        let s = part.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[', '{']) {
            break;
        }
        out.push(part);
    }
    out
}

/// Collects findings.
#[derive(Default)]
struct Collect(Vec<Diagnostic>);

impl Sink for Collect {
    fn event(&mut self, event: Event) {
        if let Event::Diagnostic(d) = event {
            self.0.push(d);
        }
    }
}

/// For a test: fails when the committed `[[merge]]` outputs of the package in `manifest_dir` are
/// not what `apply` would write now. Locally it rewrites them first (so the next run passes and
/// the change shows in `git diff`); when `CI` is set it only fails, writing nothing.
///
/// ```no_run
/// #[test]
/// fn rendered_configs_are_fresh() {
///     cargo_atomic::build::ensure_fresh(env!("CARGO_MANIFEST_DIR"));
/// }
/// ```
#[track_caller]
pub fn ensure_fresh(manifest_dir: impl AsRef<Path>) {
    let dir = manifest_dir.as_ref();
    let ws = Workspace::discover(Some(dir), None, dir)
        .unwrap_or_else(|e| panic!("{}", BuildError::Failed(e)));
    let mut findings = Collect::default();
    let (outcome, rendered) = ops::render_merges(&ws, &Default::default(), &mut findings)
        .unwrap_or_else(|e| panic!("{}", BuildError::Failed(e)));
    let Some(rendered) = rendered.filter(|_| outcome.errors + outcome.fatal == 0) else {
        panic!("{}", BuildError::Findings(findings.0));
    };
    // Each stale output with the bytes it has now (`None`: missing), read once.
    let stale: Vec<(PathBuf, String, Option<Vec<u8>>)> = rendered
        .into_iter()
        .map(|(output, text)| {
            let old = std::fs::read(ws.root.join(&output)).ok();
            (output, text, old)
        })
        .filter(|(_, text, old)| old.as_deref() != Some(text.as_bytes()))
        .collect();
    if stale.is_empty() {
        return;
    }
    let names: Vec<String> = stale
        .iter()
        .map(|(p, _, _)| p.display().to_string())
        .collect();
    if std::env::var_os("CI").is_some() {
        let mut msg = format!(
            "generated files are stale: {}; run `cargo atomic apply` and commit the result\n",
            names.join(", ")
        );
        for (output, text, old) in &stale {
            let old = old.as_deref().map(String::from_utf8_lossy);
            msg.push_str(&ops::unified_diff(output, old.as_deref(), text));
        }
        panic!("{msg}");
    }
    let request = ops::ApplyRequest {
        command: "cargo_atomic::build::ensure_fresh".into(),
        ..ops::ApplyRequest::default()
    };
    let applied = ops::apply(&ws, &ws.root, &request, &mut crate::event::Discard)
        .unwrap_or_else(|e| panic!("{}", BuildError::Failed(e)));
    assert_eq!(applied.errors + applied.fatal, 0, "apply found problems");
    panic!(
        "generated files were stale and have been rewritten: {}; run the tests again",
        names.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::literal_prefix;
    use std::path::PathBuf;

    #[test]
    fn glob_prefixes() {
        for (glob, dir) in [
            ("config/**/*.yaml", "config"),
            ("a/b/c.json", "a/b/c.json"),
            ("*.toml", ""),
            ("x/{a,b}/y.json", "x"),
        ] {
            assert_eq!(literal_prefix(glob), PathBuf::from(dir), "{glob}");
        }
    }
}

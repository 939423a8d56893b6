//! Finding the workspace and its configuration.
//!
//! The root is the directory of `--manifest-path` (or of the nearest `Cargo.toml` above the
//! current directory that declares `[workspace]`, else the nearest `Cargo.toml`, else the nearest
//! directory with an `atomic.toml`, else the current directory). The configuration is
//! `--config`, else `atomic.toml` or `.config/atomic.toml` at the root, else
//! `[workspace.metadata.atomic]` (or, for a package, `[package.metadata.atomic]`) of the root
//! `Cargo.toml`. This reads files and never runs `cargo metadata`, so it is safe inside a build
//! script.

mod discover;
mod load;
mod members;
mod model;

use std::fs;
use std::path::{Path, PathBuf};

use super::Error;
use crate::store::{AuditOptions, StoreOptions, Tool};
use discover::find_root;
use load::{load_config_file, load_default_config};
pub use members::PackagePart;
pub(crate) use members::owner;
pub use model::{
    ArraysName, AuditConfig, ByKey, Compress, Config, MergeEntry, Naming, PathStrategy,
    RotateEntry, SchemasConfig, Settings, ValidateEntry, config_schema,
};

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
    pub packages: Vec<members::PackagePart>,
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
        let packages = members::add_members(&root, &mut config)?;
        if !packages.is_empty() {
            // What only shows across files: a name or an output used twice, a member's path
            // that leaves the workspace. The root's own problems were reported when it loaded.
            if let Some((pointer, message)) =
                config.problems(&root).into_iter().find_map(|(ptr, msg)| {
                    let mut parts = ptr.trim_start_matches('/').splitn(3, '/');
                    let (list, i) = (parts.next()?, parts.next()?.parse().ok()?);
                    let (part, local) = members::owner(&packages, list, i)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

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

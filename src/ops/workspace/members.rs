//! `[package.metadata.atomic]` of workspace members: each member may add `[[validate]]`,
//! `[[merge]]` and `[[rotate]]` entries with paths relative to its own directory. They are
//! rebased onto the workspace root and appended to the effective configuration; [`PackagePart`]
//! remembers which entries came from which `Cargo.toml`, for `config` and for error messages.
//!
//! Members are found by reading the root `Cargo.toml`'s `[workspace] members` (directories or
//! globs, minus `exclude`); `cargo metadata` is never run.

use std::fs;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use globset::Glob;
use serde::Deserialize;

use super::model::{Config, MergeEntry, RotateEntry, ValidateEntry};
use crate::ops::Error;

/// The entries one member added, as ranges of the effective configuration's lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagePart {
    /// The member's `Cargo.toml`, absolute.
    pub manifest: PathBuf,
    /// The member's directory, relative to the root.
    pub dir: PathBuf,
    /// Its `[[validate]]` entries.
    pub validate: Range<usize>,
    /// Its `[[merge]]` entries.
    pub merge: Range<usize>,
    /// Its `[[rotate]]` entries.
    pub rotate: Range<usize>,
}

/// What a member may configure: the rest is workspace-wide.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct MemberConfig {
    validate: Vec<ValidateEntry>,
    merge: Vec<MergeEntry>,
    rotate: Vec<RotateEntry>,
}

/// Appends the members' entries to `config`; returns where each came from.
pub(crate) fn add_members(root: &Path, config: &mut Config) -> Result<Vec<PackagePart>, Error> {
    let manifest = root.join("Cargo.toml");
    let Ok(text) = fs::read_to_string(&manifest) else {
        return Ok(Vec::new());
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(Vec::new()); // the config loader reports a broken root manifest
    };
    let Some(ws) = table.get("workspace") else {
        return Ok(Vec::new());
    };
    let list = |key: &str| -> Vec<String> {
        ws.get(key)
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let exclude: Vec<PathBuf> = list("exclude")
        .iter()
        .map(|e| normal(Path::new(e)))
        .collect();
    let mut dirs = Vec::new();
    for pattern in list("members") {
        for dir in expand(root, &pattern) {
            if !dir.as_os_str().is_empty() && !exclude.contains(&dir) && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs.sort();
    let mut parts = Vec::new();
    for dir in dirs {
        let manifest = root.join(&dir).join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
            path: manifest.clone(),
            message: e.message().to_owned(),
        })?;
        let Some(meta) = table
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("atomic"))
            .cloned()
        else {
            continue;
        };
        let member: MemberConfig = meta.try_into().map_err(|e: toml::de::Error| Error::Config {
            path: manifest.clone(),
            message: format!(
                "[package.metadata.atomic]: {} (a member may set [[validate]], [[merge]] and [[rotate]]; the rest is the workspace's)",
                e.message()
            ),
        })?;
        let at = |p: &Path| dir.join(p);
        let start = (
            config.validate.len(),
            config.merge.len(),
            config.rotate.len(),
        );
        for mut v in member.validate {
            v.files = v.files.iter().map(|g| glob_in(&dir, g)).collect();
            v.schema = at(&v.schema);
            config.validate.push(v);
        }
        for mut m in member.merge {
            m.sources = m.sources.iter().map(|s| at(s)).collect();
            m.output = at(&m.output);
            m.schema = m.schema.as_deref().map(at);
            config.merge.push(m);
        }
        for mut r in member.rotate {
            r.files = glob_in(&dir, &r.files);
            config.rotate.push(r);
        }
        parts.push(PackagePart {
            manifest,
            dir,
            validate: start.0..config.validate.len(),
            merge: start.1..config.merge.len(),
            rotate: start.2..config.rotate.len(),
        });
    }
    Ok(parts)
}

/// A member's glob, relative to the root.
fn glob_in(dir: &Path, glob: &str) -> String {
    format!("{}/{glob}", dir.to_string_lossy().trim_end_matches('/'))
}

/// Directories (relative to the root) a `members` entry names.
fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let path = normal(Path::new(pattern));
    if !pattern.contains(['*', '?', '[', '{']) {
        return vec![path];
    }
    let Ok(glob) = Glob::new(pattern.trim_start_matches("./")) else {
        return Vec::new();
    };
    let matcher = glob.compile_matcher();
    // Walk from the literal prefix as deep as the pattern has components.
    let prefix: PathBuf = path
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{'])
        })
        .collect();
    let depth = path.components().count();
    let mut out = Vec::new();
    let mut stack = vec![prefix];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let rel = dir.join(e.file_name());
            if matcher.is_match(&rel) {
                out.push(rel.clone());
            }
            if rel.components().count() < depth {
                stack.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Drops `.` components.
fn normal(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// The member an entry at `index` of list `list` (`validate`, `merge`, `rotate`) came from, and
/// its index in that member's own list.
pub(crate) fn owner<'p>(
    parts: &'p [PackagePart],
    list: &str,
    index: usize,
) -> Option<(&'p PackagePart, usize)> {
    parts.iter().find_map(|p| {
        let range = match list {
            "validate" => &p.validate,
            "merge" => &p.merge,
            "rotate" => &p.rotate,
            _ => return None,
        };
        range.contains(&index).then(|| (p, index - range.start))
    })
}

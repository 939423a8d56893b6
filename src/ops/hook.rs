//! `hook install [--force]` / `hook uninstall`: a plain git pre-commit hook that runs
//! `cargo atomic check` on the staged files.
//!
//! The hooks directory is what git says it is (`git rev-parse --git-path hooks`, which honours
//! `core.hooksPath`). A hook is ours when it carries [`MARK`]; a hook that is not ours is never
//! overwritten without `--force`, and never removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Error, Workspace};
use crate::store::{self, Durability, WriteOptions};

/// The hook script, from `templates/pre-commit`.
pub const HOOK: &str = include_str!("../../templates/pre-commit");

/// The line that marks a hook as written by cargo atomic.
pub const MARK: &str = "# cargo-atomic pre-commit hook";

/// What `hook install` or `hook uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAction {
    /// Written where there was none.
    Installed(PathBuf),
    /// Our earlier hook, rewritten.
    Updated(PathBuf),
    /// Someone else's hook, replaced under `--force`.
    Replaced(PathBuf),
    /// Our hook, removed.
    Removed(PathBuf),
    /// There was no hook of ours to remove.
    NotInstalled(PathBuf),
}

/// Where git runs hooks from, for the repository that holds the workspace.
fn hooks_dir(ws: &Workspace) -> Result<PathBuf, Error> {
    let out = Command::new("git")
        .args(["rev-parse", "--git-path", "hooks"])
        .current_dir(&ws.root)
        .output()
        .map_err(|e| Error::io("run git in", &ws.root, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // git says "not a git repository" (exit 128); any other failure (killed, out of
        // memory, a broken install) is git's, and must not read as a wrong directory.
        if stderr.contains("not a git repository") {
            return Err(Error::Usage(format!(
                "`{}` is not in a git repository: {}",
                ws.root.display(),
                stderr.trim()
            )));
        }
        return Err(Error::io(
            "run `git rev-parse --git-path hooks` in",
            &ws.root,
            std::io::Error::other(format!("git failed ({}): {}", out.status, stderr.trim())),
        ));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
    Ok(ws.root.join(dir))
}

fn is_ours(path: &Path) -> Result<Option<bool>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).contains(MARK))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Removes the temp files a killed `hook install` left beside the hook: only names of the exact
/// shape the store gives a temp of `pre-commit` (`.pre-commit.<16 hex>.atomic-tmp`), which
/// nothing else makes. `recover` calls it.
///
/// Without running git (recovery runs before every command, and must not depend on another
/// process): the hooks of a repository whose `.git` is a directory at the root; a worktree or
/// a `core.hooksPath` elsewhere is cleaned by the next `hook install`.
pub(crate) fn remove_stale_temps(ws: &Workspace) -> Result<usize, Error> {
    let git = ws.root.join(".git");
    match std::fs::symlink_metadata(&git) {
        Ok(m) if m.is_dir() => Ok(store::remove_write_temps(
            &git.join("hooks"),
            b"pre-commit",
        )?),
        _ => Ok(0),
    }
}

/// Writes the pre-commit hook (atomically, executable).
pub fn install_hook(ws: &Workspace, force: bool) -> Result<HookAction, Error> {
    let dir = hooks_dir(ws)?;
    let path = dir.join("pre-commit");
    let action = match is_ours(&path)? {
        None => HookAction::Installed(path.clone()),
        Some(true) => HookAction::Updated(path.clone()),
        Some(false) if force => HookAction::Replaced(path.clone()),
        Some(false) => {
            return Err(Error::Usage(format!(
                "`{}` exists and was not written by cargo atomic; keep it, or replace it with `cargo atomic hook install --force`",
                path.display()
            )));
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    store::remove_write_temps(&dir, b"pre-commit")?;
    let options = WriteOptions {
        durability: Durability::Full,
        new_mode: Some(0o755),
        ..WriteOptions::default()
    };
    store::write_file(&dir, Path::new("pre-commit"), HOOK.as_bytes(), options)?;
    Ok(action)
}

/// Removes the pre-commit hook if it is ours; refuses to remove anyone else's.
pub fn uninstall_hook(ws: &Workspace) -> Result<HookAction, Error> {
    let path = hooks_dir(ws)?.join("pre-commit");
    match is_ours(&path)? {
        None => Ok(HookAction::NotInstalled(path)),
        Some(false) => Err(Error::Usage(format!(
            "`{}` was not written by cargo atomic; not removing it",
            path.display()
        ))),
        Some(true) => {
            store::remove_file(&path)?;
            Ok(HookAction::Removed(path))
        }
    }
}

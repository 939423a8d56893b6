//! Finding the workspace root: the nearest `Cargo.toml` above the current directory that
//! declares `[workspace]`, else the nearest `Cargo.toml`, else the nearest directory with an
//! `atomic.toml`, else the current directory. Reads manifests; never runs `cargo metadata`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ops::Error;

/// The workspace root above `cwd`. A `Cargo.toml` that cannot be read (other than not being
/// there) is an error naming it, never taken for "no manifest here".
pub(super) fn find_root(cwd: &Path) -> Result<PathBuf, Error> {
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

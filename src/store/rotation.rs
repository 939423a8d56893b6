//! Rotated artifacts: the record of every file `rotate` created, and the durable steps rotation
//! is made of. Bytes only: what goes into a compressed file is the caller's business.
//!
//! Guarantee: the record (`rotations.json` in the state directory) names every rotated file the
//! tool created and nothing else, and the steps in flight, written *before* they start. So
//! whatever a crash interrupts, the next run knows every name that may be half done, and
//! nothing is ever chosen by pattern.
//!
//! How it works: the record is replaced atomically (a temp with a fixed name in the state
//! directory, fsync, rename, fsync of the state directory). Every change to an artifact
//! directory goes through [`ArtifactDir`]: a rename that never replaces (`RENAME_NOREPLACE`), a
//! new file staged under a temp name, fsynced and renamed in the same way, an unlink. The
//! caller fsyncs each directory ([`ArtifactDir::sync`]) before the record says a step is done.
//!
//! Limitations: a producer that still holds a live file open and writes to it after the rename
//! writes into the rotated file (there is no copytruncate, by design).
//!
//! Proven by the unit tests in `src/ops/rotate/tests.rs` and the crash sweep in
//! `tests/it/crash_rotate.rs`.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, Result, StoreError};
use super::sys;
use crate::digest::Sha256Digest;

/// One rotated file the tool created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedFile {
    /// The `[[rotate]]` entry that rotated it.
    pub entry: String,
    /// The live artifact it was, relative to the workspace root.
    pub live: PathBuf,
    /// Where it is now, relative to the workspace root.
    pub path: PathBuf,
    /// Digest of its original (uncompressed) bytes.
    pub sha256: Sha256Digest,
    /// Size of its original bytes.
    pub size: u64,
    /// When it was rotated (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// Whether `path` holds the bytes compressed.
    pub compressed: bool,
}

/// A step of a rotation that may be in flight, recorded before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// The live file `from` is being renamed to the free name `to`.
    Rotate {
        /// The `[[rotate]]` entry.
        entry: String,
        /// The live file.
        from: PathBuf,
        /// Its rotated name.
        to: PathBuf,
        /// The rotation time, for the record.
        time: String,
    },
    /// A rotated file moves to the next free number (numbered naming).
    Shift {
        /// Its current name.
        from: PathBuf,
        /// The free name it moves to.
        to: PathBuf,
    },
    /// A rotated file is being compressed into `to`, staged as `temp` in the same directory.
    Compress {
        /// The uncompressed rotated file.
        from: PathBuf,
        /// The compressed file.
        to: PathBuf,
        /// The temp file's name (in `to`'s directory).
        temp: OsString,
    },
    /// A rotated file is being removed by retention.
    Prune {
        /// The rotated file.
        path: PathBuf,
    },
}

/// `rotations.json`: every rotated file the tool created, and the step in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotations {
    /// Format version.
    pub version: u32,
    /// The rotated files, oldest rotation first.
    pub files: Vec<RotatedFile>,
    /// The steps in flight, if a run was interrupted during them. Each is finished or undone
    /// on its own: no two of them name the same file.
    #[serde(default)]
    pub pending: Vec<Step>,
}

impl Default for Rotations {
    fn default() -> Self {
        Rotations {
            version: 1,
            files: Vec::new(),
            pending: Vec::new(),
        }
    }
}

pub(crate) fn load(path: &Path) -> Result<Rotations> {
    let bytes = match super::trust::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Rotations::default()),
        Err(e) => return Err(e).ctx("read", path),
    };
    let r: Rotations = serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    r.check(path)?;
    Ok(r)
}

impl Rotations {
    /// Every path the record names is a plain path inside the workspace, and every temp has the
    /// shape [`temp_name`] gives (see [`super::trust`]).
    fn check(&self, file: &Path) -> Result<()> {
        let path = |p: &Path| super::trust::check_rel(file, p.to_str().unwrap_or("\u{fffd}"));
        for f in &self.files {
            path(&f.live)?;
            path(&f.path)?;
        }
        for s in &self.pending {
            match s {
                Step::Rotate { from, to, .. } | Step::Shift { from, to } => {
                    path(from)?;
                    path(to)?;
                }
                Step::Compress { from, to, temp } => {
                    path(from)?;
                    path(to)?;
                    let name = to
                        .file_name()
                        .map(OsStr::as_encoded_bytes)
                        .unwrap_or_default();
                    super::trust::check_temp(file, temp.as_encoded_bytes(), name)?;
                }
                Step::Prune { path: p } => {
                    path(p)?;
                }
            }
        }
        Ok(())
    }
}

/// The one temp name the record is staged under: fixed, so a temp a crash left is found by
/// name (never by pattern) and removed by the next save or [`clean`].
fn temp_of(name: &str) -> OsString {
    OsString::from(format!(".{name}.atomic-tmp"))
}

/// Removes a staged record that a crash left behind. Needs the exclusive lock.
pub(crate) fn clean(state: &Path, name: &str) -> Result<()> {
    let temp = state.join(temp_of(name));
    match fs::remove_file(&temp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("remove", temp),
    }
}

/// Replaces the record atomically (and durably with `sync`). Needs the exclusive lock.
pub(crate) fn save(state: &Path, name: &str, r: &Rotations, sync: bool) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(r).expect("rotation records serialize");
    bytes.push(b'\n');
    let dir = ArtifactDir::open_abs(state.to_owned(), state.to_owned(), sync)?;
    let temp = temp_of(name);
    dir.remove_temp(&temp)?;
    dir.stage(&temp, 0o600, None, &mut |f| f.write_all(&bytes))?;
    if let Err(e) = sys::rename_at(&dir.fd, &temp, OsStr::new(name)) {
        let _ = sys::unlink_at(&dir.fd, &temp);
        return Err(e).ctx("rename into place", state.join(name));
    }
    dir.sync()
}

/// A directory of artifacts, open for `*at` calls. Changes are durable once [`ArtifactDir::sync`]
/// has returned (with `Durability::Full`).
#[derive(Debug)]
pub struct ArtifactDir {
    /// Relative to the workspace root (for messages and records).
    rel: PathBuf,
    abs: PathBuf,
    fd: OwnedFd,
    sync: bool,
}

impl ArtifactDir {
    pub(crate) fn open_abs(rel: PathBuf, abs: PathBuf, sync: bool) -> Result<Self> {
        let fd = sys::open_dir(&abs).ctx("open", &abs)?;
        Ok(ArtifactDir { rel, abs, fd, sync })
    }

    /// The directory, relative to the workspace root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    /// Whether `name` exists here (any kind of file).
    pub fn exists(&self, name: &OsStr) -> Result<bool> {
        sys::exists_at(&self.fd, name).ctx("inspect", self.abs.join(name))
    }

    /// The size of the regular file `name`; `None` if there is no such name.
    pub fn size(&self, name: &OsStr) -> Result<Option<u64>> {
        Ok(sys::stat_at(&self.fd, name)
            .ctx("inspect", self.abs.join(name))?
            .map(|m| m.size))
    }

    /// Opens `name` for reading (never through a symlink); `None` if it does not exist.
    pub fn open(&self, name: &OsStr) -> Result<Option<File>> {
        match sys::open_read_nofollow(&self.fd, name) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx("open", self.abs.join(name)),
        }
    }

    /// Digest and size of `name`; `None` if it does not exist.
    pub fn hash(&self, name: &OsStr) -> Result<Option<(Sha256Digest, u64)>> {
        match self.open(name)? {
            None => Ok(None),
            Some(f) => Sha256Digest::of_reader(f)
                .map(Some)
                .ctx("read", self.abs.join(name)),
        }
    }

    /// Renames `from` to `to`, which must not exist.
    pub fn rename_new(&self, from: &OsStr, to: &OsStr) -> Result<()> {
        sys::rename_noreplace(&self.fd, from, to).ctx("rename", self.abs.join(from))
    }

    /// Removes `name`; `false` if it was gone already.
    pub fn remove(&self, name: &OsStr) -> Result<bool> {
        sys::unlink_at_if_exists(&self.fd, name).ctx("remove", self.abs.join(name))
    }

    /// Creates the new file `name` with the bytes `fill` writes, atomically: they go into
    /// `temp` (created with `O_EXCL`, never more readable than `like`), which gets the owner
    /// (where permitted) and permission bits of the file `like`, is fsynced, and is renamed to
    /// `name` only if `name` is still free. On failure the temp is removed and `name` does not
    /// exist.
    pub fn create_new(
        &self,
        name: &OsStr,
        temp: &OsStr,
        like: &OsStr,
        fill: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        let meta = sys::stat_at(&self.fd, like)
            .ctx("inspect", self.abs.join(like))?
            .ok_or_else(|| StoreError::Io {
                op: "inspect",
                path: self.abs.join(like),
                source: io::Error::from(io::ErrorKind::NotFound),
            })?;
        self.stage(temp, meta.mode, Some((meta.uid, meta.gid)), fill)?;
        if let Err(e) = sys::rename_noreplace(&self.fd, temp, name) {
            let _ = sys::unlink_at(&self.fd, temp);
            return Err(e).ctx("rename into place", self.abs.join(name));
        }
        Ok(())
    }

    /// Removes a temp file a [`Step`] names, if it is there.
    pub fn remove_temp(&self, temp: &OsStr) -> Result<bool> {
        sys::unlink_at_if_exists(&self.fd, temp).ctx("remove", self.abs.join(temp))
    }

    /// Fsyncs the directory (with `Durability::Full`).
    pub fn sync(&self) -> Result<()> {
        if self.sync {
            sys::fsync(&self.fd).ctx("fsync", &self.abs)?;
        }
        Ok(())
    }

    fn stage(
        &self,
        temp: &OsStr,
        mode: u32,
        owner: Option<(u32, u32)>,
        fill: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        let path = self.abs.join(temp);
        let mut file = sys::create_excl(&self.fd, temp, mode & 0o600).ctx("create", &path)?;
        let result = (|| {
            fill(&mut file).ctx("write", &path)?;
            if let Some((uid, gid)) = owner {
                // chown clears set-id bits, so it goes before chmod.
                sys::fchown_if_permitted(&file, uid, gid).ctx("set the owner of", &path)?;
            }
            sys::fchmod(&file, mode & 0o777).ctx("set permissions of", &path)?;
            if self.sync {
                sys::fsync(&file).ctx("fsync", &path)?;
            }
            Ok(())
        })();
        if result.is_err() {
            drop(file);
            let _ = sys::unlink_at(&self.fd, temp);
        }
        result
    }
}

/// A fresh temp name for a file to be created beside `name` (`.NAME.XXXX.atomic-tmp`).
pub fn temp_name(name: &OsStr) -> OsString {
    sys::temp_name(name)
}

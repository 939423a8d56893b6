//! Atomic file replace (G1) that keeps metadata and respects links (G4).
//!
//! Guarantee: a reader of the target sees the old bytes or the new bytes, never a mix, an empty
//! file, or nothing; with `Durability::Full`, success is reported only once the new bytes and
//! the rename are on stable storage.
//!
//! How it works: the target is resolved first (a symlink is followed only to a regular file
//! inside the workspace root; a file with other hard links is refused unless allowed). A temp
//! file with a random name is created with `O_EXCL` through the target directory's fd, filled,
//! given the original's owner (where permitted), extended attributes and permission bits, and
//! `fsync`ed; then `renameat` puts it in place and the directory is `fsync`ed. Any failure up to
//! the rename removes the temp and leaves the target as it was; a failed fsync is never retried.
//!
//! Limitations: only Unix. A process that holds the old file open keeps reading the old inode.
//! [`write_file`] has no backup to undo with: if the directory fsync fails after the rename,
//! it reports the failure but the new bytes are in place (a [`Transaction`](super::Transaction)
//! rolls back instead).
//!
//! Proven by `tests/it/store.rs` (metadata, links) and the crash and error sweeps in
//! `tests/it/crash.rs`.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use super::error::{IoContext, Result, StoreError};
use super::sys::{self, Meta};
use crate::digest::Sha256Digest;

/// How hard a write works to survive power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// fsync the data and the directory: survives power loss. The default for source files.
    #[default]
    Full,
    /// Atomic against crashes of the process, but skips fsync: for `target/` and `OUT_DIR`,
    /// which a build can regenerate.
    Atomic,
}

impl Durability {
    pub(crate) fn syncs(self) -> bool {
        self == Durability::Full
    }
}

/// What a write may do to links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkPolicy {
    /// Replace a file that has other hard links (they keep the old bytes).
    pub allow_hardlinks: bool,
}

/// A write target after resolution: the regular file (or free name) that will be replaced.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The path as the user named it, relative to the root.
    pub path: PathBuf,
    /// The resolved file, relative to the root (differs from `path` for a symlink).
    pub real: PathBuf,
    /// The metadata of the existing regular file, if there is one.
    pub existing: Option<Meta>,
}

impl Target {
    pub fn dir(&self) -> &Path {
        self.real.parent().unwrap_or(Path::new(""))
    }

    pub fn name(&self) -> &OsStr {
        self.real.file_name().unwrap_or_default()
    }
}

/// Resolves `path` (absolute, or relative to `root`) to the regular file a write replaces.
/// `root` must be canonical.
pub(crate) fn resolve(root: &Path, path: &Path, links: LinkPolicy) -> Result<Target> {
    resolve_with(root, path, links, &mut DirCache::default())
}

/// Canonical forms of directories, remembered for the length of one transaction (which holds
/// the lock, so they do not change under it).
#[derive(Debug, Default)]
pub(crate) struct DirCache(std::collections::HashMap<PathBuf, PathBuf>);

/// [`resolve`], canonicalizing each directory once per `cache`.
pub(crate) fn resolve_with(
    root: &Path,
    path: &Path,
    links: LinkPolicy,
    cache: &mut DirCache,
) -> Result<Target> {
    let abs = root.join(path);
    let outside = || StoreError::OutsideRoot {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let name = match abs.file_name() {
        Some(n) if !matches!(abs.components().next_back(), Some(Component::ParentDir)) => n,
        _ => return Err(StoreError::NotRegular { path: abs.clone() }),
    };
    let dir = abs.parent().unwrap_or(root);
    let parent = match cache.0.get(dir) {
        Some(p) => p.clone(),
        None => {
            let p = canonical_ancestor(dir)?;
            cache.0.insert(dir.to_owned(), p.clone());
            p
        }
    };
    let lexical = parent.join(name);
    let rel = lexical
        .strip_prefix(root)
        .map_err(|_| outside())?
        .to_owned();
    let meta = match fs::symlink_metadata(&lexical) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).ctx("inspect", &lexical),
    };
    let (real, meta) = match meta {
        None => (rel.clone(), None),
        Some(m) if m.file_type().is_symlink() => {
            let resolved = match fs::canonicalize(&lexical) {
                Ok(p) => p,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::DanglingSymlink { path: rel });
                }
                Err(e) => return Err(e).ctx("resolve the symlink", &lexical),
            };
            let Ok(inside) = resolved.strip_prefix(root) else {
                return Err(StoreError::SymlinkOutside {
                    path: rel,
                    target: resolved,
                });
            };
            let m = fs::symlink_metadata(&resolved).ctx("inspect", &resolved)?;
            (inside.to_owned(), Some(m))
        }
        Some(m) => (rel.clone(), Some(m)),
    };
    let existing = match meta {
        None => None,
        Some(m) if !m.file_type().is_file() => {
            return Err(StoreError::NotRegular { path: real });
        }
        Some(m) => {
            if m.nlink() > 1 && !links.allow_hardlinks {
                return Err(StoreError::HardLinked {
                    path: real,
                    nlink: m.nlink(),
                });
            }
            Some(Meta {
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                nlink: m.nlink(),
                size: m.size(),
                is_file: true,
            })
        }
    };
    Ok(Target {
        path: rel,
        real,
        existing,
    })
}

/// Canonicalizes the longest existing prefix of `dir` and appends the rest, so a target in a
/// directory that does not exist yet still resolves (and `..` cannot escape lexically).
pub(crate) fn canonical_ancestor(dir: &Path) -> Result<PathBuf> {
    let mut missing = Vec::new();
    let mut cur = dir;
    loop {
        match fs::canonicalize(cur) {
            Ok(mut p) => {
                for part in missing.iter().rev() {
                    p.push(part);
                }
                return Ok(p);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (cur.parent(), cur.file_name()) else {
                    return Err(e).ctx("resolve", dir);
                };
                missing.push(name.to_owned());
                cur = parent;
            }
            Err(e) => return Err(e).ctx("resolve", dir),
        }
    }
}

/// Creates the missing directories of `dir` (absolute) and returns those it created, outermost
/// first. With `sync`, each new directory's parent is fsynced so the entry survives power loss.
pub(crate) fn create_dirs(dir: &Path, sync: bool) -> Result<Vec<PathBuf>> {
    let mut todo = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        todo.push(cur.to_owned());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    todo.reverse();
    for d in &todo {
        match fs::DirBuilder::new().mode(0o777).create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx("create the directory", d),
        }
        if sync {
            let parent = d.parent().unwrap_or(Path::new("/"));
            sys::fsync(sys::open_dir(parent).ctx("open", parent)?).ctx("fsync", parent)?;
        }
    }
    Ok(todo)
}

/// The permission bits and owner a new file gets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewMeta {
    pub mode: u32,
    /// Copy owner and xattrs from the existing file in the same directory.
    pub from_existing: bool,
}

impl NewMeta {
    pub fn for_target(t: &Target) -> Self {
        match t.existing {
            Some(m) => NewMeta {
                mode: m.mode,
                from_existing: true,
            },
            None => NewMeta {
                mode: 0o666 & !sys::umask(),
                from_existing: false,
            },
        }
    }
}

/// Writes `bytes` into a new temp file `temp` in `dir_fd`, with the metadata of the existing
/// `name` (when `meta.from_existing`), fsynced when `sync`. On failure the temp is removed.
pub(crate) fn stage(
    dir_fd: &OwnedFd,
    dir: &Path,
    name: &OsStr,
    temp: &OsStr,
    bytes: &[u8],
    meta: NewMeta,
    sync: bool,
) -> Result<()> {
    stage_with(dir_fd, dir, name, temp, meta, sync, |file| {
        file.write_all(bytes).ctx("write", dir.join(temp))
    })
}

/// [`stage`] with the bytes written by `fill` (which gets the temp file, open for writing), so
/// that they need not be held in memory at once.
pub(crate) fn stage_with(
    dir_fd: &OwnedFd,
    dir: &Path,
    name: &OsStr,
    temp: &OsStr,
    meta: NewMeta,
    sync: bool,
    fill: impl FnOnce(&mut File) -> Result<()>,
) -> Result<()> {
    let temp_path = dir.join(temp);
    // Never more readable than the original while it is being filled.
    let mut file =
        sys::create_excl(dir_fd, temp, meta.mode & 0o600).ctx("create a temp file in", dir)?;
    let result = (|| {
        fill(&mut file)?;
        if meta.from_existing {
            let orig = sys::open_read_nofollow(dir_fd, name).ctx("open", dir.join(name))?;
            let st = sys::fstat(&orig).ctx("inspect", dir.join(name))?;
            // chown clears set-id bits, so it goes before chmod.
            sys::fchown_if_permitted(&file, st.uid, st.gid).ctx("set the owner of", &temp_path)?;
            sys::copy_xattrs(&orig, &file).ctx("copy extended attributes to", &temp_path)?;
        }
        sys::fchmod(&file, meta.mode).ctx("set permissions of", &temp_path)?;
        if sync {
            sys::fsync(&file).ctx("fsync", &temp_path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        drop(file);
        let _ = sys::unlink_at(dir_fd, temp);
    }
    result
}

/// Options of a single-file [`write_file`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// fsync or not.
    pub durability: Durability,
    /// What to do with links.
    pub links: LinkPolicy,
    /// Permission bits of a file that does not exist yet (the umask applies); default: 0666.
    /// An existing file keeps its own.
    pub new_mode: Option<u32>,
}

/// What a single-file write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file that received the bytes (a symlink's target), relative to the root.
    pub real: PathBuf,
    /// Digest of the new bytes.
    pub sha256: Sha256Digest,
    /// Why the directory could not be flushed after the rename, if it could not: the new file
    /// is in place (so this is no failure: "failed" must mean "unchanged"), but it may not
    /// survive a power loss.
    pub not_durable: Option<String>,
}

/// Removes the temps a [`write_file`] of `name` killed between its temp and its rename left in
/// `dir`: only names of the shape it gives them (`.NAME.<16 hex>.atomic-tmp`), never by a wider
/// pattern. A missing `dir` holds none.
pub fn remove_write_temps(dir: &Path, name: &[u8]) -> Result<usize> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).ctx("list", dir),
    };
    let mut n = 0;
    for e in rd {
        let e = e.ctx("list", dir)?;
        if super::trust::is_temp_of(e.file_name().as_encoded_bytes(), name) {
            let p = e.path();
            fs::remove_file(&p).ctx("remove", &p)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Replaces `path` (relative to `root`, or absolute inside it) with `bytes` atomically, without
/// a store: no backup, no journal. For one file where a [`Transaction`](super::Transaction)
/// would be too much, such as a build script's output.
pub fn write_file(
    root: &Path,
    path: &Path,
    bytes: &[u8],
    options: WriteOptions,
) -> Result<Written> {
    let root = fs::canonicalize(root).ctx("resolve", root)?;
    let target = resolve(&root, path, options.links)?;
    let dir = root.join(target.dir());
    let sync = options.durability.syncs();
    create_dirs(&dir, sync)?;
    let dir_fd = sys::open_dir(&dir).ctx("open", &dir)?;
    let temp = sys::temp_name(target.name());
    let mut meta = NewMeta::for_target(&target);
    if let (None, Some(mode)) = (target.existing, options.new_mode) {
        meta.mode = mode & 0o7777 & !sys::umask();
    }
    stage(&dir_fd, &dir, target.name(), &temp, bytes, meta, sync)?;
    if let Err(e) = sys::rename_at(&dir_fd, &temp, target.name()) {
        let _ = sys::unlink_at(&dir_fd, &temp);
        return Err(e).ctx("rename into place", root.join(&target.real));
    }
    // Past the rename the file is new: an error now would report a change as not made.
    let not_durable = if sync {
        sys::fsync(&dir_fd)
            .ctx("fsync", &dir)
            .err()
            .map(|e| super::error_chain(&e))
    } else {
        None
    };
    Ok(Written {
        real: target.real,
        sha256: Sha256Digest::of(bytes),
        not_durable,
    })
}

/// Removes `path` (absolute) and makes the removal durable: for a file the tool itself wrote
/// outside any workspace (a git hook). A file that is already gone is not an error.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("remove", path),
    }
    match path.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    }
}

/// Fsyncs a directory by path.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let fd = sys::open_dir(dir).ctx("open", dir)?;
    sys::fsync(fd.as_fd()).ctx("fsync", dir)
}

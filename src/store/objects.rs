//! Backup objects (G3): the old bytes of every replaced or deleted file, content-addressed.
//!
//! `objects/<sha256>` holds bytes that hash to its name, with permission bits never wider than
//! the file they came from. Usually it *is* the file it came from: the replaced inode, kept by a
//! hard link, so a backup costs no copy (limitation: a process that still has the old file open
//! for writing could change it; a restore checks the hash first and refuses such an object). `backups.jsonl` indexes them by path and time, one JSON record a
//! line, appended after each transaction (a torn last line is ignored). An object is verified
//! by hash before anything is restored from it.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::{IoContext, Result, StoreError};
use super::sys;
use crate::digest::Sha256Digest;

/// One kept version of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// Short unique id, for `backups restore --id`.
    pub id: String,
    /// The transaction that replaced or deleted the file.
    pub txid: String,
    /// When (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// The object holding its old bytes.
    pub sha256: Sha256Digest,
    /// Size of the old bytes.
    pub size: u64,
    /// Permission bits of the old file.
    pub mode: u32,
    /// What replaced it: `write`, `delete`, `restore`...
    pub op: String,
    /// The command that made the backup.
    pub command: String,
}

impl BackupRecord {
    /// A stable id for the backup of `path` in `txid`.
    pub fn make_id(txid: &str, path: &Path) -> String {
        let mut h = Sha256::new();
        h.update(txid.as_bytes());
        h.update([0]);
        h.update(path.as_os_str().as_encoded_bytes());
        Sha256Digest(h.finalize().into()).short(12)
    }
}

/// The object directory of a store, open.
#[derive(Debug)]
pub(crate) struct Objects {
    pub dir: PathBuf,
    fd: OwnedFd,
    sync: bool,
}

impl Objects {
    pub fn open(dir: PathBuf, sync: bool) -> Result<Self> {
        let fd = sys::open_dir(&dir).ctx("open", &dir)?;
        Ok(Objects { dir, fd, sync })
    }

    /// The open object directory.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Makes the renames of new objects durable.
    pub fn sync_dir(&self) -> Result<()> {
        sys::fsync(&self.fd).ctx("fsync", &self.dir)
    }

    pub fn path(&self, d: &Sha256Digest) -> PathBuf {
        self.dir.join(d.to_string())
    }

    pub fn temp_name(d: &Sha256Digest) -> OsString {
        sys::temp_name(OsStr::new(&d.short(16)))
    }

    /// Keeps the bytes of `src` (which must hash to `expected`) as an object. The copy goes
    /// through `temp` and is verified while copying, so an object never holds other bytes than
    /// its name says. Objects that exist already are only narrowed to `mode`.
    pub fn keep(
        &self,
        src: &mut File,
        src_path: &Path,
        expected: &Sha256Digest,
        mode: u32,
        temp: &OsStr,
    ) -> Result<()> {
        let (dir_fd, sync) = (&self.fd, self.sync);
        let final_name = OsString::from(expected.to_string());
        let mode = mode & 0o777;
        if let Ok(m) = fs::symlink_metadata(self.dir.join(&final_name)) {
            let have = m.permissions().mode() & 0o777;
            if have & !mode != 0 {
                fs::set_permissions(
                    self.dir.join(&final_name),
                    fs::Permissions::from_mode(have & mode),
                )
                .ctx("narrow the permissions of", self.dir.join(&final_name))?;
            }
            return Ok(());
        }
        let temp_path = self.dir.join(temp);
        let mut out = sys::create_excl(dir_fd, temp, mode & 0o600).ctx("create", &temp_path)?;
        let result = (|| {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e).ctx("read", src_path),
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).ctx("write", &temp_path)?;
            }
            let actual = Sha256Digest(hasher.finalize().into());
            if actual != *expected {
                return Err(StoreError::Damaged {
                    path: src_path.to_owned(),
                    detail: "it changed while it was being backed up".into(),
                });
            }
            sys::fchmod(&out, mode).ctx("set permissions of", &temp_path)?;
            if sync {
                sys::fsync(&out).ctx("fsync", &temp_path)?;
            }
            sys::rename_at(dir_fd, temp, &final_name).ctx("rename into place", self.path(expected))
        })();
        if result.is_err() {
            let _ = sys::unlink_at(dir_fd, temp);
        }
        result
    }

    /// Keeps the old bytes of `src_name` (in `src_dir`) without copying them: the old inode is
    /// hard-linked into the object directory under `temp`. The rename that replaces the target
    /// then leaves that inode reachable only from here, so no data is copied and no file is
    /// freed on the write path. Returns `false` (nothing done) where a link cannot serve: the
    /// object exists already, the file has other links or set-id bits, or the filesystem refuses
    /// (the caller copies instead).
    ///
    /// The link stays under `temp`, a name the journal lists, until the transaction has renamed
    /// the target away ([`Objects::publish`]): until then a discard can remove it and give the
    /// user's file back its single link. Its bytes are checked against `expected` through the
    /// link (a concurrent change is caught), and `fdatasync`ed so the backup is durable before
    /// COMMIT.
    pub fn keep_by_link(
        &self,
        src_dir: &OwnedFd,
        src_name: &OsStr,
        src_path: &Path,
        expected: &Sha256Digest,
        temp: &OsStr,
    ) -> Result<bool> {
        let final_name = OsString::from(expected.to_string());
        match fs::symlink_metadata(self.dir.join(&final_name)) {
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).ctx("inspect", self.dir.join(&final_name)),
        }
        if sys::link_at(src_dir, src_name, &self.fd, temp).is_err() {
            return Ok(false); // EXDEV, EPERM, ...: copying works wherever reading does
        }
        let temp_path = self.dir.join(temp);
        let result = (|| {
            let f = sys::open_read_nofollow(&self.fd, temp).ctx("open", &temp_path)?;
            let st = sys::fstat(&f).ctx("inspect", &temp_path)?;
            if st.nlink != 2 || st.mode & !0o777 != 0 {
                return Ok(false);
            }
            let (actual, _) = Sha256Digest::of_reader(&f).ctx("read", src_path)?;
            if actual != *expected {
                return Err(StoreError::Damaged {
                    path: src_path.to_owned(),
                    detail: "it changed while it was being backed up".into(),
                });
            }
            if self.sync {
                sys::fdatasync(&f).ctx("fsync", src_path)?;
            }
            Ok(true)
        })();
        if !matches!(result, Ok(true)) {
            let _ = sys::unlink_at(&self.fd, temp);
        }
        result
    }

    /// Gives a backup kept by [`Objects::keep_by_link`] its content-addressed name. Idempotent:
    /// a temp that is gone was published already (or never linked).
    pub fn publish(&self, temp: &OsStr, d: &Sha256Digest) -> Result<()> {
        match sys::rename_at(&self.fd, temp, OsStr::new(&d.to_string())) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("rename into place", self.path(d)),
        }
    }

    /// Reads an object (or, before it is published, its temp) and checks that its bytes hash
    /// to its name.
    pub fn read_verified_or_temp(&self, d: &Sha256Digest, temp: Option<&OsStr>) -> Result<Vec<u8>> {
        match (self.read_verified(d), temp) {
            (Err(StoreError::MissingObject { .. }), Some(t)) => read_checked(&self.dir.join(t), d),
            (r, _) => r,
        }
    }

    /// Reads an object and checks that its bytes hash to its name.
    pub fn read_verified(&self, d: &Sha256Digest) -> Result<Vec<u8>> {
        read_checked(&self.path(d), d)
    }
}

/// The bytes at `path`, which must hash to `d`.
fn read_checked(path: &Path, d: &Sha256Digest) -> Result<Vec<u8>> {
    let bytes = match super::trust::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::MissingObject { digest: *d });
        }
        Err(e) => return Err(e).ctx("read", path),
    };
    let actual = Sha256Digest::of(&bytes);
    if actual != *d {
        return Err(StoreError::CorruptObject {
            expected: *d,
            actual,
        });
    }
    Ok(bytes)
}

/// Appends records to the index and (with `sync`) fsyncs it.
pub(crate) fn append_index(path: &Path, records: &[BackupRecord], sync: bool) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut text = Vec::new();
    for r in records {
        serde_json::to_writer(&mut text, r).expect("a backup record serializes");
        text.push(b'\n');
    }
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .ctx("open", path)?;
    end_torn_tail(&f, &mut text).ctx("repair", path)?;
    f.write_all(&text).ctx("append to", path)?;
    if sync {
        sys::fsync(&f).ctx("fsync", path)?;
    }
    Ok(())
}

/// A crash mid-append leaves a last line without its newline. Appending after it would glue
/// the next record onto it, and that record would be lost (read as a torn tail) — or, once
/// more follow, the whole index would read as damaged. So a torn tail is cut off first (under
/// the lock, nothing else writes here); a last record that is whole but lacks only its newline
/// gets one.
fn end_torn_tail(f: &File, text: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len();
    let mut last = [0u8];
    if len == 0 || {
        f.read_exact_at(&mut last, len - 1)?;
        last[0] == b'\n'
    } {
        return Ok(());
    }
    // Find where the last line starts, reading backwards.
    let mut start = len;
    let mut buf = vec![0u8; 64 * 1024];
    let line_start = loop {
        let from = start.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(start - from) as usize];
        f.read_exact_at(chunk, from)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            break from + i as u64 + 1;
        }
        if from == 0 {
            break 0;
        }
        start = from;
    };
    let mut tail = vec![0u8; (len - line_start) as usize];
    f.read_exact_at(&mut tail, line_start)?;
    if serde_json::from_slice::<BackupRecord>(&tail).is_ok() {
        text.insert(0, b'\n');
    } else {
        f.set_len(line_start)?;
    }
    Ok(())
}

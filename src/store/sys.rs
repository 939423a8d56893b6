//! Unix system calls behind the store, in one place: directory file descriptors, `*at` calls,
//! fsync, ownership and extended attributes.
//!
//! Everything here is `pub(crate)` and safe (through `rustix`). Callers decide the order of
//! operations; this module only names them and attaches paths to their errors.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

/// Opens a directory for use as the anchor of `*at` calls and for fsync.
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Creates a new file named `name` in `dir` with `O_EXCL`, so an existing file (or a symlink
/// planted under that name) is never followed or reused.
pub(crate) fn create_excl(dir: impl AsFd, name: &OsStr, mode: u32) -> io::Result<File> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(mode),
    )?;
    Ok(File::from(fd))
}

/// Opens an existing regular file for reading without following a final symlink.
pub(crate) fn open_read_nofollow(dir: impl AsFd, name: &OsStr) -> io::Result<File> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

pub(crate) fn fsync(fd: impl AsFd) -> io::Result<()> {
    Ok(rfs::fsync(fd)?)
}

pub(crate) fn fdatasync(fd: impl AsFd) -> io::Result<()> {
    Ok(rfs::fdatasync(fd)?)
}

/// Adds the name `to` in `to_dir` for the file `from` in `from_dir` (never following a link).
pub(crate) fn link_at(
    from_dir: impl AsFd,
    from: &OsStr,
    to_dir: impl AsFd,
    to: &OsStr,
) -> io::Result<()> {
    Ok(rfs::linkat(from_dir, from, to_dir, to, AtFlags::empty())?)
}

pub(crate) fn rename_at(dir: impl AsFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let dir = dir.as_fd();
    Ok(rfs::renameat(dir, from, dir, to)?)
}

/// Renames `from` to `to` in `dir` only if `to` does not exist (`renameat2(RENAME_NOREPLACE)`),
/// so a rename never replaces a file somebody else put there. Where the filesystem lacks the
/// flag (EINVAL), the name is checked first and a plain rename follows: callers hold the
/// store's lock, so only a process that ignores it could slip in between.
pub(crate) fn rename_noreplace(dir: impl AsFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let dir = dir.as_fd();
    match rfs::renameat_with(dir, from, dir, to, rfs::RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            if exists_at(dir, to)? {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            Ok(rfs::renameat(dir, from, dir, to)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether `name` exists in `dir` (a symlink counts, dangling or not).
pub(crate) fn exists_at(dir: impl AsFd, name: &OsStr) -> io::Result<bool> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The metadata of `name` in `dir`, not following a final symlink; `None` if it does not exist.
pub(crate) fn stat_at(dir: impl AsFd, name: &OsStr) -> io::Result<Option<Meta>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(meta_of(&st))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn unlink_at(dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    Ok(rfs::unlinkat(dir, name, AtFlags::empty())?)
}

/// `unlink_at` that treats "already gone" as success, for idempotent clean-up.
pub(crate) fn unlink_at_if_exists(dir: impl AsFd, name: &OsStr) -> io::Result<bool> {
    match unlink_at(dir, name) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The metadata of a file that a replacement must carry over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    pub is_file: bool,
}

pub(crate) fn fstat(fd: impl AsFd) -> io::Result<Meta> {
    Ok(meta_of(&rfs::fstat(fd)?))
}

fn meta_of(st: &rfs::Stat) -> Meta {
    Meta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        size: st.st_size as u64,
        is_file: rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::RegularFile,
    }
}

pub(crate) fn fchmod(fd: impl AsFd, mode: u32) -> io::Result<()> {
    Ok(rfs::fchmod(fd, Mode::from_raw_mode(mode & 0o7777))?)
}

/// Gives `fd` the owner of the original. Only root (or the owner, for the group) may do this;
/// "not permitted" is expected for ordinary users and is not an error.
pub(crate) fn fchown_if_permitted(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = (rfs::Uid::from_raw(uid), rfs::Gid::from_raw(gid));
    match rfs::fchown(fd, Some(u), Some(g)) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Copies every extended attribute of `from` onto `to`. Filesystems without xattrs, and
/// namespaces we may not write (`trusted.*` as a user), are skipped, not errors.
pub(crate) fn copy_xattrs(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let (from, to) = (from.as_fd(), to.as_fd());
    let names = match read_sized(|buf| rfs::flistxattr(from, buf)) {
        Ok(n) => n,
        Err(e) if is_xattr_unsupported(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = OsStr::from_bytes(name);
        let value = match read_sized(|buf| rfs::fgetxattr(from, name, buf)) {
            Ok(v) => v,
            Err(rustix::io::Errno::NODATA) => continue,
            Err(e) => return Err(e.into()),
        };
        match rfs::fsetxattr(to, name, &value, rfs::XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if is_xattr_unsupported(&e) || e == rustix::io::Errno::PERM => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn is_xattr_unsupported(e: &rustix::io::Errno) -> bool {
    *e == rustix::io::Errno::NOTSUP || *e == rustix::io::Errno::OPNOTSUPP
}

/// Calls a "fill this buffer" syscall with a growing buffer until the answer fits (ERANGE
/// means "too small"). Xattr names and values are at most 64 KiB on Linux.
fn read_sized(
    mut call: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0u8; size];
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) if size < (1 << 20) => size *= 4,
            Err(e) => return Err(e),
        }
    }
}

/// The process umask, read without changing it (`umask(2)` would race other threads).
pub(crate) fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// A fresh random name for a temp file next to `target_name`, hidden and recognisable:
/// `.NAME.XXXXXXXXXXXXXXXX.atomic-tmp`. Names longer than the filesystem allows are shortened.
pub(crate) fn temp_name(target_name: &OsStr) -> OsString {
    let stem = target_name.as_bytes();
    let stem = &stem[..stem.len().min(160)];
    let mut name = Vec::with_capacity(stem.len() + 32);
    name.push(b'.');
    name.extend_from_slice(stem);
    name.extend_from_slice(format!(".{}.atomic-tmp", random_hex()).as_bytes());
    <OsString as std::os::unix::ffi::OsStringExt>::from_vec(name)
}

/// 64 random bits as 16 hex digits, for unguessable temp names and ids.
pub(crate) fn random_hex() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: fall back to time and pid, still unique per process and instant.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ ((std::process::id() as u64) << 40)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

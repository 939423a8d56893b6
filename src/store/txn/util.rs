//! What transactions use that is not a step: hashing, path keys, the thread pool, ids and
//! clocks.

use super::super::error::{IoContext, Result, StoreError};
use super::super::manifest::FileState;
use super::super::sys;
use crate::digest::Sha256Digest;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .ctx("open", path)
}

/// Digest and size of a file, streaming.
pub(crate) fn hash_file(path: &Path) -> Result<FileState> {
    let f = open_nofollow(path)?;
    let (sha256, size) = Sha256Digest::of_reader(f).ctx("read", path)?;
    Ok(FileState { sha256, size })
}

/// Like [`hash_file`], `None` when the file does not exist.
pub(crate) fn hash_file_opt(path: &Path) -> Result<Option<FileState>> {
    match hash_file(path) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Paths in the journal and manifest are UTF-8 with `/` separators.
pub(crate) fn path_key(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| StoreError::NotUtf8 { path: p.to_owned() })
}

/// Runs `f` over `items` on up to 8 threads (fsync latency overlaps; the kernel groups the
/// commits) and returns the results in order, or the first error.
pub(super) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = items.len().min(max_threads());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = f(&items[i]);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::with_capacity(results.len());
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The most threads [`parallel_map`] uses: 8, or `CARGO_ATOMIC_THREADS` when it is a positive
/// number. `1` makes every system call of a transaction happen on one thread in a fixed order,
/// which the crash and error sweeps need: `strace` counts the calls it injects into per
/// thread, so calls made on worker threads could not be singled out.
fn max_threads() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("CARGO_ATOMIC_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(8)
    })
}

/// A unique, time-sortable transaction id.
pub(super) fn new_txid() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms:013}-{}", sys::random_hex())
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

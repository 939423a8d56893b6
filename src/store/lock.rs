//! The store lock (G5): one writer at a time, any number of readers.
//!
//! A writer holds an exclusive `flock` on `<state>/lock` for as long as its [`StoreLock`] lives
//! and records its pid in the file, so a waiting process can say whom it waits for. Readers hold
//! a shared lock. The kernel drops the lock when the process dies, so a crash never leaves the
//! store locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::{IoContext, Result};

/// Shared (readers) or exclusive (writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many at once; no writer meanwhile.
    Shared,
    /// One at a time.
    Exclusive,
}

/// Proof that the store's lock is held. Dropping it releases the lock.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    mode: LockMode,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock at `path`, calling `on_wait` with the holder's pid (when known) once if
    /// it must wait.
    pub fn acquire(
        path: &Path,
        mode: LockMode,
        on_wait: &mut dyn FnMut(Option<u32>),
    ) -> Result<Self> {
        // Never through a link (a committed `lock -> ~/.bashrc` would get a pid written into
        // it), never blocking on a FIFO. Readers open it read-only, so that read-only commands
        // work on read-only state.
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
        if mode == LockMode::Exclusive {
            options.write(true).create(true).truncate(false).mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(super::trust::not_a_link)
            .ctx("open the lock file", path)?;
        if !file.metadata().ctx("inspect", path)?.is_file() {
            return Err(super::StoreError::Untrusted {
                file: path.to_owned(),
                detail: "the lock is not a regular file".into(),
            });
        }
        let attempt = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait(read_pid(&mut file));
                match mode {
                    LockMode::Shared => file.lock_shared(),
                    LockMode::Exclusive => file.lock(),
                }
                .ctx("lock", path)?;
            }
            Err(TryLockError::Error(e)) => return Err(e).ctx("lock", path),
        }
        let mut lock = StoreLock {
            file,
            mode,
            path: path.to_owned(),
        };
        if mode == LockMode::Exclusive {
            lock.record_pid()?;
        }
        Ok(lock)
    }

    /// Shared or exclusive.
    pub fn mode(&self) -> LockMode {
        self.mode
    }

    fn record_pid(&mut self) -> Result<()> {
        let pid = std::process::id().to_string();
        self.file.set_len(0).ctx("write", &self.path)?;
        self.file.rewind().ctx("write", &self.path)?;
        self.file.write_all(pid.as_bytes()).ctx("write", &self.path)
    }
}

/// The pid the holder recorded, if that process is alive (a reader's shared lock leaves an
/// older writer's pid in the file; naming a dead process would mislead).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.rewind().ok()?;
    Read::by_ref(file).take(32).read_to_string(&mut s).ok()?;
    let pid: u32 = s.trim().parse().ok()?;
    std::path::Path::new("/proc")
        .join(pid.to_string())
        .exists()
        .then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_reports_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held =
            StoreLock::acquire(&path, LockMode::Exclusive, &mut |_| panic!("no wait")).unwrap();
        // A second open file description in the same process conflicts like another process.
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = path.clone();
        let waiter = std::thread::spawn(move || {
            let mut seen = None;
            let l = StoreLock::acquire(&p2, LockMode::Shared, &mut |pid| {
                seen = Some(pid);
                tx.send(()).unwrap();
            })
            .unwrap();
            assert_eq!(l.mode(), LockMode::Shared);
            seen
        });
        rx.recv().unwrap(); // the waiter is blocked now
        drop(held);
        let seen = waiter.join().unwrap();
        assert_eq!(seen, Some(Some(std::process::id())));
    }

    #[test]
    fn shared_locks_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "").unwrap(); // readers never create it
        let _a = StoreLock::acquire(&path, LockMode::Shared, &mut |_| panic!("no wait")).unwrap();
        let _b = StoreLock::acquire(&path, LockMode::Shared, &mut |_| panic!("no wait")).unwrap();
    }
}

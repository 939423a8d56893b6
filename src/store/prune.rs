//! Removing backups (G3): a backup leaves the index first, then its object goes, once no
//! remaining record needs it. Only names the index listed are ever removed — never by pattern
//! or by reading the object directory — so a file someone put in `objects/` is never touched.
//!
//! How it works, under the exclusive lock:
//! 1. `prune-pending.json` is written atomically (temp, fsync, rename, fsync of the state
//!    directory): the objects about to lose their last record, with those an interrupted
//!    earlier prune left;
//! 2. `backups.jsonl` is replaced atomically by the records that stay;
//! 3. each listed object that no remaining record references is unlinked, and the object
//!    directory fsynced;
//! 4. `prune-pending.json` is removed.
//!
//! A crash before 2 leaves every record and object in place (the next prune decides again); a
//! crash after 2 leaves objects that no record references, and the pending list names them, so
//! the next prune removes them. Every object is checked against the index of that moment, so
//! one that a later backup references again is kept.
//!
//! A failure before 2 fails the prune with nothing changed; a failure after 2 (the backups are
//! gone from the index) is reported in [`Removal::unfinished`], and the next prune finishes.
//!
//! Limitations: the temps of steps 1 and 2 have fixed names in the state directory; one left by
//! a crash is removed by the next prune.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

use super::atomic::{self, NewMeta};
use super::error::{IoContext, Result, StoreError};
use super::hash::Sha256Digest;
use super::lock::LockMode;
use super::objects::BackupRecord;
use super::{Store, error_chain, sys};

const PENDING: &str = "prune-pending.json";
const INDEX: &str = "backups.jsonl";

/// What removing backups does (or, planned, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// The records that leave the index, oldest first.
    pub records: Vec<BackupRecord>,
    /// The objects that no remaining record references, with their sizes: unlinked (planned:
    /// to be unlinked).
    pub objects: Vec<(Sha256Digest, u64)>,
    /// Why freeing the objects did not finish, after the index no longer listed the backups:
    /// the pending list stays, and the next prune removes what is left.
    pub unfinished: Option<String>,
}

impl Removal {
    /// Bytes the removed objects held.
    pub fn bytes(&self) -> u64 {
        self.objects.iter().map(|(_, s)| s).sum()
    }
}

/// The pending list: objects that lose (or lost) their last record.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pending {
    version: u32,
    objects: BTreeMap<Sha256Digest, u64>,
}

impl Store {
    /// What [`Store::remove_backups`] would do with these ids: which records leave the index
    /// and which existing objects go with them (including those an interrupted prune left).
    /// Changes nothing.
    pub fn plan_removal(&self, ids: &BTreeSet<String>) -> Result<Removal> {
        Ok(self.plan(ids)?.0)
    }

    /// The removal, and the records that stay.
    fn plan(&self, ids: &BTreeSet<String>) -> Result<(Removal, Vec<BackupRecord>)> {
        let records = self.backups()?;
        let pending = self.read_pending()?;
        let (gone, stay): (Vec<BackupRecord>, Vec<BackupRecord>) =
            records.into_iter().partition(|r| ids.contains(&r.id));
        let needed: BTreeSet<Sha256Digest> = stay.iter().map(|r| r.sha256).collect();
        let mut candidates = pending.objects;
        for r in &gone {
            candidates.insert(r.sha256, r.size);
        }
        let dir = self.state.join("objects");
        let mut objects = Vec::new();
        for (d, size) in candidates {
            if needed.contains(&d) {
                continue;
            }
            match fs::symlink_metadata(dir.join(d.to_string())) {
                Ok(_) => objects.push((d, size)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("inspect", dir.join(d.to_string())),
            }
        }
        let removal = Removal {
            records: gone,
            objects,
            unfinished: None,
        };
        Ok((removal, stay))
    }

    /// Removes the backups with these ids: rewrites the index without them, then unlinks each
    /// object no remaining record references, crash-safely (see the module docs). Also
    /// finishes an interrupted earlier prune. Needs the exclusive lock.
    pub fn remove_backups(&self, ids: &BTreeSet<String>) -> Result<Removal> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "removing backups needs the exclusive lock"
        );
        let (plan, stay) = self.plan(ids)?;
        let state_fd = sys::open_dir(&self.state).ctx("open", &self.state)?;
        for name in [PENDING, INDEX] {
            let temp = temp_name(name);
            sys::unlink_at_if_exists(&state_fd, OsStr::new(&temp))
                .ctx("remove", self.state.join(&temp))?;
        }
        let had_pending = fs::symlink_metadata(self.state.join(PENDING)).is_ok();
        if plan.records.is_empty() && plan.objects.is_empty() && !had_pending {
            return Ok(plan);
        }
        if !plan.objects.is_empty() {
            let pending = Pending {
                version: 1,
                objects: plan.objects.iter().copied().collect(),
            };
            let mut bytes = serde_json::to_vec(&pending).expect("a pending list serializes");
            bytes.push(b'\n');
            self.replace_state_file(&state_fd, PENDING, &bytes)?;
        }
        if !plan.records.is_empty() {
            let mut bytes = Vec::new();
            for r in &stay {
                serde_json::to_writer(&mut bytes, r).expect("a backup record serializes");
                bytes.push(b'\n');
            }
            let index = self.state.join(INDEX);
            let old = fs::read(&index).ctx("read", &index)?;
            if let Err(e) = self.replace_state_file(&state_fd, INDEX, &bytes) {
                // A failed fsync after the rename: the new index may be in place but is not
                // durable. Put the old one back, so that a failed prune has changed nothing.
                if fs::read(&index).ok().as_deref() != Some(&old[..]) {
                    let _ = self.replace_state_file(&state_fd, INDEX, &old);
                }
                if !had_pending {
                    // Best effort: the list names objects the index still needs, so it is
                    // harmless, but this way a failed prune leaves nothing behind.
                    let _ = sys::unlink_at(&state_fd, OsStr::new(PENDING));
                }
                return Err(e);
            }
        }
        // The index no longer lists the dropped backups: they are removed. What follows only
        // frees their objects; a failure from here on leaves the pending list for the next prune
        // and is reported, not returned.
        let (objects, unfinished) = self.unlink_objects(&state_fd, &plan.objects);
        Ok(Removal {
            records: plan.records,
            objects,
            unfinished: unfinished.map(|e| error_chain(&e)),
        })
    }

    /// Unlinks `objects`, makes that durable, then removes the pending list. Returns the objects
    /// unlinked and the first failure.
    fn unlink_objects(
        &self,
        state_fd: &OwnedFd,
        list: &[(Sha256Digest, u64)],
    ) -> (Vec<(Sha256Digest, u64)>, Option<StoreError>) {
        let sync = self.durability.syncs();
        let mut done = Vec::new();
        let result = (|| {
            let objects = self.objects()?;
            for &(d, size) in list {
                sys::unlink_at_if_exists(objects.fd(), OsStr::new(&d.to_string()))
                    .ctx("remove", objects.path(&d))?;
                done.push((d, size));
            }
            if sync && !list.is_empty() {
                objects.sync_dir()?;
            }
            if sys::unlink_at_if_exists(state_fd, OsStr::new(PENDING))
                .ctx("remove", self.state.join(PENDING))?
                && sync
            {
                sys::fsync(state_fd).ctx("fsync", &self.state)?;
            }
            Ok(())
        })();
        (done, result.err())
    }

    fn read_pending(&self) -> Result<Pending> {
        let path = self.state.join(PENDING);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Damaged {
                path,
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Pending::default()),
            Err(e) => Err(e).ctx("read", path),
        }
    }

    /// Replaces `name` in the state directory atomically through a fixed temp name.
    fn replace_state_file(&self, fd: &OwnedFd, name: &str, bytes: &[u8]) -> Result<()> {
        let sync = self.durability.syncs();
        let temp = temp_name(name);
        let temp = OsStr::new(&temp);
        let meta = NewMeta {
            mode: 0o600,
            from_existing: false,
        };
        atomic::stage(fd, &self.state, OsStr::new(name), temp, bytes, meta, sync)?;
        if let Err(e) = sys::rename_at(fd, temp, OsStr::new(name)) {
            let _ = sys::unlink_at(fd, temp);
            return Err(e).ctx("rename into place", self.state.join(name));
        }
        if sync {
            sys::fsync(fd).ctx("fsync", &self.state)?;
        }
        Ok(())
    }
}

/// The fixed temp name through which `name` is replaced.
fn temp_name(name: &str) -> String {
    format!(".{name}.prune.atomic-tmp")
}

//! Removing backups (G3): a backup leaves the index first, then its object goes, once no
//! remaining record needs it. Only names the index listed are ever removed — never by pattern
//! or by reading the object directory — so a file someone put in `objects/` is never touched.
//!
//! How it works, under the exclusive lock, with the backups to drop marked by their order in
//! a [`BackupIndex`] (the index as the caller read it):
//! 0. the index is read a line at a time; each line that stays is copied, as it is read, to a
//!    temp of the new index (fsynced), so no record is held; what is held is the objects of
//!    the records that stay (a set) and those of the dropped ones (a list);
//! 1. `prune-pending.json` is written atomically (temp, fsync, rename, fsync of the state
//!    directory), streamed from that list: the objects about to lose their last record, with
//!    those an interrupted earlier prune left;
//! 2. the temp of step 0 is renamed over `backups.jsonl` and the state directory fsynced;
//! 3. each listed object that no remaining record references is unlinked, and the object
//!    directory fsynced;
//! 4. `prune-pending.json` is removed.
//!
//! A crash before 2 leaves every record and object in place (the next prune decides again); a
//! crash after 2 leaves objects that no record references, and the pending list names them, so
//! the next prune removes them. Every object is checked against the index of that moment, so
//! one that a later backup references again is kept.
//!
//! A failure before 2 fails the prune with nothing changed (the temps are removed); so does a
//! failed fsync after the rename of 2, which copies the old index back from the still open old
//! file; a failure after 2 (the backups are gone from the index) is reported in
//! [`Removal::unfinished`], and the next prune finishes. `tests/it/prune_crash.rs` kills or
//! fails the prune at every state-changing call.
//!
//! Limitations: the temps of steps 0 and 1 have fixed names in the state directory; one left by
//! a crash is removed by the next prune. The index must not change between the caller's
//! reading and the removal (it cannot under the lock); if it has, the removal refuses.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize, Serializer};

use super::atomic::{self, NewMeta};
use super::error::{IoContext, Result, StoreError};
use super::hash::Sha256Digest;
use super::index::{self, BackupIndex, Marks};
use super::lock::LockMode;
use super::{Store, error_chain, sys};

const PENDING: &str = "prune-pending.json";
const INDEX: &str = "backups.jsonl";

/// What removing backups does (or, planned, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// How many records leave the index.
    pub records: usize,
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
#[derive(Debug, Default, Deserialize)]
struct Pending {
    objects: BTreeMap<Sha256Digest, u64>,
}

/// The pending list as it is written: from a sorted list, without building a map.
#[derive(Serialize)]
struct PendingOut<'a> {
    version: u32,
    #[serde(serialize_with = "as_map")]
    objects: &'a [(Sha256Digest, u64)],
}

fn as_map<S: Serializer>(
    list: &&[(Sha256Digest, u64)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(list.iter().map(|(d, size)| (d, size)))
}

/// What one pass over the index finds.
struct Sweep {
    /// Records that leave the index.
    gone: usize,
    /// Their objects, with sizes, in index order.
    candidates: Vec<(Sha256Digest, u64)>,
    /// The objects of the records that stay.
    needed: HashSet<Sha256Digest>,
}

impl Store {
    /// The backup index as it is now, to read a record at a time (see [`BackupIndex`]).
    pub fn backup_index(&self) -> Result<BackupIndex> {
        BackupIndex::open(&self.index_path())
    }

    /// What [`Store::remove_backups`] would do: which records leave the index and which
    /// existing objects go with them (including those an interrupted prune left). Changes
    /// nothing.
    pub fn plan_removal(&self, index: &BackupIndex, dropped: &Marks) -> Result<Removal> {
        let sweep = sweep(index, dropped, None)?;
        let gone = sweep.gone;
        Ok(Removal {
            records: gone,
            objects: self.doomed(sweep)?,
            unfinished: None,
        })
    }

    /// Removes the backups that `dropped` marks (by their order in `index`, which must be the
    /// index as it is): rewrites the index without them, then unlinks each object no remaining
    /// record references, crash-safely (see the module docs). Also finishes an interrupted
    /// earlier prune. Needs the exclusive lock.
    ///
    /// The records that stay are copied from the old index to the new one as they are read,
    /// never all held; `index` still reads the old index afterwards.
    pub fn remove_backups(&self, index: &BackupIndex, dropped: &Marks) -> Result<Removal> {
        assert_eq!(
            self.lock.mode(),
            LockMode::Exclusive,
            "removing backups needs the exclusive lock"
        );
        if !index.is_current()? {
            return Err(index.changed());
        }
        let state_fd = sys::open_dir(&self.state).ctx("open", &self.state)?;
        for name in [PENDING, INDEX] {
            let temp = temp_name(name);
            sys::unlink_at_if_exists(&state_fd, OsStr::new(&temp))
                .ctx("remove", self.state.join(&temp))?;
        }
        let had_pending = fs::symlink_metadata(self.state.join(PENDING)).is_ok();
        let rewrite = dropped.count() > 0;
        let index_temp = temp_name(INDEX);
        let sweep = if rewrite {
            // The new index is staged while the old one is read; it replaces the old one only
            // after the pending list is durable.
            let temp_path = self.state.join(&index_temp);
            let mut found = None;
            let meta = NewMeta {
                mode: 0o600,
                from_existing: false,
            };
            let (name, temp) = (OsStr::new(INDEX), OsStr::new(&index_temp));
            let sync = self.durability.syncs();
            atomic::stage_with(&state_fd, &self.state, name, temp, meta, sync, |file| {
                let mut out = BufWriter::with_capacity(64 * 1024, file);
                found = Some(sweep(index, dropped, Some((&mut out, &temp_path)))?);
                out.flush().ctx("write", &temp_path)
            })?;
            found.expect("staged after the sweep")
        } else {
            sweep(index, dropped, None)?
        };
        let records = sweep.gone;
        let drop_temp = || {
            if rewrite {
                let _ = sys::unlink_at(&state_fd, OsStr::new(&index_temp));
            }
        };
        let objects = match self.doomed(sweep) {
            Ok(o) => o,
            Err(e) => {
                drop_temp();
                return Err(e);
            }
        };
        if records == 0 && objects.is_empty() && !had_pending {
            return Ok(Removal::default());
        }
        if !objects.is_empty() {
            let pending = PendingOut {
                version: 1,
                objects: &objects,
            };
            let written = self.replace_state_file(&state_fd, PENDING, |file| {
                let path = self.state.join(temp_name(PENDING));
                let mut out = BufWriter::with_capacity(64 * 1024, file);
                serde_json::to_writer(&mut out, &pending)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush())
                    .ctx("write", path)
            });
            if let Err(e) = written {
                drop_temp();
                return Err(e);
            }
        }
        if rewrite && let Err(e) = self.install(&state_fd, INDEX) {
            // A failed fsync after the rename: the new index may be in place but is not
            // durable. Put the old one back, so that a failed prune has changed nothing.
            if !index.is_in_place()
                && let Some(old) = index.file()
            {
                let _ = self.replace_state_file(&state_fd, INDEX, |file| {
                    io::copy(&mut BufReader::new(index::reader(old)), file)
                        .map(drop)
                        .ctx("write", self.state.join(temp_name(INDEX)))
                });
            }
            if !had_pending {
                // Best effort: the list names objects the index still needs, so it is
                // harmless, but this way a failed prune leaves nothing behind.
                let _ = sys::unlink_at(&state_fd, OsStr::new(PENDING));
            }
            return Err(e);
        }
        // The index no longer lists the dropped backups: they are removed. What follows only
        // frees their objects; a failure from here on leaves the pending list for the next prune
        // and is reported, not returned.
        let (objects, unfinished) = self.unlink_objects(&state_fd, &objects);
        Ok(Removal {
            records,
            objects,
            unfinished: unfinished.map(|e| error_chain(&e)),
        })
    }

    /// The objects to remove, sorted: those of the dropped records and of the pending list
    /// that no remaining record needs and that exist.
    fn doomed(&self, sweep: Sweep) -> Result<Vec<(Sha256Digest, u64)>> {
        let Sweep {
            candidates: gone,
            needed,
            ..
        } = sweep;
        let mut candidates: Vec<(Sha256Digest, u64)> =
            self.read_pending()?.objects.into_iter().collect();
        candidates.extend(gone);
        // Sorted by digest, stable: of equal digests the last (a dropped record's) is kept.
        candidates.sort_by_key(|(d, _)| *d);
        let mut last: Option<Sha256Digest> = None;
        candidates.reverse();
        candidates.retain(|(d, _)| {
            let first = last != Some(*d);
            last = Some(*d);
            first && !needed.contains(d)
        });
        candidates.reverse();
        drop(needed);
        let dir = self.state.join("objects");
        let mut failed = None;
        candidates.retain(|(d, _)| {
            failed.is_none()
                && match fs::symlink_metadata(dir.join(d.to_string())) {
                    Ok(_) => true,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                    Err(e) => {
                        failed = Some(Err(e).ctx("inspect", dir.join(d.to_string())));
                        false
                    }
                }
        });
        failed.unwrap_or(Ok(()))?;
        candidates.shrink_to_fit();
        Ok(candidates)
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
        match File::open(&path) {
            Ok(f) => serde_json::from_reader(BufReader::new(f)).map_err(|e| StoreError::Damaged {
                path,
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Pending::default()),
            Err(e) => Err(e).ctx("read", path),
        }
    }

    /// Replaces `name` in the state directory atomically through a fixed temp name, with the
    /// bytes `fill` writes.
    fn replace_state_file(
        &self,
        fd: &OwnedFd,
        name: &str,
        fill: impl FnOnce(&mut File) -> Result<()>,
    ) -> Result<()> {
        let temp = temp_name(name);
        let meta = NewMeta {
            mode: 0o600,
            from_existing: false,
        };
        let sync = self.durability.syncs();
        atomic::stage_with(
            fd,
            &self.state,
            OsStr::new(name),
            OsStr::new(&temp),
            meta,
            sync,
            fill,
        )?;
        self.install(fd, name)
    }

    /// Renames the staged temp of `name` over it and makes that durable.
    fn install(&self, fd: &OwnedFd, name: &str) -> Result<()> {
        let temp = temp_name(name);
        let temp = OsStr::new(&temp);
        if let Err(e) = sys::rename_at(fd, temp, OsStr::new(name)) {
            let _ = sys::unlink_at(fd, temp);
            return Err(e).ctx("rename into place", self.state.join(name));
        }
        if self.durability.syncs() {
            sys::fsync(fd).ctx("fsync", &self.state)?;
        }
        Ok(())
    }
}

/// One pass over `index`: counts the records `dropped` marks, collects their objects and those
/// of the others, and (with `out`) writes the others' lines to the new index at that path.
fn sweep(
    index: &BackupIndex,
    dropped: &Marks,
    mut out: Option<(&mut dyn Write, &std::path::Path)>,
) -> Result<Sweep> {
    let mut found = Sweep {
        gone: 0,
        candidates: Vec::new(),
        needed: HashSet::new(),
    };
    let mut k = 0;
    index.lines(|_, line, r| {
        if k >= dropped.len() {
            return Err(index.changed());
        }
        k += 1;
        if dropped.contains(k - 1) {
            found.gone += 1;
            found.candidates.push((r.sha256, r.size));
        } else {
            found.needed.insert(r.sha256);
            if let Some((w, path)) = &mut out {
                w.write_all(line.as_bytes())
                    .and_then(|()| w.write_all(b"\n"))
                    .ctx("write", *path)?;
            }
        }
        Ok(())
    })?;
    if k != dropped.len() {
        return Err(index.changed());
    }
    Ok(found)
}

/// The fixed temp name through which `name` is replaced.
fn temp_name(name: &str) -> String {
    format!(".{name}.prune.atomic-tmp")
}

//! Removing backups (G3): a backup leaves the index first, then its object goes, once no
//! remaining record needs it. Only names the index listed are ever removed — never by pattern
//! or by reading the object directory — so a file someone put in `objects/` is never touched.
//!
//! How it works, under the exclusive lock, with the backups to drop marked by their order in
//! a [`BackupIndex`] (the index as the caller read it), one bit each:
//! 0. the index is read a line at a time for the objects of the records that stay (a set: all
//!    that the removal holds); then again, and each line that stays is copied to a temp of the
//!    new index, while each dropped record's object that no staying record needs is written,
//!    as it is found, to a temp of the new pending list, after what an interrupted earlier
//!    prune listed (both fsynced); an object may be listed twice;
//! 1. the pending list is renamed over `prune-pending.json` and the state directory fsynced;
//! 2. the temp of step 0 is renamed over `backups.jsonl` and the state directory fsynced;
//! 3. each object the pending list names is unlinked (if it is still there: a second listing
//!    finds it gone), reading the list as it goes, and the object directory fsynced;
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
//! Limitations: a dry run ([`Store::plan_removal`]) counts each object once, so it holds the
//! digests of the objects it would remove. The temps of step 0 have fixed names in the state
//! directory; one left by a crash is removed by the next prune. The index must not change between the caller's
//! reading and the removal (it cannot under the lock); if it has, the removal refuses.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use serde::de;

use super::atomic::{self, NewMeta};
use super::error::{IoContext, Result, StoreError};
use super::index::{self, BackupIndex, Marks};
use super::lock::LockMode;
use super::{Store, error_chain, sys};
use crate::digest::Sha256Digest;

const PENDING: &str = "prune-pending.json";
const INDEX: &str = "backups.jsonl";

/// What removing backups does (or, planned, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// How many records leave the index.
    pub records: usize,
    /// How many objects that no remaining record references were unlinked (planned: are to be
    /// unlinked).
    pub objects: usize,
    /// The bytes those objects held.
    pub bytes: u64,
    /// Why freeing the objects did not finish, after the index no longer listed the backups:
    /// the pending list stays, and the next prune removes what is left.
    pub unfinished: Option<String>,
}

impl Store {
    /// The backup index as it is now, to read a record at a time (see [`BackupIndex`]).
    pub fn backup_index(&self) -> Result<BackupIndex> {
        BackupIndex::open(&self.index_path())
    }

    /// What [`Store::remove_backups`] would do: which records leave the index and which
    /// existing objects go with them (including those an interrupted prune left). Changes
    /// nothing.
    ///
    /// Each object is counted once without holding the objects: a first pass counts every
    /// listing and flags, through a [`Seen`] filter, the objects that may have been listed
    /// before (every object listed twice, and a few others); a second pass counts exactly how
    /// often each flagged object is listed, and the repeats are taken off.
    pub fn plan_removal(&self, index: &BackupIndex, dropped: &Marks) -> Result<Removal> {
        self.plan_with(index, dropped, Seen::new(dropped.count()))
    }

    /// [`Store::plan_removal`] with the filter `seen`.
    pub(super) fn plan_with(
        &self,
        index: &BackupIndex,
        dropped: &Marks,
        mut seen: Seen,
    ) -> Result<Removal> {
        let needed = needed(index, dropped)?;
        let dir = self.state.join("objects");
        let doomed =
            |d: &Sha256Digest| -> Result<bool> { Ok(!needed.contains(d) && exists(&dir, d)?) };
        let mut plan = Removal {
            records: dropped.count(),
            ..Removal::default()
        };
        // Per flagged object: how often it is listed, the bytes of those listings, the last's.
        let mut flagged: HashMap<Sha256Digest, (usize, u64, u64)> = HashMap::new();
        let mut first = |d: Sha256Digest, size: u64| -> Result<()> {
            if doomed(&d)? {
                plan.objects += 1;
                plan.bytes = plan.bytes.saturating_add(size);
                if seen.insert(&d) {
                    flagged.insert(d, (0, 0, 0));
                }
            }
            Ok(())
        };
        self.read_pending(&mut first)?;
        copy(index, dropped, None, &mut first)?;
        if flagged.is_empty() {
            return Ok(plan);
        }
        let mut second = |d: Sha256Digest, size: u64| -> Result<()> {
            if let Some((n, bytes, last)) = flagged.get_mut(&d)
                && doomed(&d)?
            {
                *n += 1;
                *bytes = bytes.saturating_add(size);
                *last = size;
            }
            Ok(())
        };
        self.read_pending(&mut second)?;
        copy(index, dropped, None, &mut second)?;
        for (n, bytes, last) in flagged.into_values() {
            plan.objects -= n.saturating_sub(1);
            plan.bytes = plan.bytes.saturating_sub(bytes.saturating_sub(last));
        }
        Ok(plan)
    }

    /// Removes the backups that `dropped` marks (by their order in `index`, which must be the
    /// index as it is): rewrites the index without them, then unlinks each object no remaining
    /// record references, crash-safely (see the module docs). Also finishes an interrupted
    /// earlier prune. Needs the exclusive lock.
    ///
    /// The records that stay are copied from the old index to the new one as they are read, and
    /// the objects to remove are written to the pending list as they are found: what it holds
    /// is the objects of the records that stay. `index` still reads the old index afterwards.
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
        let (pending_temp, index_temp) = (temp_name(PENDING), temp_name(INDEX));
        for temp in [&pending_temp, &index_temp] {
            sys::unlink_at_if_exists(&state_fd, OsStr::new(temp))
                .ctx("remove", self.state.join(temp))?;
        }
        let had_pending = sys::exists_at(&state_fd, OsStr::new(PENDING))
            .ctx("inspect", self.state.join(PENDING))?;
        let needed = needed(index, dropped)?;
        let records = dropped.count();
        if records == 0 {
            // Only what an interrupted prune left: its list is durable already.
            return Ok(if had_pending {
                self.unlink_pending(&state_fd, Some(&needed))
            } else {
                Removal::default()
            });
        }
        // The new index and the new pending list are staged in one pass over the old index;
        // the list is installed first, then the index.
        let mut listed = 0usize;
        let meta = NewMeta {
            mode: 0o600,
            from_existing: false,
        };
        let sync = self.durability.syncs();
        let staged = atomic::stage_with(
            &state_fd,
            &self.state,
            OsStr::new(INDEX),
            OsStr::new(&index_temp),
            meta,
            sync,
            |index_file| {
                atomic::stage_with(
                    &state_fd,
                    &self.state,
                    OsStr::new(PENDING),
                    OsStr::new(&pending_temp),
                    meta,
                    sync,
                    |pending_file| {
                        let pending_path = self.state.join(&pending_temp);
                        let mut list = PendingWriter::start(pending_file, &pending_path)?;
                        let mut doom = |d: Sha256Digest, size: u64| {
                            if needed.contains(&d) {
                                return Ok(());
                            }
                            listed += 1;
                            list.entry(d, size)
                        };
                        self.read_pending(&mut doom)?;
                        let index_path = self.state.join(&index_temp);
                        let mut lines = BufWriter::with_capacity(64 * 1024, index_file);
                        copy(index, dropped, Some((&mut lines, &index_path)), &mut doom)?;
                        lines.flush().ctx("write", &index_path)?;
                        list.finish()
                    },
                )
            },
        );
        drop(needed);
        let drop_temps = || {
            for temp in [&pending_temp, &index_temp] {
                let _ = sys::unlink_at_if_exists(&state_fd, OsStr::new(temp));
            }
        };
        if let Err(e) = staged {
            drop_temps();
            return Err(e);
        }
        // An empty new list is left out, unless it replaces an earlier prune's: that one may
        // name objects the records that stay still need, and is unlinked below unfiltered.
        if listed == 0 && !had_pending {
            let _ = sys::unlink_at(&state_fd, OsStr::new(&pending_temp));
        } else if let Err(e) = self.install(&state_fd, PENDING) {
            drop_temps();
            if !had_pending {
                // A failed fsync after the rename: the list names only objects the index still
                // needs, so it is harmless, but this way a failed prune leaves nothing behind.
                let _ = sys::unlink_at(&state_fd, OsStr::new(PENDING));
            }
            return Err(e);
        }
        if let Err(e) = self.install(&state_fd, INDEX) {
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
            if !had_pending && index.is_in_place() {
                // Best effort: the list names objects the index still needs, so it is
                // harmless, but this way a failed prune leaves nothing behind. Should the old
                // index not be back, the list is kept: it is the right one for the new index.
                let _ = sys::unlink_at(&state_fd, OsStr::new(PENDING));
            }
            return Err(e);
        }
        // The index no longer lists the dropped backups: they are removed. What follows only
        // frees their objects; a failure from here on leaves the pending list for the next prune
        // and is reported, not returned.
        Ok(Removal {
            records,
            ..self.unlink_pending(&state_fd, None)
        })
    }

    /// Unlinks each object the pending list names (but those `needed`: the list of an earlier
    /// prune may name objects that a later backup references again), makes that durable, then
    /// removes the list. An object listed twice, or already gone, is counted once, or not.
    fn unlink_pending(
        &self,
        state_fd: &OwnedFd,
        needed: Option<&HashSet<Sha256Digest>>,
    ) -> Removal {
        let sync = self.durability.syncs();
        let mut done = Removal::default();
        let result = (|| {
            let objects = self.objects()?;
            self.read_pending(&mut |d, size| {
                if needed.is_some_and(|n| n.contains(&d)) {
                    return Ok(());
                }
                if sys::unlink_at_if_exists(objects.fd(), OsStr::new(&d.to_string()))
                    .ctx("remove", objects.path(&d))?
                {
                    done.objects += 1;
                    done.bytes = done.bytes.saturating_add(size);
                }
                Ok(())
            })?;
            if sync && done.objects > 0 {
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
        done.unfinished = result.err().map(|e: StoreError| error_chain(&e));
        done
    }

    /// Calls `visit` with each entry of the pending list, as it is read; no list: none.
    fn read_pending(&self, visit: &mut dyn FnMut(Sha256Digest, u64) -> Result<()>) -> Result<()> {
        let path = self.state.join(PENDING);
        let file = match crate::store::trust::open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).ctx("read", path),
        };
        let mut failed = None;
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
        let read = de::Deserializer::deserialize_map(
            &mut de,
            PendingVisitor {
                visit,
                failed: &mut failed,
            },
        )
        .and_then(|()| de.end());
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| StoreError::Damaged {
            path,
            detail: e.to_string(),
        })
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

/// The objects of the records of `index` that `dropped` does not mark: those that stay.
fn needed(index: &BackupIndex, dropped: &Marks) -> Result<HashSet<Sha256Digest>> {
    let mut needed = HashSet::new();
    let mut k = 0;
    index.lines(|_, r| {
        if k >= dropped.len() {
            return Err(index.changed());
        }
        if !dropped.contains(k) {
            needed.insert(r.sha256);
        }
        k += 1;
        Ok(())
    })?;
    if k != dropped.len() {
        return Err(index.changed());
    }
    Ok(needed)
}

/// One pass over `index`: gives each record that `dropped` marks to `gone` (its object and
/// size), and (with `out`) writes the others' lines to the new index at that path.
fn copy(
    index: &BackupIndex,
    dropped: &Marks,
    mut out: Option<(&mut dyn Write, &Path)>,
    gone: &mut dyn FnMut(Sha256Digest, u64) -> Result<()>,
) -> Result<()> {
    let mut k = 0;
    index.lines(|line, r| {
        if k >= dropped.len() {
            return Err(index.changed());
        }
        if dropped.contains(k) {
            gone(r.sha256, r.size)?;
        } else if let Some((w, path)) = &mut out {
            w.write_all(line.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .ctx("write", *path)?;
        }
        k += 1;
        Ok(())
    })?;
    if k != dropped.len() {
        return Err(index.changed());
    }
    Ok(())
}

/// Whether object `d` exists in the object directory `dir`.
fn exists(dir: &Path, d: &Sha256Digest) -> Result<bool> {
    match fs::symlink_metadata(dir.join(d.to_string())) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).ctx("inspect", dir.join(d.to_string())),
    }
}

/// Which objects may have been seen: a Bloom filter of 16 bits per object expected, 3 bits an
/// object (the digest's own bytes, being a hash, place them), so about 1 in 200 objects not
/// seen is flagged as seen.
pub(super) struct Seen {
    bits: Vec<u64>,
}

impl Seen {
    pub(super) fn new(expected: usize) -> Seen {
        Seen {
            bits: vec![0; expected.max(64).div_ceil(4)],
        }
    }

    /// A filter that flags every object, as if full.
    #[cfg(test)]
    pub(super) fn full() -> Seen {
        Seen { bits: vec![!0; 1] }
    }

    /// Adds `d`; whether it may have been added before (it was, if it was).
    pub(super) fn insert(&mut self, d: &Sha256Digest) -> bool {
        let m = self.bits.len() as u64 * 64;
        let mut before = true;
        for k in 0..3 {
            let word: [u8; 8] = d.0[8 * k..8 * k + 8].try_into().expect("8 bytes");
            let bit = u64::from_le_bytes(word) % m;
            let (w, b) = ((bit / 64) as usize, bit % 64);
            before &= self.bits[w] & (1 << b) != 0;
            self.bits[w] |= 1 << b;
        }
        before
    }
}

/// The pending list, written an entry at a time: `{"version":1,"objects":{DIGEST:SIZE,...}}`.
/// An object may be listed twice; it is removed once.
struct PendingWriter<'a> {
    out: BufWriter<&'a mut File>,
    path: &'a Path,
    entries: usize,
}

impl<'a> PendingWriter<'a> {
    fn start(file: &'a mut File, path: &'a Path) -> Result<Self> {
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        out.write_all(b"{\"version\":1,\"objects\":{")
            .ctx("write", path)?;
        Ok(PendingWriter {
            out,
            path,
            entries: 0,
        })
    }

    fn entry(&mut self, d: Sha256Digest, size: u64) -> Result<()> {
        let sep = if self.entries == 0 { "" } else { "," };
        self.entries += 1;
        write!(self.out, "{sep}\"{d}\":{size}").ctx("write", self.path)
    }

    fn finish(mut self) -> Result<()> {
        self.out
            .write_all(b"}}\n")
            .and_then(|()| self.out.flush())
            .ctx("write", self.path)
    }
}

/// Reads the pending list's `objects` map an entry at a time, ignoring any other key.
struct PendingVisitor<'a> {
    visit: &'a mut dyn FnMut(Sha256Digest, u64) -> Result<()>,
    /// Why `visit` stopped the reading.
    failed: &'a mut Option<StoreError>,
}

impl<'de> de::Visitor<'de> for PendingVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a pending list")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "objects" {
                map.next_value_seed(Objects {
                    visit: &mut *self.visit,
                    failed: &mut *self.failed,
                })?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `objects` map of the pending list, each entry handed on as it is read.
struct Objects<'a> {
    visit: &'a mut dyn FnMut(Sha256Digest, u64) -> Result<()>,
    failed: &'a mut Option<StoreError>,
}

impl<'de> de::DeserializeSeed<'de> for Objects<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> de::Visitor<'de> for Objects<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of object digests to sizes")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some((d, size)) = map.next_entry::<Sha256Digest, u64>()? {
            if let Err(e) = (self.visit)(d, size) {
                *self.failed = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// The fixed temp name through which `name` is replaced.
fn temp_name(name: &str) -> String {
    format!(".{name}.prune.atomic-tmp")
}

//! `rotate [NAMES]... [--dry-run]`: rename live artifacts aside per `[[rotate]]`, compress the
//! rotated copies, and prune old copies by `keep-last` / `keep-within`.
//!
//! Guarantee: across a crash at any instant, no artifact is lost or duplicated once the next
//! `rotate` has run: every original content is there exactly once, compressed or not. Only
//! files the tool's own records name are ever pruned, renamed or compressed (never a glob's
//! match); a live file is only ever renamed, never copied or truncated.
//!
//! How it works: under the store's exclusive lock, an interrupted step is finished or undone
//! first (below); then [`plan::plan`] decides everything from the records, the glob's matches,
//! directory listings and the time, and the steps run in plan order: shifts and rotations,
//! then compression, then pruning (so every rotated file and its directory are durable before
//! anything is removed). Each step is recorded in `rotations.json` (the store's record of
//! rotated files) *before* it starts, and the record is updated once it is durable:
//!
//! | step | on disk, in order | after a crash, the next run |
//! |---|---|---|
//! | rotate `L` → `T` | record intent; rename `L`→`T` (no-replace), fsync dir; hash `T`, record it | `T` exists: hash and record it; else nothing happened |
//! | shift `A` → `B` | record intent; rename, fsync dir; record the new name | `B` exists and `A` not: record `B`; else nothing happened |
//! | compress `T` → `T.gz` | record intent (with the temp's name); stage the gzip in the temp, fsync, rename to `T.gz` (no-replace), fsync dir; check it decompresses to `T`'s digest; unlink `T`, fsync dir; record `T.gz` | remove the temp; `T.gz` exists and decompresses to the digest: unlink `T`, record `T.gz`; else remove a bad `T.gz` while `T` is there and leave `T` for the plan to compress again |
//! | prune `P` | record intent; unlink `P`, fsync dir; drop the record | unlink `P` if there, drop the record |
//!
//! A recorded copy that is gone (somebody removed it) is dropped from the records, with an
//! event; a live file that vanishes before its rename is skipped. Neither is an error.
//!
//! Unlike a transaction, a run is not all-or-nothing: a failure (exit 2) stops it after the
//! last whole step, and what was done is recorded and consistent; the next run goes on from
//! there. A refusal found while planning (an unknown name, a bad entry, a foreign file in the
//! way of a numbered shift) comes before any step, and changes nothing.
//!
//! `--dry-run` takes the shared lock, resolves an interrupted step in memory only, plans the
//! same way and reports each action; it changes nothing.

mod plan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::GlobBuilder;

use super::{Error, Outcome, RotateEntry, Workspace};
use crate::event::{Event, RecoveryAction, Sink};
use crate::store::{
    self, ArtifactDir, RotatedFile, RotationStep, Rotations, Sha256Digest, Store, StoreError,
};
use plan::{Action, Live, Policy, View};

/// What to rotate.
#[derive(Debug, Clone, Default)]
pub struct RotateRequest {
    /// The `[[rotate]]` entries to run, by name; empty: all of them.
    pub names: Vec<String>,
    /// Report each action and change nothing.
    pub dry_run: bool,
    /// The command line (for the audit record).
    pub command: String,
}

/// Rotates the artifacts of the selected `[[rotate]]` entries. See the module docs for the
/// order of steps and what a crash leaves.
pub fn rotate(ws: &Workspace, req: &RotateRequest, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    rotate_at(ws, req, SystemTime::now(), sink)
}

/// [`rotate`] with the clock given, for tests.
pub(crate) fn rotate_at(
    ws: &Workspace,
    req: &RotateRequest,
    now: SystemTime,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let config_path = ws
        .config_source
        .as_deref()
        .map(|p| ws.shown(p))
        .unwrap_or_else(|| PathBuf::from("atomic.toml"));
    let policies = select(ws, &config_path, &req.names)?;
    if policies.is_empty() {
        return Ok(Outcome::default()); // no [[rotate]] entries: not even a state directory
    }
    let options = ws.store_options(req.command.clone());
    let store = if req.dry_run {
        Store::open_shared(&ws.root, options, sink)?
    } else {
        Some(Store::open(&ws.root, options, sink)?)
    };
    let mut records = match &store {
        Some(s) => s.rotations()?,
        None => Rotations::default(),
    };
    if let Some(s) = &store {
        recover(s, &mut records, req.dry_run, sink)?;
    }
    let state_dir = ws.root.join(&ws.config.settings.state_dir);
    let mut entries = Vec::new();
    for p in policies {
        let lives = matches(&ws.root, &config_path, &state_dir, &p, &records.files)?;
        entries.push((p, lives));
    }
    let view = View {
        now,
        listing: listing(&ws.root, &entries, &records.files)?,
        entries,
        records: &records.files,
    };
    let actions = plan::plan(&view).map_err(|w| {
        Error::Usage(format!(
            "`{}` is in the way of numbered rotation and was not created by cargo atomic; move it away",
            w.path.display()
        ))
    })?;
    let mut outcome = Outcome {
        files: view.entries.iter().map(|(_, l)| l.len()).sum(),
        ..Outcome::default()
    };
    if req.dry_run {
        for a in actions {
            sink.event(event(&a, None, true));
        }
        return Ok(outcome);
    }
    let store = store.expect("a store is open unless this is a dry run");
    let time = humantime::format_rfc3339_millis(now).to_string();
    for a in actions {
        if let Some(e) = execute(&store, &mut records, &a, &time)? {
            outcome.written += 1;
            sink.event(e);
        }
    }
    Ok(outcome)
}

/// The entries named (all when none are), read into policies.
fn select(ws: &Workspace, config: &Path, names: &[String]) -> Result<Vec<Policy>, Error> {
    let config_path = || config.to_owned();
    let entries: &[RotateEntry] = &ws.config.rotate;
    let mut seen = BTreeSet::new();
    for e in entries {
        if !seen.insert(&e.name) {
            return Err(Error::Config {
                path: config_path(),
                message: format!("two [[rotate]] entries are named `{}`", e.name),
            });
        }
    }
    for n in names {
        if !seen.contains(n) {
            return Err(Error::Usage(format!(
                "no [[rotate]] entry is named `{n}` (known: {})",
                seen.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    entries
        .iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
        .map(|e| {
            Policy::from_entry(e).map_err(|message| Error::Config {
                path: config_path(),
                message,
            })
        })
        .collect()
}

/// The live files of an entry: regular files its glob matches, other than temps, files the
/// records name and names that look rotated. `.gitignore` is not consulted.
fn matches(
    root: &Path,
    config: &Path,
    state_dir: &Path,
    p: &Policy,
    records: &[RotatedFile],
) -> Result<Vec<Live>, Error> {
    let bad = |why: String| Error::Config {
        path: config.to_owned(),
        message: format!("[[rotate]] `{}`: files `{}`: {why}", p.name, p.files),
    };
    let glob_path = Path::new(&p.files);
    if glob_path.is_absolute()
        || glob_path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(bad("must stay inside the workspace".into()));
    }
    let matcher = GlobBuilder::new(&p.files)
        .literal_separator(true)
        .build()
        .map_err(|e| bad(e.to_string()))?
        .compile_matcher();
    // Walk from the longest prefix without glob characters.
    let base: PathBuf = glob_path
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{', '\\'])
        })
        .collect();
    let base = if base == glob_path {
        base.parent().map(Path::to_owned).unwrap_or_default()
    } else {
        base
    };
    // Without `**`, no match lies deeper than the glob has components: walk no further.
    let max_depth = if p.files.contains("**") {
        usize::MAX
    } else {
        glob_path.components().count()
    };
    let recorded: BTreeSet<&Path> = records.iter().map(|r| r.path.as_path()).collect();
    let mut out = Vec::new();
    let mut stack = vec![base];
    while let Some(dir) = stack.pop() {
        if dir.components().count() >= max_depth {
            continue;
        }
        let abs = root.join(&dir);
        if abs == state_dir {
            continue;
        }
        let rd = match fs::read_dir(&abs) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read the directory", &abs, e)),
        };
        for e in rd {
            let e = e.map_err(|e| Error::io("read the directory", &abs, e))?;
            let rel = dir.join(e.file_name());
            let meta = match fs::symlink_metadata(e.path()) {
                Ok(m) => m,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(Error::io("inspect", &e.path(), err)),
            };
            if meta.is_dir() {
                stack.push(rel);
                continue;
            }
            let name = e.file_name();
            if !meta.is_file()
                || !matcher.is_match(&rel)
                || name.to_string_lossy().ends_with(".atomic-tmp")
                || plan::looks_rotated(&name)
                || recorded.contains(rel.as_path())
            {
                continue;
            }
            out.push(Live {
                path: rel,
                size: meta.len(),
                born: meta
                    .created()
                    .or_else(|_| meta.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The names in every directory the plan looks at: those of live files and recorded copies.
fn listing(
    root: &Path,
    entries: &[(Policy, Vec<Live>)],
    records: &[RotatedFile],
) -> Result<BTreeMap<PathBuf, BTreeSet<std::ffi::OsString>>, Error> {
    let dirs: BTreeSet<&Path> = entries
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.path.as_path()))
        .chain(records.iter().map(|r| r.path.as_path()))
        .map(|p| p.parent().unwrap_or(Path::new("")))
        .collect();
    let mut out = BTreeMap::new();
    for d in dirs {
        let abs = root.join(d);
        let names = match fs::read_dir(&abs) {
            Ok(rd) => rd
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<BTreeSet<_>>>()
                .map_err(|e| Error::io("read the directory", &abs, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(Error::io("read the directory", &abs, e)),
        };
        out.insert(d.to_owned(), names);
    }
    Ok(out)
}

/// The event for an action (`bytes`: the compressed size, once known).
fn event(a: &Action, bytes: Option<u64>, dry_run: bool) -> Event {
    match a.clone() {
        Action::Forget { path } => Event::RotationVanished { path, dry_run },
        Action::Shift { from, to } => Event::RotationShifted { from, to, dry_run },
        Action::Rotate {
            entry,
            live,
            to,
            size,
        } => Event::Rotated {
            name: entry,
            path: live,
            to,
            bytes: size,
            dry_run,
        },
        Action::Compress { path, to } => Event::RotationCompressed {
            path,
            to,
            bytes,
            dry_run,
        },
        Action::Prune { path, rule } => Event::RotationPruned {
            path,
            rule,
            dry_run,
        },
    }
}

fn split(p: &Path) -> (&Path, &OsStr) {
    (
        p.parent().unwrap_or(Path::new("")),
        p.file_name().unwrap_or_default(),
    )
}

/// Records `step` as in flight, durably.
fn begin(store: &Store, records: &mut Rotations, step: RotationStep) -> Result<(), Error> {
    records.pending = Some(step);
    store.save_rotations(records)?;
    Ok(())
}

/// Marks the step done, durably.
fn end(store: &Store, records: &mut Rotations) -> Result<(), Error> {
    records.pending = None;
    store.save_rotations(records)?;
    Ok(())
}

/// Carries out one action; the event to report, or `None` if there was nothing to do after all
/// (a live file that vanished).
fn execute(
    store: &Store,
    records: &mut Rotations,
    a: &Action,
    time: &str,
) -> Result<Option<Event>, Error> {
    match a {
        Action::Forget { path } => {
            records.files.retain(|r| &r.path != path);
            store.save_rotations(records)?;
            // audit: one `rotate` record (outcome "ok", before = the record, after = none).
        }
        Action::Shift { from, to } => {
            let (d, from_name) = split(from);
            let dir = store.artifact_dir(d)?;
            begin(
                store,
                records,
                RotationStep::Shift {
                    from: from.clone(),
                    to: to.clone(),
                },
            )?;
            dir.rename_new(from_name, split(to).1)?;
            for r in records.files.iter_mut().filter(|r| &r.path == from) {
                r.path = to.clone();
            }
            end(store, records)?;
            // audit: one `rotate` record (path = to, before = from).
        }
        Action::Rotate {
            entry, live, to, ..
        } => {
            let (d, live_name) = split(live);
            let dir = store.artifact_dir(d)?;
            begin(
                store,
                records,
                RotationStep::Rotate {
                    entry: entry.clone(),
                    from: live.clone(),
                    to: to.clone(),
                    time: time.to_owned(),
                },
            )?;
            match dir.rename_new(live_name, split(to).1) {
                Ok(()) => {}
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    // The producer removed it meanwhile: nothing to rotate.
                    end(store, records)?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
            let (sha256, size) = dir.hash(split(to).1)?.ok_or_else(|| gone(to))?;
            records.files.push(RotatedFile {
                entry: entry.clone(),
                live: live.clone(),
                path: to.clone(),
                sha256,
                size,
                time: time.to_owned(),
                compressed: false,
            });
            end(store, records)?;
            // audit: one `rotate` record (path = live, after = {sha256, size} at `to`).
            return Ok(Some(Event::Rotated {
                name: entry.clone(),
                path: live.clone(),
                to: to.clone(),
                bytes: size,
                dry_run: false,
            }));
        }
        Action::Compress { path, to } => {
            let Some(digest) = records
                .files
                .iter()
                .find(|r| &r.path == path)
                .map(|r| r.sha256)
            else {
                return Ok(None);
            };
            let (d, name) = split(path);
            let dir = store.artifact_dir(d)?;
            let Some(mut src) = dir.open(name)? else {
                records.files.retain(|r| &r.path != path);
                store.save_rotations(records)?;
                return Ok(Some(Event::RotationVanished {
                    path: path.clone(),
                    dry_run: false,
                }));
            };
            let to_name = split(to).1;
            let temp = store::temp_name(to_name);
            begin(
                store,
                records,
                RotationStep::Compress {
                    from: path.clone(),
                    to: to.clone(),
                    temp: temp.clone(),
                },
            )?;
            dir.create_new(to_name, &temp, name, &mut |out| gzip(&mut src, out))?;
            if gunzip_digest(&dir, to_name)? != Some(digest) {
                dir.remove(to_name)?;
                return Err(damaged(to, "it does not decompress to the rotated bytes").into());
            }
            dir.remove(name)?;
            let size = dir.size(to_name)?;
            for r in records.files.iter_mut().filter(|r| &r.path == path) {
                r.path = to.clone();
                r.compressed = true;
            }
            end(store, records)?;
            // audit: one `rotate` record (path = to, before = the uncompressed copy).
            return Ok(Some(event(a, size, false)));
        }
        Action::Prune { path, .. } => {
            let (d, name) = split(path);
            let dir = store.artifact_dir(d)?;
            begin(store, records, RotationStep::Prune { path: path.clone() })?;
            dir.remove(name)?;
            records.files.retain(|r| &r.path != path);
            end(store, records)?;
            // audit: one `rotate` record (op prune: before = the copy, after = none).
        }
    }
    Ok(Some(event(a, None, false)))
}

/// Finishes or undoes the step an interrupted run left, per the table in the module docs.
/// With `dry_run`, only the records change (in memory), so the plan sees what the next real
/// run will see; nothing is removed or saved, and nothing is reported.
fn recover(
    store: &Store,
    records: &mut Rotations,
    dry_run: bool,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let Some(step) = records.pending.clone() else {
        return Ok(());
    };
    let remove = |dir: &ArtifactDir, name: &OsStr| -> Result<(), Error> {
        if !dry_run {
            dir.remove(name)?;
        }
        Ok(())
    };
    let (action, files) = match &step {
        RotationStep::Rotate {
            entry,
            from,
            to,
            time,
        } => {
            let dir = store.artifact_dir(split(to).0)?;
            match dir.hash(split(to).1)? {
                Some((sha256, size)) if !records.files.iter().any(|r| &r.path == to) => {
                    records.files.push(RotatedFile {
                        entry: entry.clone(),
                        live: from.clone(),
                        path: to.clone(),
                        sha256,
                        size,
                        time: time.clone(),
                        compressed: false,
                    });
                    (
                        RecoveryAction::RolledForward,
                        vec![from.clone(), to.clone()],
                    )
                }
                Some(_) => (RecoveryAction::RolledForward, vec![to.clone()]),
                None => (RecoveryAction::Discarded, vec![from.clone()]),
            }
        }
        RotationStep::Shift { from, to } => {
            let dir = store.artifact_dir(split(to).0)?;
            if dir.exists(split(to).1)? && !dir.exists(split(from).1)? {
                for r in records.files.iter_mut().filter(|r| &r.path == from) {
                    r.path = to.clone();
                }
                (
                    RecoveryAction::RolledForward,
                    vec![from.clone(), to.clone()],
                )
            } else {
                (RecoveryAction::Discarded, vec![from.clone()])
            }
        }
        RotationStep::Compress { from, to, temp } => {
            let (d, from_name) = split(from);
            let dir = store.artifact_dir(d)?;
            if !dry_run {
                dir.remove_temp(temp)?;
            }
            let digest = records
                .files
                .iter()
                .find(|r| &r.path == from)
                .map(|r| r.sha256);
            let to_name = split(to).1;
            let good = match (digest, dir.exists(to_name)?) {
                (Some(d), true) => gunzip_digest(&dir, to_name)? == Some(d),
                _ => false,
            };
            if good {
                remove(&dir, from_name)?;
                for r in records.files.iter_mut().filter(|r| &r.path == from) {
                    r.path = to.clone();
                    r.compressed = true;
                }
                (
                    RecoveryAction::RolledForward,
                    vec![from.clone(), to.clone()],
                )
            } else {
                if dir.exists(to_name)? {
                    if !dir.exists(from_name)? {
                        return Err(damaged(to, "it does not decompress to the rotated bytes, and the uncompressed copy is gone").into());
                    }
                    // Ours (the record chose this free name): a gzip that is not whole.
                    remove(&dir, to_name)?;
                }
                (RecoveryAction::Discarded, vec![from.clone()])
            }
        }
        RotationStep::Prune { path } => {
            let (d, name) = split(path);
            if let Ok(dir) = store.artifact_dir(d) {
                remove(&dir, name)?;
            }
            records.files.retain(|r| &r.path != path);
            (RecoveryAction::RolledForward, vec![path.clone()])
        }
    };
    records.pending = None;
    if dry_run {
        return Ok(());
    }
    store.save_rotations(records)?;
    // audit: one `recover` record for the step.
    sink.event(Event::Recovered {
        txid: "rotate".into(),
        action,
        files,
    });
    Ok(())
}

/// Streams `src` into `out` as gzip (no name, mtime 0: the same bytes give the same file).
fn gzip(src: &mut fs::File, out: &mut fs::File) -> io::Result<()> {
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(src, &mut enc)?;
    enc.finish()?.flush()
}

/// The digest of what `name` decompresses to; `None` if it is gone or not whole gzip.
fn gunzip_digest(dir: &ArtifactDir, name: &OsStr) -> Result<Option<Sha256Digest>, Error> {
    let Some(f) = dir.open(name)? else {
        return Ok(None);
    };
    let mut dec = flate2::read::GzDecoder::new(f);
    match Sha256Digest::of_reader(&mut dec as &mut dyn Read) {
        Ok((d, _)) => Ok(Some(d)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::io("read", &dir.rel().join(name), e)),
    }
}

fn damaged(path: &Path, detail: &str) -> StoreError {
    StoreError::Damaged {
        path: path.to_owned(),
        detail: detail.to_owned(),
    }
}

fn gone(path: &Path) -> StoreError {
    StoreError::Io {
        op: "read",
        path: path.to_owned(),
        source: io::Error::from(io::ErrorKind::NotFound),
    }
}

//! `rotate [NAMES]... [--dry-run]`: rename live artifacts aside per `[[rotate]]`, compress the
//! rotated copies, and prune old copies by `keep-last` / `keep-within`.
//!
//! Guarantee: across a crash at any instant, no artifact is lost or duplicated once the next
//! `rotate` has run: every original content is there exactly once, compressed or not. Only
//! files the tool's own records name are ever pruned, renamed or compressed (never a glob's
//! match); a live file is only ever renamed, never copied or truncated.
//!
//! How it works: under the store's exclusive lock, interrupted steps are finished or undone
//! first (below); then [`plan::plan`] decides everything from the records, the glob's matches,
//! directory listings and the time, and `exec` runs it: shifts (one at a time), then all
//! rotations, then all compressions, then all prunes (so every rotated file and its directory
//! are durable before anything is removed). The steps of each batch are listed as `pending` in
//! `rotations.json` (the store's record of rotated files) *before* any starts; once they are
//! durable (each directory fsynced once), the record takes their results and drops them from
//! `pending`. No two steps of a batch name the same file, and every target name was free when
//! the batch was recorded, so each step is finished or undone on its own:
//!
//! | step | on disk, in order | after a crash, the next run |
//! |---|---|---|
//! | shift `A` → `B` (alone) | record; rename `A`→`B` (no-replace); fsync dir; record `B` | `B` exists and `A` not: record `B`; else nothing happened |
//! | rotate `L` → `T` | record; rename (no-replace); fsync dir; hash `T`, record it | `T` exists: hash and record it; else nothing happened |
//! | compress `T` → `T.gz` | record (with the temp's name); stage the gzip in the temp, fsync, rename to `T.gz` (no-replace); fsync dir; check it decompresses to `T`'s digest; unlink `T`; fsync dir; record `T.gz` | remove the temp; `T.gz` exists and decompresses to the digest: unlink `T`, record `T.gz`; else remove a bad `T.gz` while `T` is there, and the plan compresses `T` again |
//! | prune `P` | record; unlink `P`; fsync dir; drop the record | unlink `P` if there, drop the record |
//!
//! A recorded copy that is gone (somebody removed it) is dropped from the records, with an
//! event; a live file that vanishes before its rename is skipped. Neither is an error.
//!
//! Unlike a transaction, a run is not all-or-nothing: a failure (exit 2) stops it after the
//! last whole step, and what was done is recorded and consistent; the next run goes on from
//! there. A refusal found while planning (an unknown name, a bad entry, a foreign file in the
//! way of a numbered shift) comes before any step, and changes nothing.
//!
//! `--dry-run` takes the shared lock, resolves interrupted steps in memory only, plans the
//! same way and reports each action; it changes nothing.

mod exec;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::GlobBuilder;

use super::{Error, Outcome, RotateEntry, Workspace};
use crate::event::{Event, Sink};
use crate::store::{RotatedFile, Rotations, Store};
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
        exec::recover(s, &mut records, req.dry_run, sink)?;
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
    outcome.written = exec::execute(&store, &mut records, actions, &time, sink)?;
    Ok(outcome)
}

/// Finishes or undoes the rotation steps a crash interrupted (what `rotate` does first), for
/// `recover`; the number of steps. Needs the exclusive lock.
pub(crate) fn recover_rotations(store: &Store, sink: &mut dyn Sink) -> Result<usize, Error> {
    let mut records = store.rotations()?;
    let n = records.pending.len();
    exec::recover(store, &mut records, false, sink)?;
    Ok(n)
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
            let name = e.file_name();
            if meta.is_dir() {
                // Git's own files are never artifacts, whatever the glob says.
                if name != ".git" {
                    stack.push(rel);
                }
                continue;
            }
            if !meta.is_file()
                || is_configuration(&rel, config)
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

/// The workspace's configuration files, which no `[[rotate]]` glob may take: `atomic.toml`
/// (wherever it is) and the `Cargo.toml`s that may hold `[package.metadata.atomic]`.
fn is_configuration(rel: &Path, config: &Path) -> bool {
    let name = rel.file_name().unwrap_or_default();
    name == "atomic.toml" || name == "Cargo.toml" || name == "Cargo.lock" || config.ends_with(rel)
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

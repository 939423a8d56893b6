//! Damage in the state directory, found and set aside: what `check`, `audit verify --deep` and
//! `recover --repair` share.
//!
//! Guarantee: [`Store::damage`] reports, without changing anything, every line of the backup
//! index that does not parse or names a path it may not, a manifest that does not parse and a
//! journal that does not parse or names what it may not, each at its file and line.
//! [`Store::doctor`] (`recover --repair`, exclusive lock)
//! never deletes: it renames each damaged file to `<name>.damaged-<n>` beside it and rebuilds
//! what can be rebuilt from what is sound — the index from its good lines; the manifest from
//! the audit log (the last state each managed file was written to) — each step audited as a
//! `doctor` record. A set-aside journal's temp files stay where they are, named in its copy.
//!
//! Proven by `tests/it/damage.rs`.

use std::ffi::OsStr;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use super::audit::MAX_LINE;
use super::error::{IoContext, Result, StoreError};
use super::manifest::Manifest;
use super::objects::BackupRecord;
use super::{AuditEntry, AuditOutcome, Store, atomic, journal, sys, trust};

/// One piece of damage: a state file (relative to the root), the line when known, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The state file, relative to the workspace root.
    pub file: PathBuf,
    /// The 1-based line, for line-based files.
    pub line: Option<usize>,
    /// What is wrong.
    pub detail: String,
}

/// What `recover --repair` did about one damaged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The damaged file, relative to the root.
    pub file: PathBuf,
    /// Where its bytes were set aside, relative to the root.
    pub set_aside: PathBuf,
    /// What was rebuilt in its place, in words.
    pub rebuilt: String,
}

const INDEX: &str = "backups.jsonl";
const MANIFEST: &str = "manifest.json";

impl Store {
    /// Every damage of the index, the manifest and the journals (see the module docs).
    pub fn damage(&self) -> Result<Vec<Damage>> {
        let mut out: Vec<Damage> = self.manifest_damage()?.into_iter().collect();
        let index = self.state.join(INDEX);
        for (line, detail) in index_damage(&index)? {
            out.push(Damage {
                file: self.shown(&index),
                line: Some(line),
                detail,
            });
        }
        for path in journal::list(&self.state.join("journal"))? {
            let problem = match journal::read(&path) {
                Ok((Some(intent), _)) => intent
                    .check(&self.root, &self.state, &self.shown(&path))
                    .err(),
                Ok((None, _)) => None,
                Err(e) => Some(e),
            };
            match problem {
                None => {}
                Some(StoreError::Damaged { detail, .. } | StoreError::Untrusted { detail, .. }) => {
                    out.push(Damage {
                        file: self.shown(&path),
                        line: None,
                        detail,
                    })
                }
                Some(other) => return Err(other),
            }
        }
        Ok(out)
    }

    /// Damage of the manifest only: what a command over some files needs (the whole scan of
    /// [`Store::damage`] reads the whole index).
    pub fn manifest_damage(&self) -> Result<Option<Damage>> {
        match self.manifest() {
            Ok(_) => Ok(None),
            Err(StoreError::Damaged { detail, .. } | StoreError::Untrusted { detail, .. }) => {
                Ok(Some(Damage {
                    file: self.shown(&self.state.join(MANIFEST)),
                    line: None,
                    detail,
                }))
            }
            Err(other) => Err(other),
        }
    }

    /// Sets aside every damaged state file and rebuilds what can be rebuilt (see the module
    /// docs). Needs the exclusive lock; runs before recovery, which a damaged journal blocks.
    pub fn doctor(&self) -> Result<Vec<Repair>> {
        assert_eq!(
            self.lock.mode(),
            super::LockMode::Exclusive,
            "doctor needs the exclusive lock"
        );
        let sync = self.durability.syncs();
        let mut repairs = Vec::new();
        let damage = self.damage()?;
        let index = self.state.join(INDEX);
        let bad: Vec<usize> = damage
            .iter()
            .filter(|d| d.file == self.shown(&index))
            .filter_map(|d| d.line)
            .collect();
        if !bad.is_empty() {
            let text = trust::read(&index).ctx("read", &index)?;
            let mut kept = Vec::new();
            let mut n = 0;
            for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
                if bad.contains(&(i + 1)) {
                    continue;
                }
                n += usize::from(!line.iter().all(u8::is_ascii_whitespace));
                kept.extend_from_slice(line);
            }
            let aside = set_aside(&self.state, INDEX, sync)?;
            replace(&self.state, INDEX, &kept, sync)?;
            repairs.push(Repair {
                file: self.shown(&index),
                set_aside: self.shown(&aside),
                rebuilt: format!(
                    "kept its {n} sound records; dropped {} damaged lines ({})",
                    bad.len(),
                    bad.iter()
                        .map(|l| format!("line {l}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let manifest = self.state.join(MANIFEST);
        if damage.iter().any(|d| d.file == self.shown(&manifest)) {
            let rebuilt = self.manifest_from_log()?;
            let aside = set_aside(&self.state, MANIFEST, sync)?;
            replace(&self.state, MANIFEST, &rebuilt.to_bytes(), sync)?;
            repairs.push(Repair {
                file: self.shown(&manifest),
                set_aside: self.shown(&aside),
                rebuilt: format!(
                    "rebuilt from the audit log: {} managed files",
                    rebuilt.files.len()
                ),
            });
        }
        for d in &damage {
            let abs = self.root.join(&d.file);
            if abs.parent() != Some(self.state.join("journal").as_path()) {
                continue;
            }
            let name = abs
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let aside = set_aside(&self.state.join("journal"), &name, sync)?;
            repairs.push(Repair {
                file: d.file.clone(),
                set_aside: self.shown(&aside),
                rebuilt: "nothing: the interrupted transaction it recorded is not recovered; its temp files, if any, are named in the copy".into(),
            });
        }
        let entries: Vec<AuditEntry> = repairs
            .iter()
            .map(|r| AuditEntry {
                op: "doctor".into(),
                path: Some(r.file.to_string_lossy().into_owned()),
                before: None,
                after: None,
                outcome: AuditOutcome::Ok,
            })
            .collect();
        let _ = self.append_audit(&entries);
        Ok(repairs)
    }

    /// The manifest as the audit log tells it: for each file, the state the last change that
    /// manages it left (`write`, `apply`, `restore`, `merge`, `accept`, and recovery of those).
    fn manifest_from_log(&self) -> Result<Manifest> {
        let mut m = Manifest {
            version: 1,
            ..Manifest::default()
        };
        self.audit_records(&mut |r| {
            if r.outcome != AuditOutcome::Ok {
                return true;
            }
            let Some(path) = r.path.as_ref() else {
                return true;
            };
            if trust::check_rel(Path::new(super::audit::LOG), path).is_err() {
                return true;
            }
            match r.op.as_str() {
                "set" | "unset" | "rotate" | "prune" | "doctor" => {}
                _ => match r.after {
                    Some(after) => {
                        m.files.insert(path.clone(), after);
                    }
                    None => {
                        m.files.remove(path);
                    }
                },
            }
            true
        })?;
        Ok(m)
    }
}

/// Lines of the index that do not parse (other than a torn last line), are longer than any
/// record, or name a path the store may not use, 1-based, with why. Streams: one line at a
/// time, none longer than [`MAX_LINE`] held.
fn index_damage(path: &Path) -> Result<Vec<(usize, String)>> {
    let file = match trust::open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx("read", path),
    };
    let mut reader = io::BufReader::new(file);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .ctx("read", path)?;
        if n == 0 {
            return Ok(out);
        }
        line += 1;
        let whole = buf.last() == Some(&b'\n');
        if n > MAX_LINE {
            out.push((line, format!("longer than {MAX_LINE} bytes: no record is")));
            // The rest of that line, a bounded read at a time.
            while buf.last() != Some(&b'\n') {
                buf.clear();
                let m = (&mut reader)
                    .take(MAX_LINE as u64)
                    .read_until(b'\n', &mut buf)
                    .ctx("read", path)?;
                if m == 0 {
                    return Ok(out);
                }
            }
            continue;
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<BackupRecord>(text) {
            Ok(r) => {
                if let Err(StoreError::Untrusted { detail, .. }) =
                    trust::check_rel(path, r.path.to_str().unwrap_or("\u{fffd}"))
                {
                    out.push((line, detail));
                }
            }
            // The last line without its newline: a torn append, not damage.
            Err(_) if !whole => {}
            Err(e) => out.push((line, format!("not a backup record: {e}"))),
        }
    }
}

/// Renames `dir/name` to the first free `name.damaged-<n>`, and returns that path.
fn set_aside(dir: &Path, name: &str, sync: bool) -> Result<PathBuf> {
    let fd = sys::open_dir(dir).ctx("open", dir)?;
    for n in 1.. {
        let aside = format!("{name}.damaged-{n}");
        match sys::rename_noreplace(&fd, OsStr::new(name), OsStr::new(&aside)) {
            Ok(()) => {
                if sync {
                    sys::fsync(&fd).ctx("fsync", dir)?;
                }
                return Ok(dir.join(aside));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).ctx("set aside", dir.join(name)),
        }
    }
    unreachable!("some name is free")
}

/// Writes `dir/name` atomically (a temp, fsynced, renamed).
fn replace(dir: &Path, name: &str, bytes: &[u8], sync: bool) -> Result<()> {
    let fd = sys::open_dir(dir).ctx("open", dir)?;
    let temp = sys::temp_name(OsStr::new(name));
    let meta = atomic::NewMeta {
        mode: 0o600,
        from_existing: false,
    };
    atomic::stage(&fd, dir, OsStr::new(name), &temp, bytes, meta, sync)?;
    if let Err(e) = sys::rename_at(&fd, &temp, OsStr::new(name)) {
        let _ = sys::unlink_at(&fd, &temp);
        return Err(e).ctx("rename into place", dir.join(name));
    }
    if sync {
        sys::fsync(&fd).ctx("fsync", dir)?;
    }
    Ok(())
}

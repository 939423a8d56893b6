//! The transaction journal: the one file whose COMMIT record decides a transaction.
//!
//! `journal/<txid>.jsonl` holds one JSON record a line: an `intent` (written before any temp
//! exists, naming every temp the transaction may create), then `commit` (fsynced: the single
//! commit point), and possibly `abort` (fsynced: an error after commit, undo) and `done`.
//! A torn last line is ignored. Recovery deletes only the names the intent lists, never by glob.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, Result, StoreError};
use super::manifest::{FileState, Inputs};
use super::sys;

/// The file a transaction touches and every name it may create for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// As the user named it, relative to the root (the manifest key).
    pub path: String,
    /// The regular file actually replaced (a symlink's target), relative to the root.
    pub real: String,
    /// The temp file in the same directory, created with O_EXCL.
    pub temp: Name,
    /// The state before; `None` for a new file.
    pub before: Option<FileState>,
    /// The state after; `None` for a deletion.
    pub after: Option<FileState>,
    /// Permission bits and owner to give the file (new or restored).
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The temp in `objects/` through which the old bytes are kept.
    pub backup_temp: Option<Name>,
    /// The manifest's entry for `path` before, to restore on rollback.
    pub manifest_before: Option<FileState>,
    /// What the new bytes were made from (a generated file), for the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    /// The manifest's inputs for `path` before, to restore on rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_before: Option<Inputs>,
    /// A user's file the manifest does not record (a `set` edit): left out of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmanaged: bool,
}

/// A file name that may not be UTF-8, stored as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Name(#[serde(with = "bytes_or_str")] pub Vec<u8>);

impl Name {
    pub fn os(&self) -> OsString {
        OsString::from_vec(self.0.clone())
    }
}

impl From<OsString> for Name {
    fn from(s: OsString) -> Self {
        Name(s.into_vec())
    }
}

mod bytes_or_str {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(b) {
            Ok(t) => s.serialize_str(t),
            Err(_) => s.collect_seq(b),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            B(Vec<u8>),
        }
        Ok(match Either::deserialize(d)? {
            Either::S(s) => s.into_bytes(),
            Either::B(b) => b,
        })
    }
}

/// What the transaction will do, written before it does anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intent {
    pub txid: String,
    pub time: String,
    pub command: String,
    /// `write`, `restore`, ...: recorded in the backup index.
    pub op: String,
    /// Directories the transaction creates, outermost first, relative to the root.
    pub created_dirs: Vec<String>,
    /// The temp name of the manifest in the state directory.
    pub manifest_temp: Name,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Record {
    Intent(Box<Intent>),
    Commit,
    /// Every file is in place; the audit records are still to be written.
    Applied,
    Abort,
    Done,
}

/// Where a journal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No commit record: nothing was renamed; discard.
    Prepared,
    /// Committed: roll forward.
    Committed,
    /// Every file in place, its audit records not (yet) written: write them.
    Applied,
    /// Committed, then failed: roll back.
    Aborted,
    /// Finished; only the file remains.
    Done,
}

/// An open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    pub path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates `journal/<txid>.jsonl` and writes the intent (not fsynced: until the commit
    /// record, losing it loses nothing but temp files).
    pub fn create(dir: &Path, intent: &Intent) -> Result<Self> {
        let path = dir.join(format!("{}.jsonl", intent.txid));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .ctx("create the journal", &path)?;
        let mut j = Journal { path, file };
        if let Err(e) = j.append(&Record::Intent(Box::new(intent.clone())), false) {
            // Nothing else exists yet: a failed command leaves no journal behind either.
            let Journal { path, file } = j;
            drop(file);
            let _ = remove(&path);
            return Err(e);
        }
        Ok(j)
    }

    /// Opens an existing journal to append to it.
    pub fn reopen(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(super::trust::not_a_link)
            .ctx("open the journal", path)?;
        Ok(Journal {
            path: path.to_owned(),
            file,
        })
    }

    fn append(&mut self, rec: &Record, sync: bool) -> Result<()> {
        let mut line = serde_json::to_vec(rec).expect("a journal record serializes");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .ctx("write the journal", &self.path)?;
        if sync {
            sys::fsync(&self.file).ctx("fsync the journal", &self.path)?;
        }
        Ok(())
    }

    /// The commit point.
    pub fn commit(&mut self, sync: bool) -> Result<()> {
        self.append(&Record::Commit, sync)
    }

    /// Records that every file is in place, before the audit records are written (best
    /// effort: without it, recovery rolls forward, finds every file new, and records that).
    pub fn applied(&mut self) {
        let _ = self.append(&Record::Applied, false);
    }

    /// Records that a committed transaction is being undone.
    pub fn abort(&mut self, sync: bool) -> Result<()> {
        self.append(&Record::Abort, sync)
    }

    /// Marks the transaction finished and removes the journal. Best effort, and so it returns
    /// nothing: it runs once every file is in place, when failing would report a change that
    /// happened as one that did not. A journal left behind is harmless: the next recovery
    /// removes it at once if it says DONE, and otherwise rolls forward, which finds every file
    /// new already. The removal is tried even if DONE could not be written.
    pub fn finish(mut self) {
        let _ = self.append(&Record::Done, false);
        drop(self.file);
        let _ = remove(&self.path);
    }
}

impl Intent {
    /// Checks every name the intent gives before recovery uses any: the files and directories
    /// it would change are plain paths inside the workspace (`root`, with the state directory
    /// `state`), and its temps have the shapes the store gives them. `file` is the journal.
    pub fn check(&self, root: &Path, state: &Path, file: &Path) -> Result<()> {
        use super::trust::{check_path, check_temp};
        check_temp(file, &self.manifest_temp.0, b"manifest.json")?;
        for e in &self.entries {
            check_path(root, state, file, &e.path)?;
            let real = check_path(root, state, file, &e.real)?;
            let name = real
                .file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default();
            check_temp(file, &e.temp.0, name)?;
            if let Some(t) = &e.backup_temp {
                let Some(before) = e.before else {
                    return Err(StoreError::Untrusted {
                        file: file.to_owned(),
                        detail: "it names a backup temp for a file that had no old version".into(),
                    });
                };
                check_temp(file, &t.0, before.sha256.short(16).as_bytes())?;
            }
        }
        for d in &self.created_dirs {
            let dir = check_path(root, state, file, d)?;
            // Only a directory on the way to one of its files.
            if !self
                .entries
                .iter()
                .any(|e| Path::new(&e.real).starts_with(&dir) && Path::new(&e.real) != dir)
            {
                return Err(StoreError::Untrusted {
                    file: file.to_owned(),
                    detail: format!(
                        "it names `{d}` as a directory it created, which holds none of its files"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Removes a journal file that recovery has dealt with.
pub(crate) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("remove the journal", path),
    }
}

/// Reads a journal: its intent (if whole) and its stage.
pub(crate) fn read(path: &Path) -> Result<(Option<Intent>, Stage)> {
    let bytes = super::trust::read(path).ctx("read the journal", path)?;
    let mut intent = None;
    let mut stage = Stage::Prepared;
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let rec: Record = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(_) if i + 1 == lines.len() => break, // torn tail: not written whole
            Err(e) => {
                return Err(StoreError::Damaged {
                    path: path.to_owned(),
                    detail: format!("line {}: {e}", i + 1),
                });
            }
        };
        match rec {
            Record::Intent(it) => intent = Some(*it),
            Record::Commit => stage = Stage::Committed,
            Record::Applied => stage = Stage::Applied,
            Record::Abort => stage = Stage::Aborted,
            Record::Done => stage = Stage::Done,
        }
    }
    Ok((intent, stage))
}

/// The journal files of a store, oldest first. Only names this module creates are listed.
pub(crate) fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx("list", dir),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.ctx("list", dir)?;
        let name = e.file_name();
        if name
            .to_str()
            .is_some_and(|n| n.ends_with(".jsonl") && !n.starts_with('.'))
        {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

//! Reading the backup index (`backups.jsonl`) a line at a time, so that what a reader holds
//! does not grow with the index: one line, and what the caller keeps of each record.
//!
//! A torn last line (a crash mid-append) is skipped; a line that does not parse anywhere else
//! is an error ([`StoreError::Damaged`]); blank lines are skipped. [`BackupIndex`] is the index
//! as it was when opened: it reads from the open file, so a prune that has replaced
//! `backups.jsonl` can still read the records it removed. [`Marks`] holds one bit per record, by its order in the index.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::audit::MAX_LINE;
use super::error::{IoContext, Result, StoreError};
use super::objects::BackupRecord;

/// The backup index as it was when opened (see the module docs).
#[derive(Debug)]
pub struct BackupIndex {
    path: PathBuf,
    /// The open index and its (device, inode, length) when opened; `None`: there was none.
    file: Option<(File, (u64, u64, u64))>,
}

impl BackupIndex {
    /// Opens the index at `path`; one that does not exist is empty.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = match super::trust::open_read(path) {
            Ok(f) => {
                let m = f.metadata().ctx("inspect", path)?;
                Some((f, (m.dev(), m.ino(), m.len())))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).ctx("open", path),
        };
        Ok(BackupIndex {
            path: path.to_owned(),
            file,
        })
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Visits every record, oldest first. Stops at the first error.
    pub fn scan<E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(BackupRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.lines(|_, record| visit(record))
    }

    /// Visits every record with its line (without the newline and JSON whitespace around it),
    /// oldest first.
    pub(crate) fn lines<E: From<StoreError>>(
        &self,
        visit: impl FnMut(&str, BackupRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        match &self.file {
            Some((f, _)) => each_record(f, &self.path, visit),
            None => Ok(()),
        }
    }

    /// Whether `backups.jsonl` is still the file this was opened on, unchanged in length.
    pub(crate) fn is_current(&self) -> Result<bool> {
        match (std::fs::symlink_metadata(&self.path), &self.file) {
            (Ok(m), Some((_, id))) => Ok((m.dev(), m.ino(), m.len()) == *id),
            (Err(e), None) if e.kind() == io::ErrorKind::NotFound => Ok(true),
            (Err(e), Some(_)) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            (Ok(_), None) => Ok(false),
            (Err(e), _) => Err(e).ctx("inspect", &self.path),
        }
    }

    /// Whether the file at the index's path is (still) the one this was opened on.
    pub(crate) fn is_in_place(&self) -> bool {
        match (std::fs::symlink_metadata(&self.path), &self.file) {
            (Ok(m), Some((_, (dev, ino, _)))) => (m.dev(), m.ino()) == (*dev, *ino),
            (Err(_), None) => true,
            _ => false,
        }
    }

    /// The open file this was opened on, if the index existed.
    pub(crate) fn file(&self) -> Option<&File> {
        self.file.as_ref().map(|(f, _)| f)
    }

    /// The error of a caller that finds the index not the one it decided on: more, fewer or
    /// other records than an earlier pass read.
    pub fn changed(&self) -> StoreError {
        self.damaged("it changed while the prune was deciding".into())
    }

    fn damaged(&self, detail: String) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            detail,
        }
    }
}

/// A set of the index's records by their order (the `k`th record read, from 0), one bit each:
/// what a prune holds per backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    bits: Vec<u64>,
    len: usize,
}

impl Marks {
    /// No record marked, of an index of `len` records.
    pub fn new(len: usize) -> Marks {
        Marks {
            bits: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Marks from one flag per record.
    pub fn from_flags(flags: &[bool]) -> Marks {
        let mut marks = Marks::new(flags.len());
        for (k, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
            marks.insert(k);
        }
        marks
    }

    /// Marks the `k`th record.
    pub fn insert(&mut self, k: usize) {
        assert!(k < self.len, "record {k} of {}", self.len);
        self.bits[k / 64] |= 1 << (k % 64);
    }

    /// Whether the `k`th record is marked.
    pub fn contains(&self, k: usize) -> bool {
        k < self.len && self.bits[k / 64] & (1 << (k % 64)) != 0
    }

    /// How many records the index has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index has no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many records are marked.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// Reads the index at `path`, oldest first (see the module docs for what is skipped).
pub(crate) fn read_index(path: &Path) -> Result<Vec<BackupRecord>> {
    let mut out = Vec::new();
    BackupIndex::open(path)?.scan(|r| {
        out.push(r);
        Ok::<_, StoreError>(())
    })?;
    Ok(out)
}

/// Reads `f` from its start, without moving its offset (so several readers of one open file do
/// not disturb each other).
pub(crate) fn reader(f: &File) -> impl Read + '_ {
    ReadAt { file: f, at: 0 }
}

struct ReadAt<'a> {
    file: &'a File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// A record read back names a plain path inside the workspace (see [`super::trust`]).
fn check_record(path: &Path, line: usize, r: &BackupRecord) -> Result<()> {
    let rel = r.path.to_str().unwrap_or("\u{fffd}");
    super::trust::check_rel(path, rel).map_err(|e| match e {
        StoreError::Untrusted { file, detail } => StoreError::Untrusted {
            file,
            detail: format!("line {line}: {detail}"),
        },
        other => other,
    })?;
    Ok(())
}

/// Calls `visit` with each record of the index `f` (at `path`), its place and its line. A line
/// that does not parse is an error only once another line follows it: the last one is a torn
/// tail.
fn each_record<E: From<StoreError>>(
    f: &File,
    path: &Path,
    mut visit: impl FnMut(&str, BackupRecord) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader(f));
    let mut buf = Vec::new();
    let mut number = 0usize;
    let mut unparsed: Option<(usize, serde_json::Error)> = None;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .ctx("read", path)?;
        if n == 0 {
            return Ok(()); // a line that did not parse was the last: a torn tail
        }
        if n > MAX_LINE {
            // No record is anywhere near this long: a damaged index is not read into memory.
            return Err(StoreError::Damaged {
                path: path.to_owned(),
                detail: format!("line {} is longer than {MAX_LINE} bytes", number + 1),
            }
            .into());
        }
        if let Some((line, e)) = unparsed.take() {
            return Err(StoreError::Damaged {
                path: path.to_owned(),
                detail: format!("line {line}: {e}"),
            }
            .into());
        }
        number += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text: Cow<'_, str> = String::from_utf8_lossy(bytes);
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&text) {
            Ok(record) => {
                check_record(path, number, &record)?;
                visit(text.trim_matches([' ', '\t', '\r']), record)?
            }
            Err(e) => unparsed = Some((number, e)),
        }
    }
}

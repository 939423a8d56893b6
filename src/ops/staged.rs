//! What a commit would hold: the staged files and their contents, read from git's index.
//!
//! `check --staged` judges the index, not the working tree: a file staged broken and then fixed
//! only in the working tree is still refused, and one staged good is accepted whatever the
//! working tree holds. Git is asked with `-z` (any path, spaces and newlines included) and the
//! blobs come through one `git cat-file --batch`. Invariant: nothing here writes, and the
//! working tree is never read for a file the index holds.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Error, Workspace};
use crate::doc::Limits;

/// Contents that stand in for files on disk, keyed by absolute path: the index's for
/// `check --staged`, an edit not yet written for `set`. `None`: the file is gone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overlay {
    files: HashMap<PathBuf, Option<Vec<u8>>>,
    /// Files whose staged blob is past the size limit, with its size: never read.
    too_large: HashMap<PathBuf, u64>,
}

impl Overlay {
    /// Makes `abs` read as `bytes` (`None`: as missing).
    pub fn insert(&mut self, abs: PathBuf, bytes: Option<Vec<u8>>) {
        self.files.insert(abs, bytes);
    }

    /// Whether `abs` is covered (present or gone).
    pub fn covers(&self, abs: &Path) -> bool {
        self.files.contains_key(abs) || self.too_large.contains_key(abs)
    }

    /// The bytes of `abs`: the overlay's, else the disk's (through [`crate::store::read_input`]).
    pub fn read(&self, abs: &Path) -> std::io::Result<Vec<u8>> {
        if let Some(size) = self.too_large.get(abs) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "its staged content is {size} bytes, past the limit of {} bytes",
                    Limits::default().max_bytes
                ),
            ));
        }
        match self.files.get(abs) {
            Some(Some(b)) => Ok(b.clone()),
            Some(None) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not in the index: deleted or never added",
            )),
            // Regular files only, without blocking, and no more than the parser's limit + 1.
            None => crate::store::read_input(abs, crate::doc::Limits::default().max_bytes as u64),
        }
    }

    /// [`Overlay::read`], with a missing file as `None`.
    pub fn read_optional(&self, abs: &Path) -> std::io::Result<Option<Vec<u8>>> {
        match self.read(abs) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The staged side of a commit under the workspace root.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    /// Files whose staged content differs from `HEAD` (added, copied, modified, renamed: the
    /// new name), relative to the root.
    pub changed: Vec<PathBuf>,
    /// Files the commit deletes (a rename's old name too), relative to the root.
    pub deleted: Vec<PathBuf>,
    /// Every file in the index (stage 0) under the root, with its blob's id.
    blobs: HashMap<PathBuf, String>,
}

impl Staged {
    /// Reads what is staged in the repository that holds the workspace.
    pub fn read(ws: &Workspace) -> Result<Self, Error> {
        let diff = git(
            ws,
            &[
                "diff",
                "--cached",
                "--name-status",
                "-z",
                "--no-renames",
                "--relative",
                "--diff-filter=ACMD",
            ],
        )?;
        let mut changed = Vec::new();
        let mut deleted = Vec::new();
        let mut fields = diff.split(|b| *b == 0).filter(|f| !f.is_empty());
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let path = PathBuf::from(OsStr::from_bytes(path));
            if status == b"D" {
                deleted.push(path);
            } else {
                changed.push(path);
            }
        }
        let listing = git(ws, &["ls-files", "--stage", "-z"])?;
        let mut blobs = HashMap::new();
        for entry in listing.split(|b| *b == 0).filter(|f| !f.is_empty()) {
            // `<mode> <object> <stage>\t<path>`
            let Some(tab) = entry.iter().position(|b| *b == b'\t') else {
                continue;
            };
            let (meta, path) = (&entry[..tab], &entry[tab + 1..]);
            let meta: Vec<&[u8]> = meta.split(|b| *b == b' ').collect();
            // Regular files only (not links or submodules), and not a conflict's sides.
            if let [mode, object, b"0"] = meta[..]
                && mode.starts_with(b"100")
            {
                blobs.insert(
                    PathBuf::from(OsStr::from_bytes(path)),
                    String::from_utf8_lossy(object).into_owned(),
                );
            }
        }
        Ok(Staged {
            changed,
            deleted,
            blobs,
        })
    }

    /// Whether the index holds `rel`.
    pub fn holds(&self, rel: &Path) -> bool {
        self.blobs.contains_key(rel)
    }

    /// An overlay with the staged contents of `paths` (relative to the root): those the index
    /// holds read from it, those it does not hold as missing.
    pub fn overlay(&self, ws: &Workspace, paths: &BTreeSet<PathBuf>) -> Result<Overlay, Error> {
        let mut overlay = Overlay::default();
        let wanted: Vec<(&PathBuf, &String)> = paths
            .iter()
            .filter_map(|p| self.blobs.get(p).map(|o| (p, o)))
            .collect();
        for p in paths.iter().filter(|p| !self.blobs.contains_key(*p)) {
            overlay.insert(ws.root.join(p), None);
        }
        if wanted.is_empty() {
            return Ok(overlay);
        }
        // Sizes first: a blob past the limit is never read (the repository is untrusted input).
        let mut input = Vec::new();
        for (_, object) in &wanted {
            input.extend_from_slice(object.as_bytes());
            input.push(b'\n');
        }
        let sizes = run_git(
            ws,
            &["cat-file", "--batch-check=%(objectsize)"],
            Some(input),
        )?;
        let sizes: Vec<u64> = String::from_utf8_lossy(&sizes)
            .lines()
            .map(|l| l.trim().parse().unwrap_or(u64::MAX))
            .collect();
        let max = Limits::default().max_bytes as u64;
        let wanted: Vec<(&PathBuf, &String)> = wanted
            .into_iter()
            .zip(sizes.iter().chain(std::iter::repeat(&u64::MAX)))
            .filter_map(|(w, size)| {
                if *size > max {
                    overlay.too_large.insert(ws.root.join(w.0), *size);
                    None
                } else {
                    Some(w)
                }
            })
            .collect();
        if wanted.is_empty() {
            return Ok(overlay);
        }
        let mut input = Vec::new();
        for (_, object) in &wanted {
            input.extend_from_slice(object.as_bytes());
            input.push(b'\n');
        }
        let out = run_git(ws, &["cat-file", "--batch"], Some(input))?;
        // Each answer: `<object> blob <size>\n<bytes>\n`.
        let mut rest = &out[..];
        for (path, _) in wanted {
            let bad = || git_error("cat-file --batch", "an answer it could not read");
            let nl = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            let size: usize = header
                .rsplit(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            let body = rest.get(nl + 1..nl + 1 + size).ok_or_else(bad)?;
            overlay.insert(ws.root.join(path), Some(body.to_vec()));
            rest = rest.get(nl + 2 + size..).unwrap_or_default();
        }
        Ok(overlay)
    }
}

fn git(ws: &Workspace, args: &[&str]) -> Result<Vec<u8>, Error> {
    run_git(ws, args, None)
}

/// Runs git in the workspace root, feeding `input`; its standard output, or why it failed.
fn run_git(ws: &Workspace, args: &[&str], input: Option<Vec<u8>>) -> Result<Vec<u8>, Error> {
    let what = args.join(" ");
    let mut child = Command::new("git")
        .args(args)
        .current_dir(&ws.root)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("run", Path::new("git"), e))?;
    // Fed from a thread: git answers while it reads, and a full pipe would block us both.
    let feeder = input.and_then(|bytes| {
        let mut stdin = child.stdin.take()?;
        Some(std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        }))
    });
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_end(&mut s);
        }
        s
    });
    let mut out = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut out)
            .map_err(|e| Error::io("read the output of", Path::new("git"), e))?;
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("run", Path::new("git"), e))?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        let msg = String::from_utf8_lossy(&err);
        return Err(git_error(&what, msg.trim()));
    }
    Ok(out)
}

fn git_error(what: &str, why: &str) -> Error {
    Error::Usage(format!(
        "cannot read the git index (`git {what}`): {why}; --staged needs a git repository"
    ))
}

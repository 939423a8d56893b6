//! What the store reads back from its state directory is input, not truth: a repository may
//! commit anything under `.atomic/`, and `check` runs on it in CI and in the pre-commit hook.
//!
//! Guarantee: no path read back from a journal, the manifest, the backup index or the rotation
//! record is used before [`check_path`] accepts it (relative, spelled normally, inside the root,
//! not in `.git/` nor in the state directory, reached through no symlinked directory), and no
//! temp name before [`check_temp`] finds it in the shape the store gives its temps. State files
//! are opened without following links ([`open_read`]), and a state directory is used only when
//! it is a real directory that is ours ([`state_dir`]): it holds the marker the store writes
//! when it creates one, or only names the store makes (a store made before the marker existed,
//! which is then adopted).
//!
//! Proven by `tests/it/hostile.rs`: crafted records of every kind, state files as links to a
//! file outside, foreign state directories; each exits 2 with nothing outside or inside the
//! workspace changed.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::{IoContext, Result, StoreError};
use super::{atomic, sys};

/// The file that marks a state directory as cargo atomic's.
pub(crate) const MARKER: &str = "cargo-atomic-state";
const MARKER_TEXT: &str = "This directory is cargo atomic's state: journals, backups, the manifest \
and the audit log.\nOnly cargo atomic writes here; see `cargo atomic --help`.\n";
/// Keeps the state out of `git add -A`.
const GITIGNORE: &str = ".gitignore";

/// Names the store makes at the top of its state directory.
const OURS: &[&str] = &[
    MARKER,
    GITIGNORE,
    "lock",
    "journal",
    "objects",
    "manifest.json",
    "backups.jsonl",
    "rotations.json",
    "audit.jsonl",
    "audit.head",
    "audit.head.tmp",
    "prune-pending.json",
];

fn untrusted(file: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Untrusted {
        file: file.to_owned(),
        detail: detail.into(),
    }
}

/// Checks, without the disk, a path that `file` (a state file) names relative to the root:
/// relative, spelt plainly (no `.`, `..`, `//`, trailing `/`), not inside `.git/`.
pub(crate) fn check_rel(file: &Path, rel: &str) -> Result<PathBuf> {
    let refuse = |why: &str| untrusted(file, format!("it names `{rel}`, {why}"));
    if rel.is_empty() || rel.contains('\0') {
        return Err(refuse("which is not a file name"));
    }
    let p = Path::new(rel);
    if p.is_absolute() {
        return Err(refuse("an absolute path"));
    }
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            _ => return Err(refuse("a path that is not spelt plainly (`.`, `..`)")),
        }
    }
    // One spelling per file: no `a//b`, no trailing `/`.
    let plain = parts
        .iter()
        .map(|n| n.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if plain != rel {
        return Err(refuse("a path that is not spelt plainly"));
    }
    if parts.iter().any(|n| *n == OsStr::new(".git")) {
        return Err(refuse("a path inside `.git/`"));
    }
    Ok(p.to_owned())
}

/// Checks a path that `file` (a state file) names, relative to `root`, before the store changes
/// it: [`check_rel`], and not in the state directory `state` (absolute), and reached through
/// no symlinked directory (the store only ever records resolved paths).
pub(crate) fn check_path(root: &Path, state: &Path, file: &Path, rel: &str) -> Result<PathBuf> {
    let refuse = |why: &str| untrusted(file, format!("it names `{rel}`, {why}"));
    let p = check_rel(file, rel)?;
    let parts: Vec<&OsStr> = p.iter().collect();
    let abs = root.join(&p);
    if abs.starts_with(state) {
        return Err(refuse("a path inside the state directory"));
    }
    // No directory on the way may be a link: the store only ever records resolved paths.
    let mut dir = root.to_owned();
    for n in &parts[..parts.len() - 1] {
        dir.push(n);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(&format!(
                    "reached through the symlink `{}`",
                    dir.strip_prefix(root).unwrap_or(&dir).display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e).ctx("inspect", dir),
        }
    }
    Ok(p)
}

/// Whether `name` is a temp name the store gives for `stem`: `.STEM.XXXXXXXXXXXXXXXX.atomic-tmp`
/// (the stem cut at 160 bytes, 16 lowercase hex digits).
pub(crate) fn is_temp_of(name: &[u8], stem: &[u8]) -> bool {
    let stem = &stem[..stem.len().min(160)];
    let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|r| r.strip_prefix(stem))
        .and_then(|r| r.strip_prefix(b"."))
        .and_then(|r| r.strip_suffix(b".atomic-tmp"))
    else {
        return false;
    };
    rest.len() == 16 && rest.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a temp name that `file` names for `stem`.
pub(crate) fn check_temp(file: &Path, name: &[u8], stem: &[u8]) -> Result<()> {
    if is_temp_of(name, stem) {
        return Ok(());
    }
    Err(untrusted(
        file,
        format!(
            "it names `{}` as a temp file, which is not a name cargo atomic gives its temps",
            String::from_utf8_lossy(name)
        ),
    ))
}

/// Opens a state file for reading: never through a link, never anything but a regular file
/// (a FIFO would block), without blocking on open.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(not_a_link)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::other(
            "not a regular file (cargo atomic makes only regular files here)",
        ));
    }
    Ok(file)
}

/// Reads a whole state file with [`open_read`].
pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_read(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Turns the `ELOOP` of an `O_NOFOLLOW` open into words.
pub(crate) fn not_a_link(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        io::Error::other(
            "it is a symbolic link, which cargo atomic never makes in its state directory \
             (it may have been committed by someone else); refusing to follow it",
        )
    } else {
        e
    }
}

/// Whether the state directory exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Present,
    Absent,
}

/// Checks the state directory `state` (inside `root`) and, with `create`, creates it (0700, with
/// its marker and a `.gitignore` of `*`) or adopts an unmarked one that holds only names the
/// store makes. Refuses a link, a directory that is not ours, and subdirectories that are links.
pub(crate) fn state_dir(root: &Path, state: &Path, create: bool, sync: bool) -> Result<Presence> {
    if !state.starts_with(root) || state == root || state.starts_with(root.join(".git")) {
        return Err(untrusted(
            state,
            "the state directory must be a directory inside the workspace, not the workspace \
             itself nor inside `.git/` (the `state-dir` setting)",
        ));
    }
    match fs::symlink_metadata(state) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(untrusted(
                state,
                "the state directory is a symbolic link; cargo atomic uses only a real directory",
            ));
        }
        Ok(m) if !m.is_dir() => {
            return Err(untrusted(state, "the state directory is not a directory"));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !create {
                return Ok(Presence::Absent);
            }
            if let Some(parent) = state.parent() {
                atomic::create_dirs(parent, sync)?;
            }
            match fs::DirBuilder::new().mode(0o700).create(state) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return state_dir(root, state, create, sync);
                }
                Err(e) => return Err(e).ctx("create the state directory", state),
            }
            mark(state, sync)?;
            if sync {
                atomic::fsync_dir(state.parent().unwrap_or(root))?;
            }
        }
        Err(e) => return Err(e).ctx("inspect", state),
    }
    // One pass over the top: the store makes only regular files and directories here (a link
    // or a FIFO among them was put there by someone else, and nothing of the store is used
    // through it), and the names it makes, which decide whether an unmarked directory is ours.
    let mut foreign = Vec::new();
    for e in fs::read_dir(state).ctx("list", state)? {
        let e = e.ctx("list", state)?;
        let t = e.file_type().ctx("inspect", e.path())?;
        if !(t.is_file() || t.is_dir()) {
            return Err(untrusted(
                &e.path(),
                "it is a symbolic link or a special file, which cargo atomic never makes in its \
                 state directory (it may have been committed by someone else); remove it",
            ));
        }
        if !is_ours(&e.file_name()) {
            foreign.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    foreign.sort();
    if !is_marked(state)? {
        if let Some(name) = foreign.first() {
            return Err(untrusted(
                state,
                format!(
                    "it is not cargo atomic's state directory: it has no `{MARKER}` file and holds \
                     `{name}`, which cargo atomic does not make; choose another `state-dir` in \
                     atomic.toml, or remove the directory"
                ),
            ));
        }
        if create {
            mark(state, sync)?;
        }
    }
    for sub in ["journal", "objects"] {
        let d = state.join(sub);
        match fs::symlink_metadata(&d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(untrusted(
                    &d,
                    "it is not a directory (a symbolic link or a file where cargo atomic keeps a \
                     directory)",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if create {
                    match fs::DirBuilder::new().mode(0o700).create(&d) {
                        Ok(()) => {
                            if sync {
                                atomic::fsync_dir(state)?;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e).ctx("create the state directory", d),
                    }
                }
            }
            Err(e) => return Err(e).ctx("inspect", d),
        }
    }
    Ok(Presence::Present)
}

fn is_marked(state: &Path) -> Result<bool> {
    let path = state.join(MARKER);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(_) => Err(untrusted(&path, "the marker is not a regular file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).ctx("inspect", path),
    }
}

fn is_ours(name: &OsStr) -> bool {
    let mut b = name.as_bytes();
    // A copy `recover --repair` set aside: `NAME.damaged-N`.
    if let Some(i) = b.windows(9).rposition(|w| w == b".damaged-")
        && b[i + 9..].iter().all(u8::is_ascii_digit)
        && b.len() > i + 9
    {
        b = &b[..i];
    }
    if OURS.iter().any(|o| o.as_bytes() == b) {
        return true;
    }
    // A set-aside audit log segment: `audit.N.jsonl`.
    if let Some(n) = b
        .strip_prefix(b"audit.")
        .and_then(|r| r.strip_suffix(b".jsonl"))
    {
        return !n.is_empty() && n.iter().all(u8::is_ascii_digit);
    }
    // A temp of a state file.
    b.starts_with(b".") && b.ends_with(b".atomic-tmp")
}

/// Writes the `.gitignore`, then the marker. No temps: a crash between or during them leaves
/// a directory without its marker, for which the next run writes both again (a torn
/// `.gitignore` of ours, a prefix of `*\n`, is rewritten; one the user wrote stays theirs);
/// the marker counts by its presence alone.
fn mark(state: &Path, sync: bool) -> Result<()> {
    for (name, text) in [(GITIGNORE, "*\n"), (MARKER, MARKER_TEXT)] {
        let path = state.join(name);
        if name == GITIGNORE {
            match fs::symlink_metadata(&path) {
                Ok(m) if m.len() > 2 || !m.is_file() => continue,
                Ok(_) if !b"*\n".starts_with(&read(&path).ctx("read", &path)?) => continue,
                _ => {}
            }
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(not_a_link)
            .ctx("create", &path)?;
        io::Write::write_all(&mut file, text.as_bytes()).ctx("write", &path)?;
        if sync {
            sys::fsync(&file).ctx("fsync", &path)?;
        }
    }
    if sync {
        atomic::fsync_dir(state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(root: &Path, rel: &str) -> Result<PathBuf> {
        check_path(root, &root.join(".atomic"), Path::new("j"), rel)
    }

    #[test]
    fn paths_outside_or_odd_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/", root.join("link")).unwrap();
        assert_eq!(check(root, "a/b.json").unwrap(), Path::new("a/b.json"));
        assert_eq!(check(root, "real/x").unwrap(), Path::new("real/x"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a",
            "a//b",
            "a/",
            ".git/hooks/pre-commit",
            "sub/.git/config",
            ".atomic/lock",
            "link/etc/passwd",
            "a\0b",
        ] {
            let e = check(root, bad).expect_err(bad);
            assert!(matches!(e, StoreError::Untrusted { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn temp_names_have_one_shape() {
        assert!(is_temp_of(
            b".a.json.0123456789abcdef.atomic-tmp",
            b"a.json"
        ));
        for bad in [
            &b"a.json.0123456789abcdef.atomic-tmp"[..],
            b".b.json.0123456789abcdef.atomic-tmp",
            b".a.json.0123456789ABCDEF.atomic-tmp",
            b".a.json.0123456789abcde.atomic-tmp",
            b".a.json.0123456789abcdef.atomic-tmp/x",
            b"../../etc/passwd",
        ] {
            assert!(
                !is_temp_of(bad, b"a.json"),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'n'; 300];
        let mut name = b".".to_vec();
        name.extend_from_slice(&long[..160]);
        name.extend_from_slice(b".0123456789abcdef.atomic-tmp");
        assert!(is_temp_of(&name, &long));
    }

    #[test]
    fn state_dir_is_created_marked_and_foreign_ones_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let state = root.join(".atomic");
        assert_eq!(
            state_dir(root, &state, false, false).unwrap(),
            Presence::Absent
        );
        state_dir(root, &state, true, false).unwrap();
        assert!(state.join(MARKER).is_file());
        assert_eq!(fs::read_to_string(state.join(".gitignore")).unwrap(), "*\n");
        assert!(state.join("journal").is_dir());

        // An old, unmarked store is adopted.
        let old = root.join("old");
        fs::create_dir_all(old.join("objects")).unwrap();
        fs::write(old.join("manifest.json"), "{}").unwrap();
        fs::write(old.join("audit.2.jsonl"), "").unwrap();
        state_dir(root, &old, true, false).unwrap();
        assert!(old.join(MARKER).is_file());

        // A directory of the user's is not.
        let config = root.join("config");
        fs::create_dir(&config).unwrap();
        fs::write(config.join("app.yaml"), "a: 1").unwrap();
        let e = state_dir(root, &config, true, false).unwrap_err();
        assert!(e.to_string().contains("app.yaml"), "{e}");
        assert!(!config.join(MARKER).exists());
        assert!(!config.join("journal").exists());

        // Nor a link, nor the root itself.
        std::os::unix::fs::symlink(&state, root.join("alias")).unwrap();
        assert!(state_dir(root, &root.join("alias"), true, false).is_err());
        assert!(state_dir(root, root, true, false).is_err());
    }

    #[test]
    fn state_files_are_not_read_through_links_or_fifos() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), t.path().join("link")).unwrap();
        let e = read(&t.path().join("link")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            t.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read(&t.path().join("fifo")).unwrap_err();
        assert!(e.to_string().contains("regular"), "{e}");
    }
}

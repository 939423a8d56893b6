//! The store's failures. Each names the file it concerns; the CLI prints the whole chain.

use std::io;
use std::path::PathBuf;

use crate::digest::Sha256Digest;

/// A failure of the durable store. Findings about user data are not errors; these are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A system call failed on a path.
    #[error("cannot {op} `{}`", path.display())]
    Io {
        /// What we were doing, as a verb: "fsync", "rename", "create a temp file in", ...
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The path lies outside the workspace root.
    #[error("`{}` is outside the workspace root `{}`", path.display(), root.display())]
    OutsideRoot {
        /// The path as given.
        path: PathBuf,
        /// The workspace root.
        root: PathBuf,
    },
    /// The path lies in the store's own state directory, which only the store writes.
    #[error("`{}` is inside the state directory `{}`; cargo atomic keeps its own files there", path.display(), state.display())]
    InStateDir {
        /// The path as given.
        path: PathBuf,
        /// The state directory.
        state: PathBuf,
    },
    /// A symlink whose target resolves outside the workspace root.
    #[error(
        "`{}` is a symlink to `{}`, outside the workspace; refusing to write through it",
        path.display(),
        target.display()
    )]
    SymlinkOutside {
        /// The link.
        path: PathBuf,
        /// Where it resolves.
        target: PathBuf,
    },
    /// A symlink whose target does not exist.
    #[error("`{}` is a dangling symlink; refusing to write through it", path.display())]
    DanglingSymlink {
        /// The link.
        path: PathBuf,
    },
    /// A regular file with other hard links; replacing it would split them.
    #[error(
        "`{}` has {nlink} hard links; replacing it would detach the others (allow it with --allow-hardlinks)",
        path.display()
    )]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// Its link count.
        nlink: u64,
    },
    /// Not a regular file (a directory, a FIFO, a device...).
    #[error("`{}` is not a regular file (a directory, a FIFO or a device): cargo atomic manages only regular files", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// A backup object whose bytes no longer hash to its name.
    #[error("backup object {expected} is damaged: its contents hash to {actual}")]
    CorruptObject {
        /// The name of the object.
        expected: Sha256Digest,
        /// What its bytes hash to now.
        actual: Sha256Digest,
    },
    /// A backup object that should exist does not.
    #[error("backup object {digest} is missing from the store")]
    MissingObject {
        /// The object's name.
        digest: Sha256Digest,
    },
    /// A state file (journal, manifest, index) that cannot be read as ours.
    #[error("`{}` is damaged: {detail} (`cargo atomic recover --repair` sets damaged state aside, never deleting it)", path.display())]
    Damaged {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Recovery found a file in neither the state before nor the state after an interrupted
    /// transaction: somebody changed it since. Nothing is overwritten.
    #[error(
        "cannot recover transaction {txid}: `{}` changed since it was interrupted (now sha256 {actual}); \
         resolve it by hand, then run `cargo atomic recover` again",
        path.display()
    )]
    Conflict {
        /// The interrupted transaction.
        txid: String,
        /// The file that changed.
        path: PathBuf,
        /// What it hashes to now ("missing" if absent).
        actual: String,
    },
    /// A state file names something the store would never write there: a path outside the
    /// workspace, a link, a temp of another shape, or a state directory that is not ours. The
    /// repository is input; nothing it names is touched.
    #[error("`{}` cannot be trusted: {detail}", file.display())]
    Untrusted {
        /// The state file (or directory) concerned.
        file: PathBuf,
        /// What is wrong, and what to do.
        detail: String,
    },
    /// A file name that is not UTF-8: the journal and the manifest record paths as UTF-8.
    #[error("`{}`: the file name is not valid UTF-8; cargo atomic records paths as UTF-8 and cannot manage this file (rename it)", path.display())]
    NotUtf8 {
        /// The path, lossily shown.
        path: PathBuf,
    },
    /// The same path twice in one transaction.
    #[error("`{}` is written twice in one transaction", path.display())]
    Duplicate {
        /// The path.
        path: PathBuf,
    },
}

/// Results of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches a verb and a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| StoreError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

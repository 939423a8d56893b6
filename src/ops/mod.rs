//! The commands as library functions, shared by the CLI, `build.rs` and the hook.
//!
//! Each takes plain data and a [`Sink`](crate::event::Sink), reports what it does as events,
//! and returns an [`Outcome`]. Invariant: nothing here prints or exits; findings are events,
//! failures are [`Error`]s, and every failure leaves the disk as it was.

mod apply;
mod audit;
mod backups;
pub mod catalog;
mod check;
mod edit;
mod explain;
mod fetch;
mod hook;
mod init;
mod merge;
pub mod pins;
mod place;
mod prune;
mod recover;
mod render;
mod retention;
mod rotate;
mod schema_for;
mod schemas;
mod show_config;
mod staged;
pub(crate) mod units;
mod validate;
mod verify;
mod workspace;
mod write;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use apply::{ApplyRequest, Outputs, apply, render_merges, split_targets, unified_diff};
pub use audit::{AuditShowRequest, AuditVerifyRequest, audit_show, audit_verify};
pub use backups::{list_backups, restore};
pub use check::{CheckRequest, check};
pub use edit::{SetRequest, UnsetRequest, set, unset};
pub use explain::{ExplainRequest, Explanation, Step, explain, key_to_pointer};
pub use fetch::{FetchOutcome, FetchRequest, Http, fetch};
pub use hook::{HookAction, install_hook, uninstall_hook};
pub use init::init;
pub use merge::{MergeRequest, merge};
pub use prune::{PruneRequest, prune};
pub use recover::recover;
pub use retention::BackupsConfig;
pub use rotate::{RotateRequest, rotate};
pub use schema_for::{SchemaChoice, SchemaReason, schema_for};
pub use schemas::schema_files;
pub use show_config::{ConfigEntry, ConfigReport, effective_config};
pub use units::{ByteSize, HumanDuration, parse_duration, parse_size};
pub use validate::{ValidateRequest, validate};
pub use verify::{accept, verify};
pub use workspace::{
    ArraysName, AuditConfig, ByKey, Compress, Config, MergeEntry, Naming, PackagePart,
    PathStrategy, RotateEntry, SchemasConfig, Settings, ValidateEntry, Workspace, config_schema,
};
pub use write::{WriteRequest, write};

use crate::exit;
use crate::store::StoreError;

/// A command could not run. Nothing was changed on disk.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// The configuration is wrong.
    #[error("invalid configuration in `{}`: {message}", path.display())]
    Config {
        /// The config file (with `:line:col` when known).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration file has findings (each located).
    #[error("invalid configuration in `{}` ({} problem{})", path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    ConfigFindings {
        /// The config file.
        path: PathBuf,
        /// What is wrong, where.
        diagnostics: Vec<crate::diagnostic::Diagnostic>,
    },
    /// An I/O failure outside the store.
    #[error("cannot {op} `{}`", path.display())]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `set` or `unset` cannot make the edit (a missing key, a YAML alias, a TOML null...).
    #[error("cannot edit `{}`", path.display())]
    Edit {
        /// The file, relative to the workspace root.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<crate::doc::edit::EditError>,
    },
    /// `fetch` could not resolve, download or pin a schema (nothing was written).
    #[error("{message}")]
    Fetch {
        /// What failed, naming the URL.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }

    /// The exit code for this failure: always [`exit::FAILURE`] ("could not run, nothing
    /// changed"). One place, exhaustive, so a new variant must choose.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Config { .. }
            | Error::ConfigFindings { .. }
            | Error::Io { .. }
            | Error::Store(_)
            | Error::Edit { .. }
            | Error::Fetch { .. } => exit::FAILURE,
        }
    }
}

/// What a command that ran found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Files looked at.
    pub files: usize,
    /// Error findings.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Files written or deleted.
    pub written: usize,
    /// Findings that stop the command from doing its job (a schema that does not compile, a
    /// `$ref` that cannot be resolved offline): exit 2 rather than 1.
    pub fatal: usize,
}

impl Outcome {
    /// Adds the counts of another part of the same command.
    pub fn add(&mut self, other: Outcome) {
        self.files += other.files;
        self.errors += other.errors;
        self.warnings += other.warnings;
        self.written += other.written;
        self.fatal += other.fatal;
    }

    /// [`exit::FAILURE`] if the command could not do its job, [`exit::FINDINGS`] if anything
    /// was found, else [`exit::SUCCESS`].
    pub fn exit_code(&self) -> i32 {
        if self.fatal > 0 {
            exit::FAILURE
        } else if self.errors > 0 {
            exit::FINDINGS
        } else {
            exit::SUCCESS
        }
    }
}

/// Set once the process is known to end when its one command returns.
static EXITS_AFTER_COMMAND: AtomicBool = AtomicBool::new(false);

/// Declares that this process ends as soon as the current command returns, as the
/// command-line tool does. Structures built for the command (compiled schemas above all: tens
/// of thousands of small allocations) are then left to the process's exit rather than freed
/// one allocation at a time, which is most of a one-file run's last tenth. Library users
/// (`build.rs`, long-lived processes) never call this, and everything is freed as usual.
pub fn exit_after_command() {
    EXITS_AFTER_COMMAND.store(true, Ordering::Relaxed);
}

/// Drops `value`, unless the process is about to exit anyway (see [`exit_after_command`]).
pub(crate) fn discard<T>(value: T) {
    if EXITS_AFTER_COMMAND.load(Ordering::Relaxed) {
        std::mem::forget(value);
    }
}

#[cfg(test)]
mod exit_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted;

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn discard_drops_until_the_process_is_declared_to_exit() {
        super::discard(Counted);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        super::exit_after_command();
        super::discard(Counted);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1, "left to the exit");
        super::EXITS_AFTER_COMMAND.store(false, Ordering::Relaxed);
    }
}

//! The command line, parsed with no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cargo atomic validate config/prod.yaml --schema schemas/app.schema.json
  echo '{\"port\": 8080}' | cargo atomic write config/app.json
  cargo atomic verify
  cargo atomic backups list config/app.json
  cargo atomic backups restore config/app.json
  cargo atomic audit verify

Exit codes: 0 success, 1 findings (invalid data, checksum mismatch), 2 the command could not
run and nothing was changed, 101 internal bug.";

/// Validate, merge and durably write a workspace's JSON, YAML and TOML config files.
///
/// Every write is atomic and durable, keeps the old bytes as a backup, and is recorded in the
/// manifest; an interrupted run is finished or undone by the next command.
#[derive(Debug, Parser)]
#[command(name = "cargo-atomic", bin_name = "cargo atomic", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Path to the workspace's Cargo.toml (or its directory); default: found from the current directory
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Path to the configuration; default: atomic.toml, .config/atomic.toml, or [workspace.metadata.atomic]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// How to print messages
    #[arg(long, global = true, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
    /// Coloring [default: auto; also CARGO_TERM_COLOR, NO_COLOR]
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorWhen>,
    /// Print nothing but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more (repeat for more still)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Message formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Readable text on stderr, like rustc
    Human,
    /// One line per finding: file:line:col: error[code]: message
    Short,
    /// One JSON object per line on stdout, each with a "reason"
    Json,
    /// GitHub Actions workflow commands (::error file=...::) on stdout
    Github,
    /// One SARIF 2.1.0 log on stdout, for code-scanning tools
    Sarif,
}

/// When to color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stderr is a terminal and NO_COLOR is unset
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate JSON, YAML and TOML files against JSON Schema; every error at file:line:column
    #[command(after_help = "\
Which schema applies: --schema, else the [[validate]] entries of atomic.toml whose globs match,
else the file's own $schema (JSON, YAML) or `#:schema path` comment (TOML).

Examples:
  cargo atomic validate
  cargo atomic validate config/prod.yaml --schema schemas/app.schema.json
  cargo atomic validate config/*.toml --message-format short")]
    Validate {
        /// Files to validate; default: every file the [[validate]] entries name
        paths: Vec<PathBuf>,
        /// Validate every file against this schema
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Do not assert `format` (email, date-time, uri, ...): treat it as an annotation
        #[arg(long)]
        no_format_checks: bool,
    },
    /// Deep-merge config files left to right (RFC 7396: objects merge, null deletes, arrays and scalars replace)
    #[command(after_help = "\
Sources may mix formats (a YAML base, a TOML overlay). With --schema, each error in the result is
reported where a source set the offending value.

Examples:
  cargo atomic merge config/base.yaml config/prod.yaml
  cargo atomic merge config/base.yaml config/prod.toml -o config/rendered/prod.json --schema schemas/app.schema.json
  cargo atomic merge base.json overlay.json --arrays append --to yaml")]
    Merge {
        /// The sources, base first
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Write the result here, atomically (with a backup of what it replaces), instead of to stdout
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// Validate the result against this schema before printing or writing it
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// How arrays merge
        #[arg(long, value_enum, default_value_t = Arrays::Replace)]
        arrays: Arrays,
        /// Output format [default: the output's extension, else json]
        #[arg(long, value_enum, value_name = "FORMAT")]
        to: Option<To>,
    },
    /// Replace FILE with standard input, atomically and durably, keeping the old bytes as a backup
    #[command(
        after_help = "Example:\n  jq '.port = 9090' config/app.json | cargo atomic write config/app.json"
    )]
    Write {
        /// The file to replace (or create), inside the workspace
        file: PathBuf,
        /// Replace a file that has other hard links (they keep the old bytes)
        #[arg(long)]
        allow_hardlinks: bool,
    },
    /// Compare files with the SHA-256 recorded when cargo atomic last wrote them
    #[command(
        after_help = "Examples:\n  cargo atomic verify\n  cargo atomic verify config/app.json --message-format json"
    )]
    Verify {
        /// Files to check; default: every managed file
        paths: Vec<PathBuf>,
    },
    /// Finish an interrupted transaction (every command also does this first), or undo it
    #[command(after_help = "Examples:\n  cargo atomic recover\n  cargo atomic recover --rollback")]
    Recover {
        /// Undo it instead: every file gets its old bytes back
        #[arg(long)]
        rollback: bool,
    },
    /// List and restore the backups of replaced and deleted files
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// Show and verify the hash-chained audit log of every change
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo atomic audit show --limit 20\n  cargo atomic audit verify"
    )]
    Audit(AuditCommand),
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit records, oldest first (newest last); --limit keeps the newest N
    #[command(after_help = "\
Records are listed as they are, without checking the chain; `audit verify` checks it.

Examples:
  cargo atomic audit show --limit 20
  cargo atomic audit show --path config/app.json --since 7d
  cargo atomic audit show --since 2026-11-25 --message-format json")]
    Show {
        /// Only the newest N records (after the other filters)
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Only the records of this file
        #[arg(long, value_name = "P")]
        path: Option<PathBuf>,
        /// Only records from this long ago (2h, 7d) or since this time (2026-11-25, 2026-11-25T20:00:00Z)
        #[arg(long, value_name = "DURATION|TIME")]
        since: Option<String>,
    },
    /// Check the hash chain and the head; name the first bad line
    #[command(after_help = "\
Finds an edited, removed, reordered, inserted or truncated record and names its line. A torn
last line (an interrupted append) is a warning; --repair cuts it off and records that. Keep the
head hash it prints somewhere else and pass it later as --expect-head: that also catches a
rewrite of the log together with its head. Findings exit 1.

Examples:
  cargo atomic audit verify
  cargo atomic audit verify --deep --expect-head \"$SAVED_HEAD\"
  cargo atomic audit verify --repair")]
    Verify {
        /// A head hash kept from an earlier run: some record must have it
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Also check every file against its last recorded state, and every backup object
        #[arg(long)]
        deep: bool,
        /// Cut off a torn last line first (appending a record that says so)
        #[arg(long)]
        repair: bool,
    },
}

/// `--arrays`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Arrays {
    /// A later array replaces an earlier one (RFC 7396)
    Replace,
    /// A later array's items are appended
    Append,
}

/// `--to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum To {
    /// JSON, pretty-printed
    Json,
    /// YAML
    Yaml,
    /// TOML
    Toml,
}

/// `backups` subcommands.
#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List backups, newest first
    #[command(
        after_help = "Examples:\n  cargo atomic backups list\n  cargo atomic backups list config/app.json --message-format json"
    )]
    List {
        /// Only the backups of this file
        path: Option<PathBuf>,
    },
    /// Put back a file's newest backup (or the one with --id); its current bytes are kept as a backup too
    #[command(
        after_help = "Examples:\n  cargo atomic backups restore config/app.json\n  cargo atomic backups restore config/app.json --id 3f9a1c"
    )]
    Restore {
        /// The file to restore
        path: PathBuf,
        /// The backup's id (or a unique prefix of it, or of its sha256), as `backups list` shows
        #[arg(long)]
        id: Option<String>,
    },
}

/// `cargo atomic ...` arrives as `cargo-atomic atomic ...`: drop the extra word.
pub fn normalize_args(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_some_and(|a| a == "atomic") {
        args.remove(1);
    }
    args
}

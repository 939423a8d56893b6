//! The command line, parsed with no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cargo atomic validate config/prod.yaml --schema schemas/app.schema.json
  cargo atomic apply --dry-run
  cargo atomic check
  echo '{\"port\": 8080}' | cargo atomic write config/app.json
  cargo atomic verify
  cargo atomic backups list config/app.json
  cargo atomic backups restore config/app.json
  cargo atomic backups prune --dry-run
  cargo atomic audit verify

Exit codes: 0 success, 1 findings (invalid data, stale output, checksum mismatch),
2 the command could not run and nothing was changed, 101 internal bug.";

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
    /// cargo's --locked, --offline and --frozen, also before the command (`cargo atomic --frozen
    /// check`), as cargo takes them
    #[command(flatten)]
    pub locking: Locking,
}

/// cargo's `--locked`, `--offline` and `--frozen`, meaning what they mean there: on `fetch`,
/// the one command that uses the network and writes atomic.lock, and on every command that
/// reads schemas through atomic.lock (which then only asserts it is up to date).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Locking {
    /// Assert that atomic.lock is up to date: fail rather than change it, or run without it
    #[arg(long, help_heading = "Manifest Options")]
    pub locked: bool,
    /// Never use the network (only `fetch` ever does: from the cache alone, then)
    #[arg(long, help_heading = "Manifest Options")]
    pub offline: bool,
    /// Equivalent to both --locked and --offline
    #[arg(long, help_heading = "Manifest Options")]
    pub frozen: bool,
}

impl Locking {
    /// Both sets of flags: given before the command, or after it.
    pub fn or(self, other: Locking) -> Locking {
        Locking {
            locked: self.locked || other.locked,
            offline: self.offline || other.offline,
            frozen: self.frozen || other.frozen,
        }
    }

    /// `--locked` or `--frozen`.
    pub fn is_locked(self) -> bool {
        self.locked || self.frozen
    }

    /// `--offline` or `--frozen`.
    pub fn is_offline(self) -> bool {
        self.offline || self.frozen
    }
}

/// What --locked, --offline and --frozen mean on a command that reads atomic.lock but never
/// writes it nor uses the network: appended to its `--help`.
macro_rules! locking_readers {
    () => {
        "

--locked (and --frozen) fail with exit 2 when atomic.lock is missing or unreadable, or does not
pin the catalog while it is enabled: what `cargo atomic fetch` would change (a schema that is
not pinned fails the run anyway). --offline changes nothing: only `fetch` uses the network."
    };
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
    #[command(after_help = concat!("\
Which schema applies: --schema, else the [[validate]] entries of atomic.toml whose globs match,
else the file's own $schema (JSON, YAML) or `#:schema path` comment (TOML), else the SchemaStore
catalog's entry for its name (once `cargo atomic fetch` has pinned it; see `schema-for`).

Examples:
  cargo atomic validate
  cargo atomic validate config/prod.yaml --schema schemas/app.schema.json
  cargo atomic validate config/*.toml --message-format short", locking_readers!()))]
    Validate {
        #[command(flatten)]
        locking: Locking,
        /// Files to validate; default: every file the [[validate]] entries name
        paths: Vec<PathBuf>,
        /// Validate every file against this schema
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Do not assert `format` (email, date-time, uri, ...): treat it as an annotation
        #[arg(long)]
        no_format_checks: bool,
    },
    /// Download every remote schema the workspace uses into the cache and pin it in atomic.lock
    #[command(after_help = "\
The only command that uses the network. It resolves --schema, the [[validate]] and [[merge]]
schemas, each file's own $schema / #:schema / `# yaml-language-server: $schema=`, the catalog
([catalog] url) and the schemas it picks for workspace files, and every $ref they reach; keeps
each body in the cache ($CARGO_ATOMIC_CACHE, else $CARGO_HOME/atomic/schemas); and writes
atomic.lock (commit it). Everything else reads the lock and the cache, offline.

As in cargo: --locked fails (exit 2, nothing written) if atomic.lock would change, --offline
never uses the network (the lock is filled from the cache only), --frozen is both.

Examples:
  cargo atomic fetch
  cargo atomic fetch --locked      # in CI: fail if atomic.lock is not up to date
  cargo atomic fetch --offline     # from the cache only")]
    Fetch {
        #[command(flatten)]
        locking: Locking,
        /// Also pin this schema (as `validate --schema` takes it)
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Download every schema again (or only URL), even those the lock pins and the cache
        /// holds; then name the files that pass under the old pins and fail under the new
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        update: Option<String>,
    },
    /// Say which schema applies to each file, and why
    #[command(after_help = concat!("\
Precedence: --schema, else the first [[validate]] entry whose globs match, else the file's own
$schema / #:schema / yaml-language-server modeline, else the catalog's first entry whose
fileMatch glob matches (once `cargo atomic fetch` has pinned the catalog).

Examples:
  cargo atomic schema-for .github/workflows/ci.yml Cargo.toml", locking_readers!()))]
    SchemaFor {
        #[command(flatten)]
        locking: Locking,
        /// The files
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Deep-merge config files left to right (RFC 7396: objects merge, null deletes, arrays and scalars replace)
    #[command(after_help = concat!("\
Sources may mix formats (a YAML base, a TOML overlay). With --schema, each error in the result is
reported where a source set the offending value.

Examples:
  cargo atomic merge config/base.yaml config/prod.yaml
  cargo atomic merge config/base.yaml config/prod.toml -o config/rendered/prod.json --schema schemas/app.schema.json
  cargo atomic merge base.json overlay.json --arrays append --to yaml", locking_readers!()))]
    Merge {
        #[command(flatten)]
        locking: Locking,
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
    /// Render every [[merge]] output and write the changed ones as one transaction
    #[command(after_help = concat!("\
Every selected output is merged from its sources and validated first; if anything is invalid,
nothing is written (exit 1). Outputs whose bytes are already right are not touched. The old bytes
of every replaced output are kept as a backup, and the manifest records the sha256 of each
output's sources and schema.

An argument is a [[merge]] name, or a file: then the entries it is a source, schema or output
of are applied (as `check FILES` checks them). Under pre-commit (PRE_COMMIT=1) every argument is
a staged file, and the exit code is 1 if a file was changed, so that the commit stops for it to
be staged.

Examples:
  cargo atomic apply
  cargo atomic apply prod staging
  cargo atomic apply config/base.yaml
  cargo atomic apply --dry-run", locking_readers!()))]
    Apply {
        #[command(flatten)]
        locking: Locking,
        /// [[merge]] entries to render, by name or by a file they read (a source, the schema);
        /// default: all
        #[arg(value_name = "NAMES|FILES")]
        names: Vec<String>,
        /// Print a unified diff of each output that would change, and write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Read-only check for CI and hooks: valid files, outputs up to date, no hand edits
    #[command(after_help = concat!("\
Checks that every file the [[validate]] entries name is valid, that every [[merge]] output is
what `apply` would write now (else `stale`, with the diff), and that every file cargo atomic wrote
still has the bytes it wrote (else `drift`). Exit 1 on any finding. Takes only a shared lock.

Given files (a hook's staged files), only what concerns them is checked: each is parsed and
validated when a schema applies, and the [[merge]] entries they belong to are compared.

With --staged, what git's index holds is checked instead of the working tree: every staged
JSON, YAML and TOML file (or the files given), at the lines of its staged text, and the outputs
they feed as the commit would hold them. This is what `hook install`'s hook runs.

Examples:
  cargo atomic check
  cargo atomic check --message-format github
  cargo atomic check config/prod.yaml config/base.yaml
  cargo atomic check --staged", locking_readers!()))]
    Check {
        #[command(flatten)]
        locking: Locking,
        /// Only these files and the [[merge]] outputs they are part of; default: everything
        files: Vec<PathBuf>,
        /// Check what is staged for commit (git's index), not the working tree
        #[arg(long)]
        staged: bool,
    },
    /// Show where a value of a merged output came from: every source that set or overrode it
    #[command(after_help = "\
KEY is a JSON pointer (/server/port) or a dotted path (server.port). FILE is a [[merge]] output
or the entry's name.

Examples:
  cargo atomic explain config/rendered/prod.json /server/port
  cargo atomic explain prod server.port --message-format json")]
    Explain {
        /// The merged output (or the [[merge]] entry's name)
        file: PathBuf,
        /// The value: a JSON pointer or a dotted path
        key: String,
    },
    /// Print the effective configuration and the file:line:col each value came from
    #[command(after_help = "\
Examples:
  cargo atomic config
  cargo atomic config --message-format json")]
    Config,
    /// Replace FILE with standard input, atomically and durably, keeping the old bytes as a backup
    #[command(after_help = concat!("\
The input is validated first against the schema `validate` would use for FILE (or --schema):
data it refuses is a finding placed in the standard input's text (exit 1), and nothing is
written. FILE then becomes a managed file: a later hand edit is `drift` until
`verify --accept FILE`.

Example:
  jq '.port = 9090' config/app.json | cargo atomic write config/app.json", locking_readers!()))]
    Write {
        #[command(flatten)]
        locking: Locking,
        /// The file to replace (or create), inside the workspace
        file: PathBuf,
        /// Validate the input against this schema instead of the one `validate` would choose
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Replace a file that has other hard links (they keep the old bytes)
        #[arg(long)]
        allow_hardlinks: bool,
    },
    /// Set values in a JSON, YAML or TOML file in place, keeping its comments and layout
    #[command(after_help = concat!("\
KEY is a dotted path (server.port, items.0, \"a.b\".c) or a JSON pointer (/server/port). A missing
key is added, with any missing objects above it; `-` (or the array's length) as an index
appends. Only the edited value's bytes change (TOML is edited through toml_edit). The edited file
is validated (schema as for `validate`) before it is written atomically, with a backup: an
invalid result writes nothing and exits 1. An edit that cannot be made exactly is refused with
exit 2: YAML aliases and anchored values that aliases repeat, merge keys, several documents;
null in TOML.

When the file is a source of [[merge]] entries, their outputs are rendered with the edit too,
and what the edit breaks there is a finding at the edited place (exit 1, nothing written).
--apply writes those outputs with the edit, as one transaction. The file stays yours: an edit
does not make it a managed file.

Examples:
  cargo atomic set config/app.toml server.port=8080 server.host=example.com
  cargo atomic set config/prod.toml server.port=8443 --apply
  cargo atomic set config/app.yaml '/tags/-=\"beta\"' 'limits={\"cpu\": 2}'
  cargo atomic set config/app.json version=1.10 --string", locking_readers!()))]
    Set {
        #[command(flatten)]
        locking: Locking,
        /// The file to edit, inside the workspace
        file: PathBuf,
        /// KEY=VALUE; VALUE is JSON when it parses as JSON (8080, true, [1], {"a": 1}), else a string
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
        /// Take every VALUE as a string, even one that parses as JSON
        #[arg(long)]
        string: bool,
        /// Validate the edited file against this schema instead of the one `validate` would choose
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Also write the [[merge]] outputs the file feeds, re-rendered, in the same transaction
        #[arg(long)]
        apply: bool,
    },
    /// Remove keys (or array elements) from a JSON, YAML or TOML file in place, keeping the rest as it is
    #[command(after_help = concat!("\
KEY is a dotted path or a JSON pointer, as for `set`. A KEY that is not in the file is an error
(exit 2) and nothing is written. The edited file is validated before it is written.

Examples:
  cargo atomic unset config/app.toml server.debug
  cargo atomic unset config/app.yaml /plugins/0 features.beta", locking_readers!()))]
    Unset {
        #[command(flatten)]
        locking: Locking,
        /// The file to edit, inside the workspace
        file: PathBuf,
        /// What to remove
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// Validate the edited file against this schema instead of the one `validate` would choose
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<PathBuf>,
        /// Also write the [[merge]] outputs the file feeds, re-rendered, in the same transaction
        #[arg(long)]
        apply: bool,
    },
    /// Compare files with the SHA-256 recorded when cargo atomic last wrote them
    #[command(after_help = "\
Managed files are those cargo atomic generates ([[merge]] outputs, `merge -o`) or is told to
manage (`write`); a file only edited with `set`/`unset` stays the user's. A managed file edited
by hand is a finding here and `drift` in `check`; --accept takes its present bytes as recorded
(audited as `accept`).

Examples:
  cargo atomic verify
  cargo atomic verify config/app.json --message-format json
  cargo atomic verify --accept config/app.json")]
    Verify {
        /// Files to check; default: every managed file
        paths: Vec<PathBuf>,
        /// Accept the present bytes of these managed files (edited by hand) as recorded
        #[arg(long, requires = "paths")]
        accept: bool,
    },
    /// Finish an interrupted transaction (every command also does this first), or undo it
    #[command(
        after_help = "Examples:\n  cargo atomic recover\n  cargo atomic recover --rollback\n  cargo atomic recover --repair   # after `check` reports damaged state"
    )]
    Recover {
        /// Undo it instead: every file gets its old bytes back
        #[arg(long)]
        rollback: bool,
        /// First set aside damaged state (a backup index line, the manifest, a journal that
        /// does not parse or names what it may not) as NAME.damaged-N, never deleting it, and
        /// rebuild the index from its sound lines and the manifest from the audit log
        #[arg(long)]
        repair: bool,
    },
    /// Rotate artifacts per [[rotate]]: rename aside, compress, prune old copies
    #[command(after_help = "\
A live file matched by an entry's `files` glob is renamed aside (never copied or truncated):
`naming = \"timestamp\"` gives FILE.20261126T001500Z-001, `\"numbered\"` FILE.1 (older copies move
up). Without max-size or max-age every run rotates. Only copies cargo atomic created (its records
in the state directory) are ever compressed or pruned; other files are never touched.

Examples:
  cargo atomic rotate
  cargo atomic rotate reports --dry-run
  cargo atomic rotate --message-format json")]
    Rotate {
        /// The [[rotate]] entries to run, by name; default: all
        names: Vec<String>,
        /// Show each action (and the rule that prunes) and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List and restore the backups of replaced and deleted files
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo atomic backups list config/app.json\n  cargo atomic backups restore config/app.json --id 3f9a1c\n  cargo atomic backups prune --dry-run"
    )]
    Backups(BackupsCommand),
    /// Install or remove a git pre-commit hook that runs `cargo atomic check` on staged files
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo atomic hook install\n  cargo atomic hook uninstall"
    )]
    Hook(HookCommand),
    /// Start a configuration: atomic.toml, an example schema, the state directory in .gitignore
    #[command(after_help = "\
Writes atomic.toml and schemas/example.schema.json from the templates, and adds the state
directory to .gitignore. Never overwrites: if a configuration exists, nothing is written.

Example:
  cargo atomic init && cargo atomic config")]
    Init,
    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  cargo atomic completions bash > ~/.local/share/bash-completion/completions/cargo-atomic
  cargo atomic completions zsh > ~/.zfunc/_cargo-atomic
  cargo atomic completions fish > ~/.config/fish/completions/cargo-atomic.fish")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Show and verify the hash-chained audit log of every change
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo atomic audit show --limit 20\n  cargo atomic audit verify"
    )]
    Audit(AuditCommand),
}

impl Command {
    /// The command's own --locked, --offline and --frozen (`None`: it takes none, and reads no
    /// schema through atomic.lock).
    pub fn locking(&self) -> Option<Locking> {
        match self {
            Command::Validate { locking, .. }
            | Command::Fetch { locking, .. }
            | Command::SchemaFor { locking, .. }
            | Command::Merge { locking, .. }
            | Command::Apply { locking, .. }
            | Command::Check { locking, .. }
            | Command::Write { locking, .. }
            | Command::Set { locking, .. }
            | Command::Unset { locking, .. } => Some(*locking),
            _ => None,
        }
    }
}

/// `hook` subcommands.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write .git/hooks/pre-commit (or into core.hooksPath); a hook cargo atomic did not write is kept unless --force
    #[command(
        after_help = "Examples:\n  cargo atomic hook install\n  cargo atomic hook install --force\n\nWith the pre-commit framework, use the atomic-check hook of .pre-commit-hooks.yaml instead."
    )]
    Install {
        /// Replace a pre-commit hook that cargo atomic did not write
        #[arg(long)]
        force: bool,
    },
    /// Remove the pre-commit hook, if cargo atomic wrote it
    #[command(after_help = "Example:\n  cargo atomic hook uninstall")]
    Uninstall,
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
    /// Remove the backups that the [backups] retention policy of atomic.toml does not keep
    #[command(after_help = "\
Each backup is listed with keep or drop and the rule behind it. The rules apply to each file's
backups separately; a backup is kept if any rule keeps it; max-total-size then drops the oldest
backups of all files until the rest fit, never the newest backup of a file. With no policy,
everything is kept.

  [backups]
  keep-last = 10             # the 10 newest of each file
  keep-within = \"30d\"        # all made within 30 days of the file's newest
  keep-daily = 7             # the newest of each of the last 7 days with backups
  keep-weekly = 4            # ... of ISO weeks (UTC)
  keep-monthly = 12          # ... of months (UTC)
  max-total-size = \"200MiB\"  # then drop the oldest until all backups fit

Examples:
  cargo atomic backups prune --dry-run
  cargo atomic backups prune --message-format json")]
    Prune {
        /// Only show what would be removed; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `cargo atomic ...` arrives as `cargo-atomic atomic ...`: drop the extra word.
pub fn normalize_args(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_some_and(|a| a == "atomic") {
        args.remove(1);
    }
    args
}

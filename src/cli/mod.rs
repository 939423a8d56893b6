//! The command-line front end: parse arguments, call `ops`, render events, choose the exit code.
//!
//! Invariant: this is the only layer that prints or exits, and it has no logic of its own.

mod args;
mod http;
mod progress;
mod render;

use std::io::Read;
use std::path::PathBuf;

use clap::Parser;

use cargo_atomic::doc::Format;
use cargo_atomic::doc::merge::ArrayStrategy;
use cargo_atomic::exit;
use cargo_atomic::ops::{
    self, ApplyRequest, AuditShowRequest, AuditVerifyRequest, CheckRequest, Error, ExplainRequest,
    MergeRequest, Outcome, RotateRequest, SetRequest, UnsetRequest, ValidateRequest, Workspace,
    WriteRequest,
};
use cargo_atomic::store::{Tool, ToolMode};

use args::{AuditCommand, BackupsCommand, Cli, Command, HookCommand};
use render::Printer;

/// Runs the tool with these arguments and returns the exit code.
pub fn run(argv: Vec<std::ffi::OsString>) -> i32 {
    let argv = args::normalize_args(argv);
    // Recorded in the audit log, as given.
    let tool = Tool {
        mode: if std::env::var_os("PRE_COMMIT").is_some_and(|v| v == "1") {
            ToolMode::Hook
        } else {
            ToolMode::Cli
        },
        // The program by its name only: where it is installed is nobody's business.
        argv: argv
            .iter()
            .enumerate()
            .map(|(i, a)| match std::path::Path::new(a).file_name() {
                Some(name) if i == 0 => name.to_string_lossy().into_owned(),
                _ => a.to_string_lossy().into_owned(),
            })
            .collect(),
        ..Tool::default()
    };
    // Recorded with backups: the command as a person would type it, without our install path.
    let command_line = std::iter::once("cargo atomic".into())
        .chain(argv.iter().skip(1).map(|a| a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            };
        }
    };
    if std::env::var_os("__CARGO_ATOMIC_TEST_PANIC").is_some() {
        // Lets the tests prove what a user sees when the tool has a bug.
        panic!("panic requested by __CARGO_ATOMIC_TEST_PANIC");
    }
    let g = &cli.global;
    let mut p = Printer::new(
        g.message_format,
        render::use_color(g.color),
        g.quiet,
        g.verbose,
    );
    let code = match dispatch(&cli, command_line, tool, &mut p) {
        Ok(code) => code,
        Err(e) => {
            if let Error::ConfigFindings { diagnostics, .. } = &e {
                for d in diagnostics {
                    cargo_atomic::event::Sink::event(
                        &mut p,
                        cargo_atomic::event::Event::Diagnostic(d.clone()),
                    );
                }
            }
            p.error(&e);
            e.exit_code()
        }
    };
    // A completion script is not a JSON stream.
    if !matches!(cli.command, Command::Completions { .. }) {
        p.close_summary(code == exit::FAILURE);
    }
    p.finish();
    code
}

fn dispatch(cli: &Cli, command_line: String, tool: Tool, p: &mut Printer) -> Result<i32, Error> {
    if let Command::Completions { shell } = &cli.command {
        let mut out = Vec::new();
        // For the `cargo-atomic` binary: cargo's own completion does not reach subcommands.
        let mut cmd = <Cli as clap::CommandFactory>::command().bin_name("cargo-atomic");
        clap_complete::generate(*shell, &mut cmd, "cargo-atomic", &mut out);
        p.out(&String::from_utf8_lossy(&out));
        return Ok(exit::SUCCESS);
    }
    let cwd = std::env::current_dir().map_err(|e| Error::Io {
        op: "read",
        path: PathBuf::from("."),
        source: e,
    })?;
    let mut ws = Workspace::discover(
        cli.global.manifest_path.as_deref(),
        cli.global.config.as_deref(),
        &cwd,
    )?;
    ws.tool = tool;
    let locking = cli
        .global
        .locking
        .or(cli.command.locking().unwrap_or_default());
    // Only `fetch` changes atomic.lock; a command that reads it asserts it is up to date.
    let reads_lock =
        cli.command.locking().is_some() && !matches!(cli.command, Command::Fetch { .. });
    if locking.is_locked() && reads_lock {
        ops::pins::require_locked(&ws)?;
    }
    let code = match &cli.command {
        Command::Validate {
            paths,
            schema,
            no_format_checks,
            ..
        } => {
            let req = ValidateRequest {
                paths: paths.clone(),
                schema: schema.clone(),
                format_checks: !no_format_checks,
                // The zero-config hook hands every staged JSON, YAML and TOML file over: one no
                // schema claims is only parsed, without a warning.
                quiet_without_schema: pre_commit(),
                say_why_empty: true,
            };
            let outcome = ops::validate(&ws, &cwd, &req, p)?;
            finish(p, Some("validation"), outcome)
        }
        Command::Fetch { schema, update, .. } => {
            let offline = locking.is_offline();
            let req = ops::FetchRequest {
                schema: schema.clone(),
                locked: locking.is_locked(),
                offline,
                update: update.is_some(),
                only: update.iter().filter(|u| !u.is_empty()).cloned().collect(),
            };
            let client: std::sync::Arc<dyn ops::Http> = if offline {
                std::sync::Arc::new(http::Offline)
            } else {
                std::sync::Arc::new(http::Client::new())
            };
            let outcome = ops::fetch(&ws, &cwd, &req, client, p)?;
            for w in &outcome.warnings {
                p.err(&format!("warning: {w}\n"));
            }
            for url in &outcome.changed {
                let what = match outcome.pinned.get(url) {
                    Some(sha) => format!("     Pinned {url} sha256:{}", sha.short(12)),
                    None => format!("    Removed {url}"),
                };
                if !cli.global.quiet {
                    p.err(&format!("{what}\n"));
                }
            }
            for file in &outcome.now_failing {
                p.err(&format!(
                    "warning: `{}` passed under the old pins and fails under the new ones (`cargo atomic validate {}` says why)\n",
                    file.display(),
                    file.display()
                ));
            }
            if !cli.global.quiet {
                p.err(&format!(
                    "    Finished fetching: {} schema{} pinned, {} downloaded, {} changed\n",
                    outcome.pinned.len(),
                    if outcome.pinned.len() == 1 { "" } else { "s" },
                    outcome.downloaded,
                    outcome.changed.len()
                ));
            }
            exit::SUCCESS
        }
        Command::SchemaFor { files, .. } => {
            for c in ops::schema_for(&ws, &cwd, files)? {
                let why = match &c.reason {
                    ops::SchemaReason::Config { index, glob } => {
                        format!("[[validate]] entry {} (glob `{glob}`)", index + 1)
                    }
                    ops::SchemaReason::InFile => "the file's own $schema".to_owned(),
                    ops::SchemaReason::Catalog { name, glob } => {
                        format!("catalog entry `{name}` (glob `{glob}`)")
                    }
                    ops::SchemaReason::None => "no schema applies".to_owned(),
                };
                let pin = match (&c.sha256, c.schema.contains("://")) {
                    (Some(sha), _) => format!(" sha256:{sha}"),
                    (None, true) => " (not pinned: run `cargo atomic fetch`)".to_owned(),
                    (None, false) => String::new(),
                };
                p.out(&format!("{}\t{}\t{why}{pin}\n", c.file.display(), c.schema));
            }
            exit::SUCCESS
        }
        Command::Merge {
            sources,
            output,
            schema,
            arrays,
            to,
            ..
        } => {
            let req = MergeRequest {
                sources: sources.clone(),
                output: output.clone(),
                schema: schema.clone(),
                arrays: match arrays {
                    args::Arrays::Replace => ArrayStrategy::Replace,
                    args::Arrays::Append => ArrayStrategy::Append,
                },
                to: to.map(|t| match t {
                    args::To::Json => Format::Json,
                    args::To::Yaml => Format::Yaml,
                    args::To::Toml => Format::Toml,
                }),
                command: command_line,
            };
            let (outcome, text) = ops::merge(&ws, &cwd, &req, p)?;
            if let Some(text) = text {
                // Standard output is the merged document, not a JSON-lines stream.
                p.out(&text);
                p.no_summary();
            }
            finish(p, None, outcome)
        }
        Command::Apply { names, dry_run, .. } => {
            // Under pre-commit the arguments are the staged files; elsewhere names or files.
            let (names, files) = if pre_commit() {
                (Vec::new(), names.iter().map(PathBuf::from).collect())
            } else {
                ops::split_targets(&ws, &cwd, names)
            };
            let req = ApplyRequest {
                names,
                files,
                dry_run: *dry_run,
                command: command_line,
            };
            let outcome = ops::apply(&ws, &cwd, &req, p)?;
            let code = finish(p, None, outcome);
            if code == exit::SUCCESS && pre_commit() && outcome.written > 0 && !dry_run {
                p.err("note: cargo atomic changed files; stage them and commit again\n");
                exit::FINDINGS
            } else {
                code
            }
        }
        Command::Check { files, staged, .. } => {
            let req = CheckRequest {
                files: files.clone(),
                staged: *staged,
            };
            let outcome = ops::check(&ws, &cwd, &req, p)?;
            finish(p, Some("check"), outcome)
        }
        Command::Hook(HookCommand::Install { force }) => {
            let action = ops::install_hook(&ws, *force)?;
            p.hook(&action);
            exit::SUCCESS
        }
        Command::Hook(HookCommand::Uninstall) => {
            let action = ops::uninstall_hook(&ws)?;
            p.hook(&action);
            exit::SUCCESS
        }
        Command::Init => {
            let outcome = ops::init(&ws, command_line, p)?;
            finish(p, None, outcome)
        }
        Command::Completions { .. } => unreachable!("handled before the workspace is found"),
        Command::Explain { file, key } => {
            let req = ExplainRequest {
                file: file.clone(),
                key: key.clone(),
            };
            let (outcome, explanation) = ops::explain(&ws, &cwd, &req, p)?;
            if let Some(e) = explanation {
                p.explanation(&e);
            }
            finish(p, None, outcome)
        }
        Command::Config => {
            let report = ops::effective_config(&ws)?;
            p.config(&report);
            exit::SUCCESS
        }
        Command::Write {
            file,
            schema,
            allow_hardlinks,
            ..
        } => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::Io {
                    op: "read",
                    path: PathBuf::from("<stdin>"),
                    source: e,
                })?;
            let req = WriteRequest {
                path: ws.relative(&cwd, file)?,
                bytes,
                allow_hardlinks: *allow_hardlinks,
                command: command_line,
                schema: schema.as_ref().map(|s| cwd.join(s)),
            };
            let outcome = ops::write(&ws, req, p)?;
            finish(p, None, outcome)
        }
        Command::Set {
            file,
            assignments,
            string,
            schema,
            apply,
            ..
        } => {
            let req = SetRequest {
                file: file.clone(),
                assignments: assignments.clone(),
                string: *string,
                schema: schema.clone(),
                command: command_line,
                apply: *apply,
            };
            let outcome = ops::set(&ws, &cwd, &req, p)?;
            finish(p, None, outcome)
        }
        Command::Unset {
            file,
            keys,
            schema,
            apply,
            ..
        } => {
            let req = UnsetRequest {
                file: file.clone(),
                keys: keys.clone(),
                schema: schema.clone(),
                command: command_line,
                apply: *apply,
            };
            let outcome = ops::unset(&ws, &cwd, &req, p)?;
            finish(p, None, outcome)
        }
        Command::Verify { paths, accept } => {
            let paths = paths
                .iter()
                .map(|f| ws.relative(&cwd, f))
                .collect::<Result<Vec<_>, _>>()?;
            if *accept {
                let outcome = ops::accept(&ws, &paths, command_line, p)?;
                if p.format != args::MessageFormat::Json {
                    let n = outcome.files;
                    let files = if n == 1 { "file" } else { "files" };
                    p.status(
                        "Accepted",
                        &format!(
                            "{n} {files}: the present bytes are recorded (audited as `accept`)"
                        ),
                    );
                }
                return Ok(finish(p, None, outcome));
            }
            let outcome = ops::verify(&ws, &paths, p)?;
            finish(p, Some("verification"), outcome)
        }
        Command::Recover { rollback, repair } => {
            let outcome = ops::recover(&ws, *rollback, *repair, p)?;
            if outcome.files == 0 && p.format != args::MessageFormat::Json && !p.quiet() {
                p.err("     Nothing to recover: no interrupted transaction\n");
            }
            finish(p, None, outcome)
        }
        Command::Rotate { names, dry_run } => {
            let req = RotateRequest {
                names: names.clone(),
                dry_run: *dry_run,
                command: command_line,
            };
            let outcome = ops::rotate(&ws, &req, p)?;
            finish(p, Some("rotation"), outcome)
        }
        Command::Backups(BackupsCommand::List { path }) => {
            let path = path.as_ref().map(|f| ws.relative(&cwd, f)).transpose()?;
            let records = ops::list_backups(&ws, path.as_deref(), p)?;
            p.backups(&records);
            exit::SUCCESS
        }
        Command::Backups(BackupsCommand::Prune { dry_run }) => {
            let req = ops::PruneRequest {
                dry_run: *dry_run,
                command: command_line,
                now: None,
            };
            let outcome = ops::prune(&ws, &req, p)?;
            finish(p, None, outcome)
        }
        Command::Backups(BackupsCommand::Restore { path, id }) => {
            let path = ws.relative(&cwd, path)?;
            let outcome = ops::restore(&ws, &path, id.as_deref(), command_line, p)?;
            finish(p, None, outcome)
        }
        Command::Audit(AuditCommand::Show { limit, path, since }) => {
            let req = AuditShowRequest {
                limit: *limit,
                path: path.as_ref().map(|f| ws.relative(&cwd, f)).transpose()?,
                since: since.clone(),
            };
            let records = ops::audit_show(&ws, &req, p)?;
            p.audit_records(&records);
            exit::SUCCESS
        }
        Command::Audit(AuditCommand::Verify {
            expect_head,
            deep,
            repair,
        }) => {
            let req = AuditVerifyRequest {
                expect_head: expect_head.clone(),
                deep: *deep,
                repair: *repair,
            };
            let outcome = ops::audit_verify(&ws, &req, p)?;
            finish(p, None, outcome)
        }
    };
    Ok(code)
}

/// Run by the pre-commit framework, which sets `PRE_COMMIT=1`.
fn pre_commit() -> bool {
    std::env::var_os("PRE_COMMIT").is_some_and(|v| v == "1")
}

fn finish(p: &mut Printer, verb: Option<&str>, outcome: Outcome) -> i32 {
    match verb {
        Some(verb) => p.summary(verb, &outcome),
        None => p.machine_summary(&outcome),
    }
    outcome.exit_code()
}

//! The command-line front end: parse arguments, call `ops`, render events, choose the exit code.
//!
//! Invariant: this is the only layer that prints or exits, and it has no logic of its own.

mod args;
mod render;

use std::io::Read;
use std::path::PathBuf;

use clap::Parser;

use cargo_atomic::doc::Format;
use cargo_atomic::doc::merge::ArrayStrategy;
use cargo_atomic::exit;
use cargo_atomic::ops::{
    self, AuditShowRequest, AuditVerifyRequest, Error, MergeRequest, Outcome, ValidateRequest,
    Workspace, WriteRequest,
};
use cargo_atomic::store::{Tool, ToolMode};

use args::{AuditCommand, BackupsCommand, Cli, Command};
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
    p.finish();
    code
}

fn dispatch(cli: &Cli, command_line: String, tool: Tool, p: &mut Printer) -> Result<i32, Error> {
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
    let code = match &cli.command {
        Command::Validate {
            paths,
            schema,
            no_format_checks,
        } => {
            let req = ValidateRequest {
                paths: paths.clone(),
                schema: schema.clone(),
                format_checks: !no_format_checks,
            };
            let outcome = ops::validate(&ws, &cwd, &req, p)?;
            finish(p, Some("validation"), outcome)
        }
        Command::Merge {
            sources,
            output,
            schema,
            arrays,
            to,
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
                p.out(&text);
            }
            finish(p, None, outcome)
        }
        Command::Write {
            file,
            allow_hardlinks,
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
            };
            let outcome = ops::write(&ws, req, p)?;
            finish(p, None, outcome)
        }
        Command::Verify { paths } => {
            let paths = paths
                .iter()
                .map(|f| ws.relative(&cwd, f))
                .collect::<Result<Vec<_>, _>>()?;
            let outcome = ops::verify(&ws, &paths, p)?;
            finish(p, Some("verification"), outcome)
        }
        Command::Recover { rollback } => {
            let outcome = ops::recover(&ws, *rollback, p)?;
            if outcome.files == 0 && p.format != args::MessageFormat::Json && !p.quiet {
                p.err("     Nothing to recover: no interrupted transaction\n");
            }
            finish(p, None, outcome)
        }
        Command::Backups(BackupsCommand::List { path }) => {
            let path = path.as_ref().map(|f| ws.relative(&cwd, f)).transpose()?;
            let records = ops::list_backups(&ws, path.as_deref(), p)?;
            p.backups(&records);
            exit::SUCCESS
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
            ops::audit_verify(&ws, &req, p)?.exit_code()
        }
    };
    Ok(code)
}

fn finish(p: &mut Printer, verb: Option<&str>, outcome: Outcome) -> i32 {
    if let Some(verb) = verb {
        p.summary(verb, &outcome);
    }
    outcome.exit_code()
}

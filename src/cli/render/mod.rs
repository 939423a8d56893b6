//! Rendering: the only place that writes to the terminal. A [`Printer`] takes the events of the
//! lower layers and what the CLI itself reports, counts them, and hands each to the chosen
//! [`Format`]: `human` (rustc-style text on stderr), `short` (one line per finding), `json`
//! (JSON lines on stdout), `github` (workflow commands) or `sarif` (one log at the end). A closed
//! pipe stops output quietly. `tables` holds the listings every format but `json` shows as text.

mod github;
mod human;
mod json;
mod sarif;
mod short;
mod tables;

use std::io::{self, IsTerminal, Write};

use cargo_atomic::diagnostic::Severity;
use cargo_atomic::diagnostic::style::{self, GREEN};
use cargo_atomic::event::{Event, Sink};
use cargo_atomic::ops::{ConfigReport, Explanation, HookAction, Outcome};
use cargo_atomic::store::{AuditRecord, BackupRecord};

use super::args::{ColorWhen, MessageFormat};
use super::progress::ProgressDisplay;

/// Decides colour once, from the flag, then `CARGO_TERM_COLOR`, then `NO_COLOR`, then whether
/// stderr is a terminal.
pub fn use_color(flag: Option<ColorWhen>) -> bool {
    let env = std::env::var("CARGO_TERM_COLOR").ok();
    let when = flag.or(match env.as_deref() {
        Some("always") => Some(ColorWhen::Always),
        Some("never") => Some(ColorWhen::Never),
        _ => None,
    });
    match when {
        Some(ColorWhen::Always) => true,
        Some(ColorWhen::Never) => false,
        _ => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stderr().is_terminal()
        }
    }
}

/// What is shown: an event of a lower layer, or something the CLI reports itself.
// Built for one call and moved, never stored: boxing the event would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Report<'a> {
    /// An event (never `Progress`: the [`Printer`] shows that, in every format alike).
    Event(Event),
    /// The last line of a command that looked at files (`noun`: "validation", ...).
    Summary { noun: &'a str, outcome: &'a Outcome },
    /// The end of a run: the `summary` line of a JSON stream, once; nothing elsewhere.
    End(&'a Outcome),
    /// Standard output carried data (a merged document), not JSON lines: no `summary` line.
    DataOnStdout,
    /// A failure, as its error chain (outermost first).
    Error(&'a [String]),
    /// `explain`.
    Explanation(&'a Explanation),
    /// `hook install` / `hook uninstall`.
    Hook(&'a HookAction),
    /// `config`.
    Config(&'a ConfigReport),
    /// `backups list`.
    Backups(&'a [BackupRecord]),
    /// `audit show`.
    AuditRecords(&'a [AuditRecord]),
}

/// One output format. Every format but `json` shows everything except findings as `human`
/// does, by handing it to [`human::report`].
trait Format {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>);
    /// Ends the output (SARIF is one document, printed once everything is known).
    fn finish(&mut self, _t: &mut Terminal) {}
}

/// The terminal: where text goes, how it is painted, and whether the reader went away.
pub(super) struct Terminal {
    color: bool,
    quiet: bool,
    verbose: u8,
    pipe_closed: bool,
    /// The progress bar (or plain progress lines) on stderr.
    progress: ProgressDisplay,
}

impl Terminal {
    fn paint(&self, style: &str, text: &str) -> String {
        style::paint(self.color, style, text)
    }

    fn write_to(&mut self, stdout: bool, text: &str) {
        if self.pipe_closed {
            return;
        }
        let r = self.progress.suspend(|| {
            if stdout {
                let mut o = io::stdout().lock();
                o.write_all(text.as_bytes()).and_then(|()| o.flush())
            } else {
                io::stderr().lock().write_all(text.as_bytes())
            }
        });
        if let Err(e) = r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.pipe_closed = true;
        }
    }

    /// Data on stdout (a listing, JSON lines).
    fn out(&mut self, text: &str) {
        self.write_to(true, text);
    }

    /// Human text on stderr.
    fn err(&mut self, text: &str) {
        self.write_to(false, text);
    }

    /// A cargo-style status line: a right-aligned green verb, then the message.
    fn status(&mut self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("{} {message}\n", self.paint(GREEN, &format!("{verb:>12}")));
        self.err(&line);
    }
}

/// Writes events and reports in the chosen format.
pub struct Printer {
    pub format: MessageFormat,
    term: Terminal,
    shown: Box<dyn Format>,
    /// What the events so far counted, for a command that returns no [`Outcome`].
    tally: Outcome,
}

impl Printer {
    pub fn new(format: MessageFormat, color: bool, quiet: bool, verbose: u8) -> Self {
        let shown: Box<dyn Format> = match format {
            MessageFormat::Human => Box::new(human::Human),
            MessageFormat::Short => Box::new(short::Short),
            MessageFormat::Json => Box::new(json::Json::default()),
            MessageFormat::Github => Box::new(github::Github),
            MessageFormat::Sarif => Box::new(sarif::Sarif::default()),
        };
        let progress = ProgressDisplay::new(
            !quiet && matches!(format, MessageFormat::Human | MessageFormat::Short),
            color,
        );
        Printer {
            format,
            term: Terminal {
                color,
                quiet,
                verbose,
                pipe_closed: false,
                progress,
            },
            shown,
            tally: Outcome::default(),
        }
    }

    /// `--quiet` was given.
    pub fn quiet(&self) -> bool {
        self.term.quiet
    }

    /// Data on stdout (a listing, a completion script).
    pub fn out(&mut self, text: &str) {
        self.term.out(text);
    }

    /// Human text on stderr.
    pub fn err(&mut self, text: &str) {
        self.term.err(text);
    }

    /// A cargo-style status line: a right-aligned green verb, then the message.
    pub fn status(&mut self, verb: &str, message: &str) {
        self.term.status(verb, message);
    }

    fn report(&mut self, report: Report<'_>) {
        self.shown.report(&mut self.term, report);
    }

    /// Ends the output.
    pub fn finish(&mut self) {
        self.term.progress.clear();
        self.shown.finish(&mut self.term);
    }

    /// The last line of a command that looked at files.
    pub fn summary(&mut self, noun: &str, outcome: &Outcome) {
        self.report(Report::Summary { noun, outcome });
    }

    /// The `summary` line that ends every JSON stream (nothing in other formats).
    pub fn machine_summary(&mut self, outcome: &Outcome) {
        self.report(Report::End(outcome));
    }

    /// Standard output carries data (a merged document), not JSON lines: no `summary`.
    pub fn no_summary(&mut self) {
        self.report(Report::DataOnStdout);
    }

    /// Ends a JSON stream that has no `summary` yet (a command that returns no [`Outcome`],
    /// or one that could not run: `failed` counts that as an error) with one made from the
    /// events it reported.
    pub fn close_summary(&mut self, failed: bool) {
        let mut tally = self.tally;
        tally.errors += usize::from(failed);
        self.report(Report::End(&tally));
    }

    /// A failure: the whole error chain, then (for JSON) a machine-readable line too.
    pub fn error(&mut self, err: &dyn std::error::Error) {
        let mut chain = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = cur {
            chain.push(e.to_string());
            cur = e.source();
        }
        self.report(Report::Error(&chain));
    }

    /// `explain`: the final value, then each source that set it, oldest first.
    pub fn explanation(&mut self, e: &Explanation) {
        self.report(Report::Explanation(e));
    }

    /// What `hook install` or `hook uninstall` did.
    pub fn hook(&mut self, action: &HookAction) {
        self.report(Report::Hook(action));
    }

    /// `config`: every value with the place it came from.
    pub fn config(&mut self, r: &ConfigReport) {
        self.report(Report::Config(r));
    }

    /// `backups list`: a table on stdout, or JSON lines.
    pub fn backups(&mut self, records: &[BackupRecord]) {
        self.report(Report::Backups(records));
    }

    /// `audit show`: a table on stdout (oldest first, newest last), or JSON lines.
    pub fn audit_records(&mut self, records: &[AuditRecord]) {
        self.report(Report::AuditRecords(records));
    }
}

impl Sink for Printer {
    fn event(&mut self, event: Event) {
        match &event {
            Event::Diagnostic(d) if d.severity == Severity::Error => self.tally.errors += 1,
            Event::Diagnostic(_) => self.tally.warnings += 1,
            Event::FileWritten { .. } | Event::FileDeleted { .. } => {
                self.tally.files += 1;
                self.tally.written += 1;
            }
            Event::Verified { .. } | Event::FileUnchanged { .. } => self.tally.files += 1,
            _ => {}
        }
        if let Event::Progress { task, done, total } = &event {
            // Not part of the JSON lines: it is for people watching.
            if let Some(line) = self.term.progress.update(task, *done, *total) {
                self.term.err(&line);
            }
            return;
        }
        self.report(Report::Event(event));
    }
}

//! Rendering events: human text (stderr), short lines, JSON lines or GitHub commands (stdout).
//!
//! The only place that writes to the terminal. A closed pipe stops output quietly.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use cargo_atomic::diagnostic::{Diagnostic, Severity};
use cargo_atomic::event::{Event, RecoveryAction, Sink};
use cargo_atomic::ops::Outcome;
use cargo_atomic::store::{AuditRecord, BackupRecord, FileState};

use super::args::{ColorWhen, MessageFormat};

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

/// Writes events in the chosen format, remembering whether the reader went away.
pub struct Printer {
    pub format: MessageFormat,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pipe_closed: bool,
    /// SARIF results, printed as one log by [`Printer::finish`].
    sarif: Vec<serde_json::Value>,
}

const GREEN: &str = "\x1b[1;32m";
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub fn new(format: MessageFormat, color: bool, quiet: bool, verbose: u8) -> Self {
        Printer {
            format,
            color,
            quiet,
            verbose,
            pipe_closed: false,
            sarif: Vec::new(),
        }
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn write_to(&mut self, stdout: bool, text: &str) {
        if self.pipe_closed {
            return;
        }
        let r = if stdout {
            let mut o = io::stdout().lock();
            o.write_all(text.as_bytes()).and_then(|()| o.flush())
        } else {
            io::stderr().lock().write_all(text.as_bytes())
        };
        if let Err(e) = r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.pipe_closed = true;
        }
    }

    /// Data on stdout (a listing, JSON lines).
    pub fn out(&mut self, text: &str) {
        self.write_to(true, text);
    }

    /// Human text on stderr.
    pub fn err(&mut self, text: &str) {
        self.write_to(false, text);
    }

    fn json(&mut self, value: &impl serde::Serialize) {
        let mut line = serde_json::to_string(value).expect("events serialize");
        line.push('\n');
        self.out(&line);
    }

    /// A cargo-style status line: a right-aligned green verb, then the message.
    fn status(&mut self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("{} {message}\n", self.paint(GREEN, &format!("{verb:>12}")));
        self.err(&line);
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        let (word, style) = match d.severity {
            Severity::Error => ("error", RED),
            Severity::Warning => ("warning", YELLOW),
        };
        let at = location(d);
        match self.format {
            MessageFormat::Json => self.json(&Event::Diagnostic(d.clone())),
            MessageFormat::Github => {
                let mut props = format!("file={}", escape_property(&d.file.to_string_lossy()));
                if let Some(l) = d.line {
                    let _ = write!(props, ",line={l}");
                }
                if let Some(c) = d.column {
                    let _ = write!(props, ",col={c}");
                }
                let _ = write!(props, ",title={}", escape_property(d.code.as_str()));
                let line = format!("::{word} {props}::{}\n", escape_data(&d.message));
                self.out(&line);
            }
            MessageFormat::Short => {
                let line = format!(
                    "{at}: {}: {}\n",
                    self.paint(style, &format!("{word}[{}]", d.code.as_str())),
                    d.message
                );
                self.err(&line);
            }
            MessageFormat::Sarif => self.sarif.push(sarif_result(d)),
            MessageFormat::Human => {
                let s = self.human(d, style, word, &at);
                self.err(&s);
            }
        }
    }

    /// rustc-style: header, `--> file:line:col`, the source lines with the span underlined,
    /// then notes.
    fn human(&self, d: &Diagnostic, style: &str, word: &str, at: &str) -> String {
        let mut s = format!(
            "{}{}\n",
            self.paint(style, &format!("{word}[{}]", d.code.as_str())),
            self.paint(BOLD, &format!(": {}", d.message)),
        );
        let width = d.source.as_ref().map_or(1, |src| {
            (src.first_line as usize + src.lines.len())
                .to_string()
                .len()
        });
        let pad = " ".repeat(width);
        let bar = self.paint(CYAN, "|");
        let _ = writeln!(s, "{pad}{} {at}", self.paint(CYAN, "-->"));
        if let (Some(src), Some(line), Some(col)) = (&d.source, d.line, d.column) {
            let _ = writeln!(s, "{pad} {bar}");
            for (i, text) in src.lines.iter().enumerate() {
                let n = src.first_line as usize + i;
                let _ = writeln!(
                    s,
                    "{} {bar} {text}",
                    self.paint(CYAN, &format!("{n:>width$}"))
                );
                let len = text.chars().count();
                let from = if n == line as usize {
                    col as usize
                } else {
                    text.chars().take_while(|c| c.is_whitespace()).count() + 1
                };
                let to = match (d.end_line, d.end_column) {
                    (Some(el), Some(ec)) if el as usize == n => ec as usize,
                    _ => len + 1,
                }
                .max(from + 1);
                let marks = "^".repeat(to - from);
                let _ = writeln!(
                    s,
                    "{pad} {bar} {}{}",
                    " ".repeat(from - 1),
                    self.paint(style, &marks)
                );
            }
            let _ = writeln!(s, "{pad} {bar}");
        }
        if let Some(r) = &d.related {
            let _ = writeln!(
                s,
                "{pad} {} {}: {}:{}:{}",
                self.paint(CYAN, "= note:"),
                r.message,
                d.file.display(),
                r.line,
                r.column
            );
        }
        if let Some(sp) = &d.schema_path {
            let _ = writeln!(s, "{pad} {} schema path {sp}", self.paint(CYAN, "= note:"));
        }
        for n in &d.notes {
            let _ = writeln!(s, "{pad} {} {n}", self.paint(CYAN, "= note:"));
        }
        s.push('\n');
        s
    }

    /// Ends the output: SARIF is one document, printed once everything is known.
    pub fn finish(&mut self) {
        if self.format != MessageFormat::Sarif {
            return;
        }
        let mut rules: Vec<&str> = self
            .sarif
            .iter()
            .filter_map(|r| r["ruleId"].as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        let log = serde_json::json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "cargo-atomic",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
                }},
                "results": self.sarif,
            }],
        });
        let mut text = serde_json::to_string_pretty(&log).expect("a SARIF log serializes");
        text.push('\n');
        self.out(&text);
    }

    /// The last line of a command that looked at files.
    pub fn summary(&mut self, noun: &str, outcome: &Outcome) {
        match self.format {
            MessageFormat::Json => self.json(&serde_json::json!({
                "reason": "summary",
                "files": outcome.files,
                "errors": outcome.errors + outcome.fatal,
                "warnings": outcome.warnings,
                "written": outcome.written,
            })),
            _ if outcome.errors + outcome.fatal > 0 => {
                let n = outcome.errors + outcome.fatal;
                let msg = format!(
                    "{noun} of {} {} found {n} error{}\n",
                    outcome.files,
                    plural(outcome.files, "file"),
                    if n == 1 { "" } else { "s" }
                );
                let line = format!(
                    "{}{}",
                    self.paint(RED, "error"),
                    self.paint(BOLD, &format!(": {msg}"))
                );
                self.err(&line);
            }
            _ => self.status(
                "Finished",
                &format!(
                    "{noun} of {} {}",
                    outcome.files,
                    plural(outcome.files, "file")
                ),
            ),
        }
    }

    /// A failure: the whole error chain, then (for JSON) a machine-readable line too.
    pub fn error(&mut self, err: &dyn std::error::Error) {
        let mut chain = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = cur {
            chain.push(e.to_string());
            cur = e.source();
        }
        if self.format == MessageFormat::Json {
            self.json(&serde_json::json!({"reason": "error", "message": chain.join(": ")}));
        }
        let mut s = format!(
            "{}{}\n",
            self.paint(RED, "error"),
            self.paint(BOLD, &format!(": {}", chain[0]))
        );
        if chain.len() > 1 {
            s.push_str("\nCaused by:\n");
            for c in &chain[1..] {
                let _ = writeln!(s, "  {c}");
            }
        }
        self.err(&s);
    }

    /// `backups list`: a table on stdout, or JSON lines.
    pub fn backups(&mut self, records: &[BackupRecord]) {
        if self.format == MessageFormat::Json {
            for r in records {
                let mut v = serde_json::to_value(r).expect("records serialize");
                v.as_object_mut()
                    .expect("a record is an object")
                    .shift_insert(0, "reason".into(), "backup".into());
                self.json(&v);
            }
            return;
        }
        if records.is_empty() {
            self.status("Empty", "no backups recorded");
            return;
        }
        let mut s = format!(
            "{:<12}  {:<24}  {:>10}  {:<12}  {:<8}  {}\n",
            "ID", "TIME", "SIZE", "SHA256", "OP", "PATH"
        );
        for r in records {
            let _ = writeln!(
                s,
                "{:<12}  {:<24}  {:>10}  {:<12}  {:<8}  {}",
                r.id,
                r.time,
                r.size,
                r.sha256.short(12),
                r.op,
                r.path.display()
            );
        }
        self.out(&s);
    }
}

impl Printer {
    /// `audit show`: a table on stdout (oldest first, newest last), or JSON lines.
    pub fn audit_records(&mut self, records: &[AuditRecord]) {
        if self.format == MessageFormat::Json {
            for r in records {
                let mut v = serde_json::to_value(r).expect("records serialize");
                v.as_object_mut()
                    .expect("a record is an object")
                    .shift_insert(0, "reason".into(), "audit-record".into());
                self.json(&v);
            }
            return;
        }
        if records.is_empty() {
            self.status("Empty", "no audit records");
            return;
        }
        let short = |s: &Option<FileState>| s.map_or("-".to_owned(), |s| s.sha256.short(8));
        let mut s = format!(
            "{:<24}  {:<28}  {:<8}  {:<19}  {}\n",
            "TIME", "ACTOR", "OP", "CHANGE", "PATH"
        );
        for r in records {
            let mut actor = r.actor.email.clone().unwrap_or_else(|| {
                let user = r.actor.user.as_deref().unwrap_or("?");
                match &r.actor.host {
                    Some(h) => format!("{user}@{h}"),
                    None => user.to_owned(),
                }
            });
            if let Some(ci) = &r.actor.ci {
                let _ = write!(actor, " ({ci})");
            }
            let change = format!("{} → {}", short(&r.before), short(&r.after));
            let _ = writeln!(
                s,
                "{:<24}  {:<28}  {:<8}  {:<19}  {}",
                r.ts,
                actor,
                r.op,
                change,
                r.path.as_deref().unwrap_or("")
            );
        }
        self.out(&s);
    }
}

impl Sink for Printer {
    fn event(&mut self, event: Event) {
        if let Event::Diagnostic(d) = &event {
            self.diagnostic(d);
            return;
        }
        if self.format == MessageFormat::Json {
            self.json(&event);
            return;
        }
        match event {
            Event::LockWait { pid } => {
                let who = pid.map_or_else(|| "another process".to_owned(), |p| format!("pid {p}"));
                let line = format!(
                    "{} for the store lock held by {who}\n",
                    self.paint(CYAN, &format!("{:>12}", "Waiting"))
                );
                self.err(&line); // shown even under --quiet: otherwise a wait looks like a hang
            }
            Event::Recovered {
                txid,
                action,
                files,
            } => {
                let what = match action {
                    RecoveryAction::RolledForward => "finished",
                    RecoveryAction::RolledBack => "rolled back",
                    RecoveryAction::Discarded => "discarded (it had not committed)",
                };
                self.status(
                    "Recovered",
                    &format!(
                        "interrupted transaction {txid}: {what}, {} {}",
                        files.len(),
                        plural(files.len(), "file")
                    ),
                );
            }
            Event::FileWritten {
                path,
                bytes,
                backup,
                ..
            } => {
                let kept = backup
                    .map(|b| format!("; old bytes kept as backup {}", b.short(12)))
                    .unwrap_or_default();
                self.status(
                    "Written",
                    &format!("{} ({bytes} bytes{kept})", path.display()),
                );
            }
            Event::FileDeleted { path, backup } => {
                let kept = backup
                    .map(|b| format!("; old bytes kept as backup {}", b.short(12)))
                    .unwrap_or_default();
                self.status("Deleted", &format!("{}{kept}", path.display()));
            }
            Event::FileUnchanged { path, .. } => {
                self.status(
                    "Unchanged",
                    &format!("{} (same bytes; not touched)", path.display()),
                );
            }
            Event::Verified { path, sha256 } => {
                if self.verbose > 0 {
                    self.status(
                        "Verified",
                        &format!("{} ({})", path.display(), sha256.short(12)),
                    );
                }
            }
            Event::AuditVerified {
                records,
                head,
                errors,
            } => {
                if errors > 0 {
                    let line = format!(
                        "{}{}",
                        self.paint(RED, "error"),
                        self.paint(
                            BOLD,
                            &format!(
                                ": audit verification found {} ({} verified)\n",
                                plural_n(errors, "problem"),
                                plural_n(records as usize, "record")
                            )
                        )
                    );
                    self.err(&line);
                } else {
                    let head = head.map(|h| format!("; head {h}")).unwrap_or_default();
                    self.status(
                        "Verified",
                        &format!("audit log: {}{head}", plural_n(records as usize, "record")),
                    );
                }
            }
            Event::Diagnostic(_) => unreachable!("handled above"),
        }
    }
}

fn plural_n(n: usize, word: &str) -> String {
    format!("{n} {}", plural(n, word))
}

fn location(d: &Diagnostic) -> String {
    let mut s = d.file.display().to_string();
    if let Some(n) = d.document.filter(|&n| n > 0 || d.line.is_none()) {
        let _ = write!(s, "#{n}");
    }
    if let Some(l) = d.line {
        let _ = write!(s, ":{l}");
        if let Some(c) = d.column {
            let _ = write!(s, ":{c}");
        }
    }
    s
}

fn sarif_result(d: &Diagnostic) -> serde_json::Value {
    let mut region = serde_json::Map::new();
    for (k, v) in [
        ("startLine", d.line),
        ("startColumn", d.column),
        ("endLine", d.end_line),
        ("endColumn", d.end_column),
    ] {
        if let Some(v) = v {
            region.insert(k.into(), v.into());
        }
    }
    let mut location = serde_json::json!({
        "physicalLocation": {"artifactLocation": {"uri": d.file.to_string_lossy()}}
    });
    if !region.is_empty() {
        location["physicalLocation"]["region"] = region.into();
    }
    let mut text = d.message.clone();
    if let Some(sp) = &d.schema_path {
        text.push_str(&format!(" (schema path {sp})"));
    }
    serde_json::json!({
        "ruleId": d.code.as_str(),
        "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": {"text": text},
        "locations": [location],
    })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

// GitHub workflow command escaping.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

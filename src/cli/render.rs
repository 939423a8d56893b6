//! Rendering events: human text (stderr), short lines, JSON lines or GitHub commands (stdout).
//!
//! The only place that writes to the terminal. A closed pipe stops output quietly.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use cargo_atomic::diagnostic::style::{self, BOLD, CYAN, GREEN, RED, YELLOW};
use cargo_atomic::diagnostic::{Diagnostic, Severity, render_diff};
use cargo_atomic::event::{BackupDecision, Event, RecoveryAction, Sink};
use cargo_atomic::ops::{ConfigReport, Explanation, HookAction, Outcome, Step};
use cargo_atomic::store::{AuditRecord, BackupRecord, FileState};

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

/// Writes events in the chosen format, remembering whether the reader went away.
pub struct Printer {
    pub format: MessageFormat,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pipe_closed: bool,
    /// SARIF results, printed as one log by [`Printer::finish`].
    sarif: Vec<serde_json::Value>,
    /// The progress bar (or plain progress lines) on stderr.
    progress: ProgressDisplay,
    /// What the events so far counted, for a command that returns no [`Outcome`].
    tally: Outcome,
    /// A `summary` line was printed: a JSON stream ends with exactly one.
    summarized: bool,
}

impl Printer {
    pub fn new(format: MessageFormat, color: bool, quiet: bool, verbose: u8) -> Self {
        Printer {
            format,
            color,
            quiet,
            verbose,
            pipe_closed: false,
            sarif: Vec::new(),
            tally: Outcome::default(),
            summarized: false,
            progress: ProgressDisplay::new(
                !quiet && matches!(format, MessageFormat::Human | MessageFormat::Short),
                color,
            ),
        }
    }

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
    pub fn status(&mut self, verb: &str, message: &str) {
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
        let at = d.location();
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
                self.out(&line);
            }
            MessageFormat::Sarif => self.sarif.push(sarif_result(d)),
            MessageFormat::Human => {
                let s = d.to_human_with(self.color, self.verbose > 0);
                self.err(&s);
            }
        }
    }

    /// Ends the output: SARIF is one document, printed once everything is known.
    pub fn finish(&mut self) {
        self.progress.clear();
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
            MessageFormat::Json => self.machine_summary(outcome),
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

    /// The `summary` line that ends every JSON stream (nothing in other formats).
    pub fn machine_summary(&mut self, outcome: &Outcome) {
        if self.format != MessageFormat::Json || self.summarized {
            return;
        }
        self.summarized = true;
        self.json(&serde_json::json!({
            "reason": "summary",
            "files": outcome.files,
            "errors": outcome.errors + outcome.fatal,
            "warnings": outcome.warnings,
            "written": outcome.written,
        }));
    }

    /// Standard output carries data (a merged document), not JSON lines: no `summary`.
    pub fn no_summary(&mut self) {
        self.summarized = true;
    }

    /// Ends a JSON stream that has no `summary` yet (a command that returns no [`Outcome`],
    /// or one that could not run: `failed` counts that as an error) with one made from the
    /// events it reported.
    pub fn close_summary(&mut self, failed: bool) {
        let mut tally = self.tally;
        tally.errors += usize::from(failed);
        self.machine_summary(&tally);
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

    /// `explain`: the final value, then each source that set it, oldest first.
    pub fn explanation(&mut self, e: &Explanation) {
        if self.format == MessageFormat::Json {
            let mut v = serde_json::to_value(e).expect("an explanation serializes");
            v.as_object_mut()
                .expect("an explanation is an object")
                .shift_insert(0, "reason".into(), "explanation".into());
            self.json(&v);
            return;
        }
        let shown = |v: &serde_json::Value| {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(59).collect::<String>())
            } else {
                s
            }
        };
        let mut s = format!(
            "{} {} (from [[merge]] `{}`)\n",
            e.file.display(),
            if e.pointer.is_empty() {
                "/"
            } else {
                &e.pointer
            },
            e.merge
        );
        match &e.value {
            Some(v) => {
                let _ = writeln!(s, "  = {}", shown(v));
            }
            None => s.push_str("  (deleted: not in the output)\n"),
        }
        let width = e
            .steps
            .iter()
            .map(|st| place(st).chars().count())
            .max()
            .unwrap_or(0);
        for (i, st) in e.steps.iter().enumerate() {
            let last = i + 1 == e.steps.len();
            let _ = writeln!(
                s,
                "  {} {:<9} {:<width$}  {}{}",
                if last { "└─" } else { "├─" },
                st.action,
                place(st),
                shown(&st.given),
                if st.pointer == e.pointer || st.pointer.is_empty() {
                    String::new()
                } else {
                    format!("  (at {})", st.pointer)
                }
            );
        }
        self.out(&s);
    }

    /// What `hook install` or `hook uninstall` did.
    pub fn hook(&mut self, action: &HookAction) {
        let (verb, path, what) = match action {
            HookAction::Installed(p) => ("Installed", p, "pre-commit hook"),
            HookAction::Updated(p) => ("Updated", p, "pre-commit hook"),
            HookAction::Replaced(p) => ("Replaced", p, "pre-commit hook (the old one is gone)"),
            HookAction::Removed(p) => ("Removed", p, "pre-commit hook"),
            HookAction::NotInstalled(p) => ("Nothing", p, "to remove: no cargo atomic hook at"),
        };
        if self.format == MessageFormat::Json {
            self.json(&serde_json::json!({
                "reason": "hook",
                "action": verb.to_lowercase(),
                "path": path,
            }));
            return;
        }
        self.status(verb, &format!("{what} {}", path.display()));
    }

    /// `config`: every value with the place it came from.
    pub fn config(&mut self, r: &ConfigReport) {
        if self.format == MessageFormat::Json {
            let mut v = serde_json::to_value(r).expect("a config report serializes");
            v.as_object_mut()
                .expect("a report is an object")
                .shift_insert(0, "reason".into(), "config".into());
            self.json(&v);
            return;
        }
        let mut s = match &r.source {
            Some(p) => format!("# from {}\n", p.display()),
            None => "# no configuration file: every value is a default\n".to_owned(),
        };
        let lines: Vec<(String, String)> = r
            .entries
            .iter()
            .map(|e| {
                (
                    format!("{} = {}", e.key, e.value),
                    e.origin.clone().unwrap_or_else(|| "default".to_owned()),
                )
            })
            .collect();
        let width = lines
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (line, origin) in lines {
            let _ = writeln!(s, "{line:<width$}  # {origin}");
        }
        self.out(&s);
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
        let width = records
            .iter()
            .map(|r| r.path.display().to_string().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let mut s = format!(
            "{:<12}  {:<24}  {:>10}  {:<12}  {:<8}  {:<width$}  {}\n",
            "ID", "TIME", "SIZE", "SHA256", "OP", "PATH", "COMMAND"
        );
        for r in records {
            let _ = writeln!(
                s,
                "{:<12}  {:<24}  {:>10}  {:<12}  {:<8}  {:<width$}  {}",
                r.id,
                r.time,
                r.size,
                r.sha256.short(12),
                r.op,
                r.path.display().to_string(),
                r.command
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
        let actor = |r: &AuditRecord| {
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
            actor
        };
        let header = ["TIME", "ACTOR", "OP", "CHANGE", "PATH"].map(str::to_owned);
        let rows: Vec<[String; 5]> = records
            .iter()
            .map(|r| {
                let change = format!("{} → {}", short(&r.before), short(&r.after));
                let path = r.path.clone().unwrap_or_default();
                [r.ts.to_string(), actor(r), r.op.to_string(), change, path]
            })
            .collect();
        // Columns as wide as their widest cell, so a long email does not push the rest over.
        let mut widths = [0; 4];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut s = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter().zip(row) {
                let _ = write!(s, "{cell:<w$}  ");
            }
            let _ = writeln!(s, "{}", row[4]);
        }
        self.out(&s);
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
        if let Event::Diagnostic(d) = &event {
            self.diagnostic(d);
            return;
        }
        if let Event::Progress { task, done, total } = &event {
            // Not part of the JSON lines: it is for people watching.
            if let Some(line) = self.progress.update(task, *done, *total) {
                self.err(&line);
            }
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
            Event::WouldWrite {
                path,
                diff,
                created,
            } => {
                let what = if created {
                    "would create"
                } else {
                    "would write"
                };
                self.status("Dry run", &format!("{} {what}", path.display()));
                let text = render_diff(&diff, self.color && io::stdout().is_terminal());
                self.out(&text);
            }
            Event::Verified { path, sha256 } => {
                if self.verbose > 0 {
                    self.status(
                        "Verified",
                        &format!("{} ({})", path.display(), sha256.short(12)),
                    );
                }
            }
            Event::BackupKept(d) => self.decision("Keep", GREEN, &d),
            Event::BackupDropped(d) => self.decision("Drop", YELLOW, &d),
            Event::BackupsPruned {
                policy,
                kept,
                dropped,
                objects_removed,
                bytes_freed,
                kept_bytes,
                over_cap,
                dry_run,
                unfinished,
            } => {
                let total = kept + dropped;
                let objects = format!(
                    "{objects_removed} {} ({bytes_freed} bytes)",
                    plural(objects_removed, "object")
                );
                match (policy, dry_run) {
                    (None, _) => self.status(
                        "Kept",
                        &format!(
                            "all {total} {}: no [backups] retention policy is configured",
                            plural(total, "backup")
                        ),
                    ),
                    (Some(_), true) => self.status(
                        "Would prune",
                        &format!(
                            "{dropped} of {total} {}, removing {objects}; dry run, nothing changed",
                            plural(total, "backup")
                        ),
                    ),
                    (Some(_), false) => self.status(
                        "Pruned",
                        &format!(
                            "{dropped} of {total} {}, removed {objects}; kept {kept} ({kept_bytes} bytes)",
                            plural(total, "backup")
                        ),
                    ),
                }
                if let Some(why) = unfinished {
                    let line = format!(
                        "{}{}\n",
                        self.paint(YELLOW, "warning"),
                        self.paint(
                            BOLD,
                            &format!(": some objects of removed backups are not freed yet ({why}); the next prune frees them")
                        )
                    );
                    self.err(&line);
                }
                if over_cap && !self.quiet {
                    let line = format!(
                        "{}{}\n",
                        self.paint(YELLOW, "warning"),
                        self.paint(
                            BOLD,
                            &format!(": max-total-size is not met: the newest backup of each file alone takes {kept_bytes} bytes")
                        )
                    );
                    self.err(&line);
                }
            }
            Event::Rotated {
                path, to, dry_run, ..
            } => {
                let verb = if dry_run { "Would rotate" } else { "Rotated" };
                self.status(verb, &format!("{} -> {}", path.display(), to.display()));
            }
            Event::RotationShifted { from, to, dry_run } => {
                let verb = if dry_run { "Would shift" } else { "Shifted" };
                self.status(verb, &format!("{} -> {}", from.display(), to.display()));
            }
            Event::RotationCompressed {
                path,
                to,
                bytes,
                dry_run,
            } => {
                let verb = if dry_run { "Would gzip" } else { "Compressed" };
                let size = bytes.map(|b| format!(" ({b} bytes)")).unwrap_or_default();
                self.status(
                    verb,
                    &format!("{} -> {}{size}", path.display(), to.display()),
                );
            }
            Event::RotationPruned {
                path,
                rule,
                dry_run,
            } => {
                let verb = if dry_run { "Would prune" } else { "Pruned" };
                self.status(verb, &format!("{} ({rule})", path.display()));
            }
            Event::RotationVanished { path, dry_run } => {
                let verb = if dry_run { "Would forget" } else { "Forgot" };
                self.status(
                    verb,
                    &format!(
                        "{} (a rotated copy removed by someone else)",
                        path.display()
                    ),
                );
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
            Event::Diagnostic(_) | Event::Progress { .. } => unreachable!("handled above"),
        }
    }
}

fn plural_n(n: usize, word: &str) -> String {
    format!("{n} {}", plural(n, word))
}

impl Printer {
    /// One line of `backups prune`: the decision, the backup, the rules behind it.
    fn decision(&mut self, verb: &str, style: &str, d: &BackupDecision) {
        if self.quiet {
            return;
        }
        let line = format!(
            "{} {}  {}  {}  {}\n",
            self.paint(style, &format!("{verb:>12}")),
            d.id,
            d.time,
            d.path.display(),
            d.rules.join("; ")
        );
        self.err(&line);
    }
}

fn place(st: &Step) -> String {
    match (st.line, st.column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", st.source.display()),
        _ => st.source.display().to_string(),
    }
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

//! `--message-format human` (the default): rustc-style findings and cargo-style status lines on
//! stderr, listings and diffs on stdout. Every other format but `json` shows all but its
//! findings this way.

use std::fmt::Write as _;
use std::io::{self, IsTerminal};
use std::path::PathBuf;

use cargo_atomic::diagnostic::render_diff;
use cargo_atomic::diagnostic::style::{BOLD, CYAN, GREEN, RED, YELLOW};
use cargo_atomic::event::{BackupDecision, Event, RecoveryAction};
use cargo_atomic::ops::{HookAction, Outcome};

use super::{Format, Report, Terminal, tables};

pub(super) struct Human;

impl Format for Human {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>) {
        self::report(t, report);
    }
}

/// Shows `report` as human text.
pub(super) fn report(t: &mut Terminal, report: Report<'_>) {
    match report {
        Report::Event(Event::Diagnostic(d)) => {
            let s = d.to_human_with(t.color, t.verbose > 0);
            t.err(&s);
        }
        Report::Event(event) => self::event(t, event),
        Report::Summary { noun, outcome } => summary(t, noun, outcome),
        Report::End(_) | Report::DataOnStdout => {}
        Report::Error(chain) => error(t, chain),
        Report::Explanation(e) => tables::explanation(t, e),
        Report::Hook(action) => {
            let (verb, path, what) = hook_words(action);
            t.status(verb, &format!("{what} {}", path.display()));
        }
        Report::Config(r) => tables::config(t, r),
        Report::Backups(records) => tables::backups(t, records),
        Report::AuditRecords(records) => tables::audit_records(t, records),
    }
}

fn summary(t: &mut Terminal, noun: &str, outcome: &Outcome) {
    if outcome.errors + outcome.fatal > 0 {
        // A schema (or config) problem is not an error of the files: counted apart.
        let mut found = Vec::new();
        if outcome.errors > 0 {
            found.push(plural_n(outcome.errors, "error"));
        }
        if outcome.fatal > 0 {
            found.push(plural_n(outcome.fatal, "schema problem"));
        }
        let msg = format!(
            "{noun} of {} {} found {}\n",
            outcome.files,
            plural(outcome.files, "file"),
            found.join(" and ")
        );
        let line = format!(
            "{}{}",
            t.paint(RED, "error"),
            t.paint(BOLD, &format!(": {msg}"))
        );
        t.err(&line);
    } else {
        t.status(
            "Finished",
            &format!(
                "{noun} of {} {}",
                outcome.files,
                plural(outcome.files, "file")
            ),
        );
    }
}

fn error(t: &mut Terminal, chain: &[String]) {
    let mut s = format!(
        "{}{}\n",
        t.paint(RED, "error"),
        t.paint(BOLD, &format!(": {}", chain[0]))
    );
    if chain.len() > 1 {
        s.push_str("\nCaused by:\n");
        for c in &chain[1..] {
            let _ = writeln!(s, "  {c}");
        }
    }
    t.err(&s);
}

/// The status verb of what `hook install` or `hook uninstall` did, its path, and the words
/// before the path.
pub(super) fn hook_words(action: &HookAction) -> (&'static str, &PathBuf, &'static str) {
    match action {
        HookAction::Installed(p) => ("Installed", p, "pre-commit hook"),
        HookAction::Updated(p) => ("Updated", p, "pre-commit hook"),
        HookAction::Replaced(p) => ("Replaced", p, "pre-commit hook (the old one is gone)"),
        HookAction::Removed(p) => ("Removed", p, "pre-commit hook"),
        HookAction::NotInstalled(p) => ("Nothing", p, "to remove: no cargo atomic hook at"),
    }
}

fn event(t: &mut Terminal, event: Event) {
    match event {
        Event::LockWait { pid } => {
            let who = pid.map_or_else(|| "another process".to_owned(), |p| format!("pid {p}"));
            let line = format!(
                "{} for the store lock held by {who}\n",
                t.paint(CYAN, &format!("{:>12}", "Waiting"))
            );
            t.err(&line); // shown even under --quiet: otherwise a wait looks like a hang
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
            t.status(
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
            t.status(
                "Written",
                &format!("{} ({bytes} bytes{kept})", path.display()),
            );
        }
        Event::FileDeleted { path, backup } => {
            let kept = backup
                .map(|b| format!("; old bytes kept as backup {}", b.short(12)))
                .unwrap_or_default();
            t.status("Deleted", &format!("{}{kept}", path.display()));
        }
        Event::FileUnchanged { path, .. } => {
            t.status(
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
            t.status("Dry run", &format!("{} {what}", path.display()));
            let text = render_diff(&diff, t.color && io::stdout().is_terminal());
            t.out(&text);
        }
        Event::Verified { path, sha256 } => {
            if t.verbose > 0 {
                t.status(
                    "Verified",
                    &format!("{} ({})", path.display(), sha256.short(12)),
                );
            }
        }
        Event::BackupKept(d) => decision(t, "Keep", GREEN, &d),
        Event::BackupDropped(d) => decision(t, "Drop", YELLOW, &d),
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
                (None, _) => t.status(
                    "Kept",
                    &format!(
                        "all {total} {}: no [backups] retention policy is configured",
                        plural(total, "backup")
                    ),
                ),
                (Some(_), true) => t.status(
                    "Would prune",
                    &format!(
                        "{dropped} of {total} {}, removing {objects}; dry run, nothing changed",
                        plural(total, "backup")
                    ),
                ),
                (Some(_), false) => t.status(
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
                    t.paint(YELLOW, "warning"),
                    t.paint(
                        BOLD,
                        &format!(": some objects of removed backups are not freed yet ({why}); the next prune frees them")
                    )
                );
                t.err(&line);
            }
            if over_cap && !t.quiet {
                let line = format!(
                    "{}{}\n",
                    t.paint(YELLOW, "warning"),
                    t.paint(
                        BOLD,
                        &format!(": max-total-size is not met: the newest backup of each file alone takes {kept_bytes} bytes")
                    )
                );
                t.err(&line);
            }
        }
        Event::Rotated {
            path, to, dry_run, ..
        } => {
            let verb = if dry_run { "Would rotate" } else { "Rotated" };
            t.status(verb, &format!("{} -> {}", path.display(), to.display()));
        }
        Event::RotationShifted { from, to, dry_run } => {
            let verb = if dry_run { "Would shift" } else { "Shifted" };
            t.status(verb, &format!("{} -> {}", from.display(), to.display()));
        }
        Event::RotationCompressed {
            path,
            to,
            bytes,
            dry_run,
        } => {
            let verb = if dry_run { "Would gzip" } else { "Compressed" };
            let size = bytes.map(|b| format!(" ({b} bytes)")).unwrap_or_default();
            t.status(
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
            t.status(verb, &format!("{} ({rule})", path.display()));
        }
        Event::RotationVanished { path, dry_run } => {
            let verb = if dry_run { "Would forget" } else { "Forgot" };
            t.status(
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
                    t.paint(RED, "error"),
                    t.paint(
                        BOLD,
                        &format!(
                            ": audit verification found {} ({} verified)\n",
                            plural_n(errors, "problem"),
                            plural_n(records as usize, "record")
                        )
                    )
                );
                t.err(&line);
            } else {
                let head = head.map(|h| format!("; head {h}")).unwrap_or_default();
                t.status(
                    "Verified",
                    &format!("audit log: {}{head}", plural_n(records as usize, "record")),
                );
            }
        }
        Event::Diagnostic(_) | Event::Progress { .. } => {
            unreachable!("shown by `report` and the `Printer`")
        }
    }
}

/// One line of `backups prune`: the decision, the backup, the rules behind it.
fn decision(t: &mut Terminal, verb: &str, style: &str, d: &BackupDecision) {
    if t.quiet {
        return;
    }
    let line = format!(
        "{} {}  {}  {}  {}\n",
        t.paint(style, &format!("{verb:>12}")),
        d.id,
        d.time,
        d.path.display(),
        d.rules.join("; ")
    );
    t.err(&line);
}

fn plural_n(n: usize, word: &str) -> String {
    format!("{n} {}", plural(n, word))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

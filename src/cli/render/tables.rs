//! The listings of `explain`, `config`, `backups list` and `audit show` as text on stdout: what
//! every format but `json` shows for them.

use std::fmt::Write as _;

use cargo_atomic::ops::{ConfigReport, Explanation, Step};
use cargo_atomic::store::{AuditRecord, BackupRecord, FileState};

use super::Terminal;

/// `explain`: the final value, then each source that set it, oldest first.
pub(super) fn explanation(t: &mut Terminal, e: &Explanation) {
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
    t.out(&s);
}

/// `config`: every value with the place it came from.
pub(super) fn config(t: &mut Terminal, r: &ConfigReport) {
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
    t.out(&s);
}

/// `backups list`: one row per backup.
pub(super) fn backups(t: &mut Terminal, records: &[BackupRecord]) {
    if records.is_empty() {
        t.status("Empty", "no backups recorded");
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
    t.out(&s);
}

/// `audit show`: oldest first, newest last.
pub(super) fn audit_records(t: &mut Terminal, records: &[AuditRecord]) {
    if records.is_empty() {
        t.status("Empty", "no audit records");
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
    t.out(&s);
}

/// Where a step's source set the value: `file:line:col`, or the file alone.
fn place(st: &Step) -> String {
    match (st.line, st.column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", st.source.display()),
        _ => st.source.display().to_string(),
    }
}

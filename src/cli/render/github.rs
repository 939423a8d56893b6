//! `--message-format github`: each finding as a GitHub Actions workflow command
//! (`::error file=…,line=…,col=…,title=code::message`) on stdout, at its primary place only: a
//! related place is one more line of the message (`note: also set here: file:line:col`), not an
//! annotation of its own. Everything else as `human` shows it.

use std::fmt::Write as _;

use cargo_atomic::diagnostic::{Diagnostic, Severity};
use cargo_atomic::event::Event;

use super::{Format, Report, Terminal, human};

pub(super) struct Github;

impl Format for Github {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>) {
        match report {
            Report::Event(Event::Diagnostic(d)) => diagnostic(t, &d),
            other => human::report(t, other),
        }
    }
}

fn diagnostic(t: &mut Terminal, d: &Diagnostic) {
    let word = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = format!("file={}", escape_property(&d.file.to_string_lossy()));
    if let Some(l) = d.line {
        let _ = write!(props, ",line={l}");
    }
    if let Some(c) = d.column {
        let _ = write!(props, ",col={c}");
    }
    let _ = write!(props, ",title={}", escape_property(d.code.as_str()));
    let mut message = d.message.clone();
    for r in &d.related {
        let _ = write!(message, "\nnote: {}: {}", r.message, d.related_location(r));
    }
    let line = format!("::{word} {props}::{}\n", escape_data(&message));
    t.out(&line);
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

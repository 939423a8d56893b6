//! `--message-format short`: one line per finding on stdout
//! (`file:line:col: error[code]: message`), then one `file:line:col: note: message` line per
//! related place, as compilers print theirs; everything else as `human` shows it.

use cargo_atomic::diagnostic::style::{RED, YELLOW};
use cargo_atomic::diagnostic::{Diagnostic, Severity};
use cargo_atomic::event::Event;

use super::{Format, Report, Terminal, human};

pub(super) struct Short;

impl Format for Short {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>) {
        match report {
            Report::Event(Event::Diagnostic(d)) => diagnostic(t, &d),
            other => human::report(t, other),
        }
    }
}

fn diagnostic(t: &mut Terminal, d: &Diagnostic) {
    let (word, style) = match d.severity {
        Severity::Error => ("error", RED),
        Severity::Warning => ("warning", YELLOW),
    };
    let mut line = format!(
        "{}: {}: {}\n",
        d.location(),
        t.paint(style, &format!("{word}[{}]", d.code.as_str())),
        d.message
    );
    for r in &d.related {
        line.push_str(&format!("{}: note: {}\n", d.related_location(r), r.message));
    }
    t.out(&line);
}

//! `--message-format json`: one JSON object per line on stdout, each with a `reason`; every
//! stream ends with exactly one `summary` line. Progress is not part of it.

use serde::Serialize;

use super::{Format, Report, Terminal, human};

#[derive(Default)]
pub(super) struct Json {
    /// The `summary` line was printed (or standard output carries data instead).
    summarized: bool,
}

impl Format for Json {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>) {
        match report {
            Report::Event(event) => line(t, &event),
            Report::Summary { outcome, .. } | Report::End(outcome) => {
                if self.summarized {
                    return;
                }
                self.summarized = true;
                line(
                    t,
                    &serde_json::json!({
                        "reason": "summary",
                        "files": outcome.files,
                        "errors": outcome.errors + outcome.fatal,
                        "warnings": outcome.warnings,
                        "written": outcome.written,
                    }),
                );
            }
            Report::DataOnStdout => self.summarized = true,
            Report::Error(chain) => {
                line(
                    t,
                    &serde_json::json!({"reason": "error", "message": chain.join(": ")}),
                );
                // People read the failure on stderr, whatever the format.
                human::report(t, report);
            }
            Report::Explanation(e) => line(t, &tagged("explanation", e)),
            Report::Hook(action) => {
                let (verb, path, _) = human::hook_words(action);
                line(
                    t,
                    &serde_json::json!({
                        "reason": "hook",
                        "action": verb.to_lowercase(),
                        "path": path,
                    }),
                );
            }
            Report::Config(r) => line(t, &tagged("config", r)),
            Report::Backups(records) => {
                for r in records {
                    line(t, &tagged("backup", r));
                }
            }
            Report::AuditRecords(records) => {
                for r in records {
                    line(t, &tagged("audit-record", r));
                }
            }
        }
    }
}

/// One JSON line on stdout.
fn line(t: &mut Terminal, value: &impl Serialize) {
    let mut line = serde_json::to_string(value).expect("events serialize");
    line.push('\n');
    t.out(&line);
}

/// `value` (an object) with `"reason": reason` first.
fn tagged(reason: &str, value: &impl Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(value).expect("reports serialize");
    v.as_object_mut()
        .expect("a report is an object")
        .shift_insert(0, "reason".into(), reason.into());
    v
}

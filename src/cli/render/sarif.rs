//! `--message-format sarif`: the findings as one SARIF 2.1.0 log on stdout, printed when the
//! run ends; everything else as `human` shows it.

use cargo_atomic::diagnostic::{Diagnostic, Severity};
use cargo_atomic::event::Event;

use super::{Format, Report, Terminal, human};

#[derive(Default)]
pub(super) struct Sarif {
    /// The results so far, in the order of their findings.
    results: Vec<serde_json::Value>,
}

impl Format for Sarif {
    fn report(&mut self, t: &mut Terminal, report: Report<'_>) {
        match report {
            Report::Event(Event::Diagnostic(d)) => self.results.push(result(&d)),
            other => human::report(t, other),
        }
    }

    fn finish(&mut self, t: &mut Terminal) {
        let mut rules: Vec<&str> = self
            .results
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
                "results": self.results,
            }],
        });
        let mut text = serde_json::to_string_pretty(&log).expect("a SARIF log serializes");
        text.push('\n');
        t.out(&text);
    }
}

fn result(d: &Diagnostic) -> serde_json::Value {
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

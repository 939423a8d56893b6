//! `--message-format sarif`: the findings as one SARIF 2.1.0 log on stdout, printed when the
//! run ends, each related place of a finding in its `relatedLocations`; everything else as
//! `human` shows it.

use std::path::Path;

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
    let primary = location(
        &d.file,
        [
            ("startLine", d.line),
            ("startColumn", d.column),
            ("endLine", d.end_line),
            ("endColumn", d.end_column),
        ],
    );
    let related: Vec<serde_json::Value> = d
        .related
        .iter()
        .zip(1..)
        .map(|(r, id)| {
            let mut l = location(
                r.file.as_deref().unwrap_or(&d.file),
                [("startLine", Some(r.line)), ("startColumn", Some(r.column))],
            );
            l["id"] = id.into();
            l["message"] = serde_json::json!({"text": r.message});
            l
        })
        .collect();
    let mut text = d.message.clone();
    if let Some(sp) = &d.schema_path {
        text.push_str(&format!(" (schema path {sp})"));
    }
    let mut result = serde_json::json!({
        "ruleId": d.code.as_str(),
        "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": {"text": text},
        "locations": [primary],
    });
    if !related.is_empty() {
        result["relatedLocations"] = related.into();
    }
    result
}

/// A SARIF location in `file`, with the region's fields that are known.
fn location<const N: usize>(file: &Path, region: [(&str, Option<u32>); N]) -> serde_json::Value {
    let region: serde_json::Map<String, serde_json::Value> = region
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.into())))
        .collect();
    let mut location = serde_json::json!({
        "physicalLocation": {"artifactLocation": {"uri": file.to_string_lossy()}}
    });
    if !region.is_empty() {
        location["physicalLocation"]["region"] = region.into();
    }
    location
}

//! The machine formats a CI reads, pinned whole by snapshots rather than by substrings: SARIF
//! (code scanning) and GitHub workflow commands (annotations).

use crate::support::*;

fn ws() -> Ws {
    let ws = Ws::new();
    ws.put(
        "schema.json",
        r#"{"type":"object","properties":{"port":{"type":"integer"},"mode":{"enum":["dev","prod"]}},"additionalProperties":false}"#,
    );
    ws.put("app.yaml", "port: \"eighty\"\nmode: staging\nprot: 1\n");
    ws.put("ok.json", "{\"port\": 80}\n");
    ws
}

fn validate(ws: &Ws, format: &str) -> Run {
    ws.run(&[
        "validate",
        "app.yaml",
        "ok.json",
        "--schema",
        "schema.json",
        "--message-format",
        format,
    ])
    .code(1)
}

#[test]
fn sarif_output() {
    let ws = ws();
    let r = validate(&ws, "sarif");
    let sarif: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 3);
    snapshots(|| {
        let ours = format!(
            r#""version": "{}""#,
            env!("CARGO_PKG_VERSION").replace('.', r"\.")
        );
        insta::with_settings!({filters => vec![
            (ours.as_str(), r#""version": "[version]""#),
        ]}, {
            insta::assert_snapshot!("format-sarif", r.stdout);
        })
    });
}

#[test]
fn github_output() {
    let ws = ws();
    let r = validate(&ws, "github");
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("::error "))
            .count(),
        3
    );
    snapshots(|| insta::assert_snapshot!("format-github", r.stdout));
}

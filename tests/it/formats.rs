//! The machine formats a CI reads, pinned whole by snapshots rather than by substrings: SARIF
//! (code scanning) and GitHub workflow commands (annotations), and the related places of a
//! finding in every format.

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

/// A finding with a related place (the anchor of a YAML alias), as each format shows it: SARIF
/// `relatedLocations`, a `note:` line in `short`, a line of the annotation's text in `github`
/// (the annotation stays at the primary place), a `related` list in JSON, a note in `human`.
#[test]
fn related_places_in_every_format() {
    let ws = Ws::new();
    ws.put(
        "schema.json",
        r#"{"type":"object","properties":{"port":{"type":"integer"}}}"#,
    );
    ws.put("app.yaml", "defaults: &p \"eighty\"\nport: *p\n");
    let run = |format: &str| {
        ws.run(&[
            "validate",
            "app.yaml",
            "--schema",
            "schema.json",
            "--message-format",
            format,
        ])
        .code(1)
    };
    let ours = format!(
        r#""version": "{}""#,
        env!("CARGO_PKG_VERSION").replace('.', r"\.")
    );
    let sarif = run("sarif").stdout;
    let (short, github, json) = (
        run("short").stdout,
        run("github").stdout,
        run("json").stdout,
    );
    let human = run("human").stderr;
    snapshots(|| {
        insta::with_settings!({filters => vec![
            (ours.as_str(), r#""version": "[version]""#),
        ]}, {
            insta::assert_snapshot!("format-related-sarif", sarif);
        });
        insta::assert_snapshot!("format-related-short", short);
        insta::assert_snapshot!("format-related-github", github);
        insta::assert_snapshot!("format-related-json", json);
        insta::assert_snapshot!("format-related-human", human);
    });
}

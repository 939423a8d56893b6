//! The README's quick start works: the demo tour runs end to end with the built binary as
//! `cargo atomic`.

use std::process::Command;

use crate::support::*;

#[test]
fn readme_starts_with_exactly_two_commands() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```").nth(1).expect("a code block");
    let commands: Vec<&str> = block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].contains("cargo install") && commands[0].contains("examples/demo/tour.sh"));
    assert_eq!(commands[1], "cargo test --locked");
}

#[test]
fn the_demo_tour_runs_end_to_end() {
    let bin_dir = bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo/tour.sh"
    ));
    cmd.env("PATH", path);
    let r = run(cmd, None).ok();
    // check finds the overlay edit (a short line, on stdout), apply writes the one output it
    // changes
    assert!(
        r.stdout.contains(
            "rendered/api/prod.json: error[stale]: output is out of date with its sources"
        ),
        "{}",
        r.stdout
    );
    for expected in [
        "Written rendered/api/prod.json",
        "Unchanged rendered/worker/prod.json",
        // a mistake in an overlay is shown where it was made
        "--> services/worker/prod.yaml:15:9",
        "Finished verification of 8 files",
        // the tampered audit record is found at its line
        "--> .atomic/audit.jsonl:3",
    ] {
        assert!(r.stderr.contains(expected), "{expected}\n{}", r.stderr);
    }
    assert!(
        r.stdout
            .contains("-    \"workers\": 16\n+    \"workers\": 32\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("└─ override  services/api/prod.toml:6:11  32"),
        "{}",
        r.stdout
    );
    // Rotation kept the newest three reports, gzipped, and never touched the stranger's file.
    let rotated: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("load-test.json.<stamp>-"))
        .collect();
    assert_eq!(rotated.len(), 3, "{}", r.stdout);
    assert!(rotated.iter().all(|l| l.ends_with(".gz")), "{rotated:?}");
    assert!(r.stdout.contains("notes.txt\n"), "{}", r.stdout);
    assert!(r.stderr.contains("Verified audit log: "), "{}", r.stderr);
    assert!(r.stderr.contains("error[integrity]"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--> config/app.json:3:42"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Finished validation of 7 files"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("-rw------- "),
        "secrets stay 0600: {}",
        r.stdout
    );
    // The tour works on a copy: the demo in the repository is untouched.
    assert!(
        !std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/demo/.atomic"
        ))
        .exists()
    );
}

/// The README's sections as (heading path, code block language, code).
fn readme_blocks() -> Vec<(String, String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let (mut h2, mut h3) = (String::new(), String::new());
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(t) = line.strip_prefix("## ") {
            h2 = t.to_owned();
            h3.clear();
        } else if let Some(t) = line.strip_prefix("### ") {
            h3 = t.to_owned();
        } else if let Some(lang) = line.strip_prefix("```") {
            let code: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            out.push((format!("{h2} / {h3}"), lang.to_owned(), code.join("\n")));
        }
    }
    out
}

/// Every command of the recipes runs and succeeds: on a fresh copy of the demo (a git
/// repository, for the hook), or in an empty workspace for "your own workspace".
#[test]
fn every_recipe_command_runs() {
    let bin_dir = bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo");
    let mut ran = 0;
    for (heading, lang, code) in readme_blocks() {
        if !heading.starts_with("Recipes") || lang != "sh" {
            continue;
        }
        let ws = tempfile::tempdir().unwrap();
        if !heading.contains("your own workspace") {
            let ok = Command::new("cp")
                .arg("-R")
                .arg(format!("{demo}/."))
                .arg(ws.path())
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        let git = Command::new("git")
            .args(["init", "-q"])
            .current_dir(ws.path())
            .output()
            .unwrap();
        assert!(git.status.success());
        for line in code.lines().filter(|l| l.starts_with("cargo atomic")) {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", line])
                .current_dir(ws.path())
                .env("PATH", &path);
            let r = run(cmd, None);
            assert_eq!(r.code, 0, "{heading}: `{line}`\n{}\n{}", r.stdout, r.stderr);
            ran += 1;
        }
    }
    assert!(ran >= 8, "only {ran} recipe commands found");
}

/// The configuration reference is a valid `atomic.toml` and names every key the config schema
/// (generated from the config types) has, so it cannot fall behind them.
#[test]
fn the_configuration_reference_is_complete_and_valid() {
    let (_, _, toml) = readme_blocks()
        .into_iter()
        .find(|(h, lang, _)| h.starts_with("Configuration") && lang == "toml")
        .expect("a toml block under Configuration");
    let ws = Ws::new();
    ws.put("reference.toml", &toml);
    ws.run(&["--config", "reference.toml", "config"]).ok();
    let schema = cargo_atomic::ops::config_schema();
    let mut keys = std::collections::BTreeSet::new();
    collect_keys(&schema, &schema, &mut keys);
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| {
            !toml.contains(&format!("{k} ="))
                && !toml.contains(&format!("[{k}]"))
                && !toml.contains(&format!("{{ {k} ="))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "keys not in the README's reference: {missing:?}"
    );
}

fn collect_keys(
    root: &serde_json::Value,
    node: &serde_json::Value,
    keys: &mut std::collections::BTreeSet<String>,
) {
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .expect("a local $ref");
        collect_keys(root, target, keys);
    }
    if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
        for (k, v) in props {
            keys.insert(k.clone());
            collect_keys(root, v, keys);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = node.get(key).filter(|v| v.is_object()) {
            collect_keys(root, v, keys);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for v in node
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            collect_keys(root, v, keys);
        }
    }
}

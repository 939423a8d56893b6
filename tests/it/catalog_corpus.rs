//! The real SchemaStore catalog (`../shared/corpora/schemastore`): the entries common paths get,
//! and the catalog's index held to what one plain `GlobSet` of every glob would say.

use std::path::Path;

use cargo_atomic::ops::catalog::Catalog;

use crate::support::*;

#[test]
fn the_real_catalog_matches_as_one_globset_would() {
    if skip_without_corpus("schemastore") {
        return;
    }
    let body = std::fs::read(Path::new(CORPORA).join("schemastore/src/api/json/catalog.json"))
        .expect("the snapshot's catalog");
    let c = Catalog::parse(&body, &[]).unwrap();
    let table = [
        (".github/workflows/ci.yml", Some("GitHub Workflow")),
        (".github/dependabot.yml", Some("dependabot-v2.json")),
        ("Cargo.toml", Some("Cargo Manifest")),
        ("crates/a/Cargo.toml", Some("Cargo Manifest")),
        ("rustfmt.toml", Some("rustfmt")),
        ("tsconfig.json", Some("tsconfig.json")),
        ("renovate.json", Some("Renovate")),
        ("src/main.rs", None),
        ("config/c1.json", None),
    ];
    for (p, want) in table {
        let got = c.find(Path::new(p)).map(|m| m.entry.name.as_str());
        assert_eq!(got, want, "{p}");
    }
    let paths: Vec<&str> = table.iter().map(|(p, _)| *p).collect();
    let wrong = c.disagreements_with_globset(&paths, 400);
    assert!(
        wrong.is_empty(),
        "{} paths disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_negated_glob_in_the_real_catalog_takes_its_files_away() {
    // SchemaStore's `fileMatch` may hold `!pattern` (VS Code's negation; this snapshot has none):
    // one added to the workflow entry keeps generated workflows from it, and only those.
    if skip_without_corpus("schemastore") {
        return;
    }
    let body = std::fs::read(Path::new(CORPORA).join("schemastore/src/api/json/catalog.json"))
        .expect("the snapshot's catalog");
    let mut catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let workflow = catalog["schemas"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == "GitHub Workflow")
        .expect("the workflow entry");
    workflow["fileMatch"]
        .as_array_mut()
        .unwrap()
        .push("!**/.github/workflows/generated-*.yml".into());
    let body = serde_json::to_vec(&catalog).unwrap();
    let c = Catalog::parse(&body, &[]).unwrap();
    let entry = |p: &str| c.find(Path::new(p)).map(|m| m.entry.name.clone());
    assert_eq!(
        entry(".github/workflows/ci.yml").as_deref(),
        Some("GitHub Workflow")
    );
    assert_eq!(
        entry("sub/.github/workflows/generated-ci.yaml").as_deref(),
        Some("GitHub Workflow")
    );
    let generated = entry(".github/workflows/generated-ci.yml");
    assert_ne!(generated.as_deref(), Some("GitHub Workflow"));
    let paths = [
        ".github/workflows/ci.yml",
        ".github/workflows/generated-ci.yml",
        "a/.github/workflows/generated-x.yml",
    ];
    let wrong = c.disagreements_with_globset(&paths, 400);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

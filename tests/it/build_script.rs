//! `cargo_atomic::build` for real: the example crate `examples/build-script` (a copy, with its
//! path dependency pointed back here) is built by cargo; a broken config fails its build with the
//! located diagnostic, fixing it makes the build pass, and its build graph holds no CLI crate.
//!
//! Builds share `target/example-build` so that only the first one compiles the dependencies.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A copy of the example crate whose dependency on cargo-atomic points at this repository.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(REPO).join("examples/build-script"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .unwrap()
        .replace("path = \"../..\"", &format!("path = {:?}", REPO));
    fs::write(manifest, text).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" || name == ".atomic" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn cargo(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // `--locked`: the example's committed Cargo.lock must be current, or every build of the
    // example by a user rewrites it.
    cmd.args(args)
        .args(["--offline", "--locked"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    run(cmd, None)
}

fn target_dir() -> PathBuf {
    Path::new(REPO).join("target/example-build")
}

#[test]
fn a_build_script_validates_renders_and_fails_with_the_located_diagnostic() {
    let ex = example();
    let dir = ex.path();
    let r = cargo(dir, &["run", "-q"]).ok();
    let printed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(printed["server"]["port"], 443);

    // Nothing read changed: the build script does not run again.
    let r = cargo(dir, &["build", "-v"]).ok();
    assert!(
        r.stderr.contains("Fresh atomic-build-example"),
        "{}",
        r.stderr
    );

    // A mistake in an overlay fails the build, at its place, in rustc's style.
    fs::write(
        dir.join("config/prod.toml"),
        "[server]\nhost = \"0.0.0.0\"\nport = \"https\"\n",
    )
    .unwrap();
    let r = cargo(dir, &["build"]).code(101);
    for expected in [
        "error[schema]: \"https\" is not of type \"integer\"",
        "--> config/prod.toml:3:8",
        "3 | port = \"https\"",
        "cargo atomic: 1 problem in the package's config files",
    ] {
        assert!(r.stderr.contains(expected), "{expected}\n{}", r.stderr);
    }

    // Fixed, it builds again, with the new value.
    fs::write(
        dir.join("config/prod.toml"),
        "[server]\nhost = \"0.0.0.0\"\nport = 8443\n",
    )
    .unwrap();
    let r = cargo(dir, &["run", "-q"]).ok();
    let printed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(printed["server"]["port"], 8443);
}

#[test]
fn a_build_script_depends_on_no_cli_crate() {
    let ex = example();
    let r = cargo(
        ex.path(),
        &["tree", "-e", "build,normal", "--prefix", "none"],
    )
    .ok();
    assert!(r.stdout.contains("cargo-atomic v"), "{}", r.stdout);
    for crate_name in ["clap ", "indicatif ", "cargo_metadata "] {
        assert!(
            !r.stdout.lines().any(|l| l.starts_with(crate_name)),
            "{crate_name} in the build graph:\n{}",
            r.stdout
        );
    }
}

#[test]
fn the_examples_committed_render_is_fresh() {
    // The helper a crate calls from its own tests, here on the example itself.
    cargo_atomic::build::ensure_fresh(Path::new(REPO).join("examples/build-script"));
}

#[test]
fn ensure_fresh_fails_on_a_stale_file_and_rewrites_it_only_outside_ci() {
    let ex = example();
    let dir = ex.path().to_owned();
    let rendered = dir.join("config/rendered/app.json");
    fs::write(&rendered, "{}\n").unwrap();
    // The helper reads `CI`, and this process's environment is shared by every test: each case
    // runs in a child process of this test binary.
    // Under CI: fails with the diff, writes nothing.
    let r = ensure_fresh_in_child(&dir, true);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("generated files are stale: config/rendered/app.json")
            && r.stderr.contains("+    \"port\": 443"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_to_string(&rendered).unwrap(),
        "{}\n",
        "CI writes nothing"
    );
    // Locally: rewrites, and still fails so the change is noticed.
    let r = ensure_fresh_in_child(&dir, false);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(
            "generated files were stale and have been rewritten: config/rendered/app.json"
        ),
        "{}",
        r.stderr
    );
    assert!(
        fs::read_to_string(&rendered)
            .unwrap()
            .contains("\"port\": 443")
    );
    // And then it passes.
    cargo_atomic::build::ensure_fresh(&dir);
}

/// `ensure_fresh` on `dir` in a child process of this test binary, with or without `CI` set.
fn ensure_fresh_in_child(dir: &Path, ci: bool) -> Run {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "build_script::ensure_fresh_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("ENSURE_FRESH_DIR", dir);
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    run(cmd, None)
}

/// Not a test: the child process's entry point for `ensure_fresh_in_child` (so `CI` can
/// differ), run there with `--ignored`.
#[test]
#[ignore = "the child process of ensure_fresh_in_child, not a test of its own"]
fn ensure_fresh_child() {
    let dir = std::env::var_os("ENSURE_FRESH_DIR").expect("ENSURE_FRESH_DIR names the workspace");
    cargo_atomic::build::ensure_fresh(PathBuf::from(dir));
}

/// A schema file that only a `$ref` names is watched too: editing it must rerun the script.
#[test]
fn files_a_schema_refs_are_watched() {
    let dir = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(dir.path()).unwrap();
    let put = |rel: &str, text: &str| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    put(
        "Cargo.toml",
        "[package]\nname = \"p\"\nversion = \"0.1.0\"\n",
    );
    put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.json\"]\nschema = \"schemas/app.json\"\n",
    );
    put(
        "schemas/app.json",
        r#"{"properties": {"port": {"$ref": "defs/port.json"}}}"#,
    );
    put("schemas/defs/port.json", r#"{"type": "integer"}"#);
    put("config/app.json", r#"{"port": 80}"#);
    let out = tempfile::tempdir().unwrap();
    let built = cargo_atomic::build::Build::new(&root, out.path())
        .run()
        .unwrap();
    for watched in [
        "schemas/app.json",
        "schemas/defs/port.json",
        "atomic.toml",
        "config",
    ] {
        assert!(
            built.read.contains(&root.join(watched)),
            "{watched} not in {:#?}",
            built.read
        );
    }
}

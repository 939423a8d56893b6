//! Where users meet it: a real git pre-commit hook, the pre-commit framework's file mode,
//! `init` and shell completions.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::*;

fn git(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin().parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        );
    run(cmd, None)
}

fn repo() -> Ws {
    let ws = Ws::new();
    git(ws.root(), &["init", "-q", "-b", "main"]).ok();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.json\"]\nschema = \"schema.json\"\n",
    );
    ws.put(
        "schema.json",
        r#"{"type": "object", "properties": {"port": {"type": "integer"}}}"#,
    );
    ws
}

#[test]
fn a_commit_with_an_invalid_config_is_refused_and_a_valid_one_goes_through() {
    let ws = repo();
    ws.run(&["hook", "install"]).ok();
    let hook = ws.path(".git/hooks/pre-commit");
    assert_eq!(
        fs::metadata(&hook).unwrap().permissions().mode() & 0o111,
        0o111
    );
    ws.put("config/app.json", "{\"port\": \"eighty\"}\n");
    git(ws.root(), &["add", "."]).ok();
    let r = git(ws.root(), &["commit", "-q", "-m", "bad"]);
    assert_ne!(r.code, 0, "the commit must be refused");
    assert!(
        r.stderr.contains("--> config/app.json:1:10")
            && r.stderr.contains("\"eighty\" is not of type \"integer\""),
        "{}",
        r.stderr
    );
    assert!(git(ws.root(), &["log", "--oneline"]).stdout.is_empty());

    ws.put("config/app.json", "{\"port\": 80}\n");
    git(ws.root(), &["add", "."]).ok();
    git(ws.root(), &["commit", "-q", "-m", "good"]).ok();
    assert_eq!(
        git(ws.root(), &["log", "--oneline"]).stdout.lines().count(),
        1
    );
}

#[test]
fn a_foreign_hook_is_kept_unless_forced_and_never_removed() {
    let ws = repo();
    let hook = ws.put(".git/hooks/pre-commit", "#!/bin/sh\necho mine\n");
    let r = ws.run(&["hook", "install"]).code(2);
    assert!(
        r.stderr.contains("was not written by cargo atomic"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\necho mine\n");
    ws.run(&["hook", "uninstall"]).code(2);
    assert!(hook.exists());
    ws.run(&["hook", "install", "--force"]).ok();
    assert!(
        fs::read_to_string(&hook)
            .unwrap()
            .contains("cargo-atomic pre-commit hook")
    );
    // Ours: reinstalled in place, then removed.
    let r = ws.run(&["hook", "install"]).ok();
    assert!(r.stderr.contains("Updated"), "{}", r.stderr);
    ws.run(&["hook", "uninstall"]).ok();
    assert!(!hook.exists());
    let r = ws.run(&["hook", "uninstall"]).ok();
    assert!(r.stderr.contains("Nothing"), "{}", r.stderr);
}

#[test]
fn the_hook_goes_where_core_hooks_path_says() {
    let ws = repo();
    git(ws.root(), &["config", "core.hooksPath", "tools/hooks"]).ok();
    ws.run(&["hook", "install"]).ok();
    assert!(ws.path("tools/hooks/pre-commit").exists());
    assert!(!ws.path(".git/hooks/pre-commit").exists());
}

#[test]
fn outside_a_git_repository_hook_install_is_a_clear_error() {
    let ws = Ws::new();
    let r = ws.run(&["hook", "install"]).code(2);
    assert!(
        r.stderr.contains("is not in a git repository"),
        "{}",
        r.stderr
    );
}

const LAYERS: &str = r#"[[merge]]
name = "app"
sources = ["base.json", "prod.json"]
output = "out/app.json"

[[merge]]
name = "other"
sources = ["other.json"]
output = "out/other.json"
"#;

#[test]
fn under_pre_commit_apply_acts_on_the_given_files_and_fails_after_a_change() {
    let ws = Ws::new();
    ws.put("atomic.toml", LAYERS);
    ws.put("base.json", "{\"a\": 1}");
    ws.put("prod.json", "{\"b\": 2}");
    ws.put("other.json", "{\"c\": 3}");
    let pre_commit = |args: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic")
            .args(args)
            .current_dir(ws.root())
            .env("PRE_COMMIT", "1");
        run(cmd, None)
    };
    // prod.json is staged: only its entry is applied, and the commit must stop for the output.
    let r = pre_commit(&["apply", "prod.json"]).code(1);
    assert!(
        r.stderr.contains("stage them and commit again"),
        "{}",
        r.stderr
    );
    assert!(ws.path("out/app.json").exists());
    assert!(!ws.path("out/other.json").exists());
    // Run again: nothing changes, the commit may go on.
    pre_commit(&["apply", "prod.json", "base.json"]).ok();
    // A file no entry uses: nothing to do.
    pre_commit(&["apply", "README.json"]).ok();
    // check of the given files only: other.json's output is missing, but not asked about.
    pre_commit(&["check", "base.json"]).ok();
    let r = pre_commit(&["check", "other.json", "--message-format", "short"]).code(1);
    assert!(
        r.stderr.contains("out/other.json: error[stale]"),
        "{}",
        r.stderr
    );
}

#[test]
fn pre_commit_checks_run_in_parallel() {
    let ws = Ws::new();
    ws.put("atomic.toml", LAYERS);
    ws.put("base.json", "{\"a\": 1}");
    ws.put("prod.json", "{\"b\": 2}");
    ws.put("other.json", "{\"c\": 3}");
    ws.run(&["apply"]).ok();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let file = ["base.json", "prod.json", "other.json", "out/app.json"][i % 4];
            Command::new(bin())
                .args(["atomic", "check", file])
                .current_dir(ws.root())
                .env("PRE_COMMIT", "1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
}

#[test]
fn init_writes_the_starter_files_and_never_overwrites() {
    let ws = Ws::new();
    ws.put(".gitignore", "/target\n");
    let r = ws.run(&["init"]).ok();
    assert!(r.stderr.contains("Written atomic.toml"), "{}", r.stderr);
    let config = ws.read("atomic.toml");
    let ignore = ws.read(".gitignore");
    snapshots(|| {
        insta::assert_snapshot!("init_atomic_toml", config);
        insta::assert_snapshot!("init_gitignore", ignore);
    });
    assert!(ws.path("schemas/example.schema.json").exists());
    // The starter config is valid and names the schema it wrote.
    ws.put(
        "config/app.json",
        "{\"name\": \"app\", \"server\": {\"port\": 80}}\n",
    );
    ws.run(&["validate"]).ok();
    // Never overwrites.
    let before = ws.snapshot();
    let r = ws.run(&["init"]).code(2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn completions_for_each_shell() {
    let ws = Ws::new();
    for (shell, needle) in [
        ("bash", "_cargo__atomic() {"),
        ("zsh", "#compdef cargo-atomic"),
        ("fish", "complete -c cargo-atomic"),
    ] {
        let r = ws.run(&["completions", shell]).ok();
        assert!(
            r.stdout.contains(needle),
            "{shell}: {}",
            &r.stdout[..200.min(r.stdout.len())]
        );
        assert!(r.stdout.contains("apply"), "{shell}");
    }
}

#[test]
fn the_pre_commit_framework_hooks_are_declared() {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.pre-commit-hooks.yaml"
    ))
    .unwrap();
    let hooks = &cargo_atomic::doc::parse(
        cargo_atomic::doc::Format::Yaml,
        text.as_bytes(),
        &Default::default(),
    )
    .unwrap()[0];
    let by_id = |id: &str| {
        hooks
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"] == id)
            .unwrap_or_else(|| panic!("no hook {id}"))
            .clone()
    };
    let check = by_id("atomic-check");
    assert_eq!(check["entry"], "cargo-atomic check");
    assert_eq!(check["language"], "rust");
    assert_eq!(
        check["types_or"],
        serde_json::json!(["json", "yaml", "toml"])
    );
    let validate = by_id("atomic-validate");
    assert_eq!(validate["entry"], "cargo-atomic validate");
    let apply = by_id("atomic-apply");
    assert_eq!(apply["entry"], "cargo-atomic apply");
    assert_eq!(apply["require_serial"], true);
}

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
    ws.put("README.json", "{}");
    pre_commit(&["apply", "README.json"]).ok();
    // check of the given files only: other.json's output is missing, but not asked about.
    pre_commit(&["check", "base.json"]).ok();
    let r = pre_commit(&["check", "other.json", "--message-format", "short"]).code(1);
    assert!(
        r.stdout.contains("out/other.json: error[stale]"),
        "{}",
        r.stdout
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

/// `git` with standard input (for `git add -p`'s answers).
fn git_stdin(dir: &Path, args: &[&str], input: &str) -> Run {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    run(cmd, Some(input.as_bytes()))
}

/// A repository with the hook installed, YAML and JSON under `config/` validated, one commit.
fn hooked_repo() -> Ws {
    let ws = Ws::new();
    git(ws.root(), &["init", "-q", "-b", "main"]).ok();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.json\", \"config/*.yaml\"]\nschema = \"schema.json\"\n\n\
         [[merge]]\nname = \"prod\"\nsources = [\"src/base.yaml\", \"src/prod.yaml\"]\n\
         output = \"rendered/prod.json\"\nschema = \"schema.json\"\n",
    );
    ws.put(
        "schema.json",
        r#"{"type": "object", "properties": {"port": {"type": "integer"}, "name": {"type": "string"}}}"#,
    );
    ws.put(".gitignore", ".atomic/\n");
    ws.put("src/base.yaml", "port: 80\n");
    ws.put("src/prod.yaml", "name: prod\n");
    ws.put("config/app.json", "{\"port\": 80}\n");
    ws.run(&["apply"]).ok();
    ws.run(&["hook", "install"]).ok();
    git(ws.root(), &["add", "."]).ok();
    git(ws.root(), &["commit", "-q", "-m", "start"]).ok();
    ws
}

fn commits(ws: &Ws) -> usize {
    git(ws.root(), &["log", "--oneline"]).stdout.lines().count()
}

/// Story: a file staged with `"eighty"` and then fixed only in the working tree was committed
/// broken, because the hook read the working tree.
#[test]
fn the_hook_judges_the_staged_content_not_the_working_tree() {
    let ws = hooked_repo();
    ws.put("config/app.json", "{\n  \"port\": \"eighty\"\n}\n");
    git(ws.root(), &["add", "config/app.json"]).ok();
    ws.put("config/app.json", "{\"port\": 8080}\n");
    let r = git(ws.root(), &["commit", "-q", "-m", "staged bad"]);
    assert_ne!(r.code, 0, "staged-bad/worktree-good must be refused");
    // At the staged text's line, not the working tree's (which has one line).
    assert!(
        r.stderr.contains("--> config/app.json:2:11")
            && r.stderr.contains("in the staged text (git's index)"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&ws), 1);
    assert_eq!(ws.read("config/app.json"), "{\"port\": 8080}\n");

    // The other way round: staged good, working tree bad, goes through as staged.
    ws.put("config/app.json", "{\"port\": 443}\n");
    git(ws.root(), &["add", "config/app.json"]).ok();
    ws.put("config/app.json", "{\"port\": \"bad\"}\n");
    git(ws.root(), &["commit", "-q", "-m", "staged good"]).ok();
    assert_eq!(commits(&ws), 2);
    let committed = git(ws.root(), &["show", "HEAD:config/app.json"])
        .ok()
        .stdout;
    assert_eq!(committed, "{\"port\": 443}\n");
    assert_eq!(ws.read("config/app.json"), "{\"port\": \"bad\"}\n");
}

#[test]
fn a_partially_staged_file_is_judged_by_its_staged_part() {
    let ws = hooked_repo();
    let body: String = (1..=10).map(|i| format!("k{i}: v\n")).collect();
    ws.put("config/app.yaml", &format!("port: 80\n{body}name: ok\n"));
    git(ws.root(), &["add", "config/app.yaml"]).ok();
    git(ws.root(), &["commit", "-q", "-m", "yaml"]).ok();
    // Two hunks: three lines on top (fine) and a bad `name` at the bottom.
    ws.put(
        "config/app.yaml",
        &format!("top1: x\ntop2: x\ntop3: x\nport: 80\n{body}name: 5\n"),
    );
    // Stage the bottom hunk only: the bad value sits at line 12 of the staged text (15 in
    // the working tree).
    git_stdin(ws.root(), &["add", "-p", "config/app.yaml"], "n\ny\n").ok();
    let staged = git(ws.root(), &["show", ":config/app.yaml"]).ok().stdout;
    assert_eq!(staged.lines().nth(11), Some("name: 5"), "{staged}");
    let r = git(ws.root(), &["commit", "-q", "-m", "bad hunk"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--> config/app.yaml:12:7"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&ws), 2);

    // Stage the good hunk alone (the bad one left in the working tree): accepted.
    git(ws.root(), &["reset", "-q", "config/app.yaml"]).ok();
    git_stdin(ws.root(), &["add", "-p", "config/app.yaml"], "y\nn\n").ok();
    git(ws.root(), &["commit", "-q", "-m", "good hunk"]).ok();
    assert_eq!(commits(&ws), 3);
    let committed = git(ws.root(), &["show", "HEAD:config/app.yaml"])
        .ok()
        .stdout;
    assert!(committed.starts_with("top1: x\n") && committed.ends_with("name: ok\n"));
}

#[test]
fn renamed_deleted_and_spaced_files_in_the_hook() {
    let ws = hooked_repo();
    // A rename is judged under its new name, from the index.
    git(ws.root(), &["mv", "config/app.json", "config/my app.json"]).ok();
    git(ws.root(), &["commit", "-q", "-m", "rename"]).ok();
    ws.put("config/my app.json", "{\"port\": \"x\"}\n");
    git(
        ws.root(),
        &["mv", "config/my app.json", "config/other app.json"],
    )
    .ok();
    git(ws.root(), &["add", "config/other app.json"]).ok();
    let r = git(ws.root(), &["commit", "-q", "-m", "rename bad"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--> config/other app.json:1:10"),
        "{}",
        r.stderr
    );
    ws.put("config/other app.json", "{\"port\": 1}\n");
    git(ws.root(), &["add", "config/other app.json"]).ok();
    git(ws.root(), &["commit", "-q", "-m", "rename good"]).ok();
    assert_eq!(commits(&ws), 3);

    // Deleting a validated file is fine; its working-tree copy (kept by `rm --cached`) is not
    // looked at.
    git(
        ws.root(),
        &["rm", "-q", "--cached", "config/other app.json"],
    )
    .ok();
    ws.put("config/other app.json", "{\"port\": \"junk\"}\n");
    git(ws.root(), &["commit", "-q", "-m", "delete"]).ok();
    assert_eq!(commits(&ws), 4);

    // Deleting a [[merge]] source breaks the output it feeds: refused, by name.
    git(ws.root(), &["rm", "-q", "src/prod.yaml"]).ok();
    let r = git(ws.root(), &["commit", "-q", "-m", "delete source"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("src/prod.yaml") && r.stderr.contains("not in the commit"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&ws), 4);
}

#[test]
fn check_staged_finds_an_output_left_stale_in_the_index() {
    let ws = hooked_repo();
    ws.put("src/prod.yaml", "name: production\n");
    git(ws.root(), &["add", "src/prod.yaml"]).ok();
    let r = ws.run(&["check", "--staged"]).code(1);
    assert!(r.stderr.contains("error[stale]"), "{}", r.stderr);
    // Applied, but the new output not staged: still stale as the commit would hold it.
    ws.run(&["apply"]).ok();
    ws.run(&["check"]).ok();
    let r = ws.run(&["check", "--staged"]).code(1);
    assert!(r.stderr.contains("error[stale]"), "{}", r.stderr);
    git(ws.root(), &["add", "rendered/prod.json"]).ok();
    ws.run(&["check", "--staged"]).ok();
    // Named files must be in the index.
    ws.put("config/new.json", "{}\n");
    let r = ws.run(&["check", "--staged", "config/new.json"]).code(2);
    assert!(r.stderr.contains("not in the git index"), "{}", r.stderr);
    // Nothing staged: nothing to judge.
    git(ws.root(), &["commit", "-q", "-m", "c"]).ok();
    ws.run(&["check", "--staged"]).ok();
}

#[test]
fn a_staged_schema_is_the_one_the_commit_is_judged_by() {
    let ws = hooked_repo();
    // The commit tightens the schema; the working tree has the old, loose one back.
    let loose = ws.read("schema.json");
    ws.put(
        "schema.json",
        r#"{"type": "object", "properties": {"port": {"type": "integer", "maximum": 50}}}"#,
    );
    git(ws.root(), &["add", "schema.json"]).ok();
    ws.put("schema.json", &loose);
    let r = ws.run(&["check", "--staged"]).code(1);
    // The data staged long ago breaks the staged schema, in the output it renders...
    assert!(
        r.stderr.contains("80 is greater than the maximum of 50"),
        "{}",
        r.stderr
    );
    // ...and the working tree alone is fine.
    ws.run(&["check"]).ok();
}

/// The repository is untrusted input: a staged blob past the size limit is never read.
#[test]
fn a_staged_file_past_the_size_limit_is_a_finding_not_a_read() {
    let ws = hooked_repo();
    let big = format!("[{}0]\n", "0,".repeat(17 * 1024 * 1024));
    ws.put("config/big.json", &big);
    git(ws.root(), &["add", "config/big.json"]).ok();
    std::fs::write(ws.path("config/big.json"), "{}\n").unwrap();
    let r = ws.run(&["check", "--staged"]).code(1);
    assert!(r.stderr.contains("past the limit"), "{}", r.stderr);
}

/// `git commit PATH` and `git commit -a` commit from a temporary index (`GIT_INDEX_FILE`): the
/// hook judges that, the content the commit really takes.
#[test]
fn commit_with_paths_or_all_is_judged_by_what_it_takes() {
    let ws = hooked_repo();
    ws.put("config/other.json", "{\"port\": 1}\n");
    git(ws.root(), &["add", "config/other.json"]).ok();
    git(ws.root(), &["commit", "-q", "-m", "other"]).ok();
    // Staged bad in the real index, but the commit takes only config/other.json.
    ws.put("config/app.json", "{\"port\": \"bad\"}\n");
    git(ws.root(), &["add", "config/app.json"]).ok();
    ws.put("config/other.json", "{\"port\": 2}\n");
    git(
        ws.root(),
        &["commit", "-q", "-m", "only other", "config/other.json"],
    )
    .ok();
    assert_eq!(commits(&ws), 3);
    // `-a` takes the working tree's config/other.json: bad now, so refused.
    ws.put("config/app.json", "{\"port\": 3}\n");
    ws.put("config/other.json", "{\"port\": \"worse\"}\n");
    let r = git(ws.root(), &["commit", "-q", "-a", "-m", "all"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--> config/other.json:1:10"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&ws), 3);
}

#[test]
fn a_killed_hook_install_leaves_no_temp_after_recover() {
    let ws = repo();
    let hooks = ws.path(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    // What a kill between creating the temp and renaming it leaves.
    std::fs::write(
        hooks.join(".pre-commit.0123456789abcdef.atomic-tmp"),
        "#!/bin/sh\n",
    )
    .unwrap();
    std::fs::write(hooks.join(".pre-commit.notours"), "keep\n").unwrap();
    // And what a killed `fetch` leaves beside atomic.lock.
    ws.put(".atomic.lock.0123456789abcdef.atomic-tmp", "[schemas]\n");
    ws.put(".atomic.lock.mine", "keep\n");
    ws.run(&["recover"]).ok();
    assert!(!ws.path(".atomic.lock.0123456789abcdef.atomic-tmp").exists());
    assert!(ws.path(".atomic.lock.mine").exists());
    assert!(
        !hooks
            .join(".pre-commit.0123456789abcdef.atomic-tmp")
            .exists()
    );
    assert!(
        hooks.join(".pre-commit.notours").exists(),
        "only the store's temp shape goes"
    );
    // And `hook install` cleans up before it writes, too.
    std::fs::write(hooks.join(".pre-commit.fedcba9876543210.atomic-tmp"), "").unwrap();
    ws.run(&["hook", "install"]).ok();
    assert!(
        !hooks
            .join(".pre-commit.fedcba9876543210.atomic-tmp")
            .exists()
    );
    assert!(hooks.join("pre-commit").is_file());
}

#[test]
fn the_state_directory_is_never_committed_whichever_command_made_it() {
    for (name, setup, args) in [
        ("set", "c.yaml", &["set", "c.yaml", "port=81"][..]),
        ("apply", "atomic.toml", &["apply"][..]),
    ] {
        let ws = Ws::new();
        git(ws.root(), &["init", "-q", "-b", "main"]).ok();
        ws.put("c.yaml", "port: 80\n");
        if setup == "atomic.toml" {
            ws.put(
                "atomic.toml",
                "[[merge]]\nname = \"c\"\nsources = [\"c.yaml\"]\noutput = \"out/c.json\"\n",
            );
        }
        ws.run(args).ok();
        assert!(
            ws.path(".atomic").is_dir(),
            "{name} made no state directory"
        );
        git(ws.root(), &["add", "-A"]).ok();
        let staged = git(ws.root(), &["diff", "--cached", "--name-only"])
            .ok()
            .stdout;
        assert!(
            !staged.contains(".atomic"),
            "{name}: state files staged:\n{staged}"
        );
        assert!(staged.contains("c.yaml"), "{name}: {staged}");
    }
}

//! A repository is input: anything under the state directory may have been committed by
//! someone else. Crafted journals, manifests, index and rotation records, state files that are
//! links to a file outside, and state directories that are not ours: every command refuses
//! (exit 2) and nothing outside the workspace nor inside it changes.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::Run;
use sha2::{Digest, Sha256};

/// A workspace `ws/` beside a directory `outside/` that no command may touch.
struct Scene {
    top: tempfile::TempDir,
}

const SECRET: &str = "outside/secret.txt";

impl Scene {
    fn new() -> Self {
        let top = tempfile::tempdir().unwrap();
        fs::create_dir_all(top.path().join("ws/.git")).unwrap();
        fs::write(top.path().join("ws/Cargo.toml"), "[workspace]\n").unwrap();
        fs::write(top.path().join("ws/.git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::create_dir_all(top.path().join("outside")).unwrap();
        fs::write(top.path().join(SECRET), "the user's own file\n").unwrap();
        // A temp planted where a crafted journal would have recovery rename it over the secret.
        fs::write(
            top.path()
                .join("outside/.secret.txt.0123456789abcdef.atomic-tmp"),
            "payload\n",
        )
        .unwrap();
        let s = Scene { top };
        // A real store, made by the tool itself.
        s.run_stdin(&["write", "a.json"], b"{\"a\": 1}\n").ok();
        s
    }

    fn ws(&self) -> PathBuf {
        self.top.path().join("ws")
    }

    fn state(&self, rel: &str) -> PathBuf {
        self.ws().join(".atomic").join(rel)
    }

    fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = std::process::Command::new(crate::support::bin());
        cmd.arg("atomic").args(args).current_dir(self.ws());
        // Only `write` reads its standard input; the others may exit before anyone writes it.
        let stdin = (args.first() == Some(&"write")).then_some(stdin);
        crate::support::run(cmd, stdin)
    }

    /// Every file and link under the top directory, state included, with its bytes or target.
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        walk(self.top.path(), self.top.path(), &mut out);
        out
    }

    /// Runs every command against the hostile state: each exits 2, says why, changes nothing.
    #[track_caller]
    fn refused_by_all(&self, why: &str) {
        let before = self.snapshot();
        for args in COMMANDS {
            let r = self.run_stdin(args, b"{\"a\": 2}\n");
            assert_eq!(
                r.code,
                2,
                "{why}: `{}` should exit 2\nstdout:\n{}\nstderr:\n{}",
                args.join(" "),
                r.stdout,
                r.stderr
            );
            assert!(
                r.stderr.contains("cannot be trusted")
                    || r.stderr.contains("symbolic link")
                    || r.stderr.contains("not a regular file"),
                "{why}: `{}` should say what it refused:\n{}",
                args.join(" "),
                r.stderr
            );
            assert_eq!(
                self.snapshot(),
                before,
                "{why}: `{}` changed the disk",
                args.join(" ")
            );
        }
    }
}

/// Commands that open the store, for reading or writing.
const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["verify"],
    &["recover"],
    &["write", "a.json"],
    &["backups", "list"],
    &["audit", "verify", "--deep"],
];

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_owned();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            out.insert(rel, format!("-> {}", fs::read_link(&p).unwrap().display()));
        } else if t.is_dir() {
            out.insert(rel, "dir".into());
            walk(root, &p, out);
        } else if rel.starts_with("ws/.atomic/lock") {
            out.insert(rel, "lock".into()); // a writer records its pid in it
        } else {
            out.insert(
                rel,
                String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned(),
            );
        }
    }
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A committed journal that replaces `a.json` by the temp `.a.json.<hex>.atomic-tmp`: what a
/// crash after the commit point leaves. `edit` changes it before it is written.
fn journal(scene: &Scene, edit: impl FnOnce(&mut serde_json::Value)) {
    let old = fs::read(scene.ws().join("a.json")).unwrap();
    let new = b"{\"a\": 3}\n";
    fs::write(scene.ws().join(".a.json.0123456789abcdef.atomic-tmp"), new).unwrap();
    let mut intent = serde_json::json!({
        "kind": "intent",
        "txid": "0000000000001-0123456789abcdef",
        "time": "2026-01-01T00:00:00.000Z",
        "command": "cargo atomic write a.json",
        "op": "write",
        "created_dirs": [],
        "manifest_temp": ".manifest.json.0123456789abcdef.atomic-tmp",
        "entries": [{
            "path": "a.json",
            "real": "a.json",
            "temp": ".a.json.0123456789abcdef.atomic-tmp",
            "before": {"sha256": sha(&old), "size": old.len()},
            "after": {"sha256": sha(new), "size": new.len()},
            "mode": 0o644,
            "uid": null,
            "gid": null,
            "backup_temp": null,
            "manifest_before": {"sha256": sha(&old), "size": old.len()},
        }],
    });
    edit(&mut intent);
    let text = format!("{intent}\n{{\"kind\":\"commit\"}}\n");
    fs::write(
        scene.state("journal/0000000000001-0123456789abcdef.jsonl"),
        text,
    )
    .unwrap();
}

#[test]
fn a_well_formed_journal_is_rolled_forward() {
    // The control: the crafted journal is one recovery accepts, so the refusals below are the
    // checks' doing and not a format mistake.
    let s = Scene::new();
    journal(&s, |_| {});
    s.run_stdin(&["check"], b"").ok();
    assert_eq!(
        fs::read_to_string(s.ws().join("a.json")).unwrap(),
        "{\"a\": 3}\n"
    );
}

#[test]
fn journal_paths_outside_the_workspace_are_refused() {
    let cases: &[(&str, &str, serde_json::Value)] = &[
        ("real", "relative escape", "../outside/secret.txt".into()),
        ("real", "absolute", "/etc/passwd".into()),
        ("path", "absolute path key", "/etc/passwd".into()),
        ("real", "into .git", ".git/HEAD".into()),
        ("real", "into the state dir", ".atomic/manifest.json".into()),
        ("real", "dot segments", "./a.json".into()),
        ("temp", "temp escaping", "../../outside/secret.txt".into()),
        (
            "temp",
            "temp of another file",
            ".b.json.0123456789abcdef.atomic-tmp".into(),
        ),
        (
            "backup_temp",
            "backup temp escaping",
            "../../../outside/secret.txt".into(),
        ),
    ];
    for (field, why, value) in cases {
        let s = Scene::new();
        journal(&s, |j| j["entries"][0][*field] = value.clone());
        s.refused_by_all(why);
    }
    let s = Scene::new();
    journal(&s, |j| {
        j["manifest_temp"] = "../../outside/secret.txt".into()
    });
    s.refused_by_all("manifest temp escaping");
    let s = Scene::new();
    journal(&s, |j| j["created_dirs"] = serde_json::json!([".."]));
    s.refused_by_all("created dir escaping");
    let s = Scene::new();
    journal(&s, |j| j["created_dirs"] = serde_json::json!(["other"]));
    s.refused_by_all("created dir unrelated to the files");
}

#[test]
fn a_journal_through_a_symlinked_directory_is_refused() {
    let s = Scene::new();
    symlink("../outside", s.ws().join("link")).unwrap();
    journal(&s, |j| {
        j["entries"][0]["path"] = "link/secret.txt".into();
        j["entries"][0]["real"] = "link/secret.txt".into();
        j["entries"][0]["temp"] = ".secret.txt.0123456789abcdef.atomic-tmp".into();
    });
    s.refused_by_all("real through a symlinked directory");
}

#[test]
fn records_naming_paths_outside_are_refused() {
    // The manifest.
    let s = Scene::new();
    let m = s.state("manifest.json");
    let text = fs::read_to_string(&m)
        .unwrap()
        .replace("\"a.json\"", "\"../outside/secret.txt\"");
    fs::write(&m, text).unwrap();
    let r = s.run_stdin(&["verify"], b"").code(2);
    assert!(r.stderr.contains("cannot be trusted"), "{}", r.stderr);

    // The backup index.
    let s = Scene::new();
    s.run_stdin(&["write", "a.json"], b"{\"a\": 2}\n").ok();
    let idx = s.state("backups.jsonl");
    let text = fs::read_to_string(&idx)
        .unwrap()
        .replace("\"a.json\"", "\"/etc/passwd\"");
    fs::write(&idx, text).unwrap();
    let before = s.snapshot();
    for args in [&["backups", "list"][..], &["backups", "restore", "a.json"]] {
        let r = s.run_stdin(args, b"").code(2);
        assert!(r.stderr.contains("cannot be trusted"), "{}", r.stderr);
    }
    assert_eq!(s.snapshot(), before);

    // The rotation record.
    let s = Scene::new();
    fs::write(
        s.ws().join("atomic.toml"),
        "[[rotate]]\nname = \"logs\"\nfiles = \"logs/*.log\"\nkeep-last = 1\n",
    )
    .unwrap();
    fs::create_dir_all(s.ws().join("logs")).unwrap();
    fs::write(
        s.state("rotations.json"),
        serde_json::json!({
            "version": 1,
            "files": [],
            "pending": [{"kind": "prune", "path": "../outside/secret.txt"}],
        })
        .to_string(),
    )
    .unwrap();
    let before = s.snapshot();
    let r = s.run_stdin(&["rotate"], b"").code(2);
    assert!(r.stderr.contains("cannot be trusted"), "{}", r.stderr);
    assert_eq!(s.snapshot(), before);
}

#[test]
fn state_files_as_links_to_a_file_outside_are_never_followed() {
    let outside = |s: &Scene| s.top.path().join(SECRET);
    for name in [
        "lock",
        "manifest.json",
        "backups.jsonl",
        "audit.jsonl",
        "audit.head",
    ] {
        let s = Scene::new();
        let p = s.state(name);
        let _ = fs::remove_file(&p);
        symlink(outside(&s), &p).unwrap();
        s.refused_by_all(name);
    }
    for dir in ["journal", "objects"] {
        let s = Scene::new();
        fs::remove_dir_all(s.state(dir)).unwrap();
        symlink(s.top.path().join("outside"), s.state(dir)).unwrap();
        s.refused_by_all(dir);
    }
}

#[test]
fn a_state_directory_that_is_a_link_is_refused() {
    let s = Scene::new();
    fs::rename(s.ws().join(".atomic"), s.top.path().join("outside/state")).unwrap();
    symlink("../outside/state", s.ws().join(".atomic")).unwrap();
    s.refused_by_all("state dir as a link");
}

#[test]
fn a_state_directory_that_is_not_ours_is_refused() {
    let s = Scene::new();
    fs::write(
        s.ws().join("atomic.toml"),
        "[settings]\nstate-dir = \"config\"\n",
    )
    .unwrap();
    fs::create_dir_all(s.ws().join("config")).unwrap();
    fs::write(s.ws().join("config/lock"), "the user's lock notes\n").unwrap();
    fs::write(s.ws().join("config/app.yaml"), "port: 80\n").unwrap();
    let before = s.snapshot();
    for args in COMMANDS {
        let r = s.run_stdin(args, b"{\"a\": 2}\n");
        if args[0] == "check" || args[0] == "verify" || args[0] == "backups" || args[0] == "audit" {
            // Readers find no store of ours and say so, or refuse; they never write.
            assert!(r.code == 2 || r.code == 0, "{args:?}: {}", r.stderr);
        } else {
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains("not cargo atomic's state directory"),
                "{}",
                r.stderr
            );
        }
        assert_eq!(s.snapshot(), before, "{args:?} changed the disk");
    }
}

#[test]
fn a_new_state_directory_is_marked_and_ignored_by_git() {
    let s = Scene::new();
    assert!(s.state("cargo-atomic-state").is_file());
    assert_eq!(fs::read_to_string(s.state(".gitignore")).unwrap(), "*\n");
}

#[test]
fn an_unmarked_store_of_ours_is_adopted() {
    let s = Scene::new();
    fs::remove_file(s.state("cargo-atomic-state")).unwrap();
    fs::remove_file(s.state(".gitignore")).unwrap();
    s.run_stdin(&["write", "a.json"], b"{\"a\": 2}\n").ok();
    assert!(s.state("cargo-atomic-state").is_file());
    s.run_stdin(&["verify"], b"").ok();
}

//! `backups prune` under `strace` fault injection (G3): killed (SIGKILL) or failed (EIO) at
//! every call of every system call that changes the state directory, then run again.
//!
//! After any kill or failure, no index record lacks its object (a backup is never listed but
//! gone), the stranger's files in `objects/` are untouched, and a failed run (exit 2) changed
//! neither the index nor the objects. A prune run afterwards succeeds and ends exactly where an
//! uninterrupted prune ends: the same index, the same objects, no pending list, no temp file.
//!
//! Needs `strace` and ptrace: without them the test fails when `CI` is set and is skipped
//! otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

const SYSCALLS: &[&str] = &[
    "openat",
    "write",
    "fsync",
    "fchmod",
    "renameat",
    "renameat2",
    "unlinkat",
    "ftruncate",
];
const MAX_N: usize = 200;

/// The index and the objects: what a prune changes.
#[derive(Debug, PartialEq, Eq)]
struct State {
    index: String,
    objects: BTreeMap<String, Vec<u8>>,
    others: Vec<String>,
}

fn state(root: &Path) -> State {
    let st = root.join(".atomic");
    let objects = fs::read_dir(st.join("objects"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let mut others: Vec<String> = fs::read_dir(&st)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            ![
                "objects",
                "journal",
                "lock",
                "cargo-atomic-state",
                ".gitignore",
                "manifest.json",
                "backups.jsonl",
                // The audit log records the prune; its own crash safety is tested with it.
                "audit.jsonl",
                "audit.head",
            ]
            .contains(&n.as_str())
        })
        .collect();
    others.sort();
    State {
        index: fs::read_to_string(st.join("backups.jsonl")).unwrap_or_default(),
        objects,
        others,
    }
}

/// Every record of the index has its object, with the bytes its name says.
fn no_record_lost(root: &Path) -> Result<(), String> {
    let st = root.join(".atomic");
    let index = fs::read_to_string(st.join("backups.jsonl")).map_err(|e| e.to_string())?;
    for line in index.lines() {
        let r: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
        let digest = r["sha256"].as_str().unwrap();
        let bytes = fs::read(st.join("objects").join(digest))
            .map_err(|e| format!("record {} lost its object: {e}", r["id"]))?;
        let actual = cargo_atomic::store::Sha256Digest::of(&bytes).to_string();
        if actual != digest {
            return Err(format!("object {digest} holds other bytes"));
        }
    }
    Ok(())
}

/// Runs `backups prune` in `root`, under strace with `(syscall, action, n, trace file)`.
fn prune(root: &Path, strace: Option<(&str, &str, usize, &Path)>) -> i32 {
    let mut cmd = match strace {
        Some((syscall, action, n, trace)) => {
            let mut c = Command::new("strace");
            c.args(["-f", "-qq", "-o"])
                .arg(trace)
                .arg("-e")
                .arg(format!("trace={syscall}"))
                .arg("-e")
                .arg(format!("inject={syscall}:{action}:when={n}"))
                .arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    cmd.args(["atomic", "backups", "prune", "-q"])
        .current_dir(root)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd.status().expect("run cargo-atomic");
    std::os::unix::process::ExitStatusExt::signal(&status)
        .map_or_else(|| status.code().unwrap_or(-1), |s| -s)
}

fn strace_works() -> bool {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A workspace with backups to drop (one of them sharing its object with a kept one) and a
/// stranger's files in `objects/`.
fn workspace() -> Ws {
    let ws = Ws::new();
    for c in ["one\n", "two\n", "one\n", "three\n", "four\n"] {
        ws.run_stdin(&["write", "a.json"], Some(c.as_bytes())).ok();
    }
    for c in ["b1\n", "b2\n", "b3\n"] {
        ws.run_stdin(&["write", "b.json"], Some(c.as_bytes())).ok();
    }
    ws.put("atomic.toml", "[backups]\nkeep-last = 1\n");
    ws.put(".atomic/objects/notes.txt", "mine\n");
    ws.put(
        &format!(".atomic/objects/{}", "0".repeat(64)),
        "also mine\n",
    );
    ws
}

fn copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    to
}

#[test]
fn prune_survives_a_kill_or_an_error_at_every_call() {
    if !strace_works() {
        assert!(std::env::var_os("CI").is_none(), "strace cannot run here");
        eprintln!("skipped: strace cannot run here");
        return;
    }
    let base = workspace();
    let before = state(base.root());
    let done = copy(base.root());
    assert_eq!(prune(done.path(), None), 0);
    let want = state(done.path());
    assert_ne!(want.index, before.index, "the set-up must drop backups");
    assert!(want.others.is_empty(), "{:?}", want.others);
    let mut points = 0;
    for syscall in SYSCALLS {
        for action in ["signal=SIGKILL", "error=EIO"] {
            for n in 1..=MAX_N {
                let run = copy(base.root());
                let root = run.path();
                let trace = tempfile::NamedTempFile::new().unwrap();
                let code = prune(root, Some((syscall, action, n, trace.path())));
                // An injected error is marked in the trace; a kill shows in the exit.
                let injected = code == -9
                    || fs::read_to_string(trace.path())
                        .unwrap()
                        .contains("INJECTED");
                let at = format!("{syscall} #{n} {action} (exit {code})");
                no_record_lost(root).unwrap_or_else(|e| panic!("after {at}: {e}"));
                let now = state(root);
                for stranger in ["notes.txt".to_owned(), "0".repeat(64)] {
                    assert!(
                        now.objects.contains_key(&stranger),
                        "after {at}: {stranger} gone"
                    );
                }
                if code == 2 {
                    assert_eq!(
                        (&now.index, &now.objects),
                        (&before.index, &before.objects),
                        "exit 2 after {at} changed the store"
                    );
                }
                assert_eq!(prune(root, None), 0, "the prune after {at} failed");
                assert_eq!(state(root), want, "after {at} and a second prune");
                assert!(leftover_temps(root).is_empty(), "after {at}");
                if let Err(e) = crate::crash::audit_sound(root) {
                    panic!("after {at} and a second prune: {e}");
                }
                if !injected {
                    assert_eq!(code, 0, "{at}: nothing injected, yet the run failed");
                    break; // the run makes fewer calls than n
                }
                points += 1;
            }
        }
    }
    eprintln!("{points} points swept");
    assert!(points > 40, "only {points} points swept");
}

fn leftover_temps(root: &Path) -> Vec<String> {
    fs::read_dir(root.join(".atomic"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".atomic-tmp"))
        .collect()
}

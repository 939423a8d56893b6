//! Crash and error sweeps (G1, G2, G6): the real binaries under `strace` fault injection.
//!
//! **Crash sweep.** For every file-system system call S that a run makes (found with
//! `strace -f -c`) and every N until a run completes, the run is killed with SIGKILL on entering
//! its Nth call of S. The next command (`verify` or `recover`, which recover first) must succeed,
//! and then: the workspace is wholly old or wholly new (every file and directory outside the state
//! directory, compared byte for byte with both, modes included, so the targets can never
//! disagree), no `*.atomic-tmp` is left anywhere, no journal is left, the manifest is exactly the
//! old or the new one and matches the disk, and when the new state won, a verified backup object
//! and an index record exist for every replaced or deleted version. A journal found after the
//! kill also says which side must win: without COMMIT (or with ABORT) the old one, with COMMIT the
//! new one.
//!
//! **Error sweep.** The same with the Nth call failing with EIO, ENOSPC, EACCES or EDQUOT (only
//! EIO for calls that only read). Exit 2 must mean "nothing changed": the workspace is
//! byte-identical to before, with no temp and no journal, and stderr names the file concerned.
//! A failure the program tolerates (reading `/proc/self/status`, say) may end in success, which
//! must then be wholly new and consistent. Any other exit code is a failure, except a failure of
//! the dynamic loader before `main` (exit 127), which is counted and skipped.
//!
//! **During recovery.** The transaction is killed on writing COMMIT, on its first rename into
//! place, and halfway through the renames; `recover` and `recover --rollback` are then swept for
//! crashes and for EIO, each followed by a command that must finish the job.
//!
//! **The audit log after any single fault** (issue 13.4): after every point, `audit verify
//! --deep` must pass (the chain whole, its head settled, each managed file in its last recorded
//! state, each implied backup there), and when the change won, every file it changed must have
//! a record naming its new state. A record that cannot be written leaves the journal in stage
//! APPLIED for the next command to write it; `audit verify --repair` is swept on its own.
//!
//! Scenarios: a transaction of the example `examples/txn.rs` (three files replaced in three
//! directories, one deleted, one created in a directory that does not exist yet),
//! `cargo-atomic atomic write` in a workspace without a store, `apply`, `set --apply` (a
//! user's source, left out of the manifest, and the output it feeds), and `unset`, `merge -o`,
//! `backups restore`, `init` and `hook install` (killed, and failed with EIO, at every call
//! that changes the file system). `rotate` and `backups prune` have their own files
//! (`crash_rotate.rs`, `prune_crash.rs`), with the same audit check.
//!
//! The store runs with `CARGO_ATOMIC_THREADS=1`: strace counts the calls it injects into per
//! thread, so only a single-threaded run lets N reach every call. One sweep also runs the
//! default, threaded store. Runs go in parallel on `ATOMIC_SWEEP_JOBS` threads (default: the
//! number of CPUs). `ATOMIC_SWEEP=full` sweeps more: a transaction of seven files, the reading
//! calls of the threaded store and of recovery, and every error during recovery.
//!
//! Needs `strace` and ptrace: without them the tests fail when `CI` is set (`.ci/run` installs
//! strace) and otherwise say SKIPPED, with how to install it, on the real stderr. `cargo test` builds the example; `cargo test --test it` alone does not, and the
//! tests then ask for `cargo build --example txn` rather than run an old build.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use cargo_atomic::store::{BackupRecord, FileState, Manifest, Sha256Digest};

use crate::support::bin;

/// System calls that change the file system (or take the lock): swept for crashes and for every
/// error. Whichever of these a run makes is swept; the names cover x86_64 and aarch64.
pub(crate) const MUTATING: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "write",
    "pwrite64",
    "writev",
    "pwritev",
    "pwritev2",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "unlink",
    "unlinkat",
    "rmdir",
    "mkdir",
    "mkdirat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "truncate",
    "ftruncate",
    "fallocate",
    "copy_file_range",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "flock",
];

/// System calls that only look: swept for crashes, and with EIO.
pub(crate) const READING: &[&str] = &[
    "read",
    "pread64",
    "readv",
    "preadv",
    "getdents64",
    "stat",
    "lstat",
    "fstat",
    "newfstatat",
    "statx",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "listxattr",
    "flistxattr",
    "getxattr",
    "fgetxattr",
];

const ERRORS: &[&str] = &["EIO", "ENOSPC", "EACCES", "EDQUOT"];

/// No sweep of one call should get near this; reaching it means the run never completes.
pub(crate) const MAX_N: usize = 5000;

/// The exit code of a command that could not run and changed nothing.
const FAILURE: i32 = cargo_atomic::exit::FAILURE;

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn crash_sweep_multi_file_transaction() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = txn_scenario(&ctx, Threads::One);
    let calls = discover(&sc, &[MUTATING, READING].concat());
    let jobs = jobs(&calls, &[Inject::Kill]);
    let stats = sweep(&ctx, &sc, &jobs);
    stats.report(&sc, "crash sweep", "kill points");
    stats.assert_at_least(150);
}

#[test]
fn crash_sweep_multi_file_transaction_threaded() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = txn_scenario(&ctx, Threads::Default);
    let set = if ctx.full {
        [MUTATING, READING].concat()
    } else {
        MUTATING.to_vec()
    };
    let calls = discover(&sc, &set);
    let jobs = jobs(&calls, &[Inject::Kill]);
    let stats = sweep(&ctx, &sc, &jobs);
    stats.report(&sc, "crash sweep", "kill points");
    stats.assert_at_least(40);
}

#[test]
fn crash_sweep_cli_write() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = cli_scenario();
    let calls = discover(&sc, &[MUTATING, READING].concat());
    let jobs = jobs(&calls, &[Inject::Kill]);
    let stats = sweep(&ctx, &sc, &jobs);
    stats.report(&sc, "crash sweep", "kill points");
    stats.assert_at_least(80);
}

#[test]
fn error_sweep_multi_file_transaction() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = txn_scenario(&ctx, Threads::One);
    let stats = error_sweep(&ctx, &sc);
    stats.report(&sc, "error sweep", "error points");
    stats.assert_at_least(300);
}

#[test]
fn error_sweep_cli_write() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = cli_scenario();
    let stats = error_sweep(&ctx, &sc);
    stats.report(&sc, "error sweep", "error points");
    stats.assert_at_least(150);
    let after = stats.after_commit.load(Ordering::Relaxed);
    assert!(after >= 20, "only {after} points after the commit point");
}

#[test]
fn crash_sweep_apply() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = apply_scenario();
    let calls = discover(&sc, &[MUTATING, READING].concat());
    let stats = sweep(&ctx, &sc, &jobs(&calls, &[Inject::Kill]));
    stats.report(&sc, "crash sweep", "kill points");
    stats.assert_at_least(100);
}

#[test]
fn error_sweep_apply() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = apply_scenario();
    let stats = if ctx.full {
        error_sweep(&ctx, &sc)
    } else {
        let calls = discover(&sc, MUTATING);
        sweep(&ctx, &sc, &jobs(&calls, &[Inject::Error("EIO")]))
    };
    stats.report(&sc, "error sweep", "error points");
    stats.assert_at_least(60);
}

/// `set --apply` (issue 15): a user's source and the output it feeds in one transaction; after
/// any kill the source is not in the manifest and the output is, wholly old or wholly new.
#[test]
fn crash_sweep_set_apply() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = set_apply_scenario();
    let calls = discover(&sc, MUTATING);
    let stats = sweep(&ctx, &sc, &jobs(&calls, &[Inject::Kill]));
    stats.report(&sc, "crash sweep", "kill points");
    stats.assert_at_least(80);
}

/// Every other command that writes (issue 13), killed at every call that changes the file
/// system and failed there with EIO: `unset`, `merge -o`, `backups restore`, `init` and
/// `hook install`, each with the checks of every sweep (wholly old or wholly new, no temp, no
/// journal, the manifest, the backups, `audit verify --deep`, the change recorded).
#[test]
fn crash_sweep_every_writing_command() {
    let Some(ctx) = Ctx::new() else { return };
    let mut total = Stats::default();
    for sc in command_scenarios() {
        let calls = discover(&sc, MUTATING);
        let stats = sweep(&ctx, &sc, &jobs(&calls, &[Inject::Kill]));
        stats.report(&sc, "crash sweep", "kill points");
        assert!(
            stats.hits.load(Ordering::Relaxed) >= 10,
            "{}: too few points",
            sc.name
        );
        total.absorb(stats);
    }
    total.assert_at_least(150);
}

#[test]
fn error_sweep_every_writing_command() {
    let Some(ctx) = Ctx::new() else { return };
    let mut total = Stats::default();
    for sc in command_scenarios() {
        let stats = if ctx.full {
            error_sweep(&ctx, &sc)
        } else {
            let calls = discover(&sc, MUTATING);
            sweep(&ctx, &sc, &jobs(&calls, &[Inject::Error("EIO")]))
        };
        stats.report(&sc, "error sweep", "error points");
        total.absorb(stats);
    }
    total.assert_at_least(150);
}

#[test]
fn error_sweep_set_apply() {
    let Some(ctx) = Ctx::new() else { return };
    let sc = set_apply_scenario();
    let stats = if ctx.full {
        error_sweep(&ctx, &sc)
    } else {
        let calls = discover(&sc, MUTATING);
        sweep(&ctx, &sc, &jobs(&calls, &[Inject::Error("EIO")]))
    };
    stats.report(&sc, "error sweep", "error points");
    stats.assert_at_least(60);
}

#[test]
fn crash_sweep_during_recovery() {
    let Some(ctx) = Ctx::new() else { return };
    let mut total = Stats::default();
    for sc in recovery_scenarios(&ctx) {
        let set = if ctx.full {
            [MUTATING, READING].concat()
        } else {
            MUTATING.to_vec()
        };
        let calls = discover(&sc, &set);
        let stats = sweep(&ctx, &sc, &jobs(&calls, &[Inject::Kill]));
        stats.report(&sc, "crash sweep", "kill points");
        total.absorb(stats);
    }
    total.assert_at_least(150);
}

#[test]
fn error_sweep_during_recovery() {
    let Some(ctx) = Ctx::new() else { return };
    let mut total = Stats::default();
    for sc in recovery_scenarios(&ctx) {
        // EIO only, unless asked for more: what recovery does on any error is the same.
        let stats = if ctx.full {
            error_sweep(&ctx, &sc)
        } else {
            let calls = discover(&sc, &[MUTATING, READING].concat());
            sweep(&ctx, &sc, &jobs(&calls, &[Inject::Error("EIO")]))
        };
        stats.report(&sc, "error sweep", "error points");
        total.absorb(stats);
    }
    total.assert_at_least(250);
}

/// `recover` and `recover --rollback` on the transaction killed at three points: on writing
/// COMMIT (a prepared journal, every temp staged), on the first rename into place (committed,
/// nothing renamed), and two renames later (committed, half done).
fn recovery_scenarios(ctx: &Ctx) -> Vec<Scenario> {
    let txn = txn_scenario(ctx, Threads::One);
    let marks = commit_marks(&txn);
    let crashed = [
        ("prepared", marks.write.as_str(), marks.commit_write),
        ("committed", marks.rename.as_str(), marks.first_rename),
        (
            "half-renamed",
            marks.rename.as_str(),
            marks.first_rename + 2,
        ),
    ];
    let mut out = Vec::new();
    for (label, syscall, n) in crashed {
        for rollback in [false, true] {
            out.push(recovery_scenario(&txn, label, syscall, n, rollback));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Scenarios: a workspace before, what runs on it, and the two states it may end in

/// Whether the store may use worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// `CARGO_ATOMIC_THREADS=1`: every call on one thread, so every call can be reached.
    One,
    /// As shipped.
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Old,
    New,
}

/// What runs, on a copy of `template`, and what must hold afterwards.
struct Scenario {
    name: String,
    /// Holds `ws/`, the workspace every run starts from (copied, state directory included).
    template: tempfile::TempDir,
    program: PathBuf,
    /// `{root}` is replaced by the run's workspace root.
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    threads: Threads,
    /// Everything outside the state directory, before and after the change.
    old: Tree,
    new: Tree,
    /// The manifest's files, before and after.
    old_manifest: BTreeMap<String, FileState>,
    new_manifest: BTreeMap<String, FileState>,
    /// Files whose old bytes the change replaces or deletes: each needs a backup once new.
    replaced: Vec<(String, Vec<u8>)>,
    /// Where an uninterrupted run ends.
    completes_to: Side,
    /// The program is the recovery of an interrupted transaction.
    recovering: bool,
    /// The uninterrupted run keeps an audit log: then every change that won must be recorded.
    audited: bool,
    /// The commands that recover after a kill, alternated (`verify` and `recover` recover
    /// transactions; only `recover` removes a killed `hook install`'s temp file).
    recovers_with: [&'static str; 2],
}

impl Scenario {
    fn template_root(&self) -> PathBuf {
        self.template.path().join("ws")
    }

    /// The program's arguments for a run in `root`.
    fn args(&self, root: &Path) -> Vec<String> {
        let root = root.to_string_lossy();
        self.args
            .iter()
            .map(|a| a.replace("{root}", &root))
            .collect()
    }

    /// The program, uninterrupted, in `root`.
    fn command(&self, root: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args(root));
        configure(&mut cmd, root, self.threads);
        cmd
    }
}

/// The multi-file transaction: three files replaced in three directories (one of them with mode
/// 0600, one not yet managed by the store), one deleted, and one created in a directory that
/// does not exist yet (inside an existing empty one, which must survive a rollback).
fn txn_scenario(ctx: &Ctx, threads: Threads) -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(&root, "keep.txt", b"untouched\n");
    fs::create_dir_all(root.join("d")).unwrap();
    let mut managed = vec!["a/one.json", "b/c/two.json", "a/del.json"];
    let mut replaced = vec!["a/one.json", "b/c/two.json", "top.json"];
    if ctx.full {
        managed.extend(["b/three.json", "b/c/four.json", "e/f/five.json"]);
        replaced.extend(["b/three.json", "b/c/four.json", "e/f/five.json"]);
    }
    let old_bytes = |p: &str| format!("{{\"file\": \"{p}\", \"version\": \"old\"}}\n");
    let new_bytes = |p: &str| format!("{{\"file\": \"{p}\", \"version\": \"new\", \"n\": 2}}\n");
    let source = |p: &str, v: &str| format!("in/{}.{v}", p.replace('/', "_"));
    for p in replaced.iter().chain(["a/del.json", "d/e/new.json"].iter()) {
        put(&root, &source(p, "old"), old_bytes(p).as_bytes());
        put(&root, &source(p, "new"), new_bytes(p).as_bytes());
    }
    // The managed files are written through the store, so the manifest knows them.
    let mut setup = Command::new(ctx.txn.clone());
    setup.arg(&root);
    for p in &managed {
        setup.arg(format!(
            "write:{p}={}",
            root.join(source(p, "old")).display()
        ));
    }
    configure(&mut setup, &root, Threads::Default);
    let out = exec(setup, None);
    assert_eq!(out.code(), Some(0), "setting up the workspace: {out}");
    put(&root, "top.json", old_bytes("top.json").as_bytes());
    fs::set_permissions(root.join("a/one.json"), fs::Permissions::from_mode(0o600)).unwrap();

    let mut args = vec!["{root}".to_owned()];
    for p in replaced.iter().chain(["d/e/new.json"].iter()) {
        args.push(format!("write:{p}={{root}}/{}", source(p, "new")));
    }
    args.push("delete:a/del.json".into());
    let mut replaced_bytes: Vec<(String, Vec<u8>)> = replaced
        .iter()
        .map(|p| (p.to_string(), old_bytes(p).into_bytes()))
        .collect();
    replaced_bytes.push(("a/del.json".into(), old_bytes("a/del.json").into_bytes()));
    let name = match threads {
        Threads::One => "multi-file transaction",
        Threads::Default => "multi-file transaction, threaded store",
    };
    let sc = finish_scenario(
        name,
        template,
        ctx.txn.clone(),
        args,
        None,
        threads,
        replaced_bytes,
    );
    // The clean run did what the transaction says.
    let file = |t: &Tree, p: &str| match t.get(Path::new(p)) {
        Some(Node::File { bytes, mode }) => Some((bytes.clone(), *mode)),
        _ => None,
    };
    for p in &replaced {
        assert_eq!(
            file(&sc.new, p).unwrap().0,
            new_bytes(p).into_bytes(),
            "{p}"
        );
    }
    assert_eq!(file(&sc.new, "a/one.json").unwrap().1, 0o600, "mode kept");
    assert!(file(&sc.new, "d/e/new.json").is_some());
    assert!(file(&sc.new, "a/del.json").is_none());
    assert!(sc.new.contains_key(Path::new("d/e")) && !sc.old.contains_key(Path::new("d/e")));
    sc
}

/// `cargo-atomic atomic write config/app.json` from stdin, in a workspace whose store does not
/// exist yet (so creating the state directory is swept too).
fn cli_scenario() -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    let old = b"{\"port\": 80, \"host\": \"old.example\"}\n".to_vec();
    put(&root, "config/app.json", &old);
    fs::set_permissions(
        root.join("config/app.json"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let sc = finish_scenario(
        "cli write",
        template,
        bin(),
        vec!["atomic".into(), "write".into(), "config/app.json".into()],
        Some(b"{\"port\": 8080, \"host\": \"new.example\"}\n".to_vec()),
        Threads::One,
        vec![("config/app.json".into(), old)],
    );
    assert!(!sc.template_root().join(".atomic").exists());
    sc
}

/// `cargo-atomic atomic apply` of three `[[merge]]` outputs in three directories: one applied
/// before (managed, with a backup to keep), one written by hand (unmanaged), one in a directory
/// that does not exist yet. Its sources changed since the last apply.
fn apply_scenario() -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(
        &root,
        "atomic.toml",
        br#"[[merge]]
name = "prod"
sources = ["config/base.yaml", "config/prod.toml"]
output = "out/prod.json"
schema = "schemas/app.schema.json"

[[merge]]
name = "dev"
sources = ["config/base.yaml", "config/dev.json"]
output = "deploy/dev.yaml"

[[merge]]
name = "ci"
sources = ["config/base.yaml"]
output = "gen/ci/app.toml"
"#,
    );
    put(
        &root,
        "schemas/app.schema.json",
        br#"{"type": "object", "required": ["port"], "properties": {"port": {"type": "integer"}}}"#,
    );
    put(&root, "config/base.yaml", b"port: 80\nhost: base.example\n");
    put(&root, "config/prod.toml", b"port = 443\n");
    put(&root, "config/dev.json", b"{\"debug\": true}\n");
    let mut setup = Command::new(bin());
    setup.args(["atomic", "apply", "prod"]);
    configure(&mut setup, &root, Threads::Default);
    let out = exec(setup, None);
    assert_eq!(out.code(), Some(0), "setting up the workspace: {out}");
    let old_prod = fs::read(root.join("out/prod.json")).unwrap();
    put(&root, "deploy/dev.yaml", b"# written by hand\nport: 1\n");
    put(
        &root,
        "config/base.yaml",
        b"port: 8080\nhost: new.example\n",
    );
    put(&root, "config/prod.toml", b"port = 8443\n");
    let sc = finish_scenario(
        "apply",
        template,
        bin(),
        vec!["atomic".into(), "apply".into()],
        None,
        Threads::One,
        vec![
            ("out/prod.json".into(), old_prod),
            (
                "deploy/dev.yaml".into(),
                b"# written by hand\nport: 1\n".to_vec(),
            ),
        ],
    );
    let file = |t: &Tree, p: &str| match t.get(Path::new(p)) {
        Some(Node::File { bytes, .. }) => String::from_utf8(bytes.clone()).ok(),
        _ => None,
    };
    assert!(file(&sc.new, "out/prod.json").unwrap().contains("8443"));
    assert!(
        file(&sc.new, "deploy/dev.yaml")
            .unwrap()
            .contains("debug: true")
    );
    assert!(file(&sc.new, "gen/ci/app.toml").unwrap().contains("8080"));
    assert!(!sc.old.contains_key(Path::new("gen")));
    sc
}

/// `set config/prod.toml port=8443 --apply` after an `apply`: the source (the user's, never in
/// the manifest) and `out/prod.json` (managed) change together.
fn set_apply_scenario() -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(
        &root,
        "atomic.toml",
        b"[[merge]]\nname = \"prod\"\nsources = [\"config/base.yaml\", \"config/prod.toml\"]\noutput = \"out/prod.json\"\n",
    );
    put(&root, "config/base.yaml", b"port: 80\nhost: base.example\n");
    put(&root, "config/prod.toml", b"# production\nport = 443\n");
    let mut setup = Command::new(bin());
    setup.args(["atomic", "apply"]);
    configure(&mut setup, &root, Threads::Default);
    let out = exec(setup, None);
    assert_eq!(out.code(), Some(0), "setting up the workspace: {out}");
    let old_prod = fs::read(root.join("out/prod.json")).unwrap();
    let sc = finish_scenario(
        "set --apply",
        template,
        bin(),
        ["atomic", "set", "config/prod.toml", "port=8443", "--apply"]
            .map(String::from)
            .to_vec(),
        None,
        Threads::One,
        vec![
            ("out/prod.json".into(), old_prod),
            (
                "config/prod.toml".into(),
                b"# production\nport = 443\n".to_vec(),
            ),
        ],
    );
    assert!(!sc.new_manifest.contains_key("config/prod.toml"));
    assert!(sc.new_manifest.contains_key("out/prod.json"));
    assert_ne!(sc.old_manifest, sc.new_manifest);
    sc
}

/// The writing commands not swept above, each in a workspace with a store and a history.
fn command_scenarios() -> Vec<Scenario> {
    let cli = |args: &[&str]| -> Vec<String> {
        std::iter::once("atomic")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    };
    let setup = |root: &Path, args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic").args(args);
        configure(&mut cmd, root, Threads::Default);
        let out = exec(cmd, stdin);
        assert_eq!(out.code(), Some(0), "setting up: {args:?}: {out}");
    };
    let mut out = Vec::new();

    // `unset` of a key in a user's TOML file (its comments kept), in a workspace with a store.
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    let old = b"# kept\nport = 80\nhost = \"h\"\n".to_vec();
    put(&root, "config/c.toml", &old);
    setup(&root, &["write", "w.json"], Some(b"{}\n"));
    out.push(finish_scenario(
        "unset",
        template,
        bin(),
        cli(&["unset", "config/c.toml", "host"]),
        None,
        Threads::One,
        vec![("config/c.toml".into(), old)],
    ));

    // `merge -o` over an output written before, and into a new directory.
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(&root, "config/a.yaml", b"a: 1\nlist: [1, 2]\n");
    put(&root, "config/b.toml", b"b = 2\n");
    setup(&root, &["merge", "config/a.yaml", "-o", "out/m.json"], None);
    let old = fs::read(root.join("out/m.json")).unwrap();
    out.push(finish_scenario(
        "merge -o",
        template,
        bin(),
        cli(&[
            "merge",
            "config/a.yaml",
            "config/b.toml",
            "-o",
            "out/m.json",
        ]),
        None,
        Threads::One,
        vec![("out/m.json".into(), old)],
    ));

    // `backups restore` of the version before the last.
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    setup(&root, &["write", "a.json"], Some(b"{\"v\": 1}\n"));
    setup(&root, &["write", "a.json"], Some(b"{\"v\": 2}\n"));
    out.push(finish_scenario(
        "backups restore",
        template,
        bin(),
        cli(&["backups", "restore", "a.json"]),
        None,
        Threads::One,
        vec![("a.json".into(), b"{\"v\": 2}\n".to_vec())],
    ));

    // `init` in a Rust workspace without a configuration.
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(&root, "config/app.json", b"{\"port\": 80}\n");
    out.push(finish_scenario(
        "init",
        template,
        bin(),
        cli(&["init"]),
        None,
        Threads::One,
        Vec::new(),
    ));

    // `hook install` in a git repository with a pre-commit hook of its own.
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&root)
        .status()
        .expect("git");
    assert!(git.success());
    let mut hook = finish_scenario(
        "hook install",
        template,
        bin(),
        cli(&["hook", "install"]),
        None,
        Threads::One,
        Vec::new(),
    );
    hook.recovers_with = ["recover", "recover"];
    out.push(hook);
    out
}

/// Runs the change once, uninterrupted, on a copy of the template to learn the new state.
fn finish_scenario(
    name: &str,
    template: tempfile::TempDir,
    program: PathBuf,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    threads: Threads,
    replaced: Vec<(String, Vec<u8>)>,
) -> Scenario {
    let mut sc = Scenario {
        name: name.to_owned(),
        template,
        program,
        args,
        stdin,
        threads,
        old: Tree::new(),
        new: Tree::new(),
        old_manifest: BTreeMap::new(),
        new_manifest: BTreeMap::new(),
        replaced,
        completes_to: Side::New,
        recovering: false,
        audited: false,
        recovers_with: ["verify", "recover"],
    };
    let root = sc.template_root();
    sc.old = snapshot(&root);
    sc.old_manifest = manifest(&root).expect("the template's manifest");
    let run = RunDir::new(&sc);
    let out = exec(sc.command(&run.root), sc.stdin.as_deref());
    assert_eq!(
        out.code(),
        Some(0),
        "{name}: the uninterrupted run failed: {out}"
    );
    sc.new = snapshot(&run.root);
    sc.new_manifest = manifest(&run.root).expect("the manifest after the change");
    sc.audited = run.root.join(".atomic/audit.jsonl").exists();
    assert_ne!(sc.old, sc.new, "{name}: the change changes nothing");
    sc
}

/// Where to kill a transaction to leave a journal at each stage.
struct CommitMarks {
    /// The `write` family call that writes COMMIT, and its number.
    write: String,
    commit_write: usize,
    /// The rename call, and the number of the first rename of a target into place.
    rename: String,
    first_rename: usize,
}

/// The strace output (with 256 bytes of each argument) of an uninterrupted run of `sc`,
/// tracing only `set`.
fn trace_of(sc: &Scenario, set: &[&str]) -> String {
    let run = RunDir::new(sc);
    let trace = run.dir.path().join("trace");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-s", "256", "-o"])
        .arg(&trace)
        .arg("-e")
        .arg(format!("trace={}", set.join(",")))
        .arg(&sc.program)
        .args(sc.args(&run.root));
    configure(&mut cmd, &run.root, sc.threads);
    let out = exec(cmd, sc.stdin.as_deref());
    assert_eq!(out.code(), Some(0), "tracing {}: {out}", sc.name);
    fs::read_to_string(&trace).unwrap()
}

/// Whether a traced `write` line writes the journal's COMMIT record.
fn writes_commit(line: &str) -> bool {
    line.contains("\\\"kind\\\":\\\"commit\\\"")
}

fn commit_marks(sc: &Scenario) -> CommitMarks {
    let text = trace_of(sc, &["write", "rename", "renameat", "renameat2"]);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut write = None;
    let mut rename = None;
    for line in text.lines() {
        let Some(name) = syscall_name(line) else {
            continue;
        };
        let n = counts.entry(name.to_owned()).or_default();
        *n += 1;
        if name == "write" && writes_commit(line) && write.is_none() {
            write = Some((name.to_owned(), *n));
        }
        if name.starts_with("rename") && line.contains("\"one.json\")") && rename.is_none() {
            rename = Some((name.to_owned(), *n));
        }
    }
    let (write, commit_write) = write.unwrap_or_else(|| panic!("no COMMIT write in\n{text}"));
    let (rename, first_rename) =
        rename.unwrap_or_else(|| panic!("no rename into place in\n{text}"));
    CommitMarks {
        write,
        commit_write,
        rename,
        first_rename,
    }
}

/// `recover` (or `recover --rollback`) on a workspace left by killing `txn` at call `n` of
/// `syscall`.
fn recovery_scenario(
    txn: &Scenario,
    label: &str,
    syscall: &str,
    n: usize,
    rollback: bool,
) -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    copy_tree(&txn.template_root(), &root);
    let mut cmd = strace_inject(
        &txn.program,
        syscall,
        Inject::Kill,
        n,
        &template.path().join("t"),
    );
    cmd.args(txn.args(&root));
    configure(&mut cmd, &root, txn.threads);
    let out = exec(cmd, txn.stdin.as_deref());
    assert!(
        out.killed(),
        "killing the transaction at {syscall} #{n}: {out}"
    );
    let journals = journals(&root);
    assert_eq!(journals.len(), 1, "one journal after the kill");
    let stage = journal_stage(&journals[0]);
    let expect_stage = if label == "prepared" {
        Stage::Prepared
    } else {
        Stage::Committed
    };
    assert_eq!(stage, expect_stage, "{label}: killed at {syscall} #{n}");
    let mut args = vec!["atomic".to_owned(), "recover".to_owned()];
    if rollback {
        args.push("--rollback".into());
    }
    let completes_to = if rollback || stage == Stage::Prepared {
        Side::Old
    } else {
        Side::New
    };
    Scenario {
        name: format!(
            "{} after a kill ({label})",
            if rollback {
                "recover --rollback"
            } else {
                "recover"
            }
        ),
        template,
        program: bin(),
        args,
        stdin: None,
        threads: Threads::One,
        old: txn.old.clone(),
        new: txn.new.clone(),
        old_manifest: txn.old_manifest.clone(),
        new_manifest: txn.new_manifest.clone(),
        replaced: txn.replaced.clone(),
        completes_to,
        recovering: true,
        audited: txn.audited,
        recovers_with: txn.recovers_with,
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeping

/// Where in the strace `trace_text` the fault was injected: the last traced call for a kill,
/// the call marked `(INJECTED)` for an error; for failure messages.
pub(crate) fn injected_at(trace_text: &str, inject: Inject) -> String {
    let line = match inject {
        Inject::Kill => trace_text.lines().last(),
        Inject::Error(_) => trace_text.lines().find(|l| l.contains("(INJECTED)")),
    };
    format!("\n  at: {}", line.unwrap_or("?"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inject {
    Kill,
    Error(&'static str),
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inject::Kill => f.write_str("SIGKILL"),
            Inject::Error(e) => f.write_str(e),
        }
    }
}

/// One system call, one injection, every N.
struct Job {
    syscall: String,
    inject: Inject,
    /// Calls in an uninterrupted run: for ordering only (longest first).
    calls: usize,
}

fn jobs(calls: &[(String, usize)], injects: &[Inject]) -> Vec<Job> {
    let mut out = Vec::new();
    for (syscall, n) in calls {
        for &inject in injects {
            out.push(Job {
                syscall: syscall.clone(),
                inject,
                calls: *n,
            });
        }
    }
    out.sort_by_key(|j| std::cmp::Reverse(j.calls));
    out
}

fn error_sweep(ctx: &Ctx, sc: &Scenario) -> Stats {
    let calls = discover(sc, &[MUTATING, READING].concat());
    let mut jobs = Vec::new();
    for (syscall, n) in &calls {
        let errors: &[&'static str] = if MUTATING.contains(&syscall.as_str()) {
            ERRORS
        } else {
            &["EIO"]
        };
        for e in errors {
            jobs.push(Job {
                syscall: syscall.clone(),
                inject: Inject::Error(e),
                calls: *n,
            });
        }
    }
    jobs.sort_by_key(|j| std::cmp::Reverse(j.calls));
    sweep(ctx, sc, &jobs)
}

/// What one injection led to.
enum Point {
    /// Injected, and everything held.
    Hit,
    /// The dynamic loader failed before `main`: not the program's business.
    Loader,
    /// Nothing was injected: the run has fewer calls than N; this job is done.
    End,
}

#[derive(Default)]
struct Stats {
    hits: AtomicUsize,
    /// Error points whose call comes after the COMMIT record (issue 13.4: the rule must hold
    /// there too, the audit records included).
    after_commit: AtomicUsize,
    loader: AtomicUsize,
    per_syscall: Mutex<BTreeMap<String, usize>>,
    failures: Mutex<Vec<String>>,
    elapsed: Duration,
}

impl Stats {
    fn absorb(&mut self, other: Stats) {
        *self.hits.get_mut() += other.hits.into_inner();
        *self.after_commit.get_mut() += other.after_commit.into_inner();
        *self.loader.get_mut() += other.loader.into_inner();
        self.failures
            .get_mut()
            .unwrap()
            .extend(other.failures.into_inner().unwrap());
        for (k, v) in other.per_syscall.into_inner().unwrap() {
            *self.per_syscall.get_mut().unwrap().entry(k).or_default() += v;
        }
        self.elapsed += other.elapsed;
    }

    fn report(&self, sc: &Scenario, what: &str, unit: &str) {
        let per = self.per_syscall.lock().unwrap();
        let detail: Vec<String> = per.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let failures = self.failures.lock().unwrap();
        let verdict = if failures.is_empty() {
            "all recovered"
        } else {
            "FAILED"
        };
        let loader = self.loader.load(Ordering::Relaxed);
        let after = self.after_commit.load(Ordering::Relaxed);
        eprintln!(
            "{what} ({}): {} {unit}{} over {} syscalls, {verdict} in {:.1}s{} [{}]",
            sc.name,
            self.hits.load(Ordering::Relaxed),
            if after > 0 {
                format!(" ({after} after the commit point)")
            } else {
                String::new()
            },
            per.len(),
            self.elapsed.as_secs_f64(),
            if loader > 0 {
                format!(" ({loader} points in the dynamic loader skipped)")
            } else {
                String::new()
            },
            detail.join(", ")
        );
    }

    #[track_caller]
    fn assert_at_least(&self, min: usize) {
        let failures = self.failures.lock().unwrap();
        if !failures.is_empty() {
            let shown: Vec<&String> = failures.iter().take(12).collect();
            panic!(
                "{} of the swept points failed; the first {}:\n\n{}",
                failures.len(),
                shown.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n")
            );
        }
        let hits = self.hits.load(Ordering::Relaxed);
        assert!(
            hits >= min,
            "only {hits} points were swept (expected at least {min}): is strace injecting?"
        );
    }
}

/// Runs every job (each N = 1, 2, ... until nothing is injected) on the worker threads.
fn sweep(ctx: &Ctx, sc: &Scenario, jobs: &[Job]) -> Stats {
    let started = Instant::now();
    let mut stats = Stats::default();
    let next = AtomicUsize::new(0);
    let before = if jobs.iter().any(|j| matches!(j.inject, Inject::Error(_))) {
        let set: BTreeSet<&str> = jobs.iter().map(|j| j.syscall.as_str()).collect();
        calls_before_commit(sc, &set.into_iter().collect::<Vec<_>>())
    } else {
        BTreeMap::new()
    };
    std::thread::scope(|s| {
        for _ in 0..ctx.jobs.min(jobs.len()).max(1) {
            s.spawn(|| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    sweep_job(sc, job, &stats, &before);
                }
            });
        }
    });
    stats.elapsed = started.elapsed();
    stats
}

/// For each of `set`, how many of its calls an uninterrupted run makes up to and including the
/// write of the journal's COMMIT record: a later call is after the commit point. Empty when
/// the run writes no COMMIT.
fn calls_before_commit(sc: &Scenario, set: &[&str]) -> BTreeMap<String, usize> {
    let mut traced: BTreeSet<&str> = set.iter().copied().collect();
    traced.insert("write");
    let text = trace_of(sc, &traced.into_iter().collect::<Vec<_>>());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let Some(name) = syscall_name(line) else {
            continue;
        };
        *counts.entry(name.to_owned()).or_default() += 1;
        if name == "write" && writes_commit(line) {
            return counts;
        }
    }
    BTreeMap::new()
}

fn sweep_job(sc: &Scenario, job: &Job, stats: &Stats, before: &BTreeMap<String, usize>) {
    for n in 1..=MAX_N {
        match point(sc, &job.syscall, job.inject, n) {
            Ok(Point::Hit) => {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                if matches!(job.inject, Inject::Error(_))
                    && before.get(&job.syscall).is_some_and(|&b| n > b)
                {
                    stats.after_commit.fetch_add(1, Ordering::Relaxed);
                }
                *stats
                    .per_syscall
                    .lock()
                    .unwrap()
                    .entry(job.syscall.clone())
                    .or_default() += 1;
            }
            Ok(Point::Loader) => {
                stats.loader.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Point::End) => return,
            Err(msg) => {
                stats.failures.lock().unwrap().push(format!(
                    "[{}] {} #{n} {}: {msg}",
                    sc.name, job.syscall, job.inject
                ));
            }
        }
    }
    stats.failures.lock().unwrap().push(format!(
        "[{}] {} {}: still injecting after {MAX_N} calls",
        sc.name, job.syscall, job.inject
    ));
}

/// One run with call `n` of `syscall` killed or failed, and every check after it.
fn point(sc: &Scenario, syscall: &str, inject: Inject, n: usize) -> Result<Point, String> {
    let run = RunDir::new(sc);
    let trace = run.dir.path().join("trace");
    let mut cmd = strace_inject(&sc.program, syscall, inject, n, &trace);
    cmd.args(sc.args(&run.root));
    configure(&mut cmd, &run.root, sc.threads);
    let out = exec(cmd, sc.stdin.as_deref());
    let trace_text = fs::read_to_string(&trace).unwrap_or_default();
    let at = || injected_at(&trace_text, inject);
    let result = match inject {
        Inject::Kill => after_kill(sc, &run.root, &out, n, trace_text.contains("CLD_KILLED")),
        Inject::Error(_) => {
            let injected = trace_text.contains("(INJECTED)");
            after_error(sc, &run.root, &out, injected, n)
        }
    };
    result.map_err(|e| format!("{e}{}", at()))
}

fn after_kill(
    sc: &Scenario,
    root: &Path,
    out: &Outcome,
    n: usize,
    child_killed: bool,
) -> Result<Point, String> {
    if !out.killed() && child_killed && out.code() != Some(0) {
        // A child (`git`) was killed: the program must say so and change nothing.
        if out.code() != Some(FAILURE) || !names_a_file(&out.stderr, root) {
            return Err(format!("a child was killed, and then: {out}"));
        }
        if check(sc, root)? != Side::Old {
            return Err(format!(
                "a child was killed, and the change was made: {out}"
            ));
        }
        return Ok(Point::Hit);
    }
    if !out.killed() {
        // N is past the run's last call of this kind: it ran to the end.
        if out.code() != Some(0) {
            return Err(format!("not killed, yet it failed: {out}"));
        }
        return completed(sc, root);
    }
    recover_and_check(sc, root, n, "the kill")?;
    Ok(Point::Hit)
}

fn after_error(
    sc: &Scenario,
    root: &Path,
    out: &Outcome,
    injected: bool,
    n: usize,
) -> Result<Point, String> {
    if !injected {
        if out.code() != Some(0) {
            return Err(format!("nothing was injected, yet it failed: {out}"));
        }
        return completed(sc, root);
    }
    match out.code() {
        Some(FAILURE) if !names_a_file(&out.stderr, root) => {
            Err(format!("exit 2 without naming the file concerned: {out}"))
        }
        // Recovery gets as far as it can and leaves the journal for the next attempt, which
        // must then finish the job.
        Some(0 | FAILURE) if sc.recovering => {
            recover_and_check(sc, root, n, "the failed recovery")?;
            Ok(Point::Hit)
        }
        Some(FAILURE) => {
            // "Could not run" must mean "changed nothing".
            let tree = snapshot(root);
            if tree != sc.old {
                return Err(format!(
                    "exit 2, but the workspace changed:\n{}\n{out}",
                    describe(sc, &tree)
                ));
            }
            check(sc, root).map_err(|e| format!("exit 2, but: {e}\n{out}"))?;
            Ok(Point::Hit)
        }
        Some(0) => {
            // A tolerated failure. Only a journal that says DONE (its removal was what failed)
            // or APPLIED (the audit records could not be written) may stay behind; the next
            // command removes it, writing the records.
            if let Some(j) = journals(root).first() {
                let stage = journal_stage(j);
                if !matches!(stage, Stage::Done | Stage::Applied) {
                    return Err(format!("exit 0 with a journal left in stage {stage:?}"));
                }
                let rec = recover_with(root, "verify");
                if rec.code() != Some(0) {
                    return Err(format!("`verify` after the run failed: {rec}"));
                }
            }
            let side = check(sc, root).map_err(|e| format!("exit 0, but: {e}\n{out}"))?;
            if side != sc.completes_to {
                return Err(format!("exit 0, but the state is {side:?}: {out}"));
            }
            Ok(Point::Hit)
        }
        Some(127) if out.stderr.contains("error while loading shared libraries") => {
            Ok(Point::Loader)
        }
        _ => Err(format!("unexpected outcome: {out}")),
    }
}

/// An uninterrupted run: it must have ended where the scenario ends.
fn completed(sc: &Scenario, root: &Path) -> Result<Point, String> {
    let side = check(sc, root)?;
    if side != sc.completes_to {
        return Err(format!(
            "an uninterrupted run ended {side:?}, not {:?}",
            sc.completes_to
        ));
    }
    Ok(Point::End)
}

/// Runs the next command, which recovers, and checks the result. The journal left behind
/// decides which side must win: without COMMIT (or with ABORT) the old one, with COMMIT the new
/// one, and with no journal at all whichever the disk shows.
fn recover_and_check(sc: &Scenario, root: &Path, n: usize, what: &str) -> Result<(), String> {
    let must = match journals(root).first().map(|j| journal_stage(j)) {
        None | Some(Stage::Done) => None,
        Some(Stage::Prepared | Stage::Aborted) => Some(Side::Old),
        Some(Stage::Committed | Stage::Applied) => Some(Side::New),
    };
    // Alternate the command that recovers: both must.
    let command = sc.recovers_with[n % 2];
    let rec = recover_with(root, command);
    if rec.code() != Some(0) {
        return Err(format!("`{command}` after {what} failed: {rec}"));
    }
    let side = check(sc, root)?;
    if let Some(must) = must
        && side != must
    {
        return Err(format!(
            "recovery ended {side:?}, but the journal left by {what} required {must:?}"
        ));
    }
    Ok(())
}

/// Whether an error message names a path of the workspace or its state directory.
fn names_a_file(stderr: &str, root: &Path) -> bool {
    let root = root.to_string_lossy();
    stderr.contains(root.as_ref())
        || stderr.contains(".atomic")
        || stderr.contains("config/app.json")
        || stderr.contains("Cargo.toml")
        || stderr.contains("<stdin>")
}

fn recover_with(root: &Path, command: &str) -> Outcome {
    let mut cmd = Command::new(bin());
    cmd.args(["atomic", command]);
    configure(&mut cmd, root, Threads::Default);
    exec(cmd, None)
}

/// The run's syscalls of `set`, with their counts, from `strace -f -c` of an uninterrupted run.
fn discover(sc: &Scenario, set: &[&str]) -> Vec<(String, usize)> {
    let run = RunDir::new(sc);
    let summary = run.dir.path().join("summary");
    let args = sc.args(&run.root);
    let program = (sc.program.as_path(), args.as_slice(), sc.stdin.as_deref());
    syscall_counts(&sc.name, program, &run.root, sc.threads, &summary, set)
}

/// The syscalls of `set` that `program` (with its arguments and standard input) makes in an
/// uninterrupted run in `root`, with their counts, from `strace -f -c` written to `summary`.
pub(crate) fn syscall_counts(
    name: &str,
    (program, args, stdin): (&Path, &[String], Option<&[u8]>),
    root: &Path,
    threads: Threads,
    summary: &Path,
    set: &[&str],
) -> Vec<(String, usize)> {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-c", "-o"])
        .arg(summary)
        .arg(program)
        .args(args);
    configure(&mut cmd, root, threads);
    let out = exec(cmd, stdin);
    assert_eq!(out.code(), Some(0), "{name}: strace -c run failed: {out}");
    let text = fs::read_to_string(summary).expect("the strace -c summary");
    let mut found = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // `% time  seconds  usecs/call  calls  [errors]  syscall`
        if cols.len() < 5 || cols[0].parse::<f64>().is_err() {
            continue;
        }
        let (name, calls) = (cols[cols.len() - 1], cols[3].parse::<usize>().unwrap_or(0));
        if set.contains(&name) {
            found.push((name.to_owned(), calls));
        }
    }
    let names: BTreeSet<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("open")),
        "{name}: strace -c found no open calls; its summary:\n{text}"
    );
    found
}

// ---------------------------------------------------------------------------------------------
// Checking a workspace

/// Every directory and file outside the state directory, with its mode (and bytes).
type Tree = BTreeMap<PathBuf, Node>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
}

fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_owned();
            if rel == Path::new(".atomic") {
                continue;
            }
            let meta = fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, Node::Dir { mode });
                walk(root, &p, out);
            } else {
                out.insert(
                    rel,
                    Node::File {
                        mode,
                        bytes: fs::read(&p).unwrap(),
                    },
                );
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

/// Checks the invariants that hold after every command, and says which side the disk is on.
fn check(sc: &Scenario, root: &Path) -> Result<Side, String> {
    let tree = snapshot(root);
    let side = if tree == sc.old {
        Side::Old
    } else if tree == sc.new {
        Side::New
    } else {
        return Err(format!(
            "the workspace is neither wholly old nor wholly new:\n{}",
            describe(sc, &tree)
        ));
    };
    let mut temps = Vec::new();
    find_temps(root, &mut temps);
    if !temps.is_empty() {
        return Err(format!("temp files left: {temps:?}"));
    }
    let journals = journals(root);
    if !journals.is_empty() {
        return Err(format!("journals left: {journals:?}"));
    }
    let files = manifest(root)?;
    for (path, state) in &files {
        match fs::read(root.join(path)) {
            Ok(bytes) if Sha256Digest::of(&bytes) == state.sha256 => {}
            Ok(_) => {
                return Err(format!(
                    "the manifest's sha256 of `{path}` is not the file's"
                ));
            }
            Err(e) => return Err(format!("`{path}` is in the manifest but unreadable: {e}")),
        }
    }
    let expected = match side {
        Side::Old => &sc.old_manifest,
        Side::New => &sc.new_manifest,
    };
    if &files != expected {
        return Err(format!(
            "the files are {side:?} but the manifest is not:\n  found    {files:?}\n  expected {expected:?}"
        ));
    }
    if side == Side::New {
        check_backups(sc, root)?;
    }
    audit_sound(root)?;
    if side == Side::New && sc.audited {
        check_recorded(sc, root)?;
    }
    Ok(side)
}

/// `audit verify --deep` passes: the chain is whole, its head settled, every managed file is
/// in its last recorded state and every backup a record implies is there (issue 13.4: no false
/// alarm, and no missed change, after any single fault).
pub(crate) fn audit_sound(root: &Path) -> Result<(), String> {
    let mut cmd = Command::new(bin());
    cmd.args(["atomic", "audit", "verify", "--deep"]);
    configure(&mut cmd, root, Threads::Default);
    let out = exec(cmd, None);
    if out.code() != Some(0) {
        return Err(format!("`audit verify --deep` fails: {out}"));
    }
    Ok(())
}

/// Every file the change wrote or deleted has an audit record, the last of which names the
/// state it is in now: a committed change is never left unrecorded.
fn check_recorded(sc: &Scenario, root: &Path) -> Result<(), String> {
    let log = fs::read_to_string(root.join(".atomic/audit.jsonl"))
        .map_err(|e| format!("no audit log after the change: {e}"))?;
    let mut last: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for line in log.lines() {
        let r: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("audit line {line:?}: {e}"))?;
        if let Some(p) = r["path"].as_str() {
            last.insert(p.to_owned(), r["after"].clone());
        }
    }
    let paths: BTreeSet<&PathBuf> = sc.old.keys().chain(sc.new.keys()).collect();
    for path in paths {
        let (old, new) = (sc.old.get(path), sc.new.get(path));
        if old == new || matches!(new, Some(Node::Dir { .. })) {
            continue;
        }
        if matches!((old, new), (Some(Node::Dir { .. }), None)) {
            continue;
        }
        let rel = path.to_string_lossy().into_owned();
        let want = match new {
            Some(Node::File { bytes, .. }) => Some(Sha256Digest::of(bytes).to_string()),
            _ => None,
        };
        let Some(after) = last.get(&rel) else {
            return Err(format!("the change to `{rel}` has no audit record"));
        };
        let got = after["sha256"].as_str().map(str::to_owned);
        if got != want {
            return Err(format!(
                "the last audit record of `{rel}` says {got:?}, but the file is {want:?}"
            ));
        }
    }
    Ok(())
}

/// A verified object and an index record for every version the change replaced or deleted.
fn check_backups(sc: &Scenario, root: &Path) -> Result<(), String> {
    let state = root.join(".atomic");
    let index = fs::read_to_string(state.join("backups.jsonl")).unwrap_or_default();
    let mut records = Vec::new();
    for line in index.lines() {
        let r: BackupRecord =
            serde_json::from_str(line).map_err(|e| format!("backups.jsonl: {e}: {line}"))?;
        records.push(r);
    }
    let ids: BTreeSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    if ids.len() != records.len() {
        return Err(format!("duplicate backup records:\n{index}"));
    }
    for (path, old) in &sc.replaced {
        let digest = Sha256Digest::of(old);
        let object = state.join("objects").join(digest.to_string());
        match fs::read(&object) {
            Ok(bytes) if Sha256Digest::of(&bytes) == digest => {}
            Ok(_) => return Err(format!("the backup object of `{path}` is damaged")),
            Err(e) => return Err(format!("no backup object of the old `{path}`: {e}")),
        }
        if !records
            .iter()
            .any(|r| r.path == Path::new(path) && r.sha256 == digest)
        {
            return Err(format!("no backup record of the old `{path}`:\n{index}"));
        }
    }
    Ok(())
}

/// For each path that is on neither side or not on the same side as the others.
fn describe(sc: &Scenario, tree: &Tree) -> String {
    let paths: BTreeSet<&PathBuf> = sc
        .old
        .keys()
        .chain(sc.new.keys())
        .chain(tree.keys())
        .collect();
    let mut lines = Vec::new();
    for p in paths {
        let (now, old, new) = (tree.get(p), sc.old.get(p), sc.new.get(p));
        if old == new && now == old {
            continue;
        }
        let what = if now == old {
            "old".to_owned()
        } else if now == new {
            "new".to_owned()
        } else {
            match now {
                None => "missing".to_owned(),
                Some(Node::Dir { mode }) => format!("an unexpected directory ({mode:o})"),
                Some(Node::File { mode, bytes }) => format!(
                    "neither ({mode:o}, {:?})",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
                ),
            }
        };
        lines.push(format!("  {}: {what}", p.display()));
    }
    lines.join("\n")
}

pub(crate) fn find_temps(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            find_temps(&p, out);
        } else if p.to_string_lossy().ends_with(".atomic-tmp") {
            out.push(p);
        }
    }
}

fn journals(root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(root.join(".atomic/journal")) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    out.sort();
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Prepared,
    Committed,
    Applied,
    Aborted,
    Done,
}

/// The stage a journal records (its last whole record).
fn journal_stage(path: &Path) -> Stage {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut stage = Stage::Prepared;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v["kind"].as_str() {
            Some("commit") => stage = Stage::Committed,
            Some("applied") => stage = Stage::Applied,
            Some("abort") => stage = Stage::Aborted,
            Some("done") => stage = Stage::Done,
            _ => {}
        }
    }
    stage
}

/// The manifest's files (none if there is no manifest yet).
fn manifest(root: &Path) -> Result<BTreeMap<String, FileState>, String> {
    match fs::read(root.join(".atomic/manifest.json")) {
        Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes)
            .map(|m| m.files)
            .map_err(|e| format!("manifest.json is damaged: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("manifest.json: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Running things

/// What every sweep test needs: strace, the example, the settings.
pub(crate) struct Ctx {
    txn: PathBuf,
    pub(crate) jobs: usize,
    pub(crate) full: bool,
}

impl Ctx {
    /// `None` (after saying so on the real stderr, which the harness does not capture) when
    /// strace cannot run here and this is not CI; under CI a missing strace fails the sweep.
    pub(crate) fn new() -> Option<Ctx> {
        if let Err(reason) = strace_works() {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{reason}: the crash and error sweeps need it in CI (.ci/run installs it)");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: a crash or error sweep: {reason}; install strace (`apt-get install \
                 strace`) to run it"
            );
            return None;
        }
        let jobs = std::env::var("ATOMIC_SWEEP_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        Some(Ctx {
            txn: example("txn"),
            jobs,
            full: std::env::var("ATOMIC_SWEEP").is_ok_and(|v| v == "full"),
        })
    }
}

fn strace_works() -> Result<(), String> {
    match Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "strace cannot trace here ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("strace is not installed ({e})")),
    }
}

/// An example binary of this package, next to the test executable's `deps/` directory. It
/// must be at least as new as the library and its own source, or the sweep would test old code.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    let hint = format!(
        "`cargo test` builds it; `cargo test --test it` alone does not: run `cargo build --example {name}` first"
    );
    let built = fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "the example binary `{}` is missing ({e}): {hint}",
                path.display()
            )
        });
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![manifest_dir.join("examples").join(format!("{name}.rs"))];
    lib_sources(&manifest_dir.join("src"), &mut sources);
    for s in sources {
        let changed = fs::metadata(&s).and_then(|m| m.modified());
        if changed.is_ok_and(|c: SystemTime| c > built) {
            panic!(
                "the example binary `{}` is older than `{}`: {hint}",
                path.display(),
                s.display()
            );
        }
    }
    path
}

/// The library's source files (not the binary's `main.rs` and `cli/`).
fn lib_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "cli" {
                lib_sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") && name != "main.rs" {
            out.push(p);
        }
    }
}

/// A fresh copy of a scenario's template, deleted afterwards.
struct RunDir {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl RunDir {
    fn new(sc: &Scenario) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = fs::canonicalize(dir.path()).unwrap().join("ws");
        copy_tree(&sc.template_root(), &root);
        RunDir { dir, root }
    }
}

/// Copies a directory tree with its permission bits.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
    let mode = fs::metadata(from).unwrap().permissions();
    fs::set_permissions(to, mode).unwrap();
}

pub(crate) fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

/// `strace` that injects `inject` into call `n` of `syscall`, tracing only that call (to
/// `trace`, so the program's own stderr stays clean). The program's arguments follow.
pub(crate) fn strace_inject(
    program: &Path,
    syscall: &str,
    inject: Inject,
    n: usize,
    trace: &Path,
) -> Command {
    let action = match inject {
        Inject::Kill => "signal=SIGKILL".to_owned(),
        Inject::Error(e) => format!("error={e}"),
    };
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o"])
        .arg(trace)
        .arg("-e")
        .arg(format!("trace={syscall}"))
        .arg("-e")
        .arg(format!("inject={syscall}:{action}:when={n}"))
        .arg(program);
    cmd
}

/// The environment of every run: in the workspace, no colour, the store's threads, umask 022
/// (a run that cannot read its umask assumes 022, and its new files must still compare equal
/// with the uninterrupted run's), and no `LD_LIBRARY_PATH`: the one `cargo test` sets sends the
/// dynamic loader through dozens of toolchain directories, calls that would only slow the sweep
/// (the binaries need nothing but the system's libraries).
pub(crate) fn configure(cmd: &mut Command, root: &Path, threads: Threads) {
    cmd.current_dir(root)
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("NO_COLOR")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("CARGO_ATOMIC_THREADS");
    if threads == Threads::One {
        cmd.env("CARGO_ATOMIC_THREADS", "1");
    }
    // SAFETY: umask(2) is async-signal-safe and touches nothing but the child's own mask.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
            Ok(())
        });
    }
}

/// How a run ended.
pub(crate) struct Outcome {
    status: ExitStatus,
    stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// strace ends itself with the signal that ended the traced program.
    pub(crate) fn killed(&self) -> bool {
        self.status.signal() == Some(9) || self.code() == Some(128 + 9)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr.trim_end()
        )
    }
}

pub(crate) fn exec(mut cmd: Command, stdin: Option<&[u8]>) -> Outcome {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let feeder = child.stdin.take().map(|mut pipe| {
        let bytes = stdin.unwrap_or_default().to_vec();
        // A killed child closes the pipe early: that is not an error here.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let mut out = Vec::new();
    let _ = child.stdout.take().unwrap().read_to_end(&mut out);
    stdout.push_str(&String::from_utf8_lossy(&out));
    stderr.push_str(&String::from_utf8_lossy(&err_reader.join().unwrap()));
    let status = child.wait().unwrap();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Outcome {
        status,
        stdout,
        stderr,
    }
}

/// The system call a line of `strace -f -o` output records (`PID  name(args) = ret`, the pid
/// padded to a width), if any.
fn syscall_name(line: &str) -> Option<&str> {
    let rest = line
        .trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    let (name, _) = rest.split_once('(')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// What a sweep of `calls` found: points hit, per system call, and the failures.
pub(crate) struct Swept {
    pub(crate) hits: usize,
    pub(crate) per: BTreeMap<String, usize>,
    pub(crate) failures: Vec<String>,
}

/// Runs `point(syscall, n)` for each of `calls` and each N = 1, 2, ... until it says the run
/// completed (`Ok(false)`), on `ctx.jobs` threads; `Ok(true)` is a point hit and checked.
pub(crate) fn sweep_calls(
    ctx: &Ctx,
    calls: &[(String, usize)],
    point: &(dyn Fn(&str, usize) -> Result<bool, String> + Sync),
) -> Swept {
    let hits = AtomicUsize::new(0);
    let per: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let failures: Mutex<Vec<String>> = Mutex::default();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..ctx.jobs.min(calls.len()).max(1) {
            s.spawn(|| {
                while let Some((syscall, _)) = calls.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for n in 1..=MAX_N {
                        match point(syscall, n) {
                            Ok(true) => {
                                hits.fetch_add(1, Ordering::Relaxed);
                                *per.lock().unwrap().entry(syscall.clone()).or_default() += 1;
                            }
                            Ok(false) => break,
                            Err(e) => failures
                                .lock()
                                .unwrap()
                                .push(format!("{syscall} #{n}: {e}")),
                        }
                    }
                }
            });
        }
    });
    Swept {
        hits: hits.into_inner(),
        per: per.into_inner().unwrap(),
        failures: failures.into_inner().unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// `audit verify --repair`

/// `audit verify --repair` cutting off a torn last line, killed at every call that changes the
/// file system: afterwards (and after the next command that writes, `recover` or the repair
/// again) `audit verify --deep` passes and every whole record from before is still there, in
/// order (issue 13.4).
#[test]
fn crash_sweep_audit_repair() {
    sweep_audit_repair(Inject::Kill);
}

/// The same with EIO: a failed repair (exit 2) or a tolerated failure (exit 0), then the next
/// command that writes, must end with a verified log that kept every whole record.
#[test]
fn error_sweep_audit_repair() {
    sweep_audit_repair(Inject::Error("EIO"));
}

fn sweep_audit_repair(inject: Inject) {
    let Some(ctx) = Ctx::new() else { return };
    let started = Instant::now();
    let template = tempfile::tempdir().unwrap();
    let ws = template.path().join("ws");
    put(&ws, "Cargo.toml", b"[workspace]\n");
    for v in 1..=3 {
        let mut cmd = Command::new(bin());
        cmd.args(["atomic", "write", "a.json"]);
        configure(&mut cmd, &ws, Threads::Default);
        let out = exec(cmd, Some(format!("{{\"v\": {v}}}\n").as_bytes()));
        assert_eq!(out.code(), Some(0), "setting up: {out}");
    }
    let log = ws.join(".atomic/audit.jsonl");
    let whole = fs::read(&log).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"seq\":4,\"op\":\"wri");
    fs::write(&log, &torn).unwrap();
    let args = ["atomic", "audit", "verify", "--repair"].map(String::from);
    let probe = tempfile::tempdir().unwrap();
    let root = probe.path().join("ws");
    copy_tree(&ws, &root);
    let calls = syscall_counts(
        "audit verify --repair",
        (bin().as_path(), args.as_slice(), None),
        &root,
        Threads::One,
        &probe.path().join("summary"),
        MUTATING,
    );
    let point = |syscall: &str, n: usize| -> Result<bool, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        copy_tree(&ws, &root);
        let trace = dir.path().join("trace");
        let mut cmd = strace_inject(&bin(), syscall, inject, n, &trace);
        cmd.args(&args);
        configure(&mut cmd, &root, Threads::One);
        let out = exec(cmd, None);
        let trace_text = fs::read_to_string(&trace).unwrap_or_default();
        let at = || injected_at(&trace_text, inject);
        let killed = match inject {
            Inject::Kill => out.killed(),
            Inject::Error(_) => trace_text.contains("(INJECTED)"),
        };
        if killed && matches!(inject, Inject::Error(_)) && !matches!(out.code(), Some(0 | 2)) {
            return Err(format!("unexpected outcome: {out}{}", at()));
        }
        if killed {
            let next = if n % 2 == 1 { "recover" } else { "audit" };
            let mut cmd = Command::new(bin());
            cmd.arg("atomic").arg(next);
            if next == "audit" {
                cmd.args(["verify", "--repair"]);
            }
            configure(&mut cmd, &root, Threads::Default);
            let again = exec(cmd, None);
            if again.code() != Some(0) {
                return Err(format!("`{next}` after the kill failed: {again}{}", at()));
            }
        } else if out.code() != Some(0) {
            return Err(format!("not killed, yet it failed: {out}"));
        }
        audit_sound(&root).map_err(|e| format!("{e}{}", at()))?;
        let now = fs::read(root.join(".atomic/audit.jsonl")).map_err(|e| e.to_string())?;
        if !now.starts_with(&whole) {
            return Err(format!("records from before the repair were lost{}", at()));
        }
        Ok(killed)
    };
    let Swept { hits, failures, .. } = sweep_calls(&ctx, &calls, &point);
    eprintln!(
        "{} sweep (audit verify --repair): {hits} points, {} in {:.1}s",
        if matches!(inject, Inject::Kill) {
            "crash"
        } else {
            "error"
        },
        if failures.is_empty() {
            "all recovered"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} points failed; the first:\n\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(
        hits >= 10,
        "only {hits} points were swept: is strace injecting?"
    );
}

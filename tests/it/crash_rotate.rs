//! Crash sweep of `rotate`: the real binary under `strace` fault injection, with the helpers
//! and method of `crash.rs`.
//!
//! For every file-system system call S that a `rotate` run makes (found with `strace -f -c`)
//! and every N until a run completes, the run is killed with SIGKILL on entering its Nth call of
//! S; then (for odd N) `recover` runs, which must leave no step in flight and no content twice;
//! then `rotate` runs again, uninterrupted. Afterwards: no artifact is lost or
//! duplicated (the multiset of contents in the artifact directories, `.gz` files decompressed,
//! is exactly the one an uninterrupted run leaves, pruned copies included), the foreign files
//! beside the artifacts are byte-identical and still there, every other file there is one the
//! records name, no step is left in flight, and no `*.atomic-tmp` is left anywhere.
//!
//! The error sweep does the same with the call failing with EIO: the run ends with exit 0 (a
//! tolerated failure) or exit 2 naming a file (after its last whole step, not "nothing
//! changed": see `src/ops/rotate/mod.rs`), and the next run must end where an uninterrupted
//! one does.
//!
//! The workspace: two entries with history from two earlier runs, so one run rotates,
//! shifts, compresses and prunes: `reports` (timestamp naming, gzip, keep-last 2, two live
//! files) and `logs` (numbered naming, gzip, keep-last 2), with foreign files that look like
//! rotated copies beside them. The sweep covers the calls that change the file system; with
//! `ATOMIC_SWEEP=full` the reading calls too.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::crash::{
    Ctx, Inject, MUTATING, Outcome, READING, Swept, Threads, audit_sound, configure, copy_tree,
    exec, find_temps, injected_at, put, strace_inject, sweep_calls, syscall_counts,
};
use crate::support::bin;

const CONFIG: &str = r#"
[[rotate]]
name = "reports"
files = "out/*.json"
keep-last = 2
compress = "gzip"

[[rotate]]
name = "logs"
files = "logs/*.log"
naming = "numbered"
keep-last = 2
compress = "gzip"
"#;

/// Files beside the artifacts that the tool did not create, some named like its copies.
const FOREIGN: &[(&str, &[u8])] = &[
    ("out/a.json.1", b"foreign, numbered-looking"),
    (
        "out/a.json.20200101T000000Z-001.gz",
        b"foreign, not even gzip",
    ),
    ("out/notes.txt", b"foreign notes"),
    ("logs/app.log.5", b"foreign, beyond the chain"),
];

/// Decompressed contents (foreign files as they are), counted.
type Contents = BTreeMap<Vec<u8>, usize>;

struct Scenario {
    template: tempfile::TempDir,
    expected: Contents,
}

impl Scenario {
    fn root(&self) -> PathBuf {
        self.template.path().join("ws")
    }
}

fn rotate_args() -> Vec<String> {
    vec!["atomic".into(), "rotate".into()]
}

fn run_rotate(root: &Path) -> Outcome {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(rotate_args());
    configure(&mut cmd, root, Threads::Default);
    exec(cmd, None)
}

fn live_round(root: &Path, round: &str) {
    put(
        root,
        "out/a.json",
        format!("{{\"a\": \"{round}\"}}\n").as_bytes(),
    );
    put(
        root,
        "out/b.json",
        format!("{{\"b\": \"{round}\"}}\n").as_bytes(),
    );
    put(
        root,
        "logs/app.log",
        format!("log line of {round}\n").as_bytes(),
    );
}

fn scenario() -> Scenario {
    let template = tempfile::tempdir().expect("temp dir");
    let root = template.path().join("ws");
    put(&root, "Cargo.toml", b"[workspace]\n");
    put(&root, "atomic.toml", CONFIG.as_bytes());
    for (p, b) in FOREIGN {
        put(&root, p, b);
    }
    for round in ["first", "second"] {
        live_round(&root, round);
        let out = run_rotate(&root);
        assert_eq!(out.code(), Some(0), "setting up the history: {out}");
    }
    live_round(&root, "third");
    let run = tempfile::tempdir().unwrap();
    let copy = run.path().join("ws");
    copy_tree(&root, &copy);
    let out = run_rotate(&copy);
    assert_eq!(out.code(), Some(0), "the uninterrupted run: {out}");
    let expected = contents(&copy).expect("contents after the uninterrupted run");
    // The run rotated, compressed and pruned: the first round is gone, the third is there.
    let has = |s: &str| {
        expected
            .keys()
            .any(|k| k.windows(s.len()).any(|w| w == s.as_bytes()))
    };
    assert!(
        has("third") && has("second") && !has("first"),
        "{expected:?}"
    );
    let sc = Scenario { template, expected };
    check(&sc, &copy).expect("the uninterrupted run passes the checks");
    sc
}

/// The contents of `out/` and `logs/`, decompressed; an error for a `.gz` of the tool's that
/// does not decompress.
fn contents(root: &Path) -> Result<Contents, String> {
    let mut out = Contents::new();
    for dir in ["out", "logs"] {
        for e in fs::read_dir(root.join(dir)).unwrap() {
            let e = e.unwrap();
            let rel = format!("{dir}/{}", e.file_name().to_string_lossy());
            let mut bytes = fs::read(e.path()).unwrap();
            if rel.ends_with(".gz") && !FOREIGN.iter().any(|(p, _)| *p == rel) {
                let mut d = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut d)
                    .map_err(|err| format!("`{rel}` is not whole gzip: {err}"))?;
                bytes = d;
            }
            *out.entry(bytes).or_default() += 1;
        }
    }
    Ok(out)
}

fn check(sc: &Scenario, root: &Path) -> Result<(), String> {
    let mut temps = Vec::new();
    find_temps(root, &mut temps);
    if !temps.is_empty() {
        return Err(format!("temp files left: {temps:?}"));
    }
    for (p, b) in FOREIGN {
        if fs::read(root.join(p)).ok().as_deref() != Some(*b) {
            return Err(format!("the foreign file `{p}` was touched"));
        }
    }
    let have = contents(root)?;
    if have != sc.expected {
        let show = |c: &Contents| {
            c.iter()
                .map(|(k, n)| format!("{n}x {:?}", String::from_utf8_lossy(k)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "artifacts lost or duplicated:\n  found    {}\n  expected {}",
            show(&have),
            show(&sc.expected)
        ));
    }
    let text = fs::read(root.join(".atomic/rotations.json"))
        .map_err(|e| format!("rotations.json: {e}"))?;
    let records: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("rotations.json is damaged: {e}"))?;
    if records["pending"].as_array().is_none_or(|p| !p.is_empty()) {
        return Err(format!("a step is still in flight: {}", records["pending"]));
    }
    let recorded: Vec<&str> = records["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for p in &recorded {
        if !root.join(p).is_file() {
            return Err(format!("the record names `{p}`, which is gone"));
        }
    }
    for dir in ["out", "logs"] {
        for e in fs::read_dir(root.join(dir)).unwrap() {
            let rel = format!("{dir}/{}", e.unwrap().file_name().to_string_lossy());
            if !recorded.contains(&rel.as_str()) && !FOREIGN.iter().any(|(p, _)| *p == rel) {
                return Err(format!("`{rel}` is neither recorded nor foreign"));
            }
        }
    }
    audit_sound(root)
}

/// After `recover` alone: nothing in flight, no temp, no content twice, foreign files intact.
fn check_recovered(root: &Path) -> Result<(), String> {
    let mut temps = Vec::new();
    find_temps(root, &mut temps);
    if !temps.is_empty() {
        return Err(format!("temp files left: {temps:?}"));
    }
    if let Ok(text) = fs::read(root.join(".atomic/rotations.json")) {
        let v: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| format!("rotations.json: {e}"))?;
        if v["pending"].as_array().is_none_or(|p| !p.is_empty()) {
            return Err(format!("steps still in flight: {}", v["pending"]));
        }
    }
    for (p, b) in FOREIGN {
        if fs::read(root.join(p)).ok().as_deref() != Some(*b) {
            return Err(format!("the foreign file `{p}` was touched"));
        }
    }
    let twice: Vec<String> = contents(root)?
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect();
    if !twice.is_empty() {
        return Err(format!("duplicated: {twice:?}"));
    }
    audit_sound(root)
}

enum Point {
    Hit,
    End,
}

/// Kill (or fail) the run at call `n` of `syscall`, run `rotate` again, check.
fn point(sc: &Scenario, syscall: &str, inject: Inject, n: usize) -> Result<Point, String> {
    let dir = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(dir.path()).unwrap().join("ws");
    copy_tree(&sc.root(), &root);
    let trace = dir.path().join("trace");
    let mut cmd = strace_inject(&bin(), syscall, inject, n, &trace);
    cmd.args(rotate_args());
    configure(&mut cmd, &root, Threads::One);
    let out = exec(cmd, None);
    let trace_text = fs::read_to_string(&trace).unwrap_or_default();
    let at = || injected_at(&trace_text, inject);
    let injected = match inject {
        Inject::Kill => out.killed(),
        Inject::Error(_) => trace_text.contains("(INJECTED)"),
    };
    if !injected {
        if out.code() != Some(0) {
            return Err(format!("nothing was injected, yet it failed: {out}"));
        }
        check(sc, &root).map_err(|e| format!("an uninterrupted run: {e}"))?;
        return Ok(Point::End);
    }
    if let Inject::Error(_) = inject {
        // A failure stops the run after its last whole step (exit 2, naming the file), or is
        // tolerated (exit 0); either way the next run must get to the same end.
        match out.code() {
            Some(0) => {}
            Some(2)
                if out.stderr.contains(".atomic")
                    || out.stderr.contains(&*root.to_string_lossy())
                    || out.stderr.contains("out/")
                    || out.stderr.contains("logs/")
                    || out.stderr.contains("Cargo.toml")
                    || out.stderr.contains("atomic.toml") => {}
            Some(127) if out.stderr.contains("error while loading shared libraries") => {
                return Ok(Point::Hit);
            }
            _ => return Err(format!("unexpected outcome: {out}{}", at())),
        }
    }
    if n % 2 == 1 {
        // `recover` alone finishes or undoes the interrupted steps, duplicating nothing.
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["atomic", "recover"]);
        configure(&mut cmd, &root, Threads::Default);
        let rec = exec(cmd, None);
        if rec.code() != Some(0) {
            return Err(format!("`recover` after the kill failed: {rec}{}", at()));
        }
        check_recovered(&root).map_err(|e| format!("after `recover`: {e}{}", at()))?;
    }
    let again = run_rotate(&root);
    if again.code() != Some(0) {
        return Err(format!("`rotate` after the kill failed: {again}{}", at()));
    }
    check(sc, &root).map_err(|e| format!("{e}{}", at()))?;
    Ok(Point::Hit)
}

#[test]
fn crash_sweep_rotate() {
    sweep_rotate(Inject::Kill, "crash sweep", 100);
}

/// The same with EIO: a failed run says which file, and the next run ends where an
/// uninterrupted one does.
#[test]
fn error_sweep_rotate() {
    sweep_rotate(Inject::Error("EIO"), "error sweep", 100);
}

fn sweep_rotate(inject: Inject, what: &str, min: usize) {
    let Some(ctx) = Ctx::new() else { return };
    let started = Instant::now();
    let sc = scenario();
    let set = if ctx.full {
        [MUTATING, READING].concat()
    } else {
        MUTATING.to_vec()
    };
    let probe = tempfile::tempdir().unwrap();
    let root = probe.path().join("ws");
    copy_tree(&sc.root(), &root);
    let args = rotate_args();
    let calls = syscall_counts(
        "rotate",
        (bin().as_path(), args.as_slice(), None),
        &root,
        Threads::One,
        &probe.path().join("summary"),
        &set,
    );
    let point = |syscall: &str, n: usize| {
        point(&sc, syscall, inject, n)
            .map(|p| matches!(p, Point::Hit))
            .map_err(|e| format!("{inject}: {e}"))
    };
    let Swept {
        hits,
        per,
        failures,
    } = sweep_calls(&ctx, &calls, &point);
    eprintln!(
        "{what} (rotate): {hits} points over {} syscalls, {} in {:.1}s [{}]",
        per.len(),
        if failures.is_empty() {
            "all recovered"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64(),
        per.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} of the swept points failed; the first:\n\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(
        hits >= min,
        "only {hits} points were swept: is strace injecting?"
    );
}

//! Shared helpers: a temp workspace, running the real binary, looking at the disk.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-atomic"))
}

/// A temp workspace with a `Cargo.toml` that declares `[workspace]`.
pub struct Ws {
    pub dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        Ws { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes a file (creating directories) with plain `fs::write`: test set-up only.
    pub fn put(&self, rel: &str, bytes: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn mode(&self, rel: &str) -> u32 {
        fs::metadata(self.path(rel)).unwrap().permissions().mode() & 0o7777
    }

    /// `cargo-atomic atomic ARGS` (as cargo calls it) in the workspace root.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    pub fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic").args(args).current_dir(self.root());
        run(cmd, stdin)
    }

    /// Every file under the root except the state directory, with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(self.root(), self.root(), &mut out);
        out
    }

    /// Names of temp files left anywhere (including the state directory).
    pub fn leftover_temps(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        find_temps(self.root(), &mut out);
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.file_name().is_some_and(|n| n == ".atomic") {
            continue;
        }
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(root, &p, out);
        } else if ft.is_file() {
            out.insert(
                p.strip_prefix(root).unwrap().to_owned(),
                fs::read(&p).unwrap(),
            );
        }
    }
}

fn find_temps(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            find_temps(&p, out);
        } else if p.to_string_lossy().ends_with(".atomic-tmp") {
            out.push(p);
        }
    }
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The JSON lines of stdout before the `summary` that must end them (and only there).
    #[track_caller]
    pub fn records(&self) -> Vec<serde_json::Value> {
        let mut lines = self.json();
        let last = lines.pop();
        assert_eq!(
            last.as_ref().map(|l| &l["reason"]),
            Some(&serde_json::json!("summary")),
            "a JSON stream ends with a summary: {}",
            self.stdout
        );
        assert!(
            lines.iter().all(|l| l["reason"] != "summary"),
            "one summary only: {}",
            self.stdout
        );
        lines
    }

    /// The JSON lines of stdout.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Runs a command with colour variables removed, so output does not depend on the caller.
pub fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    cmd.env_remove("CARGO_TERM_COLOR")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS");
    run_unfiltered(cmd, stdin)
}

/// Runs a command with the environment it was given.
pub fn run_unfiltered(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn cargo-atomic");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `f` with insta writing into the top-level `snapshots/` folder.
pub fn snapshots<R>(f: impl FnOnce() -> R) -> R {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(f)
}

/// The external corpora (`../shared/corpora`), which only CI and development sessions have.
pub const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

/// Whether a test that reads `../shared/corpora/REL` must skip: true, after saying so on the
/// real stderr (the test harness does not capture it), when the corpus is absent and this is
/// not CI. Under `CI` an absent corpus fails the test: CI always has it.
pub fn skip_without_corpus(rel: &str) -> bool {
    if Path::new(CORPORA).join(rel).exists() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none_or(|v| v.is_empty()),
        "../shared/corpora/{rel} is missing, and CI must run every corpus test"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: ../shared/corpora/{rel} is not here (a plain clone has no ../shared); \
         this corpus test runs in CI"
    );
    true
}

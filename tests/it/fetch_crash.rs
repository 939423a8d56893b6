//! `fetch` killed at any point (G1, G8): the real binary under `strace`, SIGKILLed on entering
//! its Nth call of each system call that changes the file system (`crash::MUTATING`, counted
//! by `strace -f -c` in an uninterrupted run), with `crash.rs`'s helpers.
//!
//! The run is `fetch --update` from a lock that pins one version of a schema to a mirror that
//! now serves another, which `$ref`s a second schema: the cache gains two bodies and the lock
//! changes. After every kill, `atomic.lock` is byte for byte the old lock or the new one (never
//! torn, never missing); every body the surviving lock pins is in the cache with its digest, so
//! `validate` works from it; and a `fetch --update` afterwards ends exactly where an
//! uninterrupted one does. A kill may leave a `*.atomic-tmp` temp next to the lock or in the
//! cache (a single-file write has no journal); nothing else. The next `fetch` (or `recover`)
//! removes the one beside the lock; the cache's stay (other workspaces may be writing there).
//!
//! Bounded for CI: at most `MAX_N` points per system call (`ATOMIC_SWEEP=full`: every point).
//! Needs `strace` and ptrace: without them the test fails when `CI` is set and says SKIPPED
//! otherwise.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::crash::{Inject, MUTATING, Threads, configure, exec, strace_inject};
use crate::support::bin;

/// Points swept per system call in CI.
const MAX_N: usize = 120;

const APP_V1: &str = r#"{"type": "object", "properties": {"port": {"type": "integer"}}}"#;
const APP_V2: &str =
    r#"{"type": "object", "properties": {"port": {"$ref": "https://crash.example/port.json"}}}"#;
const PORT: &str = r#"{"type": "integer", "minimum": 1}"#;

/// A loopback server of a few fixed bodies (path → body), replaceable while it runs.
struct Server {
    port: u16,
    bodies: Arc<Mutex<HashMap<String, String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req);
                let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, body) = match b.lock().unwrap().get(&path) {
                    Some(body) => (200, body.clone()),
                    None => (404, "not found".to_owned()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(&self, path: &str, body: &str) {
        self.bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.to_owned());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A workspace and its schema cache, side by side in one temp dir.
struct Run {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cache: PathBuf,
}

impl Run {
    /// A copy of `from` (a workspace and a cache).
    fn copy_of(from: &Run) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let (root, cache) = (base.join("ws"), base.join("cache"));
        crate::crash::copy_tree(&from.root, &root);
        crate::crash::copy_tree(&from.cache, &cache);
        Run {
            _dir: dir,
            root,
            cache,
        }
    }

    fn new(port: u16) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let (root, cache) = (base.join("ws"), base.join("cache"));
        fs::create_dir_all(&cache).unwrap();
        crate::crash::put(&root, "Cargo.toml", b"[workspace]\n");
        crate::crash::put(
            &root,
            "atomic.toml",
            format!(
                "[schemas]\nmirror = {{ \"https://crash.example/\" = \"http://127.0.0.1:{port}/\" }}\n\n\
                 [catalog]\nenabled = false\n\n\
                 [[validate]]\nfiles = [\"conf/*.json\"]\nschema = \"https://crash.example/app.json\"\n"
            )
            .as_bytes(),
        );
        crate::crash::put(&root, "conf/a.json", b"{\"port\": 8080}\n");
        Run {
            _dir: dir,
            root,
            cache,
        }
    }

    /// `cargo-atomic atomic ARGS` here, uninterrupted.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic").args(args);
        self.env(&mut cmd);
        cmd
    }

    fn env(&self, cmd: &mut Command) {
        configure(cmd, &self.root, Threads::Default);
        cmd.env("CARGO_ATOMIC_CACHE", &self.cache)
            .env("CARGO_ATOMIC_HTTP_TIMEOUT", "5")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy");
    }

    fn lock(&self) -> Option<Vec<u8>> {
        fs::read(self.root.join("atomic.lock")).ok()
    }

    /// Files anywhere in the workspace or the cache that are neither the template's nor a temp.
    fn strays(&self, template: &Run) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (dir, from) in [(&self.root, &template.root), (&self.cache, &template.cache)] {
            let mut now = Vec::new();
            list(dir, dir, &mut now);
            let mut before = Vec::new();
            list(from, from, &mut before);
            out.extend(now.into_iter().filter(|p| {
                !before.contains(p)
                    && !p.to_string_lossy().ends_with(".atomic-tmp")
                    && p != Path::new("atomic.lock")
                    && !p.starts_with("sha256")
            }));
        }
        out
    }
}

fn list(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != ".atomic" {
                list(base, &p, out);
            }
        } else {
            out.push(p.strip_prefix(base).unwrap().to_owned());
        }
    }
}

/// Every body a lock pins is in `cache` with its digest.
fn lock_is_backed(lock: &[u8], cache: &Path) -> Result<(), String> {
    let lock = String::from_utf8_lossy(lock);
    for sha in lock
        .lines()
        .filter_map(|l| l.strip_prefix("sha256 = \""))
        .map(|l| l.trim_end_matches('"'))
    {
        let body = fs::read(cache.join("sha256").join(sha))
            .map_err(|e| format!("the lock pins {sha}, but the cache has no such body: {e}"))?;
        let got = cargo_atomic::store::Sha256Digest::of(&body).to_string();
        if got != sha {
            return Err(format!("the cache's body {sha} holds {got}"));
        }
    }
    Ok(())
}

/// Whether strace can run here; under CI it must.
fn strace_or_skip() -> bool {
    let works = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "strace cannot run here: the fetch crash sweep needs it in CI"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the fetch crash sweep: strace cannot run here (`apt-get install strace`)"
        );
    }
    works
}

#[test]
fn a_fetch_killed_at_any_point_leaves_the_old_lock_or_the_new_one() {
    if !strace_or_skip() {
        return;
    }
    let server = Server::start();
    server.serve("/app.json", APP_V1);
    let template = Run::new(server.port);
    let out = exec(template.cmd(&["fetch"]), None);
    assert_eq!(out.code(), Some(0), "the first fetch: {out}");
    let old = template.lock().expect("the old lock");
    // The mirror moves on: a new version of the schema, which `$ref`s another.
    server.serve("/app.json", APP_V2);
    server.serve("/port.json", PORT);
    let done = Run::copy_of(&template);
    let out = exec(done.cmd(&["fetch", "--update"]), None);
    assert_eq!(
        out.code(),
        Some(0),
        "an uninterrupted fetch --update: {out}"
    );
    let new = done.lock().expect("the new lock");
    assert_ne!(old, new);

    let full = std::env::var("ATOMIC_SWEEP").is_ok_and(|v| v == "full");
    let args = ["atomic", "fetch", "--update"];
    let calls = mutating_calls(&Run::copy_of(&template), &args);
    assert!(
        calls.iter().any(|(s, _)| s.starts_with("rename")),
        "an uninterrupted fetch renames nothing? {calls:?}"
    );
    let mut killed = 0;
    for (syscall, count) in &calls {
        let last = if full {
            *count + 1
        } else {
            (*count + 1).min(MAX_N)
        };
        for n in 1..=last {
            let run = Run::copy_of(&template);
            let trace = run.root.parent().unwrap().join("trace");
            let mut cmd = strace_inject(&bin(), syscall, Inject::Kill, n, &trace);
            cmd.args(args);
            run.env(&mut cmd);
            let out = exec(cmd, None);
            let at = || {
                crate::crash::injected_at(
                    &fs::read_to_string(&trace).unwrap_or_default(),
                    Inject::Kill,
                )
            };
            if !out.killed() {
                // Fewer calls than N on the thread that counts them: this call is done.
                assert_eq!(out.code(), Some(0), "{syscall} #{n}: not killed, yet {out}");
                assert_eq!(run.lock().as_ref(), Some(&new), "{syscall} #{n}: completed");
                break;
            }
            killed += 1;
            let lock = run.lock();
            let side = match &lock {
                Some(l) if *l == old => "old",
                Some(l) if *l == new => "new",
                Some(l) => panic!(
                    "{syscall} #{n}: atomic.lock is neither old nor new:\n{}{}",
                    String::from_utf8_lossy(l),
                    at()
                ),
                None => panic!("{syscall} #{n}: atomic.lock is gone{}", at()),
            };
            if let Err(e) = lock_is_backed(lock.as_deref().unwrap(), &run.cache) {
                panic!("{syscall} #{n}: the {side} lock: {e}{}", at());
            }
            let strays = run.strays(&template);
            assert!(strays.is_empty(), "{syscall} #{n}: left {strays:?}{}", at());
            let v = exec(run.cmd(&["validate", "-q"]), None);
            assert_eq!(
                v.code(),
                Some(0),
                "{syscall} #{n}: validate after the kill: {v}"
            );
            let again = exec(run.cmd(&["fetch", "--update", "-q"]), None);
            assert_eq!(
                again.code(),
                Some(0),
                "{syscall} #{n}: fetch again: {again}"
            );
            assert_eq!(
                run.lock().as_ref(),
                Some(&new),
                "{syscall} #{n}: fetch again"
            );
            // The next fetch removes a temp the kill left beside the lock (the cache's
            // temps may stay: several workspaces share it).
            let beside: Vec<String> = fs::read_dir(&run.root)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".atomic-tmp"))
                .collect();
            assert!(beside.is_empty(), "{syscall} #{n}: left {beside:?}{}", at());
        }
    }
    // A sweep that never killed anything proves nothing.
    assert!(
        killed >= 20,
        "only {killed} runs were killed: is strace injecting?"
    );
}

/// The system calls of `crash::MUTATING` that `args` make in an uninterrupted run in `run`,
/// with their counts (`strace -f -c`).
fn mutating_calls(run: &Run, args: &[&str]) -> Vec<(String, usize)> {
    let summary = run.root.parent().unwrap().join("summary");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-c", "-o"])
        .arg(&summary)
        .arg(bin())
        .args(args);
    run.env(&mut cmd);
    let out = exec(cmd, None);
    assert_eq!(out.code(), Some(0), "strace -c of fetch: {out}");
    let text = fs::read_to_string(&summary).expect("the strace -c summary");
    // `% time  seconds  usecs/call  calls  [errors]  syscall`
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = *cols.last()?;
            let calls = cols.get(3)?.parse().ok()?;
            (cols[0].parse::<f64>().is_ok() && MUTATING.contains(&name))
                .then(|| (name.to_owned(), calls))
        })
        .collect()
}

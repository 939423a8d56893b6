//! `fetch`, `atomic.lock` and the catalog, end to end, never touching the internet: a loopback
//! HTTP server in the test serves `../shared/corpora/schemastore` (a snapshot of SchemaStore,
//! Apache-2.0, see its COMMIT and LICENSE) as a mirror of both SchemaStore hosts.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;

const CORPUS: &str = "schemastore";

/// Path → (status, body) the server answers instead of the snapshot.
type Overrides = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

/// A loopback HTTP/1.1 server over the SchemaStore snapshot: `/api/json/catalog.json` is the
/// catalog, `/NAME.json` a schema. `overrides` replace a path's body (or give a status).
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    overrides: Overrides,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let root = Path::new(CORPORA).join(CORPUS).join("src");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let overrides: Overrides = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, o, h) = (stop.clone(), overrides.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
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
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                h.lock().unwrap().push(path.clone());
                let (status, body) = match o.lock().unwrap().get(&path) {
                    Some(r) => r.clone(),
                    None => {
                        let file = match path.strip_prefix("/api/json/") {
                            Some(rest) => root.join("api/json").join(rest),
                            None => root.join("schemas/json").join(path.trim_start_matches('/')),
                        };
                        match std::fs::read(&file) {
                            Ok(b) if !path.contains("..") => (200, b),
                            _ => (404, b"not found".to_vec()),
                        }
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
            overrides,
            hits,
        }
    }

    fn mirror(&self) -> String {
        let to = format!("http://127.0.0.1:{}/", self.port);
        format!(
            "[schemas]\nmirror = {{ \"https://www.schemastore.org/\" = \"{to}\", \"https://json.schemastore.org/\" = \"{to}\", \"https://docs.renovatebot.com/\" = \"{to}\" }}\n"
        )
    }

    fn set(&self, path: &str, status: u16, body: &[u8]) {
        self.overrides
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.to_vec()));
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A workspace with its own schema cache.
struct Fx {
    ws: Ws,
    cache: tempfile::TempDir,
}

impl Fx {
    fn new(config: &str) -> Fx {
        let ws = Ws::new();
        ws.put("atomic.toml", config);
        Fx {
            ws,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic")
            .args(args)
            .current_dir(self.ws.root())
            .env("CARGO_ATOMIC_CACHE", self.cache.path())
            .env("CARGO_ATOMIC_HTTP_TIMEOUT", "5")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy");
        run(cmd, None)
    }

    /// (file, code, line, message) of every diagnostic of `validate --message-format json`.
    fn findings(&self, extra: &[&str]) -> (i32, Vec<(String, String, u64, String)>) {
        let mut args = vec!["validate", "--message-format", "json"];
        args.extend_from_slice(extra);
        let r = self.run(&args);
        let found = r
            .json()
            .iter()
            .filter(|l| l["reason"] == "diagnostic")
            .map(|d| {
                (
                    d["file"].as_str().unwrap_or("").to_owned(),
                    d["code"].as_str().unwrap_or("").to_owned(),
                    d["line"].as_u64().unwrap_or(0),
                    d["message"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        (r.code, found)
    }

    fn lock(&self) -> String {
        self.ws.read("atomic.lock")
    }
}

/// A small Rust repository as one looks: a workflow, dependabot, a workspace `Cargo.toml` and
/// a member's, rustfmt, a tsconfig with comments, a renovate.json naming its own schema. The
/// mistakes: `runs-on` missing from a job, an unknown dependabot ecosystem, a rustfmt option of
/// the wrong type, a tsconfig `strict: "yes"`.
fn real_repo(fx: &Fx, server: &Server) {
    let ws = &fx.ws;
    // SchemaStore's renovate.json is one `$ref` to Renovate's own site, which the snapshot does
    // not hold: the mirror serves a small stand-in.
    server.set(
        "/renovate-schema.json",
        200,
        br#"{"type": "object", "properties": {"extends": {"type": "array", "items": {"type": "string"}}}}"#,
    );
    ws.put(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/a\"]\nresolver = \"2\"\n",
    );
    ws.put(
        "crates/a/Cargo.toml",
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lints.rust]\nunsafe_code = \"forbid\"\n",
    );
    ws.put(
        ".github/workflows/ci.yml",
        "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test\n",
    );
    ws.put(
        ".github/workflows/bad.yml",
        "name: Bad\non: [push]\njobs:\n  test:\n    steps:\n      - run: cargo test\n",
    );
    ws.put(
        ".github/dependabot.yml",
        "version: 2\nupdates:\n  - package-ecosystem: cargo\n    directory: /\n    schedule:\n      interval: weekly\n",
    );
    ws.put("rustfmt.toml", "max_width = \"wide\"\n");
    ws.put(
        "tsconfig.json",
        "{\n  // compiler options\n  \"compilerOptions\": {\n    \"strict\": \"yes\", /* wrong */\n  },\n}\n",
    );
    ws.put(
        "renovate.json",
        "{\n  \"$schema\": \"https://www.schemastore.org/renovate.json\",\n  \"extends\": [\"config:recommended\"]\n}\n",
    );
    ws.put("target/debug/tsconfig.json", "{ not even json");
}

fn expected_findings() -> Vec<(&'static str, u64)> {
    vec![
        // The job lacks `runs-on`: reported at the job's key, the object that misses it.
        (".github/workflows/bad.yml", 4),
        ("rustfmt.toml", 1),
        ("tsconfig.json", 4),
    ]
}

fn places(found: &[(String, String, u64, String)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = found.iter().map(|(f, _, l, _)| (f.clone(), *l)).collect();
    v.dedup();
    v
}

#[test]
fn fetch_pins_a_stable_lock_and_validation_then_works_with_the_server_gone() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let mut server = Server::start();
    let fx = Fx::new(&server.mirror());
    real_repo(&fx, &server);
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    for url in [
        "https://www.schemastore.org/api/json/catalog.json",
        "https://www.schemastore.org/github-workflow.json",
        "https://www.schemastore.org/cargo.json",
        "https://www.schemastore.org/cargo-lints-clippy.json",
        "https://www.schemastore.org/cargo-lints-rust.json",
        "https://www.schemastore.org/cargo-lints-rustdoc.json",
        "https://www.schemastore.org/cargo-lints-cargo.json",
        "https://www.schemastore.org/dependabot-2.0.json",
        "https://www.schemastore.org/tsconfig.json",
        "https://www.schemastore.org/rustfmt.json",
        "https://www.schemastore.org/renovate.json",
    ] {
        assert!(
            lock.contains(&format!("url = \"{url}\"")),
            "{url} not in\n{lock}"
        );
    }
    // The lock is sorted and keeps the original URLs, never the mirror's.
    assert!(!lock.contains("127.0.0.1"), "{lock}");
    let urls: Vec<&str> = lock.lines().filter(|l| l.starts_with("url = ")).collect();
    let mut sorted = urls.clone();
    sorted.sort();
    assert_eq!(urls, sorted);
    // SchemaStore's renovate.json, named in the file, `$ref`s Renovate's own schema: reached.
    assert!(
        lock.contains("https://docs.renovatebot.com/renovate-schema.json"),
        "{lock}"
    );

    let (code, online) = fx.findings(&[]);
    assert_eq!(code, 1, "{online:?}");
    assert_eq!(
        places(&online),
        places_of(&expected_findings()),
        "{online:?}"
    );

    // A second fetch changes nothing and downloads nothing.
    let hits = server.hits.lock().unwrap().len();
    let r = fx.run(&["fetch"]).ok();
    assert!(r.stderr.contains("0 downloaded, 0 changed"), "{}", r.stderr);
    assert_eq!(fx.lock(), lock);
    assert_eq!(server.hits.lock().unwrap().len(), hits);

    server.stop();
    let (code, offline) = fx.findings(&[]);
    assert_eq!((code, &offline), (1, &online));
    fx.run(&["fetch", "--offline"]).ok();
    fx.run(&["fetch", "--frozen"]).ok();
    assert_eq!(fx.lock(), lock);
}

fn places_of(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(f, l)| (f.to_string(), *l)).collect()
}

#[test]
fn a_tampered_cache_body_is_refused_and_fetch_repairs_it() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    fx.ws.put("rustfmt.toml", "max_width = 80\n");
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    let sha = lock
        .split("url = \"https://www.schemastore.org/rustfmt.json\"\nsha256 = \"")
        .nth(1)
        .unwrap()[..64]
        .to_owned();
    let object = fx.cache.path().join("sha256").join(&sha);
    std::fs::write(&object, b"{\"type\": \"object\"}").unwrap();
    let (code, found) = fx.findings(&[]);
    assert_eq!(code, 2, "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "rustfmt.toml");
    assert!(
        found[0].3.contains("refused") && found[0].3.contains(&sha),
        "{found:?}"
    );
    fx.run(&["fetch"]).ok();
    assert_eq!(fx.lock(), lock);
    assert_eq!(fx.findings(&[]).0, 0);
}

#[test]
fn schemas_not_fetched_are_located_findings_naming_fetch_all_in_one_run() {
    let fx = Fx::new("");
    fx.ws.put(
        "b.json",
        "{\n  \"$schema\": \"https://www.schemastore.org/renovate.json\",\n  \"extends\": []\n}\n",
    );
    fx.ws.put(
        "a.yaml",
        "# yaml-language-server: $schema=https://www.schemastore.org/dependabot-2.0.json\nversion: 2\n",
    );
    let (code, found) = fx.findings(&["a.yaml", "b.json"]);
    assert_eq!(code, 2, "{found:?}");
    let got: Vec<(&str, &str, u64)> = found
        .iter()
        .map(|(f, c, l, _)| (f.as_str(), c.as_str(), *l))
        .collect();
    assert_eq!(got, vec![("a.yaml", "config", 1), ("b.json", "config", 2)]);
    for (_, _, _, m) in &found {
        assert!(m.contains("cargo atomic fetch"), "{m}");
    }
    assert!(found[0].3.contains("dependabot-2.0.json"));
    assert!(found[1].3.contains("renovate.json"));
}

#[test]
fn locked_fails_when_the_lock_would_change_and_writes_nothing() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    fx.ws.put("rustfmt.toml", "max_width = 80\n");
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    fx.run(&["fetch", "--locked"]).ok();
    // A new file that needs a new schema.
    fx.ws.put("tsconfig.json", "{}\n");
    let r = fx.run(&["fetch", "--locked"]).code(2);
    assert!(
        r.stderr.contains("--locked") && r.stderr.contains("tsconfig.json"),
        "{}",
        r.stderr
    );
    assert_eq!(fx.lock(), lock);
    // A schema changed on the mirror, under --update --locked.
    std::fs::remove_file(fx.ws.path("tsconfig.json")).unwrap();
    server.set("/rustfmt.json", 200, b"{\"type\": \"object\"}");
    let r = fx.run(&["fetch", "--update", "--locked"]).code(2);
    assert!(r.stderr.contains("rustfmt.json"), "{}", r.stderr);
    assert_eq!(fx.lock(), lock);
    let r = fx.run(&["fetch", "--update"]).ok();
    assert!(
        r.stderr
            .contains("Pinned https://www.schemastore.org/rustfmt.json sha256:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("1 changed"), "{}", r.stderr);
    assert_ne!(fx.lock(), lock);
}

#[test]
fn faults_name_the_url_and_leave_the_lock_as_it_was() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    fx.ws.put("rustfmt.toml", "max_width = 80\n");
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    fx.ws.put("tsconfig.json", "{}\n");
    for (status, body, says) in [
        (404, &b"nope"[..], "404"),
        (200, &b"{\"not\": json"[..], "not JSON"),
    ] {
        server.set("/tsconfig.json", status, body);
        let r = fx.run(&["fetch"]).code(2);
        assert!(
            r.stderr.contains("tsconfig.json") && r.stderr.contains(says),
            "{}",
            r.stderr
        );
        assert_eq!(fx.lock(), lock);
    }
}

#[test]
fn a_disabled_catalog_claims_nothing() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    real_repo(&fx, &server);
    fx.run(&["fetch"]).ok();
    let r = fx
        .run(&[
            "schema-for",
            "rustfmt.toml",
            "tsconfig.json",
            "renovate.json",
            "src/x.rs",
        ])
        .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("rustfmt.toml\thttps://www.schemastore.org/rustfmt.json\tcatalog entry `rustfmt` (glob `rustfmt.toml`) sha256:"), "{}", r.stdout);
    assert!(lines[2].contains("the file's own $schema"), "{}", r.stdout);
    assert!(lines[3].ends_with("no schema applies"), "{}", r.stdout);
    fx.ws.put(
        "atomic.toml",
        &format!("{}\n[catalog]\nenabled = false\n", server.mirror()),
    );
    let r = fx.run(&["validate"]).ok();
    assert!(r.stderr.contains("0 files"), "{}", r.stderr);
}

#[test]
fn a_local_schema_that_refs_a_url_is_crawled_and_meta_schemas_are_not_fetched() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&format!(
        "{}\n[catalog]\nenabled = false\n\n[[validate]]\nfiles = [\"conf/*.json\"]\nschema = \"schemas/app.json\"\n",
        server.mirror()
    ));
    fx.ws.put(
        "schemas/app.json",
        "{\n  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n  \"$ref\": \"https://www.schemastore.org/rustfmt.json\"\n}\n",
    );
    fx.ws
        .put("conf/a.json", "{\n  \"max_width\": \"wide\"\n}\n");
    let (code, found) = fx.findings(&[]);
    assert_eq!(code, 2, "{found:?}");
    assert!(found[0].3.contains("cargo atomic fetch"), "{found:?}");
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    assert!(
        lock.contains("https://www.schemastore.org/rustfmt.json"),
        "{lock}"
    );
    assert!(!lock.contains("json-schema.org"), "{lock}");
    let (code, found) = fx.findings(&[]);
    assert_eq!(code, 1, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].2), ("conf/a.json", 2));
}

#[test]
fn a_server_that_never_answers_is_a_timeout_naming_the_url() {
    // Bound but never accepted: the kernel completes the connection, nobody ever answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let fx = Fx::new(&format!(
        "[schemas]\nmirror = {{ \"https://hang.example/\" = \"http://127.0.0.1:{port}/\" }}\n\n\
         [catalog]\nenabled = false\n\n[[validate]]\nfiles = [\"*.json\"]\nschema = \"https://hang.example/s.json\"\n"
    ));
    let mut cmd = Command::new(bin());
    cmd.arg("atomic")
        .arg("fetch")
        .current_dir(fx.ws.root())
        .env("CARGO_ATOMIC_CACHE", fx.cache.path())
        .env("CARGO_ATOMIC_HTTP_TIMEOUT", "0.5");
    let started = std::time::Instant::now();
    let r = run(cmd, None).code(2);
    assert!(
        r.stderr.contains("https://hang.example/s.json"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.to_lowercase().contains("timeout") || r.stderr.contains("timed out"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!fx.ws.path("atomic.lock").exists());
    drop(silent);
}

#[test]
fn the_zero_config_hook_validates_staged_files_through_the_catalog_quietly() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    real_repo(&fx, &server);
    fx.run(&["fetch"]).ok();
    let hook = |files: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic")
            .arg("validate")
            .args(files)
            .current_dir(fx.ws.root())
            .env("CARGO_ATOMIC_CACHE", fx.cache.path())
            .env("PRE_COMMIT", "1");
        run(cmd, None)
    };
    fx.ws.put("data/plain.json", "{\"x\": 1}\n");
    let r = hook(&["data/plain.json", ".github/workflows/ci.yml", "Cargo.toml"]).ok();
    assert!(!r.stderr.contains("no schema applies"), "{}", r.stderr);
    let r = hook(&["rustfmt.toml", "data/plain.json"]).code(1);
    assert!(r.stderr.contains("rustfmt.toml:1:"), "{}", r.stderr);
}

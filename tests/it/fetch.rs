//! `fetch`, `atomic.lock` and the catalog, end to end, never touching the internet: a loopback
//! HTTP server in the test serves `../shared/corpora/schemastore` (a snapshot of SchemaStore,
//! Apache-2.0, see its COMMIT and LICENSE) as a mirror of both SchemaStore hosts.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;

const CORPUS: &str = "schemastore";

/// What the server answers for a path instead of the snapshot.
#[derive(Clone)]
enum Reply {
    /// A status and a body, with its true Content-Length.
    Body(u16, Vec<u8>),
    /// These bytes as they are (head and body), then the connection is closed.
    Raw(Vec<u8>),
    /// Nothing, ever: the connection is held open until the server stops.
    Silence,
}

/// Path → the reply that replaces the snapshot's.
type Overrides = Arc<Mutex<HashMap<String, Reply>>>;

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
            let mut held = Vec::new();
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
                let (status, body) = match o.lock().unwrap().get(&path).cloned() {
                    Some(Reply::Body(status, body)) => (status, body),
                    Some(Reply::Raw(bytes)) => {
                        let _ = conn.write_all(&bytes);
                        continue;
                    }
                    Some(Reply::Silence) => {
                        held.push(conn);
                        continue;
                    }
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
        self.reply(path, Reply::Body(status, body.to_vec()));
    }

    fn reply(&self, path: &str, reply: Reply) {
        self.overrides
            .lock()
            .unwrap()
            .insert(path.to_owned(), reply);
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
        self.run_with(args, &[])
    }

    /// `run` with more environment variables.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.arg("atomic")
            .args(args)
            .current_dir(self.ws.root())
            .env("CARGO_ATOMIC_CACHE", self.cache.path())
            .env("CARGO_ATOMIC_HTTP_TIMEOUT", "5")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy")
            .envs(env.iter().copied());
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
    let cache = cache_files(&fx);
    server.set("/rustfmt.json", 200, b"{\"type\": \"object\"}");
    let r = fx.run(&["fetch", "--update", "--locked"]).code(2);
    assert!(
        r.stderr
            .contains("https://www.schemastore.org/rustfmt.json")
            && r.stderr.contains("--locked"),
        "{}",
        r.stderr
    );
    assert_eq!(fx.lock(), lock);
    // The changed body was downloaded, but nothing was written: not even to the cache.
    assert_eq!(cache_files(&fx), cache);
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

/// `fetch --update` names the files that pass under the old pins and fail under the new:
/// here `rustfmt.toml`, once the mirror's `rustfmt.json` starts refusing `max_width`.
#[test]
fn update_names_the_files_a_changed_schema_now_fails() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    fx.ws.put("rustfmt.toml", "max_width = 80\n");
    fx.ws.put("tsconfig.json", "{}\n");
    fx.run(&["fetch"]).ok();
    fx.run(&["validate"]).ok();
    server.set(
        "/rustfmt.json",
        200,
        br#"{"type": "object", "properties": {"max_width": {"type": "string"}}}"#,
    );
    let nope = fx
        .run(&["fetch", "--update", "https://www.schemastore.org/nope.json"])
        .code(2);
    assert!(nope.stderr.contains("is not pinned"), "{}", nope.stderr);
    // Only the one named is downloaded again.
    let r = fx
        .run(&[
            "fetch",
            "--update",
            "https://www.schemastore.org/rustfmt.json",
        ])
        .ok();
    assert!(r.stderr.contains("1 changed"), "{}", r.stderr);
    assert!(r.stderr.contains("1 downloaded"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "warning: `rustfmt.toml` passed under the old pins and fails under the new ones"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("`tsconfig.json` passed"), "{}", r.stderr);
    // And validation now says why.
    let v = fx.run(&["validate"]).code(1);
    assert!(v.stderr.contains("rustfmt.toml:1:"), "{}", v.stderr);
    // A second update changes nothing and names nothing.
    let again = fx.run(&["fetch", "--update"]).ok();
    assert!(
        !again.stderr.contains("passed under the old pins"),
        "{}",
        again.stderr
    );
}

/// Every file of the schema cache, with its bytes.
fn cache_files(fx: &Fx) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            } else {
                out.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(fx.cache.path(), &mut out);
    out
}

/// A fault: what it is, the mirror's reply, the environment of the run, what stderr must say.
type Fault = (
    &'static str,
    Reply,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn each_fault_names_the_url_and_leaves_the_lock_and_the_cache_as_they_were() {
    if skip_without_corpus(CORPUS) {
        return;
    }
    let server = Server::start();
    let fx = Fx::new(&server.mirror());
    fx.ws.put("rustfmt.toml", "max_width = 80\n");
    fx.run(&["fetch"]).ok();
    let lock = fx.lock();
    let cache = cache_files(&fx);
    let workspace = fx.ws.snapshot();
    // A new file whose schema (chosen by the catalog) the mirror now fails to serve.
    fx.ws.put("tsconfig.json", "{}\n");
    let raw = |text: &str| Reply::Raw(text.as_bytes().to_vec());
    let faults: Vec<Fault> = vec![
        ("404", Reply::Body(404, b"nope".to_vec()), &[], "HTTP 404"),
        (
            "a server that accepts and never answers",
            Reply::Silence,
            &[("CARGO_ATOMIC_HTTP_TIMEOUT", "0.3")],
            "timeout",
        ),
        (
            "a body cut off midway",
            raw(
                "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{\"type\": \"obj",
            ),
            &[],
            "cut off",
        ),
        (
            "an oversize body",
            // Valid JSON, but over a cap lowered for the test.
            Reply::Body(
                200,
                format!("{{\"description\": \"{}\"}}", "x".repeat(4000)).into_bytes(),
            ),
            &[("CARGO_ATOMIC_HTTP_MAX_BYTES", "1000")],
            "larger than 1000 bytes",
        ),
        (
            "invalid JSON",
            Reply::Body(200, b"{\"not\": json".to_vec()),
            &[],
            "not JSON",
        ),
        (
            "a redirect loop",
            raw(
                "HTTP/1.1 302 Found\r\nLocation: /tsconfig.json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            &[],
            "redirect",
        ),
    ];
    for (what, reply, env, says) in faults {
        server.reply("/tsconfig.json", reply);
        let r = fx.run_with(&["fetch"], env).code(2);
        let stderr = r.stderr.to_lowercase();
        assert!(
            r.stderr
                .contains("https://www.schemastore.org/tsconfig.json")
                && stderr.contains(&says.to_lowercase()),
            "{what}: {}",
            r.stderr
        );
        assert_eq!(fx.lock(), lock, "{what}");
        assert_eq!(cache_files(&fx), cache, "{what}");
        let mut now = fx.ws.snapshot();
        now.remove(Path::new("tsconfig.json"));
        assert_eq!(now, workspace, "{what}");
    }
    // With the mirror well again, the same fetch succeeds.
    server.overrides.lock().unwrap().clear();
    fx.run(&["fetch"]).ok();
    assert!(
        fx.lock()
            .contains("https://www.schemastore.org/tsconfig.json")
    );
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

#[test]
fn locked_offline_and_frozen_are_in_the_help_of_every_command_that_reads_the_lock() {
    let ws = Ws::new();
    for cmd in [
        vec![],
        vec!["fetch"],
        vec!["validate"],
        vec!["check"],
        vec!["apply"],
        vec!["write"],
        vec!["set"],
        vec!["unset"],
        vec!["merge"],
        vec!["schema-for"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let help = ws.run(&args).ok().stdout;
        for flag in ["--locked", "--offline", "--frozen", "Manifest Options:"] {
            assert!(
                help.contains(flag),
                "`{}` lacks {flag}:\n{help}",
                args.join(" ")
            );
        }
    }
    // A command that never reads atomic.lock does not offer them.
    let help = ws.run(&["audit", "show", "--help"]).ok().stdout;
    assert!(!help.contains("--locked"), "{help}");
}

#[test]
fn locked_fails_a_reader_when_fetch_would_change_the_lock() {
    let fx = Fx::new("");
    fx.ws.put("conf.json", "{}\n");
    // No atomic.lock yet, the catalog on: `fetch` would write one.
    fx.run(&["validate"]).ok();
    for args in [
        &["validate", "--locked"][..],
        &["--locked", "validate"],
        &["check", "--frozen"],
        &["schema-for", "conf.json", "--locked"],
    ] {
        let r = fx.run(args).code(2);
        assert!(
            r.stderr.contains("atomic.lock") && r.stderr.contains("cargo atomic fetch"),
            "{args:?}: {}",
            r.stderr
        );
    }
    // A lock that pins the catalog (an empty one, in the cache): up to date.
    let catalog = br#"{"schemas": []}"#;
    let sha = cargo_atomic::store::Sha256Digest::of(catalog).to_string();
    std::fs::create_dir_all(fx.cache.path().join("sha256")).unwrap();
    std::fs::write(fx.cache.path().join("sha256").join(&sha), catalog).unwrap();
    fx.ws.put(
        "atomic.lock",
        &format!(
            "version = 1\n\n[[schema]]\nurl = \"https://www.schemastore.org/api/json/catalog.json\"\nsha256 = \"{sha}\"\n"
        ),
    );
    fx.run(&["validate", "--locked"]).ok();
    fx.run(&["check", "--frozen"]).ok();
    // --offline alone asks nothing of the lock.
    fx.ws.put(
        "atomic.toml",
        "[catalog]\nurl = \"https://example.com/other.json\"\n",
    );
    fx.run(&["validate", "--offline"]).ok();
    let r = fx.run(&["validate", "--locked"]).code(2);
    assert!(
        r.stderr.contains("https://example.com/other.json"),
        "{}",
        r.stderr
    );
}

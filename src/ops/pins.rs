//! Pinned schemas: `atomic.lock` at the workspace root (each remote schema URL, the catalog's
//! included, with the sha256 of its body) and the per-user, content-addressed cache of bodies.
//!
//! Invariant: nothing here touches the network. A cached body is used only when its sha256 is
//! the one the lock pins; a body that differs is refused and named, never used. Only `fetch`
//! (through the CLI's HTTP client) adds bodies to the cache or writes the lock; what is derived
//! from a body (the catalog's compact index) is kept beside them, under the body's digest, by
//! whoever derives it, and is used only when its own digest checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::digest::Sha256Digest;

/// The lock file's name, at the workspace root.
pub const LOCK_FILE: &str = "atomic.lock";

/// The version of the lock format this build writes and reads.
const LOCK_VERSION: i64 = 1;

/// The most a schema body (or the catalog) may weigh.
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// `atomic.lock`: URL → sha256 of its body, sorted by URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    /// Every pinned URL (original, before any mirror) and its body's digest.
    pub schemas: BTreeMap<String, Sha256Digest>,
}

impl Lock {
    /// The lock of the workspace at `root`; `Ok(None)` when there is none.
    pub fn read(root: &Path) -> Result<Option<Lock>, String> {
        let path = root.join(LOCK_FILE);
        match crate::store::read_input(&path, MAX_BODY) {
            Ok(bytes) => {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| format!("`{LOCK_FILE}` is not UTF-8"))?;
                Lock::parse(text).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read `{LOCK_FILE}`: {e}")),
        }
    }

    /// Reads the text of a lock file.
    pub fn parse(text: &str) -> Result<Lock, String> {
        let bad = |m: String| format!("`{LOCK_FILE}` is damaged: {m}; run `cargo atomic fetch`");
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(e.message().to_owned()))?;
        match table.get("version").and_then(toml::Value::as_integer) {
            Some(LOCK_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "version {v} is not one this build reads ({LOCK_VERSION})"
                )));
            }
            None => return Err(bad("no `version`".into())),
        }
        let mut schemas = BTreeMap::new();
        let entries = match table.get("schema") {
            None => &Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err(bad("`schema` is not an array of tables".into())),
        };
        for (n, entry) in entries.iter().enumerate() {
            let field = |k: &str| {
                entry
                    .get(k)
                    .and_then(toml::Value::as_str)
                    .ok_or_else(|| bad(format!("[[schema]] number {} has no `{k}`", n + 1)))
            };
            let url = field("url")?.to_owned();
            let sha: Sha256Digest = field("sha256")?
                .parse()
                .map_err(|e| bad(format!("the sha256 of `{url}`: {e}")))?;
            schemas.insert(url, sha);
        }
        Ok(Lock { schemas })
    }

    /// The file's text: stable (sorted by URL), one `[[schema]]` table per URL.
    pub fn to_toml(&self) -> String {
        let mut s = String::from(
            "# Written by `cargo atomic fetch`: every remote schema this workspace uses, pinned by\n\
             # the sha256 of its body. Commit it; validation reads the bodies from the cache.\n",
        );
        s.push_str(&format!("version = {LOCK_VERSION}\n"));
        for (url, sha) in &self.schemas {
            s.push_str(&format!(
                "\n[[schema]]\nurl = {}\nsha256 = \"{sha}\"\n",
                toml::Value::String(url.clone())
            ));
        }
        s
    }
}

/// The per-user cache of schema bodies, by sha256: `$CARGO_ATOMIC_CACHE`, else
/// `$CARGO_HOME/atomic/schemas`, else `~/.cargo/atomic/schemas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    /// The cache directory.
    pub dir: PathBuf,
}

impl Cache {
    /// The cache the environment names, if a home can be found at all.
    pub fn from_env() -> Option<Cache> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = var("CARGO_ATOMIC_CACHE")
            .or_else(|| var("CARGO_HOME").map(|h| h.join("atomic/schemas")))
            .or_else(|| var("HOME").map(|h| h.join(".cargo/atomic/schemas")))?;
        Some(Cache { dir })
    }

    /// Where the body of digest `sha` is kept.
    pub fn object(&self, sha: &Sha256Digest) -> PathBuf {
        self.dir.join("sha256").join(sha.to_string())
    }

    /// The body of `sha`, checked against it.
    pub fn read(&self, sha: &Sha256Digest) -> Result<Vec<u8>, CacheMiss> {
        let path = self.object(sha);
        let bytes = match crate::store::read_input(&path, MAX_BODY) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
            Err(e) => return Err(CacheMiss::Unreadable(format!("`{}`: {e}", path.display()))),
        };
        let got = Sha256Digest::of(&bytes);
        if got != *sha {
            return Err(CacheMiss::Corrupt { path, found: got });
        }
        Ok(bytes)
    }

    /// Keeps `bytes` under their digest (atomically; an object already there and whole is kept).
    pub fn put(&self, bytes: &[u8]) -> Result<Sha256Digest, String> {
        let sha = Sha256Digest::of(bytes);
        if self.read(&sha).is_ok() {
            return Ok(sha);
        }
        let dir = self.dir.join("sha256");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the schema cache `{}`: {e}", dir.display()))?;
        crate::store::write_file(
            &dir,
            Path::new(&sha.to_string()),
            bytes,
            crate::store::WriteOptions::default(),
        )
        .map_err(|e| format!("cannot write to the schema cache `{}`: {e}", dir.display()))?;
        Ok(sha)
    }
}

impl Cache {
    /// Where data derived from the body `sha` (of format `kind`) is kept.
    fn derived(&self, kind: &str, sha: &Sha256Digest) -> PathBuf {
        self.dir.join("derived").join(format!("{sha}.{kind}"))
    }

    /// Data derived from the body `sha` that [`Cache::put_derived`] kept, if it is there and
    /// whole: its first 32 bytes are the sha256 of the rest.
    pub fn read_derived(&self, kind: &str, sha: &Sha256Digest) -> Option<Vec<u8>> {
        let mut bytes = crate::store::read_input(&self.derived(kind, sha), MAX_BODY).ok()?;
        let (digest, rest) = bytes.split_first_chunk::<32>()?;
        if Sha256Digest::of(rest).0 != *digest {
            return None;
        }
        bytes.drain(..32);
        Some(bytes)
    }

    /// Keeps data derived from the body `sha`, atomically, best effort: it can always be
    /// derived again, so a failure to write it is no failure.
    pub fn put_derived(&self, kind: &str, sha: &Sha256Digest, data: &[u8]) {
        let path = self.derived(kind, sha);
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let mut bytes = Sha256Digest::of(data).0.to_vec();
        bytes.extend_from_slice(data);
        let options = crate::store::WriteOptions {
            durability: crate::store::Durability::Atomic,
            ..crate::store::WriteOptions::default()
        };
        let _ = crate::store::write_file(
            dir,
            Path::new(path.file_name().unwrap_or_default()),
            &bytes,
            options,
        );
    }
}

/// Why a pinned body could not be read from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheMiss {
    /// Not in the cache.
    Absent,
    /// In the cache but with other bytes than the lock pins.
    Corrupt {
        /// The object file.
        path: PathBuf,
        /// The digest of what it holds.
        found: Sha256Digest,
    },
    /// Could not be read.
    Unreadable(String),
}

/// The lock and the cache of one workspace: what validation reads remote schemas from.
#[derive(Debug, Clone, Default)]
pub struct Pins {
    /// The workspace's lock (empty when it has none).
    pub lock: Lock,
    /// The cache (none when no home directory can be found).
    pub cache: Option<Cache>,
    /// Why the lock could not be read, if it could not.
    pub lock_error: Option<String>,
}

/// The fix named by every finding about a schema that is not available offline.
pub const FETCH_FIX: &str = "run `cargo atomic fetch` to pin it in atomic.lock and cache it";

impl Pins {
    /// The pins of the workspace at `root`, with the cache the environment names.
    pub fn load(root: &Path) -> Pins {
        let (lock, lock_error) = match Lock::read(root) {
            Ok(l) => (l.unwrap_or_default(), None),
            Err(e) => (Lock::default(), Some(e)),
        };
        Pins {
            lock,
            cache: Cache::from_env(),
            lock_error,
        }
    }

    /// The pinned body of `url` (without fragment), or one line saying why not, with the fix.
    pub fn body(&self, url: &str) -> Result<Vec<u8>, String> {
        if let Some(e) = &self.lock_error {
            return Err(e.clone());
        }
        let Some(sha) = self.lock.schemas.get(url) else {
            return Err(format!("`{url}` is not pinned in {LOCK_FILE}; {FETCH_FIX}"));
        };
        let Some(cache) = &self.cache else {
            return Err(format!(
                "`{url}` is pinned but no schema cache can be found (set CARGO_ATOMIC_CACHE or HOME)"
            ));
        };
        cache.read(sha).map_err(|miss| match miss {
            CacheMiss::Absent => {
                format!("`{url}` is pinned but not in the schema cache; {FETCH_FIX}")
            }
            CacheMiss::Corrupt { path, found } => format!(
                "the cached body of `{url}` (`{}`) has sha256 {found}, not {sha} as {LOCK_FILE} \
                 pins: refused; run `cargo atomic fetch` to fetch it again",
                path.display()
            ),
            CacheMiss::Unreadable(m) => format!("cannot read the cached body of `{url}`: {m}"),
        })
    }
}

/// `--locked` on a command that reads `atomic.lock` (cargo's meaning: the lock is up to date,
/// `fetch` would not change it): the lock exists and reads, and pins the catalog while the
/// catalog is enabled. (A schema the run uses but the lock does not pin fails the run anyway,
/// as a located finding.)
pub fn require_locked(ws: &super::Workspace) -> Result<(), super::Error> {
    let fail = |message: String| super::Error::Config {
        path: ws.root.join(LOCK_FILE),
        message,
    };
    let lock = Lock::read(&ws.root).map_err(fail)?.ok_or_else(|| {
        fail(format!(
            "there is no {LOCK_FILE} and --locked was given; {FETCH_FIX}"
        ))
    })?;
    let catalog = &ws.config.catalog;
    if catalog.enabled && !lock.schemas.contains_key(&catalog.url) {
        return Err(fail(format!(
            "{LOCK_FILE} does not pin the catalog `{}` and --locked was given; {FETCH_FIX}",
            catalog.url
        )));
    }
    Ok(())
}

/// Whether `s` names a remote schema (`http://` or `https://`), not a file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_round_trips_sorted() {
        let mut lock = Lock::default();
        lock.schemas
            .insert("https://b.example/x.json".into(), Sha256Digest::of(b"b"));
        lock.schemas
            .insert("https://a.example/y.json".into(), Sha256Digest::of(b"a"));
        let text = lock.to_toml();
        assert!(text.find("a.example").unwrap() < text.find("b.example").unwrap());
        assert_eq!(Lock::parse(&text).unwrap(), lock);
    }

    #[test]
    fn a_damaged_lock_says_so() {
        assert!(
            Lock::parse("version = 2\n")
                .unwrap_err()
                .contains("version 2")
        );
        assert!(
            Lock::parse("version = 1\n[[schema]]\nurl = \"x\"\n")
                .unwrap_err()
                .contains("sha256")
        );
    }

    #[test]
    fn a_corrupt_object_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            dir: dir.path().to_owned(),
        };
        let sha = cache.put(b"{}").unwrap();
        assert_eq!(cache.read(&sha).unwrap(), b"{}");
        std::fs::write(cache.object(&sha), b"{\"x\":1}").unwrap();
        assert!(matches!(cache.read(&sha), Err(CacheMiss::Corrupt { .. })));
        // `put` replaces a corrupt object with the right bytes.
        cache.put(b"{}").unwrap();
        assert_eq!(cache.read(&sha).unwrap(), b"{}");
    }
}

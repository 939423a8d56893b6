//! The record format (DESIGN §4): who, with what, what changed, and the hash that chains it.
//! Serialization is serde's, in field order, without whitespace; the hash is over those bytes.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::chain::Link;
use crate::digest::Sha256Digest;
use crate::store::manifest::FileState;

/// What every record's hash starts with, so a hash of this log is never a hash of anything else.
pub(crate) const DOMAIN: &[u8] = b"cargo-atomic/audit/v1\n";

/// Who made a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The login name (`USER`, else `LOGNAME`).
    pub user: Option<String>,
    /// The real user id.
    pub uid: u32,
    /// The host name.
    pub host: Option<String>,
    /// `git config user.email`, when known.
    pub email: Option<String>,
    /// The CI system (`github-actions`, `gitlab-ci`, ..., else `ci`) when `CI` is set.
    pub ci: Option<String>,
}

impl Actor {
    /// This process's user, uid, host and CI, from the environment and the kernel (no email:
    /// the store reads no git configuration; `ops` adds it).
    pub fn current() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let host = rustix::system::uname()
            .nodename()
            .to_str()
            .ok()
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        let ci = env("CI").filter(|v| v != "false" && v != "0").map(|_| {
            [
                ("GITHUB_ACTIONS", "github-actions"),
                ("GITLAB_CI", "gitlab-ci"),
                ("BUILDKITE", "buildkite"),
                ("CIRCLECI", "circleci"),
                ("JENKINS_URL", "jenkins"),
                ("TF_BUILD", "azure-pipelines"),
            ]
            .iter()
            .find(|(k, _)| env(k).is_some())
            .map_or("ci", |(_, name)| name)
            .to_owned()
        });
        Actor {
            user: env("USER").or_else(|| env("LOGNAME")),
            uid: rustix::process::getuid().as_raw(),
            host,
            email: None,
            ci,
        }
    }
}

/// How the tool was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// The command line.
    Cli,
    /// The library (a build script, a test).
    Build,
    /// The command line under pre-commit (`PRE_COMMIT=1`).
    Hook,
}

/// Which tool made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Its version.
    pub version: String,
    /// `cli`, `build` or `hook`.
    pub mode: ToolMode,
    /// The command line, as given.
    pub argv: Vec<String>,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            mode: ToolMode::Build,
            argv: Vec::new(),
        }
    }
}

/// Whether and as whom a store records changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Append records at all (`[audit] enabled`).
    pub enabled: bool,
    /// Who.
    pub actor: Actor,
    /// With what.
    pub tool: Tool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            enabled: true,
            actor: Actor::current(),
            tool: Tool::default(),
        }
    }
}

/// How a recorded attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Refused (invalid data, say); nothing changed.
    Rejected,
    /// Failed; nothing changed.
    Error,
}

/// One line of the log, in the order of its keys on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Format version: 1.
    pub v: u32,
    /// The log's random id, set by its genesis record.
    pub log_id: String,
    /// 0 for the genesis record, then one more per record.
    pub seq: u64,
    /// When (RFC 3339, UTC, milliseconds).
    pub ts: String,
    /// The run (one process) that appended it.
    pub run_id: String,
    /// Who.
    pub actor: Actor,
    /// With what.
    pub tool: Tool,
    /// `write`, `merge`, `restore`, `prune`, `rotate`, `recover`, ...; the log's own:
    /// `genesis`, `segment`, `repair`.
    pub op: String,
    /// The file, relative to the workspace root (for `segment`: the set-aside log, relative to
    /// the state directory).
    pub path: Option<String>,
    /// Its state before (`None`: it did not exist).
    pub before: Option<FileState>,
    /// Its state after (`None`: deleted).
    pub after: Option<FileState>,
    /// `ok`, `rejected` or `error`.
    pub outcome: AuditOutcome,
    /// The previous record's hash (`None` for a genesis record).
    pub prev: Option<String>,
    /// This record's hash (64 hex digits).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl AuditRecord {
    /// Serializes the record with its hash computed (and stored in `self.hash`), as one line
    /// with its newline.
    pub(crate) fn seal(&mut self) -> Vec<u8> {
        self.hash.clear();
        let mut line = serde_json::to_vec(self).expect("an audit record serializes");
        let hash = record_hash(&line);
        line.pop(); // the closing brace
        line.extend_from_slice(format!(",\"hash\":\"{hash}\"}}\n").as_bytes());
        self.hash = hash;
        line
    }

    pub(crate) fn link(&self) -> Link {
        Link {
            seq: self.seq,
            hash: self.hash.clone(),
            log_id: self.log_id.clone(),
        }
    }
}

/// `sha256(DOMAIN + unsealed)` in hex.
pub(crate) fn record_hash(unsealed: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(unsealed);
    Sha256Digest(h.finalize().into()).to_string()
}

/// One change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// `write`, `merge`, `restore`, `prune`, `rotate`, `recover`, ...
    pub op: String,
    /// The file, relative to the workspace root.
    pub path: Option<String>,
    /// Its state before.
    pub before: Option<FileState>,
    /// Its state after.
    pub after: Option<FileState>,
    /// How it ended.
    pub outcome: AuditOutcome,
}

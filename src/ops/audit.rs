//! `audit show` and `audit verify`, and who the audit records name as the actor.
//!
//! Readers take the shared lock; `verify --repair` takes the exclusive one. Verification streams
//! the log once: memory is constant in the number of records (`--deep` keeps one entry per
//! distinct file and backup object).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use super::{Error, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::event::{Event, Progress, Sink};
use crate::store::{
    Actor, AuditFinding, AuditOutcome, AuditRecord, FileState, ObjectCheck, Sha256Digest, Store,
    VerifyOptions,
};

/// What `audit show` lists.
#[derive(Debug, Clone, Default)]
pub struct AuditShowRequest {
    /// Only the newest N (after the other filters).
    pub limit: Option<usize>,
    /// Only records of this file, relative to the root.
    pub path: Option<PathBuf>,
    /// Only records at or after this time: a duration back from now (`2h`, `7d`) or an
    /// RFC 3339 time or date (`2026-11-25`, `2026-11-25T20:00:00Z`).
    pub since: Option<String>,
}

/// The audit records that match, oldest first (newest last, as a log reads). Unverified: a
/// record is listed if it parses; `audit verify` checks the chain.
pub fn audit_show(
    ws: &Workspace,
    req: &AuditShowRequest,
    sink: &mut dyn Sink,
) -> Result<Vec<AuditRecord>, Error> {
    let since = req.since.as_deref().map(parse_since).transpose()?;
    let Some(store) = Store::open_shared(&ws.root, ws.store_options(String::new()), sink)? else {
        return Ok(Vec::new());
    };
    let path = req.path.as_ref().map(|p| p.to_string_lossy().into_owned());
    // A ring of the newest `limit`: memory bounded by the limit, not by the log.
    let mut out = VecDeque::new();
    store.audit_records(&mut |r| {
        let keep = path.as_ref().is_none_or(|p| r.path.as_ref() == Some(p))
            && since.as_ref().is_none_or(|s| r.ts >= *s);
        if keep {
            if req.limit.is_some_and(|n| out.len() >= n) {
                out.pop_front();
            }
            if req.limit != Some(0) {
                out.push_back(r);
            }
        }
        true
    })?;
    Ok(out.into())
}

/// `--since` as the RFC 3339 text it is compared with (records' `ts` sort as text).
fn parse_since(s: &str) -> Result<String, Error> {
    let t = if let Ok(d) = humantime::parse_duration(s) {
        SystemTime::now()
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        t
    } else if let Ok(t) = humantime::parse_rfc3339_weak(&format!("{s}T00:00:00")) {
        t
    } else {
        return Err(Error::Usage(format!(
            "--since `{s}` is neither a duration (`2h`, `7d`) nor a time (`2026-11-25`, `2026-11-25T20:00:00Z`)"
        )));
    };
    Ok(humantime::format_rfc3339_millis(t).to_string())
}

/// What `audit verify` checks besides the chain and the head.
#[derive(Debug, Clone, Default)]
pub struct AuditVerifyRequest {
    /// A head hash kept elsewhere (`sha256:` optional): some record must have it.
    pub expect_head: Option<String>,
    /// Also check each file against its last recorded state, and each backup object.
    pub deep: bool,
    /// Cut off a torn last line first (and record that).
    pub repair: bool,
}

/// Verifies the audit log: every finding is an `audit` diagnostic (exit 1); a torn last line
/// is a warning. Reports [`Event::AuditVerified`] at the end.
pub fn audit_verify(
    ws: &Workspace,
    req: &AuditVerifyRequest,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let expect_head = match &req.expect_head {
        Some(h) => {
            let h = h.trim().trim_start_matches("sha256:").to_ascii_lowercase();
            if h.parse::<Sha256Digest>().is_err() {
                return Err(Error::Usage(format!(
                    "--expect-head `{h}` is not a sha256 (64 hex digits)"
                )));
            }
            Some(h)
        }
        None => None,
    };
    let options = ws.store_options(String::new());
    let store = if req.repair {
        Some(Store::open(&ws.root, options, sink)?)
    } else {
        Store::open_shared(&ws.root, options, sink)?
    };
    let mut outcome = Outcome::default();
    let Some(store) = store else {
        if let Some(h) = expect_head {
            outcome.errors += 1;
            let log = ws.config.settings.state_dir.join("audit.jsonl");
            sink.event(Event::Diagnostic(Diagnostic::error(
                Code::Audit,
                log,
                format!("there is no audit log, so no record has the expected head hash {h}"),
            )));
        }
        sink.event(Event::AuditVerified {
            records: 0,
            head: None,
            errors: outcome.errors,
        });
        return Ok(outcome);
    };
    if req.repair {
        for d in store.repair_audit()? {
            sink.event(Event::Diagnostic(d));
        }
    }
    let mut deep = Deep::default();
    let mut progress = Progress::new("checking audit records", 0);
    let report = store.verify_audit(&VerifyOptions { expect_head }, &mut |line, r| {
        progress.tick(sink);
        if req.deep {
            deep.visit(line, r);
        }
    })?;
    progress.finish(sink);
    for f in &report.findings {
        let d = finding(&store, f);
        match d.severity {
            Severity::Error => outcome.errors += 1,
            Severity::Warning => outcome.warnings += 1,
        }
        sink.event(Event::Diagnostic(d));
    }
    if req.deep {
        let (damage, manifest_sound) = super::check::state_damage(&store, store.damage()?, sink);
        outcome.add(damage);
        if manifest_sound {
            deep.check(&store, &mut outcome, sink)?;
        }
    }
    outcome.files = report.records as usize;
    sink.event(Event::AuditVerified {
        records: report.records,
        head: report.last.map(|l| l.hash),
        errors: outcome.errors,
    });
    Ok(outcome)
}

pub(crate) fn finding(store: &Store, f: &AuditFinding) -> Diagnostic {
    let mut d = Diagnostic::error(Code::Audit, store.state_file(&f.file), f.message.clone());
    d.line = f.line.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    d.notes = f.notes.clone();
    if f.torn {
        d.severity = Severity::Warning;
    }
    d
}

/// What `--deep` remembers while the log streams by.
#[derive(Default)]
struct Deep {
    /// Each file's last recorded state, and the line that recorded it.
    files: BTreeMap<String, (u64, Option<FileState>)>,
    /// Each backup object a record implies (the old bytes of a replaced file), until a `prune`
    /// record removes it.
    objects: BTreeMap<Sha256Digest, (u64, String)>,
}

impl Deep {
    fn visit(&mut self, line: u64, r: &AuditRecord) {
        match r.op.as_str() {
            // `doctor` names a state file it set aside and rebuilt, not a file of the workspace.
            "genesis" | "segment" | "repair" | "doctor" => {}
            "prune" => {
                if let Some(b) = r.before {
                    self.objects.remove(&b.sha256);
                }
            }
            op => {
                let Some(path) = &r.path else { return };
                if r.outcome != AuditOutcome::Ok {
                    return;
                }
                self.files.insert(path.clone(), (line, r.after));
                // A rolled-back `recover` record's "before" is bytes that were never kept,
                // rotated copies are not backups, and `accept` replaced no bytes.
                if op != "recover"
                    && op != "rotate"
                    && op != crate::store::ACCEPT
                    && r.before != r.after
                    && let Some(b) = r.before
                {
                    self.objects.insert(b.sha256, (line, path.clone()));
                }
            }
        }
    }

    fn check(
        &self,
        store: &Store,
        outcome: &mut Outcome,
        sink: &mut dyn Sink,
    ) -> Result<(), Error> {
        let log = store.state_file("audit.jsonl");
        let at = |line: u64| format!("recorded at {}:{line}", log.display());
        let show = |s: Option<FileState>| {
            s.map_or("absent".to_owned(), |s| {
                format!("sha256 {} ({} bytes)", s.sha256, s.size)
            })
        };
        let manifest = store.manifest()?;
        for (path, (line, recorded)) in &self.files {
            // A file that stays the user's (edited with `set`, never written or generated) may
            // be edited by hand: only files cargo atomic manages, or deleted, must match.
            if recorded.is_some() && !manifest.files.contains_key(path) {
                continue;
            }
            let now = match current(&store.root().join(path)) {
                Ok(now) => now,
                Err(e) => {
                    outcome.errors += 1;
                    sink.event(Event::Diagnostic(
                        Diagnostic::error(Code::Audit, path, format!("cannot read the file: {e}"))
                            .with_note(at(*line)),
                    ));
                    continue;
                }
            };
            if now != *recorded {
                outcome.errors += 1;
                sink.event(Event::Diagnostic(
                    Diagnostic::error(
                        Code::Audit,
                        path,
                        "file does not match its last audited state",
                    )
                    .with_note(format!("{}: {}", at(*line), show(*recorded)))
                    .with_note(format!("found: {}", show(now))),
                ));
            }
        }
        for (digest, (line, path)) in &self.objects {
            let problem = match store.check_object(digest)? {
                ObjectCheck::Ok => continue,
                ObjectCheck::Missing => "is missing".to_owned(),
                ObjectCheck::Corrupt(actual) => format!("is damaged: its bytes hash to {actual}"),
            };
            outcome.errors += 1;
            let mut d = Diagnostic::error(
                Code::Audit,
                &log,
                format!("the backup object of `{path}` {problem}"),
            )
            .with_note(format!("objects/{digest}"));
            d.line = u32::try_from(*line).ok();
            sink.event(Event::Diagnostic(d));
        }
        Ok(())
    }
}

/// The digest of a file as a reader sees it (through a symlink, which a write goes through
/// too); `None` when it does not exist.
fn current(path: &Path) -> std::io::Result<Option<FileState>> {
    match std::fs::File::open(path) {
        Ok(f) => {
            let (sha256, size) = Sha256Digest::of_reader(f)?;
            Ok(Some(FileState { sha256, size }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Who this process is, for audit records: the store's [`Actor::current`] plus the git
/// `user.email` of the repository around `root` (else of the user). Read from git's config
/// files, not by running git: cheap, and never fails (an absent git gives no email).
pub(crate) fn actor(root: &Path) -> Actor {
    static ACTOR: OnceLock<Actor> = OnceLock::new();
    ACTOR
        .get_or_init(|| {
            let mut a = Actor::current();
            a.email = git_email(root);
            a
        })
        .clone()
}

fn git_email(root: &Path) -> Option<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")))
        .map(|d| d.join("git/config"));
    // git's precedence: the repository's config over ~/.gitconfig over the XDG file.
    let candidates = [repo_config(root), home.map(|h| h.join(".gitconfig")), xdg];
    candidates
        .into_iter()
        .flatten()
        .find_map(|p| std::fs::read_to_string(p).ok().and_then(|t| user_email(&t)))
}

/// `.git/config` of the repository that contains `dir` (following a worktree's `.git` file to
/// its common directory).
fn repo_config(dir: &Path) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(cur) = d {
        let dot = cur.join(".git");
        if dot.is_dir() {
            return Some(dot.join("config"));
        }
        if let Ok(text) = std::fs::read_to_string(&dot) {
            let gitdir = cur.join(text.strip_prefix("gitdir:")?.trim());
            let common = std::fs::read_to_string(gitdir.join("commondir"))
                .map(|c| gitdir.join(c.trim()))
                .unwrap_or(gitdir);
            return Some(common.join("config"));
        }
        d = cur.parent();
    }
    None
}

/// The last `email` of a `[user]` section of a git config file.
fn user_email(text: &str) -> Option<String> {
    let mut in_user = false;
    let mut email = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or("").trim();
            in_user = name.eq_ignore_ascii_case("user");
            continue;
        }
        if !in_user {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("email") {
            continue;
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(v) => v.split('"').next().unwrap_or(""),
            None => value.split(['#', ';']).next().unwrap_or("").trim(),
        };
        email = Some(value.to_owned()).filter(|v| !v.is_empty());
    }
    email
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ago(d: Duration) -> String {
        humantime::format_rfc3339_millis(SystemTime::now() - d).to_string()
    }

    #[test]
    fn user_email_from_a_git_config() {
        let text = "[core]\n\temail = no@x\n[user]\n\tname = A\n\temail = a@example.com ; work\n[User]\n\tEmail = \"b@example.com\"\n[alias]\n\temail = no\n";
        assert_eq!(user_email(text).as_deref(), Some("b@example.com"));
        assert_eq!(user_email("[user]\nname = x\n"), None);
        assert_eq!(user_email(""), None);
    }

    #[test]
    fn since_takes_durations_times_and_dates() {
        let two_h = parse_since("2h").unwrap();
        assert!(two_h < ago(Duration::from_secs(3600)));
        assert!(two_h > ago(Duration::from_secs(3 * 3600)));
        assert_eq!(
            parse_since("2026-11-25").unwrap(),
            "2026-11-25T00:00:00.000Z"
        );
        assert_eq!(
            parse_since("2026-11-25T20:00:00Z").unwrap(),
            "2026-11-25T20:00:00.000Z"
        );
        assert!(matches!(parse_since("soon"), Err(Error::Usage(_))));
    }
}

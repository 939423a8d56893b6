//! Reading the chain: one line at a time, in constant memory (a line is at most 1 MiB) and
//! linear time. Used by appends (only past the head), by the damage scan, and by `verify`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::record::DOMAIN;
use super::{AuditRecord, HEAD, LOG, MAX_LINE, read_at, read_head};
use crate::digest::Sha256Digest;
use crate::store::error::{IoContext, Result};
use crate::store::manifest::FileState;

/// `audit.head`: the last record and the log's length when it was appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The last record's seq.
    pub seq: u64,
    /// The last record's hash.
    pub hash: String,
    /// The log's id.
    pub log_id: String,
    /// The log's length in bytes, up to and including that record's newline.
    pub size: u64,
}

/// What the next record must link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The record's seq.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Its log's id.
    pub log_id: String,
}

/// A torn last line: a crash interrupted an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Torn {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset where it starts.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// The first line that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub line: u64,
    pub reason: String,
}

/// How far a walk got.
#[derive(Debug)]
pub(crate) struct Walked {
    /// Good lines read.
    pub lines: u64,
    /// The last good record (or the link the walk started from).
    pub last: Option<Link>,
    /// The byte offset after the last good line.
    pub end: u64,
    pub bad: Option<BadLine>,
    pub torn: Option<Torn>,
}

enum LineError {
    /// Not JSON at all: at the end of the log, a torn append.
    NotJson(String),
    /// JSON, but not a record whose hash matches its contents.
    Bad(String),
}

/// `,"hash":"` + 64 hex digits + `"}`.
const SUFFIX: usize = 9 + 64 + 2;

/// Parses one line (without its newline) and checks its own hash.
fn parse_line(body: &[u8]) -> std::result::Result<AuditRecord, LineError> {
    let rec: AuditRecord = serde_json::from_slice(body).map_err(|e| {
        if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            LineError::Bad(format!("not an audit record: {e}"))
        } else {
            LineError::NotJson(format!("not JSON: {e}"))
        }
    })?;
    if rec.v != 1 {
        return Err(LineError::Bad(format!("unknown format version {}", rec.v)));
    }
    let cut = body.len().saturating_sub(SUFFIX);
    let (unsealed, suffix) = body.split_at(cut);
    let well_formed = suffix.len() == SUFFIX
        && rec.hash.len() == 64
        && suffix.starts_with(b",\"hash\":\"")
        && suffix.ends_with(b"\"}")
        && suffix[9..9 + 64] == *rec.hash.as_bytes();
    if !well_formed {
        return Err(LineError::Bad(
            "its \"hash\" is not the last member, as 64 hex digits".into(),
        ));
    }
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(unsealed);
    h.update(b"}");
    let actual = Sha256Digest(h.finalize().into()).to_string();
    if actual != rec.hash {
        return Err(LineError::Bad(format!(
            "its contents hash to {}, not to its recorded hash {}: the record was edited",
            &actual[..16],
            &rec.hash[..16]
        )));
    }
    Ok(rec)
}

/// Checks that `rec` may follow `prev` (`None`: it is the first record of the log).
fn check_link(
    prev: Option<&Link>,
    rec: &AuditRecord,
    line: u64,
) -> std::result::Result<(), String> {
    let Some(l) = prev else {
        return match rec.op.as_str() {
            "genesis" if rec.seq == 0 && rec.prev.is_none() => Ok(()),
            "genesis" => Err("a genesis record must have seq 0 and no prev".into()),
            "segment" => Ok(()),
            _ => Err(format!(
                "the log starts with seq {} ({}), not with a genesis record: records before it were removed",
                rec.seq, rec.op
            )),
        };
    };
    if matches!(rec.op.as_str(), "genesis" | "segment") {
        return Err(format!("a {} record after line {}", rec.op, line - 1));
    }
    if rec.log_id != l.log_id {
        return Err(format!(
            "it belongs to another log ({}, not {})",
            rec.log_id, l.log_id
        ));
    }
    if rec.seq != l.seq + 1 {
        return Err(format!(
            "seq {} follows seq {} on line {}: a record was removed, moved or inserted",
            rec.seq,
            l.seq,
            line - 1
        ));
    }
    if rec.prev.as_deref() != Some(l.hash.as_str()) {
        return Err(format!(
            "its prev is not the hash of line {}: a record was removed, moved or inserted",
            line - 1
        ));
    }
    Ok(())
}

/// Walks the log from `offset` (which must start a line), checking every line and its link,
/// until the first bad line, a torn tail, or the end. `visit` gets each good record with its
/// line number (counted from `offset`) and the byte offset after it.
pub(crate) fn walk_from(
    file: &File,
    offset: u64,
    start: Option<Link>,
    visit: &mut dyn FnMut(u64, u64, &AuditRecord),
) -> io::Result<Walked> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    reader.seek(SeekFrom::Start(offset))?;
    let mut w = Walked {
        lines: 0,
        last: start,
        end: offset,
        bad: None,
        torn: None,
    };
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        let line = w.lines + 1;
        if buf.last() != Some(&b'\n') {
            if n > MAX_LINE {
                w.bad = Some(BadLine {
                    line,
                    reason: "longer than 1 MiB: not a record".into(),
                });
            } else {
                w.torn = Some(Torn {
                    line,
                    offset: w.end,
                    len: n as u64,
                });
            }
            break;
        }
        let rec = match parse_line(&buf[..n - 1]) {
            Ok(r) => r,
            Err(LineError::NotJson(_)) if reader.fill_buf()?.is_empty() => {
                w.torn = Some(Torn {
                    line,
                    offset: w.end,
                    len: n as u64,
                });
                break;
            }
            Err(LineError::NotJson(reason) | LineError::Bad(reason)) => {
                w.bad = Some(BadLine { line, reason });
                break;
            }
        };
        if let Err(reason) = check_link(w.last.as_ref(), &rec, line) {
            w.bad = Some(BadLine { line, reason });
            break;
        }
        w.end += n as u64;
        w.lines += 1;
        visit(line, w.end, &rec);
        w.last = Some(rec.link());
    }
    Ok(w)
}

/// The log's only record, if the log is exactly one good first record (a new log whose head
/// was not written yet).
pub(crate) fn first_line_alone(file: &File, len: u64) -> io::Result<Option<AuditRecord>> {
    if len > MAX_LINE as u64 || len < 2 {
        return Ok(None);
    }
    let buf = read_at(file, 0, len as usize)?;
    let Some((&b'\n', body)) = buf.split_last() else {
        return Ok(None);
    };
    if body.contains(&b'\n') {
        return Ok(None);
    }
    Ok(parse_line(body)
        .ok()
        .filter(|r| check_link(None, r, 1).is_ok()))
}

/// The good record whose line ends (with its newline) exactly at byte `end`, if there is one.
pub(crate) fn record_ending_at(file: &File, end: u64) -> io::Result<Option<AuditRecord>> {
    for window in [4096u64, MAX_LINE as u64 + 1] {
        let lo = end.saturating_sub(window);
        let buf = read_at(file, lo, (end - lo) as usize)?;
        let Some((&b'\n', body)) = buf.split_last() else {
            return Ok(None);
        };
        let start = match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if lo == 0 => 0,
            None => continue,
        };
        return Ok(parse_line(&body[start..]).ok());
    }
    Ok(None)
}

/// What `verify` checks besides the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// A head hash kept elsewhere: some record must have it.
    pub expect_head: Option<String>,
}

/// One problem with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFinding {
    /// The file, in the state directory (`audit.jsonl`, `audit.head`, `audit.1.jsonl`).
    pub file: String,
    /// Its 1-based line, when the finding has one.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
    /// More about it.
    pub notes: Vec<String>,
    /// A torn last line (a crash, not tampering); `--repair` cuts it off.
    pub torn: bool,
}

impl AuditFinding {
    fn at(file: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        AuditFinding {
            file: file.into(),
            line,
            message: message.into(),
            notes: Vec::new(),
            torn: false,
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Whether there is a log at all.
    pub exists: bool,
    /// Good records.
    pub records: u64,
    /// The last good record.
    pub last: Option<Link>,
    /// Problems, the first bad line first.
    pub findings: Vec<AuditFinding>,
}

/// Verifies `<state>/audit.jsonl` against itself, `audit.head` and `options`, streaming.
/// `visit` gets every good record with its line number. A log that starts a new segment is
/// reported with what is known of the segment before it.
pub fn verify(
    state: &Path,
    options: &VerifyOptions,
    visit: &mut dyn FnMut(u64, &AuditRecord),
) -> Result<AuditReport> {
    let mut report = AuditReport::default();
    let head = read_head(state)?;
    let path = state.join(LOG);
    let file = match crate::store::trust::open_read(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).ctx("open", path),
    };
    let head_damaged = head.is_err();
    let head = match head {
        Ok(h) => h,
        Err(reason) => {
            report.findings.push(AuditFinding::at(HEAD, None, reason));
            None
        }
    };
    let Some(file) = file else {
        if let Some(h) = &head {
            report.findings.push(AuditFinding::at(
                LOG,
                None,
                format!("the log is missing, but {HEAD} records seq {}", h.seq),
            ));
        } else if let Some(x) = &options.expect_head {
            report.findings.push(AuditFinding::at(
                LOG,
                None,
                format!("there is no audit log, so no record has the expected head hash {x}"),
            ));
        }
        return Ok(report);
    };
    report.exists = true;
    let mut segment: Option<AuditRecord> = None;
    let mut at_head: Option<(u64, u64, String)> = None; // line, end offset, hash
    let mut past_head: Option<u64> = None;
    let mut expected_at: Option<u64> = None;
    let walked = walk_from(&file, 0, None, &mut |line, end, rec| {
        if line == 1 && rec.op == "segment" {
            segment = Some(rec.clone());
        }
        if let Some(h) = &head {
            if rec.seq == h.seq {
                at_head = Some((line, end, rec.hash.clone()));
            } else if rec.seq > h.seq && past_head.is_none() {
                past_head = Some(line);
            }
        }
        if options.expect_head.as_deref() == Some(rec.hash.as_str()) {
            expected_at = Some(line);
        }
        visit(line, rec);
    })
    .ctx("read", &path)?;
    report.records = walked.lines;
    report.last = walked.last.clone();
    if let Some(rec) = &segment {
        report.findings.push(explain_segment(state, rec)?);
    }
    if let Some(bad) = &walked.bad {
        report
            .findings
            .push(AuditFinding::at(LOG, Some(bad.line), bad.reason.clone()));
    }
    if let Some(t) = &walked.torn {
        let mut f = AuditFinding::at(
            LOG,
            Some(t.line),
            format!(
                "the last line is torn ({} bytes that are not a whole record): an append was interrupted",
                t.len
            ),
        );
        f.notes
            .push("`cargo atomic audit verify --repair` cuts it off and records that".into());
        f.torn = true;
        report.findings.push(f);
    }
    let broken = walked.bad.is_some();
    match (&head, &at_head) {
        (None, _) if !head_damaged && (walked.lines > 1 || (walked.lines == 1 && broken)) => {
            report.findings.push(AuditFinding::at(
                HEAD,
                None,
                format!("{HEAD} is missing: a truncation of the log could not be detected"),
            ));
        }
        (None, _) => {}
        (Some(h), Some((line, end, hash))) => {
            if *hash != h.hash {
                report.findings.push(AuditFinding::at(
                    LOG,
                    Some(*line),
                    format!("seq {} does not have the hash that {HEAD} records", h.seq),
                ));
            } else if *end != h.size {
                report.findings.push(AuditFinding::at(
                    LOG,
                    Some(*line),
                    format!(
                        "seq {} ends at byte {end}, but {HEAD} records {}: the log before it changed",
                        h.seq, h.size
                    ),
                ));
            } else if let Some(line) = past_head {
                let mut f = AuditFinding::at(
                    LOG,
                    Some(line),
                    format!(
                        "this record comes after the one {HEAD} records (seq {})",
                        h.seq
                    ),
                );
                f.notes.push(
                    "either an append was interrupted before the head was updated (`cargo atomic recover`, or any command that writes, settles it) or the record was added by hand"
                        .into(),
                );
                report.findings.push(f);
            }
        }
        (Some(h), None) if !broken => {
            let (seq, line) = walked
                .last
                .as_ref()
                .map_or((None, 0), |l| (Some(l.seq), walked.lines));
            let mut f = AuditFinding::at(
                LOG,
                Some(line + 1),
                match seq {
                    Some(s) if s < h.seq => format!(
                        "the log ends at line {line} (seq {s}), but {HEAD} records seq {}: records were removed from the end",
                        h.seq
                    ),
                    _ => format!("no record has the seq {} that {HEAD} records", h.seq),
                },
            );
            f.notes
                .push(format!("{HEAD}: seq {}, hash {}", h.seq, h.hash));
            report.findings.push(f);
        }
        (Some(_), None) => {}
    }
    if let Some(x) = &options.expect_head
        && expected_at.is_none()
        && !broken
    {
        let mut f = AuditFinding::at(
            LOG,
            Some(walked.lines + 1),
            format!(
                "the log ends at line {} without the expected head: records were removed or rewritten",
                walked.lines
            ),
        );
        f.notes.push(format!("expected a record with hash {x}"));
        report.findings.push(f);
    }
    report
        .findings
        .sort_by_key(|f| (f.line.is_none(), f.line, f.torn));
    Ok(report)
}

/// The finding for a log that starts a new segment: what is known of the one before.
fn explain_segment(state: &Path, rec: &AuditRecord) -> Result<AuditFinding> {
    let mut f = AuditFinding::at(
        LOG,
        Some(1),
        "the audit log was damaged and restarted here: history before this line is not verified",
    );
    let Some(name) = &rec.path else {
        f.notes
            .push("the log was missing when this segment started".into());
        return Ok(f);
    };
    let shown = Path::new(name)
        .file_name()
        .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
    let path = state.join(&shown);
    let file = match crate::store::trust::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            f.notes
                .push(format!("the damaged segment `{shown}` is missing"));
            return Ok(f);
        }
        Err(e) => return Err(e).ctx("open", path),
    };
    let walked = walk_from(&file, 0, None, &mut |_, _, _| {}).ctx("read", &path)?;
    let (sha256, size) = digest_of(&file).ctx("read", &path)?;
    f.notes
        .push(format!("the damaged segment is kept as `{shown}`"));
    if rec.before != Some(FileState { sha256, size }) {
        f.notes
            .push(format!("`{shown}` changed since it was set aside"));
    }
    match (&walked.last, &rec.prev) {
        (Some(l), Some(p)) if *p == l.hash && l.seq + 1 == rec.seq => f.notes.push(format!(
            "it is intact up to its line {} (seq {}), which this segment links to",
            walked.lines, l.seq
        )),
        (None, None) => f.notes.push(format!("`{shown}` had no good record")),
        _ => f.notes.push(format!(
            "its last good record (line {}) is not the one this segment links to",
            walked.lines
        )),
    }
    if let Some(bad) = walked.bad {
        f.notes
            .push(format!("`{shown}` line {}: {}", bad.line, bad.reason));
    } else if let Some(t) = walked.torn {
        f.notes.push(format!("`{shown}` line {} is torn", t.line));
    } else {
        f.notes.push(
            "its records are intact; it ended before what its head recorded, or its head was damaged"
                .into(),
        );
    }
    Ok(f)
}

/// The digest and size of a whole file, whatever its read position.
pub(crate) fn digest_of(mut file: &File) -> io::Result<(Sha256Digest, u64)> {
    file.seek(SeekFrom::Start(0))?;
    Sha256Digest::of_reader(file)
}

/// Every record of `<state>/audit.jsonl` that parses, oldest first, without checking the
/// chain (that is `verify`'s job). Stops when `visit` returns false.
pub fn read_records(state: &Path, visit: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
    let path = state.join(LOG);
    let file = match crate::store::trust::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("open", path),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .ctx("read", &path)?;
        if n == 0 {
            return Ok(());
        }
        if let Ok(r) = serde_json::from_slice::<AuditRecord>(buf.trim_ascii_end())
            && !visit(r)
        {
            return Ok(());
        }
    }
}

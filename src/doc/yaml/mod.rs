//! YAML: values through serde-saphyr, spans through granit-parser events, and tapes for
//! validation straight from granit-parser events (`tape.rs`), which leave whatever they do not
//! take on to serde-saphyr and give the same documents.
//!
//! Invariant: any text gives values or one located [`Problem`], never a panic, a stack overflow
//! or unbounded memory: aliases are sized before anything is expanded, nesting is bounded by
//! `Limits::max_depth`, and every walk over events keeps its own stack.
//!
//! How YAML becomes JSON values (each choice is pinned by a test in `tests.rs`):
//!
//! - **YAML 1.2 core schema.** `true`/`True`/`TRUE` and `false` are booleans; `yes`, `no`, `on`,
//!   `off`, `y`, `n` are strings. `0x1F` and `0o17` are integers (31, 15); `2001-12-14` is a
//!   string (1.2 has no timestamps). Integers past 64 bits become the nearest float.
//!   Deliberate departures, because YAML 1.1 readers (PyYAML, Ruby, yq v3) read these
//!   differently and a config must not mean two things: `017` (1.1: octal 15, 1.2: 17) and
//!   `1_000` (1.1: 1000, 1.2: a string) stay strings, so a schema that wants a number flags
//!   them. `0b101` is 5 (serde-saphyr always reads lowercase binary).
//! - **`.nan`, `.inf`, `-.inf`** and literals that overflow a double (`1e999`) have no JSON
//!   value: a `parse` problem at the scalar that says to quote it. Quoted, they are strings.
//! - **Keys** become object keys by their text as written: `1: a` → `"1"`, `true: b` →
//!   `"true"`, `0x0B: c` → `"0x0B"`, `null: d` → `"null"`, `~: e` → `"~"`, an omitted key → `""`.
//!   A sequence or mapping as a key has no JSON form: a `parse` problem.
//! - **Duplicate keys** are a `duplicate-key` problem naming both places. Plain integer keys
//!   are compared by value, as serde-saphyr does: `0x0B` repeats `11`.
//! - **Tags.** Core tags convert (`!!str 12` → `"12"`, `!!int "12"` → 12, `!!float 1` → 1.0).
//!   `!!binary` keeps its base64 text as a string (not decoded: bytes are not JSON text).
//!   `!!set` becomes an object of nulls, `!!omap` a sequence of one-key objects. Any other tag
//!   (`!Ref`, `!reference`, `!secret`) is ignored and the node read as if untagged, so tagged
//!   configs such as CloudFormation's still validate.
//! - **Merge keys** (`<<: *base`, `<<: [*a, *b]`, YAML 1.1) are expanded, as docker-compose and
//!   GitLab CI files expect: explicit entries win over merged ones, earlier sources over later.
//! - **Streams.** One value per document, in order, `null` for an empty document; a text with
//!   no document at all (empty, or only comments) gives no values.

mod events;
mod index;
mod scalar;
mod scan;
mod tape;
#[cfg(test)]
mod tape_tests;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;

use granit_parser::ErrorKind;
use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{
    DuplicateKeyPolicy, Error as YamlError, ExternalMessageSource, MergeKeyPolicy,
    MessageFormatter, NonFiniteFloatPolicy,
};

use super::span::LineIndex;
use super::{Limits, Problem};
use crate::diagnostic::Code;

pub(crate) use index::index;
pub(crate) use tape::{build as build_tapes, parse_tapes};

/// The byte ranges of the anchored nodes (`&a ...`) of `text`, when it may have aliases (else
/// none: an anchor that nothing repeats is an ordinary node). For edits, which must not change
/// a value that aliases repeat elsewhere.
pub(crate) fn anchored(text: &str) -> Vec<Range<usize>> {
    use granit_parser::Event;
    if !scan::may_have_aliases(text) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut open: Vec<(usize, usize)> = Vec::new();
    for raw in events::events(text, 1024) {
        let Ok((event, span)) = raw else { break };
        let (start, end) = (events::byte(&span.start), events::byte(&span.end));
        match event {
            Event::Scalar(_, _, anchor, _) if anchor != 0 => out.push(start..end),
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                open.push((anchor, start));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = open.pop()
                    && anchor != 0
                {
                    out.push(start..end.max(start));
                }
            }
            _ => {}
        }
    }
    out
}

/// Parses every document of the stream `text` into a value (see the module docs for how YAML
/// maps to JSON).
pub(crate) fn parse(text: &str, limits: &Limits) -> Result<Vec<Value>, Problem> {
    parse_located(text, limits).map_err(|fault| fault.into_problem(text, limits))
}

fn parse_located(text: &str, limits: &Limits) -> Result<Vec<Value>, Fault> {
    // Aliases can nest a value deeper than the text does; the expansion scan measures it.
    let deep = if scan::may_have_aliases(text) {
        scan::check_expansion(text, limits)? > INLINE_DEPTH
    } else {
        scan::may_nest_deeper_than(text, INLINE_DEPTH)
    };
    let (values, documents) = if deep {
        // No thread to be had: read here, still bounded by `max_depth`.
        on_big_stack(limits, || values(text, limits)).unwrap_or_else(|| values(text, limits))
    } else {
        values(text, limits)
    }?;
    if values.len() >= documents {
        return Ok(values);
    }
    // serde-saphyr skips documents whose root is null; put them back where they were.
    let docs = scan::documents(text, limits.max_depth);
    let mut values = values.into_iter();
    let mut all: Vec<Value> = docs
        .null_root
        .iter()
        .map(|&null| {
            if null {
                Value::Null
            } else {
                values.next().unwrap_or(Value::Null)
            }
        })
        .collect();
    all.extend(values);
    Ok(all)
}

/// The values serde-saphyr reads, and how many documents the stream has.
fn values(text: &str, limits: &Limits) -> Result<(Vec<Value>, usize), Fault> {
    let documents = Rc::new(Cell::new(0usize));
    let report = Rc::clone(&documents);
    let options = options(limits).with_budget_report(move |r| report.set(r.documents));
    let values: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| Fault::from_yaml(text, limits, &e))?;
    Ok((values, documents.get()))
}

/// Nesting that is always read on the caller's stack. Serde reads a value by recursion, one
/// level per nesting level: about 4 KiB of stack each in a release build but up to 32 KiB in a
/// debug build (the generic code is compiled in this crate, unoptimised), so the 128 levels
/// that `Limits` allows would overflow a test thread's or a rayon worker's 2 MiB. Texts that
/// may nest deeper than this are read on a thread of their own with stack for `max_depth`.
const INLINE_DEPTH: usize = 32;

fn on_big_stack<T: Send>(limits: &Limits, read: impl FnOnce() -> T + Send) -> Option<T> {
    let stack = limits
        .max_depth
        .saturating_mul(64 << 10)
        .saturating_add(1 << 20)
        .min(1 << 30);
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("yaml-parse".into())
            .stack_size(stack)
            .spawn_scoped(scope, read)
            .ok()?;
        Some(
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    })
}

fn options(limits: &Limits) -> serde_saphyr::Options {
    let nodes = limits.max_nodes;
    let bytes = limits.max_bytes.saturating_mul(2).max(64 << 20);
    // Everything countable is bounded by `max_nodes`: serde-saphyr's defaults (250,000 nodes,
    // 1,000,000 events, 1,024 documents) are for typical small configs and would refuse the
    // large files this tool is asked to check. The alias/anchor ratio heuristic is off: one
    // anchor merged into a hundred jobs is ordinary CI YAML, and `scan::check_expansion`
    // measures the real expansion instead.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.flow_nesting_limit = limits.max_depth.saturating_add(1);
    budget.max_nodes = nodes;
    budget.max_events = nodes.saturating_mul(3).saturating_add(16);
    budget.max_documents = nodes;
    budget.max_aliases = nodes;
    budget.max_anchors = nodes;
    budget.max_merge_keys = nodes;
    budget.max_recorded_anchor_events = nodes;
    budget.max_recorded_anchor_bytes = bytes;
    budget.max_total_scalar_bytes = bytes;
    budget.enforce_alias_anchor_ratio = false;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = nodes;
    alias_limits.max_replay_stack_depth = limits.max_depth;

    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.alias_limits = alias_limits;
    o.duplicate_keys = DuplicateKeyPolicy::Error;
    o.merge_keys = MergeKeyPolicy::Merge;
    o.strict_booleans = true;
    o.legacy_octal_numbers = false;
    o.leading_zero_numbers_as_strings = true;
    o.underscored_numbers_as_strings = true;
    o.null_as_string = true;
    o.ignore_binary_tag_for_string = true;
    o.non_finite_float_policy = NonFiniteFloatPolicy::Reject;
    o.with_snippet = false;
    o
}

/// A problem located by byte ranges, turned into a [`Problem`] once, at the end.
#[derive(Debug)]
pub(super) struct Fault {
    code: Code,
    message: String,
    at: Option<Range<usize>>,
    related: Option<(Range<usize>, String)>,
}

impl Fault {
    fn new(code: Code, message: String, at: Option<Range<usize>>) -> Self {
        Fault {
            code,
            message,
            at,
            related: None,
        }
    }

    fn into_problem(mut self, text: &str, limits: &Limits) -> Problem {
        // A tab used as indentation is reported at the tab, not at what follows it.
        if self.message.contains("tabs")
            && let Some(at) = &mut self.at
        {
            let before = &text.as_bytes()[..at.start.min(text.len())];
            let tabs = before.iter().rev().take_while(|&&b| b == b'\t').count();
            if tabs > 0 {
                at.start -= tabs;
                at.end = at.end.max(at.start + 1);
            }
        }
        let lines = LineIndex::new(text);
        let document = self
            .at
            .as_ref()
            .and_then(|at| scan::document_at(text, at.start, limits.max_depth));
        Problem {
            code: self.code,
            message: self.message,
            span: self.at.map(|r| lines.span(r.start, r.end)),
            related: self
                .related
                .map(|(r, label)| (lines.span(r.start, r.end), label)),
            document,
        }
    }

    fn from_yaml(text: &str, limits: &Limits, error: &YamlError) -> Self {
        // Alias errors wrap the error met while replaying the anchor; report that error, at the
        // place serde-saphyr gives (where the anchored text is).
        let mut error = error.without_snippet();
        while let YamlError::AliasError { error: inner, .. } = error {
            error = inner.without_snippet();
        }
        let at = error.location().and_then(|l| byte_range(text, &l));
        let (code, message) = match error {
            YamlError::DuplicateMappingKey { key, .. } => {
                let message = match key {
                    Some(k) => format!("duplicate key `{}`", short(k)),
                    None => "duplicate key".to_owned(),
                };
                let related = at
                    .as_ref()
                    .and_then(|r| scan::first_definition(text, r.start, limits.max_depth))
                    .map(|r| (r, "first defined here".to_owned()));
                return Fault {
                    code: Code::DuplicateKey,
                    message,
                    at,
                    related,
                };
            }
            YamlError::Budget { breach, .. } => (Code::Limit, budget_message(breach, limits)),
            YamlError::AliasReplayLimitExceeded { .. }
            | YamlError::AliasExpansionLimitExceeded { .. }
            | YamlError::AliasReplayStackDepthExceeded { .. }
            | YamlError::AliasReplayCounterOverflow { .. } => (
                Code::Limit,
                format!(
                    "the stream has more than {} values once its aliases are expanded",
                    limits.max_nodes
                ),
            ),
            YamlError::NonFiniteFloat { value, .. } => (
                Code::Parse,
                format!(
                    "`{}` has no json value; quote it to keep it as a string",
                    short(value)
                ),
            ),
            YamlError::Unexpected {
                expected: "string scalar",
                ..
            } => (
                Code::Parse,
                "a sequence or mapping cannot be a key here: json object keys are strings"
                    .to_owned(),
            ),
            YamlError::ExternalMessage { source, .. }
                if matches!(
                    source.as_ref(),
                    ExternalMessageSource::Parser(e) if *e.kind() == ErrorKind::RecursionLimitExceeded
                ) =>
            {
                (
                    Code::Limit,
                    format!("nesting is deeper than the limit of {}", limits.max_depth),
                )
            }
            YamlError::MergeValueNotMapOrSeqOfMaps { .. } => (
                Code::Parse,
                "a merge key `<<` needs a mapping, an alias of one, or a sequence of them"
                    .to_owned(),
            ),
            other => (Code::Parse, parse_message(text, at.as_ref(), other)),
        };
        Fault::new(code, message, at)
    }
}

fn budget_message(breach: &BudgetBreach, limits: &Limits) -> String {
    match breach {
        BudgetBreach::Depth { .. } => {
            format!("nesting is deeper than the limit of {}", limits.max_depth)
        }
        BudgetBreach::Nodes { .. }
        | BudgetBreach::Events { .. }
        | BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::MergeKeys { .. }
        | BudgetBreach::RecordedAnchorEvents { .. } => {
            format!("the stream has more than {} values", limits.max_nodes)
        }
        BudgetBreach::Documents { .. } => {
            format!("the stream has more than {} documents", limits.max_nodes)
        }
        other => one_line(&format!("yaml size limit exceeded: {other:?}")).to_lowercase(),
    }
}

/// serde-saphyr's message without its location suffix, on one line, starting lower-case. An
/// "unexpected character" that YAML forbids anywhere is named as such.
fn parse_message(text: &str, at: Option<&Range<usize>>, error: &YamlError) -> String {
    if let Some(c) = at
        .and_then(|r| text.get(r.start..))
        .and_then(|s| s.chars().next())
        && !is_yaml_printable(c)
    {
        return format!(
            "invalid character U+{:04X}: yaml text must be printable",
            c as u32
        );
    }
    let message = serde_saphyr::DefaultMessageFormatter.format_message(error);
    let message = one_line(&message);
    let message = message.trim_end_matches('.');
    // "YAML merge keys…" → "yaml merge keys…", "Invalid name" → "invalid name".
    let first = message.split(' ').next().unwrap_or_default();
    if first.len() > 1 && first.bytes().all(|b| b.is_ascii_uppercase()) {
        format!("{}{}", first.to_ascii_lowercase(), &message[first.len()..])
    } else {
        let mut chars = message.chars();
        chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default()
    }
}

/// YAML 1.2 `c-printable` (§5.1): tab, line breaks, and printable Unicode.
fn is_yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A key or value quoted in a message: one line, at most 60 characters.
fn short(s: &str) -> String {
    let s = one_line(s);
    if s.chars().count() <= 60 {
        s
    } else {
        s.chars().take(59).chain(['…']).collect()
    }
}

/// The byte range of a serde-saphyr location: its byte offsets when it has them, else its
/// character offset counted through the text.
fn byte_range(text: &str, location: &serde_saphyr::Location) -> Option<Range<usize>> {
    if location.line() == 0 {
        return None;
    }
    let span = location.span();
    if let (Some(start), Some(len)) = (span.byte_offset(), span.byte_len()) {
        let start = usize::try_from(start).ok()?.min(text.len());
        let end = start
            .saturating_add(usize::try_from(len).ok()?)
            .min(text.len());
        return Some(start..end);
    }
    let chars = usize::try_from(span.offset()).ok()?;
    let len = usize::try_from(span.len()).ok()?;
    let mut offsets = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .skip(chars);
    let start = offsets.next()?;
    let end = if len == 0 {
        start
    } else {
        offsets.nth(len - 1).unwrap_or(text.len())
    };
    Some(start..end)
}

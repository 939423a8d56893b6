//! Event scans that answer what serde-saphyr does not tell: how big the stream gets once its
//! aliases are expanded (checked before anything is expanded), where each document starts and
//! whether its root is null, and where a duplicate key was first defined.
//!
//! Every scan is a loop over granit-parser events with an explicit stack: no recursion, so no
//! input can overflow the stack. A scan that meets a syntax error stops and reports what it
//! has; the value parse reports the error itself.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, ScalarStyle};

use super::Fault;
use super::events::{self, KeyIdentity, byte, key_identity};
use crate::diagnostic::Code;
use crate::doc::Limits;

/// Whether `text` can hold an alias at all: an alias is `*` followed by a name, at the start of
/// the text or after white space or a flow indicator. `"35 16 * * 0"` or `config/**/*.yaml`
/// cannot. A quick pass that spares documents without aliases a second event scan.
pub(super) fn may_have_aliases(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'*'
            && (i == 0
                || matches!(
                    bytes[i - 1],
                    b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':'
                ))
            && bytes.get(i + 1).is_some_and(|n| {
                !matches!(
                    n,
                    b' ' | b'\t' | b'\n' | b'\r' | b',' | b'[' | b']' | b'{' | b'}'
                )
            })
    })
}

/// Whether `text` may nest deeper than `limit`, by a bound cheap enough to compute for every
/// text. A node's block ancestors each have their own indentation column, except a sequence
/// written at its parent key's indentation (hence two levels per open column), plus those
/// opened on its own line (`- - x`, `- k: v`), plus the flow collections open around it.
/// Brackets inside quoted text count too, which only raises the bound — except that a quoted
/// `]` lowers it; a text crafted that way still cannot nest past `max_depth`.
pub(super) fn may_nest_deeper_than(text: &str, limit: usize) -> bool {
    let mut columns: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for line in text.split('\n') {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let rest = &bytes[indent..];
        if !matches!(rest.first(), None | Some(b'#' | b'\r')) {
            while columns.last().is_some_and(|&c| c >= indent) {
                columns.pop();
            }
            columns.push(indent);
        }
        let mut indicators = 0;
        let mut deepest_flow = flow;
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'-' | b'?' | b':'
                    if matches!(rest.get(i + 1), None | Some(b' ' | b'\t' | b'\r')) =>
                {
                    indicators += 1;
                }
                b'[' | b'{' => {
                    flow += 1;
                    deepest_flow = deepest_flow.max(flow);
                }
                b']' | b'}' => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        if 2 * columns.len() + indicators + 1 + deepest_flow > limit {
            return true;
        }
    }
    false
}

/// Checks, without expanding anything, that the stream stays within `limits` once every alias
/// is replaced by its anchor's node: at most `max_nodes` nodes in the whole stream and no
/// nesting deeper than `max_depth`. A billion-laughs input fails here in one pass over its
/// events, in memory proportional to its number of anchors. Returns the deepest nesting once
/// expanded (as far as the text parses).
pub(super) fn check_expansion(text: &str, limits: &Limits) -> Result<usize, Fault> {
    struct Open {
        anchor: usize,
        nodes: u64,
        height: usize,
    }
    let mut anchors: HashMap<usize, (u64, usize)> = HashMap::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut total: u64 = 0;
    let mut deepest = 0;
    let max_nodes = limits.max_nodes as u64;
    for raw in events::events(text, limits.max_depth) {
        let Ok((event, span)) = raw else { break };
        let at = byte(&span.start)..byte(&span.end);
        // (nodes, height) of a complete node to add to its parent.
        let done = match event {
            Event::Scalar(_, _, anchor, _) => {
                total = total.saturating_add(1);
                if anchor != 0 {
                    anchors.insert(anchor, (1, 0));
                }
                Some((1, 0))
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                total = total.saturating_add(1);
                stack.push(Open {
                    anchor,
                    nodes: 1,
                    height: 1,
                });
                if stack.len() > limits.max_depth {
                    return Err(depth_fault(limits, at));
                }
                deepest = deepest.max(stack.len());
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(|open| {
                if open.anchor != 0 {
                    anchors.insert(open.anchor, (open.nodes, open.height));
                }
                (open.nodes, open.height)
            }),
            Event::Alias(id) => {
                let (nodes, height) = anchors.get(&id).copied().unwrap_or((1, 0));
                total = total.saturating_add(nodes);
                if stack.len() + height > limits.max_depth {
                    return Err(Fault::new(
                        Code::Limit,
                        format!(
                            "this alias expands to nesting deeper than the limit of {}",
                            limits.max_depth
                        ),
                        Some(at),
                    ));
                }
                deepest = deepest.max(stack.len() + height);
                Some((nodes, height))
            }
            _ => None,
        };
        if total > max_nodes {
            return Err(Fault::new(
                Code::Limit,
                format!(
                    "the stream has more than {} values once its aliases are expanded",
                    limits.max_nodes
                ),
                Some(at),
            ));
        }
        if let (Some((nodes, height)), Some(parent)) = (done, stack.last_mut()) {
            parent.nodes = parent.nodes.saturating_add(nodes);
            parent.height = parent.height.max(height + 1);
        }
    }
    Ok(deepest)
}

pub(super) fn depth_fault(limits: &Limits, at: Range<usize>) -> Fault {
    Fault::new(
        Code::Limit,
        format!("nesting is deeper than the limit of {}", limits.max_depth),
        Some(at),
    )
}

/// The documents of a stream, as far as it parses.
pub(super) struct Documents {
    /// Byte offset of each document's start.
    pub starts: Vec<usize>,
    /// Whether each document's root is a null that serde-saphyr skips in a multi-document read:
    /// empty, or a plain `~`/`null`/`Null`/`NULL`, or tagged `!!null`.
    pub null_root: Vec<bool>,
    /// Whether the whole stream parsed.
    pub complete: bool,
}

pub(super) fn documents(text: &str, max_depth: usize) -> Documents {
    let mut docs = Documents {
        starts: Vec::new(),
        null_root: Vec::new(),
        complete: false,
    };
    let mut expect_root = false;
    for raw in events::events(text, max_depth) {
        let Ok((event, span)) = raw else {
            return docs;
        };
        match event {
            Event::DocumentStart(..) => {
                docs.starts.push(byte(&span.start));
                expect_root = true;
            }
            Event::Scalar(value, style, _, tag) if expect_root => {
                let plain_null = tag.is_none()
                    && style == ScalarStyle::Plain
                    && super::scalar::is_nullish(&value);
                let tagged_null = tag.is_some_and(|t| t.is_yaml_core_schema_tag("null"));
                docs.null_root.push(plain_null || tagged_null);
                expect_root = false;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(_) if expect_root => {
                docs.null_root.push(false);
                expect_root = false;
            }
            Event::StreamEnd => docs.complete = true,
            _ => {}
        }
    }
    docs
}

/// Which document of the stream holds byte `offset`, when the stream has several (counted as
/// far as it parses; after a syntax error, a later line starting with `---` counts too).
pub(super) fn document_at(text: &str, offset: usize, max_depth: usize) -> Option<usize> {
    let docs = documents(text, max_depth);
    let index = docs
        .starts
        .iter()
        .filter(|&&s| s <= offset)
        .count()
        .saturating_sub(1);
    let later = docs.starts.iter().any(|&s| s > offset)
        || (!docs.complete && later_document_marker(text, offset));
    (index > 0 || later).then_some(index)
}

fn later_document_marker(text: &str, offset: usize) -> bool {
    let rest = text.get(offset..).unwrap_or_default();
    rest.split('\n').skip(1).any(|line| {
        line.strip_prefix("---")
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '\r']))
    })
}

/// Where the key that the duplicate key at byte `second` repeats was first defined in the same
/// mapping, compared as serde-saphyr compares keys (see [`KeyIdentity`]).
pub(super) fn first_definition(
    text: &str,
    second: usize,
    max_depth: usize,
) -> Option<Range<usize>> {
    enum Frame {
        Map {
            keys: Vec<(KeyIdentity, Range<usize>)>,
            expect_key: bool,
        },
        Other,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchored: HashMap<usize, KeyIdentity> = HashMap::new();
    for raw in events::events(text, max_depth) {
        let (event, span) = raw.ok()?;
        let at = byte(&span.start)..byte(&span.end);
        // The key this node is, if it is a scalar (or an alias of one) in key position.
        let key = match &event {
            Event::Scalar(value, style, anchor, _) => {
                let key = key_identity(value, *style);
                if *anchor != 0 {
                    anchored.insert(*anchor, key.clone());
                }
                Some(key)
            }
            Event::Alias(id) => anchored.get(id).cloned(),
            _ => None,
        };
        if event.is_node()
            && let Some(Frame::Map { keys, expect_key }) = stack.last_mut()
        {
            if *expect_key && let Some(key) = key {
                if at.start == second {
                    return keys.iter().find(|(k, _)| *k == key).map(|(_, r)| r.clone());
                }
                keys.push((key, at.clone()));
            }
            *expect_key = !*expect_key;
        }
        match event {
            Event::MappingStart(..) => stack.push(Frame::Map {
                keys: Vec::new(),
                expect_key: true,
            }),
            Event::SequenceStart(..) => stack.push(Frame::Other),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    None
}

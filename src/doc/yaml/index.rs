//! The pointer → span index of each document, from one pass over granit-parser events.
//!
//! What is recorded, for every node: its span under its RFC 6901 pointer (root `""`, sequence
//! items `/0`, `/1`…), and for a mapping entry the span of its key too. Spans run from the
//! first character of the node to just after its last: a scalar's text with its quotes, a block
//! scalar from its `|`/`>` header to its last non-blank line, a flow collection from bracket to
//! bracket, a block collection from its first entry to the end of its last. Tags and anchors
//! in front of a node are not part of it.
//!
//! - **Aliases are not expanded.** An alias node `*a` is indexed at the alias itself; nothing is
//!   indexed below it, so a pointer into the aliased value resolves, through
//!   [`SpanIndex::nearest`], to the alias — the place in this text that put the value there.
//!   The alias's pointer also records the anchor it names ([`SpanIndex::anchor_of`]): its
//!   `&name` token, when it can be found just before the anchored node.
//! - **Merge keys** (`<<`) are indexed as they are read: `/m/k` for a key `k` that `<<: *base`
//!   merges into `/m` points at the alias `*base` (with the `<<` as its key); an inline
//!   `<<: {k: 1}` indexes `/m/k` at the `1`. An explicit key of `/m` wins over a merged one,
//!   and an earlier merge source over a later one, as for the values. No pointer contains `<<`.
//! - **Keys** are the text serde-saphyr gives them (see the parent module), so pointers match
//!   the parsed values. Nothing below a sequence or mapping used as a key is indexed.
//! - **Bounded.** The pointers of a document repeat its keys once per descendant, so one huge
//!   key above many nodes could cost far more than the text; past 16 bytes of pointer per byte
//!   of text, deeper nodes are no longer indexed and resolve to their nearest indexed ancestor.

use std::collections::HashMap;

use granit_parser::{Event, ScalarStyle};

use super::events::{self, Positions, block_scalar_extent, byte, is_merge_key, key_text};
use crate::doc::{Anchor, Located, Pos, Span, SpanIndex, escape_pointer_token};

/// Builds the index of each document of `text` (one per document, as [`super::parse`] gives
/// values). A text that does not parse gives the documents up to the error, the last one partial.
pub(crate) fn index(text: &str) -> Vec<SpanIndex> {
    let mut ix = Indexer {
        text,
        positions: Positions::new(text),
        budget: text.len().saturating_mul(16).saturating_add(4096),
        docs: Vec::new(),
        current: None,
        stack: Vec::new(),
        anchor_keys: HashMap::new(),
        anchor_scalars: HashMap::new(),
        anchors: HashMap::new(),
        last_end: 0,
    };
    // Deeper than any text that `parse` accepts with sane limits; the parser stops anything
    // deeper, and this walk keeps its own stack.
    for raw in events::events(text, 1024) {
        let Ok((event, span)) = raw else { break };
        let (start, end) = (byte(&span.start), byte(&span.end));
        ix.event(event, start, end);
        ix.last_end = end;
    }
    if let Some(doc) = ix.current.take() {
        ix.docs.push(doc);
    }
    ix.docs
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// An ordinary value: indexed under its pointer when complete.
    Entry,
    /// A scalar mapping key: its span goes with the value that follows.
    Key,
    /// A sequence or mapping used as a key: not indexed, nor anything below it.
    ComplexKey,
    /// A mapping under `<<`, whose entries belong to the mapping that has the `<<`.
    MergeSource,
    /// A sequence under `<<`, whose items are merge sources.
    MergeList,
}

enum Kind {
    Seq { next: usize },
    Map { state: MapState },
}

enum MapState {
    ExpectKey,
    /// The next node is the value of this key (`None`: a complex key).
    ExpectValue(Option<PendingKey>),
}

struct PendingKey {
    text: String,
    span: Span,
    merge: bool,
}

struct Frame {
    kind: Kind,
    role: Role,
    /// This collection's pointer; `None` when nothing below it is indexed.
    ptr: Option<String>,
    /// The key span of this collection's own entry.
    key: Option<Span>,
    /// Entries below come from a merge: inserted only where nothing explicit is.
    merged: bool,
    flow: bool,
    anchor: usize,
    /// The keys of this mapping, kept when an alias or a merge may need them.
    keys: Option<Vec<String>>,
    /// The `<<` key a merge list belongs to.
    merge_key: Option<Span>,
    start: Pos,
    end: Pos,
}

/// Where a new node goes.
struct Slot {
    ptr: Option<String>,
    key: Option<Span>,
    merged: bool,
    role: Role,
    merge_key: Option<Span>,
}

struct Indexer<'a> {
    text: &'a str,
    positions: Positions<'a>,
    /// Pointer bytes that may still be built.
    budget: usize,
    docs: Vec<SpanIndex>,
    current: Option<SpanIndex>,
    stack: Vec<Frame>,
    /// Keys of anchored mappings (explicit and merged), for `<<: *anchor`.
    anchor_keys: HashMap<usize, Vec<String>>,
    /// Texts of anchored scalars, for aliases used as keys.
    anchor_scalars: HashMap<usize, String>,
    /// Where each anchor is, for the aliases that name it.
    anchors: HashMap<usize, Anchor>,
    /// Byte offset where the previous event ended.
    last_end: usize,
}

impl Indexer<'_> {
    fn event(&mut self, event: Event<'_>, start: usize, end: usize) {
        match event {
            Event::DocumentStart(..) => {
                if let Some(doc) = self.current.replace(SpanIndex::default()) {
                    self.docs.push(doc);
                }
                self.stack.clear();
            }
            Event::DocumentEnd => {
                if let Some(doc) = self.current.take() {
                    self.docs.push(doc);
                }
                self.stack.clear();
            }
            Event::Scalar(value, style, anchor, tag) => {
                let merge = is_merge_key(&value, style, tag.as_ref());
                let text = key_text(&value, style, start == end);
                let (start, end) = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        block_scalar_extent(self.text, self.last_end, (start, end))
                    }
                    _ => (start, end),
                };
                let span = self.positions.span(start, end);
                if anchor != 0 {
                    self.anchor_scalars.insert(anchor, text.to_owned());
                    self.record_anchor(anchor, start);
                }
                let slot = self.slot(Some((text, merge)), span, false);
                self.complete(slot, span);
            }
            Event::Alias(id) => {
                let span = self.positions.span(start, end);
                let key = self.anchor_scalars.get(&id).cloned();
                let slot = self.slot(key.as_deref().map(|k| (k, false)), span, false);
                if slot.role == Role::MergeSource {
                    self.merge_alias(id, span, slot.merge_key);
                } else {
                    let ptr = slot.ptr.clone();
                    self.complete(slot, span);
                    if let (Some(ptr), Some(anchor), Some(doc)) =
                        (ptr, self.anchors.get(&id), self.current.as_mut())
                        && doc.get(&ptr).is_some_and(|l| l.value == span)
                    {
                        doc.insert_anchor(ptr, anchor.clone());
                    }
                }
            }
            Event::SequenceStart(style, anchor, _) | Event::MappingStart(style, anchor, _) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if anchor != 0 {
                    self.record_anchor(anchor, start);
                }
                let pos = self.positions.pos(start);
                let span = Span {
                    start: pos,
                    end: pos,
                };
                let mut slot = self.slot(None, span, true);
                if !is_map && slot.role == Role::MergeSource {
                    slot.role = Role::MergeList;
                }
                let keep_keys = is_map && (anchor != 0 || slot.role == Role::MergeSource);
                let end_pos = self.positions.pos(end);
                self.stack.push(Frame {
                    kind: if is_map {
                        Kind::Map {
                            state: MapState::ExpectKey,
                        }
                    } else {
                        Kind::Seq { next: 0 }
                    },
                    role: slot.role,
                    ptr: slot.ptr,
                    key: slot.key,
                    merged: slot.merged,
                    flow: style == granit_parser::StructureStyle::Flow,
                    anchor,
                    keys: keep_keys.then(Vec::new),
                    merge_key: slot.merge_key,
                    start: pos,
                    end: end_pos,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(mut frame) = self.stack.pop() else {
                    return;
                };
                if frame.flow {
                    frame.end = frame.end.max(self.positions.pos(end));
                }
                let span = Span {
                    start: frame.start,
                    end: frame.end,
                };
                if frame.anchor != 0
                    && let Some(keys) = &frame.keys
                {
                    self.anchor_keys.insert(frame.anchor, keys.clone());
                }
                if frame.role == Role::MergeSource {
                    let keys = frame.keys.take().unwrap_or_default();
                    if let Some(t) = self.merge_target().and_then(|t| t.keys.as_mut()) {
                        t.extend(keys);
                    }
                }
                let slot = Slot {
                    ptr: frame.ptr,
                    key: frame.key,
                    merged: frame.merged,
                    role: frame.role,
                    merge_key: None,
                };
                self.complete(slot, span);
            }
            _ => {}
        }
    }

    /// Decides where a node that starts now goes, and advances its parent. `key` is the text the
    /// node would have as a mapping key (a scalar, or an alias of one) and whether it is `<<`.
    fn slot(&mut self, key: Option<(&str, bool)>, span: Span, collection: bool) -> Slot {
        let none = |role| Slot {
            ptr: None,
            key: None,
            merged: false,
            role,
            merge_key: None,
        };
        let depth = self.stack.len();
        let Some(parent) = self.stack.last_mut() else {
            return Slot {
                ptr: Some(String::new()),
                ..none(Role::Entry)
            };
        };
        let merged = parent.merged;
        match &mut parent.kind {
            Kind::Seq { next } => {
                let i = *next;
                *next += 1;
                if parent.role == Role::MergeList {
                    // An item of `<<: [...]`: a source for the mapping under the list.
                    let merge_key = parent.merge_key;
                    let ptr = depth.checked_sub(2).and_then(|t| self.stack[t].ptr.clone());
                    let ptr = self.charge(ptr);
                    return Slot {
                        ptr,
                        merged: true,
                        merge_key,
                        ..none(Role::MergeSource)
                    };
                }
                let ptr = parent.ptr.clone();
                let ptr = self.child(ptr.as_deref(), &i.to_string());
                Slot {
                    ptr,
                    merged,
                    ..none(Role::Entry)
                }
            }
            Kind::Map { state } => match std::mem::replace(state, MapState::ExpectKey) {
                MapState::ExpectKey => {
                    let pending = match key {
                        Some((text, merge)) if !collection => Some(PendingKey {
                            text: text.to_owned(),
                            span,
                            merge,
                        }),
                        _ => None,
                    };
                    if let (Some(p), Some(keys)) = (&pending, &mut parent.keys)
                        && !p.merge
                    {
                        keys.push(p.text.clone());
                    }
                    let role = if pending.is_some() {
                        Role::Key
                    } else {
                        Role::ComplexKey
                    };
                    *state = MapState::ExpectValue(pending);
                    none(role)
                }
                MapState::ExpectValue(None) => none(Role::Entry),
                MapState::ExpectValue(Some(k)) if k.merge => {
                    let ptr = parent.ptr.clone();
                    let ptr = self.charge(ptr);
                    Slot {
                        ptr,
                        merged: true,
                        merge_key: Some(k.span),
                        ..none(Role::MergeSource)
                    }
                }
                MapState::ExpectValue(Some(k)) => {
                    let ptr = parent.ptr.clone();
                    let ptr = self.child(ptr.as_deref(), &k.text);
                    Slot {
                        ptr,
                        key: Some(k.span),
                        merged,
                        ..none(Role::Entry)
                    }
                }
            },
        }
    }

    /// Records a complete node and extends its parent to cover it.
    fn complete(&mut self, slot: Slot, span: Span) {
        if let Some(parent) = self.stack.last_mut() {
            parent.end = parent.end.max(span.end);
        }
        if slot.role != Role::Entry {
            return;
        }
        let (Some(ptr), Some(doc)) = (slot.ptr, self.current.as_mut()) else {
            return;
        };
        let located = Located {
            value: span,
            key: slot.key,
        };
        if !slot.merged || doc.get(&ptr).is_none() {
            doc.insert(ptr, located);
        }
    }

    /// `<<: *anchor` (or an alias in `<<: [...]`): each key of the anchored mapping that the
    /// target mapping does not set itself resolves to the alias.
    fn merge_alias(&mut self, id: usize, span: Span, merge_key: Option<Span>) {
        if let Some(parent) = self.stack.last_mut() {
            parent.end = parent.end.max(span.end);
        }
        let Some(keys) = self.anchor_keys.get(&id).cloned() else {
            return;
        };
        let Some(target_ptr) = self.merge_target().map(|t| t.ptr.clone()) else {
            return;
        };
        for k in &keys {
            if let Some(ptr) = self.child(target_ptr.as_deref(), k)
                && let Some(doc) = self.current.as_mut()
                && doc.get(&ptr).is_none()
            {
                doc.insert(
                    ptr.clone(),
                    Located {
                        value: span,
                        key: merge_key,
                    },
                );
                if let Some(anchor) = self.anchors.get(&id) {
                    doc.insert_anchor(ptr, anchor.clone());
                }
            }
        }
        if let Some(t) = self.merge_target().and_then(|t| t.keys.as_mut()) {
            t.extend(keys);
        }
    }

    /// Remembers where anchor `id` is: the `&name` token at or just before byte `start`, where
    /// the anchored node begins (a tag may stand between them).
    fn record_anchor(&mut self, id: usize, start: usize) {
        let Some((from, to)) = anchor_token(self.text, start) else {
            return;
        };
        let anchor = Anchor {
            name: self.text[from + 1..to].to_owned(),
            span: self.positions.span(from, to),
        };
        self.anchors.insert(id, anchor);
    }

    /// The mapping that a merge source on top of the stack merges into: the mapping with the
    /// `<<` key, or the one under a `<<: [...]` list.
    fn merge_target(&mut self) -> Option<&mut Frame> {
        let n = self.stack.len();
        let at = match self.stack.last()?.role {
            Role::MergeList => n.checked_sub(2)?,
            _ => n - 1,
        };
        self.stack.get_mut(at)
    }

    /// `parent/token`, if the parent is indexed and the pointer budget allows.
    fn child(&mut self, parent: Option<&str>, token: &str) -> Option<String> {
        let parent = parent?;
        let token = escape_pointer_token(token);
        let len = parent.len() + 1 + token.len();
        self.budget = self.budget.checked_sub(len)?;
        let mut ptr = String::with_capacity(len);
        ptr.push_str(parent);
        ptr.push('/');
        ptr.push_str(&token);
        Some(ptr)
    }

    /// A copy of a pointer, if the budget allows.
    fn charge(&mut self, ptr: Option<String>) -> Option<String> {
        let ptr = ptr?;
        self.budget = self.budget.checked_sub(ptr.len())?;
        Some(ptr)
    }
}

/// The byte range of the `&name` token of a node that starts at byte `start`: the token there,
/// or one of the two tokens before it (`&a !tag value`, `key: &a` and a block on the next line).
fn anchor_token(text: &str, start: usize) -> Option<(usize, usize)> {
    let start = start.min(text.len());
    let token_end = |from: usize| {
        text[from..]
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
            .map_or(text.len(), |n| from + n)
    };
    if text[start..].starts_with('&') {
        return Some((start, token_end(start)));
    }
    let mut end = start;
    for _ in 0..2 {
        let before = text[..end].trim_end();
        let from = before
            .rfind(|c: char| c.is_ascii_whitespace() || matches!(c, ',' | '[' | '{'))
            .map_or(0, |n| n + 1);
        let token = &before[from..];
        if token.len() > 1 && token.starts_with('&') {
            return Some((from, before.len()));
        }
        if !token.starts_with('!') {
            return None;
        }
        end = from;
    }
    None
}

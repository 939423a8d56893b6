//! YAML text straight onto [`Tape`]s, one pass over granit-parser events: what validation
//! reads, without serde-saphyr's layers, `serde_json` values or a second scan for aliases.
//!
//! Invariant: gives exactly the documents [`super::parse`] gives, or gives up. The builder
//! takes on the common constructs (every scalar style, untagged and core-tagged scalars,
//! unknown tags, anchors and aliases, merge keys whose values are aliases of mappings) and
//! counts what serde-saphyr's budget and the alias scan count, as strictly as they do or more.
//! On anything else — a syntax error, a duplicate key, a limit, a construct it does not take
//! on — the text is parsed again by [`super::parse`], whose value or problem is the answer, so
//! problems read the same on both paths. It keeps its own stack: no recursion, and an alias is
//! only copied after its size has been charged against `Limits::max_nodes`.

use std::collections::HashSet;

use granit_parser::{Event, ScalarStyle, Tag};

use super::events::{self, byte};
use super::scalar::{self, Scalar, TagKind};
use crate::doc::tape::Tape;
use crate::doc::{Limits, Problem};

/// Parses every document of `text` onto a tape whose strings borrow from `text`.
pub(crate) fn parse_tapes<'t>(text: &'t str, limits: &Limits) -> Result<Vec<Tape<'t>>, Problem> {
    if let Some(tapes) = build(text, limits) {
        return Ok(tapes);
    }
    super::parse(text, limits).map(|docs| docs.iter().map(Tape::from_value).collect())
}

/// The tapes of `text`, or `None` where the builder leaves the text to serde-saphyr.
pub(crate) fn build<'t>(text: &'t str, limits: &Limits) -> Option<Vec<Tape<'t>>> {
    let mut b = Builder::new(text, limits);
    for raw in events::events(text, limits.max_depth) {
        let (event, span) = raw.ok()?;
        let empty = byte(&span.start) == byte(&span.end);
        b.event(event, empty)?;
    }
    b.finished.then_some(b.docs)
}

/// What an anchor's node costs to repeat, and where it is.
#[derive(Clone, Copy)]
struct Anchor {
    /// Its slot on the current document's tape; `None` for an anchored key, whose value
    /// (resolved as a key) is not the value an alias of it has.
    slot: Option<usize>,
    nodes: u64,
    events: u64,
    bytes: u64,
    /// Container levels, itself included (0 for a scalar).
    height: usize,
}

/// The running totals serde-saphyr's budget and alias limits (and `scan::check_expansion`)
/// keep, each counted here at least as high.
#[derive(Clone, Copy, Default)]
struct Counts {
    nodes: u64,
    events: u64,
    bytes: u64,
    replayed: u64,
    recorded: u64,
    recorded_bytes: u64,
    aliases: u64,
    anchors: u64,
    merge_keys: u64,
    documents: u64,
}

enum Kind {
    Seq,
    Map {
        expect_key: bool,
        /// The next value is a merge key's.
        merge_value: bool,
        /// The slots of the mappings merged in, in order.
        merges: Vec<usize>,
        /// The plain integer and null keys so far, which serde-saphyr compares by value (`0x0B`
        /// is `11`) or as written (an omitted key, whose key text is empty, is `~`).
        identities: HashSet<KeyIdentity>,
    },
    /// The sequence of aliases a merge key's value is.
    MergeSeq,
}

struct Frame {
    kind: Kind,
    slot: usize,
    anchor: usize,
    /// The totals when it started, to size it as an anchor.
    at_start: Counts,
    height: usize,
}

struct Builder<'t, 'l> {
    text: &'t str,
    limits: &'l Limits,
    docs: Vec<Tape<'t>>,
    tape: Tape<'t>,
    frames: Vec<Frame>,
    /// By anchor id: granit-parser numbers anchors through the whole stream.
    anchors: Vec<Option<Anchor>>,
    /// The first anchor id of the current document: earlier ones are out of reach (and their
    /// slots are on an earlier tape). Not clearing the table keeps a long stream linear.
    first_anchor: usize,
    /// Anchored containers open: serde-saphyr records each event into each of them.
    recording: u64,
    counts: Counts,
    finished: bool,
}

impl<'t, 'l> Builder<'t, 'l> {
    fn new(text: &'t str, limits: &'l Limits) -> Self {
        Builder {
            text,
            limits,
            docs: Vec::new(),
            tape: Tape::new(text),
            frames: Vec::new(),
            anchors: Vec::new(),
            first_anchor: 0,
            recording: 0,
            counts: Counts::default(),
            finished: false,
        }
    }

    fn event(&mut self, event: Event<'t>, empty: bool) -> Option<()> {
        self.counts.events += 1;
        match event {
            Event::StreamStart => {}
            Event::StreamEnd => self.finished = self.frames.is_empty(),
            Event::DocumentStart(..) => {
                self.counts.documents += 1;
                self.first_anchor = self.anchors.len();
            }
            Event::DocumentEnd => {
                if !self.frames.is_empty() || self.tape.slot_count() == 0 {
                    return None;
                }
                let tape = std::mem::replace(&mut self.tape, Tape::new(self.text));
                self.docs.push(tape);
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag_len = tag_len(tag.as_deref());
                let tag = scalar::kind(tag.as_deref())?;
                self.counts.nodes += 1;
                self.charge_bytes(value.len() as u64 + tag_len);
                if anchor != 0 {
                    self.counts.anchors += 1;
                    self.counts.recorded += 1;
                }
                self.scalar(&value, style, tag, anchor, empty)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                let tag_len = tag_len(tag.as_deref());
                let tag = scalar::kind(tag.as_deref())?;
                if !matches!(tag, TagKind::Untagged | TagKind::Other | TagKind::Seq) {
                    return None;
                }
                self.start(false, anchor, tag_len)?;
            }
            Event::MappingStart(_, anchor, tag) => {
                let tag_len = tag_len(tag.as_deref());
                let tag = scalar::kind(tag.as_deref())?;
                if !matches!(tag, TagKind::Untagged | TagKind::Other | TagKind::Map) {
                    return None;
                }
                self.start(true, anchor, tag_len)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.charge_recorded(1, 0);
                self.end()?;
            }
            Event::Alias(id) => self.alias(id)?,
            _ => return None,
        }
        self.within_limits().then_some(())
    }

    fn charge_bytes(&mut self, bytes: u64) {
        self.counts.bytes += bytes;
        self.charge_recorded(1, bytes);
    }

    /// `events` events of `bytes` scalar bytes recorded into every open anchored container.
    fn charge_recorded(&mut self, events: u64, bytes: u64) {
        self.counts.recorded = self
            .counts
            .recorded
            .saturating_add(events.saturating_mul(self.recording));
        self.counts.recorded_bytes = self
            .counts
            .recorded_bytes
            .saturating_add(bytes.saturating_mul(self.recording));
    }

    fn within_limits(&self) -> bool {
        let nodes = self.limits.max_nodes as u64;
        let bytes = (self.limits.max_bytes as u64)
            .saturating_mul(2)
            .max(64 << 20);
        let c = &self.counts;
        c.nodes <= nodes
            && c.events <= nodes.saturating_mul(3).saturating_add(16)
            && c.replayed <= nodes
            && c.recorded <= nodes
            && c.aliases <= nodes
            && c.anchors <= nodes
            && c.merge_keys <= nodes
            && c.documents <= nodes
            && c.bytes <= bytes
            && c.recorded_bytes <= bytes
            && self.frames.len() <= self.limits.max_depth
    }

    /// Where the next node goes.
    fn position(&self) -> Option<Position> {
        match self.frames.last().map(|f| &f.kind) {
            None => Some(Position::Value),
            Some(Kind::Seq) => Some(Position::Value),
            Some(Kind::Map {
                expect_key: true, ..
            }) => Some(Position::Key),
            Some(Kind::Map {
                merge_value: true, ..
            }) => Some(Position::Merge),
            Some(Kind::Map { .. }) => Some(Position::Value),
            Some(Kind::MergeSeq) => Some(Position::MergeItem),
        }
    }

    /// A complete node took its place in the innermost frame, `height` container levels tall.
    fn placed(&mut self, height: usize) {
        if let Some(frame) = self.frames.last_mut() {
            frame.height = frame.height.max(height + 1);
            if let Kind::Map {
                expect_key,
                merge_value,
                ..
            } = &mut frame.kind
            {
                if *expect_key {
                    *expect_key = false;
                } else {
                    *expect_key = true;
                    *merge_value = false;
                }
            }
        }
    }

    fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: TagKind,
        anchor: usize,
        empty: bool,
    ) -> Option<()> {
        match self.position()? {
            Position::Key => {
                if tag != TagKind::Untagged {
                    return None;
                }
                let plain = style == ScalarStyle::Plain;
                if plain && value == "<<" {
                    self.counts.merge_keys += 1;
                    if anchor != 0 {
                        return None;
                    }
                    let Some(Frame {
                        kind: Kind::Map { merge_value, .. },
                        ..
                    }) = self.frames.last_mut()
                    else {
                        return None;
                    };
                    *merge_value = true;
                    self.placed(0);
                    return Some(());
                }
                let identity = if !plain {
                    None
                } else if let Some(i) = scalar::integer_identity(value) {
                    Some(KeyIdentity::Integer(i))
                } else if scalar::is_nullish(value) {
                    Some(KeyIdentity::Null)
                } else {
                    None
                };
                if let Some(identity) = identity {
                    let Some(Frame {
                        kind: Kind::Map { identities, .. },
                        ..
                    }) = self.frames.last_mut()
                    else {
                        return None;
                    };
                    if !identities.insert(identity) {
                        return None;
                    }
                }
                self.tape.push_key(events::key_text(value, style, empty));
                if anchor != 0 {
                    self.define(anchor, None, 1, 1, value.len() as u64, 0)?;
                }
            }
            Position::Value => {
                let slot = self.tape.slot_count();
                match scalar::resolve(value, style, tag)? {
                    Scalar::Null => self.tape.push_null(),
                    Scalar::Bool(b) => self.tape.push_bool(b),
                    Scalar::U64(u) => self.tape.push_u64(u),
                    Scalar::I64(i) => self.tape.push_i64(i),
                    Scalar::F64(f) => self.tape.push_f64(f),
                    Scalar::Str => self.tape.push_str(value),
                }
                if anchor != 0 {
                    self.define(anchor, Some(slot), 1, 1, value.len() as u64, 0)?;
                }
            }
            // A null merge value merges nothing; anything else but aliases is left to
            // serde-saphyr.
            Position::Merge => {
                let null = tag == TagKind::Untagged
                    && style == ScalarStyle::Plain
                    && scalar::is_nullish(value);
                if !null || anchor != 0 {
                    return None;
                }
            }
            Position::MergeItem => return None,
        }
        self.placed(0);
        Some(())
    }

    fn define(
        &mut self,
        id: usize,
        slot: Option<usize>,
        nodes: u64,
        events: u64,
        bytes: u64,
        height: usize,
    ) -> Option<()> {
        // Ids count up from 1 through the stream; an absurd one is not worth a huge table.
        if id > self.text.len().saturating_mul(2).saturating_add(16) {
            return None;
        }
        if self.anchors.len() <= id {
            self.anchors.resize(id + 1, None);
        }
        self.anchors[id] = Some(Anchor {
            slot,
            nodes,
            events,
            bytes,
            height,
        });
        Some(())
    }

    fn start(&mut self, mapping: bool, anchor: usize, tag_len: u64) -> Option<()> {
        let position = self.position()?;
        let merge_seq = match position {
            Position::Value => false,
            Position::Merge if !mapping && anchor == 0 && tag_len == 0 => true,
            Position::Key | Position::Merge | Position::MergeItem => return None,
        };
        let at_start = self.counts;
        self.counts.nodes += 1;
        if anchor != 0 {
            self.counts.anchors += 1;
            self.recording += 1;
        }
        self.charge_bytes(tag_len);
        let slot = self.tape.slot_count();
        let kind = if merge_seq {
            Kind::MergeSeq
        } else if mapping {
            self.tape.open_object();
            Kind::Map {
                expect_key: true,
                merge_value: false,
                merges: Vec::new(),
                identities: HashSet::new(),
            }
        } else {
            self.tape.open_array();
            Kind::Seq
        };
        self.frames.push(Frame {
            kind,
            slot,
            anchor,
            at_start,
            height: 1,
        });
        Some(())
    }

    fn end(&mut self) -> Option<()> {
        let frame = self.frames.pop()?;
        match frame.kind {
            Kind::MergeSeq => {
                // Its aliases are already the merge sources of the mapping around it.
                self.placed(frame.height);
                return Some(());
            }
            Kind::Seq => self.tape.close(),
            Kind::Map {
                expect_key: true,
                merges,
                ..
            } => {
                if merges.is_empty() {
                    self.tape.close();
                    if self.tape.has_duplicate_key(frame.slot) {
                        return None;
                    }
                } else if !self.tape.close_merging(&merges, |k| !merge_sensitive(k)) {
                    return None;
                }
            }
            Kind::Map { .. } => return None,
        }
        if frame.anchor != 0 {
            self.recording -= 1;
            let c = self.counts;
            let s = frame.at_start;
            self.define(
                frame.anchor,
                Some(frame.slot),
                c.nodes - s.nodes,
                // The start event was counted before the snapshot.
                c.events - s.events + 1,
                c.bytes - s.bytes,
                frame.height,
            )?;
        }
        self.placed(frame.height);
        Some(())
    }

    fn alias(&mut self, id: usize) -> Option<()> {
        if id < self.first_anchor {
            return None;
        }
        let anchor = (*self.anchors.get(id)?)?;
        let slot = anchor.slot?;
        // Charge everything before copying anything: an alias bomb stops here.
        let c = &mut self.counts;
        c.aliases += 1;
        c.nodes = c.nodes.saturating_add(anchor.nodes);
        c.events = c.events.saturating_add(anchor.events);
        c.replayed = c.replayed.saturating_add(anchor.events);
        c.bytes = c.bytes.saturating_add(anchor.bytes);
        self.charge_recorded(anchor.events, anchor.bytes);
        if self.frames.len() + anchor.height > self.limits.max_depth || !self.within_limits() {
            return None;
        }
        match self.position()? {
            Position::Key => return None,
            Position::Value => self.tape.copy_node(slot),
            Position::Merge | Position::MergeItem => {
                if !self.tape.is_object_at(slot) {
                    return None;
                }
                let map = match self.position()? {
                    Position::Merge => self.frames.len() - 1,
                    _ => self.frames.len().checked_sub(2)?,
                };
                let Kind::Map { merges, .. } = &mut self.frames[map].kind else {
                    return None;
                };
                merges.push(slot);
            }
        }
        self.placed(anchor.height);
        Some(())
    }
}

/// A key serde-saphyr does not compare by its key text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyIdentity {
    /// `(negative, magnitude)`.
    Integer((bool, u128)),
    /// A plain null key: `~` and an omitted key are one key, `null` another. Any two are
    /// left to serde-saphyr, so all are one identity here.
    Null,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    Key,
    Value,
    /// The value of a merge key `<<`.
    Merge,
    /// An item of the sequence a merge key's value is.
    MergeItem,
}

/// A key whose identity serde-saphyr may not take from its text alone (an integer, compared by
/// value; a null, which differs from the same text quoted). Where merges decide which of two
/// keys wins, such keys are left to serde-saphyr.
fn merge_sensitive(key: &str) -> bool {
    scalar::is_nullish(key) || key == "~" || scalar::integer_identity(key).is_some()
}

/// The bytes serde-saphyr's budget charges for a tag: its resolved handle and suffix.
fn tag_len(tag: Option<&Tag>) -> u64 {
    tag.map_or(0, |t| (t.handle().len() + t.suffix().len()) as u64)
}

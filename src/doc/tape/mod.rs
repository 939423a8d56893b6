//! The tape: a compact, read-only JSON document for validation.
//!
//! A parsed `serde_json::Value` with key order kept costs about five times its text (an
//! ordered map per object, a `String` per key and string). Validation only reads, so files are
//! parsed into a tape instead: one flat `Vec` of 16-byte slots in document order (pre-order),
//! with strings that need no unescaping borrowed from the source text.
//!
//! - A container's slot holds its member (or element) count and the index just past its last
//!   descendant, so a reader skips a whole subtree in one step.
//! - An object's members follow it as pairs: a key slot (a string), then the value's slots.
//! - A string slot holds its byte length and offset, either into the source text (no escapes)
//!   or into the tape's own string buffer.
//!
//! Invariant: a tape is built once, in order, through [`Tape`]'s building methods, and is only
//! read afterwards. Every container opened is closed; a reader may rely on that
//! ([`Tape::is_complete`]).

mod node;
#[cfg(test)]
mod tests;

use serde_json::{Map, Number, Value};

pub use node::{ArrayRef, Items, Members, NodeRef, ObjectRef, TapeJson};

/// What one slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Null = 0,
    False = 1,
    True = 2,
    /// `data`: the `u64`.
    PosInt = 3,
    /// `data`: the `i64`, as bits (always negative).
    NegInt = 4,
    /// `data`: the `f64`, as bits (always finite).
    Float = 5,
    /// `len` bytes at offset `data` of the source text.
    Text = 6,
    /// `len` bytes at offset `data` of the tape's own strings.
    Owned = 7,
    /// `len` elements; `data`: the index past the last descendant.
    Array = 8,
    /// `len` members; `data`: the index past the last descendant.
    Object = 9,
}

impl Tag {
    fn of(head: u64) -> Tag {
        match head & 0xff {
            0 => Tag::Null,
            1 => Tag::False,
            2 => Tag::True,
            3 => Tag::PosInt,
            4 => Tag::NegInt,
            5 => Tag::Float,
            6 => Tag::Text,
            7 => Tag::Owned,
            8 => Tag::Array,
            _ => Tag::Object,
        }
    }
}

/// One slot: a tag and a length packed in `head`, a payload in `data`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    head: u64,
    data: u64,
}

impl Slot {
    fn new(tag: Tag, len: usize, data: u64) -> Slot {
        Slot {
            head: (len as u64) << 8 | tag as u64,
            data,
        }
    }

    fn tag(self) -> Tag {
        Tag::of(self.head)
    }

    fn len(self) -> usize {
        (self.head >> 8) as usize
    }
}

/// A JSON document as a flat list of slots. `'t` is the source text strings may borrow from.
#[derive(Debug, Clone, Default)]
pub struct Tape<'t> {
    text: &'t str,
    strings: String,
    slots: Vec<Slot>,
    /// The containers being built, innermost last: (slot index, count so far).
    open: Vec<(usize, usize)>,
}

impl<'t> Tape<'t> {
    /// An empty tape whose strings may borrow from `text`.
    pub fn new(text: &'t str) -> Self {
        Tape {
            text,
            strings: String::new(),
            slots: Vec::new(),
            open: Vec::new(),
        }
    }

    /// The tape of `value`.
    pub fn from_value(value: &Value) -> Tape<'static> {
        let mut tape = Tape::new("");
        tape.push_value(value);
        tape
    }

    /// The root node; `None` for a tape with nothing on it.
    pub fn root(&self) -> Option<NodeRef<'_>> {
        (self.is_complete() && !self.slots.is_empty()).then(|| NodeRef::new(self, 0))
    }

    /// The root as a `serde_json::Value` (`null` for an empty tape).
    pub fn to_value(&self) -> Value {
        self.root().map_or(Value::Null, |n| n.to_value())
    }

    /// Whether every container opened has been closed.
    pub fn is_complete(&self) -> bool {
        self.open.is_empty()
    }

    /// Bytes this tape holds on the heap, beside the text it borrows.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.strings.capacity()
            + self.open.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    /// How many slots the tape has: the index the next one will get.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Whether the object at slot `at` has a key twice.
    pub fn has_duplicate_key(&self, at: usize) -> bool {
        NodeRef::new(self, at)
            .as_object()
            .is_some_and(|o| o.duplicate().is_some())
    }

    /// Empties the tape, keeping its allocations.
    pub fn clear(&mut self) {
        self.strings.clear();
        self.slots.clear();
        self.open.clear();
    }

    // ---------------------------------------------------------------- building

    /// Counts a value (or, in an object, a key) in the innermost open container.
    fn count(&mut self) {
        if let Some((_, n)) = self.open.last_mut() {
            *n += 1;
        }
    }

    fn push(&mut self, slot: Slot) {
        self.slots.push(slot);
    }

    /// Appends `null`.
    pub fn push_null(&mut self) {
        self.count_value();
        self.push(Slot::new(Tag::Null, 0, 0));
    }

    /// Appends a boolean.
    pub fn push_bool(&mut self, b: bool) {
        self.count_value();
        self.push(Slot::new(if b { Tag::True } else { Tag::False }, 0, 0));
    }

    /// Appends an unsigned integer.
    pub fn push_u64(&mut self, n: u64) {
        self.count_value();
        self.push(Slot::new(Tag::PosInt, 0, n));
    }

    /// Appends a signed integer (stored as `serde_json::Number` would: non-negative ones as
    /// unsigned).
    pub fn push_i64(&mut self, n: i64) {
        if let Ok(u) = u64::try_from(n) {
            return self.push_u64(u);
        }
        self.count_value();
        self.push(Slot::new(Tag::NegInt, 0, n as u64));
    }

    /// Appends a float; a non-finite one (which JSON cannot hold) becomes `null`, as
    /// `serde_json::Number::from_f64` refuses it.
    pub fn push_f64(&mut self, f: f64) {
        if !f.is_finite() {
            return self.push_null();
        }
        self.count_value();
        self.push(Slot::new(Tag::Float, 0, f.to_bits()));
    }

    /// Appends a number.
    pub fn push_number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            self.push_u64(u);
        } else if let Some(i) = n.as_i64() {
            self.push_i64(i);
        } else {
            self.push_f64(n.as_f64().unwrap_or(f64::NAN));
        }
    }

    /// Appends a string. A string that lies within the source text is borrowed, not copied.
    pub fn push_str(&mut self, s: &str) {
        self.count_value();
        let slot = self.string_slot(s);
        self.push(slot);
    }

    /// Appends the key of the next member of the innermost open object.
    pub fn push_key(&mut self, key: &str) {
        self.count();
        let slot = self.string_slot(key);
        self.push(slot);
    }

    /// Counts a value in an open array (an object counts its keys instead).
    fn count_value(&mut self) {
        if let Some(&(at, _)) = self.open.last()
            && self.slots[at].tag() == Tag::Array
        {
            self.count();
        }
    }

    fn string_slot(&mut self, s: &str) -> Slot {
        let base = self.text.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        if at >= base && at + s.len() <= base + self.text.len() {
            return Slot::new(Tag::Text, s.len(), (at - base) as u64);
        }
        let offset = self.strings.len();
        self.strings.push_str(s);
        Slot::new(Tag::Owned, s.len(), offset as u64)
    }

    /// Opens an array, giving its slot; its elements follow until [`Tape::close`].
    pub fn open_array(&mut self) -> usize {
        self.open_container(Tag::Array)
    }

    /// Opens an object, giving its slot; its members follow, each a [`Tape::push_key`] and a
    /// value, until [`Tape::close`].
    pub fn open_object(&mut self) -> usize {
        self.open_container(Tag::Object)
    }

    /// Opens a container of `tag`, giving its slot.
    fn open_container(&mut self, tag: Tag) -> usize {
        self.count_value();
        let at = self.slots.len();
        self.open.push((at, 0));
        self.push(Slot::new(tag, 0, 0));
        at
    }

    /// Closes the innermost open container. Does nothing when none is open.
    pub fn close(&mut self) {
        if let Some((at, count)) = self.open.pop() {
            let tag = self.slots[at].tag();
            self.slots[at] = Slot::new(tag, count, self.slots.len() as u64);
        }
    }

    /// Appends a copy of the complete node at slot `at` (a YAML alias), as the next value.
    pub(crate) fn copy_node(&mut self, at: usize) {
        self.count_value();
        self.copy_slots(at, self.end(at));
    }

    /// The kind of the node at slot `at`: whether it is an object.
    pub(crate) fn is_object_at(&self, at: usize) -> bool {
        self.slots.get(at).is_some_and(|s| s.tag() == Tag::Object)
    }

    /// Appends the slots `from..to` (whole nodes), moving container ends along.
    fn copy_slots(&mut self, from: usize, to: usize) {
        let base = self.slots.len();
        self.slots.reserve(to - from);
        for i in from..to {
            let mut slot = self.slots[i];
            if matches!(slot.tag(), Tag::Array | Tag::Object) {
                slot.data = slot.data - from as u64 + base as u64;
            }
            self.slots.push(slot);
        }
    }

    /// Closes the innermost open container, an object, after appending the members of each
    /// object at `sources` whose key it does not have yet (YAML merge keys: its own members
    /// win, then earlier sources over later ones). `plain_key` says whether a key compares by
    /// its text alone; the object is left open and `false` returned when a key does not, when
    /// two of its own keys are equal, or when a source is not an object.
    pub(crate) fn close_merging(
        &mut self,
        sources: &[usize],
        plain_key: impl Fn(&str) -> bool,
    ) -> bool {
        let Some(&(at, _)) = self.open.last() else {
            return false;
        };
        if self.slots[at].tag() != Tag::Object || !sources.iter().all(|&s| self.is_object_at(s)) {
            return false;
        }
        let mut take = Vec::new();
        {
            let mut seen = std::collections::HashSet::new();
            let mut i = at + 1;
            while i < self.slots.len() {
                let key = self.string(i);
                if !plain_key(key) || !seen.insert(key) {
                    return false;
                }
                i = self.end(i + 1);
            }
            for &source in sources {
                let mut i = source + 1;
                while i < self.end(source) {
                    let key = self.string(i);
                    if !plain_key(key) {
                        return false;
                    }
                    if seen.insert(key) {
                        take.push(i);
                    }
                    i = self.end(i + 1);
                }
            }
        }
        for key in take {
            self.count();
            let end = self.end(key + 1);
            self.copy_slots(key, end);
        }
        self.close();
        true
    }

    /// Appends `value`, whole.
    pub fn push_value(&mut self, value: &Value) {
        // An explicit stack: a value may nest deeper than a thread's stack allows recursion.
        enum Step<'v> {
            Value(&'v Value),
            Member(&'v str, &'v Value),
            Close,
        }
        let mut todo = vec![Step::Value(value)];
        while let Some(step) = todo.pop() {
            let v = match step {
                Step::Close => {
                    self.close();
                    continue;
                }
                Step::Member(k, v) => {
                    self.push_key(k);
                    v
                }
                Step::Value(v) => v,
            };
            match v {
                Value::Null => self.push_null(),
                Value::Bool(b) => self.push_bool(*b),
                Value::Number(n) => self.push_number(n),
                Value::String(s) => self.push_str(s),
                Value::Array(items) => {
                    self.open_array();
                    todo.push(Step::Close);
                    todo.extend(items.iter().rev().map(Step::Value));
                }
                Value::Object(map) => {
                    self.open_object();
                    todo.push(Step::Close);
                    todo.extend(map.iter().rev().map(|(k, v)| Step::Member(k, v)));
                }
            }
        }
    }

    // ---------------------------------------------------------------- reading

    fn slot(&self, at: usize) -> Slot {
        self.slots[at]
    }

    /// The index just past the subtree at `at`.
    fn end(&self, at: usize) -> usize {
        let slot = self.slots[at];
        match slot.tag() {
            Tag::Array | Tag::Object => slot.data as usize,
            _ => at + 1,
        }
    }

    /// The string at `at`, which must be a string slot.
    fn string(&self, at: usize) -> &str {
        let slot = self.slots[at];
        let (start, len) = (slot.data as usize, slot.len());
        match slot.tag() {
            Tag::Text => &self.text[start..start + len],
            _ => &self.strings[start..start + len],
        }
    }
}

/// Builds a `Value` from the node at `at` (recursion is bounded by the depth the parsers
/// allow).
fn to_value(tape: &Tape<'_>, at: usize) -> Value {
    let slot = tape.slot(at);
    match slot.tag() {
        Tag::Null => Value::Null,
        Tag::False => Value::Bool(false),
        Tag::True => Value::Bool(true),
        Tag::PosInt | Tag::NegInt | Tag::Float => Value::Number(number(slot)),
        Tag::Text | Tag::Owned => Value::String(tape.string(at).to_owned()),
        Tag::Array => {
            let mut items = Vec::with_capacity(slot.len());
            let mut i = at + 1;
            while i < slot.data as usize {
                items.push(to_value(tape, i));
                i = tape.end(i);
            }
            Value::Array(items)
        }
        Tag::Object => {
            let mut map = Map::with_capacity(slot.len());
            let mut i = at + 1;
            while i < slot.data as usize {
                let key = tape.string(i).to_owned();
                map.insert(key, to_value(tape, i + 1));
                i = tape.end(i + 1);
            }
            Value::Object(map)
        }
    }
}

/// The number in a number slot.
fn number(slot: Slot) -> Number {
    match slot.tag() {
        Tag::PosInt => Number::from(slot.data),
        Tag::NegInt => Number::from(slot.data as i64),
        // Only finite floats are stored.
        _ => Number::from_f64(f64::from_bits(slot.data)).unwrap_or_else(|| Number::from(0)),
    }
}

//! Reading a tape: node handles, and the validator library's view of them ([`TapeJson`]).

use std::borrow::Cow;
use std::collections::HashSet;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object, cmp};
use serde_json::{Number, Value};

use super::{Tag, Tape, number, to_value};

/// A handle on one node of a tape: cheap to copy.
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    tape: &'a Tape<'a>,
    at: usize,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeRef({}: {})", self.at, self.to_value())
    }
}

impl<'a> NodeRef<'a> {
    pub(super) fn new(tape: &'a Tape<'a>, at: usize) -> Self {
        NodeRef { tape, at }
    }

    fn tag(&self) -> Tag {
        self.tape.slot(self.at).tag()
    }

    /// The slot index: unique within the tape, in document order.
    pub fn index(&self) -> usize {
        self.at
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&'a str> {
        matches!(self.tag(), Tag::Text | Tag::Owned).then(|| self.tape.string(self.at))
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number> {
        matches!(self.tag(), Tag::PosInt | Tag::NegInt | Tag::Float)
            .then(|| number(self.tape.slot(self.at)))
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<ObjectRef<'a>> {
        (self.tag() == Tag::Object).then_some(ObjectRef(*self))
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<ArrayRef<'a>> {
        (self.tag() == Tag::Array).then_some(ArrayRef(*self))
    }

    /// The member `key` of this object (the first, were keys repeated).
    pub fn get(&self, key: &str) -> Option<NodeRef<'a>> {
        self.as_object()?.find(key)
    }

    /// This node and everything below it as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        to_value(self.tape, self.at)
    }
}

/// An object node.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a>(NodeRef<'a>);

impl<'a> ObjectRef<'a> {
    /// How many members.
    pub fn len(&self) -> usize {
        self.0.tape.slot(self.0.at).len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members, in document order.
    pub fn members(&self) -> Members<'a> {
        let tape = self.0.tape;
        Members {
            tape,
            at: self.0.at + 1,
            end: tape.end(self.0.at),
        }
    }

    /// The first member named `key`.
    pub fn find(&self, key: &str) -> Option<NodeRef<'a>> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The first key that appears twice, if any.
    pub fn duplicate(&self) -> Option<&'a str> {
        let n = self.len();
        if n < 2 {
            return None;
        }
        // Every object of every file comes through here: compare small ones pairwise, without
        // allocating.
        if n <= 16 {
            let mut members = self.members().map(|(k, _)| k);
            let mut i = 0;
            return members.find(|k| {
                i += 1;
                self.members().take(i - 1).any(|(earlier, _)| earlier == *k)
            });
        }
        let mut seen = HashSet::with_capacity(n);
        self.members().map(|(k, _)| k).find(|k| !seen.insert(*k))
    }
}

/// The members of an object: (key, value) in document order.
#[derive(Clone)]
pub struct Members<'a> {
    tape: &'a Tape<'a>,
    at: usize,
    end: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, NodeRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let key = self.tape.string(self.at);
        let value = NodeRef::new(self.tape, self.at + 1);
        self.at = self.tape.end(self.at + 1);
        Some((key, value))
    }
}

/// An array node.
#[derive(Debug, Clone, Copy)]
pub struct ArrayRef<'a>(NodeRef<'a>);

impl<'a> ArrayRef<'a> {
    /// How many elements.
    pub fn len(&self) -> usize {
        self.0.tape.slot(self.0.at).len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements, in order.
    pub fn items(&self) -> Items<'a> {
        let tape = self.0.tape;
        Items {
            tape,
            at: self.0.at + 1,
            end: tape.end(self.0.at),
        }
    }
}

/// The elements of an array.
#[derive(Clone)]
pub struct Items<'a> {
    tape: &'a Tape<'a>,
    at: usize,
    end: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let item = NodeRef::new(self.tape, self.at);
        self.at = self.tape.end(self.at);
        Some(item)
    }
}

// ---------------------------------------------------------------- the validator's view

/// The tape as the validator library's JSON representation.
pub struct TapeJson;

impl Json for TapeJson {
    type Node<'a> = NodeRef<'a>;
    type PreparedKey = String;
    type StringBuffer = Tape<'static>;

    // A lookup is a walk over the keys, so a pass over the members costs about as much as one
    // lookup per key.
    const KEYS_PER_LOOKUP: usize = 64;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Tape<'static>,
        string: &str,
        f: impl FnOnce(NodeRef<'_>) -> T,
    ) -> T {
        buffer.clear();
        buffer.push_str(string);
        f(NodeRef::new(buffer, 0))
    }
}

impl<'a> Node<'a, TapeJson> for NodeRef<'a> {
    type Object = ObjectRef<'a>;
    type Array = ArrayRef<'a>;
    type Number = Number;

    fn as_object(&self) -> Option<ObjectRef<'a>> {
        NodeRef::as_object(self)
    }

    fn as_array(&self) -> Option<ArrayRef<'a>> {
        NodeRef::as_array(self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        self.as_str().map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<Number> {
        NodeRef::as_number(self)
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.tag() {
            Tag::True => Some(true),
            Tag::False => Some(false),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.tag() == Tag::Null
    }

    fn is_number(&self) -> bool {
        matches!(self.tag(), Tag::PosInt | Tag::NegInt | Tag::Float)
    }

    fn is_string(&self) -> bool {
        matches!(self.tag(), Tag::Text | Tag::Owned)
    }

    fn json_type(&self) -> JsonType {
        match self.tag() {
            Tag::Null => JsonType::Null,
            Tag::False | Tag::True => JsonType::Boolean,
            Tag::PosInt | Tag::NegInt | Tag::Float => JsonType::Number,
            Tag::Text | Tag::Owned => JsonType::String,
            Tag::Array => JsonType::Array,
            Tag::Object => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &Value) -> bool {
        match (self.tag(), expected) {
            (Tag::Text | Tag::Owned, Value::String(s)) => self.tape.string(self.at) == s,
            (Tag::Text | Tag::Owned, _) => false,
            (Tag::Null, _) => expected.is_null(),
            (Tag::True, _) => expected.as_bool() == Some(true),
            (Tag::False, _) => expected.as_bool() == Some(false),
            _ => cmp::equal(&NodeRef::to_value(self), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(NodeRef::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        // The slot's address: unique among live nodes, the same for every handle on one.
        Some(NodeIdentity::new(
            std::ptr::from_ref(&self.tape.slots[self.at]) as usize,
        ))
    }
}

impl<'a> Object<'a, TapeJson> for ObjectRef<'a> {
    type Node = NodeRef<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        ObjectRef::len(self)
    }

    fn get(&self, key: &String) -> Option<NodeRef<'a>> {
        self.find(key)
    }

    fn members(&self) -> Members<'a> {
        ObjectRef::members(self)
    }
}

impl<'a> Array<'a, TapeJson> for ArrayRef<'a> {
    type Node = NodeRef<'a>;
    type ElementsIter = Items<'a>;

    fn len(&self) -> usize {
        ArrayRef::len(self)
    }

    fn elements(&self) -> Items<'a> {
        self.items()
    }
}

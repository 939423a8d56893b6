//! JSON text straight onto a [`Tape`]: what validation reads, at a fraction of a `Value`'s
//! memory and allocations.
//!
//! Invariant: accepts exactly what [`super::parse`] accepts, giving the same document. The
//! tape seed refuses the same things (duplicate keys, nesting past the limit); on any refusal
//! the text is parsed again by [`super::parse`], whose error is the one reported, so problems
//! read the same on both paths.

use std::cell::RefCell;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{BOM, DEPTH_CAP};
use crate::doc::tape::Tape;
use crate::doc::{Limits, Problem};

/// Parses `text` onto a tape whose strings borrow from `text`.
pub(crate) fn parse_tape<'t>(text: &'t str, limits: &Limits) -> Result<Tape<'t>, Problem> {
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let max_depth = limits.max_depth.min(DEPTH_CAP);
    let tape = RefCell::new(Tape::new(body));
    let mut de = serde_json::Deserializer::from_str(body);
    de.disable_recursion_limit();
    let seed = TapeSeed {
        depth: 1,
        max_depth,
        tape: &tape,
    };
    let read = seed.deserialize(&mut de).and_then(|()| de.end());
    let tape = tape.into_inner();
    match read {
        Ok(()) if tape.is_complete() => Ok(tape),
        // The slow path names the problem; should it accept what the seed refused, its value
        // is the document all the same.
        _ => super::parse(text, limits).map(|v| {
            let mut owned = Tape::new(body);
            owned.push_value(&v);
            owned
        }),
    }
}

/// Appends one value to the tape. `depth` is the level a container at this place would have.
#[derive(Clone, Copy)]
struct TapeSeed<'a, 't> {
    depth: usize,
    max_depth: usize,
    tape: &'a RefCell<Tape<'t>>,
}

impl TapeSeed<'_, '_> {
    fn child(self) -> Self {
        TapeSeed {
            depth: self.depth + 1,
            ..self
        }
    }

    fn enter<E: de::Error>(self) -> Result<(), E> {
        if self.depth > self.max_depth {
            return Err(E::custom("too deep"));
        }
        Ok(())
    }
}

impl<'de: 't, 't> DeserializeSeed<'de> for TapeSeed<'_, 't> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 't, 't> Visitor<'de> for TapeSeed<'_, 't> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.tape.borrow_mut().push_bool(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.tape.borrow_mut().push_i64(v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.tape.borrow_mut().push_u64(v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.tape.borrow_mut().push_f64(v);
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.tape.borrow_mut().push_str(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.tape.borrow_mut().push_str(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.tape.borrow_mut().push_null();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        self.tape.borrow_mut().open_array();
        while seq.next_element_seed(self.child())?.is_some() {}
        self.tape.borrow_mut().close();
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        self.enter()?;
        let at = self.tape.borrow_mut().open_object();
        while access.next_key_seed(KeySeed(self.tape))?.is_some() {
            access.next_value_seed(self.child())?;
        }
        let mut tape = self.tape.borrow_mut();
        tape.close();
        if tape.has_duplicate_key(at) {
            return Err(de::Error::custom("duplicate key"));
        }
        Ok(())
    }
}

/// Appends a member's key.
struct KeySeed<'a, 't>(&'a RefCell<Tape<'t>>);

impl<'de: 't, 't> DeserializeSeed<'de> for KeySeed<'_, 't> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de: 't, 't> Visitor<'de> for KeySeed<'_, 't> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.0.borrow_mut().push_key(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.borrow_mut().push_key(v);
        Ok(())
    }
}

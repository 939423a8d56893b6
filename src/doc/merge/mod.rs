//! Layered merge: sources applied left to right, exactly RFC 7396 (JSON Merge Patch) by default,
//! with opt-in strategies for arrays at chosen paths, and the provenance of every value.
//!
//! RFC 7396: an object patch merges into an object member by member (a `null` member deletes);
//! anything else (an array, a scalar, `null` at the top) replaces. Opt-ins: `append` joins arrays,
//! `by-key = "name"` merges arrays of objects item by item on a key field, like Kubernetes'
//! strategic merge. Invariant: no I/O; values in, value and provenance out.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde_json::{Map, Value};

use super::span::escape_pointer_token;

/// How arrays merge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ArrayStrategy {
    /// The later array replaces the earlier one (RFC 7396).
    #[default]
    Replace,
    /// The later array's items follow the earlier one's.
    Append,
    /// Arrays of objects merge item by item on this field; new items are appended.
    ByKey(String),
}

/// What a merge does beyond RFC 7396.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// For arrays at paths that `paths` does not name.
    pub arrays: ArrayStrategy,
    /// JSON pointer (in the result) → strategy for the array there.
    pub paths: BTreeMap<String, ArrayStrategy>,
}

/// One step of a value's history: which source set (or deleted) it, and where in that source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Index of the source, in merge order.
    pub source: usize,
    /// JSON pointer of the value in that source.
    pub pointer: String,
    /// What the source gave there.
    pub given: Given,
}

/// What a source gave at a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// A scalar (string, number, boolean; `null` only in the base).
    Scalar(Value),
    /// An object (its members have their own history).
    Object,
    /// An array (its items have their own history).
    Array,
    /// `null` in a patch: the member was deleted.
    Deleted,
    /// An object or array merged into the earlier one (by members, `append` or `by-key`): the
    /// earlier value stays the setter, and what changed inside has its own history.
    Merged,
}

impl Given {
    fn of(value: &Value) -> Self {
        match value {
            Value::Object(_) => Given::Object,
            Value::Array(_) => Given::Array,
            v => Given::Scalar(v.clone()),
        }
    }
}

/// For every pointer of the result (and every pointer a later source deleted), the sources
/// that set it, in order: the last one is where the final value comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    history: BTreeMap<String, Vec<Origin>>,
}

impl Provenance {
    /// The history of `pointer`, oldest first; empty if no source set it.
    pub fn of(&self, pointer: &str) -> &[Origin] {
        self.history.get(pointer).map_or(&[], Vec::as_slice)
    }

    /// The source that gave `pointer` its final value, or, for a pointer inside a value that a
    /// source set whole, the nearest ancestor's.
    pub fn setter(&self, pointer: &str) -> Option<&Origin> {
        self.nearest(pointer).map(|(_, o)| o)
    }

    /// Where the final value at `pointer` sits in the source that set it: the source's index
    /// and the pointer there (for a value inside one a source set whole, the same path below).
    pub fn source_of(&self, pointer: &str) -> Option<(usize, String)> {
        let (at, origin) = self.nearest(pointer)?;
        Some((
            origin.source,
            format!("{}{}", origin.pointer, &pointer[at.len()..]),
        ))
    }

    /// The last source that wrote the value at `pointer` (set it, or merged an object or array
    /// into it) and its pointer there: where a key the value lacks should have been written.
    pub fn last_writer_of(&self, pointer: &str) -> Option<(usize, String)> {
        match self.history.get(pointer).and_then(|h| h.last()) {
            Some(o) => Some((o.source, o.pointer.clone())),
            None => self.source_of(pointer),
        }
    }

    fn nearest<'p>(&self, pointer: &'p str) -> Option<(&'p str, &Origin)> {
        let mut p = pointer;
        loop {
            let set = self
                .history
                .get(p)
                .and_then(|h| h.iter().rev().find(|o| o.given != Given::Merged));
            if let Some(o) = set {
                return Some((p, o));
            }
            p = &p[..p.rfind('/')?];
        }
    }

    fn record(&mut self, pointer: &str, origin: Origin) {
        self.history
            .entry(pointer.to_owned())
            .or_default()
            .push(origin);
    }
}

/// Why a merge could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// A `by-key` array holds an object without the key field (or an item that is no object).
    #[error("source {input} at {pointer}: item has no `{key}` field to merge by")]
    MissingKey {
        /// Index of the source.
        input: usize,
        /// The item's pointer in that source.
        pointer: String,
        /// The key field.
        key: String,
    },
    /// Two items of one `by-key` array share a key value.
    #[error("source {input} at {pointer}: `{key}` = {value} appears twice")]
    DuplicateKey {
        /// Index of the source.
        input: usize,
        /// The second item's pointer in that source.
        pointer: String,
        /// The key field.
        key: String,
        /// The repeated value.
        value: String,
    },
}

/// Merges `sources` left to right (the first is the base; each later one is a merge patch) and
/// records the provenance of every value.
pub fn merge_all(
    sources: &[Value],
    options: &MergeOptions,
) -> Result<(Value, Provenance), MergeError> {
    let mut prov = Provenance::default();
    let value = merge_into(sources, options, Some(&mut prov))?;
    Ok((value, prov))
}

/// [`merge_all`] without provenance, for when nobody will ask where a value came from.
pub fn merge_values(sources: &[Value], options: &MergeOptions) -> Result<Value, MergeError> {
    merge_into(sources, options, None)
}

fn merge_into(
    sources: &[Value],
    options: &MergeOptions,
    mut prov: Option<&mut Provenance>,
) -> Result<Value, MergeError> {
    let Some((first, rest)) = sources.split_first() else {
        return Ok(Value::Null);
    };
    if let Some(p) = prov.as_deref_mut() {
        record_tree(p, "", 0, "", first);
    }
    let mut result = first.clone();
    for (i, patch) in rest.iter().enumerate() {
        let mut m = Merger {
            options,
            prov: prov.as_deref_mut(),
            source: i + 1,
        };
        result = m.merge(result, patch, &mut String::new(), &mut String::new())?;
    }
    Ok(result)
}

/// RFC 7396 `MergePatch(target, patch)`, no options.
pub fn merge_patch(target: Value, patch: &Value) -> Value {
    let mut m = Merger {
        options: &MergeOptions::default(),
        prov: None,
        source: 1,
    };
    m.merge(target, patch, &mut String::new(), &mut String::new())
        .expect("plain RFC 7396 cannot fail")
}

/// Records `value` (and everything under it) as set by `source`.
fn record_tree(prov: &mut Provenance, at: &str, source: usize, src_at: &str, value: &Value) {
    prov.record(
        at,
        Origin {
            source,
            pointer: src_at.to_owned(),
            given: Given::of(value),
        },
    );
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let t = escape_pointer_token(k);
                record_tree(
                    prov,
                    &format!("{at}/{t}"),
                    source,
                    &format!("{src_at}/{t}"),
                    v,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                record_tree(
                    prov,
                    &format!("{at}/{i}"),
                    source,
                    &format!("{src_at}/{i}"),
                    v,
                );
            }
        }
        _ => {}
    }
}

struct Merger<'a> {
    options: &'a MergeOptions,
    /// `None`: no one will ask, so no history is kept.
    prov: Option<&'a mut Provenance>,
    source: usize,
}

impl Merger<'_> {
    /// Merges `patch` (at `src` in its source) into `target` (at `at` in the result).
    fn merge(
        &mut self,
        target: Value,
        patch: &Value,
        at: &mut String,
        src: &mut String,
    ) -> Result<Value, MergeError> {
        match patch {
            Value::Object(pmap) => {
                let mut tmap = match target {
                    Value::Object(m) => {
                        self.record(at, src, Given::Merged);
                        m
                    }
                    _ => {
                        // The patch creates this object (replacing whatever was here).
                        self.forget_below(at);
                        self.record(at, src, Given::Object);
                        Map::new()
                    }
                };
                for (k, v) in pmap {
                    let token = escape_pointer_token(k);
                    let (at_len, src_len) = (at.len(), src.len());
                    at.push('/');
                    at.push_str(&token);
                    src.push('/');
                    src.push_str(&token);
                    if v.is_null() {
                        // shift_remove keeps the order of the remaining keys (G8).
                        if tmap.shift_remove(k).is_some() {
                            self.forget_below(at);
                            self.record(at, src, Given::Deleted);
                        }
                    } else if let Some(slot) = tmap.get_mut(k) {
                        // Merged in place: a key keeps its position from the earlier source.
                        let old = std::mem::take(slot);
                        *slot = self.merge(old, v, at, src)?;
                    } else {
                        let merged = self.merge(Value::Null, v, at, src)?;
                        tmap.insert(k.clone(), merged);
                    }
                    at.truncate(at_len);
                    src.truncate(src_len);
                }
                Ok(Value::Object(tmap))
            }
            Value::Array(pitems) => {
                let strategy = self
                    .options
                    .paths
                    .get(at.as_str())
                    .unwrap_or(&self.options.arrays)
                    .clone();
                match (strategy, target) {
                    (ArrayStrategy::Append, Value::Array(mut titems)) => {
                        self.record(at, src, Given::Merged);
                        let base = titems.len();
                        for (i, v) in pitems.iter().enumerate() {
                            self.record_tree(
                                &format!("{at}/{}", base + i),
                                &format!("{src}/{i}"),
                                v,
                            );
                            titems.push(v.clone());
                        }
                        Ok(Value::Array(titems))
                    }
                    (ArrayStrategy::ByKey(key), Value::Array(titems)) => {
                        self.record(at, src, Given::Merged);
                        self.by_key(titems, pitems, &key, at, src)
                    }
                    _ => {
                        self.replace_subtree(at, src, patch);
                        Ok(patch.clone())
                    }
                }
            }
            _ => {
                self.replace_subtree(at, src, patch);
                Ok(patch.clone())
            }
        }
    }

    fn replace_subtree(&mut self, at: &str, src: &str, value: &Value) {
        self.forget_below(at);
        self.record_tree(at, src, value);
    }

    fn record(&mut self, at: &str, src: &str, given: Given) {
        if let Some(p) = self.prov.as_deref_mut() {
            let origin = Origin {
                source: self.source,
                pointer: src.to_owned(),
                given,
            };
            p.record(at, origin);
        }
    }

    fn record_tree(&mut self, at: &str, src: &str, value: &Value) {
        if let Some(p) = self.prov.as_deref_mut() {
            record_tree(p, at, self.source, src, value);
        }
    }

    /// Whatever was below `at` is gone from the result: so is its history.
    fn forget_below(&mut self, at: &str) {
        let Some(prov) = self.prov.as_deref_mut() else {
            return;
        };
        let prefix = format!("{at}/");
        let stale: Vec<String> = prov
            .history
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in stale {
            prov.history.remove(&k);
        }
    }

    fn by_key(
        &mut self,
        mut titems: Vec<Value>,
        pitems: &[Value],
        key: &str,
        at: &mut String,
        src: &mut String,
    ) -> Result<Value, MergeError> {
        let key_of = |item: &Value| item.get(key).filter(|k| !k.is_null()).map(Value::to_string);
        // Target items by key, built once. Items appended below need no entry: the patch's own
        // keys are unique (checked), so no later patch item can match them.
        let by_key: HashMap<String, usize> = titems
            .iter()
            .enumerate()
            .filter_map(|(i, t)| key_of(t).map(|k| (k, i)))
            .rev() // the first of equal keys wins, as a scan from the front would
            .collect();
        let mut seen = HashMap::new();
        for (i, item) in pitems.iter().enumerate() {
            let Some(k) = key_of(item) else {
                return Err(MergeError::MissingKey {
                    input: self.source,
                    pointer: format!("{src}/{i}"),
                    key: key.to_owned(),
                });
            };
            let pos = by_key.get(&k).copied();
            if seen.insert(k.clone(), i).is_some() {
                return Err(MergeError::DuplicateKey {
                    input: self.source,
                    pointer: format!("{src}/{i}"),
                    key: key.to_owned(),
                    value: k,
                });
            }
            let (at_len, src_len) = (at.len(), src.len());
            src.push_str(&format!("/{i}"));
            match pos {
                Some(p) => {
                    at.push_str(&format!("/{p}"));
                    let old = std::mem::take(&mut titems[p]);
                    titems[p] = self.merge(old, item, at, src)?;
                }
                None => {
                    at.push_str(&format!("/{}", titems.len()));
                    self.record_tree(at, src, item);
                    titems.push(item.clone());
                }
            }
            at.truncate(at_len);
            src.truncate(src_len);
        }
        Ok(Value::Array(titems))
    }
}

#[cfg(test)]
mod tests;

//! Which schemas can make collecting a document's errors exponential in its depth, and a bound
//! on that work for one document (issue 13.6).
//!
//! A validator evaluates a subschema once per path that reaches it. Through `$ref`, the
//! subschemas form a graph; when a strongly connected part of it is more than one simple cycle
//! (`additionalProperties: {anyOf: [{$ref: "#"}, {$ref: "#"}]}`: every level of the document
//! doubles the paths), the number of paths can grow exponentially with the document's depth,
//! and a document a few hundred bytes deep can take hours. Deciding validity was never the
//! problem in what we tried (the validator's `is_valid` settles `anyOf`/`allOf` bombs in
//! milliseconds); collecting the errors of an invalid document is: every failed form keeps its
//! errors, so memory grows with the paths, gigabytes within seconds. Such a schema is flagged
//! (over-approximating: one that recurses through two different properties is flagged too,
//! and then only pays for the count). Before collecting, [`Tangle::paths`] counts the (subschema, value) paths an error collection may walk, by
//! dynamic programming over the pairs (each pair once), reading every keyword that applies
//! to members or items as applying to all of them (an upper bound); over the cap, the caller
//! reports a `limit` finding instead of collecting.

use std::collections::HashMap;

use serde_json::Value;

use crate::doc::tape::NodeRef;

use super::explain::Documents;
use super::percent_decode;

/// Keywords whose value is one subschema.
const ONE: &[&str] = &[
    "additionalProperties",
    "additionalItems",
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
];
/// Keywords whose value is an array of subschemas.
const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/// Keywords whose value is an object of subschemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "dependencies",
];

/// The subschema graph of `docs` when validating against it may take time exponential in a
/// document's depth; `None` for most schemas.
pub(super) fn tangle(docs: &Documents) -> Option<Tangle> {
    let mut graph = Graph::new(docs);
    graph.visit(0, String::new());
    graph.has_tangle().then_some(Tangle { edges: graph.edges })
}

/// How an edge moves in the document: not at all, to one member or item, or to all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Same,
    Key(String),
    Members,
    Item(usize),
    Items,
}

/// A schema's subschema graph (node 0 is the root), kept for a schema that may explode.
#[derive(Debug)]
pub(super) struct Tangle {
    edges: Vec<Vec<(Step, usize)>>,
}

impl Tangle {
    /// An upper bound of the (subschema, value) paths that collecting the errors of `root`
    /// walks, or `None` once it passes `cap`.
    pub(super) fn paths(&self, root: NodeRef<'_>, cap: u64) -> Option<u64> {
        let mut memo = HashMap::new();
        let n = self.count(0, root, cap, &mut memo);
        (n <= cap).then_some(n)
    }

    fn count(
        &self,
        s: usize,
        value: NodeRef<'_>,
        cap: u64,
        memo: &mut HashMap<(usize, usize), u64>,
    ) -> u64 {
        let key = (s, value.index());
        if let Some(&n) = memo.get(&key) {
            return n;
        }
        // A cycle that does not move in the document: counted once (the validator does not
        // loop on it either).
        memo.insert(key, 1);
        let mut n: u64 = 1;
        for (step, to) in &self.edges[s] {
            if n > cap {
                break;
            }
            let mut add = |v: NodeRef<'_>| {
                n = n.saturating_add(self.count(*to, v, cap, memo));
            };
            match step {
                Step::Same => add(value),
                Step::Key(k) => {
                    if let Some(v) = value.get(k) {
                        add(v);
                    }
                }
                Step::Members => {
                    if let Some(o) = value.as_object() {
                        o.members().for_each(|(_, v)| add(v));
                    }
                }
                Step::Item(i) => {
                    if let Some(v) = value.as_array().and_then(|a| a.items().nth(*i)) {
                        add(v);
                    }
                }
                Step::Items => {
                    if let Some(a) = value.as_array() {
                        a.items().for_each(&mut add);
                    }
                }
            }
        }
        memo.insert(key, n);
        n
    }
}

struct Graph<'d> {
    /// Document 0 is the root; the others are the fetched ones, by URI.
    docs: Vec<(&'d Value, Vec<&'d str>)>,
    ids: HashMap<(usize, String), usize>,
    edges: Vec<Vec<(Step, usize)>>,
}

impl<'d> Graph<'d> {
    fn new(docs: &'d Documents) -> Self {
        let mut all = vec![(
            &docs.root,
            docs.root_uris.iter().map(String::as_str).collect(),
        )];
        let mut fetched: Vec<_> = docs.fetched.iter().collect();
        fetched.sort_by(|a, b| a.0.cmp(b.0));
        for (uri, value) in fetched {
            all.push((value, vec![uri.split('#').next().unwrap_or_default()]));
        }
        Graph {
            docs: all,
            ids: HashMap::new(),
            edges: Vec::new(),
        }
    }

    /// The node of the subschema at `pointer` in document `doc`, with every node it reaches,
    /// added once.
    fn visit(&mut self, doc: usize, pointer: String) -> Option<usize> {
        let key = (doc, pointer);
        if let Some(&id) = self.ids.get(&key) {
            return Some(id);
        }
        let value = self.docs[doc].0.pointer(&key.1)?;
        let id = self.edges.len();
        self.edges.push(Vec::new());
        let pointer = key.1.clone();
        self.ids.insert(key, id);
        let Value::Object(map) = value else {
            return Some(id);
        };
        let mut next: Vec<(Step, usize, String)> = Vec::new();
        for (k, v) in map {
            let at = |rest: &str| format!("{pointer}/{}{rest}", escape(k));
            let word = k.as_str();
            if ONE.contains(&word) && v.is_object() {
                let step = match word {
                    "additionalProperties" | "unevaluatedProperties" | "propertyNames" => {
                        Step::Members
                    }
                    "items" | "additionalItems" | "unevaluatedItems" | "contains" => Step::Items,
                    _ => Step::Same,
                };
                next.push((step, doc, at("")));
            }
            if LIST.contains(&word)
                && let Value::Array(items) = v
            {
                next.extend((0..items.len()).map(|i| {
                    let step = match word {
                        "prefixItems" | "items" => Step::Item(i),
                        _ => Step::Same,
                    };
                    (step, doc, at(&format!("/{i}")))
                }));
            }
            if MAP.contains(&word)
                && let Value::Object(props) = v
            {
                next.extend(props.iter().filter(|(_, s)| s.is_object()).map(|(p, _)| {
                    let step = match word {
                        "properties" => Step::Key(p.clone()),
                        "patternProperties" => Step::Members,
                        _ => Step::Same,
                    };
                    (step, doc, at(&format!("/{}", escape(p))))
                }));
            }
            if matches!(word, "$ref" | "$dynamicRef" | "$recursiveRef")
                && let Some((d, p)) = v.as_str().and_then(|r| self.resolve(doc, r))
            {
                next.push((Step::Same, d, p));
            }
        }
        for (step, d, p) in next {
            if let Some(to) = self.visit(d, p) {
                self.edges[id].push((step, to));
            }
        }
        Some(id)
    }

    /// The document and pointer a reference names, when it is a JSON pointer into a known
    /// document (anchors and unknown documents are left out: the graph only needs to be
    /// large enough to find a tangle).
    fn resolve(&self, doc: usize, reference: &str) -> Option<(usize, String)> {
        let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return None;
        }
        let target = if base.is_empty() {
            doc
        } else {
            self.docs.iter().position(|(_, uris)| {
                uris.iter()
                    .any(|u| *u == base || u.ends_with(&format!("/{base}")))
            })?
        };
        Some((target, percent_decode(fragment)))
    }

    /// Whether some strongly connected part holds more edges than nodes: more than one cycle
    /// through the same nodes (Tarjan's algorithm, iterative).
    fn has_tangle(&self) -> bool {
        let n = self.edges.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut component = vec![usize::MAX; n];
        let mut next_index = 0;
        let mut components = 0;
        for start in 0..n {
            if index[start] != usize::MAX {
                continue;
            }
            let mut work = vec![(start, 0usize)];
            while let Some(&mut (v, ref mut i)) = work.last_mut() {
                if *i == 0 {
                    index[v] = next_index;
                    low[v] = next_index;
                    next_index += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if let Some(&(_, w)) = self.edges[v].get(*i) {
                    *i += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = components;
                        if w == v {
                            break;
                        }
                    }
                    components += 1;
                }
            }
        }
        let mut nodes = vec![0usize; components];
        let mut edges = vec![0usize; components];
        for v in 0..n {
            nodes[component[v]] += 1;
            edges[component[v]] += self.edges[v]
                .iter()
                .filter(|(_, w)| component[*w] == component[v])
                .count();
        }
        nodes.iter().zip(&edges).any(|(n, e)| e > n)
    }
}

/// A JSON pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tangle_of(schema: Value) -> Option<Tangle> {
        tangle(&Documents {
            root: schema,
            root_uris: vec!["json-schema:///".into()],
            fetched: HashMap::new(),
        })
    }

    fn explodes(schema: Value) -> bool {
        tangle_of(schema).is_some()
    }

    #[test]
    fn paths_grow_with_the_forms_per_level_and_stop_at_the_cap() {
        let t = tangle_of(json!({
            "type": "object",
            "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#"}, {"$ref": "#"}]}
        }))
        .unwrap();
        let nest = |depth: usize| {
            let mut v = json!(1);
            for _ in 0..depth {
                v = json!({ "a": v });
            }
            crate::doc::tape::Tape::from_value(&v)
        };
        // Each level: the root, `additionalProperties`, the `anyOf`, three forms with their
        // `$ref`s: 1 + 1 + 1 + 3 * (1 + paths below).
        let two = nest(2);
        let n2 = t.paths(two.root().unwrap(), u64::MAX).unwrap();
        let three = nest(3);
        let n3 = t.paths(three.root().unwrap(), u64::MAX).unwrap();
        assert!(n3 > 3 * n2, "{n2} then {n3}");
        let deep = nest(14);
        assert_eq!(t.paths(deep.root().unwrap(), 1_000_000), None);
        assert!(t.paths(deep.root().unwrap(), u64::MAX).unwrap() > 3u64.pow(14));
    }

    #[test]
    fn a_recursive_choice_of_forms_is_flagged() {
        assert!(explodes(json!({
            "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#"}, {"$ref": "#"}]}
        })));
        assert!(explodes(json!({
            "$defs": {"node": {"oneOf": [{"$ref": "#/$defs/node"}, {"items": {"$ref": "#/$defs/node"}}]}},
            "$ref": "#/$defs/node"
        })));
    }

    #[test]
    fn plain_recursion_and_plain_schemas_are_not() {
        assert!(!explodes(json!({
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}
        })));
        assert!(!explodes(json!({
            "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "additionalProperties": false
        })));
        assert!(!explodes(json!(true)));
    }
}

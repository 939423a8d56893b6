//! Turns the validator library's error tree into findings a user can act on: the cause of a
//! failed `oneOf`/`anyOf` at its own place, an unexpected key with the nearest allowed one, a
//! bad `enum` value with the allowed values.
//!
//! Runs only for a document that failed (the fast path never gets here), so its cost is paid
//! once per invalid file.
//!
//! **Which form of a `oneOf`/`anyOf` the value meant**, a deterministic ranking; the first
//! difference decides, lower is closer:
//! 1. the form wants another JSON type for the value itself (`type` fails at the value);
//! 2. how many of the value's own members fail a `const`/`enum` (a discriminator, `kind: a`);
//! 3. how many `required` keys of the form are missing with no near-miss key present (a key
//!    spelt `runs_on` still counts as meaning `runs-on`);
//! 4. how many errors sit at the value itself rather than inside it (the deeper the errors,
//!    the more of the form matched);
//! 5. how many errors in all; 6. the deepest error, deeper first; 7. the form's position.
//!
//! The chosen form's errors are reported, each at its own place, with a note naming the
//! `oneOf` and the form; every form's errors go along as [`Alternative`]s (`-v`, JSON).
//! When every form fails once on the value itself and none by listing values, one finding
//! says each way instead (`"forty" is not of type "number" and does not match "^\$\{\{…"`).

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::{SchemaError, message_of, one_line, percent_decode, push_errors, schema_error};
use crate::diagnostic::{Alternative, AlternativeError};
use crate::doc::tape::NodeRef;

/// Every allowed value is listed up to this many; past it, the first ones and a count.
const MAX_LISTED: usize = 10;

/// The schema documents a validator was compiled from, to read a failing keyword's siblings
/// (the allowed properties next to `additionalProperties`, the forms of a `oneOf`).
#[derive(Debug, Default)]
pub(super) struct Documents {
    /// The root schema document.
    pub(super) root: Value,
    /// The URIs the root document is known by (its base URI, its `$id`), without fragment.
    pub(super) root_uris: Vec<String>,
    /// Every other document fetched while compiling, by URI.
    pub(super) fetched: HashMap<String, Value>,
}

impl Documents {
    /// The value of the keyword that `error` failed, as written in its schema document.
    fn keyword(&self, error: &ValidationError<'_>) -> Option<&Value> {
        match error.absolute_keyword_location() {
            Some(uri) => {
                let uri = uri.as_str();
                let (document, fragment) = uri.split_once('#').unwrap_or((uri, ""));
                let document = if self.root_uris.iter().any(|u| u == document) {
                    &self.root
                } else {
                    self.fetched.get(document)?
                };
                document.pointer(&percent_decode(fragment))
            }
            None => self.root.pointer(error.schema_path().as_str()),
        }
    }

    /// The schema object holding the keyword that `error` failed.
    fn parent(&self, error: &ValidationError<'_>) -> Option<&Value> {
        match error.absolute_keyword_location() {
            Some(uri) => {
                let uri = uri.as_str();
                let (document, fragment) = uri.split_once('#').unwrap_or((uri, ""));
                let document = if self.root_uris.iter().any(|u| u == document) {
                    &self.root
                } else {
                    self.fetched.get(document)?
                };
                let fragment = percent_decode(fragment);
                document.pointer(fragment.rsplit_once('/').map_or("", |(p, _)| p))
            }
            None => {
                let path = error.schema_path().as_str();
                self.root
                    .pointer(path.rsplit_once('/').map_or("", |(p, _)| p))
            }
        }
    }

    /// The property names a schema object declares (`properties`, and those of its `allOf`
    /// members and of a local `$ref`, one level deep), in schema order.
    fn declared_properties<'s>(&'s self, schema: &'s Value) -> Vec<&'s str> {
        let mut names = Vec::new();
        let mut push = |s: &'s Value| {
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                names.extend(props.keys().map(String::as_str));
            }
        };
        push(schema);
        for key in ["allOf", "anyOf", "oneOf"] {
            for member in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                push(member);
                if let Some(target) = self.local_ref(member) {
                    push(target);
                }
            }
        }
        if let Some(target) = self.local_ref(schema) {
            push(target);
        }
        names
    }

    fn local_ref(&self, schema: &Value) -> Option<&Value> {
        let reference = schema.get("$ref")?.as_str()?;
        self.root
            .pointer(&percent_decode(reference.strip_prefix('#')?))
    }
}

/// Converts the validator's errors of one document into [`SchemaError`]s, explaining the
/// failed applicators.
pub(super) struct Explainer<'a, 'v> {
    pub(super) docs: &'a Documents,
    pub(super) root: NodeRef<'v>,
}

impl Explainer<'_, '_> {
    /// Appends the findings that `error` stands for.
    pub(super) fn push(&self, error: &ValidationError<'_>, out: &mut Vec<SchemaError>) {
        match error.kind() {
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.none_matched(error, context, out);
            }
            ValidationErrorKind::OneOfMultipleValid { context } => {
                let forms = self.docs.keyword(error).and_then(Value::as_array);
                let matched: Vec<String> = context
                    .iter()
                    .enumerate()
                    .filter(|(_, branch)| branch.is_empty())
                    .map(|(i, _)| form_label(forms.and_then(|f| f.get(i)), i))
                    .collect();
                let message = if matched.len() > 1 {
                    format!(
                        "{}: {} match, and exactly one may",
                        message_of(error),
                        and_list(&matched)
                    )
                } else {
                    message_of(error)
                };
                out.push(schema_error(error, None, message));
            }
            ValidationErrorKind::Enum { options } => {
                let options = options.as_array().map(Vec::as_slice).unwrap_or_default();
                let message = enum_message(&shown(error.instance()), error.instance(), options);
                out.push(schema_error(error, None, message));
            }
            ValidationErrorKind::Constant { expected_value } => {
                let message = format!(
                    "{} was expected, not {}",
                    shown(expected_value),
                    shown(error.instance())
                );
                out.push(schema_error(error, None, message));
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let declared = self
                    .docs
                    .parent(error)
                    .map(|s| self.docs.declared_properties(s))
                    .unwrap_or_default();
                let present: HashSet<&str> = self
                    .keys_at(error.instance_path().as_str())
                    .into_iter()
                    .collect();
                let candidates: Vec<&str> = declared
                    .iter()
                    .copied()
                    .filter(|d| !present.contains(d))
                    .collect();
                for name in unexpected {
                    let candidates = candidates.iter().copied();
                    let message = match nearest(name, candidates) {
                        Some(near) => {
                            format!("`{name}` is not an allowed key; did you mean `{near}`?")
                        }
                        None if !declared.is_empty() && declared.len() <= MAX_LISTED => {
                            let keys: Vec<String> =
                                declared.iter().map(|k| format!("`{k}`")).collect();
                            format!(
                                "`{name}` is not an allowed key (allowed: {})",
                                keys.join(", ")
                            )
                        }
                        None => format!("`{name}` is not an allowed key"),
                    };
                    out.push(schema_error(error, Some(name.clone()), message));
                }
            }
            _ => {
                let from = out.len();
                push_errors(error, out);
                // An error of `then`/`else` holds because of what `if` said.
                let path = error.evaluation_path().as_str();
                let cut = [("/then/", "matched"), ("/else/", "did not match")]
                    .into_iter()
                    .filter_map(|(k, said)| path.rfind(k).map(|i| (i, said)))
                    .max_by_key(|(i, _)| *i);
                if let Some((i, said)) = cut {
                    let note = format!(
                        "this applies because the value {said} the `if` at {}/if",
                        &path[..i]
                    );
                    for e in &mut out[from..] {
                        e.notes.push(note.clone());
                    }
                }
            }
        }
    }

    /// A `oneOf` or `anyOf` that no form satisfies: the closest form's errors, with a note.
    fn none_matched(
        &self,
        error: &ValidationError<'_>,
        context: &[Vec<ValidationError<'static>>],
        out: &mut Vec<SchemaError>,
    ) {
        let at = error.instance_path().as_str();
        let explained: Vec<Vec<SchemaError>> = context
            .iter()
            .map(|branch| {
                let mut errors = Vec::new();
                for e in branch {
                    self.push(e, &mut errors);
                }
                tidy(&mut errors, self.root, false);
                errors
            })
            .collect();
        let best = (0..explained.len())
            .filter(|&i| !explained[i].is_empty())
            .min_by_key(|&i| self.rank(at, &explained[i], i));
        let Some(best) = best else {
            push_errors(error, out);
            return;
        };
        // Every form wants another type for the value: one finding listing them.
        let types: Option<Vec<&str>> = explained
            .iter()
            .map(|errors| match errors.as_slice() {
                [e] if e.keyword == "type" && e.instance_pointer == at => {
                    e.message.split_once(" is not of type ").map(|(_, t)| t)
                }
                _ => None,
            })
            .collect();
        if let Some(mut types) = types {
            let mut seen = HashSet::new();
            types.retain(|t| seen.insert(*t));
            let types: Vec<String> = types.into_iter().map(str::to_owned).collect();
            let message = format!(
                "{} is not of type {}",
                shown(error.instance()),
                or_list(&types)
            );
            out.push(schema_error(error, None, message));
            return;
        }
        // Every form fails on the value itself, once, and none by listing values: one
        // finding that says each way (`"forty" is not of type "number" and does not match …`).
        let value = shown(error.instance());
        let prefix = format!("{value} ");
        let ways: Option<Vec<&str>> = explained
            .iter()
            .map(|errors| match errors.as_slice() {
                [e] if e.instance_pointer == at
                    && e.property.is_none()
                    && !matches!(e.keyword.as_str(), "enum" | "const") =>
                {
                    e.message.strip_prefix(prefix.as_str())
                }
                _ => None,
            })
            .collect();
        if let Some(mut ways) = ways
            && ways.len() > 1
        {
            let mut seen = HashSet::new();
            ways.retain(|w| seen.insert(*w));
            let message = format!("{value} {}", ways.join(" and "));
            out.push(schema_error(error, None, message));
            return;
        }
        let forms = self.docs.keyword(error).and_then(Value::as_array);
        let label = |i: usize| form_label(forms.and_then(|f| f.get(i)), i);
        let keyword = error.kind().keyword();
        let place = if at.is_empty() {
            "the document".to_owned()
        } else {
            format!("the value at {at}")
        };
        let note = format!(
            "{place} matches none of the {} forms its `{keyword}` allows; closest: {}{}",
            explained.len(),
            label(best),
            if explained.len() > 1 {
                " (-v lists every form's errors)"
            } else {
                ""
            }
        );
        let alternatives: Vec<Alternative> = explained
            .iter()
            .enumerate()
            .map(|(i, errors)| Alternative {
                form: label(i),
                closest: i == best,
                errors: errors
                    .iter()
                    .map(|e| AlternativeError {
                        pointer: e.place(),
                        at_key: e.property.is_some(),
                        line: None,
                        column: None,
                        schema_path: e.schema_path.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
            })
            .collect();
        // The other forms only want another type: the finding says so too (`"yes" is not
        // one of "fat", "thin" or "off", nor of type "boolean"`).
        let other_types: Option<Vec<String>> = explained
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(_, errors)| match errors.as_slice() {
                [e] if e.keyword == "type" && e.instance_pointer == at => e
                    .message
                    .split_once(" is not of type ")
                    .map(|(_, t)| t.to_owned()),
                _ => None,
            })
            .collect();
        let mut chosen = explained.into_iter().nth(best).unwrap_or_default();
        if let (Some(types), [only]) = (other_types, chosen.as_mut_slice())
            && only.instance_pointer == at
            && only.property.is_none()
            && !types.is_empty()
        {
            let nor = format!(", nor of type {}", or_list(&types));
            match only.message.find("; did you mean") {
                Some(i) => only.message.insert_str(i, &nor),
                None => only.message.push_str(&nor),
            }
        }
        for (n, e) in chosen.iter_mut().enumerate() {
            e.notes.insert(0, note.clone());
            if n == 0 && e.alternatives.is_empty() {
                e.alternatives = alternatives.clone();
            }
        }
        out.extend(chosen);
    }

    /// The rank of a form's errors (see the module docs); lower is closer.
    #[allow(clippy::type_complexity)]
    fn rank(
        &self,
        at: &str,
        errors: &[SchemaError],
        position: usize,
    ) -> (bool, usize, usize, usize, usize, Reverse<usize>, usize) {
        let present = self.keys_at(at);
        let child_of_at = |p: &str| {
            p.strip_prefix(at)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.contains('/'))
        };
        let wrong_type = errors
            .iter()
            .any(|e| e.keyword == "type" && e.instance_pointer == at);
        let discriminators = errors
            .iter()
            .filter(|e| {
                matches!(e.keyword.as_str(), "const" | "enum") && child_of_at(&e.instance_pointer)
            })
            .count();
        let missing = errors
            .iter()
            .filter(|e| e.keyword == "required" && e.instance_pointer == at && !e.merged)
            .filter(|e| {
                e.property
                    .as_deref()
                    .is_none_or(|p| !present.iter().any(|k| *k != p && is_near(k, p)))
            })
            .count();
        let shallow = errors
            .iter()
            .filter(|e| e.instance_pointer == at && e.keyword != "required")
            .count();
        let deepest = errors.iter().map(SchemaError::depth).max().unwrap_or(0);
        (
            wrong_type,
            discriminators,
            missing,
            shallow,
            errors.len(),
            Reverse(deepest),
            position,
        )
    }

    /// The keys of the object at `pointer` in the instance (none when it is not an object).
    fn keys_at(&self, pointer: &str) -> Vec<&str> {
        node_at(self.root, pointer)
            .and_then(|n| n.as_object())
            .map(|o| o.members().map(|(k, _)| k).collect())
            .unwrap_or_default()
    }
}

/// The value at `pointer` below `root`.
fn node_at<'v>(root: NodeRef<'v>, pointer: &str) -> Option<NodeRef<'v>> {
    let mut current = root;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        current = if let Some(object) = current.as_object() {
            object.find(&token)?
        } else {
            current.as_array()?.items().nth(token.parse().ok()?)?
        };
    }
    Some(current)
}

/// One finding per place and cause, and a missing required key merged with the unexpected
/// near-miss key that was meant to be it (`runs_on` for `runs-on`): one finding, at that key.
/// When `last` (all of a document's errors are in), a missing key with a near-miss key where
/// other keys are allowed is placed at that key too.
pub(super) fn tidy(errors: &mut Vec<SchemaError>, root: NodeRef<'_>, last: bool) {
    // Identical findings (the same place and message, reached through two schema paths).
    let mut seen = HashSet::new();
    errors.retain(|e| {
        seen.insert((
            e.instance_pointer.clone(),
            e.property.clone(),
            e.message.clone(),
        ))
    });

    // The unexpected keys of each object, by index; indexes stay valid until the end.
    let mut unexpected: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, u) in errors.iter().enumerate() {
        if matches!(
            u.keyword.as_str(),
            "additionalProperties" | "unevaluatedProperties"
        ) {
            unexpected
                .entry(u.instance_pointer.clone())
                .or_default()
                .push(n);
        }
    }
    let mut keys: HashMap<String, Vec<&str>> = HashMap::new();
    let mut gone = vec![false; errors.len()];
    for i in 0..errors.len() {
        if errors[i].keyword != "required" || errors[i].merged {
            continue;
        }
        let (object, wanted) = (
            errors[i].instance_pointer.clone(),
            errors[i].property.clone().unwrap_or_default(),
        );
        let near_miss = unexpected.get(&object).and_then(|list| {
            list.iter().copied().find(|&u| {
                !errors[u].merged
                    && errors[u]
                        .property
                        .as_deref()
                        .is_some_and(|q| is_near(q, &wanted))
            })
        });
        if let Some(u) = near_miss {
            gone[i] = true;
            let (notes, alternatives) = (
                std::mem::take(&mut errors[i].notes),
                std::mem::take(&mut errors[i].alternatives),
            );
            let target = &mut errors[u];
            let q = target.property.clone().unwrap_or_default();
            target.message = format!(
                "`{q}` is not an allowed key; did you mean `{wanted}`? (`{wanted}` is required)"
            );
            target.merged = true;
            for note in notes {
                if !target.notes.contains(&note) {
                    target.notes.push(note);
                }
            }
            if target.alternatives.is_empty() {
                target.alternatives = alternatives;
            }
            continue;
        }
        if !last {
            continue;
        }
        // Extra keys are allowed here, but one is a near miss of the missing key.
        let present = keys.entry(object.clone()).or_insert_with(|| {
            node_at(root, &object)
                .and_then(|n| n.as_object())
                .map(|o| o.members().map(|(k, _)| k).collect())
                .unwrap_or_default()
        });
        let near =
            nearest(&wanted, present.iter().copied().filter(|k| *k != wanted)).map(str::to_owned);
        if let Some(q) = near {
            let e = &mut errors[i];
            e.message = format!(
                "\"{wanted}\" is a required property; did you mean `{wanted}` instead of `{q}`?"
            );
            e.property = Some(q);
            e.merged = true;
        }
    }
    let mut n = 0;
    errors.retain(|_| {
        n += 1;
        !gone[n - 1]
    });
}

/// `form 2 (normalJob)`: a form's position and, when the schema says, a name for it.
fn form_label(form: Option<&Value>, i: usize) -> String {
    let name = form.and_then(|f| {
        if let Some(r) = f.get("$ref").and_then(Value::as_str) {
            let last = r.rsplit(['/', '#']).find(|s| !s.is_empty())?;
            return Some(format!(
                "`{}`",
                percent_decode(last).trim_end_matches(".json")
            ));
        }
        if let Some(t) = f.get("title").and_then(Value::as_str) {
            return Some(format!("`{}`", one_line(t)));
        }
        if let Some(req) = f.get("required").and_then(Value::as_array)
            && !req.is_empty()
        {
            let keys: Vec<String> = req
                .iter()
                .filter_map(Value::as_str)
                .map(|k| format!("`{k}`"))
                .collect();
            return Some(format!("the one with {}", and_list(&keys)));
        }
        if let Some(c) = f.get("const") {
            return Some(format!("the value {}", shown(c)));
        }
        match f.get("type") {
            Some(Value::String(t)) => {
                let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                Some(format!("{article} {t}"))
            }
            Some(Value::Array(ts)) => Some(
                ts.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
            _ => None,
        }
    });
    match name {
        Some(n) => format!("form {} ({n})", i + 1),
        None => format!("form {}", i + 1),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `"reed" is not one of "read", "write" or "none"; did you mean "read"?`: every allowed value
/// up to [`MAX_LISTED`], then a count, and the nearest one.
fn enum_message(value_shown: &str, value: &Value, options: &[Value]) -> String {
    if let [only] = options {
        return format!(
            "{value_shown} is not {}, the only allowed value",
            shown(only)
        );
    }
    let mut listed: Vec<String> = options.iter().take(MAX_LISTED).map(shown).collect();
    let list = if options.len() > MAX_LISTED {
        format!(
            "{} or one of {} more",
            listed.join(", "),
            options.len() - MAX_LISTED
        )
    } else {
        let last = listed.pop().unwrap_or_default();
        if listed.is_empty() {
            last
        } else {
            format!("{} or {last}", listed.join(", "))
        }
    };
    let mut message = format!("{value_shown} is not one of {list}");
    if let Some(s) = value.as_str()
        && let Some(near) = nearest(s, options.iter().filter_map(Value::as_str))
    {
        message.push_str(&format!("; did you mean \"{near}\"?"));
    }
    message
}

/// A value as a message shows it: JSON, cut short past [`super::MAX_SHOWN`] characters.
fn shown(value: &Value) -> String {
    let rendered = value.to_string();
    if rendered.chars().count() <= super::MAX_SHOWN {
        return rendered;
    }
    let mut short: String = rendered.chars().take(super::MAX_SHOWN - 4).collect();
    short.push('…');
    if rendered.starts_with('"') {
        short.push('"');
    }
    short
}

/// The candidate nearest to `word`: the same but for case and `_`/`-`, else within an edit
/// distance of a third of its length (at least 1, transpositions counting 1). Ties go to the
/// first candidate.
pub(crate) fn nearest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let normal = normalize(word);
    candidates
        .filter(|c| *c != word)
        .filter_map(|c| {
            let d = distance(&normal, &normalize(c));
            let limit = (normal.len().max(c.chars().count()) / 3).max(1);
            (d <= limit).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn is_near(a: &str, b: &str) -> bool {
    nearest(a, std::iter::once(b)).is_some()
}

fn normalize(word: &str) -> Vec<char> {
    word.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions).
fn distance(a: &[char], b: &[char]) -> usize {
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_takes_case_underscores_and_typos() {
        let keys = ["runs-on", "steps", "timeout-minutes", "name"];
        assert_eq!(nearest("runs_on", keys.into_iter()), Some("runs-on"));
        assert_eq!(nearest("Runs-On", keys.into_iter()), Some("runs-on"));
        assert_eq!(nearest("setps", keys.into_iter()), Some("steps"));
        assert_eq!(nearest("nmae", keys.into_iter()), Some("name"));
        assert_eq!(
            nearest("timeout-minute", keys.into_iter()),
            Some("timeout-minutes")
        );
        assert_eq!(nearest("color", keys.into_iter()), None);
        assert_eq!(
            nearest("steps", keys.into_iter()),
            None,
            "an exact key is no suggestion"
        );
    }

    #[test]
    fn enum_lists_ten_values_then_a_count() {
        let few = [
            Value::from("read"),
            Value::from("write"),
            Value::from("none"),
        ];
        assert_eq!(
            enum_message("\"reed\"", &Value::from("reed"), &few),
            "\"reed\" is not one of \"read\", \"write\" or \"none\"; did you mean \"read\"?"
        );
        let many: Vec<Value> = (0..12).map(|i| Value::from(format!("v{i}"))).collect();
        assert_eq!(
            enum_message("false", &Value::from(false), &[Value::from(true)]),
            "false is not true, the only allowed value"
        );
        let m = enum_message("\"x\"", &Value::from("x"), &many);
        assert!(m.contains("\"v9\" or one of 2 more"), "{m}");
        assert!(!m.contains("\"v10\""), "{m}");
    }

    #[test]
    fn a_value_that_every_form_refuses_once_hears_each_reason() {
        use serde_json::json;
        let schema = crate::doc::schema::compile(
            &json!({"oneOf": [{"type": "number"}, {"type": "string", "pattern": "^[$]"}]}),
            &crate::doc::schema::CompileOptions::default(),
            std::sync::Arc::new(crate::doc::schema::NoSource),
        )
        .unwrap();
        let got = schema.validate(&json!("forty"));
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].message,
            "\"forty\" is not of type \"number\" and does not match \"^[$]\""
        );
    }

    #[test]
    fn forms_are_named_by_ref_title_required_or_type() {
        use serde_json::json;
        assert_eq!(
            form_label(Some(&json!({"$ref": "#/definitions/normalJob"})), 0),
            "form 1 (`normalJob`)"
        );
        assert_eq!(
            form_label(Some(&json!({"required": ["uses"]})), 1),
            "form 2 (the one with `uses`)"
        );
        assert_eq!(
            form_label(Some(&json!({"type": "string"})), 2),
            "form 3 (a string)"
        );
        assert_eq!(
            form_label(Some(&json!({"type": "object"})), 0),
            "form 1 (an object)"
        );
        assert_eq!(form_label(None, 3), "form 4");
    }
}

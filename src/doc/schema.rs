//! JSON Schema: compile once, validate many, report every error with its instance pointer and
//! schema path.
//!
//! Invariant: no I/O and no network. An external `$ref` (or a custom `$schema`) resolves only
//! through the [`SchemaSource`] the caller passes to [`compile`]; the meta-schemas of drafts 4,
//! 6, 7, 2019-09 and 2020-12 are bundled in the validator. A schema that does not compile and a
//! `$ref` that cannot be resolved are a [`SchemaProblem`], never a panic.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ReferencingError, ValidationError};
use serde_json::Value;

use super::tape::{NodeRef, Tape, TapeJson};
use crate::diagnostic::{Alternative, Code};

mod budget;
mod explain;

/// A JSON Schema draft.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Draft {
    /// Draft 4.
    Draft4,
    /// Draft 6.
    Draft6,
    /// Draft 7.
    Draft7,
    /// Draft 2019-09.
    Draft201909,
    /// Draft 2020-12, the default.
    #[default]
    Draft202012,
}

impl Draft {
    fn to_jsonschema(self) -> jsonschema::Draft {
        match self {
            Draft::Draft4 => jsonschema::Draft::Draft4,
            Draft::Draft6 => jsonschema::Draft::Draft6,
            Draft::Draft7 => jsonschema::Draft::Draft7,
            Draft::Draft201909 => jsonschema::Draft::Draft201909,
            Draft::Draft202012 => jsonschema::Draft::Draft202012,
        }
    }

    fn from_jsonschema(draft: jsonschema::Draft) -> Option<Self> {
        match draft {
            jsonschema::Draft::Draft4 => Some(Draft::Draft4),
            jsonschema::Draft::Draft6 => Some(Draft::Draft6),
            jsonschema::Draft::Draft7 => Some(Draft::Draft7),
            jsonschema::Draft::Draft201909 => Some(Draft::Draft201909),
            jsonschema::Draft::Draft202012 => Some(Draft::Draft202012),
            _ => None,
        }
    }
}

/// How to compile a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// The URI the schema was read from (for a file, its `file://` URI). Relative `$ref`s
    /// without an enclosing `$id` resolve against it, and it is the URI the [`SchemaSource`]
    /// sees them as. Empty: none (relative refs resolve against `json-schema:///`).
    pub base_uri: String,
    /// Whether `format` asserts (`"email"`, `"date-time"`, ...) or is only an annotation.
    /// On by default: a config that says `"format": "uri"` means it.
    pub format_checks: bool,
    /// The draft of a schema without `$schema`.
    pub default_draft: Draft,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            base_uri: String::new(),
            format_checks: true,
            default_draft: Draft::default(),
        }
    }
}

/// Where external schemas come from: the only way a `$ref` (or a custom `$schema`) outside the
/// schema document resolves. `doc/` does no I/O, so the caller decides what a URI means (a file
/// next to the schema, a mapped vendor folder) and whether it may be read at all.
pub trait SchemaSource: Send + Sync {
    /// The JSON value of the document at `uri` (absolute, without fragment), or why not: one
    /// line, lower-case, no trailing period (e.g. `no file schemas/vendor/x.json`).
    fn fetch(&self, uri: &str) -> Result<Value, String>;
}

/// A [`SchemaSource`] that resolves nothing: for schemas that must be self-contained.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSource;

impl SchemaSource for NoSource {
    fn fetch(&self, _uri: &str) -> Result<Value, String> {
        Err("no schema source is configured".to_owned())
    }
}

/// Why a schema could not be compiled. A failure of the configuration (code `config`), not a
/// finding about a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// Always [`Code::Config`].
    pub code: Code,
    /// One line, lower-case, no trailing period.
    pub message: String,
    /// Where in the schema document (JSON pointer), when known.
    pub pointer: Option<String>,
    /// The other problems of the same schema against its meta-schema, each with its pointer:
    /// every problem is reported at once, not one per run.
    pub others: Vec<(String, String)>,
}

impl SchemaProblem {
    fn new(message: String, pointer: Option<String>) -> Self {
        SchemaProblem {
            code: Code::Config,
            message,
            pointer,
            others: Vec::new(),
        }
    }
}

/// Every way `schema` fails its meta-schema, as (message, pointer), in document order, each
/// once; empty when the meta-schema cannot be told (a custom `$schema`).
fn meta_problems(schema: &Value) -> Vec<(String, String)> {
    let Ok(Ok(meta)) = std::panic::catch_unwind(|| jsonschema::meta::validator_for(schema)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for e in meta.iter_errors(schema) {
        let at = e.instance_path().as_str().to_owned();
        let message = meta_message(schema, &at).unwrap_or_else(|| message_of(&e));
        if !out.iter().any(|(m, p)| *p == at && *m == message) {
            out.push((message, at));
        }
    }
    out
}

/// What a person should read for a meta-schema failure the library words as a failed `anyOf`:
/// an unknown `type` name, with the nearest one.
fn meta_message(schema: &Value, at: &str) -> Option<String> {
    const TYPES: [&str; 7] = [
        "array", "boolean", "integer", "null", "number", "object", "string",
    ];
    let value = schema.pointer(at)?;
    let names: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    if !at.ends_with("/type") && at != "/type" {
        return None;
    }
    let bad = names.into_iter().find(|n| !TYPES.contains(n))?;
    let mut m = format!(
        "`{bad}` is not a JSON Schema type (one of {})",
        TYPES.join(", ")
    );
    if let Some(near) = explain::nearest(bad, TYPES.iter().copied()) {
        m.push_str(&format!("; did you mean `{near}`?"));
    }
    Some(m)
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaProblem {}

/// One way an instance fails its schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaError {
    /// The failing value (RFC 6901, e.g. `/server/port`; the root is ``). For `required`,
    /// `additionalProperties`, `unevaluatedProperties` and `propertyNames` it is the object.
    pub instance_pointer: String,
    /// The failing keyword as reached from the root schema, through any `$ref`
    /// (e.g. `/properties/server/properties/port/$ref/type`).
    pub schema_path: String,
    /// Where that keyword is written: an absolute URI with a JSON pointer fragment (e.g.
    /// `file:///w/schemas/app.schema.json#/$defs/port/type`), when the schema has a base URI.
    pub keyword_location: Option<String>,
    /// The keyword: `type`, `required`, `additionalProperties`, ...
    pub keyword: String,
    /// The property that is missing (`required`), not allowed (`additionalProperties`,
    /// `unevaluatedProperties`) or badly named (`propertyNames`); a member of the object at
    /// `instance_pointer`.
    pub property: Option<String>,
    /// One line, lower-case, e.g. `"eighty" is not of type "integer"`.
    pub message: String,
    /// Why this error is the one reported, e.g. which form of a failed `oneOf` it comes from.
    pub notes: Vec<String>,
    /// For an error taken from the closest form of a failed `oneOf`/`anyOf`: every form with
    /// its errors (on the first error of that form only).
    pub alternatives: Vec<Alternative>,
    /// A missing required key merged with the near-miss key that was meant to be it.
    pub(crate) merged: bool,
}

impl SchemaError {
    /// Where the error is shown: the property's pointer for an error about one property of an
    /// object (a missing, unexpected or badly named key), else the failing value's.
    pub fn place(&self) -> String {
        match &self.property {
            Some(p) => format!(
                "{}/{}",
                self.instance_pointer,
                super::escape_pointer_token(p)
            ),
            None => self.instance_pointer.clone(),
        }
    }

    /// What makes two errors the same error, whatever their messages say: the document
    /// place, the keyword as written in its schema, and the property. An edit that changes a
    /// value quoted in a message does not make a new error of an old one.
    pub fn identity(&self) -> (String, String, Option<String>) {
        (
            self.instance_pointer.clone(),
            self.keyword_location
                .clone()
                .unwrap_or_else(|| self.schema_path.clone()),
            self.property.clone(),
        )
    }

    fn depth(&self) -> usize {
        self.instance_pointer.matches('/').count() + usize::from(self.property.is_some())
    }
}

/// A compiled schema: validate any number of instances, from any number of threads.
pub struct Schema {
    validator: jsonschema::Validator<TapeJson>,
    resources: Vec<String>,
    /// The documents, read only to explain the errors of an invalid instance.
    documents: explain::Documents,
    /// The subschema graph, when validation may take time exponential in a document's depth
    /// (see `budget`).
    tangle: Option<budget::Tangle>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("draft", &self.draft())
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

// Files are validated in parallel against one compiled schema.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Schema>();
};

/// Compiles `schema`. Every external document it references is fetched from `source` now, once;
/// validating never fetches.
///
/// The draft is the one `$schema` names (4, 6, 7, 2019-09 or 2020-12), else
/// `options.default_draft`. The schema is checked against its draft's meta-schema first.
///
/// `source` is an `Arc` because the validator library requires a `'static` retriever; it is
/// not kept after compiling.
pub fn compile(
    schema: &Value,
    options: &CompileOptions,
    source: Arc<dyn SchemaSource>,
) -> Result<Schema, SchemaProblem> {
    let retriever = Retriever {
        source,
        fetched: Arc::default(),
    };
    let fetched = Arc::clone(&retriever.fetched);
    let mut builder = jsonschema::options_for::<TapeJson>()
        .with_retriever(retriever)
        .should_validate_formats(options.format_checks);
    if !options.base_uri.is_empty() {
        builder = builder.with_base_uri(options.base_uri.clone());
    }
    let declares_draft = schema.get("$schema").is_some_and(Value::is_string);
    if !declares_draft {
        builder = builder.with_draft(options.default_draft.to_jsonschema());
    }
    let validator = builder
        .build(schema)
        .map_err(|error| compile_problem(schema, &options.base_uri, &error))?;
    let fetched: HashMap<String, Value> =
        std::mem::take(&mut *fetched.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .collect();
    let mut resources: Vec<String> = fetched.keys().cloned().collect();
    resources.sort();
    let base = if options.base_uri.is_empty() {
        "json-schema:///"
    } else {
        &options.base_uri
    };
    let mut root_uris = vec![base.trim_end_matches('#').to_owned()];
    if let Some(id) = ["$id", "id"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_str))
    {
        let id = resolve(base, id);
        root_uris.push(id.split('#').next().unwrap_or_default().to_owned());
    }
    let documents = explain::Documents {
        root: schema.clone(),
        root_uris,
        fetched,
    };
    Ok(Schema {
        validator,
        resources,
        tangle: budget::tangle(&documents),
        documents,
    })
}

impl Schema {
    /// Whether `instance` is valid: the fast path, with no error collected.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.is_valid_tape(&Tape::from_value(instance))
    }

    /// Every error of `instance`, in document order of the failing values (then by schema
    /// path), so the same input always gives the same list. Empty when valid.
    pub fn validate(&self, instance: &Value) -> Vec<SchemaError> {
        self.validate_tape(&Tape::from_value(instance))
    }

    /// [`Schema::is_valid`] of a document on a tape. An empty tape is `null`.
    pub fn is_valid_tape(&self, instance: &Tape<'_>) -> bool {
        match instance.root() {
            Some(root) => self.validator.is_valid(root),
            None => self.validator.is_valid(NULL.root().expect("one slot")),
        }
    }

    /// [`Schema::validate`] of a document on a tape. An empty tape is `null`.
    pub fn validate_tape(&self, instance: &Tape<'_>) -> Vec<SchemaError> {
        let Some(root) = instance.root() else {
            return self.validate_tape(&NULL);
        };
        let mut errors = Vec::new();
        let explainer = explain::Explainer {
            docs: &self.documents,
            root,
        };
        for error in self.validator.iter_errors(root) {
            explainer.push(&error, &mut errors);
        }
        explain::tidy(&mut errors, root, true);
        if errors.len() > 1 {
            let mut positions = Positions::default();
            let mut keyed: Vec<_> = errors
                .into_iter()
                .map(|e| {
                    // An error about a property of an object is placed at that property.
                    (positions.of(root, &e.place()), e)
                })
                .collect();
            keyed.sort_by(|(a, x), (b, y)| {
                a.cmp(b)
                    .then_with(|| x.schema_path.cmp(&y.schema_path))
                    .then_with(|| x.property.cmp(&y.property))
                    .then_with(|| x.message.cmp(&y.message))
            });
            errors = keyed.into_iter().map(|(_, e)| e).collect();
        }
        errors
    }

    /// Whether collecting the errors of `instance` may walk more than `cap` (subschema, value)
    /// paths: an upper bound, computed only for a schema with a `$ref` cycle through a choice of
    /// forms (always `false` for the others), in time linear in the pairs. Collecting keeps every
    /// failed form's errors, so its memory grows with the paths.
    pub fn explaining_exceeds(&self, instance: &Tape<'_>, cap: u64) -> bool {
        match (&self.tangle, instance.root()) {
            (Some(t), Some(root)) => t.paths(root, cap).is_none(),
            _ => false,
        }
    }

    /// The draft the root schema is validated by, or `None` for a custom meta-schema.
    pub fn draft(&self) -> Option<Draft> {
        Draft::from_jsonschema(self.validator.draft())
    }

    /// The URIs fetched from the [`SchemaSource`] while compiling, sorted: what the schema
    /// depends on besides its own document.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
}

/// Adapts a [`SchemaSource`] to the validator library's retriever, recording what it fetched.
struct Retriever {
    source: Arc<dyn SchemaSource>,
    fetched: Arc<Mutex<Vec<(String, Value)>>>,
}

impl jsonschema::Retrieve for Retriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        let value = self.source.fetch(uri)?;
        self.fetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((uri.to_owned(), value.clone()));
        Ok(value)
    }
}

/// Turns the validator library's build error into a one-line problem located in the schema.
fn compile_problem(schema: &Value, base_uri: &str, error: &ValidationError<'_>) -> SchemaProblem {
    match error.kind() {
        ValidationErrorKind::Referencing(error) => reference_problem(schema, base_uri, error),
        ValidationErrorKind::Custom { message, .. } => {
            // Raised while compiling a keyword: `schema_path` is where in the schema.
            let at = [error.schema_path().as_str(), error.instance_path().as_str()]
                .into_iter()
                .find(|p| !p.is_empty());
            let detail = one_line(message);
            match at {
                Some(at) => SchemaProblem::new(
                    format!("invalid schema at {at}: {detail}"),
                    Some(at.to_owned()),
                ),
                None => SchemaProblem::new(format!("invalid schema: {detail}"), None),
            }
        }
        _ => {
            // The schema failed its meta-schema: the instance is the schema itself. Every
            // failure is collected, the first reported as the problem and the rest with it.
            let mut all = meta_problems(schema);
            let at = error.instance_path().as_str();
            if all.is_empty() {
                all.push((message_of(error), at.to_owned()));
            }
            let (message, at) = all.remove(0);
            let shown = if at.is_empty() {
                "the root"
            } else {
                at.as_str()
            };
            let mut p =
                SchemaProblem::new(format!("invalid schema at {shown}: {message}"), Some(at));
            p.others = all;
            p
        }
    }
}

fn reference_problem(schema: &Value, base_uri: &str, error: &ReferencingError) -> SchemaProblem {
    match error {
        ReferencingError::Unretrievable { uri, source } => {
            let found = find_reference(schema, base_uri, |_, resolved| {
                resolved.split('#').next() == Some(uri.as_str())
            });
            let why = one_line(&source.to_string());
            match found {
                Some(Found {
                    keyword,
                    text,
                    pointer,
                }) => SchemaProblem::new(
                    format!("cannot resolve {keyword} \"{text}\" ({uri}): {why}"),
                    Some(pointer),
                ),
                None => {
                    SchemaProblem::new(format!("cannot resolve a reference to {uri}: {why}"), None)
                }
            }
        }
        ReferencingError::PointerToNowhere { pointer } => {
            let found = find_reference(schema, base_uri, |_, resolved| {
                fragment_of(resolved).is_some_and(|f| percent_decode(f) == *pointer)
            });
            located_reference(found, &format!("there is nothing at {pointer}"))
        }
        ReferencingError::NoSuchAnchor { anchor } | ReferencingError::InvalidAnchor { anchor } => {
            let found = find_reference(schema, base_uri, |_, resolved| {
                fragment_of(resolved) == Some(anchor.as_str())
            });
            located_reference(found, &format!("there is no anchor \"{anchor}\""))
        }
        ReferencingError::UnknownSpecification { specification } => {
            let pointer = (schema.get("$schema").and_then(Value::as_str)
                == Some(specification.as_str()))
            .then(|| "/$schema".to_owned());
            SchemaProblem::new(
                format!(
                    "unknown $schema \"{specification}\": name a known draft (4, 6, 7, 2019-09, \
                     2020-12) or make the meta-schema resolvable"
                ),
                pointer,
            )
        }
        other => {
            // A malformed URI: the library quotes it in its message.
            let why = one_line(&other.to_string());
            let found = find_reference(schema, base_uri, |text, _| {
                why.contains(&format!("'{text}'"))
            });
            located_reference(found, &why)
        }
    }
}

fn located_reference(found: Option<Found>, why: &str) -> SchemaProblem {
    match found {
        Some(Found {
            keyword,
            text,
            pointer,
        }) => SchemaProblem::new(
            format!("cannot resolve {keyword} \"{text}\": {why}"),
            Some(pointer),
        ),
        None => SchemaProblem::new(format!("cannot resolve a reference: {why}"), None),
    }
}

struct Found {
    keyword: &'static str,
    text: String,
    pointer: String,
}

/// The first `$ref`-like keyword in `schema` (document order) whose value, resolved against
/// the base URI in effect there, satisfies `matches(text, resolved)`. Only to name and locate a reference in
/// a message, so it follows `$id`/`id` and nothing subtler.
fn find_reference(
    schema: &Value,
    base_uri: &str,
    matches: impl Fn(&str, &str) -> bool,
) -> Option<Found> {
    fn walk(
        value: &Value,
        base: &str,
        pointer: &mut String,
        matches: &dyn Fn(&str, &str) -> bool,
    ) -> Option<Found> {
        match value {
            Value::Object(map) => {
                let id = ["$id", "id"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(Value::as_str));
                let base = id.map_or_else(|| base.to_owned(), |id| resolve(base, id));
                for keyword in ["$ref", "$dynamicRef", "$recursiveRef", "$schema"] {
                    if let Some(text) = map.get(keyword).and_then(Value::as_str)
                        && matches(text, &resolve(&base, text))
                    {
                        return Some(Found {
                            keyword,
                            text: text.to_owned(),
                            pointer: format!("{pointer}/{keyword}"),
                        });
                    }
                }
                map.iter().find_map(|(key, child)| {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&super::escape_pointer_token(key));
                    let found = walk(child, &base, pointer, matches);
                    pointer.truncate(len);
                    found
                })
            }
            Value::Array(items) => items.iter().enumerate().find_map(|(i, child)| {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                let found = walk(child, base, pointer, matches);
                pointer.truncate(len);
                found
            }),
            _ => None,
        }
    }
    let base = if base_uri.is_empty() {
        "json-schema:///"
    } else {
        base_uri
    };
    walk(schema, base, &mut String::new(), &matches)
}

/// `reference` resolved against `base`; `reference` itself when that fails.
fn resolve(base: &str, reference: &str) -> String {
    jsonschema::uri::from_str(base)
        .ok()
        .and_then(|base| jsonschema::uri::resolve_against(&base.borrow(), reference).ok())
        .map_or_else(|| reference.to_owned(), |u| u.as_str().to_owned())
}

fn fragment_of(uri: &str) -> Option<&str> {
    uri.split_once('#').map(|(_, f)| f)
}

/// Decodes `%XX` escapes of a URI part; anything else (a stray `%`) is kept as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends the errors that `error` stands for: one per property for the keywords that name
/// several properties at once, so each can be located on its own key.
fn push_errors(error: &ValidationError<'_>, out: &mut Vec<SchemaError>) {
    let base = |property: Option<String>, message: String| schema_error(error, property, message);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let what = if matches!(
                error.kind(),
                ValidationErrorKind::AdditionalProperties { .. }
            ) {
                "additional"
            } else {
                "unevaluated"
            };
            for name in unexpected {
                out.push(base(
                    Some(name.clone()),
                    format!("{what} properties are not allowed ('{name}' was unexpected)"),
                ));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            out.push(base(Some(name), message_of(error)));
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let name = inner.instance().as_str().map(str::to_owned);
            out.push(base(name, message_of(error)));
        }
        _ => out.push(base(None, message_of(error))),
    }
}

/// The [`SchemaError`] of `error`, about `property` when it names one.
fn schema_error(
    error: &ValidationError<'_>,
    property: Option<String>,
    message: String,
) -> SchemaError {
    SchemaError {
        instance_pointer: error.instance_path().as_str().to_owned(),
        schema_path: error.evaluation_path().as_str().to_owned(),
        keyword_location: error
            .absolute_keyword_location()
            .map(|u| u.as_str().to_owned()),
        keyword: error.kind().keyword().to_owned(),
        property,
        message,
        notes: Vec::new(),
        alternatives: Vec::new(),
        merged: false,
    }
}

/// Longest rendering of the failing value kept whole in a message.
const MAX_SHOWN: usize = 64;

/// The validator library's message: one line, lower-case first word, a long failing value cut
/// short (an `anyOf` over a whole config would otherwise print the whole config).
fn message_of(error: &ValidationError<'_>) -> String {
    let rendered = error.instance().to_string();
    let message = if rendered.chars().count() <= MAX_SHOWN {
        error.to_string()
    } else {
        let mut short: String = rendered.chars().take(MAX_SHOWN - 4).collect();
        short.push('…');
        if rendered.starts_with('"') {
            short.push('"');
        }
        error.masked_with(short).to_string()
    };
    one_line(&message)
}

/// One line, a lower-case first word (`Additional properties ...` → `additional ...`; a
/// quoted value or a number is left alone), no trailing period.
fn one_line(message: &str) -> String {
    let mut line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = line.chars();
    if let (Some(first), Some(second)) = (chars.next(), chars.next())
        && first.is_ascii_uppercase()
        && second.is_ascii_lowercase()
    {
        line.replace_range(..1, &first.to_ascii_lowercase().to_string());
    }
    while line.ends_with('.') {
        line.pop();
    }
    line
}

/// Positions of instance pointers in document order: each segment is the index of the key
/// in its object (source order is kept) or the array index. Objects with many keys get an
/// index once, so sorting many errors stays linear.
#[derive(Default)]
struct Positions<'v> {
    indexes: HashMap<usize, HashMap<&'v str, (usize, NodeRef<'v>)>>,
}

impl<'v> Positions<'v> {
    fn of(&mut self, instance: NodeRef<'v>, pointer: &str) -> Vec<usize> {
        let mut key = Vec::new();
        let mut current = instance;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            let next = if let Some(object) = current.as_object() {
                if object.len() <= 16 {
                    object
                        .members()
                        .enumerate()
                        .find(|(_, (k, _))| *k == token)
                        .map(|(i, (_, v))| (i, v))
                } else {
                    self.indexes
                        .entry(current.index())
                        .or_insert_with(|| {
                            let mut index = HashMap::with_capacity(object.len());
                            for (i, (k, v)) in object.members().enumerate() {
                                index.entry(k).or_insert((i, v));
                            }
                            index
                        })
                        .get(token.as_str())
                        .copied()
                }
            } else if let Some(array) = current.as_array() {
                token
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| Some((i, array.items().nth(i)?)))
            } else {
                None
            };
            match next {
                Some((i, value)) => {
                    key.push(i);
                    current = value;
                }
                None => {
                    key.push(usize::MAX);
                    break;
                }
            }
        }
        key
    }
}

/// The document `null`, for an empty tape.
static NULL: std::sync::LazyLock<Tape<'static>> = std::sync::LazyLock::new(|| {
    let mut t = Tape::new("");
    t.push_null();
    t
});

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use super::*;

    /// A source over an in-memory map of URI → document that records every request.
    #[derive(Default)]
    struct MapSource {
        documents: HashMap<String, Value>,
        requests: Mutex<Vec<String>>,
    }

    impl MapSource {
        fn with(documents: &[(&str, Value)]) -> Arc<Self> {
            Arc::new(MapSource {
                documents: documents
                    .iter()
                    .map(|(u, v)| ((*u).to_owned(), v.clone()))
                    .collect(),
                requests: Mutex::default(),
            })
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    impl SchemaSource for MapSource {
        fn fetch(&self, uri: &str) -> Result<Value, String> {
            self.requests.lock().unwrap().push(uri.to_owned());
            self.documents
                .get(uri)
                .cloned()
                .ok_or_else(|| format!("no document at {uri}"))
        }
    }

    fn build(schema: Value) -> Schema {
        compile(&schema, &CompileOptions::default(), Arc::new(NoSource)).unwrap()
    }

    fn problem(schema: Value) -> SchemaProblem {
        compile(&schema, &CompileOptions::default(), Arc::new(NoSource)).unwrap_err()
    }

    /// (instance pointer, schema path, keyword, property, message) of every error; checks
    /// that the fast path agrees.
    fn errors(
        schema: &Schema,
        instance: Value,
    ) -> Vec<(String, String, String, Option<String>, String)> {
        let errors = schema.validate(&instance);
        assert_eq!(
            schema.is_valid(&instance),
            errors.is_empty(),
            "is_valid disagrees"
        );
        errors
            .into_iter()
            .map(|e| {
                (
                    e.instance_pointer,
                    e.schema_path,
                    e.keyword,
                    e.property,
                    e.message,
                )
            })
            .collect()
    }

    fn e(
        pointer: &str,
        schema_path: &str,
        keyword: &str,
        property: Option<&str>,
        message: &str,
    ) -> (String, String, String, Option<String>, String) {
        (
            pointer.to_owned(),
            schema_path.to_owned(),
            keyword.to_owned(),
            property.map(str::to_owned),
            message.to_owned(),
        )
    }

    fn assert_one_line(message: &str) {
        assert!(!message.contains('\n'), "{message:?}");
        assert!(!message.ends_with('.'), "{message:?}");
        assert!(
            !message.starts_with(|c: char| c.is_uppercase()),
            "{message:?}"
        );
    }

    fn app_schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "server"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string"},
                "server": {
                    "type": "object",
                    "properties": {
                        "host": {"type": "string"},
                        "port": {"$ref": "#/$defs/port"}
                    }
                },
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "$defs": {"port": {"type": "integer", "minimum": 1}}
        })
    }

    /// An error about one property of an object (`additionalProperties`, `required`) is placed
    /// at that property; a missing one after the object's members.
    #[test]
    fn every_error_has_its_pointer_schema_path_and_keyword_in_document_order() {
        let schema = build(app_schema());
        let got = errors(
            &schema,
            json!({
                "tags": ["a", 1, "b", false],
                "server": {"port": "eighty", "host": 5},
                "extra": 1,
                "more": {}
            }),
        );
        assert_eq!(
            got,
            vec![
                e(
                    "/tags/1",
                    "/properties/tags/items/type",
                    "type",
                    None,
                    "1 is not of type \"string\""
                ),
                e(
                    "/tags/3",
                    "/properties/tags/items/type",
                    "type",
                    None,
                    "false is not of type \"string\""
                ),
                e(
                    "/server/port",
                    "/properties/server/properties/port/$ref/type",
                    "type",
                    None,
                    "\"eighty\" is not of type \"integer\""
                ),
                e(
                    "/server/host",
                    "/properties/server/properties/host/type",
                    "type",
                    None,
                    "5 is not of type \"string\""
                ),
                e(
                    "",
                    "/additionalProperties",
                    "additionalProperties",
                    Some("extra"),
                    "`extra` is not an allowed key (allowed: `name`, `server`, `tags`)"
                ),
                e(
                    "",
                    "/additionalProperties",
                    "additionalProperties",
                    Some("more"),
                    "`more` is not an allowed key (allowed: `name`, `server`, `tags`)"
                ),
                e(
                    "",
                    "/required",
                    "required",
                    Some("name"),
                    "\"name\" is a required property"
                ),
            ]
        );
    }

    #[test]
    fn a_valid_instance_has_no_errors() {
        let schema = build(app_schema());
        let instance = json!({"name": "api", "server": {"host": "h", "port": 80}, "tags": []});
        assert!(schema.is_valid(&instance));
        assert_eq!(schema.validate(&instance), vec![]);
    }

    #[test]
    fn errors_under_a_ref_name_where_the_keyword_is_written() {
        let options = CompileOptions {
            base_uri: "file:///w/schemas/app.schema.json".to_owned(),
            ..CompileOptions::default()
        };
        let schema = compile(&app_schema(), &options, Arc::new(NoSource)).unwrap();
        let errors = schema.validate(&json!({"name": "a", "server": {"port": 0}}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].instance_pointer, "/server/port");
        assert_eq!(
            errors[0].schema_path,
            "/properties/server/properties/port/$ref/minimum"
        );
        assert_eq!(
            errors[0].keyword_location.as_deref(),
            Some("file:///w/schemas/app.schema.json#/$defs/port/minimum")
        );
        assert_eq!(errors[0].message, "0 is less than the minimum of 1");
    }

    #[test]
    fn pointers_escape_slash_and_tilde_and_order_follows_the_document() {
        let schema = build(json!({"additionalProperties": {"type": "integer"}}));
        let got = errors(&schema, json!({"z": "x", "a/b": "y", "m~n": "w", "ok": 1}));
        let pointers: Vec<_> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(pointers, ["/z", "/a~1b", "/m~0n"]);
    }

    #[test]
    fn order_is_by_document_position_even_in_wide_objects() {
        // More than 16 keys takes the indexed path of `Positions`.
        let keys: Vec<String> = (0..40).rev().map(|i| format!("k{i}")).collect();
        let instance: Value = Value::Object(
            keys.iter()
                .map(|k| (k.clone(), json!("not a number")))
                .collect(),
        );
        let schema = build(json!({"additionalProperties": {"type": "number"}}));
        let got: Vec<_> = schema
            .validate(&instance)
            .into_iter()
            .map(|e| e.instance_pointer)
            .collect();
        let want: Vec<_> = keys.iter().map(|k| format!("/{k}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn property_names_errors_name_the_property() {
        let schema = build(json!({"propertyNames": {"pattern": "^[a-z]+$"}}));
        let got = errors(&schema, json!({"good": 1, "Bad": 2}));
        assert_eq!(
            got,
            vec![e(
                "",
                "/propertyNames/pattern",
                "propertyNames",
                Some("Bad"),
                "\"Bad\" does not match \"^[a-z]+$\""
            )]
        );
    }

    /// A small GitHub-like job: a `oneOf` of a job that runs steps and one that calls a
    /// workflow.
    fn jobs_schema() -> Value {
        json!({
            "type": "object",
            "properties": {"jobs": {"type": "object", "additionalProperties": {"oneOf": [
                {"$ref": "#/definitions/normalJob"},
                {"$ref": "#/definitions/callJob"}
            ]}}},
            "definitions": {
                "normalJob": {
                    "type": "object",
                    "required": ["runs-on"],
                    "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string"},
                        "runs-on": {"type": "string"},
                        "timeout-minutes": {"type": "number"},
                        "permissions": {"oneOf": [
                            {"type": "string", "enum": ["read-all", "write-all"]},
                            {"type": "object", "additionalProperties": false, "properties": {
                                "contents": {"enum": ["read", "write", "none"]}
                            }}
                        ]}
                    }
                },
                "callJob": {
                    "type": "object",
                    "required": ["uses"],
                    "additionalProperties": false,
                    "properties": {"name": {"type": "string"}, "uses": {"type": "string"}}
                }
            }
        })
    }

    #[test]
    fn a_failed_one_of_reports_the_closest_form_at_its_place() {
        let schema = build(jobs_schema());
        // A wrong type deep in the job that runs steps.
        let got = schema.validate(&json!({"jobs": {"test": {
            "runs-on": "ubuntu", "timeout-minutes": "forty five"
        }}}));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].instance_pointer, "/jobs/test/timeout-minutes");
        assert_eq!(got[0].message, "\"forty five\" is not of type \"number\"");
        assert_eq!(
            got[0].notes,
            [
                "the value at /jobs/test matches none of the 2 forms its `oneOf` allows; closest: \
              form 1 (`normalJob`) (-v lists every form's errors)"
            ]
        );
        let forms: Vec<_> = got[0]
            .alternatives
            .iter()
            .map(|a| (a.form.as_str(), a.closest))
            .collect();
        assert_eq!(
            forms,
            [
                ("form 1 (`normalJob`)", true),
                ("form 2 (`callJob`)", false)
            ]
        );
        assert!(
            got[0].alternatives[1]
                .errors
                .iter()
                .any(|e| e.message.contains("uses"))
        );

        // A misspelt required key: one finding, at the key.
        let got = schema.validate(&json!({"jobs": {"test": {"name": "t", "runs_on": "ubuntu"}}}));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].place(), "/jobs/test/runs_on");
        assert_eq!(
            got[0].message,
            "`runs_on` is not an allowed key; did you mean `runs-on`? (`runs-on` is required)"
        );

        // A bad enum value in a nested `oneOf`: the object form, the value listed.
        let got = schema.validate(&json!({"jobs": {"test": {
            "runs-on": "ubuntu", "permissions": {"contents": "reed"}
        }}}));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].instance_pointer, "/jobs/test/permissions/contents");
        assert_eq!(
            got[0].message,
            "\"reed\" is not one of \"read\", \"write\" or \"none\"; did you mean \"read\"?"
        );
        assert_eq!(got[0].notes.len(), 2, "{:?}", got[0].notes);
    }

    #[test]
    fn an_if_then_else_error_is_at_its_place_and_says_why() {
        let schema = build(json!({
            "properties": {"kind": {"enum": ["disk", "net"]}},
            "if": {"properties": {"kind": {"const": "disk"}}},
            "then": {"required": ["path"]},
            "else": {"properties": {"port": {"type": "integer"}}}
        }));
        let got = schema.validate(&json!({"kind": "disk", "pth": "/x"}));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].place(), "/pth");
        assert!(
            got[0]
                .message
                .contains("did you mean `path` instead of `pth`"),
            "{}",
            got[0].message
        );
        assert_eq!(
            got[0].notes,
            ["this applies because the value matched the `if` at /if"]
        );
        let got = schema.validate(&json!({"kind": "net", "port": "80"}));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].instance_pointer, "/port");
        assert_eq!(
            got[0].notes,
            ["this applies because the value did not match the `if` at /if"]
        );
    }

    #[test]
    fn forms_that_only_want_another_type_are_named_too() {
        let schema = build(json!({"properties": {"lto": {"oneOf": [
            {"type": "string", "enum": ["fat", "thin", "off"]},
            {"type": "boolean"}
        ]}}}));
        let got = schema.validate(&json!({"lto": "thn"}));
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].message,
            "\"thn\" is not one of \"fat\", \"thin\" or \"off\", nor of type \"boolean\"; \
             did you mean \"thin\"?"
        );
    }

    #[test]
    fn a_one_of_matching_two_forms_names_them() {
        let schema = build(json!({"oneOf": [
            {"title": "short", "maxLength": 3},
            {"title": "lower", "pattern": "^[a-z]+$"},
            {"type": "number"}
        ]}));
        let got = schema.validate(&json!("ab"));
        assert_eq!(got.len(), 1);
        assert!(
            got[0]
                .message
                .ends_with(": form 1 (`short`) and form 2 (`lower`) match, and exactly one may"),
            "{}",
            got[0].message
        );
    }

    #[test]
    fn one_finding_per_place_and_cause() {
        let schema = build(json!({"allOf": [
            {"required": ["name"], "properties": {"port": {"enum": [1, 2]}}},
            {"required": ["name"], "properties": {"port": {"enum": [1, 2]}}}
        ]}));
        let got = errors(&schema, json!({"port": 3}));
        let messages: Vec<_> = got.iter().map(|e| e.4.as_str()).collect();
        assert_eq!(
            messages,
            ["3 is not one of 1 or 2", "\"name\" is a required property"],
            "{got:#?}"
        );
    }

    #[test]
    fn a_wide_object_with_many_findings_is_explained_in_linear_time() {
        let schema = build(json!({
            "properties": {"a": {}, "b": {}},
            "required": ["a", "b"],
            "additionalProperties": false
        }));
        let wide: serde_json::Map<String, Value> =
            (0..50_000).map(|i| (format!("key{i}"), json!(i))).collect();
        let started = std::time::Instant::now();
        let got = schema.validate(&Value::Object(wide));
        assert_eq!(got.len(), 50_002);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn identity_ignores_the_message() {
        let schema = build(json!({"properties": {"job": {"not": {"required": ["x"]}}}}));
        let a = schema.validate(&json!({"job": {"x": 1, "name": "a"}}));
        let b = schema.validate(&json!({"job": {"x": 1, "name": "b"}}));
        assert_ne!(a[0].message, b[0].message);
        assert_eq!(a[0].identity(), b[0].identity());
    }

    #[test]
    fn unevaluated_properties_are_split_per_property() {
        let schema = build(json!({"properties": {"a": true}, "unevaluatedProperties": false}));
        let got = errors(&schema, json!({"a": 1, "b": 2, "c": 3}));
        let properties: Vec<_> = got.iter().map(|e| e.3.as_deref()).collect();
        assert_eq!(properties, [Some("b"), Some("c")]);
        assert_eq!(got[0].2, "unevaluatedProperties");
        assert_eq!(got[0].4, "`b` is not an allowed key (allowed: `a`)");
    }

    #[test]
    fn a_long_failing_value_is_cut_short_in_the_message() {
        let schema = build(json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}));
        let instance = json!({"servers": (0..100).collect::<Vec<_>>()});
        let errors = schema.validate(&instance);
        assert_eq!(errors.len(), 1);
        let message = &errors[0].message;
        assert!(message.len() < 160, "{message}");
        assert!(
            message.starts_with("{\"servers\":[0,1,2,") && message.contains("…"),
            "{message}"
        );
        assert!(
            message.ends_with("is not of type \"string\" or \"integer\""),
            "{message}"
        );
        assert_one_line(message);
    }

    #[test]
    fn formats_are_asserted_by_default() {
        let schema = json!({"properties": {
            "mail": {"format": "email"},
            "at": {"format": "date-time"},
            "home": {"format": "uri"}
        }});
        let instance = json!({"mail": "nope", "at": "yesterday", "home": "not a uri"});
        let checked = build(schema.clone());
        let got = errors(&checked, instance.clone());
        assert_eq!(
            got,
            vec![
                e(
                    "/mail",
                    "/properties/mail/format",
                    "format",
                    None,
                    "\"nope\" is not a \"email\""
                ),
                e(
                    "/at",
                    "/properties/at/format",
                    "format",
                    None,
                    "\"yesterday\" is not a \"date-time\""
                ),
                e(
                    "/home",
                    "/properties/home/format",
                    "format",
                    None,
                    "\"not a uri\" is not a \"uri\""
                ),
            ]
        );
        assert!(checked.is_valid(
            &json!({"mail": "a@example.com", "at": "2026-01-02T03:04:05Z", "home": "https://x.y/"})
        ));
    }

    #[test]
    fn formats_are_annotations_without_format_checks() {
        let options = CompileOptions {
            format_checks: false,
            ..CompileOptions::default()
        };
        let schema = compile(&json!({"format": "email"}), &options, Arc::new(NoSource)).unwrap();
        assert!(schema.is_valid(&json!("nope")));
        assert_eq!(schema.validate(&json!("nope")), vec![]);
    }

    #[test]
    fn the_draft_comes_from_dollar_schema() {
        // `items` as an array is a tuple in draft 7 and not a schema at all in 2020-12.
        let tuple = json!({"items": [{"type": "string"}]});
        let mut draft7 = tuple.clone();
        draft7["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        let schema = build(draft7);
        assert_eq!(schema.draft(), Some(Draft::Draft7));
        assert_eq!(
            errors(&schema, json!([1, 2])),
            vec![e(
                "/0",
                "/items/0/type",
                "type",
                None,
                "1 is not of type \"string\""
            )]
        );

        let problem = problem(tuple.clone());
        assert_eq!(problem.pointer.as_deref(), Some("/items"), "{problem:?}");

        let options = CompileOptions {
            default_draft: Draft::Draft7,
            ..CompileOptions::default()
        };
        let schema = compile(&tuple, &options, Arc::new(NoSource)).unwrap();
        assert_eq!(schema.draft(), Some(Draft::Draft7));
        assert!(!schema.is_valid(&json!([1])));

        // Draft 4: a boolean `exclusiveMaximum` modifies `maximum`.
        let schema = build(json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "maximum": 3,
            "exclusiveMaximum": true
        }));
        assert_eq!(schema.draft(), Some(Draft::Draft4));
        assert!(!schema.is_valid(&json!(3)));
        assert!(schema.is_valid(&json!(2)));

        for (uri, draft) in [
            ("http://json-schema.org/draft-06/schema#", Draft::Draft6),
            (
                "https://json-schema.org/draft/2019-09/schema",
                Draft::Draft201909,
            ),
            (
                "https://json-schema.org/draft/2020-12/schema",
                Draft::Draft202012,
            ),
        ] {
            assert_eq!(build(json!({"$schema": uri})).draft(), Some(draft), "{uri}");
        }
        assert_eq!(build(json!({})).draft(), Some(Draft::Draft202012));
    }

    #[test]
    fn a_schema_that_does_not_compile_is_a_located_config_problem() {
        for (schema, pointer, needle) in [
            (json!({"type": 12}), "/type", "12"),
            (
                json!({"minimum": "x"}),
                "/minimum",
                "\"x\" is not of type \"number\"",
            ),
            (
                json!({"properties": {"a": {"pattern": "(("}}}),
                "/properties/a/pattern",
                "((",
            ),
            (json!({"required": "name"}), "/required", "\"name\""),
            (json!(12), "", "12"),
        ] {
            let problem = problem(schema.clone());
            assert_eq!(problem.code, Code::Config);
            assert_eq!(
                problem.pointer.as_deref(),
                Some(pointer),
                "{schema}: {problem:?}"
            );
            assert!(
                problem.message.starts_with("invalid schema at "),
                "{problem:?}"
            );
            assert!(problem.message.contains(needle), "{problem:?}");
            assert_one_line(&problem.message);
            assert_eq!(problem.to_string(), problem.message);
        }
    }

    #[test]
    fn an_unresolvable_ref_is_a_problem_naming_the_ref() {
        let options = CompileOptions {
            base_uri: "file:///w/schemas/app.schema.json".to_owned(),
            ..CompileOptions::default()
        };
        let source = MapSource::with(&[]);
        let schema = json!({"properties": {"a": {"$ref": "missing.json#/$defs/x"}}});
        let problem = compile(&schema, &options, source.clone()).unwrap_err();
        assert_eq!(problem.code, Code::Config);
        assert_eq!(problem.pointer.as_deref(), Some("/properties/a/$ref"));
        assert_eq!(
            problem.message,
            "cannot resolve $ref \"missing.json#/$defs/x\" (file:///w/schemas/missing.json): \
             no document at file:///w/schemas/missing.json"
        );
        assert_eq!(source.requests(), ["file:///w/schemas/missing.json"]);
    }

    #[test]
    fn a_remote_ref_goes_to_the_source_and_never_to_the_network() {
        let schema = json!({"$ref": "https://example.com/schemas/vendor.json"});
        let problem = problem(schema);
        assert_eq!(problem.pointer.as_deref(), Some("/$ref"));
        assert_eq!(
            problem.message,
            "cannot resolve $ref \"https://example.com/schemas/vendor.json\" \
             (https://example.com/schemas/vendor.json): no schema source is configured"
        );
    }

    #[test]
    fn a_ref_to_nowhere_in_the_document_is_a_located_problem() {
        let problem = problem(json!({
            "$defs": {"a": {"type": "string"}},
            "properties": {"x": {"$ref": "#/$defs/b"}}
        }));
        assert_eq!(problem.pointer.as_deref(), Some("/properties/x/$ref"));
        assert_eq!(
            problem.message,
            "cannot resolve $ref \"#/$defs/b\": there is nothing at /$defs/b"
        );

        let problem = problem_of_anchor();
        assert_eq!(problem.pointer.as_deref(), Some("/items/$ref"));
        assert!(problem.message.contains("\"#nope\""), "{problem:?}");
    }

    fn problem_of_anchor() -> SchemaProblem {
        problem(json!({"items": {"$ref": "#nope"}}))
    }

    #[test]
    fn an_unknown_dollar_schema_is_a_problem() {
        let problem = problem(json!({"$schema": "https://example.com/my-meta", "type": "string"}));
        assert_eq!(problem.pointer.as_deref(), Some("/$schema"));
        assert!(
            problem.message.contains("https://example.com/my-meta"),
            "{problem:?}"
        );
        assert_one_line(&problem.message);
    }

    #[test]
    fn a_relative_ref_resolves_through_the_source() {
        let source = MapSource::with(&[
            (
                "file:///w/schemas/common/net.json",
                json!({"$defs": {"port": {"$ref": "limits.json#/$defs/port"}}}),
            ),
            (
                "file:///w/schemas/common/limits.json",
                json!({"$defs": {"port": {"type": "integer", "maximum": 65535}}}),
            ),
        ]);
        let options = CompileOptions {
            base_uri: "file:///w/schemas/app.schema.json".to_owned(),
            ..CompileOptions::default()
        };
        let schema = json!({"properties": {"port": {"$ref": "common/net.json#/$defs/port"}}});
        let schema = compile(&schema, &options, source.clone()).unwrap();
        assert_eq!(
            schema.resources(),
            [
                "file:///w/schemas/common/limits.json",
                "file:///w/schemas/common/net.json"
            ]
        );
        let requests = source.requests().len();

        let errors = schema.validate(&json!({"port": 70000}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].instance_pointer, "/port");
        assert_eq!(errors[0].schema_path, "/properties/port/$ref/$ref/maximum");
        assert_eq!(
            errors[0].keyword_location.as_deref(),
            Some("file:///w/schemas/common/limits.json#/$defs/port/maximum")
        );
        assert!(schema.is_valid(&json!({"port": 443})));
        assert_eq!(
            source.requests().len(),
            requests,
            "validating fetched again"
        );
    }

    #[test]
    fn an_id_changes_the_base_the_source_sees() {
        let source = MapSource::with(&[(
            "https://example.com/vendor/port.json",
            json!({"type": "integer"}),
        )]);
        let options = CompileOptions {
            base_uri: "file:///w/schemas/app.schema.json".to_owned(),
            ..CompileOptions::default()
        };
        let schema = json!({"$id": "https://example.com/vendor/app.json", "$ref": "port.json"});
        let schema = compile(&schema, &options, source.clone()).unwrap();
        assert_eq!(source.requests(), ["https://example.com/vendor/port.json"]);
        assert!(!schema.is_valid(&json!("x")));
    }

    #[test]
    fn meta_schemas_resolve_offline() {
        let source = MapSource::with(&[]);
        for uri in [
            "https://json-schema.org/draft/2020-12/schema",
            "https://json-schema.org/draft/2019-09/schema",
            "http://json-schema.org/draft-07/schema#",
            "http://json-schema.org/draft-06/schema#",
            "http://json-schema.org/draft-04/schema#",
        ] {
            let schema = json!({"$schema": uri, "properties": {"s": {"$ref": uri}}});
            let schema = compile(&schema, &CompileOptions::default(), source.clone())
                .unwrap_or_else(|p| panic!("{uri}: {p}"));
            assert!(schema.is_valid(&json!({"s": {"type": "string"}})), "{uri}");
            assert!(!schema.is_valid(&json!({"s": {"type": 12}})), "{uri}");
        }
        assert_eq!(source.requests(), Vec::<String>::new());
    }

    #[test]
    fn one_schema_validates_from_many_threads() {
        use rayon::prelude::*;
        let schema = build(app_schema());
        let instances: Vec<Value> = (0..64)
            .map(|i| json!({"name": "a", "server": {"port": i}}))
            .collect();
        let invalid = instances.par_iter().filter(|i| !schema.is_valid(i)).count();
        assert_eq!(invalid, 1);
    }
}

/// The tape and `serde_json::Value` are two representations of one instance: the validator
/// library must judge them alike, error for error.
#[cfg(test)]
mod representations {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use crate::doc::tape::{Tape, TapeJson};

    /// A schema that uses every keyword whose code reads instances differently: lookups,
    /// member passes, string lengths, numbers, equality, uniqueness, property names.
    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer", "minimum": -5, "maximum": 5, "multipleOf": 2},
                "b": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-c]+$"},
                "c": {"type": "array", "uniqueItems": true, "maxItems": 3,
                      "items": {"enum": [1, 1.0, "x", null, [1], {"a": 1}]}},
                "d": {"const": {"a": [1, 2.0]}},
                "e": {"anyOf": [{"type": "boolean"}, {"type": "number", "exclusiveMinimum": 0}]},
                "f": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                "g": {"format": "email"}
            },
            "patternProperties": {"^x": {"type": "null"}},
            "propertyNames": {"maxLength": 2},
            "required": ["a", "b"],
            "minProperties": 2,
            "dependentRequired": {"c": ["d"]},
            "additionalProperties": {"not": {"type": "object"}},
            "unevaluatedProperties": false
        })
    }

    fn instance() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-8i64..8).prop_map(Value::from),
            (-8i64..8).prop_map(|i| Value::from(i as f64 / 2.0)),
            "[a-d@.]{0,4}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-g]|x[a-z]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        });
        prop::collection::btree_map("[a-g]|x[a-z]{0,2}", value, 0..7)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
    }

    fn errors(list: Vec<jsonschema::ValidationError<'_>>) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = list
            .into_iter()
            .map(|e| {
                let at = e.instance_path().as_str().to_owned();
                (at, e.evaluation_path().as_str().to_owned(), e.to_string())
            })
            .collect();
        out.sort();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn tape_and_value_instances_get_the_same_verdict_and_errors(value in instance()) {
            let schema = schema();
            let on_values = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap();
            let on_tapes = jsonschema::options_for::<TapeJson>()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap();
            let tape = Tape::from_value(&value);
            let root = tape.root().unwrap();
            prop_assert_eq!(on_tapes.is_valid(root), on_values.is_valid(&value));
            prop_assert_eq!(
                errors(on_tapes.iter_errors(root).collect()),
                errors(on_values.iter_errors(&value).collect())
            );
        }
    }
}

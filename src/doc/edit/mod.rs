//! Format-preserving edits: set or remove one value of a JSON, YAML or TOML text, changing only
//! the bytes of the edited region (comments, key order and layout elsewhere stay as they were).
//!
//! Invariant: an edit returns a text that parses to exactly the old value with the change
//! applied through serde_json — checked here by parsing the result — or an [`EditError`]; a
//! wrong splice can never be returned. No I/O. TOML is edited through `toml_edit::DocumentMut`;
//! JSON and YAML by splicing the byte ranges of the span index. YAML refuses what it cannot
//! splice exactly: aliases and anchored values (when the text has aliases), merge keys, and
//! streams of several documents.

mod json;
mod path;
mod text;
mod toml;
mod yaml;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use path::{KeyError, KeyPath, parse_assignment};

use super::{Format, Limits, Problem};

/// Why an edit was not made. The text is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The text does not parse (reported as a finding by the caller).
    #[error("the file does not parse: {}", .0.message)]
    Parse(Box<Problem>),
    /// `unset` of a value that is not there, or a path through a missing array element.
    #[error("`{pointer}` is not in the document")]
    NotFound {
        /// The missing value's pointer.
        pointer: String,
    },
    /// The path goes through a value that has no members.
    #[error("`{pointer}` is {found}, not an object or array: `{key}` cannot be set below it")]
    NotContainer {
        /// The scalar's pointer (`` for the root).
        pointer: String,
        /// `a string`, `null`, ...
        found: &'static str,
        /// The full pointer that was asked for.
        key: String,
    },
    /// An array token that is not an index of the array (nor its length or `-`, to append).
    #[error("`{token}` is not an index of the array at `{pointer}` ({len} elements)")]
    BadIndex {
        /// The array's pointer.
        pointer: String,
        /// The token.
        token: String,
        /// The array's length.
        len: usize,
    },
    /// The format cannot hold the value, or the edit cannot be written exactly in this text.
    #[error("{0}")]
    Unsupported(String),
}

/// What to do at the end of the path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Replace the existing value at `path` (`tokens` all exist).
    Replace(Value),
    /// Add a member (or array element) `last` to the existing container `parent`; the value may
    /// be nested objects, for the intermediate keys that did not exist.
    Insert(Value),
    /// Remove the member or element.
    Remove,
}

/// An edit resolved against the old value: every format editor works from this.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Tokens of the existing container that is changed.
    pub parent: Vec<String>,
    /// The member key, or the element index, in `parent`.
    pub last: String,
    /// `parent` is an array (else an object).
    pub in_array: bool,
    /// What happens there.
    pub action: Action,
}

impl Plan {
    pub fn parent_pointer(&self) -> String {
        path::pointer_of(&self.parent)
    }

    pub fn pointer(&self) -> String {
        let mut p = self.parent_pointer();
        p.push('/');
        p.push_str(&super::escape_pointer_token(&self.last));
        p
    }
}

/// Sets the value at `path` in `text`, adding it (and any missing intermediate objects) when it
/// is not there. A `null` on the way is replaced by the objects the path needs; an array index
/// equal to the length (or `-`) appends. Setting the value it already has returns `text` as is.
pub fn set(format: Format, text: &str, path: &KeyPath, value: &Value) -> Result<String, EditError> {
    edit(format, text, path, Some(value))
}

/// Removes the value at `path` from `text`; a value that is not there is
/// [`EditError::NotFound`].
pub fn unset(format: Format, text: &str, path: &KeyPath) -> Result<String, EditError> {
    edit(format, text, path, None)
}

fn edit(
    format: Format,
    text: &str,
    path: &KeyPath,
    value: Option<&Value>,
) -> Result<String, EditError> {
    let docs = super::parse(format, text.as_bytes(), &Limits::default())
        .map_err(|p| EditError::Parse(Box::new(p)))?;
    let old = match docs.as_slice() {
        [one] => one,
        [] => return empty_yaml(text, path, value),
        more => {
            return Err(EditError::Unsupported(format!(
                "the file holds {} YAML documents; set and unset edit files of one document",
                more.len()
            )));
        }
    };
    let (plan, expected) = resolve(old, path.tokens(), value)?;
    if &expected == old {
        // Setting a value it already has: the text stays as it is, byte for byte.
        return Ok(text.to_owned());
    }
    // A text whose every line ends in CRLF is edited as LF and turned back, so that new lines
    // end as the others do. (Spans are the same either way: a column never counts a `\r`.)
    let crlf = text.contains("\r\n") && !text.replace("\r\n", "").contains(['\r', '\n']);
    let lf;
    let source = if crlf {
        lf = text.replace("\r\n", "\n");
        &lf
    } else {
        text
    };
    let mut new = match format {
        Format::Json => json::apply(source, old, &plan)?,
        Format::Yaml => yaml::apply(source, old, &plan)?,
        Format::Toml => toml::apply(source, &plan)?,
    };
    if crlf {
        new = new.replace('\n', "\r\n");
    }
    let inexact = || {
        EditError::Unsupported(format!(
            "`{}` cannot be {} exactly in this {} text without rewriting more of it; \
             edit it by hand",
            plan.pointer(),
            if value.is_some() { "set" } else { "unset" },
            format.as_str()
        ))
    };
    match super::parse(format, new.as_bytes(), &Limits::default()) {
        Ok(docs) if docs.len() == 1 && docs[0] == expected => Ok(new),
        _ => Err(inexact()),
    }
}

/// A YAML stream with no document (empty, or only comments): `set` writes a mapping at its end.
fn empty_yaml(text: &str, path: &KeyPath, value: Option<&Value>) -> Result<String, EditError> {
    let Some(value) = value else {
        return Err(EditError::NotFound {
            pointer: path.pointer(),
        });
    };
    let expected = path.tokens().iter().rev().fold(value.clone(), |v, k| {
        Value::Object([(k.clone(), v)].into_iter().collect())
    });
    let mut new = text.to_owned();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&yaml::document(&expected));
    new.push('\n');
    match super::parse(Format::Yaml, new.as_bytes(), &Limits::default()) {
        Ok(docs) if docs == [expected] => Ok(new),
        _ => Err(EditError::Unsupported(format!(
            "`{path}` cannot be set exactly in this empty yaml text; edit it by hand"
        ))),
    }
}

/// Applies the change to a copy of `old` and says where it happens.
fn resolve(
    old: &Value,
    tokens: &[String],
    value: Option<&Value>,
) -> Result<(Plan, Value), EditError> {
    let mut expected = old.clone();
    let mut node = &mut expected;
    let full = path::pointer_of(tokens);
    // Whether the value at `tokens[..depth]` is an element of an array.
    let mut in_array = false;
    for (depth, token) in tokens.iter().enumerate() {
        let here = path::pointer_of(&tokens[..depth]);
        let last = depth + 1 == tokens.len();
        let plan = |action| Plan {
            parent: tokens[..depth].to_vec(),
            last: token.clone(),
            in_array: false,
            action,
        };
        // What goes in when this token is missing: the value, under any remaining keys.
        let fresh = |value: &Value| {
            tokens[depth + 1..]
                .iter()
                .rev()
                .fold(value.clone(), |v, k| {
                    Value::Object([(k.clone(), v)].into_iter().collect())
                })
        };
        match node {
            Value::Object(map) => {
                if !map.contains_key(token) {
                    let Some(value) = value else {
                        return Err(EditError::NotFound { pointer: full });
                    };
                    let inserted = fresh(value);
                    map.insert(token.clone(), inserted.clone());
                    return Ok((plan(Action::Insert(inserted)), expected));
                }
                if last {
                    let action = match value {
                        Some(v) => {
                            map.insert(token.clone(), v.clone());
                            Action::Replace(v.clone())
                        }
                        None => {
                            map.shift_remove(token);
                            Action::Remove
                        }
                    };
                    return Ok((plan(action), expected));
                }
                node = map.get_mut(token).expect("checked above");
                in_array = false;
            }
            Value::Array(items) => {
                let len = items.len();
                let bad = || EditError::BadIndex {
                    pointer: here.clone(),
                    token: token.clone(),
                    len,
                };
                let index = if token == "-" {
                    len
                } else if token == "0" || (!token.starts_with('0') && !token.is_empty()) {
                    token.parse::<usize>().map_err(|_| bad())?
                } else {
                    return Err(bad());
                };
                let mut plan = plan(Action::Remove);
                plan.in_array = true;
                plan.last = index.to_string();
                if index == len {
                    let Some(value) = value else {
                        return Err(EditError::NotFound { pointer: full });
                    };
                    let inserted = fresh(value);
                    items.push(inserted.clone());
                    plan.action = Action::Insert(inserted);
                    return Ok((plan, expected));
                }
                if index > len {
                    return Err(bad());
                }
                if last {
                    match value {
                        Some(v) => {
                            items[index] = v.clone();
                            plan.action = Action::Replace(v.clone());
                        }
                        None => {
                            items.remove(index);
                        }
                    }
                    return Ok((plan, expected));
                }
                node = &mut items[index];
                in_array = true;
            }
            // A null on the way (`server:` with nothing after it, in YAML) is replaced by the
            // objects the path needs, as a missing key would be.
            Value::Null if depth > 0 && value.is_some() => {
                let nested = tokens[depth..]
                    .iter()
                    .rev()
                    .fold(value.cloned().unwrap_or_default(), |v, k| {
                        Value::Object([(k.clone(), v)].into_iter().collect())
                    });
                *node = nested.clone();
                let plan = Plan {
                    parent: tokens[..depth - 1].to_vec(),
                    last: tokens[depth - 1].clone(),
                    in_array,
                    action: Action::Replace(nested),
                };
                return Ok((plan, expected));
            }
            scalar => {
                return Err(EditError::NotContainer {
                    pointer: here,
                    found: kind(scalar),
                    key: full,
                });
            }
        }
    }
    unreachable!("a KeyPath has at least one token")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

//! JSON: splice the byte range of the edited member, copying the separators and indentation
//! that its neighbours use.

use serde_json::Value;

use super::text::{children, indent_of, indent_unit, located, parent_value, splice};
use super::{Action, EditError, Plan};
use crate::doc::span::LineIndex;

pub(super) fn apply(text: &str, old: &Value, plan: &Plan) -> Result<String, EditError> {
    let index = crate::doc::json::index(text);
    let offsets = LineIndex::new(text);
    let parent_ptr = plan.parent_pointer();
    let (parent, _) = located(&index, &offsets, &parent_ptr)?;
    // A container written on one line stays on one line, whatever the rest of the file does.
    let pretty = text[parent.clone()].contains('\n');
    let unit = indent_unit(text);
    let spaced = text.contains("\": ");
    match &plan.action {
        Action::Replace(v) => {
            let (at, _) = located(&index, &offsets, &plan.pointer())?;
            let base = indent_of(text, at.start);
            Ok(splice(
                text,
                at,
                &render(v, pretty.then_some((base, &unit)), spaced),
            ))
        }
        Action::Insert(v) => {
            let kids = children(
                &index,
                &offsets,
                &parent_ptr,
                parent_value(old, &parent_ptr),
            )?;
            let member = |colon: &str, base: &str| {
                let value = render(v, pretty.then_some((base, &unit)), spaced);
                if plan.in_array {
                    value
                } else {
                    format!("{}{colon}{value}", quote(&plan.last))
                }
            };
            let Some(last) = kids.last() else {
                // An empty container: write it anew around the one member.
                let base = indent_of(text, parent.start);
                let (open, close) = if plan.in_array {
                    ("[", "]")
                } else {
                    ("{", "}")
                };
                let with = if pretty {
                    let inner = format!("{base}{unit}");
                    format!("{open}\n{inner}{}\n{base}{close}", member(": ", &inner))
                } else {
                    let colon = if spaced { ": " } else { ":" };
                    format!("{open}{}{close}", member(colon, ""))
                };
                return Ok(splice(text, parent, &with));
            };
            // Copy the separator before the last member (`,\n    `), or make one from the
            // space after the opening bracket.
            let sep = match kids.len() {
                1 => match &text[parent.start + 1..last.start()] {
                    // `{"a": 1}`: nothing to copy; a comma and a space as the colons have.
                    "" if spaced => ", ".to_owned(),
                    between => format!(",{between}"),
                },
                n => text[kids[n - 2].value.end..last.start()].to_owned(),
            };
            let colon = last
                .key
                .as_ref()
                .map_or(": ", |k| &text[k.end..last.value.start]);
            let base = indent_of(text, last.start());
            let with = format!("{sep}{}", member(colon, base));
            Ok(splice(text, last.value.end..last.value.end, &with))
        }
        Action::Remove => {
            let kids = children(
                &index,
                &offsets,
                &parent_ptr,
                parent_value(old, &parent_ptr),
            )?;
            let (at, key) = located(&index, &offsets, &plan.pointer())?;
            let start = key.map_or(at.start, |k| k.start);
            let i = kids
                .iter()
                .position(|c| c.start() == start)
                .ok_or_else(|| EditError::Unsupported("the member was not found".into()))?;
            let range = if kids.len() == 1 {
                let empty = if plan.in_array { "[]" } else { "{}" };
                return Ok(splice(text, parent, empty));
            } else if i + 1 < kids.len() {
                start..kids[i + 1].start()
            } else {
                kids[i - 1].value.end..at.end
            };
            Ok(splice(text, range, ""))
        }
    }
}

/// A JSON string literal.
pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// `v` as JSON: on one line without `indent` (spaced like the file); with it (the base
/// indentation of the line and one step), objects and arrays of containers on several lines,
/// arrays of scalars on one.
fn render(v: &Value, indent: Option<(&str, &str)>, spaced: bool) -> String {
    match indent {
        Some((base, unit)) => render_indented(v, base, unit),
        None => compact(v, spaced),
    }
}

/// `v` on one line, with a space after each `:` and `,` when `spaced` (as in `{"a": 1}`).
fn compact(v: &Value, spaced: bool) -> String {
    if !spaced {
        return v.to_string();
    }
    match v {
        Value::Object(m) => {
            let members: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{}: {}", quote(k), compact(x, true)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| compact(x, true)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn render_indented(v: &Value, base: &str, unit: &str) -> String {
    let inner = format!("{base}{unit}");
    match v {
        Value::Object(m) if !m.is_empty() => {
            let members: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{inner}{}: {}", quote(k), render_indented(v, &inner, unit)))
                .collect();
            format!("{{\n{}\n{base}}}", members.join(",\n"))
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            let items: Vec<String> = a
                .iter()
                .map(|v| format!("{inner}{}", render_indented(v, &inner, unit)))
                .collect();
            format!("[\n{}\n{base}]", items.join(",\n"))
        }
        Value::Array(_) => compact(v, true),
        other => other.to_string(),
    }
}

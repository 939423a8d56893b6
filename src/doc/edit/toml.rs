//! TOML: edit through `toml_edit::DocumentMut`, which keeps the comments, whitespace and order
//! of everything it is not asked to change. A replaced value keeps the decoration (spacing and
//! trailing comment) of the old one; new values are inline (`key = { a = 1 }`), added where
//! toml_edit puts a new member of their table.

use std::str::FromStr;

use serde_json::Value as Json;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{Action, EditError, Plan};

pub(super) fn apply(text: &str, plan: &Plan) -> Result<String, EditError> {
    let mut doc = DocumentMut::from_str(text)
        .map_err(|e| EditError::Unsupported(format!("toml_edit cannot read the file: {e}")))?;
    if doc.as_table().is_empty() {
        // Only comments (a `#:schema` line, say): they stay first, the new key goes after.
        let mut fresh = DocumentMut::new();
        act(Node::Table(fresh.as_table_mut()), plan)?;
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&fresh.to_string());
        return Ok(out);
    }
    let mut node = Node::Table(doc.as_table_mut());
    for token in &plan.parent {
        node = child(node, token).ok_or_else(|| {
            EditError::Unsupported(format!(
                "`{}` was not found by toml_edit; edit it by hand",
                plan.parent_pointer()
            ))
        })?;
    }
    act(node, plan)?;
    Ok(keep_head(text, doc.to_string()))
}

/// The comments heading the file stay at its head. toml_edit keeps them with the first table
/// header, so a key added to an otherwise empty root table would come before them — and a
/// `#:schema` line must head the file to count.
fn keep_head(text: &str, out: String) -> String {
    let head_len: usize = text
        .split_inclusive('\n')
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .map(str::len)
        .sum();
    let head = &text[..head_len];
    if head.trim().is_empty() || out.starts_with(head) {
        return out;
    }
    match out.find(head) {
        Some(at) => format!("{head}{}{}", &out[..at], &out[at + head.len()..]),
        None => out,
    }
}

/// A place in the document: an item of a table, a value inside an inline table or array, or a
/// table of an array of tables (or the root).
enum Node<'a> {
    Item(&'a mut Item),
    Value(&'a mut Value),
    Table(&'a mut Table),
}

fn index(token: &str) -> Option<usize> {
    token.parse().ok()
}

fn child<'a>(node: Node<'a>, token: &str) -> Option<Node<'a>> {
    match node {
        Node::Table(t) | Node::Item(Item::Table(t)) => t.get_mut(token).map(Node::Item),
        Node::Item(Item::ArrayOfTables(a)) => a.get_mut(index(token)?).map(Node::Table),
        Node::Item(Item::Value(v)) | Node::Value(v) => match v {
            Value::InlineTable(t) => t.get_mut(token).map(Node::Value),
            Value::Array(a) => a.get_mut(index(token)?).map(Node::Value),
            _ => None,
        },
        Node::Item(Item::None) => None,
    }
}

fn act(node: Node<'_>, plan: &Plan) -> Result<(), EditError> {
    let key = plan.last.as_str();
    match node {
        Node::Table(t) | Node::Item(Item::Table(t)) => table(t, key, plan),
        Node::Item(item @ Item::ArrayOfTables(_)) => {
            let Item::ArrayOfTables(a) = item else {
                unreachable!("matched above")
            };
            tables(a, key, plan)?;
            if a.is_empty() {
                // No `[[header]]` is left to say the array is there: write `key = []`.
                *item = Item::Value(Value::Array(Array::new()));
            }
            Ok(())
        }
        Node::Item(Item::Value(v)) | Node::Value(v) => match v {
            Value::InlineTable(t) => inline(t, key, plan),
            Value::Array(a) => array(a, key, plan),
            _ => Err(EditError::Unsupported("not a table or array".into())),
        },
        Node::Item(Item::None) => Err(EditError::Unsupported("not a table or array".into())),
    }
}

fn table(t: &mut Table, key: &str, plan: &Plan) -> Result<(), EditError> {
    match &plan.action {
        Action::Replace(v) => {
            let item = t.get_mut(key).ok_or_else(|| missing(plan))?;
            if item.is_value() || (item.is_table() && v.is_object()) {
                *item = replacement(item, v, plan)?;
            } else {
                // A `[table]` or `[[array]]` that becomes a value: a `key = value` line,
                // not the header's decoration around a value.
                t.remove(key);
                t.insert(key, Item::Value(to_toml(v, plan)?));
            }
        }
        Action::Insert(v) => {
            t.insert(key, Item::Value(to_toml(v, plan)?));
        }
        Action::Remove => {
            t.remove(key);
            if t.is_empty() {
                // An empty table still has to be written, as a `[header]` of its own.
                t.set_implicit(false);
                t.set_dotted(false);
            }
        }
    }
    Ok(())
}

fn inline(t: &mut InlineTable, key: &str, plan: &Plan) -> Result<(), EditError> {
    match &plan.action {
        Action::Replace(v) => {
            let old = t.get_mut(key).ok_or_else(|| missing(plan))?;
            *old = keep_decor(old, to_toml(v, plan)?);
        }
        Action::Insert(v) => {
            t.insert(key, to_toml(v, plan)?);
        }
        Action::Remove => {
            let last = t.iter().last().is_some_and(|(k, _)| k == key);
            let removed = t.remove(key);
            // The space before `}` was the removed value's; the new last value takes it.
            if let (true, Some(removed), Some((_, v))) = (last, removed, t.iter_mut().last())
                && let Some(suffix) = removed.decor().suffix().cloned()
            {
                v.decor_mut().set_suffix(suffix);
            }
            if t.is_empty() {
                // `a = { x.y = 1 }` without `y`: `x` is still there, as `x = {}`.
                t.set_dotted(false);
            }
        }
    }
    Ok(())
}

fn array(a: &mut Array, key: &str, plan: &Plan) -> Result<(), EditError> {
    let i = index(key).ok_or_else(|| missing(plan))?;
    match &plan.action {
        Action::Replace(v) => {
            let old = a.get_mut(i).ok_or_else(|| missing(plan))?;
            *old = keep_decor(old, to_toml(v, plan)?);
        }
        Action::Insert(v) => a.push(to_toml(v, plan)?),
        Action::Remove => {
            let removed = a.remove(i);
            // In a multi-line array, the removed element's prefix holds the end of the line
            // before it (`[ # comment`); the next element keeps that, and its own lines.
            if let Some(next) = a.get_mut(i) {
                let (before, after) = (prefix(&removed), prefix(next));
                let head = before.find('\n').map_or(before.as_str(), |n| &before[..=n]);
                let tail = after.find('\n').map_or("", |n| &after[n + 1..]);
                let joined = format!("{head}{tail}");
                next.decor_mut().set_prefix(joined);
            }
        }
    }
    Ok(())
}

fn tables(a: &mut ArrayOfTables, key: &str, plan: &Plan) -> Result<(), EditError> {
    let i = index(key).ok_or_else(|| missing(plan))?;
    let only_tables = || {
        EditError::Unsupported(format!(
            "`{}` is in an array of tables (`[[...]]`), which holds only tables",
            plan.pointer()
        ))
    };
    match &plan.action {
        Action::Replace(v) => {
            let old = a.get_mut(i).ok_or_else(|| missing(plan))?;
            let Json::Object(members) = v else {
                return Err(only_tables());
            };
            let mut new = to_table(members, plan)?;
            new.set_position(old.position());
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        Action::Insert(v) => {
            let Json::Object(members) = v else {
                return Err(only_tables());
            };
            a.push(to_table(members, plan)?);
        }
        Action::Remove => {
            a.remove(i);
        }
    }
    Ok(())
}

/// The item that replaces `old`: a `[table]` stays a table when the new value is an object.
fn replacement(old: &Item, v: &Json, plan: &Plan) -> Result<Item, EditError> {
    Ok(match (old, v) {
        (Item::Value(ov), _) => Item::Value(keep_decor(ov, to_toml(v, plan)?)),
        (Item::Table(ot), Json::Object(members)) => {
            let mut new = to_table(members, plan)?;
            new.set_position(ot.position());
            *new.decor_mut() = ot.decor().clone();
            Item::Table(new)
        }
        _ => Item::Value(to_toml(v, plan)?),
    })
}

fn prefix(v: &Value) -> String {
    v.decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn keep_decor(old: &Value, mut new: Value) -> Value {
    *new.decor_mut() = old.decor().clone();
    new
}

fn to_table(members: &serde_json::Map<String, Json>, plan: &Plan) -> Result<Table, EditError> {
    let mut t = Table::new();
    for (k, v) in members {
        t.insert(k, Item::Value(to_toml(v, plan)?));
    }
    Ok(t)
}

/// A JSON value as an inline TOML value. TOML has no null and no integer past `i64`.
fn to_toml(v: &Json, plan: &Plan) -> Result<Value, EditError> {
    let refuse =
        |why: &str| EditError::Unsupported(format!("`{}` cannot be set: {why}", plan.pointer()));
    Ok(match v {
        Json::Null => return Err(refuse("TOML has no null (use `unset` to remove a key)")),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) if n.is_f64() => Value::from(f),
            _ => return Err(refuse("TOML integers are at most 64-bit signed")),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| to_toml(x, plan))
                .collect::<Result<Array, _>>()?,
        ),
        Json::Object(members) => {
            let mut t = InlineTable::new();
            for (k, x) in members {
                t.insert(k, to_toml(x, plan)?);
            }
            Value::InlineTable(t)
        }
    })
}

fn missing(plan: &Plan) -> EditError {
    EditError::Unsupported(format!(
        "`{}` was not found by toml_edit; edit it by hand",
        plan.pointer()
    ))
}

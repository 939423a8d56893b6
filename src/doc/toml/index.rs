//! Where every key and value of a TOML document is, by JSON pointer; and both places of a
//! duplicate key, which toml_edit's error names only the second of.

use std::collections::HashMap;
use std::ops::Range;

use toml_edit::{Document, Item, TableLike, TomlError};

use super::{DEPTH_CAP, drop_flat, span};
use crate::diagnostic::Code;
use crate::doc::span::{LineIndex, Located, SpanIndex, escape_pointer_token};
use crate::doc::{Problem, Span};

/// The span of every value (and member key), by JSON pointer. The root is the whole text; a
/// table is its header (`[a.b]`, `[[servers]]`) or, when no header names it, the key that made
/// it (`a` in `[a.b]` or in `a.b = 1`); an array of tables is its first header.
pub(super) fn index(text: &str) -> SpanIndex {
    let mut index = SpanIndex::default();
    let Ok(doc) = Document::parse(text) else {
        return index;
    };
    let lines = LineIndex::new(text);
    let to_span = |at: Range<usize>| lines.span(at.start, at.end);
    index.insert(
        String::new(),
        Located {
            value: to_span(0..text.len()),
            key: None,
        },
    );
    walk_members(
        doc.as_table(),
        &mut String::new(),
        1,
        &mut |pointer, value, key| {
            index.insert(
                pointer.to_owned(),
                Located {
                    value: to_span(value),
                    key: key.map(to_span),
                },
            );
        },
    );
    drop_flat(doc);
    index
}

/// What [`walk_members`] reports: a pointer, its value's byte range, its key's byte range.
type Visit<'v> = dyn FnMut(&str, Range<usize>, Option<Range<usize>>) + 'v;

fn walk_members(table: &dyn TableLike, pointer: &mut String, depth: usize, visit: &mut Visit) {
    if depth > DEPTH_CAP {
        return;
    }
    for (name, item) in table.iter() {
        let key = table.key(name).and_then(|k| k.span());
        let base = pointer.len();
        pointer.push('/');
        pointer.push_str(&escape_pointer_token(name));
        walk_item(item, key, pointer, depth + 1, visit);
        pointer.truncate(base);
    }
}

fn walk_item(
    item: &Item,
    key: Option<Range<usize>>,
    pointer: &mut String,
    depth: usize,
    visit: &mut Visit,
) {
    match item {
        Item::None => {}
        Item::Value(value) => walk_value(value, key, pointer, depth, visit),
        Item::Table(table) => {
            if let Some(at) = table.span().or_else(|| key.clone()) {
                visit(pointer, at, key);
            }
            walk_members(table, pointer, depth, visit);
        }
        Item::ArrayOfTables(tables) => {
            let first = tables.iter().next().and_then(|t| t.span());
            if let Some(at) = first.or_else(|| key.clone()) {
                visit(pointer, at, key);
            }
            for (i, table) in tables.iter().enumerate() {
                let base = pointer.len();
                pointer.push_str(&format!("/{i}"));
                if let Some(at) = table.span() {
                    visit(pointer, at, None);
                }
                walk_members(table, pointer, depth + 1, visit);
                pointer.truncate(base);
            }
        }
    }
}

fn walk_value(
    value: &toml_edit::Value,
    key: Option<Range<usize>>,
    pointer: &mut String,
    depth: usize,
    visit: &mut Visit,
) {
    if let Some(at) = value.span().or_else(|| key.clone()) {
        visit(pointer, at, key);
    }
    match value {
        toml_edit::Value::Array(array) if depth <= DEPTH_CAP => {
            for (i, item) in array.iter().enumerate() {
                let base = pointer.len();
                pointer.push_str(&format!("/{i}"));
                walk_value(item, None, pointer, depth + 1, visit);
                pointer.truncate(base);
            }
        }
        toml_edit::Value::InlineTable(table) => walk_members(table, pointer, depth, visit),
        _ => {}
    }
}

/// A duplicate-key problem for toml_edit's `error`, which points at the second key only.
///
/// To find the first, the second key is renamed to a name the text does not use and the text
/// parsed again (repeatedly, if later keys repeat too): the renamed key shows which table it
/// belongs to, and that table's member of the original name is the first definition. Nothing
/// before the second key moves, so the first key's span holds for the original text.
pub(super) fn duplicate(text: &str, error: &TomlError) -> Problem {
    let second = error.span().unwrap_or(0..0);
    let raw = text.get(second.clone()).unwrap_or_default();
    let name = raw
        .parse::<toml_edit::Key>()
        .map_or_else(|_| raw.to_owned(), |k| k.get().to_owned());
    let extends = error
        .message()
        .strip_prefix("cannot extend value of type ")
        .and_then(|rest| rest.strip_suffix(" with a dotted key"))
        .map(str::to_owned);
    let first = first_definition(text, second.clone(), &name);
    let shown = first.as_ref().map_or_else(
        || dotted(std::iter::once(name.as_str())),
        |f| f.path.clone(),
    );
    let message = match extends {
        Some(kind) => {
            format!("duplicate key `{shown}`: the {kind} defined first cannot be extended")
        }
        None => format!("duplicate key `{shown}`"),
    };
    let mut problem = Problem::new(Code::DuplicateKey, message, Some(span(text, second)));
    if let Some(first) = first {
        problem.related = Some((first.key, "first defined here".to_owned()));
    }
    problem
}

/// toml_edit's errors for a key defined twice.
pub(super) fn is_duplicate(error: &TomlError) -> bool {
    let message = error.message();
    message == "duplicate key" || message.starts_with("cannot extend value of type")
}

/// The first definition of a duplicated key: its span and its dotted path from the root.
struct First {
    key: Span,
    path: String,
}

fn first_definition(text: &str, second: Range<usize>, name: &str) -> Option<First> {
    let mut base = String::from("cargo-atomic-renamed");
    while text.contains(&base) {
        base.push('-');
    }
    let unique = format!("{base}-0");
    let mut renamed = text.to_owned();
    let mut at = second;
    let mut renames = 0;
    // The pointer of the renamed key's table, and the key range of every member.
    let (parent, keys) = loop {
        renamed.replace_range(at.clone(), &format!("{base}-{renames}"));
        renames += 1;
        match Document::parse(renamed.as_str()) {
            Ok(doc) => {
                let mut parent = None;
                let mut keys = HashMap::new();
                walk_members(
                    doc.as_table(),
                    &mut String::new(),
                    1,
                    &mut |pointer, _, key| {
                        if let Some((head, last)) = pointer.rsplit_once('/')
                            && last == unique
                            && parent.is_none()
                        {
                            parent = Some(head.to_owned());
                        }
                        if let Some(key) = key {
                            keys.insert(pointer.to_owned(), key);
                        }
                    },
                );
                drop_flat(doc);
                break (parent?, keys);
            }
            // A later duplicate: rename it too (each rename keeps the earlier text in place).
            Err(e)
                if is_duplicate(&e)
                    && renames < 64
                    && e.span().is_some_and(|s| s.start > at.start) =>
            {
                at = e.span()?;
            }
            Err(_) => return None,
        }
    };
    let pointer = format!("{parent}/{}", escape_pointer_token(name));
    let key = keys.get(&pointer)?.clone();
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let path = dotted(parts.iter().map(String::as_str));
    Some(First {
        key: span(text, key),
        path,
    })
}

/// A key path as TOML writes it: `a.b."c d"`.
fn dotted<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, part) in parts.enumerate() {
        if i > 0 {
            out.push('.');
        }
        let bare = !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if bare {
            out.push_str(part);
        } else {
            out.push_str(&toml_edit::Value::from(part).to_string());
        }
    }
    out
}

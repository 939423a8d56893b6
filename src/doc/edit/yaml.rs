//! YAML: splice the byte range of the edited entry. New values are written in block style
//! where they go into block collections (flow style inside flow collections), with the
//! indentation the neighbours use.
//!
//! Refused, because a splice could not be exact: a value that is an alias or comes from a merge
//! key, a change inside (or containing) an anchored node when the text has aliases, adding or
//! removing entries of a mapping with a merge key, and a text of several documents.

use std::ops::Range;

use serde_json::Value;

use super::json::quote;
use super::text::{
    Child, children, indent_unit, line_end, line_start, located, parent_value, splice,
};
use super::{Action, EditError, Plan};
use crate::doc::span::LineIndex;
use crate::doc::{self, Format, Limits};

pub(super) fn apply(text: &str, old: &Value, plan: &Plan) -> Result<String, EditError> {
    let index = doc::index(Format::Yaml, text)
        .into_iter()
        .next()
        .unwrap_or_default();
    let offsets = LineIndex::new(text);
    let parent_ptr = plan.parent_pointer();
    let (parent, parent_key) = located(&index, &offsets, &parent_ptr)?;
    let kids = children(
        &index,
        &offsets,
        &parent_ptr,
        parent_value(old, &parent_ptr),
    )?;
    let flow = is_flow(text, parent.start, kids.first());
    let w = indent_unit(text).len().max(1);
    let target = match plan.action {
        Action::Insert(_) => None,
        _ => Some(located(&index, &offsets, &plan.pointer())?),
    };
    check_anchors(
        text,
        &plan.pointer(),
        target.as_ref().map_or(&parent, |t| &t.0),
    )?;
    if !matches!(plan.action, Action::Replace(_)) && has_merge_key(text, &kids) {
        return Err(EditError::Unsupported(format!(
            "the mapping at `{parent_ptr}` has a merge key (`<<`), whose entries come from \
             elsewhere; edit it by hand"
        )));
    }
    let pointer = plan.pointer();
    let last_key = &plan.last;
    match (&plan.action, target) {
        (Action::Replace(v), Some((mut at, key))) => {
            // A core tag (`!!int 1`) says what the old value was; the new one is what it is.
            // Other tags (`!Ref`) are the application's, and stay.
            at.start = core_tag_before(text, at.start, key.as_ref().map_or(0, |k| k.end));
            let old_block = match old.pointer(&pointer) {
                Some(x @ (Value::Object(_) | Value::Array(_))) => {
                    let first = children(&index, &offsets, &pointer, x)?;
                    !first.is_empty() && !is_flow(text, at.start, first.first())
                }
                _ => false,
            };
            Ok(replace(text, old_block, at, key, v, w, flow))
        }
        (Action::Insert(v), _) => {
            let Some(last) = kids.last() else {
                let with = if plan.in_array {
                    format!("[{}]", inline(v))
                } else {
                    format!("{{{}: {}}}", key(last_key), inline(v))
                };
                return Ok(splice(text, parent, &with));
            };
            if flow {
                let sep = match kids.len() {
                    1 => ", ",
                    n => &text[kids[n - 2].value.end..last.start()],
                };
                let member = if plan.in_array {
                    inline(v)
                } else {
                    format!("{}: {}", key(last_key), inline(v))
                };
                let at = last.value.end;
                return Ok(splice(text, at..at, &format!("{sep}{member}")));
            }
            let at = end_of_entry_line(text, last.value.end)?;
            let with = if plan.in_array {
                let col = column(text, dash_before(text, last.value.start)?);
                format!("\n{}-{}", pad(col), after_dash(v, col, w))
            } else {
                let col = column(text, parent.start);
                format!("\n{}{}:{}", pad(col), key(last_key), after_key(v, col, w))
            };
            Ok(splice(text, at..at, &with))
        }
        (Action::Remove, Some((at, key))) => {
            let start = key.as_ref().map_or(at.start, |k| k.start);
            let i = kids
                .iter()
                .position(|c| c.start() == start)
                .ok_or_else(|| {
                    EditError::Unsupported(format!("`{pointer}` was not found among its siblings"))
                })?;
            let empty = if plan.in_array {
                Value::Array(Vec::new())
            } else {
                Value::Object(serde_json::Map::new())
            };
            if kids.len() == 1 && flow {
                return Ok(splice(text, parent, &inline(&empty)));
            }
            if kids.len() == 1 {
                // A block collection cannot be empty: it becomes `[]` or `{}` after its key.
                let Some(key) = parent_key else {
                    let from = if plan.in_array && !text[parent.start..].starts_with('-') {
                        dash_before(text, parent.start)?
                    } else {
                        parent.start
                    };
                    return Ok(splice(text, from..parent.end, &inline(&empty)));
                };
                return Ok(replace(text, true, parent, Some(key), &empty, w, false));
            }
            if flow {
                let range = if i + 1 < kids.len() {
                    start..kids[i + 1].start()
                } else {
                    kids[i - 1].value.end..at.end
                };
                return Ok(splice(text, range, ""));
            }
            // A block entry: remove its whole lines, unless something else starts its first
            // line (`- key: ...`), where it is cut up to the next entry.
            let first = if plan.in_array {
                dash_before(text, at.start)?
            } else {
                start
            };
            let ls = line_start(text, first);
            if text[ls..first].trim().is_empty() {
                let end = end_of_entry_line(text, at.end)?;
                let range = if end < text.len() {
                    ls..end + 1
                } else {
                    ls.saturating_sub(1)..end
                };
                Ok(splice(text, range, ""))
            } else if i + 1 < kids.len() {
                Ok(splice(text, start..kids[i + 1].start(), ""))
            } else {
                Err(EditError::Unsupported(format!(
                    "`{pointer}` shares its line with the entry before it; edit it by hand"
                )))
            }
        }
        _ => unreachable!("replace and remove have a target"),
    }
}

/// `v` (a non-empty object) as the block mapping of a whole document.
pub(super) fn document(v: &Value) -> String {
    block(v, 0, 2)
}

/// Replaces the value at `at` (with its key at `key`); `old_block`: it is a block collection.
fn replace(
    text: &str,
    old_block: bool,
    at: Range<usize>,
    key: Option<Range<usize>>,
    v: &Value,
    w: usize,
    in_flow: bool,
) -> String {
    let big = is_big(v);
    // A scalar keeps the style the old one was written in, where it reads back the same.
    let one_line = styled(&text[at.clone()], v, in_flow);
    let Some(key) = key else {
        // A sequence item (or the root): the first line follows the `- `.
        return if big && old_block {
            splice(text, at.clone(), &block(v, column(text, at.start), w))
        } else {
            splice(text, at, &one_line)
        };
    };
    let mut at = at;
    let empty = at.is_empty();
    if empty {
        // An empty value (`key:` and nothing) is placed at its key; it is written after the
        // colon, before any comment on that line.
        let colon = text[key.end..].find(':').map(|i| key.end + i + 1);
        let end = colon.map_or(at.end, |c| line_end(text, c));
        at = end..end;
    }
    let after = &text[key.end..at.start];
    let colon = after.find(':').map(|i| key.end + i + 1);
    let (Some(colon), true) = (colon, old_block || big || empty) else {
        return splice(text, at, &one_line);
    };
    // A comment on the key's line stays there; the new value starts on the next line.
    let key_line_end = line_end(text, colon).min(at.start);
    let comment = text[colon..key_line_end].contains('#');
    let from = if comment { key_line_end } else { colon };
    let col = column(text, key.start) + w;
    let with = if big {
        format!("\n{}{}", pad(col), block(v, col, w))
    } else if comment {
        format!("\n{}{}", pad(col), one_line)
    } else {
        format!(" {}", one_line)
    };
    splice(text, from..at.end, &with)
}

/// Where a `!!tag` right before the node at `start` (and after `floor`) begins, else `start`.
fn core_tag_before(text: &str, start: usize, floor: usize) -> usize {
    let before = text[floor.min(start)..start].trim_end_matches([' ', '\t']);
    let word = before
        .rfind([' ', '\t', '\n', ':', '-', ',', '[', '{'])
        .map_or(0, |i| i + 1);
    if before[word..].starts_with("!!") && before.len() > word {
        floor.min(start) + word
    } else {
        start
    }
}

/// Refuses to change a value that aliases repeat, or an alias.
fn check_anchors(text: &str, pointer: &str, range: &Range<usize>) -> Result<(), EditError> {
    if text[range.start..].starts_with('*') {
        return Err(EditError::Unsupported(format!(
            "`{pointer}` is an alias (`{}`); edit the anchored value it repeats, or the text by hand",
            text[range.clone()].trim()
        )));
    }
    for a in doc::yaml::anchored(text) {
        if a.start < range.end.max(range.start + 1) && range.start < a.end {
            let line = text[..a.start].matches('\n').count() + 1;
            return Err(EditError::Unsupported(format!(
                "`{pointer}` is in or holds an anchored value (line {line}) that aliases repeat \
                 elsewhere; an edit there would change them too, so edit it by hand"
            )));
        }
    }
    Ok(())
}

/// A collection that starts at `start` is in flow style: at a bracket, before its first entry.
/// (A block collection starts at its first entry, or at the `-` of its first item.)
fn is_flow(text: &str, start: usize, first: Option<&Child>) -> bool {
    text[start..].starts_with(['{', '[']) && first.is_none_or(|c| c.start() != start)
}

fn has_merge_key(text: &str, kids: &[Child]) -> bool {
    kids.iter()
        .any(|c| c.key.as_ref().is_some_and(|k| &text[k.clone()] == "<<"))
}

/// The end of the line where an entry ends, if only blanks or a comment follow it there.
fn end_of_entry_line(text: &str, at: usize) -> Result<usize, EditError> {
    let end = line_end(text, at);
    let rest = text[at..end].trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(end)
    } else {
        Err(EditError::Unsupported(
            "the entry shares its line with more text; edit it by hand".into(),
        ))
    }
}

/// The `-` of the sequence item whose value starts at `at`.
fn dash_before(text: &str, at: usize) -> Result<usize, EditError> {
    let mut before = text[..at].trim_end_matches([' ', '\t']);
    // Past the node's own tag and anchor (`- !!int &a 1`).
    while let Some(word) = before.rfind([' ', '\t', '\n']).map(|i| &before[i + 1..])
        && word.starts_with(['!', '&'])
    {
        before = before[..before.len() - word.len()].trim_end_matches([' ', '\t']);
    }
    if before.ends_with('-') {
        Ok(before.len() - 1)
    } else {
        Err(EditError::Unsupported(
            "a sequence item without its own `-` line; edit it by hand".into(),
        ))
    }
}

/// The column (0-based, in characters) of byte `at`.
fn column(text: &str, at: usize) -> usize {
    text[line_start(text, at)..at].chars().count()
}

fn pad(col: usize) -> String {
    " ".repeat(col)
}

/// A non-empty object or array: written in block style where the place allows.
fn is_big(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// What follows `key:` — a space and an inline value, or the block lines of a container.
fn after_key(v: &Value, col: usize, w: usize) -> String {
    if is_big(v) {
        format!("\n{}{}", pad(col + w), block(v, col + w, w))
    } else {
        format!(" {}", inline(v))
    }
}

/// What follows `-`.
fn after_dash(v: &Value, col: usize, w: usize) -> String {
    if is_big(v) {
        format!(" {}", block(v, col + 2, w))
    } else {
        format!(" {}", inline(v))
    }
}

/// A non-empty container in block style at column `col`; the first line has no indentation
/// (it follows what is already on its line).
fn block(v: &Value, col: usize, w: usize) -> String {
    let lines: Vec<String> = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| format!("{}:{}", key(k), after_key(x, col, w)))
            .collect(),
        Value::Array(a) => a
            .iter()
            .map(|x| format!("-{}", after_dash(x, col, w)))
            .collect(),
        other => vec![inline(other)],
    };
    lines.join(&format!("\n{}", pad(col)))
}

/// `v` on one line: a plain or double-quoted scalar, or a flow collection.
fn inline(v: &Value) -> String {
    match v {
        Value::String(s) => key(s),
        Value::Object(m) => {
            let members: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{}: {}", key(k), inline(x)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A string as a plain scalar when every YAML reader (1.1 or 1.2) reads it back as that string,
/// else double-quoted (JSON's string syntax is YAML's double-quoted style).
fn key(s: &str) -> String {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./@+ ".contains(c))
        && !s.ends_with(' ')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
        && matches!(
            doc::parse(Format::Yaml, s.as_bytes(), &Limits::default()).as_deref(),
            Ok([Value::String(back)]) if back == s
        );
    if plain { s.to_owned() } else { quote(s) }
}

/// `v` on one line in the style of `old`, the scalar it replaces: a string after a plain scalar
/// stays plain when YAML 1.2 and 1.1 readers both read it back as that string (`nginx:1.28`,
/// `127.0.0.1`), after a single-quoted one stays single-quoted, after a double-quoted one stays
/// double-quoted; anything else as [`inline`] writes it.
fn styled(old: &str, v: &Value, in_flow: bool) -> String {
    let Value::String(s) = v else {
        return inline(v);
    };
    match old.chars().next() {
        Some('\'') if !s.contains(['\n', '\r']) && s.chars().all(|c| !c.is_control()) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        Some('"') => quote(s),
        // In a flow collection, `,`, `:` and brackets end a plain scalar: left to `inline`.
        Some(c) if !in_flow && !"|>!&*[{".contains(c) && plain_reads_back(s) => s.clone(),
        _ => inline(v),
    }
}

/// Whether `s`, written as a plain scalar in block or flow context, is read back as the string
/// `s` by a YAML 1.2 reader and by a YAML 1.1 one (no booleans, numbers, sexagesimals, dates).
fn plain_reads_back(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let safe_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./@+:=%^$~()?&,# ".contains(c));
    let dated =
        s.len() >= 8 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit) && s.as_bytes()[4] == b'-';
    safe_chars
        && (first.is_ascii_alphanumeric() || first == '_' || first == '/' || first == '.')
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !yaml11_number(s)
        && !dated
        && !WORDS.contains(&s.to_ascii_lowercase().trim_start_matches('.'))
        && matches!(
            doc::parse(Format::Yaml, s.as_bytes(), &Limits::default()).as_deref(),
            Ok([Value::String(back)]) if back == s
        )
}

/// Whether a YAML 1.1 reader (PyYAML, go-yaml v2) takes `s` for a number: an integer (decimal,
/// `0x`, `0o`, `0b`, `_` separators), a float with one dot or an exponent, or a sexagesimal
/// (`1:30`). Several dots (`127.0.0.1`) make a string there too.
fn yaml11_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits =
        |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c == '_' || c.is_digit(radix));
    if let Some(rest) = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0o"))
        .or_else(|| body.strip_prefix("0b"))
    {
        return digits(rest, 16);
    }
    if body.contains(':') {
        let (whole, _frac) = body.split_once('.').unwrap_or((body, ""));
        return whole.split(':').all(|p| digits(p, 10));
    }
    let mantissa = body.split_once(['e', 'E']).map_or(body, |(m, _)| m);
    mantissa.matches('.').count() <= 1
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa
            .chars()
            .all(|c| c == '_' || c == '.' || c.is_ascii_digit())
}

//! Placing findings: a diagnostic of a parse problem or a schema error, located at the place in
//! the source that holds the offending value (through the document's `SpanIndex`), with the
//! source lines it is rendered with. Used by `validate`, `write`, `set`/`unset`, the render
//! path and the loading of `atomic.toml`; it reads no file.

use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, Related, SourceLines};
use crate::doc::schema::SchemaError;
use crate::doc::{self, Located, Problem, Span, SpanIndex};

/// The diagnostic of a document that could not be read.
pub(crate) fn problem_diagnostic(file: &Path, text: &str, p: &Problem) -> Diagnostic {
    let mut d = Diagnostic::error(p.code, file, p.message.clone());
    d.document = p.document;
    if let Some(span) = p.span {
        at_span(&mut d, text, span);
    }
    if let Some((span, label)) = &p.related {
        d.related.push(Related {
            file: None,
            line: span.start.line,
            column: span.start.column,
            message: label.clone(),
        });
    }
    d
}

/// The diagnostic of one schema error, placed at the source of the offending value.
pub(crate) fn schema_diagnostic(
    file: &Path,
    text: &str,
    index: Option<&SpanIndex>,
    err: &SchemaError,
) -> Diagnostic {
    schema_diagnostic_at(file, text, index, err, &err.instance_pointer)
}

/// [`schema_diagnostic`], placed at `at`: where the offending value sits in `text`. That differs
/// from the instance pointer when the value came into a merged result from this source.
pub(crate) fn schema_diagnostic_at(
    file: &Path,
    text: &str,
    index: Option<&SpanIndex>,
    err: &SchemaError,
    at: &str,
) -> Diagnostic {
    let mut d = Diagnostic::error(Code::Schema, file, err.message.clone());
    d.pointer = Some(err.instance_pointer.clone());
    d.schema_path = Some(err.schema_path.clone());
    d.notes.clone_from(&err.notes);
    d.alternatives.clone_from(&err.alternatives);
    if let Some(index) = index {
        // Each form's errors at their places, as this source holds them.
        let shift = |pointer: &str| match pointer.strip_prefix(err.instance_pointer.as_str()) {
            Some(rest) if at != err.instance_pointer => format!("{at}{rest}"),
            _ => pointer.to_owned(),
        };
        for e in d.alternatives.iter_mut().flat_map(|a| a.errors.iter_mut()) {
            if let Some((_, l)) = index.nearest(&shift(&e.pointer)) {
                let span = focus(l, e.at_key);
                e.line = Some(span.start.line);
                e.column = Some(span.start.column);
            }
        }
        // An unexpected property is shown at its own key.
        let exact = err.property.as_ref().and_then(|p| {
            let ptr = format!("{at}/{}", doc::escape_pointer_token(p));
            index.get(&ptr).copied()
        });
        let nearest = index.nearest(at);
        let located = exact.or_else(|| nearest.map(|(_, l)| *l));
        if let Some(l) = located {
            at_span(
                &mut d,
                text,
                focus(&l, exact.is_some() || is_container(err)),
            );
        }
        // A value inside a YAML alias is reported at the alias; its anchor is the other place.
        if exact.is_none()
            && let Some(anchor) = nearest.and_then(|(p, _)| index.anchor_of(p))
        {
            d.related.push(Related {
                file: None,
                line: anchor.span.start.line,
                column: anchor.span.start.column,
                message: format!("the value comes from the anchor `&{}`", anchor.name),
            });
        }
    }
    d
}

/// Places `d` at the value `pointer` of `text` (or its nearest indexed ancestor).
pub(crate) fn place_at(d: &mut Diagnostic, text: &str, index: &SpanIndex, pointer: &str) {
    if let Some((_, l)) = index.nearest(pointer) {
        at_span(d, text, focus(l, false));
    }
}

/// Errors about a whole object or array point at its key (one line), not at its whole body.
fn is_container(err: &SchemaError) -> bool {
    matches!(
        err.keyword.as_str(),
        "required"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "minProperties"
            | "maxProperties"
            | "dependentRequired"
            | "propertyNames"
    )
}

fn focus(l: &Located, prefer_key: bool) -> Span {
    match l.key {
        Some(k) if prefer_key || l.value.end.line > l.value.start.line + 2 => k,
        _ => l.value,
    }
}

/// Sets the location of `d` to `span` and keeps the source lines for rendering.
///
/// Columns are counted from after a UTF-8 byte order mark (an editor does not show it), and the
/// mark is not kept in the source lines.
pub(crate) fn at_span(d: &mut Diagnostic, text: &str, span: Span) {
    let bom = text.starts_with('\u{feff}');
    let column = |p: doc::Pos| {
        if bom && p.line == 1 {
            p.column.saturating_sub(1).max(1)
        } else {
            p.column
        }
    };
    d.line = Some(span.start.line);
    d.column = Some(column(span.start));
    d.end_line = Some(span.end.line);
    d.end_column = Some(column(span.end));
    let first = span.start.line as usize;
    let last = (span.end.line as usize).clamp(first, first + 2);
    let lines: Vec<String> = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .skip(first - 1)
        .take(last - first + 1)
        .map(str::to_owned)
        .collect();
    if !lines.is_empty() {
        d.source = Some(SourceLines {
            first_line: span.start.line,
            lines,
        });
    }
}

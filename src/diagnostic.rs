//! Findings about user data: what is wrong, where, under a stable code.
//!
//! Findings are data, not errors: a command that finds invalid data still ran. Each diagnostic
//! has a stable [`Code`], a severity, a file relative to the workspace root and, where it has
//! one, a 1-based location, the JSON pointer of the value and the schema path that failed.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// The stable diagnostic codes of DESIGN.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The file does not parse.
    Parse,
    /// A key appears twice.
    DuplicateKey,
    /// The document does not satisfy its schema.
    Schema,
    /// An input is past a size, depth or alias limit.
    Limit,
    /// A generated output is out of date with its sources.
    Stale,
    /// A managed file was edited by hand.
    Drift,
    /// A file does not match its recorded SHA-256.
    Integrity,
    /// The audit log is damaged or tampered with.
    Audit,
    /// The configuration (or a schema it names) is wrong.
    Config,
    /// A file could not be read.
    Io,
}

impl Code {
    /// The code as printed: `integrity`, `duplicate-key`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Parse => "parse",
            Code::DuplicateKey => "duplicate-key",
            Code::Schema => "schema",
            Code::Limit => "limit",
            Code::Stale => "stale",
            Code::Drift => "drift",
            Code::Integrity => "integrity",
            Code::Audit => "audit",
            Code::Config => "config",
            Code::Io => "io",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the command (exit 1).
    Error,
    /// Reported only.
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The stable code.
    pub code: Code,
    /// The file, relative to the workspace root.
    pub file: PathBuf,
    /// The document of a multi-document YAML stream (0-based); `None` for single documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line, when the finding has a place in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Line just after the span.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    /// Column just after the span.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    /// JSON pointer of the offending value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// JSON pointer into the schema of the keyword that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_path: Option<String>,
    /// One line, lower-case, no trailing period.
    pub message: String,
    /// Further lines shown under the message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// A unified diff that shows the finding (a stale output: what it has, what it should have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Other places that matter: where a duplicate key was first defined, the other layers
    /// that set a merged value, the anchor of an aliased value, the `atomic.toml` line that
    /// named a schema.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// For a finding taken from the closest form of a failed `oneOf`/`anyOf`: every form, with
    /// its errors (shown under `-v`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
    /// The source lines of the span, for rendering; not part of the JSON output.
    #[serde(skip)]
    pub source: Option<SourceLines>,
}

/// Another location, with a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    /// The file, relative to the workspace root, when it is not the finding's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is there.
    pub message: String,
}

/// One form of a `oneOf`/`anyOf` that a value failed, with its errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Alternative {
    /// The form's position and name, e.g. ``form 1 (`normalJob`)``.
    pub form: String,
    /// Whether the finding was taken from this form.
    pub closest: bool,
    /// The form's errors.
    pub errors: Vec<AlternativeError>,
}

/// One error of an [`Alternative`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AlternativeError {
    /// JSON pointer of the place (the key, for an error about one key).
    pub pointer: String,
    /// Whether the place is the key at `pointer` rather than its value.
    #[serde(skip)]
    pub at_key: bool,
    /// 1-based line, when placed in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when placed in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// JSON pointer into the schema of the keyword that failed.
    pub schema_path: String,
    /// One line, lower-case.
    pub message: String,
}

/// The text of the lines a diagnostic points at, so a renderer can show and underline them
/// without reading the file again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLines {
    /// The number of the first line.
    pub first_line: u32,
    /// The lines, without their line breaks.
    pub lines: Vec<String>,
}

impl Diagnostic {
    /// An error about a whole file.
    pub fn error(code: Code, file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            document: None,
            line: None,
            column: None,
            end_line: None,
            end_column: None,
            pointer: None,
            schema_path: None,
            message: message.into(),
            diff: None,
            notes: Vec::new(),
            related: Vec::new(),
            alternatives: Vec::new(),
            source: None,
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Adds a unified diff.
    pub fn with_diff(mut self, diff: impl Into<String>) -> Self {
        self.diff = Some(diff.into());
        self
    }
}

/// The terminal styles of everything the tool prints, shared by the diagnostics here and the
/// CLI's other output.
pub mod style {
    /// Bold green.
    pub const GREEN: &str = "\x1b[1;32m";
    /// Bold red.
    pub const RED: &str = "\x1b[1;31m";
    /// Bold yellow.
    pub const YELLOW: &str = "\x1b[1;33m";
    /// Bold cyan.
    pub const CYAN: &str = "\x1b[1;36m";
    /// Bold.
    pub const BOLD: &str = "\x1b[1m";
    /// Back to plain.
    pub const RESET: &str = "\x1b[0m";

    /// `text` in `style` when `color`, else as it is.
    pub fn paint(color: bool, style: &str, text: &str) -> String {
        if color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

use style::{BOLD, CYAN, GREEN, RED, YELLOW, paint};

/// A unified diff, coloured like git's when `color`.
pub fn render_diff(diff: &str, color: bool) -> String {
    let mut s = String::with_capacity(diff.len());
    for line in diff.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            BOLD
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else if line.starts_with("@@") {
            CYAN
        } else {
            ""
        };
        if style.is_empty() {
            s.push_str(line);
        } else {
            s.push_str(&paint(color, style, line));
        }
        s.push('\n');
    }
    s
}

/// A source line wider than this is cut around the span, as rustc does.
const MAX_LINE: usize = 120;
/// Columns kept before the span (and after it) in a cut line.
const CONTEXT: usize = 40;

/// One source line as shown under a finding, with the span of 1-based character columns
/// `from..to` to underline: tabs expanded to four spaces, wide characters (CJK, emoji) two
/// columns, zero-width ones none, and a long line cut around the span with `...`. Returns the
/// text, where the underline starts and how wide it is, in display columns.
fn snippet(text: &str, from: usize, to: usize) -> (String, usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    // Display column where each character starts, and the line's width.
    let mut starts = Vec::with_capacity(chars.len() + 1);
    let mut width = 0;
    for &c in &chars {
        starts.push(width);
        width += if c == '\t' { 4 } else { char_width(c) };
    }
    starts.push(width);
    let at = |col: usize| starts[(col - 1).min(chars.len())];
    let (start, end) = (at(from), at(to).max(at(from) + 1));
    let shown = |range: std::ops::Range<usize>| -> String {
        chars[range]
            .iter()
            .map(|&c| {
                if c == '\t' {
                    "    ".to_owned()
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    if width <= MAX_LINE {
        return (shown(0..chars.len()), start, end - start);
    }
    // Cut: some context before the span, the span (at most MAX_LINE wide), context after.
    let end = end.min(start + MAX_LINE);
    let first = starts.partition_point(|&w| w + CONTEXT < start);
    let last = starts
        .partition_point(|&w| w < end + CONTEXT)
        .min(chars.len());
    let mut line = String::new();
    let mut offset = starts[first];
    if first > 0 {
        line.push_str("...");
        offset = offset.saturating_sub(3);
    }
    line.push_str(&shown(first..last));
    if last < chars.len() {
        line.push_str("...");
    }
    (line, start - offset, end - start)
}

/// Columns a character takes on a terminal: two for East Asian wide and fullwidth characters
/// and emoji, none for combining marks and joiners, else one.
fn char_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F680..=0x1F6FF
        | 0x1F900..=0x1FAFF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

impl Diagnostic {
    /// The finding as rustc shows one: a header, `--> file:line:col`, the source lines with the
    /// span underlined, then notes and a diff (ANSI colours when `color`).
    pub fn to_human(&self, color: bool) -> String {
        self.to_human_with(color, false)
    }

    /// [`Diagnostic::to_human`], with every form's errors of a failed `oneOf`/`anyOf` when
    /// `verbose`.
    pub fn to_human_with(&self, color: bool, verbose: bool) -> String {
        let d = self;
        let paint = |style: &str, text: &str| paint(color, style, text);
        let (word, style) = match d.severity {
            Severity::Error => ("error", RED),
            Severity::Warning => ("warning", YELLOW),
        };
        let at = &d.location();
        let mut s = format!(
            "{}{}\n",
            paint(style, &format!("{word}[{}]", d.code.as_str())),
            paint(BOLD, &format!(": {}", d.message)),
        );
        let width = d.source.as_ref().map_or(1, |src| {
            (src.first_line as usize + src.lines.len())
                .to_string()
                .len()
        });
        let pad = " ".repeat(width);
        let bar = paint(CYAN, "|");
        let _ = writeln!(s, "{pad}{} {at}", paint(CYAN, "-->"));
        if let (Some(src), Some(line), Some(col)) = (&d.source, d.line, d.column) {
            let _ = writeln!(s, "{pad} {bar}");
            for (i, text) in src.lines.iter().enumerate() {
                let n = src.first_line as usize + i;
                let len = text.chars().count();
                let from = if n == line as usize {
                    col as usize
                } else {
                    text.chars().take_while(|c| c.is_whitespace()).count() + 1
                };
                let to = match (d.end_line, d.end_column) {
                    (Some(el), Some(ec)) if el as usize == n => ec as usize,
                    _ => len + 1,
                }
                .max(from + 1);
                let (shown, at, marks) = snippet(text, from, to);
                let _ = writeln!(s, "{} {bar} {shown}", paint(CYAN, &format!("{n:>width$}")));
                let _ = writeln!(
                    s,
                    "{pad} {bar} {}{}",
                    " ".repeat(at),
                    paint(style, &"^".repeat(marks))
                );
            }
            let _ = writeln!(s, "{pad} {bar}");
        }
        for r in &d.related {
            let _ = writeln!(
                s,
                "{pad} {} {}: {}",
                paint(CYAN, "= note:"),
                r.message,
                d.related_location(r)
            );
        }
        if let Some(sp) = &d.schema_path {
            let _ = writeln!(s, "{pad} {} schema path {sp}", paint(CYAN, "= note:"));
        }
        for n in &d.notes {
            let _ = writeln!(s, "{pad} {} {n}", paint(CYAN, "= note:"));
        }
        if verbose {
            for a in &d.alternatives {
                let closest = if a.closest { " (closest)" } else { "" };
                let _ = writeln!(s, "{pad} {} {}{closest}:", paint(CYAN, "= note:"), a.form);
                for e in &a.errors {
                    let at = match (e.line, e.column) {
                        (Some(l), Some(c)) => format!("{}:{l}:{c}", d.file.display()),
                        _ => e.pointer.clone(),
                    };
                    let _ = writeln!(s, "{pad}         - {at}: {}", e.message);
                }
            }
        }
        if let Some(diff) = &d.diff {
            s.push('\n');
            s.push_str(&render_diff(diff, color));
        }
        s.push('\n');
        s
    }

    /// `file:line:col` of a related place (in this finding's file unless it names another).
    pub fn related_location(&self, r: &Related) -> String {
        let file = r.file.as_deref().unwrap_or(&self.file);
        format!("{}:{}:{}", file.display(), r.line, r.column)
    }

    /// `file[#doc][:line[:col]]`, as shown in a finding's header.
    pub fn location(&self) -> String {
        let d = self;
        let mut s = d.file.display().to_string();
        if let Some(n) = d.document.filter(|&n| n > 0 || d.line.is_none()) {
            let _ = write!(s, "#{n}");
        }
        if let Some(l) = d.line {
            let _ = write!(s, ":{l}");
            if let Some(c) = d.column {
                let _ = write!(s, ":{c}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn tabs_and_wide_characters_keep_the_underline_under_the_span() {
        assert_eq!(
            snippet("\tport: x", 8, 9),
            ("    port: x".to_owned(), 10, 1)
        );
        // `名前: x`: the value is the fifth character, at display column 6.
        assert_eq!(snippet("名前: x", 5, 6), ("名前: x".to_owned(), 6, 1));
        assert_eq!(snippet("🚀: 1", 4, 5).1, 4);
    }

    #[test]
    fn a_long_line_is_cut_around_the_span() {
        let line = format!("{}\"bad\"{}", "a".repeat(300_000), "b".repeat(300_000));
        let (shown, at, width) = snippet(&line, 300_001, 300_006);
        assert!(shown.len() < 200, "{}", shown.len());
        assert!(
            shown.starts_with("...") && shown.ends_with("..."),
            "{shown}"
        );
        assert_eq!(&shown[at..at + width], "\"bad\"");
    }
}

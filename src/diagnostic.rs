//! Findings about user data: what is wrong, where, under a stable code.
//!
//! Findings are data, not errors: a command that finds invalid data still ran. Each diagnostic
//! has a stable [`Code`], a severity, a file relative to the workspace root and, where it has
//! one, a 1-based location, the JSON pointer of the value and the schema path that failed.

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
    /// A second place that matters (where a duplicate key was first defined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    /// The source lines of the span, for rendering; not part of the JSON output.
    #[serde(skip)]
    pub source: Option<SourceLines>,
}

/// A second location, with a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is there.
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
            related: None,
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

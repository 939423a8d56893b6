//! Findings about user data: what is wrong, where, under a stable code.
//!
//! Findings are data, not errors: a command that finds invalid data still ran. Each diagnostic
//! has a stable [`Code`], a severity, a file relative to the workspace root and, where it has
//! one, a 1-based location.

use std::path::PathBuf;

use serde::Serialize;

/// The stable diagnostic codes of DESIGN.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// The configuration is wrong.
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
    /// 1-based line, when the finding has a place in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// One line, lower-case, no trailing period.
    pub message: String,
    /// Further lines shown under the message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error about a whole file.
    pub fn error(code: Code, file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

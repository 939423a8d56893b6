//! Documents: detect the format, parse JSON, YAML and TOML into one value model
//! (`serde_json::Value`, key order kept), and locate any JSON pointer in the source.
//!
//! Invariant: no I/O. Bytes come in; values, span indexes and [`Problem`]s go out. Parsing is
//! the fast path (every file); span indexes are built only for files that have findings.

pub mod edit;
mod json;
pub mod merge;
pub mod schema;
mod span;
pub mod tape;
mod toml;
mod yaml;

use std::path::Path;

use serde_json::Value;

pub use span::{Anchor, Located, Pos, Span, SpanIndex, escape_pointer_token};
pub use tape::Tape;

use crate::diagnostic::Code;

/// The formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2, possibly several documents.
    Yaml,
    /// TOML 1.0.
    Toml,
}

impl Format {
    /// By file extension: `.json`, `.yaml`/`.yml`, `.toml`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }

    /// `json`, `yaml` or `toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Toml => "toml",
        }
    }
}

/// How a file is read: its [`Format`], and for JSON whether comments and trailing commas are
/// allowed (JSONC, as `tsconfig.json`, `.eslintrc` and VS Code's settings have them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Syntax {
    /// The format the value is read in.
    pub format: Format,
    /// JSON with `//` and `/* */` comments and trailing commas (only with [`Format::Json`]).
    pub jsonc: bool,
}

impl Syntax {
    /// Plain `format`.
    pub fn plain(format: Format) -> Self {
        Syntax {
            format,
            jsonc: false,
        }
    }

    /// By name: JSONC for the names whose ecosystems allow it (`*.jsonc`, `tsconfig*.json`,
    /// `jsconfig*.json`, `.vscode/*.json`, `devcontainer.json`, `.eslintrc`, `.babelrc`), else
    /// [`Format::from_path`].
    pub fn from_path(path: &Path) -> Option<Self> {
        if json::jsonc::by_name(path) {
            return Some(Syntax {
                format: Format::Json,
                jsonc: true,
            });
        }
        Format::from_path(path).map(Syntax::plain)
    }

    /// `json`, `jsonc`, `yaml` (or `yml`) or `toml`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "jsonc" => Syntax {
                format: Format::Json,
                jsonc: true,
            },
            "json" => Syntax::plain(Format::Json),
            "yaml" | "yml" => Syntax::plain(Format::Yaml),
            "toml" => Syntax::plain(Format::Toml),
            _ => return None,
        })
    }

    /// The text the format's reader takes: for JSONC, `text` with its comments and trailing
    /// commas blanked to spaces, so every other byte keeps its line and column (the spans of
    /// what is read are the original's); otherwise `text` itself.
    pub fn reader_text<'t>(&self, text: &'t [u8]) -> std::borrow::Cow<'t, [u8]> {
        if !self.jsonc {
            return std::borrow::Cow::Borrowed(text);
        }
        match std::str::from_utf8(text).ok().and_then(json::jsonc::blank) {
            Some(blanked) => std::borrow::Cow::Owned(blanked.into_bytes()),
            None => std::borrow::Cow::Borrowed(text),
        }
    }
}

/// Bounds on what a document may cost, so hostile input gets a `limit` finding instead of a
/// hang, a stack overflow or an out-of-memory kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most values in one document after YAML alias expansion.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            max_depth: 128,
            max_nodes: 10_000_000,
        }
    }
}

/// Why a document could not be read. Located where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `parse`, `duplicate-key` or `limit`.
    pub code: Code,
    /// One line, lower-case, no trailing period.
    pub message: String,
    /// Where, if known.
    pub span: Option<Span>,
    /// A second place that matters (the first occurrence of a duplicate key), with a label.
    pub related: Option<(Span, String)>,
    /// The document of a multi-document YAML stream (0-based), if it has several.
    pub document: Option<usize>,
}

impl Problem {
    /// A problem of `code` at `span`.
    pub fn new(code: Code, message: impl Into<String>, span: Option<Span>) -> Self {
        Problem {
            code,
            message: message.into(),
            span,
            related: None,
            document: None,
        }
    }
}

/// Parses `bytes` as `format` into one value per document (JSON and TOML have exactly one).
/// Checks size, UTF-8, duplicate keys, depth and alias expansion against `limits`.
pub fn parse(format: Format, bytes: &[u8], limits: &Limits) -> Result<Vec<Value>, Problem> {
    let text = text_of(bytes, limits)?;
    match format {
        Format::Json => json::parse(text, limits).map(|v| vec![v]),
        Format::Yaml => yaml::parse(text, limits),
        Format::Toml => toml::parse(text, limits).map(|v| vec![v]),
    }
}

/// Parses `bytes` as `format` into one tape per document, as [`parse`] gives values: what
/// validation reads. JSON and YAML go straight onto tapes that borrow their strings from
/// `bytes`; TOML documents are parsed into values first.
pub fn parse_tapes<'t>(
    format: Format,
    bytes: &'t [u8],
    limits: &Limits,
) -> Result<Vec<Tape<'t>>, Problem> {
    match format {
        Format::Json => json::parse_tape(text_of(bytes, limits)?, limits).map(|t| vec![t]),
        Format::Yaml => yaml::parse_tapes(text_of(bytes, limits)?, limits),
        Format::Toml => {
            parse(format, bytes, limits).map(|docs| docs.iter().map(Tape::from_value).collect())
        }
    }
}

/// The YAML tape builder alone, without the serde-saphyr fallback of [`parse_tapes`]: `None`
/// where the builder leaves the text to serde-saphyr. Only for the differential test over the
/// yaml-test-suite in `tests/`, which must hold the two readers to the same documents.
#[doc(hidden)]
pub fn yaml_builder_only<'t>(text: &'t str, limits: &Limits) -> Option<Vec<Tape<'t>>> {
    yaml::build_tapes(text, limits)
}

/// `bytes` as text, if they are UTF-8 and within the size limit.
fn text_of<'t>(bytes: &'t [u8], limits: &Limits) -> Result<&'t str, Problem> {
    if bytes.len() > limits.max_bytes {
        return Err(Problem::new(
            Code::Limit,
            format!(
                "file is {} bytes, more than the limit of {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
            None,
        ));
    }
    span::utf8(bytes)
}

/// Builds the pointer → span index of each document of a text that [`parse`] accepted.
pub fn index(format: Format, text: &str) -> Vec<SpanIndex> {
    match format {
        Format::Json => vec![json::index(text)],
        Format::Yaml => yaml::index(text),
        Format::Toml => vec![toml::index(text)],
    }
}

/// Writes `value` as `format`, deterministically: key order kept, a trailing newline. JSON is
/// pretty-printed with two spaces. TOML has no `null` and needs a table at the top: those are
/// refused with a one-line reason naming the pointer.
pub fn serialize(format: Format, value: &Value) -> Result<String, String> {
    let mut text = match format {
        Format::Json => serde_json::to_string_pretty(value).map_err(|e| e.to_string())?,
        Format::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string())?,
        Format::Toml => {
            if !value.is_object() {
                return Err("a TOML document must be a table at the top".into());
            }
            if let Some(p) = find_null(value, &mut String::new()) {
                return Err(format!(
                    "TOML has no null: the value at `{p}` cannot be written"
                ));
            }
            ::toml::to_string_pretty(value).map_err(|e| e.to_string())?
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn find_null(value: &Value, at: &mut String) -> Option<String> {
    let walk = |key: &str, v: &Value, at: &mut String| {
        let len = at.len();
        at.push('/');
        at.push_str(&escape_pointer_token(key));
        let found = find_null(v, at);
        at.truncate(len);
        found
    };
    match value {
        Value::Null => Some(at.clone()),
        Value::Object(m) => m.iter().find_map(|(k, v)| walk(k, v, at)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| walk(&i.to_string(), v, at)),
        _ => None,
    }
}

//! `config`: the effective configuration, every value with the place it came from.
//!
//! Each leaf of the configuration (defaults filled in) is listed with the `file:line:col` that
//! set it, or `default`. Nothing is written.

use std::fs;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::{Error, Workspace};
use crate::doc::{self, Format, escape_pointer_token};

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigReport {
    /// The file it came from (relative to the root when inside), if any.
    pub source: Option<PathBuf>,
    /// The whole configuration, defaults included.
    pub config: Value,
    /// Every leaf, in order.
    pub entries: Vec<ConfigEntry>,
}

/// One value of the configuration and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigEntry {
    /// A dotted key, with `[n]` for array items: `merge[0].sources`.
    pub key: String,
    /// Its JSON pointer in the configuration.
    pub pointer: String,
    /// The value (arrays of scalars and empty containers are one leaf).
    pub value: Value,
    /// `file:line:col` of the value, or `None` for a default.
    pub origin: Option<String>,
}

/// The effective configuration of `ws`, with the origin of each value.
pub fn effective_config(ws: &Workspace) -> Result<ConfigReport, Error> {
    let config = serde_json::to_value(&ws.config).expect("the configuration serializes");
    let source = ws.config_source.as_ref().map(|p| ws.shown(p));
    // The span index of the config file, and where the configuration sits inside it.
    let located = match &ws.config_source {
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
            let prefix = if path.file_name().is_some_and(|n| n == "Cargo.toml") {
                "/workspace/metadata/atomic"
            } else {
                ""
            };
            doc::index(Format::Toml, &text)
                .into_iter()
                .next()
                .map(|index| (index, prefix))
        }
        None => None,
    };
    // Each member's manifest, indexed, for the entries it added.
    let mut members = Vec::new();
    for part in &ws.packages {
        let text =
            fs::read_to_string(&part.manifest).map_err(|e| Error::io("read", &part.manifest, e))?;
        let index = doc::index(Format::Toml, &text).into_iter().next();
        members.push((ws.shown(&part.manifest), index));
    }
    let mut entries = Vec::new();
    let mut walk = Walk {
        out: &mut entries,
        origin: &|pointer: &str| {
            let place = |file: &std::path::Path, l: &doc::Located| {
                let (line, col) = (l.value.start.line, l.value.start.column);
                Some(format!("{}:{line}:{col}", file.display()))
            };
            let mut tokens = pointer.trim_start_matches('/').splitn(3, '/');
            if let (Some(list), Some(Ok(i))) = (tokens.next(), tokens.next().map(str::parse))
                && let Some((part, local)) = super::workspace::owner(&ws.packages, list, i)
            {
                let n = ws.packages.iter().position(|p| p == part)?;
                let (file, index) = &members[n];
                let rest = tokens.next().map(|r| format!("/{r}")).unwrap_or_default();
                let at = format!("/package/metadata/atomic/{list}/{local}{rest}");
                return place(file, index.as_ref()?.get(&at)?);
            }
            let (index, prefix) = located.as_ref()?;
            place(
                source.as_deref()?,
                index.get(&format!("{prefix}{pointer}"))?,
            )
        },
    };
    walk.value(&config, String::new(), String::new());
    Ok(ConfigReport {
        source,
        config,
        entries,
    })
}

struct Walk<'a> {
    out: &'a mut Vec<ConfigEntry>,
    origin: &'a dyn Fn(&str) -> Option<String>,
}

impl Walk<'_> {
    fn value(&mut self, v: &Value, key: String, pointer: String) {
        match v {
            Value::Null => {}
            Value::Object(map) if !map.is_empty() => {
                for (k, item) in map {
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    let shown = if bare {
                        k.clone()
                    } else {
                        Value::String(k.clone()).to_string()
                    };
                    let key = if key.is_empty() {
                        shown
                    } else {
                        format!("{key}.{shown}")
                    };
                    self.value(item, key, format!("{pointer}/{}", escape_pointer_token(k)));
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for (n, item) in items.iter().enumerate() {
                    self.value(item, format!("{key}[{n}]"), format!("{pointer}/{n}"));
                }
            }
            leaf => {
                let origin = (self.origin)(&pointer);
                self.out.push(ConfigEntry {
                    key,
                    pointer,
                    value: leaf.clone(),
                    origin,
                });
            }
        }
    }
}

/// Where the value at `pointer` of the effective configuration was written: the file (as
/// shown), its text, its span index, and the value's pointer inside that file. `None` for a
/// default or a file that cannot be read again.
pub(crate) fn config_origin(
    ws: &Workspace,
    pointer: &str,
) -> Option<(PathBuf, String, doc::SpanIndex, String)> {
    let mut tokens = pointer.trim_start_matches('/').splitn(3, '/');
    let (file, at) = if let (Some(list), Some(Ok(i))) =
        (tokens.next(), tokens.next().map(str::parse))
        && let Some((part, local)) = super::workspace::owner(&ws.packages, list, i)
    {
        let rest = tokens.next().map(|r| format!("/{r}")).unwrap_or_default();
        let at = format!("/package/metadata/atomic/{list}/{local}{rest}");
        (part.manifest.clone(), at)
    } else {
        let path = ws.config_source.clone()?;
        let prefix = if path.file_name().is_some_and(|n| n == "Cargo.toml") {
            "/workspace/metadata/atomic"
        } else {
            ""
        };
        (path, format!("{prefix}{pointer}"))
    };
    let text = fs::read_to_string(&file).ok()?;
    let index = doc::index(Format::Toml, &text).into_iter().next()?;
    Some((ws.shown(&file), text, index, at))
}

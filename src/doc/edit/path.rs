//! KEY syntax: a dotted path (`server.port`, `items.0`, `"a.b".c`) or a JSON pointer
//! (`/server/port`, RFC 6901), both turned into the reference tokens of a pointer.

use std::fmt;

use serde_json::Value;

use crate::doc::escape_pointer_token;

/// A non-empty path to a value: the reference tokens of its JSON pointer. A token names an
/// object member, or an array element by its index (`-` or the length: a new last element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    tokens: Vec<String>,
}

/// A KEY that is not a dotted path nor a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid KEY `{key}`: {reason}")]
pub struct KeyError {
    /// The KEY as given.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl KeyPath {
    /// Parses a KEY: a JSON pointer when it starts with `/`, else a dotted path whose segments
    /// may be JSON strings (`"a.b"`) to hold dots, quotes or nothing.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let fail = |reason: &str| KeyError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let tokens = if let Some(rest) = key.strip_prefix('/') {
            rest.split('/')
                .map(|t| unescape(t).ok_or_else(|| fail("`~` must be followed by 0 or 1")))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            dotted(key).map_err(|reason| fail(&reason))?
        };
        if tokens.is_empty() {
            return Err(fail("it names no value"));
        }
        Ok(KeyPath { tokens })
    }

    /// From reference tokens (at least one).
    pub fn from_tokens(tokens: Vec<String>) -> Option<Self> {
        (!tokens.is_empty()).then_some(KeyPath { tokens })
    }

    /// The reference tokens, outermost first.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The JSON pointer (`/server/port`).
    pub fn pointer(&self) -> String {
        pointer_of(&self.tokens)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pointer())
    }
}

/// Parses `KEY=VALUE`: VALUE is JSON when it parses as JSON, else (or with `string`) the
/// string itself. The first `=` outside a quoted segment of KEY splits them.
pub fn parse_assignment(s: &str, string: bool) -> Result<(KeyPath, Value), KeyError> {
    let split = split_at_equals(s).ok_or_else(|| KeyError {
        key: s.to_owned(),
        reason: "expected KEY=VALUE".to_owned(),
    })?;
    let (key, raw) = (&s[..split], &s[split + 1..]);
    let path = KeyPath::parse(key)?;
    let value = if string {
        Value::String(raw.to_owned())
    } else {
        serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
    };
    Ok((path, value))
}

/// The pointer of `tokens`.
pub(crate) fn pointer_of(tokens: &[String]) -> String {
    let mut p = String::new();
    for t in tokens {
        p.push('/');
        p.push_str(&escape_pointer_token(t));
    }
    p
}

fn split_at_equals(s: &str) -> Option<usize> {
    if s.starts_with('/') {
        return s.find('=');
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '=' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

fn dotted(key: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut rest = key;
    loop {
        if rest.starts_with('"') {
            let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            let token = match de.next() {
                Some(Ok(t)) => t,
                _ => return Err("a quoted segment must be a JSON string".to_owned()),
            };
            tokens.push(token);
            rest = &rest[de.byte_offset()..];
            if rest.is_empty() {
                return Ok(tokens);
            }
            rest = rest
                .strip_prefix('.')
                .ok_or("a quoted segment must be followed by `.` or the end")?;
            continue;
        }
        let (segment, next) = match rest.find('.') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if segment.is_empty() {
            return Err("empty segment (quote a key that is empty or holds a dot: \"a.b\")".into());
        }
        if segment.contains('"') {
            return Err("a quote may only open a segment".to_owned());
        }
        tokens.push(segment.to_owned());
        match next {
            Some(n) => rest = n,
            None => return Ok(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(key: &str) -> Vec<String> {
        KeyPath::parse(key).unwrap().tokens().to_vec()
    }

    #[test]
    fn dotted_paths_and_pointers_give_the_same_tokens() {
        assert_eq!(toks("server.port"), ["server", "port"]);
        assert_eq!(toks("/server/port"), ["server", "port"]);
        assert_eq!(toks("items.0.name"), ["items", "0", "name"]);
        assert_eq!(toks(r#""a.b".c"#), ["a.b", "c"]);
        assert_eq!(toks(r#"x."""#), ["x", ""]);
        assert_eq!(toks("/a~1b/c~0d"), ["a/b", "c~d"]);
        assert_eq!(toks("/"), [""]);
        assert_eq!(
            KeyPath::parse("/a~1b/c~0d").unwrap().pointer(),
            "/a~1b/c~0d"
        );
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for bad in [
            "", "a..b", ".a", "a.", "/a~2", r#""open"#, r#""a"b"#, r#"a"b"#,
        ] {
            let e = KeyPath::parse(bad).unwrap_err();
            assert!(!e.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn values_are_json_when_they_parse() {
        let (k, v) = parse_assignment("a.b=8080", false).unwrap();
        assert_eq!((k.pointer(), v), ("/a/b".to_owned(), Value::from(8080)));
        let (_, v) = parse_assignment("a=eighty", false).unwrap();
        assert_eq!(v, Value::from("eighty"));
        let (_, v) = parse_assignment("a=8080", true).unwrap();
        assert_eq!(v, Value::from("8080"));
        let (_, v) = parse_assignment("a=x=y", false).unwrap();
        assert_eq!(v, Value::from("x=y"));
        let (k, v) = parse_assignment(r#""k=v".x={"a":[1]}"#, false).unwrap();
        assert_eq!(k.tokens(), ["k=v", "x"]);
        assert_eq!(v, serde_json::json!({"a": [1]}));
        assert!(parse_assignment("novalue", false).is_err());
    }
}

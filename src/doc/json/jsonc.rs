//! JSON with comments (JSONC): what `tsconfig.json`, `.eslintrc` and VS Code's settings allow —
//! `//` and `/* */` comments and a trailing comma before `]` or `}`.
//!
//! Invariant: [`blank`] only turns comment and trailing-comma bytes into spaces (a comment's
//! line breaks are kept), so every byte of the result sits at the same line and column as in
//! the original: the JSON reader's spans are the JSONC text's spans. Nothing is ever inserted
//! or removed, and text inside strings is never touched.

/// `text` with its comments and trailing commas blanked to spaces, or `None` when it has none
/// (then `text` is already the JSON to read). An unterminated block comment is blanked to the
/// end, and the JSON reader then reports what is missing.
pub(crate) fn blank(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    // The last comma outside strings and comments with nothing significant after it yet.
    let mut pending_comma: Option<usize> = None;
    let blank_range = |out: &mut Option<Vec<u8>>, from: usize, to: usize| {
        let buf = out.get_or_insert_with(|| bytes.to_vec());
        for b in &mut buf[from..to] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                pending_comma = None;
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n);
                blank_range(&mut out, i, end);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = bytes[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                blank_range(&mut out, i, end);
                i = end;
            }
            b',' => {
                pending_comma = Some(i);
                i += 1;
            }
            b']' | b'}' => {
                if let Some(c) = pending_comma.take() {
                    blank_range(&mut out, c, c + 1);
                }
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                pending_comma = None;
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces, so the result is still UTF-8.
    out.map(|b| String::from_utf8(b).unwrap_or_default())
}

/// Whether a file of this path is read as JSONC by its name: the ecosystems that allow
/// comments in JSON (`*.jsonc`, `tsconfig*.json`, `jsconfig*.json`, `.vscode/*.json`,
/// `devcontainer.json`, and the extensionless `.eslintrc` and `.babelrc`).
pub(crate) fn by_name(path: &std::path::Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let in_vscode = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d == ".vscode" || d == ".devcontainer");
    name.ends_with(".jsonc")
        || (name.ends_with(".json")
            && (name.starts_with("tsconfig")
                || name.starts_with("jsconfig")
                || name == "devcontainer.json"
                || name == ".devcontainer.json"
                || in_vscode))
        || matches!(
            name.as_str(),
            ".eslintrc" | ".babelrc" | ".eslintrc.json" | ".babelrc.json" | ".swcrc"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas_become_spaces_in_place() {
        let text =
            "{\n  // a comment\n  \"a\": [1, 2,], /* b\n c */ \"s\": \"// not, a comment,}\",\n}\n";
        let json = blank(text).expect("something blanked");
        assert_eq!(json.len(), text.len());
        assert_eq!(json.lines().count(), text.lines().count());
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["a"], serde_json::json!([1, 2]));
        assert_eq!(v["s"], "// not, a comment,}");
        // Every byte that survives is where it was.
        for (a, b) in text.bytes().zip(json.bytes()) {
            assert!(a == b || b == b' ', "{a} became {b}");
        }
    }

    #[test]
    fn plain_json_is_left_alone() {
        assert_eq!(blank("{\"a\": \"x,]\", \"b\": [1, 2]}"), None);
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let text = r#"{"a": "\" // still a string", "b": 1,}"#;
        let v: serde_json::Value = serde_json::from_str(&blank(text).unwrap()).unwrap();
        assert_eq!(v["a"], "\" // still a string");
    }

    #[test]
    fn names_that_mean_jsonc() {
        for yes in [
            "tsconfig.json",
            "a/tsconfig.build.json",
            ".vscode/settings.json",
            ".eslintrc",
            "x.jsonc",
        ] {
            assert!(by_name(std::path::Path::new(yes)), "{yes}");
        }
        for no in ["package.json", "a/settings.json", "x.yaml", "renovate.json"] {
            assert!(!by_name(std::path::Path::new(no)), "{no}");
        }
    }
}

//! The real-world corpus (`tests/realworld/`): real config files from public repositories with
//! their SchemaStore schemas, each given one typical mistake at a time at a known place. The
//! first finding of every mistaken file must be exactly at the mistake's `line:column` and its
//! message must name the cause; no finding may read "is not valid under any of".
//!
//! The mistakes are made on the text (a key renamed, a value replaced, a member's lines
//! removed) where the span index says the key or value is; a change that leaves the file valid
//! is no mistake and is not counted. With `REALWORLD_DUMP=DIR` the mistaken files, the
//! `atomic.toml` and `cases.tsv` are kept in DIR (for `bench/realworld_vs_check_jsonschema.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cargo_atomic::doc::schema::{CompileOptions, Schema, SchemaSource, compile};
use cargo_atomic::doc::{self, Format, Limits, SpanIndex};
use serde_json::Value;

use crate::support::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/realworld");

/// Each kind of file: its folder under `files/` and the schema that applies.
const KINDS: &[(&str, &str)] = &[
    ("workflow", "github-workflow.json"),
    ("compose", "compose-spec.json"),
    ("cargo", "cargo.json"),
    ("dependabot", "dependabot-2.0.json"),
    ("pre-commit", "pre-commit-config.json"),
    ("package", "package.json"),
    ("tsconfig", "tsconfig.json"),
];

/// The mistakes users make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mistake {
    MisspeltKey,
    WrongType,
    BadEnum,
    MissingKey,
    WrongObject,
}

impl Mistake {
    fn name(self) -> &'static str {
        match self {
            Mistake::MisspeltKey => "misspelt-key",
            Mistake::WrongType => "wrong-type",
            Mistake::BadEnum => "bad-enum",
            Mistake::MissingKey => "missing-key",
            Mistake::WrongObject => "key-in-wrong-object",
        }
    }
}

/// One mistaken file.
struct Case {
    /// Relative to the workspace: `cases/<kind>/<n>-<file>`.
    file: String,
    mistake: Mistake,
    line: u32,
    column: u32,
    /// Every one must be in the first finding's message.
    needles: Vec<String>,
    text: String,
}

/// Schemas from `tests/realworld/schemas`, whatever URI names them: by the last path segment.
struct LocalSchemas;

impl SchemaSource for LocalSchemas {
    fn fetch(&self, uri: &str) -> Result<Value, String> {
        let name = uri.rsplit('/').next().unwrap_or_default();
        let text = fs::read_to_string(Path::new(CORPUS).join("schemas").join(name))
            .map_err(|e| format!("{uri}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

/// One member of an object in a document.
struct Member {
    pointer: String,
    parent: String,
    key: String,
    value: Value,
    depth: usize,
}

fn members(value: &Value, pointer: &str, depth: usize, out: &mut Vec<Member>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{pointer}/{}", doc::escape_pointer_token(k));
                out.push(Member {
                    pointer: p.clone(),
                    parent: pointer.to_owned(),
                    key: k.clone(),
                    value: v.clone(),
                    depth: depth + 1,
                });
                members(v, &p, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                members(v, &format!("{pointer}/{i}"), depth, out);
            }
        }
        _ => {}
    }
}

/// Byte offset of a 1-based line and character column.
fn offset(text: &str, line: u32, column: u32) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line as usize - 1)
        .map(str::len)
        .sum();
    let rest = &text[start..];
    start
        + rest
            .char_indices()
            .nth(column as usize - 1)
            .map_or(rest.len(), |(i, _)| i)
}

fn span_range(text: &str, s: doc::Span) -> std::ops::Range<usize> {
    offset(text, s.start.line, s.start.column)..offset(text, s.end.line, s.end.column)
}

/// A plausible misspelling: `_` for the first `-`, else two middle letters swapped.
fn misspell(word: &str) -> Option<String> {
    if word.contains('-') {
        return Some(word.replacen('-', "_", 1));
    }
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 || !chars.iter().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let i = chars.len() / 2 - 1;
    if chars[i] == chars[i + 1] {
        return None;
    }
    let mut c = chars;
    c.swap(i, i + 1);
    Some(c.into_iter().collect())
}

/// Every string of an `enum`/`const` and every name of a `required` in the schemas.
fn schema_words(value: &Value, enums: &mut BTreeSet<String>, required: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("enum", Value::Array(a)) => {
                        enums.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    ("const", Value::String(s)) => {
                        enums.insert(s.clone());
                    }
                    ("required", Value::Array(a)) => {
                        required.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
                schema_words(v, enums, required);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| schema_words(v, enums, required)),
        _ => {}
    }
}

struct Maker<'a> {
    format: Format,
    text: &'a str,
    index: &'a SpanIndex,
    schema: &'a Schema,
    enums: &'a BTreeSet<String>,
    required: &'a BTreeSet<String>,
}

impl Maker<'_> {
    /// Whether `text` parses and fails the schema.
    fn is_mistake(&self, text: &str) -> bool {
        match doc::parse(self.format, text.as_bytes(), &Limits::default()) {
            Ok(docs) => docs.iter().any(|d| !self.schema.is_valid(d)),
            Err(_) => false,
        }
    }

    fn replaced(&self, range: std::ops::Range<usize>, with: &str) -> String {
        let mut t = self.text.to_owned();
        t.replace_range(range, with);
        t
    }

    /// The key of `m` renamed to `to`, when its source text is the plain or quoted key.
    fn rename(&self, m: &Member, to: &str) -> Option<(String, doc::Pos)> {
        let span = self.index.get(&m.pointer)?.key?;
        let range = span_range(self.text, span);
        let written = &self.text[range.clone()];
        let new = if written == m.key {
            to.to_owned()
        } else if written == format!("\"{}\"", m.key) {
            format!("\"{to}\"")
        } else {
            return None;
        };
        Some((self.replaced(range, &new), span.start))
    }

    /// The value of `m` replaced by `with`, when it is a scalar on one line.
    fn replace_value(&self, m: &Member, with: &str) -> Option<(String, doc::Pos)> {
        let span = self.index.get(&m.pointer)?.value;
        if span.start.line != span.end.line || m.value.is_object() || m.value.is_array() {
            return None;
        }
        let range = span_range(self.text, span);
        let written = &self.text[range.clone()];
        if written.starts_with(['|', '>']) {
            return None;
        }
        Some((self.replaced(range, with), span.start))
    }

    /// The lines of member `m` removed (YAML and TOML), when it alone fills them.
    fn remove(&self, m: &Member) -> Option<String> {
        if self.format == Format::Json {
            return None;
        }
        let l = self.index.get(&m.pointer)?;
        let key = l.key?;
        let line_start = offset(self.text, key.start.line, 1);
        let key_at = offset(self.text, key.start.line, key.start.column);
        if !self.text[line_start..key_at].trim().is_empty() {
            return None;
        }
        let end = offset(self.text, l.value.end.line, l.value.end.column);
        let line_end = self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i + 1);
        let rest = self.text[end..line_end].trim();
        if !(rest.is_empty() || rest.starts_with('#')) {
            return None;
        }
        let mut t = self.text.to_owned();
        t.replace_range(line_start..line_end, "");
        Some(t)
    }

    /// Whether the object at `parent` in `value` takes `key` in place of `old` with some
    /// value (the one it has where it belongs, or a plain one of each type): then `key`
    /// belongs there too, and a finding about its value is right.
    fn takes(&self, value: &Value, parent: &str, old: &str, key: &str, moved: &Value) -> bool {
        let probes = [
            moved.clone(),
            Value::from("x"),
            Value::from(1),
            Value::from(true),
            Value::Object(serde_json::Map::new()),
            Value::Array(Vec::new()),
        ];
        probes.into_iter().any(|probe| {
            let mut v = value.clone();
            let Some(Value::Object(object)) = v.pointer_mut(parent) else {
                return false;
            };
            object.remove(old);
            object.insert(key.to_owned(), probe);
            self.schema.is_valid(&v)
        })
    }

    fn cases(&self, value: &Value) -> Vec<(Mistake, String, doc::Pos, Vec<String>)> {
        let mut all = Vec::new();
        members(value, "", 0, &mut all);
        let keys_of = |parent: &str| -> BTreeSet<&str> {
            all.iter()
                .filter(|m| m.parent == parent)
                .map(|m| m.key.as_str())
                .collect()
        };
        let mut out = Vec::new();
        // Misspelt keys: the first one that is a mistake at depth 1, 2 and deeper.
        for depth in [1, 2, 3] {
            let found = all
                .iter()
                .filter(|m| m.depth == depth || (depth == 3 && m.depth > 3))
                .find_map(|m| {
                    let to = misspell(&m.key)?;
                    if keys_of(&m.parent).contains(to.as_str()) {
                        return None;
                    }
                    let (t, at) = self.rename(m, &to)?;
                    self.is_mistake(&t).then_some((t, at, to))
                });
            if let Some((t, at, to)) = found {
                out.push((Mistake::MisspeltKey, t, at, vec![to]));
            }
        }
        // Wrong types: a number or boolean made a string, a string made a number.
        for shallow in [true, false] {
            let found = all
                .iter()
                .filter(|m| (m.depth <= 2) == shallow)
                .find_map(|m| {
                    let (with, needle) = match &m.value {
                        Value::String(_) => ("12345", "12345"),
                        Value::Number(_) | Value::Bool(_) => ("\"forty five\"", "forty five"),
                        _ => return None,
                    };
                    let (t, at) = self.replace_value(m, with)?;
                    self.is_mistake(&t).then_some((t, at, needle))
                });
            if let Some((t, at, needle)) = found {
                out.push((Mistake::WrongType, t, at, vec![needle.to_owned()]));
            }
        }
        // Bad enum values: an allowed value misspelt.
        let mut n = 0;
        for m in &all {
            let Value::String(s) = &m.value else { continue };
            if n == 2 || !self.enums.contains(s) {
                continue;
            }
            let Some(bad) = misspell(s).or_else(|| (s.len() >= 2).then(|| format!("{s}x"))) else {
                continue;
            };
            let Some(span) = self.index.get(&m.pointer).map(|l| l.value) else {
                continue;
            };
            let written = &self.text[span_range(self.text, span)];
            let with = if written.starts_with('"') {
                format!("\"{bad}\"")
            } else if written.starts_with('\'') {
                format!("'{bad}'")
            } else if written == s {
                bad.clone()
            } else {
                continue;
            };
            if let Some((t, at)) = self.replace_value(m, &with)
                && self.is_mistake(&t)
            {
                out.push((Mistake::BadEnum, t, at, vec![bad, s.clone()]));
                n += 1;
            }
        }
        // Missing required keys: at the object that lacks it (which keeps another member, so
        // that it stays an object).
        let mut n = 0;
        for m in &all {
            if n == 2 || !self.required.contains(&m.key) || keys_of(&m.parent).len() < 2 {
                continue;
            }
            let Some(t) = self.remove(m) else { continue };
            if !self.is_mistake(&t) {
                continue;
            }
            let Some(at) = doc::index(self.format, &t)
                .first()
                .and_then(|ix| ix.get(&m.parent).copied())
                .map(|l| l.key.unwrap_or(l.value).start)
            else {
                continue;
            };
            out.push((Mistake::MissingKey, t, at, vec![m.key.clone()]));
            n += 1;
        }
        // A key of another object: a key that sits elsewhere in the file given to a member
        // that is not required and whose name is nothing like it.
        // Each key name once (where it first sits), the first few dozen.
        let mut seen = BTreeSet::new();
        let names: Vec<(&str, &str, &Value)> = all
            .iter()
            .filter(|m| seen.insert(m.key.as_str()))
            .map(|m| (m.key.as_str(), m.parent.as_str(), &m.value))
            .take(40)
            .collect();
        let mut n = 0;
        for m in all.iter().filter(|m| m.depth >= 2) {
            if n == 2 || self.required.contains(&m.key) {
                continue;
            }
            let here = keys_of(&m.parent);
            let found = names.iter().take(12).find_map(|&(k, parent, moved)| {
                if parent == m.parent
                    || here.contains(k)
                    || k.len() < 3
                    || k.parse::<f64>().is_ok()
                    || cargo_atomic_nearish(k, &m.key)
                    || self.takes(value, &m.parent, &m.key, k, moved)
                {
                    return None;
                }
                let (t, at) = self.rename(m, k)?;
                self.is_mistake(&t).then(|| (t, at, k.to_owned()))
            });
            if let Some((t, at, k)) = found {
                out.push((Mistake::WrongObject, t, at, vec![k]));
                n += 1;
            }
        }
        out
    }
}

/// Whether two keys are close enough to read as a misspelling of each other.
fn cargo_atomic_nearish(a: &str, b: &str) -> bool {
    let (a, b) = (
        a.to_lowercase().replace('_', "-"),
        b.to_lowercase().replace('_', "-"),
    );
    a == b || a.contains(&b) || b.contains(&a)
}

/// Builds every case of the corpus.
fn corpus() -> Vec<Case> {
    let tsv = fs::read_to_string(Path::new(CORPUS).join("origin.tsv")).unwrap();
    let mut schemas: BTreeMap<&str, (Schema, BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for (kind, schema) in KINDS {
        let path = Path::new(CORPUS).join("schemas").join(schema);
        let value: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let options = CompileOptions {
            base_uri: format!("file://{}", path.display()),
            ..CompileOptions::default()
        };
        let compiled = compile(&value, &options, Arc::new(LocalSchemas))
            .unwrap_or_else(|p| panic!("{schema}: {p}"));
        let (mut enums, mut required) = (BTreeSet::new(), BTreeSet::new());
        for entry in fs::read_dir(Path::new(CORPUS).join("schemas")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
                schema_words(&v, &mut enums, &mut required);
            }
        }
        schemas.insert(kind, (compiled, enums, required));
    }
    let mut cases = Vec::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (file, kind) = (cols[0], cols[1]);
        let path = Path::new(CORPUS).join(file);
        let text = fs::read_to_string(&path).unwrap();
        let format = Format::from_path(&path).unwrap();
        let (schema, enums, required) = &schemas[kind];
        let docs = doc::parse(format, text.as_bytes(), &Limits::default())
            .unwrap_or_else(|p| panic!("{file}: {p:?}"));
        assert!(
            docs.iter().all(|d| schema.is_valid(d)),
            "{file} is not valid as committed"
        );
        let index = doc::index(format, &text).remove(0);
        let maker = Maker {
            format,
            text: &text,
            index: &index,
            schema,
            enums,
            required,
        };
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        for (n, (mistake, text, at, needles)) in maker.cases(&docs[0]).into_iter().enumerate() {
            cases.push(Case {
                file: format!("cases/{kind}/{n:02}-{name}"),
                mistake,
                line: at.line,
                column: at.column,
                needles,
                text,
            });
        }
    }
    cases
}

#[test]
fn every_mistake_is_found_where_it_was_made_and_named() {
    let cases = corpus();
    let kept = std::env::var_os("REALWORLD_DUMP").map(PathBuf::from);
    let ws = Ws::new();
    let root = kept.clone().unwrap_or_else(|| ws.root().to_owned());
    fs::create_dir_all(&root).unwrap();
    let mut config = String::from(
        "[schemas]\nmap = { \"https://www.schemastore.org/\" = \"schemas/\", \
         \"https://json.schemastore.org/\" = \"schemas/\" }\n",
    );
    for (kind, schema) in KINDS {
        let _ = write!(
            config,
            "\n[[validate]]\nfiles = [\"cases/{kind}/**\"]\nschema = \"schemas/{schema}\"\n"
        );
    }
    fs::write(root.join("atomic.toml"), &config).unwrap();
    fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    fs::create_dir_all(root.join("schemas")).unwrap();
    for entry in fs::read_dir(Path::new(CORPUS).join("schemas")).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, root.join("schemas").join(p.file_name().unwrap())).unwrap();
    }
    let mut tsv = String::from("file\tmistake\tline\tcolumn\tneedles\n");
    for c in &cases {
        let p = root.join(&c.file);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, &c.text).unwrap();
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}",
            c.file,
            c.mistake.name(),
            c.line,
            c.column,
            c.needles.join("\u{1f}")
        );
    }
    fs::write(root.join("cases.tsv"), tsv).unwrap();

    let mut cmd = std::process::Command::new(bin());
    cmd.args(["atomic", "validate", "--message-format", "json"])
        .current_dir(&root);
    let r = run(cmd, None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut findings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in r.json() {
        if d["reason"] == "diagnostic" {
            let file = d["file"].as_str().unwrap_or_default().to_owned();
            findings.entry(file).or_default().push(d);
        }
    }

    // (cases, placed, named) per kind of mistake.
    let mut rates: BTreeMap<Mistake, (usize, usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut vague = Vec::new();
    for c in &cases {
        let entry = rates.entry(c.mistake).or_default();
        entry.0 += 1;
        let found = findings.get(&c.file).map(Vec::as_slice).unwrap_or_default();
        for f in found {
            let m = f["message"].as_str().unwrap_or_default();
            if m.contains("not valid under any of") {
                vague.push(format!("{}: {m}", c.file));
            }
        }
        let Some(first) = found.first() else {
            misses.push(format!("{} {}: no finding", c.mistake.name(), c.file));
            continue;
        };
        let message = first["message"].as_str().unwrap_or_default();
        let (line, column) = (first["line"].as_u64(), first["column"].as_u64());
        let placed = line == Some(u64::from(c.line)) && column == Some(u64::from(c.column));
        let named = c.needles.iter().all(|n| message.contains(n.as_str()));
        entry.1 += usize::from(placed);
        entry.2 += usize::from(named);
        if !placed || !named {
            misses.push(format!(
                "{} {}: want {}:{} naming {:?}; got {}:{} {message}",
                c.mistake.name(),
                c.file,
                c.line,
                c.column,
                c.needles,
                line.unwrap_or(0),
                column.unwrap_or(0)
            ));
        }
    }
    let mut report = String::new();
    for (mistake, (n, placed, named)) in &rates {
        let _ = writeln!(
            report,
            "{:<20} {n:>4} cases  placed {:>5.1}%  named {:>5.1}%",
            mistake.name(),
            100.0 * *placed as f64 / *n as f64,
            100.0 * *named as f64 / *n as f64
        );
    }
    eprintln!("real-world corpus:\n{report}");
    for m in &misses {
        eprintln!("  {m}");
    }
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    assert!(vague.is_empty(), "vague findings:\n{}", vague.join("\n"));
    for (mistake, (n, placed, named)) in &rates {
        assert!(
            *placed * 100 >= *n * 95 && *named * 100 >= *n * 95,
            "{} below 95%:\n{report}",
            mistake.name()
        );
    }
}

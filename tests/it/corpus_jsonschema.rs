//! The JSON-Schema-Test-Suite, run in place through `cargo_atomic::doc::schema`: drafts
//! 2020-12 and 7, every required test (`tests/<draft>/*.json`, formats as annotations, the
//! spec's default) and the format tests (`tests/<draft>/optional/format/*.json`, formats
//! asserted, our default). `$ref`s to `http://localhost:1234/` resolve offline from `remotes/`.
//!
//! Every failing case is listed with its reason in `tests/known-failures/json-schema-test-suite.txt`;
//! an unlisted failure fails this test, and so does a listed case that now passes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cargo_atomic::doc::schema::{CompileOptions, Draft, SchemaSource, compile};
use rayon::prelude::*;
use serde_json::Value;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpora/JSON-Schema-Test-Suite"
);
const KNOWN_FAILURES: &str = include_str!("../known-failures/json-schema-test-suite.txt");
const REMOTE_BASE: &str = "http://localhost:1234/";

/// `http://localhost:1234/...` → `remotes/...`; anything else is refused and remembered.
struct Remotes {
    root: PathBuf,
    refused: Mutex<Vec<String>>,
}

impl SchemaSource for Remotes {
    fn fetch(&self, uri: &str) -> Result<Value, String> {
        let Some(rest) = uri.strip_prefix(REMOTE_BASE) else {
            self.refused.lock().unwrap().push(uri.to_owned());
            return Err(format!("{uri} is not in the suite's remotes"));
        };
        let path = self.root.join(rest);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Required,
    Format,
}

/// One run of one test case.
struct Outcome {
    draft: &'static str,
    part: Part,
    /// `<draft>/<file> :: <group> :: <test>`, as in the known-failures list.
    case: String,
    /// `None` when the case passed; else what went wrong.
    failure: Option<String>,
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the suite must be present)", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn run_file(
    draft: &'static str,
    default_draft: Draft,
    part: Part,
    path: &Path,
    source: &Arc<Remotes>,
) -> Vec<Outcome> {
    let tests = Path::new(SUITE).join("tests");
    let name = path
        .strip_prefix(&tests)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let groups: Vec<Value> = serde_json::from_str(&fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let options = CompileOptions {
        base_uri: String::new(),
        format_checks: part == Part::Format,
        default_draft,
    };
    let mut outcomes = Vec::new();
    for group in &groups {
        let description = group["description"].as_str().unwrap();
        let compiled = compile(&group["schema"], &options, source.clone());
        for test in group["tests"].as_array().unwrap() {
            let case = format!(
                "{name} :: {description} :: {}",
                test["description"].as_str().unwrap()
            );
            let expected = test["valid"].as_bool().unwrap();
            let failure = match &compiled {
                Err(problem) => Some(format!("does not compile: {problem}")),
                Ok(schema) => {
                    let data = &test["data"];
                    let valid = schema.is_valid(data);
                    let errors = schema.validate(data);
                    if valid != errors.is_empty() {
                        Some(format!(
                            "is_valid says {valid} but validate gives {errors:?}"
                        ))
                    } else if valid != expected {
                        Some(if valid {
                            "valid, expected invalid".to_owned()
                        } else {
                            format!("invalid, expected valid: {}", errors[0].message)
                        })
                    } else {
                        None
                    }
                }
            };
            outcomes.push(Outcome {
                draft,
                part,
                case,
                failure,
            });
        }
    }
    outcomes
}

/// The known-failures list: case → reason.
fn known_failures() -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    for (number, line) in KNOWN_FAILURES.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (case, reason) = line
            .split_once(" # ")
            .unwrap_or_else(|| panic!("known failures line {}: no ` # reason`", number + 1));
        assert!(
            !reason.trim().is_empty(),
            "known failures line {}: empty reason",
            number + 1
        );
        let previous = known.insert(case.trim().to_owned(), reason.trim().to_owned());
        assert!(
            previous.is_none(),
            "known failures line {}: listed twice",
            number + 1
        );
    }
    known
}

#[test]
fn json_schema_test_suite_passes_except_for_listed_cases() {
    if crate::support::skip_without_corpus("JSON-Schema-Test-Suite") {
        return;
    }
    let source = Arc::new(Remotes {
        root: Path::new(SUITE).join("remotes"),
        refused: Mutex::default(),
    });
    let mut jobs = Vec::new();
    for (draft, default_draft) in [
        ("draft2020-12", Draft::Draft202012),
        ("draft7", Draft::Draft7),
    ] {
        let dir = Path::new(SUITE).join("tests").join(draft);
        for path in files(&dir) {
            jobs.push((draft, default_draft, Part::Required, path));
        }
        for path in files(&dir.join("optional/format")) {
            jobs.push((draft, default_draft, Part::Format, path));
        }
    }
    let outcomes: Vec<Outcome> = jobs
        .par_iter()
        .flat_map_iter(|(draft, default_draft, part, path)| {
            run_file(draft, *default_draft, *part, path, &source)
        })
        .collect();

    let mut known = known_failures();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut counts: BTreeMap<(&str, Part), (usize, usize)> = BTreeMap::new();
    for outcome in &outcomes {
        let count = counts.entry((outcome.draft, outcome.part)).or_default();
        count.1 += 1;
        let listed = known.remove(&outcome.case);
        match (&outcome.failure, listed) {
            (None, None) => count.0 += 1,
            (None, Some(_)) => {
                count.0 += 1;
                fixed.push(outcome.case.clone());
            }
            (Some(why), None) => unexpected.push(format!("{}\n    {why}", outcome.case)),
            (Some(_), Some(_)) => {}
        }
    }

    for ((draft, part), (passed, total)) in &counts {
        let part = match part {
            Part::Required => "required",
            Part::Format => "format",
        };
        println!("JSON-Schema-Test-Suite {draft} {part}: {passed}/{total} passed");
    }
    let refused = source.refused.lock().unwrap().clone();
    let meta: Vec<_> = refused
        .iter()
        .filter(|u| u.contains("json-schema.org"))
        .collect();
    assert!(
        meta.is_empty(),
        "meta-schemas were not resolved offline: {meta:?}"
    );

    let mut report = String::new();
    if !unexpected.is_empty() {
        unexpected.sort();
        report += &format!(
            "\n{} unlisted failures (fix them or list them with a reason):\n{}\n",
            unexpected.len(),
            unexpected.join("\n")
        );
    }
    if !fixed.is_empty() {
        fixed.sort();
        report += &format!(
            "\n{} listed cases now pass (remove their lines):\n{}\n",
            fixed.len(),
            fixed.join("\n")
        );
    }
    if !known.is_empty() {
        report += &format!(
            "\n{} listed cases are not in the suite:\n{}\n",
            known.len(),
            known.keys().cloned().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(report.is_empty(), "{report}");
}

//! How fast `doc::schema` compiles the bench schema and checks the bench instances.
//!
//! ```text
//! python3 ../shared/bench/gen_corpus.py --out /tmp/corpus
//! cargo run --release --example schema_bench -- /tmp/corpus
//! ```
//!
//! Prints the compile time, then µs per file for `is_valid` (the fast path every valid file
//! takes) on one thread and on all cores, for `validate` on the invalid files, and for read +
//! parse + `is_valid` over the whole folder on one thread and on all cores. Checks that the
//! invalid set is the manifest's. `NO_FORMATS=1` compiles with `format_checks: false`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cargo_atomic::doc::schema::{CompileOptions, NoSource, Schema, compile};
use rayon::prelude::*;
use serde_json::Value;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.unwrap())
}

fn per_file(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn check(schema: &Schema, path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    schema.is_valid(&value)
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: schema_bench CORPUS_DIR"),
    );
    let schema_path = dir.join("schema/app.schema.json");
    let schema_value: Value =
        serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let options = CompileOptions {
        base_uri: format!("file://{}", schema_path.canonicalize().unwrap().display()),
        format_checks: std::env::var_os("NO_FORMATS").is_none(),
        ..CompileOptions::default()
    };
    let (compile_time, schema) = best_of(20, || {
        compile(&schema_value, &options, Arc::new(NoSource)).unwrap()
    });

    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("json"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let values: Vec<(String, Value)> = paths
        .iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (
                stem,
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap(),
            )
        })
        .collect();
    let n = values.len();

    let (is_valid_time, invalid) = best_of(20, || {
        values
            .iter()
            .filter(|(_, v)| !schema.is_valid(v))
            .map(|(name, _)| name.clone())
            .collect::<BTreeSet<_>>()
    });
    let (par_is_valid_time, par_invalid) = best_of(20, || {
        values
            .par_iter()
            .filter(|(_, v)| !schema.is_valid(v))
            .count()
    });
    assert_eq!(par_invalid, invalid.len());
    let invalid_values: Vec<&Value> = values
        .iter()
        .filter(|(name, _)| invalid.contains(name))
        .map(|(_, v)| v)
        .collect();
    let (validate_time, errors) = best_of(20, || {
        invalid_values
            .iter()
            .map(|v| schema.validate(v).len())
            .sum::<usize>()
    });
    let (serial_time, serial_invalid) =
        best_of(5, || paths.iter().filter(|p| !check(&schema, p)).count());
    let (parallel_time, parallel_invalid) = best_of(5, || {
        paths.par_iter().filter(|p| !check(&schema, p)).count()
    });

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let expected: BTreeSet<String> = manifest["invalid"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(invalid, expected, "invalid set differs from the manifest");
    assert_eq!(serial_invalid, expected.len());
    assert_eq!(parallel_invalid, expected.len());

    println!("files: {n} ({} invalid)", invalid.len());
    println!("compile: {:.0} µs", compile_time.as_secs_f64() * 1e6);
    println!(
        "is_valid, parsed values: {:.2} µs/file ({:.2} ms for all)",
        per_file(is_valid_time, n),
        is_valid_time.as_secs_f64() * 1e3
    );
    println!(
        "is_valid, parsed values, {} threads: {:.2} µs/file ({:.2} ms for all)",
        rayon::current_num_threads(),
        per_file(par_is_valid_time, n),
        par_is_valid_time.as_secs_f64() * 1e3
    );
    println!(
        "validate, invalid files: {:.2} µs/file ({errors} errors)",
        per_file(validate_time, invalid_values.len())
    );
    println!(
        "read + parse + is_valid, 1 thread: {:.2} µs/file ({:.2} ms for all)",
        per_file(serial_time, n),
        serial_time.as_secs_f64() * 1e3
    );
    println!(
        "read + parse + is_valid, {} threads: {:.2} µs/file ({:.2} ms for all)",
        rayon::current_num_threads(),
        per_file(parallel_time, n),
        parallel_time.as_secs_f64() * 1e3
    );
}

//! Times `cargo_atomic::doc::parse` (or `doc::index`) against plain serde_json or the toml
//! crate on one file or every file of a folder, and reports the peak resident memory.
//!
//! ```text
//! cargo run --release --example parse_speed -- PATH [ours|index|serde_json|toml] [RUNS]
//! ```
//!
//! Run each mode in its own process: the peak memory is the process's. With
//! `PARSE_SPEED_COUNT=1` it also counts the bytes asked of the allocator (slower).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cargo_atomic::doc::{self, Format, Limits};

/// Counts the bytes asked of the allocator (not its own overhead), now and at the most.
struct Counting;

static COUNT: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT.load(Ordering::Relaxed) {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNT.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    COUNT.store(
        std::env::var_os("PARSE_SPEED_COUNT").is_some(),
        Ordering::Relaxed,
    );
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .expect("usage: parse_speed PATH [ours|index|serde_json|toml] [RUNS]"),
    );
    let mode = args.next().unwrap_or_else(|| "ours".to_owned());
    let runs: usize = args
        .next()
        .map_or(5, |n| n.parse().expect("RUNS is a number"));
    let files = files(&path);
    let inputs: Vec<(Format, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let format = Format::from_path(f).expect("a .json, .yaml or .toml file");
            (format, std::fs::read(f).expect("readable file"))
        })
        .collect();
    let total: usize = inputs.iter().map(|(_, b)| b.len()).sum();
    let limits = Limits::default();

    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for (format, bytes) in &inputs {
            run(&mode, *format, bytes, &limits);
        }
        times.push(start.elapsed());
    }
    times.sort();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .unwrap_or_else(|| "?".to_owned());
    let asked = if COUNT.load(Ordering::Relaxed) {
        format!(
            ", peak heap asked {} kB",
            PEAK.load(Ordering::Relaxed) / 1024
        )
    } else {
        String::new()
    };
    println!(
        "{mode}: {} files, {total} bytes, median {:.1} ms, min {:.1} ms over {runs} runs, \
         peak RSS {peak} kB{asked}",
        inputs.len(),
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
    );
}

fn run(mode: &str, format: Format, bytes: &[u8], limits: &Limits) {
    match mode {
        "ours" => {
            let values = doc::parse(format, bytes, limits).expect("parses");
            std::hint::black_box(&values);
        }
        "index" => {
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            std::hint::black_box(&doc::index(format, text));
        }
        "serde_json" => {
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            let value: serde_json::Value = serde_json::from_str(text).expect("parses");
            std::hint::black_box(&value);
        }
        "toml" => {
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            let value: toml::Table = toml::from_str(text).expect("parses");
            std::hint::black_box(&value);
        }
        other => panic!("unknown mode {other}"),
    }
}

/// `path`, or the files in the folder `path`, sorted.
fn files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_owned()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .expect("readable folder")
        .map(|e| e.expect("folder entry").path())
        .collect();
    files.sort();
    files
}

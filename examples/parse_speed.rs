//! Times `cargo_atomic::doc::parse` against plain `serde_json::from_str::<Value>` on one file and
//! reports the peak resident memory of the process (Linux).
//!
//! ```text
//! cargo run --release --example parse_speed -- FILE [ours|serde_json|index] [RUNS]
//! ```
//!
//! Run each mode in its own process: the peak memory is the process's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cargo_atomic::doc::{self, Format, Limits};

/// Counts the bytes asked of the allocator (not its own overhead), now and at the most.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: parse_speed FILE [ours|serde_json|index] [RUNS]");
    let mode = args.next().unwrap_or_else(|| "ours".to_owned());
    let runs: usize = args
        .next()
        .map_or(5, |n| n.parse().expect("RUNS is a number"));
    let bytes = std::fs::read(&path).expect("readable file");
    let format = Format::from_path(path.as_ref()).expect("a .json, .yaml or .toml file");
    let limits = Limits::default();

    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        match mode.as_str() {
            "ours" => {
                let values = doc::parse(format, &bytes, &limits).expect("parses");
                std::hint::black_box(&values);
            }
            "serde_json" => {
                let text = std::str::from_utf8(&bytes).expect("UTF-8");
                let value: serde_json::Value = serde_json::from_str(text).expect("parses");
                std::hint::black_box(&value);
            }
            "index" => {
                let text = std::str::from_utf8(&bytes).expect("UTF-8");
                let index = doc::index(format, text);
                std::hint::black_box(&index);
            }
            other => panic!("unknown mode {other}"),
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
    println!(
        "{mode}: {} bytes, median {:.1} ms, min {:.1} ms over {runs} runs, peak RSS {peak} kB, \
         peak heap asked {} kB",
        bytes.len(),
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        PEAK.load(Ordering::Relaxed) / 1024,
    );
}

//! G5: many processes writing at once lose nothing, and a reader never sees a partial file.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::support::*;

const WRITERS: usize = 8;
const ROUNDS: usize = 25;

fn content(writer: usize, round: usize) -> String {
    // Big enough that a torn write would be visible as invalid JSON.
    format!(
        "{{\"writer\": {writer}, \"round\": {round}, \"pad\": \"{}\"}}\n",
        "x".repeat(8192)
    )
}

#[test]
fn eight_processes_writing_shared_and_own_files_lose_nothing() {
    let ws = Ws::new();
    for f in ["shared0.json", "shared1.json"] {
        ws.put(f, "{\"writer\": null}\n");
    }
    for w in 0..WRITERS {
        ws.put(&format!("own{w}.json"), "{\"writer\": null}\n");
    }
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                for f in ["shared0.json", "shared1.json"] {
                    let text = std::fs::read_to_string(ws.path(f)).expect("the file always exists");
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                        panic!("a reader saw a partial {f} ({e}): {} bytes", text.len())
                    });
                    assert!(v.get("writer").is_some());
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let ws = &ws;
                s.spawn(move || {
                    for r in 0..ROUNDS {
                        let shared = format!("shared{}.json", (w + r) % 2);
                        ws.run_stdin(&["write", &shared], Some(content(w, r).as_bytes()))
                            .ok();
                        ws.run_stdin(
                            &["write", &format!("own{w}.json")],
                            Some(content(w, r).as_bytes()),
                        )
                        .ok();
                    }
                })
            })
            .collect();
        // Join every writer before judging any: the reader stops only once `done` is set, so a
        // failed writer must not leave it spinning forever.
        let results: Vec<_> = writers.into_iter().map(|h| h.join()).collect();
        done.store(true, Ordering::Relaxed);
        for r in results {
            if let Err(panic) = r {
                std::panic::resume_unwind(panic);
            }
        }
    });
    assert!(reads.load(Ordering::Relaxed) > 0);

    // Every version of every file is either its current bytes or a backup: nothing lost.
    let records = ws
        .run(&["backups", "list", "--message-format", "json"])
        .ok()
        .records();
    assert_eq!(
        records.len(),
        WRITERS * ROUNDS * 2,
        "one backup per replace"
    );
    let kept = |path: &str| -> BTreeSet<String> {
        let mut set: BTreeSet<String> = records
            .iter()
            .filter(|r| r["path"] == path)
            .map(|r| {
                let object = ws.path(&format!(
                    ".atomic/objects/{}",
                    r["sha256"].as_str().unwrap()
                ));
                std::fs::read_to_string(object).unwrap()
            })
            .collect();
        set.insert(ws.read(path));
        set
    };
    for f in 0..2 {
        let path = format!("shared{f}.json");
        let mut written: BTreeSet<String> = (0..WRITERS)
            .flat_map(|w| {
                (0..ROUNDS)
                    .filter(move |r| (w + r) % 2 == f)
                    .map(move |r| content(w, r))
            })
            .collect();
        written.insert("{\"writer\": null}\n".into());
        assert_eq!(kept(&path), written, "{path}");
    }
    for w in 0..WRITERS {
        let path = format!("own{w}.json");
        assert_eq!(ws.read(&path), content(w, ROUNDS - 1));
        assert_eq!(kept(&path).len(), ROUNDS + 1);
    }
    ws.run(&["verify"]).ok();
    assert!(ws.leftover_temps().is_empty());
}

//! `backups prune`: the retention policy end to end, through the real binary (G3).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::support::*;

/// Writes `contents` to `file` one after the other, each replacing the last: every write after
/// the first makes a backup of the bytes before it.
fn history(ws: &Ws, file: &str, contents: &[&str]) {
    for c in contents {
        ws.run_stdin(&["write", file], Some(c.as_bytes())).ok();
    }
}

/// `backups list` as JSON, newest first.
fn backups(ws: &Ws) -> Vec<serde_json::Value> {
    ws.run(&["backups", "list", "--message-format", "json"])
        .ok()
        .records()
}

fn ids(rows: &[serde_json::Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The names in `objects/` (the test may read the directory; the tool never does).
fn objects(ws: &Ws) -> BTreeSet<String> {
    fs::read_dir(ws.path(".atomic/objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Every file of the state directory with its bytes (as text, for readable failures).
fn state(ws: &Ws) -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let key = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{key}/"), String::new());
                walk(&p, root, out);
            } else {
                out.insert(key, String::from_utf8_lossy(&fs::read(&p).unwrap()).into());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&ws.path(".atomic"), &ws.path(".atomic"), &mut out);
    out
}

fn prune_json(ws: &Ws, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["backups", "prune", "--message-format", "json"];
    all.extend_from_slice(args);
    ws.run(&all).ok().records()
}

#[test]
fn without_a_policy_everything_is_kept_and_it_says_so() {
    let ws = Ws::new();
    history(&ws, "a.json", &["1\n", "2\n", "3\n"]);
    let mut before = state(&ws);
    let r = ws.run(&["backups", "prune"]).ok();
    assert!(
        r.stderr
            .contains("Kept all 2 backups: no [backups] retention policy is configured"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("no retention policy").count(),
        2,
        "{}",
        r.stderr
    );
    // A real prune takes the exclusive lock, which records its pid; nothing else changes.
    let mut after = state(&ws);
    before.remove("lock");
    after.remove("lock");
    assert_eq!(after, before);
}

#[test]
fn a_workspace_without_a_store_has_nothing_to_prune_and_gets_no_state_dir() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 1\n");
    let lines = prune_json(&ws, &[]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["reason"], "backups-pruned");
    assert!(!ws.path(".atomic").exists());
}

#[test]
fn dry_run_lists_every_decision_and_changes_nothing() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 2\n");
    history(&ws, "a.json", &["1\n", "2\n", "3\n", "4\n", "5\n"]);
    history(&ws, "b.json", &["b1\n", "b2\n"]);
    let before = state(&ws);
    let lines = prune_json(&ws, &["--dry-run"]);
    assert_eq!(state(&ws), before, "a dry run changed the state directory");
    let decisions: Vec<(String, String, String)> = lines
        .iter()
        .filter(|l| l["reason"] != "backups-pruned")
        .map(|l| {
            (
                l["reason"].as_str().unwrap().to_owned(),
                l["path"].as_str().unwrap().to_owned(),
                l["rules"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |r: &str, p: &str, rule: &str| (r.to_owned(), p.to_owned(), rule.to_owned());
    assert_eq!(
        decisions,
        // In index order: the order the backups were made.
        [
            row("backup-dropped", "a.json", "no rule keeps it"),
            row("backup-dropped", "a.json", "no rule keeps it"),
            row("backup-kept", "a.json", "keep-last 2"),
            row("backup-kept", "a.json", "keep-last 2"),
            row("backup-kept", "b.json", "keep-last 2"),
        ]
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["reason"], "backups-pruned");
    assert_eq!(
        (
            &summary["dropped"],
            &summary["objects_removed"],
            &summary["dry_run"]
        ),
        (&2.into(), &2.into(), &true.into())
    );
}

#[test]
fn prune_removes_exactly_the_dropped_backups_and_their_objects() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 2\n");
    history(&ws, "a.json", &["1\n", "2\n", "3\n", "4\n", "5\n"]);
    let all = backups(&ws);
    let objects_before = objects(&ws);
    let lines = prune_json(&ws, &[]);
    let dropped: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["reason"] == "backup-dropped")
        .collect();
    assert_eq!(dropped.len(), 2);
    // The index lists exactly the two newest, in their order.
    assert_eq!(ids(&backups(&ws)), ids(&all[..2]));
    let gone: BTreeSet<String> = objects_before.difference(&objects(&ws)).cloned().collect();
    let want: BTreeSet<String> = dropped
        .iter()
        .map(|l| l["sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone, want);
    assert!(ws.leftover_temps().is_empty(), "{:?}", ws.leftover_temps());
    assert!(!ws.path(".atomic/prune-pending.json").exists());
    // Pruning again finds nothing more to drop.
    let again = prune_json(&ws, &[]);
    assert_eq!(again.last().unwrap()["dropped"], 0);
}

#[test]
fn a_kept_backup_still_restores_after_a_prune() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 1\n");
    history(
        &ws,
        "a.json",
        &["{\"v\": 1}\n", "{\"v\": 2}\n", "{\"v\": 3}\n"],
    );
    ws.run(&["backups", "prune"]).ok();
    let left = backups(&ws);
    assert_eq!(left.len(), 1);
    let id = left[0]["id"].as_str().unwrap();
    ws.run(&["backups", "restore", "a.json", "--id", id]).ok();
    assert_eq!(ws.read("a.json"), "{\"v\": 2}\n");
}

#[test]
fn an_object_shared_by_a_kept_and_a_dropped_backup_stays() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 1\n");
    // Backups, oldest first: "one", "two", "one" — the first and the last share one object.
    history(&ws, "a.json", &["one\n", "two\n", "one\n", "three\n"]);
    let all = backups(&ws);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["sha256"], all[2]["sha256"]);
    let shared = all[0]["sha256"].as_str().unwrap().to_owned();
    let only_dropped = all[1]["sha256"].as_str().unwrap().to_owned();
    let lines = prune_json(&ws, &[]);
    assert_eq!(lines.last().unwrap()["dropped"], 2);
    assert_eq!(lines.last().unwrap()["objects_removed"], 1);
    let now = objects(&ws);
    assert!(now.contains(&shared), "{now:?}");
    assert!(!now.contains(&only_dropped), "{now:?}");
    ws.run(&["backups", "restore", "a.json"]).ok();
    assert_eq!(ws.read("a.json"), "one\n");
}

#[test]
fn files_the_tool_did_not_make_are_never_touched() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-last = 1\n");
    history(&ws, "a.json", &["1\n", "2\n", "3\n"]);
    // A stranger's file, and one named like an object that no record ever listed.
    let stranger = "0".repeat(64);
    ws.put(".atomic/objects/notes.txt", "mine\n");
    ws.put(&format!(".atomic/objects/{stranger}"), "also mine\n");
    ws.run(&["backups", "prune"]).ok();
    assert_eq!(ws.read(".atomic/objects/notes.txt"), "mine\n");
    assert_eq!(
        ws.read(&format!(".atomic/objects/{stranger}")),
        "also mine\n"
    );
}

#[test]
fn an_interrupted_prune_is_finished_by_the_next() {
    // The crash window: the index no longer lists a backup, its object is still there, and
    // the pending list names it (and an object a record still needs, which must stay).
    let ws = Ws::new();
    history(&ws, "a.json", &["1\n", "2\n", "3\n"]);
    let all = backups(&ws);
    let (kept, lost) = (&all[0], &all[1]);
    let index = ws.read(".atomic/backups.jsonl");
    let lost_id = lost["id"].as_str().unwrap();
    let rest: String = index
        .lines()
        .filter(|l| !l.contains(lost_id))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(ws.path(".atomic/backups.jsonl"), rest).unwrap();
    let pending = serde_json::json!({"version": 1, "objects": {
        lost["sha256"].as_str().unwrap(): 2,
        kept["sha256"].as_str().unwrap(): 2,
    }});
    fs::write(ws.path(".atomic/prune-pending.json"), pending.to_string()).unwrap();
    // A dry run reports it and leaves it.
    let dry = prune_json(&ws, &["--dry-run"]);
    assert_eq!(dry.last().unwrap()["objects_removed"], 1);
    assert!(ws.path(".atomic/prune-pending.json").exists());
    // With no policy, only the leftover goes.
    ws.run(&["backups", "prune"]).ok();
    let now = objects(&ws);
    assert!(!now.contains(lost["sha256"].as_str().unwrap()));
    assert!(now.contains(kept["sha256"].as_str().unwrap()));
    assert!(!ws.path(".atomic/prune-pending.json").exists());
    assert_eq!(ids(&backups(&ws)), ids(&all[..1]));
}

#[test]
fn a_leftover_pending_list_never_frees_an_object_a_kept_backup_needs() {
    // An interrupted prune listed an object that a later backup uses again; the next prune
    // drops backups whose objects are all still needed, so it lists nothing new itself.
    let ws = Ws::new();
    history(&ws, "a.json", &["1\n", "2\n", "1\n", "2\n", "3\n"]);
    let all = backups(&ws);
    assert_eq!(all.len(), 4);
    let shared = all[1]["sha256"].as_str().unwrap().to_owned();
    let pending = serde_json::json!({"version": 1, "objects": {&shared: 2}});
    fs::write(ws.path(".atomic/prune-pending.json"), pending.to_string()).unwrap();
    ws.put("atomic.toml", "[backups]\nkeep-last = 2\n");
    ws.run(&["backups", "prune"]).ok();
    assert_eq!(ids(&backups(&ws)), ids(&all[..2]));
    assert!(
        objects(&ws).contains(&shared),
        "a kept backup's object was freed"
    );
    for kept in &all[..2] {
        ws.run(&[
            "backups",
            "restore",
            "a.json",
            "--id",
            kept["id"].as_str().unwrap(),
        ])
        .ok();
    }
    assert!(!ws.path(".atomic/prune-pending.json").exists());
}

#[test]
fn calendar_rules_name_their_bucket_and_the_oldest() {
    let ws = Ws::new();
    ws.put("atomic.toml", "[backups]\nkeep-monthly = 6\n");
    history(&ws, "a.json", &["1\n", "2\n", "3\n", "4\n"]);
    // Give the three backups (oldest first in the index) times of our choosing.
    let times = [
        "2026-10-01T08:00:00.000Z",
        "2026-10-10T08:00:00.000Z",
        "2026-10-20T08:00:00.000Z",
    ];
    let index = ws.read(".atomic/backups.jsonl");
    let faked: String = index
        .lines()
        .zip(times)
        .map(|(l, t)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["time"] = t.into();
            format!("{v}\n")
        })
        .collect();
    fs::write(ws.path(".atomic/backups.jsonl"), faked).unwrap();
    let lines = prune_json(&ws, &["--dry-run"]);
    let got: Vec<String> = lines[..3]
        .iter()
        .map(|l| format!("{} {} {}", l["time"], l["reason"], l["rules"]))
        .collect();
    assert_eq!(
        got,
        [
            r#""2026-10-01T08:00:00.000Z" "backup-kept" ["oldest for keep-monthly"]"#,
            r#""2026-10-10T08:00:00.000Z" "backup-dropped" ["no rule keeps it"]"#,
            r#""2026-10-20T08:00:00.000Z" "backup-kept" ["keep-monthly 6 (2026-10)"]"#,
        ]
    );
}

#[test]
fn bad_retention_values_are_located_and_nothing_runs() {
    let ws = Ws::new();
    history(&ws, "a.json", &["1\n", "2\n"]);
    ws.put(
        "atomic.toml",
        "[backups]\nkeep-within = \"a month\"\nmax-total-size = \"lots\"\n",
    );
    let before = state(&ws);
    let r = ws
        .run(&["backups", "prune", "--message-format", "short"])
        .code(2);
    assert!(
        r.stdout.contains("atomic.toml:2:15: error[config]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("atomic.toml:3:18: error[config]"),
        "{}",
        r.stdout
    );
    assert_eq!(state(&ws), before);
}

#[test]
fn backups_list_shows_the_command_newest_first() {
    let ws = Ws::new();
    history(&ws, "a.json", &["1\n", "2\n", "3\n"]);
    let r = ws.run(&["backups", "list"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].ends_with("COMMAND"), "{}", r.stdout);
    assert!(
        lines[1].ends_with("cargo atomic write a.json"),
        "{}",
        r.stdout
    );
    let rows = backups(&ws);
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[test]
fn the_readme_configuration_is_accepted() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let config = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("[backups]"))
        .expect("a toml block with [backups] in the README");
    let ws = Ws::new();
    ws.put("atomic.toml", config);
    history(&ws, "a.json", &["1\n", "2\n"]);
    let lines = prune_json(&ws, &["--dry-run"]);
    assert_eq!(
        lines.last().unwrap()["policy"],
        "keep-last 10, keep-within 30d, keep-daily 7, keep-weekly 4, keep-monthly 12, max-total-size 200MiB"
    );
}

//! The README's quick start works: the demo tour runs end to end with the built binary as
//! `cargo atomic`.

use std::process::Command;

use crate::support::*;

#[test]
fn readme_starts_with_exactly_two_commands() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```").nth(1).expect("a code block");
    let commands: Vec<&str> = block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].contains("cargo install") && commands[0].contains("examples/demo/tour.sh"));
    assert_eq!(commands[1], "cargo test --locked");
}

#[test]
fn the_demo_tour_runs_end_to_end() {
    let bin_dir = bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo/tour.sh"
    ));
    cmd.env("PATH", path);
    let r = run(cmd, None).ok();
    for expected in [
        // check finds the overlay edit, apply writes the one output it changes
        "rendered/api/prod.json: error[stale]: output is out of date with its sources",
        "Written rendered/api/prod.json",
        "Unchanged rendered/worker/prod.json",
        // a mistake in an overlay is shown where it was made
        "--> services/worker/prod.yaml:15:9",
        "Finished verification of 8 files",
        // the tampered audit record is found at its line
        "--> .atomic/audit.jsonl:3",
    ] {
        assert!(r.stderr.contains(expected), "{expected}\n{}", r.stderr);
    }
    assert!(
        r.stdout
            .contains("-    \"workers\": 16\n+    \"workers\": 32\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("└─ override  services/api/prod.toml:6:11  32"),
        "{}",
        r.stdout
    );
    // Rotation kept the newest three reports, gzipped, and never touched the stranger's file.
    let rotated: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("load-test.json.<stamp>-"))
        .collect();
    assert_eq!(rotated.len(), 3, "{}", r.stdout);
    assert!(rotated.iter().all(|l| l.ends_with(".gz")), "{rotated:?}");
    assert!(r.stdout.contains("notes.txt\n"), "{}", r.stdout);
    assert!(r.stderr.contains("Verified audit log: "), "{}", r.stderr);
    assert!(r.stderr.contains("error[integrity]"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--> config/app.json:3:42"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Finished validation of 7 files"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("-rw------- "),
        "secrets stay 0600: {}",
        r.stdout
    );
    // The tour works on a copy: the demo in the repository is untouched.
    assert!(
        !std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/demo/.atomic"
        ))
        .exists()
    );
}

//! Paths that name the same file are the same file: `./a`, `d/../a`, an absolute path inside
//! the workspace, a symlinked directory and a link to the file all get one key in the
//! manifest, the backup index and every comparison.

use std::os::unix::fs::symlink;

use crate::support::*;

fn merge_config(output: &str) -> String {
    format!(
        "[[merge]]\nname = \"app\"\nsources = [\"src/a.yaml\", \"src/b.yaml\"]\noutput = \"{output}\"\n"
    )
}

#[test]
fn an_output_that_is_a_source_under_another_spelling_is_refused() {
    let ws = Ws::new();
    ws.put("src/a.yaml", "# keep this comment\na: 1\n");
    ws.put("src/b.yaml", "b: 2\n");
    symlink("a.yaml", ws.path("src/alias.yaml")).unwrap();
    symlink("src", ws.path("srcdir")).unwrap();
    for output in [
        "./src/a.yaml",
        "src/alias.yaml",
        "srcdir/a.yaml",
        "src/../src/a.yaml",
    ] {
        ws.put("atomic.toml", &merge_config(output));
        let before = ws.snapshot();
        let r = ws.run(&["apply"]).code(2);
        assert!(
            r.stderr.contains("both an output and a source"),
            "{output}: {}",
            r.stderr
        );
        assert_eq!(ws.snapshot(), before, "{output}: the source was rewritten");
    }
}

#[test]
fn dot_dot_and_absolute_paths_inside_the_workspace_are_accepted() {
    let ws = Ws::new();
    ws.put("src/a.yaml", "a: 1\n");
    ws.put("src/b.yaml", "b: 2\n");
    ws.put(
        "atomic.toml",
        "[[merge]]\nname = \"app\"\nsources = [\"src/../src/a.yaml\", \"src/b.yaml\"]\noutput = \"out/app.json\"\n",
    );
    ws.run(&["apply"]).ok();
    assert_eq!(ws.read("out/app.json"), "{\n  \"a\": 1,\n  \"b\": 2\n}\n");
    ws.run(&["check"]).ok();
    let abs = ws.path("c.json");
    ws.run_stdin(&["write", abs.to_str().unwrap()], Some(b"{}\n"))
        .ok();
    ws.run(&["verify", "c.json"]).ok();
}

#[test]
fn a_write_through_a_link_is_recorded_for_the_file_it_names() {
    let ws = Ws::new();
    ws.put("real.json", "{\"v\": 0}\n");
    symlink("real.json", ws.path("link.json")).unwrap();
    ws.run_stdin(&["write", "link.json"], Some(b"{\"v\": 1}\n"))
        .ok();
    assert!(ws.path("link.json").is_symlink(), "the link stays a link");
    assert_eq!(ws.read("real.json"), "{\"v\": 1}\n");
    let manifest = ws.read(".atomic/manifest.json");
    assert!(manifest.contains("\"real.json\""), "{manifest}");
    assert!(!manifest.contains("link.json"), "{manifest}");
    // Every later command agrees, whichever name it is given.
    ws.run_stdin(&["write", "real.json"], Some(b"{\"v\": 2}\n"))
        .ok();
    ws.run(&["verify"]).ok();
    ws.run(&["verify", "link.json"]).ok();
    ws.run(&["check"]).ok();
    let listed = ws
        .run(&["backups", "list", "link.json", "--message-format", "json"])
        .ok();
    assert_eq!(
        listed
            .stdout
            .lines()
            .filter(|l| l.contains("\"backup\""))
            .count(),
        2,
        "{}",
        listed.stdout
    );
    // The newest backup of the file, whichever name asks for it.
    ws.run(&["backups", "restore", "link.json"]).ok();
    assert_eq!(ws.read("real.json"), "{\"v\": 1}\n");
}

#[test]
fn backups_through_a_symlinked_directory_are_found() {
    let ws = Ws::new();
    ws.put("conf/a.json", "{}\n");
    symlink("conf", ws.path("alias")).unwrap();
    ws.run_stdin(&["write", "conf/a.json"], Some(b"{\"x\": 1}\n"))
        .ok();
    let listed = ws
        .run(&[
            "backups",
            "list",
            "alias/a.json",
            "--message-format",
            "json",
        ])
        .ok();
    assert!(listed.stdout.contains("conf/a.json"), "{}", listed.stdout);
    ws.run(&["backups", "restore", "alias/a.json"]).ok();
    assert_eq!(ws.read("conf/a.json"), "{}\n");
}

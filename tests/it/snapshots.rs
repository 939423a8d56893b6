//! What a person reads: every `--help`, and the JSON lines, as insta snapshots in `snapshots/`.

use crate::support::*;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["validate"],
    &["fetch"],
    &["schema-for"],
    &["merge"],
    &["apply"],
    &["check"],
    &["explain"],
    &["config"],
    &["write"],
    &["set"],
    &["unset"],
    &["verify"],
    &["recover"],
    &["rotate"],
    &["backups"],
    &["backups", "list"],
    &["backups", "restore"],
    &["backups", "prune"],
    &["audit"],
    &["audit", "show"],
    &["audit", "verify"],
    &["hook"],
    &["hook", "install"],
    &["hook", "uninstall"],
    &["init"],
    &["completions"],
];

#[test]
fn every_help_text() {
    let ws = Ws::new();
    for cmd in COMMANDS {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let r = ws.run(&args).ok();
        let name = if cmd.is_empty() {
            "help".to_owned()
        } else {
            format!("help-{}", cmd.join("-"))
        };
        // Help that teaches: every command shows how it is used.
        assert!(r.stdout.contains("Example"), "{name} has no example");
        snapshots(|| insta::assert_snapshot!(name, r.stdout));
    }
}

/// Every command (and subcommand) the tool has is in `COMMANDS`, so none escapes the checks above.
#[test]
fn every_command_has_its_help_checked() {
    let ws = Ws::new();
    let mut missing = Vec::new();
    let mut stack: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(cmd) = stack.pop() {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let help = ws.run(&args).ok().stdout;
        let Some(list) = help.split("Commands:\n").nth(1) else {
            continue;
        };
        for line in list.lines().take_while(|l| !l.trim().is_empty()) {
            // A command's name starts at column 2; wrapped descriptions are indented further.
            let Some(name) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) else {
                continue;
            };
            let name = name.split_whitespace().next().unwrap().to_owned();
            if name == "help" {
                continue;
            }
            let mut sub = cmd.clone();
            sub.push(name);
            if !COMMANDS
                .iter()
                .any(|c| c.iter().copied().eq(sub.iter().map(String::as_str)))
            {
                missing.push(sub.join(" "));
            }
            stack.push(sub);
        }
    }
    assert!(missing.is_empty(), "help not snapshotted: {missing:?}");
}

#[test]
fn json_lines_of_write_verify_and_backups() {
    let ws = Ws::new();
    ws.put("config/app.json", "{\"port\": 80}\n");
    let mut lines = Vec::new();
    let w = ws
        .run_stdin(
            &["write", "config/app.json", "--message-format", "json"],
            Some(b"{\"port\": 8080}\n"),
        )
        .ok();
    lines.push(w.stdout);
    let v = ws.run(&["verify", "--message-format", "json"]).ok();
    lines.push(v.stdout);
    ws.put("config/app.json", "{\"port\": \"eighty\"}\n");
    let v = ws.run(&["verify", "--message-format", "json"]).code(1);
    lines.push(v.stdout);
    let b = ws
        .run(&["backups", "list", "--message-format", "json"])
        .ok();
    lines.push(b.stdout);
    let text = lines.concat();
    snapshots(|| {
        insta::with_settings!({filters => vec![
            (r#""txid":"[0-9a-f-]+""#, r#""txid":"[txid]""#),
            (r#""time":"[0-9TZ:.-]+""#, r#""time":"[time]""#),
            (r#""id":"[0-9a-f]{12}""#, r#""id":"[id]""#),
        ]}, {
            insta::assert_snapshot!("json-lines", text);
        })
    });
}

#[test]
fn human_output_of_an_integrity_finding() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "app.toml"], Some(b"port = 80\n"))
        .ok();
    ws.put("app.toml", "port = 81\n");
    let r = ws.run(&["verify"]).code(1);
    snapshots(|| insta::assert_snapshot!("verify-human", r.stderr));
}

#[test]
fn human_output_of_an_audit_finding() {
    let ws = Ws::new();
    for i in 0..3 {
        ws.run_stdin(
            &["write", "app.json"],
            Some(format!("{{\"n\": {i}}}\n").as_bytes()),
        )
        .ok();
    }
    let log = ws.path(".atomic/audit.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.remove(1);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let r = ws.run(&["audit", "verify"]).code(1);
    snapshots(|| insta::assert_snapshot!("audit-verify-human", r.stderr));
}

/// Story: `apply --message-format json` ended without a `summary`, so a script could not tell
/// a finished run from a cut-off one. Every command's stream ends with exactly one.
#[test]
fn every_command_ends_its_json_lines_with_a_summary() {
    let ws = Ws::new();
    ws.put(
        "atomic.toml",
        "[[validate]]\nfiles = [\"config/*.json\"]\nschema = \"schema.json\"\n\n\
         [[merge]]\nname = \"prod\"\nsources = [\"config/base.json\", \"config/prod.json\"]\n\
         output = \"out/prod.json\"\n\n\
         [[rotate]]\nname = \"logs\"\nfiles = \"logs/*.log\"\nkeep-last = 2\n",
    );
    ws.put("schema.json", r#"{"type": "object"}"#);
    ws.put("config/base.json", "{\"port\": 80}\n");
    ws.put("config/prod.json", "{\"name\": \"prod\"}\n");
    ws.put("logs/a.log", "line\n");
    let runs: &[(&[&str], Option<&[u8]>)] = &[
        (&["validate"], None),
        (&["merge", "config/base.json", "config/prod.json"], None),
        (&["apply", "--dry-run"], None),
        (&["apply"], None),
        (&["apply", "config/base.json"], None),
        (&["check"], None),
        (&["explain", "prod", "/port"], None),
        (&["config"], None),
        (&["write", "config/app.json"], Some(b"{\"port\": 1}\n")),
        (&["write", "config/app.json"], Some(b"[1]\n")),
        (&["set", "config/base.json", "port=81"], None),
        (&["unset", "config/base.json", "port"], None),
        (&["verify"], None),
        (&["verify", "--accept", "config/app.json"], None),
        (&["recover"], None),
        (&["rotate", "--dry-run"], None),
        (&["backups", "list"], None),
        (&["backups", "prune", "--dry-run"], None),
        (&["backups", "restore", "config/base.json"], None),
        (&["audit", "show", "--limit", "1"], None),
        (&["audit", "verify"], None),
        (&["hook", "install"], None),
        (&["check", "--staged"], None),
        (&["validate", "config/missing.json"], None),
        (&["init"], None),
    ];
    let mut text = String::new();
    for (args, stdin) in runs {
        let mut all = args.to_vec();
        all.extend(["--message-format", "json"]);
        let r = ws.run_stdin(&all, *stdin);
        let last = r.stdout.lines().last().unwrap_or_default();
        text.push_str(&format!("{} => exit {}: {last}\n", args.join(" "), r.code));
        // Exactly one summary, last; `merge` to standard output prints the document instead.
        if args[0] != "merge" {
            r.records();
        }
    }
    snapshots(|| insta::assert_snapshot!("json-summaries", text));
}

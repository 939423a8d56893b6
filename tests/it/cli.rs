//! The command line: plumbing, exit codes, output formats, and the store commands end to end.

use crate::support::*;

#[test]
fn write_replaces_and_keeps_a_backup_then_restore_puts_it_back() {
    let ws = Ws::new();
    ws.put("config/app.json", "{\"port\": 80}\n");
    ws.run_stdin(&["write", "config/app.json"], Some(b"{\"port\": 8080}\n"))
        .ok();
    assert_eq!(ws.read("config/app.json"), "{\"port\": 8080}\n");
    let list = ws
        .run(&["backups", "list", "--message-format", "json"])
        .ok();
    let rows = list.json();
    assert_eq!(rows.len(), 1, "{}", list.stdout);
    assert_eq!(rows[0]["path"], "config/app.json");
    ws.run(&["backups", "restore", "config/app.json"]).ok();
    assert_eq!(ws.read("config/app.json"), "{\"port\": 80}\n");
    // The restore kept the bytes it replaced, too.
    assert_eq!(
        ws.run(&["backups", "list", "--message-format", "json"])
            .ok()
            .json()
            .len(),
        2
    );
    assert!(ws.leftover_temps().is_empty());
}

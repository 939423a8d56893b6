//! Metadata and links (G4) through the real binary, and the library's single-file write.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use crate::support::*;

fn object_mode(ws: &Ws, content: &str) -> u32 {
    let digest = cargo_atomic::store::Sha256Digest::of(content.as_bytes());
    let p = ws.path(&format!(".atomic/objects/{digest}"));
    fs::metadata(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_0600_file_stays_0600_and_so_does_its_backup() {
    let ws = Ws::new();
    let p = ws.put("secret.toml", "token = 'old'\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    ws.run_stdin(&["write", "secret.toml"], Some(b"token = 'new'\n"))
        .ok();
    assert_eq!(ws.mode("secret.toml"), 0o600);
    assert_eq!(object_mode(&ws, "token = 'old'\n"), 0o600);
    assert_eq!(
        fs::metadata(ws.path(".atomic"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

#[test]
fn an_executable_keeps_its_x_bits() {
    let ws = Ws::new();
    let p = ws.put("run.sh", "#!/bin/sh\necho old\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    ws.run_stdin(&["write", "run.sh"], Some(b"#!/bin/sh\necho new\n"))
        .ok();
    assert_eq!(ws.mode("run.sh"), 0o755);
}

#[test]
fn a_new_file_gets_the_umask_default() {
    let ws = Ws::new();
    ws.run_stdin(&["write", "new/dir/file.json"], Some(b"{}\n"))
        .ok();
    assert_eq!(ws.read("new/dir/file.json"), "{}\n");
    // The tests run with the usual 022 umask or a stricter one; never wider than 0644.
    assert_eq!(ws.mode("new/dir/file.json") & !0o644, 0);
}

#[test]
fn a_symlink_inside_the_workspace_stays_a_link_and_its_target_gets_the_bytes() {
    let ws = Ws::new();
    ws.put("real/app.json", "{\"v\": 1}\n");
    fs::set_permissions(ws.path("real/app.json"), fs::Permissions::from_mode(0o640)).unwrap();
    symlink("real/app.json", ws.path("app.json")).unwrap();
    ws.run_stdin(&["write", "app.json"], Some(b"{\"v\": 2}\n"))
        .ok();
    assert!(
        fs::symlink_metadata(ws.path("app.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_link(ws.path("app.json")).unwrap().to_str(),
        Some("real/app.json")
    );
    assert_eq!(ws.read("real/app.json"), "{\"v\": 2}\n");
    // Metadata comes from the resolved file, never from the link (whose bits are 0777).
    assert_eq!(ws.mode("real/app.json"), 0o640);
    assert_eq!(object_mode(&ws, "{\"v\": 1}\n"), 0o640);
}

#[test]
fn a_symlink_pointing_outside_is_refused_and_nothing_changes() {
    let ws = Ws::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("passwd");
    fs::write(&target, "root:x:0:0\n").unwrap();
    symlink(&target, ws.path("app.json")).unwrap();
    let before = ws.snapshot();
    let r = ws
        .run_stdin(&["write", "app.json"], Some(b"pwned\n"))
        .code(2);
    assert!(r.stderr.contains("outside the workspace"), "{}", r.stderr);
    assert!(r.stderr.contains("app.json"), "{}", r.stderr);
    assert_eq!(fs::read_to_string(&target).unwrap(), "root:x:0:0\n");
    assert_eq!(ws.snapshot(), before);
    assert!(
        !ws.path(".atomic").exists(),
        "a refused write creates no state either"
    );
    assert!(ws.leftover_temps().is_empty());
}

#[test]
fn a_dangling_symlink_is_refused() {
    let ws = Ws::new();
    symlink("nowhere.json", ws.path("app.json")).unwrap();
    let r = ws.run_stdin(&["write", "app.json"], Some(b"{}\n")).code(2);
    assert!(r.stderr.contains("dangling symlink"), "{}", r.stderr);
    assert!(!ws.path("nowhere.json").exists());
}

#[test]
fn a_path_outside_the_workspace_is_refused() {
    let ws = Ws::new();
    let r = ws
        .run_stdin(&["write", "../escape.json"], Some(b"{}\n"))
        .code(2);
    assert!(r.stderr.contains("outside the workspace"), "{}", r.stderr);
    assert!(!ws.root().parent().unwrap().join("escape.json").exists());
}

#[test]
fn a_hard_linked_file_is_refused_unless_allowed() {
    let ws = Ws::new();
    ws.put("a.json", "old\n");
    fs::hard_link(ws.path("a.json"), ws.path("b.json")).unwrap();
    let r = ws.run_stdin(&["write", "a.json"], Some(b"new\n")).code(2);
    assert!(r.stderr.contains("2 hard links"), "{}", r.stderr);
    assert!(r.stderr.contains("--allow-hardlinks"), "{}", r.stderr);
    assert_eq!(ws.read("a.json"), "old\n");

    ws.run_stdin(&["write", "a.json", "--allow-hardlinks"], Some(b"new\n"))
        .ok();
    assert_eq!(ws.read("a.json"), "new\n");
    // The other link keeps the old inode and bytes; ours is a new file.
    assert_eq!(ws.read("b.json"), "old\n");
    assert_eq!(fs::metadata(ws.path("a.json")).unwrap().nlink(), 1);
}

#[test]
fn a_directory_is_not_a_file() {
    let ws = Ws::new();
    fs::create_dir(ws.path("dir")).unwrap();
    let r = ws.run_stdin(&["write", "dir"], Some(b"x")).code(2);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
}

#[test]
fn extended_attributes_are_copied_where_the_filesystem_has_them() {
    let ws = Ws::new();
    let p = ws.put("tagged.json", "{}\n");
    let name = std::ffi::OsStr::new("user.cargo-atomic-test");
    if rustix::fs::setxattr(&p, name, b"kept", rustix::fs::XattrFlags::empty()).is_err() {
        eprintln!("skipped: this filesystem does not take user xattrs");
        return;
    }
    ws.run_stdin(&["write", "tagged.json"], Some(b"{\"x\": 1}\n"))
        .ok();
    let mut buf = [0u8; 16];
    let n = rustix::fs::getxattr(ws.path("tagged.json"), name, &mut buf).expect("xattr copied");
    assert_eq!(&buf[..n], b"kept");
}

#[test]
fn library_write_file_replaces_atomically_without_a_store() {
    use cargo_atomic::store::{WriteOptions, write_file};
    let ws = Ws::new();
    ws.put("out/gen.rs", "old");
    let w = write_file(
        ws.root(),
        "out/gen.rs".as_ref(),
        b"new",
        WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(ws.read("out/gen.rs"), "new");
    assert_eq!(w.sha256, cargo_atomic::store::Sha256Digest::of(b"new"));
    assert!(
        !ws.path(".atomic").exists(),
        "write_file needs no state dir"
    );
    assert!(ws.leftover_temps().is_empty());
}

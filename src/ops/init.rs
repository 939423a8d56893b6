//! `init`: a starter `atomic.toml`, an example schema, and the state directory in `.gitignore`,
//! from `templates/`. Never overwrites: if the configuration exists, nothing is written.

use std::path::{Path, PathBuf};

use super::{Error, Outcome, Workspace, write};
use crate::event::Sink;
use crate::store::Store;

/// The starter configuration.
pub const CONFIG: &str = include_str!("../../templates/atomic.toml");
/// The example schema it names.
pub const SCHEMA: &str = include_str!("../../templates/example.schema.json");

/// Writes the starter files, in one transaction. The schema is left alone if it exists, and
/// `.gitignore` only gains a line.
pub fn init(ws: &Workspace, command: String, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    for existing in [Path::new("atomic.toml"), Path::new(".config/atomic.toml")] {
        if ws.root.join(existing).exists() {
            return Err(Error::Usage(format!(
                "`{}` already exists; cargo atomic init never overwrites",
                existing.display()
            )));
        }
    }
    if let Some(source) = &ws.config_source {
        return Err(Error::Usage(format!(
            "the configuration is already in `{}`; cargo atomic init never overwrites",
            ws.shown(source).display()
        )));
    }
    let state = ws.config.settings.state_dir.to_string_lossy().into_owned();
    let ignore_line = format!("/{}/", state.trim_matches('/'));
    let gitignore = ws.root.join(".gitignore");
    let old_ignore = match std::fs::read_to_string(&gitignore) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", &gitignore, e)),
    };
    let store = Store::open(&ws.root, ws.store_options(command), sink)?;
    let mut tx = store.transaction("init");
    tx.write("atomic.toml", CONFIG)?;
    let schema = PathBuf::from("schemas/example.schema.json");
    if !ws.root.join(&schema).exists() {
        tx.write(&schema, SCHEMA)?;
    }
    let listed = old_ignore.as_deref().is_some_and(|t| {
        t.lines()
            .any(|l| l.trim() == ignore_line || l.trim() == state)
    });
    if !listed {
        let mut text = old_ignore.unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# cargo atomic's state: lock, journal, backups, manifest, audit log\n");
        text.push_str(&ignore_line);
        text.push('\n');
        tx.write(".gitignore", text)?;
    }
    let committed = tx.commit()?;
    drop(store);
    Ok(write::report(committed, sink))
}

//! `recover [--rollback]`: finish or undo an interrupted transaction.

use super::{Error, Outcome, Workspace};
use crate::event::Sink;
use crate::store::{RecoverMode, Store};

/// Finishes (or, with `rollback`, undoes) interrupted transactions. Every other command rolls
/// forward on its own; this one exists to choose rollback, and to say what happened.
pub fn recover(ws: &Workspace, rollback: bool, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    let store = Store::open_exclusive(&ws.root, ws.store_options(String::new()), sink)?;
    let mode = if rollback {
        RecoverMode::RollBack
    } else {
        RecoverMode::RollForward
    };
    let mut n = store.recover(mode, sink)?;
    // Interrupted rotation steps are finished or undone the one way they can be.
    n += super::rotate::recover_rotations(&store, sink)?;
    Ok(Outcome {
        files: n,
        ..Outcome::default()
    })
}

//! `recover [--rollback]`: finish or undo an interrupted transaction.

use super::{Error, Outcome, Workspace};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::event::{Event, Sink};
use crate::store::{RecoverMode, Store};

/// Finishes (or, with `rollback`, undoes) interrupted transactions. Every other command rolls
/// forward on its own; this one exists to choose rollback, and to say what happened.
///
/// With `repair`, damaged state is set aside and rebuilt first ([`Store::doctor`]), each step
/// reported as a warning and audited: recovery could not run past it.
pub fn recover(
    ws: &Workspace,
    rollback: bool,
    repair: bool,
    sink: &mut dyn Sink,
) -> Result<Outcome, Error> {
    let store = Store::open_exclusive(&ws.root, ws.store_options(String::new()), sink)?;
    let mut repaired = 0;
    if repair {
        for r in store.doctor()? {
            repaired += 1;
            let mut d = Diagnostic::error(
                Code::Integrity,
                &r.file,
                format!("damaged; set aside as `{}`", r.set_aside.display()),
            )
            .with_note(format!("rebuilt: {}", r.rebuilt));
            d.severity = Severity::Warning;
            sink.event(Event::Diagnostic(d));
        }
    }
    let mode = if rollback {
        RecoverMode::RollBack
    } else {
        RecoverMode::RollForward
    };
    let mut n = store.recover(mode, sink)?;
    // Interrupted rotation steps are finished or undone the one way they can be.
    n += super::rotate::recover_rotations(&store, sink)?;
    // A killed `hook install` or `fetch` leaves its temp beside the hook or the lock, outside
    // any journal.
    super::hook::remove_stale_temps(ws)?;
    crate::store::remove_write_temps(&ws.root, super::pins::LOCK_FILE.as_bytes())?;
    Ok(Outcome {
        files: n + repaired,
        warnings: repaired,
        ..Outcome::default()
    })
}

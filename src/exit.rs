//! Exit codes: the documented contract between `cargo atomic` and the scripts that call it.
//!
//! Every error variant maps to exactly one of these (see `ops::Error::exit_code`).

/// Success, or nothing to do.
pub const SUCCESS: i32 = 0;
/// Findings: invalid data, a stale output, a checksum or audit mismatch.
pub const FINDINGS: i32 = 1;
/// The command could not run (usage, config, I/O, lock), and nothing was changed.
pub const FAILURE: i32 = 2;
/// An internal bug: a panic. Please report it.
pub const BUG: i32 = 101;

//! cargo atomic: validate, merge and durably write a workspace's configuration files.
//!
//! The library behind the `cargo atomic` subcommand. Its layers, each using only those below:
//! `ops` (the commands as functions) over `store` (durable state: atomic writes, transactions,
//! backups, manifest). Events go to a [`event::Sink`]; nothing here prints.
#![deny(missing_docs)]

pub mod diagnostic;
pub mod doc;
pub mod event;
pub mod exit;
pub mod ops;
pub mod store;

//! Integration tests: the real `cargo-atomic` binary on real temp workspaces.

mod cli;
mod concurrency;
mod crash;
mod readme;
mod snapshots;
mod store;
mod support;

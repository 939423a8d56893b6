//! Integration tests: the real `cargo-atomic` binary on real temp workspaces.

mod cli;
mod concurrency;
mod corpus_yaml;
mod readme;
mod snapshots;
mod store;
mod support;

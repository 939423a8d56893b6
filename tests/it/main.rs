//! Integration tests: the real `cargo-atomic` binary on real temp workspaces.

mod audit;
mod cli;
mod concurrency;
mod corpus_jsonschema;
mod corpus_toml;
mod corpus_yaml;
mod crash;
mod doc_index;
mod merge;
mod merge_laws;
mod readme;
mod snapshots;
mod store;
mod support;
mod validate;

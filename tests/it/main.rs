//! Integration tests: the real `cargo-atomic` binary on real temp workspaces.

mod apply;
mod audit;
mod build_script;
mod cli;
mod concurrency;
mod corpus_jsonschema;
mod corpus_toml;
mod corpus_yaml;
mod crash;
mod crash_rotate;
mod doc_index;
mod edit;
mod edit_corpus;
mod edit_laws;
mod hook;
mod merge;
mod merge_laws;
mod prune;
mod prune_crash;
mod readme;
mod rotate;
mod snapshots;
mod store;
mod support;
mod validate;
mod yaml_builder;

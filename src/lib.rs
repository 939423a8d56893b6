//! cargo atomic: validate, merge and durably write a workspace's configuration files.
//!
//! The library behind the `cargo atomic` subcommand. Its layers, each using only those below:
//! `ops` (the commands as functions) over `store` (durable state: atomic writes, transactions,
//! backups, manifest). Events go to a [`event::Sink`]; nothing here prints.
//!
//! Writing several files as one crash-safe transaction:
//!
//! ```
//! use cargo_atomic::event::Discard;
//! use cargo_atomic::store::{Store, StoreOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let root = dir.path();
//! let store = Store::open(root, StoreOptions::default(), &mut Discard)?;
//! let mut tx = store.transaction("write");
//! tx.write("config/rendered/prod.json", "{\"port\": 443}\n")?;
//! tx.write("config/rendered/dev.json", "{\"port\": 8080}\n")?;
//! let done = tx.commit()?; // all files, or none; dropping `tx` instead discards it
//! assert_eq!(done.files.len(), 2);
//! assert_eq!(std::fs::read_to_string(root.join("config/rendered/dev.json"))?, "{\"port\": 8080}\n");
//! # Ok(())
//! # }
//! ```
//!
//! Validating a document against a schema, with every error located:
//!
//! ```
//! use cargo_atomic::doc::{self, Format, Limits, schema};
//! use std::sync::Arc;
//!
//! let text = "server:\n  port: eighty\n";
//! let value = &doc::parse(Format::Yaml, text.as_bytes(), &Limits::default()).unwrap()[0];
//! let schema_json = serde_json::json!({
//!     "properties": {"server": {"properties": {"port": {"type": "integer"}}}}
//! });
//! let options = schema::CompileOptions::default();
//! let compiled = schema::compile(&schema_json, &options, Arc::new(schema::NoSource)).unwrap();
//! let errors = compiled.validate(value);
//! let index = &doc::index(Format::Yaml, text)[0];
//! let place = index.get(&errors[0].instance_pointer).unwrap().value.start;
//! assert_eq!((place.line, place.column), (2, 9));
//! ```
#![deny(missing_docs)]

pub mod build;
pub mod diagnostic;
pub mod digest;
pub mod doc;
pub mod event;
pub mod exit;
pub mod ops;
pub mod store;

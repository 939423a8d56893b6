//! The manifest: for every managed file, the SHA-256 and size it had when the store last wrote
//! it. `verify` and `check` compare the disk with it; only transactions change it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{IoContext, Result, StoreError};
use crate::digest::Sha256Digest;

/// The recorded state of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Digest of its bytes.
    pub sha256: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// What a generated file was made from: the digests of its sources and its schema when it was
/// written (`apply` records them; a file written by hand has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Each source, relative to the workspace root, with the digest of the bytes that were read.
    pub sources: BTreeMap<String, Sha256Digest>,
    /// The schema the output was validated against, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Sha256Digest>,
}

/// Every managed file, by path relative to the workspace root (sorted, `/`-separated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// The files.
    pub files: BTreeMap<String, FileState>,
    /// For generated files (a subset of `files`), what they were made from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Inputs>,
}

impl Manifest {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = match super::trust::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    version: 1,
                    ..Manifest::default()
                });
            }
            Err(e) => return Err(e).ctx("read", path),
        };
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| StoreError::Damaged {
                path: path.to_owned(),
                detail: e.to_string(),
            })?;
        for key in manifest.files.keys().chain(manifest.inputs.keys()) {
            super::trust::check_rel(path, key)?;
        }
        for i in manifest.inputs.values() {
            for key in i.sources.keys() {
                super::trust::check_rel(path, key)?;
            }
        }
        Ok(manifest)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        v.push(b'\n');
        v
    }

    /// Sets (`Some`) or removes (`None`) the entries of these paths, with their inputs.
    pub(crate) fn upsert<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a str, Option<FileState>, Option<&'a Inputs>)>,
    ) {
        for (path, state, inputs) in changes {
            match state {
                Some(s) => {
                    self.files.insert(path.to_owned(), s);
                }
                None => {
                    self.files.remove(path);
                }
            }
            match inputs.filter(|_| state.is_some()) {
                Some(i) => {
                    self.inputs.insert(path.to_owned(), i.clone());
                }
                None => {
                    self.inputs.remove(path);
                }
            }
        }
    }
}

//! The twin and the scenarios as data: every file they were read from, by the path it was read
//! under, so that a worker replays exactly the same reads from memory. Content-addressed: the
//! bundle's hash is the SHA-256 of its canonical JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Result, SweepError};

/// Everything a sweep reads, held in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// The twin's root files, as given (includes are found among `files`).
    pub twin: Vec<String>,
    /// Every file read (twin files, includes, scenarios, their CSV series), by path.
    pub files: BTreeMap<String, String>,
}

impl Bundle {
    /// Reads the twin made of `roots` and the `scenarios` through `read`, keeping every file
    /// read. Fails when a file is not UTF-8 or the twin has errors; a scenario that cannot be
    /// read stays out of `files` and is reported when the sweep is prepared.
    pub fn capture(
        roots: &[PathBuf],
        scenarios: &[PathBuf],
        mut read: impl FnMut(&Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<Bundle> {
        let mut files = BTreeMap::new();
        let mut bad: Option<SweepError> = None;
        let mut recording = |p: &Path| -> std::io::Result<Vec<u8>> {
            let bytes = read(p)?;
            match String::from_utf8(bytes.clone()) {
                Ok(text) => {
                    files.insert(p.display().to_string(), text);
                }
                Err(_) => {
                    bad.get_or_insert(SweepError::Invalid(format!(
                        "{}: file is not valid UTF-8",
                        p.display()
                    )));
                }
            }
            Ok(bytes)
        };
        let loaded = doppel_model::load(roots, &mut recording);
        for s in scenarios {
            let _ = doppel_model::scenario::load_scenario(s, &mut recording);
        }
        if let Some(e) = bad {
            return Err(e);
        }
        if !loaded.is_valid() {
            let lines: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            return Err(SweepError::Invalid(lines.join("\n")));
        }
        Ok(Bundle {
            twin: roots.iter().map(|p| p.display().to_string()).collect(),
            files,
        })
    }

    /// The bundle's content address: SHA-256 (hex) of its canonical JSON.
    pub fn hash(&self) -> String {
        crate::sha256_hex(&self.to_bytes())
    }

    /// Canonical JSON (files sorted by path).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a bundle and checks it against the hash it was stored under.
    pub fn from_bytes(bytes: &[u8], expected_hash: &str) -> Result<Bundle> {
        let b: Bundle = serde_json::from_slice(bytes).map_err(|e| SweepError::Corrupt {
            what: "bundle".into(),
            message: e.to_string(),
        })?;
        let h = b.hash();
        if h != expected_hash {
            return Err(SweepError::Corrupt {
                what: "bundle".into(),
                message: format!("content hash {h} differs from its address {expected_hash}"),
            });
        }
        Ok(b)
    }

    /// Reads a file of the bundle as the model's loaders expect (not found when absent).
    pub fn read(&self, p: &Path) -> std::io::Result<Vec<u8>> {
        self.files
            .get(&p.display().to_string())
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "not in the sweep's bundle")
            })
    }

    /// Loads the twin from the bundle; errors when it is not valid.
    pub fn twin(&self) -> Result<doppel_model::Loaded> {
        let loaded = doppel_model::load(&self.twin, |p| self.read(p));
        if !loaded.is_valid() {
            let lines: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            return Err(SweepError::Invalid(lines.join("\n")));
        }
        Ok(loaded)
    }

    /// Total size of the files, in bytes.
    pub fn size(&self) -> usize {
        self.files.values().map(String::len).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fs(files: &[(&str, &str)]) -> impl FnMut(&Path) -> std::io::Result<Vec<u8>> + use<> {
        let map: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |p: &Path| {
            map.get(&p.display().to_string())
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
        }
    }

    const TWIN: &str = "doppel: 1\nname: t\nservices:\n  api:\n    endpoints:\n      get: {service_time: {dist: exponential, mean: 10ms}}\nworkloads:\n  users:\n    open: {rate: 5/s}\n    flow: {steps: {get: {service: api}}}\n";

    #[test]
    fn captures_every_file_read_and_replays_them() {
        let b = Bundle::capture(
            &[PathBuf::from("t/doppel.yaml")],
            &[PathBuf::from("s/a.yaml")],
            fs(&[
                ("t/doppel.yaml", TWIN),
                ("s/a.yaml", "scenario: 1\nduration: 10s\n"),
                ("unrelated", "x"),
            ]),
        )
        .unwrap();
        let keys: Vec<&str> = b.files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["s/a.yaml", "t/doppel.yaml"]);
        assert!(b.twin().unwrap().twin.services.contains_key("api"));
        // The hash is SHA-256 of the canonical JSON, and decoding checks it.
        let bytes = b.to_bytes();
        assert_eq!(b.hash().len(), 64);
        assert_eq!(Bundle::from_bytes(&bytes, &b.hash()).unwrap(), b);
        let err = Bundle::from_bytes(&bytes, &"0".repeat(64)).unwrap_err();
        assert!(
            err.to_string().contains("differs from its address"),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_twin_is_refused_with_its_diagnostics() {
        let err = Bundle::capture(
            &[PathBuf::from("t.yaml")],
            &[],
            fs(&[("t.yaml", "doppel: 1\nservices:\n  api: {replicas: two}\n")]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:3:"), "{err}");
    }
}

//! Reading twin files from disk for the subcommands.

use std::io::Write;
use std::path::PathBuf;

use doppel_model::Loaded;

/// Loads and validates the twin made of `files` (and what they include).
pub fn load(files: &[PathBuf]) -> Loaded {
    doppel_model::load(files, |p| std::fs::read(p))
}

/// Loads the twin; if it has errors, prints every one to stderr and returns `None`.
/// Warnings are not printed here: `doppel validate` is where to read them.
pub fn load_valid(files: &[PathBuf]) -> std::io::Result<Option<Loaded>> {
    let loaded = load(files);
    if loaded.is_valid() {
        return Ok(Some(loaded));
    }
    let mut err = std::io::stderr().lock();
    for d in loaded.errors() {
        writeln!(err, "{d}")?;
    }
    Ok(None)
}

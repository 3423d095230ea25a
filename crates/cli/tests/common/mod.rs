//! Helpers shared by the CLI's end-to-end tests: where the repository is, and how to run the
//! real `doppel` binary.
// Each test file uses a subset; a failure inside a helper is a failed test.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `doppel ARGS` in `dir`; returns (exit code, stdout, stderr).
pub fn doppel_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `doppel ARGS` at the repository root.
pub fn doppel(args: &[&str]) -> (i32, String, String) {
    doppel_in(&repo(), args)
}

//! End-to-end tests of `doppel import` and `doppel diff`: the real binary on the public samples
//! the importer crate keeps, in a temporary directory, chained the way a user would chain them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn doppel(dir: &Path, args: &[&str]) -> (i32, String, String) {
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

/// Kubernetes manifests in, a twin file out that validates, simulates, and re-imports to no
/// change; `doppel diff` sees what a second source adds.
#[test]
fn import_kubernetes_then_validate_simulate_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let manifests =
        repo().join("crates/import/test_data/k8s/online-boutique.kubernetes-manifests.yaml");
    let manifests = manifests.to_str().unwrap();
    let (code, _, stderr) = doppel(
        dir.path(),
        &["import", "k8s", manifests, "--into", "twin.yaml"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = doppel(dir.path(), &["validate", "twin.yaml"]);
    assert_eq!(code, 0, "{stdout}");
    // Online Boutique: 12 Deployments become 12 services (the importer's own tests check the
    // 16 env-declared dependencies).
    assert!(stdout.contains("12 services"), "{stdout}");

    // Importing the same manifests again changes nothing.
    let before = std::fs::read_to_string(dir.path().join("twin.yaml")).unwrap();
    std::fs::copy(dir.path().join("twin.yaml"), dir.path().join("before.yaml")).unwrap();
    let (code, _, stderr) = doppel(
        dir.path(),
        &["import", "k8s", manifests, "--into", "twin.yaml"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("twin.yaml")).unwrap(),
        before
    );
    let (code, stdout, _) = doppel(
        dir.path(),
        &["diff", "before.yaml", "twin.yaml", "--exit-code"],
    );
    assert_eq!(code, 0, "{stdout}");

    // The imported twin is simulable as it stands (placeholder service times).
    let (code, stdout, stderr) = doppel(
        dir.path(),
        &[
            "simulate",
            "twin.yaml",
            "--duration",
            "20s",
            "--warmup",
            "2s",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("simulated 20 s"), "{stdout}");
}

#[test]
fn import_reports_junk_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state.json"),
        "{\"format_version\": \"1.0\", \"values\": ",
    )
    .unwrap();
    let (code, stdout, stderr) = doppel(dir.path(), &["import", "terraform", "state.json"]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("state.json:") || stdout.contains("state.json:"),
        "{stdout}{stderr}"
    );
    assert!(!dir.path().join("twin.yaml").exists());
}

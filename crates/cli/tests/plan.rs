//! End-to-end tests of `doppel plan`: a change imported from Kubernetes manifests is tested on
//! the twin, with `doppel check`'s exit codes. The expected verdicts come from queueing theory
//! (the derivations are in the manifests' headers under `crates/cli/test_data/plan/`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn plan(manifest: &str) -> (i32, String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/plan");
    let out = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args([
            "plan",
            "twin.yaml",
            "--k8s",
            manifest,
            "--duration",
            "300s",
            "--warmup",
            "30s",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn scaling_down_breaks_the_p99_objective() {
    let (code, out, err) = plan("scale-down.yaml");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("~ service:api: replicas"), "{out}");
    assert!(out.contains("verdict: the change breaks 1 SLO(s)"), "{out}");
    assert!(out.contains("api-p99 (workload:users)"), "{out}");
    // The importer says the endpoint it adds is a placeholder, naming the manifest.
    assert!(err.contains("scale-down.yaml:"), "{err}");
}

#[test]
fn scaling_up_keeps_every_objective() {
    let (code, out, err) = plan("scale-up.yaml");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("verdict: every SLO holds after the change"),
        "{out}"
    );
}

#[test]
fn a_broken_change_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: apps/v1\nkind: Deployment\nspec: [1, 2\n").unwrap();
    let (code, _, err) = plan(bad.to_str().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:"), "{err}");
}

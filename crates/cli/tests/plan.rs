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

/// A Terraform plan that destroys `aws_instance.web[1]` (imported as host `web-2`, its Name
/// tag): the host is gone from the twin after the change.
#[test]
fn a_terraform_plan_that_destroys_an_instance_removes_its_host() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/plan");
    let state = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../import/test_data/terraform/shop.show-state.json");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_doppel"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, _, err) = run(&[
        "import",
        "terraform",
        state.to_str().unwrap(),
        "--into",
        "twin.yaml",
    ]);
    assert_eq!(code, 0, "{err}");
    let twin = std::fs::read_to_string(dir.path().join("twin.yaml")).unwrap();
    assert!(twin.contains("  web-2:"), "{twin}");
    let plan = data.join("delete-web-1.plan.json");
    let (code, out, err) = run(&[
        "plan",
        "twin.yaml",
        "--terraform",
        plan.to_str().unwrap(),
        "--duration",
        "20s",
        "--warmup",
        "2s",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("plan: 1 change(s) to the twin\n  - host:web-2\n"),
        "{out}"
    );
}

//! End-to-end tests of `doppel route` (against FIGRET's published optimal MLU for GEANT) and
//! `doppel demo` (the live twin starts, prints where it listens, a token and what to try, and
//! stops; a busy port is a clear error; the README opens with it) and `doppel serve`'s
//! Prometheus pull options.
#![allow(clippy::unwrap_used)]

mod common;
use common::{doppel, repo};

use std::path::{Path, PathBuf};

fn geant(file: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../netopt/test_data/figret/GEANT")
        .join(file);
    p.to_str().unwrap().to_owned()
}

/// FIGRET publishes the optimal MLU of GEANT's first training matrix over its tunnels as
/// 0.952525 (train_5.opt, first line); the LP must find it.
#[test]
fn route_reproduces_the_published_optimum_on_geant() {
    let published: f64 = std::fs::read_to_string(geant("train_5.opt"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((published - 0.952525).abs() < 1e-6, "{published}");
    let (code, out, err) = doppel(&[
        "route",
        &geant("GEANT.json"),
        "--traffic",
        &geant("train_5.hist"),
        "--tunnels",
        &geant("tunnels.txt"),
        "--method",
        "lp-paths",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mlu = v["mlu"].as_f64().unwrap();
    assert!(
        (mlu - published).abs() < 1e-4 * published,
        "{mlu} vs {published}"
    );
    // ECMP on hop counts cannot do better than the optimum.
    let (code, out, _) = doppel(&[
        "route",
        &geant("GEANT.json"),
        "--traffic",
        &geant("train_5.hist"),
        "--method",
        "ecmp",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let ecmp: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ecmp["mlu"].as_f64().unwrap() >= mlu - 1e-9);
}

#[test]
fn demo_starts_prints_a_token_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let listen = "127.0.0.1:0";
    let (code, out, err) = doppel(&[
        "demo",
        "--listen",
        listen,
        "--data",
        dir.path().to_str().unwrap(),
        "--stop-after",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Doppel live twin at http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("Admin token (shown once"), "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Admin token (shown once, store it now): "))
        .unwrap();
    assert!(token.starts_with("dpl_") && token.len() == 68, "{token}");
    // What to do next: curl lines with the real token, and where the UI is.
    assert!(
        out.contains(&format!(
            "curl -H 'Authorization: Bearer {token}' http://127.0.0.1:"
        )),
        "{out}"
    );
    assert!(out.contains("/api/drift"), "{out}");
    assert!(out.contains("Web UI: http://127.0.0.1:"), "{out}");
}

#[test]
fn demo_on_a_busy_port_says_so_and_how_to_choose_another() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = doppel(&[
        "demo",
        "--listen",
        &addr,
        "--data",
        dir.path().to_str().unwrap(),
        "--stop-after",
        "2",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("--listen"), "{err}");
    // Nothing was started: no store was created.
    assert!(!dir.path().join("doppel.db").exists());
}

/// The README opens with the demo and the test command; the demo command as written starts
/// (here on a free port, stopped after a moment).
#[test]
fn readme_opens_with_the_demo_and_the_tests() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in the README");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        commands,
        vec![
            "cargo run --release -p doppel-cli -- demo",
            "cargo test --workspace"
        ],
        "the README's first commands changed"
    );
    let demo_args: Vec<&str> = commands[0]
        .split(" -- ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut args = demo_args.clone();
    args.extend([
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--stop-after",
        "1",
    ]);
    let (code, out, err) = doppel(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Admin token (shown once"), "{out}");
}

#[test]
fn serve_reports_every_problem_of_a_pull_config_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pull.yaml");
    std::fs::write(
        &cfg,
        "interval: 15s\nqueries:\n  - name: x\n    entity: pods\n    metric: utilization\n    query: up\n  - {name: y}\n",
    )
    .unwrap();
    let (code, _, err) = common::doppel_in(
        dir.path(),
        &[
            "serve",
            "--prometheus",
            "http://127.0.0.1:9",
            "--pull-config",
            "pull.yaml",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("pull.yaml:4:13: queries[0].entity: unknown entity kind `pods`"),
        "{err}"
    );
    assert!(
        err.contains("pull.yaml:7:5: queries[1]: missing field `entity`"),
        "{err}"
    );
    // Nothing was started.
    assert!(!dir.path().join("doppel.db").exists());
}

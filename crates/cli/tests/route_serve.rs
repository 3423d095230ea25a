//! End-to-end tests of `doppel route` (against FIGRET's published optimal MLU for GEANT) and
//! `doppel demo` (the live twin starts, prints where it listens and a token, and stops).
#![allow(clippy::unwrap_used)]

mod common;
use common::doppel;

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
}

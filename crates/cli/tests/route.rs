//! End-to-end tests of `doppel route`'s newer answers: traffic derived from a twin's
//! workloads, the delay objective, warm-started `--all`, robust routing and the JSON
//! contract (`mlu`, `method`, `solve_seconds`, `links[]`, IGP `weights[]`).
#![allow(clippy::unwrap_used)]

mod common;
use common::{doppel, doppel_in};

use std::path::{Path, PathBuf};

fn netopt(rel: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../netopt/test_data")
        .join(rel);
    p.to_str().unwrap().to_owned()
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_twin_is_routed_with_the_traffic_its_workloads_generate() {
    // The hottest arc is ra -> edge with the web responses: 200 req/s × 10 KiB × 8 bit =
    // 16,384,000 bit/s on 1 Gbit/s (see crates/netopt/tests/twin_traffic.rs).
    let (code, out, err) = doppel(&["route", &netopt("twin/two-sites.yaml"), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert!((f(&v["mlu"]) - 0.016_384).abs() < 1e-9, "{}", v["mlu"]);
    assert_eq!(v["method"], "lp-edges");
    assert!(f(&v["solve_seconds"]) >= 0.0);
    let links = v["links"].as_array().unwrap();
    assert_eq!(links.len(), 4);
    let hot = links
        .iter()
        .find(|l| l["from"] == "ra" && l["to"] == "edge")
        .unwrap();
    assert!((f(&hot["utilization"]) - 0.016_384).abs() < 1e-9);
    // The example shop's twin has a network section too.
    let (code, out, err) = doppel(&["route", "examples/shop.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MLU"), "{out}");
}

#[test]
fn delay_objective_trades_utilization_for_latency_by_hand() {
    // Two parallel 10 Mbit/s links a -> d, 1 ms and 10 ms, 8 Mbit/s offered, 1500-byte
    // packets. Min-MLU splits 4/4: MLU 0.4, mean delay (4·3 + 4·12)/8 = 7.5 ms. Min-delay
    // under MLU 0.6 puts 6 on the short link: (6·4 + 2·11.5)/8 = 5.875 ms.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("net.yaml"),
        "doppel: 1\nrouters:\n  a: {}\n  d: {}\nlinks:\n  short: {from: a, to: d, bandwidth: 10Mbit/s, latency: 1ms, directed: true}\n  long: {from: a, to: d, bandwidth: 10Mbit/s, latency: 10ms, directed: true}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tm.txt"), "a d 8Mbit/s\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "route",
            "net.yaml",
            "--traffic",
            "tm.txt",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = doppel_in(dir.path(), &args);
        assert_eq!(code, 0, "{err}");
        json(&out)
    };
    let mlu = run(&[]);
    assert!((f(&mlu["mlu"]) - 0.4).abs() < 1e-7);
    assert!((f(&mlu["mean_delay_ms"]) - 7.5).abs() < 1e-6);
    let delay = run(&["--objective", "delay", "--max-mlu", "0.6"]);
    assert_eq!(delay["method"], "lp-delay");
    assert_eq!(delay["objective"], "delay");
    assert!((f(&delay["mlu"]) - 0.6).abs() < 1e-6);
    assert!((f(&delay["mean_delay_ms"]) - 5.875).abs() < 1e-5);
    assert!((f(&delay["lp_optimum"]) - 0.4).abs() < 1e-7);
    // A bound below the optimum is refused with a clear message.
    let (code, _, err) = doppel_in(
        dir.path(),
        &[
            "route",
            "net.yaml",
            "--traffic",
            "tm.txt",
            "--objective",
            "delay",
            "--max-mlu",
            "0.3",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no routing keeps every link under 0.3000"),
        "{err}"
    );
}

#[test]
fn all_matrices_warm_started_match_cold_solves_on_geant() {
    let base = [
        "route",
        &netopt("figret/GEANT/GEANT.json"),
        "--traffic",
        &netopt("figret/GEANT/train_5.hist"),
        "--all",
        "--format",
        "json",
    ];
    let (code, out, err) = doppel(&base);
    assert_eq!(code, 0, "{err}");
    let warm = json(&out);
    let mut cold_args = base.to_vec();
    cold_args.push("--cold");
    let (code, out, err) = doppel(&cold_args);
    assert_eq!(code, 0, "{err}");
    let cold = json(&out);
    let (warm, cold) = (warm.as_array().unwrap(), cold.as_array().unwrap());
    assert_eq!(warm.len(), 16);
    assert_eq!(cold.len(), 16);
    let published: Vec<f64> = std::fs::read_to_string(netopt("figret/GEANT/train_5.opt"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    for (k, (w, c)) in warm.iter().zip(cold).enumerate() {
        assert_eq!(w["matrix"], k);
        assert_eq!(w["method"], "lp-columns");
        assert_eq!(c["method"], "lp-edges");
        let (wm, cm) = (f(&w["mlu"]), f(&c["mlu"]));
        assert!(
            (wm - cm).abs() < 1e-5 * cm,
            "matrix {k}: warm {wm} cold {cm}"
        );
        // Over all paths, never worse than FIGRET's optimum over its tunnels.
        assert!(wm <= published[k] * (1.0 + 1e-6));
        assert_eq!(w["warm_start"]["warm"], k > 0);
        assert!(f(&w["solve_seconds"]) >= 0.0);
    }
}

#[test]
fn robust_routing_reports_its_worst_cases() {
    let (code, out, err) = doppel(&[
        "route",
        &netopt("figret/GEANT/GEANT.json"),
        "--traffic",
        &netopt("figret/GEANT/train_5.hist"),
        "--tunnels",
        &netopt("figret/GEANT/tunnels.txt"),
        "--robust",
        "failures",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["method"], "robust");
    let links = v["links"].as_array().unwrap();
    let physical: std::collections::BTreeSet<&str> =
        links.iter().map(|l| l["link"].as_str().unwrap()).collect();
    let rows = v["scenarios"].as_array().unwrap();
    assert_eq!(rows.len(), 16 * (1 + physical.len()));
    let worst = f(&v["mlu"]);
    assert!(worst <= f(&v["guaranteed_mlu"]) * (1.0 + 1e-5));
    assert_eq!(rows.iter().map(|r| f(&r["mlu"])).fold(0.0, f64::max), worst);
    // No single routing beats re-optimizing each matrix separately on the intact network.
    let best: f64 = v["per_matrix_optimum"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .fold(0.0, f64::max);
    assert!(worst >= best * (1.0 - 1e-6));
}

#[test]
fn igp_json_lists_weights() {
    let (code, out, err) = doppel(&[
        "route",
        &netopt("figret/GEANT/GEANT.json"),
        "--traffic",
        &netopt("figret/GEANT/train_5.hist"),
        "--method",
        "igp",
        "--evaluations",
        "200",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["method"], "igp");
    let ws = v["weights"].as_array().unwrap();
    assert_eq!(ws.len(), 72);
    for w in ws {
        assert!(w["from"].is_string() && w["to"].is_string());
        assert!(f(&w["weight"]) >= 1.0);
    }
    assert!(f(&v["mlu"]) >= f(&v["lp_optimum"]) * (1.0 - 1e-9));
    assert!(f(&v["mlu"]) <= f(&v["initial_mlu"]) * (1.0 + 1e-12));
}

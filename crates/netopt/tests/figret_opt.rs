//! Reproduces the published optimal MLUs of the FIGRET data sets (`.opt` files, computed by
//! FIGRET's authors with Gurobi over the same tunnels) with the path-based LP, and checks
//! that the edge-based optimum is never worse and that ECMP never beats it.

use std::path::PathBuf;

use doppel_netopt::import::{figret, nodelink};
use doppel_netopt::{Network, PathSet, TrafficMatrix, igp, lp};

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Set {
    net: Network,
    tunnels: PathSet,
    tms: Vec<TrafficMatrix>,
    opts: Vec<f64>,
}

fn load(dir: &str, topo: &str, hist: &str) -> Set {
    let net = nodelink::parse(topo, &data(&format!("{dir}/{topo}")), &Default::default())
        .expect("the test data reads")
        .value;
    let tunnels = figret::parse_tunnels("tunnels.txt", &data(&format!("{dir}/tunnels.txt")), &net)
        .expect("the test data reads")
        .value;
    let tms = figret::parse_hist(hist, &data(&format!("{dir}/{hist}")), net.node_count())
        .expect("the test data reads")
        .value;
    let opt_name = hist.replace(".hist", ".opt");
    let opts = figret::parse_opt(&opt_name, &data(&format!("{dir}/{opt_name}")))
        .expect("the test data reads")
        .value;
    assert_eq!(tms.len(), opts.len());
    Set {
        net,
        tunnels,
        tms,
        opts,
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn geant_path_lp_reaches_every_published_optimum() {
    let s = load("figret/GEANT", "GEANT.json", "train_5.hist");
    assert_eq!(s.net.node_count(), 22);
    assert_eq!(s.net.arcs().len(), 72);
    assert_eq!(s.tms.len(), 16);
    for (k, (tm, &published)) in s.tms.iter().zip(&s.opts).enumerate() {
        let sol = lp::min_mlu_paths(&s.net, tm, &s.tunnels).unwrap();
        let got = sol.mlu();
        assert!(
            rel(got, published) < 1e-4,
            "matrix {k}: published {published}, computed {got}"
        );
        // The duals certify the optimum without trusting the solver.
        assert!(sol.gap().unwrap() < 1e-6, "matrix {k}: gap {:?}", sol.gap());
    }
}

#[test]
fn geant_edge_optimum_is_a_lower_bound_for_tunnels_and_ecmp() {
    let s = load("figret/GEANT", "GEANT.json", "train_5.hist");
    // Two matrices keep the debug-mode test quick; the benchmark runs them all.
    for k in [0, 15] {
        let tm = &s.tms[k];
        let edges = lp::min_mlu_edges(&s.net, tm).unwrap();
        assert!(edges.gap().unwrap() < 1e-6);
        assert!(edges.mlu() <= s.opts[k] * (1.0 + 1e-6), "matrix {k}");
        let ecmp = igp::ecmp(&s.net, tm, &s.net.weights()).unwrap();
        assert!(ecmp.mlu() >= edges.mlu() * (1.0 - 1e-6), "matrix {k}");
    }
}

#[test]
fn facebook_pod_path_lp_reaches_the_published_optima() {
    let s = load(
        "figret/Facebook_pod_a",
        "Facebook_pod_a.json",
        "test_6.hist",
    );
    assert_eq!(s.tms.len(), 477);
    // Every 10th matrix: 48 LPs, enough to catch a systematic error, quick in debug.
    for k in (0..s.tms.len()).step_by(10) {
        let sol = lp::min_mlu_paths(&s.net, &s.tms[k], &s.tunnels).unwrap();
        assert!(
            rel(sol.mlu(), s.opts[k]) < 1e-4,
            "matrix {k}: published {}, computed {}",
            s.opts[k],
            sol.mlu()
        );
    }
}

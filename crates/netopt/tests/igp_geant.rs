//! IGP weight search on GEANT with the FIGRET matrices: ECMP under hop-count weights, the
//! searched weights, and the LP optimum beside them.

use std::path::PathBuf;

use doppel_netopt::import::{figret, nodelink};
use doppel_netopt::{igp, lp};

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn geant_weight_search_closes_part_of_the_gap_to_the_lp() {
    let net = nodelink::parse(
        "GEANT.json",
        &data("figret/GEANT/GEANT.json"),
        &Default::default(),
    )
    .unwrap()
    .value;
    let tms = figret::parse_hist("train_5.hist", &data("figret/GEANT/train_5.hist"), 22)
        .unwrap()
        .value;
    let tm = &tms[15];
    let opt = lp::min_mlu_edges(&net, tm).unwrap();
    let hop = igp::ecmp(&net, tm, &net.weights()).unwrap();
    let opts = igp::IgpOptions {
        evaluations: 1500,
        ..Default::default()
    };
    let found = igp::optimize_weights(&net, tm, &opts).unwrap();
    eprintln!(
        "GEANT matrix 15: LP optimum {:.4}, ECMP hop count {:.4}, IGP search {:.4} (gap {:.1}%)",
        opt.mlu(),
        hop.mlu(),
        found.solution.mlu(),
        100.0 * (found.solution.mlu() / opt.mlu() - 1.0)
    );
    assert!(found.solution.mlu() >= opt.lower_bound.unwrap() * (1.0 - 1e-9));
    assert!(found.solution.mlu() <= hop.mlu());
    // Fortz and Thorup found searched weights within a few percent of optimal routing on
    // backbone-like networks; hold the search to 10%.
    assert!(found.solution.mlu() <= opt.mlu() * 1.10);
    // Weights are integers in 1..=20, symmetric per link.
    for l in 0..net.links().len() {
        let ws: Vec<f64> = net.link_arcs(l).map(|a| found.weights[a]).collect();
        assert!(
            ws.iter()
                .all(|&w| w == ws[0] && w.fract() == 0.0 && (1.0..=20.0).contains(&w))
        );
    }
}

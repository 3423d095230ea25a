//! The importers on real files (Topology Zoo, TEAL) and on small hand-made ones (SNDlib,
//! Repetita) whose optimal MLUs were solved by hand.

use std::path::PathBuf;

use doppel_netopt::import::{graphml, nodelink, repetita, sndlib};
use doppel_netopt::{TrafficMatrix, igp, lp};

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn abilene_graphml_and_a_max_flow_bound() {
    let got = graphml::parse(
        "Abilene.graphml",
        &data("topologyzoo/Abilene.graphml"),
        &graphml::Options::default(),
    )
    .unwrap();
    let net = got.value;
    // 11 <node> and 14 undirected <edge> elements in the file.
    assert_eq!(net.node_count(), 11);
    assert_eq!(net.arcs().len(), 28);
    assert_eq!(got.warnings.len(), 1); // no capacities in the Zoo's Abilene
    let ny = net.node("New York").unwrap();
    let sea = net.node("Seattle").unwrap();
    // New York has two links, and two link-disjoint paths reach Seattle (NY-Chicago-
    // Indianapolis-Kansas City-Denver-Seattle and NY-Washington-Atlanta-Houston-Los Angeles-
    // Sunnyvale-Seattle), so the max flow is 2 x 10 Gbit/s and 10 Gbit/s gives MLU 0.5.
    let mut tm = TrafficMatrix::new(net.node_count());
    tm.add(ny, sea, 10e9).unwrap();
    let opt = lp::min_mlu_edges(&net, &tm).unwrap();
    assert!((opt.mlu() - 0.5).abs() < 1e-6, "{}", opt.mlu());
    // 0.5 ms per 100 km of fibre; Abilene's 14 links span some 15,000 km.
    let total_latency: f64 = net.arcs().iter().map(|a| a.latency).sum();
    assert!(
        total_latency > 0.01 && total_latency < 0.2,
        "{total_latency}"
    );
}

#[test]
fn geant2012_reads_link_speeds() {
    let got = graphml::parse(
        "Geant2012.graphml",
        &data("topologyzoo/Geant2012.graphml"),
        &graphml::Options::default(),
    )
    .unwrap();
    let net = got.value;
    assert_eq!(net.node_count(), 40);
    // Speeds present on some links: the largest is 10 Gbit/s or more and not the default
    // only.
    let distinct: std::collections::BTreeSet<u64> =
        net.arcs().iter().map(|a| a.capacity as u64).collect();
    assert!(distinct.len() > 1, "{distinct:?}");
}

#[test]
fn teal_b4_node_link() {
    let net = nodelink::parse("B4.json", &data("teal/B4.json"), &Default::default())
        .unwrap()
        .value;
    assert_eq!(net.node_count(), 12);
    assert_eq!(net.arcs().len(), 38);
    assert_eq!(net.links().len(), 19); // every arc has its reverse
}

#[test]
fn sndlib_triangle_hand_solved() {
    let inst = sndlib::parse(
        "triangle.xml",
        &data("sndlib/triangle.xml"),
        &sndlib::Options::default(),
    )
    .unwrap();
    // L3 has no pre-installed module: its largest module (5) is used, with a warning.
    assert_eq!(inst.warnings.len(), 1);
    let sndlib::Instance { network, demands } = inst.value;
    assert_eq!(network.arcs().len(), 6);
    assert_eq!(demands.total(), 12e6);
    let opt = lp::min_mlu_edges(&network, &demands).unwrap();
    assert!((opt.mlu() - 0.8).abs() < 1e-7, "{}", opt.mlu());
    let l3 = network.link("L3").unwrap();
    let w: Vec<f64> = network
        .link_arcs(l3)
        .map(|a| network.arcs()[a].weight)
        .collect();
    assert_eq!(w, vec![3.0, 3.0]);
}

#[test]
fn repetita_triangle_hand_solved_lp_and_igp() {
    let net = repetita::parse_graph("triangle.graph", &data("repetita/triangle.graph"))
        .unwrap()
        .value;
    assert_eq!(net.links().len(), 3);
    assert_eq!(net.arcs()[0].capacity, 10e9);
    assert!((net.arcs()[0].latency - 1e-3).abs() < 1e-15);
    let tm = repetita::parse_demands(
        "triangle.demands",
        &data("repetita/triangle.demands"),
        net.node_count(),
    )
    .unwrap()
    .value;
    // A->C 12 Gbit/s: 8 over A-B-C, 4 over A-C: 0.8. C->A 3: 0.2. Optimum 0.8.
    let opt = lp::min_mlu_edges(&net, &tm).unwrap();
    assert!((opt.mlu() - 0.8).abs() < 1e-7);
    // ECMP by the file's weights (A-B-C costs 2, A-C 3): all 12 on A-B-C, 1.2.
    let ecmp = igp::ecmp(&net, &tm, &net.weights()).unwrap();
    assert!((ecmp.mlu() - 1.2).abs() < 1e-12);
    // No weights do better: ECMP can only send all on one path (1.2 or 2.4) or split it
    // evenly (6 on A-C: 1.2). The search must find 1.2 and not claim less.
    let best = igp::optimize_weights(&net, &tm, &igp::IgpOptions::default()).unwrap();
    assert!((best.solution.mlu() - 1.2).abs() < 1e-12);
    // And so it proposes no change: none would lower the MLU.
    assert_eq!(best.weights, net.weights());
}

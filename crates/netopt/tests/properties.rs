//! Properties that must hold on any network and matrix: no routing beats the LP optimum, the
//! LP's certified bound holds, loads conserve flow (the check runs inside every method), no
//! failure routes over a failed link, and no input makes an importer panic.

use doppel_netopt::failure::{Reroute, single_link_failures};
use doppel_netopt::import::{figret, graphml, nodelink, repetita, sndlib};
use doppel_netopt::{LinkProps, Network, PathSet, TrafficMatrix, igp, lp};
use proptest::prelude::*;

/// A ring of `n` nodes plus chords, with capacities and weights from the vectors.
fn network(n: usize, chords: &[(usize, usize)], caps: &[f64], weights: &[f64]) -> Network {
    let mut net = Network::new();
    for i in 0..n {
        net.add_node(format!("n{i}")).expect("fresh names");
    }
    let mut pairs: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    for &(a, b) in chords {
        let (a, b) = (a % n, b % n);
        if a != b && !pairs.contains(&(a, b)) && !pairs.contains(&(b, a)) {
            pairs.push((a, b));
        }
    }
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        let props = LinkProps {
            capacity: caps[i % caps.len()],
            latency: 0.0,
            weight: weights[i % weights.len()],
        };
        net.add_simple_link(format!("l{i}"), a, b, props, false)
            .expect("valid link");
    }
    net
}

fn matrix(n: usize, entries: &[(usize, usize, f64)]) -> TrafficMatrix {
    let mut tm = TrafficMatrix::new(n);
    for &(s, d, r) in entries {
        tm.add(s % n, d % n, r).expect("valid demand");
    }
    tm
}

prop_compose! {
    fn instance()(
        n in 3usize..7,
        chords in prop::collection::vec((0usize..7, 0usize..7), 0..5),
        caps in prop::collection::vec(1.0f64..100.0, 1..6),
        weights in prop::collection::vec(1.0f64..5.0, 1..6),
        entries in prop::collection::vec((0usize..7, 0usize..7, 0.1f64..50.0), 1..8),
    ) -> (Network, TrafficMatrix) {
        (network(n, &chords, &caps, &weights), matrix(n, &entries))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn nothing_beats_the_certified_optimum((net, tm) in instance()) {
        prop_assume!(!tm.demands().is_empty());
        let opt = lp::min_mlu_edges(&net, &tm).unwrap();
        let lb = opt.lower_bound.unwrap();
        // The bound is certified by weak duality: the optimum cannot be below it, and the
        // solver's routing is within 1e-6 of it.
        prop_assert!(lb <= opt.mlu() * (1.0 + 1e-9));
        prop_assert!(opt.gap().unwrap() < 1e-6, "gap {:?}", opt.gap());
        let floor = lb * (1.0 - 1e-9);
        let paths = lp::min_mlu_paths(&net, &tm, &PathSet::k_shortest(&net, &tm, 3)).unwrap();
        prop_assert!(paths.mlu() >= floor);
        let e = igp::ecmp(&net, &tm, &net.weights()).unwrap();
        prop_assert!(e.mlu() >= floor);
        let opts = igp::IgpOptions { evaluations: 60, ..Default::default() };
        let w = igp::optimize_weights(&net, &tm, &opts).unwrap();
        prop_assert!(w.solution.mlu() >= floor);
        // The search keeps the better of its starts, so it never loses to inverse capacity
        // weights; and it reports the starting ECMP faithfully.
        prop_assert!((w.initial_mlu - e.mlu()).abs() <= 1e-9 * e.mlu().max(1.0));
    }

    #[test]
    fn failures_never_use_the_failed_link((net, tm) in instance()) {
        prop_assume!(!tm.demands().is_empty());
        let base = lp::min_mlu_edges(&net, &tm).unwrap().mlu();
        let w = net.weights();
        for how in [Reroute::Optimal, Reroute::Ecmp(&w)] {
            let rep = single_link_failures(&net, &tm, how).unwrap();
            prop_assert_eq!(rep.cases.len(), net.links().len());
            for c in &rep.cases {
                for a in net.link_arcs(c.links[0]) {
                    prop_assert_eq!(c.solution.checked.arc_load[a], 0.0);
                }
                // On a ring nothing is cut by one failure, and losing a link never helps
                // the optimum.
                prop_assert!(c.stranded.is_empty());
                if matches!(how, Reroute::Optimal) {
                    prop_assert!(c.mlu >= base * (1.0 - 1e-6), "{} < {}", c.mlu, base);
                }
            }
        }
    }

    #[test]
    fn importers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let net = network(3, &[], &[1.0], &[1.0]);
        let _ = nodelink::parse("f", &text, &Default::default());
        let _ = graphml::parse("f", &text, &Default::default());
        let _ = sndlib::parse("f", &text, &Default::default());
        let _ = repetita::parse_graph("f", &text);
        let _ = repetita::parse_demands("f", &text, 3);
        let _ = figret::parse_tunnels("f", &text, &net);
        let _ = figret::parse_hist("f", &text, 3);
        let _ = figret::parse_opt("f", &text);
    }

    #[test]
    fn mutated_real_files_never_panic(cut in 0usize..4000, junk in "[<>\"{}:,0-9a-z -]{0,12}") {
        let net = network(3, &[], &[1.0], &[1.0]);
        for (name, text) in [
            ("t.graph", include_str!("../test_data/repetita/triangle.graph")),
            ("t.xml", include_str!("../test_data/sndlib/triangle.xml")),
            ("B4.json", include_str!("../test_data/teal/B4.json")),
            ("tunnels.txt", include_str!("../test_data/figret/Facebook_pod_a/tunnels.txt")),
        ] {
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mutated = format!("{}{junk}{}", &text[..at], &text[at..]);
            let _ = repetita::parse_graph(name, &mutated);
            let _ = sndlib::parse(name, &mutated, &Default::default());
            let _ = nodelink::parse(name, &mutated, &Default::default());
            let _ = figret::parse_tunnels(name, &mutated, &net);
            let truncated = &text[..at];
            let _ = nodelink::parse(name, truncated, &Default::default());
            let _ = sndlib::parse(name, truncated, &Default::default());
        }
    }
}

//! Properties that must hold on any network and matrix: no routing beats the LP optimum, the
//! LP's certified bound holds, loads conserve flow (the check runs inside every method, and
//! the aggregate balance at every node is recomputed here from the loads alone), no failure
//! routes over a failed link, a warm start finds the cold optimum, and no input makes an
//! importer panic.

use doppel_netopt::colgen::min_mlu_columns;
use doppel_netopt::delay::{DelayOptions, MluBound, min_mean_delay};
use doppel_netopt::failure::{Reroute, single_link_failures};
use doppel_netopt::import::{figret, graphml, nodelink, repetita, sndlib};
use doppel_netopt::robust::{Scenarios, min_worst_mlu};
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

/// At every node, what the loads take out minus what they bring in must equal what the node
/// sends minus what it receives: checked from the arc loads alone, whatever the method.
fn balanced(net: &Network, tm: &TrafficMatrix, load: &[f64]) -> Result<(), String> {
    let n = net.node_count();
    let mut got = vec![0.0; n];
    for (x, a) in load.iter().zip(net.arcs()) {
        got[a.from] += x;
        got[a.to] -= x;
    }
    let mut want = vec![0.0; n];
    for d in tm.demands() {
        want[d.src] += d.rate;
        want[d.dst] -= d.rate;
    }
    let scale = tm.total().max(1e-300);
    for v in 0..n {
        if (got[v] - want[v]).abs() > 1e-6 * scale {
            return Err(format!(
                "node {v}: loads give {}, demands {}",
                got[v], want[v]
            ));
        }
    }
    Ok(())
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
        let cols = min_mlu_columns(&net, &tm, None, &Default::default()).unwrap();
        prop_assert!(cols.solution.mlu() >= floor);
        prop_assert!((cols.solution.mlu() - opt.mlu()).abs() <= 1e-5 * opt.mlu());
        let delay_opts = DelayOptions { max_mlu: MluBound::Slack(0.5), ..Default::default() };
        let delay = if opt.mlu() < 0.9 { Some(min_mean_delay(&net, &tm, &delay_opts).unwrap()) } else { None };
        if let Some(d) = &delay {
            prop_assert!(d.solution.mlu() >= floor);
            prop_assert!(d.solution.mlu() <= d.mlu_bound * (1.0 + 1e-6));
            prop_assert!(d.delay_lower_bound <= d.mean_delay * (1.0 + 1e-9));
        }
        let robust = min_worst_mlu(&net, std::slice::from_ref(&tm), &PathSet::k_shortest(&net, &tm, 3), Scenarios { link_failures: false }).unwrap();
        prop_assert!(robust.worst_mlu() >= floor);
        // With one matrix and no failures the robust routing is the path LP's optimum.
        prop_assert!((robust.worst_mlu() - paths.mlu()).abs() <= 1e-5 * paths.mlu());
        for load in [&opt.checked.arc_load, &paths.checked.arc_load, &e.checked.arc_load,
                     &w.solution.checked.arc_load, &cols.solution.checked.arc_load] {
            prop_assert!(balanced(&net, &tm, load).is_ok(), "{:?}", balanced(&net, &tm, load));
        }
        if let Some(d) = &delay {
            prop_assert!(balanced(&net, &tm, &d.solution.checked.arc_load).is_ok());
        }
    }

    #[test]
    fn warm_start_finds_the_cold_optimum(
        (net, tm) in instance(),
        factors in prop::collection::vec(0.5f64..1.5, 8),
    ) {
        prop_assume!(!tm.demands().is_empty());
        let first = min_mlu_columns(&net, &tm, None, &Default::default()).unwrap();
        let mut next = TrafficMatrix::new(tm.node_count());
        for (i, d) in tm.demands().iter().enumerate() {
            next.add(d.src, d.dst, d.rate * factors[i % factors.len()]).unwrap();
        }
        let warm = min_mlu_columns(&net, &next, Some(&first.columns), &Default::default()).unwrap();
        let cold = lp::min_mlu_edges(&net, &next).unwrap();
        prop_assert!(warm.warm);
        prop_assert!((warm.solution.mlu() - cold.mlu()).abs() <= 1e-5 * cold.mlu(),
            "warm {} cold {}", warm.solution.mlu(), cold.mlu());
        prop_assert!(warm.solution.gap().unwrap() < 1e-5);
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
        // Tunnels: the surviving ones only; and the robust routing's scenario table.
        let ps = PathSet::k_shortest(&net, &tm, 3);
        let rep = single_link_failures(&net, &tm, Reroute::Tunnels(&ps)).unwrap();
        for c in &rep.cases {
            for a in net.link_arcs(c.links[0]) {
                prop_assert_eq!(c.solution.checked.arc_load[a], 0.0);
            }
        }
        let robust = min_worst_mlu(&net, std::slice::from_ref(&tm), &ps, Scenarios { link_failures: true }).unwrap();
        prop_assert_eq!(robust.scenarios.len(), 1 + net.links().len());
        prop_assert!(robust.worst_mlu() <= robust.guaranteed_mlu * (1.0 + 1e-5) + 1e-9,
            "{} > {}", robust.worst_mlu(), robust.guaranteed_mlu);
        // Losing a link can only leave fewer paths: the worst case is no better than intact.
        let intact = robust.scenarios.iter().find(|s| s.failed.is_none()).unwrap();
        prop_assert!(robust.worst_mlu() >= intact.mlu);
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

//! The planner against NASim's benchmark scenarios, whose headers state the optimal attack
//! path (published with the scenarios): the path replays in our reading of NASim's rules, and
//! the cheapest plan we find costs exactly what that path costs.

#![allow(clippy::unwrap_used)]

use doppel_security::nasim::{self, PathAction};

fn scenario(name: &str) -> nasim::Scenario {
    let path = format!("{}/test_data/nasim/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    nasim::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks one scenario; `cost` and `len` are read off the header by hand.
fn check(name: &str, cost: f64, len: usize) -> nasim::Solution {
    let s = scenario(name);
    assert_eq!(
        s.stated_path.len(),
        len,
        "{name}: header path {:?}",
        s.stated_path
    );
    let replayed = nasim::replay(&s, &s.stated_path).unwrap();
    assert_eq!(
        replayed,
        Some(cost),
        "{name}: the published path must reach the goal at its cost"
    );
    let sol = nasim::solve(&s, 200_000).unwrap();
    assert_eq!(sol.cost, cost, "{name}: {:?}", sol.actions);
    // Our plan is itself valid.
    assert_eq!(nasim::replay(&s, &sol.actions).unwrap(), Some(cost));
    sol
}

fn same_actions(sol: &nasim::Solution, stated: &[PathAction]) -> bool {
    let norm = |v: &[PathAction]| {
        let mut v: Vec<String> = v.iter().map(ToString::to_string).collect();
        v.sort();
        v
    };
    norm(&sol.actions) == norm(stated)
}

#[test]
fn tiny_optimal_path_costs_6() {
    // (e_ssh,(1,0)) -> subnet_scan -> (e_ssh,(3,0)) -> (pe_tomcat,(3,0)) -> (e_ssh,(2,0))
    // -> (pe_tomcat,(2,0)): six actions of cost 1. (The header's "200 - 6 = 195" is a slip.)
    let sol = check("tiny", 6.0, 6);
    assert!(
        same_actions(&sol, &scenario("tiny").stated_path),
        "{:?}",
        sol.actions
    );
}

#[test]
fn small_optimal_path_costs_14() {
    // 2 + 1 + 3 + 1 + 2 + 1 + 3 + 1 = 14, score 200 - 14 = 186 as the header says.
    let sol = check("small", 14.0, 8);
    assert_eq!(sol.score, 186.0);
    assert!(
        same_actions(&sol, &scenario("small").stated_path),
        "{:?}",
        sol.actions
    );
}

#[test]
fn medium_optimal_path_costs_15() {
    // 2 + 1 + 3 + 1 + 2 + 1 + 3 + 2 = 15, score 185.
    let sol = check("medium", 15.0, 8);
    assert_eq!(sol.score, 185.0);
    assert!(
        same_actions(&sol, &scenario("medium").stated_path),
        "{:?}",
        sol.actions
    );
}

#[test]
fn a_wrong_path_does_not_replay() {
    let s = scenario("tiny");
    // Attacking (2,0) before (3,0) is compromised: (1,0) may not send ssh to subnet 2.
    let bad = [
        PathAction::Use("e_ssh".into(), (1, 0)),
        PathAction::SubnetScan(None),
        PathAction::Use("e_ssh".into(), (2, 0)),
    ];
    assert!(nasim::replay(&s, &bad).is_err());
}

#[test]
fn broken_scenarios_are_errors_not_panics() {
    for text in [
        "",
        "[1, 2",
        "subnets: [1]",
        "subnets: [1]\ntopology: [[1]]\n",
        "subnets: x",
    ] {
        assert!(nasim::parse(text).is_err(), "{text:?}");
    }
    let tiny = std::fs::read_to_string(format!(
        "{}/test_data/nasim/tiny.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let e = nasim::parse(&tiny.replace("prob: 0.8", "prob: 8")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "exploits.e_ssh.prob: a probability is at most 1"
    );
}

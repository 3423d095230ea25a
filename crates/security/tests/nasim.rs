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
    // Line 34, column 5 of tiny.yaml is `prob:` under `exploits:` / `e_ssh:`.
    assert_eq!(
        e.to_string(),
        "34:5: exploits.e_ssh.prob: a probability is at most 1"
    );
    // A missing field points at the nearest enclosing one present.
    let e = nasim::parse(&tiny.replace("    cost: 1\n    access: user\n", "    access: user\n"))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("31:3: exploits.e_ssh: missing `cost`"),
        "{e}"
    );
}

/// A scenario written for this test (not one of NASim's): the sensitive host (2, 0) is
/// reached from either host of the public subnet 1. On (1, 0) a cheap exploit (cost 1) gives
/// `ACCESS`; on (1, 1) only an expensive one (cost 3) gives user. (1, 0) has value -100.
fn honeypot(access: &str) -> nasim::Scenario {
    let text = format!(
        "subnets: [2, 1]
topology: [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
sensitive_hosts:
  (2, 0): 100
os: [linux]
services: [http, ssh]
processes: [tomcat]
exploits:
  e_http:
    service: http
    os: NONE
    prob: 0.9
    cost: 1
    access: {access}
  e_ssh:
    service: ssh
    os: linux
    prob: 0.9
    cost: 3
    access: 1
privilege_escalation:
  pe_tomcat:
    process: tomcat
    os: linux
    prob: 1.0
    cost: 1
    access: 2
service_scan_cost: 1
os_scan_cost: 1
subnet_scan_cost: 1
process_scan_cost: 1
host_configurations:
  (1, 0):
    os: linux
    services: [http]
    processes: []
    value: -100
  (1, 1):
    os: linux
    services: [ssh]
    processes: []
  (2, 0):
    os: linux
    services: [ssh]
    processes: [tomcat]
    value: 100
firewall:
  (0, 1): [http, ssh]
  (1, 0): []
  (1, 2): [ssh]
  (2, 1): []
"
    );
    nasim::parse(&text).unwrap()
}

#[test]
fn a_honeypot_costs_its_value_when_rooted_and_nothing_otherwise() {
    // User access on the honeypot earns no (negative) value in NASim: the cheap way in is
    // taken. 1 (e_http) + 1 (scan) + 3 (e_ssh on (2, 0)) + 1 (pe_tomcat) = 6, score 94.
    let sol = nasim::solve(&honeypot("user"), 10_000).unwrap();
    assert_eq!(sol.cost, 6.0, "{:?}", sol.actions);
    assert_eq!(sol.score, 94.0);
    assert!(sol.actions.iter().any(|a| a.to_string().contains("e_http")));
    // Root on it would cost 100: the expensive exploit of (1, 1) is cheaper.
    // 3 (e_ssh on (1, 1)) + 1 + 3 + 1 = 8, score 92.
    let sol = nasim::solve(&honeypot("root"), 10_000).unwrap();
    assert_eq!(sol.cost, 8.0, "{:?}", sol.actions);
    assert_eq!(sol.score, 92.0);
    assert!(!sol.actions.iter().any(|a| a.to_string().contains("e_http")));
}

#[test]
fn a_sensitive_hosts_own_value_must_match_its_listed_one() {
    let s = nasim::parse(
        &std::fs::read_to_string(format!(
            "{}/test_data/nasim/tiny.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace(
            "  (2, 0):\n    os: linux",
            "  (2, 0):\n    value: 5\n    os: linux",
        ),
    );
    let e = s.unwrap_err().to_string();
    assert!(
        e.starts_with("57:5: host_configurations.(2, 0).value: 5 differs"),
        "{e}"
    );
}

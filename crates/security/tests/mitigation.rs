//! The cheapest mitigation set is exact, not greedy: a twin where the fix with the best paths
//! cut per cost leads greedy to a dearer set. Worked by hand from the YAML below.
//!
//! Paths from the internet (every one passes sg-web rule[0], HTTPS from the internet):
//! - P1-P3: shop on w1 (CVE-2024-1000) → user on w1 → the data of s1, s2, s3 (T1005);
//! - P4: blog on w2 (CVE-2024-2000, or CVE-2024-3000: both prove the same facts, so they are
//!   one path, listed with the first) → user on w2 → data of s4.
//!
//! Single fixes: patch CVE-2024-1000 cuts 3 for 1 (ratio 3), close sg-web[0] cuts 4 for 2
//! (ratio 2), isolating the subnet 4 for 5; patching one blog CVE alone cuts nothing (the other
//! remains). Round 1 of the solve-and-verify loop sees P4 through CVE-2024-2000 only; applying
//! its set reveals the CVE-2024-3000 variant, which joins the instance. On the final instance
//! greedy takes the ratio-3 patch, then both blog patches: cost 3. The optimum is the rule
//! alone: cost 2.

#![allow(clippy::unwrap_used)]

use doppel_security::analysis;
use doppel_security::graph::Start;
use doppel_security::reach::Origin;

const TWIN: &str = r#"
doppel: 1
networks:
  vpc: {cidr: 10.0.0.0/16}
subnets:
  dmz: {network: vpc, cidr: 10.0.1.0/24, public: true}
hosts:
  w1: {cores: 2, subnet: dmz, addresses: [10.0.1.1], security_groups: [sg-web]}
  w2: {cores: 2, subnet: dmz, addresses: [10.0.1.2], security_groups: [sg-web]}
security_groups:
  sg-web:
    rules:
      - {action: allow, ports: 443, peers: [internet], description: HTTPS}
services:
  shop:
    instances: {shop-0: {host: w1}}
    ports: [{port: 443}]
    security:
      vulnerabilities:
        - {cve: CVE-2024-1000, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
  blog:
    instances: {blog-0: {host: w2}}
    ports: [{port: 443}]
    security:
      vulnerabilities:
        - {cve: CVE-2024-2000, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
        - {cve: CVE-2024-3000, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
  s1: {instances: {s1-0: {host: w1}}, tags: [crown-jewel], endpoints: {get: {service_time: {dist: constant, value: 1ms}}}}
  s2: {instances: {s2-0: {host: w1}}, tags: [crown-jewel], endpoints: {get: {service_time: {dist: constant, value: 1ms}}}}
  s3: {instances: {s3-0: {host: w1}}, tags: [crown-jewel], endpoints: {get: {service_time: {dist: constant, value: 1ms}}}}
  s4: {instances: {s4-0: {host: w2}}, tags: [crown-jewel], endpoints: {get: {service_time: {dist: constant, value: 1ms}}}}
"#;

#[test]
fn the_cheapest_set_beats_greedy() {
    let loaded = doppel_model::load_str("t.yaml", TWIN);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    let r = analysis::attack(
        &loaded.twin,
        &[Start::Outside(Origin::Internet)],
        "tag:crown-jewel",
        50,
    )
    .unwrap();
    assert_eq!(r.paths.len(), 4, "{}", analysis::render_text(&r));
    let best = &r.single_fixes[0];
    assert_eq!(
        (best.action.as_str(), best.paths_cut, best.cost),
        ("patch CVE-2024-1000 on service:shop", 3, 1.0)
    );
    let m = &r.mitigation_set;
    assert_eq!(m.method, "exact");
    assert_eq!((m.total_cost, m.greedy_cost), (2.0, 3.0));
    assert_eq!(m.paths_left, 0);
    assert!(m.targets_still_reachable.is_empty());
    let chosen: Vec<(&str, f64, usize)> = r
        .mitigations
        .iter()
        .map(|x| (x.action.as_str(), x.cost, x.paths_cut))
        .collect();
    assert_eq!(chosen, [("close rule sg-web[0]", 2.0, 4)]);
    // Re-verified: with the rule closed nothing is reachable.
    assert_eq!(r.mitigations[0].paths_left, 0);
}

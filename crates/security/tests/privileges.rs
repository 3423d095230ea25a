//! Vulnerabilities needing privileges (CVSS PR:L / PR:H) are exploitable only with a credential
//! giving them, and credentials stolen on compromised hosts provide them. Expectations derived
//! by hand from the twin below and the rules in `src/graph.rs`.

#![allow(clippy::unwrap_used)]

use doppel_model::Privilege;
use doppel_security::analysis;
use doppel_security::graph::Start;
use doppel_security::reach::Origin;

const TWIN: &str = r#"
doppel: 1
networks:
  vpc: {cidr: 10.0.0.0/16}
subnets:
  dmz: {network: vpc, cidr: 10.0.1.0/24, public: true}
  corp: {network: vpc, cidr: 10.0.2.0/24}
hosts:
  portal-1: {cores: 2, subnet: dmz, addresses: [10.0.1.10]}
  admin-1: {cores: 2, subnet: dmz, addresses: [10.0.1.20]}
  laptop: {cores: 2, subnet: corp, addresses: [10.0.2.5]}
services:
  portal:
    instances: {portal-0: {host: portal-1}}
    ports: [{port: 443}]
    security:
      exposed: [{port: 443, to: [internet]}]
      vulnerabilities:
        # Remote code execution for any logged-in user.
        - {cve: CVE-2024-0001, cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
  console:
    instances: {console-0: {host: admin-1}}
    ports: [{port: 8443}]
    security:
      exposed: [{port: 8443, to: [internet]}]
      vulnerabilities:
        # Remote code execution for administrators only.
        - {cve: CVE-2024-0002, cvss: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
credentials:
  portal-user: {stored_on: [host:laptop], unlocks: [service:portal], privilege: user}
  console-user: {stored_on: [host:laptop], unlocks: [service:console], privilege: user}
"#;

fn twin() -> doppel_model::Twin {
    let loaded = doppel_model::load_str("t.yaml", TWIN);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

#[test]
fn without_a_credential_a_pr_l_bug_is_no_way_in() {
    let twin = twin();
    let internet = [Start::Outside(Origin::Internet)];
    // The internet reaches portal:443 and console:8443 but holds no account on either.
    let r = analysis::attack(&twin, &internet, "host:portal-1", 10).unwrap();
    assert!(
        r.reachable_targets.is_empty(),
        "{}",
        analysis::render_text(&r)
    );
    let r = analysis::attack(&twin, &internet, "host:admin-1", 10).unwrap();
    assert!(r.reachable_targets.is_empty());
}

#[test]
fn a_credential_stolen_on_a_foothold_enables_the_exploit() {
    let twin = twin();
    let laptop = [Start::Host("laptop".into())];
    let r = analysis::attack(&twin, &laptop, "host:portal-1", 10).unwrap();
    assert_eq!(r.reachable_targets, ["host:portal-1"]);
    assert_eq!(r.paths.len(), 1, "{}", analysis::render_text(&r));
    let p = &r.paths[0];
    let techniques: Vec<&str> = p.steps.iter().filter_map(|s| s.technique).collect();
    // portal is exposed to the internet, so its exploitation is labelled T1190.
    assert_eq!(techniques, ["T1552.001", "T1190"]);
    let exploit = p
        .steps
        .iter()
        .find(|s| s.technique == Some("T1190"))
        .unwrap();
    assert!(
        exploit.via.contains("CVE-2024-0001")
            && exploit.via.contains("PR:L met by credential portal-user"),
        "{}",
        exploit.via
    );
    assert!(exploit.needs.contains(&"credential portal-user".to_owned()));
    // Either patching the bug or rotating the password cuts it, at cost 1.
    assert_eq!(r.mitigation_set.total_cost, 1.0);
    let single: Vec<&str> = r.single_fixes.iter().map(|m| m.action.as_str()).collect();
    assert!(
        single.contains(&"patch CVE-2024-0001 on service:portal"),
        "{single:?}"
    );
    assert!(
        single.contains(&"rotate credential portal-user"),
        "{single:?}"
    );
}

#[test]
fn pr_h_needs_an_admin_credential() {
    let mut twin = twin();
    let laptop = [Start::Host("laptop".into())];
    // console-user is an ordinary account: not enough for PR:H.
    let r = analysis::attack(&twin, &laptop, "host:admin-1", 10).unwrap();
    assert!(
        r.reachable_targets.is_empty(),
        "{}",
        analysis::render_text(&r)
    );
    twin.credentials.get_mut("console-user").unwrap().privilege = Privilege::Admin;
    let r = analysis::attack(&twin, &laptop, "host:admin-1", 10).unwrap();
    assert_eq!(r.reachable_targets, ["host:admin-1"]);
    let exploit = r.paths[0]
        .steps
        .iter()
        .find(|s| s.via.contains("CVE-2024-0002"))
        .unwrap();
    assert!(
        exploit.via.contains("PR:H met by credential console-user"),
        "{}",
        exploit.via
    );
}

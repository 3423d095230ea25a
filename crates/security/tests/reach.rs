//! Reachability semantics on a small hand-written twin, each expectation derived by hand from
//! the rules stated in `src/reach.rs`: Kubernetes network-policy selection (present-but-empty
//! ingress denies all, unselected services are open), first match wins across ordered rules,
//! union across security groups, egress only when a group has egress rules, and mitigations.

#![allow(clippy::unwrap_used)]

use doppel_model::Protocol;
use doppel_security::reach::{Net, Origin, Overlay, Src};

const TWIN: &str = r#"
doppel: 1
networks:
  vpc: {cidr: 10.0.0.0/16}
  other: {cidr: 10.9.0.0/16}
subnets:
  a: {network: vpc, cidr: 10.0.1.0/24}
  b: {network: vpc, cidr: 10.0.2.0/24}
  far: {network: other, cidr: 10.9.1.0/24}
hosts:
  h1: {cores: 1, subnet: a, addresses: [10.0.1.1], security_groups: [g-out]}
  h2: {cores: 1, subnet: b, addresses: [10.0.2.2], security_groups: [g-deny-first, g-open]}
  h3: {cores: 1, subnet: b, addresses: [10.0.2.3]}
  h4: {cores: 1, subnet: far, addresses: [10.9.1.4]}
  h5: {cores: 1, subnet: a, addresses: [10.0.1.5]}
security_groups:
  g-out:
    rules:
      - {direction: egress, action: allow, ports: 443, peers: ["10.0.0.0/16"]}
  g-deny-first:
    rules:
      - {action: deny, ports: 22, peers: ["10.0.1.0/24"]}
      - {action: allow, peers: ["10.0.0.0/8"]}
  g-open:
    rules:
      - {action: allow, ports: 22, peers: [any]}
services:
  api:
    instances: {api-0: {host: h2}}
    ports: [{port: 443}]
    tags: [locked]
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
  web:
    instances: {web-0: {host: h1}}
    ports: [{port: 443}]
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
  free:
    instances: {free-0: {host: h3}}
    ports: [{port: 443}]
    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}
network_policies:
  lock:
    applies_to: ["tag:locked"]
    ingress: []
  allow-web:
    applies_to: [service:api]
    ingress:
      - {peers: [service:web], ports: [443]}
"#;

fn twin() -> doppel_model::Twin {
    let loaded = doppel_model::load_str("t.yaml", TWIN);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

#[test]
fn groups_policies_and_egress() {
    let twin = twin();
    let o = Overlay::default();
    let net = Net::new(&twin, &o);
    let tcp = Protocol::Tcp;
    // h1 (web) -> h2 (api) 443: g-out egress allows 443 into the VPC; g-deny-first rule[1]
    // allows 10/8; api is selected by `lock` (ingress: [] allows nothing) and `allow-web`
    // (web on 443): selected by two policies, allowed by one, so it passes.
    let v = net.flow(Src::Host("h1"), "h2", 443, tcp, Some("api"));
    assert!(v.allowed, "{v:?}");
    assert_eq!(v.summary(), "security group g-deny-first rule[1] allows");
    // h1 -> h2 on 8080 (aimed at api): g-out has egress rules and none matches 8080.
    let v = net.flow(Src::Host("h1"), "h2", 8080, tcp, Some("api"));
    assert_eq!(
        (v.allowed, v.summary()),
        (
            false,
            "security group g-out: no rule matches, default denies".into()
        )
    );
    // h3 -> h2 443 (api): h3 has no group (egress open), g-deny-first rule[1] allows, but the
    // policies allow only web: denied by policy.
    let v = net.flow(Src::Host("h3"), "h2", 443, tcp, Some("api"));
    assert!(!v.allowed);
    assert_eq!(v.reasons.last().unwrap().check, "policy");
    // SSH from h5 (subnet a, no group) into h2: g-deny-first denies (rule[0] matches first,
    // before rule[1] would allow) but g-open allows any: groups combine as a union, as cloud
    // security groups do.
    let v = net.flow(Src::Host("h5"), "h2", 22, tcp, None);
    assert!(v.allowed, "{v:?}");
    assert_eq!(v.summary(), "security group g-open rule[0] allows");
    // h3 has no group at all: open from inside, closed from the internet (nothing exposed).
    assert!(
        net.flow(Src::Host("h2"), "h3", 443, tcp, Some("free"))
            .allowed
    );
    assert!(
        !net.flow(Src::Outside(Origin::Internet), "h3", 443, tcp, Some("free"))
            .allowed
    );
    // Different networks are not connected.
    assert!(!net.flow(Src::Host("h3"), "h4", 22, tcp, None).allowed);
}

#[test]
fn mitigations_close_rules_and_isolate_subnets() {
    let twin = twin();
    let mut o = Overlay::default();
    o.closed_rules.insert(("g-open".into(), 0));
    let net = Net::new(&twin, &o);
    // With g-open's rule closed, g-deny-first decides: rule[0] denies h5 (10.0.1.5) on 22
    // although rule[1] would allow it (first match wins), and rule[1] allows h3 (10.0.2.3)...
    let v = net.flow(Src::Host("h5"), "h2", 22, Protocol::Tcp, None);
    assert_eq!(
        (v.allowed, v.summary()),
        (false, "security group g-deny-first rule[0] denies".into())
    );
    assert!(
        net.flow(Src::Host("h3"), "h2", 22, Protocol::Tcp, None)
            .allowed
    );
    let mut o = Overlay::default();
    o.isolated_subnets.insert("b".into());
    let net = Net::new(&twin, &o);
    // ...and isolating subnet b keeps h1 (subnet a) out but lets h3 (subnet b) in.
    assert!(
        !net.flow(Src::Host("h1"), "h2", 443, Protocol::Tcp, Some("api"))
            .allowed
    );
    assert!(
        net.flow(Src::Host("h3"), "h2", 22, Protocol::Tcp, None)
            .allowed
    );
}

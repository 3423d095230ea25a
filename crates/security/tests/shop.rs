//! The example shop (`examples/shop.yaml` + `shop-network.yaml`): reachability decided by the
//! rules the files state, the Log4Shell → PwnKit → stored password path to the database
//! replica, its mitigations and the bastion's blast radius, all derived by hand from the YAML.

#![allow(clippy::unwrap_used)]

use doppel_model::Protocol;
use doppel_security::analysis;
use doppel_security::graph::Start;
use doppel_security::reach::{Net, Origin, Overlay, Src};

fn shop() -> doppel_model::Twin {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let loaded = doppel_model::load(&[format!("{dir}/shop.yaml")], |p| std::fs::read(p));
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

#[test]
fn rules_decide_in_order_first_match_wins_default_deny() {
    let twin = shop();
    let overlay = Overlay::default();
    let net = Net::new(&twin, &overlay);
    let internet = Src::Outside(Origin::Internet);
    let scraper = Src::Outside(Origin::Address("203.0.113.5".parse().unwrap()));
    let office = Src::Outside(Origin::Address("198.51.100.7".parse().unwrap()));
    let tcp = Protocol::Tcp;
    let decided = |src, host: &str, port, svc: Option<&str>| {
        let v = net.flow(src, host, port, tcp, svc);
        (v.allowed, v.summary())
    };
    // sg-web: rule[0] denies the scraper range before rule[1] allows the internet on 443.
    assert_eq!(
        decided(internet, "web-a-1", 443, Some("frontend")),
        (true, "security group sg-web rule[1] allows (HTTPS)".into())
    );
    assert_eq!(decided(scraper, "web-a-1", 443, Some("frontend")), (false, "security group sg-web rule[0] denies (scraper network blocked after the 2024-03 incident)".into()));
    // sg-bastion: 22 only from the office range; anything else falls to the default deny.
    assert!(decided(office, "bastion", 22, None).0);
    assert_eq!(
        decided(internet, "bastion", 22, None),
        (
            false,
            "security group sg-bastion: no rule matches, default denies".into()
        )
    );
    // The database is not routable from the internet: private subnet, exposed to app-tier only.
    assert_eq!(
        decided(internet, "db-a-1", 5432, Some("pg-primary")),
        (
            false,
            "host db-a-1 is in private subnet data-a and nothing exposes port 5432 to internet"
                .into()
        )
    );
    // Web hosts are not in sg-app: sg-data's rules do not match them (icmp rule is not tcp).
    assert_eq!(
        decided(Src::Host("web-a-1"), "db-a-1", 5432, Some("pg-primary")),
        (
            false,
            "security group sg-data: no rule matches, default denies".into()
        )
    );
    // An app node running catalog: sg-app egress rule[2], sg-data rule[0], policy database-clients.
    let v = net.flow(
        Src::Host("app-a-1"),
        "db-a-1",
        5432,
        tcp,
        Some("pg-primary"),
    );
    assert!(v.allowed);
    let details: Vec<&str> = v.reasons.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "same network shop-vpc",
            "security group sg-app rule[2] allows",
            "security group sg-data rule[0] allows (PostgreSQL)",
            "network policy database-clients ingress[0] allows it into service pg-primary",
        ]
    );
    // The bastion (no sg-app) may not reach PostgreSQL, but may SSH into the data tier.
    assert!(
        !net.flow(
            Src::Host("bastion"),
            "db-a-1",
            5432,
            tcp,
            Some("pg-primary")
        )
        .allowed
    );
    assert!(
        net.flow(Src::Host("bastion"), "db-a-1", 22, tcp, None)
            .allowed
    );
    // sg-data admits PostgreSQL from sg-app members only; the cache host is in sg-data.
    assert!(
        !net.flow(
            Src::Host("cache-a-1"),
            "db-b-1",
            5432,
            tcp,
            Some("pg-replica")
        )
        .allowed
    );
}

#[test]
fn internet_to_crown_jewels_goes_through_log4shell_pwnkit_and_a_stored_password() {
    let twin = shop();
    let r = analysis::attack(
        &twin,
        &[Start::Outside(Origin::Internet)],
        "tag:crown-jewel",
        50,
    )
    .unwrap();
    // pg-reco-ro unlocks only the replica; nothing reaches the primary.
    assert_eq!(r.reachable_targets, ["service:pg-replica"]);
    assert_eq!(r.unreachable_targets, ["service:pg-primary"]);
    // One path per recommendation VM.
    assert_eq!(r.paths.len(), 2, "{}", analysis::render_text(&r));
    let mut hosts = Vec::new();
    for p in &r.paths {
        let techniques: Vec<&str> = p.steps.iter().filter_map(|s| s.technique).collect();
        assert_eq!(techniques, ["T1210", "T1068", "T1552.001", "T1078"]);
        hosts.push(
            p.steps
                .iter()
                .find(|s| s.technique == Some("T1068"))
                .unwrap()
                .host
                .clone(),
        );
        // Log4Shell is AV:N/AC:L/PR:N/UI:N: probability 1. PwnKit is AV:L/AC:L/PR:L/UI:N:
        // (0.55·0.77·0.62·0.85) / (0.85·0.77·0.85·0.85) = 0.4720.
        assert!(
            (p.probability - 0.55 * 0.62 / (0.85 * 0.85)).abs() < 1e-12,
            "{}",
            p.probability
        );
        // Input reaches recommendations only through the frontend, which calls it.
        assert!(
            p.steps
                .iter()
                .any(|s| s.name == "relay" && s.via.starts_with("frontend calls recommendations"))
        );
    }
    hosts.sort();
    assert_eq!(hosts, ["ml-a-1", "ml-b-1"]);
    assert_eq!(r.most_likely, Some(0));
    // Both paths need Log4Shell on the service and the replica's password: each fix costs 1
    // and cuts both; PwnKit is per host and cuts one.
    let top: Vec<(&str, usize)> = r
        .single_fixes
        .iter()
        .take(2)
        .map(|m| (m.action.as_str(), m.paths_cut))
        .collect();
    assert_eq!(
        top,
        [
            ("patch CVE-2021-44228 on service:recommendations", 2),
            ("rotate credential pg-reco-ro", 2)
        ]
    );
    let pwnkit = r
        .single_fixes
        .iter()
        .find(|m| m.action == "patch CVE-2021-4034 on host:ml-a-1")
        .unwrap();
    assert_eq!((pwnkit.paths_cut, pwnkit.paths_left), (1, 1));
    assert_eq!(pwnkit.targets_still_reachable, ["service:pg-replica"]);
    // The nginx CVE is denial of service only (C:N/I:N): it is no step of any path.
    assert!(
        r.single_fixes
            .iter()
            .all(|m| !m.action.contains("CVE-2023-44487"))
    );
    // The cheapest set is one of the two cost-1 fixes that cut both paths, proven optimal.
    assert_eq!(r.mitigation_set.method, "exact");
    assert_eq!(r.mitigation_set.total_cost, 1.0);
    assert_eq!(r.mitigations.len(), 1);
    assert_eq!(
        (r.mitigations[0].paths_cut, r.mitigations[0].paths_left),
        (2, 0)
    );
    assert!(
        [
            "patch CVE-2021-44228 on service:recommendations",
            "rotate credential pg-reco-ro"
        ]
        .contains(&r.mitigations[0].action.as_str())
    );
}

#[test]
fn the_bastion_key_opens_every_ssh_managed_host() {
    let twin = shop();
    let b = analysis::blast_radius(&twin, "bastion").unwrap();
    // ops-ssh-key (admin) unlocks tag:ssh-managed, which all 14 hosts carry, and SSH from
    // sg-bastion is allowed by sg-web[3], sg-app[1] and sg-data[4].
    assert_eq!(b.root.len(), 14, "{:?}", b.root);
    assert!(b.user.is_empty());
    assert_eq!(b.credentials, ["ops-ssh-key", "pg-app-rw", "pg-reco-ro"]);
    // Every placed service's data (psp has no host).
    assert_eq!(b.data.len(), 11, "{:?}", b.data);
    // bastion 10 + frontend 30 + recommendations 15 + payment 60 + pg-primary 100 + pg-replica 90.
    assert_eq!(b.value_at_risk, 305.0);
}

#[test]
fn reach_query_explains_each_flow() {
    let twin = shop();
    let flows = analysis::reach_query(&twin, "internet", "service:pg-primary").unwrap();
    assert_eq!(flows.len(), 1);
    assert!(!flows[0].1.allowed);
    let flows = analysis::reach_query(&twin, "host:ml-a-1", "service:pg-replica:5432").unwrap();
    assert!(flows[0].1.allowed, "{:?}", flows[0].1);
    assert!(analysis::reach_query(&twin, "host:nope", "host:bastion").is_err());
}

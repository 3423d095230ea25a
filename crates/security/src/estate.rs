//! A generated estate for the attack-graph benchmark: a three-tier enterprise (web, app, data)
//! plus workstations, with security groups between tiers, scan-like vulnerabilities on every
//! host, vulnerable services and stored credentials. Deterministic for a seed.
//!
//! Shape for `hosts` = H and `vulns` = V: 10% web hosts in public subnets (`sg-web`: 443 from
//! the internet), 30% app hosts (`sg-app`: 8080 from `sg-web`, 22 from admin workstations),
//! 10% data hosts (`sg-data`: 5432 from `sg-app`), 50% workstations (`sg-ws`: 445 and 3389
//! between workstations); subnets of 100 hosts. Web services run on 5 hosts each, app and data
//! services on 10; each web service calls an app service, which calls a data service; a tenth
//! of the data services are tagged `crown-jewel`. One web service in five and one app service
//! in ten has a remote code execution; each app service's hosts store the password of the data
//! service it calls; one workstation in a hundred holds an admin SSH key to the app tier.
//! Host vulnerabilities (V − the service ones) are spread evenly, drawn from a palette like a
//! real scan's: mostly local privilege escalations and denial-of-service bugs, a tenth remote
//! (port 22 or 445), some needing privileges.

use serde_json::{Value, json};

/// A small deterministic generator (SplitMix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Vulnerability classes of the palette: vector, port, weight (per 100).
const PALETTE: [(&str, Option<u16>, u32); 6] = [
    // Local privilege escalation (PwnKit-like).
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", None, 45),
    // Denial of service (no attack step).
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", None, 25),
    // Local information disclosure (no step).
    ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N", None, 15),
    // Remote code execution on SSH (regreSSHion-like).
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", Some(22), 5),
    // Remote code execution on SMB needing an account.
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Some(445), 5),
    // Remote code execution on SMB.
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Some(445), 5),
];

/// The estate as a twin document (JSON, the model's format); load it with
/// `serde_json::from_value::<doppel_model::Twin>`.
pub fn generate(hosts: usize, vulns: usize, seed: u64) -> Value {
    let mut rng = Mix(seed);
    let n_web = (hosts / 10).max(5);
    let n_app = (hosts * 3 / 10).max(10);
    let n_data = (hosts / 10).max(10);
    let n_ws = hosts.saturating_sub(n_web + n_app + n_data);
    let mut subnets = serde_json::Map::new();
    let mut host_map = serde_json::Map::new();
    let mut tier_hosts: Vec<Vec<String>> = vec![Vec::new(); 4];
    let tiers = [
        ("web", n_web, "sg-web", true),
        ("app", n_app, "sg-app", false),
        ("data", n_data, "sg-data", false),
        ("ws", n_ws, "sg-ws", false),
    ];
    let mut addr = 0u32;
    for (t, (tier, count, sg, public)) in tiers.iter().enumerate() {
        for i in 0..*count {
            let subnet = format!("{tier}-{}", i / 100);
            if !subnets.contains_key(&subnet) {
                let k = subnets.len() as u32;
                subnets.insert(
                    subnet.clone(),
                    json!({"network": "corp", "cidr": format!("10.{}.{}.0/24", k / 256, k % 256), "public": public}),
                );
            }
            let k = (subnets.len() - 1) as u32;
            addr += 1;
            let name = format!("{tier}-{i}");
            let mut tags = vec![format!("{tier}-tier")];
            if t == 3 && i % 100 == 0 {
                tags.push("admin-ws".to_owned());
            }
            host_map.insert(
                name.clone(),
                json!({
                    "cores": 4,
                    "subnet": subnet,
                    "addresses": [format!("10.{}.{}.{}", k / 256, k % 256, 1 + (addr % 250))],
                    "security_groups": [sg],
                    "tags": tags,
                }),
            );
            tier_hosts[t].push(name);
        }
    }
    // Services.
    let mut services = serde_json::Map::new();
    let mut credentials = serde_json::Map::new();
    let mut service_vulns = 0usize;
    let groups = |h: &[String], size: usize| -> Vec<Vec<String>> {
        h.chunks(size).map(<[String]>::to_vec).collect()
    };
    let data_groups = groups(&tier_hosts[2], 10);
    let app_groups = groups(&tier_hosts[1], 10);
    let web_groups = groups(&tier_hosts[0], 5);
    let endpoint = |calls: Option<(String, &str)>| {
        let mut ep = json!({"service_time": {"dist": "exponential", "mean": "10ms"}});
        if let Some((s, e)) = calls {
            ep["calls"] = json!([{"service": s, "endpoint": e}]);
        }
        ep
    };
    for (i, hs) in data_groups.iter().enumerate() {
        let name = format!("db-{i}");
        let instances: serde_json::Map<String, Value> = hs
            .iter()
            .enumerate()
            .map(|(j, h)| (format!("{name}-{j}"), json!({"host": h})))
            .collect();
        let mut tags = vec!["postgres"];
        if i % 10 == 0 {
            tags.push("crown-jewel");
        }
        services.insert(
            name,
            json!({"kind": "database", "instances": instances, "ports": [{"port": 5432}],
                   "tags": tags, "endpoints": {"query": endpoint(None)},
                   "security": {"value": 100}}),
        );
    }
    for (i, hs) in app_groups.iter().enumerate() {
        let name = format!("app-{i}");
        let db = format!("db-{}", i % data_groups.len().max(1));
        let instances: serde_json::Map<String, Value> = hs
            .iter()
            .enumerate()
            .map(|(j, h)| (format!("{name}-{j}"), json!({"host": h})))
            .collect();
        let mut svc = json!({"instances": instances, "ports": [{"port": 8080}],
            "endpoints": {"get": endpoint(Some((db.clone(), "query")))}});
        if i % 10 == 0 {
            svc["security"] = json!({"vulnerabilities": [{
                "cve": "CVE-2022-42889", "cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "component": "commons-text 1.9", "port": 8080}]});
            service_vulns += 1;
        }
        services.insert(name.clone(), svc);
        credentials.insert(
            format!("{name}-db"),
            json!({"stored_on": [format!("service:{name}")], "unlocks": [format!("service:{db}")]}),
        );
    }
    for (i, hs) in web_groups.iter().enumerate() {
        let name = format!("web-svc-{i}");
        let app = format!("app-{}", i % app_groups.len().max(1));
        let instances: serde_json::Map<String, Value> = hs
            .iter()
            .enumerate()
            .map(|(j, h)| (format!("{name}-{j}"), json!({"host": h})))
            .collect();
        let mut svc = json!({"instances": instances, "ports": [{"port": 443}],
            "endpoints": {"get": endpoint(Some((app, "get")))},
            "security": {"exposed": [{"port": 443, "to": ["internet"]}]}});
        if i % 5 == 0 {
            svc["security"]["vulnerabilities"] = json!([{
                "cve": "CVE-2021-44228", "cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                "component": "log4j-core 2.14.1", "port": 443}]);
            service_vulns += 1;
        }
        services.insert(name, svc);
    }
    credentials.insert(
        "ops-key".to_owned(),
        json!({"stored_on": tier_hosts[3].iter().step_by(100).map(|h| format!("host:{h}")).collect::<Vec<_>>(),
               "unlocks": ["tag:app-tier"], "privilege": "admin"}),
    );
    // Host vulnerabilities, spread evenly; CVE ids from a palette of 2,000 per class.
    let total_weight: u32 = PALETTE.iter().map(|p| p.2).sum();
    let host_vulns = vulns.saturating_sub(service_vulns);
    let names: Vec<String> = host_map.keys().cloned().collect();
    let per_host = host_vulns / names.len().max(1);
    let extra = host_vulns % names.len().max(1);
    for (k, h) in names.iter().enumerate() {
        let count = per_host + usize::from(k < extra);
        let mut list = Vec::with_capacity(count);
        let mut seen = std::collections::HashSet::new();
        while list.len() < count {
            let mut w = (rng.next() % u64::from(total_weight)) as u32;
            let mut class = 0;
            for (c, p) in PALETTE.iter().enumerate() {
                if w < p.2 {
                    class = c;
                    break;
                }
                w -= p.2;
            }
            let id = 10_000 + class * 2_000 + rng.below(2_000);
            if !seen.insert(id) {
                continue;
            }
            let (vector, port, _) = PALETTE[class];
            let mut v = json!({"cve": format!("CVE-2024-{id}"), "cvss": vector});
            if let Some(p) = port {
                v["port"] = json!(p);
            }
            list.push(v);
        }
        if let Some(host) = host_map.get_mut(h) {
            host["security"] = json!({"vulnerabilities": list});
        }
    }
    json!({
        "doppel": 1,
        "networks": {"corp": {"cidr": "10.0.0.0/8"}},
        "subnets": subnets,
        "hosts": host_map,
        "security_groups": {
            "sg-web": {"rules": [
                {"action": "allow", "ports": 443, "peers": ["internet"], "description": "HTTPS"}]},
            "sg-app": {"rules": [
                {"action": "allow", "ports": 8080, "peers": ["group:sg-web"]},
                {"action": "allow", "ports": 22, "peers": ["tag:admin-ws"]}]},
            "sg-data": {"rules": [
                {"action": "allow", "ports": 5432, "peers": ["group:sg-app"]}]},
            "sg-ws": {"rules": [
                {"action": "allow", "ports": 445, "peers": ["group:sg-ws"]},
                {"action": "allow", "ports": 3389, "peers": ["group:sg-ws"]}]},
        },
        "services": services,
        "credentials": credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estate_has_the_requested_size_and_is_a_valid_twin() {
        let v = generate(1_000, 10_000, 1);
        let text = serde_json::to_string(&v).unwrap();
        let loaded = doppel_model::load_str("estate.json", &text);
        let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(5)]);
        let twin = loaded.twin;
        assert_eq!(twin.hosts.len(), 1_000);
        let host_vulns: usize = twin
            .hosts
            .values()
            .map(|h| h.security.as_ref().map_or(0, |s| s.vulnerabilities.len()))
            .sum();
        let svc_vulns: usize = twin
            .services
            .values()
            .map(|s| s.security.as_ref().map_or(0, |s| s.vulnerabilities.len()))
            .sum();
        assert_eq!(host_vulns + svc_vulns, 10_000);
        assert_eq!(generate(1_000, 10_000, 1), v, "deterministic");
    }
}

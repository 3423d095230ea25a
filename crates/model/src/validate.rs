//! Semantic validation of a whole twin: references, probabilities, call cycles, placement,
//! addresses and security facts. Structural checks (types, units, unknown fields) happen
//! before, against the JSON Schema; this module assumes the twin decoded.
//!
//! Every check reports a [`Problem`] with the path of the offending node and carries on, so a
//! user sees every problem at once.

use std::collections::{HashMap, HashSet};

use crate::cvss::Cvss;
use crate::diag::{Path, Severity};
use crate::graph::strongly_connected;
use crate::ids::{Kind, Peer};
use crate::twin::{Call, Distribution, FirewallRule, PolicyRule, SecurityFacts, Twin};

/// A semantic problem at a path of the merged twin.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where.
    pub path: Path,
    /// The problem is about the key at `path` rather than its value.
    pub at_key: bool,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

/// Tolerance on probabilities that must sum to 1 (YAML authors write 0.33 + 0.67).
const SUM_TOLERANCE: f64 = 1e-6;

struct Checker<'a> {
    twin: &'a Twin,
    broken: &'a HashSet<(Kind, String)>,
    out: Vec<Problem>,
}

/// Checks a decoded twin. Names in `broken` belong to entities that failed the schema: they
/// count as existing, and nothing inside them is checked.
pub fn check(twin: &Twin, broken: &HashSet<(Kind, String)>) -> Vec<Problem> {
    let mut c = Checker {
        twin,
        broken,
        out: Vec::new(),
    };
    c.places();
    c.zone_latencies();
    c.network();
    c.services();
    c.call_cycles();
    c.workloads();
    c.slos();
    c.credentials();
    c.out
}

impl Checker<'_> {
    fn error(&mut self, path: Path, message: impl Into<String>) {
        self.out.push(Problem {
            path,
            at_key: false,
            severity: Severity::Error,
            message: message.into(),
        });
    }

    fn warn(&mut self, path: Path, message: impl Into<String>) {
        self.out.push(Problem {
            path,
            at_key: false,
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    fn exists(&self, kind: Kind, name: &str) -> bool {
        let t = self.twin;
        self.broken.contains(&(kind, name.to_owned()))
            || match kind {
                Kind::Region => t.regions.contains_key(name),
                Kind::Zone => t.zones.contains_key(name),
                Kind::Rack => t.racks.contains_key(name),
                Kind::Cluster => t.clusters.contains_key(name),
                Kind::Host => t.hosts.contains_key(name),
                Kind::Network => t.networks.contains_key(name),
                Kind::Subnet => t.subnets.contains_key(name),
                Kind::Router => t.routers.contains_key(name),
                Kind::Link => t.links.contains_key(name),
                Kind::SecurityGroup => t.security_groups.contains_key(name),
                Kind::NetworkPolicy => t.network_policies.contains_key(name),
                Kind::Service => t.services.contains_key(name),
                Kind::Workload => t.workloads.contains_key(name),
                Kind::Slo => t.slos.contains_key(name),
                Kind::Credential => t.credentials.contains_key(name),
                Kind::Endpoint => name.split_once('/').is_some_and(|(s, e)| {
                    self.broken.contains(&(Kind::Service, s.to_owned()))
                        || self.broken.contains(&(Kind::Endpoint, name.to_owned()))
                        || t.services
                            .get(s)
                            .is_some_and(|svc| svc.endpoints.contains_key(e))
                }),
                Kind::Instance => name.split_once('/').is_some_and(|(s, i)| {
                    t.services
                        .get(s)
                        .is_some_and(|svc| t.placed_instances(s, svc).iter().any(|p| p.name == i))
                }),
            }
    }

    /// Whether the endpoint a call names failed the schema (or, unnamed, any of the
    /// service's endpoints did, so which one is meant cannot be known).
    fn endpoint_broken(&self, service: &str, endpoint: Option<&str>) -> bool {
        match endpoint {
            Some(e) => self
                .broken
                .contains(&(Kind::Endpoint, format!("{service}/{e}"))),
            None => self.broken.iter().any(|(k, n)| {
                *k == Kind::Endpoint && n.split_once('/').is_some_and(|(s, _)| s == service)
            }),
        }
    }

    /// Checks that `name` names an existing entity of `kind`, suggesting a near name if not.
    fn reference(&mut self, path: Path, kind: Kind, name: &str) -> bool {
        if self.exists(kind, name) {
            return true;
        }
        let names: Vec<String> = match kind {
            Kind::Zone => self.twin.zones.keys().cloned().collect(),
            Kind::Host => self.twin.hosts.keys().cloned().collect(),
            Kind::Service => self.twin.services.keys().cloned().collect(),
            Kind::Region => self.twin.regions.keys().cloned().collect(),
            Kind::Subnet => self.twin.subnets.keys().cloned().collect(),
            Kind::Router => self.twin.routers.keys().cloned().collect(),
            Kind::SecurityGroup => self.twin.security_groups.keys().cloned().collect(),
            Kind::Workload => self.twin.workloads.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let hint = crate::schema::suggest(name, &names);
        let section = kind.section();
        self.error(
            path,
            format!("unknown {kind} `{name}`{hint}; no such entry under `{section}`"),
        );
        false
    }

    fn opt_reference(&mut self, path: Path, kind: Kind, name: &Option<String>) {
        if let Some(n) = name {
            self.reference(path, kind, n);
        }
    }

    fn peer(&mut self, path: Path, text: &str) {
        match Peer::parse(text) {
            Err(e) => self.error(path, e),
            Ok(Peer::Entity(id)) => {
                self.reference(path, id.kind, &id.name);
            }
            Ok(Peer::Tag(tag)) => {
                if !self.twin.has_tag(&tag) {
                    self.warn(
                        path,
                        format!("no entity carries tag `{tag}`, so this matches nothing"),
                    );
                }
            }
            Ok(_) => {}
        }
    }

    fn places(&mut self) {
        let t = self.twin;
        for (name, zone) in &t.zones {
            let p = Path::of(["zones", name]);
            self.opt_reference(p.key("region"), Kind::Region, &zone.region);
            for other in zone.latency.keys() {
                self.reference(p.key("latency").key(other), Kind::Zone, other);
            }
        }
        for (name, rack) in &t.racks {
            self.reference(Path::of(["racks", name, "zone"]), Kind::Zone, &rack.zone);
        }
        for (name, host) in &t.hosts {
            let p = Path::of(["hosts", name]);
            self.opt_reference(p.key("zone"), Kind::Zone, &host.zone);
            self.opt_reference(p.key("cluster"), Kind::Cluster, &host.cluster);
            self.opt_reference(p.key("subnet"), Kind::Subnet, &host.subnet);
            if let Some(rack) = &host.rack
                && self.reference(p.key("rack"), Kind::Rack, rack)
            {
                let rack_zone = t.racks.get(rack).map(|r| &r.zone);
                if let (Some(rz), Some(hz)) = (rack_zone, &host.zone)
                    && rz != hz
                {
                    self.error(
                        p.key("rack"),
                        format!("rack `{rack}` is in zone `{rz}` but the host says zone `{hz}`"),
                    );
                }
            }
            for (i, sg) in host.security_groups.iter().enumerate() {
                self.reference(p.key("security_groups").index(i), Kind::SecurityGroup, sg);
            }
            // The first address is the primary interface's, the one in `subnet`.
            if let (Some(subnet), Some(addr)) = (&host.subnet, host.addresses.first())
                && let Some(net) = t.subnets.get(subnet).map(|s| s.cidr)
                && !net.contains(addr)
            {
                self.error(
                    p.key("addresses").index(0),
                    format!("address {addr} is outside subnet `{subnet}` ({net})"),
                );
            }
            if let Some(sec) = &host.security {
                self.security_facts(p.key("security"), sec);
            }
        }
    }

    /// Calls between zones pay the stated latency; a pair of zones that both run instances
    /// but have no latency stated would silently cost nothing.
    fn zone_latencies(&mut self) {
        let t = self.twin;
        let mut used: Vec<String> = t
            .all_instances()
            .into_iter()
            .filter_map(|i| i.zone)
            .collect();
        let order: Vec<&String> = t.zones.keys().collect();
        used.sort_by_key(|z| order.iter().position(|o| *o == z));
        used.dedup();
        for (i, a) in used.iter().enumerate() {
            for b in &used[i + 1..] {
                if t.zones.contains_key(a)
                    && t.zones.contains_key(b)
                    && t.zone_latency(a, b).is_none()
                {
                    self.warn(
                        Path::of(["zones", a, "latency"]),
                        format!("no latency stated between zones `{a}` and `{b}`, which both run instances; calls between them will cost no time"),
                    );
                }
            }
        }
    }

    fn network(&mut self) {
        let t = self.twin;
        for (name, net) in &t.networks {
            self.opt_reference(
                Path::of(["networks", name, "region"]),
                Kind::Region,
                &net.region,
            );
        }
        for (name, subnet) in &t.subnets {
            let p = Path::of(["subnets", name]);
            self.opt_reference(p.key("zone"), Kind::Zone, &subnet.zone);
            if let Some(net_name) = &subnet.network
                && self.reference(p.key("network"), Kind::Network, net_name)
                && let Some(net) = t.networks.get(net_name)
                && !net.cidr.contains(&subnet.cidr)
            {
                self.error(
                    p.key("cidr"),
                    format!(
                        "{} is not inside network `{net_name}` ({})",
                        subnet.cidr, net.cidr
                    ),
                );
            }
        }
        // Overlapping subnets of one network would make addresses ambiguous.
        let subnets: Vec<(&String, &crate::twin::Subnet)> = t.subnets.iter().collect();
        for (i, (a, sa)) in subnets.iter().enumerate() {
            for (b, sb) in &subnets[i + 1..] {
                if sa.network.is_some()
                    && sa.network == sb.network
                    && (sa.cidr.contains(&sb.cidr) || sb.cidr.contains(&sa.cidr))
                {
                    self.error(
                        Path::of(["subnets", b, "cidr"]),
                        format!("{} overlaps subnet `{a}` ({})", sb.cidr, sa.cidr),
                    );
                }
            }
        }
        for (name, router) in &t.routers {
            let p = Path::of(["routers", name]);
            self.opt_reference(p.key("zone"), Kind::Zone, &router.zone);
            for (i, s) in router.subnets.iter().enumerate() {
                self.reference(p.key("subnets").index(i), Kind::Subnet, s);
            }
        }
        for (name, link) in &t.links {
            let p = Path::of(["links", name]);
            self.reference(p.key("from"), Kind::Router, &link.from);
            self.reference(p.key("to"), Kind::Router, &link.to);
            if link.from == link.to {
                self.error(
                    p.key("to"),
                    format!("link joins router `{}` to itself", link.to),
                );
            }
            if link.bandwidth.as_bits_per_sec() <= 0.0 {
                self.error(p.key("bandwidth"), "bandwidth must be positive");
            }
        }
        for (name, sg) in &t.security_groups {
            let p = Path::of(["security_groups", name, "rules"]);
            for (i, rule) in sg.rules.iter().enumerate() {
                self.firewall_rule(p.index(i), rule);
            }
        }
        for (name, policy) in &t.network_policies {
            let p = Path::of(["network_policies", name]);
            for (i, target) in policy.applies_to.iter().enumerate() {
                self.peer(p.key("applies_to").index(i), target);
            }
            for (dir, rules) in [("ingress", &policy.ingress), ("egress", &policy.egress)] {
                for (i, rule) in rules.iter().flatten().enumerate() {
                    self.policy_rule(p.key(dir).index(i), rule);
                }
            }
        }
    }

    fn ports(&mut self, path: Path, ports: Option<&crate::twin::PortRange>) {
        if let Some(range) = ports {
            match range.bounds() {
                Some((0, _)) => self.error(path, "port 0 is not a port"),
                Some(_) => {}
                None => self.error(
                    path,
                    "expected a port (1-65535) or a range `LOW-HIGH` with LOW ≤ HIGH",
                ),
            }
        }
    }

    fn firewall_rule(&mut self, p: Path, rule: &FirewallRule) {
        self.ports(p.key("ports"), rule.ports.as_ref());
        if rule.peers.is_empty() {
            self.warn(p.key("peers"), "rule lists no peers, so it never matches");
        }
        for (i, peer) in rule.peers.iter().enumerate() {
            self.peer(p.key("peers").index(i), peer);
        }
    }

    fn policy_rule(&mut self, p: Path, rule: &PolicyRule) {
        for (i, range) in rule.ports.iter().enumerate() {
            self.ports(p.key("ports").index(i), Some(range));
        }
        for (i, peer) in rule.peers.iter().enumerate() {
            self.peer(p.key("peers").index(i), peer);
        }
    }

    fn security_facts(&mut self, p: Path, sec: &SecurityFacts) {
        for (i, vuln) in sec.vulnerabilities.iter().enumerate() {
            if let Some(vector) = &vuln.cvss
                && let Err(e) = Cvss::parse(vector)
            {
                self.error(p.key("vulnerabilities").index(i).key("cvss"), e.to_string());
            }
        }
        for (i, exp) in sec.exposed.iter().enumerate() {
            for (j, to) in exp.to.iter().enumerate() {
                self.peer(p.key("exposed").index(i).key("to").index(j), to);
            }
        }
    }

    fn distribution(&mut self, p: Path, d: &Distribution) {
        match d {
            Distribution::Lognormal { mean, p99 }
                if Distribution::lognormal_params(*mean, *p99).is_none() =>
            {
                let ratio = p99.as_secs_f64() / mean.as_secs_f64().max(f64::MIN_POSITIVE);
                let why = if ratio <= 1.0 {
                    "p99 must be larger than the mean".to_owned()
                } else {
                    format!(
                        "p99 is {ratio:.1} times the mean; a log-normal allows at most 14.9 (use `empirical` for heavier tails)"
                    )
                };
                self.error(p.key("p99"), why);
            }
            Distribution::Uniform { min, max } if min > max => {
                self.error(p.key("max"), format!("max ({max}) is below min ({min})"));
            }
            Distribution::Empirical { buckets } => {
                if buckets.is_empty() || buckets.iter().map(|b| b.weight).sum::<f64>() <= 0.0 {
                    self.error(
                        p.key("buckets"),
                        "needs at least one bucket with a positive weight",
                    );
                }
                for (i, pair) in buckets.windows(2).enumerate() {
                    if pair[1].le <= pair[0].le {
                        self.error(
                            p.key("buckets").index(i + 1).key("le"),
                            format!(
                                "bucket bounds must increase ({} after {})",
                                pair[1].le, pair[0].le
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn services(&mut self) {
        let t = self.twin;
        for (name, svc) in &t.services {
            let p = Path::of(["services", name]);
            if let Some(pl) = &svc.placement {
                for (i, h) in pl.hosts.iter().enumerate() {
                    self.reference(p.key("placement").key("hosts").index(i), Kind::Host, h);
                }
                for (i, z) in pl.zones.iter().enumerate() {
                    self.reference(p.key("placement").key("zones").index(i), Kind::Zone, z);
                }
                if !pl.hosts.is_empty() && !pl.zones.is_empty() {
                    self.error(p.key("placement"), "give `hosts` or `zones`, not both");
                }
                if !pl.host_tags.is_empty() {
                    for (i, z) in pl.zones.iter().enumerate() {
                        let fits = t.hosts.values().any(|h| {
                            h.zone.as_ref() == Some(z)
                                && pl.host_tags.iter().all(|tag| h.tags.contains(tag))
                        });
                        if t.zones.contains_key(z) && !fits {
                            self.warn(
                                p.key("placement").key("zones").index(i),
                                format!("no host in zone `{z}` has tags {:?}; replicas placed here get no host", pl.host_tags),
                            );
                        }
                    }
                    if pl.zones.is_empty() {
                        self.error(
                            p.key("placement").key("host_tags"),
                            "`host_tags` selects hosts within `zones`; list the zones",
                        );
                    }
                }
            }
            if let Some(primary) = &svc.replica_of {
                if primary == name {
                    self.error(
                        p.key("replica_of"),
                        "a service cannot be a replica of itself",
                    );
                } else {
                    self.reference(p.key("replica_of"), Kind::Service, primary);
                }
            }
            if !svc.instances.is_empty() {
                if let Some(r) = svc.replicas
                    && r as usize != svc.instances.len()
                {
                    self.error(
                        p.key("replicas"),
                        format!(
                            "replicas is {r} but {} instances are listed",
                            svc.instances.len()
                        ),
                    );
                }
                if svc.placement.is_some() {
                    self.warn(
                        p.key("placement"),
                        "ignored: the listed instances say where they run",
                    );
                }
            }
            for (iname, inst) in &svc.instances {
                let ip = p.key("instances").key(iname);
                self.opt_reference(ip.key("host"), Kind::Host, &inst.host);
                self.opt_reference(ip.key("zone"), Kind::Zone, &inst.zone);
                let host_zone = inst
                    .host
                    .as_ref()
                    .and_then(|h| t.hosts.get(h))
                    .and_then(|h| h.zone.as_ref());
                if let (Some(hz), Some(iz)) = (host_zone, &inst.zone)
                    && hz != iz
                {
                    self.error(
                        ip.key("zone"),
                        format!(
                            "host `{}` is in zone `{hz}`, not `{iz}`",
                            inst.host.as_deref().unwrap_or_default()
                        ),
                    );
                }
            }
            for (i, sg) in svc.security_groups.iter().enumerate() {
                self.reference(p.key("security_groups").index(i), Kind::SecurityGroup, sg);
            }
            if let Some(sec) = &svc.security {
                self.security_facts(p.key("security"), sec);
            }
            if svc.concurrency.queue_limit == Some(0) && svc.concurrency.workers == 0 {
                self.error(
                    p.key("concurrency"),
                    "an instance with no workers and no queue can serve nothing",
                );
            }
            for (ename, ep) in &svc.endpoints {
                let ep_path = p.key("endpoints").key(ename);
                self.distribution(ep_path.key("service_time"), &ep.service_time);
                for (si, step) in ep.calls.iter().enumerate() {
                    let step_path = ep_path.key("calls").index(si);
                    let parallel = matches!(step, crate::twin::CallStep::Parallel(_));
                    for (ci, call) in step.calls().iter().enumerate() {
                        let cp = if parallel {
                            step_path.key("parallel").index(ci)
                        } else {
                            step_path.clone()
                        };
                        self.call(cp, call);
                    }
                }
            }
        }
        // Oversubscribed hosts are legal (the simulator shares cores) but worth knowing.
        let mut cpu_on: HashMap<&str, f64> = HashMap::new();
        for (sname, svc) in &t.services {
            let cpu = svc.resources.as_ref().and_then(|r| r.cpu).unwrap_or(0.0);
            for inst in t.placed_instances(sname, svc) {
                if let Some(h) = inst
                    .host
                    .as_deref()
                    .and_then(|h| t.hosts.get_key_value(h))
                    .map(|(k, _)| k.as_str())
                {
                    *cpu_on.entry(h).or_default() += cpu;
                }
            }
        }
        for (host, cpu) in cpu_on {
            if let Some(h) = t.hosts.get(host)
                && cpu > h.cores + 1e-9
            {
                self.warn(
                    Path::of(["hosts", host, "cores"]),
                    format!(
                        "instances placed here request {cpu} cores but the host has {}",
                        h.cores
                    ),
                );
            }
        }
    }

    fn call(&mut self, p: Path, call: &Call) {
        if self.broken.contains(&(Kind::Service, call.service.clone())) {
            return;
        }
        if self.reference(p.key("service"), Kind::Service, &call.service)
            && !self.endpoint_broken(&call.service, call.endpoint.as_deref())
            && let Err(e) = self
                .twin
                .resolve_endpoint(&call.service, call.endpoint.as_deref())
        {
            let at = if call.endpoint.is_some() {
                p.key("endpoint")
            } else {
                p.key("service")
            };
            self.error(at, e);
        }
        if call.is_async && call.optional {
            self.warn(
                p.key("optional"),
                "an `async` call never fails its caller; `optional` changes nothing",
            );
        }
        if call.timeout.is_some_and(|t| t.as_nanos() == 0) {
            self.error(p.key("timeout"), "a zero timeout fails every call");
        }
        if let Some(r) = &call.retries {
            if let Some(maxb) = r.max_backoff
                && maxb < r.backoff
            {
                self.error(
                    p.key("retries").key("max_backoff"),
                    format!("max_backoff ({maxb}) is below backoff ({})", r.backoff),
                );
            }
            if r.max > 0 && call.timeout.is_none() {
                self.warn(
                    p.key("retries"),
                    "retries without a timeout only retry errors, never slow calls",
                );
            }
        }
        if let Some(cb) = &call.circuit_breaker
            && cb.error_rate.is_none()
            && cb.consecutive_failures.is_none()
        {
            self.error(
                p.key("circuit_breaker"),
                "give `error_rate` or `consecutive_failures`, or the breaker never trips",
            );
        }
    }

    /// Calls form a graph between endpoints; a cycle is only finite if, on average, each visit
    /// makes fewer than one further visit around it (spectral radius of the expected-call
    /// matrix of the cycle's strongly connected component below 1).
    fn call_cycles(&mut self) {
        let t = self.twin;
        let mut ids: Vec<(String, String)> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for (s, svc) in &t.services {
            for e in svc.endpoints.keys() {
                index.insert((s.clone(), e.clone()), ids.len());
                ids.push((s.clone(), e.clone()));
            }
        }
        let n = ids.len();
        // Expected calls from endpoint i to endpoint j per visit of i.
        let mut edges: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for (i, (s, e)) in ids.iter().enumerate() {
            let Some(ep) = t.services.get(s).and_then(|svc| svc.endpoints.get(e)) else {
                continue;
            };
            for step in &ep.calls {
                for call in step.calls() {
                    if let Ok(target) = t.resolve_endpoint(&call.service, call.endpoint.as_deref())
                        && let Some(&j) = index.get(&(call.service.clone(), target.to_owned()))
                    {
                        edges[i].push((j, call.probability * f64::from(call.count)));
                    }
                }
            }
        }
        for comp in strongly_connected(&edges, |e| e.0) {
            let cyclic = comp.len() > 1 || edges[comp[0]].iter().any(|&(j, _)| j == comp[0]);
            if !cyclic {
                continue;
            }
            let members: HashSet<usize> = comp.iter().copied().collect();
            let rho = spectral_radius(&comp, &members, &edges);
            let names: Vec<String> = comp
                .iter()
                .map(|&i| format!("{}.{}", ids[i].0, ids[i].1))
                .collect();
            let (s, e) = &ids[comp[0]];
            let path = Path::of(["services", s, "endpoints", e, "calls"]);
            let cycle = format!("{} → {}", names.join(" → "), names[0]);
            if rho >= 1.0 - 1e-9 {
                self.error(path, format!("call cycle {cycle} never ends: the expected number of calls grows by a factor {rho:.3} per hop around it (the spectral radius of its expected-call matrix must be below 1)"));
            } else {
                self.warn(path, format!("call cycle {cycle}: recursive calls end with probability 1 (expected calls shrink by a factor {rho:.3} per hop)"));
            }
        }
    }

    fn workloads(&mut self) {
        let t = self.twin;
        for (name, w) in &t.workloads {
            let p = Path::of(["workloads", name]);
            match (&w.open, &w.closed) {
                (Some(_), Some(_)) => self.error(
                    p.key("closed"),
                    "a workload is `open` or `closed`, not both",
                ),
                (None, None) => self.error(
                    p.clone(),
                    "say how load arrives: `open` (a rate) or `closed` (users)",
                ),
                _ => {}
            }
            if let Some(open) = &w.open {
                let op = p.key("open");
                match (&open.rate, open.schedule.is_empty()) {
                    (Some(_), false) => {
                        self.error(op.key("schedule"), "give `rate` or `schedule`, not both")
                    }
                    (None, true) => {
                        self.error(op.clone(), "missing field `rate` (or a `schedule`)")
                    }
                    _ => {}
                }
                for (i, pair) in open.schedule.windows(2).enumerate() {
                    if pair[1].at <= pair[0].at {
                        self.error(
                            op.key("schedule").index(i + 1).key("at"),
                            format!("times must increase ({} after {})", pair[1].at, pair[0].at),
                        );
                    }
                }
            }
            if let Some(closed) = &w.closed {
                self.distribution(p.key("closed").key("think_time"), &closed.think_time);
            }
            self.flow(&p.key("flow"), w);
        }
    }

    fn flow(&mut self, p: &Path, w: &crate::twin::Workload) {
        let t = self.twin;
        let steps = &w.flow.steps;
        if steps.is_empty() {
            self.error(p.key("steps"), "a flow needs at least one step");
            return;
        }
        let start = match &w.flow.start {
            Some(s) if !steps.contains_key(s) => {
                let hint = crate::schema::suggest(s, &steps.keys().cloned().collect::<Vec<_>>());
                self.error(p.key("start"), format!("no step named `{s}`{hint}"));
                return;
            }
            Some(s) => s.clone(),
            None => steps.keys().next().cloned().unwrap_or_default(),
        };
        for (sname, step) in steps {
            let sp = p.key("steps").key(sname);
            if !self.broken.contains(&(Kind::Service, step.service.clone()))
                && self.reference(sp.key("service"), Kind::Service, &step.service)
                && !self.endpoint_broken(&step.service, step.endpoint.as_deref())
                && let Err(e) = t.resolve_endpoint(&step.service, step.endpoint.as_deref())
            {
                let at = if step.endpoint.is_some() {
                    sp.key("endpoint")
                } else {
                    sp.key("service")
                };
                self.error(at, e);
            }
            let mut sum = step.exit_probability();
            for (next, prob) in &step.next {
                if !steps.contains_key(next) {
                    let hint =
                        crate::schema::suggest(next, &steps.keys().cloned().collect::<Vec<_>>());
                    self.error(
                        sp.key("next").key(next),
                        format!("no step named `{next}`{hint}"),
                    );
                }
                if !(0.0..=1.0).contains(prob) {
                    self.error(
                        sp.key("next").key(next),
                        format!("probability {prob} is outside [0, 1]"),
                    );
                }
                sum += prob;
            }
            if (sum - 1.0).abs() > SUM_TOLERANCE {
                let parts = if step.exit.is_some() || step.next.is_empty() {
                    "`next` and `exit`"
                } else {
                    "`next` (with no `exit`)"
                };
                self.error(
                    sp.key("next"),
                    format!("probabilities of {parts} sum to {sum}, not 1"),
                );
            }
            if let Some(think) = &step.think_time {
                self.distribution(sp.key("think_time"), think);
            }
        }
        // Every reachable step must be able to reach an exit, or arrivals never leave.
        let names: Vec<&String> = steps.keys().collect();
        let idx = |n: &str| names.iter().position(|x| *x == n);
        let mut reach = vec![false; names.len()];
        let mut stack: Vec<usize> = idx(&start).into_iter().collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut reach[i], true) {
                continue;
            }
            for (next, prob) in &steps[i].next {
                if *prob > 0.0 {
                    stack.extend(idx(next));
                }
            }
        }
        let mut exits: Vec<bool> = steps.values().map(|s| s.exit_probability() > 0.0).collect();
        loop {
            let mut changed = false;
            for (i, step) in steps.values().enumerate() {
                if !exits[i]
                    && step
                        .next
                        .iter()
                        .any(|(n, prob)| *prob > 0.0 && idx(n).is_some_and(|j| exits[j]))
                {
                    exits[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for (i, name) in names.iter().enumerate() {
            if reach[i] && !exits[i] {
                self.error(
                    p.key("steps").key(*name),
                    format!(
                        "step `{name}` can never reach an exit, so arrivals would stay forever"
                    ),
                );
            } else if !reach[i] {
                self.warn(
                    p.key("steps").key(*name),
                    format!("step `{name}` is never reached from `{start}`"),
                );
            }
        }
    }

    fn slos(&mut self) {
        let t = self.twin;
        for (name, slo) in &t.slos {
            let p = Path::of(["slos", name]);
            match (&slo.workload, &slo.service) {
                (Some(w), None) => {
                    self.reference(p.key("workload"), Kind::Workload, w);
                    if slo.endpoint.is_some() {
                        self.error(
                            p.key("endpoint"),
                            "`endpoint` goes with `service`, not `workload`",
                        );
                    }
                }
                (None, Some(s)) => {
                    if self.reference(p.key("service"), Kind::Service, s)
                        && slo.endpoint.is_some()
                        && !self.broken.contains(&(Kind::Service, s.clone()))
                        && !self.endpoint_broken(s, slo.endpoint.as_deref())
                        && let Err(e) = t.resolve_endpoint(s, slo.endpoint.as_deref())
                    {
                        self.error(p.key("endpoint"), e);
                    }
                }
                (Some(_), Some(_)) => self.error(
                    p.key("service"),
                    "an SLO judges a `workload` or a `service`, not both",
                ),
                (None, None) => self.error(
                    p.clone(),
                    "say what the SLO judges: `workload` or `service`",
                ),
            }
            match (&slo.latency, &slo.availability) {
                (Some(l), None) => {
                    if l.percentile <= 0.0 || l.percentile >= 100.0 {
                        self.error(
                            p.key("latency").key("percentile"),
                            format!(
                                "percentile {} must be strictly between 0 and 100",
                                l.percentile
                            ),
                        );
                    }
                }
                (None, Some(_)) => {}
                (Some(_), Some(_)) => self.error(
                    p.key("availability"),
                    "one objective per SLO: `latency` or `availability`",
                ),
                (None, None) => {
                    self.error(p.clone(), "missing objective: `latency` or `availability`")
                }
            }
        }
    }

    fn credentials(&mut self) {
        for (name, cred) in &self.twin.credentials {
            let p = Path::of(["credentials", name]);
            for (i, s) in cred.stored_on.iter().enumerate() {
                self.peer(p.key("stored_on").index(i), s);
            }
            for (i, u) in cred.unlocks.iter().enumerate() {
                self.peer(p.key("unlocks").index(i), u);
            }
        }
    }
}

/// Spectral radius of a non-negative matrix restricted to one component, by power iteration
/// (Perron–Frobenius: the dominant eigenvalue is real and non-negative). Averages consecutive
/// estimates to cope with periodic components.
fn spectral_radius(comp: &[usize], members: &HashSet<usize>, edges: &[Vec<(usize, f64)>]) -> f64 {
    let pos: HashMap<usize, usize> = comp.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let mut v = vec![1.0; comp.len()];
    let mut rho = 0.0;
    for _ in 0..500 {
        let mut w = vec![0.0; comp.len()];
        for (k, &i) in comp.iter().enumerate() {
            for &(j, weight) in &edges[i] {
                if members.contains(&j) {
                    w[pos[&j]] += weight * v[k];
                }
            }
        }
        // Mix with the identity (radius of (A+I)/2 is (ρ+1)/2) so periodic cycles converge.
        for (wk, vk) in w.iter_mut().zip(&v) {
            *wk = (*wk + vk) / 2.0;
        }
        let norm = w.iter().cloned().fold(0.0, f64::max);
        if norm <= 0.0 {
            return 0.0;
        }
        let new_rho = 2.0 * norm - 1.0;
        v = w.iter().map(|x| x / norm).collect();
        if (new_rho - rho).abs() < 1e-12 {
            return new_rho;
        }
        rho = new_rho;
    }
    rho
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_radius_of_simple_cycles() {
        // 0 → 1 (0.5), 1 → 0 (1.0): ρ = sqrt(0.5).
        let edges = vec![vec![(1, 0.5)], vec![(0, 1.0)]];
        let comps = strongly_connected(&edges, |e| e.0);
        assert_eq!(comps, vec![vec![0, 1]]);
        let members: HashSet<usize> = [0, 1].into();
        let rho = spectral_radius(&[0, 1], &members, &edges);
        assert!((rho - 0.5f64.sqrt()).abs() < 1e-6, "{rho}");
        // A certain self-call: ρ = 1.
        let edges = vec![vec![(0, 1.0)]];
        let rho = spectral_radius(&[0], &[0].into(), &edges);
        assert!((rho - 1.0).abs() < 1e-6, "{rho}");
    }
}

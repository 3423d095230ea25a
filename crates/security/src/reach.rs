//! Reachability: whether the twin's firewalls let a flow (source, destination host, port,
//! protocol) through, and which rule decides.
//!
//! The semantics, all in one place:
//!
//! - **Sources** are the internet (an arbitrary public address), a given external address, or
//!   a host of the twin. Traffic from a host also carries the identity of every service placed
//!   on it (its packets leave from the host's addresses, and its security groups are the
//!   host's and its services'), so a host matches `service:S`, `tag:T` and `group:G` of its
//!   services as well as its own.
//! - **Peers** (`docs/FORMAT.md`): the internet matches `any`, `internet` and the
//!   zero-length CIDRs (`0.0.0.0/0`, `::/0`) only; a narrower range is a set of specific
//!   addresses the internet attacker is assumed not to hold (give an address as the source to
//!   place the attacker in it). An external address matches `internet` when it is not private.
//! - **Routing.** From outside, a host is routable when its subnet is `public` or one of its
//!   (or its services') `exposed` entries names the port and a peer matching the source.
//!   Between hosts, traffic is routable unless both sit in subnets of different networks (no
//!   peering is modelled). A host always reaches itself.
//! - **Security groups** are ordered rule lists: in each group the first rule matching
//!   direction, protocol, port and peer decides, else the group's `default` (deny unless
//!   stated). A host's groups are its own plus its services'; as with cloud security groups,
//!   traffic passes when any of them allows it. Egress is checked on the source host's groups,
//!   ingress on the destination's. A group with no egress rule says nothing about egress (as a
//!   cloud security group keeps its default allow-all egress rule until egress rules are
//!   written; `shop-network.yaml` relies on this: only `sg-app` restricts egress). A host with no group has no firewall: internal traffic
//!   passes, and from outside only what `exposed` lists does (default deny).
//! - **Network policies** (Kubernetes semantics) apply to flows aimed at a service: once a
//!   policy with `ingress` selects the service, only flows some selecting policy's rule allows
//!   pass (peers, ports, protocol). Egress policies restrict a source host only when every
//!   service on it is selected by a policy with `egress` and none allows the flow.
//! - **Mitigations** ([`Overlay`]) close rules (skipped in evaluation) and isolate subnets
//!   (flows into them from outside the subnet are denied).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use doppel_model::{Action, Direction, EntityId, Host, Kind, Peer, PortRange, Protocol, Twin};
use indexmap::IndexMap;
use serde::Serialize;

/// Changes to the twin a what-if applies without editing it: the mitigations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overlay {
    /// `(entity id, CVE)` pairs patched (`host:web-1`, `CVE-2021-44228`).
    pub patched: BTreeSet<(String, String)>,
    /// `(security group, rule index)` pairs removed.
    pub closed_rules: BTreeSet<(String, usize)>,
    /// Credentials rotated (every stolen copy is worthless and the stored copies removed).
    pub rotated: BTreeSet<String>,
    /// Subnets isolated: no flow enters them from outside the subnet.
    pub isolated_subnets: BTreeSet<String>,
}

/// Where an attacker starts outside the twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Anywhere on the internet.
    Internet,
    /// A given (external) address.
    Address(IpAddr),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Internet => f.write_str("internet"),
            Origin::Address(a) => write!(f, "{a}"),
        }
    }
}

/// The source of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Src<'t> {
    /// From outside the twin.
    Outside(Origin),
    /// From a host of the twin.
    Host(&'t str),
}

impl fmt::Display for Src<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Src::Outside(o) => write!(f, "{o}"),
            Src::Host(h) => write!(f, "host:{h}"),
        }
    }
}

/// One reason in a verdict: a check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `route`, `egress`, `ingress`, `policy` or `isolation`.
    pub check: &'static str,
    /// Whether this check lets the flow through.
    pub pass: bool,
    /// In words.
    pub detail: String,
    /// The rule that decided, as `security-group:NAME` and index, when a rule did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<(String, usize)>,
}

/// Whether a flow passes, with every check that was made (the first failing one decides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The flow passes.
    pub allowed: bool,
    /// The checks, in order.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// The security-group rules that allowed the flow (what closing a rule would cut).
    pub fn allowing_rules(&self) -> impl Iterator<Item = &(String, usize)> {
        self.reasons
            .iter()
            .filter(|r| r.pass)
            .filter_map(|r| r.rule.as_ref())
    }

    /// A one-line summary: the decisive reason.
    pub fn summary(&self) -> String {
        let decisive = if self.allowed {
            self.reasons.iter().rev().find(|r| r.check == "ingress")
        } else {
            self.reasons.iter().find(|r| !r.pass)
        };
        decisive
            .or(self.reasons.last())
            .map(|r| r.detail.clone())
            .unwrap_or_default()
    }
}

/// The network view of a twin: who runs where, which groups apply, and flow evaluation.
pub struct Net<'t> {
    /// The twin.
    pub twin: &'t Twin,
    overlay: &'t Overlay,
    services_on: IndexMap<&'t str, Vec<&'t str>>,
    hosts_of: IndexMap<&'t str, Vec<&'t str>>,
    instances_on: IndexMap<&'t str, Vec<String>>,
}

impl<'t> Net<'t> {
    /// Builds the view (placement resolved once).
    pub fn new(twin: &'t Twin, overlay: &'t Overlay) -> Net<'t> {
        let mut services_on: IndexMap<&str, Vec<&str>> = IndexMap::new();
        let mut hosts_of: IndexMap<&str, Vec<&str>> = IndexMap::new();
        let mut instances_on: IndexMap<&str, Vec<String>> = IndexMap::new();
        for (sname, svc) in &twin.services {
            for inst in twin.placed_instances(sname, svc) {
                let Some(hname) = inst.host.as_deref() else {
                    continue;
                };
                let Some((hkey, _)) = twin.hosts.get_key_value(hname) else {
                    continue;
                };
                let on = services_on.entry(hkey.as_str()).or_default();
                if !on.contains(&sname.as_str()) {
                    on.push(sname.as_str());
                }
                let of = hosts_of.entry(sname.as_str()).or_default();
                if !of.contains(&hkey.as_str()) {
                    of.push(hkey.as_str());
                }
                instances_on
                    .entry(hkey.as_str())
                    .or_default()
                    .push(format!("{sname}/{}", inst.name));
            }
        }
        Net {
            twin,
            overlay,
            services_on,
            hosts_of,
            instances_on,
        }
    }

    /// The mitigations in force.
    pub fn overlay(&self) -> &Overlay {
        self.overlay
    }

    /// Services with an instance on `host`.
    pub fn services_on(&self, host: &str) -> &[&'t str] {
        self.services_on.get(host).map_or(&[], Vec::as_slice)
    }

    /// Hosts running an instance of `service`.
    pub fn hosts_of(&self, service: &str) -> &[&'t str] {
        self.hosts_of.get(service).map_or(&[], Vec::as_slice)
    }

    /// Security groups applying to `host`: its own, then its services', each once.
    pub fn groups_of(&self, host: &str) -> Vec<&'t str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(h) = self.twin.hosts.get(host) {
            out.extend(h.security_groups.iter().map(String::as_str));
        }
        for s in self.services_on(host) {
            if let Some(svc) = self.twin.services.get(*s) {
                out.extend(svc.security_groups.iter().map(String::as_str));
            }
        }
        let mut seen = BTreeSet::new();
        out.retain(|g| seen.insert(*g));
        out
    }

    fn network_of(&self, h: &Host) -> Option<&'t str> {
        let subnet = self.twin.subnets.get(h.subnet.as_deref()?)?;
        subnet.network.as_deref()
    }

    /// Whether `who` matches `peer`.
    pub fn matches(&self, peer: &Peer, who: Src<'_>) -> bool {
        match who {
            Src::Outside(origin) => match (peer, origin) {
                (Peer::Any, _) => true,
                (Peer::Internet, Origin::Internet) => true,
                (Peer::Internet, Origin::Address(a)) => is_public(a),
                (Peer::Cidr(net), Origin::Internet) => net.prefix_len() == 0,
                (Peer::Cidr(net), Origin::Address(a)) => net.contains(&a),
                _ => false,
            },
            Src::Host(name) => {
                let Some(h) = self.twin.hosts.get(name) else {
                    return false;
                };
                let services = self.services_on(name);
                match peer {
                    Peer::Any => true,
                    Peer::Internet => false,
                    Peer::Cidr(net) => h.addresses.iter().any(|a| net.contains(a)),
                    Peer::Tag(t) => {
                        h.tags.contains(t)
                            || services.iter().any(|s| {
                                self.twin
                                    .services
                                    .get(*s)
                                    .is_some_and(|s| s.tags.contains(t))
                            })
                    }
                    Peer::Entity(id) => self.entity_matches(id, name, h, services),
                }
            }
        }
    }

    fn entity_matches(&self, id: &EntityId, name: &str, h: &Host, services: &[&str]) -> bool {
        let n = id.name.as_str();
        match id.kind {
            Kind::Host => n == name,
            Kind::Service => services.contains(&n),
            Kind::SecurityGroup => self.groups_of(name).contains(&n),
            Kind::Subnet => h.subnet.as_deref() == Some(n),
            Kind::Zone => h.zone.as_deref() == Some(n),
            Kind::Cluster => h.cluster.as_deref() == Some(n),
            Kind::Network => self.network_of(h) == Some(n),
            Kind::Region => {
                h.zone
                    .as_deref()
                    .and_then(|z| self.twin.zones.get(z))
                    .and_then(|z| z.region.as_deref())
                    == Some(n)
            }
            Kind::Instance => self
                .instances_on
                .get(name)
                .is_some_and(|v| v.iter().any(|i| i == n)),
            _ => false,
        }
    }

    fn any_peer(&self, peers: &[String], who: Src<'_>) -> bool {
        peers
            .iter()
            .filter_map(|p| Peer::parse(p).ok())
            .any(|p| self.matches(&p, who))
    }

    /// Whether a service is selected by a policy's `applies_to`.
    fn selects(&self, applies_to: &[String], service: &str) -> bool {
        let Some(svc) = self.twin.services.get(service) else {
            return false;
        };
        applies_to
            .iter()
            .filter_map(|p| Peer::parse(p).ok())
            .any(|p| match p {
                Peer::Any => true,
                Peer::Tag(t) => svc.tags.contains(&t),
                Peer::Entity(id) => id.kind == Kind::Service && id.name == service,
                _ => false,
            })
    }

    /// Evaluates one side's security groups. `who` is the peer the rules look at.
    fn groups_decide(
        &self,
        host: &str,
        direction: Direction,
        who: Src<'_>,
        port: u16,
        proto: Protocol,
    ) -> Option<Reason> {
        let groups = self.groups_of(host);
        if groups.is_empty() {
            return None;
        }
        let check = match direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        let mut first_deny: Option<Reason> = None;
        let mut said = false;
        for g in groups {
            let Some(sg) = self.twin.security_groups.get(g) else {
                continue;
            };
            if direction == Direction::Egress
                && !sg.rules.iter().any(|r| r.direction == Direction::Egress)
            {
                continue;
            }
            said = true;
            let mut decided = None;
            for (i, rule) in sg.rules.iter().enumerate() {
                if self.overlay.closed_rules.contains(&(g.to_owned(), i))
                    || rule.direction != direction
                    || !proto_matches(rule.protocol, proto)
                    || !port_matches(rule.ports.as_ref(), port)
                    || !self.any_peer(&rule.peers, who)
                {
                    continue;
                }
                decided = Some((rule.action, Some(i), rule.description.clone()));
                break;
            }
            let (action, index, description) = decided.unwrap_or((sg.default, None, None));
            let pass = action == Action::Allow;
            let verb = if pass { "allows" } else { "denies" };
            let detail = match (index, description) {
                (Some(i), Some(d)) => format!("security group {g} rule[{i}] {verb} ({d})"),
                (Some(i), None) => format!("security group {g} rule[{i}] {verb}"),
                (None, _) => format!("security group {g}: no rule matches, default {verb}"),
            };
            let reason = Reason {
                check,
                pass,
                detail,
                rule: index.map(|i| (g.to_owned(), i)),
            };
            if pass {
                return Some(reason);
            }
            first_deny.get_or_insert(reason);
        }
        if !said {
            return None;
        }
        first_deny
    }

    /// An `exposed` entry on `host` (or a service on it) naming `port` to a peer matching `who`.
    fn exposure(&self, host: &str, port: u16, proto: Protocol, who: Src<'_>) -> Option<String> {
        let h = self.twin.hosts.get(host)?;
        let mut owners: Vec<(String, &doppel_model::SecurityFacts)> = Vec::new();
        if let Some(s) = &h.security {
            owners.push((format!("host:{host}"), s));
        }
        for s in self.services_on(host) {
            if let Some(sec) = self.twin.services.get(*s).and_then(|s| s.security.as_ref()) {
                owners.push((format!("service:{s}"), sec));
            }
        }
        owners.into_iter().find_map(|(owner, sec)| {
            sec.exposed
                .iter()
                .find(|e| {
                    e.port == port && proto_matches(e.protocol, proto) && self.any_peer(&e.to, who)
                })
                .map(|e| {
                    format!(
                        "{owner} exposes {}/{} to {}",
                        e.port,
                        proto_str(proto),
                        e.to.join(", ")
                    )
                })
        })
    }

    /// Evaluates a flow from `src` to `port`/`proto` on host `dst`, aimed at `service` (which
    /// brings network policies in) or at the host itself.
    pub fn flow(
        &self,
        src: Src<'_>,
        dst: &str,
        port: u16,
        proto: Protocol,
        service: Option<&str>,
    ) -> Verdict {
        let mut reasons = Vec::new();
        let deny = |mut reasons: Vec<Reason>, check, detail: String| {
            reasons.push(Reason {
                check,
                pass: false,
                detail,
                rule: None,
            });
            Verdict {
                allowed: false,
                reasons,
            }
        };
        let Some(dh) = self.twin.hosts.get(dst) else {
            return deny(reasons, "route", format!("no host `{dst}`"));
        };
        if src == Src::Host(dst) {
            reasons.push(Reason {
                check: "route",
                pass: true,
                detail: format!("same host {dst}: local traffic, no firewall"),
                rule: None,
            });
            return Verdict {
                allowed: true,
                reasons,
            };
        }
        // Isolation (a mitigation).
        if let Some(sn) = dh.subnet.as_deref()
            && self.overlay.isolated_subnets.contains(sn)
        {
            let same = match src {
                Src::Host(s) => {
                    self.twin.hosts.get(s).and_then(|h| h.subnet.as_deref()) == Some(sn)
                }
                Src::Outside(_) => false,
            };
            if !same {
                return deny(reasons, "isolation", format!("subnet {sn} is isolated"));
            }
        }
        // Routing.
        match src {
            Src::Outside(_) => {
                let public = dh
                    .subnet
                    .as_deref()
                    .filter(|s| self.twin.subnets.get(*s).is_some_and(|s| s.public));
                if let Some(sn) = public {
                    reasons.push(Reason {
                        check: "route",
                        pass: true,
                        detail: format!("subnet {sn} is public"),
                        rule: None,
                    });
                } else if let Some(e) = self.exposure(dst, port, proto, src) {
                    reasons.push(Reason {
                        check: "route",
                        pass: true,
                        detail: e,
                        rule: None,
                    });
                } else {
                    let where_ = match dh.subnet.as_deref() {
                        Some(sn) => format!("host {dst} is in private subnet {sn}"),
                        None => format!("host {dst} is in no subnet"),
                    };
                    return deny(
                        reasons,
                        "route",
                        format!("{where_} and nothing exposes port {port} to {src}"),
                    );
                }
            }
            Src::Host(s) => {
                let sh = self.twin.hosts.get(s);
                let (a, b) = (sh.and_then(|h| self.network_of(h)), self.network_of(dh));
                if let (Some(a), Some(b)) = (a, b)
                    && a != b
                {
                    return deny(
                        reasons,
                        "route",
                        format!("networks {a} and {b} are not connected (no peering is modelled)"),
                    );
                }
                reasons.push(Reason {
                    check: "route",
                    pass: true,
                    detail: match b {
                        Some(n) => format!("same network {n}"),
                        None => "no network separates them".to_owned(),
                    },
                    rule: None,
                });
                // Source egress.
                if let Some(r) =
                    self.groups_decide(s, Direction::Egress, Src::Host(dst), port, proto)
                {
                    let pass = r.pass;
                    reasons.push(r);
                    if !pass {
                        return Verdict {
                            allowed: false,
                            reasons,
                        };
                    }
                }
                // Source egress policies.
                if let Some(r) = self.egress_policies(s, dst, port, proto) {
                    let pass = r.pass;
                    reasons.push(r);
                    if !pass {
                        return Verdict {
                            allowed: false,
                            reasons,
                        };
                    }
                }
            }
        }
        // Destination ingress.
        match self.groups_decide(dst, Direction::Ingress, src, port, proto) {
            Some(r) => {
                let pass = r.pass;
                reasons.push(r);
                if !pass {
                    return Verdict {
                        allowed: false,
                        reasons,
                    };
                }
            }
            None => match src {
                Src::Outside(_) => match self.exposure(dst, port, proto, src) {
                    Some(e) => reasons.push(Reason {
                        check: "ingress",
                        pass: true,
                        detail: format!("no security group; {e}"),
                        rule: None,
                    }),
                    None => {
                        return deny(
                            reasons,
                            "ingress",
                            format!(
                                "host {dst} has no security group and nothing exposes port {port} to {src} (default deny)"
                            ),
                        );
                    }
                },
                Src::Host(_) => reasons.push(Reason {
                    check: "ingress",
                    pass: true,
                    // Not naming the host: the attack graph shares this verdict among the
                    // hosts of one class (`graph.rs`), and each step names its own.
                    detail: "the destination has no security group (no firewall)".to_owned(),
                    rule: None,
                }),
            },
        }
        // Destination network policies.
        if let Some(svc) = service
            && let Some(r) = self.ingress_policies(svc, src, port, proto)
        {
            let pass = r.pass;
            reasons.push(r);
            if !pass {
                return Verdict {
                    allowed: false,
                    reasons,
                };
            }
        }
        Verdict {
            allowed: true,
            reasons,
        }
    }

    fn policy_rule_allows(
        &self,
        rule: &doppel_model::PolicyRule,
        who: Src<'_>,
        port: u16,
        proto: Protocol,
    ) -> bool {
        proto_matches(rule.protocol, proto)
            && (rule.ports.is_empty() || rule.ports.iter().any(|r| port_matches(Some(r), port)))
            && self.any_peer(&rule.peers, who)
    }

    fn ingress_policies(
        &self,
        svc: &str,
        src: Src<'_>,
        port: u16,
        proto: Protocol,
    ) -> Option<Reason> {
        let mut selecting = Vec::new();
        for (name, pol) in &self.twin.network_policies {
            let Some(rules) = &pol.ingress else { continue };
            if !self.selects(&pol.applies_to, svc) {
                continue;
            }
            selecting.push(name.as_str());
            if let Some(i) = rules
                .iter()
                .position(|r| self.policy_rule_allows(r, src, port, proto))
            {
                return Some(Reason {
                    check: "policy",
                    pass: true,
                    detail: format!(
                        "network policy {name} ingress[{i}] allows it into service {svc}"
                    ),
                    rule: None,
                });
            }
        }
        (!selecting.is_empty()).then(|| Reason {
            check: "policy",
            pass: false,
            detail: format!(
                "network policies {} select service {svc} for ingress and none allows {src} on {port}/{}",
                selecting.join(", "),
                proto_str(proto)
            ),
            rule: None,
        })
    }

    fn egress_policies(&self, src: &str, dst: &str, port: u16, proto: Protocol) -> Option<Reason> {
        let services = self.services_on(src);
        if services.is_empty() {
            return None;
        }
        let mut restricted = Vec::new();
        for s in services {
            let mut selected = false;
            for (name, pol) in &self.twin.network_policies {
                let Some(rules) = &pol.egress else { continue };
                if !self.selects(&pol.applies_to, s) {
                    continue;
                }
                selected = true;
                if let Some(i) = rules
                    .iter()
                    .position(|r| self.policy_rule_allows(r, Src::Host(dst), port, proto))
                {
                    return Some(Reason {
                        check: "policy",
                        pass: true,
                        detail: format!(
                            "network policy {name} egress[{i}] allows it out of service {s}"
                        ),
                        rule: None,
                    });
                }
            }
            if !selected {
                return None; // this service's identity is unrestricted
            }
            restricted.push(*s);
        }
        Some(Reason {
            check: "policy",
            pass: false,
            detail: format!(
                "egress of {} is restricted by network policies and none allows host:{dst} on {port}/{}",
                restricted.join(", "),
                proto_str(proto)
            ),
            rule: None,
        })
    }
}

fn proto_matches(rule: Protocol, flow: Protocol) -> bool {
    rule == Protocol::Any || flow == Protocol::Any || rule == flow
}

fn port_matches(ports: Option<&PortRange>, port: u16) -> bool {
    match ports {
        None => true,
        Some(r) => r.bounds().is_some_and(|(lo, hi)| lo <= port && port <= hi),
    }
}

/// `tcp`, `udp`, `icmp` or `any`.
pub fn proto_str(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::Any => "any",
    }
}

/// Not a private, loopback, link-local, documentation or unspecified address.
fn is_public(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || (v.octets()[0] == 100 && (v.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(v) => {
            !(v.is_loopback()
                || v.is_unspecified()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

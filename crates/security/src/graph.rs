//! The logical attack graph of a twin, computed to a fixpoint.
//!
//! **Facts.** Primitive: where the attacker starts ([`Fact::Origin`], or a host already
//! compromised). Derived: code execution on a host as user or root ([`Fact::Exec`]), the
//! ability to send requests to a service ([`Fact::Input`]), a credential in hand
//! ([`Fact::Cred`]) and access to a service's data ([`Fact::Data`]). Network reachability,
//! vulnerabilities and credential locations are consulted while deriving and recorded in each
//! step's `via`, with the firewall rule that let the flow through.
//!
//! **Rules** (each derivation is an action of a [`Problem`], so it keeps its premises):
//!
//! 1. *Reach a service*: from a position (the origin, or a host the attacker executes on)
//!    whose flow to a port of an instance of service S passes ([`crate::reach`]): Input(S).
//! 2. *Relay*: Input(S) and S calls T (an endpoint's `calls`): Input(T). Requests carry the
//!    attacker's data downstream, which is how injection bugs such as Log4Shell are reached.
//! 3. *Exploit a service* (T1190 when S is exposed to the internet, else T1210): a remote
//!    vulnerability of S (AV:N/A) with integrity impact High gives Exec(user) on every host
//!    running S; with only confidentiality impact High it gives Data(S).
//! 4. *Exploit a host port*: the same for a vulnerability listed on a host with a `port`,
//!    when a position's flow to that port passes.
//!
//!    *Privileges* (rules 3 and 4): a vulnerability with PR:L also needs Cred(C) for a
//!    credential C unlocking the vulnerable service, the host, or (for a host port) a service
//!    on the host listening there; PR:H needs such a credential with `privilege: admin`. The
//!    credential joins the step's premises (and rotating it becomes a fix of the step).
//! 5. *Escalate* (T1068): Exec(H, user) and a local vulnerability (AV:L/P, integrity High,
//!    PR:N or PR:L) of H or of a service on H: Exec(H, root). A local PR:H bug needs root
//!    already and gives nothing.
//! 6. *Steal a credential* (T1552.001): stored on a host, it needs root there; stored on a
//!    service, user on a host running it.
//! 7. *Use a credential* (T1021.004 SSH, T1021.001 RDP for Windows hosts, T1078 for
//!    services): a credential unlocking a host, with a flow to its login port (22, or 3389
//!    when the OS name says Windows), gives Exec(user), or Exec(root) for `privilege: admin`;
//!    one unlocking a service, with a flow to one of its ports, gives Data(S).
//! 8. *Local data* (T1005): Exec(H, user) gives Data(S) for each service on H.
//!
//! Root includes user: a derivation of Exec(H, root) adds Exec(H, user) too.
//!
//! **Probabilities** (the most likely path multiplies them; documented in `README.md`): an
//! exploit succeeds with `p = E / 3.887`, E the CVSS v3.1 exploitability sub-score
//! `8.22·AV·AC·PR·UI` and 3.887 its maximum (AV:N/AC:L/PR:N/UI:N), so attack vector,
//! complexity, privileges and user interaction all lower it (AC:H alone gives 0.571); a
//! vulnerability without a vector gets 0.5; stealing and using a credential, relaying and
//! reaching succeed with 1. The twin has no field for a stated probability (a model gap).

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use doppel_model::cvss::Cvss;
use doppel_model::{Peer, Privilege, Protocol, ServiceKind, Twin};
use serde::Serialize;

use crate::problem::{ActId, FactId, Problem};
use crate::reach::{Net, Origin, Overlay, Src, proto_str};

/// A fact of the attack graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "fact", rename_all = "kebab-case")]
pub enum Fact {
    /// The attacker is here, outside the twin.
    Origin {
        /// Where.
        origin: Origin,
    },
    /// Code execution on a host.
    Exec {
        /// The host.
        host: String,
        /// As root (else as an ordinary user).
        root: bool,
    },
    /// The attacker's requests reach a service.
    Input {
        /// The service.
        service: String,
    },
    /// A credential is in the attacker's hands.
    Cred {
        /// The credential.
        credential: String,
    },
    /// The attacker can read (and write) a service's data.
    Data {
        /// The service.
        service: String,
    },
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Origin { origin } => write!(f, "attacker at {origin}"),
            Fact::Exec { host, root: true } => write!(f, "root on {host}"),
            Fact::Exec { host, root: false } => write!(f, "user on {host}"),
            Fact::Input { service } => write!(f, "requests reach {service}"),
            Fact::Cred { credential } => write!(f, "credential {credential}"),
            Fact::Data { service } => write!(f, "data of {service}"),
        }
    }
}

/// A change that would remove a step: what mitigations are made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// Patch a CVE on an entity (`host:NAME` or `service:NAME`).
    Patch {
        /// The CVE.
        cve: String,
        /// Where.
        entity: String,
    },
    /// Remove a security-group rule.
    CloseRule {
        /// The group.
        group: String,
        /// The rule's index.
        rule: usize,
    },
    /// Rotate a credential and remove its stored copies.
    Rotate {
        /// The credential.
        credential: String,
    },
    /// Isolate a subnet: nothing from outside it may enter.
    Isolate {
        /// The subnet.
        subnet: String,
    },
}

impl Fix {
    /// Applies the fix to an overlay.
    pub fn apply(&self, o: &mut Overlay) {
        match self {
            Fix::Patch { cve, entity } => {
                o.patched.insert((entity.clone(), cve.clone()));
            }
            Fix::CloseRule { group, rule } => {
                o.closed_rules.insert((group.clone(), *rule));
            }
            Fix::Rotate { credential } => {
                o.rotated.insert(credential.clone());
            }
            Fix::Isolate { subnet } => {
                o.isolated_subnets.insert(subnet.clone());
            }
        }
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::Patch { cve, entity } => write!(f, "patch {cve} on {entity}"),
            Fix::CloseRule { group, rule } => write!(f, "close rule {group}[{rule}]"),
            Fix::Rotate { credential } => write!(f, "rotate credential {credential}"),
            Fix::Isolate { subnet } => write!(f, "isolate subnet {subnet}"),
        }
    }
}

/// What an action of the attack graph is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The host the step acts on (or the service's, for relays and data access).
    pub host: String,
    /// MITRE ATT&CK technique id, `None` for network access and relays (no attack by itself).
    pub technique: Option<&'static str>,
    /// Technique name, or `reach`/`relay`.
    pub name: &'static str,
    /// In words: the vulnerability, credential or rule used.
    pub via: String,
    /// Success probability.
    pub probability: f64,
    /// Changes that would remove this step.
    #[serde(skip)]
    pub fixes: Vec<Fix>,
}

/// The attack graph: facts and the derivations (actions) that proved them.
pub type AttackProblem = Problem<Fact, Step>;

/// Where an analysis starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Start {
    /// An attacker outside the twin.
    Outside(Origin),
    /// An attacker with root on this host (blast radius).
    Host(String),
}

/// Privileges a vulnerability needs (CVSS `PR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    /// PR:N.
    Nothing,
    /// PR:L: an ordinary account on the vulnerable component.
    User,
    /// PR:H: an administrative account on it.
    Admin,
}

/// A vulnerability's reading for the rules.
#[derive(Debug, Clone)]
struct VulnInfo {
    cve: String,
    entity: String,
    remote: bool,
    needs: Needs,
    exec: bool,
    data: bool,
    port: Option<u16>,
    probability: f64,
}

/// The largest CVSS v3.1 exploitability sub-score: `8.22·0.85·0.77·0.85·0.85`.
pub const MAX_EXPLOITABILITY: f64 = 8.22 * 0.85 * 0.77 * 0.85 * 0.85;

/// Probability used for a vulnerability with no CVSS vector.
pub const DEFAULT_EXPLOIT_PROBABILITY: f64 = 0.5;

fn read_vuln(entity: &str, v: &doppel_model::Vulnerability) -> VulnInfo {
    match v.cvss.as_deref().map(Cvss::parse) {
        Some(Ok(c)) => VulnInfo {
            cve: v.cve.clone(),
            entity: entity.to_owned(),
            remote: matches!(c.metric("AV"), Some('N' | 'A')),
            needs: match c.metric("PR") {
                Some('L') => Needs::User,
                Some('H') => Needs::Admin,
                _ => Needs::Nothing,
            },
            exec: c.metric("I") == Some('H'),
            data: c.metric("C") == Some('H'),
            port: v.port,
            probability: (c.exploitability() / MAX_EXPLOITABILITY).min(1.0),
        },
        _ => VulnInfo {
            cve: v.cve.clone(),
            entity: entity.to_owned(),
            remote: v.port.is_some(),
            needs: Needs::Nothing,
            exec: true,
            data: true,
            port: v.port,
            probability: DEFAULT_EXPLOIT_PROBABILITY,
        },
    }
}

#[derive(Debug, Clone)]
enum DoorKind {
    /// Rule 1: a port of a service instance.
    Service(String),
    /// Rule 4: a remote vulnerability on a host port.
    HostVuln(VulnInfo),
    /// Rule 7: a host login port a credential unlocks.
    Login { cred: String, root: bool },
    /// Rule 7: a service port a credential unlocks.
    CredService { cred: String, service: String },
}

#[derive(Debug, Clone)]
struct Door {
    host: String,
    port: u16,
    proto: Protocol,
    service: Option<String>,
    kind: DoorKind,
}

/// Builds the attack graph of `twin` from `starts`, with the mitigations of `overlay` in force.
pub fn build(twin: &Twin, overlay: &Overlay, starts: &[Start]) -> AttackProblem {
    let net = Net::new(twin, overlay);
    let mut b = Builder {
        net: &net,
        p: Problem::default(),
        doors: Rc::new(Vec::new()),
        reached: HashMap::new(),
        queue: Vec::new(),
        known: Vec::new(),
        classes: Classes::new(twin),
        door_class: Vec::new(),
        door_host: Vec::new(),
        doors_on: HashMap::new(),
        groups: Vec::new(),
        class_lists: HashMap::new(),
        open_buf: Vec::new(),
        verdicts: HashMap::new(),
        cred_doors: HashMap::new(),
    };
    b.make_doors();
    for s in starts {
        match s {
            Start::Outside(o) => {
                let f = b.p.fact(Fact::Origin { origin: *o });
                b.p.initial.push(f);
                b.mark(f);
            }
            Start::Host(h) => {
                for root in [true, false] {
                    let f = b.p.fact(Fact::Exec {
                        host: h.clone(),
                        root,
                    });
                    b.p.initial.push(f);
                    b.mark(f);
                }
            }
        }
    }
    while let Some(f) = b.queue.pop() {
        b.on_new(f);
    }
    b.p
}

/// One exploitation attempt's premises and context.
#[derive(Clone)]
struct Attempt<'a> {
    pre: Vec<FactId>,
    host: &'a str,
    how: Option<String>,
    fixes: Vec<Fix>,
    src: Src<'a>,
    /// For a data-only vulnerability of a service: that service's data (else the data of
    /// every service on the host).
    data_of: Option<&'a str>,
}

struct Builder<'n, 't> {
    net: &'n Net<'t>,
    p: AttackProblem,
    doors: Rc<Vec<Door>>,
    /// Door index → positions (fact ids) whose flow to it passes, with the verdict summary and
    /// the rules that allowed it.
    reached: HashMap<usize, Vec<(FactId, Rc<Allowed>)>>,
    queue: Vec<FactId>,
    known: Vec<bool>,
    classes: Classes,
    /// Per door: the class of its host and the index of the service it aims at.
    door_class: Vec<(u32, Option<usize>)>,
    /// Per door: the index of its host in the twin (`usize::MAX` for an unknown host).
    door_host: Vec<usize>,
    /// Host index → its doors, ascending.
    doors_on: HashMap<usize, Vec<usize>>,
    /// Doors grouped by what a flow's verdict from another host depends on: the door host's
    /// class, the port, the protocol and the service (each group ascending, groups in order of
    /// their first door).
    groups: Vec<Vec<usize>>,
    /// Source class → the doors open to its hosts (see [`ClassList`]).
    class_lists: HashMap<u32, Rc<ClassList>>,
    /// The open doors of the position being expanded (kept to reuse its allocation).
    open_buf: Vec<(usize, Rc<Allowed>)>,
    /// Verdicts (source class, group) of the groups a class list leaves unresolved.
    verdicts: HashMap<(u32, usize), Option<Rc<Allowed>>>,
    /// Credential → the indices of the doors (logins, service accounts) it unlocks, ascending.
    cred_doors: HashMap<String, Vec<usize>>,
}

/// What the hosts of one class may open: every door of a group whose flow passes from a host
/// of the class to another host, computed once per (class, group) from the first host of the
/// class that needed it. A host's flows to its own doors never come from the list (local
/// traffic passes no firewall), and groups lying wholly on that first host are left for the
/// class's other hosts to evaluate.
struct ClassList {
    /// The host (twin index) the list was computed from.
    host: usize,
    /// Doors open to another host of the class, ascending, with the verdict.
    allowed: Vec<(usize, Rc<Allowed>)>,
    /// Groups all of whose doors are on `host`.
    unresolved: Vec<usize>,
}

/// An allowed flow: its one-line summary and the rules that let it through.
type Allowed = (String, Vec<(String, usize)>);

/// Hosts grouped by everything a flow's verdict can depend on, so a verdict is computed once
/// per source class and group of doors (see [`ClassList`]): subnet, zone, cluster, security groups (its own
/// and its services'), tags (its own and its services'), the services on it, its name when a
/// peer names it (or an instance on it), and which CIDR peers of the twin contain its
/// addresses. Two hosts of one class are indistinguishable to every rule, policy and route.
struct Classes {
    ids: HashMap<String, u32>,
    of_host: HashMap<String, u32>,
    named: std::collections::HashSet<String>,
    any_instance_peer: bool,
    cidrs: Vec<ipnet::IpNet>,
}

impl Classes {
    fn new(twin: &Twin) -> Classes {
        let mut named = std::collections::HashSet::new();
        let mut any_instance_peer = false;
        let mut cidrs = Vec::new();
        let mut see = |p: &str| match Peer::parse(p) {
            Ok(Peer::Cidr(c)) if !cidrs.contains(&c) => cidrs.push(c),
            Ok(Peer::Entity(id)) if id.kind == doppel_model::Kind::Host => {
                named.insert(id.name);
            }
            Ok(Peer::Entity(id)) if id.kind == doppel_model::Kind::Instance => {
                any_instance_peer = true;
            }
            _ => {}
        };
        for sg in twin.security_groups.values() {
            for r in &sg.rules {
                r.peers.iter().for_each(|p| see(p));
            }
        }
        for pol in twin.network_policies.values() {
            for r in pol.ingress.iter().chain(pol.egress.iter()).flatten() {
                r.peers.iter().for_each(|p| see(p));
            }
        }
        Classes {
            ids: HashMap::new(),
            of_host: HashMap::new(),
            named,
            any_instance_peer,
            cidrs,
        }
    }

    fn of(&mut self, twin: &Twin, net: &Net<'_>, host: &str) -> u32 {
        if let Some(c) = self.of_host.get(host) {
            return *c;
        }
        let sig = match twin.hosts.get(host) {
            None => format!("?{host}"),
            Some(h) => {
                let services = net.services_on(host);
                let mut tags: Vec<&str> = h.tags.iter().map(String::as_str).collect();
                for s in services {
                    if let Some(svc) = twin.services.get(*s) {
                        tags.extend(svc.tags.iter().map(String::as_str));
                    }
                }
                tags.sort_unstable();
                tags.dedup();
                let mut groups = net.groups_of(host);
                groups.sort_unstable();
                let mut svcs: Vec<&str> = services.to_vec();
                svcs.sort_unstable();
                let cidr_bits: String = self
                    .cidrs
                    .iter()
                    .map(|c| {
                        if h.addresses.iter().any(|a| c.contains(a)) {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect();
                let name = if self.named.contains(host) || self.any_instance_peer {
                    host
                } else {
                    ""
                };
                format!(
                    "{:?}|{:?}|{:?}|{groups:?}|{tags:?}|{svcs:?}|{name}|{cidr_bits}",
                    h.subnet, h.zone, h.cluster
                )
            }
        };
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(sig).or_insert(next);
        self.of_host.insert(host.to_owned(), id);
        id
    }
}

impl<'n, 't> Builder<'n, 't> {
    fn twin(&self) -> &'t Twin {
        self.net.twin
    }

    fn mark(&mut self, f: FactId) {
        if self.known.len() <= f {
            self.known.resize(f + 1, false);
        }
        if !self.known[f] {
            self.known[f] = true;
            self.queue.push(f);
        }
    }

    fn is_known(&self, f: &Fact) -> Option<FactId> {
        self.p
            .find(f)
            .filter(|id| self.known.get(*id).copied().unwrap_or(false))
    }

    fn derive(&mut self, pre: Vec<FactId>, add: Vec<Fact>, step: Step) -> ActId {
        let add: Vec<FactId> = add.into_iter().map(|f| self.p.fact(f)).collect();
        let cost = if step.technique.is_some() { 1.0 } else { 0.0 };
        let a = self.p.add_action(pre, add.clone(), cost, step);
        for f in add {
            self.mark(f);
        }
        a
    }

    fn vulns_of<'a>(
        &'a self,
        sec: Option<&'a doppel_model::SecurityFacts>,
        entity: &'a str,
    ) -> impl Iterator<Item = VulnInfo> + 'a {
        sec.into_iter()
            .flat_map(|s| s.vulnerabilities.iter())
            .filter(move |v| {
                !self
                    .net
                    .overlay()
                    .patched
                    .contains(&(entity.to_owned(), v.cve.clone()))
            })
            .map(move |v| read_vuln(entity, v))
    }

    fn make_doors(&mut self) {
        let twin = self.twin();
        let mut doors = Vec::new();
        for (sname, svc) in &twin.services {
            let mut ports: Vec<(u16, Protocol)> =
                svc.ports.iter().map(|p| (p.port, p.protocol)).collect();
            if ports.is_empty()
                && let Some(sec) = &svc.security
            {
                ports.extend(sec.exposed.iter().map(|e| (e.port, e.protocol)));
                ports.extend(
                    sec.vulnerabilities
                        .iter()
                        .filter_map(|v| v.port)
                        .map(|p| (p, Protocol::Tcp)),
                );
            }
            ports.dedup();
            for h in self.net.hosts_of(sname) {
                for &(port, proto) in &ports {
                    doors.push(Door {
                        host: (*h).to_owned(),
                        port,
                        proto,
                        service: Some(sname.clone()),
                        kind: DoorKind::Service(sname.clone()),
                    });
                }
            }
        }
        for (hname, host) in &twin.hosts {
            let entity = format!("host:{hname}");
            for v in self
                .vulns_of(host.security.as_ref(), &entity)
                .collect::<Vec<_>>()
            {
                let Some(port) = v.port else { continue };
                if !v.remote || !(v.exec || v.data) {
                    continue;
                }
                let service = self
                    .net
                    .services_on(hname)
                    .iter()
                    .find(|s| {
                        twin.services
                            .get(**s)
                            .is_some_and(|s| s.ports.iter().any(|p| p.port == port))
                    })
                    .map(|s| (*s).to_owned());
                doors.push(Door {
                    host: hname.clone(),
                    port,
                    proto: Protocol::Tcp,
                    service,
                    kind: DoorKind::HostVuln(v),
                });
            }
        }
        for (cname, cred) in &twin.credentials {
            if self.net.overlay().rotated.contains(cname) {
                continue;
            }
            let peers: Vec<Peer> = cred
                .unlocks
                .iter()
                .filter_map(|p| Peer::parse(p).ok())
                .collect();
            for (hname, host) in &twin.hosts {
                let unlocked = peers.iter().any(|p| match p {
                    Peer::Tag(t) => host.tags.contains(t),
                    Peer::Entity(id) => id.kind == doppel_model::Kind::Host && &id.name == hname,
                    Peer::Any => true,
                    _ => false,
                });
                if !unlocked {
                    continue;
                }
                let windows = host
                    .os
                    .as_ref()
                    .is_some_and(|o| o.name.to_ascii_lowercase().contains("windows"));
                doors.push(Door {
                    host: hname.clone(),
                    port: if windows { 3389 } else { 22 },
                    proto: Protocol::Tcp,
                    service: None,
                    kind: DoorKind::Login {
                        cred: cname.clone(),
                        root: cred.privilege == Privilege::Admin,
                    },
                });
            }
            for (sname, svc) in &twin.services {
                let unlocked = peers.iter().any(|p| match p {
                    Peer::Tag(t) => svc.tags.contains(t),
                    Peer::Entity(id) => id.kind == doppel_model::Kind::Service && &id.name == sname,
                    Peer::Any => true,
                    _ => false,
                });
                if !unlocked {
                    continue;
                }
                for h in self.net.hosts_of(sname) {
                    for p in &svc.ports {
                        doors.push(Door {
                            host: (*h).to_owned(),
                            port: p.port,
                            proto: p.protocol,
                            service: Some(sname.clone()),
                            kind: DoorKind::CredService {
                                cred: cname.clone(),
                                service: sname.clone(),
                            },
                        });
                    }
                }
            }
        }
        self.door_class = doors
            .iter()
            .map(|d| {
                let svc = d
                    .service
                    .as_deref()
                    .and_then(|s| twin.services.get_index_of(s));
                (self.classes.of(twin, self.net, &d.host), svc)
            })
            .collect();
        self.cred_doors = HashMap::new();
        for (i, d) in doors.iter().enumerate() {
            if let DoorKind::Login { cred, .. } | DoorKind::CredService { cred, .. } = &d.kind {
                self.cred_doors.entry(cred.clone()).or_default().push(i);
            }
        }
        self.door_host = doors
            .iter()
            .map(|d| twin.hosts.get_index_of(&d.host).unwrap_or(usize::MAX))
            .collect();
        let mut group_of: HashMap<(u32, u16, &'static str, Option<usize>), usize> = HashMap::new();
        for (i, d) in doors.iter().enumerate() {
            self.doors_on.entry(self.door_host[i]).or_default().push(i);
            let (dc, svc) = self.door_class[i];
            let next = self.groups.len();
            let g = *group_of
                .entry((dc, d.port, proto_str(d.proto), svc))
                .or_insert(next);
            if g == next {
                self.groups.push(Vec::new());
            }
            self.groups[g].push(i);
        }
        self.doors = Rc::new(doors);
    }

    fn on_new(&mut self, f: FactId) {
        match self.p.get(f).clone() {
            Fact::Origin { origin } => self.at_position(f, Src::Outside(origin)),
            Fact::Exec { host, root: false } => {
                self.local_user(f, &host);
                let src_host = self
                    .twin()
                    .hosts
                    .get_key_value(&host)
                    .map(|(k, _)| k.clone());
                if let Some(h) = src_host {
                    self.at_position(f, Src::Host(&h));
                }
            }
            Fact::Exec { host, root: true } => self.local_root(f, &host),
            Fact::Input { service } => self.on_input(f, &service),
            Fact::Cred { credential } => self.on_cred(f, &credential),
            Fact::Data { .. } => {}
        }
    }

    /// Whether the flow from `src` to door `i` passes: the summary and the allowing rules.
    fn eval(&self, src: Src<'_>, i: usize) -> Option<Allowed> {
        let door = &self.doors[i];
        let v = self.net.flow(
            src,
            &door.host,
            door.port,
            door.proto,
            door.service.as_deref(),
        );
        v.allowed.then(|| {
            let rules = v.allowing_rules().cloned().collect();
            (v.summary(), rules)
        })
    }

    /// The class list of `class`, computed from host `hi` (named `h`) if it is new.
    fn class_list(&mut self, class: u32, hi: usize, h: &str) -> Rc<ClassList> {
        if let Some(l) = self.class_lists.get(&class) {
            return Rc::clone(l);
        }
        let mut allowed = Vec::new();
        let mut unresolved = Vec::new();
        for (g, doors) in self.groups.iter().enumerate() {
            let Some(&rep) = doors.iter().find(|d| self.door_host[**d] != hi) else {
                unresolved.push(g);
                continue;
            };
            if let Some(a) = self.eval(Src::Host(h), rep) {
                let a = Rc::new(a);
                allowed.extend(doors.iter().map(|d| (*d, Rc::clone(&a))));
            }
        }
        allowed.sort_unstable_by_key(|(d, _)| *d);
        let list = Rc::new(ClassList {
            host: hi,
            allowed,
            unresolved,
        });
        self.class_lists.insert(class, Rc::clone(&list));
        list
    }

    /// Every door whose flow from `src` passes, ascending, with the verdict. From a host, the
    /// verdicts come from its class's list (one per class and group), its own doors are local.
    fn open_doors(&mut self, src: Src<'_>, out: &mut Vec<(usize, Rc<Allowed>)>) {
        out.clear();
        let host = match src {
            Src::Host(h) => self.twin().hosts.get_index_of(h).map(|i| (i, h)),
            Src::Outside(_) => None,
        };
        let Some((hi, h)) = host else {
            out.extend(
                (0..self.doors.len()).filter_map(|i| self.eval(src, i).map(|a| (i, Rc::new(a)))),
            );
            return;
        };
        let class = self.classes.of(self.net.twin, self.net, h);
        let list = self.class_list(class, hi, h);
        let mut extra: Vec<(usize, Rc<Allowed>)> = Vec::new();
        for &i in self.doors_on.get(&hi).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(a) = self.eval(src, i) {
                extra.push((i, Rc::new(a)));
            }
        }
        if list.host != hi {
            for &g in &list.unresolved {
                let v = match self.verdicts.get(&(class, g)) {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.eval(src, self.groups[g][0]).map(Rc::new);
                        self.verdicts.insert((class, g), v.clone());
                        v
                    }
                };
                if let Some(a) = v {
                    extra.extend(self.groups[g].iter().map(|d| (*d, Rc::clone(&a))));
                }
            }
        }
        extra.sort_unstable_by_key(|(d, _)| *d);
        let mut extra = extra.into_iter().peekable();
        for (d, a) in list
            .allowed
            .iter()
            .filter(|(d, _)| self.door_host[*d] != hi)
        {
            while let Some(e) = extra.next_if(|e| e.0 < *d) {
                out.push(e);
            }
            out.push((*d, Rc::clone(a)));
        }
        out.extend(extra);
    }

    /// A new position: evaluate every door from it. Of a service's ports, the first allowed
    /// one gives its input (the others would prove the same fact from the same position).
    fn at_position(&mut self, pos: FactId, src: Src<'_>) {
        let doors = Rc::clone(&self.doors);
        let mut open = std::mem::take(&mut self.open_buf);
        self.open_doors(src, &mut open);
        let mut inputs_done: std::collections::HashSet<usize> = std::collections::HashSet::new();
        for (i, allowed) in open.drain(..) {
            let door = &doors[i];
            let service_door = matches!(door.kind, DoorKind::Service(_));
            if service_door
                && let (_, Some(svc)) = self.door_class[i]
                && !inputs_done.insert(svc)
            {
                continue;
            }
            if !service_door {
                self.reached
                    .entry(i)
                    .or_default()
                    .push((pos, Rc::clone(&allowed)));
            }
            match &door.kind {
                DoorKind::Service(s) => {
                    let (how, fixes) = self.describe(pos, i, &allowed);
                    self.derive(
                        vec![pos],
                        vec![Fact::Input { service: s.clone() }],
                        Step {
                            host: door.host.clone(),
                            technique: None,
                            name: "reach",
                            via: how,
                            probability: 1.0,
                            fixes,
                        },
                    );
                }
                DoorKind::HostVuln(vi) => {
                    // Described only when something is derived: most host ports a position
                    // reaches need a credential the attacker does not hold (yet).
                    let creds: Vec<(FactId, String)> = if vi.needs == Needs::Nothing {
                        Vec::new()
                    } else {
                        let creds = self.known_creds_for(vi, &door.host);
                        if creds.is_empty() {
                            continue;
                        }
                        creds
                    };
                    let (how, fixes) = self.describe(pos, i, &allowed);
                    let at = Attempt {
                        pre: vec![pos],
                        host: &door.host,
                        how: Some(how),
                        fixes,
                        src,
                        data_of: None,
                    };
                    if vi.needs == Needs::Nothing {
                        self.exploit_with(at.clone(), vi, None);
                    }
                    for c in creds {
                        self.exploit_with(at.clone(), vi, Some(c));
                    }
                }
                DoorKind::Login { cred, .. } | DoorKind::CredService { cred, .. } => {
                    if let Some(c) = self.is_known(&Fact::Cred {
                        credential: cred.clone(),
                    }) {
                        let (how, fixes) = self.describe(pos, i, &allowed);
                        self.use_cred(c, pos, door, how, fixes);
                    }
                }
            }
        }
        self.open_buf = open;
    }

    /// How position `pos` reaches door `i` in words, and the fixes that would stop the flow:
    /// closing each allowing rule, and isolating the door's subnet when the flow enters it.
    fn describe(&self, pos: FactId, i: usize, allowed: &Allowed) -> (String, Vec<Fix>) {
        let door = &self.doors[i];
        let (summary, rules) = allowed;
        let (src_name, src_host) = match self.p.get(pos) {
            Fact::Origin { origin } => (origin.to_string(), None),
            Fact::Exec { host, .. } => (format!("host:{host}"), Some(host.as_str())),
            other => (other.to_string(), None),
        };
        let src_subnet = src_host
            .and_then(|h| self.twin().hosts.get(h))
            .and_then(|h| h.subnet.as_ref());
        let mut fixes: Vec<Fix> = rules
            .iter()
            .map(|(group, rule)| Fix::CloseRule {
                group: group.clone(),
                rule: *rule,
            })
            .collect();
        if let Some(sn) = self
            .twin()
            .hosts
            .get(&door.host)
            .and_then(|h| h.subnet.as_ref())
            && src_subnet != Some(sn)
        {
            fixes.push(Fix::Isolate { subnet: sn.clone() });
        }
        let how = format!(
            "{src_name} -> {}:{}/{}: {summary}",
            door.host,
            door.port,
            proto_str(door.proto),
        );
        (how, fixes)
    }

    /// The credentials in the attacker's hands that give the privileges `vi` needs on `host`.
    fn known_creds_for(&self, vi: &VulnInfo, host: &str) -> Vec<(FactId, String)> {
        self.creds_for(vi, host)
            .into_iter()
            .filter_map(|c| {
                self.is_known(&Fact::Cred {
                    credential: c.clone(),
                })
                .map(|f| (f, c))
            })
            .collect()
    }

    /// Credentials (not rotated) that give the privileges `vi` needs on the vulnerable
    /// component: they unlock its entity, the host it is exploited on, or (for a host
    /// vulnerability on a port) a service on that host listening there; PR:H needs `admin`.
    fn creds_for(&self, vi: &VulnInfo, host: &str) -> Vec<String> {
        let twin = self.twin();
        let mut services: Vec<&str> = Vec::new();
        if let Some(s) = vi.entity.strip_prefix("service:") {
            services.push(s);
        } else if let Some(port) = vi.port {
            services.extend(self.net.services_on(host).iter().copied().filter(|s| {
                twin.services
                    .get(*s)
                    .is_some_and(|svc| svc.ports.iter().any(|p| p.port == port))
            }));
        }
        let h = twin.hosts.get(host);
        twin.credentials
            .iter()
            .filter(|(c, _)| !self.net.overlay().rotated.contains(*c))
            .filter(|(_, cred)| vi.needs != Needs::Admin || cred.privilege == Privilege::Admin)
            .filter(|(_, cred)| {
                cred.unlocks
                    .iter()
                    .filter_map(|p| Peer::parse(p).ok())
                    .any(|p| match &p {
                        Peer::Any => true,
                        Peer::Tag(t) => {
                            h.is_some_and(|h| h.tags.contains(t))
                                || services.iter().any(|s| {
                                    twin.services.get(*s).is_some_and(|s| s.tags.contains(t))
                                })
                        }
                        Peer::Entity(id) => match id.kind {
                            doppel_model::Kind::Host => id.name == host,
                            doppel_model::Kind::Service => services.contains(&id.name.as_str()),
                            _ => false,
                        },
                        _ => false,
                    })
            })
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Exploits `vi` from the premises of `at`. A vulnerability needing privileges (PR:L or
    /// PR:H) is exploited once per known credential giving them, which joins the premises;
    /// without such a credential nothing is derived now (`on_cred` comes back to it).
    fn exploit(&mut self, at: Attempt<'_>, vi: &VulnInfo) {
        if vi.needs == Needs::Nothing {
            self.exploit_with(at, vi, None);
            return;
        }
        for c in self.creds_for(vi, at.host) {
            if let Some(cf) = self.is_known(&Fact::Cred {
                credential: c.clone(),
            }) {
                self.exploit_with(at.clone(), vi, Some((cf, c)));
            }
        }
    }

    fn exploit_with(&mut self, at: Attempt<'_>, vi: &VulnInfo, cred: Option<(FactId, String)>) {
        let Attempt {
            mut pre,
            host,
            how,
            mut fixes,
            src,
            data_of,
        } = at;
        fixes.insert(
            0,
            Fix::Patch {
                cve: vi.cve.clone(),
                entity: vi.entity.clone(),
            },
        );
        let (technique, name) = match (vi.exec, src) {
            (true, Src::Outside(_)) => ("T1190", "Exploit Public-Facing Application"),
            (true, Src::Host(_)) => ("T1210", "Exploitation of Remote Services"),
            (false, Src::Outside(_)) => ("T1190", "Exploit for data disclosure"),
            (false, Src::Host(_)) => ("T1210", "Exploit for data disclosure"),
        };
        let mut what = match &how {
            Some(h) => format!("{} on {} ({h})", vi.cve, vi.entity),
            None => format!("{} on {}", vi.cve, vi.entity),
        };
        if let Some((cf, c)) = &cred {
            pre.push(*cf);
            let level = if vi.needs == Needs::Admin {
                "PR:H"
            } else {
                "PR:L"
            };
            what.push_str(&format!(", {level} met by credential {c}"));
            fixes.push(Fix::Rotate {
                credential: c.clone(),
            });
        }
        let add = if vi.exec {
            vec![Fact::Exec {
                host: host.to_owned(),
                root: false,
            }]
        } else if let Some(s) = data_of {
            vec![Fact::Data {
                service: s.to_owned(),
            }]
        } else {
            let services: Vec<String> = self
                .net
                .services_on(host)
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            services
                .into_iter()
                .map(|service| Fact::Data { service })
                .collect()
        };
        if add.is_empty() {
            return;
        }
        self.derive(
            pre,
            add,
            Step {
                host: host.to_owned(),
                technique: Some(technique),
                name,
                via: what,
                probability: vi.probability,
                fixes,
            },
        );
    }

    /// Rule 3 for one service: its remote vulnerabilities exploited on each of its hosts.
    fn exploit_service(&mut self, input: FactId, service: &str, only_needing: Option<&str>) {
        let twin = self.twin();
        let Some(svc) = twin.services.get(service) else {
            return;
        };
        let entity = format!("service:{service}");
        let exposed_to_internet = svc.security.as_ref().is_some_and(|s| {
            s.exposed
                .iter()
                .any(|e| e.to.iter().any(|p| p == "internet" || p == "any"))
        });
        let src = if exposed_to_internet {
            Src::Outside(Origin::Internet)
        } else {
            Src::Host("")
        };
        let vulns: Vec<VulnInfo> = self
            .vulns_of(svc.security.as_ref(), &entity)
            .filter(|v| v.remote && (v.exec || v.data))
            .filter(|v| only_needing.is_none() || v.needs != Needs::Nothing)
            .collect();
        let hosts: Vec<String> = self
            .net
            .hosts_of(service)
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        for v in &vulns {
            for h in &hosts {
                let at = Attempt {
                    pre: vec![input],
                    host: h,
                    how: None,
                    fixes: Vec::new(),
                    src,
                    data_of: Some(service),
                };
                match only_needing {
                    // A credential just learned: only the attempts it enables.
                    Some(c) => {
                        if self.creds_for(v, h).iter().any(|x| x == c)
                            && let Some(cf) = self.is_known(&Fact::Cred {
                                credential: c.to_owned(),
                            })
                        {
                            self.exploit_with(at, v, Some((cf, c.to_owned())));
                        }
                    }
                    None => self.exploit(at, v),
                }
            }
        }
    }

    fn on_input(&mut self, f: FactId, service: &str) {
        let twin = self.twin();
        let Some(svc) = twin.services.get(service) else {
            return;
        };
        // Rule 2: relay to callees.
        let mut callees: Vec<String> = Vec::new();
        for ep in svc.endpoints.values() {
            for step in &ep.calls {
                for c in step.calls() {
                    if !callees.contains(&c.service) {
                        callees.push(c.service.clone());
                    }
                }
            }
        }
        for t in callees {
            if twin
                .services
                .get(&t)
                .is_none_or(|s| s.kind == ServiceKind::External)
            {
                continue;
            }
            let host = self
                .net
                .hosts_of(&t)
                .first()
                .map(|h| (*h).to_owned())
                .unwrap_or_default();
            self.derive(
                vec![f],
                vec![Fact::Input { service: t.clone() }],
                Step {
                    host,
                    technique: None,
                    name: "relay",
                    via: format!("{service} calls {t}, passing the attacker's input on"),
                    probability: 1.0,
                    fixes: Vec::new(),
                },
            );
        }
        // Rule 3: exploit the service's remote vulnerabilities on each of its hosts.
        self.exploit_service(f, service, None);
    }

    /// Rules 5, 6 (service-stored) and 8 on user execution.
    fn local_user(&mut self, f: FactId, host: &str) {
        let twin = self.twin();
        let Some(h) = twin.hosts.get(host) else {
            return;
        };
        let mut locals: Vec<VulnInfo> = self
            .vulns_of(h.security.as_ref(), &format!("host:{host}"))
            .collect();
        let services: Vec<String> = self
            .net
            .services_on(host)
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for s in &services {
            if let Some(svc) = twin.services.get(s) {
                let entity = format!("service:{s}");
                locals.extend(
                    self.vulns_of(svc.security.as_ref(), &entity)
                        .collect::<Vec<_>>(),
                );
            }
        }
        for v in locals
            .iter()
            .filter(|v| !v.remote && v.exec && v.needs != Needs::Admin)
        {
            self.derive(
                vec![f],
                vec![
                    Fact::Exec {
                        host: host.to_owned(),
                        root: true,
                    },
                    Fact::Exec {
                        host: host.to_owned(),
                        root: false,
                    },
                ],
                Step {
                    host: host.to_owned(),
                    technique: Some("T1068"),
                    name: "Exploitation for Privilege Escalation",
                    via: format!("{} on {}", v.cve, v.entity),
                    probability: v.probability,
                    fixes: vec![Fix::Patch {
                        cve: v.cve.clone(),
                        entity: v.entity.clone(),
                    }],
                },
            );
        }
        for s in &services {
            self.derive(
                vec![f],
                vec![Fact::Data { service: s.clone() }],
                Step {
                    host: host.to_owned(),
                    technique: Some("T1005"),
                    name: "Data from Local System",
                    via: format!("service {s} runs on {host}"),
                    probability: 1.0,
                    fixes: Vec::new(),
                },
            );
        }
        self.steal(
            f,
            |stored| services.iter().any(|s| stored == format!("service:{s}")),
            host,
        );
    }

    fn local_root(&mut self, f: FactId, host: &str) {
        let me = format!("host:{host}");
        self.steal(f, |stored| stored == me, host);
    }

    fn steal(&mut self, f: FactId, here: impl Fn(&str) -> bool, host: &str) {
        let creds: Vec<(String, String)> = self
            .twin()
            .credentials
            .iter()
            .filter(|(c, _)| !self.net.overlay().rotated.contains(*c))
            .filter_map(|(c, cred)| {
                cred.stored_on
                    .iter()
                    .find(|s| here(s))
                    .map(|s| (c.clone(), s.clone()))
            })
            .collect();
        for (c, stored) in creds {
            self.derive(
                vec![f],
                vec![Fact::Cred {
                    credential: c.clone(),
                }],
                Step {
                    host: host.to_owned(),
                    technique: Some("T1552.001"),
                    name: "Unsecured Credentials: Credentials In Files",
                    via: format!("credential {c} stored on {stored}"),
                    probability: 1.0,
                    fixes: vec![Fix::Rotate { credential: c }],
                },
            );
        }
    }

    fn on_cred(&mut self, f: FactId, cred: &str) {
        let unlocked = self.cred_doors.get(cred).cloned().unwrap_or_default();
        for i in unlocked {
            let Some(positions) = self.reached.get(&i).cloned() else {
                continue;
            };
            let doors = Rc::clone(&self.doors);
            for (pos, allowed) in positions {
                let (how, fixes) = self.describe(pos, i, &allowed);
                self.use_cred(f, pos, &doors[i], how, fixes);
            }
        }
        // Vulnerabilities needing privileges this credential gives: host ports already
        // reached (in door order), and services whose input already arrives.
        let mut reached_vulns: Vec<usize> = self
            .reached
            .keys()
            .copied()
            .filter(|i| {
                matches!(&self.doors[*i].kind, DoorKind::HostVuln(vi) if vi.needs != Needs::Nothing)
            })
            .collect();
        reached_vulns.sort_unstable();
        for i in reached_vulns {
            let DoorKind::HostVuln(vi) = &self.doors[i].kind else {
                continue;
            };
            let (vi, host) = (vi.clone(), self.doors[i].host.clone());
            if !self.creds_for(&vi, &host).iter().any(|c| c == cred) {
                continue;
            }
            let positions = self.reached.get(&i).cloned().unwrap_or_default();
            for (pos, allowed) in positions {
                let (how, fixes) = self.describe(pos, i, &allowed);
                let src = match self.p.get(pos) {
                    Fact::Origin { origin } => Src::Outside(*origin),
                    _ => Src::Host(""),
                };
                let at = Attempt {
                    pre: vec![pos],
                    host: &host,
                    how: Some(how),
                    fixes,
                    src,
                    data_of: None,
                };
                self.exploit_with(at, &vi, Some((f, cred.to_owned())));
            }
        }
        let services: Vec<(FactId, String)> = self
            .twin()
            .services
            .keys()
            .filter_map(|s| {
                self.is_known(&Fact::Input { service: s.clone() })
                    .map(|id| (id, s.clone()))
            })
            .collect();
        for (input, s) in services {
            self.exploit_service(input, &s, Some(cred));
        }
    }

    fn use_cred(
        &mut self,
        cred: FactId,
        pos: FactId,
        door: &Door,
        how: String,
        mut fixes: Vec<Fix>,
    ) {
        let (add, technique, name, cname) = match &door.kind {
            DoorKind::Login { cred: c, root } => {
                let mut add = vec![Fact::Exec {
                    host: door.host.clone(),
                    root: false,
                }];
                if *root {
                    add.insert(
                        0,
                        Fact::Exec {
                            host: door.host.clone(),
                            root: true,
                        },
                    );
                }
                let (t, n) = if door.port == 3389 {
                    ("T1021.001", "Remote Services: Remote Desktop Protocol")
                } else {
                    ("T1021.004", "Remote Services: SSH")
                };
                (add, t, n, c.clone())
            }
            DoorKind::CredService { cred: c, service } => (
                vec![Fact::Data {
                    service: service.clone(),
                }],
                "T1078",
                "Valid Accounts",
                c.clone(),
            ),
            _ => return,
        };
        fixes.insert(
            0,
            Fix::Rotate {
                credential: cname.clone(),
            },
        );
        self.derive(
            vec![pos, cred],
            add,
            Step {
                host: door.host.clone(),
                technique: Some(technique),
                name,
                via: format!("credential {cname} ({how})"),
                probability: 1.0,
                fixes,
            },
        );
    }
}

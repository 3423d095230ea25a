//! NASim scenario files (Schwartz & Kurniawati's Network Attack Simulator, `scenarios/*.yaml`)
//! read as an input format and solved as a cheapest-plan problem.
//!
//! A scenario states subnets (subnet 0 is the internet), their connectivity (`topology`),
//! which services each directed subnet pair lets through (`firewall`), per-host inbound
//! deny lists (`host_configurations.*.firewall`), each host's OS, services and processes,
//! exploits (service, OS, probability, cost, access gained) and privilege escalations
//! (process, OS, ...), and the cost of a subnet scan. The goal is root on every sensitive host.
//!
//! The translation follows NASim's `network.py` (`perform_action`,
//! `has_required_remote_permission`, `traffic_permitted`, `_update_reachable`,
//! `_perform_subnet_scan`):
//!
//! - A host is *reachable* when its subnet is public (connected to the internet) or a
//!   compromised host sits in a connected subnet; *discovered* when its subnet is public or a
//!   subnet scan from a compromised host in a connected subnet found it.
//! - An exploit of service s on target t needs t reachable and discovered, t running s with a
//!   matching OS, *permission* (t's subnet is public, or some host with user access has
//!   subnet-level traffic for s to t) and *traffic* (some host that is compromised or in a
//!   public subnet passes both the subnet firewall and t's host firewall for s). It gives user
//!   or root access, as the exploit says.
//! - A privilege escalation needs t compromised and running the process with a matching OS.
//! - A subnet scan from a host with user access discovers every host in connected subnets.
//!
//! Reachability, permission and traffic cost nothing (they follow from compromises), so the
//! planner derives them for free; exploits, escalations and scans cost what the file says.

use std::collections::BTreeMap;
use std::fmt;

use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde::Serialize;

use crate::problem::{FactId, Plan, PlanError, Problem};

/// A problem reading a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NasimError {
    /// Not YAML.
    #[error("{0}")]
    Yaml(String),
    /// A field is missing or has the wrong shape.
    #[error("{}{path}: {message}", at.map_or_else(String::new, |(l, c)| format!("{l}:{c}: ")))]
    Field {
        /// Line and column (1-based) of the field, or of the nearest enclosing one present.
        at: Option<(usize, usize)>,
        /// Where, e.g. `exploits.e_ssh.cost`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn err(path: impl Into<String>, message: impl Into<String>) -> NasimError {
    NasimError::Field {
        at: None,
        path: path.into(),
        message: message.into(),
    }
}

/// Where a dotted field path (`host_configurations.(2, 0).value`, `subnets[1]`) lies in the
/// text: the position of its key, or of the nearest enclosing one present, from the model's
/// YAML reader (which indexes every node by JSON Pointer).
fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let parsed = doppel_model::yaml::parse(text).ok()?;
    let mut pointer = String::new();
    for seg in path.split('.').filter(|s| *s != "(document)") {
        let mut parts = seg.split('[');
        let key = parts.next().unwrap_or(seg);
        pointer.push('/');
        pointer.push_str(&doppel_model::yaml::escape_token(key));
        for index in parts {
            pointer.push('/');
            pointer.push_str(index.trim_end_matches(']'));
        }
    }
    let loc = parsed.index.key(&pointer);
    Some((loc.line as usize, loc.col as usize))
}

/// A host address `(subnet, index)`.
pub type Addr = (usize, usize);

/// An exploit or privilege escalation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Technique {
    /// Its name (`e_ssh`, `pe_tomcat`).
    pub name: String,
    /// The service (exploits) or process (escalations) it needs.
    pub needs: String,
    /// The OS it needs, `None` for any.
    pub os: Option<String>,
    /// Success probability.
    pub prob: f64,
    /// Cost.
    pub cost: f64,
    /// Gives root (else user).
    pub root: bool,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NasimHost {
    /// Address.
    pub addr: Addr,
    /// OS.
    pub os: String,
    /// Services running.
    pub services: Vec<String>,
    /// Processes running.
    pub processes: Vec<String>,
    /// Inbound deny list: source address → denied services.
    pub deny: BTreeMap<Addr, Vec<String>>,
    /// Value when sensitive (a goal), else the host configuration's `value` (NASim's reward
    /// for first gaining root there: negative on a honeypot), else 0.
    pub value: f64,
    /// Whether the host is listed in `sensitive_hosts` (root on it is a goal).
    pub sensitive: bool,
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Hosts per subnet (subnet 1 first; subnet 0 is the internet).
    pub subnets: Vec<usize>,
    /// Connectivity between subnets, internet included.
    pub topology: Vec<Vec<bool>>,
    /// Services allowed from one subnet to another.
    pub firewall: BTreeMap<(usize, usize), Vec<String>>,
    /// Exploits.
    pub exploits: Vec<Technique>,
    /// Privilege escalations.
    pub escalations: Vec<Technique>,
    /// Cost of a subnet scan.
    pub subnet_scan_cost: f64,
    /// Hosts, in address order.
    pub hosts: Vec<NasimHost>,
    /// The optimal path the file's header states, if any.
    pub stated_path: Vec<PathAction>,
}

/// An action of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PathAction {
    /// An exploit or escalation on a host.
    Use(String, Addr),
    /// A subnet scan (from the named host, when known).
    SubnetScan(Option<Addr>),
}

impl fmt::Display for PathAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathAction::Use(n, (s, h)) => write!(f, "({n}, ({s}, {h}))"),
            PathAction::SubnetScan(_) => f.write_str("subnet_scan"),
        }
    }
}

/// A fact of the planning problem.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NFact {
    /// User access (compromised).
    User(Addr),
    /// Root access.
    Root(Addr),
    /// Reachable.
    Reach(Addr),
    /// Discovered.
    Disc(Addr),
    /// Permission to attack this host over this service.
    Perm(Addr, String),
    /// Traffic for this service reaches this host.
    Traffic(Addr, String),
}

fn key_addr(text: &str) -> Option<Addr> {
    let t = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (a, b) = t.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn scalar_str(y: &YamlOwned) -> Option<String> {
    match y {
        YamlOwned::Value(ScalarOwned::String(s)) => Some(s.clone()),
        YamlOwned::Value(ScalarOwned::Integer(i)) => Some(i.to_string()),
        YamlOwned::Value(ScalarOwned::Null) => Some("None".to_owned()),
        YamlOwned::Value(ScalarOwned::Boolean(b)) => Some(b.to_string()),
        YamlOwned::Representation(s, _, _) => Some(s.clone()),
        _ => None,
    }
}

fn num(y: &YamlOwned) -> Option<f64> {
    match y {
        YamlOwned::Value(ScalarOwned::Integer(i)) => Some(*i as f64),
        YamlOwned::Value(ScalarOwned::FloatingPoint(f)) => Some(f.into_inner()),
        _ => None,
    }
}

fn get<'a>(y: &'a YamlOwned, key: &str, path: &str) -> Result<&'a YamlOwned, NasimError> {
    match y {
        YamlOwned::Mapping(m) => m
            .iter()
            .find(|(k, _)| scalar_str(k).as_deref() == Some(key))
            .map(|(_, v)| v)
            .ok_or_else(|| err(path, format!("missing `{key}`"))),
        _ => Err(err(path, "expected a mapping")),
    }
}

fn entries<'a>(y: &'a YamlOwned, path: &str) -> Result<Vec<(String, &'a YamlOwned)>, NasimError> {
    match y {
        YamlOwned::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                scalar_str(k)
                    .map(|k| (k, v))
                    .ok_or_else(|| err(path, "a key is not a scalar"))
            })
            .collect(),
        _ => Err(err(path, "expected a mapping")),
    }
}

fn strings(y: &YamlOwned, path: &str) -> Result<Vec<String>, NasimError> {
    match y {
        YamlOwned::Sequence(s) => s
            .iter()
            .enumerate()
            .map(|(i, v)| {
                scalar_str(v).ok_or_else(|| err(format!("{path}[{i}]"), "expected a name"))
            })
            .collect(),
        YamlOwned::Value(ScalarOwned::Null) => Ok(Vec::new()),
        _ => Err(err(path, "expected a list")),
    }
}

fn number(y: &YamlOwned, key: &str, path: &str) -> Result<f64, NasimError> {
    let p = format!("{path}.{key}");
    let v = num(get(y, key, path)?).ok_or_else(|| err(&p, "expected a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(err(p, "expected a number ≥ 0"));
    }
    Ok(v)
}

fn techniques(doc: &YamlOwned, section: &str, needs: &str) -> Result<Vec<Technique>, NasimError> {
    let mut out = Vec::new();
    for (name, t) in entries(get(doc, section, "(document)")?, section)? {
        let path = format!("{section}.{name}");
        let needs_v = scalar_str(get(t, needs, &path)?)
            .ok_or_else(|| err(format!("{path}.{needs}"), "expected a name"))?;
        // NASim reads `None` in any case (or a YAML null) as "any OS".
        let os = scalar_str(get(t, "os", &path)?).filter(|o| !o.eq_ignore_ascii_case("none"));
        // Access levels by name or by NASim's numbers (1 user, 2 root).
        let access = scalar_str(get(t, "access", &path)?).unwrap_or_default();
        let root = match access.as_str() {
            "root" | "2" => true,
            "user" | "1" => false,
            other => {
                return Err(err(
                    format!("{path}.access"),
                    format!("expected `user` or `root` (or 1 or 2), found `{other}`"),
                ));
            }
        };
        let prob = number(t, "prob", &path)?;
        if prob > 1.0 {
            return Err(err(format!("{path}.prob"), "a probability is at most 1"));
        }
        out.push(Technique {
            name,
            needs: needs_v,
            os,
            prob,
            cost: number(t, "cost", &path)?,
            root,
        });
    }
    Ok(out)
}

/// Reads a scenario (and the optimal path stated in its header comments, if any). A field
/// error gives the line and column of the field (or of the nearest enclosing one present).
pub fn parse(text: &str) -> Result<Scenario, NasimError> {
    parse_fields(text).map_err(|e| match e {
        NasimError::Field {
            at: None,
            path,
            message,
        } => NasimError::Field {
            at: locate(text, &path),
            path,
            message,
        },
        other => other,
    })
}

fn parse_fields(text: &str) -> Result<Scenario, NasimError> {
    let docs = YamlOwned::load_from_str(text).map_err(|e| NasimError::Yaml(e.to_string()))?;
    let doc = docs
        .first()
        .ok_or_else(|| NasimError::Yaml("empty document".into()))?;
    let subnets: Vec<usize> = match get(doc, "subnets", "(document)")? {
        YamlOwned::Sequence(s) => s
            .iter()
            .enumerate()
            .map(|(i, v)| {
                num(v)
                    .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                    .map(|n| n as usize)
                    .ok_or_else(|| err(format!("subnets[{i}]"), "expected a host count"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(err("subnets", "expected a list")),
    };
    let n = subnets.len() + 1;
    let topology: Vec<Vec<bool>> = match get(doc, "topology", "(document)")? {
        YamlOwned::Sequence(rows) if rows.len() == n => rows
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                YamlOwned::Sequence(c) if c.len() == n => {
                    Ok(c.iter().map(|v| num(v) == Some(1.0)).collect())
                }
                _ => Err(err(
                    format!("topology[{i}]"),
                    format!("expected a row of {n} 0/1 values"),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(err(
                "topology",
                format!("expected {n} rows (the internet and {} subnets)", n - 1),
            ));
        }
    };
    let mut firewall = BTreeMap::new();
    for (k, v) in entries(get(doc, "firewall", "(document)")?, "firewall")? {
        let a = key_addr(&k)
            .ok_or_else(|| err(format!("firewall.{k}"), "expected a key `(FROM, TO)`"))?;
        firewall.insert(a, strings(v, &format!("firewall.{k}"))?);
    }
    let mut sensitive = BTreeMap::new();
    for (k, v) in entries(
        get(doc, "sensitive_hosts", "(document)")?,
        "sensitive_hosts",
    )? {
        let a = key_addr(&k).ok_or_else(|| {
            err(
                format!("sensitive_hosts.{k}"),
                "expected an address `(SUBNET, HOST)`",
            )
        })?;
        sensitive.insert(
            a,
            num(v).ok_or_else(|| err(format!("sensitive_hosts.{k}"), "expected a value"))?,
        );
    }
    let mut hosts = Vec::new();
    for (k, v) in entries(
        get(doc, "host_configurations", "(document)")?,
        "host_configurations",
    )? {
        let path = format!("host_configurations.{k}");
        let addr =
            key_addr(&k).ok_or_else(|| err(&path, "expected an address `(SUBNET, HOST)`"))?;
        if addr.0 == 0 || addr.0 > subnets.len() || addr.1 >= subnets[addr.0 - 1] {
            return Err(err(&path, "no such host in `subnets`"));
        }
        let mut deny = BTreeMap::new();
        if let Ok(fw) = get(v, "firewall", &path) {
            for (src, list) in entries(fw, &format!("{path}.firewall"))? {
                let a = key_addr(&src)
                    .ok_or_else(|| err(format!("{path}.firewall.{src}"), "expected an address"))?;
                deny.insert(a, strings(list, &format!("{path}.firewall.{src}"))?);
            }
        }
        // A host's own `value` (optional; a sensitive host's must match its listed one).
        let own_value = match get(v, "value", &path) {
            Ok(y) => Some(
                num(y)
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err(format!("{path}.value"), "expected a number"))?,
            ),
            Err(_) => None,
        };
        let listed = sensitive.get(&addr).copied();
        if let (Some(own), Some(listed)) = (own_value, listed)
            && (own - listed).abs() > 1e-9
        {
            return Err(err(
                format!("{path}.value"),
                format!("{own} differs from the value {listed} in `sensitive_hosts`"),
            ));
        }
        hosts.push(NasimHost {
            addr,
            os: scalar_str(get(v, "os", &path)?).unwrap_or_default(),
            services: strings(get(v, "services", &path)?, &format!("{path}.services"))?,
            processes: strings(get(v, "processes", &path)?, &format!("{path}.processes"))?,
            deny,
            value: listed.or(own_value).unwrap_or(0.0),
            sensitive: listed.is_some(),
        });
    }
    hosts.sort_by_key(|h| h.addr);
    Ok(Scenario {
        subnets,
        topology,
        firewall,
        exploits: techniques(doc, "exploits", "service")?,
        escalations: techniques(doc, "privilege_escalation", "process")?,
        subnet_scan_cost: number(doc, "subnet_scan_cost", "(document)")?,
        hosts,
        stated_path: stated_path(text),
    })
}

/// The optimal path from the header comment: the lines after `# Optimal path:` up to the
/// `Score` line, actions separated by `->`. Tolerates the unbalanced parentheses some headers
/// have (`(e_ssh, (4, 0)`).
fn stated_path(text: &str) -> Vec<PathAction> {
    let mut joined = String::new();
    let mut inside = false;
    for line in text.lines() {
        let Some(c) = line.trim_start().strip_prefix('#') else {
            if inside {
                break;
            }
            continue;
        };
        let c = c.trim();
        if c.starts_with("Optimal path") {
            inside = true;
            continue;
        }
        if inside {
            if c.starts_with("Score") || c.is_empty() {
                break;
            }
            joined.push(' ');
            joined.push_str(c);
        }
    }
    joined
        .split("->")
        .filter_map(|tok| {
            let tok = tok.trim();
            if tok.contains("subnet_scan") {
                return Some(PathAction::SubnetScan(None));
            }
            let t = tok.trim_start_matches('(');
            let (name, rest) = t.split_once(',')?;
            let digits: Vec<usize> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            match digits.as_slice() {
                [a, b, ..] => Some(PathAction::Use(name.trim().to_owned(), (*a, *b))),
                _ => None,
            }
        })
        .collect()
}

/// The planning problem of a scenario and its goal facts.
pub struct NasimProblem {
    /// Facts and actions.
    pub problem: Problem<NFact, PathAction>,
    /// Root on every sensitive host.
    pub goals: Vec<FactId>,
}

impl Scenario {
    fn connected(&self, a: usize, b: usize) -> bool {
        self.topology
            .get(a)
            .and_then(|r| r.get(b))
            .copied()
            .unwrap_or(false)
    }

    fn public(&self, subnet: usize) -> bool {
        self.connected(subnet, 0)
    }

    fn subnet_traffic(&self, from: usize, to: usize, service: &str) -> bool {
        from == to
            || (self.connected(from, to)
                && self
                    .firewall
                    .get(&(from, to))
                    .is_some_and(|l| l.iter().any(|s| s == service)))
    }

    fn host_traffic(&self, from: Addr, to: &NasimHost, service: &str) -> bool {
        !to.deny
            .get(&from)
            .is_some_and(|l| l.iter().any(|s| s == service))
    }

    fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self.exploits.iter().map(|e| e.needs.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Total value of the sensitive hosts.
    pub fn total_value(&self) -> f64 {
        self.hosts
            .iter()
            .filter(|h| h.sensitive)
            .map(|h| h.value)
            .sum()
    }

    /// What first gaining root on `h` costs beyond the action itself: the loss a host of
    /// negative value (a honeypot) brings (NASim pays a host's value once, on root). Positive
    /// values of hosts that are not goals are not sought (costs stay ≥ 0).
    fn root_penalty(h: &NasimHost) -> f64 {
        if h.sensitive {
            0.0
        } else {
            (-h.value).max(0.0)
        }
    }

    /// Builds the planning problem.
    pub fn problem(&self) -> NasimProblem {
        let mut p: Problem<NFact, PathAction> = Problem::default();
        let services = self.services();
        for h in &self.hosts {
            for f in [
                NFact::User(h.addr),
                NFact::Root(h.addr),
                NFact::Reach(h.addr),
                NFact::Disc(h.addr),
            ] {
                p.fact(f);
            }
        }
        let free = PathAction::SubnetScan(None);
        for t in &self.hosts {
            let ts = t.addr.0;
            if self.public(ts) {
                for f in [NFact::Reach(t.addr), NFact::Disc(t.addr)] {
                    let id = p.fact(f);
                    p.initial.push(id);
                }
            }
            for s in &services {
                let perm = p.fact(NFact::Perm(t.addr, s.clone()));
                if self.public(ts) {
                    p.initial.push(perm);
                }
                let traffic = p.fact(NFact::Traffic(t.addr, s.clone()));
                for c in &self.hosts {
                    let ok =
                        self.subnet_traffic(c.addr.0, ts, s) && self.host_traffic(c.addr, t, s);
                    if ok && self.public(c.addr.0) && !p.initial.contains(&traffic) {
                        p.initial.push(traffic);
                    }
                    let user = p.fact(NFact::User(c.addr));
                    if self.subnet_traffic(c.addr.0, ts, s) {
                        p.add_action(vec![user], vec![perm], 0.0, free.clone());
                    }
                    if ok {
                        p.add_action(vec![user], vec![traffic], 0.0, free.clone());
                    }
                }
            }
            for c in &self.hosts {
                if self.connected(c.addr.0, ts) {
                    let user = p.fact(NFact::User(c.addr));
                    let reach = p.fact(NFact::Reach(t.addr));
                    p.add_action(vec![user], vec![reach], 0.0, free.clone());
                }
            }
        }
        let os_ok = |t: &Technique, h: &NasimHost| t.os.as_ref().is_none_or(|o| *o == h.os);
        for t in &self.hosts {
            let user = p.fact(NFact::User(t.addr));
            let root = p.fact(NFact::Root(t.addr));
            for e in &self.exploits {
                if !t.services.contains(&e.needs) || !os_ok(e, t) {
                    continue;
                }
                let pre = vec![
                    p.fact(NFact::Reach(t.addr)),
                    p.fact(NFact::Disc(t.addr)),
                    p.fact(NFact::Perm(t.addr, e.needs.clone())),
                    p.fact(NFact::Traffic(t.addr, e.needs.clone())),
                ];
                let (add, cost) = if e.root {
                    (vec![root, user], e.cost + Self::root_penalty(t))
                } else {
                    (vec![user], e.cost)
                };
                p.add_action(pre, add, cost, PathAction::Use(e.name.clone(), t.addr));
            }
            for e in &self.escalations {
                if !t.processes.contains(&e.needs) || !os_ok(e, t) {
                    continue;
                }
                let (add, cost) = if e.root {
                    (vec![root, user], e.cost + Self::root_penalty(t))
                } else {
                    (vec![user], e.cost)
                };
                p.add_action(
                    vec![user],
                    add,
                    cost,
                    PathAction::Use(e.name.clone(), t.addr),
                );
            }
            let found: Vec<FactId> = self
                .hosts
                .iter()
                .filter(|h| self.connected(t.addr.0, h.addr.0))
                .map(|h| p.fact(NFact::Disc(h.addr)))
                .collect();
            p.add_action(
                vec![user],
                found,
                self.subnet_scan_cost,
                PathAction::SubnetScan(Some(t.addr)),
            );
        }
        let goals = self
            .hosts
            .iter()
            .filter(|h| h.sensitive)
            .map(|h| p.fact(NFact::Root(h.addr)))
            .collect();
        NasimProblem { problem: p, goals }
    }
}

/// The result of solving a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Solution {
    /// The plan's actions in order.
    pub actions: Vec<PathAction>,
    /// Its cost: the actions', plus the value lost on every honeypot (a host of negative
    /// value) it gains root on.
    pub cost: f64,
    /// NASim's score: total sensitive value minus cost (hosts of positive value that are not
    /// goals are not sought, so their reward is not counted).
    pub score: f64,
    /// Search nodes expanded.
    pub expanded: usize,
}

/// Finds a cheapest plan giving root on every sensitive host.
pub fn solve(s: &Scenario, budget: usize) -> Result<Solution, PlanError> {
    let np = s.problem();
    let plan: Plan = np.problem.plan(&np.goals, budget)?;
    let actions: Vec<PathAction> = plan
        .actions
        .iter()
        .map(|a| np.problem.actions[*a].label.clone())
        .collect();
    Ok(Solution {
        actions,
        cost: plan.cost,
        score: s.total_value() - plan.cost,
        expanded: plan.expanded,
    })
}

/// Replays a stated path in this model: each action must be applicable when taken (a subnet
/// scan from the host compromised last). Returns the total cost when the path ends with the
/// goal achieved, else the first action that is not applicable, or `None` when the goal is
/// not reached.
pub fn replay(s: &Scenario, path: &[PathAction]) -> Result<Option<f64>, String> {
    let np = s.problem();
    let p = &np.problem;
    let mut have = vec![false; p.fact_count()];
    for &f in &p.initial {
        have[f] = true;
    }
    let saturate = |have: &mut Vec<bool>| loop {
        let mut changed = false;
        for a in p.actions.iter().filter(|a| a.cost == 0.0) {
            if a.pre.iter().all(|f| have[*f]) && a.add.iter().any(|f| !have[*f]) {
                for &f in &a.add {
                    have[f] = true;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    };
    saturate(&mut have);
    let mut cost = 0.0;
    let mut last: Option<Addr> = None;
    for step in path {
        let want = match step {
            PathAction::SubnetScan(None) => PathAction::SubnetScan(last),
            other => other.clone(),
        };
        let Some(a) = p
            .actions
            .iter()
            .find(|a| a.cost > 0.0 && a.label == want && a.pre.iter().all(|f| have[*f]))
        else {
            return Err(format!("{step} is not applicable here"));
        };
        for &f in &a.add {
            have[f] = true;
        }
        cost += a.cost;
        if let PathAction::Use(_, addr) = step {
            last = Some(*addr);
        }
        saturate(&mut have);
    }
    Ok(np.goals.iter().all(|g| have[*g]).then_some(cost))
}

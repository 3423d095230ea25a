//! Queries over the attack graph: every minimal attack path to the targets and the most likely
//! one, the blast radius of a compromised host, and the mitigations that cut most paths per
//! unit of cost, each re-verified by rebuilding the graph with the fix applied.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use doppel_model::{Kind, Peer, Twin};
use rayon::prelude::*;
use serde::Serialize;

use crate::graph::{self, AttackProblem, Fact, Fix, Start};
use crate::hitting;
use crate::reach::Overlay;

/// Cost of a mitigation, in arbitrary effort units, by kind: patching a CVE on one entity and
/// rotating a credential cost 1, closing a firewall rule 2 (it may break legitimate traffic),
/// isolating a subnet 5 (it breaks the most).
pub fn fix_cost(fix: &Fix) -> f64 {
    match fix {
        Fix::Patch { .. } | Fix::Rotate { .. } => 1.0,
        Fix::CloseRule { .. } => 2.0,
        Fix::Isolate { .. } => 5.0,
    }
}

/// A query that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The target text is not a peer.
    #[error("bad target `{0}`: {1}")]
    BadTarget(String, String),
    /// The target names nothing in the twin.
    #[error("target `{0}` matches no host or service of the twin")]
    NoTarget(String),
    /// The start names no host.
    #[error("no host `{0}` in the twin")]
    NoHost(String),
}

/// The goal facts a target stands for: code execution on a host, data of a service.
pub fn target_facts(twin: &Twin, target: &str) -> Result<Vec<Fact>, QueryError> {
    let peer = Peer::parse(target).map_err(|e| QueryError::BadTarget(target.to_owned(), e))?;
    let mut out = Vec::new();
    let host = |h: &str| Fact::Exec {
        host: h.to_owned(),
        root: false,
    };
    let svc = |s: &str| Fact::Data {
        service: s.to_owned(),
    };
    match &peer {
        Peer::Tag(t) => {
            out.extend(
                twin.hosts
                    .iter()
                    .filter(|(_, h)| h.tags.contains(t))
                    .map(|(n, _)| host(n)),
            );
            out.extend(
                twin.services
                    .iter()
                    .filter(|(_, s)| s.tags.contains(t))
                    .map(|(n, _)| svc(n)),
            );
        }
        Peer::Entity(id) if id.kind == Kind::Host && twin.hosts.contains_key(&id.name) => {
            out.push(host(&id.name));
        }
        Peer::Entity(id) if id.kind == Kind::Service && twin.services.contains_key(&id.name) => {
            out.push(svc(&id.name));
        }
        _ => {}
    }
    if out.is_empty() {
        return Err(QueryError::NoTarget(target.to_owned()));
    }
    Ok(out)
}

/// The entity id a goal fact stands for.
fn fact_entity(f: &Fact) -> String {
    match f {
        Fact::Exec { host, .. } => format!("host:{host}"),
        Fact::Data { service } => format!("service:{service}"),
        other => other.to_string(),
    }
}

/// One step of a path, as the JSON output shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStep {
    /// The host acted on.
    pub host: String,
    /// MITRE ATT&CK technique id; `null` for network access and relays.
    pub technique: Option<&'static str>,
    /// Technique name, or `reach` / `relay`.
    pub name: &'static str,
    /// The vulnerability, credential or rule used.
    pub via: String,
    /// Success probability of the step.
    pub probability: f64,
    /// What the step needs (facts proved by earlier steps, or the start).
    pub needs: Vec<String>,
    /// What the step proves.
    pub gives: String,
}

/// A minimal attack path: no step can be left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackPath {
    /// The target reached (`host:NAME` or `service:NAME`).
    pub target: String,
    /// Steps in an order an attacker can take them.
    pub steps: Vec<PathStep>,
    /// Product of the steps' probabilities.
    pub probability: f64,
    /// Steps that are attacks (technique known).
    pub attack_steps: usize,
    #[serde(skip)]
    pub(crate) fixes: BTreeSet<Fix>,
}

/// A ranked mitigation, verified by recomputing the attack graph with it applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mitigation {
    /// In words.
    pub action: String,
    /// The change.
    pub fix: Fix,
    /// Effort (see [`fix_cost`]).
    pub cost: f64,
    /// Minimal paths that no longer exist afterwards (recomputed).
    pub paths_cut: usize,
    /// Paths left afterwards (recomputed).
    pub paths_left: usize,
    /// Targets still reachable afterwards (recomputed).
    pub targets_still_reachable: Vec<String>,
}

/// How the mitigation set was chosen and what recomputing the graph with it showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MitigationSet {
    /// `exact` (branch and bound over the minimum-cost hitting set of the paths' fixes,
    /// proven optimal), `greedy` (the instance exceeded [`EXACT_NODE_BUDGET`]) or `none`
    /// (no path to cut).
    pub method: &'static str,
    /// Total cost of the set.
    pub total_cost: f64,
    /// Cost of the set the greedy heuristic (best paths cut per cost first) picks on the same
    /// instance, for comparison.
    pub greedy_cost: f64,
    /// Paths left after applying the whole set (recomputed; 0 unless some path cannot be cut).
    pub paths_left: usize,
    /// Targets still reachable after applying the whole set (recomputed).
    pub targets_still_reachable: Vec<String>,
    /// Rounds of solve-and-verify: paths that appear once others are cut (e.g. through a
    /// second security group) are added and the set solved again.
    pub rounds: usize,
}

/// Branch-and-bound nodes the exact mitigation search may expand before falling back to
/// the greedy set.
pub const EXACT_NODE_BUDGET: usize = 1_000_000;

/// The answer to `doppel attack`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// Where the attacker starts.
    pub from: Vec<String>,
    /// The target query.
    pub to: String,
    /// Targets some path reaches.
    pub reachable_targets: Vec<String>,
    /// Targets no path reaches.
    pub unreachable_targets: Vec<String>,
    /// Every minimal path (up to the cap), most likely first.
    pub paths: Vec<AttackPath>,
    /// True when the enumeration stopped at the cap.
    pub paths_truncated: bool,
    /// Index in `paths` of the most likely path.
    pub most_likely: Option<usize>,
    /// The cheapest set of fixes that together cut every path (see [`MitigationSet`]), each
    /// fix ranked by the paths it cuts alone per cost and re-verified by recomputing the graph.
    pub mitigations: Vec<Mitigation>,
    /// How the set was found, its cost against the greedy heuristic's, and its verification.
    pub mitigation_set: MitigationSet,
    /// Every single fix that cuts something, ranked by paths cut per cost (the first three
    /// are the fixes that matter most one at a time).
    pub single_fixes: Vec<Mitigation>,
    /// Facts and derivations in the attack graph.
    pub graph_facts: usize,
    /// Derivations in the attack graph.
    pub graph_derivations: usize,
}

struct Paths {
    paths: Vec<AttackPath>,
    truncated: bool,
    reachable: Vec<String>,
    unreachable: Vec<String>,
    facts: usize,
    derivations: usize,
}

fn paths_of(twin: &Twin, overlay: &Overlay, starts: &[Start], goals: &[Fact], cap: usize) -> Paths {
    let p = graph::build(twin, overlay, starts);
    let reached = p.closure();
    let mut out = Paths {
        paths: Vec::new(),
        truncated: false,
        reachable: Vec::new(),
        unreachable: Vec::new(),
        facts: p.fact_count(),
        derivations: p.actions.len(),
    };
    for g in goals {
        let entity = fact_entity(g);
        let Some(id) = p.find(g).filter(|id| reached[*id]) else {
            out.unreachable.push(entity);
            continue;
        };
        out.reachable.push(entity.clone());
        let (proofs, truncated) = p.minimal_proofs(id, cap);
        out.truncated |= truncated;
        // A path is identified by the facts it proves: proofs that differ only in which
        // port or rule let the same request through are one path (the likelier kept), and a
        // path proving a strict superset of another's facts is not minimal.
        let mut found: Vec<(BTreeSet<usize>, AttackPath)> = proofs
            .iter()
            .map(|proof| {
                let facts = proof
                    .iter()
                    .flat_map(|a| p.actions[*a].add.iter().copied())
                    .collect();
                (facts, to_path(&p, proof, &entity))
            })
            .collect();
        found.sort_by(|a, b| {
            a.0.len()
                .cmp(&b.0.len())
                .then(b.1.probability.total_cmp(&a.1.probability))
        });
        let mut kept: Vec<(BTreeSet<usize>, AttackPath)> = Vec::new();
        for (facts, path) in found {
            if kept.iter().any(|(k, _)| k.is_subset(&facts)) {
                continue;
            }
            kept.push((facts, path));
        }
        out.paths.extend(kept.into_iter().map(|(_, path)| path));
    }
    out.paths.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then(a.attack_steps.cmp(&b.attack_steps))
            .then(a.steps.len().cmp(&b.steps.len()))
    });
    out
}

fn to_path(p: &AttackProblem, proof: &[usize], target: &str) -> AttackPath {
    let order = p.order(proof);
    let mut steps = Vec::new();
    let mut probability = 1.0;
    let mut fixes = BTreeSet::new();
    for a in order {
        let act = &p.actions[a];
        let s = &act.label;
        probability *= s.probability;
        fixes.extend(s.fixes.iter().cloned());
        let gives = act
            .add
            .first()
            .map(|f| p.get(*f).to_string())
            .unwrap_or_default();
        let needs = act.pre.iter().map(|f| p.get(*f).to_string()).collect();
        steps.push(PathStep {
            needs,
            host: s.host.clone(),
            technique: s.technique,
            name: s.name,
            via: s.via.clone(),
            probability: s.probability,
            gives,
        });
    }
    AttackPath {
        target: target.to_owned(),
        attack_steps: steps.iter().filter(|s| s.technique.is_some()).count(),
        steps,
        probability,
        fixes,
    }
}

/// Every minimal path from `starts` to `target` (up to `cap` per target), most likely first.
pub fn attack_paths(
    twin: &Twin,
    starts: &[Start],
    target: &str,
    cap: usize,
) -> Result<Vec<AttackPath>, QueryError> {
    for s in starts {
        if let Start::Host(h) = s
            && !twin.hosts.contains_key(h)
        {
            return Err(QueryError::NoHost(h.clone()));
        }
    }
    let goals = target_facts(twin, target)?;
    Ok(paths_of(twin, &Overlay::default(), starts, &goals, cap).paths)
}

/// Adds each path's fix set (as indices into `universe`, extended with new fixes) to `sets`,
/// one per path (the greedy comparison weighs sets by how many paths they stand for); returns
/// how many sets were new.
fn add_paths(paths: &[AttackPath], universe: &mut Vec<Fix>, sets: &mut Vec<Vec<usize>>) -> usize {
    let mut new = 0;
    for p in paths {
        let mut set: Vec<usize> = p
            .fixes
            .iter()
            .map(|f| match universe.iter().position(|u| u == f) {
                Some(i) => i,
                None => {
                    universe.push(f.clone());
                    universe.len() - 1
                }
            })
            .collect();
        set.sort_unstable();
        set.dedup();
        if set.is_empty() {
            continue;
        }
        if !sets.contains(&set) {
            new += 1;
        }
        sets.push(set);
    }
    new
}

/// How far [`attack_with_progress`] has got, for a caller that shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The graph and the paths are done; this many candidate fixes are to be verified.
    Paths {
        /// Candidate fixes.
        fixes: usize,
    },
    /// One more candidate fix verified (reported from whichever thread verified it).
    FixVerified,
}

/// Every minimal path from `starts` to `target`, the most likely, and ranked mitigations.
pub fn attack(
    twin: &Twin,
    starts: &[Start],
    target: &str,
    cap: usize,
) -> Result<AttackReport, QueryError> {
    attack_with_progress(twin, starts, target, cap, &|_| {})
}

/// [`attack`], telling `progress` how far it has got (verifying the fixes is the long part on
/// a large estate: one graph and path enumeration per candidate fix).
pub fn attack_with_progress(
    twin: &Twin,
    starts: &[Start],
    target: &str,
    cap: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackReport, QueryError> {
    for s in starts {
        if let Start::Host(h) = s
            && !twin.hosts.contains_key(h)
        {
            return Err(QueryError::NoHost(h.clone()));
        }
    }
    let goals = target_facts(twin, target)?;
    let base = Overlay::default();
    let before = paths_of(twin, &base, starts, &goals, cap);
    let n = before.paths.len();
    let candidates: BTreeSet<Fix> = before
        .paths
        .iter()
        .flat_map(|p| p.fixes.iter().cloned())
        .collect();
    let evaluate = |overlay: &Overlay, fix: &Fix, paths_now: usize| {
        let mut o = overlay.clone();
        fix.apply(&mut o);
        let after = paths_of(twin, &o, starts, &goals, cap);
        Mitigation {
            action: fix.to_string(),
            fix: fix.clone(),
            cost: fix_cost(fix),
            paths_cut: paths_now.saturating_sub(after.paths.len()),
            paths_left: after.paths.len(),
            targets_still_reachable: after.reachable,
        }
    };
    let rank = |v: &mut Vec<Mitigation>| {
        v.retain(|m| m.paths_cut > 0);
        v.sort_by(|a, b| {
            (b.paths_cut as f64 / b.cost)
                .total_cmp(&(a.paths_cut as f64 / a.cost))
                .then(
                    a.targets_still_reachable
                        .len()
                        .cmp(&b.targets_still_reachable.len()),
                )
                .then(a.cost.total_cmp(&b.cost))
                .then(a.action.cmp(&b.action))
        });
    };
    // Each fix is verified by rebuilding the graph with it: independent, so in parallel (the
    // results are collected in the candidates' order, whatever the number of threads).
    progress(Progress::Paths {
        fixes: candidates.len(),
    });
    let evaluated: Vec<Mitigation> = candidates
        .par_iter()
        .map(|f| {
            let m = evaluate(&base, f, n);
            progress(Progress::FixVerified);
            m
        })
        .collect();
    let mut single_fixes = evaluated.clone();
    rank(&mut single_fixes);
    // The cheapest set: solve the hitting set of the paths' fixes, apply it, recompute; paths
    // that appear once others are cut join the instance and it is solved again.
    let mut universe: Vec<Fix> = candidates.iter().cloned().collect();
    let mut sets: Vec<Vec<usize>> = Vec::new();
    add_paths(&before.paths, &mut universe, &mut sets);
    let mut method = if n == 0 { "none" } else { "exact" };
    let mut chosen: Vec<usize> = Vec::new();
    let mut greedy_cost = 0.0;
    let mut rounds = 0;
    let mut after_set = (0, Vec::new());
    while n > 0 && rounds < 8 {
        rounds += 1;
        let costs: Vec<f64> = universe.iter().map(fix_cost).collect();
        let greedy = hitting::greedy(&costs, &sets);
        greedy_cost = greedy.iter().map(|&i| costs[i]).sum();
        chosen = match hitting::exact(&costs, &sets, EXACT_NODE_BUDGET) {
            Some(x) => x,
            None => {
                method = "greedy";
                greedy
            }
        };
        let mut o = base.clone();
        for &i in &chosen {
            universe[i].apply(&mut o);
        }
        let after = paths_of(twin, &o, starts, &goals, cap);
        after_set = (after.paths.len(), after.reachable.clone());
        if after.paths.is_empty() || add_paths(&after.paths, &mut universe, &mut sets) == 0 {
            break;
        }
    }
    // The chosen fixes alone, as verified above (or now, for fixes only later rounds found).
    let mut mitigations: Vec<Mitigation> = chosen
        .par_iter()
        .map(|&i| {
            let fix = &universe[i];
            evaluated
                .iter()
                .find(|m| &m.fix == fix)
                .cloned()
                .unwrap_or_else(|| evaluate(&base, fix, n))
        })
        .collect();
    mitigations.sort_by(|a, b| {
        (b.paths_cut as f64 / b.cost)
            .total_cmp(&(a.paths_cut as f64 / a.cost))
            .then(a.cost.total_cmp(&b.cost))
            .then(a.action.cmp(&b.action))
    });
    let mitigation_set = MitigationSet {
        method,
        total_cost: mitigations.iter().map(|m| m.cost).sum(),
        greedy_cost,
        paths_left: after_set.0,
        targets_still_reachable: after_set.1,
        rounds,
    };
    Ok(AttackReport {
        from: starts.iter().map(start_name).collect(),
        to: target.to_owned(),
        reachable_targets: before.reachable,
        unreachable_targets: before.unreachable,
        most_likely: (!before.paths.is_empty()).then_some(0),
        paths: before.paths,
        paths_truncated: before.truncated,
        mitigations,
        mitigation_set,
        single_fixes,
        graph_facts: before.facts,
        graph_derivations: before.derivations,
    })
}

/// Every flow from `from` to `to` with its verdict: `from` is `internet`, an address,
/// `host:NAME` or `service:NAME` (each of its hosts); `to` is `host:NAME[:PORT]` or
/// `service:NAME[:PORT]` (each instance; every listening port when none is given).
pub fn reach_query(
    twin: &Twin,
    from: &str,
    to: &str,
) -> Result<Vec<(String, crate::reach::Verdict)>, QueryError> {
    use crate::reach::{Net, Origin, Src, proto_str};
    let overlay = Overlay::default();
    let net = Net::new(twin, &overlay);
    let sources: Vec<Src<'_>> = if from == "internet" {
        vec![Src::Outside(Origin::Internet)]
    } else if let Ok(ip) = from.parse() {
        vec![Src::Outside(Origin::Address(ip))]
    } else if let Some(h) = from.strip_prefix("host:") {
        let (k, _) = twin
            .hosts
            .get_key_value(h)
            .ok_or_else(|| QueryError::NoHost(h.to_owned()))?;
        vec![Src::Host(k.as_str())]
    } else if let Some(s) = from.strip_prefix("service:") {
        let hosts = net.hosts_of(s);
        if hosts.is_empty() {
            return Err(QueryError::NoTarget(from.to_owned()));
        }
        hosts.iter().map(|h| Src::Host(h)).collect()
    } else {
        return Err(QueryError::BadTarget(
            from.to_owned(),
            "expected internet, an address, host:NAME or service:NAME".into(),
        ));
    };
    let (what, port) = match to.rsplit_once(':') {
        Some((w, p)) if p.bytes().all(|b| b.is_ascii_digit()) && w.contains(':') => {
            (w, p.parse::<u16>().ok())
        }
        _ => (to, None),
    };
    // (host, port, protocol, service aimed at)
    let mut flows: Vec<(String, u16, doppel_model::Protocol, Option<String>)> = Vec::new();
    let service_ports = |s: &str| -> Vec<(u16, doppel_model::Protocol)> {
        twin.services
            .get(s)
            .map(|svc| svc.ports.iter().map(|p| (p.port, p.protocol)).collect())
            .unwrap_or_default()
    };
    if let Some(s) = what.strip_prefix("service:") {
        if !twin.services.contains_key(s) {
            return Err(QueryError::NoTarget(to.to_owned()));
        }
        for h in net.hosts_of(s) {
            let ports = match port {
                Some(p) => vec![(p, doppel_model::Protocol::Tcp)],
                None => service_ports(s),
            };
            for (p, proto) in ports {
                flows.push(((*h).to_owned(), p, proto, Some(s.to_owned())));
            }
        }
    } else if let Some(h) = what.strip_prefix("host:") {
        if !twin.hosts.contains_key(h) {
            return Err(QueryError::NoHost(h.to_owned()));
        }
        match port {
            Some(p) => {
                let svc = net
                    .services_on(h)
                    .iter()
                    .find(|s| service_ports(s).iter().any(|(q, _)| *q == p))
                    .map(|s| (*s).to_owned());
                flows.push((h.to_owned(), p, doppel_model::Protocol::Tcp, svc));
            }
            None => {
                flows.push((h.to_owned(), 22, doppel_model::Protocol::Tcp, None));
                for s in net.services_on(h) {
                    for (p, proto) in service_ports(s) {
                        flows.push((h.to_owned(), p, proto, Some((*s).to_owned())));
                    }
                }
            }
        }
    } else {
        return Err(QueryError::BadTarget(
            to.to_owned(),
            "expected host:NAME[:PORT] or service:NAME[:PORT]".into(),
        ));
    }
    let mut out = Vec::new();
    for src in &sources {
        for (h, p, proto, svc) in &flows {
            let v = net.flow(*src, h, *p, *proto, svc.as_deref());
            let aim = svc
                .as_ref()
                .map(|s| format!(" (service {s})"))
                .unwrap_or_default();
            out.push((format!("{src} -> {h}:{p}/{}{aim}", proto_str(*proto)), v));
        }
    }
    Ok(out)
}

fn start_name(s: &Start) -> String {
    match s {
        Start::Outside(o) => o.to_string(),
        Start::Host(h) => format!("host:{h}"),
    }
}

/// What an attacker holding root on a host can go on to reach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlastRadius {
    /// The compromised host.
    pub from: String,
    /// Hosts with root access.
    pub root: Vec<String>,
    /// Hosts with user access only.
    pub user: Vec<String>,
    /// Services whose data is reachable.
    pub data: Vec<String>,
    /// Credentials obtained.
    pub credentials: Vec<String>,
    /// Sum of the `security.value` of the hosts executed on and the services whose data is
    /// reached (the starting host included).
    pub value_at_risk: f64,
}

/// The blast radius of `host`.
pub fn blast_radius(twin: &Twin, host: &str) -> Result<BlastRadius, QueryError> {
    if !twin.hosts.contains_key(host) {
        return Err(QueryError::NoHost(host.to_owned()));
    }
    let p = graph::build(twin, &Overlay::default(), &[Start::Host(host.to_owned())]);
    let reached = p.closure();
    let mut out = BlastRadius {
        from: format!("host:{host}"),
        root: Vec::new(),
        user: Vec::new(),
        data: Vec::new(),
        credentials: Vec::new(),
        value_at_risk: 0.0,
    };
    let value =
        |sec: Option<&doppel_model::SecurityFacts>| sec.and_then(|s| s.value).unwrap_or(0.0);
    let mut hosts_hit = BTreeSet::new();
    for (id, ok) in reached.iter().enumerate() {
        if !ok {
            continue;
        }
        match p.get(id) {
            Fact::Exec { host, root: true } => {
                out.root.push(host.clone());
                hosts_hit.insert(host.clone());
            }
            Fact::Exec { host, root: false } => {
                hosts_hit.insert(host.clone());
            }
            Fact::Data { service } => out.data.push(service.clone()),
            Fact::Cred { credential } => out.credentials.push(credential.clone()),
            _ => {}
        }
    }
    out.user = hosts_hit
        .iter()
        .filter(|h| !out.root.contains(h))
        .cloned()
        .collect();
    out.root.sort();
    out.data.sort();
    out.credentials.sort();
    out.value_at_risk = hosts_hit
        .iter()
        .map(|h| value(twin.hosts.get(h).and_then(|h| h.security.as_ref())))
        .sum::<f64>()
        + out
            .data
            .iter()
            .map(|s| value(twin.services.get(s).and_then(|s| s.security.as_ref())))
            .sum::<f64>();
    Ok(out)
}

/// The report as readable text.
pub fn render_text(r: &AttackReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "attack from {} to {}", r.from.join(", "), r.to);
    let _ = writeln!(
        s,
        "graph: {} facts, {} derivations",
        r.graph_facts, r.graph_derivations
    );
    let _ = writeln!(
        s,
        "reachable targets: {}",
        if r.reachable_targets.is_empty() {
            "none".to_owned()
        } else {
            r.reachable_targets.join(", ")
        }
    );
    if !r.unreachable_targets.is_empty() {
        let _ = writeln!(
            s,
            "unreachable targets: {}",
            r.unreachable_targets.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "{} minimal path(s){}",
        r.paths.len(),
        if r.paths_truncated {
            " (enumeration capped)"
        } else {
            ""
        }
    );
    for (i, p) in r.paths.iter().enumerate() {
        let mark = if Some(i) == r.most_likely {
            " (most likely)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "\npath {} to {}: p = {:.3}, {} attack steps{mark}",
            i + 1,
            p.target,
            p.probability,
            p.attack_steps
        );
        for st in &p.steps {
            let tech = st
                .technique
                .map_or_else(|| st.name.to_owned(), |t| format!("{t} {}", st.name));
            let _ = writeln!(s, "  - [{tech}] {} => {}", st.via, st.gives);
            if st.probability < 1.0 {
                let _ = writeln!(s, "      p = {:.3}", st.probability);
            }
        }
    }
    if !r.mitigations.is_empty() {
        let m = &r.mitigation_set;
        let _ = writeln!(
            s,
            "\ncheapest mitigation set (cost {}, {}; greedy would cost {}); after it: {} path(s) left, targets still reachable: {}",
            m.total_cost,
            m.method,
            m.greedy_cost,
            m.paths_left,
            list_or_none(&m.targets_still_reachable)
        );
        for (i, x) in r.mitigations.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}. {:<44} cost {:>3}  alone cuts {:>3}/{}",
                i + 1,
                x.action,
                x.cost,
                x.paths_cut,
                r.paths.len()
            );
        }
    }
    if !r.single_fixes.is_empty() {
        let _ = writeln!(s, "\nsingle fixes (paths cut per cost, each re-verified):");
        for m in &r.single_fixes {
            let _ = writeln!(
                s,
                "  {:<44} cost {:>3}  cuts {:>3}/{}  targets still reachable: {}",
                m.action,
                m.cost,
                m.paths_cut,
                r.paths.len(),
                list_or_none(&m.targets_still_reachable)
            );
        }
    }
    s
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// The paths as a Graphviz digraph: facts are nodes, steps are labelled edges.
pub fn render_dot(r: &AttackReport) -> String {
    let mut edges = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for p in &r.paths {
        for st in &p.steps {
            let label = st.technique.unwrap_or(st.name);
            for n in &st.needs {
                edges.insert((n.clone(), st.gives.clone(), label.to_owned()));
                nodes.insert(n.clone());
            }
            nodes.insert(st.gives.clone());
        }
    }
    let mut s = String::from("digraph attack {\n  rankdir=LR;\n  node [shape=box];\n");
    for n in &nodes {
        let target = r.reachable_targets.iter().any(|t| {
            n == &format!("data of {}", t.trim_start_matches("service:"))
                || n == &format!("user on {}", t.trim_start_matches("host:"))
        });
        let style = if target {
            " style=filled fillcolor=\"#f4cccc\""
        } else {
            ""
        };
        let _ = writeln!(s, "  {n:?} [label={n:?}{style}];");
    }
    for (a, b, l) in &edges {
        let _ = writeln!(s, "  {a:?} -> {b:?} [label={l:?}];");
    }
    s.push_str("}\n");
    s
}

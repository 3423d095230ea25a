//! The topology the web UI draws (`GET /api/twin/graph`): services, instances, hosts,
//! networks, subnets and routers with the edges between them (service calls aggregated from
//! endpoint calls, instances on hosts and in services, hosts in subnets, subnets in networks,
//! router links), each node with its groups (zone, host, namespace) and a position computed
//! here, so the browser draws thousands of nodes without running a force layout.
//!
//! Layout: services on top, in columns by call depth (callers left of callees); below them
//! one block per zone with a grid of host cells (a host and, under it, its instances); the
//! networks, their subnets and the routers in a band at the bottom. Deterministic: the same
//! twin gives the same positions.

use std::collections::{BTreeMap, HashMap};

use doppel_model::Twin;
use doppel_model::graph::{EdgeKind, Graph};
use serde::Serialize;

/// A node as the UI draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Stable id (`service:cart`, `instance:cart/cart-0`, `host:app-a-1`...).
    pub id: String,
    /// `service`, `instance`, `host`, `network`, `subnet` or `router`.
    pub kind: String,
    /// Name within its kind.
    pub name: String,
    /// Zone, where the node has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Host (instances and hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Namespace (services and their instances).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The service of an instance, or the service itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Position, in layout units (about one node per 60).
    pub x: f64,
    /// Position.
    pub y: f64,
}

/// An edge as the UI draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// Source node id.
    pub source: String,
    /// Target node id.
    pub target: String,
    /// `calls` (service to service), `runs-on`, `part-of`, `in` or `link`.
    pub kind: String,
    /// Calls per visit of the caller (summed over its endpoints), or a link's cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// The UI's graph of a twin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// Nodes, services first.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Node count per kind.
    pub counts: BTreeMap<String, usize>,
    /// Zones in the twin's order, each with its region.
    pub zones: Vec<(String, Option<String>)>,
}

/// A cell of a zone block: a host (or none, for the zone's instances on no host) and its
/// instances as (instance name, service).
type Cell<'a> = (Option<&'a String>, &'a [(String, String)]);

const COL: f64 = 200.0;
const ROW: f64 = 70.0;

/// Builds the topology of `twin`.
pub fn of(twin: &Twin) -> Topology {
    let g = Graph::of(twin);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();

    // Services, by call depth (longest call chain from a service nobody calls).
    let svc_of_ep = |id: &str| -> Option<String> {
        id.strip_prefix("endpoint:")
            .and_then(|e| e.split_once('/'))
            .map(|(s, _)| s.to_string())
    };
    let mut calls: BTreeMap<(String, String), f64> = BTreeMap::new();
    for e in g.edges.iter().filter(|e| e.kind == EdgeKind::Calls) {
        if let (Some(a), Some(b)) = (svc_of_ep(&e.from), svc_of_ep(&e.to))
            && a != b
        {
            *calls.entry((a, b)).or_default() += e.weight.unwrap_or(1.0);
        }
    }
    let names: Vec<&String> = twin.services.keys().collect();
    let depth = call_depths(&names, &calls);
    let per_col = ((names.len() as f64).sqrt().ceil() as usize).max(6);
    let mut by_depth: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for n in &names {
        by_depth
            .entry(depth.get(*n).copied().unwrap_or(0))
            .or_default()
            .push(n);
    }
    let mut col = 0usize;
    let mut services_height = 0.0_f64;
    for list in by_depth.values() {
        for (i, n) in list.iter().enumerate() {
            let (c, r) = (col + i / per_col, i % per_col);
            let y = r as f64 * ROW;
            services_height = services_height.max(y);
            let svc = &twin.services[*n];
            nodes.push(Node {
                id: format!("service:{n}"),
                kind: "service".into(),
                name: (*n).clone(),
                zone: None,
                host: None,
                namespace: svc.namespace.clone(),
                service: Some((*n).clone()),
                x: c as f64 * COL,
                y,
            });
        }
        col += list.len().div_ceil(per_col);
    }
    for ((a, b), w) in &calls {
        edges.push(Edge {
            source: format!("service:{a}"),
            target: format!("service:{b}"),
            kind: "calls".into(),
            weight: Some(*w),
        });
    }

    // Instances by host (or by zone when placed on no host).
    let mut on_host: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    let mut in_zone: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut unplaced: Vec<(String, String)> = Vec::new();
    let mut inst_zone: HashMap<String, Option<String>> = HashMap::new();
    for (s, svc) in &twin.services {
        for inst in twin.placed_instances(s, svc) {
            let name = format!("{s}/{}", inst.name);
            inst_zone.insert(name.clone(), inst.zone.clone());
            match (&inst.host, &inst.zone) {
                (Some(h), _) if twin.hosts.contains_key(h) => {
                    let key = twin.hosts.get_key_value(h).map_or("", |(k, _)| k.as_str());
                    on_host.entry(key).or_default().push((name, s.clone()));
                }
                (_, Some(z)) => in_zone
                    .entry(z.clone())
                    .or_default()
                    .push((name, s.clone())),
                _ => unplaced.push((name, s.clone())),
            }
        }
    }

    // Zone blocks.
    let top = services_height + 3.0 * ROW;
    let mut zone_names: Vec<Option<String>> = twin.zones.keys().cloned().map(Some).collect();
    zone_names.push(None);
    let mut x0 = 0.0;
    let mut bottom = top;
    for z in &zone_names {
        let hosts: Vec<&String> = twin
            .hosts
            .iter()
            .filter(|(_, h)| h.zone.as_ref() == z.as_ref())
            .map(|(n, _)| n)
            .collect();
        let loose: &[(String, String)] = match z {
            Some(z) => in_zone.get(z).map_or(&[], Vec::as_slice),
            None => &unplaced,
        };
        let zoned = |kind: &str, names: Vec<&String>| -> Vec<(String, String)> {
            names
                .into_iter()
                .map(|n| (kind.to_string(), n.clone()))
                .collect()
        };
        let mut infra = zoned(
            "subnet",
            twin.subnets
                .iter()
                .filter(|(_, s)| z.is_some() && s.zone.as_ref() == z.as_ref())
                .map(|(n, _)| n)
                .collect(),
        );
        infra.extend(zoned(
            "router",
            twin.routers
                .iter()
                .filter(|(_, r)| z.is_some() && r.zone.as_ref() == z.as_ref())
                .map(|(n, _)| n)
                .collect(),
        ));
        if hosts.is_empty() && loose.is_empty() && infra.is_empty() {
            continue;
        }
        // Cells (a host over its instances, or the zone's instances on no host), each sized
        // by its instances, packed left to right in shelves of about a square's width.
        let cell = |n: usize| {
            let cols = ((n.max(1) as f64).sqrt().ceil() as usize).max(1);
            let w = (cols as f64 * 55.0).max(90.0) + 40.0;
            let h = n.div_ceil(cols) as f64 * 45.0 + 90.0;
            (cols, w, h)
        };
        let mut cells: Vec<Cell<'_>> = hosts
            .iter()
            .map(|h| {
                (
                    Some(*h),
                    on_host.get(h.as_str()).map_or(&[][..], Vec::as_slice),
                )
            })
            .collect();
        if !loose.is_empty() {
            cells.push((None, loose));
        }
        let area: f64 = cells
            .iter()
            .map(|(_, i)| {
                let (_, w, h) = cell(i.len());
                w * h
            })
            .sum();
        let shelf_w = area.sqrt().max(cell(0).1);
        let (mut cx, mut cy, mut shelf_h, mut width) = (0.0_f64, top, 0.0_f64, 0.0_f64);
        for (h, insts) in &cells {
            let (cols, w, hh) = cell(insts.len());
            if cx > 0.0 && cx + w > shelf_w {
                cx = 0.0;
                cy += shelf_h;
                shelf_h = 0.0;
            }
            let x = x0 + cx + w / 2.0;
            if let Some(h) = h {
                nodes.push(Node {
                    id: format!("host:{h}"),
                    kind: "host".into(),
                    name: (*h).clone(),
                    zone: z.clone(),
                    host: Some((*h).clone()),
                    namespace: None,
                    service: None,
                    x,
                    y: cy,
                });
            }
            let first_y = if h.is_some() { cy + 60.0 } else { cy };
            for (i, (name, svc)) in insts.iter().enumerate() {
                nodes.push(instance(
                    twin,
                    name,
                    svc,
                    z.clone(),
                    h.map(|h| (*h).clone()),
                    x - (cols as f64 - 1.0) * 27.5 + (i % cols) as f64 * 55.0,
                    first_y + (i / cols) as f64 * 45.0,
                ));
            }
            cx += w;
            width = width.max(cx);
            shelf_h = shelf_h.max(hh);
        }
        let hosts_bottom = cy + shelf_h;
        bottom = bottom.max(hosts_bottom);
        // The zone's subnets and routers in rows under its hosts.
        let infra_y = hosts_bottom + ROW * 0.5;
        let per_row = ((width / 110.0) as usize).max(2);
        for (i, (kind, name)) in infra.iter().enumerate() {
            let (x, y) = (
                x0 + 55.0 + (i % per_row) as f64 * 110.0,
                infra_y + (i / per_row) as f64 * ROW,
            );
            bottom = bottom.max(y);
            nodes.push(Node {
                id: format!("{kind}:{name}"),
                kind: kind.clone(),
                name: name.clone(),
                zone: z.clone(),
                host: None,
                namespace: None,
                service: None,
                x,
                y,
            });
        }
        let width = width.max(per_row.min(infra.len()) as f64 * 110.0);
        x0 += width + 120.0;
    }

    // Networks, and the subnets and routers of no zone, at the bottom.
    let net_y = bottom + 2.0 * ROW;
    let mut x = 0.0;
    let mut networks: Vec<Option<&String>> = twin.networks.keys().map(Some).collect();
    networks.push(None);
    for net in networks {
        let subs: Vec<&String> = twin
            .subnets
            .iter()
            .filter(|(_, s)| s.network.as_ref() == net && s.zone.is_none())
            .map(|(n, _)| n)
            .collect();
        if let Some(n) = net {
            nodes.push(Node {
                id: format!("network:{n}"),
                kind: "network".into(),
                name: n.clone(),
                zone: None,
                host: None,
                namespace: None,
                service: None,
                x: x + (subs.len().max(1) - 1) as f64 * COL / 2.0,
                y: net_y,
            });
        }
        for s in &subs {
            nodes.push(Node {
                id: format!("subnet:{s}"),
                kind: "subnet".into(),
                name: (*s).clone(),
                zone: None,
                host: None,
                namespace: None,
                service: None,
                x,
                y: net_y + ROW * 1.5,
            });
            x += COL;
        }
        if subs.is_empty() && net.is_some() {
            x += COL;
        }
    }
    for (k, r) in twin
        .routers
        .iter()
        .filter(|(_, r)| r.zone.is_none())
        .map(|(n, _)| n)
        .enumerate()
    {
        nodes.push(Node {
            id: format!("router:{r}"),
            kind: "router".into(),
            name: r.clone(),
            zone: None,
            host: None,
            namespace: None,
            service: None,
            x: k as f64 * COL,
            y: net_y + ROW * 3.0,
        });
    }

    // The model graph's structural edges between the nodes kept.
    let kept: std::collections::HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    for e in &g.edges {
        let kind = match e.kind {
            EdgeKind::RunsOn => "runs-on",
            EdgeKind::PartOf => "part-of",
            EdgeKind::In => "in",
            EdgeKind::Link => "link",
            _ => continue,
        };
        if kept.contains(e.from.as_str())
            && kept.contains(e.to.as_str())
            && seen.insert((e.from.clone(), e.to.clone(), kind))
        {
            edges.push(Edge {
                source: e.from.clone(),
                target: e.to.clone(),
                kind: kind.into(),
                weight: e.weight.filter(|_| kind == "link"),
            });
        }
    }
    let mut counts = BTreeMap::new();
    for n in &nodes {
        *counts.entry(n.kind.clone()).or_insert(0) += 1;
    }
    Topology {
        nodes,
        edges,
        counts,
        zones: twin
            .zones
            .iter()
            .map(|(n, z)| (n.clone(), z.region.clone()))
            .collect(),
    }
}

fn instance(
    twin: &Twin,
    name: &str,
    service: &str,
    zone: Option<String>,
    host: Option<String>,
    x: f64,
    y: f64,
) -> Node {
    Node {
        id: format!("instance:{name}"),
        kind: "instance".into(),
        name: name.to_string(),
        zone,
        host,
        namespace: twin.services.get(service).and_then(|s| s.namespace.clone()),
        service: Some(service.to_string()),
        x,
        y,
    }
}

/// The longest call chain reaching each service from a service nobody calls (0 for those).
/// Cycles (which validation refuses for calls that always happen, but which probabilistic
/// calls may form) are cut by bounding the depth by the number of services.
fn call_depths(
    names: &[&String],
    calls: &BTreeMap<(String, String), f64>,
) -> HashMap<String, usize> {
    let mut depth: HashMap<String, usize> = names.iter().map(|n| ((*n).clone(), 0)).collect();
    let limit = names.len();
    // Bellman-Ford style relaxation: at most `limit` rounds.
    for _ in 0..limit {
        let mut changed = false;
        for (a, b) in calls.keys() {
            let da = depth.get(a).copied().unwrap_or(0);
            let db = depth.get(b).copied().unwrap_or(0);
            if da + 1 > db && da < limit {
                depth.insert(b.clone(), da + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twin(yaml: &str) -> Twin {
        let l = doppel_model::load_str("t.yaml", yaml);
        let errors: Vec<String> = l.errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:?}");
        l.twin
    }

    const TWIN: &str = r"
zones: {a: {}, b: {}}
hosts:
  h1: {zone: a, cores: 4}
  h2: {zone: b, cores: 4}
services:
  web:
    replicas: 2
    placement: {hosts: [h1, h2]}
    endpoints:
      home:
        service_time: {dist: exponential, mean: 5ms}
        calls: [{service: db, endpoint: q, count: 2}, {service: cache}]
  cache:
    endpoints: {get: {service_time: {dist: exponential, mean: 1ms}}}
  db:
    placement: {zones: [b]}
    endpoints: {q: {service_time: {dist: exponential, mean: 2ms}}}
workloads:
  users:
    open: {rate: 10/s}
    flow: {steps: {home: {service: web}}}
";

    #[test]
    fn nodes_edges_and_groups_follow_the_twin() {
        let t = of(&twin(TWIN));
        let count = |k: &str| t.counts.get(k).copied().unwrap_or(0);
        // 3 services, 2 + 1 + 1 instances, 2 hosts.
        assert_eq!(
            (count("service"), count("instance"), count("host")),
            (3, 4, 2)
        );
        let calls: Vec<(&str, &str, f64)> = t
            .edges
            .iter()
            .filter(|e| e.kind == "calls")
            .map(|e| {
                (
                    e.source.as_str(),
                    e.target.as_str(),
                    e.weight.unwrap_or(0.0),
                )
            })
            .collect();
        assert_eq!(
            calls,
            vec![
                ("service:web", "service:cache", 1.0),
                ("service:web", "service:db", 2.0)
            ]
        );
        let node = |id: &str| t.nodes.iter().find(|n| n.id == id).expect(id);
        let w1 = node("instance:web/web-1");
        assert_eq!(
            (w1.zone.as_deref(), w1.host.as_deref()),
            (Some("b"), Some("h2"))
        );
        assert_eq!(node("instance:db/db-0").zone.as_deref(), Some("b"));
        // Callers left of callees; instances below the services band.
        assert!(node("service:web").x < node("service:db").x);
        assert!(w1.y > node("service:db").y);
        // Every edge joins two nodes that exist.
        for e in &t.edges {
            assert!(t.nodes.iter().any(|n| n.id == e.source), "{e:?}");
            assert!(t.nodes.iter().any(|n| n.id == e.target), "{e:?}");
        }
        // No two nodes share a position.
        let mut pos: Vec<(i64, i64)> = t.nodes.iter().map(|n| (n.x as i64, n.y as i64)).collect();
        pos.sort_unstable();
        pos.dedup();
        assert_eq!(pos.len(), t.nodes.len());
    }
}

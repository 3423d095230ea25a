//! The twin as a typed graph: every entity a node with its stable id, every relation an edge
//! (placement, containment, calls, links, protection, credentials). Exported as Graphviz DOT
//! or JSON by `doppel graph`, and the shape other crates walk.

use serde::Serialize;

use crate::ids::{EntityId, Kind, Peer};
use crate::twin::Twin;

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// The source lies inside the target (zone in region, host in zone, subnet in network...).
    In,
    /// A service instance runs on a host.
    RunsOn,
    /// An instance belongs to a service; an endpoint is offered by a service.
    PartOf,
    /// An endpoint calls another endpoint.
    Calls,
    /// A workload starts at an endpoint, or a flow moves to an endpoint.
    Visits,
    /// A network link between routers.
    Link,
    /// A security group guards a host or service.
    Guards,
    /// A credential is stored on an entity.
    StoredOn,
    /// A credential grants access to an entity.
    Unlocks,
    /// An SLO judges a workload or service.
    Judges,
}

/// A node: an entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Stable id, `kind:name`.
    pub id: String,
    /// Kind of entity.
    pub kind: String,
    /// Name within its kind.
    pub name: String,
}

/// A directed, typed relation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// What the relation is.
    pub kind: EdgeKind,
    /// Expected traversals per visit of the source, for calls and flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// The twin's graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Graph {
    /// Entities, in model order.
    pub nodes: Vec<Node>,
    /// Relations, in model order.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Builds the graph of a twin. References to missing entities are skipped (validation
    /// reports them).
    pub fn of(twin: &Twin) -> Graph {
        let mut g = Graph::default();
        let node = |g: &mut Graph, kind: Kind, name: &str| {
            let id = EntityId::new(kind, name);
            g.nodes.push(Node {
                id: id.to_string(),
                kind: kind.to_string(),
                name: name.to_owned(),
            });
        };
        let edge =
            |g: &mut Graph, from: EntityId, to: EntityId, kind: EdgeKind, weight: Option<f64>| {
                g.edges.push(Edge {
                    from: from.to_string(),
                    to: to.to_string(),
                    kind,
                    weight,
                });
            };
        let id = |k: Kind, n: &str| EntityId::new(k, n);
        for n in twin.regions.keys() {
            node(&mut g, Kind::Region, n);
        }
        for (n, z) in &twin.zones {
            node(&mut g, Kind::Zone, n);
            if let Some(r) = &z.region {
                edge(
                    &mut g,
                    id(Kind::Zone, n),
                    id(Kind::Region, r),
                    EdgeKind::In,
                    None,
                );
            }
        }
        for (n, r) in &twin.racks {
            node(&mut g, Kind::Rack, n);
            edge(
                &mut g,
                id(Kind::Rack, n),
                id(Kind::Zone, &r.zone),
                EdgeKind::In,
                None,
            );
        }
        for n in twin.clusters.keys() {
            node(&mut g, Kind::Cluster, n);
        }
        for (n, h) in &twin.hosts {
            node(&mut g, Kind::Host, n);
            let parents = [
                h.rack
                    .as_ref()
                    .map(|r| id(Kind::Rack, r))
                    .or_else(|| h.zone.as_ref().map(|z| id(Kind::Zone, z))),
                h.cluster.as_ref().map(|c| id(Kind::Cluster, c)),
                h.subnet.as_ref().map(|s| id(Kind::Subnet, s)),
            ];
            for p in parents.into_iter().flatten() {
                edge(&mut g, id(Kind::Host, n), p, EdgeKind::In, None);
            }
            for sg in &h.security_groups {
                edge(
                    &mut g,
                    id(Kind::SecurityGroup, sg),
                    id(Kind::Host, n),
                    EdgeKind::Guards,
                    None,
                );
            }
        }
        for (n, net) in &twin.networks {
            node(&mut g, Kind::Network, n);
            if let Some(r) = &net.region {
                edge(
                    &mut g,
                    id(Kind::Network, n),
                    id(Kind::Region, r),
                    EdgeKind::In,
                    None,
                );
            }
        }
        for (n, s) in &twin.subnets {
            node(&mut g, Kind::Subnet, n);
            if let Some(net) = &s.network {
                edge(
                    &mut g,
                    id(Kind::Subnet, n),
                    id(Kind::Network, net),
                    EdgeKind::In,
                    None,
                );
            }
        }
        for (n, r) in &twin.routers {
            node(&mut g, Kind::Router, n);
            if let Some(z) = &r.zone {
                edge(
                    &mut g,
                    id(Kind::Router, n),
                    id(Kind::Zone, z),
                    EdgeKind::In,
                    None,
                );
            }
        }
        for l in twin.links.values() {
            edge(
                &mut g,
                id(Kind::Router, &l.from),
                id(Kind::Router, &l.to),
                EdgeKind::Link,
                Some(l.cost),
            );
        }
        for n in twin.security_groups.keys() {
            node(&mut g, Kind::SecurityGroup, n);
        }
        for n in twin.network_policies.keys() {
            node(&mut g, Kind::NetworkPolicy, n);
        }
        for (s, svc) in &twin.services {
            node(&mut g, Kind::Service, s);
            for sg in &svc.security_groups {
                edge(
                    &mut g,
                    id(Kind::SecurityGroup, sg),
                    id(Kind::Service, s),
                    EdgeKind::Guards,
                    None,
                );
            }
            for inst in twin.placed_instances(s, svc) {
                let iname = format!("{s}/{}", inst.name);
                node(&mut g, Kind::Instance, &iname);
                edge(
                    &mut g,
                    id(Kind::Instance, &iname),
                    id(Kind::Service, s),
                    EdgeKind::PartOf,
                    None,
                );
                if let Some(h) = &inst.host {
                    edge(
                        &mut g,
                        id(Kind::Instance, &iname),
                        id(Kind::Host, h),
                        EdgeKind::RunsOn,
                        None,
                    );
                } else if let Some(z) = &inst.zone {
                    edge(
                        &mut g,
                        id(Kind::Instance, &iname),
                        id(Kind::Zone, z),
                        EdgeKind::In,
                        None,
                    );
                }
            }
            for (e, ep) in &svc.endpoints {
                let eid = EntityId::endpoint(s, e);
                node(&mut g, Kind::Endpoint, &eid.name);
                edge(
                    &mut g,
                    eid.clone(),
                    id(Kind::Service, s),
                    EdgeKind::PartOf,
                    None,
                );
                for step in &ep.calls {
                    for call in step.calls() {
                        if let Ok(target) =
                            twin.resolve_endpoint(&call.service, call.endpoint.as_deref())
                        {
                            let w = call.probability * f64::from(call.count);
                            edge(
                                &mut g,
                                eid.clone(),
                                EntityId::endpoint(&call.service, target),
                                EdgeKind::Calls,
                                Some(w),
                            );
                        }
                    }
                }
            }
        }
        for (w, wl) in &twin.workloads {
            node(&mut g, Kind::Workload, w);
            let start = wl
                .flow
                .start
                .clone()
                .or_else(|| wl.flow.steps.keys().next().cloned());
            for (sname, step) in &wl.flow.steps {
                let Ok(target) = twin.resolve_endpoint(&step.service, step.endpoint.as_deref())
                else {
                    continue;
                };
                if start.as_deref() == Some(sname.as_str()) {
                    edge(
                        &mut g,
                        id(Kind::Workload, w),
                        EntityId::endpoint(&step.service, target),
                        EdgeKind::Visits,
                        Some(1.0),
                    );
                }
            }
        }
        for (n, slo) in &twin.slos {
            node(&mut g, Kind::Slo, n);
            if let Some(w) = &slo.workload {
                edge(
                    &mut g,
                    id(Kind::Slo, n),
                    id(Kind::Workload, w),
                    EdgeKind::Judges,
                    None,
                );
            } else if let Some(s) = &slo.service {
                edge(
                    &mut g,
                    id(Kind::Slo, n),
                    id(Kind::Service, s),
                    EdgeKind::Judges,
                    None,
                );
            }
        }
        for (n, cred) in &twin.credentials {
            node(&mut g, Kind::Credential, n);
            for (list, kind) in [
                (&cred.stored_on, EdgeKind::StoredOn),
                (&cred.unlocks, EdgeKind::Unlocks),
            ] {
                for target in list {
                    if let Ok(Peer::Entity(t)) = Peer::parse(target) {
                        edge(&mut g, id(Kind::Credential, n), t, kind, None);
                    }
                }
            }
        }
        g
    }

    /// Graphviz DOT, one cluster per zone for hosts and instances.
    pub fn to_dot(&self, name: &str) -> String {
        let mut out = format!(
            "digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n",
            quote(name)
        );
        for n in &self.nodes {
            let shape = match n.kind.as_str() {
                "service" => "box, style=\"rounded,filled\", fillcolor=\"#dbeafe\"",
                "endpoint" => "ellipse",
                "host" => "box3d",
                "instance" => "component",
                "zone" | "region" | "rack" | "cluster" => "tab",
                "workload" => "cds, style=filled, fillcolor=\"#fef3c7\"",
                "router" => "diamond",
                "security-group" | "network-policy" => "octagon",
                "credential" => "note",
                "slo" => "doubleoctagon",
                _ => "box",
            };
            out.push_str(&format!(
                "  {} [label=\"{}\\n{}\", shape={shape}];\n",
                quote(&n.id),
                escape(&n.kind),
                escape(&n.name)
            ));
        }
        for e in &self.edges {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let label = match e.weight {
                Some(w) if e.kind != EdgeKind::Link && w != 1.0 => format!("{kind} ×{w}"),
                Some(w) if e.kind == EdgeKind::Link => format!("cost {w}"),
                _ => kind,
            };
            let style = match e.kind {
                EdgeKind::Calls | EdgeKind::Visits => "",
                EdgeKind::Link => ", dir=none, penwidth=2",
                _ => ", style=dashed, color=gray40",
            };
            out.push_str(&format!(
                "  {} -> {} [label={}{style}];\n",
                quote(&e.from),
                quote(&e.to),
                quote(&label)
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// Escapes text for a DOT string literal.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A DOT string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// Tarjan's strongly connected components, iterative so deep graphs cannot overflow the stack.
/// `edges[v]` lists node `v`'s out-edges, `target` gives an edge's head. Components come out
/// in a deterministic order (reverse topological), members ascending.
pub fn strongly_connected<E>(edges: &[Vec<E>], target: impl Fn(&E) -> usize) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            if *ei == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(w) = edges[v].get(*ei).map(&target) {
                *ei += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.sort_unstable();
                out.push(comp);
            }
        }
    }
    out
}

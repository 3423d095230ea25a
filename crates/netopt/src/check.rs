//! The independent check every routing goes through before anyone reads its MLU.
//!
//! LP solvers (and heuristics) can hand back flows that do not do what their objective claims:
//! on badly scaled data an interior-point or simplex code may stop "optimal" with demands half
//! routed. So nothing here trusts a solver: link loads are recomputed from the flows, flow
//! conservation is checked at every node for every aggregated commodity, every demand must be
//! carried in full, nothing may cross a failed arc, and the MLU reported is the one of the
//! recomputed loads. [`lower_bound`] gives, from any non-negative arc lengths (an LP's duals),
//! a bound no routing can beat, so an optimum can be certified without trusting the solver.

use crate::network::{Network, TrafficMatrix};
use crate::paths::{Path, PathSet, distances_from, is_simple_path};

/// Relative tolerance of the check: residuals are compared to the demand they concern.
pub const TOLERANCE: f64 = 1e-6;

/// How a routing carries the traffic.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// Rates on explicit paths: (source, destination, path, bit/s).
    Paths(Vec<PathFlow>),
    /// Per source node, the bit/s it sends over each arc (all its destinations together).
    BySource(Vec<(usize, Vec<f64>)>),
    /// Per destination node, the bit/s headed there on each arc (all sources together).
    ByDestination(Vec<(usize, Vec<f64>)>),
}

/// Traffic of one pair on one path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathFlow {
    /// Source node.
    pub src: usize,
    /// Destination node.
    pub dst: usize,
    /// Arcs, in order.
    pub path: Path,
    /// Rate, bit/s.
    pub rate: f64,
}

/// What the check found wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// A flow below zero.
    #[error("negative flow {value} on arc {arc}")]
    Negative {
        /// Arc index (or path's first arc).
        arc: usize,
        /// Value, bit/s.
        value: f64,
    },
    /// Traffic on an arc that is down.
    #[error("{value} bit/s cross arc {arc}, which is down")]
    DownArc {
        /// Arc index.
        arc: usize,
        /// Value, bit/s.
        value: f64,
    },
    /// A path that is not a simple path between its ends.
    #[error("path for {src} -> {dst} is not a simple path between them")]
    BadPath {
        /// Source.
        src: usize,
        /// Destination.
        dst: usize,
    },
    /// Flow appears or vanishes at a node.
    #[error(
        "flow conservation fails at node {node} for the traffic of {root}: residual {residual} bit/s"
    )]
    Conservation {
        /// The node.
        node: usize,
        /// The commodity's source (or destination) node.
        root: usize,
        /// Out minus in minus supply, bit/s.
        residual: f64,
    },
    /// A demand not carried in full.
    #[error("demand {src} -> {dst} of {demand} bit/s is carried at {carried} bit/s")]
    Demand {
        /// Source.
        src: usize,
        /// Destination.
        dst: usize,
        /// Offered, bit/s.
        demand: f64,
        /// Carried, bit/s.
        carried: f64,
    },
    /// An arc vector of the wrong length.
    #[error("flow vector has {got} entries, the network has {arcs} arcs")]
    Shape {
        /// Entries given.
        got: usize,
        /// Arcs in the network.
        arcs: usize,
    },
}

/// What the check computed from the flows.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Recomputed load of every arc, bit/s.
    pub arc_load: Vec<f64>,
    /// Maximum link utilization of the recomputed loads.
    pub mlu: f64,
    /// The arc where it is reached (None without traffic).
    pub worst_arc: Option<usize>,
    /// Largest conservation or demand residual, relative to the demand it concerns.
    pub max_residual: f64,
}

impl Checked {
    /// Utilization (load / capacity) of every arc.
    pub fn utilization(&self, net: &Network) -> Vec<f64> {
        self.arc_load
            .iter()
            .zip(net.arcs())
            .map(|(l, a)| l / a.capacity)
            .collect()
    }
}

fn tol(scale: f64) -> f64 {
    TOLERANCE * scale.max(f64::MIN_POSITIVE)
}

/// Checks that `flow` carries `tm` over `net` and recomputes the loads and the MLU.
pub fn verify(net: &Network, tm: &TrafficMatrix, flow: &Flow) -> Result<Checked, CheckError> {
    let m = net.arcs().len();
    let n = net.node_count();
    let mut load = vec![0.0; m];
    let mut max_residual: f64 = 0.0;
    let max_demand = tm.demands().iter().map(|d| d.rate).fold(0.0, f64::max);
    match flow {
        Flow::Paths(pfs) => {
            let mut carried = std::collections::HashMap::new();
            for pf in pfs {
                if pf.rate < -tol(max_demand) {
                    return Err(CheckError::Negative {
                        arc: pf.path.first().copied().unwrap_or(0),
                        value: pf.rate,
                    });
                }
                if !is_simple_path(net, &pf.path, pf.src, pf.dst) {
                    return Err(CheckError::BadPath {
                        src: pf.src,
                        dst: pf.dst,
                    });
                }
                let r = pf.rate.max(0.0);
                for &a in &pf.path {
                    load[a] += r;
                }
                *carried.entry((pf.src, pf.dst)).or_insert(0.0) += r;
            }
            for d in tm.demands() {
                let c = carried.remove(&(d.src, d.dst)).unwrap_or(0.0);
                let res = (c - d.rate).abs();
                if res > tol(d.rate) {
                    return Err(CheckError::Demand {
                        src: d.src,
                        dst: d.dst,
                        demand: d.rate,
                        carried: c,
                    });
                }
                max_residual = max_residual.max(res / d.rate);
            }
            // Traffic for pairs that demand nothing.
            if let Some(((s, t), c)) = carried.into_iter().find(|(_, c)| *c > tol(max_demand)) {
                return Err(CheckError::Demand {
                    src: s,
                    dst: t,
                    demand: 0.0,
                    carried: c,
                });
            }
        }
        Flow::BySource(per) | Flow::ByDestination(per) => {
            let by_source = matches!(flow, Flow::BySource(_));
            for (root, f) in per {
                if f.len() != m {
                    return Err(CheckError::Shape {
                        got: f.len(),
                        arcs: m,
                    });
                }
                // supply[v]: what v injects (positive) or absorbs (negative).
                let mut supply = vec![0.0; n];
                for d in tm.demands() {
                    let root_of = if by_source { d.src } else { d.dst };
                    if root_of == *root {
                        supply[d.src] += d.rate;
                        supply[d.dst] -= d.rate;
                    }
                }
                let scale = supply.iter().map(|s| s.abs()).fold(0.0, f64::max);
                let mut net_out = vec![0.0; n];
                for (a, &x) in f.iter().enumerate() {
                    if x < -tol(scale) {
                        return Err(CheckError::Negative { arc: a, value: x });
                    }
                    let x = x.max(0.0);
                    let arc = &net.arcs()[a];
                    net_out[arc.from] += x;
                    net_out[arc.to] -= x;
                    load[a] += x;
                }
                for v in 0..n {
                    let res = net_out[v] - supply[v];
                    if res.abs() > tol(scale) {
                        return Err(CheckError::Conservation {
                            node: v,
                            root: *root,
                            residual: res,
                        });
                    }
                    if scale > 0.0 {
                        max_residual = max_residual.max(res.abs() / scale);
                    }
                }
            }
            // Every demand must belong to one of the commodities listed.
            for d in tm.demands() {
                let root = if by_source { d.src } else { d.dst };
                if !per.iter().any(|(r, _)| *r == root) {
                    return Err(CheckError::Demand {
                        src: d.src,
                        dst: d.dst,
                        demand: d.rate,
                        carried: 0.0,
                    });
                }
            }
        }
    }
    let mut mlu = 0.0;
    let mut worst = None;
    for (a, arc) in net.arcs().iter().enumerate() {
        if !arc.up {
            if load[a] > tol(max_demand) {
                return Err(CheckError::DownArc {
                    arc: a,
                    value: load[a],
                });
            }
            continue;
        }
        let u = load[a] / arc.capacity;
        if u > mlu {
            mlu = u;
            worst = Some(a);
        }
    }
    Ok(Checked {
        arc_load: load,
        mlu,
        worst_arc: worst,
        max_residual,
    })
}

/// A lower bound on the MLU of any routing of `tm` over `net` (over `paths` only, when given),
/// from non-negative arc lengths `y`: every routing with MLU `U` has
/// `Σ_e y_e·load_e ≤ U·Σ_e y_e·c_e`, and `Σ_e y_e·load_e ≥ Σ_k d_k·dist_y(k)`.
/// With an LP's optimal duals as `y` the bound equals the optimum (strong duality), so an
/// optimum can be certified without trusting the solver. Returns 0 when `y` is all zero.
pub fn lower_bound(net: &Network, tm: &TrafficMatrix, y: &[f64], paths: Option<&PathSet>) -> f64 {
    let y: Vec<f64> = y
        .iter()
        .zip(net.arcs())
        .map(|(v, a)| if a.up && v.is_finite() { v.abs() } else { 0.0 })
        .collect();
    let denom: f64 = y.iter().zip(net.arcs()).map(|(v, a)| v * a.capacity).sum();
    if denom <= 0.0 || y.len() != net.arcs().len() {
        return 0.0;
    }
    let mut num = 0.0;
    match paths {
        Some(ps) => {
            for d in tm.demands() {
                let best = ps
                    .of(d.src, d.dst)
                    .iter()
                    .filter(|p| p.iter().all(|&a| net.arcs()[a].up))
                    .map(|p| p.iter().map(|&a| y[a]).sum::<f64>())
                    .fold(f64::INFINITY, f64::min);
                if best.is_finite() {
                    num += d.rate * best;
                }
            }
        }
        None => {
            let mut sources: Vec<usize> = tm.demands().iter().map(|d| d.src).collect();
            sources.sort_unstable();
            sources.dedup();
            for s in sources {
                let dist = distances_from(net, s, &y);
                for d in tm.demands().iter().filter(|d| d.src == s) {
                    if dist[d.dst].is_finite() {
                        num += d.rate * dist[d.dst];
                    }
                }
            }
        }
    }
    num / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Network {
        // a -> b -> c, capacities 10 and 5.
        let mut net = Network::new();
        for n in ["a", "b", "c"] {
            net.add_node(n).unwrap();
        }
        net.add_simple_link(
            "ab",
            0,
            1,
            crate::LinkProps {
                capacity: 10.0,
                latency: 0.0,
                weight: 1.0,
            },
            true,
        )
        .unwrap();
        net.add_simple_link(
            "bc",
            1,
            2,
            crate::LinkProps {
                capacity: 5.0,
                latency: 0.0,
                weight: 1.0,
            },
            true,
        )
        .unwrap();
        net
    }

    fn tm() -> TrafficMatrix {
        let mut tm = TrafficMatrix::new(3);
        tm.add(0, 2, 4.0).unwrap();
        tm
    }

    #[test]
    fn good_flows_pass_and_give_the_hand_computed_mlu() {
        let net = line();
        let f = Flow::BySource(vec![(0, vec![4.0, 4.0])]);
        let c = verify(&net, &tm(), &f).unwrap();
        assert_eq!(c.arc_load, vec![4.0, 4.0]);
        assert!((c.mlu - 0.8).abs() < 1e-12);
        assert_eq!(c.worst_arc, Some(1));
        let p = Flow::Paths(vec![PathFlow {
            src: 0,
            dst: 2,
            path: vec![0, 1],
            rate: 4.0,
        }]);
        assert!((verify(&net, &tm(), &p).unwrap().mlu - 0.8).abs() < 1e-12);
        // Lengths 1 on bc only: bound = 4·1 / (1·5) = 0.8, the optimum.
        assert!((lower_bound(&net, &tm(), &[0.0, 1.0], None) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn broken_flows_are_caught() {
        let net = line();
        let leak = Flow::BySource(vec![(0, vec![4.0, 3.0])]);
        assert!(matches!(
            verify(&net, &tm(), &leak),
            Err(CheckError::Conservation { node: 1, .. })
        ));
        let short = Flow::Paths(vec![PathFlow {
            src: 0,
            dst: 2,
            path: vec![0, 1],
            rate: 3.0,
        }]);
        assert!(matches!(
            verify(&net, &tm(), &short),
            Err(CheckError::Demand { .. })
        ));
        let wrong_path = Flow::Paths(vec![PathFlow {
            src: 0,
            dst: 2,
            path: vec![1],
            rate: 4.0,
        }]);
        assert!(matches!(
            verify(&net, &tm(), &wrong_path),
            Err(CheckError::BadPath { .. })
        ));
        let down = net.with_links_down(&[1]);
        let f = Flow::BySource(vec![(0, vec![4.0, 4.0])]);
        assert!(matches!(
            verify(&down, &tm(), &f),
            Err(CheckError::DownArc { arc: 1, .. })
        ));
        assert!(matches!(
            verify(&net, &tm(), &Flow::BySource(vec![])),
            Err(CheckError::Demand { .. })
        ));
    }
}

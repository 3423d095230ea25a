//! Failure analysis: the MLU after re-routing around every single link (or node) failure,
//! worst first.
//!
//! How traffic re-routes depends on the network: an IGP network re-converges on shortest
//! paths with the same weights ([`Reroute::Ecmp`]); a tunnel-based TE network moves traffic
//! to the surviving tunnels of each pair and re-optimizes their splits
//! ([`Reroute::Tunnels`]); [`Reroute::Optimal`] re-solves the edge LP, the best any routing
//! could do. Demands a failure disconnects (or whose tunnels all fail) are "stranded": they
//! are reported and left out of the MLU. Every routing goes through the independent check,
//! which refuses flow on a failed arc.

use crate::check::CheckError;
use crate::igp::{IgpError, ecmp};
use crate::lp::{LpError, min_mlu_edges, min_mlu_paths, unreachable_demands};
use crate::network::{Network, TrafficMatrix};
use crate::paths::PathSet;
use crate::solution::Solution;

/// How traffic is re-routed after a failure.
#[derive(Debug, Clone, Copy)]
pub enum Reroute<'a> {
    /// Shortest paths with ECMP under these weights (one per arc).
    Ecmp(&'a [f64]),
    /// Min-MLU split over the surviving candidate paths.
    Tunnels(&'a PathSet),
    /// The optimal routing over all surviving paths (edge LP).
    Optimal,
}

/// Why an analysis could not be completed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureError {
    /// An LP failed.
    #[error("failure of {what}: {source}")]
    Lp {
        /// The failed element.
        what: String,
        /// The error.
        source: LpError,
    },
    /// ECMP routing failed.
    #[error("failure of {what}: {source}")]
    Igp {
        /// The failed element.
        what: String,
        /// The error.
        source: IgpError,
    },
    /// A routing failed the check.
    #[error("failure of {what}: {source}")]
    Check {
        /// The failed element.
        what: String,
        /// The error.
        source: CheckError,
    },
}

/// What one failure does.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureCase {
    /// What failed: a link name, or `node NAME`.
    pub what: String,
    /// The failed links.
    pub links: Vec<usize>,
    /// MLU of the traffic still carried, after re-routing.
    pub mlu: f64,
    /// The arc at that MLU.
    pub worst_arc: Option<usize>,
    /// Demands that can no longer be carried: (source, destination, bit/s).
    pub stranded: Vec<(usize, usize, f64)>,
    /// The routing after the failure.
    pub solution: Solution,
}

impl FailureCase {
    /// Total stranded traffic, bit/s.
    pub fn stranded_rate(&self) -> f64 {
        self.stranded.iter().map(|s| s.2).sum()
    }
}

/// Every case, worst first: most stranded traffic, then highest MLU.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureReport {
    /// The cases.
    pub cases: Vec<FailureCase>,
}

impl FailureReport {
    /// The worst case, if any.
    pub fn worst(&self) -> Option<&FailureCase> {
        self.cases.first()
    }
}

/// The traffic of `tm` that `down` can still carry under `how`, and the stranded rest.
fn split_stranded(
    down: &Network,
    tm: &TrafficMatrix,
    how: Reroute<'_>,
) -> (TrafficMatrix, Vec<(usize, usize, f64)>) {
    let cut: Vec<(usize, usize)> = match how {
        Reroute::Tunnels(ps) => {
            let alive = ps.surviving(down);
            tm.demands()
                .iter()
                .filter(|d| alive.of(d.src, d.dst).is_empty())
                .map(|d| (d.src, d.dst))
                .collect()
        }
        _ => unreachable_demands(down, tm),
    };
    let mut left = TrafficMatrix::new(tm.node_count());
    let mut stranded = Vec::new();
    for d in tm.demands() {
        if cut.contains(&(d.src, d.dst)) {
            stranded.push((d.src, d.dst, d.rate));
        } else {
            // Rates come from a valid matrix, so adding them back cannot fail.
            let _ = left.add(d.src, d.dst, d.rate);
        }
    }
    (left, stranded)
}

/// Routes `tm` over `net` (some links down) the way `how` says.
pub fn route(
    net: &Network,
    tm: &TrafficMatrix,
    how: Reroute<'_>,
    what: &str,
) -> Result<Solution, FailureError> {
    let w = |source| FailureError::Lp {
        what: what.to_owned(),
        source,
    };
    match how {
        Reroute::Ecmp(weights) => ecmp(net, tm, weights).map_err(|source| FailureError::Igp {
            what: what.to_owned(),
            source,
        }),
        Reroute::Tunnels(ps) => min_mlu_paths(net, tm, ps).map_err(w),
        Reroute::Optimal => min_mlu_edges(net, tm).map_err(w),
    }
}

fn analyse(
    net: &Network,
    tm: &TrafficMatrix,
    how: Reroute<'_>,
    scenarios: Vec<(String, Vec<usize>)>,
) -> Result<FailureReport, FailureError> {
    let mut cases = Vec::with_capacity(scenarios.len());
    for (what, links) in scenarios {
        let down = net.with_links_down(&links);
        let (left, stranded) = split_stranded(&down, tm, how);
        let solution = route(&down, &left, how, &what)?;
        // The check already refused flow on down arcs; say so explicitly here too.
        if let Some(a) = down
            .arcs()
            .iter()
            .enumerate()
            .find(|(i, a)| !a.up && solution.checked.arc_load[*i] > 0.0)
            .map(|(i, _)| i)
        {
            return Err(FailureError::Check {
                what,
                source: CheckError::DownArc {
                    arc: a,
                    value: solution.checked.arc_load[a],
                },
            });
        }
        cases.push(FailureCase {
            what,
            links,
            mlu: solution.mlu(),
            worst_arc: solution.checked.worst_arc,
            stranded,
            solution,
        });
    }
    cases.sort_by(|a, b| {
        b.stranded_rate()
            .total_cmp(&a.stranded_rate())
            .then(b.mlu.total_cmp(&a.mlu))
            .then(a.what.cmp(&b.what))
    });
    Ok(FailureReport { cases })
}

/// The MLU after every single link failure (both directions of the link fail).
pub fn single_link_failures(
    net: &Network,
    tm: &TrafficMatrix,
    how: Reroute<'_>,
) -> Result<FailureReport, FailureError> {
    let scenarios = (0..net.links().len())
        .filter(|&l| net.link_arcs(l).any(|a| net.arcs()[a].up))
        .map(|l| (net.links()[l].clone(), vec![l]))
        .collect();
    analyse(net, tm, how, scenarios)
}

/// The MLU after every single node failure: all its links fail, and its own traffic is
/// stranded.
pub fn single_node_failures(
    net: &Network,
    tm: &TrafficMatrix,
    how: Reroute<'_>,
) -> Result<FailureReport, FailureError> {
    let scenarios = (0..net.node_count())
        .map(|v| {
            let mut links: Vec<usize> = net
                .arcs()
                .iter()
                .filter(|a| a.from == v || a.to == v)
                .map(|a| a.link)
                .collect();
            links.sort_unstable();
            links.dedup();
            (format!("node {}", net.nodes()[v]), links)
        })
        .collect();
    analyse(net, tm, how, scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::LinkProps;

    /// A ring a-b-c-d-a, capacity 10, weight 1.
    fn ring() -> Network {
        let mut net = Network::new();
        for n in ["a", "b", "c", "d"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y) in [("ab", 0, 1), ("bc", 1, 2), ("cd", 2, 3), ("da", 3, 0)] {
            net.add_simple_link(name, x, y, LinkProps::new(10.0), false)
                .unwrap();
        }
        net
    }

    #[test]
    fn ring_failures_by_hand() {
        // 4 units a->c: two equal paths, 2 each (0.2). Cutting any link forces all 4 onto
        // the other side: 0.4 for every link, under ECMP and the optimum alike.
        let net = ring();
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 2, 4.0).unwrap();
        let w = net.weights();
        for how in [Reroute::Ecmp(&w), Reroute::Optimal] {
            let rep = single_link_failures(&net, &tm, how).unwrap();
            assert_eq!(rep.cases.len(), 4);
            for c in &rep.cases {
                assert!((c.mlu - 0.4).abs() < 1e-7, "{}: {}", c.what, c.mlu);
                assert!(c.stranded.is_empty());
                for a in net.link_arcs(c.links[0]) {
                    assert_eq!(c.solution.checked.arc_load[a], 0.0);
                }
            }
        }
        // Node b fails: a->c still has a-d-c (0.4). Node a or c fails: the demand is
        // stranded; those two come first (ties by name).
        let rep = single_node_failures(&net, &tm, Reroute::Optimal).unwrap();
        let order: Vec<&str> = rep.cases.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(order, ["node a", "node c", "node b", "node d"]);
        assert_eq!(rep.worst().unwrap().stranded, vec![(0, 2, 4.0)]);
        let b = rep.cases.iter().find(|c| c.what == "node b").unwrap();
        assert!((b.mlu - 0.4).abs() < 1e-7);
    }

    #[test]
    fn tunnels_strand_when_all_fail() {
        let net = ring();
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 1, 4.0).unwrap();
        // One tunnel a-b only: failing ab strands the demand even though a-d-c-b exists.
        let ps = PathSet::k_shortest(&net, &tm, 1);
        let rep = single_link_failures(&net, &tm, Reroute::Tunnels(&ps)).unwrap();
        let worst = rep.worst().unwrap();
        assert_eq!(worst.what, "ab");
        assert_eq!(worst.stranded_rate(), 4.0);
        assert_eq!(worst.mlu, 0.0);
    }
}

//! Min-MLU routing over all paths by column generation, warm-started from the previous
//! matrix's paths: the re-optimization the "real time" loop runs when traffic shifts.
//!
//! The restricted master problem is the path-based LP ([`crate::lp::min_mlu_paths`]) over a
//! small pool of paths per demand. Its capacity-row duals `y` price every path of the full
//! network: a demand whose shortest path by `y` is shorter than its best pooled path gets that
//! path as a new column. When no such path exists, `y` is dual feasible for the full problem
//! and [`crate::check::lower_bound`] (computed over all paths, independently of the solver)
//! equals the MLU: the routing is the edge LP's optimum, certified. Interior-point solvers
//! (Clarabel) cannot warm-start a basis, so the warm start is the column pool: the paths that
//! carried traffic for the previous matrix. When the matrix shifts a little, those paths are
//! nearly all the new optimum needs and one or two pricing rounds finish the job.

use crate::check::lower_bound;
use crate::lp::{LpError, min_mlu_paths_with_duals, unreachable_demands};
use crate::network::{Network, TrafficMatrix};
use crate::paths::{PathSet, is_simple_path, path_in_tree, shortest_path, tree_from};
use crate::solution::{Method, Solution};

/// Settings of the column generation.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnOptions {
    /// Stop once the MLU is within this relative distance of the certified lower bound.
    pub tolerance: f64,
    /// Most master problems solved.
    pub max_rounds: usize,
}

impl Default for ColumnOptions {
    fn default() -> Self {
        ColumnOptions {
            tolerance: 1e-6,
            max_rounds: 60,
        }
    }
}

/// A routing by column generation and what it took.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnResult {
    /// The routing; `lower_bound` is over all paths of the network.
    pub solution: Solution,
    /// The paths that carry traffic: the warm start for the next matrix.
    pub columns: PathSet,
    /// Master problems solved.
    pub rounds: usize,
    /// Paths the pool started with (taken from the warm start or the IGP shortest paths).
    pub initial_columns: usize,
    /// Paths added by pricing.
    pub added_columns: usize,
    /// Whether a warm start was given and contributed at least one path.
    pub warm: bool,
}

/// The min-MLU routing of `tm` over all paths of `net` (arcs that are up), starting from the
/// paths of `warm` (e.g. the previous matrix's [`ColumnResult::columns`]) that survive in `net`.
pub fn min_mlu_columns(
    net: &Network,
    tm: &TrafficMatrix,
    warm: Option<&PathSet>,
    opts: &ColumnOptions,
) -> Result<ColumnResult, LpError> {
    if tm.node_count() != net.node_count() {
        return Err(LpError::Size {
            tm: tm.node_count(),
            net: net.node_count(),
        });
    }
    if let Some(&(src, dst)) = unreachable_demands(net, tm).first() {
        return Err(LpError::NoPath { src, dst });
    }
    let weights = net.weights();
    let mut pool = PathSet::default();
    let mut from_warm = 0usize;
    // Once, not per demand: filtering the whole pool is linear in its size.
    let surviving = warm.map(|w| w.surviving(net));
    for d in tm.demands() {
        let reused: Vec<Vec<usize>> = surviving
            .as_ref()
            .map(|w| {
                w.of(d.src, d.dst)
                    .iter()
                    .filter(|p| is_simple_path(net, p, d.src, d.dst))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        from_warm += reused.len();
        let entry = if reused.is_empty() {
            match shortest_path(net, d.src, d.dst, &weights) {
                Some(p) => vec![p],
                None => {
                    return Err(LpError::NoPath {
                        src: d.src,
                        dst: d.dst,
                    });
                }
            }
        } else {
            reused
        };
        pool.paths.insert((d.src, d.dst), entry);
    }
    let initial_columns = pool.paths.values().map(Vec::len).sum();
    let mut added = 0usize;
    let mut rounds = 0usize;
    let mut best_lb: f64 = 0.0;
    let mut sources: Vec<usize> = tm.demands().iter().map(|d| d.src).collect();
    sources.sort_unstable();
    sources.dedup();
    let solution = loop {
        rounds += 1;
        let (mut sol, y) = min_mlu_paths_with_duals(net, tm, &pool)?;
        let y: Vec<f64> = y
            .iter()
            .zip(net.arcs())
            .map(|(v, a)| if a.up && v.is_finite() { v.abs() } else { 0.0 })
            .collect();
        best_lb = best_lb.max(lower_bound(net, tm, &y, None));
        let mlu = sol.mlu();
        if best_lb >= mlu * (1.0 - opts.tolerance) || rounds >= opts.max_rounds {
            sol.lower_bound = Some(best_lb.min(mlu));
            break sol;
        }
        // Price: shortest paths by the duals, ties broken toward fewer hops by a tiny length.
        let ymax = y.iter().copied().fold(0.0, f64::max);
        let eps = ymax.max(f64::MIN_POSITIVE) * 1e-7 / net.node_count().max(1) as f64;
        let lengths: Vec<f64> = y.iter().map(|v| v + eps).collect();
        let mut new_here = 0usize;
        for &s in &sources {
            let (_, pred) = tree_from(net, s, &lengths);
            for d in tm.demands().iter().filter(|d| d.src == s) {
                let Some(p) = path_in_tree(net, &pred, s, d.dst) else {
                    continue;
                };
                let len = |p: &[usize]| p.iter().map(|&a| y[a]).sum::<f64>();
                let entry = pool.paths.entry((d.src, d.dst)).or_default();
                let best = entry.iter().map(|q| len(q)).fold(f64::INFINITY, f64::min);
                if len(&p) < best * (1.0 - 1e-9) - f64::MIN_POSITIVE && !entry.contains(&p) {
                    entry.push(p);
                    new_here += 1;
                }
            }
        }
        added += new_here;
        if new_here == 0 {
            // No path prices out: the duals are as good as they get numerically.
            sol.lower_bound = Some(best_lb.min(mlu));
            break sol;
        }
    };
    let mut solution = solution;
    solution.method = Method::LpColumns;
    let mut columns = PathSet::default();
    if let crate::check::Flow::Paths(pfs) = &solution.flow {
        for pf in pfs {
            if pf.rate > 0.0 {
                let e = columns.paths.entry((pf.src, pf.dst)).or_default();
                if !e.contains(&pf.path) {
                    e.push(pf.path.clone());
                }
            }
        }
    }
    Ok(ColumnResult {
        solution,
        columns,
        rounds,
        initial_columns,
        added_columns: added,
        warm: from_warm > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::LinkProps;

    /// A ladder: two rails a0..a3 and b0..b3 with rungs, capacities varied so the optimum
    /// needs several paths.
    fn ladder() -> Network {
        let mut net = Network::new();
        for i in 0..4 {
            net.add_node(format!("a{i}")).unwrap();
        }
        for i in 0..4 {
            net.add_node(format!("b{i}")).unwrap();
        }
        let mut k = 0;
        let mut link = |net: &mut Network, x: usize, y: usize, cap: f64| {
            net.add_simple_link(format!("l{k}"), x, y, LinkProps::new(cap), false)
                .unwrap();
            k += 1;
        };
        for i in 0..3 {
            link(&mut net, i, i + 1, 10.0 - i as f64);
            link(&mut net, 4 + i, 5 + i, 4.0 + i as f64);
        }
        for i in 0..4 {
            link(&mut net, i, 4 + i, 3.0 + i as f64);
        }
        net
    }

    #[test]
    fn columns_reach_the_edge_optimum_and_warm_start_reuses_paths() {
        let net = ladder();
        let mut tm = TrafficMatrix::new(8);
        tm.add(0, 3, 9.0).unwrap();
        tm.add(4, 7, 5.0).unwrap();
        tm.add(1, 6, 2.0).unwrap();
        let edges = crate::lp::min_mlu_edges(&net, &tm).unwrap();
        let cold = min_mlu_columns(&net, &tm, None, &ColumnOptions::default()).unwrap();
        assert!(
            (cold.solution.mlu() - edges.mlu()).abs() < 1e-6 * edges.mlu(),
            "{} vs {}",
            cold.solution.mlu(),
            edges.mlu()
        );
        assert!(cold.solution.gap().unwrap() < 1e-6);
        assert!(
            cold.added_columns > 0,
            "one shortest path each is not optimal"
        );
        assert!(!cold.warm);
        // The same matrix scaled by 1.1: the optimum scales exactly, and the old paths
        // suffice, so the warm start needs no new column and a single master problem.
        let tm2 = tm.scaled(1.1);
        let warm = min_mlu_columns(&net, &tm2, Some(&cold.columns), &Default::default()).unwrap();
        assert!(warm.warm);
        assert!((warm.solution.mlu() - 1.1 * edges.mlu()).abs() < 1e-6);
        assert_eq!(warm.added_columns, 0);
        assert_eq!(warm.rounds, 1);
    }

    #[test]
    fn warm_paths_over_a_failed_link_are_dropped() {
        let net = ladder();
        let mut tm = TrafficMatrix::new(8);
        tm.add(0, 3, 9.0).unwrap();
        let cold = min_mlu_columns(&net, &tm, None, &Default::default()).unwrap();
        let down = net.with_links_down(&[net.link("l0").unwrap()]);
        let r = min_mlu_columns(&down, &tm, Some(&cold.columns), &Default::default()).unwrap();
        let opt = crate::lp::min_mlu_edges(&down, &tm).unwrap();
        assert!((r.solution.mlu() - opt.mlu()).abs() < 1e-6 * opt.mlu());
        for a in down.link_arcs(0) {
            assert_eq!(r.solution.checked.arc_load[a], 0.0);
        }
    }
}

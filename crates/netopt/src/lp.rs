//! Min-MLU multicommodity flow by linear programming (`good_lp` on the Clarabel solver).
//!
//! Two formulations:
//! - **path-based** ([`min_mlu_paths`]): each demand splits over its candidate paths (k shortest
//!   or given tunnels); variables are split fractions, so they are O(1) whatever the units.
//! - **edge-based** ([`min_mlu_edges`]): flow of each source on each arc with conservation at
//!   every node, the true optimum over all routings (aggregating commodities by source is
//!   exact for this objective).
//!
//! Units are normalised before the solver sees them: capacities and demands are divided by the
//! largest capacity, so coefficients sit in (0, 1] instead of around 1e10 bit/s. Every answer
//! then goes through [`crate::check::verify`] (loads recomputed from the flows, conservation,
//! demands carried), the MLU reported is the recomputed one, and the duals of the capacity rows
//! give an independent lower bound ([`crate::check::lower_bound`]).

use good_lp::{
    Expression, ProblemVariables, Solution as _, SolutionWithDual, SolverModel, Variable, clarabel,
    constraint::ConstraintReference, solvers::DualValues, variable,
};

use crate::check::{CheckError, Flow, PathFlow, lower_bound, verify};
use crate::network::{Network, TrafficMatrix};
use crate::paths::{PathSet, distances_from, is_simple_path};
use crate::solution::{Method, Solution};

/// Why an LP routing could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LpError {
    /// A demand has no candidate path (or none that survives).
    #[error("demand {src} -> {dst} has no usable path")]
    NoPath {
        /// Source node index.
        src: usize,
        /// Destination node index.
        dst: usize,
    },
    /// A candidate path that is not a path between its pair's ends.
    #[error("a candidate path for {src} -> {dst} does not lead from one to the other")]
    BadPath {
        /// Source node index.
        src: usize,
        /// Destination node index.
        dst: usize,
    },
    /// The solver failed.
    #[error("LP solver failed: {0}")]
    Solver(String),
    /// The solver's answer did not pass the independent check.
    #[error("the LP solver returned a routing that fails the check: {0}")]
    Check(#[from] CheckError),
    /// The matrix is for a different number of nodes.
    #[error("traffic matrix has {tm} nodes, the network {net}")]
    Size {
        /// Nodes in the matrix.
        tm: usize,
        /// Nodes in the network.
        net: usize,
    },
}

fn check_size(net: &Network, tm: &TrafficMatrix) -> Result<(), LpError> {
    if tm.node_count() != net.node_count() {
        return Err(LpError::Size {
            tm: tm.node_count(),
            net: net.node_count(),
        });
    }
    Ok(())
}

/// The normalisation factor: the largest capacity of an arc that is up.
fn scale_of(net: &Network) -> f64 {
    net.arcs()
        .iter()
        .filter(|a| a.up)
        .map(|a| a.capacity)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE)
}

fn solver_settings(problem: &mut good_lp::solvers::clarabel::ClarabelProblem) {
    problem
        .settings()
        .tol_gap_abs(1e-10)
        .tol_gap_rel(1e-10)
        .tol_feas(1e-10)
        .max_iter(500);
}

/// Min-MLU routing of `tm` over the candidate `paths` of each demand (paths crossing an arc
/// that is down are dropped first).
pub fn min_mlu_paths(
    net: &Network,
    tm: &TrafficMatrix,
    paths: &PathSet,
) -> Result<Solution, LpError> {
    Ok(min_mlu_paths_with_duals(net, tm, paths)?.0)
}

/// [`min_mlu_paths`], also returning the duals of the capacity rows (one per arc, 0 for arcs
/// no candidate path crosses): the arc prices column generation uses to find better paths.
pub fn min_mlu_paths_with_duals(
    net: &Network,
    tm: &TrafficMatrix,
    paths: &PathSet,
) -> Result<(Solution, Vec<f64>), LpError> {
    check_size(net, tm)?;
    let paths = paths.surviving(net);
    let s = scale_of(net);
    let m = net.arcs().len();
    let mut vars = ProblemVariables::new();
    let u = vars.add(variable().min(0.0));
    // (demand index, path index, variable)
    let mut x: Vec<(usize, usize, Variable)> = Vec::new();
    let mut on_arc: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m];
    for (k, d) in tm.demands().iter().enumerate() {
        let ps = paths.of(d.src, d.dst);
        if ps.is_empty() {
            return Err(LpError::NoPath {
                src: d.src,
                dst: d.dst,
            });
        }
        for (i, p) in ps.iter().enumerate() {
            if !is_simple_path(net, p, d.src, d.dst) {
                return Err(LpError::BadPath {
                    src: d.src,
                    dst: d.dst,
                });
            }
            let v = vars.add(variable().min(0.0));
            x.push((k, i, v));
            for &a in p {
                on_arc[a].push((x.len() - 1, d.rate / s));
            }
        }
    }
    let mut problem = vars.minimise(u).using(clarabel);
    solver_settings(&mut problem);
    let mut start = 0;
    for k in 0..tm.demands().len() {
        let mut sum = Expression::with_capacity(4);
        let mut end = start;
        while end < x.len() && x[end].0 == k {
            sum.add_mul(1.0, x[end].2);
            end += 1;
        }
        problem.add_constraint(sum.eq(1.0));
        start = end;
    }
    let mut rows: Vec<(usize, ConstraintReference)> = Vec::new();
    for (a, terms) in on_arc.iter().enumerate() {
        if terms.is_empty() {
            continue;
        }
        let mut e = Expression::with_capacity(terms.len() + 1);
        for &(j, coef) in terms {
            e.add_mul(coef, x[j].2);
        }
        e.add_mul(-net.arcs()[a].capacity / s, u);
        rows.push((a, problem.add_constraint(e.leq(0.0))));
    }
    let mut sol = problem
        .solve()
        .map_err(|e| LpError::Solver(e.to_string()))?;
    let claimed = sol.value(u);
    let mut frac: Vec<f64> = x.iter().map(|&(_, _, v)| sol.value(v).max(0.0)).collect();
    let duals = sol.compute_dual();
    let mut y = vec![0.0; m];
    for (a, r) in rows {
        y[a] = duals.dual(r);
    }
    // Split ratios must sum to one: renormalise what the interior-point method left at 1±ε.
    let mut flows = Vec::with_capacity(x.len());
    let mut start = 0;
    while start < x.len() {
        let k = x[start].0;
        let mut end = start;
        while end < x.len() && x[end].0 == k {
            end += 1;
        }
        let total: f64 = frac[start..end].iter().sum();
        if total > 0.0 {
            for f in &mut frac[start..end] {
                *f /= total;
            }
        }
        let d = tm.demands()[k];
        let ps = paths.of(d.src, d.dst);
        for j in start..end {
            if frac[j] > 0.0 {
                flows.push(PathFlow {
                    src: d.src,
                    dst: d.dst,
                    path: ps[x[j].1].clone(),
                    rate: frac[j] * d.rate,
                });
            }
        }
        start = end;
    }
    let flow = Flow::Paths(flows);
    let checked = verify(net, tm, &flow)?;
    let lb = lower_bound(net, tm, &y, Some(&paths));
    let sol = Solution {
        method: Method::LpPaths,
        flow,
        checked,
        claimed_mlu: Some(claimed),
        lower_bound: Some(lb),
    };
    Ok((sol, y))
}

/// The demands of `tm` that `net` cannot carry at all (no path from source to destination
/// over arcs that are up).
pub fn unreachable_demands(net: &Network, tm: &TrafficMatrix) -> Vec<(usize, usize)> {
    let w = vec![1.0; net.arcs().len()];
    let mut out = Vec::new();
    let mut sources: Vec<usize> = tm.demands().iter().map(|d| d.src).collect();
    sources.sort_unstable();
    sources.dedup();
    for s in sources {
        let dist = distances_from(net, s, &w);
        for d in tm.demands().iter().filter(|d| d.src == s) {
            if !dist[d.dst].is_finite() {
                out.push((d.src, d.dst));
            }
        }
    }
    out
}

/// The optimal min-MLU routing of `tm` over all paths of `net` (arcs that are up).
pub fn min_mlu_edges(net: &Network, tm: &TrafficMatrix) -> Result<Solution, LpError> {
    check_size(net, tm)?;
    if let Some(&(src, dst)) = unreachable_demands(net, tm).first() {
        return Err(LpError::NoPath { src, dst });
    }
    let s = scale_of(net);
    let n = net.node_count();
    let m = net.arcs().len();
    let up: Vec<usize> = (0..m).filter(|&a| net.arcs()[a].up).collect();
    let mut sources: Vec<usize> = tm.demands().iter().map(|d| d.src).collect();
    sources.sort_unstable();
    sources.dedup();

    // Each source's flow is measured in units of its own total demand (g = f / D_s), so every
    // commodity's conservation rows are O(1) however small its traffic: with one scale for
    // all, a source sending a few bit/s next to 10 Gbit/s ones drowns in the solver's
    // absolute tolerance (the check below catches exactly that).
    let totals: Vec<f64> = sources
        .iter()
        .map(|&src| {
            tm.demands()
                .iter()
                .filter(|d| d.src == src)
                .map(|d| d.rate)
                .sum()
        })
        .collect();
    let mut vars = ProblemVariables::new();
    let u = vars.add(variable().min(0.0));
    // g[i][j]: share of sources[i]'s traffic on arc up[j].
    let g: Vec<Vec<Variable>> = sources
        .iter()
        .map(|_| vars.add_vector(variable().min(0.0), up.len()))
        .collect();
    let mut problem = vars.minimise(u).using(clarabel);
    solver_settings(&mut problem);
    let mut pos = vec![usize::MAX; m];
    for (j, &a) in up.iter().enumerate() {
        pos[a] = j;
    }
    for (i, &src) in sources.iter().enumerate() {
        let mut supply = vec![0.0; n];
        for d in tm.demands().iter().filter(|d| d.src == src) {
            supply[d.src] += d.rate / totals[i];
            supply[d.dst] -= d.rate / totals[i];
        }
        for (v, &b) in supply.iter().enumerate() {
            // The source's row is implied by the others; leaving it out keeps the system
            // full rank.
            if v == src {
                continue;
            }
            let mut e = Expression::with_capacity(8);
            for a in net.out_arcs(v) {
                e.add_mul(1.0, g[i][pos[a]]);
            }
            for a in net.in_arcs(v) {
                e.add_mul(-1.0, g[i][pos[a]]);
            }
            problem.add_constraint(e.eq(b));
        }
    }
    let mut rows = Vec::with_capacity(up.len());
    for (j, &a) in up.iter().enumerate() {
        let mut e = Expression::with_capacity(sources.len() + 1);
        for (gi, total) in g.iter().zip(&totals) {
            e.add_mul(total / s, gi[j]);
        }
        e.add_mul(-net.arcs()[a].capacity / s, u);
        rows.push((a, problem.add_constraint(e.leq(0.0))));
    }
    let mut sol = problem
        .solve()
        .map_err(|e| LpError::Solver(e.to_string()))?;
    let claimed = sol.value(u);
    let per_source: Vec<(usize, Vec<f64>)> = sources
        .iter()
        .zip(&g)
        .zip(&totals)
        .map(|((&src, gi), total)| {
            let mut v = vec![0.0; m];
            for (j, &a) in up.iter().enumerate() {
                v[a] = sol.value(gi[j]).max(0.0) * total;
            }
            (src, v)
        })
        .collect();
    let duals = sol.compute_dual();
    let mut y = vec![0.0; m];
    for (a, r) in rows {
        y[a] = duals.dual(r);
    }
    // Only the hottest link is priced, so the solver may leave circulations elsewhere; they
    // carry no traffic anywhere and would show as phantom load.
    let mut per_source = per_source;
    for ((_, f), total) in per_source.iter_mut().zip(&totals) {
        cancel_cycles(net, f, total * 1e-12);
    }
    let flow = Flow::BySource(per_source);
    let checked = verify(net, tm, &flow)?;
    let lb = lower_bound(net, tm, &y, None);
    Ok(Solution {
        method: Method::LpEdges,
        flow,
        checked,
        claimed_mlu: Some(claimed),
        lower_bound: Some(lb),
    })
}

/// Removes every directed cycle from the arc flow `f` (cancelling each by its smallest
/// flow), first zeroing flows at or below `eps`. Conservation is unchanged and no load grows.
pub fn cancel_cycles(net: &Network, f: &mut [f64], eps: f64) {
    for x in f.iter_mut() {
        if *x <= eps {
            *x = 0.0;
        }
    }
    let n = net.node_count();
    // Iterative DFS over arcs with flow; a grey head closes a cycle, cancelled at once.
    // Each cancellation zeroes an arc, so there are at most `m` restarts.
    'restart: loop {
        let mut color = vec![0u8; n]; // 0 white, 1 on the stack, 2 done
        let mut via: Vec<Option<usize>> = vec![None; n];
        for root in 0..n {
            if color[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            color[root] = 1;
            while let Some(&mut (v, ref mut next)) = stack.last_mut() {
                let out: Vec<usize> = net.out_arcs(v).filter(|&a| f[a] > 0.0).collect();
                if *next >= out.len() {
                    color[v] = 2;
                    stack.pop();
                    continue;
                }
                let a = out[*next];
                *next += 1;
                let h = net.arcs()[a].to;
                match color[h] {
                    0 => {
                        color[h] = 1;
                        via[h] = Some(a);
                        stack.push((h, 0));
                    }
                    1 => {
                        // Cycle: h -> ... -> v -> h.
                        let mut cycle = vec![a];
                        let mut x = v;
                        while x != h {
                            let Some(b) = via[x] else { break };
                            cycle.push(b);
                            x = net.arcs()[b].from;
                        }
                        let least = cycle.iter().map(|&b| f[b]).fold(f64::INFINITY, f64::min);
                        for &b in &cycle {
                            f[b] -= least;
                            if f[b] <= eps {
                                f[b] = 0.0;
                            }
                        }
                        continue 'restart;
                    }
                    _ => {}
                }
            }
        }
        break;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two parallel routes from a to d: a-b-d (10 units) and a-c-d (5 units), all weight 1.
    fn diamond() -> Network {
        let mut net = Network::new();
        for n in ["a", "b", "c", "d"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y, cap) in [
            ("ab", 0, 1, 10e9),
            ("bd", 1, 3, 10e9),
            ("ac", 0, 2, 5e9),
            ("cd", 2, 3, 5e9),
        ] {
            net.add_simple_link(
                name,
                x,
                y,
                crate::LinkProps {
                    capacity: cap,
                    latency: 0.0,
                    weight: 1.0,
                },
                false,
            )
            .unwrap();
        }
        net
    }

    #[test]
    fn diamond_optimum_splits_in_proportion_to_capacity() {
        // 12 Gbit/s over 15 Gbit/s of cut capacity: the optimum MLU is 12/15 = 0.8, by hand
        // (8 Gbit/s on the wide path, 4 on the narrow one, both at 0.8).
        let net = diamond();
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 12e9).unwrap();
        let edges = min_mlu_edges(&net, &tm).unwrap();
        assert!((edges.mlu() - 0.8).abs() < 1e-7, "{}", edges.mlu());
        assert!(edges.gap().unwrap() < 1e-6);
        let ps = PathSet::k_shortest(&net, &tm, 2);
        let paths = min_mlu_paths(&net, &tm, &ps).unwrap();
        assert!((paths.mlu() - 0.8).abs() < 1e-7);
        assert!(paths.gap().unwrap() < 1e-6);
        // One path only: everything on the first shortest path (a-b-d), MLU 1.2.
        let one = PathSet::k_shortest(&net, &tm, 1);
        let single = min_mlu_paths(&net, &tm, &one).unwrap();
        assert!((single.mlu() - 1.2).abs() < 1e-7);
    }

    #[test]
    fn failure_reroutes_and_disconnection_is_an_error() {
        let net = diamond();
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 3e9).unwrap();
        let down = net.with_links_down(&[net.link("ab").unwrap()]);
        let sol = min_mlu_edges(&down, &tm).unwrap();
        assert!((sol.mlu() - 0.6).abs() < 1e-7);
        let both = net.with_links_down(&[net.link("ab").unwrap(), net.link("cd").unwrap()]);
        assert_eq!(
            min_mlu_edges(&both, &tm).unwrap_err(),
            LpError::NoPath { src: 0, dst: 3 }
        );
    }

    #[test]
    fn no_phantom_load_from_circulations() {
        // Triangle a-b-c with a-b failed: 12 from a to c must all take a-c (capacity 5,
        // MLU 2.4). b-c carries nothing, whatever circulation the solver leaves there.
        let mut net = Network::new();
        for n in ["a", "b", "c"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y, cap) in [("ab", 0, 1, 10.0), ("bc", 1, 2, 10.0), ("ac", 0, 2, 5.0)] {
            net.add_simple_link(name, x, y, crate::LinkProps::new(cap), false)
                .unwrap();
        }
        let down = net.with_links_down(&[0]);
        let mut tm = TrafficMatrix::new(3);
        tm.add(0, 2, 12.0).unwrap();
        let sol = min_mlu_edges(&down, &tm).unwrap();
        assert!((sol.mlu() - 2.4).abs() < 1e-7);
        for a in net.link_arcs(1) {
            assert_eq!(sol.checked.arc_load[a], 0.0);
        }
        // And cancel_cycles itself on a hand-made circulation: 3 around b-c-b, 2 on a-c.
        let mut f = vec![0.0; net.arcs().len()];
        f[net.arc_between(1, 2).unwrap()] = 3.0;
        f[net.arc_between(2, 1).unwrap()] = 3.0;
        f[net.arc_between(0, 2).unwrap()] = 2.0;
        cancel_cycles(&net, &mut f, 0.0);
        assert_eq!(f.iter().sum::<f64>(), 2.0);
    }

    #[test]
    fn tiny_and_huge_demands_together_still_check() {
        // Demands spanning 12 orders of magnitude, as real matrices do.
        let net = diamond();
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 9e9).unwrap();
        tm.add(1, 2, 3.0).unwrap();
        tm.add(3, 0, 1e-3).unwrap();
        let sol = min_mlu_edges(&net, &tm).unwrap();
        assert!((sol.mlu() - 0.6).abs() < 1e-6, "{}", sol.mlu());
    }
}

//! Robust routing: one split of every demand over its candidate paths (tunnels) that keeps the
//! worst MLU low across a set of traffic matrices and, optionally, every single link failure.
//!
//! The LP has one set of capacity rows per matrix. Failures are handled the way tunnel-based
//! networks react to them: the ingress moves a failed tunnel's share onto the pair's surviving
//! tunnels in proportion to their weights. Following Forward Fault Correction (Liu et al.,
//! SIGCOMM 2014), each tunnel gets a weight `y_p ≥ 0` with, for every pair and every single
//! link failure that leaves the pair a tunnel, `Σ_{p survives} y_p ≥ 1`; traffic is split in
//! proportion to the surviving weights, so a tunnel never carries more than `y_p · demand`
//! whatever single link fails, and the capacity rows `Σ demand·y_p ≤ U·c` bound the MLU of
//! every (matrix, failure) scenario at once. Without failures the covering rows reduce to
//! `Σ_p y_p ≥ 1` and `U` is exactly the best worst-case MLU over the matrices. With failures
//! `U` is a guarantee (an upper bound over all scenarios); [`evaluate`] then recomputes every
//! scenario's routing and MLU independently, through the same check as everything else.
//!
//! A pair whose tunnels all cross one link cannot be protected against that link's failure:
//! its traffic is stranded there, reported in the table and left out of that scenario's MLU.

use good_lp::{Expression, ProblemVariables, Solution as _, SolverModel, clarabel, variable};

use crate::check::{Flow, PathFlow, verify};
use crate::lp::LpError;
use crate::network::{Network, TrafficMatrix};
use crate::paths::{Path, PathSet, is_simple_path};

/// Which scenarios the routing must be robust to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenarios {
    /// Every single link failure (as well as the intact network).
    pub link_failures: bool,
}

/// One pair's paths and their non-negative weights.
pub type PairPaths = ((usize, usize), Vec<(Path, f64)>);

/// A split of every pair's traffic over its paths, by weight.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedPaths {
    /// Per (source, destination): paths and their non-negative weights.
    pub pairs: Vec<PairPaths>,
}

/// One (matrix, failure) scenario of a routing.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    /// Index of the matrix.
    pub matrix: usize,
    /// The failed link, or `None` for the intact network.
    pub failed: Option<usize>,
    /// MLU of the traffic carried, recomputed from the flows.
    pub mlu: f64,
    /// The arc at that MLU.
    pub worst_arc: Option<usize>,
    /// Traffic with no surviving path, bit/s.
    pub stranded: f64,
}

/// A robust routing and its worst cases.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustResult {
    /// The routing.
    pub routing: WeightedPaths,
    /// The LP's guarantee: no scenario's MLU exceeds it.
    pub guaranteed_mlu: f64,
    /// Every scenario, worst first (most stranded traffic, then highest MLU).
    pub scenarios: Vec<ScenarioResult>,
}

impl RobustResult {
    /// The worst MLU over the scenarios (recomputed, not the LP's claim).
    pub fn worst_mlu(&self) -> f64 {
        self.scenarios.iter().map(|s| s.mlu).fold(0.0, f64::max)
    }
}

/// The single-link failures (as link indices) of `net`'s links that are up.
fn failable_links(net: &Network) -> Vec<usize> {
    (0..net.links().len())
        .filter(|&l| net.link_arcs(l).any(|a| net.arcs()[a].up))
        .collect()
}

fn crosses(net: &Network, p: &[usize], link: usize) -> bool {
    p.iter().any(|&a| net.arcs()[a].link == link)
}

/// The routing of the matrices over `paths` that minimises the worst MLU over `matrices`
/// (and every single link failure when `scenarios.link_failures`), with every scenario
/// evaluated.
pub fn min_worst_mlu(
    net: &Network,
    matrices: &[TrafficMatrix],
    paths: &PathSet,
    scenarios: Scenarios,
) -> Result<RobustResult, LpError> {
    for tm in matrices {
        if tm.node_count() != net.node_count() {
            return Err(LpError::Size {
                tm: tm.node_count(),
                net: net.node_count(),
            });
        }
    }
    let paths = paths.surviving(net);
    // Pairs with traffic in any matrix, in a stable order.
    let mut pairs: Vec<(usize, usize)> = matrices
        .iter()
        .flat_map(|tm| tm.demands().iter().map(|d| (d.src, d.dst)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for &(s, t) in &pairs {
        let ps = paths.of(s, t);
        if ps.is_empty() {
            return Err(LpError::NoPath { src: s, dst: t });
        }
        for p in ps {
            if !is_simple_path(net, p, s, t) {
                return Err(LpError::BadPath { src: s, dst: t });
            }
        }
    }
    // Stage 1 finds the best guarantee; stage 2 keeps it and, among the routings achieving
    // it, takes the least provisioned one (fewest weighted hops), so that the intact network
    // is not loaded by spare weight that only failures need.
    let (best, _) = solve_stage(net, matrices, &pairs, &paths, scenarios, None)?;
    let (guaranteed_mlu, y) = solve_stage(
        net,
        matrices,
        &pairs,
        &paths,
        scenarios,
        Some(best * (1.0 + 1e-7) + 1e-12),
    )?;
    let routing = WeightedPaths {
        pairs: pairs
            .iter()
            .enumerate()
            .map(|(k, &(s, t))| {
                let ps = paths.of(s, t);
                let w = ps.iter().cloned().zip(y[k].iter().copied()).collect();
                ((s, t), w)
            })
            .collect(),
    };
    let scenarios = evaluate(net, matrices, &routing, scenarios)?;
    Ok(RobustResult {
        routing,
        guaranteed_mlu,
        scenarios,
    })
}

/// One LP of [`min_worst_mlu`]: with `cap` unset, minimise the guarantee `U`; with `cap`
/// set, keep `U ≤ cap` and minimise the provisioned weight (peak demand × hops per path).
fn solve_stage(
    net: &Network,
    matrices: &[TrafficMatrix],
    pairs: &[(usize, usize)],
    paths: &PathSet,
    scenarios: Scenarios,
    cap: Option<f64>,
) -> Result<(f64, Vec<Vec<f64>>), LpError> {
    let scale = net
        .arcs()
        .iter()
        .filter(|a| a.up)
        .map(|a| a.capacity)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut vars = ProblemVariables::new();
    let u = vars.add(variable().min(0.0));
    let pvars: Vec<Vec<good_lp::Variable>> = pairs
        .iter()
        .map(|&(s, t)| vars.add_vector(variable().min(0.0), paths.of(s, t).len()))
        .collect();
    let objective: Expression = match cap {
        None => u.into(),
        Some(_) => {
            let peak: Vec<f64> = pairs
                .iter()
                .map(|&(s, t)| {
                    matrices
                        .iter()
                        .flat_map(|tm| tm.demands())
                        .filter(|d| (d.src, d.dst) == (s, t))
                        .map(|d| d.rate)
                        .fold(0.0, f64::max)
                })
                .collect();
            let total: f64 = peak.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            let mut e = Expression::with_capacity(pairs.len() * 3);
            for (k, &(s, t)) in pairs.iter().enumerate() {
                for (p, &v) in paths.of(s, t).iter().zip(&pvars[k]) {
                    e.add_mul(peak[k] / total * p.len() as f64, v);
                }
            }
            e
        }
    };
    let mut problem = vars.minimise(objective).using(clarabel);
    problem
        .settings()
        .tol_gap_abs(1e-10)
        .tol_gap_rel(1e-10)
        .tol_feas(1e-10)
        .max_iter(500);
    if let Some(c) = cap {
        problem.add_constraint(Expression::from(u).leq(c));
    }
    let links = failable_links(net);
    for (k, &(s, t)) in pairs.iter().enumerate() {
        let ps = paths.of(s, t);
        let mut all = Expression::with_capacity(ps.len());
        for &v in &pvars[k] {
            all.add_mul(1.0, v);
        }
        problem.add_constraint(all.geq(1.0));
        if scenarios.link_failures {
            for &l in &links {
                let hit = ps.iter().any(|p| crosses(net, p, l));
                let left: Vec<usize> = (0..ps.len())
                    .filter(|&i| !crosses(net, &ps[i], l))
                    .collect();
                if hit && !left.is_empty() {
                    let mut e = Expression::with_capacity(left.len());
                    for i in left {
                        e.add_mul(1.0, pvars[k][i]);
                    }
                    problem.add_constraint(e.geq(1.0));
                }
            }
        }
    }
    let m = net.arcs().len();
    for tm in matrices {
        let mut rows: Vec<Expression> = (0..m).map(|_| Expression::with_capacity(4)).collect();
        let mut used = vec![false; m];
        for d in tm.demands() {
            let Ok(k) = pairs.binary_search(&(d.src, d.dst)) else {
                continue;
            };
            for (i, p) in paths.of(d.src, d.dst).iter().enumerate() {
                for &a in p {
                    rows[a].add_mul(d.rate / scale, pvars[k][i]);
                    used[a] = true;
                }
            }
        }
        for (a, mut e) in rows.into_iter().enumerate() {
            if used[a] {
                e.add_mul(-net.arcs()[a].capacity / scale, u);
                problem.add_constraint(e.leq(0.0));
            }
        }
    }
    let sol = problem
        .solve()
        .map_err(|e| LpError::Solver(e.to_string()))?;
    let y = pvars
        .iter()
        .map(|vs| vs.iter().map(|&v| sol.value(v).max(0.0)).collect())
        .collect();
    Ok((sol.value(u), y))
}

/// Every (matrix, failure) scenario of `routing`: traffic split over each pair's surviving
/// paths in proportion to their weights, loads and MLU recomputed and checked. Worst first.
pub fn evaluate(
    net: &Network,
    matrices: &[TrafficMatrix],
    routing: &WeightedPaths,
    scenarios: Scenarios,
) -> Result<Vec<ScenarioResult>, LpError> {
    let mut failures: Vec<Option<usize>> = vec![None];
    if scenarios.link_failures {
        failures.extend(failable_links(net).into_iter().map(Some));
    }
    let mut out = Vec::with_capacity(matrices.len() * failures.len());
    for (mi, tm) in matrices.iter().enumerate() {
        for &f in &failures {
            let down = match f {
                Some(l) => net.with_links_down(&[l]),
                None => net.clone(),
            };
            let mut carried = TrafficMatrix::new(tm.node_count());
            let mut flows = Vec::new();
            let mut stranded = 0.0;
            for d in tm.demands() {
                let alive: Vec<&(Path, f64)> = routing
                    .pairs
                    .iter()
                    .find(|(k, _)| *k == (d.src, d.dst))
                    .map(|(_, ps)| {
                        ps.iter()
                            .filter(|(p, w)| *w > 0.0 && p.iter().all(|&a| down.arcs()[a].up))
                            .collect()
                    })
                    .unwrap_or_default();
                let total: f64 = alive.iter().map(|(_, w)| w).sum();
                if alive.is_empty() || total <= 0.0 {
                    stranded += d.rate;
                    continue;
                }
                carried
                    .add(d.src, d.dst, d.rate)
                    .map_err(|_| LpError::BadPath {
                        src: d.src,
                        dst: d.dst,
                    })?;
                for (p, w) in alive {
                    flows.push(PathFlow {
                        src: d.src,
                        dst: d.dst,
                        path: p.clone(),
                        rate: d.rate * w / total,
                    });
                }
            }
            let checked = verify(&down, &carried, &Flow::Paths(flows))?;
            out.push(ScenarioResult {
                matrix: mi,
                failed: f,
                mlu: checked.mlu,
                worst_arc: checked.worst_arc,
                stranded,
            });
        }
    }
    out.sort_by(|a, b| {
        b.stranded
            .total_cmp(&a.stranded)
            .then(b.mlu.total_cmp(&a.mlu))
            .then(a.matrix.cmp(&b.matrix))
            .then(a.failed.cmp(&b.failed))
    });
    Ok(out)
}

/// A path-based routing (e.g. [`crate::lp::min_mlu_paths`]'s) as weights, to evaluate it with
/// [`evaluate`] beside a robust one.
pub fn weights_of(flow: &Flow) -> WeightedPaths {
    let mut pairs: Vec<PairPaths> = Vec::new();
    if let Flow::Paths(pfs) = flow {
        for pf in pfs {
            let key = (pf.src, pf.dst);
            match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push((pf.path.clone(), pf.rate)),
                None => pairs.push((key, vec![(pf.path.clone(), pf.rate)])),
            }
        }
    }
    WeightedPaths { pairs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lp::min_mlu_paths;
    use crate::network::LinkProps;

    /// Directed diamond a→b→d, a→c→d, capacity 10 everywhere.
    fn diamond() -> Network {
        let mut net = Network::new();
        for n in ["a", "b", "c", "d"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y) in [("ab", 0, 1), ("bd", 1, 3), ("ac", 0, 2), ("cd", 2, 3)] {
            net.add_simple_link(name, x, y, LinkProps::new(10.0), true)
                .unwrap();
        }
        net
    }

    /// a→d 10 plus 5 entering at b (m1) or at c (m2).
    fn matrices() -> Vec<TrafficMatrix> {
        let mut m1 = TrafficMatrix::new(4);
        m1.add(0, 3, 10.0).unwrap();
        m1.add(1, 3, 5.0).unwrap();
        let mut m2 = TrafficMatrix::new(4);
        m2.add(0, 3, 10.0).unwrap();
        m2.add(2, 3, 5.0).unwrap();
        vec![m1, m2]
    }

    #[test]
    fn one_routing_for_two_matrices_by_hand() {
        // With x of a→d via b: m1 loads bd = x+5, cd = 10−x (optimum x = 2.5, MLU 0.75);
        // m2 loads bd = x, cd = 15−x (x = 7.5, MLU 0.75). One x for both: max(x+5, 15−x)
        // is least at x = 5, MLU 1.0. m1's own optimum used under m2 gives cd = 12.5: 1.25.
        let net = diamond();
        let tms = matrices();
        let ps = PathSet::k_shortest(&net, &tms[0], 2);
        let mut all = ps.clone();
        all.paths
            .extend(PathSet::k_shortest(&net, &tms[1], 2).paths);
        let r = min_worst_mlu(
            &net,
            &tms,
            &all,
            Scenarios {
                link_failures: false,
            },
        )
        .unwrap();
        assert!(
            (r.guaranteed_mlu - 1.0).abs() < 1e-7,
            "{}",
            r.guaranteed_mlu
        );
        assert!((r.worst_mlu() - 1.0).abs() < 1e-6, "{}", r.worst_mlu());
        assert_eq!(r.scenarios.len(), 2);
        let nominal = min_mlu_paths(&net, &tms[0], &all).unwrap();
        assert!((nominal.mlu() - 0.75).abs() < 1e-7);
        // m1's routing (it has no route for c→d, which m1 does not send: add the only one).
        let mut m1_routing = weights_of(&nominal.flow);
        let cd = vec![net.arc_between(2, 3).unwrap()];
        m1_routing.pairs.push(((2, 3), vec![(cd, 1.0)]));
        let table = evaluate(
            &net,
            &tms,
            &m1_routing,
            Scenarios {
                link_failures: false,
            },
        )
        .unwrap();
        assert_eq!(table[0].matrix, 1);
        assert_eq!(table[0].stranded, 0.0);
        assert!((table[0].mlu - 1.25).abs() < 1e-6, "{}", table[0].mlu);
        assert!((table[1].mlu - 0.75).abs() < 1e-6, "{}", table[1].mlu);
    }

    #[test]
    fn failure_table_by_hand() {
        // m1 only, every single link failure. a→d must be protected against losing either
        // branch, so each branch is provisioned for all 10: y = (1, 1) and the guarantee is
        // bd's 10+5 = 15, MLU 1.5. b→d has one path: its 5 strand when bd fails.
        // Evaluated: intact 5/5 split (bd 10, MLU 1.0); ab fails: all on c (cd 10, 1.0);
        // bd fails: 5 stranded, cd 10 (1.0); ac or cd fails: bd 15 (1.5).
        let net = diamond();
        let tms = &matrices()[..1];
        let ps = PathSet::k_shortest(&net, &tms[0], 2);
        let r = min_worst_mlu(
            &net,
            tms,
            &ps,
            Scenarios {
                link_failures: true,
            },
        )
        .unwrap();
        assert!(
            (r.guaranteed_mlu - 1.5).abs() < 1e-6,
            "{}",
            r.guaranteed_mlu
        );
        let row = |f: Option<&str>| {
            r.scenarios
                .iter()
                .find(|s| s.failed == f.map(|n| net.link(n).unwrap()))
                .unwrap()
                .clone()
        };
        assert_eq!(r.scenarios[0].failed, net.link("bd"));
        assert_eq!(r.scenarios[0].stranded, 5.0);
        assert!((row(Some("bd")).mlu - 1.0).abs() < 1e-6);
        assert!((row(None).mlu - 1.0).abs() < 1e-6);
        assert!((row(Some("ab")).mlu - 1.0).abs() < 1e-6);
        assert!((row(Some("ac")).mlu - 1.5).abs() < 1e-6);
        assert!((row(Some("cd")).mlu - 1.5).abs() < 1e-6);
        assert!(r.worst_mlu() <= r.guaranteed_mlu * (1.0 + 1e-6));
    }
}

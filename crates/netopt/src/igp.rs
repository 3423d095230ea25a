//! IGP routing (OSPF / IS-IS): shortest paths by link weight with equal-cost multipath, and
//! weight optimization by local search in the manner of Fortz and Thorup ("Internet traffic
//! engineering by optimizing OSPF weights", INFOCOM 2000).
//!
//! [`ecmp`] routes a matrix the way routers do: toward each destination, every node splits
//! what it holds evenly over all its next hops on a shortest path. [`optimize_weights`]
//! searches integer weights in `1..=max_weight` to minimise the MLU of that routing (with the
//! Fortz-Thorup piecewise-linear congestion cost as a tie-break, which steers the search off
//! plateaus). Randomness comes from a seeded generator: same input and seed, same weights.

use crate::check::{CheckError, Flow, verify};
use crate::network::{Network, TrafficMatrix};
use crate::paths::distances_to;
use crate::solution::{Method, Solution};

/// Why an IGP routing could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IgpError {
    /// A destination unreachable from a source with traffic for it.
    #[error("node {src} cannot reach node {dst}")]
    Unreachable {
        /// Source node index.
        src: usize,
        /// Destination node index.
        dst: usize,
    },
    /// A weight vector of the wrong length or with a non-positive weight.
    #[error("weights must be {arcs} positive numbers, one per arc")]
    Weights {
        /// Arcs in the network.
        arcs: usize,
    },
    /// The matrix is for a different number of nodes.
    #[error("traffic matrix has {tm} nodes, the network {net}")]
    Size {
        /// Nodes in the matrix.
        tm: usize,
        /// Nodes in the network.
        net: usize,
    },
    /// The routing failed the independent check (a bug, never expected).
    #[error("ECMP routing fails the check: {0}")]
    Check(#[from] CheckError),
}

/// Relative tolerance under which two path costs count as equal.
const TIE: f64 = 1e-9;

/// Per-destination arc flows of ECMP routing under `w`, without the check.
fn ecmp_flows(
    net: &Network,
    tm: &TrafficMatrix,
    w: &[f64],
) -> Result<Vec<(usize, Vec<f64>)>, IgpError> {
    let m = net.arcs().len();
    let n = net.node_count();
    if tm.node_count() != n {
        return Err(IgpError::Size {
            tm: tm.node_count(),
            net: n,
        });
    }
    if w.len() != m || w.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(IgpError::Weights { arcs: m });
    }
    let mut dests: Vec<usize> = tm.demands().iter().map(|d| d.dst).collect();
    dests.sort_unstable();
    dests.dedup();
    let mut out = Vec::with_capacity(dests.len());
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut next: Vec<usize> = Vec::new();
    for t in dests {
        let dist = distances_to(net, t, w);
        let mut hold = vec![0.0; n];
        for d in tm.demands().iter().filter(|d| d.dst == t) {
            if !dist[d.src].is_finite() {
                return Err(IgpError::Unreachable { src: d.src, dst: t });
            }
            hold[d.src] += d.rate;
        }
        order.clear();
        order.extend((0..n).filter(|&v| v != t && dist[v].is_finite()));
        // Farthest first: every next hop is strictly closer, so it is handled later.
        order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
        let mut f = vec![0.0; m];
        for &v in &order {
            if hold[v] == 0.0 {
                continue;
            }
            next.clear();
            for a in net.out_arcs(v) {
                let h = net.arcs()[a].to;
                if (w[a] + dist[h] - dist[v]).abs() <= TIE * dist[v].max(1.0) {
                    next.push(a);
                }
            }
            let share = hold[v] / next.len().max(1) as f64;
            for &a in &next {
                f[a] += share;
                hold[net.arcs()[a].to] += share;
            }
        }
        out.push((t, f));
    }
    Ok(out)
}

/// Routes `tm` over shortest paths by weights `w` (one per arc) with even ECMP splitting.
pub fn ecmp(net: &Network, tm: &TrafficMatrix, w: &[f64]) -> Result<Solution, IgpError> {
    let flow = Flow::ByDestination(ecmp_flows(net, tm, w)?);
    let checked = verify(net, tm, &flow)?;
    Ok(Solution {
        method: Method::Ecmp,
        flow,
        checked,
        claimed_mlu: None,
        lower_bound: None,
    })
}

/// Arc loads of ECMP routing under `w` (no check; for the search's inner loop).
fn ecmp_loads(net: &Network, tm: &TrafficMatrix, w: &[f64]) -> Result<Vec<f64>, IgpError> {
    let mut load = vec![0.0; net.arcs().len()];
    for (_, f) in ecmp_flows(net, tm, w)? {
        for (l, x) in load.iter_mut().zip(f) {
            *l += x;
        }
    }
    Ok(load)
}

/// The Fortz-Thorup congestion cost of one arc: piecewise linear and convex in the load, with
/// slopes 1, 3, 10, 70, 500 and 5000 past utilizations 0, 1/3, 2/3, 9/10, 1 and 11/10.
pub fn fortz_thorup_cost(load: f64, capacity: f64) -> f64 {
    const BREAKS: [(f64, f64); 6] = [
        (0.0, 1.0),
        (1.0 / 3.0, 3.0),
        (2.0 / 3.0, 10.0),
        (0.9, 70.0),
        (1.0, 500.0),
        (1.1, 5000.0),
    ];
    let mut cost = 0.0;
    for (i, &(start, slope)) in BREAKS.iter().enumerate() {
        let lo = start * capacity;
        let hi = BREAKS.get(i + 1).map_or(f64::INFINITY, |b| b.0 * capacity);
        if load > lo {
            cost += slope * (load.min(hi) - lo);
        }
    }
    cost
}

/// Settings of the weight search.
#[derive(Debug, Clone, PartialEq)]
pub struct IgpOptions {
    /// Largest weight tried (weights are integers from 1).
    pub max_weight: u32,
    /// How many weight settings to evaluate.
    pub evaluations: usize,
    /// Seed of the search's random moves.
    pub seed: u64,
    /// Keep the two directions of a link at the same weight (the model has one cost per link).
    pub symmetric: bool,
    /// At most this many links (or arcs, when not symmetric) may end with a weight other than
    /// their current one: `Some(1)` proposes the single best next weight change. The search
    /// then starts from the current weights only.
    pub max_changes: Option<usize>,
}

impl Default for IgpOptions {
    fn default() -> Self {
        IgpOptions {
            max_weight: 20,
            evaluations: 3000,
            seed: 1,
            symmetric: true,
            max_changes: None,
        }
    }
}

/// The outcome of a weight search.
#[derive(Debug, Clone, PartialEq)]
pub struct IgpResult {
    /// The best weights found, one per arc.
    pub weights: Vec<f64>,
    /// ECMP routing under them, checked.
    pub solution: Solution,
    /// The MLU of ECMP under the starting weights.
    pub initial_mlu: f64,
    /// Weight settings evaluated.
    pub evaluations: usize,
}

/// SplitMix64: a small, seedable generator (enough for choosing moves).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// (MLU, Fortz-Thorup cost) of a load vector; compared lexicographically, MLU first.
fn score(net: &Network, load: &[f64]) -> (f64, f64) {
    let mut mlu: f64 = 0.0;
    let mut phi = 0.0;
    for (l, a) in load.iter().zip(net.arcs()) {
        if a.up {
            mlu = mlu.max(l / a.capacity);
            phi += fortz_thorup_cost(*l, a.capacity);
        }
    }
    (mlu, phi)
}

fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    if a.0 < b.0 * (1.0 - 1e-9) {
        return true;
    }
    a.0 <= b.0 * (1.0 + 1e-9) && a.1 < b.1 * (1.0 - 1e-12)
}

/// Searches IGP weights that make ECMP routing of `tm` as cool as it can: starts from the
/// network's weights (rounded into `1..=max_weight`) and from inverse-capacity weights, keeps
/// the better, then tries moves (raise the weight of a hottest link, lower a cold one's, set a
/// random link to a random weight) and keeps every improvement; after a long run without one
/// it restarts from the best setting with a few random weights changed.
pub fn optimize_weights(
    net: &Network,
    tm: &TrafficMatrix,
    opts: &IgpOptions,
) -> Result<IgpResult, IgpError> {
    let m = net.arcs().len();
    let wmax = f64::from(opts.max_weight.max(1));
    let mut rng = Rng(opts.seed);
    // The unit a move changes: a link (both directions) or a single arc.
    let groups: Vec<Vec<usize>> = if opts.symmetric {
        (0..net.links().len())
            .map(|l| net.link_arcs(l).filter(|&a| net.arcs()[a].up).collect())
            .filter(|g: &Vec<usize>| !g.is_empty())
            .collect()
    } else {
        (0..m)
            .filter(|&a| net.arcs()[a].up)
            .map(|a| vec![a])
            .collect()
    };
    let clamp = |w: f64| w.round().clamp(1.0, wmax);
    let set_group = |w: &mut Vec<f64>, g: &[usize], v: f64| {
        for &a in g {
            w[a] = v;
        }
    };

    let start_given = {
        let mut w: Vec<f64> = net.arcs().iter().map(|a| clamp(a.weight)).collect();
        if opts.symmetric {
            for g in &groups {
                let v = g.iter().map(|&a| w[a]).fold(0.0, f64::max);
                set_group(&mut w, g, v);
            }
        }
        w
    };
    let initial_load = ecmp_loads(net, tm, &net.weights())?;
    let initial_mlu = score(net, &initial_load).0;
    let start_invcap: Vec<f64> = {
        let cmax = net.max_capacity();
        let mut w: Vec<f64> = net
            .arcs()
            .iter()
            .map(|a| clamp(cmax / a.capacity))
            .collect();
        if opts.symmetric {
            for g in &groups {
                let v = g.iter().map(|&a| w[a]).fold(0.0, f64::max);
                set_group(&mut w, g, v);
            }
        }
        w
    };
    let mut evaluations = 0;
    let eval = |w: &[f64], evaluations: &mut usize| -> Result<((f64, f64), Vec<f64>), IgpError> {
        *evaluations += 1;
        let load = ecmp_loads(net, tm, w)?;
        Ok((score(net, &load), load))
    };
    // Weights as the network has them now: what "a change" is measured against.
    let current = net.weights();
    let changes = |w: &[f64]| {
        groups
            .iter()
            .filter(|g| g.iter().any(|&a| w[a] != current[a]))
            .count()
    };
    let allowed = |w: &[f64]| opts.max_changes.is_none_or(|m| changes(w) <= m);
    let start_given = if opts.max_changes.is_some() {
        current.clone()
    } else {
        start_given
    };
    let (s1, l1) = eval(&start_given, &mut evaluations)?;
    let (s2, l2) = if allowed(&start_invcap) {
        eval(&start_invcap, &mut evaluations)?
    } else {
        ((f64::INFINITY, f64::INFINITY), Vec::new())
    };
    let (mut best_w, mut best_s, best_l) = if better(s2, s1) {
        (start_invcap, s2, l2)
    } else {
        (start_given, s1, l1)
    };
    let (mut cur_w, mut cur_s, mut cur_l) = (best_w.clone(), best_s, best_l);
    let mut stale = 0usize;
    let patience = (groups.len() * 4).max(50);
    // Moves that change nothing or break `max_changes` cost no evaluation; bound them too,
    // so the search ends even when no move is possible (e.g. `max_weight` 1).
    let mut attempts = 0usize;
    let max_attempts = opts.evaluations.saturating_mul(20);
    while evaluations < opts.evaluations && attempts < max_attempts && !groups.is_empty() {
        attempts += 1;
        let mut w = cur_w.clone();
        let kind = rng.below(4);
        // Groups by utilization of their hottest arc, hottest first.
        let util = |g: &Vec<usize>| {
            g.iter()
                .map(|&a| cur_l[a] / net.arcs()[a].capacity)
                .fold(0.0, f64::max)
        };
        match kind {
            0 | 1 => {
                // Raise a hot link: one of the three hottest.
                let mut idx: Vec<usize> = (0..groups.len()).collect();
                idx.sort_by(|&a, &b| util(&groups[b]).total_cmp(&util(&groups[a])));
                let g = &groups[idx[rng.below(idx.len().min(3))]];
                let v = w[g[0]] + 1.0 + rng.below(opts.max_weight.max(2) as usize / 2) as f64;
                set_group(&mut w, g, clamp(v));
            }
            2 => {
                // Lower a cold link to attract traffic.
                let g = &groups[rng.below(groups.len())];
                if util(g) < cur_s.0 * 0.8 {
                    let v = w[g[0]] - 1.0 - rng.below(3) as f64;
                    set_group(&mut w, g, clamp(v));
                }
            }
            _ => {
                let g = &groups[rng.below(groups.len())];
                let v = 1.0 + rng.below(opts.max_weight.max(1) as usize) as f64;
                set_group(&mut w, g, v);
            }
        }
        if w == cur_w || !allowed(&w) {
            stale += 1;
            continue;
        }
        let (s, l) = eval(&w, &mut evaluations)?;
        if better(s, cur_s) {
            cur_w = w;
            cur_s = s;
            cur_l = l;
            stale = 0;
            if better(cur_s, best_s) {
                best_w = cur_w.clone();
                best_s = cur_s;
            }
        } else {
            stale += 1;
        }
        if stale > patience {
            // Diversify: restart near the best with a few random weights.
            cur_w = best_w.clone();
            for _ in 0..(groups.len() / 10).max(2) {
                let g = &groups[rng.below(groups.len())];
                let v = 1.0 + rng.below(opts.max_weight.max(1) as usize) as f64;
                let before: Vec<f64> = g.iter().map(|&a| cur_w[a]).collect();
                set_group(&mut cur_w, g, v);
                if !allowed(&cur_w) {
                    for (&a, &b) in g.iter().zip(&before) {
                        cur_w[a] = b;
                    }
                }
            }
            let (s, l) = eval(&cur_w, &mut evaluations)?;
            cur_s = s;
            cur_l = l;
            stale = 0;
        }
    }
    // A change must earn its keep: unless the MLU improves, propose no change at all.
    if best_s.0 >= initial_mlu * (1.0 - 1e-9) || best_s.0.is_nan() {
        best_w = net.weights();
    }
    let mut solution = ecmp(net, tm, &best_w)?;
    solution.method = Method::Igp;
    Ok(IgpResult {
        weights: best_w,
        solution,
        initial_mlu,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a-b-d and a-c-d, all capacity 10; a-c has weight 2 so ECMP uses only a-b-d.
    fn diamond(w_ac: f64) -> Network {
        let mut net = Network::new();
        for n in ["a", "b", "c", "d"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y, w) in [
            ("ab", 0, 1, 1.0),
            ("bd", 1, 3, 1.0),
            ("ac", 0, 2, w_ac),
            ("cd", 2, 3, 1.0),
        ] {
            net.add_simple_link(
                name,
                x,
                y,
                crate::LinkProps {
                    capacity: 10.0,
                    latency: 0.0,
                    weight: w,
                },
                false,
            )
            .unwrap();
        }
        net
    }

    #[test]
    fn ecmp_splits_evenly_over_equal_cost_paths_only() {
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 8.0).unwrap();
        let net = diamond(1.0);
        let sol = ecmp(&net, &tm, &net.weights()).unwrap();
        assert!((sol.mlu() - 0.4).abs() < 1e-12); // 4 on each path, capacity 10
        let net = diamond(2.0);
        let sol = ecmp(&net, &tm, &net.weights()).unwrap();
        assert!((sol.mlu() - 0.8).abs() < 1e-12); // all 8 on a-b-d
    }

    #[test]
    fn ft_cost_matches_hand_values() {
        // Utilization 0.5 of capacity 3: 1·1 + 3·(1.5-1) = 2.5.
        assert!((fortz_thorup_cost(1.5, 3.0) - 2.5).abs() < 1e-12);
        // Utilization 1.2 of capacity 1: 1/3 + 3/3 + 10·(0.9-2/3) + 70·0.1 + 500·0.1 + 5000·0.1
        let expect = 1.0 / 3.0 + 1.0 + 10.0 * (0.9 - 2.0 / 3.0) + 7.0 + 50.0 + 500.0;
        assert!((fortz_thorup_cost(1.2, 1.0) - expect).abs() < 1e-9);
    }

    #[test]
    fn search_finds_the_even_split() {
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 8.0).unwrap();
        let net = diamond(2.0);
        let opts = IgpOptions {
            evaluations: 200,
            ..IgpOptions::default()
        };
        let r = optimize_weights(&net, &tm, &opts).unwrap();
        assert!((r.initial_mlu - 0.8).abs() < 1e-12);
        assert!(
            (r.solution.mlu() - 0.4).abs() < 1e-12,
            "{}",
            r.solution.mlu()
        );
        // Deterministic per seed.
        let again = optimize_weights(&net, &tm, &opts).unwrap();
        assert_eq!(r.weights, again.weights);
    }

    #[test]
    fn one_change_at_most() {
        // Square a-b-d / a-c-d with a-c at weight 2: the one change that helps is a-c to 1
        // (or a-b/b-d up to 2), which splits 8 units evenly: MLU 0.4 from 0.8.
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 8.0).unwrap();
        let net = diamond(2.0);
        let opts = IgpOptions {
            evaluations: 300,
            max_changes: Some(1),
            ..IgpOptions::default()
        };
        let r = optimize_weights(&net, &tm, &opts).unwrap();
        assert!((r.solution.mlu() - 0.4).abs() < 1e-12);
        let changed: std::collections::BTreeSet<usize> = (0..net.arcs().len())
            .filter(|&a| r.weights[a] != net.arcs()[a].weight)
            .map(|a| net.arcs()[a].link)
            .collect();
        assert_eq!(changed.len(), 1, "{:?}", r.weights);
        let none = IgpOptions {
            max_changes: Some(0),
            ..opts
        };
        let r = optimize_weights(&net, &tm, &none).unwrap();
        assert_eq!(r.weights, net.weights());
    }

    #[test]
    fn unreachable_destination_is_an_error() {
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 3, 1.0).unwrap();
        let net = diamond(1.0);
        let down = net.with_links_down(&[net.link("bd").unwrap(), net.link("cd").unwrap()]);
        assert_eq!(
            ecmp(&down, &tm, &down.weights()).unwrap_err(),
            IgpError::Unreachable { src: 0, dst: 3 }
        );
    }
}

//! The latency-aware objective: minimise the mean delay of the traffic (propagation plus
//! M/M/1 queueing on every link it crosses) subject to an MLU bound.
//!
//! Kleinrock's delay formula for a network of M/M/1 links gives the mean delay of a bit
//! (equivalently of a packet) over the whole matrix as
//!
//! `T = (1/D) · Σ_a x_a · (prop_a + L / (C_a − x_a))`
//!
//! with `x_a` the load of arc `a`, `C_a` its capacity (bit/s), `prop_a` its propagation
//! latency, `L` the mean packet size in bits and `D` the total demand. The queueing term
//! `x·L/(C−x)` is convex, so the problem is a convex multicommodity flow; it is solved exactly
//! by Kelley's cutting planes: an edge-based LP (flows aggregated by source, as for the MLU)
//! where each arc's queueing term is a variable bounded below by tangents of the true curve,
//! tangents added where the LP under-estimates until the under-estimate is negligible. Every
//! tangent lies below the curve, so the LP's value is a lower bound on the best mean delay,
//! reported beside the delay recomputed exactly from the checked loads.
//!
//! Without a bound the delay optimum may run links hot; the MLU bound (absolute, or the
//! optimal MLU times `1 + slack`) says how much utilization the operator trades for latency.

use good_lp::{
    Expression, ProblemVariables, Solution as _, SolverModel, Variable, clarabel, variable,
};

use crate::check::{Flow, verify};
use crate::lp::{LpError, cancel_cycles, min_mlu_edges, unreachable_demands};
use crate::network::{Network, TrafficMatrix};
use crate::solution::{Method, Solution};

/// How hot links may run under the delay objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MluBound {
    /// At most this utilization on every link.
    Absolute(f64),
    /// At most the optimal MLU times `1 + slack`.
    Slack(f64),
}

/// Settings of the delay optimization.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayOptions {
    /// Mean packet size, bits (1500 bytes by default).
    pub packet_bits: f64,
    /// The MLU bound.
    pub max_mlu: MluBound,
    /// Stop when the LP under-estimates the delay by less than this share.
    pub tolerance: f64,
    /// Most LPs solved.
    pub max_rounds: usize,
}

impl Default for DelayOptions {
    fn default() -> Self {
        DelayOptions {
            packet_bits: 12_000.0,
            max_mlu: MluBound::Slack(0.1),
            tolerance: 1e-7,
            max_rounds: 40,
        }
    }
}

/// Why a delay-optimal routing could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DelayError {
    /// The MLU LP (needed for the bound) or the delay LP failed.
    #[error(transparent)]
    Lp(#[from] LpError),
    /// Even the min-MLU routing overloads a link: M/M/1 delay is unbounded.
    #[error(
        "the network is overloaded (optimal MLU {optimum:.4} ≥ 1): queueing delay is unbounded"
    )]
    Overloaded {
        /// The optimal MLU.
        optimum: f64,
    },
    /// The bound asked for is below what any routing achieves.
    #[error(
        "no routing keeps every link under {bound:.4} utilization (the optimum is {optimum:.4})"
    )]
    BoundBelowOptimum {
        /// The bound.
        bound: f64,
        /// The optimal MLU.
        optimum: f64,
    },
    /// A bad option.
    #[error("{0}")]
    Options(String),
}

/// A delay-optimal routing.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayResult {
    /// The routing (checked; its MLU is at most `mlu_bound`).
    pub solution: Solution,
    /// Its mean delay, seconds, recomputed from the checked loads.
    pub mean_delay: f64,
    /// A lower bound on the mean delay of any routing within the MLU bound, seconds.
    pub delay_lower_bound: f64,
    /// The MLU bound enforced.
    pub mlu_bound: f64,
    /// The optimal MLU (of the min-MLU routing).
    pub mlu_optimum: f64,
    /// LPs solved.
    pub rounds: usize,
}

/// Mean delay in seconds of traffic totalling `total` bit/s with arc loads `load`:
/// propagation plus M/M/1 queueing with packets of `packet_bits`. Infinite when an arc is
/// loaded to or beyond its capacity; 0 without traffic.
pub fn mean_delay(net: &Network, load: &[f64], total: f64, packet_bits: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for (x, a) in load.iter().zip(net.arcs()) {
        if *x <= 0.0 {
            continue;
        }
        if *x >= a.capacity {
            return f64::INFINITY;
        }
        sum += x * (a.latency + packet_bits / (a.capacity - x));
    }
    sum / total
}

/// The routing of `tm` with the least mean delay whose MLU stays within `opts.max_mlu`.
pub fn min_mean_delay(
    net: &Network,
    tm: &TrafficMatrix,
    opts: &DelayOptions,
) -> Result<DelayResult, DelayError> {
    if !(opts.packet_bits.is_finite() && opts.packet_bits > 0.0) {
        return Err(DelayError::Options(format!(
            "packet size must be a positive number of bits, not {}",
            opts.packet_bits
        )));
    }
    if tm.node_count() != net.node_count() {
        return Err(LpError::Size {
            tm: tm.node_count(),
            net: net.node_count(),
        }
        .into());
    }
    if let Some(&(src, dst)) = unreachable_demands(net, tm).first() {
        return Err(LpError::NoPath { src, dst }.into());
    }
    let optimum = min_mlu_edges(net, tm)?.mlu();
    if optimum >= 1.0 {
        return Err(DelayError::Overloaded { optimum });
    }
    let asked = match opts.max_mlu {
        MluBound::Absolute(b) => b,
        MluBound::Slack(s) => optimum * (1.0 + s.max(0.0)),
    };
    if !asked.is_finite() || asked < optimum * (1.0 - 1e-7) {
        return Err(DelayError::BoundBelowOptimum {
            bound: asked,
            optimum,
        });
    }
    // Never at or past saturation, where the queueing term is infinite; never below the
    // optimum by rounding, which would make the LP infeasible.
    let bound = asked
        .min(1.0 - (1.0 - optimum) * 1e-3)
        .max(optimum * (1.0 + 1e-7));

    let n = net.node_count();
    let m = net.arcs().len();
    let up: Vec<usize> = (0..m).filter(|&a| net.arcs()[a].up).collect();
    let scale = up
        .iter()
        .map(|&a| net.arcs()[a].capacity)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    // Normalised units: flow in `scale` bit/s, time in `tau` seconds (the zero-load delay of
    // the slowest arc), so that every coefficient is O(1).
    let ell = opts.packet_bits / scale;
    let cap: Vec<f64> = up.iter().map(|&a| net.arcs()[a].capacity / scale).collect();
    let tau = up
        .iter()
        .zip(&cap)
        .map(|(&a, c)| net.arcs()[a].latency + ell / c)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let prop: Vec<f64> = up.iter().map(|&a| net.arcs()[a].latency / tau).collect();
    let q = ell / tau;
    let h = |j: usize, x: f64| q * x / (cap[j] - x);
    let dh = |j: usize, x: f64| q * cap[j] / ((cap[j] - x) * (cap[j] - x));

    let mut sources: Vec<usize> = tm.demands().iter().map(|d| d.src).collect();
    sources.sort_unstable();
    sources.dedup();
    let totals: Vec<f64> = sources
        .iter()
        .map(|&s| {
            tm.demands()
                .iter()
                .filter(|d| d.src == s)
                .map(|d| d.rate)
                .sum()
        })
        .collect();

    // Tangent points per arc, as utilizations; more are added where the LP under-estimates.
    let mut cuts: Vec<Vec<f64>> = (0..up.len())
        .map(|_| {
            let mut v: Vec<f64> = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
                .into_iter()
                .filter(|&u| u < bound)
                .collect();
            v.push(bound);
            v
        })
        .collect();
    let mut rounds = 0;
    let mut lower = 0.0_f64;
    let per_source = loop {
        rounds += 1;
        let mut vars = ProblemVariables::new();
        let g: Vec<Vec<Variable>> = sources
            .iter()
            .map(|_| vars.add_vector(variable().min(0.0), up.len()))
            .collect();
        let z: Vec<Variable> = vars.add_vector(variable().min(0.0), up.len());
        let load = |j: usize| {
            let mut e = Expression::with_capacity(sources.len());
            for (gi, t) in g.iter().zip(&totals) {
                e.add_mul(t / scale, gi[j]);
            }
            e
        };
        let mut objective = Expression::with_capacity(2 * up.len());
        for j in 0..up.len() {
            objective += prop[j] * load(j);
            objective.add_mul(1.0, z[j]);
        }
        let mut problem = vars.minimise(objective.clone()).using(clarabel);
        problem
            .settings()
            .tol_gap_abs(1e-11)
            .tol_gap_rel(1e-11)
            .tol_feas(1e-11)
            .max_iter(500);
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
        for j in 0..up.len() {
            problem.add_constraint(load(j).leq(bound * cap[j]));
            for &u in &cuts[j] {
                let p = u * cap[j];
                // z ≥ h(p) + h'(p)·(x − p)
                let mut e = load(j) * dh(j, p);
                e.add_mul(-1.0, z[j]);
                problem.add_constraint(e.leq(dh(j, p) * p - h(j, p)));
            }
        }
        let sol = problem
            .solve()
            .map_err(|e| LpError::Solver(e.to_string()))?;
        let x: Vec<f64> = (0..up.len())
            .map(|j| {
                g.iter()
                    .zip(&totals)
                    .map(|(gi, t)| sol.value(gi[j]).max(0.0) * t / scale)
                    .sum()
            })
            .collect();
        let zv: Vec<f64> = z.iter().map(|&v| sol.value(v).max(0.0)).collect();
        let lp_value: f64 = (0..up.len()).map(|j| prop[j] * x[j] + zv[j]).sum();
        lower = lower.max(lp_value);
        let mut under = 0.0;
        let mut added = false;
        for j in 0..up.len() {
            let xj = x[j].min(bound * cap[j]);
            let miss = h(j, xj) - zv[j];
            if miss > 0.0 {
                under += miss;
            }
            if miss > opts.tolerance * lp_value.max(f64::MIN_POSITIVE) / up.len() as f64 {
                cuts[j].push(xj / cap[j]);
                added = true;
            }
        }
        if !added || under <= opts.tolerance * lp_value || rounds >= opts.max_rounds {
            let flows: Vec<(usize, Vec<f64>)> = sources
                .iter()
                .zip(&g)
                .zip(&totals)
                .map(|((&src, gi), t)| {
                    let mut v = vec![0.0; m];
                    for (j, &a) in up.iter().enumerate() {
                        v[a] = sol.value(gi[j]).max(0.0) * t;
                    }
                    (src, v)
                })
                .collect();
            break flows;
        }
    };
    let mut per_source = per_source;
    for ((_, f), t) in per_source.iter_mut().zip(&totals) {
        cancel_cycles(net, f, t * 1e-12);
    }
    let flow = Flow::BySource(per_source);
    let checked = verify(net, tm, &flow).map_err(LpError::from)?;
    let total = tm.total();
    let mean = mean_delay(net, &checked.arc_load, total, opts.packet_bits);
    // Back to seconds: the LP minimised Σ (prop·x + z) in units of tau·scale.
    let delay_lower_bound = (lower * tau * scale / total).min(mean);
    let solution = Solution {
        method: Method::LpDelay,
        flow,
        checked,
        claimed_mlu: None,
        lower_bound: None,
    };
    Ok(DelayResult {
        solution,
        mean_delay: mean,
        delay_lower_bound,
        mlu_bound: bound,
        mlu_optimum: optimum,
        rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::LinkProps;

    /// Two parallel links from a to d, 10 Mbit/s each: "short" (1 ms) and "long" (10 ms).
    fn two_routes() -> Network {
        let mut net = Network::new();
        net.add_node("a").unwrap();
        net.add_node("d").unwrap();
        for (name, lat) in [("short", 0.001), ("long", 0.010)] {
            let props = LinkProps {
                capacity: 10e6,
                latency: lat,
                weight: 1.0,
            };
            net.add_simple_link(name, 0, 1, props, true).unwrap();
        }
        net
    }

    fn tm() -> TrafficMatrix {
        let mut tm = TrafficMatrix::new(2);
        tm.add(0, 1, 8e6).unwrap();
        tm
    }

    #[test]
    fn delay_routing_prefers_the_short_link_up_to_the_bound() {
        // By hand, with 1500-byte packets (L = 12,000 bits; L/(C−x) in ms is 12/(10−x) for
        // x in Mbit/s). Min-MLU splits 4/4 (MLU 0.4): delays 1+2 = 3 ms and 10+2 = 12 ms,
        // mean 7.5 ms. Min-delay with MLU ≤ 0.6 puts 6 on the short link (its unconstrained
        // optimum is about 6.64, past the bound): 1+3 = 4 ms and 10+1.5 = 11.5 ms, mean
        // (6·4 + 2·11.5)/8 = 5.875 ms.
        let net = two_routes();
        let mlu = min_mlu_edges(&net, &tm()).unwrap();
        assert!((mlu.mlu() - 0.4).abs() < 1e-7);
        let mlu_delay = mean_delay(&net, &mlu.checked.arc_load, 8e6, 12_000.0);
        assert!((mlu_delay - 7.5e-3).abs() < 1e-9, "{mlu_delay}");
        let opts = DelayOptions {
            max_mlu: MluBound::Absolute(0.6),
            ..Default::default()
        };
        let r = min_mean_delay(&net, &tm(), &opts).unwrap();
        assert!(
            (r.solution.mlu() - 0.6).abs() < 1e-6,
            "{}",
            r.solution.mlu()
        );
        assert!((r.mean_delay - 5.875e-3).abs() < 1e-8, "{}", r.mean_delay);
        assert!(r.delay_lower_bound <= r.mean_delay);
        assert!(r.delay_lower_bound >= r.mean_delay * (1.0 - 1e-5));
        // The direction: hotter links, lower delay.
        assert!(r.solution.mlu() > mlu.mlu() && r.mean_delay < mlu_delay);
    }

    #[test]
    fn loose_bound_gives_the_interior_optimum() {
        // With MLU ≤ 0.9 the bound does not bind: the optimum x on the short link solves
        // d/dx [x(1 + 12/(10−x)) + (8−x)(10 + 12/(2+x))] = 0, i.e.
        // 120/(10−x)² − 120/(2+x)² = 9, found here by bisection.
        let f = |x: f64| 120.0 / ((10.0 - x) * (10.0 - x)) - 120.0 / ((2.0 + x) * (2.0 + x)) - 9.0;
        let (mut lo, mut hi) = (4.0, 8.0);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let x = 0.5 * (lo + hi);
        let expect_ms =
            (x * (1.0 + 12.0 / (10.0 - x)) + (8.0 - x) * (10.0 + 12.0 / (2.0 + x))) / 8.0;
        let net = two_routes();
        let opts = DelayOptions {
            max_mlu: MluBound::Absolute(0.9),
            ..Default::default()
        };
        let r = min_mean_delay(&net, &tm(), &opts).unwrap();
        assert!(
            (r.mean_delay * 1e3 - expect_ms).abs() < 1e-5 * expect_ms,
            "{} vs {expect_ms}",
            r.mean_delay * 1e3
        );
        let short = net.arc_between(0, 1).unwrap();
        assert!(
            (r.solution.checked.arc_load[short] / 1e6 - x).abs() < 1e-2,
            "{x}"
        );
    }

    #[test]
    fn bounds_below_the_optimum_and_overload_are_refused() {
        let net = two_routes();
        let opts = DelayOptions {
            max_mlu: MluBound::Absolute(0.3),
            ..Default::default()
        };
        assert!(matches!(
            min_mean_delay(&net, &tm(), &opts),
            Err(DelayError::BoundBelowOptimum { .. })
        ));
        assert!(matches!(
            min_mean_delay(&net, &tm().scaled(3.0), &Default::default()),
            Err(DelayError::Overloaded { .. })
        ));
    }
}

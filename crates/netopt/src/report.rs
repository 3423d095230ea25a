//! One entry point for routing a matrix and reporting the answer as data: what `doppel route`
//! prints as JSON and what the server's Network view draws (topology coloured by
//! utilization, weight changes, the failure table).
//!
//! [`Router`] keeps the state a real-time loop carries from one matrix to the next (the
//! column pool of the last LP, the weights of the last IGP search), so [`Router::route`]
//! re-optimizes warm when the traffic shifts. The clock is injected: the caller passes a
//! function returning seconds, and `solve_seconds` is the difference it measured around the
//! solve.

use serde::Serialize;
use serde_json::Value;

use crate::colgen::{ColumnOptions, min_mlu_columns};
use crate::delay::{DelayError, DelayOptions, mean_delay, min_mean_delay};
use crate::failure::{self, FailureError, Reroute};
use crate::igp::{self, IgpError, IgpOptions};
use crate::lp::{self, LpError};
use crate::network::{NetError, Network, TrafficMatrix};
use crate::paths::PathSet;
use crate::robust::{self, RobustResult, Scenarios};
use crate::solution::Solution;

/// How to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMethod {
    /// The min-MLU optimum over all paths.
    Lp,
    /// The min-MLU split over candidate paths (tunnels or k shortest).
    LpPaths,
    /// IGP weights found by local search, routed by ECMP.
    Igp,
    /// ECMP under the current IGP weights.
    Ecmp,
}

/// What to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// The maximum link utilization.
    Mlu,
    /// The mean delay, under an MLU bound ([`DelayOptions::max_mlu`]).
    Delay,
}

/// What to compute for a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRequest {
    /// How to route.
    pub method: RouteMethod,
    /// What to minimise (`Delay` needs `Lp`).
    pub objective: Objective,
    /// Candidate paths for `LpPaths`; `None` means the `k` shortest.
    pub tunnels: Option<PathSet>,
    /// Paths per pair for `LpPaths` without tunnels.
    pub k: usize,
    /// The IGP search's settings.
    pub igp: IgpOptions,
    /// The delay objective's settings (its packet size is also used to report every
    /// routing's mean delay).
    pub delay: DelayOptions,
    /// Also analyse every single link failure and keep the `n` worst.
    pub failures: Option<usize>,
    /// Re-optimize from the previous matrix's answer (column pool, IGP weights).
    pub warm: bool,
    /// Also compute the LP optimum beside ECMP and IGP answers.
    pub reference: bool,
}

impl Default for RouteRequest {
    fn default() -> Self {
        RouteRequest {
            method: RouteMethod::Lp,
            objective: Objective::Mlu,
            tunnels: None,
            k: 4,
            igp: IgpOptions::default(),
            delay: DelayOptions::default(),
            failures: None,
            warm: true,
            reference: true,
        }
    }
}

/// Why a matrix could not be routed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    /// An LP failed.
    #[error(transparent)]
    Lp(#[from] LpError),
    /// The delay optimization failed.
    #[error(transparent)]
    Delay(#[from] DelayError),
    /// ECMP or the IGP search failed.
    #[error(transparent)]
    Igp(#[from] IgpError),
    /// The failure analysis failed.
    #[error(transparent)]
    Failure(#[from] FailureError),
    /// Bad weights.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A combination that makes no sense.
    #[error("{0}")]
    Request(String),
}

/// One arc of the network with the routing's load on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    /// Tail router.
    pub from: String,
    /// Head router.
    pub to: String,
    /// The physical link.
    pub link: String,
    /// False when failed.
    pub up: bool,
    /// Capacity, bit/s.
    pub capacity_bps: f64,
    /// Load, bit/s.
    pub load_bps: f64,
    /// Load / capacity.
    pub utilization: f64,
    /// One-way latency, seconds.
    pub latency_s: f64,
}

/// An arc's IGP weight before and after a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightReport {
    /// Tail router.
    pub from: String,
    /// Head router.
    pub to: String,
    /// The physical link.
    pub link: String,
    /// The proposed weight.
    pub weight: f64,
    /// The weight the search started from (the one in force).
    pub was: f64,
}

/// One row of the single-link failure table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    /// The failed link.
    pub failed: String,
    /// MLU after re-routing.
    pub mlu: f64,
    /// Traffic that can no longer be carried, bit/s.
    pub stranded_bps: f64,
    /// The link at that MLU.
    pub worst_link: Option<String>,
}

/// How a warm-started LP went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarmReport {
    /// Whether the previous answer seeded this one.
    pub warm: bool,
    /// Master LPs solved.
    pub rounds: usize,
    /// Paths the pool started with.
    pub initial_columns: usize,
    /// Paths added by pricing.
    pub added_columns: usize,
}

/// A routing of one matrix, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteReport {
    /// Index of the matrix in its file, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<usize>,
    /// How it was computed (`lp-edges`, `lp-columns`, `lp-paths`, `lp-delay`, `ecmp`, `igp`).
    pub method: String,
    /// `mlu` or `delay`.
    pub objective: String,
    /// Maximum link utilization, recomputed from the flows.
    pub mlu: f64,
    /// Wall time of the solve, seconds, by the caller's clock.
    pub solve_seconds: f64,
    /// Mean delay of the traffic (propagation + M/M/1 queueing), ms; null when a link is
    /// saturated.
    pub mean_delay_ms: f64,
    /// Certified lower bound on the optimum MLU (LPs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<f64>,
    /// The optimal MLU, beside ECMP, IGP and delay answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lp_optimum: Option<f64>,
    /// `mlu / lp_optimum − 1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<f64>,
    /// MLU under the weights in force before the search (IGP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_mlu: Option<f64>,
    /// The MLU bound the delay objective kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlu_bound: Option<f64>,
    /// A lower bound on the mean delay within that bound, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_lower_bound_ms: Option<f64>,
    /// How the warm start went (LP with warm start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<WarmReport>,
    /// Every arc, up or down.
    pub links: Vec<LinkReport>,
    /// Proposed IGP weights, per arc (IGP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<WeightReport>>,
    /// The worst single-link failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<FailureRow>>,
}

impl RouteReport {
    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The arcs of `net` with the loads of `sol`.
pub fn link_reports(net: &Network, sol: &Solution) -> Vec<LinkReport> {
    let util = sol.checked.utilization(net);
    net.arcs()
        .iter()
        .enumerate()
        .map(|(i, a)| LinkReport {
            from: net.nodes()[a.from].clone(),
            to: net.nodes()[a.to].clone(),
            link: net.links()[a.link].clone(),
            up: a.up,
            capacity_bps: a.capacity,
            load_bps: sol.checked.arc_load[i],
            utilization: util[i],
            latency_s: a.latency,
        })
        .collect()
}

/// Routes matrices one after another, carrying the last answer forward as a warm start.
#[derive(Debug, Clone)]
pub struct Router {
    net: Network,
    columns: Option<PathSet>,
    weights: Option<Vec<f64>>,
}

impl Router {
    /// A router over `net` (failed links already down).
    pub fn new(net: Network) -> Self {
        Router {
            net,
            columns: None,
            weights: None,
        }
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Forgets the previous answer: the next solve is cold.
    pub fn reset(&mut self) {
        self.columns = None;
        self.weights = None;
    }

    /// Routes `tm` as `req` says; `clock` returns seconds (any origin) and times the solve.
    pub fn route(
        &mut self,
        tm: &TrafficMatrix,
        req: &RouteRequest,
        clock: &mut dyn FnMut() -> f64,
    ) -> Result<RouteReport, RouteError> {
        if req.objective == Objective::Delay && req.method != RouteMethod::Lp {
            return Err(RouteError::Request(
                "the delay objective is solved by LP: use the `lp` method".into(),
            ));
        }
        let net = &self.net;
        let start = clock();
        let mut weights_out = None;
        let mut initial_mlu = None;
        let mut warm_report = None;
        let mut mlu_bound = None;
        let mut delay_lb = None;
        let mut paths_used = None;
        let solution = match (req.objective, req.method) {
            (Objective::Delay, _) => {
                let r = min_mean_delay(net, tm, &req.delay)?;
                mlu_bound = Some(r.mlu_bound);
                delay_lb = Some(r.delay_lower_bound * 1e3);
                r.solution
            }
            (Objective::Mlu, RouteMethod::Lp) => {
                if req.warm {
                    let r =
                        min_mlu_columns(net, tm, self.columns.as_ref(), &ColumnOptions::default())?;
                    warm_report = Some(WarmReport {
                        warm: r.warm,
                        rounds: r.rounds,
                        initial_columns: r.initial_columns,
                        added_columns: r.added_columns,
                    });
                    self.columns = Some(r.columns);
                    r.solution
                } else {
                    lp::min_mlu_edges(net, tm)?
                }
            }
            (Objective::Mlu, RouteMethod::LpPaths) => {
                let ps = match &req.tunnels {
                    Some(t) => t.clone(),
                    None => PathSet::k_shortest(net, tm, req.k),
                };
                let s = lp::min_mlu_paths(net, tm, &ps)?;
                paths_used = Some(ps);
                s
            }
            (Objective::Mlu, RouteMethod::Ecmp) => igp::ecmp(net, tm, &net.weights())?,
            (Objective::Mlu, RouteMethod::Igp) => {
                let mut from = net.clone();
                if let (true, Some(w)) = (req.warm, &self.weights) {
                    from.set_weights(w)?;
                }
                let r = igp::optimize_weights(&from, tm, &req.igp)?;
                initial_mlu = Some(r.initial_mlu);
                weights_out = Some(
                    from.arcs()
                        .iter()
                        .zip(&r.weights)
                        .map(|(a, &w)| WeightReport {
                            from: net.nodes()[a.from].clone(),
                            to: net.nodes()[a.to].clone(),
                            link: net.links()[a.link].clone(),
                            weight: w,
                            was: a.weight,
                        })
                        .collect::<Vec<_>>(),
                );
                self.weights = Some(r.weights);
                r.solution
            }
        };
        let solve_seconds = (clock() - start).max(0.0);
        let lp_optimum = match (req.method, req.objective) {
            (RouteMethod::Ecmp | RouteMethod::Igp, _) | (_, Objective::Delay) if req.reference => {
                Some(lp::min_mlu_edges(net, tm)?.mlu())
            }
            _ => None,
        };
        let failures = match req.failures {
            Some(n) => {
                let w = self.weights.clone().unwrap_or_else(|| net.weights());
                let how = match (req.method, &paths_used) {
                    (RouteMethod::LpPaths, Some(ps)) => Reroute::Tunnels(ps),
                    (RouteMethod::Lp, _) => Reroute::Optimal,
                    _ => Reroute::Ecmp(&w),
                };
                let rep = failure::single_link_failures(net, tm, how)?;
                Some(
                    rep.cases
                        .iter()
                        .take(n)
                        .map(|c| FailureRow {
                            failed: c.what.clone(),
                            mlu: c.mlu,
                            stranded_bps: c.stranded_rate(),
                            worst_link: c
                                .worst_arc
                                .map(|a| net.links()[net.arcs()[a].link].clone()),
                        })
                        .collect(),
                )
            }
            None => None,
        };
        let mlu = solution.mlu();
        Ok(RouteReport {
            matrix: None,
            method: solution.method.name().to_owned(),
            objective: match req.objective {
                Objective::Mlu => "mlu",
                Objective::Delay => "delay",
            }
            .to_owned(),
            mlu,
            solve_seconds,
            mean_delay_ms: 1e3
                * mean_delay(
                    net,
                    &solution.checked.arc_load,
                    tm.total(),
                    req.delay.packet_bits,
                ),
            lower_bound: solution.lower_bound,
            lp_optimum,
            gap: lp_optimum.map(|o| if o > 0.0 { mlu / o - 1.0 } else { 0.0 }),
            initial_mlu,
            mlu_bound,
            delay_lower_bound_ms: delay_lb,
            warm_start: warm_report,
            links: link_reports(net, &solution),
            weights: weights_out,
            failures,
        })
    }
}

/// Routes one matrix cold and returns the report as JSON: the library call the server's
/// Network view uses. `clock` returns seconds.
pub fn route_json(
    net: &Network,
    tm: &TrafficMatrix,
    req: &RouteRequest,
    clock: &mut dyn FnMut() -> f64,
) -> Result<Value, RouteError> {
    Ok(Router::new(net.clone()).route(tm, req, clock)?.to_json())
}

/// One row of a robust routing's scenario table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRow {
    /// Index of the matrix.
    pub matrix: usize,
    /// The failed link, or null for the intact network.
    pub failed: Option<String>,
    /// MLU, recomputed.
    pub mlu: f64,
    /// The link at that MLU.
    pub worst_link: Option<String>,
    /// Traffic with no surviving tunnel, bit/s.
    pub stranded_bps: f64,
}

/// A robust routing, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustReport {
    /// Always `robust`.
    pub method: String,
    /// The worst MLU over all scenarios, recomputed from the flows.
    pub mlu: f64,
    /// The LP's guarantee (no scenario exceeds it).
    pub guaranteed_mlu: f64,
    /// Wall time, seconds, by the caller's clock.
    pub solve_seconds: f64,
    /// Matrices considered.
    pub matrices: usize,
    /// Whether single link failures were.
    pub link_failures: bool,
    /// Each matrix's own min-MLU over the same paths, intact network: what re-optimizing
    /// for every matrix would give (the price of robustness is the difference).
    pub per_matrix_optimum: Vec<f64>,
    /// Every scenario, worst first.
    pub scenarios: Vec<ScenarioRow>,
    /// Every arc with its highest load over the matrices, intact network.
    pub links: Vec<LinkReport>,
}

impl RobustReport {
    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The routing over `paths` with the least worst-case MLU over `matrices` (and every single
/// link failure when asked), with its scenario table; `clock` returns seconds.
pub fn robust_report(
    net: &Network,
    matrices: &[TrafficMatrix],
    paths: &PathSet,
    scenarios: Scenarios,
    clock: &mut dyn FnMut() -> f64,
) -> Result<RobustReport, RouteError> {
    let start = clock();
    let r: RobustResult = robust::min_worst_mlu(net, matrices, paths, scenarios)?;
    let solve_seconds = (clock() - start).max(0.0);
    let per_matrix_optimum = matrices
        .iter()
        .map(|tm| lp::min_mlu_paths(net, tm, paths).map(|s| s.mlu()))
        .collect::<Result<Vec<_>, _>>()?;
    let name = |l: Option<usize>| l.map(|l| net.links()[l].clone());
    let arc_link = |a: Option<usize>| a.map(|a| net.links()[net.arcs()[a].link].clone());
    // Highest load per arc over the matrices, intact network.
    let mut load = vec![0.0_f64; net.arcs().len()];
    for tm in matrices {
        let mut flows = Vec::new();
        for d in tm.demands() {
            if let Some((_, ps)) = r.routing.pairs.iter().find(|(k, _)| *k == (d.src, d.dst)) {
                let total: f64 = ps.iter().map(|(_, w)| w).sum();
                for (p, w) in ps {
                    if *w > 0.0 && total > 0.0 {
                        flows.push(crate::check::PathFlow {
                            src: d.src,
                            dst: d.dst,
                            path: p.clone(),
                            rate: d.rate * w / total,
                        });
                    }
                }
            }
        }
        let checked = crate::check::verify(net, tm, &crate::check::Flow::Paths(flows))
            .map_err(LpError::from)?;
        for (l, x) in load.iter_mut().zip(&checked.arc_load) {
            *l = l.max(*x);
        }
    }
    let links = net
        .arcs()
        .iter()
        .enumerate()
        .map(|(i, a)| LinkReport {
            from: net.nodes()[a.from].clone(),
            to: net.nodes()[a.to].clone(),
            link: net.links()[a.link].clone(),
            up: a.up,
            capacity_bps: a.capacity,
            load_bps: load[i],
            utilization: load[i] / a.capacity,
            latency_s: a.latency,
        })
        .collect();
    Ok(RobustReport {
        method: "robust".into(),
        mlu: r.worst_mlu(),
        guaranteed_mlu: r.guaranteed_mlu,
        solve_seconds,
        matrices: matrices.len(),
        link_failures: scenarios.link_failures,
        per_matrix_optimum,
        scenarios: r
            .scenarios
            .iter()
            .map(|s| ScenarioRow {
                matrix: s.matrix,
                failed: name(s.failed),
                mlu: s.mlu,
                worst_link: arc_link(s.worst_arc),
                stranded_bps: s.stranded,
            })
            .collect(),
        links,
    })
}

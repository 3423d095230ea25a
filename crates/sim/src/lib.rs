//! Doppel's simulator: a deterministic discrete-event engine and analytic queueing models.
//!
//! * [`compile::compile`] turns a twin (`doppel_model::Twin`) into the engine's [`SimNet`];
//! * [`simulate`] runs a [`SimNet`] for a [`SimConfig`] and returns a [`SimReport`];
//! * [`scenario::compile_scenario`] turns a twin and a what-if scenario into a [`SimNet`] and
//!   a [`Plan`] (faults, load shapes, resilience, autoscaling, rollouts, SLOs), which
//!   [`simulate_plan`] runs, adding a timeline and SLO verdicts to the report;
//! * [`analytic`] holds the closed-form and MVA solvers (the instant estimate, and the
//!   reference the engine is validated against);
//! * [`mod@bench`] builds the benchmark networks `doppel bench` times.
//!
//! Same network, configuration and seed give the same report, byte for byte, whatever the number
//! of threads: replication `r` draws from its own random stream and replications are merged in
//! replication order.

pub mod analysis;
pub mod analytic;
pub mod bench;
pub mod compile;
pub mod dist;
mod engine;
pub mod net;
pub mod plan;
pub mod report;
pub mod report_html;
pub mod rng;
pub mod scenario;
mod stats;

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

pub use dist::{Dist, Empirical};
pub use net::{
    Breaker, Call, Endpoint, Flow, FlowStep, Host, Instance, Jitter, Load, LoadBalancing, NetError,
    Retry, RetryBudget, Service, SimNet, Step, Workload,
};
pub use plan::Plan;
pub use report::SimReport;

/// How long and how often to simulate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Simulated seconds per replication, warm-up included.
    pub duration: f64,
    /// Leading seconds excluded from statistics.
    pub warmup: f64,
    /// Seed of all random streams.
    pub seed: u64,
    /// Independent replications (≥ 1), run in parallel.
    pub replications: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            duration: 600.0,
            warmup: 60.0,
            seed: 1,
            replications: 1,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The network is inconsistent.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The run configuration is out of range.
    #[error("invalid run configuration: {0}")]
    Config(String),
    /// The caller cancelled the run (see [`simulate_plan_cancellable`]).
    #[error("the run was cancelled")]
    Cancelled,
}

/// Simulates `net` under `cfg`: `cfg.replications` independent replications on the current
/// rayon thread pool, merged in replication order. No timeline, no SLOs: see [`simulate_plan`].
pub fn simulate(net: &SimNet, cfg: &SimConfig) -> Result<SimReport, SimError> {
    simulate_plan(net, &Plan::default(), cfg, &|_, _| {})
}

/// Simulates `net` under `plan` (scenario actions, controllers, SLOs, timeline) and `cfg`.
/// `progress(replication, simulated_seconds)` is called now and then from the worker threads
/// (the library never reads the clock or prints; the caller may draw a progress bar).
pub fn simulate_plan(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<SimReport, SimError> {
    simulate_range(
        net,
        plan,
        cfg,
        0,
        cfg.replications,
        progress,
        &AtomicBool::new(false),
    )
}

/// As [`simulate_plan`], stopping early when `cancel` is set: every replication looks at the
/// flag every few thousand events (no clock, no IO) and replications not yet started do not
/// start, so the worker threads are free again within milliseconds; the result is then
/// [`SimError::Cancelled`].
pub fn simulate_plan_cancellable(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    progress: &(dyn Fn(u32, f64) + Sync),
    cancel: &AtomicBool,
) -> Result<SimReport, SimError> {
    simulate_range(net, plan, cfg, 0, cfg.replications, progress, cancel)
}

/// Simulates replication `replication` of the run `cfg` describes, alone (`cfg.replications`
/// is ignored): the same random stream, hence the same numbers, as that replication inside a
/// full run of `cfg.seed`. Distributed sweeps run one replication per task with it; the
/// report is that of a one-replication run.
pub fn simulate_replication(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    replication: u32,
) -> Result<SimReport, SimError> {
    simulate_range(
        net,
        plan,
        cfg,
        replication,
        1,
        &|_, _| {},
        &AtomicBool::new(false),
    )
}

fn simulate_range(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    first: u32,
    count: u32,
    progress: &(dyn Fn(u32, f64) + Sync),
    cancel: &AtomicBool,
) -> Result<SimReport, SimError> {
    if !(cfg.duration.is_finite() && cfg.duration > 0.0) {
        return Err(SimError::Config("duration must be finite and > 0".into()));
    }
    if !(cfg.warmup.is_finite() && cfg.warmup >= 0.0 && cfg.warmup < cfg.duration) {
        return Err(SimError::Config(
            "warm-up must be >= 0 and shorter than the duration".into(),
        ));
    }
    if count == 0 {
        return Err(SimError::Config(
            "at least one replication is needed".into(),
        ));
    }
    scenario::check_plan(net, plan).map_err(SimError::Config)?;
    let prepared = engine::Prepared::new(net, &plan.dynamic_hosts)?;
    let run = engine::RunCfg {
        duration: cfg.duration,
        warmup: cfg.warmup,
        seed: cfg.seed,
    };
    let reps: Option<Vec<stats::RepStats>> = (first..first + count)
        .into_par_iter()
        .map(|r| engine::run_replication(&prepared, plan, run, r, progress, cancel))
        .collect();
    let reps = reps.ok_or(SimError::Cancelled)?;
    let info = report::RunInfo {
        duration: cfg.duration,
        warmup: cfg.warmup,
        seed: cfg.seed,
    };
    Ok(report::build(net, plan, &info, &reps))
}

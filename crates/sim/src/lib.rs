//! Doppel's simulator: a deterministic discrete-event engine and analytic queueing models.
//!
//! * [`compile::compile`] turns a twin (`doppel_model::Twin`) into the engine's [`SimNet`];
//! * [`simulate`] runs a [`SimNet`] for a [`SimConfig`] and returns a [`SimReport`];
//! * [`analytic`] holds the closed-form and MVA solvers (the instant estimate, and the
//!   reference the engine is validated against);
//! * [`mod@bench`] builds the benchmark networks `doppel bench` times.
//!
//! Same network, configuration and seed give the same report, byte for byte, whatever the number
//! of threads: replication `r` draws from its own random stream and replications are merged in
//! replication order.

pub mod analytic;
pub mod bench;
pub mod compile;
pub mod dist;
mod engine;
pub mod net;
pub mod report;
pub mod rng;
mod stats;

use rayon::prelude::*;

pub use dist::{Dist, Empirical};
pub use net::{
    Breaker, Call, Endpoint, Flow, FlowStep, Host, Instance, Jitter, Load, LoadBalancing, NetError,
    Retry, Service, SimNet, Step, Workload,
};
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
}

/// Simulates `net` under `cfg`: `cfg.replications` independent replications on the current
/// rayon thread pool, merged in replication order.
pub fn simulate(net: &SimNet, cfg: &SimConfig) -> Result<SimReport, SimError> {
    if !(cfg.duration.is_finite() && cfg.duration > 0.0) {
        return Err(SimError::Config("duration must be finite and > 0".into()));
    }
    if !(cfg.warmup.is_finite() && cfg.warmup >= 0.0 && cfg.warmup < cfg.duration) {
        return Err(SimError::Config(
            "warm-up must be >= 0 and shorter than the duration".into(),
        ));
    }
    if cfg.replications == 0 {
        return Err(SimError::Config(
            "at least one replication is needed".into(),
        ));
    }
    let prepared = engine::Prepared::new(net)?;
    let run = engine::RunCfg {
        duration: cfg.duration,
        warmup: cfg.warmup,
        seed: cfg.seed,
    };
    let reps: Vec<stats::RepStats> = (0..cfg.replications)
        .into_par_iter()
        .map(|r| engine::run_replication(&prepared, run, r))
        .collect();
    let info = report::RunInfo {
        duration: cfg.duration,
        warmup: cfg.warmup,
        seed: cfg.seed,
    };
    Ok(report::build(net, &info, &reps))
}

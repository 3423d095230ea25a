//! One task of a sweep (a scenario with parameter values, one replication), the compiled
//! scenario it runs on, and what it measures.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::spec::{Setting, patch_of};
use crate::{Result, SweepError};

/// One unit of work. Self-contained but for the bundle, which it names by hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The sweep's id.
    pub sweep: String,
    /// The task's index in the sweep (its id within it).
    pub index: u32,
    /// Index of its (scenario, values) pair: the row of the results table.
    pub variant: u32,
    /// Content hash of the bundle.
    pub bundle: String,
    /// The scenario file (a path in the bundle).
    pub scenario: String,
    /// Parameter values.
    pub settings: Vec<Setting>,
    /// The replication, which selects the random stream.
    pub replication: u32,
    /// The sweep's seed.
    pub seed: u64,
    /// Default simulated seconds (a scenario's `duration` wins).
    pub duration: f64,
    /// Default warm-up seconds (a scenario's `warmup` wins).
    pub warmup: f64,
}

/// A scenario with its parameter values, compiled for the simulator.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The scenario's display name.
    pub name: String,
    /// Simulated seconds.
    pub duration: f64,
    /// Warm-up seconds.
    pub warmup: f64,
    /// The compiled network and plan.
    pub compiled: doppel_sim::scenario::Compiled,
}

impl Variant {
    /// Reads `scenario` from the bundle, applies the `settings` on top of its `changes`,
    /// checks it against `twin` and compiles it. Problems name the file, line and field.
    pub fn prepare(
        bundle: &Bundle,
        twin: &doppel_model::Twin,
        scenario: &str,
        settings: &[Setting],
        default_duration: f64,
        default_warmup: f64,
    ) -> Result<Variant> {
        use doppel_model::scenario as sc;
        let mut loaded = sc::load_scenario(Path::new(scenario), |p| bundle.read(p));
        if !settings.is_empty() && loaded.is_valid() {
            let patch = patch_of(settings);
            match &mut loaded.scenario.changes {
                Some(changes) => sc::merge_patch(changes, &patch),
                none => *none = Some(patch),
            }
        }
        let mut patched = twin.clone();
        if loaded.is_valid() {
            patched = sc::apply_changes(&mut loaded, twin);
        }
        if loaded.is_valid() {
            sc::check(&mut loaded, &patched);
        }
        if !loaded.is_valid() {
            let mut lines: Vec<String> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect();
            if !settings.is_empty() {
                let values: Vec<String> = settings
                    .iter()
                    .map(|s| format!("{}={}", s.name, s.value))
                    .collect();
                lines.push(format!(
                    "(with the swept values {}; they are part of `changes`)",
                    values.join(", ")
                ));
            }
            return Err(SweepError::Invalid(lines.join("\n")));
        }
        let s = &loaded.scenario;
        let duration = s.duration.map_or(default_duration, |d| d.as_secs_f64());
        let warmup = s.warmup.map_or(default_warmup, |d| d.as_secs_f64());
        let compiled = doppel_sim::scenario::compile_scenario(&patched, &loaded, duration)
            .map_err(|e| SweepError::Sim {
                file: scenario.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Variant {
            name: loaded.display_name(),
            duration,
            warmup,
            compiled,
        })
    }

    /// Prepares the variant a task runs on.
    pub fn for_task(bundle: &Bundle, twin: &doppel_model::Twin, task: &Task) -> Result<Variant> {
        Variant::prepare(
            bundle,
            twin,
            &task.scenario,
            &task.settings,
            task.duration,
            task.warmup,
        )
    }
}

/// A workload's figures in one replication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadFigures {
    /// The workload.
    pub name: String,
    /// Completed requests per second after the warm-up.
    pub throughput_rps: f64,
    /// Failed / (completed + failed).
    pub error_rate: f64,
    /// Mean latency of successful requests, ms.
    pub mean_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// An SLO's verdict in one replication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloFigures {
    /// The SLO.
    pub name: String,
    /// E.g. `p99 <= 300 ms`.
    pub objective: String,
    /// `ms` or `%`.
    pub unit: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// What was achieved (none without data).
    pub achieved: Option<f64>,
    /// How far past the threshold (positive when broken).
    pub excess: Option<f64>,
    /// Whether the objective held.
    pub met: bool,
}

/// What one task measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The scenario's display name.
    pub scenario: String,
    /// One entry per workload, in the twin's order.
    pub workloads: Vec<WorkloadFigures>,
    /// One entry per SLO (the twin's, then the scenario's).
    pub slos: Vec<SloFigures>,
    /// Endpoint visits simulated (for throughput figures).
    pub visits: u64,
}

/// A task's outcome, as workers publish it and the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task's index.
    pub index: u32,
    /// What it measured, or why it could not run.
    pub outcome: std::result::Result<Measured, String>,
}

/// Runs `task` on its compiled `variant` (one replication, on the calling thread).
pub fn run_task(variant: &Variant, task: &Task) -> TaskResult {
    let cfg = doppel_sim::SimConfig {
        duration: variant.duration,
        warmup: variant.warmup,
        seed: task.seed,
        replications: 1,
    };
    let c = &variant.compiled;
    let outcome = doppel_sim::simulate_replication(&c.net, &c.plan, &cfg, task.replication)
        .map(|r| Measured {
            scenario: variant.name.clone(),
            workloads: r
                .workloads
                .iter()
                .map(|w| WorkloadFigures {
                    name: w.name.clone(),
                    throughput_rps: w.throughput_rps,
                    error_rate: w.error_rate,
                    mean_ms: w.latency_ms.mean,
                    p99_ms: w.latency_ms.p99,
                })
                .collect(),
            slos: r
                .slos
                .iter()
                .map(|v| SloFigures {
                    name: v.name.clone(),
                    objective: v.objective.clone(),
                    unit: v.unit.clone(),
                    threshold: v.threshold,
                    achieved: v.achieved,
                    excess: v.excess,
                    met: v.met,
                })
                .collect(),
            visits: r.summary.visits,
        })
        .map_err(|e| format!("{}: {e}", task.scenario));
    TaskResult {
        index: task.index,
        outcome,
    }
}

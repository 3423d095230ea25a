//! What a run computes: `estimate` (the analytic estimate), `simulate` (the twin as it is,
//! with its SLOs and a timeline) and `scenario` (a what-if in the scenario format, given as
//! YAML in `params.scenario`, simulated beside its baseline with the same seed), and the HTML
//! report of a finished run (`doppel_sim::report_html`, the same page `doppel simulate
//! --format html` writes).
//!
//! Pure functions of the twin and the parameters: the caller runs them on a worker thread,
//! passes the cancel flag and reads the progress (millionths of the whole run).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use doppel_model::Twin;
use doppel_model::scenario::{LoadedScenario, apply_changes, check, load_scenario_str};
use doppel_sim::scenario::{compile_scenario, plan_for_twin};
use doppel_sim::{Plan, SimConfig, SimNet, SimReport};
use serde_json::{Value, json};

use crate::Error;

/// The kinds of run.
pub const KINDS: [&str; 3] = ["simulate", "estimate", "scenario"];

/// A scenario checked against a twin: the scenario and the twin with its changes applied.
pub struct Checked {
    /// The scenario.
    pub loaded: LoadedScenario,
    /// The twin with the scenario's `changes`.
    pub twin: Twin,
}

/// Reads `params.scenario` (YAML) and checks it against `twin`; every problem, positioned,
/// in the error.
pub fn check_scenario(twin: &Twin, params: &Value) -> Result<Checked, Error> {
    let text = params
        .get("scenario")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::BadInput(
                "a `scenario` run needs `params.scenario`: the scenario as YAML text".into(),
            )
        })?;
    let mut loaded = load_scenario_str("scenario.yaml", text);
    let mut patched = twin.clone();
    if loaded.is_valid() {
        patched = apply_changes(&mut loaded, twin);
    }
    if loaded.is_valid() {
        check(&mut loaded, &patched);
    }
    if !loaded.is_valid() {
        let problems: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        return Err(Error::BadInput(format!(
            "the scenario is not valid: {}",
            problems.join("; ")
        )));
    }
    Ok(Checked {
        loaded,
        twin: patched,
    })
}

/// Checks a submission before it is queued: a known kind, and for a scenario a valid one.
pub fn check_submission(kind: &str, twin: &Twin, params: &Value) -> Result<(), Error> {
    if !KINDS.contains(&kind) {
        return Err(Error::BadInput(format!(
            "unknown run kind `{kind}`: expected `simulate`, `estimate` or `scenario`"
        )));
    }
    if kind == "scenario" {
        check_scenario(twin, params)?;
    }
    Ok(())
}

fn num(params: &Value, k: &str, d: f64) -> f64 {
    params.get(k).and_then(Value::as_f64).unwrap_or(d)
}

fn config(params: &Value, duration: Option<f64>, warmup: Option<f64>) -> SimConfig {
    SimConfig {
        duration: duration.unwrap_or_else(|| num(params, "duration", 120.0)),
        warmup: warmup.unwrap_or_else(|| num(params, "warmup", 10.0)),
        seed: num(params, "seed", 1.0) as u64,
        replications: num(params, "replications", 1.0).clamp(1.0, 64.0) as u32,
    }
}

/// Runs one simulation, reporting progress as `[base, base + share)` of the whole.
fn simulate(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    cancel: &AtomicBool,
    progress: &AtomicU64,
    (base, share): (f64, f64),
) -> Result<SimReport, Error> {
    // Each replication's share of the simulated time, in millionths.
    let per_rep: Vec<AtomicU64> = (0..cfg.replications).map(|_| AtomicU64::new(0)).collect();
    let report = |rep: u32, t: f64| {
        if let Some(r) = per_rep.get(rep as usize) {
            let done = (t / cfg.duration).clamp(0.0, 1.0) / f64::from(cfg.replications);
            r.store((done * 1e6) as u64, Ordering::Relaxed);
            let total: u64 = per_rep.iter().map(|x| x.load(Ordering::Relaxed)).sum();
            let whole = base + share * (total as f64 / 1e6).min(1.0);
            progress.store((whole * 1e6) as u64, Ordering::Relaxed);
        }
    };
    doppel_sim::simulate_plan_cancellable(net, plan, cfg, &report, cancel)
        .map_err(|e| Error::BadInput(e.to_string()))
}

/// The timeline's bucket: the scenario's, else `params.bucket`, else a 120th of the run (at
/// least a second).
fn bucket(params: &Value, duration: f64) -> f64 {
    num(params, "bucket", (duration / 120.0).max(1.0)).max(0.1)
}

/// Runs `kind` on `twin` with `params`.
pub fn execute(
    kind: &str,
    twin: &Twin,
    params: &Value,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Value, Error> {
    let twin_err = |e: &dyn std::fmt::Display| Error::Twin(e.to_string());
    let json = |r: serde_json::Result<Value>| r.map_err(|e| twin_err(&e));
    match kind {
        "estimate" => {
            let net = doppel_sim::compile::compile(twin).map_err(|e| twin_err(&e))?;
            let e = doppel_sim::analytic::estimate(&net).map_err(|e| twin_err(&e))?;
            json(serde_json::to_value(&e))
        }
        "simulate" => {
            let net = doppel_sim::compile::compile(twin).map_err(|e| twin_err(&e))?;
            let cfg = config(params, None, None);
            let plan = plan_for_twin(twin, &net, bucket(params, cfg.duration))
                .map_err(|e| twin_err(&e))?;
            let r = simulate(&net, &plan, &cfg, cancel, progress, (0.0, 1.0))?;
            json(serde_json::to_value(&r))
        }
        "scenario" => {
            let c = check_scenario(twin, params)?;
            let s = &c.loaded.scenario;
            let cfg = config(
                params,
                s.duration.map(|d| d.as_secs_f64()),
                s.warmup.map(|d| d.as_secs_f64()),
            );
            // The baseline shares the scenario's duration, warm-up, bucket and SLOs, nothing
            // else.
            let mut base = c.loaded.clone();
            base.scenario = doppel_model::Scenario {
                scenario: s.scenario,
                name: s.name.clone(),
                description: s.description.clone(),
                duration: s.duration,
                warmup: s.warmup,
                bucket: s.bucket,
                slos: s.slos.clone(),
                ..doppel_model::Scenario::default()
            };
            let mut scen =
                compile_scenario(&c.twin, &c.loaded, cfg.duration).map_err(|e| twin_err(&e))?;
            let mut basec =
                compile_scenario(twin, &base, cfg.duration).map_err(|e| twin_err(&e))?;
            if s.bucket.is_none() {
                let b = bucket(params, cfg.duration);
                scen.plan.bucket = b;
                basec.plan.bucket = b;
            }
            let b = simulate(&basec.net, &basec.plan, &cfg, cancel, progress, (0.0, 0.5))?;
            let r = simulate(&scen.net, &scen.plan, &cfg, cancel, progress, (0.5, 0.5))?;
            let flips: Vec<Value> = r
                .slos
                .iter()
                .zip(&b.slos)
                .filter(|(x, y)| x.met != y.met)
                .map(|(x, y)| json!({"name": x.name, "baseline_met": y.met, "scenario_met": x.met}))
                .collect();
            Ok(json!({
                "scenario_name": c.loaded.display_name(),
                "baseline": b,
                "scenario": r,
                "flips": flips,
            }))
        }
        other => Err(Error::BadInput(format!("unknown run kind `{other}`"))),
    }
}

/// The HTML report of a finished run's result: baseline and scenario side by side for a
/// scenario run, the run alone for a simulation; `None` for an estimate (no timeline).
pub fn report_html(id: i64, result: &Value) -> Result<Option<String>, Error> {
    let parse = |v: &Value| {
        serde_json::from_value::<SimReport>(v.clone())
            .map_err(|e| Error::BadInput(format!("run {id}: its result is not a report: {e}")))
    };
    if let (Some(b), Some(s)) = (result.get("baseline"), result.get("scenario")) {
        let name = result
            .get("scenario_name")
            .and_then(Value::as_str)
            .unwrap_or("scenario");
        return Ok(Some(doppel_sim::report_html::compare(
            &format!("What if: {name} (run {id})"),
            &parse(b)?,
            &parse(s)?,
        )));
    }
    if result.get("timeline").is_some() {
        return Ok(Some(doppel_sim::report_html::single(
            &format!("Simulation (run {id})"),
            &parse(result)?,
        )));
    }
    Ok(None)
}

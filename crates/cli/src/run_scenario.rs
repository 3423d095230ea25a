//! Shared by `simulate --scenario`, `compare` and `check`: reading a scenario file against a
//! twin (printing its diagnostics), compiling both for the simulator, and running a simulation
//! with a progress bar on the terminal for runs longer than a second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use doppel_model::scenario::{LoadedScenario, apply_changes, check, load_scenario};
use doppel_model::{Loaded, Twin};
use doppel_sim::scenario::{Compiled, compile_scenario, plan_for_twin};
use doppel_sim::{Plan, SimConfig, SimNet, SimReport};

/// A scenario read and checked against its twin.
pub struct Checked {
    /// The scenario file.
    pub loaded: LoadedScenario,
    /// The twin with the scenario's `changes` applied.
    pub twin: Twin,
}

/// Reads `path` and checks it against `twin`; prints every problem to stderr and returns
/// `None` when there is an error.
pub fn read(path: &Path, twin: &Loaded) -> std::io::Result<Option<Checked>> {
    let mut loaded = load_scenario(path, |p| std::fs::read(p));
    let mut patched = twin.twin.clone();
    if loaded.is_valid() {
        patched = apply_changes(&mut loaded, &twin.twin);
    }
    if loaded.is_valid() {
        check(&mut loaded, &patched);
    }
    if loaded.is_valid() {
        return Ok(Some(Checked {
            loaded,
            twin: patched,
        }));
    }
    let mut err = std::io::stderr().lock();
    for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
        writeln!(err, "{d}")?;
    }
    Ok(None)
}

/// The same scenario reduced to what a baseline run shares with it: duration, warm-up,
/// bucket and SLOs (no changes, load shapes, events, policies or autoscalers).
pub fn baseline_of(c: &Checked, twin: &Twin) -> Checked {
    let s = &c.loaded.scenario;
    let mut loaded = c.loaded.clone();
    loaded.scenario = doppel_model::Scenario {
        scenario: s.scenario,
        name: s.name.clone(),
        description: s.description.clone(),
        duration: s.duration,
        warmup: s.warmup,
        bucket: s.bucket,
        slos: s.slos.clone(),
        ..doppel_model::Scenario::default()
    };
    Checked {
        loaded,
        twin: twin.clone(),
    }
}

/// Compiles a checked scenario; `None` (after printing why) when it cannot be simulated.
pub fn compile(c: &Checked, duration: f64) -> std::io::Result<Option<Compiled>> {
    match compile_scenario(&c.twin, &c.loaded, duration) {
        Ok(x) => Ok(Some(x)),
        Err(e) => {
            writeln!(
                std::io::stderr().lock(),
                "cannot simulate {}: {e}",
                c.loaded.file
            )?;
            Ok(None)
        }
    }
}

/// Compiles a twin alone (its SLOs and a timeline of `bucket` seconds).
pub fn compile_twin(
    twin: &Twin,
    files: &[PathBuf],
    bucket: f64,
) -> std::io::Result<Option<(SimNet, Plan)>> {
    let first = files
        .first()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    let net = match doppel_sim::compile::compile(twin) {
        Ok(net) => net,
        Err(e) => {
            writeln!(std::io::stderr().lock(), "cannot simulate {first}: {e}")?;
            return Ok(None);
        }
    };
    match plan_for_twin(twin, &net, bucket) {
        Ok(plan) => Ok(Some((net, plan))),
        Err(e) => {
            writeln!(std::io::stderr().lock(), "cannot simulate {first}: {e}")?;
            Ok(None)
        }
    }
}

/// Runs a simulation on `threads` threads (0 = all cores), with a progress bar on stderr
/// after the first second, and fills in the wall time.
pub fn run(
    net: &SimNet,
    plan: &Plan,
    cfg: &SimConfig,
    threads: Option<usize>,
    label: &str,
) -> anyhow::Result<Result<SimReport, doppel_sim::SimError>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()?;
    let reps = cfg.replications.max(1) as usize;
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..reps).map(|_| AtomicU64::new(0)).collect());
    let total = (cfg.duration * reps as f64).max(1.0) as u64;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::hidden(),
    )
    .with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {percent}% of simulated time, {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    )
    .with_message(label.to_owned());
    let started = Instant::now();
    let ticker = std::thread::spawn({
        let bar = bar.clone();
        let done = Arc::clone(&done);
        move || {
            let mut shown = false;
            while !bar.is_finished() {
                if !shown && started.elapsed() >= StdDuration::from_secs(1) {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    shown = true;
                }
                let sum: f64 = done
                    .iter()
                    .map(|d| f64::from_bits(d.load(Ordering::Relaxed)))
                    .sum();
                bar.set_position(sum as u64);
                std::thread::sleep(StdDuration::from_millis(100));
            }
        }
    });
    let progress = |rep: u32, t: f64| {
        if let Some(d) = done.get(rep as usize) {
            d.store(t.to_bits(), Ordering::Relaxed);
        }
    };
    let result = pool.install(|| doppel_sim::simulate_plan(net, plan, cfg, &progress));
    let wall = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let _ = ticker.join();
    Ok(result.map(|mut r| {
        r.summary.wall_seconds = wall;
        r
    }))
}

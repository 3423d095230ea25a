//! `doppel simulate`: run the discrete-event simulator (or the analytic estimate) on a twin.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use clap::ValueEnum;
use doppel_model::Duration;

use crate::twin_files;

/// Output formats of `simulate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// A readable table.
    Text,
    /// JSON (the keys the UI and scripts read).
    Json,
}

/// Arguments of `doppel simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The twin's files.
    #[arg(required = true, value_name = "TWIN")]
    files: Vec<PathBuf>,
    /// Simulated time per replication, warm-up included.
    #[arg(long, default_value = "600s")]
    duration: Duration,
    /// Leading simulated time left out of the statistics.
    #[arg(long, default_value = "60s")]
    warmup: Duration,
    /// Seed of every random stream: same seed, same result.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Independent replications, run in parallel; 2 or more give confidence intervals.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Worker threads (default: all cores). The result does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print the instant analytic estimate (queueing formulas) instead of simulating.
    #[arg(long)]
    analytic: bool,
}

/// Runs `doppel simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(1));
    };
    let net = match doppel_sim::compile::compile(&loaded.twin) {
        Ok(net) => net,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "cannot simulate {}: {e}", args.files[0].display())?;
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    if args.analytic {
        let estimate = doppel_sim::analytic::estimate(&net).context("analytic estimate")?;
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &estimate)?;
                writeln!(out)?;
            }
            Format::Text => out.write_all(render_estimate(&estimate).as_bytes())?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = doppel_sim::SimConfig {
        duration: args.duration.as_secs_f64(),
        warmup: args.warmup.as_secs_f64(),
        seed: args.seed,
        replications: args.replications,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    let spinner = indicatif::ProgressBar::new_spinner().with_message(format!(
        "simulating {} × {} of {}",
        args.replications,
        args.duration,
        args.files[0].display()
    ));
    let started = Instant::now();
    // Show the spinner only for runs long enough to wonder about.
    let ticker = std::thread::spawn({
        let spinner = spinner.clone();
        move || {
            let shown_after = Instant::now() + StdDuration::from_secs(1);
            while !spinner.is_finished() {
                if Instant::now() >= shown_after {
                    spinner.tick();
                }
                std::thread::sleep(StdDuration::from_millis(50));
            }
        }
    });
    let result = pool.install(|| doppel_sim::simulate(&net, &cfg));
    let wall_seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let _ = ticker.join();
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            writeln!(std::io::stderr().lock(), "error: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    report.summary.wall_seconds = wall_seconds;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => out.write_all(report.to_text().as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn render_estimate(e: &doppel_sim::analytic::NetEstimate) -> String {
    use std::fmt::Write as _;
    let mut s =
        String::from("Analytic estimate (open queueing network, M/M/c per station)\n\nWorkloads\n");
    for w in &e.workloads {
        let _ = writeln!(
            s,
            "  {:<20} {:>10.2} req/s  mean latency {:>10.2} ms",
            w.name, w.throughput_rps, w.mean_latency_ms
        );
    }
    s.push_str("\nServices\n");
    for svc in &e.services {
        let flag = if svc.utilization >= 1.0 {
            "  SATURATED"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {:<20} {:>10.2} visits/s  utilization {:>6.1}%  in system {:>8.2}{flag}",
            svc.name,
            svc.throughput_rps,
            svc.utilization * 100.0,
            svc.mean_in_system
        );
    }
    s
}

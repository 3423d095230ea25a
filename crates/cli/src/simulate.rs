//! `doppel simulate`: run the discrete-event simulator (or the analytic estimate) on a twin,
//! optionally under a what-if scenario (`--scenario`), as text, JSON or a self-contained HTML
//! report.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use doppel_model::Duration;

use crate::{run_scenario, twin_files};
use doppel_sim::report_html;

/// Output formats of `simulate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// A readable table.
    Text,
    /// JSON (the keys the UI and scripts read).
    Json,
    /// A self-contained HTML report with timeline charts (open it in any browser, offline).
    Html,
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
    /// A what-if scenario to apply (faults, load shapes, policies, autoscaling, rollouts);
    /// see docs/SCENARIOS.md. Its `duration` and `warmup`, when given, win over the flags.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Width of a timeline bucket (the scenario's `bucket` wins).
    #[arg(long, default_value = "1s")]
    bucket: Duration,
    /// Write the output to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `doppel simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    if args.analytic {
        let net = match doppel_sim::compile::compile(&loaded.twin) {
            Ok(net) => net,
            Err(e) => {
                let mut err = std::io::stderr().lock();
                writeln!(err, "cannot simulate {}: {e}", args.files[0].display())?;
                return Ok(ExitCode::from(1));
            }
        };
        let estimate = doppel_sim::analytic::estimate(&net).context("analytic estimate")?;
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &estimate)?;
                writeln!(out)?;
            }
            Format::Text | Format::Html => {
                out.write_all(render_estimate(&estimate).as_bytes())?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut duration = args.duration.as_secs_f64();
    let mut warmup = args.warmup.as_secs_f64();
    let (net, plan, title) = match &args.scenario {
        Some(path) => {
            let Some(checked) = run_scenario::read(path, &loaded)? else {
                return Ok(ExitCode::from(1));
            };
            let s = &checked.loaded.scenario;
            duration = s.duration.map_or(duration, |d| d.as_secs_f64());
            warmup = s.warmup.map_or(warmup, |d| d.as_secs_f64());
            let Some(mut c) = run_scenario::compile(&checked, duration)? else {
                return Ok(ExitCode::from(1));
            };
            if s.bucket.is_none() {
                c.plan.bucket = args.bucket.as_secs_f64();
            }
            (c.net, c.plan, checked.loaded.display_name())
        }
        None => {
            let Some((net, plan)) =
                run_scenario::compile_twin(&loaded.twin, &args.files, args.bucket.as_secs_f64())?
            else {
                return Ok(ExitCode::from(1));
            };
            let name = loaded.twin.name.clone().unwrap_or_else(|| "twin".into());
            (net, plan, name)
        }
    };
    let cfg = doppel_sim::SimConfig {
        duration,
        warmup,
        seed: args.seed,
        replications: args.replications,
    };
    let label = format!("simulating {title}");
    let report = match run_scenario::run(&net, &plan, &cfg, args.threads, &label)? {
        Ok(r) => r,
        Err(e) => {
            writeln!(std::io::stderr().lock(), "error: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    let text = match args.format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(&report)?;
            t.push('\n');
            t
        }
        Format::Text => report.to_text(),
        Format::Html => report_html::single(&title, &report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out.write_all(text.as_bytes())?,
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

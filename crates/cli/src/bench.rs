//! `doppel bench`: the simulator's reference benchmarks, timed by this process.
//!
//! The tandem benchmark reports station visits per CPU second (process CPU time, so other
//! load on the machine does not count against it); the large twin reports wall time and the
//! process's peak resident memory.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use serde::Serialize;

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// 10 M/M/2 stations in series, λ=0.8/s, μ=0.5/s: station visits per CPU second.
    Tandem,
    /// A generated twin of 1,000 services, 10,000 instances, 200 hosts, 20k req/s, 60 s.
    Large,
    /// Both.
    All,
}

/// Arguments of `doppel bench`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A benchmark that takes its own inputs.
    #[command(subcommand)]
    sub: Option<BenchSub>,
    /// Which benchmark.
    #[arg(value_enum, default_value_t = Which::All)]
    which: Which,
    /// Customers through the tandem (each makes 10 station visits).
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Benchmarks with inputs of their own.
#[derive(Debug, clap::Subcommand)]
pub enum BenchSub {
    /// Score the anomaly detectors on NAB (windows, profiles, default and corpus-best
    /// thresholds) and the forecasters by MASE.
    Nab(crate::predict::NabArgs),
    /// Attack graph and paths on a generated estate (10,000 hosts, 100,000 vulnerabilities
    /// by default): build time, path time and peak memory.
    Attack(crate::attack::BenchAttackArgs),
}

#[derive(Debug, Serialize)]
struct Measured {
    name: &'static str,
    visits: u64,
    events: u64,
    sim_seconds: f64,
    wall_seconds: f64,
    cpu_seconds: f64,
    visits_per_cpu_second: f64,
    peak_rss_bytes: Option<u64>,
}

fn measure(name: &'static str, f: impl FnOnce() -> doppel_sim::bench::BenchResult) -> Measured {
    let wall = Instant::now();
    let cpu = cpu_time::ProcessTime::now();
    let r = f();
    let cpu_seconds = cpu.elapsed().as_secs_f64();
    Measured {
        name,
        visits: r.visits,
        events: r.events,
        sim_seconds: r.sim_seconds,
        wall_seconds: wall.elapsed().as_secs_f64(),
        cpu_seconds,
        visits_per_cpu_second: r.visits as f64 / cpu_seconds.max(1e-9),
        peak_rss_bytes: peak_rss(),
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), if the platform tells.
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `doppel bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.sub {
        Some(BenchSub::Nab(nab)) => return crate::predict::run_nab(nab),
        Some(BenchSub::Attack(a)) => return crate::attack::run_bench(a),
        None => {}
    }
    let mut results = Vec::new();
    let mut err = std::io::stderr().lock();
    if matches!(args.which, Which::Tandem | Which::All) {
        writeln!(
            err,
            "tandem: {} customers through 10 M/M/2 stations...",
            args.customers
        )?;
        results.push(measure("tandem", || {
            doppel_sim::bench::tandem(args.customers, args.seed)
        }));
    }
    if matches!(args.which, Which::Large | Which::All) {
        writeln!(
            err,
            "large: 1,000 services, 10,000 instances, 200 hosts, 20k req/s for 60 s..."
        )?;
        results.push(measure("large", || doppel_sim::bench::large(args.seed)));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &results)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for m in &results {
        let rss = m.peak_rss_bytes.map_or_else(
            || "n/a".to_owned(),
            |b| format!("{:.0} MiB", b as f64 / 1048576.0),
        );
        writeln!(
            out,
            "{:<7} {:>11} visits {:>11} events  {:>7.3} s wall  {:>7.3} s CPU  {:>6.2} M visits/CPU s  peak RSS {rss}",
            m.name,
            m.visits,
            m.events,
            m.wall_seconds,
            m.cpu_seconds,
            m.visits_per_cpu_second / 1e6
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

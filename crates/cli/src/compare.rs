//! `doppel compare TWIN --scenario S.yaml`: the baseline (the twin as it is, judged by the
//! same SLOs over the same time) and the scenario side by side, with confidence intervals over
//! replications and the SLOs whose verdict flips.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use doppel_model::Duration;
use doppel_sim::{SimConfig, SimReport};

use crate::{run_scenario, twin_files};
use doppel_sim::report_html;

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Text,
    /// JSON: `{baseline, scenario, flips}`.
    Json,
    /// A self-contained HTML report (baseline dashed, scenario solid).
    Html,
}

/// Arguments of `doppel compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The twin's files.
    #[arg(required = true, value_name = "TWIN")]
    files: Vec<PathBuf>,
    /// The what-if scenario.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Simulated time per replication (the scenario's `duration` wins).
    #[arg(long, default_value = "600s")]
    duration: Duration,
    /// Leading time left out of the statistics (the scenario's `warmup` wins).
    #[arg(long, default_value = "60s")]
    warmup: Duration,
    /// Seed (both runs use it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replications per run; the confidence intervals need 2 or more.
    #[arg(long, default_value_t = 5)]
    replications: u32,
    /// Worker threads (default: all cores). The result does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `doppel compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(checked) = run_scenario::read(&args.scenario, &loaded)? else {
        return Ok(ExitCode::from(1));
    };
    let s = &checked.loaded.scenario;
    let duration = s
        .duration
        .map_or(args.duration.as_secs_f64(), |d| d.as_secs_f64());
    let warmup = s
        .warmup
        .map_or(args.warmup.as_secs_f64(), |d| d.as_secs_f64());
    let base = run_scenario::baseline_of(&checked, &loaded.twin);
    let (Some(scen), Some(basec)) = (
        run_scenario::compile(&checked, duration)?,
        run_scenario::compile(&base, duration)?,
    ) else {
        return Ok(ExitCode::from(1));
    };
    let cfg = SimConfig {
        duration,
        warmup,
        seed: args.seed,
        replications: args.replications,
    };
    let name = checked.loaded.display_name();
    let run = |c: &doppel_sim::scenario::Compiled, label: &str| {
        run_scenario::run(&c.net, &c.plan, &cfg, args.threads, label)
    };
    let (b, r) = match (
        run(&basec, "baseline")?,
        run(&scen, &format!("scenario {name}"))?,
    ) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(e), _) | (_, Err(e)) => {
            writeln!(std::io::stderr().lock(), "error: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    let text = match args.format {
        Format::Text => render(&name, &b, &r),
        Format::Json => {
            let flips: Vec<serde_json::Value> = r
                .slos
                .iter()
                .zip(&b.slos)
                .filter(|(x, y)| x.met != y.met)
                .map(|(x, y)| {
                    serde_json::json!({
                        "name": x.name,
                        "baseline_met": y.met,
                        "scenario_met": x.met,
                        "baseline_achieved": y.achieved,
                        "scenario_achieved": x.achieved,
                    })
                })
                .collect();
            let mut t = serde_json::to_string_pretty(&serde_json::json!({
                "scenario_name": name,
                "baseline": b,
                "scenario": r,
                "flips": flips,
            }))?;
            t.push('\n');
            t
        }
        Format::Html => report_html::compare(&format!("What if: {name}"), &b, &r),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn ci(x: Option<[f64; 2]>) -> String {
    x.map_or("-".into(), |[lo, hi]| format!("{lo:.2}..{hi:.2}"))
}

/// The side-by-side table.
pub fn render(name: &str, b: &SimReport, r: &SimReport) -> String {
    let mut out = format!(
        "compare: baseline vs scenario `{name}` ({:.0} s, {:.0} s warm-up, {} replication(s), seed {})\n",
        r.summary.sim_seconds, r.summary.warmup_seconds, r.summary.replications, r.summary.seed
    );
    let _ = writeln!(
        out,
        "\nworkloads      {:>22} {:>22}",
        "baseline", "scenario"
    );
    for (wb, wr) in b.workloads.iter().zip(&r.workloads) {
        let _ = writeln!(out, "  {}", wb.name);
        let _ = writeln!(
            out,
            "    req/s      {:>22.2} {:>22.2}",
            wb.throughput_rps, wr.throughput_rps
        );
        let _ = writeln!(
            out,
            "    errors     {:>21.2}% {:>21.2}%",
            wb.error_rate * 100.0,
            wr.error_rate * 100.0
        );
        let _ = writeln!(
            out,
            "    mean ms    {:>22.2} {:>22.2}",
            wb.latency_ms.mean, wr.latency_ms.mean
        );
        let _ = writeln!(
            out,
            "    95% CI     {:>22} {:>22}",
            ci(wb.latency_ms.mean_ci95),
            ci(wr.latency_ms.mean_ci95)
        );
        let _ = writeln!(
            out,
            "    p99 ms     {:>22.2} {:>22.2}",
            wb.latency_ms.p99, wr.latency_ms.p99
        );
    }
    if !r.slos.is_empty() {
        let _ = writeln!(out, "\nslos");
        for (x, y) in r.slos.iter().zip(&b.slos) {
            let val = |v: &doppel_sim::report::SloVerdict| {
                format!(
                    "{} {}{}",
                    v.achieved
                        .map_or("no data".into(), |a| format!("{a:.2}{}", v.unit)),
                    if v.met { "met" } else { "BROKEN" },
                    v.achieved_ci95
                        .map_or(String::new(), |[lo, hi]| format!(" [{lo:.2}..{hi:.2}]"))
                )
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<26} baseline {:<30} scenario {}{}",
                x.name,
                x.objective,
                val(y),
                val(x),
                if x.met != y.met { "  <- flips" } else { "" }
            );
        }
    }
    let flips = r
        .slos
        .iter()
        .zip(&b.slos)
        .filter(|(x, y)| x.met != y.met)
        .count();
    let _ = writeln!(out, "\n{flips} SLO(s) flip");
    out
}

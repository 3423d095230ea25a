//! `doppel check TWIN --scenario S.yaml...`: the CI gate. Runs every scenario and exits 0
//! when every SLO holds in every one, 1 when one breaks (printing which, when and by how much),
//! 2 on bad input (a twin or scenario with errors, or one that cannot be simulated).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use doppel_model::Duration;
use doppel_sim::SimConfig;

use crate::{run_scenario, twin_files};

/// Arguments of `doppel check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The twin's files.
    #[arg(required = true, value_name = "TWIN")]
    files: Vec<PathBuf>,
    /// Scenarios to gate on (repeat the flag, or list several after it).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    scenario: Vec<PathBuf>,
    /// Simulated time per replication (a scenario's `duration` wins).
    #[arg(long, default_value = "600s")]
    duration: Duration,
    /// Leading time left out of the verdicts (a scenario's `warmup` wins).
    #[arg(long, default_value = "60s")]
    warmup: Duration,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replications per scenario (pooled for the verdicts).
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Worker threads (default: all cores). The verdicts do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `doppel check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(2));
    };
    let mut checked = Vec::new();
    for path in &args.scenario {
        match run_scenario::read(path, &loaded)? {
            Some(c) => checked.push(c),
            None => return Ok(ExitCode::from(2)),
        }
    }
    let mut out = std::io::stdout().lock();
    let mut broken = 0usize;
    let mut judged = 0usize;
    for c in &checked {
        let s = &c.loaded.scenario;
        let duration = s
            .duration
            .map_or(args.duration.as_secs_f64(), |d| d.as_secs_f64());
        let warmup = s
            .warmup
            .map_or(args.warmup.as_secs_f64(), |d| d.as_secs_f64());
        let Some(compiled) = run_scenario::compile(c, duration)? else {
            return Ok(ExitCode::from(2));
        };
        let cfg = SimConfig {
            duration,
            warmup,
            seed: args.seed,
            replications: args.replications,
        };
        let name = c.loaded.display_name();
        let report = match run_scenario::run(
            &compiled.net,
            &compiled.plan,
            &cfg,
            args.threads,
            &format!("checking {name}"),
        )? {
            Ok(r) => r,
            Err(e) => {
                writeln!(std::io::stderr().lock(), "{}: {e}", c.loaded.file)?;
                return Ok(ExitCode::from(2));
            }
        };
        for v in &report.slos {
            judged += 1;
            if v.met {
                writeln!(
                    out,
                    "ok    {name}: {} ({}): {}",
                    v.name,
                    v.objective,
                    v.achieved
                        .map_or("no data".into(), |a| format!("{a:.2} {}", v.unit))
                )?;
                continue;
            }
            broken += 1;
            let by = v.excess.map_or("no data to judge".into(), |e| {
                format!("by {e:.2} {}", v.unit)
            });
            let when = v.first_breach_s.map_or(String::new(), |t| {
                format!(
                    ", first breached at {t:.0} s, {:.0} s in breach",
                    v.breach_seconds
                )
            });
            writeln!(
                out,
                "FAIL  {name}: {} ({}) broken: achieved {} {by}{when}",
                v.name,
                v.objective,
                v.achieved
                    .map_or("nothing".into(), |a| format!("{a:.2} {}", v.unit)),
            )?;
        }
    }
    if judged == 0 {
        writeln!(
            std::io::stderr().lock(),
            "warning: no SLO to judge; add `slos` to the twin or the scenarios"
        )?;
    }
    writeln!(
        out,
        "{} scenario(s), {judged} SLO verdict(s), {broken} broken",
        checked.len()
    )?;
    Ok(if broken > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

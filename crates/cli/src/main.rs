//! The `doppel` binary: parses the command line, calls the libraries, prints the results.
//!
//! Each subcommand lives in its own module and returns the process exit code; this file only
//! wires clap to them.

mod attack;
mod bench;
mod check;
mod compare;
mod import;
mod plan;
mod predict;
mod route;
mod run_scenario;
mod serve;
mod show;
mod simulate;
mod sweep;
mod twin_files;
mod users;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// Doppel: a digital twin of your IT infrastructure. Mirror it, simulate what-ifs, predict
/// outages, and gate changes before they touch production.
#[derive(Debug, Parser)]
#[command(name = "doppel", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check twin files: syntax, types, units and every reference. Prints one problem per line
    /// as `FILE:LINE:COL: PATH: message`; exits 0 when valid, 1 when not.
    Validate {
        /// The twin's files (they are merged; `include` lists are followed).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also fail (exit 1) on warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Print a readable summary of a twin: counts, zones, services, workloads, the call graph.
    Show {
        /// The twin's files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Export the twin's topology graph (entities and relations with stable ids).
    Graph {
        /// The twin's files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format: Graphviz DOT or JSON.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Simulate the twin request by request: latency percentiles, errors, utilization, with
    /// confidence intervals over replications. Deterministic per seed.
    Simulate(simulate::SimulateArgs),
    /// Run a what-if scenario beside the baseline: both side by side with confidence
    /// intervals, and the SLOs that flip.
    Compare(compare::CompareArgs),
    /// CI gate: run scenarios; exit 0 when every SLO holds in every one, 1 when one breaks
    /// (which, when, by how much), 2 on bad input.
    Check(check::CheckArgs),
    /// Time the simulator on its reference benchmarks (visits per CPU second, wall time, memory).
    Bench(bench::BenchArgs),
    /// Build or update a twin from Terraform, Kubernetes, Ansible, NetBox or traces
    /// (OTLP, Jaeger). Secrets are redacted; merging is idempotent.
    Import(import::ImportArgs),
    /// Show what changed between two versions of a twin, by stable id.
    Diff(import::DiffArgs),
    /// Streaming anomaly detection on a `timestamp,value` CSV: a score and an alert per row.
    Detect(predict::DetectArgs),
    /// Forecast a series with prediction intervals, or when a resource fills up.
    Forecast(predict::ForecastArgs),
    /// User behaviour: learn cohorts from access logs, simulate each cohort's experience.
    Users(users::UsersArgs),
    /// Attack paths into the twin, the most likely one and the fixes that cut them;
    /// reachability between two points; blast radius of a compromised host.
    Attack(attack::AttackArgs),
    /// Optimize network routing from observed traffic: min-MLU traffic engineering, IGP
    /// weights, failures.
    Route(route::RouteArgs),
    /// Run the live twin: HTTP API, telemetry intake, drift and self-calibration.
    Serve(serve::ServeArgs),
    /// Start the live twin on the example shop with a built-in synthetic production.
    Demo(serve::DemoArgs),
    /// Test a proposed change (a Terraform plan, Kubernetes manifests) on the twin: what
    /// changes, the SLOs before and after, attack paths opened or closed. Exits like `check`.
    Plan(plan::PlanArgs),
    /// Run scenarios x parameter values x replications on all cores, or on the workers of a
    /// NATS JetStream cluster: one results table with confidence intervals and SLO verdicts.
    Sweep(sweep::SweepArgs),
    /// Serve the sweeps of a NATS JetStream cluster: pull tasks, run them, publish results.
    Worker(sweep::WorkerArgs),
    /// Print the JSON Schema of the twin format (for editors and other tools).
    Schema,
    /// Print a shell completion script, e.g. `doppel completions bash > /etc/bash_completion.d/doppel`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// JSON: `{nodes: [...], edges: [...]}`.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate { files, strict } => {
            let loaded = twin_files::load(&files);
            for d in &loaded.diagnostics {
                writeln!(out, "{d}")?;
            }
            let errors = loaded.errors().count();
            let warnings = loaded.diagnostics.len() - errors;
            let failed = errors > 0 || (strict && warnings > 0);
            if !failed {
                writeln!(out, "{}", show::one_line(&loaded))?;
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Show { files } => {
            let Some(loaded) = twin_files::load_valid(&files)? else {
                return Ok(ExitCode::from(1));
            };
            out.write_all(show::render(&loaded).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { files, format } => {
            let Some(loaded) = twin_files::load_valid(&files)? else {
                return Ok(ExitCode::from(1));
            };
            let graph = doppel_model::graph::Graph::of(&loaded.twin);
            match format {
                GraphFormat::Dot => out.write_all(
                    graph
                        .to_dot(loaded.twin.name.as_deref().unwrap_or("twin"))
                        .as_bytes(),
                )?,
                GraphFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &graph)?;
                    writeln!(out)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => simulate::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Import(args) => import::run(args),
        Command::Diff(args) => import::run_diff(args),
        Command::Detect(args) => predict::run_detect(args),
        Command::Forecast(args) => predict::run_forecast(args),
        Command::Users(args) => users::run(args),
        Command::Attack(args) => attack::run(args),
        Command::Route(args) => route::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => serve::run_demo(args),
        Command::Plan(args) => plan::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Worker(args) => sweep::run_worker(args),
        Command::Schema => {
            out.write_all(doppel_model::schema_json().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "doppel", &mut out);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

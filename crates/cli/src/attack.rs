//! `doppel attack`: attack paths from a starting point to targets, the most likely one and the
//! fixes that cut them (`--from`, `--to`), why a flow is allowed or denied (`--reach A B`), the
//! blast radius of a compromised host (`--blast-radius HOST`), and NASim scenarios solved
//! optimally (`--nasim FILE`), and the attack over time against detection (`--simulate`, with
//! `--what-if` changes and `--defense FILE`). Scans (`--scan FILE`: Nessus/OpenVAS/Nmap XML
//! attached to hosts by address, Trivy JSON to the services running the image) come first.
//! `doppel bench attack` times the graph and paths on a generated estate.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use doppel_security::analysis;
use doppel_security::campaign::{self, Defense};
use doppel_security::graph::Start;
use doppel_security::reach::Origin;
use doppel_security::{nasim, scan};

use crate::twin_files;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttackFormat {
    /// Readable text.
    Text,
    /// JSON (`paths[]` with `steps[]` of `host`, `technique`, `via`; `reachable_targets[]`;
    /// `mitigations[]` with `action`, `cost`, `paths_cut`).
    Json,
    /// Graphviz DOT of the attack paths.
    Dot,
}

/// Arguments of `doppel attack`.
#[derive(Debug, clap::Args)]
pub struct AttackArgs {
    /// The twin's files (they are merged; `include` lists are followed).
    #[arg(value_name = "FILE", required_unless_present = "nasim")]
    pub files: Vec<PathBuf>,
    /// Where the attacker starts: `internet`, an external IP address, or `host:NAME` (a
    /// foothold the attacker already holds as root).
    #[arg(long, default_value = "internet")]
    pub from: String,
    /// What the attacker wants: `tag:NAME` (hosts and services carrying it), `host:NAME` or
    /// `service:NAME`.
    #[arg(long, default_value = "tag:crown-jewel")]
    pub to: String,
    /// Explain every flow from FROM (`internet`, an address, `host:NAME`, `service:NAME`) to TO
    /// (`host:NAME[:PORT]`, `service:NAME[:PORT]`): allowed or denied, and the deciding rule.
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"], conflicts_with_all = ["blast_radius", "nasim"])]
    pub reach: Option<Vec<String>>,
    /// Show what an attacker with root on HOST can go on to reach, and the value at risk.
    #[arg(long, value_name = "HOST", conflicts_with = "nasim")]
    pub blast_radius: Option<String>,
    /// Attach a vulnerability scan (Nessus `.nessus`, OpenVAS/GVM XML, Nmap XML) to the twin's
    /// hosts by address before analysing. Repeatable.
    #[arg(long = "scan", value_name = "SCAN")]
    pub scans: Vec<PathBuf>,
    /// Solve a NASim scenario file (cheapest plan to root on every sensitive host) instead of
    /// analysing a twin.
    #[arg(long, value_name = "SCENARIO")]
    pub nasim: Option<PathBuf>,
    /// Simulate the attack over time (Monte Carlo against detection and response) instead of
    /// listing paths: `p_compromise` and `time_to_compromise_hours` with 95% intervals.
    #[arg(long, conflicts_with_all = ["reach", "blast_radius", "nasim"])]
    pub simulate: bool,
    /// A change to simulate against the baseline (repeatable): `edr:tier=web`,
    /// `edr:tag:NAME[=P]`, `patch:7d`, `response:2h`, `detect:T1068=0.5`.
    #[arg(long = "what-if", value_name = "WHAT_IF", requires = "simulate")]
    pub what_if: Vec<String>,
    /// Defenders' detection probabilities, response time and attack step times (YAML or
    /// JSON; any subset of the fields, the rest default).
    #[arg(long, value_name = "FILE", requires = "simulate")]
    pub defense: Option<PathBuf>,
    /// Monte Carlo runs.
    #[arg(long, default_value_t = 10_000, requires = "simulate")]
    pub runs: u32,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1, requires = "simulate")]
    pub seed: u64,
    /// Most minimal paths listed per target.
    #[arg(long, default_value_t = 50)]
    pub max_paths: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AttackFormat::Text)]
    pub format: AttackFormat,
}

/// Runs `doppel attack`. Exit code 0 on success, 1 when the twin or a scan is invalid.
pub fn run(args: AttackArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if let Some(path) = &args.nasim {
        return run_nasim(path, args.format, &mut out);
    }
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(1));
    };
    let mut twin = loaded.twin;
    let mut failed = false;
    for path in &args.scans {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.display().to_string();
        let mut err = std::io::stderr().lock();
        if scan::trivy::looks_like_trivy(&text) || name.ends_with(".json") {
            let report = scan::trivy::parse(&name, &text);
            let outcome = scan::trivy::attach(&mut twin, &report);
            for d in report.diagnostics.iter().chain(&outcome.diagnostics) {
                writeln!(err, "{d}")?;
            }
            failed |= report.has_errors();
            writeln!(
                err,
                "{name}: trivy {} artifact(s) read, {} service match(es), {} vulnerabilities attached",
                report.artifacts.len(),
                outcome.matched.len(),
                outcome.matched.iter().map(|m| m.2).sum::<usize>()
            )?;
            continue;
        }
        let Some(report) = scan::parse_auto(&name, &text) else {
            anyhow::bail!("{name}: not a Nessus, OpenVAS/GVM or Nmap XML file, nor Trivy JSON");
        };
        let outcome = scan::attach(&mut twin, &report);
        for d in report.diagnostics.iter().chain(&outcome.diagnostics) {
            writeln!(err, "{d}")?;
        }
        failed |= report.has_errors();
        writeln!(
            err,
            "{name}: {} {} host(s) read, {} matched to the twin, {} vulnerabilities attached",
            report.format,
            report.hosts.len(),
            outcome.matched.len(),
            outcome.matched.iter().map(|m| m.2).sum::<usize>()
        )?;
    }
    if let Some(pair) = &args.reach {
        let (Some(from), Some(to)) = (pair.first(), pair.get(1)) else {
            anyhow::bail!("--reach needs FROM and TO");
        };
        let flows = analysis::reach_query(&twin, from, to)?;
        match args.format {
            AttackFormat::Json => {
                let v: Vec<_> = flows
                    .iter()
                    .map(|(flow, v)| serde_json::json!({"flow": flow, "allowed": v.allowed, "reasons": v.reasons}))
                    .collect();
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            }
            _ => {
                for (flow, v) in &flows {
                    writeln!(
                        out,
                        "{flow}: {}",
                        if v.allowed { "allowed" } else { "denied" }
                    )?;
                    for r in &v.reasons {
                        let mark = if r.pass { "ok  " } else { "DENY" };
                        writeln!(out, "  {mark} {:<8} {}", r.check, r.detail)?;
                    }
                }
            }
        }
        return Ok(code(failed));
    }
    if let Some(host) = &args.blast_radius {
        let b = analysis::blast_radius(&twin, host)?;
        match args.format {
            AttackFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &b)?;
                writeln!(out)?;
            }
            _ => {
                writeln!(out, "blast radius of {}", b.from)?;
                writeln!(out, "root on: {}", list(&b.root))?;
                writeln!(out, "user on: {}", list(&b.user))?;
                writeln!(out, "data of: {}", list(&b.data))?;
                writeln!(out, "credentials: {}", list(&b.credentials))?;
                writeln!(out, "value at risk: {}", b.value_at_risk)?;
            }
        }
        return Ok(code(failed));
    }
    let start = if args.from == "internet" {
        Start::Outside(Origin::Internet)
    } else if let Ok(ip) = args.from.parse() {
        Start::Outside(Origin::Address(ip))
    } else if let Some(h) = args.from.strip_prefix("host:") {
        Start::Host(h.to_owned())
    } else {
        anyhow::bail!(
            "--from must be `internet`, an IP address or `host:NAME`, not `{}`",
            args.from
        );
    };
    if args.simulate {
        let defense = match &args.defense {
            Some(p) => read_defense(p)?,
            None => Defense::default(),
        };
        let r = campaign::simulate(
            &twin,
            &[start],
            &args.to,
            &defense,
            &args.what_if,
            campaign::SimOptions {
                runs: args.runs.max(1),
                seed: args.seed,
                cap: args.max_paths.max(1),
            },
        )?;
        match args.format {
            AttackFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &r)?;
                writeln!(out)?;
            }
            _ => out.write_all(render_sim(&r).as_bytes())?,
        }
        return Ok(code(failed));
    }
    let report = with_progress(|progress| {
        analysis::attack_with_progress(&twin, &[start], &args.to, args.max_paths.max(1), progress)
    })?;
    match args.format {
        AttackFormat::Text => out.write_all(analysis::render_text(&report).as_bytes())?,
        AttackFormat::Dot => out.write_all(analysis::render_dot(&report).as_bytes())?,
        AttackFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(code(failed))
}

fn run_nasim(
    path: &PathBuf,
    format: AttackFormat,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let scenario = match nasim::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            // `FILE:LINE:COL: field: message` when the field was found in the text.
            let sep = if matches!(e, nasim::NasimError::Field { at: Some(_), .. }) {
                ":"
            } else {
                ": "
            };
            writeln!(std::io::stderr().lock(), "{}{sep}{e}", path.display())?;
            return Ok(ExitCode::from(1));
        }
    };
    let solution = nasim::solve(&scenario, 2_000_000)?;
    let stated = nasim::replay(&scenario, &scenario.stated_path);
    match format {
        AttackFormat::Json => {
            let v = serde_json::json!({
                "actions": solution.actions.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "cost": solution.cost,
                "score": solution.score,
                "expanded": solution.expanded,
                "stated_path": scenario.stated_path.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "stated_path_cost": stated.as_ref().ok().copied().flatten(),
            });
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)?;
        }
        _ => {
            let plan: Vec<String> = solution.actions.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "cheapest plan (cost {}, score {}):",
                solution.cost, solution.score
            )?;
            writeln!(out, "  {}", plan.join(" -> "))?;
            match stated {
                Ok(Some(c)) => writeln!(out, "stated optimal path replays at cost {c}")?,
                Ok(None) => writeln!(out, "stated optimal path does not reach the goal")?,
                Err(e) => writeln!(out, "stated optimal path does not replay: {e}")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `doppel bench attack`.
#[derive(Debug, clap::Args)]
pub struct BenchAttackArgs {
    /// Hosts in the generated estate.
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    /// Vulnerabilities in the generated estate.
    #[arg(long, default_value_t = 100_000)]
    pub vulns: usize,
    /// Most minimal paths enumerated per target.
    #[arg(long, default_value_t = 50)]
    pub max_paths: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `doppel bench attack`: generates the estate, then times the attack graph alone
/// (fixpoint) and the whole query (graph again, then the minimal paths from the internet to
/// `tag:crown-jewel`, most likely first), by wall and process CPU time, with the process's
/// peak resident memory.
pub fn run_bench(args: BenchAttackArgs) -> anyhow::Result<ExitCode> {
    use std::time::Instant;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "attack: generating {} hosts, {} vulnerabilities...",
        args.hosts, args.vulns
    )?;
    let doc = doppel_security::estate::generate(args.hosts, args.vulns, args.seed);
    let twin: doppel_model::Twin = serde_json::from_value(doc)?;
    let vulns: usize = twin
        .hosts
        .values()
        .filter_map(|h| h.security.as_ref())
        .chain(twin.services.values().filter_map(|s| s.security.as_ref()))
        .map(|s| s.vulnerabilities.len())
        .sum();
    let starts = [Start::Outside(Origin::Internet)];
    let wall = Instant::now();
    let cpu = cpu_time::ProcessTime::now();
    let graph = doppel_security::graph::build(&twin, &Default::default(), &starts);
    let reached = graph.closure();
    let graph_wall = wall.elapsed().as_secs_f64();
    let graph_cpu = cpu.elapsed().as_secs_f64();
    let (facts, derivations) = (graph.fact_count(), graph.actions.len());
    let derived = reached.iter().filter(|r| **r).count();
    drop(graph);
    let wall2 = Instant::now();
    let cpu2 = cpu_time::ProcessTime::now();
    let paths = analysis::attack_paths(&twin, &starts, "tag:crown-jewel", args.max_paths.max(1))?;
    let paths_wall = wall2.elapsed().as_secs_f64();
    let paths_cpu = cpu2.elapsed().as_secs_f64();
    let rss = crate::bench::peak_rss();
    let v = serde_json::json!({
        "name": "attack",
        "hosts": twin.hosts.len(),
        "vulnerabilities": vulns,
        "graph_facts": facts,
        "graph_derivations": derivations,
        "facts_derived": derived,
        "paths": paths.len(),
        "graph_wall_seconds": graph_wall,
        "graph_cpu_seconds": graph_cpu,
        "graph_and_paths_wall_seconds": paths_wall,
        "graph_and_paths_cpu_seconds": paths_cpu,
        "peak_rss_bytes": rss,
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "attack  {} hosts {} vulns  graph alone: {} facts {} derivations {:.3} s wall ({:.3} s CPU)  graph and {} paths: {:.3} s wall ({:.3} s CPU)  peak RSS {}",
            twin.hosts.len(),
            vulns,
            facts,
            derivations,
            graph_wall,
            graph_cpu,
            paths.len(),
            paths_wall,
            paths_cpu,
            rss.map_or_else(
                || "n/a".to_owned(),
                |b| format!("{:.0} MiB", b as f64 / 1048576.0)
            )
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `f` with a progress callback drawing a bar on stderr, shown only once the analysis
/// has taken a second (small twins print nothing extra), and cleared when it ends.
fn with_progress<T>(f: impl FnOnce(&(dyn Fn(analysis::Progress) + Sync)) -> T) -> T {
    use std::time::{Duration, Instant};
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden())
            .with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} fixes verified, {elapsed} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            )
            .with_message("attack graph and paths");
    let started = Instant::now();
    let ticker = std::thread::spawn({
        let bar = bar.clone();
        move || {
            while !bar.is_finished() {
                if started.elapsed() >= Duration::from_secs(1) && bar.is_hidden() {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let progress = |p: analysis::Progress| match p {
        analysis::Progress::Paths { fixes } => {
            bar.set_length(fixes as u64);
            bar.set_message("checking each fix by recomputing the graph");
        }
        analysis::Progress::FixVerified => bar.inc(1),
    };
    let out = f(&progress);
    bar.finish_and_clear();
    let _ = ticker.join();
    out
}

/// Reads a defense file (YAML or JSON) over the defaults.
fn read_defense(path: &PathBuf) -> anyhow::Result<Defense> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed = doppel_model::yaml::parse(&text).map_err(|e| {
        let first = e.first().map_or_else(String::new, |e| {
            format!("{}:{}: {}", e.loc.line, e.loc.col, e.message)
        });
        anyhow::anyhow!("{}:{first}", path.display())
    })?;
    serde_json::from_value(parsed.value).with_context(|| format!("{}: bad defense", path.display()))
}

fn render_sim(r: &campaign::SimReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let one = |s: &mut String, label: &str, x: &campaign::SimResult| {
        let _ = writeln!(
            s,
            "{label}: p(compromise) = {:.3} [{:.3}, {:.3}], p(detected) = {:.3}",
            x.p_compromise, x.p_compromise_ci95[0], x.p_compromise_ci95[1], x.p_detected
        );
        if let Some(t) = &x.time_to_compromise_hours {
            let _ = writeln!(
                s,
                "  time to compromise: mean {:.1} h [{:.1}, {:.1}], p50 {:.1} h [{:.1}, {:.1}], p90 {:.1} h [{:.1}, {:.1}]",
                t.mean,
                t.mean_ci95[0],
                t.mean_ci95[1],
                t.p50,
                t.p50_ci95[0],
                t.p50_ci95[1],
                t.p90,
                t.p90_ci95[0],
                t.p90_ci95[1]
            );
        }
        for c in &x.techniques {
            let _ = writeln!(
                s,
                "  {:<10} {:>8} attempts {:>8} detected",
                c.technique, c.attempts, c.detections
            );
        }
    };
    let _ = writeln!(
        s,
        "attack over time from {} to {}: {} runs, seed {}, {} path(s)",
        r.from.join(", "),
        r.to,
        r.runs,
        r.seed,
        r.paths
    );
    if let Some(b) = &r.baseline {
        one(&mut s, "baseline", b);
        one(
            &mut s,
            &format!("with {}", r.result.what_if.join(", ")),
            &r.result,
        );
    } else {
        one(&mut s, "result", &r.result);
    }
    s
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

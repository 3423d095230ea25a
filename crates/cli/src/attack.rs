//! `doppel attack`: attack paths from a starting point to targets, the most likely one and the
//! fixes that cut them (`--from`, `--to`), why a flow is allowed or denied (`--reach A B`), the
//! blast radius of a compromised host (`--blast-radius HOST`), and NASim scenarios solved
//! optimally (`--nasim FILE`). Scans (`--scan FILE`, Nessus/OpenVAS/Nmap XML) are attached to
//! the twin's hosts by address first.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use doppel_security::analysis;
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
        let Some(report) = scan::parse_auto(&name, &text) else {
            anyhow::bail!("{name}: not a Nessus, OpenVAS/GVM or Nmap XML file");
        };
        let outcome = scan::attach(&mut twin, &report);
        let mut err = std::io::stderr().lock();
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
    let report = analysis::attack(&twin, &[start], &args.to, args.max_paths.max(1))?;
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
            writeln!(std::io::stderr().lock(), "{}: {e}", path.display())?;
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

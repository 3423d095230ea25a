//! `doppel plan TWIN --terraform plan.json | --k8s manifests.yaml`: test a proposed change on
//! the twin before it ships. The change is imported like `doppel import` does, applied on top
//! of the twin (the change's values win), and both twins are simulated with the same seed; the
//! command prints what changed, the SLOs side by side and the attack paths that open or close,
//! with `doppel check`'s exit codes: 0 when every SLO holds after the change, 1 when one
//! breaks, 2 on bad input.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use doppel_import::{Input, Prefer, Source};
use doppel_model::Duration;
use doppel_security::analysis::attack;
use doppel_security::graph::Start;
use doppel_security::reach::Origin;
use doppel_sim::SimConfig;

use crate::{compare, run_scenario, twin_files};

/// Arguments of `doppel plan`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("change").required(true).args(["terraform", "k8s"])))]
pub struct PlanArgs {
    /// The twin's files.
    #[arg(required = true, value_name = "TWIN")]
    files: Vec<PathBuf>,
    /// A Terraform plan as `terraform show -json plan.out` prints it.
    #[arg(long, value_name = "PLAN.json")]
    terraform: Option<PathBuf>,
    /// Kubernetes manifests to be applied.
    #[arg(long, value_name = "MANIFESTS.yaml", num_args = 1..)]
    k8s: Vec<PathBuf>,
    /// Simulated time per replication.
    #[arg(long, default_value = "600s")]
    duration: Duration,
    /// Leading time left out of the verdicts.
    #[arg(long, default_value = "60s")]
    warmup: Duration,
    /// Seed (both runs use it, so they differ only by the change).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replications per run.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `doppel plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = twin_files::load_valid(&args.files)? else {
        return Ok(ExitCode::from(2));
    };
    let (source, paths) = match &args.terraform {
        Some(p) => (Source::Terraform, vec![p.clone()]),
        None => (Source::Kubernetes, args.k8s.clone()),
    };
    let mut files = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        files.push((p.display().to_string(), bytes));
    }
    let inputs: Vec<Input<'_>> = files
        .iter()
        .map(|(name, bytes)| Input { name, bytes })
        .collect();
    let imported = doppel_import::import(source, &inputs);
    let mut err = std::io::stderr().lock();
    for d in &imported.diagnostics {
        writeln!(err, "{d}")?;
    }
    if imported
        .diagnostics
        .iter()
        .any(|d| d.severity == doppel_import::Severity::Error)
    {
        return Ok(ExitCode::from(2));
    }
    let (mut changed, _conflicts) =
        doppel_import::merge_with(&loaded.twin, &imported.delta, Prefer::Delta);
    // Merging only adds and updates; what a Terraform plan destroys is what its prior state
    // has and its planned values lack.
    if source == Source::Terraform {
        for id in terraform_deletions(&files)? {
            remove_entity(&mut changed, &id);
        }
    }
    // The changed twin must still be a valid twin: check it as if read from a file.
    let recheck =
        doppel_model::load_str("(twin after the change)", &serde_json::to_string(&changed)?);
    if !recheck.is_valid() {
        for d in recheck.errors() {
            writeln!(err, "{d}")?;
        }
        return Ok(ExitCode::from(2));
    }
    drop(err);

    let mut out = std::io::stdout().lock();
    let changes = doppel_import::diff(&loaded.twin, &changed);
    writeln!(out, "plan: {} change(s) to the twin", changes.len())?;
    for c in &changes {
        writeln!(out, "  {c}")?;
    }

    let cfg = SimConfig {
        duration: args.duration.as_secs_f64(),
        warmup: args.warmup.as_secs_f64(),
        seed: args.seed,
        replications: args.replications,
    };
    let mut reports = Vec::new();
    for (label, twin) in [("baseline", &loaded.twin), ("after the change", &changed)] {
        let Some((net, plan)) = run_scenario::compile_twin(twin, &args.files, 1.0)? else {
            return Ok(ExitCode::from(2));
        };
        match run_scenario::run(
            &net,
            &plan,
            &cfg,
            args.threads,
            &format!("simulating {label}"),
        )? {
            Ok(r) => reports.push(r),
            Err(e) => {
                writeln!(std::io::stderr().lock(), "error: {e}")?;
                return Ok(ExitCode::from(2));
            }
        }
    }
    let (before, after) = (&reports[0], &reports[1]);
    writeln!(out)?;
    out.write_all(compare::render("the change", before, after).as_bytes())?;

    // Reachability: which crown jewels the internet can reach, before and after.
    let starts = [Start::Outside(Origin::Internet)];
    let target = "tag:crown-jewel";
    if let (Ok(a), Ok(b)) = (
        attack(&loaded.twin, &starts, target, 100),
        attack(&changed, &starts, target, 100),
    ) {
        writeln!(
            out,
            "\nattack paths from the internet to {target}: {} before, {} after",
            a.paths.len(),
            b.paths.len()
        )?;
        for t in b
            .reachable_targets
            .iter()
            .filter(|t| !a.reachable_targets.contains(t))
        {
            writeln!(out, "  NEWLY REACHABLE: {t}")?;
        }
        for t in a
            .reachable_targets
            .iter()
            .filter(|t| !b.reachable_targets.contains(t))
        {
            writeln!(out, "  no longer reachable: {t}")?;
        }
    }

    let broken: Vec<_> = after.slos.iter().filter(|v| !v.met).collect();
    if broken.is_empty() {
        writeln!(out, "\nverdict: every SLO holds after the change")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "\nverdict: the change breaks {} SLO(s)", broken.len())?;
    for v in broken {
        let achieved = v
            .achieved
            .map_or("no data".to_owned(), |a| format!("{a:.2} {}", v.unit));
        let when = v
            .first_breach_s
            .map_or(String::new(), |t| format!(", first at {t:.0} s"));
        writeln!(
            out,
            "  {} ({}): {} achieved {achieved}{when}",
            v.name, v.target, v.objective
        )?;
    }
    Ok(ExitCode::from(1))
}

/// Ids of the entities a Terraform plan destroys: imported from the plan's `prior_state`
/// and missing from its planned values. Plans without a prior state destroy nothing.
fn terraform_deletions(files: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<doppel_model::EntityId>> {
    let mut ids = Vec::new();
    for (name, bytes) in files {
        let Ok(plan) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            continue;
        };
        let Some(prior) = plan.get("prior_state").filter(|p| p.is_object()) else {
            continue;
        };
        let prior_bytes = serde_json::to_vec(prior)?;
        let planned = doppel_import::import(Source::Terraform, &[Input { name, bytes }]).delta;
        let before = doppel_import::import(
            Source::Terraform,
            &[Input {
                name,
                bytes: &prior_bytes,
            }],
        )
        .delta;
        for change in doppel_import::diff(&before, &planned) {
            if change.kind == doppel_import::ChangeKind::Removed
                && let Ok(id) = change.id.parse()
            {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Removes a top-level entity (or a service's endpoint or instance) from a twin.
fn remove_entity(twin: &mut doppel_model::Twin, id: &doppel_model::EntityId) {
    use doppel_model::Kind;
    let n = id.name.as_str();
    match id.kind {
        Kind::Region => drop(twin.regions.shift_remove(n)),
        Kind::Zone => drop(twin.zones.shift_remove(n)),
        Kind::Rack => drop(twin.racks.shift_remove(n)),
        Kind::Cluster => drop(twin.clusters.shift_remove(n)),
        Kind::Host => drop(twin.hosts.shift_remove(n)),
        Kind::Network => drop(twin.networks.shift_remove(n)),
        Kind::Subnet => drop(twin.subnets.shift_remove(n)),
        Kind::Router => drop(twin.routers.shift_remove(n)),
        Kind::Link => drop(twin.links.shift_remove(n)),
        Kind::SecurityGroup => drop(twin.security_groups.shift_remove(n)),
        Kind::NetworkPolicy => drop(twin.network_policies.shift_remove(n)),
        Kind::Service => drop(twin.services.shift_remove(n)),
        Kind::Workload => drop(twin.workloads.shift_remove(n)),
        Kind::Slo => drop(twin.slos.shift_remove(n)),
        Kind::Credential => drop(twin.credentials.shift_remove(n)),
        Kind::Endpoint | Kind::Instance => {
            if let Some((svc, child)) = n.split_once('/')
                && let Some(service) = twin.services.get_mut(svc)
            {
                if id.kind == Kind::Endpoint {
                    service.endpoints.shift_remove(child);
                } else {
                    service.instances.shift_remove(child);
                }
            }
        }
    }
}

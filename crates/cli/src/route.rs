//! `doppel route`: where traffic should go. Reads a network (a twin, or a topology file) and
//! traffic matrices (a file, or derived from the twin's workloads), computes a min-MLU routing
//! (LP), a min-delay routing under an MLU bound, ECMP under the current IGP weights, searched
//! IGP weights, or one routing robust across all matrices and single link failures, optionally
//! after failing links, and prints link utilizations, the gap to the LP optimum and the worst
//! single-link failures. `--all` re-optimizes matrix after matrix warm-started.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::ValueEnum;
use doppel_netopt::delay::{DelayOptions, MluBound};
use doppel_netopt::import::{self, ImportError, Imported};
use doppel_netopt::report::{self, RouteReport, RouteRequest, Router};
use doppel_netopt::robust::Scenarios;
use doppel_netopt::{Network, PathSet, TrafficMatrix, igp, traffic};
use serde_json::Value;

use crate::twin_files;

/// Output formats of `route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary.
    Text,
    /// JSON: `mlu`, `method`, `solve_seconds`, `links[]`, `weights[]` (IGP), ...
    Json,
}

/// How to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteMethod {
    /// The min-MLU optimum over all paths (edge-based LP).
    Lp,
    /// The min-MLU split over candidate paths: `--tunnels`, or the `--k` shortest.
    LpPaths,
    /// IGP weights found by local search, routed by ECMP.
    Igp,
    /// ECMP over shortest paths under the current IGP weights.
    Ecmp,
}

/// What to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Objective {
    /// The maximum link utilization.
    Mlu,
    /// The mean delay (propagation + M/M/1 queueing) under an MLU bound (--max-mlu, or the
    /// optimal MLU times 1 + --slack).
    Delay,
}

/// What a robust routing must withstand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Robust {
    /// Every matrix of the file.
    Matrices,
    /// Every matrix of the file and every single link failure.
    Failures,
}

/// Formats of network files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetFormat {
    /// Twin YAML (`doppel.yaml`): its routers and links.
    Twin,
    /// networkx node-link JSON (FIGRET, DOTE, TEAL).
    NodeLink,
    /// Topology Zoo GraphML.
    Graphml,
    /// SNDlib XML (its demands are the default traffic).
    Sndlib,
    /// Repetita `.graph`.
    Repetita,
}

/// Formats of traffic files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrafficFormat {
    /// FIGRET/DOTE `.hist`: one n×n matrix per line, bit/s, nodes by index.
    Hist,
    /// Repetita `.demands` (kbit/s).
    Repetita,
    /// SNDlib XML demands.
    Sndlib,
    /// Lines `SRC DST RATE` with node names and a rate such as `2.5Gbit/s` (plain numbers
    /// are bit/s); `#` starts a comment.
    Pairs,
}

/// Arguments of `doppel route`.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// The network: twin YAML files, or one topology file (node-link JSON, GraphML, SNDlib
    /// XML, Repetita .graph; told apart by extension, or by --net-format).
    #[arg(required = true, value_name = "NET")]
    net: Vec<PathBuf>,
    /// Format of NET (default: from the extension; .yaml/.yml is a twin).
    #[arg(long, value_enum)]
    net_format: Option<NetFormat>,
    /// Traffic matrices (.hist, .demands, SNDlib .xml, or SRC DST RATE lines). Default: the
    /// demands of an SNDlib NET, or for a twin the traffic its workloads generate.
    #[arg(long, value_name = "TM")]
    traffic: Option<PathBuf>,
    /// Format of --traffic (default: from the extension).
    #[arg(long, value_enum)]
    traffic_format: Option<TrafficFormat>,
    /// What to minimise.
    #[arg(long, value_enum, default_value_t = Objective::Mlu)]
    objective: Objective,
    /// How to route.
    #[arg(long, value_enum, default_value_t = RouteMethod::Lp)]
    method: RouteMethod,
    /// Utilization bound of the delay objective.
    #[arg(long, value_name = "U")]
    max_mlu: Option<f64>,
    /// Without --max-mlu, the delay objective may exceed the optimal MLU by this share.
    #[arg(long, default_value_t = 0.1)]
    slack: f64,
    /// Mean packet size in bytes, for the M/M/1 queueing delay.
    #[arg(long, default_value_t = 1500.0)]
    packet_size: f64,
    /// One routing over the candidate paths (--tunnels or --k shortest) with the least
    /// worst-case MLU over every matrix of the file (and every single link failure).
    #[arg(long, value_enum, conflicts_with_all = ["all", "matrix"])]
    robust: Option<Robust>,
    /// With --all, solve every matrix from scratch instead of from the previous answer.
    #[arg(long, requires = "all")]
    cold: bool,
    /// Candidate paths for lp-paths (FIGRET tunnels.txt).
    #[arg(long, value_name = "FILE")]
    tunnels: Option<PathBuf>,
    /// Candidate paths per pair for lp-paths without --tunnels (k shortest by IGP weight).
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// Fail before routing: `link:A-B` (the link between routers A and B), `link:NAME`, or
    /// `node:A`. Repeatable.
    #[arg(long, value_name = "WHAT")]
    fail: Vec<String>,
    /// Which matrix of a file holding several (from 0).
    #[arg(long, default_value_t = 0, conflicts_with = "all")]
    matrix: usize,
    /// Solve every matrix of the file in turn, one result each (the IGP search starts from
    /// the previous matrix's weights).
    #[arg(long)]
    all: bool,
    /// Published optimal MLUs, one per matrix (FIGRET .opt), printed beside the results.
    #[arg(long, value_name = "FILE")]
    published: Option<PathBuf>,
    /// Also analyse every single-link failure and list the N worst.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10")]
    failures: Option<usize>,
    /// Weight settings the IGP search evaluates.
    #[arg(long, default_value_t = 3000)]
    evaluations: usize,
    /// Largest IGP weight the search may set.
    #[arg(long, default_value_t = 20)]
    max_weight: u32,
    /// At most this many links may get a new IGP weight (`1`: the single best next change).
    #[arg(long, value_name = "N")]
    max_changes: Option<usize>,
    /// Seed of the IGP search.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn read(p: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// Prints an importer's warnings, or its errors; `None` when it failed.
fn report<T>(r: Result<Imported<T>, ImportError>) -> anyhow::Result<Option<T>> {
    let mut err = std::io::stderr().lock();
    match r {
        Ok(i) => {
            for w in &i.warnings {
                writeln!(err, "{w}")?;
            }
            Ok(Some(i.value))
        }
        Err(e) => {
            for d in &e.diagnostics {
                writeln!(err, "{d}")?;
            }
            Ok(None)
        }
    }
}

struct Inputs {
    net: Network,
    matrices: Vec<TrafficMatrix>,
}

fn load_inputs(args: &RouteArgs) -> anyhow::Result<Option<Inputs>> {
    let first = &args.net[0];
    let net_format = args.net_format.unwrap_or(match extension(first).as_str() {
        "yaml" | "yml" => NetFormat::Twin,
        "json" => NetFormat::NodeLink,
        "graphml" => NetFormat::Graphml,
        "xml" => NetFormat::Sndlib,
        "graph" => NetFormat::Repetita,
        other => bail!(
            "cannot tell the format of {} (extension `{other}`); use --net-format",
            first.display()
        ),
    });
    if net_format != NetFormat::Twin && args.net.len() > 1 {
        bail!("only a twin may span several files");
    }
    let name = first.display().to_string();
    let mut sndlib_demands = None;
    let mut twin = None;
    let net = match net_format {
        NetFormat::Twin => {
            let Some(loaded) = twin_files::load_valid(&args.net)? else {
                return Ok(None);
            };
            let net = Network::from_twin(&loaded.twin).context("the twin's network")?;
            if net.node_count() == 0 {
                bail!("the twin has no routers: `route` needs its `routers` and `links`");
            }
            twin = Some(loaded.twin);
            net
        }
        NetFormat::NodeLink => {
            let r = import::nodelink::parse(&name, &read(first)?, &Default::default());
            let Some(n) = report(r)? else { return Ok(None) };
            n
        }
        NetFormat::Graphml => {
            let r = import::graphml::parse(&name, &read(first)?, &Default::default());
            let Some(n) = report(r)? else { return Ok(None) };
            n
        }
        NetFormat::Sndlib => {
            let r = import::sndlib::parse(&name, &read(first)?, &Default::default());
            let Some(inst) = report(r)? else {
                return Ok(None);
            };
            sndlib_demands = Some(inst.demands);
            inst.network
        }
        NetFormat::Repetita => {
            let Some(n) = report(import::repetita::parse_graph(&name, &read(first)?))? else {
                return Ok(None);
            };
            n
        }
    };
    let matrices = match &args.traffic {
        None => match (sndlib_demands, twin) {
            (Some(tm), _) => vec![tm],
            (None, Some(twin)) => {
                let t = traffic::from_twin(&twin, &net, &Default::default())
                    .context("deriving traffic from the twin's workloads")?;
                let mut err = std::io::stderr().lock();
                for n in &t.notes {
                    writeln!(err, "note: {n}")?;
                }
                if t.matrix.demands().is_empty() {
                    bail!(
                        "the twin's workloads put no traffic between its routers; give --traffic TM"
                    );
                }
                vec![t.matrix]
            }
            (None, None) => bail!("no traffic: give --traffic TM"),
        },
        Some(path) => {
            let tname = path.display().to_string();
            let text = read(path)?;
            let fmt = args
                .traffic_format
                .unwrap_or(match extension(path).as_str() {
                    "hist" => TrafficFormat::Hist,
                    "demands" => TrafficFormat::Repetita,
                    "xml" => TrafficFormat::Sndlib,
                    _ => TrafficFormat::Pairs,
                });
            let n = net.node_count();
            let r = match fmt {
                TrafficFormat::Hist => import::figret::parse_hist(&tname, &text, n),
                TrafficFormat::Repetita => {
                    import::repetita::parse_demands(&tname, &text, n).map(one)
                }
                TrafficFormat::Sndlib => import::sndlib::parse(&tname, &text, &Default::default())
                    .map(|i| Imported {
                        value: vec![i.value.demands],
                        warnings: i.warnings,
                    }),
                TrafficFormat::Pairs => parse_pairs(&tname, &text, &net).map(one),
            };
            let Some(m) = report(r)? else { return Ok(None) };
            m
        }
    };
    Ok(Some(Inputs { net, matrices }))
}

fn one(i: Imported<TrafficMatrix>) -> Imported<Vec<TrafficMatrix>> {
    Imported {
        value: vec![i.value],
        warnings: i.warnings,
    }
}

/// Reads `SRC DST RATE` lines (node names, a bandwidth such as `10Gbit/s` or bit/s).
fn parse_pairs(
    file: &str,
    text: &str,
    net: &Network,
) -> Result<Imported<TrafficMatrix>, ImportError> {
    use doppel_model::yaml::Loc;
    use doppel_model::{Diagnostic, Path as DPath, Severity};
    let mut tm = TrafficMatrix::new(net.node_count());
    let mut diagnostics = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.is_empty() {
            continue;
        }
        let mut err = |msg: String| {
            diagnostics.push(Diagnostic {
                file: file.to_owned(),
                loc: Loc {
                    line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    col: 1,
                },
                severity: Severity::Error,
                path: DPath::of(["demands"]).index(i),
                message: msg,
            })
        };
        let [s, d, r] = toks.as_slice() else {
            err("expected `SRC DST RATE`".into());
            continue;
        };
        let rate = r.parse::<f64>().ok().or_else(|| {
            r.parse::<doppel_model::Bandwidth>()
                .ok()
                .map(|b| b.as_bits_per_sec())
        });
        match (net.node(s), net.node(d), rate) {
            (Some(a), Some(b), Some(v)) => {
                if let Err(e) = tm.add(a, b, v) {
                    err(e.to_string());
                }
            }
            (None, _, _) => err(format!("no router `{s}`")),
            (_, None, _) => err(format!("no router `{d}`")),
            _ => err(format!("`{r}` is not a rate (e.g. 2.5Gbit/s)")),
        }
    }
    if diagnostics.is_empty() {
        Ok(Imported {
            value: tm,
            warnings: Vec::new(),
        })
    } else {
        Err(ImportError { diagnostics })
    }
}

/// Applies `--fail` specs.
fn apply_failures(net: &Network, specs: &[String]) -> anyhow::Result<Network> {
    let mut links = Vec::new();
    for spec in specs {
        if let Some(l) = spec.strip_prefix("link:") {
            let found = net.link(l).or_else(|| net.find_link_by_ends(l));
            match found {
                Some(i) => links.push(i),
                None => bail!("--fail {spec}: no such link (use link:A-B or link:NAME)"),
            }
        } else if let Some(n) = spec.strip_prefix("node:") {
            let Some(v) = net.node(n) else {
                bail!("--fail {spec}: no router `{n}`");
            };
            links.extend(
                net.arcs()
                    .iter()
                    .filter(|a| a.from == v || a.to == v)
                    .map(|a| a.link),
            );
        } else {
            bail!("--fail {spec}: expected link:A-B, link:NAME or node:A");
        }
    }
    Ok(net.with_links_down(&links))
}

/// Seconds since the first call: the clock handed to the library.
fn clock() -> impl FnMut() -> f64 {
    let origin = Instant::now();
    move || origin.elapsed().as_secs_f64()
}

/// Runs `doppel route`.
pub fn run(args: RouteArgs) -> anyhow::Result<ExitCode> {
    let Some(Inputs { net, matrices }) = load_inputs(&args)? else {
        return Ok(ExitCode::from(1));
    };
    let published = match &args.published {
        Some(p) => {
            let r = import::figret::parse_opt(&p.display().to_string(), &read(p)?);
            let Some(v) = report(r)? else {
                return Ok(ExitCode::from(1));
            };
            Some(v)
        }
        None => None,
    };
    if !args.all && args.robust.is_none() && args.matrix >= matrices.len() {
        bail!(
            "--matrix {}: the file has {} matrices (numbered from 0)",
            args.matrix,
            matrices.len()
        );
    }
    if args.objective == Objective::Delay && args.method != RouteMethod::Lp {
        bail!("--objective delay is solved by LP: use it with --method lp");
    }
    let net = apply_failures(&net, &args.fail)?;
    let tunnels = match &args.tunnels {
        Some(p) => {
            let r = import::figret::parse_tunnels(&p.display().to_string(), &read(p)?, &net);
            let Some(t) = report(r)? else {
                return Ok(ExitCode::from(1));
            };
            Some(t)
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    let mut now = clock();
    if let Some(scope) = args.robust {
        // Candidate paths for every pair with traffic in any matrix.
        let paths = match tunnels {
            Some(t) => t,
            None => {
                let mut union = TrafficMatrix::new(net.node_count());
                for tm in &matrices {
                    for d in tm.demands() {
                        union.add(d.src, d.dst, d.rate)?;
                    }
                }
                PathSet::k_shortest(&net, &union, args.k)
            }
        };
        let scenarios = Scenarios {
            link_failures: scope == Robust::Failures,
        };
        let rep = report::robust_report(&net, &matrices, &paths, scenarios, &mut now)?;
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &rep.to_json())?;
                writeln!(out)?;
            }
            Format::Text => out.write_all(render_robust(&rep, args.failures).as_bytes())?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let req = RouteRequest {
        method: match args.method {
            RouteMethod::Lp => report::RouteMethod::Lp,
            RouteMethod::LpPaths => report::RouteMethod::LpPaths,
            RouteMethod::Igp => report::RouteMethod::Igp,
            RouteMethod::Ecmp => report::RouteMethod::Ecmp,
        },
        objective: match args.objective {
            Objective::Mlu => report::Objective::Mlu,
            Objective::Delay => report::Objective::Delay,
        },
        tunnels,
        k: args.k,
        igp: igp::IgpOptions {
            max_weight: args.max_weight,
            evaluations: args.evaluations,
            seed: args.seed,
            symmetric: true,
            max_changes: args.max_changes,
        },
        delay: DelayOptions {
            packet_bits: 8.0 * args.packet_size,
            max_mlu: match args.max_mlu {
                Some(u) => MluBound::Absolute(u),
                None => MluBound::Slack(args.slack),
            },
            ..Default::default()
        },
        failures: args.failures,
        // One matrix is solved cold (edge LP); a sequence warm-started unless --cold.
        warm: args.all && !args.cold,
        reference: true,
    };
    let picked: Vec<usize> = if args.all {
        (0..matrices.len()).collect()
    } else {
        vec![args.matrix]
    };
    let mut router = Router::new(net);
    let mut reports = Vec::with_capacity(picked.len());
    for k in picked {
        let mut rep = router
            .route(&matrices[k], &req, &mut now)
            .with_context(|| format!("matrix {k}"))?;
        if args.all {
            rep.matrix = Some(k);
        }
        let published = published.as_ref().and_then(|p| p.get(k).copied());
        reports.push((rep, published));
    }
    match args.format {
        Format::Json => {
            let items: Vec<Value> = reports
                .iter()
                .map(|(r, p)| {
                    let mut v = r.to_json();
                    if let (Some(p), Some(map)) = (p, v.as_object_mut()) {
                        map.insert("published_mlu".into(), Value::from(*p));
                    }
                    v
                })
                .collect();
            let doc = if args.all {
                Value::Array(items)
            } else {
                items.into_iter().next().unwrap_or(Value::Null)
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            for (r, p) in &reports {
                out.write_all(render(r, *p, args.all).as_bytes())?;
            }
            if args.all && reports.len() > 1 {
                let times: Vec<f64> = reports.iter().map(|(r, _)| r.solve_seconds).collect();
                let total: f64 = times.iter().sum();
                let max = times.iter().copied().fold(0.0, f64::max);
                writeln!(
                    out,
                    "{} matrices solved {}: mean {:.3}s, max {:.3}s per matrix",
                    times.len(),
                    if req.warm { "warm-started" } else { "cold" },
                    total / times.len() as f64,
                    max
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(r: &RouteReport, published: Option<f64>, many: bool) -> String {
    let mut s = String::new();
    let head = match r.matrix {
        Some(k) => format!("matrix {k}: "),
        None => String::new(),
    };
    s.push_str(&format!(
        "{head}{} MLU {:.6} ({:.3}s)",
        r.method, r.mlu, r.solve_seconds
    ));
    if let Some(w) = &r.warm_start {
        s.push_str(&format!(
            " [{} start, {} LP{}, {} paths reused/seeded, {} added]",
            if w.warm { "warm" } else { "cold" },
            w.rounds,
            if w.rounds == 1 { "" } else { "s" },
            w.initial_columns,
            w.added_columns
        ));
    }
    if let Some(lb) = r.lower_bound {
        let gap = if r.mlu > 0.0 {
            ((r.mlu - lb) / r.mlu).max(0.0)
        } else {
            0.0
        };
        s.push_str(&format!(", proven within {gap:.2e} of optimal"));
    }
    if let (Some(o), Some(g)) = (r.lp_optimum, r.gap) {
        s.push_str(&format!(", LP optimum {o:.6} (gap {:+.1}%)", 100.0 * g));
    }
    if let Some(p) = published {
        s.push_str(&format!(
            ", published {:.6} (diff {:.1e})",
            p,
            (r.mlu - p) / p
        ));
    }
    s.push('\n');
    if r.mean_delay_ms.is_finite() {
        s.push_str(&format!("mean delay {:.4} ms", r.mean_delay_ms));
    } else {
        s.push_str("mean delay unbounded (a link is saturated)");
    }
    if let (Some(b), Some(lb)) = (r.mlu_bound, r.delay_lower_bound_ms) {
        s.push_str(&format!(
            " (MLU bound {b:.6}; no routing within it is faster than {lb:.4} ms)"
        ));
    }
    s.push('\n');
    if many {
        return s;
    }
    let mut order: Vec<&report::LinkReport> = r.links.iter().filter(|l| l.up).collect();
    order.sort_by(|a, b| b.utilization.total_cmp(&a.utilization));
    s.push_str("hottest links:\n");
    for l in order.iter().take(10) {
        s.push_str(&format!(
            "  {:>7.2}%  {} -> {}\n",
            100.0 * l.utilization,
            l.from,
            l.to
        ));
    }
    if let (Some(ws), Some(init)) = (&r.weights, r.initial_mlu) {
        let mut seen = std::collections::HashSet::new();
        let mut lines = String::new();
        for w in ws {
            if w.weight != w.was && seen.insert(w.link.clone()) {
                lines.push_str(&format!("  {}: {} -> {}\n", w.link, w.was, w.weight));
            }
        }
        if lines.is_empty() {
            s.push_str(&format!(
                "no weight change found that lowers the MLU ({init:.6} under the current weights)\n"
            ));
        } else {
            s.push_str(&format!(
                "weight changes (MLU {init:.6} under the current weights):\n{lines}"
            ));
        }
    }
    if let Some(rows) = &r.failures {
        s.push_str("worst single-link failures:\n");
        for c in rows {
            s.push_str(&format!("  {:<24} MLU {:.6}", c.failed, c.mlu));
            if c.stranded_bps > 0.0 {
                s.push_str(&format!(", {:.3e} bit/s stranded", c.stranded_bps));
            }
            s.push('\n');
        }
    }
    s
}

fn render_robust(r: &report::RobustReport, rows: Option<usize>) -> String {
    let mut s = format!(
        "robust routing over {} matrices{}: worst-case MLU {:.6} (guaranteed ≤ {:.6}) ({:.3}s)\n",
        r.matrices,
        if r.link_failures {
            " and every single link failure"
        } else {
            ""
        },
        r.mlu,
        r.guaranteed_mlu,
        r.solve_seconds
    );
    let best = r.per_matrix_optimum.iter().copied().fold(0.0, f64::max);
    s.push_str(&format!(
        "re-optimizing each matrix on the intact network would give at worst {best:.6}\n"
    ));
    s.push_str("worst cases:\n");
    for row in r.scenarios.iter().take(rows.unwrap_or(10)) {
        s.push_str(&format!(
            "  matrix {:<4} {:<24} MLU {:.6}",
            row.matrix,
            row.failed.as_deref().unwrap_or("(no failure)"),
            row.mlu
        ));
        if let Some(l) = &row.worst_link {
            s.push_str(&format!(" on {l}"));
        }
        if row.stranded_bps > 0.0 {
            s.push_str(&format!(", {:.3e} bit/s stranded", row.stranded_bps));
        }
        s.push('\n');
    }
    s
}

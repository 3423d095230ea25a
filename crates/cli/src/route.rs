//! `doppel route`: where traffic should go. Reads a network (a twin, or a topology file) and
//! traffic matrices, computes a min-MLU routing (LP), ECMP under the current IGP weights, or
//! searched IGP weights, optionally after failing links, and prints link utilizations, the
//! gap to the LP optimum and the worst single-link failures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::ValueEnum;
use doppel_netopt::failure::{self, FailureReport, Reroute};
use doppel_netopt::import::{self, ImportError, Imported};
use doppel_netopt::{Network, PathSet, Solution, TrafficMatrix, igp, lp};
use serde_json::{Value, json};

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
    /// demands of an SNDlib NET.
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
    let net = match net_format {
        NetFormat::Twin => {
            let Some(loaded) = twin_files::load_valid(&args.net)? else {
                return Ok(None);
            };
            Network::from_twin(&loaded.twin).context("the twin's network")?
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
        None => match sndlib_demands {
            Some(tm) => vec![tm],
            None => bail!("no traffic: give --traffic TM"),
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

/// One matrix's result.
struct Outcome {
    index: usize,
    solution: Solution,
    seconds: f64,
    weights: Option<Vec<f64>>,
    initial_mlu: Option<f64>,
    reference: Option<f64>,
    published: Option<f64>,
    failures: Option<FailureReport>,
}

/// Runs `doppel route`.
pub fn run(args: RouteArgs) -> anyhow::Result<ExitCode> {
    let Objective::Mlu = args.objective;
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
    if !args.all && args.matrix >= matrices.len() {
        bail!(
            "--matrix {}: the file has {} matrices (numbered from 0)",
            args.matrix,
            matrices.len()
        );
    }
    let mut net = apply_failures(&net, &args.fail)?;
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
    let picked: Vec<usize> = if args.all {
        (0..matrices.len()).collect()
    } else {
        vec![args.matrix]
    };
    let mut outcomes = Vec::new();
    for k in picked {
        let tm = &matrices[k];
        let start = Instant::now();
        let mut weights = None;
        let mut initial_mlu = None;
        let (solution, paths) = match args.method {
            RouteMethod::Lp => (lp::min_mlu_edges(&net, tm)?, None),
            RouteMethod::LpPaths => {
                let ps = match &tunnels {
                    Some(t) => t.clone(),
                    None => PathSet::k_shortest(&net, tm, args.k),
                };
                (lp::min_mlu_paths(&net, tm, &ps)?, Some(ps))
            }
            RouteMethod::Ecmp => (igp::ecmp(&net, tm, &net.weights())?, None),
            RouteMethod::Igp => {
                let opts = igp::IgpOptions {
                    max_weight: args.max_weight,
                    evaluations: args.evaluations,
                    seed: args.seed,
                    symmetric: true,
                    max_changes: args.max_changes,
                };
                let r = igp::optimize_weights(&net, tm, &opts)?;
                initial_mlu = Some(r.initial_mlu);
                weights = Some(r.weights);
                (r.solution, None)
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        // ECMP and IGP are reported beside the optimum they are measured against.
        let reference = match args.method {
            RouteMethod::Ecmp | RouteMethod::Igp => Some(lp::min_mlu_edges(&net, tm)?.mlu()),
            _ => None,
        };
        let failures = match args.failures {
            Some(_) => {
                let w = weights.clone().unwrap_or_else(|| net.weights());
                let how = match (&args.method, &paths) {
                    (RouteMethod::LpPaths, Some(ps)) => Reroute::Tunnels(ps),
                    (RouteMethod::Lp, _) => Reroute::Optimal,
                    _ => Reroute::Ecmp(&w),
                };
                Some(failure::single_link_failures(&net, tm, how)?)
            }
            None => None,
        };
        // Warm start: the next matrix's search begins from these weights.
        if let (true, Some(w)) = (args.all, &weights) {
            net.set_weights(w)?;
        }
        outcomes.push(Outcome {
            index: k,
            solution,
            seconds,
            weights,
            initial_mlu,
            reference,
            published: published.as_ref().and_then(|p| p.get(k).copied()),
            failures,
        });
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let items: Vec<Value> = outcomes
                .iter()
                .map(|o| to_json(&net, o, args.failures))
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
            for o in &outcomes {
                out.write_all(render(&net, o, args.failures, args.all).as_bytes())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn to_json(net: &Network, o: &Outcome, failures: Option<usize>) -> Value {
    let util = o.solution.checked.utilization(net);
    let links: Vec<Value> = net
        .arcs()
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "from": net.nodes()[a.from],
                "to": net.nodes()[a.to],
                "link": net.links()[a.link],
                "up": a.up,
                "capacity_bps": a.capacity,
                "load_bps": o.solution.checked.arc_load[i],
                "utilization": util[i],
            })
        })
        .collect();
    let mut v = json!({
        "matrix": o.index,
        "method": o.solution.method.name(),
        "mlu": o.solution.mlu(),
        "solve_seconds": o.seconds,
        "links": links,
    });
    if let Some(map) = v.as_object_mut() {
        if let Some(lb) = o.solution.lower_bound {
            map.insert("lower_bound".into(), json!(lb));
        }
        if let Some(r) = o.reference {
            map.insert("lp_optimum".into(), json!(r));
            map.insert("gap".into(), json!(o.solution.mlu() / r - 1.0));
        }
        if let Some(p) = o.published {
            map.insert("published_mlu".into(), json!(p));
        }
        if let Some(m) = o.initial_mlu {
            map.insert("initial_mlu".into(), json!(m));
        }
        if let Some(w) = &o.weights {
            let ws: Vec<Value> = net
                .arcs()
                .iter()
                .zip(w)
                .map(|(a, w)| {
                    json!({
                        "from": net.nodes()[a.from],
                        "to": net.nodes()[a.to],
                        "link": net.links()[a.link],
                        "weight": w,
                        "was": a.weight,
                    })
                })
                .collect();
            map.insert("weights".into(), Value::Array(ws));
        }
        if let (Some(rep), Some(n)) = (&o.failures, failures) {
            let cases: Vec<Value> = rep
                .cases
                .iter()
                .take(n)
                .map(|c| {
                    json!({
                        "failed": c.what,
                        "mlu": c.mlu,
                        "stranded_bps": c.stranded_rate(),
                        "worst_link": c.worst_arc.map(|a| net.links()[net.arcs()[a].link].clone()),
                    })
                })
                .collect();
            map.insert("failures".into(), Value::Array(cases));
        }
    }
    v
}

fn render(net: &Network, o: &Outcome, failures: Option<usize>, many: bool) -> String {
    let mut s = String::new();
    let sol = &o.solution;
    let head = if many {
        format!("matrix {}: ", o.index)
    } else {
        String::new()
    };
    s.push_str(&format!(
        "{head}{} MLU {:.6} ({:.3}s)",
        sol.method.name(),
        sol.mlu(),
        o.seconds
    ));
    if let Some(g) = sol.gap() {
        s.push_str(&format!(", proven within {:.2e} of optimal", g));
    }
    if let Some(r) = o.reference {
        s.push_str(&format!(
            ", LP optimum {:.6} (gap {:+.1}%)",
            r,
            100.0 * (sol.mlu() / r - 1.0)
        ));
    }
    if let Some(p) = o.published {
        s.push_str(&format!(
            ", published {:.6} (diff {:.1e})",
            p,
            (sol.mlu() - p) / p
        ));
    }
    s.push('\n');
    if many {
        return s;
    }
    let util = sol.checked.utilization(net);
    let mut order: Vec<usize> = (0..net.arcs().len())
        .filter(|&a| net.arcs()[a].up)
        .collect();
    order.sort_by(|&a, &b| util[b].total_cmp(&util[a]));
    s.push_str("hottest links:\n");
    for &a in order.iter().take(10) {
        let arc = &net.arcs()[a];
        s.push_str(&format!(
            "  {:>7.2}%  {} -> {}\n",
            100.0 * util[a],
            net.nodes()[arc.from],
            net.nodes()[arc.to]
        ));
    }
    if let (Some(w), Some(init)) = (&o.weights, o.initial_mlu) {
        let mut seen = std::collections::HashSet::new();
        let mut lines = String::new();
        for (a, arc) in net.arcs().iter().enumerate() {
            if w[a] != arc.weight && seen.insert(arc.link) {
                lines.push_str(&format!(
                    "  {}: {} -> {}\n",
                    net.links()[arc.link],
                    arc.weight,
                    w[a]
                ));
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
    if let (Some(rep), Some(n)) = (&o.failures, failures) {
        s.push_str("worst single-link failures:\n");
        for c in rep.cases.iter().take(n) {
            let stranded = c.stranded_rate();
            s.push_str(&format!("  {:<24} MLU {:.6}", c.what, c.mlu));
            if stranded > 0.0 {
                s.push_str(&format!(", {stranded:.3e} bit/s stranded"));
            }
            s.push('\n');
        }
    }
    s
}

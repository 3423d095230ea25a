//! `doppel users learn` (access logs or traces to cohorts, streamed, with a progress bar on large files)
//! and `doppel users report` (each cohort's simulated experience on the twin and the
//! personalization what-ifs).

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use doppel_import::access_log::traces::{TraceMapping, TraceReader};
use doppel_import::access_log::{AccessLogReader, Format, JsonMapping};
use doppel_users::experience::{Abandonment, ExperienceSettings, experience, to_workloads};
use doppel_users::routes::Template;
use doppel_users::{CohortBy, LearnSettings, Learner};

/// `doppel users`.
#[derive(Debug, clap::Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UsersCommand {
    /// Learn cohorts from web access logs (NCSA common/combined as nginx and Apache write
    /// them, or JSON lines) or traces with user and session attributes (`--traces`):
    /// sessions, endpoints, per-cohort Markov chains, think times, arrival rates, goal share.
    Learn(LearnArgs),
    /// Simulate each cohort's experience on the twin: page latency, errors, abandonment,
    /// completion, goal reach; and rank personalization what-ifs.
    Report(ReportArgs),
    /// Write a seeded synthetic access log of the demo shop's three cohorts (mobile, desktop,
    /// tablet), to try `learn` and `report` on.
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Days of traffic.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Multiply the demo cohorts' session rates.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// JSON lines (with region, plan and a session id) instead of NCSA combined.
    #[arg(long)]
    json: bool,
    /// OTLP JSON traces instead (one export request per line, as the OpenTelemetry
    /// Collector's file exporter writes), spans carrying `session.id`, `enduser.id`,
    /// `user_agent.original`, `client.address`, `url.path` and `app.region`, `app.plan`.
    #[arg(long, conflicts_with = "json")]
    traces: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Auto,
    Ncsa,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LearnArgs {
    /// Access log files.
    #[arg(value_name = "LOG", required_unless_present = "traces")]
    logs: Vec<PathBuf>,
    /// Trace files (OTLP JSON, one document or JSON lines; Jaeger JSON) whose entry spans
    /// carry user and session attributes; repeatable.
    #[arg(long, value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// Which span attributes hold what (YAML or JSON: session_id, user_id, path, method,
    /// status, client_address, user_agent, attributes: {region: geo.region}, services).
    #[arg(long, value_name = "FILE")]
    trace_mapping: Option<PathBuf>,
    /// Write the cohorts here (YAML); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    format: LogFormat,
    /// JSON field mapping (YAML or JSON: time, ip, method, path, status, user_agent,
    /// client_id, latency, attributes: {region: geo.region}...).
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// Cohorts by these attributes (device, or any mapped attribute), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "device")]
    by: Vec<String>,
    /// Cohorts by behaviour instead: k-means, k up to this, chosen by silhouette.
    #[arg(long, value_name = "MAX_K")]
    cluster: Option<usize>,
    /// Goal endpoints (`/checkout`, `POST /order`), repeatable.
    #[arg(long, default_value = "/checkout")]
    goal: Vec<String>,
    /// Route templates tried before learning (`/product/{id}`, `/docs/*`), repeatable.
    #[arg(long = "template", value_name = "TEMPLATE")]
    templates: Vec<String>,
    /// Inactivity that ends a session.
    #[arg(long, default_value = "30m")]
    gap: doppel_model::Duration,
    /// Print at most this many malformed-line diagnostics.
    #[arg(long, default_value_t = 20)]
    max_diagnostics: usize,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The twin's files.
    #[arg(required = true, value_name = "TWIN")]
    twin: Vec<PathBuf>,
    /// The cohorts `doppel users learn` wrote.
    #[arg(long, value_name = "FILE")]
    cohorts: PathBuf,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Local hour of the day to simulate (default: the busiest).
    #[arg(long)]
    hour: Option<usize>,
    /// Total session rate to simulate (e.g. `20/s`); cohorts keep their shares.
    #[arg(long)]
    rate: Option<doppel_model::Rate>,
    /// Map a learned endpoint onto the twin: `GET /product/{id}=frontend/product`.
    #[arg(long = "route", value_name = "ENDPOINT=SERVICE/ENDPOINT")]
    routes: Vec<String>,
    /// Latency at which half of users leave.
    #[arg(long, default_value = "3s")]
    abandon_midpoint: doppel_model::Duration,
    /// Steepness of the abandonment curve, per second.
    #[arg(long, default_value_t = 1.6)]
    abandon_steepness: f64,
    /// Skip the what-ifs.
    #[arg(long)]
    no_what_ifs: bool,
    /// Keep the twin's own workloads as background load.
    #[arg(long)]
    keep_workloads: bool,
    /// Simulated time per run.
    #[arg(long, default_value = "300s")]
    duration: doppel_model::Duration,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replications per run.
    #[arg(long, default_value_t = 2)]
    replications: u32,
    /// Also write the cohorts as the twin's session-flow workloads (YAML) here.
    #[arg(long, value_name = "FILE")]
    workloads: Option<PathBuf>,
}

pub fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        UsersCommand::Learn(a) => learn(a),
        UsersCommand::Report(a) => report(a),
        UsersCommand::Generate(a) => generate(a),
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    if !(a.scale.is_finite() && a.scale > 0.0) {
        bail!("--scale must be a positive number");
    }
    let mut cohorts = doppel_users::synth::demo_cohorts();
    for c in &mut cohorts {
        for r in &mut c.per_hour {
            *r *= a.scale;
        }
    }
    // From Monday 2026-11-02.
    let start = doppel_import::access_log::time::days_from_civil(2026, 11, 2);
    let requests = doppel_users::synth::generate(&cohorts, start, a.days, a.seed);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.traces {
        for (i, batch) in requests.chunks(512).enumerate() {
            let first = u64::try_from(i * 512).unwrap_or(u64::MAX);
            writeln!(
                out,
                "{}",
                doppel_users::synth::otlp_json(batch, &cohorts, first)
            )?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &requests {
        let line = if a.json {
            doppel_users::synth::json_line(r, &cohorts)
        } else {
            doppel_users::synth::combined_line(r, &cohorts)
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn read_mapping<T: serde::de::DeserializeOwned>(path: &PathBuf) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let parsed = doppel_model::yaml::parse(&text).map_err(|e| {
        let first = e.first();
        anyhow::anyhow!(
            "{}:{}:{}: {}",
            path.display(),
            first.map_or(1, |e| e.loc.line),
            first.map_or(1, |e| e.loc.col),
            first.map_or("not YAML", |e| e.message.as_str())
        )
    })?;
    serde_json::from_value(parsed.value)
        .with_context(|| format!("{}: not a field mapping", path.display()))
}

fn learn(a: LearnArgs) -> anyhow::Result<ExitCode> {
    let format = match (a.format, &a.mapping) {
        (LogFormat::Ncsa, _) => Format::Ncsa,
        (_, Some(p)) => Format::Json(Box::new(read_mapping::<JsonMapping>(p)?)),
        (LogFormat::Json, None) => Format::Json(Box::default()),
        (LogFormat::Auto, None) => Format::Auto,
    };
    let settings = LearnSettings {
        session_gap_s: a.gap.as_secs_f64(),
        templates: a.templates.iter().map(|t| Template::new(t)).collect(),
        goal: a.goal.clone(),
        cohorts: match a.cluster {
            Some(k) => CohortBy::Behaviour { max_k: k.max(1) },
            None if a.by.iter().any(|b| b == "none" || b == "all") => CohortBy::All,
            None => CohortBy::Attributes(a.by.clone()),
        },
        ..LearnSettings::default()
    };
    let mut learner = Learner::new(settings)?;
    let mut err = std::io::stderr().lock();
    let mut shown = 0usize;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for path in &a.logs {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let name = path.display().to_string();
        let mut reader = AccessLogReader::new(
            BufReader::with_capacity(1 << 20, file),
            &name,
            format.clone(),
        );
        let bar = (tty && size > 8 << 20).then(|| {
            let b = indicatif::ProgressBar::new(size);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(name.clone());
            b
        });
        while let Some(item) = reader.next() {
            match item {
                Ok(r) => learner.push(&r),
                Err(d) => {
                    if shown < a.max_diagnostics {
                        writeln!(err, "{d}")?;
                    }
                    shown += 1;
                }
            }
            if let Some(b) = &bar
                && reader.stats().lines % 65_536 == 0
            {
                b.set_position(reader.stats().bytes);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let s = reader.stats();
        learner.add_file(&name, s.lines, s.malformed);
        writeln!(
            err,
            "{name}: {} lines, {} requests, {} malformed, {} from bots",
            s.lines, s.records, s.malformed, s.bots
        )?;
    }
    let trace_mapping = match &a.trace_mapping {
        Some(p) => read_mapping::<TraceMapping>(p)?,
        None => TraceMapping::default(),
    };
    for path in &a.traces {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let name = path.display().to_string();
        let mut reader = TraceReader::new(
            BufReader::with_capacity(1 << 20, file),
            &name,
            trace_mapping.clone(),
        );
        for item in reader.by_ref() {
            match item {
                Ok(r) => learner.push(&r),
                Err(d) => {
                    if shown < a.max_diagnostics {
                        writeln!(err, "{d}")?;
                    }
                    shown += 1;
                }
            }
        }
        let s = reader.stats();
        learner.add_file(&name, s.lines, s.malformed);
        writeln!(
            err,
            "{name}: {} lines, {} spans, {} page requests, {} problems, {} from bots",
            s.lines, s.spans, s.records, s.malformed, s.bots
        )?;
    }
    if shown > a.max_diagnostics {
        writeln!(
            err,
            "... and {} more malformed lines",
            shown - a.max_diagnostics
        )?;
    }
    let (set, _) = learner.finish()?;
    writeln!(
        err,
        "{} sessions over {} days ({} page views; {} static assets and {} bot requests left out); {} cohorts by {}",
        set.source.sessions,
        set.source.days,
        set.source.pages,
        set.source.assets,
        set.source.bots,
        set.cohorts.len(),
        set.cohorts_by
    )?;
    for c in &set.cohorts {
        writeln!(err, "  {}: {}", c.name, c.description)?;
    }
    let text = doppel_users::file::to_yaml(&set, "cohorts learned by doppel users learn")?;
    match &a.out {
        Some(p) => write_atomic(p, text.as_bytes())?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_atomic(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-doppel");
    std::fs::write(&tmp, bytes).with_context(|| format!("{}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))?;
    Ok(())
}

fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = crate::twin_files::load_valid(&a.twin)? else {
        return Ok(ExitCode::from(1));
    };
    let name = a.cohorts.display().to_string();
    let text = std::fs::read_to_string(&a.cohorts).with_context(|| name.clone())?;
    let set = doppel_users::file::from_yaml(&name, &text)?;
    let mut routes = BTreeMap::new();
    for r in &a.routes {
        let Some((e, t)) = r.rsplit_once('=') else {
            bail!("--route `{r}`: expected ENDPOINT=SERVICE/ENDPOINT");
        };
        routes.insert(e.trim().to_owned(), t.trim().to_owned());
    }
    if a.hour.is_some_and(|h| h > 23) {
        bail!("--hour must be 0 to 23");
    }
    let settings = ExperienceSettings {
        hour: a.hour,
        sessions_per_s: a.rate.map(|r| r.as_per_sec()),
        duration_s: a.duration.as_secs_f64(),
        warmup_s: (a.duration.as_secs_f64() / 10.0).min(60.0),
        seed: a.seed,
        replications: a.replications.max(1),
        abandonment: Abandonment {
            midpoint_s: a.abandon_midpoint.as_secs_f64(),
            steepness_per_s: a.abandon_steepness,
            max: 1.0,
        },
        routes,
        keep_twin_workloads: a.keep_workloads,
        what_ifs: !a.no_what_ifs,
        ..ExperienceSettings::default()
    };
    let r = experience(&loaded.twin, &set, &settings)?;
    if let Some(p) = &a.workloads {
        let twin = doppel_model::Twin {
            workloads: to_workloads(&set, &r.routes, r.hour),
            ..Default::default()
        };
        let yaml = doppel_import::to_yaml(
            &twin,
            Some("cohorts as session-flow workloads, by doppel users report"),
        )?;
        write_atomic(p, yaml.as_bytes())?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    } else {
        out.write_all(doppel_users::text::render(&r).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `doppel sweep` (scenarios × parameter values × replications, on all cores or on a NATS
//! JetStream cluster, results optionally kept in PostgreSQL) and `doppel worker` (serves the
//! cluster's sweeps). The progress bar and the terminal live here; the work is in
//! `doppel-sweep`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use doppel_model::Duration;
use doppel_sweep::cluster::{CoordinatorOptions, Progress, WorkerEvent, WorkerOptions};
use doppel_sweep::store::PgStore;
use doppel_sweep::{Bundle, Param, Sweep, SweepError, Table, TaskResult};

/// Output formats of `sweep`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// JSON: `{sweep, seed, replications, tasks, rows: [...]}`.
    Json,
    /// CSV, one line per row and figure.
    Csv,
}

/// Arguments of `doppel sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The twin's files (not needed with `--resume` and `--store`).
    #[arg(value_name = "TWIN")]
    files: Vec<PathBuf>,
    /// Scenario files, directories (every `*.yaml`/`*.yml` in them) or glob patterns.
    #[arg(long, num_args = 1.., value_name = "DIR|GLOB")]
    scenarios: Vec<String>,
    /// A swept parameter: a dotted path into the twin and its values, e.g.
    /// `services.cart.replicas=2,3,4` (repeat for several: every combination runs).
    #[arg(long = "param", value_name = "NAME=V1,V2,...")]
    params: Vec<String>,
    /// Replications of every scenario and combination of values.
    #[arg(long, default_value_t = 5)]
    replications: u32,
    /// Simulated time per replication (a scenario's `duration` wins).
    #[arg(long, default_value = "600s")]
    duration: Duration,
    /// Leading time left out of the statistics (a scenario's `warmup` wins).
    #[arg(long, default_value = "60s")]
    warmup: Duration,
    /// Seed: replication r of every task uses the random stream r of this seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads of a local sweep (default: all cores). The results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write the table to this file instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Run on the workers of this NATS JetStream cluster instead of this machine.
    #[arg(long, value_name = "nats://HOST:4222")]
    cluster: Option<String>,
    /// With `--cluster`: a task held this long by a silent worker is handed to another.
    #[arg(long, default_value = "30s")]
    ack_wait: Duration,
    /// Keep the sweep and its results in PostgreSQL; running the same sweep again resumes it.
    #[arg(long, value_name = "postgres://...")]
    store: Option<String>,
    /// With `--store`: the PostgreSQL schema to use (created if missing).
    #[arg(long, value_name = "NAME", requires = "store")]
    store_schema: Option<String>,
    /// Resume the sweep with this id from `--store` (no twin or scenarios needed).
    #[arg(long, value_name = "SWEEP_ID", requires = "store")]
    resume: Option<String>,
}

/// Arguments of `doppel worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The NATS JetStream cluster to serve.
    #[arg(long, value_name = "nats://HOST:4222")]
    cluster: String,
    /// Tasks run at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// How long to wait for a task on a stream before looking again.
    #[arg(long, default_value = "500ms")]
    poll: Duration,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Expands `--scenarios`: files as given, directories to their YAML files, globs to their
/// matches, each sorted; the same file once.
fn scenario_files(args: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for a in args {
        let p = Path::new(a);
        let mut found: Vec<PathBuf> = if p.is_dir() {
            std::fs::read_dir(p)
                .with_context(|| format!("cannot list {a}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        } else if a.contains(['*', '?', '[']) {
            glob::glob(a)
                .with_context(|| format!("bad pattern `{a}`"))?
                .filter_map(Result::ok)
                .filter(|f| f.is_file())
                .collect()
        } else {
            vec![p.to_path_buf()]
        };
        if found.is_empty() {
            anyhow::bail!("--scenarios {a}: no scenario file there");
        }
        found.sort();
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn bar(total: usize, label: String) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(total as u64)
        .with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} tasks, {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        )
        .with_message(label)
}

/// Runs `doppel sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let mut err = std::io::stderr().lock();
    let rt = if args.store.is_some() || args.cluster.is_some() {
        Some(runtime()?)
    } else {
        None
    };
    let store = match (&args.store, &rt) {
        (Some(url), Some(rt)) => Some(
            rt.block_on(PgStore::connect(url, args.store_schema.as_deref()))
                .context("connecting to the store")?,
        ),
        _ => None,
    };
    let (sweep, bundle) = if let Some(id) = &args.resume {
        let (Some(store), Some(rt)) = (&store, &rt) else {
            anyhow::bail!("--resume needs --store");
        };
        match rt.block_on(store.load_sweep(id))? {
            Some(x) => x,
            None => {
                writeln!(err, "error: no sweep {id} in the store")?;
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        if args.files.is_empty() || args.scenarios.is_empty() {
            writeln!(
                err,
                "error: give the twin's files and --scenarios (or --resume ID with --store)"
            )?;
            return Ok(ExitCode::from(2));
        }
        if args.replications == 0 {
            writeln!(err, "error: --replications must be at least 1")?;
            return Ok(ExitCode::from(2));
        }
        let mut params = Vec::new();
        for p in &args.params {
            match Param::parse(p) {
                Ok(p) => params.push(p),
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            }
        }
        let scenarios = scenario_files(&args.scenarios)?;
        let bundle = match Bundle::capture(&args.files, &scenarios, |p| std::fs::read(p)) {
            Ok(b) => b,
            Err(SweepError::Invalid(msg)) => {
                writeln!(err, "{msg}")?;
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        };
        let sweep = Sweep {
            bundle: bundle.hash(),
            scenarios: scenarios.iter().map(|p| p.display().to_string()).collect(),
            params,
            replications: args.replications,
            seed: args.seed,
            duration: args.duration.as_secs_f64(),
            warmup: args.warmup.as_secs_f64(),
        };
        (sweep, bundle)
    };
    let id = sweep.id();
    // Compile every (scenario, values) here first: a bad scenario or value fails now, with
    // its file, line and field, not on a worker.
    let variants = match doppel_sweep::local::prepare(&sweep, &bundle) {
        Ok(v) => v,
        Err(SweepError::Invalid(msg)) => {
            writeln!(err, "{msg}")?;
            return Ok(ExitCode::from(1));
        }
        Err(e @ SweepError::Sim { .. }) => {
            writeln!(err, "{e}")?;
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    writeln!(
        err,
        "sweep {id}: {} scenario(s) x {} combination(s) x {} replication(s) = {} task(s)",
        sweep.scenarios.len(),
        sweep.combinations(),
        sweep.replications,
        sweep.len()
    )?;
    drop(err);
    let started = Instant::now();
    let results: Vec<TaskResult> = match (&args.cluster, &rt) {
        (Some(url), Some(rt)) => {
            let pb = bar(sweep.len(), format!("sweep {id} on {url}"));
            let mut last = Progress {
                done: 0,
                total: 0,
                resumed: 0,
                duplicates: 0,
            };
            let results = rt.block_on(doppel_sweep::cluster::coordinate(
                url,
                &sweep,
                &bundle,
                CoordinatorOptions {
                    ack_wait: std::time::Duration::from_nanos(args.ack_wait.as_nanos()),
                },
                store.as_ref(),
                &mut |p: Progress| {
                    pb.set_position(p.done as u64);
                    last = p;
                },
            ))?;
            pb.finish_and_clear();
            writeln!(
                std::io::stderr().lock(),
                "sweep {id}: {} task(s) done ({} resumed, {} duplicate result(s) ignored) in {:.2} s",
                last.done,
                last.resumed,
                last.duplicates,
                started.elapsed().as_secs_f64()
            )?;
            results
        }
        _ => run_local(
            &args,
            &sweep,
            &bundle,
            &variants,
            store.as_ref(),
            rt.as_ref(),
        )?,
    };
    let table = Table::build(&sweep, &results)?;
    let text = match args.format {
        Format::Json => table.to_json(),
        Format::Csv => table.to_csv(),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_local(
    args: &SweepArgs,
    sweep: &Sweep,
    bundle: &Bundle,
    variants: &[doppel_sweep::Variant],
    store: Option<&PgStore>,
    rt: Option<&tokio::runtime::Runtime>,
) -> anyhow::Result<Vec<TaskResult>> {
    let id = sweep.id();
    let mut results: Vec<TaskResult> = match (store, rt) {
        (Some(s), Some(rt)) => rt.block_on(async {
            s.save_sweep(sweep, bundle).await?;
            s.results(&id).await
        })?,
        _ => Vec::new(),
    };
    let done: HashSet<u32> = results.iter().map(|r| r.index).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    let pb = bar(sweep.len(), format!("sweep {id}"));
    pb.set_position(done.len() as u64);
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel::<TaskResult>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let done = &done;
        scope.spawn(move || {
            let tx = Mutex::new(tx);
            pool.install(|| {
                doppel_sweep::local::run(sweep, variants, &|i| done.contains(&i), &|r| {
                    if let Ok(tx) = tx.lock() {
                        let _ = tx.send(r);
                    }
                });
            });
        });
        for r in rx {
            if let (Some(s), Some(rt)) = (store, rt) {
                rt.block_on(s.put_result(&id, &r))?;
            }
            results.push(r);
            pb.inc(1);
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    writeln!(
        std::io::stderr().lock(),
        "sweep {id}: {} task(s) in {:.2} s ({} resumed)",
        sweep.len(),
        started.elapsed().as_secs_f64(),
        done.len()
    )?;
    Ok(results)
}

/// Runs `doppel worker` until interrupted.
pub fn run_worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started: Arc<Mutex<HashMap<(String, u32), Instant>>> = Arc::default();
    let on_event = Arc::new(move |e: WorkerEvent| {
        let mut err = std::io::stderr().lock();
        let _ = match e {
            WorkerEvent::Started {
                sweep,
                index,
                attempt,
            } => {
                if let Ok(mut s) = started.lock() {
                    s.insert((sweep.clone(), index), Instant::now());
                }
                writeln!(err, "started task {sweep}/{index} (attempt {attempt})")
            }
            WorkerEvent::Finished { sweep, index } => {
                let secs = started
                    .lock()
                    .ok()
                    .and_then(|mut s| s.remove(&(sweep.clone(), index)))
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                writeln!(err, "finished task {sweep}/{index} in {secs:.3} s")
            }
            WorkerEvent::Problem(p) => writeln!(err, "warning: {p}"),
        };
    });
    writeln!(
        std::io::stderr().lock(),
        "worker: serving {} with {jobs} job(s)",
        args.cluster
    )?;
    let options = WorkerOptions {
        jobs,
        poll: std::time::Duration::from_nanos(args.poll.as_nanos()),
    };
    runtime()?.block_on(async {
        tokio::select! {
            r = doppel_sweep::cluster::work(&args.cluster, options, on_event) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

//! `doppel serve` and `doppel demo`: the live twin as a long-running HTTP service.
//!
//! `serve` stores the twin (SQLite file or PostgreSQL), takes in live telemetry, tracks drift
//! and recalibrates; `demo` does the same on an embedded store with the example shop and a
//! built-in synthetic production, so the twin is live on first run. Both print the URL and, on
//! a store's first start, the one-time admin token; logs go to stderr (`RUST_LOG` filters).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use doppel_server::{App, Config, DriftConfig};

use crate::twin_files;

/// Arguments of `doppel serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The twin's files (merged; `include` lists are followed). Optional when the store
    /// already holds a twin; when given and different, they become a new version.
    #[arg(long = "twin", value_name = "FILE")]
    pub twin: Vec<PathBuf>,
    /// Where to keep everything: a SQLite file, or `postgres://user@host/db` for a team.
    #[arg(long, default_value = "doppel.db")]
    pub store: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,
    /// Directory of the write-ahead log (default: `<store>.wal` beside a SQLite file,
    /// `doppel-wal` for PostgreSQL).
    #[arg(long, value_name = "DIR")]
    pub wal_dir: Option<PathBuf>,
    #[command(flatten)]
    pub drift: DriftArgs,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Turn authentication off. Refused unless listening on a loopback address.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Pull live metrics from this Prometheus server's HTTP API (`/api/v1/query_range`, GET
    /// only), e.g. `http://prometheus:9090`.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Queries, label mapping and timing of the pull (YAML; see crates/server/README.md).
    /// Without it, built-in queries for OpenTelemetry/Prometheus HTTP metrics and
    /// node_exporter run every 30 s.
    #[arg(long, value_name = "FILE", requires = "prometheus")]
    pub pull_config: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Send alerts (predicted SLO breaches, resources filling up, anomalies) to this URL as
    /// Alertmanager webhooks, firing and resolved.
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
}

/// TLS options: serve HTTPS with a certificate and key from PEM files.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The server configuration, when TLS was asked for.
    fn config(&self) -> anyhow::Result<Option<Arc<doppel_server::tls::ServerConfig>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Ok(Some(doppel_server::tls::server_config(c, k)?)),
            _ => Ok(None),
        }
    }
}

/// Serves plain HTTP or, with a TLS configuration, HTTPS.
async fn serve_any(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<doppel_server::tls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        Some(t) => doppel_server::serve_tls(app, listener, t, shutdown).await,
        None => doppel_server::serve(app, listener, shutdown).await,
    }
}

/// Drift and recalibration options.
#[derive(Debug, Clone, clap::Args)]
pub struct DriftArgs {
    /// Window over which predictions are compared with observations, seconds.
    #[arg(long, default_value_t = 60)]
    pub drift_window: i64,
    /// Drift (MAPE, percent) above which a service counts as drifting.
    #[arg(long, default_value_t = 20.0)]
    pub drift_threshold: f64,
    /// Evaluations in a row (one every 10 s) above the threshold before recalibrating.
    #[arg(long, default_value_t = 3)]
    pub drift_sustain: u32,
    /// Never recalibrate automatically (drift is still measured).
    #[arg(long)]
    pub no_recalibrate: bool,
    /// How predictions are made: `analytic` (queueing formulas, instant), `simulate` (a short
    /// seeded simulation at the observed rates), or `auto` (simulate when the formulas are not
    /// exact for the twin: non-exponential service times, a saturated service).
    #[arg(long, default_value = "auto", value_parser = ["auto", "analytic", "simulate"])]
    pub drift_method: String,
}

impl DriftArgs {
    fn config(&self) -> DriftConfig {
        DriftConfig {
            window_s: self.drift_window.max(10),
            interval_s: 10,
            threshold_pct: self.drift_threshold,
            sustain: self.drift_sustain.max(1),
            recalibrate: !self.no_recalibrate,
            method: doppel_server::drift::Method::parse(&self.drift_method).unwrap_or_default(),
        }
    }
}

/// Arguments of `doppel demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,
    /// Directory for the demo's store and log (default: a new directory under the system's
    /// temporary directory).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub stop_after: Option<u64>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Send alerts to this URL as Alertmanager webhooks (see `doppel serve`).
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
}

/// Checks `--alert-webhook` and sets the early warning's webhook and external URL.
fn alerting(
    cfg: &mut doppel_server::predictions::PredictConfig,
    webhook: Option<&String>,
    listen: SocketAddr,
    tls: bool,
) -> anyhow::Result<()> {
    if let Some(url) = webhook {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--alert-webhook {url}: expected an http:// or https:// URL");
        }
        cfg.webhook = Some(url.clone());
    }
    cfg.external_url = format!("{}://{listen}", if tls { "https" } else { "http" });
    Ok(())
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn banner(listen: SocketAddr, tls: bool, token: Option<&str>, extra: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let url = format!("{}://{listen}", if tls { "https" } else { "http" });
    writeln!(
        out,
        "Doppel live twin at {url}  (API description: {url}/api/openapi.json)"
    )?;
    let shown = match token {
        Some(t) => {
            writeln!(out, "Admin token (shown once, store it now): {t}")?;
            t.to_string()
        }
        None => {
            writeln!(
                out,
                "Use an existing token (the first start printed the admin's) as $TOKEN."
            )?;
            "$TOKEN".to_string()
        }
    };
    writeln!(out, "Try:")?;
    for (path, what) in [
        (
            "/api/live",
            "what production shows, per service (last minute)",
        ),
        (
            "/api/drift",
            "predicted vs observed latency and utilization",
        ),
        (
            "/api/twin/versions",
            "the twin's versions, recalibrations with their reason",
        ),
        (
            "/api/predictions",
            "predicted SLO breaches, memory running out, anomalies",
        ),
        ("/metrics", "Doppel's own health and drift, for Prometheus"),
    ] {
        writeln!(
            out,
            "  curl -H 'Authorization: Bearer {shown}' {url}{path}   # {what}"
        )?;
    }
    writeln!(out, "Web UI: {url}/ in a browser.")?;
    if !extra.is_empty() {
        writeln!(out, "{extra}")?;
    }
    out.flush()?;
    Ok(())
}

async fn shutdown_signal(stop_after: Option<u64>) {
    match stop_after {
        Some(s) => {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(s)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Binds the listening socket before anything else starts, so a busy port is a clear error
/// (with the way out) rather than a half-started service.
fn bind(listen: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    match std::net::TcpListener::bind(listen) {
        Ok(l) => {
            l.set_nonblocking(true)
                .with_context(|| format!("listening on {listen}"))?;
            Ok(l)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "cannot listen on {listen}: the port is already in use (another doppel, or another \
             program); choose a free one with --listen, e.g. --listen {}:{}",
            listen.ip(),
            listen.port().wrapping_add(1).max(1024)
        ),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {listen}")),
    }
}

/// The Prometheus pull configuration, from `--prometheus` and `--pull-config`.
fn pull_config(args: &ServeArgs) -> anyhow::Result<Option<doppel_server::pull::PullConfig>> {
    let Some(url) = &args.prometheus else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!("--prometheus {url}: expected an http:// or https:// URL");
    }
    let Some(file) = &args.pull_config else {
        return Ok(Some(doppel_server::pull::PullConfig::new(url)));
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    match doppel_server::pull::PullConfig::from_yaml(url, &file.display().to_string(), &text) {
        Ok(c) => Ok(Some(c)),
        Err(errors) => anyhow::bail!(
            "the pull configuration is not valid:\n{}",
            errors.join("\n")
        ),
    }
}

/// Runs `doppel serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    if args.insecure_no_auth && !args.listen.ip().is_loopback() {
        anyhow::bail!("--insecure-no-auth is only allowed on a loopback address");
    }
    let pull = pull_config(&args)?;
    let twin = if args.twin.is_empty() {
        None
    } else {
        let Some(loaded) = twin_files::load_valid(&args.twin)? else {
            return Ok(ExitCode::from(1));
        };
        Some(loaded.twin)
    };
    let is_pg = args.store.starts_with("postgres://") || args.store.starts_with("postgresql://");
    let wal_dir = args.wal_dir.clone().unwrap_or_else(|| {
        if is_pg {
            PathBuf::from("doppel-wal")
        } else {
            PathBuf::from(format!("{}.wal", args.store))
        }
    });
    // Bad certificate files are reported before anything else starts.
    let tls = args.tls.config()?;
    let mut cfg = Config::new(args.store.clone(), wal_dir);
    cfg.drift = args.drift.config();
    cfg.max_body = args.max_body;
    cfg.auth = !args.insecure_no_auth;
    alerting(
        &mut cfg.predict,
        args.alert_webhook.as_ref(),
        args.listen,
        tls.is_some(),
    )?;
    let std_listener = bind(args.listen)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .with_context(|| format!("listening on {}", args.listen))?;
        let (app, token) = App::start(cfg, twin)
            .await
            .context("starting the live twin")?;
        app.spawn_tasks();
        let extra = match &pull {
            Some(p) => {
                app.spawn_pull(p.clone());
                format!(
                    "Pulling from Prometheus at {} every {} s ({} queries); status: GET /api/pull",
                    p.url,
                    p.interval_s,
                    p.queries.len()
                )
            }
            None => String::new(),
        };
        banner(
            listener.local_addr()?,
            tls.is_some(),
            token.as_deref(),
            &extra,
        )?;
        serve_any(app, listener, tls, shutdown_signal(None)).await?;
        Ok(ExitCode::SUCCESS)
    })
}

const SHOP: &str = include_str!("../../../examples/shop.yaml");
const SHOP_NETWORK: &str = include_str!("../../../examples/shop-network.yaml");

fn demo_twin() -> anyhow::Result<doppel_model::Twin> {
    let loaded = doppel_model::load(&["shop.yaml"], |p: &Path| {
        match p.file_name().and_then(|n| n.to_str()) {
            Some("shop.yaml") => Ok(SHOP.as_bytes().to_vec()),
            Some("shop-network.yaml") => Ok(SHOP_NETWORK.as_bytes().to_vec()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not part of the demo",
            )),
        }
    });
    if let Some(e) = loaded.errors().next() {
        anyhow::bail!("the built-in example twin does not load: {e}");
    }
    Ok(loaded.twin)
}

/// Sessions per second the demo's cohorts are simulated at: the example shop's offered
/// browse rate (its `browse` workload).
const DEMO_COHORT_RATE: f64 = 80.0;

/// Learns the demo shop's user cohorts from a generated day of its access log (the three
/// cohorts of `doppel users generate`) and simulates their experience, so the UI's Cohorts
/// view has something to show from the start.
async fn demo_cohorts(app: Arc<App>) {
    let start = doppel_import::access_log::time::days_from_civil(2026, 11, 2);
    let truth = doppel_users::synth::demo_cohorts();
    let mut log = String::new();
    for r in doppel_users::synth::generate(&truth, start, 1, 1) {
        log.push_str(&doppel_users::synth::combined_line(&r, &truth));
        log.push('\n');
    }
    let opts = doppel_server::cohorts::LearnOptions {
        rate: Some(DEMO_COHORT_RATE),
        ..Default::default()
    };
    let learned = app.learn_cohorts(log.into_bytes(), opts).await;
    if let Err(e) = learned.map(|_| ()) {
        let _ = writeln!(std::io::stderr(), "could not learn the demo cohorts: {e}");
        return;
    }
    if let Err(e) = app.cohort_report().await {
        let _ = writeln!(
            std::io::stderr(),
            "could not simulate the demo cohorts: {e}"
        );
    }
}

/// Runs `doppel demo`.
pub fn run_demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let tls = args.tls.config()?;
    let twin = demo_twin()?;
    let std_listener = bind(args.listen)?;
    let dir = args.data.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("doppel-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cfg = Config::new(
        dir.join("doppel.db").to_string_lossy().into_owned(),
        dir.join("wal"),
    );
    cfg.drift = DriftConfig {
        window_s: 60,
        interval_s: 10,
        threshold_pct: 15.0,
        sustain: 3,
        recalibrate: true,
        // The synthetic production reports what the analytic model computes for it.
        method: doppel_server::drift::Method::Analytic,
    };
    let script = doppel_server::synth::Script::shop();
    // The demo's day lasts ten minutes: seasons, horizons and trends are compressed alike.
    cfg.predict = doppel_server::predictions::PredictConfig {
        interval_s: 10,
        trend_s: 1800,
        horizon_s: 3600,
        day_s: script.day_s as i64,
        anomaly_hold_s: 120,
        ..doppel_server::predictions::PredictConfig::default()
    };
    alerting(
        &mut cfg.predict,
        args.alert_webhook.as_ref(),
        args.listen,
        tls.is_some(),
    )?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .with_context(|| format!("listening on {}", args.listen))?;
        let (app, token) = App::start(cfg, Some(twin.clone()))
            .await
            .context("starting the live twin")?;
        app.spawn_tasks();
        tokio::spawn(demo_cohorts(Arc::clone(&app)));
        let extra = format!(
            "Demo data in {}. A synthetic production of the example shop is sending live \
             metrics: a compressed day of load every {} s, `{}` leaking {} KiB/s of memory, and \
             `{}` getting {:.1}% slower every minute (fixed every {} min). The twin notices \
             the drift (GET /api/drift), recalibrates (GET /api/twin/versions) and warns before \
             the memory runs out and the SLOs break (GET /api/predictions). Ctrl-C stops.",
            dir.display(),
            script.day_s,
            script.leak_service,
            script.leak_bytes_per_s / 1024.0,
            script.degrade_service,
            script.degrade_per_s * 6000.0,
            script.degrade_cycle_s / 60,
        );
        banner(
            listener.local_addr()?,
            tls.is_some(),
            token.as_deref(),
            &extra,
        )?;
        let producer = tokio::spawn(doppel_server::synth::drive(
            Arc::clone(&app),
            twin,
            script,
            std::time::Duration::from_secs(1),
            None,
        ));
        serve_any(app, listener, tls, shutdown_signal(args.stop_after)).await?;
        producer.abort();
        Ok(ExitCode::SUCCESS)
    })
}

//! The live twin as a service: the state behind `doppel serve` and `doppel demo`.
//!
//! [`App`] owns the store, the current twin, the telemetry aggregator and its write-ahead log,
//! and the drift state; [`http::router`] is the HTTP API over it. Life of a sample: an intake
//! handler decodes and checks the body, appends it to the write-ahead log (group commit), adds
//! it to the aggregator and only then acknowledges; every second a checkpoint moves the
//! aggregated 10-second buckets into the store together with the log position, and deletes the
//! log segments they came from. Every `drift.interval_s` the twin predicts the last window at
//! the observed rates, records the drift, and recalibrates when it stays too high.
//!
//! Nothing here reads the terminal or prints: the first admin token is returned to the caller.

pub mod analyses;
pub mod cohorts;
pub mod drift;
pub mod http;
pub mod ingest;
pub mod openapi;
pub mod predictions;
pub mod pull;
pub mod runs;
pub mod synth;
pub mod tls;
pub mod topology;
pub mod ui;
pub mod wal;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use doppel_model::Twin;
use doppel_store::{
    MetricQuery, NewAudit, NewRun, NewTwinVersion, Role, RunStatus, RunUpdate, Store, StoreError,
};
use serde::Serialize;

use drift::{Predictor, ServiceDrift};
use ingest::{Aggregator, Entities};

/// Write-ahead log record kinds. Every payload starts with the receive time (i64 LE, ms).
pub mod record {
    /// A remote-write body, snappy-compressed as received.
    pub const REMOTE_WRITE: u8 = 1;
    /// A Datadog series body.
    pub const DATADOG: u8 = 2;
    /// A Splunk HEC body.
    pub const SPLUNK: u8 = 3;
    /// Counter baselines at a checkpoint (JSON).
    pub const BASELINES: u8 = 4;
    /// An OTLP/HTTP trace export: a format byte (0 protobuf, 1 JSON), then the body
    /// (decompressed).
    pub const OTLP_TRACES: u8 = 5;
    /// An OTLP/HTTP metrics export, laid out as [`OTLP_TRACES`].
    pub const OTLP_METRICS: u8 = 6;
    /// Values pulled from Prometheus (JSON list of `pull::Pulled`).
    pub const PULLED: u8 = 8;
}

/// Setting that holds the last write-ahead log segment whose content is in the store.
pub const WAL_CHECKPOINT: &str = "wal_checkpoint";

/// Drift and recalibration settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DriftConfig {
    /// Window compared, seconds.
    pub window_s: i64,
    /// How often drift is evaluated, seconds.
    pub interval_s: u64,
    /// Drift (MAPE, percent) above which a service counts as drifting.
    pub threshold_pct: f64,
    /// Evaluations in a row above the threshold before recalibrating.
    pub sustain: u32,
    /// Whether to recalibrate at all.
    pub recalibrate: bool,
    /// How predictions are made: analytic, by short simulations, or automatically.
    pub method: drift::Method,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            window_s: 60,
            interval_s: 10,
            threshold_pct: 20.0,
            sustain: 3,
            recalibrate: true,
            method: drift::Method::Auto,
        }
    }
}

/// How to run the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store location: a SQLite file or a `postgres://` URL.
    pub store: String,
    /// Directory of the write-ahead log.
    pub wal_dir: PathBuf,
    /// Drift settings.
    pub drift: DriftConfig,
    /// Largest request body, bytes (intake endpoints).
    pub max_body: usize,
    /// Checkpoint interval, milliseconds.
    pub flush_ms: u64,
    /// Whether bearer tokens are required (on unless explicitly turned off).
    pub auth: bool,
    /// A trace's call graph is counted once no span of it arrived for this long,
    /// milliseconds (default [`ingest::otlp::SETTLE_MS`]).
    pub trace_settle_ms: i64,
    /// Early warning: anomalies, exhaustion, predicted SLO breaches, alert webhooks.
    pub predict: predictions::PredictConfig,
}

impl Config {
    /// Defaults for a store location and a data directory.
    pub fn new(store: impl Into<String>, wal_dir: impl Into<PathBuf>) -> Config {
        Config {
            store: store.into(),
            wal_dir: wal_dir.into(),
            drift: DriftConfig::default(),
            max_body: 16 << 20,
            flush_ms: 1000,
            auth: true,
            trace_settle_ms: ingest::otlp::SETTLE_MS,
            predict: predictions::PredictConfig::default(),
        }
    }
}

/// Why the service failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file (the write-ahead log) failed.
    #[error("write-ahead log: {0}")]
    Io(#[from] std::io::Error),
    /// The twin is unusable.
    #[error("twin: {0}")]
    Twin(String),
    /// Drift computation failed.
    #[error(transparent)]
    Drift(#[from] drift::DriftError),
    /// Bad input.
    #[error("{0}")]
    BadInput(String),
    /// Prometheus could not be pulled from.
    #[error(transparent)]
    Pull(#[from] pull::PullError),
}

/// The twin in force.
pub struct Current {
    /// Its stored version.
    pub version: i64,
    /// The twin.
    pub twin: Twin,
    /// Predictions for it (`None` when it cannot be compiled).
    pub predictor: Option<Predictor>,
}

/// Drift as last evaluated.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DriftState {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Per service.
    pub services: Vec<ServiceDrift>,
    /// Evaluations in a row above the threshold, per service.
    pub over: HashMap<String, u32>,
    /// Recalibrations since start.
    pub recalibrations: u64,
    /// The last recalibration's reason.
    pub last_recalibration: Option<String>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// HTTP requests served.
    pub http_requests: AtomicU64,
    /// Requests refused for authentication.
    pub auth_failures: AtomicU64,
    /// Intake requests acknowledged.
    pub ingest_requests: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Simulations running on a worker thread now.
    pub runs_active: AtomicU64,
}

/// What an OTLP export brought: items accepted and rejected (a partial success when some
/// were), and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpOutcome {
    /// Spans or data points accepted.
    pub accepted: u64,
    /// Spans or data points rejected (no ids, times or values).
    pub rejected: u64,
}

/// The running service's state.
pub struct App {
    /// Configuration.
    pub cfg: Config,
    /// Storage.
    pub store: Arc<dyn Store>,
    current: RwLock<Arc<Current>>,
    agg: Mutex<Aggregator>,
    gate: tokio::sync::RwLock<()>,
    wal: wal::Wal,
    drift: Mutex<DriftState>,
    cancels: Mutex<HashMap<i64, Arc<AtomicBool>>>,
    pub(crate) failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// Recently seen tokens by hash, with when they were looked up (so intake traffic does
    /// not query the store per request); cleared on any token change.
    pub(crate) token_cache: Mutex<HashMap<String, (doppel_store::TokenInfo, i64)>>,
    /// Counters for `/metrics`.
    pub counters: Counters,
    /// The Prometheus puller's state, when pulling.
    pub(crate) pull_status: Mutex<Option<pull::PullStatus>>,
    /// The early warning's state (what readers see).
    pub(crate) predictions: Mutex<predictions::State>,
    /// The early warning's working memory (held by an evaluation while it runs).
    pub(crate) prediction_work: Arc<Mutex<predictions::Work>>,
    /// Security and network analyses of the twin in force, per query.
    pub(crate) analyses: analyses::Cache,
    /// Learned user cohorts and their report.
    pub(crate) cohorts: tokio::sync::Mutex<cohorts::State>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A new random token: `dpl_` and 64 hex digits (256 bits).
pub fn new_token() -> Result<String, Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::BadInput(format!("no randomness: {e}")))?;
    let mut s = String::from("dpl_");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

/// Reads a twin back from its stored JSON.
pub fn twin_from_json(v: &serde_json::Value) -> Result<Twin, Error> {
    serde_json::from_value(v.clone()).map_err(|e| Error::Twin(e.to_string()))
}

/// The stored JSON of a twin.
pub fn twin_to_json(t: &Twin) -> Result<serde_json::Value, Error> {
    serde_json::to_value(t).map_err(|e| Error::Twin(e.to_string()))
}

impl App {
    /// Opens the store, records `twin` as a new version when it differs from the stored one,
    /// creates the first admin (returning its token, shown once) when there are no users,
    /// replays the write-ahead log and resumes unfinished runs. Call [`App::spawn_tasks`] next.
    pub async fn start(
        cfg: Config,
        twin: Option<Twin>,
    ) -> Result<(Arc<App>, Option<String>), Error> {
        let store = doppel_store::open(&cfg.store).await?;
        Self::start_with(cfg, store, twin).await
    }

    /// As [`App::start`], on a store already open.
    pub async fn start_with(
        cfg: Config,
        store: Arc<dyn Store>,
        twin: Option<Twin>,
    ) -> Result<(Arc<App>, Option<String>), Error> {
        let now = now_ms();
        let mut admin_token = None;
        if store.users().await?.is_empty() {
            store.create_user("admin", Role::Admin, now).await?;
            let token = new_token()?;
            store
                .create_token(
                    "admin",
                    "first start",
                    &doppel_store::hash_token(&token),
                    now,
                )
                .await?;
            store
                .audit(&NewAudit {
                    at_ms: now,
                    actor: "doppel".into(),
                    action: "create first admin token".into(),
                    status: 0,
                    detail: "user admin".into(),
                })
                .await?;
            admin_token = Some(token);
        }
        let stored = store.twin(None).await?;
        let (version, twin) = match (stored, twin) {
            (Some(s), Some(t)) => {
                let j = twin_to_json(&t)?;
                if j == s.twin {
                    (s.meta.version, t)
                } else {
                    let m = store
                        .put_twin(NewTwinVersion {
                            twin: j,
                            author: "doppel serve".into(),
                            reason: "loaded from the twin files given at start".into(),
                            created_ms: now,
                        })
                        .await?;
                    (m.version, t)
                }
            }
            (Some(s), None) => (s.meta.version, twin_from_json(&s.twin)?),
            (None, Some(t)) => {
                let m = store
                    .put_twin(NewTwinVersion {
                        twin: twin_to_json(&t)?,
                        author: "doppel serve".into(),
                        reason: "first version, loaded from the twin files given at start".into(),
                        created_ms: now,
                    })
                    .await?;
                (m.version, t)
            }
            (None, None) => {
                return Err(Error::Twin(
                    "no twin: give twin files (--twin) or import one into the store".into(),
                ));
            }
        };
        let predictor = Predictor::new(&twin)
            .map_err(|e| tracing::warn!(error = %e, "no drift predictions for this twin"))
            .ok();
        let mut agg = Aggregator::new(Entities::of(&twin));

        // Replay what was acknowledged but not yet checkpointed.
        std::fs::create_dir_all(&cfg.wal_dir)?;
        let after: u64 = store
            .setting(WAL_CHECKPOINT)
            .await?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let records = wal::replay(&cfg.wal_dir, after)?;
        let replayed = records.len();
        for r in records {
            if let Err(e) = apply_record(&mut agg, r.kind, &r.payload) {
                tracing::warn!(error = %e, seq = r.seq, "skipping a write-ahead log record");
            }
        }
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed the write-ahead log");
        }
        let wal = wal::Wal::open(&cfg.wal_dir)?;
        let app = Arc::new(App {
            cfg,
            store,
            current: RwLock::new(Arc::new(Current {
                version,
                twin,
                predictor,
            })),
            agg: Mutex::new(agg),
            gate: tokio::sync::RwLock::new(()),
            wal,
            drift: Mutex::new(DriftState::default()),
            cancels: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            token_cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            pull_status: Mutex::new(None),
            predictions: Mutex::new(predictions::State::default()),
            prediction_work: Arc::new(Mutex::new(predictions::Work::default())),
            analyses: analyses::Cache::default(),
            cohorts: tokio::sync::Mutex::new(cohorts::State::default()),
        });
        app.checkpoint().await?;
        // Runs interrupted by a stop start again.
        for run in app.store.runs(1000).await? {
            if !run.status.is_final() {
                tracing::info!(run = run.id, "resuming an interrupted run");
                app.spawn_run(
                    run.id,
                    run.kind.clone(),
                    run.twin_version,
                    run.params.clone(),
                );
            }
        }
        Ok((app, admin_token))
    }

    /// Starts the background work: checkpoints, drift evaluation, downsampling.
    pub fn spawn_tasks(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(std::time::Duration::from_millis(app.cfg.flush_ms.max(10)));
            loop {
                tick.tick().await;
                if let Err(e) = app.checkpoint().await {
                    tracing::warn!(error = %e, "checkpoint failed; will retry");
                }
            }
        });
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(
                app.cfg.drift.interval_s.max(1),
            ));
            loop {
                tick.tick().await;
                if let Err(e) = app.drift_tick(now_ms()).await {
                    tracing::warn!(error = %e, "drift evaluation failed");
                }
            }
        });
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(
                app.cfg.predict.interval_s.max(1),
            ));
            loop {
                tick.tick().await;
                if let Err(e) = app.predict_tick(now_ms()).await {
                    tracing::warn!(error = %e, "predictions failed");
                }
            }
        });
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                // 10 s buckets are kept for 6 hours, then rolled up into 5-minute ones.
                let before = now_ms() - 6 * 3600 * 1000;
                if let Err(e) = app.store.downsample(10, 300, before).await {
                    tracing::warn!(error = %e, "downsampling failed");
                }
            }
        });
    }

    /// The twin in force.
    pub fn current(&self) -> Arc<Current> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Records a new twin version and makes it current.
    pub async fn set_twin(&self, twin: Twin, author: &str, reason: &str) -> Result<i64, Error> {
        let m = self
            .store
            .put_twin(NewTwinVersion {
                twin: twin_to_json(&twin)?,
                author: author.into(),
                reason: reason.into(),
                created_ms: now_ms(),
            })
            .await?;
        self.install(m.version, twin);
        Ok(m.version)
    }

    fn install(&self, version: i64, twin: Twin) {
        let predictor = Predictor::new(&twin).ok();
        lock(&self.agg).set_entities(Entities::of(&twin));
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Current {
            version,
            twin,
            predictor,
        });
    }

    /// Makes a stored version current again (after a roll back).
    pub async fn reload(&self) -> Result<(), Error> {
        if let Some(v) = self.store.twin(None).await? {
            self.install(v.meta.version, twin_from_json(&v.twin)?);
        }
        Ok(())
    }

    /// Durably logs an intake body, applies it, and returns how many samples it held.
    ///
    /// Remote-write bodies are decoded once, straight into the aggregator; a body found
    /// malformed part-way is refused (400) but what was applied of it is logged too, so a
    /// replay rebuilds exactly the same state. JSON bodies are checked before anything happens.
    pub async fn ingest(&self, kind: u8, body: &[u8], now: i64) -> Result<u64, Error> {
        let mut payload = Vec::with_capacity(8 + body.len());
        payload.extend_from_slice(&now.to_le_bytes());
        payload.extend_from_slice(body);
        if kind == record::REMOTE_WRITE {
            let raw = ingest::remote_write::decompress(body)
                .map_err(|e| Error::BadInput(e.to_string()))?;
            let _gate = self.gate.read().await;
            let (n, applied) = {
                let mut agg = lock(&self.agg);
                let before = agg.stats.samples;
                let r = ingest::apply_remote_write(&mut agg, &raw);
                (agg.stats.samples - before, r)
            };
            self.wal.append(kind, &payload).await?;
            applied.map_err(|e| Error::BadInput(e.to_string()))?;
            self.counters
                .ingest_requests
                .fetch_add(1, Ordering::Relaxed);
            return Ok(n);
        }
        let mut probe = Aggregator::new(Entities::default());
        match kind {
            record::DATADOG => {
                ingest::formats::apply_datadog(&mut probe, body)
                    .map_err(|e| Error::BadInput(e.to_string()))?;
            }
            record::SPLUNK => {
                ingest::formats::apply_splunk(&mut probe, body, now)
                    .map_err(|e| Error::BadInput(e.to_string()))?;
            }
            _ => return Err(Error::BadInput("unknown intake".into())),
        }
        let _gate = self.gate.read().await;
        self.wal.append(kind, &payload).await?;
        let mut agg = lock(&self.agg);
        let before = agg.stats.samples;
        apply_record(&mut agg, kind, &payload)?;
        self.counters
            .ingest_requests
            .fetch_add(1, Ordering::Relaxed);
        Ok(agg.stats.samples - before)
    }

    /// Durably logs an OTLP/HTTP export (`kind` [`record::OTLP_TRACES`] or
    /// [`record::OTLP_METRICS`], body decompressed, JSON or protobuf), applies it, and says
    /// how much was accepted. A body that does not decode is refused before anything happens.
    pub async fn ingest_otlp(
        &self,
        kind: u8,
        body: &[u8],
        json: bool,
        now: i64,
    ) -> Result<OtlpOutcome, Error> {
        let decoded = decode_otlp(kind, body, json)?;
        let mut payload = Vec::with_capacity(9 + body.len());
        payload.extend_from_slice(&now.to_le_bytes());
        payload.push(u8::from(json));
        payload.extend_from_slice(body);
        let _gate = self.gate.read().await;
        self.wal.append(kind, &payload).await?;
        let outcome = {
            let mut agg = lock(&self.agg);
            apply_otlp(&mut agg, decoded, now)
        };
        self.counters
            .ingest_requests
            .fetch_add(1, Ordering::Relaxed);
        Ok(outcome)
    }

    /// Moves the aggregated buckets into the store with the log position, then deletes the
    /// log segments they came from.
    pub async fn checkpoint(&self) -> Result<(), Error> {
        let (closed, points) = {
            let _gate = self.gate.write().await;
            let closed = self.wal.rotate().await?;
            let (points, base) = {
                let mut agg = lock(&self.agg);
                // Traces quiet for long enough give their call graph to this checkpoint.
                let now = now_ms();
                let settled = agg.traces.settle(now, self.cfg.trace_settle_ms);
                ingest::otlp::count_calls(&mut agg, &settled, now);
                (agg.take(), agg.baselines())
            };
            let mut payload = now_ms().to_le_bytes().to_vec();
            payload.extend(serde_json::to_vec(&base).map_err(|e| Error::Twin(e.to_string()))?);
            self.wal.append(record::BASELINES, &payload).await?;
            (closed, points)
        };
        match self
            .store
            .put_metrics_checkpoint(&points, WAL_CHECKPOINT, &closed.to_string())
            .await
        {
            Ok(()) => {
                self.wal.remove_upto(closed)?;
                self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                lock(&self.agg).put_back(points);
                Err(e.into())
            }
        }
    }

    /// Spans waiting for their traces to settle.
    pub fn trace_spans_held(&self) -> usize {
        lock(&self.agg).traces.held()
    }

    /// Totals of what came in.
    pub fn ingest_stats(&self) -> ingest::IngestStats {
        lock(&self.agg).stats
    }

    /// Observations over the last `window_s` complete buckets before `now`.
    pub async fn observe(
        &self,
        now: i64,
        window_s: i64,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeMap<i64, drift::Observed>>,
        Error,
    > {
        let width = ingest::RESOLUTION_S * 1000;
        let to = now - now.rem_euclid(width);
        let pts = self
            .store
            .metrics(&MetricQuery {
                entity: None,
                metric: None,
                resolution_s: ingest::RESOLUTION_S,
                from_ms: to - window_s * 1000,
                to_ms: to,
                limit: 1_000_000,
            })
            .await?;
        Ok(drift::observe(&pts))
    }

    /// The flows observed over the last `window_s` complete buckets before `now` (the live
    /// traffic matrix of `GET /api/network/route?traffic=live`).
    pub async fn live_flows(&self, now: i64, window_s: i64) -> Result<analyses::LiveFlows, Error> {
        let width = ingest::RESOLUTION_S * 1000;
        let to = now - now.rem_euclid(width);
        let from = to - window_s * 1000;
        let pts = self
            .store
            .metrics(&MetricQuery {
                entity: None,
                metric: Some(ingest::Kind::FlowBytes.metric().to_string()),
                resolution_s: ingest::RESOLUTION_S,
                from_ms: from,
                to_ms: to,
                limit: 1_000_000,
            })
            .await?;
        Ok(analyses::live_flows(&pts, from, to))
    }

    /// Evaluates drift over the window ending at `now`, records it, and recalibrates when a
    /// service has drifted for long enough.
    pub async fn drift_tick(&self, now: i64) -> Result<Vec<ServiceDrift>, Error> {
        let cfg = self.cfg.drift;
        let obs = self.observe(now, cfg.window_s).await?;
        let cur = self.current();
        let Some(p) = &cur.predictor else {
            return Ok(Vec::new());
        };
        let drifts = if cfg.method == drift::Method::Analytic {
            drift::evaluate(p, &obs, cur.version, now, cfg.window_s, cfg.method)?
        } else {
            // Simulations take milliseconds to a second: off the async workers.
            let (cur2, obs2) = (Arc::clone(&cur), obs.clone());
            tokio::task::spawn_blocking(move || {
                let p = cur2.predictor.as_ref().ok_or_else(|| {
                    drift::DriftError::Compile("the twin has no predictor".into())
                })?;
                drift::evaluate(p, &obs2, cur2.version, now, cfg.window_s, cfg.method)
            })
            .await
            .map_err(|e| Error::Twin(format!("drift evaluation task: {e}")))??
        };
        let records: Vec<_> = drifts.iter().map(|d| d.record.clone()).collect();
        self.store.put_drift(&records).await?;
        let drifting: Vec<String> = drifts
            .iter()
            .filter(|d| d.record.mape > cfg.threshold_pct)
            .map(|d| d.record.service.clone())
            .collect();
        let due: Vec<String> = {
            let mut st = lock(&self.drift);
            st.at_ms = now;
            st.services = drifts.clone();
            let mut due = Vec::new();
            for d in &drifts {
                let c = st.over.entry(d.record.service.clone()).or_insert(0);
                *c = if d.record.mape > cfg.threshold_pct {
                    *c + 1
                } else {
                    0
                };
                if *c >= cfg.sustain {
                    due.push(d.record.service.clone());
                }
            }
            due
        };
        if cfg.recalibrate
            && !due.is_empty()
            && let Some((twin, reason)) =
                drift::recalibrate(&cur.twin, p, &obs, &due, &drifting, cfg.sustain as usize)?
        {
            let version = self.set_twin(twin, "doppel", &reason).await?;
            self.store
                .audit(&NewAudit {
                    at_ms: now,
                    actor: "doppel".into(),
                    action: "recalibrate".into(),
                    status: 0,
                    detail: format!("version {version}: {reason}"),
                })
                .await?;
            tracing::info!(version, %reason, "recalibrated");
            let mut st = lock(&self.drift);
            st.over.clear();
            st.recalibrations += 1;
            st.last_recalibration = Some(reason);
        }
        if cfg.recalibrate {
            self.recalibrate_calls(now).await?;
        }
        Ok(drifts)
    }

    /// Mean calls per request between endpoints, from the traces settled over the last
    /// [`drift::CALLS_WINDOW_S`] seconds before `now`.
    pub async fn observed_calls(
        &self,
        now: i64,
    ) -> Result<std::collections::BTreeMap<(String, String), drift::ObservedCalls>, Error> {
        let mut pts = Vec::new();
        for metric in ["traced_requests", "calls"] {
            pts.extend(
                self.store
                    .metrics(&MetricQuery {
                        entity: None,
                        metric: Some(metric.into()),
                        resolution_s: ingest::RESOLUTION_S,
                        from_ms: now - drift::CALLS_WINDOW_S * 1000,
                        to_ms: now + 1,
                        limit: 1_000_000,
                    })
                    .await?,
            );
        }
        Ok(drift::observed_calls(&pts))
    }

    /// Updates the twin's call counts from traces when they disagree (see
    /// [`drift::recalibrate_calls`]); returns the new version, if one was recorded.
    pub async fn recalibrate_calls(&self, now: i64) -> Result<Option<i64>, Error> {
        let observed = self.observed_calls(now).await?;
        let cur = self.current();
        let Some((twin, reason)) =
            drift::recalibrate_calls(&cur.twin, &observed, drift::CALLS_WINDOW_S)
        else {
            return Ok(None);
        };
        let version = self.set_twin(twin, "doppel", &reason).await?;
        self.store
            .audit(&NewAudit {
                at_ms: now,
                actor: "doppel".into(),
                action: "recalibrate calls".into(),
                status: 0,
                detail: format!("version {version}: {reason}"),
            })
            .await?;
        tracing::info!(version, %reason, "recalibrated call ratios");
        let mut st = lock(&self.drift);
        st.recalibrations += 1;
        st.last_recalibration = Some(reason);
        Ok(Some(version))
    }

    /// The live token with this hash (cached for 5 s; revocations clear the cache).
    pub async fn token(&self, hash: &str) -> Result<Option<doppel_store::TokenInfo>, Error> {
        let now = now_ms();
        if let Some((info, at)) = lock(&self.token_cache).get(hash)
            && now - at < 5_000
        {
            return Ok(Some(info.clone()));
        }
        let info = self.store.token_by_hash(hash).await?;
        if let Some(i) = &info {
            let mut c = lock(&self.token_cache);
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(hash.to_string(), (i.clone(), now));
        }
        Ok(info)
    }

    /// Forgets cached tokens (after a revocation).
    pub fn clear_token_cache(&self) {
        lock(&self.token_cache).clear();
    }

    /// Runs the early warning at `now` on the stored history (see [`predictions`]): records
    /// the evaluation, sends the alerts that changed to the webhook (awaiting delivery) and
    /// returns the evaluation.
    pub async fn predict_tick(&self, now: i64) -> Result<predictions::Evaluation, Error> {
        let cfg = self.cfg.predict.clone();
        let pts = self
            .store
            .metrics(&MetricQuery {
                entity: None,
                metric: None,
                resolution_s: ingest::RESOLUTION_S,
                from_ms: now - cfg.history_s * 1000,
                to_ms: now + 1,
                limit: 5_000_000,
            })
            .await?;
        let cur = self.current();
        let work = Arc::clone(&self.prediction_work);
        let c2 = cfg.clone();
        let ev = tokio::task::spawn_blocking(move || {
            let mut w = lock(&work);
            predictions::evaluate(
                &c2,
                &cur.twin,
                cur.version,
                cur.predictor.as_ref(),
                &pts,
                now,
                &mut w,
            )
        })
        .await
        .map_err(|e| Error::Twin(format!("prediction task: {e}")))?;
        let changed = lock(&self.predictions).record(&cfg, ev.clone());
        if let Some(url) = cfg.webhook.clone()
            && !changed.is_empty()
        {
            let payloads = predictions::payloads(&cfg, &changed);
            let outcome = tokio::task::spawn_blocking(move || {
                payloads
                    .iter()
                    .map(|p| predictions::post(&url, p))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| Error::Twin(format!("webhook task: {e}")))?;
            let mut st = lock(&self.predictions);
            for r in outcome {
                match r {
                    Ok(()) => st.webhook.sent += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "alert webhook failed");
                        st.webhook.failed += 1;
                        st.webhook.last_error = Some(e);
                    }
                }
            }
        }
        for a in &changed {
            tracing::info!(
                alert = a.labels.get("alertname").map_or("", String::as_str),
                resolved = a.ends_at_ms.is_some(),
                summary = a.annotations.get("summary").map_or("", String::as_str),
                "alert"
            );
        }
        Ok(ev)
    }

    /// The early warning's current predictions and alerts, as the API shows them.
    pub fn predictions(&self) -> serde_json::Value {
        predictions::summary(&self.cfg.predict, &lock(&self.predictions))
    }

    /// Recent anomalies, newest first, at or after `since_ms`.
    pub fn anomalies(&self, since_ms: i64, limit: usize) -> Vec<predictions::Anomaly> {
        lock(&self.predictions)
            .anomalies
            .iter()
            .rev()
            .filter(|a| a.at_ms >= since_ms)
            .take(limit)
            .cloned()
            .collect()
    }

    /// One series with its forecast band and anomaly marks (see [`predictions::series_view`]).
    pub async fn prediction_series(
        &self,
        entity: &str,
        metric: &str,
        now: i64,
    ) -> Result<serde_json::Value, Error> {
        let cfg = &self.cfg.predict;
        let pts = self
            .store
            .metrics(&MetricQuery {
                entity: Some(entity.to_string()),
                metric: None,
                resolution_s: ingest::RESOLUTION_S,
                from_ms: now - cfg.history_s * 1000,
                to_ms: now - now.rem_euclid(ingest::RESOLUTION_S * 1000),
                limit: 1_000_000,
            })
            .await?;
        let st = lock(&self.predictions);
        Ok(predictions::series_view(cfg, &st, entity, metric, &pts))
    }

    /// Drift as last evaluated.
    pub fn drift_state(&self) -> DriftState {
        lock(&self.drift).clone()
    }

    /// An analysis of the twin in force (the Security and Network views): `compute` runs on
    /// the blocking pool, and its answer is kept for that twin version and `key`. Returns the
    /// version analysed and the answer.
    pub async fn analysis<F>(
        &self,
        key: String,
        compute: F,
    ) -> Result<(i64, Arc<serde_json::Value>), analyses::AnalysisError>
    where
        F: FnOnce(&Twin) -> Result<serde_json::Value, analyses::AnalysisError> + Send + 'static,
    {
        let cur = self.current();
        let version = cur.version;
        if let Some(v) = self.analyses.get(version, &key) {
            return Ok((version, v));
        }
        let v = tokio::task::spawn_blocking(move || compute(&cur.twin))
            .await
            .map_err(|e| analyses::AnalysisError::Failed(format!("the analysis stopped: {e}")))??;
        let v = Arc::new(v);
        self.analyses.put(version, key, Arc::clone(&v));
        Ok((version, v))
    }

    /// Submits a scenario run and starts it.
    pub async fn submit_run(
        self: &Arc<Self>,
        kind: &str,
        params: serde_json::Value,
        user: &str,
    ) -> Result<doppel_store::Run, Error> {
        let cur = self.current();
        runs::check_submission(kind, &cur.twin, &params)?;
        let run = self
            .store
            .create_run(NewRun {
                kind: kind.into(),
                twin_version: cur.version,
                params: params.clone(),
                submitted_by: user.into(),
                created_ms: now_ms(),
            })
            .await?;
        self.spawn_run(run.id, kind.to_string(), cur.version, params);
        Ok(run)
    }

    /// Stops a run: it is marked cancelled at once, and a simulation in progress stops within
    /// a few thousand events (the engine checks the flag), freeing its worker. A finished run
    /// cannot be cancelled (409).
    pub async fn cancel_run(&self, id: i64) -> Result<doppel_store::Run, Error> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
        if run.status.is_final() {
            return Err(StoreError::Conflict(format!(
                "run {id} already ended ({})",
                run.status.as_str()
            ))
            .into());
        }
        if let Some(flag) = lock(&self.cancels).get(&id) {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(self
            .store
            .update_run(
                id,
                RunUpdate {
                    status: Some(RunStatus::Cancelled),
                    now_ms: now_ms(),
                    ..RunUpdate::default()
                },
            )
            .await?)
    }

    /// Simulations running on a worker thread now.
    pub fn runs_active(&self) -> u64 {
        self.counters.runs_active.load(Ordering::Relaxed)
    }

    fn spawn_run(self: &Arc<Self>, id: i64, kind: String, version: i64, params: serde_json::Value) {
        let flag = Arc::new(AtomicBool::new(false));
        lock(&self.cancels).insert(id, Arc::clone(&flag));
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let store = Arc::clone(&app.store);
            let upd = |status, progress, result, error| RunUpdate {
                status: Some(status),
                progress,
                result,
                error,
                now_ms: now_ms(),
            };
            // Progress in millionths, written by the simulation, read by the reporter below.
            let progress = Arc::new(AtomicU64::new(0));
            let outcome = async {
                store
                    .update_run(id, upd(RunStatus::Running, Some(0.0), None, None))
                    .await?;
                let v = store
                    .twin(Some(version))
                    .await?
                    .ok_or_else(|| Error::Twin(format!("version {version} is gone")))?;
                let twin = twin_from_json(&v.twin)?;
                let (f, p, a) = (Arc::clone(&flag), Arc::clone(&progress), Arc::clone(&app));
                let mut job = tokio::task::spawn_blocking(move || {
                    a.counters.runs_active.fetch_add(1, Ordering::Relaxed);
                    let r = runs::execute(&kind, &twin, &params, &f, &p);
                    a.counters.runs_active.fetch_sub(1, Ordering::Relaxed);
                    r
                });
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
                let mut last = 0;
                let result = loop {
                    tokio::select! {
                        r = &mut job => break r,
                        _ = tick.tick() => {
                            let now = progress.load(Ordering::Relaxed);
                            if now != last {
                                last = now;
                                let u = upd(RunStatus::Running, Some(now as f64 / 1e6), None, None);
                                if let Err(e) = store.update_run(id, u).await {
                                    tracing::debug!(run = id, error = %e, "progress not recorded");
                                }
                            }
                        }
                    }
                };
                result.map_err(|e| Error::Twin(e.to_string()))?
            }
            .await;
            lock(&app.cancels).remove(&id);
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let u = match outcome {
                Ok(r) => upd(RunStatus::Succeeded, Some(1.0), Some(r), None),
                Err(e) => upd(RunStatus::Failed, None, None, Some(e.to_string())),
            };
            if let Err(e) = store.update_run(id, u).await {
                tracing::warn!(run = id, error = %e, "could not record a run's end");
            }
        });
    }
}

/// Serves the API on `listener` until `shutdown` completes (background tasks must have been
/// started with [`App::spawn_tasks`]).
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small responses (204s) must not wait for delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    serve_on(app, listener, shutdown).await
}

/// As [`serve`], over TLS with `tls` (see [`tls::server_config`]).
pub async fn serve_tls(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
    serve_on(app, listener, shutdown).await
}

async fn serve_on<L>(
    app: Arc<App>,
    listener: L,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    for<'a> std::net::SocketAddr:
        axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let intake_audit = Arc::new(http::IntakeAudit::default());
    {
        let (app, ia) = (Arc::clone(&app), Arc::clone(&intake_audit));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                ia.flush(&app).await;
            }
        });
    }
    let app_after = Arc::clone(&app);
    let router = http::router(app, intake_audit);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    // Leave nothing for the next start to replay.
    if let Err(e) = app_after.checkpoint().await {
        tracing::warn!(error = %e, "final checkpoint failed; the next start replays the log");
    }
    Ok(())
}

/// Applies one logged record to the aggregator.
pub fn apply_record(agg: &mut Aggregator, kind: u8, payload: &[u8]) -> Result<(), Error> {
    let (t, body) = payload
        .split_first_chunk::<8>()
        .ok_or_else(|| Error::BadInput("short record".into()))?;
    let now = i64::from_le_bytes(*t);
    let bad = |e: String| Error::BadInput(e);
    match kind {
        record::REMOTE_WRITE => {
            let raw = ingest::remote_write::decompress(body).map_err(|e| bad(e.to_string()))?;
            ingest::apply_remote_write(agg, &raw).map_err(|e| bad(e.to_string()))?;
        }
        record::DATADOG => {
            ingest::formats::apply_datadog(agg, body).map_err(|e| bad(e.to_string()))?;
        }
        record::SPLUNK => {
            ingest::formats::apply_splunk(agg, body, now).map_err(|e| bad(e.to_string()))?;
        }
        record::PULLED => pull::apply(agg, body).map_err(bad)?,
        record::BASELINES => {
            let b: Vec<(u64, i64, f64)> =
                serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
            agg.restore_baselines(&b);
        }
        record::OTLP_TRACES | record::OTLP_METRICS => {
            let (format, body) = body
                .split_first()
                .ok_or_else(|| bad("short OTLP record".into()))?;
            let decoded = decode_otlp(kind, body, *format == 1)?;
            apply_otlp(agg, decoded, now);
        }
        _ => return Err(bad(format!("unknown record kind {kind}"))),
    }
    Ok(())
}

/// A decoded OTLP export.
enum Otlp {
    Traces(Vec<doppel_import::traces::ResourceSpans>, usize),
    Metrics(Vec<doppel_import::otlp_metrics::ResourceMetrics>, usize),
}

fn decode_otlp(kind: u8, body: &[u8], json: bool) -> Result<Otlp, Error> {
    match kind {
        record::OTLP_TRACES => doppel_import::traces::decode_otlp(body, json)
            .map(|(r, n)| Otlp::Traces(r, n))
            .map_err(|e| Error::BadInput(e.to_string())),
        record::OTLP_METRICS => doppel_import::otlp_metrics::decode(body, json)
            .map(|(r, n)| Otlp::Metrics(r, n))
            .map_err(|e| Error::BadInput(e.to_string())),
        _ => Err(Error::BadInput(format!("not an OTLP record kind: {kind}"))),
    }
}

fn apply_otlp(agg: &mut Aggregator, decoded: Otlp, now: i64) -> OtlpOutcome {
    match decoded {
        Otlp::Traces(r, rejected) => OtlpOutcome {
            accepted: ingest::otlp::apply_traces(agg, r, now),
            rejected: rejected as u64,
        },
        Otlp::Metrics(r, rejected) => OtlpOutcome {
            accepted: ingest::otlp::apply_metrics(agg, &r),
            rejected: rejected as u64,
        },
    }
}

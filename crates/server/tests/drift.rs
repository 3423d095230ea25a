//! Drift and self-calibration end to end: a synthetic production mirrors the example shop,
//! then one of its services gets slower. Its metrics go through the real intake (remote write,
//! write-ahead log, aggregation, store); the twin's drift must rise, recalibration must fire
//! and record a new twin version with its reason, and drift must fall again.

use std::sync::Arc;

use doppel_server::drift::Method;
use doppel_server::ingest::remote_write::{compress, encode};
use doppel_server::synth::Production;
use doppel_server::{App, Config, DriftConfig, record};
use doppel_store::sqlite::SqliteStore;

fn shop() -> doppel_model::Twin {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop.yaml");
    let loaded = doppel_model::load(&[root], |p| std::fs::read(p));
    assert_eq!(loaded.errors().count(), 0, "{:?}", loaded.diagnostics);
    loaded.twin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowed_service_drifts_then_recalibration_brings_drift_down() {
    let dir = tempfile::tempdir().expect("tmp");
    let twin = shop();
    let mut cfg = Config::new("unused", dir.path().join("wal"));
    cfg.drift = DriftConfig {
        window_s: 60,
        interval_s: 10,
        threshold_pct: 20.0,
        sustain: 3,
        recalibrate: true,
        // The synthetic production reports the analytic model's own answers.
        method: Method::Analytic,
    };
    let store = Arc::new(SqliteStore::open(dir.path().join("d.db")).expect("store"));
    let (app, token) = App::start_with(cfg, store, Some(twin.clone()))
        .await
        .expect("start");
    assert!(token.is_some());
    let mut prod = Production::new(&twin).expect("production");

    let t0: i64 = 1_700_000_000_000;
    let slow_at = 200;
    let mut before = Vec::new(); // recommendations' drift while production matches the twin
    let mut peak: f64 = 0.0;
    let mut last = f64::NAN;
    for s in 1..=720i64 {
        if s == slow_at {
            prod.set_slowdown("recommendations", 2.0)
                .expect("slow down");
        }
        let t = t0 + s * 1000;
        let batch = prod.tick(t, 1.0, 1.0).expect("tick");
        let body = compress(&encode(&batch));
        app.ingest(record::REMOTE_WRITE, &body, t)
            .await
            .expect("ingest");
        if s % 10 == 0 {
            app.checkpoint().await.expect("checkpoint");
            let d = app.drift_tick(t).await.expect("drift");
            let rec = d.iter().find(|x| x.record.service == "recommendations");
            if let Some(r) = rec {
                let m = r.record.mape;
                if s >= 80 && s < slow_at {
                    before.push(m);
                }
                if s > slow_at {
                    peak = peak.max(m);
                }
                last = m;
            }
        }
    }
    let state = app.drift_state();
    // While production behaves as modelled, prediction at the observed rates is exact.
    assert!(!before.is_empty());
    assert!(before.iter().all(|m| *m < 2.0), "drift before: {before:?}");
    // The slowdown shows as drift well over the 20% threshold...
    assert!(peak > 30.0, "peak drift {peak}");
    // ...recalibration fires and records why...
    assert!(state.recalibrations >= 1);
    let hist = app.store.twin_history(10).await.expect("history");
    let recal = hist
        .iter()
        .find(|m| m.author == "doppel")
        .expect("a recalibrated version");
    assert!(recal.reason.contains("recommendations"), "{}", recal.reason);
    assert!(recal.reason.contains("utilization law"), "{}", recal.reason);
    // ...and the recalibrated twin follows production again.
    assert!(last < 5.0, "drift at the end {last}; {state:?}");
    // The recalibrated service time is about twice the modelled one.
    let cur = app.current();
    let mean = |t: &doppel_model::Twin| match &t.services["recommendations"].endpoints["for_user"]
        .service_time
    {
        doppel_model::Distribution::Lognormal { mean, .. }
        | doppel_model::Distribution::Exponential { mean } => mean.as_secs_f64(),
        other => panic!("unexpected distribution {other:?}"),
    };
    let ratio = mean(&cur.twin) / mean(&twin);
    assert!((ratio - 2.0).abs() < 0.2, "service time ratio {ratio}");
    // Drift history was recorded for every evaluation.
    let hist = app
        .store
        .drift(Some("recommendations"), 0, 10_000)
        .await
        .expect("drift history");
    assert!(hist.len() >= 60, "{}", hist.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_production_feeds_live_metrics_through_the_intake() {
    let dir = tempfile::tempdir().expect("tmp");
    let twin = shop();
    let store = Arc::new(SqliteStore::in_memory().expect("store"));
    let cfg = Config::new("unused", dir.path().join("wal"));
    let (app, _) = App::start_with(cfg, store, Some(twin.clone()))
        .await
        .expect("start");
    let script = doppel_server::synth::Script::shop();
    assert!(
        (script.load(150.0) - 1.35).abs() < 1e-9,
        "the compressed day peaks at +35%"
    );
    assert!((script.degradation(0.0) - 1.0).abs() < 1e-12);
    assert!(
        (script.degradation(3600.0) - 1.9).abs() < 1e-9,
        "1.5% a minute"
    );
    assert!(
        (script.degradation(7200.0) - 1.0).abs() < 1e-12,
        "fixed after two hours"
    );
    doppel_server::synth::drive(
        Arc::clone(&app),
        twin,
        script,
        std::time::Duration::from_millis(5),
        Some(40),
    )
    .await
    .expect("drive");
    // Five series per service per tick (memory for the exhaustion forecasts), and one flow
    // series per pair of routers the shop's workloads send traffic between, all mapped.
    let net = doppel_netopt::Network::from_twin(&shop()).expect("network");
    let pairs = doppel_netopt::traffic::from_twin(&shop(), &net, &Default::default())
        .expect("traffic")
        .matrix
        .demands()
        .len() as u64;
    assert!(pairs > 0);
    let stats = app.ingest_stats();
    assert_eq!(stats.samples, 40 * (12 * 5 + pairs));
    assert_eq!(stats.mapped, 40 * (12 * 5 + pairs));
    // The flows are what `traffic=live` routes.
    app.checkpoint().await.expect("checkpoint");
    let live = app
        .live_flows(doppel_server::now_ms() + 20_000, 60)
        .await
        .expect("flows");
    assert_eq!(live.rates.len() as u64, pairs);
}

/// One server, one worker, deterministic 10 ms service times, 80 requests/s: an M/D/1 queue
/// at utilization 0.8. Pollaczek-Khinchine gives the waiting time ρS/(2(1-ρ)) = 20 ms, half
/// of M/M/1's ρS/(1-ρ) = 40 ms, so the truth is a 30 ms response where the analytic (M/M/c)
/// estimate says 50 ms.
const MD1: &str = r#"
doppel: 1
name: md1
services:
  api:
    concurrency: {workers: 1}
    endpoints:
      get:
        service_time: {dist: constant, value: 10ms}
workloads:
  users:
    open: {rate: 10/s}
    flow:
      steps:
        get: {service: api}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_prediction_gets_md1_right_where_the_analytic_one_does_not() {
    let (lambda, s): (f64, f64) = (80.0, 0.010);
    let rho = lambda * s;
    let pk_response_ms = 1000.0 * (s + rho * s / (2.0 * (1.0 - rho)));
    let mm1_response_ms = 1000.0 * s / (1.0 - rho);
    assert!((pk_response_ms - 30.0).abs() < 1e-9 && (mm1_response_ms - 50.0).abs() < 1e-9);

    let loaded = doppel_model::load_str("md1.yaml", MD1);
    assert_eq!(loaded.errors().count(), 0, "{:?}", loaded.diagnostics);
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = Config::new("unused", dir.path().join("wal"));
    cfg.drift.recalibrate = false;
    assert_eq!(cfg.drift.method, Method::Auto, "auto is the default");
    let store = Arc::new(SqliteStore::in_memory().expect("store"));
    let (app, _) = App::start_with(cfg, store, Some(loaded.twin))
        .await
        .expect("start");

    // A production that behaves like the M/D/1 queue, through the remote-write intake.
    let t0: i64 = 1_700_000_000_000;
    let label = |name: &str| {
        vec![
            ("__name__".to_string(), name.to_string()),
            ("service".to_string(), "api".to_string()),
        ]
    };
    for k in 0..=70i64 {
        let t = t0 + k * 1000;
        let n = lambda * k as f64;
        let batch = vec![
            (label("app_requests_total"), vec![(n, t)]),
            (label("app_request_duration_seconds_count"), vec![(n, t)]),
            (
                label("app_request_duration_seconds_sum"),
                vec![(n * pk_response_ms / 1000.0, t)],
            ),
            (label("app_utilization"), vec![(rho, t)]),
        ];
        app.ingest(record::REMOTE_WRITE, &compress(&encode(&batch)), t)
            .await
            .expect("ingest");
    }
    app.checkpoint().await.expect("checkpoint");
    let now = t0 + 70_000;

    // Auto sees constant service times and simulates; drift is measured against that.
    let d = app.drift_tick(now).await.expect("drift");
    assert_eq!(d.len(), 1);
    let sim = &d[0];
    assert_eq!(sim.method, Method::Simulate);
    assert!(
        sim.why_simulated
            .as_deref()
            .is_some_and(|w| w.contains("non-exponential")),
        "{sim:?}"
    );
    assert!((sim.record.observed_latency_ms - pk_response_ms).abs() < 1e-6);
    let sim_err = (sim.record.predicted_latency_ms - pk_response_ms).abs() / pk_response_ms;
    assert!(
        sim_err < 0.06,
        "simulated {} ms vs Pollaczek-Khinchine {pk_response_ms} ms",
        sim.record.predicted_latency_ms
    );
    assert!(
        (sim.record.predicted_utilization - rho).abs() < 0.02,
        "{sim:?}"
    );
    assert!(
        sim.record.mape < 5.0,
        "drift by simulation {}",
        sim.record.mape
    );
    // The stored drift history is the simulated one.
    let hist = app.store.drift(Some("api"), 0, 10).await.expect("history");
    assert_eq!(hist.len(), 1);
    assert!((hist[0].mape - sim.record.mape).abs() < 1e-12);

    // The analytic path on the same observations predicts M/M/1's 50 ms: a 67% latency error
    // that would read as drift (and trigger a needless recalibration).
    let obs = app.observe(now, 60).await.expect("observe");
    let cur = app.current();
    let p = cur.predictor.as_ref().expect("predictor");
    let ana = doppel_server::drift::evaluate(p, &obs, cur.version, now, 60, Method::Analytic)
        .expect("analytic");
    let ana = &ana[0];
    assert_eq!(ana.method, Method::Analytic);
    assert!(
        (ana.record.predicted_latency_ms - mm1_response_ms).abs() < 0.5,
        "{ana:?}"
    );
    assert!(ana.record.mape > 30.0, "analytic drift {}", ana.record.mape);
    // Forcing the simulation gives the same answer as auto (same seed, same rates).
    let forced = doppel_server::drift::evaluate(p, &obs, cur.version, now, 60, Method::Simulate)
        .expect("simulate");
    assert_eq!(forced[0].record, sim.record);
}

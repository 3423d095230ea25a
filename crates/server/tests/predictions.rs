//! Early warning end to end on the demo's synthetic production, stepped in simulated time:
//! the leaking `checkout` and the slowly degrading `recommendations` must be predicted before
//! they hurt, at about the time they really do, and the alerts must reach an Alertmanager
//! webhook receiver once each (firing, then resolved).
//!
//! The true times are computed here from the script's parameters alone: the leak fills
//! `checkout`'s 1 GiB limit at `(limit − base) / rate`; the SLO breaks when the truth (the
//! twin with `recommendations` slowed by the script's degradation, at the script's load) gets
//! its percentile over the objective, the percentile being the analytic mean times the tail
//! factor the twin calibrates by simulation (the early warning's percentile model: what is
//! tested here is the forecasting, not that model).

use std::sync::{Arc, Mutex};

use doppel_server::predictions::{self, PredictConfig};
use doppel_server::synth::{self, BASE_MEMORY, Script, Stepper};
use doppel_server::{App, Config};
use doppel_store::sqlite::SqliteStore;
use serde_json::Value;

fn shop() -> doppel_model::Twin {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop.yaml");
    let loaded = doppel_model::load(&[root], |p| std::fs::read(p));
    assert_eq!(loaded.errors().count(), 0, "{:?}", loaded.diagnostics);
    loaded.twin
}

/// A local Alertmanager-style receiver: every POSTed JSON body is kept.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let g = Arc::clone(&g);
            async move {
                g.lock().unwrap_or_else(|e| e.into_inner()).push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

/// The first second at which the truth (the twin with the degrading service slowed as the
/// script says, at the script's load) breaks the latency objective `slo`, its percentile
/// measured by the same seeded simulation the early warning confirms with. The objective
/// first breaks on the rising edge of a daily peak: the peaks are tried in turn (those the
/// analytic estimate puts far below the objective are skipped), then the edge is bisected.
fn true_breach_s(twin: &doppel_model::Twin, script: &Script, slo: &str) -> i64 {
    let net = doppel_sim::compile::compile(twin).expect("compile");
    let o = &twin.slos[slo];
    let threshold_ms = o.latency.as_ref().expect("latency").threshold.as_secs_f64() * 1000.0;
    let slow = net
        .services
        .iter()
        .position(|s| s.name == script.degrade_service)
        .expect("degrading service");
    let nominal: Vec<(usize, f64)> = net
        .workloads
        .iter()
        .enumerate()
        .filter_map(|(w, wl)| match &wl.load {
            doppel_sim::Load::Open { schedule } => Some((w, schedule[0].1)),
            doppel_sim::Load::Closed { .. } => None,
        })
        .collect();
    let truth = |t: i64| {
        let f = script.degradation(t as f64);
        let load = script.load(t as f64);
        let mut n = net.clone();
        for e in n
            .endpoints
            .iter_mut()
            .filter(|e| e.service as usize == slow)
        {
            e.service_time = e.service_time.scaled(f);
        }
        let rates: Vec<(usize, f64)> = nominal.iter().map(|&(w, r)| (w, r * load)).collect();
        (n, rates)
    };
    let simulated = |t: i64| {
        let (n, rates) = truth(t);
        predictions::simulated_percentiles(twin, &n, &rates).expect("simulate")[slo]
    };
    let day = script.day_s as i64;
    let mut peak = day / 4;
    loop {
        assert!(peak < script.degrade_cycle_s, "{slo} never breaks");
        if simulated(peak) >= threshold_ms {
            break;
        }
        peak += day;
    }
    // The trough before the peak is within the objective; bisect the rising edge.
    let (mut lo, mut hi) = (peak - day / 2, peak);
    assert!(simulated(lo) < threshold_ms);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if simulated(mid) >= threshold_ms {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_leak_and_slow_dependency_are_predicted_before_they_hurt() {
    let twin = shop();
    let script = Script::shop();
    let dir = tempfile::tempdir().expect("tmp");
    let (url, got) = receiver().await;
    let mut cfg = Config::new("unused", dir.path().join("wal"));
    cfg.drift.recalibrate = false;
    cfg.predict = PredictConfig {
        interval_s: 60,
        trend_s: 1800,
        horizon_s: 3600,
        day_s: script.day_s as i64,
        anomaly_hold_s: 120,
        webhook: Some(url),
        ..PredictConfig::default()
    };
    let store = Arc::new(SqliteStore::in_memory().expect("store"));
    let (app, _) = App::start_with(cfg, store, Some(twin.clone()))
        .await
        .expect("start");

    // The truth, from the script's parameters.
    let limit = 1024.0 * 1024.0 * 1024.0; // checkout's resources.memory in examples/shop.yaml
    let full_s = ((limit - BASE_MEMORY) / script.leak_bytes_per_s).ceil() as i64;
    assert_eq!(full_s, 4096);
    let slo = "home-latency";
    let breach_s = true_breach_s(&twin, &script, slo);

    let t0: i64 = 1_800_000_000_000;
    let mut stepper = Stepper::new(&twin, script.clone(), t0).expect("production");
    let step_s = 10;
    let end_s = full_s + 600;
    // (evaluation second, predicted second) of every prediction made before the event.
    let mut memory: Vec<(i64, i64)> = Vec::new();
    let mut slo_preds: Vec<(i64, i64, bool)> = Vec::new();
    let mut false_memory = Vec::new();
    for k in 1..=end_s / step_s {
        let s = k * step_s;
        let t = t0 + s * 1000;
        let batch = stepper.step(t).expect("step");
        synth::send(&app, &batch, t).await.expect("send");
        app.checkpoint().await.expect("checkpoint");
        if s % 60 != 0 {
            continue;
        }
        let ev = app.predict_tick(t).await.expect("predict");
        for x in &ev.exhaustions {
            if x.entity == "service:checkout" {
                if s < full_s {
                    memory.push((s, (x.at_ms - t0) / 1000));
                }
            } else {
                false_memory.push((s, x.message.clone()));
            }
        }
        if let Some(b) = ev.breaches.iter().find(|b| b.slo == slo)
            && s < breach_s
        {
            slo_preds.push((s, (b.at_ms - t0) / 1000, b.confirmed == Some(true)));
            assert!(
                b.message.contains("frontend/home p99 breaches 250 ms"),
                "{}",
                b.message
            );
            assert!(b.capacity_rps <= b.load_rps + 1e-6, "{b:?}");
        }
    }
    assert_eq!(stepper.production().restarts("checkout"), 1);
    assert!(false_memory.is_empty(), "{false_memory:?}");

    // Memory: predicted well ahead, and every prediction within 5% of its lead time (plus
    // one evaluation interval) of the true exhaustion.
    let first = memory.first().expect("an exhaustion forecast for checkout");
    assert!(
        full_s - first.0 >= 1800,
        "first warned {} s ahead",
        full_s - first.0
    );
    for &(at, predicted) in &memory {
        let lead = (full_s - at) as f64;
        assert!(
            ((predicted - full_s) as f64).abs() <= 0.05 * lead + 60.0,
            "at {at} s: full predicted at {predicted} s, truly at {full_s} s"
        );
    }

    // The SLO: predicted before it breaks, within tolerance once three (compressed) days of
    // load are known, and confirmed by simulation.
    let first = slo_preds.first().expect("an SLO breach prediction");
    assert!(
        breach_s - first.0 >= 600,
        "first predicted {} s ahead of {breach_s} s",
        breach_s - first.0
    );
    for &(at, predicted, confirmed) in slo_preds.iter().filter(|p| p.0 >= 1800) {
        let lead = (breach_s - at) as f64;
        assert!(
            ((predicted - breach_s) as f64).abs() <= 0.1 * lead + 60.0,
            "at {at} s: breach predicted at {predicted} s, truly at {breach_s} s"
        );
        assert!(confirmed, "at {at} s: not confirmed by simulation");
    }

    // The webhook got each alert once: firing, then (memory, after the restart) resolved.
    let payloads = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let alerts = |name: &str, status: &str| -> Vec<Value> {
        payloads
            .iter()
            .filter(|p| p["groupLabels"]["alertname"] == name)
            .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == status)
            .collect()
    };
    for p in &payloads {
        assert_eq!(p["version"], "4");
        assert_eq!(p["receiver"], "doppel");
        assert!(
            p["groupKey"]
                .as_str()
                .is_some_and(|k| k.contains("alertname"))
        );
        assert!(p["externalURL"].is_string());
    }
    // Per alert, the notifications alternate firing, resolved, firing...: an unchanged alert
    // is never sent again.
    let mut seq: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for p in &payloads {
        for a in p["alerts"].as_array().cloned().unwrap_or_default() {
            let fp = a["fingerprint"].as_str().unwrap_or_default().to_string();
            seq.entry(fp)
                .or_default()
                .push(a["status"].as_str().unwrap_or_default().to_string());
        }
    }
    for (fp, statuses) in &seq {
        for (i, st) in statuses.iter().enumerate() {
            let want = if i % 2 == 0 { "firing" } else { "resolved" };
            assert_eq!(st, want, "alert {fp}: {statuses:?}");
        }
    }
    let restart = predictions::rfc3339(t0 + full_s * 1000);
    let mem_firing: Vec<Value> = alerts("DoppelResourceExhaustion", "firing")
        .into_iter()
        .filter(|a| a["labels"]["entity"] == "service:checkout")
        .collect();
    assert!(!mem_firing.is_empty());
    let first_starts = mem_firing[0]["startsAt"].as_str().unwrap_or_default();
    assert!(
        first_starts < restart.as_str(),
        "{first_starts} vs {restart}"
    );
    assert!(
        mem_firing[0]["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("memory of service checkout full in")),
        "{:?}",
        mem_firing[0]
    );
    let mem_resolved = alerts("DoppelResourceExhaustion", "resolved");
    assert!(
        !mem_resolved.is_empty(),
        "the restart resolves the memory alert"
    );
    let ends = mem_resolved[0]["endsAt"].as_str().unwrap_or_default();
    assert!(ends > restart.as_str(), "{ends} vs {restart}");
    let slo_firing: Vec<Value> = alerts("DoppelSloBreachPredicted", "firing")
        .into_iter()
        .filter(|a| a["labels"]["slo"] == slo)
        .collect();
    let breach_at = predictions::rfc3339(t0 + breach_s * 1000);
    assert!(
        slo_firing
            .first()
            .and_then(|a| a["startsAt"].as_str())
            .is_some_and(|s| s < breach_at.as_str()),
        "{slo_firing:?}"
    );
    // Nothing but the truth pages: a daily pattern still being learned raises no anomaly alert.
    let anomaly_alerts = alerts("DoppelAnomaly", "firing");
    assert!(anomaly_alerts.is_empty(), "{anomaly_alerts:?}");
    let summary = app.predictions();
    assert!(summary["webhook"]["failed"] == 0, "{}", summary["webhook"]);
}

//! User cohorts through the API: an access log and the same traffic as OTLP traces, generated
//! from known cohorts, learned by `POST /api/cohorts/learn` (operators only) into cohorts whose
//! sizes are the generated session counts; `GET /api/cohorts/report` (viewers) equals the
//! library's report on the same model and twin, and survives a restart through the store.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_server::http::IntakeAudit;
use doppel_server::{App, Config};
use doppel_store::Store;
use doppel_store::sqlite::SqliteStore;
use doppel_users::synth;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn shop() -> doppel_model::Twin {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let l = doppel_model::load(&[dir.join("shop.yaml")], |p| std::fs::read(p));
    assert_eq!(l.errors().count(), 0);
    l.twin
}

async fn call(
    r: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if path.starts_with("/api/users") || path.starts_with("/api/tokens") {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Body::from(body)).unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A token for a new user with `role`.
async fn token(r: &Router, admin: &str, name: &str, role: &str) -> String {
    let body = serde_json::to_vec(&json!({"name": name, "role": role})).unwrap();
    assert_eq!(
        call(r, "POST", "/api/users", admin, body).await.0,
        StatusCode::CREATED
    );
    let body = serde_json::to_vec(&json!({"user": name, "label": "test"})).unwrap();
    let (s, t) = call(r, "POST", "/api/tokens", admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learn_from_a_log_and_from_traces_then_report() {
    let truth = synth::demo_cohorts();
    let start = 20_759; // 2026-11-02
    let requests = synth::generate(&truth, start, 1, 7);
    // Generated sessions per device: the sizes the cohorts must have.
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in &requests {
        if seen.insert(r.session) {
            let device = doppel_import::access_log::ua::device_class(&truth[r.cohort].user_agent);
            *expected.entry(device.as_str()).or_insert(0) += 1;
        }
    }
    let log: String = requests
        .iter()
        .map(|r| synth::combined_line(r, &truth) + "\n")
        .collect();
    let traces: String = requests
        .chunks(512)
        .enumerate()
        .map(|(i, b)| synth::otlp_json(b, &truth, (i * 512) as u64) + "\n")
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("d.db")).unwrap());
    let cfg = Config::new("unused", dir.path().join("wal"));
    let (app, admin) = App::start_with(cfg, Arc::clone(&store), Some(shop()))
        .await
        .unwrap();
    let admin = admin.unwrap();
    let r = doppel_server::http::router(Arc::clone(&app), Arc::new(IntakeAudit::default()));
    let viewer = token(&r, &admin, "vera", "viewer").await;
    let operator = token(&r, &admin, "otto", "operator").await;

    // Nothing learned yet; viewers may not learn.
    assert_eq!(
        call(&r, "GET", "/api/cohorts/report", &viewer, vec![])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, _) = call(
        &r,
        "POST",
        "/api/cohorts/learn",
        &viewer,
        log.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Junk: every line malformed, named by line and field.
    let (s, e) = call(
        &r,
        "POST",
        "/api/cohorts/learn",
        &operator,
        b"hello\nworld\n".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"].as_str().unwrap().contains("body:2:"), "{e}");

    // From the access log and from the same traffic as traces: the generated sizes.
    for (body, source) in [(&log, "log"), (&traces, "traces")] {
        let (s, learned) = call(
            &r,
            "POST",
            "/api/cohorts/learn?rate=40",
            &operator,
            body.clone().into_bytes(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{learned}");
        assert_eq!(learned["source"], source);
        let got: BTreeMap<&str, u64> = learned["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["sessions"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (name, n) in &expected {
            // A session is split only when a think time exceeds the 30-minute gap.
            let g = got[name] as f64;
            assert!(
                (g - *n as f64).abs() <= 0.01 * *n as f64,
                "{source} {name}: {g} vs {n}"
            );
        }
    }

    // Cohorts by attributes the spans carry: the generated sessions per region and plan.
    let mut by_plan: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in &requests {
        if seen.insert(r.session) {
            let a = &truth[r.cohort].attributes;
            *by_plan
                .entry(format!("{}-{}", a["region"], a["plan"]))
                .or_insert(0) += 1;
        }
    }
    let path = "/api/cohorts/learn?by=region,plan&attributes=region:app.region,plan:app.plan";
    let (s, learned) = call(&r, "POST", path, &operator, traces.clone().into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{learned}");
    for (name, n) in &by_plan {
        let c = learned["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name.as_str());
        let g = c.unwrap_or_else(|| panic!("no cohort {name}: {learned}"))["sessions"]
            .as_u64()
            .unwrap();
        assert!(
            (g as f64 - *n as f64).abs() <= 0.01 * *n as f64,
            "{name}: {g} vs {n}"
        );
    }
    let (s, e) = call(
        &r,
        "POST",
        "/api/cohorts/learn?attributes=region",
        &operator,
        traces.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // Back to cohorts by device, at 40 sessions/s.
    let (s, _) = call(
        &r,
        "POST",
        "/api/cohorts/learn?rate=40",
        &operator,
        traces.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The report equals the library's on the same model and twin.
    let (s, report) = call(&r, "GET", "/api/cohorts/report", &viewer, vec![]).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let opts = doppel_server::cohorts::LearnOptions {
        rate: Some(40.0),
        ..Default::default()
    };
    let (set, _, _) = doppel_server::cohorts::learn(traces.as_bytes(), &opts).unwrap();
    let lib = doppel_server::cohorts::report(&shop(), &set, Some(40.0)).unwrap();
    assert_eq!(report["report"], serde_json::to_value(&lib).unwrap());
    assert_eq!(
        report["report"]["cohorts"].as_array().unwrap().len(),
        expected.len()
    );
    assert!(!report["report"]["what_ifs"].as_array().unwrap().is_empty());
    assert!((report["report"]["sessions_per_s"].as_f64().unwrap() - 40.0).abs() < 1e-9);

    // A restart reads the model back from the store: the same report.
    let cfg = Config::new("unused", dir.path().join("wal2"));
    let (again, _) = App::start_with(cfg, store, Some(shop())).await.unwrap();
    let r2 = doppel_server::http::router(again, Arc::new(IntakeAudit::default()));
    let (s, after) = call(&r2, "GET", "/api/cohorts/report", &viewer, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(after["report"], report["report"]);
    assert_eq!(after["cohorts"], report["cohorts"]);
}

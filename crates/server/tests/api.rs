//! The HTTP API in process (the real router, a real store): authentication and roles, the
//! audit log, twin versions through the API, intake into the live view, limits, runs, and the
//! OpenAPI document. The auth and audit flow runs on SQLite and on the PostgreSQL server on
//! 127.0.0.1:5432 (a fresh schema, dropped afterwards).

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_server::http::{IntakeAudit, ROUTES};
use doppel_server::ingest::remote_write::{compress, encode};
use doppel_server::{App, Config};
use doppel_store::Store;
use doppel_store::postgres::PgStore;
use doppel_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const MINIMAL: &str = "
services:
  api:
    concurrency: {workers: 4}
    endpoints:
      hello:
        service_time: {dist: exponential, mean: 20ms}
workloads:
  users:
    open: {rate: 100/s}
    flow:
      steps:
        hello: {service: api}
";

fn minimal() -> doppel_model::Twin {
    let l = doppel_model::load_str("minimal.yaml", MINIMAL);
    assert_eq!(l.errors().count(), 0);
    l.twin
}

struct Harness {
    app: Arc<App>,
    router: Router,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn harness(store: Arc<dyn Store>, max_body: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new("unused", dir.path().join("wal"));
    cfg.max_body = max_body;
    let (app, token) = App::start_with(cfg.clone(), Arc::clone(&store), Some(minimal()))
        .await
        .unwrap();
    // The first start creates the admin token; a second start on the same store does not.
    let (_again, none) = App::start_with(
        Config::new("unused", dir.path().join("wal2")),
        store,
        Some(minimal()),
    )
    .await
    .unwrap();
    assert!(none.is_none(), "the admin token is shown once only");
    let router = doppel_server::http::router(Arc::clone(&app), Arc::new(IntakeAudit::default()));
    Harness {
        app,
        router,
        admin: token.expect("first start returns an admin token"),
        _dir: dir,
    }
}

async fn call(
    r: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.first() == Some(&b'{') {
        req = req.header("content-type", "application/json");
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

fn j(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

async fn auth_roles_twin_versions_and_audit(h: Harness) {
    let r = &h.router;
    let admin = h.admin.as_str();
    assert_eq!(
        call(r, "GET", "/healthz", None, vec![]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(r, "GET", "/api/twin", None, vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let bogus = "dpl_0000000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(
        call(r, "GET", "/api/twin", Some(bogus), vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Users and tokens (admin only).
    for (name, role) in [("vera", "viewer"), ("otto", "operator")] {
        let (s, _) = call(
            r,
            "POST",
            "/api/users",
            Some(admin),
            j(json!({"name": name, "role": role})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, _) = call(
        r,
        "POST",
        "/api/users",
        Some(admin),
        j(json!({"name": "vera", "role": "admin"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, vt) = call(
        r,
        "POST",
        "/api/tokens",
        Some(admin),
        j(json!({"user": "vera", "label": "dash"})),
    )
    .await;
    let (_, ot) = call(
        r,
        "POST",
        "/api/tokens",
        Some(admin),
        j(json!({"user": "otto"})),
    )
    .await;
    let viewer = vt["token"].as_str().unwrap().to_string();
    let operator = ot["token"].as_str().unwrap().to_string();
    assert!(viewer.starts_with("dpl_") && viewer.len() == 68);

    // Roles.
    let (s, twin) = call(r, "GET", "/api/twin", Some(&viewer), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(twin["version"], 1);
    assert_eq!(twin["twin"]["services"]["api"]["concurrency"]["workers"], 4);
    let scaled = MINIMAL.replace("workers: 4", "workers: 8");
    let (s, _) = call(
        r,
        "PUT",
        "/api/twin",
        Some(&viewer),
        scaled.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        call(r, "GET", "/api/audit", Some(&operator), vec![])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(r, "GET", "/api/tokens", Some(&viewer), vec![]).await.0,
        StatusCode::FORBIDDEN
    );

    // Import, diff, roll back.
    let (s, v) = call(
        r,
        "PUT",
        "/api/twin?reason=scale%20api",
        Some(&operator),
        scaled.into_bytes(),
    )
    .await;
    assert_eq!((s, v["version"].clone()), (StatusCode::OK, json!(2)));
    let (s, v) = call(
        r,
        "PUT",
        "/api/twin",
        Some(&operator),
        b"services: {api: {replicas: -1}}".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!v["diagnostics"].as_array().unwrap().is_empty());
    let (_, d) = call(r, "GET", "/api/twin/diff?from=1", Some(&viewer), vec![]).await;
    assert_eq!(d["to"], 2);
    assert_eq!(d["changes"][0]["path"], "/services/api/concurrency/workers");
    assert_eq!(d["changes"][0]["after"], 8);
    let (s, v) = call(
        r,
        "POST",
        "/api/twin/rollback",
        Some(&operator),
        j(json!({"to": 1, "reason": "undo"})),
    )
    .await;
    assert_eq!((s, v["version"].clone()), (StatusCode::OK, json!(3)));
    let (_, now) = call(r, "GET", "/api/twin", Some(&viewer), vec![]).await;
    assert_eq!(now["version"], 3);
    assert_eq!(now["twin"], twin["twin"]);
    assert_eq!(h.app.current().version, 3, "the roll back is in force");
    let (_, hist) = call(r, "GET", "/api/twin/versions", Some(&viewer), vec![]).await;
    assert_eq!(
        hist["versions"][0]["reason"],
        "roll back to version 1: undo"
    );
    assert_eq!(hist["versions"][1]["reason"], "scale api");
    assert_eq!(hist["versions"][1]["author"], "otto");

    // Tokens are listed without their secret; a revoked token stops working.
    let (_, toks) = call(r, "GET", "/api/tokens", Some(admin), vec![]).await;
    assert!(!toks.to_string().contains(&viewer));
    let vid = vt["info"]["id"].as_i64().unwrap();
    let (s, _) = call(
        r,
        "DELETE",
        &format!("/api/tokens/{vid}"),
        Some(admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        call(r, "GET", "/api/twin", Some(&viewer), vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Every mutating call is in the audit log: who, what, outcome.
    let (_, log) = call(r, "GET", "/api/audit?limit=100", Some(admin), vec![]).await;
    let entries: Vec<(String, String, i64)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    let has = |actor: &str, action: &str, status: i64| {
        entries
            .iter()
            .any(|e| e.0 == actor && e.1 == action && e.2 == status)
    };
    assert!(has("admin", "POST /api/users", 201), "{entries:?}");
    assert!(has("admin", "POST /api/users", 409));
    assert!(has("vera", "PUT /api/twin", 403));
    assert!(has("otto", "PUT /api/twin", 200));
    assert!(has("otto", "PUT /api/twin", 422));
    assert!(has("otto", "POST /api/twin/rollback", 200));
    assert!(has("admin", &format!("DELETE /api/tokens/{vid}"), 200));
    assert!(has("doppel", "create first admin token", 0));
    // 3 user creations, 2 tokens, 3 twin imports, 1 roll back, 1 revocation, the first token.
    assert_eq!(entries.len(), 3 + 2 + 3 + 1 + 1 + 1, "{entries:?}");
    // The audit log reads nothing: GETs are not in it.
    assert!(entries.iter().all(|e| !e.1.starts_with("GET ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_roles_twin_versions_and_audit_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    auth_roles_twin_versions_and_audit(harness(store, 1 << 20).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_roles_twin_versions_and_audit_on_postgres() {
    let url = std::env::var("DOPPEL_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into());
    let schema = format!("doppel_api_test_{}", std::process::id());
    let store = Arc::new(PgStore::connect(&url, Some(&schema)).await.unwrap());
    let result = tokio::spawn(auth_roles_twin_versions_and_audit(
        harness(Arc::clone(&store) as Arc<dyn Store>, 1 << 20).await,
    ))
    .await;
    store.drop_schema().await.unwrap();
    result.unwrap();
}

#[tokio::test]
async fn intake_formats_reach_the_live_view_and_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let h = harness(store, 64 << 10).await;
    let (r, admin) = (&h.router, h.admin.as_str());
    let now = doppel_server::now_ms();
    // A counter going from 100 to 1300 over the previous bucket and utilization samples.
    let base = now - now.rem_euclid(10_000) - 10_000;
    let series = vec![
        (
            vec![
                ("__name__".to_string(), "http_requests_total".to_string()),
                ("service".to_string(), "api".to_string()),
            ],
            vec![(100.0, base), (700.0, base + 5_000), (1300.0, base + 9_000)],
        ),
        (
            vec![
                ("__name__".to_string(), "api_utilization".to_string()),
                ("service".to_string(), "api".to_string()),
            ],
            vec![(0.5, base), (0.7, base + 5_000)],
        ),
    ];
    let body = compress(&encode(&series));
    let (s, _) = call(r, "POST", "/api/v1/write", Some(admin), body).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let dd = json!({"series": [{"metric": "api.latency_ms", "type": 3,
        "points": [{"timestamp": base / 1000 + 1, "value": 25.0}], "tags": ["service:api"]}]});
    assert_eq!(
        call(r, "POST", "/api/v2/series", Some(admin), j(dd))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let hec = format!(
        r#"{{"time": {}, "event": "metric", "fields": {{"service": "api", "metric_name": "api.latency_ms", "_value": 35}}}}"#,
        base / 1000 + 2
    );
    let (s, v) = call(
        r,
        "POST",
        "/services/collector/event",
        Some(admin),
        hec.into_bytes(),
    )
    .await;
    assert_eq!((s, v["text"].clone()), (StatusCode::OK, json!("Success")));
    h.app.checkpoint().await.unwrap();
    let (_, live) = call(r, "GET", "/api/live", Some(admin), vec![]).await;
    let api = &live["services"]["api"];
    // 1200 requests in a 10 s bucket = 120/s; utilization mean 0.6; latency mean of 25 and 35.
    assert_eq!(api["rps"], 120.0, "{live}");
    assert!((api["utilization"].as_f64().unwrap() - 0.6).abs() < 1e-12);
    assert_eq!(api["latency_ms"], 30.0);
    assert_eq!(live["ingest"]["samples"], 7);

    // Bad bodies are refused before anything is logged; oversized ones by the limit.
    let (s, _) = call(r, "POST", "/api/v1/write", Some(admin), b"garbage".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(r, "POST", "/api/v2/series", Some(admin), b"{".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(r, "POST", "/api/v1/write", Some(admin), vec![0u8; 65 << 10]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, live) = call(r, "GET", "/api/live", Some(admin), vec![]).await;
    assert_eq!(live["ingest"]["samples"], 7);
    // Stored history is queryable per entity and metric.
    let (_, m) = call(
        r,
        "GET",
        "/api/metrics?entity=service:api&metric=requests&from_ms=0",
        Some(admin),
        vec![],
    )
    .await;
    assert_eq!(m["points"][0]["sum"], 1200.0);

    // /metrics is Prometheus text with the intake counters.
    let (s, text) = call(r, "GET", "/metrics", Some(admin), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    assert!(text.contains("doppel_ingest_samples_total 7"), "{text}");
    assert!(text.contains("doppel_twin_version 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_finish_with_results_and_can_be_cancelled() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let h = harness(store, 1 << 20).await;
    let (r, admin) = (&h.router, h.admin.as_str());
    let (s, run) = call(
        r,
        "POST",
        "/api/runs",
        Some(admin),
        j(json!({"kind": "estimate"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = run["id"].as_i64().unwrap();
    let mut done = Value::Null;
    for _ in 0..200 {
        let (_, v) = call(r, "GET", &format!("/api/runs/{id}"), Some(admin), vec![]).await;
        if v["status"] == "succeeded" {
            done = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // M/M/4 at 100/s with 20 ms: utilization 100 × 0.02 / 4 = 0.5.
    let u = done["result"]["services"][0]["utilization"]
        .as_f64()
        .unwrap();
    assert!((u - 0.5).abs() < 1e-9, "{done}");
    assert_eq!(done["progress"], 1.0);

    let long = json!({"kind": "simulate", "params": {"duration": 20000, "warmup": 1}});
    let (_, run) = call(r, "POST", "/api/runs", Some(admin), j(long)).await;
    let id = run["id"].as_i64().unwrap();
    let (s, v) = call(
        r,
        "POST",
        &format!("/api/runs/{id}/cancel"),
        Some(admin),
        vec![],
    )
    .await;
    assert_eq!(
        (s, v["status"].clone()),
        (StatusCode::OK, json!("cancelled"))
    );
    let (_, bad) = call(
        r,
        "POST",
        "/api/runs",
        Some(admin),
        j(json!({"kind": "dance"})),
    )
    .await;
    assert!(bad["error"].as_str().unwrap().contains("unknown run kind"));
}

#[tokio::test]
async fn openapi_document_is_current_and_every_route_answers() {
    let doc = serde_json::to_string_pretty(&doppel_server::openapi::document()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "crates/server/openapi.json is stale: run UPDATE_EXPECT=1 cargo test -p doppel-server"
    );
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let h = harness(store, 1 << 20).await;
    let mut seen = 0;
    for route in ROUTES {
        assert!(
            v["paths"][route.path][route.method].is_object(),
            "{route:?}"
        );
        let path = route.path.replace("{version}", "1").replace("{id}", "1");
        let (s, body) = call(
            &h.router,
            &route.method.to_uppercase(),
            &path,
            Some(&h.admin),
            vec![],
        )
        .await;
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{route:?}");
        assert_ne!(body["error"], "route not found", "{route:?}");
        seen += 1;
    }
    assert_eq!(
        seen,
        v["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|m| m.as_object().unwrap().len())
            .sum::<usize>()
    );
    let (s, body) = call(&h.router, "GET", "/api/nope", Some(&h.admin), vec![]).await;
    assert_eq!(
        (s, body["error"].clone()),
        (StatusCode::NOT_FOUND, json!("route not found"))
    );
}

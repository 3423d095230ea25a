//! The OTLP/HTTP receiver through the real router and a real store: traces (JSON and
//! protobuf, gzip) become request rates and latencies with exact values, metrics (a
//! cumulative counter named by `k8s.deployment.name`, a delta histogram) map like Prometheus
//! series, bad requests get the spec's status codes and `google.rpc.Status` bodies, partial
//! successes say how much was rejected, a replay of the write-ahead log rebuilds the same
//! state, and traces with a known call ratio (2.5 calls to `inventory` per `checkout`
//! request) make the recalibration record a twin version with that ratio.

#![allow(clippy::unwrap_used)] // test helpers

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_server::http::IntakeAudit;
use doppel_server::{App, Config, now_ms};
use doppel_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const SHOP: &str = "
services:
  checkout:
    concurrency: {workers: 8}
    endpoints:
      checkout:
        service_time: {dist: exponential, mean: 5ms}
        calls:
          - {service: inventory}
  inventory:
    concurrency: {workers: 8}
    endpoints:
      reserve:
        service_time: {dist: exponential, mean: 2ms}
workloads:
  buyers:
    open: {rate: 10/s}
    flow:
      steps:
        buy: {service: checkout, endpoint: checkout}
";

struct Harness {
    app: Arc<App>,
    router: Router,
    token: String,
    dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let loaded = doppel_model::load_str("shop.yaml", SHOP);
    assert_eq!(loaded.errors().count(), 0, "{:?}", loaded.diagnostics);
    let mut cfg = Config::new("unused", dir.path().join("wal"));
    cfg.trace_settle_ms = 0;
    let store = Arc::new(SqliteStore::open(dir.path().join("db.sqlite")).unwrap());
    let (app, token) = App::start_with(cfg, store, Some(loaded.twin))
        .await
        .unwrap();
    let router = doppel_server::http::router(Arc::clone(&app), Arc::new(IntakeAudit::default()));
    Harness {
        app,
        router,
        token: token.unwrap(),
        dir,
    }
}

async fn post(
    h: &Harness,
    path: &str,
    content_type: &str,
    gzip: bool,
    body: Vec<u8>,
) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("content-type", content_type);
    let body = if gzip {
        req = req.header("content-encoding", "gzip");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).unwrap();
        enc.finish().unwrap()
    } else {
        body
    };
    let resp = h
        .router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, bytes)
}

async fn get(h: &Harness, path: &str) -> Value {
    let req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", h.token))
        .body(Body::empty())
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

fn attr(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

fn span(
    trace: u64,
    id: u64,
    parent: Option<u64>,
    name: &str,
    kind: u8,
    start: i64,
    end: i64,
) -> Value {
    let mut s = json!({
        "traceId": format!("{trace:032x}"),
        "spanId": format!("{id:016x}"),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": (start * 1_000_000).to_string(),
        "endTimeUnixNano": (end * 1_000_000).to_string(),
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(format!("{p:016x}"));
    }
    s
}

fn export(service: &str, spans: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", service)]},
        "scopeSpans": [{"spans": spans}]
    }]}))
    .unwrap()
}

/// The start of a complete 10-second bucket well inside the last minute.
fn past_bucket() -> i64 {
    let t = now_ms() - 30_000;
    t - t.rem_euclid(10_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_become_request_rates_and_latencies() {
    let h = harness().await;
    let b = past_bucket();
    // 20 checkout requests of 50 ms each, ending in bucket b, as JSON, gzip-compressed, plus
    // one span without ids: a partial success.
    let mut spans: Vec<Value> = (0..20)
        .map(|i| span(100 + i, 1, None, "checkout", 2, b + 1000, b + 1050))
        .collect();
    spans.push(json!({"name": "broken", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}));
    let (s, ct, body) = post(
        &h,
        "/v1/traces",
        "application/json",
        true,
        export("checkout", spans),
    )
    .await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "1", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("1 spans rejected")
    );

    // The same for `inventory` in protobuf (hand-encoded below): 10 server spans of 20 ms.
    let pb = protobuf_export(
        "inventory",
        &(0..10)
            .map(|i| (200 + i, b + 2000, b + 2020))
            .collect::<Vec<_>>(),
    );
    let (s, ct, body) = post(&h, "/v1/traces", "application/x-protobuf", false, pb).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/x-protobuf"));
    assert!(
        body.is_empty(),
        "full success is an empty ExportTraceServiceResponse"
    );

    h.app.checkpoint().await.unwrap();
    let live = get(&h, "/api/live").await;
    // 20 requests in one 10 s bucket: 2/s at 50 ms; 10 requests: 1/s at 20 ms.
    let c = &live["services"]["checkout"];
    assert!((c["rps"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{live}");
    assert!(
        (c["latency_ms"].as_f64().unwrap() - 50.0).abs() < 1e-6,
        "{live}"
    );
    let i = &live["services"]["inventory"];
    assert!((i["rps"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{live}");
    assert!(
        (i["latency_ms"].as_f64().unwrap() - 20.0).abs() < 1e-6,
        "{live}"
    );
    // Per endpoint too.
    let pts = get(
        &h,
        "/api/metrics?entity=endpoint:checkout/checkout&metric=trace_requests",
    )
    .await;
    assert_eq!(pts["points"][0]["sum"], 20.0, "{pts}");
}

/// Protobuf encoding for the test, written from the `.proto` field numbers (independent of
/// the decoder): one resource with `service.name`, one scope, server spans (kind 2).
fn protobuf_export(service: &str, spans: &[(u64, i64, i64)]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(out: &mut Vec<u8>, n: u64, b: &[u8]) {
        varint(out, n << 3 | 2);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
    fn fixed(out: &mut Vec<u8>, n: u64, v: u64) {
        varint(out, n << 3 | 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut kv = Vec::new();
    field(&mut kv, 1, b"service.name");
    let mut any = Vec::new();
    field(&mut any, 1, service.as_bytes());
    field(&mut kv, 2, &any);
    let mut resource = Vec::new();
    field(&mut resource, 1, &kv);
    let mut scope = Vec::new();
    for &(trace, start, end) in spans {
        let mut sp = Vec::new();
        field(&mut sp, 1, &u128::from(trace).to_be_bytes());
        field(&mut sp, 2, &7u64.to_be_bytes());
        field(&mut sp, 5, b"reserve");
        varint(&mut sp, 6 << 3);
        varint(&mut sp, 2);
        fixed(&mut sp, 7, (start * 1_000_000) as u64);
        fixed(&mut sp, 8, (end * 1_000_000) as u64);
        field(&mut scope, 2, &sp);
    }
    let mut rs = Vec::new();
    field(&mut rs, 1, &resource);
    field(&mut rs, 2, &scope);
    let mut out = Vec::new();
    field(&mut out, 1, &rs);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_map_like_prometheus_and_survive_a_replay() {
    let h = harness().await;
    let b = past_bucket();
    let ns = |ms: i64| (ms * 1_000_000).to_string();
    // A cumulative counter whose resource names the service only by its Deployment: 100,
    // then 130 and 150 in bucket b (30 + 20 = 50 requests), and a delta histogram in
    // seconds: 40 observations summing 2 s (mean 50 ms).
    let body = json!({"resourceMetrics": [{
        "resource": {"attributes": [
            attr("service.name", "unknown_service:java"),
            attr("k8s.deployment.name", "checkout"),
        ]},
        "scopeMetrics": [{"metrics": [
            {"name": "http.server.requests", "unit": "{request}", "sum": {
                "aggregationTemporality": 2, "isMonotonic": true,
                "dataPoints": [
                    {"timeUnixNano": ns(b - 5000), "asInt": "100"},
                    {"timeUnixNano": ns(b + 1000), "asInt": "130"},
                    {"timeUnixNano": ns(b + 6000), "asInt": "150"},
                    {"asInt": "7"}
                ]}},
            {"name": "http.server.request.duration", "unit": "s", "histogram": {
                "aggregationTemporality": 1,
                "dataPoints": [{"timeUnixNano": ns(b + 2000), "count": "40", "sum": 2.0,
                                "bucketCounts": ["10", "30"], "explicitBounds": [0.05]}]}}
        ]}]
    }]});
    let (s, _, resp) = post(
        &h,
        "/v1/metrics",
        "application/json",
        false,
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "1", "{v}");
    // Kill (no checkpoint): a new App on the same store and log replays the record.
    let dir = h.dir.path().to_path_buf();
    drop(h.router);
    drop(h.app);
    let loaded = doppel_model::load_str("shop.yaml", SHOP);
    let mut cfg = Config::new("unused", dir.join("wal"));
    cfg.trace_settle_ms = 0;
    let store = Arc::new(SqliteStore::open(dir.join("db.sqlite")).unwrap());
    let (app, _) = App::start_with(cfg, store, Some(loaded.twin))
        .await
        .unwrap();
    let obs = app.observe(now_ms(), 60).await.unwrap();
    let o = obs["checkout"][&b];
    assert!((o.rps - 5.0).abs() < 1e-9, "{o:?}");
    assert!((o.latency_ms.unwrap() - 50.0).abs() < 1e-9, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_specs_answers() {
    let h = harness().await;
    let (s, _, _) = post(&h, "/v1/traces", "text/plain", false, b"hello".to_vec()).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Garbage protobuf: 400 with a google.rpc.Status (code 3, INVALID_ARGUMENT, field 1).
    let (s, ct, body) = post(
        &h,
        "/v1/traces",
        "application/x-protobuf",
        false,
        vec![0x0a, 0x10, 0x01],
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::BAD_REQUEST, "application/x-protobuf")
    );
    assert_eq!(&body[..2], &[0x08, 0x03]);
    assert!(String::from_utf8_lossy(&body).contains("invalid OTLP protobuf traces"));
    let (s, _, body) = post(
        &h,
        "/v1/metrics",
        "application/json",
        false,
        b"{\"x\": 1}".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], 3);
    assert!(
        v["message"].as_str().unwrap().contains("resourceMetrics"),
        "{v}"
    );
    // Corrupt gzip.
    let mut req_body = b"\x1f\x8b\x08\x00garbage".to_vec();
    req_body.extend([0u8; 8]);
    let req = Request::builder()
        .method("POST")
        .uri("/v1/traces")
        .header("authorization", format!("Bearer {}", h.token))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(req_body))
        .unwrap();
    assert_eq!(
        h.router.clone().oneshot(req).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // No token.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/traces")
        .header("content-type", "application/json")
        .body(Body::from(export("checkout", vec![])))
        .unwrap();
    assert_eq!(
        h.router.clone().oneshot(req).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_calibrate_call_ratios_into_a_new_version() {
    let h = harness().await;
    let b = past_bucket();
    // 40 checkout requests; request k calls inventory 2 times if k is even, 3 if odd: a mean
    // of 2.5 calls per request. Each service exports its own spans, separately, as the SDKs
    // of two processes would; checkout's arrive last.
    let (mut checkout, mut inventory) = (Vec::new(), Vec::new());
    for k in 0..40u64 {
        let trace = 1000 + k;
        let t0 = b + k as i64 * 100;
        checkout.push(span(trace, 1, None, "checkout", 2, t0, t0 + 60));
        for c in 0..(2 + k % 2) {
            let client = 10 + c;
            let start = t0 + 5 + c as i64 * 15;
            checkout.push(span(
                trace,
                client,
                Some(1),
                "GET inventory",
                3,
                start,
                start + 12,
            ));
            inventory.push(span(
                trace,
                100 + c,
                Some(client),
                "reserve",
                2,
                start + 1,
                start + 11,
            ));
        }
    }
    let (s, _, _) = post(
        &h,
        "/v1/traces",
        "application/json",
        false,
        export("inventory", inventory),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = post(
        &h,
        "/v1/traces",
        "application/json",
        false,
        export("checkout", checkout),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let before = get(&h, "/api/twin").await["version"].as_i64().unwrap();

    // The checkpoint settles the traces; the evaluation recalibrates.
    h.app.checkpoint().await.unwrap();
    let observed = h.app.observed_calls(now_ms()).await.unwrap();
    let o = &observed[&("checkout".to_string(), "checkout".to_string())];
    assert_eq!(o.requests, 40.0);
    assert_eq!(
        o.calls[&("inventory".to_string(), "reserve".to_string())],
        100.0
    );
    let req = Request::builder()
        .method("POST")
        .uri("/api/drift/evaluate")
        .header("authorization", format!("Bearer {}", h.token))
        .body(Body::empty())
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let twin = get(&h, "/api/twin").await;
    let version = twin["version"].as_i64().unwrap();
    assert_eq!(version, before + 1);
    let calls = &twin["twin"]["services"]["checkout"]["endpoints"]["checkout"]["calls"];
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    let c = &calls[0];
    assert_eq!(c["service"], "inventory");
    let count = c["count"].as_f64().unwrap_or(1.0);
    let p = c["probability"].as_f64().unwrap_or(1.0);
    assert_eq!(count, 3.0, "{c}");
    assert!(
        (count * p - 2.5).abs() < 1e-3,
        "mean calls {}: {c}",
        count * p
    );
    let versions = get(&h, "/api/twin/versions?limit=1").await;
    let reason = versions["versions"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("call ratios"), "{reason}");
    assert!(
        reason.contains("checkout/checkout → inventory/reserve: 1.000 → 2.500"),
        "{reason}"
    );
    // Evaluating again changes nothing: the twin now agrees with the traces.
    h.app.drift_tick(now_ms()).await.unwrap();
    assert_eq!(
        get(&h, "/api/twin").await["version"].as_i64().unwrap(),
        version
    );
}

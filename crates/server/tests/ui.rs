//! What the web UI relies on, in process: the embedded UI at `/` (content types, cache
//! headers, the single-page fallback, `/api/...` still answering JSON 404s) and the topology
//! route `GET /api/twin/graph` on the example shop, checked against the twin itself.

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use doppel_server::http::IntakeAudit;
use doppel_server::{App, Config};
use doppel_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Harness {
    router: Router,
    admin: String,
    twin: doppel_model::Twin,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop.yaml");
    let l = doppel_model::load(&[path], |p| std::fs::read(p));
    assert_eq!(l.errors().count(), 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::new("unused", dir.path().join("wal"));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (app, token) = App::start_with(cfg, store, Some(l.twin.clone()))
        .await
        .unwrap();
    Harness {
        router: doppel_server::http::router(app, Arc::new(IntakeAudit::default())),
        admin: token.unwrap(),
        twin: l.twin,
        _dir: dir,
    }
}

async fn get(r: &Router, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_ui_is_served_as_a_single_page_application() {
    let h = harness().await;
    let (status, headers, body) = get(&h.router, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    assert!(header(&headers, "content-security-policy").contains("default-src 'self'"));
    let index = String::from_utf8(body).unwrap();
    assert!(index.contains("<title>Doppel"), "{index}");
    assert_eq!(
        doppel_server::ui::file("index.html").unwrap(),
        index.as_bytes()
    );

    // The router's paths get the page too (no token needed: the page asks for one).
    let (status, _, body) = get(&h.router, "/topology", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, index.as_bytes());

    // The API's unknown paths stay JSON 404s, and a missing asset is not the page.
    let (status, headers, body) = get(&h.router, "/api/no-such-route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(header(&headers, "content-type").starts_with("application/json"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "route not found");
    let (status, _, _) = get(&h.router, "/assets/gone-1234.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    if !doppel_server::ui::BUILT {
        // Built without npm: the page says how to get the UI.
        assert!(index.contains("Node.js 18"), "{index}");
        return;
    }
    // Every asset the page names is served with its type and cached for good.
    let mut assets = 0;
    for part in index.split('"').filter(|p| p.starts_with("/assets/")) {
        let (status, headers, body) = get(&h.router, part, None).await;
        assert_eq!(status, StatusCode::OK, "{part}");
        assert!(!body.is_empty());
        let want = if part.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&headers, "content-type"), want, "{part}");
        assert_eq!(
            header(&headers, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assets += 1;
    }
    assert!(
        assets >= 2,
        "the page names its script and stylesheet: {index}"
    );
}

#[tokio::test]
async fn the_graph_route_draws_the_twin() {
    let h = harness().await;
    let (status, _, _) = get(&h.router, "/api/twin/graph", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = get(&h.router, "/api/twin/graph", Some(&h.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let g: Value = serde_json::from_slice(&body).unwrap();
    let t = &h.twin;
    let instances: usize = t
        .services
        .iter()
        .map(|(n, s)| t.placed_instances(n, s).len())
        .sum();
    let count = |k: &str| g["counts"][k].as_u64().unwrap_or(0) as usize;
    assert_eq!(count("service"), t.services.len());
    assert_eq!(count("host"), t.hosts.len());
    assert_eq!(count("instance"), instances);
    assert_eq!(count("subnet"), t.subnets.len());
    assert_eq!(count("network"), t.networks.len());
    assert_eq!(count("router"), t.routers.len());
    let nodes = g["nodes"].as_array().unwrap();
    assert_eq!(
        nodes.len(),
        t.services.len()
            + t.hosts.len()
            + instances
            + t.subnets.len()
            + t.networks.len()
            + t.routers.len()
    );
    assert_eq!(g["twin_version"], 1);
    // The shop's frontend calls catalog (its `home` endpoint does).
    let calls = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "calls");
    assert!(
        calls
            .clone()
            .any(|e| e["source"] == "service:frontend" && e["target"] == "service:catalog")
    );
    // Every call edge joins two services the twin has, one way the twin's endpoints call.
    for e in calls {
        let from = e["source"].as_str().unwrap().trim_start_matches("service:");
        let to = e["target"].as_str().unwrap().trim_start_matches("service:");
        let svc = &t.services[from];
        assert!(
            svc.endpoints
                .values()
                .flat_map(|ep| ep.calls.iter().flat_map(|s| s.calls()))
                .any(|c| c.service == to),
            "{from} -> {to}"
        );
    }
    // Every instance sits in its host's zone.
    for n in nodes.iter().filter(|n| n["kind"] == "instance") {
        if let Some(host) = n["host"].as_str() {
            assert_eq!(n["zone"].as_str(), t.hosts[host].zone.as_deref(), "{n}");
        }
        assert!(n["x"].is_number() && n["y"].is_number());
    }
}

async fn send(
    r: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn finished(r: &Router, token: &str, id: i64) -> Value {
    for _ in 0..1200 {
        let (_, _, body) = get(r, &format!("/api/runs/{id}"), Some(token)).await;
        let run: Value = serde_json::from_slice(&body).unwrap();
        if run["status"] != "queued" && run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("run {id} did not finish");
}

/// The zone outage of `examples/scenarios/zone-outage-at-peak.yaml`, shortened: the shop's
/// only PostgreSQL primary is in eu-west-1a, so checkout's availability SLO holds in the
/// baseline and breaks once the zone is gone (docs/SCENARIOS.md, "zone-outage-at-peak").
const OUTAGE: &str = "scenario: 1
name: short-zone-outage
duration: 150s
warmup: 20s
events:
  - {at: 50s, kill: {zone: eu-west-1a}, label: eu-west-1a down}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_runs_from_yaml_give_verdicts_timelines_and_a_report() {
    let h = harness().await;
    let r = &h.router;
    // A broken scenario is refused at once, with the position of the problem.
    let bad = "scenario: 1\nevents:\n  - {at: 10s, kill: {zone: nowhere}}\n";
    let (status, v) = send(
        r,
        "POST",
        "/api/runs",
        &h.admin,
        serde_json::json!({"kind": "scenario", "params": {"scenario": bad}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("scenario.yaml:3:") && msg.contains("nowhere"),
        "{msg}"
    );

    let (status, v) = send(
        r,
        "POST",
        "/api/runs",
        &h.admin,
        serde_json::json!({"kind": "scenario", "params": {"scenario": OUTAGE, "seed": 3}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let run = finished(r, &h.admin, id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let res = &run["result"];
    assert_eq!(res["scenario_name"], "short-zone-outage");
    let verdict = |side: &str, name: &str| {
        res[side]["slos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{side} has no {name}"))["met"]
            .as_bool()
            .unwrap()
    };
    assert!(verdict("baseline", "checkout-availability"));
    assert!(!verdict("scenario", "checkout-availability"));
    assert!(
        res["flips"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "checkout-availability")
    );
    // A timeline of 150 s in buckets of a 120th of the run (1.25 s), and the event marked.
    let buckets = res["scenario"]["timeline"].as_array().unwrap().len();
    assert_eq!(buckets, 120);
    assert_eq!(res["scenario"]["events"][0]["label"], "eu-west-1a down");

    let (status, headers, body) = get(r, &format!("/api/runs/{id}/report"), Some(&h.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert!(header(&headers, "content-disposition").contains(&format!("doppel-run-{id}.html")));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("What if: short-zone-outage"), "{html}");
    assert!(html.contains("checkout-availability"));
    assert!(html.contains("<svg"));

    // An estimate has no timeline to report.
    let (_, v) = send(
        r,
        "POST",
        "/api/runs",
        &h.admin,
        serde_json::json!({"kind": "estimate"}),
    )
    .await;
    let est = finished(r, &h.admin, v["id"].as_i64().unwrap()).await;
    assert_eq!(est["status"], "succeeded", "{est}");
    let (status, _, _) = get(
        r,
        &format!("/api/runs/{}/report", est["id"]),
        Some(&h.admin),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

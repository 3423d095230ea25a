//! The Security and Network views' API (`/api/security/attack`, `/api/security/reach`,
//! `/api/security/blast`, `/api/network/route`) in process, on small twins whose answers are
//! worked out by hand (`tests/data/attack-chain.yaml`, `tests/data/triangle.yaml`, see their
//! headers): the attack paths and the fix that cuts them, the blast radius of a web host and of
//! the database, flow verdicts with their deciding rule, and the MLU under ECMP and after
//! optimization from the traffic the workload generates, checked against the formula and
//! against `doppel-netopt`'s LP called directly; the same for flows observed live
//! (`traffic=live`: byte rates pushed through Prometheus remote-write), and the IGP search
//! limited to the next weight change (`max_changes=1`). Also: answers follow a new twin
//! version (the cache is per version), viewers may read, anonymous callers may not.

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_server::http::IntakeAudit;
use doppel_server::{App, Config};
use doppel_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn twin(name: &str, text: &str) -> doppel_model::Twin {
    let l = doppel_model::load_str(name, text);
    assert_eq!(l.errors().count(), 0, "{:?}", l.diagnostics);
    l.twin
}

struct Harness {
    app: Arc<App>,
    router: Router,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn harness(t: doppel_model::Twin) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::new("unused", dir.path().join("wal"));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (app, token) = App::start_with(cfg, store, Some(t)).await.unwrap();
    let router = doppel_server::http::router(Arc::clone(&app), Arc::new(IntakeAudit::default()));
    Harness {
        app,
        router,
        admin: token.unwrap(),
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

async fn get(h: &Harness, path: &str) -> Value {
    let (s, v) = call(&h.router, "GET", path, Some(&h.admin), vec![]).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

/// A viewer's token (the views' routes need no more).
async fn viewer(h: &Harness) -> String {
    let (s, _) = call(
        &h.router,
        "POST",
        "/api/users",
        Some(&h.admin),
        serde_json::to_vec(&json!({"name": "vera", "role": "viewer"})).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = call(
        &h.router,
        "POST",
        "/api/tokens",
        Some(&h.admin),
        serde_json::to_vec(&json!({"user": "vera"})).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    v["token"].as_str().unwrap().to_owned()
}

fn techniques(path: &Value) -> Vec<Option<String>> {
    path["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["technique"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn attack_paths_mitigations_and_simulation_on_a_known_chain() {
    let text = data("attack-chain.yaml");
    let h = harness(twin("attack-chain.yaml", &text)).await;
    let (s, _) = call(&h.router, "GET", "/api/security/attack", None, vec![]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let vera = viewer(&h).await;
    let (s, v) = call(
        &h.router,
        "GET",
        "/api/security/attack",
        Some(&vera),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Defaults: from the internet to the crown jewels.
    assert_eq!(v["from"], json!(["internet"]));
    assert_eq!(v["to"], "tag:crown-jewel");
    assert_eq!(v["twin_version"], 1);
    assert_eq!(v["reachable_targets"], json!(["service:vault"]));
    // Two minimal paths, one through each web host: reach shop, exploit it (public-facing,
    // T1190), reach db on 5432, exploit vault (T1210), read its data (T1005).
    let paths = v["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2, "{v:#}");
    let mut footholds = Vec::new();
    for p in paths {
        assert_eq!(p["target"], "service:vault");
        assert_eq!(
            techniques(p),
            [
                None,
                Some("T1190".to_owned()),
                None,
                Some("T1210".to_owned()),
                Some("T1005".to_owned())
            ],
            "{p:#}"
        );
        let steps = p["steps"].as_array().unwrap();
        footholds.push(steps[1]["host"].as_str().unwrap().to_owned());
        assert!(steps[1]["via"].as_str().unwrap().contains("CVE-2024-1111"));
        assert!(steps[2]["via"].as_str().unwrap().contains("sg-db rule[0]"));
        assert_eq!(steps[3]["host"], "db");
        assert!(steps[3]["via"].as_str().unwrap().contains("CVE-2024-2222"));
        // A path's probability is the product of its steps'.
        let product: f64 = steps
            .iter()
            .map(|s| s["probability"].as_f64().unwrap())
            .product();
        assert!((product - p["probability"].as_f64().unwrap()).abs() < 1e-12);
        // CVE-2024-2222 has high attack complexity: that step is less than certain.
        assert!(steps[3]["probability"].as_f64().unwrap() < 1.0);
    }
    footholds.sort();
    assert_eq!(footholds, ["web1", "web2"]);
    let ml = v["most_likely"].as_u64().unwrap() as usize;
    let best = paths[ml]["probability"].as_f64().unwrap();
    assert!(
        paths
            .iter()
            .all(|p| p["probability"].as_f64().unwrap() <= best)
    );
    // One fix of cost 1 cuts both paths (either patch does; the set is the cheapest).
    let m = v["mitigations"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0]["cost"], 1.0);
    assert_eq!(m[0]["paths_cut"], 2);
    assert!(
        m[0]["action"]
            .as_str()
            .unwrap()
            .starts_with("patch CVE-2024-")
    );
    // The attack over time ran, and its numbers are probabilities and hours.
    let sim = &v["simulation"];
    assert_eq!(sim["runs"], 2000);
    assert_eq!(sim["paths"], 2);
    let p = sim["p_compromise"].as_f64().unwrap();
    assert!(
        p > 0.0 && p <= best + 1e-9,
        "{p} vs path probability {best}"
    );
    let t = &sim["time_to_compromise_hours"];
    assert!(t["p50"].as_f64().unwrap() <= t["p90"].as_f64().unwrap());
    // What-ifs: certain detection of the first exploit and an instant response evict every
    // attacker before the database; the baseline beside it is the plain run (same seed).
    let w = get(
        &h,
        "/api/security/attack?what_if=detect:T1190=1,%20response:0h",
    )
    .await;
    let ws = &w["simulation"];
    assert_eq!(ws["what_if"], json!(["detect:T1190=1", "response:0h"]));
    assert_eq!(ws["p_compromise"], 0.0);
    assert_eq!(ws["baseline"]["p_compromise"], sim["p_compromise"]);
    // Without the simulation, on request.
    let quick = get(&h, "/api/security/attack?simulate=false&to=service:vault").await;
    assert_eq!(quick["simulation"], Value::Null);
    assert_eq!(quick["paths"].as_array().unwrap().len(), 2);
    // Bad queries are 400 with the reason.
    let (s, e) = call(
        &h.router,
        "GET",
        "/api/security/attack?to=service:nope",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().contains("service:nope"), "{e}");
    // Patch the foothold's CVE: a new version, and the answer follows it (not the cache).
    let patched = text.replace(
        "      vulnerabilities:\n        - {cve: CVE-2024-1111, cvss: \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\", port: 443}\n",
        "",
    );
    assert_ne!(patched, text);
    let (s, put) = call(
        &h.router,
        "PUT",
        "/api/twin",
        Some(&h.admin),
        patched.into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    let after = get(&h, "/api/security/attack").await;
    assert_eq!(after["twin_version"], 2);
    assert_eq!(after["paths"], json!([]));
    assert_eq!(after["reachable_targets"], json!([]));
    assert_eq!(after["unreachable_targets"], json!(["service:vault"]));
}

#[tokio::test]
async fn blast_radius_follows_the_rules_from_the_compromised_host() {
    let h = harness(twin("attack-chain.yaml", &data("attack-chain.yaml"))).await;
    let hosts = |v: &Value| {
        let mut all: Vec<String> = ["root", "user"]
            .iter()
            .flat_map(|k| v[*k].as_array().unwrap().iter())
            .map(|x| x.as_str().unwrap().to_owned())
            .collect();
        all.sort();
        all
    };
    // From web1, sg-db rule[0] lets PostgreSQL through to db, whose CVE gives code execution
    // and so vault's data. (web2 is in too: requests from web1 reach its own shop instance,
    // and the graph treats a service's instances as one target, so exploiting shop counts for
    // both web hosts.)
    let v = get(&h, "/api/security/blast?host=web1").await;
    assert_eq!(v["from"], "host:web1");
    assert!(hosts(&v).contains(&"db".to_owned()), "{v:#}");
    assert!(
        v["root"].as_array().unwrap().contains(&json!("web1")),
        "{v:#}"
    );
    assert!(
        v["data"].as_array().unwrap().contains(&json!("vault")),
        "{v:#}"
    );
    // From db nothing else is reachable: both web hosts admit the internet only.
    let v = get(&h, "/api/security/blast?host=host:db").await;
    assert_eq!(hosts(&v), ["db"], "{v:#}");
    assert_eq!(v["twin_version"], 1);
    let (s, e) = call(
        &h.router,
        "GET",
        "/api/security/blast?host=nowhere",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn reach_names_the_deciding_rule() {
    let h = harness(twin("attack-chain.yaml", &data("attack-chain.yaml"))).await;
    // From a web host to the database port: sg-db's first rule lets it in.
    let v = get(&h, "/api/security/reach?src=web1&dst=db&port=5432").await;
    assert_eq!(
        (v["src"].as_str(), v["dst"].as_str()),
        (Some("host:web1"), Some("host:db"))
    );
    assert_eq!(v["verdict"], "allowed", "{v:#}");
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["decided_by"]["check"], "ingress");
    assert!(
        flows[0]["decided_by"]["rule"]
            .as_str()
            .unwrap()
            .ends_with("sg-db[0]"),
        "{v:#}"
    );
    // From the internet: the database sits in a private subnet.
    let v = get(&h, "/api/security/reach?src=internet&dst=service:vault").await;
    assert_eq!(v["verdict"], "denied", "{v:#}");
    assert_eq!(v["flows"][0]["decided_by"]["check"], "route");
    // SSH to a web host from the internet: no rule of sg-web allows 22, the default denies.
    let v = get(&h, "/api/security/reach?src=internet&dst=web2&port=22").await;
    assert_eq!(v["verdict"], "denied", "{v:#}");
    assert_eq!(v["flows"][0]["decided_by"]["check"], "ingress");
    assert_eq!(v["flows"][0]["decided_by"]["rule"], Value::Null);
    // HTTPS to a web host from the internet: sg-web rule[0].
    let v = get(&h, "/api/security/reach?src=internet&dst=web2&port=443").await;
    assert_eq!(v["verdict"], "allowed", "{v:#}");
    assert!(
        v["flows"][0]["decided_by"]["rule"]
            .as_str()
            .unwrap()
            .ends_with("sg-web[0]")
    );
    let (s, e) = call(
        &h.router,
        "GET",
        "/api/security/reach?src=internet&dst=nowhere",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn network_route_halves_the_mlu_of_the_detour() {
    let text = data("triangle.yaml");
    let t = twin("triangle.yaml", &text);
    let h = harness(t.clone()).await;
    let v = get(&h, "/api/network/route").await;
    assert_eq!(v["method"], "lp");
    assert_eq!(v["routers"].as_array().unwrap().len(), 3);
    assert_eq!(v["links"].as_array().unwrap().len(), 3);
    // 100 requests/s from front (r1) to back (r2): 1024-byte requests, 8192-byte responses
    // (the defaults when services carry no size tags). The users' own requests come from no
    // router (none is an internet gateway) and are left out, with a note.
    let rate = 100.0;
    let (req_bps, resp_bps) = (rate * 1024.0 * 8.0, rate * 8192.0 * 8.0);
    let mut demands: Vec<(String, String, f64)> = v["demands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["from"].as_str().unwrap().to_owned(),
                d["to"].as_str().unwrap().to_owned(),
                d["rate_bps"].as_f64().unwrap(),
            )
        })
        .collect();
    demands.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(demands.len(), 2, "{demands:?}");
    assert_eq!((demands[0].0.as_str(), demands[0].1.as_str()), ("r1", "r2"));
    assert!(
        (demands[0].2 - req_bps).abs() < 1e-6 * req_bps,
        "{demands:?}"
    );
    assert!(
        (demands[1].2 - resp_bps).abs() < 1e-6 * resp_bps,
        "{demands:?}"
    );
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("left out"))
    );
    // ECMP takes the detour (cost 2 < 10): the response stream fills r2->r3 and r3->r1 to
    // 6.5536 / 10 Mbit/s. The optimum splits each direction over both paths: half of it.
    let cap = 10e6;
    let before = v["mlu_before"].as_f64().unwrap();
    let after = v["mlu_after"].as_f64().unwrap();
    assert!((before - resp_bps / cap).abs() < 1e-9, "{before}");
    assert!((after - resp_bps / (2.0 * cap)).abs() < 1e-6, "{after}");
    assert_eq!(v["before"]["method"], "ecmp");
    let direct_before: f64 = v["before"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["link"] == "direct")
        .map(|l| l["load_bps"].as_f64().unwrap())
        .sum();
    assert_eq!(direct_before, 0.0);
    assert!(v["after"]["solve_seconds"].as_f64().unwrap() >= 0.0);
    // The same MLU as doppel-netopt's edge LP on the same network and matrix.
    let net = doppel_netopt::Network::from_twin(&t).unwrap();
    let tm = doppel_netopt::traffic::from_twin(&t, &net, &Default::default())
        .unwrap()
        .matrix;
    let lp = doppel_netopt::lp::min_mlu_edges(&net, &tm).unwrap().mlu();
    assert!((after - lp).abs() < 1e-6 * lp, "{after} vs {lp}");
    // Any one link down leaves a single path per direction: the full response stream on it.
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3);
    for f in failures {
        assert!(
            (f["mlu_after"].as_f64().unwrap() - resp_bps / cap).abs() < 1e-6,
            "{f}"
        );
        assert!(
            (f["mlu_before"].as_f64().unwrap() - resp_bps / cap).abs() < 1e-6,
            "{f}"
        );
    }
    // The IGP search lands between the optimum and ECMP under the weights in force.
    let igp = get(&h, "/api/network/route?method=igp").await;
    let m = igp["mlu_after"].as_f64().unwrap();
    assert!(m >= lp - 1e-9 && m <= before + 1e-9, "{m}");
    assert!(igp["after"]["weights"].is_array());
    // Delay needs the LP; an unknown method is a 400.
    let (s, _) = call(
        &h.router,
        "GET",
        "/api/network/route?method=ecmp&objective=delay",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        &h.router,
        "GET",
        "/api/network/route?method=ospf",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let delay = get(&h, "/api/network/route?objective=delay").await;
    assert_eq!(delay["after"]["objective"], "delay");
    assert!(delay["mlu_after"].as_f64().unwrap() >= lp - 1e-9);
}

#[tokio::test]
async fn network_route_without_routers_is_a_conflict() {
    let h = harness(twin("attack-chain.yaml", &data("attack-chain.yaml"))).await;
    let (s, e) = call(
        &h.router,
        "GET",
        "/api/network/route",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"].as_str().unwrap().contains("routers"), "{e}");
}

/// One flow's samples: (src, dst, [(bytes/s, t_ms)]).
type FlowSamples<'a> = (&'a str, &'a str, &'a [(f64, i64)]);

/// A remote-write body of flow gauges.
fn flow_write(flows: &[FlowSamples<'_>]) -> Vec<u8> {
    use doppel_server::ingest::remote_write::{compress, encode};
    let series: Vec<_> = flows
        .iter()
        .map(|(src, dst, samples)| {
            (
                vec![
                    (
                        "__name__".to_string(),
                        "doppel_flow_bytes_per_second".to_string(),
                    ),
                    ("dst".to_string(), dst.to_string()),
                    ("src".to_string(), src.to_string()),
                ],
                samples.to_vec(),
            )
        })
        .collect();
    compress(&encode(&series))
}

#[tokio::test]
async fn network_route_routes_the_flows_observed_live() {
    let text = data("triangle.yaml");
    let t = twin("triangle.yaml", &text);
    let h = harness(t.clone()).await;
    // No flow data yet: a conflict that says what to send; the workloads stay the default.
    let (s, e) = call(
        &h.router,
        "GET",
        "/api/network/route?traffic=live",
        Some(&h.admin),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("doppel_flow_bytes_per_second"),
        "{e}"
    );
    assert_eq!(
        get(&h, "/api/network/route").await["traffic"]["source"],
        "workloads"
    );
    // Flows through remote-write, half a minute ago: the service `front` (behind r1) sends
    // back (behind r2) 400 and then 600 kB/s (mean 500 kB/s = 4 Mbit/s); host h2 (behind
    // r2) sends router r1 250 kB/s (2 Mbit/s); a flow to something the twin does not have
    // is dropped at intake.
    let t0 = doppel_server::now_ms() - 30_000;
    let body = flow_write(&[
        ("front", "back", &[(400_000.0, t0), (600_000.0, t0 + 5_000)]),
        ("h2", "r1", &[(250_000.0, t0)]),
        ("front", "nowhere", &[(9e9, t0)]),
        // A gauge gone wrong: mapped at intake, left out of the matrix with a note.
        ("back", "h1", &[(-1000.0, t0)]),
    ]);
    let (s, e) = call(&h.router, "POST", "/api/v1/write", Some(&h.admin), body).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    h.app.checkpoint().await.unwrap();

    let v = get(&h, "/api/network/route?traffic=live").await;
    let tr = &v["traffic"];
    assert_eq!(tr["source"], "live", "{tr}");
    assert_eq!(tr["window_s"], 60);
    let (from, to) = (
        tr["observed_from_ms"].as_i64().unwrap(),
        tr["observed_to_ms"].as_i64().unwrap(),
    );
    assert!(from <= t0 && t0 < to && to <= t0 + 20_000, "{tr}");
    let flows = tr["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2, "{tr}");
    assert_eq!(flows[0]["src"], "front");
    assert_eq!(flows[0]["bytes_per_second"], 500_000.0);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("back -> h1")),
        "{}",
        v["notes"]
    );
    // Demands: r1 -> r2 4 Mbit/s, r2 -> r1 2 Mbit/s.
    let (fwd, rev, cap) = (500_000.0 * 8.0, 250_000.0 * 8.0, 10e6);
    let mut demands: Vec<(String, String, f64)> = v["demands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["from"].as_str().unwrap().to_owned(),
                d["to"].as_str().unwrap().to_owned(),
                d["rate_bps"].as_f64().unwrap(),
            )
        })
        .collect();
    demands.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        demands,
        vec![
            ("r1".into(), "r2".into(), fwd),
            ("r2".into(), "r1".into(), rev)
        ]
    );
    // ECMP puts both on the detour (cost 2 < 10): 4 Mbit/s on r1->r3->r2. The LP splits each
    // direction half over the direct link and half over the detour.
    let before = v["mlu_before"].as_f64().unwrap();
    let after = v["mlu_after"].as_f64().unwrap();
    assert!((before - fwd / cap).abs() < 1e-9, "{before}");
    assert!((after - fwd / (2.0 * cap)).abs() < 1e-6, "{after}");
    // The same as doppel-netopt on the same matrix.
    let net = doppel_netopt::Network::from_twin(&t).unwrap();
    let rates = [
        doppel_netopt::traffic::ObservedRate {
            src: "front".into(),
            dst: "back".into(),
            bytes_per_second: 500_000.0,
        },
        doppel_netopt::traffic::ObservedRate {
            src: "h2".into(),
            dst: "r1".into(),
            bytes_per_second: 250_000.0,
        },
    ];
    let tm = doppel_netopt::traffic::from_observed(Some(&t), &net, &rates)
        .unwrap()
        .matrix;
    let lp = doppel_netopt::lp::min_mlu_edges(&net, &tm).unwrap().mlu();
    assert!((after - lp).abs() < 1e-6 * lp, "{after} vs {lp}");

    // The next weight change: one link reweighted, and one is enough here (the direct link
    // at 2, or a detour link at 9, ties the two paths and ECMP splits evenly: the optimum).
    let igp = get(
        &h,
        "/api/network/route?traffic=live&method=igp&max_changes=1",
    )
    .await;
    assert_eq!(igp["max_changes"], 1);
    let changed: std::collections::BTreeSet<&str> = igp["after"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["weight"] != w["was"])
        .map(|w| w["link"].as_str().unwrap())
        .collect();
    assert_eq!(changed.len(), 1, "{}", igp["after"]["weights"]);
    let m = igp["mlu_after"].as_f64().unwrap();
    assert!((m - lp).abs() < 1e-9, "{m} vs {lp}");
    // max_changes belongs to the IGP search; unknown traffic sources are refused.
    for bad in [
        "/api/network/route?traffic=live&max_changes=1",
        "/api/network/route?method=igp&max_changes=0",
        "/api/network/route?traffic=netflow",
    ] {
        let (s, e) = call(&h.router, "GET", bad, Some(&h.admin), vec![]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
    }
}

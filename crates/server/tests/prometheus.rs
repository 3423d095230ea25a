//! Pulling from a real Prometheus server: the test writes counters, gauges and a histogram with
//! known slopes as OpenMetrics, turns them into a TSDB with `promtool tsdb
//! create-blocks-from openmetrics`, starts its own `prometheus` on a free port over that
//! storage, lets Doppel pull with the built-in queries, and compares what lands in the store
//! with the rates, quantiles and gauges worked out by hand from the data. It also shows a bad
//! query reported with Prometheus' own error text and the entity, and a stopped Prometheus
//! giving an "unreachable" that leaves the pulled range where it was.
//!
//! Needs `prometheus` and `promtool` (Debian: `apt-get install prometheus`); skipped with a
//! message when they are missing, unless `DOPPEL_CI=1`, where that is a failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doppel_server::pull::{Client, PullConfig, PullQuery};
use doppel_server::{App, Config, Error};
use doppel_store::MetricQuery;
use doppel_store::sqlite::SqliteStore;

const TWIN: &str = r#"
doppel: 1
name: pulled
hosts:
  web-1: {cores: 4, memory: 8Gi}
services:
  cart:
    concurrency: {workers: 4}
    endpoints:
      get: {service_time: {dist: exponential, mean: 20ms}}
  catalog:
    concurrency: {workers: 4}
    endpoints:
      list: {service_time: {dist: exponential, mean: 20ms}}
workloads:
  users:
    open: {rate: 10/s}
    flow:
      steps:
        browse: {service: catalog, next: {buy: 0.5}, exit: 0.5}
        buy: {service: cart}
"#;

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Prometheus process, killed when the test ends.
struct Prom(Child);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Scrape interval of the written data, seconds.
const SCRAPE: i64 = 15;
/// Length of the written data, seconds.
const SPAN: i64 = 1200;

// Known slopes (per second) and levels.
const CART_OK_RPS: f64 = 11.5;
const CART_ERR_RPS: f64 = 0.5;
const CATALOG_RPS: f64 = 12.0;
/// Cumulative catalog request rates below each bucket bound.
const BUCKETS: [(&str, f64); 5] = [
    ("0.05", 5.0),
    ("0.1", 10.0),
    ("0.25", 11.7),
    ("0.5", 12.0),
    ("+Inf", 12.0),
];
const CATALOG_SECONDS_PER_S: f64 = 0.96;
const IDLE: [f64; 2] = [0.25, 0.35];
const MEM_TOTAL: f64 = 8e9;
const MEM_AVAILABLE: f64 = 3e9;
const DISK: [(&str, f64); 2] = [("sda", 0.2), ("sdb", 0.05)];
const RSS_BASE: f64 = 200e6;
const RSS_LEAK: f64 = 1000.0;

fn openmetrics(t0: i64) -> String {
    let mut o = String::new();
    let mut family = |name: &str, kind: &str, rows: &dyn Fn(i64, f64, &mut String)| {
        let _ = writeln!(o, "# TYPE {name} {kind}");
        for k in 0..=SPAN / SCRAPE {
            let t = t0 + k * SCRAPE;
            rows(t, (t - t0) as f64, &mut o);
        }
    };
    family("http_requests", "counter", &|t, dt, o| {
        for (code, rate, base) in [("200", CART_OK_RPS, 1000.0), ("500", CART_ERR_RPS, 50.0)] {
            let _ = writeln!(
                o,
                "http_requests_total{{service=\"cart\",code=\"{code}\"}} {} {t}",
                base + rate * dt
            );
        }
        let _ = writeln!(
            o,
            "http_requests_total{{service=\"ghost\",code=\"200\"}} {} {t}",
            3.0 * dt
        );
    });
    family(
        "http_server_request_duration_seconds",
        "histogram",
        &|t, dt, o| {
            let l = "service_name=\"catalog\",http_response_status_code=\"200\"";
            for (le, rate) in BUCKETS {
                let _ = writeln!(
                    o,
                    "http_server_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {} {t}",
                    rate * dt
                );
            }
            let _ = writeln!(
                o,
                "http_server_request_duration_seconds_count{{{l}}} {} {t}",
                CATALOG_RPS * dt
            );
            let _ = writeln!(
                o,
                "http_server_request_duration_seconds_sum{{{l}}} {} {t}",
                CATALOG_SECONDS_PER_S * dt
            );
        },
    );
    family("process_resident_memory_bytes", "gauge", &|t, dt, o| {
        let _ = writeln!(
            o,
            "process_resident_memory_bytes{{service=\"cart\"}} {} {t}",
            RSS_BASE + RSS_LEAK * dt
        );
    });
    family("node_cpu_seconds", "counter", &|t, dt, o| {
        for (cpu, idle) in IDLE.iter().enumerate() {
            let _ = writeln!(
                o,
                "node_cpu_seconds_total{{instance=\"web-1:9100\",cpu=\"{cpu}\",mode=\"idle\"}} {} {t}",
                5000.0 + idle * dt
            );
            let _ = writeln!(
                o,
                "node_cpu_seconds_total{{instance=\"web-1:9100\",cpu=\"{cpu}\",mode=\"user\"}} {} {t}",
                7000.0 + (1.0 - idle) * dt
            );
        }
    });
    family("node_memory_MemTotal_bytes", "gauge", &|t, _, o| {
        let _ = writeln!(
            o,
            "node_memory_MemTotal_bytes{{instance=\"web-1:9100\"}} {MEM_TOTAL} {t}"
        );
    });
    family("node_memory_MemAvailable_bytes", "gauge", &|t, _, o| {
        let _ = writeln!(
            o,
            "node_memory_MemAvailable_bytes{{instance=\"web-1:9100\"}} {MEM_AVAILABLE} {t}"
        );
    });
    family("node_disk_io_time_seconds", "counter", &|t, dt, o| {
        for (dev, busy) in DISK {
            let _ = writeln!(
                o,
                "node_disk_io_time_seconds_total{{instance=\"web-1:9100\",device=\"{dev}\"}} {} {t}",
                busy * dt
            );
        }
    });
    o.push_str("# EOF\n");
    o
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_prometheus(dir: &Path, port: u16) -> Prom {
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prom = Prom(child);
    let url = format!("http://127.0.0.1:{port}/-/ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = ureq::get(&url).call()
            && r.status() == 200
        {
            return prom;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_known_values_from_a_real_prometheus() {
    if !(have("prometheus") && have("promtool")) {
        assert!(
            std::env::var("DOPPEL_CI").as_deref() != Ok("1"),
            "prometheus/promtool are not installed, and DOPPEL_CI=1 requires this test to run"
        );
        println!(
            "skipped: install prometheus (Debian: apt-get install prometheus) to run this test"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let now = doppel_server::now_ms();
    let now_s = now / 1000;
    // The data: 20 minutes, ending 10 minutes ago, on a 10-second boundary.
    let t0 = now_s - now_s.rem_euclid(10) - 1800;
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(t0)).expect("write data");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(dir.path().join("tsdb"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let prom = start_prometheus(dir.path(), port);

    let twin = doppel_model::load_str("pulled.yaml", TWIN);
    assert_eq!(twin.errors().count(), 0, "{:?}", twin.diagnostics);
    let store = Arc::new(SqliteStore::open(dir.path().join("d.db")).expect("store"));
    let (app, _) = App::start_with(
        Config::new("unused", dir.path().join("wal")),
        store,
        Some(twin.twin),
    )
    .await
    .expect("start");

    let url = format!("http://127.0.0.1:{port}");
    let mut cfg = PullConfig::new(&url);
    cfg.lookback_s = 1900;
    // Two broken queries next to the built-in ones: one shared, one per entity.
    cfg.queries.push(PullQuery {
        name: "broken".into(),
        entity: doppel_server::pull::EntityKind::Service,
        measure: doppel_server::pull::Measure::Utilization,
        query: "sum(rate(http_requests_total[1m])".into(),
    });
    cfg.queries.push(PullQuery {
        name: "broken per service".into(),
        entity: doppel_server::pull::EntityKind::Service,
        measure: doppel_server::pull::Measure::Utilization,
        // Cart's two series are on the "one" side of the match: an execution error.
        query: "vector(1) + on() group_left http_requests_total{service=~\"{{service}}|cart\"}"
            .into(),
    });
    let client = Client::new(&url, Duration::from_secs(10));
    let round = app.pull_once(&cfg, &client, now).await.expect("pull");
    app.checkpoint().await.expect("checkpoint");

    // Every built-in query is valid PromQL; the broken ones are named, with the entity for
    // the per-entity one and Prometheus' own error text.
    let problems: Vec<String> = round.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0]
            .starts_with("query `broken`: Prometheus refused the query (HTTP 400, bad_data)"),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("parse error"), "{}", problems[0]);
    assert!(problems[1].starts_with("query `broken per service` for service:cart: Prometheus refused the query (HTTP 422, execution)"), "{}", problems[1]);
    assert!(
        problems[2].contains("for service:catalog"),
        "{}",
        problems[2]
    );
    let st = app.pull_status().expect("status");
    assert_eq!(st.problems.len(), 3);
    let outcome = |n: &str| round.outcomes.iter().find(|o| o.query == n).expect(n);
    assert!(
        outcome("request rate")
            .unmapped
            .iter()
            .any(|u| u.contains("ghost")),
        "{:?}",
        outcome("request rate")
    );
    assert_eq!(
        outcome("request rate").entities,
        vec!["service:cart".to_string(), "service:catalog".to_string()]
    );
    assert_eq!(outcome("host cpu").entities, vec!["host:web-1".to_string()]);

    // What landed in the store, per (entity, metric): bucket start (s) → (count, sum).
    let pts = app
        .store
        .metrics(&MetricQuery {
            entity: None,
            metric: None,
            resolution_s: 10,
            from_ms: 0,
            to_ms: now + 1,
            limit: 1_000_000,
        })
        .await
        .expect("metrics");
    let mut got: BTreeMap<(String, String), BTreeMap<i64, (i64, f64)>> = BTreeMap::new();
    for p in &pts {
        got.entry((p.entity.clone(), p.metric.clone()))
            .or_default()
            .insert(p.bucket_ms / 1000, (p.count, p.sum));
    }
    // Buckets whose whole rate window lies inside the data: evaluated at b + 10 over the
    // minute before it.
    let interior: Vec<i64> = (0..)
        .map(|k| t0 + 120 + 10 * k)
        .take_while(|b| b + 10 <= t0 + SPAN)
        .collect();
    assert!(interior.len() > 100);
    // The value evaluated at `t` for a gauge: the last sample at or before `t`.
    let last_scrape = move |t: i64| t0 + SCRAPE * ((t - t0) / SCRAPE);
    let hist_quantile = |q: f64| {
        // Linear interpolation inside the bucket holding rank q·total (Prometheus'
        // histogram_quantile), done by hand over the bucket rates above.
        let total = BUCKETS[BUCKETS.len() - 1].1;
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for (le, c) in BUCKETS {
            let ub: f64 = le.parse().unwrap_or(f64::INFINITY);
            if c >= rank {
                return lower.0 + (ub - lower.0) * (rank - lower.1) / (c - lower.1);
            }
            lower = (ub, c);
        }
        f64::NAN
    };
    assert!(close(hist_quantile(0.5), 0.06));
    type Expect = Box<dyn Fn(i64) -> f64>;
    let expectations: Vec<(&str, &str, Expect)> = vec![
        // Rates × the 10 s step are the bucket's increments.
        (
            "service:cart",
            "requests",
            Box::new(|_| (CART_OK_RPS + CART_ERR_RPS) * 10.0),
        ),
        ("service:cart", "errors", Box::new(|_| CART_ERR_RPS * 10.0)),
        (
            "service:catalog",
            "requests",
            Box::new(|_| CATALOG_RPS * 10.0),
        ),
        (
            "service:catalog",
            "latency_ms",
            Box::new(|_| 1000.0 * CATALOG_SECONDS_PER_S / CATALOG_RPS),
        ),
        (
            "service:catalog",
            "latency_p50_ms",
            Box::new(move |_| 1000.0 * hist_quantile(0.5)),
        ),
        (
            "service:catalog",
            "latency_p90_ms",
            Box::new(move |_| 1000.0 * hist_quantile(0.9)),
        ),
        (
            "service:catalog",
            "latency_p99_ms",
            Box::new(move |_| 1000.0 * hist_quantile(0.99)),
        ),
        (
            "service:cart",
            "memory_bytes",
            Box::new(move |b| RSS_BASE + RSS_LEAK * (last_scrape(b + 10) - t0) as f64),
        ),
        (
            "host:web-1",
            "utilization",
            Box::new(|_| 1.0 - IDLE.iter().sum::<f64>() / IDLE.len() as f64),
        ),
        (
            "host:web-1",
            "memory_bytes",
            Box::new(|_| MEM_TOTAL - MEM_AVAILABLE),
        ),
        (
            "host:web-1",
            "disk_utilization",
            Box::new(|_| DISK[0].1.max(DISK[1].1)),
        ),
    ];
    for (entity, metric, want) in &expectations {
        let series = got
            .get(&(entity.to_string(), metric.to_string()))
            .unwrap_or_else(|| panic!("nothing stored for {entity} {metric}"));
        for b in &interior {
            let (count, sum) = series
                .get(b)
                .unwrap_or_else(|| panic!("{entity} {metric}: no bucket at {b}"));
            assert_eq!(*count, 1, "{entity} {metric} at {b}");
            assert!(
                close(*sum, want(*b)),
                "{entity} {metric} at {}: got {sum}, expected {}",
                b - t0,
                want(*b)
            );
        }
    }
    // The catalog has no 5xx series: no error values are made up for it.
    assert!(!got.contains_key(&("service:catalog".into(), "errors".into())));
    // Only pulled values: nothing for the unknown service.
    assert!(got.keys().all(|(e, _)| !e.contains("ghost")));
    // The live view reads them like pushed ones.
    let obs = app.observe((t0 + 600) * 1000, 60).await.expect("observe");
    let cat = doppel_server::drift::window_average(&obs["catalog"]);
    assert!(close(cat.rps, CATALOG_RPS), "{cat:?}");
    assert!(close(cat.latency_ms.unwrap_or(0.0), 80.0), "{cat:?}");

    // Pulling again at the same time adds nothing: the range is pulled already.
    let again = app.pull_once(&cfg, &client, now).await.expect("pull again");
    assert!(again.values.is_empty());

    // Prometheus goes away: the round fails as unreachable, the range stays where it was.
    drop(prom);
    let later = now + 60_000;
    match app.pull_once(&cfg, &client, later).await {
        Err(Error::Pull(doppel_server::pull::PullError::Unreachable(msg))) => {
            assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    let st = app.pull_status().expect("status");
    assert_eq!(st.consecutive_failures, 1);
    assert!(st.unreachable.is_some());
    assert_eq!(st.pulled_until_ms, Some(now - now.rem_euclid(10_000)));
}

//! Load test of the remote-write receiver on loopback (bounded: a fixed duration, then stop).
//!
//! Starts the server in process (SQLite store in a temporary directory, the example shop),
//! then `CLIENTS` connections post prebuilt remote-write requests (`SERIES` series of one
//! sample each, snappy-compressed, as Prometheus batches them) over keep-alive HTTP/1.1 for
//! `SECONDS`, while `READERS` more connections (default 2) read the API concurrently, each
//! going round `GET /api/drift`, `/api/live`, `/api/twin`, `/api/metrics` (one service's
//! stored request counts) and `/metrics`, with 10 ms between reads. Reports the acknowledged
//! samples per second, the read latency percentiles overall and per route, and whether the
//! targets hold (at least 1 M samples/s, read p99 under 100 ms).
//!
//! `cargo bench -p doppel-server --bench remote_write` (env `SECONDS`, `CLIENTS`, `SERIES`,
//! `READERS`).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use doppel_server::ingest::remote_write::{compress, encode};

fn env(name: &str, d: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// Sends one request on a keep-alive connection; returns the status.
fn send(conn: &mut BufReader<TcpStream>, head: &str, body: &[u8]) -> u16 {
    let mut req = Vec::with_capacity(head.len() + body.len());
    req.extend_from_slice(head.as_bytes());
    req.extend_from_slice(body);
    conn.get_mut().write_all(&req).unwrap();
    let mut status = 0;
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if status == 0 {
            status = line
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
        } else if line == "\r\n" {
            break;
        } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut skip = vec![0; len];
    conn.read_exact(&mut skip).unwrap();
    status
}

fn bodies(client: usize, series: usize, n: usize, t0: i64) -> Vec<Vec<u8>> {
    let services = [
        "frontend",
        "catalog",
        "cart",
        "recommendations",
        "checkout",
        "payment",
        "redis",
        "pg-primary",
        "pg-replica",
        "rabbitmq",
        "fulfilment",
        "psp",
    ];
    (0..n)
        .map(|k| {
            let t = t0 + k as i64 * 1000;
            let s: Vec<_> = (0..series)
                .map(|i| {
                    let svc = services[i % services.len()];
                    let counter = i % 4 == 0;
                    let name = if counter {
                        "http_requests_total"
                    } else {
                        "process_utilization"
                    };
                    (
                        vec![
                            ("__name__".to_string(), name.to_string()),
                            ("instance".to_string(), format!("{svc}-{client}-{}", i / 12)),
                            ("job".to_string(), "shop".to_string()),
                            ("namespace".to_string(), "prod".to_string()),
                            ("pod".to_string(), format!("{svc}-7d9f8c-{i:05}")),
                            ("service".to_string(), svc.to_string()),
                        ],
                        vec![(if counter { (k * 10) as f64 } else { 0.5 }, t)],
                    )
                })
                .collect();
            compress(&encode(&s))
        })
        .collect()
}

fn main() {
    let seconds = env("SECONDS", 10);
    let clients = env("CLIENTS", 4) as usize;
    let series = env("SERIES", 2000) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop.yaml");
    let twin = doppel_model::load(&[shop], |p| std::fs::read(p)).twin;
    let cfg = doppel_server::Config::new(
        dir.path().join("d.db").to_string_lossy().to_string(),
        dir.path().join("wal"),
    );
    let (port, token) = rt.block_on(async {
        let (app, token) = doppel_server::App::start(cfg, Some(twin)).await.unwrap();
        app.spawn_tasks();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(doppel_server::serve(app, l, std::future::pending()));
        (port, token.unwrap())
    });

    let t0 = doppel_server::now_ms();
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for c in 0..clients {
        let bodies = bodies(c, series, 30, t0);
        let (stop, samples, token) = (Arc::clone(&stop), Arc::clone(&samples), token.clone());
        handles.push(std::thread::spawn(move || {
            let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.set_nodelay(true).unwrap(); // as Prometheus' Go client does
            let mut conn = BufReader::new(stream);
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let b = &bodies[k % bodies.len()];
                let head = format!(
                    "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                     Content-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\n\
                     X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                assert_eq!(send(&mut conn, &head, b), 204);
                samples.fetch_add(series as u64, Ordering::Relaxed);
                k += 1;
            }
        }));
    }
    const READS: [&str; 5] = [
        "/api/drift",
        "/api/live",
        "/api/twin",
        "/api/metrics?entity=service:cart&metric=requests",
        "/metrics",
    ];
    let readers: Vec<_> = (0..env("READERS", 2) as usize)
        .map(|r| {
            let (stop, token) = (Arc::clone(&stop), token.clone());
            std::thread::spawn(move || {
                let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
                conn.get_ref().set_nodelay(true).unwrap();
                let mut lat: Vec<(usize, f64)> = Vec::new();
                let mut k = r;
                while !stop.load(Ordering::Relaxed) {
                    let route = k % READS.len();
                    let head = format!(
                        "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
                        READS[route]
                    );
                    let t = Instant::now();
                    assert_eq!(send(&mut conn, &head, b""), 200, "{}", READS[route]);
                    lat.push((route, t.elapsed().as_secs_f64() * 1000.0));
                    k += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                lat
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for h in handles {
        h.join().unwrap();
    }
    let all: Vec<(usize, f64)> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let pct = |mut v: Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let lat: Vec<f64> = all.iter().map(|x| x.1).collect();
    let n = samples.load(Ordering::Relaxed);
    let rate = n as f64 / elapsed;
    let p99 = pct(lat.clone(), 0.99);
    println!(
        "remote write: {clients} connections x {series} series/request for {elapsed:.1} s: \
         {n} samples acknowledged, {:.2} M samples/s",
        rate / 1e6
    );
    println!(
        "API reads meanwhile: {} reads on {} connections, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        env("READERS", 2),
        pct(lat.clone(), 0.5),
        p99,
        lat.iter().copied().fold(0.0, f64::max)
    );
    for (i, route) in READS.iter().enumerate() {
        let v: Vec<f64> = all.iter().filter(|x| x.0 == i).map(|x| x.1).collect();
        println!(
            "  GET {route}: {} reads, p50 {:.2} ms, p99 {:.2} ms",
            v.len(),
            pct(v.clone(), 0.5),
            pct(v, 0.99)
        );
    }
    let ok = |b: bool| if b { "met" } else { "MISSED" };
    println!(
        "targets: >= 1 M samples/s {}; read p99 < 100 ms {}",
        ok(rate >= 1e6),
        ok(p99 < 100.0)
    );
}

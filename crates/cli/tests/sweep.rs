//! End-to-end tests of `doppel sweep` and `doppel worker`, running the real binary: a local
//! sweep gives the same bytes on 1 and 2 threads and the same numbers as `doppel simulate`;
//! on the NATS JetStream server at 127.0.0.1:4222 (and PostgreSQL at 127.0.0.1:5432, db
//! `test`), a sweep survives a worker killed with SIGKILL and a coordinator killed and
//! restarted, and gives the same bytes as the local run.
//!
//! Without a NATS server (or PostgreSQL) the cluster tests print "skipped" and pass, unless
//! `DOPPEL_CI=1`, where they fail.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{doppel_in, repo};

const NATS: &str = "nats://127.0.0.1:4222";

fn pg_url() -> String {
    std::env::var("DOPPEL_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

/// Cluster tests share the one server's workers: run them one at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

/// A service for the test is up, or the test should be skipped (never under `DOPPEL_CI=1`).
fn service_up(addr: &str, what: &str) -> bool {
    let ok = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
        .is_ok();
    if !ok {
        assert!(
            std::env::var("DOPPEL_CI").as_deref() != Ok("1"),
            "{what} is not running at {addr} (DOPPEL_CI=1: it must be)"
        );
        eprintln!("skipped: install and start {what} at {addr}");
    }
    ok
}

/// A temp dir with the shop twin and two short scenarios (each task a fraction of a second).
fn workspace(duration: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["shop.yaml", "shop-network.yaml"] {
        std::fs::copy(repo().join("examples").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    std::fs::write(
        dir.path().join("scenarios/peak.yaml"),
        format!(
            "scenario: 1\nname: peak\nduration: {duration}\nwarmup: 2s\nload:\n  - {{step: {{at: 5s, factor: 1.5}}}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scenarios/replica-slow.yaml"),
        format!(
            "scenario: 1\nname: replica-slow\nduration: {duration}\nwarmup: 2s\nevents:\n  - {{at: 4s, slow: {{service: pg-replica, factor: 5}}}}\n"
        ),
    )
    .unwrap();
    dir
}

fn sweep_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "sweep",
        "shop.yaml",
        "--scenarios",
        "scenarios",
        "--param",
        "services.catalog.replicas=3,4",
        "--replications",
        "3",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn local_sweep_gives_the_same_bytes_on_one_and_two_threads() {
    let dir = workspace("12s");
    let (c1, out1, err1) = doppel_in(dir.path(), &sweep_args(&["--threads", "1", "--seed", "3"]));
    assert_eq!(c1, 0, "{err1}");
    let (c2, out2, err2) = doppel_in(dir.path(), &sweep_args(&["--threads", "2", "--seed", "3"]));
    assert_eq!(c2, 0, "{err2}");
    assert_eq!(out1, out2, "JSON differs between 1 and 2 threads");
    assert!(err1.contains("2 scenario(s) x 2 combination(s) x 3 replication(s) = 12 task(s)"));
    let t: serde_json::Value = serde_json::from_str(&out1).unwrap();
    let rows = t["rows"].as_array().unwrap();
    // Scenarios sorted by file name, then the parameter's values in order.
    let keys: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["scenario"], r["params"]["services.catalog.replicas"]
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            "\"peak\" 3",
            "\"peak\" 4",
            "\"replica-slow\" 3",
            "\"replica-slow\" 4"
        ]
    );
    for r in rows {
        assert_eq!(r["replications"], 3);
        for s in r["slos"].as_array().unwrap() {
            let e = &s["achieved"];
            if e.is_null() {
                continue;
            }
            let (m, lo, hi) = (
                e["mean"].as_f64().unwrap(),
                e["ci95"][0].as_f64().unwrap(),
                e["ci95"][1].as_f64().unwrap(),
            );
            assert!(lo <= m && m <= hi, "{s}");
            let met = s["verdict"] == "met";
            let holds = if s["unit"] == "ms" {
                m <= s["threshold"].as_f64().unwrap() + 1e-9
            } else {
                m >= s["threshold"].as_f64().unwrap() - 1e-9
            };
            assert_eq!(met, holds, "{s}");
        }
    }
    // CSV: the same table in long form.
    let (c, csv, err) = doppel_in(
        dir.path(),
        &sweep_args(&["--seed", "3", "--format", "csv", "--out", "t.csv"]),
    );
    assert_eq!(c, 0, "{err}");
    assert!(csv.is_empty());
    let csv = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scenario,file,params,kind,name,figure,mean,ci95_low,ci95_high,n,verdict"
    );
    let browse_tp = csv
        .lines()
        .find(|l| l.starts_with("peak,scenarios/peak.yaml,services.catalog.replicas=3,workload,browse,throughput_rps,"))
        .unwrap();
    let mean: f64 = browse_tp.split(',').nth(6).unwrap().parse().unwrap();
    assert_eq!(
        mean,
        rows[0]["workloads"][0]["throughput_rps"]["mean"]
            .as_f64()
            .unwrap()
    );
}

#[test]
fn a_sweep_row_equals_doppel_simulate_over_the_same_replications() {
    // Replication r of a sweep is replication r of `doppel simulate --seed S`: the interval of
    // an SLO over replications, and the throughput, match the simulator's own run.
    let dir = workspace("12s");
    let (c, out, err) = doppel_in(
        dir.path(),
        &[
            "sweep",
            "shop.yaml",
            "--scenarios",
            "scenarios/peak.yaml",
            "--replications",
            "3",
            "--seed",
            "9",
        ],
    );
    assert_eq!(c, 0, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (c, sim, err) = doppel_in(
        dir.path(),
        &[
            "simulate",
            "shop.yaml",
            "--scenario",
            "scenarios/peak.yaml",
            "--replications",
            "3",
            "--seed",
            "9",
            "--format",
            "json",
        ],
    );
    assert_eq!(c, 0, "{err}");
    let sim: serde_json::Value = serde_json::from_str(&sim).unwrap();
    let row = &t["rows"][0];
    let mut compared = 0;
    for (s, v) in row["slos"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sim["slos"].as_array().unwrap())
    {
        assert_eq!(s["name"], v["name"]);
        if v["achieved_ci95"].is_null() {
            continue;
        }
        for k in 0..2 {
            let a = s["achieved"]["ci95"][k].as_f64().unwrap();
            let b = v["achieved_ci95"][k].as_f64().unwrap();
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{}: {a} vs {b}",
                s["name"]
            );
        }
        compared += 1;
    }
    assert!(compared >= 3, "too few SLOs had data");
    for (w, v) in row["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sim["workloads"].as_array().unwrap())
    {
        let a = w["throughput_rps"]["mean"].as_f64().unwrap();
        let b = v["throughput_rps"].as_f64().unwrap();
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{}: {a} vs {b}",
            w["name"]
        );
    }
}

#[test]
fn a_bad_swept_value_names_the_scenario_and_the_field() {
    let dir = workspace("10s");
    let (c, _, err) = doppel_in(
        dir.path(),
        &[
            "sweep",
            "shop.yaml",
            "--scenarios",
            "scenarios/peak.yaml",
            "--param",
            "services.catalog.replicas=2,many",
        ],
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("scenarios/peak.yaml"), "{err}");
    assert!(err.contains("changes.services.catalog.replicas"), "{err}");
    let (c, _, err) = doppel_in(
        dir.path(),
        &["sweep", "shop.yaml", "--scenarios", "nothing-*.yaml"],
    );
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("no scenario file there"), "{err}");
}

/// A `doppel` process whose stderr lines are collected as they come.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn start(dir: &Path, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_doppel"))
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Proc { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line satisfies `f` (panics after `secs`).
    fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| f(l)) {
                return l;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {:?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait(mut self, secs: u64) -> (i32, Vec<String>) {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (s.code().unwrap_or(-1), self.lines());
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                panic!("timed out: {:?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn worker(dir: &Path) -> Proc {
    Proc::start(
        dir,
        &[
            "worker",
            "--cluster",
            NATS,
            "--jobs",
            "1",
            "--poll",
            "200ms",
        ],
    )
}

fn sweep_id(coordinator: &Proc) -> String {
    let line = coordinator.wait_for(60, "the sweep id", |l| l.starts_with("sweep "));
    line["sweep ".len()..].split(':').next().unwrap().to_owned()
}

/// Every task of the sweep started by each worker and finished by each worker.
fn starts_and_finishes(ws: &[Proc], id: &str) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let pick = |w: &Proc, verb: &str| -> Vec<u32> {
        let prefix = format!("{verb} task {id}/");
        w.lines()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    (
        ws.iter().map(|w| pick(w, "started")).collect(),
        ws.iter().map(|w| pick(w, "finished")).collect(),
    )
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

#[test]
fn a_worker_killed_mid_sweep_loses_nothing_and_counts_nothing_twice() {
    if !service_up("127.0.0.1:4222", "nats-server -js") {
        return;
    }
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    // Tasks long enough that the worker is killed while it still runs one.
    let dir = workspace("60s");
    let d = dir.path();
    let seed = format!("{}", 1000 + std::process::id() % 1000);
    let (c, _, err) = doppel_in(d, &sweep_args(&["--seed", &seed, "--out", "local.json"]));
    assert_eq!(c, 0, "{err}");

    let mut workers: Vec<Proc> = (0..3).map(|_| worker(d)).collect();
    let coordinator = Proc::start(
        d,
        &sweep_args(&[
            "--seed",
            &seed,
            "--cluster",
            NATS,
            "--ack-wait",
            "2s",
            "--out",
            "cluster.json",
        ]),
    );
    let id = sweep_id(&coordinator);
    // Kill the first worker while it runs a task of this sweep.
    let prefix = format!("started task {id}/");
    let line = workers[0].wait_for(60, "worker 0 to start a task", |l| l.starts_with(&prefix));
    let killed: u32 = line[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    workers[0].child.kill().unwrap();
    let _ = workers[0].child.wait();
    let (code, lines) = coordinator.wait(180);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(
        read(d, "cluster.json"),
        read(d, "local.json"),
        "cluster and local results differ"
    );

    let (starts, finishes) = starts_and_finishes(&workers, &id);
    assert!(
        !finishes[0].contains(&killed),
        "the killed worker finished task {killed}"
    );
    // The killed task was delivered again to a live worker, after the ack deadline.
    let again = format!("started task {id}/{killed} (attempt ");
    let redelivered = workers[1..]
        .iter()
        .flat_map(Proc::lines)
        .any(|l| l.starts_with(&again) && !l.ends_with("(attempt 1)"));
    assert!(redelivered, "task {killed} was not redelivered: {starts:?}");
    // Every task finished by some worker; the table has each once (3 replications a row).
    let mut all: Vec<u32> = finishes.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (0..12).collect::<Vec<u32>>());
    let t: serde_json::Value = serde_json::from_str(&read(d, "cluster.json")).unwrap();
    assert_eq!(t["tasks"], 12);
    for r in t["rows"].as_array().unwrap() {
        assert_eq!(r["replications"], 3);
    }
    for w in &mut workers {
        let _ = w.child.kill();
    }
}

#[test]
fn a_coordinator_killed_mid_sweep_resumes_from_the_store() {
    if !service_up("127.0.0.1:4222", "nats-server -js")
        || !service_up("127.0.0.1:5432", "PostgreSQL")
    {
        return;
    }
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    // Tasks long enough (about a second each in a test build) that the coordinator is still
    // waiting for most of them when it is killed.
    let dir = workspace("120s");
    let d = dir.path();
    let seed = format!("{}", 2000 + std::process::id() % 1000);
    let schema = format!(
        "sweep_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let url = pg_url();
    let (c, _, err) = doppel_in(d, &sweep_args(&["--seed", &seed, "--out", "local.json"]));
    assert_eq!(c, 0, "{err}");

    let workers: Vec<Proc> = (0..2).map(|_| worker(d)).collect();
    let cluster_args = |out: &'static str| -> Vec<String> {
        sweep_args(&[
            "--seed",
            &seed,
            "--cluster",
            NATS,
            "--ack-wait",
            "2s",
            "--store",
            &url,
            "--store-schema",
            &schema,
            "--out",
            out,
        ])
        .into_iter()
        .map(str::to_owned)
        .collect()
    };
    let args1 = cluster_args("first.json");
    let first = Proc::start(d, &args1.iter().map(String::as_str).collect::<Vec<_>>());
    let id = sweep_id(&first);
    // Once a few results are in, kill the coordinator.
    let done = format!("finished task {id}/");
    let end = Instant::now() + Duration::from_secs(120);
    while workers
        .iter()
        .flat_map(Proc::lines)
        .filter(|l| l.starts_with(&done))
        .count()
        < 3
    {
        assert!(Instant::now() < end, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut first = first;
    first.child.kill().unwrap();
    let _ = first.child.wait();
    assert!(!d.join("first.json").exists());

    // Resume by id: no twin or scenario needed.
    let resumed = Proc::start(
        d,
        &[
            "sweep",
            "--resume",
            &id,
            "--store",
            &url,
            "--store-schema",
            &schema,
            "--cluster",
            NATS,
            "--ack-wait",
            "2s",
            "--out",
            "second.json",
        ],
    );
    let (code, lines) = resumed.wait(180);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(read(d, "second.json"), read(d, "local.json"));
    let summary = lines.iter().find(|l| l.contains("task(s) done")).unwrap();
    let resumed_n: usize = summary
        .split("done (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(resumed_n >= 1, "{summary}");
    // No task ran twice: the restart republished nothing that was queued or finished.
    let (_, finishes) = starts_and_finishes(&workers, &id);
    let mut all = finishes.concat();
    all.sort_unstable();
    assert_eq!(all, (0..12).collect::<Vec<u32>>(), "each task exactly once");

    // The same sweep again resumes by content hash: everything is in the store.
    let args3 = cluster_args("third.json");
    let (c, _, err) = doppel_in(d, &args3.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(c, 0, "{err}");
    assert!(err.contains("12 task(s) done (12 resumed"), "{err}");
    assert_eq!(read(d, "third.json"), read(d, "local.json"));

    drop(workers);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = doppel_sweep::store::PgStore::connect(&url, Some(&schema))
            .await
            .unwrap();
        s.drop_schema().await.unwrap();
    });
}

//! Cancelling a running simulation for real: a long run is submitted, reports progress,
//! is cancelled, ends as cancelled, and its simulation stops (no simulation runs any more and
//! its recorded progress no longer moves); the freed worker then finishes another run.

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::Arc;
use std::time::Duration;

use doppel_server::{App, Config};
use doppel_store::RunStatus;
use doppel_store::sqlite::SqliteStore;
use serde_json::json;

const TWIN: &str = "
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_simulation_stops_and_frees_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    let twin = doppel_model::load_str("t.yaml", TWIN).twin;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (app, _) = App::start_with(
        Config::new("unused", dir.path().join("wal")),
        store,
        Some(twin),
    )
    .await
    .unwrap();
    // 10 million simulated seconds at 100 requests/s: about 4 billion events, hours of work.
    let run = app
        .submit_run("simulate", json!({"duration": 1.0e7, "warmup": 1}), "admin")
        .await
        .unwrap();
    // Wait until it is running and has reported progress.
    let mut progress = 0.0;
    for _ in 0..300 {
        let r = app.store.run(run.id).await.unwrap().unwrap();
        if r.status == RunStatus::Running && r.progress > 0.0 {
            progress = r.progress;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(progress > 0.0 && progress < 0.5, "progress {progress}");
    assert_eq!(app.runs_active(), 1);

    let cancelled = app.cancel_run(run.id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    // The simulation stops promptly: the engine looks at the flag every 4,096 events.
    let mut stopped = false;
    for _ in 0..100 {
        if app.runs_active() == 0 {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "the simulation still runs 2 s after the cancel");
    let at_stop = app.store.run(run.id).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later = app.store.run(run.id).await.unwrap().unwrap();
    assert_eq!(later.status, RunStatus::Cancelled);
    assert_eq!(later.progress, at_stop.progress, "progress still moves");
    assert!(later.result.is_none());
    assert_eq!(app.runs_active(), 0);
    // Cancelling again is a conflict.
    assert!(app.cancel_run(run.id).await.is_err());

    // The worker is free: a short run finishes.
    let short = app
        .submit_run("simulate", json!({"duration": 20, "warmup": 1}), "admin")
        .await
        .unwrap();
    let mut done = None;
    for _ in 0..600 {
        let r = app.store.run(short.id).await.unwrap().unwrap();
        if r.status.is_final() {
            done = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = done.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.progress, 1.0);
}

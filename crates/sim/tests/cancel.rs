//! Cooperative cancellation: a run whose flag is set stops within a few thousand events and
//! reports `Cancelled`; replications not yet started never start; an unset flag changes
//! nothing (same report as `simulate_plan`, byte for byte).
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use doppel_sim::bench::tandem_net;
use doppel_sim::{Plan, SimConfig, SimError, simulate_plan, simulate_plan_cancellable};

#[test]
fn a_cancelled_run_stops_early_and_says_so() {
    // 10 stations, about 0.8 arrivals/s each visiting all: a million seconds is ~24 million
    // events, minutes of work if it ran to the end.
    let net = tandem_net(10, 2, 0.8, 0.5);
    let cfg = SimConfig {
        duration: 1.0e6,
        warmup: 0.0,
        seed: 3,
        replications: 1,
    };
    let cancel = AtomicBool::new(false);
    let seen: Mutex<Vec<f64>> = Mutex::new(Vec::new());
    // The progress callback (every 65,536 events) cancels at its second call.
    let progress = |_: u32, t: f64| {
        let mut s = seen.lock().unwrap();
        s.push(t);
        if s.len() == 2 {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let r = simulate_plan_cancellable(&net, &Plan::default(), &cfg, &progress, &cancel);
    assert_eq!(r.err(), Some(SimError::Cancelled));
    let seen = seen.into_inner().unwrap();
    // It stopped before the next progress report (the flag is read every 4,096 events), far
    // from the end: 2 reports, the last at 131,072 events ≈ 131,072 / (0.8 · 10 · 2) ≈ 8,200 s.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1] < 20_000.0, "{seen:?}");
}

#[test]
fn replications_not_started_do_not_start() {
    let net = tandem_net(10, 2, 0.8, 0.5);
    let cfg = SimConfig {
        duration: 1.0e6,
        warmup: 0.0,
        seed: 3,
        replications: 16,
    };
    let calls = AtomicU32::new(0);
    let progress = |_: u32, _: f64| {
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let cancel = AtomicBool::new(true);
    let r = simulate_plan_cancellable(&net, &Plan::default(), &cfg, &progress, &cancel);
    assert_eq!(r.err(), Some(SimError::Cancelled));
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[test]
fn an_unset_flag_changes_nothing() {
    let net = tandem_net(3, 1, 0.5, 1.0);
    let cfg = SimConfig {
        duration: 2_000.0,
        warmup: 100.0,
        seed: 7,
        replications: 2,
    };
    let a = simulate_plan(&net, &Plan::default(), &cfg, &|_, _| {}).unwrap();
    let b = simulate_plan_cancellable(
        &net,
        &Plan::default(),
        &cfg,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

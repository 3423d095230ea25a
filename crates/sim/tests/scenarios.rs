//! What-if scenarios end to end (YAML twin + YAML scenario → model checks → compile → engine),
//! each behaviour against an independent expectation: retry amplification (exactly 1 + retries
//! without a budget, at most 1 + percent with one), metastability (the retry-amplified load
//! 4ρ > 1 sustains the overload; a budget or load shedding keeps it below 1), a circuit
//! breaker's trip time from its window arithmetic, the utilization law and a fluid queue for a
//! lost replica (and recovery with autoscaling), a rolling update's capacity arithmetic against
//! a p99 SLO, canary analysis, and the timeline's own bookkeeping.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use doppel_model::scenario::{apply_changes, check, load_scenario_str};
use doppel_sim::report::Bucket;
use doppel_sim::scenario::compile_scenario;
use doppel_sim::{SimConfig, SimReport, simulate_plan};

/// Runs `scenario` on `twin` for `duration` seconds.
fn run(twin: &str, scenario: &str, duration: f64, warmup: f64, reps: u32) -> SimReport {
    let loaded = doppel_model::load_str("t.yaml", twin);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    let mut sc = load_scenario_str("s.yaml", scenario);
    assert!(sc.is_valid(), "{:?}", sc.diagnostics);
    let patched = apply_changes(&mut sc, &loaded.twin);
    check(&mut sc, &patched);
    assert!(sc.is_valid(), "{:?}", sc.diagnostics);
    let c = compile_scenario(&patched, &sc, duration).unwrap();
    let cfg = SimConfig {
        duration,
        warmup,
        seed: 1,
        replications: reps,
    };
    simulate_plan(&c.net, &c.plan, &cfg, &|_, _| {}).unwrap()
}

fn service<'a>(r: &'a SimReport, name: &str) -> &'a doppel_sim::report::ServiceReport {
    r.services.iter().find(|s| s.name == name).unwrap()
}

fn index(r: &SimReport, name: &str) -> usize {
    r.services.iter().position(|s| s.name == name).unwrap()
}

/// Buckets starting in `[from, to)`.
fn between(r: &SimReport, from: f64, to: f64) -> Vec<&Bucket> {
    r.timeline
        .iter()
        .filter(|b| b.t >= from && b.t < to)
        .collect()
}

fn error_share(bs: &[&Bucket]) -> f64 {
    let ok: f64 = bs.iter().map(|b| b.throughput_rps).sum();
    let err: f64 = bs.iter().map(|b| b.errors_rps.total()).sum();
    err / (ok + err).max(1e-9)
}

const RETRY_TWIN: &str = "
services:
  front:
    concurrency: {workers: 1000}
    endpoints:
      get:
        service_time: {dist: constant, value: 1ms}
        calls: [{service: back, retries: {max: 3, backoff: 0}}]
  back:
    concurrency: {workers: 1000}
    endpoints: {op: {service_time: {dist: constant, value: 1ms}}}
workloads:
  users:
    open: {rate: 200/s}
    flow: {steps: {s: {service: front}}}
";

#[test]
fn retry_amplification_is_one_plus_retries_and_a_budget_caps_it() {
    // Every call to `back` fails (error injection from t = 0). With 3 retries and no budget
    // each call makes exactly 4 attempts; with a 10% budget (floor 1/s = 10 per 10 s window,
    // below 10% of the 2,000 calls in a window) retries are at most 10% of first attempts.
    let failing = "events: [{at: 0s, errors: {service: back, rate: 100%}}]\n";
    let ratio =
        |r: &SimReport| service(r, "back").throughput_rps / service(r, "front").throughput_rps;
    let free = run(RETRY_TWIN, failing, 300.0, 10.0, 1);
    let budget = format!(
        "{failing}resilience:\n  calls: [{{from: front, to: back, retry_budget: {{percent: 10%}}}}]\n"
    );
    let capped = run(RETRY_TWIN, &budget, 300.0, 10.0, 1);
    let (a, b) = (ratio(&free), ratio(&capped));
    eprintln!("offered load on back / incoming: no budget {a:.4}, 10% budget {b:.4}");
    // Calls in flight at the window's edges are the only slack: 1 ms each at 200/s.
    assert!((a - 4.0).abs() < 0.005, "{a}");
    assert!(b <= 1.1 + 0.005 && b > 1.05, "{b}");
    // Every request failed, at the bottom of the chain by an injected error.
    assert_eq!(free.workloads[0].error_rate, 1.0);
    let e = free.summary.errors;
    assert!(
        e.failed > 0.0 && e.timeout == 0.0 && e.rejected == 0.0,
        "{e:?}"
    );
}

const META_TWIN: &str = "
services:
  front:
    concurrency: {workers: 2000}
    endpoints:
      get:
        service_time: {dist: constant, value: 0}
        calls: [{service: db, timeout: 100ms, retries: {max: 3, backoff: 0}}]
  db:
    concurrency: {workers: 10}
    endpoints: {q: {service_time: {dist: exponential, mean: 10ms}}}
workloads:
  users:
    open: {rate: 700/s}
    flow: {steps: {s: {service: front}}}
";

#[test]
fn metastable_failure_persists_unless_retries_are_budgeted_or_load_is_shed() {
    // db: 10 workers × 10 ms = 1,000/s; offered 700/s (ρ = 0.7), stable: queueing delay is far
    // below the 100 ms timeout. A 5 s spike (db 10× slower, 100/s) builds a backlog of ~3,000
    // attempts whose waits exceed the timeout. Then every attempt times out and is retried up
    // to 3 times, while the db still does the work of each: offered load 4 × 700 = 2,800/s
    // > 1,000/s, so the backlog keeps growing after the spike: a metastable failure.
    // With a 10% retry budget the offered load is at most 1.1 × 700 = 770/s < 1,000/s: the
    // backlog drains (in ~3,000/230 ≈ 13 s) and the system recovers. Shedding load at 50
    // queued visits (≤ 50 ms of queueing) makes attempts either fast or rejected at once.
    let spike = "events: [{at: 30s, for: 5s, slow: {service: db, factor: 10}}]\n";
    let calm = run(META_TWIN, "{}", 120.0, 0.0, 1);
    let stuck = run(META_TWIN, spike, 120.0, 0.0, 1);
    let budget = run(
        META_TWIN,
        &format!(
            "{spike}resilience:\n  calls: [{{from: front, to: db, retry_budget: {{percent: 10%}}}}]\n"
        ),
        120.0,
        0.0,
        1,
    );
    let shed = run(
        META_TWIN,
        &format!("{spike}resilience:\n  load_shedding: {{db: {{max_queue: 50}}}}\n"),
        120.0,
        0.0,
        1,
    );
    let late = |r: &SimReport| error_share(&between(r, 90.0, 120.0));
    let db = |r: &SimReport, from: f64| {
        let k = index(r, "db");
        let bs = between(r, from, 120.0);
        bs.iter().map(|b| b.services[k].visits_rps).sum::<f64>() / bs.len() as f64
    };
    eprintln!(
        "errors in the last 30 s: calm {:.3}, spike {:.3}, spike + budget {:.3}, spike + shedding {:.3}",
        late(&calm),
        late(&stuck),
        late(&budget),
        late(&shed)
    );
    assert!(late(&calm) < 0.001, "stable without the spike");
    assert!(error_share(&between(&stuck, 0.0, 30.0)) < 0.001);
    // Stuck: nearly every request fails long after the spike ended, and the db runs flat out
    // (its ~1,000 visits/s are mostly abandoned attempts).
    assert!(late(&stuck) > 0.9, "{}", late(&stuck));
    assert!(db(&stuck, 90.0) > 950.0, "{}", db(&stuck, 90.0));
    // Recovered.
    assert!(late(&budget) < 0.01, "{}", late(&budget));
    assert!(late(&shed) < 0.01, "{}", late(&shed));
}

const BREAKER_TWIN: &str = "
services:
  front:
    concurrency: {workers: 100}
    endpoints:
      get:
        service_time: {dist: constant, value: 0}
        calls:
          - service: back
            circuit_breaker: {error_rate: 50%, window: 10s, min_calls: 20, open_for: 5s, half_open_probes: 3}
  back:
    concurrency: {workers: 100}
    endpoints: {op: {service_time: {dist: constant, value: 1ms}}}
workloads:
  users:
    open: {rate: 100/s}
    flow: {steps: {s: {service: front}}}
";

#[test]
fn circuit_breaker_opens_within_its_window_and_closes_after() {
    // back fails every call from 60 s to 90 s. Over the 10 s sliding window the front sees
    // ~1,000 calls; failures reach half of them after 5 s: the breaker opens at about 65 s
    // (slices of 1 s: 64-66 s), within its window. While open it short-circuits; half-open
    // probes keep failing until 90 s; the first probes after 90 s succeed, so it closes by
    // 90 + open_for (5 s) + a bucket.
    let s = "events: [{at: 60s, for: 30s, errors: {service: back, rate: 100%}}]\n";
    let r = run(BREAKER_TWIN, s, 120.0, 0.0, 1);
    let front = index(&r, "front");
    let open = |b: &&Bucket| b.services[front].breakers_open > 0.5;
    let first_open = r.timeline.iter().find(open).map(|b| b.t).unwrap();
    let last_open = r.timeline.iter().rev().find(open).map(|b| b.t).unwrap();
    eprintln!("breaker open from the bucket at {first_open} s to the one at {last_open} s");
    assert!((63.0..=66.0).contains(&first_open), "{first_open}");
    assert!(between(&r, 67.0, 90.0).iter().all(open));
    assert!((89.0..=96.0).contains(&last_open), "{last_open}");
    assert!(r.summary.short_circuits > 1_500, "{:?}", r.summary);
    assert!(r.summary.errors.breaker_open > 1_500.0);
}

const KILL_TWIN: &str = "
services:
  api:
    replicas: 3
    concurrency: {workers: 10}
    endpoints: {get: {service_time: {dist: exponential, mean: 100ms}}}
workloads:
  users:
    open: {rate: 240/s}
    flow: {steps: {s: {service: api}}}
";

#[test]
fn losing_one_of_three_replicas_at_80_percent_overloads_the_rest_until_autoscaled() {
    // 3 × 10 workers × 10/s = 300/s for 240/s: ρ = 0.8. Killing api-0 at 100 s leaves 200/s
    // once health checks eject it (10 s): utilization would be 240/200 = 120%, so the two
    // survivors run at 100% and a backlog grows at 40/s. Fluid FIFO model: a request
    // finishing at t > 110 waited W(t) = (t − 110)/6 (it arrived at a with backlog
    // 40(a − 110) ahead, served at 200/s), e.g. 48 s at 400 s: without bound.
    let kill = "events: [{at: 100s, kill: {instance: api/api-0}}]\n";
    let r = run(KILL_TWIN, kill, 400.0, 0.0, 1);
    let api = index(&r, "api");
    let busy = between(&r, 150.0, 400.0);
    let util = busy
        .iter()
        .map(|b| b.services[api].utilization)
        .sum::<f64>()
        / busy.len() as f64;
    let replicas = busy.iter().map(|b| b.services[api].replicas).sum::<f64>() / busy.len() as f64;
    let before = between(&r, 20.0, 100.0);
    let util0 = before
        .iter()
        .map(|b| b.services[api].utilization)
        .sum::<f64>()
        / 80.0;
    eprintln!("utilization before {util0:.3}, after {util:.3} on {replicas:.2} replicas");
    assert!((util0 - 0.8).abs() < 0.03, "{util0}");
    assert!(
        util > 0.995 && (replicas - 2.0).abs() < 1e-9,
        "{util} {replicas}"
    );
    for t in [250.0, 330.0, 390.0] {
        let b = between(&r, t, t + 1.0)[0];
        let fluid = (t + 0.5 - 110.0) / 6.0;
        eprintln!("t = {t}: p50 {:.1} s, fluid {fluid:.1} s", b.p50_ms / 1e3);
        assert!(
            (b.p50_ms / 1e3 / fluid - 1.0).abs() < 0.15,
            "{t}: {}",
            b.p50_ms
        );
    }

    // With an autoscaler the dead pod is replaced once noticed (10 s) and the HPA adds pods
    // while utilization is above its target: recovery takes at most detection + sync period
    // (15 s) + start-up (30 s) + draining the backlog of 40/s × 55 s = 2,200 at the spare
    // 60/s of three pods (37 s): by 100 + 92 s. Afterwards the p99 is back to the baseline's.
    let hpa = format!(
        "{kill}autoscaling:\n  api: {{min: 3, max: 6, target_utilization: 80%, startup: 30s}}\n"
    );
    let r = run(KILL_TWIN, &hpa, 400.0, 0.0, 1);
    let p99 = |bs: Vec<&Bucket>| bs.iter().map(|b| b.p99_ms).fold(0.0, f64::max);
    let base = p99(between(&r, 20.0, 100.0));
    let recovered = p99(between(&r, 200.0, 400.0));
    let worst = p99(between(&r, 100.0, 200.0));
    eprintln!("p99 baseline {base:.0} ms, worst {worst:.0} ms, after 200 s {recovered:.0} ms");
    assert!(worst > 5.0 * base, "the kill hurt: {worst} vs {base}");
    assert!(recovered < 1.5 * base, "{recovered} vs {base}");
    assert!(
        r.decisions.iter().any(|d| d.kind == "autoscale"),
        "{:?}",
        r.decisions
    );
}

const ROLL_TWIN: &str = "
services:
  api:
    replicas: 3
    concurrency: {workers: 10}
    endpoints: {get: {service_time: {dist: exponential, mean: 100ms}}}
workloads:
  users:
    open: {rate: 225/s}
    flow: {steps: {s: {service: api}}}
slos:
  api-p99: {workload: users, latency: {percentile: 99, threshold: 1s}}
";

#[test]
fn rolling_update_with_max_unavailable_breaks_p99_but_surge_does_not() {
    // 3 pods of 100/s at 225/s (75%). maxUnavailable = 1, maxSurge = 0 runs on two pods
    // (200/s < 225/s) for three steps of start-up + readiness (20 s + 10 s): a backlog of
    // 25/s × 90 s = 2,250 requests, up to 11 s of waiting, for well over 1% of the 600 s
    // window: p99 far above 1 s. maxSurge = 1, maxUnavailable = 0 never has fewer than three
    // ready pods: the p99 stays that of the undisturbed service.
    let deploy = |strategy: &str| {
        format!(
            "events:\n  - at: 200s\n    deploy: {{service: api, startup: 20s, readiness_delay: 10s, rolling: {strategy}}}\n"
        )
    };
    let calm = run(ROLL_TWIN, "{}", 600.0, 60.0, 1);
    let unavailable = run(
        ROLL_TWIN,
        &deploy("{max_surge: 0, max_unavailable: 1}"),
        600.0,
        60.0,
        1,
    );
    let surge = run(
        ROLL_TWIN,
        &deploy("{max_surge: 1, max_unavailable: 0}"),
        600.0,
        60.0,
        1,
    );
    let v = |r: &SimReport| r.slos[0].clone();
    eprintln!(
        "p99: calm {:?} ms, maxUnavailable=1 {:?} ms, maxSurge=1 {:?} ms",
        v(&calm).achieved,
        v(&unavailable).achieved,
        v(&surge).achieved
    );
    assert!(v(&calm).met);
    assert!(!v(&unavailable).met);
    assert!(v(&unavailable).achieved.unwrap() > 3_000.0);
    assert!(
        v(&unavailable)
            .first_breach_s
            .is_some_and(|t| (200.0..260.0).contains(&t))
    );
    assert!(v(&surge).met, "{:?}", v(&surge));
    assert!(v(&surge).achieved.unwrap() < 1.1 * v(&calm).achieved.unwrap());
    // Both rollouts finished: the timeline ends on three new pods.
    for r in [&unavailable, &surge] {
        assert!(
            r.decisions
                .iter()
                .any(|d| d.kind == "rollout" && d.outcome == "complete")
        );
        assert!((r.timeline.last().unwrap().services[0].replicas - 3.0).abs() < 1e-9);
    }
}

const CANARY_TWIN: &str = "
services:
  api:
    replicas: 4
    concurrency: {workers: 50}
    endpoints: {get: {service_time: {dist: lognormal, mean: 50ms, p99: 200ms}}}
workloads:
  users:
    open: {rate: 200/s}
    flow: {steps: {s: {service: api}}}
";

#[test]
fn canary_analysis_rolls_back_a_slower_version_and_promotes_an_equal_one() {
    // One canary pod beside four stable ones, 20% of traffic: the same load per pod, and 50
    // workers so nobody queues: response time is the service time, times the version's
    // latency factor. 30% slower shifts every quantile by 30%, far beyond the 10% tolerance
    // and significant with ~2,400 canary visits in the minute analysed; an equal version
    // differs only by noise.
    let canary = |latency: f64| {
        format!(
            "events:\n  - at: 60s\n    deploy: {{service: api, version: {{latency: {latency}}}, canary: {{weight: 20%, analysis: {{after: 60s}}}}}}\n"
        )
    };
    let verdict = |r: &SimReport| {
        r.decisions
            .iter()
            .find(|d| d.kind == "canary")
            .map(|d| (d.outcome.clone(), d.detail.clone()))
            .unwrap()
    };
    let slow = run(CANARY_TWIN, &canary(1.3), 300.0, 0.0, 1);
    let same = run(CANARY_TWIN, &canary(1.0), 300.0, 0.0, 1);
    eprintln!("slower: {:?}\nequal: {:?}", verdict(&slow), verdict(&same));
    assert_eq!(verdict(&slow).0, "rollback");
    assert_eq!(verdict(&same).0, "promote");
    // After a rollback the service is as fast as before; after promotion of an equal version
    // too. The four stable pods serve alone again.
    let api = index(&slow, "api");
    assert!((slow.timeline.last().unwrap().services[api].replicas - 4.0).abs() < 1e-9);
}

#[test]
fn timeline_buckets_add_up_to_the_summary() {
    // A plain twin through the scenario path: the buckets' requests add up to the window's,
    // and utilization per bucket averages to the report's.
    let r = run(KILL_TWIN, "bucket: 2s\n", 100.0, 0.0, 2);
    assert_eq!(r.timeline.len(), 50);
    let completed: f64 = r.timeline.iter().map(|b| b.throughput_rps * 2.0).sum();
    assert!(
        (completed - r.workloads[0].completed).abs() < 1e-6,
        "{completed}"
    );
    let util: f64 = r
        .timeline
        .iter()
        .map(|b| b.services[0].utilization)
        .sum::<f64>()
        / 50.0;
    assert!((util - r.services[0].utilization).abs() < 1e-9, "{util}");
    let arrivals: f64 = r.timeline.iter().map(|b| b.arrivals_rps).sum::<f64>() / 50.0;
    assert!((arrivals - 240.0).abs() < 240.0 * 0.03, "{arrivals}");
}

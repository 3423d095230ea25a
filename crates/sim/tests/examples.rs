//! The twins in `examples/` compiled from YAML and simulated: the queueing examples must give
//! the answers their comments derive by hand (the same published numbers as `validation.rs`,
//! here reached through the model and `compile`), and the shop must compile and run.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::path::PathBuf;

use doppel_sim::bench::tandem_net;
use doppel_sim::compile::compile;
use doppel_sim::{SimConfig, SimNet, SimReport, simulate};

const T9: f64 = 2.262_157;

fn twin(rel: &str) -> doppel_model::Twin {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let loaded = doppel_model::load(&[root.join(rel)], |p| std::fs::read(p));
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == doppel_model::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{rel}: {errors:?}");
    loaded.twin
}

/// Runs the example with 10 replications and checks workload 0's mean latency (seconds)
/// against `expected` by the 4-SE rule of `validation.rs`.
fn check_latency(rel: &str, duration: f64, warmup: f64, expected: f64, max_rel: f64) -> SimReport {
    let net = compile(&twin(rel)).unwrap();
    let cfg = SimConfig {
        duration,
        warmup,
        seed: 1,
        replications: 10,
    };
    let r = simulate(&net, &cfg).unwrap();
    let l = &r.workloads[0].latency_ms;
    let [lo, hi] = l.mean_ci95.unwrap();
    let (mean, se) = (l.mean / 1e3, (hi - lo) / 2.0 / T9 / 1e3);
    eprintln!("{rel}: {mean:.4} ± {se:.4} (SE) vs {expected}");
    assert!(4.0 * se <= max_rel * expected, "{rel}: too noisy (SE {se})");
    assert!(
        (mean - expected).abs() <= 4.0 * se,
        "{rel}: {mean} vs {expected}"
    );
    r
}

#[test]
fn queueing_examples_give_their_published_answers() {
    check_latency("examples/queueing/mmc4.yaml", 4_000.0, 200.0, 0.2117, 0.02);
    check_latency(
        "examples/queueing/jackson.yaml",
        10_000.0,
        200.0,
        4.0931,
        0.04,
    );
    let r = check_latency(
        "examples/queueing/closed.yaml",
        8_000.0,
        100.0,
        0.79259,
        0.03,
    );
    let x = r.workloads[0].throughput_rps;
    assert!((x - 1.67355).abs() < 0.02 * 1.67355, "X = {x}");
}

/// The engine-relevant content of a network, names left out.
fn shape(net: &SimNet) -> String {
    let inst: Vec<_> = net
        .instances
        .iter()
        .map(|i| (i.service, i.workers, i.queue_limit))
        .collect();
    let eps: Vec<_> = net
        .endpoints
        .iter()
        .map(|e| (e.service, &e.service_time, &e.steps))
        .collect();
    let wls: Vec<_> = net.workloads.iter().map(|w| (&w.load, &w.flow)).collect();
    format!("{inst:?} {eps:?} {wls:?}")
}

#[test]
fn long_running_examples_compile_to_the_validated_networks() {
    // These are simulated at length in validation.rs from hand-built networks; here it is
    // enough that the YAML compiles to exactly those networks.
    let cases = [
        ("examples/queueing/mm1.yaml", tandem_net(1, 1, 0.8, 1.0)),
        ("examples/queueing/mmc.yaml", tandem_net(1, 2, 9.0, 5.0)),
        ("examples/queueing/tandem.yaml", tandem_net(10, 2, 0.8, 0.5)),
    ];
    for (rel, expected) in cases {
        let net = compile(&twin(rel)).unwrap();
        assert_eq!(shape(&net), shape(&expected), "{rel}");
    }
}

#[test]
fn shop_compiles_and_runs() {
    let net = compile(&twin("examples/shop.yaml")).unwrap();
    assert!(net.services.len() >= 10 && !net.workloads.is_empty());
    // Placement as the shop's comment says: frontend-0 on web-a-1, frontend-1 on web-b-1.
    let host_of = |inst: &str| {
        let i = net.instances.iter().find(|i| i.name == inst).unwrap();
        net.hosts[i.host.unwrap() as usize].name.as_str()
    };
    assert_eq!(
        (host_of("frontend-0"), host_of("frontend-1")),
        ("web-a-1", "web-b-1")
    );
    let cfg = SimConfig {
        duration: 120.0,
        warmup: 20.0,
        seed: 1,
        replications: 2,
    };
    let r = simulate(&net, &cfg).unwrap();
    let browse = r.workloads.iter().find(|w| w.name == "browse").unwrap();
    // 80 sessions/s arrive; sessions last tens of seconds (8 s pauses), so the completion rate
    // in a 100 s window is close to but below 80/s.
    assert!(
        browse.throughput_rps > 60.0 && browse.throughput_rps < 90.0,
        "{browse:?}"
    );
    // Errors come from the recommendation calls' 100-150 ms timeouts against a log-normal
    // service time with a long tail: a failed call fails its caller (the model has no fallback).
    assert!(browse.error_rate < 0.1, "{browse:?}");
    // The capacity story in shop.yaml's comments: the busiest worker pool is recommendations
    // at 16.5% and the busiest CPUs (web and ml VMs) at 32%; queueing and tails, which the
    // hand calculation leaves out, allow a few points more.
    let util = |name: &str| {
        r.services
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .utilization
    };
    assert!(
        (util("recommendations") - 0.165).abs() < 0.03,
        "{}",
        util("recommendations")
    );
    for s in &r.services {
        assert!(s.utilization < 0.2, "{}: {}", s.name, s.utilization);
    }
    for h in &r.hosts {
        let expected = if h.name.starts_with("web") || h.name.starts_with("ml") {
            0.32
        } else {
            0.2
        };
        assert!(
            h.cpu_utilization < expected + 0.04,
            "{}: {}",
            h.name,
            h.cpu_utilization
        );
    }
}

#[test]
fn shop_estimate_matches_hand_numbers_and_simulation() {
    let net = compile(&twin("examples/shop.yaml")).unwrap();
    let est = doppel_sim::analytic::estimate(&net).unwrap();
    let util = |name: &str| {
        est.services
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .utilization
    };
    let cpu = |name: &str| {
        est.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap()
            .cpu_utilization
    };
    // shop.yaml's comments work these out by hand: recommendations' workers 16.5% busy, web
    // and ml VMs' CPUs 32%, db-b-1's 18%.
    assert!(
        (util("recommendations") - 0.165).abs() < 0.005,
        "{}",
        util("recommendations")
    );
    for h in ["web-a-1", "web-b-1", "ml-a-1", "ml-b-1"] {
        assert!((cpu(h) - 0.32).abs() < 0.005, "{h}: {}", cpu(h));
    }
    assert!((cpu("db-b-1") - 0.18).abs() < 0.005, "{}", cpu("db-b-1"));

    // The simulation agrees on every sizeable load within 15% (the estimate treats service
    // times as exponential and a parallel step as its slowest mean; 300 s of Poisson traffic
    // leaves a few percent of noise; sessions that pause 8-20 s between pages lower the
    // simulated rates slightly at the start of the window).
    let cfg = SimConfig {
        duration: 300.0,
        warmup: 60.0,
        seed: 1,
        replications: 2,
    };
    let r = simulate(&net, &cfg).unwrap();
    for (s, e) in r.services.iter().zip(&est.services) {
        eprintln!(
            "{}: utilization sim {:.4} est {:.4}",
            s.name, s.utilization, e.utilization
        );
        if e.utilization >= 0.05 {
            assert!(
                (s.utilization - e.utilization).abs() <= 0.15 * e.utilization,
                "{}",
                s.name
            );
        }
    }
    for (h, e) in r.hosts.iter().zip(&est.hosts) {
        eprintln!(
            "{}: cpu sim {:.4} est {:.4}",
            h.name, h.cpu_utilization, e.cpu_utilization
        );
        if e.cpu_utilization >= 0.05 {
            let d = (h.cpu_utilization - e.cpu_utilization).abs();
            assert!(d <= 0.15 * e.cpu_utilization, "{}", h.name);
        }
    }
    let browse = (&r.workloads[0], &est.workloads[0]);
    eprintln!(
        "browse latency: sim {:.2} ms, est {:.2} ms",
        browse.0.latency_ms.mean, browse.1.mean_latency_ms
    );
    let rel =
        (browse.0.latency_ms.mean - browse.1.mean_latency_ms).abs() / browse.1.mean_latency_ms;
    assert!(rel < 0.15, "{rel}");
}

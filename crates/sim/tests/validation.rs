//! Validation of the engine against queueing theory: M/M/1, M/M/c (Erlang C), a tandem of ten
//! M/M/2 stations, an open Jackson network with feedback, a closed network (exact MVA), M/D/1 and
//! M/G/1 (Pollaczek–Khinchine) with network latency, M/M/1/K blocking, processor sharing,
//! round-robin balancing (E2/M/1) and timeouts with retries.
//!
//! **Tolerances.** Each latency check runs R = 10 independent replications in one `simulate`
//! call and reads the 95% Student-t interval the simulator reports. Its half-width is
//! t(0.975, 9) = 2.262 standard errors, so the standard error is `SE = half / 2.262`. A check
//! passes when the analytic value lies within 4 SE of the simulated mean (a correct simulator
//! fails that with probability ≈ 0.3%; the seed is fixed, so the outcome is deterministic).
//! To make sure a check can fail, each also takes the analytic answer of the same network with
//! servers 5% faster and requires it to lie at least 8 SE from the right answer: a simulator
//! that got the service rate 5% wrong would then land more than 4 SE away and fail.
//! `detects_five_percent_service_rate_error` runs that wrong model once to show it. Utilization
//! and queue-length checks use independent seeds (one replication each) and the same rules on
//! the spread across seeds. Run with `--nocapture` to see every comparison.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

mod common;
use common::{Estimate, T9, over_seeds};

use doppel_sim::analytic::{
    ClosedNetwork, ClosedStation, OpenNetwork, OpenStation, StationKind, jackson, mm1, mmc,
    mva_exact,
};
use doppel_sim::bench::tandem_net;
use doppel_sim::{
    Dist, Endpoint, Flow, FlowStep, Instance, Load, LoadBalancing, Service, SimConfig, SimNet,
    SimReport, Workload, simulate,
};

/// The simulated mean latency (seconds) of workload 0 and its standard error, from the CI.
fn latency(report: &SimReport) -> Estimate {
    let l = &report.workloads[0].latency_ms;
    let [lo, hi] = l
        .mean_ci95
        .expect("10 replications give a confidence interval");
    Estimate {
        mean: l.mean / 1e3,
        se: (hi - lo) / 2.0 / T9 / 1e3,
    }
}

/// Asserts `theory` is within 4 SE of the estimate, and that `wrong` (the answer with servers 5%
/// faster) is at least 8 SE from `theory`, so that this check would catch that error.
fn check(what: &str, est: &Estimate, theory: f64, wrong: f64) {
    let err = (est.mean - theory).abs();
    let power = (wrong - theory).abs() / est.se;
    eprintln!(
        "{what}: simulated {:.5} ± {:.5} (SE), theory {theory:.5}, error {:.2} SE; \
         5%-faster servers give {wrong:.5}, {power:.1} SE away",
        est.mean,
        est.se,
        err / est.se,
    );
    assert!(
        power >= 8.0,
        "{what}: too noisy to tell a 5% service-rate error (SE {})",
        est.se
    );
    assert!(
        err <= 4.0 * est.se,
        "{what}: simulated {} vs theory {theory}",
        est.mean
    );
}

fn single_station(servers: u32, lambda: f64, service: Dist) -> SimNet {
    let mut net = tandem_net(1, servers, lambda, 1.0);
    net.endpoints[0].service_time = service;
    net
}

fn cfg(duration: f64, warmup: f64) -> SimConfig {
    SimConfig {
        duration,
        warmup,
        seed: 1,
        replications: 10,
    }
}

#[test]
fn mm1_rho_08() {
    // λ = 0.8, μ = 1: W = 5, L = 4, utilization 0.8.
    let theory = mm1(0.8, 1.0).unwrap();
    let net = single_station(1, 0.8, Dist::exp(1.0));
    let fast = mm1(0.8, 1.05).unwrap();
    let r = simulate(&net, &cfg(100_000.0, 1_000.0)).unwrap();
    check("M/M/1 W", &latency(&r), theory.w, fast.w);
    let c = SimConfig {
        duration: 20_000.0,
        warmup: 1_000.0,
        seed: 1,
        replications: 1,
    };
    let u = over_seeds(&net, c, 8, |r| r.services[0].utilization);
    check("M/M/1 utilization", &u, 0.8, fast.rho);
    // L is the time average over the same runs as W; by Little's law it equals λ̂·Ŵ up to the
    // stays cut by the window's edges, so its standard error is λ·SE(W).
    let w = latency(&r);
    let l = Estimate {
        mean: r.services[0].mean_in_system,
        se: 0.8 * w.se,
    };
    check("M/M/1 L", &l, theory.l, fast.l);
}

#[test]
fn mmc_erlang_c_published_cases() {
    // λ = 9, μ = 5: c = 2 gives Lq = 7.674, R = 1.053; c = 4 gives Lq = 0.105, R = 0.212.
    for (c, duration) in [(2, 12_000.0), (4, 10_000.0)] {
        let theory = mmc(9.0, 5.0, c).unwrap();
        let fast = mmc(9.0, 5.25, c).unwrap();
        let net = single_station(c, 9.0, Dist::exp(0.2));
        let r = simulate(&net, &cfg(duration, 200.0)).unwrap();
        check(&format!("M/M/{c} R"), &latency(&r), theory.w, fast.w);
        // Lq = L - λ/μ with L the time-average number in the station. By Little's law the
        // time average equals λ̂·Ŵ up to the stays cut by the window's edges, so its standard
        // error is λ·SE(R): hold it to the same 4-SE rule.
        let svc = &r.services[0];
        let est = latency(&r);
        let lq = Estimate {
            mean: svc.mean_in_system - 9.0 / 5.0,
            se: 9.0 * est.se,
        };
        check(&format!("M/M/{c} Lq"), &lq, theory.lq, fast.lq);
        let little = svc.mean_in_system / (svc.throughput_rps * est.mean);
        assert!((little - 1.0).abs() < 0.002, "Little's law off by {little}");
    }
}

#[test]
fn tandem_of_ten_mm2() {
    // Published: 55.56 time units in the system (each station M/M/2, ρ = 0.8, W = 5.556).
    let theory = 10.0 * mmc(0.8, 0.5, 2).unwrap().w;
    assert!((theory - 55.556).abs() < 1e-3);
    let net = tandem_net(10, 2, 0.8, 0.5);
    // Starting empty, each station needs about 1/(cμ(1-√ρ)²) ≈ 90 s to forget it and the ten
    // relax one after the other: 3,000 s of warm-up.
    let r = simulate(&net, &cfg(13_000.0, 3_000.0)).unwrap();
    let fast = 10.0 * mmc(0.8, 0.525, 2).unwrap().w;
    check("tandem W", &latency(&r), theory, fast);
    for s in &r.services {
        assert!(
            (s.utilization - 0.8).abs() < 0.02,
            "{}: {}",
            s.name,
            s.utilization
        );
    }
}

/// Two single-server stations, 0 → 1, then back to 0 with probability 0.3 (else leave).
fn feedback_net(mu0: f64, mu1: f64) -> SimNet {
    let mut net = SimNet::default();
    for (k, mu) in [mu0, mu1].into_iter().enumerate() {
        net.services.push(Service {
            name: format!("s{k}"),
            load_balancing: LoadBalancing::RoundRobin,
        });
        net.instances.push(Instance {
            name: format!("s{k}-0"),
            service: k as u32,
            host: None,
            zone: None,
            workers: 1,
            queue_limit: None,
        });
        net.endpoints.push(Endpoint {
            name: "op".into(),
            service: k as u32,
            service_time: Dist::exp(1.0 / mu),
            steps: Vec::new(),
        });
    }
    let flow = Flow {
        start: 0,
        steps: vec![
            FlowStep {
                endpoint: 0,
                next: vec![(1, 1.0)],
                think_time: None,
            },
            FlowStep {
                endpoint: 1,
                next: vec![(0, 0.3)],
                think_time: None,
            },
        ],
    };
    net.workloads.push(Workload {
        name: "jobs".into(),
        load: Load::poisson(1.0),
        flow,
    });
    net
}

#[test]
fn open_jackson_network_with_feedback() {
    let theory = jackson(&OpenNetwork {
        stations: vec![
            OpenStation {
                mu: 3.0,
                servers: 1,
            },
            OpenStation {
                mu: 4.0,
                servers: 1,
            },
        ],
        arrivals: vec![1.0, 0.0],
        routing: vec![vec![0.0, 1.0], vec![0.3, 0.0]],
    })
    .unwrap();
    let fast = jackson(&OpenNetwork {
        stations: vec![
            OpenStation {
                mu: 3.15,
                servers: 1,
            },
            OpenStation {
                mu: 4.2,
                servers: 1,
            },
        ],
        arrivals: vec![1.0, 0.0],
        routing: vec![vec![0.0, 1.0], vec![0.3, 0.0]],
    })
    .unwrap();
    let net = feedback_net(3.0, 4.0);
    let r = simulate(&net, &cfg(10_000.0, 100.0)).unwrap();
    // The sojourn in the network is W = L/γ (Little), whatever the number of loops.
    check("Jackson W", &latency(&r), theory.w, fast.w);
    for (k, s) in r.services.iter().enumerate() {
        let lam = theory.lambda[k];
        assert!(
            (s.throughput_rps - lam).abs() < 0.02 * lam,
            "{}: {}",
            s.name,
            s.throughput_rps
        );
        let rho = theory.stations[k].rho;
        assert!(
            (s.utilization - rho).abs() < 0.02,
            "{}: {} vs {rho}",
            s.name,
            s.utilization
        );
    }
}

#[test]
fn closed_network_matches_exact_mva() {
    // 6 users think Exp(2 s), then visit A (1 server, S = 0.3 s) and B (2 servers, S = 0.5 s).
    let mut net = tandem_net(2, 1, 1.0, 1.0);
    net.instances[1].workers = 2;
    net.endpoints[0].service_time = Dist::exp(0.3);
    net.endpoints[1].service_time = Dist::exp(0.5);
    net.workloads[0].load = Load::Closed {
        users: 6,
        think_time: Dist::exp(2.0),
    };
    let theory = mva_exact(&ClosedNetwork {
        stations: vec![
            ClosedStation {
                kind: StationKind::Queue { servers: 1 },
                demand: 0.3,
            },
            ClosedStation {
                kind: StationKind::Queue { servers: 2 },
                demand: 0.5,
            },
        ],
        think_time: 2.0,
        population: 6,
    })
    .unwrap();
    let fast = mva_exact(&ClosedNetwork {
        stations: vec![
            ClosedStation {
                kind: StationKind::Queue { servers: 1 },
                demand: 0.3 / 1.05,
            },
            ClosedStation {
                kind: StationKind::Queue { servers: 2 },
                demand: 0.5 / 1.05,
            },
        ],
        think_time: 2.0,
        population: 6,
    })
    .unwrap();
    let r = simulate(&net, &cfg(10_000.0, 100.0)).unwrap();
    check(
        "closed R",
        &latency(&r),
        theory.response_time,
        fast.response_time,
    );
    let x = r.workloads[0].throughput_rps;
    let rel = (x - theory.throughput).abs() / theory.throughput;
    eprintln!("closed X: simulated {x:.4}, MVA {:.4}", theory.throughput);
    // X = N/(Z + R): its relative error is at most R/(Z+R) times R's, so below R's tolerance.
    assert!(rel < 0.03, "X {x} vs {}", theory.throughput);
}

#[test]
fn detects_five_percent_service_rate_error() {
    // The M/M/1 run of `mm1_rho_08` with servers 5% faster fails the 4-SE rule against the
    // true model's answer, as the checks' power requirement promises.
    let net = single_station(1, 0.8, Dist::exp(1.0 / 1.05));
    let est = latency(&simulate(&net, &cfg(100_000.0, 1_000.0)).unwrap());
    let w = mm1(0.8, 1.0).unwrap().w;
    let off = (est.mean - w).abs() / est.se;
    eprintln!(
        "M/M/1 with μ = 1.05: {:.3}, {off:.1} SE from W = {w}",
        est.mean
    );
    assert!(off > 4.0);
}

//! Behaviour of the engine's features, each against an independent expectation: network latency
//! and constant/log-normal service (Pollaczek–Khinchine), queue limits (M/M/1/K blocking),
//! processor sharing, load-balancing policies (random splitting, E2/M/1 for round robin, JSQ
//! bounds), sequential/parallel/probabilistic calls, timeouts with retries (downstream work keeps
//! running), circuit breakers and retry budgets (exact counts on deterministic timelines), rate
//! schedules, closed users and reproducibility across thread counts.
//!
//! Statistical checks use the same rule as `validation.rs`: the expectation must lie within 4
//! standard errors of the estimate, the standard error coming from the simulator's own 95%
//! interval over 10 replications (half-width / 2.262) or from the spread over independent seeds.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

mod common;
use common::{Estimate, T9, over_seeds};

use doppel_sim::analytic::{mm1, mmc};
use doppel_sim::bench::tandem_net;
use doppel_sim::{
    Call, Dist, Endpoint, Flow, FlowStep, Host, Instance, Jitter, Load, LoadBalancing, Retry,
    RetryBudget, Service, SimConfig, SimNet, SimReport, Step, Workload, simulate,
};

fn latency(report: &SimReport, w: usize) -> Estimate {
    let l = &report.workloads[w].latency_ms;
    let [lo, hi] = l
        .mean_ci95
        .expect("replications give a confidence interval");
    Estimate {
        mean: l.mean / 1e3,
        se: (hi - lo) / 2.0 / T9 / 1e3,
    }
}

fn check(what: &str, est: &Estimate, theory: f64, max_rel: f64) {
    let err = (est.mean - theory).abs();
    eprintln!(
        "{what}: simulated {:.5} ± {:.5} (SE), expected {theory:.5}, error {:.2} SE",
        est.mean,
        est.se,
        err / est.se.max(1e-300)
    );
    assert!(
        4.0 * est.se <= max_rel * theory,
        "{what}: too noisy to be a test (SE {})",
        est.se
    );
    assert!(
        err <= 4.0 * est.se,
        "{what}: simulated {} vs expected {theory}",
        est.mean
    );
}

fn cfg(duration: f64, warmup: f64) -> SimConfig {
    SimConfig {
        duration,
        warmup,
        seed: 1,
        replications: 10,
    }
}

/// A builder for small hand-made networks: each service has one endpoint `op`.
struct NetBuilder {
    net: SimNet,
}

impl NetBuilder {
    fn new() -> Self {
        NetBuilder {
            net: SimNet::default(),
        }
    }

    /// Adds a service with `replicas` instances of `workers` workers; returns its endpoint.
    fn service(&mut self, name: &str, replicas: u32, workers: u32, service_time: Dist) -> u32 {
        let s = self.net.services.len() as u32;
        self.net.services.push(Service {
            name: name.into(),
            load_balancing: LoadBalancing::RoundRobin,
        });
        for k in 0..replicas {
            self.net.instances.push(Instance {
                name: format!("{name}-{k}"),
                service: s,
                host: None,
                zone: None,
                workers,
                queue_limit: None,
            });
        }
        self.net.endpoints.push(Endpoint {
            name: "op".into(),
            service: s,
            service_time,
            steps: Vec::new(),
        });
        (self.net.endpoints.len() - 1) as u32
    }

    fn open(&mut self, rate: f64, entry: u32) {
        self.net.workloads.push(Workload {
            name: format!("w{}", self.net.workloads.len()),
            load: Load::poisson(rate),
            flow: Flow::chain(&[entry]),
        });
    }
}

#[test]
fn md1_with_zone_latency_matches_pollaczek_khinchine() {
    // Client → A (no work, plenty of workers, zone 0) → B (constant 0.1 s, 1 worker, zone 1),
    // one-way latency 10 ms between zones. B is M/D/1 with λ = 5, ρ = 0.5:
    // Wq = λS²/(2(1-ρ)) = 0.05, so the request takes 0.01 + 0.05 + 0.1 + 0.01 = 0.17 s.
    let mut b = NetBuilder::new();
    let a = b.service("a", 1, 1000, Dist::Constant(0.0));
    let callee = b.service("b", 1, 1, Dist::Constant(0.1));
    b.net.endpoints[a as usize].steps = vec![Step {
        calls: vec![Call::to(callee)],
    }];
    b.net.zones = vec!["z0".into(), "z1".into()];
    b.net.latency = vec![0.0, 0.01, 0.01, 0.0];
    b.net.instances[0].zone = Some(0);
    b.net.instances[1].zone = Some(1);
    b.open(5.0, a);
    let r = simulate(&b.net, &cfg(4_000.0, 50.0)).unwrap();
    check("M/D/1 + latency", &latency(&r, 0), 0.17, 0.02);
    // A's worker is held for the whole call: A's in-system time is the call's 0.17 s.
    let a_ep = &r.services[0].endpoints[0];
    assert!((a_ep.mean_response_ms - r.workloads[0].latency_ms.mean).abs() < 1e-9);
}

#[test]
fn mg1_lognormal_matches_pollaczek_khinchine() {
    // Log-normal service, mean 0.1 s, sigma 0.8: E[S²] = m²·e^(σ²). λ = 5, ρ = 0.5:
    // W = S + λE[S²]/(2(1-ρ)).
    let sigma: f64 = 0.8;
    let m: f64 = 0.1;
    let dist = Dist::LogNormal {
        mu: m.ln() - sigma * sigma / 2.0,
        sigma,
    };
    let es2 = m * m * (sigma * sigma).exp();
    let w = m + 5.0 * es2 / (2.0 * 0.5);
    let mut b = NetBuilder::new();
    let e = b.service("s", 1, 1, dist);
    b.open(5.0, e);
    let r = simulate(&b.net, &cfg(10_000.0, 100.0)).unwrap();
    check("M/G/1 log-normal", &latency(&r, 0), w, 0.05);
}

#[test]
fn queue_limit_blocks_like_mm1k() {
    // λ = μ = 1, one worker and 3 waiting places (K = 4): P(block) = 1/(K+1) = 0.2 and the
    // accepted throughput is 0.8.
    let mut b = NetBuilder::new();
    let e = b.service("s", 1, 1, Dist::exp(1.0));
    b.net.instances[0].queue_limit = Some(3);
    b.open(1.0, e);
    let c = SimConfig {
        duration: 5_000.0,
        warmup: 50.0,
        seed: 1,
        replications: 1,
    };
    let err = over_seeds(&b.net, c, 8, |r| r.workloads[0].error_rate);
    check("M/M/1/4 blocking", &err, 0.2, 0.1);
    let x = over_seeds(&b.net, c, 8, |r| r.workloads[0].throughput_rps);
    check("M/M/1/4 throughput", &x, 0.8, 0.05);
    // With no waiting room at all, an arrival is lost whenever the server is busy:
    // Erlang B with one server, B = a/(1+a) = 0.5.
    b.net.instances[0].queue_limit = Some(0);
    let err = over_seeds(&b.net, c, 8, |r| r.workloads[0].error_rate);
    check("M/M/1/1 blocking", &err, 0.5, 0.05);
}

#[test]
fn processor_sharing_host_behaves_like_one_server() {
    // Two workers sharing one core: whenever anyone is in service, work is done at rate 1, so
    // the number present is the M/M/1 birth-death chain: W = 1/(μ-λ) = 5 at λ = 0.8, μ = 1.
    let mut net = tandem_net(1, 2, 0.8, 1.0);
    net.hosts.push(Host {
        name: "h".into(),
        cores: 1.0,
        zone: None,
    });
    net.instances[0].host = Some(0);
    let r = simulate(&net, &cfg(150_000.0, 1_000.0)).unwrap();
    check(
        "PS 2 workers / 1 core",
        &latency(&r, 0),
        mm1(0.8, 1.0).unwrap().w,
        0.04,
    );
    // The host's core is busy whenever the station is not empty: ρ = 0.8.
    assert!(
        (r.hosts[0].cpu_utilization - 0.8).abs() < 0.02,
        "{:?}",
        r.hosts[0]
    );
    let mut net = tandem_net(1, 1, 0.5, 1.0);
    net.hosts.push(Host {
        name: "h".into(),
        cores: 0.5,
        zone: None,
    });
    net.instances[0].host = Some(0);
    // Half a core: the single worker runs at half speed, an M/M/1 with μ = 0.5 at λ = 0.25.
    net.workloads[0].load = Load::poisson(0.25);
    let r = simulate(&net, &cfg(150_000.0, 1_000.0)).unwrap();
    check(
        "half a core",
        &latency(&r, 0),
        mm1(0.25, 0.5).unwrap().w,
        0.04,
    );
}

/// Waiting time of E2/M/1 (two-stage Erlang interarrivals, total rate `lambda`) with rate `mu`:
/// W = 1/(μ(1-σ)), σ the root in (0,1) of σ = A*(μ(1-σ)), A*(s) = (2λ/(2λ+s))².
fn e2_m1_w(lambda: f64, mu: f64) -> f64 {
    let mut sigma = 0.5;
    for _ in 0..10_000 {
        sigma = (2.0 * lambda / (2.0 * lambda + mu * (1.0 - sigma))).powi(2);
    }
    1.0 / (mu * (1.0 - sigma))
}

#[test]
fn load_balancing_policies() {
    // Two M/M/1 instances (μ = 1) behind one service, Poisson λ = 1.6 (ρ = 0.8).
    let run = |lb: LoadBalancing| {
        let mut net = tandem_net(1, 1, 1.6, 1.0);
        let mut second = net.instances[0].clone();
        second.name = "second".into();
        net.instances.push(second);
        net.services[0].load_balancing = lb;
        simulate(&net, &cfg(40_000.0, 500.0)).unwrap()
    };
    // Random splitting of a Poisson stream gives two M/M/1 queues at λ = 0.8: W = 5.
    let random = run(LoadBalancing::Random);
    check("random", &latency(&random, 0), 5.0, 0.05);
    // Round robin hands each instance every other arrival: E2/M/1 with per-instance rate 0.8.
    let rr = run(LoadBalancing::RoundRobin);
    let w_rr = e2_m1_w(0.8, 1.0);
    check("round robin (E2/M/1)", &latency(&rr, 0), w_rr, 0.05);
    for inst in &rr.services[0].instances {
        assert!((inst.throughput_rps - 0.8).abs() < 0.01, "{inst:?}");
    }
    // Join-the-shortest-queue (least outstanding; power of two choices is the same with two
    // instances) beats round robin and cannot beat one pooled M/M/2 queue.
    let pooled = mmc(1.6, 1.0, 2).unwrap().w;
    for lb in [LoadBalancing::LeastOutstanding, LoadBalancing::PowerOfTwo] {
        let est = latency(&run(lb), 0);
        eprintln!(
            "{lb:?}: {:.4} ± {:.4}; M/M/2 {pooled:.4}, E2/M/1 {w_rr:.4}",
            est.mean, est.se
        );
        assert!(
            est.mean - 4.0 * est.se > pooled,
            "{lb:?} beat the pooled queue"
        );
        assert!(
            est.mean + 4.0 * est.se < w_rr,
            "{lb:?} no better than round robin"
        );
    }
}

#[test]
fn sequential_parallel_and_probabilistic_calls() {
    // Front (no work) runs: a parallel step calling B (0.1 s) and C (0.2 s), then D (0.05 s)
    // twice in a row, then E (1 s) with probability 0.5. Every callee has plenty of workers, so
    // nothing queues: a request takes max(0.1, 0.2) + 2·0.05 = 0.3 s, plus 1 s half the time.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 10_000, Dist::Constant(0.0));
    let eb = b.service("b", 1, 1000, Dist::Constant(0.1));
    let ec = b.service("c", 1, 1000, Dist::Constant(0.2));
    let ed = b.service("d", 2, 1000, Dist::Constant(0.05));
    let ee = b.service("e", 1, 1000, Dist::Constant(1.0));
    b.net.endpoints[front as usize].steps = vec![
        Step {
            calls: vec![Call::to(eb), Call::to(ec)],
        },
        Step {
            calls: vec![Call {
                count: 2,
                ..Call::to(ed)
            }],
        },
        Step {
            calls: vec![Call {
                probability: 0.5,
                ..Call::to(ee)
            }],
        },
    ];
    b.open(20.0, front);
    let r = simulate(&b.net, &cfg(500.0, 10.0)).unwrap();
    let l = &r.workloads[0].latency_ms;
    // Exactly two latencies occur (up to float rounding and the histogram's 0.1% resolution).
    assert!(
        (l.p50 - 300.0).abs() < 0.5 || (l.p50 - 1300.0).abs() < 1.5,
        "{l:?}"
    );
    assert!((l.max - 1300.0).abs() < 1e-6, "{l:?}");
    // Mean 0.3 + 0.5·1 = 0.8; per request the sd is 0.5, so the SE is the binomial one.
    check("probabilistic call", &latency(&r, 0), 0.8, 0.05);
    // D is visited twice per request, E half the time, B and C once.
    let x = r.workloads[0].throughput_rps;
    let tput = |k: usize| r.services[k].throughput_rps / x;
    assert!((tput(1) - 1.0).abs() < 0.01 && (tput(2) - 1.0).abs() < 0.01);
    assert!((tput(3) - 2.0).abs() < 0.01, "{}", tput(3));
    assert!((tput(4) - 0.5).abs() < 0.05, "{}", tput(4));
}

#[test]
fn timeouts_free_the_caller_but_work_continues() {
    // Front calls slow (constant 1 s, many workers) with a 0.5 s timeout and 2 retries after a
    // fixed 0.1 s backoff: every attempt times out, each request fails after
    // 0.5 + 0.1 + 0.5 + 0.1 + 0.5 = 1.7 s and makes 3 attempts. The slow service still does all
    // the work: 3λ visits per second, each holding a worker for 1 s.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 1000, Dist::Constant(0.0));
    let slow = b.service("slow", 1, 1000, Dist::Constant(1.0));
    let retry = Retry {
        max: 2,
        backoff: 0.1,
        multiplier: 2.0,
        max_backoff: 0.1,
        jitter: Jitter::None,
        budget: None,
    };
    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            timeout: Some(0.5),
            retry: Some(retry),
            ..Call::to(slow)
        }],
    }];
    let lambda = 10.0;
    b.open(lambda, front);
    let c = SimConfig {
        duration: 1_000.0,
        warmup: 10.0,
        seed: 1,
        replications: 1,
    };
    let r = simulate(&b.net, &c).unwrap();
    assert_eq!(r.workloads[0].error_rate, 1.0);
    assert_eq!(r.workloads[0].throughput_rps, 0.0);
    let fr = &r.services[0];
    assert_eq!(fr.error_rate, 1.0);
    // Front holds a worker 1.7 s per request: mean_in_system = 1.7 λ = 17, and slow has
    // 3λ × 1 s = 30 requests in progress (15 if timed-out work were cancelled).
    let x = over_seeds(&b.net, c, 8, |r| r.services[0].mean_in_system);
    check("front in system", &x, 1.7 * lambda, 0.05);
    let x = over_seeds(&b.net, c, 8, |r| r.services[1].mean_in_system);
    check("slow in system", &x, 3.0 * lambda, 0.05);
    let x = over_seeds(&b.net, c, 8, |r| r.services[1].throughput_rps);
    check("slow visits/s", &x, 3.0 * lambda, 0.05);
    let s = &r.summary;
    let ratio = s.timeouts as f64 / s.retries as f64;
    assert!(
        (ratio - 1.5).abs() < 0.01,
        "3 timeouts per 2 retries, got {ratio}"
    );

    // A timeout longer than the call changes nothing: every request succeeds in 1 s.
    b.net.endpoints[front as usize].steps[0].calls[0].timeout = Some(1.5);
    let r = simulate(&b.net, &c).unwrap();
    assert_eq!(r.workloads[0].error_rate, 0.0);
    assert!((r.workloads[0].latency_ms.mean - 1000.0).abs() < 1e-6);
    assert_eq!(r.summary.timeouts, 0);
}

#[test]
fn retries_recover_from_rejections() {
    // A service with one worker and no queue rejects whenever busy. With λ = μ = 1 that is
    // half the arrivals (Erlang B). Retrying after an exponential backoff far longer than a
    // service time makes attempts nearly independent, so with 3 attempts the failure
    // probability is about 0.5³ and always far below a single attempt's.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 1000, Dist::Constant(0.0));
    let back = b.service("back", 1, 1, Dist::exp(0.2));
    b.net.instances[1].queue_limit = Some(0);
    let retry = Retry {
        max: 2,
        backoff: 5.0,
        multiplier: 2.0,
        max_backoff: 60.0,
        jitter: Jitter::Full,
        budget: None,
    };
    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            retry: Some(retry),
            ..Call::to(back)
        }],
    }];
    b.open(2.0, front);
    let c = SimConfig {
        duration: 4_000.0,
        warmup: 100.0,
        seed: 1,
        replications: 1,
    };
    let with = simulate(&b.net, &c).unwrap().workloads[0].error_rate;
    b.net.endpoints[front as usize].steps[0].calls[0].retry = None;
    let without = simulate(&b.net, &c).unwrap().workloads[0].error_rate;
    eprintln!("error rate with retries {with:.4}, without {without:.4}");
    // Without retries: Erlang B with a = λS = 0.4, one server: 0.4/1.4.
    assert!((without - 0.4 / 1.4).abs() < 0.02, "{without}");
    assert!(with < 0.5 * without, "{with} vs {without}");
}

#[test]
fn rate_schedule_and_closed_users() {
    // Rate 0 until 100 s, 4/s until 300 s, then 1/s: 800 + 700 arrivals expected by 1000 s.
    let mut b = NetBuilder::new();
    let e = b.service("s", 1, 100, Dist::Constant(0.01));
    b.net.workloads.push(Workload {
        name: "sched".into(),
        load: Load::Open {
            schedule: vec![(0.0, 0.0), (100.0, 4.0), (300.0, 1.0)],
        },
        flow: Flow::chain(&[e]),
    });
    let c = SimConfig {
        duration: 1_000.0,
        warmup: 0.0,
        seed: 1,
        replications: 4,
    };
    let r = simulate(&b.net, &c).unwrap();
    // 4 × 1500 = 6000 arrivals in all: Poisson sd 77, so 4 sd is ±310, i.e. ±0.078/s.
    assert!(
        (r.workloads[0].throughput_rps - 1.5).abs() < 0.078,
        "{:?}",
        r.workloads[0]
    );

    // Closed users with pauses between flow steps: 10 users, each request visits the service
    // twice with a 1 s pause in between, then thinks 2 s. With no queueing (100 workers), a
    // request takes 0.02 s of service (the pause is excluded from latency) and a cycle 3.02 s.
    let mut b = NetBuilder::new();
    let e = b.service("s", 1, 100, Dist::Constant(0.01));
    b.net.workloads.push(Workload {
        name: "users".into(),
        load: Load::Closed {
            users: 10,
            think_time: Dist::Constant(2.0),
        },
        flow: Flow {
            start: 0,
            steps: vec![
                FlowStep {
                    endpoint: e,
                    next: vec![(1, 1.0)],
                    think_time: Some(Dist::Constant(1.0)),
                },
                FlowStep {
                    endpoint: e,
                    next: Vec::new(),
                    think_time: None,
                },
            ],
        },
    });
    let c = SimConfig {
        duration: 3_020.0,
        warmup: 20.0,
        seed: 1,
        replications: 1,
    };
    let r = simulate(&b.net, &c).unwrap();
    let w = &r.workloads[0];
    assert!((w.latency_ms.mean - 20.0).abs() < 1e-6, "{w:?}");
    // 10 users × 3000 s / 3.02 s per cycle ≈ 9934 requests, ±10 for cycles cut by the window.
    assert!((w.completed - 10.0 * 3000.0 / 3.02).abs() <= 10.0, "{w:?}");
}

#[test]
fn same_seed_same_bytes_on_any_thread_count() {
    // The large benchmark twin at a lower rate, with short timeouts and breakers so that every
    // mechanism (processor sharing, all balancing policies, timeouts, retries, breakers) runs.
    let mut net = doppel_sim::bench::large_net(7);
    for w in &mut net.workloads {
        w.load = Load::poisson(400.0);
    }
    let breaker = doppel_sim::Breaker {
        consecutive_failures: Some(2),
        error_rate: Some(0.5),
        window: 1.0,
        min_calls: 5,
        open_for: 0.2,
        half_open_probes: 2,
    };
    for call in net
        .endpoints
        .iter_mut()
        .flat_map(|e| &mut e.steps)
        .flat_map(|s| &mut s.calls)
    {
        if call.timeout.is_some() {
            call.timeout = Some(0.004);
            call.breaker = Some(breaker);
        }
    }
    let c = SimConfig {
        duration: 3.0,
        warmup: 0.5,
        seed: 42,
        replications: 3,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool.install(|| simulate(&net, &c).unwrap());
        serde_json::to_string(&report).unwrap()
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
    let other = simulate(&net, &SimConfig { seed: 43, ..c }).unwrap();
    assert_ne!(one, serde_json::to_string(&other).unwrap());
    // The keys the CLI, bars and UI read are there.
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    for key in [
        "sim_seconds",
        "wall_seconds",
        "events",
        "visits",
        "seed",
        "replications",
    ] {
        assert!(v["summary"].get(key).is_some(), "summary.{key}");
    }
    let w = &v["workloads"][0];
    for key in ["name", "throughput_rps", "error_rate"] {
        assert!(w.get(key).is_some(), "workloads[].{key}");
    }
    for key in ["mean", "p50", "p90", "p95", "p99", "max", "mean_ci95"] {
        assert!(w["latency_ms"].get(key).is_some(), "latency_ms.{key}");
    }
    let s = &v["services"][0];
    for key in [
        "name",
        "utilization",
        "mean_in_system",
        "throughput_rps",
        "endpoints",
        "instances",
    ] {
        assert!(s.get(key).is_some(), "services[].{key}");
    }
    for key in ["events", "timeouts", "retries", "short_circuits"] {
        assert!(v["summary"][key].as_u64().unwrap() > 0, "summary.{key}");
    }
}

#[test]
fn circuit_breaker_opens_probes_and_reopens() {
    // One user, think time 1 s, calls front → slow; slow always outlasts the 0.1 s timeout.
    // Breaker: opens after 3 consecutive failures, for 9.95 s, then lets 1 probe through.
    // Requests start at 1.0, 2.1, 3.2 (each fails after 0.1 s); the third failure opens the
    // breaker until 13.25, so the requests at 4.3 ... 12.3 (nine) are short-circuited at once;
    // the one at 13.3 is the probe, fails at 13.4 and reopens it. From then on every cycle is
    // one probe and nine short-circuits: 9 short-circuits per timeout.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 10, Dist::Constant(0.0));
    let slow = b.service("slow", 1, 10, Dist::Constant(1.0));
    let breaker = doppel_sim::Breaker {
        consecutive_failures: Some(3),
        error_rate: None,
        window: 60.0,
        min_calls: 1,
        open_for: 9.95,
        half_open_probes: 1,
    };
    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            timeout: Some(0.1),
            breaker: Some(breaker),
            ..Call::to(slow)
        }],
    }];
    b.net.workloads.push(Workload {
        name: "user".into(),
        load: Load::Closed {
            users: 1,
            think_time: Dist::Constant(1.0),
        },
        flow: Flow::chain(&[front]),
    });
    let c = SimConfig {
        duration: 1_000.0,
        warmup: 0.0,
        seed: 1,
        replications: 1,
    };
    let r = simulate(&b.net, &c).unwrap();
    let s = &r.summary;
    eprintln!(
        "timeouts {}, short-circuits {}",
        s.timeouts, s.short_circuits
    );
    // 3 initial timeouts, then cycles of 10.1 s: (1000 - 3.4) / 10.1 ≈ 98.7 cycles.
    assert!((100..=102).contains(&s.timeouts), "{s:?}");
    let expected = 9 * (s.timeouts - 3);
    assert!(s.short_circuits.abs_diff(expected) <= 9, "{s:?}");
    assert_eq!(r.workloads[0].error_rate, 1.0);
}

#[test]
fn retry_budget_caps_retries() {
    // A back end with one worker and no queue rejects about a third of attempts at λ = 2/s,
    // S = 0.25 s. Up to 3 retries each, or at most 10% of first attempts with a budget.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 1000, Dist::Constant(0.0));
    let back = b.service("back", 1, 1, Dist::exp(0.25));
    b.net.instances[1].queue_limit = Some(0);
    let retry = |budget| Retry {
        max: 3,
        backoff: 0.05,
        multiplier: 2.0,
        max_backoff: 1.0,
        jitter: Jitter::Full,
        budget,
    };
    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            retry: Some(retry(None)),
            ..Call::to(back)
        }],
    }];
    b.open(2.0, front);
    let c = SimConfig {
        duration: 2_000.0,
        warmup: 0.0,
        seed: 1,
        replications: 1,
    };
    let share = |r: &SimReport| {
        let back = &r.services[1];
        let attempts = (back.throughput_rps + back.instances[0].rejected_rps) * 2_000.0;
        r.summary.retries as f64 / (attempts - r.summary.retries as f64)
    };
    let free = share(&simulate(&b.net, &c).unwrap());
    // No floor: a pure 10% of first attempts.
    let budget = RetryBudget {
        percent: 0.1,
        min_per_second: 0.0,
        ttl: 10.0,
    };
    b.net.endpoints[front as usize].steps[0].calls[0].retry = Some(retry(Some(budget)));
    let capped = share(&simulate(&b.net, &c).unwrap());
    eprintln!("retries per first attempt: unlimited {free:.3}, budget 10% {capped:.3}");
    assert!(free > 0.3, "{free}");
    // Every slice-aligned 10 s window holds at most 10% of its first attempts, and such
    // windows tile the run, so the whole run does too. With about 20 first attempts per
    // window the budget is whole retries (1 or 2 or 3...), so it binds below 10% on average.
    assert!(capped <= 0.1 + 1e-9 && capped > 0.05, "{capped}");
}

#[test]
fn retry_budget_floor_lets_rare_calls_retry() {
    // One call every 5 s on average to a dependency that always times out (1 s of work,
    // 0.1 s timeout), one retry allowed. A pure 10% budget needs 10 first attempts in its
    // 10 s window before the first retry: at 0.2 calls/s it never retries. With a floor of
    // 1 retry/s (10 per window, against about 2 calls per window) every call is retried.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 1000, Dist::Constant(0.0));
    let back = b.service("back", 1, 1000, Dist::Constant(1.0));
    let with = |min_per_second| Call {
        timeout: Some(0.1),
        retry: Some(Retry {
            max: 1,
            backoff: 0.0,
            multiplier: 2.0,
            max_backoff: 0.0,
            jitter: Jitter::None,
            budget: Some(RetryBudget {
                percent: 0.1,
                min_per_second,
                ttl: 10.0,
            }),
        }),
        ..Call::to(back)
    };
    b.open(0.2, front);
    let c = SimConfig {
        duration: 2_000.0,
        warmup: 0.0,
        seed: 3,
        replications: 1,
    };
    let mut ratio = |min_per_second| {
        b.net.endpoints[front as usize].steps = vec![Step {
            calls: vec![with(min_per_second)],
        }];
        let r = simulate(&b.net, &c).unwrap();
        let firsts = r.summary.timeouts - r.summary.retries;
        r.summary.retries as f64 / firsts as f64
    };
    let (pure, floored) = (ratio(0.0), ratio(1.0));
    eprintln!("retries per call: pure 10% {pure:.3}, with a 1/s floor {floored:.3}");
    assert_eq!(pure, 0.0);
    assert_eq!(floored, 1.0);
}

#[test]
fn deep_call_chains_do_not_exhaust_the_stack() {
    // 3,000 services, each calling the next, every hop without latency: when the last one
    // answers, the whole chain completes at the same instant. Each does 1 ms of work, so a
    // request of the single user takes exactly 3 s.
    let mut b = NetBuilder::new();
    let n = 3_000;
    let eps: Vec<u32> = (0..n)
        .map(|k| b.service(&format!("s{k}"), 1, 4, Dist::Constant(0.001)))
        .collect();
    for k in 0..n - 1 {
        b.net.endpoints[eps[k] as usize].steps = vec![Step {
            calls: vec![Call::to(eps[k + 1])],
        }];
    }
    b.net.workloads.push(Workload {
        name: "user".into(),
        load: Load::Closed {
            users: 1,
            think_time: Dist::Constant(1.0),
        },
        flow: Flow::chain(&[eps[0]]),
    });
    let c = SimConfig {
        duration: 20.0,
        warmup: 0.0,
        seed: 1,
        replications: 1,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let r = pool.install(|| simulate(&b.net, &c).unwrap());
    let l = &r.workloads[0].latency_ms;
    assert_eq!(r.workloads[0].completed, 4.0);
    assert!(
        (l.mean - 3_000.0).abs() < 1e-6 && (l.max - 3_000.0).abs() < 1e-6,
        "{l:?}"
    );
}

#[test]
fn optional_and_async_calls() {
    // Front (10 ms) calls slow (1 s, plenty of workers). As an optional call with a 0.5 s
    // timeout, every request succeeds after 10 ms + 0.5 s (the fallback), and slow still
    // works 1 s per call. As an async call made twice, the request takes 10 ms and slow gets
    // two visits per request.
    let mut b = NetBuilder::new();
    let front = b.service("front", 1, 1000, Dist::Constant(0.01));
    let slow = b.service("slow", 1, 1000, Dist::Constant(1.0));
    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            timeout: Some(0.5),
            optional: true,
            ..Call::to(slow)
        }],
    }];
    b.open(5.0, front);
    let c = SimConfig {
        duration: 500.0,
        warmup: 10.0,
        seed: 1,
        replications: 1,
    };
    let r = simulate(&b.net, &c).unwrap();
    assert_eq!(r.workloads[0].error_rate, 0.0);
    assert!(
        (r.workloads[0].latency_ms.mean - 510.0).abs() < 1e-6,
        "{:?}",
        r.workloads[0]
    );
    assert!(r.summary.timeouts > 0);
    assert_eq!(r.services[0].error_rate, 0.0);

    b.net.endpoints[front as usize].steps = vec![Step {
        calls: vec![Call {
            is_async: true,
            count: 2,
            ..Call::to(slow)
        }],
    }];
    let r = simulate(&b.net, &c).unwrap();
    assert!(
        (r.workloads[0].latency_ms.mean - 10.0).abs() < 1e-6,
        "{:?}",
        r.workloads[0]
    );
    let (x, y) = (r.services[0].throughput_rps, r.services[1].throughput_rps);
    assert!((y / x - 2.0).abs() < 0.01, "{x} {y}");
    // Each slow visit takes exactly 1 s: 2λ = 10 in progress on average (Poisson noise: the
    // arrivals in 490 s are 2450 ± 50, so 2%).
    assert!(
        (r.services[1].mean_in_system - 10.0).abs() < 0.4,
        "{}",
        r.services[1].mean_in_system
    );
    // The estimate agrees: the caller does not wait for asynchronous calls.
    let est = doppel_sim::analytic::estimate(&b.net).unwrap();
    assert!(
        (est.workloads[0].mean_latency_ms - 10.0).abs() < 1e-9,
        "{est:?}"
    );
    assert!((est.services[1].throughput_rps - 10.0).abs() < 1e-9);
}

//! Benchmark networks: the 10-station M/M/2 tandem (`doppel bench`, the criterion bench) and a
//! generated large twin (1,000 services, 10,000 instances, 200 hosts, calls up to 5 deep).

use crate::dist::Dist;
use crate::engine::{self, Prepared, RunCfg};
use crate::net::{
    Call, Endpoint, Flow, Host, Instance, Load, LoadBalancing, Service, SimNet, Step, Workload,
};
use crate::rng::SimRng;

/// The cancel flag of benchmark runs, which nobody cancels.
static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What a benchmark run did (the caller times it).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BenchResult {
    /// Station visits completed.
    pub visits: u64,
    /// Events processed.
    pub events: u64,
    /// Simulated seconds.
    pub sim_seconds: f64,
}

/// `stations` M/M/`servers` stations in series fed by Poisson arrivals at `lambda`, each with
/// exponential service at rate `mu` per server, dedicated cores and unbounded queues.
pub fn tandem_net(stations: u32, servers: u32, lambda: f64, mu: f64) -> SimNet {
    let mut net = SimNet::default();
    for k in 0..stations {
        net.services.push(Service {
            name: format!("station-{k}"),
            load_balancing: LoadBalancing::RoundRobin,
        });
        net.instances.push(Instance {
            name: format!("station-{k}-0"),
            service: k,
            host: None,
            zone: None,
            workers: servers,
            queue_limit: None,
        });
        net.endpoints.push(Endpoint {
            name: "serve".into(),
            service: k,
            service_time: Dist::exp(1.0 / mu),
            steps: Vec::new(),
        });
    }
    let chain: Vec<u32> = (0..stations).collect();
    net.workloads.push(Workload {
        name: "customers".into(),
        load: Load::poisson(lambda),
        flow: Flow::chain(&chain),
    });
    net
}

/// Runs the 10-station M/M/2 tandem (λ = 0.8, μ = 0.5) on the calling thread for about
/// `customers` arrivals (10 station visits each) and reports the work done.
pub fn tandem(customers: u64, seed: u64) -> BenchResult {
    let net = tandem_net(10, 2, 0.8, 0.5);
    // The network is built above from constants, so preparing it cannot fail.
    let prepared = Prepared::new(&net, &[]).expect("the tandem network is valid");
    let duration = customers as f64 / 0.8;
    let stats = engine::run_replication(
        &prepared,
        &crate::plan::Plan::default(),
        RunCfg {
            duration,
            warmup: 0.0,
            seed,
        },
        0,
        &|_, _| {},
        &NEVER,
    )
    .expect("a run nobody cancels finishes");
    BenchResult {
        visits: stats.visits,
        events: stats.events,
        sim_seconds: duration,
    }
}

/// Parameters of the generated large twin.
const LAYERS: [u32; 6] = [20, 80, 150, 250, 250, 250];
const REPLICAS: u32 = 10;
const HOSTS: u32 = 200;
const ZONES: u32 = 3;
/// Offered load, requests per second, over all workloads.
pub const LARGE_RATE: f64 = 20_000.0;
/// Simulated seconds of the large benchmark.
pub const LARGE_SECONDS: f64 = 60.0;

/// A generated large twin: 1,000 services in 6 layers (each endpoint calls services in deeper
/// layers only, so calls nest at most 5 deep), 10 instances each (10,000 in all) spread over 200
/// hosts in 3 zones, log-normal service times, a mix of load-balancing policies, some calls with
/// timeouts and retries, parallel fan-outs, and 4 open workloads offering 20,000 requests/s in
/// total. Host cores are sized from the expected CPU demand so hosts run about half busy, with
/// more workers than cores (processor sharing is exercised). Deterministic in `seed`.
pub fn large_net(seed: u64) -> SimNet {
    let mut rng = SimRng::stream(seed, 0);
    let mut net = SimNet {
        zones: (0..ZONES).map(|z| format!("zone-{z}")).collect(),
        ..SimNet::default()
    };
    let nz = ZONES as usize;
    net.latency = (0..nz * nz)
        .map(|k| if k / nz == k % nz { 0.000_05 } else { 0.000_5 })
        .collect();
    let policies = [
        LoadBalancing::RoundRobin,
        LoadBalancing::Random,
        LoadBalancing::LeastOutstanding,
        LoadBalancing::PowerOfTwo,
    ];
    // Services and their endpoints, layer by layer.
    let mut layer_of = Vec::new();
    let mut layer_start = Vec::new();
    for (l, &n) in LAYERS.iter().enumerate() {
        layer_start.push(net.services.len() as u32);
        for _ in 0..n {
            let s = net.services.len() as u32;
            net.services.push(Service {
                name: format!("svc-{l}-{s}"),
                load_balancing: policies[rng.below(4) as usize],
            });
            layer_of.push(l);
        }
    }
    // Endpoints: one or two per service.
    let mut svc_endpoints: Vec<Vec<u32>> = vec![Vec::new(); net.services.len()];
    for s in 0..net.services.len() as u32 {
        let count = 1 + rng.below(2);
        for k in 0..count {
            let mean = 0.001 + 0.004 * rng.uniform();
            // Log-normal with coefficient of variation ~0.5: sigma² = ln(1.25).
            let sigma = 1.25f64.ln().sqrt();
            svc_endpoints[s as usize].push(net.endpoints.len() as u32);
            net.endpoints.push(Endpoint {
                name: format!("op{k}"),
                service: s,
                service_time: Dist::LogNormal {
                    mu: mean.ln() - sigma * sigma / 2.0,
                    sigma,
                },
                steps: Vec::new(),
            });
        }
    }
    // Calls: an endpoint in layer l < 5 makes 1-2 steps of 1-2 calls into layers > l. The
    // expected number of calls per visit is ~1.1, so a request makes ~6 visits.
    let n_layers = LAYERS.len();
    for e in 0..net.endpoints.len() {
        let l = layer_of[net.endpoints[e].service as usize];
        if l + 1 >= n_layers {
            continue;
        }
        let n_steps = 1 + rng.below(2);
        let mut steps = Vec::new();
        for _ in 0..n_steps {
            let n_calls = 1 + rng.below(2);
            let mut calls = Vec::new();
            for _ in 0..n_calls {
                let target_layer = l + 1 + rng.below((n_layers - l - 1).min(2) as u32) as usize;
                let first = layer_start[target_layer];
                let svc = first + rng.below(LAYERS[target_layer]);
                let eps = &svc_endpoints[svc as usize];
                let target = eps[rng.below(eps.len() as u32) as usize];
                let mut call = Call::to(target);
                call.probability = 0.35 + 0.3 * rng.uniform();
                if rng.uniform() < 0.2 {
                    call.timeout = Some(0.5);
                    call.retry = Some(crate::net::Retry {
                        max: 2,
                        backoff: 0.01,
                        multiplier: 2.0,
                        max_backoff: 0.1,
                        jitter: crate::net::Jitter::Full,
                        budget: None,
                    });
                }
                calls.push(call);
            }
            steps.push(Step { calls });
        }
        net.endpoints[e].steps = steps;
    }
    // Workloads: 4 open workloads entering through the frontends (layer 0); a request visits
    // one to a few frontend endpoints.
    let frontends: Vec<u32> = (0..LAYERS[0])
        .flat_map(|s| svc_endpoints[s as usize].clone())
        .collect();
    for w in 0..4u32 {
        let picks: Vec<u32> = (0..3)
            .map(|_| frontends[rng.below(frontends.len() as u32) as usize])
            .collect();
        let steps = picks
            .iter()
            .enumerate()
            .map(|(i, &endpoint)| crate::net::FlowStep {
                endpoint,
                next: if i + 1 < picks.len() {
                    vec![(i as u32 + 1, 0.25)]
                } else {
                    Vec::new()
                },
                think_time: None,
            })
            .collect();
        net.workloads.push(Workload {
            name: format!("workload-{w}"),
            load: Load::poisson(LARGE_RATE / 4.0),
            flow: Flow { start: 0, steps },
        });
    }
    // Expected visits per second of each endpoint: flows, then calls in layer order.
    let mut rate = vec![0.0; net.endpoints.len()];
    for w in &net.workloads {
        let Load::Open { schedule } = &w.load else {
            continue;
        };
        let mut r = schedule.first().map_or(0.0, |s| s.1);
        for s in &w.flow.steps {
            rate[s.endpoint as usize] += r;
            r *= s.next.first().map_or(0.0, |n| n.1);
        }
    }
    for e in 0..net.endpoints.len() {
        // Endpoints are numbered layer by layer and only call deeper layers, so callers come first.
        let re = rate[e];
        for c in net.endpoints[e].steps.iter().flat_map(|s| &s.calls) {
            rate[c.target as usize] += re * c.probability * f64::from(c.count);
        }
    }
    // Instances: 10 per service on 10 distinct hosts, 16 workers each.
    let mut host_load = vec![0.0; HOSTS as usize];
    for s in 0..net.services.len() as u32 {
        let demand: f64 = svc_endpoints[s as usize]
            .iter()
            .map(|&e| rate[e as usize] * net.endpoints[e as usize].service_time.mean())
            .sum();
        let offset = rng.below(HOSTS);
        for k in 0..REPLICAS {
            let host = (offset + k * 7) % HOSTS;
            host_load[host as usize] += demand / f64::from(REPLICAS);
            net.instances.push(Instance {
                name: format!("{}-{k}", net.services[s as usize].name),
                service: s,
                host: Some(host),
                zone: None,
                workers: 16,
                queue_limit: Some(1000),
            });
        }
    }
    net.hosts = (0..HOSTS)
        .map(|h| Host {
            name: format!("host-{h}"),
            cores: (2.0 * host_load[h as usize]).ceil().max(4.0),
            zone: Some(h % ZONES),
        })
        .collect();
    net
}

/// Simulates [`large_net`] for [`LARGE_SECONDS`] on the calling thread (one replication, no
/// warm-up) and reports the work done.
pub fn large(seed: u64) -> BenchResult {
    let net = large_net(seed);
    // Generated from constants above; validation cannot fail.
    let prepared = Prepared::new(&net, &[]).expect("the generated network is valid");
    let run = RunCfg {
        duration: LARGE_SECONDS,
        warmup: 0.0,
        seed,
    };
    let stats = engine::run_replication(
        &prepared,
        &crate::plan::Plan::default(),
        run,
        0,
        &|_, _| {},
        &NEVER,
    )
    .expect("a run nobody cancels finishes");
    BenchResult {
        visits: stats.visits,
        events: stats.events,
        sim_seconds: LARGE_SECONDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_net_has_the_advertised_shape() {
        let net = large_net(1);
        assert_eq!(net.services.len(), 1000);
        assert_eq!(net.instances.len(), 10_000);
        assert_eq!(net.hosts.len(), 200);
        net.validate().unwrap();
        let total: f64 = net
            .workloads
            .iter()
            .map(|w| match &w.load {
                Load::Open { schedule } => schedule[0].1,
                Load::Closed { .. } => 0.0,
            })
            .sum();
        assert_eq!(total, LARGE_RATE);
        // Some hosts have more workers than cores, so processor sharing is exercised.
        let prepared = Prepared::new(&net, &[]).unwrap();
        assert!(!prepared.ps_hosts.is_empty());
    }

    #[test]
    fn tandem_counts_visits() {
        let r = tandem(2_000, 1);
        // 10 visits per customer; arrivals are Poisson(2000) (sd 45 customers, 450 visits) and
        // about 44 customers (L of the tandem) are still inside at the end: 5 sd either way.
        assert!(r.visits > 17_000 && r.visits < 22_300, "{r:?}");
        assert!(r.events >= r.visits, "{r:?}");
    }
}

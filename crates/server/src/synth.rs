//! A synthetic "production" for the demo and the tests: the truth is a copy of a twin whose
//! services can be slowed down; each tick it reports what that system would show (the analytic
//! estimate of the truth at the current load) as Prometheus remote-write series:
//! `doppel_requests_total`, `doppel_request_duration_seconds_sum/_count` (counters) and
//! `doppel_utilization` (gauge) and `process_resident_memory_bytes` (gauge, with a seeded
//! jitter), labelled `service`; and, when the twin has routers, what a flow collector at the
//! routers would report: `doppel_flow_bytes_per_second{src=ROUTER,dst=ROUTER}`, the
//! router-to-router traffic of the twin's workloads (`doppel_netopt::traffic::from_twin`)
//! scaled by the current load. A [`Script`] makes one dependency degrade slowly and one
//! process leak memory; a [`Stepper`] runs it on the caller's clock.

use std::collections::HashMap;

use doppel_model::Twin;
use doppel_sim::{Load, SimNet};

use crate::drift::{DriftError, est, scale, with_rates};

/// The synthetic production system.
pub struct Production {
    truth: Twin,
    net: SimNet,
    base_rates: Vec<(usize, f64)>,
    slow: HashMap<String, f64>,
    totals: HashMap<String, (f64, f64)>,
    leaks: HashMap<String, Leak>,
    noise: u64,
    /// Router to router, bytes/s at load 1.
    flows: Vec<(String, String, f64)>,
}

/// Resident memory a process starts with, bytes.
pub const BASE_MEMORY: f64 = 256.0 * 1024.0 * 1024.0;
/// Amplitude of the seeded jitter on every memory reading (garbage collection), bytes.
pub const MEMORY_JITTER: f64 = 4.0 * 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy)]
struct Leak {
    rate: f64,
    used: f64,
    limit: f64,
    restarts: u64,
}

/// Remote-write series: labels and samples.
pub type SeriesBatch = Vec<crate::ingest::remote_write::OwnedSeries>;

impl Production {
    /// A production system behaving exactly like `twin`.
    pub fn new(twin: &Twin) -> Result<Production, DriftError> {
        let mut p = Production {
            truth: twin.clone(),
            net: SimNet::default(),
            base_rates: Vec::new(),
            slow: HashMap::new(),
            totals: HashMap::new(),
            leaks: HashMap::new(),
            noise: 0x9e37_79b9_7f4a_7c15,
            flows: router_flows(twin),
        };
        p.rebuild()?;
        Ok(p)
    }

    /// Seeds the memory jitter (the same seed gives the same readings).
    pub fn seed(&mut self, seed: u64) {
        self.noise = seed ^ 0x9e37_79b9_7f4a_7c15;
    }

    /// A uniform draw in [-1, 1) from the seeded stream (splitmix64).
    fn jitter(&mut self) -> f64 {
        self.noise = self.noise.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.noise;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn rebuild(&mut self) -> Result<(), DriftError> {
        let mut t = self.truth.clone();
        for (svc, f) in &self.slow {
            if let Some(s) = t.services.get_mut(svc) {
                for ep in s.endpoints.values_mut() {
                    scale(&mut ep.service_time, *f);
                }
            }
        }
        self.net =
            doppel_sim::compile::compile(&t).map_err(|e| DriftError::Compile(e.to_string()))?;
        self.base_rates = self
            .net
            .workloads
            .iter()
            .enumerate()
            .filter_map(|(w, wl)| match &wl.load {
                Load::Open { schedule } => {
                    Some((w, schedule.iter().map(|s| s.1).fold(0.0, f64::max)))
                }
                Load::Closed { .. } => None,
            })
            .collect();
        Ok(())
    }

    /// Makes `service`'s own work `factor` times slower than in the twin (1 = as modelled).
    pub fn set_slowdown(&mut self, service: &str, factor: f64) -> Result<(), DriftError> {
        let now = self.slow.get(service).copied().unwrap_or(1.0);
        if (factor - now).abs() < 1e-12 {
            return Ok(());
        }
        if (factor - 1.0).abs() < 1e-12 {
            self.slow.remove(service);
        } else {
            self.slow.insert(service.to_string(), factor);
        }
        self.rebuild()
    }

    /// Makes `service`'s resident memory grow by `bytes_per_s` from [`BASE_MEMORY`]; when it
    /// reaches the service's memory limit (`resources.memory` in the twin) the process is
    /// killed and starts again from the base. Services without a limit grow without end.
    pub fn set_leak(&mut self, service: &str, bytes_per_s: f64) {
        let limit = self
            .truth
            .services
            .get(service)
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.memory)
            .map_or(f64::INFINITY, |b| b.get() as f64);
        self.leaks.insert(
            service.to_string(),
            Leak {
                rate: bytes_per_s,
                used: BASE_MEMORY,
                limit,
                restarts: 0,
            },
        );
    }

    /// Times `service`'s leaking process was killed for running out of memory.
    pub fn restarts(&self, service: &str) -> u64 {
        self.leaks.get(service).map_or(0, |l| l.restarts)
    }

    /// Advances by `dt_s` seconds at `load` times the twin's workload rates, ending at `t_ms`,
    /// and returns the series a Prometheus agent would send for that moment.
    pub fn tick(&mut self, t_ms: i64, dt_s: f64, load: f64) -> Result<SeriesBatch, DriftError> {
        let rates: Vec<(usize, f64)> = self
            .base_rates
            .iter()
            .map(|(w, r)| (*w, r * load))
            .collect();
        let e = est(&with_rates(&self.net, &rates))?;
        for l in self.leaks.values_mut() {
            l.used += l.rate * dt_s;
            if l.used >= l.limit {
                l.used = BASE_MEMORY;
                l.restarts += 1;
            }
        }
        let mut out = Vec::new();
        for s in &e.services {
            let tot = self.totals.entry(s.name.clone()).or_insert((0.0, 0.0));
            let lat_s = if s.mean_response_ms.is_finite() {
                s.mean_response_ms / 1000.0
            } else {
                60.0
            };
            tot.0 += s.throughput_rps * dt_s;
            tot.1 += s.throughput_rps * dt_s * lat_s;
            let (requests, seconds) = *tot;
            let lab = |name: &str| {
                vec![
                    ("__name__".to_string(), name.to_string()),
                    ("job".to_string(), "shop".to_string()),
                    ("service".to_string(), s.name.clone()),
                ]
            };
            out.push((lab("doppel_requests_total"), vec![(requests, t_ms)]));
            out.push((
                lab("doppel_request_duration_seconds_count"),
                vec![(requests, t_ms)],
            ));
            out.push((
                lab("doppel_request_duration_seconds_sum"),
                vec![(seconds, t_ms)],
            ));
            out.push((
                lab("doppel_utilization"),
                vec![(s.utilization.min(1.0), t_ms)],
            ));
            let used = self.leaks.get(&s.name).map_or(BASE_MEMORY, |l| l.used);
            let memory = used + MEMORY_JITTER * self.jitter();
            out.push((lab("process_resident_memory_bytes"), vec![(memory, t_ms)]));
        }
        for (src, dst, bytes) in &self.flows {
            let labels = vec![
                (
                    "__name__".to_string(),
                    "doppel_flow_bytes_per_second".to_string(),
                ),
                ("dst".to_string(), dst.clone()),
                ("job".to_string(), "flows".to_string()),
                ("src".to_string(), src.clone()),
            ];
            out.push((labels, vec![(bytes * load, t_ms)]));
        }
        Ok(out)
    }
}

/// The router-to-router byte rates of the twin's workloads at their modelled rates; none
/// when the twin has no routers or its traffic cannot be derived.
fn router_flows(twin: &Twin) -> Vec<(String, String, f64)> {
    let Ok(net) = doppel_netopt::Network::from_twin(twin) else {
        return Vec::new();
    };
    if net.node_count() == 0 {
        return Vec::new();
    }
    let Ok(t) = doppel_netopt::traffic::from_twin(twin, &net, &Default::default()) else {
        return Vec::new();
    };
    t.matrix
        .demands()
        .iter()
        .map(|d| {
            (
                net.nodes()[d.src].clone(),
                net.nodes()[d.dst].clone(),
                d.rate / 8.0,
            )
        })
        .collect()
}

/// The demo's production script: a compressed day of load (a sine of `day_s` seconds,
/// ±`load_amplitude`), a dependency that slowly degrades (its service times grow by
/// `degrade_per_s` of the modelled ones every second, until a fix after `degrade_cycle_s`
/// seconds puts it back and the degradation starts again), and a process that leaks memory
/// (`leak_bytes_per_s` from [`BASE_MEMORY`] until it reaches its limit and is killed).
#[derive(Debug, Clone)]
pub struct Script {
    /// Length of the compressed day, seconds.
    pub day_s: f64,
    /// Relative amplitude of the daily load curve.
    pub load_amplitude: f64,
    /// The dependency that degrades.
    pub degrade_service: String,
    /// Growth of its service times per second, as a fraction of the modelled ones.
    pub degrade_per_s: f64,
    /// Seconds after which the degradation is fixed and starts again.
    pub degrade_cycle_s: i64,
    /// The service whose memory leaks.
    pub leak_service: String,
    /// Leak rate, bytes per second.
    pub leak_bytes_per_s: f64,
    /// Seed of the memory jitter.
    pub seed: u64,
}

impl Script {
    /// The demo's script for the example shop: a 10-minute day; `recommendations` getting
    /// 1.5% slower every minute (of its modelled service times) until it is fixed after two
    /// hours, which takes the home page's p99 over its 250 ms objective at the daily peak after
    /// about 40 minutes; `checkout` (1 GiB limit) leaking 192 KiB/s, so it runs out of memory
    /// every 68 minutes ((1024 − 256) MiB / 192 KiB/s = 4,096 s).
    pub fn shop() -> Script {
        Script {
            day_s: 600.0,
            load_amplitude: 0.35,
            degrade_service: "recommendations".into(),
            degrade_per_s: 0.015 / 60.0,
            degrade_cycle_s: 7200,
            leak_service: "checkout".into(),
            leak_bytes_per_s: 192.0 * 1024.0,
            seed: 1,
        }
    }

    /// Load multiplier at `t_s` seconds into the run.
    pub fn load(&self, t_s: f64) -> f64 {
        1.0 + self.load_amplitude * (2.0 * std::f64::consts::PI * t_s / self.day_s).sin()
    }

    /// How many times slower than modelled the degrading dependency is at `t_s` seconds.
    pub fn degradation(&self, t_s: f64) -> f64 {
        let cycle = self.degrade_cycle_s.max(1) as f64;
        1.0 + self.degrade_per_s * t_s.max(0.0).rem_euclid(cycle)
    }
}

/// The synthetic production following a [`Script`], stepped by the caller's clock: the demo
/// steps it every second of wall time, tests step it in simulated time.
pub struct Stepper {
    prod: Production,
    script: Script,
    start_ms: i64,
    last_ms: Option<i64>,
}

impl Stepper {
    /// A production of `twin` following `script`, whose run starts at `start_ms`.
    pub fn new(twin: &Twin, script: Script, start_ms: i64) -> Result<Stepper, DriftError> {
        let mut prod = Production::new(twin)?;
        prod.seed(script.seed);
        prod.set_leak(&script.leak_service, script.leak_bytes_per_s);
        Ok(Stepper {
            prod,
            script,
            start_ms,
            last_ms: None,
        })
    }

    /// The production being stepped.
    pub fn production(&self) -> &Production {
        &self.prod
    }

    /// The script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Advances to `t_ms` (from the previous step, or by one second at the first) and returns
    /// what production reports for that moment.
    pub fn step(&mut self, t_ms: i64) -> Result<SeriesBatch, DriftError> {
        let dt_s = self
            .last_ms
            .map_or(1.0, |l| ((t_ms - l) as f64 / 1000.0).max(0.0));
        self.last_ms = Some(t_ms);
        let t_s = (t_ms - self.start_ms) as f64 / 1000.0;
        let f = self.script.degradation(t_s);
        self.prod.set_slowdown(&self.script.degrade_service, f)?;
        self.prod.tick(t_ms, dt_s, self.script.load(t_s))
    }
}

/// Sends a batch through the remote-write intake (write-ahead log included), received at
/// `t_ms`.
pub async fn send(app: &crate::App, batch: &SeriesBatch, t_ms: i64) -> Result<u64, crate::Error> {
    let body = crate::ingest::remote_write::compress(&crate::ingest::remote_write::encode(batch));
    app.ingest(crate::record::REMOTE_WRITE, &body, t_ms).await
}

/// Feeds the app with the production's telemetry every `tick` of wall time, with sample times
/// from the clock, for `ticks` ticks (`None`: forever).
pub async fn drive(
    app: std::sync::Arc<crate::App>,
    twin: Twin,
    script: Script,
    tick: std::time::Duration,
    ticks: Option<u64>,
) -> Result<(), crate::Error> {
    let mut stepper = Stepper::new(&twin, script, crate::now_ms())?;
    let mut interval = tokio::time::interval(tick);
    let mut n: u64 = 0;
    while ticks.is_none_or(|t| n < t) {
        interval.tick().await;
        let now = crate::now_ms();
        let batch = stepper.step(now)?;
        send(&app, &batch, now).await?;
        n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_reports_the_router_flows_of_its_load() {
        let l =
            doppel_model::load_str("triangle.yaml", include_str!("../tests/data/triangle.yaml"));
        let mut p = Production::new(&l.twin).unwrap_or_else(|e| panic!("{e}"));
        let batch = p.tick(60_000, 10.0, 1.5).unwrap_or_else(|e| panic!("{e}"));
        let mut flows: Vec<(String, String, f64)> = batch
            .iter()
            .filter(|(l, _)| l[0].1 == "doppel_flow_bytes_per_second")
            .map(|(l, v)| (l[3].1.clone(), l[1].1.clone(), v[0].0))
            .collect();
        flows.sort_by(|a, b| a.0.cmp(&b.0));
        // 100 requests/s × 1.5 from front (r1) to back (r2): 1 KiB requests, 8 KiB responses.
        let want = [("r1", "r2", 150.0 * 1024.0), ("r2", "r1", 150.0 * 8192.0)];
        assert_eq!(flows.len(), want.len(), "{flows:?}");
        for ((src, dst, v), (ws, wd, wv)) in flows.iter().zip(want) {
            assert_eq!((src.as_str(), dst.as_str()), (ws, wd));
            assert!((v - wv).abs() < 1e-9 * wv, "{flows:?}");
        }
    }
}

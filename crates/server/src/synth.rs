//! A synthetic "production" for the demo and the tests: the truth is a copy of a twin whose
//! services can be slowed down; each tick it reports what that system would show (the analytic
//! estimate of the truth at the current load) as Prometheus remote-write series:
//! `doppel_requests_total`, `doppel_request_duration_seconds_sum/_count` (counters) and
//! `doppel_utilization` (gauge), labelled `service`, plus a slowly leaking
//! `process_resident_memory_bytes` per service.

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
    leak_bytes: f64,
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
            leak_bytes: 0.0,
        };
        p.rebuild()?;
        Ok(p)
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
        if (factor - 1.0).abs() < 1e-12 {
            self.slow.remove(service);
        } else {
            self.slow.insert(service.to_string(), factor);
        }
        self.rebuild()
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
        self.leak_bytes += 1024.0 * dt_s;
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
            let lab = |name: &str| {
                vec![
                    ("__name__".to_string(), name.to_string()),
                    ("job".to_string(), "shop".to_string()),
                    ("service".to_string(), s.name.clone()),
                ]
            };
            out.push((lab("doppel_requests_total"), vec![(tot.0, t_ms)]));
            out.push((
                lab("doppel_request_duration_seconds_count"),
                vec![(tot.0, t_ms)],
            ));
            out.push((
                lab("doppel_request_duration_seconds_sum"),
                vec![(tot.1, t_ms)],
            ));
            out.push((
                lab("doppel_utilization"),
                vec![(s.utilization.min(1.0), t_ms)],
            ));
            out.push((
                lab("process_resident_memory_bytes"),
                vec![(256.0 * 1024.0 * 1024.0 + self.leak_bytes, t_ms)],
            ));
        }
        Ok(out)
    }
}

/// The demo's production script: a compressed day of load (a sine of `day_s` seconds, ±35%),
/// a slow memory leak, and a slow dependency (`slow_service` `slow_factor` times slower) from
/// `slow_from_s` to `slow_to_s` of every `cycle_s` seconds.
#[derive(Debug, Clone)]
pub struct Script {
    /// Length of the compressed day, seconds.
    pub day_s: f64,
    /// The dependency that becomes slow.
    pub slow_service: String,
    /// How much slower.
    pub slow_factor: f64,
    /// Cycle length, seconds.
    pub cycle_s: i64,
    /// Slow phase start within the cycle, seconds.
    pub slow_from_s: i64,
    /// Slow phase end within the cycle, seconds.
    pub slow_to_s: i64,
}

impl Script {
    /// The demo's script for the example shop.
    pub fn shop() -> Script {
        Script {
            day_s: 600.0,
            slow_service: "recommendations".into(),
            slow_factor: 1.6,
            cycle_s: 480,
            slow_from_s: 90,
            slow_to_s: 270,
        }
    }

    /// Load multiplier at `t_s` seconds into the run.
    pub fn load(&self, t_s: f64) -> f64 {
        1.0 + 0.35 * (2.0 * std::f64::consts::PI * t_s / self.day_s).sin()
    }

    /// Whether the dependency is slow at `t_s` seconds into the run.
    pub fn slow(&self, t_s: i64) -> bool {
        let c = t_s.rem_euclid(self.cycle_s.max(1));
        c >= self.slow_from_s && c < self.slow_to_s
    }
}

/// Feeds the app with the production's telemetry through the remote-write intake (write-ahead
/// log included) every `tick`, with sample times from the clock, for `ticks` ticks (`None`:
/// forever).
pub async fn drive(
    app: std::sync::Arc<crate::App>,
    twin: Twin,
    script: Script,
    tick: std::time::Duration,
    ticks: Option<u64>,
) -> Result<(), crate::Error> {
    let mut prod = Production::new(&twin)?;
    let mut interval = tokio::time::interval(tick);
    let mut slow = false;
    let mut n: u64 = 0;
    while ticks.is_none_or(|t| n < t) {
        interval.tick().await;
        let t_s = (n as f64 * tick.as_secs_f64()) as i64;
        if script.slow(t_s) != slow {
            slow = !slow;
            let f = if slow { script.slow_factor } else { 1.0 };
            prod.set_slowdown(&script.slow_service, f)?;
            tracing::info!(service = %script.slow_service, factor = f, "production changed");
        }
        let now = crate::now_ms();
        let batch = prod.tick(now, tick.as_secs_f64(), script.load(t_s as f64))?;
        let body =
            crate::ingest::remote_write::compress(&crate::ingest::remote_write::encode(&batch));
        app.ingest(crate::record::REMOTE_WRITE, &body, now).await?;
        n += 1;
    }
    Ok(())
}

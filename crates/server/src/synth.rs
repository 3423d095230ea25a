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

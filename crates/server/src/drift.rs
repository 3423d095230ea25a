//! Drift and self-calibration: the twin predicts what it observes and corrects itself.
//!
//! **Prediction at observed rates.** The analytic estimate (`doppel_sim::analytic::estimate`)
//! answers for the twin's own workload rates; production runs at other rates. Each open
//! workload's rate is therefore fitted (non-negative least squares, by coordinate descent) so
//! that the estimated request rate of every observed service matches the observed one; the
//! estimate at those rates is the prediction.
//!
//! **Analytic or simulated.** The analytic estimate is exact for exponential service times and
//! unsaturated services, and only an approximation elsewhere (for deterministic service times
//! it predicts twice the M/D/1 waiting time: Pollaczek-Khinchine). [`Method::Simulate`]
//! instead runs a short seeded simulation (`doppel_sim`, deterministic) of the twin at the
//! fitted rates; [`Method::Auto`] does so whenever the analytic model is not exact for the twin
//! (a service-time distribution whose squared coefficient of variation is not 1 within 0.2) or
//! a service saturates at the observed rates. Simulated predictions are cached per rate vector,
//! so a sliding window simulates only its new bucket.
//!
//! **Drift.** For every complete 10-second bucket of the window and every service with
//! observations, the absolute percentage errors of predicted vs observed mean latency and
//! utilization are taken; a service's drift is their mean (MAPE, in percent).
//!
//! **Recalibration** (when a service's drift has stayed above the threshold for `sustain`
//! evaluations in a row). By the utilization law `U = X·H/c`, the observed utilization `U`,
//! throughput `X` and worker count `c` give the time a visit holds a worker, `H = U·c/X`. The
//! twin's holding time is its own service time plus the time waiting on callees; that wait
//! (as predicted) is kept, and the service's own service times are scaled so the holding time
//! matches the observed one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use doppel_model::Twin;
use doppel_sim::analytic::{
    EndpointEstimate, HostEstimate, NetEstimate, ServiceEstimate, WorkloadEstimate, estimate,
};
use doppel_sim::{Load, SimConfig, SimNet};
use doppel_store::{DriftRecord, MetricPoint};
use serde::Serialize;

use crate::ingest::RESOLUTION_S;

/// Why drift could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The twin does not compile to a network.
    #[error("the twin does not compile: {0}")]
    Compile(String),
    /// The analytic estimate failed.
    #[error("analytic estimate failed: {0}")]
    Estimate(String),
    /// The prediction by simulation failed.
    #[error("simulation failed: {0}")]
    Simulate(String),
}

/// How predictions are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Simulate whenever the analytic model is not exact for the twin or a service saturates.
    #[default]
    Auto,
    /// Always the analytic estimate (the fast path).
    Analytic,
    /// Always a short seeded simulation.
    Simulate,
}

impl Method {
    /// Parses `auto`, `analytic` or `simulate`.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "auto" => Some(Method::Auto),
            "analytic" => Some(Method::Analytic),
            "simulate" => Some(Method::Simulate),
            _ => None,
        }
    }
}

/// Requests a prediction simulation aims at (its length is this over the offered rate).
const SIM_REQUESTS: f64 = 60_000.0;
/// Bounds of a prediction simulation's length, simulated seconds.
const SIM_SECONDS: (f64, f64) = (30.0, 900.0);
/// Seed of every prediction simulation.
const SIM_SEED: u64 = 1;
/// Simulated predictions kept per twin version.
const SIM_CACHE: usize = 256;

/// What was observed of one service in one bucket (or a window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Requests per second.
    pub rps: f64,
    /// Mean latency, ms.
    pub latency_ms: Option<f64>,
    /// Utilization.
    pub utilization: Option<f64>,
}

#[derive(Default, Clone, Copy)]
struct Sums {
    requests: Option<f64>,
    lat_sum: f64,
    lat_count: Option<f64>,
    lat_ms: Option<(f64, i64)>,
    util: Option<(f64, i64)>,
    trace_requests: Option<f64>,
    trace_lat_sum: f64,
}

/// Observations per service and bucket from stored points (`service:` entities only).
pub fn observe(points: &[MetricPoint]) -> BTreeMap<String, BTreeMap<i64, Observed>> {
    let mut sums: BTreeMap<String, BTreeMap<i64, Sums>> = BTreeMap::new();
    for p in points {
        let Some(svc) = p.entity.strip_prefix("service:") else {
            continue;
        };
        let s = sums
            .entry(svc.to_string())
            .or_default()
            .entry(p.bucket_ms)
            .or_default();
        match p.metric.as_str() {
            "requests" => *s.requests.get_or_insert(0.0) += p.sum,
            "latency_seconds_sum" => s.lat_sum += p.sum,
            "latency_count" => *s.lat_count.get_or_insert(0.0) += p.sum,
            "latency_ms" => {
                let e = s.lat_ms.get_or_insert((0.0, 0));
                e.0 += p.sum;
                e.1 += p.count;
            }
            "utilization" => {
                let e = s.util.get_or_insert((0.0, 0));
                e.0 += p.sum;
                e.1 += p.count;
            }
            "trace_requests" => *s.trace_requests.get_or_insert(0.0) += p.sum,
            "trace_latency_seconds_sum" => s.trace_lat_sum += p.sum,
            _ => {}
        }
    }
    let width = points
        .first()
        .map_or(RESOLUTION_S, |p| p.resolution_s)
        .max(1) as f64;
    sums.into_iter()
        .map(|(svc, buckets)| {
            let obs = buckets
                .into_iter()
                .map(|(b, s)| {
                    // Metrics first; spans (server and root spans) when a service sends no
                    // request metrics.
                    let rps = s
                        .requests
                        .or(s.lat_count)
                        .or(s.trace_requests)
                        .unwrap_or(0.0)
                        / width;
                    let latency_ms = match (s.lat_count, s.lat_ms, s.trace_requests) {
                        (Some(c), _, _) if c > 0.0 => Some(1000.0 * s.lat_sum / c),
                        (_, Some((sum, n)), _) if n > 0 => Some(sum / n as f64),
                        (_, _, Some(c)) if c > 0.0 => Some(1000.0 * s.trace_lat_sum / c),
                        _ => None,
                    };
                    let utilization = s.util.filter(|u| u.1 > 0).map(|(sum, n)| sum / n as f64);
                    (
                        b,
                        Observed {
                            rps,
                            latency_ms,
                            utilization,
                        },
                    )
                })
                .collect();
            (svc, obs)
        })
        .collect()
}

/// Predicts service behaviour at observed request rates.
pub struct Predictor {
    net: SimNet,
    /// Estimated service rates with no open load (closed workloads only).
    base: Vec<f64>,
    /// Per open workload: estimated service rates per unit of its rate.
    unit: Vec<(usize, Vec<f64>)>,
    /// Service name to index.
    pub index: HashMap<String, usize>,
    /// Why the analytic model is not exact for this twin (`None`: it is).
    pub analytic_inexact: Option<String>,
    sim_cache: Mutex<HashMap<Vec<u64>, NetEstimate>>,
}

pub(crate) fn with_rates(net: &SimNet, rates: &[(usize, f64)]) -> SimNet {
    let mut n = net.clone();
    for w in &mut n.workloads {
        if let Load::Open { schedule } = &mut w.load {
            *schedule = vec![(0.0, 0.0)];
        }
    }
    for &(w, r) in rates {
        n.workloads[w].load = Load::Open {
            schedule: vec![(0.0, r)],
        };
    }
    n
}

pub(crate) fn est(net: &SimNet) -> Result<NetEstimate, DriftError> {
    estimate(net).map_err(|e| DriftError::Estimate(e.to_string()))
}

impl Predictor {
    /// Prepares predictions for a twin.
    pub fn new(twin: &Twin) -> Result<Predictor, DriftError> {
        let net =
            doppel_sim::compile::compile(twin).map_err(|e| DriftError::Compile(e.to_string()))?;
        let base: Vec<f64> = est(&with_rates(&net, &[]))?
            .services
            .iter()
            .map(|s| s.throughput_rps)
            .collect();
        let mut unit = Vec::new();
        for (w, wl) in net.workloads.iter().enumerate() {
            if matches!(wl.load, Load::Open { .. }) {
                let e = est(&with_rates(&net, &[(w, 1.0)]))?;
                let r = e
                    .services
                    .iter()
                    .zip(&base)
                    .map(|(s, b)| s.throughput_rps - b)
                    .collect();
                unit.push((w, r));
            }
        }
        let index = net
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let analytic_inexact = net
            .endpoints
            .iter()
            .find(|e| (e.service_time.scv() - 1.0).abs() > 0.2)
            .map(|e| {
                format!(
                    "service `{}` endpoint `{}` has non-exponential service times \
                     (squared coefficient of variation {:.2})",
                    net.services[e.service as usize].name,
                    e.name,
                    e.service_time.scv()
                )
            });
        Ok(Predictor {
            net,
            base,
            unit,
            index,
            analytic_inexact,
            sim_cache: Mutex::new(HashMap::new()),
        })
    }

    /// The method `method` resolves to for the analytic estimate `e`, and why.
    pub fn resolve(&self, method: Method, e: &NetEstimate) -> (Method, Option<String>) {
        match method {
            Method::Auto => {
                if let Some(why) = &self.analytic_inexact {
                    return (Method::Simulate, Some(why.clone()));
                }
                match e.services.iter().find(|s| s.utilization >= 1.0) {
                    Some(s) => (
                        Method::Simulate,
                        Some(format!(
                            "service `{}` saturates at the observed rates (utilization {:.2})",
                            s.name, s.utilization
                        )),
                    ),
                    None => (Method::Analytic, None),
                }
            }
            m => (m, None),
        }
    }

    /// The prediction at the observed request rates by `method`, and the method used.
    pub fn predict_by(
        &self,
        observed: &[(usize, f64)],
        method: Method,
    ) -> Result<(NetEstimate, Method), DriftError> {
        let rates = self.fit(observed);
        let analytic = est(&with_rates(&self.net, &rates))?;
        match self.resolve(method, &analytic).0 {
            Method::Simulate => Ok((self.simulate_at(&rates)?, Method::Simulate)),
            _ => Ok((analytic, Method::Analytic)),
        }
    }

    /// A short seeded simulation at the given open-workload rates, shaped like the estimate.
    pub fn simulate_at(&self, rates: &[(usize, f64)]) -> Result<NetEstimate, DriftError> {
        let key: Vec<u64> = rates
            .iter()
            .flat_map(|(w, r)| [*w as u64, r.to_bits()])
            .collect();
        if let Some(e) = self
            .sim_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(e.clone());
        }
        let net = with_rates(&self.net, rates);
        let offered: f64 = rates.iter().map(|r| r.1).sum();
        let duration = if offered > 0.0 {
            (SIM_REQUESTS / offered).clamp(SIM_SECONDS.0, SIM_SECONDS.1)
        } else {
            SIM_SECONDS.0 * 10.0
        };
        let cfg = SimConfig {
            duration,
            warmup: duration / 10.0,
            seed: SIM_SEED,
            replications: 1,
        };
        let r =
            doppel_sim::simulate(&net, &cfg).map_err(|e| DriftError::Simulate(e.to_string()))?;
        let e = NetEstimate {
            workloads: r
                .workloads
                .iter()
                .map(|w| WorkloadEstimate {
                    name: w.name.clone(),
                    throughput_rps: w.throughput_rps,
                    mean_latency_ms: w.latency_ms.mean,
                })
                .collect(),
            services: r
                .services
                .iter()
                .map(|s| {
                    let weight: f64 = s.endpoints.iter().map(|e| e.throughput_rps).sum();
                    let mean_response_ms = if weight > 0.0 {
                        s.endpoints
                            .iter()
                            .map(|e| e.throughput_rps * e.mean_response_ms)
                            .sum::<f64>()
                            / weight
                    } else {
                        0.0
                    };
                    ServiceEstimate {
                        name: s.name.clone(),
                        utilization: s.utilization,
                        mean_in_system: s.mean_in_system,
                        throughput_rps: s.throughput_rps,
                        mean_response_ms,
                    }
                })
                .collect(),
            hosts: r
                .hosts
                .iter()
                .map(|h| HostEstimate {
                    name: h.name.clone(),
                    cpu_utilization: h.cpu_utilization,
                })
                .collect(),
            endpoints: net
                .endpoints
                .iter()
                .map(|ep| {
                    let found = r
                        .services
                        .get(ep.service as usize)
                        .and_then(|s| s.endpoints.iter().find(|e| e.name == ep.name));
                    EndpointEstimate {
                        throughput_rps: found.map_or(0.0, |e| e.throughput_rps),
                        mean_response_ms: found.map_or(0.0, |e| e.mean_response_ms),
                    }
                })
                .collect(),
        };
        let mut cache = self
            .sim_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= SIM_CACHE {
            cache.clear();
        }
        cache.insert(key, e.clone());
        Ok(e)
    }

    /// The compiled network.
    pub fn net(&self) -> &SimNet {
        &self.net
    }

    /// The estimate at the open-workload rates that best reproduce the observed service
    /// request rates (`observed`: service index → requests per second).
    pub fn predict(&self, observed: &[(usize, f64)]) -> Result<NetEstimate, DriftError> {
        est(&with_rates(&self.net, &self.fit(observed)))
    }

    /// The open-workload rates (non-negative least squares) that best reproduce the observed
    /// service request rates.
    pub fn fit(&self, observed: &[(usize, f64)]) -> Vec<(usize, f64)> {
        let mut k = vec![0.0; self.unit.len()];
        for _ in 0..100 {
            for w in 0..k.len() {
                let (mut num, mut den) = (0.0, 0.0);
                for &(s, obs) in observed {
                    let others: f64 = (0..k.len())
                        .filter(|&v| v != w)
                        .map(|v| k[v] * self.unit[v].1[s])
                        .sum();
                    let a = self.unit[w].1[s];
                    num += a * (obs - self.base[s] - others);
                    den += a * a;
                }
                if den > 0.0 {
                    k[w] = (num / den).max(0.0);
                }
            }
        }
        self.unit.iter().map(|(w, _)| *w).zip(k).collect()
    }
}

/// A service's drift over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDrift {
    /// The record stored in the drift history.
    #[serde(flatten)]
    pub record: DriftRecord,
    /// Buckets compared.
    pub buckets: usize,
    /// How the window's prediction was made (`analytic` or `simulate`).
    pub method: Method,
    /// Why `auto` chose to simulate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_simulated: Option<String>,
}

fn ape(pred: f64, obs: Option<f64>) -> Option<f64> {
    let o = obs.filter(|o| o.is_finite() && *o > 0.0)?;
    Some(if pred.is_finite() {
        (pred - o).abs() / o
    } else {
        10.0 // a saturated prediction against a finite observation: 1000%
    })
}

/// Drift per observed service over the given observations, predicted by `method`.
///
/// Analytic: each bucket is predicted at the rates fitted to all its services, and each
/// service's window record at the rates fitted to its own average rate. Simulated: one
/// simulation per bucket (cached) and one for the window at the rates fitted to all services'
/// averages; `auto` decides once per evaluation, from the window's analytic estimate.
pub fn evaluate(
    p: &Predictor,
    obs: &BTreeMap<String, BTreeMap<i64, Observed>>,
    twin_version: i64,
    at_ms: i64,
    window_s: i64,
    method: Method,
) -> Result<Vec<ServiceDrift>, DriftError> {
    let averages: Vec<(usize, Observed)> = obs
        .iter()
        .filter_map(|(svc, b)| p.index.get(svc).map(|&s| (s, window_average(b))))
        .collect();
    let avg_rates: Vec<(usize, f64)> = averages.iter().map(|(s, o)| (*s, o.rps)).collect();
    let (method, why_simulated) = p.resolve(method, &p.predict(&avg_rates)?);
    let window_sim = match method {
        Method::Simulate => Some(p.simulate_at(&p.fit(&avg_rates))?),
        _ => None,
    };
    let predict_bucket = |rates: &[(usize, f64)]| match method {
        Method::Simulate => p.simulate_at(&p.fit(rates)),
        _ => p.predict(rates),
    };
    // Buckets in time order, each with every service's observation.
    let mut by_bucket: BTreeMap<i64, Vec<(usize, Observed)>> = BTreeMap::new();
    for (svc, buckets) in obs {
        let Some(&s) = p.index.get(svc) else { continue };
        for (&b, o) in buckets {
            by_bucket.entry(b).or_default().push((s, *o));
        }
    }
    let mut apes: HashMap<usize, Vec<f64>> = HashMap::new();
    for items in by_bucket.values() {
        let rates: Vec<(usize, f64)> = items.iter().map(|(s, o)| (*s, o.rps)).collect();
        let e = predict_bucket(&rates)?;
        for (s, o) in items {
            let pe = &e.services[*s];
            let v = apes.entry(*s).or_default();
            v.extend(ape(pe.mean_response_ms, o.latency_ms));
            v.extend(ape(pe.utilization, o.utilization));
        }
    }
    let mut out = Vec::new();
    for (svc, buckets) in obs {
        let Some(&s) = p.index.get(svc) else { continue };
        let errs = apes.get(&s).cloned().unwrap_or_default();
        if errs.is_empty() {
            continue;
        }
        let avg = window_average(buckets);
        let own;
        let e = match &window_sim {
            Some(e) => e,
            None => {
                own = p.predict(&[(s, avg.rps)])?;
                &own
            }
        };
        let pe = &e.services[s];
        out.push(ServiceDrift {
            record: DriftRecord {
                at_ms,
                service: svc.clone(),
                twin_version,
                window_s,
                observed_rps: avg.rps,
                predicted_utilization: pe.utilization,
                observed_utilization: avg.utilization.unwrap_or(f64::NAN),
                predicted_latency_ms: pe.mean_response_ms,
                observed_latency_ms: avg.latency_ms.unwrap_or(f64::NAN),
                mape: 100.0 * errs.iter().sum::<f64>() / errs.len() as f64,
            },
            buckets: buckets.len(),
            method,
            why_simulated: why_simulated.clone(),
        });
    }
    Ok(out)
}

/// The mean of a service's observations over its buckets.
pub fn window_average(buckets: &BTreeMap<i64, Observed>) -> Observed {
    let n = buckets.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Observed) -> Option<f64>| {
        let v: Vec<f64> = buckets.values().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    Observed {
        rps: buckets.values().map(|o| o.rps).sum::<f64>() / n,
        latency_ms: mean(&|o| o.latency_ms),
        utilization: mean(&|o| o.utilization),
    }
}

/// Scales every time of a service-time distribution by `f`.
pub fn scale(d: &mut doppel_model::Distribution, f: f64) {
    use doppel_model::{Distribution as D, Duration};
    let s = |x: &mut Duration| *x = Duration::from_secs_f64(x.as_secs_f64() * f);
    match d {
        D::Constant { value } => s(value),
        D::Exponential { mean } => s(mean),
        D::Lognormal { mean, p99 } => {
            s(mean);
            s(p99);
        }
        D::Uniform { min, max } => {
            s(min);
            s(max);
        }
        D::Empirical { buckets } => buckets.iter_mut().for_each(|b| s(&mut b.le)),
    }
}

struct Fit {
    svc: String,
    s: usize,
    f: f64,
    u: f64,
    x: f64,
    workers: f64,
    h_obs: f64,
    h_pred: f64,
}

/// Recalibrates the services in `services` from their newest `recent` buckets of observations
/// (the ones that drifted: older buckets of the window may predate the change); returns the new
/// twin and the reason to record, or `None` when nothing could be fitted. A service that calls
/// a service in `services` or `drifting` waits: its own drift may be its callee's.
pub fn recalibrate(
    twin: &Twin,
    p: &Predictor,
    obs: &BTreeMap<String, BTreeMap<i64, Observed>>,
    services: &[String],
    drifting: &[String],
    recent: usize,
) -> Result<Option<(Twin, String)>, DriftError> {
    let mut notes = Vec::new();
    let mut fits: Vec<Fit> = Vec::new();
    let net = p.net();
    let due: Vec<usize> = services
        .iter()
        .chain(drifting)
        .filter_map(|s| p.index.get(s).copied())
        .collect();
    // A caller's latency and utilization follow its callees': fix drifting callees first and
    // leave their drifting callers for a later round.
    let calls_due = |s: usize| {
        net.endpoints
            .iter()
            .filter(|e| e.service as usize == s)
            .flat_map(|e| e.steps.iter().flat_map(|st| &st.calls))
            .any(|c| {
                let callee = net.endpoints[c.target as usize].service as usize;
                callee != s && due.contains(&callee)
            })
    };
    for svc in services {
        let (Some(&s), Some(buckets)) = (p.index.get(svc), obs.get(svc)) else {
            continue;
        };
        if calls_due(s) {
            continue;
        }
        let newest: BTreeMap<i64, Observed> = buckets
            .iter()
            .rev()
            .take(recent.max(1))
            .map(|(b, o)| (*b, *o))
            .collect();
        let avg = window_average(&newest);
        let (Some(u), x) = (avg.utilization, avg.rps) else {
            continue;
        };
        // A saturated service's utilization is capped: the law says nothing about its time.
        if x <= 0.0 || u <= 0.0 || u >= 0.95 {
            continue;
        }
        let workers: f64 = net
            .instances
            .iter()
            .filter(|i| i.service as usize == s)
            .map(|i| f64::from(i.workers))
            .sum();
        let eps: Vec<&doppel_sim::Endpoint> = net
            .endpoints
            .iter()
            .filter(|e| e.service as usize == s)
            .collect();
        if workers <= 0.0 || eps.is_empty() {
            continue;
        }
        let own = eps.iter().map(|e| e.service_time.mean()).sum::<f64>() / eps.len() as f64;
        let e = p.predict(&[(s, x)])?;
        let pe = &e.services[s];
        if pe.throughput_rps <= 0.0 || own <= 0.0 {
            continue;
        }
        let h_obs = u * workers / x;
        let h_pred = pe.utilization * workers / pe.throughput_rps;
        let waiting = (h_pred - own).max(0.0);
        let new_own = (h_obs - waiting).max(own * 0.01);
        let f = new_own / own;
        if !f.is_finite() {
            continue;
        }
        fits.push(Fit {
            svc: svc.clone(),
            s,
            f,
            u,
            x,
            workers,
            h_obs,
            h_pred,
        });
    }
    // The first guess ignores how the new service time changes CPU sharing on the hosts;
    // refine it so the re-predicted holding time matches the observed one.
    let build = |fits: &[Fit]| {
        let mut t = twin.clone();
        for fit in fits {
            if let Some(ms) = t.services.get_mut(&fit.svc) {
                for ep in ms.endpoints.values_mut() {
                    scale(&mut ep.service_time, fit.f);
                }
            }
        }
        t
    };
    for _ in 0..6 {
        let candidate = Predictor::new(&build(&fits))?;
        let mut moved = false;
        for fit in &mut fits {
            let e = candidate.predict(&[(fit.s, fit.x)])?;
            let pe = &e.services[fit.s];
            if pe.throughput_rps <= 0.0 {
                continue;
            }
            let h_new = pe.utilization * fit.workers / pe.throughput_rps;
            if h_new.is_finite() && h_new > 0.0 {
                let r = fit.h_obs / h_new;
                moved |= (r - 1.0).abs() > 1e-4;
                fit.f *= r;
            }
        }
        if !moved {
            break;
        }
    }
    fits.retain(|f| f.f.is_finite() && (f.f - 1.0).abs() >= 0.01);
    let build_final = build(&fits);
    for fit in &fits {
        notes.push(format!(
            "{}: service time x{:.3} (U {:.3} at {:.2}/s on {} workers: holding time {:.2} ms \
             observed, {:.2} ms predicted)",
            fit.svc,
            fit.f,
            fit.u,
            fit.x,
            fit.workers,
            1000.0 * fit.h_obs,
            1000.0 * fit.h_pred
        ));
    }
    if notes.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        build_final,
        format!(
            "recalibrated from live metrics by the utilization law over the last {} s: {}",
            recent.max(1) as i64 * RESOLUTION_S,
            notes.join("; ")
        ),
    )))
}

/// Window of settled traces call ratios are measured over, seconds.
pub const CALLS_WINDOW_S: i64 = 300;
/// Fewest traced requests of an endpoint before its call ratios are trusted.
pub const CALLS_MIN_REQUESTS: f64 = 20.0;
/// Relative difference between observed and modelled calls per request that triggers an update.
pub const CALLS_TOLERANCE: f64 = 0.1;

/// What settled traces showed of one endpoint: requests, and calls per callee endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedCalls {
    /// Requests whose traces settled.
    pub requests: f64,
    /// `(service, endpoint)` called → calls made by those requests in total.
    pub calls: BTreeMap<(String, String), f64>,
}

/// Call statistics from stored points: `traced_requests` of `endpoint:S/E` and `calls` of
/// `call:S/E>T/F` (see [`crate::ingest::otlp`]), summed over the points given.
pub fn observed_calls(points: &[MetricPoint]) -> BTreeMap<(String, String), ObservedCalls> {
    let mut out: BTreeMap<(String, String), ObservedCalls> = BTreeMap::new();
    let ep = |s: &str| {
        s.split_once('/')
            .map(|(a, b)| (a.to_string(), b.to_string()))
    };
    for p in points {
        match p.metric.as_str() {
            "traced_requests" => {
                if let Some(k) = p.entity.strip_prefix("endpoint:").and_then(ep) {
                    out.entry(k).or_default().requests += p.sum;
                }
            }
            "calls" => {
                let Some((from, to)) = p
                    .entity
                    .strip_prefix("call:")
                    .and_then(|s| s.split_once('>'))
                else {
                    continue;
                };
                if let (Some(from), Some(to)) = (ep(from), ep(to)) {
                    *out.entry(from).or_default().calls.entry(to).or_default() += p.sum;
                }
            }
            _ => {}
        }
    }
    out
}

/// The twin endpoint a traced endpoint name means: the same name, or the service's only one.
fn twin_endpoint<'t>(twin: &'t Twin, service: &str, endpoint: &str) -> Option<&'t str> {
    let s = twin.services.get(service)?;
    if let Some((k, _)) = s.endpoints.get_key_value(endpoint) {
        return Some(k.as_str());
    }
    if s.endpoints.len() == 1 {
        return s.endpoints.keys().next().map(String::as_str);
    }
    None
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Updates the twin's calls to match the mean calls per request measured from traces: for
/// every endpoint with at least [`CALLS_MIN_REQUESTS`] traced requests and every callee it
/// already calls, when the observed mean differs from the modelled one (probability × count,
/// summed over the calls to that callee) by more than [`CALLS_TOLERANCE`], the calls become
/// one call with `count` the mean rounded up and `probability` the mean over the count (so
/// the mean is the observed one). Calls the traces never show are left alone (the callee may
/// not be instrumented). Returns the new twin and the reason to record, or `None`.
pub fn recalibrate_calls(
    twin: &Twin,
    observed: &BTreeMap<(String, String), ObservedCalls>,
    window_s: i64,
) -> Option<(Twin, String)> {
    let mut t = twin.clone();
    let mut notes = Vec::new();
    for ((svc, ep), o) in observed {
        if o.requests < CALLS_MIN_REQUESTS {
            continue;
        }
        let Some(ep_name) = twin_endpoint(twin, svc, ep).map(str::to_owned) else {
            continue;
        };
        for ((to, to_ep), calls) in &o.calls {
            let Some(to_name) = twin_endpoint(twin, to, to_ep).map(str::to_owned) else {
                continue;
            };
            let Some(endpoint) = t
                .services
                .get_mut(svc)
                .and_then(|s| s.endpoints.get_mut(&ep_name))
            else {
                continue;
            };
            let callee_has_one = twin
                .services
                .get(to)
                .is_some_and(|s| s.endpoints.len() == 1);
            let matches = |c: &doppel_model::Call| {
                c.service == *to
                    && match &c.endpoint {
                        Some(e) => *e == to_name,
                        None => callee_has_one,
                    }
            };
            let modelled: f64 = endpoint
                .calls
                .iter()
                .flat_map(|s| s.calls())
                .filter(|c| matches(c))
                .map(|c| c.probability * f64::from(c.count))
                .sum();
            let any = endpoint.calls.iter().flat_map(|s| s.calls()).any(matches);
            let mean = calls / o.requests;
            if !any || (mean - modelled).abs() <= CALLS_TOLERANCE * modelled.max(0.05) {
                continue;
            }
            // Keep the first matching call (its timeout, retries...), drop the others.
            let mut first = true;
            let count = mean.ceil().max(1.0);
            for step in &mut endpoint.calls {
                let list: &mut Vec<doppel_model::Call> = match step {
                    doppel_model::CallStep::Call(c) => {
                        if matches(c) {
                            if first {
                                c.count = count as u32;
                                c.probability = round4(mean / count).min(1.0);
                                first = false;
                            } else {
                                c.count = 0; // marked for removal below
                            }
                        }
                        continue;
                    }
                    doppel_model::CallStep::Parallel(p) => &mut p.parallel,
                };
                for c in list.iter_mut().filter(|c| matches(c)) {
                    if first {
                        c.count = count as u32;
                        c.probability = round4(mean / count).min(1.0);
                        first = false;
                    } else {
                        c.count = 0;
                    }
                }
                list.retain(|c| c.count > 0);
            }
            endpoint.calls.retain(|s| match s {
                doppel_model::CallStep::Call(c) => c.count > 0,
                doppel_model::CallStep::Parallel(p) => !p.parallel.is_empty(),
            });
            for s in &mut endpoint.calls {
                if let doppel_model::CallStep::Parallel(p) = s
                    && p.parallel.len() == 1
                    && let Some(c) = p.parallel.pop()
                {
                    *s = doppel_model::CallStep::Call(c);
                }
            }
            notes.push(format!(
                "{svc}/{ep_name} → {to}/{to_name}: {modelled:.3} → {mean:.3} calls per request \
                 ({} requests traced)",
                o.requests
            ));
        }
    }
    if notes.is_empty() {
        return None;
    }
    Some((
        t,
        format!(
            "call ratios recalibrated from traces over the last {window_s} s: {}",
            notes.join("; ")
        ),
    ))
}

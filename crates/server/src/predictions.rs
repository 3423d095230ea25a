//! Early warning from the twin: anomalies, exhaustion forecasts and predicted SLO breaches on
//! the live metric history, and the alerts they raise (sent as Alertmanager webhooks).
//!
//! Every evaluation reads the stored 10-second buckets of the last `history_s` seconds and:
//!
//! - **Anomalies.** Each service's request rate, mean latency, utilization and memory feed
//!   `doppel_predict`'s online detector, one complete bucket at a time (each series keeps its
//!   detector between evaluations, so a bucket is scored once, from the buckets before it).
//! - **Exhaustion.** Memory of a service (per-instance limit `resources.memory`) or a host
//!   (`memory`) is extrapolated by Theil–Sen over the last `trend_s` seconds since the last
//!   restart (a drop of more than a quarter of the capacity); a forecast is kept when the
//!   growth is significant (Sen's interval above zero) and the resource fills within the
//!   horizon: "memory of service checkout full in 42m (90% interval 40m to 44m)".
//! - **SLO breaches.** The open workloads' rates are fitted to every bucket's observed service
//!   rates (as drift does) and forecast over the horizon (`doppel_predict::forecast`: seasonal
//!   profile and damped trend). Each service's *degradation*, its observed own service time
//!   over the twin's (utilization law: the holding time `U·c/X` minus the predicted wait on
//!   callees), is fitted by Theil–Sen over the last `trend_s` seconds; a significant upward
//!   trend of a service none of whose callees also degrades makes it a cause, extrapolated
//!   linearly. At each future step the twin, with the causes' service times stretched, is
//!   estimated analytically at the forecast rates (the fast path); a latency objective's
//!   percentile is the analytic mean of its target times a tail factor measured once per twin
//!   version by a seeded simulation at the twin's own load (so both agree there). The first
//!   step at or over the threshold is the predicted breach; capacity is the largest load of the
//!   same mix the twin still serves within the objective then (bisection), and a seeded
//!   simulation at the breach's conditions confirms (within its sampling error,
//!   [`SIM_AGREEMENT`]) or not what the fast path says; when they disagree, the tail factor is
//!   corrected by their ratio for the next evaluation.
//!
//! Time is the caller's (`now_ms`), never the clock's; seasons are found by
//! `doppel_predict` in days of `day_s` seconds (the demo compresses a day into ten minutes).
//!
//! Alerts are keyed by their labels: a new one is sent as firing, one no longer raised is sent
//! as resolved, and an unchanged one is not sent again. A predicted breach the simulation does
//! not confirm is listed but raises no alert.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use doppel_model::Twin;
use doppel_predict::capacity::{exhaustion, theil_sen};
use doppel_predict::detect::Detector;
use doppel_predict::doppel::{Doppel, DoppelConfig};
use doppel_predict::forecast::{self, Method as Forecaster};
use doppel_predict::series::{Series, human_duration};
use doppel_sim::SimNet;
use doppel_sim::analytic::NetEstimate;
use doppel_store::MetricPoint;
use serde::Serialize;
use serde_json::{Value, json};

use crate::drift::{DriftError, Observed, Predictor, est, observe, with_rates};
use crate::ingest::RESOLUTION_S;

/// Settings of the early warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictConfig {
    /// How often the background task evaluates, seconds.
    pub interval_s: u64,
    /// History read at each evaluation, seconds.
    pub history_s: i64,
    /// Window of the degradation and exhaustion trends, seconds.
    pub trend_s: i64,
    /// How far ahead breaches and exhaustion are looked for, seconds.
    pub horizon_s: i64,
    /// Length of a day for seasonality, seconds (86,400; the demo compresses it).
    pub day_s: i64,
    /// Coverage of prediction intervals.
    pub level: f64,
    /// Anomalies older than this no longer count towards an entity's anomaly alert, seconds.
    pub anomaly_hold_s: i64,
    /// Where alerts are sent (Alertmanager webhook format), if anywhere.
    pub webhook: Option<String>,
    /// This service's URL, for the payload's `externalURL` and the alerts' `generatorURL`.
    pub external_url: String,
}

impl Default for PredictConfig {
    fn default() -> Self {
        PredictConfig {
            interval_s: 60,
            history_s: 6 * 3600,
            trend_s: 3600,
            horizon_s: 86_400,
            day_s: 86_400,
            level: 0.9,
            anomaly_hold_s: 300,
            webhook: None,
            external_url: "http://127.0.0.1:7700".into(),
        }
    }
}

impl PredictConfig {
    /// Model time (seconds, days of 86,400 s) of a Unix millisecond time.
    fn dilate(&self, t_ms: i64) -> i64 {
        (i128::from(t_ms) * 86_400 / (i128::from(self.day_s.max(1)) * 1000)) as i64
    }

    /// Unix milliseconds of a model time.
    fn undilate(&self, t: i64) -> i64 {
        (i128::from(t) * i128::from(self.day_s.max(1)) * 1000 / 86_400) as i64
    }
}

/// A service whose own work is getting slower.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Degradation {
    /// The service.
    pub service: String,
    /// Its own service time now, over the twin's.
    pub factor_now: f64,
    /// Growth of that factor per hour.
    pub per_hour: f64,
}

/// A predicted SLO breach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloBreach {
    /// The SLO's name.
    pub slo: String,
    /// What it judges: `workload:W`, `service:S`, `endpoint:S/E`.
    pub target: String,
    /// The objective, e.g. `p99 <= 250 ms`.
    pub objective: String,
    /// The percentile.
    pub percentile: f64,
    /// The threshold, milliseconds.
    pub threshold_ms: f64,
    /// When the breach is predicted, Unix ms.
    pub at_ms: i64,
    /// Seconds from the evaluation to the breach.
    pub in_s: f64,
    /// The percentile the fast path predicts then, ms (infinite: saturated).
    pub predicted_ms: f64,
    /// The percentile the fast path gives now, ms.
    pub current_ms: f64,
    /// The target's request rate then, per second.
    pub load_rps: f64,
    /// The target's request rate now, per second.
    pub load_now_rps: f64,
    /// The largest request rate of the target the twin serves within the objective then.
    pub capacity_rps: f64,
    /// Services whose degradation was extrapolated.
    pub degrading: Vec<Degradation>,
    /// Percentile over analytic mean, from the calibration simulation.
    pub tail_factor: f64,
    /// Whether a simulation at the breach's conditions agrees (`None`: not simulated).
    pub confirmed: Option<bool>,
    /// The percentile that simulation measured, ms.
    pub simulated_ms: Option<f64>,
    /// In words.
    pub message: String,
}

/// A predicted exhaustion of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExhaustionForecast {
    /// The entity, e.g. `service:checkout`.
    pub entity: String,
    /// The metric, e.g. `memory_bytes`.
    pub metric: String,
    /// Capacity, in the metric's unit.
    pub capacity: f64,
    /// Fitted use now.
    pub used: f64,
    /// Growth per second.
    pub growth_per_s: f64,
    /// When it is full, Unix ms.
    pub at_ms: i64,
    /// Seconds from the evaluation until full.
    pub in_s: f64,
    /// Earliest plausible, seconds.
    pub earliest_s: Option<f64>,
    /// Latest plausible, seconds (`None`: it may never fill).
    pub latest_s: Option<f64>,
    /// In words.
    pub message: String,
}

/// A bucket the online detector found anomalous.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// The entity.
    pub entity: String,
    /// The metric (`rps`, `latency_ms`, `utilization`, `memory_bytes`).
    pub metric: String,
    /// Bucket start, Unix ms.
    pub at_ms: i64,
    /// The bucket's value.
    pub value: f64,
    /// Anomaly score in [0, 1].
    pub score: f64,
    /// The series' detector had seen less than two days then (it does not know the daily
    /// pattern yet): listed, never alerted on.
    pub learning: bool,
}

/// An alert, shaped for Alertmanager's webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Identity: a hash of the labels.
    pub fingerprint: String,
    /// Labels (`alertname` first).
    pub labels: BTreeMap<String, String>,
    /// Annotations (`summary`, ...).
    pub annotations: BTreeMap<String, String>,
    /// When it started firing, Unix ms.
    pub starts_at_ms: i64,
    /// When it resolved, Unix ms.
    pub ends_at_ms: Option<i64>,
}

/// Webhook delivery counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookStats {
    /// Payloads delivered (2xx).
    pub sent: u64,
    /// Payloads that failed after retries.
    pub failed: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// What one evaluation found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// When, Unix ms.
    pub at_ms: i64,
    /// The twin version evaluated.
    pub twin_version: i64,
    /// Predicted SLO breaches within the horizon.
    pub breaches: Vec<SloBreach>,
    /// Resources filling up within the horizon.
    pub exhaustions: Vec<ExhaustionForecast>,
    /// Anomalies found in the buckets new since the previous evaluation.
    pub anomalies: Vec<Anomaly>,
    /// Degrading services found (causes only).
    pub degrading: Vec<Degradation>,
    /// Why something could not be predicted.
    pub notes: Vec<String>,
}

/// Cached confirmation of a breach by simulation.
#[derive(Debug, Clone)]
struct Confirmation {
    version: i64,
    at_ms: i64,
    confirmed: bool,
    simulated_ms: f64,
}

/// The early warning's memory between evaluations.
#[derive(Default)]
pub struct State {
    /// The last evaluation.
    pub last: Evaluation,
    /// Evaluations since start.
    pub evaluations: u64,
    /// Recent anomalies, oldest first (at most [`ANOMALIES_KEPT`]).
    pub anomalies: VecDeque<Anomaly>,
    /// Alerts firing, by fingerprint.
    pub alerts: BTreeMap<String, Alert>,
    /// Recently resolved alerts, oldest first.
    pub resolved: VecDeque<Alert>,
    /// Webhook delivery.
    pub webhook: WebhookStats,
    detectors: HashMap<(String, String), (Doppel, i64, usize)>,
    tails: Option<(i64, BTreeMap<String, f64>)>,
    confirmations: HashMap<String, Confirmation>,
}

/// Anomalies kept in memory.
pub const ANOMALIES_KEPT: usize = 1000;

/// Fewest buckets a trend (degradation, exhaustion) is fitted on.
pub const MIN_TREND_BUCKETS: usize = 30;

/// Requests a prediction simulation aims at.
const SIM_REQUESTS: f64 = 20_000.0;

/// Relative sampling error of a simulated percentile the fast path is allowed: a p99 from
/// about 20,000 requests moves by a few percent between seeds or nearly equal rates, so a
/// simulation within 5% below the objective agrees with a predicted breach, and a fast path
/// within 5% of the simulation is not corrected.
pub const SIM_AGREEMENT: f64 = 0.05;

/// Value series per entity and metric, from stored buckets: `rps`, `latency_ms`,
/// `utilization`, `memory_bytes` (the bucket's largest sample: the fullest instance).
pub fn value_series(points: &[MetricPoint]) -> BTreeMap<(String, String), Vec<(i64, f64)>> {
    let mut out: BTreeMap<(String, String), Vec<(i64, f64)>> = BTreeMap::new();
    for (svc, buckets) in observe(points) {
        let entity = format!("service:{svc}");
        for (b, o) in buckets {
            let mut push = |m: &str, v: f64| {
                out.entry((entity.clone(), m.to_string()))
                    .or_default()
                    .push((b, v));
            };
            push("rps", o.rps);
            if let Some(l) = o.latency_ms {
                push("latency_ms", l);
            }
            if let Some(u) = o.utilization {
                push("utilization", u);
            }
        }
    }
    for p in points {
        if p.metric == "memory_bytes"
            || (p.metric == "utilization" && p.entity.starts_with("host:"))
        {
            let v = if p.metric == "memory_bytes" {
                p.max
            } else {
                p.mean()
            };
            out.entry((p.entity.clone(), p.metric.clone()))
                .or_default()
                .push((p.bucket_ms, v));
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|x| x.0);
        v.dedup_by_key(|x| x.0);
    }
    out
}

/// Feeds the buckets of every series newer than what its detector has seen (and complete
/// before `to_ms`) to the series' online detector; returns the anomalous ones.
fn detect(
    cfg: &PredictConfig,
    st: &mut State,
    series: &BTreeMap<(String, String), Vec<(i64, f64)>>,
    to_ms: i64,
) -> Vec<Anomaly> {
    let threshold = DoppelConfig::default().alert_threshold;
    let mut found = Vec::new();
    for ((entity, metric), pts) in series {
        let (det, seen, rows) = st
            .detectors
            .entry((entity.clone(), metric.clone()))
            .or_insert_with(|| (Doppel::new(DoppelConfig::default()), i64::MIN, 0));
        let two_days = (2 * cfg.day_s / RESOLUTION_S).max(1) as usize;
        for &(b, v) in pts {
            if b <= *seen || b + RESOLUTION_S * 1000 > to_ms {
                continue;
            }
            *seen = b;
            *rows += 1;
            let score = det.update(cfg.dilate(b), v);
            if score >= threshold {
                found.push(Anomaly {
                    entity: entity.clone(),
                    metric: metric.clone(),
                    at_ms: b,
                    value: v,
                    score,
                    learning: *rows < two_days,
                });
            }
        }
    }
    found
}

/// Bytes for people: `812 MiB`, `1.5 GiB`.
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v.abs() >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v.abs() >= 100.0 || u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A number with thousands separators: `1,850`.
pub fn grouped(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian; Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 in UTC with milliseconds: `2026-11-28T09:10:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = civil(days);
    let s = rem / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        rem % 1000
    )
}

/// "09:10 UTC today", "09:10 UTC tomorrow", "09:10 UTC on 2026-11-30".
pub fn clock(at_ms: i64, now_ms: i64) -> String {
    let day = |t: i64| t.div_euclid(86_400_000);
    let s = at_ms.rem_euclid(86_400_000) / 1000;
    let hm = format!("{:02}:{:02} UTC", s / 3600, s / 60 % 60);
    match day(at_ms) - day(now_ms) {
        0 => format!("{hm} today"),
        1 => format!("{hm} tomorrow"),
        _ => {
            let (y, m, d) = civil(day(at_ms));
            format!("{hm} on {y:04}-{m:02}-{d:02}")
        }
    }
}

/// Exhaustion forecasts of memory with a known capacity.
fn exhaustions(
    cfg: &PredictConfig,
    twin: &Twin,
    series: &BTreeMap<(String, String), Vec<(i64, f64)>>,
    now_ms: i64,
) -> Vec<ExhaustionForecast> {
    let mut out = Vec::new();
    for ((entity, metric), pts) in series {
        if metric != "memory_bytes" {
            continue;
        }
        let capacity = if let Some(s) = entity.strip_prefix("service:") {
            twin.services
                .get(s)
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.memory)
        } else if let Some(h) = entity.strip_prefix("host:") {
            twin.hosts.get(h).and_then(|h| h.memory)
        } else {
            None
        };
        let Some(capacity) = capacity.map(|b| b.get() as f64).filter(|c| *c > 0.0) else {
            continue;
        };
        // Since the last restart (a drop of over a quarter of the capacity), within the window.
        let from = now_ms - cfg.trend_s * 1000;
        let mut start = pts.partition_point(|p| p.0 < from);
        for i in start.max(1)..pts.len() {
            if pts[i].1 < pts[i - 1].1 - 0.25 * capacity {
                start = i;
            }
        }
        let recent = &pts[start..];
        if recent.len() < MIN_TREND_BUCKETS {
            continue;
        }
        let s = Series::new(
            recent.iter().map(|p| p.0 / 1000).collect(),
            recent.iter().map(|p| p.1).collect(),
        );
        let Ok(e) = exhaustion(&s, capacity, None, cfg.level) else {
            continue;
        };
        // The last row is a bucket start: the level "now" is some seconds older.
        let lag_s = (now_ms - recent[recent.len() - 1].0) as f64 / 1000.0;
        let (Some(secs), Some(_)) = (e.seconds_to_full, e.latest) else {
            continue;
        };
        let in_s = (secs - lag_s).max(0.0);
        if in_s > cfg.horizon_s as f64 {
            continue;
        }
        let at_ms = now_ms + (in_s * 1000.0) as i64;
        let pct = (cfg.level * 100.0).round();
        let lo = e
            .earliest
            .map_or("now".into(), |x| human_duration((x - lag_s).max(0.0)));
        let hi = e
            .latest
            .map_or("never".into(), |x| human_duration((x - lag_s).max(0.0)));
        let what = entity.replacen(':', " ", 1);
        let message = if in_s <= 0.0 {
            format!(
                "memory of {what} is full ({} of {})",
                human_bytes(e.level_now),
                human_bytes(capacity)
            )
        } else {
            format!(
                "memory of {what} full in {} ({pct}% interval {lo} to {hi}), at about {}; {} of \
                 {} used, growing {}/min",
                human_duration(in_s),
                clock(at_ms, now_ms),
                human_bytes(e.level_now),
                human_bytes(capacity),
                human_bytes(e.slope_per_second * 60.0)
            )
        };
        out.push(ExhaustionForecast {
            entity: entity.clone(),
            metric: metric.clone(),
            capacity,
            used: e.level_now,
            growth_per_s: e.slope_per_second,
            at_ms,
            in_s,
            earliest_s: e.earliest.map(|x| (x - lag_s).max(0.0)),
            latest_s: e.latest.map(|x| (x - lag_s).max(0.0)),
            message,
        });
    }
    out
}

/// A latency objective resolved against the compiled network.
struct Objective {
    name: String,
    target: String,
    percentile: f64,
    threshold_ms: f64,
    kind: Target,
}

#[derive(Clone, Copy)]
enum Target {
    Workload(usize),
    Service(usize),
    Endpoint(usize),
}

fn objectives(twin: &Twin, net: &SimNet) -> Vec<Objective> {
    let mut out = Vec::new();
    for (name, slo) in &twin.slos {
        let Some(lat) = &slo.latency else {
            continue;
        };
        let svc = |s: &str| net.services.iter().position(|x| x.name == s);
        let (kind, target) = match (&slo.workload, &slo.service, &slo.endpoint) {
            (Some(w), _, _) => match net.workloads.iter().position(|x| &x.name == w) {
                Some(k) => (Target::Workload(k), format!("workload:{w}")),
                None => continue,
            },
            (None, Some(s), None) => match svc(s) {
                Some(k) => (Target::Service(k), format!("service:{s}")),
                None => continue,
            },
            (None, Some(s), Some(e)) => {
                let Some(k) = svc(s) else { continue };
                match net
                    .endpoints
                    .iter()
                    .position(|x| x.service as usize == k && &x.name == e)
                {
                    Some(ep) => (Target::Endpoint(ep), format!("endpoint:{s}/{e}")),
                    None => continue,
                }
            }
            _ => continue,
        };
        out.push(Objective {
            name: name.clone(),
            target,
            percentile: lat.percentile,
            threshold_ms: lat.threshold.as_secs_f64() * 1000.0,
            kind,
        });
    }
    out
}

impl Objective {
    /// The target's analytic mean latency (ms) and request rate (per second).
    fn mean_and_rate(&self, e: &NetEstimate) -> (f64, f64) {
        match self.kind {
            Target::Workload(w) => e
                .workloads
                .get(w)
                .map_or((0.0, 0.0), |x| (x.mean_latency_ms, x.throughput_rps)),
            Target::Service(s) => e
                .services
                .get(s)
                .map_or((0.0, 0.0), |x| (x.mean_response_ms, x.throughput_rps)),
            Target::Endpoint(k) => e
                .endpoints
                .get(k)
                .map_or((0.0, 0.0), |x| (x.mean_response_ms, x.throughput_rps)),
        }
    }

    fn objective(&self) -> String {
        format!("p{} <= {} ms", self.percentile, grouped(self.threshold_ms))
    }

    /// Who breaches, in words: `frontend/home p99`, `checkout p99`.
    fn subject(&self) -> String {
        let t = self
            .target
            .split_once(':')
            .map_or(self.target.as_str(), |x| x.1);
        format!("{t} p{}", self.percentile)
    }
}

/// The network with the given services' own service times stretched.
fn stretched(net: &SimNet, factors: &[(usize, f64)]) -> SimNet {
    let mut n = net.clone();
    for &(s, f) in factors {
        for ep in n.endpoints.iter_mut().filter(|e| e.service as usize == s) {
            ep.service_time = ep.service_time.scaled(f.max(0.01));
        }
    }
    n
}

fn sim_config(rates: &[(usize, f64)]) -> doppel_sim::SimConfig {
    let offered: f64 = rates.iter().map(|r| r.1).sum();
    let duration = if offered > 0.0 {
        (SIM_REQUESTS / offered).clamp(60.0, 600.0)
    } else {
        300.0
    };
    doppel_sim::SimConfig {
        duration,
        warmup: duration / 10.0,
        seed: 1,
        replications: 1,
    }
}

/// Each latency objective's percentile as simulated (a seeded run of about 20,000 requests at
/// `rates`), by objective name.
pub fn simulated_percentiles(
    twin: &Twin,
    net: &SimNet,
    rates: &[(usize, f64)],
) -> Result<BTreeMap<String, f64>, DriftError> {
    let run = with_rates(net, rates);
    let plan = doppel_sim::scenario::plan_for_twin(twin, &run, 10.0)
        .map_err(|e| DriftError::Simulate(e.to_string()))?;
    let r = doppel_sim::simulate_plan(&run, &plan, &sim_config(rates), &|_, _| {})
        .map_err(|e| DriftError::Simulate(e.to_string()))?;
    Ok(r.slos
        .iter()
        .filter(|v| v.unit == "ms")
        .filter_map(|v| v.achieved.map(|a| (v.name.clone(), a)))
        .collect())
}

/// The twin's own open-workload rates.
fn nominal_rates(net: &SimNet) -> Vec<(usize, f64)> {
    net.workloads
        .iter()
        .enumerate()
        .filter_map(|(w, wl)| match &wl.load {
            doppel_sim::Load::Open { schedule } => {
                Some((w, schedule.iter().map(|s| s.1).fold(0.0, f64::max)))
            }
            doppel_sim::Load::Closed { .. } => None,
        })
        .collect()
}

/// Each latency objective's tail factor (simulated percentile over analytic mean) at the
/// twin's own load: the fast path's percentile is the analytic mean times this.
pub fn tail_factors(twin: &Twin, net: &SimNet) -> Result<BTreeMap<String, f64>, DriftError> {
    let rates = nominal_rates(net);
    let sim = simulated_percentiles(twin, net, &rates)?;
    let e = est(&with_rates(net, &rates))?;
    Ok(objectives(twin, net)
        .iter()
        .filter_map(|o| {
            let (mean, _) = o.mean_and_rate(&e);
            let p = sim.get(&o.name)?;
            (mean > 0.0 && mean.is_finite() && *p > 0.0).then(|| (o.name.clone(), p / mean))
        })
        .collect())
}

/// Services each service calls, directly or not.
fn callees(net: &SimNet) -> Vec<BTreeSet<usize>> {
    let n = net.services.len();
    let mut direct = vec![BTreeSet::new(); n];
    for e in &net.endpoints {
        for c in e.steps.iter().flat_map(|s| &s.calls) {
            let t = net.endpoints[c.target as usize].service as usize;
            if t != e.service as usize {
                direct[e.service as usize].insert(t);
            }
        }
    }
    let mut all = direct.clone();
    loop {
        let mut changed = false;
        for s in 0..n {
            let more: Vec<usize> = all[s]
                .iter()
                .flat_map(|&c| all[c].iter().copied())
                .collect();
            for m in more {
                changed |= all[s].insert(m);
            }
        }
        if !changed {
            return all;
        }
    }
}

/// Degradation factors per service over the trend window: `(t_ms, factor)` per service index.
fn degradation_series(
    p: &Predictor,
    obs: &BTreeMap<String, BTreeMap<i64, Observed>>,
    fits: &BTreeMap<i64, Vec<(usize, f64)>>,
    from_ms: i64,
) -> Result<BTreeMap<usize, Vec<(i64, f64)>>, DriftError> {
    let net = p.net();
    let workers: Vec<f64> = (0..net.services.len())
        .map(|s| {
            net.instances
                .iter()
                .filter(|i| i.service as usize == s)
                .map(|i| f64::from(i.workers))
                .sum()
        })
        .collect();
    let mut out: BTreeMap<usize, Vec<(i64, f64)>> = BTreeMap::new();
    for (&b, rates) in fits.range(from_ms..) {
        let e = est(&with_rates(net, rates))?;
        for (svc, buckets) in obs {
            let (Some(&s), Some(o)) = (p.index.get(svc), buckets.get(&b)) else {
                continue;
            };
            let (Some(u), x) = (o.utilization, o.rps) else {
                continue;
            };
            let pe = &e.services[s];
            if x <= 0.0 || u <= 0.0 || u >= 0.95 || pe.throughput_rps <= 0.0 || workers[s] <= 0.0 {
                continue;
            }
            // Own service time, weighted by the endpoints' predicted rates.
            let (mut num, mut den) = (0.0, 0.0);
            for (k, ep) in net.endpoints.iter().enumerate() {
                if ep.service as usize == s {
                    let r = e.endpoints.get(k).map_or(0.0, |x| x.throughput_rps);
                    num += r * ep.service_time.mean();
                    den += r;
                }
            }
            if den <= 0.0 || num <= 0.0 {
                continue;
            }
            let own = num / den;
            let h_obs = u * workers[s] / x;
            let h_pred = pe.utilization * workers[s] / pe.throughput_rps;
            let f = (h_obs - (h_pred - own)) / own;
            if f.is_finite() {
                out.entry(s).or_default().push((b, f));
            }
        }
    }
    Ok(out)
}

/// Evaluates everything at `now_ms` from the stored buckets `points` (the last `history_s`).
pub fn evaluate(
    cfg: &PredictConfig,
    twin: &Twin,
    version: i64,
    predictor: Option<&Predictor>,
    points: &[MetricPoint],
    now_ms: i64,
    st: &mut State,
) -> Evaluation {
    let width = RESOLUTION_S * 1000;
    let to_ms = now_ms - now_ms.rem_euclid(width);
    let complete: Vec<MetricPoint> = points
        .iter()
        .filter(|p| p.bucket_ms < to_ms)
        .cloned()
        .collect();
    let series = value_series(&complete);
    let mut ev = Evaluation {
        at_ms: now_ms,
        twin_version: version,
        anomalies: detect(cfg, st, &series, to_ms),
        exhaustions: exhaustions(cfg, twin, &series, now_ms),
        ..Evaluation::default()
    };
    match predictor {
        None => ev
            .notes
            .push("the twin does not compile: no SLO predictions".into()),
        Some(p) => {
            if let Err(e) = breaches(cfg, twin, version, p, &complete, now_ms, st, &mut ev) {
                ev.notes.push(format!("SLO predictions failed: {e}"));
            }
        }
    }
    ev
}

#[allow(clippy::too_many_arguments)]
fn breaches(
    cfg: &PredictConfig,
    twin: &Twin,
    version: i64,
    p: &Predictor,
    points: &[MetricPoint],
    now_ms: i64,
    st: &mut State,
    ev: &mut Evaluation,
) -> Result<(), DriftError> {
    let net = p.net();
    let objs = objectives(twin, net);
    if objs.is_empty() {
        return Ok(());
    }
    let obs = observe(points);
    // Fitted open-workload rates per bucket.
    let mut per_bucket: BTreeMap<i64, Vec<(usize, f64)>> = BTreeMap::new();
    for (svc, buckets) in &obs {
        if let Some(&s) = p.index.get(svc) {
            for (b, o) in buckets {
                per_bucket.entry(*b).or_default().push((s, o.rps));
            }
        }
    }
    let fits: BTreeMap<i64, Vec<(usize, f64)>> =
        per_bucket.iter().map(|(b, o)| (*b, p.fit(o))).collect();
    if fits.len() < 30 {
        ev.notes.push(format!(
            "{} buckets of history; SLO predictions need 30",
            fits.len()
        ));
        return Ok(());
    }
    // Degradation: trends of the own-service-time factors; causes are the deepest.
    let degr = degradation_series(p, &obs, &fits, now_ms - cfg.trend_s * 1000)?;
    let mut trending: BTreeMap<usize, (f64, f64)> = BTreeMap::new(); // s -> (level now, per ms)
    for (s, pts) in &degr {
        if pts.len() < MIN_TREND_BUCKETS {
            continue;
        }
        let xy: Vec<(f64, f64)> = pts.iter().map(|&(t, f)| ((t - now_ms) as f64, f)).collect();
        let Some(fit) = theil_sen(&xy, 0.99) else {
            continue;
        };
        let growth = fit.slope * cfg.horizon_s as f64 * 1000.0;
        if fit.lower > 0.0 && growth >= 0.05 {
            trending.insert(*s, (fit.intercept, fit.slope));
        }
    }
    let reach = callees(net);
    let causes: Vec<(usize, f64, f64)> = trending
        .iter()
        .filter(|(s, _)| !reach[**s].iter().any(|c| trending.contains_key(c)))
        .map(|(s, (level, slope))| (*s, *level, *slope))
        .collect();
    ev.degrading = causes
        .iter()
        .map(|&(s, level, slope)| Degradation {
            service: net.services[s].name.clone(),
            factor_now: level,
            per_hour: slope * 3_600_000.0,
        })
        .collect();
    let factors_at = |t_ms: i64| -> Vec<(usize, f64)> {
        causes
            .iter()
            .map(|&(s, level, slope)| (s, (level + slope * (t_ms - now_ms) as f64).max(0.05)))
            .collect()
    };
    // Load forecasts per open workload.
    let workloads: Vec<usize> = fits
        .values()
        .next()
        .map(|r| r.iter().map(|x| x.0).collect())
        .unwrap_or_default();
    let horizon_model = cfg.dilate(cfg.horizon_s * 1000).max(1);
    let mut paths: Vec<(usize, forecast::Forecast)> = Vec::new();
    for (i, &w) in workloads.iter().enumerate() {
        let s = Series::new(
            fits.keys().map(|b| cfg.dilate(*b)).collect(),
            fits.values()
                .map(|r| r.get(i).map_or(0.0, |x| x.1))
                .collect(),
        );
        match forecast::forecast(&s, horizon_model, Forecaster::Doppel, cfg.level) {
            Ok(f) => paths.push((w, f)),
            Err(e) => {
                ev.notes
                    .push(format!("no load forecast for workload {w}: {e}"));
                return Ok(());
            }
        }
    }
    let steps = paths.first().map_or(0, |p| p.1.mean.len());
    if steps == 0 {
        return Ok(());
    }
    let now_rates = fits.values().next_back().cloned().unwrap_or_default();
    // Tail factors of this twin version (one simulation per version).
    if st.tails.as_ref().is_none_or(|t| t.0 != version) {
        st.tails = Some((version, tail_factors(twin, net)?));
        st.confirmations.clear();
    }
    let tails = st.tails.as_ref().map(|t| t.1.clone()).unwrap_or_default();
    let at_step = |k: usize| -> (i64, Vec<(usize, f64)>) {
        let t_ms = paths[0]
            .1
            .timestamps
            .get(k)
            .map_or(now_ms, |t| cfg.undilate(*t));
        let rates = paths
            .iter()
            .map(|(w, f)| (*w, f.mean.get(k).copied().unwrap_or(0.0).max(0.0)))
            .collect();
        (t_ms, rates)
    };
    let percentile = |o: &Objective, e: &NetEstimate| -> (f64, f64) {
        let (mean, rate) = o.mean_and_rate(e);
        let tail = tails.get(&o.name).copied().unwrap_or(1.0);
        (mean * tail, rate)
    };
    let now_est = est(&with_rates(
        &stretched(net, &factors_at(now_ms)),
        &now_rates,
    ))?;
    // At most 288 steps are estimated over the horizon.
    let stride = steps.div_ceil(288).max(1);
    let mut found: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for k in (0..steps).step_by(stride) {
        if found.len() == objs.len() {
            break;
        }
        let (t_ms, rates) = at_step(k);
        let e = est(&with_rates(&stretched(net, &factors_at(t_ms)), &rates))?;
        for o in &objs {
            if found.contains_key(&o.name) {
                continue;
            }
            let (v, _) = percentile(o, &e);
            if !v.is_finite() || v >= o.threshold_ms {
                found.insert(o.name.clone(), (k, v));
            }
        }
    }
    for o in &objs {
        let Some(&(k, predicted)) = found.get(&o.name) else {
            continue;
        };
        let (t_ms, rates) = at_step(k);
        let factors = factors_at(t_ms);
        let run = stretched(net, &factors);
        let e = est(&with_rates(&run, &rates))?;
        let (_, load) = percentile(o, &e);
        let (current, load_now) = percentile(o, &now_est);
        // Capacity: the largest scale of this mix still within the objective (bisection).
        let within = |scale: f64| -> bool {
            let r: Vec<(usize, f64)> = rates.iter().map(|(w, x)| (*w, x * scale)).collect();
            est(&with_rates(&run, &r))
                .map(|e| percentile(o, &e).0)
                .is_ok_and(|v| v.is_finite() && v < o.threshold_ms)
        };
        let (mut lo, mut hi) = (0.0, 1.0);
        if within(1.0) {
            hi = 2.0;
            while within(hi) && hi < 1e6 {
                lo = hi;
                hi *= 2.0;
            }
        }
        for _ in 0..30 {
            let mid = (lo + hi) / 2.0;
            if within(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let capacity = load * lo;
        // Confirmation by simulation, reused while the breach stays about where it was. The
        // simulation also corrects the tail factor: the next evaluation's fast path uses the
        // ratio it measured at the breach's conditions (so the two converge).
        let lead = (t_ms - now_ms).max(0);
        let reuse = st.confirmations.get(&o.name).filter(|c| {
            c.version == version
                && (c.at_ms - t_ms).abs() <= (lead / 10).max(cfg.interval_s as i64 * 1000)
        });
        let (confirmed, simulated) = match reuse {
            Some(c) => (c.confirmed, c.simulated_ms),
            None => {
                let sim = simulated_percentiles(twin, &run, &rates)?;
                let v = sim.get(&o.name).copied().unwrap_or(f64::INFINITY);
                let c = Confirmation {
                    version,
                    at_ms: t_ms,
                    confirmed: v >= o.threshold_ms * (1.0 - SIM_AGREEMENT),
                    simulated_ms: v,
                };
                st.confirmations.insert(o.name.clone(), c.clone());
                if v.is_finite()
                    && predicted.is_finite()
                    && predicted > 0.0
                    && (v / predicted - 1.0).abs() > SIM_AGREEMENT
                {
                    let r = (v / predicted).clamp(0.5, 2.0);
                    if let Some((_, t)) = st.tails.as_mut()
                        && let Some(k) = t.get_mut(&o.name)
                    {
                        *k *= r;
                    }
                }
                (c.confirmed, c.simulated_ms)
            }
        };
        let in_s = lead as f64 / 1000.0;
        let when = if lead <= 0 {
            "now".to_string()
        } else {
            format!(
                "at about {} (in {})",
                clock(t_ms, now_ms),
                human_duration(in_s)
            )
        };
        let why = if ev.degrading.is_empty() {
            String::new()
        } else {
            format!(
                "; degrading: {}",
                ev.degrading
                    .iter()
                    .map(|d| format!(
                        "{} x{:.2} now, +{:.2}/h",
                        d.service, d.factor_now, d.per_hour
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let sim_note = if confirmed {
            format!("; confirmed by simulation ({} ms)", grouped(simulated))
        } else {
            format!("; not confirmed by simulation ({} ms)", grouped(simulated))
        };
        let message = format!(
            "{} breaches {} ms {when}, when load reaches {} req/s; capacity is {} req/s{why}{sim_note}",
            o.subject(),
            grouped(o.threshold_ms),
            grouped(load),
            grouped(capacity),
        );
        ev.breaches.push(SloBreach {
            slo: o.name.clone(),
            target: o.target.clone(),
            objective: o.objective(),
            percentile: o.percentile,
            threshold_ms: o.threshold_ms,
            at_ms: t_ms,
            in_s,
            predicted_ms: predicted,
            current_ms: current,
            load_rps: load,
            load_now_rps: load_now,
            capacity_rps: capacity,
            degrading: ev.degrading.clone(),
            tail_factor: tails.get(&o.name).copied().unwrap_or(1.0),
            confirmed: Some(confirmed),
            simulated_ms: Some(simulated),
            message,
        });
    }
    Ok(())
}

fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let l: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    format!("{:016x}", crate::ingest::series_hash(&l))
}

fn alert(
    name: &str,
    labels: &[(&str, &str)],
    annotations: Vec<(&str, String)>,
    now_ms: i64,
) -> Alert {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("alertname".into(), name.into());
    Alert {
        fingerprint: fingerprint(&l),
        labels: l,
        annotations: annotations
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        starts_at_ms: now_ms,
        ends_at_ms: None,
    }
}

/// The alerts an evaluation raises (an entity's anomaly alert is up while two or more of its
/// metrics had an anomaly within the last `anomaly_hold_s`).
fn raised(cfg: &PredictConfig, st: &State, ev: &Evaluation) -> Vec<Alert> {
    let now = ev.at_ms;
    let mut out = Vec::new();
    // A breach the simulation does not confirm stays in the predictions but pages no one.
    for b in ev.breaches.iter().filter(|b| b.confirmed == Some(true)) {
        out.push(alert(
            "DoppelSloBreachPredicted",
            &[
                ("slo", &b.slo),
                ("target", &b.target),
                ("severity", "warning"),
            ],
            vec![
                ("summary", b.message.clone()),
                ("breach_at", rfc3339(b.at_ms)),
                ("load_rps", format!("{:.1}", b.load_rps)),
                ("capacity_rps", format!("{:.1}", b.capacity_rps)),
                (
                    "confirmed_by_simulation",
                    format!("{}", b.confirmed == Some(true)),
                ),
            ],
            now,
        ));
    }
    for x in &ev.exhaustions {
        out.push(alert(
            "DoppelResourceExhaustion",
            &[
                ("entity", &x.entity),
                ("metric", &x.metric),
                ("severity", "warning"),
            ],
            vec![
                ("summary", x.message.clone()),
                ("full_at", rfc3339(x.at_ms)),
            ],
            now,
        ));
    }
    // Anomaly alerts are per entity, and only when corroborated: two or more of its metrics
    // anomalous within the hold time (one odd bucket of one series is shown, not sent).
    let mut recent: BTreeMap<&str, BTreeMap<&str, &Anomaly>> = BTreeMap::new();
    for a in st.anomalies.iter().chain(&ev.anomalies) {
        if !a.learning && now - a.at_ms <= cfg.anomaly_hold_s * 1000 {
            recent.entry(&a.entity).or_default().insert(&a.metric, a);
        }
    }
    for (entity, metrics) in recent {
        if metrics.len() < 2 {
            continue;
        }
        let what: Vec<String> = metrics
            .values()
            .map(|a| {
                format!(
                    "{} {:.4} (score {:.2}, {})",
                    a.metric,
                    a.value,
                    a.score,
                    rfc3339(a.at_ms)
                )
            })
            .collect();
        out.push(alert(
            "DoppelAnomaly",
            &[("entity", entity), ("severity", "info")],
            vec![(
                "summary",
                format!(
                    "{} behaves anomalously: {}",
                    entity.replacen(':', " ", 1),
                    what.join("; ")
                ),
            )],
            now,
        ));
    }
    out
}

impl State {
    /// Records an evaluation and returns the alerts that changed: newly firing and newly
    /// resolved (an alert still raised is not returned again).
    pub fn record(&mut self, cfg: &PredictConfig, ev: Evaluation) -> Vec<Alert> {
        let now = ev.at_ms;
        let raised = raised(cfg, self, &ev);
        let mut changed = Vec::new();
        let keys: BTreeSet<String> = raised.iter().map(|a| a.fingerprint.clone()).collect();
        for a in raised {
            match self.alerts.get_mut(&a.fingerprint) {
                Some(cur) => cur.annotations = a.annotations, // current wording, not re-sent
                None => {
                    changed.push(a.clone());
                    self.alerts.insert(a.fingerprint.clone(), a);
                }
            }
        }
        let gone: Vec<String> = self
            .alerts
            .keys()
            .filter(|k| !keys.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(mut a) = self.alerts.remove(&k) {
                a.ends_at_ms = Some(now);
                changed.push(a.clone());
                self.resolved.push_back(a);
                while self.resolved.len() > 100 {
                    self.resolved.pop_front();
                }
            }
        }
        self.anomalies.extend(ev.anomalies.iter().cloned());
        while self.anomalies.len() > ANOMALIES_KEPT {
            self.anomalies.pop_front();
        }
        self.evaluations += 1;
        self.last = ev;
        changed
    }
}

/// Alertmanager webhook payloads (version 4) for changed alerts, one per alert name (the
/// group), firing when any of its alerts fires.
pub fn payloads(cfg: &PredictConfig, changed: &[Alert]) -> Vec<Value> {
    let mut groups: BTreeMap<String, Vec<&Alert>> = BTreeMap::new();
    for a in changed {
        let name = a.labels.get("alertname").cloned().unwrap_or_default();
        groups.entry(name).or_default().push(a);
    }
    let generator = format!("{}/api/predictions", cfg.external_url.trim_end_matches('/'));
    groups
        .into_iter()
        .map(|(name, alerts)| {
            let common = |f: &dyn Fn(&Alert) -> &BTreeMap<String, String>| {
                let mut c = f(alerts[0]).clone();
                c.retain(|k, v| alerts.iter().all(|a| f(a).get(k) == Some(v)));
                c
            };
            let status = if alerts.iter().any(|a| a.ends_at_ms.is_none()) {
                "firing"
            } else {
                "resolved"
            };
            json!({
                "version": "4",
                "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
                "truncatedAlerts": 0,
                "status": status,
                "receiver": "doppel",
                "groupLabels": {"alertname": name},
                "commonLabels": common(&|a| &a.labels),
                "commonAnnotations": common(&|a| &a.annotations),
                "externalURL": cfg.external_url,
                "alerts": alerts.iter().map(|a| json!({
                    "status": if a.ends_at_ms.is_none() { "firing" } else { "resolved" },
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": rfc3339(a.starts_at_ms),
                    "endsAt": a.ends_at_ms.map_or("0001-01-01T00:00:00Z".to_string(), rfc3339),
                    "generatorURL": generator,
                    "fingerprint": a.fingerprint,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// Posts one payload (three attempts); blocking.
pub fn post(url: &str, payload: &Value) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .user_agent("doppel")
        .build()
        .into();
    let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(250 << attempt));
        }
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(&body[..])
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("POST {url}: status {}", r.status().as_u16()),
            Err(e) => last = format!("POST {url}: {e}"),
        }
    }
    Err(last)
}

/// The predictions as the API shows them.
pub fn summary(cfg: &PredictConfig, st: &State) -> Value {
    json!({
        "at_ms": st.last.at_ms,
        "evaluations": st.evaluations,
        "twin_version": st.last.twin_version,
        "breaches": st.last.breaches,
        "exhaustions": st.last.exhaustions,
        "degrading": st.last.degrading,
        "anomalies": st.anomalies.iter().rev().take(50).collect::<Vec<_>>(),
        "alerts": st.alerts.values().collect::<Vec<_>>(),
        "resolved": st.resolved.iter().rev().take(20).collect::<Vec<_>>(),
        "notes": st.last.notes,
        "webhook": st.webhook,
        "config": cfg,
    })
}

/// One series for the UI: its history, a forecast band over the horizon and the anomalies
/// marked on it.
pub fn series_view(
    cfg: &PredictConfig,
    st: &State,
    entity: &str,
    metric: &str,
    points: &[MetricPoint],
) -> Value {
    let all = value_series(points);
    let pts = all
        .get(&(entity.to_string(), metric.to_string()))
        .cloned()
        .unwrap_or_default();
    let s = Series::new(
        pts.iter().map(|p| cfg.dilate(p.0)).collect(),
        pts.iter().map(|p| p.1).collect(),
    );
    let band = forecast::forecast(
        &s,
        cfg.dilate(cfg.horizon_s * 1000).max(1),
        Forecaster::Doppel,
        cfg.level,
    );
    let forecast = match band {
        Ok(f) => json!({
            "t_ms": f.timestamps.iter().map(|t| cfg.undilate(*t)).collect::<Vec<_>>(),
            "mean": f.mean,
            "lower": f.lower,
            "upper": f.upper,
            "level": f.level,
        }),
        Err(e) => json!({"error": e.to_string()}),
    };
    let marks: Vec<&Anomaly> = st
        .anomalies
        .iter()
        .filter(|a| a.entity == entity && a.metric == metric)
        .collect();
    json!({
        "entity": entity,
        "metric": metric,
        "points": pts.iter().map(|(t, v)| json!({"t_ms": t, "value": v})).collect::<Vec<_>>(),
        "forecast": forecast,
        "anomalies": marks,
        "exhaustion": st.last.exhaustions.iter().find(|x| x.entity == entity && x.metric == metric),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers_for_people() {
        // 2026-11-28 09:10:00 UTC = 1795857000 (date -u -d '2026-11-28 09:10' +%s).
        let t = 1_795_857_000_000;
        assert_eq!(rfc3339(t), "2026-11-28T09:10:00.000Z");
        assert_eq!(rfc3339(951_868_800_000), "2000-03-01T00:00:00.000Z");
        assert_eq!(clock(t, t - 3_600_000), "09:10 UTC today");
        assert_eq!(clock(t, t - 86_400_000), "09:10 UTC tomorrow");
        assert_eq!(clock(t, t - 3 * 86_400_000), "09:10 UTC on 2026-11-28");
        assert_eq!(grouped(1850.4), "1,850");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(human_bytes(812.0 * 1024.0 * 1024.0), "812 MiB");
        assert_eq!(human_bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
    }

    #[test]
    fn day_dilation_round_trips() {
        let cfg = PredictConfig {
            day_s: 600,
            ..PredictConfig::default()
        };
        // Ten real minutes are one model day.
        assert_eq!(cfg.dilate(600_000), 86_400);
        assert_eq!(cfg.undilate(86_400), 600_000);
        assert_eq!(PredictConfig::default().dilate(86_400_000), 86_400);
    }

    fn state_with(cfg: &PredictConfig, ev: Evaluation) -> (State, Vec<Alert>) {
        let mut st = State::default();
        let changed = st.record(cfg, ev);
        (st, changed)
    }

    fn exhaust(entity: &str, in_s: f64, now: i64) -> ExhaustionForecast {
        ExhaustionForecast {
            entity: entity.into(),
            metric: "memory_bytes".into(),
            capacity: 1.0,
            used: 0.5,
            growth_per_s: 0.01,
            at_ms: now + (in_s * 1000.0) as i64,
            in_s,
            earliest_s: None,
            latest_s: None,
            message: format!("memory of {entity} full in {in_s} s"),
        }
    }

    #[test]
    fn alerts_fire_once_and_resolve() {
        let cfg = PredictConfig::default();
        let ev = |now: i64, e: Vec<ExhaustionForecast>| Evaluation {
            at_ms: now,
            exhaustions: e,
            ..Evaluation::default()
        };
        let (mut st, first) = state_with(&cfg, ev(1000, vec![exhaust("service:a", 60.0, 1000)]));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].ends_at_ms, None);
        // The same alert with a new estimate: not sent again, wording updated.
        let again = st.record(&cfg, ev(2000, vec![exhaust("service:a", 50.0, 2000)]));
        assert!(again.is_empty());
        assert!(st.alerts.values().next().unwrap().annotations["summary"].contains("50"));
        // A second one fires; the first is gone and resolves.
        let third = st.record(&cfg, ev(3000, vec![exhaust("service:b", 40.0, 3000)]));
        assert_eq!(third.len(), 2);
        let resolved: Vec<&Alert> = third.iter().filter(|a| a.ends_at_ms.is_some()).collect();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].labels["entity"], "service:a");
        assert_eq!(resolved[0].starts_at_ms, 1000);
        assert_eq!(resolved[0].ends_at_ms, Some(3000));
        // Payloads: one per alert name, firing while any alert in it fires.
        let p = payloads(&cfg, &third);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["version"], "4");
        assert_eq!(p[0]["status"], "firing");
        assert_eq!(p[0]["groupLabels"]["alertname"], "DoppelResourceExhaustion");
        assert_eq!(p[0]["commonLabels"]["metric"], "memory_bytes");
        assert!(p[0]["commonLabels"].get("entity").is_none());
        assert_eq!(p[0]["alerts"].as_array().unwrap().len(), 2);
        let only_resolved = payloads(&cfg, &resolved.into_iter().cloned().collect::<Vec<_>>());
        assert_eq!(only_resolved[0]["status"], "resolved");
        assert_eq!(
            only_resolved[0]["alerts"][0]["endsAt"],
            "1970-01-01T00:00:03.000Z"
        );
    }

    #[test]
    fn anomaly_alerts_need_two_metrics_of_one_entity() {
        let cfg = PredictConfig::default(); // hold 300 s
        let anomaly = |metric: &str, at_ms: i64| Anomaly {
            entity: "service:a".into(),
            metric: metric.into(),
            at_ms,
            value: 1.0,
            score: 0.6,
            learning: false,
        };
        let ev = |now: i64, a: Vec<Anomaly>| Evaluation {
            at_ms: now,
            anomalies: a,
            ..Evaluation::default()
        };
        let mut st = State::default();
        // One series alone: listed, not alerted.
        assert!(
            st.record(&cfg, ev(10_000, vec![anomaly("rps", 0)]))
                .is_empty()
        );
        assert_eq!(st.anomalies.len(), 1);
        // A second metric of the same entity within the hold time: one alert for the entity.
        let fired = st.record(&cfg, ev(70_000, vec![anomaly("latency_ms", 60_000)]));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].labels["entity"], "service:a");
        assert!(fired[0].annotations["summary"].contains("latency_ms"));
        assert!(fired[0].annotations["summary"].contains("rps"));
        // A detector still learning the daily pattern is listed, not alerted on.
        let mut young = anomaly("utilization", 80_000);
        young.learning = true;
        assert!(st.record(&cfg, ev(90_000, vec![young])).is_empty());
        // Once the first is older than the hold time, the alert resolves.
        let gone = st.record(&cfg, ev(301_000, vec![]));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].ends_at_ms, Some(301_000));
    }
}

//! What each cohort experiences on the twin, and what would help it most.
//!
//! The cohorts' traffic at one hour of the day (the busiest by default) is offered to the twin
//! in place of its own workloads: each cohort's visits to each endpoint become an open
//! workload at the rate its chain implies (sessions per second × visits per session), so the
//! simulator (`doppel-sim`) reports page latency and errors per cohort and endpoint under the
//! combined load. Session outcomes then follow from the chain: at each page a user leaves with
//! the abandonment probability of that page's latency (a logistic curve, configurable) and,
//! when errors end sessions, with its error rate; completion and goal reach are absorption
//! probabilities of the chain with those losses.
//!
//! What-ifs, each simulated the same way with the same seed: a regional edge or cache for a
//! cohort (a share of its GET pages, the goal excluded, answered at the edge's latency),
//! prefetching the likeliest next page (from the chain; a prefetched page shows at once, every
//! prefetch is a request, used or not), a priority lane (the cohort's pages served as if the
//! others were not there, which preemptive priority gives; the others' mean response per
//! endpoint grows so that the total work in the system is conserved), and a lighter page for
//! a device class (its pages' own service time scaled down). They are ranked by goal
//! completions and sessions saved per hour, with their capacity cost: the change in origin
//! requests per second and in busy cores.

use std::collections::{BTreeMap, BTreeSet};

use doppel_model::twin as m;
use doppel_model::{Duration, Rate, Twin};
use doppel_sim::{SimConfig, SimReport};
use indexmap::IndexMap;
use serde::Serialize;

use crate::chain::{completion_probability, expected_visits, reach_probability};
use crate::learn::slug;
use crate::model::{Cohort, CohortSet};

/// Probability of leaving after a page because of its latency: a logistic curve
/// `σ(x) = max / (1 + exp(−steepness · (x − midpoint)))`, less what an instant page would
/// see, rescaled: `p(x) = max · (σ(x) − σ(0)) / (max − σ(0))`, so that `p(0) = 0` and only
/// latency counts (people who leave anyway are in the chain's exit probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Abandonment {
    /// Latency (seconds) at which half of `max` leave.
    pub midpoint_s: f64,
    /// Steepness, per second.
    pub steepness_per_s: f64,
    /// The probability approached for very slow pages.
    pub max: f64,
}

impl Default for Abandonment {
    /// About half of users gone at 3 s, which is where web studies put it for mobile pages;
    /// 0.3% at 200 ms, 3% at 1 s.
    fn default() -> Self {
        Abandonment {
            midpoint_s: 3.0,
            steepness_per_s: 1.6,
            max: 1.0,
        }
    }
}

impl Abandonment {
    /// Probability of leaving after a page that took `latency_s`.
    pub fn p(&self, latency_s: f64) -> f64 {
        let sigma =
            |x: f64| self.max / (1.0 + (-self.steepness_per_s * (x - self.midpoint_s)).exp());
        let floor = sigma(0.0);
        if self.max - floor <= 0.0 {
            return 0.0;
        }
        (self.max * (sigma(latency_s.max(0.0)) - floor) / (self.max - floor)).clamp(0.0, 1.0)
    }
}

/// How to simulate the experience.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperienceSettings {
    /// Local hour of the day whose rates are simulated; `None`: the busiest hour overall.
    pub hour: Option<usize>,
    /// Total sessions per second to simulate (cohorts keep their shares); `None`: as learned.
    pub sessions_per_s: Option<f64>,
    /// Simulated seconds, warm-up included.
    pub duration_s: f64,
    /// Leading seconds excluded.
    pub warmup_s: f64,
    /// Seed.
    pub seed: u64,
    /// Replications per run (their statistics are merged).
    pub replications: u32,
    /// The abandonment curve.
    pub abandonment: Abandonment,
    /// Whether a 5xx ends the session.
    pub errors_end_sessions: bool,
    /// Learned endpoint → `service/endpoint` in the twin; unlisted ones are matched by name.
    pub routes: BTreeMap<String, String>,
    /// Keep the twin's own workloads as background load.
    pub keep_twin_workloads: bool,
    /// Run the what-ifs.
    pub what_ifs: bool,
    /// Share of a cohort's GET pages an edge answers.
    pub edge_hit_ratio: f64,
    /// Latency of a page the edge answers, seconds.
    pub edge_latency_s: f64,
    /// Prefetch the likeliest next page only when its probability is at least this.
    pub prefetch_min_probability: f64,
    /// A lighter page's service time as a share of the full page's.
    pub light_factor: f64,
}

impl Default for ExperienceSettings {
    fn default() -> Self {
        ExperienceSettings {
            hour: None,
            sessions_per_s: None,
            duration_s: 300.0,
            warmup_s: 30.0,
            seed: 1,
            replications: 2,
            abandonment: Abandonment::default(),
            errors_end_sessions: true,
            routes: BTreeMap::new(),
            keep_twin_workloads: false,
            what_ifs: true,
            edge_hit_ratio: 0.7,
            edge_latency_s: 0.02,
            prefetch_min_probability: 0.25,
            light_factor: 0.5,
        }
    }
}

/// Why the experience could not be simulated.
#[derive(Debug, thiserror::Error)]
pub enum ExperienceError {
    /// A configured route names no endpoint of the twin.
    #[error("route `{0}` -> `{1}`: no such service endpoint in the twin")]
    Route(String, String),
    /// Nothing of the cohorts maps onto the twin.
    #[error(
        "no learned endpoint maps onto the twin's endpoints (give routes: `METHOD /path=service/endpoint`)"
    )]
    NothingMapped,
    /// The twin with the cohorts' load did not compile.
    #[error("the twin with the cohorts' load: {0}")]
    Compile(String),
    /// The simulation failed.
    #[error("simulation: {0}")]
    Sim(#[from] doppel_sim::SimError),
    /// A chain has no way out.
    #[error("cohort `{0}`: its chain has no exit")]
    Chain(String),
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One cohort's experience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortExperience {
    /// Cohort name.
    pub name: String,
    /// In words.
    pub description: String,
    /// Sessions per hour simulated.
    pub sessions_per_hour: f64,
    /// Page latency over all its page views.
    pub page_latency_ms: Percentiles,
    /// Share of its page views that failed.
    pub error_rate: f64,
    /// Mean probability of leaving after a page because of its latency.
    pub abandon_per_page: f64,
    /// Share of sessions that end by the user's choice (not abandoned, no error).
    pub completion: f64,
    /// Share reaching the goal with instant, error-free pages.
    pub goal_ideal: f64,
    /// Share reaching the goal as simulated.
    pub goal_reached: f64,
    /// Sessions lost per hour (abandoned or cut by errors).
    pub lost_sessions_per_hour: f64,
    /// Goal completions lost per hour.
    pub lost_goals_per_hour: f64,
    /// Its slowest endpoint by 90th percentile.
    pub slowest: Option<(String, f64)>,
}

/// A what-if's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// Short name: `edge:mobile`, `prefetch:desktop`, `priority:plus`, `light:mobile`.
    pub name: String,
    /// In words.
    pub description: String,
    /// The cohort it is for.
    pub cohort: String,
    /// Goal completions saved per hour, all cohorts (negative: lost).
    pub goals_saved_per_hour: f64,
    /// Sessions saved per hour, all cohorts.
    pub sessions_saved_per_hour: f64,
    /// Per cohort: sessions saved per hour and the new page p90 (ms).
    pub per_cohort: Vec<(String, f64, f64)>,
    /// Change in requests per second reaching the origin.
    pub origin_rps_delta: f64,
    /// Change in busy cores.
    pub busy_cores_delta: f64,
    /// What it needs beyond that.
    pub cost_note: String,
    /// Whether both gains are within three times the noise between replicate baselines.
    pub within_noise: bool,
}

/// How much the outcomes move between runs that differ only in their seed: the largest
/// change over two replicate baselines, summed over cohorts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Noise {
    /// Sessions lost per hour.
    pub sessions_per_hour: f64,
    /// Goal completions lost per hour.
    pub goals_per_hour: f64,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperienceReport {
    /// Local hour simulated.
    pub hour: usize,
    /// Sessions per second simulated, all cohorts.
    pub sessions_per_s: f64,
    /// The abandonment curve used.
    pub abandonment: Abandonment,
    /// How each learned endpoint maps onto the twin.
    pub routes: IndexMap<String, String>,
    /// Learned endpoints not in the twin, with their share of page views (left out).
    pub unmapped: Vec<(String, f64)>,
    /// Per cohort, worst first (lowest completion).
    pub cohorts: Vec<CohortExperience>,
    /// What-ifs, best first (sessions saved per hour, then goals).
    pub what_ifs: Vec<WhatIf>,
    /// Run-to-run noise of the outcomes (what-ifs are judged against it).
    pub noise: Noise,
    /// Simulated seconds per run, seed.
    pub duration_s: f64,
    /// Seed.
    pub seed: u64,
}

/// One cohort's traffic to one endpoint.
#[derive(Debug, Clone)]
struct Load {
    cohort: usize,
    step: usize,
    endpoint: String,
    service: String,
    target: String,
    rate: f64,
    visits: f64,
    get: bool,
    goal: bool,
}

/// How a run changes the loads.
#[derive(Debug, Clone, Default)]
struct Variant {
    /// Rate multiplier per load (origin traffic).
    rate_mult: Vec<f64>,
    /// Extra origin requests: (load index whose target gets them, rate).
    extra: Vec<(usize, f64)>,
    /// Loads whose endpoint is served by a lighter copy.
    light: Vec<bool>,
    /// Loads included (priority alone-run).
    only: Option<Vec<bool>>,
}

/// A load's latency, as seen by users: a share answered instantly-ish (edge, prefetch) and
/// the rest at the simulated quantiles, scaled.
#[derive(Debug, Clone)]
struct Seen {
    fast_share: f64,
    fast_s: f64,
    quantiles: Vec<(f64, f64)>,
    error: f64,
}

impl Seen {
    fn cdf(&self, x: f64) -> f64 {
        let fast = if x >= self.fast_s {
            self.fast_share
        } else {
            0.0
        };
        fast + (1.0 - self.fast_share) * quantile_cdf(&self.quantiles, x)
    }

    fn abandon(&self, a: &Abandonment) -> f64 {
        const N: usize = 200;
        let slow: f64 = (0..N)
            .map(|i| a.p(quantile_at(&self.quantiles, (i as f64 + 0.5) / N as f64)))
            .sum::<f64>()
            / N as f64;
        self.fast_share * a.p(self.fast_s) + (1.0 - self.fast_share) * slow
    }
}

/// Piecewise-linear quantile function through (u, x) points.
fn quantile_at(q: &[(f64, f64)], u: f64) -> f64 {
    for w in q.windows(2) {
        let ((u0, x0), (u1, x1)) = (w[0], w[1]);
        if u <= u1 {
            return if u1 > u0 {
                x0 + (x1 - x0) * (u - u0) / (u1 - u0)
            } else {
                x1
            };
        }
    }
    q.last().map_or(0.0, |p| p.1)
}

fn quantile_cdf(q: &[(f64, f64)], x: f64) -> f64 {
    if q.first().is_none_or(|p| x < p.1) {
        return 0.0;
    }
    for w in q.windows(2) {
        let ((u0, x0), (u1, x1)) = (w[0], w[1]);
        if x < x1 {
            return if x1 > x0 {
                u0 + (u1 - u0) * (x - x0) / (x1 - x0)
            } else {
                u1
            };
        }
    }
    1.0
}

fn quantiles_of(r: &doppel_sim::report::WorkloadReport, scale: f64) -> Vec<(f64, f64)> {
    let l = &r.latency_ms;
    // Below the median the report says nothing: mirror the p50..p90 spread (exact for a
    // constant, 0 for an exponential), never below zero.
    let pts = [
        (0.0, (2.0 * l.p50 - l.p90).max(0.0)),
        (0.5, l.p50),
        (0.9, l.p90),
        (0.95, l.p95),
        (0.99, l.p99),
        // The largest value of a run is one sample: extrapolate the tail from p90..p99
        // instead, capped by it.
        (1.0, l.max.min(l.p99 + 2.0 * (l.p99 - l.p90)).max(l.p99)),
    ];
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (u, x) in pts {
        let x = (x / 1000.0 * scale).max(out.last().map_or(0.0, |p| p.1));
        out.push((u, x));
    }
    out
}

/// The twin endpoint a learned endpoint maps to by name: the template's literal segments
/// joined by `_`, then `add_to_cart` style (verb last reversed), then the last and the first
/// literal segment; `/` is `home` or `index`.
fn match_by_name(twin: &Twin, endpoint: &str) -> Option<String> {
    let template = endpoint.split_once(' ').map_or(endpoint, |(_, t)| t);
    let lits: Vec<&str> = template
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{') && *s != "*")
        .collect();
    let mut candidates: Vec<String> = Vec::new();
    if lits.is_empty() {
        candidates.extend(["home".to_owned(), "index".to_owned(), "root".to_owned()]);
    } else {
        candidates.push(lits.join("_"));
        if lits.len() == 2 {
            candidates.push(format!("{}_to_{}", lits[1], lits[0]));
            candidates.push(format!("{}_{}", lits[1], lits[0]));
        }
        if let Some(l) = lits.last() {
            candidates.push((*l).to_owned());
        }
        candidates.push(lits[0].to_owned());
    }
    // Services nobody calls (the entry tier) first.
    let called: BTreeSet<&str> = twin
        .services
        .values()
        .flat_map(|s| s.endpoints.values())
        .flat_map(|e| e.calls.iter().flat_map(|c| c.calls()))
        .map(|c| c.service.as_str())
        .collect();
    let mut order: Vec<(&String, &m::Service)> = twin.services.iter().collect();
    order.sort_by_key(|(n, _)| called.contains(n.as_str()));
    for cand in &candidates {
        let cand = cand.replace('-', "_");
        for (sname, s) in &order {
            if s.endpoints.contains_key(&cand) {
                return Some(format!("{sname}/{cand}"));
            }
        }
    }
    None
}

fn scale_dist(d: &m::Distribution, f: f64) -> m::Distribution {
    let s = |x: Duration| Duration::from_secs_f64(x.as_secs_f64() * f);
    match d {
        m::Distribution::Constant { value } => m::Distribution::Constant { value: s(*value) },
        m::Distribution::Exponential { mean } => m::Distribution::Exponential { mean: s(*mean) },
        m::Distribution::Lognormal { mean, p99 } => m::Distribution::Lognormal {
            mean: s(*mean),
            p99: s(*p99),
        },
        m::Distribution::Uniform { min, max } => m::Distribution::Uniform {
            min: s(*min),
            max: s(*max),
        },
        m::Distribution::Empirical { buckets } => m::Distribution::Empirical {
            buckets: buckets
                .iter()
                .map(|b| m::Bucket {
                    le: s(b.le),
                    weight: b.weight,
                })
                .collect(),
        },
    }
}

fn one_step(service: &str, endpoint: &str, rate: f64) -> m::Workload {
    let mut steps = IndexMap::new();
    steps.insert(
        "page".to_owned(),
        m::FlowStep {
            service: service.to_owned(),
            endpoint: Some(endpoint.to_owned()),
            next: IndexMap::new(),
            exit: None,
            think_time: None,
        },
    );
    m::Workload {
        open: Some(m::OpenLoad {
            rate: Some(Rate::per_sec(rate)),
            schedule: Vec::new(),
        }),
        closed: None,
        flow: m::Flow { start: None, steps },
        provenance: None,
    }
}

struct Run {
    report: SimReport,
    /// Workload index in the report per load (None when not offered).
    load_ix: Vec<Option<usize>>,
}

fn simulate(
    base: &Twin,
    loads: &[Load],
    v: &Variant,
    s: &ExperienceSettings,
    light_factor: f64,
) -> Result<Run, ExperienceError> {
    let mut twin = base.clone();
    twin.slos.clear();
    if !s.keep_twin_workloads {
        twin.workloads.clear();
    }
    // One workload per target endpoint: every cohort's requests to an endpoint share its
    // queues, so they see one latency distribution (and it is estimated from all of them).
    let mut groups: IndexMap<(String, String), f64> = IndexMap::new();
    let mut group_of: Vec<Option<usize>> = Vec::new();
    for (i, l) in loads.iter().enumerate() {
        if v.only.as_ref().is_some_and(|o| !o[i]) {
            group_of.push(None);
            continue;
        }
        let rate = l.rate * v.rate_mult.get(i).copied().unwrap_or(1.0);
        let mut target = l.target.clone();
        if v.light.get(i).copied().unwrap_or(false) {
            let light = format!("{}__light", l.target);
            if let Some(svc) = twin.services.get_mut(&l.service)
                && let Some(ep) = svc.endpoints.get(&l.target).cloned()
            {
                let mut e = ep;
                e.service_time = scale_dist(&e.service_time, light_factor);
                svc.endpoints.insert(light.clone(), e);
                target = light;
            }
        }
        let entry = groups.entry((l.service.clone(), target));
        group_of.push(Some(entry.index()));
        *entry.or_insert(0.0) += rate;
    }
    for (i, rate) in &v.extra {
        if let Some(Some(g)) = group_of.get(*i)
            && let Some((_, r)) = groups.get_index_mut(*g)
        {
            *r += rate;
        }
    }
    for (k, ((service, target), rate)) in groups.iter().enumerate() {
        if *rate > 0.0 {
            twin.workloads
                .insert(format!("users-{k}"), one_step(service, target, *rate));
        }
    }
    let net =
        doppel_sim::compile::compile(&twin).map_err(|e| ExperienceError::Compile(e.to_string()))?;
    let cfg = SimConfig {
        duration: s.duration_s,
        warmup: s.warmup_s,
        seed: s.seed,
        replications: s.replications,
    };
    let report = doppel_sim::simulate(&net, &cfg)?;
    let load_ix = group_of
        .iter()
        .map(|g| {
            g.and_then(|g| {
                let name = format!("users-{g}");
                report.workloads.iter().position(|w| w.name == name)
            })
        })
        .collect();
    Ok(Run { report, load_ix })
}

fn origin_rps(r: &SimReport) -> f64 {
    r.workloads
        .iter()
        .filter(|w| w.name.starts_with("users-"))
        .map(|w| w.throughput_rps)
        .sum()
}

fn busy_cores(r: &SimReport) -> f64 {
    r.hosts.iter().map(|h| h.cpu_utilization * h.cores).sum()
}

/// Outcomes per cohort from what users see per load.
fn outcomes(
    set: &CohortSet,
    loads: &[Load],
    seen: &[Seen],
    rates: &[f64],
    s: &ExperienceSettings,
) -> Result<Vec<CohortExperience>, ExperienceError> {
    let mut out = Vec::new();
    for (ci, c) in set.cohorts.iter().enumerate() {
        let mine: Vec<usize> = (0..loads.len())
            .filter(|i| loads[*i].cohort == ci)
            .collect();
        let mut keep = vec![1.0; c.chain.len()];
        let mut abandon_sum = 0.0;
        let mut err_sum = 0.0;
        let mut visits = 0.0;
        let mut slowest: Option<(String, f64)> = None;
        for &i in &mine {
            let l = &loads[i];
            let a = seen[i].abandon(&s.abandonment);
            let e = seen[i].error;
            keep[l.step] = (1.0 - a) * if s.errors_end_sessions { 1.0 - e } else { 1.0 };
            abandon_sum += a * l.visits;
            err_sum += e * l.visits;
            visits += l.visits;
            let p90 = mixture_quantile(&[(1.0, &seen[i])], 0.9) * 1000.0;
            if slowest.as_ref().is_none_or(|(_, x)| p90 > *x) {
                slowest = Some((l.endpoint.clone(), round(p90, 1)));
            }
        }
        let goal: Vec<bool> = c.chain.keys().map(|e| set.goal.contains(e)).collect();
        let ideal = reach_probability(c, &goal, &[])
            .ok_or_else(|| ExperienceError::Chain(c.name.clone()))?;
        let reached = reach_probability(c, &goal, &keep)
            .ok_or_else(|| ExperienceError::Chain(c.name.clone()))?;
        let completion = completion_probability(c, &keep)
            .ok_or_else(|| ExperienceError::Chain(c.name.clone()))?;
        let per_hour = rates[ci] * 3600.0;
        let parts: Vec<(f64, &Seen)> = mine.iter().map(|i| (loads[*i].visits, &seen[*i])).collect();
        let lat = Percentiles {
            p50: round(mixture_quantile(&parts, 0.5) * 1000.0, 1),
            p90: round(mixture_quantile(&parts, 0.9) * 1000.0, 1),
            p99: round(mixture_quantile(&parts, 0.99) * 1000.0, 1),
        };
        out.push(CohortExperience {
            name: c.name.clone(),
            description: c.description.clone(),
            sessions_per_hour: round(per_hour, 1),
            page_latency_ms: lat,
            error_rate: round(if visits > 0.0 { err_sum / visits } else { 0.0 }, 5),
            abandon_per_page: round(
                if visits > 0.0 {
                    abandon_sum / visits
                } else {
                    0.0
                },
                5,
            ),
            completion: round(completion, 5),
            goal_ideal: round(ideal, 5),
            goal_reached: round(reached, 5),
            lost_sessions_per_hour: round(per_hour * (1.0 - completion), 2),
            lost_goals_per_hour: round(per_hour * (ideal - reached), 2),
            slowest,
        });
    }
    Ok(out)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The latency (seconds) below which a share `u` of the weighted mixture lies.
fn mixture_quantile(parts: &[(f64, &Seen)], u: f64) -> f64 {
    let total: f64 = parts.iter().map(|(w, _)| w).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let cdf = |x: f64| parts.iter().map(|(w, s)| w * s.cdf(x)).sum::<f64>() / total;
    let mut hi = parts
        .iter()
        .flat_map(|(_, s)| {
            s.quantiles
                .last()
                .map(|p| p.1)
                .into_iter()
                .chain([s.fast_s])
        })
        .fold(0.0, f64::max)
        .max(1e-6);
    let mut lo = 0.0;
    if cdf(hi) < u {
        return hi;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if cdf(mid) >= u {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// What users see per load in a run, with a per-load fast share and latency scale.
fn seen_of(run: &Run, loads: &[Load], fast: &[(f64, f64)], scale: &[f64]) -> Vec<Seen> {
    loads
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let (fast_share, fast_s) = fast.get(i).copied().unwrap_or((0.0, 0.0));
            match run.load_ix[i].and_then(|w| run.report.workloads.get(w)) {
                Some(w) => Seen {
                    fast_share,
                    fast_s,
                    quantiles: quantiles_of(w, scale.get(i).copied().unwrap_or(1.0)),
                    error: w.error_rate,
                },
                // Not offered to the origin at all: everything is fast.
                None => Seen {
                    fast_share: 1.0,
                    fast_s,
                    quantiles: vec![(0.0, fast_s), (1.0, fast_s)],
                    error: 0.0,
                },
            }
        })
        .collect()
}

/// Simulates the cohorts on the twin and, when asked, the what-ifs.
pub fn experience(
    twin: &Twin,
    set: &CohortSet,
    s: &ExperienceSettings,
) -> Result<ExperienceReport, ExperienceError> {
    // Routes: configured, else by name.
    let mut routes: IndexMap<String, String> = IndexMap::new();
    let mut unmapped = Vec::new();
    let total_views: f64 = set
        .endpoints
        .values()
        .map(|v| *v as f64)
        .sum::<f64>()
        .max(1.0);
    for (e, views) in &set.endpoints {
        let target = match s.routes.get(e) {
            Some(t) => {
                let ok = t.split_once('/').is_some_and(|(svc, ep)| {
                    twin.services
                        .get(svc)
                        .is_some_and(|s| s.endpoints.contains_key(ep))
                });
                if !ok {
                    return Err(ExperienceError::Route(e.clone(), t.clone()));
                }
                Some(t.clone())
            }
            None => match_by_name(twin, e),
        };
        match target {
            Some(t) => {
                routes.insert(e.clone(), t);
            }
            None => unmapped.push((e.clone(), round(*views as f64 / total_views, 4))),
        }
    }
    if routes.is_empty() {
        return Err(ExperienceError::NothingMapped);
    }
    // Hour and rates.
    let hour = s.hour.unwrap_or_else(|| {
        (0..24)
            .max_by(|a, b| {
                let ra: f64 = set
                    .cohorts
                    .iter()
                    .map(|c| c.arrivals.by_hour.get(*a).copied().unwrap_or(0.0))
                    .sum();
                let rb: f64 = set
                    .cohorts
                    .iter()
                    .map(|c| c.arrivals.by_hour.get(*b).copied().unwrap_or(0.0))
                    .sum();
                ra.total_cmp(&rb).then(b.cmp(a))
            })
            .unwrap_or(0)
    });
    let mut rates: Vec<f64> = set
        .cohorts
        .iter()
        .map(|c| c.arrivals.by_hour.get(hour).copied().unwrap_or(0.0) / 3600.0)
        .collect();
    let learned_total: f64 = rates.iter().sum();
    if let Some(target) = s.sessions_per_s
        && learned_total > 0.0
    {
        for r in &mut rates {
            *r *= target / learned_total;
        }
    }
    let total_rate: f64 = rates.iter().sum();
    // Loads.
    let mut loads = Vec::new();
    for (ci, c) in set.cohorts.iter().enumerate() {
        let v = expected_visits(c).ok_or_else(|| ExperienceError::Chain(c.name.clone()))?;
        for (step, (e, visits)) in v.iter().enumerate() {
            let Some(t) = routes.get(e) else { continue };
            let Some((service, target)) = t.split_once('/') else {
                continue;
            };
            if *visits <= 0.0 {
                continue;
            }
            loads.push(Load {
                cohort: ci,
                step,
                endpoint: e.clone(),
                service: service.to_owned(),
                target: target.to_owned(),
                rate: rates[ci] * visits,
                visits: *visits,
                get: e.starts_with("GET "),
                goal: set.goal.contains(e),
            });
        }
    }
    let n = loads.len();
    let base_variant = Variant {
        rate_mult: vec![1.0; n],
        ..Variant::default()
    };
    let base = simulate(twin, &loads, &base_variant, s, s.light_factor)?;
    let no_fast = vec![(0.0, 0.0); n];
    let ones = vec![1.0; n];
    let base_seen = seen_of(&base, &loads, &no_fast, &ones);
    let base_out = outcomes(set, &loads, &base_seen, &rates, s)?;
    let base_origin = origin_rps(&base.report);
    let base_cores = busy_cores(&base.report);
    let mut noise = Noise {
        sessions_per_hour: 0.0,
        goals_per_hour: 0.0,
    };
    if s.what_ifs {
        for k in 1..=2 {
            let again = ExperienceSettings {
                seed: s.seed.wrapping_add(k),
                ..s.clone()
            };
            let run = simulate(twin, &loads, &base_variant, &again, s.light_factor)?;
            let out = outcomes(
                set,
                &loads,
                &seen_of(&run, &loads, &no_fast, &ones),
                &rates,
                s,
            )?;
            let ds: f64 = base_out
                .iter()
                .zip(&out)
                .map(|(a, b)| (a.lost_sessions_per_hour - b.lost_sessions_per_hour).abs())
                .sum();
            let dg: f64 = base_out
                .iter()
                .zip(&out)
                .map(|(a, b)| (a.lost_goals_per_hour - b.lost_goals_per_hour).abs())
                .sum();
            noise.sessions_per_hour = noise.sessions_per_hour.max(round(ds, 2));
            noise.goals_per_hour = noise.goals_per_hour.max(round(dg, 2));
        }
    }

    let mut what_ifs = Vec::new();
    if s.what_ifs {
        for (ci, c) in set.cohorts.iter().enumerate() {
            let mine: Vec<bool> = loads.iter().map(|l| l.cohort == ci).collect();
            let region = c
                .attributes
                .get("region")
                .filter(|r| r.as_str() != "unknown");
            // Edge.
            {
                let mut v = base_variant.clone();
                let mut fast = no_fast.clone();
                for (i, l) in loads.iter().enumerate() {
                    if mine[i] && l.get && !l.goal {
                        v.rate_mult[i] = 1.0 - s.edge_hit_ratio;
                        fast[i] = (s.edge_hit_ratio, s.edge_latency_s);
                    }
                }
                let run = simulate(twin, &loads, &v, s, s.light_factor)?;
                let seen = seen_of(&run, &loads, &fast, &ones);
                let place = region.map_or_else(
                    || format!("near the {} cohort", c.name),
                    |r| format!("in {r}"),
                );
                what_ifs.push(judge(
                    set, &loads, &seen, &rates, s, &base_out, &run, base_origin, base_cores,
                    format!("edge:{}", c.name),
                    format!(
                        "a regional edge cache {place}: {:.0}% of {}'s GET pages (goal excluded) answered in {:.0} ms",
                        s.edge_hit_ratio * 100.0, c.name, s.edge_latency_s * 1000.0
                    ),
                    &c.name,
                    "one edge location".to_owned(),
                )?);
            }
            // Prefetch.
            {
                let mut v = base_variant.clone();
                let mut fast = no_fast.clone();
                let mut covered = vec![0.0; n];
                let mut any = false;
                for (i, l) in loads.iter().enumerate() {
                    if !mine[i] {
                        continue;
                    }
                    let Some(step) = c.chain.get(&l.endpoint) else {
                        continue;
                    };
                    let Some((next, p)) = step.next.iter().max_by(|a, b| a.1.total_cmp(b.1)) else {
                        continue;
                    };
                    if *p < s.prefetch_min_probability {
                        continue;
                    }
                    // Only safe requests can be fetched ahead: GET pages, never the goal.
                    if let Some(j) = loads
                        .iter()
                        .position(|m| m.cohort == ci && &m.endpoint == next && m.get && !m.goal)
                    {
                        // Every visit to i prefetches j; the visits that do go on to j see it
                        // at once and make no request of their own.
                        v.extra.push((j, l.rate));
                        covered[j] += l.visits * p;
                        any = true;
                    }
                }
                if any {
                    for (j, cov) in covered.iter().enumerate() {
                        if *cov > 0.0 {
                            let share = (cov / loads[j].visits).min(1.0);
                            v.rate_mult[j] = 1.0 - share;
                            fast[j] = (share, 0.0);
                        }
                    }
                    let run = simulate(twin, &loads, &v, s, s.light_factor)?;
                    let seen = seen_of(&run, &loads, &fast, &ones);
                    what_ifs.push(judge(
                        set, &loads, &seen, &rates, s, &base_out, &run, base_origin, base_cores,
                        format!("prefetch:{}", c.name),
                        format!(
                            "prefetch {}'s likeliest next page (when at least {:.0}% likely) while the user reads",
                            c.name,
                            s.prefetch_min_probability * 100.0
                        ),
                        &c.name,
                        "client code; wasted prefetches are the extra origin load".to_owned(),
                    )?);
                }
            }
            // Priority lane for paying users.
            let paying = c
                .attributes
                .get("plan")
                .is_some_and(|p| !matches!(p.as_str(), "free" | "unknown" | "anonymous" | "none"));
            let best_buyer = !set
                .cohorts
                .iter()
                .any(|k| k.attributes.contains_key("plan"))
                && set
                    .cohorts
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.goal_share.total_cmp(&b.1.goal_share))
                    .is_some_and(|(k, _)| k == ci);
            if (paying || best_buyer) && set.cohorts.len() > 1 {
                let v = Variant {
                    only: Some(mine.clone()),
                    ..base_variant.clone()
                };
                let alone = simulate(twin, &loads, &v, s, s.light_factor)?;
                // Conserve the mean work per target endpoint: others absorb the wait the
                // priority cohort no longer has.
                let mean_of = |run: &Run, i: usize| {
                    run.load_ix[i]
                        .and_then(|w| run.report.workloads.get(w))
                        .map_or(0.0, |w| w.latency_ms.mean)
                };
                let mut scale = ones.clone();
                let targets: BTreeSet<(String, String)> = loads
                    .iter()
                    .map(|l| (l.service.clone(), l.target.clone()))
                    .collect();
                for t in targets {
                    let idx: Vec<usize> = (0..n)
                        .filter(|i| (loads[*i].service.clone(), loads[*i].target.clone()) == t)
                        .collect();
                    let total: f64 = idx
                        .iter()
                        .map(|i| loads[*i].rate * mean_of(&base, *i))
                        .sum();
                    let high: f64 = idx
                        .iter()
                        .filter(|i| mine[**i])
                        .map(|i| loads[*i].rate * mean_of(&alone, *i))
                        .sum();
                    let low: f64 = idx
                        .iter()
                        .filter(|i| !mine[**i])
                        .map(|i| loads[*i].rate * mean_of(&base, *i))
                        .sum();
                    let f = if low > 0.0 {
                        ((total - high) / low).max(1.0)
                    } else {
                        1.0
                    };
                    for i in idx {
                        if !mine[i] {
                            scale[i] = f;
                        }
                    }
                }
                // Users see: the priority cohort as alone, the others as in the full run, scaled.
                let mut seen = seen_of(&base, &loads, &no_fast, &scale);
                let alone_seen = seen_of(&alone, &loads, &no_fast, &ones);
                for i in 0..n {
                    if mine[i] {
                        seen[i] = alone_seen[i].clone();
                    }
                }
                what_ifs.push(judge(
                    set,
                    &loads,
                    &seen,
                    &rates,
                    s,
                    &base_out,
                    &base,
                    base_origin,
                    base_cores,
                    format!("priority:{}", c.name),
                    format!(
                        "a priority lane for {} ({}): served first everywhere",
                        c.name,
                        if paying {
                            "paying users"
                        } else {
                            "the cohort most likely to buy"
                        }
                    ),
                    &c.name,
                    "no capacity; the other cohorts wait longer".to_owned(),
                )?);
            }
            // Lighter page for slow devices.
            if matches!(
                c.attributes.get("device").map(String::as_str),
                Some("mobile" | "tablet")
            ) {
                let v = Variant {
                    light: mine.clone(),
                    ..base_variant.clone()
                };
                let run = simulate(twin, &loads, &v, s, s.light_factor)?;
                let seen = seen_of(&run, &loads, &no_fast, &ones);
                what_ifs.push(judge(
                    set,
                    &loads,
                    &seen,
                    &rates,
                    s,
                    &base_out,
                    &run,
                    base_origin,
                    base_cores,
                    format!("light:{}", c.name),
                    format!(
                        "a lighter page for {} devices: {:.0}% of the page's own service time",
                        c.attributes.get("device").map_or("slow", String::as_str),
                        s.light_factor * 100.0
                    ),
                    &c.name,
                    "a second page variant to build and keep".to_owned(),
                )?);
            }
        }
        for w in &mut what_ifs {
            w.within_noise = w.sessions_saved_per_hour.abs() <= 3.0 * noise.sessions_per_hour
                && w.goals_saved_per_hour.abs() <= 3.0 * noise.goals_per_hour;
        }
        what_ifs.sort_by(|a, b| {
            b.sessions_saved_per_hour
                .total_cmp(&a.sessions_saved_per_hour)
                .then(b.goals_saved_per_hour.total_cmp(&a.goals_saved_per_hour))
                .then(a.busy_cores_delta.total_cmp(&b.busy_cores_delta))
                .then(a.name.cmp(&b.name))
        });
    }
    let mut cohorts = base_out;
    cohorts.sort_by(|a, b| {
        a.completion
            .total_cmp(&b.completion)
            .then(a.name.cmp(&b.name))
    });
    Ok(ExperienceReport {
        hour,
        sessions_per_s: round(total_rate, 4),
        abandonment: s.abandonment,
        routes,
        unmapped,
        cohorts,
        what_ifs,
        noise,
        duration_s: s.duration_s,
        seed: s.seed,
    })
}

#[allow(clippy::too_many_arguments)]
fn judge(
    set: &CohortSet,
    loads: &[Load],
    seen: &[Seen],
    rates: &[f64],
    s: &ExperienceSettings,
    base: &[CohortExperience],
    run: &Run,
    base_origin: f64,
    base_cores: f64,
    name: String,
    description: String,
    cohort: &str,
    cost_note: String,
) -> Result<WhatIf, ExperienceError> {
    let out = outcomes(set, loads, seen, rates, s)?;
    let mut per = Vec::new();
    let mut sessions = 0.0;
    let mut goals = 0.0;
    for (b, o) in base.iter().zip(&out) {
        let saved = b.lost_sessions_per_hour - o.lost_sessions_per_hour;
        sessions += saved;
        goals += b.lost_goals_per_hour - o.lost_goals_per_hour;
        per.push((o.name.clone(), round(saved, 2), o.page_latency_ms.p90));
    }
    Ok(WhatIf {
        name,
        description,
        cohort: cohort.to_owned(),
        goals_saved_per_hour: round(goals, 2),
        sessions_saved_per_hour: round(sessions, 2),
        per_cohort: per,
        origin_rps_delta: round(origin_rps(&run.report) - base_origin, 2),
        busy_cores_delta: round(busy_cores(&run.report) - base_cores, 3),
        cost_note,
        within_noise: false,
    })
}

/// The cohorts as session-flow workloads for a twin: one open workload per cohort and entry
/// page (a flow has one start), at the rate of `hour`, steps named after endpoints, think
/// times as log-normals; steps whose endpoint is not in `routes` are left out and their
/// probability goes to the exit.
pub fn to_workloads(
    set: &CohortSet,
    routes: &IndexMap<String, String>,
    hour: usize,
) -> IndexMap<String, m::Workload> {
    let mut out = IndexMap::new();
    for c in &set.cohorts {
        let steps = flow_steps(c, routes);
        let rate = c.arrivals.by_hour.get(hour).copied().unwrap_or(0.0) / 3600.0;
        for (entry, p) in &c.entry {
            let start = slug(entry);
            if !steps.contains_key(&start) || rate * p <= 0.0 {
                continue;
            }
            out.insert(
                format!("{}-{}", c.name, start),
                m::Workload {
                    open: Some(m::OpenLoad {
                        rate: Some(Rate::per_sec(rate * p)),
                        schedule: Vec::new(),
                    }),
                    closed: None,
                    flow: m::Flow {
                        start: Some(start),
                        steps: steps.clone(),
                    },
                    provenance: None,
                },
            );
        }
    }
    out
}

fn flow_steps(c: &Cohort, routes: &IndexMap<String, String>) -> IndexMap<String, m::FlowStep> {
    let think = (c.think_time.samples > 1 && c.think_time.sigma > 0.0).then(|| {
        let mean = c.think_time.mean_s;
        let p99 = c.think_time.p99_s.clamp(mean * 1.001, mean * 14.9);
        m::Distribution::Lognormal {
            mean: Duration::from_secs_f64(mean),
            p99: Duration::from_secs_f64(p99),
        }
    });
    let mut steps = IndexMap::new();
    for (e, step) in &c.chain {
        let Some((service, endpoint)) = routes.get(e).and_then(|t| t.split_once('/')) else {
            continue;
        };
        let mut next = IndexMap::new();
        for (to, p) in &step.next {
            if routes.contains_key(to) && *p > 0.0 {
                next.insert(slug(to), *p);
            }
        }
        let kept: f64 = next.values().sum();
        steps.insert(
            slug(e),
            m::FlowStep {
                service: service.to_owned(),
                endpoint: Some(endpoint.to_owned()),
                exit: Some(((1.0 - kept) * 1e9).round().max(0.0) / 1e9),
                next,
                think_time: think.clone(),
            },
        );
    }
    steps
}

//! The result of a simulation run: a serialisable [`SimReport`] (the JSON that `doppel simulate
//! --format json`, the bars and the UI read) built by merging replications in replication order,
//! and its plain-text rendering.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::net::SimNet;
use crate::plan::{Objective, Plan};
use crate::stats::{Decision, LogHist, RepStats, mean_ci95};

/// Everything a run measured, averaged over replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    /// Run-wide figures.
    pub summary: Summary,
    /// One entry per workload, in the network's order.
    pub workloads: Vec<WorkloadReport>,
    /// One entry per service, in the network's order.
    pub services: Vec<ServiceReport>,
    /// One entry per host, in the network's order.
    pub hosts: Vec<HostReport>,
    /// Fixed-width buckets over the whole run (warm-up included), averaged over replications;
    /// each bucket's `workloads` and `services` follow the order of the lists above.
    pub timeline: Vec<Bucket>,
    /// One verdict per SLO (the twin's, then the scenario's).
    pub slos: Vec<SloVerdict>,
    /// Scenario events, for marking charts.
    pub events: Vec<EventMark>,
    /// Decisions taken during the run (canary verdicts, rollouts, autoscaling), every
    /// replication.
    pub decisions: Vec<Decision>,
}

/// Request failures by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Causes {
    /// A call timed out (or was never answered).
    pub timeout: f64,
    /// Rejected: queue full, load shed, bulkhead full, no healthy instance.
    pub rejected: f64,
    /// An error response (injected, dead process, failed dependency).
    pub failed: f64,
    /// Short-circuited by an open circuit breaker.
    pub breaker_open: f64,
}

impl Causes {
    fn of(c: [f64; 4]) -> Causes {
        Causes {
            timeout: c[0],
            rejected: c[1],
            failed: c[2],
            breaker_open: c[3],
        }
    }

    /// All causes together.
    pub fn total(&self) -> f64 {
        self.timeout + self.rejected + self.failed + self.breaker_open
    }
}

/// One timeline bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the bucket, simulated seconds.
    pub t: f64,
    /// Requests started per second, all workloads.
    pub arrivals_rps: f64,
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Failed requests per second, by cause.
    pub errors_rps: Causes,
    /// Latency percentiles of the requests that succeeded in the bucket, ms (0 when none).
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Per workload.
    pub workloads: Vec<BucketWorkload>,
    /// Per service.
    pub services: Vec<BucketService>,
}

/// A workload in a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketWorkload {
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Failed requests per second.
    pub errors_rps: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// A service in a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketService {
    /// Visits finished or rejected per second.
    pub visits_rps: f64,
    /// Visits failed or rejected per second.
    pub errors_rps: f64,
    /// Busy workers / available workers.
    pub utilization: f64,
    /// Ready (serving or draining) replicas, time-averaged.
    pub replicas: f64,
    /// Pods waiting for a node, at the bucket's end.
    pub pending: f64,
    /// Circuit breakers of its calls that are not closed, at the bucket's end.
    pub breakers_open: f64,
}

/// The verdict on one SLO over the measurement window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloVerdict {
    /// The SLO's name.
    pub name: String,
    /// What it judges, as an id: `workload:checkout`, `endpoint:cart/get`, `service:cart`.
    pub target: String,
    /// The objective in words, e.g. `p99 <= 250 ms` or `availability >= 99.9%`.
    pub objective: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// What was achieved over the window, in `unit` (`null` when nothing was measured).
    pub achieved: Option<f64>,
    /// `ms` or `%`.
    pub unit: String,
    /// 95% confidence interval of `achieved` over replications (needs 2 or more).
    pub achieved_ci95: Option<[f64; 2]>,
    /// The objective holds.
    pub met: bool,
    /// How far from the threshold, in `unit`: positive means broken by that much.
    pub excess: Option<f64>,
    /// When the objective first failed over the trailing minute (windows start at the end of
    /// the warm-up): the end of that window, simulated seconds.
    pub first_breach_s: Option<f64>,
    /// Seconds (bucket by bucket, after warm-up) at which the trailing minute fails.
    pub breach_seconds: f64,
}

/// A scenario event on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMark {
    /// Simulated seconds.
    pub t: f64,
    /// What happens.
    pub label: String,
}

/// Run-wide figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Simulated seconds per replication, warm-up included.
    pub sim_seconds: f64,
    /// Warm-up seconds excluded from statistics.
    pub warmup_seconds: f64,
    /// Wall-clock seconds; the library leaves 0 (it never reads the clock), the caller fills it.
    pub wall_seconds: f64,
    /// Events processed, all replications together.
    pub events: u64,
    /// Station visits completed, all replications together.
    pub visits: u64,
    /// The seed.
    pub seed: u64,
    /// Number of independent replications.
    pub replications: u32,
    /// Call attempts that timed out in the window, all replications together.
    pub timeouts: u64,
    /// Retries made in the window, all replications together.
    pub retries: u64,
    /// Call attempts failed at once by an open circuit breaker, all replications together.
    pub short_circuits: u64,
    /// Failed requests in the window by the cause at the bottom of the chain, all
    /// replications together.
    pub errors: Causes,
}

/// What a workload's users saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// Workload name.
    pub name: String,
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Failed / (successful + failed) requests.
    pub error_rate: f64,
    /// Successful requests measured (per replication, on average).
    pub completed: f64,
    /// End-to-end latency of successful requests (pauses between flow steps excluded).
    pub latency_ms: LatencyReport,
}

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// 95% confidence interval of the mean: Student-t over replication means, or over batch
    /// means of the window with a single replication. `null` when it cannot be computed.
    pub mean_ci95: Option<[f64; 2]>,
}

/// Load on a service, over all its instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceReport {
    /// Service name.
    pub name: String,
    /// Busy workers / workers, 0..1 (a worker waiting on a downstream call is busy).
    pub utilization: f64,
    /// Mean number of visits queued or in service.
    pub mean_in_system: f64,
    /// Visits finished per second.
    pub throughput_rps: f64,
    /// Failed or rejected visits / visits.
    pub error_rate: f64,
    /// Per endpoint.
    pub endpoints: Vec<EndpointReport>,
    /// Per instance.
    pub instances: Vec<InstanceReport>,
}

/// Load on one endpoint of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// Endpoint name.
    pub name: String,
    /// Workers busy on this endpoint / the service's workers.
    pub utilization: f64,
    /// Mean number of its visits queued or in service.
    pub mean_in_system: f64,
    /// Visits finished per second.
    pub throughput_rps: f64,
    /// Failed or rejected visits / visits.
    pub error_rate: f64,
    /// Mean time from arrival at the instance to the response, milliseconds.
    pub mean_response_ms: f64,
}

/// Load on one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// Instance name.
    pub name: String,
    /// Busy workers / workers.
    pub utilization: f64,
    /// Mean number of visits queued or in service.
    pub mean_in_system: f64,
    /// Visits finished per second.
    pub throughput_rps: f64,
    /// Visits rejected per second (queue full).
    pub rejected_rps: f64,
}

/// CPU load on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    /// Host name.
    pub name: String,
    /// Cores.
    pub cores: f64,
    /// Busy cores / cores, 0..1.
    pub cpu_utilization: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Run parameters echoed in the summary.
pub(crate) struct RunInfo {
    pub duration: f64,
    pub warmup: f64,
    pub seed: u64,
}

/// Merges replications, in order, into a report.
pub(crate) fn build(net: &SimNet, plan: &Plan, info: &RunInfo, reps: &[RepStats]) -> SimReport {
    let dynamic = !plan.actions.is_empty() || !plan.managed.is_empty();
    let r = reps.len().max(1) as f64;
    let window = reps.first().map_or(0.0, |s| s.window);
    let span = r * window; // Total measured seconds over all replications.
    let summary = Summary {
        sim_seconds: info.duration,
        warmup_seconds: info.warmup,
        wall_seconds: 0.0,
        events: reps.iter().map(|s| s.events).sum(),
        visits: reps.iter().map(|s| s.visits).sum(),
        seed: info.seed,
        replications: reps.len() as u32,
        timeouts: reps.iter().map(|s| s.timeouts).sum(),
        retries: reps.iter().map(|s| s.retries).sum(),
        short_circuits: reps.iter().map(|s| s.short_circuits).sum(),
        errors: Causes::of(std::array::from_fn(|k| {
            reps.iter().map(|s| s.causes[k] as f64).sum()
        })),
    };

    let workloads = net
        .workloads
        .iter()
        .enumerate()
        .map(|(w, wl)| {
            let completed: u64 = reps.iter().map(|s| s.workloads[w].completed).sum();
            let errors: u64 = reps.iter().map(|s| s.workloads[w].errors).sum();
            let sum: f64 = reps.iter().map(|s| s.workloads[w].latency_sum).sum();
            let max = reps
                .iter()
                .map(|s| s.workloads[w].latency_max)
                .fold(0.0, f64::max);
            let mut hist = crate::stats::latency_histogram();
            for s in reps {
                // Same bounds everywhere; saturating records keep every value in range.
                let _ = hist.add(&s.workloads[w].hist);
            }
            // HDR quantiles are the top of a 0.1%-wide bucket: never report one above the max.
            let q = |p: f64| {
                if hist.is_empty() {
                    0.0
                } else {
                    (hist.value_at_quantile(p) as f64 / 1e3).min(max * 1e3)
                }
            };
            let samples: Vec<f64> = if reps.len() >= 2 {
                reps.iter()
                    .filter(|s| s.workloads[w].completed > 0)
                    .map(|s| s.workloads[w].latency_sum / s.workloads[w].completed as f64)
                    .collect()
            } else {
                reps.iter()
                    .flat_map(|s| {
                        let ws = &s.workloads[w];
                        ws.batch_sum
                            .iter()
                            .zip(&ws.batch_n)
                            .filter(|(_, n)| **n > 0)
                            .map(|(s, n)| s / *n as f64)
                    })
                    .collect()
            };
            let ci = mean_ci95(&samples).map(|(_, lo, hi)| [lo * 1e3, hi * 1e3]);
            WorkloadReport {
                name: wl.name.clone(),
                throughput_rps: ratio(completed as f64, span),
                error_rate: ratio(errors as f64, (completed + errors) as f64),
                completed: completed as f64 / r,
                latency_ms: LatencyReport {
                    mean: ratio(sum, completed as f64) * 1e3,
                    p50: q(0.5),
                    p90: q(0.9),
                    p95: q(0.95),
                    p99: q(0.99),
                    max: max * 1e3,
                    mean_ci95: ci,
                },
            }
        })
        .collect();

    let mut svc_instances: Vec<Vec<usize>> = vec![Vec::new(); net.services.len()];
    for (i, inst) in net.instances.iter().enumerate() {
        svc_instances[inst.service as usize].push(i);
    }
    let mut svc_endpoints: Vec<Vec<usize>> = vec![Vec::new(); net.services.len()];
    for (e, ep) in net.endpoints.iter().enumerate() {
        svc_endpoints[ep.service as usize].push(e);
    }
    let inst_sum = |i: usize, f: &dyn Fn(&crate::stats::InstanceStats) -> f64| -> f64 {
        reps.iter().map(|s| f(&s.instances[i])).sum()
    };
    let ep_sum = |e: usize, f: &dyn Fn(&crate::stats::EndpointStats) -> f64| -> f64 {
        reps.iter().map(|s| f(&s.endpoints[e])).sum()
    };
    let services = net
        .services
        .iter()
        .enumerate()
        .map(|(k, svc)| {
            let workers: f64 = svc_instances[k]
                .iter()
                .map(|&i| f64::from(net.instances[i].workers))
                .sum();
            let instances: Vec<InstanceReport> = svc_instances[k]
                .iter()
                .map(|&i| {
                    let c = f64::from(net.instances[i].workers);
                    let cap = if dynamic {
                        inst_sum(i, &|s| s.cap_area)
                    } else {
                        c * span
                    };
                    InstanceReport {
                        name: net.instances[i].name.clone(),
                        utilization: ratio(inst_sum(i, &|s| s.busy_area), cap),
                        mean_in_system: ratio(inst_sum(i, &|s| s.in_system_area), span),
                        throughput_rps: ratio(inst_sum(i, &|s| s.completed as f64), span),
                        rejected_rps: ratio(inst_sum(i, &|s| s.rejected as f64), span),
                    }
                })
                .collect();
            let endpoints: Vec<EndpointReport> = svc_endpoints[k]
                .iter()
                .map(|&e| {
                    let completed = ep_sum(e, &|s| s.completed as f64);
                    let rejected = ep_sum(e, &|s| s.rejected as f64);
                    EndpointReport {
                        name: net.endpoints[e].name.clone(),
                        utilization: ratio(ep_sum(e, &|s| s.busy_area), workers * span),
                        mean_in_system: ratio(ep_sum(e, &|s| s.in_system_area), span),
                        throughput_rps: ratio(completed, span),
                        error_rate: ratio(ep_sum(e, &|s| s.errors as f64), completed + rejected),
                        mean_response_ms: ratio(ep_sum(e, &|s| s.response_sum), completed) * 1e3,
                    }
                })
                .collect();
            let busy: f64 = svc_instances[k]
                .iter()
                .map(|&i| inst_sum(i, &|s| s.busy_area))
                .sum();
            let in_sys: f64 = svc_instances[k]
                .iter()
                .map(|&i| inst_sum(i, &|s| s.in_system_area))
                .sum();
            let completed: f64 = svc_endpoints[k]
                .iter()
                .map(|&e| ep_sum(e, &|s| s.completed as f64))
                .sum();
            let rejected: f64 = svc_endpoints[k]
                .iter()
                .map(|&e| ep_sum(e, &|s| s.rejected as f64))
                .sum();
            let errors: f64 = svc_endpoints[k]
                .iter()
                .map(|&e| ep_sum(e, &|s| s.errors as f64))
                .sum();
            let cap = if dynamic {
                reps.iter().map(|s| s.svc_cap[k]).sum()
            } else {
                workers * span
            };
            ServiceReport {
                name: svc.name.clone(),
                utilization: ratio(busy, cap),
                mean_in_system: ratio(in_sys, span),
                throughput_rps: ratio(completed, span),
                error_rate: ratio(errors, completed + rejected),
                endpoints,
                instances,
            }
        })
        .collect();

    let hosts = net
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| HostReport {
            name: host.name.clone(),
            cores: host.cores,
            cpu_utilization: ratio(reps.iter().map(|s| s.host_busy[h]).sum(), host.cores * span),
        })
        .collect();

    let mut decisions: Vec<Decision> = reps.iter().flat_map(|s| s.decisions.clone()).collect();
    for d in &mut decisions {
        d.service = net
            .services
            .get(d.service_index as usize)
            .map(|s| s.name.clone())
            .unwrap_or_default();
    }
    SimReport {
        summary,
        workloads,
        services,
        hosts,
        timeline: timeline(net, info, reps),
        slos: slos(plan, info, reps),
        events: plan
            .actions
            .iter()
            .map(|a| EventMark {
                t: a.at,
                label: a.label.clone(),
            })
            .collect(),
        decisions,
    }
}

fn timeline(net: &SimNet, info: &RunInfo, reps: &[RepStats]) -> Vec<Bucket> {
    let series: Vec<&crate::stats::RepSeries> =
        reps.iter().filter_map(|s| s.series.as_ref()).collect();
    let Some(first) = series.first() else {
        return Vec::new();
    };
    let r = series.len() as f64;
    let (n, nw, ns) = (first.n, first.nw, first.ns);
    let mut workers = vec![1.0; ns];
    for inst in &net.instances {
        workers[inst.service as usize] = f64::from(inst.workers);
    }
    (0..n)
        .map(|k| {
            let t = k as f64 * first.width;
            let dt = first.width.min(info.duration - t).max(1e-9);
            let per = |x: f64| x / (r * dt);
            let mut all = LogHist::default();
            let mut causes = [0.0; 4];
            let mut arrivals = 0.0;
            let mut ok = 0.0;
            let workloads = (0..nw)
                .map(|w| {
                    let j = k * nw + w;
                    let mut h = LogHist::default();
                    let (mut wok, mut werr) = (0.0, 0.0);
                    for s in &series {
                        h.add(&s.hist[j]);
                        wok += f64::from(s.ok[j]);
                        arrivals += f64::from(s.arrivals[j]);
                        for (c, e) in causes.iter_mut().zip(s.err[j]) {
                            *c += f64::from(e);
                            werr += f64::from(e);
                        }
                    }
                    all.add(&h);
                    ok += wok;
                    BucketWorkload {
                        throughput_rps: per(wok),
                        errors_rps: per(werr),
                        p99_ms: h.quantile(0.99) * 1e3,
                    }
                })
                .collect();
            let services = (0..ns)
                .map(|v| {
                    let j = k * ns + v;
                    let sum = |f: &dyn Fn(&crate::stats::RepSeries) -> f64| -> f64 {
                        series.iter().map(|s| f(s)).sum()
                    };
                    let cap = sum(&|s| s.cap[j]);
                    BucketService {
                        visits_rps: per(sum(&|s| f64::from(s.visits[j]))),
                        errors_rps: per(sum(&|s| f64::from(s.visit_errors[j]))),
                        utilization: ratio(sum(&|s| s.busy[j]), cap),
                        replicas: cap / (r * dt * workers[v]),
                        pending: sum(&|s| f64::from(s.pending[j])) / r,
                        breakers_open: sum(&|s| f64::from(s.breakers[j])) / r,
                    }
                })
                .collect();
            Bucket {
                t,
                arrivals_rps: per(arrivals),
                throughput_rps: per(ok),
                errors_rps: Causes::of(causes.map(per)),
                p50_ms: all.quantile(0.5) * 1e3,
                p90_ms: all.quantile(0.9) * 1e3,
                p99_ms: all.quantile(0.99) * 1e3,
                workloads,
                services,
            }
        })
        .collect()
}

/// Length of the trailing window over which SLO breaches are timed, seconds.
const BREACH_WINDOW: f64 = 60.0;

/// Rounds away binary noise for display (`99.90000000000001` → `99.9`).
fn tidy(x: f64) -> String {
    let r = (x * 1e6).round() / 1e6;
    format!("{r}")
}

fn slos(plan: &Plan, info: &RunInfo, reps: &[RepStats]) -> Vec<SloVerdict> {
    plan.slos
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let achieved_of = |rs: &[&RepStats]| -> Option<f64> {
                match spec.objective {
                    Objective::Latency { percentile, .. } => {
                        let mut h = crate::stats::latency_histogram();
                        let mut max = 0u64;
                        for s in rs {
                            let _ = h.add(&s.slos[k].hist);
                            max = max.max(s.slos[k].hist.max());
                        }
                        (!h.is_empty())
                            .then(|| h.value_at_quantile(percentile / 100.0).min(max) as f64 / 1e3)
                    }
                    Objective::Availability(_) => {
                        let ok: u64 = rs.iter().map(|s| s.slos[k].hist.len()).sum();
                        let err: u64 = rs.iter().map(|s| s.slos[k].errors).sum();
                        (ok + err > 0).then(|| 100.0 * ok as f64 / (ok + err) as f64)
                    }
                }
            };
            let all: Vec<&RepStats> = reps.iter().collect();
            let achieved = achieved_of(&all);
            let per_rep: Vec<f64> = reps.iter().filter_map(|s| achieved_of(&[s])).collect();
            let ci = if per_rep.len() == reps.len() {
                mean_ci95(&per_rep).map(|(_, lo, hi)| [lo, hi])
            } else {
                None
            };
            let (objective, threshold, unit, bad_share) = match spec.objective {
                Objective::Latency {
                    percentile,
                    threshold,
                } => (
                    format!("p{} <= {} ms", tidy(percentile), tidy(threshold * 1e3)),
                    threshold * 1e3,
                    "ms",
                    1.0 - percentile / 100.0,
                ),
                Objective::Availability(a) => (
                    format!("availability >= {}%", tidy(a * 100.0)),
                    a * 100.0,
                    "%",
                    1.0 - a,
                ),
            };
            let is_latency = unit == "ms";
            let excess = achieved.map(|a| {
                if is_latency {
                    a - threshold
                } else {
                    threshold - a
                }
            });
            let met = excess.is_some_and(|e| e <= 1e-9);
            // Trailing windows of a minute (at least a bucket), from the end of the warm-up:
            // the first window over which the objective fails, and how long it fails.
            let series: Vec<&crate::stats::RepSeries> =
                reps.iter().filter_map(|s| s.series.as_ref()).collect();
            let mut first_breach = None;
            let mut breach_seconds = 0.0;
            if let Some(first) = series.first() {
                let span = ((BREACH_WINDOW / first.width).round() as usize).max(1);
                let (mut n, mut bad) = (0.0, 0.0);
                let mut window: std::collections::VecDeque<(f64, f64)> = Default::default();
                for b in 0..first.n {
                    let t = b as f64 * first.width;
                    if t + 1e-9 < info.warmup {
                        continue;
                    }
                    let j = b * first.nslo + k;
                    let bn: f64 = series.iter().map(|s| f64::from(s.slo_n[j])).sum();
                    let bb: f64 = series.iter().map(|s| f64::from(s.slo_bad[j])).sum();
                    window.push_back((bn, bb));
                    n += bn;
                    bad += bb;
                    if window.len() > span
                        && let Some((on, ob)) = window.pop_front()
                    {
                        n -= on;
                        bad -= ob;
                    }
                    if n > 0.0 && bad > bad_share * n + 1e-9 {
                        let end = (t + first.width).min(info.duration);
                        first_breach.get_or_insert(end);
                        breach_seconds += end - t;
                    }
                }
            }
            SloVerdict {
                name: spec.name.clone(),
                target: spec.target_name.clone(),
                objective,
                threshold,
                achieved,
                unit: unit.into(),
                achieved_ci95: ci,
                met,
                excess,
                first_breach_s: first_breach,
                breach_seconds,
            }
        })
        .collect()
}

impl SimReport {
    /// A readable plain-text rendering (tables of workloads, services and busy hosts).
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "simulated {:.0} s ({:.0} s warm-up) x {} replication(s), seed {}: {} events, {} visits{}",
            s.sim_seconds,
            s.warmup_seconds,
            s.replications,
            s.seed,
            s.events,
            s.visits,
            if s.wall_seconds > 0.0 {
                format!(", {:.3} s wall", s.wall_seconds)
            } else {
                String::new()
            }
        );
        if !self.workloads.is_empty() {
            let w = self
                .workloads
                .iter()
                .map(|w| w.name.len())
                .max()
                .unwrap_or(0)
                .max(8);
            let _ = writeln!(out, "\nworkloads");
            let _ = writeln!(
                out,
                "  {:<w$} {:>10} {:>7} {:>9} {:>19} {:>9} {:>9} {:>9}",
                "name", "req/s", "errors", "mean ms", "95% CI", "p50 ms", "p99 ms", "max ms"
            );
            for wl in &self.workloads {
                let l = &wl.latency_ms;
                let ci = l
                    .mean_ci95
                    .map_or("-".to_owned(), |[lo, hi]| format!("{lo:.2}..{hi:.2}"));
                let _ = writeln!(
                    out,
                    "  {:<w$} {:>10.2} {:>6.2}% {:>9.2} {:>19} {:>9.2} {:>9.2} {:>9.2}",
                    wl.name,
                    wl.throughput_rps,
                    wl.error_rate * 100.0,
                    l.mean,
                    ci,
                    l.p50,
                    l.p99,
                    l.max
                );
            }
        }
        if !self.services.is_empty() {
            let w = self
                .services
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0)
                .max(8);
            let _ = writeln!(out, "\nservices");
            let _ = writeln!(
                out,
                "  {:<w$} {:>10} {:>7} {:>10} {:>7}",
                "name", "visits/s", "util", "in system", "errors"
            );
            for sv in &self.services {
                let _ = writeln!(
                    out,
                    "  {:<w$} {:>10.2} {:>6.1}% {:>10.3} {:>6.2}%",
                    sv.name,
                    sv.throughput_rps,
                    sv.utilization * 100.0,
                    sv.mean_in_system,
                    sv.error_rate * 100.0
                );
            }
        }
        if !self.slos.is_empty() {
            let w = self
                .slos
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0)
                .max(8);
            let _ = writeln!(out, "\nslos");
            for v in &self.slos {
                let achieved = v.achieved.map_or("no data".to_owned(), |a| {
                    format!("{a:.2}{}", if v.unit == "%" { "%" } else { " ms" })
                });
                let _ = writeln!(
                    out,
                    "  {:<w$} {:<6} {:<28} achieved {achieved}{}",
                    v.name,
                    if v.met { "met" } else { "BROKEN" },
                    v.objective,
                    v.first_breach_s
                        .map_or(String::new(), |t| format!(", first breach at {t:.0} s"))
                );
            }
        }
        if !self.decisions.is_empty() {
            let _ = writeln!(out, "\ndecisions");
            for d in &self.decisions {
                let _ = writeln!(
                    out,
                    "  t={:>7.1} s rep {} {} {}: {}{}",
                    d.t,
                    d.replication,
                    d.service,
                    d.kind,
                    d.outcome,
                    if d.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", d.detail)
                    }
                );
            }
        }
        let busy: Vec<&HostReport> = self
            .hosts
            .iter()
            .filter(|h| h.cpu_utilization > 0.0)
            .collect();
        if !busy.is_empty() {
            let w = busy.iter().map(|h| h.name.len()).max().unwrap_or(0).max(8);
            let _ = writeln!(out, "\nhosts");
            let _ = writeln!(out, "  {:<w$} {:>7} {:>7}", "name", "cores", "cpu");
            for h in busy {
                let _ = writeln!(
                    out,
                    "  {:<w$} {:>7} {:>6.1}%",
                    h.name,
                    h.cores,
                    h.cpu_utilization * 100.0
                );
            }
        }
        out
    }
}

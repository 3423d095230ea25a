//! The result of a simulation run: a serialisable [`SimReport`] (the JSON that `doppel simulate
//! --format json`, the bars and the UI read) built by merging replications in replication order,
//! and its plain-text rendering.

use std::fmt::Write as _;

use serde::Serialize;

use crate::net::SimNet;
use crate::stats::{RepStats, mean_ci95};

/// Everything a run measured, averaged over replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Run-wide figures.
    pub summary: Summary,
    /// One entry per workload, in the network's order.
    pub workloads: Vec<WorkloadReport>,
    /// One entry per service, in the network's order.
    pub services: Vec<ServiceReport>,
    /// One entry per host, in the network's order.
    pub hosts: Vec<HostReport>,
}

/// Run-wide figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

/// What a workload's users saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
pub(crate) fn build(net: &SimNet, info: &RunInfo, reps: &[RepStats]) -> SimReport {
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
                    InstanceReport {
                        name: net.instances[i].name.clone(),
                        utilization: ratio(inst_sum(i, &|s| s.busy_area), c * span),
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
            ServiceReport {
                name: svc.name.clone(),
                utilization: ratio(busy, workers * span),
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

    SimReport {
        summary,
        workloads,
        services,
        hosts,
    }
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

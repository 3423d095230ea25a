//! The instant estimate of a whole [`SimNet`]: an open queueing-network approximation that
//! answers in microseconds what the simulator answers in seconds, for the UI and the scenario
//! runner, and as a sanity check of a simulation.
//!
//! How it is computed:
//! 1. **Arrival rates.** Each open workload offers its peak scheduled rate; a closed one offers
//!    its throughput upper bound `N / (Z + R₀)` with `R₀` the no-queueing response time (both
//!    are conservative: the estimate is of the busiest moment). Visits per request to each flow
//!    step solve the flow's traffic equations `v = e_start + v·P` exactly; calls then multiply
//!    rates down the (acyclic) call graph by `probability × count`.
//! 2. **Stations.** Each instance gets an even share of its service's rate (what round robin and
//!    the other balancers do on average). Its worker pool is an M/M/c queue whose "service time"
//!    is the time a visit holds a worker: its CPU time (stretched on hosts whose cores are
//!    oversubscribed, with the host's cores as an M/M/K processor-sharing station) plus, for
//!    each step, the callee's response time and the network round trip (the slowest call's, for
//!    a parallel step: the maximum of the means, a slight underestimate; asynchronous calls add
//!    load downstream but no waiting).
//! 3. **Responses.** Endpoints are solved callees first, so a caller's holding time includes its
//!    callees' queueing. A request's latency is Σ visits × response time of its flow steps.
//!
//! It is exact for product-form cases (M/M/c, tandems, Jackson networks with exponential
//! service) and an approximation elsewhere; queue limits, timeouts, retries and breakers are
//! ignored. A saturated station (utilization ≥ 1) has an infinite response time.

use serde::Serialize;

use super::{AnalyticError, linalg, mmc};
use crate::net::{Load, SimNet};

/// The estimate of a network, shaped like the simulator's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetEstimate {
    /// Per workload, in the network's order.
    pub workloads: Vec<WorkloadEstimate>,
    /// Per service, in the network's order.
    pub services: Vec<ServiceEstimate>,
    /// Per host, in the network's order.
    pub hosts: Vec<HostEstimate>,
    /// Per endpoint, in the network's order (not serialized: the reports stay per service).
    #[serde(skip)]
    pub endpoints: Vec<EndpointEstimate>,
}

/// Estimated load and response time of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EndpointEstimate {
    /// Visits per second.
    pub throughput_rps: f64,
    /// Mean time from arrival at an instance to the response, milliseconds.
    pub mean_response_ms: f64,
}

/// Estimated load and latency of a workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadEstimate {
    /// Workload name.
    pub name: String,
    /// Requests per second offered (peak of the schedule, or the closed-load bound).
    pub throughput_rps: f64,
    /// Mean end-to-end latency, milliseconds (infinite when a station on the path saturates).
    pub mean_latency_ms: f64,
}

/// Estimated load on a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEstimate {
    /// Service name.
    pub name: String,
    /// Busy workers / workers (may exceed 1: then the service is saturated).
    pub utilization: f64,
    /// Mean visits queued or in service (Little's law), infinite when saturated.
    pub mean_in_system: f64,
    /// Visits per second.
    pub throughput_rps: f64,
    /// Mean time from arrival at an instance to the response, milliseconds, over its visits.
    pub mean_response_ms: f64,
}

/// Estimated CPU load on a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostEstimate {
    /// Host name.
    pub name: String,
    /// Busy cores / cores (may exceed 1: then the host is saturated).
    pub cpu_utilization: f64,
}

/// Visits per request to each step of workload `w`'s flow.
fn flow_visits(net: &SimNet, w: usize) -> Result<Vec<f64>, AnalyticError> {
    let flow = &net.workloads[w].flow;
    let n = flow.steps.len();
    // (I - Pᵀ) v = e_start.
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        a[i * n + i] = 1.0;
    }
    for (i, s) in flow.steps.iter().enumerate() {
        for &(j, p) in &s.next {
            a[j as usize * n + i] -= p;
        }
    }
    let mut b = vec![0.0; n];
    b[flow.start as usize] = 1.0;
    linalg::solve(a, b).ok_or(AnalyticError::Singular)
}

/// Endpoints ordered callees first (the call graph is acyclic once the network is valid).
fn callees_first(net: &SimNet) -> Vec<usize> {
    let n = net.endpoints.len();
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((node, next)) = stack.pop() {
            let calls: Vec<usize> = net.endpoints[node]
                .steps
                .iter()
                .flat_map(|s| &s.calls)
                .map(|c| c.target as usize)
                .collect();
            if let Some(&child) = calls.get(next) {
                stack.push((node, next + 1));
                if state[child] == 0 {
                    state[child] = 1;
                    stack.push((child, 0));
                }
            } else {
                state[node] = 2;
                order.push(node);
            }
        }
    }
    order
}

/// Estimates `net` analytically.
pub fn estimate(net: &SimNet) -> Result<NetEstimate, AnalyticError> {
    net.validate()
        .map_err(|e| AnalyticError::Invalid(e.to_string()))?;
    let ne = net.endpoints.len();
    let order = callees_first(net);
    let visits: Vec<Vec<f64>> = (0..net.workloads.len())
        .map(|w| flow_visits(net, w))
        .collect::<Result<_, _>>()?;

    // Response time per endpoint with no queueing anywhere (for closed-load bounds), and the
    // one-way latency from each endpoint's service to each callee's (taken over instances).
    let mut inst_of: Vec<Vec<usize>> = vec![Vec::new(); net.services.len()];
    for (i, inst) in net.instances.iter().enumerate() {
        inst_of[inst.service as usize].push(i);
    }
    let nz = net.zones.len();
    let avg_latency = |from_svc: usize, to_svc: usize| -> f64 {
        if net.latency.is_empty() {
            return 0.0;
        }
        let (a, b) = (&inst_of[from_svc], &inst_of[to_svc]);
        let mut sum = 0.0;
        for &i in a {
            for &j in b {
                if let (Some(za), Some(zb)) =
                    (net.instance_zone(i as u32), net.instance_zone(j as u32))
                {
                    sum += net.latency[za as usize * nz + zb as usize];
                }
            }
        }
        sum / (a.len() * b.len()).max(1) as f64
    };
    let hold = |ep: usize, resp: &[f64]| -> f64 {
        let e = &net.endpoints[ep];
        let mut h = 0.0;
        for step in &e.steps {
            let per_call = |c: &crate::net::Call| {
                if c.is_async {
                    return 0.0; // The caller does not wait.
                }
                let callee = net.endpoints[c.target as usize].service as usize;
                let rtt = 2.0 * avg_latency(e.service as usize, callee);
                c.probability * f64::from(c.count) * (rtt + resp[c.target as usize])
            };
            h += step.calls.iter().map(per_call).fold(0.0, f64::max);
        }
        h
    };
    let mut r0 = vec![0.0; ne];
    for &ep in &order {
        r0[ep] = net.endpoints[ep].service_time.mean() + hold(ep, &r0);
    }

    // Offered rates.
    let offered: Vec<f64> = net
        .workloads
        .iter()
        .enumerate()
        .map(|(w, wl)| match &wl.load {
            Load::Open { schedule } => schedule.iter().map(|s| s.1).fold(0.0, f64::max),
            Load::Closed { users, think_time } => {
                let r: f64 = wl
                    .flow
                    .steps
                    .iter()
                    .zip(&visits[w])
                    .map(|(s, v)| v * r0[s.endpoint as usize])
                    .sum();
                let think: f64 = wl
                    .flow
                    .steps
                    .iter()
                    .zip(&visits[w])
                    .map(|(s, v)| v * s.think_time.as_ref().map_or(0.0, |d| d.mean()))
                    .sum();
                let cycle = think_time.mean() + think + r;
                if cycle > 0.0 {
                    f64::from(*users) / cycle
                } else {
                    0.0
                }
            }
        })
        .collect();

    // Visit rates per endpoint: flows, then calls, callers before callees.
    let mut rate = vec![0.0; ne];
    for (w, wl) in net.workloads.iter().enumerate() {
        for (s, v) in wl.flow.steps.iter().zip(&visits[w]) {
            rate[s.endpoint as usize] += offered[w] * v;
        }
    }
    for &ep in order.iter().rev() {
        let r = rate[ep];
        for c in net.endpoints[ep].steps.iter().flat_map(|s| &s.calls) {
            rate[c.target as usize] += r * c.probability * f64::from(c.count);
        }
    }

    // CPU per host, and the stretch of CPU time on oversubscribed hosts.
    let svc_rate_cpu: Vec<f64> = {
        let mut v = vec![0.0; net.services.len()];
        for (ep, e) in net.endpoints.iter().enumerate() {
            v[e.service as usize] += rate[ep] * e.service_time.mean();
        }
        v
    };
    let mut host_busy = vec![0.0; net.hosts.len()];
    let mut host_workers = vec![0.0; net.hosts.len()];
    for inst in &net.instances {
        if let Some(h) = inst.host {
            let share = inst_of[inst.service as usize].len().max(1) as f64;
            host_busy[h as usize] += svc_rate_cpu[inst.service as usize] / share;
            host_workers[h as usize] += f64::from(inst.workers);
        }
    }
    let stretch: Vec<f64> = net
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| {
            if host_workers[h] <= host.cores || host_busy[h] <= 0.0 {
                return 1.0;
            }
            let cores = host.cores.floor().max(1.0);
            // Work arrives at `host_busy` core-seconds per second; as M/M/K the mean time in
            // the station over the mean service time is the stretch.
            let (lam, mu) = (host_busy[h], 1.0);
            match mmc(lam, mu, cores as u32) {
                Ok(m) => m.w * mu,
                Err(_) => f64::INFINITY,
            }
        })
        .collect();

    // Responses, callees first, with each service's worker pool as M/M/c.
    let mut resp = vec![0.0; ne];
    let mut svc_util = vec![0.0; net.services.len()];
    let mut svc_hold_rate = vec![0.0; net.services.len()];
    let mut svc_wait = vec![0.0; net.services.len()];
    // Services are solved when their last endpoint is reached in callee-first order; each
    // endpoint's queueing delay is its service's, computed from all its endpoints' holds.
    let mut hold_time = vec![0.0; ne];
    let mut svc_rate = vec![0.0; net.services.len()];
    for (k, e) in net.endpoints.iter().enumerate() {
        svc_rate[e.service as usize] += rate[k];
    }
    for &ep in &order {
        let e = &net.endpoints[ep];
        let s = e.service as usize;
        let cpu_stretch = inst_of[s]
            .iter()
            .map(|&i| net.instances[i].host.map_or(1.0, |h| stretch[h as usize]))
            .sum::<f64>()
            / inst_of[s].len().max(1) as f64;
        hold_time[ep] = e.service_time.mean() * cpu_stretch + hold(ep, &resp);
        svc_hold_rate[s] += rate[ep] * hold_time[ep];
        // Waiting time at the pool, with the endpoints solved so far (the callee-first order
        // puts a service's endpoints before any caller of theirs, so callers see the final
        // value unless a service calls itself, which validation forbids).
        let n = inst_of[s].len().max(1);
        let c = inst_of[s].first().map_or(1, |&i| net.instances[i].workers);
        let lam_inst = svc_rate[s] / n as f64;
        let hold_mean = if lam_inst > 0.0 {
            svc_hold_rate[s] / n as f64 / lam_inst
        } else {
            0.0
        };
        svc_util[s] = lam_inst * hold_mean / f64::from(c);
        svc_wait[s] = if lam_inst <= 0.0 || hold_mean <= 0.0 {
            0.0
        } else {
            mmc(lam_inst, 1.0 / hold_mean, c).map_or(f64::INFINITY, |m| m.wq)
        };
        resp[ep] = svc_wait[s] + hold_time[ep];
    }
    // Second pass: every endpoint's response with its service's final waiting time.
    for ep in 0..ne {
        resp[ep] = svc_wait[net.endpoints[ep].service as usize] + hold_time[ep];
    }

    let workloads = net
        .workloads
        .iter()
        .enumerate()
        .map(|(w, wl)| WorkloadEstimate {
            name: wl.name.clone(),
            throughput_rps: offered[w],
            mean_latency_ms: wl
                .flow
                .steps
                .iter()
                .zip(&visits[w])
                .map(|(s, v)| v * resp[s.endpoint as usize])
                .sum::<f64>()
                * 1e3,
        })
        .collect();
    let services = net
        .services
        .iter()
        .enumerate()
        .map(|(s, svc)| {
            let eps: Vec<usize> = (0..ne)
                .filter(|&k| net.endpoints[k].service as usize == s)
                .collect();
            let x: f64 = eps.iter().map(|&k| rate[k]).sum();
            let l: f64 = eps.iter().map(|&k| rate[k] * resp[k]).sum();
            ServiceEstimate {
                name: svc.name.clone(),
                utilization: svc_util[s],
                mean_in_system: l,
                throughput_rps: x,
                mean_response_ms: if x > 0.0 { l / x * 1e3 } else { 0.0 },
            }
        })
        .collect();
    let hosts = net
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| HostEstimate {
            name: host.name.clone(),
            cpu_utilization: host_busy[h] / host.cores,
        })
        .collect();
    let endpoints = (0..ne)
        .map(|k| EndpointEstimate {
            throughput_rps: rate[k],
            mean_response_ms: resp[k] * 1e3,
        })
        .collect();
    Ok(NetEstimate {
        workloads,
        services,
        hosts,
        endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tandem_net;
    use crate::dist::Dist;
    use crate::net::{Flow, FlowStep};

    #[test]
    fn tandem_is_exact() {
        let e = estimate(&tandem_net(10, 2, 0.8, 0.5)).unwrap();
        assert!(
            (e.workloads[0].mean_latency_ms / 1e3 - 55.556).abs() < 1e-3,
            "{e:?}"
        );
        assert!((e.services[3].utilization - 0.8).abs() < 1e-12);
        assert!((e.services[3].mean_in_system - 0.8 * 5.5556).abs() < 1e-3);
    }

    #[test]
    fn feedback_flow_matches_jackson() {
        // Station 0 then 1, back to 0 with p = 0.3: W = Σ λ_i/(μ_i - λ_i) / γ with λ = 1/0.7.
        let mut net = tandem_net(2, 1, 1.0, 1.0);
        net.endpoints[0].service_time = Dist::exp(1.0 / 3.0);
        net.endpoints[1].service_time = Dist::exp(0.25);
        net.workloads[0].flow = Flow {
            start: 0,
            steps: vec![
                FlowStep {
                    endpoint: 0,
                    next: vec![(1, 1.0)],
                    think_time: None,
                },
                FlowStep {
                    endpoint: 1,
                    next: vec![(0, 0.3)],
                    think_time: None,
                },
            ],
        };
        let e = estimate(&net).unwrap();
        let lam = 1.0 / 0.7;
        let w = lam / (3.0 - lam) + lam / (4.0 - lam);
        assert!(
            (e.workloads[0].mean_latency_ms / 1e3 - w).abs() < 1e-9,
            "{e:?}"
        );
    }

    #[test]
    fn saturation_is_infinite_and_calls_add_up() {
        let mut net = tandem_net(1, 1, 2.0, 1.0);
        let e = estimate(&net).unwrap();
        assert!(e.workloads[0].mean_latency_ms.is_infinite());
        assert!((e.services[0].utilization - 2.0).abs() < 1e-12);
        // A front with no work calling a constant 0.1 s callee twice, lightly loaded.
        net = tandem_net(2, 100, 0.01, 1.0);
        net.workloads[0].flow = Flow::chain(&[0]);
        net.endpoints[0].service_time = Dist::Constant(0.0);
        net.endpoints[0].steps = vec![crate::net::Step {
            calls: vec![crate::net::Call {
                count: 2,
                ..crate::net::Call::to(1)
            }],
        }];
        net.endpoints[1].service_time = Dist::Constant(0.1);
        let e = estimate(&net).unwrap();
        assert!(
            (e.workloads[0].mean_latency_ms - 200.0).abs() < 0.01,
            "{e:?}"
        );
        assert!((e.services[1].throughput_rps - 0.02).abs() < 1e-12);
    }
}

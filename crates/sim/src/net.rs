//! The simulator's own input: a network of hosts, services, instances, endpoints and workloads
//! with plain indices and f64 seconds, independent of the YAML model (see `compile` for the
//! translation from a twin).
//!
//! Semantics, in short:
//! * a workload's request walks its [`Flow`]: each flow step is a visit to an endpoint, sent from
//!   the client (no network latency on that hop) to an instance picked by the service's
//!   [`LoadBalancing`];
//! * an [`Instance`] has `workers` workers; a visit that finds them all busy waits in a FIFO queue
//!   of at most `queue_limit` (more are rejected);
//! * a visit holds its worker while it runs the endpoint's service time (CPU work, shared with the
//!   other instances on the same [`Host`]) and then its [`Step`]s in order; every [`Call`] of a step
//!   runs concurrently (a step with one call is a plain sequential call) and the step ends when
//!   the last returns (an `is_async` call is sent without waiting; an `optional` call's failure
//!   does not fail the caller);
//! * each hop pays the one-way latency between the caller's zone and the callee's zone, and the
//!   response pays it back.

use crate::dist::Dist;

/// Index of a zone in [`SimNet::zones`].
pub type ZoneId = u32;
/// Index of a host in [`SimNet::hosts`].
pub type HostId = u32;
/// Index of a service in [`SimNet::services`].
pub type ServiceId = u32;
/// Index of an instance in [`SimNet::instances`].
pub type InstanceId = u32;
/// Index of an endpoint in [`SimNet::endpoints`].
pub type EndpointId = u32;
/// Index of a workload in [`SimNet::workloads`].
pub type WorkloadId = u32;

/// A whole network to simulate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimNet {
    /// Zone names.
    pub zones: Vec<String>,
    /// One-way latency in seconds between zones, row-major `zones × zones`; empty means 0.
    pub latency: Vec<f64>,
    /// Machines whose cores are shared by the instances placed on them.
    pub hosts: Vec<Host>,
    /// Services: a load-balanced set of instances offering endpoints.
    pub services: Vec<Service>,
    /// Instances (replicas) of services.
    pub instances: Vec<Instance>,
    /// Endpoints (operations) of services.
    pub endpoints: Vec<Endpoint>,
    /// Offered load.
    pub workloads: Vec<Workload>,
}

/// A machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Name, for reports.
    pub name: String,
    /// Cores shared by the busy workers of the instances on this host. When more workers compute
    /// at once than there are cores, each progresses at `cores / busy` (processor sharing).
    pub cores: f64,
    /// The zone the host is in.
    pub zone: Option<ZoneId>,
}

/// How callers spread requests over a service's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadBalancing {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The instance with the fewest requests in flight (ties broken in round-robin order).
    LeastOutstanding,
    /// The less loaded of two distinct instances picked at random.
    PowerOfTwo,
}

/// A service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Name, for reports.
    pub name: String,
    /// How callers pick an instance.
    pub load_balancing: LoadBalancing,
}

/// One instance (replica) of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Name, for reports.
    pub name: String,
    /// The service it belongs to.
    pub service: ServiceId,
    /// The host it runs on; `None` means a dedicated machine with a core per worker.
    pub host: Option<HostId>,
    /// Its zone when it has no host (a host's zone wins otherwise).
    pub zone: Option<ZoneId>,
    /// Worker pool size (≥ 1).
    pub workers: u32,
    /// How many visits may wait for a worker; more are rejected. `None` is unbounded.
    pub queue_limit: Option<u32>,
}

/// An endpoint (operation) of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Name, for reports.
    pub name: String,
    /// The service offering it.
    pub service: ServiceId,
    /// CPU work per visit, in seconds at full speed.
    pub service_time: Dist,
    /// Downstream calls made after the CPU work, in order, holding the worker.
    pub steps: Vec<Step>,
}

/// One step of downstream work: its calls run concurrently; a one-call step is sequential.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// The calls of the step.
    pub calls: Vec<Call>,
}

/// A synchronous call to an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The called endpoint.
    pub target: EndpointId,
    /// Probability that the call is made at all when its step runs.
    pub probability: f64,
    /// Number of times it is made, one after another (≥ 1).
    pub count: u32,
    /// Give up waiting for a response after this many seconds (the callee keeps working).
    pub timeout: Option<f64>,
    /// Retry failed, rejected or timed-out attempts.
    pub retry: Option<Retry>,
    /// Stop calling a failing dependency for a while (one breaker per calling instance).
    pub breaker: Option<Breaker>,
    /// A failure of this call does not fail the caller (it serves a fallback).
    pub optional: bool,
    /// Bulkhead: at most this many of these calls in flight per calling instance; a call over
    /// the limit fails at once (rejected) without being sent or retried.
    pub max_concurrent: Option<u32>,
    /// Fire and forget: the caller does not wait (the `count` copies are sent at once); the
    /// callee still does the work, and retries still happen in the background.
    pub is_async: bool,
}

impl Call {
    /// A plain synchronous call made once, always, with no timeout, retry or breaker.
    pub fn to(target: EndpointId) -> Call {
        Call {
            target,
            probability: 1.0,
            count: 1,
            timeout: None,
            retry: None,
            breaker: None,
            optional: false,
            max_concurrent: None,
            is_async: false,
        }
    }
}

/// A circuit breaker on a call, kept by each calling instance.
///
/// Closed, it counts attempt outcomes over a sliding window of `window` seconds (ten slices of
/// `window / 10`, the oldest dropped as time moves on) and opens when `consecutive_failures`
/// attempts in a row failed, or when at least `min_calls` attempts in the window failed at a
/// rate of `error_rate` or more. Open, it fails attempts at once (no
/// request is sent) for `open_for` seconds, then half-opens: `half_open_probes` attempts go
/// through; one failure opens it again, all succeeding closes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breaker {
    /// Open after this many consecutive failed attempts.
    pub consecutive_failures: Option<u32>,
    /// Open when the failed share of the window's attempts reaches this (0..1).
    pub error_rate: Option<f64>,
    /// Length of the counting window, seconds.
    pub window: f64,
    /// Fewest attempts in the window before `error_rate` can open the breaker.
    pub min_calls: u32,
    /// How long the breaker stays open, seconds.
    pub open_for: f64,
    /// Attempts let through while half-open (≥ 1).
    pub half_open_probes: u32,
}

/// Retries with exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Retries after the first attempt.
    pub max: u32,
    /// Wait before the first retry, seconds.
    pub backoff: f64,
    /// Each further wait is this many times the previous one.
    pub multiplier: f64,
    /// Cap on a single wait, seconds.
    pub max_backoff: f64,
    /// Randomisation of each wait.
    pub jitter: Jitter,
    /// Retry budget of this call (all callers together). `None` is unlimited.
    pub budget: Option<RetryBudget>,
}

/// A retry budget over a sliding window: in any `ttl` seconds (ten slices of `ttl / 10`),
/// retries may number at most `max(min_per_second × ttl, percent × first attempts)`, the first
/// attempts counted over the same window. The floor lets a rarely called dependency be retried
/// at all (a pure percentage would deny the first retries after a quiet spell); the percentage
/// caps the amplification a failing dependency sees under load at `1 + percent`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// Share of first attempts that may be retried (0..).
    pub percent: f64,
    /// Retries per second always allowed.
    pub min_per_second: f64,
    /// Window length, seconds.
    pub ttl: f64,
}

impl RetryBudget {
    /// A budget of `percent` with the defaults: 1 retry per second floor, 10 s window.
    pub fn percent(percent: f64) -> RetryBudget {
        RetryBudget {
            percent,
            min_per_second: 1.0,
            ttl: 10.0,
        }
    }
}

/// Backoff jitter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Wait exactly the backoff.
    None,
    /// Wait uniformly in `[0, backoff]`.
    #[default]
    Full,
    /// Wait `backoff/2` plus uniform in `[0, backoff/2]`.
    Equal,
}

/// Offered load and what each of its requests does.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Name, for reports.
    pub name: String,
    /// Open or closed.
    pub load: Load,
    /// The walk each request makes.
    pub flow: Flow,
}

/// Open or closed load.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Poisson arrivals at a piecewise-constant rate: `(from_second, rate_per_second)` pairs in
    /// increasing time; the rate is 0 before the first and each holds until the next.
    Open {
        /// The schedule.
        schedule: Vec<(f64, f64)>,
    },
    /// `users` users, each running the flow, then thinking, then starting again.
    Closed {
        /// Number of users.
        users: u32,
        /// Think time between the end of a request and the user's next one.
        think_time: Dist,
    },
}

impl Load {
    /// Poisson arrivals at a constant rate.
    pub fn poisson(rate: f64) -> Load {
        Load::Open {
            schedule: vec![(0.0, rate)],
        }
    }
}

/// A Markov chain over endpoint visits.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Index of the first step in `steps`.
    pub start: u32,
    /// The steps.
    pub steps: Vec<FlowStep>,
}

impl Flow {
    /// A flow visiting these endpoints in order, then leaving.
    pub fn chain(endpoints: &[EndpointId]) -> Flow {
        let n = endpoints.len();
        let steps = endpoints
            .iter()
            .enumerate()
            .map(|(i, &endpoint)| FlowStep {
                endpoint,
                next: if i + 1 < n {
                    vec![(i as u32 + 1, 1.0)]
                } else {
                    Vec::new()
                },
                think_time: None,
            })
            .collect();
        Flow { start: 0, steps }
    }
}

/// One visit of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowStep {
    /// The visited endpoint.
    pub endpoint: EndpointId,
    /// Next steps with their probabilities; the remainder (1 - Σ) is the exit probability.
    pub next: Vec<(u32, f64)>,
    /// Pause before moving on to the next step (not counted in the request's latency).
    pub think_time: Option<Dist>,
}

/// Why a [`SimNet`] or a run configuration cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetError {
    /// Something in the network is inconsistent.
    #[error("{what}: {why}")]
    Invalid {
        /// The offending element, e.g. `endpoint 3 (cart/get)`.
        what: String,
        /// What is wrong with it.
        why: String,
    },
}

fn invalid(what: impl Into<String>, why: impl Into<String>) -> NetError {
    NetError::Invalid {
        what: what.into(),
        why: why.into(),
    }
}

fn prob_ok(p: f64) -> bool {
    p.is_finite() && (0.0..=1.0).contains(&p)
}

impl SimNet {
    /// Zone of an instance: its host's, else its own.
    pub fn instance_zone(&self, i: InstanceId) -> Option<ZoneId> {
        let inst = &self.instances[i as usize];
        inst.host
            .and_then(|h| self.hosts.get(h as usize))
            .and_then(|h| h.zone)
            .or(inst.zone)
    }

    /// Checks every index, probability and parameter.
    pub fn validate(&self) -> Result<(), NetError> {
        let nz = self.zones.len();
        if !self.latency.is_empty() && self.latency.len() != nz * nz {
            return Err(invalid(
                "latency",
                format!("needs {} entries (zones²)", nz * nz),
            ));
        }
        if self.latency.iter().any(|l| !(l.is_finite() && *l >= 0.0)) {
            return Err(invalid("latency", "must be finite and >= 0"));
        }
        let zone_ok = |z: Option<ZoneId>| z.is_none_or(|z| (z as usize) < nz);
        let mut used = vec![false; self.hosts.len()];
        for h in self.instances.iter().filter_map(|i| i.host) {
            if let Some(u) = used.get_mut(h as usize) {
                *u = true;
            }
        }
        for (i, h) in self.hosts.iter().enumerate() {
            let what = || format!("host {i} ({})", h.name);
            if !(h.cores.is_finite() && h.cores >= 0.0) || (used[i] && h.cores <= 0.0) {
                return Err(invalid(
                    what(),
                    "cores must be > 0 on a host that runs instances",
                ));
            }
            if !zone_ok(h.zone) {
                return Err(invalid(what(), "unknown zone"));
            }
        }
        let mut has_instance = vec![false; self.services.len()];
        for (i, inst) in self.instances.iter().enumerate() {
            let what = || format!("instance {i} ({})", inst.name);
            if inst.service as usize >= self.services.len() {
                return Err(invalid(what(), "unknown service"));
            }
            has_instance[inst.service as usize] = true;
            if inst.host.is_some_and(|h| h as usize >= self.hosts.len()) {
                return Err(invalid(what(), "unknown host"));
            }
            if !zone_ok(inst.zone) {
                return Err(invalid(what(), "unknown zone"));
            }
            if inst.workers == 0 {
                return Err(invalid(what(), "needs at least one worker"));
            }
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            let what = || format!("endpoint {i} ({})", e.name);
            if e.service as usize >= self.services.len() {
                return Err(invalid(what(), "unknown service"));
            }
            e.service_time
                .validate()
                .map_err(|why| invalid(what(), why))?;
            for call in e.steps.iter().flat_map(|s| &s.calls) {
                if call.target as usize >= self.endpoints.len() {
                    return Err(invalid(what(), "calls an unknown endpoint"));
                }
                self.check_served(call.target, &has_instance)?;
                if !prob_ok(call.probability) {
                    return Err(invalid(what(), "call probability must be in [0, 1]"));
                }
                if call.count == 0 {
                    return Err(invalid(what(), "call count must be >= 1"));
                }
                if call.max_concurrent == Some(0) {
                    return Err(invalid(what(), "max_concurrent must be >= 1"));
                }
                if call.timeout.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
                    return Err(invalid(what(), "call timeout must be > 0"));
                }
                if let Some(r) = call.retry {
                    let ok = r.backoff.is_finite()
                        && r.backoff >= 0.0
                        && r.multiplier.is_finite()
                        && r.multiplier >= 1.0
                        && r.max_backoff >= 0.0
                        && !r.max_backoff.is_nan();
                    if !ok {
                        return Err(invalid(what(), "bad retry backoff"));
                    }
                    let bad_budget = r.budget.is_some_and(|b| {
                        !(b.percent.is_finite()
                            && b.percent >= 0.0
                            && b.min_per_second.is_finite()
                            && b.min_per_second >= 0.0
                            && b.ttl.is_finite()
                            && b.ttl > 0.0)
                    });
                    if bad_budget {
                        return Err(invalid(
                            what(),
                            "retry budget needs percent >= 0, min_per_second >= 0, ttl > 0",
                        ));
                    }
                }
                if let Some(b) = call.breaker {
                    let ok = b.window.is_finite()
                        && b.window > 0.0
                        && b.open_for.is_finite()
                        && b.open_for >= 0.0
                        && b.half_open_probes >= 1
                        && b.error_rate.is_none_or(|r| (0.0..=1.0).contains(&r))
                        && b.consecutive_failures.is_none_or(|n| n >= 1);
                    if !ok {
                        return Err(invalid(what(), "bad circuit breaker parameters"));
                    }
                }
            }
        }
        self.check_acyclic_calls()?;
        for (i, w) in self.workloads.iter().enumerate() {
            let what = || format!("workload {i} ({})", w.name);
            match &w.load {
                Load::Open { schedule } => {
                    let mut last = f64::NEG_INFINITY;
                    for &(t, r) in schedule {
                        if !(t.is_finite() && t >= 0.0 && t >= last) {
                            return Err(invalid(what(), "schedule times must increase from 0"));
                        }
                        if !(r.is_finite() && r >= 0.0) {
                            return Err(invalid(what(), "rates must be finite and >= 0"));
                        }
                        last = t;
                    }
                }
                Load::Closed { think_time, .. } => {
                    think_time.validate().map_err(|why| invalid(what(), why))?;
                }
            }
            let n = w.flow.steps.len();
            if w.flow.start as usize >= n {
                return Err(invalid(what(), "flow start is not one of its steps"));
            }
            for s in &w.flow.steps {
                if s.endpoint as usize >= self.endpoints.len() {
                    return Err(invalid(what(), "flow visits an unknown endpoint"));
                }
                self.check_served(s.endpoint, &has_instance)?;
                let mut total = 0.0;
                for &(next, p) in &s.next {
                    if next as usize >= n || !prob_ok(p) {
                        return Err(invalid(what(), "flow transition out of range"));
                    }
                    total += p;
                }
                if total > 1.0 + 1e-9 {
                    return Err(invalid(what(), "flow transition probabilities exceed 1"));
                }
                if let Some(d) = &s.think_time {
                    d.validate().map_err(|why| invalid(what(), why))?;
                }
            }
        }
        Ok(())
    }

    /// A called or visited endpoint needs at least one instance to run on.
    fn check_served(&self, e: EndpointId, has_instance: &[bool]) -> Result<(), NetError> {
        let ep = &self.endpoints[e as usize];
        if has_instance
            .get(ep.service as usize)
            .copied()
            .unwrap_or(false)
        {
            Ok(())
        } else {
            let name = &self.services[ep.service as usize].name;
            Err(invalid(
                format!("endpoint {e} ({})", ep.name),
                format!("is used but service {name} has no instance"),
            ))
        }
    }

    /// Synchronous calls must not loop (A calls B calls A would deadlock worker pools and
    /// recurse forever), so the endpoint call graph must be a DAG.
    fn check_acyclic_calls(&self) -> Result<(), NetError> {
        // 0 = unvisited, 1 = on the stack, 2 = done. Iterative DFS.
        let n = self.endpoints.len();
        let mut mark = vec![0u8; n];
        for root in 0..n {
            if mark[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let calls: Vec<usize> = self.endpoints[node]
                    .steps
                    .iter()
                    .flat_map(|s| &s.calls)
                    .map(|c| c.target as usize)
                    .collect();
                if let Some(&child) = calls.get(*next) {
                    *next += 1;
                    match mark[child] {
                        0 => {
                            mark[child] = 1;
                            stack.push((child, 0));
                        }
                        1 => {
                            return Err(invalid(
                                format!("endpoint {child} ({})", self.endpoints[child].name),
                                "is part of a synchronous call cycle",
                            ));
                        }
                        _ => {}
                    }
                } else {
                    mark[node] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

//! A [`SimNet`] flattened into the lookup tables the engine reads on its hot path: per-instance
//! arrays, per-service instance lists, endpoint steps and calls in contiguous vectors, flows with
//! cumulative transition probabilities. Built once per run and shared by all replications.

use crate::dist::Dist;
use crate::net::{Breaker, Load, LoadBalancing, NetError, Retry, SimNet};

/// "No such index".
pub(crate) const NONE: u32 = u32::MAX;

/// One call of a step, flattened.
#[derive(Debug, Clone)]
pub(crate) struct Lane {
    pub target: u32,
    pub service: u32,
    pub probability: f64,
    pub count: u32,
    /// Seconds; infinite when the call has no timeout.
    pub timeout: f64,
    /// The timeout line (one per distinct timeout value) of this call, or NONE.
    pub timeout_line: u32,
    pub retry: Option<Retry>,
    pub breaker: Option<Breaker>,
    pub optional: bool,
    pub is_async: bool,
    /// First of this lane's breaker states (one per instance of the calling service), or NONE.
    pub breaker_base: u32,
    /// The calling service, or NONE for a workload's flow visit.
    pub caller_service: u32,
    /// Bulkhead limit per calling instance, or NONE.
    pub max_concurrent: u32,
    /// First of this lane's bulkhead counters (one per calling instance), or NONE.
    pub bulk_base: u32,
}

/// A workload, flattened.
#[derive(Debug, Clone)]
pub(crate) struct WorkloadPrep {
    pub load: Load,
    pub start: u32,
    /// Per flow step: the lane that visits its endpoint (from the client).
    pub lane: Vec<u32>,
    /// Per flow step: `(next step, cumulative probability)`.
    pub next: Vec<Vec<(u32, f64)>>,
    /// Per flow step: pause before moving on.
    pub think: Vec<Option<Dist>>,
}

/// A processor-shared host (one whose workers can outnumber its cores).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PsHostPrep {
    pub host: u32,
    pub cores: f64,
}

/// The flattened network.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub zones: usize,
    pub latency: Vec<f64>,
    pub inst_service: Vec<u32>,
    pub inst_zone: Vec<u32>,
    pub inst_host: Vec<u32>,
    /// Index into `ps_hosts`, or NONE when the instance never shares a core.
    pub inst_ps: Vec<u32>,
    pub inst_workers: Vec<u32>,
    /// Position of each instance in its service's instance list.
    pub inst_ordinal: Vec<u32>,
    /// Per circuit-breaker state (one per lane with a breaker × calling instance): its lane.
    pub breaker_lane: Vec<u32>,
    /// Number of bulkhead counters.
    pub bulk_len: usize,
    /// Workers of each service's instances (the first instance's; 1 without instances).
    pub svc_workers: Vec<u32>,
    /// u32::MAX when unbounded.
    pub inst_queue_limit: Vec<u32>,
    pub ps_hosts: Vec<PsHostPrep>,
    /// Per host: its index in `ps_hosts`, or NONE.
    pub host_ps: Vec<u32>,
    /// Per host: its zone, or NONE.
    pub host_zone: Vec<u32>,
    pub svc_instances: Vec<Vec<u32>>,
    pub svc_lb: Vec<LoadBalancing>,
    pub ep_service: Vec<u32>,
    pub ep_dist: Vec<Dist>,
    /// Per endpoint: range into `steps`.
    pub ep_steps: Vec<(u32, u32)>,
    /// Per step: range into `lanes`.
    pub steps: Vec<(u32, u32)>,
    pub lanes: Vec<Lane>,
    /// Number of distinct call timeouts.
    pub timeout_lines: usize,
    pub workloads: Vec<WorkloadPrep>,
    pub hosts: usize,
}

impl Prepared {
    /// Flattens `net`; hosts in `force_ps` run processor sharing whatever their load (their
    /// capacity or the pods on them may change during the run).
    pub fn new(net: &SimNet, force_ps: &[u32]) -> Result<Prepared, NetError> {
        net.validate()?;
        let ni = net.instances.len();
        let mut svc_instances = vec![Vec::new(); net.services.len()];
        let mut host_workers = vec![0.0_f64; net.hosts.len()];
        for (i, inst) in net.instances.iter().enumerate() {
            svc_instances[inst.service as usize].push(i as u32);
            if let Some(h) = inst.host {
                host_workers[h as usize] += f64::from(inst.workers);
            }
        }
        // A host needs processor sharing only if its instances' workers can outnumber its cores.
        let mut host_ps = vec![NONE; net.hosts.len()];
        let mut ps_hosts = Vec::new();
        for (h, host) in net.hosts.iter().enumerate() {
            if host_workers[h] > host.cores || force_ps.contains(&(h as u32)) {
                host_ps[h] = ps_hosts.len() as u32;
                ps_hosts.push(PsHostPrep {
                    host: h as u32,
                    cores: host.cores,
                });
            }
        }
        let mut inst_ordinal = vec![0; ni];
        for list in &svc_instances {
            for (k, &i) in list.iter().enumerate() {
                inst_ordinal[i as usize] = k as u32;
            }
        }
        let mut breaker_lane: Vec<u32> = Vec::new();
        let mut bulk_len = 0usize;
        let mut lanes = Vec::new();
        let mut steps = Vec::new();
        let mut ep_steps = Vec::with_capacity(net.endpoints.len());
        for e in &net.endpoints {
            let first = steps.len() as u32;
            let callers = svc_instances[e.service as usize].len();
            for s in &e.steps {
                let l0 = lanes.len() as u32;
                for c in &s.calls {
                    let breaker_base = if c.breaker.is_some() {
                        let base = breaker_lane.len() as u32;
                        let lane = lanes.len() as u32;
                        breaker_lane.extend(std::iter::repeat_n(lane, callers));
                        base
                    } else {
                        NONE
                    };
                    let bulk_base = if c.max_concurrent.is_some() {
                        bulk_len += callers;
                        (bulk_len - callers) as u32
                    } else {
                        NONE
                    };
                    lanes.push(Lane {
                        caller_service: e.service,
                        max_concurrent: c.max_concurrent.unwrap_or(NONE),
                        bulk_base,
                        timeout_line: NONE,
                        optional: c.optional,
                        is_async: c.is_async,
                        breaker: c.breaker,
                        breaker_base,
                        target: c.target,
                        service: net.endpoints[c.target as usize].service,
                        probability: c.probability,
                        count: c.count,
                        timeout: c.timeout.unwrap_or(f64::INFINITY),
                        retry: c.retry,
                    });
                }
                steps.push((l0, lanes.len() as u32));
            }
            ep_steps.push((first, steps.len() as u32));
        }
        let mut workloads = Vec::with_capacity(net.workloads.len());
        for w in &net.workloads {
            let mut lane = Vec::with_capacity(w.flow.steps.len());
            let mut next = Vec::with_capacity(w.flow.steps.len());
            let mut think = Vec::with_capacity(w.flow.steps.len());
            for s in &w.flow.steps {
                lane.push(lanes.len() as u32);
                lanes.push(Lane {
                    caller_service: NONE,
                    max_concurrent: NONE,
                    bulk_base: NONE,
                    timeout_line: NONE,
                    optional: false,
                    is_async: false,
                    target: s.endpoint,
                    service: net.endpoints[s.endpoint as usize].service,
                    probability: 1.0,
                    count: 1,
                    timeout: f64::INFINITY,
                    retry: None,
                    breaker: None,
                    breaker_base: NONE,
                });
                let mut acc = 0.0;
                next.push(
                    s.next
                        .iter()
                        .map(|&(to, p)| {
                            acc += p;
                            (to, acc)
                        })
                        .collect(),
                );
                think.push(s.think_time.clone());
            }
            workloads.push(WorkloadPrep {
                load: w.load.clone(),
                start: w.flow.start,
                lane,
                next,
                think,
            });
        }
        // Calls with the same timeout share a FIFO "line": their deadlines come in the order the
        // attempts were made, so only each line's head needs an event in the heap.
        let mut timeout_lines: Vec<f64> = Vec::new();
        for lane in &mut lanes {
            if lane.timeout.is_finite() {
                let k = match timeout_lines.iter().position(|&t| t == lane.timeout) {
                    Some(k) => k,
                    None => {
                        timeout_lines.push(lane.timeout);
                        timeout_lines.len() - 1
                    }
                };
                lane.timeout_line = k as u32;
            }
        }
        Ok(Prepared {
            timeout_lines: timeout_lines.len(),
            zones: net.zones.len(),
            latency: net.latency.clone(),
            inst_service: net.instances.iter().map(|i| i.service).collect(),
            inst_zone: (0..ni as u32)
                .map(|i| net.instance_zone(i).unwrap_or(NONE))
                .collect(),
            inst_host: net
                .instances
                .iter()
                .map(|i| i.host.unwrap_or(NONE))
                .collect(),
            inst_ps: net
                .instances
                .iter()
                .map(|i| i.host.map_or(NONE, |h| host_ps[h as usize]))
                .collect(),
            inst_workers: net.instances.iter().map(|i| i.workers).collect(),
            svc_workers: svc_instances
                .iter()
                .map(|l| l.first().map_or(1, |&i| net.instances[i as usize].workers))
                .collect(),
            inst_ordinal,
            breaker_lane,
            bulk_len,
            inst_queue_limit: net
                .instances
                .iter()
                .map(|i| i.queue_limit.unwrap_or(u32::MAX))
                .collect(),
            ps_hosts,
            host_ps,
            host_zone: net.hosts.iter().map(|h| h.zone.unwrap_or(NONE)).collect(),
            svc_instances,
            svc_lb: net.services.iter().map(|s| s.load_balancing).collect(),
            ep_service: net.endpoints.iter().map(|e| e.service).collect(),
            ep_dist: net
                .endpoints
                .iter()
                .map(|e| e.service_time.clone())
                .collect(),
            ep_steps,
            steps,
            lanes,
            workloads,
            hosts: net.hosts.len(),
        })
    }

    /// One-way latency from zone `a` to zone `b` (0 when either is unknown).
    #[inline]
    pub fn latency(&self, a: u32, b: u32) -> f64 {
        if a == NONE || b == NONE || self.latency.is_empty() {
            0.0
        } else {
            self.latency[a as usize * self.zones + b as usize]
        }
    }
}

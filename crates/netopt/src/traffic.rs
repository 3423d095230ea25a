//! Traffic matrices from what the twin knows, instead of from a file: the load its workloads
//! put on the services, turned into bytes between the routers the service instances sit
//! behind ([`from_twin`]), or byte rates observed between named endpoints ([`from_observed`],
//! for the live server's flow data).
//!
//! From the workloads: the simulator's compiled network gives each workload's offered rate
//! (the analytic estimate's: peak of an open schedule, the throughput bound of a closed one);
//! visits per request to each flow step solve the flow's traffic equations, and calls multiply
//! rates down the call graph (`probability × count`), exactly as the estimate does. Every call
//! sends a request from the caller's instance to the callee's and a response back, spread
//! evenly over the instances on both sides (what the load balancers do on average). Sizes come
//! from the called service's tags `request-size=SIZE` and `response-size=SIZE` (e.g. `2Ki`),
//! or the defaults in [`TrafficOptions`]. Users enter at the routers tagged `ingress` (or
//! `internet-gateway`), spread evenly over them.
//!
//! An instance is behind the router that routes for its host's subnet, or else the router
//! in its host's (or its own) zone. Traffic between instances behind the same router never
//! reaches the network and is left out; instances with no router are reported in `notes`.

use std::collections::BTreeMap;

use doppel_model::{Bytes, Twin};

use crate::network::{NetError, Network, TrafficMatrix};

/// Defaults for what the twin does not say.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficOptions {
    /// Bytes of a request when the called service has no `request-size=` tag.
    pub request_bytes: f64,
    /// Bytes of a response when the called service has no `response-size=` tag.
    pub response_bytes: f64,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        TrafficOptions {
            request_bytes: 1024.0,
            response_bytes: 8192.0,
        }
    }
}

/// Why no matrix could be derived.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrafficError {
    /// The twin does not compile into a simulation.
    #[error("the twin's workloads: {0}")]
    Workloads(String),
    /// A size tag that does not parse.
    #[error("service `{service}`: tag `{tag}`: {why}")]
    Tag {
        /// The service.
        service: String,
        /// The tag.
        tag: String,
        /// What is wrong.
        why: String,
    },
    /// A name in observed flow data that is no router, host or service.
    #[error("flow {index}: `{name}` is not a router, host or service of the twin")]
    UnknownName {
        /// Index of the rate in the input.
        index: usize,
        /// The name.
        name: String,
    },
    /// A rate that is negative or not a number.
    #[error("flow {index}: rate must be a non-negative number of bytes per second, not {value}")]
    Rate {
        /// Index of the rate in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Building the matrix failed.
    #[error(transparent)]
    Net(#[from] NetError),
}

/// Traffic between two services (or from users, `from` = `users`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceFlow {
    /// The caller.
    pub from: String,
    /// The called service.
    pub to: String,
    /// Calls per second.
    pub calls_per_second: f64,
    /// Requests and responses together, bit/s.
    pub bits_per_second: f64,
    /// The part that crosses the network (between different routers), bit/s.
    pub network_bits_per_second: f64,
}

/// A derived matrix and how it was derived.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinTraffic {
    /// Router to router, bit/s.
    pub matrix: TrafficMatrix,
    /// Per caller and callee, in a stable order.
    pub flows: Vec<ServiceFlow>,
    /// What was left out and why.
    pub notes: Vec<String>,
}

/// The router a host sits behind: the one routing for its subnet, else the first in its zone.
pub fn router_of_host(twin: &Twin, host: &str) -> Option<String> {
    let h = twin.hosts.get(host)?;
    if let Some(s) = &h.subnet
        && let Some((name, _)) = twin.routers.iter().find(|(_, r)| r.subnets.contains(s))
    {
        return Some(name.clone());
    }
    router_in_zone(twin, h.zone.as_deref()?)
}

fn router_in_zone(twin: &Twin, zone: &str) -> Option<String> {
    twin.routers
        .iter()
        .find(|(_, r)| r.zone.as_deref() == Some(zone))
        .map(|(n, _)| n.clone())
}

fn size_tag(twin: &Twin, service: &str, key: &str, default: f64) -> Result<f64, TrafficError> {
    let Some(svc) = twin.services.get(service) else {
        return Ok(default);
    };
    for tag in &svc.tags {
        if let Some(v) = tag.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            return v
                .trim()
                .parse::<Bytes>()
                .map(|b| b.get() as f64)
                .map_err(|e| TrafficError::Tag {
                    service: service.to_owned(),
                    tag: tag.clone(),
                    why: e.to_string(),
                });
        }
    }
    Ok(default)
}

/// Solves `a·x = b` (dense, row-major, `n×n`) by Gaussian elimination with partial pivoting.
fn solve_linear(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(piv * n + k, col * n + k);
            }
            b.swap(piv, col);
        }
        for r in col + 1..n {
            let f = a[r * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[r * n + k] -= f * a[col * n + k];
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    Some(x)
}

/// Adds `bits` split evenly over every (source router, destination router) pair.
fn spread(
    acc: &mut BTreeMap<(usize, usize), f64>,
    from: &[Option<usize>],
    to: &[Option<usize>],
    bits: f64,
) -> f64 {
    let share = bits / (from.len() * to.len()).max(1) as f64;
    let mut crossing = 0.0;
    for &a in from.iter().flatten() {
        for &b in to.iter().flatten() {
            if a != b {
                *acc.entry((a, b)).or_insert(0.0) += share;
                crossing += share;
            }
        }
    }
    crossing
}

/// The router-to-router matrix the twin's workloads generate.
pub fn from_twin(
    twin: &Twin,
    net: &Network,
    opts: &TrafficOptions,
) -> Result<TwinTraffic, TrafficError> {
    let sim =
        doppel_sim::compile::compile(twin).map_err(|e| TrafficError::Workloads(e.to_string()))?;
    let est =
        doppel_sim::analytic::estimate(&sim).map_err(|e| TrafficError::Workloads(e.to_string()))?;
    let ne = sim.endpoints.len();
    let mut notes = Vec::new();

    // Entry rate of every endpoint (requests from users) and total rate.
    let mut entry = vec![0.0; ne];
    for (w, wl) in sim.workloads.iter().enumerate() {
        let rate = est.workloads.get(w).map_or(0.0, |e| e.throughput_rps);
        let steps = &wl.flow.steps;
        let n = steps.len();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 1.0;
        }
        for (i, s) in steps.iter().enumerate() {
            for &(j, p) in &s.next {
                a[j as usize * n + i] -= p;
            }
        }
        let mut b = vec![0.0; n];
        if let Some(x) = b.get_mut(wl.flow.start as usize) {
            *x = 1.0;
        }
        let visits = solve_linear(a, b).ok_or_else(|| {
            TrafficError::Workloads(format!(
                "workload `{}`: its flow never exits (visits are unbounded)",
                wl.name
            ))
        })?;
        for (s, v) in steps.iter().zip(visits) {
            entry[s.endpoint as usize] += rate * v;
        }
    }
    // Callers before callees: reverse post-order of a DFS over calls.
    let mut post = Vec::with_capacity(ne);
    let mut state = vec![0u8; ne];
    for root in 0..ne {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack = vec![(root, 0usize)];
        while let Some((v, i)) = stack.pop() {
            let targets: Vec<usize> = sim.endpoints[v]
                .steps
                .iter()
                .flat_map(|s| &s.calls)
                .map(|c| c.target as usize)
                .collect();
            if let Some(&t) = targets.get(i) {
                stack.push((v, i + 1));
                if state[t] == 0 {
                    state[t] = 1;
                    stack.push((t, 0));
                }
            } else {
                state[v] = 2;
                post.push(v);
            }
        }
    }
    let mut rate = entry.clone();
    // (caller service, callee service) -> calls/s; `None` caller = users.
    let mut calls: BTreeMap<(Option<usize>, usize), f64> = BTreeMap::new();
    for (e, &r) in entry.iter().enumerate() {
        if r > 0.0 {
            *calls
                .entry((None, sim.endpoints[e].service as usize))
                .or_insert(0.0) += r;
        }
    }
    for &e in post.iter().rev() {
        let from = sim.endpoints[e].service as usize;
        for c in sim.endpoints[e].steps.iter().flat_map(|s| &s.calls) {
            let r = rate[e] * c.probability * f64::from(c.count);
            rate[c.target as usize] += r;
            let to = sim.endpoints[c.target as usize].service as usize;
            *calls.entry((Some(from), to)).or_insert(0.0) += r;
        }
    }

    // The routers of each service's instances.
    let mut routers: Vec<Vec<Option<usize>>> = vec![Vec::new(); sim.services.len()];
    for inst in &sim.instances {
        let router = match inst.host {
            Some(h) => sim
                .hosts
                .get(h as usize)
                .and_then(|h| router_of_host(twin, &h.name)),
            None => inst
                .zone
                .and_then(|z| sim.zones.get(z as usize))
                .and_then(|z| router_in_zone(twin, z)),
        };
        let idx = router.as_deref().and_then(|r| net.node(r));
        if idx.is_none() {
            notes.push(format!(
                "instance `{}` is behind no router of the network; its traffic is left out",
                inst.name
            ));
        }
        routers[inst.service as usize].push(idx);
    }
    let ingress: Vec<Option<usize>> = twin
        .routers
        .iter()
        .filter(|(_, r)| {
            r.tags
                .iter()
                .any(|t| t == "ingress" || t == "internet-gateway")
        })
        .map(|(n, _)| net.node(n))
        .collect();

    let mut acc: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut flows = Vec::new();
    for (&(from, to), &cps) in &calls {
        let name = &sim.services[to].name;
        let req = 8.0 * size_tag(twin, name, "request-size", opts.request_bytes)?;
        let resp = 8.0 * size_tag(twin, name, "response-size", opts.response_bytes)?;
        let src: &[Option<usize>] = match from {
            Some(f) => &routers[f],
            None => &ingress,
        };
        if from.is_none() && ingress.is_empty() {
            notes.push(format!(
                "users' requests to `{name}` are left out: no router is tagged `ingress` or `internet-gateway`"
            ));
        }
        let mut crossing = spread(&mut acc, src, &routers[to], cps * req);
        crossing += spread(&mut acc, &routers[to], src, cps * resp);
        flows.push(ServiceFlow {
            from: from.map_or_else(|| "users".to_owned(), |f| sim.services[f].name.clone()),
            to: name.clone(),
            calls_per_second: cps,
            bits_per_second: cps * (req + resp),
            network_bits_per_second: crossing,
        });
    }
    let mut matrix = TrafficMatrix::new(net.node_count());
    for ((a, b), bits) in acc {
        matrix.add(a, b, bits)?;
    }
    notes.dedup();
    Ok(TwinTraffic {
        matrix,
        flows,
        notes,
    })
}

/// A byte rate observed from one named endpoint to another.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ObservedRate {
    /// Where the bytes come from: a router, a host or a service of the twin.
    pub src: String,
    /// Where they go.
    pub dst: String,
    /// Bytes per second.
    pub bytes_per_second: f64,
}

/// The routers behind a name: the router itself, a host's router, or one per instance of a
/// service (its traffic split evenly over them).
fn routers_of(twin: Option<&Twin>, net: &Network, name: &str) -> Option<Vec<Option<usize>>> {
    if let Some(i) = net.node(name) {
        return Some(vec![Some(i)]);
    }
    let twin = twin?;
    if twin.hosts.contains_key(name) {
        return Some(vec![router_of_host(twin, name).and_then(|r| net.node(&r))]);
    }
    let svc = twin.services.get(name)?;
    Some(
        twin.placed_instances(name, svc)
            .iter()
            .map(|p| {
                let r = match &p.host {
                    Some(h) => router_of_host(twin, h),
                    None => p.zone.as_deref().and_then(|z| router_in_zone(twin, z)),
                };
                r.and_then(|r| net.node(&r))
            })
            .collect(),
    )
}

/// The router-to-router matrix of observed byte rates between routers, hosts or services
/// (services need the twin, to know where their instances run).
pub fn from_observed(
    twin: Option<&Twin>,
    net: &Network,
    rates: &[ObservedRate],
) -> Result<TwinTraffic, TrafficError> {
    let mut acc: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut flows = Vec::new();
    let mut notes = Vec::new();
    for (index, r) in rates.iter().enumerate() {
        if !(r.bytes_per_second.is_finite() && r.bytes_per_second >= 0.0) {
            return Err(TrafficError::Rate {
                index,
                value: r.bytes_per_second,
            });
        }
        let find = |name: &str| {
            routers_of(twin, net, name).ok_or_else(|| TrafficError::UnknownName {
                index,
                name: name.to_owned(),
            })
        };
        let (src, dst) = (find(&r.src)?, find(&r.dst)?);
        if src.iter().chain(&dst).any(Option::is_none) {
            notes.push(format!(
                "flow {index} ({} -> {}): part of it is behind no router and is left out",
                r.src, r.dst
            ));
        }
        let bits = 8.0 * r.bytes_per_second;
        let crossing = spread(&mut acc, &src, &dst, bits);
        flows.push(ServiceFlow {
            from: r.src.clone(),
            to: r.dst.clone(),
            calls_per_second: 0.0,
            bits_per_second: bits,
            network_bits_per_second: crossing,
        });
    }
    let mut matrix = TrafficMatrix::new(net.node_count());
    for ((a, b), bits) in acc {
        matrix.add(a, b, bits)?;
    }
    Ok(TwinTraffic {
        matrix,
        flows,
        notes,
    })
}

//! Translation of a twin (`doppel_model::Twin`, the YAML-shaped model) into the engine's
//! [`SimNet`]: names become indices, durations become f64 seconds, replicas are placed the way
//! the model's `resolve` module says, and log-normals given by mean and p99 get their (mu, sigma).
//!
//! The twin is expected to have passed the model's validation; anything that still cannot be
//! simulated is a [`CompileError`] naming the entity, never a panic.

use std::collections::HashMap;

use doppel_model::twin as m;

use crate::dist::{Dist, Empirical};
use crate::net::{
    Breaker, Call, Endpoint, Flow, FlowStep, Host, Instance, Jitter, Load, LoadBalancing, Retry,
    Service, SimNet, Step, Workload,
};

/// Why a twin cannot be turned into a simulation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct CompileError {
    /// The entity, as a model id, e.g. `endpoint:cart/get`.
    pub what: String,
    /// What is wrong.
    pub why: String,
}

fn err(what: impl Into<String>, why: impl Into<String>) -> CompileError {
    CompileError {
        what: what.into(),
        why: why.into(),
    }
}

/// Converts a model distribution to seconds.
pub fn dist(d: &m::Distribution) -> Result<Dist, String> {
    let s = |x: doppel_model::Duration| x.as_secs_f64();
    let out = match d {
        m::Distribution::Constant { value } => Dist::Constant(s(*value)),
        m::Distribution::Exponential { mean } => Dist::Exponential { mean: s(*mean) },
        m::Distribution::Lognormal { mean, p99 } => {
            let (mu, sigma) = m::Distribution::lognormal_params(*mean, *p99).ok_or_else(|| {
                format!(
                    "no log-normal has mean {mean} and p99 {p99} (p99 must be 1 to 14.9 × mean)"
                )
            })?;
            Dist::LogNormal { mu, sigma }
        }
        m::Distribution::Uniform { min, max } => Dist::Uniform {
            lo: s(*min),
            hi: s(*max),
        },
        m::Distribution::Empirical { buckets } => {
            let b: Vec<(f64, f64)> = buckets.iter().map(|b| (s(b.le), b.weight)).collect();
            Dist::Empirical(Empirical::new(&b)?)
        }
    };
    out.validate()?;
    Ok(out)
}

fn lb(l: m::LoadBalancing) -> LoadBalancing {
    match l {
        m::LoadBalancing::RoundRobin => LoadBalancing::RoundRobin,
        m::LoadBalancing::Random => LoadBalancing::Random,
        m::LoadBalancing::LeastOutstanding => LoadBalancing::LeastOutstanding,
        m::LoadBalancing::PowerOfTwo => LoadBalancing::PowerOfTwo,
    }
}

/// Builds the engine's network from a twin.
pub fn compile(twin: &m::Twin) -> Result<SimNet, CompileError> {
    let mut net = SimNet::default();

    // Zones: declared ones first, then any other zone a host or instance names.
    let mut zone_ix: HashMap<String, u32> = HashMap::new();
    let mut add_zone = |net: &mut SimNet, z: &str| -> u32 {
        if let Some(&i) = zone_ix.get(z) {
            return i;
        }
        let i = net.zones.len() as u32;
        net.zones.push(z.to_owned());
        zone_ix.insert(z.to_owned(), i);
        i
    };
    for z in twin.zones.keys() {
        add_zone(&mut net, z);
    }

    let mut host_ix: HashMap<&str, u32> = HashMap::new();
    for (name, h) in &twin.hosts {
        let zone = h.zone.as_deref().map(|z| add_zone(&mut net, z));
        host_ix.insert(name, net.hosts.len() as u32);
        net.hosts.push(Host {
            name: name.clone(),
            cores: h.cores,
            zone,
        });
    }

    // Services, their placed instances and endpoints.
    let mut ep_ix: HashMap<(&str, &str), u32> = HashMap::new();
    for (k, (sname, svc)) in twin.services.iter().enumerate() {
        net.services.push(Service {
            name: sname.clone(),
            load_balancing: lb(svc.load_balancing),
        });
        for pi in twin.placed_instances(sname, svc) {
            let host = match pi.host.as_deref() {
                Some(h) => Some(*host_ix.get(h).ok_or_else(|| {
                    err(
                        format!("instance:{sname}/{}", pi.name),
                        format!("unknown host `{h}`"),
                    )
                })?),
                None => None,
            };
            let zone = pi.zone.as_deref().map(|z| add_zone(&mut net, z));
            net.instances.push(Instance {
                name: pi.name,
                service: k as u32,
                host,
                zone,
                workers: svc.concurrency.workers.max(1),
                queue_limit: svc.concurrency.queue_limit,
            });
        }
        for (ename, e) in &svc.endpoints {
            let what = || format!("endpoint:{sname}/{ename}");
            ep_ix.insert((sname, ename), net.endpoints.len() as u32);
            net.endpoints.push(Endpoint {
                name: ename.clone(),
                service: k as u32,
                service_time: dist(&e.service_time).map_err(|why| err(what(), why))?,
                steps: Vec::new(),
            });
        }
    }

    let target = |what: &str, service: &str, endpoint: Option<&str>| -> Result<u32, CompileError> {
        let e = twin
            .resolve_endpoint(service, endpoint)
            .map_err(|why| err(what, why))?;
        ep_ix
            .get(&(service, e))
            .copied()
            .ok_or_else(|| err(what, format!("unknown endpoint `{service}/{e}`")))
    };

    // Calls.
    let mut k = 0usize;
    for (sname, svc) in &twin.services {
        for (ename, e) in &svc.endpoints {
            let what = format!("endpoint:{sname}/{ename}");
            let mut steps = Vec::with_capacity(e.calls.len());
            for step in &e.calls {
                let mut calls = Vec::new();
                for c in step.calls() {
                    calls.push(call(
                        &what,
                        c,
                        target(&what, &c.service, c.endpoint.as_deref())?,
                    )?);
                }
                steps.push(Step { calls });
            }
            net.endpoints[k].steps = steps;
            k += 1;
        }
    }

    // Workloads.
    for (wname, w) in &twin.workloads {
        let what = format!("workload:{wname}");
        let load = match (&w.open, &w.closed) {
            (Some(open), None) => {
                let mut schedule = Vec::new();
                if let Some(r) = open.rate {
                    schedule.push((0.0, r.as_per_sec()));
                }
                schedule.extend(
                    open.schedule
                        .iter()
                        .map(|p| (p.at.as_secs_f64(), p.rate.as_per_sec())),
                );
                if schedule.is_empty() {
                    return Err(err(what, "open load needs a `rate` or a `schedule`"));
                }
                Load::Open { schedule }
            }
            (None, Some(closed)) => Load::Closed {
                users: closed.users,
                think_time: dist(&closed.think_time).map_err(|why| err(&what, why))?,
            },
            _ => return Err(err(what, "needs exactly one of `open` and `closed`")),
        };
        let names: Vec<&String> = w.flow.steps.keys().collect();
        let index = |n: &str| names.iter().position(|x| x.as_str() == n).map(|i| i as u32);
        let start = match w.flow.start.as_deref() {
            Some(s) => index(s).ok_or_else(|| err(&what, format!("unknown flow step `{s}`")))?,
            None if names.is_empty() => return Err(err(&what, "the flow has no steps")),
            None => 0,
        };
        let mut steps = Vec::with_capacity(names.len());
        for (sname, s) in &w.flow.steps {
            let swhat = format!("{what}/flow/{sname}");
            let endpoint = target(&swhat, &s.service, s.endpoint.as_deref())?;
            let mut next = Vec::with_capacity(s.next.len());
            for (to, &p) in &s.next {
                let to =
                    index(to).ok_or_else(|| err(&swhat, format!("unknown next step `{to}`")))?;
                next.push((to, p));
            }
            let think_time = match &s.think_time {
                Some(d) => Some(dist(d).map_err(|why| err(&swhat, why))?),
                None => None,
            };
            steps.push(FlowStep {
                endpoint,
                next,
                think_time,
            });
        }
        net.workloads.push(Workload {
            name: wname.clone(),
            load,
            flow: Flow { start, steps },
        });
    }

    // Latency between every pair of zones (0 when the twin does not say).
    let nz = net.zones.len();
    if nz > 0 {
        net.latency = vec![0.0; nz * nz];
        for a in 0..nz {
            for b in 0..nz {
                if let Some(d) = twin.zone_latency(&net.zones[a], &net.zones[b]) {
                    net.latency[a * nz + b] = d.as_secs_f64();
                }
            }
        }
    }

    net.validate().map_err(|e| match e {
        crate::net::NetError::Invalid { what, why } => err(what, why),
    })?;
    Ok(net)
}

fn call(what: &str, c: &m::Call, target: u32) -> Result<Call, CompileError> {
    let retry = c.retries.as_ref().map(|r| Retry {
        max: r.max,
        backoff: r.backoff.as_secs_f64(),
        multiplier: r.multiplier,
        max_backoff: r.max_backoff.map_or(f64::INFINITY, |d| d.as_secs_f64()),
        jitter: match r.jitter {
            m::Jitter::None => Jitter::None,
            m::Jitter::Full => Jitter::Full,
            m::Jitter::Equal => Jitter::Equal,
        },
        budget: r
            .budget
            .map(|b| crate::net::RetryBudget::percent(b.fraction())),
    });
    let breaker = c.circuit_breaker.as_ref().map(|b| Breaker {
        consecutive_failures: b.consecutive_failures,
        error_rate: b.error_rate.map(|r| r.fraction()),
        window: b.window.as_secs_f64(),
        min_calls: b.min_calls,
        open_for: b.open_for.as_secs_f64(),
        half_open_probes: b.half_open_probes.max(1),
    });
    if breaker.is_some_and(|b| b.consecutive_failures.is_none() && b.error_rate.is_none()) {
        return Err(err(
            what,
            format!(
                "the circuit breaker on the call to `{}` never trips: give `consecutive_failures` or `error_rate`",
                c.service
            ),
        ));
    }
    Ok(Call {
        target,
        probability: c.probability,
        count: c.count.max(1),
        timeout: c.timeout.map(|t| t.as_secs_f64()),
        retry,
        breaker,
        optional: c.optional,
        max_concurrent: None,
        is_async: c.is_async,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> m::Twin {
        let loaded = doppel_model::load_str("t.yaml", yaml);
        let errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == doppel_model::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        loaded.twin
    }

    const BASE: &str = r#"
zones:
  a: {latency: {b: 5ms}}
  b: {}
hosts:
  h1: {zone: a, cores: 2}
  h2: {zone: b, cores: 4}
services:
  front:
    replicas: 2
    placement: {hosts: [h1, h2]}
    concurrency: {workers: 3, queue_limit: 7}
    load_balancing: power-of-two
    endpoints:
      get:
        service_time: {dist: lognormal, mean: 10ms, p99: 50ms}
        calls:
          - {service: back, endpoint: get, probability: 0.5, count: 2, timeout: 100ms,
             retries: {max: 2, backoff: 10ms, jitter: equal, budget: 10%},
             circuit_breaker: {consecutive_failures: 5, open_for: 10s}}
          - parallel:
              - {service: back, endpoint: get}
              - {service: back, endpoint: put, optional: true}
          - {service: back, endpoint: get, async: true}
  back:
    placement: {zones: [b]}
    endpoints:
      get: {service_time: {dist: constant, value: 1ms}}
      put:
        service_time:
          dist: empirical
          buckets: [{le: 1ms, weight: 1}, {le: 3ms, weight: 3}]
workloads:
  users:
    open: {schedule: [{at: 0s, rate: 10/s}, {at: 60s, rate: 20/s}]}
    flow:
      steps:
        first: {service: front, next: {again: 0.25}, exit: 0.75, think_time: {dist: constant, value: 1s}}
        again: {service: front}
"#;

    #[test]
    fn translates_every_field() {
        let net = compile(&load(BASE)).unwrap();
        assert_eq!(net.zones, vec!["a", "b"]);
        // One-way latency stated on one side applies both ways; 0 inside a zone.
        assert_eq!(net.latency, vec![0.0, 0.005, 0.005, 0.0]);
        assert_eq!(net.instances.len(), 3);
        let f0 = &net.instances[0];
        assert_eq!(
            (f0.name.as_str(), f0.host, f0.workers, f0.queue_limit),
            ("front-0", Some(0), 3, Some(7))
        );
        assert_eq!(net.instances[1].host, Some(1));
        // `placement: {zones: [b]}` puts the back replica on b's host.
        assert_eq!(
            (net.instances[2].host, net.instance_zone(2)),
            (Some(1), Some(1))
        );
        assert_eq!(net.services[0].load_balancing, LoadBalancing::PowerOfTwo);
        // Log-normal from mean and p99: the mean survives the translation.
        let get = &net.endpoints[0];
        assert!(
            (get.service_time.mean() - 0.010).abs() < 1e-12,
            "{:?}",
            get.service_time
        );
        assert_eq!(get.steps.len(), 3);
        let flags = |c: &Call| (c.optional, c.is_async);
        assert_eq!(flags(&get.steps[1].calls[1]), (true, false));
        assert_eq!(flags(&get.steps[2].calls[0]), (false, true));
        let c = &get.steps[0].calls[0];
        assert_eq!(
            (c.target, c.probability, c.count, c.timeout),
            (1, 0.5, 2, Some(0.1))
        );
        let r = c.retry.unwrap();
        assert_eq!(
            (r.max, r.backoff, r.multiplier, r.jitter),
            (2, 0.01, 2.0, Jitter::Equal)
        );
        assert!(r.max_backoff.is_infinite() && (r.budget.unwrap().percent - 0.1).abs() < 1e-12);
        let b = c.breaker.unwrap();
        assert_eq!(
            (b.consecutive_failures, b.open_for, b.window),
            (Some(5), 10.0, 10.0)
        );
        let targets: Vec<u32> = get.steps[1].calls.iter().map(|c| c.target).collect();
        assert_eq!(targets, vec![1, 2]);
        // Empirical: 1/4 uniform on [0, 1ms], 3/4 on [1ms, 3ms]: mean 0.125 + 1.5 ms.
        assert!((net.endpoints[2].service_time.mean() - 0.001625).abs() < 1e-12);
        let w = &net.workloads[0];
        assert_eq!(
            w.load,
            Load::Open {
                schedule: vec![(0.0, 10.0), (60.0, 20.0)]
            }
        );
        assert_eq!(w.flow.start, 0);
        assert_eq!(w.flow.steps[0].next, vec![(1, 0.25)]);
        assert_eq!(w.flow.steps[0].think_time, Some(Dist::Constant(1.0)));
    }

    #[test]
    fn reports_what_cannot_be_simulated() {
        // A service with no replicas that is still called.
        let twin = load(&BASE.replace(
            "  back:\n    placement: {zones: [b]}",
            "  back:\n    replicas: 0",
        ));
        let e = compile(&twin).unwrap_err();
        assert!(e.why.contains("no instance"), "{e}");
        // A breaker that can never open (the model's validation reports it too; a twin built
        // in code may still hold one).
        let mut twin = load(BASE);
        let get = &mut twin.services["front"].endpoints["get"];
        let m::CallStep::Call(call) = &mut get.calls[0] else {
            panic!("a single call")
        };
        call.circuit_breaker.as_mut().unwrap().consecutive_failures = None;
        let e = compile(&twin).unwrap_err();
        assert!(e.why.contains("never trips"), "{e}");
    }
}

//! From a twin and a what-if scenario (`doppel_model::scenario`) to what the engine runs: a
//! [`SimNet`] (with the scenario's call policies, load shedding and load shapes applied, and
//! spare pod slots for managed services) and a [`Plan`] (timed actions, network rules, health
//! checks, autoscalers, rollouts, SLOs).
//!
//! The scenario is expected to have been loaded and checked against the twin
//! (`doppel_model::scenario::check`); anything that still cannot be simulated is a
//! [`CompileError`], never a panic.

use doppel_model::scenario::{self as sc, LoadShape, LoadedScenario};
use doppel_model::twin as m;

use crate::compile::{CompileError, compile};
use crate::net::{Instance, Load, RetryBudget, SimNet};
use crate::plan::{
    Action, ActionKind, Autoscaler, DEFAULT_DETECTION, Deployment, Managed, NetRule, Objective,
    Plan, Side, SloSpec, SloTarget, Strategy, Version,
};

fn err(what: impl Into<String>, why: impl Into<String>) -> CompileError {
    CompileError {
        what: what.into(),
        why: why.into(),
    }
}

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The network, with the scenario's static changes.
    pub net: SimNet,
    /// What happens during the run.
    pub plan: Plan,
    /// The scenario's own duration and warm-up, seconds, when it gives them.
    pub duration: Option<f64>,
    /// Warm-up, seconds.
    pub warmup: Option<f64>,
}

/// The SLOs of a twin, resolved against its compiled network.
pub fn slo_specs(twin: &m::Twin, net: &SimNet) -> Result<Vec<SloSpec>, CompileError> {
    let mut out = Vec::new();
    for (name, slo) in &twin.slos {
        let what = format!("slo:{name}");
        let (target, target_name) = match (&slo.workload, &slo.service) {
            (Some(w), None) => {
                let k = net
                    .workloads
                    .iter()
                    .position(|x| &x.name == w)
                    .ok_or_else(|| err(&what, format!("unknown workload `{w}`")))?;
                (SloTarget::Workload(k as u32), format!("workload:{w}"))
            }
            (None, Some(s)) => {
                let k = service_index(net, s).ok_or_else(|| err(&what, "unknown service"))?;
                match &slo.endpoint {
                    None => (SloTarget::Service(k, None), format!("service:{s}")),
                    Some(e) => {
                        let ep = net
                            .endpoints
                            .iter()
                            .position(|x| x.service == k && &x.name == e)
                            .ok_or_else(|| err(&what, format!("unknown endpoint `{s}/{e}`")))?;
                        (
                            SloTarget::Service(k, Some(ep as u32)),
                            format!("endpoint:{s}/{e}"),
                        )
                    }
                }
            }
            _ => return Err(err(what, "needs exactly one of `workload` and `service`")),
        };
        let objective = match (&slo.latency, slo.availability) {
            (Some(l), None) => Objective::Latency {
                percentile: l.percentile,
                threshold: l.threshold.as_secs_f64(),
            },
            (None, Some(a)) => Objective::Availability(a.fraction()),
            _ => {
                return Err(err(
                    what,
                    "needs exactly one of `latency` and `availability`",
                ));
            }
        };
        out.push(SloSpec {
            name: name.clone(),
            target_name,
            target,
            objective,
        });
    }
    Ok(out)
}

/// The plan of a plain run of a twin: its SLOs and a timeline of `bucket` seconds.
pub fn plan_for_twin(twin: &m::Twin, net: &SimNet, bucket: f64) -> Result<Plan, CompileError> {
    Ok(Plan {
        bucket,
        slos: slo_specs(twin, net)?,
        ..Plan::default()
    })
}

fn service_index(net: &SimNet, name: &str) -> Option<u32> {
    net.services
        .iter()
        .position(|s| s.name == name)
        .map(|k| k as u32)
}

/// Compiles `twin` (with the scenario's `changes` already applied, see
/// `doppel_model::scenario::apply_changes`) and the scenario. `duration` is the run length
/// (load shapes such as a diurnal curve are laid out over it).
pub fn compile_scenario(
    twin: &m::Twin,
    loaded: &LoadedScenario,
    duration: f64,
) -> Result<Compiled, CompileError> {
    let s = &loaded.scenario;
    let mut t = twin.clone();
    for (name, slo) in &s.slos {
        t.slos.insert(name.clone(), slo.clone());
    }
    let resilience = s.resilience.clone().unwrap_or_default();
    // Call policies and load shedding, at the model level.
    for policy in &resilience.calls {
        for (from, svc) in &mut t.services {
            if policy.from.as_ref().is_some_and(|f| f != from) {
                continue;
            }
            for ep in svc.endpoints.values_mut() {
                for step in &mut ep.calls {
                    let calls: Vec<&mut m::Call> = match step {
                        m::CallStep::Call(c) => vec![c],
                        m::CallStep::Parallel(p) => p.parallel.iter_mut().collect(),
                    };
                    for c in calls {
                        if c.service != policy.to {
                            continue;
                        }
                        if let Some(x) = policy.timeout {
                            c.timeout = Some(x);
                        }
                        if let Some(x) = &policy.retries {
                            c.retries = Some(x.clone());
                        }
                        if let Some(x) = &policy.circuit_breaker {
                            c.circuit_breaker = Some(x.clone());
                        }
                    }
                }
            }
        }
    }
    for (name, shed) in &resilience.load_shedding {
        if let Some(svc) = t.services.get_mut(name) {
            svc.concurrency.queue_limit = Some(shed.max_queue);
        }
    }
    let mut net = compile(&t)?;
    // What the model's call type cannot say: full retry budgets and bulkheads.
    for policy in &resilience.calls {
        let Some(to) = service_index(&net, &policy.to) else {
            continue;
        };
        let from = policy.from.as_deref().and_then(|f| service_index(&net, f));
        let targets: Vec<u32> = net.endpoints.iter().map(|e| e.service).collect();
        for e in &mut net.endpoints {
            if from.is_some_and(|f| f != e.service) {
                continue;
            }
            for c in e.steps.iter_mut().flat_map(|st| st.calls.iter_mut()) {
                if targets[c.target as usize] != to {
                    continue;
                }
                if let Some(b) = &policy.retry_budget
                    && let Some(r) = &mut c.retry
                {
                    r.budget = Some(RetryBudget {
                        percent: b.percent.fraction(),
                        min_per_second: b.min_per_second,
                        ttl: b.ttl.as_secs_f64(),
                    });
                }
                if policy.max_concurrent.is_some() {
                    c.max_concurrent = policy.max_concurrent;
                }
            }
        }
    }
    // Load shapes.
    for (k, shape) in s.load.iter().enumerate() {
        let what = format!("load[{k}]");
        let targets: Vec<usize> = match &shape.workload {
            Some(w) => vec![
                net.workloads
                    .iter()
                    .position(|x| &x.name == w)
                    .ok_or_else(|| err(&what, format!("unknown workload `{w}`")))?,
            ],
            None => (0..net.workloads.len()).collect(),
        };
        for w in targets {
            if let Load::Open { schedule } = &net.workloads[w].load {
                let shaped = shape_schedule(schedule, shape, &|f| loaded.csv.get(f), duration)
                    .map_err(|why| err(&what, why))?;
                net.workloads[w].load = Load::Open { schedule: shaped };
            } else if shape.workload.is_some() {
                return Err(err(what, "load shapes act on open workloads"));
            }
        }
    }

    let zone_ix = |net: &SimNet, z: &str| net.zones.iter().position(|x| x == z).map(|k| k as u32);
    let host_ix =
        |net: &SimNet, h: &str| net.hosts.iter().position(|x| x.name == h).map(|k| k as u32);
    let instance_ix = |net: &SimNet, id: &str| -> Option<u32> {
        let (sname, iname) = id.split_once('/')?;
        let svc = service_index(net, sname)?;
        net.instances
            .iter()
            .position(|i| i.service == svc && i.name == iname)
            .map(|k| k as u32)
    };
    let instances_of = |net: &SimNet, svc: u32| -> Vec<u32> {
        (0..net.instances.len() as u32)
            .filter(|&i| net.instances[i as usize].service == svc)
            .collect()
    };

    let mut plan = Plan {
        bucket: s.bucket.map_or(1.0, |b| b.as_secs_f64()),
        versions: vec![Version::default()],
        ..Plan::default()
    };

    // Managed services: autoscaled or deployed.
    let mut managed_names: Vec<String> = s.autoscaling.keys().cloned().collect();
    for e in &s.events {
        if let Some(d) = &e.deploy
            && !managed_names.contains(&d.service)
        {
            managed_names.push(d.service.clone());
        }
    }
    // CPU requests of the twin's instances: `resources.cpu`; a service without one requests
    // nothing and fits on any node (as a Kubernetes pod without requests does).
    let request = |name: &str| -> f64 {
        t.services
            .get(name)
            .and_then(|svc| svc.resources.as_ref().and_then(|r| r.cpu))
            .unwrap_or(0.0)
    };
    let mut cpu_request: Vec<f64> = net
        .instances
        .iter()
        .map(|i| request(&net.services[i.service as usize].name))
        .collect();
    for name in &managed_names {
        let what = format!("service:{name}");
        let svc_ix = service_index(&net, name).ok_or_else(|| err(&what, "unknown service"))?;
        let model = t
            .services
            .get(name)
            .ok_or_else(|| err(&what, "unknown service"))?;
        let initial = instances_of(&net, svc_ix);
        let template = initial
            .first()
            .map(|&i| net.instances[i as usize].clone())
            .ok_or_else(|| err(&what, "a managed service needs at least one instance"))?;
        let hpa = s.autoscaling.get(name);
        let canary: u32 = s
            .events
            .iter()
            .filter_map(|e| e.deploy.as_ref())
            .filter(|d| &d.service == name)
            .filter_map(|d| d.canary.as_ref().map(|c| c.replicas))
            .sum();
        let base = initial.len().max(hpa.map_or(0, |h| h.max as usize));
        let slots = 2 * base + canary as usize + 2;
        let mut candidates: Vec<u32> = Vec::new();
        let mut zones: Vec<u32> = Vec::new();
        for &i in &initial {
            if let Some(h) = net.instances[i as usize].host
                && !candidates.contains(&h)
            {
                candidates.push(h);
            }
            if let Some(z) = net.instance_zone(i)
                && !zones.contains(&z)
            {
                zones.push(z);
            }
        }
        if let Some(p) = &model.placement {
            for h in &p.hosts {
                if let Some(h) = host_ix(&net, h)
                    && !candidates.contains(&h)
                {
                    candidates.push(h);
                }
            }
            for z in &p.zones {
                for (hn, host) in &t.hosts {
                    if host.zone.as_deref() == Some(z.as_str())
                        && p.host_tags.iter().all(|tag| host.tags.contains(tag))
                        && let Some(h) = host_ix(&net, hn)
                        && !candidates.contains(&h)
                    {
                        candidates.push(h);
                    }
                }
            }
        }
        let mut next = initial.len();
        for _ in initial.len()..slots {
            let name_of = |k: usize| format!("{name}-{k}");
            while net
                .instances
                .iter()
                .any(|i| i.service == svc_ix && i.name == name_of(next))
            {
                next += 1;
            }
            plan.absent.push(net.instances.len() as u32);
            net.instances.push(Instance {
                name: name_of(next),
                host: None,
                zone: None,
                ..template.clone()
            });
            cpu_request.push(request(name));
            next += 1;
        }
        for &h in &candidates {
            if !plan.dynamic_hosts.contains(&h) {
                plan.dynamic_hosts.push(h);
            }
        }
        let deploy_startup = s
            .events
            .iter()
            .filter_map(|e| e.deploy.as_ref())
            .find(|d| &d.service == name)
            .map(|d| d.startup.as_secs_f64() + d.readiness_delay.as_secs_f64());
        plan.managed.push(Managed {
            service: svc_ix,
            desired: initial.len() as u32,
            candidates,
            zones,
            startup: hpa
                .map(|h| h.startup.as_secs_f64())
                .or(deploy_startup)
                .unwrap_or(0.0),
        });
        if let Some(h) = hpa {
            plan.autoscalers.push(Autoscaler {
                service: svc_ix,
                min: h.min,
                max: h.max,
                target: h.target_utilization.fraction(),
                sync_period: h.sync_period.as_secs_f64(),
                tolerance: h.tolerance.fraction(),
                up_window: h.scale_up_stabilization.as_secs_f64(),
                down_window: h.scale_down_stabilization.as_secs_f64(),
            });
        }
    }
    plan.cpu_request = cpu_request;

    // Health checks.
    let default_detection = resilience
        .health_checks
        .get("*")
        .map_or(DEFAULT_DETECTION, |h| h.detection.as_secs_f64());
    plan.detection = net
        .services
        .iter()
        .map(|svc| {
            resilience
                .health_checks
                .get(&svc.name)
                .map_or(default_detection, |h| h.detection.as_secs_f64())
        })
        .collect();

    // Events.
    for (k, e) in s.events.iter().enumerate() {
        let what = format!("events[{k}]");
        let at = e.at.as_secs_f64();
        let until = e.lasts.map(|d| at + d.as_secs_f64());
        let label = |auto: String| e.label.clone().unwrap_or(auto);
        if let Some(kill) = &e.kill {
            let mut instances = Vec::new();
            let mut hosts = Vec::new();
            let mut vanish = Vec::new();
            let auto;
            if let Some(id) = &kill.instance {
                instances.push(
                    instance_ix(&net, id)
                        .ok_or_else(|| err(&what, format!("unknown instance `{id}`")))?,
                );
                auto = format!("kill {id}");
            } else if let Some(sv) = &kill.service {
                let svc = service_index(&net, sv)
                    .ok_or_else(|| err(&what, format!("unknown service `{sv}`")))?;
                instances = instances_of(&net, svc)
                    .into_iter()
                    .filter(|i| !plan.absent.contains(i))
                    .collect();
                auto = format!("kill service {sv}");
            } else if let Some(h) = &kill.host {
                hosts.push(
                    host_ix(&net, h).ok_or_else(|| err(&what, format!("unknown host `{h}`")))?,
                );
                auto = format!("kill host {h}");
            } else if let Some(z) = &kill.zone {
                let zi =
                    zone_ix(&net, z).ok_or_else(|| err(&what, format!("unknown zone `{z}`")))?;
                hosts = (0..net.hosts.len() as u32)
                    .filter(|&h| net.hosts[h as usize].zone == Some(zi))
                    .collect();
                vanish = (0..net.instances.len() as u32)
                    .filter(|&i| {
                        net.instances[i as usize].host.is_none() && net.instance_zone(i) == Some(zi)
                    })
                    .collect();
                auto = format!("kill zone {z}");
            } else {
                return Err(err(what, "a kill needs a target"));
            }
            let kill_index = plan.actions.len() as u32;
            plan.actions.push(Action {
                at,
                kind: ActionKind::Kill {
                    instances,
                    hosts,
                    vanish,
                },
                label: label(auto.clone()),
            });
            if let Some(r) = kill.restart_after {
                plan.actions.push(Action {
                    at: at + r.as_secs_f64(),
                    kind: ActionKind::Restart { kill: kill_index },
                    label: format!("restart ({auto})"),
                });
            }
        }
        let net_fault = e
            .partition
            .as_ref()
            .map(|p| (p.between.clone(), 0.0, 1.0, "partition"))
            .or(e.network.as_ref().map(|n| {
                (
                    n.between.clone(),
                    n.latency.map_or(0.0, |d| d.as_secs_f64()),
                    n.loss.map_or(0.0, |p| p.fraction()),
                    "network",
                )
            }));
        if let Some((between, latency, loss, kind)) = net_fault {
            let side = |text: &str| -> Result<Side, CompileError> {
                match text.split_once(':') {
                    Some(("zone", z)) => zone_ix(&net, z)
                        .map(Side::Zone)
                        .ok_or_else(|| err(&what, format!("unknown zone `{z}`"))),
                    Some(("service", sv)) => service_index(&net, sv)
                        .map(Side::Service)
                        .ok_or_else(|| err(&what, format!("unknown service `{sv}`"))),
                    _ => Err(err(
                        &what,
                        format!("`{text}` is not `zone:NAME` or `service:NAME`"),
                    )),
                }
            };
            let [a, b] = between.as_slice() else {
                return Err(err(what, "`between` needs two sides"));
            };
            let rule = plan.net_rules.len() as u32;
            plan.net_rules.push(NetRule {
                a: side(a)?,
                b: side(b)?,
                latency,
                loss,
            });
            let auto = if kind == "partition" {
                format!("partition {a} | {b}")
            } else {
                format!("network {a} - {b}")
            };
            plan.actions.push(Action {
                at,
                kind: ActionKind::Net { rule, on: true },
                label: label(auto.clone()),
            });
            if let Some(u) = until {
                plan.actions.push(Action {
                    at: u,
                    kind: ActionKind::Net { rule, on: false },
                    label: format!("end of {auto}"),
                });
            }
        }
        if let Some(slow) = &e.slow {
            let (instances, auto) = if let Some(id) = &slow.instance {
                (
                    vec![
                        instance_ix(&net, id)
                            .ok_or_else(|| err(&what, format!("unknown instance `{id}`")))?,
                    ],
                    format!("{id} {}x slower", slow.factor),
                )
            } else {
                let sv = slow.service.clone().unwrap_or_default();
                let svc = service_index(&net, &sv)
                    .ok_or_else(|| err(&what, format!("unknown service `{sv}`")))?;
                (
                    instances_of(&net, svc),
                    format!("{sv} {}x slower", slow.factor),
                )
            };
            plan.actions.push(Action {
                at,
                kind: ActionKind::Slow {
                    instances: instances.clone(),
                    factor: slow.factor,
                },
                label: label(auto.clone()),
            });
            if let Some(u) = until {
                plan.actions.push(Action {
                    at: u,
                    kind: ActionKind::Slow {
                        instances,
                        factor: 1.0,
                    },
                    label: format!("end of {auto}"),
                });
            }
        }
        if let Some(inj) = &e.errors {
            let svc = service_index(&net, &inj.service)
                .ok_or_else(|| err(&what, format!("unknown service `{}`", inj.service)))?;
            let endpoints: Vec<u32> = (0..net.endpoints.len() as u32)
                .filter(|&k| {
                    let ep = &net.endpoints[k as usize];
                    ep.service == svc && inj.endpoint.as_ref().is_none_or(|n| &ep.name == n)
                })
                .collect();
            let auto = format!("{} fails {}", inj.service, inj.rate);
            plan.actions.push(Action {
                at,
                kind: ActionKind::Errors {
                    endpoints: endpoints.clone(),
                    rate: inj.rate.fraction(),
                },
                label: label(auto.clone()),
            });
            if let Some(u) = until {
                plan.actions.push(Action {
                    at: u,
                    kind: ActionKind::Errors {
                        endpoints,
                        rate: 0.0,
                    },
                    label: format!("end of {auto}"),
                });
            }
        }
        if let Some(cpu) = &e.cpu {
            let h = host_ix(&net, &cpu.host)
                .ok_or_else(|| err(&what, format!("unknown host `{}`", cpu.host)))?;
            if !plan.dynamic_hosts.contains(&h) {
                plan.dynamic_hosts.push(h);
            }
            let before = net.hosts[h as usize].cores;
            let auto = format!("{} down to {} cores", cpu.host, cpu.cores);
            plan.actions.push(Action {
                at,
                kind: ActionKind::Cores {
                    host: h,
                    cores: cpu.cores,
                },
                label: label(auto.clone()),
            });
            if let Some(u) = until {
                plan.actions.push(Action {
                    at: u,
                    kind: ActionKind::Cores {
                        host: h,
                        cores: before,
                    },
                    label: format!("end of {auto}"),
                });
            }
        }
        if let Some(d) = &e.deploy {
            let svc = service_index(&net, &d.service)
                .ok_or_else(|| err(&what, format!("unknown service `{}`", d.service)))?;
            let version = plan.versions.len() as u32;
            plan.versions.push(Version {
                latency: d.version.latency,
                cpu: d.version.cpu.unwrap_or(d.version.latency),
                error_rate: d.version.error_rate.fraction(),
            });
            let desired = instances_of(&net, svc)
                .into_iter()
                .filter(|i| !plan.absent.contains(i))
                .count() as u32;
            let (strategy, auto) = if let Some(r) = &d.rolling {
                let surge = r.max_surge.resolve(desired, true);
                let mut unavailable = r.max_unavailable.resolve(desired, false);
                if surge == 0 && unavailable == 0 {
                    unavailable = 1;
                }
                (
                    Strategy::Rolling {
                        max_surge: surge,
                        max_unavailable: unavailable,
                    },
                    format!("rolling update of {}", d.service),
                )
            } else if let Some(c) = &d.canary {
                (
                    Strategy::Canary {
                        weight: c.weight.fraction(),
                        replicas: c.replicas,
                        after: c.analysis.after.as_secs_f64(),
                        alpha: c.analysis.alpha.fraction(),
                        latency_tolerance: c.analysis.latency_tolerance.fraction(),
                        error_tolerance: c.analysis.error_tolerance.fraction(),
                    },
                    format!("canary of {} at {}", d.service, c.weight),
                )
            } else if let Some(bg) = &d.blue_green {
                (
                    Strategy::BlueGreen {
                        keep_old_for: bg.keep_old_for.as_secs_f64(),
                    },
                    format!("blue/green of {}", d.service),
                )
            } else {
                return Err(err(what, "a deployment needs a strategy"));
            };
            let index = plan.deployments.len() as u32;
            plan.deployments.push(Deployment {
                service: svc,
                version,
                startup: d.startup.as_secs_f64() + d.readiness_delay.as_secs_f64(),
                strategy,
            });
            plan.actions.push(Action {
                at,
                kind: ActionKind::Deploy(index),
                label: label(auto),
            });
        }
    }
    // Time order (stable), with restarts pointing at their kill's new index.
    let mut order: Vec<usize> = (0..plan.actions.len()).collect();
    order.sort_by(|&x, &y| plan.actions[x].at.total_cmp(&plan.actions[y].at));
    let mut new_index = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new as u32;
    }
    let mut sorted: Vec<Action> = order.iter().map(|&k| plan.actions[k].clone()).collect();
    for a in &mut sorted {
        if let ActionKind::Restart { kill } = &mut a.kind {
            *kill = new_index[*kill as usize];
        }
    }
    plan.actions = sorted;
    plan.slos = slo_specs(&t, &net)?;
    net.validate().map_err(|e| match e {
        crate::net::NetError::Invalid { what, why } => err(what, why),
    })?;
    check_plan(&net, &plan).map_err(|why| err("scenario", why))?;
    Ok(Compiled {
        net,
        plan,
        duration: s.duration.map(|d| d.as_secs_f64()),
        warmup: s.warmup.map(|d| d.as_secs_f64()),
    })
}

/// Checks that a plan's indices and numbers fit `net`.
pub fn check_plan(net: &SimNet, plan: &Plan) -> Result<(), String> {
    let (ni, nh, ns, ne, nz, nw) = (
        net.instances.len() as u32,
        net.hosts.len() as u32,
        net.services.len() as u32,
        net.endpoints.len() as u32,
        net.zones.len() as u32,
        net.workloads.len() as u32,
    );
    let fin = |x: f64| x.is_finite() && x >= 0.0;
    if !fin(plan.bucket) {
        return Err("the bucket width must be finite and >= 0".into());
    }
    for a in &plan.actions {
        if !fin(a.at) {
            return Err(format!("action `{}` has a bad time", a.label));
        }
        let ok = match &a.kind {
            ActionKind::Kill {
                instances,
                hosts,
                vanish,
            } => instances.iter().chain(vanish).all(|&i| i < ni) && hosts.iter().all(|&h| h < nh),
            ActionKind::Restart { kill } => matches!(
                plan.actions.get(*kill as usize).map(|k| &k.kind),
                Some(ActionKind::Kill { .. })
            ),
            ActionKind::Net { rule, .. } => (*rule as usize) < plan.net_rules.len(),
            ActionKind::Slow { instances, factor } => {
                instances.iter().all(|&i| i < ni) && fin(*factor)
            }
            ActionKind::Errors { endpoints, rate } => {
                endpoints.iter().all(|&e| e < ne) && (0.0..=1.0).contains(rate)
            }
            ActionKind::Cores { host, cores } => *host < nh && fin(*cores) && *cores > 0.0,
            ActionKind::Deploy(d) => (*d as usize) < plan.deployments.len(),
        };
        if !ok {
            return Err(format!("action `{}` is out of range", a.label));
        }
    }
    let side_ok = |s: Side| match s {
        Side::Zone(z) => z < nz,
        Side::Service(x) => x < ns,
    };
    for r in &plan.net_rules {
        if !(side_ok(r.a) && side_ok(r.b) && fin(r.latency) && (0.0..=1.0).contains(&r.loss)) {
            return Err("a network rule is out of range".into());
        }
    }
    if !plan.detection.is_empty()
        && (plan.detection.len() != ns as usize || !plan.detection.iter().all(|&d| fin(d)))
    {
        return Err("health-check delays need one finite value per service".into());
    }
    for mg in &plan.managed {
        if mg.service >= ns
            || mg.candidates.iter().any(|&h| h >= nh)
            || mg.zones.iter().any(|&z| z >= nz)
            || !fin(mg.startup)
        {
            return Err("a managed service is out of range".into());
        }
    }
    for a in &plan.autoscalers {
        let managed = plan.managed.iter().any(|m| m.service == a.service);
        if !managed
            || a.min > a.max
            || a.target.is_nan()
            || a.target <= 0.0
            || !a.target.is_finite()
            || a.sync_period.is_nan()
            || a.sync_period <= 0.0
            || !a.sync_period.is_finite()
            || !fin(a.tolerance)
            || !fin(a.up_window)
            || !fin(a.down_window)
        {
            return Err("an autoscaler is out of range".into());
        }
    }
    for v in &plan.versions {
        if !(fin(v.latency) && fin(v.cpu) && (0.0..=1.0).contains(&v.error_rate)) {
            return Err("a version profile is out of range".into());
        }
    }
    for d in &plan.deployments {
        if !plan.managed.iter().any(|m| m.service == d.service)
            || d.version as usize >= plan.versions.len()
            || !fin(d.startup)
        {
            return Err("a deployment is out of range".into());
        }
        if let Strategy::Canary { weight, after, .. } = d.strategy
            && !((0.0..=1.0).contains(&weight) && fin(after))
        {
            return Err("a canary is out of range".into());
        }
    }
    if plan.absent.iter().any(|&i| i >= ni)
        || (!plan.cpu_request.is_empty() && plan.cpu_request.len() != ni as usize)
        || plan.cpu_request.iter().any(|&c| !fin(c))
        || plan.dynamic_hosts.iter().any(|&h| h >= nh)
    {
        return Err("instance or host tables are out of range".into());
    }
    for slo in &plan.slos {
        let ok = match slo.target {
            SloTarget::Workload(w) => w < nw,
            SloTarget::Service(s, e) => {
                s < ns && e.is_none_or(|e| e < ne && net.endpoints[e as usize].service == s)
            }
        };
        let obj_ok = match slo.objective {
            Objective::Latency {
                percentile,
                threshold,
            } => percentile > 0.0 && percentile < 100.0 && fin(threshold),
            Objective::Availability(a) => (0.0..=1.0).contains(&a),
        };
        if !(ok && obj_ok) {
            return Err(format!("SLO `{}` is out of range", slo.name));
        }
    }
    Ok(())
}

/// The base rate at `t` of a piecewise-constant schedule.
fn rate_at(schedule: &[(f64, f64)], t: f64) -> f64 {
    schedule
        .iter()
        .take_while(|(from, _)| *from <= t)
        .last()
        .map_or(0.0, |&(_, r)| r)
}

/// Applies one load shape to a piecewise-constant schedule. Continuous shapes (ramps, diurnal
/// curves) become steps of one second (or 1/1000 of the period), valued at their middle.
fn shape_schedule<'a>(
    schedule: &[(f64, f64)],
    shape: &LoadShape,
    csv: &dyn Fn(&str) -> Option<&'a sc::RateSeries>,
    duration: f64,
) -> Result<Vec<(f64, f64)>, String> {
    let mut points: Vec<f64> = schedule.iter().map(|p| p.0).collect();
    points.push(0.0);
    let level = |rate: Option<doppel_model::Rate>, factor: Option<f64>, x: f64| match (rate, factor)
    {
        (Some(r), _) => r.as_per_sec(),
        (None, Some(f)) => f * x,
        (None, None) => x,
    };
    let grid = |points: &mut Vec<f64>, from: f64, to: f64, step: f64| {
        let mut t = from;
        while t < to && points.len() < 2_000_000 {
            points.push(t);
            t += step;
        }
        points.push(to);
    };
    let series: Option<&'a sc::RateSeries> = match &shape.csv {
        Some(c) => {
            Some(csv(&c.file).ok_or_else(|| format!("CSV file `{}` was not loaded", c.file))?)
        }
        None => None,
    };
    if let Some(x) = &shape.step {
        points.push(x.at.as_secs_f64());
    }
    if let Some(x) = &shape.spike {
        points.push(x.at.as_secs_f64());
        points.push(x.at.as_secs_f64() + x.lasts.as_secs_f64());
    }
    if let Some(x) = &shape.ramp {
        grid(&mut points, x.from.as_secs_f64(), x.to.as_secs_f64(), 1.0);
    }
    if let Some(x) = &shape.diurnal {
        let period = x.period.map_or(86_400.0, |d| d.as_secs_f64());
        grid(
            &mut points,
            0.0,
            duration,
            (period / 1000.0).max(1.0).min(period),
        );
    }
    if let Some(rows) = series {
        points.extend(rows.iter().map(|r| r.0));
    }
    points.retain(|t| t.is_finite() && *t >= 0.0);
    points.sort_by(f64::total_cmp);
    points.dedup();
    let value = |t: f64| -> f64 {
        let x = rate_at(schedule, t);
        if let Some(s) = &shape.step {
            return if t >= s.at.as_secs_f64() {
                level(s.rate, s.factor, x)
            } else {
                x
            };
        }
        if let Some(s) = &shape.spike {
            let (a, b) = (
                s.at.as_secs_f64(),
                s.at.as_secs_f64() + s.lasts.as_secs_f64(),
            );
            return if t >= a && t < b {
                level(s.rate, s.factor, x)
            } else {
                x
            };
        }
        if let Some(r) = &shape.ramp {
            let (a, b) = (r.from.as_secs_f64(), r.to.as_secs_f64());
            let target = level(r.rate, r.factor, x);
            return if t < a {
                x
            } else if t >= b || b <= a {
                target
            } else {
                x + (target - x) * (t - a) / (b - a)
            };
        }
        if let Some(d) = &shape.diurnal {
            let period = d.period.map_or(86_400.0, |p| p.as_secs_f64());
            let phase = 2.0 * std::f64::consts::PI * (t - d.peak_at.as_secs_f64()) / period;
            return x * (d.min + (d.max - d.min) * (1.0 + phase.cos()) / 2.0);
        }
        if let (Some(rows), Some(c)) = (series, &shape.csv) {
            let first = rows.first().map_or(0.0, |r| r.0);
            return if t < first {
                x
            } else {
                rate_at(rows, t) * c.scale.unwrap_or(1.0)
            };
        }
        x
    };
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (k, &t) in points.iter().enumerate() {
        let continuous = shape.ramp.is_some() || shape.diurnal.is_some();
        let probe = match points.get(k + 1) {
            Some(&next) if continuous => (t + next) / 2.0,
            _ => t,
        };
        let r = value(probe).max(0.0);
        if out.last().is_none_or(|&(_, last)| last != r) {
            out.push((t, r));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shape(yaml: &str) -> LoadShape {
        let l = doppel_model::scenario::load_scenario_str("s.yaml", &format!("load: [{yaml}]"));
        assert!(l.is_valid(), "{:?}", l.diagnostics);
        l.scenario.load[0].clone()
    }

    fn run(s: &LoadShape, base: &[(f64, f64)]) -> Vec<(f64, f64)> {
        shape_schedule(base, s, &|_| None, 100.0).unwrap()
    }

    #[test]
    fn load_shapes_give_the_rates_they_describe() {
        let base = [(0.0, 100.0)];
        assert_eq!(
            run(&shape("{step: {at: 10s, factor: 3}}"), &base),
            vec![(0.0, 100.0), (10.0, 300.0)]
        );
        assert_eq!(
            run(&shape("{spike: {at: 5s, for: 2s, rate: 1k/s}}"), &base),
            vec![(0.0, 100.0), (5.0, 1000.0), (7.0, 100.0)]
        );
        // A ramp from 100 to 200 over 10 s in 1 s steps, valued at each step's middle.
        let r = run(&shape("{ramp: {from: 0s, to: 10s, factor: 2}}"), &base);
        assert_eq!(r.len(), 11);
        assert_eq!(r[0], (0.0, 105.0));
        assert_eq!(r[9], (9.0, 195.0));
        assert_eq!(r[10], (10.0, 200.0));
        // Diurnal: peak 1.0 at 0, trough 0.5 half a period later.
        let d = run(
            &shape("{diurnal: {min: 0.5, max: 1.0, period: 100s}}"),
            &base,
        );
        let at = |t: f64| d.iter().take_while(|p| p.0 <= t).last().unwrap().1;
        assert!((at(0.0) - 100.0).abs() < 0.1, "{}", at(0.0));
        assert!((at(50.0) - 50.0).abs() < 0.1, "{}", at(50.0));
        assert!((at(25.0) - 75.0).abs() < 1.6, "{}", at(25.0));
    }

    #[test]
    fn csv_series_replace_the_rate_from_their_first_row() {
        let l = doppel_model::scenario::load_scenario(std::path::Path::new("s.yaml"), |p| {
            Ok(if p.ends_with("r.csv") {
                b"timestamp,rate\n10,5\n20,7\n".to_vec()
            } else {
                b"load: [{csv: {file: r.csv, scale: 2}}]".to_vec()
            })
        });
        assert!(l.is_valid(), "{:?}", l.diagnostics);
        let csv = |f: &str| l.csv.get(f);
        let out = shape_schedule(&[(0.0, 1.0)], &l.scenario.load[0], &csv, 100.0).unwrap();
        assert_eq!(out, vec![(0.0, 1.0), (10.0, 10.0), (20.0, 14.0)]);
    }
}

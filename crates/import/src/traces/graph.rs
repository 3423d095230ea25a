//! From spans to a calibrated call graph: endpoints, their exclusive service times, their
//! downstream calls with probabilities and counts per parent request, error and request rates.
//! See the [parent module](super) for the rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use doppel_model::{
    CallStep, Endpoint, Flow, FlowStep, OpenLoad, ParallelCalls, Provenance, Rate, Service,
    ServiceKind, Twin, Workload,
};
use indexmap::IndexMap;

use super::{Span, fit, rfc3339};
use crate::redact::redact_text;
use crate::text;
use crate::{Diagnostic, Severity};

/// An endpoint: (service, endpoint) twin names.
type Ep = (String, String);

/// The same call made more times than this in one request is modelled with `count` rather
/// than one entry per repetition.
const MAX_UNROLLED: u32 = 5;

#[derive(Default)]
struct Stats {
    requests: u64,
    errors: u64,
    roots: u64,
    exclusive: Vec<f64>,
    /// Callee → calls made in each request (one entry per request of this endpoint).
    calls: BTreeMap<Ep, Vec<u32>>,
    /// Callee → sum of start offsets (seconds after the request's start) and how many.
    offsets: BTreeMap<Ep, (f64, u64)>,
    /// (a, b) → (requests where both are called and some call of a overlaps one of b,
    /// requests where both are called).
    overlap: BTreeMap<(Ep, Ep), (u64, u64)>,
}

/// One downstream call of one request: callee and the interval the caller waits.
struct Out {
    callee: Ep,
    start: u64,
    end: u64,
}

/// The endpoint a span is a request to. Names are redacted before they are made plain, so a
/// secret in a span name (`GET /reset?token=...`) is caught while its shape is visible.
fn ep_of(s: &Span) -> Ep {
    (svc_name(&s.service), text::name(&redact_text(&s.name)))
}

fn svc_name(raw: &str) -> String {
    text::name(&redact_text(raw))
}

/// One request: an entry span, the downstream calls it made (client spans of one call
/// counted once), and the client spans that call services nobody instrumented.
struct Request<'a> {
    entry: &'a Span,
    /// The span names a parent that is not in the input.
    orphan: bool,
    /// A root (no parent, or a parent not in the input).
    root: bool,
    outs: Vec<Out>,
    peers: Vec<(String, &'a Span)>,
}

/// Indexes spans by trace and walks every entry span's own service's spans below it: the
/// requests, ordered by trace, start and id. See the [parent module](super) for the rules.
fn requests(spans: &[Span]) -> Vec<Request<'_>> {
    // Index spans by trace and id, first occurrence wins.
    let mut by_id: HashMap<(&str, &str), &Span> = HashMap::new();
    for s in spans {
        by_id.entry((s.trace.as_str(), s.id.as_str())).or_insert(s);
    }
    let mut children: HashMap<(&str, &str), Vec<&Span>> = HashMap::new();
    for s in by_id.values() {
        if let Some(p) = &s.parent
            && by_id.contains_key(&(s.trace.as_str(), p.as_str()))
        {
            children
                .entry((s.trace.as_str(), p.as_str()))
                .or_default()
                .push(s);
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    }
    let parent_of = |s: &Span| -> Option<&Span> {
        s.parent
            .as_ref()
            .and_then(|p| by_id.get(&(s.trace.as_str(), p.as_str())).copied())
    };
    let instrumented: HashSet<String> = by_id.values().map(|s| svc_name(&s.service)).collect();
    let mut entries: Vec<&Span> = by_id
        .values()
        .copied()
        .filter(|s| parent_of(s).is_none_or(|p| p.service != s.service))
        .collect();
    entries.sort_by(|a, b| (&a.trace, a.start, &a.id).cmp(&(&b.trace, b.start, &b.id)));
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let parent = parent_of(e);
        // Downstream calls: walk the entry's own service's spans below it.
        let mut outs: Vec<Out> = Vec::new();
        let mut peers = Vec::new();
        let mut stack: Vec<&Span> = vec![e];
        let mut seen: HashSet<&str> = HashSet::new();
        while let Some(s) = stack.pop() {
            if !seen.insert(s.id.as_str()) {
                continue;
            }
            let kids = children.get(&(s.trace.as_str(), s.id.as_str()));
            let mut downstream = false;
            for c in kids.into_iter().flatten() {
                if c.service == e.service {
                    stack.push(c);
                } else {
                    downstream = true;
                    // The caller waits for its client span when there is one.
                    let (start, end) = if s.client && !std::ptr::eq(s, e) {
                        (s.start, s.end)
                    } else {
                        (c.start, c.end)
                    };
                    outs.push(Out {
                        callee: ep_of(c),
                        start,
                        end,
                    });
                }
            }
            if !downstream
                && s.client
                && let Some(peer) = &s.peer
            {
                let p = svc_name(peer);
                if !instrumented.contains(&p) {
                    outs.push(Out {
                        callee: (p.clone(), "default".into()),
                        start: s.start,
                        end: s.end,
                    });
                    peers.push((p, s));
                }
            }
        }
        // Client spans of a call are counted once, not once per server span below them.
        outs.sort_by(|a, b| (a.start, a.end, &a.callee).cmp(&(b.start, b.end, &b.callee)));
        outs.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.callee == b.callee);
        out.push(Request {
            entry: e,
            orphan: e.parent.is_some() && parent.is_none(),
            root: parent.is_none(),
            outs,
            peers,
        });
    }
    out
}

/// What the requests of one endpoint did downstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointCalls {
    /// Requests seen (entry spans).
    pub requests: u64,
    /// Per called endpoint `(service, endpoint)`: calls made by those requests in total.
    pub calls: BTreeMap<(String, String), u64>,
}

/// Per endpoint `(service, endpoint)`, named as [`build`] names them: how many requests the
/// spans hold and how many calls they made to each downstream endpoint, by the same rules
/// as the call graph (the mean calls per request is `calls / requests`). The live twin uses
/// it to calibrate call counts from the traces it receives.
pub fn call_counts(spans: &[Span]) -> BTreeMap<(String, String), EndpointCalls> {
    let mut out: BTreeMap<Ep, EndpointCalls> = BTreeMap::new();
    for r in requests(spans) {
        let st = out.entry(ep_of(r.entry)).or_default();
        st.requests += 1;
        for o in r.outs {
            *st.calls.entry(o.callee).or_default() += 1;
        }
    }
    out
}

/// Builds the twin delta from spans read from `files` (each span's `file` indexes it).
/// `source` and the file a service was first seen in go into its provenance block; notes
/// about the whole set name the first file.
pub fn build(spans: &[Span], source: &str, files: &[String], diags: &mut Vec<Diagnostic>) -> Twin {
    let file_of = |i: usize| files.get(i).or(files.first()).cloned().unwrap_or_default();
    let file = file_of(0);
    let file = file.as_str();
    let mut twin = Twin::default();
    if spans.is_empty() {
        return twin;
    }
    let mut stats: BTreeMap<Ep, Stats> = BTreeMap::new();
    let mut peer_kinds: BTreeMap<String, ServiceKind> = BTreeMap::new();
    let mut peer_times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut first_seen: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    let (mut t0, mut t1) = (u64::MAX, 0u64);
    let mut orphans = 0usize;

    for r in requests(spans) {
        let e = r.entry;
        t0 = t0.min(e.start);
        t1 = t1.max(e.end);
        let svc = svc_name(&e.service);
        let fs = first_seen.entry(svc).or_insert((e.start, e.file));
        *fs = (*fs).min((e.start, e.file));
        orphans += usize::from(r.orphan);
        for (p, s) in &r.peers {
            let kind = match s.db_system.as_deref() {
                Some("redis" | "memcached") => ServiceKind::Cache,
                Some(_) => ServiceKind::Database,
                None => ServiceKind::App,
            };
            peer_kinds.entry(p.clone()).or_insert(kind);
            peer_times
                .entry(p.clone())
                .or_default()
                .push((s.end - s.start) as f64 / 1e9);
        }
        let outs = r.outs;
        let st = stats.entry(ep_of(e)).or_default();
        st.requests += 1;
        st.errors += u64::from(e.error);
        st.roots += u64::from(r.root);
        let busy = union_len(&outs, e.start, e.end);
        st.exclusive
            .push((e.end - e.start).saturating_sub(busy) as f64 / 1e9);
        let mut counts: BTreeMap<&Ep, u32> = BTreeMap::new();
        for o in &outs {
            *counts.entry(&o.callee).or_default() += 1;
            let off = st.offsets.entry(o.callee.clone()).or_default();
            off.0 += o.start.saturating_sub(e.start) as f64 / 1e9;
            off.1 += 1;
        }
        let idx = st.requests as usize - 1;
        for (callee, n) in &counts {
            let v = st.calls.entry((*callee).clone()).or_default();
            v.resize(idx, 0);
            v.push(*n);
        }
        let called: Vec<&Ep> = counts.keys().copied().collect();
        for (i, a) in called.iter().enumerate() {
            for b in called.iter().skip(i + 1) {
                let overlaps = outs.iter().filter(|o| &o.callee == *a).any(|x| {
                    outs.iter()
                        .filter(|o| &o.callee == *b)
                        .any(|y| x.start < y.end && y.start < x.end)
                });
                let entry = st.overlap.entry(((*a).clone(), (*b).clone())).or_default();
                entry.0 += u64::from(overlaps);
                entry.1 += 1;
            }
        }
    }
    if orphans > 0 {
        diags.push(text::file_diag(
            file,
            Severity::Warning,
            (1, 1),
            "",
            format!("{orphans} spans name a parent that is not in the input (an incomplete trace?); they are treated as roots"),
        ));
    }

    let window = t1.saturating_sub(t0) as f64 / 1e9;
    let total_roots: u64 = stats.values().map(|s| s.roots).sum();
    let rates_known = window > 0.0 && total_roots >= 2;
    if !rates_known {
        diags.push(text::file_diag(
            file,
            Severity::Info,
            (1, 1),
            "",
            "too few traces to measure request rates; no workloads derived",
        ));
    } else {
        diags.push(text::file_diag(
            file,
            Severity::Info,
            (1, 1),
            "",
            format!("request rates are those of the {total_roots} traces in the input over {window:.3}s; divide by the sampling ratio if traces were sampled"),
        ));
    }

    let provenance = |svc: &str| Provenance {
        source: source.to_owned(),
        file: Some(
            first_seen
                .get(svc)
                .map_or_else(|| file.to_owned(), |(_, f)| file_of(*f)),
        ),
        reference: Some(format!("service.name={svc}")),
        observed_at: first_seen.get(svc).map(|(t, _)| rfc3339(*t)),
        fields: Default::default(),
    };

    for ((svc, ep), st) in &stats {
        let service = twin.services.entry(svc.clone()).or_insert_with(|| Service {
            provenance: Some(provenance(svc)),
            ..Service::default()
        });
        let Some(service_time) = fit::fit(&st.exclusive) else {
            continue;
        };
        diags.push(text::file_diag(
            file,
            Severity::Info,
            (1, 1),
            "",
            format!(
                "endpoint {svc}/{ep}: {} requests, service time fitted as {}",
                st.requests,
                fit::describe(&service_time)
            ),
        ));
        let calls = call_steps(st);
        service.endpoints.insert(
            ep.clone(),
            Endpoint {
                service_time,
                calls,
            },
        );
        if st.errors > 0 {
            service.tags.push(format!(
                "error-rate.{ep}={}",
                round4(st.errors as f64 / st.requests as f64)
            ));
        }
        if rates_known {
            service.tags.push(format!(
                "request-rate.{ep}={}/s",
                round4(st.requests as f64 / window)
            ));
        }
    }
    for (peer, times) in &peer_times {
        let Some(service_time) = fit::fit(times) else {
            continue;
        };
        let service = twin
            .services
            .entry(peer.clone())
            .or_insert_with(|| Service {
                kind: peer_kinds.get(peer).copied().unwrap_or_default(),
                provenance: Some(Provenance {
                    source: source.to_owned(),
                    file: Some(file.to_owned()),
                    reference: Some(format!("peer.service={peer}")),
                    observed_at: None,
                    fields: Default::default(),
                }),
                tags: vec!["timed-by-callers".into()],
                ..Service::default()
            });
        service.endpoints.insert(
            "default".into(),
            Endpoint {
                service_time,
                calls: Vec::new(),
            },
        );
        diags.push(text::file_diag(
            file,
            Severity::Info,
            (1, 1),
            "",
            format!("`{peer}` is not instrumented: its endpoint `default` is timed by its callers' client spans (network time included)"),
        ));
    }
    if rates_known {
        for ((svc, ep), st) in &stats {
            if st.roots == 0 {
                continue;
            }
            let name = text::name(&format!("observed.{svc}.{ep}"));
            let mut steps = IndexMap::new();
            steps.insert(
                "request".to_owned(),
                FlowStep {
                    service: svc.clone(),
                    endpoint: Some(ep.clone()),
                    next: IndexMap::new(),
                    exit: None,
                    think_time: None,
                },
            );
            twin.workloads.insert(
                name,
                Workload {
                    open: Some(OpenLoad {
                        rate: Some(Rate::per_sec(round4(st.roots as f64 / window))),
                        schedule: Vec::new(),
                    }),
                    closed: None,
                    flow: Flow { start: None, steps },
                    provenance: Some(provenance(svc)),
                },
            );
        }
    }
    twin
}

fn round4(x: f64) -> f64 {
    let scale = 10f64.powi(4 - x.abs().log10().ceil().clamp(-12.0, 12.0) as i32);
    if x == 0.0 || !x.is_finite() {
        0.0
    } else {
        (x * scale).round() / scale
    }
}

/// Length of the union of the calls' intervals, clipped to `[lo, hi]`.
fn union_len(outs: &[Out], lo: u64, hi: u64) -> u64 {
    let mut iv: Vec<(u64, u64)> = outs
        .iter()
        .map(|o| (o.start.clamp(lo, hi), o.end.clamp(lo, hi)))
        .filter(|(a, b)| b > a)
        .collect();
    iv.sort_unstable();
    let mut total = 0u64;
    let mut cur: Option<(u64, u64)> = None;
    for (a, b) in iv {
        match cur {
            Some((s, e)) if a <= e => cur = Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((s, e)) = cur {
        total += e - s;
    }
    total
}

/// The calls of an endpoint, in the order they start on average. A callee called at most
/// [`MAX_UNROLLED`] times per request gets one call per repetition, the k-th made with the
/// probability that a request makes at least k such calls (so both the chance of calling at
/// all and the mean number of calls are the observed ones); more gets one call with `count`
/// the mean number when called. Callees called at most once that overlap in time in most
/// requests where both are called are grouped as parallel.
fn call_steps(st: &Stats) -> Vec<CallStep> {
    let n = st.requests.max(1) as f64;
    let mut order: Vec<(&Ep, f64)> = st
        .offsets
        .iter()
        .map(|(c, (sum, k))| (c, sum / (*k).max(1) as f64))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    let mut steps: Vec<CallStep> = Vec::new();
    let mut group: Vec<(&Ep, f64)> = Vec::new();
    let flush = |group: &mut Vec<(&Ep, f64)>, steps: &mut Vec<CallStep>| {
        match group.len() {
            0 => {}
            1 => {
                let (c, p) = group[0];
                steps.push(CallStep::Call(text::call(&c.0, Some(&c.1), p)));
            }
            _ => steps.push(CallStep::Parallel(ParallelCalls {
                parallel: group
                    .iter()
                    .map(|(c, p)| text::call(&c.0, Some(&c.1), *p))
                    .collect(),
            })),
        }
        group.clear();
    };
    for (callee, _) in order {
        let Some(per_request) = st.calls.get(callee) else {
            continue;
        };
        let max = per_request.iter().copied().max().unwrap_or(0);
        let at_least = |k: u32| per_request.iter().filter(|&&x| x >= k).count() as f64 / n;
        if max == 1 {
            let p = round4(at_least(1));
            let parallel_with_all = !group.is_empty()
                && group.iter().all(|(g, _)| {
                    let key = if *g < callee {
                        ((*g).clone(), callee.clone())
                    } else {
                        (callee.clone(), (*g).clone())
                    };
                    st.overlap
                        .get(&key)
                        .is_some_and(|(o, both)| *both > 0 && 2 * o >= *both)
                });
            if !parallel_with_all {
                flush(&mut group, &mut steps);
            }
            group.push((callee, p));
            continue;
        }
        flush(&mut group, &mut steps);
        if max <= MAX_UNROLLED {
            for k in 1..=max {
                steps.push(CallStep::Call(text::call(
                    &callee.0,
                    Some(&callee.1),
                    round4(at_least(k)),
                )));
            }
        } else {
            let made: Vec<u32> = per_request.iter().copied().filter(|&x| x > 0).collect();
            let mean = made.iter().map(|&x| f64::from(x)).sum::<f64>() / made.len().max(1) as f64;
            let mut call = text::call(&callee.0, Some(&callee.1), round4(at_least(1)));
            call.count = (mean.round() as u32).max(1);
            steps.push(CallStep::Call(call));
        }
    }
    flush(&mut group, &mut steps);
    steps
}

//! What the Security and Network views show, computed from the twin in force: attack paths,
//! the most likely one, ranked mitigations and the attack over time (`doppel-security`), the
//! blast radius of a compromised host, the verdict of one flow with the rule that decides it, and the twin's routers and links routed
//! before (ECMP under the IGP weights in force) and after optimization (`doppel-netopt`) with
//! the single-link failure table, for the traffic the twin's workloads generate or the flows
//! observed live ([`LiveFlows`]). The functions are pure and may be slow on large twins:
//! [`crate::App::analysis`] runs them on the blocking pool and caches each answer per twin
//! version and query ([`Cache`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use doppel_model::Twin;
use doppel_netopt::report::{self, FailureRow, RouteRequest, Router};
use doppel_netopt::traffic::ObservedRate;
use doppel_netopt::{Network, traffic};
use doppel_security::analysis;
use doppel_security::campaign::{self, Defense};
use doppel_security::graph::Start;
use doppel_security::reach::Origin;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why an analysis gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The query is malformed or names nothing in the twin (400).
    #[error("{0}")]
    Query(String),
    /// The twin lacks what the analysis needs, e.g. routers (409).
    #[error("{0}")]
    Unsupported(String),
    /// The computation failed (500).
    #[error("{0}")]
    Failed(String),
}

/// Most answers kept per twin version (queries are free text, so the cache is bounded).
const CACHE_ENTRIES: usize = 64;

/// Answers per query for one twin version; a new version empties it.
#[derive(Default)]
pub struct Cache {
    inner: Mutex<(i64, HashMap<String, Arc<Value>>)>,
}

impl Cache {
    /// The answer to `key` for `version`, if computed.
    pub fn get(&self, version: i64, key: &str) -> Option<Arc<Value>> {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.0 == version).then(|| g.1.get(key).cloned()).flatten()
    }

    /// Keeps `value` as the answer to `key` for `version` (dropping other versions').
    pub fn put(&self, version: i64, key: String, value: Arc<Value>) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.0 != version {
            // Only a newer version replaces the cache: a slow answer for an older one is
            // dropped rather than evicting the current version's answers.
            if version < g.0 {
                return;
            }
            *g = (version, HashMap::new());
        }
        if g.1.len() >= CACHE_ENTRIES {
            g.1.clear();
        }
        g.1.insert(key, value);
    }
}

/// The query of `GET /api/security/attack`.
#[derive(Debug, Clone, Deserialize)]
pub struct AttackQuery {
    /// `internet`, an external address or `host:NAME`.
    #[serde(default = "internet")]
    pub from: String,
    /// `tag:NAME`, `host:NAME` or `service:NAME`.
    #[serde(default = "crown_jewel")]
    pub to: String,
    /// Most minimal paths per target.
    #[serde(default = "max_paths")]
    pub max_paths: usize,
    /// Also simulate the attack over time.
    #[serde(default = "yes")]
    pub simulate: bool,
    /// Monte Carlo runs.
    #[serde(default = "runs")]
    pub runs: u32,
    /// Seed of the simulation.
    #[serde(default = "one")]
    pub seed: u64,
    /// What-ifs, comma-separated (`edr:tier=web,patch:7d`).
    #[serde(default)]
    pub what_if: String,
}

fn internet() -> String {
    "internet".into()
}
fn crown_jewel() -> String {
    "tag:crown-jewel".into()
}
fn max_paths() -> usize {
    50
}
fn yes() -> bool {
    true
}
fn runs() -> u32 {
    2000
}
fn one() -> u64 {
    1
}

impl AttackQuery {
    /// The cache key.
    pub fn key(&self) -> String {
        format!(
            "attack\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.from, self.to, self.max_paths, self.simulate, self.runs, self.seed, self.what_if
        )
    }
}

fn start_of(from: &str) -> Result<Start, AnalysisError> {
    if from == "internet" {
        Ok(Start::Outside(Origin::Internet))
    } else if let Ok(ip) = from.parse() {
        Ok(Start::Outside(Origin::Address(ip)))
    } else if let Some(h) = from.strip_prefix("host:") {
        Ok(Start::Host(h.to_owned()))
    } else {
        Err(AnalysisError::Query(format!(
            "from: expected `internet`, an IP address or `host:NAME`, not `{from}`"
        )))
    }
}

/// Attack paths from `q.from` to `q.to`, the most likely, the mitigations and, when asked,
/// the attack over time against the default defense: the report of `doppel attack --format
/// json` with `simulation` (the report of `--simulate`, or null) beside it.
pub fn attack(twin: &Twin, q: &AttackQuery) -> Result<Value, AnalysisError> {
    if q.max_paths == 0 || q.max_paths > 1000 {
        return Err(AnalysisError::Query("max_paths: between 1 and 1000".into()));
    }
    if q.runs == 0 || q.runs > 100_000 {
        return Err(AnalysisError::Query("runs: between 1 and 100000".into()));
    }
    let starts = [start_of(&q.from)?];
    let report = analysis::attack(twin, &starts, &q.to, q.max_paths)
        .map_err(|e| AnalysisError::Query(e.to_string()))?;
    let simulation = if q.simulate {
        let what_ifs: Vec<String> = q
            .what_if
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let r = campaign::simulate(
            twin,
            &starts,
            &q.to,
            &Defense::default(),
            &what_ifs,
            campaign::SimOptions {
                runs: q.runs,
                seed: q.seed,
                cap: q.max_paths,
            },
        )
        .map_err(|e| AnalysisError::Query(e.to_string()))?;
        serde_json::to_value(r).map_err(|e| AnalysisError::Failed(e.to_string()))?
    } else {
        Value::Null
    };
    let mut v = serde_json::to_value(&report).map_err(|e| AnalysisError::Failed(e.to_string()))?;
    if let Some(m) = v.as_object_mut() {
        m.insert("simulation".into(), simulation);
    }
    Ok(v)
}

/// The query of `GET /api/security/reach`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReachQuery {
    /// `internet`, an address, `host:NAME`, `service:NAME` or a bare host or service name.
    pub src: String,
    /// `host:NAME`, `service:NAME` or a bare host or service name.
    pub dst: String,
    /// The port; every port the destination listens on when absent.
    pub port: Option<u16>,
}

/// A bare name as `host:NAME` or `service:NAME` (a host first); other forms unchanged.
fn qualify(twin: &Twin, name: &str) -> String {
    if name == "internet" || name.contains(':') || name.parse::<std::net::IpAddr>().is_ok() {
        name.to_owned()
    } else if twin.hosts.contains_key(name) {
        format!("host:{name}")
    } else if twin.services.contains_key(name) {
        format!("service:{name}")
    } else {
        name.to_owned()
    }
}

/// Every flow from `src` to `dst` (on `port`, or each port the destination listens on):
/// allowed or denied, each check made in order, and the one that decides (the first failing
/// check of a denied flow; the ingress check of an allowed one).
pub fn reach(twin: &Twin, q: &ReachQuery) -> Result<Value, AnalysisError> {
    let src = qualify(twin, q.src.trim());
    let dst = qualify(twin, q.dst.trim());
    let to = match q.port {
        Some(p) => format!("{dst}:{p}"),
        None => dst.clone(),
    };
    let flows =
        analysis::reach_query(twin, &src, &to).map_err(|e| AnalysisError::Query(e.to_string()))?;
    let allowed = flows.iter().filter(|(_, v)| v.allowed).count();
    let rows: Vec<Value> = flows
        .iter()
        .map(|(flow, v)| {
            let decisive = if v.allowed {
                v.reasons.iter().rev().find(|r| r.check == "ingress")
            } else {
                v.reasons.iter().find(|r| !r.pass)
            }
            .or(v.reasons.last());
            json!({
                "flow": flow,
                "allowed": v.allowed,
                "decided_by": decisive.map(|r| json!({
                    "check": r.check,
                    "detail": r.detail,
                    "rule": r.rule.as_ref().map(|(g, i)| format!("{g}[{i}]")),
                })),
                "reasons": v.reasons,
            })
        })
        .collect();
    let verdict = if flows.is_empty() {
        "none"
    } else if allowed == flows.len() {
        "allowed"
    } else if allowed == 0 {
        "denied"
    } else {
        "mixed"
    };
    Ok(json!({
        "src": src,
        "dst": dst,
        "port": q.port,
        "verdict": verdict,
        "allowed_flows": allowed,
        "flows": rows,
    }))
}

/// The query of `GET /api/security/blast`.
#[derive(Debug, Clone, Deserialize)]
pub struct BlastQuery {
    /// The compromised host: `NAME` or `host:NAME`.
    pub host: String,
}

impl BlastQuery {
    /// The cache key.
    pub fn key(&self) -> String {
        format!("blast\n{}", self.host)
    }
}

/// What an attacker holding root on `q.host` can go on to reach: hosts with root or user
/// access, services whose data is exposed, credentials taken and the value at risk (the
/// report of `doppel attack --blast-radius HOST --format json`).
pub fn blast(twin: &Twin, q: &BlastQuery) -> Result<Value, AnalysisError> {
    let host = q.host.trim();
    let host = host.strip_prefix("host:").unwrap_or(host);
    let b = analysis::blast_radius(twin, host).map_err(|e| AnalysisError::Query(e.to_string()))?;
    serde_json::to_value(b).map_err(|e| AnalysisError::Failed(e.to_string()))
}

/// The query of `GET /api/network/route`.
#[derive(Debug, Clone, Deserialize)]
pub struct RouteQuery {
    /// `lp`, `lp-paths`, `igp` or `ecmp`.
    #[serde(default = "lp")]
    pub method: String,
    /// `mlu` or `delay`.
    #[serde(default = "mlu")]
    pub objective: String,
    /// Whose traffic: `workloads` (the twin's) or `live` (observed flows).
    #[serde(default = "workloads")]
    pub traffic: String,
    /// For `igp`: at most this many links get a new weight (1: the next weight change).
    pub max_changes: Option<usize>,
}

fn workloads() -> String {
    "workloads".into()
}

fn lp() -> String {
    "lp".into()
}
fn mlu() -> String {
    "mlu".into()
}

impl RouteQuery {
    /// The cache key; a live answer is also keyed by the flows it routes, so new data is
    /// routed afresh.
    pub fn key(&self, live: Option<&LiveFlows>) -> String {
        let flows = live.map_or(0, |l| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (l.window_from_ms, l.window_to_ms).hash(&mut h);
            for r in &l.rates {
                (&r.src, &r.dst, r.bytes_per_second.to_bits()).hash(&mut h);
            }
            h.finish()
        });
        format!(
            "route\n{}\n{}\n{}\n{:?}\n{flows:x}",
            self.method, self.objective, self.traffic, self.max_changes
        )
    }
}

/// The flows observed over a recent window: the mean byte rate of every `flow:SRC>DST`
/// series (see [`crate::ingest`]), and when they were observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFlows {
    /// The window's length, seconds.
    pub window_s: i64,
    /// Its start, ms since the epoch.
    pub window_from_ms: i64,
    /// Its end (exclusive), ms since the epoch.
    pub window_to_ms: i64,
    /// Start of the earliest bucket holding flow data.
    pub observed_from_ms: Option<i64>,
    /// End of the latest bucket holding flow data.
    pub observed_to_ms: Option<i64>,
    /// One mean rate per flow, by source then destination.
    pub rates: Vec<ObservedRate>,
}

/// The mean rate of each flow in `points` (stored `flow_bytes_per_second` buckets of
/// `flow:SRC>DST` entities; other points are ignored): the mean of its samples in the window.
pub fn live_flows(
    points: &[doppel_store::MetricPoint],
    window_from_ms: i64,
    window_to_ms: i64,
) -> LiveFlows {
    let metric = crate::ingest::Kind::FlowBytes.metric();
    let mut acc: BTreeMap<(&str, &str), (f64, i64)> = BTreeMap::new();
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    for p in points {
        let Some((src, dst)) = p
            .entity
            .strip_prefix("flow:")
            .and_then(|f| f.split_once('>'))
        else {
            continue;
        };
        if p.metric != metric || p.count <= 0 {
            continue;
        }
        let e = acc.entry((src, dst)).or_insert((0.0, 0));
        e.0 += p.sum;
        e.1 += p.count;
        let end = p.bucket_ms + p.resolution_s * 1000;
        first = Some(first.map_or(p.bucket_ms, |f| f.min(p.bucket_ms)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    LiveFlows {
        window_s: (window_to_ms - window_from_ms) / 1000,
        window_from_ms,
        window_to_ms,
        observed_from_ms: first,
        observed_to_ms: last,
        rates: acc
            .into_iter()
            .map(|((src, dst), (sum, n))| ObservedRate {
                src: src.to_owned(),
                dst: dst.to_owned(),
                bytes_per_second: sum / n as f64,
            })
            .collect(),
    }
}

/// The twin's routers and links with the traffic its workloads generate (`q.traffic`
/// `workloads`) or the flows observed live (`live`, which must be given), routed by ECMP
/// under the IGP weights in force (`before`) and by `q.method` for `q.objective` (`after`),
/// each with every single-link failure re-routed the same way; `failures` joins the two
/// tables by link, worst first after optimization. `clock` returns seconds.
pub fn route(
    twin: &Twin,
    q: &RouteQuery,
    live: Option<&LiveFlows>,
    clock: &mut dyn FnMut() -> f64,
) -> Result<Value, AnalysisError> {
    let method = match q.method.as_str() {
        "lp" => report::RouteMethod::Lp,
        "lp-paths" => report::RouteMethod::LpPaths,
        "igp" => report::RouteMethod::Igp,
        "ecmp" => report::RouteMethod::Ecmp,
        other => {
            return Err(AnalysisError::Query(format!(
                "method: lp, lp-paths, igp or ecmp, not `{other}`"
            )));
        }
    };
    let objective = match q.objective.as_str() {
        "mlu" => report::Objective::Mlu,
        "delay" => report::Objective::Delay,
        other => {
            return Err(AnalysisError::Query(format!(
                "objective: mlu or delay, not `{other}`"
            )));
        }
    };
    if objective == report::Objective::Delay && method != report::RouteMethod::Lp {
        return Err(AnalysisError::Query(
            "objective delay is solved by LP: use it with method lp".into(),
        ));
    }
    if q.max_changes.is_some() && method != report::RouteMethod::Igp {
        return Err(AnalysisError::Query(
            "max_changes limits the IGP weight search: use it with method igp".into(),
        ));
    }
    if q.max_changes == Some(0) {
        return Err(AnalysisError::Query(
            "max_changes: at least 1 (1 proposes the next weight change)".into(),
        ));
    }
    let live = match q.traffic.as_str() {
        "workloads" => None,
        "live" => Some(live.ok_or_else(|| {
            AnalysisError::Failed("live traffic was asked for but not read".into())
        })?),
        other => {
            return Err(AnalysisError::Query(format!(
                "traffic: workloads or live, not `{other}`"
            )));
        }
    };
    let net = Network::from_twin(twin).map_err(|e| AnalysisError::Unsupported(e.to_string()))?;
    if net.node_count() == 0 {
        return Err(AnalysisError::Unsupported(
            "the twin has no routers: the Network view needs its `routers` and `links`".into(),
        ));
    }
    let (derived, source) = match live {
        None => {
            let d = traffic::from_twin(twin, &net, &Default::default())
                .map_err(|e| AnalysisError::Unsupported(e.to_string()))?;
            if d.matrix.demands().is_empty() {
                return Err(AnalysisError::Unsupported(
                    "the twin's workloads put no traffic between its routers".into(),
                ));
            }
            let source = json!({"source": "workloads", "flows": d.flows});
            (d, source)
        }
        Some(l) => live_matrix(twin, &net, l)?,
    };
    let tm = &derived.matrix;
    let every_link = Some(net.links().len());
    let before_req = RouteRequest {
        method: report::RouteMethod::Ecmp,
        failures: every_link,
        warm: false,
        reference: false,
        ..Default::default()
    };
    let after_req = RouteRequest {
        method,
        objective,
        igp: doppel_netopt::igp::IgpOptions {
            max_changes: q.max_changes,
            ..Default::default()
        },
        failures: every_link,
        warm: false,
        reference: true,
        ..Default::default()
    };
    let failed = |e: report::RouteError| AnalysisError::Failed(e.to_string());
    let before = Router::new(net.clone())
        .route(tm, &before_req, clock)
        .map_err(failed)?;
    let after = Router::new(net.clone())
        .route(tm, &after_req, clock)
        .map_err(failed)?;
    let failures = join_failures(
        before.failures.as_deref().unwrap_or_default(),
        after.failures.as_deref().unwrap_or_default(),
    );
    let routers: Vec<Value> = twin
        .routers
        .iter()
        .map(
            |(name, r)| json!({"name": name, "zone": r.zone, "subnets": r.subnets, "tags": r.tags}),
        )
        .collect();
    let links: Vec<Value> = twin
        .links
        .iter()
        .map(|(name, l)| {
            json!({
                "name": name,
                "from": l.from,
                "to": l.to,
                "capacity_bps": l.bandwidth.as_bits_per_sec(),
                "latency_s": l.latency.as_secs_f64(),
                "weight": l.cost,
                "directed": l.directed,
            })
        })
        .collect();
    let demands: Vec<Value> = tm
        .demands()
        .iter()
        .map(|d| {
            json!({
                "from": net.nodes()[d.src],
                "to": net.nodes()[d.dst],
                "rate_bps": d.rate,
            })
        })
        .collect();
    Ok(json!({
        "method": q.method,
        "objective": q.objective,
        "max_changes": q.max_changes,
        "traffic": source,
        "routers": routers,
        "links": links,
        "demands": demands,
        "total_bps": tm.total(),
        "notes": derived.notes,
        "mlu_before": before.mlu,
        "mlu_after": after.mlu,
        "before": before.to_json(),
        "after": after.to_json(),
        "failures": failures,
    }))
}

/// The router-level matrix of the live flows, and the `traffic` part of the answer: the
/// source, when it was observed, and every flow with the part of it that crosses the network.
/// Flows naming what the twin no longer has are left out with a note; no flow is a 409.
fn live_matrix(
    twin: &Twin,
    net: &Network,
    l: &LiveFlows,
) -> Result<(traffic::TwinTraffic, Value), AnalysisError> {
    let known = |n: &str| {
        net.node(n).is_some() || twin.hosts.contains_key(n) || twin.services.contains_key(n)
    };
    let (rates, gone): (Vec<&ObservedRate>, Vec<&ObservedRate>) = l.rates.iter().partition(|r| {
        known(&r.src)
            && known(&r.dst)
            && r.bytes_per_second.is_finite()
            && r.bytes_per_second >= 0.0
    });
    if rates.is_empty() {
        return Err(AnalysisError::Unsupported(format!(
            "no live flow data in the last {} s: send per source and destination byte rates as \
             `doppel_flow_bytes_per_second{{src=\"...\",dst=\"...\"}}` (routers, hosts or \
             services of the twin) through remote-write, Datadog or OTLP metrics, or route \
             traffic=workloads",
            l.window_s
        )));
    }
    let rates: Vec<ObservedRate> = rates.into_iter().cloned().collect();
    let mut d = traffic::from_observed(Some(twin), net, &rates)
        .map_err(|e| AnalysisError::Failed(e.to_string()))?;
    for r in gone {
        d.notes.push(if known(&r.src) && known(&r.dst) {
            format!(
                "flow {} -> {}: a mean of {} bytes/s is no rate; left out",
                r.src, r.dst, r.bytes_per_second
            )
        } else {
            format!(
                "flow {} -> {}: not a router, host or service of this twin version; left out",
                r.src, r.dst
            )
        });
    }
    if d.matrix.demands().is_empty() {
        return Err(AnalysisError::Unsupported(format!(
            "the {} live flows never cross between routers (both ends behind the same router, \
             or behind none)",
            rates.len()
        )));
    }
    let flows: Vec<Value> = d
        .flows
        .iter()
        .zip(&rates)
        .map(|(f, r)| {
            json!({
                "src": r.src,
                "dst": r.dst,
                "bytes_per_second": r.bytes_per_second,
                "network_bits_per_second": f.network_bits_per_second,
            })
        })
        .collect();
    let source = json!({
        "source": "live",
        "metric": "doppel_flow_bytes_per_second",
        "window_s": l.window_s,
        "window_from_ms": l.window_from_ms,
        "window_to_ms": l.window_to_ms,
        "observed_from_ms": l.observed_from_ms,
        "observed_to_ms": l.observed_to_ms,
        "flows": flows,
    });
    Ok((d, source))
}

/// One row per failed link: the MLU with ECMP re-routing and with the optimized routing's,
/// worst first by the latter.
fn join_failures(before: &[FailureRow], after: &[FailureRow]) -> Vec<Value> {
    let by_link: BTreeMap<&str, &FailureRow> =
        before.iter().map(|r| (r.failed.as_str(), r)).collect();
    let mut rows: Vec<&FailureRow> = after.iter().collect();
    rows.sort_by(|a, b| {
        b.stranded_bps
            .total_cmp(&a.stranded_bps)
            .then(b.mlu.total_cmp(&a.mlu))
            .then(a.failed.cmp(&b.failed))
    });
    rows.iter()
        .map(|r| {
            let b = by_link.get(r.failed.as_str());
            json!({
                "failed": r.failed,
                "mlu_after": r.mlu,
                "worst_link_after": r.worst_link,
                "stranded_bps_after": r.stranded_bps,
                "mlu_before": b.map(|b| b.mlu),
                "worst_link_before": b.and_then(|b| b.worst_link.clone()),
                "stranded_bps_before": b.map(|b| b.stranded_bps),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_store::MetricPoint;

    #[test]
    fn the_cache_follows_the_newest_version() {
        let c = Cache::default();
        c.put(3, "k".into(), Arc::new(json!(3)));
        assert_eq!(c.get(3, "k").as_deref(), Some(&json!(3)));
        assert!(c.get(4, "k").is_none());
        // A slow answer for an older version does not evict the current one's.
        c.put(2, "k".into(), Arc::new(json!(2)));
        assert_eq!(c.get(3, "k").as_deref(), Some(&json!(3)));
        assert!(c.get(2, "k").is_none());
        // A newer version empties it.
        c.put(4, "j".into(), Arc::new(json!(4)));
        assert!(c.get(3, "k").is_none());
        assert_eq!(c.get(4, "j").as_deref(), Some(&json!(4)));
        // Bounded.
        for i in 0..(CACHE_ENTRIES + 5) {
            c.put(4, format!("q{i}"), Arc::new(json!(i)));
        }
        assert!(c.inner.lock().unwrap_or_else(|e| e.into_inner()).1.len() <= CACHE_ENTRIES);
    }

    fn point(entity: &str, metric: &str, bucket_ms: i64, count: i64, sum: f64) -> MetricPoint {
        MetricPoint {
            entity: entity.into(),
            metric: metric.into(),
            resolution_s: 10,
            bucket_ms,
            count,
            sum,
            min: 0.0,
            max: 0.0,
        }
    }

    #[test]
    fn live_flows_are_the_mean_of_their_samples() {
        let m = "flow_bytes_per_second";
        let pts = [
            point("flow:a>b", m, 20_000, 2, 300.0),
            point("flow:a>b", m, 30_000, 1, 600.0),
            point("flow:b>a", m, 40_000, 1, 10.0),
            // Not flows, or not the flow metric: ignored.
            point("service:a", m, 10_000, 1, 1e9),
            point("flow:a>b", "requests", 10_000, 1, 1e9),
        ];
        let l = live_flows(&pts, 0, 60_000);
        assert_eq!(l.window_s, 60);
        assert_eq!(
            (l.observed_from_ms, l.observed_to_ms),
            (Some(20_000), Some(50_000))
        );
        let rates: Vec<(&str, &str, f64)> = l
            .rates
            .iter()
            .map(|r| (r.src.as_str(), r.dst.as_str(), r.bytes_per_second))
            .collect();
        // (300 + 600) / 3 samples.
        assert_eq!(rates, [("a", "b", 300.0), ("b", "a", 10.0)]);
        let empty = live_flows(&[], 0, 60_000);
        assert!(empty.rates.is_empty() && empty.observed_from_ms.is_none());
    }

    fn row(failed: &str, mlu: f64, stranded: f64) -> FailureRow {
        FailureRow {
            failed: failed.into(),
            mlu,
            stranded_bps: stranded,
            worst_link: Some(format!("hot-{failed}")),
        }
    }

    #[test]
    fn failures_join_by_link_worst_first() {
        let before = [row("a", 0.9, 0.0), row("b", 0.5, 0.0), row("c", 0.1, 0.0)];
        let after = [row("b", 0.4, 0.0), row("a", 0.3, 0.0), row("c", 0.2, 5.0)];
        let j = join_failures(&before, &after);
        let order: Vec<&str> = j
            .iter()
            .map(|r| r["failed"].as_str().unwrap_or(""))
            .collect();
        // Stranded traffic first, then the highest MLU after optimization.
        assert_eq!(order, ["c", "b", "a"]);
        assert_eq!(j[1]["mlu_before"], 0.5);
        assert_eq!(j[1]["mlu_after"], 0.4);
        assert_eq!(j[2]["worst_link_before"], "hot-a");
    }
}

//! Live telemetry in: series are mapped onto twin entities by their labels, counters become
//! increments, and everything is aggregated into 10-second buckets waiting to be flushed.
//!
//! Mapping. The entity is the first of the labels `service`, `service_name`, `app`, `job`
//! that names a service of the twin (`service:NAME`), else `instance`, `host`, `hostname`
//! (port stripped) naming a host (`host:NAME`). The metric is recognized by name:
//!
//! | name | kind | stored as |
//! | --- | --- | --- |
//! | `*requests_total` (counter) | requests | `requests`: increments per bucket |
//! | `*_duration_seconds_sum` / `_count` (counters) | latency | `latency_seconds_sum`, `latency_count` |
//! | `*utilization`, `*utilisation` (gauge, 0 to 1) | utilization | `utilization`: samples |
//! | `*latency_ms` (gauge) | mean latency | `latency_ms`: samples |
//! | `*resident_memory_bytes`, `*memory_working_set_bytes`, `*memory_usage_bytes` (gauges) | memory | `memory_bytes`: samples |
//! | `*flow_bytes_per_second` (gauge, bytes/s) | observed flow | `flow_bytes_per_second` of `flow:SRC>DST`: samples |
//!
//! Flows. A series named like `doppel_flow_bytes_per_second{src="web-1",dst="pg-primary"}`
//! is the byte rate from one endpoint to another, each named by the label `src` (or `source`)
//! and `dst` (or `destination`) as a router, host or service of the twin; it maps onto the
//! entity `flow:SRC>DST` rather than onto a service or host. A flow exporter's counters become
//! this gauge with a recording rule, e.g. `sum by (src, dst) (rate(flow_bytes_total[1m]))`
//! (labels relabelled to twin names). `GET /api/network/route?traffic=live` routes the mean of
//! each flow over the last minute.
//!
//! Other series are counted and dropped: the twin keeps what it can compare with predictions.

pub mod formats;
pub mod otlp;
pub mod remote_write;

use std::collections::{HashMap, HashSet};

use doppel_store::MetricPoint;
use serde::{Deserialize, Serialize};

/// Width of the live buckets, seconds.
pub const RESOLUTION_S: i64 = 10;

/// What a recognized series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Requests served (a counter).
    Requests,
    /// Total seconds spent serving (a counter).
    LatencySum,
    /// Requests timed (a counter).
    LatencyCount,
    /// Busy fraction (a gauge).
    Utilization,
    /// Mean latency in milliseconds (a gauge).
    LatencyMs,
    /// Failed requests (increments, e.g. pulled from Prometheus).
    Errors,
    /// Median latency, milliseconds (a gauge).
    LatencyP50Ms,
    /// 90th percentile latency, milliseconds (a gauge).
    LatencyP90Ms,
    /// 99th percentile latency, milliseconds (a gauge).
    LatencyP99Ms,
    /// Memory in use, bytes (a gauge).
    MemoryBytes,
    /// Fraction of time the disks were busy (a gauge).
    DiskUtilization,
    /// Requests seen as server or root spans (increments).
    TraceRequests,
    /// Seconds those spans took (increments).
    TraceLatencySum,
    /// Requests of an endpoint whose traces settled (increments; see [`otlp`]).
    TracedRequests,
    /// Calls from one endpoint to another in settled traces (increments).
    Calls,
    /// Bytes per second from one endpoint to another (a gauge, of a `flow:` entity).
    FlowBytes,
}

impl Kind {
    /// The stored metric name.
    pub fn metric(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::LatencySum => "latency_seconds_sum",
            Kind::LatencyCount => "latency_count",
            Kind::Utilization => "utilization",
            Kind::LatencyMs => "latency_ms",
            Kind::Errors => "errors",
            Kind::LatencyP50Ms => "latency_p50_ms",
            Kind::LatencyP90Ms => "latency_p90_ms",
            Kind::LatencyP99Ms => "latency_p99_ms",
            Kind::MemoryBytes => "memory_bytes",
            Kind::DiskUtilization => "disk_utilization",
            Kind::TraceRequests => "trace_requests",
            Kind::TraceLatencySum => "trace_latency_seconds_sum",
            Kind::TracedRequests => "traced_requests",
            Kind::Calls => "calls",
            Kind::FlowBytes => "flow_bytes_per_second",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 16] = [
        Kind::Requests,
        Kind::LatencySum,
        Kind::LatencyCount,
        Kind::Utilization,
        Kind::LatencyMs,
        Kind::Errors,
        Kind::LatencyP50Ms,
        Kind::LatencyP90Ms,
        Kind::LatencyP99Ms,
        Kind::MemoryBytes,
        Kind::DiskUtilization,
        Kind::TraceRequests,
        Kind::TraceLatencySum,
        Kind::TracedRequests,
        Kind::Calls,
        Kind::FlowBytes,
    ];

    /// The kind stored under a metric name.
    pub fn from_metric(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.metric() == name)
    }

    /// Whether samples are cumulative counters.
    pub fn is_counter(self) -> bool {
        matches!(self, Kind::Requests | Kind::LatencySum | Kind::LatencyCount)
    }
}

/// Recognizes a metric name (see the module documentation).
pub fn classify(name: &str) -> Option<Kind> {
    if name.ends_with("requests_total") {
        Some(Kind::Requests)
    } else if name.ends_with("_duration_seconds_sum") {
        Some(Kind::LatencySum)
    } else if name.ends_with("_duration_seconds_count") {
        Some(Kind::LatencyCount)
    } else if name.ends_with("utilization") || name.ends_with("utilisation") {
        Some(Kind::Utilization)
    } else if name.ends_with("latency_ms") {
        Some(Kind::LatencyMs)
    } else if name.ends_with("resident_memory_bytes")
        || name.ends_with("memory_working_set_bytes")
        || name.ends_with("memory_usage_bytes")
    {
        Some(Kind::MemoryBytes)
    } else if name.ends_with("flow_bytes_per_second") {
        Some(Kind::FlowBytes)
    } else {
        None
    }
}

/// The twin's entity names the mapping looks for.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// Service names.
    pub services: HashSet<String>,
    /// Host names.
    pub hosts: HashSet<String>,
    /// Router names (flows may start or end at a router).
    pub routers: HashSet<String>,
}

impl Entities {
    /// The entities of a twin.
    pub fn of(twin: &doppel_model::Twin) -> Entities {
        Entities {
            services: twin.services.keys().cloned().collect(),
            hosts: twin.hosts.keys().cloned().collect(),
            routers: twin.routers.keys().cloned().collect(),
        }
    }

    /// The flow entity (`flow:SRC>DST`) the labels of a flow series name, if both ends are
    /// routers, hosts or services of the twin.
    pub fn map_flow<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let end = |names: [&str; 2]| {
            names.into_iter().find_map(&label).filter(|v| {
                !v.contains('>')
                    && (self.routers.contains(*v)
                        || self.hosts.contains(*v)
                        || self.services.contains(*v))
            })
        };
        let src = end(["src", "source"])?;
        let dst = end(["dst", "destination"])?;
        Some(format!("flow:{src}>{dst}"))
    }

    /// The entity id the labels name, if any.
    pub fn map<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        for l in ["service", "service_name", "app", "job"] {
            if let Some(v) = label(l)
                && self.services.contains(v)
            {
                return Some(format!("service:{v}"));
            }
        }
        for l in ["instance", "host", "hostname"] {
            if let Some(v) = label(l) {
                let v = v.rsplit_once(':').map_or(v, |(h, _)| h);
                if self.hosts.contains(v) {
                    return Some(format!("host:{v}"));
                }
            }
        }
        None
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    n: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        if self.n == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        self.sum += v;
    }
}

#[derive(Debug, Clone, Copy)]
struct SeriesState {
    generation: u32,
    target: Option<(u32, Kind)>,
    last: Option<(i64, f64)>,
}

/// Counts of what came in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Samples received.
    pub samples: u64,
    /// Samples that mapped onto an entity and a known metric.
    pub mapped: u64,
}

/// The live aggregation state.
#[derive(Debug, Default)]
pub struct Aggregator {
    entities: Entities,
    generation: u32,
    entity_ids: HashMap<String, u32>,
    entity_names: Vec<String>,
    series: HashMap<u64, SeriesState, Fast>,
    pending: HashMap<(u32, Kind, i64), Acc, Fast>,
    /// Totals since start.
    pub stats: IngestStats,
    /// Spans waiting for their traces to settle.
    pub traces: otlp::TraceBuffer,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(K)
}

fn hash_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(mix(h, u64::from_le_bytes(w)), b.len() as u64)
}

/// A word-at-a-time hash of the labels: a series' identity, stable across restarts and builds
/// (the write-ahead log's counter baselines are keyed by it).
pub fn series_hash(labels: &[(&str, &str)]) -> u64 {
    let mut h: u64 = 0;
    for (n, v) in labels {
        h = hash_bytes(h, n.as_bytes());
        h = hash_bytes(h, v.as_bytes());
    }
    // Final avalanche (splitmix64) so the low bits are usable by hash tables.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A hasher for keys that are already hashes or small integers (no SipHash per lookup).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = mix(self.0, u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = mix(self.0, u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = mix(self.0, i);
    }
    fn write_i64(&mut self, i: i64) {
        self.0 = mix(self.0, i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = mix(self.0, i as u64);
    }
}

type Fast = std::hash::BuildHasherDefault<FastHasher>;

impl Aggregator {
    /// An aggregator mapping onto `entities`.
    pub fn new(entities: Entities) -> Aggregator {
        Aggregator {
            entities,
            ..Aggregator::default()
        }
    }

    /// Changes the twin's entities (a new twin version); series are mapped again lazily and
    /// keep their counter baselines.
    pub fn set_entities(&mut self, entities: Entities) {
        self.entities = entities;
        self.generation += 1;
    }

    fn entity_id(&mut self, name: String) -> u32 {
        if let Some(&id) = self.entity_ids.get(&name) {
            return id;
        }
        let id = self.entity_names.len() as u32;
        self.entity_ids.insert(name.clone(), id);
        self.entity_names.push(name);
        id
    }

    /// Adds one series' samples, given its labels.
    pub fn add_series(&mut self, labels: &[(&str, &str)], samples: &[(f64, i64)]) {
        self.stats.samples += samples.len() as u64;
        let h = series_hash(labels);
        let generation = self.generation;
        let stale = self
            .series
            .get(&h)
            .is_none_or(|s| s.generation != generation);
        if stale {
            let label = |n: &str| labels.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            let kind = label("__name__").and_then(classify);
            let target = match kind {
                Some(Kind::FlowBytes) => self
                    .entities
                    .map_flow(label)
                    .map(|e| (self.entity_id(e), Kind::FlowBytes)),
                Some(k) => self.entities.map(label).map(|e| (self.entity_id(e), k)),
                None => None,
            };
            let last = self.series.get(&h).and_then(|s| s.last);
            self.series.insert(
                h,
                SeriesState {
                    generation,
                    target,
                    last,
                },
            );
        }
        let Some(state) = self.series.get_mut(&h) else {
            return;
        };
        let Some((entity, kind)) = state.target else {
            return;
        };
        for &(v, t) in samples {
            if !v.is_finite() {
                continue;
            }
            self.stats.mapped += 1;
            let bucket = t - t.rem_euclid(RESOLUTION_S * 1000);
            if kind.is_counter() {
                match state.last {
                    Some((lt, lv)) if t > lt => {
                        let delta = if v >= lv { v - lv } else { v }; // a reset starts from 0
                        state.last = Some((t, v));
                        self.pending
                            .entry((entity, kind, bucket))
                            .or_default()
                            .add(delta);
                    }
                    Some(_) => {} // out of order: already counted
                    None => state.last = Some((t, v)),
                }
            } else {
                self.pending
                    .entry((entity, kind, bucket))
                    .or_default()
                    .add(v);
            }
        }
    }

    /// Adds an increment (already a delta, e.g. a Datadog count) or a gauge sample for an
    /// entity directly.
    pub fn add_value(&mut self, entity: &str, kind: Kind, t_ms: i64, v: f64) {
        self.stats.samples += 1;
        if !v.is_finite() {
            return;
        }
        self.stats.mapped += 1;
        let id = self.entity_id(entity.to_string());
        let bucket = t_ms - t_ms.rem_euclid(RESOLUTION_S * 1000);
        self.pending.entry((id, kind, bucket)).or_default().add(v);
    }

    /// The entity a set of labels maps onto.
    pub fn map_entity<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        self.entities.map(label)
    }

    /// Takes the aggregated points accumulated since the last call.
    pub fn take(&mut self) -> Vec<MetricPoint> {
        let mut out: Vec<MetricPoint> = self
            .pending
            .drain()
            .map(|((e, k, b), a)| MetricPoint {
                entity: self.entity_names[e as usize].clone(),
                metric: k.metric().to_string(),
                resolution_s: RESOLUTION_S,
                bucket_ms: b,
                count: a.n,
                sum: a.sum,
                min: a.min,
                max: a.max,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.entity, &a.metric, a.bucket_ms).cmp(&(&b.entity, &b.metric, b.bucket_ms))
        });
        out
    }

    /// Puts points back (their flush failed); they merge with what arrived since.
    pub fn put_back(&mut self, points: Vec<MetricPoint>) {
        for p in points {
            let Some(kind) = Kind::from_metric(&p.metric) else {
                continue;
            };
            let id = self.entity_id(p.entity);
            let a = self.pending.entry((id, kind, p.bucket_ms)).or_default();
            if a.n == 0 {
                a.min = p.min;
                a.max = p.max;
            } else {
                a.min = a.min.min(p.min);
                a.max = a.max.max(p.max);
            }
            a.n += p.count;
            a.sum += p.sum;
        }
    }

    /// The counters' last values, keyed by series hash (saved with each checkpoint).
    pub fn baselines(&self) -> Vec<(u64, i64, f64)> {
        let mut v: Vec<(u64, i64, f64)> = self
            .series
            .iter()
            .filter_map(|(h, s)| s.last.map(|(t, x)| (*h, t, x)))
            .collect();
        v.sort_unstable_by_key(|x| x.0);
        v
    }

    /// Restores counter baselines (replay of the write-ahead log).
    pub fn restore_baselines(&mut self, b: &[(u64, i64, f64)]) {
        for &(h, t, x) in b {
            self.series
                .entry(h)
                .and_modify(|s| s.last = Some((t, x)))
                .or_insert(SeriesState {
                    generation: u32::MAX,
                    target: None,
                    last: Some((t, x)),
                });
        }
    }
}

/// Applies a decompressed remote-write body.
pub fn apply_remote_write(
    agg: &mut Aggregator,
    raw: &[u8],
) -> Result<(), remote_write::DecodeError> {
    remote_write::for_each_series(raw, |s| agg.add_series(&s.labels, &s.samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents() -> Entities {
        Entities {
            services: ["cart".to_string()].into(),
            hosts: ["web-1".to_string()].into(),
            routers: ["r1".to_string()].into(),
        }
    }

    #[test]
    fn counters_become_increments_in_their_buckets() {
        let mut a = Aggregator::new(ents());
        let l = [("__name__", "http_requests_total"), ("service", "cart")];
        a.add_series(&l, &[(100.0, 1_000)]); // baseline only
        a.add_series(&l, &[(130.0, 9_000), (150.0, 12_000)]);
        a.add_series(&l, &[(140.0, 11_000)]); // out of order: ignored
        a.add_series(&l, &[(5.0, 15_000)]); // reset: counts 5
        let u = [("__name__", "cart_utilization"), ("job", "cart")];
        a.add_series(&u, &[(0.5, 1_000), (0.7, 2_000)]);
        let h = [
            ("__name__", "node_cpu_utilization"),
            ("instance", "web-1:9100"),
        ];
        a.add_series(&h, &[(0.25, 1_000)]);
        let unknown = [("__name__", "http_requests_total"), ("service", "nope")];
        a.add_series(&unknown, &[(1.0, 1_000)]);
        let pts = a.take();
        let summary: Vec<(&str, &str, i64, i64, f64)> = pts
            .iter()
            .map(|p| {
                (
                    p.entity.as_str(),
                    p.metric.as_str(),
                    p.bucket_ms,
                    p.count,
                    p.sum,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("host:web-1", "utilization", 0, 1, 0.25),
                ("service:cart", "requests", 0, 1, 30.0),
                ("service:cart", "requests", 10_000, 2, 25.0),
                ("service:cart", "utilization", 0, 2, 1.2),
            ]
        );
        assert_eq!(a.stats.samples, 9);
        assert!(a.take().is_empty());
        // Baselines survive a restore into a fresh aggregator.
        let mut b = Aggregator::new(ents());
        b.restore_baselines(&a.baselines());
        b.add_series(&l, &[(12.0, 20_000)]);
        assert_eq!(b.take()[0].sum, 7.0);
    }

    #[test]
    fn flow_series_map_onto_their_two_ends() {
        let mut a = Aggregator::new(ents());
        let f = [
            ("__name__", "doppel_flow_bytes_per_second"),
            ("dst", "r1"),
            ("service", "cart"),
            ("src", "web-1"),
        ];
        a.add_series(&f, &[(1000.0, 1_000), (3000.0, 2_000)]);
        let alias = [
            ("__name__", "net_flow_bytes_per_second"),
            ("destination", "web-1"),
            ("source", "cart"),
        ];
        a.add_series(&alias, &[(5.0, 1_000)]);
        // An end that is no router, host or service, or a missing end: dropped.
        let unknown = [
            ("__name__", "doppel_flow_bytes_per_second"),
            ("dst", "elsewhere"),
            ("src", "web-1"),
        ];
        a.add_series(&unknown, &[(7.0, 1_000)]);
        let half = [("__name__", "doppel_flow_bytes_per_second"), ("src", "r1")];
        a.add_series(&half, &[(7.0, 1_000)]);
        let pts: Vec<(String, String, i64, f64)> = a
            .take()
            .into_iter()
            .map(|p| (p.entity, p.metric, p.count, p.sum))
            .collect();
        let m = "flow_bytes_per_second".to_string();
        assert_eq!(
            pts,
            vec![
                ("flow:cart>web-1".into(), m.clone(), 1, 5.0),
                ("flow:web-1>r1".into(), m, 2, 4000.0),
            ]
        );
        assert_eq!(a.stats.mapped, 3);
    }
}

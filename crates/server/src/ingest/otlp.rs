//! OpenTelemetry in: OTLP/HTTP traces and metrics, decoded by `doppel-import` (the same
//! readers as `doppel import otlp`), mapped onto twin entities by resource attributes and
//! aggregated like every other intake.
//!
//! **Entities.** A resource names a service of the twin by the first of `service.name`,
//! `k8s.deployment.name`, `k8s.statefulset.name`, `k8s.daemonset.name`, `k8s.job.name`,
//! `k8s.container.name` whose value is a twin service, and a host by `host.name`,
//! `k8s.node.name` or `host.id`.
//!
//! **Spans.** Every server or consumer span, and every root span, is a request to its service
//! and to the endpoint `service/span name`: `trace_requests` and `trace_latency_seconds_sum`
//! per 10-second bucket of its end (the live view falls back on them for services without
//! request metrics). Spans are also held per trace until the trace has been quiet for
//! [`SETTLE_MS`]; the settled traces' call graph (`doppel_import::traces::graph::call_counts`)
//! is aggregated as `traced_requests` of `endpoint:SERVICE/ENDPOINT` and `calls` of
//! `call:SERVICE/ENDPOINT>CALLEE/ENDPOINT`, from which recalibration reads the mean number of
//! calls per request.
//!
//! **Metrics** are renamed as the Collector's Prometheus exporter does (`.` → `_`, unit `s` →
//! `_seconds`, `ms` → `_seconds` with values divided by 1000, monotonic sums get `_total`,
//! histograms, exponential histograms and summaries give `_sum` and `_count`) and then go
//! through the Prometheus mapping: cumulative sums and distributions are counters, delta ones
//! increments, gauges and non-monotonic sums samples.

use std::collections::HashMap;

use doppel_import::otlp_metrics::{MetricKind, ResourceMetrics};
use doppel_import::traces::{ResourceSpans, Span};

use super::{Aggregator, Entities, Kind, classify};

/// A trace is settled (its call graph counted) once no span of it arrived for this long.
pub const SETTLE_MS: i64 = 10_000;

/// Most spans held waiting for their traces to settle; beyond it the oldest traces settle early.
pub const MAX_HELD_SPANS: usize = 500_000;

const SERVICE_ATTRS: [&str; 6] = [
    "service.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.job.name",
    "k8s.container.name",
];
const HOST_ATTRS: [&str; 3] = ["host.name", "k8s.node.name", "host.id"];

impl Entities {
    /// The twin service and host a resource's attributes name (see the module documentation).
    pub fn map_resource(&self, attrs: &[(String, String)]) -> (Option<String>, Option<String>) {
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let service = SERVICE_ATTRS
            .iter()
            .filter_map(|k| get(k))
            .find(|v| self.services.contains(*v))
            .map(str::to_owned);
        let host = HOST_ATTRS
            .iter()
            .filter_map(|k| get(k))
            .find(|v| self.hosts.contains(*v))
            .map(str::to_owned);
        (service, host)
    }
}

/// Spans waiting for their traces to settle.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    traces: HashMap<String, (i64, Vec<Span>)>,
    held: usize,
}

impl TraceBuffer {
    /// Spans held.
    pub fn held(&self) -> usize {
        self.held
    }

    fn add(&mut self, span: Span, now_ms: i64) {
        let e = self
            .traces
            .entry(span.trace.clone())
            .or_insert((now_ms, Vec::new()));
        e.0 = e.0.max(now_ms);
        e.1.push(span);
        self.held += 1;
    }

    /// Takes the spans of the traces quiet since `now_ms - quiet_ms` (and, over
    /// [`MAX_HELD_SPANS`], of the oldest others too).
    pub fn settle(&mut self, now_ms: i64, quiet_ms: i64) -> Vec<Span> {
        let mut ids: Vec<(i64, String)> = self
            .traces
            .iter()
            .filter(|(_, (t, _))| *t <= now_ms - quiet_ms)
            .map(|(id, (t, _))| (*t, id.clone()))
            .collect();
        let mut after = self.held;
        for (_, id) in &ids {
            after -= self.traces.get(id).map_or(0, |t| t.1.len());
        }
        if after > MAX_HELD_SPANS {
            let mut rest: Vec<(i64, String)> = self
                .traces
                .iter()
                .filter(|(_, (t, _))| *t > now_ms - quiet_ms)
                .map(|(id, (t, _))| (*t, id.clone()))
                .collect();
            rest.sort();
            for (t, id) in rest {
                if after <= MAX_HELD_SPANS / 2 {
                    break;
                }
                after -= self.traces.get(&id).map_or(0, |t| t.1.len());
                ids.push((t, id));
            }
        }
        ids.sort();
        let mut out = Vec::new();
        for (_, id) in ids {
            if let Some((_, spans)) = self.traces.remove(&id) {
                self.held -= spans.len();
                out.extend(spans);
            }
        }
        out
    }
}

fn ms_of(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Applies decoded spans received at `now_ms`: request counts and latencies per service and
/// endpoint, and the spans kept for the call graph (named by their twin service). Returns the
/// number of spans.
pub fn apply_traces(agg: &mut Aggregator, resources: Vec<ResourceSpans>, now_ms: i64) -> u64 {
    let mut n = 0;
    for r in resources {
        let (service, _) = agg.entities.map_resource(&r.attributes);
        for mut span in r.spans {
            n += 1;
            if let Some(s) = &service {
                span.service.clone_from(s);
                if span.server || span.parent.is_none() {
                    let t = ms_of(span.end);
                    let secs = span.end.saturating_sub(span.start) as f64 / 1e9;
                    let endpoint = format!("endpoint:{s}/{}", span.name);
                    for e in [format!("service:{s}"), endpoint] {
                        agg.add_value(&e, Kind::TraceRequests, t, 1.0);
                        agg.add_value(&e, Kind::TraceLatencySum, t, secs);
                    }
                }
            } else {
                agg.stats.samples += 1;
            }
            agg.traces.add(span, now_ms);
        }
    }
    n
}

/// Counts the call graph of settled traces at `now_ms` (see the module documentation). Only
/// endpoints of twin services are counted.
pub fn count_calls(agg: &mut Aggregator, spans: &[Span], now_ms: i64) {
    if spans.is_empty() {
        return;
    }
    let counts = doppel_import::traces::graph::call_counts(spans);
    for ((svc, ep), c) in counts {
        if !agg.entities.services.contains(&svc) {
            continue;
        }
        agg.add_value(
            &format!("endpoint:{svc}/{ep}"),
            Kind::TracedRequests,
            now_ms,
            c.requests as f64,
        );
        for ((to, to_ep), k) in c.calls {
            agg.add_value(
                &format!("call:{svc}/{ep}>{to}/{to_ep}"),
                Kind::Calls,
                now_ms,
                k as f64,
            );
        }
    }
}

/// The Prometheus-style name of an OTLP metric, and the factor its values are multiplied by.
pub fn prometheus_name(name: &str, unit: &str, kind: MetricKind) -> (String, f64) {
    let mut n: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let (suffix, factor) = match unit {
        "s" => ("_seconds", 1.0),
        "ms" => ("_seconds", 1e-3),
        "us" => ("_seconds", 1e-6),
        "By" => ("_bytes", 1.0),
        _ => ("", 1.0),
    };
    if !suffix.is_empty() && !n.ends_with(suffix) {
        n = n.trim_end_matches("_milliseconds").to_string();
        n.push_str(suffix);
    }
    if let MetricKind::Sum {
        monotonic: true, ..
    } = kind
        && !n.ends_with("_total")
    {
        n.push_str("_total");
    }
    (n, factor)
}

/// Applies decoded metrics; returns the number of data points.
pub fn apply_metrics(agg: &mut Aggregator, resources: &[ResourceMetrics]) -> u64 {
    let mut n = 0;
    for r in resources {
        let (service, host) = agg.entities.map_resource(&r.attributes);
        for m in &r.metrics {
            let (base, factor) = prometheus_name(&m.name, &m.unit, m.kind);
            let parts: Vec<(String, f64, bool)> = match m.kind {
                MetricKind::Distribution { delta } => vec![
                    (format!("{base}_sum"), factor, delta),
                    (format!("{base}_count"), 1.0, delta),
                ],
                MetricKind::Sum {
                    monotonic: true,
                    delta,
                } => vec![(base.clone(), factor, delta)],
                _ => vec![(base.clone(), factor, false)],
            };
            for p in &m.points {
                n += 1;
                let t = ms_of(p.time_ns);
                for (k, (name, f, delta)) in parts.iter().enumerate() {
                    let v = if k == 1 {
                        p.count.unwrap_or(0.0)
                    } else {
                        p.value * f
                    };
                    let mut labels: Vec<(&str, &str)> = vec![("__name__", name.as_str())];
                    if let Some(s) = &service {
                        labels.push(("service", s.as_str()));
                    }
                    if let Some(h) = &host {
                        labels.push(("host", h.as_str()));
                    }
                    labels.extend(r.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    labels.extend(p.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    if *delta {
                        let label = |l: &str| labels.iter().find(|(k, _)| *k == l).map(|(_, v)| *v);
                        match (
                            classify(name).filter(|k| k.is_counter()),
                            agg.map_entity(label),
                        ) {
                            (Some(kind), Some(e)) => agg.add_value(&e, kind, t, v),
                            _ => agg.stats.samples += 1,
                        }
                    } else {
                        agg.add_series(&labels, &[(v, t)]);
                    }
                }
            }
        }
    }
    n
}

/// Largest decompressed OTLP body accepted.
pub const MAX_DECODED: usize = 64 << 20;

/// Decompresses a gzip body, refusing more than [`MAX_DECODED`] bytes.
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_DECODED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() > MAX_DECODED {
        return Err(format!(
            "gzip: the body decompresses to more than {MAX_DECODED} bytes"
        ));
    }
    Ok(out)
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, field << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// The message of a partial success.
pub fn rejected_message(traces: bool, n: u64) -> String {
    if traces {
        format!(
            "{n} spans rejected: they lack a trace id, span id, start or end time, or end before they start"
        )
    } else {
        format!("{n} data points rejected: they lack a time or a value")
    }
}

/// An `ExportTraceServiceResponse` / `ExportMetricsServiceResponse`: empty on full success,
/// else `partial_success` (field 1) with the rejected count (field 1) and a message (field 2).
pub fn encode_response(traces: bool, rejected: u64) -> Vec<u8> {
    if rejected == 0 {
        return Vec::new();
    }
    let mut partial = Vec::new();
    pb_varint(&mut partial, 1 << 3);
    pb_varint(&mut partial, rejected);
    pb_bytes(
        &mut partial,
        2,
        rejected_message(traces, rejected).as_bytes(),
    );
    let mut out = Vec::new();
    pb_bytes(&mut out, 1, &partial);
    out
}

/// A `google.rpc.Status`: `code` (field 1) and `message` (field 2).
pub fn encode_status(code: u64, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pb_varint(&mut out, 1 << 3);
    pb_varint(&mut out, code);
    pb_bytes(&mut out, 2, message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents() -> Entities {
        Entities {
            services: ["cart".to_string(), "checkout".to_string()].into(),
            hosts: ["web-1".to_string()].into(),
            routers: Default::default(),
        }
    }

    #[test]
    fn resources_map_by_service_name_then_kubernetes_then_host() {
        let e = ents();
        let a = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            e.map_resource(&a(&[("service.name", "cart"), ("host.name", "web-1")])),
            (Some("cart".into()), Some("web-1".into()))
        );
        // An SDK's default service name is not a twin service: the deployment name is.
        assert_eq!(
            e.map_resource(&a(&[
                ("service.name", "unknown_service:java"),
                ("k8s.deployment.name", "checkout"),
                ("k8s.node.name", "node-9"),
            ])),
            (Some("checkout".into()), None)
        );
    }

    #[test]
    fn metric_names_follow_the_prometheus_translation() {
        let sum = MetricKind::Sum {
            monotonic: true,
            delta: false,
        };
        let hist = MetricKind::Distribution { delta: false };
        assert_eq!(
            prometheus_name("http.server.requests", "{request}", sum),
            ("http_server_requests_total".into(), 1.0)
        );
        assert_eq!(
            prometheus_name("http.server.request.duration", "s", hist),
            ("http_server_request_duration_seconds".into(), 1.0)
        );
        assert_eq!(
            prometheus_name("http.server.duration", "ms", hist),
            ("http_server_duration_seconds".into(), 1e-3)
        );
        assert_eq!(
            prometheus_name("cart.utilization", "1", MetricKind::Gauge),
            ("cart_utilization".into(), 1.0)
        );
    }

    #[test]
    fn traces_settle_after_a_quiet_period() {
        let mut b = TraceBuffer::default();
        let span = |trace: &str, id: &str| Span {
            trace: trace.into(),
            id: id.into(),
            parent: None,
            service: "cart".into(),
            name: "get".into(),
            start: 0,
            end: 1,
            error: false,
            client: false,
            server: true,
            peer: None,
            db_system: None,
            file: 0,
        };
        b.add(span("t1", "a"), 0);
        b.add(span("t2", "b"), 5_000);
        b.add(span("t1", "c"), 6_000);
        assert!(b.settle(14_999, SETTLE_MS).is_empty());
        assert_eq!(b.settle(15_000, SETTLE_MS).len(), 1); // t2, seen at 5 s
        assert_eq!(b.held(), 2);
        assert_eq!(b.settle(16_000, SETTLE_MS).len(), 2); // t1, last seen at 6 s
        assert_eq!(b.held(), 0);
    }
}

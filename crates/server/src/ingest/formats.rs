//! The JSON intake formats: Datadog's series intake (`POST /api/v2/series`) and Splunk's HTTP
//! Event Collector (`POST /services/collector/event`, metric events).
//!
//! Both are mapped like Prometheus series: tags/fields become labels (`service:cart` →
//! `service="cart"`), metric names have `.` read as `_`. A Datadog `count` point is already an
//! increment; `gauge` and `rate` points, and Splunk values, are samples (counters sent as
//! Splunk metrics go through the same counter handling as Prometheus ones).

use serde::Deserialize;

use super::{Aggregator, classify};

/// Why a JSON body was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not the expected JSON.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Deserialize)]
struct DdPayload {
    series: Vec<DdSeries>,
}

#[derive(Deserialize)]
struct DdSeries {
    metric: String,
    #[serde(default, rename = "type")]
    kind: u8,
    #[serde(default)]
    points: Vec<DdPoint>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    resources: Vec<DdResource>,
}

#[derive(Deserialize)]
struct DdPoint {
    timestamp: i64,
    value: f64,
}

#[derive(Deserialize)]
struct DdResource {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Applies a Datadog `/api/v2/series` body; returns the number of points.
pub fn apply_datadog(agg: &mut Aggregator, body: &[u8]) -> Result<usize, FormatError> {
    let p: DdPayload = serde_json::from_slice(body)?;
    let mut n = 0;
    for s in &p.series {
        let name = s.metric.replace('.', "_");
        let mut labels: Vec<(String, String)> = vec![("__name__".into(), name.clone())];
        for t in &s.tags {
            let (k, v) = t.split_once(':').unwrap_or((t.as_str(), ""));
            labels.push((k.to_string(), v.to_string()));
        }
        for r in &s.resources {
            labels.push((r.kind.clone(), r.name.clone()));
        }
        n += s.points.len();
        // type 1 = count: each point is the increment over its interval.
        if s.kind == 1
            && let Some(kind) = classify(&name).filter(|k| k.is_counter())
        {
            let entity =
                agg.map_entity(|l| labels.iter().find(|(k, _)| k == l).map(|(_, v)| v.as_str()));
            if let Some(e) = entity {
                for pt in &s.points {
                    agg.add_value(&e, kind, pt.timestamp * 1000, pt.value);
                }
            }
            continue;
        }
        let refs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let samples: Vec<(f64, i64)> = s
            .points
            .iter()
            .map(|p| (p.value, p.timestamp * 1000))
            .collect();
        agg.add_series(&refs, &samples);
    }
    Ok(n)
}

/// Applies a Splunk HEC body (one or more JSON event objects, concatenated); returns the number
/// of metric values. Metric events carry `fields` with `metric_name` and `_value`, or several
/// `metric_name:NAME` keys; the other string fields, `host` and `source` are labels. Events
/// without metrics are accepted and ignored. `time` is in seconds (defaults to `now_ms`).
pub fn apply_splunk(agg: &mut Aggregator, body: &[u8], now_ms: i64) -> Result<usize, FormatError> {
    let mut n = 0;
    for ev in serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>() {
        let ev = ev?;
        let t = ev
            .get("time")
            .and_then(|t| {
                t.as_f64()
                    .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(now_ms, |s| (s * 1000.0) as i64);
        let Some(fields) = ev.get("fields").and_then(|f| f.as_object()) else {
            continue;
        };
        let mut labels: Vec<(String, String)> = Vec::new();
        for k in ["host", "source"] {
            if let Some(v) = ev.get(k).and_then(|v| v.as_str()) {
                labels.push((k.to_string(), v.to_string()));
            }
        }
        let mut metrics: Vec<(String, f64)> = Vec::new();
        for (k, v) in fields {
            if let Some(name) = k.strip_prefix("metric_name:") {
                if let Some(x) = v.as_f64() {
                    metrics.push((name.to_string(), x));
                }
            } else if let Some(s) = v.as_str()
                && k != "metric_name"
            {
                labels.push((k.clone(), s.to_string()));
            }
        }
        if let (Some(name), Some(v)) = (
            fields.get("metric_name").and_then(|v| v.as_str()),
            fields.get("_value").and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
        ) {
            metrics.push((name.to_string(), v));
        }
        for (name, v) in metrics {
            n += 1;
            let mut l = labels.clone();
            l.push(("__name__".into(), name.replace('.', "_")));
            let refs: Vec<(&str, &str)> = l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            agg.add_series(&refs, &[(v, t)]);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Entities;

    fn agg() -> Aggregator {
        Aggregator::new(Entities {
            services: ["cart".to_string()].into(),
            hosts: ["web-1".to_string()].into(),
            routers: Default::default(),
        })
    }

    #[test]
    fn datadog_counts_are_increments_and_gauges_samples() {
        // The shape of Datadog's documented example body for POST /api/v2/series.
        let body = br#"{"series":[
          {"metric":"shop.requests_total","type":1,"points":[{"timestamp":1700000000,"value":42},{"timestamp":1700000015,"value":8}],"tags":["service:cart","env:prod"]},
          {"metric":"system.cpu.utilization","type":3,"points":[{"timestamp":1700000000,"value":0.4}],"resources":[{"name":"web-1","type":"host"}]}
        ]}"#;
        let mut a = agg();
        assert_eq!(apply_datadog(&mut a, body).expect("ok"), 3);
        let pts = a.take();
        let got: Vec<(&str, &str, i64, f64)> = pts
            .iter()
            .map(|p| (p.entity.as_str(), p.metric.as_str(), p.bucket_ms, p.sum))
            .collect();
        assert_eq!(
            got,
            vec![
                ("host:web-1", "utilization", 1_700_000_000_000, 0.4),
                ("service:cart", "requests", 1_700_000_000_000, 42.0),
                ("service:cart", "requests", 1_700_000_010_000, 8.0),
            ]
        );
        assert!(apply_datadog(&mut a, b"{\"series\": 3}").is_err());
    }

    #[test]
    fn splunk_metric_events_single_and_multi() {
        let body = br#"{"time": 1700000000.5, "host": "web-1", "event": "metric", "fields": {"metric_name": "cpu.utilization", "_value": 0.3}}
{"time": 1700000001, "event": "metric", "fields": {"service": "cart", "metric_name:latency_ms": 12.5, "metric_name:cart.utilization": 0.6}}
{"time": 1700000002, "event": "a log line"}"#;
        let mut a = agg();
        assert_eq!(apply_splunk(&mut a, body, 0).expect("ok"), 3);
        let pts = a.take();
        let got: Vec<(&str, &str, f64)> = pts
            .iter()
            .map(|p| (p.entity.as_str(), p.metric.as_str(), p.sum))
            .collect();
        assert_eq!(
            got,
            vec![
                ("host:web-1", "utilization", 0.3),
                ("service:cart", "latency_ms", 12.5),
                ("service:cart", "utilization", 0.6),
            ]
        );
    }
}

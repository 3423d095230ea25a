//! OTLP metrics (`ExportMetricsServiceRequest`, as OTLP/HTTP posts them) in protobuf and JSON,
//! read into one plain model for the live twin's receiver: per resource its string attributes,
//! per metric its name, unit and kind, per data point its attributes, time and value. Gauges
//! and sums keep their number; histograms, exponential histograms and summaries keep their
//! count and sum (buckets and quantiles are not needed to compare means). Field numbers are
//! those of `opentelemetry/proto/metrics/v1/metrics.proto` and `common/v1/common.proto`; the
//! JSON form follows the OTLP/JSON rules (lowerCamelCase names, 64-bit integers as numbers
//! or decimal strings, enums as numbers).

use serde_json::Value;

use crate::otlp_wire::{Bad, Field, Reader};

/// The metrics of one resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceMetrics {
    /// Resource attributes (`service.name`, `k8s.deployment.name`, `host.name`...), scalar
    /// values written as strings, in order.
    pub attributes: Vec<(String, String)>,
    /// Its metrics, all scopes together.
    pub metrics: Vec<Metric>,
}

/// One metric and its data points.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Name, e.g. `http.server.request.duration`.
    pub name: String,
    /// Unit (UCUM), e.g. `s`, `ms`, `1`, `{request}`.
    pub unit: String,
    /// What the points mean.
    pub kind: MetricKind,
    /// Data points.
    pub points: Vec<Point>,
}

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A current value.
    Gauge,
    /// A sum: cumulative since a start, or the change over the point's interval (`delta`).
    Sum {
        /// Only ever grows (a counter).
        monotonic: bool,
        /// Delta temporality.
        delta: bool,
    },
    /// A histogram, exponential histogram or summary: a count and a sum of observations.
    Distribution {
        /// Delta temporality (summaries are always cumulative).
        delta: bool,
    },
}

/// One data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Point attributes, scalar values written as strings.
    pub attributes: Vec<(String, String)>,
    /// When, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Gauges and sums: the value; distributions: the sum of observations (0 when absent).
    pub value: f64,
    /// Distributions: the number of observations.
    pub count: Option<f64>,
}

/// An export that could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Not JSON, or JSON without `resourceMetrics`.
    #[error("invalid OTLP JSON metrics at `{pointer}`: {message}")]
    Json {
        /// JSON Pointer of the offending node.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A malformed protobuf message.
    #[error("invalid OTLP protobuf metrics at byte {offset}: {message}")]
    Protobuf {
        /// Byte offset.
        offset: usize,
        /// What is wrong.
        message: &'static str,
    },
}

/// Decodes an OTLP metrics export, protobuf or (when `json`) JSON. Returns the resources and
/// how many data points were rejected (no time, or no value), for a partial-success answer.
pub fn decode(body: &[u8], json: bool) -> Result<(Vec<ResourceMetrics>, usize), MetricsError> {
    if json {
        let doc: Value = serde_json::from_slice(body).map_err(|e| MetricsError::Json {
            pointer: String::new(),
            message: e.to_string(),
        })?;
        from_json(&doc)
    } else {
        from_protobuf(body)
            .map_err(|Bad(offset, message)| MetricsError::Protobuf { offset, message })
    }
}

// ---- protobuf ----

fn f64_of(bits: u64) -> f64 {
    f64::from_bits(bits)
}

/// `(key, value as text)` of a `KeyValue` with a scalar value.
fn key_value(buf: &[u8], base: usize) -> Result<Option<(String, String)>, Bad> {
    let mut r = Reader::new(buf, base);
    let (mut key, mut value) = (String::new(), None);
    while let Some((num, at, f)) = r.next()? {
        match (num, f) {
            (1, Field::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (2, Field::Bytes(any)) => {
                let mut a = Reader::new(any, at);
                while let Some((n, _, f)) = a.next()? {
                    value = match (n, f) {
                        (1, Field::Bytes(s)) => Some(String::from_utf8_lossy(s).into_owned()),
                        (2, Field::Varint(b)) => Some((b != 0).to_string()),
                        (3, Field::Varint(i)) => Some((i as i64).to_string()),
                        (4, Field::Fixed64(d)) => Some(f64_of(d).to_string()),
                        _ => value,
                    };
                }
            }
            _ => {}
        }
    }
    Ok(value.map(|v| (key, v)))
}

fn point(
    buf: &[u8],
    base: usize,
    distribution: bool,
    attrs_field: u64,
) -> Result<Option<Point>, Bad> {
    let mut r = Reader::new(buf, base);
    let mut p = Point {
        attributes: Vec::new(),
        time_ns: 0,
        value: 0.0,
        count: None,
    };
    let mut has_value = false;
    while let Some((num, at, f)) = r.next()? {
        match (num, f) {
            (n, Field::Bytes(kv)) if n == attrs_field => {
                if let Some(kv) = key_value(kv, at)? {
                    p.attributes.push(kv);
                }
            }
            (3, Field::Fixed64(t)) => p.time_ns = t,
            (4, Field::Fixed64(v)) if distribution => p.count = Some(v as f64),
            (5, Field::Fixed64(v)) if distribution => p.value = f64_of(v),
            (4, Field::Fixed64(v)) => {
                p.value = f64_of(v);
                has_value = true;
            }
            (6, Field::Fixed64(v)) if !distribution => {
                p.value = v as i64 as f64;
                has_value = true;
            }
            _ => {}
        }
    }
    let ok = p.time_ns > 0
        && if distribution {
            p.count.is_some()
        } else {
            has_value
        };
    Ok(ok.then_some(p))
}

fn from_protobuf(body: &[u8]) -> Result<(Vec<ResourceMetrics>, usize), Bad> {
    let mut out = Vec::new();
    let mut rejected = 0usize;
    let mut top = Reader::new(body, 0);
    while let Some((num, at, f)) = top.next()? {
        let (1, Field::Bytes(rm)) = (num, f) else {
            continue;
        };
        let mut res = ResourceMetrics::default();
        let mut r = Reader::new(rm, at);
        while let Some((n, at, f)) = r.next()? {
            match (n, f) {
                (1, Field::Bytes(resource)) => {
                    let mut a = Reader::new(resource, at);
                    while let Some((m, at, f)) = a.next()? {
                        if let (1, Field::Bytes(kv)) = (m, f)
                            && let Some(kv) = key_value(kv, at)?
                        {
                            res.attributes.push(kv);
                        }
                    }
                }
                (2 | 1000, Field::Bytes(scope)) => {
                    let mut s = Reader::new(scope, at);
                    while let Some((m, at, f)) = s.next()? {
                        if let (2, Field::Bytes(metric)) = (m, f) {
                            let (metric, bad) = metric_pb(metric, at)?;
                            rejected += bad;
                            res.metrics.extend(metric);
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(res);
    }
    Ok((out, rejected))
}

/// One `Metric`; also the number of its points rejected.
fn metric_pb(buf: &[u8], base: usize) -> Result<(Option<Metric>, usize), Bad> {
    let mut r = Reader::new(buf, base);
    let (mut name, mut unit) = (String::new(), String::new());
    let mut data: Option<(u64, usize, &[u8])> = None;
    while let Some((num, at, f)) = r.next()? {
        match (num, f) {
            (1, Field::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (3, Field::Bytes(b)) => unit = String::from_utf8_lossy(b).into_owned(),
            (5 | 7 | 9 | 10 | 11, Field::Bytes(b)) => data = Some((num, at, b)),
            _ => {}
        }
    }
    let Some((which, at, body)) = data else {
        return Ok((None, 0));
    };
    // Point attributes are field 7 of number and summary points, 9 of histogram points and
    // 1 of exponential histogram points.
    let (distribution, attrs_field) = match which {
        5 | 7 => (false, 7),
        9 => (true, 9),
        10 => (true, 1),
        _ => (true, 7),
    };
    let (mut temporality, mut monotonic) = (0u64, false);
    let mut points = Vec::new();
    let mut rejected = 0usize;
    let mut d = Reader::new(body, at);
    while let Some((n, at, f)) = d.next()? {
        match (n, f) {
            (1, Field::Bytes(p)) => match point(p, at, distribution, attrs_field)? {
                Some(p) => points.push(p),
                None => rejected += 1,
            },
            (2, Field::Varint(t)) if which != 11 => temporality = t,
            (3, Field::Varint(m)) if which == 7 => monotonic = m != 0,
            _ => {}
        }
    }
    let kind = match which {
        5 => MetricKind::Gauge,
        7 => MetricKind::Sum {
            monotonic,
            delta: temporality == 1,
        },
        _ => MetricKind::Distribution {
            delta: temporality == 1,
        },
    };
    Ok((
        Some(Metric {
            name,
            unit,
            kind,
            points,
        }),
        rejected,
    ))
}

// ---- JSON ----

fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn json_attrs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let key = a.get("key")?.as_str()?.to_owned();
            let val = a.get("value")?;
            let text = if let Some(s) = val.get("stringValue").and_then(Value::as_str) {
                s.to_owned()
            } else if let Some(b) = val.get("boolValue").and_then(Value::as_bool) {
                b.to_string()
            } else if let Some(i) = val.get("intValue") {
                match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            } else {
                num(val.get("doubleValue"))?.to_string()
            };
            Some((key, text))
        })
        .collect()
}

fn from_json(doc: &Value) -> Result<(Vec<ResourceMetrics>, usize), MetricsError> {
    let bad = |pointer: &str, message: &str| MetricsError::Json {
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    };
    let rms = doc
        .get("resourceMetrics")
        .ok_or_else(|| bad("", "not OTLP JSON metrics: no `resourceMetrics`"))?
        .as_array()
        .ok_or_else(|| bad("/resourceMetrics", "`resourceMetrics` is not a list"))?;
    let mut out = Vec::new();
    let mut rejected = 0usize;
    for rm in rms {
        let mut res = ResourceMetrics {
            attributes: json_attrs(rm.pointer("/resource/attributes")),
            metrics: Vec::new(),
        };
        let scopes = rm
            .get("scopeMetrics")
            .or_else(|| rm.get("instrumentationLibraryMetrics"))
            .and_then(Value::as_array);
        for scope in scopes.into_iter().flatten() {
            for m in scope
                .get("metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let unit = m
                    .get("unit")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let temporality = |d: &Value| num(d.get("aggregationTemporality")) == Some(1.0);
                let (kind, data, distribution) = if let Some(d) = m.get("gauge") {
                    (MetricKind::Gauge, d, false)
                } else if let Some(d) = m.get("sum") {
                    let monotonic = d.get("isMonotonic").and_then(Value::as_bool) == Some(true);
                    (
                        MetricKind::Sum {
                            monotonic,
                            delta: temporality(d),
                        },
                        d,
                        false,
                    )
                } else if let Some(d) = m
                    .get("histogram")
                    .or_else(|| m.get("exponentialHistogram"))
                    .or_else(|| m.get("summary"))
                {
                    (
                        MetricKind::Distribution {
                            delta: temporality(d),
                        },
                        d,
                        true,
                    )
                } else {
                    continue;
                };
                let mut points = Vec::new();
                for p in data
                    .get("dataPoints")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let time = crate::traces::u64_field(p.get("timeUnixNano")).filter(|t| *t > 0);
                    let (value, count) = if distribution {
                        (Some(num(p.get("sum")).unwrap_or(0.0)), num(p.get("count")))
                    } else {
                        (num(p.get("asDouble")).or_else(|| num(p.get("asInt"))), None)
                    };
                    match (time, value) {
                        (Some(t), Some(v)) if !distribution || count.is_some() => {
                            points.push(Point {
                                attributes: json_attrs(p.get("attributes")),
                                time_ns: t,
                                value: v,
                                count,
                            });
                        }
                        _ => rejected += 1,
                    }
                }
                res.metrics.push(Metric {
                    name,
                    unit,
                    kind,
                    points,
                });
            }
        }
        out.push(res);
    }
    Ok((out, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protobuf encoding helpers (independent of the decoder).
    fn key(n: u64, wire: u64) -> Vec<u8> {
        varint(n << 3 | wire)
    }
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
    fn bytes(n: u64, b: &[u8]) -> Vec<u8> {
        let mut out = key(n, 2);
        out.extend(varint(b.len() as u64));
        out.extend_from_slice(b);
        out
    }
    fn fixed(n: u64, v: u64) -> Vec<u8> {
        let mut out = key(n, 1);
        out.extend(v.to_le_bytes());
        out
    }
    fn kv(k: &str, v: &str) -> Vec<u8> {
        let mut b = bytes(1, k.as_bytes());
        b.extend(bytes(2, &bytes(1, v.as_bytes())));
        b
    }

    #[test]
    fn protobuf_and_json_give_the_same_model() {
        // A cumulative monotonic sum (int), a gauge (double) and a histogram.
        let mut sum_point = bytes(7, &kv("http.route", "/cart"));
        sum_point.extend(fixed(3, 2_000_000_000));
        sum_point.extend(fixed(6, 42));
        let mut sum = bytes(1, &sum_point);
        sum.extend(key(2, 0));
        sum.extend(varint(2));
        sum.extend(key(3, 0));
        sum.extend(varint(1));
        let mut m1 = bytes(1, b"http.server.requests");
        m1.extend(bytes(7, &sum));
        let mut gauge_point = fixed(3, 2_000_000_000);
        gauge_point.extend(fixed(4, 0.25f64.to_bits()));
        let mut m2 = bytes(1, b"cpu.utilization");
        m2.extend(bytes(3, b"1"));
        m2.extend(bytes(5, &bytes(1, &gauge_point)));
        let mut h_point = fixed(3, 2_000_000_000);
        h_point.extend(fixed(4, 10));
        h_point.extend(fixed(5, 1.5f64.to_bits()));
        let mut hist = bytes(1, &h_point);
        // A point without a time: rejected.
        hist.extend(bytes(1, &fixed(4, 3)));
        hist.extend(key(2, 0));
        hist.extend(varint(1));
        let mut m3 = bytes(1, b"http.server.request.duration");
        m3.extend(bytes(3, b"s"));
        m3.extend(bytes(9, &hist));
        let mut scope = bytes(2, &m1);
        scope.extend(bytes(2, &m2));
        scope.extend(bytes(2, &m3));
        let mut rm = bytes(1, &bytes(1, &kv("service.name", "cart")));
        rm.extend(bytes(2, &scope));
        let body = bytes(1, &rm);
        let (pb, pb_rejected) = decode(&body, false).unwrap();

        let json = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
          "scopeMetrics":[{"metrics":[
            {"name":"http.server.requests","sum":{"aggregationTemporality":2,"isMonotonic":true,
              "dataPoints":[{"attributes":[{"key":"http.route","value":{"stringValue":"/cart"}}],"timeUnixNano":"2000000000","asInt":"42"}]}},
            {"name":"cpu.utilization","unit":"1","gauge":{"dataPoints":[{"timeUnixNano":2000000000,"asDouble":0.25}]}},
            {"name":"http.server.request.duration","unit":"s","histogram":{"aggregationTemporality":1,
              "dataPoints":[{"timeUnixNano":"2000000000","count":"10","sum":1.5},{"count":"3"}]}}
          ]}]}]}"#;
        let (js, js_rejected) = decode(json, true).unwrap();
        assert_eq!(pb, js);
        assert_eq!((pb_rejected, js_rejected), (1, 1));
        let r = &pb[0];
        assert_eq!(r.attributes, vec![("service.name".into(), "cart".into())]);
        assert_eq!(
            r.metrics[0].kind,
            MetricKind::Sum {
                monotonic: true,
                delta: false
            }
        );
        assert_eq!(r.metrics[0].points[0].value, 42.0);
        assert_eq!(r.metrics[1].points[0].value, 0.25);
        assert_eq!(r.metrics[2].kind, MetricKind::Distribution { delta: true });
        assert_eq!(
            (r.metrics[2].points[0].count, r.metrics[2].points[0].value),
            (Some(10.0), 1.5)
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(matches!(
            decode(&[0x0a, 0x05, 0x01], false),
            Err(MetricsError::Protobuf { .. })
        ));
        assert!(matches!(
            decode(b"{}", true),
            Err(MetricsError::Json { .. })
        ));
        assert!(matches!(
            decode(b"nope", true),
            Err(MetricsError::Json { .. })
        ));
    }
}

//! JSON access logs, one object per line (nginx `escape=json` log formats, Caddy, Envoy,
//! load balancers, application loggers), read through a [`JsonMapping`] that says which field
//! holds what. Field names may be nested with dots (`request.method`) or be JSON Pointers
//! (`/request/method`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ncsa::{clip, request_line, split_target};
use super::{LineError, Record, time};

/// Which JSON field holds each part of a request. Every part has a list of candidate fields,
/// tried in order; the defaults cover nginx's variable names, Caddy's and common logger
/// conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonMapping {
    /// The time: RFC 3339 text, NCSA text, or a Unix epoch in seconds or milliseconds.
    pub time: Vec<String>,
    /// The client address.
    pub ip: Vec<String>,
    /// The HTTP method.
    pub method: Vec<String>,
    /// The path (with or without the query string), or a full URL.
    pub path: Vec<String>,
    /// The whole request line (`GET /x HTTP/1.1`), used when method or path is missing.
    pub request: Vec<String>,
    /// The response status.
    pub status: Vec<String>,
    /// Response bytes.
    pub bytes: Vec<String>,
    /// The user agent.
    pub user_agent: Vec<String>,
    /// The referer.
    pub referer: Vec<String>,
    /// A stable client or session identifier (a cookie, a user id) that beats IP + user agent.
    pub client_id: Vec<String>,
    /// The request's duration.
    pub latency: Vec<String>,
    /// Unit of `latency` numbers: `s` (nginx `request_time`) or `ms`.
    pub latency_unit: LatencyUnit,
    /// Extra attributes to keep (cohort attributes such as `region` or `plan`): name → field.
    pub attributes: BTreeMap<String, String>,
}

/// The unit of latency numbers in a JSON log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatencyUnit {
    /// Seconds.
    #[default]
    S,
    /// Milliseconds.
    Ms,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for JsonMapping {
    fn default() -> Self {
        JsonMapping {
            time: names(&[
                "time",
                "timestamp",
                "time_iso8601",
                "@timestamp",
                "ts",
                "msec",
                "time_local",
            ]),
            ip: names(&[
                "remote_addr",
                "client_ip",
                "ip",
                "request.remote_ip",
                "request.client_ip",
                "remote_ip",
                "client",
            ]),
            method: names(&["method", "request_method", "request.method", "http.method"]),
            path: names(&[
                "path",
                "uri",
                "request_uri",
                "request.uri",
                "url",
                "http.target",
                "http.url",
            ]),
            request: names(&["request"]),
            status: names(&[
                "status",
                "status_code",
                "response.status",
                "http.status_code",
            ]),
            bytes: names(&[
                "body_bytes_sent",
                "bytes",
                "size",
                "bytes_sent",
                "response.size",
            ]),
            user_agent: names(&[
                "http_user_agent",
                "user_agent",
                "ua",
                "request.headers.User-Agent",
                "userAgent",
            ]),
            referer: names(&["http_referer", "referer", "referrer"]),
            client_id: names(&["client_id", "session_id", "user_id", "visitor_id"]),
            latency: names(&["request_time", "duration", "latency", "response_time"]),
            latency_unit: LatencyUnit::S,
            attributes: BTreeMap::new(),
        }
    }
}

/// The value at a dotted name or JSON Pointer. A dotted name is first tried as a plain key
/// (`"http.method"` may be one flat key).
fn lookup<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    if name.starts_with('/') {
        return obj.pointer(name);
    }
    if let Some(v) = obj.get(name) {
        return Some(v);
    }
    let mut cur = obj;
    for part in name.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

fn first<'v>(obj: &'v Value, names: &'v [String]) -> Option<(&'v str, &'v Value)> {
    names.iter().find_map(|n| {
        lookup(obj, n)
            .filter(|v| !v.is_null())
            .map(|v| (n.as_str(), v))
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // Caddy logs header values as arrays of strings.
        Value::Array(items) => items.first().and_then(text),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses one JSON line with `mapping`.
pub(super) fn parse(line: &str, mapping: &JsonMapping) -> Result<Record, LineError> {
    let obj: Value = serde_json::from_str(line).map_err(|e| {
        LineError::new(
            u32::try_from(e.column()).unwrap_or(1).max(1),
            "json",
            format!("not a JSON object: {e}"),
        )
    })?;
    if !obj.is_object() {
        return Err(LineError::new(1, "json", "not a JSON object"));
    }
    let (tname, tval) = first(&obj, &mapping.time).ok_or_else(|| {
        LineError::new(
            1,
            "time",
            format!("no time field (looked for {})", mapping.time.join(", ")),
        )
    })?;
    let stamp = match tval {
        Value::Number(n) => n.as_f64().and_then(time::from_epoch),
        Value::String(s) => time::parse_any(s),
        _ => None,
    }
    .ok_or_else(|| {
        LineError::new(
            1,
            tname,
            format!("`{}` is not a time", clip(&tval.to_string())),
        )
    })?;

    let method = first(&obj, &mapping.method).and_then(|(_, v)| text(v));
    let target = first(&obj, &mapping.path).and_then(|(_, v)| text(v));
    let (method, path, query) = match (method, target) {
        (Some(m), Some(t)) => {
            let (p, q) = split_target(&t);
            (m.to_ascii_uppercase(), p, q)
        }
        _ => {
            let (rname, req) = first(&obj, &mapping.request).ok_or_else(|| {
                LineError::new(
                    1,
                    "request",
                    format!(
                        "no method and path (looked for {} and {}, or {})",
                        mapping.method.join(", "),
                        mapping.path.join(", "),
                        mapping.request.join(", ")
                    ),
                )
            })?;
            let req = text(req).unwrap_or_default();
            request_line(&req, 1).map_err(|mut e| {
                e.field = rname.to_owned();
                e
            })?
        }
    };
    if !path.starts_with('/') && path != "*" {
        return Err(LineError::new(
            1,
            "path",
            format!("`{}` is not a path", clip(&path)),
        ));
    }
    let (sname, sval) = first(&obj, &mapping.status).ok_or_else(|| {
        LineError::new(
            1,
            "status",
            format!("no status field (looked for {})", mapping.status.join(", ")),
        )
    })?;
    let status = number(sval)
        .filter(|s| (100.0..=999.0).contains(s) && s.fract() == 0.0)
        .map(|s| s as u16)
        .ok_or_else(|| {
            LineError::new(
                1,
                sname,
                format!(
                    "status `{}` is not an HTTP status code",
                    clip(&sval.to_string())
                ),
            )
        })?;
    let bytes = first(&obj, &mapping.bytes)
        .and_then(|(_, v)| number(v))
        .filter(|b| *b >= 0.0)
        .map_or(0, |b| b as u64);
    let latency_s = first(&obj, &mapping.latency)
        .and_then(|(_, v)| number(v))
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| match mapping.latency_unit {
            LatencyUnit::S => x,
            LatencyUnit::Ms => x / 1000.0,
        });
    let mut attributes = BTreeMap::new();
    for (name, field) in &mapping.attributes {
        if let Some(v) = lookup(&obj, field).and_then(text) {
            attributes.insert(name.clone(), v);
        }
    }
    Ok(Record {
        time: stamp.unix,
        utc_offset_s: stamp.offset_s,
        ip: first(&obj, &mapping.ip)
            .and_then(|(_, v)| text(v))
            .unwrap_or_default(),
        user: None,
        method,
        path,
        query,
        status,
        bytes,
        referer: first(&obj, &mapping.referer)
            .and_then(|(_, v)| text(v))
            .filter(|r| r != "-" && !r.is_empty()),
        user_agent: first(&obj, &mapping.user_agent)
            .and_then(|(_, v)| text(v))
            .unwrap_or_default(),
        latency_s,
        client_id: first(&obj, &mapping.client_id)
            .and_then(|(_, v)| text(v))
            .filter(|c| !c.is_empty() && c != "-"),
        attributes,
        bot: false,
        line: 0,
    })
}

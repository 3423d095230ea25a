//! The OpenAPI 3.1 document, generated from the route table (so it cannot miss a route), and
//! the Prometheus exposition of Doppel's own health and drift served on `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use crate::App;
use crate::http::{Access, ROUTES};

fn op_id(method: &str, path: &str) -> String {
    let mut s = method.to_string();
    for part in path
        .split(['/', '.', '{', '}', '-'])
        .filter(|p| !p.is_empty())
    {
        s.push('_');
        s.push_str(part);
    }
    s
}

/// The OpenAPI document of the API.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut op = json!({
            "operationId": op_id(r.method, r.path),
            "summary": r.summary,
            "responses": {
                "200": {"description": "Success (JSON unless stated)."},
                "400": {"description": "Bad input."},
                "401": {"description": "No valid bearer token."},
                "403": {"description": "The token's role is too low."},
                "413": {"description": "Body over the size limit."},
                "429": {"description": "Too many failed authentications from this address."},
            },
        });
        match r.access {
            Access::Public => {
                op["security"] = json!([]);
            }
            Access::Role(role) => {
                op["x-doppel-role"] = json!(role.as_str());
            }
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "integer"}})
            })
            .collect();
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        if matches!(r.method, "post" | "put") {
            let content = match r.path {
                "/api/v1/write" => json!({"application/x-protobuf": {}}),
                "/v1/traces" | "/v1/metrics" => {
                    json!({"application/x-protobuf": {}, "application/json": {}})
                }
                "/api/twin" => json!({"application/yaml": {}, "application/json": {}}),
                _ => json!({"application/json": {}}),
            };
            op["requestBody"] = json!({"content": content});
        }
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Doppel live twin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The twin, its versions, scenario runs, live telemetry intake, drift \
                            and self-calibration. Every route but /healthz and this document \
                            needs `Authorization: Bearer <token>`; `x-doppel-role` is the least \
                            role (viewer < operator < admin).",
        },
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    })
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition of the service's counters and the last drift evaluation.
pub fn exposition(app: &App) -> String {
    let mut o = String::new();
    let c = &app.counters;
    let stats = app.ingest_stats();
    let cur = app.current();
    let st = app.drift_state();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    counter(
        "doppel_http_requests_total",
        "HTTP requests served.",
        c.http_requests.load(Ordering::Relaxed),
    );
    counter(
        "doppel_auth_failures_total",
        "Requests with an unknown or revoked token.",
        c.auth_failures.load(Ordering::Relaxed),
    );
    counter(
        "doppel_ingest_requests_total",
        "Intake requests acknowledged.",
        c.ingest_requests.load(Ordering::Relaxed),
    );
    counter(
        "doppel_ingest_samples_total",
        "Samples received.",
        stats.samples,
    );
    counter(
        "doppel_ingest_samples_mapped_total",
        "Samples mapped onto twin entities.",
        stats.mapped,
    );
    counter(
        "doppel_checkpoints_total",
        "Write-ahead log checkpoints.",
        c.checkpoints.load(Ordering::Relaxed),
    );
    counter(
        "doppel_recalibrations_total",
        "Recalibrations since start.",
        st.recalibrations,
    );
    let _ = writeln!(
        o,
        "# HELP doppel_runs_active Simulations running now.\n# TYPE doppel_runs_active gauge\ndoppel_runs_active {}",
        app.runs_active()
    );
    let _ = writeln!(
        o,
        "# HELP doppel_trace_spans_held Spans waiting for their traces to settle.\n# TYPE doppel_trace_spans_held gauge\ndoppel_trace_spans_held {}",
        app.trace_spans_held()
    );
    let _ = writeln!(
        o,
        "# HELP doppel_twin_version The twin version in force.\n# TYPE doppel_twin_version gauge\ndoppel_twin_version {}",
        cur.version
    );
    type Field = fn(&doppel_store::DriftRecord) -> f64;
    let gauges: [(&str, &str, Field); 5] = [
        (
            "doppel_drift_mape_percent",
            "Prediction error (MAPE over the window), percent.",
            |r| r.mape,
        ),
        (
            "doppel_predicted_utilization",
            "Predicted utilization at the observed rate.",
            |r| r.predicted_utilization,
        ),
        (
            "doppel_observed_utilization",
            "Observed utilization.",
            |r| r.observed_utilization,
        ),
        (
            "doppel_predicted_latency_ms",
            "Predicted mean latency, ms.",
            |r| r.predicted_latency_ms,
        ),
        (
            "doppel_observed_latency_ms",
            "Observed mean latency, ms.",
            |r| r.observed_latency_ms,
        ),
    ];
    for (name, help, f) in gauges {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
        for d in &st.services {
            let _ = writeln!(
                o,
                "{name}{{service=\"{}\"}} {}",
                esc(&d.record.service),
                f(&d.record)
            );
        }
    }
    o
}

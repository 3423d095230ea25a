//! Jaeger JSON traces: `{"data": [trace...]}` as the query API and UI export them, or one
//! trace object; times in microseconds, services through `processes`, parents through
//! `references` (the first `CHILD_OF` in the same trace, else the first reference in it).

use serde_json::Value;

use super::{Span, u64_field};
use crate::text::{JsonFile, str_at};
use crate::{Diagnostic, Severity};

fn tag<'v>(tags: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    tags?
        .as_array()?
        .iter()
        .find(|t| str_at(t, "key") == Some(key))?
        .get("value")
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "ERROR",
        _ => false,
    }
}

pub(super) fn spans(file: &JsonFile<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let mut out = Vec::new();
    let traces: Vec<(String, &Value)> = match (&file.value.get("data"), file.value.get("spans")) {
        (Some(Value::Array(data)), _) => data
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("/data/{i}"), t))
            .collect(),
        (Some(_), _) => {
            diags.push(file.diag(Severity::Error, "/data", "`data` is not a list of traces"));
            return out;
        }
        (None, Some(_)) => vec![(String::new(), &file.value)],
        (None, None) => {
            diags.push(file.diag(
                Severity::Error,
                "",
                "not Jaeger JSON: neither `data` (a list of traces) nor `spans` (one trace)",
            ));
            return out;
        }
    };
    for (at, trace) in traces {
        let Some(spans) = trace.get("spans").and_then(Value::as_array) else {
            diags.push(file.diag(Severity::Error, &at, "trace without a `spans` list"));
            continue;
        };
        let processes = trace.get("processes");
        let mut seen = std::collections::HashSet::new();
        for (i, span) in spans.iter().enumerate() {
            let here = format!("{at}/spans/{i}");
            let (Some(trace_id), Some(id)) = (str_at(span, "traceID"), str_at(span, "spanID"))
            else {
                diags.push(file.diag(
                    Severity::Warning,
                    &here,
                    "span without traceID or spanID; skipped",
                ));
                continue;
            };
            if !seen.insert(id.to_owned()) {
                diags.push(file.diag(
                    Severity::Warning,
                    &format!("{here}/spanID"),
                    format!(
                        "span id {} appears twice in the trace; the later span is skipped",
                        crate::text::name(id)
                    ),
                ));
                continue;
            }
            let (Some(start_us), Some(dur_us)) = (
                u64_field(span.get("startTime")),
                u64_field(span.get("duration")),
            ) else {
                diags.push(file.diag(
                    Severity::Warning,
                    &here,
                    "span without startTime or duration; skipped",
                ));
                continue;
            };
            let refs: Vec<&Value> = span
                .get("references")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter(|x| str_at(x, "traceID") == Some(trace_id))
                        .collect()
                })
                .unwrap_or_default();
            let parent = refs
                .iter()
                .find(|r| str_at(r, "refType") == Some("CHILD_OF"))
                .or_else(|| refs.first())
                .and_then(|r| str_at(r, "spanID"))
                .map(str::to_owned)
                .or_else(|| {
                    str_at(span, "parentSpanID")
                        .filter(|p| !p.is_empty() && *p != "0")
                        .map(str::to_owned)
                });
            let service = str_at(span, "processID")
                .and_then(|p| processes?.get(p))
                .or_else(|| span.get("process"))
                .and_then(|p| str_at(p, "serviceName"))
                .unwrap_or("unknown_service")
                .to_owned();
            let tags = span.get("tags");
            let kind = tag(tags, "span.kind").and_then(Value::as_str).unwrap_or("");
            let status = tag(tags, "http.status_code")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
            out.push(Span {
                trace: trace_id.to_ascii_lowercase(),
                id: id.to_ascii_lowercase(),
                parent: parent.map(|p| p.to_ascii_lowercase()),
                service,
                name: str_at(span, "operationName")
                    .unwrap_or("unnamed")
                    .to_owned(),
                start: start_us.saturating_mul(1000),
                end: start_us.saturating_add(dur_us).saturating_mul(1000),
                error: truthy(tag(tags, "error"))
                    || tag(tags, "otel.status_code").and_then(Value::as_str) == Some("ERROR")
                    || status.is_some_and(|s| s >= 500),
                client: matches!(kind, "client" | "producer"),
                server: matches!(kind, "server" | "consumer"),
                peer: tag(tags, "peer.service")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                db_system: tag(tags, "db.system")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                file: 0,
            });
        }
    }
    out
}

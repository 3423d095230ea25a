//! OTLP/HTTP JSON traces: `resourceSpans[].scopeSpans[].spans[]` (also the older
//! `instrumentationLibrarySpans`), ids as hex strings, times as decimal strings of nanoseconds,
//! enums as numbers or names.

use serde_json::Value;

use super::{ResourceSpans, Span, u64_field};
use crate::text::{JsonFile, str_at};
use crate::{Diagnostic, Severity};

/// The string value of an OTLP attribute list entry with `key`.
fn attr<'v>(attrs: Option<&'v Value>, key: &str) -> Option<&'v str> {
    attrs?
        .as_array()?
        .iter()
        .find(|a| str_at(a, "key") == Some(key))?
        .pointer("/value/stringValue")?
        .as_str()
}

fn is_error(span: &Value) -> bool {
    match span.pointer("/status/code") {
        Some(Value::Number(n)) => n.as_u64() == Some(2),
        Some(Value::String(s)) => s == "STATUS_CODE_ERROR" || s == "2",
        _ => false,
    }
}

fn is_client(span: &Value) -> bool {
    match span.get("kind") {
        // CLIENT = 3, PRODUCER = 4.
        Some(Value::Number(n)) => matches!(n.as_u64(), Some(3 | 4)),
        Some(Value::String(s)) => matches!(s.as_str(), "SPAN_KIND_CLIENT" | "SPAN_KIND_PRODUCER"),
        _ => false,
    }
}

fn is_server(span: &Value) -> bool {
    match span.get("kind") {
        // SERVER = 2, CONSUMER = 5.
        Some(Value::Number(n)) => matches!(n.as_u64(), Some(2 | 5)),
        Some(Value::String(s)) => matches!(s.as_str(), "SPAN_KIND_SERVER" | "SPAN_KIND_CONSUMER"),
        _ => false,
    }
}

/// The string-valued attributes of a resource, in order.
fn string_attrs(attrs: Option<&Value>) -> Vec<(String, String)> {
    attrs
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let k = str_at(a, "key")?;
            let v = a.pointer("/value/stringValue")?.as_str()?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Reads `resourceSpans` of an OTLP JSON document; `warn(pointer, message)` hears about
/// skipped spans. An error names the pointer and the problem.
pub(super) fn resources(
    doc: &Value,
    warn: &mut dyn FnMut(&str, &str),
) -> Result<Vec<ResourceSpans>, (String, &'static str)> {
    let Some(resources) = doc.get("resourceSpans") else {
        return Err((String::new(), "not OTLP JSON traces: no `resourceSpans`"));
    };
    let Some(resources) = resources.as_array() else {
        return Err(("/resourceSpans".into(), "`resourceSpans` is not a list"));
    };
    let mut out = Vec::new();
    for (r, res) in resources.iter().enumerate() {
        let attributes = string_attrs(res.pointer("/resource/attributes"));
        let service = attributes
            .iter()
            .find(|(k, _)| k == "service.name")
            .map_or("unknown_service", |(_, v)| v.as_str())
            .to_owned();
        let mut spans = Vec::new();
        let scopes = res
            .get("scopeSpans")
            .or_else(|| res.get("instrumentationLibrarySpans"))
            .and_then(Value::as_array);
        for (s, scope) in scopes.into_iter().flatten().enumerate() {
            for (i, span) in scope
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = format!("/resourceSpans/{r}/scopeSpans/{s}/spans/{i}");
                let (Some(trace), Some(id)) = (str_at(span, "traceId"), str_at(span, "spanId"))
                else {
                    warn(&at, "span without traceId or spanId; skipped");
                    continue;
                };
                let (Some(start), Some(end)) = (
                    u64_field(span.get("startTimeUnixNano")),
                    u64_field(span.get("endTimeUnixNano")),
                ) else {
                    warn(&at, "span without start or end time; skipped");
                    continue;
                };
                if end < start {
                    warn(&at, "span ends before it starts; skipped");
                    continue;
                }
                let attrs = span.get("attributes");
                spans.push(Span {
                    trace: trace.to_ascii_lowercase(),
                    id: id.to_ascii_lowercase(),
                    parent: str_at(span, "parentSpanId")
                        .filter(|p| !p.is_empty() && p.chars().any(|c| c != '0'))
                        .map(str::to_ascii_lowercase),
                    service: service.clone(),
                    name: str_at(span, "name").unwrap_or("unnamed").to_owned(),
                    start,
                    end,
                    error: is_error(span),
                    client: is_client(span),
                    server: is_server(span),
                    peer: attr(attrs, "peer.service").map(str::to_owned),
                    db_system: attr(attrs, "db.system").map(str::to_owned),
                    file: 0,
                });
            }
        }
        out.push(ResourceSpans { attributes, spans });
    }
    Ok(out)
}

pub(super) fn spans(file: &JsonFile<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let mut warnings = Vec::new();
    let got = resources(&file.value, &mut |at, msg| {
        warnings.push((at.to_owned(), msg.to_owned()));
    });
    for (at, msg) in warnings {
        diags.push(file.diag(Severity::Warning, &at, msg));
    }
    match got {
        Ok(rs) => rs.into_iter().flat_map(|r| r.spans).collect(),
        Err((at, msg)) => {
            diags.push(file.diag(Severity::Error, &at, msg));
            Vec::new()
        }
    }
}

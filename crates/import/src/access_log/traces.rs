//! Page requests from traces whose spans carry user and session attributes: OTLP JSON (one
//! `ExportTraceServiceRequest` document, or JSON lines of them as the OpenTelemetry
//! Collector's `file` exporter writes) and Jaeger JSON (`{"data": [trace...]}` or one trace).
//!
//! Every *entry span* (no parent, or a parent not among the spans of its document) that names
//! an HTTP route or path becomes one [`Record`], the same records an access log gives, so the
//! learner sessionizes and learns cohorts from traces exactly as from logs. Fields are looked
//! up on the span first, then on its resource (Jaeger: its process), through a
//! [`TraceMapping`] whose defaults follow the OpenTelemetry semantic conventions (current
//! names first, then the older ones still in the wild):
//!
//! | record        | attributes tried                                                   |
//! |---------------|--------------------------------------------------------------------|
//! | session key   | `session.id`                                                       |
//! | user          | `enduser.id`                                                       |
//! | path          | `http.route` (the server's own template), `url.path`, `http.target`, `url.full`, `http.url` |
//! | method        | `http.request.method`, `http.method`                               |
//! | status        | `http.response.status_code`, `http.status_code`                    |
//! | client        | `client.address`, `http.client_ip`, `net.sock.peer.addr`, `net.peer.ip` |
//! | user agent    | `user_agent.original`, `http.user_agent`                           |
//!
//! Route parameters written `:id` or `<id>` become `{id}`. A JSON-lines file is read one line
//! at a time (memory bounded by the longest line); a single document is read whole (at most
//! [`MAX_INPUT_BYTES`]). Anything unreadable yields a [`Diagnostic`] naming the file, line,
//! column and JSON Pointer of the field; nothing here panics on input.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, Read};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Record, ua};
use crate::diag::{Diagnostic, Severity};
use crate::text::{self, str_at};
use crate::traces::u64_field;
use crate::{Input, MAX_INPUT_BYTES};

/// Which span (or resource) attribute holds each part of a page request; each part has a list
/// of candidate attribute names, tried in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceMapping {
    /// A session identifier (the learner still splits a session after the inactivity gap).
    pub session_id: Vec<String>,
    /// The authenticated user.
    pub user_id: Vec<String>,
    /// The route template or path (a full URL is cut to its path).
    pub path: Vec<String>,
    /// The HTTP method.
    pub method: Vec<String>,
    /// The response status code.
    pub status: Vec<String>,
    /// The client address.
    pub client_address: Vec<String>,
    /// The user agent.
    pub user_agent: Vec<String>,
    /// Extra attributes to keep for cohorts: name (`region`, `plan`) → attribute key
    /// (`geo.region`, `app.plan`).
    pub attributes: BTreeMap<String, String>,
    /// Only entry spans of these services are pages (empty: any service).
    pub services: Vec<String>,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for TraceMapping {
    fn default() -> Self {
        TraceMapping {
            session_id: names(&["session.id"]),
            user_id: names(&["enduser.id"]),
            path: names(&[
                "http.route",
                "url.path",
                "http.target",
                "url.full",
                "http.url",
            ]),
            method: names(&["http.request.method", "http.method"]),
            status: names(&["http.response.status_code", "http.status_code"]),
            client_address: names(&[
                "client.address",
                "http.client_ip",
                "net.sock.peer.addr",
                "net.peer.ip",
            ]),
            user_agent: names(&["user_agent.original", "http.user_agent"]),
            attributes: BTreeMap::new(),
            services: Vec::new(),
        }
    }
}

/// What a trace reader has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceStats {
    /// Lines read.
    pub lines: u64,
    /// JSON documents decoded.
    pub documents: u64,
    /// Spans read.
    pub spans: u64,
    /// Entry spans turned into records.
    pub records: u64,
    /// Documents or spans that could not be used (each yielded a diagnostic).
    pub malformed: u64,
    /// Records flagged as bots.
    pub bots: u64,
    /// Bytes consumed from the input.
    pub bytes: u64,
}

/// One attribute value as text (strings, integers, doubles and booleans of OTLP `AnyValue`
/// or Jaeger tags).
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => ["stringValue", "intValue", "doubleValue", "boolValue"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(value_text),
        _ => None,
    }
}

/// A span's attributes as (key → (text, JSON Pointer of the value)).
type Attrs = BTreeMap<String, (String, String)>;

fn attr_list(list: Option<&Value>, at: &str, out: &mut Attrs) {
    for (i, a) in list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(k), Some(v)) = (str_at(a, "key"), a.get("value").and_then(value_text)) else {
            continue;
        };
        out.entry(k.to_owned())
            .or_insert((v, format!("{at}/{i}/value")));
    }
}

/// One entry span, read from either format, before it becomes a record.
struct Entry {
    /// Pointer of its attribute list (`attributes`, Jaeger `tags`).
    attrs_at: String,
    service: String,
    start_ns: u64,
    end_ns: u64,
    attrs: Attrs,
}

/// Turns a route into a template: `:id` and `<id>` segments become `{id}`.
fn template(route: &str) -> String {
    let segs: Vec<String> = route
        .split('/')
        .map(|s| {
            if let Some(name) = s.strip_prefix(':').filter(|n| !n.is_empty()) {
                format!("{{{name}}}")
            } else if let Some(name) = s
                .strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .filter(|n| !n.is_empty())
            {
                // Flask writes `<int:id>`.
                let name = name.rsplit(':').next().unwrap_or(name);
                format!("{{{name}}}")
            } else {
                s.to_owned()
            }
        })
        .collect();
    segs.join("/")
}

/// The first of `keys` among the attributes: (key, value, pointer).
fn first<'a>(attrs: &'a Attrs, keys: &'a [String]) -> Option<(&'a str, &'a str, &'a str)> {
    keys.iter().find_map(|k| {
        attrs
            .get(k)
            .map(|(v, p)| (k.as_str(), v.as_str(), p.as_str()))
    })
}

/// An entry span as a record, or why not: (pointer, message).
fn record(e: &Entry, mapping: &TraceMapping) -> Result<Record, (String, String)> {
    let Some((key, raw, _)) = first(&e.attrs, &mapping.path) else {
        return Err((
            e.attrs_at.clone(),
            format!(
                "entry span of `{}` has none of the attributes {} naming its route or path; skipped",
                e.service,
                mapping.path.join(", ")
            ),
        ));
    };
    let (path, query) = if key == "http.route" || raw.contains('{') {
        (template(raw), None)
    } else {
        super::ncsa::split_target(raw)
    };
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let method = match first(&e.attrs, &mapping.method) {
        Some((_, m, p)) => {
            let m = m.trim().to_ascii_uppercase();
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
                return Err((
                    p.to_owned(),
                    format!("invalid HTTP method `{}`", super::ncsa::clip(&m)),
                ));
            }
            // `_OTHER` is the convention's name for a method outside the known set.
            if m == "_OTHER" { "GET".to_owned() } else { m }
        }
        None => "GET".to_owned(),
    };
    let status = match first(&e.attrs, &mapping.status) {
        Some((_, s, p)) => match s.trim().parse::<u16>() {
            Ok(n) if (100..=599).contains(&n) => n,
            _ => {
                return Err((
                    p.to_owned(),
                    format!(
                        "invalid HTTP status `{}`: expected 100 to 599",
                        super::ncsa::clip(s)
                    ),
                ));
            }
        },
        None => 200,
    };
    let user_agent = first(&e.attrs, &mapping.user_agent)
        .map(|(_, v, _)| v.to_owned())
        .unwrap_or_default();
    let attributes = mapping
        .attributes
        .iter()
        .filter_map(|(name, key)| Some((name.clone(), e.attrs.get(key)?.0.clone())))
        .collect();
    Ok(Record {
        line: 0,
        time: e.start_ns as f64 / 1e9,
        utc_offset_s: 0,
        ip: first(&e.attrs, &mapping.client_address)
            .map_or_else(String::new, |(_, v, _)| v.to_owned()),
        user: first(&e.attrs, &mapping.user_id).map(|(_, v, _)| v.to_owned()),
        method,
        path,
        query,
        status,
        bytes: 0,
        referer: None,
        bot: !user_agent.is_empty() && ua::is_bot(&user_agent),
        user_agent,
        latency_s: Some(e.end_ns.saturating_sub(e.start_ns) as f64 / 1e9),
        client_id: first(&e.attrs, &mapping.session_id).map(|(_, v, _)| v.to_owned()),
        attributes,
    })
}

/// A span read, before it is known whether its parent is in the document.
struct Candidate<'v> {
    at: String,
    span: &'v Value,
    trace: String,
    parent: Option<String>,
    resource: usize,
}

/// Entry spans of an OTLP JSON document; problems as (pointer, message).
fn otlp_entries(
    doc: &Value,
    mapping: &TraceMapping,
    warn: &mut Vec<(String, String)>,
    spans: &mut u64,
) -> Vec<Entry> {
    let Some(resources) = doc.get("resourceSpans").and_then(Value::as_array) else {
        warn.push((
            String::new(),
            "not OTLP JSON traces: no `resourceSpans` list".into(),
        ));
        return Vec::new();
    };
    let mut ids: HashSet<(String, String)> = HashSet::new();
    let mut resource_attrs: Vec<(String, Attrs)> = Vec::new();
    let mut candidates = Vec::new();
    for (r, res) in resources.iter().enumerate() {
        let mut attrs = Attrs::new();
        attr_list(
            res.pointer("/resource/attributes"),
            &format!("/resourceSpans/{r}/resource/attributes"),
            &mut attrs,
        );
        let service = attrs
            .get("service.name")
            .map_or("unknown_service", |(v, _)| v.as_str())
            .to_owned();
        resource_attrs.push((service, attrs));
        let (scope_key, scopes) = match res.get("scopeSpans") {
            Some(s) => ("scopeSpans", s.as_array()),
            None => (
                "instrumentationLibrarySpans",
                res.get("instrumentationLibrarySpans")
                    .and_then(Value::as_array),
            ),
        };
        for (s, scope) in scopes.into_iter().flatten().enumerate() {
            for (i, span) in scope
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                *spans += 1;
                let at = format!("/resourceSpans/{r}/{scope_key}/{s}/spans/{i}");
                let (Some(trace), Some(id)) = (str_at(span, "traceId"), str_at(span, "spanId"))
                else {
                    warn.push((at, "span without traceId or spanId; skipped".into()));
                    continue;
                };
                let trace = trace.to_ascii_lowercase();
                ids.insert((trace.clone(), id.to_ascii_lowercase()));
                let parent = str_at(span, "parentSpanId")
                    .filter(|p| !p.is_empty() && p.chars().any(|c| c != '0'))
                    .map(str::to_ascii_lowercase);
                candidates.push(Candidate {
                    at,
                    span,
                    trace,
                    parent,
                    resource: r,
                });
            }
        }
    }
    let mut out = Vec::new();
    for c in candidates {
        if c.parent
            .is_some_and(|p| ids.contains(&(c.trace.clone(), p)))
        {
            continue;
        }
        let Some((service, res_attrs)) = resource_attrs.get(c.resource) else {
            continue;
        };
        if !mapping.services.is_empty() && !mapping.services.contains(service) {
            continue;
        }
        let (Some(start_ns), Some(end_ns)) = (
            u64_field(c.span.get("startTimeUnixNano")),
            u64_field(c.span.get("endTimeUnixNano")),
        ) else {
            warn.push((
                format!("{}/startTimeUnixNano", c.at),
                "entry span without a start or end time (nanoseconds); skipped".into(),
            ));
            continue;
        };
        let mut attrs = Attrs::new();
        attr_list(
            c.span.get("attributes"),
            &format!("{}/attributes", c.at),
            &mut attrs,
        );
        for (k, v) in res_attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out.push(Entry {
            attrs_at: format!("{}/attributes", c.at),
            service: service.clone(),
            start_ns,
            end_ns: end_ns.max(start_ns),
            attrs,
        });
    }
    out
}

/// Entry spans of a Jaeger JSON document; problems as (pointer, message).
fn jaeger_entries(
    doc: &Value,
    mapping: &TraceMapping,
    warn: &mut Vec<(String, String)>,
    spans: &mut u64,
) -> Vec<Entry> {
    let traces: Vec<(String, &Value)> = match (doc.get("data"), doc.get("spans")) {
        (Some(Value::Array(data)), _) => data
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("/data/{i}"), t))
            .collect(),
        (None, Some(_)) => vec![(String::new(), doc)],
        _ => {
            warn.push((
                String::new(),
                "not Jaeger JSON: neither `data` (a list of traces) nor `spans` (one trace)".into(),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (at, trace) in traces {
        let Some(list) = trace.get("spans").and_then(Value::as_array) else {
            warn.push((at, "trace without a `spans` list".into()));
            continue;
        };
        let ids: HashSet<&str> = list.iter().filter_map(|s| str_at(s, "spanID")).collect();
        for (i, span) in list.iter().enumerate() {
            *spans += 1;
            let here = format!("{at}/spans/{i}");
            let Some(trace_id) = str_at(span, "traceID") else {
                warn.push((here, "span without traceID; skipped".into()));
                continue;
            };
            let parent = span
                .get("references")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| str_at(r, "traceID") == Some(trace_id))
                .find_map(|r| str_at(r, "spanID"))
                .or_else(|| str_at(span, "parentSpanID").filter(|p| !p.is_empty() && *p != "0"));
            if parent.is_some_and(|p| ids.contains(p)) {
                continue;
            }
            let process = str_at(span, "processID")
                .and_then(|p| {
                    trace
                        .get("processes")?
                        .get(p)
                        .map(|v| (format!("{at}/processes/{p}"), v))
                })
                .or_else(|| span.get("process").map(|v| (format!("{here}/process"), v)));
            let service = process
                .as_ref()
                .and_then(|(_, p)| str_at(p, "serviceName"))
                .unwrap_or("unknown_service")
                .to_owned();
            if !mapping.services.is_empty() && !mapping.services.contains(&service) {
                continue;
            }
            let (Some(start_us), Some(dur_us)) = (
                u64_field(span.get("startTime")),
                u64_field(span.get("duration")),
            ) else {
                warn.push((
                    format!("{here}/startTime"),
                    "entry span without startTime or duration (microseconds); skipped".into(),
                ));
                continue;
            };
            let mut attrs = Attrs::new();
            attr_list(span.get("tags"), &format!("{here}/tags"), &mut attrs);
            if let Some((p_at, p)) = &process {
                attr_list(p.get("tags"), &format!("{p_at}/tags"), &mut attrs);
            }
            out.push(Entry {
                attrs_at: format!("{here}/tags"),
                service,
                start_ns: start_us.saturating_mul(1000),
                end_ns: start_us.saturating_add(dur_us).saturating_mul(1000),
                attrs,
            });
        }
    }
    out
}

/// Records of one decoded document, sorted by time, and problems as (pointer, message).
fn document(
    doc: &Value,
    mapping: &TraceMapping,
    stats: &mut TraceStats,
) -> (Vec<Record>, Vec<(String, String)>) {
    let mut warn = Vec::new();
    let mut spans = 0;
    let entries = if doc.get("resourceSpans").is_some() {
        otlp_entries(doc, mapping, &mut warn, &mut spans)
    } else if doc.get("data").is_some() || doc.get("spans").is_some() {
        jaeger_entries(doc, mapping, &mut warn, &mut spans)
    } else {
        warn.push((
            String::new(),
            "neither OTLP JSON traces (`resourceSpans`) nor Jaeger JSON (`data` or `spans`)".into(),
        ));
        Vec::new()
    };
    stats.spans += spans;
    let mut records = Vec::new();
    for e in &entries {
        match record(e, mapping) {
            Ok(r) => records.push(r),
            Err(w) => warn.push(w),
        }
    }
    records.sort_by(|a, b| a.time.total_cmp(&b.time));
    (records, warn)
}

/// Reads page requests from a trace file: an iterator of records, or of diagnostics for what
/// could not be read. After an IO error it yields that error once and stops.
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    name: String,
    mapping: TraceMapping,
    stats: TraceStats,
    pending: VecDeque<Result<Record, Diagnostic>>,
    /// Whether the input is JSON lines (decided on the first non-blank line).
    lines_mode: Option<bool>,
    done: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader of `input`, named `name` in diagnostics.
    pub fn new(input: R, name: &str, mapping: TraceMapping) -> Self {
        TraceReader {
            input,
            name: name.to_owned(),
            mapping,
            stats: TraceStats::default(),
            pending: VecDeque::new(),
            lines_mode: None,
            done: false,
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> TraceStats {
        self.stats
    }

    /// The name diagnostics use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Decodes `text` (starting at line `first_line` of the input) and queues its records
    /// and diagnostics.
    fn decode(&mut self, text: &str, first_line: u64) {
        let input = Input {
            name: &self.name,
            bytes: text.as_bytes(),
        };
        let mut diags = Vec::new();
        let Some(file) = text::read_json(&input, &mut diags) else {
            self.stats.malformed += 1;
            for mut d in diags {
                d.line = shift(d.line, first_line);
                self.pending.push_back(Err(d));
            }
            return;
        };
        self.stats.documents += 1;
        let (records, warnings) = document(&file.value, &self.mapping, &mut self.stats);
        self.stats.malformed += warnings.len() as u64;
        let mut diags: Vec<Diagnostic> = warnings
            .into_iter()
            .map(|(at, m)| file.diag(Severity::Warning, &at, m))
            .collect();
        text::place(std::slice::from_ref(&file), &mut diags);
        for mut d in diags {
            d.line = shift(d.line, first_line);
            self.pending.push_back(Err(d));
        }
        for mut r in records {
            r.line = first_line;
            self.stats.records += 1;
            if r.bot {
                self.stats.bots += 1;
            }
            self.pending.push_back(Ok(r));
        }
    }

    fn io_error(&mut self, e: &std::io::Error) {
        self.done = true;
        self.pending.push_back(Err(Diagnostic {
            file: self.name.clone(),
            line: u32::try_from(self.stats.lines.max(1)).unwrap_or(u32::MAX),
            col: 1,
            pointer: String::new(),
            severity: Severity::Error,
            message: format!("cannot read on: {e}"),
        }));
    }

    /// Reads the next line (at most [`MAX_INPUT_BYTES`]); `None` at the end.
    fn read_line(&mut self) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.input)
            .take(MAX_INPUT_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.stats.bytes += n as u64;
        self.stats.lines += 1;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// Line `line` of a text that starts at line `first` of the input.
fn shift(line: u32, first: u64) -> u32 {
    u32::try_from(u64::from(line.max(1)) + first - 1).unwrap_or(u32::MAX)
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Record, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let line = match self.read_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    continue;
                }
                Err(e) => {
                    self.io_error(&e);
                    continue;
                }
            };
            let at = self.stats.lines;
            let line = if at == 1 {
                line.trim_start_matches('\u{feff}').to_owned()
            } else {
                line
            };
            if line.trim().is_empty() {
                continue;
            }
            if self.lines_mode.is_none() {
                // JSON lines when the first non-blank line is a whole JSON value (or junk);
                // one document when it ends in the middle of one.
                let eof = serde_json::from_str::<Value>(&line)
                    .err()
                    .is_some_and(|e| e.is_eof());
                self.lines_mode = Some(!eof);
                if eof {
                    let mut text = line;
                    let mut rest = Vec::new();
                    if let Err(e) = (&mut self.input)
                        .take(MAX_INPUT_BYTES as u64)
                        .read_to_end(&mut rest)
                    {
                        self.io_error(&e);
                        continue;
                    }
                    self.stats.bytes += rest.len() as u64;
                    self.stats.lines += rest.iter().filter(|&&b| b == b'\n').count() as u64
                        + u64::from(rest.last().is_some_and(|&b| b != b'\n'));
                    text.push_str(&String::from_utf8_lossy(&rest));
                    self.done = true;
                    self.decode(&text, at);
                    continue;
                }
            }
            self.decode(line.trim_end_matches(['\r', '\n']), at);
        }
    }
}

/// Reads a whole in-memory trace file (tests, request bodies): the records, the diagnostics
/// and the counts; a warning when no record was read.
pub fn read_all(
    name: &str,
    bytes: &[u8],
    mapping: TraceMapping,
) -> (Vec<Record>, Vec<Diagnostic>, TraceStats) {
    let mut reader = TraceReader::new(bytes, name, mapping);
    let mut records = Vec::new();
    let mut diags = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(r) => records.push(r),
            Err(d) => diags.push(d),
        }
    }
    let stats = reader.stats();
    if stats.records == 0 {
        diags.push(Diagnostic {
            file: name.to_owned(),
            line: 1,
            col: 1,
            pointer: String::new(),
            severity: Severity::Warning,
            message: format!(
                "no page request in {} spans of {} documents ({} problems)",
                stats.spans, stats.documents, stats.malformed
            ),
        });
    }
    (records, diags, stats)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, attrs: &str) -> String {
        format!(
            r#"{{"traceId":"t1","spanId":"{id}","parentSpanId":"{parent}","name":"x","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000","attributes":[{attrs}]}}"#
        )
    }

    fn doc(resource: &str, spans: &[String]) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{resource}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    }

    fn kv(k: &str, v: &str) -> String {
        format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#)
    }

    #[test]
    fn entry_spans_become_records_with_span_then_resource_attributes() {
        let root = span(
            "a1",
            "",
            &[
                kv("http.route", "/product/:sku"),
                kv("http.request.method", "post"),
                r#"{"key":"http.response.status_code","value":{"intValue":"503"}}"#.into(),
                kv("session.id", "S1"),
                kv("enduser.id", "alice"),
                kv("geo.region", "eu"),
            ]
            .join(","),
        );
        let child = span("a2", "a1", &kv("url.path", "/inner"));
        let text = doc(
            &[
                kv("service.name", "web"),
                kv("user_agent.original", "Googlebot/2.1"),
                kv("client.address", "192.0.2.7"),
                kv("geo.region", "us"),
            ]
            .join(","),
            &[root, child],
        );
        let mapping = TraceMapping {
            attributes: [("region".to_owned(), "geo.region".to_owned())].into(),
            ..TraceMapping::default()
        };
        let (records, diags, stats) = read_all("t.json", text.as_bytes(), mapping);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!((stats.spans, stats.records, stats.bots), (2, 1, 1));
        let r = &records[0];
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.status),
            ("POST", "/product/{sku}", 503)
        );
        assert_eq!(r.client_id.as_deref(), Some("S1"));
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.ip, "192.0.2.7");
        // The span's own value wins over the resource's.
        assert_eq!(r.attributes["region"], "eu");
        assert!(r.bot);
        assert_eq!(r.time, 1_700_000_000.0);
        assert!((r.latency_s.unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn junk_lines_and_fields_are_reported_by_file_line_and_pointer() {
        let good = doc(
            &kv("service.name", "web"),
            &[span("b1", "", &kv("url.path", "/cart?x=1"))],
        );
        let bad_status = doc(
            &kv("service.name", "web"),
            &[span(
                "c1",
                "",
                &[
                    kv("url.path", "/"),
                    kv("http.response.status_code", "teapot"),
                ]
                .join(","),
            )],
        );
        let text = format!(
            "{good}\n{{\"resourceSpans\": [\n{bad_status}\nnot json at all\n\n{}\n",
            doc("", &[span("d1", "", &kv("http.method", "GET"))])
        );
        let (records, diags, stats) =
            read_all("junk.jsonl", text.as_bytes(), TraceMapping::default());
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].path.as_str(), records[0].query.as_deref()),
            ("/cart", Some("x=1"))
        );
        assert_eq!(stats.lines, 6);
        let lines: Vec<(u32, &str)> = diags.iter().map(|d| (d.line, d.pointer.as_str())).collect();
        assert_eq!(
            lines,
            [
                (2, ""),
                (
                    3,
                    "/resourceSpans/0/scopeSpans/0/spans/0/attributes/1/value"
                ),
                (4, ""),
                (6, "/resourceSpans/0/scopeSpans/0/spans/0/attributes"),
            ],
            "{diags:#?}"
        );
        assert!(diags[0].message.contains("truncated"), "{}", diags[0]);
        assert!(diags[1].message.contains("`teapot`"), "{}", diags[1]);
        assert!(diags[2].message.contains("not valid JSON"), "{}", diags[2]);
        assert!(diags[3].message.contains("unknown_service"), "{}", diags[3]);
        assert!(diags.iter().all(|d| d.file == "junk.jsonl"));
        // The column points at the offending value.
        let col = diags[1].col as usize;
        assert!(bad_status[col - 1..].starts_with("{\"stringValue\":\"teapot\""));
    }

    #[test]
    fn published_samples_without_http_attributes_give_positioned_warnings() {
        // The OpenTelemetry protocol's example trace: one server span (whose parent is not in
        // the file, so it is an entry span) with no HTTP attributes.
        let otlp = include_str!("../../test_data/otlp/otlp_trace.json");
        let (records, diags, stats) =
            read_all("trace.json", otlp.as_bytes(), TraceMapping::default());
        assert!(records.is_empty());
        assert_eq!(stats.spans, 1);
        let want = otlp
            .lines()
            .position(|l| l.contains("\"attributes\"") && l.starts_with("              "))
            .unwrap()
            + 1;
        assert_eq!(diags[0].line as usize, want, "{}", diags[0]);
        assert_eq!(
            diags[0].pointer,
            "/resourceSpans/0/scopeSpans/0/spans/0/attributes"
        );
        assert!(diags[0].message.contains("`my.service`"));
        // Jaeger's UI fixture: every span is a root with no HTTP attributes.
        let jaeger = include_str!("../../test_data/jaeger/jaeger_ui_01.json");
        let (records, diags, stats) =
            read_all("ui_01.json", jaeger.as_bytes(), TraceMapping::default());
        assert!(records.is_empty());
        assert!(stats.spans >= 2);
        assert!(
            diags
                .iter()
                .any(|d| d.pointer == "/spans/0/tags" && d.line > 1),
            "{diags:#?}"
        );
        assert!(diags.last().unwrap().message.starts_with("no page request"));
    }
}

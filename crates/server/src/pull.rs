//! Pulling live metrics from a Prometheus server's HTTP API (`/api/v1/query_range`, GET only).
//!
//! Every `interval` the puller evaluates its PromQL queries over the time since the last pull,
//! at a `step` that divides the twin's 10-second buckets, maps each result series onto a twin
//! entity (a service or a host, by configurable labels and renames) and hands the values to the
//! same write-ahead log and aggregator as the intake endpoints, so pulled and pushed telemetry
//! end up in the same store and drive the same drift.
//!
//! **Queries** are templates. `{{by}}` becomes the entity kind's label list (for `sum by (...)`),
//! `{{range}}` the rate window, `{{matchers}}` the configured extra label matchers (or nothing).
//! A query that contains `{{service}}` or `{{host}}` is run once per twin entity of that kind,
//! with the entity's label value substituted (renames undone), and everything it returns belongs
//! to that entity. Built-in queries cover the common exporters (see [`default_queries`]).
//!
//! **What a value means** is set per query ([`Measure`]): per-second rates become increments
//! of the bucket (value × step), latencies in seconds become milliseconds, gauges are samples.
//! A value evaluated at `t` describes the step before it, so it goes to the bucket of `t - step`.
//!
//! **Failures.** A query Prometheus refuses (bad PromQL, execution error) is reported with the
//! query's name, the entity (for per-entity queries) and Prometheus's own error text, in the
//! log and in [`PullStatus`]; the other queries go on. When Prometheus cannot be reached (no
//! connection, timeout, 502/503/504) nothing is kept of the round, the pulled range is not
//! advanced, and the next attempt waits twice as long as the last, up to `max_backoff`.
//!
//! **Restarts.** The end of the pulled range is stored (setting [`PULL_CURSOR`]) before the
//! round's values are logged, so a crash in between leaves a gap rather than counting a range
//! twice.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::ingest::{Aggregator, Kind, RESOLUTION_S};
use crate::{App, Error, lock, now_ms, record};

/// Setting that holds how far Prometheus has been pulled (JSON: `url`, `until_ms`).
pub const PULL_CURSOR: &str = "prometheus_pulled_until";

/// Most points per series in one `query_range` call (Prometheus refuses more than 11,000).
const MAX_POINTS: i64 = 10_000;

/// Largest response body read, bytes.
const MAX_BODY: u64 = 256 << 20;

/// The kind of twin entity a query's series describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A service (`service:NAME`).
    Service,
    /// A host (`host:NAME`).
    Host,
}

impl EntityKind {
    /// The word used in configuration and templates.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Service => "service",
            EntityKind::Host => "host",
        }
    }
}

/// What a query's values measure, and how they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Requests per second: stored as request increments (`requests`).
    RequestsPerSecond,
    /// Failed requests per second: stored as increments (`errors`).
    ErrorsPerSecond,
    /// Mean latency in seconds: stored in milliseconds (`latency_ms`).
    LatencyMeanSeconds,
    /// Median latency in seconds (`latency_p50_ms`).
    LatencyP50Seconds,
    /// 90th percentile latency in seconds (`latency_p90_ms`).
    LatencyP90Seconds,
    /// 99th percentile latency in seconds (`latency_p99_ms`).
    LatencyP99Seconds,
    /// Busy fraction, 0 to 1 (`utilization`: busy workers for a service, busy cores for a host).
    Utilization,
    /// Memory in use, bytes (`memory_bytes`).
    MemoryBytes,
    /// Fraction of time the disks were busy, 0 to 1 (`disk_utilization`).
    DiskUtilization,
}

impl Measure {
    const ALL: [(&'static str, Measure); 9] = [
        ("requests_per_second", Measure::RequestsPerSecond),
        ("errors_per_second", Measure::ErrorsPerSecond),
        ("latency_mean_seconds", Measure::LatencyMeanSeconds),
        ("latency_p50_seconds", Measure::LatencyP50Seconds),
        ("latency_p90_seconds", Measure::LatencyP90Seconds),
        ("latency_p99_seconds", Measure::LatencyP99Seconds),
        ("utilization", Measure::Utilization),
        ("memory_bytes", Measure::MemoryBytes),
        ("disk_utilization", Measure::DiskUtilization),
    ];

    /// The aggregator kind it is stored as.
    pub fn kind(self) -> Kind {
        match self {
            Measure::RequestsPerSecond => Kind::Requests,
            Measure::ErrorsPerSecond => Kind::Errors,
            Measure::LatencyMeanSeconds => Kind::LatencyMs,
            Measure::LatencyP50Seconds => Kind::LatencyP50Ms,
            Measure::LatencyP90Seconds => Kind::LatencyP90Ms,
            Measure::LatencyP99Seconds => Kind::LatencyP99Ms,
            Measure::Utilization => Kind::Utilization,
            Measure::MemoryBytes => Kind::MemoryBytes,
            Measure::DiskUtilization => Kind::DiskUtilization,
        }
    }

    /// The stored value for a value Prometheus returned, over a step of `step_s` seconds.
    pub fn convert(self, v: f64, step_s: f64) -> f64 {
        match self {
            Measure::RequestsPerSecond | Measure::ErrorsPerSecond => v * step_s,
            Measure::LatencyMeanSeconds
            | Measure::LatencyP50Seconds
            | Measure::LatencyP90Seconds
            | Measure::LatencyP99Seconds => v * 1000.0,
            Measure::Utilization | Measure::MemoryBytes | Measure::DiskUtilization => v,
        }
    }
}

/// Which labels name an entity of one kind, and renames from label values to twin names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMap {
    /// Labels tried in order; the first whose value (renamed) is a twin entity wins.
    pub labels: Vec<String>,
    /// Label value → twin entity name.
    pub rename: BTreeMap<String, String>,
}

/// One configured query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullQuery {
    /// Name used in diagnostics and the status.
    pub name: String,
    /// The entity kind its series describe.
    pub entity: EntityKind,
    /// What its values measure.
    pub measure: Measure,
    /// The PromQL template.
    pub query: String,
}

/// How to pull from Prometheus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullConfig {
    /// Base URL of the Prometheus server (e.g. `http://prometheus:9090`).
    pub url: String,
    /// Seconds between pulls.
    pub interval_s: u64,
    /// Query resolution, seconds (divides the 10-second buckets).
    pub step_s: i64,
    /// Rate window substituted for `{{range}}` (a PromQL duration, e.g. `1m`).
    pub range: String,
    /// History pulled on the very first round, seconds.
    pub lookback_s: i64,
    /// Timeout of one request, seconds.
    pub timeout_s: u64,
    /// Longest wait between attempts while Prometheus is unreachable, seconds.
    pub max_backoff_s: u64,
    /// Extra label matchers substituted for `{{matchers}}` (e.g. `namespace="prod"`).
    pub matchers: String,
    /// Label mapping for services.
    pub services: LabelMap,
    /// Label mapping for hosts.
    pub hosts: LabelMap,
    /// The queries.
    pub queries: Vec<PullQuery>,
}

fn q(name: &str, entity: EntityKind, measure: Measure, query: &str) -> PullQuery {
    PullQuery {
        name: name.into(),
        entity,
        measure,
        query: query.into(),
    }
}

/// The built-in queries: RED metrics of services from the OpenTelemetry HTTP semantic
/// conventions (`http_server_request_duration_seconds`, a histogram in seconds, with
/// `http_response_status_code`) or, when those are absent, the Prometheus client conventions
/// (`http_requests_total` with `code`, `http_request_duration_seconds`); process memory; and
/// node_exporter's CPU, memory and disk for hosts.
pub fn default_queries() -> Vec<PullQuery> {
    use EntityKind::{Host, Service};
    let rate = |m: &str, extra: &str| {
        format!("sum by ({{{{by}}}}) (rate({m}{{{extra}{{{{matchers}}}}}}[{{{{range}}}}]))")
    };
    let either = |a: String, b: String| format!("{a} or {b}");
    let quantile = |p: &str| {
        let one = |m: &str| {
            format!(
                "histogram_quantile({p}, sum by (le, {{{{by}}}}) (rate({m}_bucket{{{{{{matchers}}}}}}[{{{{range}}}}])))"
            )
        };
        either(
            one("http_server_request_duration_seconds"),
            one("http_request_duration_seconds"),
        )
    };
    let mean = |m: &str| {
        format!(
            "{} / {}",
            rate(&format!("{m}_sum"), ""),
            rate(&format!("{m}_count"), "")
        )
    };
    vec![
        q(
            "request rate",
            Service,
            Measure::RequestsPerSecond,
            &either(
                rate("http_server_request_duration_seconds_count", ""),
                rate("http_requests_total", ""),
            ),
        ),
        q(
            "error rate",
            Service,
            Measure::ErrorsPerSecond,
            &either(
                rate(
                    "http_server_request_duration_seconds_count",
                    "http_response_status_code=~\"5..\",",
                ),
                rate("http_requests_total", "code=~\"5..\","),
            ),
        ),
        q(
            "mean latency",
            Service,
            Measure::LatencyMeanSeconds,
            &either(
                mean("http_server_request_duration_seconds"),
                mean("http_request_duration_seconds"),
            ),
        ),
        q(
            "latency p50",
            Service,
            Measure::LatencyP50Seconds,
            &quantile("0.5"),
        ),
        q(
            "latency p90",
            Service,
            Measure::LatencyP90Seconds,
            &quantile("0.9"),
        ),
        q(
            "latency p99",
            Service,
            Measure::LatencyP99Seconds,
            &quantile("0.99"),
        ),
        q(
            "process memory",
            Service,
            Measure::MemoryBytes,
            "sum by ({{by}}) (process_resident_memory_bytes{{{matchers}}})",
        ),
        q(
            "host cpu",
            Host,
            Measure::Utilization,
            "1 - avg by ({{by}}) (rate(node_cpu_seconds_total{mode=\"idle\",{{matchers}}}[{{range}}]))",
        ),
        q(
            "host memory",
            Host,
            Measure::MemoryBytes,
            "sum by ({{by}}) (node_memory_MemTotal_bytes{{{matchers}}} - node_memory_MemAvailable_bytes{{{matchers}}})",
        ),
        q(
            "host disk",
            Host,
            Measure::DiskUtilization,
            "max by ({{by}}) (rate(node_disk_io_time_seconds_total{{{matchers}}}[{{range}}]))",
        ),
    ]
}

impl PullConfig {
    /// The defaults for a Prometheus server at `url`.
    pub fn new(url: impl Into<String>) -> PullConfig {
        PullConfig {
            url: url.into().trim_end_matches('/').to_string(),
            interval_s: 30,
            step_s: RESOLUTION_S,
            range: "1m".into(),
            lookback_s: 300,
            timeout_s: 10,
            max_backoff_s: 300,
            matchers: String::new(),
            services: LabelMap {
                labels: ["service", "service_name", "app", "job"]
                    .map(String::from)
                    .to_vec(),
                rename: BTreeMap::new(),
            },
            hosts: LabelMap {
                labels: ["instance", "host", "hostname", "nodename"]
                    .map(String::from)
                    .to_vec(),
                rename: BTreeMap::new(),
            },
            queries: default_queries(),
        }
    }

    /// Reads a pull configuration file (YAML; see the crate README) on top of the defaults.
    /// Every problem is reported as `FILE:LINE:COL: PATH: message`.
    pub fn from_yaml(url: &str, file: &str, text: &str) -> Result<PullConfig, Vec<String>> {
        let parsed = doppel_model::yaml::parse(text).map_err(|errs| {
            errs.iter()
                .map(|e| format!("{file}:{}:{}: {}", e.loc.line, e.loc.col, e.message))
                .collect::<Vec<_>>()
        })?;
        let mut cx = Cx {
            file,
            index: &parsed.index,
            errors: parsed
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "{file}:{}:{}: {}: {}",
                        e.loc.line,
                        e.loc.col,
                        display_path(&e.pointer),
                        e.message
                    )
                })
                .collect(),
        };
        let mut cfg = PullConfig::new(url);
        cx.read(&parsed.value, &mut cfg);
        if cx.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(cx.errors)
        }
    }

    /// The label mapping of an entity kind.
    pub fn labels(&self, kind: EntityKind) -> &LabelMap {
        match kind {
            EntityKind::Service => &self.services,
            EntityKind::Host => &self.hosts,
        }
    }

    /// A query's PromQL with the shared placeholders filled in (`{{service}}`/`{{host}}` are
    /// left for [`per_entity`]).
    pub fn render(&self, query: &PullQuery) -> String {
        query
            .query
            .replace("{{by}}", &self.labels(query.entity).labels.join(", "))
            .replace("{{range}}", &self.range)
            .replace("{{matchers}}", &self.matchers)
    }
}

/// The placeholder of a per-entity query, if it has one.
pub fn per_entity(query: &str) -> Option<EntityKind> {
    if query.contains("{{service}}") {
        Some(EntityKind::Service)
    } else if query.contains("{{host}}") {
        Some(EntityKind::Host)
    } else {
        None
    }
}

fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for tok in pointer.split('/').skip(1) {
        let tok = tok.replace("~1", "/").replace("~0", "~");
        if !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(out, "[{tok}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&tok);
        }
    }
    if out.is_empty() {
        "(document)".into()
    } else {
        out
    }
}

/// Configuration reading with positioned errors.
struct Cx<'a> {
    file: &'a str,
    index: &'a doppel_model::yaml::SpanIndex,
    errors: Vec<String>,
}

const PLACEHOLDERS: [&str; 5] = ["by", "range", "matchers", "service", "host"];

impl Cx<'_> {
    fn err(&mut self, pointer: &str, key: bool, msg: impl std::fmt::Display) {
        let loc = if key {
            self.index.key(pointer)
        } else {
            self.index.value(pointer)
        };
        self.errors.push(format!(
            "{}:{}:{}: {}: {msg}",
            self.file,
            loc.line,
            loc.col,
            display_path(pointer)
        ));
    }

    fn map<'v>(
        &mut self,
        v: &'v Value,
        pointer: &str,
        known: &[&str],
    ) -> Option<&'v serde_json::Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(pointer, false, "expected a mapping");
            return None;
        };
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                let p = format!("{pointer}/{}", doppel_model::yaml::escape_token(k));
                self.err(
                    &p,
                    true,
                    format!("unknown field `{k}`; expected one of {}", known.join(", ")),
                );
            }
        }
        Some(m)
    }

    fn string(&mut self, v: &Value, pointer: &str) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.err(pointer, false, "expected a string");
                None
            }
        }
    }

    fn seconds(&mut self, v: &Value, pointer: &str) -> Option<f64> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        match text.parse::<doppel_model::Duration>() {
            Ok(d) if d.as_secs_f64() > 0.0 => Some(d.as_secs_f64()),
            Ok(_) => {
                self.err(pointer, false, "must be longer than 0");
                None
            }
            Err(e) => {
                self.err(pointer, false, e);
                None
            }
        }
    }

    fn whole_seconds(&mut self, v: &Value, pointer: &str) -> Option<u64> {
        let s = self.seconds(v, pointer)?;
        if s.fract() != 0.0 {
            self.err(pointer, false, "must be a whole number of seconds");
            return None;
        }
        Some(s as u64)
    }

    fn labels(&mut self, v: &Value, pointer: &str, into: &mut LabelMap) {
        let Some(m) = self.map(v, pointer, &["labels", "rename"]) else {
            return;
        };
        if let Some(l) = m.get("labels") {
            let p = format!("{pointer}/labels");
            match l.as_array() {
                Some(items) if !items.is_empty() => {
                    let mut out = Vec::new();
                    for (i, it) in items.iter().enumerate() {
                        let ip = format!("{p}/{i}");
                        match it.as_str() {
                            Some(s) if is_label_name(s) => out.push(s.to_string()),
                            _ => self.err(
                                &ip,
                                false,
                                "expected a label name (letters, digits and `_`, not starting with a digit)",
                            ),
                        }
                    }
                    into.labels = out;
                }
                _ => self.err(&p, false, "expected a non-empty list of label names"),
            }
        }
        if let Some(r) = m.get("rename") {
            let p = format!("{pointer}/rename");
            match r.as_object() {
                Some(map) => {
                    for (k, v) in map {
                        let kp = format!("{p}/{}", doppel_model::yaml::escape_token(k));
                        if let Some(s) = self.string(v, &kp) {
                            into.rename.insert(k.clone(), s);
                        }
                    }
                }
                None => self.err(
                    &p,
                    false,
                    "expected a mapping from label value to twin name",
                ),
            }
        }
    }

    fn query(&mut self, v: &Value, pointer: &str) -> Option<PullQuery> {
        let m = self.map(v, pointer, &["name", "entity", "metric", "query"])?;
        let mut field = |k: &str| {
            let p = format!("{pointer}/{k}");
            match m.get(k) {
                Some(v) => self.string(v, &p).map(|s| (s, p)),
                None => {
                    self.err(pointer, false, format!("missing field `{k}`"));
                    None
                }
            }
        };
        let name = field("name");
        let entity = field("entity");
        let metric = field("metric");
        let query = field("query");
        let entity = entity.and_then(|(s, p)| match s.as_str() {
            "service" => Some(EntityKind::Service),
            "host" => Some(EntityKind::Host),
            _ => {
                self.err(
                    &p,
                    false,
                    format!("unknown entity kind `{s}`; expected service or host"),
                );
                None
            }
        });
        let measure = metric.and_then(|(s, p)| {
            let found = Measure::ALL.iter().find(|(n, _)| *n == s).map(|(_, m)| *m);
            if found.is_none() {
                let names: Vec<&str> = Measure::ALL.iter().map(|(n, _)| *n).collect();
                self.err(
                    &p,
                    false,
                    format!("unknown metric `{s}`; expected one of {}", names.join(", ")),
                );
            }
            found
        });
        let query = query.and_then(|(s, p)| {
            if s.trim().is_empty() {
                self.err(&p, false, "the query is empty");
                return None;
            }
            let mut rest = s.as_str();
            while let Some(i) = rest.find("{{") {
                let after = &rest[i + 2..];
                // `{{{` is a label-matcher brace followed by a placeholder.
                if after.starts_with('{') {
                    rest = &rest[i + 1..];
                    continue;
                }
                let Some(j) = after.find("}}") else { break };
                let name = &after[..j];
                if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !PLACEHOLDERS.contains(&name)
                {
                    self.err(
                        &p,
                        false,
                        format!(
                            "unknown placeholder `{{{{{name}}}}}`; expected one of {}",
                            PLACEHOLDERS
                                .iter()
                                .map(|x| format!("{{{{{x}}}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
                rest = &after[j + 2..];
            }
            Some(s)
        });
        let (name, entity, measure, query) = (name?.0, entity?, measure?, query?);
        if let Some(k) = per_entity(&query)
            && k != entity
        {
            self.err(
                &format!("{pointer}/query"),
                false,
                format!(
                    "`{{{{{}}}}}` in a query of `entity: {}`",
                    k.as_str(),
                    entity.as_str()
                ),
            );
            return None;
        }
        Some(PullQuery {
            name,
            entity,
            measure,
            query,
        })
    }

    fn read(&mut self, doc: &Value, cfg: &mut PullConfig) {
        const KNOWN: [&str; 12] = [
            "interval",
            "step",
            "range",
            "lookback",
            "timeout",
            "max_backoff",
            "matchers",
            "services",
            "hosts",
            "defaults",
            "queries",
            "url",
        ];
        let Some(m) = self.map(doc, "", &KNOWN) else {
            return;
        };
        if let Some(v) = m.get("url").and_then(|v| self.string(v, "/url")) {
            cfg.url = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = m
            .get("interval")
            .and_then(|v| self.whole_seconds(v, "/interval"))
        {
            cfg.interval_s = v;
        }
        if let Some(v) = m.get("step").and_then(|v| self.whole_seconds(v, "/step")) {
            let v = v as i64;
            if RESOLUTION_S % v == 0 {
                cfg.step_s = v;
            } else {
                self.err(
                    "/step",
                    false,
                    format!(
                        "must divide the twin's {RESOLUTION_S}-second buckets (1s, 2s, 5s or 10s)"
                    ),
                );
            }
        }
        if let Some(v) = m.get("range").and_then(|v| self.string(v, "/range")) {
            if is_promql_duration(&v) {
                cfg.range = v;
            } else {
                self.err(
                    "/range",
                    false,
                    format!("`{v}` is not a PromQL duration (e.g. `1m`, `90s`, `5m`)"),
                );
            }
        }
        if let Some(v) = m
            .get("lookback")
            .and_then(|v| self.whole_seconds(v, "/lookback"))
        {
            cfg.lookback_s = v as i64;
        }
        if let Some(v) = m
            .get("timeout")
            .and_then(|v| self.whole_seconds(v, "/timeout"))
        {
            cfg.timeout_s = v;
        }
        if let Some(v) = m
            .get("max_backoff")
            .and_then(|v| self.whole_seconds(v, "/max_backoff"))
        {
            cfg.max_backoff_s = v;
        }
        if let Some(v) = m.get("matchers").and_then(|v| self.string(v, "/matchers")) {
            cfg.matchers = v;
        }
        if let Some(v) = m.get("services") {
            self.labels(v, "/services", &mut cfg.services);
        }
        if let Some(v) = m.get("hosts") {
            self.labels(v, "/hosts", &mut cfg.hosts);
        }
        let keep_defaults = match m.get("defaults") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err("/defaults", false, "expected true or false");
                true
            }
        };
        if !keep_defaults {
            cfg.queries.clear();
        }
        if let Some(v) = m.get("queries") {
            let Some(items) = v.as_array() else {
                self.err("/queries", false, "expected a list of queries");
                return;
            };
            let mut seen = BTreeSet::new();
            for (i, it) in items.iter().enumerate() {
                let p = format!("/queries/{i}");
                let Some(query) = self.query(it, &p) else {
                    continue;
                };
                if !seen.insert(query.name.clone()) {
                    self.err(
                        &format!("{p}/name"),
                        false,
                        format!("a second query named `{}`", query.name),
                    );
                    continue;
                }
                // A query named like a built-in one replaces it.
                match cfg.queries.iter_mut().find(|x| x.name == query.name) {
                    Some(slot) => *slot = query,
                    None => cfg.queries.push(query),
                }
            }
        }
        if cfg.queries.is_empty() {
            self.err(
                "",
                false,
                "no queries: set `defaults: true` or list `queries`",
            );
        }
    }
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn is_promql_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        let Some(u) = unit else { return false };
        rest = &rest[u.len()..];
    }
    true
}

/// Escapes a label value for a PromQL double-quoted string.
pub fn promql_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Why a `query_range` call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PullError {
    /// Prometheus could not be reached (or answered that it cannot serve now).
    #[error("Prometheus unreachable: {0}")]
    Unreachable(String),
    /// Prometheus refused or failed the query; its own error text.
    #[error("Prometheus refused the query (HTTP {status}, {error_type}): {message}")]
    Query {
        /// HTTP status.
        status: u16,
        /// Prometheus' `errorType` (`bad_data`, `execution`, `timeout`...).
        error_type: String,
        /// Prometheus' `error`.
        message: String,
    },
    /// The answer was not the documented JSON.
    #[error("unexpected answer from Prometheus: {0}")]
    Decode(String),
}

/// One series of a range-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// (Unix ms, value) points; values Prometheus wrote as `NaN`/`±Inf` are left out.
    pub points: Vec<(i64, f64)>,
}

/// Reads a `query_range` answer (status code and body).
pub fn parse_answer(status: u16, body: &str) -> Result<(Vec<RangeSeries>, Vec<String>), PullError> {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            if matches!(status, 502..=504) {
                return Err(PullError::Unreachable(format!("HTTP {status}")));
            }
            let snippet: String = body.chars().take(200).collect();
            return Err(PullError::Decode(format!(
                "HTTP {status}, not JSON ({e}): {snippet}"
            )));
        }
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if text("status") != "success" {
        if matches!(status, 502..=504) && v.get("error").is_none() {
            return Err(PullError::Unreachable(format!("HTTP {status}")));
        }
        return Err(PullError::Query {
            status,
            error_type: text("errorType"),
            message: text("error"),
        });
    }
    let warnings = v
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let data = v
        .get("data")
        .ok_or_else(|| PullError::Decode("no `data`".into()))?;
    let rt = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    if rt != "matrix" {
        return Err(PullError::Decode(format!(
            "resultType `{rt}`, expected `matrix`"
        )));
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or_else(|| PullError::Decode("no `data.result` list".into()))?;
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let labels = s
            .get("metric")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let mut points = Vec::new();
        for p in s
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pair = p.as_array().filter(|a| a.len() == 2);
            let Some(pair) = pair else {
                return Err(PullError::Decode(format!(
                    "a point is not [time, value]: {p}"
                )));
            };
            let t = pair[0]
                .as_f64()
                .ok_or_else(|| PullError::Decode(format!("a point's time is not a number: {p}")))?;
            let value = pair[1]
                .as_str()
                .and_then(|x| x.parse::<f64>().ok())
                .ok_or_else(|| {
                    PullError::Decode(format!("a point's value is not a number: {p}"))
                })?;
            if value.is_finite() {
                points.push(((t * 1000.0).round() as i64, value));
            }
        }
        out.push(RangeSeries { labels, points });
    }
    Ok((out, warnings))
}

/// A blocking `query_range` client (GET only).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    /// A client for the Prometheus server at `base`, with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent("doppel")
            .build();
        Client {
            agent: config.into(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// Evaluates `query` at `start_s`, `start_s + step_s`, ... `end_s` (Unix seconds).
    pub fn query_range(
        &self,
        query: &str,
        start_s: i64,
        end_s: i64,
        step_s: i64,
    ) -> Result<(Vec<RangeSeries>, Vec<String>), PullError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let resp = self
            .agent
            .get(&url)
            .query("query", query)
            .query("start", start_s.to_string())
            .query("end", end_s.to_string())
            .query("step", format!("{step_s}s"))
            .header("Accept", "application/json")
            .call();
        let mut resp = resp.map_err(|e| PullError::Unreachable(format!("GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| PullError::Unreachable(format!("reading the answer of {url}: {e}")))?;
        parse_answer(status, &body)
    }
}

/// A value pulled for an entity, as logged and applied.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Pulled {
    /// Entity id (`service:NAME`, `host:NAME`).
    pub entity: String,
    /// Stored metric name.
    pub metric: String,
    /// Time, Unix ms (the start of the step the value describes).
    pub t_ms: i64,
    /// Stored value.
    pub value: f64,
}

/// Applies a logged batch of pulled values to the aggregator.
pub fn apply(agg: &mut Aggregator, body: &[u8]) -> Result<(), String> {
    let batch: Vec<Pulled> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for p in batch {
        match Kind::from_metric(&p.metric) {
            Some(k) => agg.add_value(&p.entity, k, p.t_ms, p.value),
            None => return Err(format!("unknown metric `{}`", p.metric)),
        }
    }
    Ok(())
}

/// A problem with one query in the last round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryProblem {
    /// The query's name.
    pub query: String,
    /// The entity, for a per-entity query.
    pub entity: Option<String>,
    /// The PromQL sent.
    pub promql: String,
    /// What went wrong (Prometheus' error text, when it gave one).
    pub error: String,
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query `{}`", self.query)?;
        if let Some(e) = &self.entity {
            write!(f, " for {e}")?;
        }
        write!(f, ": {} (PromQL: {})", self.error, self.promql)
    }
}

/// What one query gave in the last round.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryOutcome {
    /// The query's name.
    pub query: String,
    /// Series returned.
    pub series: usize,
    /// Points mapped onto twin entities.
    pub mapped_points: usize,
    /// Entities its series mapped onto.
    pub entities: Vec<String>,
    /// Label sets of series that mapped onto no entity (the first few).
    pub unmapped: Vec<String>,
    /// Warnings Prometheus attached.
    pub warnings: Vec<String>,
}

/// The result of one pull round.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Round {
    /// The values, ready to log and apply.
    #[serde(skip)]
    pub values: Vec<Pulled>,
    /// Per query.
    pub outcomes: Vec<QueryOutcome>,
    /// Failed queries.
    pub problems: Vec<QueryProblem>,
}

/// The puller's state, for the API and the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PullStatus {
    /// The Prometheus server.
    pub url: String,
    /// Pulled up to (Unix ms).
    pub pulled_until_ms: Option<i64>,
    /// Last attempt (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// Last round that reached Prometheus (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Attempts in a row that could not reach Prometheus.
    pub consecutive_failures: u32,
    /// Seconds until the next attempt, as last scheduled.
    pub next_attempt_in_s: u64,
    /// Why Prometheus was unreachable, while it is.
    pub unreachable: Option<String>,
    /// Values pulled since start.
    pub values_total: u64,
    /// The last round's per-query outcomes.
    pub queries: Vec<QueryOutcome>,
    /// The last round's failed queries.
    pub problems: Vec<QueryProblem>,
}

/// Seconds to wait before the next attempt after `failures` unreachable attempts in a row:
/// the interval, doubled per failure, capped at `max_backoff_s` (never below the interval).
pub fn backoff_s(interval_s: u64, max_backoff_s: u64, failures: u32) -> u64 {
    let base = interval_s.max(1);
    if failures == 0 {
        return base;
    }
    let grown = base.saturating_mul(1u64 << failures.min(32));
    grown.min(max_backoff_s.max(base))
}

/// The entity a series' labels name, by the kind's label mapping.
pub fn map_series(
    map: &LabelMap,
    kind: EntityKind,
    names: &BTreeSet<String>,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    for l in &map.labels {
        let Some(v) = labels.get(l) else { continue };
        let v = match kind {
            // `instance` is usually `host:port`.
            EntityKind::Host => v.rsplit_once(':').map_or(v.as_str(), |(h, _)| h),
            EntityKind::Service => v.as_str(),
        };
        let name = map.rename.get(v).map_or(v, String::as_str);
        if names.contains(name) {
            return Some(format!("{}:{name}", kind.as_str()));
        }
        // A renamed or full `instance` value may also be meant literally.
        if let Some(n) = labels.get(l).and_then(|full| map.rename.get(full))
            && names.contains(n)
        {
            return Some(format!("{}:{n}", kind.as_str()));
        }
    }
    None
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Runs every query over the evaluation times `(from_ms, to_ms]` (multiples of the step) and
/// maps the results onto the twin's entities. `Err` only when Prometheus is unreachable.
pub fn run_round(
    client: &Client,
    cfg: &PullConfig,
    twin: &doppel_model::Twin,
    from_ms: i64,
    to_ms: i64,
) -> Result<Round, PullError> {
    let step_ms = cfg.step_s * 1000;
    let start_s = (from_ms + step_ms) / 1000;
    let end_s = to_ms / 1000;
    let mut round = Round::default();
    if end_s < start_s {
        return Ok(round);
    }
    let services: BTreeSet<String> = twin.services.keys().cloned().collect();
    let hosts: BTreeSet<String> = twin.hosts.keys().cloned().collect();
    for query in &cfg.queries {
        let names = match query.entity {
            EntityKind::Service => &services,
            EntityKind::Host => &hosts,
        };
        let map = cfg.labels(query.entity);
        let rendered = cfg.render(query);
        // (entity given by the template, PromQL)
        let runs: Vec<(Option<String>, String)> = match per_entity(&rendered) {
            Some(kind) => {
                let placeholder = format!("{{{{{}}}}}", kind.as_str());
                names
                    .iter()
                    .map(|n| {
                        // Undo a rename: the query must name the label value.
                        let value = map
                            .rename
                            .iter()
                            .find(|(_, to)| *to == n)
                            .map_or(n.as_str(), |(from, _)| from.as_str());
                        (
                            Some(format!("{}:{n}", kind.as_str())),
                            rendered.replace(&placeholder, &promql_string(value)),
                        )
                    })
                    .collect()
            }
            None => vec![(None, rendered)],
        };
        let mut outcome = QueryOutcome {
            query: query.name.clone(),
            ..QueryOutcome::default()
        };
        let mut entities = BTreeSet::new();
        for (fixed, promql) in runs {
            let (series, warnings) = match client.query_range(&promql, start_s, end_s, cfg.step_s) {
                Ok(r) => r,
                Err(PullError::Unreachable(e)) => return Err(PullError::Unreachable(e)),
                Err(e) => {
                    round.problems.push(QueryProblem {
                        query: query.name.clone(),
                        entity: fixed.clone(),
                        promql,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            outcome.warnings.extend(warnings);
            outcome.series += series.len();
            for s in series {
                let entity = fixed
                    .clone()
                    .or_else(|| map_series(map, query.entity, names, &s.labels));
                let Some(entity) = entity else {
                    if outcome.unmapped.len() < 5 {
                        outcome.unmapped.push(label_text(&s.labels));
                    }
                    continue;
                };
                for (t, v) in s.points {
                    round.values.push(Pulled {
                        entity: entity.clone(),
                        metric: query.measure.kind().metric().to_string(),
                        t_ms: t - step_ms,
                        value: query.measure.convert(v, cfg.step_s as f64),
                    });
                    outcome.mapped_points += 1;
                }
                entities.insert(entity);
            }
        }
        outcome.entities = entities.into_iter().collect();
        round.outcomes.push(outcome);
    }
    Ok(round)
}

/// The cursor stored between restarts.
#[derive(Serialize, serde::Deserialize)]
struct Cursor {
    url: String,
    until_ms: i64,
}

impl App {
    /// The puller's state (`None` when not pulling).
    pub fn pull_status(&self) -> Option<PullStatus> {
        lock(&self.pull_status).clone()
    }

    /// Logs a round's values (write-ahead log, group commit) and adds them to the aggregator.
    pub async fn ingest_pulled(&self, values: &[Pulled], now: i64) -> Result<(), Error> {
        if values.is_empty() {
            return Ok(());
        }
        let mut payload = now.to_le_bytes().to_vec();
        payload.extend(serde_json::to_vec(values).map_err(|e| Error::BadInput(e.to_string()))?);
        let _gate = self.gate.read().await;
        self.wal.append(record::PULLED, &payload).await?;
        let mut agg = lock(&self.agg);
        for p in values {
            if let Some(k) = Kind::from_metric(&p.metric) {
                agg.add_value(&p.entity, k, p.t_ms, p.value);
            }
        }
        Ok(())
    }

    /// One pull: from the stored cursor (or `lookback` before `now`) to `now` rounded down to
    /// the step. Returns the round, or the reason Prometheus could not be reached.
    pub async fn pull_once(
        self: &Arc<Self>,
        cfg: &PullConfig,
        client: &Client,
        now: i64,
    ) -> Result<Round, Error> {
        let step_ms = cfg.step_s.max(1) * 1000;
        let end = now - now.rem_euclid(step_ms);
        let stored = self
            .store
            .setting(PULL_CURSOR)
            .await?
            .and_then(|s| serde_json::from_str::<Cursor>(&s).ok())
            .filter(|c| c.url == cfg.url)
            .map(|c| c.until_ms);
        let mut from = stored.unwrap_or(end - cfg.lookback_s * 1000);
        from -= from.rem_euclid(step_ms);
        if end - from > MAX_POINTS * step_ms {
            tracing::warn!(
                skipped_s = (end - from - MAX_POINTS * step_ms) / 1000,
                "Prometheus pull fell far behind; the oldest part of the gap is skipped"
            );
            from = end - MAX_POINTS * step_ms;
        }
        {
            let mut st = lock(&self.pull_status);
            let st = st.get_or_insert_with(PullStatus::default);
            st.url.clone_from(&cfg.url);
            st.last_attempt_ms = Some(now);
            st.pulled_until_ms = Some(from);
        }
        if end <= from {
            return Ok(Round::default());
        }
        let twin = self.current().twin.clone();
        let (c, conf) = (client.clone(), cfg.clone());
        let result = tokio::task::spawn_blocking(move || run_round(&c, &conf, &twin, from, end))
            .await
            .map_err(|e| Error::BadInput(format!("the pull task failed: {e}")))?;
        let round = match result {
            Ok(r) => r,
            Err(e) => {
                let mut st = lock(&self.pull_status);
                let st = st.get_or_insert_with(PullStatus::default);
                st.consecutive_failures += 1;
                st.unreachable = Some(e.to_string());
                return Err(Error::Pull(e));
            }
        };
        // The cursor first: a crash before the values are logged leaves a gap, never a
        // range counted twice.
        let cursor = serde_json::to_string(&Cursor {
            url: cfg.url.clone(),
            until_ms: end,
        })
        .map_err(|e| Error::BadInput(e.to_string()))?;
        self.store.set_setting(PULL_CURSOR, &cursor).await?;
        self.ingest_pulled(&round.values, now).await?;
        for p in &round.problems {
            tracing::warn!("Prometheus pull: {p}");
        }
        for o in &round.outcomes {
            if !o.unmapped.is_empty() {
                tracing::debug!(query = %o.query, unmapped = ?o.unmapped, "series mapped onto no twin entity");
            }
        }
        let mut st = lock(&self.pull_status);
        let st = st.get_or_insert_with(PullStatus::default);
        st.pulled_until_ms = Some(end);
        st.last_success_ms = Some(now);
        st.consecutive_failures = 0;
        st.unreachable = None;
        st.values_total += round.values.len() as u64;
        st.queries = round.outcomes.clone();
        st.problems = round.problems.clone();
        Ok(round)
    }

    /// Pulls forever: every `interval`, backing off while Prometheus is unreachable.
    pub fn spawn_pull(self: &Arc<Self>, cfg: PullConfig) {
        let app = Arc::clone(self);
        *lock(&self.pull_status) = Some(PullStatus {
            url: cfg.url.clone(),
            ..PullStatus::default()
        });
        tokio::spawn(async move {
            let client = Client::new(&cfg.url, Duration::from_secs(cfg.timeout_s.max(1)));
            let mut failures: u32 = 0;
            loop {
                let wait = match app.pull_once(&cfg, &client, now_ms()).await {
                    Ok(_) => {
                        if failures > 0 {
                            tracing::info!(url = %cfg.url, "Prometheus reachable again");
                        }
                        failures = 0;
                        cfg.interval_s.max(1)
                    }
                    Err(Error::Pull(e)) => {
                        failures += 1;
                        let w = backoff_s(cfg.interval_s, cfg.max_backoff_s, failures);
                        tracing::warn!(url = %cfg.url, error = %e, retry_in_s = w, "cannot pull from Prometheus");
                        w
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Prometheus pull failed");
                        cfg.interval_s.max(1)
                    }
                };
                if let Some(st) = lock(&app.pull_status).as_mut() {
                    st.next_attempt_in_s = wait;
                }
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_errors_name_file_line_and_field() {
        let text = "interval: 15s\nstep: 15s\nrange: 1 minute\nservices:\n  labelz: [a]\nqueries:\n  - name: x\n    entity: pod\n    metric: rps\n    query: 'up{{nope}}'\n  - name: y\n    entity: service\n    metric: utilization\n";
        let errs = PullConfig::from_yaml("http://p:9090", "pull.yaml", text).unwrap_err();
        expect_test::expect![[r#"
            pull.yaml:2:7: step: must divide the twin's 10-second buckets (1s, 2s, 5s or 10s)
            pull.yaml:3:8: range: `1 minute` is not a PromQL duration (e.g. `1m`, `90s`, `5m`)
            pull.yaml:5:3: services.labelz: unknown field `labelz`; expected one of labels, rename
            pull.yaml:8:13: queries[0].entity: unknown entity kind `pod`; expected service or host
            pull.yaml:9:13: queries[0].metric: unknown metric `rps`; expected one of requests_per_second, errors_per_second, latency_mean_seconds, latency_p50_seconds, latency_p90_seconds, latency_p99_seconds, utilization, memory_bytes, disk_utilization
            pull.yaml:10:12: queries[0].query: unknown placeholder `{{nope}}`; expected one of {{by}}, {{range}}, {{matchers}}, {{service}}, {{host}}
            pull.yaml:11:5: queries[1]: missing field `query`
        "#]]
        .assert_eq(&(errs.join("\n") + "\n"));
    }

    #[test]
    fn config_file_replaces_and_adds_queries() {
        let text = r#"
interval: 1m
matchers: 'namespace="prod"'
services: {labels: [app], rename: {shop-cart: cart}}
queries:
  - name: request rate
    entity: service
    metric: requests_per_second
    query: sum by ({{by}}) (rate(reqs_total{{{matchers}}}[{{range}}]))
  - name: cart busy
    entity: service
    metric: utilization
    query: busy{app="{{service}}"}
"#;
        let cfg = PullConfig::from_yaml("http://p:9090/", "pull.yaml", text).unwrap();
        assert_eq!(cfg.url, "http://p:9090");
        assert_eq!(cfg.interval_s, 60);
        assert_eq!(cfg.queries.len(), default_queries().len() + 1);
        let rr = cfg
            .queries
            .iter()
            .find(|q| q.name == "request rate")
            .unwrap();
        assert_eq!(
            cfg.render(rr),
            r#"sum by (app) (rate(reqs_total{namespace="prod"}[1m]))"#
        );
        let busy = cfg.queries.last().unwrap();
        assert_eq!(per_entity(&cfg.render(busy)), Some(EntityKind::Service));
        // No placeholder is left in any rendered built-in query.
        for q in &cfg.queries {
            let r = cfg.render(q);
            assert!(!r.contains("{{by}}") && !r.contains("{{range}}"), "{r}");
        }
    }

    #[test]
    fn series_map_by_label_order_rename_and_port() {
        let cfg = PullConfig::from_yaml(
            "u",
            "f",
            "services: {rename: {shop-cart: cart}}\nhosts: {rename: {\"10.0.0.5\": db-1}}",
        )
        .unwrap();
        let svc: BTreeSet<String> = ["cart".into(), "shop".into()].into();
        let hosts: BTreeSet<String> = ["web-1".into(), "db-1".into()].into();
        let l = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let m = |kind, names, labels| map_series(cfg.labels(kind), kind, names, &labels);
        // `service` comes before `job`.
        assert_eq!(
            m(
                EntityKind::Service,
                &svc,
                l(&[("job", "shop"), ("service", "shop-cart")])
            ),
            Some("service:cart".into())
        );
        assert_eq!(
            m(
                EntityKind::Service,
                &svc,
                l(&[("job", "shop"), ("service", "other")])
            ),
            Some("service:shop".into())
        );
        assert_eq!(m(EntityKind::Service, &svc, l(&[("job", "x")])), None);
        assert_eq!(
            m(EntityKind::Host, &hosts, l(&[("instance", "web-1:9100")])),
            Some("host:web-1".into())
        );
        assert_eq!(
            m(
                EntityKind::Host,
                &hosts,
                l(&[("instance", "10.0.0.5:9100")])
            ),
            Some("host:db-1".into())
        );
    }

    #[test]
    fn answers_are_read_and_errors_keep_prometheus_text() {
        let ok = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"service":"cart"},"values":[[1700000010,"12"],[1700000020.5,"NaN"],[1700000030,"1e1"]]}]},
            "warnings":["w1"]}"#;
        let (s, w) = parse_answer(200, ok).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].points,
            vec![(1_700_000_010_000, 12.0), (1_700_000_030_000, 10.0)]
        );
        assert_eq!(w, vec!["w1".to_string()]);
        let bad = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \")\""}"#;
        assert_eq!(
            parse_answer(400, bad).unwrap_err().to_string(),
            "Prometheus refused the query (HTTP 400, bad_data): invalid parameter \"query\": 1:5: parse error: unexpected \")\""
        );
        assert!(matches!(
            parse_answer(503, "Service Unavailable"),
            Err(PullError::Unreachable(_))
        ));
        assert!(matches!(
            parse_answer(200, "{}"),
            Err(PullError::Query { .. })
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let waits: Vec<u64> = (0..8).map(|f| backoff_s(30, 300, f)).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 300, 300, 300, 300]);
        assert_eq!(backoff_s(30, 10, 3), 30);
        assert_eq!(backoff_s(30, 300, 200), 300);
    }

    #[test]
    fn promql_durations_and_strings() {
        for ok in ["1m", "90s", "1h30m", "500ms"] {
            assert!(is_promql_duration(ok), "{ok}");
        }
        for bad in ["", "1", "m", "1 m", "1.5m"] {
            assert!(!is_promql_duration(bad), "{bad}");
        }
        assert_eq!(promql_string(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}

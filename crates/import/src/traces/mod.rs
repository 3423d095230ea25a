//! Trace importers: OTLP in JSON and protobuf (as OTLP/HTTP sends them) and Jaeger JSON (API and
//! UI exports),
//! read into one span model and turned into a calibrated call graph by [`graph`]:
//!
//! - every *entry span* (a root, or a span whose parent belongs to another service) is a
//!   request to the endpoint `service/span name`;
//! - the endpoint's downstream calls are the entry spans of other services below it, with
//!   per-parent-request probabilities and counts; calls that overlap in time in most requests
//!   are grouped as parallel;
//! - a client span with `peer.service` and no instrumented callee is a call to that service's
//!   endpoint `default` (a database, a cache, a third party), timed by the client span;
//! - each endpoint's service time is its *exclusive* time (its span minus the time covered by
//!   its downstream calls), fitted by [`fit`];
//! - error rates and request rates, which the model has no fields for, become tags
//!   `error-rate.ENDPOINT=0.0123` and `request-rate.ENDPOINT=12.5/s` on the service, and each
//!   root endpoint gets an open workload at its observed rate.

pub mod fit;
pub mod graph;
mod jaeger;
mod otlp;
mod otlp_pb;
#[cfg(test)]
mod tests;

use crate::text::{self, JsonFile};
use crate::{Diagnostic, ImportResult, Importer, Input, Severity, Source};

/// One span, whichever format it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Trace id (hex).
    pub trace: String,
    /// Span id (hex).
    pub id: String,
    /// Parent span id in the same trace.
    pub parent: Option<String>,
    /// The service that emitted the span.
    pub service: String,
    /// Operation name.
    pub name: String,
    /// Start, nanoseconds since the Unix epoch.
    pub start: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end: u64,
    /// Whether the span reports an error.
    pub error: bool,
    /// A client or producer span (a call out of the service).
    pub client: bool,
    /// A server or consumer span (a request into the service).
    pub server: bool,
    /// The called service as the caller names it (`peer.service`), if any.
    pub peer: Option<String>,
    /// `db.system` of a client span (`redis`, `postgresql`...), if any.
    pub db_system: Option<String>,
    /// Index of the input it was read from.
    pub file: usize,
}

/// The spans of one OTLP resource, with the resource's string attributes (`service.name`,
/// `k8s.deployment.name`, `host.name`...).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpans {
    /// String-valued resource attributes, in order.
    pub attributes: Vec<(String, String)>,
    /// Its spans (`file` is 0).
    pub spans: Vec<Span>,
}

/// An OTLP trace export that could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpError {
    /// Not JSON, or JSON without `resourceSpans`.
    #[error("invalid OTLP JSON traces at `{pointer}`: {message}")]
    Json {
        /// JSON Pointer of the offending node.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A malformed protobuf message.
    #[error("invalid OTLP protobuf traces at byte {offset} (`{pointer}`): {message}")]
    Protobuf {
        /// Byte offset.
        offset: usize,
        /// JSON Pointer the node would have in the JSON encoding.
        pointer: String,
        /// What is wrong.
        message: &'static str,
    },
}

/// Decodes an OTLP/HTTP trace export (`ExportTraceServiceRequest`) as the receiver of a live
/// twin gets it: protobuf, or JSON when `json`. Returns the spans per resource and how many
/// spans were rejected (no ids or times, or ending before they start), for a partial-success
/// answer. The same readers as the file importer ([`Otlp`]).
pub fn decode_otlp(body: &[u8], json: bool) -> Result<(Vec<ResourceSpans>, usize), OtlpError> {
    if json {
        let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| OtlpError::Json {
            pointer: String::new(),
            message: e.to_string(),
        })?;
        let mut rejected = 0usize;
        let rs = otlp::resources(&doc, &mut |_, _| rejected += 1).map_err(|(pointer, m)| {
            OtlpError::Json {
                pointer,
                message: m.to_owned(),
            }
        })?;
        Ok((rs, rejected))
    } else {
        otlp_pb::resources(body).map_err(|e| OtlpError::Protobuf {
            offset: e.offset,
            pointer: e.pointer,
            message: e.what,
        })
    }
}

/// Reads OTLP JSON traces.
pub struct Otlp;
/// Reads Jaeger JSON traces.
pub struct Jaeger;

impl Importer for Otlp {
    fn source(&self) -> Source {
        Source::Otlp
    }
    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        run(inputs, Source::Otlp, otlp::spans, Some(otlp_pb::spans))
    }
}

impl Importer for Jaeger {
    fn source(&self) -> Source {
        Source::Jaeger
    }
    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        run(inputs, Source::Jaeger, jaeger::spans, None)
    }
}

type Reader = fn(&JsonFile<'_>, &mut Vec<Diagnostic>) -> Vec<Span>;
type BinaryReader = fn(&Input<'_>, &mut Vec<Diagnostic>) -> Vec<Span>;

/// Whether an input is JSON (its first non-blank byte opens an object or array, or it is
/// empty) rather than protobuf.
fn is_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| matches!(b, b'{' | b'['))
}

fn run(
    inputs: &[Input<'_>],
    source: Source,
    read: Reader,
    read_binary: Option<BinaryReader>,
) -> ImportResult {
    let mut diags = Vec::new();
    let mut spans = Vec::new();
    let mut names = Vec::new();
    let mut json_inputs = Vec::new();
    for input in inputs {
        match read_binary {
            Some(binary) if !is_json(input.bytes) => {
                let mut got = binary(input, &mut diags);
                got.iter_mut().for_each(|s| s.file = names.len());
                if got.is_empty() && !diags.iter().any(|d| d.file == input.name) {
                    diags.push(text::file_diag(
                        input.name,
                        Severity::Warning,
                        (1, 1),
                        "",
                        "no spans found",
                    ));
                }
                spans.extend(got);
                names.push(input.name.to_owned());
            }
            _ => json_inputs.push(*input),
        }
    }
    let files: Vec<JsonFile<'_>> = json_inputs
        .iter()
        .filter_map(|i| text::read_json(i, &mut diags))
        .collect();
    for file in &files {
        let mut got = read(file, &mut diags);
        got.iter_mut().for_each(|s| s.file = names.len());
        if got.is_empty()
            && !diags
                .iter()
                .any(|d| d.file == file.name && d.severity != Severity::Info)
        {
            diags.push(file.diag(Severity::Warning, "", "no spans found"));
        }
        spans.extend(got);
        names.push(file.name.to_owned());
    }
    text::place(&files, &mut diags);
    let delta = graph::build(&spans, source.as_str(), &names, &mut diags);
    ImportResult {
        delta,
        diagnostics: diags,
    }
}

/// Parses a span id or timestamp given as a JSON string or number.
pub(crate) fn u64_field(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// RFC 3339 (UTC, seconds) of a Unix time in nanoseconds.
pub(crate) fn rfc3339(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

//! OTLP traces in protobuf (an `ExportTraceServiceRequest` as OTLP/HTTP posts it, or a
//! `TracesData`, which has the same field 1), decoded from the wire format directly: only the
//! fields the call graph needs are read, everything else is skipped. Field numbers are those of
//! `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`.
//!
//! Diagnostics point at the byte offset (line 1, column offset + 1) and at the JSON Pointer the
//! same node would have in the JSON encoding.

use super::{ResourceSpans, Span};
use crate::otlp_wire::{Bad, Field, Reader};
use crate::text::file_diag;
use crate::{Diagnostic, Input, Severity};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `(key, string value)` of a `KeyValue` whose value is a string.
fn key_value(buf: &[u8], base: usize) -> Result<(String, Option<String>), Bad> {
    let mut r = Reader::new(buf, base);
    let (mut key, mut value) = (String::new(), None);
    while let Some((num, at, f)) = r.next()? {
        match (num, f) {
            (1, Field::Bytes(b)) => key = utf8(b),
            (2, Field::Bytes(any)) => {
                let mut a = Reader::new(any, at);
                while let Some((n, _, f)) = a.next()? {
                    if let (1, Field::Bytes(s)) = (n, f) {
                        value = Some(utf8(s));
                    }
                }
            }
            _ => {}
        }
    }
    Ok((key, value))
}

fn span(buf: &[u8], base: usize, service: &str) -> Result<Option<Span>, Bad> {
    let mut r = Reader::new(buf, base);
    let (mut trace, mut id, mut parent, mut name) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    let (mut kind, mut start, mut end, mut error) = (0u64, None, None, false);
    let (mut peer, mut db) = (None, None);
    while let Some((num, at, f)) = r.next()? {
        match (num, f) {
            (1, Field::Bytes(b)) => trace = b.to_vec(),
            (2, Field::Bytes(b)) => id = b.to_vec(),
            (4, Field::Bytes(b)) => parent = b.to_vec(),
            (5, Field::Bytes(b)) => name = utf8(b),
            (6, Field::Varint(v)) => kind = v,
            (7, Field::Fixed64(v)) => start = Some(v),
            (8, Field::Fixed64(v)) => end = Some(v),
            (9, Field::Bytes(b)) => match key_value(b, at)? {
                (k, Some(v)) if k == "peer.service" => peer = Some(v),
                (k, Some(v)) if k == "db.system" => db = Some(v),
                _ => {}
            },
            (15, Field::Bytes(b)) => {
                let mut s = Reader::new(b, at);
                while let Some((n, _, f)) = s.next()? {
                    if let (3, Field::Varint(2)) = (n, f) {
                        error = true;
                    }
                }
            }
            _ => {}
        }
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(None);
    };
    if trace.is_empty() || id.is_empty() || end < start {
        return Ok(None);
    }
    Ok(Some(Span {
        trace: hex(&trace),
        id: hex(&id),
        parent: (!parent.is_empty() && parent.iter().any(|b| *b != 0)).then(|| hex(&parent)),
        service: service.to_owned(),
        name: if name.is_empty() {
            "unnamed".into()
        } else {
            name
        },
        start,
        end,
        error,
        client: matches!(kind, 3 | 4),
        server: matches!(kind, 2 | 5),
        peer,
        db_system: db,
        file: 0,
    }))
}

/// A wire-format problem: where (byte offset), what, and the JSON Pointer of the node.
pub(super) struct WireError {
    pub(super) offset: usize,
    pub(super) what: &'static str,
    pub(super) pointer: String,
}

/// Decodes a protobuf trace export into its resources (string attributes and spans); also
/// returns how many spans were skipped for lacking ids or times.
pub(super) fn resources(bytes: &[u8]) -> Result<(Vec<ResourceSpans>, usize), WireError> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let fail = |Bad(offset, what): Bad, pointer: String| WireError {
        offset,
        what,
        pointer,
    };
    let mut top = Reader::new(bytes, 0);
    let mut r_idx = 0usize;
    while let Some((num, at, f)) = top.next().map_err(|b| fail(b, String::new()))? {
        let (1, Field::Bytes(rs)) = (num, f) else {
            continue;
        };
        let here = format!("/resourceSpans/{r_idx}");
        r_idx += 1;
        let mut attributes: Vec<(String, String)> = Vec::new();
        let mut scopes: Vec<(usize, &[u8])> = Vec::new();
        let mut r = Reader::new(rs, at);
        while let Some((n, at, f)) = r.next().map_err(|b| fail(b, here.clone()))? {
            match (n, f) {
                (1, Field::Bytes(res)) => {
                    let mut a = Reader::new(res, at);
                    while let Some((m, at, f)) =
                        a.next().map_err(|b| fail(b, format!("{here}/resource")))?
                    {
                        if let (1, Field::Bytes(kv)) = (m, f)
                            && let (k, Some(v)) = key_value(kv, at)
                                .map_err(|b| fail(b, format!("{here}/resource")))?
                        {
                            attributes.push((k, v));
                        }
                    }
                }
                (2 | 1000, Field::Bytes(ss)) => scopes.push((at, ss)),
                _ => {}
            }
        }
        let service = attributes
            .iter()
            .find(|(k, _)| k == "service.name")
            .map_or("unknown_service", |(_, v)| v.as_str())
            .to_owned();
        let mut spans = Vec::new();
        for (s_idx, (at, ss)) in scopes.into_iter().enumerate() {
            let mut r = Reader::new(ss, at);
            let mut i = 0usize;
            while let Some((n, at, f)) = r
                .next()
                .map_err(|b| fail(b, format!("{here}/scopeSpans/{s_idx}")))?
            {
                if let (2, Field::Bytes(sp)) = (n, f) {
                    let ptr = format!("{here}/scopeSpans/{s_idx}/spans/{i}");
                    i += 1;
                    match span(sp, at, &service).map_err(|b| fail(b, ptr))? {
                        Some(s) => spans.push(s),
                        None => skipped += 1,
                    }
                }
            }
        }
        out.push(ResourceSpans { attributes, spans });
    }
    Ok((out, skipped))
}

/// The spans of a protobuf-encoded trace export.
pub(super) fn spans(input: &Input<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let (out, skipped) = match resources(input.bytes) {
        Ok((rs, skipped)) => (rs.into_iter().flat_map(|r| r.spans).collect(), skipped),
        Err(WireError {
            offset,
            what,
            pointer,
        }) => {
            diags.push(file_diag(
                input.name,
                Severity::Error,
                (1, u32::try_from(offset + 1).unwrap_or(u32::MAX)),
                &pointer,
                format!("not a valid OTLP protobuf trace export: {what} at byte {offset}"),
            ));
            (Vec::new(), 0)
        }
    };
    if skipped > 0 {
        diags.push(file_diag(
            input.name,
            Severity::Warning,
            (1, 1),
            "",
            format!("{skipped} spans without ids or times were skipped"),
        ));
    }
    out
}

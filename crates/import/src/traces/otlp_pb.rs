//! OTLP traces in protobuf (an `ExportTraceServiceRequest` as OTLP/HTTP posts it, or a
//! `TracesData`, which has the same field 1), decoded from the wire format directly: only the
//! fields the call graph needs are read, everything else is skipped. Field numbers are those of
//! `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`.
//!
//! Diagnostics point at the byte offset (line 1, column offset + 1) and at the JSON Pointer the
//! same node would have in the JSON encoding.

use super::Span;
use crate::text::file_diag;
use crate::{Diagnostic, Input, Severity};

/// A wire-format problem at a byte offset.
struct Bad(usize, &'static str);

/// One field: number, and its payload.
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole file, for diagnostics.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, Bad> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(Bad(self.at(), "truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Bad(self.at(), "varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or(Bad(
            self.at(),
            "field runs past the end of its message (truncated?)",
        ))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end of the message.
    fn next(&mut self) -> Result<Option<(u64, usize, Field<'a>)>, Bad> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        if num == 0 {
            return Err(Bad(self.at(), "field number 0"));
        }
        let start = self.at();
        let f = match wire {
            0 => Field::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Field::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| Bad(self.at(), "length too large"))?;
                let start = self.at();
                return Ok(Some((num, start, Field::Bytes(self.take(n)?))));
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            _ => {
                return Err(Bad(
                    self.at(),
                    "unsupported wire type (groups are not used by OTLP)",
                ));
            }
        };
        Ok(Some((num, start, f)))
    }
}

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
        peer,
        db_system: db,
        file: 0,
    }))
}

/// The spans of a protobuf-encoded trace export.
pub(super) fn spans(input: &Input<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let result = (|| -> Result<(), (Bad, String)> {
        let mut top = Reader::new(input.bytes, 0);
        let mut r_idx = 0usize;
        while let Some((num, at, f)) = top.next().map_err(|b| (b, String::new()))? {
            let (1, Field::Bytes(rs)) = (num, f) else {
                continue;
            };
            let here = format!("/resourceSpans/{r_idx}");
            r_idx += 1;
            let mut service = "unknown_service".to_owned();
            let mut scopes: Vec<(usize, &[u8])> = Vec::new();
            let mut r = Reader::new(rs, at);
            while let Some((n, at, f)) = r.next().map_err(|b| (b, here.clone()))? {
                match (n, f) {
                    (1, Field::Bytes(res)) => {
                        let mut a = Reader::new(res, at);
                        while let Some((m, at, f)) =
                            a.next().map_err(|b| (b, format!("{here}/resource")))?
                        {
                            if let (1, Field::Bytes(kv)) = (m, f)
                                && let (k, Some(v)) = key_value(kv, at)
                                    .map_err(|b| (b, format!("{here}/resource")))?
                                && k == "service.name"
                            {
                                service = v;
                            }
                        }
                    }
                    (2 | 1000, Field::Bytes(ss)) => scopes.push((at, ss)),
                    _ => {}
                }
            }
            for (s_idx, (at, ss)) in scopes.into_iter().enumerate() {
                let mut r = Reader::new(ss, at);
                let mut i = 0usize;
                while let Some((n, at, f)) = r
                    .next()
                    .map_err(|b| (b, format!("{here}/scopeSpans/{s_idx}")))?
                {
                    if let (2, Field::Bytes(sp)) = (n, f) {
                        let ptr = format!("{here}/scopeSpans/{s_idx}/spans/{i}");
                        i += 1;
                        match span(sp, at, &service).map_err(|b| (b, ptr))? {
                            Some(s) => out.push(s),
                            None => skipped += 1,
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err((Bad(offset, what), pointer)) = result {
        diags.push(file_diag(
            input.name,
            Severity::Error,
            (1, u32::try_from(offset + 1).unwrap_or(u32::MAX)),
            &pointer,
            format!("not a valid OTLP protobuf trace export: {what} at byte {offset}"),
        ));
    }
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

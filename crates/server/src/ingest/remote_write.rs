//! Prometheus remote-write v1: the `WriteRequest` protobuf (snappy block-compressed), decoded
//! by hand so a request's series are visited without allocating per label or sample.
//!
//! ```text
//! message WriteRequest { repeated TimeSeries timeseries = 1; ... }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; ... }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: Unix ms
//! ```
//! Fields this receiver does not use (metadata, exemplars, histograms) are skipped.

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The snappy block is corrupt or announces more than the size limit.
    #[error("snappy: {0}")]
    Snappy(String),
    /// The protobuf is malformed.
    #[error("protobuf: {0}")]
    Protobuf(&'static str),
}

/// Largest decompressed body accepted.
pub const MAX_DECODED: usize = 64 << 20;

/// Decompresses a snappy block body, refusing bodies that would exceed [`MAX_DECODED`].
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > MAX_DECODED {
        return Err(DecodeError::Snappy(format!(
            "decompressed size {len} exceeds the limit of {MAX_DECODED} bytes"
        )));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))
}

fn varint(b: &[u8], i: &mut usize) -> Result<u64, DecodeError> {
    let mut r: u64 = 0;
    for shift in (0..64).step_by(7) {
        let c = *b.get(*i).ok_or(DecodeError::Protobuf("truncated varint"))?;
        *i += 1;
        r |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return Ok(r);
        }
    }
    Err(DecodeError::Protobuf("varint too long"))
}

/// Reads one field's key; returns (field number, wire type).
fn key(b: &[u8], i: &mut usize) -> Result<(u64, u8), DecodeError> {
    let k = varint(b, i)?;
    Ok((k >> 3, (k & 7) as u8))
}

fn bytes<'a>(b: &'a [u8], i: &mut usize) -> Result<&'a [u8], DecodeError> {
    let len = usize::try_from(varint(b, i)?).map_err(|_| DecodeError::Protobuf("length"))?;
    let end = i
        .checked_add(len)
        .filter(|&e| e <= b.len())
        .ok_or(DecodeError::Protobuf("length runs past the end"))?;
    let s = &b[*i..end];
    *i = end;
    Ok(s)
}

fn skip(b: &[u8], i: &mut usize, wire: u8) -> Result<(), DecodeError> {
    match wire {
        0 => {
            varint(b, i)?;
        }
        1 => *i += 8,
        2 => {
            bytes(b, i)?;
        }
        5 => *i += 4,
        _ => return Err(DecodeError::Protobuf("unsupported wire type")),
    }
    if *i > b.len() {
        return Err(DecodeError::Protobuf("field runs past the end"));
    }
    Ok(())
}

fn fixed64(b: &[u8], i: &mut usize) -> Result<u64, DecodeError> {
    let s = b
        .get(*i..*i + 8)
        .ok_or(DecodeError::Protobuf("truncated fixed64"))?;
    *i += 8;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// One series of a request: labels (name, value) and samples (value, timestamp ms).
#[derive(Debug, Default)]
pub struct Series<'a> {
    /// Labels, in the order sent (Prometheus sends them sorted by name).
    pub labels: Vec<(&'a str, &'a str)>,
    /// Samples.
    pub samples: Vec<(f64, i64)>,
}

impl<'a> Series<'a> {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&'a str> {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

fn parse_series<'a>(b: &'a [u8], out: &mut Series<'a>) -> Result<(), DecodeError> {
    out.labels.clear();
    out.samples.clear();
    let mut i = 0;
    while i < b.len() {
        let (field, wire) = key(b, &mut i)?;
        match (field, wire) {
            (1, 2) => {
                let lb = bytes(b, &mut i)?;
                let (mut name, mut value) = ("", "");
                let mut j = 0;
                while j < lb.len() {
                    let (f, w) = key(lb, &mut j)?;
                    match (f, w) {
                        (1, 2) => {
                            name = std::str::from_utf8(bytes(lb, &mut j)?)
                                .map_err(|_| DecodeError::Protobuf("label name is not UTF-8"))?
                        }
                        (2, 2) => {
                            value = std::str::from_utf8(bytes(lb, &mut j)?)
                                .map_err(|_| DecodeError::Protobuf("label value is not UTF-8"))?
                        }
                        _ => skip(lb, &mut j, w)?,
                    }
                }
                out.labels.push((name, value));
            }
            (2, 2) => {
                let sb = bytes(b, &mut i)?;
                let (mut value, mut ts) = (0.0, 0i64);
                let mut j = 0;
                while j < sb.len() {
                    let (f, w) = key(sb, &mut j)?;
                    match (f, w) {
                        (1, 1) => value = f64::from_bits(fixed64(sb, &mut j)?),
                        (2, 0) => ts = varint(sb, &mut j)? as i64,
                        _ => skip(sb, &mut j, w)?,
                    }
                }
                out.samples.push((value, ts));
            }
            _ => skip(b, &mut i, wire)?,
        }
    }
    Ok(())
}

/// Visits every series of a decompressed `WriteRequest`, reusing one [`Series`] buffer.
pub fn for_each_series<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(&Series<'a>),
) -> Result<(), DecodeError> {
    let mut series = Series::default();
    let mut i = 0;
    while i < buf.len() {
        let (field, wire) = key(buf, &mut i)?;
        if (field, wire) == (1, 2) {
            let ts = bytes(buf, &mut i)?;
            parse_series(ts, &mut series)?;
            f(&series);
        } else {
            skip(buf, &mut i, wire)?;
        }
    }
    Ok(())
}

/// Checks the structure of a decompressed `WriteRequest` (every length, wire type and UTF-8
/// label) without building anything.
pub fn check(buf: &[u8]) -> Result<(), DecodeError> {
    let mut series = Series::default();
    let mut i = 0;
    while i < buf.len() {
        let (field, wire) = key(buf, &mut i)?;
        if (field, wire) == (1, 2) {
            parse_series(bytes(buf, &mut i)?, &mut series)?;
        } else {
            skip(buf, &mut i, wire)?;
        }
    }
    Ok(())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A series to encode: labels and samples (value, timestamp ms).
pub type OwnedSeries = (Vec<(String, String)>, Vec<(f64, i64)>);

/// Encodes a `WriteRequest` (uncompressed).
pub fn encode(series: &[OwnedSeries]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ts = Vec::new();
    let mut tmp = Vec::new();
    for (labels, samples) in series {
        ts.clear();
        for (n, v) in labels {
            tmp.clear();
            put_bytes(&mut tmp, 1, n.as_bytes());
            put_bytes(&mut tmp, 2, v.as_bytes());
            put_bytes(&mut ts, 1, &tmp);
        }
        for &(v, t) in samples {
            tmp.clear();
            put_varint(&mut tmp, 1 << 3 | 1);
            tmp.extend_from_slice(&v.to_bits().to_le_bytes());
            put_varint(&mut tmp, 2 << 3);
            put_varint(&mut tmp, t as u64);
            put_bytes(&mut ts, 2, &tmp);
        }
        put_bytes(&mut out, 1, &ts);
    }
    out
}

/// Snappy block compression, as remote-write senders do.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_node_exporter_sample() {
        // A real WriteRequest captured from node_exporter (see test_data/PROVENANCE.tsv); its
        // counts were taken with an independent protobuf walk: 1148 series, one sample each,
        // 220 metric names, the first `node_processes_threads_state{instance="host-1306"}` = 5.
        let raw = include_bytes!("../../test_data/remote_write_v1_node_exporter.WriteRequest.pb");
        let (mut series, mut samples) = (0, 0);
        let mut names = std::collections::HashSet::new();
        let mut first = None;
        for_each_series(raw, |s| {
            series += 1;
            samples += s.samples.len();
            if let Some(n) = s.label("__name__") {
                names.insert(n.to_string());
            }
            if first.is_none() {
                first = Some((
                    s.label("__name__").map(str::to_string),
                    s.label("instance").map(str::to_string),
                    s.samples[0].0,
                ));
            }
        })
        .expect("decodes");
        assert_eq!((series, samples, names.len()), (1148, 1148, 220));
        assert_eq!(
            first,
            Some((
                Some("node_processes_threads_state".into()),
                Some("host-1306".into()),
                5.0
            ))
        );
        // Through snappy and back.
        let body = compress(raw);
        assert_eq!(decompress(&body).expect("snappy"), raw.to_vec());
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let req = vec![(
            vec![("__name__".to_string(), "up".to_string())],
            vec![(1.5, 1_700_000_000_123), (-2.0, 1_700_000_001_000)],
        )];
        let raw = encode(&req);
        let mut got = Vec::new();
        for_each_series(&raw, |s| got.push((s.labels.clone(), s.samples.clone()))).expect("ok");
        assert_eq!(got[0].0, vec![("__name__", "up")]);
        assert_eq!(got[0].1, req[0].1);
        assert!(for_each_series(&raw[..raw.len() - 3], |_| {}).is_err());
        assert!(for_each_series(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], |_| {}).is_err());
        assert!(decompress(b"not snappy at all").is_err());
    }
}

//! Web access logs: NCSA Common and Combined (as nginx and Apache write them) and JSON lines
//! read through a field mapping. Logs are read line by line from any [`BufRead`] the caller
//! opens, so memory stays bounded whatever the file's size (a line longer than
//! [`MAX_LINE_BYTES`] is skipped and reported). A line that does not parse is counted and
//! yields a [`Diagnostic`] naming the file, line, column and field; automated clients are
//! flagged ([`ua::is_bot`]). Nothing here panics on input.
//!
//! ```
//! use doppel_import::access_log::{AccessLogReader, Format};
//! let log = b"203.0.113.9 - - [28/Nov/2026:10:00:00 +0000] \"GET /product/42 HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 (iPhone)\"\n";
//! let mut reader = AccessLogReader::new(&log[..], "access.log", Format::Auto);
//! let record = reader.next().unwrap().unwrap();
//! assert_eq!((record.method.as_str(), record.path.as_str(), record.status), ("GET", "/product/42", 200));
//! assert_eq!(reader.stats().records, 1);
//! ```

mod json;
mod ncsa;
pub mod time;
pub mod traces;
pub mod ua;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::BufRead;

pub use json::{JsonMapping, LatencyUnit};

use crate::diag::{Diagnostic, Severity};

/// Longest line read, in bytes; longer lines are skipped (and reported) without being held.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One request from an access log.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Line number in its file, from 1.
    pub line: u64,
    /// When, in Unix seconds (UTC).
    pub time: f64,
    /// The offset from UTC the time was written in, in seconds.
    pub utc_offset_s: i32,
    /// Client address as logged.
    pub ip: String,
    /// The authenticated user (`%u` / `$remote_user`), when logged.
    pub user: Option<String>,
    /// HTTP method, upper case.
    pub method: String,
    /// Path without query string or fragment.
    pub path: String,
    /// Query string, without the `?`.
    pub query: Option<String>,
    /// Response status.
    pub status: u16,
    /// Response body bytes.
    pub bytes: u64,
    /// Referer, when logged and not `-`.
    pub referer: Option<String>,
    /// User agent as logged (empty when the format has none).
    pub user_agent: String,
    /// Request duration in seconds, when logged.
    pub latency_s: Option<f64>,
    /// A stable client identifier from the log (JSON mapping `client_id`).
    pub client_id: Option<String>,
    /// Extra attributes the JSON mapping asked for (`region`, `plan`...).
    pub attributes: BTreeMap<String, String>,
    /// Whether the user agent is an automated client's.
    pub bot: bool,
}

/// Which format the lines are in.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Format {
    /// NCSA Common or Combined (told apart per line by the number of fields).
    Ncsa,
    /// JSON lines, read through the mapping.
    Json(Box<JsonMapping>),
    /// Decided on the first non-blank line: JSON when it starts with `{`, else NCSA.
    #[default]
    Auto,
}

/// Why a line did not parse: where and which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based column in characters.
    pub col: u32,
    /// The field concerned (`time`, `request`, `status`...).
    pub field: String,
    /// What was wrong.
    pub message: String,
}

impl LineError {
    fn new(col: u32, field: &str, message: impl Into<String>) -> Self {
        LineError {
            col,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Parses one line in the given format (`Auto` decides on this line alone).
pub fn parse_line(line: &str, format: &Format) -> Result<Record, LineError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut record = match format {
        Format::Json(m) => json::parse(line, m)?,
        Format::Ncsa => ncsa::parse(line)?,
        Format::Auto if line.trim_start().starts_with('{') => {
            json::parse(line, &JsonMapping::default())?
        }
        Format::Auto => ncsa::parse(line)?,
    };
    record.bot = !record.user_agent.is_empty() && ua::is_bot(&record.user_agent);
    Ok(record)
}

/// What a reader has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStats {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Blank lines (skipped silently).
    pub blank: u64,
    /// Lines that parsed.
    pub records: u64,
    /// Lines that did not (each yielded a diagnostic).
    pub malformed: u64,
    /// Parsed records flagged as bots.
    pub bots: u64,
    /// Bytes consumed from the input.
    pub bytes: u64,
}

/// Reads records line by line from a [`BufRead`]: an iterator of records, or of diagnostics
/// for lines that did not parse. After an IO error it yields that error once and stops.
#[derive(Debug)]
pub struct AccessLogReader<R> {
    input: R,
    name: String,
    format: Format,
    stats: ReadStats,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> AccessLogReader<R> {
    /// A reader of `input`, named `name` in diagnostics.
    pub fn new(input: R, name: &str, format: Format) -> Self {
        AccessLogReader {
            input,
            name: name.to_owned(),
            format,
            stats: ReadStats::default(),
            buf: Vec::new(),
            done: false,
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The name diagnostics use.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn diag(&self, col: u32, pointer: &str, severity: Severity, message: String) -> Diagnostic {
        Diagnostic {
            file: self.name.clone(),
            line: u32::try_from(self.stats.lines).unwrap_or(u32::MAX),
            col,
            pointer: pointer.to_owned(),
            severity,
            message,
        }
    }

    /// Reads one line into `buf`, keeping at most [`MAX_LINE_BYTES`]. Returns whether a line
    /// was read and whether it was cut.
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let mut any = false;
        let mut cut = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(any.then_some(cut));
            }
            any = true;
            let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
            let keep = take.min(room);
            self.buf.extend_from_slice(&chunk[..keep]);
            if keep < take {
                cut = true;
            }
            self.input.consume(take);
            self.stats.bytes += take as u64;
            if end {
                return Ok(Some(cut));
            }
        }
    }
}

impl<R: BufRead> Iterator for AccessLogReader<R> {
    type Item = Result<Record, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let cut = match self.read_line() {
                Ok(Some(cut)) => cut,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    self.stats.lines += 1;
                    return Some(Err(self.diag(
                        1,
                        "",
                        Severity::Error,
                        format!("cannot read on: {e}"),
                    )));
                }
            };
            self.stats.lines += 1;
            if cut {
                self.stats.malformed += 1;
                return Some(Err(self.diag(
                    1,
                    "/line",
                    Severity::Warning,
                    format!("line longer than {MAX_LINE_BYTES} bytes, skipped"),
                )));
            }
            let text = String::from_utf8_lossy(&self.buf);
            let line = text.trim_end_matches(['\r', '\n']);
            let line = if self.stats.lines == 1 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            if line.trim().is_empty() {
                self.stats.blank += 1;
                continue;
            }
            if self.format == Format::Auto {
                self.format = if line.trim_start().starts_with('{') {
                    Format::Json(Box::default())
                } else {
                    Format::Ncsa
                };
            }
            return Some(match parse_line(line, &self.format) {
                Ok(mut r) => {
                    r.line = self.stats.lines;
                    self.stats.records += 1;
                    if r.bot {
                        self.stats.bots += 1;
                    }
                    Ok(r)
                }
                Err(e) => {
                    self.stats.malformed += 1;
                    let message = format!("malformed line, skipped: {}", e.message);
                    Err(self.diag(e.col, &format!("/{}", e.field), Severity::Warning, message))
                }
            });
        }
    }
}

/// Reads a whole in-memory log (tests, small files): the records, a diagnostic per malformed
/// line, and the counts; a warning when no line parsed.
pub fn read_all(
    name: &str,
    bytes: &[u8],
    format: Format,
) -> (Vec<Record>, Vec<Diagnostic>, ReadStats) {
    let mut reader = AccessLogReader::new(bytes, name, format);
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
                "no access-log record in {} lines ({} malformed)",
                stats.lines, stats.malformed
            ),
        });
    }
    (records, diags, stats)
}

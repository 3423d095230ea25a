//! Shared reading helpers: bytes to text, JSON with positions, multi-document YAML with
//! positions (through the model's hardened YAML reader), and stable entity names.

use std::collections::{HashMap, HashSet};

use doppel_model::yaml::{self, SpanIndex};
use serde_json::Value;

use crate::diag::{Diagnostic, Severity};
use crate::{Input, MAX_INPUT_BYTES};

/// Most YAML nodes accepted over all the documents of one file (each document is also bounded
/// by the model's reader), so a file of many alias bombs cannot exhaust memory.
const MAX_TOTAL_NODES: usize = 4_000_000;

/// A diagnostic about a whole file, or a place in it.
pub(crate) fn file_diag(
    file: &str,
    severity: Severity,
    (line, col): (u32, u32),
    pointer: &str,
    message: impl Into<String>,
) -> Diagnostic {
    Diagnostic {
        file: file.to_owned(),
        line,
        col,
        pointer: pointer.to_owned(),
        severity,
        message: message.into(),
    }
}

/// The input as UTF-8 text (a leading byte-order mark is dropped), or an error diagnostic.
pub(crate) fn decode<'a>(input: &Input<'a>, diags: &mut Vec<Diagnostic>) -> Option<&'a str> {
    if input.bytes.len() > MAX_INPUT_BYTES {
        diags.push(file_diag(
            input.name,
            Severity::Error,
            (1, 1),
            "",
            format!(
                "file is {} bytes, more than the {MAX_INPUT_BYTES} an import accepts",
                input.bytes.len()
            ),
        ));
        return None;
    }
    match std::str::from_utf8(input.bytes) {
        Ok(t) => Some(t.strip_prefix('\u{feff}').unwrap_or(t)),
        Err(e) => {
            let good = input.bytes.get(..e.valid_up_to()).unwrap_or_default();
            diags.push(file_diag(
                input.name,
                Severity::Error,
                line_col(good),
                "",
                "file is not valid UTF-8 text",
            ));
            None
        }
    }
}

/// 1-based line and column just after `before`.
fn line_col(before: &[u8]) -> (u32, u32) {
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let last = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(before, |i| before.get(i + 1..).unwrap_or_default());
    let col = 1 + String::from_utf8_lossy(last).chars().count();
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// A JSON input, parsed, with its text kept to place diagnostics.
pub(crate) struct JsonFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
    pub value: Value,
}

impl JsonFile<'_> {
    /// A diagnostic at the node `pointer` points to (or its nearest existing ancestor).
    pub fn diag(
        &self,
        severity: Severity,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        // Placed later, all at once, by [`place`]: locating one by one would rescan the file.
        file_diag(self.name, severity, (0, 0), pointer, message)
    }
}

/// Parses a JSON input; syntax errors (truncation, junk) become one error diagnostic with the
/// line and column serde_json reports. Nesting deeper than 128 levels is refused by the parser.
pub(crate) fn read_json<'a>(
    input: &Input<'a>,
    diags: &mut Vec<Diagnostic>,
) -> Option<JsonFile<'a>> {
    let text = decode(input, diags)?;
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Some(JsonFile {
            name: input.name,
            text,
            value,
        }),
        Err(e) => {
            let what = match e.classify() {
                serde_json::error::Category::Eof => {
                    "file ends in the middle of a JSON value (truncated?)"
                }
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Data | serde_json::error::Category::Io => {
                    "unreadable JSON"
                }
            };
            // serde_json's messages hold no input text, only what was expected.
            let detail = e.to_string();
            let detail = detail.split(" at line ").next().unwrap_or_default();
            diags.push(file_diag(
                input.name,
                Severity::Error,
                (
                    u32::try_from(e.line().max(1)).unwrap_or(u32::MAX),
                    u32::try_from(e.column().max(1)).unwrap_or(u32::MAX),
                ),
                "",
                format!("{what}: {detail}"),
            ));
            None
        }
    }
}

/// Gives every diagnostic about `files` that has no position yet (line 0) the line and
/// column of the node its pointer names (or of its nearest ancestor), in one pass per file.
pub(crate) fn place(files: &[JsonFile<'_>], diags: &mut [Diagnostic]) {
    for file in files {
        let mut wanted: HashSet<String> = HashSet::new();
        for d in diags.iter().filter(|d| d.line == 0 && d.file == file.name) {
            let mut p = d.pointer.as_str();
            loop {
                wanted.insert(p.to_owned());
                match p.rfind('/') {
                    Some(i) => p = &p[..i],
                    None => break,
                }
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let found = locate_all(file.text, &wanted);
        for d in diags
            .iter_mut()
            .filter(|d| d.line == 0 && d.file == file.name)
        {
            let mut p = d.pointer.as_str();
            let at = loop {
                if let Some(at) = found.get(p) {
                    break *at;
                }
                match p.rfind('/') {
                    Some(i) => p = &p[..i],
                    None => break (1, 1),
                }
            };
            (d.line, d.col) = at;
        }
    }
}

enum Frame {
    Obj(usize),
    Arr(usize, usize),
}

/// The positions of the values at the `wanted` pointers, found in one scan of `text`.
fn locate_all(text: &str, wanted: &HashSet<String>) -> HashMap<String, (u32, u32)> {
    let bytes = text.as_bytes();
    let mut found = HashMap::new();
    let mut path = String::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Incremental line/column: offsets recorded only grow.
    let (mut line, mut col, mut at) = (1u32, 1u32, 0usize);
    let mut record = |pos: usize, path: &str, found: &mut HashMap<String, (u32, u32)>| {
        if !wanted.contains(path) || found.contains_key(path) {
            return;
        }
        let Some(chunk) = text.get(at..pos) else {
            return;
        };
        for c in chunk.chars() {
            if c == '\n' {
                line = line.saturating_add(1);
                col = 1;
            } else {
                col = col.saturating_add(1);
            }
        }
        at = pos;
        found.insert(path.to_owned(), (line, col));
    };
    let mut i = skip_ws(bytes, 0);
    'value: loop {
        // A value starts at `i`.
        record(i, &path, &mut found);
        if found.len() == wanted.len() {
            break;
        }
        match bytes.get(i) {
            Some(b'{') => {
                i = skip_ws(bytes, i + 1);
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    let Some((after, key)) = read_string(bytes, i) else {
                        break;
                    };
                    let len = path.len();
                    path.push('/');
                    path.push_str(&tok(&key));
                    stack.push(Frame::Obj(len));
                    i = skip_ws(bytes, after);
                    if bytes.get(i) != Some(&b':') {
                        break;
                    }
                    i = skip_ws(bytes, i + 1);
                    continue 'value;
                }
            }
            Some(b'[') => {
                i = skip_ws(bytes, i + 1);
                if bytes.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    let len = path.len();
                    path.push_str("/0");
                    stack.push(Frame::Arr(len, 0));
                    continue 'value;
                }
            }
            Some(_) => match skip_value(bytes, i) {
                Some(next) => i = next,
                None => break,
            },
            None => break,
        }
        // A value ended before `i`: move to the next sibling or close containers.
        loop {
            i = skip_ws(bytes, i);
            match (stack.last_mut(), bytes.get(i)) {
                (Some(Frame::Obj(len)), Some(b',')) => {
                    let len = *len;
                    path.truncate(len);
                    i = skip_ws(bytes, i + 1);
                    let Some((after, key)) = read_string(bytes, i) else {
                        break 'value;
                    };
                    path.push('/');
                    path.push_str(&tok(&key));
                    i = skip_ws(bytes, after);
                    if bytes.get(i) != Some(&b':') {
                        break 'value;
                    }
                    i = skip_ws(bytes, i + 1);
                    continue 'value;
                }
                (Some(Frame::Arr(len, idx)), Some(b',')) => {
                    *idx += 1;
                    let (len, idx) = (*len, *idx);
                    path.truncate(len);
                    path.push('/');
                    path.push_str(&idx.to_string());
                    i = skip_ws(bytes, i + 1);
                    continue 'value;
                }
                (Some(Frame::Obj(len)), Some(b'}')) | (Some(Frame::Arr(len, _)), Some(b']')) => {
                    path.truncate(*len);
                    stack.pop();
                    i += 1;
                }
                _ => break 'value,
            }
        }
    }
    found
}

/// The line and column of the value at `pointer` in JSON `text`, or of the deepest ancestor
/// that exists. Scans the text without building values; (1, 1) when the text is not JSON.
#[cfg(test)]
pub(crate) fn json_locate(text: &str, pointer: &str) -> (u32, u32) {
    let mut wanted = HashSet::new();
    let mut p = pointer;
    loop {
        wanted.insert(p.to_owned());
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => break,
        }
    }
    let found = locate_all(text, &wanted);
    let mut p = pointer;
    loop {
        if let Some(at) = found.get(p) {
            return *at;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return (1, 1),
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end of the string starting at `i` (which holds `"`), and its decoded text.
fn read_string(bytes: &[u8], i: usize) -> Option<(usize, String)> {
    let mut j = i + 1;
    let mut out = Vec::new();
    loop {
        match *bytes.get(j)? {
            b'"' => return Some((j + 1, String::from_utf8_lossy(&out).into_owned())),
            b'\\' => {
                let esc = *bytes.get(j + 1)?;
                match esc {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let hex = std::str::from_utf8(bytes.get(j + 2..j + 6)?).ok()?;
                        let c = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        j += 4;
                    }
                    other => out.push(other),
                }
                j += 2;
            }
            b => {
                out.push(b);
                j += 1;
            }
        }
    }
}

/// The index just past the value starting at `i`.
fn skip_value(bytes: &[u8], i: usize) -> Option<usize> {
    match *bytes.get(i)? {
        b'"' => Some(read_string(bytes, i)?.0),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *bytes.get(j)? {
                    b'"' => {
                        j = read_string(bytes, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(b) = bytes.get(j) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                j += 1;
            }
            Some(j)
        }
    }
}

/// One YAML document of a file.
pub(crate) struct YamlDoc {
    pub value: Value,
    spans: SpanIndex,
    line_offset: u32,
}

/// A YAML input split into its documents.
pub(crate) struct YamlFile<'a> {
    pub name: &'a str,
    pub docs: Vec<YamlDoc>,
}

impl YamlFile<'_> {
    /// A diagnostic at `pointer` inside document `doc`.
    pub fn diag(
        &self,
        severity: Severity,
        doc: usize,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, col) = self.docs.get(doc).map_or((1, 1), |d| {
            let loc = d.spans.value(pointer);
            (loc.line.saturating_add(d.line_offset), loc.col)
        });
        let pointer = if self.docs.len() > 1 {
            format!("/{doc}{pointer}")
        } else {
            pointer.to_owned()
        };
        file_diag(self.name, severity, (line, col), &pointer, message)
    }
}

/// Splits a YAML stream into documents at `---` lines and parses each with the model's reader
/// (which refuses alias bombs, deep nesting and duplicate keys). Empty documents are dropped.
/// A document with a syntax error is reported and skipped; the others are kept.
pub(crate) fn read_yaml<'a>(
    input: &Input<'a>,
    diags: &mut Vec<Diagnostic>,
) -> Option<YamlFile<'a>> {
    let text = decode(input, diags)?;
    let mut file = YamlFile {
        name: input.name,
        docs: Vec::new(),
    };
    let mut total_nodes = 0usize;
    for (start_line, chunk) in split_documents(text) {
        let offset = start_line.saturating_sub(1);
        match yaml::parse(chunk) {
            Ok(yaml::Parsed {
                value,
                index: spans,
                errors,
            }) => {
                // Duplicate keys and bad scalars: the parser kept going; say so.
                for e in errors {
                    diags.push(file_diag(
                        input.name,
                        Severity::Warning,
                        (offset.saturating_add(e.loc.line), e.loc.col),
                        &e.pointer,
                        hide_quoted(&e.message),
                    ));
                }
                if value.as_object().is_some_and(|o| o.is_empty()) || value.is_null() {
                    continue;
                }
                total_nodes = total_nodes.saturating_add(count_nodes(&value));
                if total_nodes > MAX_TOTAL_NODES {
                    diags.push(file_diag(
                        input.name,
                        Severity::Error,
                        (start_line, 1),
                        "",
                        format!(
                            "the documents expand to more than {MAX_TOTAL_NODES} nodes (alias bomb?); the rest of the file is skipped"
                        ),
                    ));
                    break;
                }
                file.docs.push(YamlDoc {
                    value,
                    spans,
                    line_offset: offset,
                });
            }
            Err(errors) => {
                for e in errors {
                    diags.push(file_diag(
                        input.name,
                        Severity::Error,
                        (e.loc.line.saturating_add(offset), e.loc.col),
                        &e.pointer,
                        hide_quoted(&e.message),
                    ));
                }
            }
        }
    }
    Some(file)
}

/// Replaces text quoted in backticks (which may be input, hence a secret) by `…`.
fn hide_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for part in message.split('`') {
        if inside {
            out.push_str("`…`");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

/// The documents of a YAML stream with the line each starts on. A line starting with `---`
/// (followed by nothing or a space) begins a document; `...` ends one. YAML forbids such lines
/// inside a document's content, so the split is exact.
fn split_documents(text: &str) -> Vec<(u32, &str)> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    let mut line_no = 1u32;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| {
            bare.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") {
            if let Some(chunk) = text.get(start..offset) {
                docs.push((start_line, chunk));
            }
            start = offset;
            start_line = line_no;
        } else if marker("...") {
            if let Some(chunk) = text.get(start..offset) {
                docs.push((start_line, chunk));
            }
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
        line_no = line_no.saturating_add(1);
    }
    if let Some(chunk) = text.get(start..) {
        docs.push((start_line, chunk));
    }
    docs
}

fn count_nodes(v: &Value) -> usize {
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    n
}

/// A stable entity name from a source's name: letters, digits, `.`, `_` and `-` are kept,
/// every other run of characters becomes one `-`.
pub(crate) fn name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "unnamed".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A plain synchronous call to `service` (made once, with `probability`).
pub(crate) fn call(service: &str, endpoint: Option<&str>, probability: f64) -> doppel_model::Call {
    doppel_model::Call {
        service: service.to_owned(),
        endpoint: endpoint.map(str::to_owned),
        probability,
        count: 1,
        timeout: None,
        retries: None,
        circuit_breaker: None,
        is_async: false,
        optional: false,
    }
}

/// Escapes one JSON Pointer token.
pub(crate) fn tok(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A string field of a JSON object.
pub(crate) fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// Adds `item` to `list` unless it is already there.
pub(crate) fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pointers_are_located() {
        let text = "{\n  \"a\": [1, {\"b\": \"x,y\"}],\n  \"c~/\": {\"d\": null}\n}";
        assert_eq!(json_locate(text, ""), (1, 1));
        assert_eq!(json_locate(text, "/a"), (2, 8));
        assert_eq!(json_locate(text, "/a/1"), (2, 12));
        assert_eq!(json_locate(text, "/a/1/b"), (2, 18));
        assert_eq!(json_locate(text, "/c~0~1/d"), (3, 16));
        // Missing keys fall back to the deepest ancestor found.
        assert_eq!(json_locate(text, "/a/7"), (2, 8));
        assert_eq!(json_locate("not json", "/x"), (1, 1));
    }

    #[test]
    fn yaml_streams_split_into_documents_with_lines() {
        let docs = split_documents("# c\n---\na: 1\n--- \nb: 2\n...\n---\nc: 3\n");
        let starts: Vec<u32> = docs.iter().map(|d| d.0).collect();
        assert_eq!(starts, vec![1, 2, 4, 7, 7]);
        let mut diags = Vec::new();
        let input = Input {
            name: "m.yaml",
            bytes: b"a: 1\n---\nb: [1, 2\n---\nc: 3\n",
        };
        let file = read_yaml(&input, &mut diags).unwrap();
        assert_eq!(file.docs.len(), 2);
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].line, diags[0].file.as_str()), (4, "m.yaml"));
    }

    #[test]
    fn names_are_stable_and_plain() {
        assert_eq!(name("aws_instance.web[0]"), "aws_instance.web-0");
        assert_eq!(name("  "), "unnamed");
        assert_eq!(name("Port 10/x"), "Port-10-x");
    }

    #[test]
    fn yaml_errors_hide_quoted_input() {
        assert_eq!(
            hide_quoted("`hunter2` does not match its tag"),
            "`…` does not match its tag"
        );
    }
}

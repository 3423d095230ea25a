//! The NCSA Common and Combined log formats, as Apache (`%h %l %u %t \"%r\" %>s %b` plus
//! `\"%{Referer}i\" \"%{User-agent}i\"`) and nginx (`$remote_addr - $remote_user [$time_local]
//! \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"`) write them.
//! Fields after the user agent (nginx and Apache configurations often append some) are
//! ignored. Quoted fields may contain `\"` (Apache) and `\xHH` (nginx) escapes.

use super::{LineError, Record, time};

/// One field of a line: its text and the 1-based column where it starts.
struct Field {
    text: String,
    col: u32,
}

/// Splits a line into fields: bare words, `[bracketed]` and `"quoted"` (escapes decoded).
fn fields(line: &str) -> Result<Vec<Field>, LineError> {
    let mut out = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        let col = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut text = String::new();
        match c {
            '"' => {
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' if i + 1 < chars.len() => {
                            let n = chars[i + 1];
                            if n == 'x' && i + 3 < chars.len() {
                                let hex: String = chars[i + 2..i + 4].iter().collect();
                                if let Ok(b) = u8::from_str_radix(&hex, 16) {
                                    text.push(char::from(b));
                                    i += 4;
                                    continue;
                                }
                            }
                            text.push(n);
                            i += 2;
                        }
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        other => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    return Err(LineError::new(col, "field", "unterminated quoted field"));
                }
            }
            '[' => {
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    if chars[i] == ']' {
                        closed = true;
                        i += 1;
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                if !closed {
                    return Err(LineError::new(col, "time", "unterminated [time] field"));
                }
            }
            _ => {
                while i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
                    text.push(chars[i]);
                    i += 1;
                }
            }
        }
        out.push(Field { text, col });
    }
    Ok(out)
}

fn dash(s: &str) -> Option<String> {
    (s != "-" && !s.is_empty()).then(|| s.to_owned())
}

/// Splits `GET /path?query HTTP/1.1` into method, path and query.
pub(super) fn request_line(
    req: &str,
    col: u32,
) -> Result<(String, String, Option<String>), LineError> {
    let mut parts = req.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(LineError::new(
            col,
            "request",
            format!("request `{}` is not `METHOD PATH [PROTOCOL]`", clip(req)),
        ));
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase()) || method.len() > 16 {
        return Err(LineError::new(
            col,
            "request",
            format!("`{}` is not an HTTP method", clip(method)),
        ));
    }
    let (path, query) = split_target(target);
    if !path.starts_with('/') && path != "*" {
        return Err(LineError::new(
            col,
            "request",
            format!("request target `{}` is not a path", clip(target)),
        ));
    }
    Ok((method.to_owned(), path, query))
}

/// Path and query of a request target; an absolute URL (`http://host/path`) keeps its path.
pub(super) fn split_target(target: &str) -> (String, Option<String>) {
    let target = match target.find("://") {
        Some(at) => {
            let after = &target[at + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        None => target,
    };
    let no_fragment = target.split('#').next().unwrap_or(target);
    match no_fragment.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (no_fragment.to_owned(), None),
    }
}

/// At most 60 characters of a value, for messages.
pub(super) fn clip(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_owned()
    } else {
        let head: String = s.chars().take(57).collect();
        format!("{head}...")
    }
}

/// Parses one NCSA Common or Combined line.
pub(super) fn parse(line: &str) -> Result<Record, LineError> {
    let f = fields(line)?;
    if f.len() < 7 {
        return Err(LineError::new(
            1,
            "line",
            format!(
                "{} fields, but the common log format has 7 (host ident user [time] \"request\" status bytes)",
                f.len()
            ),
        ));
    }
    let stamp = time::parse_ncsa(&f[3].text).ok_or_else(|| {
        LineError::new(
            f[3].col,
            "time",
            format!(
                "`{}` is not a time like 10/Oct/2000:13:55:36 -0700",
                clip(&f[3].text)
            ),
        )
    })?;
    let (method, path, query) = request_line(&f[4].text, f[4].col)?;
    let status: u16 = f[5]
        .text
        .parse()
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| {
            LineError::new(
                f[5].col,
                "status",
                format!("status `{}` is not an HTTP status code", clip(&f[5].text)),
            )
        })?;
    let bytes = if f[6].text == "-" {
        0
    } else {
        f[6].text.parse().map_err(|_| {
            LineError::new(
                f[6].col,
                "bytes",
                format!("size `{}` is not a number of bytes", clip(&f[6].text)),
            )
        })?
    };
    let (referer, user_agent) = if f.len() >= 9 {
        (dash(&f[7].text), f[8].text.clone())
    } else {
        (None, String::new())
    };
    Ok(Record {
        time: stamp.unix,
        utc_offset_s: stamp.offset_s,
        ip: f[0].text.clone(),
        user: dash(&f[2].text),
        method,
        path,
        query,
        status,
        bytes,
        referer,
        user_agent,
        latency_s: None,
        client_id: None,
        attributes: Default::default(),
        bot: false,
        line: 0,
    })
}

//! Secret redaction, shared by every importer.
//!
//! Three defences, in order:
//! 1. Values a source marks sensitive (Terraform's `sensitive_values`, `after_sensitive`,
//!    `sensitive_attributes`, sensitive outputs) are removed before an importer reads them
//!    ([`mask_json`]).
//! 2. Fields whose *name* looks like a secret (`password`, `secret`, `token`, `key`,
//!    `credential`...) are removed the same way, and importers never copy them
//!    ([`is_secret_name`]).
//! 3. Strings whose *shape* looks like a secret (AWS access keys, PEM blocks, JWTs, vendor
//!    tokens, passwords in URLs, long random strings) are replaced by [`REDACTED`] wherever they
//!    would end up: in the delta twin and in diagnostics ([`scrub_result`]).
//!
//! Diagnostics about a redacted field name the field, never the value.

use serde_json::Value;

use crate::ImportResult;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Words that make a field name a secret's wherever they appear in it.
const SECRET_SUBSTRINGS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "connectionstring",
    "authorization",
];

/// Words that make a field name a secret's when they stand alone (`db_pass`, `KEY`).
const SECRET_WORDS: [&str; 9] = [
    "key",
    "pass",
    "pwd",
    "pw",
    "auth",
    "salt",
    "dsn",
    "cookie",
    "signature",
];

/// Whether a field or variable named `name` should be treated as holding a secret:
/// `DB_PASSWORD`, `apiKey`, `client-secret`, `private_key`, `token`, `ssh_key`...
pub fn is_secret_name(name: &str) -> bool {
    let squashed: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if SECRET_SUBSTRINGS.iter().any(|w| squashed.contains(w)) {
        return true;
    }
    words(name)
        .iter()
        .any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// Splits `fooBar_baz-QUX` into lower-case words `foo bar baz qux`.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a string value looks like a secret by its shape alone.
pub fn looks_like_secret(value: &str) -> bool {
    if value.contains("-----BEGIN ")
        || url_password(value).is_some()
        || !secret_assignments(value).is_empty()
    {
        return true;
    }
    value
        .split(|c: char| !is_token_char(c))
        .any(token_is_secret)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.')
}

/// Whether one token (no spaces or punctuation other than `+/=_-.`) is secret-shaped.
fn token_is_secret(token: &str) -> bool {
    let t = token.trim_matches(|c| c == '.' || c == '=' || c == '-');
    if t.len() < 16 {
        return false;
    }
    let upper_alnum = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    // AWS access key ids.
    for prefix in [
        "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
    ] {
        if let Some(rest) = t.strip_prefix(prefix)
            && rest.len() == 16
            && upper_alnum(rest)
        {
            return true;
        }
    }
    // Vendor tokens with fixed prefixes.
    for prefix in [
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "xoxs-",
        "sk_live_",
        "rk_live_",
        "glpat-",
        "AIza",
        "npm_",
    ] {
        if t.starts_with(prefix) && t.len() >= prefix.len() + 16 {
            return true;
        }
    }
    if jwt_start(t).is_some() {
        return true;
    }
    // Long random strings: mixed case and digits, high entropy, no dots (not a hostname).
    // A lower-case kind prefix (`db-`, `sg-`, `i-`) marks a provider id, not a secret.
    let core = match t.split_once('-') {
        Some((prefix, rest))
            if !prefix.is_empty()
                && prefix.len() <= 4
                && prefix.chars().all(|c| c.is_ascii_lowercase()) =>
        {
            rest
        }
        _ => t,
    };
    if core.len() >= 20 && !core.contains('.') {
        let has = |f: fn(&char) -> bool| core.chars().any(|c| f(&c));
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
            && entropy(core) >= 3.5
        {
            return true;
        }
    }
    false
}

/// Where a JWT (three base64url parts, the first two JSON objects: `eyJ...`) starts inside a
/// token, if one does.
fn jwt_start(t: &str) -> Option<usize> {
    t.match_indices("eyJ").map(|(i, _)| i).find(|&i| {
        let parts: Vec<&str> = t[i..].split('.').collect();
        parts.len() >= 3
            && parts[1].starts_with("eyJ")
            && parts[2].len() >= 8
            && parts[..3].iter().all(|p| {
                p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
    })
}

/// Byte ranges of the values of `NAME=VALUE` assignments whose name looks like a secret's
/// (`?token=...`, `password=...` in URLs, command lines and connection strings).
fn secret_assignments(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices('=') {
        let key_start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map_or(0, |k| k + 1);
        let key = &text[key_start..i];
        if key.is_empty() || !is_secret_name(key) {
            continue;
        }
        let mut end = i + 1;
        while end < bytes.len()
            && !matches!(
                bytes[end],
                b'&' | b' ' | b'\t' | b'\n' | b';' | b',' | b'"' | b'\''
            )
        {
            end += 1;
        }
        if end > i + 1 {
            out.push(i + 1..end);
        }
    }
    out
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The password of a `scheme://user:password@host` URL inside `text`, as a byte range.
fn url_password(text: &str) -> Option<std::ops::Range<usize>> {
    let scheme_end = text.find("://")? + 3;
    let rest = text.get(scheme_end..)?;
    let authority_end = rest.find(['/', '?', '#', ' ']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end)?;
    let at = authority.rfind('@')?;
    let colon = authority.get(..at)?.find(':')?;
    Some(scheme_end + colon + 1..scheme_end + at)
}

/// `text` with every secret-shaped part replaced by [`REDACTED`].
pub fn redact_text(text: &str) -> String {
    let mut text = text.to_owned();
    if let Some(range) = url_password(&text) {
        text.replace_range(range, REDACTED);
    }
    for range in secret_assignments(&text).into_iter().rev() {
        text.replace_range(range, REDACTED);
    }
    if let Some(start) = text.find("-----BEGIN ") {
        let end = text
            .get(start..)
            .and_then(|rest| rest.find("-----END ").map(|e| start + e))
            .and_then(|e| {
                text.get(e + 9..)
                    .and_then(|r| r.find("-----").map(|x| e + 9 + x + 5))
            })
            .unwrap_or(text.len());
        text.replace_range(start..end, REDACTED);
    }
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if let Some(i) = jwt_start(token) {
            out.push_str(&token[..i]);
            out.push_str(REDACTED);
        } else if token_is_secret(token) {
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// Removes from `value`, in place, every member a sensitivity `mask` marks `true` (the mask
/// mirrors the value's shape, as Terraform's `sensitive_values` does) and every member whose
/// name looks like a secret. Returns the JSON Pointers (relative to `value`) of what was removed.
pub fn mask_json(value: &mut Value, mask: Option<&Value>) -> Vec<String> {
    let mut removed = Vec::new();
    mask_at(value, mask, String::new(), &mut removed);
    removed
}

fn mask_at(value: &mut Value, mask: Option<&Value>, here: String, removed: &mut Vec<String>) {
    if matches!(mask, Some(Value::Bool(true))) {
        *value = Value::Null;
        removed.push(here);
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let path = format!("{here}/{}", crate::text::tok(k));
                if is_secret_name(k) && !v.is_null() && !is_empty_container(v) {
                    *v = Value::Null;
                    removed.push(path);
                    continue;
                }
                mask_at(v, mask.and_then(|m| m.get(k.as_str())), path, removed);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                mask_at(
                    v,
                    mask.and_then(|m| m.get(i)),
                    format!("{here}/{i}"),
                    removed,
                );
            }
        }
        _ => {}
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The last line of defence: replaces secret-shaped strings anywhere in the delta twin (map
/// keys included) and in diagnostic messages.
pub fn scrub_result(result: &mut ImportResult) {
    for d in &mut result.diagnostics {
        if looks_like_secret(&d.message) {
            d.message = redact_text(&d.message);
        }
        if looks_like_secret(&d.pointer) {
            d.pointer = redact_text(&d.pointer);
        }
    }
    let Ok(mut value) = serde_json::to_value(&result.delta) else {
        return;
    };
    if !scrub_value(&mut value) {
        return;
    }
    if let Ok(twin) = serde_json::from_value(value) {
        result.delta = twin;
    }
}

/// Replaces secret-shaped strings; true if anything changed.
fn scrub_value(v: &mut Value) -> bool {
    match v {
        Value::String(s) if looks_like_secret(s) => {
            *s = redact_text(s);
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, x| scrub_value(x) | acc),
        Value::Object(map) => {
            let mut changed = false;
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if looks_like_secret(&k) {
                    if let Some(mut inner) = map.shift_remove(&k) {
                        scrub_value(&mut inner);
                        map.insert(redact_text(&k), inner);
                    }
                    changed = true;
                } else if let Some(inner) = map.get_mut(&k) {
                    changed |= scrub_value(inner);
                }
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hold_secrets() {
        for name in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "api_key",
            "client-secret",
            "private_key",
            "GITHUB_TOKEN",
            "aws_secret_access_key",
            "ssh_key",
            "db_pass",
            "credentials",
            "ConnectionString",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PRODUCT_CATALOG_SERVICE_ADDR",
            "REDIS_ADDR",
            "PORT",
            "instance_type",
            "monkey_business",
            "passenger_count",
            "keyboard",
            "cidr_block",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn values_shaped_like_secrets() {
        // Shapes published in vendors' documentation as examples.
        for value in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "postgres://app:hunter2@db:5432/shop",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "GET /reset?token=abc123",
            "GET-reset-token-eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWxpY2UifQ.Qk5mU2VjcmV0U2lnbmF0dXJlMDE",
        ] {
            assert!(looks_like_secret(value), "{value}");
        }
        for value in [
            "productcatalogservice:3550",
            "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend:v0.10.6",
            "sg-0e74bbe876eba7e6f",
            "5d7daaa0-68a7-4ca5-a491-3f78c102d562",
            "fd8d9aa63ba2f0982b5304e1ee8d3b90a210bc1ffb5314d980eb6962f1a9715d",
            "5B8EFFF798038103D269B633813FC60C",
            "module.lemp.aws_security_group.LHwFh",
            "http://frontend:80",
            "10.0.0.0/16",
            "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
            "GET /cart?id=42",
            "a=b",
        ] {
            assert!(!looks_like_secret(value), "{value}");
        }
    }

    #[test]
    fn redacting_text_keeps_the_rest() {
        assert_eq!(
            redact_text("key AKIAIOSFODNN7EXAMPLE in postgres://app:hunter2@db:5432/x"),
            "key [redacted] in postgres://app:[redacted]@db:5432/x"
        );
        assert_eq!(
            redact_text("GET /reset?token=abc123&lang=en"),
            "GET /reset?token=[redacted]&lang=en"
        );
        assert_eq!(
            redact_text(
                "op-eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWxpY2UifQ.Qk5mU2VjcmV0U2lnbmF0dXJlMDE"
            ),
            "op-[redacted]"
        );
        assert_eq!(
            redact_text("a -----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY----- b"),
            "a [redacted] b"
        );
    }

    #[test]
    fn masks_follow_sensitivity_and_names() {
        let mut v = serde_json::json!({
            "name": "db", "password": "hunter2", "tags": {"env": "prod"},
            "nested": [{"master_username": "admin", "value": "s3cr3t"}]
        });
        let mask = serde_json::json!({"nested": [{"value": true}]});
        let removed = mask_json(&mut v, Some(&mask));
        assert_eq!(removed, vec!["/password", "/nested/0/value"]);
        assert_eq!(v["password"], Value::Null);
        assert_eq!(v["nested"][0]["value"], Value::Null);
        assert_eq!(v["nested"][0]["master_username"], "admin");
    }
}

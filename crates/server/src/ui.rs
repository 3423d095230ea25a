//! The web UI, built from `ui/` by the build script and embedded in the binary: served at `/`
//! as a single-page application (any path outside `/api/` that is not a file gets
//! `index.html`, whose router reads the path), with content types and cache headers.
//! Hashed assets (`/assets/...`) are cached for a year; `index.html` is revalidated.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The contents of a built file, by its path relative to the root.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// The content type of a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What the page may load: only this origin (styles also inline, as the chart libraries set
/// them), never framed.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

/// Answers a request no API route took: a UI file, `index.html` for the router's paths, or
/// the API's 404 for `/api/...` and other methods.
pub fn respond(method: &Method, uri: &Uri) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return None;
    }
    let rel = path.trim_start_matches('/');
    let (name, body) = match file(rel) {
        Some(b) if !rel.is_empty() => (rel, b),
        // A missing asset is a 404, not the page (a stale tab asking for an old bundle).
        _ if rel.starts_with("assets/") => return None,
        _ => ("index.html", file("index.html")?),
    };
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    Some(r)
}

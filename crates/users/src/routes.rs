//! Route templates: mapping request paths to endpoints such as `GET /product/{id}`.
//!
//! Two sources. **Configured** templates (`/product/{id}`, `/docs/*`) are tried first, in
//! order. Otherwise a path is **learned** in two steps: each segment that looks like an
//! identifier (all digits, a UUID, a long hexadecimal string, a long token mixing letters and
//! digits) becomes `{id}` as it is read; then, once every distinct path is known, any position
//! where more than `max_children` distinct literal segments follow the same prefix (product
//! slugs, user names) is collapsed into `{id}` as well. Static assets (by file extension) are
//! not pages and are counted apart.

use std::collections::BTreeMap;

/// File extensions of static assets, which are not page views.
const ASSET_EXTENSIONS: [&str; 22] = [
    "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "woff",
    "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "txt", "xml",
];

/// Whether a path names a static asset (`/static/app.js`, `/favicon.ico`).
pub fn is_asset(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_ascii_lowercase();
            ASSET_EXTENSIONS.contains(&ext.as_str())
        }
        _ => false,
    }
}

/// Whether one path segment looks like an identifier rather than a name.
pub fn looks_like_id(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    if digits == seg.len() {
        return true;
    }
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = seg.split('-').collect();
    if parts.len() == 5
        && parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| is_hex(p))
    {
        return true;
    }
    if seg.len() >= 12 && is_hex(seg) && digits > 0 {
        return true;
    }
    // Opaque tokens (base64url, hashes): long, mixing letters and digits, no word separators.
    seg.len() >= 16
        && digits >= 2
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !seg.contains('-')
}

/// Splits a path into its segments, ignoring empty ones (`//`, a trailing `/`).
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// A path with its identifier-looking segments replaced by `{id}`.
pub fn normalize(path: &str) -> String {
    let segs: Vec<&str> = segments(path)
        .into_iter()
        .map(|s| if looks_like_id(s) { "{id}" } else { s })
        .collect();
    format!("/{}", segs.join("/"))
}

/// A configured template: literal segments, `{name}` (any one segment) and a final `*` (any
/// rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    segs: Vec<String>,
}

impl Template {
    /// Parses `/product/{id}` or `/docs/*`.
    pub fn new(text: &str) -> Self {
        Template {
            text: format!("/{}", segments(text).join("/")),
            segs: segments(text).into_iter().map(str::to_owned).collect(),
        }
    }

    /// The template as written (normalised slashes).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let segs = segments(path);
        let mut i = 0;
        for (k, t) in self.segs.iter().enumerate() {
            if t == "*" && k + 1 == self.segs.len() {
                return true;
            }
            let Some(s) = segs.get(i) else {
                return false;
            };
            let var = t.starts_with('{') && t.ends_with('}');
            if !var && t != s {
                return false;
            }
            i += 1;
        }
        i == segs.len()
    }
}

/// A trie of normalised paths (per method) with request counts, for the high-cardinality
/// collapse.
#[derive(Debug, Default, Clone)]
struct Node {
    count: u64,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, segs: &[&str], count: u64) {
        match segs.split_first() {
            None => self.count += count,
            Some((head, rest)) => self
                .children
                .entry((*head).to_owned())
                .or_default()
                .insert(rest, count),
        }
    }

    fn merge(&mut self, other: Node) {
        self.count += other.count;
        for (k, v) in other.children {
            self.children.entry(k).or_default().merge(v);
        }
    }

    fn collapse(&mut self, max_children: usize) {
        let literals = self
            .children
            .keys()
            .filter(|k| k.as_str() != "{id}")
            .count();
        if literals > max_children {
            let old = std::mem::take(&mut self.children);
            let mut merged = Node::default();
            for (_, child) in old {
                merged.merge(child);
            }
            self.children.insert("{id}".to_owned(), merged);
        }
        for child in self.children.values_mut() {
            child.collapse(max_children);
        }
    }

    /// Maps each stored path under this node to its collapsed form.
    fn lookup(&self, segs: &[&str], out: &mut Vec<String>) -> bool {
        match segs.split_first() {
            None => true,
            Some((head, rest)) => {
                if let Some(c) = self.children.get(*head) {
                    out.push((*head).to_owned());
                    c.lookup(rest, out)
                } else if let Some(c) = self.children.get("{id}") {
                    out.push("{id}".to_owned());
                    c.lookup(rest, out)
                } else {
                    false
                }
            }
        }
    }
}

/// Learns templates from the distinct normalised paths seen (with their counts), then maps
/// paths to endpoints.
#[derive(Debug, Clone, Default)]
pub struct RouteLearner {
    tries: BTreeMap<String, Node>,
}

impl RouteLearner {
    /// Records `count` requests of `method` on the normalised path.
    pub fn add(&mut self, method: &str, normalized: &str, count: u64) {
        self.tries
            .entry(method.to_owned())
            .or_default()
            .insert(&segments(normalized), count);
    }

    /// Collapses every position with more than `max_children` distinct literal segments.
    pub fn collapse(&mut self, max_children: usize) {
        for t in self.tries.values_mut() {
            t.collapse(max_children);
        }
    }

    /// The endpoint (`METHOD /template`) of a normalised path, after [`collapse`](Self::collapse).
    pub fn endpoint(&self, method: &str, normalized: &str) -> String {
        let mut out = Vec::new();
        let segs = segments(normalized);
        let found = self
            .tries
            .get(method)
            .is_some_and(|t| t.lookup(&segs, &mut out));
        if !found {
            out = segs.iter().map(|s| (*s).to_owned()).collect();
        }
        format!("{method} /{}", out.join("/"))
    }
}

/// The endpoint of a path under configured templates, if one matches.
pub fn configured_endpoint(templates: &[Template], method: &str, path: &str) -> Option<String> {
    templates
        .iter()
        .find(|t| t.matches(path))
        .map(|t| format!("{method} {}", t.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recognised() {
        for id in [
            "42",
            "6f1c2a9e-8b7d-4c3e-9a10-2b3c4d5e6f70",
            "a3f9c2e1b0d4",
            "x7Kq9ZpL2mR8vT4wQ",
        ] {
            assert!(looks_like_id(id), "{id}");
        }
        for word in ["product", "walking-boots-2024", "cart", "v2", "deadbeef"] {
            assert!(!looks_like_id(word), "{word}");
        }
        assert_eq!(normalize("/product/42/reviews/"), "/product/{id}/reviews");
        assert_eq!(normalize("/"), "/");
    }

    #[test]
    fn high_cardinality_positions_collapse() {
        let mut r = RouteLearner::default();
        for i in 0..30 {
            r.add("GET", &format!("/category/slug-{i}"), 2);
        }
        r.add("GET", "/category", 5);
        r.add("GET", "/cart", 5);
        r.add("GET", "/help/faq", 1);
        r.add("GET", "/help/contact", 1);
        r.collapse(25);
        assert_eq!(r.endpoint("GET", "/category/slug-3"), "GET /category/{id}");
        assert_eq!(r.endpoint("GET", "/category"), "GET /category");
        assert_eq!(r.endpoint("GET", "/help/faq"), "GET /help/faq");
        // A slug never seen while learning still maps through the collapsed position.
        assert_eq!(r.endpoint("GET", "/category/new-one"), "GET /category/{id}");
        assert_eq!(r.endpoint("POST", "/x"), "POST /x");
    }

    #[test]
    fn configured_templates() {
        let t = [Template::new("/product/{sku}"), Template::new("/docs/*")];
        assert_eq!(
            configured_endpoint(&t, "GET", "/product/ab-1"),
            Some("GET /product/{sku}".into())
        );
        assert_eq!(
            configured_endpoint(&t, "GET", "/docs/a/b"),
            Some("GET /docs/*".into())
        );
        assert_eq!(configured_endpoint(&t, "GET", "/product/ab-1/x"), None);
        assert!(is_asset("/static/app.3f9a1c.js"));
        assert!(!is_asset("/product/1"));
        assert!(!is_asset("/.well-known"));
    }
}

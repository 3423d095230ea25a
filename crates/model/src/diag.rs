//! Diagnostics: what is wrong with a twin, where, in the `FILE:LINE:COL: PATH: message` form.

use std::fmt;

use crate::yaml::{Loc, escape_token};

/// One step of a path into the twin: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path into the twin document, printed as `services.cart.endpoints.get.calls[1].service`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// This path extended by a key.
    #[must_use]
    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }

    /// This path extended by an index.
    #[must_use]
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Builds a path from dotted keys: `Path::of(["services", "cart"])`.
    pub fn of<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Path(keys.into_iter().map(|k| Seg::Key(k.to_owned())).collect())
    }

    /// The path as an RFC 6901 JSON Pointer.
    pub fn pointer(&self) -> String {
        let mut s = String::new();
        for seg in &self.0 {
            s.push('/');
            match seg {
                Seg::Key(k) => s.push_str(&escape_token(k)),
                Seg::Index(i) => s.push_str(&i.to_string()),
            }
        }
        s
    }

    /// Parses a JSON Pointer, treating all-digit tokens under a list as indices is not
    /// possible without the document, so `is_index` decides from the value.
    pub fn from_pointer(pointer: &str, value: &serde_json::Value) -> Self {
        let mut segs = Vec::new();
        let mut cur = Some(value);
        for raw in pointer.split('/').skip(1) {
            let tok = raw.replace("~1", "/").replace("~0", "~");
            match cur {
                Some(serde_json::Value::Array(items)) => {
                    let i = tok.parse::<usize>().unwrap_or(usize::MAX);
                    cur = items.get(i);
                    segs.push(Seg::Index(i));
                }
                Some(serde_json::Value::Object(map)) => {
                    cur = map.get(&tok);
                    segs.push(Seg::Key(tok));
                }
                _ => {
                    cur = None;
                    segs.push(Seg::Key(tok));
                }
            }
        }
        Path(segs)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'));
                    if !plain {
                        write!(f, "[{k:?}]")?;
                    } else if i == 0 {
                        f.write_str(k)?;
                    } else {
                        write!(f, ".{k}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The twin is invalid.
    Error,
    /// Suspicious but usable.
    Warning,
}

/// A problem found in a twin, tied to a file position and a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The file, as given by the user.
    pub file: String,
    /// Where in the file.
    pub loc: Loc,
    /// Error or warning.
    pub severity: Severity,
    /// The path of the offending node.
    pub path: Path,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {}: {sev}{}",
            self.file, self.loc.line, self.loc.col, self.path, self.message
        )
    }
}

/// Orders diagnostics by file, then position, and drops exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (&a.file, a.loc, a.severity, &a.path, &a.message)
            .cmp(&(&b.file, b.loc, b.severity, &b.path, &b.message))
    });
    diags.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_the_docs() {
        let p = Path::of(["services", "cart", "endpoints", "get", "calls"])
            .index(1)
            .key("service");
        assert_eq!(
            p.to_string(),
            "services.cart.endpoints.get.calls[1].service"
        );
        assert_eq!(p.pointer(), "/services/cart/endpoints/get/calls/1/service");
        assert_eq!(Path::of(["hosts", "a.b/c"]).to_string(), "hosts[\"a.b/c\"]");
        assert_eq!(Path::of(["hosts", "a.b/c"]).pointer(), "/hosts/a.b~1c");
        let v = serde_json::json!({"x": [{"y": 1}]});
        assert_eq!(Path::from_pointer("/x/0/y", &v).to_string(), "x[0].y");
    }
}

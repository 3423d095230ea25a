//! Import diagnostics: a problem or note tied to a file, a line and column, and a JSON Pointer
//! into the source document, printed as `FILE:LINE:COL: POINTER: SEVERITY: message`.

use std::fmt;

/// How much a diagnostic matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input (or part of it) could not be read; what it held is missing from the delta.
    Error,
    /// Read, but something is guessed, placeholder or suspicious.
    Warning,
    /// A note: something was skipped on purpose (an unknown resource type, a redacted value).
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem or note about an input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The input's name, as given.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
    /// RFC 6901 JSON Pointer of the node concerned inside the file's document (for a file of
    /// several YAML documents, prefixed by `/N` with N the document's index from 0); empty for
    /// the whole file.
    pub pointer: String,
    /// Error, warning or info.
    pub severity: Severity,
    /// What happened, in words. Never contains a secret value.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{}:{}:{}: {pointer}: {}: {}",
            self.file,
            self.line,
            self.col,
            self.severity.as_str(),
            self.message
        )
    }
}

/// Sorts by file, position, severity, pointer and message, and drops exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.col, a.severity, &a.pointer, &a.message)
            .cmp(&(&b.file, b.line, b.col, b.severity, &b.pointer, &b.message))
    });
    diags.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_the_model_diagnostics() {
        let d = Diagnostic {
            file: "state.json".into(),
            line: 3,
            col: 7,
            pointer: "/resources/0".into(),
            severity: Severity::Warning,
            message: "unknown resource type `null_resource`".into(),
        };
        assert_eq!(
            d.to_string(),
            "state.json:3:7: /resources/0: warning: unknown resource type `null_resource`"
        );
    }
}

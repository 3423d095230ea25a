//! Importers for real topology and traffic-matrix formats.
//!
//! Every importer takes the file's name (for messages) and its text, never touches the disk,
//! and either returns the value with its warnings or every problem it found, each a
//! [`Diagnostic`] naming the file, line, column and path (`FILE:LINE:COL: PATH: message`).
//! No input makes them panic.
//!
//! - [`nodelink`]: networkx node-link JSON as FIGRET, DOTE and TEAL ship topologies.
//! - [`figret`]: the FIGRET/DOTE text files: `tunnels.txt`, `.hist` matrices, `.opt` MLUs.
//! - [`graphml`]: Topology Zoo GraphML.
//! - [`sndlib`]: SNDlib XML (network and demands).
//! - [`repetita`]: Repetita `.graph` and `.demands`.

pub mod figret;
pub mod graphml;
pub mod nodelink;
pub mod repetita;
pub mod sndlib;

use std::fmt;

use doppel_model::yaml::Loc;
use doppel_model::{Diagnostic, Path, Severity};

/// An import that failed: every problem found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ImportError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A successful import: the value and any warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported<T> {
    /// What was read.
    pub value: T,
    /// Things that were odd but usable.
    pub warnings: Vec<Diagnostic>,
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Sink {
    file: String,
    diags: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Self {
        Sink {
            file: file.to_owned(),
            diags: Vec::new(),
        }
    }

    fn push(&mut self, severity: Severity, loc: Loc, path: Path, message: String) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            loc,
            severity,
            path,
            message,
        });
    }

    pub(crate) fn error(&mut self, loc: Loc, path: Path, message: impl Into<String>) {
        self.push(Severity::Error, loc, path, message.into());
    }

    pub(crate) fn warn(&mut self, loc: Loc, path: Path, message: impl Into<String>) {
        self.push(Severity::Warning, loc, path, message.into());
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// The value with the warnings, or every diagnostic when there is an error.
    pub(crate) fn finish<T>(mut self, value: Option<T>) -> Result<Imported<T>, ImportError> {
        doppel_model::diag::sort(&mut self.diags);
        match value {
            Some(value) if !self.has_errors() => Ok(Imported {
                value,
                warnings: self.diags,
            }),
            _ => {
                if !self.has_errors() {
                    let loc = Loc { line: 1, col: 1 };
                    self.error(loc, Path::root(), "nothing could be read");
                }
                Err(ImportError {
                    diagnostics: self.diags,
                })
            }
        }
    }
}

/// The non-blank lines of `text` with their 1-based numbers and byte offsets, `#` comments
/// left in place (formats differ on them).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (u32, usize, &str)> {
    let mut offset = 0usize;
    text.split('\n').enumerate().filter_map(move |(i, raw)| {
        let start = offset;
        offset += raw.len() + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            None
        } else {
            Some((u32::try_from(i + 1).unwrap_or(u32::MAX), start, line))
        }
    })
}

/// Whitespace-separated tokens of `line` with their column (1-based, in characters).
pub(crate) fn tokens(line: &str) -> impl Iterator<Item = (u32, &str)> {
    let mut col = 0u32;
    let mut in_token = false;
    let mut start_col = 0u32;
    let mut start_byte = 0usize;
    let mut out = Vec::new();
    for (b, c) in line.char_indices() {
        col += 1;
        if c.is_whitespace() {
            if in_token {
                out.push((start_col, &line[start_byte..b]));
                in_token = false;
            }
        } else if !in_token {
            in_token = true;
            start_col = col;
            start_byte = b;
        }
    }
    if in_token {
        out.push((start_col, &line[start_byte..]));
    }
    out.into_iter()
}

/// A finite number, or `None`.
pub(crate) fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_lines_carry_positions() {
        let toks: Vec<_> = tokens("  x  yz é").collect();
        assert_eq!(toks, vec![(3, "x"), (6, "yz"), (9, "é")]);
        let ls: Vec<_> = lines("a\n\n b\r\n").map(|(n, _, l)| (n, l)).collect();
        assert_eq!(ls, vec![(1, "a"), (3, " b")]);
    }
}

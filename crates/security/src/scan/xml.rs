//! Shared XML plumbing for the scan readers: parsing with safe limits, element paths and
//! positioned diagnostics.

use roxmltree::{Document, Node, ParsingOptions};

use super::{ScanDiagnostic, ScanReport, ScanSeverity};

/// Most nodes a scan may have (about 20 million); beyond this the file is refused rather than
/// exhausting memory.
const NODES_LIMIT: u32 = 20_000_000;

/// Parses XML. DTDs are allowed (Nmap writes `<!DOCTYPE nmaprun>`); roxmltree guards against
/// entity expansion bombs and external entities are never resolved.
pub fn parse(text: &str) -> Result<Document<'_>, roxmltree::Error> {
    Document::parse_with_options(
        text,
        ParsingOptions {
            allow_dtd: true,
            nodes_limit: NODES_LIMIT,
            entity_resolver: None,
        },
    )
}

/// A diagnostic for a document that is not well-formed XML, at the parser's position.
pub fn parse_error(file: &str, text: &str, e: &roxmltree::Error) -> ScanDiagnostic {
    // Errors found only at the end (an unclosed root, a stream cut short) carry no position:
    // point at the end of the text, where the file was cut.
    let (line, column) = match e {
        roxmltree::Error::UnclosedRootNode | roxmltree::Error::UnexpectedEndOfStream => {
            end_position(text)
        }
        _ => (e.pos().row, e.pos().col),
    };
    ScanDiagnostic {
        file: file.to_owned(),
        line,
        column,
        path: "(document)".to_owned(),
        severity: ScanSeverity::Error,
        message: format!("not well-formed XML: {e}"),
    }
}

/// The 1-based line and column just after the last character of `text`.
fn end_position(text: &str) -> (u32, u32) {
    let line = text.matches('\n').count() + 1;
    let last = text.rsplit('\n').next().unwrap_or_default();
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(line), clamp(last.chars().count() + 1))
}

/// Reading context: the file, its document and the report being filled.
pub struct Cx<'a, 'input> {
    pub file: &'a str,
    pub doc: &'a Document<'input>,
    pub report: &'a mut ScanReport,
}

impl<'a, 'input> Cx<'a, 'input> {
    /// Records a problem at `node`.
    pub fn diag(&mut self, node: Node<'_, '_>, severity: ScanSeverity, message: String) {
        let pos = self.doc.text_pos_at(node.range().start);
        self.report.diagnostics.push(ScanDiagnostic {
            file: self.file.to_owned(),
            line: pos.row,
            column: pos.col,
            path: path(node),
            severity,
            message,
        });
    }

    /// The 1-based line of `node`.
    pub fn line(&self, node: Node<'_, '_>) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }
}

/// The element path of `node`: `report/results/result[3]/host`, with a 1-based index where an
/// element has same-named siblings.
pub fn path(node: Node<'_, '_>) -> String {
    let mut parts = Vec::new();
    for n in node.ancestors().filter(|n| n.is_element()) {
        let name = n.tag_name().name();
        let same = |m: &Node<'_, '_>| m.is_element() && m.tag_name().name() == name;
        let before = n.prev_siblings().skip(1).filter(same).count();
        let after = n.next_siblings().skip(1).filter(same).count();
        if before + after > 0 {
            parts.push(format!("{name}[{}]", before + 1));
        } else {
            parts.push(name.to_owned());
        }
    }
    parts.reverse();
    if parts.is_empty() {
        "(document)".to_owned()
    } else {
        parts.join("/")
    }
}

/// The first child element named `name`.
pub fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// Child elements named `name`.
pub fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed direct text of the first child named `name`, if any and not empty.
pub fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).and_then(|c| own_text(c))
}

/// The trimmed text directly inside `node` (not its children's), if not empty.
pub fn own_text(node: Node<'_, '_>) -> Option<String> {
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect();
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

//! Vulnerability-scan importers: Nessus (`.nessus` v2), OpenVAS/GVM XML reports and Nmap XML,
//! read into one [`ScanReport`] shape, then attached to a twin's hosts by address
//! ([`attach`]); and Trivy JSON ([`trivy`]), whose image vulnerabilities attach to the
//! services running the image.
//!
//! Importers never panic and never stop at the first problem: malformed XML gives one
//! diagnostic at the position the parser stopped; a bad host address, port or CVSS vector gives
//! a diagnostic at the element holding it and that finding or host is skipped, the rest read.

mod attach;
mod nessus;
mod nmap;
mod openvas;
pub mod trivy;
mod xml;

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

pub use attach::{AttachOutcome, attach};

/// Which scanner wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanFormat {
    /// Tenable Nessus `.nessus` (NessusClientData_v2).
    Nessus,
    /// OpenVAS / Greenbone GVM XML report.
    Openvas,
    /// Nmap `-oX` output.
    Nmap,
}

impl ScanFormat {
    /// Guesses the format from the document's root element, if it is one we read.
    pub fn detect(text: &str) -> Option<ScanFormat> {
        // Look at the first element name after the prolog, comments and doctype.
        let mut rest = text;
        loop {
            let start = rest.find('<')?;
            rest = &rest[start + 1..];
            if rest.starts_with('?') || rest.starts_with('!') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':'))
                .collect();
            return match name.as_str() {
                "NessusClientData_v2" => Some(ScanFormat::Nessus),
                "report" | "get_reports_response" => Some(ScanFormat::Openvas),
                "nmaprun" => Some(ScanFormat::Nmap),
                _ => None,
            };
        }
    }
}

impl fmt::Display for ScanFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScanFormat::Nessus => "nessus",
            ScanFormat::Openvas => "openvas",
            ScanFormat::Nmap => "nmap",
        })
    }
}

/// How bad a scan problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanSeverity {
    /// Something could not be read (a host or finding was skipped, or the whole file).
    Error,
    /// Read, but suspicious or only partly usable.
    Warning,
}

/// One problem in a scan file, printed `FILE:LINE:COL: PATH: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanDiagnostic {
    /// The file (as the caller named it).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Element path, e.g. `report/results/result[3]/host`.
    pub path: String,
    /// Error or warning.
    pub severity: ScanSeverity,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScanDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            ScanSeverity::Error => "",
            ScanSeverity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {}: {sev}{}",
            self.file, self.line, self.column, self.path, self.message
        )
    }
}

/// An open port seen by a scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenPort {
    /// Port number (0 for host-level findings in Nessus).
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Service name as the scanner guessed it (`ssh`, `http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Product (`OpenSSH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Product version (`7.4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One finding: a plugin/NVT result, possibly naming CVEs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Plugin or NVT title.
    pub name: String,
    /// Plugin id (Nessus) or NVT OID (OpenVAS) or script id (Nmap).
    pub id: String,
    /// CVEs the finding refers to (may be empty).
    pub cves: Vec<String>,
    /// CVSS v3 base vector, normalised to start with `CVSS:3.x/`, when the scanner gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss3: Option<String>,
    /// The scanner's score (CVSS v3 if known, else v2/severity), for display only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Port the finding is on; `None` for host-level (local) findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `tcp`/`udp`, when a port is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Where in the file the finding is (for provenance).
    pub line: u32,
}

/// One scanned host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScannedHost {
    /// Its address.
    pub address: IpAddr,
    /// Host name, if the scanner reported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Open ports.
    pub open_ports: Vec<OpenPort>,
    /// Findings.
    pub findings: Vec<Finding>,
}

/// What a scan file says, and what could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// The scanner.
    pub format: ScanFormat,
    /// The file name as given.
    pub file: String,
    /// Hosts with valid addresses, in file order (findings of the same address merged).
    pub hosts: Vec<ScannedHost>,
    /// Every problem met.
    pub diagnostics: Vec<ScanDiagnostic>,
}

impl ScanReport {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == ScanSeverity::Error)
    }

    /// The host with this address, creating it at the end if new.
    fn host_mut(&mut self, address: IpAddr, hostname: Option<String>) -> &mut ScannedHost {
        let i = match self.hosts.iter().position(|h| h.address == address) {
            Some(i) => i,
            None => {
                self.hosts.push(ScannedHost {
                    address,
                    hostname: None,
                    open_ports: Vec::new(),
                    findings: Vec::new(),
                });
                self.hosts.len() - 1
            }
        };
        let host = &mut self.hosts[i];
        if host.hostname.is_none() {
            host.hostname = hostname.filter(|h| !h.is_empty());
        }
        host
    }
}

/// Reads a scan in the given format. `file` names it in diagnostics. Never panics.
pub fn parse(format: ScanFormat, file: &str, text: &str) -> ScanReport {
    let mut report = ScanReport {
        format,
        file: file.to_owned(),
        hosts: Vec::new(),
        diagnostics: Vec::new(),
    };
    let doc = match xml::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            report.diagnostics.push(xml::parse_error(file, text, &e));
            return report;
        }
    };
    let mut cx = xml::Cx {
        file,
        doc: &doc,
        report: &mut report,
    };
    match format {
        ScanFormat::Nessus => nessus::read(&mut cx),
        ScanFormat::Openvas => openvas::read(&mut cx),
        ScanFormat::Nmap => nmap::read(&mut cx),
    }
    report
}

/// Reads a scan, detecting its format from the root element; `None` when the root element is
/// not one we know (or the text has no element at all).
pub fn parse_auto(file: &str, text: &str) -> Option<ScanReport> {
    ScanFormat::detect(text).map(|f| parse(f, file, text))
}

/// Normalises a CVSS v3 vector: adds the `CVSS:3.0/` prefix Nessus leaves out.
fn normalise_cvss3(vector: &str) -> String {
    let v = vector.trim();
    if v.starts_with("CVSS:") {
        v.to_owned()
    } else {
        format!("CVSS:3.0/{v}")
    }
}

/// True for a well-formed CVE id `CVE-YYYY-NNNN...`.
fn is_cve(text: &str) -> bool {
    let mut parts = text.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("CVE"), Some(y), Some(n), None)
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
                && n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit())
    )
}

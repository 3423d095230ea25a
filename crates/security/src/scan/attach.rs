//! Attaching scan findings to a twin: each scanned address is matched to the host listing it
//! in `addresses`; each CVE of a finding becomes a `Vulnerability` on that host (with the
//! finding's CVSS v3 vector and port), and Nmap's product versions become `software` entries.

use std::net::IpAddr;

use doppel_model::{SecurityFacts, Twin, Vulnerability};
use serde::Serialize;

use super::{ScanDiagnostic, ScanReport, ScanSeverity};

/// What attaching a scan did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachOutcome {
    /// Per matched host: its name, the scanned address and how many vulnerabilities were added.
    pub matched: Vec<(String, IpAddr, usize)>,
    /// Scanned addresses no host of the twin has.
    pub unmatched: Vec<IpAddr>,
    /// Findings that name no CVE (kept out of the twin: the model records CVEs only).
    pub findings_without_cve: usize,
    /// Warnings (unmatched hosts), positioned at the scan file's first line.
    pub diagnostics: Vec<ScanDiagnostic>,
}

/// Adds the report's findings to `twin` (in place). A CVE already listed on the host for the
/// same port is not added twice.
pub fn attach(twin: &mut Twin, report: &ScanReport) -> AttachOutcome {
    let mut out = AttachOutcome {
        matched: Vec::new(),
        unmatched: Vec::new(),
        findings_without_cve: 0,
        diagnostics: Vec::new(),
    };
    for scanned in &report.hosts {
        let Some((name, host)) = twin
            .hosts
            .iter_mut()
            .find(|(_, h)| h.addresses.contains(&scanned.address))
        else {
            out.unmatched.push(scanned.address);
            out.diagnostics.push(ScanDiagnostic {
                file: report.file.clone(),
                line: scanned.findings.first().map_or(1, |f| f.line),
                column: 1,
                path: format!("host {}", scanned.address),
                severity: ScanSeverity::Warning,
                message: format!(
                    "no host of the twin has address {}; its {} findings are not attached",
                    scanned.address,
                    scanned.findings.len()
                ),
            });
            continue;
        };
        let security = host.security.get_or_insert_with(SecurityFacts::default);
        let mut added = 0;
        for f in &scanned.findings {
            if f.cves.is_empty() {
                out.findings_without_cve += 1;
                continue;
            }
            for cve in &f.cves {
                if security
                    .vulnerabilities
                    .iter()
                    .any(|v| &v.cve == cve && v.port == f.port)
                {
                    continue;
                }
                security.vulnerabilities.push(Vulnerability {
                    cve: cve.clone(),
                    cvss: f.cvss3.clone(),
                    component: (!f.name.is_empty()).then(|| f.name.clone()),
                    port: f.port,
                });
                added += 1;
            }
        }
        for p in &scanned.open_ports {
            if let (Some(product), Some(version)) = (&p.product, &p.version) {
                host.software
                    .entry(product.clone())
                    .or_insert_with(|| version.clone());
            }
        }
        out.matched.push((name.clone(), scanned.address, added));
    }
    out
}

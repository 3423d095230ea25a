//! Trivy JSON reports (`trivy image --format json`, and the Kubernetes report of
//! `trivy k8s --format json --report all`): container-image vulnerabilities, attached to the
//! twin's services that run the image, so every pod (instance) of such a service carries them.
//!
//! Layout read (Trivy's JSON schema version 2): the image form has `ArtifactName`,
//! `ArtifactType` and `Results[]`; the Kubernetes form has `Resources[]`, each with
//! `Namespace`, `Kind`, `Name` and `Results[]`. Each result has `Target`, `Class`, `Type` and
//! `Vulnerabilities[]` with `VulnerabilityID`, `PkgName`, `InstalledVersion`, `FixedVersion`,
//! `Severity`, `SeveritySource` and `CVSS.{source}.V3Vector`. The vector is taken from the
//! source `SeveritySource` names, else `nvd`, else the first source with one.
//!
//! **Matching to the twin.** A Kubernetes resource matches the service of the same name (and
//! namespace, when the service states one): the Kubernetes importer names services after their
//! workloads. An image matches every service tagged `image=REFERENCE` with the report's
//! `ArtifactName`, else every service named like the image's repository (its last path
//! segment) whose `version`, when set, equals the image tag.
//!
//! Problems are diagnostics `FILE:LINE:COL: PATH: message` (path a JSON Pointer); invalid JSON
//! is one error where the parser stopped; a finding with a bad id or vector is reported and
//! skipped (or kept without its vector), the rest read. Never panics.

use doppel_model::cvss::Cvss;
use doppel_model::yaml::SpanIndex;
use doppel_model::{SecurityFacts, Twin, Vulnerability};
use serde::Serialize;
use serde_json::Value;

use super::{ScanDiagnostic, ScanSeverity, is_cve};

/// One vulnerability of an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageVuln {
    /// `CVE-...`.
    pub cve: String,
    /// Package and installed version, `openssl 3.0.11-1~deb12u1`.
    pub component: String,
    /// Version fixing it, when Trivy knows one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Trivy's severity (`CRITICAL`, `HIGH`...).
    pub severity: String,
    /// CVSS v3 vector, when a source gave a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss3: Option<String>,
    /// Line in the file.
    pub line: u32,
}

/// One scanned artifact: an image, or a Kubernetes workload's images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Artifact {
    /// The image reference (`ArtifactName`), for the image form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `(namespace, kind, name)` of the Kubernetes resource, for the Kubernetes form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<(String, String, String)>,
    /// Its vulnerabilities (one per CVE and package).
    pub vulnerabilities: Vec<ImageVuln>,
    /// Findings whose id is not a CVE (GHSA, distribution advisories): not kept, the model
    /// records CVEs only.
    pub without_cve: usize,
    /// Line where the artifact starts.
    pub line: u32,
}

/// A read Trivy report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrivyReport {
    /// The file as named by the caller.
    pub file: String,
    /// Artifacts in file order.
    pub artifacts: Vec<Artifact>,
    /// Every problem met.
    pub diagnostics: Vec<ScanDiagnostic>,
}

impl TrivyReport {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == ScanSeverity::Error)
    }
}

/// True when `text` looks like a Trivy JSON report (a JSON object naming `SchemaVersion`
/// and `Results` or `Resources`).
pub fn looks_like_trivy(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{')
        && t.contains("\"SchemaVersion\"")
        && (t.contains("\"Results\"") || t.contains("\"Resources\""))
}

struct Cx<'a> {
    file: &'a str,
    index: SpanIndex,
    diagnostics: Vec<ScanDiagnostic>,
}

impl Cx<'_> {
    fn line(&self, pointer: &str) -> u32 {
        self.index.value(pointer).line
    }

    fn diag(&mut self, pointer: &str, severity: ScanSeverity, message: String) {
        let loc = self.index.value(pointer);
        self.diagnostics.push(ScanDiagnostic {
            file: self.file.to_owned(),
            line: loc.line,
            column: loc.col,
            path: if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer.to_owned()
            },
            severity,
            message,
        });
    }
}

/// Reads a Trivy JSON report. `file` names it in diagnostics.
pub fn parse(file: &str, text: &str) -> TrivyReport {
    let mut report = TrivyReport {
        file: file.to_owned(),
        artifacts: Vec::new(),
        diagnostics: Vec::new(),
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            report.diagnostics.push(ScanDiagnostic {
                file: file.to_owned(),
                line: u32::try_from(e.line()).unwrap_or(u32::MAX).max(1),
                column: u32::try_from(e.column()).unwrap_or(u32::MAX).max(1),
                path: "/".to_owned(),
                severity: ScanSeverity::Error,
                message: format!("not valid JSON: {e}"),
            });
            return report;
        }
    };
    // Positions come from the YAML reader (JSON is YAML); without them, 1:1.
    let index = doppel_model::yaml::parse(text)
        .map(|p| p.index)
        .unwrap_or_default();
    let mut cx = Cx {
        file,
        index,
        diagnostics: Vec::new(),
    };
    let Some(root) = value.as_object() else {
        cx.diag(
            "",
            ScanSeverity::Error,
            "a Trivy report is a JSON object".into(),
        );
        report.diagnostics = cx.diagnostics;
        return report;
    };
    match root.get("SchemaVersion").and_then(Value::as_u64) {
        Some(2) => {}
        Some(v) => cx.diag(
            "/SchemaVersion",
            ScanSeverity::Warning,
            format!("schema version {v}; this reader follows version 2"),
        ),
        None => cx.diag(
            "/SchemaVersion",
            ScanSeverity::Error,
            "missing `SchemaVersion` (a number): is this a Trivy JSON report?".into(),
        ),
    }
    if let Some(resources) = root.get("Resources") {
        let Some(resources) = resources.as_array() else {
            cx.diag(
                "/Resources",
                ScanSeverity::Error,
                "`Resources` must be a list".into(),
            );
            report.diagnostics = cx.diagnostics;
            return report;
        };
        for (i, r) in resources.iter().enumerate() {
            let at = format!("/Resources/{i}");
            let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(ns), Some(kind), Some(name)) =
                (field("Namespace"), field("Kind"), field("Name"))
            else {
                cx.diag(
                    &at,
                    ScanSeverity::Error,
                    "a resource needs `Namespace`, `Kind` and `Name` strings; skipped".into(),
                );
                continue;
            };
            let mut a = Artifact {
                image: None,
                workload: Some((ns, kind, name)),
                vulnerabilities: Vec::new(),
                without_cve: 0,
                line: cx.line(&at),
            };
            read_results(&mut cx, r.get("Results"), &format!("{at}/Results"), &mut a);
            report.artifacts.push(a);
        }
    } else {
        let image = match root.get("ArtifactName").and_then(Value::as_str) {
            Some(n) if !n.trim().is_empty() => n.to_owned(),
            _ => {
                cx.diag(
                    "/ArtifactName",
                    ScanSeverity::Error,
                    "missing `ArtifactName` (the image reference)".into(),
                );
                report.diagnostics = cx.diagnostics;
                return report;
            }
        };
        if let Some(t) = root.get("ArtifactType").and_then(Value::as_str)
            && t != "container_image"
        {
            cx.diag(
                "/ArtifactType",
                ScanSeverity::Warning,
                format!("artifact type `{t}` is not a container image; read anyway"),
            );
        }
        let mut a = Artifact {
            image: Some(image),
            workload: None,
            vulnerabilities: Vec::new(),
            without_cve: 0,
            line: 1,
        };
        read_results(&mut cx, root.get("Results"), "/Results", &mut a);
        report.artifacts.push(a);
    }
    report.diagnostics = cx.diagnostics;
    report
}

fn read_results(cx: &mut Cx<'_>, results: Option<&Value>, at: &str, a: &mut Artifact) {
    let Some(results) = results else {
        return; // Trivy omits `Results` when nothing was found.
    };
    let Some(results) = results.as_array() else {
        cx.diag(at, ScanSeverity::Error, "`Results` must be a list".into());
        return;
    };
    for (i, r) in results.iter().enumerate() {
        let rat = format!("{at}/{i}");
        let Some(vulns) = r.get("Vulnerabilities") else {
            continue;
        };
        let Some(vulns) = vulns.as_array() else {
            cx.diag(
                &format!("{rat}/Vulnerabilities"),
                ScanSeverity::Error,
                "`Vulnerabilities` must be a list".into(),
            );
            continue;
        };
        for (j, v) in vulns.iter().enumerate() {
            let vat = format!("{rat}/Vulnerabilities/{j}");
            let Some(id) = v.get("VulnerabilityID").and_then(Value::as_str) else {
                cx.diag(
                    &vat,
                    ScanSeverity::Error,
                    "missing `VulnerabilityID`; finding skipped".into(),
                );
                continue;
            };
            if !is_cve(id) {
                if id.to_ascii_uppercase().starts_with("CVE") {
                    cx.diag(
                        &format!("{vat}/VulnerabilityID"),
                        ScanSeverity::Error,
                        format!("`{id}` is not a CVE id (CVE-YYYY-NNNN); finding skipped"),
                    );
                }
                a.without_cve += 1;
                continue;
            }
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
            let component = format!("{} {}", s("PkgName"), s("InstalledVersion"))
                .trim()
                .to_owned();
            let cvss3 = pick_vector(cx, v, &vat);
            let vuln = ImageVuln {
                cve: id.to_owned(),
                component,
                fixed_version: v
                    .get("FixedVersion")
                    .and_then(Value::as_str)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
                severity: s("Severity").to_owned(),
                cvss3,
                line: cx.line(&vat),
            };
            if !a
                .vulnerabilities
                .iter()
                .any(|x| x.cve == vuln.cve && x.component == vuln.component)
            {
                a.vulnerabilities.push(vuln);
            }
        }
    }
}

/// The CVSS v3 vector of a finding: from `SeveritySource`, else `nvd`, else any source.
fn pick_vector(cx: &mut Cx<'_>, v: &Value, at: &str) -> Option<String> {
    let cvss = v.get("CVSS")?.as_object()?;
    let source = v.get("SeveritySource").and_then(Value::as_str);
    let mut order: Vec<&String> = Vec::new();
    for s in [source, Some("nvd")].into_iter().flatten() {
        if let Some((k, _)) = cvss.get_key_value(s)
            && !order.contains(&k)
        {
            order.push(k);
        }
    }
    for k in cvss.keys() {
        if !order.contains(&k) {
            order.push(k);
        }
    }
    for k in order {
        let Some(vector) = cvss[k].get("V3Vector").and_then(Value::as_str) else {
            continue;
        };
        match Cvss::parse(vector) {
            Ok(_) => return Some(vector.to_owned()),
            Err(e) => cx.diag(
                &format!("{at}/CVSS/{k}/V3Vector"),
                ScanSeverity::Warning,
                format!("{e}; vector ignored"),
            ),
        }
    }
    None
}

/// What attaching a Trivy report did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrivyOutcome {
    /// Per matched service: its name, the artifact (image or `namespace/kind/name`) and how
    /// many vulnerabilities were added.
    pub matched: Vec<(String, String, usize)>,
    /// Artifacts no service of the twin runs.
    pub unmatched: Vec<String>,
    /// Warnings for unmatched artifacts.
    pub diagnostics: Vec<ScanDiagnostic>,
}

/// The image reference's repository name and tag: `reg:5000/shop/reco:0.14@sha256:..` →
/// (`reco`, `Some("0.14")`).
fn image_parts(image: &str) -> (&str, Option<&str>) {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    match last.split_once(':') {
        Some((name, tag)) => (name, Some(tag)),
        None => (last, None),
    }
}

/// Adds each artifact's vulnerabilities to the services running it (see the module docs).
/// A CVE already listed on the service is not added twice.
pub fn attach(twin: &mut Twin, report: &TrivyReport) -> TrivyOutcome {
    let mut out = TrivyOutcome {
        matched: Vec::new(),
        unmatched: Vec::new(),
        diagnostics: Vec::new(),
    };
    for a in &report.artifacts {
        let label = match (&a.image, &a.workload) {
            (Some(i), _) => i.clone(),
            (None, Some((ns, k, n))) => format!("{ns}/{k}/{n}"),
            (None, None) => continue,
        };
        let targets: Vec<String> = twin
            .services
            .iter()
            .filter(|(name, svc)| match (&a.image, &a.workload) {
                (_, Some((ns, _, n))) => {
                    *name == n && svc.namespace.as_deref().is_none_or(|s| s == ns)
                }
                (Some(image), None) => {
                    let tagged = format!("image={image}");
                    if svc.tags.contains(&tagged) {
                        return true;
                    }
                    let (repo, tag) = image_parts(image);
                    *name == repo
                        && match (&svc.version, tag) {
                            (Some(v), Some(t)) => v == t,
                            _ => true,
                        }
                }
                (None, None) => false,
            })
            .map(|(n, _)| n.clone())
            .collect();
        if targets.is_empty() {
            out.unmatched.push(label.clone());
            out.diagnostics.push(ScanDiagnostic {
                file: report.file.clone(),
                line: a.line,
                column: 1,
                path: label.clone(),
                severity: ScanSeverity::Warning,
                message: format!(
                    "no service of the twin runs {label} (name it after the image or tag it `image={label}`); its {} vulnerabilities are not attached",
                    a.vulnerabilities.len()
                ),
            });
            continue;
        }
        for t in targets {
            let Some(svc) = twin.services.get_mut(&t) else {
                continue;
            };
            let sec = svc.security.get_or_insert_with(SecurityFacts::default);
            let mut added = 0;
            for v in &a.vulnerabilities {
                if sec.vulnerabilities.iter().any(|x| x.cve == v.cve) {
                    continue;
                }
                sec.vulnerabilities.push(Vulnerability {
                    cve: v.cve.clone(),
                    cvss: v.cvss3.clone(),
                    component: (!v.component.is_empty()).then(|| v.component.clone()),
                    port: None,
                });
                added += 1;
            }
            out.matched.push((t, label.clone(), added));
        }
    }
    out
}

//! The Trivy JSON importer on hand-written reports in Trivy's schema (`test_data/trivy`, see
//! its PROVENANCE.tsv): findings, vector choice, matching images and Kubernetes workloads to the
//! example shop's services, and positioned diagnostics on malformed input. Expected counts and
//! lines were read off the files by hand.

#![allow(clippy::unwrap_used)]

use doppel_security::scan::ScanSeverity;
use doppel_security::scan::trivy;

fn read(name: &str) -> String {
    let path = format!("{}/test_data/trivy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn shop() -> doppel_model::Twin {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let loaded = doppel_model::load(&[format!("{dir}/shop.yaml")], |p| std::fs::read(p));
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

#[test]
fn an_image_report_gives_its_cves_with_the_severity_sources_vector() {
    let text = read("recommendations-image.json");
    assert!(trivy::looks_like_trivy(&text));
    let r = trivy::parse("recommendations-image.json", &text);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.artifacts.len(), 1);
    let a = &r.artifacts[0];
    assert_eq!(
        a.image.as_deref(),
        Some("registry.shop.example/shop/recommendations:0.14.0")
    );
    let cves: Vec<&str> = a.vulnerabilities.iter().map(|v| v.cve.as_str()).collect();
    assert_eq!(cves, ["CVE-2023-4911", "CVE-2021-44228", "CVE-2021-45046"]);
    // The Debian TEMP id is not a CVE: counted, not kept.
    assert_eq!(a.without_cve, 1);
    let log4shell = &a.vulnerabilities[1];
    assert_eq!(
        log4shell.component,
        "org.apache.logging.log4j:log4j-core 2.14.1"
    );
    assert_eq!(
        log4shell.cvss3.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H")
    );
    assert_eq!(log4shell.line, 58);
    assert_eq!(
        a.vulnerabilities[0].fixed_version.as_deref(),
        Some("2.31-13+deb11u7")
    );
}

#[test]
fn image_vulnerabilities_land_on_the_service_running_the_image() {
    let mut twin = shop();
    let r = trivy::parse(
        "recommendations-image.json",
        &read("recommendations-image.json"),
    );
    let out = trivy::attach(&mut twin, &r);
    // recommendations runs version 0.14.0, the image's tag; Log4Shell was already listed.
    assert_eq!(
        out.matched,
        [(
            "recommendations".to_owned(),
            "registry.shop.example/shop/recommendations:0.14.0".to_owned(),
            2
        )]
    );
    let vulns = &twin.services["recommendations"]
        .security
        .as_ref()
        .unwrap()
        .vulnerabilities;
    assert!(vulns.iter().any(|v| v.cve == "CVE-2021-45046"));
    // Every attached vector is one the model accepts.
    assert!(
        vulns
            .iter()
            .filter_map(|v| v.cvss.as_deref())
            .all(|c| doppel_model::cvss::Cvss::parse(c).is_ok())
    );
    // A tag different from the service's version does not match.
    let mut twin = shop();
    let other = read("recommendations-image.json").replace(
        "\"ArtifactName\": \"registry.shop.example/shop/recommendations:0.14.0\"",
        "\"ArtifactName\": \"registry.shop.example/shop/recommendations:0.15.0\"",
    );
    let out = trivy::attach(&mut twin, &trivy::parse("r.json", &other));
    assert!(out.matched.is_empty());
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].severity, ScanSeverity::Warning);
    // ...unless the service is tagged with the image.
    let mut twin = shop();
    twin.services
        .get_mut("cart")
        .unwrap()
        .tags
        .push("image=registry.shop.example/shop/recommendations:0.15.0".into());
    let out = trivy::attach(&mut twin, &trivy::parse("r.json", &other));
    assert_eq!(out.matched.len(), 1);
    assert_eq!(out.matched[0].0, "cart");
}

#[test]
fn a_kubernetes_report_maps_workloads_to_services() {
    let mut twin = shop();
    let r = trivy::parse("shop-k8s.json", &read("shop-k8s.json"));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.artifacts.len(), 3);
    let out = trivy::attach(&mut twin, &r);
    let matched: Vec<(&str, usize)> = out.matched.iter().map(|m| (m.0.as_str(), m.2)).collect();
    assert_eq!(matched, [("checkout", 3), ("cart", 1)]);
    assert_eq!(out.unmatched, ["monitoring/DaemonSet/node-exporter"]);
    // Every pod of checkout carries the image's CVEs: the graph sees them on each host.
    let sec = twin.services["checkout"].security.as_ref().unwrap();
    let ids: Vec<&str> = sec.vulnerabilities.iter().map(|v| v.cve.as_str()).collect();
    assert_eq!(ids, ["CVE-2023-44487", "CVE-2021-44832", "CVE-2022-42889"]);
    assert!(sec.vulnerabilities.iter().all(|v| v.port.is_none()));
}

#[test]
fn malformed_findings_are_reported_where_they_stand() {
    let r = trivy::parse("bad-fields.json", &read("bad-fields.json"));
    let shown: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "bad-fields.json:12:30: /Results/0/Vulnerabilities/0/VulnerabilityID: `CVE-23-38545` is not a CVE id (CVE-YYYY-NNNN); finding skipped",
            "bad-fields.json:25:27: /Results/0/Vulnerabilities/1/CVSS/nvd/V3Vector: warning: invalid CVSS vector `CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:Q/A:N`: I:Q is not a valid value (expected one of H, L, N); vector ignored",
            "bad-fields.json:30:9: /Results/0/Vulnerabilities/2: missing `VulnerabilityID`; finding skipped",
        ]
    );
    // The valid finding is kept, without its bad vector.
    let v = &r.artifacts[0].vulnerabilities;
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].cve.as_str(), v[0].cvss3.as_ref()),
        ("CVE-2023-38546", None)
    );
    assert!(r.has_errors());
}

#[test]
fn invalid_json_is_one_positioned_error() {
    let r = trivy::parse("truncated.json", &read("truncated.json"));
    assert!(r.artifacts.is_empty());
    assert_eq!(r.diagnostics.len(), 1);
    let d = &r.diagnostics[0];
    // The file stops after `"SeveritySource"`, on its 29th line (28 newlines before it).
    assert_eq!((d.line, d.severity), (29, ScanSeverity::Error));
    assert!(d.message.starts_with("not valid JSON"), "{d}");
}

#[test]
fn junk_never_panics() {
    for text in [
        "",
        "[]",
        "{}",
        "{\"SchemaVersion\": 2}",
        "{\"SchemaVersion\": 2, \"Resources\": 3}",
        "{\"SchemaVersion\": 2, \"Resources\": [{}]}",
        "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [{\"Vulnerabilities\": 1}]}",
        "{\"SchemaVersion\": \"two\", \"ArtifactName\": \"x\", \"Results\": {}}",
        "\u{feff}{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [{\"Vulnerabilities\": [{\"VulnerabilityID\": 7}]}]}",
    ] {
        let r = trivy::parse("junk.json", text);
        assert!(!r.diagnostics.is_empty(), "{text:?} gave no diagnostic");
    }
}

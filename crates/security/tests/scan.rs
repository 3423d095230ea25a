//! Scan importers against real scanner output (Nessus, OpenVAS/GVM, Nmap): hosts, ports and
//! CVEs counted independently (with Python's xml.etree over the same files), positioned
//! diagnostics for a truncated file and an invalid address, and attachment to a twin.

#![allow(clippy::unwrap_used)]

use doppel_model::{Host, Twin};
use doppel_security::scan::{self, ScanFormat, ScanSeverity};

fn read(name: &str) -> String {
    let path = format!("{}/test_data/scans/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap()
}

fn parse(name: &str) -> scan::ScanReport {
    scan::parse_auto(name, &read(name)).unwrap()
}

#[test]
fn nessus_example_reads_one_host_with_45_findings_and_161_cves() {
    let r = parse("pyTenable__tests_io_example.nessus");
    assert_eq!(r.format, ScanFormat::Nessus);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.hosts.len(), 1);
    let h = &r.hosts[0];
    assert_eq!(h.address.to_string(), "172.26.103.174");
    assert_eq!(h.hostname.as_deref(), Some("swat.lab.tenablesecurity.com"));
    assert_eq!(h.findings.len(), 45);
    // Every item carries a CVSS v3 vector (without the `CVSS:3.0/` prefix in the file).
    assert!(h.findings.iter().all(|f| {
        f.cvss3
            .as_deref()
            .is_some_and(|v| v.starts_with("CVSS:3.0/AV:"))
    }));
    let mut cves: Vec<&str> = h
        .findings
        .iter()
        .flat_map(|f| f.cves.iter().map(String::as_str))
        .collect();
    cves.sort_unstable();
    cves.dedup();
    assert_eq!(cves.len(), 161);
    // All findings are local package checks (port 0): no open port is claimed.
    assert!(h.open_ports.is_empty());
    assert!(h.findings.iter().all(|f| f.port.is_none()));
}

#[test]
fn attaching_a_scan_adds_each_cve_once_to_the_host_with_that_address() {
    let r = parse("pyTenable__tests_io_example.nessus");
    let mut twin = Twin::default();
    twin.hosts.insert(
        "swat".into(),
        Host {
            cores: 2.0,
            addresses: vec!["172.26.103.174".parse().unwrap()],
            ..Host::default()
        },
    );
    twin.hosts.insert(
        "other".into(),
        Host {
            cores: 1.0,
            ..Host::default()
        },
    );
    let out = scan::attach(&mut twin, &r);
    assert_eq!(out.matched.len(), 1);
    assert_eq!(out.matched[0].0, "swat");
    assert_eq!(out.matched[0].2, 161);
    assert!(out.unmatched.is_empty());
    let vulns = &twin.hosts["swat"]
        .security
        .as_ref()
        .unwrap()
        .vulnerabilities;
    assert_eq!(vulns.len(), 161);
    assert!(vulns.iter().all(|v| v.cvss.is_some() && v.port.is_none()));
    assert!(twin.hosts["other"].security.is_none());
    // Again: nothing new.
    let again = scan::attach(&mut twin, &r);
    assert_eq!(again.matched[0].2, 0);
}

#[test]
fn openvas_results_give_cves_ports_and_v3_vectors() {
    let r = parse("defectdojo__one_vuln.xml");
    assert_eq!(r.format, ScanFormat::Openvas);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.hosts.len(), 1);
    assert_eq!(r.hosts[0].address.to_string(), "10.0.101.2");
    assert_eq!(r.hosts[0].findings.len(), 1);
    let f = &r.hosts[0].findings[0];
    assert_eq!(f.cves.len(), 12);
    assert_eq!(f.port, None, "general/tcp is host-level");
    assert_eq!(f.score, Some(10.0));

    let r = parse("defectdojo__report_detail_v2.xml");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let h = &r.hosts[0];
    assert_eq!(h.address.to_string(), "10.99.99.99");
    assert_eq!(h.hostname.as_deref(), Some("server99"));
    let f = &h.findings[0];
    assert_eq!(f.cves.len(), 93);
    assert_eq!((f.port, f.protocol.as_deref()), (Some(42), Some("tcp")));
    assert_eq!(
        f.cvss3.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    );

    let r = parse("defectdojo__no_vuln.xml");
    assert!(r.hosts.is_empty() && r.diagnostics.is_empty());
}

#[test]
fn an_invalid_address_is_reported_where_it_stands_and_its_results_skipped() {
    let r = parse("defectdojo__many_vuln.xml");
    assert!(r.hosts.is_empty());
    assert_eq!(r.diagnostics.len(), 44, "one per result");
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.severity == ScanSeverity::Error)
    );
    // The first result's <host> is on line 158, column 17 (counted with grep).
    expect_test::expect![[r#"defectdojo__many_vuln.xml:158:17: report/report/results/result[1]/host: `192.168.1.1001` is not an IP address; result skipped"#]]
        .assert_eq(&r.diagnostics[0].to_string());
}

#[test]
fn a_truncated_file_gives_one_positioned_error() {
    let r = parse("truncated_one_vuln.xml");
    assert!(r.hosts.is_empty());
    assert_eq!(r.diagnostics.len(), 1);
    let d = &r.diagnostics[0];
    assert_eq!((d.line, d.severity), (1, ScanSeverity::Error));
    assert!(d.column > 2300, "{d}");
    assert!(d.message.starts_with("not well-formed XML"), "{d}");
}

#[test]
fn nmap_keeps_open_ports_with_products_and_vulners_cves() {
    let r = parse("defectdojo__nmap_multiple_port.xml");
    assert_eq!(r.format, ScanFormat::Nmap);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let h = &r.hosts[0];
    assert_eq!(h.address.to_string(), "198.38.82.159");
    let ports: Vec<u16> = h.open_ports.iter().map(|p| p.port).collect();
    assert_eq!(
        ports,
        [
            21, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 2525, 3306
        ]
    );

    let r = parse("defectdojo__nmap_script_vulners.xml");
    let h = &r.hosts[0];
    assert_eq!(h.address.to_string(), "192.168.0.1");
    let p = &h.open_ports[0];
    assert_eq!(
        (p.port, p.product.as_deref(), p.version.as_deref()),
        (5022, Some("OpenSSH"), Some("7.4"))
    );
    let cves: Vec<&str> = h
        .findings
        .iter()
        .flat_map(|f| f.cves.iter().map(String::as_str))
        .collect();
    assert_eq!(cves, ["CVE-2018-15919", "CVE-2017-15906"]);
    assert!(h.findings.iter().all(|f| f.port == Some(5022)));
}

#[test]
fn junk_never_panics_and_always_explains() {
    for text in [
        "",
        "not xml",
        "<foo/>",
        "<nmaprun><host><address addr='1.2.3.999'/></host></nmaprun>",
        "<NessusClientData_v2><Report><ReportHost name='x'><ReportItem port='99999'/></ReportHost></Report></NessusClientData_v2>",
    ] {
        for format in [ScanFormat::Nessus, ScanFormat::Openvas, ScanFormat::Nmap] {
            let r = scan::parse(format, "junk", text);
            assert!(r.hosts.is_empty(), "{text}");
            assert!(
                !r.diagnostics.is_empty(),
                "{format} on {text:?} gave no diagnostic"
            );
        }
    }
    // Every prefix of a real report (cut at arbitrary byte offsets) is handled.
    let full = read("defectdojo__report_detail_v2.xml");
    for cut in (0..full.len()).step_by(97) {
        if let Some(prefix) = full.get(..cut) {
            let _ = scan::parse(ScanFormat::Openvas, "cut", prefix);
        }
    }
}

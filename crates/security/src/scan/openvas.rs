//! OpenVAS / Greenbone GVM XML reports: `report[/report]/results/result` with `host` (address
//! text, `<hostname>` child), `port` (`443/tcp`, `general/tcp`), `nvt` (`oid`, `name`,
//! `refs/ref[type=cve]`, `severities/severity[type=cvss_base_v3]/value` or a
//! `cvss_base_vector=` tag) and `severity`.

use std::net::IpAddr;

use super::xml::{Cx, child, child_text, children, own_text};
use super::{Finding, OpenPort, ScanSeverity, is_cve, normalise_cvss3};

pub fn read(cx: &mut Cx<'_, '_>) {
    let root = cx.doc.root_element();
    let name = root.tag_name().name();
    if name != "report" && name != "get_reports_response" {
        cx.diag(
            root,
            ScanSeverity::Error,
            format!("expected an OpenVAS/GVM report (root element `report`), found `{name}`"),
        );
        return;
    }
    // Results sit under report/results or report/report/results; take every `results` whose
    // parent is a `report`, so nested `result_count` elements are not mistaken for results.
    let results: Vec<_> = cx
        .doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().name() == "results"
                && n.parent_element()
                    .is_some_and(|p| p.tag_name().name() == "report")
        })
        .flat_map(|r| children(r, "result").collect::<Vec<_>>())
        .collect();
    for result in results {
        read_result(cx, result);
    }
}

fn read_result(cx: &mut Cx<'_, '_>, result: roxmltree::Node<'_, '_>) {
    let Some(host) = child(result, "host") else {
        cx.diag(
            result,
            ScanSeverity::Error,
            "result without a `host`; skipped".to_owned(),
        );
        return;
    };
    let addr_text = own_text(host).unwrap_or_default();
    let address: IpAddr = match addr_text.parse() {
        Ok(a) => a,
        Err(_) => {
            cx.diag(
                host,
                ScanSeverity::Error,
                format!("`{addr_text}` is not an IP address; result skipped"),
            );
            return;
        }
    };
    let hostname = child_text(host, "hostname");
    // `443/tcp`, or `general/tcp` for host-level results.
    let (port, protocol) = match child(result, "port") {
        None => (None, None),
        Some(p) => {
            let text = own_text(p).unwrap_or_default();
            let (num, proto) = text.split_once('/').unwrap_or((text.as_str(), "tcp"));
            match num.parse::<u16>() {
                Ok(n) if n > 0 => (Some(n), Some(proto.to_ascii_lowercase())),
                Ok(_) => (None, None),
                Err(_) if num.chars().all(|c| c.is_ascii_alphabetic()) => (None, None),
                Err(_) => {
                    cx.diag(
                        p,
                        ScanSeverity::Warning,
                        format!("`{text}` is not PORT/PROTOCOL; treated as host-level"),
                    );
                    (None, None)
                }
            }
        }
    };
    let nvt = child(result, "nvt");
    let mut cves = Vec::new();
    let mut cvss3 = None;
    let mut name = child_text(result, "name").unwrap_or_default();
    let mut id = String::new();
    if let Some(nvt) = nvt {
        id = nvt.attribute("oid").unwrap_or_default().to_owned();
        if let Some(n) = child_text(nvt, "name") {
            name = n;
        }
        if let Some(refs) = child(nvt, "refs") {
            for r in children(refs, "ref").filter(|r| r.attribute("type") == Some("cve")) {
                let t = r.attribute("id").unwrap_or_default().trim().to_owned();
                if is_cve(&t) {
                    if !cves.contains(&t) {
                        cves.push(t);
                    }
                } else {
                    cx.diag(
                        r,
                        ScanSeverity::Warning,
                        format!("`{t}` is not a CVE id; ignored"),
                    );
                }
            }
        }
        // Older reports: a comma-separated `<cve>` element.
        if let Some(list) = child_text(nvt, "cve") {
            for t in list.split(',').map(str::trim) {
                if is_cve(t) && !cves.iter().any(|c| c == t) {
                    cves.push(t.to_owned());
                }
            }
        }
        let from_severities = child(nvt, "severities").and_then(|s| {
            children(s, "severity")
                .find(|x| {
                    x.attribute("type")
                        .is_some_and(|t| t.starts_with("cvss_base_v3"))
                })
                .and_then(|x| child_text(x, "value"))
        });
        let from_tags = child_text(nvt, "tags").and_then(|tags| {
            tags.split('|')
                .find_map(|kv| kv.strip_prefix("cvss_base_vector="))
                .filter(|v| v.starts_with("CVSS:3"))
                .map(str::to_owned)
        });
        if let Some(v) = from_severities.or(from_tags) {
            let v = normalise_cvss3(&v);
            match doppel_model::cvss::Cvss::parse(&v) {
                Ok(_) => cvss3 = Some(v),
                Err(e) => cx.diag(nvt, ScanSeverity::Warning, format!("{e}; vector ignored")),
            }
        }
    }
    let score = child_text(result, "severity").and_then(|s| s.parse::<f64>().ok());
    let line = cx.line(result);
    let h = cx.report.host_mut(address, hostname);
    if let (Some(port), Some(protocol)) = (port, &protocol)
        && !h
            .open_ports
            .iter()
            .any(|p| p.port == port && &p.protocol == protocol)
    {
        h.open_ports.push(OpenPort {
            port,
            protocol: protocol.clone(),
            service: None,
            product: None,
            version: None,
        });
    }
    h.findings.push(Finding {
        name,
        id,
        cves,
        cvss3,
        score,
        port,
        protocol,
        line,
    });
}

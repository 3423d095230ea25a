//! Nessus `.nessus` (NessusClientData_v2): `Report/ReportHost` with `HostProperties` tags
//! (`host-ip`, `host-fqdn`) and `ReportItem`s (`port`, `protocol`, `svc_name`, `pluginID`,
//! `<cve>`, `<cvss3_vector>`, `<cvss3_base_score>`).

use std::net::IpAddr;

use super::xml::{Cx, child, child_text, children};
use super::{Finding, OpenPort, ScanSeverity, is_cve, normalise_cvss3};

pub fn read(cx: &mut Cx<'_, '_>) {
    let root = cx.doc.root_element();
    if root.tag_name().name() != "NessusClientData_v2" {
        cx.diag(
            root,
            ScanSeverity::Error,
            format!(
                "expected a Nessus v2 file (root element `NessusClientData_v2`), found `{}`",
                root.tag_name().name()
            ),
        );
        return;
    }
    for report in children(root, "Report") {
        for host in children(report, "ReportHost") {
            read_host(cx, host);
        }
    }
}

fn read_host(cx: &mut Cx<'_, '_>, host: roxmltree::Node<'_, '_>) {
    let name = host.attribute("name").unwrap_or_default().to_owned();
    let props = child(host, "HostProperties");
    let tag = |key: &str| {
        props.and_then(|p| {
            children(p, "tag")
                .find(|t| t.attribute("name") == Some(key))
                .map(|t| (t, t.text().unwrap_or_default().trim().to_owned()))
        })
    };
    // The address: the `host-ip` property, else the ReportHost name when it is an address.
    let (addr_node, addr_text) = match tag("host-ip") {
        Some((node, text)) => (node, text),
        None => (host, name.clone()),
    };
    let address: IpAddr = match addr_text.parse() {
        Ok(a) => a,
        Err(_) => {
            cx.diag(
                addr_node,
                ScanSeverity::Error,
                format!(
                    "host `{name}`: `{addr_text}` is not an IP address; its {} findings are skipped",
                    children(host, "ReportItem").count()
                ),
            );
            return;
        }
    };
    let fqdn = tag("host-fqdn")
        .map(|(_, t)| t)
        .or_else(|| (name != addr_text && !name.is_empty()).then(|| name.clone()));
    let mut items = Vec::new();
    for item in children(host, "ReportItem") {
        let port_text = item.attribute("port").unwrap_or("0");
        let Ok(port) = port_text.parse::<u16>() else {
            cx.diag(
                item,
                ScanSeverity::Error,
                format!("port `{port_text}` is not a port number; finding skipped"),
            );
            continue;
        };
        let protocol = item
            .attribute("protocol")
            .unwrap_or("tcp")
            .to_ascii_lowercase();
        let mut cves = Vec::new();
        for c in children(item, "cve") {
            let t = c.text().unwrap_or_default().trim().to_owned();
            if is_cve(&t) {
                if !cves.contains(&t) {
                    cves.push(t);
                }
            } else {
                cx.diag(
                    c,
                    ScanSeverity::Warning,
                    format!("`{t}` is not a CVE id; ignored"),
                );
            }
        }
        let cvss3 = child_text(item, "cvss3_vector").map(|v| normalise_cvss3(&v));
        if let Some(v) = &cvss3
            && let Err(e) = doppel_model::cvss::Cvss::parse(v)
            && let Some(node) = child(item, "cvss3_vector")
        {
            cx.diag(node, ScanSeverity::Warning, format!("{e}; vector ignored"));
        }
        let cvss3 = cvss3.filter(|v| doppel_model::cvss::Cvss::parse(v).is_ok());
        let score = child_text(item, "cvss3_base_score")
            .or_else(|| child_text(item, "cvss_base_score"))
            .and_then(|s| s.parse::<f64>().ok());
        let svc = item
            .attribute("svc_name")
            .filter(|s| !s.is_empty() && *s != "general");
        items.push((
            port,
            protocol.clone(),
            svc.map(str::to_owned),
            Finding {
                name: item.attribute("pluginName").unwrap_or_default().to_owned(),
                id: item.attribute("pluginID").unwrap_or_default().to_owned(),
                cves,
                cvss3,
                score,
                port: (port != 0).then_some(port),
                protocol: (port != 0).then_some(protocol),
                line: cx.line(item),
            },
        ));
    }
    let h = cx.report.host_mut(address, fqdn);
    for (port, protocol, svc, finding) in items {
        if port != 0
            && !h
                .open_ports
                .iter()
                .any(|p| p.port == port && p.protocol == protocol)
        {
            h.open_ports.push(OpenPort {
                port,
                protocol,
                service: svc,
                product: None,
                version: None,
            });
        }
        h.findings.push(finding);
    }
}

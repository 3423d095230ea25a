//! Nmap XML (`nmap -oX`): `nmaprun/host` with `address[@addrtype=ipv4|ipv6]`, `hostnames`, and
//! `ports/port` (`protocol`, `portid`, `state/@state`, `service/@name,@product,@version`).
//! Only open ports are kept. CVEs listed by the `vulners` script become findings.

use std::net::IpAddr;

use super::xml::{Cx, child, children};
use super::{Finding, OpenPort, ScanSeverity, is_cve};

pub fn read(cx: &mut Cx<'_, '_>) {
    let root = cx.doc.root_element();
    if root.tag_name().name() != "nmaprun" {
        cx.diag(
            root,
            ScanSeverity::Error,
            format!(
                "expected Nmap XML (root element `nmaprun`), found `{}`",
                root.tag_name().name()
            ),
        );
        return;
    }
    for host in children(root, "host") {
        read_host(cx, host);
    }
}

fn read_host(cx: &mut Cx<'_, '_>, host: roxmltree::Node<'_, '_>) {
    let addr = children(host, "address")
        .find(|a| matches!(a.attribute("addrtype"), Some("ipv4" | "ipv6") | None));
    let Some(addr) = addr else {
        cx.diag(
            host,
            ScanSeverity::Error,
            "host without an IPv4/IPv6 `address`; skipped".to_owned(),
        );
        return;
    };
    let text = addr.attribute("addr").unwrap_or_default();
    let address: IpAddr = match text.parse() {
        Ok(a) => a,
        Err(_) => {
            cx.diag(
                addr,
                ScanSeverity::Error,
                format!("`{text}` is not an IP address; host skipped"),
            );
            return;
        }
    };
    let hostname = child(host, "hostnames")
        .and_then(|h| child(h, "hostname"))
        .and_then(|h| h.attribute("name"))
        .map(str::to_owned);
    let mut ports = Vec::new();
    let mut findings = Vec::new();
    for port in child(host, "ports")
        .into_iter()
        .flat_map(|p| children(p, "port"))
    {
        let id = port.attribute("portid").unwrap_or_default();
        let Ok(num) = id.parse::<u16>() else {
            cx.diag(
                port,
                ScanSeverity::Error,
                format!("portid `{id}` is not a port number; port skipped"),
            );
            continue;
        };
        let state = child(port, "state").and_then(|s| s.attribute("state"));
        if state != Some("open") {
            continue;
        }
        let protocol = port.attribute("protocol").unwrap_or("tcp").to_owned();
        let service = child(port, "service");
        let get = |k: &str| {
            service
                .and_then(|s| s.attribute(k))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        ports.push(OpenPort {
            port: num,
            protocol: protocol.clone(),
            service: get("name"),
            product: get("product"),
            version: get("version"),
        });
        for script in children(port, "script").filter(|s| s.attribute("id") == Some("vulners")) {
            // <table key="cpe"><table><elem key="id">CVE-…</elem><elem key="cvss">…</elem>…
            for entry in script.descendants().filter(|n| n.has_tag_name("table")) {
                let elem = |k: &str| {
                    children(entry, "elem")
                        .find(|e| e.attribute("key") == Some(k))
                        .and_then(|e| e.text())
                        .map(|t| t.trim().to_owned())
                };
                let Some(cve) = elem("id").filter(|i| is_cve(i)) else {
                    continue;
                };
                findings.push(Finding {
                    name: format!("{cve} (vulners)"),
                    id: "vulners".to_owned(),
                    cves: vec![cve],
                    cvss3: None,
                    score: elem("cvss").and_then(|s| s.parse().ok()),
                    port: Some(num),
                    protocol: Some(protocol.clone()),
                    line: cx.line(entry),
                });
            }
        }
    }
    let h = cx.report.host_mut(address, hostname);
    for p in ports {
        if !h
            .open_ports
            .iter()
            .any(|q| q.port == p.port && q.protocol == p.protocol)
        {
            h.open_ports.push(p);
        }
    }
    h.findings.extend(findings);
}

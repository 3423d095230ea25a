//! NetBox importer: REST API JSON (a single object, a list response `{"results": [...]}` or a
//! bare array) of devices, interfaces, cables, prefixes, IP addresses and virtual machines.
//! Files may be given in any order and mixed; the kind of each object is recognised from its
//! fields (and its `url`).
//!
//! - Devices become bare-metal hosts (appliances when their role is network gear), in the zone
//!   of their site and their rack, with their primary and out-of-band IPs; network gear also
//!   becomes a router.
//! - Virtual machines become VM hosts with their vCPUs, memory and cluster.
//! - Prefixes become subnets (containers become networks, and each subnet's network is the
//!   smallest container around it).
//! - Cables between interfaces, and interfaces' `connected_endpoints`, become links between
//!   routers (both ends become routers), with the bandwidth the interface type states.
//!   Console and power cables are not data links and are skipped.
//!
//! Custom fields, config contexts and local context data are never read: they are where
//! NetBox users keep credentials.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use doppel_model::{
    Bandwidth, Bytes, Cluster, Duration, Host, HostKind, Link, Network, Os, Provenance, Rack,
    Router, Subnet, Twin,
};
use serde_json::Value;

use crate::text::{self, JsonFile, push_unique, str_at};
use crate::{Diagnostic, ImportResult, Importer, Input, Severity, Source};

/// Reads NetBox JSON.
pub struct Netbox;

impl Importer for Netbox {
    fn source(&self) -> Source {
        Source::Netbox
    }

    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        let mut diags = Vec::new();
        let files: Vec<JsonFile<'_>> = inputs
            .iter()
            .filter_map(|i| text::read_json(i, &mut diags))
            .collect();
        let mut objects: Vec<Obj<'_>> = Vec::new();
        for (f, file) in files.iter().enumerate() {
            let before = objects.len();
            let (items, base): (Vec<&Value>, &str) = match &file.value {
                Value::Array(a) => (a.iter().collect(), ""),
                Value::Object(m) if m.contains_key("results") => match m.get("results") {
                    Some(Value::Array(a)) => (a.iter().collect(), "/results"),
                    _ => {
                        diags.push(file.diag(
                            Severity::Error,
                            "/results",
                            "`results` is not a list",
                        ));
                        continue;
                    }
                },
                Value::Object(_) => (vec![&file.value], ""),
                _ => (Vec::new(), ""),
            };
            for (i, item) in items.into_iter().enumerate() {
                let pointer = if base.is_empty() && !file.value.is_array() {
                    String::new()
                } else {
                    format!("{base}/{i}")
                };
                match classify(item) {
                    Some(kind) => objects.push(Obj { file: f, pointer, kind, v: item }),
                    None => diags.push(file.diag(
                        Severity::Warning,
                        &pointer,
                        "not a NetBox device, interface, cable, prefix, IP address or virtual machine; skipped",
                    )),
                }
            }
            if objects.len() == before && !diags.iter().any(|d| d.file == file.name) {
                diags.push(file.diag(Severity::Warning, "", "no NetBox objects found"));
            }
        }
        let delta = build(&files, &objects, &mut diags);
        text::place(&files, &mut diags);
        ImportResult {
            delta,
            diagnostics: diags,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Device,
    Vm,
    Interface,
    Cable,
    Prefix,
    IpAddress,
}

struct Obj<'v> {
    file: usize,
    pointer: String,
    kind: Kind,
    v: &'v Value,
}

impl Obj<'_> {
    fn diag(
        &self,
        files: &[JsonFile<'_>],
        sev: Severity,
        field: &str,
        msg: impl Into<String>,
    ) -> Diagnostic {
        let ptr = format!("{}{field}", self.pointer);
        match files.get(self.file) {
            Some(f) => f.diag(sev, &ptr, msg),
            None => text::file_diag("?", sev, (1, 1), &ptr, msg),
        }
    }

    fn provenance(&self, files: &[JsonFile<'_>], what: &str) -> Provenance {
        let id = self.v.get("id").map(|i| i.to_string()).unwrap_or_default();
        Provenance {
            source: "netbox".into(),
            file: files.get(self.file).map(|f| f.name.to_owned()),
            reference: Some(format!("{what}/{id}")),
            observed_at: self
                .v
                .get("last_updated")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields: Default::default(),
        }
    }
}

fn classify(v: &Value) -> Option<Kind> {
    let url = str_at(v, "url").unwrap_or("");
    let has = |k: &str| v.get(k).is_some();
    if url.contains("/dcim/cables/") || has("termination_a_type") || has("a_terminations") {
        Some(Kind::Cable)
    } else if url.contains("/dcim/interfaces/")
        || (has("device") && has("name") && (has("type") || has("form_factor")))
    {
        Some(Kind::Interface)
    } else if url.contains("/virtualization/virtual-machines/") || (has("vcpus") && has("name")) {
        Some(Kind::Vm)
    } else if url.contains("/dcim/devices/") || (has("device_type") && has("name")) {
        Some(Kind::Device)
    } else if url.contains("/ipam/prefixes/") || has("prefix") {
        Some(Kind::Prefix)
    } else if url.contains("/ipam/ip-addresses/") || (has("address") && has("assigned_object_type"))
    {
        Some(Kind::IpAddress)
    } else {
        None
    }
}

/// The name or slug of a nested object (`{"name": ...}`), or a plain string.
fn nested_name(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(m) => m
            .get("name")
            .or_else(|| m.get("display"))
            .or_else(|| m.get("slug"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn address_of(v: Option<&Value>) -> Option<std::net::IpAddr> {
    let text = match v? {
        Value::Object(m) => m.get("address")?.as_str()?,
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    text.split('/').next()?.parse().ok()
}

const NETWORK_ROLES: [&str; 10] = [
    "router",
    "switch",
    "firewall",
    "spine",
    "leaf",
    "core",
    "edge",
    "gateway",
    "load-balancer",
    "access",
];

fn is_network_gear(device: &Value) -> bool {
    let role = device
        .get("role")
        .or_else(|| device.get("device_role"))
        .and_then(|r| r.get("slug").or_else(|| r.get("name")))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    NETWORK_ROLES.iter().any(|r| role.contains(r))
}

/// Bandwidth of an interface from its type (`10gbase-x-sfpp`, `1000base-t`) or its label
/// (`QSFP+ (40GE)`), in bits per second.
pub(crate) fn interface_bandwidth(iface: &Value) -> Option<f64> {
    let ty = iface.get("type").or_else(|| iface.get("form_factor"));
    let texts: Vec<String> = [
        ty.and_then(|t| t.get("value")).and_then(Value::as_str),
        ty.and_then(|t| t.get("label")).and_then(Value::as_str),
        ty.and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .map(str::to_ascii_lowercase)
    .collect();
    for t in &texts {
        // `NNgbase`, `NNNNbase`, `(NNge)`, `NNgbe`.
        let digits_before = |idx: usize| -> Option<f64> {
            let head = &t[..idx];
            let start = head
                .rfind(|c: char| !c.is_ascii_digit())
                .map_or(0, |i| i + 1);
            head[start..].parse::<f64>().ok()
        };
        if let Some(i) = t.find("gbase")
            && let Some(n) = digits_before(i)
        {
            return Some(n * 1e9);
        }
        if let Some(i) = t.find("base-")
            && let Some(n) = digits_before(i)
        {
            return Some(n * 1e6);
        }
        for marker in ["ge)", "gbe", "ge "] {
            if let Some(i) = t.find(marker)
                && let Some(n) = digits_before(i)
            {
                return Some(n * 1e9);
            }
        }
        if t.ends_with("ge")
            && let Some(n) = digits_before(t.len() - 2)
        {
            return Some(n * 1e9);
        }
    }
    None
}

fn build(files: &[JsonFile<'_>], objects: &[Obj<'_>], diags: &mut Vec<Diagnostic>) -> Twin {
    let mut twin = Twin::default();
    let mut device_names: HashMap<String, String> = HashMap::new();

    let zone_of = |twin: &mut Twin, site: Option<String>| -> Option<String> {
        let site = text::name(&site?);
        twin.zones.entry(site.clone()).or_default();
        Some(site)
    };

    for o in objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Device | Kind::Vm))
    {
        let Some(raw) = str_at(o.v, "name").filter(|n| !n.is_empty()) else {
            diags.push(o.diag(files, Severity::Warning, "/name", "unnamed object; skipped"));
            continue;
        };
        let name = text::name(raw);
        let mut host = Host {
            kind: if o.kind == Kind::Vm {
                HostKind::Vm
            } else if is_network_gear(o.v) {
                HostKind::Appliance
            } else {
                HostKind::BareMetal
            },
            provenance: Some(o.provenance(
                files,
                if o.kind == Kind::Vm {
                    "virtualization.virtualmachine"
                } else {
                    "dcim.device"
                },
            )),
            ..Host::default()
        };
        host.zone = zone_of(&mut twin, nested_name(o.v.get("site")));
        if let (Some(zone), Some(rack)) = (
            &host.zone,
            nested_name(o.v.get("rack")).map(|r| text::name(&r)),
        ) {
            twin.racks.entry(rack.clone()).or_insert_with(|| Rack {
                zone: zone.clone(),
                provenance: None,
            });
            host.rack = Some(rack);
        }
        for key in ["primary_ip4", "primary_ip6", "primary_ip", "oob_ip"] {
            if let Some(ip) = address_of(o.v.get(key)) {
                push_unique(&mut host.addresses, ip);
            }
        }
        if let Some(p) = nested_name(o.v.get("platform")) {
            host.os = Some(Os {
                name: p,
                version: None,
                kernel: None,
            });
        }
        if o.kind == Kind::Vm {
            match o.v.get("vcpus").and_then(Value::as_f64) {
                Some(c) if c >= 0.0 => host.cores = c,
                _ => diags.push(o.diag(
                    files,
                    Severity::Warning,
                    "/vcpus",
                    "vCPUs not given; cores left at 0",
                )),
            }
            if let Some(mb) = o.v.get("memory").and_then(Value::as_u64) {
                host.memory = Some(Bytes::new(mb.saturating_mul(1024 * 1024)));
            }
            if let Some(c) = nested_name(o.v.get("cluster")) {
                let c = text::name(&c);
                twin.clusters
                    .entry(c.clone())
                    .or_insert_with(Cluster::default);
                host.cluster = Some(c);
            }
        }
        if let Some(role) = nested_name(o.v.get("role").or_else(|| o.v.get("device_role"))) {
            host.tags.push(format!("role={role}"));
        }
        if let Some(id) = o.v.get("id").and_then(Value::as_u64) {
            let what = if o.kind == Kind::Vm { "vm" } else { "device" };
            host.tags.push(format!("provider-id:netbox-{what}-{id}"));
            if o.kind == Kind::Device {
                device_names.insert(id.to_string(), name.clone());
            }
        }
        if o.kind == Kind::Device && is_network_gear(o.v) {
            twin.routers.entry(name.clone()).or_insert_with(|| Router {
                zone: host.zone.clone(),
                provenance: host.provenance.clone(),
                ..Router::default()
            });
        }
        if twin.hosts.contains_key(&name) {
            diags.push(o.diag(
                files,
                Severity::Warning,
                "/name",
                format!("`{name}` is given twice; the first is kept"),
            ));
            continue;
        }
        twin.hosts.insert(name, host);
    }

    // Prefixes: containers are networks, the rest subnets inside the smallest container.
    let mut containers: Vec<(String, ipnet::IpNet)> = Vec::new();
    let mut prefixes: Vec<(&Obj<'_>, ipnet::IpNet)> = Vec::new();
    for o in objects.iter().filter(|o| o.kind == Kind::Prefix) {
        let Some(net) = str_at(o.v, "prefix").and_then(|p| p.parse::<ipnet::IpNet>().ok()) else {
            diags.push(o.diag(
                files,
                Severity::Warning,
                "/prefix",
                "not a CIDR prefix; skipped",
            ));
            continue;
        };
        let status =
            o.v.get("status")
                .and_then(|s| s.get("value").or(Some(s)))
                .and_then(Value::as_str)
                .unwrap_or("");
        if status == "container" {
            let name = text::name(&net.to_string());
            containers.push((name.clone(), net));
            twin.networks.insert(
                name,
                Network {
                    cidr: net,
                    region: None,
                    provenance: Some(o.provenance(files, "ipam.prefix")),
                },
            );
        } else {
            prefixes.push((o, net));
        }
    }
    for (o, net) in prefixes {
        let network = containers
            .iter()
            .filter(|(_, c)| c.contains(&net) && *c != net)
            .max_by_key(|(_, c)| c.prefix_len())
            .map(|(n, _)| n.clone());
        let zone = zone_of(
            &mut twin,
            nested_name(o.v.get("site")).or_else(|| nested_name(o.v.get("scope"))),
        );
        twin.subnets.insert(
            text::name(&net.to_string()),
            Subnet {
                network,
                cidr: net,
                zone,
                public: false,
                provenance: Some(o.provenance(files, "ipam.prefix")),
            },
        );
    }

    // Interfaces: their bandwidth, and links through `connected_endpoints`.
    let mut iface_bw: HashMap<String, f64> = HashMap::new();
    let mut iface_device: HashMap<String, String> = HashMap::new();
    let mut links: BTreeMap<(String, String), (Option<f64>, &Obj<'_>)> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.kind == Kind::Interface) {
        let Some(dev) = nested_name(o.v.get("device")) else {
            continue;
        };
        let dev = text::name(&dev);
        let bw = interface_bandwidth(o.v);
        if let Some(id) = o.v.get("id") {
            iface_device.insert(id.to_string(), dev.clone());
            if let Some(b) = bw {
                iface_bw.insert(id.to_string(), b);
            }
        }
        let peers_type = str_at(o.v, "connected_endpoints_type").unwrap_or("dcim.interface");
        for peer in
            o.v.get("connected_endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        {
            let other = if peers_type == "dcim.device" {
                nested_name(Some(peer))
            } else {
                nested_name(peer.get("device"))
            };
            if let Some(other) = other.map(|n| text::name(&n))
                && other != dev
            {
                let key = if dev < other {
                    (dev.clone(), other)
                } else {
                    (other, dev.clone())
                };
                links.entry(key).or_insert((bw, o));
            }
        }
    }
    for o in objects.iter().filter(|o| o.kind == Kind::Cable) {
        let ends = cable_ends(o.v);
        let Some(((a_ty, a), (b_ty, b))) = ends else {
            diags.push(o.diag(
                files,
                Severity::Warning,
                "",
                "cable without two terminations; skipped",
            ));
            continue;
        };
        if a_ty != "dcim.interface" || b_ty != "dcim.interface" {
            diags.push(o.diag(
                files,
                Severity::Info,
                "",
                format!("cable between {a_ty} and {b_ty} is not a data link; skipped"),
            ));
            continue;
        }
        let dev = |end: &Value| {
            nested_name(end.get("device"))
                .or_else(|| {
                    end.get("id")
                        .and_then(|i| iface_device.get(&i.to_string()).cloned())
                })
                .map(|n| text::name(&n))
        };
        let (Some(da), Some(db)) = (dev(a), dev(b)) else {
            diags.push(o.diag(
                files,
                Severity::Warning,
                "",
                "cable end without a device; skipped",
            ));
            continue;
        };
        let bw = [a, b]
            .iter()
            .filter_map(|e| {
                e.get("id")
                    .and_then(|i| iface_bw.get(&i.to_string()))
                    .copied()
            })
            .reduce(f64::min);
        let key = if da < db { (da, db) } else { (db, da) };
        links.insert(key, (bw, o));
    }
    for ((a, b), (bw, o)) in links {
        for end in [&a, &b] {
            twin.routers.entry(end.clone()).or_insert_with(|| Router {
                zone: twin.hosts.get(end).and_then(|h| h.zone.clone()),
                tags: vec!["netbox-device".into()],
                ..Router::default()
            });
        }
        let bits = bw.unwrap_or_else(|| {
            diags.push(o.diag(
                files,
                Severity::Warning,
                "",
                format!("link {a}–{b}: interface speed unknown; 1 Gbit/s assumed"),
            ));
            1e9
        });
        twin.links.insert(
            format!("{a}--{b}"),
            Link {
                from: a,
                to: b,
                bandwidth: Bandwidth::bits_per_sec(bits),
                latency: Duration::ZERO,
                cost: 1.0,
                directed: false,
                provenance: Some(o.provenance(
                    files,
                    if o.kind == Kind::Cable {
                        "dcim.cable"
                    } else {
                        "dcim.interface"
                    },
                )),
            },
        );
    }

    // IP addresses assigned to interfaces of known devices add to their addresses.
    for o in objects.iter().filter(|o| o.kind == Kind::IpAddress) {
        let Some(ip) = address_of(o.v.get("address")) else {
            continue;
        };
        let dev =
            o.v.get("assigned_object")
                .and_then(|a| {
                    nested_name(a.get("device")).or_else(|| nested_name(a.get("virtual_machine")))
                })
                .map(|n| text::name(&n));
        match dev.and_then(|d| twin.hosts.get_mut(&d)) {
            Some(h) => push_unique(&mut h.addresses, ip),
            None => diags.push(o.diag(
                files,
                Severity::Info,
                "",
                "IP address not assigned to a device or VM in the input; skipped",
            )),
        }
    }
    twin
}

/// One end of a cable: the terminating object's type and the object.
type End<'v> = (String, &'v Value);

/// The two ends of a cable, old style (`termination_a`) or NetBox 3.3+ (`a_terminations`):
/// (object type, object) each.
fn cable_ends(v: &Value) -> Option<(End<'_>, End<'_>)> {
    let side = |s: &str| -> Option<End<'_>> {
        if let Some(obj) = v.get(format!("termination_{s}")).filter(|x| x.is_object()) {
            let ty = str_at(v, &format!("termination_{s}_type"))
                .unwrap_or("")
                .to_owned();
            return Some((ty, obj));
        }
        let first = v.get(format!("{s}_terminations"))?.as_array()?.first()?;
        let ty = str_at(first, "object_type").unwrap_or("").to_owned();
        Some((ty, first.get("object").unwrap_or(first)))
    };
    Some((side("a")?, side("b")?))
}

//! From Terraform resources to twin entities, for AWS, GCP and Azure.
//!
//! | Terraform type | twin |
//! |---|---|
//! | `aws_vpc`, `azurerm_virtual_network` | network (CIDR from `cidr_block` / `address_space`) |
//! | `aws_subnet`, `google_compute_subnetwork`, `azurerm_subnet` | subnet, zone and region |
//! | `aws_security_group` (+ `aws_security_group_rule`, `aws_vpc_security_group_*_rule`) | security group with ordered rules |
//! | `google_compute_firewall` | security group, attached to the instances its `target_tags` name |
//! | `azurerm_network_security_group` (+ `azurerm_network_security_rule`) | security group, rules in priority order |
//! | `aws_instance`, `google_compute_instance`, `azurerm_*virtual_machine` | host (zone, cores, addresses, subnet, groups) |
//! | `aws_autoscaling_group` | service with `replicas` = desired capacity |
//! | `aws_lb`, `aws_alb`, `aws_elb` (+ listeners, target groups) | load-balancer service, exposed ports |
//! | `aws_db_instance`, `aws_rds_cluster` | database service |
//! | `aws_elasticache_cluster`, `aws_elasticache_replication_group` | cache service |
//!
//! Provider ids become `provider-id:ID` tags (on hosts and services), which [`crate::merge()`]
//! matches across sources. Facts the model has no field for (instance type, engine, autoscaling
//! bounds, target groups) become `KEY=VALUE` tags. Every other resource type gets an info
//! diagnostic.

use std::collections::HashMap;

use doppel_model::{
    Action, Direction, Exposure, FirewallRule, Host, HostKind, Network, Os, PortRange, Protocol,
    Provenance, Region, SecurityFacts, SecurityGroup, Service, ServiceKind, ServicePort, Subnet,
    Twin, Zone,
};
use serde_json::Value;

use super::Res;
use crate::text::{self, JsonFile, push_unique, str_at};
use crate::{Diagnostic, Severity};

struct Ctx<'a, 'f> {
    files: &'a [JsonFile<'f>],
    diags: &'a mut Vec<Diagnostic>,
    twin: Twin,
    /// Provider id (id, ARN, self link, Azure id, name) → twin name, per entity family.
    networks: HashMap<String, String>,
    subnets: HashMap<String, String>,
    groups: HashMap<String, String>,
    hosts: HashMap<String, String>,
    services: HashMap<String, String>,
    target_groups: HashMap<String, String>,
    /// Azure NIC id → (addresses, subnet).
    nics: HashMap<String, (Vec<std::net::IpAddr>, Option<String>)>,
    /// GCP firewall name → target tags (empty: every instance).
    gcp_targets: Vec<(String, Vec<String>)>,
}

impl Ctx<'_, '_> {
    fn diag(&mut self, r: &Res, sev: Severity, field: &str, msg: impl Into<String>) {
        let d = r.diag(self.files, sev, field, msg);
        self.diags.push(d);
    }

    fn provenance(&self, r: &Res) -> Provenance {
        Provenance {
            source: "terraform".into(),
            file: self.files.get(r.file).map(|f| f.name.to_owned()),
            reference: Some(r.address.clone()),
            observed_at: None,
            fields: Default::default(),
        }
    }

    /// Makes sure zone `zone` (and its region) exist; returns the zone name.
    fn zone(&mut self, zone: &str, region: Option<&str>, provider: &str) -> String {
        let zone = text::name(zone);
        let region = region.map(text::name);
        if let Some(region) = &region {
            self.twin
                .regions
                .entry(region.clone())
                .or_insert_with(|| Region {
                    provider: Some(provider.to_owned()),
                    ..Region::default()
                });
        }
        self.twin.zones.entry(zone.clone()).or_insert_with(|| Zone {
            region,
            ..Zone::default()
        });
        zone
    }
}

/// The twin name of a resource: the first of `keys` that is set (`tags.Name` reads the AWS
/// `Name` tag), else its module and configuration name with the index.
fn pick_name(r: &Res, keys: &[&str]) -> String {
    for key in keys {
        let v = match key.split_once('.') {
            Some((a, b)) => r
                .values
                .get(a)
                .and_then(|x| x.get(b))
                .and_then(Value::as_str),
            None => r.s(key),
        };
        if let Some(v) = v.filter(|v| !v.is_empty() && !v.contains('/')) {
            return text::name(v);
        }
    }
    let idx = r.index.trim_matches(['[', ']', '"']);
    let base = if idx.is_empty() {
        r.name.clone()
    } else {
        format!("{}-{idx}", r.name)
    };
    let module = r
        .module
        .split('.')
        .filter(|p| *p != "module")
        .collect::<Vec<_>>()
        .join(".");
    if module.is_empty() {
        text::name(&base)
    } else {
        text::name(&format!("{module}.{base}"))
    }
}

fn unique<V>(map: &indexmap::IndexMap<String, V>, base: String) -> String {
    if !map.contains_key(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !map.contains_key(n))
        .unwrap_or(base)
}

fn ids_of(r: &Res) -> Vec<String> {
    ["id", "arn", "self_link", "name"]
        .iter()
        .filter_map(|k| r.s(k).map(str::to_owned))
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn u64_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The resource types this importer maps.
const SUPPORTED: [&str; 34] = [
    "aws_vpc",
    "aws_subnet",
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_instance",
    "aws_autoscaling_group",
    "aws_lb",
    "aws_alb",
    "aws_elb",
    "aws_lb_target_group",
    "aws_alb_target_group",
    "aws_lb_listener",
    "aws_alb_listener",
    "aws_lb_target_group_attachment",
    "aws_alb_target_group_attachment",
    "aws_autoscaling_attachment",
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "google_compute_subnetwork",
    "google_compute_firewall",
    "google_compute_instance",
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_network_security_group",
    "azurerm_network_security_rule",
    "azurerm_network_interface",
    "azurerm_linux_virtual_machine",
    "azurerm_windows_virtual_machine",
    "azurerm_virtual_machine",
    "azurerm_network_interface_security_group_association",
];

fn priority(ty: &str) -> u8 {
    match ty {
        "aws_vpc" | "azurerm_virtual_network" => 0,
        "aws_subnet" | "google_compute_subnetwork" | "azurerm_subnet" => 1,
        "aws_security_group" | "azurerm_network_security_group" | "google_compute_firewall" => 2,
        "aws_security_group_rule"
        | "aws_vpc_security_group_ingress_rule"
        | "aws_vpc_security_group_egress_rule"
        | "azurerm_network_security_rule"
        | "azurerm_network_interface"
        | "aws_lb_target_group"
        | "aws_alb_target_group" => 3,
        "aws_lb_listener"
        | "aws_alb_listener"
        | "aws_lb_target_group_attachment"
        | "aws_alb_target_group_attachment"
        | "aws_autoscaling_attachment"
        | "azurerm_network_interface_security_group_association" => 5,
        _ => 4,
    }
}

pub(super) fn build(
    files: &[JsonFile<'_>],
    resources: &[Res],
    diags: &mut Vec<Diagnostic>,
) -> Twin {
    let mut ctx = Ctx {
        files,
        diags,
        twin: Twin::default(),
        networks: HashMap::new(),
        subnets: HashMap::new(),
        groups: HashMap::new(),
        hosts: HashMap::new(),
        services: HashMap::new(),
        target_groups: HashMap::new(),
        nics: HashMap::new(),
        gcp_targets: Vec::new(),
    };
    let mut order: Vec<&Res> = resources.iter().collect();
    order.sort_by_key(|r| priority(&r.ty));
    let groups: Vec<&Res> = order
        .iter()
        .copied()
        .filter(|r| r.ty == "aws_security_group" && r.mode != "data")
        .collect();
    let mut inline_done = false;
    let inline = |ctx: &mut Ctx<'_, '_>| {
        for g in &groups {
            if let Some(name) = g.s("id").and_then(|id| ctx.groups.get(id).cloned()) {
                aws_inline_rules(ctx, g, &name);
            }
        }
    };
    for r in order {
        if !inline_done && priority(&r.ty) >= 3 {
            inline(&mut ctx);
            inline_done = true;
        }
        if r.mode == "data" {
            continue;
        }
        if !SUPPORTED.contains(&r.ty.as_str()) {
            ctx.diag(
                r,
                Severity::Info,
                "",
                format!("resource type `{}` is not imported (`{}`)", r.ty, r.address),
            );
            continue;
        }
        if !r.values.is_object() {
            ctx.diag(
                r,
                Severity::Info,
                "",
                format!(
                    "`{}` has no values (unknown until apply); skipped",
                    r.address
                ),
            );
            continue;
        }
        let known = match r.ty.as_str() {
            "aws_vpc" => aws_vpc(&mut ctx, r),
            "aws_subnet" => aws_subnet(&mut ctx, r),
            "aws_security_group" => aws_security_group(&mut ctx, r),
            "aws_security_group_rule" => aws_sg_rule(&mut ctx, r),
            "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
                aws_vpc_sg_rule(&mut ctx, r)
            }
            "aws_instance" => aws_instance(&mut ctx, r),
            "aws_autoscaling_group" => aws_asg(&mut ctx, r),
            "aws_lb" | "aws_alb" | "aws_elb" => aws_lb(&mut ctx, r),
            "aws_lb_target_group" | "aws_alb_target_group" => aws_target_group(&mut ctx, r),
            "aws_lb_listener" | "aws_alb_listener" => aws_listener(&mut ctx, r),
            "aws_lb_target_group_attachment" | "aws_alb_target_group_attachment" => {
                aws_tg_attachment(&mut ctx, r)
            }
            "aws_autoscaling_attachment" => aws_asg_attachment(&mut ctx, r),
            "aws_db_instance" | "aws_rds_cluster" => aws_db(&mut ctx, r),
            "aws_elasticache_cluster" | "aws_elasticache_replication_group" => {
                aws_cache(&mut ctx, r)
            }
            "google_compute_subnetwork" => gcp_subnet(&mut ctx, r),
            "google_compute_firewall" => gcp_firewall(&mut ctx, r),
            "google_compute_instance" => gcp_instance(&mut ctx, r),
            "azurerm_virtual_network" => azure_vnet(&mut ctx, r),
            "azurerm_subnet" => azure_subnet(&mut ctx, r),
            "azurerm_network_security_group" => azure_nsg(&mut ctx, r),
            "azurerm_network_security_rule" => azure_nsg_rule(&mut ctx, r),
            "azurerm_network_interface" => azure_nic(&mut ctx, r),
            "azurerm_linux_virtual_machine"
            | "azurerm_windows_virtual_machine"
            | "azurerm_virtual_machine" => azure_vm(&mut ctx, r),
            "azurerm_network_interface_security_group_association" => azure_nic_nsg(&mut ctx, r),
            _ => false,
        };
        if !known {
            ctx.diag(
                r,
                Severity::Info,
                "",
                format!("resource type `{}` is not imported (`{}`)", r.ty, r.address),
            );
        }
    }
    if !inline_done {
        inline(&mut ctx);
    }
    // GCP firewalls apply to the instances carrying their target tags.
    let targets = std::mem::take(&mut ctx.gcp_targets);
    for (fw, tags) in targets {
        for host in ctx.twin.hosts.values_mut() {
            let gcp = host.tags.iter().any(|t| t == "provider=gcp");
            let hit = tags.is_empty()
                || tags
                    .iter()
                    .any(|t| host.tags.contains(&format!("network-tag:{t}")));
            if gcp && hit {
                push_unique(&mut host.security_groups, fw.clone());
            }
        }
    }
    ctx.twin
}

// ---------------------------------------------------------------- firewall rules

fn protocol(text: &str) -> Option<Protocol> {
    Some(match text.to_ascii_lowercase().as_str() {
        "-1" | "all" | "*" => Protocol::Any,
        "tcp" | "6" => Protocol::Tcp,
        "udp" | "17" => Protocol::Udp,
        "icmp" | "1" | "icmpv6" | "58" => Protocol::Icmp,
        _ => return None,
    })
}

fn port_range(from: Option<u64>, to: Option<u64>) -> Option<PortRange> {
    let (a, b) = (from?, to.or(from)?);
    let (a, b) = (u16::try_from(a).ok()?, u16::try_from(b).ok()?);
    match (a, b) {
        (0, 0) | (0, 65535) | (1, 65535) => None,
        (a, b) if a == b && a > 0 => Some(PortRange::Port(a)),
        (a, b) if a > 0 && a < b => Some(PortRange::Range(format!("{a}-{b}"))),
        _ => None,
    }
}

/// One AWS rule block (inline `ingress`/`egress`, or an `aws_security_group_rule`).
fn aws_rule(
    ctx: &mut Ctx<'_, '_>,
    r: &Res,
    at: &str,
    b: &Value,
    dir: Direction,
    own: &str,
) -> Option<FirewallRule> {
    let proto_text = str_at(b, "protocol")
        .or_else(|| str_at(b, "ip_protocol"))
        .unwrap_or("-1");
    let Some(proto) = protocol(proto_text) else {
        ctx.diag(
            r,
            Severity::Warning,
            &format!("{at}/protocol"),
            format!(
                "protocol `{}` is not modelled; read as any",
                text::name(proto_text)
            ),
        );
        return aws_rule_peers(ctx, r, at, b, dir, own, Protocol::Any, None);
    };
    let ports = if matches!(proto, Protocol::Any | Protocol::Icmp) {
        None
    } else {
        port_range(u64_of(b.get("from_port")), u64_of(b.get("to_port")))
    };
    aws_rule_peers(ctx, r, at, b, dir, own, proto, ports)
}

#[allow(clippy::too_many_arguments)]
fn aws_rule_peers(
    ctx: &mut Ctx<'_, '_>,
    r: &Res,
    at: &str,
    b: &Value,
    dir: Direction,
    own: &str,
    protocol: Protocol,
    ports: Option<PortRange>,
) -> Option<FirewallRule> {
    let mut peers = Vec::new();
    for key in ["cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"] {
        for c in strings(b.get(key)) {
            if c.parse::<ipnet::IpNet>().is_ok() {
                push_unique(&mut peers, c);
            }
        }
    }
    let mut groups = strings(b.get("security_groups"));
    groups.extend(strings(b.get("source_security_group_id")));
    groups.extend(strings(b.get("referenced_security_group_id")));
    for g in groups {
        match ctx.groups.get(&g) {
            Some(name) => push_unique(&mut peers, format!("group:{name}")),
            None => ctx.diag(
                r,
                Severity::Info,
                at,
                format!(
                    "security group `{}` is not in the input; that peer is left out",
                    text::name(&g)
                ),
            ),
        }
    }
    if b.get("self").and_then(Value::as_bool) == Some(true) {
        push_unique(&mut peers, format!("group:{own}"));
    }
    if !strings(b.get("prefix_list_ids")).is_empty()
        || b.get("prefix_list_id").is_some_and(|v| !v.is_null())
    {
        ctx.diag(
            r,
            Severity::Info,
            at,
            "prefix lists are not modelled; those peers are left out",
        );
    }
    if peers.is_empty() {
        ctx.diag(
            r,
            Severity::Info,
            at,
            "rule has no peer the twin can name; skipped",
        );
        return None;
    }
    Some(FirewallRule {
        direction: dir,
        action: Action::Allow,
        protocol,
        ports,
        peers,
        description: str_at(b, "description")
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
    })
}

// ---------------------------------------------------------------- AWS

fn aws_region_of_az(az: &str) -> Option<&str> {
    let last = az.chars().last()?;
    last.is_ascii_lowercase().then(|| &az[..az.len() - 1])
}

fn aws_tags(r: &Res, out: &mut Vec<String>) {
    if let Some(Value::Object(tags)) = r.values.get("tags") {
        for (k, v) in tags {
            if k == "Name" || crate::redact::is_secret_name(k) {
                continue;
            }
            if let Some(v) = v.as_str() {
                push_unique(out, format!("{k}={v}"));
            }
        }
    }
}

fn aws_vpc(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.networks, pick_name(r, &["tags.Name"]));
    let Some(cidr) = r.s("cidr_block").and_then(|c| c.parse().ok()) else {
        ctx.diag(
            r,
            Severity::Warning,
            "/cidr_block",
            "VPC without a CIDR block; skipped",
        );
        return true;
    };
    for id in ids_of(r) {
        ctx.networks.insert(id, name.clone());
    }
    ctx.twin.networks.insert(
        name,
        Network {
            cidr,
            region: None,
            provenance: Some(ctx.provenance(r)),
        },
    );
    true
}

fn aws_subnet(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let Some(cidr) = r.s("cidr_block").and_then(|c| c.parse().ok()) else {
        ctx.diag(
            r,
            Severity::Warning,
            "/cidr_block",
            "subnet without a CIDR block; skipped",
        );
        return true;
    };
    let name = unique(&ctx.twin.subnets, pick_name(r, &["tags.Name"]));
    let zone = r.s("availability_zone").map(|az| {
        let region = aws_region_of_az(az).map(str::to_owned);
        ctx.zone(az, region.as_deref(), "aws")
    });
    let network = r.s("vpc_id").and_then(|v| ctx.networks.get(v).cloned());
    if let (Some(net), Some(z)) = (&network, &zone)
        && let Some(n) = ctx.twin.networks.get_mut(net)
        && n.region.is_none()
    {
        n.region = ctx.twin.zones.get(z).and_then(|z| z.region.clone());
    }
    for id in ids_of(r) {
        ctx.subnets.insert(id, name.clone());
    }
    let public = r
        .values
        .get("map_public_ip_on_launch")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let prov = ctx.provenance(r);
    ctx.twin.subnets.insert(
        name,
        Subnet {
            network,
            cidr,
            zone,
            public,
            provenance: Some(prov),
        },
    );
    true
}

fn aws_security_group(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(
        &ctx.twin.security_groups,
        pick_name(r, &["name", "tags.Name"]),
    );
    for id in ids_of(r) {
        ctx.groups.insert(id, name.clone());
    }
    // Register first so rules may refer to the group itself or to each other.
    ctx.twin.security_groups.insert(
        name.clone(),
        SecurityGroup {
            rules: Vec::new(),
            default: Action::Deny,
            provenance: Some(ctx.provenance(r)),
        },
    );
    true
}

/// Inline rules are read after every group is known, so peers resolve whatever the order.
fn aws_inline_rules(ctx: &mut Ctx<'_, '_>, r: &Res, name: &str) {
    let mut rules = Vec::new();
    for (key, dir) in [
        ("ingress", Direction::Ingress),
        ("egress", Direction::Egress),
    ] {
        for (i, b) in r
            .values
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(rule) = aws_rule(ctx, r, &format!("/{key}/{i}"), b, dir, name) {
                rules.push(rule);
            }
        }
    }
    if let Some(sg) = ctx.twin.security_groups.get_mut(name) {
        sg.rules.extend(rules);
    }
}

/// `aws_security_group_rule`: the direction is its `type` attribute.
fn aws_sg_rule(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let dir = if r.s("type") == Some("egress") {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    aws_standalone_rule(ctx, r, dir)
}

/// `aws_vpc_security_group_{ingress,egress}_rule`: the direction is in the resource type.
fn aws_vpc_sg_rule(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let dir = if r.ty.ends_with("egress_rule") {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    aws_standalone_rule(ctx, r, dir)
}

/// A rule resource attached to a group by `security_group_id`.
fn aws_standalone_rule(ctx: &mut Ctx<'_, '_>, r: &Res, dir: Direction) -> bool {
    let Some(group) = r
        .s("security_group_id")
        .and_then(|g| ctx.groups.get(g).cloned())
    else {
        ctx.diag(
            r,
            Severity::Info,
            "/security_group_id",
            format!(
                "`{}` belongs to a security group not in the input; skipped",
                r.address
            ),
        );
        return true;
    };
    if let Some(rule) = aws_rule(ctx, r, "", &r.values.clone(), dir, &group)
        && let Some(sg) = ctx.twin.security_groups.get_mut(&group)
    {
        sg.rules.push(rule);
    }
    true
}

/// vCPUs of an EC2 instance type by its size (`m5.xlarge` → 4); `None` when unknown.
pub(crate) fn aws_vcpus(instance_type: &str) -> Option<f64> {
    let (family, size) = instance_type.split_once('.')?;
    if family.starts_with("t2") {
        return Some(match size {
            "nano" | "micro" | "small" => 1.0,
            "medium" | "large" => 2.0,
            "xlarge" => 4.0,
            "2xlarge" => 8.0,
            _ => return None,
        });
    }
    Some(match size {
        "nano" | "micro" | "small" => 2.0,
        "medium" => {
            if family.starts_with('t') {
                2.0
            } else {
                1.0
            }
        }
        "large" => 2.0,
        "xlarge" => 4.0,
        s => {
            let n: f64 = s.strip_suffix("xlarge")?.parse().ok()?;
            4.0 * n
        }
    })
}

fn aws_instance(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.hosts, pick_name(r, &["tags.Name"]));
    let mut host = Host {
        kind: HostKind::Vm,
        provenance: Some(ctx.provenance(r)),
        ..Host::default()
    };
    if let Some(az) = r.s("availability_zone") {
        let region = aws_region_of_az(az).map(str::to_owned);
        host.zone = Some(ctx.zone(az, region.as_deref(), "aws"));
    }
    let cores = match (
        u64_of(r.values.get("cpu_core_count")),
        u64_of(r.values.get("cpu_threads_per_core")),
    ) {
        (Some(c), Some(t)) => Some((c * t) as f64),
        (Some(c), None) => Some(c as f64),
        _ => None,
    };
    let ty = r.s("instance_type");
    host.cores = match (cores, ty.and_then(aws_vcpus)) {
        (Some(c), _) => c,
        (None, Some(v)) => {
            ctx.diag(
                r,
                Severity::Info,
                "/instance_type",
                format!("cores estimated from the instance type as {v} vCPUs"),
            );
            v
        }
        (None, None) => {
            ctx.diag(
                r,
                Severity::Warning,
                "",
                "cores unknown (no cpu_core_count and an unknown instance type); left at 0",
            );
            0.0
        }
    };
    if let Some(t) = ty {
        host.tags.push(format!("instance-type={t}"));
    }
    for key in ["private_ip", "public_ip"] {
        if let Some(ip) = r.s(key).and_then(|s| s.parse().ok()) {
            push_unique(&mut host.addresses, ip);
        }
    }
    host.subnet = r.s("subnet_id").and_then(|s| ctx.subnets.get(s).cloned());
    if host.subnet.is_none() && !host.addresses.is_empty() && r.s("subnet_id").is_some() {
        ctx.diag(
            r,
            Severity::Info,
            "/subnet_id",
            "subnet not in the input; the host's subnet is left unset",
        );
    }
    let mut groups = strings(r.values.get("vpc_security_group_ids"));
    groups.extend(strings(r.values.get("security_groups")));
    for g in groups {
        match ctx.groups.get(&g) {
            Some(n) => push_unique(&mut host.security_groups, n.clone()),
            None => ctx.diag(
                r,
                Severity::Info,
                "/vpc_security_group_ids",
                format!("security group `{}` is not in the input", text::name(&g)),
            ),
        }
    }
    if let Some(id) = r.s("id") {
        host.tags.push(format!("provider-id:{id}"));
    }
    host.tags.push("provider=aws".into());
    aws_tags(r, &mut host.tags);
    for id in ids_of(r) {
        ctx.hosts.insert(id, name.clone());
    }
    ctx.twin.hosts.insert(name, host);
    true
}

fn svc_base(ctx: &Ctx<'_, '_>, r: &Res, kind: ServiceKind) -> Service {
    let mut tags = Vec::new();
    if let Some(id) = r.s("id") {
        tags.push(format!("provider-id:{}", text::name(id)));
    }
    Service {
        kind,
        provenance: Some(ctx.provenance(r)),
        tags,
        ..Service::default()
    }
}

fn add_groups(ctx: &mut Ctx<'_, '_>, r: &Res, keys: &[&str], out: &mut Vec<String>) {
    for key in keys {
        for g in strings(r.values.get(*key)) {
            match ctx.groups.get(&g) {
                Some(n) => push_unique(out, n.clone()),
                None => ctx.diag(
                    r,
                    Severity::Info,
                    &format!("/{key}"),
                    format!("security group `{}` is not in the input", text::name(&g)),
                ),
            }
        }
    }
}

fn aws_asg(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.services, pick_name(r, &["name"]));
    let mut svc = svc_base(ctx, r, ServiceKind::App);
    svc.replicas = u64_of(r.values.get("desired_capacity")).and_then(|x| u32::try_from(x).ok());
    for (key, tag) in [("min_size", "asg-min"), ("max_size", "asg-max")] {
        if let Some(n) = u64_of(r.values.get(key)) {
            svc.tags.push(format!("{tag}={n}"));
        }
    }
    let zones: Vec<String> = strings(r.values.get("availability_zones"))
        .into_iter()
        .map(|az| {
            let region = aws_region_of_az(&az).map(str::to_owned);
            ctx.zone(&az, region.as_deref(), "aws")
        })
        .collect();
    if !zones.is_empty() {
        svc.placement = Some(doppel_model::Placement {
            hosts: Vec::new(),
            zones,
            host_tags: Vec::new(),
        });
    }
    for tg in strings(r.values.get("target_group_arns")) {
        if let Some(t) = ctx.target_groups.get(&tg) {
            svc.tags.push(format!("target-group={t}"));
        }
    }
    ctx.diag(r, Severity::Info, "", format!("autoscaling group `{name}` becomes a service of {} replicas without endpoints (what its instances run is not in Terraform)", svc.replicas.map_or("unknown".into(), |n| n.to_string())));
    for id in ids_of(r) {
        ctx.services.insert(id, name.clone());
    }
    ctx.twin.services.insert(name, svc);
    true
}

fn aws_lb(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    // A classic ELB's id is its name; an ALB's is an ARN (never a name).
    let name = unique(&ctx.twin.services, pick_name(r, &["name", "id"]));
    let mut svc = svc_base(ctx, r, ServiceKind::LoadBalancer);
    let mut groups = Vec::new();
    add_groups(ctx, r, &["security_groups"], &mut groups);
    svc.security_groups = groups;
    let internal = r
        .values
        .get("internal")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Classic ELBs carry their listeners inline.
    let mut exposed = Vec::new();
    for l in r
        .values
        .get("listener")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = u64_of(l.get("lb_port"))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
        {
            push_unique(
                &mut svc.ports,
                ServicePort {
                    port: p,
                    protocol: Protocol::Tcp,
                    name: str_at(l, "lb_protocol").map(str::to_ascii_lowercase),
                },
            );
            push_unique(&mut exposed, p);
        }
    }
    if !internal && !exposed.is_empty() {
        svc.security = Some(SecurityFacts {
            exposed: exposed
                .into_iter()
                .map(|port| Exposure {
                    port,
                    protocol: Protocol::Tcp,
                    to: vec!["internet".into()],
                })
                .collect(),
            ..SecurityFacts::default()
        });
    }
    if internal {
        svc.tags.push("internal=true".into());
    }
    for inst in strings(r.values.get("instances")) {
        if let Some(h) = ctx.hosts.get(&inst).cloned()
            && let Some(host) = ctx.twin.hosts.get_mut(&h)
        {
            push_unique(&mut host.tags, format!("behind-lb={name}"));
        }
    }
    for id in ids_of(r) {
        ctx.services.insert(id, name.clone());
    }
    ctx.twin.services.insert(name, svc);
    true
}

fn aws_target_group(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = pick_name(r, &["name"]);
    for id in ids_of(r) {
        ctx.target_groups.insert(id, name.clone());
    }
    true
}

fn aws_listener(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let Some(lb) = r
        .s("load_balancer_arn")
        .and_then(|a| ctx.services.get(a).cloned())
    else {
        ctx.diag(
            r,
            Severity::Info,
            "/load_balancer_arn",
            "listener of a load balancer not in the input; skipped",
        );
        return true;
    };
    let port = u64_of(r.values.get("port"))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    let tgs: Vec<String> = r
        .values
        .get("default_action")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| str_at(a, "target_group_arn"))
        .filter_map(|a| ctx.target_groups.get(a).cloned())
        .collect();
    if let Some(svc) = ctx.twin.services.get_mut(&lb) {
        if let Some(port) = port {
            push_unique(
                &mut svc.ports,
                ServicePort {
                    port,
                    protocol: Protocol::Tcp,
                    name: r.s("protocol").map(str::to_ascii_lowercase),
                },
            );
            if !svc.tags.iter().any(|t| t == "internal=true") {
                let sec = svc.security.get_or_insert_with(SecurityFacts::default);
                push_unique(
                    &mut sec.exposed,
                    Exposure {
                        port,
                        protocol: Protocol::Tcp,
                        to: vec!["internet".into()],
                    },
                );
            }
        }
        for tg in tgs {
            push_unique(&mut svc.tags, format!("target-group={tg}"));
        }
    }
    true
}

fn aws_tg_attachment(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let tg = r
        .s("target_group_arn")
        .and_then(|a| ctx.target_groups.get(a).cloned());
    let host = r.s("target_id").and_then(|t| ctx.hosts.get(t).cloned());
    match (tg, host) {
        (Some(tg), Some(h)) => {
            if let Some(host) = ctx.twin.hosts.get_mut(&h) {
                push_unique(&mut host.tags, format!("target-group={tg}"));
            }
        }
        _ => ctx.diag(
            r,
            Severity::Info,
            "",
            "attachment between a target group and a target not both in the input; skipped",
        ),
    }
    true
}

fn aws_asg_attachment(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let asg = r
        .s("autoscaling_group_name")
        .and_then(|a| ctx.services.get(a).cloned());
    let tg = r
        .s("lb_target_group_arn")
        .or_else(|| r.s("alb_target_group_arn"))
        .and_then(|a| ctx.target_groups.get(a).cloned())
        .or_else(|| r.s("elb").and_then(|e| ctx.services.get(e).cloned()));
    match (asg, tg) {
        (Some(asg), Some(tg)) => {
            if let Some(svc) = ctx.twin.services.get_mut(&asg) {
                push_unique(&mut svc.tags, format!("target-group={tg}"));
            }
        }
        _ => ctx.diag(r, Severity::Info, "", "attachment between an autoscaling group and a load balancer not both in the input; skipped"),
    }
    true
}

fn aws_db(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(
        &ctx.twin.services,
        pick_name(r, &["identifier", "cluster_identifier", "id"]),
    );
    let mut svc = svc_base(ctx, r, ServiceKind::Database);
    svc.version = r.s("engine_version").map(str::to_owned);
    if let Some(e) = r.s("engine") {
        svc.tags.push(format!("engine={e}"));
    }
    if let Some(c) = r.s("instance_class") {
        svc.tags.push(format!("instance-class={c}"));
    }
    if r.values.get("multi_az").and_then(Value::as_bool) == Some(true) {
        svc.tags.push("multi-az=true".into());
    }
    svc.replicas = Some(1);
    if let Some(p) = u64_of(r.values.get("port"))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
    {
        svc.ports.push(ServicePort {
            port: p,
            protocol: Protocol::Tcp,
            name: r.s("engine").map(str::to_owned),
        });
    }
    let mut groups = Vec::new();
    add_groups(ctx, r, &["vpc_security_group_ids"], &mut groups);
    svc.security_groups = groups;
    if r.values.get("publicly_accessible").and_then(Value::as_bool) == Some(true) {
        svc.tags.push("publicly-accessible=true".into());
    }
    if let Some(source) = r.s("replicate_source_db") {
        match ctx
            .services
            .get(source)
            .or_else(|| ctx.services.get(last_segment(source)))
        {
            Some(primary) => svc.replica_of = Some(primary.clone()),
            None => {
                svc.tags
                    .push(format!("replica-of={}", text::name(last_segment(source))));
                ctx.diag(
                    r,
                    Severity::Info,
                    "/replicate_source_db",
                    "the primary database is not in the input; recorded as a `replica-of` tag",
                );
            }
        }
    }
    for id in ids_of(r)
        .into_iter()
        .chain(r.s("identifier").map(str::to_owned))
    {
        ctx.services.insert(id, name.clone());
    }
    ctx.twin.services.insert(name, svc);
    true
}

fn aws_cache(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(
        &ctx.twin.services,
        pick_name(r, &["cluster_id", "replication_group_id", "id"]),
    );
    let mut svc = svc_base(ctx, r, ServiceKind::Cache);
    svc.version = r.s("engine_version").map(str::to_owned);
    if let Some(e) = r.s("engine") {
        svc.tags.push(format!("engine={e}"));
    }
    if let Some(c) = r.s("node_type") {
        svc.tags.push(format!("node-type={c}"));
    }
    svc.replicas = u64_of(r.values.get("num_cache_nodes"))
        .or_else(|| u64_of(r.values.get("num_cache_clusters")))
        .and_then(|x| u32::try_from(x).ok());
    if let Some(p) = u64_of(r.values.get("port"))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
    {
        svc.ports.push(ServicePort {
            port: p,
            protocol: Protocol::Tcp,
            name: r.s("engine").map(str::to_owned),
        });
    }
    let mut groups = Vec::new();
    add_groups(ctx, r, &["security_group_ids"], &mut groups);
    svc.security_groups = groups;
    for id in ids_of(r) {
        ctx.services.insert(id, name.clone());
    }
    ctx.twin.services.insert(name, svc);
    true
}

// ---------------------------------------------------------------- GCP

/// The last path segment of a GCP self link or Azure id.
fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn gcp_region_of_zone(zone: &str) -> Option<&str> {
    zone.rsplit_once('-').map(|(r, _)| r)
}

fn gcp_subnet(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let Some(cidr) = r.s("ip_cidr_range").and_then(|c| c.parse().ok()) else {
        ctx.diag(
            r,
            Severity::Warning,
            "/ip_cidr_range",
            "subnetwork without a CIDR range; skipped",
        );
        return true;
    };
    let name = unique(&ctx.twin.subnets, pick_name(r, &["name"]));
    if let Some(region) = r.s("region").map(last_segment) {
        ctx.twin
            .regions
            .entry(text::name(region))
            .or_insert_with(|| Region {
                provider: Some("gcp".into()),
                ..Region::default()
            });
    }
    for id in ids_of(r) {
        ctx.subnets.insert(id, name.clone());
    }
    let prov = ctx.provenance(r);
    ctx.twin.subnets.insert(
        name,
        Subnet {
            network: None,
            cidr,
            zone: None,
            public: false,
            provenance: Some(prov),
        },
    );
    true
}

fn gcp_firewall(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let raw = r
        .s("name")
        .or_else(|| r.s("id").filter(|i| !i.contains('/')));
    let name = unique(
        &ctx.twin.security_groups,
        raw.map_or_else(|| pick_name(r, &[]), text::name),
    );
    let egress = r
        .s("direction")
        .is_some_and(|d| d.eq_ignore_ascii_case("EGRESS"));
    let dir = if egress {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    let mut peers: Vec<String> = Vec::new();
    let range_key = if egress {
        "destination_ranges"
    } else {
        "source_ranges"
    };
    for c in strings(r.values.get(range_key)) {
        if c.parse::<ipnet::IpNet>().is_ok() {
            push_unique(&mut peers, c);
        }
    }
    for t in strings(r.values.get("source_tags")) {
        push_unique(&mut peers, format!("tag:network-tag:{t}"));
    }
    if peers.is_empty() && !egress {
        peers.push("0.0.0.0/0".into());
        ctx.diag(
            r,
            Severity::Info,
            "",
            "no source ranges or tags: GCP applies the rule to 0.0.0.0/0",
        );
    }
    if peers.is_empty() {
        peers.push("0.0.0.0/0".into());
    }
    let mut rules = Vec::new();
    for (key, action) in [("deny", Action::Deny), ("allow", Action::Allow)] {
        for (i, b) in r
            .values
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let proto_text = str_at(b, "protocol").unwrap_or("all");
            let proto = protocol(proto_text).unwrap_or_else(|| {
                ctx.diag(
                    r,
                    Severity::Warning,
                    &format!("/{key}/{i}/protocol"),
                    "protocol not modelled; read as any",
                );
                Protocol::Any
            });
            let ports = strings(b.get("ports"));
            let ranges: Vec<Option<PortRange>> =
                if ports.is_empty() || matches!(proto, Protocol::Any | Protocol::Icmp) {
                    vec![None]
                } else {
                    ports
                        .iter()
                        .map(|p| match p.split_once('-') {
                            Some((a, b)) => port_range(a.parse().ok(), b.parse().ok()),
                            None => port_range(p.parse().ok(), p.parse().ok()),
                        })
                        .collect()
                };
            for ports in ranges {
                rules.push(FirewallRule {
                    direction: dir,
                    action,
                    protocol: proto,
                    ports,
                    peers: peers.clone(),
                    description: r.s("description").map(str::to_owned),
                });
            }
        }
    }
    if rules.is_empty() {
        ctx.diag(
            r,
            Severity::Info,
            "",
            "firewall has no allow or deny blocks in the input; imported without rules",
        );
    }
    ctx.gcp_targets
        .push((name.clone(), strings(r.values.get("target_tags"))));
    for id in ids_of(r) {
        ctx.groups.insert(id, name.clone());
    }
    let prov = ctx.provenance(r);
    ctx.twin.security_groups.insert(
        name,
        SecurityGroup {
            rules,
            default: Action::Deny,
            provenance: Some(prov),
        },
    );
    true
}

/// vCPUs of a GCP machine type: the trailing number of `n2-standard-8`; shared-core types 2.
pub(crate) fn gcp_vcpus(machine_type: &str) -> Option<f64> {
    let t = last_segment(machine_type);
    if t.ends_with("micro") || t.ends_with("small") || t.ends_with("medium") {
        return Some(if t.starts_with("f1") || t.starts_with("g1") {
            1.0
        } else {
            2.0
        });
    }
    t.rsplit('-').next()?.parse().ok()
}

fn gcp_instance(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let raw = r
        .s("name")
        .or_else(|| r.s("id").filter(|i| !i.contains('/')));
    let name = unique(
        &ctx.twin.hosts,
        raw.map_or_else(|| pick_name(r, &[]), text::name),
    );
    let mut host = Host {
        kind: HostKind::Vm,
        provenance: Some(ctx.provenance(r)),
        ..Host::default()
    };
    if let Some(z) = r.s("zone").map(last_segment) {
        let region = gcp_region_of_zone(z).map(str::to_owned);
        host.zone = Some(ctx.zone(z, region.as_deref(), "gcp"));
    }
    match r.s("machine_type") {
        Some(mt) => {
            host.tags.push(format!("machine-type={}", last_segment(mt)));
            match gcp_vcpus(mt) {
                Some(v) => host.cores = v,
                None => ctx.diag(
                    r,
                    Severity::Warning,
                    "/machine_type",
                    "cores unknown for this machine type; left at 0",
                ),
            }
        }
        None => ctx.diag(
            r,
            Severity::Warning,
            "",
            "no machine_type: cores unknown, left at 0",
        ),
    }
    for (i, nic) in r
        .values
        .get("network_interface")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(ip) = str_at(nic, "network_ip").and_then(|s| s.parse().ok()) {
            push_unique(&mut host.addresses, ip);
        }
        for ac in nic
            .get("access_config")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(ip) = str_at(ac, "nat_ip").and_then(|s| s.parse().ok()) {
                push_unique(&mut host.addresses, ip);
            }
        }
        if i == 0 {
            host.subnet = str_at(nic, "subnetwork").and_then(|s| {
                ctx.subnets
                    .get(s)
                    .or_else(|| ctx.subnets.get(last_segment(s)))
                    .cloned()
            });
        }
    }
    for t in strings(r.values.get("tags")) {
        host.tags.push(format!("network-tag:{t}"));
    }
    host.tags.push("provider=gcp".into());
    if let Some(id) = r.s("instance_id").or_else(|| r.s("id")) {
        host.tags.push(format!("provider-id:{}", text::name(id)));
    }
    if let Some(Value::Object(labels)) = r.values.get("labels") {
        for (k, v) in labels {
            if let Some(v) = v.as_str().filter(|_| !crate::redact::is_secret_name(k)) {
                host.tags.push(format!("{k}={v}"));
            }
        }
    }
    for id in ids_of(r) {
        ctx.hosts.insert(id, name.clone());
    }
    ctx.twin.hosts.insert(name, host);
    true
}

// ---------------------------------------------------------------- Azure

fn azure_vnet(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.networks, pick_name(r, &["name"]));
    let Some(cidr) = strings(r.values.get("address_space"))
        .first()
        .and_then(|c| c.parse().ok())
    else {
        ctx.diag(r, Severity::Info, "", format!("virtual network `{name}` has no address_space in the input; not imported (a network needs a CIDR)"));
        return true;
    };
    let region = r.s("location").map(|l| {
        let l = text::name(l);
        ctx.twin.regions.entry(l.clone()).or_insert_with(|| Region {
            provider: Some("azure".into()),
            ..Region::default()
        });
        l
    });
    for id in ids_of(r) {
        ctx.networks.insert(id, name.clone());
    }
    let prov = ctx.provenance(r);
    ctx.twin.networks.insert(
        name,
        Network {
            cidr,
            region,
            provenance: Some(prov),
        },
    );
    true
}

fn azure_subnet(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let mut prefixes = strings(r.values.get("address_prefixes"));
    prefixes.extend(strings(r.values.get("address_prefix")));
    let Some(cidr) = prefixes.first().and_then(|c| c.parse().ok()) else {
        ctx.diag(
            r,
            Severity::Warning,
            "/address_prefixes",
            "subnet without an address prefix; skipped",
        );
        return true;
    };
    let name = unique(&ctx.twin.subnets, pick_name(r, &["name"]));
    let network = r
        .s("virtual_network_name")
        .and_then(|v| ctx.networks.get(v).cloned());
    for id in ids_of(r) {
        ctx.subnets.insert(id, name.clone());
    }
    let prov = ctx.provenance(r);
    ctx.twin.subnets.insert(
        name,
        Subnet {
            network,
            cidr,
            zone: None,
            public: false,
            provenance: Some(prov),
        },
    );
    true
}

fn azure_rule(b: &Value) -> Vec<(i64, FirewallRule)> {
    let prio = b
        .get("priority")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    let egress = str_at(b, "direction").is_some_and(|d| d.eq_ignore_ascii_case("Outbound"));
    let action = if str_at(b, "access").is_some_and(|a| a.eq_ignore_ascii_case("Deny")) {
        Action::Deny
    } else {
        Action::Allow
    };
    let proto = protocol(str_at(b, "protocol").unwrap_or("*")).unwrap_or(Protocol::Any);
    let side = if egress { "destination" } else { "source" };
    let mut peers = Vec::new();
    let mut raw = strings(b.get(format!("{side}_address_prefixes")));
    raw.extend(strings(b.get(format!("{side}_address_prefix"))));
    for p in raw {
        let peer = match p.as_str() {
            "*" | "Any" => "any".to_owned(),
            "Internet" => "internet".to_owned(),
            other
                if other.parse::<ipnet::IpNet>().is_ok()
                    || other.parse::<std::net::IpAddr>().is_ok() =>
            {
                other.to_owned()
            }
            // Service tags (VirtualNetwork, AzureLoadBalancer...) have no twin equivalent.
            other => format!("tag:azure-service-tag:{}", text::name(other)),
        };
        push_unique(&mut peers, peer);
    }
    let mut ports = strings(b.get("destination_port_ranges"));
    ports.extend(strings(b.get("destination_port_range")));
    let ranges: Vec<Option<PortRange>> = if ports.is_empty()
        || ports.iter().any(|p| p == "*")
        || matches!(proto, Protocol::Any | Protocol::Icmp)
    {
        vec![None]
    } else {
        ports
            .iter()
            .map(|p| match p.split_once('-') {
                Some((a, b)) => port_range(a.parse().ok(), b.parse().ok()),
                None => port_range(p.parse().ok(), p.parse().ok()),
            })
            .collect()
    };
    if peers.is_empty() {
        return Vec::new();
    }
    ranges
        .into_iter()
        .map(|ports| {
            (
                prio,
                FirewallRule {
                    direction: if egress {
                        Direction::Egress
                    } else {
                        Direction::Ingress
                    },
                    action,
                    protocol: proto,
                    ports,
                    peers: peers.clone(),
                    description: str_at(b, "name").map(str::to_owned),
                },
            )
        })
        .collect()
}

fn azure_nsg(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.security_groups, pick_name(r, &["name"]));
    let mut rules: Vec<(i64, FirewallRule)> = r
        .values
        .get("security_rule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(azure_rule)
        .collect();
    rules.sort_by_key(|(p, _)| *p);
    if rules.iter().any(|(_, x)| {
        x.peers
            .iter()
            .any(|p| p.starts_with("tag:azure-service-tag:"))
    }) {
        ctx.diag(r, Severity::Info, "/security_rule", "Azure service tags (VirtualNetwork, AzureLoadBalancer...) become `tag:azure-service-tag:NAME` peers, which match only entities given that tag");
    }
    for id in ids_of(r) {
        ctx.groups.insert(id, name.clone());
    }
    let prov = ctx.provenance(r);
    ctx.twin.security_groups.insert(
        name,
        SecurityGroup {
            rules: rules.into_iter().map(|(_, x)| x).collect(),
            default: Action::Deny,
            provenance: Some(prov),
        },
    );
    true
}

fn azure_nsg_rule(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let Some(group) = r
        .s("network_security_group_name")
        .and_then(|g| ctx.groups.get(g).cloned())
    else {
        ctx.diag(
            r,
            Severity::Info,
            "/network_security_group_name",
            "rule of a security group not in the input; skipped",
        );
        return true;
    };
    let new = azure_rule(&r.values);
    if let Some(sg) = ctx.twin.security_groups.get_mut(&group) {
        // Keep priority order: rules carry their priority in the source only, so re-sort all.
        sg.rules.extend(new.into_iter().map(|(_, x)| x));
    }
    true
}

fn azure_nic(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let mut addrs = Vec::new();
    let mut subnet = None;
    for ipc in r
        .values
        .get("ip_configuration")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(ip) = str_at(ipc, "private_ip_address").and_then(|s| s.parse().ok()) {
            push_unique(&mut addrs, ip);
        }
        if subnet.is_none() {
            subnet = str_at(ipc, "subnet_id").and_then(|s| ctx.subnets.get(s).cloned());
        }
    }
    for ip in strings(r.values.get("private_ip_addresses")) {
        if let Ok(ip) = ip.parse() {
            push_unique(&mut addrs, ip);
        }
    }
    if let Some(id) = r.s("id") {
        ctx.nics.insert(id.to_owned(), (addrs, subnet));
    }
    true
}

/// vCPUs of an Azure VM size: the number after the family letters (`Standard_D4s_v3` → 4).
pub(crate) fn azure_vcpus(size: &str) -> Option<f64> {
    let s = size
        .strip_prefix("Standard_")
        .or_else(|| size.strip_prefix("Basic_"))?;
    let digits: String = s
        .chars()
        .skip_while(|c| c.is_ascii_alphabetic())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn azure_vm(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let name = unique(&ctx.twin.hosts, pick_name(r, &["name"]));
    let mut host = Host {
        kind: HostKind::Vm,
        provenance: Some(ctx.provenance(r)),
        ..Host::default()
    };
    let location = r.s("location").map(text::name);
    if let Some(loc) = &location {
        ctx.twin
            .regions
            .entry(loc.clone())
            .or_insert_with(|| Region {
                provider: Some("azure".into()),
                ..Region::default()
            });
        if let Some(z) = r
            .s("zone")
            .or_else(|| {
                strings(r.values.get("zones"))
                    .first()
                    .map(String::as_str)
                    .map(|_| "")
            })
            .filter(|z| !z.is_empty())
        {
            host.zone = Some(ctx.zone(&format!("{loc}-{z}"), Some(loc), "azure"));
        }
    }
    match r.s("size").or_else(|| r.s("vm_size")) {
        Some(size) => {
            host.tags.push(format!("vm-size={size}"));
            match azure_vcpus(size) {
                Some(v) => host.cores = v,
                None => ctx.diag(
                    r,
                    Severity::Warning,
                    "/size",
                    "cores unknown for this VM size; left at 0",
                ),
            }
        }
        None => ctx.diag(
            r,
            Severity::Warning,
            "",
            "no VM size: cores unknown, left at 0",
        ),
    }
    let os_name = match r.ty.as_str() {
        "azurerm_windows_virtual_machine" => Some("windows"),
        "azurerm_linux_virtual_machine" => Some("linux"),
        _ => None,
    };
    let image = r
        .values
        .get("source_image_reference")
        .and_then(|v| v.as_array().and_then(|a| a.first()).or(Some(v)));
    let offer = image.and_then(|i| str_at(i, "offer"));
    if os_name.is_some() || offer.is_some() {
        host.os = Some(Os {
            name: offer
                .map(|o| o.to_ascii_lowercase())
                .or(os_name.map(str::to_owned))
                .unwrap_or_default(),
            version: image.and_then(|i| str_at(i, "sku")).map(str::to_owned),
            kernel: None,
        });
    }
    for (i, nic) in strings(r.values.get("network_interface_ids"))
        .iter()
        .enumerate()
    {
        if let Some((addrs, subnet)) = ctx.nics.get(nic) {
            for a in addrs {
                push_unique(&mut host.addresses, *a);
            }
            if i == 0 {
                host.subnet = subnet.clone();
            }
        }
    }
    host.tags.push("provider=azure".into());
    if let Some(id) = r.s("virtual_machine_id").or_else(|| r.s("id")) {
        host.tags.push(format!("provider-id:{}", text::name(id)));
    }
    for id in ids_of(r) {
        ctx.hosts.insert(id, name.clone());
    }
    // NICs attached later by association resolve through this map.
    for nic in strings(r.values.get("network_interface_ids")) {
        ctx.hosts.insert(nic, name.clone());
    }
    ctx.twin.hosts.insert(name, host);
    true
}

fn azure_nic_nsg(ctx: &mut Ctx<'_, '_>, r: &Res) -> bool {
    let host = r
        .s("network_interface_id")
        .and_then(|n| ctx.hosts.get(n).cloned());
    let group = r
        .s("network_security_group_id")
        .and_then(|g| ctx.groups.get(g).cloned());
    match (host, group) {
        (Some(h), Some(g)) => {
            if let Some(host) = ctx.twin.hosts.get_mut(&h) {
                push_unique(&mut host.security_groups, g);
            }
        }
        _ => ctx.diag(
            r,
            Severity::Info,
            "",
            "association between a NIC and a security group not both in the input; skipped",
        ),
    }
    true
}

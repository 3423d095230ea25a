//! The twin's typed model: the Rust types behind the `doppel.yaml` format.
//!
//! Every named collection is a map from name to entity, so the name is the entity's stable id
//! (see [`crate::EntityId`]). Field docs here are the format's reference documentation: the JSON
//! Schema is generated from them and `docs/FORMAT.md` points at them.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{Bandwidth, Bytes, Duration, Percent, Rate};

/// A whole twin: every section of `doppel.yaml`. A twin may span several files, each holding
/// any subset of the sections; they are merged by name and a name defined twice is an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Twin {
    /// Format version. Only `1` exists today.
    #[serde(default)]
    pub doppel: FormatVersion,
    /// The twin's name, e.g. the system it mirrors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What this twin describes, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// More files that belong to this twin, relative to this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,

    /// Geographic or provider regions.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub regions: IndexMap<String, Region>,
    /// Availability zones (failure domains), each in a region.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub zones: IndexMap<String, Zone>,
    /// Racks, each in a zone.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub racks: IndexMap<String, Rack>,
    /// Compute clusters (e.g. Kubernetes clusters) that hosts belong to.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub clusters: IndexMap<String, Cluster>,
    /// Machines: virtual machines, bare-metal servers and Kubernetes nodes.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub hosts: IndexMap<String, Host>,

    /// Networks (VPCs) with their address space.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    /// Subnets inside networks.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub subnets: IndexMap<String, Subnet>,
    /// Routers (and switches) that links join.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub routers: IndexMap<String, Router>,
    /// Links between routers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub links: IndexMap<String, Link>,
    /// Security groups / firewalls: ordered rule lists attached to hosts or services.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub security_groups: IndexMap<String, SecurityGroup>,
    /// Kubernetes-style network policies between services.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub network_policies: IndexMap<String, NetworkPolicy>,

    /// Services: applications, databases, caches, queues, load balancers and gateways.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, Service>,
    /// Load offered to the system: open (arrival rate) or closed (users with think time).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub workloads: IndexMap<String, Workload>,
    /// Service level objectives.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub slos: IndexMap<String, Slo>,
    /// Credentials: where they are stored and what they unlock.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub credentials: IndexMap<String, Credential>,
}

fn cidr_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$",
        "description": "An address range in CIDR notation, e.g. `10.0.0.0/16` or `2001:db8::/32`.",
    })
}

fn addresses_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "string", "pattern": r"^[0-9A-Fa-f:.]+$", "description": "An IPv4 or IPv6 address."},
    })
}

/// The version of the twin format a file is written in; `1` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct FormatVersion(#[schemars(range(min = 1, max = 1))] pub u32);

impl Default for FormatVersion {
    fn default() -> Self {
        FormatVersion(1)
    }
}

/// Where an entity's facts came from, when an importer (not a person) wrote them.
/// Entities read from a file without this block get the file and line as their provenance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The importer or tool that produced the entity: `terraform`, `kubernetes`, `netbox`...
    pub source: String,
    /// The source file or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The object inside the source, e.g. `aws_instance.web[0]` or `Deployment/cart`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<String>,
    /// When it was observed, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// Fields another source set, by field name: `{replicas: kubernetes}` when Kubernetes
    /// changed the replicas of a service Terraform described. Fields not listed come from
    /// `source`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fields: IndexMap<String, String>,
}

/// A region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Cloud provider or site owner, e.g. `aws`, `gcp`, `onprem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// An availability zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// The region this zone is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// One-way network latency from this zone to others, added to every call that crosses
    /// between them. Stating it on one side suffices. The zone's own name gives the latency
    /// of a hop inside the zone (default 0).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub latency: IndexMap<String, Duration>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A rack of machines in a zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rack {
    /// The zone this rack stands in.
    pub zone: String,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A compute cluster, e.g. a Kubernetes cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Orchestrator, e.g. `kubernetes`, `nomad`, `ecs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Orchestrator version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// What kind of machine a host is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// A virtual machine.
    #[default]
    Vm,
    /// A physical server.
    BareMetal,
    /// A Kubernetes (or other orchestrator) worker node that runs pods.
    Node,
    /// A network or storage appliance.
    Appliance,
}

/// A machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Virtual machine, bare metal, orchestrator node or appliance.
    #[serde(default)]
    pub kind: HostKind,
    /// The zone the host runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The rack it stands in (its zone must match the rack's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<String>,
    /// The cluster this host is a node of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// CPU cores available to workloads.
    #[schemars(range(min = 0.0))]
    pub cores: f64,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    /// Local disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Bytes>,
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Os>,
    /// Installed software and versions, e.g. `openssl: 3.0.2` (quote versions: `"1.10"`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub software: IndexMap<String, String>,
    /// IP addresses; the first is the primary interface's, inside `subnet`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "addresses_schema")]
    pub addresses: Vec<std::net::IpAddr>,
    /// The subnet the host's primary interface is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Security groups applied to the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Free-form labels; selectors match them as `tag:NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Exposure, vulnerabilities and asset value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityFacts>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// An operating system and its version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Os {
    /// Distribution or family, e.g. `ubuntu`, `windows`.
    pub name: String,
    /// Version, quoted: `"22.04"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kernel version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
}

/// A network (VPC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Address space.
    #[schemars(schema_with = "cidr_schema")]
    pub cidr: ipnet::IpNet,
    /// The region it lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// The network it is carved from; its CIDR must lie inside the network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Address range.
    #[schemars(schema_with = "cidr_schema")]
    pub cidr: ipnet::IpNet,
    /// The zone it is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Reachable from the internet (has a route to an internet gateway).
    #[serde(default)]
    pub public: bool,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A router or switch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// The zone it stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Subnets it routes for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A link between two routers. Links are bidirectional unless `directed` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One end (a router).
    pub from: String,
    /// The other end (a router).
    pub to: String,
    /// Capacity in each direction.
    pub bandwidth: Bandwidth,
    /// One-way propagation latency.
    #[serde(default)]
    pub latency: Duration,
    /// Routing cost (IGP weight); defaults to 1.
    #[serde(default = "default_cost")]
    #[schemars(range(min = 0.0))]
    pub cost: f64,
    /// Traffic flows only from `from` to `to`.
    #[serde(default)]
    pub directed: bool,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

fn default_cost() -> f64 {
    1.0
}

/// A security group or firewall: an ordered list of rules; the first rule that matches decides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Rules in evaluation order.
    #[serde(default)]
    pub rules: Vec<FirewallRule>,
    /// What happens to traffic no rule matches.
    #[serde(default = "default_deny")]
    pub default: Action,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

fn default_deny() -> Action {
    Action::Deny
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Let the traffic through.
    Allow,
    /// Drop it.
    #[default]
    Deny,
}

/// Which way traffic flows relative to the guarded resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Traffic coming in.
    #[default]
    Ingress,
    /// Traffic going out.
    Egress,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// Any protocol.
    Any,
}

/// One firewall rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    /// Ingress (default) or egress.
    #[serde(default)]
    pub direction: Direction,
    /// Allow or deny.
    pub action: Action,
    /// Protocol; default `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Port or port range: `443` or `"8000-8100"`; omitted means every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// Where traffic comes from (ingress) or goes to (egress): CIDRs, `group:NAME`,
    /// `service:NAME`, `tag:NAME` or `any`.
    pub peers: Vec<String>,
    /// Why the rule exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A port or an inclusive range of ports: `443` or `"8000-8100"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PortRange {
    /// A single port.
    Port(#[schemars(range(min = 0, max = 65535))] u16),
    /// A range `"LOW-HIGH"`.
    Range(#[schemars(regex(pattern = r"^[0-9]{1,5}(-[0-9]{1,5})?$"))] String),
}

impl PortRange {
    /// The inclusive bounds, or `None` when the text is not a valid range.
    pub fn bounds(&self) -> Option<(u16, u16)> {
        match self {
            PortRange::Port(p) => Some((*p, *p)),
            PortRange::Range(text) => {
                let (lo, hi) = text.split_once('-').unwrap_or((text, text));
                let (lo, hi) = (lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?);
                (lo <= hi).then_some((lo, hi))
            }
        }
    }
}

/// A Kubernetes-style network policy: once any policy selects a service for a direction, only
/// traffic some policy allows passes in that direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    /// Services the policy applies to: `service:NAME` or `tag:NAME`.
    pub applies_to: Vec<String>,
    /// Allowed incoming traffic; present (even empty) means ingress is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<PolicyRule>>,
    /// Allowed outgoing traffic; present (even empty) means egress is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<PolicyRule>>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// One allow rule of a network policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// Peers: `service:NAME`, `tag:NAME`, CIDRs or `any`.
    pub peers: Vec<String>,
    /// Ports; omitted means every port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortRange>,
    /// Protocol; default `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
}

/// What a service is, which tells simulators and attack models how it behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// An application service.
    #[default]
    App,
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// A message queue or broker.
    Queue,
    /// A load balancer.
    LoadBalancer,
    /// An API gateway or ingress.
    Gateway,
    /// A third-party service outside the estate (a payment provider, a SaaS API): its
    /// latency and errors are observed, not controlled.
    External,
}

/// How a service's callers spread requests over its instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The instance with the fewest requests in flight.
    LeastOutstanding,
    /// The less loaded of two instances picked at random.
    PowerOfTwo,
}

/// A service and its instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// App, database, cache, queue, load balancer or gateway.
    #[serde(default)]
    pub kind: ServiceKind,
    /// Deployed version, quoted: `"1.4.2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Namespace (e.g. the Kubernetes namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Number of instances. When `instances` lists them, it may be omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<u32>,
    /// Where the replicas run when `instances` does not say: spread over these hosts or zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// This service is a replica of another (a database read replica, a cache follower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// Explicit instances (pods, processes) by name, each on a host.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub instances: IndexMap<String, Instance>,
    /// Resources each instance requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Concurrency of each instance: worker pool and queue.
    #[serde(default)]
    pub concurrency: Concurrency,
    /// How callers pick an instance.
    #[serde(default)]
    pub load_balancing: LoadBalancing,
    /// Ports the service listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Operations the service offers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub endpoints: IndexMap<String, Endpoint>,
    /// Security groups applied to the service's instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Free-form labels; selectors match them as `tag:NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Exposure, vulnerabilities and asset value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityFacts>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Where replicas may run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Spread replicas round-robin over these hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Spread replicas round-robin over these zones (and over the hosts in each zone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Within the zones, only hosts carrying all these tags (like a Kubernetes node selector).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_tags: Vec<String>,
}

/// One instance of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The host it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The zone it runs in, when the host is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Version when it differs from the service's (during a rollout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Resources an instance requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU cores, e.g. `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub cpu: Option<f64>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
}

/// How many requests an instance works on at once, and how many may wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// Worker pool size (threads, connections, event-loop slots). Default 1.
    #[serde(default = "default_workers")]
    #[schemars(range(min = 1))]
    pub workers: u32,
    /// Requests that may wait for a worker; more are rejected. Omitted means unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<u32>,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            workers: default_workers(),
            queue_limit: None,
        }
    }
}

fn default_workers() -> u32 {
    1
}

/// A port a service listens on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    /// Port number.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Protocol; default `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Application protocol, e.g. `http`, `grpc`, `postgres`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An operation a service offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Time a worker spends on the request itself, downstream calls excluded.
    pub service_time: Distribution,
    /// Downstream calls made while serving the request, in order. The caller's worker is held
    /// until each returns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallStep>,
}

/// A service-time distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Distribution {
    /// Always the same time.
    Constant {
        /// The time.
        value: Duration,
    },
    /// Exponential (memoryless) with the given mean.
    Exponential {
        /// Mean time.
        mean: Duration,
    },
    /// Log-normal given by its mean and 99th percentile (the numbers dashboards show).
    Lognormal {
        /// Mean time.
        mean: Duration,
        /// 99th percentile; must exceed the mean and be at most 14.9 times it.
        p99: Duration,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound.
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// An empirical histogram: buckets with an upper bound and a weight, sampled uniformly
    /// within the bucket (from the previous bound, or 0).
    Empirical {
        /// Buckets in increasing order of `le`.
        buckets: Vec<Bucket>,
    },
}

/// One bucket of an empirical distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Upper bound of the bucket.
    pub le: Duration,
    /// Relative weight (count or probability) of the bucket.
    #[schemars(range(min = 0.0))]
    pub weight: f64,
}

/// The z-score of the 99th percentile of the standard normal distribution.
pub const Z99: f64 = 2.326_347_874_040_841;

impl Distribution {
    /// The mean, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match self {
            Distribution::Constant { value } => value.as_secs_f64(),
            Distribution::Exponential { mean } | Distribution::Lognormal { mean, .. } => {
                mean.as_secs_f64()
            }
            Distribution::Uniform { min, max } => (min.as_secs_f64() + max.as_secs_f64()) / 2.0,
            Distribution::Empirical { buckets } => {
                let total: f64 = buckets.iter().map(|b| b.weight).sum();
                let mut lo = 0.0;
                let mut acc = 0.0;
                for b in buckets {
                    let hi = b.le.as_secs_f64();
                    acc += b.weight * (lo + hi) / 2.0;
                    lo = hi;
                }
                if total > 0.0 { acc / total } else { 0.0 }
            }
        }
    }

    /// For a log-normal given by mean and p99, the parameters `(mu, sigma)` of the underlying
    /// normal. `mean = exp(mu + sigma²/2)` and `p99 = exp(mu + Z99·sigma)`, so
    /// `ln(p99/mean) = Z99·sigma − sigma²/2`; we take the smaller root. A solution exists only
    /// when `1 < p99/mean ≤ exp(Z99²/2) ≈ 14.96`.
    pub fn lognormal_params(mean: Duration, p99: Duration) -> Option<(f64, f64)> {
        let (m, p) = (mean.as_secs_f64(), p99.as_secs_f64());
        if m <= 0.0 || p <= m {
            return None;
        }
        let k = (p / m).ln();
        let disc = Z99 * Z99 - 2.0 * k;
        if disc < 0.0 {
            return None;
        }
        let sigma = Z99 - disc.sqrt();
        Some((m.ln() - sigma * sigma / 2.0, sigma))
    }
}

/// One step of an endpoint's downstream work: a single call, or calls made in parallel (the
/// step ends when the slowest returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CallStep {
    /// Calls issued together.
    Parallel(ParallelCalls),
    /// One call.
    Call(Call),
}

impl CallStep {
    /// The calls of this step.
    pub fn calls(&self) -> &[Call] {
        match self {
            CallStep::Parallel(p) => &p.parallel,
            CallStep::Call(c) => std::slice::from_ref(c),
        }
    }
}

/// Calls made in parallel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParallelCalls {
    /// The calls issued together.
    pub parallel: Vec<Call>,
}

/// A synchronous call to another service's endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The called service.
    pub service: String,
    /// The called endpoint; may be omitted when the service has exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Probability that the call is made at all. Default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub probability: f64,
    /// Number of times the call is made, one after another. Default 1.
    #[serde(default = "one_u32", skip_serializing_if = "is_one_u32")]
    #[schemars(range(min = 1))]
    pub count: u32,
    /// Give up waiting after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Retry failed or timed-out calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// Stop calling a failing dependency for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Fire and forget: the caller does not wait for the call (a message published to a queue,
    /// an event emitted). The callee still does the work.
    #[serde(default, rename = "async", skip_serializing_if = "is_false")]
    pub is_async: bool,
    /// A failure of this call (error, timeout, open breaker) does not fail the caller's
    /// request: the caller serves a fallback (e.g. a page without recommendations).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
fn one_u32() -> u32 {
    1
}
fn is_one_u32(v: &u32) -> bool {
    *v == 1
}

/// Retries with exponential backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `3` means up to 4 attempts).
    #[schemars(range(min = 0))]
    pub max: u32,
    /// Wait before the first retry.
    #[serde(default)]
    pub backoff: Duration,
    /// Each further wait is this many times the previous one. Default 2.
    #[serde(default = "default_multiplier")]
    #[schemars(range(min = 1.0))]
    pub multiplier: f64,
    /// Cap on a single wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<Duration>,
    /// Randomisation of each wait.
    #[serde(default)]
    pub jitter: Jitter,
    /// Retry budget: retries may be at most this share of calls (e.g. `10%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Percent>,
}

fn default_multiplier() -> f64 {
    2.0
}

/// Backoff jitter, as in the AWS Architecture Blog's "Exponential Backoff And Jitter".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Wait exactly the backoff.
    None,
    /// Wait uniformly in `[0, backoff]`.
    #[default]
    Full,
    /// Wait `backoff/2` plus uniform in `[0, backoff/2]`.
    Equal,
}

/// A circuit breaker on a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Trip when the error rate over the window reaches this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<Percent>,
    /// Trip after this many consecutive failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub consecutive_failures: Option<u32>,
    /// Window over which the error rate is measured.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Fewest calls in the window before the error rate can trip the breaker.
    #[serde(default = "default_min_calls")]
    pub min_calls: u32,
    /// How long the breaker stays open before probing.
    pub open_for: Duration,
    /// Probe calls let through while half-open.
    #[serde(default = "one_u32")]
    #[schemars(range(min = 1))]
    pub half_open_probes: u32,
}

fn default_window() -> Duration {
    Duration::from_millis(10_000)
}
fn default_min_calls() -> u32 {
    20
}

/// Load offered to the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Open load: requests arrive at a rate regardless of how the system copes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenLoad>,
    /// Closed load: a fixed number of users, each waiting for a response, then thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<ClosedLoad>,
    /// What each arrival (request or session) does.
    pub flow: Flow,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Open load: Poisson arrivals at a constant rate, or a piecewise-constant schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLoad {
    /// Constant arrival rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Rate changes over simulated time; each rate holds until the next entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<RatePoint>,
}

/// From time `at` on, arrivals come at `rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    /// Simulated time since the start.
    pub at: Duration,
    /// Arrival rate from then on.
    pub rate: Rate,
}

/// Closed load: `users` each run the flow, think, and start again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoad {
    /// Number of users.
    #[schemars(range(min = 1))]
    pub users: u32,
    /// Time each user waits between one flow's end and the next's start.
    pub think_time: Distribution,
}

/// A Markov chain over endpoint visits: start at `start`, visit a step's endpoint, then move to
/// a next step with its probability, or leave with the exit probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The first step; default the first one listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Steps by name.
    pub steps: IndexMap<String, FlowStep>,
}

/// One visit in a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowStep {
    /// The visited service.
    pub service: String,
    /// The visited endpoint; may be omitted when the service has exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Next steps and their probabilities.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub next: IndexMap<String, f64>,
    /// Probability of leaving after this step. Default: 1 when `next` is empty, else 0; `next`
    /// and `exit` must sum to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub exit: Option<f64>,
    /// Pause before moving on (a user reading the page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time: Option<Distribution>,
}

impl FlowStep {
    /// The exit probability, with its default applied.
    pub fn exit_probability(&self) -> f64 {
        self.exit
            .unwrap_or(if self.next.is_empty() { 1.0 } else { 0.0 })
    }
}

/// A service level objective on a workload or an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The workload whose end-to-end requests are judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Or the service whose requests are judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// And optionally one endpoint of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Latency objective: the percentile must stay below the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyObjective>,
    /// Availability objective: the share of requests that succeed, e.g. `99.9%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Percent>,
}

/// `percentile` of latency must stay below `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyObjective {
    /// The percentile, e.g. `99` or `99.9`.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub percentile: f64,
    /// The bound.
    pub threshold: Duration,
}

/// Security-relevant facts about a host or service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityFacts {
    /// Ports reachable by the peers listed on each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<Exposure>,
    /// Known vulnerabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    /// What losing this asset costs, in any consistent unit (e.g. 1-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub value: Option<f64>,
}

/// An exposed port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    /// Port number.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Protocol; default `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Who can reach it: `internet`, a CIDR, `service:NAME`, `tag:NAME`.
    #[serde(default = "internet")]
    pub to: Vec<String>,
}

fn internet() -> Vec<String> {
    vec!["internet".to_owned()]
}

/// A vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vulnerability {
    /// CVE identifier, e.g. `CVE-2021-44228`.
    #[schemars(regex(pattern = r"^CVE-[0-9]{4}-[0-9]{4,}$"))]
    pub cve: String,
    /// CVSS v3.1 vector, e.g. `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// Affected component and version, e.g. `log4j-core 2.14.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Port through which it is exploited, if remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// A credential: a secret and what it grants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Where copies of it are kept: `host:NAME` or `service:NAME`.
    pub stored_on: Vec<String>,
    /// What it gives access to: `host:NAME`, `service:NAME` or `tag:NAME`.
    pub unlocks: Vec<String>,
    /// Level of access granted.
    #[serde(default)]
    pub privilege: Privilege,
    /// Who said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Level of access.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Privilege {
    /// Ordinary user.
    #[default]
    User,
    /// Administrator / root.
    Admin,
}

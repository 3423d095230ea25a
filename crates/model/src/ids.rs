//! Stable entity ids (`service:cart`, `endpoint:cart/get`) and references between entities
//! (`host:web-1`, `tag:crown-jewel`, `10.0.0.0/8`, `internet`).
//!
//! An entity's id is its kind and its name in the twin, so it survives re-imports and edits of
//! anything but the name. Nested entities (endpoints, instances) are named `service/child`.

use std::fmt;
use std::str::FromStr;

/// The kinds of entity a twin holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A region.
    Region,
    /// An availability zone.
    Zone,
    /// A rack.
    Rack,
    /// A compute cluster.
    Cluster,
    /// A machine.
    Host,
    /// A network (VPC).
    Network,
    /// A subnet.
    Subnet,
    /// A router.
    Router,
    /// A link between routers.
    Link,
    /// A security group.
    SecurityGroup,
    /// A network policy.
    NetworkPolicy,
    /// A service.
    Service,
    /// An endpoint of a service.
    Endpoint,
    /// An instance of a service.
    Instance,
    /// A workload.
    Workload,
    /// A service level objective.
    Slo,
    /// A credential.
    Credential,
}

impl Kind {
    /// Every kind, in model order.
    pub const ALL: [Kind; 17] = [
        Kind::Region,
        Kind::Zone,
        Kind::Rack,
        Kind::Cluster,
        Kind::Host,
        Kind::Network,
        Kind::Subnet,
        Kind::Router,
        Kind::Link,
        Kind::SecurityGroup,
        Kind::NetworkPolicy,
        Kind::Service,
        Kind::Endpoint,
        Kind::Instance,
        Kind::Workload,
        Kind::Slo,
        Kind::Credential,
    ];

    /// The id prefix: `service`, `security-group`...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Region => "region",
            Kind::Zone => "zone",
            Kind::Rack => "rack",
            Kind::Cluster => "cluster",
            Kind::Host => "host",
            Kind::Network => "network",
            Kind::Subnet => "subnet",
            Kind::Router => "router",
            Kind::Link => "link",
            Kind::SecurityGroup => "security-group",
            Kind::NetworkPolicy => "network-policy",
            Kind::Service => "service",
            Kind::Endpoint => "endpoint",
            Kind::Instance => "instance",
            Kind::Workload => "workload",
            Kind::Slo => "slo",
            Kind::Credential => "credential",
        }
    }

    /// The top-level section of `doppel.yaml` holding this kind (endpoints and instances live
    /// inside services).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Region => "regions",
            Kind::Zone => "zones",
            Kind::Rack => "racks",
            Kind::Cluster => "clusters",
            Kind::Host => "hosts",
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Router => "routers",
            Kind::Link => "links",
            Kind::SecurityGroup => "security_groups",
            Kind::NetworkPolicy => "network_policies",
            Kind::Service | Kind::Endpoint | Kind::Instance => "services",
            Kind::Workload => "workloads",
            Kind::Slo => "slos",
            Kind::Credential => "credentials",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// A stable entity id: kind and name. Displays as `kind:name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId {
    /// What it is.
    pub kind: Kind,
    /// Its name; `service/endpoint` or `service/instance` for nested entities.
    pub name: String,
}

impl EntityId {
    /// An id of `kind` named `name`.
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        EntityId {
            kind,
            name: name.into(),
        }
    }

    /// The id of endpoint `endpoint` of `service`.
    pub fn endpoint(service: &str, endpoint: &str) -> Self {
        EntityId::new(Kind::Endpoint, format!("{service}/{endpoint}"))
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

impl FromStr for EntityId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not an id of the form kind:name"))?;
        let kind = kind
            .parse::<Kind>()
            .map_err(|()| format!("`{kind}` is not an entity kind"))?;
        if name.is_empty() {
            return Err(format!("`{s}` has an empty name"));
        }
        Ok(EntityId::new(kind, name))
    }
}

/// Something a rule, policy or credential points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Anyone, anywhere.
    Any,
    /// The public internet.
    Internet,
    /// An address range.
    Cidr(ipnet::IpNet),
    /// Every entity carrying a tag.
    Tag(String),
    /// A named entity (host, service, security group, zone, subnet...).
    Entity(EntityId),
}

impl Peer {
    /// Parses `any`, `internet`, a CIDR or bare IP, `tag:NAME`, `group:NAME` (a security
    /// group) or `KIND:NAME`.
    pub fn parse(text: &str) -> Result<Peer, String> {
        match text {
            "any" | "*" => return Ok(Peer::Any),
            "internet" => return Ok(Peer::Internet),
            _ => {}
        }
        if let Ok(net) = text.parse::<ipnet::IpNet>() {
            return Ok(Peer::Cidr(net));
        }
        if let Ok(ip) = text.parse::<std::net::IpAddr>() {
            return Ok(Peer::Cidr(ipnet::IpNet::from(ip)));
        }
        match text.split_once(':') {
            Some(("tag", t)) if !t.is_empty() => Ok(Peer::Tag(t.to_owned())),
            Some(("group", g)) if !g.is_empty() => Ok(Peer::Entity(EntityId::new(Kind::SecurityGroup, g))),
            Some(_) => text.parse::<EntityId>().map(Peer::Entity).map_err(|e| {
                format!("{e}; expected `any`, `internet`, a CIDR, `tag:NAME`, `group:NAME` or `KIND:NAME`")
            }),
            None => Err(format!(
                "`{text}` is not a peer; expected `any`, `internet`, a CIDR, `tag:NAME`, `group:NAME` or `KIND:NAME` (e.g. `service:{text}`)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for text in ["service:cart", "endpoint:cart/get", "security-group:web-sg"] {
            assert_eq!(text.parse::<EntityId>().unwrap().to_string(), text);
        }
        assert!("cart".parse::<EntityId>().is_err());
        assert!("spaceship:x".parse::<EntityId>().is_err());
    }

    #[test]
    fn peers_parse() {
        assert_eq!(
            Peer::parse("0.0.0.0/0").unwrap(),
            Peer::Cidr("0.0.0.0/0".parse().unwrap())
        );
        assert_eq!(
            Peer::parse("10.1.2.3").unwrap(),
            Peer::Cidr("10.1.2.3/32".parse().unwrap())
        );
        assert_eq!(
            Peer::parse("group:web").unwrap(),
            Peer::Entity(EntityId::new(Kind::SecurityGroup, "web"))
        );
        assert_eq!(Peer::parse("tag:pci").unwrap(), Peer::Tag("pci".into()));
        assert!(Peer::parse("cart").unwrap_err().contains("service:cart"));
        assert!(Peer::parse("10.0.0.0/33").is_err());
    }
}

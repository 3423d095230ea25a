//! Derived facts every consumer of a twin needs the same way: which endpoint a call means,
//! where each replica runs, the latency between two zones, who carries a tag.
//!
//! Kept here, next to the types, so the simulator, the exporters and the server cannot disagree.

use crate::twin::{Host, Service, Twin};
use crate::units::Duration;

/// A service instance with its placement resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedInstance {
    /// The service.
    pub service: String,
    /// The instance's name: its key under `instances`, or `SERVICE-N` for replicas.
    pub name: String,
    /// The host it runs on, when known.
    pub host: Option<String>,
    /// The zone it runs in, when known (the host's zone wins).
    pub zone: Option<String>,
}

impl Twin {
    /// The endpoint a call or flow step targets: the named one, or the service's only one.
    pub fn resolve_endpoint<'a>(
        &'a self,
        service: &str,
        endpoint: Option<&'a str>,
    ) -> Result<&'a str, String> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| format!("unknown service `{service}`"))?;
        match endpoint {
            Some(e) if svc.endpoints.contains_key(e) => Ok(e),
            Some(e) => {
                let names: Vec<String> = svc.endpoints.keys().cloned().collect();
                let hint = crate::schema::suggest(e, &names);
                Err(format!("service `{service}` has no endpoint `{e}`{hint}"))
            }
            None => match svc.endpoints.len() {
                1 => Ok(svc
                    .endpoints
                    .keys()
                    .next()
                    .map(String::as_str)
                    .unwrap_or_default()),
                0 => Err(format!("service `{service}` has no endpoints")),
                n => Err(format!(
                    "service `{service}` has {n} endpoints; say which with `endpoint`"
                )),
            },
        }
    }

    /// Every instance of `service` with its host and zone, in a stable order.
    ///
    /// Explicit `instances` are taken as written. Otherwise `replicas` (default 1) are named
    /// `SERVICE-0`, `SERVICE-1`... and spread round-robin over `placement.hosts`, or over
    /// `placement.zones` and, within each zone, over its hosts (those with all of
    /// `placement.host_tags`) in the order they are listed.
    pub fn placed_instances(&self, name: &str, service: &Service) -> Vec<PlacedInstance> {
        let zone_of = |host: &Option<String>| -> Option<String> {
            host.as_ref()
                .and_then(|h| self.hosts.get(h))
                .and_then(|h: &Host| h.zone.clone())
        };
        if !service.instances.is_empty() {
            return service
                .instances
                .iter()
                .map(|(iname, inst)| PlacedInstance {
                    service: name.to_owned(),
                    name: iname.clone(),
                    host: inst.host.clone(),
                    zone: zone_of(&inst.host).or_else(|| inst.zone.clone()),
                })
                .collect();
        }
        let replicas = service.replicas.unwrap_or(1) as usize;
        let placement = service.placement.clone().unwrap_or_default();
        // Hosts of each zone, in declaration order, and a per-zone round-robin cursor.
        let zone_hosts: Vec<Vec<&String>> = placement
            .zones
            .iter()
            .map(|z| {
                self.hosts
                    .iter()
                    .filter(|(_, h)| h.zone.as_deref() == Some(z))
                    .filter(|(_, h)| placement.host_tags.iter().all(|t| h.tags.contains(t)))
                    .map(|(n, _)| n)
                    .collect()
            })
            .collect();
        let mut cursor = vec![0usize; placement.zones.len()];
        (0..replicas)
            .map(|i| {
                let (host, zone) = if !placement.hosts.is_empty() {
                    let h = placement.hosts[i % placement.hosts.len()].clone();
                    let z = zone_of(&Some(h.clone()));
                    (Some(h), z)
                } else if !placement.zones.is_empty() {
                    let zi = i % placement.zones.len();
                    let hosts = &zone_hosts[zi];
                    let host = (!hosts.is_empty()).then(|| hosts[cursor[zi] % hosts.len()].clone());
                    cursor[zi] += 1;
                    (host, Some(placement.zones[zi].clone()))
                } else {
                    (None, None)
                };
                PlacedInstance {
                    service: name.to_owned(),
                    name: format!("{name}-{i}"),
                    host,
                    zone,
                }
            })
            .collect()
    }

    /// Every instance of every service.
    pub fn all_instances(&self) -> Vec<PlacedInstance> {
        self.services
            .iter()
            .flat_map(|(n, s)| self.placed_instances(n, s))
            .collect()
    }

    /// One-way latency between two zones: as stated on either zone, zero within a zone unless
    /// the zone states its own, and `None` when unknown.
    pub fn zone_latency(&self, a: &str, b: &str) -> Option<Duration> {
        let stated = |from: &str, to: &str| {
            self.zones
                .get(from)
                .and_then(|z| z.latency.get(to))
                .copied()
        };
        stated(a, b)
            .or_else(|| stated(b, a))
            .or((a == b).then_some(Duration::ZERO))
    }

    /// The `provenance` block an importer wrote on an entity, if any.
    pub fn stated_provenance(&self, id: &crate::ids::EntityId) -> Option<&crate::twin::Provenance> {
        use crate::ids::Kind;
        let n = id.name.as_str();
        let nested = || {
            n.split_once('/')
                .and_then(|(s, child)| Some((self.services.get(s)?, child)))
        };
        match id.kind {
            Kind::Region => self.regions.get(n)?.provenance.as_ref(),
            Kind::Zone => self.zones.get(n)?.provenance.as_ref(),
            Kind::Rack => self.racks.get(n)?.provenance.as_ref(),
            Kind::Cluster => self.clusters.get(n)?.provenance.as_ref(),
            Kind::Host => self.hosts.get(n)?.provenance.as_ref(),
            Kind::Network => self.networks.get(n)?.provenance.as_ref(),
            Kind::Subnet => self.subnets.get(n)?.provenance.as_ref(),
            Kind::Router => self.routers.get(n)?.provenance.as_ref(),
            Kind::Link => self.links.get(n)?.provenance.as_ref(),
            Kind::SecurityGroup => self.security_groups.get(n)?.provenance.as_ref(),
            Kind::NetworkPolicy => self.network_policies.get(n)?.provenance.as_ref(),
            Kind::Service => self.services.get(n)?.provenance.as_ref(),
            Kind::Instance => {
                let (svc, child) = nested()?;
                svc.instances
                    .get(child)?
                    .provenance
                    .as_ref()
                    .or(svc.provenance.as_ref())
            }
            // Endpoints and SLOs carry no block of their own: their service's or none.
            Kind::Endpoint => nested()?.0.provenance.as_ref(),
            Kind::Workload => self.workloads.get(n)?.provenance.as_ref(),
            Kind::Credential => self.credentials.get(n)?.provenance.as_ref(),
            Kind::Slo => None,
        }
    }

    /// Whether any entity carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        let t = |tags: &Vec<String>| tags.iter().any(|x| x == tag);
        self.hosts.values().any(|h| t(&h.tags))
            || self.services.values().any(|s| t(&s.tags))
            || self.regions.values().any(|r| t(&r.tags))
            || self.zones.values().any(|z| t(&z.tags))
            || self.routers.values().any(|r| t(&r.tags))
    }
}

#[cfg(test)]
mod tests {
    use crate::load::load_str;

    #[test]
    fn replicas_spread_over_zones_then_hosts() {
        let twin = load_str(
            "t.yaml",
            "zones: {a: {latency: {b: 2ms}}, b: {}}\nhosts:\n  a1: {zone: a, cores: 2}\n  a2: {zone: a, cores: 2}\n  b1: {zone: b, cores: 2}\nservices:\n  web:\n    replicas: 5\n    placement: {zones: [a, b]}\n    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}\n",
        )
        .twin;
        let placed: Vec<String> = twin
            .all_instances()
            .iter()
            .map(|i| format!("{}@{}", i.name, i.host.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            placed,
            ["web-0@a1", "web-1@b1", "web-2@a2", "web-3@b1", "web-4@a1"]
        );
        assert_eq!(twin.zone_latency("b", "a").unwrap().as_nanos(), 2_000_000);
        assert_eq!(twin.zone_latency("a", "a").unwrap().as_nanos(), 0);
        assert_eq!(twin.resolve_endpoint("web", None), Ok("get"));
        assert!(
            twin.resolve_endpoint("web", Some("gte"))
                .unwrap_err()
                .contains("did you mean `get`")
        );
    }

    #[test]
    fn provenance_is_stated_or_the_defining_file_and_line() {
        let loaded = load_str(
            "t.yaml",
            "hosts:\n  h: {cores: 1}\n  i:\n    cores: 1\n    provenance: {source: terraform, ref: aws_instance.i}\n",
        );
        let h = loaded.provenance(&"host:h".parse().unwrap()).unwrap();
        assert_eq!(
            (h.source.as_str(), h.file.as_deref()),
            ("file", Some("t.yaml:2"))
        );
        let i = loaded.provenance(&"host:i".parse().unwrap()).unwrap();
        assert_eq!(
            (i.source.as_str(), i.reference.as_deref()),
            ("terraform", Some("aws_instance.i"))
        );
        assert!(loaded.provenance(&"host:nope".parse().unwrap()).is_none());
    }
}

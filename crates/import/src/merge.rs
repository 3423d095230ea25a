//! Merging an importer's delta into a twin, and diffing two twins by stable id.
//!
//! Entities are matched by name; hosts also by IP address or provider id (a
//! `provider-id:ID` tag), networks and subnets also by CIDR. A matched entity keeps the base's
//! name, and the delta's references to its old name are rewritten. Fields merge one by one: a
//! field the base lacks (or holds at its default, which means "unknown") is taken from the
//! delta; tags, addresses and similar lists are united; a field both give with different values
//! is a [`Conflict`], reported and left as the base has it ([`merge_with`] and
//! [`Prefer::Delta`] take the delta's value instead, still reporting it). The base's
//! provenance stays.
//!
//! A service whose endpoints are importer placeholders (tag [`PLACEHOLDER_TAG`]) takes the
//! delta's real endpoints (from traces) instead, and the tag is dropped.
//!
//! Merging is idempotent: `merge(merge(a, d), d) == merge(a, d)` with no conflicts the second
//! time.

use std::collections::HashMap;
use std::fmt;

use doppel_model::{EntityId, Kind, Twin};
use serde_json::{Map, Value};

/// Tag an importer puts on a service whose endpoints are placeholders awaiting calibration.
pub const PLACEHOLDER_TAG: &str = "placeholder-endpoints";

/// Lists that merge as sets rather than conflict.
const UNION_KEYS: [&str; 8] = [
    "tags",
    "addresses",
    "security_groups",
    "subnets",
    "applies_to",
    "stored_on",
    "unlocks",
    "include",
];

/// Sections of named entities, with their kinds.
fn sections() -> impl Iterator<Item = (&'static str, Kind)> {
    Kind::ALL
        .into_iter()
        .filter(|k| !matches!(k, Kind::Endpoint | Kind::Instance))
        .map(|k| (k.section(), k))
}

/// Two sources disagree about a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The entity, e.g. `host:web-1`.
    pub entity: String,
    /// JSON Pointer of the field inside the entity, e.g. `/cores`.
    pub field: String,
    /// The base's value (JSON), which is kept.
    pub base: String,
    /// The delta's value (JSON), which is not applied.
    pub delta: String,
    /// Where the base's entity came from (its provenance source), if stated.
    pub base_source: Option<String>,
    /// Where the delta's entity came from, if stated.
    pub delta_source: Option<String>,
    /// Whether the delta's value was taken ([`Prefer::Delta`]) rather than the base's kept.
    pub took_delta: bool,
}

/// Which side wins a conflict. Either way the conflict is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prefer {
    /// Keep the twin's value (the default: an import never silently overwrites).
    #[default]
    Base,
    /// Take the import's value (re-calibrating from fresh traces, refreshing from Terraform).
    Delta,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = |s: &Option<String>| s.clone().unwrap_or_else(|| "twin".into());
        write!(
            f,
            "{} {}: {} says {}, {} says {}; {} {}",
            self.entity,
            self.field,
            src(&self.base_source),
            self.base,
            src(&self.delta_source),
            self.delta,
            if self.took_delta { "took" } else { "kept" },
            if self.took_delta {
                &self.delta
            } else {
                &self.base
            }
        )
    }
}

/// Merges `delta` into `base`, keeping the base's value on conflicts; see the module docs.
pub fn merge(base: &Twin, delta: &Twin) -> (Twin, Vec<Conflict>) {
    merge_with(base, delta, Prefer::Base)
}

/// Merges `delta` into `base`, resolving conflicts in favour of `prefer` (and reporting them).
pub fn merge_with(base: &Twin, delta: &Twin, prefer: Prefer) -> (Twin, Vec<Conflict>) {
    let mut conflicts = Vec::new();
    let (Ok(Value::Object(mut out)), Ok(Value::Object(mut d))) =
        (serde_json::to_value(base), serde_json::to_value(delta))
    else {
        return (base.clone(), conflicts);
    };
    rename_matches(&out, &mut d);
    for key in ["name", "description"] {
        if let Some(v) = d.get(key)
            && !out.contains_key(key)
        {
            out.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(Value::Array(inc)) = d.get("include") {
        let list = out
            .entry("include")
            .or_insert_with(|| Value::Array(Vec::new()));
        union(list, inc);
    }
    for (section, kind) in sections() {
        let Some(Value::Object(entities)) = d.remove(section) else {
            continue;
        };
        let target = out
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(target) = target else {
            continue;
        };
        let defaults = defaults_of(kind);
        for (name, mut dent) in entities {
            let Some(bent) = target.get_mut(&name) else {
                target.insert(name, dent);
                continue;
            };
            let id = EntityId::new(kind, name.as_str()).to_string();
            let base_source = source_of(bent);
            let delta_source = source_of(&dent);
            if kind == Kind::Service {
                take_real_endpoints(bent, &mut dent);
            }
            let mut found = Vec::new();
            let before = bent.clone();
            merge_value(bent, &dent, defaults.as_ref(), "", prefer, &mut found);
            record_field_sources(
                bent,
                &before,
                base_source.as_deref(),
                delta_source.as_deref(),
            );
            conflicts.extend(found.into_iter().map(|(field, b, dv)| Conflict {
                entity: id.clone(),
                field,
                base: b,
                delta: dv,
                base_source: base_source.clone(),
                delta_source: delta_source.clone(),
                took_delta: prefer == Prefer::Delta,
            }));
        }
    }
    match serde_json::from_value::<Twin>(Value::Object(out)) {
        Ok(twin) => (twin, conflicts),
        Err(e) => {
            conflicts.push(Conflict {
                entity: "twin".into(),
                field: String::new(),
                base: String::new(),
                delta: format!("{e:?}"),
                base_source: None,
                delta_source: None,
                took_delta: false,
            });
            (base.clone(), conflicts)
        }
    }
}

/// Per-field provenance: the top-level fields the merge changed came from the delta's source;
/// when that is not the entity's own source, `provenance.fields` says so.
fn record_field_sources(
    entity: &mut Value,
    before: &Value,
    base: Option<&str>,
    delta: Option<&str>,
) {
    let Some(delta) = delta else { return };
    if base == Some(delta) {
        return;
    }
    let Value::Object(after) = &*entity else {
        return;
    };
    let changed: Vec<String> = after
        .iter()
        .filter(|(k, v)| k.as_str() != "provenance" && before.get(k.as_str()) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    if changed.is_empty() {
        return;
    }
    let Value::Object(obj) = entity else { return };
    let prov = obj
        .entry("provenance")
        .or_insert_with(|| serde_json::json!({"source": base.unwrap_or("twin")}));
    if !prov.is_object() {
        return;
    }
    let fields = prov.as_object_mut().map(|p| {
        p.entry("fields")
            .or_insert_with(|| Value::Object(Map::new()))
    });
    if let Some(Value::Object(fields)) = fields {
        for f in changed {
            fields.insert(f, Value::String(delta.to_owned()));
        }
    }
}

fn source_of(entity: &Value) -> Option<String> {
    entity
        .pointer("/provenance/source")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The serialised default of an entity kind, whose values mean "not known".
fn defaults_of(kind: Kind) -> Option<Value> {
    use doppel_model as m;
    let v = match kind {
        Kind::Region => serde_json::to_value(m::Region::default()),
        Kind::Zone => serde_json::to_value(m::Zone::default()),
        Kind::Cluster => serde_json::to_value(m::Cluster::default()),
        Kind::Host => serde_json::to_value(m::Host::default()),
        Kind::Router => serde_json::to_value(m::Router::default()),
        Kind::SecurityGroup => serde_json::to_value(m::SecurityGroup::default()),
        Kind::NetworkPolicy => serde_json::to_value(m::NetworkPolicy::default()),
        Kind::Service => serde_json::to_value(m::Service::default()),
        Kind::Credential => serde_json::to_value(m::Credential::default()),
        Kind::Subnet => Ok(serde_json::json!({"public": false})),
        _ => return None,
    };
    v.ok()
}

/// When one side's endpoints are placeholders and the other's are real, keep the real ones.
fn take_real_endpoints(base: &mut Value, delta: &mut Value) {
    let placeholder = |v: &Value| matches!(v.get("tags"), Some(Value::Array(t)) if t.iter().any(|x| x == PLACEHOLDER_TAG));
    let has_endpoints = |v: &Value| {
        v.get("endpoints")
            .is_some_and(|e| e.as_object().is_some_and(|o| !o.is_empty()))
    };
    let drop_tag = |v: &mut Value| {
        if let Some(Value::Array(t)) = v.get_mut("tags") {
            t.retain(|x| x != PLACEHOLDER_TAG);
        }
    };
    if placeholder(base) && !placeholder(delta) && has_endpoints(delta) {
        if let Some(obj) = base.as_object_mut() {
            obj.remove("endpoints");
        }
        drop_tag(base);
    } else if placeholder(delta) && has_endpoints(base) {
        if let Some(obj) = delta.as_object_mut() {
            obj.remove("endpoints");
        }
        drop_tag(delta);
    }
}

fn union(list: &mut Value, extra: &[Value]) {
    if let Value::Array(items) = list {
        for x in extra {
            if !items.contains(x) {
                items.push(x.clone());
            }
        }
    }
}

fn merge_value(
    b: &mut Value,
    d: &Value,
    defaults: Option<&Value>,
    here: &str,
    prefer: Prefer,
    conflicts: &mut Vec<(String, String, String)>,
) {
    match (b, d) {
        (Value::Object(bm), Value::Object(dm)) => {
            for (k, dv) in dm {
                let path = format!("{here}/{}", crate::text::tok(k));
                let default = defaults.and_then(|x| x.get(k.as_str()));
                let Some(bv) = bm.get_mut(k) else {
                    bm.insert(k.clone(), dv.clone());
                    continue;
                };
                if k == "provenance" || bv == dv || Some(dv) == default {
                    continue;
                }
                if Some(&*bv) == default {
                    *bv = dv.clone();
                    continue;
                }
                match (&mut *bv, dv) {
                    (Value::Array(_), Value::Array(extra)) if UNION_KEYS.contains(&k.as_str()) => {
                        union(bv, extra);
                    }
                    (Value::Object(_), Value::Object(_)) => {
                        merge_value(bv, dv, default, &path, prefer, conflicts);
                    }
                    _ => {
                        conflicts.push((path, bv.to_string(), dv.to_string()));
                        if prefer == Prefer::Delta {
                            *bv = dv.clone();
                        }
                    }
                }
            }
        }
        (b, d) if *b != *d => {
            conflicts.push((here.to_owned(), b.to_string(), d.to_string()));
            if prefer == Prefer::Delta {
                *b = d.clone();
            }
        }
        _ => {}
    }
}

/// Finds delta hosts, networks and subnets that are base entities under another name (same
/// address, provider id or CIDR), renames them to the base's name and rewrites references.
fn rename_matches(base: &Map<String, Value>, delta: &mut Map<String, Value>) {
    let mut renames: Vec<(Kind, String, String)> = Vec::new();
    for (section, kind) in [
        ("hosts", Kind::Host),
        ("networks", Kind::Network),
        ("subnets", Kind::Subnet),
    ] {
        let (Some(Value::Object(bs)), Some(Value::Object(ds))) =
            (base.get(section), delta.get(section))
        else {
            continue;
        };
        let mut index: HashMap<String, &str> = HashMap::new();
        for (name, ent) in bs {
            for key in identity_keys(kind, ent) {
                index.entry(key).or_insert(name);
            }
        }
        for (name, ent) in ds {
            if bs.contains_key(name) {
                continue;
            }
            if let Some(target) = identity_keys(kind, ent)
                .iter()
                .find_map(|k| index.get(k).copied())
                && !ds.contains_key(target)
            {
                renames.push((kind, name.clone(), target.to_owned()));
            }
        }
    }
    for (kind, old, new) in &renames {
        if let Some(Value::Object(ents)) = delta.get_mut(kind.section())
            && let Some(v) = ents.shift_remove(old)
        {
            ents.insert(new.clone(), v);
        }
        let fields: &[&str] = match kind {
            Kind::Host => &["host", "hosts"],
            Kind::Network => &["network"],
            _ => &["subnet", "subnets"],
        };
        for v in delta.values_mut() {
            rewrite(
                v,
                fields,
                &format!("{}:{old}", kind.as_str()),
                old,
                new,
                kind.as_str(),
            );
        }
    }
}

/// Keys that identify an entity across sources.
fn identity_keys(kind: Kind, ent: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(Value::Array(tags)) = ent.get("tags") {
        keys.extend(
            tags.iter()
                .filter_map(Value::as_str)
                .filter(|t| t.starts_with("provider-id:"))
                .map(str::to_owned),
        );
    }
    match kind {
        Kind::Host => {
            if let Some(Value::Array(addrs)) = ent.get("addresses") {
                keys.extend(
                    addrs
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|a| format!("ip:{a}")),
                );
            }
        }
        _ => {
            if let Some(c) = ent.get("cidr").and_then(Value::as_str) {
                keys.push(format!("cidr:{c}"));
            }
        }
    }
    keys
}

fn rewrite(v: &mut Value, fields: &[&str], peer: &str, old: &str, new: &str, prefix: &str) {
    match v {
        Value::String(s) if s == peer => *s = format!("{prefix}:{new}"),
        Value::Array(items) => {
            for x in items {
                rewrite(x, fields, peer, old, new, prefix);
            }
        }
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if fields.contains(&k.as_str()) {
                    match x {
                        Value::String(s) if s == old => *s = new.to_owned(),
                        Value::Array(items) => {
                            for i in items.iter_mut() {
                                if i == old {
                                    *i = Value::String(new.to_owned());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                rewrite(x, fields, peer, old, new, prefix);
            }
        }
        _ => {}
    }
}

/// How an entity differs between two twins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only in the second twin.
    Added,
    /// Only in the first twin.
    Removed,
    /// In both, with these top-level fields different.
    Changed(Vec<String>),
}

/// One entity that differs between two twins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The entity's stable id, e.g. `service:cart` or `endpoint:cart/get`.
    pub id: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ChangeKind::Added => write!(f, "+ {}", self.id),
            ChangeKind::Removed => write!(f, "- {}", self.id),
            ChangeKind::Changed(fields) => write!(f, "~ {}: {}", self.id, fields.join(", ")),
        }
    }
}

/// The entities added, removed and changed from `a` to `b`, by stable id. Endpoints and
/// instances are compared as entities of their own, not as fields of their service.
pub fn diff(a: &Twin, b: &Twin) -> Vec<Change> {
    let (Ok(va), Ok(vb)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    for (section, kind) in sections() {
        let empty = Map::new();
        let ea = va.get(section).and_then(Value::as_object).unwrap_or(&empty);
        let eb = vb.get(section).and_then(Value::as_object).unwrap_or(&empty);
        compare(kind, "", ea, eb, &mut changes);
        if kind == Kind::Service {
            for (svc, sa) in ea {
                let sb = eb.get(svc);
                for (sub, k) in [("endpoints", Kind::Endpoint), ("instances", Kind::Instance)] {
                    let na = sa.get(sub).and_then(Value::as_object).unwrap_or(&empty);
                    let nb = sb
                        .and_then(|s| s.get(sub))
                        .and_then(Value::as_object)
                        .unwrap_or(&empty);
                    compare(k, &format!("{svc}/"), na, nb, &mut changes);
                }
            }
            for (svc, sb) in eb.iter().filter(|(n, _)| !ea.contains_key(*n)) {
                for (sub, k) in [("endpoints", Kind::Endpoint), ("instances", Kind::Instance)] {
                    let nb = sb.get(sub).and_then(Value::as_object).unwrap_or(&empty);
                    compare(k, &format!("{svc}/"), &empty, nb, &mut changes);
                }
            }
        }
    }
    changes
}

fn compare(
    kind: Kind,
    prefix: &str,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    out: &mut Vec<Change>,
) {
    let id = |n: &str| EntityId::new(kind, format!("{prefix}{n}")).to_string();
    let nested = ["endpoints", "instances"];
    for (name, va) in a {
        match b.get(name) {
            None => out.push(Change {
                id: id(name),
                kind: ChangeKind::Removed,
            }),
            Some(vb) => {
                let mut fields: Vec<String> = Vec::new();
                let empty = Map::new();
                let oa = va.as_object().unwrap_or(&empty);
                let ob = vb.as_object().unwrap_or(&empty);
                for k in oa.keys().chain(ob.keys().filter(|k| !oa.contains_key(*k))) {
                    if kind == Kind::Service && nested.contains(&k.as_str()) {
                        continue;
                    }
                    if oa.get(k) != ob.get(k) {
                        fields.push(k.clone());
                    }
                }
                if !fields.is_empty() {
                    out.push(Change {
                        id: id(name),
                        kind: ChangeKind::Changed(fields),
                    });
                }
            }
        }
    }
    for name in b.keys().filter(|n| !a.contains_key(*n)) {
        out.push(Change {
            id: id(name),
            kind: ChangeKind::Added,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twin(text: &str) -> Twin {
        let loaded = doppel_model::load_str("t.yaml", text);
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        loaded.twin
    }

    #[test]
    fn fields_fill_in_lists_unite_and_disagreements_are_conflicts() {
        let base = twin(
            "hosts:\n  web-1: {cores: 4, addresses: [10.0.0.5], tags: [web], provenance: {source: terraform}}\n",
        );
        let delta = twin(
            "hosts:\n  web01: {cores: 8, memory: 16Gi, addresses: [10.0.0.5], tags: [prod], provenance: {source: ansible}}\nservices:\n  app:\n    instances: {app-0: {host: web01}}\n    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}\n",
        );
        let (merged, conflicts) = merge(&base, &delta);
        // Matched by address: the base's name stays, the reference is rewritten.
        assert_eq!(merged.hosts.len(), 1);
        let h = &merged.hosts["web-1"];
        assert_eq!(h.tags, vec!["web", "prod"]);
        assert_eq!(h.memory.map(|m| m.to_string()), Some("16Gi".into()));
        assert_eq!(h.cores, 4.0);
        assert_eq!(
            merged.services["app"].instances["app-0"].host.as_deref(),
            Some("web-1")
        );
        assert_eq!(conflicts.len(), 1);
        assert_eq!(
            conflicts[0].to_string(),
            "host:web-1 /cores: terraform says 4.0, ansible says 8.0; kept 4.0"
        );
        assert!(
            doppel_model::load_str("m.json", &serde_json::to_string(&merged).unwrap()).is_valid()
        );
        // Idempotent.
        let (again, conflicts2) = merge(&merged, &delta);
        assert_eq!(again, merged);
        assert_eq!(conflicts2.len(), 1, "the same disagreement, still reported");
        // Preferring the import takes its value, and says so.
        let (fresh, c3) = merge_with(&base, &delta, Prefer::Delta);
        assert_eq!(fresh.hosts["web-1"].cores, 8.0);
        assert_eq!(
            c3[0].to_string(),
            "host:web-1 /cores: terraform says 4.0, ansible says 8.0; took 8.0"
        );
        let (once, none) = merge(&Twin::default(), &delta);
        assert!(none.is_empty());
        assert_eq!(merge(&once, &delta), (once.clone(), vec![]));
    }

    /// Every field records where it came from: fields another source changed are listed in
    /// `provenance.fields`; re-importing the same facts changes nothing.
    #[test]
    fn fields_set_by_another_source_record_it() {
        let base = twin(
            "services:\n  web:\n    replicas: 2\n    version: \"1.0\"\n    provenance: {source: terraform, ref: aws_autoscaling_group.web}\n    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}\n",
        );
        let delta = twin(
            "services:\n  web:\n    replicas: 4\n    provenance: {source: kubernetes, ref: Deployment/web}\n    endpoints: {get: {service_time: {dist: constant, value: 1ms}}}\n",
        );
        let (merged, conflicts) = merge_with(&base, &delta, Prefer::Delta);
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let prov = merged.services["web"].provenance.clone().unwrap();
        assert_eq!(prov.source, "terraform");
        assert_eq!(
            prov.fields.get("replicas").map(String::as_str),
            Some("kubernetes")
        );
        assert!(!prov.fields.contains_key("version"), "{prov:?}");
        assert_eq!(merged.services["web"].replicas, Some(4));
        // Idempotent: the same delta again changes nothing.
        let (again, _) = merge_with(&merged, &delta, Prefer::Delta);
        assert_eq!(again, merged);
        // Keeping the base's value records nothing.
        let (kept, _) = merge_with(&base, &delta, Prefer::Base);
        assert!(
            kept.services["web"]
                .provenance
                .clone()
                .unwrap()
                .fields
                .is_empty()
        );
    }

    #[test]
    fn diff_lists_entities_by_stable_id() {
        let a = twin(
            "hosts: {h1: {cores: 2}, h2: {cores: 2}}\nservices:\n  cart: {replicas: 1, endpoints: {get: {service_time: {dist: constant, value: 1ms}}}}\n",
        );
        let b = twin(
            "hosts: {h1: {cores: 4}, h3: {cores: 2}}\nservices:\n  cart: {replicas: 2, endpoints: {get: {service_time: {dist: constant, value: 1ms}}, put: {service_time: {dist: constant, value: 2ms}}}}\n",
        );
        let text: Vec<String> = diff(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "~ host:h1: cores",
                "- host:h2",
                "+ host:h3",
                "~ service:cart: replicas",
                "+ endpoint:cart/put",
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}

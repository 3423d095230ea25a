//! Kubernetes importer: multi-document manifests (as `kubectl get -o yaml` or a rendered Helm
//! chart gives, `kind: List` included).
//!
//! - Deployments, StatefulSets and DaemonSets become services: replicas, the sum of the
//!   containers' resource *requests* as `resources.cpu`/`memory`, the first container's image
//!   tag as `version`, container ports as `ports`, pod template labels as `KEY=VALUE` tags.
//!   Images of well-known databases, caches and brokers set the service kind.
//! - Each such service gets one endpoint `default` with a placeholder service time (and the
//!   tag [`PLACEHOLDER_TAG`]) plus a warning: calibrate it from traces.
//! - Dependencies are inferred from container env vars whose name ends in `_ADDR`, `_HOST`,
//!   `_URL`... or whose value is a URL, when the host they name is a Kubernetes Service in the
//!   input: the calling service's `default` endpoint calls the services that Service selects.
//!   Every inferred edge is marked by a tag `inferred-call:TARGET` on the caller. Nothing is
//!   inferred from env vars named like secrets, from secret-shaped values or from `valueFrom`.
//! - LoadBalancer and NodePort Services expose their ports to the internet
//!   (`security.exposed`); Ingresses become gateway services calling their backends.
//! - HPAs and PodDisruptionBudgets, which the model has no fields for, become tags on their
//!   target (`hpa-min=N`, `hpa-max=N`, `pdb-min-available=X`, `pdb-max-unavailable=X`).
//! - NetworkPolicies become `network_policies` with selectors resolved to services.
//! - Other kinds (ConfigMaps, Secrets, ServiceAccounts...) are skipped with an info
//!   diagnostic; a Secret's data is never read.

use std::collections::BTreeMap;

use doppel_model::{
    Bytes, CallStep, Distribution, Duration, Endpoint, Exposure, NetworkPolicy, PolicyRule,
    PortRange, Protocol, Provenance, SecurityFacts, Service, ServiceKind, ServicePort, Twin,
};
use indexmap::IndexMap;
use serde_json::Value;

use crate::merge::PLACEHOLDER_TAG;
use crate::redact::{is_secret_name, looks_like_secret};
use crate::text::{self, YamlFile, push_unique, str_at};
use crate::{Diagnostic, ImportResult, Importer, Input, Severity, Source};

#[cfg(test)]
mod tests;

/// Reads Kubernetes manifests.
pub struct Kubernetes;

impl Importer for Kubernetes {
    fn source(&self) -> Source {
        Source::Kubernetes
    }

    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        let mut diags = Vec::new();
        let files: Vec<YamlFile<'_>> = inputs
            .iter()
            .filter_map(|i| text::read_yaml(i, &mut diags))
            .collect();
        let mut objects = Vec::new();
        for (f, file) in files.iter().enumerate() {
            let before = objects.len();
            for (d, doc) in file.docs.iter().enumerate() {
                collect(
                    &files,
                    f,
                    d,
                    String::new(),
                    &doc.value,
                    &mut objects,
                    &mut diags,
                );
            }
            if objects.len() == before && !diags.iter().any(|x| x.file == file.name) {
                diags.push(file.diag(
                    Severity::Warning,
                    0,
                    "",
                    "no Kubernetes objects (documents with `kind` and `metadata.name`) found",
                ));
            }
        }
        let delta = build(&files, &objects, &mut diags);
        ImportResult {
            delta,
            diagnostics: diags,
        }
    }
}

/// One Kubernetes object and where it was found.
struct Obj<'v> {
    file: usize,
    doc: usize,
    pointer: String,
    kind: &'v str,
    name: String,
    namespace: Option<String>,
    value: &'v Value,
}

impl Obj<'_> {
    fn diag(&self, files: &[YamlFile<'_>], sev: Severity, rel: &str, msg: String) -> Diagnostic {
        let ptr = format!("{}{rel}", self.pointer);
        match files.get(self.file) {
            Some(f) => f.diag(sev, self.doc, &ptr, msg),
            None => text::file_diag("?", sev, (1, 1), &ptr, msg),
        }
    }

    fn provenance(&self, files: &[YamlFile<'_>]) -> Provenance {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        Provenance {
            source: "kubernetes".into(),
            file: files.get(self.file).map(|f| f.name.to_owned()),
            reference: Some(format!("{}/{ns}{}", self.kind, self.name)),
            observed_at: None,
            fields: Default::default(),
        }
    }

    fn spec(&self) -> Option<&Value> {
        self.value.get("spec")
    }
}

/// API versions read for each kind; others are read the same way with a warning.
fn known_api(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" => &[
            "apps/v1",
            "apps/v1beta1",
            "apps/v1beta2",
            "extensions/v1beta1",
        ],
        "Service" => &["v1"],
        "Ingress" => &[
            "networking.k8s.io/v1",
            "networking.k8s.io/v1beta1",
            "extensions/v1beta1",
        ],
        "HorizontalPodAutoscaler" => &[
            "autoscaling/v1",
            "autoscaling/v2",
            "autoscaling/v2beta2",
            "autoscaling/v2beta1",
        ],
        "NetworkPolicy" => &["networking.k8s.io/v1", "extensions/v1beta1"],
        "PodDisruptionBudget" => &["policy/v1", "policy/v1beta1"],
        _ => return None,
    })
}

fn collect<'v>(
    files: &[YamlFile<'_>],
    f: usize,
    d: usize,
    pointer: String,
    v: &'v Value,
    out: &mut Vec<Obj<'v>>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(file) = files.get(f) else { return };
    let Some(kind) = str_at(v, "kind") else {
        diags.push(file.diag(
            Severity::Warning,
            d,
            &pointer,
            "not a Kubernetes object: no `kind`; skipped",
        ));
        return;
    };
    if kind == "List" || kind.ends_with("List") && v.get("items").is_some() {
        match v.get("items") {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    collect(
                        files,
                        f,
                        d,
                        format!("{pointer}/items/{i}"),
                        item,
                        out,
                        diags,
                    );
                }
            }
            _ => diags.push(file.diag(
                Severity::Warning,
                d,
                &pointer,
                "a List without an `items` list; skipped",
            )),
        }
        return;
    }
    let Some(name) = v.pointer("/metadata/name").and_then(Value::as_str) else {
        diags.push(file.diag(
            Severity::Error,
            d,
            &format!("{pointer}/metadata"),
            format!("{kind} without `metadata.name`; skipped"),
        ));
        return;
    };
    let api = str_at(v, "apiVersion").unwrap_or("");
    match known_api(kind) {
        None => {
            diags.push(file.diag(
                Severity::Info,
                d,
                &pointer,
                format!("{kind} `{name}` is not imported (the twin has nothing it maps to)"),
            ));
            return;
        }
        Some(apis) if !apis.contains(&api) => diags.push(file.diag(
            Severity::Warning,
            d,
            &format!("{pointer}/apiVersion"),
            format!(
                "unknown apiVersion `{api}` for {kind}; read as {} (expected one of {})",
                apis[0],
                apis.join(", ")
            ),
        )),
        Some(_) => {}
    }
    out.push(Obj {
        file: f,
        doc: d,
        pointer,
        kind,
        name: name.to_owned(),
        namespace: v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
        value: v,
    });
}

/// The placeholder every imported endpoint gets until traces calibrate it.
pub fn placeholder_service_time() -> Distribution {
    Distribution::Exponential {
        mean: Duration::from_millis(10),
    }
}

/// A workload (Deployment, StatefulSet, DaemonSet) resolved to its twin service name.
struct Workload<'o, 'v> {
    obj: &'o Obj<'v>,
    service: String,
    labels: BTreeMap<String, String>,
}

fn labels_of(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn same_ns(a: &Option<String>, b: &Option<String>) -> bool {
    let norm = |x: &Option<String>| x.clone().unwrap_or_else(|| "default".into());
    norm(a) == norm(b)
}

/// Whether a label selector (`matchLabels` or a bare map) selects `labels`. `matchExpressions`
/// with `In`/`NotIn`/`Exists`/`DoesNotExist` are honoured.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let plain = selector
        .get("matchLabels")
        .or_else(|| (selector.get("matchExpressions").is_none()).then_some(selector));
    if let Some(Value::Object(m)) = plain {
        for (k, v) in m {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(Value::Array(exprs)) = selector.get("matchExpressions") {
        for e in exprs {
            let key = str_at(e, "key").unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key);
            let ok = match str_at(e, "operator").unwrap_or("") {
                "In" => have.is_some_and(|h| values.contains(&h.as_str())),
                "NotIn" => have.is_none_or(|h| !values.contains(&h.as_str())),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// CPU quantity in cores: `100m`, `0.5`, `2`.
fn cpu_cores(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let (num, scale) = if let Some(m) = s.strip_suffix('m') {
                (m, 1e-3)
            } else if let Some(u) = s.strip_suffix('u') {
                (u, 1e-6)
            } else if let Some(n) = s.strip_suffix('n') {
                (n, 1e-9)
            } else {
                (s, 1.0)
            };
            num.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| x * scale)
        }
        _ => None,
    }
}

/// Memory quantity in bytes: `64Mi`, `1G`, `129e6`, `1048576`.
fn memory_bytes(v: &Value) -> Option<u64> {
    let s = match v {
        Value::Number(n) => return n.as_f64().filter(|x| *x >= 0.0).map(|x| x as u64),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, scale) in SUFFIXES {
        if let Some(num) = s.strip_suffix(suffix) {
            return num
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| (x * scale).round() as u64);
        }
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x.round() as u64)
}

/// The tag of an image reference (`repo/name:tag@sha256:...` → `tag`), if it has one.
fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
}

/// The image's repository name without registry or tag: `docker.io/library/redis:7` → `redis`.
fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

fn kind_from_image(image: &str) -> ServiceKind {
    let n = image_name(image).to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if has(&["redis", "memcached", "valkey", "dragonfly"]) {
        ServiceKind::Cache
    } else if has(&[
        "postgres",
        "mysql",
        "mariadb",
        "mongo",
        "cassandra",
        "cockroach",
        "spanner",
        "elasticsearch",
        "opensearch",
        "clickhouse",
    ]) {
        ServiceKind::Database
    } else if has(&["rabbitmq", "kafka", "nats", "pulsar", "activemq"]) {
        ServiceKind::Queue
    } else {
        ServiceKind::App
    }
}

fn protocol_of(v: Option<&Value>) -> Protocol {
    match v
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("UDP") => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

fn containers<'v>(spec: Option<&'v Value>, key: &str) -> Vec<(usize, &'v Value)> {
    spec.and_then(|s| s.pointer(&format!("/template/spec/{key}")))
        .and_then(Value::as_array)
        .map(|a| a.iter().enumerate().collect())
        .unwrap_or_default()
}

fn build(files: &[YamlFile<'_>], objects: &[Obj<'_>], diags: &mut Vec<Diagnostic>) -> Twin {
    let mut twin = Twin::default();
    let mut workloads: Vec<Workload<'_, '_>> = Vec::new();

    // Workloads first: they are what the other objects point at.
    for obj in objects
        .iter()
        .filter(|o| matches!(o.kind, "Deployment" | "StatefulSet" | "DaemonSet"))
    {
        let mut name = text::name(&obj.name);
        if twin.services.contains_key(&name) {
            let qualified = text::name(&format!(
                "{}.{}",
                obj.name,
                obj.namespace.as_deref().unwrap_or("default")
            ));
            diags.push(obj.diag(
                files,
                Severity::Warning,
                "/metadata/name",
                format!("a workload named `{name}` already exists (another namespace or kind); this one is imported as `{qualified}`"),
            ));
            name = qualified;
        }
        if twin.services.contains_key(&name) {
            diags.push(obj.diag(
                files,
                Severity::Error,
                "/metadata/name",
                format!(
                    "{} `{}` is defined twice; the second is skipped",
                    obj.kind, obj.name
                ),
            ));
            continue;
        }
        let spec = obj.spec();
        let mut svc = Service {
            namespace: obj.namespace.clone(),
            provenance: Some(obj.provenance(files)),
            ..Service::default()
        };
        match obj.kind {
            "DaemonSet" => diags.push(obj.diag(
                files,
                Severity::Info,
                "/spec",
                "a DaemonSet runs one pod per node; replicas left unset (the node count is not in the manifest)".into(),
            )),
            _ => match spec.and_then(|s| s.get("replicas")) {
                None => svc.replicas = Some(1),
                Some(Value::Number(n)) => match n.as_u64().and_then(|r| u32::try_from(r).ok()) {
                    Some(r) => svc.replicas = Some(r),
                    None => diags.push(obj.diag(
                        files,
                        Severity::Warning,
                        "/spec/replicas",
                        "replicas is not a whole number; left unset".into(),
                    )),
                },
                Some(_) => diags.push(obj.diag(
                    files,
                    Severity::Warning,
                    "/spec/replicas",
                    "replicas is not a number; left unset".into(),
                )),
            },
        }
        let labels = labels_of(spec.and_then(|s| s.pointer("/template/metadata/labels")));
        for (k, v) in &labels {
            svc.tags.push(format!("{k}={v}"));
        }
        let main = containers(spec, "containers");
        if main.is_empty() {
            diags.push(obj.diag(
                files,
                Severity::Warning,
                "/spec/template/spec",
                format!("{} `{}` has no containers", obj.kind, obj.name),
            ));
        }
        let (mut cpu, mut mem, mut any_cpu, mut any_mem) = (0.0, 0u64, false, false);
        for (i, c) in &main {
            let here = format!("/spec/template/spec/containers/{i}");
            if *i == 0
                && let Some(image) = str_at(c, "image")
            {
                svc.version = image_tag(image).map(str::to_owned);
                svc.kind = kind_from_image(image);
            }
            if let Some(req) = c.pointer("/resources/requests") {
                if let Some(q) = req.get("cpu") {
                    match cpu_cores(q) {
                        Some(x) => {
                            cpu += x;
                            any_cpu = true;
                        }
                        None => diags.push(obj.diag(
                            files,
                            Severity::Warning,
                            &format!("{here}/resources/requests/cpu"),
                            "not a CPU quantity; ignored".into(),
                        )),
                    }
                }
                if let Some(q) = req.get("memory") {
                    match memory_bytes(q) {
                        Some(x) => {
                            mem = mem.saturating_add(x);
                            any_mem = true;
                        }
                        None => diags.push(obj.diag(
                            files,
                            Severity::Warning,
                            &format!("{here}/resources/requests/memory"),
                            "not a memory quantity; ignored".into(),
                        )),
                    }
                }
            }
            for (j, p) in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                match p
                    .get("containerPort")
                    .and_then(Value::as_u64)
                    .and_then(|x| u16::try_from(x).ok())
                    .filter(|x| *x > 0)
                {
                    Some(port) => push_unique(
                        &mut svc.ports,
                        ServicePort {
                            port,
                            protocol: protocol_of(p.get("protocol")),
                            name: str_at(p, "name").map(str::to_owned),
                        },
                    ),
                    None => diags.push(obj.diag(
                        files,
                        Severity::Warning,
                        &format!("{here}/ports/{j}"),
                        "containerPort is not a port number; ignored".into(),
                    )),
                }
            }
        }
        if any_cpu || any_mem {
            svc.resources = Some(doppel_model::Resources {
                cpu: any_cpu.then_some((cpu * 1e6).round() / 1e6),
                memory: any_mem.then_some(Bytes::new(mem)),
            });
        }
        svc.endpoints.insert(
            "default".into(),
            Endpoint {
                service_time: placeholder_service_time(),
                calls: Vec::new(),
            },
        );
        svc.tags.push(PLACEHOLDER_TAG.into());
        diags.push(obj.diag(
            files,
            Severity::Warning,
            "",
            format!("service `{name}` gets one endpoint `default` with a placeholder service time (exponential, mean 10ms); calibrate it from traces (`doppel import otlp|jaeger`)"),
        ));
        twin.services.insert(name.clone(), svc);
        workloads.push(Workload {
            obj,
            service: name,
            labels,
        });
    }

    // Kubernetes Services: name → the twin services they select.
    let mut k8s_services: Vec<(&Obj<'_>, Vec<String>)> = Vec::new();
    for obj in objects.iter().filter(|o| o.kind == "Service") {
        let selector = obj.spec().and_then(|s| s.get("selector"));
        let targets: Vec<String> = match selector {
            Some(sel) if sel.as_object().is_some_and(|m| !m.is_empty()) => workloads
                .iter()
                .filter(|w| same_ns(&w.obj.namespace, &obj.namespace) && selects(sel, &w.labels))
                .map(|w| w.service.clone())
                .collect(),
            _ => Vec::new(),
        };
        if targets.is_empty() {
            diags.push(obj.diag(
                files,
                Severity::Info,
                "/spec",
                format!("Service `{}` selects no workload in the input", obj.name),
            ));
        }
        let ty = obj
            .spec()
            .and_then(|s| str_at(s, "type"))
            .unwrap_or("ClusterIP");
        if matches!(ty, "LoadBalancer" | "NodePort") {
            let ports: Vec<u16> = obj
                .spec()
                .and_then(|s| s.get("ports"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let key = if ty == "NodePort" { "nodePort" } else { "port" };
                    p.get(key)
                        .or_else(|| p.get("port"))
                        .and_then(Value::as_u64)
                        .and_then(|x| u16::try_from(x).ok())
                        .filter(|x| *x > 0)
                })
                .collect();
            for t in &targets {
                if let Some(svc) = twin.services.get_mut(t) {
                    let sec = svc.security.get_or_insert_with(SecurityFacts::default);
                    for &port in &ports {
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
            }
        }
        k8s_services.push((obj, targets));
    }

    let service_targets = |host: &str, ns: &Option<String>| -> Option<Vec<String>> {
        // `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`.
        let mut labels = host.split('.');
        let first = labels.next()?;
        let host_ns = labels.next().map(str::to_owned);
        let rest: Vec<&str> = labels.collect();
        if !(rest.is_empty() || rest.first() == Some(&"svc")) {
            return None;
        }
        let want_ns = host_ns.or_else(|| ns.clone());
        k8s_services
            .iter()
            .find(|(o, _)| o.name == first && same_ns(&o.namespace, &want_ns))
            .map(|(_, t)| t.clone())
    };

    // Dependencies from env vars.
    for w in &workloads {
        let spec = w.obj.spec();
        let mut targets: Vec<String> = Vec::new();
        for key in ["initContainers", "containers"] {
            for (i, c) in containers(spec, key) {
                for (j, e) in c
                    .get("env")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let here = format!("/spec/template/spec/{key}/{i}/env/{j}");
                    let Some(var) = str_at(e, "name") else {
                        continue;
                    };
                    let Some(value) = str_at(e, "value") else {
                        continue;
                    };
                    if is_secret_name(var) {
                        continue;
                    }
                    // Only the host is kept; credentials in a URL are dropped with the rest.
                    let Some(host) = env_host(var, value) else {
                        continue;
                    };
                    if looks_like_secret(&host) {
                        continue;
                    }
                    match service_targets(&host, &w.obj.namespace) {
                        Some(ts) if ts.is_empty() => diags.push(w.obj.diag(
                            files,
                            Severity::Info,
                            &format!("{here}/value"),
                            format!("env {var} names Service `{host}`, which selects no workload; no call inferred"),
                        )),
                        Some(ts) => {
                            for t in ts {
                                if t != w.service {
                                    push_unique(&mut targets, t);
                                }
                            }
                        }
                        None => diags.push(w.obj.diag(
                            files,
                            Severity::Info,
                            &format!("{here}/value"),
                            format!("env {var} names `{host}`, which is no Service in the input; no call inferred"),
                        )),
                    }
                }
            }
        }
        if let Some(svc) = twin.services.get_mut(&w.service) {
            for t in &targets {
                svc.tags.push(format!("inferred-call:{t}"));
            }
            if let Some(ep) = svc.endpoints.get_mut("default") {
                ep.calls = targets
                    .iter()
                    .map(|t| CallStep::Call(text::call(t, None, 1.0)))
                    .collect();
            }
        }
    }

    ingresses(files, objects, &k8s_services, &mut twin, diags);
    scaling_tags(files, objects, &workloads, &mut twin, diags);
    network_policies(files, objects, &workloads, &mut twin, diags);
    twin
}

/// The host an env var names, if it is an address-like variable or a URL.
fn env_host(var: &str, value: &str) -> Option<String> {
    let upper = var.to_ascii_uppercase();
    let addressy = [
        "_ADDR",
        "_ADDRESS",
        "_HOST",
        "_HOSTNAME",
        "_URL",
        "_URI",
        "_ENDPOINT",
        "_SERVER",
        "_SERVICE",
        "_DSN",
    ]
    .iter()
    .any(|s| upper.ends_with(s));
    let value = value.trim();
    let authority = if let Some((_, rest)) = value.split_once("://") {
        rest.split(['/', '?', '#']).next()?
    } else if addressy {
        value.split(['/', '?', '#']).next()?
    } else {
        return None;
    };
    // Drop credentials, then a port.
    let hostport = authority.rsplit('@').next()?;
    let host = if hostport.starts_with('[') {
        return None; // an IPv6 literal is no Service name
    } else {
        hostport.split(':').next()?
    };
    let host = host.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !host.chars().all(|c| c.is_ascii_digit() || c == '.');
    valid.then_some(host)
}

fn ingresses(
    files: &[YamlFile<'_>],
    objects: &[Obj<'_>],
    k8s_services: &[(&Obj<'_>, Vec<String>)],
    twin: &mut Twin,
    diags: &mut Vec<Diagnostic>,
) {
    for obj in objects.iter().filter(|o| o.kind == "Ingress") {
        let spec = obj.spec();
        let mut backends: Vec<(String, String)> = Vec::new();
        let mut add = |b: &Value, at: String| {
            let svc = b
                .pointer("/service/name")
                .or_else(|| b.get("serviceName"))
                .and_then(Value::as_str);
            if let Some(s) = svc {
                push_unique(&mut backends, (s.to_owned(), at));
            }
        };
        if let Some(b) = spec.and_then(|s| s.get("defaultBackend").or_else(|| s.get("backend"))) {
            add(b, "/spec/defaultBackend".into());
        }
        for (r, rule) in spec
            .and_then(|s| s.get("rules"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (p, path) in rule
                .pointer("/http/paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(b) = path.get("backend") {
                    add(b, format!("/spec/rules/{r}/http/paths/{p}/backend"));
                }
            }
        }
        let mut calls: Vec<String> = Vec::new();
        for (backend, at) in &backends {
            let found = k8s_services
                .iter()
                .find(|(o, _)| &o.name == backend && same_ns(&o.namespace, &obj.namespace));
            match found {
                Some((_, targets)) if !targets.is_empty() => {
                    for t in targets {
                        push_unique(&mut calls, t.clone());
                    }
                }
                _ => diags.push(obj.diag(
                    files,
                    Severity::Warning,
                    at,
                    format!(
                        "backend Service `{backend}` is not in the input or selects no workload"
                    ),
                )),
            }
        }
        let mut name = text::name(&obj.name);
        if twin.services.contains_key(&name) {
            name = format!("{name}-ingress");
        }
        let tls = spec
            .and_then(|s| s.get("tls"))
            .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()));
        let mut exposed = vec![Exposure {
            port: 80,
            protocol: Protocol::Tcp,
            to: vec!["internet".into()],
        }];
        if tls {
            exposed.push(Exposure {
                port: 443,
                protocol: Protocol::Tcp,
                to: vec!["internet".into()],
            });
        }
        let svc = Service {
            kind: ServiceKind::Gateway,
            namespace: obj.namespace.clone(),
            endpoints: IndexMap::from([(
                "default".to_owned(),
                Endpoint {
                    service_time: placeholder_service_time(),
                    calls: calls
                        .iter()
                        .map(|t| {
                            CallStep::Call(text::call(t, None, 1.0 / calls.len().max(1) as f64))
                        })
                        .collect(),
                },
            )]),
            tags: vec![PLACEHOLDER_TAG.into()],
            security: Some(SecurityFacts {
                exposed,
                ..SecurityFacts::default()
            }),
            provenance: Some(obj.provenance(files)),
            ..Service::default()
        };
        diags.push(obj.diag(
            files,
            Severity::Warning,
            "",
            format!("gateway `{name}`: each request is assumed to go to one of its {} backends with equal probability, with a placeholder service time; calibrate from traces", calls.len()),
        ));
        twin.services.insert(name, svc);
    }
}

fn target_of<'a>(
    obj: &Obj<'_>,
    workloads: &'a [Workload<'_, '_>],
    kind: Option<&str>,
    name: &str,
) -> Option<&'a Workload<'a, 'a>> {
    workloads.iter().find(|w| {
        w.obj.name == name
            && kind.is_none_or(|k| k == w.obj.kind)
            && same_ns(&w.obj.namespace, &obj.namespace)
    })
}

fn scaling_tags(
    files: &[YamlFile<'_>],
    objects: &[Obj<'_>],
    workloads: &[Workload<'_, '_>],
    twin: &mut Twin,
    diags: &mut Vec<Diagnostic>,
) {
    for obj in objects
        .iter()
        .filter(|o| o.kind == "HorizontalPodAutoscaler")
    {
        let spec = obj.spec();
        let kind = spec
            .and_then(|s| s.pointer("/scaleTargetRef/kind"))
            .and_then(Value::as_str);
        let name = spec
            .and_then(|s| s.pointer("/scaleTargetRef/name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(w) = target_of(obj, workloads, kind, name) else {
            diags.push(obj.diag(
                files,
                Severity::Warning,
                "/spec/scaleTargetRef",
                format!("scale target `{name}` is not a workload in the input"),
            ));
            continue;
        };
        let Some(svc) = twin.services.get_mut(&w.service) else {
            continue;
        };
        let min = spec
            .and_then(|s| s.get("minReplicas"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        push_unique(&mut svc.tags, format!("hpa-min={min}"));
        if let Some(max) = spec
            .and_then(|s| s.get("maxReplicas"))
            .and_then(Value::as_u64)
        {
            push_unique(&mut svc.tags, format!("hpa-max={max}"));
        }
        diags.push(obj.diag(
            files,
            Severity::Info,
            "/spec",
            format!(
                "the twin has no autoscaling model; HPA bounds recorded as tags on `{}`",
                w.service
            ),
        ));
    }
    for obj in objects.iter().filter(|o| o.kind == "PodDisruptionBudget") {
        let spec = obj.spec();
        let sel = spec.and_then(|s| s.get("selector"));
        let hits: Vec<&Workload<'_, '_>> = workloads
            .iter()
            .filter(|w| {
                same_ns(&w.obj.namespace, &obj.namespace)
                    && sel.is_some_and(|s| selects(s, &w.labels))
            })
            .collect();
        if hits.is_empty() {
            diags.push(obj.diag(
                files,
                Severity::Warning,
                "/spec/selector",
                "the budget selects no workload in the input".into(),
            ));
        }
        for key in ["minAvailable", "maxUnavailable"] {
            let Some(v) = spec.and_then(|s| s.get(key)) else {
                continue;
            };
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let tag_key = if key == "minAvailable" {
                "pdb-min-available"
            } else {
                "pdb-max-unavailable"
            };
            for w in &hits {
                if let Some(svc) = twin.services.get_mut(&w.service) {
                    push_unique(&mut svc.tags, format!("{tag_key}={text}"));
                }
            }
        }
    }
}

fn network_policies(
    files: &[YamlFile<'_>],
    objects: &[Obj<'_>],
    workloads: &[Workload<'_, '_>],
    twin: &mut Twin,
    diags: &mut Vec<Diagnostic>,
) {
    for obj in objects.iter().filter(|o| o.kind == "NetworkPolicy") {
        let spec = obj.spec();
        let select = |sel: &Value| -> Vec<String> {
            workloads
                .iter()
                .filter(|w| same_ns(&w.obj.namespace, &obj.namespace) && selects(sel, &w.labels))
                .map(|w| format!("service:{}", w.service))
                .collect()
        };
        let empty = Value::Object(serde_json::Map::new());
        let applies_to = select(spec.and_then(|s| s.get("podSelector")).unwrap_or(&empty));
        if applies_to.is_empty() {
            diags.push(obj.diag(
                files,
                Severity::Warning,
                "/spec/podSelector",
                "the policy selects no workload in the input; skipped".into(),
            ));
            continue;
        }
        let types: Vec<&str> = spec
            .and_then(|s| s.get("policyTypes"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut policy = NetworkPolicy {
            applies_to,
            provenance: Some(obj.provenance(files)),
            ..NetworkPolicy::default()
        };
        for (dir, key, peers_key) in [("Ingress", "ingress", "from"), ("Egress", "egress", "to")] {
            let rules = spec.and_then(|s| s.get(key)).and_then(Value::as_array);
            let applies =
                types.contains(&dir) || (types.is_empty() && (dir == "Ingress" || rules.is_some()));
            if !applies {
                continue;
            }
            let mut out = Vec::new();
            for (r, rule) in rules.into_iter().flatten().enumerate() {
                let at = format!("/spec/{key}/{r}");
                let mut peers: Vec<String> = Vec::new();
                match rule.get(peers_key).and_then(Value::as_array) {
                    None => peers.push("any".into()),
                    Some(list) if list.is_empty() => peers.push("any".into()),
                    Some(list) => {
                        for (p, peer) in list.iter().enumerate() {
                            if let Some(cidr) =
                                peer.pointer("/ipBlock/cidr").and_then(Value::as_str)
                            {
                                if cidr.parse::<ipnet::IpNet>().is_ok() {
                                    push_unique(&mut peers, cidr.to_owned());
                                    if peer.pointer("/ipBlock/except").is_some() {
                                        diags.push(obj.diag(files, Severity::Warning, &format!("{at}/{peers_key}/{p}/ipBlock/except"), "`except` ranges are not modelled; the whole block is allowed".into()));
                                    }
                                } else {
                                    diags.push(obj.diag(
                                        files,
                                        Severity::Warning,
                                        &format!("{at}/{peers_key}/{p}/ipBlock/cidr"),
                                        "not a CIDR; ignored".into(),
                                    ));
                                }
                            } else if peer.get("namespaceSelector").is_some() {
                                push_unique(&mut peers, "any".into());
                                diags.push(obj.diag(
                                    files,
                                    Severity::Info,
                                    &format!("{at}/{peers_key}/{p}"),
                                    "namespace selectors are not modelled; read as `any`".into(),
                                ));
                            } else if let Some(sel) = peer.get("podSelector") {
                                let hit = select(sel);
                                if hit.is_empty() {
                                    diags.push(obj.diag(
                                        files,
                                        Severity::Warning,
                                        &format!("{at}/{peers_key}/{p}/podSelector"),
                                        "selects no workload in the input".into(),
                                    ));
                                }
                                for h in hit {
                                    push_unique(&mut peers, h);
                                }
                            }
                        }
                    }
                }
                let mut ports = Vec::new();
                let mut protocol = Protocol::Tcp;
                for (q, port) in rule
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    protocol = protocol_of(port.get("protocol"));
                    let n = port
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|x| u16::try_from(x).ok());
                    let end = port
                        .get("endPort")
                        .and_then(Value::as_u64)
                        .and_then(|x| u16::try_from(x).ok());
                    match (n, end) {
                        (Some(a), Some(b)) if b > a => ports.push(PortRange::Range(format!("{a}-{b}"))),
                        (Some(a), _) if a > 0 => ports.push(PortRange::Port(a)),
                        _ => diags.push(obj.diag(files, Severity::Warning, &format!("{at}/ports/{q}"), "named or missing ports are not resolved; this port entry is ignored".into())),
                    }
                }
                if peers.is_empty() {
                    continue;
                }
                out.push(PolicyRule {
                    peers,
                    ports,
                    protocol,
                });
            }
            if dir == "Ingress" {
                policy.ingress = Some(out);
            } else {
                policy.egress = Some(out);
            }
        }
        let mut name = text::name(&obj.name);
        if let Some(ns) = &obj.namespace
            && twin.network_policies.contains_key(&name)
        {
            name = text::name(&format!("{}.{ns}", obj.name));
        }
        twin.network_policies.insert(name, policy);
    }
}

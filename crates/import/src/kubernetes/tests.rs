//! Tests of the Kubernetes importer against the published Online Boutique manifests and a
//! hand-written sample of the other kinds.

use std::collections::BTreeSet;

use doppel_model::{CallStep, Protocol, ServiceKind};

use crate::{Input, Severity, Source, import};

fn read(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read(path).unwrap()
}

fn calls_of(svc: &doppel_model::Service) -> BTreeSet<String> {
    svc.endpoints
        .values()
        .flat_map(|e| e.calls.iter().flat_map(CallStep::calls))
        .map(|c| c.service.clone())
        .collect()
}

#[test]
fn online_boutique_yields_its_twelve_deployments_and_sixteen_dependencies() {
    let bytes = read("k8s/online-boutique.kubernetes-manifests.yaml");
    let r = import(
        Source::Kubernetes,
        &[Input {
            name: "boutique.yaml",
            bytes: &bytes,
        }],
    );
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    // The 12 Deployments of release/kubernetes-manifests.yaml, read off the file.
    let names: BTreeSet<&str> = r.delta.services.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "adservice",
        "cartservice",
        "checkoutservice",
        "currencyservice",
        "emailservice",
        "frontend",
        "loadgenerator",
        "paymentservice",
        "productcatalogservice",
        "recommendationservice",
        "redis-cart",
        "shippingservice",
    ]
    .into();
    assert_eq!(names, expected);

    // The env vars of the manifest, edge by edge (SHOPPING_ASSISTANT_SERVICE_ADDR names a
    // Service the file does not define, so it yields nothing).
    let expected_edges: BTreeSet<(&str, &str)> = [
        ("frontend", "productcatalogservice"),
        ("frontend", "currencyservice"),
        ("frontend", "cartservice"),
        ("frontend", "recommendationservice"),
        ("frontend", "shippingservice"),
        ("frontend", "checkoutservice"),
        ("frontend", "adservice"),
        ("cartservice", "redis-cart"),
        ("loadgenerator", "frontend"),
        ("recommendationservice", "productcatalogservice"),
        ("checkoutservice", "productcatalogservice"),
        ("checkoutservice", "shippingservice"),
        ("checkoutservice", "paymentservice"),
        ("checkoutservice", "emailservice"),
        ("checkoutservice", "currencyservice"),
        ("checkoutservice", "cartservice"),
    ]
    .into();
    assert_eq!(expected_edges.len(), 16);
    let mut edges = BTreeSet::new();
    for (name, svc) in &r.delta.services {
        for target in calls_of(svc) {
            edges.insert((name.clone(), target.clone()));
            assert!(
                svc.tags.contains(&format!("inferred-call:{target}")),
                "{name} → {target} not marked inferred"
            );
        }
    }
    let got: BTreeSet<(&str, &str)> = edges
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(got, expected_edges);
    assert_eq!(calls_of(&r.delta.services["checkoutservice"]).len(), 6);
    assert!(r.diagnostics.iter().any(|d| d.severity == Severity::Info
        && d.message.contains("SHOPPING_ASSISTANT_SERVICE_ADDR")
        && d.message.contains("no Service")));

    // Fields of the frontend Deployment, as written in the manifest.
    let fe = &r.delta.services["frontend"];
    assert_eq!(fe.replicas, Some(1));
    assert_eq!(fe.version.as_deref(), Some("v0.10.6"));
    let res = fe.resources.as_ref().unwrap();
    assert_eq!(res.cpu, Some(0.1));
    assert_eq!(res.memory.map(|m| m.get()), Some(64 * 1024 * 1024));
    assert_eq!(fe.ports.len(), 1);
    assert_eq!(fe.ports[0].port, 8080);
    // frontend-external is a LoadBalancer on port 80.
    let exposed = &fe.security.as_ref().unwrap().exposed;
    assert_eq!(
        (exposed[0].port, exposed[0].to.clone()),
        (80, vec!["internet".to_owned()])
    );
    assert_eq!(r.delta.services["redis-cart"].kind, ServiceKind::Cache);
    assert_eq!(
        r.delta.services["redis-cart"].version.as_deref(),
        Some("alpine")
    );
    assert_eq!(
        fe.provenance.as_ref().and_then(|p| p.reference.as_deref()),
        Some("Deployment/frontend")
    );
    // Every endpoint is a placeholder, and says so.
    let placeholders = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning && d.message.contains("placeholder"))
        .count();
    assert_eq!(placeholders, 12);
    // The warning points at the Deployment's document: frontend starts on line 21.
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.message.starts_with("service `frontend`"))
        .unwrap();
    assert_eq!((d.line, d.col), (21, 1));
}

#[test]
fn other_kinds_and_secrets() {
    let bytes = read("k8s/extras.yaml");
    let r = import(
        Source::Kubernetes,
        &[Input {
            name: "extras.yaml",
            bytes: &bytes,
        }],
    );
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let db = &r.delta.services["orders-db"];
    assert_eq!(db.kind, ServiceKind::Database);
    assert_eq!(db.replicas, Some(3));
    assert_eq!(db.version.as_deref(), Some("16.3"));
    assert_eq!(db.namespace.as_deref(), Some("shop"));
    // 2 + 0.25 cores, 4Gi + 128Mi.
    let res = db.resources.as_ref().unwrap();
    assert_eq!(res.cpu, Some(2.25));
    assert_eq!(
        res.memory.map(|m| m.get()),
        Some(4 * 1024 * 1024 * 1024 + 128 * 1024 * 1024)
    );
    assert_eq!(
        db.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
        vec![5432, 9187]
    );
    assert!(db.tags.contains(&"pdb-min-available=2".to_owned()));

    let orders = &r.delta.services["orders"];
    // The DATABASE_URL's host is a Service (its password is dropped); CACHE_HOST is not.
    assert_eq!(calls_of(orders), BTreeSet::from(["orders-db".to_owned()]));
    assert!(orders.tags.contains(&"hpa-min=2".to_owned()));
    assert!(orders.tags.contains(&"hpa-max=10".to_owned()));

    let agent = &r.delta.services["node-agent"];
    assert_eq!(agent.replicas, None);
    assert_eq!(agent.version, None, "a digest is not a version");

    let gw = &r.delta.services["shop-web"];
    assert_eq!(gw.kind, ServiceKind::Gateway);
    assert_eq!(calls_of(gw), BTreeSet::from(["orders".to_owned()]));
    let ports: Vec<u16> = gw
        .security
        .as_ref()
        .unwrap()
        .exposed
        .iter()
        .map(|e| e.port)
        .collect();
    assert_eq!(ports, vec![80, 443]);

    let pol = &r.delta.network_policies["orders-db-ingress"];
    assert_eq!(pol.applies_to, vec!["service:orders-db"]);
    assert!(pol.egress.is_none());
    let rules = pol.ingress.as_ref().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].peers, vec!["service:orders", "10.20.0.0/16"]);
    assert_eq!(rules[0].ports, vec![doppel_model::PortRange::Port(5432)]);
    assert_eq!(rules[0].protocol, Protocol::Tcp);

    // The Secret is skipped with a note; no value of the file's secrets is anywhere.
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.starts_with("Secret `orders-secrets`"))
    );
    let everything = format!(
        "{}\n{}",
        serde_json::to_string(&r.delta).unwrap(),
        r.diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for secret in [
        "Sup3rS3cretPassw0rd!",
        "Expo7erPa55",
        "Ord3rsDbPa55",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn quantities_and_images() {
    use super::{cpu_cores, env_host, image_tag, memory_bytes};
    use serde_json::json;
    assert_eq!(cpu_cores(&json!("100m")), Some(0.1));
    assert_eq!(cpu_cores(&json!(2)), Some(2.0));
    assert_eq!(cpu_cores(&json!("lots")), None);
    assert_eq!(memory_bytes(&json!("1Gi")), Some(1 << 30));
    assert_eq!(memory_bytes(&json!("129e6")), Some(129_000_000));
    assert_eq!(memory_bytes(&json!("128M")), Some(128_000_000));
    assert_eq!(image_tag("localhost:5000/app:1.2"), Some("1.2"));
    assert_eq!(image_tag("localhost:5000/app"), None);
    assert_eq!(image_tag("busybox:1.38.0@sha256:fd8d"), Some("1.38.0"));
    assert_eq!(
        env_host("CART_SERVICE_ADDR", "cartservice:7070").as_deref(),
        Some("cartservice")
    );
    assert_eq!(
        env_host("X", "http://u:p@api.shop.svc:80/x").as_deref(),
        Some("api.shop.svc")
    );
    assert_eq!(env_host("PORT", "8080"), None);
    assert_eq!(env_host("DB_HOST", "10.0.0.5"), None);
}

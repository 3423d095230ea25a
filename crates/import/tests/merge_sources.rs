//! Importing several sources and merging them: Kubernetes placeholders calibrated by traces,
//! Terraform hosts matched by address with Ansible's, disagreements reported as conflicts.

use std::path::PathBuf;

use doppel_import::{Input, Source, import, merge};
use doppel_model::Twin;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("test_data")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn valid(twin: &Twin) {
    let json = serde_json::to_string(twin).expect("serialises");
    let loaded = doppel_model::load_str("merged.json", &json);
    let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The services of `jaeger/shop_jaeger.json`, deployed: frontend reaches cart and
/// recommendation by env vars, cart reaches redis.
const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: frontend
        image: shop/frontend:1.0
        env:
        - {name: CART_ADDR, value: "cart:7070"}
        - {name: RECOMMENDATION_ADDR, value: "recommendation:8080"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - {name: cart, image: "shop/cart:2.1", env: [{name: REDIS_ADDR, value: "redis:6379"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: recommendation}
spec:
  template:
    metadata: {labels: {app: recommendation}}
    spec:
      containers: [{name: rec, image: "shop/rec:0.9"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: "redis:7.2"}]
---
apiVersion: v1
kind: Service
metadata: {name: cart}
spec: {selector: {app: cart}, ports: [{port: 7070}]}
---
apiVersion: v1
kind: Service
metadata: {name: recommendation}
spec: {selector: {app: recommendation}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: redis}
spec: {selector: {app: redis}, ports: [{port: 6379}]}
"#;

#[test]
fn traces_calibrate_the_placeholders_of_manifests() {
    let k8s = import(
        Source::Kubernetes,
        &[Input {
            name: "shop.yaml",
            bytes: MANIFEST.as_bytes(),
        }],
    );
    assert!(!k8s.has_errors(), "{:#?}", k8s.diagnostics);
    let traces_bytes = data("jaeger/shop_jaeger.json");
    let traces = import(
        Source::Jaeger,
        &[Input {
            name: "traces.json",
            bytes: &traces_bytes,
        }],
    );
    let (twin, conflicts) = merge(&merge(&Twin::default(), &k8s.delta).0, &traces.delta);
    assert!(conflicts.is_empty(), "{conflicts:#?}");
    valid(&twin);
    // Replicas and versions from Kubernetes, endpoints from traces.
    let cart = &twin.services["cart"];
    assert_eq!(cart.replicas, Some(3));
    assert_eq!(cart.version.as_deref(), Some("2.1"));
    assert_eq!(cart.endpoints.keys().collect::<Vec<_>>(), ["GetCart"]);
    assert!(!cart.tags.iter().any(|t| t == "placeholder-endpoints"));
    assert!(cart.tags.contains(&"error-rate.GetCart=0.25".to_owned()));
    assert_eq!(
        twin.services["redis"].endpoints.keys().collect::<Vec<_>>(),
        ["default"]
    );
    assert!(twin.workloads.contains_key("observed.frontend.GET-cart"));
    // The other order gives the same endpoints: traces win over placeholders either way.
    let (other, _) = merge(&merge(&Twin::default(), &traces.delta).0, &k8s.delta);
    assert_eq!(other.services["cart"].endpoints, cart.endpoints);
    // Re-importing changes nothing.
    let (again, c2) = merge(&twin, &traces.delta);
    assert!(c2.is_empty());
    assert_eq!(again, twin);
}

#[test]
fn hosts_match_across_sources_and_disagreements_are_reported() {
    let tf_bytes = data("terraform/shop.show-state.json");
    let tf = import(
        Source::Terraform,
        &[Input {
            name: "state.json",
            bytes: &tf_bytes,
        }],
    );
    // web01 is web-1 under the name the inventory uses: same private address.
    let inventory = b"[web]\nweb01 ansible_host=10.0.1.10\nweb02 ansible_host=10.0.1.11\n";
    let ans = import(
        Source::Ansible,
        &[Input {
            name: "hosts.ini",
            bytes: inventory,
        }],
    );
    let (twin, conflicts) = merge(&merge(&Twin::default(), &tf.delta).0, &ans.delta);
    assert!(conflicts.is_empty(), "{conflicts:#?}");
    valid(&twin);
    assert!(!twin.hosts.contains_key("web01"));
    let h = &twin.hosts["web-1"];
    assert_eq!(
        h.cores, 2.0,
        "Ansible's unknown cores do not override Terraform's"
    );
    assert!(h.tags.contains(&"ansible-group=web".to_owned()));
    assert!(h.tags.contains(&"instance-type=t3.large".to_owned()));
    assert_eq!(
        h.provenance.as_ref().map(|p| p.source.as_str()),
        Some("terraform")
    );

    // NetBox says web-1 has 8 vCPUs; Terraform's t3.large has 2: a conflict, base kept.
    let nb = br#"{"results": [{"id": 9, "name": "web-1", "vcpus": 8, "memory": 8192,
        "url": "https://netbox/api/virtualization/virtual-machines/9/"}]}"#;
    let netbox = import(
        Source::Netbox,
        &[Input {
            name: "vms.json",
            bytes: nb,
        }],
    );
    let (twin2, conflicts) = merge(&twin, &netbox.delta);
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    assert_eq!(
        conflicts[0].to_string(),
        "host:web-1 /cores: terraform says 2.0, netbox says 8.0; kept 2.0"
    );
    assert_eq!(twin2.hosts["web-1"].cores, 2.0);
    assert_eq!(
        twin2.hosts["web-1"].memory.map(|m| m.get()),
        Some(8192 * 1024 * 1024),
        "memory was unknown: taken"
    );
    valid(&twin2);
}

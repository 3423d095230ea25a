//! Golden outputs (expect-test): the diagnostics a user reads, the YAML an import writes and
//! the changes `diff` lists. After an intended change, `UPDATE_EXPECT=1 cargo test -p
//! doppel-import --test golden` rewrites them; review the diff.

use std::path::PathBuf;

use doppel_import::{Input, Source, diff, import, merge, to_yaml};
use doppel_model::Twin;
use expect_test::expect;

fn run(source: Source, rel: &str) -> doppel_import::ImportResult {
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("test_data")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"));
    import(
        source,
        &[Input {
            name: rel,
            bytes: &bytes,
        }],
    )
}

fn lines(r: &doppel_import::ImportResult) -> String {
    r.diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

#[test]
fn kubernetes_diagnostics() {
    expect![[r#"
        k8s/extras.yaml:7:3: /items/0: warning: service `orders-db` gets one endpoint `default` with a placeholder service time (exponential, mean 10ms); calibrate it from traces (`doppel import otlp|jaeger`)
        k8s/extras.yaml:29:20: /items/0/spec/template/spec/containers/1/env/0/value: info: env DATA_SOURCE_NAME names `localhost`, which is no Service in the input; no call inferred
        k8s/extras.yaml:32:3: /items/1: warning: service `orders` gets one endpoint `default` with a placeholder service time (exponential, mean 10ms); calibrate it from traces (`doppel import otlp|jaeger`)
        k8s/extras.yaml:50:39: /items/1/spec/template/spec/containers/0/env/4/value: info: env CACHE_HOST names `session-cache`, which is no Service in the input; no call inferred
        k8s/extras.yaml:55:3: /items/2: warning: service `node-agent` gets one endpoint `default` with a placeholder service time (exponential, mean 10ms); calibrate it from traces (`doppel import otlp|jaeger`)
        k8s/extras.yaml:59:5: /items/2/spec: info: a DaemonSet runs one pod per node; replicas left unset (the node count is not in the manifest)
        k8s/extras.yaml:77:3: /items/5: info: Secret `orders-secrets` is not imported (the twin has nothing it maps to)
        k8s/extras.yaml:82:3: /items/6: warning: gateway `shop-web`: each request is assumed to go to one of its 1 backends with equal probability, with a placeholder service time; calibrate from traces
        k8s/extras.yaml:98:5: /items/7/spec: info: the twin has no autoscaling model; HPA bounds recorded as tags on `orders`
    "#]].assert_eq(&lines(&run(Source::Kubernetes, "k8s/extras.yaml")));
}

#[test]
fn terraform_diagnostics() {
    expect![[r#"
        terraform/shop.show-state.json:205:30: /values/root_module/resources/7/values/instance_type: info: cores estimated from the instance type as 2 vCPUs
        terraform/shop.show-state.json:378:21: /values/root_module/resources/15/values: info: autoscaling group `shop-workers` becomes a service of 3 replicas without endpoints (what its instances run is not in Terraform)
        terraform/shop.show-state.json:400:21: /values/root_module/resources/16/values: info: resource type `aws_iam_access_key` is not imported (`aws_iam_access_key.deploy`)
        terraform/shop.show-state.json:418:21: /values/root_module/resources/17/values: info: resource type `random_password` is not imported (`random_password.db`)
    "#]].assert_eq(&lines(&run(
        Source::Terraform,
        "terraform/shop.show-state.json",
    )));
}

#[test]
fn traces_as_yaml() {
    let r = run(Source::Jaeger, "jaeger/shop_jaeger.json");
    expect![[r##"
        # traces
        doppel: 1
        services:
          cart:
            endpoints:
              GetCart:
                service_time:
                  dist: lognormal
                  mean: 21ms
                  p99: 26ms
                calls:
                  - service: redis
                    endpoint: default
                  - service: redis
                    endpoint: default
                    probability: 0.25
            tags:
              - error-rate.GetCart=0.25
              - request-rate.GetCart=1.299/s
            provenance:
              source: jaeger
              file: jaeger/shop_jaeger.json
              ref: service.name=cart
              observed_at: "2025-11-28T00:00:00Z"
          frontend:
            endpoints:
              GET-cart:
                service_time:
                  dist: lognormal
                  mean: 62.5ms
                  p99: 70ms
                calls:
                  - parallel:
                      - service: cart
                        endpoint: GetCart
                      - service: recommendation
                        endpoint: ListRecs
                        probability: 0.25
            tags:
              - request-rate.GET-cart=1.299/s
            provenance:
              source: jaeger
              file: jaeger/shop_jaeger.json
              ref: service.name=frontend
              observed_at: "2025-11-28T00:00:00Z"
          recommendation:
            endpoints:
              ListRecs:
                service_time:
                  dist: constant
                  value: 46ms
            tags:
              - request-rate.ListRecs=0.3247/s
            provenance:
              source: jaeger
              file: jaeger/shop_jaeger.json
              ref: service.name=recommendation
              observed_at: "2025-11-28T00:00:02Z"
          redis:
            kind: cache
            endpoints:
              default:
                service_time:
                  dist: lognormal
                  mean: 8ms
                  p99: 10ms
            tags:
              - timed-by-callers
            provenance:
              source: jaeger
              file: jaeger/shop_jaeger.json
              ref: peer.service=redis
        workloads:
          observed.frontend.GET-cart:
            open:
              rate: 1.299/s
            flow:
              steps:
                request:
                  service: frontend
                  endpoint: GET-cart
            provenance:
              source: jaeger
              file: jaeger/shop_jaeger.json
              ref: service.name=frontend
              observed_at: "2025-11-28T00:00:00Z"
    "##]]
    .assert_eq(&to_yaml(&r.delta, Some("traces")).unwrap());
}

#[test]
fn diff_of_a_plan_merged_into_its_state() {
    let state = run(Source::Terraform, "terraform/shop.show-state.json");
    let (before, _) = merge(&Twin::default(), &state.delta);
    let plan = run(Source::Terraform, "terraform/shop.plan.json");
    let (after, conflicts) = merge(&before, &plan.delta);
    assert!(conflicts.is_empty(), "{conflicts:#?}");
    let text: String = diff(&before, &after)
        .iter()
        .map(|c| format!("{c}\n"))
        .collect();
    expect![[r#"
        + host:web-3
        + service:shop-orders-replica
    "#]]
    .assert_eq(&text);
}

//! End-to-end tests of the `doppel` binary: run it in a temporary directory like a user would
//! and compare its output and exit code with what the docs promise.
// Helpers outside #[test] functions unwrap too: a failure here is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
use common::{doppel_in as doppel, repo};

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};

fn check(dir: &Path, args: &[&str], expect: Expect) {
    let (code, stdout, stderr) = doppel(dir, args);
    expect.assert_eq(&format!("exit {code}\n{stdout}{stderr}"));
}

fn example_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("examples")];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                // What-if scenarios are not twins (crates/cli/tests/scenarios.rs runs them).
                if !p.ends_with("examples/scenarios") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    // Files another example includes are parts of a twin, not twins of their own.
    let included: Vec<PathBuf> = out
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let dir = f.parent().unwrap().to_path_buf();
            doppel_model::load_str("x.yaml", &text)
                .twin
                .include
                .into_iter()
                .map(move |i| dir.join(i))
        })
        .collect();
    out.retain(|f| !included.contains(f));
    out
}

#[test]
fn every_example_validates_without_errors() {
    let files = example_files();
    assert!(files.len() >= 3, "examples missing: {files:?}");
    for f in files {
        let (code, stdout, _) = doppel(&repo(), &["validate", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{}:\n{stdout}", f.display());
        assert!(stdout.contains("ok: "), "{stdout}");
    }
}

#[test]
fn validate_reports_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("doppel.yaml"),
        "include: [more.yaml]\nservices:\n  api:\n    endpoints:\n      get: {service_time: {dist: exponential, mean: 5}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("more.yaml"),
        "workloads:\n  w:\n    open: {rate: 5/s}\n    flow: {steps: {a: {service: apii}}}\n",
    )
    .unwrap();
    check(
        dir.path(),
        &["validate", "doppel.yaml"],
        expect![[r#"
            exit 1
            doppel.yaml:5:53: services.api.endpoints.get.service_time.mean: invalid duration `5`: expected a number and a unit: ns, us, ms, s, m or h (e.g. `250ms`)
            more.yaml:4:33: workloads.w.flow.steps.a.service: unknown service `apii` (did you mean `api`?); no such entry under `services`
        "#]],
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.yaml"),
        "services:\n  a:\n    endpoints:\n      x: {service_time: {dist: constant, value: 1ms}, calls: [{service: a, probability: 0.1}]}\n",
    )
    .unwrap();
    let (code, stdout, _) = doppel(dir.path(), &["validate", "t.yaml"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("warning: call cycle a.x → a.x"), "{stdout}");
    assert!(stdout.ends_with("1 warning\n"), "{stdout}");
    let (code, _, _) = doppel(dir.path(), &["validate", "--strict", "t.yaml"]);
    assert_eq!(code, 1);
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = doppel(dir.path(), &["validate", "nope.yaml"]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("nope.yaml:1:1: (document): cannot read file:"),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn show_minimal() {
    check(
        &repo(),
        &["show", "examples/minimal.yaml"],
        expect![[r#"
            exit 0
            minimal
            0 zones, 0 hosts, 1 service, 1 instance, 1 endpoint, 1 workload, 0 SLOs

            Services
              NAME  KIND  VERSION  INSTANCES  WORKERS  QUEUE  ENDPOINTS
              api   app   -        1          4        -      hello (exponential mean 20ms)

            Workloads
              users  open 100/s  1 step from `hello`

            Call graph
              api.hello
        "#]],
    );
}

#[test]
fn show_shop() {
    check(
        &repo(),
        &["show", "examples/shop.yaml"],
        expect![[r#"
        exit 0
        shop
        Web shop, 12 services over two zones of eu-west-1, with SLOs and security facts.
        2 zones, 14 hosts, 12 services, 22 instances, 27 endpoints, 4 workloads, 6 SLOs, 4 vulnerabilities

        Zones
          eu-west-1a  region eu-west-1  8 hosts  42 cores  11 instances
          eu-west-1b  region eu-west-1  6 hosts  38 cores  10 instances

        Services
          NAME             KIND      VERSION     INSTANCES  WORKERS  QUEUE  ENDPOINTS
          frontend         app       4.18.2      2          64       256    home (lognormal mean 12ms p99 90ms), search (lognormal mean 8ms p99 60ms), product (lognormal mean 10ms p99 70ms), add_to_cart (lognormal mean 6ms p99 40ms), cart (lognormal mean 8ms p99 50ms), checkout (lognormal mean 15ms p99 100ms)
          catalog          app       2.31.0      4          8        -      featured (exponential mean 2ms), search (exponential mean 4ms), get_product (exponential mean 1.5ms), update_product (exponential mean 5ms)
          cart             app       1.9.4       2          8        -      get (exponential mean 1.5ms), add (exponential mean 2.5ms), clear (exponential mean 1ms)
          recommendations  app       0.14.0      2          16       -      for_user (lognormal mean 40ms p99 150ms), similar (lognormal mean 20ms p99 80ms)
          checkout         app       3.2.0       2          8        -      place_order (exponential mean 6ms)
          payment          app       5.0.3       2          4        -      charge (exponential mean 4ms)
          psp              gateway   2024-04-10  1          1000     -      authorize (lognormal mean 350ms p99 1.5s)
          pg-primary       database  15.6        1          16       200    read (empirical (5 buckets)), write (empirical (5 buckets))
          pg-replica       database  15.6        1          16       200    read (empirical (5 buckets)), search (empirical (5 buckets))
          redis            cache     7.2.4       1          1        -      get (exponential mean 60us), set (exponential mean 80us)
          rabbitmq         queue     3.12.13     2          4        -      publish (exponential mean 1.2ms), deliver (exponential mean 500us)
          fulfilment       app       1.4.1       2          2        -      process_order (exponential mean 120ms)

        Workloads
          browse         open 80/s                                   5 steps from `home`
          checkout       open 2.5/s                                  2 steps from `review`
          order-events   open 2/s                                    1 step from `process`
          merchandisers  closed 4 users, think exponential mean 30s  1 step from `edit`

        SLOs
          home-latency           endpoint frontend.home     p99 < 250ms
          product-latency        endpoint frontend.product  p95 < 150ms
          frontend-availability  service frontend           availability ≥ 99.9%
          checkout-latency       workload checkout          p99 < 3s
          checkout-availability  workload checkout          availability ≥ 99.9%
          payment-availability   endpoint payment.charge    availability ≥ 99.95%

        Call graph
          frontend.home
          ├── catalog.featured  (parallel, timeout 300ms)
          │   └── redis.get
          ├── recommendations.for_user  (parallel, timeout 300ms)
          │   ├── redis.get
          │   └── pg-replica.read  (p=0.2, timeout 100ms)
          └── cart.get  (parallel, p=0.6, timeout 200ms)
              └── redis.get
          frontend.search
          └── catalog.search  (timeout 1s, retries 1)
              └── pg-replica.search  (timeout 800ms)
          frontend.product
          ├── catalog.get_product  (timeout 500ms, retries 2)
          │   ├── redis.get
          │   ├── pg-replica.read  (p=0.1, timeout 200ms)
          │   └── redis.set  (p=0.1)
          ├── recommendations.similar  (parallel, timeout 250ms)
          │   └── redis.get
          └── cart.get  (parallel, p=0.6, timeout 200ms)
              └── redis.get
          frontend.add_to_cart
          ├── catalog.get_product  (timeout 500ms)
          │   ├── redis.get
          │   ├── pg-replica.read  (p=0.1, timeout 200ms)
          │   └── redis.set  (p=0.1)
          └── cart.add  (timeout 300ms)
              ├── redis.get
              └── redis.set
          frontend.cart
          ├── cart.get  (timeout 200ms)
          │   └── redis.get
          └── catalog.get_product  (×3, timeout 500ms)
              ├── redis.get
              ├── pg-replica.read  (p=0.1, timeout 200ms)
              └── redis.set  (p=0.1)
          frontend.checkout
          └── checkout.place_order  (timeout 10s)
              ├── cart.get  (timeout 300ms, retries 2)
              │   └── redis.get
              ├── catalog.get_product  (×3, timeout 500ms)
              │   ├── redis.get
              │   ├── pg-replica.read  (p=0.1, timeout 200ms)
              │   └── redis.set  (p=0.1)
              ├── payment.charge  (timeout 8s)
              │   ├── pg-primary.write  (timeout 2s)
              │   ├── psp.authorize  (timeout 2s, retries 2)
              │   └── pg-primary.write  (timeout 2s)
              ├── pg-primary.write  (×2, timeout 2s)
              ├── rabbitmq.publish  (timeout 1s)
              └── cart.clear  (timeout 300ms)
                  └── redis.set
          fulfilment.process_order
          ├── rabbitmq.deliver
          ├── pg-primary.read  (×2)
          └── pg-primary.write
          catalog.update_product
          ├── pg-primary.write  (timeout 2s)
          └── redis.set
    "#]],
    );
}

#[test]
fn show_refuses_an_invalid_twin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.yaml"), "zones: {a: {region: r}}\n").unwrap();
    check(
        dir.path(),
        &["show", "t.yaml"],
        expect![[r#"
            exit 1
            t.yaml:1:21: zones.a.region: unknown region `r`; no such entry under `regions`
        "#]],
    );
}

#[test]
fn graph_exports_dot_and_json_with_stable_ids() {
    check(
        &repo(),
        &["graph", "examples/minimal.yaml", "--format", "json"],
        expect![[r#"
            exit 0
            {
              "nodes": [
                {
                  "id": "service:api",
                  "kind": "service",
                  "name": "api"
                },
                {
                  "id": "instance:api/api-0",
                  "kind": "instance",
                  "name": "api/api-0"
                },
                {
                  "id": "endpoint:api/hello",
                  "kind": "endpoint",
                  "name": "api/hello"
                },
                {
                  "id": "workload:users",
                  "kind": "workload",
                  "name": "users"
                }
              ],
              "edges": [
                {
                  "from": "instance:api/api-0",
                  "to": "service:api",
                  "kind": "part-of"
                },
                {
                  "from": "endpoint:api/hello",
                  "to": "service:api",
                  "kind": "part-of"
                },
                {
                  "from": "workload:users",
                  "to": "endpoint:api/hello",
                  "kind": "visits",
                  "weight": 1.0
                }
              ]
            }
        "#]],
    );
    let (code, dot, _) = doppel(&repo(), &["graph", "examples/minimal.yaml"]);
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph \"minimal\" {"), "{dot}");
    assert!(
        dot.contains("\"workload:users\" -> \"endpoint:api/hello\""),
        "{dot}"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let (code, stdout, _) = doppel(&repo(), &["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(repo().join("schema/doppel.schema.json")).unwrap();
    assert!(
        stdout == committed,
        "`doppel schema` differs from schema/doppel.schema.json"
    );
}

#[test]
fn version_help_and_completions() {
    let (code, stdout, _) = doppel(&repo(), &["--version"]);
    assert_eq!(
        (code, stdout.trim()),
        (0, concat!("doppel ", env!("CARGO_PKG_VERSION")))
    );
    let (code, stdout, _) = doppel(&repo(), &["validate", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("FILE:LINE:COL: PATH: message"), "{stdout}");
    let (code, stdout, _) = doppel(&repo(), &["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("complete -F _doppel"), "{stdout}");
    let (code, _, stderr) = doppel(&repo(), &["frobnicate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}

/// The README's `doppel validate` example is real output, kept in step by this test.
#[test]
fn readme_validate_example_is_true() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let marker = "$ doppel validate broken.yaml\n";
    let start = readme
        .find(marker)
        .expect("README shows `doppel validate broken.yaml`")
        + marker.len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let (code, stdout, _) = doppel(
        &repo().join("crates/cli/test_data"),
        &["validate", "broken.yaml"],
    );
    assert_eq!(code, 1);
    assert_eq!(stdout, shown, "README.md's validate example is out of date");
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = doppel(dir, args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn simulate_json_has_the_documented_keys() {
    let v = json(
        &repo(),
        &[
            "simulate",
            "examples/shop.yaml",
            "--format",
            "json",
            "--duration",
            "300s",
            "--warmup",
            "30s",
        ],
    );
    for key in [
        "sim_seconds",
        "wall_seconds",
        "events",
        "visits",
        "seed",
        "replications",
    ] {
        assert!(v["summary"].get(key).is_some(), "summary.{key} missing");
    }
    let w = &v["workloads"][0];
    for key in ["name", "throughput_rps", "error_rate"] {
        assert!(w.get(key).is_some(), "workloads[].{key} missing");
    }
    for key in ["mean", "p50", "p90", "p95", "p99", "max", "mean_ci95"] {
        assert!(
            w["latency_ms"].get(key).is_some(),
            "latency_ms.{key} missing"
        );
    }
    let s = &v["services"][0];
    for key in [
        "name",
        "utilization",
        "mean_in_system",
        "throughput_rps",
        "endpoints",
        "instances",
    ] {
        assert!(s.get(key).is_some(), "services[].{key} missing");
    }
    assert_eq!(v["summary"]["sim_seconds"], 300.0);
    // The shop's browse sessions arrive at 80/s (examples/shop.yaml).
    let browse = v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "browse")
        .unwrap();
    let rate = browse["throughput_rps"].as_f64().unwrap();
    assert!(
        (rate - 80.0).abs() < 80.0 * 0.05,
        "browse throughput {rate}"
    );
}

/// Same seed, same output whatever the number of threads; only the wall time differs.
#[test]
fn simulate_is_deterministic_across_threads() {
    let run = |threads: &str| {
        let mut v = json(
            &repo(),
            &[
                "simulate",
                "examples/shop.yaml",
                "--format",
                "json",
                "--duration",
                "30s",
                "--warmup",
                "5s",
                "--replications",
                "3",
                "--threads",
                threads,
            ],
        );
        v["summary"]["wall_seconds"] = serde_json::Value::Null;
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(run("1"), run("2"));
    let other_seed = {
        let mut v = json(
            &repo(),
            &[
                "simulate",
                "examples/shop.yaml",
                "--format",
                "json",
                "--duration",
                "30s",
                "--warmup",
                "5s",
                "--replications",
                "3",
                "--seed",
                "2",
            ],
        );
        v["summary"]["wall_seconds"] = serde_json::Value::Null;
        serde_json::to_string(&v).unwrap()
    };
    assert_ne!(run("1"), other_seed);
}

/// The analytic fast path gives Erlang C's published answer: λ=9/s, μ=5/s, c=2: R = 1.053 s.
#[test]
fn simulate_analytic_gives_erlang_c() {
    let v = json(
        &repo(),
        &[
            "simulate",
            "examples/queueing/mmc.yaml",
            "--analytic",
            "--format",
            "json",
        ],
    );
    let r = v["workloads"][0]["mean_latency_ms"].as_f64().unwrap();
    assert!((r - 1052.63).abs() < 0.01, "R = {r} ms");
    let (code, text, _) = doppel(
        &repo(),
        &["simulate", "examples/queueing/mmc.yaml", "--analytic"],
    );
    assert_eq!(code, 0);
    assert!(text.contains("utilization   90.0%"), "{text}");
}

#[test]
fn simulate_text_and_bad_input() {
    let (code, text, _) = doppel(
        &repo(),
        &[
            "simulate",
            "examples/minimal.yaml",
            "--duration",
            "20s",
            "--warmup",
            "2s",
        ],
    );
    assert_eq!(code, 0);
    assert!(text.starts_with("simulated 20 s (2 s warm-up)"), "{text}");
    assert!(text.contains("users"), "{text}");
    let (code, _, stderr) = doppel(
        &repo(),
        &[
            "simulate",
            "examples/minimal.yaml",
            "--duration",
            "1s",
            "--warmup",
            "2s",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("warm-up"), "{stderr}");
    let (code, _, stderr) = doppel(
        &repo(),
        &["simulate", "examples/minimal.yaml", "--duration", "ten"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid duration `ten`"), "{stderr}");
}

#[test]
fn bench_counts_station_visits() {
    let v = json(
        &repo(),
        &["bench", "tandem", "--customers", "20000", "--json"],
    );
    let visits = v[0]["visits"].as_f64().unwrap();
    // Poisson arrivals for 20,000/0.8 s: 20,000 ± 141 customers, 10 visits each, less about
    // λ·W = 0.8 × 55.56 = 44 customers still inside at the end, half-way on average (222
    // visits). Expect 199,778 with a standard deviation of about 1,414: allow 4 of them.
    assert!((visits - 199_778.0).abs() < 4.0 * 1_414.0, "{visits}");
    assert!(v[0]["visits_per_cpu_second"].as_f64().unwrap() > 0.0);
}

//! Tests of the trace importers: the published OTLP and Jaeger examples, and four hand-built
//! traces whose call graph and service times are derived by hand below.

use doppel_model::{CallStep, Distribution, Duration, ServiceKind};

use crate::{ImportResult, Input, Severity, Source, import};

fn run(source: Source, rel: &str) -> ImportResult {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    let bytes = std::fs::read(p).unwrap();
    import(
        source,
        &[Input {
            name: rel,
            bytes: &bytes,
        }],
    )
}

fn ms(x: f64) -> Duration {
    Duration::from_secs_f64(x / 1000.0)
}

/// The hand derivation, for `jaeger/shop_jaeger.json` and `otlp/shop_trace.json` (the same
/// four traces; times in ms):
///
/// | trace | frontend GET /cart | client → cart | cart GetCart | redis calls | recommendation |
/// |---|---|---|---|---|---|
/// | 1 | 0–100 | 10–50 | 12–48 | 20–30 | |
/// | 2 | 0–100 | 10–40 | 12–38 | 15–20, 25–30 | |
/// | 3 | 0–120 | 10–50 | 12–48 | 20–30 | client 10–60, server 12–58 |
/// | 4 | 0–80 | 10–40 | 12–38 (error) | 15–25 | |
///
/// frontend exclusive: 100−40, 100−30, 120−|[10,60]|, 80−30 = 60, 70, 70, 50 ms: mean 62.5,
/// p99 (type 7) 70. cart exclusive: 36−10, 26−10, 36−10, 26−10 = 26, 16, 26, 16: mean 21, p99
/// 26. redis (timed by cart's client spans): 10, 5, 5, 10, 10: mean 8, p99 10.
/// recommendation: one request of 46 ms, a constant. The frontend calls cart in every request
/// and recommendation in one of four, overlapping: one parallel step. Cart calls redis at least
/// once always and twice in one request of four. Window: 0 to 3080 ms, 4 root requests.
fn check_shop(r: &ImportResult) {
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    let fe = &t.services["frontend"].endpoints["GET-cart"];
    assert_eq!(
        fe.service_time,
        Distribution::Lognormal {
            mean: ms(62.5),
            p99: ms(70.0)
        }
    );
    let [CallStep::Parallel(p)] = fe.calls.as_slice() else {
        panic!("{:?}", fe.calls)
    };
    let got: Vec<(&str, Option<&str>, f64)> = p
        .parallel
        .iter()
        .map(|c| (c.service.as_str(), c.endpoint.as_deref(), c.probability))
        .collect();
    assert_eq!(
        got,
        [
            ("cart", Some("GetCart"), 1.0),
            ("recommendation", Some("ListRecs"), 0.25)
        ]
    );

    let cart = &t.services["cart"];
    let get = &cart.endpoints["GetCart"];
    assert_eq!(
        get.service_time,
        Distribution::Lognormal {
            mean: ms(21.0),
            p99: ms(26.0)
        }
    );
    let probs: Vec<(String, f64)> = get
        .calls
        .iter()
        .flat_map(CallStep::calls)
        .map(|c| {
            (
                format!("{}/{}", c.service, c.endpoint.as_deref().unwrap_or("")),
                c.probability,
            )
        })
        .collect();
    assert_eq!(
        probs,
        [
            ("redis/default".to_owned(), 1.0),
            ("redis/default".to_owned(), 0.25)
        ]
    );
    assert!(
        cart.tags.contains(&"error-rate.GetCart=0.25".to_owned()),
        "{:?}",
        cart.tags
    );
    // 4 requests in 3.08 s.
    assert!(
        cart.tags
            .contains(&"request-rate.GetCart=1.299/s".to_owned()),
        "{:?}",
        cart.tags
    );

    assert_eq!(
        t.services["recommendation"].endpoints["ListRecs"].service_time,
        Distribution::Constant { value: ms(46.0) }
    );
    let redis = &t.services["redis"];
    assert_eq!(redis.kind, ServiceKind::Cache);
    assert_eq!(
        redis.endpoints["default"].service_time,
        Distribution::Lognormal {
            mean: ms(8.0),
            p99: ms(10.0)
        }
    );

    // The root endpoint gets an open workload at the observed rate.
    let w = &t.workloads["observed.frontend.GET-cart"];
    assert_eq!(
        w.open.as_ref().and_then(|o| o.rate).map(|r| r.as_per_sec()),
        Some(1.299)
    );
    assert_eq!(t.workloads.len(), 1);
    assert_eq!(
        t.services["frontend"]
            .provenance
            .as_ref()
            .and_then(|p| p.observed_at.as_deref()),
        Some("2025-11-28T00:00:00Z")
    );
}

#[test]
fn jaeger_shop_traces() {
    check_shop(&run(Source::Jaeger, "jaeger/shop_jaeger.json"));
}

#[test]
fn otlp_shop_traces_give_the_same_graph() {
    let o = run(Source::Otlp, "otlp/shop_trace.json");
    check_shop(&o);
    let j = run(Source::Jaeger, "jaeger/shop_jaeger.json");
    let strip = |t: &doppel_model::Twin| {
        let mut t = t.clone();
        for s in t.services.values_mut() {
            s.provenance = None;
        }
        for w in t.workloads.values_mut() {
            w.provenance = None;
        }
        t
    };
    assert_eq!(strip(&o.delta), strip(&j.delta));
}

#[test]
fn otlp_protobuf_gives_the_same_graph_as_otlp_json() {
    // shop_trace.pb is shop_trace.json encoded by the reference Python protobuf library.
    let pb = run(Source::Otlp, "otlp/shop_trace.pb");
    let json = run(Source::Otlp, "otlp/shop_trace.json");
    let strip = |t: &doppel_model::Twin| {
        let mut t = t.clone();
        for s in t.services.values_mut() {
            s.provenance = None;
        }
        for w in t.workloads.values_mut() {
            w.provenance = None;
        }
        t
    };
    assert!(!pb.has_errors(), "{:#?}", pb.diagnostics);
    assert_eq!(strip(&pb.delta), strip(&json.delta));
    // Truncated: an error at a byte offset, no panic.
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/otlp/shop_trace.pb");
    let bytes = std::fs::read(p).unwrap();
    let cut = import(
        Source::Otlp,
        &[Input {
            name: "cut.pb",
            bytes: &bytes[..bytes.len() - 7],
        }],
    );
    let e = cut.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert!(
        e.message
            .starts_with("not a valid OTLP protobuf trace export"),
        "{e}"
    );
}

#[test]
fn published_examples() {
    // opentelemetry-proto's example: one server span of 1 s whose parent is not in the file.
    let r = run(Source::Otlp, "otlp/otlp_trace.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let ep = &r.delta.services["my.service"].endpoints["I-m-a-server-span"];
    assert_eq!(
        ep.service_time,
        Distribution::Constant { value: ms(1000.0) }
    );
    assert!(r.diagnostics.iter().any(|d| {
        d.message
            .starts_with("1 spans name a parent that is not in the input")
    }));

    // Jaeger's ui_01 fixture: span 2 twice (the second skipped), 3 and 4 children of 2 in
    // service-y, 5 a child of 4 in the same service; 4's references to another trace ignored.
    let r = run(Source::Jaeger, "jaeger/jaeger_ui_01.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("appears twice"))
    );
    let x = &r.delta.services["service-x"].endpoints["test-general-conversion"];
    let callees: Vec<String> = x
        .calls
        .iter()
        .flat_map(CallStep::calls)
        .map(|c| c.endpoint.clone().unwrap_or_default())
        .collect();
    assert_eq!(callees, ["reference-test", "some-operation"]);
    // preserveParentID-test is inside reference-test's service: no endpoint of its own.
    assert!(
        !r.delta.services["service-y"]
            .endpoints
            .contains_key("preserveParentID-test")
    );
}

#[test]
fn provenance_names_the_file_a_service_came_from() {
    let read = |rel: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(rel),
        )
        .unwrap()
    };
    let (a, b) = (read("otlp/otlp_trace.json"), read("otlp/shop_trace.json"));
    let r = import(
        Source::Otlp,
        &[
            Input {
                name: "a.json",
                bytes: &a,
            },
            Input {
                name: "b.json",
                bytes: &b,
            },
        ],
    );
    let file = |svc: &str| {
        r.delta.services[svc]
            .provenance
            .as_ref()
            .and_then(|p| p.file.clone())
    };
    assert_eq!(file("my.service").as_deref(), Some("a.json"));
    assert_eq!(file("frontend").as_deref(), Some("b.json"));
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.file == "a.json" || d.file == "b.json")
    );
}

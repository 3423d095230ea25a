//! The committed JSON Schema (`schema/doppel.schema.json`, for editors) must equal the one
//! generated from the Rust types. Regenerate with `UPDATE_EXPECT=1 cargo test -p doppel-model`.

#[test]
fn committed_schema_is_current() {
    expect_test::expect_file!["../../../schema/doppel.schema.json"]
        .assert_eq(&doppel_model::schema_json());
}

/// A twin written back out (as an importer would) is accepted by the schema and reads back
/// identical: the format and the types agree in both directions.
#[test]
fn twins_round_trip_through_the_format() {
    let text = "
zones: {a: {latency: {b: 1500us}}, b: {}}
hosts: {h: {zone: a, cores: 2.5, memory: 1536Mi}}
services:
  s:
    endpoints:
      e:
        service_time: {dist: uniform, min: 1ms, max: 3ms}
        calls: [{service: s, endpoint: f, probability: 0.25, timeout: 1s, retries: {max: 1, budget: 10%}}]
      f: {service_time: {dist: constant, value: 0}}
workloads:
  w:
    open: {schedule: [{at: 0s, rate: 10/s}, {at: 1h, rate: 30/min}]}
    flow: {steps: {x: {service: s, endpoint: e}}}
";
    let first = doppel_model::load_str("a.yaml", text);
    assert!(first.is_valid(), "{:?}", first.diagnostics);
    let json = serde_json::to_string(&first.twin).unwrap();
    let second = doppel_model::load_str("b.yaml", &json);
    assert!(second.diagnostics.is_empty(), "{:?}", second.diagnostics);
    assert_eq!(first.twin, second.twin);
    assert_eq!(
        second.twin.hosts["h"].memory.unwrap().get(),
        1536 * 1024 * 1024
    );
}

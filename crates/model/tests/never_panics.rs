//! Property tests: loading never panics whatever the bytes, and every problem found is
//! reported with a position inside the file.

use proptest::prelude::*;

const SEED_TWIN: &str = r#"
doppel: 1
name: seed
zones: {a: {latency: {b: 1ms}}, b: {}}
hosts:
  h1: {zone: a, cores: 4, memory: 8Gi, addresses: [10.0.0.5], subnet: s}
networks: {v: {cidr: 10.0.0.0/16}}
subnets: {s: {network: v, cidr: 10.0.0.0/24, zone: a}}
services:
  web:
    replicas: 2
    placement: {zones: [a, b]}
    concurrency: {workers: 8, queue_limit: 100}
    endpoints:
      get:
        service_time: {dist: lognormal, mean: 10ms, p99: 80ms}
        calls:
          - {service: db, timeout: 100ms, retries: {max: 2, backoff: 10ms}}
          - parallel: [{service: db, probability: 0.5, count: 2}]
  db:
    endpoints:
      q: {service_time: {dist: empirical, buckets: [{le: 1ms, weight: 3}, {le: 10ms, weight: 1}]}}
workloads:
  w:
    open: {rate: 100/s}
    flow:
      steps:
        a: {service: web, next: {a: 0.3}, exit: 0.7, think_time: {dist: exponential, mean: 1s}}
slos:
  p99: {workload: w, latency: {percentile: 99, threshold: 200ms}}
"#;

fn check_bytes(bytes: &[u8]) {
    let lines = bytes.split(|&b| b == b'\n').count() as u32 + 1;
    let loaded = doppel_model::load(&["f.yaml"], |_| Ok(bytes.to_vec()));
    for d in &loaded.diagnostics {
        assert!(
            d.loc.line >= 1 && d.loc.line <= lines,
            "line out of range: {d}"
        );
        assert!(!d.message.is_empty());
    }
}

#[test]
fn the_seed_twin_is_valid() {
    let loaded = doppel_model::load_str("seed.yaml", SEED_TWIN);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_bytes(&bytes);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(text in "[a-z0-9:{}\\[\\],&*!|>\\-#'\" \n.%/]{0,300}") {
        check_bytes(text.as_bytes());
    }

    /// Edits of a valid twin: deletions, insertions and replacements at random places.
    #[test]
    fn mutated_twins_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..3u8, "[a-z0-9:{}\\[\\], \n\\-.]{0,4}"), 1..6)
    ) {
        let mut text = SEED_TWIN.to_owned();
        for (at, op, insert) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            match op {
                0 => { let end = (i + insert.len().max(1)).min(text.len()); let mut e = end; while !text.is_char_boundary(e) { e -= 1; } text.replace_range(i..e, ""); }
                1 => text.insert_str(i, &insert),
                _ => { let end = (i + insert.len()).min(text.len()); let mut e = end; while !text.is_char_boundary(e) { e -= 1; } text.replace_range(i..e, &insert); }
            }
        }
        check_bytes(text.as_bytes());
    }
}

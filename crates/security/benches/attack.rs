//! Benchmark of the attack analysis on the generated estate (`estate.rs`) at 100, 1,000 and
//! 10,000 hosts (ten vulnerabilities per host, so 100,000 at the largest): building the attack
//! graph to its fixpoint, and the graph with the minimal paths from the internet to
//! `tag:crown-jewel` (`attack_paths`, as `doppel bench attack` times it). Run with
//! `cargo bench -p doppel-security`; `DOPPEL_BENCH_HOSTS=100,1000` picks the sizes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use doppel_security::analysis;
use doppel_security::graph::{self, Start};
use doppel_security::reach::Origin;

fn sizes() -> Vec<usize> {
    std::env::var("DOPPEL_BENCH_HOSTS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 10_000])
}

fn estate(hosts: usize) -> doppel_model::Twin {
    let doc = doppel_security::estate::generate(hosts, hosts * 10, 1);
    serde_json::from_value(doc).expect("the generated estate is a twin")
}

fn bench(c: &mut Criterion) {
    let starts = [Start::Outside(Origin::Internet)];
    let mut g = c.benchmark_group("attack");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for hosts in sizes() {
        let twin = estate(hosts);
        g.bench_with_input(BenchmarkId::new("graph", hosts), &twin, |b, twin| {
            b.iter(|| {
                let p = graph::build(black_box(twin), &Default::default(), &starts);
                black_box(p.closure().len())
            });
        });
        g.bench_with_input(
            BenchmarkId::new("graph_and_paths", hosts),
            &twin,
            |b, twin| {
                b.iter(|| {
                    let paths =
                        analysis::attack_paths(black_box(twin), &starts, "tag:crown-jewel", 50)
                            .expect("the target exists");
                    black_box(paths.len())
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion benchmark of the engine on the 10-station M/M/2 tandem (λ = 0.8, μ = 0.5):
//! 1M customers, about 10M station visits per iteration, reported as visits per second
//! (criterion's "elements"). Run with `cargo bench -p doppel-sim --bench tandem`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CUSTOMERS: u64 = 1_000_000;

fn tandem(c: &mut Criterion) {
    // The visit count depends only on the seed, so measure it once for the throughput figure.
    let visits = doppel_sim::bench::tandem(CUSTOMERS, 1).visits;
    let mut group = c.benchmark_group("tandem");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(15));
    group.throughput(Throughput::Elements(visits));
    group.bench_function("mm2x10_1M_customers", |b| {
        b.iter(|| doppel_sim::bench::tandem(std::hint::black_box(CUSTOMERS), 1));
    });
    group.finish();
}

criterion_group!(benches, tandem);
criterion_main!(benches);

//! Benchmarks of the optimizers, in release mode: the min-MLU LPs and the IGP search on GEANT
//! (22 nodes, the FIGRET matrices), and the LPs on TEAL's UsCarrier (158 nodes) and Kdl (754
//! nodes) with a seeded gravity-model matrix; and the real-time loop, re-optimizing when the
//! matrix changes, warm-started from the previous answer beside cold solves (group
//! `realtime`). Run with `cargo bench -p doppel-netopt`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use doppel_netopt::colgen::{ColumnOptions, min_mlu_columns};
use doppel_netopt::import::{figret, nodelink};
use doppel_netopt::{Network, PathSet, TrafficMatrix, failure, igp, lp};

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn geant() -> (Network, PathSet, Vec<TrafficMatrix>) {
    let net = nodelink::parse(
        "GEANT.json",
        &data("figret/GEANT/GEANT.json"),
        &Default::default(),
    )
    .expect("GEANT reads")
    .value;
    let tunnels = figret::parse_tunnels("tunnels.txt", &data("figret/GEANT/tunnels.txt"), &net)
        .expect("tunnels read")
        .value;
    let tms = figret::parse_hist("train_5.hist", &data("figret/GEANT/train_5.hist"), 22)
        .expect("matrices read")
        .value;
    (net, tunnels, tms)
}

/// A gravity-model matrix over `sources` x `dests` random pairs (SplitMix64, seeded), scaled
/// so that the total is 5% of the network's total capacity.
fn gravity(net: &Network, sources: usize, dests: usize, seed: u64) -> TrafficMatrix {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = net.node_count();
    let mass: Vec<f64> = (0..n)
        .map(|_| 0.1 + (next() % 1000) as f64 / 1000.0)
        .collect();
    let total_cap: f64 = net.arcs().iter().map(|a| a.capacity).sum();
    let srcs: Vec<usize> = (0..sources).map(|_| (next() % n as u64) as usize).collect();
    let dsts: Vec<usize> = (0..dests).map(|_| (next() % n as u64) as usize).collect();
    let mut tm = TrafficMatrix::new(n);
    let mut sum = 0.0;
    for &a in &srcs {
        for &b in &dsts {
            if a != b {
                sum += mass[a] * mass[b];
            }
        }
    }
    for &a in &srcs {
        for &b in &dsts {
            if a != b {
                tm.add(a, b, 0.05 * total_cap * mass[a] * mass[b] / sum)
                    .expect("valid demand");
            }
        }
    }
    tm
}

fn bench_geant(c: &mut Criterion) {
    let (net, tunnels, tms) = geant();
    let mut g = c.benchmark_group("geant");
    g.sample_size(20);
    g.bench_function("lp_paths_one_matrix", |b| {
        b.iter(|| lp::min_mlu_paths(&net, black_box(&tms[0]), &tunnels).expect("solves"))
    });
    g.bench_function("lp_edges_one_matrix", |b| {
        b.iter(|| lp::min_mlu_edges(&net, black_box(&tms[0])).expect("solves"))
    });
    g.bench_function("ecmp_one_matrix", |b| {
        b.iter(|| igp::ecmp(&net, black_box(&tms[0]), &net.weights()).expect("routes"))
    });
    g.bench_function("igp_search_3000_evaluations", |b| {
        b.iter(|| igp::optimize_weights(&net, black_box(&tms[15]), &Default::default()))
    });
    g.bench_function("single_link_failures_optimal", |b| {
        b.iter(|| {
            failure::single_link_failures(&net, black_box(&tms[0]), failure::Reroute::Optimal)
                .expect("analyses")
        })
    });
    g.finish();
}

fn bench_large(c: &mut Criterion) {
    let mut g = c.benchmark_group("large");
    g.sample_size(10);
    for (name, file, sources, dests) in [
        ("uscarrier_158", "teal/UsCarrier.json", 158, 158),
        ("kdl_754", "teal/Kdl.json", 30, 60),
    ] {
        let net = nodelink::parse(name, &data(file), &Default::default())
            .expect("topology reads")
            .value;
        let tm = gravity(&net, sources, dests, 7);
        let ps = PathSet::k_shortest(&net, &tm, 4);
        g.bench_function(format!("{name}_k_shortest_4"), |b| {
            b.iter(|| PathSet::k_shortest(&net, black_box(&tm), 4))
        });
        g.bench_function(format!("{name}_lp_paths_k4"), |b| {
            b.iter(|| lp::min_mlu_paths(&net, black_box(&tm), &ps).expect("solves"))
        });
        g.bench_function(format!("{name}_lp_edges"), |b| {
            b.iter(|| lp::min_mlu_edges(&net, black_box(&tm)).expect("solves"))
        });
    }
    g.finish();
}

/// `tm` with every demand scaled by a seeded factor in `1 ± spread`: the next matrix of a
/// real-time loop.
fn perturbed(tm: &TrafficMatrix, seed: u64, spread: f64) -> TrafficMatrix {
    let mut s = seed;
    let mut out = TrafficMatrix::new(tm.node_count());
    for d in tm.demands() {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let u = ((z ^ (z >> 31)) % 1_000_000) as f64 / 1_000_000.0;
        out.add(d.src, d.dst, d.rate * (1.0 + spread * (2.0 * u - 1.0)))
            .expect("valid demand");
    }
    out
}

fn bench_realtime(c: &mut Criterion) {
    let opts = ColumnOptions::default();
    let mut g = c.benchmark_group("realtime");
    g.sample_size(10);
    // GEANT: the 15 transitions between consecutive FIGRET matrices; one iteration re-solves
    // all 15 (divide by 15 for a matrix).
    let (net, _, tms) = geant();
    let columns: Vec<PathSet> = tms
        .iter()
        .map(|tm| {
            min_mlu_columns(&net, tm, None, &opts)
                .expect("solves")
                .columns
        })
        .collect();
    g.bench_function("geant_15_matrices_cold_edge_lp", |b| {
        b.iter(|| {
            for tm in &tms[1..] {
                lp::min_mlu_edges(&net, black_box(tm)).expect("solves");
            }
        })
    });
    g.bench_function("geant_15_matrices_cold_columns", |b| {
        b.iter(|| {
            for tm in &tms[1..] {
                min_mlu_columns(&net, black_box(tm), None, &opts).expect("solves");
            }
        })
    });
    g.bench_function("geant_15_matrices_warm_columns", |b| {
        b.iter(|| {
            for (k, tm) in tms.iter().enumerate().skip(1) {
                min_mlu_columns(&net, black_box(tm), Some(&columns[k - 1]), &opts).expect("solves");
            }
        })
    });
    // Kdl (754 nodes): a gravity matrix, then the same with every demand moved by up to ±20%.
    let kdl = nodelink::parse("kdl", &data("teal/Kdl.json"), &Default::default())
        .expect("topology reads")
        .value;
    let base = gravity(&kdl, 30, 60, 7);
    let next = perturbed(&base, 11, 0.2);
    let prev = min_mlu_columns(&kdl, &base, None, &opts)
        .expect("solves")
        .columns;
    g.bench_function("kdl_754_next_matrix_cold_edge_lp", |b| {
        b.iter(|| lp::min_mlu_edges(&kdl, black_box(&next)).expect("solves"))
    });
    g.bench_function("kdl_754_next_matrix_cold_columns", |b| {
        b.iter(|| min_mlu_columns(&kdl, black_box(&next), None, &opts).expect("solves"))
    });
    g.bench_function("kdl_754_next_matrix_warm_columns", |b| {
        b.iter(|| min_mlu_columns(&kdl, black_box(&next), Some(&prev), &opts).expect("solves"))
    });
    g.finish();
}

criterion_group!(benches, bench_geant, bench_large, bench_realtime);
criterion_main!(benches);

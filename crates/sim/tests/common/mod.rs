//! Helpers shared by the simulator's statistical tests: an estimate with its standard error,
//! over independent seeds.
#![allow(dead_code, clippy::unwrap_used)]

use doppel_sim::{SimConfig, SimNet, SimReport, simulate};

/// t(0.975, 9): the 95% quantile for 10 replications.
pub const T9: f64 = 2.262_157;

/// A simulated mean and its standard error.
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
}

/// Mean and standard error of `f(report)` over independent seeds (one replication each).
pub fn over_seeds(
    net: &SimNet,
    cfg: SimConfig,
    seeds: u64,
    f: impl Fn(&SimReport) -> f64,
) -> Estimate {
    let xs: Vec<f64> = (1..=seeds)
        .map(|seed| {
            f(&simulate(
                net,
                &SimConfig {
                    seed,
                    replications: 1,
                    ..cfg
                },
            )
            .unwrap())
        })
        .collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Estimate {
        mean,
        se: (var / n).sqrt(),
    }
}

//! Fitting a service-time distribution to observed exclusive times.
//!
//! - all samples equal (within 1 µs): `constant`;
//! - fewer than [`EMPIRICAL_MIN`] samples: `lognormal` by the sample mean and p99 when a
//!   log-normal with them exists (1 < p99/mean ≤ 14.9), else `exponential` by the mean;
//! - otherwise `empirical`: an equal-weight histogram whose bucket bounds are the sample's
//!   quantiles (at most 20 buckets, at least 5 samples each), starting at the minimum.

use doppel_model::{Bucket, Distribution, Duration};

/// Fewest samples for an empirical histogram.
pub const EMPIRICAL_MIN: usize = 30;

/// The `q`-quantile (0..=1) of sorted `xs`, linearly interpolated (type 7).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// How a distribution was chosen, for the diagnostic that reports it.
pub fn describe(d: &Distribution) -> &'static str {
    match d {
        Distribution::Constant { .. } => "constant",
        Distribution::Exponential { .. } => "exponential by the mean",
        Distribution::Lognormal { .. } => "log-normal by mean and p99",
        Distribution::Uniform { .. } => "uniform",
        Distribution::Empirical { .. } => "empirical histogram of quantiles",
    }
}

/// Fits `samples` (seconds, non-negative); `None` when there are none.
pub fn fit(samples: &[f64]) -> Option<Distribution> {
    let mut xs: Vec<f64> = samples
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .collect();
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let (min, max) = (xs[0], xs[n - 1]);
    let mean = xs.iter().sum::<f64>() / n as f64;
    if max - min < 1e-6 {
        return Some(Distribution::Constant {
            value: Duration::from_secs_f64(mean),
        });
    }
    if n < EMPIRICAL_MIN {
        let (m, p99) = (
            Duration::from_secs_f64(mean),
            Duration::from_secs_f64(quantile(&xs, 0.99)),
        );
        if Distribution::lognormal_params(m, p99).is_some()
            && p99.as_secs_f64() <= 14.9 * m.as_secs_f64()
        {
            return Some(Distribution::Lognormal { mean: m, p99 });
        }
        return Some(Distribution::Exponential { mean: m });
    }
    let k = (n / 5).clamp(1, 20);
    let mut buckets: Vec<Bucket> = Vec::new();
    let first = Duration::from_secs_f64(min);
    if first > Duration::ZERO {
        buckets.push(Bucket {
            le: first,
            weight: 0.0,
        });
    }
    for i in 1..=k {
        let le = Duration::from_secs_f64(quantile(&xs, i as f64 / k as f64));
        let w = 1.0 / k as f64;
        match buckets.last_mut() {
            Some(last) if last.le >= le => last.weight += w,
            _ => buckets.push(Bucket { le, weight: w }),
        }
    }
    for b in &mut buckets {
        b.weight = (b.weight * 1e6).round() / 1e6;
    }
    Some(Distribution::Empirical { buckets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
    }

    #[test]
    fn the_family_follows_the_sample() {
        assert_eq!(
            fit(&[0.02, 0.02, 0.02]),
            Some(Distribution::Constant {
                value: Duration::from_millis(20)
            })
        );
        // 10, 20, 30 ms: mean 20 ms, p99 = 20 + 0.98·10 = 29.8 ms (type 7).
        assert_eq!(
            fit(&[0.01, 0.02, 0.03]),
            Some(Distribution::Lognormal {
                mean: Duration::from_millis(20),
                p99: Duration::from_secs_f64(0.0298)
            })
        );
        // A tail too heavy for a log-normal by mean and p99: exponential by the mean.
        let mut heavy = vec![0.001; 19];
        heavy.push(1.0);
        assert!(matches!(
            fit(&heavy),
            Some(Distribution::Exponential { .. })
        ));
        // 100 samples 1..=100 ms: 20 buckets of 5, bounds at the 5%, 10%... quantiles.
        let xs: Vec<f64> = (1..=100).map(|i| f64::from(i) / 1000.0).collect();
        let Some(Distribution::Empirical { buckets }) = fit(&xs) else {
            panic!()
        };
        assert_eq!(buckets.len(), 21);
        assert_eq!(
            (buckets[0].le, buckets[0].weight),
            (Duration::from_millis(1), 0.0)
        );
        assert_eq!(buckets[1].le, Duration::from_secs_f64(0.00595));
        assert_eq!(buckets[20].le, Duration::from_millis(100));
        let total: f64 = buckets.iter().map(|b| b.weight).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(fit(&[]).is_none());
    }
}

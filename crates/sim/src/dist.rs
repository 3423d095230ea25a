//! Time distributions (service times, think times, latencies) and their sampling.

use crate::rng::SimRng;

/// A distribution of non-negative durations, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Constant(f64),
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// `exp(N(mu, sigma²))`.
    LogNormal {
        /// Mean of the underlying normal.
        mu: f64,
        /// Standard deviation of the underlying normal.
        sigma: f64,
    },
    /// Uniform in `[lo, hi]`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A histogram sampled uniformly within the chosen bucket.
    Empirical(Empirical),
}

/// A histogram: buckets `(previous bound, upper bound]` chosen by weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Empirical {
    /// Upper bounds, increasing; the first bucket starts at 0.
    bounds: Vec<f64>,
    /// Cumulative probabilities, the last one exactly 1.
    cumulative: Vec<f64>,
}

impl Empirical {
    /// Builds a histogram from `(upper bound, weight)` buckets in increasing bound order.
    pub fn new(buckets: &[(f64, f64)]) -> Result<Empirical, String> {
        if buckets.is_empty() {
            return Err("an empirical distribution needs at least one bucket".into());
        }
        let mut last = 0.0;
        let mut total = 0.0;
        for &(le, w) in buckets {
            if !(le.is_finite() && le >= last) {
                return Err("bucket bounds must be finite, >= 0 and increasing".into());
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err("bucket weights must be finite and >= 0".into());
            }
            last = le;
            total += w;
        }
        if total <= 0.0 {
            return Err("bucket weights sum to 0".into());
        }
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = buckets
            .iter()
            .map(|&(_, w)| {
                acc += w;
                acc / total
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Ok(Empirical {
            bounds: buckets.iter().map(|b| b.0).collect(),
            cumulative,
        })
    }

    fn sample(&self, rng: &mut SimRng) -> f64 {
        let u = rng.uniform();
        let i = self
            .cumulative
            .partition_point(|&c| c <= u)
            .min(self.bounds.len() - 1);
        let lo = if i == 0 { 0.0 } else { self.bounds[i - 1] };
        lo + (self.bounds[i] - lo) * rng.uniform()
    }

    fn mean(&self) -> f64 {
        let mut prev_c = 0.0;
        let mut lo = 0.0;
        let mut m = 0.0;
        for (&hi, &c) in self.bounds.iter().zip(&self.cumulative) {
            m += (c - prev_c) * (lo + hi) / 2.0;
            prev_c = c;
            lo = hi;
        }
        m
    }
}

impl Dist {
    /// Exponential with this mean.
    pub fn exp(mean: f64) -> Dist {
        Dist::Exponential { mean }
    }

    /// Draws one value.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential { mean } => rng.exp(*mean),
            Dist::LogNormal { mu, sigma } => (mu + sigma * rng.std_normal()).exp(),
            Dist::Uniform { lo, hi } => lo + (hi - lo) * rng.uniform(),
            Dist::Empirical(e) => e.sample(rng),
        }
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential { mean } => *mean,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Uniform { lo, hi } => (lo + hi) / 2.0,
            Dist::Empirical(e) => e.mean(),
        }
    }

    /// The squared coefficient of variation (variance / mean²), 0 for a zero mean.
    pub fn scv(&self) -> f64 {
        let m = self.mean();
        if m <= 0.0 {
            return 0.0;
        }
        let var = match self {
            Dist::Constant(_) => 0.0,
            Dist::Exponential { mean } => mean * mean,
            Dist::LogNormal { sigma, .. } => ((sigma * sigma).exp() - 1.0) * m * m,
            Dist::Uniform { lo, hi } => (hi - lo) * (hi - lo) / 12.0,
            Dist::Empirical(e) => {
                let mut prev_c = 0.0;
                let mut lo = 0.0;
                let mut m2 = 0.0;
                for (&hi, &c) in e.bounds.iter().zip(&e.cumulative) {
                    m2 += (c - prev_c) * (lo * lo + lo * hi + hi * hi) / 3.0;
                    prev_c = c;
                    lo = hi;
                }
                m2 - m * m
            }
        };
        var / (m * m)
    }

    /// The same distribution stretched by `f` (every value times `f`, so the mean too, and
    /// the squared coefficient of variation unchanged). `f` must be positive.
    pub fn scaled(&self, f: f64) -> Dist {
        match self {
            Dist::Constant(v) => Dist::Constant(v * f),
            Dist::Exponential { mean } => Dist::Exponential { mean: mean * f },
            Dist::LogNormal { mu, sigma } => Dist::LogNormal {
                mu: mu + f.ln(),
                sigma: *sigma,
            },
            Dist::Uniform { lo, hi } => Dist::Uniform {
                lo: lo * f,
                hi: hi * f,
            },
            Dist::Empirical(e) => Dist::Empirical(Empirical {
                bounds: e.bounds.iter().map(|b| b * f).collect(),
                cumulative: e.cumulative.clone(),
            }),
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match self {
            Dist::Constant(v) if !ok(*v) => Err("constant must be finite and >= 0".into()),
            Dist::Exponential { mean } if !ok(*mean) => Err("mean must be finite and >= 0".into()),
            Dist::LogNormal { mu, sigma } if !(mu.is_finite() && ok(*sigma)) => {
                Err("log-normal parameters must be finite, sigma >= 0".into())
            }
            Dist::Uniform { lo, hi } if !(ok(*lo) && ok(*hi) && lo <= hi) => {
                Err("uniform bounds must satisfy 0 <= lo <= hi".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = SimRng::stream(3, 0);
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_analytic_means() {
        // 200k draws: the standard error is sd/447, so 1% is several standard errors for
        // every distribution here (largest scv is the log-normal's e^0.25 - 1 ≈ 0.28).
        let n = 200_000;
        let cases = [
            Dist::Constant(0.25),
            Dist::exp(0.5),
            Dist::LogNormal {
                mu: -1.0,
                sigma: 0.5,
            },
            Dist::Uniform { lo: 1.0, hi: 3.0 },
            Dist::Empirical(Empirical::new(&[(1.0, 1.0), (2.0, 0.0), (4.0, 3.0)]).unwrap()),
        ];
        for d in &cases {
            let m = sample_mean(d, n);
            assert!(
                (m - d.mean()).abs() <= 0.01 * d.mean(),
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
        // Empirical: 1/4 of mass uniform on [0,1], 3/4 on [2,4]: mean 0.125 + 2.25.
        assert!((cases[4].mean() - 2.375).abs() < 1e-12);
        // Log-normal mean exp(mu + sigma²/2).
        assert!((cases[2].mean() - (-0.875f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn empirical_respects_buckets() {
        let e = Dist::Empirical(Empirical::new(&[(1.0, 1.0), (2.0, 0.0), (4.0, 3.0)]).unwrap());
        let mut rng = SimRng::stream(9, 0);
        let mut low = 0;
        for _ in 0..40_000 {
            let v = e.sample(&mut rng);
            assert!((0.0..=4.0).contains(&v) && !(1.0 < v && v < 2.0), "{v}");
            low += usize::from(v <= 1.0);
        }
        // Expect 10,000 ± 87 (binomial sd): allow 5 sd.
        assert!((low as i64 - 10_000).abs() < 435, "{low}");
        assert!(Empirical::new(&[]).is_err());
        assert!(Empirical::new(&[(2.0, 1.0), (1.0, 1.0)]).is_err());
        assert!(Empirical::new(&[(1.0, 0.0)]).is_err());
    }

    #[test]
    fn scv_values() {
        assert!((Dist::exp(3.0).scv() - 1.0).abs() < 1e-12);
        assert_eq!(Dist::Constant(2.0).scv(), 0.0);
        // Uniform[0, 2]: var 1/3, mean 1.
        assert!((Dist::Uniform { lo: 0.0, hi: 2.0 }.scv() - 1.0 / 3.0).abs() < 1e-12);
        let e = Dist::Empirical(Empirical::new(&[(2.0, 1.0)]).unwrap());
        assert!((e.scv() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn scaling_stretches_the_mean_and_keeps_the_shape() {
        let cases = [
            Dist::Constant(0.25),
            Dist::exp(0.5),
            Dist::LogNormal {
                mu: -1.0,
                sigma: 0.5,
            },
            Dist::Uniform { lo: 1.0, hi: 3.0 },
            Dist::Empirical(Empirical::new(&[(1.0, 1.0), (2.0, 0.0), (4.0, 3.0)]).unwrap()),
        ];
        for d in &cases {
            let s = d.scaled(1.6);
            assert!((s.mean() - 1.6 * d.mean()).abs() < 1e-12, "{d:?}");
            assert!((s.scv() - d.scv()).abs() < 1e-12, "{d:?}");
        }
    }
}

//! The baseline detectors Doppel is measured against: NAB's windowed Gaussian (a z-score
//! band), seasonal naive (the value one day earlier) and Holt's linear smoothing (what
//! Prometheus' `holt_winters()` computes). Each turns its residual into a score with the
//! same rule NAB's windowed Gaussian uses: `1 − Q(|z|)`, Q the standard normal tail.

use std::collections::VecDeque;

use crate::detect::Detector;
use crate::stats::{RollingMoments, normal_tail};

/// The score of a residual `z` standard deviations from the expectation: `1 − Q(|z|)`.
pub fn gaussian_score(z: f64) -> f64 {
    if z.is_nan() {
        return 0.0;
    }
    (1.0 - normal_tail(z.abs())).clamp(0.0, 1.0)
}

/// The score a 3σ band alerts at: `1 − Q(3)`.
pub const THREE_SIGMA: f64 = 0.998_650_101_968_37;

/// NAB's windowed Gaussian detector: the mean and standard deviation of the last 6,400 values,
/// recomputed every 100 rows (NAB's settings); a row is scored against the window before it.
#[derive(Debug, Clone)]
pub struct WindowedGaussian {
    window: VecDeque<f64>,
    buffer: Vec<f64>,
    size: usize,
    step: usize,
    mean: f64,
    std: f64,
}

impl Default for WindowedGaussian {
    fn default() -> Self {
        Self::new(6400, 100)
    }
}

impl WindowedGaussian {
    /// A detector over `size` values, refreshed every `step` rows.
    pub fn new(size: usize, step: usize) -> Self {
        WindowedGaussian {
            window: VecDeque::with_capacity(size),
            buffer: Vec::with_capacity(step),
            size: size.max(1),
            step: step.max(1),
            mean: 0.0,
            std: 1.0,
        }
    }

    fn refresh(&mut self) {
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        let var = self
            .window
            .iter()
            .map(|v| (v - self.mean).powi(2))
            .sum::<f64>()
            / n;
        self.std = if var > 0.0 { var.sqrt() } else { 1e-6 };
    }
}

impl Detector for WindowedGaussian {
    fn update(&mut self, _t: i64, x: f64) -> f64 {
        let score = if self.window.is_empty() {
            0.0
        } else {
            gaussian_score((x - self.mean) / self.std)
        };
        if self.window.len() < self.size {
            self.window.push_back(x);
            self.refresh();
        } else {
            self.buffer.push(x);
            if self.buffer.len() == self.step {
                for v in self.buffer.drain(..) {
                    self.window.pop_front();
                    self.window.push_back(v);
                }
                self.refresh();
            }
        }
        score
    }
}

/// Residual scale for the forecasting baselines: the standard deviation of the last 1,000
/// residuals (at least 30 of them before any score other than 0 is given).
#[derive(Debug, Clone)]
struct ResidualScale {
    moments: RollingMoments,
}

impl ResidualScale {
    fn new() -> Self {
        ResidualScale {
            moments: RollingMoments::new(1000),
        }
    }

    /// Scores `r` against the residuals so far, then remembers it.
    fn score_then_push(&mut self, r: f64) -> f64 {
        let s = if self.moments.len() >= 30 {
            let sd = self.moments.std().max(1e-9);
            gaussian_score(r / sd)
        } else {
            0.0
        };
        self.moments.push(r);
        s
    }
}

/// Seasonal naive: expects the value one day (`period` seconds) earlier, the latest row at or
/// before `t − period`; before a full period of history it expects the previous value.
#[derive(Debug, Clone)]
pub struct SeasonalNaive {
    period: i64,
    history: VecDeque<(i64, f64)>,
    scale: ResidualScale,
}

impl Default for SeasonalNaive {
    fn default() -> Self {
        Self::new(86_400)
    }
}

impl SeasonalNaive {
    /// A seasonal naive detector with the given period in seconds.
    pub fn new(period: i64) -> Self {
        SeasonalNaive {
            period,
            history: VecDeque::new(),
            scale: ResidualScale::new(),
        }
    }

    /// The forecast for time `t` from the history so far.
    pub fn forecast(&self, t: i64) -> Option<f64> {
        let target = t - self.period;
        let k = self.history.partition_point(|&(s, _)| s <= target);
        if k > 0 {
            self.history.get(k - 1).map(|&(_, v)| v)
        } else {
            self.history.back().map(|&(_, v)| v)
        }
    }
}

impl Detector for SeasonalNaive {
    fn update(&mut self, t: i64, x: f64) -> f64 {
        let score = match self.forecast(t) {
            Some(f) => self.scale.score_then_push(x - f),
            None => 0.0,
        };
        self.history.push_back((t, x));
        // Keep one period and a little more.
        while self
            .history
            .get(1)
            .is_some_and(|&(s, _)| s <= t - self.period)
        {
            self.history.pop_front();
        }
        score
    }
}

/// Holt's linear (double exponential) smoothing, Prometheus' `holt_winters(v, sf, tf)`: level
/// and trend smoothed with factors `sf` and `tf`; the residual is the row minus the one-step
/// forecast `level + trend`.
#[derive(Debug, Clone)]
pub struct Holt {
    sf: f64,
    tf: f64,
    state: Option<(f64, f64)>,
    scale: ResidualScale,
}

impl Default for Holt {
    /// The smoothing factors Prometheus' documentation examples use: 0.3 and 0.1.
    fn default() -> Self {
        Self::new(0.3, 0.1)
    }
}

impl Holt {
    /// A Holt detector with level factor `sf` and trend factor `tf` (both in (0, 1)).
    pub fn new(sf: f64, tf: f64) -> Self {
        Holt {
            sf,
            tf,
            state: None,
            scale: ResidualScale::new(),
        }
    }
}

impl Detector for Holt {
    fn update(&mut self, _t: i64, x: f64) -> f64 {
        match self.state {
            None => {
                self.state = Some((x, 0.0));
                0.0
            }
            Some((level, trend)) => {
                let score = self.scale.score_then_push(x - (level + trend));
                let l = self.sf * x + (1.0 - self.sf) * (level + trend);
                let b = self.tf * (l - level) + (1.0 - self.tf) * trend;
                self.state = Some((l, b));
                score
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_sigma_constant() {
        // Q(3) = 0.0013498980316301 (standard normal tables).
        assert!((gaussian_score(3.0) - THREE_SIGMA).abs() < 1e-7);
        assert!((gaussian_score(-1.0) - (1.0 - 0.158_655_253_931_457)).abs() < 1e-7);
        assert!((gaussian_score(0.0) - 0.5).abs() < 1e-7);
    }

    #[test]
    fn windowed_gaussian_scores_against_previous_window() {
        let mut d = WindowedGaussian::new(4, 2);
        assert_eq!(d.update(0, 1.0), 0.0);
        // Window [1]: mean 1, std 0 -> 1e-6: a value of 1 is at z = 0.
        assert!((d.update(1, 1.0) - 0.5).abs() < 1e-7);
        d.update(2, 3.0);
        d.update(3, 3.0);
        // Window [1,1,3,3]: mean 2, std 1; x = 4 is z = 2: 1 - Q(2) = 0.97725.
        assert!((d.update(4, 4.0) - 0.977_249_868).abs() < 1e-6);
        // Buffered: the window is still [1,1,3,3] for the next row (step 2).
        assert!((d.update(5, 0.0) - 0.977_249_868).abs() < 1e-6);
        // Now the window slid to [3,3,4,0]: mean 2.5, var (0.25+0.25+2.25+6.25)/4 = 2.25.
        assert!((d.update(6, 4.0) - gaussian_score(1.0)).abs() < 1e-9);
    }

    #[test]
    fn holt_follows_a_line_exactly() {
        // On a straight line the trend converges to the slope: residuals shrink to 0.
        let mut h = Holt::default();
        let mut last = 1.0;
        for i in 0..200 {
            last = h.update(i, 2.0 * i as f64);
        }
        assert!(last < 0.6, "{last}");
        let (level, trend) = h.state.unwrap();
        assert!((level - 398.0).abs() < 1e-6 && (trend - 2.0).abs() < 1e-6);
    }

    #[test]
    fn seasonal_naive_expects_yesterday() {
        let mut d = SeasonalNaive::new(100);
        for t in 0..100 {
            d.update(t * 10, t as f64);
        }
        // At t = 1000 the row at or before 900 is t=900 with value 90.
        assert_eq!(d.forecast(1000), Some(90.0));
        assert_eq!(d.forecast(1005), Some(90.0));
    }
}

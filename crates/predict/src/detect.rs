//! Streaming detectors: the [`Detector`] trait (one row in, one score in [0, 1] out, using only
//! the rows seen so far), the catalogue of detectors ([`DetectorKind`]) and the per-row output
//! of `doppel detect`.

use crate::baselines::{self, Holt, SeasonalNaive, WindowedGaussian};
use crate::doppel::{Doppel, DoppelConfig};
use crate::series::Series;

/// An online anomaly detector: `update` sees each row once, in time order, and returns that
/// row's anomaly score in [0, 1]. The score may depend only on this row and earlier ones.
pub trait Detector: Send {
    /// Feeds one row and returns its anomaly score.
    fn update(&mut self, timestamp: i64, value: f64) -> f64;
}

/// The detectors this crate provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// Doppel's own detector ([`Doppel`]).
    Doppel,
    /// NAB's windowed Gaussian: a z-score band over the last 6,400 rows.
    WindowedGaussian,
    /// The value one day earlier, residual against a rolling standard deviation.
    SeasonalNaive,
    /// Holt's linear smoothing (Prometheus' `holt_winters`, factors 0.3 and 0.1).
    Holt,
}

impl DetectorKind {
    /// Every detector, Doppel's first.
    pub const ALL: [DetectorKind; 4] = [
        DetectorKind::Doppel,
        DetectorKind::WindowedGaussian,
        DetectorKind::SeasonalNaive,
        DetectorKind::Holt,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            DetectorKind::Doppel => "doppel",
            DetectorKind::WindowedGaussian => "windowed-gaussian",
            DetectorKind::SeasonalNaive => "seasonal-naive",
            DetectorKind::Holt => "holt",
        }
    }

    /// A fresh detector of this kind with its default settings.
    pub fn build(self) -> Box<dyn Detector> {
        match self {
            DetectorKind::Doppel => Box::new(Doppel::new(DoppelConfig::default())),
            DetectorKind::WindowedGaussian => Box::new(WindowedGaussian::default()),
            DetectorKind::SeasonalNaive => Box::new(SeasonalNaive::default()),
            DetectorKind::Holt => Box::new(Holt::default()),
        }
    }

    /// The score at or above which this detector alerts by default: Doppel's own calibrated
    /// threshold; a 3σ band for the baselines.
    pub fn default_threshold(self) -> f64 {
        match self {
            DetectorKind::Doppel => DoppelConfig::default().alert_threshold,
            _ => baselines::THREE_SIGMA,
        }
    }
}

/// Runs a detector over a whole series and returns the score of every row.
pub fn scores(detector: &mut dyn Detector, series: &Series) -> Vec<f64> {
    series
        .timestamps
        .iter()
        .zip(&series.values)
        .map(|(&t, &v)| detector.update(t, v).clamp(0.0, 1.0))
        .collect()
}

/// One row of `doppel detect` output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scored {
    /// The timestamp as written in the input.
    pub timestamp: String,
    /// The value.
    pub value: f64,
    /// Anomaly score in [0, 1].
    pub anomaly_score: f64,
    /// 1 when the score reaches Doppel's default alert threshold.
    pub alert: u8,
}

/// Runs Doppel's detector over `series` with its default settings and alert threshold.
pub fn detect(series: &Series) -> Vec<Scored> {
    let config = DoppelConfig::default();
    let threshold = config.alert_threshold;
    let mut d = Doppel::new(config);
    let s = scores(&mut d, series);
    series
        .raw_timestamps
        .iter()
        .zip(&series.values)
        .zip(s)
        .map(|((t, &v), score)| Scored {
            timestamp: t.clone(),
            value: v,
            anomaly_score: score,
            alert: u8::from(score >= threshold),
        })
        .collect()
}

//! Doppel's online anomaly detector.
//!
//! Several views of the series each measure how surprising the new row is, as a robust
//! z-score (distance from a median over an interquartile scale):
//!
//! - **level**: the row against the last `window` rows (spikes, dips, level shifts);
//! - **seasonal**: the row against the median of the same time of day over the last five
//!   days, against past such differences (breaks of the daily pattern);
//! - **forecast** (off by default, see [`DoppelConfig::forecast_view`]): the row against a
//!   short-memory exponential forecast, against past forecast errors;
//! - **shift**: the mean of the last few rows against the long window (a change point that
//!   no single row reveals).
//!
//! Each view's z-score is then compared with the view's own recent history: the ratio to a
//! high quantile of its past values says "more surprising than almost anything lately". This
//! calibrates every series and every view to the same scale without per-series tuning. The
//! largest ratio `R` becomes the score `R / (1 + R)`. After an alert, a refractory period
//! damps further alerts so one incident raises one alert, not fifty.

use std::collections::VecDeque;

use crate::detect::Detector;
use crate::stats::SortedWindow;

/// Settings of [`Doppel`]. The defaults are the ones measured in the README (the same for
/// every series).
#[derive(Debug, Clone, PartialEq)]
pub struct DoppelConfig {
    /// Rows in the long robust baseline.
    pub window: usize,
    /// Rows of each view's own history used to calibrate it.
    pub history: usize,
    /// Quantile of a view's history its z-score is divided by.
    pub reference_quantile: f64,
    /// Rows before the detector gives any score above 0.
    pub warmup: usize,
    /// Season in seconds for the seasonal view.
    pub season: i64,
    /// The seasonal view's baseline is the median of the values at the same time of day over
    /// this many past days (robust to one odd day).
    pub seasonal_days: usize,
    /// Whether the short-memory forecast view counts (measured: with the seasonal view's
    /// five-day median it adds more false alarms than detections on NAB, so it is off).
    pub forecast_view: bool,
    /// Smoothing factor of the short-memory forecast.
    pub fast_alpha: f64,
    /// Rows averaged by the shift view.
    pub shift_rows: usize,
    /// Rows after an alert during which scores are damped.
    pub refractory: usize,
    /// Factor applied to scores during the refractory period.
    pub refractory_damping: f64,
    /// Default alert threshold on the score.
    pub alert_threshold: f64,
    /// Named experimental settings for measuring alternatives (empty by default): `zmin`
    /// (floor of the calibration reference), and `level`, `season`, `fast`, `shift` set to 0
    /// to switch a view off (ablation).
    pub extra: Vec<(String, f64)>,
}

impl DoppelConfig {
    /// An experimental setting by name, or `default`.
    pub fn extra(&self, name: &str, default: f64) -> f64 {
        self.extra
            .iter()
            .find(|(n, _)| n == name)
            .map_or(default, |&(_, v)| v)
    }
}

impl Default for DoppelConfig {
    fn default() -> Self {
        DoppelConfig {
            window: 2000,
            history: 4000,
            reference_quantile: 1.0,
            warmup: 50,
            season: 86_400,
            seasonal_days: 5,
            forecast_view: false,
            fast_alpha: 0.5,
            shift_rows: 12,
            refractory: 100,
            refractory_damping: 0.5,
            alert_threshold: 0.52,
            extra: Vec::new(),
        }
    }
}

/// A robust z-score source with its own calibration history.
#[derive(Debug, Clone)]
struct View {
    residuals: SortedWindow,
    zs: SortedWindow,
}

impl View {
    fn new(window: usize, history: usize) -> Self {
        View {
            residuals: SortedWindow::new(window),
            zs: SortedWindow::new(history),
        }
    }

    /// Robust z of `r` against past residuals (or `None` while there are too few), then
    /// remembers `r`.
    fn z_then_push(&mut self, r: f64) -> Option<f64> {
        let z = if self.residuals.len() >= 10 {
            let med = self.residuals.quantile(0.5);
            let iqr = self.residuals.quantile(0.75) - self.residuals.quantile(0.25);
            let wide = self.residuals.quantile(0.95) - self.residuals.quantile(0.05);
            let scale = (iqr / 1.349)
                .max(wide / 3.29 * 0.25)
                .max(1e-9 * (1.0 + med.abs()));
            Some(((r - med).abs() / scale).min(1e9))
        } else {
            None
        };
        self.residuals.push(r);
        z
    }

    /// The ratio of `z` to the reference quantile of past z's, then remembers `z`.
    fn ratio_then_push(&mut self, z: f64, q: f64, floor: f64) -> f64 {
        let ratio = if self.zs.len() >= 10 {
            let reference = self.zs.quantile(q).max(floor).max(1e-9);
            z / reference
        } else {
            0.0
        };
        self.zs.push(z);
        ratio
    }
}

/// Doppel's detector; see the module documentation.
#[derive(Debug, Clone)]
pub struct Doppel {
    cfg: DoppelConfig,
    rows: usize,
    level: View,
    seasonal: View,
    fast: View,
    shift: View,
    day: VecDeque<(i64, f64)>,
    ewma: Option<f64>,
    recent: VecDeque<f64>,
    since_alert: Option<usize>,
}

impl Doppel {
    /// A detector with the given settings.
    pub fn new(cfg: DoppelConfig) -> Self {
        let (w, h) = (cfg.window, cfg.history);
        Doppel {
            level: View::new(w, h),
            seasonal: View::new(w, h),
            fast: View::new(w, h),
            shift: View::new(w, h),
            day: VecDeque::new(),
            ewma: None,
            recent: VecDeque::new(),
            since_alert: None,
            rows: 0,
            cfg,
        }
    }

    /// The median of the values at the same time of day over the last `days` days.
    fn seasonal_baseline(&self, t: i64, days: usize) -> Option<f64> {
        let mut v: Vec<f64> = (1..=days as i64)
            .filter_map(|k| self.at(t - k * self.cfg.season))
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let m = v.len();
        Some(if m % 2 == 1 {
            v[m / 2]
        } else {
            0.5 * (v[m / 2 - 1] + v[m / 2])
        })
    }

    fn at(&self, target: i64) -> Option<f64> {
        let k = self.day.partition_point(|&(s, _)| s <= target);
        if k == 0 {
            return None;
        }
        let (s, v) = *self.day.get(k - 1)?;
        // Only when a row lies close to the same time of day.
        (target - s <= self.cfg.season / 48).then_some(v)
    }
}

impl Detector for Doppel {
    fn update(&mut self, t: i64, x: f64) -> f64 {
        let q = self.cfg.reference_quantile;
        let fl = self.cfg.extra("zmin", 0.0);
        let on = |n: &str| self.cfg.extra(n, 1.0) > 0.0;
        let (use_level, use_season, use_fast, use_shift) = (
            on("level"),
            on("season"),
            self.cfg.forecast_view && on("fast"),
            on("shift"),
        );
        let mut ratio: f64 = 0.0;

        // Level.
        if let Some(z) = self.level.z_then_push(x) {
            let r = self.level.ratio_then_push(z, q, fl);
            if use_level {
                ratio = ratio.max(r);
            }
        }
        // Seasonal.
        let days = self.cfg.seasonal_days;
        if let Some(prev) = self.seasonal_baseline(t, days)
            && let Some(z) = self.seasonal.z_then_push(x - prev)
        {
            let r = self.seasonal.ratio_then_push(z, q, fl);
            if use_season {
                ratio = ratio.max(r);
            }
        }
        self.day.push_back((t, x));
        while self
            .day
            .get(1)
            .is_some_and(|&(s, _)| s <= t - 8 * self.cfg.season - self.cfg.season / 24)
        {
            self.day.pop_front();
        }
        // Forecast.
        if let Some(f) = self.ewma
            && let Some(z) = self.fast.z_then_push(x - f)
        {
            let r = self.fast.ratio_then_push(z, q, fl);
            if use_fast {
                ratio = ratio.max(r);
            }
        }
        let a = self.cfg.fast_alpha;
        self.ewma = Some(self.ewma.map_or(x, |e| a * x + (1.0 - a) * e));
        // Shift.
        self.recent.push_back(x);
        if self.recent.len() > self.cfg.shift_rows {
            self.recent.pop_front();
        }
        if self.recent.len() == self.cfg.shift_rows {
            let m = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
            if let Some(z) = self.shift.z_then_push(m) {
                let r = self.shift.ratio_then_push(z, q, fl);
                if use_shift {
                    ratio = ratio.max(r);
                }
            }
        }

        self.rows += 1;
        if self.rows <= self.cfg.warmup || !ratio.is_finite() {
            return 0.0;
        }
        let mut score = ratio / (1.0 + ratio);
        if let Some(k) = self.since_alert.as_mut() {
            *k += 1;
            if *k <= self.cfg.refractory {
                score *= self.cfg.refractory_damping;
            } else {
                self.since_alert = None;
            }
        }
        if score >= self.cfg.alert_threshold {
            self.since_alert = Some(0);
        }
        score.clamp(0.0, 1.0)
    }
}

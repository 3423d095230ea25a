//! Forecasting with prediction intervals and automatic daily/weekly seasonality.
//!
//! Doppel's model: the series' seasonal profile (daily or weekly, whichever the data shows by
//! autocorrelation, or none) is the per-phase median of the detrended values over the last
//! cycles; what is left is smoothed by Holt's damped-trend method with factors chosen by
//! one-step error. A damped trend flattens within a few dozen rows, which underestimates a
//! steady rise (load growing week after week, a disk filling): when the pairs of rows a whole
//! number of periods apart agree on a direction, the seasonal Sen slope of the recent rows is
//! extrapolated undamped instead. Intervals are empirical: the model is re-run from many past origins and the
//! errors it actually made at each lead time give the interval's quantiles, so they widen as
//! the real errors do (no normality assumption).
//!
//! [`mase`] scores any [`Method`] on a held-out tail against the in-sample naive forecast, the
//! way Hyndman & Koehler (2006) define it.

use crate::PredictError;
use crate::series::{Series, median_step};
use crate::stats::{quantile, quantile_sorted};

/// Seconds in a day and a week.
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Which forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The last value, forever.
    Naive,
    /// The value one day earlier (or one week, the period [`seasonality`] picks), repeated.
    SeasonalNaive,
    /// Holt's linear smoothing with Prometheus-style fixed factors 0.3 and 0.1.
    Holt,
    /// Doppel's seasonal profile plus damped Holt with fitted factors, or a steady trend (the
    /// seasonal Sen slope) when the series rises or falls steadily.
    Doppel,
}

impl Method {
    /// Every method, Doppel's first.
    pub const ALL: [Method; 4] = [
        Method::Doppel,
        Method::Naive,
        Method::SeasonalNaive,
        Method::Holt,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Naive => "naive",
            Method::SeasonalNaive => "seasonal-naive",
            Method::Holt => "holt",
            Method::Doppel => "doppel",
        }
    }
}

/// The season found in a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Season {
    /// Period in rows.
    pub period: usize,
    /// Period in seconds (a day or a week).
    pub seconds: i64,
    /// Autocorrelation of the detrended series at that lag.
    pub strength: f64,
}

/// Finds a daily or weekly season: the lag (a day or a week of rows at the series' median
/// step) whose autocorrelation of the detrended series is highest, if it exceeds 0.3 and the
/// series holds at least three such periods (two for weekly).
pub fn seasonality(series: &Series) -> Option<Season> {
    let step = series.step()?.max(1);
    let x = &series.values;
    let mut best: Option<Season> = None;
    for (secs, cycles) in [(DAY, 3), (WEEK, 2)] {
        if secs % step != 0 && (secs as f64 / step as f64).fract() > 0.05 {
            continue;
        }
        let period = (secs as f64 / step as f64).round() as usize;
        if period < 2 || x.len() < cycles * period {
            continue;
        }
        let d = detrend(x, period);
        let r = autocorrelation(&d, period);
        if r > 0.3 && best.is_none_or(|b| r > b.strength + 0.05) {
            best = Some(Season {
                period,
                seconds: secs,
                strength: r,
            });
        }
    }
    best
}

/// The series minus its trailing moving average over `period` rows (the first rows use what
/// there is).
fn detrend(x: &[f64], period: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut sum = 0.0;
    for i in 0..x.len() {
        sum += x[i];
        if i >= period {
            sum -= x[i - period];
        }
        let n = (i + 1).min(period) as f64;
        out.push(x[i] - sum / n);
    }
    out
}

/// Sample autocorrelation at `lag`.
fn autocorrelation(x: &[f64], lag: usize) -> f64 {
    if x.len() <= lag + 1 {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let var: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    if var <= 0.0 {
        return 0.0;
    }
    let cov: f64 = x
        .iter()
        .zip(&x[lag..])
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    cov / var
}

/// A fitted model that can forecast from any origin of the series it was fitted on.
#[derive(Debug, Clone)]
struct Fitted {
    method: Method,
    /// Seasonal profile by phase (empty when none).
    profile: Vec<f64>,
    alpha: f64,
    beta: f64,
    phi: f64,
    period: usize,
    /// A steady trend per row (seasonal Sen slope) that replaces the damped one, when the
    /// series shows one.
    trend: Option<f64>,
}

/// Rows the steady trend is measured over (the most recent ones).
const TREND_ROWS: usize = 4000;
/// Kendall's tau of the same-phase pairs at or above which a trend counts as steady.
const TREND_TAU: f64 = 0.5;

/// The seasonal Sen slope per row (Hirsch, Slack & Smith 1982): the median of the slopes
/// between rows a whole number of periods apart within the last [`TREND_ROWS`] rows, so the
/// season cancels out of every slope; without a season, of all pairs of (at most 400 evenly
/// thinned) rows. `Some` only when the pairs agree on the direction (Kendall's tau of the
/// pairs at least [`TREND_TAU`]): a steady rise or fall, not noise or a one-off step.
fn steady_trend(x: &[f64], period: usize) -> Option<f64> {
    let tail = &x[x.len().saturating_sub(TREND_ROWS)..];
    let n = tail.len();
    let period = period.max(1);
    let stride = if period > 1 {
        1
    } else {
        n.div_ceil(400).max(1)
    };
    let mut slopes = Vec::new();
    let (mut up, mut down) = (0usize, 0usize);
    for i in (0..n).step_by(stride) {
        let mut j = i + if period > 1 { period } else { stride };
        while j < n {
            let d = tail[j] - tail[i];
            slopes.push(d / (j - i) as f64);
            if d > 0.0 {
                up += 1;
            } else if d < 0.0 {
                down += 1;
            }
            j += if period > 1 { period } else { stride };
        }
    }
    // At least three periods (or 30 rows) of pairs.
    if slopes.len() < 30 || (period > 1 && n < 3 * period) {
        return None;
    }
    let tau = (up as f64 - down as f64) / slopes.len() as f64;
    if tau.abs() < TREND_TAU {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    Some(quantile_sorted(&slopes, 0.5))
}

impl Fitted {
    fn seasonal(&self, i: usize) -> f64 {
        if self.profile.is_empty() {
            0.0
        } else {
            self.profile[i % self.profile.len()]
        }
    }

    /// Forecasts rows `origin .. origin + h` from the rows before `origin`.
    fn forecast_from(&self, x: &[f64], origin: usize, h: usize) -> Vec<f64> {
        let hist = &x[..origin.min(x.len())];
        let Some(&last) = hist.last() else {
            return vec![0.0; h];
        };
        match self.method {
            Method::Naive => vec![last; h],
            Method::SeasonalNaive => {
                let p = self.period.max(1);
                (0..h)
                    .map(|k| {
                        let back = p * (k / p + 1);
                        let j = origin + k;
                        if j >= back && j - back < hist.len() {
                            hist[j - back]
                        } else {
                            last
                        }
                    })
                    .collect()
            }
            Method::Doppel if self.trend.is_some() => {
                let (l, _) = self.run(hist);
                let t = self.trend.unwrap_or(0.0);
                (0..h)
                    .map(|k| l + t * (k + 1) as f64 + self.seasonal(origin + k))
                    .collect()
            }
            Method::Holt | Method::Doppel => {
                let (l, b) = self.run(hist);
                let mut out = Vec::with_capacity(h);
                let mut damp = 0.0;
                let mut pw = 1.0;
                for k in 0..h {
                    pw *= self.phi;
                    damp += pw;
                    out.push(l + damp * b + self.seasonal(origin + k));
                }
                out
            }
        }
    }

    /// Runs the smoother over `hist` (deseasonalised) and returns the final level and trend.
    fn run(&self, hist: &[f64]) -> (f64, f64) {
        let mut l = hist.first().map_or(0.0, |&v| v - self.seasonal(0));
        let mut b = 0.0;
        for (i, &v) in hist.iter().enumerate().skip(1) {
            let y = v - self.seasonal(i);
            let prev = l;
            l = self.alpha * y + (1.0 - self.alpha) * (l + self.phi * b);
            b = self.beta * (l - prev) + (1.0 - self.beta) * self.phi * b;
        }
        (l, b)
    }

    /// Sum of squared one-step errors over `x`.
    fn sse(&self, x: &[f64]) -> f64 {
        let mut l = x.first().map_or(0.0, |&v| v - self.seasonal(0));
        let mut b = 0.0;
        let mut sse = 0.0;
        for (i, &v) in x.iter().enumerate().skip(1) {
            let y = v - self.seasonal(i);
            let f = l + self.phi * b;
            sse += (y - f).powi(2);
            let prev = l;
            l = self.alpha * y + (1.0 - self.alpha) * f;
            b = self.beta * (l - prev) + (1.0 - self.beta) * self.phi * b;
        }
        sse
    }
}

/// The seasonal profile: per phase, the median of the detrended values over the last
/// `cycles` periods, centred to mean 0.
fn seasonal_profile(x: &[f64], period: usize, cycles: usize) -> Vec<f64> {
    let d = detrend(x, period);
    let start = d
        .len()
        .saturating_sub(period * cycles)
        .max(period.min(d.len()));
    let mut by_phase: Vec<Vec<f64>> = vec![Vec::new(); period];
    for (i, &v) in d.iter().enumerate().skip(start) {
        by_phase[i % period].push(v);
    }
    let mut prof: Vec<f64> = by_phase
        .iter()
        .map(|v| {
            let q = quantile(v, 0.5);
            if q.is_nan() { 0.0 } else { q }
        })
        .collect();
    let mean = prof.iter().sum::<f64>() / period as f64;
    prof.iter_mut().for_each(|v| *v -= mean);
    prof
}

fn fit(x: &[f64], method: Method, season: Option<Season>) -> Fitted {
    let period = season.map_or(1, |s| s.period);
    let mut f = Fitted {
        method,
        profile: Vec::new(),
        alpha: 0.3,
        beta: 0.1,
        phi: 1.0,
        period,
        trend: None,
    };
    if method != Method::Doppel {
        return f;
    }
    f.trend = steady_trend(x, period);
    if let Some(s) = season {
        let cycles = if s.seconds == DAY { 8 } else { 4 };
        f.profile = seasonal_profile(x, s.period, cycles);
    }
    // Fit on the last rows only (enough to see the recent behaviour, and fast).
    let tail = &x[x.len().saturating_sub(4000)..];
    let offset = x.len() - tail.len();
    let mut best = (f64::INFINITY, 0.3, 0.0, 0.98);
    for &alpha in &[0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
        for &beta in &[0.0, 0.005, 0.02, 0.1] {
            for &phi in &[0.9, 0.98] {
                let mut g = f.clone();
                g.alpha = alpha;
                g.beta = beta;
                g.phi = phi;
                // Shift the phase so the tail starts at the right phase.
                if !g.profile.is_empty() {
                    let p = g.profile.len();
                    g.profile.rotate_left(offset % p);
                }
                let e = g.sse(tail);
                if e < best.0 {
                    best = (e, alpha, beta, phi);
                }
            }
        }
    }
    f.alpha = best.1;
    f.beta = best.2;
    f.phi = best.3;
    f
}

/// A forecast with its prediction interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Forecast {
    /// Forecast timestamps (seconds), one step apart after the last row.
    pub timestamps: Vec<i64>,
    /// Point forecast.
    pub mean: Vec<f64>,
    /// Lower bound of the interval.
    pub lower: Vec<f64>,
    /// Upper bound of the interval.
    pub upper: Vec<f64>,
    /// Interval coverage, e.g. 0.9.
    pub level: f64,
    /// Season used, in seconds (86400 or 604800), if any.
    pub season_seconds: Option<i64>,
    /// Step between forecast rows, in seconds.
    pub step: i64,
}

/// Forecasts `horizon` seconds past the last row with `method`, with a `level` (e.g. 0.9)
/// prediction interval from past errors at each lead time.
pub fn forecast(
    series: &Series,
    horizon: i64,
    method: Method,
    level: f64,
) -> Result<Forecast, PredictError> {
    let step = series
        .step()
        .filter(|&s| s > 0)
        .ok_or_else(|| PredictError::TooShort("a forecast needs at least two rows".into()))?;
    let x = &series.values;
    if x.len() < 20 {
        return Err(PredictError::TooShort(format!(
            "{} rows; a forecast needs at least 20",
            x.len()
        )));
    }
    let h = ((horizon as f64 / step as f64).ceil() as usize).max(1);
    let season = seasonality(series);
    let fitted = fit(x, method, season);
    let mean = fitted.forecast_from(x, x.len(), h);
    let (lower, upper) = intervals(x, &fitted, h, level);
    let last = series.timestamps.last().copied().unwrap_or(0);
    Ok(Forecast {
        timestamps: (1..=h as i64).map(|k| last + k * step).collect(),
        lower: mean.iter().zip(&lower).map(|(m, d)| m + d).collect(),
        upper: mean.iter().zip(&upper).map(|(m, d)| m + d).collect(),
        mean,
        level,
        season_seconds: season.map(|s| s.seconds),
        step,
    })
}

/// Empirical interval offsets per lead time: the model is re-run from up to 40 past origins
/// and its errors at each lead time (pooled over neighbouring lead times) give the quantiles.
/// Lead times longer than the history allows grow as the square root of the lead time from
/// the longest measured one.
fn intervals(x: &[f64], fitted: &Fitted, h: usize, level: f64) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let measurable = h.min(n / 3).max(1);
    let min_origin = (n / 3).max(10);
    let last_origin = n - measurable;
    let origins: Vec<usize> = if last_origin <= min_origin {
        vec![last_origin]
    } else {
        let k = 40.min(last_origin - min_origin + 1);
        (0..k)
            .map(|i| last_origin - i * (last_origin - min_origin) / (k - 1).max(1))
            .collect()
    };
    let errors: Vec<Vec<f64>> = origins
        .iter()
        .map(|&o| {
            let f = fitted.forecast_from(x, o, measurable);
            (0..measurable).map(|k| x[o + k] - f[k]).collect()
        })
        .collect();
    let (qlo, qhi) = ((1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0);
    // Lead-time buckets growing geometrically.
    let mut lo = vec![0.0; h];
    let mut hi = vec![0.0; h];
    let mut start = 0;
    while start < measurable {
        let end = (start + 1 + start / 4).min(measurable);
        let mut pool: Vec<f64> = errors
            .iter()
            .flat_map(|e| e[start..end].iter().copied())
            .collect();
        pool.sort_by(f64::total_cmp);
        let (a, b) = (quantile_sorted(&pool, qlo), quantile_sorted(&pool, qhi));
        for k in start..end {
            lo[k] = a.min(0.0);
            hi[k] = b.max(0.0);
        }
        start = end;
    }
    let (a, b) = (lo[measurable - 1], hi[measurable - 1]);
    for k in measurable..h {
        let grow = ((k + 1) as f64 / measurable as f64).sqrt();
        lo[k] = a * grow;
        hi[k] = b * grow;
    }
    (lo, hi)
}

/// MASE of `method` forecasting the last `holdout` rows of `series` from the rows before:
/// the mean absolute error divided by the in-sample mean absolute error of the one-step naive
/// forecast (Hyndman & Koehler 2006). `None` when the series is too short or constant.
pub fn mase(series: &Series, holdout: usize, method: Method) -> Option<f64> {
    let n = series.len();
    if holdout == 0 || n < holdout + 20 {
        return None;
    }
    let train = Series {
        timestamps: series.timestamps[..n - holdout].to_vec(),
        values: series.values[..n - holdout].to_vec(),
        raw_timestamps: Vec::new(),
    };
    let scale: f64 = train
        .values
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .sum::<f64>()
        / (train.len() - 1) as f64;
    if scale <= 0.0 {
        return None;
    }
    let season = seasonality(&train);
    let fitted = fit(&train.values, method, season);
    let f = fitted.forecast_from(&train.values, train.len(), holdout);
    let mae = f
        .iter()
        .zip(&series.values[n - holdout..])
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / holdout as f64;
    Some(mae / scale)
}

/// The number of rows one day spans at the series' median step (at least 1).
pub fn rows_per_day(series: &Series) -> usize {
    median_step(&series.timestamps).map_or(1, |s| {
        ((DAY as f64 / s.max(1) as f64).round() as usize).max(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5-minute series with a daily sine of amplitude 10 around 50.
    fn daily(days: usize, noise: impl Fn(usize) -> f64) -> Series {
        let n = days * 288;
        let ts = (0..n as i64).map(|i| i * 300).collect();
        let v = (0..n)
            .map(|i| 50.0 + 10.0 * (2.0 * std::f64::consts::PI * i as f64 / 288.0).sin() + noise(i))
            .collect();
        Series::new(ts, v)
    }

    #[test]
    fn finds_daily_season_and_none_in_a_line() {
        let s = seasonality(&daily(5, |_| 0.0)).unwrap();
        assert_eq!((s.period, s.seconds), (288, DAY));
        let line = Series::new(
            (0..2000).map(|i| i * 300).collect(),
            (0..2000).map(|i| i as f64).collect(),
        );
        assert_eq!(seasonality(&line), None);
    }

    #[test]
    fn forecasts_a_clean_sine_almost_exactly() {
        let s = daily(10, |_| 0.0);
        let f = forecast(&s, DAY, Method::Doppel, 0.9).unwrap();
        assert_eq!(f.mean.len(), 288);
        assert_eq!(f.season_seconds, Some(DAY));
        // The next day repeats the sine: the forecast is within 0.5 of it everywhere.
        let n = s.len();
        for (k, m) in f.mean.iter().enumerate() {
            let truth = 50.0 + 10.0 * (2.0 * std::f64::consts::PI * (n + k) as f64 / 288.0).sin();
            assert!((m - truth).abs() < 0.5, "k={k}: {m} vs {truth}");
        }
    }

    #[test]
    fn a_steady_rise_is_extrapolated_not_damped_away() {
        // Load growing 20 a day on top of the daily sine, with noise: tomorrow's last row is
        // 20 above today's. A damped trend (phi 0.98) would add at most 49 rows' worth of
        // growth (0.07 of the day's 20).
        let noise = |i: usize| ((i as f64 * 12.9898).sin() * 43_758.545_3).fract() * 2.0 - 1.0;
        let truth = |i: usize| {
            50.0 + 20.0 * i as f64 / 288.0
                + 10.0 * (2.0 * std::f64::consts::PI * i as f64 / 288.0).sin()
        };
        let n = 10 * 288;
        let s = Series::new(
            (0..n as i64).map(|i| i * 300).collect(),
            (0..n).map(|i| truth(i) + noise(i)).collect(),
        );
        let f = forecast(&s, DAY, Method::Doppel, 0.9).unwrap();
        for k in [0, 143, 287] {
            let want = truth(n + k);
            assert!(
                (f.mean[k] - want).abs() < 1.5,
                "k={k}: {} vs {want}",
                f.mean[k]
            );
        }
        // A level series with the same noise has no steady trend.
        assert_eq!(
            steady_trend(&(0..n).map(noise).collect::<Vec<_>>(), 288),
            None
        );
    }

    #[test]
    fn intervals_cover_about_their_level() {
        // Deterministic pseudo-noise, uniform on [-3, 3].
        let noise = |i: usize| ((i as f64 * 12.9898).sin() * 43_758.545_3).fract() * 6.0 - 3.0;
        let s = daily(21, noise);
        let n = s.len();
        let train = Series::new(
            s.timestamps[..n - 288].to_vec(),
            s.values[..n - 288].to_vec(),
        );
        let f = forecast(&train, DAY, Method::Doppel, 0.9).unwrap();
        let inside = f
            .lower
            .iter()
            .zip(&f.upper)
            .zip(&s.values[n - 288..])
            .filter(|((l, u), v)| *l <= *v && *v <= *u)
            .count();
        let cover = inside as f64 / 288.0;
        assert!((0.8..=0.99).contains(&cover), "coverage {cover}");
    }

    #[test]
    fn mase_of_naive_on_a_random_walk_like_series_is_near_its_definition() {
        // A straight line with slope 1: the one-step naive in-sample MAE is 1; forecasting the
        // last value for 10 steps misses by 1..10, mean 5.5 -> MASE 5.5.
        let s = Series::new(
            (0..100).map(|i| i * 60).collect(),
            (0..100).map(|i| i as f64).collect(),
        );
        assert!((mase(&s, 10, Method::Naive).unwrap() - 5.5).abs() < 1e-9);
        // Holt follows the line: far better.
        assert!(mase(&s, 10, Method::Holt).unwrap() < 0.5);
    }
}

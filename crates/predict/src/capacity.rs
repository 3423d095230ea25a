//! Exhaustion forecasts for resources that fill up (disk, a leaking process' memory,
//! connection pools): when does the usage reach the capacity, with an interval.
//!
//! The growth rate is the Theil–Sen slope (the median of the slopes between all pairs of
//! points; robust to spikes, cleanups and up to 29% outliers) over the recent history, and its
//! confidence interval is Sen's (1968) rank interval from Kendall's S statistic. The time to
//! full is `(capacity − level now) / slope`, with the interval from the slope's bounds.

use crate::PredictError;
use crate::series::{Series, human_duration};
use crate::stats::normal_quantile;

/// When a resource runs out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Exhaustion {
    /// Growth per second (Theil–Sen).
    pub slope_per_second: f64,
    /// The fitted level at the last row.
    pub level_now: f64,
    /// The capacity it was measured against.
    pub capacity: f64,
    /// Seconds until full at the estimated rate (`None`: not growing).
    pub seconds_to_full: Option<f64>,
    /// Earliest plausible time to full, in seconds (from the slope's upper bound).
    pub earliest: Option<f64>,
    /// Latest plausible time to full, in seconds (`None`: the slope's lower bound is not
    /// positive, so it may never fill).
    pub latest: Option<f64>,
    /// Interval coverage, e.g. 0.9.
    pub level: f64,
}

impl Exhaustion {
    /// The sentence people read: `full in 3d 4h (90% interval 2d 20h to 3d 16h)`.
    pub fn describe(&self) -> String {
        match self.seconds_to_full {
            None => "not filling up".into(),
            Some(s) if s <= 0.0 => "full now".into(),
            Some(s) => {
                let pct = (self.level * 100.0).round();
                let lo = self.earliest.map_or("now".into(), human_duration);
                let hi = self.latest.map_or("never".into(), human_duration);
                format!(
                    "full in {} ({pct}% interval {lo} to {hi})",
                    human_duration(s)
                )
            }
        }
    }
}

/// Estimates when `series` reaches `capacity`, from its last `window` seconds (all of it when
/// `None`), with a `level` interval (e.g. 0.9).
pub fn exhaustion(
    series: &Series,
    capacity: f64,
    window: Option<i64>,
    level: f64,
) -> Result<Exhaustion, PredictError> {
    let last_t = *series.timestamps.last().ok_or(PredictError::Empty)?;
    let start = window.map_or(0, |w| {
        series.timestamps.partition_point(|&t| t < last_t - w)
    });
    let ts = &series.timestamps[start..];
    let vs = &series.values[start..];
    if ts.len() < 5 {
        return Err(PredictError::TooShort(format!(
            "{} rows in the window; an exhaustion forecast needs at least 5",
            ts.len()
        )));
    }
    // At most 300 evenly spaced points: 45k pairs.
    let stride = ts.len().div_ceil(300);
    let pts: Vec<(f64, f64)> = ts
        .iter()
        .zip(vs)
        .step_by(stride)
        .map(|(&t, &v)| ((t - last_t) as f64, v))
        .collect();
    let fit = theil_sen(&pts, level)
        .ok_or_else(|| PredictError::TooShort("all rows share one timestamp".into()))?;
    let (slope, slope_lo, slope_hi) = (fit.slope, fit.lower, fit.upper);
    let level_now = fit.intercept;
    let room = capacity - level_now;
    let time = |s: f64| (s > 0.0).then(|| (room / s).max(0.0));
    Ok(Exhaustion {
        slope_per_second: slope,
        level_now,
        capacity,
        seconds_to_full: if room <= 0.0 { Some(0.0) } else { time(slope) },
        earliest: time(slope_hi),
        latest: time(slope_lo),
        level,
    })
}

/// A Theil–Sen line with Sen's confidence interval of its slope.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TheilSen {
    /// The median of the pairwise slopes.
    pub slope: f64,
    /// Lower bound of the slope's interval.
    pub lower: f64,
    /// Upper bound of the slope's interval.
    pub upper: f64,
    /// The median of `y − slope·x`: the line's value at `x = 0`.
    pub intercept: f64,
}

/// Fits `y = intercept + slope·x` by Theil–Sen (the median of the slopes between all pairs
/// of points with different `x`), with Sen's (1968) rank interval of the slope at `level`
/// from the variance of Kendall's S, `n(n−1)(2n+5)/18` (no ties correction). `None` when no
/// two points differ in `x`. Quadratic in the number of points: thin long series first.
pub fn theil_sen(pts: &[(f64, f64)], level: f64) -> Option<TheilSen> {
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dx = pts[j].0 - pts[i].0;
            if dx != 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    let slope = crate::stats::quantile_sorted(&slopes, 0.5);
    let n = pts.len() as f64;
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let c = z * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let lo_rank = (((m as f64 - c) / 2.0).floor().max(0.0) as usize).min(m - 1);
    let hi_rank = ((((m as f64 + c) / 2.0).ceil()) as usize).min(m - 1);
    let mut intercepts: Vec<f64> = pts.iter().map(|&(x, y)| y - slope * x).collect();
    intercepts.sort_by(f64::total_cmp);
    Some(TheilSen {
        slope,
        lower: slopes[lo_rank],
        upper: slopes[hi_rank],
        intercept: crate::stats::quantile_sorted(&intercepts, 0.5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_growing_one_gib_an_hour() {
        // 48 hourly rows growing 1 (GiB) per hour from 10; capacity 100 -> at the last row the
        // level is 57, so 43 hours remain: "1d 19h".
        let s = Series::new(
            (0..48).map(|i| i * 3600).collect(),
            (0..48).map(|i| 10.0 + i as f64).collect(),
        );
        let e = exhaustion(&s, 100.0, None, 0.9).unwrap();
        assert!((e.slope_per_second * 3600.0 - 1.0).abs() < 1e-9);
        assert!((e.level_now - 57.0).abs() < 1e-9);
        assert!((e.seconds_to_full.unwrap() - 43.0 * 3600.0).abs() < 1e-6);
        // A perfect line: every pairwise slope is the same, the interval collapses.
        assert_eq!(
            e.describe(),
            "full in 1d 19h (90% interval 1d 19h to 1d 19h)"
        );
    }

    #[test]
    fn noise_widens_the_interval_and_spikes_do_not_move_it() {
        let noise = |i: i64| ((i as f64 * 12.9898).sin() * 43_758.545_3).fract() * 2.0 - 1.0;
        let mut v: Vec<f64> = (0..200).map(|i| 10.0 + 0.5 * i as f64 + noise(i)).collect();
        v[50] = 500.0; // a spike
        v[120] = 0.0; // a dip
        let s = Series::new((0..200).map(|i| i * 3600).collect(), v);
        let e = exhaustion(&s, 200.0, None, 0.9).unwrap();
        // Slope close to 0.5/h despite the outliers.
        assert!((e.slope_per_second * 3600.0 - 0.5).abs() < 0.02);
        let (lo, mid, hi) = (
            e.earliest.unwrap(),
            e.seconds_to_full.unwrap(),
            e.latest.unwrap(),
        );
        assert!(lo < mid && mid < hi);
        // About (200 - 109.5) / 0.5 = 181 hours.
        assert!((mid / 3600.0 - 181.0).abs() < 8.0, "{}", mid / 3600.0);
    }

    #[test]
    fn a_shrinking_resource_never_fills() {
        let s = Series::new(
            (0..10).map(|i| i * 60).collect(),
            (0..10).map(|i| 50.0 - i as f64).collect(),
        );
        let e = exhaustion(&s, 100.0, None, 0.9).unwrap();
        assert_eq!(e.seconds_to_full, None);
        assert_eq!(e.describe(), "not filling up");
    }
}

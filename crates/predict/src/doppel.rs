//! Doppel's online anomaly detector.
//!
//! Several views of the series each measure how surprising the new row is, as a robust
//! z-score (distance from a median over an interquartile scale):
//!
//! - **level**: the row against the last `window` rows (spikes, dips, level shifts);
//! - **seasonal**: the row against the median of the rows at (and one sampling step either
//!   side of) the same time of day over the last five days, against past such differences
//!   (breaks of the daily pattern);
//! - **shift**: the mean of the last few rows against the long window (a change point that
//!   no single row reveals);
//! - **seasonal shift**: the mean of the last rows' seasonal residuals (a sustained break of
//!   the daily pattern, such as a holiday, that no single row reveals);
//! - **long shift**: the mean of the last hundred rows (a slow level change);
//! - **day shift**: the mean of the last few hundred rows (about a day of 5-minute rows: a
//!   level change too small for the hundred-row mean to stand out), counted once the view
//!   has seen as many such means as rows it averages;
//! - **forecast** (off by default, see [`DoppelConfig::forecast_view`]): the row against a
//!   short-memory exponential forecast, against past forecast errors.
//!
//! Each view's z-score is then compared with the view's own recent history: the ratio to the
//! largest of its past values says "more surprising than anything lately". This calibrates
//! every series and every view to the same scale without per-series tuning. While a view's
//! history is still short, its largest value understates what a full history would hold, so
//! the reference is scaled up by a small-sample factor. The largest ratio plus a small part
//! of the second largest (two views agreeing is more evidence than one) gives `R`, and the
//! score is `R / (1 + R)`. After an alert, a refractory period damps further alerts so one
//! incident raises one alert, not fifty.

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
    /// The seasonal baseline takes, on each past day, the values within this many sampling
    /// steps (the median of the last 100 intervals between rows) of the same time of day (1:
    /// that row and its neighbours, 15 values over five days), so a daily pattern whose
    /// timing wanders by a row is not a surprise and one odd row weighs less; 0 takes only
    /// the row at that time.
    pub seasonal_jitter: f64,
    /// Whether the short-memory forecast view counts (measured: with the seasonal view's
    /// five-day median it adds more false alarms than detections on NAB, so it is off).
    pub forecast_view: bool,
    /// Smoothing factor of the short-memory forecast.
    pub fast_alpha: f64,
    /// Rows averaged by the shift view.
    pub shift_rows: usize,
    /// Rows averaged by the seasonal-shift view (the mean of the recent rows' seasonal
    /// residuals: a sustained break of the daily pattern, e.g. a holiday); 0 switches it off.
    pub seasonal_shift_rows: usize,
    /// Rows averaged by the long-shift view (a slow level change over hours); 0 switches it
    /// off.
    pub long_shift_rows: usize,
    /// Rows averaged by the day-scale shift view (about a day of 5-minute rows: a level
    /// change too small for the hundred-row mean to stand out); 0 switches it off.
    pub day_shift_rows: usize,
    /// Weight of the second-largest view surprise added to the largest (agreement of views).
    pub agreement: f64,
    /// While a view's calibration history is shorter than `history`, its largest z is scaled
    /// up by `(ln history / ln n)^this` (the maximum of `n` light-tailed values grows like
    /// `ln n`); 0 switches the correction off.
    pub short_history_exponent: f64,
    /// Rows after an alert during which scores are damped.
    pub refractory: usize,
    /// Factor applied to scores during the refractory period.
    pub refractory_damping: f64,
    /// Default alert threshold on the score.
    pub alert_threshold: f64,
    /// Named experimental settings for measuring alternatives (empty by default): `zmin`
    /// (floor of the calibration reference); `level`, `season`, `fast`, `shift` set to 0 to
    /// switch a view off (ablation); `tail` (a fraction, e.g. 0.02: calibrate by the tail
    /// probability of an exponential fit to that top fraction of past z's instead of the
    /// ratio to the largest; `bmin` floors its scale); `grow` (cap a z remembered for
    /// calibration at this multiple of the reference, so one anomaly does not mask the next);
    /// `minz` (past z's needed before a view counts, default 10); `week` (weeks in a weekly
    /// view's median baseline, 0 = off), `wshift` (rows of its shift view), `wpoint` (0 = the
    /// weekly point view off); `env` (a seasonal-envelope view: how far the row lies outside
    /// the range of the values within `env` sampling steps of the same time of day on the
    /// past days, over the seasonal view's scale; 0 = off); `cusum` (a two-sided CUSUM view
    /// of the row's robust z against the level baseline, with this allowance `k`; 0 = off);
    /// `signed` (calibrate rows above and below the centre separately, each against the
    /// largest past z on its own side: 1 = every view, 2 = the level and seasonal views, 3 =
    /// the shift views; `sfloor` holds a side's reference at least at this fraction of the
    /// two-sided one, < 0 for `ln(n/2) / ln n`, the largest of half as many values);
    /// `excl` (for this many rows from an alert, a view remembers its z capped at the
    /// reference it was measured against, so an incident does not raise the bar for the
    /// next); `rmax` (the reference is the larger of the `q` quantile of the history and the
    /// largest z of its last `rmax` rows); `opp` (no refractory damping for a row on the
    /// other side of the level baseline than the alert); `ramp` (the refractory damping
    /// fades linearly over the period); `lastgap` (the sampling step is the last interval
    /// between rows, not the median of the last 100).
    pub extra: Vec<(String, f64)>,
}

impl DoppelConfig {
    /// An experimental setting by name (the last one given wins), or `default`.
    pub fn extra(&self, name: &str, default: f64) -> f64 {
        self.extra
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(default, |&(_, v)| v)
    }
}

impl Default for DoppelConfig {
    fn default() -> Self {
        DoppelConfig {
            window: 4000,
            history: 6000,
            reference_quantile: 1.0,
            warmup: 50,
            season: 86_400,
            seasonal_days: 5,
            seasonal_jitter: 1.0,
            forecast_view: false,
            fast_alpha: 0.5,
            shift_rows: 12,
            seasonal_shift_rows: 24,
            long_shift_rows: 100,
            day_shift_rows: 300,
            agreement: 0.05,
            short_history_exponent: 0.5,
            refractory: 100,
            refractory_damping: 0.5,
            alert_threshold: 0.51,
            extra: Vec::new(),
        }
    }
}

/// A robust z-score source with its own calibration history.
#[derive(Debug, Clone)]
struct View {
    residuals: SortedWindow,
    zs: SortedWindow,
    zs_down: SortedWindow,
    history: usize,
    pending: Option<(f64, f64, f64, bool)>,
}

impl View {
    fn new(window: usize, history: usize) -> Self {
        View {
            residuals: SortedWindow::new(window),
            zs: SortedWindow::new(history),
            zs_down: SortedWindow::new(history),
            history,
            pending: None,
        }
    }

    /// Robust z of `r` against past residuals (or `None` while there are too few), then
    /// remembers `r`.
    fn z_then_push(&mut self, r: f64) -> Option<f64> {
        let z = self
            .center_scale()
            .map(|(med, scale)| ((r - med) / scale).clamp(-1e9, 1e9));
        self.residuals.push(r);
        z
    }

    /// The median and robust scale of past residuals, once there are 10 of them.
    fn center_scale(&self) -> Option<(f64, f64)> {
        (self.residuals.len() >= 10).then(|| {
            let med = self.residuals.quantile(0.5);
            let iqr = self.residuals.quantile(0.75) - self.residuals.quantile(0.25);
            let wide = self.residuals.quantile(0.95) - self.residuals.quantile(0.05);
            let scale = (iqr / 1.349)
                .max(wide / 3.29 * 0.25)
                .max(1e-9 * (1.0 + med.abs()));
            (med, scale)
        })
    }

    /// The ratio of `|z|` to the reference quantile of past z's; [`View::commit`] then
    /// remembers `z` (once the row's alert decision is known).
    fn ratio_then_push(&mut self, z: f64, c: &Calib) -> f64 {
        let n = self.zs.len();
        let signed = c.signed && z < 0.0;
        let (ratio, reference) = if n >= c.min {
            // While the history is short, its largest z understates the largest of a full
            // history; for a light (exponential) tail the maximum of n values grows like
            // ln n, so scale up by ln(history) / ln(n).
            let young = ((self.history.max(10) as f64).ln() / (n.max(10) as f64).ln())
                .max(1.0)
                .powf(c.young);
            let side = if !c.signed {
                self.zs.quantile(c.q)
            } else {
                let both = self.zs.quantile(c.q).max(self.zs_down.quantile(c.q));
                let w = if signed { &self.zs_down } else { &self.zs };
                // One side's largest comes from about half as many excursions as both sides'
                // (the maximum of n exponential-tailed values grows like ln n), so it is held
                // at least at `sfloor` (< 0: ln(n/2) / ln n) times the two-sided largest.
                let floor = if c.side_floor < 0.0 {
                    let m = n.max(10) as f64;
                    (m / 2.0).ln() / m.ln()
                } else {
                    c.side_floor
                };
                w.quantile(c.q).max(floor * both)
            };
            // With `rmax`, the reference is the larger of the quantile over the whole history
            // and the largest over its last `rmax` rows.
            let recent = if c.recent_rows > 0 {
                let d = self.zs.recent();
                d.iter()
                    .skip(d.len().saturating_sub(c.recent_rows))
                    .fold(0.0_f64, |a, &b| a.max(b))
            } else {
                0.0
            };
            let reference = side.max(recent).max(c.floor).max(1e-9) * young;
            (z.abs() / reference, reference)
        } else {
            (0.0, f64::INFINITY)
        };
        self.pending = Some((z, reference * c.grow, reference, c.signed));
        ratio
    }

    /// Remembers the z of the row [`View::ratio_then_push`] measured last: capped at the
    /// reference it was measured against while `incident` (so an anomaly does not raise the
    /// bar for the next one), and at `grow` times it always.
    fn commit(&mut self, incident: bool) {
        if let Some((z, grow_cap, reference, signed)) = self.pending.take() {
            let cap = if incident { reference } else { grow_cap };
            let keep = z.abs().min(cap);
            if !signed {
                self.zs.push(keep);
            } else if z < 0.0 {
                self.zs.push(0.0);
                self.zs_down.push(keep);
            } else {
                self.zs.push(keep);
                self.zs_down.push(0.0);
            }
        }
    }

    /// How surprising `z` is against the view's past z's, as `-log10` of its tail
    /// probability relative to `log10` of the history length (1 = as rare as the rarest of
    /// the history): empirical below the top fraction `f` of past z's, an exponential tail
    /// (peaks over threshold, a generalised Pareto of shape 0) fitted to that top fraction
    /// above it. Then remembers `z`.
    fn tail_then_push(&mut self, z: f64, f: f64, beta_min: f64) -> f64 {
        let z = z.abs();
        let n = self.zs.len();
        let out = if n >= 50 {
            let sorted = self.zs.sorted();
            let k = ((n as f64 * f).ceil() as usize).clamp(5, n);
            let top = sorted.get(n - k..).unwrap_or(&[]);
            let u = top.first().copied().unwrap_or(0.0);
            let p = if z <= u {
                self.zs.fraction_at_least(z)
            } else {
                let mean_excess = top.iter().map(|v| v - u).sum::<f64>() / k as f64;
                let beta = mean_excess.max(beta_min).max(1e-9);
                (k as f64 / n as f64) * (-(z - u) / beta).exp()
            };
            -p.max(1e-300).log10() / (n as f64).log10()
        } else {
            0.0
        };
        self.zs.push(z);
        out
    }

    /// The calibrated surprise of `z`: ratio to a quantile of past z's, or the tail form.
    fn calibrate(&mut self, z: f64, c: &Calib) -> f64 {
        if c.tail > 0.0 {
            self.tail_then_push(z, c.tail, c.beta_min)
        } else {
            self.ratio_then_push(z, c)
        }
    }
}

/// How views' z-scores are calibrated (see [`View::calibrate`]).
#[derive(Clone)]
struct Calib {
    q: f64,
    floor: f64,
    tail: f64,
    beta_min: f64,
    grow: f64,
    min: usize,
    young: f64,
    signed: bool,
    side_floor: f64,
    recent_rows: usize,
}

/// The median of `v` (`None` when empty).
fn median(mut v: Vec<f64>) -> Option<f64> {
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

/// Doppel's detector; see the module documentation.
#[derive(Debug, Clone)]
pub struct Doppel {
    cfg: DoppelConfig,
    rows: usize,
    level: View,
    seasonal: View,
    fast: View,
    shift: View,
    weekly: View,
    long_shift: View,
    seasonal_shift: View,
    long_recent: VecDeque<f64>,
    seasonal_recent: VecDeque<f64>,
    weekly_shift: View,
    weekly_recent: VecDeque<f64>,
    envelope: View,
    step: i64,
    cusum_view: View,
    cusum: (f64, f64),
    day_shift: View,
    day_recent: VecDeque<f64>,
    day: VecDeque<(i64, f64)>,
    ewma: Option<f64>,
    recent: VecDeque<f64>,
    since_alert: Option<usize>,
    alert_sign: f64,
    gaps: VecDeque<i64>,
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
            weekly: View::new(w, h),
            long_shift: View::new(w, h),
            seasonal_shift: View::new(w, h),
            long_recent: VecDeque::new(),
            seasonal_recent: VecDeque::new(),
            weekly_shift: View::new(w, h),
            weekly_recent: VecDeque::new(),
            envelope: View::new(w, h),
            step: 0,
            cusum_view: View::new(w, h),
            cusum: (0.0, 0.0),
            day_shift: View::new(w, h),
            day_recent: VecDeque::new(),
            day: VecDeque::new(),
            ewma: None,
            recent: VecDeque::new(),
            since_alert: None,
            gaps: VecDeque::new(),
            alert_sign: 0.0,
            rows: 0,
            cfg,
        }
    }

    /// Remembers every view's last z (see [`View::commit`]).
    fn commit_all(&mut self, incident: bool) {
        for v in [
            &mut self.level,
            &mut self.seasonal,
            &mut self.fast,
            &mut self.shift,
            &mut self.weekly,
            &mut self.long_shift,
            &mut self.seasonal_shift,
            &mut self.weekly_shift,
            &mut self.envelope,
            &mut self.cusum_view,
            &mut self.day_shift,
        ] {
            v.commit(incident);
        }
    }

    /// The median of the values at the same time of day over the last `days` days: on each
    /// day, the values within `seasonal_jitter` sampling steps of that time (so the rows just
    /// before and after it with the default 1), or the row at that time when the sampling
    /// step is not known yet or the setting is 0.
    fn seasonal_baseline(&self, t: i64, days: usize) -> Option<f64> {
        let j = self.cfg.seasonal_jitter;
        if j <= 0.0 || self.step <= 0 {
            return self.periodic_baseline(t, self.cfg.season, days);
        }
        let tol = (j * self.step as f64) as i64;
        let mut v = Vec::with_capacity(days * 3);
        for k in 1..=days as i64 {
            let c = t - k * self.cfg.season;
            let from = self.day.partition_point(|&(s, _)| s < c - tol);
            v.extend(
                self.day
                    .range(from..)
                    .take_while(|&&(s, _)| s <= c + tol)
                    .map(|&(_, x)| x),
            );
        }
        median(v)
    }

    /// The median of the values one, two, ... `count` periods of `period` seconds earlier.
    fn periodic_baseline(&self, t: i64, period: i64, count: usize) -> Option<f64> {
        median(
            (1..=count as i64)
                .filter_map(|k| self.at(t - k * period))
                .collect(),
        )
    }

    /// The smallest and largest values within `tol` seconds of the same time of day on each
    /// of the last `days` days.
    fn envelope_at(&self, t: i64, days: usize, tol: i64) -> Option<(f64, f64)> {
        let mut out: Option<(f64, f64)> = None;
        for k in 1..=days as i64 {
            let c = t - k * self.cfg.season;
            let from = self.day.partition_point(|&(s, _)| s < c - tol);
            for &(s, v) in self.day.range(from..) {
                if s > c + tol {
                    break;
                }
                out = Some(out.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
        }
        out
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
        let c = Calib {
            q: self.cfg.reference_quantile,
            floor: self.cfg.extra("zmin", 0.0),
            tail: self.cfg.extra("tail", 0.0),
            beta_min: self.cfg.extra("bmin", 0.25),
            grow: self.cfg.extra("grow", f64::INFINITY),
            min: self.cfg.extra("minz", 10.0) as usize,
            young: self.cfg.short_history_exponent,
            signed: self.cfg.extra("signed", 0.0) > 0.0,
            side_floor: self.cfg.extra("sfloor", 0.0),
            recent_rows: self.cfg.extra("rmax", 0.0) as usize,
        };
        // `signed`: 1 = every view, 2 = the point views only, 3 = the shift views only.
        let sg = self.cfg.extra("signed", 0.0) as i64;
        let cp = Calib {
            signed: sg == 1 || sg == 2,
            ..c.clone()
        };
        let cs = Calib {
            signed: sg == 1 || sg == 3,
            ..c.clone()
        };
        let on = |n: &str| self.cfg.extra(n, 1.0) > 0.0;
        let (use_level, use_season, use_fast, use_shift) = (
            on("level"),
            on("season"),
            self.cfg.forecast_view && on("fast"),
            on("shift"),
        );
        let mut rs: Vec<f64> = Vec::with_capacity(8);

        // CUSUM of the row's signed robust z against the level baseline.
        let k = self.cfg.extra("cusum", 0.0);
        if k > 0.0
            && let Some((med, scale)) = self.level.center_scale()
        {
            let zs = ((x - med) / scale).clamp(-1e3, 1e3);
            self.cusum.0 = (self.cusum.0 + zs - k).max(0.0);
            self.cusum.1 = (self.cusum.1 - zs - k).max(0.0);
            rs.push(
                self.cusum_view
                    .calibrate(self.cusum.0.max(self.cusum.1), &c),
            );
        }
        // Day-scale shift: the mean of the last few hundred rows.
        let s2 = self.cfg.day_shift_rows;
        if s2 > 0 {
            self.day_recent.push_back(x);
            if self.day_recent.len() > s2 {
                self.day_recent.pop_front();
            }
            if self.day_recent.len() == s2 {
                let m = self.day_recent.iter().sum::<f64>() / s2 as f64;
                // Means of overlapping windows move together, so the first ones have almost
                // no spread and their z's are huge: they are remembered, not counted, until
                // the view has seen a fifth as many means as rows it averages (60 of 300;
                // `dmin` is the fraction). Counted from the first mean the view raised false
                // alerts on the demo twin; from 30 to 100 means NAB scores the same.
                let enough =
                    self.day_shift.zs.len() as f64 >= self.cfg.extra("dmin", 0.2) * s2 as f64;
                if let Some(z) = self.day_shift.z_then_push(m) {
                    let r = self.day_shift.calibrate(z, &cs);
                    if enough {
                        rs.push(r);
                    }
                }
            }
        }
        // Level.
        if let Some(z) = self.level.z_then_push(x) {
            let r = self.level.calibrate(z, &cp);
            if use_level {
                rs.push(r);
            }
        }
        // Seasonal.
        let season_prev = self.seasonal_baseline(t, self.cfg.seasonal_days);
        if let Some(prev) = season_prev
            && let Some(z) = self.seasonal.z_then_push(x - prev)
        {
            let r = self.seasonal.calibrate(z, &cp);
            if use_season {
                rs.push(r);
            }
        }
        // Seasonal shift: the mean of the last rows' seasonal residuals.
        let ss = self.cfg.seasonal_shift_rows;
        if ss > 0
            && let Some(prev) = season_prev
        {
            self.seasonal_recent.push_back(x - prev);
            if self.seasonal_recent.len() > ss {
                self.seasonal_recent.pop_front();
            }
            if self.seasonal_recent.len() == ss {
                let m = self.seasonal_recent.iter().sum::<f64>() / ss as f64;
                if let Some(z) = self.seasonal_shift.z_then_push(m) {
                    rs.push(self.seasonal_shift.calibrate(z, &cs));
                }
            }
        }
        // Seasonal envelope: how far the row lies outside the range of the values near the
        // same time of day on past days (tolerates daily patterns that jitter by a few rows).
        let env = self.cfg.extra("env", 0.0);
        if env > 0.0 && self.step > 0 {
            let tol = (env * self.step as f64) as i64;
            if let Some((lo, hi)) = self.envelope_at(t, self.cfg.seasonal_days, tol)
                && let Some((_, scale)) = self.seasonal.center_scale()
            {
                let r = if x > hi {
                    x - hi
                } else if x < lo {
                    lo - x
                } else {
                    0.0
                };
                let z = (r / scale).min(1e9);
                if self.envelope.residuals.len() >= 10 {
                    rs.push(self.envelope.calibrate(z, &c));
                }
                self.envelope.residuals.push(r);
            }
        }
        if let Some(&(last, _)) = self.day.back()
            && t > last
        {
            // The sampling step: the median of the last 100 intervals (irregular series have
            // gaps of many sizes; the last one alone made the seasonal neighbours wander).
            self.gaps.push_back(t - last);
            if self.gaps.len() > 100 {
                self.gaps.pop_front();
            }
            self.step = if self.cfg.extra("lastgap", 0.0) > 0.0 {
                t - last
            } else {
                let mut g: Vec<i64> = self.gaps.iter().copied().collect();
                g.sort_unstable();
                g[g.len() / 2]
            };
        }
        // Weekly.
        let weeks = self.cfg.extra("week", 0.0) as usize;
        let ws = self.cfg.extra("wshift", 0.0) as usize;
        let weekly = self.cfg.extra("wpoint", 1.0) > 0.0;
        if weeks > 0
            && let Some(prev) = self.periodic_baseline(t, 7 * self.cfg.season, weeks)
        {
            if let Some(z) = self.weekly.z_then_push(x - prev) {
                let r = self.weekly.calibrate(z, &c);
                if weekly {
                    rs.push(r);
                }
            }
            if ws > 0 {
                self.weekly_recent.push_back(x - prev);
                if self.weekly_recent.len() > ws {
                    self.weekly_recent.pop_front();
                }
                if self.weekly_recent.len() == ws {
                    let m = self.weekly_recent.iter().sum::<f64>() / ws as f64;
                    if let Some(z) = self.weekly_shift.z_then_push(m) {
                        rs.push(self.weekly_shift.calibrate(z, &c));
                    }
                }
            }
        }
        // Long shift.
        let ls = self.cfg.long_shift_rows;
        if ls > 0 {
            self.long_recent.push_back(x);
            if self.long_recent.len() > ls {
                self.long_recent.pop_front();
            }
            if self.long_recent.len() == ls {
                let m = self.long_recent.iter().sum::<f64>() / ls as f64;
                if let Some(z) = self.long_shift.z_then_push(m) {
                    rs.push(self.long_shift.calibrate(z, &cs));
                }
            }
        }
        self.day.push_back((t, x));
        let keep_days = (8_i64).max(7 * weeks as i64 + 1);
        while self
            .day
            .get(1)
            .is_some_and(|&(s, _)| s <= t - keep_days * self.cfg.season - self.cfg.season / 24)
        {
            self.day.pop_front();
        }
        // Forecast.
        if let Some(f) = self.ewma
            && let Some(z) = self.fast.z_then_push(x - f)
        {
            let r = self.fast.calibrate(z, &c);
            if use_fast {
                rs.push(r);
            }
        }
        let a = self.cfg.fast_alpha;
        self.ewma = Some(self.ewma.map_or(x, |e| a * x + (1.0 - a) * e));
        // Shift.
        self.recent.push_back(x);
        let sr = self.cfg.shift_rows;
        if self.recent.len() > sr {
            self.recent.pop_front();
        }
        if self.recent.len() == sr {
            let m = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
            if let Some(z) = self.shift.z_then_push(m) {
                let r = self.shift.calibrate(z, &cs);
                if use_shift {
                    rs.push(r);
                }
            }
        }

        rs.retain(|r| !r.is_nan());
        rs.sort_by(|a, b| b.total_cmp(a));
        // The largest calibrated surprise, plus a little of the second largest: two views
        // agreeing is more evidence than one.
        let ratio = rs.first().copied().unwrap_or(0.0)
            + self.cfg.agreement * rs.get(1).copied().unwrap_or(0.0);
        self.rows += 1;
        if self.rows <= self.cfg.warmup || !ratio.is_finite() {
            self.commit_all(false);
            return 0.0;
        }
        let mut score = ratio / (1.0 + ratio);
        // The direction of the row against the level baseline.
        let sign = self.level.pending.map_or(0.0, |(z, _, _, _)| z.signum());
        let opposite = self.cfg.extra("opp", 0.0) > 0.0 && sign * self.alert_sign < 0.0;
        if let Some(k) = self.since_alert.as_mut() {
            *k += 1;
            if *k <= self.cfg.refractory {
                if !opposite {
                    // `ramp`: the damping fades linearly over the period.
                    let d = self.cfg.refractory_damping;
                    let f = if self.cfg.extra("ramp", 0.0) > 0.0 {
                        d + (1.0 - d) * (*k as f64 / self.cfg.refractory as f64)
                    } else {
                        d
                    };
                    score *= f;
                }
            } else {
                self.since_alert = None;
            }
        }
        if score >= self.cfg.alert_threshold {
            self.since_alert = Some(0);
            self.alert_sign = sign;
        }
        let excl = self.cfg.extra("excl", 0.0) as usize;
        let incident = self.since_alert.is_some_and(|k| k < excl);
        self.commit_all(incident);
        score.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Approximately normal noise from a fixed linear congruential generator (sum of twelve
    /// uniforms minus six), so the tests are deterministic.
    fn noise(n: usize) -> Vec<f64> {
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        let mut u = move || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| (0..12).map(|_| u()).sum::<f64>() - 6.0)
            .collect()
    }

    /// Ten days of 5-minute rows: a daily sine plus noise (sd 0.5); on day 8 from 10:00 to
    /// 16:00 the level is 0.8 higher (1.6 noise sd: no single row stands out).
    fn sustained_break() -> (Vec<i64>, Vec<f64>, std::ops::Range<usize>) {
        let n = 288 * 10;
        let e = noise(n);
        let broken = 288 * 8 + 120..288 * 8 + 192;
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_400_000_000 + 300 * i).collect();
        let xs = (0..n)
            .map(|i| {
                let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
                let shift = if broken.contains(&i) { 0.8 } else { 0.0 };
                10.0 + 5.0 * phase.sin() + 0.5 * e[i] + shift
            })
            .collect();
        (ts, xs, broken)
    }

    fn alerts(cfg: DoppelConfig, ts: &[i64], xs: &[f64]) -> Vec<usize> {
        let thr = cfg.alert_threshold;
        let mut d = Doppel::new(cfg);
        ts.iter()
            .zip(xs)
            .enumerate()
            .filter(|&(_, (&t, &x))| d.update(t, x) >= thr)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn seasonal_shift_view_catches_a_sustained_break_no_row_shows() {
        let (ts, xs, broken) = sustained_break();
        // Row 600 on: past NAB's probation on a series this long.
        let with = alerts(DoppelConfig::default(), &ts, &xs);
        let late = |a: &Vec<usize>| a.iter().copied().filter(|&i| i >= 600).collect::<Vec<_>>();
        let with = late(&with);
        assert!(with.iter().any(|i| broken.contains(i)), "{with:?}");
        assert!(with.iter().all(|i| broken.contains(i)), "{with:?}");
        let off = DoppelConfig {
            seasonal_shift_rows: 0,
            ..DoppelConfig::default()
        };
        let without = late(&alerts(off, &ts, &xs));
        assert!(!without.iter().any(|i| broken.contains(i)), "{without:?}");
    }

    #[test]
    fn day_shift_view_catches_a_small_lasting_level_change() {
        // Clean noise (sd 1), and the same noise whose level rises by 0.2 sd for good at row
        // 5,000: no row or 12-row mean stands out, a 100-row mean moves by 2 of its own sd
        // (no more than its usual excursions), a 300-row mean by 3.5.
        let n = 5600;
        let e = noise(n + 3);
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_400_000_000 + 300 * i).collect();
        let series = |d: f64| -> Vec<f64> {
            (0..n)
                .map(|i| 50.0 + e[i + 3] + if i >= 5000 { d } else { 0.0 })
                .collect()
        };
        let (clean, changed) = (series(0.0), series(0.2));
        let off = DoppelConfig {
            day_shift_rows: 0,
            ..DoppelConfig::default()
        };
        // Alerts from the change on: those the change causes are the ones the clean series
        // does not have.
        let after = |cfg: &DoppelConfig, xs: &[f64]| -> Vec<usize> {
            alerts(cfg.clone(), &ts, xs)
                .into_iter()
                .filter(|&i| i >= 5000)
                .collect()
        };
        let on = DoppelConfig::default();
        // Without the view the change adds no alert (the one noise peak after row 5,000 is
        // alerted in both series)...
        let (c, x) = (after(&off, &clean), after(&off, &changed));
        assert_eq!(c.len(), x.len(), "{c:?} {x:?}");
        // ...with it, the changed series has an alert more.
        let (c, x) = (after(&on, &clean), after(&on, &changed));
        assert!(x.len() > c.len(), "{c:?} {x:?}");
    }

    #[test]
    fn seasonal_baseline_is_the_median_over_neighbouring_rows_of_past_days() {
        // Six days of 5-minute rows, 0 except 10 at row 100 of every day. At row 100 of the
        // seventh day the five past days' rows at that time are all 10 (median 10); with
        // their neighbours, 5 of the 15 values are 10 (median 0). Row 101 and its
        // neighbours: 0 without, 5 of 15 with (median 0 both).
        let day = 288;
        let t0 = 1_400_000_000;
        let run = |jitter: f64| {
            let mut d = Doppel::new(DoppelConfig {
                seasonal_jitter: jitter,
                ..DoppelConfig::default()
            });
            for i in 0..6 * day {
                let x = if i % day == 100 { 10.0 } else { 0.0 };
                d.update(t0 + 300 * i as i64, x);
            }
            let at = |row: i64| d.seasonal_baseline(t0 + 300 * (6 * day as i64 + row), 5);
            (at(100), at(101))
        };
        assert_eq!(run(0.0), (Some(10.0), Some(0.0)));
        assert_eq!(run(1.0), (Some(0.0), Some(0.0)));
    }

    #[test]
    fn seasonal_neighbours_follow_the_usual_sampling_step_not_the_last_gap() {
        // Six days of 5-minute rows, 0 except 10 at rows 97, 98, 102 and 103 of every day;
        // then one row after a 15-minute gap. At row 100 of the seventh day the neighbours
        // one usual step (5 minutes) either side are all 0; one last gap (15 minutes) either
        // side would take rows 97 to 103, four of seven 10.
        let day = 288;
        let t0 = 1_400_000_000;
        let mut d = Doppel::new(DoppelConfig::default());
        for i in 0..6 * day {
            let x = if [97, 98, 102, 103].contains(&(i % day)) {
                10.0
            } else {
                0.0
            };
            d.update(t0 + 300 * i as i64, x);
        }
        d.update(t0 + 300 * (6 * day as i64 - 1) + 900, 0.0);
        assert_eq!(d.step, 300);
        let at = t0 + 300 * (6 * day as i64 + 100);
        assert_eq!(d.seasonal_baseline(at, 5), Some(0.0));
    }

    #[test]
    fn short_history_correction_quiets_the_start_of_clean_noise() {
        let n = 3000;
        let e = noise(n + 7);
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_400_000_000 + 300 * i).collect();
        let xs: Vec<f64> = e[7..].iter().map(|v| 50.0 + v).collect();
        let with = alerts(DoppelConfig::default(), &ts, &xs);
        let off = DoppelConfig {
            short_history_exponent: 0.0,
            ..DoppelConfig::default()
        };
        let without = alerts(off, &ts, &xs);
        assert!(with.len() < without.len(), "{with:?} {without:?}");
    }
}

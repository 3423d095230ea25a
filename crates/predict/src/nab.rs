//! The Numenta Anomaly Benchmark scorer, written from NAB's published method (Lavin & Ahmad,
//! "Evaluating Real-time Anomaly Detection Algorithms – the Numenta Anomaly Benchmark", 2015,
//! and the scoring rules of NAB v1.1):
//!
//! - every labelled anomaly window is worth one detection: the earliest detection inside a
//!   window earns `tpWeight · σ(pos) / σ(-1)`, where `σ(x) = 2/(1+e^{5x}) − 1` is the scaled
//!   sigmoid and `pos = −(right − i + 1) / width` runs from −1 at the left edge towards 0 at
//!   the right edge; later detections in the same window add nothing;
//! - a window without any detection costs `fnWeight`;
//! - every detection outside windows costs `fpWeight · σ(pos)` with
//!   `pos = |i − right_prev| / (width_prev − 1)` measured from the end of the preceding window
//!   (a false positive just after a window costs little, one far away costs `fpWeight`), and
//!   the full `fpWeight` when no window precedes it;
//! - the first `min(⌊0.15·n⌋, 0.15·5000)` rows of each file are a probation period and are
//!   not scored at all;
//! - a row is a detection when its anomaly score is at or above the threshold. NAB picks, per
//!   detector and profile, the one threshold that maximises the score of the whole corpus
//!   ([`sweep`]); Doppel also reports its own fixed default threshold ([`score_at`]);
//! - the corpus score is normalised to 0–100 between the null detector (it never fires, so
//!   every scorable window is a miss) and the perfect detector (`tpWeight` per window).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::PredictError;

/// The weights of one application profile (NAB's `CostMatrix`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct CostMatrix {
    /// Reward for the earliest detection in a window (scaled by position).
    #[serde(rename = "tpWeight")]
    pub tp: f64,
    /// Cost of a detection outside any window.
    #[serde(rename = "fpWeight")]
    pub fp: f64,
    /// Cost of a window without detection.
    #[serde(rename = "fnWeight")]
    pub fn_: f64,
    /// Unused by the scoring (kept because NAB's files carry it).
    #[serde(rename = "tnWeight", default)]
    pub tn: f64,
}

/// A named profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `standard`, `reward_low_FP_rate`, `reward_low_FN_rate`.
    pub name: String,
    /// Its weights.
    pub costs: CostMatrix,
}

/// NAB's three profiles (the values of NAB's `config/profiles.json`).
pub fn default_profiles() -> Vec<Profile> {
    let p = |name: &str, fp: f64, fn_: f64| Profile {
        name: name.into(),
        costs: CostMatrix {
            tp: 1.0,
            fp,
            fn_,
            tn: 1.0,
        },
    };
    vec![
        p("standard", 0.11, 1.0),
        p("reward_low_FP_rate", 0.22, 1.0),
        p("reward_low_FN_rate", 0.11, 2.0),
    ]
}

/// Reads NAB's `profiles.json` (`{"standard": {"CostMatrix": {...}}, ...}`), keeping NAB's order
/// (standard, low FP, low FN) for the profiles it knows and the file's order otherwise.
pub fn parse_profiles(json: &str) -> Result<Vec<Profile>, PredictError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "CostMatrix")]
        cost_matrix: CostMatrix,
    }
    let map: BTreeMap<String, Entry> =
        serde_json::from_str(json).map_err(|e| PredictError::Json {
            what: "profiles".into(),
            message: e.to_string(),
        })?;
    let rank = |n: &str| match n {
        "standard" => 0,
        "reward_low_FP_rate" => 1,
        "reward_low_FN_rate" => 2,
        _ => 3,
    };
    let mut out: Vec<Profile> = map
        .into_iter()
        .map(|(name, e)| Profile {
            name,
            costs: e.cost_matrix,
        })
        .collect();
    out.sort_by_key(|p| rank(&p.name));
    Ok(out)
}

/// Anomaly windows per file, as timestamps (NAB's `combined_windows.json`).
pub type Labels = BTreeMap<String, Vec<(i64, i64)>>;

/// Reads NAB's `combined_windows.json`: `{"dir/file.csv": [["start", "end"], ...], ...}`.
pub fn parse_labels(json: &str) -> Result<Labels, PredictError> {
    let raw: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(json).map_err(|e| PredictError::Json {
            what: "labels".into(),
            message: e.to_string(),
        })?;
    let mut out = Labels::new();
    for (file, windows) in raw {
        let mut ws = Vec::with_capacity(windows.len());
        for (a, b) in windows {
            let conv = |s: &str| {
                crate::series::parse_timestamp(s).map_err(|e| PredictError::Json {
                    what: format!("labels of {file}"),
                    message: e.to_string(),
                })
            };
            ws.push((conv(&a)?, conv(&b)?));
        }
        ws.sort_unstable();
        out.insert(file, ws);
    }
    Ok(out)
}

/// NAB's scaled sigmoid: `2/(1+e^{5x}) − 1`, and −1 from `x ≥ 3` on.
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// NAB's probation period for a file of `n` rows.
pub fn probation_length(n: usize) -> usize {
    let p = (0.15 * n as f64).floor().min(0.15 * 5000.0);
    p as usize
}

/// What one row means for the score.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// In the probation period: ignored.
    Probation,
    /// Inside window `w` (corpus-wide index): earns `gain` if it is the window's best detection.
    Window { w: usize, gain: f64 },
    /// Outside windows: costs `-gain` (gain ≤ 0) if detected.
    Outside { gain: f64 },
}

/// A scorable row: its anomaly score and what detecting it is worth.
#[derive(Debug, Clone, Copy)]
struct Row {
    score: f64,
    role: Role,
}

/// The rows of a corpus under one profile, ready to score at any threshold.
#[derive(Debug, Clone)]
pub struct Scored {
    rows: Vec<Row>,
    /// Number of windows that have at least one scorable row (what the null detector misses).
    scorable_windows: usize,
    /// Number of labelled windows (what the perfect detector earns).
    total_windows: usize,
    costs: CostMatrix,
}

/// One file's anomaly scores with its windows, for [`Scored::new`].
#[derive(Debug, Clone, Copy)]
pub struct FileScores<'a> {
    /// Row timestamps (seconds).
    pub timestamps: &'a [i64],
    /// The detector's anomaly score per row.
    pub scores: &'a [f64],
    /// Anomaly windows as (first, last) timestamps, inclusive.
    pub windows: &'a [(i64, i64)],
}

/// Raw and normalised result at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// Rows with an anomaly score at or above this are detections.
    pub threshold: f64,
    /// Raw NAB score (sum of rewards and costs).
    pub raw: f64,
    /// Normalised score: 0 is the null detector, 100 the perfect one.
    pub normalized: f64,
    /// Detected rows inside windows.
    pub tp: usize,
    /// Detected rows outside windows.
    pub fp: usize,
    /// Windows without a detection.
    pub missed_windows: usize,
}

impl Scored {
    /// Lays out the rows of every file under `costs`. Windows are matched to rows by time: a
    /// window covers the rows whose timestamps lie within it (NAB's labels name exact rows).
    pub fn new(files: &[FileScores<'_>], costs: CostMatrix) -> Self {
        let max_tp = scaled_sigmoid(-1.0);
        let mut rows = Vec::new();
        let mut total_windows = 0;
        let mut scorable = std::collections::BTreeSet::new();
        for f in files {
            let n = f.timestamps.len().min(f.scores.len());
            let probation = probation_length(n);
            // Windows as index ranges.
            let ranges: Vec<(usize, usize)> = f
                .windows
                .iter()
                .filter_map(|&(a, b)| {
                    let lo = f.timestamps[..n].partition_point(|&t| t < a);
                    let hi = f.timestamps[..n].partition_point(|&t| t <= b);
                    (hi > lo).then(|| (lo, hi - 1))
                })
                .collect();
            let base = total_windows;
            total_windows += f.windows.len();
            let mut next = 0;
            let mut prev: Option<(usize, usize)> = None; // (right index, width)
            for i in 0..n {
                while next < ranges.len() && ranges[next].1 < i {
                    let (l, r) = ranges[next];
                    prev = Some((r, r - l + 1));
                    next += 1;
                }
                let role = match ranges.get(next) {
                    Some(&(l, r)) if l <= i => {
                        let width = (r - l + 1) as f64;
                        let pos = -((r - i + 1) as f64) / width;
                        Role::Window {
                            w: base + next,
                            gain: scaled_sigmoid(pos) * costs.tp / max_tp,
                        }
                    }
                    _ => {
                        let pos = match prev {
                            Some((r, w)) if w > 1 => (i - r) as f64 / (w - 1) as f64,
                            _ => 3.0,
                        };
                        Role::Outside {
                            gain: scaled_sigmoid(pos) * costs.fp,
                        }
                    }
                };
                let role = if i < probation { Role::Probation } else { role };
                if let Role::Window { w, .. } = role {
                    scorable.insert(w);
                }
                if role != Role::Probation {
                    let s = f.scores[i];
                    rows.push(Row {
                        score: if s.is_nan() { 0.0 } else { s },
                        role,
                    });
                }
            }
        }
        Scored {
            rows,
            scorable_windows: scorable.len(),
            total_windows,
            costs,
        }
    }

    /// The null detector's raw score: every scorable window missed.
    pub fn null_raw(&self) -> f64 {
        -(self.scorable_windows as f64) * self.costs.fn_
    }

    /// The perfect detector's raw score: `tpWeight` per labelled window.
    pub fn perfect_raw(&self) -> f64 {
        self.total_windows as f64 * self.costs.tp
    }

    /// Normalises a raw score to 0 (null detector) … 100 (perfect detector).
    pub fn normalize(&self, raw: f64) -> f64 {
        let (null, perfect) = (self.null_raw(), self.perfect_raw());
        if perfect > null {
            100.0 * (raw - null) / (perfect - null)
        } else {
            0.0
        }
    }

    /// The score when rows at or above `threshold` are detections.
    pub fn score_at(&self, threshold: f64) -> ThresholdScore {
        let mut best: BTreeMap<usize, f64> = BTreeMap::new();
        let (mut fp_sum, mut tp, mut fp) = (0.0, 0, 0);
        for r in &self.rows {
            if r.score < threshold {
                continue;
            }
            match r.role {
                Role::Window { w, gain } => {
                    tp += 1;
                    let e = best.entry(w).or_insert(f64::NEG_INFINITY);
                    *e = e.max(gain);
                }
                Role::Outside { gain } => {
                    fp += 1;
                    fp_sum += gain;
                }
                Role::Probation => {}
            }
        }
        let detected: f64 = best.values().sum();
        let missed = self.scorable_windows - best.len();
        let raw = detected + fp_sum - missed as f64 * self.costs.fn_;
        ThresholdScore {
            threshold,
            raw,
            normalized: self.normalize(raw),
            tp,
            fp,
            missed_windows: missed,
        }
    }

    /// NAB's optimiser: the score at every distinct anomaly score used as the threshold (plus
    /// one above all, where nothing is detected), and the best of them. Ties in score go to
    /// the higher threshold.
    pub fn sweep(&self) -> (ThresholdScore, Vec<ThresholdScore>) {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by(|&a, &b| self.rows[b].score.total_cmp(&self.rows[a].score));
        let mut best_gain: Vec<Option<f64>> = vec![None; self.total_windows];
        let mut raw = self.null_raw();
        let (mut tp, mut fp, mut missed) = (0, 0, self.scorable_windows);
        let start = ThresholdScore {
            threshold: 1.1_f64.max(self.rows.iter().map(|r| r.score).fold(0.0, f64::max) + 1.0),
            raw,
            normalized: self.normalize(raw),
            tp,
            fp,
            missed_windows: missed,
        };
        let mut out = vec![start];
        let mut k = 0;
        while k < order.len() {
            let threshold = self.rows[order[k]].score;
            while k < order.len() && self.rows[order[k]].score == threshold {
                match self.rows[order[k]].role {
                    Role::Window { w, gain } => {
                        tp += 1;
                        match best_gain[w] {
                            None => {
                                raw += self.costs.fn_ + gain;
                                missed -= 1;
                                best_gain[w] = Some(gain);
                            }
                            Some(g) if gain > g => {
                                raw += gain - g;
                                best_gain[w] = Some(gain);
                            }
                            Some(_) => {}
                        }
                    }
                    Role::Outside { gain } => {
                        fp += 1;
                        raw += gain;
                    }
                    Role::Probation => {}
                }
                k += 1;
            }
            out.push(ThresholdScore {
                threshold,
                raw,
                normalized: self.normalize(raw),
                tp,
                fp,
                missed_windows: missed,
            });
        }
        let mut best = out[0];
        for s in &out {
            if s.raw > best.raw {
                best = *s;
            }
        }
        (best, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: CostMatrix = CostMatrix {
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
        tn: 1.0,
    };

    fn sig(x: f64) -> f64 {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }

    #[test]
    fn scaled_sigmoid_published_points() {
        // The values NAB's documentation gives.
        assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5);
        assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
        assert!(scaled_sigmoid(0.0).abs() < 1e-12);
        assert!((scaled_sigmoid(1.0) + 0.98661).abs() < 1e-5);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750() {
        assert_eq!(probation_length(100), 15);
        assert_eq!(probation_length(4032), 604);
        assert_eq!(probation_length(22_695), 750);
    }

    /// 100 rows, t = 0..100, one window over rows 40..=49 (width 10); probation is 15 rows.
    fn one_window(scores: &[f64]) -> Scored {
        let ts: Vec<i64> = (0..100).collect();
        let files = [FileScores {
            timestamps: &ts,
            scores,
            windows: &[(40, 49)],
        }];
        Scored::new(&files, STD)
    }

    #[test]
    fn hand_computed_single_file() {
        // Detections at row 45 (in the window) and row 70 (after it).
        let mut s = vec![0.0; 100];
        s[45] = 1.0;
        s[70] = 1.0;
        s[5] = 1.0; // in probation: ignored
        let sc = one_window(&s);
        let r = sc.score_at(0.5);
        // TP at 45: pos = -(49-45+1)/10 = -0.5 -> sig(-0.5)/sig(-1).
        let tp = sig(-0.5) / sig(-1.0);
        // FP at 70: pos = (70-49)/(10-1) = 2.333 -> 0.11*sig(2.333).
        let fp = 0.11 * sig(21.0 / 9.0);
        assert!((r.raw - (tp + fp)).abs() < 1e-12, "{r:?}");
        assert_eq!((r.tp, r.fp, r.missed_windows), (1, 1, 0));
        // Null: -1; perfect: +1 -> normalized = 100 (raw + 1) / 2.
        assert!((r.normalized - 50.0 * (tp + fp + 1.0)).abs() < 1e-9);
        // Nothing detected is the null detector: 0.
        assert_eq!(sc.score_at(2.0).normalized, 0.0);
        // Detecting exactly the first row of the window is perfect.
        let mut p = vec![0.0; 100];
        p[40] = 1.0;
        assert!((one_window(&p).score_at(0.5).normalized - 100.0).abs() < 1e-9);
    }

    #[test]
    fn false_positive_before_any_window_costs_full_weight() {
        let mut s = vec![0.0; 100];
        s[20] = 0.9;
        let r = one_window(&s).score_at(0.9);
        assert!((r.raw - (-0.11 - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn only_the_earliest_detection_in_a_window_counts() {
        let mut s = vec![0.0; 100];
        s[42] = 0.6;
        s[48] = 0.9;
        let sc = one_window(&s);
        // At 0.9 only row 48 is detected: pos = -(49-48+1)/10 = -0.2.
        assert!((sc.score_at(0.9).raw - sig(-0.2) / sig(-1.0)).abs() < 1e-12);
        // At 0.6 both: the earlier one (pos -0.8) is the window's score.
        assert!((sc.score_at(0.6).raw - sig(-0.8) / sig(-1.0)).abs() < 1e-12);
        let (best, all) = sc.sweep();
        assert!((best.threshold - 0.6).abs() < 1e-12);
        // The sweep agrees with scoring each threshold directly.
        for t in &all {
            assert!((sc.score_at(t.threshold).raw - t.raw).abs() < 1e-9);
        }
    }

    #[test]
    fn sweep_weighs_the_window_against_false_positives() {
        // The in-window row scores 0.8; rows from 78 on (over 3 widths past the window, so
        // each costs the full 0.11) score 0.9.
        let far = |k: usize| {
            let mut s = vec![0.0; 100];
            s[45] = 0.8;
            for i in 0..k {
                s[78 + i] = 0.9;
            }
            one_window(&s)
        };
        // Four far false positives (0.11 each) are worth paying for the window: threshold 0.8
        // earns sig(-0.5)/sig(-1) - 0.44 against the null's -1.
        let (best, _) = far(4).sweep();
        assert!((best.threshold - 0.8).abs() < 1e-12);
        assert!((best.raw - (sig(-0.5) / sig(-1.0) - 0.44)).abs() < 1e-12);
        // Twenty are not (0.86 - 2.2 < -1): the best is to stay silent, the null's -1.
        let (best, _) = far(20).sweep();
        assert!(best.threshold > 1.0);
        assert_eq!(best.raw, -1.0);
    }

    #[test]
    fn null_and_perfect_over_two_files() {
        // A window inside probation is not scorable and does not count against the null.
        let ts: Vec<i64> = (0..100).collect();
        let z = vec![0.0; 100];
        let files = [
            FileScores {
                timestamps: &ts,
                scores: &z,
                windows: &[(2, 5)],
            },
            FileScores {
                timestamps: &ts,
                scores: &z,
                windows: &[(40, 49), (70, 79)],
            },
        ];
        let sc = Scored::new(&files, STD);
        assert_eq!(sc.null_raw(), -2.0);
        assert_eq!(sc.perfect_raw(), 3.0);
    }

    #[test]
    fn profiles_and_labels_parse() {
        let p = parse_profiles(
            r#"{"reward_low_FN_rate":{"CostMatrix":{"tpWeight":1.0,"fnWeight":2.0,"fpWeight":0.11,"tnWeight":1.0}},
                "standard":{"CostMatrix":{"tpWeight":1.0,"fnWeight":1.0,"fpWeight":0.11,"tnWeight":1.0}}}"#,
        )
        .unwrap();
        assert_eq!(p[0].name, "standard");
        assert_eq!(p[1].costs.fn_, 2.0);
        let l = parse_labels(
            r#"{"a/b.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]], "c.csv": []}"#,
        )
        .unwrap();
        assert_eq!(l["a/b.csv"], vec![(1_397_114_100, 1_397_234_700)]);
        assert!(l["c.csv"].is_empty());
        assert!(parse_labels("[1]").is_err());
    }
}

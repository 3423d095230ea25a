//! The NAB benchmark run: every detector over every series of a corpus, scored under every
//! profile at the detector's own default threshold and at the corpus-best threshold.
//!
//! The caller reads the files and passes their contents; nothing here touches the disk.

use crate::detect::{self, DetectorKind};
use crate::nab::{FileScores, Labels, Profile, Scored, ThresholdScore};
use crate::series::Series;

/// One series of the corpus: its path relative to the data directory (the key of the labels,
/// e.g. `realKnownCause/nyc_taxi.csv`) and its rows.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// Path relative to the data directory, with `/` separators.
    pub name: String,
    /// The rows.
    pub series: Series,
}

/// The result of one detector under one profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProfileResult {
    /// Profile name.
    pub profile: String,
    /// Score at the detector's default threshold.
    pub default: Outcome,
    /// Score at the corpus-best threshold (NAB's optimiser).
    pub best: Outcome,
}

/// A threshold and what it scored.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The threshold.
    pub threshold: f64,
    /// Normalised NAB score (0 null, 100 perfect).
    pub score: f64,
    /// Detections inside windows.
    pub tp_rows: usize,
    /// Detections outside windows.
    pub fp_rows: usize,
    /// Windows without a detection.
    pub missed_windows: usize,
}

impl From<ThresholdScore> for Outcome {
    fn from(t: ThresholdScore) -> Self {
        Outcome {
            threshold: t.threshold,
            score: t.normalized,
            tp_rows: t.tp,
            fp_rows: t.fp,
            missed_windows: t.missed_windows,
        }
    }
}

/// One detector's results under every profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectorResult {
    /// Detector name.
    pub detector: String,
    /// One entry per profile, in the profiles' order.
    pub profiles: Vec<ProfileResult>,
}

/// Scores precomputed anomaly scores (one vector per corpus file, same order).
pub fn score_corpus(
    corpus: &[CorpusFile],
    labels: &Labels,
    profiles: &[Profile],
    scores: &[Vec<f64>],
    default_threshold: f64,
) -> Vec<ProfileResult> {
    let empty = Vec::new();
    let files: Vec<FileScores<'_>> = corpus
        .iter()
        .zip(scores)
        .map(|(f, s)| FileScores {
            timestamps: &f.series.timestamps,
            scores: s,
            windows: labels.get(&f.name).unwrap_or(&empty),
        })
        .collect();
    profiles
        .iter()
        .map(|p| {
            let sc = Scored::new(&files, p.costs);
            let (best, _) = sc.sweep();
            ProfileResult {
                profile: p.name.clone(),
                default: sc.score_at(default_threshold).into(),
                best: best.into(),
            }
        })
        .collect()
}

/// Runs `kind` over every file (on up to `threads` threads) and returns the scores per file.
pub fn run_detector(corpus: &[CorpusFile], kind: DetectorKind, threads: usize) -> Vec<Vec<f64>> {
    run_with(corpus, &|| kind.build(), threads)
}

/// Runs detectors made by `make` (a fresh one per file) over every file, on up to `threads`
/// threads, and returns the scores per file.
pub fn run_with(
    corpus: &[CorpusFile],
    make: &(dyn Fn() -> Box<dyn crate::detect::Detector> + Sync),
    threads: usize,
) -> Vec<Vec<f64>> {
    let threads = threads.clamp(1, corpus.len().max(1));
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); corpus.len()];
    let chunk = corpus.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (files, slots) in corpus.chunks(chunk).zip(out.chunks_mut(chunk)) {
            s.spawn(move || {
                for (f, slot) in files.iter().zip(slots.iter_mut()) {
                    let mut d = make();
                    *slot = detect::scores(d.as_mut(), &f.series);
                }
            });
        }
    });
    out
}

/// The whole benchmark: each detector over the corpus, scored under each profile.
pub fn run(
    corpus: &[CorpusFile],
    labels: &Labels,
    profiles: &[Profile],
    detectors: &[DetectorKind],
    threads: usize,
) -> Vec<DetectorResult> {
    detectors
        .iter()
        .map(|&kind| {
            let scores = run_detector(corpus, kind, threads);
            DetectorResult {
                detector: kind.name().to_string(),
                profiles: score_corpus(corpus, labels, profiles, &scores, kind.default_threshold()),
            }
        })
        .collect()
}

/// The results as a Markdown table: one row per detector, default and corpus-best scores per
/// profile.
pub fn markdown(results: &[DetectorResult]) -> String {
    let mut s = String::new();
    let Some(first) = results.first() else {
        return s;
    };
    s.push_str("| detector |");
    for p in &first.profiles {
        s.push_str(&format!(
            " {} (default) | {} (corpus-best) |",
            p.profile, p.profile
        ));
    }
    s.push_str("\n|---|");
    for _ in &first.profiles {
        s.push_str("---:|---:|");
    }
    s.push('\n');
    for r in results {
        s.push_str(&format!("| {} |", r.detector));
        for p in &r.profiles {
            s.push_str(&format!(" {:.1} | {:.1} |", p.default.score, p.best.score));
        }
        s.push('\n');
    }
    s
}

/// One held-out category of a cross-validation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fold {
    /// The held-out category (the first component of the file names).
    pub category: String,
    /// The candidate chosen on the other categories (index into the candidates).
    pub candidate: usize,
    /// The threshold chosen on the other categories.
    pub threshold: f64,
    /// Raw NAB score of the held-out category with those settings.
    pub held_out_raw: f64,
}

/// Leave-one-category-out cross-validation of global settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrossValidation {
    /// Per held-out category.
    pub folds: Vec<Fold>,
    /// The held-out raw scores summed over the categories, normalised over the whole corpus
    /// (0 null detector, 100 perfect): the corpus score of settings never tuned on the rows
    /// they are scored on.
    pub score: f64,
}

/// The category of a corpus file: the first component of its name (`realTweets/x.csv` ->
/// `realTweets`).
pub fn category(name: &str) -> &str {
    name.split_once('/').map_or("", |(c, _)| c)
}

/// Leave-one-category-out cross-validation. `candidates[c][f]` are the anomaly scores of
/// candidate setting `c` (a detector configuration) on corpus file `f`. For each category, the
/// candidate and threshold with the best raw score on the *other* categories are chosen (with
/// `fixed_threshold`, only the candidate is chosen and the threshold is that one; otherwise
/// NAB's optimiser picks it), then scored on the held-out category. Raw NAB scores add up over
/// files, so the held-out scores summed over the categories, normalised with the whole
/// corpus' null and perfect detectors, are a corpus score of untuned settings. Ties go to the
/// earlier candidate (list the defaults first).
pub fn cross_validate(
    corpus: &[CorpusFile],
    labels: &Labels,
    profile: &Profile,
    candidates: &[Vec<Vec<f64>>],
    fixed_threshold: Option<f64>,
) -> CrossValidation {
    let empty = Vec::new();
    let files = |c: usize, keep: &dyn Fn(&str) -> bool| -> Vec<FileScores<'_>> {
        corpus
            .iter()
            .zip(&candidates[c])
            .filter(|(f, _)| keep(category(&f.name)))
            .map(|(f, s)| FileScores {
                timestamps: &f.series.timestamps,
                scores: s,
                windows: labels.get(&f.name).unwrap_or(&empty),
            })
            .collect()
    };
    let mut cats: Vec<&str> = corpus.iter().map(|f| category(&f.name)).collect();
    cats.sort_unstable();
    cats.dedup();
    let mut folds = Vec::new();
    let mut total = 0.0;
    for held in cats {
        let mut best: Option<(usize, f64, f64)> = None; // candidate, threshold, training raw
        for c in 0..candidates.len() {
            let train = Scored::new(&files(c, &|k| k != held), profile.costs);
            let t = match fixed_threshold {
                Some(t) => train.score_at(t),
                None => train.sweep().0,
            };
            if best.is_none_or(|b| t.raw > b.2) {
                best = Some((c, t.threshold, t.raw));
            }
        }
        let Some((c, threshold, _)) = best else {
            continue;
        };
        let test = Scored::new(&files(c, &|k| k == held), profile.costs);
        let raw = test.score_at(threshold).raw;
        total += raw;
        folds.push(Fold {
            category: held.to_string(),
            candidate: c,
            threshold,
            held_out_raw: raw,
        });
    }
    let whole = Scored::new(&files(0, &|_| true), profile.costs);
    CrossValidation {
        folds,
        score: whole.normalize(total),
    }
}

/// MASE of one forecasting method over a corpus.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MaseResult {
    /// Method name.
    pub method: String,
    /// Mean MASE over the series that could be scored.
    pub mean: f64,
    /// Median MASE.
    pub median: f64,
    /// Series where this method had the lowest MASE of all methods.
    pub wins: usize,
    /// Series scored.
    pub series: usize,
}

/// Forecasts the last day of every series from the rows before it with every method in
/// [`crate::forecast::Method::ALL`] and reports MASE (scaled by the in-sample one-step naive
/// error). Series too short or constant are left out for every method alike.
pub fn mase_corpus(corpus: &[CorpusFile]) -> Vec<MaseResult> {
    use crate::forecast::{Method, mase, rows_per_day};
    let methods = Method::ALL;
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); methods.len()];
    let mut wins = vec![0; methods.len()];
    for f in corpus {
        let h = rows_per_day(&f.series);
        let row: Option<Vec<f64>> = methods.iter().map(|&m| mase(&f.series, h, m)).collect();
        let Some(row) = row else { continue };
        let best = row
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        wins[best] += 1;
        for (i, v) in row.into_iter().enumerate() {
            per[i].push(v);
        }
    }
    methods
        .iter()
        .zip(per)
        .zip(wins)
        .map(|((m, v), w)| MaseResult {
            method: m.name().into(),
            mean: if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
            median: crate::stats::quantile(&v, 0.5),
            wins: w,
            series: v.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two categories of one file each: 100 rows a minute apart, one window on rows 50 to 59.
    fn corpus() -> (Vec<CorpusFile>, Labels) {
        let ts: Vec<i64> = (0..100).map(|i| i * 60).collect();
        let files = ["A/a.csv", "B/b.csv"].map(|n| CorpusFile {
            name: n.into(),
            series: Series::new(ts.clone(), vec![0.0; 100]),
        });
        let labels = files
            .iter()
            .map(|f| (f.name.clone(), vec![(ts[50], ts[59])]))
            .collect();
        (files.to_vec(), labels)
    }

    /// Scores with a 1 on the first row of the window of the files whose flag is set.
    fn detects(a: bool, b: bool) -> Vec<Vec<f64>> {
        [a, b]
            .iter()
            .map(|&hit| {
                let mut s = vec![0.0; 100];
                if hit {
                    s[50] = 1.0;
                }
                s
            })
            .collect()
    }

    #[test]
    fn settings_good_only_where_tuned_score_like_the_null_detector_held_out() {
        let (corpus, labels) = corpus();
        let profile = &crate::nab::default_profiles()[0];
        // Each candidate finds the window of one category only: tuned on the other category,
        // every fold picks the one that misses, so the held-out score is the null detector's.
        let only = vec![detects(true, false), detects(false, true)];
        let cv = cross_validate(&corpus, &labels, profile, &only, Some(0.5));
        assert_eq!(cv.folds.len(), 2);
        assert_eq!(cv.folds[0].category, "A");
        assert_eq!(cv.folds[0].candidate, 1);
        assert_eq!(cv.folds[1].candidate, 0);
        assert!(cv.score.abs() < 1e-9, "{}", cv.score);
        // A candidate finding both at the window's first row is chosen over a blind one in both
        // folds and is perfect held out (the earliest detection earns the full true-positive
        // weight).
        let with_both = vec![detects(false, false), detects(true, true)];
        let cv = cross_validate(&corpus, &labels, profile, &with_both, None);
        assert!(cv.folds.iter().all(|f| f.candidate == 1));
        assert!((cv.score - 100.0).abs() < 1e-9, "{}", cv.score);
    }
}

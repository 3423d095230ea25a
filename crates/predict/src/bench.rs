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

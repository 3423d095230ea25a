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

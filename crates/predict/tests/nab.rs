//! End-to-end checks on real NAB files: the scorer against NAB's published windowed-Gaussian
//! score, Doppel's detector on labelled series, and the online property (a row's score never
//! depends on later rows).

#![allow(clippy::unwrap_used)] // test helpers: a missing test file should fail loudly

use std::path::{Path, PathBuf};

use doppel_predict::bench::{self, CorpusFile};
use doppel_predict::detect::{self, DetectorKind};
use doppel_predict::{nab, series};

fn load_corpus(root: &Path) -> Vec<CorpusFile> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<CorpusFile>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "csv") {
                let name = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let series = series::parse_csv(&std::fs::read_to_string(&p).unwrap()).unwrap();
                out.push(CorpusFile { name, series });
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/nab")
}

/// The project's 45-file NAB subset (`shared/data/nab` beside the repository), or `NAB_DIR`.
fn full_subset() -> Option<PathBuf> {
    let p = std::env::var_os("NAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nab"));
    p.join("labels/combined_windows.json").exists().then_some(p)
}

#[test]
fn windowed_gaussian_scores_what_nab_published_on_the_subset() {
    // The issue states NAB's windowed Gaussian scores 41.4 (standard profile, corpus-best
    // threshold) on exactly this subset. Our scorer and our port of the detector must land
    // there: this is the independent check of the scorer.
    let Some(root) = full_subset() else {
        eprintln!("NAB subset not found beside the repository; set NAB_DIR to run this check");
        return;
    };
    let corpus = load_corpus(&root.join("data"));
    assert_eq!(corpus.len(), 45);
    let labels = nab::parse_labels(
        &std::fs::read_to_string(root.join("labels/combined_windows.json")).unwrap(),
    )
    .unwrap();
    let profiles =
        nab::parse_profiles(&std::fs::read_to_string(root.join("profiles.json")).unwrap()).unwrap();
    let scores = bench::run_detector(&corpus, DetectorKind::WindowedGaussian, 2);
    let r = bench::score_corpus(&corpus, &labels, &profiles, &scores, 0.99865);
    assert_eq!(r[0].profile, "standard");
    assert!(
        (r[0].best.score - 41.4).abs() < 1.0,
        "windowed Gaussian standard score {} (published 41.4)",
        r[0].best.score
    );
}

#[test]
fn doppel_catches_the_jump_and_stays_quiet_on_clean_data() {
    let root = test_data();
    let corpus = load_corpus(&root.join("data"));
    let labels = nab::parse_labels(
        &std::fs::read_to_string(root.join("labels/combined_windows.json")).unwrap(),
    )
    .unwrap();
    for f in &corpus {
        let rows = detect::detect(&f.series);
        let probation = nab::probation_length(rows.len());
        let alerts: Vec<i64> = rows
            .iter()
            .zip(&f.series.timestamps)
            .skip(probation)
            .filter(|(r, _)| r.alert == 1)
            .map(|(_, &t)| t)
            .collect();
        let windows = &labels[&f.name];
        let inside = |t: i64| windows.iter().any(|&(a, b)| a <= t && t <= b);
        match f.name.as_str() {
            // A noise-free daily sine: nothing to report.
            "artificialNoAnomaly/art_daily_no_noise.csv" => {
                assert!(alerts.is_empty(), "{alerts:?}")
            }
            // The level jumps up mid-series (labelled window): at least one alert in the
            // window, and none outside it.
            "artificialWithAnomaly/art_daily_jumpsup.csv" => {
                assert!(alerts.iter().any(|&t| inside(t)), "jump missed");
                assert!(alerts.iter().all(|&t| inside(t)), "{alerts:?}");
            }
            _ => {}
        }
    }
    // On the three files together, at the default threshold, Doppel beats the windowed
    // Gaussian's corpus-best score (standard profile).
    let profiles = nab::default_profiles();
    let d = bench::run_detector(&corpus, DetectorKind::Doppel, 2);
    let g = bench::run_detector(&corpus, DetectorKind::WindowedGaussian, 2);
    let rd = bench::score_corpus(
        &corpus,
        &labels,
        &profiles,
        &d,
        DetectorKind::Doppel.default_threshold(),
    );
    let rg = bench::score_corpus(&corpus, &labels, &profiles, &g, 0.99865);
    assert!(rd[0].default.score > rg[0].best.score, "{rd:?} {rg:?}");
}

#[test]
fn scores_depend_only_on_rows_up_to_them() {
    let root = test_data();
    let text =
        std::fs::read_to_string(root.join("data/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"))
            .unwrap();
    let full = series::parse_csv(&text).unwrap();
    let cut = 2500;
    let prefix = series::Series::new(full.timestamps[..cut].to_vec(), full.values[..cut].to_vec());
    for kind in DetectorKind::ALL {
        let a = detect::scores(kind.build().as_mut(), &full);
        let b = detect::scores(kind.build().as_mut(), &prefix);
        assert_eq!(&a[..cut], &b[..], "{}", kind.name());
    }
}

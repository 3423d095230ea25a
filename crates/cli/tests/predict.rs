//! End-to-end tests of `doppel detect` and `doppel forecast` on NAB series the predict crate
//! keeps (with NAB's labels), run through the real binary.
#![allow(clippy::unwrap_used)]

mod common;
use common::doppel;

use std::path::{Path, PathBuf};

fn nab(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../predict/test_data/nab/data")
        .join(file)
}

/// NAB labels one anomaly window in art_daily_jumpsup, 2014-04-10 16:15 to 2014-04-12 01:45:
/// the detector must alert inside it, and every input row gets one output row.
#[test]
fn detect_alerts_inside_the_labelled_window() {
    let file = nab("artificialWithAnomaly/art_daily_jumpsup.csv");
    let input_rows = std::fs::read_to_string(&file).unwrap().lines().count() - 1;
    let (code, out, err) = doppel(&["detect", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,alert"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), input_rows);
    let alerts: Vec<&str> = rows
        .iter()
        .filter(|r| r[3] == "1")
        .map(|r| r[0].as_str())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|t| ("2014-04-10 16:15:00".."2014-04-12 01:45:01").contains(t)),
        "no alert in the labelled window; alerts at {alerts:?}"
    );
    for r in &rows {
        let score: f64 = r[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&score), "{r:?}");
    }
}

#[test]
fn forecast_and_bad_input() {
    let file = nab("artificialNoAnomaly/art_daily_no_noise.csv");
    let (code, out, err) = doppel(&["forecast", file.to_str().unwrap(), "--horizon", "1d"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n",
    )
    .unwrap();
    let (code, _, err) = doppel(&["detect", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.csv") && err.contains('3'), "{err}");
}

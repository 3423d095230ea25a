//! Statistics for automated canary analysis: the one-sided Mann-Whitney U test (Wilcoxon
//! rank-sum) with the normal approximation, tie correction and continuity correction, as
//! Kayenta's judge uses to compare a canary's metric against its baseline.

use statrs::distribution::{ContinuousCDF, Normal};

/// The p-value of the one-sided test that values of `x` tend to be larger than those of `y`
/// (H1: P(X > Y) > 1/2). 1 when either sample is empty.
///
/// U counts, over all pairs, 1 when x > y and 1/2 when equal; under H0 it has mean n·m/2 and
/// variance n·m/12·((N + 1) − Σ(t³ − t)/(N(N − 1))) for tie groups of size t, N = n + m.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n, m) = (x.len(), y.len());
    if n == 0 || m == 0 {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = all.len();
    let mut rank_sum_x = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < total {
        let mut j = i + 1;
        while j < total && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let avg = (i + 1 + j) as f64 / 2.0;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        rank_sum_x += avg * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (nf, mf, tf) = (n as f64, m as f64, total as f64);
    let u = rank_sum_x - nf * (nf + 1.0) / 2.0;
    let mean = nf * mf / 2.0;
    let var = nf * mf / 12.0 * ((tf + 1.0) - ties / (tf * (tf - 1.0)).max(1.0));
    if var <= 0.0 {
        return if u > mean { 0.0 } else { 1.0 };
    }
    let z = (u - mean - 0.5) / var.sqrt();
    Normal::new(0.0, 1.0).map_or(1.0, |d| 1.0 - d.cdf(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sample_matches_hand_computation() {
        // x = {3, 4, 5}, y = {1, 2}: every x beats every y, U = 6 = n·m; mean 3,
        // var = 6/12·6 = 3, z = (6 − 3 − 0.5)/√3 = 1.4434, p = 1 − Φ(1.4434) = 0.0745.
        let p = mann_whitney_greater(&[3.0, 4.0, 5.0], &[1.0, 2.0]);
        assert!((p - 0.0745).abs() < 5e-4, "{p}");
        // The other way round the evidence is against H1.
        assert!(mann_whitney_greater(&[1.0, 2.0], &[3.0, 4.0, 5.0]) > 0.9);
        assert_eq!(mann_whitney_greater(&[], &[1.0]), 1.0);
    }

    #[test]
    fn ties_are_corrected() {
        // Binary data: 30 of 100 canary errors vs 10 of 100. U = 30·90 + (30·10 + 70·90)/2
        // = 6000, mean 5000; tie groups of 40 and 160: Σ(t³ − t) = 4,159,800, so
        // var = 10⁴/12·(201 − 4,159,800/39,800) = 80,402.5 and z = 999.5/283.55 = 3.5249
        // (the pooled two-proportion z-test gives 3.536: the same test up to N vs N − 1).
        let x: Vec<f64> = (0..100).map(|k| f64::from(u8::from(k < 30))).collect();
        let y: Vec<f64> = (0..100).map(|k| f64::from(u8::from(k < 10))).collect();
        let p = mann_whitney_greater(&x, &y);
        assert!((p - 2.118e-4).abs() < 2e-6, "{p}");
        // All equal: no evidence.
        assert!(mann_whitney_greater(&[1.0; 5], &[1.0; 5]) >= 0.5);
    }
}

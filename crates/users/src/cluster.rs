//! Cohorts by behaviour: k-means (k-means++ seeding, Lloyd iterations, best of several seeded
//! starts) on per-session features, with k chosen by the mean silhouette.
//!
//! Features, each standardised to zero mean and unit variance: ln(page views), ln(1 + median
//! seconds between pages), whether the session reached the goal, and the share of its page
//! views on each of the six most requested endpoints. The criterion: for k = 2..max_k the
//! mean silhouette (Rousseeuw 1987: for each point, (b − a) / max(a, b) with a its mean
//! distance to its own cluster and b to the nearest other) over a deterministic sample of at
//! most 1,500 sessions; the k with the largest wins, unless no k reaches
//! [`MIN_SILHOUETTE`], in which case the sessions form one cohort (no structure worth
//! splitting on).

use doppel_sim::rng::SimRng;

use crate::learn::Session;

/// The features, in words, for reports.
pub const FEATURES: &str =
    "ln pages, ln(1 + median think), goal reached, share of views on each of the top 6 endpoints";

/// A mean silhouette below this means no clustering structure (Kaufman and Rousseeuw's
/// reading: below 0.25 "no substantial structure").
pub const MIN_SILHOUETTE: f64 = 0.25;

/// Sessions scored by silhouette at most.
const SILHOUETTE_SAMPLE: usize = 1500;

/// The result of clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// The chosen k.
    pub k: usize,
    /// Cluster of each session (0-based, largest cluster first).
    pub labels: Vec<usize>,
    /// Mean silhouette for each k tried.
    pub silhouettes: Vec<(usize, f64)>,
}

fn features(sessions: &[Session], goal: &[bool], endpoints: usize) -> Vec<Vec<f64>> {
    let top = endpoints.min(6);
    let mut raw: Vec<Vec<f64>> = sessions
        .iter()
        .map(|s| {
            let n = s.pages.len().max(1) as f64;
            let mut gaps: Vec<f32> = s.gaps.clone();
            gaps.sort_by(f32::total_cmp);
            let median = gaps
                .get(gaps.len() / 2)
                .map_or(0.0, |g| f64::from(*g).max(0.0));
            let reached = s
                .pages
                .iter()
                .any(|p| goal.get(*p as usize).copied().unwrap_or(false));
            let mut f = vec![n.ln(), (1.0 + median).ln(), f64::from(u8::from(reached))];
            for e in 0..top {
                f.push(s.pages.iter().filter(|p| **p as usize == e).count() as f64 / n);
            }
            f
        })
        .collect();
    let dims = raw.first().map_or(0, Vec::len);
    let n = raw.len().max(1) as f64;
    for d in 0..dims {
        let mean = raw.iter().map(|f| f[d]).sum::<f64>() / n;
        let sd = (raw.iter().map(|f| (f[d] - mean).powi(2)).sum::<f64>() / n).sqrt();
        for f in &mut raw {
            f[d] = if sd > 1e-12 { (f[d] - mean) / sd } else { 0.0 };
        }
    }
    raw
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn nearest(x: &[f64], centers: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (i, c) in centers.iter().enumerate() {
        let d = dist2(x, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// k-means on points, best inertia of `starts` seeded runs. Returns labels and inertia.
pub fn kmeans(points: &[Vec<f64>], k: usize, seed: u64, starts: u32) -> (Vec<usize>, f64) {
    let mut best: (Vec<usize>, f64) = (vec![0; points.len()], f64::INFINITY);
    if points.is_empty() || k == 0 {
        return best;
    }
    for start in 0..starts {
        let mut rng = SimRng::stream(seed, start);
        // k-means++ seeding.
        let first = rng.below(u32::try_from(points.len()).unwrap_or(u32::MAX)) as usize;
        let mut centers = vec![points[first].clone()];
        let mut d2: Vec<f64> = points.iter().map(|p| dist2(p, &centers[0])).collect();
        while centers.len() < k {
            let total: f64 = d2.iter().sum();
            if total <= 0.0 {
                break;
            }
            let mut u = rng.uniform() * total;
            let mut pick = points.len() - 1;
            for (i, d) in d2.iter().enumerate() {
                if u < *d {
                    pick = i;
                    break;
                }
                u -= d;
            }
            centers.push(points[pick].clone());
            for (i, p) in points.iter().enumerate() {
                d2[i] = d2[i].min(dist2(p, &points[pick]));
            }
        }
        let dims = points[0].len();
        let mut labels = vec![0usize; points.len()];
        for _ in 0..100 {
            let mut changed = false;
            for (i, p) in points.iter().enumerate() {
                let (c, _) = nearest(p, &centers);
                if labels[i] != c {
                    labels[i] = c;
                    changed = true;
                }
            }
            let mut sums = vec![vec![0.0; dims]; centers.len()];
            let mut counts = vec![0usize; centers.len()];
            for (p, l) in points.iter().zip(&labels) {
                counts[*l] += 1;
                for (s, x) in sums[*l].iter_mut().zip(p) {
                    *s += x;
                }
            }
            for (c, (s, n)) in centers.iter_mut().zip(sums.iter().zip(&counts)) {
                if *n > 0 {
                    *c = s.iter().map(|v| v / *n as f64).collect();
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f64 = points
            .iter()
            .zip(&labels)
            .map(|(p, l)| dist2(p, &centers[*l]))
            .sum();
        if inertia < best.1 {
            best = (labels, inertia);
        }
    }
    best
}

/// Mean silhouette of a labelling (Euclidean distances).
pub fn silhouette(points: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let n = points.len();
    if n < 2 || k < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for j in 0..n {
            if i != j {
                sum[labels[j]] += dist2(&points[i], &points[j]).sqrt();
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue; // a singleton's silhouette is 0
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|c| *c != own && cnt[*c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

/// Clusters sessions; see the module documentation for the criterion.
pub fn cluster_sessions(
    sessions: &[Session],
    goal: &[bool],
    endpoints: usize,
    max_k: usize,
) -> Clustering {
    let points = features(sessions, goal, endpoints);
    let step = points.len().div_ceil(SILHOUETTE_SAMPLE).max(1);
    let sample: Vec<Vec<f64>> = points.iter().step_by(step).cloned().collect();
    let mut silhouettes = Vec::new();
    let mut best = (1usize, f64::NEG_INFINITY);
    for k in 2..=max_k.min(sample.len().saturating_sub(1)) {
        let (labels, _) = kmeans(&sample, k, 7, 4);
        let s = silhouette(&sample, &labels, k);
        silhouettes.push((k, (s * 1000.0).round() / 1000.0));
        if s > best.1 {
            best = (k, s);
        }
    }
    let k = if best.1 >= MIN_SILHOUETTE { best.0 } else { 1 };
    let (raw, _) = kmeans(&points, k, 7, 4);
    // Largest cluster first.
    let mut sizes: Vec<(usize, usize)> = (0..k)
        .map(|c| (c, raw.iter().filter(|l| **l == c).count()))
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut rank = vec![0; k];
    for (r, (c, _)) in sizes.iter().enumerate() {
        rank[*c] = r;
    }
    Clustering {
        k,
        labels: raw.iter().map(|l| rank[*l]).collect(),
        silhouettes,
    }
}

//! Small statistics the detectors and forecasters share: the normal tail, rolling moments, a
//! sorted sliding window with quantiles, empirical quantiles.

use std::collections::VecDeque;

/// Complementary error function, Chebyshev fit with fractional error below 1.2e-7 everywhere
/// (Numerical Recipes, `erfcc`).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal upper tail `Q(z) = P(Z > z)`.
pub fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (Acklam's rational approximation, relative error 1.15e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let lo = 0.024_25;
    if p < lo {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - lo {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// Mean and standard deviation of the last `capacity` values, updated in O(1) (and recomputed
/// from scratch every `capacity` pushes so rounding cannot drift).
#[derive(Debug, Clone)]
pub struct RollingMoments {
    values: VecDeque<f64>,
    capacity: usize,
    sum: f64,
    sum_sq: f64,
    since_refresh: usize,
}

impl RollingMoments {
    /// Over the last `capacity` values.
    pub fn new(capacity: usize) -> Self {
        RollingMoments {
            values: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
            sum: 0.0,
            sum_sq: 0.0,
            since_refresh: 0,
        }
    }

    /// Adds a value, dropping the oldest when full.
    pub fn push(&mut self, v: f64) {
        if self.values.len() == self.capacity
            && let Some(old) = self.values.pop_front()
        {
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.values.push_back(v);
        self.sum += v;
        self.sum_sq += v * v;
        self.since_refresh += 1;
        if self.since_refresh >= self.capacity {
            self.sum = self.values.iter().sum();
            self.sum_sq = self.values.iter().map(|v| v * v).sum();
            self.since_refresh = 0;
        }
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.sum / self.values.len() as f64
        }
    }

    /// Population standard deviation (0 when empty).
    pub fn std(&self) -> f64 {
        let n = self.values.len() as f64;
        if n == 0.0 {
            return 0.0;
        }
        let m = self.sum / n;
        (self.sum_sq / n - m * m).max(0.0).sqrt()
    }
}

/// The last `capacity` values kept both in arrival order and sorted, for rolling quantiles.
#[derive(Debug, Clone)]
pub struct SortedWindow {
    order: VecDeque<f64>,
    sorted: Vec<f64>,
    capacity: usize,
}

impl SortedWindow {
    /// Over the last `capacity` values.
    pub fn new(capacity: usize) -> Self {
        SortedWindow {
            order: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// Adds a value (NaN is ignored), dropping the oldest when full.
    pub fn push(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            let k = self.sorted.partition_point(|&x| x < old);
            if k < self.sorted.len() {
                self.sorted.remove(k);
            }
        }
        self.order.push_back(v);
        let k = self.sorted.partition_point(|&x| x < v);
        self.sorted.insert(k, v);
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q` quantile (linear interpolation between order statistics); NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        quantile_sorted(&self.sorted, q)
    }

    /// Fraction of held values at or above `v`.
    pub fn fraction_at_least(&self, v: f64) -> f64 {
        if self.sorted.is_empty() {
            return 1.0;
        }
        let k = self.sorted.partition_point(|&x| x < v);
        (self.sorted.len() - k) as f64 / self.sorted.len() as f64
    }

    /// The held values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// The values in arrival order.
    pub fn recent(&self) -> &VecDeque<f64> {
        &self.order
    }
}

/// The `q` quantile of sorted data (linear interpolation, type 7); NaN when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The `q` quantile of unsorted data.
pub fn quantile(data: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = data.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_matches_tables() {
        // Standard normal table values.
        assert!((normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_tail(1.96) - 0.024_997_895).abs() < 1e-7);
        assert!((normal_tail(-1.0) - 0.841_344_746).abs() < 1e-7);
        assert!((normal_quantile(0.95) - 1.644_853_627).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn rolling_moments_and_sorted_window() {
        let mut m = RollingMoments::new(3);
        for v in [1.0, 2.0, 3.0, 4.0] {
            m.push(v);
        }
        // Last three: 2, 3, 4.
        assert!((m.mean() - 3.0).abs() < 1e-12);
        assert!((m.std() - (2.0_f64 / 3.0).sqrt()).abs() < 1e-12);
        let mut w = SortedWindow::new(4);
        for v in [5.0, 1.0, 4.0, 2.0, 3.0] {
            w.push(v);
        }
        // Holds 1, 4, 2, 3.
        assert_eq!(w.quantile(0.0), 1.0);
        assert_eq!(w.quantile(1.0), 4.0);
        assert_eq!(w.quantile(0.5), 2.5);
        assert_eq!(w.fraction_at_least(3.0), 0.5);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.25), 1.5);
    }
}

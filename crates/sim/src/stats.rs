//! What one replication measures, and the statistics used to merge replications: constant-memory
//! HDR latency histograms, time-integrated counts (kept as sums of per-visit overlaps with the
//! measurement window, which equals integrating the count over time), batch means and Student-t
//! confidence intervals.

use hdrhistogram::Histogram;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Batches per replication for batch-means confidence intervals.
pub(crate) const BATCHES: usize = 20;

/// Highest latency the histograms resolve: one day, in microseconds (larger values saturate).
const HIST_MAX_US: u64 = 86_400_000_000;

/// A latency histogram in microseconds with 3 significant digits (0.1% resolution).
pub(crate) fn latency_histogram() -> Histogram<u64> {
    // Constant, valid bounds (1 <= low, high >= 2·low, sigfig <= 5): this cannot fail.
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// Per-workload measurements of one replication.
#[derive(Debug, Clone)]
pub(crate) struct WorkloadStats {
    /// Requests that finished successfully in the window.
    pub completed: u64,
    /// Requests that failed in the window.
    pub errors: u64,
    /// Sum of successful latencies, seconds.
    pub latency_sum: f64,
    /// Largest successful latency, seconds.
    pub latency_max: f64,
    /// Successful latencies, microseconds.
    pub hist: Histogram<u64>,
    /// Latency sums per batch of the window.
    pub batch_sum: [f64; BATCHES],
    /// Completions per batch of the window.
    pub batch_n: [u64; BATCHES],
}

impl WorkloadStats {
    pub fn new() -> Self {
        WorkloadStats {
            completed: 0,
            errors: 0,
            latency_sum: 0.0,
            latency_max: 0.0,
            hist: latency_histogram(),
            batch_sum: [0.0; BATCHES],
            batch_n: [0; BATCHES],
        }
    }

    /// Records a successful request of `latency` seconds finishing in batch `batch`.
    #[inline]
    pub fn record(&mut self, latency: f64, batch: usize) {
        self.completed += 1;
        self.latency_sum += latency;
        if latency > self.latency_max {
            self.latency_max = latency;
        }
        self.hist.saturating_record((latency * 1e6).round() as u64);
        if let (Some(s), Some(n)) = (self.batch_sum.get_mut(batch), self.batch_n.get_mut(batch)) {
            *s += latency;
            *n += 1;
        }
    }
}

/// Per-instance measurements (areas are count × seconds inside the window).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InstanceStats {
    /// Visits that finished (successfully or not) in the window.
    pub completed: u64,
    /// Visits turned away because the queue was full.
    pub rejected: u64,
    /// ∫ busy workers dt.
    pub busy_area: f64,
    /// ∫ visits queued or in service dt.
    pub in_system_area: f64,
}

/// Per-endpoint measurements.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EndpointStats {
    /// Visits that finished in the window (successfully or not).
    pub completed: u64,
    /// Visits that failed or were rejected in the window.
    pub errors: u64,
    /// Visits rejected in the window (queue full).
    pub rejected: u64,
    /// ∫ busy workers serving this endpoint dt.
    pub busy_area: f64,
    /// ∫ visits of this endpoint queued or in service dt.
    pub in_system_area: f64,
    /// Sum of the response times (arrival at the instance to departure) of finished visits.
    pub response_sum: f64,
}

/// Everything one replication measured.
#[derive(Debug, Clone)]
pub(crate) struct RepStats {
    /// Attempts failed at once by an open circuit breaker.
    pub short_circuits: u64,
    pub events: u64,
    pub visits: u64,
    pub timeouts: u64,
    pub retries: u64,
    /// Length of the measurement window, seconds.
    pub window: f64,
    pub workloads: Vec<WorkloadStats>,
    pub instances: Vec<InstanceStats>,
    pub endpoints: Vec<EndpointStats>,
    /// ∫ busy cores dt per host.
    pub host_busy: Vec<f64>,
}

/// Mean and 95% confidence interval of `samples` by Student-t (`None` with fewer than two).
pub(crate) fn mean_ci95(samples: &[f64]) -> Option<(f64, f64, f64)> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean = samples.iter().sum::<f64>() / nf;
    let var = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (nf - 1.0);
    let t = StudentsT::new(0.0, 1.0, nf - 1.0)
        .map(|d| d.inverse_cdf(0.975))
        .ok()?;
    let half = t * (var / nf).sqrt();
    Some((mean, mean - half, mean + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_t_interval() {
        // Samples 1..=5: mean 3, s² = 2.5, t(0.975, 4) = 2.776445 → half-width 2.776445·√0.5.
        let (m, lo, hi) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let half = 2.776_445 * 0.5f64.sqrt();
        assert!((m - 3.0).abs() < 1e-12);
        assert!((lo - (3.0 - half)).abs() < 1e-5 && (hi - (3.0 + half)).abs() < 1e-5);
        assert!(mean_ci95(&[1.0]).is_none());
    }

    #[test]
    fn histogram_records_and_saturates() {
        let mut w = WorkloadStats::new();
        w.record(0.002, 0);
        w.record(1e9, BATCHES + 5);
        assert_eq!(w.completed, 2);
        assert_eq!(w.hist.len(), 2);
        assert_eq!(w.batch_n[0], 1);
        assert!(w.hist.max() >= HIST_MAX_US / 2);
    }
}

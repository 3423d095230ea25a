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

/// A compact latency histogram for timeline buckets: bins growing by 5% from 1 µs (so any
/// percentile read from it is within 2.5% of the truth), allocated on first use.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogHist {
    bins: Vec<u32>,
}

/// Number of [`LogHist`] bins: 1.05^520 µs ≈ 10^5 s.
const LOG_BINS: usize = 520;

impl LogHist {
    /// Records `seconds`.
    #[inline]
    pub fn record(&mut self, seconds: f64) {
        if self.bins.is_empty() {
            self.bins = vec![0; LOG_BINS];
        }
        let us = (seconds * 1e6).max(1.0);
        let i = ((us.ln() / 1.05f64.ln()) as usize).min(LOG_BINS - 1);
        self.bins[i] += 1;
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &LogHist) {
        if other.bins.is_empty() {
            return;
        }
        if self.bins.is_empty() {
            self.bins = vec![0; LOG_BINS];
        }
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            *a += b;
        }
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        self.bins.iter().map(|&c| u64::from(c)).sum()
    }

    /// The `q` quantile (0..1) in seconds (the geometric middle of its bin), 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut acc = 0u64;
        for (i, &c) in self.bins.iter().enumerate() {
            acc += u64::from(c);
            if acc >= rank {
                return 1.05f64.powf(i as f64 + 0.5) / 1e6;
            }
        }
        0.0
    }
}

/// Causes of failure, as indices into `[u64; 4]` counters.
pub(crate) const TIMEOUT: u8 = 0;
/// Rejected: queue full, load shed, bulkhead full, no healthy instance.
pub(crate) const REJECTED: u8 = 1;
/// Failed: an error response (injected errors, a dead process, a failed dependency).
pub(crate) const FAILED: u8 = 2;
/// Short-circuited by an open circuit breaker.
pub(crate) const BREAKER: u8 = 3;

/// Per-bucket measurements of one replication (the timeline), whole run including warm-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepSeries {
    /// Bucket width, seconds.
    pub width: f64,
    /// Number of buckets.
    pub n: usize,
    pub nw: usize,
    pub ns: usize,
    pub nslo: usize,
    /// Per bucket × workload: requests started.
    pub arrivals: Vec<u32>,
    /// Per bucket × workload: requests succeeded.
    pub ok: Vec<u32>,
    /// Per bucket × workload: requests failed, by cause.
    pub err: Vec<[u32; 4]>,
    /// Per bucket × workload: successful latencies.
    pub hist: Vec<LogHist>,
    /// Per bucket × service: visits finished or rejected.
    pub visits: Vec<u32>,
    /// Per bucket × service: visits failed or rejected.
    pub visit_errors: Vec<u32>,
    /// Per bucket × service: ∫ busy workers dt.
    pub busy: Vec<f64>,
    /// Per bucket × service: ∫ available workers dt.
    pub cap: Vec<f64>,
    /// Per bucket × service: pods waiting for a node, sampled at the bucket's end.
    pub pending: Vec<u32>,
    /// Per bucket × service: circuit breakers not closed, sampled at the bucket's end.
    pub breakers: Vec<u32>,
    /// Per bucket × SLO: requests judged.
    pub slo_n: Vec<u32>,
    /// Per bucket × SLO: requests that break the objective (too slow, or failed).
    pub slo_bad: Vec<u32>,
}

impl RepSeries {
    pub fn new(width: f64, duration: f64, nw: usize, ns: usize, nslo: usize) -> RepSeries {
        let n = ((duration / width).ceil() as usize).max(1);
        RepSeries {
            width,
            n,
            nw,
            ns,
            nslo,
            arrivals: vec![0; n * nw],
            ok: vec![0; n * nw],
            err: vec![[0; 4]; n * nw],
            hist: vec![LogHist::default(); n * nw],
            visits: vec![0; n * ns],
            visit_errors: vec![0; n * ns],
            busy: vec![0.0; n * ns],
            cap: vec![0.0; n * ns],
            pending: vec![0; n * ns],
            breakers: vec![0; n * ns],
            slo_n: vec![0; n * nslo],
            slo_bad: vec![0; n * nslo],
        }
    }

    /// The bucket of time `t`.
    #[inline]
    pub fn bucket(&self, t: f64) -> usize {
        ((t / self.width) as usize).min(self.n - 1)
    }
}

/// What one SLO measured over the window of one replication.
#[derive(Debug, Clone)]
pub(crate) struct SloRec {
    /// Successful requests' latencies (microseconds).
    pub hist: Histogram<u64>,
    /// Failed requests.
    pub errors: u64,
}

/// A decision the engine took during a run (a canary verdict, an autoscaling step).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    /// Simulated time, seconds.
    pub t: f64,
    /// The replication it happened in.
    pub replication: u32,
    /// The service's index (the report fills in `service`).
    #[serde(skip)]
    pub service_index: u32,
    /// The service.
    pub service: String,
    /// `canary`, `rollout`, `blue-green`, `autoscale`.
    pub kind: String,
    /// `promote`, `rollback`, `complete`, `3 -> 4`...
    pub outcome: String,
    /// Details (the analysis' statistics), in words.
    pub detail: String,
}

/// Per-instance measurements (areas are count × seconds inside the window).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InstanceStats {
    /// ∫ workers available dt (only kept when the run has dynamics).
    pub cap_area: f64,
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
    /// Failed requests in the window by cause.
    pub causes: [u64; 4],
    /// Per service: ∫ busy workers dt and ∫ available workers dt inside the window.
    pub svc_busy: Vec<f64>,
    pub svc_cap: Vec<f64>,
    /// The timeline, when asked for.
    pub series: Option<RepSeries>,
    /// Per SLO of the plan.
    pub slos: Vec<SloRec>,
    /// Decisions taken.
    pub decisions: Vec<Decision>,
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
    fn log_histogram_quantiles_are_within_its_resolution() {
        // 1..=1000 ms: the median is 500 ms, the p99 990 ms; bins are 5% wide.
        let mut h = LogHist::default();
        for k in 1..=1000 {
            h.record(f64::from(k) / 1e3);
        }
        assert_eq!(h.len(), 1000);
        for (q, truth) in [(0.5, 0.5), (0.99, 0.99), (1.0, 1.0)] {
            let got = h.quantile(q);
            assert!((got / truth - 1.0).abs() < 0.05, "q{q}: {got} vs {truth}");
        }
        let mut sum = LogHist::default();
        sum.add(&h);
        sum.add(&h);
        assert_eq!(sum.len(), 2000);
        assert_eq!(LogHist::default().quantile(0.5), 0.0);
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

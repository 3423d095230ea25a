//! Analytic queueing models: the instant "fast path" estimate of a network and the independent
//! reference the simulator is validated against.
//!
//! * [`mm1`] and [`mmc`] — single stations (M/M/1, and M/M/c through Erlang C);
//! * [`jackson`] — open Jackson networks (traffic equations solved exactly, then M/M/c per station);
//! * [`mva_exact`] and [`mva_schweitzer`] — closed single-class product-form networks by exact
//!   Mean Value Analysis (multi-server stations handled exactly as load-dependent stations) and by
//!   the Schweitzer–Bard approximation (with Seidmann's decomposition of multi-server stations),
//!   which costs O(iterations × stations) whatever the population;
//! * [`estimate`] — the instant approximation of a whole simulator network built from the above.
//!
//! Units are whatever the caller uses consistently (Doppel uses seconds and requests per second).

mod estimate;
mod jackson;
mod linalg;
mod mm;
mod mva;

pub use estimate::{
    EndpointEstimate, HostEstimate, NetEstimate, ServiceEstimate, WorkloadEstimate, estimate,
};
pub use jackson::{JacksonSolution, OpenNetwork, OpenStation, jackson};
pub use mm::{QueueMetrics, mm1, mmc};
pub use mva::{ClosedNetwork, ClosedStation, MvaSolution, StationKind, mva_exact, mva_schweitzer};

/// Why an analytic model could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticError {
    /// A parameter is out of its domain (negative rate, zero servers, bad matrix shape...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Offered load reaches or exceeds capacity, so no steady state exists.
    #[error("station {station} is unstable: utilization {rho:.4} >= 1")]
    Unstable {
        /// Index of the saturated station (0 for a single queue).
        station: usize,
        /// Per-server utilization λ/(cμ).
        rho: f64,
    },
    /// The traffic equations have no unique solution (routing traps customers forever).
    #[error("traffic equations are singular: routing has a closed loop with no exit")]
    Singular,
}

//! Doppel's scenario sweeps: the cross product of scenarios × parameter values × replications,
//! run on every core of one machine or on many machines through NATS JetStream, aggregated into
//! one table of results with confidence intervals and SLO verdicts.
//!
//! * [`Bundle`] holds every file the twin and the scenarios are made of (content-addressed by
//!   its SHA-256), so a worker needs nothing but the bundle to run a task;
//! * [`Sweep`] is what to run: scenarios, parameters, replications, seed; its id is the hash of
//!   all of it, so the same sweep always gets the same id (and resumes);
//! * [`Task`] is one (scenario, parameter values, replication); [`run_task`] runs it on a
//!   [`Variant`] (the compiled scenario) and gives a [`TaskResult`];
//! * [`local::run`] runs the tasks on the current rayon pool; [`cluster`] holds the
//!   coordinator and the worker on JetStream; [`store`] keeps sweeps and results in PostgreSQL;
//! * [`Table`] aggregates results in task order: the same results give the same bytes.
//!
//! Replication `r` of every task uses the random stream of replication `r` of the sweep's seed
//! (`doppel_sim::simulate_replication`), never anything about the worker or the order tasks
//! ran in, so a sweep gives the same numbers on one thread, many, or many machines; every
//! scenario and parameter value sees the same streams (common random numbers), so their
//! differences are not sampling noise.

pub mod bundle;
pub mod cluster;
pub mod local;
pub mod spec;
pub mod store;
pub mod table;
pub mod task;

pub use bundle::Bundle;
pub use spec::{Param, Sweep};
pub use table::Table;
pub use task::{Measured, Task, TaskResult, Variant, run_task};

/// Why a sweep could not be prepared or run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The twin or a scenario has errors (one diagnostic per line).
    #[error("{0}")]
    Invalid(String),
    /// A command-line style argument is malformed.
    #[error("{0}")]
    Usage(String),
    /// A scenario cannot be simulated.
    #[error("cannot simulate {file}: {message}")]
    Sim {
        /// The scenario file.
        file: String,
        /// Why.
        message: String,
    },
    /// NATS or JetStream failed.
    #[error("cluster: {0}")]
    Cluster(String),
    /// PostgreSQL failed.
    #[error("PostgreSQL")]
    Store(#[from] tokio_postgres::Error),
    /// Data from the cluster or the store does not decode.
    #[error("corrupt {what}: {message}")]
    Corrupt {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        message: String,
    },
}

/// Result of the sweep library.
pub type Result<T, E = SweepError> = std::result::Result<T, E>;

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

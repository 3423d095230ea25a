//! User behaviour for the twin: who the users are, how they move through the product, and what
//! each group experiences.
//!
//! * [`learn`]: from access-log records (`doppel_import::access_log`), streamed, build
//!   sessions, map paths to endpoints ([`routes`]), form cohorts (by attributes, or by
//!   behaviour with [`cluster`]) and fit each cohort's Markov chain of endpoints with exit
//!   probabilities, think times and arrival rates by hour and weekday ([`model`]);
//! * [`chain`]: visits per session and goal reach from a chain;
//! * [`experience`]: each cohort's traffic simulated on the twin: page latency, errors,
//!   abandonment, completion and goal reach per cohort, and the personalization what-ifs;
//!   [`experience::to_workloads`] turns cohorts into the twin's session-flow workloads;
//! * [`file`]: the `cohorts.yaml` file;
//! * [`synth`]: a seeded generator of logs from known cohorts (the learner's ground truth).
//!
//! Pure: no IO, no clock, no printing; randomness only from seeded streams.

pub mod chain;
pub mod cluster;
pub mod describe;
pub mod experience;
pub mod file;
pub mod learn;
pub mod model;
pub mod routes;
pub mod synth;
pub mod text;

pub use learn::{CohortBy, LearnError, LearnSettings, Learner, Session};
pub use model::{Cohort, CohortSet};

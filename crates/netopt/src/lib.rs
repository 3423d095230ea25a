//! Network optimization for the twin: where traffic should go so that links stay cool.
//!
//! - [`network`]: the directed network (capacity, latency, IGP weight per arc, grouped into
//!   physical links) and the traffic matrix; [`Network::from_twin`] reads the model's routers
//!   and links.
//! - [`import`]: real topology and matrix formats (Topology Zoo GraphML, SNDlib XML, the
//!   FIGRET/DOTE layout, Repetita), with positioned diagnostics on bad input.
//! - [`lp`]: min-MLU multicommodity flow by LP (path-based over tunnels, edge-based for the
//!   true optimum), normalised, every answer checked by [`check`].
//! - [`igp`]: ECMP shortest-path routing and IGP weight optimization by local search.
//! - [`failure`]: the MLU under every single-link failure, worst first.
//! - [`colgen`]: the min-MLU optimum by column generation, warm-started from the previous
//!   matrix's paths (the real-time re-optimization).
//! - [`delay`]: the latency-aware objective (mean propagation + M/M/1 queueing delay under
//!   an MLU bound).
//! - [`robust`]: one routing with the least worst-case MLU over several matrices and every
//!   single link failure, and its scenario table.
//! - [`traffic`]: matrices from the twin's workloads (services, rates, message sizes, host
//!   placement) or from observed byte rates.
//! - [`report`]: routing as data (JSON) for the CLI and the server, with the warm state a
//!   real-time loop carries.
//!
//! The library does no IO and never reads the clock: callers time what they want timed.

pub mod check;
pub mod colgen;
pub mod delay;
pub mod failure;
pub mod igp;
pub mod import;
pub mod lp;
pub mod network;
pub mod paths;
pub mod report;
pub mod robust;
pub mod solution;
pub mod traffic;

pub use check::{Checked, Flow, PathFlow, verify};
pub use network::{Arc, Demand, LinkProps, NetError, Network, TrafficMatrix};
pub use paths::PathSet;
pub use solution::{Method, Solution};

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
//!
//! The library does no IO and never reads the clock: callers time what they want timed.

pub mod check;
pub mod failure;
pub mod igp;
pub mod import;
pub mod lp;
pub mod network;
pub mod paths;
pub mod solution;

pub use check::{Checked, Flow, PathFlow, verify};
pub use network::{Arc, Demand, LinkProps, NetError, Network, TrafficMatrix};
pub use paths::PathSet;
pub use solution::{Method, Solution};

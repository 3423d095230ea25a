//! The Doppel twin model: the typed description of an IT environment that every other part of
//! Doppel reads and writes, its YAML format, units, validation and provenance.
//!
//! Start with [`load`] (files through a reader you pass in; this crate does no IO) or
//! [`load_str`], then read [`Loaded::twin`] and [`Loaded::diagnostics`]. The format's types are
//! in [`twin`]; [`schema_json`] is the JSON Schema editors validate `doppel.yaml` with.

pub mod cvss;
pub mod diag;
pub mod graph;
pub mod ids;
pub mod load;
pub mod resolve;
pub mod scenario;
pub mod schema;
pub mod twin;
pub mod units;
pub mod validate;
pub mod yaml;

pub use diag::{Diagnostic, Path, Severity};
pub use ids::{EntityId, Kind, Peer};
pub use load::{Loaded, load, load_str};
pub use resolve::PlacedInstance;
pub use scenario::{LoadedScenario, Scenario, load_scenario, scenario_schema_json};
pub use schema::schema_json;
pub use twin::*;
pub use units::{Bandwidth, Bytes, Duration, Percent, Rate};

//! Doppel's security analyses over a twin: which flows the firewalls allow ([`reach`]), the
//! logical attack graph built from exposure, vulnerabilities, reachability and credentials
//! ([`graph`]), attack paths, the most likely one and blast radius ([`analysis`]), the fixes
//! that cut most risk ([`analysis::attack`]), importers for vulnerability scans
//! ([`scan`]) and NASim scenarios as a correctness benchmark ([`nasim`]).
//!
//! The library does no IO and never prints: callers hand it a [`doppel_model::Twin`] or the
//! text of a file and get values back.

pub mod analysis;
pub mod campaign;
pub mod estate;
pub mod graph;
pub mod hitting;
pub mod nasim;
pub mod problem;
pub mod reach;
pub mod scan;

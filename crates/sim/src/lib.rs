//! Doppel's simulator: a deterministic discrete-event engine and analytic queueing models.

pub mod analytic;

//! `doppel-predict`: streaming anomaly detection, the NAB scorer it is measured with,
//! forecasting with prediction intervals, and exhaustion forecasts for resources that fill up.
//!
//! A pure library: callers pass series (parsed from text they read) and get scores, alerts,
//! forecasts and benchmark tables back. It does no IO and never prints.
//!
//! - [`series`]: `timestamp,value` input, timestamps, durations;
//! - [`nab`]: the Numenta Anomaly Benchmark scorer (windows, probation, scaled sigmoid,
//!   profiles, corpus-best threshold, normalisation);
//! - [`detect`], [`doppel`], [`baselines`]: the online detectors;
//! - [`bench`]: the NAB benchmark over a corpus;
//! - [`forecast`]: seasonal forecasts with intervals, MASE;
//! - [`capacity`]: "full in 3d 4h" exhaustion forecasts.

pub mod baselines;
pub mod bench;
pub mod capacity;
pub mod detect;
pub mod doppel;
mod error;
pub mod forecast;
pub mod nab;
pub mod series;
pub mod stats;

pub use error::PredictError;

//! Shared ground truth for the users tests: three cohorts with known chains, think times and
//! arrival rates, and a helper that learns from generated logs.

#![allow(dead_code, clippy::unwrap_used)]

use doppel_import::access_log::{AccessLogReader, Format, JsonMapping};
use doppel_users::synth::{self, TrueCohort};

use doppel_users::{CohortSet, LearnSettings, Learner, Session};

pub use doppel_users::synth::*;

/// 2026-11-02, a Monday.
pub const START_DAY: i64 = 20_759;

pub fn json_mapping() -> JsonMapping {
    JsonMapping {
        time: vec!["ts".into()],
        ip: vec!["client".into()],
        client_id: vec!["session_id".into()],
        attributes: [("region", "region"), ("plan", "plan")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..JsonMapping::default()
    }
}

/// Generates `days` days from `start_day` as JSON lines, learns them back.
pub fn learn_json(
    cohorts: &[TrueCohort],
    start_day: i64,
    days: u32,
    seed: u64,
    settings: LearnSettings,
) -> (CohortSet, Vec<Session>) {
    let requests = synth::generate(cohorts, start_day, days, seed);
    let mut text = String::new();
    for r in &requests {
        text.push_str(&synth::json_line(r, cohorts));
        text.push('\n');
    }
    let mut learner = Learner::new(settings).unwrap();
    let mut reader = AccessLogReader::new(
        text.as_bytes(),
        "gen.log",
        Format::Json(Box::new(json_mapping())),
    );
    for item in reader.by_ref() {
        learner.push(&item.unwrap());
    }
    let stats = reader.stats();
    learner.add_file("gen.log", stats.lines, stats.malformed);
    learner.finish().unwrap()
}

//! Shared ground truth for the users tests: three cohorts with known chains, think times and
//! arrival rates, and a helper that learns from generated logs.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use doppel_import::access_log::{AccessLogReader, Format, JsonMapping};
use doppel_users::synth::{self, TrueCohort};
use doppel_users::{CohortSet, LearnSettings, Learner, Session};

pub const MOBILE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
pub const DESKTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub const TABLET_UA: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

pub const H: &str = "GET /";
pub const S: &str = "GET /search";
pub const C: &str = "GET /category/{slug}";
pub const P: &str = "GET /product/{id}";
pub const A: &str = "POST /cart/add";
pub const K: &str = "GET /cart";
pub const X: &str = "POST /checkout";

/// The endpoint the learner should name for a true one (slugs are learned as `{id}`).
pub fn learned_name(e: &str) -> String {
    e.replace("{slug}", "{id}")
}

fn chain(rows: &[(&str, &[(&str, f64)])]) -> Vec<(String, Vec<(String, f64)>)> {
    rows.iter()
        .map(|(e, next)| {
            (
                (*e).to_owned(),
                next.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect(),
            )
        })
        .collect()
}

/// A daily curve: `base` plus `peak` times a bump centred on `at` (hours).
fn curve(base: f64, peak: f64, at: f64) -> Vec<f64> {
    (0..24)
        .map(|h| {
            let d = ((h as f64 - at + 36.0) % 24.0) - 12.0;
            base + peak * (-d * d / 18.0).exp()
        })
        .collect()
}

const WEEKDAY: [f64; 7] = [1.0, 0.95, 0.95, 1.0, 1.1, 0.9, 1.1];

pub fn truth() -> Vec<TrueCohort> {
    let attrs = |region: &str, plan: &str| -> BTreeMap<String, String> {
        [("region", region), ("plan", plan)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    vec![
        TrueCohort {
            user_agent: MOBILE_UA.into(),
            attributes: attrs("eu-west", "free"),
            entry: vec![(H.into(), 0.6), (C.into(), 0.25), (P.into(), 0.15)],
            chain: chain(&[
                (H, &[(S, 0.3), (C, 0.3), (P, 0.2)]),
                (S, &[(P, 0.6), (S, 0.15)]),
                (C, &[(P, 0.55), (C, 0.2)]),
                (P, &[(P, 0.25), (A, 0.08), (C, 0.15), (S, 0.1)]),
                (A, &[(K, 0.6), (P, 0.2)]),
                (K, &[(X, 0.35), (P, 0.2)]),
            ]),
            think_mu: 9f64.ln(),
            think_sigma: 0.9,
            per_hour: curve(20.0, 70.0, 20.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.01,
        },
        TrueCohort {
            user_agent: DESKTOP_UA.into(),
            attributes: attrs("us-east", "plus"),
            entry: vec![(H.into(), 0.5), (S.into(), 0.4), (P.into(), 0.1)],
            chain: chain(&[
                (H, &[(S, 0.4), (C, 0.2), (P, 0.2)]),
                (S, &[(P, 0.7), (S, 0.1)]),
                (C, &[(P, 0.6)]),
                (P, &[(P, 0.2), (A, 0.15), (S, 0.15)]),
                (A, &[(K, 0.7), (P, 0.1)]),
                (K, &[(X, 0.55)]),
            ]),
            think_mu: 15f64.ln(),
            think_sigma: 0.7,
            per_hour: curve(8.0, 55.0, 11.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.005,
        },
        TrueCohort {
            user_agent: TABLET_UA.into(),
            attributes: attrs("eu-west", "free"),
            entry: vec![(C.into(), 0.7), (H.into(), 0.3)],
            chain: chain(&[
                (H, &[(C, 0.6)]),
                (C, &[(P, 0.5), (C, 0.3)]),
                (P, &[(C, 0.3), (A, 0.05)]),
                (A, &[(K, 0.5)]),
                (K, &[(X, 0.3)]),
            ]),
            think_mu: 20f64.ln(),
            think_sigma: 1.0,
            per_hour: curve(5.0, 20.0, 21.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.02,
        },
    ]
}

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

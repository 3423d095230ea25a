//! The experience on a twin whose pages take a known, constant time (no queueing: plenty of
//! workers), so every page's latency is exact and the outcomes can be checked against the
//! sessions themselves: completion and goal reach computed page by page over the generated
//! sessions, independently of the chain arithmetic.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use common::*;
use doppel_users::experience::{Abandonment, ExperienceSettings, experience, to_workloads};
use doppel_users::{CohortBy, LearnSettings};

/// Page times in seconds; `/category/{id}` is not in the twin.
const TIMES: [(&str, &str, f64); 6] = [
    ("home", "GET /", 0.5),
    ("search", "GET /search", 0.8),
    ("product", "GET /product/{id}", 1.5),
    ("add_to_cart", "POST /cart/add", 0.6),
    ("cart", "GET /cart", 1.0),
    ("checkout", "POST /checkout", 2.5),
];

fn twin() -> doppel_model::Twin {
    let mut text =
        String::from("services:\n  web:\n    concurrency: {workers: 100000}\n    endpoints:\n");
    for (name, _, t) in TIMES {
        text.push_str(&format!(
            "      {name}: {{service_time: {{dist: constant, value: {}ms}}}}\n",
            (t * 1000.0) as u64
        ));
    }
    let loaded = doppel_model::load_str("web.yaml", &text);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

fn time_of(endpoint: &str) -> Option<f64> {
    TIMES
        .iter()
        .find(|(_, e, _)| *e == endpoint)
        .map(|(_, _, t)| *t)
}

#[test]
fn outcomes_match_the_sessions_page_by_page() {
    let settings = LearnSettings {
        cohorts: CohortBy::Attributes(vec!["device".into()]),
        ..LearnSettings::default()
    };
    let (set, sessions) = learn_json(&demo_cohorts(), START_DAY, 3, 5, settings);
    let abandonment = Abandonment::default();
    let s = ExperienceSettings {
        sessions_per_s: Some(2.0),
        duration_s: 200.0,
        warmup_s: 20.0,
        replications: 1,
        errors_end_sessions: false,
        ..ExperienceSettings::default()
    };
    let r = experience(&twin(), &set, &s).unwrap();
    assert_eq!(r.unmapped.len(), 1, "{:?}", r.unmapped);
    assert_eq!(r.unmapped[0].0, "GET /category/{id}");
    assert_eq!(r.routes["GET /cart"], "web/cart");
    assert_eq!(r.routes["POST /cart/add"], "web/add_to_cart");
    // Constant latencies: runs differ in nothing that matters, so there is no noise.
    assert_eq!(r.noise.sessions_per_hour, 0.0);

    for c in &r.cohorts {
        let ci = set.cohorts.iter().position(|k| k.name == c.name).unwrap();
        // Page by page over the cohort's own sessions. A page not in the twin costs nothing.
        let keep = |e: &str| 1.0 - time_of(e).map_or(0.0, |t| abandonment.p(t));
        let mut done = Vec::new();
        let mut goal = Vec::new();
        for sess in sessions.iter().filter(|x| x.cohort as usize == ci) {
            let mut alive = 1.0;
            let mut reached: f64 = 0.0;
            for p in &sess.pages {
                let name = set.endpoints.get_index(*p as usize).unwrap().0;
                alive *= keep(name);
                if name == X && reached == 0.0 {
                    reached = alive;
                }
            }
            done.push(alive);
            goal.push(reached);
        }
        let check = |what: &str, xs: &[f64], got: f64| {
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let se = sd / n.sqrt();
            println!(
                "{}: {what} {got:.5}, from the sessions {mean:.5} ± {se:.5}",
                c.name
            );
            assert!((got - mean).abs() <= 4.5 * se + 1e-5, "{}: {what}", c.name);
        };
        check("completion", &done, c.completion);
        check("goal reached", &goal, c.goal_reached);
        // Every page latency is one of the constants.
        for q in [
            c.page_latency_ms.p50,
            c.page_latency_ms.p90,
            c.page_latency_ms.p99,
        ] {
            assert!(
                TIMES.iter().any(|(_, _, t)| (q - t * 1000.0).abs() < 1.0),
                "{}: {q} ms is no page's time",
                c.name
            );
        }
        assert!(c.goal_reached < c.goal_ideal);
    }

    // What-ifs: exact here, so each must help its own cohort.
    let edge = r.what_ifs.iter().find(|w| w.name == "edge:mobile").unwrap();
    let mobile = |w: &doppel_users::experience::WhatIf| {
        w.per_cohort
            .iter()
            .find(|(n, _, _)| n == "mobile")
            .unwrap()
            .1
    };
    assert!(mobile(edge) > 0.0, "{edge:?}");
    assert!(edge.origin_rps_delta < 0.0);
    let light = r
        .what_ifs
        .iter()
        .find(|w| w.name == "light:mobile")
        .unwrap();
    assert!(mobile(light) > 0.0, "{light:?}");
    let light_p90 = light
        .per_cohort
        .iter()
        .find(|(n, _, _)| n == "mobile")
        .unwrap()
        .2;
    let base_p90 = r
        .cohorts
        .iter()
        .find(|c| c.name == "mobile")
        .unwrap()
        .page_latency_ms
        .p90;
    assert!(
        (light_p90 - base_p90 * s.light_factor).abs() < 1.0,
        "{light_p90} vs {base_p90}"
    );
    let prefetch = r
        .what_ifs
        .iter()
        .find(|w| w.name == "prefetch:mobile")
        .unwrap();
    assert!(mobile(prefetch) > 0.0);
    // Best first.
    for w in r.what_ifs.windows(2) {
        assert!(w[0].sessions_saved_per_hour >= w[1].sessions_saved_per_hour);
    }
    // The cohorts as the twin's workloads: the twin with them loads and validates.
    let mut t = twin();
    t.workloads = to_workloads(&set, &r.routes, r.hour);
    assert!(!t.workloads.is_empty());
    let yaml = doppel_import::to_yaml(&t, None).unwrap();
    let back = doppel_model::load_str("with-users.yaml", &yaml);
    assert!(back.is_valid(), "{:?}\n{yaml}", back.diagnostics);
}

#[test]
fn a_priority_lane_helps_the_paying_cohort_at_the_others_expense() {
    // One busy endpoint set: two workers, exponential 40 ms pages, about 80% busy.
    let mut text =
        String::from("services:\n  web:\n    concurrency: {workers: 2}\n    endpoints:\n");
    for (name, _, _) in TIMES {
        text.push_str(&format!(
            "      {name}: {{service_time: {{dist: exponential, mean: 40ms}}}}\n"
        ));
    }
    let twin = doppel_model::load_str("busy.yaml", &text).twin;
    let mut truth = demo_cohorts();
    truth[0].attributes.insert("plan".into(), "free".into());
    truth[1].attributes.insert("plan".into(), "plus".into());
    truth.truncate(2);
    let settings = LearnSettings {
        cohorts: CohortBy::Attributes(vec!["plan".into()]),
        ..LearnSettings::default()
    };
    let (set, _) = learn_json(&truth, START_DAY, 2, 8, settings);
    // Pages per second = sessions/s × mapped pages per session; aim at 40 pages/s (80%).
    let pages: f64 = set
        .cohorts
        .iter()
        .map(|c| {
            c.share
                * doppel_users::chain::expected_visits(c)
                    .unwrap()
                    .iter()
                    .filter(|(e, _)| !e.contains("category"))
                    .map(|(_, v)| v)
                    .sum::<f64>()
        })
        .sum();
    let s = ExperienceSettings {
        sessions_per_s: Some(40.0 / pages),
        duration_s: 400.0,
        warmup_s: 40.0,
        ..ExperienceSettings::default()
    };
    let r = experience(&twin, &set, &s).unwrap();
    let w = r
        .what_ifs
        .iter()
        .find(|w| w.name == "priority:plus")
        .unwrap();
    assert!(r.what_ifs.iter().all(|w| w.name != "priority:free"));
    let p90 = |name: &str| {
        (
            r.cohorts
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .page_latency_ms
                .p90,
            w.per_cohort.iter().find(|(n, _, _)| n == name).unwrap().2,
        )
    };
    let (plus_before, plus_after) = p90("plus");
    let (free_before, free_after) = p90("free");
    println!(
        "plus p90 {plus_before} -> {plus_after} ms; free p90 {free_before} -> {free_after} ms"
    );
    assert!(plus_after < 0.8 * plus_before);
    assert!(free_after > free_before);
    assert_eq!((w.origin_rps_delta, w.busy_cores_delta), (0.0, 0.0));
}

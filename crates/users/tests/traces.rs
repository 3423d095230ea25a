//! Learn known cohorts back from traces whose spans carry user and session attributes (OTLP
//! JSON lines and Jaeger JSON, as `synth` writes them from the same generated sessions as the
//! access-log tests), within the same tolerances as `recovery.rs`: every parameter within 4.5
//! standard errors of the truth.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use common::*;
use doppel_users::{CohortBy, LearnSettings};

#[test]
fn cohorts_learned_from_otlp_traces_match_the_truth() {
    let truth = demo_cohorts();
    let days = 14;
    let settings = LearnSettings {
        cohorts: CohortBy::Attributes(vec!["device".into()]),
        ..LearnSettings::default()
    };
    let (set, _) = learn_traces(&truth, START_DAY, days, 3, settings, false);
    assert_eq!(set.source.days, days);
    assert_eq!(set.source.malformed, 0);
    assert_eq!(set.goal, ["POST /checkout"]);
    assert!(
        !set.endpoints.keys().any(|e| e.contains("/items")),
        "a child span is not a page: {:?}",
        set.endpoints.keys().collect::<Vec<_>>()
    );
    let (checks, worst) = check_recovery(&set, &truth, days);
    println!("{checks} parameters within {Z} standard errors; the worst at {worst:.2}");
}

#[test]
fn jaeger_and_otlp_give_the_same_sessions_and_attribute_cohorts() {
    let truth = demo_cohorts();
    let requests = generate(&truth, START_DAY, 1, 5);
    // Sessions per (region, plan) as generated: the expected cohort sizes.
    let mut expected = std::collections::BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &requests {
        if seen.insert(r.session) {
            let a = &truth[r.cohort].attributes;
            *expected
                .entry(format!("{}-{}", a["region"], a["plan"]))
                .or_insert(0u64) += 1;
        }
    }
    let settings = LearnSettings {
        cohorts: CohortBy::Attributes(vec!["region".into(), "plan".into()]),
        ..LearnSettings::default()
    };
    let (otlp, otlp_sessions) = learn_traces(&truth, START_DAY, 1, 5, settings.clone(), false);
    let (jaeger, jaeger_sessions) = learn_traces(&truth, START_DAY, 1, 5, settings, true);
    // Jaeger keeps microseconds, OTLP nanoseconds: the same sessions, pages and cohorts,
    // times equal to a microsecond.
    assert_eq!(otlp_sessions.len(), jaeger_sessions.len());
    for (a, b) in otlp_sessions.iter().zip(&jaeger_sessions) {
        assert_eq!(
            (&a.pages, a.cohort, a.errors),
            (&b.pages, b.cohort, b.errors)
        );
        assert!(
            (a.start - b.start).abs() < 2e-6,
            "{} vs {}",
            a.start,
            b.start
        );
        for (x, y) in a.gaps.iter().zip(&b.gaps) {
            assert!((x - y).abs() < 1e-4, "gap {x} vs {y}");
        }
    }
    let names = |s: &doppel_users::CohortSet| -> Vec<(String, u64)> {
        s.cohorts
            .iter()
            .map(|c| (c.name.clone(), c.sessions))
            .collect()
    };
    assert_eq!(names(&otlp), names(&jaeger));
    let total: u64 = expected.values().sum();
    for (name, n) in &expected {
        let c = otlp
            .cohorts
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| {
                panic!(
                    "no cohort {name}: {:?}",
                    otlp.cohorts.iter().map(|c| &c.name).collect::<Vec<_>>()
                )
            });
        // A session id keeps a session together unless a think time exceeds the 30-minute
        // gap (log-normal tails: a handful in a day); sizes agree within 1%.
        let got = c.sessions as f64;
        assert!(
            (got - *n as f64).abs() <= 0.01 * *n as f64,
            "{name}: {got} sessions learned, {n} generated"
        );
        println!("{name}: {got} sessions learned, {n} generated");
    }
    assert!(
        otlp.source.sessions >= total,
        "a gap can split a session, never merge two"
    );
}

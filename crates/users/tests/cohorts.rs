//! Cohorts by behaviour (k-means, k by silhouette) and by configured attributes, the
//! whole-second think-time fit, and the cohorts file's round trip.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;

use common::*;
use doppel_import::access_log::{AccessLogReader, Format};
use doppel_users::synth::{self, TrueCohort};
use doppel_users::{CohortBy, LearnSettings, Learner};

fn cohort(
    entry: &[(&str, f64)],
    chain: &[(&str, &[(&str, f64)])],
    think: f64,
    per_hour: f64,
    plan: &str,
) -> TrueCohort {
    TrueCohort {
        user_agent: DESKTOP_UA.into(),
        attributes: [
            ("plan".to_owned(), plan.to_owned()),
            ("region".to_owned(), "eu-west".to_owned()),
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>(),
        entry: entry.iter().map(|(e, p)| ((*e).to_owned(), *p)).collect(),
        chain: chain
            .iter()
            .map(|(e, n)| {
                (
                    (*e).to_owned(),
                    n.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect(),
                )
            })
            .collect(),
        think_mu: think.ln(),
        think_sigma: 0.5,
        per_hour: vec![per_hour; 24],
        weekday: vec![1.0; 7],
        error_rate: 0.0,
    }
}

/// Three behaviours on the same device: browsers (long sessions, quick clicks, never buy),
/// buyers (straight to the checkout, slow and careful) and bouncers (one page).
fn behaviours() -> Vec<TrueCohort> {
    vec![
        cohort(
            &[(H, 1.0)],
            &[(H, &[(C, 1.0)]), (C, &[(P, 0.9)]), (P, &[(C, 0.85)])],
            4.0,
            40.0,
            "free",
        ),
        cohort(
            &[(P, 1.0)],
            &[(P, &[(A, 1.0)]), (A, &[(K, 1.0)]), (K, &[(X, 1.0)])],
            40.0,
            15.0,
            "plus",
        ),
        cohort(&[(S, 1.0)], &[], 1.0, 30.0, "free"),
    ]
}

#[test]
fn behaviour_clusters_recover_the_three_behaviours() {
    let truth = behaviours();
    let requests = synth::generate(&truth, START_DAY, 1, 11);
    let mut true_sessions = vec![std::collections::BTreeSet::new(); truth.len()];
    for r in &requests {
        true_sessions[r.cohort].insert(r.session);
    }
    let text: String = requests
        .iter()
        .map(|r| synth::json_line(r, &truth) + "\n")
        .collect();
    let mut learner = Learner::new(LearnSettings {
        cohorts: CohortBy::Behaviour { max_k: 6 },
        ..LearnSettings::default()
    })
    .unwrap();
    for item in AccessLogReader::new(
        text.as_bytes(),
        "b.log",
        Format::Json(Box::new(json_mapping())),
    ) {
        learner.push(&item.unwrap());
    }
    let (set, _) = learner.finish().unwrap();
    println!("{}", set.cohorts_by);
    assert_eq!(set.cohorts.len(), 3, "{}", set.cohorts_by);
    assert!(
        set.cohorts_by
            .contains("k = 3 chosen by the largest mean silhouette")
    );
    let total: usize = true_sessions.iter().map(|s| s.len()).sum();
    // Each learned cluster is one behaviour: bouncers see one page, buyers all reach the goal,
    // browsers never do; and each has that behaviour's number of sessions, give or take 2% of
    // all sessions misassigned.
    let find = |pred: &dyn Fn(&doppel_users::Cohort) -> bool| {
        set.cohorts
            .iter()
            .find(|c| pred(c))
            .unwrap_or_else(|| panic!("{:#?}", set.cohorts))
    };
    let bouncers = find(&|c| c.pages_mean < 1.2);
    let buyers = find(&|c| c.goal_share > 0.95);
    let browsers = find(&|c| c.goal_share < 0.01 && c.pages_mean > 3.0);
    for (learned, truth_ix) in [(browsers, 0), (buyers, 1), (bouncers, 2)] {
        let expected = true_sessions[truth_ix].len() as f64;
        println!(
            "{}: {} sessions, truth {expected}: {}",
            learned.name, learned.sessions, learned.description
        );
        assert!(
            (learned.sessions as f64 - expected).abs() <= 0.02 * total as f64,
            "{}: {} vs {expected}",
            learned.name,
            learned.sessions
        );
    }
}

#[test]
fn attribute_cohorts_pool_small_groups_and_keep_the_plan() {
    let truth = behaviours();
    let settings = LearnSettings {
        cohorts: CohortBy::Attributes(vec!["plan".into(), "region".into()]),
        min_cohort_sessions: 400,
        ..LearnSettings::default()
    };
    let (set, sessions) = learn_json(&truth, START_DAY, 1, 12, settings);
    // free/eu-west has browsers and bouncers (~1680 sessions), plus/eu-west ~360 (< 400):
    // pooled into `other`.
    let names: Vec<&str> = set.cohorts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["free-eu-west", "other"]);
    assert_eq!(set.cohorts[0].attributes["plan"], "free");
    assert!(!set.cohorts[1].attributes.contains_key("plan"));
    assert!(
        set.cohorts[1].goal_share > 0.95,
        "the buyers are the plus plan"
    );
    assert_eq!(
        sessions.iter().filter(|s| s.cohort == 1).count() as u64,
        set.cohorts[1].sessions
    );
}

#[test]
fn whole_second_logs_fit_think_time_by_moments() {
    // NCSA logs carry whole seconds: the rounding adds variance 1/6 s² and no bias.
    let truth = demo_cohorts();
    let requests = synth::generate(&truth, START_DAY, 3, 21);
    let mut text = String::new();
    for (i, r) in requests.iter().enumerate() {
        text.push_str(&synth::combined_line(r, &truth));
        text.push('\n');
        if i % 1000 == 0 {
            text.push_str("garbage that is not a log line\n");
            text.push_str("10.9.9.9 - - [02/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"Googlebot/2.1\"\n");
        }
    }
    let mut learner = Learner::new(LearnSettings::default()).unwrap();
    let mut reader = AccessLogReader::new(text.as_bytes(), "c.log", Format::Auto);
    let mut malformed = 0;
    for item in reader.by_ref() {
        match item {
            Ok(r) => learner.push(&r),
            Err(d) => {
                assert!(d.to_string().starts_with("c.log:"), "{d}");
                malformed += 1;
            }
        }
    }
    let stats = reader.stats();
    let marks = requests.len().div_ceil(1000) as u64;
    assert_eq!(
        (malformed, stats.malformed, stats.bots),
        (marks, marks, marks)
    );
    learner.add_file("c.log", stats.lines, stats.malformed);
    let (set, _) = learner.finish().unwrap();
    assert!(set.source.whole_seconds);
    assert_eq!(set.source.bots, marks);
    for t in &truth {
        let device = doppel_import::access_log::ua::device_class(&t.user_agent).as_str();
        let c = set.cohorts.iter().find(|c| c.name == device).unwrap();
        let (mu, s) = (t.think_mu, t.think_sigma);
        let mean = (mu + s * s / 2.0).exp();
        let var = ((s * s).exp() - 1.0) * (2.0 * mu + s * s).exp() + 1.0 / 6.0;
        let se = (var / c.think_time.samples as f64).sqrt();
        let z = (c.think_time.mean_s - mean).abs() / se;
        println!(
            "{device}: think mean {:.3} s vs {mean:.3} s ({z:.2} se)",
            c.think_time.mean_s
        );
        assert!(z <= 4.5, "{device}: {} vs {mean}", c.think_time.mean_s);
    }
}

#[test]
fn the_cohorts_file_round_trips() {
    let (set, _) = learn_json(&demo_cohorts(), START_DAY, 1, 3, LearnSettings::default());
    let text = doppel_users::file::to_yaml(&set, "a test").unwrap();
    assert!(text.starts_with("# a test\nversion: 1\n"));
    let back = doppel_users::file::from_yaml("cohorts.yaml", &text).unwrap();
    assert_eq!(back, set);
    let bad = text.replacen("version: 1", "version: 7", 1);
    let err = doppel_users::file::from_yaml("cohorts.yaml", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cohorts.yaml:2:10: /version: version 7"),
        "{err}"
    );
    let err = doppel_users::file::from_yaml("c.yaml", "version: [")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("c.yaml:"), "{err}");
}

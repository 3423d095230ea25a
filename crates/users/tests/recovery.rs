//! Learn back known cohorts from generated logs. Every tolerance is a multiple of the
//! sampling error of the estimate (4.5 standard errors: with a few hundred checks, a chance
//! failure has probability below 10⁻³), or a chi-square critical value at the 0.999 level.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use common::*;
use doppel_users::chain::expected_visits;
use doppel_users::{CohortBy, LearnSettings};
use statrs::distribution::{ChiSquared, ContinuousCDF};

fn by_device() -> LearnSettings {
    LearnSettings {
        cohorts: CohortBy::Attributes(vec!["device".into()]),
        ..LearnSettings::default()
    }
}

/// Days of training logs.
const TRAIN_DAYS: u32 = 14;

/// The 14 days learned once for both tests (learning them takes a while in a debug build).
fn trained() -> &'static (doppel_users::CohortSet, Vec<doppel_users::Session>) {
    static TRAINED: std::sync::OnceLock<(doppel_users::CohortSet, Vec<doppel_users::Session>)> =
        std::sync::OnceLock::new();
    TRAINED.get_or_init(|| learn_json(&demo_cohorts(), START_DAY, TRAIN_DAYS, 1, by_device()))
}

#[test]
fn learned_chains_think_times_and_rates_match_the_demo_cohorts() {
    let truth = demo_cohorts();
    let days = TRAIN_DAYS;
    let (set, _) = trained();
    assert_eq!(set.source.days, days);
    assert_eq!(set.source.malformed, 0);
    assert!(!set.source.whole_seconds);
    assert_eq!(set.goal, ["POST /checkout"]);
    assert!(
        set.endpoints.contains_key("GET /category/{id}"),
        "the slug position is learned as high-cardinality: {:?}",
        set.endpoints.keys().collect::<Vec<_>>()
    );
    let (checks, worst) = check_recovery(set, &truth, days);
    println!("{checks} parameters within {Z} standard errors; the worst at {worst:.2}");
}

#[test]
fn a_held_out_day_matches_the_predicted_endpoint_mix_and_hourly_rate() {
    let truth = demo_cohorts();
    let train_days = TRAIN_DAYS;
    let (model, train_sessions) = trained();
    // Day 15 (a Monday), generated with another seed: traffic the model never saw.
    let held_day = START_DAY + i64::from(train_days);
    let (held, held_sessions) = learn_json(&truth, held_day, 1, 99, by_device());
    let weekday = doppel_users::learn::weekday(held_day);

    // Endpoint mix: counts of page views per endpoint, given each cohort's observed sessions.
    // Expected: N_c · v_c (v from the traffic equations of the learned chain). Covariance:
    // N_c · Cov_c(visits per session) from the training sessions, inflated by
    // (1 + N_c / N_c,train) for the error in the learned means. D = rᵀ Σ⁻¹ r ~ χ²(K).
    let endpoints: Vec<String> = model.endpoints.keys().cloned().collect();
    let k = endpoints.len();
    let mut expected = vec![0.0; k];
    let mut cov = vec![vec![0.0; k]; k];
    for c in &model.cohorts {
        let n_obs = held
            .cohorts
            .iter()
            .find(|h| h.name == c.name)
            .map_or(0.0, |h| h.sessions as f64);
        let v = expected_visits(c).unwrap();
        for (e, x) in &v {
            let i = endpoints.iter().position(|n| n == e).unwrap();
            expected[i] += n_obs * x;
        }
        // Per-session visit counts of this cohort's training sessions.
        let members: Vec<&doppel_users::Session> = train_sessions
            .iter()
            .filter(|s| cohort_of_session(model, s) == c.name)
            .collect();
        let m = members.len() as f64;
        let counts: Vec<Vec<f64>> = members
            .iter()
            .map(|s| {
                let mut row = vec![0.0; k];
                for p in &s.pages {
                    row[*p as usize] += 1.0;
                }
                row
            })
            .collect();
        let mean: Vec<f64> = (0..k)
            .map(|i| counts.iter().map(|r| r[i]).sum::<f64>() / m)
            .collect();
        let inflate = 1.0 + n_obs / m;
        for r in &counts {
            for i in 0..k {
                for j in 0..k {
                    cov[i][j] += n_obs * inflate * (r[i] - mean[i]) * (r[j] - mean[j]) / (m - 1.0);
                }
            }
        }
    }
    let mut observed = vec![0.0; k];
    for s in &held_sessions {
        for p in &s.pages {
            let name = held.endpoints.get_index(*p as usize).unwrap().0;
            let i = endpoints.iter().position(|n| n == name).unwrap();
            observed[i] += 1.0;
        }
    }
    let r: Vec<f64> = observed.iter().zip(&expected).map(|(o, e)| o - e).collect();
    let x = doppel_users::chain::solve(cov, r.clone()).unwrap();
    let d: f64 = r.iter().zip(&x).map(|(a, b)| a * b).sum();
    let crit = ChiSquared::new(k as f64).unwrap().inverse_cdf(0.999);
    println!(
        "endpoint mix of the held-out day: D = {d:.2}, chi-square({k}) 0.999 critical value {crit:.2}"
    );
    for (i, e) in endpoints.iter().enumerate() {
        println!(
            "  {e:24} observed {:7.0} predicted {:9.1}",
            observed[i], expected[i]
        );
    }
    assert!(d < crit, "endpoint mix: D = {d} >= {crit}");

    // Hourly sessions: predicted Σ_c by_hour_c[h] · weekday_c; the observed count is Poisson
    // around the truth, and the prediction has its own error (mean of 14 days: var ≈ H/14;
    // the weekday factor from two days: relative var ≈ 1/N_w).
    let n_w: f64 = model
        .cohorts
        .iter()
        .map(|c| c.arrivals.mean_per_hour * 24.0 * 2.0 * c.arrivals.by_weekday[weekday])
        .sum();
    let mut stat = 0.0;
    let mut total_pred = 0.0;
    let mut total_obs = 0.0;
    for h in 0..24 {
        let pred: f64 = model
            .cohorts
            .iter()
            .map(|c| c.arrivals.per_hour(h, weekday))
            .sum();
        let obs: f64 = held.cohorts.iter().map(|c| c.arrivals.by_hour[h]).sum();
        let var = pred * (1.0 + 1.0 / f64::from(train_days)) + pred * pred / n_w;
        stat += (obs - pred).powi(2) / var;
        total_pred += pred;
        total_obs += obs;
    }
    let crit24 = ChiSquared::new(24.0).unwrap().inverse_cdf(0.999);
    let total_se =
        (total_pred * (1.0 + 1.0 / f64::from(train_days)) + total_pred * total_pred / n_w).sqrt();
    println!(
        "hourly sessions of the held-out day: chi-square {stat:.2} (critical {crit24:.2}); day total observed {total_obs} predicted {total_pred:.1} ({:+.2}%, {:.2} se)",
        100.0 * (total_obs - total_pred) / total_pred,
        (total_obs - total_pred).abs() / total_se
    );
    assert!(stat < crit24, "hourly rate: {stat} >= {crit24}");
    assert!((total_obs - total_pred).abs() <= Z * total_se);
}

fn cohort_of_session(model: &doppel_users::CohortSet, s: &doppel_users::Session) -> String {
    model.cohorts[s.cohort as usize].name.clone()
}

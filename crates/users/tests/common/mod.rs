//! Shared ground truth for the users tests: three cohorts with known chains, think times and
//! arrival rates, and a helper that learns from generated logs.

#![allow(dead_code, clippy::unwrap_used)]

use doppel_import::access_log::traces::{TraceMapping, TraceReader};
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

/// Tolerance of every recovered parameter, in standard errors of its estimate (4.5: with a few
/// hundred checks, a chance failure has probability below 10⁻³).
pub const Z: f64 = 4.5;

/// The device class of a true cohort's user agent.
pub fn device_of(t: &TrueCohort) -> &'static str {
    doppel_import::access_log::ua::device_class(&t.user_agent).as_str()
}

/// Checks every learned parameter of cohorts learned by device from `days` days (whole weeks)
/// of traffic against the truth: entry, transition and exit probabilities, think time,
/// sessions per hour, weekday factors and goal share, each within [`Z`] standard errors.
/// Returns the number of checks and the worst deviation in standard errors.
pub fn check_recovery(set: &CohortSet, truth: &[TrueCohort], days: u32) -> (usize, f64) {
    assert_eq!(set.cohorts.len(), 3);
    let mut checks = 0;
    let mut worst: f64 = 0.0;
    for t in truth {
        let c = set
            .cohorts
            .iter()
            .find(|c| c.name == device_of(t))
            .unwrap_or_else(|| panic!("no cohort {}", device_of(t)));
        let n = c.sessions as f64;
        // Entry probabilities.
        for (e, p) in &t.entry {
            let got = c.entry.get(&learned_name(e)).copied().unwrap_or(0.0);
            let se = (p * (1.0 - p) / n).sqrt();
            let z = (got - p).abs() / se;
            worst = worst.max(z);
            checks += 1;
            assert!(z <= Z, "{}: entry {e}: {got} vs {p} ({z:.2} se)", c.name);
        }
        // Transitions and exits, each against its binomial standard error at the true p.
        for (from, next) in &t.chain {
            let step = &c.chain[&learned_name(from)];
            let visits = step.visits as f64;
            let mut truth_row: Vec<(String, f64)> =
                next.iter().map(|(e, p)| (learned_name(e), *p)).collect();
            truth_row.push(("(exit)".into(), t.exit(from)));
            for (to, p) in truth_row {
                let got = if to == "(exit)" {
                    step.exit
                } else {
                    step.next.get(&to).copied().unwrap_or(0.0)
                };
                let se = (p * (1.0 - p) / visits).sqrt().max(1e-9);
                let z = ((got - p).abs() - 5e-7).max(0.0) / se;
                worst = worst.max(z);
                checks += 1;
                assert!(
                    z <= Z,
                    "{}: {from} -> {to}: {got} vs {p} ({z:.2} se, {visits} visits)",
                    c.name
                );
            }
            // No transition the truth does not have.
            for to in step.next.keys() {
                assert!(
                    next.iter().any(|(e, _)| learned_name(e) == *to),
                    "{}: invented {from} -> {to}",
                    c.name
                );
            }
        }
        // Think time: maximum likelihood on ln(gap); se(mu) = sigma/sqrt(n),
        // se(sigma) ≈ sigma/sqrt(2n).
        let tt = &c.think_time;
        let m = tt.samples as f64;
        let z_mu = (tt.mu - t.think_mu).abs() / (t.think_sigma / m.sqrt());
        let z_sigma = (tt.sigma - t.think_sigma).abs() / (t.think_sigma / (2.0 * m).sqrt());
        worst = worst.max(z_mu).max(z_sigma);
        checks += 2;
        assert!(
            z_mu <= Z,
            "{}: think mu {} vs {} ({z_mu:.2} se)",
            c.name,
            tt.mu,
            t.think_mu
        );
        assert!(
            z_sigma <= Z,
            "{}: think sigma {} vs {} ({z_sigma:.2} se)",
            c.name,
            tt.sigma,
            t.think_sigma
        );
        // Sessions per hour of day: the mean over `days` days (whole weeks, whose
        // weekday factors average 1) of Poisson counts: se = sqrt(rate / days).
        for (h, rate) in t.per_hour.iter().enumerate() {
            let got = c.arrivals.by_hour[h];
            let z = (got - rate).abs() / (rate / f64::from(days)).sqrt();
            worst = worst.max(z);
            checks += 1;
            assert!(z <= Z, "{}: hour {h}: {got} vs {rate} ({z:.2} se)", c.name);
        }
        // Weekday factors: a ratio of Poisson totals, relative se ≈ sqrt(1/N_w + 1/N).
        let day_total: f64 = t.per_hour.iter().sum();
        for (w, f) in t.weekday.iter().enumerate() {
            let got = c.arrivals.by_weekday[w];
            let n_w = f64::from(days) / 7.0 * day_total * f;
            let se = f * (1.0 / n_w + 1.0 / n).sqrt();
            let z = (got - f).abs() / se;
            worst = worst.max(z);
            checks += 1;
            assert!(z <= Z, "{}: weekday {w}: {got} vs {f} ({z:.2} se)", c.name);
        }
        // Goal share against the truth's probability of reaching the checkout.
        let true_cohort = to_cohort(t);
        let reach = doppel_users::chain::reach_probability(
            &true_cohort,
            &true_cohort.chain.keys().map(|e| e == X).collect::<Vec<_>>(),
            &[],
        )
        .unwrap();
        let z = (c.goal_share - reach).abs() / (reach * (1.0 - reach) / n).sqrt();
        worst = worst.max(z);
        checks += 1;
        assert!(
            z <= Z,
            "{}: goal share {} vs {reach} ({z:.2} se)",
            c.name,
            c.goal_share
        );
        assert!(c.description.starts_with(device_of(t)), "{}", c.description);
    }
    (checks, worst)
}

/// The truth as a cohort (for the chain arithmetic).
pub fn to_cohort(t: &TrueCohort) -> doppel_users::Cohort {
    let mut chain = indexmap::IndexMap::new();
    let mut names: Vec<&str> = t.chain.iter().map(|(e, _)| e.as_str()).collect();
    names.push(X);
    for e in names {
        let next = t
            .chain
            .iter()
            .find(|(f, _)| f == e)
            .map(|(_, n)| n.iter().map(|(n, p)| (n.clone(), *p)).collect())
            .unwrap_or_default();
        chain.insert(
            e.to_owned(),
            doppel_users::model::ChainStep {
                visits: 0,
                next,
                exit: t.exit(e),
            },
        );
    }
    doppel_users::Cohort {
        name: String::new(),
        description: String::new(),
        attributes: Default::default(),
        sessions: 0,
        share: 0.0,
        pages_mean: 0.0,
        goal_share: 0.0,
        error_rate: 0.0,
        arrivals: doppel_users::model::Arrivals {
            mean_per_hour: 0.0,
            by_hour: vec![],
            by_weekday: vec![],
        },
        think_time: doppel_users::model::ThinkTime {
            samples: 0,
            mu: 0.0,
            sigma: 0.0,
            median_s: 0.0,
            mean_s: 0.0,
            p99_s: 0.0,
        },
        entry: t.entry.iter().cloned().collect(),
        chain,
    }
}

/// The trace mapping of the generated traces: the defaults plus `region` and `plan`.
pub fn trace_mapping() -> TraceMapping {
    TraceMapping {
        attributes: [("region", "app.region"), ("plan", "app.plan")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..TraceMapping::default()
    }
}

/// Generates `days` days from `start_day` as OTLP JSON lines (batches of 512 requests, as a
/// Collector's file exporter writes them) or one Jaeger JSON document, and learns them back.
pub fn learn_traces(
    cohorts: &[TrueCohort],
    start_day: i64,
    days: u32,
    seed: u64,
    settings: LearnSettings,
    jaeger: bool,
) -> (CohortSet, Vec<Session>) {
    let requests = synth::generate(cohorts, start_day, days, seed);
    let text = if jaeger {
        synth::jaeger_json(&requests, cohorts, 0)
    } else {
        let mut text = String::new();
        for (i, batch) in requests.chunks(512).enumerate() {
            text.push_str(&synth::otlp_json(batch, cohorts, (i * 512) as u64));
            text.push('\n');
        }
        text
    };
    let mut learner = Learner::new(settings).unwrap();
    let mut reader = TraceReader::new(text.as_bytes(), "gen.traces", trace_mapping());
    for item in reader.by_ref() {
        learner.push(&item.unwrap());
    }
    let stats = reader.stats();
    assert_eq!(stats.records as usize, requests.len());
    assert_eq!(stats.spans as usize, 2 * requests.len());
    learner.add_file("gen.traces", stats.lines, stats.malformed);
    learner.finish().unwrap()
}

//! The experience report as text: who is having a bad time (cohorts, worst first) and what
//! would help them most (what-ifs, best first).

use std::fmt::Write;

use crate::describe::percent;
use crate::experience::ExperienceReport;

/// The report as lines of text.
pub fn render(r: &ExperienceReport) -> String {
    let mut o = String::new();
    let a = &r.abandonment;
    let _ = writeln!(
        o,
        "User experience at {:02}:00 ({:.2} sessions/s, {:.0} s simulated, seed {})",
        r.hour, r.sessions_per_s, r.duration_s, r.seed
    );
    let _ = writeln!(
        o,
        "abandonment: {} leave after a page of 1 s, {} after {:.1} s (logistic, steepness {:.1}/s, none for an instant page)",
        percent(a.p(1.0)),
        percent(a.p(a.midpoint_s)),
        a.midpoint_s,
        a.steepness_per_s
    );
    if !r.unmapped.is_empty() {
        let list: Vec<String> = r
            .unmapped
            .iter()
            .map(|(e, s)| format!("{e} ({})", percent(*s)))
            .collect();
        let _ = writeln!(o, "not in the twin (left out): {}", list.join(", "));
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<14} {:>10} {:>8} {:>8} {:>8} {:>7} {:>9} {:>12} {:>9} {:>12}",
        "cohort",
        "sessions/h",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "complete",
        "goal/ideal",
        "lost/h",
        "goals lost/h"
    );
    for c in &r.cohorts {
        let _ = writeln!(
            o,
            "{:<14} {:>10.0} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>9} {:>12} {:>9.1} {:>12.2}",
            c.name,
            c.sessions_per_hour,
            c.page_latency_ms.p50,
            c.page_latency_ms.p90,
            c.page_latency_ms.p99,
            percent(c.error_rate),
            percent(c.completion),
            format!("{}/{}", percent(c.goal_reached), percent(c.goal_ideal)),
            c.lost_sessions_per_hour,
            c.lost_goals_per_hour
        );
    }
    let _ = writeln!(o);
    for c in &r.cohorts {
        let slow = c.slowest.as_ref().map_or(String::new(), |(e, p)| {
            format!("; slowest page {e} (p90 {p:.0} ms)")
        });
        let _ = writeln!(o, "  {}: {}{slow}", c.name, c.description);
    }
    if let Some(worst) = r.cohorts.first() {
        let _ = writeln!(
            o,
            "\nWorst off: {} ({} of its sessions lost: {:.1} per hour, {:.2} goal completions).",
            worst.name,
            percent(1.0 - worst.completion),
            worst.lost_sessions_per_hour,
            worst.lost_goals_per_hour
        );
    }
    if !r.what_ifs.is_empty() {
        let _ = writeln!(
            o,
            "\nWhat would help most (sessions saved per hour, all cohorts; run-to-run noise ±{:.1} sessions/h, ±{:.2} goals/h):",
            r.noise.sessions_per_hour, r.noise.goals_per_hour
        );
        for (i, w) in r.what_ifs.iter().enumerate() {
            let _ = writeln!(
                o,
                "{:>2}. {:<20} {:>+9.1} sessions/h {:>+8.2} goals/h   origin {:>+8.2} req/s, {:>+7.3} cores; {}{}",
                i + 1,
                w.name,
                w.sessions_saved_per_hour,
                w.goals_saved_per_hour,
                w.origin_rps_delta,
                w.busy_cores_delta,
                w.cost_note,
                if w.within_noise {
                    " (within noise)"
                } else {
                    ""
                }
            );
            let _ = writeln!(o, "      {}", w.description);
        }
        let _ = writeln!(
            o,
            "\nBest for each cohort (its own sessions saved per hour):"
        );
        for c in &r.cohorts {
            let best = r
                .what_ifs
                .iter()
                .filter_map(|w| {
                    w.per_cohort
                        .iter()
                        .find(|(n, _, _)| *n == c.name)
                        .map(|(_, saved, p90)| (w, *saved, *p90))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((w, saved, p90)) = best {
                let _ = writeln!(
                    o,
                    "  {:<14} {:<20} {:>+9.1} sessions/h, page p90 {:.0} -> {p90:.0} ms",
                    c.name, w.name, saved, c.page_latency_ms.p90
                );
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use indexmap::IndexMap;

    use super::*;
    use crate::experience::{Abandonment, CohortExperience, Noise, Percentiles, WhatIf};

    fn cohort(name: &str, completion: f64, lost: f64) -> CohortExperience {
        CohortExperience {
            name: name.into(),
            description: format!("{name}, 50.0% of sessions, browses 3.2 pages"),
            sessions_per_hour: 3600.0,
            page_latency_ms: Percentiles {
                p50: 120.0,
                p90: 480.5,
                p99: 1900.0,
            },
            error_rate: 0.002,
            abandon_per_page: 0.01,
            completion,
            goal_ideal: 0.03,
            goal_reached: 0.025,
            lost_sessions_per_hour: lost,
            lost_goals_per_hour: 18.0,
            slowest: Some(("POST /checkout".into(), 2400.0)),
        }
    }

    #[test]
    fn the_report_reads_well() {
        let r = ExperienceReport {
            hour: 20,
            sessions_per_s: 2.0,
            abandonment: Abandonment::default(),
            routes: IndexMap::new(),
            unmapped: vec![("GET /category/{id}".into(), 0.221)],
            cohorts: vec![cohort("mobile", 0.9, 360.0), cohort("desktop", 0.97, 108.0)],
            what_ifs: vec![
                WhatIf {
                    name: "edge:mobile".into(),
                    description: "a regional edge cache in eu-west".into(),
                    cohort: "mobile".into(),
                    goals_saved_per_hour: 4.5,
                    sessions_saved_per_hour: 120.0,
                    per_cohort: vec![
                        ("mobile".into(), 110.0, 95.0),
                        ("desktop".into(), 10.0, 450.0),
                    ],
                    origin_rps_delta: -1.2,
                    busy_cores_delta: -0.35,
                    cost_note: "one edge location".into(),
                    within_noise: false,
                },
                WhatIf {
                    name: "priority:desktop".into(),
                    description: "a priority lane for desktop".into(),
                    cohort: "desktop".into(),
                    goals_saved_per_hour: 0.1,
                    sessions_saved_per_hour: -2.0,
                    per_cohort: vec![
                        ("mobile".into(), -8.0, 500.0),
                        ("desktop".into(), 6.0, 300.0),
                    ],
                    origin_rps_delta: 0.0,
                    busy_cores_delta: 0.0,
                    cost_note: "no capacity; the other cohorts wait longer".into(),
                    within_noise: true,
                },
            ],
            noise: Noise {
                sessions_per_hour: 1.5,
                goals_per_hour: 0.2,
            },
            duration_s: 300.0,
            seed: 1,
        };
        expect![[r#"
            User experience at 20:00 (2.00 sessions/s, 300 s simulated, seed 1)
            abandonment: 3.1% leave after a page of 1 s, 49.6% after 3.0 s (logistic, steepness 1.6/s, none for an instant page)
            not in the twin (left out): GET /category/{id} (22.1%)

            cohort         sessions/h   p50 ms   p90 ms   p99 ms  errors  complete   goal/ideal    lost/h goals lost/h
            mobile               3600    120.0    480.5   1900.0   0.20%     90.0%    2.5%/3.0%     360.0        18.00
            desktop              3600    120.0    480.5   1900.0   0.20%     97.0%    2.5%/3.0%     108.0        18.00

              mobile: mobile, 50.0% of sessions, browses 3.2 pages; slowest page POST /checkout (p90 2400 ms)
              desktop: desktop, 50.0% of sessions, browses 3.2 pages; slowest page POST /checkout (p90 2400 ms)

            Worst off: mobile (10.0% of its sessions lost: 360.0 per hour, 18.00 goal completions).

            What would help most (sessions saved per hour, all cohorts; run-to-run noise ±1.5 sessions/h, ±0.20 goals/h):
             1. edge:mobile             +120.0 sessions/h    +4.50 goals/h   origin    -1.20 req/s,  -0.350 cores; one edge location
                  a regional edge cache in eu-west
             2. priority:desktop          -2.0 sessions/h    +0.10 goals/h   origin    +0.00 req/s,  +0.000 cores; no capacity; the other cohorts wait longer (within noise)
                  a priority lane for desktop

            Best for each cohort (its own sessions saved per hour):
              mobile         edge:mobile             +110.0 sessions/h, page p90 480 -> 95 ms
              desktop        edge:mobile              +10.0 sessions/h, page p90 480 -> 450 ms
        "#]].assert_eq(&render(&r));
    }
}

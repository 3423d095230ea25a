//! A cohort in words: "mobile, 42% of sessions, browses 6.1 pages, 3.0% reach the goal, 12 s
//! between pages, busiest at 20:00".

use crate::model::Cohort;

/// Formats a share as a percentage with sensible precision.
pub fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p != 0.0 && p.abs() < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A duration in seconds as `850 ms`, `12 s` or `4.5 min`.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// The cohort's description.
pub fn describe(c: &Cohort) -> String {
    let mut parts: Vec<String> = c
        .attributes
        .iter()
        .filter(|(_, v)| v.as_str() != "unknown")
        .map(|(k, v)| {
            if k == "device" {
                v.clone()
            } else {
                format!("{k} {v}")
            }
        })
        .collect();
    parts.push(format!("{} of sessions", percent(c.share)));
    parts.push(format!("browses {:.1} pages", c.pages_mean));
    parts.push(format!("{} reach the goal", percent(c.goal_share)));
    if c.think_time.samples > 0 {
        parts.push(format!(
            "{} between pages (median)",
            seconds(c.think_time.median_s)
        ));
    }
    if let Some((top, p)) = c.entry.first() {
        parts.push(format!("enters at {top} ({})", percent(*p)));
    }
    parts.push(format!("busiest at {:02}:00", c.arrivals.peak_hour()));
    parts.join(", ")
}

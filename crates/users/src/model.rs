//! The learned behaviour, as written to `cohorts.yaml`: where it came from, the endpoints, and
//! per cohort its Markov chain, think times, arrival rates and goal share. Plain serde types:
//! the file is the library's value.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Version of the cohorts file format.
pub const FORMAT_VERSION: u32 = 1;

/// Everything learned from a set of access logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortSet {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// What was read.
    pub source: SourceSummary,
    /// How cohorts were formed, in words (`attributes: device` or `k-means on ...`).
    pub cohorts_by: String,
    /// Endpoints (`METHOD /template`) that count as reaching the goal.
    #[serde(default)]
    pub goal: Vec<String>,
    /// Every endpoint seen in sessions, with its request count, most requested first.
    pub endpoints: IndexMap<String, u64>,
    /// The cohorts, largest first.
    pub cohorts: Vec<Cohort>,
}

/// Counts over the input.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSummary {
    /// Files read, as named.
    pub files: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Requests parsed.
    pub records: u64,
    /// Lines that did not parse.
    pub malformed: u64,
    /// Requests from bots (left out).
    pub bots: u64,
    /// Requests for static assets (left out).
    pub assets: u64,
    /// Page views kept.
    pub pages: u64,
    /// Sessions formed.
    pub sessions: u64,
    /// Inactivity gap closing a session, in seconds.
    pub session_gap_s: f64,
    /// First and last request time (Unix seconds).
    pub first_time: f64,
    /// Last request time.
    pub last_time: f64,
    /// Distinct local days with traffic.
    pub days: u32,
    /// Whether timestamps had whole-second resolution (think times are then fitted by
    /// moments with the rounding's variance removed).
    pub whole_seconds: bool,
}

/// One group of users and how it behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Short stable name (`mobile`, `desktop-eu-west`, `cluster-2`).
    pub name: String,
    /// In words: "mobile, browses 6.1 pages, 3.0% reach the goal, ...".
    pub description: String,
    /// Attribute values shared by its sessions (for attribute cohorts), or the cluster's
    /// typical values.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Sessions in the cohort.
    pub sessions: u64,
    /// Share of all sessions.
    pub share: f64,
    /// Mean page views per session.
    pub pages_mean: f64,
    /// Share of sessions that visit a goal endpoint.
    pub goal_share: f64,
    /// Share of its page views answered with a 5xx status.
    pub error_rate: f64,
    /// When sessions start.
    pub arrivals: Arrivals,
    /// Think time between pages.
    pub think_time: ThinkTime,
    /// First page of a session: endpoint → probability.
    pub entry: IndexMap<String, f64>,
    /// Per endpoint: where users go next and how often they leave.
    pub chain: IndexMap<String, ChainStep>,
}

/// Session arrivals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Mean sessions per hour over the observed days.
    pub mean_per_hour: f64,
    /// Sessions per hour at each local hour of the day (0-23), averaged over days.
    pub by_hour: Vec<f64>,
    /// Day-of-week factor (Monday first): that weekday's daily sessions over the mean day;
    /// 1 for weekdays not observed.
    pub by_weekday: Vec<f64>,
}

impl Arrivals {
    /// Predicted sessions per hour at local `hour` on `weekday` (0 = Monday).
    pub fn per_hour(&self, hour: usize, weekday: usize) -> f64 {
        self.by_hour.get(hour).copied().unwrap_or(0.0)
            * self.by_weekday.get(weekday).copied().unwrap_or(1.0)
    }

    /// The busiest hour of the day.
    pub fn peak_hour(&self) -> usize {
        let mut best = 0;
        for (h, v) in self.by_hour.iter().enumerate() {
            if *v > self.by_hour.get(best).copied().unwrap_or(0.0) {
                best = h;
            }
        }
        best
    }
}

/// A log-normal think time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThinkTime {
    /// Gaps the fit used.
    pub samples: u64,
    /// Mean of ln(seconds).
    pub mu: f64,
    /// Standard deviation of ln(seconds).
    pub sigma: f64,
    /// Median in seconds, exp(mu).
    pub median_s: f64,
    /// Mean in seconds, exp(mu + sigma²/2).
    pub mean_s: f64,
    /// 99th percentile in seconds.
    pub p99_s: f64,
}

/// One state of a cohort's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainStep {
    /// Page views of this endpoint in the cohort.
    pub visits: u64,
    /// Next endpoint → probability.
    #[serde(default)]
    pub next: IndexMap<String, f64>,
    /// Probability that the session ends here.
    pub exit: f64,
}

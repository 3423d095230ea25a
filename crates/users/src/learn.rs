//! Learning behaviour from access-log records, in one streaming pass: records are pushed one at
//! a time, grouped into sessions (per client id, else authenticated user, else IP plus user
//! agent; a session ends after an inactivity gap, 30 minutes by default), their paths mapped to
//! endpoints, and [`Learner::finish`] forms cohorts and fits each one's chain, think times and
//! arrival rates.
//!
//! Memory grows with the number of page views kept (a path id and a gap each, about 8 bytes)
//! and the distinct normalised paths, never with the log's size in bytes: bots and static
//! assets are counted and dropped, open sessions are closed as the clock moves past their gap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use doppel_import::access_log::Record;
use doppel_import::access_log::ua::device_class;
use indexmap::IndexMap;

use crate::cluster;
use crate::model::{
    Arrivals, ChainStep, Cohort, CohortSet, FORMAT_VERSION, SourceSummary, ThinkTime,
};
use crate::routes::{self, RouteLearner, Template};

/// How sessions are grouped into cohorts.
#[derive(Debug, Clone, PartialEq)]
pub enum CohortBy {
    /// One cohort of everyone.
    All,
    /// By the values of these attributes: `device` (from the user agent: mobile, tablet,
    /// desktop) or any attribute the JSON mapping kept (`region`, `plan`...).
    Attributes(Vec<String>),
    /// By k-means on session behaviour, k from 1 to `max_k` chosen by silhouette
    /// ([`cluster`]).
    Behaviour {
        /// Largest k tried.
        max_k: usize,
    },
}

/// Learning settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnSettings {
    /// Inactivity that ends a session, in seconds (default 1800).
    pub session_gap_s: f64,
    /// Configured route templates, tried before learning.
    pub templates: Vec<Template>,
    /// More distinct literal segments than this after one prefix collapse into `{id}`.
    pub max_children: usize,
    /// Goal endpoints: `POST /checkout`, a template `/checkout`, or a prefix of templates.
    pub goal: Vec<String>,
    /// How cohorts are formed.
    pub cohorts: CohortBy,
    /// Attribute cohorts smaller than this many sessions are pooled into `other`.
    pub min_cohort_sessions: u64,
}

impl Default for LearnSettings {
    fn default() -> Self {
        LearnSettings {
            session_gap_s: 1800.0,
            templates: Vec::new(),
            max_children: 25,
            goal: vec!["/checkout".to_owned()],
            cohorts: CohortBy::Attributes(vec!["device".to_owned()]),
            min_cohort_sessions: 30,
        }
    }
}

/// Why learning failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LearnError {
    /// Nothing to learn from.
    #[error("no sessions: {0}")]
    Empty(String),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Settings(String),
}

/// One page view inside an open session.
#[derive(Debug, Clone, Copy)]
struct Hit {
    t: f64,
    path: u32,
    error: bool,
}

#[derive(Debug)]
struct Open {
    hits: Vec<Hit>,
    last: f64,
    offset_s: i32,
    attrs: u32,
}

/// A closed session, compact.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Start (Unix seconds).
    pub start: f64,
    /// Local offset from UTC, seconds.
    pub offset_s: i32,
    /// Path ids (endpoint ids after [`Learner::finish`] maps them).
    pub pages: Vec<u32>,
    /// Seconds between consecutive pages (`pages.len() - 1` of them).
    pub gaps: Vec<f32>,
    /// Pages answered with a 5xx.
    pub errors: u32,
    /// Index of its attribute values.
    pub attrs: u32,
    /// Index of its cohort in [`CohortSet::cohorts`] (set by [`Learner::finish`]).
    pub cohort: u32,
}

/// The streaming learner.
#[derive(Debug)]
pub struct Learner {
    settings: LearnSettings,
    attr_names: Vec<String>,
    summary: SourceSummary,
    paths: IndexMap<(String, String, bool), u64>,
    attr_values: IndexMap<Vec<String>, u32>,
    open: HashMap<String, Open>,
    closed: Vec<Session>,
    clock: f64,
    pushes: u64,
}

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Local day number and hour of a time.
fn local(t: f64, offset_s: i32) -> (i64, usize) {
    let l = t + f64::from(offset_s);
    let day = (l / DAY).floor() as i64;
    let hour = ((l - day as f64 * DAY) / 3600.0).floor() as usize;
    (day, hour.min(23))
}

/// Weekday of a day number, Monday = 0 (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

impl Learner {
    /// A learner with these settings.
    pub fn new(settings: LearnSettings) -> Result<Self, LearnError> {
        if !(settings.session_gap_s.is_finite() && settings.session_gap_s > 0.0) {
            return Err(LearnError::Settings(
                "the session gap must be a positive number of seconds".into(),
            ));
        }
        let attr_names = match &settings.cohorts {
            CohortBy::Attributes(a) => a.clone(),
            _ => vec!["device".to_owned()],
        };
        Ok(Learner {
            summary: SourceSummary {
                session_gap_s: settings.session_gap_s,
                whole_seconds: true,
                first_time: f64::INFINITY,
                last_time: f64::NEG_INFINITY,
                ..SourceSummary::default()
            },
            settings,
            attr_names,
            paths: IndexMap::new(),
            attr_values: IndexMap::new(),
            open: HashMap::new(),
            closed: Vec::new(),
            clock: f64::NEG_INFINITY,
            pushes: 0,
        })
    }

    /// Notes a file read (for the summary) with its line counts.
    pub fn add_file(&mut self, name: &str, lines: u64, malformed: u64) {
        self.summary.files.push(name.to_owned());
        self.summary.lines += lines;
        self.summary.malformed += malformed;
    }

    /// Takes one record.
    pub fn push(&mut self, r: &Record) {
        self.summary.records += 1;
        if !r.time.is_finite() {
            return;
        }
        if r.bot {
            self.summary.bots += 1;
            return;
        }
        if routes::is_asset(&r.path) {
            self.summary.assets += 1;
            return;
        }
        self.summary.pages += 1;
        self.summary.first_time = self.summary.first_time.min(r.time);
        self.summary.last_time = self.summary.last_time.max(r.time);
        if r.time.fract() != 0.0 {
            self.summary.whole_seconds = false;
        }
        let (norm, configured) =
            match routes::configured_endpoint(&self.settings.templates, "", &r.path) {
                Some(e) => (e.trim_start().to_owned(), true),
                None => (routes::normalize(&r.path), false),
            };
        let entry = self.paths.entry((r.method.clone(), norm, configured));
        let path = u32::try_from(entry.index()).unwrap_or(u32::MAX);
        *entry.or_insert(0) += 1;

        let values: Vec<String> = self
            .attr_names
            .iter()
            .map(|a| match a.as_str() {
                "device" => device_class(&r.user_agent).as_str().to_owned(),
                other => r
                    .attributes
                    .get(other)
                    .cloned()
                    .unwrap_or_else(|| "unknown".to_owned()),
            })
            .collect();
        let next_id = u32::try_from(self.attr_values.len()).unwrap_or(u32::MAX);
        let attrs = *self.attr_values.entry(values).or_insert(next_id);

        let key = match (&r.client_id, &r.user) {
            (Some(c), _) => format!("c\u{0}{c}"),
            (None, Some(u)) => format!("u\u{0}{u}"),
            _ => format!("a\u{0}{}\u{0}{}", r.ip, r.user_agent),
        };
        let hit = Hit {
            t: r.time,
            path,
            error: r.status >= 500,
        };
        let gap = self.settings.session_gap_s;
        let expired = self.open.get(&key).is_some_and(|o| r.time - o.last > gap);
        if expired && let Some(o) = self.open.remove(&key) {
            self.close(o);
        }
        let o = self.open.entry(key).or_insert_with(|| Open {
            hits: Vec::new(),
            last: r.time,
            offset_s: r.utc_offset_s,
            attrs,
        });
        o.hits.push(hit);
        o.last = o.last.max(r.time);

        self.clock = self.clock.max(r.time);
        self.pushes += 1;
        if self.pushes.is_multiple_of(4096) {
            self.sweep();
        }
    }

    /// Closes the sessions idle for longer than the gap at the latest time seen.
    fn sweep(&mut self) {
        let limit = self.clock - self.settings.session_gap_s;
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| o.last < limit)
            .map(|(k, _)| k.clone())
            .collect();
        for k in idle {
            if let Some(o) = self.open.remove(&k) {
                self.close(o);
            }
        }
    }

    fn close(&mut self, mut o: Open) {
        o.hits.sort_by(|a, b| a.t.total_cmp(&b.t));
        let Some(first) = o.hits.first() else {
            return;
        };
        let gaps = o
            .hits
            .windows(2)
            .map(|w| (w[1].t - w[0].t) as f32)
            .collect();
        self.closed.push(Session {
            start: first.t,
            offset_s: o.offset_s,
            pages: o.hits.iter().map(|h| h.path).collect(),
            gaps,
            errors: u32::try_from(o.hits.iter().filter(|h| h.error).count()).unwrap_or(u32::MAX),
            attrs: o.attrs,
            cohort: 0,
        });
    }

    /// Sessions open now (for progress displays).
    pub fn open_sessions(&self) -> usize {
        self.open.len()
    }

    /// Closes every session, maps paths to endpoints, forms cohorts and fits them.
    pub fn finish(mut self) -> Result<(CohortSet, Vec<Session>), LearnError> {
        let open: Vec<Open> = self.open.drain().map(|(_, o)| o).collect();
        for o in open {
            self.close(o);
        }
        if self.closed.is_empty() {
            return Err(LearnError::Empty(format!(
                "{} requests read, {} from bots, {} static assets",
                self.summary.records, self.summary.bots, self.summary.assets
            )));
        }
        // Endpoints: configured as matched, learned through the collapse.
        let mut learner = RouteLearner::default();
        for ((method, norm, configured), count) in &self.paths {
            if !configured {
                learner.add(method, norm, *count);
            }
        }
        learner.collapse(self.settings.max_children);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let path_endpoint: Vec<String> = self
            .paths
            .iter()
            .map(|((method, norm, configured), count)| {
                let e = if *configured {
                    format!("{method} {norm}")
                } else {
                    learner.endpoint(method, norm)
                };
                *counts.entry(e.clone()).or_insert(0) += count;
                e
            })
            .collect();
        let mut ordered: Vec<(String, u64)> = counts.into_iter().collect();
        ordered.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let endpoints: IndexMap<String, u64> = ordered.into_iter().collect();
        let endpoint_ix: Vec<u32> = path_endpoint
            .iter()
            .map(|e| {
                endpoints
                    .get_index_of(e)
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(0)
            })
            .collect();
        let mut sessions = std::mem::take(&mut self.closed);
        for s in &mut sessions {
            for p in &mut s.pages {
                *p = endpoint_ix.get(*p as usize).copied().unwrap_or(0);
            }
        }
        // A total order on content, so the result never depends on hashing.
        sessions.sort_by(|a, b| {
            a.start
                .total_cmp(&b.start)
                .then_with(|| a.pages.cmp(&b.pages))
                .then_with(|| a.attrs.cmp(&b.attrs))
                .then_with(|| a.offset_s.cmp(&b.offset_s))
                .then_with(|| a.errors.cmp(&b.errors))
                .then_with(|| {
                    a.gaps
                        .iter()
                        .zip(&b.gaps)
                        .map(|(x, y)| x.total_cmp(y))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
        });
        self.summary.sessions = sessions.len() as u64;
        let days: BTreeSet<i64> = sessions
            .iter()
            .map(|s| local(s.start, s.offset_s).0)
            .collect();
        self.summary.days = u32::try_from(days.len()).unwrap_or(u32::MAX);

        let names: Vec<&str> = endpoints.keys().map(String::as_str).collect();
        let goal: Vec<bool> = names
            .iter()
            .map(|e| is_goal(&self.settings.goal, e))
            .collect();

        // Cohort of each session.
        let attr_list: Vec<&Vec<String>> = self.attr_values.keys().collect();
        let (labels, groups, cohorts_by) = match &self.settings.cohorts {
            CohortBy::All => (
                vec![0usize; sessions.len()],
                vec![("all".to_owned(), BTreeMap::new())],
                "everyone".to_owned(),
            ),
            CohortBy::Attributes(names_) => attribute_cohorts(
                &sessions,
                names_,
                &attr_list,
                self.settings.min_cohort_sessions,
            ),
            CohortBy::Behaviour { max_k } => {
                let c = cluster::cluster_sessions(&sessions, &goal, endpoints.len(), *max_k);
                let groups = (0..c.k)
                    .map(|i| (format!("cluster-{}", i + 1), BTreeMap::new()))
                    .collect();
                let by = format!(
                    "k-means on session behaviour ({}), k = {} chosen by the largest mean silhouette over k = 2..{} (k = 1 when none reaches {}); silhouettes {}",
                    cluster::FEATURES,
                    c.k,
                    max_k,
                    cluster::MIN_SILHOUETTE,
                    c.silhouettes
                        .iter()
                        .map(|(k, s)| format!("k={k}: {s:.3}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (c.labels, groups, by)
            }
        };
        let total = sessions.len() as f64;
        let mut cohorts: Vec<(usize, Cohort)> = Vec::new();
        for (ci, (name, attrs)) in groups.iter().enumerate() {
            let members: Vec<&Session> = sessions
                .iter()
                .zip(&labels)
                .filter(|(_, l)| **l == ci)
                .map(|(s, _)| s)
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut attributes = attrs.clone();
            if attributes.is_empty() {
                // The typical device of a behaviour cluster.
                let mut dev: BTreeMap<&str, usize> = BTreeMap::new();
                for s in &members {
                    if let Some(v) = attr_list.get(s.attrs as usize).and_then(|v| v.first()) {
                        *dev.entry(v.as_str()).or_insert(0) += 1;
                    }
                }
                if let Some((d, _)) = dev.iter().max_by_key(|(_, n)| **n) {
                    attributes.insert("device".to_owned(), (*d).to_owned());
                }
            }
            cohorts.push((
                ci,
                fit_cohort(
                    name,
                    attributes,
                    &members,
                    total,
                    &names,
                    &goal,
                    &days,
                    self.summary.whole_seconds,
                ),
            ));
        }
        cohorts.sort_by(|(_, a), (_, b)| b.sessions.cmp(&a.sessions).then(a.name.cmp(&b.name)));
        let mut final_index = vec![0u32; groups.len()];
        for (i, (g, _)) in cohorts.iter().enumerate() {
            final_index[*g] = u32::try_from(i).unwrap_or(u32::MAX);
        }
        for (s, l) in sessions.iter_mut().zip(&labels) {
            s.cohort = final_index.get(*l).copied().unwrap_or(0);
        }
        let cohorts: Vec<Cohort> = cohorts.into_iter().map(|(_, c)| c).collect();
        let goal_names = names
            .iter()
            .zip(&goal)
            .filter(|(_, g)| **g)
            .map(|(n, _)| (*n).to_owned())
            .collect();
        let set = CohortSet {
            version: FORMAT_VERSION,
            source: self.summary,
            cohorts_by,
            goal: goal_names,
            endpoints,
            cohorts,
        };
        Ok((set, sessions))
    }
}

/// Whether an endpoint (`METHOD /template`) is a goal under the patterns.
pub fn is_goal(patterns: &[String], endpoint: &str) -> bool {
    let template = endpoint.split_once(' ').map_or(endpoint, |(_, t)| t);
    patterns.iter().any(|p| {
        p == endpoint
            || p == template
            || (p.starts_with('/')
                && template
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/')))
    })
}

type Groups = (Vec<usize>, Vec<(String, BTreeMap<String, String>)>, String);

fn attribute_cohorts(
    sessions: &[Session],
    names: &[String],
    attr_list: &[&Vec<String>],
    min_sessions: u64,
) -> Groups {
    let mut count: BTreeMap<&Vec<String>, u64> = BTreeMap::new();
    for s in sessions {
        if let Some(v) = attr_list.get(s.attrs as usize) {
            *count.entry(v).or_insert(0) += 1;
        }
    }
    let mut groups: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut index: BTreeMap<&Vec<String>, usize> = BTreeMap::new();
    let mut other = None;
    let mut big: Vec<(&&Vec<String>, &u64)> = count.iter().collect();
    big.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (values, n) in big {
        if *n >= min_sessions {
            index.insert(values, groups.len());
            let attrs = names.iter().cloned().zip(values.iter().cloned()).collect();
            groups.push((slug(&values.join("-")), attrs));
        }
    }
    let labels = sessions
        .iter()
        .map(|s| {
            attr_list
                .get(s.attrs as usize)
                .and_then(|v| index.get(v).copied())
                .unwrap_or_else(|| {
                    *other.get_or_insert_with(|| {
                        groups.push(("other".to_owned(), BTreeMap::new()));
                        groups.len() - 1
                    })
                })
        })
        .collect();
    (labels, groups, format!("attributes: {}", names.join(", ")))
}

/// Lower-case letters, digits and dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let t = out.trim_end_matches('-').to_owned();
    if t.is_empty() { "x".to_owned() } else { t }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Log-normal think time from gaps: maximum likelihood on ln(gap) when timestamps have
/// sub-second resolution; with whole-second timestamps, by moments with the rounding's
/// variance (1/6 s², the variance of the difference of two independent uniform phases)
/// removed, since each observed gap is the true gap plus an unbiased rounding error.
pub fn fit_think(gaps: &[f64], whole_seconds: bool) -> ThinkTime {
    let (mu, sigma, n) = if whole_seconds {
        let n = gaps.len() as f64;
        if n < 2.0 {
            (0.0, 0.0, gaps.len())
        } else {
            let m = gaps.iter().sum::<f64>() / n;
            let v = gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (n - 1.0) - 1.0 / 6.0;
            let m = m.max(1e-3);
            let s2 = (1.0 + v.max(0.0) / (m * m)).ln();
            (m.ln() - s2 / 2.0, s2.sqrt(), gaps.len())
        }
    } else {
        let logs: Vec<f64> = gaps.iter().filter(|g| **g > 0.0).map(|g| g.ln()).collect();
        let n = logs.len() as f64;
        if n < 2.0 {
            (logs.first().copied().unwrap_or(0.0), 0.0, logs.len())
        } else {
            let mu = logs.iter().sum::<f64>() / n;
            let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (n - 1.0);
            (mu, var.sqrt(), logs.len())
        }
    };
    ThinkTime {
        samples: n as u64,
        mu: round6(mu),
        sigma: round6(sigma),
        median_s: round6(mu.exp()),
        mean_s: round6((mu + sigma * sigma / 2.0).exp()),
        p99_s: round6((mu + doppel_model::twin::Z99 * sigma).exp()),
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_cohort(
    name: &str,
    attributes: BTreeMap<String, String>,
    members: &[&Session],
    total_sessions: f64,
    endpoints: &[&str],
    goal: &[bool],
    days: &BTreeSet<i64>,
    whole_seconds: bool,
) -> Cohort {
    let k = endpoints.len();
    let mut entry = vec![0u64; k];
    let mut visits = vec![0u64; k];
    let mut exits = vec![0u64; k];
    let mut trans: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut gaps = Vec::new();
    let mut goal_sessions = 0u64;
    let mut errors = 0u64;
    let mut pages = 0u64;
    let mut by_hour = [0f64; 24];
    let mut by_day: BTreeMap<i64, f64> = BTreeMap::new();
    for s in members {
        let (Some(&first), Some(&last)) = (s.pages.first(), s.pages.last()) else {
            continue;
        };
        if let Some(e) = entry.get_mut(first as usize) {
            *e += 1;
        }
        if let Some(e) = exits.get_mut(last as usize) {
            *e += 1;
        }
        for &p in &s.pages {
            if let Some(v) = visits.get_mut(p as usize) {
                *v += 1;
            }
        }
        for w in s.pages.windows(2) {
            *trans.entry((w[0], w[1])).or_insert(0) += 1;
        }
        gaps.extend(s.gaps.iter().map(|g| f64::from(*g)));
        if s.pages
            .iter()
            .any(|p| goal.get(*p as usize).copied().unwrap_or(false))
        {
            goal_sessions += 1;
        }
        errors += u64::from(s.errors);
        pages += s.pages.len() as u64;
        let (day, hour) = local(s.start, s.offset_s);
        by_hour[hour] += 1.0;
        *by_day.entry(day).or_insert(0.0) += 1.0;
    }
    let n = members.len() as f64;
    let ndays = days.len().max(1) as f64;
    let by_hour: Vec<f64> = by_hour.iter().map(|c| round6(c / ndays)).collect();
    // Weekday factors: that weekday's mean daily sessions over the mean day's.
    let mean_day = n / ndays;
    let mut wd_sum = [0f64; 7];
    let mut wd_days = [0f64; 7];
    for d in days {
        let w = weekday(*d);
        wd_days[w] += 1.0;
        wd_sum[w] += by_day.get(d).copied().unwrap_or(0.0);
    }
    let by_weekday: Vec<f64> = (0..7)
        .map(|w| {
            if wd_days[w] > 0.0 && mean_day > 0.0 {
                round6(wd_sum[w] / wd_days[w] / mean_day)
            } else {
                1.0
            }
        })
        .collect();
    let mut entry_map: Vec<(String, f64)> = entry
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| (endpoints[i].to_owned(), round6(*c as f64 / n)))
        .collect();
    entry_map.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut chain = IndexMap::new();
    for (i, e) in endpoints.iter().enumerate() {
        if visits[i] == 0 {
            continue;
        }
        let vi = visits[i] as f64;
        let mut next: Vec<(String, f64)> = trans
            .range((i as u32, 0)..=(i as u32, u32::MAX))
            .map(|((_, j), c)| (endpoints[*j as usize].to_owned(), round6(*c as f64 / vi)))
            .collect();
        next.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        chain.insert(
            (*e).to_owned(),
            ChainStep {
                visits: visits[i],
                next: next.into_iter().collect(),
                exit: round6(exits[i] as f64 / vi),
            },
        );
    }
    let think_time = fit_think(&gaps, whole_seconds);
    let arrivals = Arrivals {
        mean_per_hour: round6(n / (ndays * 24.0)),
        by_hour,
        by_weekday,
    };
    let pages_mean = pages as f64 / n;
    let goal_share = goal_sessions as f64 / n;
    let mut cohort = Cohort {
        name: name.to_owned(),
        description: String::new(),
        attributes,
        sessions: members.len() as u64,
        share: round6(n / total_sessions),
        pages_mean: round6(pages_mean),
        goal_share: round6(goal_share),
        error_rate: round6(errors as f64 / pages.max(1) as f64),
        arrivals,
        think_time,
        entry: entry_map.into_iter().collect(),
        chain,
    };
    cohort.description = crate::describe::describe(&cohort);
    cohort
}

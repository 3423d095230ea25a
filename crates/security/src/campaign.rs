//! Attacks over time: a Monte Carlo simulation of one attacker working through the attack
//! paths step by step against defenders who detect techniques and respond.
//!
//! **Attacker.** Each run, the attacker tries the minimal paths most likely first. A step
//! (a derivation of the attack graph, labelled with its MITRE ATT&CK technique) takes a time
//! drawn from the technique's distribution and succeeds with the step's probability (CVSS
//! exploitability, see [`crate::graph`]). A failed step is abandoned: the attacker moves to the
//! next path not using it, keeping what earlier steps gave. Network access and relays take no
//! time and are never detected. Reaching the end of a path compromises its target.
//!
//! **Defenders.** Each attempt of a technique on a host is detected, when it starts, with the
//! technique's probability, raised by host coverage (EDR: `1 − (1 − p)(1 − p_edr)`). A
//! detection evicts the attacker `response` hours later; a step that ends after the eviction
//! gives nothing and the run ends undetected-compromise-free. With `patch_within`, every
//! vulnerability is patched that long after the attack starts: an exploit step (T1190, T1210,
//! T1068) ending later fails.
//!
//! **Output.** `p_compromise` (fraction of runs reaching a target before eviction, with a
//! Wilson 95% interval), `time_to_compromise_hours.{mean,p50,p90}` over the compromising runs
//! (normal interval for the mean, distribution-free order-statistic intervals for the
//! quantiles), and per technique the attempts and detections. What-ifs are run with the same
//! seed as the baseline (common random numbers), so their difference is not noise of seeds.
//!
//! Deterministic: run `r` draws from a xoshiro256++ stream seeded from the seed and `r`; no
//! clock.

use std::collections::{BTreeMap, HashSet};

use doppel_model::{Peer, Twin};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, AttackPath, QueryError};
use crate::graph::Start;

/// A distribution of the time a step takes, in hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TimeDist {
    /// Exponential with this mean.
    Exponential {
        /// Mean hours.
        mean: f64,
    },
    /// Log-normal with this mean and coefficient of variation (σ/μ).
    Lognormal {
        /// Mean hours.
        mean: f64,
        /// σ/μ of the time (not of its logarithm).
        cv: f64,
    },
    /// Always this long.
    Constant {
        /// Hours.
        hours: f64,
    },
}

impl TimeDist {
    fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match *self {
            TimeDist::Exponential { mean } => -mean * uniform_pos(rng).ln(),
            TimeDist::Lognormal { mean, cv } => {
                let s2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - s2 / 2.0;
                (mu + s2.sqrt() * normal(rng)).exp()
            }
            TimeDist::Constant { hours } => hours,
        }
    }

    fn valid(&self) -> bool {
        match *self {
            TimeDist::Exponential { mean } => mean.is_finite() && mean > 0.0,
            TimeDist::Lognormal { mean, cv } => {
                mean.is_finite() && mean > 0.0 && cv.is_finite() && cv >= 0.0
            }
            TimeDist::Constant { hours } => hours.is_finite() && hours >= 0.0,
        }
    }
}

/// Host coverage raising detection (an EDR agent, closer monitoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Which hosts: `all`, `tag:NAME`, `host:NAME`, or `tier=NAME` (hosts tagged `NAME-tier`
    /// or `tier=NAME`).
    pub hosts: String,
    /// Probability this coverage alone detects an attempt.
    pub detection: f64,
}

/// What defenders do, and how long attack techniques take. Every field has a default (see
/// [`Defense::default`]); a file may give any subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defense {
    /// Detection probability per attempt, by ATT&CK technique id.
    pub detection: BTreeMap<String, f64>,
    /// Detection probability of a technique not listed.
    pub default_detection: f64,
    /// Extra detection on some hosts.
    pub coverage: Vec<Coverage>,
    /// Hours from a detection to the attacker's eviction.
    pub response_hours: f64,
    /// Time a step takes, by ATT&CK technique id.
    pub time_to_exploit: BTreeMap<String, TimeDist>,
    /// Time of a technique not listed.
    pub default_time: TimeDist,
    /// Every vulnerability is patched this many hours after the attack starts.
    pub patch_within_hours: Option<f64>,
}

/// Detection probability an EDR what-if gives covered hosts, unless stated (`edr:SEL=P`).
pub const EDR_DETECTION: f64 = 0.6;

impl Default for Defense {
    /// Illustrative defaults, not measurements: replace them with your own figures.
    /// Detection: T1190 0.10, T1210 0.15, T1068 0.20, T1552.001 0.05, T1021.004 and
    /// T1021.001 0.10, T1078 0.05, T1005 0.02, else 0.05; response 4 h. Exponential times
    /// (mean hours): T1190 24, T1210 12, T1068 6, T1552.001 2, T1021.* 0.5, T1078 0.5,
    /// T1005 1, else 4.
    fn default() -> Self {
        let detection = [
            ("T1190", 0.10),
            ("T1210", 0.15),
            ("T1068", 0.20),
            ("T1552.001", 0.05),
            ("T1021.004", 0.10),
            ("T1021.001", 0.10),
            ("T1078", 0.05),
            ("T1005", 0.02),
        ];
        let time = [
            ("T1190", 24.0),
            ("T1210", 12.0),
            ("T1068", 6.0),
            ("T1552.001", 2.0),
            ("T1021.004", 0.5),
            ("T1021.001", 0.5),
            ("T1078", 0.5),
            ("T1005", 1.0),
        ];
        Defense {
            detection: detection
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            default_detection: 0.05,
            coverage: Vec::new(),
            response_hours: 4.0,
            time_to_exploit: time
                .iter()
                .map(|(k, m)| ((*k).to_owned(), TimeDist::Exponential { mean: *m }))
                .collect(),
            default_time: TimeDist::Exponential { mean: 4.0 },
            patch_within_hours: None,
        }
    }
}

/// A bad defense file or what-if.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    /// A what-if that cannot be read.
    #[error("bad what-if `{0}`: {1}")]
    WhatIf(String, String),
    /// A defense value out of range.
    #[error("bad defense: {0}")]
    Defense(String),
    /// The attack query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

fn hours(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix('d') {
        (n, 24.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1.0 / 60.0)
    } else {
        (t, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x * mult)
}

impl Defense {
    /// Applies a what-if: `edr:SELECTOR[=P]` (coverage detecting with P, default
    /// [`EDR_DETECTION`]; SELECTOR as in [`Coverage::hosts`], e.g. `edr:tier=web`),
    /// `patch:DURATION` (`patch:7d`: every vulnerability patched 7 days in), `response:DURATION`
    /// (`response:1h`) or `detect:TECHNIQUE=P` (`detect:T1068=0.5`).
    pub fn apply_what_if(&mut self, what_if: &str) -> Result<(), CampaignError> {
        let bad = |m: &str| CampaignError::WhatIf(what_if.to_owned(), m.to_owned());
        let (kind, arg) = what_if
            .split_once(':')
            .ok_or_else(|| bad("expected KIND:ARG (edr:, patch:, response:, detect:)"))?;
        match kind {
            "edr" => {
                // `tier=web` is a selector, `tier=web=0.8` a selector with a probability;
                // `tag:x=0.8` likewise.
                let (sel, p) = match arg.rsplit_once('=') {
                    Some((s, p)) if p.parse::<f64>().is_ok() => {
                        (s, p.parse::<f64>().unwrap_or(EDR_DETECTION))
                    }
                    _ => (arg, EDR_DETECTION),
                };
                if !(0.0..=1.0).contains(&p) {
                    return Err(bad("a detection probability is between 0 and 1"));
                }
                if sel.is_empty() {
                    return Err(bad("name the hosts: all, tag:NAME, host:NAME or tier=NAME"));
                }
                self.coverage.push(Coverage {
                    hosts: sel.to_owned(),
                    detection: p,
                });
            }
            "patch" | "patch-within" => {
                self.patch_within_hours =
                    Some(hours(arg).ok_or_else(|| bad("expected a duration such as 7d or 36h"))?);
            }
            "response" => {
                self.response_hours =
                    hours(arg).ok_or_else(|| bad("expected a duration such as 2h or 30m"))?;
            }
            "detect" => {
                let (t, p) = arg
                    .split_once('=')
                    .ok_or_else(|| bad("expected detect:TECHNIQUE=P"))?;
                let p: f64 = p
                    .parse()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| bad("a detection probability is between 0 and 1"))?;
                self.detection.insert(t.to_owned(), p);
            }
            _ => return Err(bad("unknown kind; use edr:, patch:, response: or detect:")),
        }
        Ok(())
    }

    fn check(&self) -> Result<(), CampaignError> {
        let prob = |p: f64| (0.0..=1.0).contains(&p);
        if !self.detection.values().all(|p| prob(*p)) || !prob(self.default_detection) {
            return Err(CampaignError::Defense(
                "detection probabilities are between 0 and 1".into(),
            ));
        }
        if !self.coverage.iter().all(|c| prob(c.detection)) {
            return Err(CampaignError::Defense(
                "coverage detection is between 0 and 1".into(),
            ));
        }
        if !(self.response_hours.is_finite() && self.response_hours >= 0.0) {
            return Err(CampaignError::Defense(
                "response_hours is a non-negative number".into(),
            ));
        }
        if !self.default_time.valid() || !self.time_to_exploit.values().all(TimeDist::valid) {
            return Err(CampaignError::Defense(
                "times need a positive mean (constant: non-negative hours)".into(),
            ));
        }
        Ok(())
    }

    fn covers(twin: &Twin, selector: &str, host: &str) -> bool {
        let Some(h) = twin.hosts.get(host) else {
            return false;
        };
        if selector == "all" {
            return true;
        }
        if let Some(tier) = selector.strip_prefix("tier=") {
            return h.tags.iter().any(|t| {
                t == &format!("{tier}-tier") || t == &format!("tier={tier}") || t == tier
            });
        }
        match Peer::parse(selector) {
            Ok(Peer::Tag(t)) => h.tags.contains(&t),
            Ok(Peer::Entity(id)) => id.kind == doppel_model::Kind::Host && id.name == host,
            Ok(Peer::Any) => true,
            _ => false,
        }
    }

    /// Detection probability of one attempt of `technique` on `host`.
    fn detection_of(&self, twin: &Twin, technique: &str, host: &str) -> f64 {
        let base = self
            .detection
            .get(technique)
            .copied()
            .unwrap_or(self.default_detection);
        self.coverage
            .iter()
            .filter(|c| Self::covers(twin, &c.hosts, host))
            .fold(base, |p, c| 1.0 - (1.0 - p) * (1.0 - c.detection))
    }

    fn time_of(&self, technique: &str) -> &TimeDist {
        self.time_to_exploit
            .get(technique)
            .unwrap_or(&self.default_time)
    }
}

/// A step as the simulation sees it.
#[derive(Debug, Clone)]
struct SimStep {
    key: usize,
    technique: Option<&'static str>,
    detection: f64,
    time: Option<TimeDist>,
    probability: f64,
    exploit: bool,
}

/// Mean, median and 90th percentile of the time to compromise, with 95% intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeStats {
    /// Mean hours.
    pub mean: f64,
    /// Median hours.
    pub p50: f64,
    /// 90th percentile, hours.
    pub p90: f64,
    /// 95% interval of the mean (normal approximation).
    pub mean_ci95: [f64; 2],
    /// 95% interval of the median (order statistics, distribution-free).
    pub p50_ci95: [f64; 2],
    /// 95% interval of the 90th percentile (order statistics).
    pub p90_ci95: [f64; 2],
}

/// How often a technique was tried and caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechniqueCount {
    /// ATT&CK id.
    pub technique: &'static str,
    /// Attempts over all runs.
    pub attempts: u64,
    /// Detections over all runs.
    pub detections: u64,
}

/// One simulated configuration's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimResult {
    /// What-ifs applied (empty for the baseline).
    pub what_if: Vec<String>,
    /// Fraction of runs in which the attacker reached a target before eviction.
    pub p_compromise: f64,
    /// Wilson 95% interval of `p_compromise`.
    pub p_compromise_ci95: [f64; 2],
    /// Fraction of runs in which the attacker was detected at least once.
    pub p_detected: f64,
    /// Time to compromise over the compromising runs (`null` when none).
    pub time_to_compromise_hours: Option<TimeStats>,
    /// Attempts and detections per technique.
    pub techniques: Vec<TechniqueCount>,
}

/// The answer of [`simulate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Where the attacker starts.
    pub from: Vec<String>,
    /// The target query.
    pub to: String,
    /// Runs per configuration.
    pub runs: u32,
    /// The seed.
    pub seed: u64,
    /// Minimal paths the attacker may follow.
    pub paths: usize,
    /// With the what-ifs applied (the baseline when there are none).
    #[serde(flatten)]
    pub result: SimResult,
    /// Without the what-ifs, same seed; present only when what-ifs were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<SimResult>,
}

fn uniform_pos(rng: &mut Xoshiro256PlusPlus) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64)
}

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal by Box–Muller (one of the pair).
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let (u, v) = (uniform_pos(rng), uniform(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Paths as sequences of indices into a step table shared between paths.
struct Plan {
    steps: Vec<SimStep>,
    paths: Vec<Vec<usize>>,
}

fn plan(twin: &Twin, paths: &[AttackPath], defense: &Defense) -> Plan {
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let mut steps = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let mut seq = Vec::new();
        for s in &p.steps {
            let k = (s.via.clone(), s.gives.clone(), s.host.clone());
            let i = match keys.iter().position(|x| *x == k) {
                Some(i) => i,
                None => {
                    keys.push(k);
                    steps.push(SimStep {
                        key: steps.len(),
                        technique: s.technique,
                        detection: s
                            .technique
                            .map_or(0.0, |t| defense.detection_of(twin, t, &s.host)),
                        time: s.technique.map(|t| defense.time_of(t).clone()),
                        probability: s.probability,
                        exploit: matches!(s.technique, Some("T1190" | "T1210" | "T1068")),
                    });
                    steps.len() - 1
                }
            };
            seq.push(i);
        }
        out.push(seq);
    }
    Plan { steps, paths: out }
}

/// Runs the Monte Carlo over a fixed list of paths (most likely first). The building block
/// of [`simulate`], public so that chains with known answers can be checked directly.
pub fn run_paths(
    twin: &Twin,
    paths: &[AttackPath],
    defense: &Defense,
    what_if: &[String],
    runs: u32,
    seed: u64,
) -> SimResult {
    let plan = plan(twin, paths, defense);
    let mut times = Vec::new();
    let mut detected_runs = 0u64;
    let mut counts: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let n_steps = plan.steps.len();
    let mut done = vec![false; n_steps];
    let mut failed = vec![false; n_steps];
    for run in 0..runs {
        // One stream per run: a what-if changes a run's draws only after the point where it
        // changes the run, so baseline and what-if are compared run by run.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(
            seed ^ u64::from(run).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        done.iter_mut().for_each(|d| *d = false);
        failed.iter_mut().for_each(|f| *f = false);
        let mut t = 0.0_f64;
        let mut evicted_at = f64::INFINITY;
        let mut compromised = None;
        'paths: for seq in &plan.paths {
            if seq.iter().any(|&i| failed[i]) {
                continue;
            }
            for &i in seq {
                if done[i] {
                    continue;
                }
                let s = &plan.steps[i];
                if let Some(tech) = s.technique {
                    let c = counts.entry(tech).or_default();
                    c.0 += 1;
                    if uniform(&mut rng) < s.detection {
                        c.1 += 1;
                        evicted_at = evicted_at.min(t + defense.response_hours);
                    }
                }
                if let Some(d) = &s.time {
                    t += d.sample(&mut rng);
                }
                if t > evicted_at {
                    break 'paths;
                }
                let patched = s.exploit && defense.patch_within_hours.is_some_and(|p| t > p);
                if patched || uniform(&mut rng) >= s.probability {
                    failed[s.key] = true;
                    continue 'paths;
                }
                done[i] = true;
            }
            compromised = Some(t);
            break;
        }
        if evicted_at.is_finite() {
            detected_runs += 1;
        }
        if let Some(t) = compromised {
            times.push(t);
        }
    }
    let n = f64::from(runs.max(1));
    let k = times.len() as f64;
    SimResult {
        what_if: what_if.to_vec(),
        p_compromise: k / n,
        p_compromise_ci95: wilson(k, n),
        p_detected: detected_runs as f64 / n,
        time_to_compromise_hours: time_stats(&mut times),
        techniques: counts
            .into_iter()
            .map(|(technique, (attempts, detections))| TechniqueCount {
                technique,
                attempts,
                detections,
            })
            .collect(),
    }
}

const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for k successes in n trials.
fn wilson(k: f64, n: f64) -> [f64; 2] {
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

fn time_stats(times: &mut [f64]) -> Option<TimeStats> {
    if times.is_empty() {
        return None;
    }
    times.sort_by(f64::total_cmp);
    let n = times.len() as f64;
    let mean = times.iter().sum::<f64>() / n;
    let var = if times.len() > 1 {
        times.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let half = Z95 * (var / n).sqrt();
    let at = |i: f64| times[(i.max(0.0) as usize).min(times.len() - 1)];
    // The q-quantile is the order statistic at rank ⌈nq⌉; its 95% interval spans the ranks
    // nq ± z·√(nq(1−q)) (normal approximation of the binomial count below the quantile).
    let quantile = |q: f64| {
        let r = (n * q).ceil() - 1.0;
        let w = Z95 * (n * q * (1.0 - q)).sqrt();
        (
            at(r),
            [at((n * q - w).floor() - 1.0), at((n * q + w).ceil() - 1.0)],
        )
    };
    let (p50, p50_ci95) = quantile(0.5);
    let (p90, p90_ci95) = quantile(0.9);
    Some(TimeStats {
        mean,
        p50,
        p90,
        mean_ci95: [mean - half, mean + half],
        p50_ci95,
        p90_ci95,
    })
}

/// How many runs, from which seed, over how many paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimOptions {
    /// Monte Carlo runs per configuration.
    pub runs: u32,
    /// Seed.
    pub seed: u64,
    /// Most minimal paths per target the attacker may follow.
    pub cap: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            runs: 10_000,
            seed: 1,
            cap: 50,
        }
    }
}

/// Simulates an attacker from `starts` against `target` (as [`analysis::attack`] reads it)
/// over the minimal paths; with what-ifs, also the baseline with the same seed.
pub fn simulate(
    twin: &Twin,
    starts: &[Start],
    target: &str,
    defense: &Defense,
    what_ifs: &[String],
    opts: SimOptions,
) -> Result<SimReport, CampaignError> {
    let SimOptions { runs, seed, cap } = opts;
    defense.check()?;
    let mut changed = defense.clone();
    for w in what_ifs {
        changed.apply_what_if(w)?;
    }
    changed.check()?;
    let paths = analysis::attack_paths(twin, starts, target, cap)?;
    let result = run_paths(twin, &paths, &changed, what_ifs, runs, seed);
    let baseline =
        (!what_ifs.is_empty()).then(|| run_paths(twin, &paths, defense, &[], runs, seed));
    let mut seen = HashSet::new();
    let from = starts
        .iter()
        .map(|s| match s {
            Start::Outside(o) => o.to_string(),
            Start::Host(h) => format!("host:{h}"),
        })
        .filter(|s| seen.insert(s.clone()))
        .collect();
    Ok(SimReport {
        from,
        to: target.to_owned(),
        runs,
        seed,
        paths: paths.len(),
        result,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::PathStep;

    fn twin() -> Twin {
        let loaded = doppel_model::load_str(
            "t.yaml",
            "doppel: 1\nhosts:\n  a: {cores: 1, tags: [web-tier]}\n  b: {cores: 1}\n  c: {cores: 1}\n",
        );
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        loaded.twin
    }

    fn step(host: &str, technique: &'static str, p: f64) -> PathStep {
        PathStep {
            host: host.into(),
            technique: Some(technique),
            name: "",
            via: format!("{technique} on {host}"),
            probability: p,
            needs: Vec::new(),
            gives: format!("user on {host}"),
        }
    }

    fn chain(steps: Vec<PathStep>) -> AttackPath {
        AttackPath {
            target: "host:c".into(),
            probability: steps.iter().map(|s| s.probability).product(),
            attack_steps: steps.len(),
            steps,
            fixes: Default::default(),
        }
    }

    /// A defense with the given per-technique detection and exponential means, response 0.
    fn defense(d: &[(&str, f64, f64)], response: f64) -> Defense {
        Defense {
            detection: d.iter().map(|(t, p, _)| ((*t).into(), *p)).collect(),
            default_detection: 0.0,
            coverage: Vec::new(),
            response_hours: response,
            time_to_exploit: d
                .iter()
                .map(|(t, _, m)| ((*t).into(), TimeDist::Exponential { mean: *m }))
                .collect(),
            default_time: TimeDist::Constant { hours: 0.0 },
            patch_within_hours: None,
        }
    }

    /// Steps in series, exponential times (means 2, 5, 10 h), detection 0.1, 0.2, 0.3 and an
    /// immediate response: the attacker wins only if no step is detected, so
    /// p = 0.9 · 0.8 · 0.7 = 0.504, and the time to compromise (independent of detection) has
    /// mean 2 + 5 + 10 = 17 h.
    #[test]
    fn a_chain_matches_the_closed_form() {
        let twin = twin();
        let path = chain(vec![
            step("a", "T1190", 1.0),
            step("b", "T1210", 1.0),
            step("c", "T1068", 1.0),
        ]);
        let d = defense(
            &[
                ("T1190", 0.1, 2.0),
                ("T1210", 0.2, 5.0),
                ("T1068", 0.3, 10.0),
            ],
            0.0,
        );
        let r = run_paths(&twin, &[path], &d, &[], 40_000, 7);
        let [lo, hi] = r.p_compromise_ci95;
        assert!(lo <= 0.504 && 0.504 <= hi, "{r:?}");
        assert!((r.p_compromise - 0.504).abs() < 0.01, "{r:?}");
        let t = r.time_to_compromise_hours.clone().unwrap();
        assert!(t.mean_ci95[0] <= 17.0 && 17.0 <= t.mean_ci95[1], "{t:?}");
        // Detected in every run that is not a compromise (response 0 ends them).
        assert!((r.p_detected - (1.0 - r.p_compromise)).abs() < 1e-12);
        // Same seed, same answer.
        let path2 = chain(vec![
            step("a", "T1190", 1.0),
            step("b", "T1210", 1.0),
            step("c", "T1068", 1.0),
        ]);
        assert_eq!(run_paths(&twin, &[path2], &d, &[], 40_000, 7), r);
    }

    /// One exploitation step with success probability 0.6, exponential time with mean 10 h,
    /// detected with probability 0.5 and a response 5 h after detection: the attacker wins
    /// when the step succeeds and is either undetected or done within 5 h:
    /// p = 0.6 · (0.5 + 0.5 · (1 − e^(−5/10))) = 0.6 · 0.6967 = 0.41804. Without detection
    /// the time is exponential: median 10·ln 2 = 6.931 h, 90th percentile 10·ln 10 = 23.03 h.
    #[test]
    fn response_time_and_quantiles_match_the_closed_form() {
        let twin = twin();
        let path = || chain(vec![step("a", "T1190", 0.6)]);
        let d = defense(&[("T1190", 0.5, 10.0)], 5.0);
        let r = run_paths(&twin, &[path()], &d, &[], 40_000, 11);
        let expect = 0.6 * (0.5 + 0.5 * (1.0 - (-0.5f64).exp()));
        let [lo, hi] = r.p_compromise_ci95;
        assert!(lo <= expect && expect <= hi, "{expect} {r:?}");
        let quiet = defense(&[("T1190", 0.0, 10.0)], 5.0);
        let r = run_paths(&twin, &[path()], &quiet, &[], 40_000, 11);
        let t = r.time_to_compromise_hours.unwrap();
        let (p50, p90) = (10.0 * 2f64.ln(), 10.0 * 10f64.ln());
        assert!(t.p50_ci95[0] <= p50 && p50 <= t.p50_ci95[1], "{t:?}");
        assert!(t.p90_ci95[0] <= p90 && p90 <= t.p90_ci95[1], "{t:?}");
        assert!(t.mean_ci95[0] <= 10.0 && 10.0 <= t.mean_ci95[1], "{t:?}");
    }

    /// A failed step sends the attacker to the next path: two one-step paths with success
    /// 0.5 each, no detection: p = 1 − 0.5² = 0.75.
    #[test]
    fn failures_fall_back_to_the_next_path() {
        let twin = twin();
        let paths = [
            chain(vec![step("a", "T1190", 0.5)]),
            chain(vec![step("b", "T1190", 0.5)]),
        ];
        let d = defense(&[("T1190", 0.0, 1.0)], 0.0);
        let r = run_paths(&twin, &paths, &d, &[], 40_000, 3);
        let [lo, hi] = r.p_compromise_ci95;
        assert!(lo <= 0.75 && 0.75 <= hi, "{r:?}");
    }

    #[test]
    fn what_ifs_raise_detection_on_covered_hosts_and_patch_in_time() {
        let twin = twin();
        let mut d = defense(&[("T1190", 0.1, 1.0)], 0.0);
        d.apply_what_if("edr:tier=web").unwrap();
        // Host a is tagged web-tier: 1 − 0.9 · 0.4 = 0.64; b is not covered.
        assert!((d.detection_of(&twin, "T1190", "a") - 0.64).abs() < 1e-12);
        assert!((d.detection_of(&twin, "T1190", "b") - 0.1).abs() < 1e-12);
        d.apply_what_if("patch:7d").unwrap();
        assert_eq!(d.patch_within_hours, Some(168.0));
        d.apply_what_if("response:30m").unwrap();
        assert_eq!(d.response_hours, 0.5);
        d.apply_what_if("edr:host:b=0.25").unwrap();
        assert!((d.detection_of(&twin, "T1190", "b") - (1.0 - 0.9 * 0.75)).abs() < 1e-12);
        assert!(d.apply_what_if("edr").is_err());
        assert!(d.apply_what_if("patch:soon").is_err());
        assert!(d.apply_what_if("edr:all=2").is_err());
        // Patching at 1 h against a step of constant 2 h: never in time.
        let mut slow = defense(&[], 0.0);
        slow.time_to_exploit
            .insert("T1190".into(), TimeDist::Constant { hours: 2.0 });
        slow.apply_what_if("patch:1h").unwrap();
        let r = run_paths(
            &twin,
            &[chain(vec![step("a", "T1190", 1.0)])],
            &slow,
            &[],
            100,
            1,
        );
        assert_eq!(r.p_compromise, 0.0);
        assert!(r.time_to_compromise_hours.is_none());
    }
}

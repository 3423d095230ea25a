//! What-if scenarios: the YAML format applied on top of a twin (faults at simulated times, load
//! shapes, resilience policies, autoscaling, deployments, extra SLOs and changes to the model),
//! its JSON Schema, and loading with positioned diagnostics.
//!
//! A scenario is read like a twin (bytes → UTF-8 → YAML with positions → JSON Schema check →
//! serde decode), then checked against the twin it applies to ([`check`]): every reference
//! (workload, service, endpoint, zone, host, instance) must exist. CSV rate series named by a
//! load shape are read through the caller's `read` function and parsed here, with problems
//! reported as `FILE.csv:LINE:COL`. `docs/SCENARIOS.md` is the user's reference; the field docs
//! below generate the schema committed at `schema/scenario.schema.json`.

use std::collections::HashSet;
use std::path::{Path as FsPath, PathBuf};
use std::sync::OnceLock;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diag::{self, Diagnostic, Path, Seg, Severity};
use crate::twin::{CircuitBreaker, RetryPolicy, Slo, Twin};
use crate::units::{Duration, Percent, Rate};
use crate::yaml::{self, Loc, SpanIndex};

/// A what-if scenario: a timeline of events on top of a twin, and changes to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version of the scenario file. Only `1` exists.
    #[serde(default = "one_u32")]
    #[schemars(range(min = 1, max = 1))]
    pub scenario: u32,
    /// The scenario's name (reports and `doppel check` use it; default: the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the scenario asks, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Simulated time per replication, warm-up included (overrides `--duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Leading time left out of the SLO verdicts and summary statistics (overrides `--warmup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Duration>,
    /// Width of a timeline bucket; default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Duration>,
    /// Changes to the twin, as a JSON merge patch (RFC 7386) written in YAML: maps are merged
    /// key by key, any other value replaces, `null` deletes. E.g.
    /// `{services: {cart: {replicas: 4}}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_mapping")]
    pub changes: Option<Value>,
    /// More SLOs to judge, on top of the twin's (same fields as the twin's `slos`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub slos: IndexMap<String, Slo>,
    /// Load shapes applied to open workloads, in order (each acts on the result of the ones
    /// before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadShape>,
    /// Faults and deployments at simulated times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    /// Resilience policies: call overrides, load shedding, health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resilience: Option<Resilience>,
    /// Horizontal pod autoscalers, by service name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub autoscaling: IndexMap<String, Autoscaler>,
}

fn one_u32() -> u32 {
    1
}

fn any_mapping(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "A JSON merge patch of the twin: maps merge key by key, other values replace, `null` deletes.",
    })
}

/// One load shape on one open workload (or on all of them). Give exactly one of `step`,
/// `ramp`, `spike`, `diurnal` and `csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadShape {
    /// The open workload it shapes; default every open workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// From `at` on, the rate becomes `rate` (or is multiplied by `factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// Between `from` and `to`, the rate moves linearly to `rate` (or `factor` × the rate),
    /// and stays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    /// Between `at` and `at + for`, the rate is `rate` (or `factor` × the rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike: Option<Spike>,
    /// The rate is multiplied by a daily (or any `period`) cosine between `min` and `max`,
    /// peaking at `peak_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diurnal: Option<Diurnal>,
    /// The rate follows a CSV file of `timestamp,rate` rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvSeries>,
}

/// A new level from a time on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When the level changes.
    pub at: Duration,
    /// The new rate (give this or `factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// The new rate as a multiple of the rate before the shape (give this or `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub factor: Option<f64>,
}

/// A linear ramp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    /// Start of the ramp.
    pub from: Duration,
    /// End of the ramp; the level holds after it.
    pub to: Duration,
    /// Rate reached at `to` (give this or `factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Multiple of the rate reached at `to` (give this or `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub factor: Option<f64>,
}

/// A burst.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spike {
    /// Start of the burst.
    pub at: Duration,
    /// How long it lasts.
    #[serde(rename = "for")]
    pub lasts: Duration,
    /// Rate during the burst (give this or `factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Multiple of the rate during the burst (give this or `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub factor: Option<f64>,
}

/// A periodic (daily) curve: factor(t) = min + (max − min)·(1 + cos(2π(t − peak_at)/period))/2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diurnal {
    /// Length of one cycle; default 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Duration>,
    /// Factor at the trough.
    #[schemars(range(min = 0.0))]
    pub min: f64,
    /// Factor at the peak.
    #[schemars(range(min = 0.0))]
    pub max: f64,
    /// Simulated time of the (first) peak; default 0 (the run starts at the peak).
    #[serde(default)]
    pub peak_at: Duration,
}

/// A rate series from a CSV file of `timestamp,rate` rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvSeries {
    /// The file, relative to the scenario file. Rows are `timestamp,rate`: the timestamp in
    /// seconds from the start (`90`, `90.5`) or RFC 3339 (`2024-11-29T10:00:00Z`, taken
    /// relative to the first row); the rate in requests per second. A header row and `#`
    /// comments are allowed. Each rate holds until the next row.
    pub file: String,
    /// Multiply every rate by this; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub scale: Option<f64>,
}

/// Something that happens at a simulated time. Give exactly one action: `kill`, `partition`,
/// `network`, `slow`, `errors`, `cpu` or `deploy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When it happens (simulated time since the start).
    pub at: Duration,
    /// How long a fault lasts; default until the end of the run. Not for `kill` (use
    /// `restart_after`) nor `deploy`.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub lasts: Option<Duration>,
    /// A label shown on the report's charts; default a description of the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Kill an instance, every instance of a service, a host or a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    /// Cut the network between two zones or services (attempts are never answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Degrade the network between two zones or services: added latency, packet loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkFault>,
    /// Gray failure: an instance (or a service's instances) works `factor` times slower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<Slow>,
    /// Error injection: a service (or one endpoint) fails a share of its visits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorInjection>,
    /// Resource exhaustion: a host keeps only `cores` cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuLoss>,
    /// Roll out a new version of a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
}

/// What to kill: exactly one of `instance`, `service`, `host`, `zone`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    /// An instance, as `SERVICE/INSTANCE` (e.g. `cart/cart-0`). Its process dies: callers
    /// get a connection error at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Every instance of a service (processes die).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A host and every instance on it. The machine vanishes: attempts in flight and those
    /// sent before health checks notice are never answered (callers wait for their timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A zone: every host in it and every instance placed in it (as `host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Bring everything killed back after this long (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after: Option<Duration>,
}

/// A network partition between two sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The two sides, each `zone:NAME` or `service:NAME`; traffic both ways is cut.
    #[schemars(length(min = 2, max = 2))]
    pub between: Vec<String>,
}

/// Added latency and loss between two sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkFault {
    /// The two sides, each `zone:NAME` or `service:NAME`; applies both ways.
    #[schemars(length(min = 2, max = 2))]
    pub between: Vec<String>,
    /// One-way latency added to each hop between the sides (and to the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Duration>,
    /// Share of attempts lost on the way (never answered: the caller's timeout fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Percent>,
}

/// A gray failure: slower, not dead (health checks still pass).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slow {
    /// An instance, `SERVICE/INSTANCE` (give this or `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Every instance of a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Service times are multiplied by this (e.g. `5` for five times slower).
    #[schemars(range(min = 0.0))]
    pub factor: f64,
}

/// Error injection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorInjection {
    /// The failing service.
    pub service: String,
    /// Only this endpoint of it; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Share of visits that fail (after doing their own work, without calling further).
    pub rate: Percent,
}

/// A host losing cores (a noisy neighbour, a runaway process, throttling).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuLoss {
    /// The host.
    pub host: String,
    /// Cores it keeps (more than 0).
    #[schemars(range(min = 0.0))]
    pub cores: f64,
}

/// A rollout of a new version. Give exactly one of `rolling`, `canary` and `blue_green`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// The service being rolled out.
    pub service: String,
    /// How the new version behaves compared with the current one.
    #[serde(default)]
    pub version: VersionProfile,
    /// Time from creating a pod of the new version until its process is up.
    #[serde(default)]
    pub startup: Duration,
    /// Further time until it passes its readiness check and receives traffic.
    #[serde(default)]
    pub readiness_delay: Duration,
    /// Rolling update: replace pods a few at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<Rolling>,
    /// Canary: a few pods of the new version take a share of traffic, then an automated
    /// analysis promotes or rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// Blue/green: a full set of new pods, then all traffic switches at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreen>,
}

/// A version's behaviour relative to the current one (all default to "the same").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionProfile {
    /// Service times are multiplied by this (`1.3` = 30% slower). Default 1.
    #[serde(default = "one_f64")]
    #[schemars(range(min = 0.0))]
    pub latency: f64,
    /// CPU work per visit is multiplied by this; default the same as `latency`. When it is
    /// below `latency`, the rest of the slower time is spent waiting (I/O), not computing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub cpu: Option<f64>,
    /// Share of visits that fail. Default 0%.
    #[serde(default)]
    pub error_rate: Percent,
}

impl Default for VersionProfile {
    fn default() -> Self {
        VersionProfile {
            latency: 1.0,
            cpu: None,
            error_rate: Percent::default(),
        }
    }
}

fn one_f64() -> f64 {
    1.0
}

/// A count of pods or a percentage of the desired replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PodCount {
    /// A number of pods.
    Count(u32),
    /// A share of the desired replicas (surge rounds up, unavailable rounds down, as in
    /// Kubernetes).
    Percent(Percent),
}

impl PodCount {
    /// Resolves against `desired` replicas, rounding up or down.
    pub fn resolve(&self, desired: u32, round_up: bool) -> u32 {
        match self {
            PodCount::Count(n) => *n,
            PodCount::Percent(p) => {
                let x = p.fraction() * f64::from(desired);
                let r = if round_up {
                    (x - 1e-9).ceil()
                } else {
                    (x + 1e-9).floor()
                };
                r.max(0.0) as u32
            }
        }
    }
}

/// Rolling update parameters (Kubernetes Deployment semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rolling {
    /// Pods that may exist above the desired count during the update. Default 25%.
    #[serde(default = "quarter")]
    pub max_surge: PodCount,
    /// Pods that may be unavailable below the desired count. Default 25%.
    #[serde(default = "quarter")]
    pub max_unavailable: PodCount,
}

fn quarter() -> PodCount {
    PodCount::Percent(Percent::from_fraction(0.25))
}

/// Canary with automated analysis (Kayenta-style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Share of the service's traffic sent to the canary pods.
    pub weight: Percent,
    /// Canary pods. Default 1.
    #[serde(default = "one_u32")]
    #[schemars(range(min = 1))]
    pub replicas: u32,
    /// The analysis that decides.
    #[serde(default)]
    pub analysis: Analysis,
}

/// Canary analysis: Mann-Whitney U tests of the canary's visits against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// How long to collect after the canary is ready before judging. Default 5m.
    #[serde(default = "five_minutes")]
    pub after: Duration,
    /// Significance level of each one-sided test. Default 1%.
    #[serde(default = "one_percent")]
    pub alpha: Percent,
    /// Latency fails when significantly higher and its median is more than this above the
    /// baseline's. Default 10%.
    #[serde(default = "ten_percent")]
    pub latency_tolerance: Percent,
    /// Errors fail when significantly more frequent and the error rate is more than this
    /// (absolute) above the baseline's. Default 1%.
    #[serde(default = "one_percent")]
    pub error_tolerance: Percent,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            after: five_minutes(),
            alpha: one_percent(),
            latency_tolerance: ten_percent(),
            error_tolerance: one_percent(),
        }
    }
}

fn five_minutes() -> Duration {
    Duration::from_millis(300_000)
}
fn one_percent() -> Percent {
    Percent::from_fraction(0.01)
}
fn ten_percent() -> Percent {
    Percent::from_fraction(0.10)
}

/// Blue/green switch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueGreen {
    /// How long the old (blue) pods stay after the switch, draining; default 0.
    #[serde(default)]
    pub keep_old_for: Duration,
}

/// Resilience policies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resilience {
    /// Overrides of call policies, applied to every call matching `from` and `to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallPolicy>,
    /// Load shedding by service: reject visits when the instance's queue is this long.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub load_shedding: IndexMap<String, LoadShedding>,
    /// Health checks by service (`"*"` for every service): a dead instance is ejected from
    /// load balancing after the detection delay. Default for every service: 10s.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub health_checks: IndexMap<String, HealthCheck>,
}

/// A call policy override.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallPolicy {
    /// The calling service; default any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The called service.
    pub to: String,
    /// New timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// New retry policy (its `budget` percentage is used with the defaults of `retry_budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// Retry budget with all its parameters (overrides `retries.budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudget>,
    /// New circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Bulkhead: at most this many of these calls in flight per calling instance; more fail
    /// at once (rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<u32>,
}

/// A retry budget: over any window of `ttl`, retries may number at most
/// max(`min_per_second` × ttl, `percent` × first attempts in the window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Share of first attempts that may be retried.
    pub percent: Percent,
    /// Retries always allowed per second, however few the calls. Default 1.
    #[serde(default = "one_f64")]
    #[schemars(range(min = 0.0))]
    pub min_per_second: f64,
    /// Length of the sliding window. Default 10s.
    #[serde(default = "ten_seconds")]
    pub ttl: Duration,
}

fn ten_seconds() -> Duration {
    Duration::from_millis(10_000)
}

/// Load shedding on queue length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadShedding {
    /// Reject a visit arriving when this many already wait at the instance.
    pub max_queue: u32,
}

/// Health checking of a service's instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Time from an instance's death until it is ejected (e.g. probe period × failure
    /// threshold).
    pub detection: Duration,
}

/// A horizontal pod autoscaler (Kubernetes HPA semantics, on the busy-worker utilization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaler {
    /// Fewest replicas. Default 1.
    #[serde(default = "one_u32")]
    #[schemars(range(min = 1))]
    pub min: u32,
    /// Most replicas.
    #[schemars(range(min = 1))]
    pub max: u32,
    /// Target average utilization (busy workers / workers) of the ready pods.
    pub target_utilization: Percent,
    /// How often the autoscaler looks. Default 15s.
    #[serde(default = "fifteen_seconds")]
    pub sync_period: Duration,
    /// Ratios within this of 1 cause no change. Default 10%.
    #[serde(default = "ten_percent")]
    pub tolerance: Percent,
    /// Scale up to the lowest recommendation of this past window. Default 0s.
    #[serde(default)]
    pub scale_up_stabilization: Duration,
    /// Scale down to the highest recommendation of this past window. Default 5m.
    #[serde(default = "five_minutes")]
    pub scale_down_stabilization: Duration,
    /// Time from creating a pod until it is ready for traffic. Default 30s.
    #[serde(default = "thirty_seconds")]
    pub startup: Duration,
}

fn fifteen_seconds() -> Duration {
    Duration::from_millis(15_000)
}
fn thirty_seconds() -> Duration {
    Duration::from_millis(30_000)
}

/// A CSV rate series, read and parsed: `(seconds from the start, rate per second)`.
pub type RateSeries = Vec<(f64, f64)>;

/// A scenario read from a file, with its problems and the CSV series it names.
#[derive(Debug, Clone, Default)]
pub struct LoadedScenario {
    /// The file name, as given.
    pub file: String,
    /// The decoded scenario (default when it could not be decoded).
    pub scenario: Scenario,
    /// Problems, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// CSV series by the `file` string of the shape that names them.
    pub csv: IndexMap<String, RateSeries>,
    spans: SpanIndex,
}

impl LoadedScenario {
    /// True when no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The scenario's display name: its `name`, else the file name without extension.
    pub fn display_name(&self) -> String {
        self.scenario.name.clone().unwrap_or_else(|| {
            FsPath::new(&self.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.file.clone())
        })
    }

    fn diag(&mut self, path: Path, at_key: bool, severity: Severity, message: String) {
        let pointer = path.pointer();
        let loc = if at_key {
            self.spans.key(&pointer)
        } else {
            self.spans.value(&pointer)
        };
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            loc,
            severity,
            path,
            message,
        });
    }
}

fn checker() -> &'static crate::schema::SchemaChecker {
    static CHECKER: OnceLock<crate::schema::SchemaChecker> = OnceLock::new();
    CHECKER.get_or_init(|| {
        crate::schema::SchemaChecker::new(
            schemars::schema_for!(Scenario),
            "https://doppel.dev/schema/scenario.schema.json",
            "Doppel what-if scenario",
        )
    })
}

/// The scenario format's JSON Schema, pretty-printed.
pub fn scenario_schema_json() -> String {
    checker().json()
}

/// Reads a scenario file (and the CSV files it names) with `read`. Structural problems only;
/// [`check`] then checks it against the twin.
pub fn load_scenario(
    file: &FsPath,
    mut read: impl FnMut(&FsPath) -> std::io::Result<Vec<u8>>,
) -> LoadedScenario {
    let mut out = LoadedScenario {
        file: file.display().to_string(),
        ..LoadedScenario::default()
    };
    let bytes = match read(file) {
        Ok(b) => b,
        Err(e) => {
            out.diag(
                Path::root(),
                false,
                Severity::Error,
                format!("cannot read file: {e}"),
            );
            return out;
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        out.diag(
            Path::root(),
            false,
            Severity::Error,
            "file is not valid UTF-8".into(),
        );
        return out;
    };
    let parsed = match yaml::parse(text) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors {
                out.diagnostics.push(Diagnostic {
                    file: out.file.clone(),
                    loc: e.loc,
                    severity: Severity::Error,
                    path: Path::from_pointer(&e.pointer, &Value::Null),
                    message: e.message,
                });
            }
            return out;
        }
    };
    out.spans = parsed.index;
    for e in parsed.errors {
        let path = Path::from_pointer(&e.pointer, &parsed.value);
        out.diagnostics.push(Diagnostic {
            file: out.file.clone(),
            loc: e.loc,
            severity: Severity::Error,
            path,
            message: e.message,
        });
    }
    let value = parsed.value;
    if !value.is_object() {
        out.diag(
            Path::root(),
            false,
            Severity::Error,
            format!(
                "a scenario is a mapping, found {}",
                crate::schema::describe(&value)
            ),
        );
        return out;
    }
    let problems = structural(&value);
    if !problems.is_empty() {
        for (path, at_key, message) in problems {
            out.diag(path, at_key, Severity::Error, message);
        }
        diag::sort(&mut out.diagnostics);
        return out;
    }
    match serde_path_to_error::deserialize::<_, Scenario>(&value) {
        Ok(s) => out.scenario = s,
        Err(e) => {
            let path = decode_path(e.path());
            out.diag(path, false, Severity::Error, e.into_inner().to_string());
            diag::sort(&mut out.diagnostics);
            return out;
        }
    }
    // CSV series, relative to the scenario file.
    let base = file.parent().map(FsPath::to_path_buf).unwrap_or_default();
    let shapes = out.scenario.load.clone();
    for (i, shape) in shapes.iter().enumerate() {
        let Some(csv) = &shape.csv else { continue };
        if out.csv.contains_key(&csv.file) {
            continue;
        }
        let path: PathBuf = base.join(&csv.file);
        let name = path.display().to_string();
        let at = Path::of(["load"]).index(i).key("csv").key("file");
        match read(&path) {
            Err(e) => out.diag(
                at,
                false,
                Severity::Error,
                format!("cannot read `{name}`: {e}"),
            ),
            Ok(bytes) => match parse_csv(&name, &String::from_utf8_lossy(&bytes)) {
                Ok(series) => {
                    out.csv.insert(csv.file.clone(), series);
                }
                Err(diags) => out.diagnostics.extend(diags),
            },
        }
    }
    check_shape(&mut out);
    diag::sort(&mut out.diagnostics);
    out
}

/// Parses a scenario held in memory (CSV files are reported as unreadable).
pub fn load_scenario_str(name: &str, text: &str) -> LoadedScenario {
    let owned = text.as_bytes().to_vec();
    load_scenario(FsPath::new(name), |p| {
        if p == FsPath::new(name) {
            Ok(owned.clone())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            ))
        }
    })
}

/// Checks that can be made without the twin: one action per event, one shape per load entry,
/// rates or factors given once, sensible numbers.
fn check_shape(out: &mut LoadedScenario) {
    let s = out.scenario.clone();
    let mut errs: Vec<(Path, bool, String)> = Vec::new();
    for (i, l) in s.load.iter().enumerate() {
        let p = Path::of(["load"]).index(i);
        let n = [
            l.step.is_some(),
            l.ramp.is_some(),
            l.spike.is_some(),
            l.diurnal.is_some(),
            l.csv.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n != 1 {
            errs.push((
                p.clone(),
                false,
                format!(
                    "give exactly one of `step`, `ramp`, `spike`, `diurnal`, `csv` (found {n})"
                ),
            ));
        }
        let one_level =
            |errs: &mut Vec<(Path, bool, String)>, key: &str, rate: bool, factor: bool| {
                if rate == factor {
                    errs.push((
                        p.key(key),
                        false,
                        "give exactly one of `rate` and `factor`".into(),
                    ));
                }
            };
        if let Some(x) = &l.step {
            one_level(&mut errs, "step", x.rate.is_some(), x.factor.is_some());
        }
        if let Some(x) = &l.ramp {
            one_level(&mut errs, "ramp", x.rate.is_some(), x.factor.is_some());
            if x.to < x.from {
                errs.push((
                    p.key("ramp").key("to"),
                    false,
                    "the ramp must end after it starts".into(),
                ));
            }
        }
        if let Some(x) = &l.spike {
            one_level(&mut errs, "spike", x.rate.is_some(), x.factor.is_some());
        }
        if let Some(x) = &l.diurnal {
            if x.max < x.min {
                errs.push((
                    p.key("diurnal").key("max"),
                    false,
                    "`max` must be at least `min`".into(),
                ));
            }
            if x.period.is_some_and(|d| d == Duration::ZERO) {
                errs.push((
                    p.key("diurnal").key("period"),
                    false,
                    "the period must be longer than 0".into(),
                ));
            }
        }
    }
    for (i, e) in s.events.iter().enumerate() {
        let p = Path::of(["events"]).index(i);
        let actions = [
            e.kill.is_some(),
            e.partition.is_some(),
            e.network.is_some(),
            e.slow.is_some(),
            e.errors.is_some(),
            e.cpu.is_some(),
            e.deploy.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if actions != 1 {
            errs.push((
                p.clone(),
                false,
                format!(
                    "give exactly one action: `kill`, `partition`, `network`, `slow`, `errors`, `cpu` or `deploy` (found {actions})"
                ),
            ));
        }
        if e.lasts.is_some() && (e.kill.is_some() || e.deploy.is_some()) {
            errs.push((
                p.key("for"),
                true,
                "`for` does not apply to kills (use `restart_after`) or deployments".into(),
            ));
        }
        if let Some(k) = &e.kill {
            let n = [&k.instance, &k.service, &k.host, &k.zone]
                .iter()
                .filter(|x| x.is_some())
                .count();
            if n != 1 {
                errs.push((
                    p.key("kill"),
                    false,
                    "give exactly one of `instance`, `service`, `host`, `zone`".into(),
                ));
            }
        }
        if let Some(sl) = &e.slow
            && sl.instance.is_some() == sl.service.is_some()
        {
            errs.push((
                p.key("slow"),
                false,
                "give exactly one of `instance` and `service`".into(),
            ));
        }
        if let Some(c) = &e.cpu
            && c.cores <= 0.0
        {
            errs.push((
                p.key("cpu").key("cores"),
                false,
                "a host keeps more than 0 cores (kill it instead)".into(),
            ));
        }
        if let Some(n) = &e.network
            && n.latency.is_none()
            && n.loss.is_none()
        {
            errs.push((
                p.key("network"),
                false,
                "give `latency`, `loss` or both".into(),
            ));
        }
        if let Some(d) = &e.deploy {
            let n = [
                d.rolling.is_some(),
                d.canary.is_some(),
                d.blue_green.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if n != 1 {
                errs.push((
                    p.key("deploy"),
                    false,
                    "give exactly one of `rolling`, `canary`, `blue_green`".into(),
                ));
            }
        }
    }
    for (name, a) in &s.autoscaling {
        if a.max < a.min {
            errs.push((
                Path::of(["autoscaling", name.as_str(), "max"]),
                false,
                format!("`max` ({}) is below `min` ({})", a.max, a.min),
            ));
        }
        if a.target_utilization.fraction() <= 0.0 {
            errs.push((
                Path::of(["autoscaling", name.as_str(), "target_utilization"]),
                false,
                "the target must be above 0%".into(),
            ));
        }
        if a.sync_period == Duration::ZERO {
            errs.push((
                Path::of(["autoscaling", name.as_str(), "sync_period"]),
                false,
                "the sync period must be longer than 0".into(),
            ));
        }
    }
    if s.bucket.is_some_and(|b| b == Duration::ZERO) {
        errs.push((
            Path::of(["bucket"]),
            false,
            "a bucket must be longer than 0".into(),
        ));
    }
    for (p, k, m) in errs {
        out.diag(p, k, Severity::Error, m);
    }
}

/// Checks a decoded scenario against the twin it applies to (`twin` is the twin *after*
/// `changes`): every name must exist. Appends to `loaded.diagnostics`.
pub fn check(loaded: &mut LoadedScenario, twin: &Twin) {
    let s = loaded.scenario.clone();
    let mut errs: Vec<(Path, String)> = Vec::new();
    let svc = |name: &str| -> Option<String> {
        if twin.services.contains_key(name) {
            None
        } else {
            let names: Vec<String> = twin.services.keys().cloned().collect();
            Some(format!(
                "unknown service `{name}`{}",
                crate::schema::suggest(name, &names)
            ))
        }
    };
    let instance = |id: &str| -> Option<String> {
        let Some((sname, iname)) = id.split_once('/') else {
            return Some(format!(
                "`{id}` is not an instance; write `SERVICE/INSTANCE`, e.g. `cart/cart-0`"
            ));
        };
        let Some(service) = twin.services.get(sname) else {
            return svc(sname);
        };
        let names: Vec<String> = twin
            .placed_instances(sname, service)
            .into_iter()
            .map(|p| p.name)
            .collect();
        if names.iter().any(|n| n == iname) {
            None
        } else {
            Some(format!(
                "service `{sname}` has no instance `{iname}`{}",
                crate::schema::suggest(iname, &names)
            ))
        }
    };
    let side = |text: &str| -> Option<String> {
        match text.split_once(':') {
            Some(("zone", z)) if twin.zones.contains_key(z) => None,
            Some(("zone", z)) => {
                let used = twin
                    .all_instances()
                    .iter()
                    .any(|i| i.zone.as_deref() == Some(z))
                    || twin.hosts.values().any(|h| h.zone.as_deref() == Some(z));
                (!used).then(|| format!("unknown zone `{z}`"))
            }
            Some(("service", s)) => svc(s),
            _ => Some(format!(
                "`{text}` is not a side; write `zone:NAME` or `service:NAME`"
            )),
        }
    };
    for (i, l) in s.load.iter().enumerate() {
        if let Some(w) = &l.workload {
            let p = Path::of(["load"]).index(i).key("workload");
            match twin.workloads.get(w) {
                None => {
                    let names: Vec<String> = twin.workloads.keys().cloned().collect();
                    errs.push((
                        p,
                        format!(
                            "unknown workload `{w}`{}",
                            crate::schema::suggest(w, &names)
                        ),
                    ));
                }
                Some(wl) if wl.open.is_none() => {
                    errs.push((
                        p,
                        format!("workload `{w}` is closed; load shapes act on open workloads"),
                    ));
                }
                Some(_) => {}
            }
        } else if !twin.workloads.values().any(|w| w.open.is_some()) {
            errs.push((
                Path::of(["load"]).index(i),
                "the twin has no open workload to shape".into(),
            ));
        }
    }
    for (i, e) in s.events.iter().enumerate() {
        let p = Path::of(["events"]).index(i);
        if let Some(k) = &e.kill {
            let p = p.key("kill");
            if let Some(x) = &k.instance
                && let Some(m) = instance(x)
            {
                errs.push((p.key("instance"), m));
            }
            if let Some(x) = &k.service
                && let Some(m) = svc(x)
            {
                errs.push((p.key("service"), m));
            }
            if let Some(h) = &k.host
                && !twin.hosts.contains_key(h)
            {
                let names: Vec<String> = twin.hosts.keys().cloned().collect();
                errs.push((
                    p.key("host"),
                    format!("unknown host `{h}`{}", crate::schema::suggest(h, &names)),
                ));
            }
            if let Some(z) = &k.zone
                && let Some(m) = side(&format!("zone:{z}"))
            {
                errs.push((p.key("zone"), m));
            }
        }
        let sides = e
            .partition
            .as_ref()
            .map(|x| ("partition", &x.between))
            .or(e.network.as_ref().map(|x| ("network", &x.between)));
        if let Some((key, between)) = sides {
            for (j, b) in between.iter().enumerate() {
                if let Some(m) = side(b) {
                    errs.push((p.key(key).key("between").index(j), m));
                }
            }
        }
        if let Some(sl) = &e.slow {
            if let Some(x) = &sl.instance
                && let Some(m) = instance(x)
            {
                errs.push((p.key("slow").key("instance"), m));
            }
            if let Some(x) = &sl.service
                && let Some(m) = svc(x)
            {
                errs.push((p.key("slow").key("service"), m));
            }
        }
        if let Some(er) = &e.errors {
            if let Some(m) = svc(&er.service) {
                errs.push((p.key("errors").key("service"), m));
            } else if let Err(m) = twin.resolve_endpoint(&er.service, er.endpoint.as_deref())
                && er.endpoint.is_some()
            {
                errs.push((p.key("errors").key("endpoint"), m));
            }
        }
        if let Some(c) = &e.cpu
            && !twin.hosts.contains_key(&c.host)
        {
            errs.push((
                p.key("cpu").key("host"),
                format!("unknown host `{}`", c.host),
            ));
        }
        if let Some(d) = &e.deploy
            && let Some(m) = svc(&d.service)
        {
            errs.push((p.key("deploy").key("service"), m));
        }
    }
    if let Some(r) = &s.resilience {
        for (i, c) in r.calls.iter().enumerate() {
            let p = Path::of(["resilience", "calls"]).index(i);
            if let Some(f) = &c.from
                && let Some(m) = svc(f)
            {
                errs.push((p.key("from"), m));
            }
            if let Some(m) = svc(&c.to) {
                errs.push((p.key("to"), m));
            } else {
                let matched = twin.services.iter().any(|(from, sv)| {
                    c.from.as_deref().is_none_or(|f| f == from)
                        && sv
                            .endpoints
                            .values()
                            .flat_map(|e| e.calls.iter().flat_map(|st| st.calls()))
                            .any(|call| call.service == c.to)
                });
                if !matched {
                    errs.push((p, "no call of the twin matches this policy".into()));
                }
            }
        }
        for name in r.load_shedding.keys() {
            if let Some(m) = svc(name) {
                errs.push((Path::of(["resilience", "load_shedding", name.as_str()]), m));
            }
        }
        for name in r.health_checks.keys() {
            if name != "*"
                && let Some(m) = svc(name)
            {
                errs.push((Path::of(["resilience", "health_checks", name.as_str()]), m));
            }
        }
    }
    for name in s.autoscaling.keys() {
        if let Some(m) = svc(name) {
            errs.push((Path::of(["autoscaling", name.as_str()]), m));
        }
    }
    for (name, slo) in &s.slos {
        if twin.slos.contains_key(name) {
            errs.push((
                Path::of(["slos", name.as_str()]),
                format!("the twin already has an SLO named `{name}`"),
            ));
        }
        let p = Path::of(["slos", name.as_str()]);
        match (&slo.workload, &slo.service) {
            (Some(w), None) if !twin.workloads.contains_key(w) => {
                errs.push((p.key("workload"), format!("unknown workload `{w}`")));
            }
            (None, Some(sv)) => {
                if let Some(m) = svc(sv) {
                    errs.push((p.key("service"), m));
                } else if let Some(e) = &slo.endpoint
                    && let Err(m) = twin.resolve_endpoint(sv, Some(e))
                {
                    errs.push((p.key("endpoint"), m));
                }
            }
            (Some(_), None) => {}
            _ => errs.push((
                p.clone(),
                "give exactly one of `workload` and `service`".into(),
            )),
        }
        if slo.latency.is_some() == slo.availability.is_some() {
            errs.push((p, "give exactly one of `latency` and `availability`".into()));
        }
    }
    for (p, m) in errs {
        loaded.diag(p, false, Severity::Error, m);
    }
    diag::sort(&mut loaded.diagnostics);
}

/// Applies the scenario's `changes` (a JSON merge patch) to a twin and re-validates the result.
/// Problems are reported against the scenario file, at the patched path when it is in the
/// patch and at `changes` otherwise.
pub fn apply_changes(loaded: &mut LoadedScenario, twin: &Twin) -> Twin {
    let Some(patch) = loaded.scenario.changes.clone() else {
        return twin.clone();
    };
    let Ok(mut value) = serde_json::to_value(twin) else {
        return twin.clone();
    };
    merge_patch(&mut value, &patch);
    let in_patch = |p: &Path| {
        let mut cur = Some(&patch);
        for seg in &p.0 {
            cur = match (cur, seg) {
                (Some(Value::Object(m)), Seg::Key(k)) => m.get(k),
                (Some(Value::Array(a)), Seg::Index(i)) => a.get(*i),
                _ => None,
            };
        }
        cur.is_some()
    };
    let prefix = |p: &Path| -> Path {
        let mut out = Path::of(["changes"]);
        if in_patch(p) {
            out.0.extend(p.0.iter().cloned());
        }
        out
    };
    let problems = crate::schema::check(&value);
    if !problems.is_empty() {
        for pr in problems {
            let at = prefix(&pr.path);
            loaded.diag(at, pr.at_key, Severity::Error, pr.message);
        }
        diag::sort(&mut loaded.diagnostics);
        return twin.clone();
    }
    let patched: Twin = match serde_path_to_error::deserialize(&value) {
        Ok(t) => t,
        Err(e) => {
            let at = prefix(&decode_path(e.path()));
            loaded.diag(at, false, Severity::Error, e.into_inner().to_string());
            diag::sort(&mut loaded.diagnostics);
            return twin.clone();
        }
    };
    for pr in crate::validate::check(&patched, &HashSet::new()) {
        if pr.severity == Severity::Error {
            let at = prefix(&pr.path);
            let message = format!("{} (after changes: {})", pr.message, pr.path);
            loaded.diag(at, pr.at_key, Severity::Error, message);
        }
    }
    diag::sort(&mut loaded.diagnostics);
    patched
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.shift_remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Parses `timestamp,rate` rows. Timestamps are seconds from the start or RFC 3339 (relative
/// to the first row); they must increase.
pub fn parse_csv(file: &str, text: &str) -> Result<RateSeries, Vec<Diagnostic>> {
    let mut out: RateSeries = Vec::new();
    let mut errors = Vec::new();
    let mut origin: Option<f64> = None;
    let err = |errors: &mut Vec<Diagnostic>, line: usize, col: usize, message: String| {
        errors.push(Diagnostic {
            file: file.to_owned(),
            loc: Loc {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
            },
            severity: Severity::Error,
            path: Path::root(),
            message,
        });
    };
    let mut first_data = true;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let Some((ts, rate)) = row.split_once(',') else {
            err(
                &mut errors,
                line,
                1,
                format!("expected `timestamp,rate`, found {row:?}"),
            );
            continue;
        };
        let (ts, rate) = (ts.trim(), rate.trim());
        let seconds = ts
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .or_else(|| rfc3339_seconds(ts));
        let value = rate.parse::<f64>().ok().filter(|x| x.is_finite());
        if first_data && (seconds.is_none() || value.is_none()) {
            // A header row.
            first_data = false;
            continue;
        }
        first_data = false;
        let Some(mut t) = seconds else {
            err(
                &mut errors,
                line,
                1,
                format!(
                    "invalid timestamp `{ts}`: expected seconds (`90.5`) or RFC 3339 (`2024-11-29T10:00:00Z`)"
                ),
            );
            continue;
        };
        let rate_col = raw.find(',').map_or(1, |c| c + 2);
        let Some(r) = value else {
            err(
                &mut errors,
                line,
                rate_col,
                format!("invalid rate `{rate}`: expected requests per second, e.g. `250`"),
            );
            continue;
        };
        if r < 0.0 {
            err(
                &mut errors,
                line,
                rate_col,
                format!("rate `{rate}` is negative"),
            );
            continue;
        }
        if ts.parse::<f64>().is_err() {
            let o = *origin.get_or_insert(t);
            t -= o;
        }
        if t < 0.0 || out.last().is_some_and(|&(last, _)| t <= last) {
            err(
                &mut errors,
                line,
                1,
                format!("timestamp `{ts}` does not come after the previous row"),
            );
            continue;
        }
        out.push((t, r));
    }
    if out.is_empty() && errors.is_empty() {
        err(&mut errors, 1, 1, "no `timestamp,rate` rows".into());
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`).
fn rfc3339_seconds(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |a: usize, z: usize| s.get(a..z)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi) = (num(11, 13)?, num(14, 16)?);
    let rest = s.get(17..)?;
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let sec: f64 = rest.get(..zone_at)?.parse().ok()?;
    let zone = rest.get(zone_at..)?;
    let offset = match zone {
        "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let hh: i64 = z.get(1..3)?.parse().ok()?;
            let mm: i64 = z.get(4..6)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec >= 61.0 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 - offset) as f64 + sec)
}

fn decode_path(p: &serde_path_to_error::Path) -> Path {
    use serde_path_to_error::Segment;
    Path(
        p.iter()
            .filter_map(|seg| match seg {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect(),
    )
}

/// Structural problems against the scenario schema: (path, about the key, message).
fn structural(value: &Value) -> Vec<(Path, bool, String)> {
    checker()
        .check(value)
        .into_iter()
        .map(|e| (e.path, e.at_key, e.message))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lines(l: &LoadedScenario) -> String {
        l.diagnostics
            .iter()
            .map(|d| format!("{d}\n"))
            .collect::<String>()
    }

    #[test]
    fn committed_schema_is_current() {
        expect_test::expect_file!["../../../schema/scenario.schema.json"]
            .assert_eq(&scenario_schema_json());
    }

    const TWIN: &str = r"
zones: {a: {latency: {b: 1ms}}, b: {}}
hosts: {h1: {zone: a, cores: 4}, h2: {zone: b, cores: 4}}
services:
  front:
    replicas: 2
    placement: {zones: [a, b]}
    endpoints:
      get:
        service_time: {dist: exponential, mean: 5ms}
        calls: [{service: db}]
  db:
    endpoints: {q: {service_time: {dist: constant, value: 1ms}}}
workloads:
  users:
    open: {rate: 100/s}
    flow: {steps: {s: {service: front}}}
";

    fn twin() -> Twin {
        let l = crate::load_str("t.yaml", TWIN);
        assert!(l.is_valid(), "{:?}", l.diagnostics);
        l.twin
    }

    #[test]
    fn a_full_scenario_decodes_and_checks() {
        let text = r"
scenario: 1
name: everything
duration: 10m
bucket: 2s
changes: {services: {db: {replicas: 2}}}
slos: {fast: {workload: users, latency: {percentile: 99, threshold: 100ms}}}
load:
  - {workload: users, step: {at: 1m, factor: 2}}
  - {ramp: {from: 2m, to: 3m, rate: 300/s}}
  - {spike: {at: 4m, for: 10s, factor: 5}}
  - {diurnal: {min: 0.5, max: 1.0, period: 10m}}
events:
  - {at: 1m, kill: {instance: front/front-0, restart_after: 1m}}
  - {at: 2m, kill: {zone: b}}
  - {at: 2m, for: 30s, partition: {between: [zone:a, service:db]}}
  - {at: 2m, network: {between: [zone:a, zone:b], latency: 20ms, loss: 1%}}
  - {at: 3m, for: 1m, slow: {service: db, factor: 3}}
  - {at: 3m, errors: {service: db, endpoint: q, rate: 20%}}
  - {at: 3m, cpu: {host: h1, cores: 1}}
  - at: 5m
    deploy:
      service: front
      version: {latency: 1.3, error_rate: 1%}
      startup: 10s
      rolling: {max_surge: 1, max_unavailable: 0%}
resilience:
  calls: [{from: front, to: db, timeout: 50ms, retries: {max: 2}, retry_budget: {percent: 10%}, max_concurrent: 5}]
  load_shedding: {db: {max_queue: 10}}
  health_checks: {'*': {detection: 5s}}
autoscaling:
  front: {min: 2, max: 6, target_utilization: 60%}
";
        let mut l = load_scenario_str("s.yaml", text);
        assert!(l.is_valid(), "{}", lines(&l));
        let t = apply_changes(&mut l, &twin());
        assert_eq!(t.services["db"].replicas, Some(2));
        check(&mut l, &t);
        assert!(l.is_valid(), "{}", lines(&l));
        let s = &l.scenario;
        assert_eq!(s.events.len(), 8);
        let d = s.events[7].deploy.as_ref().unwrap();
        let r = d.rolling.as_ref().unwrap();
        assert_eq!(
            (
                r.max_surge.resolve(3, true),
                r.max_unavailable.resolve(3, false)
            ),
            (1, 0)
        );
        assert_eq!(
            s.autoscaling["front"].sync_period,
            Duration::from_millis(15_000)
        );
        assert_eq!(l.display_name(), "everything");
    }

    #[test]
    fn problems_are_positioned_and_worded() {
        let text = "\
duration: ten minutes
events:
  - {at: 1m, kil: {zone: a}}
  - {at: 1m, kill: {zone: a, host: h1}}
  - {at: 1m, kill: {instance: front/front-9}}
load:
  - {workload: user, step: {at: 1m, factor: 2, rate: 5/s}}
autoscaling:
  frnt: {max: 3, target_utilization: 50%}
";
        let mut l = load_scenario_str("s.yaml", text);
        expect_test::expect![[r#"
            s.yaml:1:11: duration: invalid duration `ten minutes`: expected a number and a unit: ns, us, ms, s, m or h (e.g. `250ms`)
            s.yaml:3:14: events[0].kil: unknown field `kil` (did you mean `kill`?)
        "#]]
        .assert_eq(&lines(&l));
        let mut fixed = text.replace("ten minutes", "10m").replace("kil:", "kill:");
        fixed.push('\n');
        l = load_scenario_str("s.yaml", &fixed);
        let t = twin();
        check(&mut l, &t);
        expect_test::expect![[r#"
            s.yaml:4:20: events[1].kill: give exactly one of `instance`, `service`, `host`, `zone`
            s.yaml:5:31: events[2].kill.instance: service `front` has no instance `front-9` (did you mean `front-0`?)
            s.yaml:7:16: load[0].workload: unknown workload `user` (did you mean `users`?)
            s.yaml:7:28: load[0].step: give exactly one of `rate` and `factor`
            s.yaml:9:9: autoscaling.frnt: unknown service `frnt` (did you mean `front`?)
        "#]]
        .assert_eq(&lines(&l));
    }

    #[test]
    fn changes_are_validated_against_the_twin() {
        let mut l = load_scenario_str(
            "s.yaml",
            "changes:\n  services:\n    front:\n      replicas: -1\n",
        );
        let _ = apply_changes(&mut l, &twin());
        assert_eq!(
            lines(&l),
            "s.yaml:4:17: changes.services.front.replicas: must be at least 0, found -1\n"
        );
        let mut l = load_scenario_str(
            "s.yaml",
            "changes:\n  services:\n    front:\n      endpoints: {put: {service_time: {dist: constant, value: 1ms}, calls: [{service: nope}]}}\n",
        );
        let _ = apply_changes(&mut l, &twin());
        // The error inside the patch points into it; its consequence elsewhere in the twin
        // (the flow step now ambiguous) points at `changes`.
        let text = lines(&l);
        assert!(
            text.contains("s.yaml:4:87: changes.services.front.endpoints.put.calls[0].service: unknown service `nope`"),
            "{text}"
        );
        assert!(
            text.contains("s.yaml:2:3: changes: service `front` has 2 endpoints"),
            "{text}"
        );
    }

    #[test]
    fn csv_series_parse_with_positions() {
        let ok = parse_csv(
            "r.csv",
            "timestamp,rate\n0,100\n60,250.5\n# comment\n120,0\n",
        )
        .unwrap();
        assert_eq!(ok, vec![(0.0, 100.0), (60.0, 250.5), (120.0, 0.0)]);
        let iso = parse_csv(
            "r.csv",
            "2024-11-29T23:59:00Z,10\n2024-11-30T00:01:30Z,20\n2024-11-30T01:02:30+01:00,30\n",
        )
        .unwrap();
        // Across midnight (and a month end): 150 s; 01:02:30+01:00 is 00:02:30Z: 210 s.
        assert_eq!(iso, vec![(0.0, 10.0), (150.0, 20.0), (210.0, 30.0)]);
        let bad = parse_csv("r.csv", "0,1\n10,x\n20,2\n15,3\n").unwrap_err();
        let text: Vec<String> = bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "r.csv:2:4: (document): invalid rate `x`: expected requests per second, e.g. `250`",
                "r.csv:4:1: (document): timestamp `15` does not come after the previous row",
            ]
        );
        // Unix time of a known instant: 2000-03-01T00:00:00Z = 951868800.
        assert_eq!(rfc3339_seconds("2000-03-01T00:00:00Z"), Some(951_868_800.0));
    }

    #[test]
    fn csv_files_are_read_relative_to_the_scenario() {
        let l = load_scenario(FsPath::new("dir/s.yaml"), |p| match p.to_str().unwrap() {
            "dir/s.yaml" => Ok(b"load: [{csv: {file: r.csv}}]".to_vec()),
            "dir/r.csv" => Ok(b"0,5\n10,7\n".to_vec()),
            _ => Err(std::io::Error::other("nope")),
        });
        assert!(l.is_valid(), "{}", lines(&l));
        assert_eq!(l.csv["r.csv"], vec![(0.0, 5.0), (10.0, 7.0)]);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // The RFC's own example (section 3).
        let mut t = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &serde_json::json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, serde_json::json!({"a": "z", "c": {"d": "e"}}));
    }
}

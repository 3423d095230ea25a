//! What happens to a [`SimNet`](crate::SimNet) during a run, in the engine's terms (indices and
//! seconds): timed fault actions, network rules, health-check delays, managed services whose
//! pods the engine creates and removes (autoscalers, deployments), version profiles, the SLOs
//! to judge and the timeline bucket width. [`crate::scenario`] builds one from a twin and a
//! scenario file; an empty plan (`Plan::default()`) is a plain run.

use crate::net::{EndpointId, HostId, InstanceId, ServiceId, WorkloadId, ZoneId};

/// Seconds a lost attempt of a call without a timeout waits before it fails (a typical
/// client-side connect/read timeout).
pub const LOST_GIVE_UP: f64 = 30.0;

/// Default health-check detection delay, seconds.
pub const DEFAULT_DETECTION: f64 = 10.0;

/// Everything dynamic about a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Width of a timeline bucket in seconds; 0 records no timeline.
    pub bucket: f64,
    /// Timed actions, in any order.
    pub actions: Vec<Action>,
    /// Network rules, switched on and off by actions.
    pub net_rules: Vec<NetRule>,
    /// Per service: seconds from an instance's death to its ejection from load balancing.
    /// Empty means [`DEFAULT_DETECTION`] everywhere.
    pub detection: Vec<f64>,
    /// Services whose pods the engine manages (autoscaled or deployed).
    pub managed: Vec<Managed>,
    /// Autoscalers (each on a managed service).
    pub autoscalers: Vec<Autoscaler>,
    /// Rollouts started by [`ActionKind::Deploy`].
    pub deployments: Vec<Deployment>,
    /// Version profiles; index 0 is the twin as written and need not be listed.
    pub versions: Vec<Version>,
    /// Instances that start absent (spare pod slots of managed services).
    pub absent: Vec<InstanceId>,
    /// Per instance: the CPU it requests from its host (node capacity); empty means none.
    pub cpu_request: Vec<f64>,
    /// Hosts whose capacity can change (pods placed at run time, cores lost): run them with
    /// processor sharing.
    pub dynamic_hosts: Vec<HostId>,
    /// Objectives to judge.
    pub slos: Vec<SloSpec>,
}

/// A timed action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Simulated time, seconds.
    pub at: f64,
    /// What happens.
    pub kind: ActionKind,
    /// Label for the report's charts.
    pub label: String,
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Kill instances, hosts (with every instance on them at that time) and zones.
    Kill {
        /// Instances whose process dies (callers get a connection error).
        instances: Vec<InstanceId>,
        /// Hosts that vanish (attempts are never answered).
        hosts: Vec<HostId>,
        /// Host-less instances in a killed zone (they vanish like hosts).
        vanish: Vec<InstanceId>,
    },
    /// Bring back what the kill action at this index killed.
    Restart {
        /// Index of the kill in [`Plan::actions`].
        kill: u32,
    },
    /// Switch a network rule on or off.
    Net {
        /// Index in [`Plan::net_rules`].
        rule: u32,
        /// On or off.
        on: bool,
    },
    /// Service times of these instances are multiplied by `factor` (1 restores).
    Slow {
        /// The instances.
        instances: Vec<InstanceId>,
        /// The multiplier.
        factor: f64,
    },
    /// These endpoints fail a share `rate` of their visits (0 restores).
    Errors {
        /// The endpoints.
        endpoints: Vec<EndpointId>,
        /// Share of visits failing.
        rate: f64,
    },
    /// A host's cores become `cores`.
    Cores {
        /// The host.
        host: HostId,
        /// Its new number of cores.
        cores: f64,
    },
    /// Start the rollout at this index of [`Plan::deployments`].
    Deploy(u32),
}

/// One side of a network rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Every instance in the zone.
    Zone(ZoneId),
    /// Every instance of the service.
    Service(ServiceId),
}

/// Added latency and loss between two sides, both ways.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetRule {
    /// One side.
    pub a: Side,
    /// The other side.
    pub b: Side,
    /// One-way seconds added to the request and to its response.
    pub latency: f64,
    /// Probability that an attempt is lost (1 = partition).
    pub loss: f64,
}

/// A service whose pods the engine creates and removes.
#[derive(Debug, Clone, PartialEq)]
pub struct Managed {
    /// The service.
    pub service: ServiceId,
    /// Replicas wanted at the start (the twin's).
    pub desired: u32,
    /// Hosts its new pods may be placed on; empty means pods need no host.
    pub candidates: Vec<HostId>,
    /// Zones host-less pods are spread over.
    pub zones: Vec<ZoneId>,
    /// Seconds from creating a pod of the current version to its readiness.
    pub startup: f64,
}

/// A horizontal pod autoscaler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Autoscaler {
    /// The service.
    pub service: ServiceId,
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Target busy-worker utilization, 0..1.
    pub target: f64,
    /// Seconds between evaluations.
    pub sync_period: f64,
    /// Ratios within this of 1 cause no change.
    pub tolerance: f64,
    /// Scale-up stabilization window, seconds.
    pub up_window: f64,
    /// Scale-down stabilization window, seconds.
    pub down_window: f64,
}

/// A version's behaviour relative to the twin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Version {
    /// Multiplier of the time a visit holds its worker.
    pub latency: f64,
    /// Multiplier of the CPU work (≤ `latency`; the rest of the time is waiting).
    pub cpu: f64,
    /// Share of visits failing.
    pub error_rate: f64,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            latency: 1.0,
            cpu: 1.0,
            error_rate: 0.0,
        }
    }
}

/// A rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The managed service.
    pub service: ServiceId,
    /// Index in [`Plan::versions`] of the new version.
    pub version: u32,
    /// Seconds from creating a new pod to its readiness (start-up plus readiness delay).
    pub startup: f64,
    /// How.
    pub strategy: Strategy,
}

/// How a rollout replaces pods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Kubernetes rolling update.
    Rolling {
        /// Pods allowed above the desired count.
        max_surge: u32,
        /// Pods allowed to be unavailable below it.
        max_unavailable: u32,
    },
    /// Canary with automated analysis.
    Canary {
        /// Share of traffic sent to the canary pods.
        weight: f64,
        /// Canary pods.
        replicas: u32,
        /// Seconds of data collected after the canary is ready.
        after: f64,
        /// Significance level of the one-sided Mann-Whitney U tests.
        alpha: f64,
        /// Relative median latency increase tolerated.
        latency_tolerance: f64,
        /// Absolute error-rate increase tolerated.
        error_tolerance: f64,
    },
    /// Blue/green switch.
    BlueGreen {
        /// Seconds the old pods are kept (without traffic) after the switch.
        keep_old_for: f64,
    },
}

/// What an SLO judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloTarget {
    /// A workload's end-to-end requests.
    Workload(WorkloadId),
    /// The visits of a service, or of one of its endpoints.
    Service(ServiceId, Option<EndpointId>),
}

/// The objective of an SLO.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// The percentile (0..100) of successful latencies stays at or below `threshold` seconds.
    Latency {
        /// E.g. 99.
        percentile: f64,
        /// Seconds.
        threshold: f64,
    },
    /// The share of requests that succeed is at least this (0..1).
    Availability(f64),
}

/// A service level objective to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// Its name.
    pub name: String,
    /// Its target, as an id (`workload:checkout`).
    pub target_name: String,
    /// What it judges.
    pub target: SloTarget,
    /// The objective.
    pub objective: Objective,
}

//! The records the store keeps, shared by both backends and serialized as-is by the HTTP API.

use serde::{Deserialize, Serialize};

/// A twin version to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTwinVersion {
    /// The twin document (the model's JSON form).
    pub twin: serde_json::Value,
    /// Who made it (a user name, or `doppel` for recalibration).
    pub author: String,
    /// Why (an import, a roll back, a recalibration and its numbers).
    pub reason: String,
    /// When, Unix milliseconds.
    pub created_ms: i64,
}

/// A stored twin version without its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwinVersionMeta {
    /// 1, 2, ... in the order recorded.
    pub version: i64,
    /// The version it was made from (the latest at the time), none for the first.
    pub parent: Option<i64>,
    /// Who made it.
    pub author: String,
    /// Why.
    pub reason: String,
    /// When, Unix milliseconds.
    pub created_ms: i64,
}

/// A stored twin version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwinVersion {
    /// Its metadata.
    #[serde(flatten)]
    pub meta: TwinVersionMeta,
    /// The twin document.
    pub twin: serde_json::Value,
}

/// State of a scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Submitted, not started.
    Queued,
    /// Being computed.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A scenario run to submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// What kind of run (`simulate`, `estimate`).
    pub kind: String,
    /// The twin version it runs on.
    pub twin_version: i64,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Who submitted it.
    pub submitted_by: String,
    /// When, Unix milliseconds.
    pub created_ms: i64,
}

/// A stored scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: i64,
    /// What kind of run.
    pub kind: String,
    /// The twin version it runs on.
    pub twin_version: i64,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Who submitted it.
    pub submitted_by: String,
    /// Its state.
    pub status: RunStatus,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    /// The result, once succeeded.
    pub result: Option<serde_json::Value>,
    /// The error, once failed.
    pub error: Option<String>,
    /// Submitted, Unix milliseconds.
    pub created_ms: i64,
    /// Last changed, Unix milliseconds.
    pub updated_ms: i64,
}

/// A change to a run; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunUpdate {
    /// New state.
    pub status: Option<RunStatus>,
    /// New progress.
    pub progress: Option<f64>,
    /// The result.
    pub result: Option<serde_json::Value>,
    /// The error.
    pub error: Option<String>,
    /// When, Unix milliseconds.
    pub now_ms: i64,
}

/// Aggregated samples of one metric of one entity over one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Entity id, e.g. `service:cart`.
    pub entity: String,
    /// Metric name, e.g. `rps`, `latency_ms`, `utilization`.
    pub metric: String,
    /// Bucket width, seconds.
    pub resolution_s: i64,
    /// Bucket start, Unix milliseconds (a multiple of the width).
    pub bucket_ms: i64,
    /// Samples aggregated.
    pub count: i64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl MetricPoint {
    /// The mean of the samples (0 for none).
    pub fn mean(&self) -> f64 {
        if self.count > 0 {
            self.sum / self.count as f64
        } else {
            0.0
        }
    }
}

/// Which metric points to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricQuery {
    /// Only this entity.
    pub entity: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// Bucket width, seconds.
    pub resolution_s: i64,
    /// First bucket, Unix milliseconds, inclusive.
    pub from_ms: i64,
    /// Last bucket, Unix milliseconds, exclusive.
    pub to_ms: i64,
    /// At most this many points.
    pub limit: u32,
}

/// Prediction error of one service at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Service name.
    pub service: String,
    /// The twin version that predicted.
    pub twin_version: i64,
    /// Window the observations cover, seconds.
    pub window_s: i64,
    /// Observed request rate, per second.
    pub observed_rps: f64,
    /// Predicted utilization at the observed rate.
    pub predicted_utilization: f64,
    /// Observed utilization.
    pub observed_utilization: f64,
    /// Predicted mean latency, milliseconds.
    pub predicted_latency_ms: f64,
    /// Observed mean latency, milliseconds.
    pub observed_latency_ms: f64,
    /// Mean absolute percentage error over the window, percent.
    pub mape: f64,
}

/// Access roles, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything except tokens and the audit log.
    Viewer,
    /// Also imports twins, ingests telemetry and runs scenarios.
    Operator,
    /// Also manages users and tokens and reads the audit log.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "operator" => Role::Operator,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Created, Unix milliseconds.
    pub created_ms: i64,
}

/// A token's record (its hash stays inside the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: i64,
    /// Whose it is.
    pub user: String,
    /// The user's role.
    pub role: Role,
    /// A label (what it is for).
    pub label: String,
    /// Created, Unix milliseconds.
    pub created_ms: i64,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who (a user name, `anonymous`, or `doppel` for the twin itself).
    pub actor: String,
    /// What (e.g. `POST /api/twin`).
    pub action: String,
    /// The HTTP status or 0 for internal actions.
    pub status: i32,
    /// More detail (e.g. the new version number, or the error).
    pub detail: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id, increasing.
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: NewAudit,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only at or after this time.
    pub since_ms: Option<i64>,
    /// At most this many (newest first).
    pub limit: u32,
}

//! Doppel's storage: everything the live twin keeps between restarts, behind one trait.
//!
//! [`Store`] is the interface: twin versions (history, diff, roll back), scenario runs (jobs),
//! downsampled metric history, drift history, users and hashed tokens, and the audit log.
//! Two backends implement it and pass the same conformance suite (`tests/conformance.rs`):
//! [`sqlite::SqliteStore`], embedded and the default, and [`postgres::PgStore`] for teams.
//! [`open`] picks one from a location (`postgres://...` or a file path).
//!
//! Times are Unix milliseconds (`i64`) passed in by the caller, so the store never reads the
//! clock and tests are deterministic.

pub mod diff;
pub mod postgres;
pub mod sqlite;
mod types;

use std::sync::Arc;

pub use diff::{Change, diff};
pub use types::*;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite backend failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL backend failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Stored JSON could not be read back or a value could not be encoded.
    #[error("stored data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with what is stored (e.g. a duplicate name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed (e.g. an unknown role or a bad location).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A background task running the query died.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The storage interface of the live twin. Every method is one transaction.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name (`sqlite`, `postgres`), for logs and `/metrics`.
    fn backend(&self) -> &'static str;

    // ---- twin versions ------------------------------------------------------------------
    /// Records a new twin version (numbered 1, 2, ... in order) whose parent is the latest one.
    async fn put_twin(&self, new: NewTwinVersion) -> Result<TwinVersionMeta>;
    /// One version, or the latest when `version` is `None`; `None` when there is none.
    async fn twin(&self, version: Option<i64>) -> Result<Option<TwinVersion>>;
    /// Version metadata, newest first, at most `limit`.
    async fn twin_history(&self, limit: u32) -> Result<Vec<TwinVersionMeta>>;

    // ---- scenario runs (jobs) -------------------------------------------------------------
    /// Submits a run in state `queued` with progress 0.
    async fn create_run(&self, new: NewRun) -> Result<Run>;
    /// Updates a run's state, progress, result or error; fails with `NotFound` for no such
    /// run. A run already in a final state (succeeded, failed, cancelled) is left unchanged
    /// and returned as it is.
    async fn update_run(&self, id: i64, update: RunUpdate) -> Result<Run>;
    /// One run.
    async fn run(&self, id: i64) -> Result<Option<Run>>;
    /// Runs, newest first, at most `limit`.
    async fn runs(&self, limit: u32) -> Result<Vec<Run>>;

    // ---- metric history -------------------------------------------------------------------
    /// Adds points; a point for an existing (entity, metric, resolution, bucket) merges into it
    /// (counts and sums add, min and max widen).
    async fn put_metrics(&self, points: &[MetricPoint]) -> Result<()>;
    /// Points of one resolution, optionally one entity and metric, `from_ms <= bucket < to_ms`,
    /// ordered by entity, metric, bucket.
    async fn metrics(&self, q: &MetricQuery) -> Result<Vec<MetricPoint>>;
    /// Rolls points of resolution `from_s` with buckets before `before_ms` up into resolution
    /// `to_s` (merged as in [`Store::put_metrics`]) and deletes them. Returns how many source
    /// points were rolled up.
    async fn downsample(&self, from_s: i64, to_s: i64, before_ms: i64) -> Result<u64>;

    /// Adds points as [`Store::put_metrics`] does and sets setting `key` to `value` in the same
    /// transaction (how the ingest pipeline records which write-ahead log segments are in).
    async fn put_metrics_checkpoint(
        &self,
        points: &[MetricPoint],
        key: &str,
        value: &str,
    ) -> Result<()>;
    /// A setting's value.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets a setting.
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;

    // ---- drift ----------------------------------------------------------------------------
    /// Appends drift records.
    async fn put_drift(&self, records: &[DriftRecord]) -> Result<()>;
    /// Drift records at or after `since_ms`, optionally of one service, oldest first, at most
    /// `limit` (the newest ones when there are more).
    async fn drift(
        &self,
        service: Option<&str>,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<DriftRecord>>;

    // ---- users and tokens -----------------------------------------------------------------
    /// Creates a user; `Conflict` when the name is taken.
    async fn create_user(&self, name: &str, role: Role, now_ms: i64) -> Result<User>;
    /// All users, by name.
    async fn users(&self) -> Result<Vec<User>>;
    /// Stores a token's hash for a user (never the token). `NotFound` for no such user.
    async fn create_token(
        &self,
        user: &str,
        label: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<TokenInfo>;
    /// The live (not revoked) token with this hash, with its user's role.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>>;
    /// All tokens, revoked ones included, by id.
    async fn tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Revokes a token; false when there is no such live token.
    async fn revoke_token(&self, id: i64) -> Result<bool>;

    // ---- audit log ------------------------------------------------------------------------
    /// Appends an entry and returns its id.
    async fn audit(&self, entry: &NewAudit) -> Result<i64>;
    /// Entries matching the query, newest first.
    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL, or a SQLite file
/// path (created with its schema when missing).
pub async fn open(location: &str) -> Result<Arc<dyn Store>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(location, None).await?))
    } else {
        Ok(Arc::new(sqlite::SqliteStore::open(location)?))
    }
}

/// Records a new version whose content is that of version `to` (a roll back), with the reason
/// `roll back to version N: <why>`.
pub async fn rollback(
    store: &dyn Store,
    to: i64,
    author: &str,
    why: &str,
    now_ms: i64,
) -> Result<TwinVersionMeta> {
    let old = store
        .twin(Some(to))
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("twin version {to}")))?;
    let reason = if why.is_empty() {
        format!("roll back to version {to}")
    } else {
        format!("roll back to version {to}: {why}")
    };
    store
        .put_twin(NewTwinVersion {
            twin: old.twin,
            author: author.to_string(),
            reason,
            created_ms: now_ms,
        })
        .await
}

/// The SHA-256 of a token, as lowercase hex: what the store keeps instead of the token.
///
/// Tokens are 256-bit random strings, so a fast hash is enough: there is nothing to guess
/// (unlike passwords, which would need a slow, salted hash).
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

//! The team backend: PostgreSQL through tokio-postgres, with a small fixed pool of connections.
//!
//! Each connection is behind an async mutex (a transaction needs the connection to itself);
//! operations take the connections in turn. With `schema` set, everything lives in that schema
//! (created if missing), which is how the tests get a fresh database each.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Row};

use crate::sqlite::{RawRunParts, check_downsample, run_of, token_info};
use crate::{
    AuditEntry, AuditQuery, DriftRecord, MetricPoint, MetricQuery, NewAudit, NewRun,
    NewTwinVersion, Result, Role, Run, RunStatus, RunUpdate, Store, StoreError, TokenInfo,
    TwinVersion, TwinVersionMeta, User,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS twin_versions (
    version BIGINT PRIMARY KEY, parent BIGINT, author TEXT NOT NULL, reason TEXT NOT NULL,
    created_ms BIGINT NOT NULL, twin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, twin_version BIGINT NOT NULL,
    params TEXT NOT NULL, submitted_by TEXT NOT NULL, status TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL, result TEXT, error TEXT, created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS metric_points (
    entity TEXT NOT NULL, metric TEXT NOT NULL, resolution_s BIGINT NOT NULL,
    bucket_ms BIGINT NOT NULL, n BIGINT NOT NULL, vsum DOUBLE PRECISION NOT NULL,
    vmin DOUBLE PRECISION NOT NULL, vmax DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (resolution_s, entity, metric, bucket_ms));
CREATE TABLE IF NOT EXISTS drift (
    id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, service TEXT NOT NULL,
    twin_version BIGINT NOT NULL, window_s BIGINT NOT NULL,
    observed_rps DOUBLE PRECISION NOT NULL, predicted_utilization DOUBLE PRECISION NOT NULL,
    observed_utilization DOUBLE PRECISION NOT NULL,
    predicted_latency_ms DOUBLE PRECISION NOT NULL,
    observed_latency_ms DOUBLE PRECISION NOT NULL, mape DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS drift_at ON drift (at_ms);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id BIGSERIAL PRIMARY KEY, user_name TEXT NOT NULL REFERENCES users (name),
    label TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_ms BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at_ms);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// Connections in the pool.
const POOL: usize = 4;

/// The PostgreSQL store.
pub struct PgStore {
    conns: Vec<Mutex<Client>>,
    next: AtomicUsize,
    schema: Option<String>,
}

fn valid_schema_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PgStore {
    /// Connects to `url` and creates the schema's tables if missing. With `schema`, the tables
    /// live in that PostgreSQL schema (lowercase letters, digits and `_`), created if missing.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        if let Some(s) = schema
            && !valid_schema_name(s)
        {
            return Err(StoreError::Invalid(format!("schema name `{s}`")));
        }
        let mut conns = Vec::with_capacity(POOL);
        for i in 0..POOL {
            let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            if let Some(s) = schema {
                if i == 0 {
                    client
                        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                        .await?;
                }
                client
                    .batch_execute(&format!("SET search_path TO {s}"))
                    .await?;
            }
            if i == 0 {
                // Concurrent first starts would race on CREATE TABLE; serialize them.
                client
                    .batch_execute(&format!(
                        "BEGIN; SELECT pg_advisory_xact_lock(7700); {SCHEMA} COMMIT;"
                    ))
                    .await?;
            }
            conns.push(Mutex::new(client));
        }
        Ok(PgStore {
            conns,
            next: AtomicUsize::new(0),
            schema: schema.map(str::to_string),
        })
    }

    /// Drops this store's schema and everything in it (only for stores opened with a schema;
    /// the tests' clean-up).
    pub async fn drop_schema(&self) -> Result<()> {
        if let Some(s) = &self.schema {
            let c = self.conn().await;
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .await?;
        }
        Ok(())
    }

    async fn conn(&self) -> tokio::sync::MutexGuard<'_, Client> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].lock().await
    }
}

fn meta_of(r: &Row) -> TwinVersionMeta {
    TwinVersionMeta {
        version: r.get(0),
        parent: r.get(1),
        author: r.get(2),
        reason: r.get(3),
        created_ms: r.get(4),
    }
}

const RUN_COLS: &str = "id, kind, twin_version, params, submitted_by, status, progress, result, \
                        error, created_ms, updated_ms";

fn run_row(r: &Row) -> Result<Run> {
    run_of(RawRunParts {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        twin_version: r.try_get(2)?,
        params: r.try_get(3)?,
        submitted_by: r.try_get(4)?,
        status: r.try_get(5)?,
        progress: r.try_get(6)?,
        result: r.try_get(7)?,
        error: r.try_get(8)?,
        created_ms: r.try_get(9)?,
        updated_ms: r.try_get(10)?,
    })
}

const TOKEN_COLS: &str = "t.id, t.user_name, u.role, t.label, t.created_ms, t.revoked FROM tokens t JOIN users u \
     ON u.name = t.user_name";

fn token_row(r: &Row) -> Result<TokenInfo> {
    token_info((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    ))
}

const MERGE: &str = "ON CONFLICT (resolution_s, entity, metric, bucket_ms) DO UPDATE SET \
     n = metric_points.n + excluded.n, vsum = metric_points.vsum + excluded.vsum, \
     vmin = LEAST(metric_points.vmin, excluded.vmin), \
     vmax = GREATEST(metric_points.vmax, excluded.vmax)";

const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

async fn insert_points(tx: &tokio_postgres::Transaction<'_>, points: &[MetricPoint]) -> Result<()> {
    if points.is_empty() {
        return Ok(());
    }
    // One statement for the whole batch: arrays unnested into rows. Duplicate keys inside
    // a batch would make ON CONFLICT fail, so they are merged first.
    let mut merged: std::collections::BTreeMap<(i64, &str, &str, i64), MetricPoint> =
        std::collections::BTreeMap::new();
    for p in points {
        merged
            .entry((p.resolution_s, &p.entity, &p.metric, p.bucket_ms))
            .and_modify(|m| {
                m.count += p.count;
                m.sum += p.sum;
                m.min = m.min.min(p.min);
                m.max = m.max.max(p.max);
            })
            .or_insert_with(|| p.clone());
    }
    let ps: Vec<&MetricPoint> = merged.values().collect();
    let entity: Vec<&str> = ps.iter().map(|p| p.entity.as_str()).collect();
    let metric: Vec<&str> = ps.iter().map(|p| p.metric.as_str()).collect();
    let res: Vec<i64> = ps.iter().map(|p| p.resolution_s).collect();
    let bucket: Vec<i64> = ps.iter().map(|p| p.bucket_ms).collect();
    let n: Vec<i64> = ps.iter().map(|p| p.count).collect();
    let sum: Vec<f64> = ps.iter().map(|p| p.sum).collect();
    let min: Vec<f64> = ps.iter().map(|p| p.min).collect();
    let max: Vec<f64> = ps.iter().map(|p| p.max).collect();
    tx.execute(
        &format!(
            "INSERT INTO metric_points (entity, metric, resolution_s, bucket_ms, n, vsum, \
             vmin, vmax) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], \
             $4::BIGINT[], $5::BIGINT[], $6::DOUBLE PRECISION[], $7::DOUBLE PRECISION[], \
             $8::DOUBLE PRECISION[]) {MERGE}"
        ),
        &[&entity, &metric, &res, &bucket, &n, &sum, &min, &max],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn put_twin(&self, new: NewTwinVersion) -> Result<TwinVersionMeta> {
        let text = serde_json::to_string(&new.twin)?;
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        tx.batch_execute("LOCK TABLE twin_versions IN EXCLUSIVE MODE")
            .await?;
        let parent: Option<i64> = tx
            .query_one("SELECT MAX(version) FROM twin_versions", &[])
            .await?
            .get(0);
        let version = parent.unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO twin_versions (version, parent, author, reason, created_ms, twin) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &version,
                &parent,
                &new.author,
                &new.reason,
                &new.created_ms,
                &text,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(TwinVersionMeta {
            version,
            parent,
            author: new.author,
            reason: new.reason,
            created_ms: new.created_ms,
        })
    }

    async fn twin(&self, version: Option<i64>) -> Result<Option<TwinVersion>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                "SELECT version, parent, author, reason, created_ms, twin FROM twin_versions \
                 WHERE version = COALESCE($1::BIGINT, (SELECT MAX(version) FROM twin_versions))",
                &[&version],
            )
            .await?;
        row.map(|r| {
            let text: String = r.try_get(5)?;
            Ok(TwinVersion {
                meta: meta_of(&r),
                twin: serde_json::from_str(&text)?,
            })
        })
        .transpose()
    }

    async fn twin_history(&self, limit: u32) -> Result<Vec<TwinVersionMeta>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT version, parent, author, reason, created_ms FROM twin_versions \
                 ORDER BY version DESC LIMIT $1",
                &[&i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().map(meta_of).collect())
    }

    async fn create_run(&self, new: NewRun) -> Result<Run> {
        let params_text = serde_json::to_string(&new.params)?;
        let c = self.conn().await;
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO runs (kind, twin_version, params, submitted_by, status, \
                     progress, created_ms, updated_ms) VALUES ($1, $2, $3, $4, 'queued', 0, $5, \
                     $5) RETURNING {RUN_COLS}"
                ),
                &[
                    &new.kind,
                    &new.twin_version,
                    &params_text,
                    &new.submitted_by,
                    &new.created_ms,
                ],
            )
            .await?;
        run_row(&row)
    }

    async fn update_run(&self, id: i64, u: RunUpdate) -> Result<Run> {
        let result = u.result.as_ref().map(serde_json::to_string).transpose()?;
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                &format!("SELECT {RUN_COLS} FROM runs WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
        let run = run_row(&row)?;
        if run.status.is_final() {
            return Ok(run);
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE runs SET status = COALESCE($2::TEXT, status), \
                     progress = COALESCE($3::DOUBLE PRECISION, progress), \
                     result = COALESCE($4::TEXT, result), error = COALESCE($5::TEXT, error), \
                     updated_ms = $6 WHERE id = $1 RETURNING {RUN_COLS}"
                ),
                &[
                    &id,
                    &u.status.map(RunStatus::as_str),
                    &u.progress,
                    &result,
                    &u.error,
                    &u.now_ms,
                ],
            )
            .await?;
        tx.commit().await?;
        run_row(&row)
    }

    async fn run(&self, id: i64) -> Result<Option<Run>> {
        let c = self.conn().await;
        c.query_opt(
            &format!("SELECT {RUN_COLS} FROM runs WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(run_row)
        .transpose()
    }

    async fn runs(&self, limit: u32) -> Result<Vec<Run>> {
        let c = self.conn().await;
        c.query(
            &format!("SELECT {RUN_COLS} FROM runs ORDER BY id DESC LIMIT $1"),
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(run_row)
        .collect()
    }

    async fn put_metrics(&self, points: &[MetricPoint]) -> Result<()> {
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        insert_points(&tx, points).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_metrics_checkpoint(
        &self,
        points: &[MetricPoint],
        key: &str,
        value: &str,
    ) -> Result<()> {
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        insert_points(&tx, points).await?;
        tx.execute(SET_SETTING, &[&key, &value]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let c = self.conn().await;
        let row = c
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let c = self.conn().await;
        c.execute(SET_SETTING, &[&key, &value]).await?;
        Ok(())
    }

    async fn metrics(&self, q: &MetricQuery) -> Result<Vec<MetricPoint>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT entity, metric, resolution_s, bucket_ms, n, vsum, vmin, vmax \
                 FROM metric_points WHERE resolution_s = $1 \
                 AND ($2::TEXT IS NULL OR entity = $2) AND ($3::TEXT IS NULL OR metric = $3) \
                 AND bucket_ms >= $4 AND bucket_ms < $5 \
                 ORDER BY entity, metric, bucket_ms LIMIT $6",
                &[
                    &q.resolution_s,
                    &q.entity,
                    &q.metric,
                    &q.from_ms,
                    &q.to_ms,
                    &i64::from(q.limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MetricPoint {
                    entity: r.try_get(0)?,
                    metric: r.try_get(1)?,
                    resolution_s: r.try_get(2)?,
                    bucket_ms: r.try_get(3)?,
                    count: r.try_get(4)?,
                    sum: r.try_get(5)?,
                    min: r.try_get(6)?,
                    max: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn downsample(&self, from_s: i64, to_s: i64, before_ms: i64) -> Result<u64> {
        check_downsample(from_s, to_s)?;
        let width = to_s * 1000;
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        tx.execute(
            &format!(
                "INSERT INTO metric_points (entity, metric, resolution_s, bucket_ms, n, vsum, \
                 vmin, vmax) SELECT entity, metric, $2::BIGINT, b, SUM(n)::BIGINT, SUM(vsum), \
                 MIN(vmin), MAX(vmax) FROM (SELECT entity, metric, (bucket_ms / $4) * $4 AS b, \
                 n, vsum, vmin, vmax FROM metric_points WHERE resolution_s = $1 \
                 AND bucket_ms < $3) s GROUP BY entity, metric, b {MERGE}"
            ),
            &[&from_s, &to_s, &before_ms, &width],
        )
        .await?;
        let n = tx
            .execute(
                "DELETE FROM metric_points WHERE resolution_s = $1 AND bucket_ms < $2",
                &[&from_s, &before_ms],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn put_drift(&self, records: &[DriftRecord]) -> Result<()> {
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        let st = tx
            .prepare(
                "INSERT INTO drift (at_ms, service, twin_version, window_s, observed_rps, \
                 predicted_utilization, observed_utilization, predicted_latency_ms, \
                 observed_latency_ms, mape) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        for d in records {
            tx.execute(
                &st,
                &[
                    &d.at_ms,
                    &d.service,
                    &d.twin_version,
                    &d.window_s,
                    &d.observed_rps,
                    &d.predicted_utilization,
                    &d.observed_utilization,
                    &d.predicted_latency_ms,
                    &d.observed_latency_ms,
                    &d.mape,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn drift(
        &self,
        service: Option<&str>,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<DriftRecord>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT at_ms, service, twin_version, window_s, observed_rps, \
                 predicted_utilization, observed_utilization, predicted_latency_ms, \
                 observed_latency_ms, mape FROM (SELECT * FROM drift WHERE at_ms >= $1 \
                 AND ($2::TEXT IS NULL OR service = $2) ORDER BY at_ms DESC, id DESC LIMIT $3) \
                 d ORDER BY at_ms, id",
                &[&since_ms, &service, &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DriftRecord {
                    at_ms: r.try_get(0)?,
                    service: r.try_get(1)?,
                    twin_version: r.try_get(2)?,
                    window_s: r.try_get(3)?,
                    observed_rps: r.try_get(4)?,
                    predicted_utilization: r.try_get(5)?,
                    observed_utilization: r.try_get(6)?,
                    predicted_latency_ms: r.try_get(7)?,
                    observed_latency_ms: r.try_get(8)?,
                    mape: r.try_get(9)?,
                })
            })
            .collect()
    }

    async fn create_user(&self, name: &str, role: Role, now_ms: i64) -> Result<User> {
        let c = self.conn().await;
        let n = c
            .execute(
                "INSERT INTO users (name, role, created_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &role.as_str(), &now_ms],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!("user `{name}` exists")));
        }
        Ok(User {
            name: name.to_string(),
            role,
            created_ms: now_ms,
        })
    }

    async fn users(&self) -> Result<Vec<User>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT name, role, created_ms FROM users ORDER BY name",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get(1)?;
                Ok(User {
                    name: r.try_get(0)?,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Invalid(format!("role `{role}`")))?,
                    created_ms: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn create_token(
        &self,
        user: &str,
        label: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<TokenInfo> {
        let mut c = self.conn().await;
        let tx = c.transaction().await?;
        if tx
            .query_opt("SELECT role FROM users WHERE name = $1", &[&user])
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("user `{user}`")));
        }
        let row = tx
            .query_opt(
                "INSERT INTO tokens (user_name, label, hash, created_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (hash) DO NOTHING RETURNING id",
                &[&user, &label, &hash, &now_ms],
            )
            .await?
            .ok_or_else(|| StoreError::Conflict("token hash exists".into()))?;
        let id: i64 = row.try_get(0)?;
        let t = tx
            .query_one(&format!("SELECT {TOKEN_COLS} WHERE t.id = $1"), &[&id])
            .await?;
        tx.commit().await?;
        token_row(&t)
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>> {
        let c = self.conn().await;
        c.query_opt(
            &format!("SELECT {TOKEN_COLS} WHERE t.hash = $1 AND NOT t.revoked"),
            &[&hash],
        )
        .await?
        .as_ref()
        .map(token_row)
        .transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let c = self.conn().await;
        c.query(&format!("SELECT {TOKEN_COLS} ORDER BY t.id"), &[])
            .await?
            .iter()
            .map(token_row)
            .collect()
    }

    async fn revoke_token(&self, id: i64) -> Result<bool> {
        let c = self.conn().await;
        Ok(c.execute(
            "UPDATE tokens SET revoked = TRUE WHERE id = $1 AND NOT revoked",
            &[&id],
        )
        .await?
            > 0)
    }

    async fn audit(&self, e: &NewAudit) -> Result<i64> {
        let c = self.conn().await;
        let row = c
            .query_one(
                "INSERT INTO audit (at_ms, actor, action, status, detail) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&e.at_ms, &e.actor, &e.action, &e.status, &e.detail],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT id, at_ms, actor, action, status, detail FROM audit \
                 WHERE ($1::TEXT IS NULL OR actor = $1) AND ($2::BIGINT IS NULL OR at_ms >= $2) \
                 ORDER BY id DESC LIMIT $3",
                &[&q.actor, &q.since_ms, &i64::from(q.limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    entry: NewAudit {
                        at_ms: r.try_get(1)?,
                        actor: r.try_get(2)?,
                        action: r.try_get(3)?,
                        status: r.try_get(4)?,
                        detail: r.try_get(5)?,
                    },
                })
            })
            .collect()
    }
}

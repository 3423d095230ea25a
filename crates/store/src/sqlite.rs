//! The embedded backend: one SQLite file (WAL journal), queries run on tokio's blocking pool.
//!
//! One connection behind a mutex: SQLite serializes writers anyway, and Doppel's writes are
//! few and batched (metric points arrive aggregated), so a pool would add nothing.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{
    AuditEntry, AuditQuery, DriftRecord, MetricPoint, MetricQuery, NewAudit, NewRun,
    NewTwinVersion, Result, Role, Run, RunStatus, RunUpdate, Store, StoreError, TokenInfo,
    TwinVersion, TwinVersionMeta, User,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS twin_versions (
    version INTEGER PRIMARY KEY, parent INTEGER, author TEXT NOT NULL, reason TEXT NOT NULL,
    created_ms INTEGER NOT NULL, twin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, twin_version INTEGER NOT NULL,
    params TEXT NOT NULL, submitted_by TEXT NOT NULL, status TEXT NOT NULL,
    progress REAL NOT NULL, result TEXT, error TEXT, created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS metric_points (
    entity TEXT NOT NULL, metric TEXT NOT NULL, resolution_s INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL, n INTEGER NOT NULL, vsum REAL NOT NULL, vmin REAL NOT NULL,
    vmax REAL NOT NULL, PRIMARY KEY (resolution_s, entity, metric, bucket_ms));
CREATE TABLE IF NOT EXISTS drift (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, service TEXT NOT NULL,
    twin_version INTEGER NOT NULL, window_s INTEGER NOT NULL, observed_rps REAL NOT NULL,
    predicted_utilization REAL NOT NULL, observed_utilization REAL,
    predicted_latency_ms REAL NOT NULL, observed_latency_ms REAL, mape REAL NOT NULL);
CREATE INDEX IF NOT EXISTS drift_at ON drift (at_ms);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT NOT NULL REFERENCES users (name),
    label TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at_ms);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A private in-memory database (for tests and throwaway demos).
    pub fn in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Task("the SQLite connection lock is poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn parse_json(s: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(s)?)
}

fn meta_of(r: &Row<'_>) -> rusqlite::Result<TwinVersionMeta> {
    Ok(TwinVersionMeta {
        version: r.get(0)?,
        parent: r.get(1)?,
        author: r.get(2)?,
        reason: r.get(3)?,
        created_ms: r.get(4)?,
    })
}

type RawRun = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    f64,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

const RUN_COLS: &str = "id, kind, twin_version, params, submitted_by, status, progress, result, \
                        error, created_ms, updated_ms";

fn raw_run(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

pub(crate) fn run_of(raw: RawRunParts) -> Result<Run> {
    let status = RunStatus::parse(&raw.status)
        .ok_or_else(|| StoreError::Invalid(format!("stored run status `{}`", raw.status)))?;
    Ok(Run {
        id: raw.id,
        kind: raw.kind,
        twin_version: raw.twin_version,
        params: parse_json(&raw.params)?,
        submitted_by: raw.submitted_by,
        status,
        progress: raw.progress,
        result: raw.result.as_deref().map(parse_json).transpose()?,
        error: raw.error,
        created_ms: raw.created_ms,
        updated_ms: raw.updated_ms,
    })
}

/// A run row as both backends read it, before its JSON and status are parsed.
pub(crate) struct RawRunParts {
    pub id: i64,
    pub kind: String,
    pub twin_version: i64,
    pub params: String,
    pub submitted_by: String,
    pub status: String,
    pub progress: f64,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn parts(r: RawRun) -> RawRunParts {
    RawRunParts {
        id: r.0,
        kind: r.1,
        twin_version: r.2,
        params: r.3,
        submitted_by: r.4,
        status: r.5,
        progress: r.6,
        result: r.7,
        error: r.8,
        created_ms: r.9,
        updated_ms: r.10,
    }
}

fn get_run(c: &Connection, id: i64) -> Result<Option<Run>> {
    let raw = c
        .query_row(
            &format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"),
            [id],
            raw_run,
        )
        .optional()?;
    raw.map(|r| run_of(parts(r))).transpose()
}

fn point_of(r: &Row<'_>) -> rusqlite::Result<MetricPoint> {
    Ok(MetricPoint {
        entity: r.get(0)?,
        metric: r.get(1)?,
        resolution_s: r.get(2)?,
        bucket_ms: r.get(3)?,
        count: r.get(4)?,
        sum: r.get(5)?,
        min: r.get(6)?,
        max: r.get(7)?,
    })
}

fn drift_of(r: &Row<'_>) -> rusqlite::Result<DriftRecord> {
    Ok(DriftRecord {
        at_ms: r.get(0)?,
        service: r.get(1)?,
        twin_version: r.get(2)?,
        window_s: r.get(3)?,
        observed_rps: r.get(4)?,
        predicted_utilization: r.get(5)?,
        // Not observed (NaN) is stored as NULL: SQLite has no NaN.
        observed_utilization: r.get::<_, Option<f64>>(6)?.unwrap_or(f64::NAN),
        predicted_latency_ms: r.get(7)?,
        observed_latency_ms: r.get::<_, Option<f64>>(8)?.unwrap_or(f64::NAN),
        mape: r.get(9)?,
    })
}

fn token_of(r: &Row<'_>) -> rusqlite::Result<(i64, String, String, String, i64, bool)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(crate) fn token_info(t: (i64, String, String, String, i64, bool)) -> Result<TokenInfo> {
    let role = Role::parse(&t.2).ok_or_else(|| StoreError::Invalid(format!("role `{}`", t.2)))?;
    Ok(TokenInfo {
        id: t.0,
        user: t.1,
        role,
        label: t.3,
        created_ms: t.4,
        revoked: t.5,
    })
}

const TOKEN_COLS: &str = "t.id, t.user_name, u.role, t.label, t.created_ms, t.revoked FROM tokens t JOIN users u \
     ON u.name = t.user_name";

fn insert_points(tx: &Connection, points: &[MetricPoint]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO metric_points (entity, metric, resolution_s, bucket_ms, n, vsum, vmin, vmax) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (resolution_s, entity, metric, bucket_ms) DO UPDATE SET \
         n = n + excluded.n, vsum = vsum + excluded.vsum, \
         vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax)",
    )?;
    for p in points {
        st.execute(params![
            p.entity,
            p.metric,
            p.resolution_s,
            p.bucket_ms,
            p.count,
            p.sum,
            p.min,
            p.max
        ])?;
    }
    Ok(())
}

fn set(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub(crate) fn check_downsample(from_s: i64, to_s: i64) -> Result<()> {
    if from_s <= 0 || to_s <= from_s || to_s % from_s != 0 {
        return Err(StoreError::Invalid(format!(
            "cannot downsample {from_s}s points to {to_s}s: the target must be a larger multiple"
        )));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn put_twin(&self, new: NewTwinVersion) -> Result<TwinVersionMeta> {
        let text = json_text(&new.twin)?;
        self.with(move |c| {
            let tx = c.transaction()?;
            let parent: Option<i64> =
                tx.query_row("SELECT MAX(version) FROM twin_versions", [], |r| r.get(0))?;
            let version = parent.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO twin_versions (version, parent, author, reason, created_ms, twin) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    version,
                    parent,
                    new.author,
                    new.reason,
                    new.created_ms,
                    text
                ],
            )?;
            tx.commit()?;
            Ok(TwinVersionMeta {
                version,
                parent,
                author: new.author,
                reason: new.reason,
                created_ms: new.created_ms,
            })
        })
        .await
    }

    async fn twin(&self, version: Option<i64>) -> Result<Option<TwinVersion>> {
        self.with(move |c| {
            let row = c
                .query_row(
                    "SELECT version, parent, author, reason, created_ms, twin FROM twin_versions \
                     WHERE version = COALESCE(?1, (SELECT MAX(version) FROM twin_versions))",
                    [version],
                    |r| Ok((meta_of(r)?, r.get::<_, String>(5)?)),
                )
                .optional()?;
            row.map(|(meta, text)| {
                Ok(TwinVersion {
                    meta,
                    twin: parse_json(&text)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn twin_history(&self, limit: u32) -> Result<Vec<TwinVersionMeta>> {
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT version, parent, author, reason, created_ms FROM twin_versions \
                 ORDER BY version DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], meta_of)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn create_run(&self, new: NewRun) -> Result<Run> {
        let params_text = json_text(&new.params)?;
        self.with(move |c| {
            c.execute(
                "INSERT INTO runs (kind, twin_version, params, submitted_by, status, progress, \
                 created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?5)",
                params![
                    new.kind,
                    new.twin_version,
                    params_text,
                    new.submitted_by,
                    new.created_ms
                ],
            )?;
            let id = c.last_insert_rowid();
            get_run(c, id)?.ok_or_else(|| StoreError::NotFound(format!("run {id}")))
        })
        .await
    }

    async fn update_run(&self, id: i64, u: RunUpdate) -> Result<Run> {
        let result = u.result.as_ref().map(json_text).transpose()?;
        self.with(move |c| {
            let tx = c.transaction()?;
            let run = get_run(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
            if run.status.is_final() {
                return Ok(run);
            }
            tx.execute(
                "UPDATE runs SET status = COALESCE(?2, status), \
                 progress = COALESCE(?3, progress), result = COALESCE(?4, result), \
                 error = COALESCE(?5, error), updated_ms = ?6 WHERE id = ?1",
                params![
                    id,
                    u.status.map(RunStatus::as_str),
                    u.progress,
                    result,
                    u.error,
                    u.now_ms
                ],
            )?;
            let run = get_run(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
            tx.commit()?;
            Ok(run)
        })
        .await
    }

    async fn run(&self, id: i64) -> Result<Option<Run>> {
        self.with(move |c| get_run(c, id)).await
    }

    async fn runs(&self, limit: u32) -> Result<Vec<Run>> {
        self.with(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {RUN_COLS} FROM runs ORDER BY id DESC LIMIT ?1"
            ))?;
            let raws = st
                .query_map([limit], raw_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raws.into_iter().map(|r| run_of(parts(r))).collect()
        })
        .await
    }

    async fn put_metrics(&self, points: &[MetricPoint]) -> Result<()> {
        let points = points.to_vec();
        self.with(move |c| {
            let tx = c.transaction()?;
            insert_points(&tx, &points)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn put_metrics_checkpoint(
        &self,
        points: &[MetricPoint],
        key: &str,
        value: &str,
    ) -> Result<()> {
        let points = points.to_vec();
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            insert_points(&tx, &points)?;
            set(&tx, &key, &value)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.with(move |c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |c| set(c, &key, &value)).await
    }

    async fn metrics(&self, q: &MetricQuery) -> Result<Vec<MetricPoint>> {
        let q = q.clone();
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT entity, metric, resolution_s, bucket_ms, n, vsum, vmin, vmax \
                 FROM metric_points WHERE resolution_s = ?1 AND (?2 IS NULL OR entity = ?2) \
                 AND (?3 IS NULL OR metric = ?3) AND bucket_ms >= ?4 AND bucket_ms < ?5 \
                 ORDER BY entity, metric, bucket_ms LIMIT ?6",
            )?;
            let rows = st.query_map(
                params![
                    q.resolution_s,
                    q.entity,
                    q.metric,
                    q.from_ms,
                    q.to_ms,
                    q.limit
                ],
                point_of,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn downsample(&self, from_s: i64, to_s: i64, before_ms: i64) -> Result<u64> {
        check_downsample(from_s, to_s)?;
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO metric_points (entity, metric, resolution_s, bucket_ms, n, vsum, \
                 vmin, vmax) SELECT entity, metric, ?2, b, SUM(n), SUM(vsum), MIN(vmin), \
                 MAX(vmax) FROM (SELECT entity, metric, (bucket_ms / ?4) * ?4 AS b, n, vsum, \
                 vmin, vmax FROM metric_points WHERE resolution_s = ?1 AND bucket_ms < ?3) \
                 WHERE true GROUP BY entity, metric, b \
                 ON CONFLICT (resolution_s, entity, metric, bucket_ms) DO UPDATE SET \
                 n = n + excluded.n, vsum = vsum + excluded.vsum, \
                 vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax)",
                params![from_s, to_s, before_ms, to_s * 1000],
            )?;
            let n = tx.execute(
                "DELETE FROM metric_points WHERE resolution_s = ?1 AND bucket_ms < ?2",
                params![from_s, before_ms],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }

    async fn put_drift(&self, records: &[DriftRecord]) -> Result<()> {
        let records = records.to_vec();
        self.with(move |c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO drift (at_ms, service, twin_version, window_s, observed_rps, \
                     predicted_utilization, observed_utilization, predicted_latency_ms, \
                     observed_latency_ms, mape) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for d in &records {
                    st.execute(params![
                        d.at_ms,
                        d.service,
                        d.twin_version,
                        d.window_s,
                        d.observed_rps,
                        d.predicted_utilization,
                        d.observed_utilization,
                        d.predicted_latency_ms,
                        d.observed_latency_ms,
                        d.mape
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn drift(
        &self,
        service: Option<&str>,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<DriftRecord>> {
        let service = service.map(str::to_string);
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT at_ms, service, twin_version, window_s, observed_rps, \
                 predicted_utilization, observed_utilization, predicted_latency_ms, \
                 observed_latency_ms, mape FROM (SELECT * FROM drift WHERE at_ms >= ?1 \
                 AND (?2 IS NULL OR service = ?2) ORDER BY at_ms DESC, id DESC LIMIT ?3) \
                 ORDER BY at_ms, id",
            )?;
            let rows = st.query_map(params![since_ms, service, limit], drift_of)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn create_user(&self, name: &str, role: Role, now_ms: i64) -> Result<User> {
        let name = name.to_string();
        self.with(move |c| {
            let n = c.execute(
                "INSERT INTO users (name, role, created_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING",
                params![name, role.as_str(), now_ms],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("user `{name}` exists")));
            }
            Ok(User {
                name,
                role,
                created_ms: now_ms,
            })
        })
        .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name, role, created_ms FROM users ORDER BY name")?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(name, role, created_ms)| {
                    Ok(User {
                        role: Role::parse(&role)
                            .ok_or_else(|| StoreError::Invalid(format!("role `{role}`")))?,
                        name,
                        created_ms,
                    })
                })
                .collect()
        })
        .await
    }

    async fn create_token(
        &self,
        user: &str,
        label: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<TokenInfo> {
        let (user, label, hash) = (user.to_string(), label.to_string(), hash.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            let role: Option<String> = tx
                .query_row("SELECT role FROM users WHERE name = ?1", [&user], |r| {
                    r.get(0)
                })
                .optional()?;
            if role.is_none() {
                return Err(StoreError::NotFound(format!("user `{user}`")));
            }
            let n = tx.execute(
                "INSERT INTO tokens (user_name, label, hash, created_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (hash) DO NOTHING",
                params![user, label, hash, now_ms],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict("token hash exists".into()));
            }
            let id = tx.last_insert_rowid();
            let t = tx.query_row(
                &format!("SELECT {TOKEN_COLS} WHERE t.id = ?1"),
                [id],
                token_of,
            )?;
            tx.commit()?;
            token_info(t)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>> {
        let hash = hash.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLS} WHERE t.hash = ?1 AND t.revoked = 0"),
                [hash],
                token_of,
            )
            .optional()?
            .map(token_info)
            .transpose()
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {TOKEN_COLS} ORDER BY t.id"))?;
            let rows = st
                .query_map([], token_of)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(token_info).collect()
        })
        .await
    }

    async fn revoke_token(&self, id: i64) -> Result<bool> {
        self.with(move |c| {
            Ok(c.execute(
                "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0",
                [id],
            )? > 0)
        })
        .await
    }

    async fn audit(&self, e: &NewAudit) -> Result<i64> {
        let e = e.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO audit (at_ms, actor, action, status, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.at_ms, e.actor, e.action, e.status, e.detail],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let q = q.clone();
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT id, at_ms, actor, action, status, detail FROM audit \
                 WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR at_ms >= ?2) \
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![q.actor, q.since_ms, q.limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    entry: NewAudit {
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        status: r.get(4)?,
                        detail: r.get(5)?,
                    },
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

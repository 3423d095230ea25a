//! Sweeps and their results in PostgreSQL (tokio-postgres), so that a restarted coordinator
//! resumes a sweep without rerunning finished tasks. Three tables: bundles by content hash,
//! sweeps by id, and one result per (sweep, task): inserting a result twice keeps the first,
//! so aggregation is idempotent.

use tokio_postgres::{Client, NoTls};

use crate::bundle::Bundle;
use crate::spec::Sweep;
use crate::task::TaskResult;
use crate::{Result, SweepError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS doppel_sweep_bundles (
    hash    TEXT PRIMARY KEY,
    content TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS doppel_sweeps (
    id     TEXT PRIMARY KEY,
    spec   TEXT NOT NULL,
    bundle TEXT NOT NULL REFERENCES doppel_sweep_bundles (hash),
    tasks  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS doppel_sweep_results (
    sweep  TEXT NOT NULL REFERENCES doppel_sweeps (id),
    task   INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (sweep, task)
);
";

/// A connection to the sweep tables.
pub struct PgStore {
    client: Client,
    schema: Option<String>,
}

fn valid_schema_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PgStore {
    /// Connects to `url` (a libpq URL or key=value string) and creates the tables if missing;
    /// with `schema`, in that schema (created if missing). Must run inside a tokio runtime.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        if let Some(s) = schema
            && !valid_schema_name(s)
        {
            return Err(SweepError::Usage(format!(
                "schema name `{s}`: lowercase letters, digits and `_`"
            )));
        }
        let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("postgres connection closed: {e}");
            }
        });
        if let Some(s) = schema {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {s}; SET search_path TO {s}"
                ))
                .await?;
        }
        // Serialise table creation between coordinators starting together.
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(7415001)", &[])
            .await?;
        tx.batch_execute(SCHEMA).await?;
        tx.commit().await?;
        Ok(PgStore {
            client,
            schema: schema.map(str::to_owned),
        })
    }

    /// Records a sweep and its bundle (once; again is a no-op).
    pub async fn save_sweep(&self, sweep: &Sweep, bundle: &Bundle) -> Result<()> {
        let content = String::from_utf8(bundle.to_bytes()).unwrap_or_default();
        let spec = serde_json::to_string(sweep).unwrap_or_default();
        self.client
            .execute(
                "INSERT INTO doppel_sweep_bundles (hash, content) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&sweep.bundle, &content],
            )
            .await?;
        self.client
            .execute(
                "INSERT INTO doppel_sweeps (id, spec, bundle, tasks) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&sweep.id(), &spec, &sweep.bundle, &(sweep.len() as i32)],
            )
            .await?;
        Ok(())
    }

    /// The sweep `id` and its bundle, if recorded.
    pub async fn load_sweep(&self, id: &str) -> Result<Option<(Sweep, Bundle)>> {
        let row = self
            .client
            .query_opt(
                "SELECT s.spec, b.content, b.hash FROM doppel_sweeps s JOIN doppel_sweep_bundles b ON b.hash = s.bundle WHERE s.id = $1",
                &[&id],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let spec: String = row.get(0);
        let content: String = row.get(1);
        let hash: String = row.get(2);
        let sweep: Sweep = serde_json::from_str(&spec).map_err(|e| SweepError::Corrupt {
            what: format!("sweep {id} in the store"),
            message: e.to_string(),
        })?;
        let bundle = Bundle::from_bytes(content.as_bytes(), &hash)?;
        Ok(Some((sweep, bundle)))
    }

    /// Every result stored for sweep `id`, in task order.
    pub async fn results(&self, id: &str) -> Result<Vec<TaskResult>> {
        let rows = self
            .client
            .query(
                "SELECT task, result FROM doppel_sweep_results WHERE sweep = $1 ORDER BY task",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let task: i32 = r.get(0);
                let text: String = r.get(1);
                serde_json::from_str::<TaskResult>(&text).map_err(|e| SweepError::Corrupt {
                    what: format!("result of task {task} of sweep {id}"),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Stores a result; `false` when that task already had one (which is kept).
    pub async fn put_result(&self, id: &str, result: &TaskResult) -> Result<bool> {
        let text = serde_json::to_string(result).unwrap_or_default();
        let n = self
            .client
            .execute(
                "INSERT INTO doppel_sweep_results (sweep, task, result) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&id, &(result.index as i32), &text],
            )
            .await?;
        Ok(n == 1)
    }

    /// Drops the schema this store was opened with, and everything in it (tests).
    pub async fn drop_schema(&self) -> Result<()> {
        if let Some(s) = &self.schema {
            self.client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .await?;
        }
        Ok(())
    }
}

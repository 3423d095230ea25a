//! The store conformance suite: every check runs against SQLite (a fresh temporary file) and
//! against the PostgreSQL server on 127.0.0.1:5432 (a fresh schema per test, dropped after),
//! so both backends are held to the same behaviour.
//!
//! `DOPPEL_TEST_POSTGRES` overrides the server URL (default
//! `host=127.0.0.1 port=5432 user=postgres dbname=test`).

#![allow(clippy::unwrap_used)] // the suite's helpers are test code

use std::sync::atomic::{AtomicU64, Ordering};

use doppel_store::postgres::PgStore;
use doppel_store::sqlite::SqliteStore;
use doppel_store::*;
use serde_json::json;

fn pg_url() -> String {
    std::env::var("DOPPEL_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

/// Drops a test's PostgreSQL schema when the test ends, even when it panics.
struct PgFixture {
    schema: String,
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // The test's runtime may be shutting down; use a thread and a runtime of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

async fn pg() -> (PgFixture, PgStore) {
    let schema = format!(
        "doppel_test_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let fixture = PgFixture {
        schema: schema.clone(),
    };
    let store = PgStore::connect(&pg_url(), Some(&schema))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (see DEVELOPERS.md)");
    (fixture, store)
}

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("doppel.db")).expect("open sqlite");
    (dir, store)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, store) = super::sqlite();
                    super::$name(&store).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_fixture, store) = super::pg().await;
                    super::$name(&store).await;
                }
            )*
        }
    };
}

conformance!(
    twin_versions_history_and_rollback,
    runs_move_through_states_and_stay_final,
    metrics_merge_and_downsample,
    drift_history_keeps_newest_in_time_order,
    users_and_hashed_tokens,
    audit_log_filters_newest_first,
    twin_versions_are_numbered_without_gaps_under_concurrency,
    metrics_and_checkpoint_commit_together,
);

async fn metrics_and_checkpoint_commit_together(s: &dyn Store) {
    assert_eq!(s.setting("wal").await.unwrap(), None);
    s.put_metrics_checkpoint(&[point("service:a", "requests", 10, 0, &[3.0])], "wal", "7")
        .await
        .unwrap();
    assert_eq!(s.setting("wal").await.unwrap().as_deref(), Some("7"));
    s.set_setting("wal", "8").await.unwrap();
    assert_eq!(s.setting("wal").await.unwrap().as_deref(), Some("8"));
    // An empty batch still moves the checkpoint.
    s.put_metrics_checkpoint(&[], "wal", "9").await.unwrap();
    assert_eq!(s.setting("wal").await.unwrap().as_deref(), Some("9"));
    let q = MetricQuery {
        entity: None,
        metric: None,
        resolution_s: 10,
        from_ms: 0,
        to_ms: 10_000,
        limit: 10,
    };
    assert_eq!(s.metrics(&q).await.unwrap()[0].sum, 3.0);
}

async fn twin_versions_history_and_rollback(s: &dyn Store) {
    assert!(s.twin(None).await.unwrap().is_none());
    let v1 = s
        .put_twin(NewTwinVersion {
            twin: json!({"services": {"cart": {"replicas": 2}}}),
            author: "alice".into(),
            reason: "import".into(),
            created_ms: 1000,
        })
        .await
        .unwrap();
    assert_eq!((v1.version, v1.parent), (1, None));
    let v2 = s
        .put_twin(NewTwinVersion {
            twin: json!({"services": {"cart": {"replicas": 3}}}),
            author: "bob".into(),
            reason: "scale cart".into(),
            created_ms: 2000,
        })
        .await
        .unwrap();
    assert_eq!((v2.version, v2.parent), (2, Some(1)));

    let latest = s.twin(None).await.unwrap().unwrap();
    assert_eq!(latest.meta.version, 2);
    assert_eq!(latest.twin["services"]["cart"]["replicas"], 3);
    let first = s.twin(Some(1)).await.unwrap().unwrap();
    assert_eq!(first.twin["services"]["cart"]["replicas"], 2);
    assert_eq!(first.meta.author, "alice");
    assert!(s.twin(Some(9)).await.unwrap().is_none());

    let changes = diff(&first.twin, &latest.twin);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/services/cart/replicas");

    let v3 = rollback(s, 1, "carol", "bad scale", 3000).await.unwrap();
    assert_eq!((v3.version, v3.parent), (3, Some(2)));
    assert_eq!(v3.reason, "roll back to version 1: bad scale");
    let now = s.twin(None).await.unwrap().unwrap();
    assert_eq!(now.twin, first.twin);
    assert!(matches!(
        rollback(s, 42, "carol", "", 0).await,
        Err(StoreError::NotFound(_))
    ));

    let hist = s.twin_history(2).await.unwrap();
    let versions: Vec<i64> = hist.iter().map(|m| m.version).collect();
    assert_eq!(versions, vec![3, 2]);
}

async fn runs_move_through_states_and_stay_final(s: &dyn Store) {
    let r = s
        .create_run(NewRun {
            kind: "simulate".into(),
            twin_version: 1,
            params: json!({"duration": 60}),
            submitted_by: "op".into(),
            created_ms: 10,
        })
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Queued);
    assert_eq!(r.progress, 0.0);
    assert_eq!(r.params["duration"], 60);

    let r = s
        .update_run(
            r.id,
            RunUpdate {
                status: Some(RunStatus::Running),
                progress: Some(0.5),
                now_ms: 20,
                ..RunUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.progress, r.updated_ms),
        (RunStatus::Running, 0.5, 20)
    );

    let done = s
        .update_run(
            r.id,
            RunUpdate {
                status: Some(RunStatus::Succeeded),
                progress: Some(1.0),
                result: Some(json!({"p99_ms": 12.5})),
                now_ms: 30,
                ..RunUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done.result, Some(json!({"p99_ms": 12.5})));
    // A finished run does not change any more (a late cancel is a no-op).
    let after = s
        .update_run(
            r.id,
            RunUpdate {
                status: Some(RunStatus::Cancelled),
                now_ms: 40,
                ..RunUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(after, done);
    assert_eq!(s.run(r.id).await.unwrap(), Some(done.clone()));
    assert!(matches!(
        s.update_run(999, RunUpdate::default()).await,
        Err(StoreError::NotFound(_))
    ));

    let r2 = s
        .create_run(NewRun {
            kind: "estimate".into(),
            twin_version: 1,
            params: json!({}),
            submitted_by: "op".into(),
            created_ms: 50,
        })
        .await
        .unwrap();
    let ids: Vec<i64> = s.runs(10).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![r2.id, r.id]);
}

fn point(entity: &str, metric: &str, res: i64, bucket: i64, values: &[f64]) -> MetricPoint {
    MetricPoint {
        entity: entity.into(),
        metric: metric.into(),
        resolution_s: res,
        bucket_ms: bucket,
        count: values.len() as i64,
        sum: values.iter().sum(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

async fn metrics_merge_and_downsample(s: &dyn Store) {
    // Ten-second buckets over two minutes for two services; one bucket arrives in two parts.
    let mut pts = Vec::new();
    for i in 0..12 {
        pts.push(point("service:cart", "rps", 10, i * 10_000, &[i as f64]));
        pts.push(point("service:web", "rps", 10, i * 10_000, &[100.0]));
    }
    s.put_metrics(&pts).await.unwrap();
    s.put_metrics(&[point("service:cart", "rps", 10, 0, &[5.0, -1.0])])
        .await
        .unwrap();
    let q = MetricQuery {
        entity: Some("service:cart".into()),
        metric: Some("rps".into()),
        resolution_s: 10,
        from_ms: 0,
        to_ms: 30_000,
        limit: 100,
    };
    let got = s.metrics(&q).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        point("service:cart", "rps", 10, 0, &[0.0, 5.0, -1.0])
    );
    assert_eq!(got[2].bucket_ms, 20_000);

    // Roll the first minute up into one-minute buckets.
    let rolled = s.downsample(10, 60, 60_000).await.unwrap();
    assert_eq!(rolled, 12, "6 buckets x 2 services");
    let minute = s
        .metrics(&MetricQuery {
            entity: None,
            metric: None,
            resolution_s: 60,
            from_ms: 0,
            to_ms: 1_000_000,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(minute.len(), 2);
    // cart: samples 0..=5 plus the extra 5 and -1: count 8, sum 15+4, min -1, max 5.
    assert_eq!(
        minute[0],
        point(
            "service:cart",
            "rps",
            60,
            0,
            &[0., 1., 2., 3., 4., 5., 5., -1.]
        )
    );
    assert_eq!(minute[1].count, 6);
    assert_eq!(minute[1].mean(), 100.0);
    // The rolled-up fine points are gone, the later ones stay.
    let fine = s
        .metrics(&MetricQuery {
            resolution_s: 10,
            to_ms: 1_000_000,
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(fine.len(), 6);
    assert_eq!(fine[0].bucket_ms, 60_000);
    // Rolling up again merges into the same coarse bucket rather than duplicating it.
    s.put_metrics(&[point("service:cart", "rps", 10, 50_000, &[10.0])])
        .await
        .unwrap();
    assert_eq!(s.downsample(10, 60, 60_000).await.unwrap(), 1);
    let again = s
        .metrics(&MetricQuery {
            resolution_s: 60,
            to_ms: 1_000_000,
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].count, again[0].max), (9, 10.0));
    assert!(matches!(
        s.downsample(60, 90, 0).await,
        Err(StoreError::Invalid(_))
    ));
}

fn drift(at: i64, service: &str, mape: f64) -> DriftRecord {
    DriftRecord {
        at_ms: at,
        service: service.into(),
        twin_version: 1,
        window_s: 60,
        observed_rps: 10.0,
        predicted_utilization: 0.5,
        observed_utilization: 0.6,
        predicted_latency_ms: 10.0,
        observed_latency_ms: 12.0,
        mape,
    }
}

async fn drift_history_keeps_newest_in_time_order(s: &dyn Store) {
    let mut recs = Vec::new();
    for t in 0..10 {
        recs.push(drift(t * 1000, "cart", t as f64));
        recs.push(drift(t * 1000, "web", 100.0 + t as f64));
    }
    s.put_drift(&recs).await.unwrap();
    let cart = s.drift(Some("cart"), 0, 3).await.unwrap();
    let mapes: Vec<f64> = cart.iter().map(|d| d.mape).collect();
    assert_eq!(mapes, vec![7.0, 8.0, 9.0]);
    assert_eq!(cart[0], drift(7000, "cart", 7.0));
    let all = s.drift(None, 8000, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    // A service observed without utilization or latency (NaN: not observed) is kept as such.
    let mut partial = drift(20_000, "traced", 5.0);
    partial.observed_utilization = f64::NAN;
    partial.observed_latency_ms = f64::NAN;
    s.put_drift(&[partial]).await.unwrap();
    let back = s.drift(Some("traced"), 0, 10).await.unwrap();
    assert_eq!(back.len(), 1);
    assert!(back[0].observed_utilization.is_nan() && back[0].observed_latency_ms.is_nan());
    assert_eq!(back[0].mape, 5.0);
}

async fn users_and_hashed_tokens(s: &dyn Store) {
    s.create_user("admin", Role::Admin, 1).await.unwrap();
    s.create_user("viewer", Role::Viewer, 2).await.unwrap();
    assert!(matches!(
        s.create_user("admin", Role::Viewer, 3).await,
        Err(StoreError::Conflict(_))
    ));
    let users = s.users().await.unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| (u.name.as_str(), u.role))
            .collect::<Vec<_>>(),
        vec![("admin", Role::Admin), ("viewer", Role::Viewer)]
    );

    let secret = "dpl_0123456789abcdef";
    let hash = hash_token(secret);
    // SHA-256 of the token, independently known (sha256sum of the same bytes).
    assert_eq!(
        hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let t = s.create_token("viewer", "ci", &hash, 5).await.unwrap();
    assert_eq!(
        (t.user.as_str(), t.role, t.revoked),
        ("viewer", Role::Viewer, false)
    );
    assert!(matches!(
        s.create_token("nobody", "x", "h", 5).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.create_token("admin", "dup", &hash, 5).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.token_by_hash(&hash).await.unwrap(), Some(t.clone()));
    assert_eq!(
        s.token_by_hash(secret).await.unwrap(),
        None,
        "the raw token is not a key"
    );
    assert!(s.revoke_token(t.id).await.unwrap());
    assert!(!s.revoke_token(t.id).await.unwrap());
    assert_eq!(s.token_by_hash(&hash).await.unwrap(), None);
    let all = s.tokens().await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].revoked);
}

async fn audit_log_filters_newest_first(s: &dyn Store) {
    for i in 0..5 {
        s.audit(&NewAudit {
            at_ms: i * 10,
            actor: if i % 2 == 0 { "alice" } else { "bob" }.into(),
            action: format!("POST /api/x/{i}"),
            status: 200 + i as i32,
            detail: String::new(),
        })
        .await
        .unwrap();
    }
    let all = s
        .audit_log(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].entry.action, "POST /api/x/4");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let alice = s
        .audit_log(&AuditQuery {
            actor: Some("alice".into()),
            since_ms: Some(10),
            limit: 100,
        })
        .await
        .unwrap();
    let statuses: Vec<i32> = alice.iter().map(|e| e.entry.status).collect();
    assert_eq!(statuses, vec![204, 202]);
}

async fn twin_versions_are_numbered_without_gaps_under_concurrency(s: &dyn Store) {
    let puts = (0..8).map(|i| {
        s.put_twin(NewTwinVersion {
            twin: json!({"i": i}),
            author: "a".into(),
            reason: "r".into(),
            created_ms: i,
        })
    });
    let results = futures_join_all(puts).await;
    let mut versions: Vec<i64> = results.into_iter().map(|r| r.unwrap().version).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    let hist = s.twin_history(100).await.unwrap();
    for m in &hist {
        assert_eq!(
            m.parent,
            if m.version == 1 {
                None
            } else {
                Some(m.version - 1)
            }
        );
    }
}

/// Polls all futures concurrently (a tiny `join_all`, to avoid a dependency).
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

//! Sweeps on many machines through NATS JetStream.
//!
//! Per sweep `ID` the coordinator creates (or finds again, when resuming):
//! * the object store bucket `doppel_sweep_ID` holding the bundle once, under its hash;
//! * the work-queue stream `DOPPEL_SWEEP_ID_TASKS` (subject `doppel.sweep.ID.tasks`) with one
//!   message per task, published with `Nats-Msg-Id` = the task index and a 24 h duplicate window,
//!   so publishing again after a restart adds nothing, and the durable pull consumer `workers`
//!   whose ack wait is the redelivery deadline;
//! * the stream `DOPPEL_SWEEP_ID_RESULTS` (subject `doppel.sweep.ID.results`) where workers
//!   publish results, read from its start by the coordinator (so a restarted coordinator sees
//!   every result published while it was away).
//!
//! A worker lists the task streams, pulls one task, fetches the bundle by hash (cached),
//! compiles the scenario (cached), runs it on a blocking thread while telling the server it is
//! still working (in-progress acks every third of the ack wait), publishes the result and only
//! then acks the task. A worker killed mid-task stops sending progress, so the task is
//! redelivered after the ack wait; a result published twice is ignored by task index. The
//! coordinator deletes the streams and the bucket when every task has a result.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::bundle::Bundle;
use crate::spec::Sweep;
use crate::store::PgStore;
use crate::task::{Task, TaskResult, Variant, run_task};
use crate::{Result, SweepError};

const STREAM_PREFIX: &str = "DOPPEL_SWEEP_";
const TASKS_SUFFIX: &str = "_TASKS";
const CONSUMER: &str = "workers";

fn cluster<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> SweepError + '_ {
    move |e| SweepError::Cluster(format!("{what}: {e}"))
}

/// The JetStream names of one sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Work-queue stream of tasks.
    pub tasks_stream: String,
    /// Its subject.
    pub tasks_subject: String,
    /// Stream of results.
    pub results_stream: String,
    /// Its subject.
    pub results_subject: String,
    /// Object store bucket holding the bundle.
    pub bucket: String,
}

impl Names {
    /// The names for sweep `id`.
    pub fn of(id: &str) -> Names {
        Names {
            tasks_stream: format!("{STREAM_PREFIX}{id}{TASKS_SUFFIX}"),
            tasks_subject: format!("doppel.sweep.{id}.tasks"),
            results_stream: format!("{STREAM_PREFIX}{id}_RESULTS"),
            results_subject: format!("doppel.sweep.{id}.results"),
            bucket: format!("doppel_sweep_{id}"),
        }
    }
}

fn object_name(hash: &str) -> String {
    format!("bundle-{hash}")
}

/// Connects to `url` (`nats://HOST:4222`).
pub async fn connect(url: &str) -> Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(cluster(&format!("cannot connect to {url}")))?;
    Ok(jetstream::new(client))
}

/// Progress of a coordinated sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tasks with a result.
    pub done: usize,
    /// Tasks in the sweep.
    pub total: usize,
    /// Tasks whose result was already known when this coordinator started (store, stream).
    pub resumed: usize,
    /// Results received for a task that already had one (ignored).
    pub duplicates: usize,
}

/// Options of the coordinator.
#[derive(Debug, Clone, Copy)]
pub struct CoordinatorOptions {
    /// How long a worker may hold a task without news before it is redelivered.
    pub ack_wait: Duration,
}

/// Runs `sweep` on the cluster at `url` and returns every task's result, in task order.
/// Results are stored in `store` as they arrive, and those already there are not run again.
pub async fn coordinate(
    url: &str,
    sweep: &Sweep,
    bundle: &Bundle,
    options: CoordinatorOptions,
    store: Option<&PgStore>,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<TaskResult>> {
    let id = sweep.id();
    let names = Names::of(&id);
    let total = sweep.len();
    let mut done: BTreeMap<u32, TaskResult> = BTreeMap::new();
    if let Some(store) = store {
        store.save_sweep(sweep, bundle).await?;
        for r in store.results(&id).await? {
            if (r.index as usize) < total {
                done.insert(r.index, r);
            }
        }
    }
    let js = connect(url).await?;
    let mut progress = Progress {
        done: done.len(),
        total,
        resumed: done.len(),
        duplicates: 0,
    };
    on_progress(progress);
    if done.len() < total {
        // The bundle, once.
        let bucket = match js.get_object_store(&names.bucket).await {
            Ok(b) => b,
            Err(_) => js
                .create_object_store(jetstream::object_store::Config {
                    bucket: names.bucket.clone(),
                    description: Some(format!("doppel sweep {id}: the twin and scenarios")),
                    ..Default::default()
                })
                .await
                .map_err(cluster("cannot create the bundle bucket"))?,
        };
        let object = object_name(&sweep.bundle);
        if bucket.info(&object).await.is_err() {
            let bytes = bundle.to_bytes();
            bucket
                .put(object.as_str(), &mut bytes.as_slice())
                .await
                .map_err(cluster("cannot store the bundle"))?;
        }
        let tasks = js
            .get_or_create_stream(stream::Config {
                name: names.tasks_stream.clone(),
                description: Some(format!("doppel sweep {id}: tasks")),
                subjects: vec![names.tasks_subject.clone()],
                retention: stream::RetentionPolicy::WorkQueue,
                duplicate_window: Duration::from_secs(24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(cluster("cannot create the task stream"))?;
        tasks
            .get_or_create_consumer(
                CONSUMER,
                consumer::pull::Config {
                    durable_name: Some(CONSUMER.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: options.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(cluster("cannot create the workers' consumer"))?;
        js.get_or_create_stream(stream::Config {
            name: names.results_stream.clone(),
            description: Some(format!("doppel sweep {id}: results")),
            subjects: vec![names.results_subject.clone()],
            ..Default::default()
        })
        .await
        .map_err(cluster("cannot create the result stream"))?;
    }
    if done.len() < total {
        let results = js
            .get_stream(&names.results_stream)
            .await
            .map_err(cluster("cannot open the result stream"))?;
        let reader = results
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(cluster("cannot read the result stream"))?;
        let mut incoming = reader
            .messages()
            .await
            .map_err(cluster("cannot read the result stream"))?;
        // Publish what is not done; a task published before (by an earlier run of this
        // coordinator) is dropped by the server as a duplicate of its message id.
        let mut acks = Vec::new();
        for i in 0..total as u32 {
            if done.contains_key(&i) {
                continue;
            }
            let Some(task) = sweep.task(i as usize) else {
                continue;
            };
            let payload = serde_json::to_vec(&task).unwrap_or_default();
            let ack = js
                .send_publish(
                    names.tasks_subject.clone(),
                    jetstream::message::PublishMessage::build()
                        .payload(payload.into())
                        .message_id(i.to_string()),
                )
                .await
                .map_err(cluster("cannot publish a task"))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(cluster("a task was not stored"))?;
        }
        while done.len() < total {
            let Some(msg) = incoming.next().await else {
                return Err(SweepError::Cluster(
                    "the result stream ended before every task had a result".into(),
                ));
            };
            let msg = msg.map_err(cluster("reading results"))?;
            let result: TaskResult = match serde_json::from_slice(&msg.payload) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("ignoring a result that does not decode: {e}");
                    continue;
                }
            };
            if result.index as usize >= total || done.contains_key(&result.index) {
                progress.duplicates += 1;
                on_progress(progress);
                continue;
            }
            if let Some(store) = store {
                store.put_result(&id, &result).await?;
            }
            done.insert(result.index, result);
            progress.done = done.len();
            on_progress(progress);
        }
    }
    // Everything is in: clean up (what is already gone is fine).
    let _ = js.delete_stream(&names.tasks_stream).await;
    let _ = js.delete_stream(&names.results_stream).await;
    let _ = js.delete_object_store(&names.bucket).await;
    Ok(done.into_values().collect())
}

/// What a worker reports.
#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// A task was pulled (`attempt` counts deliveries, from 1).
    Started {
        /// The sweep.
        sweep: String,
        /// The task's index.
        index: u32,
        /// Delivery count.
        attempt: i64,
    },
    /// A task's result was published and the task acknowledged.
    Finished {
        /// The sweep.
        sweep: String,
        /// The task's index.
        index: u32,
    },
    /// Something went wrong; the worker goes on.
    Problem(String),
}

/// Options of a worker.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Tasks run at once (one core each).
    pub jobs: usize,
    /// How long to wait for a task on each stream before looking at the next.
    pub poll: Duration,
}

type Sink = Arc<dyn Fn(WorkerEvent) + Send + Sync>;

#[derive(Default)]
struct Caches {
    bundles: HashMap<String, Arc<(Bundle, doppel_model::Twin)>>,
    variants: HashMap<String, Arc<Variant>>,
}

/// Serves every sweep on the cluster at `url` until the process ends.
pub async fn work(url: &str, options: WorkerOptions, on_event: Sink) -> Result<()> {
    let js = connect(url).await?;
    let caches = Arc::new(Mutex::new(Caches::default()));
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..options.jobs.max(1) {
        let js = js.clone();
        let caches = Arc::clone(&caches);
        let on_event = Arc::clone(&on_event);
        slots.spawn(async move { slot(js, options, caches, on_event).await });
    }
    while let Some(r) = slots.join_next().await {
        r.map_err(cluster("a worker slot stopped"))??;
    }
    Ok(())
}

async fn task_streams(js: &jetstream::Context) -> Vec<String> {
    let mut names = js.stream_names();
    let mut out = Vec::new();
    while let Some(n) = names.next().await {
        match n {
            Ok(n) if n.starts_with(STREAM_PREFIX) && n.ends_with(TASKS_SUFFIX) => out.push(n),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

async fn slot(
    js: jetstream::Context,
    options: WorkerOptions,
    caches: Arc<Mutex<Caches>>,
    on_event: Sink,
) -> Result<()> {
    let mut consumers: HashMap<String, consumer::Consumer<consumer::pull::Config>> = HashMap::new();
    loop {
        let streams = task_streams(&js).await;
        consumers.retain(|k, _| streams.contains(k));
        let mut worked = false;
        for name in &streams {
            if !consumers.contains_key(name) {
                let Ok(s) = js.get_stream(name).await else {
                    continue;
                };
                let Ok(c) = s.get_consumer::<consumer::pull::Config>(CONSUMER).await else {
                    continue;
                };
                consumers.insert(name.clone(), c);
            }
            let Some(c) = consumers.get(name) else {
                continue;
            };
            let ack_wait = c.cached_info().config.ack_wait;
            let batch = c
                .fetch()
                .max_messages(1)
                .expires(options.poll)
                .messages()
                .await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(_) => {
                    consumers.remove(name);
                    continue;
                }
            };
            let Some(Ok(msg)) = batch.next().await else {
                continue;
            };
            worked = true;
            handle(&js, msg, ack_wait, &caches, &on_event).await;
            break;
        }
        if !worked && streams.is_empty() {
            tokio::time::sleep(options.poll).await;
        }
    }
}

async fn bundle_for(
    js: &jetstream::Context,
    task: &Task,
    caches: &Mutex<Caches>,
) -> Result<Arc<(Bundle, doppel_model::Twin)>> {
    if let Some(b) = caches
        .lock()
        .ok()
        .and_then(|c| c.bundles.get(&task.bundle).cloned())
    {
        return Ok(b);
    }
    let names = Names::of(&task.sweep);
    let bucket = js
        .get_object_store(&names.bucket)
        .await
        .map_err(cluster("cannot open the bundle bucket"))?;
    let mut object = bucket
        .get(object_name(&task.bundle))
        .await
        .map_err(cluster("cannot fetch the bundle"))?;
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(cluster("cannot read the bundle"))?;
    let hash = task.bundle.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<(Bundle, doppel_model::Twin)> {
        let bundle = Bundle::from_bytes(&bytes, &hash)?;
        let twin = bundle.twin()?.twin;
        Ok((bundle, twin))
    })
    .await
    .map_err(cluster("loading the bundle"))??;
    let loaded = Arc::new(loaded);
    if let Ok(mut c) = caches.lock() {
        if c.bundles.len() >= 16 {
            c.bundles.clear();
        }
        c.bundles.insert(task.bundle.clone(), Arc::clone(&loaded));
    }
    Ok(loaded)
}

async fn variant_for(
    js: &jetstream::Context,
    task: &Task,
    caches: &Arc<Mutex<Caches>>,
) -> Result<Arc<Variant>> {
    let key = serde_json::to_string(&(
        &task.bundle,
        &task.scenario,
        &task.settings,
        task.duration.to_bits(),
        task.warmup.to_bits(),
    ))
    .unwrap_or_default();
    if let Some(v) = caches
        .lock()
        .ok()
        .and_then(|c| c.variants.get(&key).cloned())
    {
        return Ok(v);
    }
    let bundle = bundle_for(js, task, caches).await?;
    let t = task.clone();
    let variant = tokio::task::spawn_blocking(move || Variant::for_task(&bundle.0, &bundle.1, &t))
        .await
        .map_err(cluster("compiling the scenario"))??;
    let variant = Arc::new(variant);
    if let Ok(mut c) = caches.lock() {
        if c.variants.len() >= 256 {
            c.variants.clear();
        }
        c.variants.insert(key, Arc::clone(&variant));
    }
    Ok(variant)
}

async fn handle(
    js: &jetstream::Context,
    msg: jetstream::Message,
    ack_wait: Duration,
    caches: &Arc<Mutex<Caches>>,
    on_event: &Sink,
) {
    let task: Task = match serde_json::from_slice(&msg.payload) {
        Ok(t) => t,
        Err(e) => {
            on_event(WorkerEvent::Problem(format!(
                "dropping a task that does not decode: {e}"
            )));
            let _ = msg.ack_with(jetstream::AckKind::Term).await;
            return;
        }
    };
    let attempt = msg.info().map(|i| i.delivered).unwrap_or(1);
    on_event(WorkerEvent::Started {
        sweep: task.sweep.clone(),
        index: task.index,
        attempt,
    });
    let beat = (ack_wait / 3).max(Duration::from_millis(100));
    let mut ticker = tokio::time::interval(beat);
    ticker.tick().await;
    let work = async {
        let task = &task;
        let variant = variant_for(js, task, caches).await;
        let t = task.clone();
        match variant {
            Ok(v) => tokio::task::spawn_blocking(move || run_task(&v, &t))
                .await
                .unwrap_or_else(|e| TaskResult {
                    index: task.index,
                    outcome: Err(format!("the simulation failed: {e}")),
                }),
            Err(e) => TaskResult {
                index: task.index,
                outcome: Err(e.to_string()),
            },
        }
    };
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = ticker.tick() => {
                let _ = msg.ack_with(jetstream::AckKind::Progress).await;
            }
        }
    };
    let names = Names::of(&task.sweep);
    let payload = serde_json::to_vec(&result).unwrap_or_default();
    let published = match js
        .send_publish(
            names.results_subject,
            jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(task.index.to_string()),
        )
        .await
    {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = published {
        // Not acked: the task comes back after the ack wait.
        on_event(WorkerEvent::Problem(format!(
            "task {} of sweep {}: cannot publish the result: {e}",
            task.index, task.sweep
        )));
        return;
    }
    if let Err(e) = msg.ack().await {
        on_event(WorkerEvent::Problem(format!(
            "task {} of sweep {}: cannot ack: {e}",
            task.index, task.sweep
        )));
    }
    on_event(WorkerEvent::Finished {
        sweep: task.sweep.clone(),
        index: task.index,
    });
}

//! The HTTP API: routes (one table, which also generates the OpenAPI document), bearer-token
//! authentication with roles, the audit log of mutating calls, body limits, and the one place
//! where errors become status codes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use doppel_store::{AuditQuery, MetricQuery, NewAudit, Role, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{App, Error, now_ms, record};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health and the API description).
    Public,
    /// At least this role.
    Role(Role),
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// HTTP method, lowercase.
    pub method: &'static str,
    /// Path, with `{name}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub summary: &'static str,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User name (`anonymous` when not authenticated).
    pub user: String,
    /// Role, if authenticated.
    pub role: Option<Role>,
}

/// Extra detail a handler attaches for the audit log.
#[derive(Debug, Clone)]
pub struct AuditDetail(pub String);

/// An error as the API reports it.
#[derive(Debug)]
pub enum ApiError {
    /// 400.
    BadRequest(String),
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden(Role),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 422, with the twin's diagnostics.
    Invalid(Vec<String>),
    /// 429.
    TooManyFailures,
    /// 503: try again (e.g. the write-ahead log could not sync).
    Unavailable(String),
    /// 500.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(s) => ApiError::NotFound(s),
            StoreError::Conflict(s) => ApiError::Conflict(s),
            StoreError::Invalid(s) => ApiError::BadRequest(s),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(s) => s.into(),
            Error::BadInput(s) => ApiError::BadRequest(s),
            Error::Io(e) => ApiError::Unavailable(e.to_string()),
            Error::Twin(s) => ApiError::Invalid(vec![s]),
            Error::Drift(d) => ApiError::Internal(d.to_string()),
            Error::Pull(e) => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl ApiError {
    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyFailures => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg, details) = match self {
            ApiError::BadRequest(s) => (StatusCode::BAD_REQUEST, s, vec![]),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required (Authorization: Bearer dpl_...)".into(),
                vec![],
            ),
            ApiError::Forbidden(r) => (
                StatusCode::FORBIDDEN,
                format!("this needs the {} role", r.as_str()),
                vec![],
            ),
            ApiError::NotFound(s) => (StatusCode::NOT_FOUND, format!("{s} not found"), vec![]),
            ApiError::Conflict(s) => (StatusCode::CONFLICT, s, vec![]),
            ApiError::Invalid(d) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "the twin is not valid".into(),
                d,
            ),
            ApiError::TooManyFailures => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed authentications from this address; wait a minute".into(),
                vec![],
            ),
            ApiError::Unavailable(s) => (StatusCode::SERVICE_UNAVAILABLE, s, vec![]),
            ApiError::Internal(s) => {
                tracing::error!(error = %s, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, s, vec![])
            }
        };
        let mut body = json!({"error": msg});
        if !details.is_empty() {
            body["diagnostics"] = json!(details);
        }
        (status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

macro_rules! routes {
    ($( $method:ident $path:literal $access:expr => $handler:path, $summary:literal; )*) => {
        /// Every route of the API, in the order of the OpenAPI document.
        pub const ROUTES: &[RouteDoc] = &[
            $( RouteDoc {
                method: stringify!($method),
                path: $path,
                access: $access,
                summary: $summary,
            }, )*
        ];

        fn add_routes(mut r: Router<Arc<App>>) -> Router<Arc<App>> {
            $(
                r = r.route(
                    $path,
                    $method($handler).route_layer(middleware::from_fn_with_state(
                        $access,
                        require,
                    )),
                );
            )*
            r
        }
    };
}

const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);

routes! {
    get "/healthz" Access::Public => healthz, "Liveness: 200 when the service runs.";
    get "/api/openapi.json" Access::Public => openapi, "This API's OpenAPI 3.1 document.";
    get "/metrics" VIEWER => metrics, "Prometheus exposition of Doppel's health and drift.";
    get "/api/twin" VIEWER => get_twin, "The twin in force and its version.";
    put "/api/twin" OPERATOR => put_twin, "Import a twin (YAML or JSON body): validated, recorded as a new version.";
    get "/api/twin/graph" VIEWER => twin_graph, "The twin's topology for drawing: services, instances, hosts, networks, their edges, groups and positions.";
    get "/api/twin/versions" VIEWER => twin_versions, "Version history, newest first (`limit`).";
    get "/api/twin/versions/{version}" VIEWER => twin_version, "One stored version.";
    get "/api/twin/diff" VIEWER => twin_diff, "Differences between versions `from` and `to` (default: latest) by JSON Pointer.";
    post "/api/twin/rollback" OPERATOR => rollback, "Roll back: record version `to`'s content as a new version (`reason`).";
    get "/api/runs" VIEWER => list_runs, "Scenario runs, newest first.";
    post "/api/runs" OPERATOR => submit_run, "Submit a run: `kind` simulate, estimate or scenario (`params.scenario`: scenario YAML, checked first), `params` (duration, warmup, seed, replications, bucket).";
    get "/api/runs/{id}" VIEWER => get_run, "A run: state, progress, result or error.";
    get "/api/runs/{id}/report" VIEWER => run_report, "A finished run's self-contained HTML report (charts, SLO verdicts; a scenario beside its baseline).";
    post "/api/runs/{id}/cancel" OPERATOR => cancel_run, "Cancel a run.";
    get "/api/live" VIEWER => live, "Observed request rate, latency and utilization per service over the last minute.";
    get "/api/metrics" VIEWER => metric_history, "Stored metric history: `entity`, `metric`, `from_ms`, `to_ms`, `resolution_s` (10 or 300).";
    get "/api/drift" VIEWER => get_drift, "Drift per service as last evaluated (MAPE of predicted vs observed latency and utilization).";
    get "/api/drift/history" VIEWER => drift_history, "Drift history: `service`, `since_ms`, `limit`.";
    post "/api/drift/evaluate" OPERATOR => evaluate_drift, "Evaluate drift now (and recalibrate if due).";
    get "/api/predictions" VIEWER => get_predictions, "Early warning: predicted SLO breaches, resources filling up, degrading services, recent anomalies, alerts firing.";
    get "/api/predictions/series" VIEWER => prediction_series, "One series (`entity`, `metric`: rps, latency_ms, utilization, memory_bytes): history, forecast band, anomaly marks.";
    post "/api/predictions/evaluate" OPERATOR => evaluate_predictions, "Run the early warning now (alerts that changed go to the webhook).";
    get "/api/anomalies" VIEWER => get_anomalies, "Recent anomalies from the online detector, newest first: `since_ms`, `limit`.";
    get "/api/security/attack" VIEWER => security_attack, "Attack paths from `from` (internet, an address, host:NAME) to `to` (tag:NAME, host:NAME, service:NAME): steps with MITRE ATT&CK ids, the most likely path, reachable targets, ranked mitigations; with `simulate` (default true) the attack over time (`runs`, `seed`, `what_if`).";
    get "/api/security/reach" VIEWER => security_reach, "Whether flows from `src` to `dst` (on `port`, else every port it listens on) are allowed, with every check and the rule that decides.";
    get "/api/security/blast" VIEWER => security_blast, "What an attacker holding root on `host` can go on to reach: hosts with root or user access, services whose data is exposed, credentials taken, value at risk.";
    get "/api/network/route" VIEWER => network_route, "The twin's routers and links with its traffic (`traffic` workloads: what its workloads generate; live: the `doppel_flow_bytes_per_second{src,dst}` flows observed over the last minute, 409 when none): per-link utilization under ECMP and after optimization (`method` lp, lp-paths, igp, ecmp; `objective` mlu, delay; `max_changes` with igp: at most that many links reweighted, 1 for the next weight change), MLU before and after, solve seconds, the single-link failure table worst first, and `traffic` saying which source and when it was observed.";
    get "/api/pull" VIEWER => pull_status, "Prometheus pulling: range pulled, per-query outcome, failing queries with Prometheus' error, backoff.";
    post "/api/v1/write" OPERATOR => remote_write, "Prometheus remote-write v1 (protobuf, snappy).";
    post "/api/v2/series" OPERATOR => datadog_series, "Datadog series intake (JSON).";
    post "/services/collector/event" OPERATOR => splunk_event, "Splunk HTTP Event Collector (metric events).";
    post "/v1/traces" OPERATOR => otlp_traces, "OTLP/HTTP traces (protobuf or JSON, optionally gzip): request rates and latencies per service and endpoint, call ratios.";
    post "/v1/metrics" OPERATOR => otlp_metrics, "OTLP/HTTP metrics (protobuf or JSON, optionally gzip): sums, gauges, histograms mapped like Prometheus series.";
    post "/api/cohorts/learn" OPERATOR => learn_cohorts, "Learn user cohorts from the body, an access log (NCSA or JSON lines) or traces with user and session attributes (OTLP JSON, Jaeger JSON): `source` (auto, log, traces), `by` (device, region...), `cluster` (max k), `attributes` (`region:geo.region,...`: fields kept for `by`), `rate` (sessions/s to simulate).";
    get "/api/cohorts/report" VIEWER => cohort_report, "The learned cohorts and each one's simulated experience on the twin: page latency, errors, completion, lost sessions and goals, ranked what-ifs (`report`: as `doppel users report --json`).";
    get "/api/users" ADMIN => list_users, "Users and roles.";
    post "/api/users" ADMIN => create_user, "Create a user: `name`, `role` (viewer, operator, admin).";
    get "/api/tokens" ADMIN => list_tokens, "Tokens (never their secret).";
    post "/api/tokens" ADMIN => create_token, "Create a token for `user` (`label`); the token is shown once.";
    delete "/api/tokens/{id}" ADMIN => revoke_token, "Revoke a token.";
    get "/api/audit" ADMIN => audit_log, "The audit log, newest first: `actor`, `since_ms`, `limit`.";
}

/// Intake paths: audited in aggregate (one entry per actor, path and status per flush), not
/// per call.
const INTAKE: [&str; 5] = [
    "/api/v1/write",
    "/api/v2/series",
    "/services/collector/event",
    "/v1/traces",
    "/v1/metrics",
];

/// Pending aggregate audit entries of intake calls.
#[derive(Default)]
pub struct IntakeAudit(Mutex<HashMap<(String, String, u16), u64>>);

impl IntakeAudit {
    /// Writes the counts as audit entries and clears them.
    pub async fn flush(&self, app: &App) {
        let pending: Vec<((String, String, u16), u64)> = {
            let mut m = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            m.drain().collect()
        };
        for ((actor, action, status), n) in pending {
            let e = NewAudit {
                at_ms: now_ms(),
                actor,
                action,
                status: i32::from(status),
                detail: format!("{n} calls"),
            };
            if let Err(e) = app.store.audit(&e).await {
                tracing::warn!(error = %e, "could not write the intake audit entry");
            }
        }
    }
}

/// The API over `app`. `intake_audit` collects the aggregate audit of intake calls (flush it
/// periodically with [`IntakeAudit::flush`]).
pub fn router(app: Arc<App>, intake_audit: Arc<IntakeAudit>) -> Router {
    let limit = app.cfg.max_body;
    add_routes(Router::new())
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            crate::ui::respond(&method, &uri)
                .unwrap_or_else(|| ApiError::NotFound("route".into()).into_response())
        })
        .layer(middleware::from_fn_with_state(
            (Arc::clone(&app), intake_audit),
            audit,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            authenticate,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

fn token_of(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        for scheme in ["Bearer ", "bearer ", "Splunk "] {
            if let Some(t) = v.strip_prefix(scheme) {
                return Some(t.trim());
            }
        }
    }
    headers
        .get("dd-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

const FAILURE_WINDOW_MS: i64 = 60_000;
const MAX_FAILURES: u32 = 20;

async fn authenticate(State(app): AppState, mut req: Request, next: Next) -> Response {
    app.counters.http_requests.fetch_add(1, Ordering::Relaxed);
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let now = now_ms();
    if let Some(ip) = ip {
        let f = app
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&(start, n)) = f.get(&ip)
            && now - start < FAILURE_WINDOW_MS
            && n >= MAX_FAILURES
        {
            return ApiError::TooManyFailures.into_response();
        }
    }
    let mut caller = Caller {
        user: "anonymous".into(),
        role: None,
    };
    if !app.cfg.auth {
        caller.role = Some(Role::Admin);
    } else if let Some(t) = token_of(req.headers()) {
        match app.token(&doppel_store::hash_token(t)).await {
            Ok(Some(info)) => {
                caller = Caller {
                    user: info.user,
                    role: Some(info.role),
                }
            }
            Ok(None) => {
                app.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
                if let Some(ip) = ip {
                    let mut f = app
                        .failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let e = f.entry(ip).or_insert((now, 0));
                    if now - e.0 >= FAILURE_WINDOW_MS {
                        *e = (now, 0);
                    }
                    e.1 += 1;
                }
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn require(State(access): State<Access>, req: Request, next: Next) -> Response {
    if let Access::Role(need) = access {
        let role = req.extensions().get::<Caller>().and_then(|c| c.role);
        match role {
            None => return ApiError::Unauthorized.into_response(),
            Some(r) if r < need => return ApiError::Forbidden(need).into_response(),
            Some(_) => {}
        }
    }
    next.run(req).await
}

async fn audit(
    State((app, intake)): State<(Arc<App>, Arc<IntakeAudit>)>,
    req: Request,
    next: Next,
) -> Response {
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !mutating {
        return next.run(req).await;
    }
    let action = format!("{} {}", req.method(), req.uri().path());
    let path = req.uri().path().to_string();
    let actor = req
        .extensions()
        .get::<Caller>()
        .map_or_else(|| "anonymous".to_string(), |c| c.user.clone());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    if INTAKE.contains(&path.as_str()) {
        *intake
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((actor, action, status))
            .or_insert(0) += 1;
        return resp;
    }
    let detail = resp
        .extensions()
        .get::<AuditDetail>()
        .map(|d| d.0.clone())
        .unwrap_or_default();
    let entry = NewAudit {
        at_ms: now_ms(),
        actor,
        action,
        status: i32::from(status),
        detail,
    };
    if let Err(e) = app.store.audit(&entry).await {
        // A change that cannot be audited is reported as failed.
        tracing::error!(error = %e, "audit log write failed");
        return ApiError::Internal(format!("audit log write failed: {e}")).into_response();
    }
    resp
}

fn with_detail(v: Value, detail: String) -> Response {
    let mut r = Json(v).into_response();
    r.extensions_mut().insert(AuditDetail(detail));
    r
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn metrics(State(app): AppState) -> ApiResult<Response> {
    let body = crate::openapi::exposition(&app);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn get_twin(State(app): AppState) -> ApiResult<Json<Value>> {
    let cur = app.current();
    Ok(Json(json!({
        "version": cur.version,
        "twin": crate::twin_to_json(&cur.twin)?,
    })))
}

async fn put_twin(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let loaded = doppel_model::load_str("twin.yaml", text);
    let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let reason = q
        .get("reason")
        .cloned()
        .unwrap_or_else(|| "imported through the API".into());
    let version = app.set_twin(loaded.twin, &caller.user, &reason).await?;
    Ok(with_detail(
        json!({"version": version}),
        format!("version {version}: {reason}"),
    ))
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn twin_graph(State(app): AppState) -> Json<Value> {
    let cur = app.current();
    let mut v = json!(crate::topology::of(&cur.twin));
    v["twin_version"] = json!(cur.version);
    Json(v)
}

async fn twin_versions(State(app): AppState, Query(q): Query<Limit>) -> ApiResult<Json<Value>> {
    let h = app.store.twin_history(q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "versions": h })))
}

async fn twin_version(State(app): AppState, Path(v): Path<i64>) -> ApiResult<Json<Value>> {
    let t = app
        .store
        .twin(Some(v))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("twin version {v}")))?;
    Ok(Json(json!(t)))
}

#[derive(Deserialize)]
struct DiffQ {
    from: i64,
    to: Option<i64>,
}

async fn twin_diff(State(app): AppState, Query(q): Query<DiffQ>) -> ApiResult<Json<Value>> {
    let get = |v: Option<i64>| {
        let app = Arc::clone(&app);
        async move {
            app.store
                .twin(v)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("twin version {}", v.unwrap_or(0))))
        }
    };
    let (a, b) = (get(Some(q.from)).await?, get(q.to).await?);
    Ok(Json(json!({
        "from": a.meta.version,
        "to": b.meta.version,
        "changes": doppel_store::diff(&a.twin, &b.twin),
    })))
}

#[derive(Deserialize)]
struct RollbackReq {
    to: i64,
    #[serde(default)]
    reason: String,
}

async fn rollback(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    Json(r): Json<RollbackReq>,
) -> ApiResult<Response> {
    let m = doppel_store::rollback(&*app.store, r.to, &caller.user, &r.reason, now_ms()).await?;
    app.reload().await?;
    Ok(with_detail(
        json!(m),
        format!("version {}: {}", m.version, m.reason),
    ))
}

async fn list_runs(State(app): AppState, Query(q): Query<Limit>) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"runs": app.store.runs(q.limit.unwrap_or(100)).await?}),
    ))
}

#[derive(Deserialize)]
struct RunReq {
    kind: String,
    #[serde(default)]
    params: Value,
}

async fn submit_run(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    Json(r): Json<RunReq>,
) -> ApiResult<Response> {
    let run = app.submit_run(&r.kind, r.params, &caller.user).await?;
    let detail = format!("run {} ({})", run.id, run.kind);
    let mut resp = with_detail(json!(run), detail);
    *resp.status_mut() = StatusCode::ACCEPTED;
    Ok(resp)
}

async fn get_run(State(app): AppState, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let r = app
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    Ok(Json(json!(r)))
}

async fn run_report(State(app): AppState, Path(id): Path<i64>) -> ApiResult<Response> {
    let r = app
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    let result = r
        .result
        .filter(|_| r.status == doppel_store::RunStatus::Succeeded)
        .ok_or_else(|| ApiError::Conflict(format!("run {id} has not succeeded")))?;
    let html = crate::runs::report_html(id, &result)?
        .ok_or_else(|| ApiError::Conflict(format!("run {id} ({}) has no timeline", r.kind)))?;
    let disposition = format!("attachment; filename=\"doppel-run-{id}.html\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        html,
    )
        .into_response())
}

async fn cancel_run(State(app): AppState, Path(id): Path<i64>) -> ApiResult<Response> {
    let r = app.cancel_run(id).await?;
    Ok(with_detail(json!(r), format!("run {id}")))
}

async fn live(State(app): AppState) -> ApiResult<Json<Value>> {
    let obs = app.observe(now_ms(), 60).await?;
    let services: serde_json::Map<String, Value> = obs
        .iter()
        .map(|(s, b)| (s.clone(), json!(crate::drift::window_average(b))))
        .collect();
    Ok(Json(json!({
        "window_s": 60,
        "services": services,
        "ingest": app.ingest_stats(),
    })))
}

#[derive(Deserialize)]
struct MetricQ {
    entity: Option<String>,
    metric: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    resolution_s: Option<i64>,
    limit: Option<u32>,
}

async fn metric_history(State(app): AppState, Query(q): Query<MetricQ>) -> ApiResult<Json<Value>> {
    let now = now_ms();
    let pts = app
        .store
        .metrics(&MetricQuery {
            entity: q.entity,
            metric: q.metric,
            resolution_s: q.resolution_s.unwrap_or(crate::ingest::RESOLUTION_S),
            from_ms: q.from_ms.unwrap_or(now - 3_600_000),
            to_ms: q.to_ms.unwrap_or(now + 1),
            limit: q.limit.unwrap_or(10_000).min(100_000),
        })
        .await?;
    Ok(Json(json!({"points": pts})))
}

async fn pull_status(State(app): AppState) -> ApiResult<Json<Value>> {
    Ok(Json(match app.pull_status() {
        Some(st) => json!({"pulling": true, "status": st}),
        None => json!({"pulling": false}),
    }))
}

async fn get_drift(State(app): AppState) -> ApiResult<Json<Value>> {
    let st = app.drift_state();
    let cur = app.current();
    Ok(Json(json!({
        "twin_version": cur.version,
        "threshold_pct": app.cfg.drift.threshold_pct,
        "window_s": app.cfg.drift.window_s,
        "at_ms": st.at_ms,
        "services": st.services,
        "recalibrations": st.recalibrations,
        "last_recalibration": st.last_recalibration,
    })))
}

#[derive(Deserialize)]
struct DriftQ {
    service: Option<String>,
    since_ms: Option<i64>,
    limit: Option<u32>,
}

async fn drift_history(State(app): AppState, Query(q): Query<DriftQ>) -> ApiResult<Json<Value>> {
    let d = app
        .store
        .drift(
            q.service.as_deref(),
            q.since_ms.unwrap_or(0),
            q.limit.unwrap_or(1000).min(100_000),
        )
        .await?;
    Ok(Json(json!({"drift": d})))
}

async fn evaluate_drift(State(app): AppState) -> ApiResult<Response> {
    app.checkpoint().await?;
    let d = app.drift_tick(now_ms()).await?;
    let n = d.len();
    Ok(with_detail(json!({"services": d}), format!("{n} services")))
}

async fn get_predictions(State(app): AppState) -> ApiResult<Json<Value>> {
    Ok(Json(app.predictions()))
}

#[derive(Deserialize)]
struct SeriesQ {
    entity: String,
    metric: String,
}

async fn prediction_series(
    State(app): AppState,
    Query(q): Query<SeriesQ>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        app.prediction_series(&q.entity, &q.metric, now_ms())
            .await?,
    ))
}

async fn evaluate_predictions(State(app): AppState) -> ApiResult<Response> {
    app.checkpoint().await?;
    let ev = app.predict_tick(now_ms()).await?;
    let detail = format!(
        "{} breaches, {} exhaustions, {} anomalies",
        ev.breaches.len(),
        ev.exhaustions.len(),
        ev.anomalies.len()
    );
    Ok(with_detail(app.predictions(), detail))
}

#[derive(Deserialize)]
struct AnomalyQ {
    since_ms: Option<i64>,
    limit: Option<usize>,
}

async fn get_anomalies(State(app): AppState, Query(q): Query<AnomalyQ>) -> ApiResult<Json<Value>> {
    let a = app.anomalies(q.since_ms.unwrap_or(0), q.limit.unwrap_or(200).min(1000));
    Ok(Json(json!({"anomalies": a})))
}

impl From<crate::analyses::AnalysisError> for ApiError {
    fn from(e: crate::analyses::AnalysisError) -> Self {
        use crate::analyses::AnalysisError as A;
        match e {
            A::Query(s) => ApiError::BadRequest(s),
            A::Unsupported(s) => ApiError::Conflict(s),
            A::Failed(s) => ApiError::Internal(s),
        }
    }
}

/// An analysis's answer with the twin version it was computed on.
fn analysed(version: i64, v: &Value) -> Json<Value> {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.insert("twin_version".into(), json!(version));
    }
    Json(v)
}

async fn security_attack(
    State(app): AppState,
    Query(q): Query<crate::analyses::AttackQuery>,
) -> ApiResult<Json<Value>> {
    let (version, v) = app
        .analysis(q.key(), move |t| crate::analyses::attack(t, &q))
        .await?;
    Ok(analysed(version, &v))
}

async fn security_reach(
    State(app): AppState,
    Query(q): Query<crate::analyses::ReachQuery>,
) -> ApiResult<Json<Value>> {
    let key = format!("reach\n{}\n{}\n{:?}", q.src, q.dst, q.port);
    let (version, v) = app
        .analysis(key, move |t| crate::analyses::reach(t, &q))
        .await?;
    Ok(analysed(version, &v))
}

async fn security_blast(
    State(app): AppState,
    Query(q): Query<crate::analyses::BlastQuery>,
) -> ApiResult<Json<Value>> {
    let (version, v) = app
        .analysis(q.key(), move |t| crate::analyses::blast(t, &q))
        .await?;
    Ok(analysed(version, &v))
}

/// The window of observed flows `traffic=live` routes, seconds (as `/api/live`'s).
const LIVE_FLOW_WINDOW_S: i64 = 60;

async fn network_route(
    State(app): AppState,
    Query(q): Query<crate::analyses::RouteQuery>,
) -> ApiResult<Json<Value>> {
    let live = if q.traffic == "live" {
        Some(app.live_flows(now_ms(), LIVE_FLOW_WINDOW_S).await?)
    } else {
        None
    };
    let (version, v) = app
        .analysis(q.key(live.as_ref()), move |t| {
            let origin = std::time::Instant::now();
            crate::analyses::route(t, &q, live.as_ref(), &mut || origin.elapsed().as_secs_f64())
        })
        .await?;
    Ok(analysed(version, &v))
}

async fn intake(app: &App, kind: u8, body: &[u8]) -> ApiResult<u64> {
    Ok(app.ingest(kind, body, now_ms()).await?)
}

async fn remote_write(
    State(app): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING)
        && enc.as_bytes() != b"snappy"
    {
        return Err(ApiError::BadRequest(
            "remote write bodies must be snappy-compressed (Content-Encoding: snappy)".into(),
        ));
    }
    intake(&app, record::REMOTE_WRITE, &body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn datadog_series(State(app): AppState, body: Bytes) -> ApiResult<Response> {
    intake(&app, record::DATADOG, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"errors": []}))).into_response())
}

async fn splunk_event(State(app): AppState, body: Bytes) -> ApiResult<Response> {
    intake(&app, record::SPLUNK, &body).await?;
    Ok(Json(json!({"text": "Success", "code": 0})).into_response())
}

/// The encoding of an OTLP/HTTP request, which its response uses too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OtlpEncoding {
    Protobuf,
    Json,
}

impl OtlpEncoding {
    fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// An OTLP/HTTP answer: a `google.rpc.Status` body in the request's encoding, with the status
/// code [`ApiError::status`] gives.
fn otlp_error(enc: OtlpEncoding, e: ApiError) -> Response {
    let status = e.status();
    let message = match &e {
        ApiError::BadRequest(m) | ApiError::Unavailable(m) | ApiError::Internal(m) => m.clone(),
        other => format!("{other:?}"),
    };
    if let ApiError::Internal(m) = &e {
        tracing::error!(error = %m, "internal error");
    }
    // google.rpc.Code: INVALID_ARGUMENT 3, UNAVAILABLE 14, INTERNAL 13.
    let code: u64 = match status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => 3,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        _ => 13,
    };
    let body = match enc {
        OtlpEncoding::Json => {
            serde_json::to_vec(&json!({"code": code, "message": message})).unwrap_or_default()
        }
        OtlpEncoding::Protobuf => crate::ingest::otlp::encode_status(code, &message),
    };
    (status, [(header::CONTENT_TYPE, enc.content_type())], body).into_response()
}

/// Checks an OTLP/HTTP request's headers and body: its encoding and the decompressed body.
fn otlp_body(headers: &HeaderMap, body: &[u8]) -> Result<(OtlpEncoding, Vec<u8>), Box<Response>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let enc = match ct.as_str() {
        "application/x-protobuf" | "application/protobuf" => OtlpEncoding::Protobuf,
        "application/json" => OtlpEncoding::Json,
        other => {
            let msg = format!(
                "unsupported Content-Type `{other}`: OTLP/HTTP takes application/x-protobuf or application/json"
            );
            return Err(Box::new(
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::to_vec(&json!({"code": 3, "message": msg})).unwrap_or_default(),
                )
                    .into_response(),
            ));
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let raw = match encoding.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" => crate::ingest::otlp::gunzip(body)
            .map_err(|e| Box::new(otlp_error(enc, ApiError::BadRequest(e))))?,
        other => {
            return Err(Box::new(otlp_error(
                enc,
                ApiError::BadRequest(format!(
                    "unsupported Content-Encoding `{other}`: gzip or none"
                )),
            )));
        }
    };
    Ok((enc, raw))
}

async fn otlp_intake(app: &App, kind: u8, headers: &HeaderMap, body: &[u8]) -> Response {
    let (enc, raw) = match otlp_body(headers, body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match app
        .ingest_otlp(kind, &raw, enc == OtlpEncoding::Json, now_ms())
        .await
    {
        Ok(o) => {
            let traces = kind == record::OTLP_TRACES;
            let body = match enc {
                OtlpEncoding::Json => {
                    let v = if o.rejected == 0 {
                        json!({})
                    } else {
                        let field = if traces {
                            "rejectedSpans"
                        } else {
                            "rejectedDataPoints"
                        };
                        let mut partial = serde_json::Map::new();
                        partial.insert(field.into(), json!(o.rejected.to_string()));
                        partial.insert(
                            "errorMessage".into(),
                            json!(crate::ingest::otlp::rejected_message(traces, o.rejected)),
                        );
                        json!({ "partialSuccess": partial })
                    };
                    serde_json::to_vec(&v).unwrap_or_default()
                }
                OtlpEncoding::Protobuf => crate::ingest::otlp::encode_response(traces, o.rejected),
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, enc.content_type())],
                body,
            )
                .into_response()
        }
        Err(e) => otlp_error(enc, e.into()),
    }
}

async fn otlp_traces(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    otlp_intake(&app, record::OTLP_TRACES, &headers, &body).await
}

async fn otlp_metrics(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    otlp_intake(&app, record::OTLP_METRICS, &headers, &body).await
}

async fn list_users(State(app): AppState) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"users": app.store.users().await?})))
}

#[derive(Deserialize)]
struct UserReq {
    name: String,
    role: Role,
}

async fn create_user(State(app): AppState, Json(u): Json<UserReq>) -> ApiResult<Response> {
    if u.name.is_empty() || u.name.len() > 64 {
        return Err(ApiError::BadRequest(
            "a user name has 1 to 64 characters".into(),
        ));
    }
    let user = app.store.create_user(&u.name, u.role, now_ms()).await?;
    let detail = format!("user {} ({})", user.name, user.role.as_str());
    let mut r = with_detail(json!(user), detail);
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn list_tokens(State(app): AppState) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"tokens": app.store.tokens().await?})))
}

#[derive(Deserialize)]
struct TokenReq {
    user: String,
    #[serde(default)]
    label: String,
}

async fn create_token(State(app): AppState, Json(t): Json<TokenReq>) -> ApiResult<Response> {
    let token = crate::new_token()?;
    let info = app
        .store
        .create_token(
            &t.user,
            &t.label,
            &doppel_store::hash_token(&token),
            now_ms(),
        )
        .await?;
    let detail = format!("token {} for {}", info.id, info.user);
    let mut r = with_detail(json!({"token": token, "info": info}), detail);
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn revoke_token(State(app): AppState, Path(id): Path<i64>) -> ApiResult<Response> {
    let revoked = app.store.revoke_token(id).await?;
    app.clear_token_cache();
    if !revoked {
        return Err(ApiError::NotFound(format!("live token {id}")));
    }
    Ok(with_detail(json!({"revoked": id}), format!("token {id}")))
}

#[derive(Deserialize)]
struct AuditQ {
    actor: Option<String>,
    since_ms: Option<i64>,
    limit: Option<u32>,
}

async fn audit_log(State(app): AppState, Query(q): Query<AuditQ>) -> ApiResult<Json<Value>> {
    let entries = app
        .store
        .audit_log(&AuditQuery {
            actor: q.actor,
            since_ms: q.since_ms,
            limit: q.limit.unwrap_or(100).min(10_000),
        })
        .await?;
    Ok(Json(json!({"entries": entries})))
}

async fn learn_cohorts(
    State(app): AppState,
    Query(q): Query<crate::cohorts::LearnOptions>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.learn_cohorts(body.to_vec(), q).await?))
}

async fn cohort_report(State(app): AppState) -> ApiResult<Json<Value>> {
    app.cohort_report()
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("learned cohorts (POST /api/cohorts/learn first)".into()))
}

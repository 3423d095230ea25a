//! User cohorts on the live twin: `POST /api/cohorts/learn` learns cohorts from an access log
//! or traces with user and session attributes (the body), stores them (the store setting
//! `cohorts.model`, as `cohorts.yaml`), and `GET /api/cohorts/report` answers with them and
//! their simulated experience on the twin in force: per cohort page latency percentiles,
//! errors, completion, lost sessions and goals, and the ranked what-ifs, the same JSON as
//! `doppel users report --json`. Learning and simulating run on blocking threads; the report
//! is computed once per learned model and twin version and kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use doppel_import::access_log::traces::{TraceMapping, TraceReader};
use doppel_import::access_log::{AccessLogReader, Format, JsonMapping};
use doppel_model::Twin;
use doppel_users::experience::{ExperienceReport, ExperienceSettings, experience};
use doppel_users::{CohortBy, CohortSet, LearnSettings, Learner};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{App, Error, now_ms};

/// The store setting holding the learned model.
const MODEL_KEY: &str = "cohorts.model";

/// Diagnostics kept from one learning (the rest are counted).
const MAX_DIAGNOSTICS: usize = 20;

/// What the body of a learn call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Decided from the body: traces when its first line holds `resourceSpans`, `"data"` or
    /// `"spans"`, else an access log.
    #[default]
    Auto,
    /// An access log (NCSA or JSON lines).
    Log,
    /// OTLP JSON or Jaeger JSON traces.
    Traces,
}

/// Options of a learn call (query parameters).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LearnOptions {
    /// What the body is.
    #[serde(default)]
    pub source: Source,
    /// Cohorts by these attributes, comma-separated (default `device`).
    pub by: Option<String>,
    /// Cohorts by behaviour: k-means, k up to this.
    pub cluster: Option<usize>,
    /// Total sessions per second to simulate (default: the learned busiest hour's).
    pub rate: Option<f64>,
    /// Cohort attributes to keep, comma-separated `name:field` pairs (`region:geo.region`): a
    /// span or resource attribute of traces, a field of JSON access-log lines.
    pub attributes: Option<String>,
}

/// The `attributes` option as name → field.
fn attribute_map(opts: &LearnOptions) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for pair in opts.attributes.iter().flat_map(|a| a.split(',')) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        match pair.split_once(':') {
            Some((n, f)) if !n.trim().is_empty() && !f.trim().is_empty() => {
                out.insert(n.trim().to_owned(), f.trim().to_owned());
            }
            _ => {
                return Err(Error::BadInput(format!(
                    "`attributes`: `{pair}` is not NAME:FIELD (e.g. region:geo.region)"
                )));
            }
        }
    }
    Ok(out)
}

/// The learned model as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    learned_at_ms: i64,
    source: String,
    rate: Option<f64>,
    diagnostics: Vec<String>,
    /// `cohorts.yaml`.
    model: String,
}

/// Cohorts in memory: the model and its report for one twin version.
#[derive(Default)]
pub struct State {
    model: Option<(Stored, Arc<CohortSet>)>,
    report: Option<(i64, Arc<Value>)>,
}

/// Learns cohorts from `body` (blocking: call on a blocking thread). Returns the cohorts, the
/// diagnostics (the first [`MAX_DIAGNOSTICS`], then a count) and what the body was.
pub fn learn(
    body: &[u8],
    opts: &LearnOptions,
) -> Result<(CohortSet, Vec<String>, &'static str), Error> {
    let cohorts = match (opts.cluster, &opts.by) {
        (Some(k), _) => CohortBy::Behaviour { max_k: k.max(1) },
        (None, Some(by)) => {
            let list: Vec<String> = by
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if list.is_empty() || list.iter().any(|b| b == "none" || b == "all") {
                CohortBy::All
            } else {
                CohortBy::Attributes(list)
            }
        }
        (None, None) => CohortBy::Attributes(vec!["device".into()]),
    };
    let mut learner = Learner::new(LearnSettings {
        cohorts,
        ..LearnSettings::default()
    })
    .map_err(|e| Error::BadInput(e.to_string()))?;
    let first_line = body
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    let looks_like_traces = [&b"\"resourceSpans\""[..], b"\"data\"", b"\"spans\""]
        .iter()
        .any(|k| first_line.windows(k.len()).any(|w| w == *k))
        || first_line.trim_ascii() == b"{";
    let traces = match opts.source {
        Source::Traces => true,
        Source::Log => false,
        Source::Auto => looks_like_traces,
    };
    let mut diagnostics = Vec::new();
    let mut problems = 0u64;
    let mut note = |d: doppel_import::Diagnostic| {
        problems += 1;
        if diagnostics.len() < MAX_DIAGNOSTICS {
            diagnostics.push(d.to_string());
        }
    };
    let attributes = attribute_map(opts)?;
    if traces {
        let mapping = TraceMapping {
            attributes,
            ..TraceMapping::default()
        };
        let mut reader = TraceReader::new(body, "body", mapping);
        for item in reader.by_ref() {
            match item {
                Ok(r) => learner.push(&r),
                Err(d) => note(d),
            }
        }
        let s = reader.stats();
        learner.add_file("body", s.lines, s.malformed);
    } else {
        let format = if attributes.is_empty() {
            Format::Auto
        } else {
            Format::Json(Box::new(JsonMapping {
                attributes,
                ..JsonMapping::default()
            }))
        };
        let mut reader = AccessLogReader::new(body, "body", format);
        for item in reader.by_ref() {
            match item {
                Ok(r) => learner.push(&r),
                Err(d) => note(d),
            }
        }
        let s = reader.stats();
        learner.add_file("body", s.lines, s.malformed);
    }
    if problems > MAX_DIAGNOSTICS as u64 {
        diagnostics.push(format!(
            "... and {} more",
            problems - MAX_DIAGNOSTICS as u64
        ));
    }
    let (set, _) = learner
        .finish()
        .map_err(|e| Error::BadInput(format!("{e}; {}", diagnostics.join("; "))))?;
    Ok((set, diagnostics, if traces { "traces" } else { "log" }))
}

/// The experience settings of the live twin's report: two replications of 120 simulated
/// seconds at the stored rate.
pub fn report_settings(rate: Option<f64>) -> ExperienceSettings {
    ExperienceSettings {
        sessions_per_s: rate,
        duration_s: 120.0,
        warmup_s: 12.0,
        ..ExperienceSettings::default()
    }
}

/// Simulates the cohorts' experience on `twin` (blocking).
pub fn report(twin: &Twin, set: &CohortSet, rate: Option<f64>) -> Result<ExperienceReport, Error> {
    experience(twin, set, &report_settings(rate)).map_err(|e| Error::BadInput(e.to_string()))
}

impl App {
    /// Learns cohorts from `body` and stores them (replacing the previous model); the report
    /// is computed on the next read.
    pub async fn learn_cohorts(&self, body: Vec<u8>, opts: LearnOptions) -> Result<Value, Error> {
        if opts.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return Err(Error::BadInput(
                "`rate` must be a positive number of sessions per second".into(),
            ));
        }
        let o = opts.clone();
        let (set, diagnostics, source) = tokio::task::spawn_blocking(move || learn(&body, &o))
            .await
            .map_err(|e| Error::BadInput(format!("learning stopped: {e}")))??;
        let model = doppel_users::file::to_yaml(&set, "cohorts learned by the live twin")
            .map_err(|e| Error::BadInput(e.to_string()))?;
        let stored = Stored {
            learned_at_ms: now_ms(),
            source: source.to_owned(),
            rate: opts.rate,
            diagnostics,
            model,
        };
        let text = serde_json::to_string(&stored).map_err(|e| Error::BadInput(e.to_string()))?;
        self.store.set_setting(MODEL_KEY, &text).await?;
        let summary = summary(&stored, &set);
        let mut st = self.cohorts.lock().await;
        st.model = Some((stored, Arc::new(set)));
        st.report = None;
        Ok(summary)
    }

    /// The learned cohorts and their report on the twin in force (computed when missing or
    /// when the twin changed). `None` when no cohorts were learned.
    pub async fn cohort_report(&self) -> Result<Option<Value>, Error> {
        let mut st = self.cohorts.lock().await;
        if st.model.is_none() {
            let Some(text) = self.store.setting(MODEL_KEY).await? else {
                return Ok(None);
            };
            let stored: Stored = serde_json::from_str(&text)
                .map_err(|e| Error::BadInput(format!("stored cohorts: {e}")))?;
            let set = doppel_users::file::from_yaml(MODEL_KEY, &stored.model)
                .map_err(|e| Error::BadInput(format!("stored cohorts: {e}")))?;
            st.model = Some((stored, Arc::new(set)));
        }
        let Some((stored, set)) = st.model.clone() else {
            return Ok(None);
        };
        let cur = self.current();
        let report = match &st.report {
            Some((v, r)) if *v == cur.version => Arc::clone(r),
            _ => {
                let twin = cur.twin.clone();
                let s = Arc::clone(&set);
                let rate = stored.rate;
                let r = tokio::task::spawn_blocking(move || report(&twin, &s, rate))
                    .await
                    .map_err(|e| Error::BadInput(format!("the report stopped: {e}")))??;
                let v =
                    Arc::new(serde_json::to_value(&r).map_err(|e| Error::BadInput(e.to_string()))?);
                st.report = Some((cur.version, Arc::clone(&v)));
                v
            }
        };
        let mut out = summary(&stored, &set);
        out["twin_version"] = json!(cur.version);
        out["report"] = (*report).clone();
        Ok(Some(out))
    }
}

/// What was learned, without the report.
fn summary(stored: &Stored, set: &CohortSet) -> Value {
    let cohorts: Vec<Value> = set
        .cohorts
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "description": c.description,
                "attributes": c.attributes.iter().collect::<BTreeMap<_, _>>(),
                "sessions": c.sessions,
                "share": c.share,
                "pages_mean": c.pages_mean,
                "goal_share": c.goal_share,
                "error_rate": c.error_rate,
                "by_hour": c.arrivals.by_hour,
            })
        })
        .collect();
    json!({
        "learned_at_ms": stored.learned_at_ms,
        "source": stored.source,
        "rate": stored.rate,
        "diagnostics": stored.diagnostics,
        "cohorts_by": set.cohorts_by,
        "sessions": set.source.sessions,
        "days": set.source.days,
        "cohorts": cohorts,
    })
}

//! The results table of a sweep: one row per (scenario, parameter values), each figure the mean
//! over replications with its 95% Student-t interval, and SLO verdicts. Built from the results
//! in task order, so the same results give the same bytes however they were computed.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::spec::Sweep;
use crate::task::{Measured, TaskResult};
use crate::{Result, SweepError};

/// A figure over replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The mean.
    pub mean: f64,
    /// 95% confidence interval of the mean (Student t; none with fewer than 2 values).
    pub ci95: Option<[f64; 2]>,
    /// Replications that had a value.
    pub n: u32,
}

/// Mean and 95% Student-t interval; `None` when there is no value.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = values.iter().sum::<f64>() / nf;
    let ci95 = if n >= 2 {
        let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (nf - 1.0);
        StudentsT::new(0.0, 1.0, nf - 1.0)
            .ok()
            .map(|t| t.inverse_cdf(0.975) * (var / nf).sqrt())
            .map(|h| [mean - h, mean + h])
    } else {
        None
    };
    Some(Estimate {
        mean,
        ci95,
        n: n as u32,
    })
}

/// A workload in a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadRow {
    /// The workload.
    pub name: String,
    /// Completed requests per second.
    pub throughput_rps: Option<Estimate>,
    /// Share of requests that failed.
    pub error_rate: Option<Estimate>,
    /// Mean latency, ms.
    pub mean_ms: Option<Estimate>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<Estimate>,
}

/// An SLO in a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloRow {
    /// The SLO.
    pub name: String,
    /// E.g. `availability >= 99.9%`.
    pub objective: String,
    /// `ms` or `%`.
    pub unit: String,
    /// The threshold.
    pub threshold: f64,
    /// Achieved, over the replications that had data.
    pub achieved: Option<Estimate>,
    /// Replications in which the objective held.
    pub met_replications: u32,
    /// `met` when the mean achieved value meets the objective, `broken` when not, `no data`.
    pub verdict: String,
}

/// One (scenario, parameter values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The scenario's display name.
    pub scenario: String,
    /// The scenario file.
    pub file: String,
    /// Parameter values by name.
    pub params: serde_json::Map<String, Value>,
    /// Replications run.
    pub replications: u32,
    /// Per workload.
    pub workloads: Vec<WorkloadRow>,
    /// Per SLO.
    pub slos: Vec<SloRow>,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// The sweep's id.
    pub sweep: String,
    /// The seed.
    pub seed: u64,
    /// Replications per row.
    pub replications: u32,
    /// Tasks run.
    pub tasks: u32,
    /// Rows in scenario, then parameter order.
    pub rows: Vec<Row>,
}

impl Table {
    /// Aggregates `results` (any order, duplicates ignored, every task present) of `sweep`.
    pub fn build(sweep: &Sweep, results: &[TaskResult]) -> Result<Table> {
        let n = sweep.len();
        let mut by_index: Vec<Option<&Measured>> = vec![None; n];
        for r in results {
            let Some(slot) = by_index.get_mut(r.index as usize) else {
                continue;
            };
            match &r.outcome {
                Ok(m) => *slot = Some(m),
                Err(e) => {
                    return Err(SweepError::Sim {
                        file: format!("task {}", r.index),
                        message: e.clone(),
                    });
                }
            }
        }
        let missing = by_index.iter().filter(|m| m.is_none()).count();
        if missing > 0 {
            return Err(SweepError::Corrupt {
                what: "results".into(),
                message: format!("{missing} of {n} tasks have no result"),
            });
        }
        let reps = sweep.replications as usize;
        let mut rows = Vec::with_capacity(sweep.variants());
        for v in 0..sweep.variants() {
            let Some(task) = sweep.task(v * reps) else {
                break;
            };
            let ms: Vec<&Measured> = by_index[v * reps..(v + 1) * reps]
                .iter()
                .filter_map(|m| *m)
                .collect();
            let Some(first) = ms.first() else { continue };
            let workloads = first
                .workloads
                .iter()
                .enumerate()
                .map(|(w, head)| {
                    let col = |f: fn(&crate::task::WorkloadFigures) -> f64| {
                        let xs: Vec<f64> = ms
                            .iter()
                            .filter_map(|m| m.workloads.get(w).map(f))
                            .filter(|x| x.is_finite())
                            .collect();
                        estimate(&xs)
                    };
                    WorkloadRow {
                        name: head.name.clone(),
                        throughput_rps: col(|x| x.throughput_rps),
                        error_rate: col(|x| x.error_rate),
                        mean_ms: col(|x| x.mean_ms),
                        p99_ms: col(|x| x.p99_ms),
                    }
                })
                .collect();
            let slos = first
                .slos
                .iter()
                .enumerate()
                .map(|(k, head)| {
                    let achieved: Vec<f64> = ms
                        .iter()
                        .filter_map(|m| m.slos.get(k).and_then(|s| s.achieved))
                        .collect();
                    let met = ms
                        .iter()
                        .filter(|m| m.slos.get(k).is_some_and(|s| s.met))
                        .count() as u32;
                    let est = estimate(&achieved);
                    let verdict = match &est {
                        None => "no data",
                        Some(e) => {
                            let excess = if head.unit == "ms" {
                                e.mean - head.threshold
                            } else {
                                head.threshold - e.mean
                            };
                            if excess <= 1e-9 { "met" } else { "broken" }
                        }
                    };
                    SloRow {
                        name: head.name.clone(),
                        objective: head.objective.clone(),
                        unit: head.unit.clone(),
                        threshold: head.threshold,
                        achieved: est,
                        met_replications: met,
                        verdict: verdict.into(),
                    }
                })
                .collect();
            rows.push(Row {
                scenario: first.scenario.clone(),
                file: task.scenario.clone(),
                params: task
                    .settings
                    .iter()
                    .map(|s| (s.name.clone(), s.value.clone()))
                    .collect(),
                replications: ms.len() as u32,
                workloads,
                slos,
            });
        }
        Ok(Table {
            sweep: sweep.id(),
            seed: sweep.seed,
            replications: sweep.replications,
            tasks: n as u32,
            rows,
        })
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// CSV in long form: one line per row and figure:
    /// `scenario,file,params,kind,name,figure,mean,ci95_low,ci95_high,n,verdict`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "scenario,file,params,kind,name,figure,mean,ci95_low,ci95_high,n,verdict\n",
        );
        for row in &self.rows {
            let params: Vec<String> = row
                .params
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            let head = format!(
                "{},{},{}",
                csv_field(&row.scenario),
                csv_field(&row.file),
                csv_field(&params.join(";"))
            );
            let mut line = |kind: &str, name: &str, figure: &str, e: &Option<Estimate>, v: &str| {
                let (mean, lo, hi, n) = match e {
                    Some(e) => (
                        e.mean.to_string(),
                        e.ci95.map_or(String::new(), |c| c[0].to_string()),
                        e.ci95.map_or(String::new(), |c| c[1].to_string()),
                        e.n.to_string(),
                    ),
                    None => Default::default(),
                };
                let _ = writeln!(
                    out,
                    "{head},{kind},{},{figure},{mean},{lo},{hi},{n},{v}",
                    csv_field(name)
                );
            };
            for w in &row.workloads {
                line("workload", &w.name, "throughput_rps", &w.throughput_rps, "");
                line("workload", &w.name, "error_rate", &w.error_rate, "");
                line("workload", &w.name, "mean_ms", &w.mean_ms, "");
                line("workload", &w.name, "p99_ms", &w.p99_ms, "");
            }
            for s in &row.slos {
                line("slo", &s.name, &s.unit, &s.achieved, &s.verdict);
            }
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn estimate_matches_the_textbook_interval() {
        // Mean 3, s = sqrt(2.5), t(0.975; 4) = 2.7764451: half-width 2.7764451 * sqrt(2.5/5).
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(e.mean, 3.0);
        let [lo, hi] = e.ci95.unwrap();
        let half = 2.776_445_1 * (0.5f64).sqrt();
        assert!((hi - 3.0 - half).abs() < 1e-6 && (3.0 - lo - half).abs() < 1e-6);
        assert!(estimate(&[1.0]).unwrap().ci95.is_none());
        assert!(estimate(&[]).is_none());
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}

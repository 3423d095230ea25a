//! What a sweep runs: scenarios × parameter values × replications, and its id (the hash of all
//! of it, so running the same sweep again finds and resumes it).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::Task;
use crate::{Result, SweepError};

/// A swept parameter: a dotted path into the twin (as in a scenario's `changes`, e.g.
/// `services.cart.replicas`) and the values it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The dotted path.
    pub name: String,
    /// The values, in the order given.
    pub values: Vec<Value>,
}

impl Param {
    /// Parses `name=v1,v2,...`. Values are integers, numbers, `true`/`false`, or else strings
    /// (`250ms`, `2Gi` and the twin's other units are strings the model parses).
    pub fn parse(arg: &str) -> Result<Param> {
        let Some((name, values)) = arg.split_once('=') else {
            return Err(SweepError::Usage(format!(
                "--param `{arg}`: expected NAME=V1,V2,... (e.g. services.cart.replicas=2,4)"
            )));
        };
        let name = name.trim();
        if name.is_empty() || name.split('.').any(str::is_empty) {
            return Err(SweepError::Usage(format!(
                "--param `{arg}`: the name must be a dotted path such as services.cart.replicas"
            )));
        }
        let values: Vec<Value> = values.split(',').map(|v| scalar(v.trim())).collect();
        if values.iter().any(|v| v.as_str() == Some("")) {
            return Err(SweepError::Usage(format!(
                "--param `{arg}`: an empty value"
            )));
        }
        Ok(Param {
            name: name.to_owned(),
            values,
        })
    }
}

fn scalar(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v.to_owned()),
    }
}

/// One parameter's value in a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// The dotted path.
    pub name: String,
    /// The value.
    pub value: Value,
}

/// The merge patch of the twin that `settings` make (`a.b=1` → `{"a": {"b": 1}}`).
pub fn patch_of(settings: &[Setting]) -> Value {
    let mut root = Value::Object(Default::default());
    for s in settings {
        let mut cur = &mut root;
        let parts: Vec<&str> = s.name.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Value::Object(map) = cur else { break };
            if i + 1 == parts.len() {
                map.insert((*part).to_owned(), s.value.clone());
                break;
            }
            cur = map
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Default::default()));
        }
    }
    root
}

/// A sweep: everything that decides its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Content hash of the [`crate::Bundle`] holding the twin and the scenarios.
    pub bundle: String,
    /// Scenario files (paths in the bundle), in order.
    pub scenarios: Vec<String>,
    /// Swept parameters; every combination of their values is run.
    pub params: Vec<Param>,
    /// Replications of every (scenario, values).
    pub replications: u32,
    /// The seed: replication `r` uses the random stream `r` of this seed.
    pub seed: u64,
    /// Simulated seconds per replication when a scenario gives no `duration`.
    pub duration: f64,
    /// Warm-up seconds when a scenario gives no `warmup`.
    pub warmup: f64,
}

impl Sweep {
    /// The sweep's id: the first 16 hex digits of the SHA-256 of its canonical JSON.
    pub fn id(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        crate::sha256_hex(&bytes)[..16].to_owned()
    }

    /// Number of parameter combinations (1 without parameters).
    pub fn combinations(&self) -> usize {
        self.params.iter().map(|p| p.values.len()).product()
    }

    /// Number of (scenario, values) pairs: the rows of the results table.
    pub fn variants(&self) -> usize {
        self.scenarios.len() * self.combinations()
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.variants() * self.replications as usize
    }

    /// True when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The settings of combination `c` (the last parameter varies fastest).
    pub fn settings(&self, mut c: usize) -> Vec<Setting> {
        let mut out = Vec::with_capacity(self.params.len());
        for p in self.params.iter().rev() {
            let n = p.values.len().max(1);
            if let Some(v) = p.values.get(c % n) {
                out.push(Setting {
                    name: p.name.clone(),
                    value: v.clone(),
                });
            }
            c /= n;
        }
        out.reverse();
        out
    }

    /// Task `index`: scenario-major, then combination, then replication.
    pub fn task(&self, index: usize) -> Option<Task> {
        if index >= self.len() {
            return None;
        }
        let reps = self.replications as usize;
        let variant = index / reps;
        let replication = (index % reps) as u32;
        let combos = self.combinations();
        let scenario = self.scenarios.get(variant / combos)?.clone();
        Some(Task {
            sweep: self.id(),
            index: index as u32,
            variant: variant as u32,
            bundle: self.bundle.clone(),
            scenario,
            settings: self.settings(variant % combos),
            replication,
            seed: self.seed,
            duration: self.duration,
            warmup: self.warmup,
        })
    }

    /// Every task, in index order.
    pub fn tasks(&self) -> Vec<Task> {
        (0..self.len()).filter_map(|i| self.task(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sweep() -> Sweep {
        Sweep {
            bundle: "b".into(),
            scenarios: vec!["a.yaml".into(), "b.yaml".into()],
            params: vec![
                Param::parse("services.api.replicas=1,2,3").unwrap(),
                Param::parse("x.y=on,off").unwrap(),
            ],
            replications: 4,
            seed: 7,
            duration: 60.0,
            warmup: 0.0,
        }
    }

    #[test]
    fn params_parse_as_scalars() {
        let p = Param::parse("services.cart.service_time.mean=10ms, 2.5,3,true").unwrap();
        assert_eq!(p.name, "services.cart.service_time.mean");
        assert_eq!(
            p.values,
            vec![
                Value::from("10ms"),
                Value::from(2.5),
                Value::from(3),
                Value::from(true)
            ]
        );
        for bad in ["novalue", "=1", "a..b=1", "a=1,,2"] {
            assert!(Param::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tasks_cover_the_cross_product_once_each() {
        let s = sweep();
        assert_eq!(s.len(), 2 * 3 * 2 * 4);
        let tasks = s.tasks();
        assert_eq!(tasks.len(), 48);
        let mut seen = std::collections::HashSet::new();
        for t in &tasks {
            let key = serde_json::to_string(&(&t.scenario, &t.settings, t.replication)).unwrap();
            assert!(seen.insert(key), "duplicate task {}", t.index);
        }
        // Task 13 = variant 3 (scenario a, replicas 2, x.y off), replication 1.
        let t = &tasks[13];
        assert_eq!((t.variant, t.replication), (3, 1));
        assert_eq!(t.scenario, "a.yaml");
        assert_eq!(
            patch_of(&t.settings),
            serde_json::json!({"services": {"api": {"replicas": 2}}, "x": {"y": "off"}})
        );
        assert!(s.task(48).is_none());
    }

    #[test]
    fn the_id_changes_with_anything_that_changes_results() {
        let s = sweep();
        assert_eq!(s.id(), sweep().id());
        assert_eq!(s.id().len(), 16);
        let mut t = sweep();
        t.seed = 8;
        assert_ne!(s.id(), t.id());
        let mut t = sweep();
        t.bundle = "c".into();
        assert_ne!(s.id(), t.id());
    }
}

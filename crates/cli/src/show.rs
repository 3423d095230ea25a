//! `doppel show`: a readable summary of a twin for a terminal.

use std::collections::HashSet;
use std::fmt::Write;

use doppel_model::{Distribution, Loaded, Twin};

/// One line: what was loaded, for `doppel validate`.
pub fn one_line(loaded: &Loaded) -> String {
    let t = &loaded.twin;
    let warnings = loaded.diagnostics.len();
    let files = loaded.files.len();
    format!(
        "ok: {} ({} {}): {}{}",
        t.name.as_deref().unwrap_or("twin"),
        files,
        if files == 1 { "file" } else { "files" },
        counts(t),
        match warnings {
            0 => String::new(),
            1 => ", 1 warning".into(),
            n => format!(", {n} warnings"),
        }
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts(t: &Twin) -> String {
    let instances = t.all_instances().len();
    let endpoints: usize = t.services.values().map(|s| s.endpoints.len()).sum();
    let mut parts = vec![
        plural(t.zones.len(), "zone", "zones"),
        plural(t.hosts.len(), "host", "hosts"),
        plural(t.services.len(), "service", "services"),
        plural(instances, "instance", "instances"),
        plural(endpoints, "endpoint", "endpoints"),
        plural(t.workloads.len(), "workload", "workloads"),
        plural(t.slos.len(), "SLO", "SLOs"),
    ];
    let vulns: usize = t
        .hosts
        .values()
        .filter_map(|h| h.security.as_ref())
        .chain(t.services.values().filter_map(|s| s.security.as_ref()))
        .map(|s| s.vulnerabilities.len())
        .sum();
    if vulns > 0 {
        parts.push(plural(vulns, "vulnerability", "vulnerabilities"));
    }
    parts.join(", ")
}

/// Left-aligned columns separated by two spaces; trailing spaces trimmed.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn dist(d: &Distribution) -> String {
    match d {
        Distribution::Constant { value } => format!("constant {value}"),
        Distribution::Exponential { mean } => format!("exponential mean {mean}"),
        Distribution::Lognormal { mean, p99 } => format!("lognormal mean {mean} p99 {p99}"),
        Distribution::Uniform { min, max } => format!("uniform {min}..{max}"),
        Distribution::Empirical { buckets } => format!("empirical ({} buckets)", buckets.len()),
    }
}

fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The full summary.
pub fn render(loaded: &Loaded) -> String {
    let t = &loaded.twin;
    let mut out = String::new();
    let _ = writeln!(out, "{}", t.name.as_deref().unwrap_or("twin"));
    if let Some(d) = &t.description {
        let _ = writeln!(out, "{}", d.trim());
    }
    let _ = writeln!(out, "{}", counts(t));
    let instances = t.all_instances();

    if !t.zones.is_empty() {
        out.push_str("\nZones\n");
        let rows: Vec<Vec<String>> = t
            .zones
            .iter()
            .map(|(name, z)| {
                let hosts: Vec<_> = t
                    .hosts
                    .values()
                    .filter(|h| h.zone.as_deref() == Some(name))
                    .collect();
                let cores: f64 = hosts.iter().map(|h| h.cores).sum();
                let n_inst = instances
                    .iter()
                    .filter(|i| i.zone.as_deref() == Some(name))
                    .count();
                vec![
                    name.clone(),
                    z.region
                        .clone()
                        .map(|r| format!("region {r}"))
                        .unwrap_or_default(),
                    plural(hosts.len(), "host", "hosts"),
                    format!("{cores} cores"),
                    plural(n_inst, "instance", "instances"),
                ]
            })
            .collect();
        table(&mut out, &rows);
    }

    if !t.services.is_empty() {
        out.push_str("\nServices\n");
        let mut rows = vec![vec![
            "NAME".to_owned(),
            "KIND".into(),
            "VERSION".into(),
            "INSTANCES".into(),
            "WORKERS".into(),
            "QUEUE".into(),
            "ENDPOINTS".into(),
        ]];
        for (name, s) in &t.services {
            let n = instances.iter().filter(|i| &i.service == name).count();
            let eps: Vec<String> = s
                .endpoints
                .iter()
                .map(|(e, ep)| format!("{e} ({})", dist(&ep.service_time)))
                .collect();
            rows.push(vec![
                name.clone(),
                kebab(&s.kind),
                s.version.clone().unwrap_or_else(|| "-".into()),
                n.to_string(),
                s.concurrency.workers.to_string(),
                s.concurrency
                    .queue_limit
                    .map_or_else(|| "-".into(), |q| q.to_string()),
                eps.join(", "),
            ]);
        }
        table(&mut out, &rows);
    }

    if !t.workloads.is_empty() {
        out.push_str("\nWorkloads\n");
        let rows: Vec<Vec<String>> = t
            .workloads
            .iter()
            .map(|(name, w)| {
                let load = match (&w.open, &w.closed) {
                    (Some(o), _) if o.rate.is_some() => {
                        format!("open {}", o.rate.map(|r| r.to_string()).unwrap_or_default())
                    }
                    (Some(o), _) => format!("open, schedule of {} rates", o.schedule.len()),
                    (None, Some(c)) => {
                        format!("closed {} users, think {}", c.users, dist(&c.think_time))
                    }
                    (None, None) => "-".into(),
                };
                let start = w
                    .flow
                    .start
                    .clone()
                    .or_else(|| w.flow.steps.keys().next().cloned())
                    .unwrap_or_default();
                vec![
                    name.clone(),
                    load,
                    format!(
                        "{} from `{start}`",
                        plural(w.flow.steps.len(), "step", "steps")
                    ),
                ]
            })
            .collect();
        table(&mut out, &rows);
    }

    if !t.slos.is_empty() {
        out.push_str("\nSLOs\n");
        let rows: Vec<Vec<String>> = t
            .slos
            .iter()
            .map(|(name, s)| {
                let target = match (&s.workload, &s.service, &s.endpoint) {
                    (Some(w), _, _) => format!("workload {w}"),
                    (None, Some(svc), Some(e)) => format!("endpoint {svc}.{e}"),
                    (None, Some(svc), None) => format!("service {svc}"),
                    _ => "-".into(),
                };
                let objective = match (&s.latency, &s.availability) {
                    (Some(l), _) => format!("p{} < {}", l.percentile, l.threshold),
                    (None, Some(a)) => format!("availability ≥ {a}"),
                    _ => "-".into(),
                };
                vec![name.clone(), target, objective]
            })
            .collect();
        table(&mut out, &rows);
    }

    let roots = call_roots(t);
    if !roots.is_empty() {
        out.push_str("\nCall graph\n");
        for (svc, ep) in roots {
            let _ = writeln!(out, "  {svc}.{ep}");
            let mut path = vec![(svc.clone(), ep.clone())];
            call_tree(t, &svc, &ep, "  ", &mut path, &mut out);
        }
    }
    out
}

/// Where the call graph starts: the endpoints workloads visit, then endpoints nobody calls.
fn call_roots(t: &Twin) -> Vec<(String, String)> {
    let mut roots: Vec<(String, String)> = Vec::new();
    let mut called: HashSet<(String, String)> = HashSet::new();
    for svc in t.services.values() {
        for ep in svc.endpoints.values() {
            for step in &ep.calls {
                for c in step.calls() {
                    if let Ok(e) = t.resolve_endpoint(&c.service, c.endpoint.as_deref()) {
                        called.insert((c.service.clone(), e.to_owned()));
                    }
                }
            }
        }
    }
    for w in t.workloads.values() {
        for step in w.flow.steps.values() {
            if let Ok(e) = t.resolve_endpoint(&step.service, step.endpoint.as_deref()) {
                let key = (step.service.clone(), e.to_owned());
                if !roots.contains(&key) {
                    roots.push(key);
                }
            }
        }
    }
    for (s, svc) in &t.services {
        for e in svc.endpoints.keys() {
            let key = (s.clone(), e.clone());
            if !called.contains(&key) && !roots.contains(&key) {
                roots.push(key);
            }
        }
    }
    roots
}

fn call_tree(
    t: &Twin,
    svc: &str,
    ep: &str,
    indent: &str,
    path: &mut Vec<(String, String)>,
    out: &mut String,
) {
    let Some(endpoint) = t.services.get(svc).and_then(|s| s.endpoints.get(ep)) else {
        return;
    };
    let items: Vec<(String, String, String)> = endpoint
        .calls
        .iter()
        .flat_map(|step| {
            let parallel =
                step.calls().len() > 1 || matches!(step, doppel_model::CallStep::Parallel(_));
            step.calls().iter().map(move |c| (c, parallel))
        })
        .filter_map(|(c, parallel)| {
            let e = t.resolve_endpoint(&c.service, c.endpoint.as_deref()).ok()?;
            let mut notes = Vec::new();
            if parallel {
                notes.push("parallel".to_owned());
            }
            if c.count != 1 {
                notes.push(format!("×{}", c.count));
            }
            if c.probability != 1.0 {
                notes.push(format!("p={}", c.probability));
            }
            if let Some(to) = c.timeout {
                notes.push(format!("timeout {to}"));
            }
            if let Some(r) = &c.retries {
                notes.push(format!("retries {}", r.max));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join(", "))
            };
            Some((c.service.clone(), e.to_owned(), notes))
        })
        .collect();
    for (i, (s, e, notes)) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let branch = if last { "└── " } else { "├── " };
        let key = (s.clone(), e.clone());
        let cycle = if path.contains(&key) { "  (cycle)" } else { "" };
        let _ = writeln!(out, "{indent}{branch}{s}.{e}{notes}{cycle}");
        if cycle.is_empty() {
            path.push(key);
            let child_indent = format!("{indent}{}", if last { "    " } else { "│   " });
            call_tree(t, s, e, &child_indent, path, out);
            path.pop();
        }
    }
}

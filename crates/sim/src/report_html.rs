//! `--format html`: a self-contained report (inline CSS and SVG, no script, nothing fetched
//! from the network) with the timeline's charts (throughput, p99 latency, errors by cause,
//! replicas) and the scenario's events marked on them, the SLO verdicts and the decisions.

use std::fmt::Write as _;

use crate::SimReport;
use crate::report::{Bucket, SloVerdict};

/// A failure cause: its name and how to read it from a bucket.
type Cause = (&'static str, fn(&Bucket) -> f64);

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One line of a chart.
struct Line {
    name: String,
    color: String,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// An SVG line chart with vertical event marks.
fn chart(title: &str, unit: &str, lines: &[Line], marks: &[(f64, String)], t_max: f64) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 240.0, 60.0, 20.0, 28.0, 30.0);
    let y_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.08;
    let t_max = t_max.max(1e-9);
    let x = |t: f64| left + (w - left - right) * t / t_max;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / y_max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    // Axes and grid.
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" class="ax" text-anchor="end">{}</text>"##,
            w - right,
            left - 4.0,
            y(v) + 4.0,
            short(v),
            yy = y(v)
        );
    }
    for k in 0..=6 {
        let t = t_max * f64::from(k) / 6.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="ax" text-anchor="middle">{}s</text>"#,
            x(t),
            h - 10.0,
            short(t)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{left}" y="16" class="ax">{}</text>"#,
        esc(unit)
    );
    // Events.
    for (k, (t, label)) in marks.iter().enumerate() {
        let xx = x(*t);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{}" stroke="#555" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" class="ev">{}</text>"##,
            h - bottom,
            xx + 3.0,
            top + 10.0 + 11.0 * (k % 4) as f64,
            esc(label)
        );
    }
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        let pts: Vec<String> = l
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.6" {} points="{}"><title>{}</title></polyline>"#,
            l.color,
            if l.dashed {
                r#"stroke-dasharray="6 3""#
            } else {
                ""
            },
            pts.join(" "),
            esc(&l.name)
        );
    }
    s.push_str("</svg><div class=\"legend\">");
    for l in lines {
        let _ = write!(
            s,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            l.color,
            esc(&l.name)
        );
    }
    s.push_str("</div></figure>\n");
    s
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The points of a bucket quantity, placed at the bucket's middle.
fn series(tl: &[Bucket], f: impl Fn(&Bucket) -> f64) -> Vec<(f64, f64)> {
    let width = tl.get(1).map_or(1.0, |b| b.t) - tl.first().map_or(0.0, |b| b.t);
    tl.iter().map(|b| (b.t + width / 2.0, f(b))).collect()
}

/// The charts of one or two runs (a second run is drawn dashed, as the baseline).
fn charts(runs: &[(&str, &SimReport)]) -> String {
    let Some((_, main)) = runs.first() else {
        return String::new();
    };
    let t_max = main.summary.sim_seconds;
    let marks: Vec<(f64, String)> = main
        .events
        .iter()
        .map(|e| (e.t, e.label.clone()))
        .chain(
            main.decisions
                .iter()
                .filter(|d| d.replication == 0 && d.kind != "autoscale")
                .map(|d| (d.t, format!("{} {}: {}", d.service, d.kind, d.outcome))),
        )
        .collect();
    let style = |k: usize, name: &str, base: &str| -> (String, bool, String) {
        let dashed = k > 0;
        let label = if runs.len() > 1 {
            format!("{name} ({base})")
        } else {
            name.to_owned()
        };
        (label, dashed, String::new())
    };
    let mut out = String::new();
    let mut lines = Vec::new();
    for (k, (run_name, r)) in runs.iter().enumerate() {
        let (name, dashed, _) = style(k, "throughput", run_name);
        lines.push(Line {
            name,
            color: COLORS[0].into(),
            dashed,
            points: series(&r.timeline, |b| b.throughput_rps),
        });
        let (name, dashed, _) = style(k, "arrivals", run_name);
        lines.push(Line {
            name,
            color: "#999".into(),
            dashed,
            points: series(&r.timeline, |b| b.arrivals_rps),
        });
    }
    out.push_str(&chart("Throughput", "requests/s", &lines, &marks, t_max));
    let mut lines = Vec::new();
    for (k, (run_name, r)) in runs.iter().enumerate() {
        let (name, dashed, _) = style(k, "p99", run_name);
        lines.push(Line {
            name,
            color: COLORS[1].into(),
            dashed,
            points: series(&r.timeline, |b| b.p99_ms),
        });
        let (name, dashed, _) = style(k, "p50", run_name);
        lines.push(Line {
            name,
            color: COLORS[0].into(),
            dashed,
            points: series(&r.timeline, |b| b.p50_ms),
        });
    }
    out.push_str(&chart(
        "Latency of successful requests",
        "ms",
        &lines,
        &marks,
        t_max,
    ));
    let mut lines = Vec::new();
    for (k, (run_name, r)) in runs.iter().enumerate() {
        let causes: [Cause; 4] = [
            ("timeout", |b| b.errors_rps.timeout),
            ("rejected", |b| b.errors_rps.rejected),
            ("failed", |b| b.errors_rps.failed),
            ("breaker open", |b| b.errors_rps.breaker_open),
        ];
        for (c, (cause, f)) in causes.iter().enumerate() {
            if r.timeline.iter().all(|b| f(b) == 0.0) {
                continue;
            }
            let (name, dashed, _) = style(k, cause, run_name);
            lines.push(Line {
                name,
                color: COLORS[(c + 1) % COLORS.len()].into(),
                dashed,
                points: series(&r.timeline, f),
            });
        }
    }
    out.push_str(&chart(
        "Errors by cause",
        "failed requests/s",
        &lines,
        &marks,
        t_max,
    ));
    let mut lines = Vec::new();
    for (k, (run_name, r)) in runs.iter().enumerate() {
        for (s, svc) in r.services.iter().enumerate() {
            let varies = r
                .timeline
                .windows(2)
                .any(|w| (w[0].services[s].replicas - w[1].services[s].replicas).abs() > 1e-6);
            if !varies && r.services.len() > 6 {
                continue;
            }
            let (name, dashed, _) = style(k, &svc.name, run_name);
            lines.push(Line {
                name,
                color: COLORS[s % COLORS.len()].into(),
                dashed,
                points: series(&r.timeline, |b| b.services[s].replicas),
            });
        }
    }
    out.push_str(&chart("Ready replicas", "replicas", &lines, &marks, t_max));
    out
}

fn slo_rows(v: &[SloVerdict], other: Option<&[SloVerdict]>) -> String {
    let mut s = String::new();
    for (k, x) in v.iter().enumerate() {
        let fmt =
            |a: Option<f64>, unit: &str| a.map_or("no data".into(), |a| format!("{a:.2} {unit}"));
        let base = other.and_then(|o| o.get(k));
        let flip = base.is_some_and(|b| b.met != x.met);
        let _ = write!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td><td><b>{}</b>{}</td><td>{}</td></tr>",
            if x.met { "ok" } else { "bad" },
            esc(&x.name),
            esc(&x.target),
            esc(&x.objective),
            base.map_or(String::new(), |b| format!(
                "<td>{} ({})</td>",
                fmt(b.achieved, &b.unit),
                if b.met { "met" } else { "broken" }
            )),
            fmt(x.achieved, &x.unit),
            if x.met { "met" } else { "BROKEN" },
            if flip { " (flips)" } else { "" },
            x.first_breach_s.map_or(String::new(), |t| format!(
                "{t:.0} s, {:.0} s in breach",
                x.breach_seconds
            ))
        );
    }
    s
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}
tr.bad td{{background:#fde8e8}}tr.ok td{{background:#eefbea}}
figure{{margin:1.5em 0}}figcaption{{font-weight:600}}.ax{{font-size:11px;fill:#555}}.ev{{font-size:10px;fill:#333}}
.legend span{{margin-right:1em;font-size:12px}}.legend i{{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}}
</style></head><body>
<h1>{}</h1>
{}
<p style="color:#777">Generated by doppel. Simulated time; same seed, same report.</p>
</body></html>
"#,
        esc(title),
        esc(title),
        body
    )
}

fn summary(r: &SimReport) -> String {
    let s = &r.summary;
    let mut out = format!(
        "<p>{:.0} s simulated ({:.0} s warm-up) × {} replication(s), seed {}; {} retries, {} timeouts, {} short-circuits.</p>",
        s.sim_seconds,
        s.warmup_seconds,
        s.replications,
        s.seed,
        s.retries,
        s.timeouts,
        s.short_circuits
    );
    out.push_str("<table><tr><th>workload</th><th>req/s</th><th>errors</th><th>mean ms</th><th>p99 ms</th></tr>");
    for w in &r.workloads {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.2}</td><td>{:.2}%</td><td>{:.2}</td><td>{:.2}</td></tr>",
            esc(&w.name),
            w.throughput_rps,
            w.error_rate * 100.0,
            w.latency_ms.mean,
            w.latency_ms.p99
        );
    }
    out.push_str("</table>");
    out
}

fn decisions(r: &SimReport) -> String {
    if r.decisions.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Decisions</h2><ul>");
    for d in &r.decisions {
        let _ = write!(
            out,
            "<li>t = {:.1} s (replication {}): {} {} <b>{}</b> {}</li>",
            d.t,
            d.replication,
            esc(&d.service),
            esc(&d.kind),
            esc(&d.outcome),
            esc(&d.detail)
        );
    }
    out.push_str("</ul>");
    out
}

/// The report of one run.
pub fn single(title: &str, r: &SimReport) -> String {
    let mut body = summary(r);
    if !r.slos.is_empty() {
        body.push_str("<h2>SLOs</h2><table><tr><th>SLO</th><th>target</th><th>objective</th><th>achieved</th><th>verdict</th><th>first breach</th></tr>");
        body.push_str(&slo_rows(&r.slos, None));
        body.push_str("</table>");
    }
    body.push_str(&decisions(r));
    body.push_str("<h2>Timeline</h2>");
    body.push_str(&charts(&[("run", r)]));
    page(title, &body)
}

/// The report of a comparison: the scenario drawn solid, the baseline dashed.
pub fn compare(title: &str, baseline: &SimReport, scenario: &SimReport) -> String {
    let mut body = String::from("<h2>Scenario</h2>");
    body.push_str(&summary(scenario));
    body.push_str("<h2>Baseline</h2>");
    body.push_str(&summary(baseline));
    if !scenario.slos.is_empty() {
        body.push_str("<h2>SLOs</h2><table><tr><th>SLO</th><th>target</th><th>objective</th><th>baseline</th><th>scenario</th><th>verdict</th><th>first breach</th></tr>");
        body.push_str(&slo_rows(&scenario.slos, Some(&baseline.slos)));
        body.push_str("</table>");
    }
    body.push_str(&decisions(scenario));
    body.push_str("<h2>Timeline</h2>");
    body.push_str(&charts(&[("scenario", scenario), ("baseline", baseline)]));
    page(title, &body)
}

//! End-to-end tests of `doppel simulate --scenario`, `doppel compare` and `doppel check` on
//! the shop and the scenarios in `examples/scenarios/`: exit codes as documented (0 every SLO
//! holds, 1 one breaks, 2 bad input), what the gate prints, the JSON keys, the HTML report's
//! self-containment, and same bytes on 1 or 2 threads.
#![allow(clippy::unwrap_used)]

mod common;
use common::{doppel_in as doppel, repo};

fn check(scenario: &str) -> (i32, String, String) {
    doppel(
        &repo(),
        &[
            "check",
            "examples/shop.yaml",
            "--scenario",
            &format!("examples/scenarios/{scenario}.yaml"),
        ],
    )
}

fn fail_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[test]
fn zone_outage_at_peak_breaks_the_write_path() {
    // The shop's only PostgreSQL primary is in eu-west-1a: checkouts cannot be written while
    // the zone is down (4 to 7 min), so checkout availability breaks, first within the minute
    // after the outage starts.
    let (code, out, err) = check("zone-outage-at-peak");
    assert_eq!(code, 1, "{out}{err}");
    let line = fail_lines(&out)
        .into_iter()
        .find(|l| l.contains("checkout-availability"))
        .unwrap_or_else(|| panic!("{out}"));
    let t: f64 = line
        .split("first breached at ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|x| x.parse().ok())
        .unwrap();
    assert!((240.0..=300.0).contains(&t), "{line}");
    assert!(
        line.contains("broken: achieved") && line.contains(" by "),
        "{line}"
    );
    assert!(out.ends_with("broken\n"), "{out}");
}

#[test]
fn black_friday_surge_breaks_home_latency_and_autoscales() {
    let (code, out, err) = check("black-friday");
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        fail_lines(&out).iter().any(|l| l.contains("home-latency")),
        "{out}"
    );
}

#[test]
fn retry_storm_and_slow_rollout_break_availability_and_latency() {
    let (code, out, _) = check("retry-storm");
    assert_eq!(code, 1, "{out}");
    assert!(
        fail_lines(&out)
            .iter()
            .any(|l| l.contains("checkout-availability")),
        "{out}"
    );
    let (code, out, _) = check("slow-rollout");
    assert_eq!(code, 1, "{out}");
    assert!(
        fail_lines(&out).iter().any(|l| l.contains("home-latency")),
        "{out}"
    );
}

#[test]
fn canary_rollback_is_decided_by_the_analysis_and_reported_in_json() {
    let (code, out, err) = doppel(
        &repo(),
        &[
            "simulate",
            "examples/shop.yaml",
            "--scenario",
            "examples/scenarios/canary-rollback.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "canary")
        .unwrap();
    assert_eq!(d["outcome"], "rollback", "{d}");
    assert_eq!(d["service"], "catalog");
    // The timeline covers the scenario's 10 minutes in 1 s buckets; SLO verdicts carry the
    // documented keys.
    assert_eq!(v["timeline"].as_array().unwrap().len(), 600);
    for key in ["name", "objective", "achieved", "met"] {
        assert!(v["slos"][0].get(key).is_some(), "slos[].{key}");
    }
    for key in ["t", "throughput_rps", "p99_ms", "errors_rps", "services"] {
        assert!(v["timeline"][0].get(key).is_some(), "timeline[].{key}");
    }
    assert_eq!(v["events"][0]["t"], 120.0);
}

#[test]
fn check_exits_0_when_every_slo_holds_and_2_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let shop = repo().join("examples/shop.yaml");
    let shop = shop.to_str().unwrap();
    std::fs::write(dir.path().join("calm.yaml"), "duration: 3m\nwarmup: 30s\n").unwrap();
    let (code, out, err) = doppel(dir.path(), &["check", shop, "--scenario", "calm.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 SLO verdict(s), 0 broken"), "{out}");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "events:\n  - {at: 1m, kill: {zone: eu-west-1c}}\n",
    )
    .unwrap();
    let (code, out, err) = doppel(dir.path(), &["check", shop, "--scenario", "bad.yaml"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err,
        "bad.yaml:2:27: events[0].kill.zone: unknown zone `eu-west-1c`\n"
    );
}

#[test]
fn compare_writes_a_self_contained_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.html");
    let (code, _, err) = doppel(
        &repo(),
        &[
            "compare",
            "examples/shop.yaml",
            "--scenario",
            "examples/scenarios/zone-outage-at-peak.yaml",
            "--replications",
            "2",
            "--format",
            "html",
            "-o",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&out_file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Four charts, the outage marked on them, the flipping SLOs listed; nothing to fetch.
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("eu-west-1a down"));
    assert!(html.contains("(flips)"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    let (code, text, _) = doppel(
        &repo(),
        &[
            "compare",
            "examples/shop.yaml",
            "--scenario",
            "examples/scenarios/zone-outage-at-peak.yaml",
            "--replications",
            "2",
        ],
    );
    assert_eq!(code, 0);
    assert!(text.contains("checkout-availability"), "{text}");
    assert!(text.contains("<- flips"), "{text}");
}

#[test]
fn scenario_runs_are_deterministic_across_threads() {
    let run = |threads: &str| {
        let (code, out, err) = doppel(
            &repo(),
            &[
                "simulate",
                "examples/shop.yaml",
                "--scenario",
                "examples/scenarios/zone-outage-at-peak.yaml",
                "--duration",
                "5m",
                "--replications",
                "3",
                "--threads",
                threads,
                "--format",
                "json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["summary"]["wall_seconds"] = serde_json::Value::Null;
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(run("1"), run("2"));
}

//! The web UI end to end in a real browser: starts the real `doppel demo` on a free port,
//! then runs `ui/e2e/run.mjs` (playwright-core driving Debian's Chromium headless) against it
//! with the printed admin token. The script logs in, checks the topology against
//! `/api/twin/graph` and the twin, the Security view's paths, fixes, graph and flow verdict
//! against `/api/security/*`, the Network view's links, drawings, MLU and failure table
//! against `/api/network/route`, the Cohorts view's cards and what-ifs against
//! `/api/cohorts/report`, opens a service, runs a scenario, checks a bad token's
//! error and times the first draw of a generated 2,000-node twin; any console error fails it.
//! Screenshots of every view, dark and light, land in the target directory
//! (`ui-e2e-shots/`).
//!
//! Needs Node.js 20+, `ui/node_modules` (the server's build script installs it) and Chromium
//! (`/usr/bin/chromium`, or `CHROMIUM`); without them the test says it is skipped, except
//! under `DOPPEL_CI=1`, where that is a failure.
#![allow(clippy::unwrap_used)]

mod common;
use common::repo;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills the demo when the test ends, whatever happens.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser test, if anything.
fn missing() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    let Some(version) = node
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    else {
        return Some("Node.js (`node`) is not installed".into());
    };
    // playwright-core needs Node.js 20 or newer.
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Some(format!(
            "Node.js {version} is too old for playwright-core (20+)"
        ));
    }
    if !repo().join("ui/node_modules/playwright-core").is_dir() {
        return Some("ui/node_modules has no playwright-core (run `npm ci` in ui/)".into());
    }
    if !chromium().is_file() {
        return Some(format!(
            "Chromium is not at {} (Debian: apt-get install chromium)",
            chromium().display()
        ));
    }
    if !doppel_server::ui::BUILT {
        return Some("the web UI was not built into doppel (see the build's warnings)".into());
    }
    None
}

/// A twin of exactly 2,000 topology nodes: 250 hosts over three zones, 250 services in
/// call chains of ten, six replicas each on six hosts in turn (1,500 instances, six a host).
fn big_twin() -> String {
    let mut s = String::from("zones: {za: {}, zb: {}, zc: {}}\nhosts:\n");
    for k in 0..250 {
        let _ = writeln!(
            s,
            "  h{k:03}: {{zone: z{}, cores: 16}}",
            ["a", "b", "c"][k % 3]
        );
    }
    s.push_str("services:\n");
    for i in 0..250 {
        let _ = writeln!(
            s,
            "  s{i:03}:\n    replicas: 6\n    placement: {{hosts: [{}]}}\n    endpoints:\n      op:\n        service_time: {{dist: exponential, mean: 2ms}}",
            (0..6)
                .map(|j| format!("h{:03}", (6 * i + j) % 250))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if i % 10 != 9 {
            let _ = writeln!(s, "        calls: [{{service: s{:03}}}]", i + 1);
        }
    }
    s
}

fn start_demo(dir: &Path) -> (Demo, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let demo = Demo(child);
    // Keep reading the demo's output for as long as it runs: a closed pipe would stop it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            // Once the test has what it needs nobody listens; the lines are dropped.
            let _ = tx.send(line);
        }
    });
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the demo printed its address and token");
        if let Some(rest) = line.strip_prefix("Doppel live twin at ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(t) = line.strip_prefix("Admin token (shown once, store it now): ") {
            token = Some(t.trim().to_owned());
        }
    }
    (demo, url.unwrap(), token.unwrap())
}

#[test]
fn the_ui_works_in_a_real_browser() {
    if let Some(why) = missing() {
        assert!(
            std::env::var("DOPPEL_CI").as_deref() != Ok("1"),
            "{why}, and DOPPEL_CI=1 requires the browser test to run"
        );
        println!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, big_twin()).unwrap();
    let (_demo, url, token) = start_demo(&dir.path().join("demo"));
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-e2e-shots");
    let out = Command::new("node")
        .arg(repo().join("ui/e2e/run.mjs"))
        .current_dir(repo().join("ui"))
        .env("DOPPEL_URL", &url)
        .env("DOPPEL_TOKEN", &token)
        .env("DOPPEL_SHOTS", &shots)
        .env("DOPPEL_BIG_TWIN", &big)
        .env("CHROMIUM", chromium())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed (screenshots in {}):\n{stderr}\n{stdout}",
        shots.display()
    );
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    println!("UI end to end: {r}\nscreenshots: {}", shots.display());

    // The demo's topology: the example shop, every node drawn.
    assert!(r["topology_nodes"].as_u64().unwrap() > 40, "{r}");
    assert_eq!(r["topology_counts"]["service"], 12, "{r}");
    // The generated twin: 2,000 nodes drawn, the first time within a few seconds even on a
    // slow machine (it takes a few hundred milliseconds on a developer's).
    assert_eq!(r["big_nodes"], 2000, "{r}");
    let first = r["big_first_draw_ms"].as_f64().unwrap();
    assert!(first > 0.0 && first < 5000.0, "first draw took {first} ms");
    // Fluid while panning: frames keep coming (60 per second where the machine allows).
    let p95 = r["big_pan_frame_p95_ms"].as_f64().unwrap();
    assert!(
        p95 > 0.0 && p95 < 100.0,
        "frames 95% within {p95} ms while panning"
    );
    // A scenario's verdict and charts, and the downloaded report.
    assert!(
        r["scenario_summary"].as_str().unwrap().contains("broken"),
        "{r}"
    );
    assert!(r["report_bytes"].as_u64().unwrap() > 10_000, "{r}");
    assert!(r["service_live_points"].as_u64().unwrap() > 0, "{r}");
    assert!(r["service_predicted_points"].as_u64().unwrap() > 0, "{r}");
    // The demo's three cohorts (mobile, desktop, tablet), learned at start, side by side.
    assert_eq!(r["cohorts"], 3, "{r}");
    assert!(r["cohort_what_ifs"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["console_errors"], 0, "{r}");
}

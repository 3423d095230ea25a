//! `doppel users` end to end: learn cohorts from access-log samples in a temporary directory,
//! then report their experience on the example shop, as text and JSON.

mod common;

use common::{doppel_in, repo};

#[test]
fn learn_then_report_on_the_shop() {
    let dir = tempfile::tempdir().unwrap();
    let shop_log = repo().join("crates/users/test_data/shop_access.log");
    let nginx_log = repo().join("crates/import/test_data/access_log/nginx_combined.log");
    let (code, out, err) = doppel_in(
        dir.path(),
        &[
            "users",
            "learn",
            shop_log.to_str().unwrap(),
            nginx_log.to_str().unwrap(),
            "-o",
            "cohorts.yaml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "written to the file, not stdout: {out}");
    // The sample's two malformed lines are named by file and line, and the bots counted.
    assert!(err.contains("nginx_combined.log:7:"), "{err}");
    assert!(err.contains("nginx_combined.log:14:"), "{err}");
    assert!(
        err.contains("nginx_combined.log: 15 lines, 13 requests, 2 malformed, 3 from bots"),
        "{err}"
    );
    assert!(
        err.contains("shop_access.log: 847 lines, 847 requests, 0 malformed"),
        "{err}"
    );
    let cohorts = std::fs::read_to_string(dir.path().join("cohorts.yaml")).unwrap();
    assert!(cohorts.starts_with("# cohorts learned by doppel users learn\nversion: 1\n"));
    for name in ["name: mobile", "name: desktop", "name: tablet"] {
        assert!(cohorts.contains(name), "{name} missing:\n{cohorts}");
    }

    let shop = repo().join("examples/shop.yaml");
    let report_args = [
        "users",
        "report",
        shop.to_str().unwrap(),
        "--cohorts",
        "cohorts.yaml",
        "--rate",
        "10/s",
        "--duration",
        "60s",
        "--replications",
        "1",
    ];
    let (code, text, err) = doppel_in(dir.path(), &report_args);
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("User experience at "), "{text}");
    assert!(
        text.contains("not in the twin (left out): GET /category/{id}"),
        "{text}"
    );
    assert!(text.contains("Worst off: "), "{text}");
    assert!(text.contains("What would help most"), "{text}");

    let mut json_args = report_args.to_vec();
    json_args.extend(["--json", "--workloads", "users.yaml"]);
    let (code, json, err) = doppel_in(dir.path(), &json_args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["routes"]["GET /"], "frontend/home");
    assert_eq!(v["routes"]["POST /cart/add"], "frontend/add_to_cart");
    assert_eq!(v["sessions_per_s"], 10.0);
    let cohorts = v["cohorts"].as_array().unwrap();
    assert!(cohorts.len() >= 3, "{json}");
    for c in cohorts {
        let completion = c["completion"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&completion), "{c}");
        assert!(c["page_latency_ms"]["p90"].as_f64().unwrap() > 0.0);
    }
    assert!(!v["what_ifs"].as_array().unwrap().is_empty());
    // The session-flow workloads load into the shop and validate.
    let (code, _, err) = doppel_in(
        dir.path(),
        &["validate", shop.to_str().unwrap(), "users.yaml"],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn junk_is_reported_not_learned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("junk.log"),
        "not a log line\n{\"also\": \"not\"}\n",
    )
    .unwrap();
    let (code, _, err) = doppel_in(dir.path(), &["users", "learn", "junk.log"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk.log:1:"), "{err}");
    assert!(err.contains("no sessions"), "{err}");
}

#[test]
fn learns_cohorts_from_generated_traces() {
    let dir = tempfile::tempdir().unwrap();
    let (code, traces, err) = doppel_in(dir.path(), &["users", "generate", "--traces"]);
    assert_eq!(code, 0, "{err}");
    let (code, log, err) = doppel_in(dir.path(), &["users", "generate"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.path().join("day.otlp.jsonl"), &traces).unwrap();
    std::fs::write(dir.path().join("day.log"), &log).unwrap();
    // Junk mixed in: a line that is not JSON, named by file and line.
    std::fs::write(
        dir.path().join("junk.jsonl"),
        "{\"resourceSpans\": 7}\nnope\n",
    )
    .unwrap();
    let (code, from_traces, err) = doppel_in(
        dir.path(),
        &[
            "users",
            "learn",
            "--traces",
            "day.otlp.jsonl",
            "--traces",
            "junk.jsonl",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("junk.jsonl:1:1: (document): warning: not OTLP JSON traces"),
        "{err}"
    );
    assert!(err.contains("junk.jsonl:2:"), "{err}");
    let pages = log.lines().count();
    assert!(
        err.contains(&format!("day.otlp.jsonl: {} lines", traces.lines().count()))
            && err.contains(&format!(
                "{} spans, {pages} page requests, 0 problems",
                2 * pages
            )),
        "{err}"
    );
    // The same day as an access log gives the same cohorts, session for session.
    let (code, from_log, err) = doppel_in(dir.path(), &["users", "learn", "day.log"]);
    assert_eq!(code, 0, "{err}");
    let sessions = |yaml: &str| -> Vec<String> {
        yaml.lines()
            .filter(|l| {
                l.trim_start().starts_with("sessions:") || l.trim_start().starts_with("name:")
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(sessions(&from_traces), sessions(&from_log));
    assert!(from_traces.contains("name: mobile"), "{from_traces}");
}

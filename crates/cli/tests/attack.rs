//! End-to-end tests of `doppel attack` on the example shop, whose security facts were written
//! to contain one attack path: internet → frontend → recommendations (Log4Shell) → PwnKit on
//! the ML host → the read-only database password stored there → the read replica.
#![allow(clippy::unwrap_used)]

mod common;
use common::doppel;

#[test]
fn the_shop_replica_falls_through_log4shell_and_a_stored_password() {
    let (code, out, err) = doppel(&["attack", "examples/shop.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["reachable_targets"],
        serde_json::json!(["service:pg-replica"])
    );
    assert_eq!(
        v["unreachable_targets"],
        serde_json::json!(["service:pg-primary"])
    );
    let steps = v["paths"][0]["steps"].as_array().unwrap();
    let via: Vec<String> = steps
        .iter()
        .map(|s| s["via"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(via.iter().any(|s| s.contains("CVE-2021-44228")), "{via:?}");
    assert!(via.iter().any(|s| s.contains("CVE-2021-4034")), "{via:?}");
    assert!(via.iter().any(|s| s.contains("pg-reco-ro")), "{via:?}");
    // Exploit steps succeed with CVSS exploitability / 3.887: Log4Shell (AV:N/AC:L/PR:N/UI:N)
    // 3.887 → 1.0, PwnKit (AV:L/AC:L/PR:L/UI:N) 8.22·0.55·0.77·0.62·0.85 = 1.835 → 0.472.
    let p = v["paths"][0]["probability"].as_f64().unwrap_or_else(|| {
        steps
            .iter()
            .map(|s| s["probability"].as_f64().unwrap())
            .product()
    });
    assert!((p - 0.472).abs() < 0.001, "{p}");
}

#[test]
fn text_and_dot_outputs() {
    let (code, out, _) = doppel(&["attack", "examples/shop.yaml"]);
    assert_eq!(code, 0);
    assert!(out.contains("fix plan (cost 1)"), "{out}");
    let (code, out, _) = doppel(&["attack", "examples/shop.yaml", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph attack {"), "{out}");
}

//! The conformance harness: every importer, on its published samples and on junk, must not
//! panic, must name the file in its diagnostics about junk, must be deterministic (same input,
//! same entity names), idempotent under merge, and must produce a twin the model validates.

use std::path::PathBuf;

use doppel_import::{ImportResult, Input, Source, import, merge};
use doppel_model::Twin;

fn data(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The samples each importer is run on (paths under `test_data/`).
fn samples(source: Source) -> Vec<&'static str> {
    match source {
        Source::Terraform => vec![
            "terraform/tfjson_has_changes.terraform.tfstate",
            "terraform/tfjson_basic.plan.json",
            "terraform/tfjson_no_changes.show-state.json",
            "terraform/inframap_aws_state_sg.tfstate.json",
            "terraform/inframap__aws_state_sgr.json",
            "terraform/inframap_google.tfstate.json",
            "terraform/inframap_azure.tfstate",
            "terraform/shop.show-state.json",
            "terraform/shop.plan.json",
            "terraform/gcp_azure.show-state.json",
        ],
        Source::Kubernetes => vec![
            "k8s/online-boutique.kubernetes-manifests.yaml",
            "k8s/extras.yaml",
        ],
        Source::Ansible => vec!["ansible/inventory.ini", "ansible/inventory.yaml"],
        Source::Netbox => vec![
            "netbox/pynetbox_dcim_device.json",
            "netbox/pynetbox_dcim_interface.json",
            "netbox/pynetbox_dcim_cable.json",
            "netbox/devices.json",
            "netbox/interfaces.json",
            "netbox/cables.json",
            "netbox/prefixes.json",
            "netbox/vms.json",
        ],
        Source::Otlp => vec![
            "otlp/otlp_trace.json",
            "otlp/shop_trace.json",
            "otlp/secrets_trace.json",
            "otlp/shop_trace.pb",
        ],
        Source::Jaeger => vec![
            "jaeger/jaeger_ui_01.json",
            "jaeger/shop_jaeger.json",
            "jaeger/secrets_jaeger.json",
        ],
    }
}

/// A deterministic byte soup.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

fn alias_bomb() -> Vec<u8> {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    bomb.into_bytes()
}

/// Junk inputs: (name, bytes).
fn junk(source: Source) -> Vec<(String, Vec<u8>)> {
    let first = samples(source)
        .first()
        .map_or_else(|| b"[web]\nweb1\n".to_vec(), |r| data(r));
    let half = first.get(..first.len() / 2).unwrap_or_default().to_vec();
    let wrong_version: &[u8] = match source {
        Source::Terraform => br#"{"version": 99, "resources": []}"#,
        Source::Kubernetes => b"apiVersion: apps/v999\nkind: Deployment\nmetadata: {name: x}\n",
        Source::Ansible => b"all:\n  hosts: [1, 2, 3]\n",
        Source::Netbox => br#"{"count": "many", "results": 7}"#,
        Source::Otlp => br#"{"resourceSpans": 3}"#,
        Source::Jaeger => br#"{"data": [{"traceID": 1, "spans": "none"}]}"#,
    };
    vec![
        ("empty.json".into(), Vec::new()),
        ("truncated.json".into(), half),
        ("random.bin".into(), random_bytes(7, 4096)),
        (
            "random-ascii.txt".into(),
            random_bytes(11, 4096)
                .iter()
                .map(|b| b'!' + b % 90)
                .collect(),
        ),
        ("wrong-version.json".into(), wrong_version.to_vec()),
        ("bomb.yaml".into(), alias_bomb()),
        ("deep.json".into(), "[".repeat(100_000).into_bytes()),
    ]
}

fn run(source: Source, name: &str, bytes: &[u8]) -> ImportResult {
    import(source, &[Input { name, bytes }])
}

fn assert_valid(source: Source, what: &str, twin: &Twin) {
    let json = serde_json::to_string(twin).expect("a twin serialises");
    let loaded = doppel_model::load_str("delta.json", &json);
    let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "{source} on {what}: invalid twin: {errors:#?}\n{json}"
    );
    // The YAML writer's text loads back to the same twin.
    let yaml = doppel_import::to_yaml(twin, Some("conformance")).expect("writes");
    let back = doppel_model::load_str("delta.yaml", &yaml);
    assert!(
        back.is_valid(),
        "{source} on {what}: written YAML invalid:\n{yaml}"
    );
    assert_eq!(
        &back.twin, twin,
        "{source} on {what}: YAML round trip changed the twin"
    );
}

fn assert_idempotent(source: Source, what: &str, delta: &Twin) {
    let (once, c1) = merge(&Twin::default(), delta);
    assert!(
        c1.is_empty(),
        "{source} on {what}: conflicts merging into nothing: {c1:?}"
    );
    let (twice, c2) = merge(&once, delta);
    assert!(
        c2.is_empty(),
        "{source} on {what}: conflicts on re-merge: {c2:?}"
    );
    assert_eq!(
        once, twice,
        "{source} on {what}: merging twice changed the twin"
    );
}

fn names(twin: &Twin) -> Vec<String> {
    let v = serde_json::to_value(twin).expect("a twin serialises");
    let mut out = Vec::new();
    if let serde_json::Value::Object(sections) = v {
        for (section, entities) in sections {
            if let serde_json::Value::Object(e) = entities {
                out.extend(e.keys().map(|k| format!("{section}/{k}")));
            }
        }
    }
    out
}

#[test]
fn every_importer_handles_its_samples() {
    for source in Source::ALL {
        for rel in samples(source) {
            let bytes = data(rel);
            let a = run(source, rel, &bytes);
            let b = run(source, rel, &bytes);
            assert_eq!(
                names(&a.delta),
                names(&b.delta),
                "{source} on {rel}: unstable names"
            );
            assert_eq!(a, b, "{source} on {rel}: not deterministic");
            assert!(
                !a.has_errors(),
                "{source} on {rel}: errors on a good sample: {:#?}",
                a.diagnostics
            );
            for d in &a.diagnostics {
                assert_eq!(d.file, rel, "{source}: diagnostic names another file: {d}");
                assert!(d.line >= 1 && d.col >= 1, "{source}: unpositioned: {d}");
            }
            assert_valid(source, rel, &a.delta);
            assert_idempotent(source, rel, &a.delta);
        }
        // All of a source's samples at once.
        let owned: Vec<(&str, Vec<u8>)> =
            samples(source).into_iter().map(|r| (r, data(r))).collect();
        let inputs: Vec<Input<'_>> = owned
            .iter()
            .map(|(name, bytes)| Input { name, bytes })
            .collect();
        let all = import(source, &inputs);
        assert_valid(source, "all samples", &all.delta);
        assert_idempotent(source, "all samples", &all.delta);
    }
}

#[test]
fn every_importer_reports_junk_naming_the_file() {
    for source in Source::ALL {
        for (name, bytes) in junk(source) {
            let r = run(source, &name, &bytes);
            assert!(
                r.diagnostics.iter().any(|d| d.file == name),
                "{source} on {name}: no diagnostic names the file: {:#?}",
                r.diagnostics
            );
            assert!(
                r.diagnostics.iter().any(|d| matches!(
                    d.severity,
                    doppel_import::Severity::Error | doppel_import::Severity::Warning
                )),
                "{source} on {name}: junk passed silently: {:#?}",
                r.diagnostics
            );
            assert_valid(source, &name, &r.delta);
            assert_idempotent(source, &name, &r.delta);
        }
    }
}

#[test]
fn every_importer_survives_mutated_samples() {
    // Byte flips, truncations and splices of every sample: no panic, a valid twin.
    for source in Source::ALL {
        for rel in samples(source) {
            let bytes = data(rel);
            for seed in 0..24u64 {
                let noise = random_bytes(seed, 8);
                let mut m = bytes.clone();
                let at = usize::from(noise[0]) * usize::from(noise[1]) % m.len().max(1);
                match seed % 4 {
                    0 => m.truncate(at),
                    1 => {
                        if let Some(b) = m.get_mut(at) {
                            *b = noise[2];
                        }
                    }
                    2 => m.splice(at..at, noise.iter().copied()).for_each(drop),
                    _ => {
                        let end = (at + usize::from(noise[3])).min(m.len());
                        m.drain(at..end);
                    }
                }
                let r = run(source, rel, &m);
                assert_valid(source, &format!("{rel} mutated with seed {seed}"), &r.delta);
            }
        }
    }
}

/// Access logs are records, not a twin: the same rules in their terms. Reading is
/// deterministic; every line is counted once (records + malformed + blank = lines); every
/// diagnostic names the file and a line; junk is reported, never silently dropped; mutations
/// never panic.
#[test]
fn access_logs_conform() {
    use doppel_import::access_log::{Format, read_all};
    const LOGS: [&str; 3] = [
        "access_log/nginx_combined.log",
        "access_log/apache_common.log",
        "access_log/nginx_json.log",
    ];
    let check = |name: &str, bytes: &[u8]| {
        let a = read_all(name, bytes, Format::Auto);
        let b = read_all(name, bytes, Format::Auto);
        assert_eq!(a, b, "{name}: not deterministic");
        let (records, diags, stats) = a;
        assert_eq!(
            stats.records + stats.malformed + stats.blank,
            stats.lines,
            "{name}: lines miscounted: {stats:?}"
        );
        assert_eq!(records.len() as u64, stats.records);
        for d in &diags {
            assert_eq!(d.file, name, "diagnostic names another file: {d}");
            assert!(d.line >= 1 && d.col >= 1, "unpositioned: {d}");
        }
        (records, diags, stats)
    };
    for rel in LOGS {
        let bytes = data(rel);
        let (records, _, _) = check(rel, &bytes);
        assert!(!records.is_empty(), "{rel}: nothing read");
        for seed in 0..24u64 {
            let noise = random_bytes(seed, 8);
            let mut m = bytes.clone();
            let at = usize::from(noise[0]) * usize::from(noise[1]) % m.len().max(1);
            match seed % 3 {
                0 => m.truncate(at),
                1 => m.splice(at..at, noise.iter().copied()).for_each(drop),
                _ => {
                    if let Some(b) = m.get_mut(at) {
                        *b = noise[2];
                    }
                }
            }
            check(rel, &m);
        }
    }
    let junk: Vec<(&str, Vec<u8>)> = vec![
        ("empty.log", Vec::new()),
        ("random.bin", random_bytes(7, 4096)),
        (
            "random-ascii.log",
            random_bytes(11, 4096)
                .iter()
                .map(|b| if b % 40 == 0 { b'\n' } else { b'!' + b % 90 })
                .collect(),
        ),
        ("deep.json", "[".repeat(100_000).into_bytes()),
        ("bomb.yaml", alias_bomb()),
    ];
    for (name, bytes) in junk {
        let (records, diags, _) = check(name, &bytes);
        assert!(records.is_empty(), "{name}: junk gave records");
        assert!(
            diags.iter().any(|d| d.file == name
                && matches!(
                    d.severity,
                    doppel_import::Severity::Error | doppel_import::Severity::Warning
                )),
            "{name}: junk passed silently: {diags:#?}"
        );
    }
}

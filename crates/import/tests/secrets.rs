//! No secret present in a sample reaches any importer's output: the delta twin, its YAML
//! rendering and every diagnostic are searched for each secret value the samples hold.

use std::path::PathBuf;

use doppel_import::{Input, Source, import, to_yaml};

/// (source, sample, secrets the sample holds). terraform-json's samples mark an output
/// sensitive whose value is `bar`, a word their resource names also use, so they cannot be
/// grepped; the hand-written samples hold distinctive secrets in every place one can hide:
/// sensitive attributes, secret-named attributes, sensitive outputs, plan variables, user
/// data, instance metadata, env vars, URLs.
const CASES: &[(Source, &str, &[&str])] = &[
    (Source::Netbox, "netbox/devices.json", &["Ipm1Adm1nPa55"]),
    (
        Source::Netbox,
        "netbox/vms.json",
        &["ghp_C0nf1gC0nt3xtT0k3nThatMustN0tLeak99"],
    ),
    (
        Source::Jaeger,
        "jaeger/secrets_jaeger.json",
        &[
            "Ap1K3yV4lu3Th4tL34ks",
            "S3ss10nC00k13V4lu3",
            "C0nnStr1ngPa55",
            "hunter2hunter2",
        ],
    ),
    (
        Source::Otlp,
        "otlp/secrets_trace.json",
        &[
            "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWxpY2UifQ.Qk5mU2VjcmV0U2lnbmF0dXJlMDE",
            "sk_live_51HxTr4c3S3cr3tK3yV4lu3",
            "R3d1sAuthPa55w0rd",
            "xoxb-1234567890-abcdefghijABCDEFGHIJ",
        ],
    ),
    (
        Source::Ansible,
        "ansible/inventory.ini",
        &["Bec0meR00tNow!"],
    ),
    (
        Source::Ansible,
        "ansible/inventory.yaml",
        &["W3bServ3rsPa55!"],
    ),
    (
        Source::Terraform,
        "terraform/shop.show-state.json",
        &[
            "Tr0ub4dor&3horse",
            "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
            "BMx9Zq2dXv8yNw3kLp5rTs7uVw9xYz1aBcDeFgHiJkLm",
            "xK8#mQ2$vL9@nR4!pT6&wY3^",
            "AKIAI44QH8DHBEXAMPLE",
        ],
    ),
    (
        Source::Terraform,
        "terraform/shop.plan.json",
        &[
            "Pl4nS3cretValue9",
            "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",
        ],
    ),
    (
        Source::Terraform,
        "terraform/gcp_azure.show-state.json",
        &[
            "ghp_R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ng0001",
            "Az!ureP4ssw0rdValue",
        ],
    ),
    (
        Source::Kubernetes,
        "k8s/extras.yaml",
        &[
            "Sup3rS3cretPassw0rd!",
            "Expo7erPa55",
            "Ord3rsDbPa55",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJlLW5vdC1yZWFs",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ],
    ),
];

#[test]
fn every_importer_is_covered() {
    for source in Source::ALL {
        assert!(
            CASES.iter().any(|(s, _, _)| *s == source),
            "no secret-holding sample for {source}"
        );
    }
}

#[test]
fn no_sample_secret_reaches_any_output() {
    for (source, rel, secrets) in CASES {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("test_data")
            .join(rel);
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in *secrets {
            assert!(
                text.contains(s),
                "{rel} does not hold {s}: the test would prove nothing"
            );
        }
        let r = import(
            *source,
            &[Input {
                name: rel,
                bytes: &bytes,
            }],
        );
        let mut out = serde_json::to_string(&r.delta).unwrap();
        out.push_str(&to_yaml(&r.delta, None).unwrap());
        for d in &r.diagnostics {
            out.push_str(&d.to_string());
            out.push('\n');
        }
        for s in *secrets {
            // Also fragments: a secret cut in half is still a leak.
            let half = &s[..s.len() / 2];
            assert!(!out.contains(s), "{source} leaked {s} from {rel}");
            assert!(
                half.len() < 6 || !out.contains(half),
                "{source} leaked part of {s} from {rel}"
            );
        }
    }
}

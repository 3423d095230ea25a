//! End-to-end tests of `doppel import` and `doppel diff`: the real binary on the public samples
//! the importer crate keeps, in a temporary directory, chained the way a user would chain them.
#![allow(clippy::unwrap_used)]

mod common;
use common::{doppel_in as doppel, repo};
use std::process::Command;

/// Kubernetes manifests in, a twin file out that validates, simulates, and re-imports to no
/// change; `doppel diff` sees what a second source adds.
#[test]
fn import_kubernetes_then_validate_simulate_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let manifests =
        repo().join("crates/import/test_data/k8s/online-boutique.kubernetes-manifests.yaml");
    let manifests = manifests.to_str().unwrap();
    let (code, _, stderr) = doppel(
        dir.path(),
        &["import", "k8s", manifests, "--into", "twin.yaml"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = doppel(dir.path(), &["validate", "twin.yaml"]);
    assert_eq!(code, 0, "{stdout}");
    // Online Boutique: 12 Deployments become 12 services (the importer's own tests check the
    // 16 env-declared dependencies).
    assert!(stdout.contains("12 services"), "{stdout}");

    // Importing the same manifests again changes nothing.
    let before = std::fs::read_to_string(dir.path().join("twin.yaml")).unwrap();
    std::fs::copy(dir.path().join("twin.yaml"), dir.path().join("before.yaml")).unwrap();
    let (code, _, stderr) = doppel(
        dir.path(),
        &["import", "k8s", manifests, "--into", "twin.yaml"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("twin.yaml")).unwrap(),
        before
    );
    let (code, stdout, _) = doppel(
        dir.path(),
        &["diff", "before.yaml", "twin.yaml", "--exit-code"],
    );
    assert_eq!(code, 0, "{stdout}");

    // The imported twin is simulable as it stands (placeholder service times).
    let (code, stdout, stderr) = doppel(
        dir.path(),
        &[
            "simulate",
            "twin.yaml",
            "--duration",
            "20s",
            "--warmup",
            "2s",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("simulated 20 s"), "{stdout}");
}

#[test]
fn import_reports_junk_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state.json"),
        "{\"format_version\": \"1.0\", \"values\": ",
    )
    .unwrap();
    let (code, stdout, stderr) = doppel(dir.path(), &["import", "terraform", "state.json"]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("state.json:") || stdout.contains("state.json:"),
        "{stdout}{stderr}"
    );
    assert!(!dir.path().join("twin.yaml").exists());
}

/// `doppel import netbox URL` reads a live NetBox API: every page (following `next`), with the
/// token from `NETBOX_TOKEN` and nothing but GET requests. A local server plays NetBox,
/// serving the three devices of `devices.json` over two pages.
#[test]
fn import_netbox_from_a_live_url_follows_pages() {
    use std::io::{BufRead, BufReader, Read, Write};
    let devices: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("crates/import/test_data/netbox/devices.json"))
            .unwrap(),
    )
    .unwrap();
    let all = devices["results"].as_array().unwrap().clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!(
        "http://{}/api/dcim/devices/",
        listener.local_addr().unwrap()
    );
    let pages = vec![
        serde_json::json!({"count": 3, "next": format!("{base}?offset=2"), "previous": null, "results": all[..2]}),
        serde_json::json!({"count": 3, "next": null, "previous": base, "results": all[2..]}),
    ];
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for page in pages {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push(line.trim_end().to_owned());
            }
            let body = serde_json::to_vec(&page).unwrap();
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
            stream.write_all(&body).unwrap();
            let _ = reader.read(&mut [0u8; 0]);
            seen.push(head);
        }
        seen
    });
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["import", "netbox", &base, "--format", "json"])
        .env("NETBOX_TOKEN", "0123456789abcdef0123456789abcdef01234567")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0][0].starts_with("GET /api/dcim/devices/ "),
        "{seen:?}"
    );
    assert!(
        seen[1][0].starts_with("GET /api/dcim/devices/?offset=2 "),
        "{seen:?}"
    );
    for head in &seen {
        assert!(
            head.iter().any(|h| h.eq_ignore_ascii_case(
                "authorization: Token 0123456789abcdef0123456789abcdef01234567"
            )),
            "{head:?}"
        );
    }
    let twin: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let text = twin.to_string();
    for name in ["server1", "leaf1", "leaf2"] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    assert!(
        !stdout.contains("0123456789abcdef0123456789abcdef01234567")
            && !stderr.contains("0123456789abcdef0123456789abcdef01234567")
    );
}

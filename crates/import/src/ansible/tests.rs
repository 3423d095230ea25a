//! Tests of the Ansible importer: `ansible-inventory --list` equivalence on hand-written
//! inventories, and the hosts they give the twin.

use serde_json::Value;

use super::read;
use crate::{Input, Source, import};

fn file(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    std::fs::read(path).unwrap()
}

/// The expected JSON is what ansible-core 2.19.14's `ansible-inventory --list` printed for the
/// file, with `_meta.profile` dropped and password values redacted (see PROVENANCE.tsv).
fn assert_list_matches(rel: &str) {
    let bytes = file(rel);
    let mut diags = Vec::new();
    let inv = read(
        &Input {
            name: rel,
            bytes: &bytes,
        },
        &mut diags,
    )
    .unwrap();
    assert!(diags.is_empty(), "{diags:#?}");
    let expected: Value = serde_json::from_slice(&file(&format!("{rel}.list.json"))).unwrap();
    let got = inv.to_list_json();
    assert_eq!(
        got,
        expected,
        "{rel}:\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[test]
fn ini_inventory_lists_like_ansible() {
    assert_list_matches("ansible/inventory.ini");
}

#[test]
fn yaml_inventory_lists_like_ansible() {
    assert_list_matches("ansible/inventory.yaml");
}

#[test]
fn hosts_become_twin_hosts_tagged_with_their_groups() {
    let bytes = file("ansible/inventory.ini");
    let r = import(
        Source::Ansible,
        &[Input {
            name: "hosts.ini",
            bytes: &bytes,
        }],
    );
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let names: Vec<&str> = r.delta.hosts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "bastion.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "web-canary.example.com",
            "db-a.example.com",
            "db-b.example.com",
            "db-c.example.com",
        ]
    );
    let canary = &r.delta.hosts["web-canary.example.com"];
    assert_eq!(canary.tags, ["ansible-group=prod", "ansible-group=web"]);
    assert_eq!(canary.addresses[0].to_string(), "10.0.1.99");
    assert!(r.delta.hosts["web01.example.com"].addresses.is_empty());
    assert!(r.delta.hosts["bastion.example.com"].tags.is_empty());

    let bytes = file("ansible/inventory.yaml");
    let r = import(
        Source::Ansible,
        &[Input {
            name: "hosts.yaml",
            bytes: &bytes,
        }],
    );
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    // pg-r1 is in replicas, whose parent dbservers is a child of east.
    assert_eq!(
        r.delta.hosts["pg-r1.example.com"].tags,
        [
            "ansible-group=dbservers",
            "ansible-group=east",
            "ansible-group=replicas"
        ]
    );
    assert_eq!(
        r.delta.hosts["10.0.5.7"].addresses[0].to_string(),
        "10.0.5.7"
    );
}

#[test]
fn ini_errors_name_the_line() {
    let text = b"[web]\nweb[1:2 x=1\n[db:bogus]\nok.example.com\n[web:vars]\nnovalue\n";
    let r = import(
        Source::Ansible,
        &[Input {
            name: "bad.ini",
            bytes: text,
        }],
    );
    let lines: Vec<(u32, &str)> = r
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, "unclosed `[` in host pattern `web[1:2`"),
            (3, "section type `bogus` is not hosts, vars or children"),
            (6, "expected `name=value` in a vars section"),
        ]
    );
    // The good line after the bad section header still counts (in the previous group).
    assert!(r.delta.hosts.contains_key("ok.example.com"));
}

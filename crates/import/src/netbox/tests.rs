//! Tests of the NetBox importer on pynetbox's published fixtures and hand-written list
//! responses.

use doppel_model::HostKind;

use crate::{ImportResult, Input, Severity, Source, import};

fn run(rels: &[&str]) -> ImportResult {
    let owned: Vec<(String, Vec<u8>)> = rels
        .iter()
        .map(|r| {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(r);
            ((*r).to_owned(), std::fs::read(p).unwrap())
        })
        .collect();
    let inputs: Vec<Input<'_>> = owned
        .iter()
        .map(|(n, b)| Input { name: n, bytes: b })
        .collect();
    import(Source::Netbox, &inputs)
}

#[test]
fn pynetbox_fixtures() {
    let r = run(&[
        "netbox/pynetbox_dcim_device.json",
        "netbox/pynetbox_dcim_interface.json",
        "netbox/pynetbox_dcim_cable.json",
    ]);
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    // device.json: test1-edge1, a Juniper MX960 with role Router at site TEST1, rack A1R1.
    let h = &t.hosts["test1-edge1"];
    assert_eq!(h.kind, HostKind::Appliance);
    assert_eq!(h.zone.as_deref(), Some("TEST1"));
    assert_eq!(h.rack.as_deref(), Some("A1R1"));
    assert_eq!(
        h.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.255.1", "192.0.2.1"],
        "primary then out-of-band"
    );
    assert_eq!(
        h.os.as_ref().map(|o| o.name.as_str()),
        Some("Juniper Junos")
    );
    assert!(t.routers.contains_key("test1-edge1"));
    // interface.json: et-0/0/0 of test1-core1, QSFP+ (40GE), connected to tst-endpoint.
    let link = &t.links["test1-core1--tst-endpoint"];
    assert_eq!(link.bandwidth.as_bits_per_sec(), 40e9);
    // cable.json joins a console port to a console server port: not a data link.
    assert!(r.diagnostics.iter().any(|d| d.severity == Severity::Info
        && d.message == "cable between dcim.consoleport and dcim.consoleserverport is not a data link; skipped"));
    assert_eq!(t.links.len(), 1);
}

#[test]
fn list_responses_of_every_kind() {
    let r = run(&[
        "netbox/cables.json",
        "netbox/devices.json",
        "netbox/interfaces.json",
        "netbox/prefixes.json",
        "netbox/vms.json",
    ]);
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    assert_eq!(t.hosts["server1"].kind, HostKind::BareMetal);
    assert_eq!(t.hosts["leaf1"].kind, HostKind::Appliance);
    let vm = &t.hosts["app-vm-1"];
    assert_eq!((vm.kind, vm.cores), (HostKind::Vm, 4.0));
    assert_eq!(vm.memory.map(|m| m.get()), Some(8192 * 1024 * 1024));
    assert_eq!(vm.cluster.as_deref(), Some("k8s-prod"));
    assert!(t.clusters.contains_key("k8s-prod"));
    // Links: leaf1–leaf2 over 10G optics; leaf1–server1 limited by the server's 1G port.
    let l = &t.links["leaf1--leaf2"];
    assert_eq!(l.bandwidth.as_bits_per_sec(), 10e9);
    assert_eq!(t.links["leaf1--server1"].bandwidth.as_bits_per_sec(), 1e9);
    assert_eq!(t.links.len(), 2, "the power cable is no link");
    assert_eq!(
        t.routers.keys().collect::<Vec<_>>(),
        ["leaf1", "leaf2", "server1"]
    );
    // Prefixes: the container is a network holding the two subnets.
    assert_eq!(t.networks["10.20.0.0-16"].cidr.to_string(), "10.20.0.0/16");
    let s = &t.subnets["10.20.1.0-24"];
    assert_eq!(
        (s.network.as_deref(), s.zone.as_deref()),
        (Some("10.20.0.0-16"), Some("DC1"))
    );
    assert_eq!(
        t.subnets["10.20.0.0-24"].network.as_deref(),
        Some("10.20.0.0-16")
    );
}

#[test]
fn bandwidth_from_interface_types() {
    use super::interface_bandwidth;
    use serde_json::json;
    let bw = |v| interface_bandwidth(&json!({"type": v}));
    assert_eq!(bw(json!({"value": "1000base-t"})), Some(1e9));
    assert_eq!(bw(json!({"value": "100gbase-x-qsfp28"})), Some(100e9));
    assert_eq!(bw(json!({"value": "virtual", "label": "Virtual"})), None);
    assert_eq!(
        bw(json!({"value": 1400, "label": "QSFP+ (40GE)"})),
        Some(40e9)
    );
}

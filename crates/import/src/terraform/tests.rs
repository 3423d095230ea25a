//! Tests of the Terraform importer on the published terraform-json and inframap samples and
//! on hand-written `terraform show -json` documents whose expected twins are derived by hand.

use doppel_model::{Action, Direction, PortRange, Protocol, ServiceKind};

use crate::{ImportResult, Input, Severity, Source, import};

fn run(rel: &str) -> ImportResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel);
    let bytes = std::fs::read(path).unwrap();
    import(
        Source::Terraform,
        &[Input {
            name: rel,
            bytes: &bytes,
        }],
    )
}

fn has(r: &ImportResult, sev: Severity, text: &str) -> bool {
    r.diagnostics
        .iter()
        .any(|d| d.severity == sev && d.message.contains(text))
}

#[test]
fn terraform_json_samples_hold_only_null_resources() {
    // terraform-json's samples use the null provider: nothing maps to the twin, every
    // managed resource is reported by address, data sources are ignored.
    for rel in [
        "terraform/tfjson_has_changes.terraform.tfstate",
        "terraform/tfjson_no_changes.show-state.json",
        "terraform/tfjson_basic.plan.json",
    ] {
        let r = run(rel);
        assert_eq!(r.delta, doppel_model::Twin::default(), "{rel}");
        assert!(!r.has_errors(), "{rel}: {:#?}", r.diagnostics);
        assert!(
            has(
                &r,
                Severity::Info,
                "`null_resource` is not imported (`null_resource.bar`)"
            ),
            "{rel}"
        );
        assert!(!has(&r, Severity::Info, "null_data_source"), "{rel}");
    }
    let r = run("terraform/tfjson_has_changes.terraform.tfstate");
    // Three instances of null_resource.baz, with their index in the address.
    for i in 0..3 {
        assert!(has(
            &r,
            Severity::Info,
            &format!("(`null_resource.baz[{i}]`)")
        ));
    }
    assert!(has(&r, Severity::Info, "(`module.foo.null_resource.foo`)"));
}

#[test]
fn inframap_aws_state_gives_groups_with_rules_and_services() {
    let r = run("terraform/inframap__aws_state_sgr.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    // Security groups keep their configuration names (the state has no `name` attribute).
    let groups: Vec<&str> = t.security_groups.keys().map(String::as_str).collect();
    assert_eq!(
        groups,
        [
            "magento.KaWAd",
            "magento.UKblk",
            "magento.kuDkz",
            "magento.mzSGd"
        ]
    );
    let elb = &t.security_groups["magento.UKblk"];
    // Ingress 443 and 80 from anywhere, egress everything, and the separate rule resource
    // adds nothing to UKblk (it targets kuDkz).
    assert_eq!(elb.rules.len(), 3);
    assert_eq!(elb.rules[0].ports, Some(PortRange::Port(443)));
    assert_eq!(elb.rules[0].peers, vec!["0.0.0.0/0"]);
    assert_eq!(elb.rules[2].direction, Direction::Egress);
    assert_eq!(elb.rules[2].protocol, Protocol::Any);
    assert_eq!(elb.rules[2].ports, None);
    // Redis only from the front group; the rule resource lets the ELB group into kuDkz.
    assert_eq!(
        t.security_groups["magento.KaWAd"].rules[0].peers,
        vec!["group:magento.kuDkz"]
    );
    assert_eq!(
        t.security_groups["magento.kuDkz"]
            .rules
            .last()
            .map(|x| x.peers.clone()),
        Some(vec!["group:magento.UKblk".to_owned()])
    );
    assert_eq!(
        t.services["sample-magento-rds-prod"].kind,
        ServiceKind::Database
    );
    assert_eq!(t.services["cy323i4p3rf0szblrtmu"].kind, ServiceKind::Cache);
    assert_eq!(
        t.services["sample-magento-front-prod"].kind,
        ServiceKind::LoadBalancer
    );
    // The instance has only an id: cores unknown, said so.
    assert_eq!(t.hosts["magento.TObJL-0"].cores, 0.0);
    assert!(
        t.hosts["magento.TObJL-0"]
            .tags
            .contains(&"provider-id:i-08ffccfdf54168280".to_owned())
    );
    assert!(has(&r, Severity::Warning, "cores unknown"));
}

#[test]
fn hand_written_aws_state() {
    let r = run("terraform/shop.show-state.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    assert_eq!(t.networks["shop-vpc"].cidr.to_string(), "10.0.0.0/16");
    assert_eq!(t.networks["shop-vpc"].region.as_deref(), Some("us-east-1"));
    let a = &t.subnets["shop-public-a"];
    assert_eq!(
        (
            a.cidr.to_string().as_str(),
            a.zone.as_deref(),
            a.public,
            a.network.as_deref()
        ),
        ("10.0.1.0/24", Some("us-east-1a"), true, Some("shop-vpc"))
    );
    assert!(!t.subnets["shop-private-b"].public);
    assert_eq!(t.zones["us-east-1b"].region.as_deref(), Some("us-east-1"));
    assert_eq!(t.regions["us-east-1"].provider.as_deref(), Some("aws"));

    let web = &t.security_groups["shop-web"];
    let summary: Vec<(Direction, Protocol, Option<PortRange>, Vec<String>)> = web
        .rules
        .iter()
        .map(|x| (x.direction, x.protocol, x.ports.clone(), x.peers.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Direction::Ingress,
                Protocol::Tcp,
                Some(PortRange::Port(443)),
                vec!["0.0.0.0/0".to_owned()]
            ),
            (
                Direction::Ingress,
                Protocol::Tcp,
                Some(PortRange::Port(80)),
                vec!["0.0.0.0/0".to_owned()]
            ),
            (
                Direction::Egress,
                Protocol::Any,
                None,
                vec!["0.0.0.0/0".to_owned()]
            ),
            (
                Direction::Ingress,
                Protocol::Tcp,
                Some(PortRange::Port(22)),
                vec!["203.0.113.0/24".to_owned()]
            ),
        ]
    );
    assert_eq!(web.default, Action::Deny);
    assert_eq!(
        t.security_groups["shop-db"].rules[0].peers,
        vec!["group:shop-web"]
    );

    let w1 = &t.hosts["web-1"];
    assert_eq!(w1.cores, 2.0, "t3.large has 2 vCPUs");
    assert_eq!(w1.zone.as_deref(), Some("us-east-1a"));
    assert_eq!(w1.subnet.as_deref(), Some("shop-public-a"));
    assert_eq!(
        w1.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.1.10", "54.210.10.20"]
    );
    assert_eq!(w1.security_groups, ["shop-web"]);
    for tag in [
        "provider-id:i-0123456789abcdef0",
        "instance-type=t3.large",
        "Env=prod",
        "target-group=shop-web-tg",
    ] {
        assert!(w1.tags.contains(&tag.to_owned()), "{tag} in {:?}", w1.tags);
    }
    assert_eq!(t.hosts["web-2"].cores, 2.0, "1 core × 2 threads");
    assert_eq!(t.hosts["web-2"].addresses.len(), 1);

    let db = &t.services["shop-orders"];
    assert_eq!(
        (db.kind, db.version.as_deref(), db.replicas),
        (ServiceKind::Database, Some("16.3"), Some(1))
    );
    assert_eq!(db.ports[0].port, 5432);
    assert_eq!(db.security_groups, ["shop-db"]);
    assert!(db.tags.contains(&"multi-az=true".to_owned()));
    let cache = &t.services["shop-sessions"];
    assert_eq!(
        (cache.kind, cache.version.as_deref(), cache.replicas),
        (ServiceKind::Cache, Some("7.1"), Some(2))
    );

    let lb = &t.services["shop-front"];
    assert_eq!(lb.kind, ServiceKind::LoadBalancer);
    assert_eq!(lb.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [443]);
    let exposed = &lb.security.as_ref().unwrap().exposed;
    assert_eq!(
        (exposed[0].port, exposed[0].to.clone()),
        (443, vec!["internet".to_owned()])
    );
    assert!(lb.tags.contains(&"target-group=shop-web-tg".to_owned()));

    let asg = &t.services["shop-workers"];
    assert_eq!(asg.replicas, Some(3));
    assert_eq!(
        asg.placement.as_ref().unwrap().zones,
        ["us-east-1a", "us-east-1b"]
    );
    for tag in ["asg-min=2", "asg-max=6", "target-group=shop-web-tg"] {
        assert!(asg.tags.contains(&tag.to_owned()), "{tag}");
    }
    assert!(has(
        &r,
        Severity::Info,
        "`aws_iam_access_key` is not imported"
    ));
    assert!(has(&r, Severity::Info, "`random_password` is not imported"));
    assert_eq!(
        db.provenance.as_ref().and_then(|p| p.reference.as_deref()),
        Some("aws_db_instance.orders")
    );
    // The unknown type's diagnostic points at its values in the file.
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.message.contains("random_password"))
        .unwrap();
    assert_eq!(d.pointer, "/values/root_module/resources/17/values");
    assert!(d.line > 1);
}

#[test]
fn a_plan_imports_the_planned_state() {
    let r = run("terraform/shop.plan.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let h = &r.delta.hosts["web-3"];
    assert_eq!(h.cores, 4.0, "m5.xlarge has 4 vCPUs");
    assert_eq!(h.zone.as_deref(), Some("us-east-1b"));
    assert!(
        h.addresses.is_empty(),
        "the private IP is unknown until apply"
    );
    let replica = &r.delta.services["shop-orders-replica"];
    assert!(replica.tags.contains(&"replica-of=shop-orders".to_owned()));
    // State and plan together: the replica points at its primary.
    let read = |rel: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(rel),
        )
        .unwrap()
    };
    let (state, plan) = (
        read("terraform/shop.show-state.json"),
        read("terraform/shop.plan.json"),
    );
    let both = import(
        Source::Terraform,
        &[
            Input {
                name: "state.json",
                bytes: &state,
            },
            Input {
                name: "plan.json",
                bytes: &plan,
            },
        ],
    );
    assert_eq!(
        both.delta.services["shop-orders-replica"]
            .replica_of
            .as_deref(),
        Some("shop-orders")
    );
}

#[test]
fn gcp_and_azure() {
    let r = run("terraform/gcp_azure.show-state.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let t = &r.delta;
    let g = &t.hosts["gce-web-1"];
    assert_eq!(g.cores, 4.0);
    assert_eq!(g.zone.as_deref(), Some("europe-west1-b"));
    assert_eq!(
        t.zones["europe-west1-b"].region.as_deref(),
        Some("europe-west1")
    );
    assert_eq!(g.subnet.as_deref(), Some("shop-eu"));
    assert_eq!(
        g.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.132.0.5", "34.76.1.2"]
    );
    assert_eq!(g.security_groups, ["allow-web"]);
    let fw = &t.security_groups["allow-web"];
    let ports: Vec<Option<PortRange>> = fw.rules.iter().map(|x| x.ports.clone()).collect();
    assert_eq!(
        ports,
        vec![
            Some(PortRange::Port(80)),
            Some(PortRange::Port(443)),
            Some(PortRange::Range("8000-8100".into()))
        ]
    );

    let a = &t.hosts["az-app-1"];
    assert_eq!(a.cores, 4.0, "Standard_D4s_v3 has 4 vCPUs");
    assert_eq!(a.zone.as_deref(), Some("westeurope-2"));
    assert_eq!(a.subnet.as_deref(), Some("app"));
    assert_eq!(
        a.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.1.1.4"]
    );
    assert_eq!(a.security_groups, ["app-nsg"]);
    let os = a.os.as_ref().unwrap();
    assert_eq!(
        (os.name.as_str(), os.version.as_deref()),
        ("0001-com-ubuntu-server-jammy", Some("22_04-lts"))
    );
    assert_eq!(t.subnets["app"].network.as_deref(), Some("shop-vnet"));
    // Priority 100 (deny telnet) before priority 200 (allow https).
    let nsg = &t.security_groups["app-nsg"];
    assert_eq!(nsg.rules[0].action, Action::Deny);
    assert_eq!(nsg.rules[0].ports, Some(PortRange::Port(23)));
    assert_eq!(nsg.rules[1].peers, vec!["internet"]);
}

#[test]
fn inframap_google_and_azure_samples() {
    let r = run("terraform/inframap_google.tfstate.json");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    // allow-ssh and allow-http target the `front` tag: only infraview-tmp carries it.
    assert_eq!(
        r.delta.hosts["infraview-tmp"].security_groups,
        ["allow-ssh", "allow-http"]
    );
    assert!(
        r.delta.hosts["infraview-tmp-two"]
            .security_groups
            .is_empty()
    );
    let r = run("terraform/inframap_azure.tfstate");
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    assert_eq!(r.delta.hosts.keys().collect::<Vec<_>>(), ["myVM", "myVM2"]);
    // The virtual networks have no address space in the sample: reported, not invented.
    assert!(r.delta.networks.is_empty());
    assert!(has(&r, Severity::Info, "has no address_space"));
    assert!(has(
        &r,
        Severity::Info,
        "`azurerm_virtual_network_peering` is not imported"
    ));
}

#[test]
fn wrong_versions_are_errors() {
    let bad = import(
        Source::Terraform,
        &[Input {
            name: "v3.json",
            bytes: br#"{"version": 3, "modules": []}"#,
        }],
    );
    assert!(
        bad.diagnostics[0]
            .message
            .contains("unsupported state format version 3")
    );
    let bad = import(
        Source::Terraform,
        &[Input {
            name: "f.json",
            bytes: br#"{"format_version": "2.0"}"#,
        }],
    );
    assert!(bad.diagnostics[0].message.contains("format version `2.0`"));
}

#[test]
fn raw_state_sensitive_attributes_are_masked() {
    let state = br#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_db_instance", "name": "x",
      "instances": [{"attributes": {"identifier": "x", "engine_version": "Zq9LmW2xVb7Nc4Rt8Ys1", "endpoint": "x.rds"},
        "sensitive_attributes": [[{"type": "get_attr", "value": "engine_version"}]]}]}]}"#;
    let r = import(
        Source::Terraform,
        &[Input {
            name: "s.tfstate",
            bytes: state,
        }],
    );
    assert_eq!(r.delta.services["x"].version, None);
}

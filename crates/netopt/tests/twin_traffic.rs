//! Traffic matrices derived from a twin's workloads and from observed byte rates, checked
//! against rates worked out by hand from the twin.
#![allow(clippy::unwrap_used)]

use doppel_netopt::Network;
use doppel_netopt::traffic::{ObservedRate, TrafficError, from_observed, from_twin};

fn twin() -> doppel_model::Twin {
    let text = include_str!("../test_data/twin/two-sites.yaml");
    let loaded = doppel_model::load_str("two-sites.yaml", text);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

fn rate(net: &Network, tm: &doppel_netopt::TrafficMatrix, a: &str, b: &str) -> f64 {
    let (a, b) = (net.node(a).unwrap(), net.node(b).unwrap());
    tm.demands()
        .iter()
        .find(|d| d.src == a && d.dst == b)
        .map_or(0.0, |d| d.rate)
}

#[test]
fn workloads_become_router_traffic_by_hand() {
    // 100 sessions/s, each visits `page` 1/(1−0.5) = 2 times: 200 req/s to web.
    // users -> web: requests 200 × 1 KiB × 8 = 1,638,400 bit/s edge -> ra, responses
    // 200 × 10 KiB × 8 = 16,384,000 bit/s ra -> edge.
    // web -> db: 2 calls per request, 400/s, half to db-1 (behind ra too, so off the
    // network), half to db-0 behind rb: 200 × 500 B × 8 = 800,000 bit/s ra -> rb and
    // 200 × 4 KiB × 8 = 6,553,600 bit/s rb -> ra.
    let twin = twin();
    let net = Network::from_twin(&twin).unwrap();
    let t = from_twin(&twin, &net, &Default::default()).unwrap();
    assert!(t.notes.is_empty(), "{:?}", t.notes);
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want;
    assert!(close(rate(&net, &t.matrix, "edge", "ra"), 1_638_400.0));
    assert!(close(rate(&net, &t.matrix, "ra", "edge"), 16_384_000.0));
    assert!(close(rate(&net, &t.matrix, "ra", "rb"), 800_000.0));
    assert!(close(rate(&net, &t.matrix, "rb", "ra"), 6_553_600.0));
    assert_eq!(t.matrix.demands().len(), 4);
    let db = t.flows.iter().find(|f| f.to == "db").unwrap();
    assert_eq!(db.from, "web");
    assert!(close(db.calls_per_second, 400.0));
    assert!(close(db.bits_per_second, 400.0 * 8.0 * (500.0 + 4096.0)));
    assert!(close(db.network_bits_per_second, 800_000.0 + 6_553_600.0));
}

#[test]
fn observed_rates_map_services_hosts_and_routers() {
    let twin = twin();
    let net = Network::from_twin(&twin).unwrap();
    let rates = vec![
        // web (behind ra) to db (one instance behind each router): half crosses.
        ObservedRate {
            src: "web".into(),
            dst: "db".into(),
            bytes_per_second: 1000.0,
        },
        // host h2 (zone zb -> rb) to router edge.
        ObservedRate {
            src: "h2".into(),
            dst: "edge".into(),
            bytes_per_second: 10.0,
        },
    ];
    let t = from_observed(Some(&twin), &net, &rates).unwrap();
    assert_eq!(rate(&net, &t.matrix, "ra", "rb"), 4000.0);
    assert_eq!(rate(&net, &t.matrix, "rb", "edge"), 80.0);
    assert_eq!(t.matrix.demands().len(), 2);
    let bad = vec![ObservedRate {
        src: "nowhere".into(),
        dst: "db".into(),
        bytes_per_second: 1.0,
    }];
    assert_eq!(
        from_observed(Some(&twin), &net, &bad).unwrap_err(),
        TrafficError::UnknownName {
            index: 0,
            name: "nowhere".into()
        }
    );
    let neg = vec![ObservedRate {
        src: "ra".into(),
        dst: "rb".into(),
        bytes_per_second: -1.0,
    }];
    assert!(matches!(
        from_observed(None, &net, &neg),
        Err(TrafficError::Rate { index: 0, .. })
    ));
}

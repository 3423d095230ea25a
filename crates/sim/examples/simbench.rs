//! Times the benchmark networks from the command line:
//! `cargo run --release -p doppel-sim --example simbench -- [tandem CUSTOMERS | large]`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("tandem", String::as_str);
    let t = Instant::now();
    let r = match which {
        "large" => doppel_sim::bench::large(1),
        _ => {
            let customers = args
                .get(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000);
            doppel_sim::bench::tandem(customers, 1)
        }
    };
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{which}: {} visits, {} events, {:.0} s simulated in {wall:.3} s wall: {:.2} M visits/s, {:.2} M events/s",
        r.visits,
        r.events,
        r.sim_seconds,
        r.visits as f64 / wall / 1e6,
        r.events as f64 / wall / 1e6
    );
}

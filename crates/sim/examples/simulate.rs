//! Simulates a twin file and prints the report, for trying the engine before the CLI wires it:
//! `cargo run --release -p doppel-sim --example simulate -- examples/shop.yaml [--json]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: simulate TWIN.yaml [--json]");
        return ExitCode::from(2);
    };
    let loaded = doppel_model::load(&[path], |p| std::fs::read(p));
    if !loaded.diagnostics.is_empty() {
        for d in &loaded.diagnostics {
            eprintln!("{d:?}");
        }
    }
    let net = match doppel_sim::compile::compile(&loaded.twin) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let cfg = doppel_sim::SimConfig::default();
    let t = std::time::Instant::now();
    match doppel_sim::simulate(&net, &cfg) {
        Ok(mut report) => {
            report.summary.wall_seconds = t.elapsed().as_secs_f64();
            if args.iter().any(|a| a == "--json") {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("{e}"),
                }
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

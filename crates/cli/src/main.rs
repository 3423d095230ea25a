//! The `doppel` binary.
fn main() {}

//! Repetita topologies (`.graph`) and demands (`.demands`), the format of the REPETITA
//! traffic-engineering data set:
//!
//! ```text
//! NODES 3                          DEMANDS 1
//! label x y                        label src dest bw
//! A 0.0 0.0                        d0 0 2 12000
//! ...
//!
//! EDGES 4
//! label src dest weight bw delay
//! e0 0 1 1 10000 100
//! ```
//!
//! Nodes are numbered by their order; each edge is one direction (u→v and v→u are paired
//! into one physical link). `bw` is in kbit/s, `delay` in microseconds, `weight` is the IGP
//! weight.

use doppel_model::Path;
use doppel_model::yaml::Loc;

use super::{ImportError, Imported, Sink, lines, number, tokens};
use crate::network::{Network, TrafficMatrix};

fn at(line: u32, col: u32) -> Loc {
    Loc { line, col }
}

/// Reads a section header `WORD N`; returns N.
fn header(line: &str, word: &str) -> Option<usize> {
    let mut t = line.split_whitespace();
    (t.next()? == word).then_some(())?;
    t.next()?.parse().ok()
}

/// Reads a Repetita `.graph` file.
pub fn parse_graph(file: &str, text: &str) -> Result<Imported<Network>, ImportError> {
    let mut sink = Sink::new(file);
    let mut net = Network::new();
    let mut pair = std::collections::HashMap::new();
    #[derive(PartialEq)]
    enum Sec {
        Start,
        NodeMemo,
        Nodes,
        EdgeMemo,
        Edges,
    }
    let mut sec = Sec::Start;
    let (mut nodes_expected, mut edges_expected, mut edges_seen) = (0usize, 0usize, 0usize);
    for (ln, _, line) in lines(text) {
        let toks: Vec<(u32, &str)> = tokens(line).collect();
        if let Some(n) = header(line, "NODES") {
            nodes_expected = n;
            sec = Sec::NodeMemo;
            continue;
        }
        if let Some(n) = header(line, "EDGES") {
            if net.node_count() != nodes_expected {
                sink.error(
                    at(ln, 1),
                    Path::of(["nodes"]),
                    format!("NODES says {nodes_expected}, {} listed", net.node_count()),
                );
            }
            edges_expected = n;
            sec = Sec::EdgeMemo;
            continue;
        }
        match sec {
            Sec::Start => {
                sink.error(at(ln, 1), Path::root(), "expected `NODES <count>`");
                return sink.finish(None);
            }
            Sec::NodeMemo | Sec::EdgeMemo if toks.first().map(|t| t.1) == Some("label") => {
                sec = if sec == Sec::NodeMemo {
                    Sec::Nodes
                } else {
                    Sec::Edges
                };
            }
            Sec::NodeMemo | Sec::Nodes => {
                sec = Sec::Nodes;
                let p = Path::of(["nodes"]).index(net.node_count());
                match toks.first() {
                    Some((col, label)) => {
                        if let Err(e) = net.add_node(*label) {
                            sink.error(at(ln, *col), p, e.to_string());
                        }
                    }
                    None => sink.error(at(ln, 1), p, "expected `label x y`"),
                }
            }
            Sec::EdgeMemo | Sec::Edges => {
                sec = Sec::Edges;
                let p = Path::of(["edges"]).index(edges_seen);
                edges_seen += 1;
                let [(_, label), (cs, s), (cd, d), (cw, w), (cb, bw), (cl, delay)] =
                    toks.as_slice()
                else {
                    sink.error(at(ln, 1), p, "expected `label src dest weight bw delay`");
                    continue;
                };
                let mut node = |col: u32, s: &str| match s.parse::<usize>() {
                    Ok(v) if v < net.node_count() => Some(v),
                    _ => {
                        sink.error(at(ln, col), p.clone(), format!("no node number `{s}`"));
                        None
                    }
                };
                let (a, b) = (node(*cs, s), node(*cd, d));
                let mut num = |col: u32, s: &str, what: &str, positive: bool| match number(s) {
                    Some(v) if v > 0.0 || (!positive && v >= 0.0) => Some(v),
                    _ => {
                        sink.error(
                            at(ln, col),
                            p.key(what),
                            format!("`{s}` is not a valid {what}"),
                        );
                        None
                    }
                };
                let w = num(*cw, w, "weight", true);
                let bw = num(*cb, bw, "bandwidth", true);
                let delay = num(*cl, delay, "delay", false);
                let (Some(a), Some(b), Some(w), Some(bw), Some(delay)) = (a, b, w, bw, delay)
                else {
                    continue;
                };
                if a == b {
                    sink.warn(at(ln, 1), p, "a link from a node to itself is ignored");
                    continue;
                }
                let link = match pair.get(&(b, a)) {
                    Some(&l) => l,
                    None => net.add_link(*label),
                };
                pair.insert((a, b), link);
                if let Err(e) = net.add_arc(a, b, bw * 1e3, delay * 1e-6, w, link) {
                    sink.error(at(ln, 1), p, e.to_string());
                }
            }
        }
    }
    if sec == Sec::Start {
        sink.error(at(1, 1), Path::root(), "expected `NODES <count>`");
    } else if edges_seen != edges_expected {
        sink.error(
            at(1, 1),
            Path::of(["edges"]),
            format!("EDGES says {edges_expected}, {edges_seen} listed"),
        );
    }
    sink.finish(Some(net))
}

/// Reads a Repetita `.demands` file for a network of `nodes` nodes (bit/s out).
pub fn parse_demands(
    file: &str,
    text: &str,
    nodes: usize,
) -> Result<Imported<TrafficMatrix>, ImportError> {
    let mut sink = Sink::new(file);
    let mut tm = TrafficMatrix::new(nodes);
    let mut expected = None;
    let mut seen = 0usize;
    for (ln, _, line) in lines(text) {
        if expected.is_none() {
            match header(line, "DEMANDS") {
                Some(n) => expected = Some(n),
                None => {
                    sink.error(at(ln, 1), Path::root(), "expected `DEMANDS <count>`");
                    return sink.finish(None);
                }
            }
            continue;
        }
        let toks: Vec<(u32, &str)> = tokens(line).collect();
        if toks.first().map(|t| t.1) == Some("label") {
            continue;
        }
        let p = Path::of(["demands"]).index(seen);
        seen += 1;
        let [_, (cs, s), (cd, d), (cb, bw)] = toks.as_slice() else {
            sink.error(at(ln, 1), p, "expected `label src dest bw`");
            continue;
        };
        let mut node = |col: u32, s: &str| match s.parse::<usize>() {
            Ok(v) if v < nodes => Some(v),
            _ => {
                sink.error(at(ln, col), p.clone(), format!("no node number `{s}`"));
                None
            }
        };
        let (a, b) = (node(*cs, s), node(*cd, d));
        let rate = match number(bw) {
            Some(v) if v >= 0.0 => Some(v * 1e3),
            _ => {
                sink.error(
                    at(ln, *cb),
                    p.key("bw"),
                    format!("`{bw}` is not a valid bandwidth"),
                );
                None
            }
        };
        if let (Some(a), Some(b), Some(r)) = (a, b, rate)
            && let Err(e) = tm.add(a, b, r)
        {
            sink.error(at(ln, 1), p, e.to_string());
        }
    }
    match expected {
        None => sink.error(at(1, 1), Path::root(), "expected `DEMANDS <count>`"),
        Some(n) if n != seen => sink.error(
            at(1, 1),
            Path::of(["demands"]),
            format!("DEMANDS says {n}, {seen} listed"),
        ),
        _ => {}
    }
    sink.finish(Some(tm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_positioned_never_a_panic() {
        let text = "NODES 2\nlabel x y\nA 0 0\nB 0 0\n\nEDGES 2\nlabel src dest weight bw delay\ne0 0 5 1 100 10\ne1 1 0 1 -3 10\n";
        let err = parse_graph("g", text).unwrap_err();
        let got: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "g:8:6: edges[0]: no node number `5`",
                "g:9:10: edges[1].bandwidth: `-3` is not a valid bandwidth",
            ]
        );
        for junk in [
            "",
            "EDGES 1\n",
            "NODES x\n",
            "NODES 1\nlabel x y\nA 0 0\nEDGES 1\ne 0\n",
        ] {
            assert!(parse_graph("g", junk).is_err(), "{junk:?}");
        }
        let err = parse_demands("d", "DEMANDS 1\nlabel src dest bw\nd0 0 1 zz\n", 2).unwrap_err();
        assert_eq!(
            err.diagnostics[0].to_string(),
            "d:3:8: demands[0].bw: `zz` is not a valid bandwidth"
        );
        assert!(parse_demands("d", "", 2).is_err());
    }
}

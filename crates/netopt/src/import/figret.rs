//! The FIGRET/DOTE text files beside a node-link topology:
//! - `tunnels.txt`: one line per pair, `S D:a-b-c,a-d-c,...` (candidate paths as node ids);
//! - `*.hist`: one traffic matrix per line, n² numbers row-major (row = source), bit/s;
//! - `*.opt`: one number per line, the optimal MLU of the matrix on the same line of the
//!   `.hist` (min-MLU over the tunnels).

use doppel_model::Path;
use doppel_model::yaml::Loc;

use super::{ImportError, Imported, Sink, lines, number, tokens};
use crate::network::{Network, TrafficMatrix};
use crate::paths::PathSet;

fn at(line: u32, col: u32) -> Loc {
    Loc { line, col }
}

/// Reads `tunnels.txt` against the network its node ids refer to.
pub fn parse_tunnels(
    file: &str,
    text: &str,
    net: &Network,
) -> Result<Imported<PathSet>, ImportError> {
    let mut sink = Sink::new(file);
    let mut set = PathSet::default();
    let root = Path::of(["tunnels"]);
    for (ln, _, line) in lines(text) {
        let Some((pair, rest)) = line.split_once(':') else {
            sink.error(at(ln, 1), root.clone(), "expected `SRC DST:PATH,PATH,...`");
            continue;
        };
        let ends: Vec<(u32, &str)> = tokens(pair).collect();
        let key = pair.trim().to_owned();
        let p = root.key(key.clone());
        let node = |col: u32, id: &str, sink: &mut Sink| match net.node(id) {
            Some(v) => Some(v),
            None => {
                sink.error(at(ln, col), p.clone(), format!("no node `{id}`"));
                None
            }
        };
        let [(c1, s), (c2, d)] = ends.as_slice() else {
            sink.error(at(ln, 1), p.clone(), "expected two node ids before `:`");
            continue;
        };
        let (Some(s), Some(d)) = (node(*c1, s, &mut sink), node(*c2, d, &mut sink)) else {
            continue;
        };
        if set.paths.contains_key(&(s, d)) {
            sink.error(at(ln, 1), p.clone(), "this pair's tunnels are given twice");
            continue;
        }
        let mut col = u32::try_from(pair.chars().count() + 2).unwrap_or(u32::MAX);
        let mut paths = Vec::new();
        for (i, spec) in rest.split(',').enumerate() {
            let pi = p.index(i);
            let ids: Vec<&str> = spec.trim().split('-').collect();
            let mut arcs = Vec::new();
            let mut ok = true;
            let mut prev: Option<usize> = None;
            for id in &ids {
                let Some(v) = node(col, id.trim(), &mut sink) else {
                    ok = false;
                    break;
                };
                if let Some(u) = prev {
                    match net.arc_between(u, v) {
                        Some(a) => arcs.push(a),
                        None => {
                            sink.error(
                                at(ln, col),
                                pi.clone(),
                                format!("no link from `{}` to `{}`", net.nodes()[u], id.trim()),
                            );
                            ok = false;
                            break;
                        }
                    }
                }
                prev = Some(v);
            }
            if ok {
                if ids.first().and_then(|x| net.node(x.trim())) != Some(s) || prev != Some(d) {
                    sink.error(
                        at(ln, col),
                        pi,
                        "a tunnel must run from the pair's source to its destination",
                    );
                } else if !crate::paths::is_simple_path(net, &arcs, s, d) {
                    sink.error(at(ln, col), pi, "a tunnel must not visit a node twice");
                } else {
                    paths.push(arcs);
                }
            }
            col = col.saturating_add(u32::try_from(spec.chars().count() + 1).unwrap_or(u32::MAX));
        }
        set.paths.insert((s, d), paths);
    }
    sink.finish(Some(set))
}

/// Reads a `.hist` file: one n×n matrix per non-blank line, n = `nodes`.
pub fn parse_hist(
    file: &str,
    text: &str,
    nodes: usize,
) -> Result<Imported<Vec<TrafficMatrix>>, ImportError> {
    let mut sink = Sink::new(file);
    let mut out = Vec::new();
    let root = Path::of(["matrices"]);
    for (k, (ln, _, line)) in lines(text).enumerate() {
        let p = root.index(k);
        let mut values = Vec::with_capacity(nodes * nodes);
        let mut ok = true;
        for (j, (col, tok)) in tokens(line).enumerate() {
            match number(tok) {
                Some(v) if v >= 0.0 => values.push(v),
                _ => {
                    sink.error(
                        at(ln, col),
                        p.index(j),
                        format!("`{tok}` is not a non-negative number"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        match TrafficMatrix::from_dense(nodes, &values) {
            Ok(tm) => out.push(tm),
            Err(e) => sink.error(at(ln, 1), p, e.to_string()),
        }
    }
    sink.finish(Some(out))
}

/// Reads a `.opt` file: one MLU per non-blank line.
pub fn parse_opt(file: &str, text: &str) -> Result<Imported<Vec<f64>>, ImportError> {
    let mut sink = Sink::new(file);
    let mut out = Vec::new();
    for (k, (ln, _, line)) in lines(text).enumerate() {
        let toks: Vec<(u32, &str)> = tokens(line).collect();
        match toks.as_slice() {
            [(col, tok)] => match number(tok) {
                Some(v) if v >= 0.0 => out.push(v),
                _ => sink.error(
                    at(ln, *col),
                    Path::of(["opt"]).index(k),
                    format!("`{tok}` is not a non-negative number"),
                ),
            },
            _ => sink.error(
                at(ln, 1),
                Path::of(["opt"]).index(k),
                "expected one number per line",
            ),
        }
    }
    sink.finish(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triangle() -> Network {
        let mut net = Network::new();
        for n in ["0", "1", "2"] {
            net.add_node(n).unwrap();
        }
        net.add_simple_link(
            "01",
            0,
            1,
            crate::LinkProps {
                capacity: 1.0,
                latency: 0.0,
                weight: 1.0,
            },
            false,
        )
        .unwrap();
        net.add_simple_link(
            "12",
            1,
            2,
            crate::LinkProps {
                capacity: 1.0,
                latency: 0.0,
                weight: 1.0,
            },
            false,
        )
        .unwrap();
        net.add_simple_link(
            "02",
            0,
            2,
            crate::LinkProps {
                capacity: 1.0,
                latency: 0.0,
                weight: 1.0,
            },
            true,
        )
        .unwrap();
        net
    }

    #[test]
    fn tunnels_become_arc_paths() {
        let net = triangle();
        let ps = parse_tunnels("t", "0 2:0-2,0-1-2\n2 0:2-1-0\n", &net)
            .unwrap()
            .value;
        assert_eq!(ps.of(0, 2).len(), 2);
        assert_eq!(
            ps.of(0, 2)[1],
            vec![
                net.arc_between(0, 1).unwrap(),
                net.arc_between(1, 2).unwrap()
            ]
        );
        assert_eq!(ps.of(2, 0).len(), 1);
    }

    #[test]
    fn bad_tunnels_are_positioned() {
        let net = triangle();
        let err =
            parse_tunnels("t", "0 2:0-2,0-1-2\n2 0:2-0\n0 1:0-9-1\nnonsense\n", &net).unwrap_err();
        let got: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "t:2:5: tunnels[\"2 0\"][0]: no link from `2` to `0`",
                "t:3:5: tunnels[\"0 1\"]: no node `9`",
                "t:4:1: tunnels: expected `SRC DST:PATH,PATH,...`",
            ]
        );
    }

    #[test]
    fn matrices_and_opts() {
        let tms = parse_hist("h", "0 1 2 3\n\n4 0 0 0\n", 2).unwrap().value;
        assert_eq!(tms.len(), 2);
        assert_eq!(tms[0].total(), 3.0); // diagonal left out
        let err = parse_hist("h", "0 1 x 3\n0 1 2\n", 2).unwrap_err();
        let got: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "h:1:5: matrices[0][2]: `x` is not a non-negative number",
                "h:2:1: matrices[1]: a traffic matrix for 2 nodes has 4 entries, not 3",
            ]
        );
        assert_eq!(parse_opt("o", "0.5\n1e0\n").unwrap().value, vec![0.5, 1.0]);
        assert!(parse_opt("o", "0.5 2\n").is_err());
        assert!(parse_opt("o", "-1\n").is_err());
    }
}

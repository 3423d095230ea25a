//! GraphML as the Internet Topology Zoo publishes it.
//!
//! Nodes are named by their `label` (made unique with the GraphML id when two share one),
//! links by `A-B`. Capacity comes from `LinkSpeedRaw` (bit/s) or a `capacity`/`bandwidth`
//! attribute; most Zoo links carry none, so they get `default_capacity` and one warning says
//! how many did. Latency is the great-circle distance between the ends' `Latitude` and
//! `Longitude` over the speed of light in fibre (2·10⁸ m/s), or 0 without coordinates. IGP
//! weights are 1. Parallel links stay separate links; self-loops are dropped with a warning.

use std::collections::HashMap;

use doppel_model::Path;
use doppel_model::yaml::Loc;
use roxmltree::{Document, Node};

use super::{ImportError, Imported, Sink};
use crate::network::{LinkProps, Network};

/// How to read a GraphML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Capacity (bit/s) of links that state none.
    pub default_capacity: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            default_capacity: 10e9,
        }
    }
}

/// Speed of light in optical fibre, m/s.
const FIBRE: f64 = 2.0e8;
const EARTH_RADIUS_M: f64 = 6_371_000.0;

fn pos(doc: &Document<'_>, n: Node<'_, '_>) -> Loc {
    let p = doc.text_pos_at(n.range().start);
    Loc {
        line: p.row,
        col: p.col,
    }
}

/// Great-circle distance in metres between two (latitude, longitude) points in degrees.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The text and element of `n`'s `<data>` for the attribute called `name`.
fn data_of<'a, 'input>(
    keys: &HashMap<&str, &str>,
    n: Node<'a, 'input>,
    name: &str,
) -> Option<(String, Node<'a, 'input>)> {
    n.children()
        .filter(|c| c.has_tag_name("data"))
        .find(|c| c.attribute("key").and_then(|k| keys.get(k)) == Some(&name))
        .map(|c| (c.text().unwrap_or("").trim().to_owned(), c))
}

/// Reads a Topology Zoo GraphML file.
pub fn parse(file: &str, text: &str, opts: &Options) -> Result<Imported<Network>, ImportError> {
    let mut sink = Sink::new(file);
    let doc = match Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let p = e.pos();
            let loc = Loc {
                line: p.row,
                col: p.col,
            };
            sink.error(loc, Path::root(), format!("not well-formed XML: {e}"));
            return sink.finish(None);
        }
    };
    let net = read(&doc, opts, &mut sink);
    sink.finish(net)
}

fn read<'a, 'input>(doc: &'a Document<'input>, opts: &Options, sink: &mut Sink) -> Option<Network> {
    let root = doc.root_element();
    if root.tag_name().name() != "graphml" {
        sink.error(
            pos(doc, root),
            Path::root(),
            "expected a <graphml> document",
        );
        return None;
    }
    // key id -> attribute name
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for k in root.children().filter(|n| n.has_tag_name("key")) {
        if let (Some(id), Some(name)) = (k.attribute("id"), k.attribute("attr.name")) {
            keys.insert(id, name);
        }
    }
    let Some(graph) = root.children().find(|n| n.has_tag_name("graph")) else {
        sink.error(pos(doc, root), Path::of(["graph"]), "no <graph> element");
        return None;
    };
    let default_directed = graph.attribute("edgedefault") == Some("directed");
    let data = |n: Node<'a, 'input>, name: &str| data_of(&keys, n, name);

    // First pass: ids, labels and coordinates.
    struct RawNode {
        id: String,
        label: Option<String>,
        coord: Option<(f64, f64)>,
    }
    let mut raw: Vec<RawNode> = Vec::new();
    for (i, n) in graph
        .children()
        .filter(|n| n.has_tag_name("node"))
        .enumerate()
    {
        let p = Path::of(["nodes"]).index(i);
        let Some(id) = n.attribute("id") else {
            sink.error(pos(doc, n), p, "a node needs an `id` attribute");
            continue;
        };
        if raw.iter().any(|r| r.id == id) {
            sink.error(pos(doc, n), p, format!("node id `{id}` twice"));
            continue;
        }
        let label = data(n, "label").map(|(t, _)| t).filter(|t| !t.is_empty());
        let num = |key: &str, sink: &mut Sink| -> Option<f64> {
            let (t, at) = data(n, key)?;
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    sink.error(pos(doc, at), p.key(key), format!("`{t}` is not a number"));
                    None
                }
            }
        };
        let lat = num("Latitude", sink);
        let lon = num("Longitude", sink);
        raw.push(RawNode {
            id: id.to_owned(),
            label,
            coord: lat.zip(lon),
        });
    }
    let mut label_count: HashMap<&str, usize> = HashMap::new();
    for r in &raw {
        if let Some(l) = &r.label {
            *label_count.entry(l.as_str()).or_default() += 1;
        }
    }
    let mut net = Network::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    // Coordinates by network node index.
    let mut coords: Vec<Option<(f64, f64)>> = Vec::new();
    for r in &raw {
        let name = match &r.label {
            Some(l) if label_count.get(l.as_str()) == Some(&1) => l.clone(),
            Some(l) => format!("{l}#{}", r.id),
            None => r.id.clone(),
        };
        // A label may equal another node's id-based name; fall back to the id then.
        let v = match net.add_node(name) {
            Ok(v) => v,
            Err(_) => match net.add_node(format!("#{}", r.id)) {
                Ok(v) => v,
                Err(e) => {
                    sink.error(pos(doc, graph), Path::of(["nodes"]), e.to_string());
                    continue;
                }
            },
        };
        by_id.insert(r.id.clone(), v);
        coords.push(r.coord);
    }

    let mut defaulted = 0usize;
    let mut first_defaulted: Option<Loc> = None;
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, e) in graph
        .children()
        .filter(|n| n.has_tag_name("edge"))
        .enumerate()
    {
        let p = Path::of(["edges"]).index(i);
        let end = |attr: &str, sink: &mut Sink| -> Option<usize> {
            match e.attribute(attr) {
                Some(id) => match by_id.get(id) {
                    Some(&v) => Some(v),
                    None => {
                        sink.error(pos(doc, e), p.key(attr), format!("no node with id `{id}`"));
                        None
                    }
                },
                None => {
                    sink.error(pos(doc, e), p.key(attr), format!("an edge needs `{attr}`"));
                    None
                }
            }
        };
        let (Some(a), Some(b)) = (end("source", sink), end("target", sink)) else {
            continue;
        };
        if a == b {
            sink.warn(pos(doc, e), p, "a link from a node to itself is ignored");
            continue;
        }
        let mut capacity = None;
        for key in ["LinkSpeedRaw", "capacity", "bandwidth"] {
            if let Some((t, at)) = data(e, key) {
                match t.parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => capacity = Some(v),
                    _ => sink.error(
                        pos(doc, at),
                        p.key(key),
                        format!("`{t}` is not a positive number of bit/s"),
                    ),
                }
                break;
            }
        }
        let capacity = capacity.unwrap_or_else(|| {
            defaulted += 1;
            first_defaulted.get_or_insert(pos(doc, e));
            opts.default_capacity
        });
        let latency = match (coords[a], coords[b]) {
            (Some(x), Some(y)) => haversine_m(x, y) / FIBRE,
            _ => 0.0,
        };
        let directed = match e.attribute("directed") {
            Some("true") => true,
            Some("false") => false,
            _ => default_directed,
        };
        let base = format!("{}-{}", net.nodes()[a], net.nodes()[b]);
        let count = names.entry(base.clone()).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            base
        } else {
            format!("{base}#{count}")
        };
        let props = LinkProps {
            capacity,
            latency,
            weight: 1.0,
        };
        if let Err(err) = net.add_simple_link(name, a, b, props, directed) {
            sink.error(pos(doc, e), p, err.to_string());
        }
    }
    if defaulted > 0 {
        sink.warn(
            first_defaulted.unwrap_or(Loc { line: 1, col: 1 }),
            Path::of(["edges"]),
            format!(
                "{defaulted} link(s) state no capacity; they were given {} bit/s",
                opts.default_capacity
            ),
        );
    }
    if sink.has_errors() { None } else { Some(net) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="label" attr.type="string" for="node" id="d1" />
  <key attr.name="Latitude" attr.type="double" for="node" id="d2" />
  <key attr.name="Longitude" attr.type="double" for="node" id="d3" />
  <key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="d4" />
  <graph edgedefault="undirected">
    <node id="0"><data key="d1">A</data><data key="d2">0</data><data key="d3">0</data></node>
    <node id="1"><data key="d1">B</data><data key="d2">0</data><data key="d3">1</data></node>
    <node id="2"><data key="d1">A</data></node>
    <edge source="0" target="1"><data key="d4">1000000000</data></edge>
    <edge source="1" target="2" />
    <edge source="1" target="1" />
  </graph>
</graphml>"#;

    #[test]
    fn reads_labels_capacities_and_distances() {
        let got = parse("s.graphml", SMALL, &Options::default()).unwrap();
        let net = got.value;
        assert_eq!(net.nodes(), ["A#0", "B", "A#2"]);
        assert_eq!(net.arcs().len(), 4);
        assert_eq!(net.arcs()[0].capacity, 1e9);
        assert_eq!(net.arcs()[2].capacity, 10e9);
        // One degree of longitude on the equator: 111.19 km, 0.556 ms in fibre.
        assert!((net.arcs()[0].latency - 111_194.9 / 2e8).abs() < 1e-6);
        let msgs: Vec<String> = got.warnings.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "s.graphml:12:5: edges: warning: 1 link(s) state no capacity; they were given 10000000000 bit/s",
                "s.graphml:13:5: edges[2]: warning: a link from a node to itself is ignored",
            ]
        );
    }

    #[test]
    fn bad_input_is_positioned_never_a_panic() {
        let bad = SMALL.replace(r#"target="2" />"#, r#"target="9" />"#);
        let err = parse("s.graphml", &bad, &Options::default()).unwrap_err();
        assert_eq!(
            err.diagnostics[0].to_string(),
            "s.graphml:12:5: edges[1].target: no node with id `9`"
        );
        let err = parse("s.graphml", "<graphml><graph>", &Options::default()).unwrap_err();
        assert_eq!(err.diagnostics[0].loc.line, 1);
        for junk in ["", "<a/>", "<graphml/>", "\u{0}"] {
            assert!(parse("s.graphml", junk, &Options::default()).is_err());
        }
    }
}

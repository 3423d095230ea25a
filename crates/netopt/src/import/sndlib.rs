//! SNDlib XML (`<network xmlns="http://sndlib.zib.de/network">`): nodes, links and demands.
//!
//! A link's capacity is its `preInstalledModule` capacity, or, without one, its largest
//! `addModule` capacity (with a warning: that is what the link could have, not what it has).
//! `routingCost`, when positive, is the IGP weight (1 otherwise). SNDlib gives no unit;
//! values are multiplied by `unit` (bit/s per unit, Mbit/s by default, the unit of its
//! backbone instances). SNDlib links and demands are undirected; here a link has its capacity
//! in each direction (as the twin's links do) and a demand flows from `source` to `target`.

use doppel_model::Path;
use doppel_model::yaml::Loc;
use roxmltree::{Document, Node};

use super::{ImportError, Imported, Sink};
use crate::network::{LinkProps, Network, TrafficMatrix};

/// How to read an SNDlib file.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Bit/s per unit of the file's capacities and demand values.
    pub unit: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { unit: 1e6 }
    }
}

/// An SNDlib instance: the network and its demands.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Nodes and links.
    pub network: Network,
    /// The demands (empty when the file has none).
    pub demands: TrafficMatrix,
}

fn pos(doc: &Document<'_>, n: Node<'_, '_>) -> Loc {
    let p = doc.text_pos_at(n.range().start);
    Loc {
        line: p.row,
        col: p.col,
    }
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.tag_name().name() == name)
}

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| c.tag_name().name() == name)
}

fn text<'a>(n: Node<'a, '_>) -> &'a str {
    n.text().unwrap_or("").trim()
}

/// Reads an SNDlib XML instance.
pub fn parse(file: &str, text: &str, opts: &Options) -> Result<Imported<Instance>, ImportError> {
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
    let inst = read(&doc, opts, &mut sink);
    sink.finish(inst)
}

fn read(doc: &Document<'_>, opts: &Options, sink: &mut Sink) -> Option<Instance> {
    let root = doc.root_element();
    if root.tag_name().name() != "network" {
        sink.error(
            pos(doc, root),
            Path::root(),
            "expected a <network> document",
        );
        return None;
    }
    let Some(structure) = child(root, "networkStructure") else {
        sink.error(pos(doc, root), Path::of(["networkStructure"]), "missing");
        return None;
    };
    let mut net = Network::new();
    if let Some(nodes) = child(structure, "nodes") {
        for (i, n) in children(nodes, "node").enumerate() {
            let p = Path::of(["nodes"]).index(i);
            match n.attribute("id") {
                Some(id) => {
                    if let Err(e) = net.add_node(id) {
                        sink.error(pos(doc, n), p, e.to_string());
                    }
                }
                None => sink.error(pos(doc, n), p, "a node needs an `id`"),
            }
        }
    }
    let number = |n: Node<'_, '_>, p: &Path, sink: &mut Sink| -> Option<f64> {
        let t = text(n);
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                sink.error(
                    pos(doc, n),
                    p.clone(),
                    format!("`{t}` is not a non-negative number"),
                );
                None
            }
        }
    };
    let endpoint = |net: &Network, n: Node<'_, '_>, key: &str, p: &Path, sink: &mut Sink| {
        let q = p.key(key);
        let Some(c) = child(n, key) else {
            sink.error(pos(doc, n), q, format!("missing <{key}>"));
            return None;
        };
        let id = text(c);
        let v = net.node(id);
        if v.is_none() {
            sink.error(pos(doc, c), q, format!("no node `{id}`"));
        }
        v
    };
    let mut links = Vec::new();
    if let Some(ls) = child(structure, "links") {
        for (i, l) in children(ls, "link").enumerate() {
            let p = Path::of(["links"]).index(i);
            let name = l
                .attribute("id")
                .map_or_else(|| format!("link{i}"), str::to_owned);
            let (a, b) = (
                endpoint(&net, l, "source", &p, sink),
                endpoint(&net, l, "target", &p, sink),
            );
            let pre = child(l, "preInstalledModule").and_then(|m| child(m, "capacity"));
            let capacity = match pre {
                Some(c) => number(c, &p.key("preInstalledModule").key("capacity"), sink),
                None => {
                    let mut best: Option<f64> = None;
                    if let Some(am) = child(l, "additionalModules") {
                        for (j, m) in children(am, "addModule").enumerate() {
                            if let Some(c) = child(m, "capacity") {
                                let q = p.key("additionalModules").index(j).key("capacity");
                                if let Some(v) = number(c, &q, sink) {
                                    best = Some(best.map_or(v, |b| b.max(v)));
                                }
                            }
                        }
                    }
                    match best {
                        Some(v) => {
                            sink.warn(
                                pos(doc, l),
                                p.clone(),
                                "no pre-installed capacity; using the largest module's",
                            );
                            Some(v)
                        }
                        None => {
                            sink.error(pos(doc, l), p.clone(), "the link has no capacity");
                            None
                        }
                    }
                }
            };
            let weight = match child(l, "routingCost") {
                Some(c) => {
                    number(c, &p.key("routingCost"), sink).map(|w| if w > 0.0 { w } else { 1.0 })
                }
                None => Some(1.0),
            };
            if let (Some(a), Some(b), Some(c), Some(w)) = (a, b, capacity, weight) {
                links.push((name, a, b, c * opts.unit, w, pos(doc, l), p));
            }
        }
    }
    for (name, a, b, capacity, weight, at, p) in links {
        if capacity <= 0.0 {
            sink.warn(at, p, "a link of capacity 0 is left out");
            continue;
        }
        let props = LinkProps {
            capacity,
            latency: 0.0,
            weight,
        };
        if let Err(e) = net.add_simple_link(name, a, b, props, false) {
            sink.error(at, p, e.to_string());
        }
    }
    let mut tm = TrafficMatrix::new(net.node_count());
    if let Some(ds) = child(root, "demands") {
        for (i, d) in children(ds, "demand").enumerate() {
            let p = Path::of(["demands"]).index(i);
            let (s, t) = (
                endpoint(&net, d, "source", &p, sink),
                endpoint(&net, d, "target", &p, sink),
            );
            let v = match child(d, "demandValue") {
                Some(c) => number(c, &p.key("demandValue"), sink),
                None => {
                    sink.error(pos(doc, d), p.key("demandValue"), "missing <demandValue>");
                    None
                }
            };
            if let (Some(s), Some(t), Some(v)) = (s, t, v)
                && let Err(e) = tm.add(s, t, v * opts.unit)
            {
                sink.error(pos(doc, d), p, e.to_string());
            }
        }
    }
    if sink.has_errors() {
        None
    } else {
        Some(Instance {
            network: net,
            demands: tm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_positioned_never_a_panic() {
        let text = "<network xmlns=\"http://sndlib.zib.de/network\">\n<networkStructure>\n<nodes><node id=\"A\"/><node id=\"B\"/></nodes>\n<links><link id=\"L\"><source>A</source><target>Q</target>\n<preInstalledModule><capacity>ten</capacity></preInstalledModule></link></links>\n</networkStructure></network>";
        let err = parse("s.xml", text, &Options::default()).unwrap_err();
        let got: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "s.xml:4:39: links[0].target: no node `Q`",
                "s.xml:5:21: links[0].preInstalledModule.capacity: `ten` is not a non-negative number",
            ]
        );
        for junk in [
            "",
            "<network/>",
            "<x>",
            "<network><networkStructure/></network>x",
        ] {
            assert!(parse("s.xml", junk, &Options::default()).is_err(), "{junk}");
        }
    }
}

//! networkx node-link JSON, the topology format of FIGRET, DOTE and TEAL:
//! `{"directed": true, "nodes": [{"id": 0}, ...], "links": [{"source": 0, "target": 2,
//! "capacity": 1e10}, ...]}` (`edges` is accepted for `links`, as newer networkx writes it).
//!
//! Capacities are taken in the file's unit times `capacity_unit` (FIGRET's are bit/s; TEAL's
//! are unitless and only meaningful against demands in the same unit). An optional `weight`
//! is the IGP weight (1 otherwise). When node ids are the integers 0..n-1 (as matrices in
//! this layout assume), a node's index is its id whatever the order of the list. In a directed
//! file the arcs u→v and v→u form one physical link, which fails as a whole.

use std::collections::HashMap;

use doppel_model::Path;
use doppel_model::yaml::{Loc, SpanIndex};
use serde_json::Value;

use super::{ImportError, Imported, Sink};
use crate::network::Network;

/// How to read a node-link file.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Bit/s per unit of the file's `capacity` values.
    pub capacity_unit: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { capacity_unit: 1.0 }
    }
}

/// Where JSON nodes are: the model's YAML reader (JSON is YAML) gives every pointer a
/// position; if it cannot read the text, positions fall back to the document start.
pub(crate) struct Positions(Option<SpanIndex>);

impl Positions {
    pub(crate) fn of(text: &str) -> Self {
        Positions(doppel_model::yaml::parse(text).ok().map(|p| p.index))
    }

    pub(crate) fn at(&self, path: &Path) -> Loc {
        match &self.0 {
            Some(ix) => ix.value(&path.pointer()),
            None => Loc { line: 1, col: 1 },
        }
    }
}

/// Parses JSON text, reporting a syntax error at its position.
pub(crate) fn parse_json(text: &str, sink: &mut Sink) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let loc = Loc {
                line: u32::try_from(e.line()).unwrap_or(u32::MAX).max(1),
                col: u32::try_from(e.column()).unwrap_or(u32::MAX).max(1),
            };
            sink.error(loc, Path::root(), format!("not valid JSON: {e}"));
            None
        }
    }
}

fn id_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a node-link JSON topology.
pub fn parse(file: &str, text: &str, opts: &Options) -> Result<Imported<Network>, ImportError> {
    let mut sink = Sink::new(file);
    let Some(doc) = parse_json(text, &mut sink) else {
        return sink.finish(None);
    };
    let pos = Positions::of(text);
    let net = read(&doc, &pos, opts, &mut sink);
    sink.finish(net)
}

fn read(doc: &Value, pos: &Positions, opts: &Options, sink: &mut Sink) -> Option<Network> {
    let root = Path::root();
    let Some(obj) = doc.as_object() else {
        sink.error(
            pos.at(&root),
            root,
            "expected an object with `nodes` and `links`",
        );
        return None;
    };
    let directed = match obj.get("directed") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            let p = root.key("directed");
            sink.error(pos.at(&p), p, "expected true or false");
            false
        }
    };
    let nodes_path = root.key("nodes");
    let Some(nodes) = obj.get("nodes").and_then(Value::as_array) else {
        sink.error(pos.at(&root), nodes_path, "expected a list of nodes");
        return None;
    };
    // (id key, path)
    let mut ids: Vec<(String, Path)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let p = nodes_path.index(i);
        match n.get("id").and_then(id_key) {
            Some(k) => {
                if ids.iter().any(|(x, _)| *x == k) {
                    sink.error(
                        pos.at(&p.key("id")),
                        p.key("id"),
                        format!("node `{k}` twice"),
                    );
                } else {
                    ids.push((k, p));
                }
            }
            None => sink.error(pos.at(&p), p, "a node needs an `id` (number or string)"),
        }
    }
    // Index = id when the ids are exactly 0..n-1.
    let numeric: Option<Vec<usize>> = ids.iter().map(|(k, _)| k.parse::<usize>().ok()).collect();
    let order: Vec<usize> = match numeric {
        Some(nums)
            if {
                let mut s = nums.clone();
                s.sort_unstable();
                s.iter().enumerate().all(|(i, &v)| i == v)
            } =>
        {
            let mut o: Vec<usize> = (0..ids.len()).collect();
            o.sort_by_key(|&i| nums[i]);
            o
        }
        _ => (0..ids.len()).collect(),
    };
    let mut net = Network::new();
    for &i in &order {
        if let Err(e) = net.add_node(ids[i].0.clone()) {
            sink.error(pos.at(&ids[i].1), ids[i].1.clone(), e.to_string());
        }
    }
    let (links_key, links) = match (obj.get("links"), obj.get("edges")) {
        (Some(Value::Array(l)), _) => ("links", l),
        (None, Some(Value::Array(l))) => ("edges", l),
        _ => {
            sink.error(pos.at(&root), root.key("links"), "expected a list of links");
            return None;
        }
    };
    let links_path = root.key(links_key);
    // Directed files: pair u→v with v→u into one link.
    let mut pair: HashMap<(usize, usize), usize> = HashMap::new();
    for (i, l) in links.iter().enumerate() {
        let p = links_path.index(i);
        let mut end = |key: &str| -> Option<usize> {
            let q = p.key(key);
            match l.get(key).and_then(id_key) {
                Some(k) => match net.node(&k) {
                    Some(v) => Some(v),
                    None => {
                        sink.error(pos.at(&q), q, format!("no node `{k}`"));
                        None
                    }
                },
                None => {
                    sink.error(pos.at(&p), q, format!("a link needs `{key}` (a node id)"));
                    None
                }
            }
        };
        let (a, b) = (end("source"), end("target"));
        let capacity = match l.get("capacity").map(Value::as_f64) {
            Some(Some(c)) if c.is_finite() && c > 0.0 => Some(c * opts.capacity_unit),
            Some(_) => {
                let q = p.key("capacity");
                sink.error(pos.at(&q), q, "capacity must be a positive number");
                None
            }
            None => {
                sink.error(pos.at(&p), p.key("capacity"), "a link needs a `capacity`");
                None
            }
        };
        let weight = match l.get("weight").map(Value::as_f64) {
            None => Some(1.0),
            Some(Some(w)) if w.is_finite() && w > 0.0 => Some(w),
            Some(_) => {
                let q = p.key("weight");
                sink.error(pos.at(&q), q, "weight must be a positive number");
                None
            }
        };
        let (Some(a), Some(b), Some(capacity), Some(weight)) = (a, b, capacity, weight) else {
            continue;
        };
        if a == b {
            sink.warn(pos.at(&p), p, "a link from a node to itself is ignored");
            continue;
        }
        if directed && net.arc_between(a, b).is_some() {
            sink.error(pos.at(&p), p, "a second link between the same nodes");
            continue;
        }
        let link = match pair.get(&(b, a)) {
            Some(&l) if directed => l,
            _ => {
                let name = format!("{}-{}", net.nodes()[a], net.nodes()[b]);
                net.add_link(name)
            }
        };
        pair.insert((a, b), link);
        let res = net.add_arc(a, b, capacity, 0.0, weight, link);
        let res = res.and_then(|_| {
            if directed {
                Ok(0)
            } else {
                net.add_arc(b, a, capacity, 0.0, weight, link)
            }
        });
        if let Err(e) = res {
            sink.error(pos.at(&p), p, e.to_string());
        }
    }
    if sink.has_errors() { None } else { Some(net) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_directed_file_and_pairs_opposite_arcs() {
        let text = r#"{"directed": true, "nodes": [{"id": 1}, {"id": 0}, {"id": 2}],
 "links": [{"source": 0, "target": 1, "capacity": 10.0},
           {"source": 1, "target": 0, "capacity": 10.0},
           {"source": 1, "target": 2, "capacity": 5.0, "weight": 3}]}"#;
        let net = parse("t.json", text, &Options::default()).unwrap().value;
        assert_eq!(net.nodes(), ["0", "1", "2"]); // index = id
        assert_eq!(net.arcs().len(), 3);
        assert_eq!(net.links(), ["0-1", "1-2"]);
        assert_eq!(net.arcs()[2].weight, 3.0);
        assert_eq!(net.arcs()[2].capacity, 5.0);
    }

    #[test]
    fn junk_gets_positioned_diagnostics() {
        let text = "{\"directed\": true,\n \"nodes\": [{\"id\": 0}, {\"id\": 1}],\n \"links\": [\n  {\"source\": 0, \"target\": 7, \"capacity\": 1},\n  {\"source\": 0, \"target\": 1, \"capacity\": -4}]}";
        let err = parse("t.json", text, &Options::default()).unwrap_err();
        let lines: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "t.json:4:27: links[0].target: no node `7`",
                "t.json:5:42: links[1].capacity: capacity must be a positive number",
            ]
        );
        let err = parse(
            "t.json",
            "{\"nodes\": [\n  {\"id\": 0},,]}",
            &Options::default(),
        )
        .unwrap_err();
        assert_eq!(err.diagnostics[0].loc.line, 2);
        for bad in [
            "",
            "[]",
            "{\"nodes\": 3}",
            "{\"nodes\": [], \"links\": {}}",
            "null",
        ] {
            assert!(parse("t.json", bad, &Options::default()).is_err(), "{bad}");
        }
    }
}

//! The network the optimizers work on: named nodes, directed arcs (capacity in bit/s, latency
//! in seconds, IGP weight) grouped into physical links, and the traffic matrix offered to it.
//!
//! Arcs keep their index forever: a failure marks the arcs of a link down instead of removing
//! them, so loads and weights computed on a failed network line up with the intact one.

use std::collections::HashMap;

use doppel_model::Twin;

/// What is wrong with a network or a traffic matrix built by hand or from the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetError {
    /// A node name used twice.
    #[error("node `{0}` is defined twice")]
    DuplicateNode(String),
    /// A reference to a node that does not exist.
    #[error("unknown node `{0}`")]
    UnknownNode(String),
    /// A node index out of range.
    #[error("node index {0} is out of range (the network has {1} nodes)")]
    NodeIndex(usize, usize),
    /// A link index out of range.
    #[error("link index {0} is out of range")]
    LinkIndex(usize),
    /// Capacity not a positive finite number.
    #[error("link `{link}`: capacity must be a positive number of bit/s, not {value}")]
    Capacity {
        /// The link.
        link: String,
        /// The value given.
        value: f64,
    },
    /// IGP weight not a positive finite number.
    #[error("link `{link}`: IGP weight must be a positive number, not {value}")]
    Weight {
        /// The link.
        link: String,
        /// The value given.
        value: f64,
    },
    /// Latency negative or not finite.
    #[error("link `{link}`: latency must be a non-negative number of seconds, not {value}")]
    Latency {
        /// The link.
        link: String,
        /// The value given.
        value: f64,
    },
    /// A link from a node to itself.
    #[error("link `{0}` joins a node to itself")]
    SelfLoop(String),
    /// A demand that is negative or not finite.
    #[error("demand {src} -> {dst}: rate must be a non-negative number of bit/s, not {value}")]
    Demand {
        /// Source node index.
        src: usize,
        /// Destination node index.
        dst: usize,
        /// The value given.
        value: f64,
    },
    /// A dense matrix whose size is not nodes².
    #[error("a traffic matrix for {nodes} nodes has {expected} entries, not {got}")]
    MatrixSize {
        /// Nodes.
        nodes: usize,
        /// nodes².
        expected: usize,
        /// Entries given.
        got: usize,
    },
}

/// One direction of a link.
#[derive(Debug, Clone, PartialEq)]
pub struct Arc {
    /// Tail node index.
    pub from: usize,
    /// Head node index.
    pub to: usize,
    /// Capacity in bit/s (positive).
    pub capacity: f64,
    /// One-way propagation latency in seconds.
    pub latency: f64,
    /// IGP weight (positive).
    pub weight: f64,
    /// Index of the physical link this arc belongs to.
    pub link: usize,
    /// False while the link is failed.
    pub up: bool,
}

/// Capacity (bit/s), latency (s) and IGP weight of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProps {
    /// Capacity in bit/s.
    pub capacity: f64,
    /// One-way latency in seconds.
    pub latency: f64,
    /// IGP weight.
    pub weight: f64,
}

impl LinkProps {
    /// A link of `capacity` bit/s, no latency, weight 1.
    pub fn new(capacity: f64) -> Self {
        LinkProps {
            capacity,
            latency: 0.0,
            weight: 1.0,
        }
    }
}

/// A directed network with capacities, latencies and IGP weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Network {
    nodes: Vec<String>,
    index: HashMap<String, usize>,
    arcs: Vec<Arc>,
    links: Vec<String>,
    out: Vec<Vec<usize>>,
    inc: Vec<Vec<usize>>,
}

impl Network {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node; names are unique.
    pub fn add_node(&mut self, name: impl Into<String>) -> Result<usize, NetError> {
        let name = name.into();
        if self.index.contains_key(&name) {
            return Err(NetError::DuplicateNode(name));
        }
        let i = self.nodes.len();
        self.index.insert(name.clone(), i);
        self.nodes.push(name);
        self.out.push(Vec::new());
        self.inc.push(Vec::new());
        Ok(i)
    }

    /// Adds a physical link (a name arcs can belong to) and returns its index.
    pub fn add_link(&mut self, name: impl Into<String>) -> usize {
        self.links.push(name.into());
        self.links.len() - 1
    }

    /// Adds a directed arc belonging to `link`.
    pub fn add_arc(
        &mut self,
        from: usize,
        to: usize,
        capacity: f64,
        latency: f64,
        weight: f64,
        link: usize,
    ) -> Result<usize, NetError> {
        let n = self.nodes.len();
        for v in [from, to] {
            if v >= n {
                return Err(NetError::NodeIndex(v, n));
            }
        }
        let name = self
            .links
            .get(link)
            .cloned()
            .ok_or(NetError::LinkIndex(link))?;
        if from == to {
            return Err(NetError::SelfLoop(name));
        }
        if !(capacity.is_finite() && capacity > 0.0) {
            return Err(NetError::Capacity {
                link: name,
                value: capacity,
            });
        }
        if !(weight.is_finite() && weight > 0.0) {
            return Err(NetError::Weight {
                link: name,
                value: weight,
            });
        }
        if !(latency.is_finite() && latency >= 0.0) {
            return Err(NetError::Latency {
                link: name,
                value: latency,
            });
        }
        let a = self.arcs.len();
        self.arcs.push(Arc {
            from,
            to,
            capacity,
            latency,
            weight,
            link,
            up: true,
        });
        self.out[from].push(a);
        self.inc[to].push(a);
        Ok(a)
    }

    /// Adds a link named `name` with one arc (`directed`) or one in each direction.
    pub fn add_simple_link(
        &mut self,
        name: impl Into<String>,
        a: usize,
        b: usize,
        props: LinkProps,
        directed: bool,
    ) -> Result<usize, NetError> {
        let l = self.add_link(name);
        let LinkProps {
            capacity,
            latency,
            weight,
        } = props;
        self.add_arc(a, b, capacity, latency, weight, l)?;
        if !directed {
            self.add_arc(b, a, capacity, latency, weight, l)?;
        }
        Ok(l)
    }

    /// The network of a twin: its routers, and its links with their bandwidth, latency and
    /// cost (IGP weight). An undirected link gives an arc in each direction with the same
    /// capacity and weight.
    pub fn from_twin(twin: &Twin) -> Result<Network, NetError> {
        let mut net = Network::new();
        for name in twin.routers.keys() {
            net.add_node(name.clone())?;
        }
        for (name, link) in &twin.links {
            let a = net
                .node(&link.from)
                .ok_or_else(|| NetError::UnknownNode(link.from.clone()))?;
            let b = net
                .node(&link.to)
                .ok_or_else(|| NetError::UnknownNode(link.to.clone()))?;
            let props = LinkProps {
                capacity: link.bandwidth.as_bits_per_sec(),
                latency: link.latency.as_secs_f64(),
                weight: link.cost,
            };
            net.add_simple_link(name.clone(), a, b, props, link.directed)?;
        }
        Ok(net)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node names, by index.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The index of a node.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// All arcs, up or down, by index.
    pub fn arcs(&self) -> &[Arc] {
        &self.arcs
    }

    /// Link names, by index.
    pub fn links(&self) -> &[String] {
        &self.links
    }

    /// The index of a link by name.
    pub fn link(&self, name: &str) -> Option<usize> {
        self.links.iter().position(|l| l == name)
    }

    /// Arcs of link `l`.
    pub fn link_arcs(&self, l: usize) -> impl Iterator<Item = usize> + '_ {
        self.arcs
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.link == l)
            .map(|(i, _)| i)
    }

    /// Arcs leaving `v` that are up.
    pub fn out_arcs(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        self.out
            .get(v)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&a| self.arcs[a].up)
    }

    /// Arcs entering `v` that are up.
    pub fn in_arcs(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        self.inc
            .get(v)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&a| self.arcs[a].up)
    }

    /// The first up arc from `a` to `b`, if any.
    pub fn arc_between(&self, a: usize, b: usize) -> Option<usize> {
        self.out_arcs(a).find(|&x| self.arcs[x].to == b)
    }

    /// A link by the names of its ends, `A-B` or `A->B` (either direction for `-`).
    pub fn find_link_by_ends(&self, spec: &str) -> Option<usize> {
        let (a, b, directed) = if let Some((a, b)) = spec.split_once("->") {
            (a, b, true)
        } else {
            let (a, b) = spec.split_once('-')?;
            (a, b, false)
        };
        let (a, b) = (self.node(a.trim())?, self.node(b.trim())?);
        self.arcs
            .iter()
            .find(|x| (x.from == a && x.to == b) || (!directed && x.from == b && x.to == a))
            .map(|x| x.link)
    }

    /// This network with every arc of the given links down.
    pub fn with_links_down(&self, links: &[usize]) -> Network {
        let mut n = self.clone();
        for a in &mut n.arcs {
            if links.contains(&a.link) {
                a.up = false;
            }
        }
        n
    }

    /// The IGP weight of every arc.
    pub fn weights(&self) -> Vec<f64> {
        self.arcs.iter().map(|a| a.weight).collect()
    }

    /// Sets the IGP weight of every arc (ignoring extra values; non-positive ones are refused).
    pub fn set_weights(&mut self, weights: &[f64]) -> Result<(), NetError> {
        for (a, &w) in self.arcs.iter_mut().zip(weights) {
            if !(w.is_finite() && w > 0.0) {
                return Err(NetError::Weight {
                    link: self.links.get(a.link).cloned().unwrap_or_default(),
                    value: w,
                });
            }
            a.weight = w;
        }
        Ok(())
    }

    /// Largest arc capacity (bit/s), or 1 for a network without arcs.
    pub fn max_capacity(&self) -> f64 {
        self.arcs
            .iter()
            .map(|a| a.capacity)
            .fold(0.0_f64, f64::max)
            .max(f64::MIN_POSITIVE)
    }
}

/// Traffic from one node to another, in bit/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Source node index.
    pub src: usize,
    /// Destination node index.
    pub dst: usize,
    /// Rate in bit/s (positive).
    pub rate: f64,
}

/// A traffic matrix: the positive demands between distinct nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficMatrix {
    nodes: usize,
    demands: Vec<Demand>,
}

impl TrafficMatrix {
    /// An empty matrix over `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        TrafficMatrix {
            nodes,
            demands: Vec::new(),
        }
    }

    /// A matrix from `nodes`² values in row-major order (row = source); the diagonal and
    /// zeros are left out.
    pub fn from_dense(nodes: usize, values: &[f64]) -> Result<Self, NetError> {
        let expected = nodes * nodes;
        if values.len() != expected {
            return Err(NetError::MatrixSize {
                nodes,
                expected,
                got: values.len(),
            });
        }
        let mut tm = TrafficMatrix::new(nodes);
        for (i, &v) in values.iter().enumerate() {
            let (s, d) = (i / nodes, i % nodes);
            if s != d {
                tm.add(s, d, v)?;
            }
        }
        Ok(tm)
    }

    /// Adds `rate` bit/s from `src` to `dst` (to what is already there). Zero is ignored, and
    /// so is traffic from a node to itself, which never enters the network.
    pub fn add(&mut self, src: usize, dst: usize, rate: f64) -> Result<(), NetError> {
        for v in [src, dst] {
            if v >= self.nodes {
                return Err(NetError::NodeIndex(v, self.nodes));
            }
        }
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(NetError::Demand {
                src,
                dst,
                value: rate,
            });
        }
        if rate == 0.0 || src == dst {
            return Ok(());
        }
        match self
            .demands
            .iter_mut()
            .find(|d| d.src == src && d.dst == dst)
        {
            Some(d) => d.rate += rate,
            None => self.demands.push(Demand { src, dst, rate }),
        }
        Ok(())
    }

    /// Number of nodes the matrix is over.
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// The positive demands.
    pub fn demands(&self) -> &[Demand] {
        &self.demands
    }

    /// Sum of all demands, bit/s.
    pub fn total(&self) -> f64 {
        self.demands.iter().map(|d| d.rate).sum()
    }

    /// This matrix with every demand multiplied by `factor` (non-negative).
    pub fn scaled(&self, factor: f64) -> TrafficMatrix {
        TrafficMatrix {
            nodes: self.nodes,
            demands: self
                .demands
                .iter()
                .map(|d| Demand {
                    rate: d.rate * factor,
                    ..*d
                })
                .filter(|d| d.rate > 0.0)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_links_become_arcs_both_ways_unless_directed() {
        let loaded = doppel_model::load_str(
            "t.yaml",
            "doppel: 1\nrouters:\n  a: {}\n  b: {}\n  c: {}\nlinks:\n  ab: {from: a, to: b, bandwidth: 10Gbit/s, latency: 2ms, cost: 5}\n  bc: {from: b, to: c, bandwidth: 1Gbit/s, directed: true}\n",
        );
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        let net = Network::from_twin(&loaded.twin).unwrap();
        assert_eq!(net.node_count(), 3);
        assert_eq!(net.arcs().len(), 3);
        let ab = net.arc_between(0, 1).unwrap();
        let ba = net.arc_between(1, 0).unwrap();
        assert_eq!(net.arcs()[ab].capacity, 10e9);
        assert_eq!(net.arcs()[ba].weight, 5.0);
        assert!((net.arcs()[ab].latency - 0.002).abs() < 1e-12);
        assert!(net.arc_between(2, 1).is_none());
        assert_eq!(net.arcs()[net.arc_between(1, 2).unwrap()].weight, 1.0);
        assert_eq!(net.find_link_by_ends("b-a"), Some(0));
        assert_eq!(net.find_link_by_ends("c->b"), None);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut net = Network::new();
        let a = net.add_node("a").unwrap();
        let b = net.add_node("b").unwrap();
        assert!(net.add_node("a").is_err());
        for (cap, w, lat) in [(0.0, 1.0, 0.0), (1.0, -1.0, 0.0), (1.0, 1.0, f64::NAN)] {
            assert!(
                net.add_simple_link(
                    "x",
                    a,
                    b,
                    LinkProps {
                        capacity: cap,
                        latency: lat,
                        weight: w
                    },
                    false
                )
                .is_err()
            );
        }
        assert!(
            net.add_simple_link(
                "x",
                a,
                a,
                LinkProps {
                    capacity: 1.0,
                    latency: 0.0,
                    weight: 1.0
                },
                false
            )
            .is_err()
        );
        let mut tm = TrafficMatrix::new(2);
        assert!(tm.add(0, 1, -1.0).is_err());
        assert!(tm.add(0, 2, 1.0).is_err());
        tm.add(0, 1, 2.0).unwrap();
        tm.add(0, 1, 3.0).unwrap();
        tm.add(1, 1, 3.0).unwrap();
        assert_eq!(tm.demands().len(), 1);
        assert_eq!(tm.total(), 5.0);
        assert!(TrafficMatrix::from_dense(2, &[0.0; 3]).is_err());
    }
}

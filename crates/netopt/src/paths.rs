//! Shortest paths: Dijkstra over the arcs that are up, Yen's k shortest loopless paths, and
//! the candidate path sets (tunnels) the path-based LP splits traffic over.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use crate::network::{Network, TrafficMatrix};

/// A path: the arcs it takes, in order.
pub type Path = Vec<usize>;

/// Candidate paths (tunnels) per (source, destination) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathSet {
    /// Paths by (source, destination) node index, each a list of arc indices.
    pub paths: BTreeMap<(usize, usize), Vec<Path>>,
}

impl PathSet {
    /// The `k` shortest loopless paths by IGP weight for every demand of `tm` (Yen).
    pub fn k_shortest(net: &Network, tm: &TrafficMatrix, k: usize) -> PathSet {
        let w = net.weights();
        let mut paths = BTreeMap::new();
        for d in tm.demands() {
            paths
                .entry((d.src, d.dst))
                .or_insert_with(|| k_shortest_paths(net, d.src, d.dst, k, &w));
        }
        PathSet { paths }
    }

    /// The paths whose arcs are all up in `net` (tunnels that survive a failure).
    pub fn surviving(&self, net: &Network) -> PathSet {
        let up = |p: &Path| p.iter().all(|&a| net.arcs().get(a).is_some_and(|x| x.up));
        PathSet {
            paths: self
                .paths
                .iter()
                .map(|(k, ps)| (*k, ps.iter().filter(|p| up(p)).cloned().collect()))
                .collect(),
        }
    }

    /// The paths of one pair (empty when there are none).
    pub fn of(&self, src: usize, dst: usize) -> &[Path] {
        self.paths.get(&(src, dst)).map_or(&[], |v| v.as_slice())
    }
}

/// Whether `path` is a walk from `src` to `dst` over arcs of `net` (any state) without
/// repeating a node.
pub fn is_simple_path(net: &Network, path: &[usize], src: usize, dst: usize) -> bool {
    let mut at = src;
    let mut seen = vec![false; net.node_count()];
    if let Some(s) = seen.get_mut(src) {
        *s = true;
    }
    for &a in path {
        let Some(arc) = net.arcs().get(a) else {
            return false;
        };
        if arc.from != at || seen[arc.to] {
            return false;
        }
        seen[arc.to] = true;
        at = arc.to;
    }
    at == dst && !path.is_empty()
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    dist: f64,
    node: usize,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on distance, then node index for determinism.
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Distance from every node to `t` over up arcs with lengths `w` (infinite when unreachable).
pub fn distances_to(net: &Network, t: usize, w: &[f64]) -> Vec<f64> {
    let n = net.node_count();
    let mut dist = vec![f64::INFINITY; n];
    if t >= n {
        return dist;
    }
    dist[t] = 0.0;
    let mut heap = BinaryHeap::new();
    heap.push(Entry { dist: 0.0, node: t });
    while let Some(Entry { dist: d, node: v }) = heap.pop() {
        if d > dist[v] {
            continue;
        }
        for a in net.in_arcs(v) {
            let u = net.arcs()[a].from;
            let nd = d + w[a];
            if nd < dist[u] {
                dist[u] = nd;
                heap.push(Entry { dist: nd, node: u });
            }
        }
    }
    dist
}

/// Shortest-path tree from `s` over up arcs with lengths `w`: the distance to every node and
/// the arc by which each is reached (`None` for `s` and for unreachable nodes).
pub fn tree_from(net: &Network, s: usize, w: &[f64]) -> (Vec<f64>, Vec<Option<usize>>) {
    shortest_tree(net, s, w, &[], &[])
}

/// The path to `t` in a tree from [`tree_from`] rooted at `s` (`None` when unreachable).
pub fn path_in_tree(net: &Network, pred: &[Option<usize>], s: usize, t: usize) -> Option<Path> {
    let mut path = Vec::new();
    let mut v = t;
    while v != s {
        let a = (*pred.get(v)?)?;
        path.push(a);
        v = net.arcs()[a].from;
        if path.len() > net.arcs().len() {
            return None;
        }
    }
    path.reverse();
    Some(path)
}

/// Distance from `s` to every node over up arcs with lengths `w`.
pub fn distances_from(net: &Network, s: usize, w: &[f64]) -> Vec<f64> {
    shortest_tree(net, s, w, &[], &[]).0
}

/// Dijkstra from `s` avoiding banned arcs and nodes: distances and the arc into each node.
fn shortest_tree(
    net: &Network,
    s: usize,
    w: &[f64],
    banned_arc: &[bool],
    banned_node: &[bool],
) -> (Vec<f64>, Vec<Option<usize>>) {
    let n = net.node_count();
    let mut dist = vec![f64::INFINITY; n];
    let mut pred = vec![None; n];
    if s >= n {
        return (dist, pred);
    }
    dist[s] = 0.0;
    let mut heap = BinaryHeap::new();
    heap.push(Entry { dist: 0.0, node: s });
    while let Some(Entry { dist: d, node: v }) = heap.pop() {
        if d > dist[v] {
            continue;
        }
        for a in net.out_arcs(v) {
            if banned_arc.get(a).copied().unwrap_or(false) {
                continue;
            }
            let u = net.arcs()[a].to;
            if banned_node.get(u).copied().unwrap_or(false) {
                continue;
            }
            let nd = d + w[a];
            if nd < dist[u] {
                dist[u] = nd;
                pred[u] = Some(a);
                heap.push(Entry { dist: nd, node: u });
            }
        }
    }
    (dist, pred)
}

fn shortest_path_avoiding(
    net: &Network,
    s: usize,
    t: usize,
    w: &[f64],
    banned_arc: &[bool],
    banned_node: &[bool],
) -> Option<Path> {
    let (dist, pred) = shortest_tree(net, s, w, banned_arc, banned_node);
    if !dist.get(t)?.is_finite() {
        return None;
    }
    let mut path = Vec::new();
    let mut v = t;
    while v != s {
        let a = pred[v]?;
        path.push(a);
        v = net.arcs()[a].from;
    }
    path.reverse();
    Some(path)
}

/// A shortest path from `s` to `t` over up arcs with lengths `w`.
pub fn shortest_path(net: &Network, s: usize, t: usize, w: &[f64]) -> Option<Path> {
    shortest_path_avoiding(net, s, t, w, &[], &[])
}

fn path_cost(p: &[usize], w: &[f64]) -> f64 {
    p.iter().map(|&a| w[a]).sum()
}

/// Yen's `k` shortest loopless paths from `s` to `t` by lengths `w`, shortest first.
pub fn k_shortest_paths(net: &Network, s: usize, t: usize, k: usize, w: &[f64]) -> Vec<Path> {
    let mut found: Vec<Path> = Vec::new();
    if k == 0 || s == t {
        return found;
    }
    let Some(first) = shortest_path(net, s, t, w) else {
        return found;
    };
    found.push(first);
    let mut candidates: Vec<(f64, Path)> = Vec::new();
    let m = net.arcs().len();
    let n = net.node_count();
    while found.len() < k {
        let Some(last) = found.last().cloned() else {
            break;
        };
        let mut spur_node = s;
        for j in 0..last.len() {
            let root = &last[..j];
            let mut banned_arc = vec![false; m];
            for p in &found {
                if p.len() > j && p[..j] == *root {
                    banned_arc[p[j]] = true;
                }
            }
            let mut banned_node = vec![false; n];
            let mut v = s;
            for &a in root {
                banned_node[v] = true;
                v = net.arcs()[a].to;
            }
            if let Some(spur) =
                shortest_path_avoiding(net, spur_node, t, w, &banned_arc, &banned_node)
            {
                let mut total = root.to_vec();
                total.extend(spur);
                if !found.contains(&total) && !candidates.iter().any(|(_, p)| *p == total) {
                    candidates.push((path_cost(&total, w), total));
                }
            }
            spur_node = net.arcs()[last[j]].to;
        }
        // Cheapest candidate; ties go to fewer hops, then to the lexicographically smaller
        // arc list, so the result does not depend on discovery order.
        let best = candidates
            .iter()
            .enumerate()
            .min_by(|(_, (ca, pa)), (_, (cb, pb))| {
                ca.total_cmp(cb)
                    .then(pa.len().cmp(&pb.len()))
                    .then(pa.cmp(pb))
            })
            .map(|(i, _)| i);
        match best {
            Some(i) => found.push(candidates.swap_remove(i).1),
            None => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square a-b-c-d-a with a diagonal a-c of weight 3.
    fn square() -> Network {
        let mut net = Network::new();
        for n in ["a", "b", "c", "d"] {
            net.add_node(n).unwrap();
        }
        for (name, x, y, w) in [
            ("ab", 0, 1, 1.0),
            ("bc", 1, 2, 1.0),
            ("cd", 2, 3, 1.0),
            ("da", 3, 0, 1.0),
            ("ac", 0, 2, 3.0),
        ] {
            net.add_simple_link(
                name,
                x,
                y,
                crate::LinkProps {
                    capacity: 1.0,
                    latency: 0.0,
                    weight: w,
                },
                false,
            )
            .unwrap();
        }
        net
    }

    #[test]
    fn yen_finds_all_three_loopless_paths_in_cost_order() {
        let net = square();
        let w = net.weights();
        let ps = k_shortest_paths(&net, 0, 2, 5, &w);
        let costs: Vec<f64> = ps.iter().map(|p| path_cost(p, &w)).collect();
        // a-b-c (2), a-d-c (2), a-c (3); no other loopless path exists.
        assert_eq!(costs, vec![2.0, 2.0, 3.0]);
        for p in &ps {
            assert!(is_simple_path(&net, p, 0, 2));
        }
        assert_eq!(distances_to(&net, 2, &w)[0], 2.0);
        assert_eq!(distances_from(&net, 0, &w)[2], 2.0);
    }

    #[test]
    fn failed_links_are_avoided() {
        let net = square();
        let down = net.with_links_down(&[net.link("ab").unwrap(), net.link("cd").unwrap()]);
        let w = down.weights();
        let ps = k_shortest_paths(&down, 0, 2, 5, &w);
        assert_eq!(ps.len(), 1);
        assert_eq!(path_cost(&ps[0], &w), 3.0);
        let all = PathSet::k_shortest(&net, &tm01(), 3);
        let left = all.surviving(&down);
        assert_eq!(all.of(0, 1).len(), 3);
        assert_eq!(left.of(0, 1).len(), 1); // only a-c-b survives
    }

    fn tm01() -> TrafficMatrix {
        let mut tm = TrafficMatrix::new(4);
        tm.add(0, 1, 1.0).unwrap();
        tm
    }
}

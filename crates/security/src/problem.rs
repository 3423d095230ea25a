//! A delete-free planning problem (an AND/OR graph): facts, and actions that need all of their
//! preconditions and add their effects, each with a cost. Both the twin's attack graph and
//! NASim scenarios are turned into one; the algorithms here know nothing about either.
//!
//! - [`Problem::closure`]: every fact derivable from the initial ones (the fixpoint).
//! - [`Problem::plan`]: a cheapest set of actions achieving all goal facts, by A* over sets of
//!   achieved facts with the admissible h_max heuristic (Bonet & Geffner), so optimal; it gives
//!   up after a node budget and says so.
//! - [`Problem::cheapest_tree`]: Knuth's generalisation of Dijkstra to AND/OR graphs: the
//!   cheapest derivation of each fact when shared sub-derivations are paid once per use;
//!   polynomial, for large graphs.
//! - [`Problem::minimal_proofs`]: the minimal sets of actions deriving a fact (no proper subset
//!   derives it), enumerated up to a cap.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// Index of a fact.
pub type FactId = usize;
/// Index of an action.
pub type ActId = usize;

/// Stack reserved for the proof enumeration's thread (see [`Problem::minimal_proofs`]).
pub const PROOF_STACK_BYTES: usize = 1 << 30;

/// An action: needs every `pre`, adds every `add`, costs `cost` (≥ 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Act<L> {
    /// Preconditions (all needed).
    pub pre: Vec<FactId>,
    /// Effects.
    pub add: Vec<FactId>,
    /// Cost, ≥ 0.
    pub cost: f64,
    /// What the action is, for the caller.
    pub label: L,
}

/// Facts (of type `F`, interned) and actions labelled `L`.
#[derive(Debug, Clone)]
pub struct Problem<F, L> {
    facts: Vec<F>,
    index: HashMap<F, FactId>,
    /// The actions, in the order they were added.
    pub actions: Vec<Act<L>>,
    /// Facts true from the start.
    pub initial: Vec<FactId>,
    achievers: Vec<Vec<ActId>>,
}

impl<F: Clone + Eq + std::hash::Hash, L> Default for Problem<F, L> {
    fn default() -> Self {
        Problem {
            facts: Vec::new(),
            index: HashMap::new(),
            actions: Vec::new(),
            initial: Vec::new(),
            achievers: Vec::new(),
        }
    }
}

/// A cheapest plan: its actions in an executable order, and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Actions, each applicable after the ones before it.
    pub actions: Vec<ActId>,
    /// Total cost.
    pub cost: f64,
    /// A* nodes expanded.
    pub expanded: usize,
}

/// Why no plan was returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Some goal can never be derived.
    #[error("the goal cannot be reached")]
    Unreachable,
    /// The search expanded more nodes than allowed.
    #[error("search gave up after {0} nodes")]
    Budget(usize),
}

#[derive(PartialEq)]
struct Node {
    f: f64,
    g: f64,
    id: usize,
}
impl Eq for Node {}
impl Ord for Node {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on f, then larger g first, then older first (deterministic).
        other
            .f
            .total_cmp(&self.f)
            .then(self.g.total_cmp(&other.g))
            .then(other.id.cmp(&self.id))
    }
}
impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type Bits = Vec<u64>;

fn has(bits: &Bits, f: FactId) -> bool {
    bits.get(f / 64).is_some_and(|w| w >> (f % 64) & 1 == 1)
}
fn set(bits: &mut Bits, f: FactId) {
    if let Some(w) = bits.get_mut(f / 64) {
        *w |= 1 << (f % 64);
    }
}

impl<F: Clone + Eq + std::hash::Hash, L> Problem<F, L> {
    /// The id of `fact`, interning it.
    pub fn fact(&mut self, fact: F) -> FactId {
        if let Some(&id) = self.index.get(&fact) {
            return id;
        }
        let id = self.facts.len();
        self.facts.push(fact.clone());
        self.index.insert(fact, id);
        self.achievers.push(Vec::new());
        id
    }

    /// The id of `fact` if it was ever mentioned.
    pub fn find(&self, fact: &F) -> Option<FactId> {
        self.index.get(fact).copied()
    }

    /// The fact with this id.
    pub fn get(&self, id: FactId) -> &F {
        &self.facts[id]
    }

    /// Number of facts.
    pub fn fact_count(&self) -> usize {
        self.facts.len()
    }

    /// Adds an action and returns its id.
    pub fn add_action(&mut self, pre: Vec<FactId>, add: Vec<FactId>, cost: f64, label: L) -> ActId {
        let id = self.actions.len();
        // Proof enumeration holds action ids as `u32` (a graph of 4 billion actions would not
        // fit in memory first).
        debug_assert!(u32::try_from(id).is_ok(), "too many actions");
        for &f in &add {
            self.achievers[f].push(id);
        }
        self.actions.push(Act {
            pre,
            add,
            cost: cost.max(0.0),
            label,
        });
        id
    }

    /// Actions adding `fact`.
    pub fn achievers(&self, fact: FactId) -> &[ActId] {
        &self.achievers[fact]
    }

    fn consumers(&self) -> Vec<Vec<ActId>> {
        let mut c = vec![Vec::new(); self.facts.len()];
        for (i, a) in self.actions.iter().enumerate() {
            for &p in &a.pre {
                c[p].push(i);
            }
        }
        c
    }

    /// Every fact derivable from `start` using the actions `enabled` allows.
    pub fn closure_from(&self, start: &[FactId], enabled: impl Fn(ActId) -> bool) -> Vec<bool> {
        let consumers = self.consumers();
        let mut missing: Vec<usize> = self.actions.iter().map(|a| a.pre.len()).collect();
        let mut reached = vec![false; self.facts.len()];
        let mut queue: Vec<FactId> = Vec::new();
        let fire = |a: ActId, reached: &mut Vec<bool>, queue: &mut Vec<FactId>| {
            if !enabled(a) {
                return;
            }
            for &f in &self.actions[a].add {
                if !reached[f] {
                    reached[f] = true;
                    queue.push(f);
                }
            }
        };
        for &f in start {
            if !reached[f] {
                reached[f] = true;
                queue.push(f);
            }
        }
        for (a, m) in missing.iter().enumerate() {
            if *m == 0 {
                fire(a, &mut reached, &mut queue);
            }
        }
        while let Some(f) = queue.pop() {
            for &a in &consumers[f] {
                missing[a] -= 1;
                if missing[a] == 0 {
                    fire(a, &mut reached, &mut queue);
                }
            }
        }
        reached
    }

    /// Every fact derivable from the initial facts.
    pub fn closure(&self) -> Vec<bool> {
        self.closure_from(&self.initial, |_| true)
    }

    /// For every fact, the cost of its cheapest derivation tree (Knuth 1977): an action's
    /// cost plus the sum of its preconditions' costs; `f64::INFINITY` when not derivable.
    /// Also returns the action chosen for each fact.
    pub fn cheapest_tree(&self) -> (Vec<f64>, Vec<Option<ActId>>) {
        let consumers = self.consumers();
        let n = self.facts.len();
        let mut cost = vec![f64::INFINITY; n];
        let mut best = vec![None; n];
        let mut done = vec![false; n];
        let mut missing: Vec<usize> = self.actions.iter().map(|a| a.pre.len()).collect();
        let mut acc: Vec<f64> = self.actions.iter().map(|a| a.cost).collect();
        let mut heap = BinaryHeap::new();
        for &f in &self.initial {
            cost[f] = 0.0;
            heap.push(Node {
                f: 0.0,
                g: 0.0,
                id: f,
            });
        }
        for (a, act) in self.actions.iter().enumerate() {
            if act.pre.is_empty() {
                for &q in &act.add {
                    if act.cost < cost[q] {
                        cost[q] = act.cost;
                        best[q] = Some(a);
                        heap.push(Node {
                            f: act.cost,
                            g: 0.0,
                            id: q,
                        });
                    }
                }
            }
        }
        while let Some(Node { f: c, id: fact, .. }) = heap.pop() {
            if done[fact] || c > cost[fact] {
                continue;
            }
            done[fact] = true;
            for &a in &consumers[fact] {
                acc[a] += c;
                missing[a] -= 1;
                if missing[a] == 0 {
                    for &q in &self.actions[a].add {
                        if !done[q] && acc[a] < cost[q] {
                            cost[q] = acc[a];
                            best[q] = Some(a);
                            heap.push(Node {
                                f: acc[a],
                                g: 0.0,
                                id: q,
                            });
                        }
                    }
                }
            }
        }
        (cost, best)
    }

    /// The actions of the cheapest derivation tree of `goal` (each once), in executable order.
    pub fn tree_actions(&self, goal: FactId, best: &[Option<ActId>]) -> Vec<ActId> {
        let init: Vec<bool> = {
            let mut v = vec![false; self.facts.len()];
            for &f in &self.initial {
                v[f] = true;
            }
            v
        };
        let mut out = Vec::new();
        let mut seen = vec![false; self.facts.len()];
        let mut stack = vec![(goal, false)];
        while let Some((f, expanded)) = stack.pop() {
            if init[f] {
                continue;
            }
            let Some(a) = best.get(f).copied().flatten() else {
                continue;
            };
            if expanded {
                if !out.contains(&a) {
                    out.push(a);
                }
                continue;
            }
            if seen[f] {
                continue;
            }
            seen[f] = true;
            stack.push((f, true));
            for &p in &self.actions[a].pre {
                stack.push((p, false));
            }
        }
        out
    }

    fn h_max(&self, state: &Bits, goals: &[FactId], consumers: &[Vec<ActId>]) -> f64 {
        let n = self.facts.len();
        let mut cost = vec![f64::INFINITY; n];
        let mut missing: Vec<usize> = self.actions.iter().map(|a| a.pre.len()).collect();
        let mut worst: Vec<f64> = vec![0.0; self.actions.len()];
        let mut heap = BinaryHeap::new();
        for (f, c) in cost.iter_mut().enumerate() {
            if has(state, f) {
                *c = 0.0;
                heap.push(Node {
                    f: 0.0,
                    g: 0.0,
                    id: f,
                });
            }
        }
        for act in &self.actions {
            if act.pre.is_empty() {
                for &q in &act.add {
                    if act.cost < cost[q] {
                        cost[q] = act.cost;
                        heap.push(Node {
                            f: act.cost,
                            g: 0.0,
                            id: q,
                        });
                    }
                }
            }
        }
        let mut done = vec![false; n];
        let mut goals_left = goals.iter().filter(|g| !has(state, **g)).count();
        if goals_left == 0 {
            return 0.0;
        }
        let mut h: f64 = 0.0;
        while let Some(Node { f: c, id: fact, .. }) = heap.pop() {
            if done[fact] || c > cost[fact] {
                continue;
            }
            done[fact] = true;
            if goals.contains(&fact) && !has(state, fact) {
                h = h.max(c);
                goals_left -= 1;
                if goals_left == 0 {
                    return h;
                }
            }
            for &a in &consumers[fact] {
                worst[a] = worst[a].max(c);
                missing[a] -= 1;
                if missing[a] == 0 {
                    let v = worst[a] + self.actions[a].cost;
                    for &q in &self.actions[a].add {
                        if v < cost[q] {
                            cost[q] = v;
                            heap.push(Node {
                                f: v,
                                g: 0.0,
                                id: q,
                            });
                        }
                    }
                }
            }
        }
        f64::INFINITY
    }

    /// A cheapest set of actions achieving every goal, optimal (A* with h_max). Zero-cost
    /// actions are applied eagerly (in a delete-free problem that never hurts). Gives up after
    /// `budget` expanded nodes.
    pub fn plan(&self, goals: &[FactId], budget: usize) -> Result<Plan, PlanError> {
        let words = self.facts.len().div_ceil(64).max(1);
        let consumers = self.consumers();
        let free: Vec<ActId> = (0..self.actions.len())
            .filter(|&a| self.actions[a].cost == 0.0)
            .collect();
        let saturate = |bits: &mut Bits| loop {
            let mut changed = false;
            for &a in &free {
                let act = &self.actions[a];
                if act.pre.iter().all(|p| has(bits, *p)) && act.add.iter().any(|q| !has(bits, *q)) {
                    for &q in &act.add {
                        set(bits, q);
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        };
        let mut start = vec![0u64; words];
        for &f in &self.initial {
            set(&mut start, f);
        }
        saturate(&mut start);
        let h0 = self.h_max(&start, goals, &consumers);
        if h0.is_infinite() {
            return Err(PlanError::Unreachable);
        }
        // Node storage: state, g, parent, action.
        let mut states: Vec<(Bits, f64, usize, Option<ActId>)> =
            vec![(start.clone(), 0.0, 0, None)];
        let mut best_g: HashMap<Bits, f64> = HashMap::new();
        best_g.insert(start, 0.0);
        let mut open = BinaryHeap::new();
        open.push(Node {
            f: h0,
            g: 0.0,
            id: 0,
        });
        let mut expanded = 0;
        while let Some(Node { g, id, .. }) = open.pop() {
            let (state, sg, _, _) = &states[id];
            if g > *sg || best_g.get(state).is_some_and(|b| *b < g) {
                continue;
            }
            if goals.iter().all(|f| has(state, *f)) {
                let mut actions = Vec::new();
                let mut cur = id;
                while let (_, _, parent, Some(a)) = &states[cur] {
                    actions.push(*a);
                    cur = *parent;
                }
                actions.reverse();
                return Ok(Plan {
                    actions,
                    cost: g,
                    expanded,
                });
            }
            expanded += 1;
            if expanded > budget {
                return Err(PlanError::Budget(budget));
            }
            let state = state.clone();
            for (a, act) in self.actions.iter().enumerate() {
                if act.cost == 0.0
                    || !act.pre.iter().all(|p| has(&state, *p))
                    || act.add.iter().all(|q| has(&state, *q))
                {
                    continue;
                }
                let mut next = state.clone();
                for &q in &act.add {
                    set(&mut next, q);
                }
                saturate(&mut next);
                let ng = g + act.cost;
                if best_g.get(&next).is_some_and(|b| *b <= ng) {
                    continue;
                }
                let h = self.h_max(&next, goals, &consumers);
                if h.is_infinite() {
                    continue;
                }
                best_g.insert(next.clone(), ng);
                states.push((next, ng, id, Some(a)));
                open.push(Node {
                    f: ng + h,
                    g: ng,
                    id: states.len() - 1,
                });
            }
        }
        Err(PlanError::Unreachable)
    }

    /// The minimal sets of actions deriving `goal` from the initial facts (sorted action ids;
    /// no set contains another), at most `cap` of them; the flag says whether the enumeration
    /// was cut short.
    ///
    /// Depth first from the goal: a fact's proofs are, over its achievers, the unions of one
    /// proof of each precondition, a fact already on the stack giving none (a proof must be
    /// well founded). What a fact yields therefore depends on which facts are on the stack,
    /// but only on those it explores that are: facts of its own strongly connected component
    /// (a fact both below and above it). So a result is cached with the facts of its component
    /// it explored and which of them were on the stack, and reused whenever the stack agrees
    /// on those; a result that met no fact on the stack is kept for good. Without this cache a
    /// fact inside a cycle would be recomputed on every visit, exponentially often.
    ///
    /// The search recurses once per fact along a chain (one lateral movement after another),
    /// so it runs on a thread of its own with a stack of [`PROOF_STACK_BYTES`] (reserved, and
    /// used only as deep as it goes): an ordinary thread's 2 to 8 MiB would overflow on a
    /// large flat estate.
    pub fn minimal_proofs(&self, goal: FactId, cap: usize) -> (Vec<Vec<ActId>>, bool)
    where
        F: Sync,
        L: Sync,
    {
        std::thread::scope(|scope| {
            match std::thread::Builder::new()
                .name("minimal-proofs".into())
                .stack_size(PROOF_STACK_BYTES)
                .spawn_scoped(scope, || self.minimal_proofs_here(goal, cap))
            {
                Ok(worker) => worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: search on this one.
                Err(_) => self.minimal_proofs_here(goal, cap),
            }
        })
    }

    fn minimal_proofs_here(&self, goal: FactId, cap: usize) -> (Vec<Vec<ActId>>, bool) {
        let mut initial = vec![false; self.facts.len()];
        for &f in &self.initial {
            initial[f] = true;
        }
        let mut cx = ProofCx {
            initial,
            on_stack: vec![false; self.facts.len()],
            memo: HashMap::new(),
            cyclic: HashMap::new(),
            component: self.components(),
            log: Vec::new(),
            cap,
            truncated: false,
        };
        let (proofs, _) = self.proofs(goal, &mut cx);
        let proofs = proofs
            .into_iter()
            .map(|s| s.into_iter().map(|a| a as ActId).collect())
            .collect();
        (proofs, cx.truncated)
    }

    /// The strongly connected components of the dependency graph (a fact depends on the
    /// preconditions of its achievers): a component number per fact.
    fn components(&self) -> Vec<usize> {
        let succ: Vec<Vec<FactId>> = (0..self.facts.len())
            .map(|f| {
                let mut v: Vec<FactId> = self.achievers[f]
                    .iter()
                    .flat_map(|a| self.actions[*a].pre.iter().copied())
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let mut comp = vec![0; succ.len()];
        for (k, members) in doppel_model::graph::strongly_connected(&succ, |w| *w)
            .iter()
            .enumerate()
        {
            for &f in members {
                comp[f] = k;
            }
        }
        comp
    }

    fn proofs(&self, fact: FactId, cx: &mut ProofCx) -> (Vec<ProofSet>, bool) {
        if cx.initial[fact] {
            return (vec![ProofSet::new()], false);
        }
        cx.log.push(fact);
        if cx.on_stack[fact] {
            return (Vec::new(), true);
        }
        if let Some(p) = cx.memo.get(&fact) {
            return (p.clone(), false);
        }
        if let Some(hit) = cx.cyclic.get(&fact).and_then(|entries| {
            entries.iter().find(|e| {
                e.explored
                    .iter()
                    .all(|&(f, on_stack)| cx.on_stack[f] == on_stack)
            })
        }) {
            cx.truncated |= hit.truncated;
            cx.log.extend(hit.explored.iter().map(|(f, _)| *f));
            return (hit.proofs.clone(), true);
        }
        let start = cx.log.len();
        let truncated_before = std::mem::replace(&mut cx.truncated, false);
        cx.on_stack[fact] = true;
        let mut tainted = false;
        // One run per achiever, each already minimal and in order.
        let mut runs: Vec<Vec<ProofSet>> = Vec::new();
        for &a in &self.achievers[fact] {
            let mut partial: Vec<ProofSet> = vec![std::iter::once(a as u32).collect()];
            for &p in &self.actions[a].pre {
                let (sub, t) = self.proofs(p, cx);
                tainted |= t;
                // Both lists are antichains; the unions of one set with each set of an
                // antichain disjoint from it are one too (all distinct, none inside another),
                // so they need ordering but no subset tests.
                let antichain = match (&partial[..], &sub[..]) {
                    ([x], ys) => ys.iter().all(|y| disjoint(x, y)),
                    (xs, [y]) => xs.iter().all(|x| disjoint(x, y)),
                    _ => false,
                };
                let mut next = Vec::new();
                'outer: for x in &partial {
                    for y in &sub {
                        next.push(union(x, y));
                        if next.len() >= cx.cap.saturating_mul(4) {
                            cx.truncated = true;
                            break 'outer;
                        }
                    }
                }
                partial = if antichain {
                    next.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
                    next
                } else {
                    minimal(next, cx.cap.saturating_mul(4))
                };
                if partial.is_empty() {
                    break;
                }
            }
            runs.push(partial);
        }
        // The first `cap + 1` minimal sets (smallest first) are all that is kept, and whether
        // there were more: `minimal` keeps a set by looking only at the sets before it, so
        // stopping there gives exactly the prefix of the full answer.
        let mut out = minimal_of_runs(&runs, cx.cap.saturating_add(1));
        if out.len() > cx.cap {
            out.truncate(cx.cap);
            cx.truncated = true;
        }
        cx.on_stack[fact] = false;
        let truncated_here = cx.truncated;
        cx.truncated |= truncated_before;
        // What this fact explored of its own component (nothing else can be on the stack
        // when it is called again); the log keeps only that, for the facts above it.
        let component = cx.component[fact];
        let mut explored: Vec<FactId> = cx.log[start..]
            .iter()
            .copied()
            .filter(|f| cx.component[*f] == component)
            .collect();
        explored.sort_unstable();
        explored.dedup();
        cx.log.truncate(start);
        cx.log.extend_from_slice(&explored);
        if tainted {
            let explored = explored.into_iter().map(|f| (f, cx.on_stack[f])).collect();
            cx.cyclic.entry(fact).or_default().push(Cached {
                explored,
                proofs: out.clone(),
                truncated: truncated_here,
            });
        } else {
            cx.memo.insert(fact, out.clone());
        }
        (out, tainted)
    }

    /// Orders a set of actions so each comes after those its preconditions need (from the
    /// initial facts); actions never enabled are left out.
    pub fn order(&self, actions: &[ActId]) -> Vec<ActId> {
        let mut have = vec![false; self.facts.len()];
        for &f in &self.initial {
            have[f] = true;
        }
        let mut left: Vec<ActId> = actions.to_vec();
        let mut out = Vec::new();
        while let Some(pos) = left
            .iter()
            .position(|&a| self.actions[a].pre.iter().all(|p| have[*p]))
        {
            let a = left.remove(pos);
            for &q in &self.actions[a].add {
                have[q] = true;
            }
            out.push(a);
        }
        out
    }
}

struct ProofCx {
    initial: Vec<bool>,
    on_stack: Vec<bool>,
    /// Results that met no fact on the stack: valid whatever the stack.
    memo: HashMap<FactId, Vec<ProofSet>>,
    /// Results that met facts on the stack, each with the facts of its component it explored
    /// and whether each was on the stack: valid when the stack agrees on all of them.
    cyclic: HashMap<FactId, Vec<Cached>>,
    /// Component number of each fact (see [`Problem::components`]).
    component: Vec<usize>,
    /// The facts visited below the frames on the stack, each frame's part reduced to its own
    /// component when it returns.
    log: Vec<FactId>,
    cap: usize,
    truncated: bool,
}

struct Cached {
    explored: Vec<(FactId, bool)>,
    proofs: Vec<ProofSet>,
    truncated: bool,
}

/// A set of actions (sorted ids) while proofs are enumerated: inline up to 14 actions, so the
/// millions of sets a large graph makes cost no allocation each.
type ProofSet = smallvec::SmallVec<[u32; 14]>;

/// The union of two sorted sets of action ids, sorted.
fn union(x: &[u32], y: &[u32]) -> ProofSet {
    // No capacity up front: the sets overlap, and a union that fits stays inline.
    let mut out = ProofSet::new();
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            Ordering::Less => {
                out.push(x[i]);
                i += 1;
            }
            Ordering::Greater => {
                out.push(y[j]);
                j += 1;
            }
            Ordering::Equal => {
                out.push(x[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&x[i..]);
    out.extend_from_slice(&y[j..]);
    out
}

/// Keeps the sets of a list ordered smallest first (by size, then lexicographically) that
/// contain no set kept before them (so no duplicates and no strict supersets), at most `cap`
/// of them; a 64-bit signature per kept set rejects most subset tests at once.
struct Keeper {
    out: Vec<ProofSet>,
    signatures: Vec<u64>,
    cap: usize,
}

impl Keeper {
    fn new(cap: usize) -> Keeper {
        Keeper {
            out: Vec::new(),
            signatures: Vec::new(),
            cap,
        }
    }

    /// Offers the next set in order; false once `cap` sets are kept.
    fn offer(&mut self, s: &[u32]) -> bool {
        let sig = s.iter().fold(0u64, |acc, x| acc | 1 << (x % 64));
        // A kept set is never larger than `s`, so a duplicate of it is caught here too. The
        // signatures are scanned in blocks without branches; only a block with a candidate
        // is looked at set by set.
        let mut covered = false;
        for (b, block) in self.signatures.chunks(8).enumerate() {
            if block.iter().fold(false, |hit, os| hit | (os & !sig == 0)) {
                covered = block
                    .iter()
                    .enumerate()
                    .any(|(k, os)| os & !sig == 0 && is_subset(&self.out[b * 8 + k], s));
                if covered {
                    break;
                }
            }
        }
        if !covered {
            self.out.push(s.into());
            self.signatures.push(sig);
        }
        self.out.len() < self.cap
    }
}

/// Removes duplicates and every set that strictly contains another; keeps at most `cap`,
/// smallest first (by size, then lexicographically).
fn minimal(sets: Vec<ProofSet>, cap: usize) -> Vec<ProofSet> {
    let mut sorted: Vec<(usize, &[u32])> = sets.iter().map(|s| (s.len(), &s[..])).collect();
    sorted.sort_unstable();
    let mut keep = Keeper::new(cap);
    for (_, s) in sorted {
        if !keep.offer(s) {
            break;
        }
    }
    keep.out
}

/// [`minimal`] of the concatenation of `runs`, each already in order: merged through a heap
/// of the runs' heads, so only as many sets are ordered as are looked at.
fn minimal_of_runs(runs: &[Vec<ProofSet>], cap: usize) -> Vec<ProofSet> {
    type Head<'a> = std::cmp::Reverse<(usize, &'a [u32], usize, usize)>;
    let mut heap: BinaryHeap<Head<'_>> = runs
        .iter()
        .enumerate()
        .filter_map(|(r, run)| {
            run.first()
                .map(|s| std::cmp::Reverse((s.len(), &s[..], r, 0)))
        })
        .collect();
    let mut keep = Keeper::new(cap);
    while let Some(std::cmp::Reverse((_, s, r, i))) = heap.pop() {
        if !keep.offer(s) {
            break;
        }
        if let Some(next) = runs[r].get(i + 1) {
            heap.push(std::cmp::Reverse((next.len(), &next[..], r, i + 1)));
        }
    }
    keep.out
}

/// Whether two sorted sets have no element in common.
fn disjoint(x: &[u32], y: &[u32]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => return false,
        }
    }
    true
}

fn is_subset(small: &[u32], big: &[u32]) -> bool {
    small.iter().all(|x| big.binary_search(x).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a --1--> b --1--> d ; a --5--> d ; c needs b and d (AND).
    fn toy() -> (Problem<&'static str, &'static str>, [FactId; 4]) {
        let mut p = Problem::default();
        let (a, b, c, d) = (p.fact("a"), p.fact("b"), p.fact("c"), p.fact("d"));
        p.initial.push(a);
        p.add_action(vec![a], vec![b], 1.0, "a>b");
        p.add_action(vec![b], vec![d], 1.0, "b>d");
        p.add_action(vec![a], vec![d], 5.0, "a>d");
        p.add_action(vec![b, d], vec![c], 1.0, "bd>c");
        (p, [a, b, c, d])
    }

    #[test]
    fn plan_shares_subgoals_and_tree_cost_does_not() {
        let (p, [_, _, c, _]) = toy();
        let plan = p.plan(&[c], 1000).unwrap();
        // Optimal: a>b, b>d, bd>c = 3. The tree cost pays b twice: 1 + (1+1) + 1 = 4.
        assert_eq!(plan.cost, 3.0);
        let labels: Vec<_> = plan.actions.iter().map(|a| p.actions[*a].label).collect();
        assert_eq!(labels, ["a>b", "b>d", "bd>c"]);
        let (cost, _) = p.cheapest_tree();
        assert_eq!(cost[c], 4.0);
    }

    #[test]
    fn minimal_proofs_drop_supersets() {
        let (p, [_, _, c, d]) = toy();
        let (proofs, truncated) = p.minimal_proofs(d, 10);
        assert!(!truncated);
        assert_eq!(proofs, vec![vec![2], vec![0, 1]]);
        // c: {a>b, b>d, bd>c} and {a>b, a>d, bd>c}; neither contains the other.
        let (proofs, _) = p.minimal_proofs(c, 10);
        assert_eq!(proofs, vec![vec![0, 1, 3], vec![0, 2, 3]]);
    }

    #[test]
    fn unreachable_goal_is_an_error() {
        let mut p: Problem<&str, ()> = Problem::default();
        let a = p.fact("a");
        let z = p.fact("z");
        p.initial.push(a);
        assert_eq!(p.plan(&[z], 10), Err(PlanError::Unreachable));
        assert!(!p.closure()[z]);
    }

    /// A random AND/OR graph with cycles: `facts` facts (fact 0 initial), `actions` actions of
    /// one to three preconditions and one or two effects.
    fn random_problem(
        rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
        facts: usize,
        actions: usize,
    ) -> Problem<usize, ()> {
        use rand::RngExt;
        let mut p = Problem::default();
        for f in 0..facts {
            p.fact(f);
        }
        p.initial.push(0);
        for _ in 0..actions {
            let pre: Vec<FactId> = (0..rng.random_range(1..=3))
                .map(|_| rng.random_range(0..facts))
                .collect();
            let add: Vec<FactId> = (0..rng.random_range(1..=2))
                .map(|_| rng.random_range(1..facts))
                .collect();
            p.add_action(pre, add, 1.0, ());
        }
        p
    }

    /// The definition, by brute force: the sets of actions whose closure holds `goal` and none
    /// of whose proper subsets' does, smallest first.
    fn minimal_proofs_by_definition(p: &Problem<usize, ()>, goal: FactId) -> Vec<Vec<ActId>> {
        let n = p.actions.len();
        let mut proving: Vec<Vec<ActId>> = (0u32..1 << n)
            .map(|mask| (0..n).filter(|a| mask >> a & 1 == 1).collect::<Vec<_>>())
            .filter(|set: &Vec<ActId>| p.closure_from(&p.initial, |a| set.contains(&a))[goal])
            .collect();
        proving.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        let mut out: Vec<Vec<ActId>> = Vec::new();
        for s in proving {
            if !out.iter().any(|o| o.iter().all(|x| s.contains(x))) {
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn minimal_proofs_match_the_definition_on_random_cyclic_graphs() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let (mut cyclic, mut nonempty) = (0, 0);
        for _ in 0..400 {
            let facts = rng.random_range(3..7);
            let actions = rng.random_range(2..11);
            let p = random_problem(&mut rng, facts, actions);
            if p.components().iter().enumerate().any(|(f, c)| {
                p.components()
                    .iter()
                    .enumerate()
                    .any(|(g, d)| g != f && c == d)
            }) {
                cyclic += 1;
            }
            for goal in 1..facts {
                let expected = minimal_proofs_by_definition(&p, goal);
                let (got, truncated) = p.minimal_proofs(goal, 1000);
                assert!(!truncated);
                assert_eq!(got, expected, "goal {goal} of {:?}", p.actions);
                nonempty += usize::from(!got.is_empty());
            }
        }
        // The sample must exercise cycles and goals with proofs, or it proves little.
        assert!(cyclic > 50, "{cyclic} cyclic graphs");
        assert!(nonempty > 300, "{nonempty} goals with proofs");
    }

    #[test]
    fn minimal_and_merged_runs_match_the_definition() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        for _ in 0..300 {
            let runs: Vec<Vec<ProofSet>> = (0..rng.random_range(0..6))
                .map(|_| {
                    let sets: Vec<ProofSet> = (0..rng.random_range(0..12))
                        .map(|_| {
                            let mut s: Vec<u32> = (0..rng.random_range(0..5))
                                .map(|_| rng.random_range(0..90))
                                .collect();
                            s.sort_unstable();
                            s.dedup();
                            s.into_iter().collect()
                        })
                        .collect();
                    minimal(sets, usize::MAX)
                })
                .collect();
            let all: Vec<Vec<u32>> = runs.iter().flatten().map(|s| s.to_vec()).collect();
            let cap = rng.random_range(1..8);
            // The definition: sort, then keep each set no kept set is a subset of.
            let mut sorted = all.clone();
            sorted.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            let mut expected: Vec<Vec<u32>> = Vec::new();
            for s in sorted {
                if expected.len() < cap && !expected.iter().any(|o| o.iter().all(|x| s.contains(x)))
                {
                    expected.push(s);
                }
            }
            let flat: Vec<ProofSet> = all.iter().map(|s| s.iter().copied().collect()).collect();
            let got: Vec<Vec<u32>> = minimal(flat, cap).iter().map(|s| s.to_vec()).collect();
            assert_eq!(got, expected);
            let merged: Vec<Vec<u32>> = minimal_of_runs(&runs, cap)
                .iter()
                .map(|s| s.to_vec())
                .collect();
            assert_eq!(merged, expected);
        }
    }

    #[test]
    fn a_deep_chain_does_not_overflow_the_stack() {
        // Fact i is given by the initial fact directly, or by fact i + 1: the search goes
        // 200,000 facts deep (each a frame) before it meets the end of the chain. A test
        // thread's 2 MiB stack would overflow without the enumeration's own thread.
        let n = 200_000;
        let mut p: Problem<usize, ()> = Problem::default();
        let start = p.fact(n + 1);
        p.initial.push(start);
        let facts: Vec<FactId> = (0..=n).map(|i| p.fact(i)).collect();
        let direct: Vec<ActId> = (0..n)
            .map(|i| p.add_action(vec![start], vec![facts[i]], 1.0, ()))
            .collect();
        for i in 0..n {
            p.add_action(vec![facts[i + 1]], vec![facts[i]], 1.0, ());
        }
        let (proofs, truncated) = p.minimal_proofs(facts[0], 1);
        assert_eq!(proofs, vec![vec![direct[0]]]);
        // Fact 0 has a second minimal proof (through fact 1), beyond the cap of 1.
        assert!(truncated);
    }
}

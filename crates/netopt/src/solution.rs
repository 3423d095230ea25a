//! A routing as every method returns it: how the traffic flows, the checked loads and MLU, and
//! what the method claimed and could prove.

use serde::Serialize;

use crate::check::{Checked, Flow};

/// How a routing was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Min-MLU LP over candidate paths (tunnels).
    LpPaths,
    /// Min-MLU LP over arcs: the true multicommodity optimum.
    LpEdges,
    /// Shortest paths with equal-cost multipath under the network's IGP weights.
    Ecmp,
    /// Shortest paths with ECMP under weights found by local search.
    Igp,
    /// Min-MLU over all paths by column generation (warm-startable; same optimum as
    /// [`Method::LpEdges`], certified by the same dual bound).
    LpColumns,
    /// Minimum mean delay (propagation plus M/M/1 queueing) under an MLU bound.
    LpDelay,
    /// One routing minimising the worst MLU over several matrices and single-link failures.
    Robust,
}

impl Method {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::LpPaths => "lp-paths",
            Method::LpEdges => "lp-edges",
            Method::Ecmp => "ecmp",
            Method::Igp => "igp",
            Method::LpColumns => "lp-columns",
            Method::LpDelay => "lp-delay",
            Method::Robust => "robust",
        }
    }
}

/// A routing of a traffic matrix, checked independently of whoever computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// How it was computed.
    pub method: Method,
    /// The flows.
    pub flow: Flow,
    /// Loads and MLU recomputed from the flows.
    pub checked: Checked,
    /// The MLU the solver claimed (its objective), for LPs.
    pub claimed_mlu: Option<f64>,
    /// A lower bound on the optimum of the same problem from the LP's duals, computed
    /// independently of the solver (see [`crate::check::lower_bound`]).
    pub lower_bound: Option<f64>,
}

impl Solution {
    /// The checked MLU.
    pub fn mlu(&self) -> f64 {
        self.checked.mlu
    }

    /// Relative gap between the checked MLU and the certified lower bound (0 = proven optimal).
    pub fn gap(&self) -> Option<f64> {
        let lb = self.lower_bound?;
        let u = self.checked.mlu;
        Some(if u > 0.0 {
            ((u - lb) / u).max(0.0)
        } else {
            0.0
        })
    }
}

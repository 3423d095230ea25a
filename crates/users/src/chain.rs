//! Arithmetic on a cohort's chain: the mean number of visits to each endpoint per session
//! (the traffic equations v = entry + v·P, solved as (I − Pᵀ)·v = entry) and a small dense
//! linear solver.

use indexmap::IndexMap;

use crate::model::Cohort;

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` when singular.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        let pivot_b = b[col];
        for row in col + 1..n {
            let f = a[row][col] / pivot_row[col];
            if f != 0.0 {
                for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
                b[row] -= f * pivot_b;
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Mean visits per session to each endpoint of the cohort's chain, in chain order. `None`
/// when the chain has no way out (a probability-one loop).
pub fn expected_visits(c: &Cohort) -> Option<IndexMap<String, f64>> {
    let names: Vec<&String> = c.chain.keys().collect();
    let n = names.len();
    let mut a = vec![vec![0.0; n]; n];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for (i, step) in c.chain.values().enumerate() {
        for (to, p) in &step.next {
            if let Some(j) = c.chain.get_index_of(to) {
                // v_j gets p · v_i: row j, column i.
                a[j][i] -= p;
            }
        }
    }
    let b: Vec<f64> = names
        .iter()
        .map(|e| c.entry.get(*e).copied().unwrap_or(0.0))
        .collect();
    let x = solve(a, b)?;
    Some(names.into_iter().cloned().zip(x).collect())
}

/// Probability that a session visits `target` at least once and stays for it: absorption into
/// a copy of the chain where `target` is absorbing, with each page kept with probability
/// `keep[i]` (the user neither abandons nor meets an error there: 1 without abandonment).
pub fn reach_probability(c: &Cohort, target: &[bool], keep: &[f64]) -> Option<f64> {
    // r_i = probability of reaching a target from i (having visited i, target not yet):
    // r_i = 1 if target_i, else keep_i · Σ_j P_ij r_j.
    let n = c.chain.len();
    let mut a = vec![vec![0.0; n]; n];
    let mut b = vec![0.0; n];
    for (i, step) in c.chain.values().enumerate() {
        a[i][i] = 1.0;
        let k = keep.get(i).copied().unwrap_or(1.0);
        if target.get(i).copied().unwrap_or(false) {
            // Reached only if the user stays for the goal page itself.
            b[i] = k;
            continue;
        }
        for (to, p) in &step.next {
            if let Some(j) = c.chain.get_index_of(to) {
                a[i][j] -= k * p;
            }
        }
    }
    let r = solve(a, b)?;
    Some(
        c.entry
            .iter()
            .filter_map(|(e, p)| c.chain.get_index_of(e).map(|i| p * r[i]))
            .sum(),
    )
}

/// Probability that a session ends by its own choice (not abandoned, no session-ending
/// error): f_i = keep_i · (exit_i + Σ_j P_ij f_j), averaged over entry pages.
pub fn completion_probability(c: &Cohort, keep: &[f64]) -> Option<f64> {
    let n = c.chain.len();
    let mut a = vec![vec![0.0; n]; n];
    let mut b = vec![0.0; n];
    for (i, step) in c.chain.values().enumerate() {
        let k = keep.get(i).copied().unwrap_or(1.0);
        a[i][i] = 1.0;
        b[i] = k * step.exit;
        for (to, p) in &step.next {
            if let Some(j) = c.chain.get_index_of(to) {
                a[i][j] -= k * p;
            }
        }
    }
    let f = solve(a, b)?;
    Some(
        c.entry
            .iter()
            .filter_map(|(e, p)| c.chain.get_index_of(e).map(|i| p * f[i]))
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system() {
        // 2x + y = 3, x + 3y = 5  =>  x = 0.8, y = 1.4
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).expect("solvable");
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }
}

//! A dense linear solve (Gaussian elimination with partial pivoting) for the traffic equations.
//!
//! Traffic equations have one unknown per station (tens to a few thousands), so an O(n³) dense
//! solve is instant and avoids pulling a full linear-algebra crate into the simulator.

/// Solves `a · x = b` in place for a square row-major `a` (`n × n`). Returns `None` when the
/// matrix is singular to working precision.
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    if a.len() != n * n {
        return None;
    }
    let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1.0);
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() <= 1e-12 * scale {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        let d = a[col * n + col];
        for row in col + 1..n {
            let f = a[row * n + col] / d;
            if f != 0.0 {
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let mut s = b[row];
        for k in row + 1..n {
            s -= a[row * n + k] * x[k];
        }
        x[row] = s / a[row * n + row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn solves_small_system() {
        // 2x + y = 5, x + 3y = 10 → x = 1, y = 3.
        let x = super::solve(vec![2.0, 1.0, 1.0, 3.0], vec![5.0, 10.0]).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn needs_pivoting() {
        // 0x + y = 2, x + y = 3 → x = 1, y = 2.
        let x = super::solve(vec![0.0, 1.0, 1.0, 1.0], vec![2.0, 3.0]).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn detects_singular() {
        assert!(super::solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0]).is_none());
    }
}

//! Open Jackson networks: exact traffic equations, then an independent M/M/c per station.

use super::{AnalyticError, QueueMetrics, linalg, mmc};

/// One station of an open network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenStation {
    /// Per-server service rate μ (exponential service).
    pub mu: f64,
    /// Number of identical servers c.
    pub servers: u32,
}

/// An open network: external Poisson arrivals γ, stations, and a routing matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenNetwork {
    /// The stations, indexed 0..n.
    pub stations: Vec<OpenStation>,
    /// External arrival rate into each station (γ, length n).
    pub arrivals: Vec<f64>,
    /// Routing matrix, `routing[i][j]` = probability that a customer leaving `i` goes to `j`
    /// (rows may sum to less than 1: the remainder leaves the network).
    pub routing: Vec<Vec<f64>>,
}

/// The solution of an open Jackson network.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JacksonSolution {
    /// Total arrival rate into each station (λ, from λ = γ + λP).
    pub lambda: Vec<f64>,
    /// Per-station steady-state means.
    pub stations: Vec<QueueMetrics>,
    /// Network throughput Σγ.
    pub throughput: f64,
    /// Mean number of customers in the network Σ L_i.
    pub l: f64,
    /// Mean time a customer spends in the network, L / Σγ (Little's law).
    pub w: f64,
}

/// Solves an open Jackson network.
///
/// The traffic equations `λ_j = γ_j + Σ_i λ_i P_ij` are solved as the linear system
/// `(I - Pᵀ) λ = γ`; each station is then an M/M/c queue with arrival rate λ_j (Jackson's
/// theorem), and the network sojourn time follows from Little's law.
pub fn jackson(net: &OpenNetwork) -> Result<JacksonSolution, AnalyticError> {
    let n = net.stations.len();
    if net.arrivals.len() != n || net.routing.len() != n {
        return Err(AnalyticError::Invalid(format!(
            "{n} stations but {} arrival rates and {} routing rows",
            net.arrivals.len(),
            net.routing.len()
        )));
    }
    for (i, row) in net.routing.iter().enumerate() {
        if row.len() != n {
            return Err(AnalyticError::Invalid(format!(
                "routing row {i} has {} entries",
                row.len()
            )));
        }
        if row.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || row.iter().sum::<f64>() > 1.0 + 1e-9
        {
            return Err(AnalyticError::Invalid(format!(
                "routing row {i} must hold probabilities summing to at most 1"
            )));
        }
    }
    if net.arrivals.iter().any(|g| !(g.is_finite() && *g >= 0.0)) {
        return Err(AnalyticError::Invalid(
            "external arrival rates must be >= 0".into(),
        ));
    }
    let mut a = vec![0.0; n * n];
    for j in 0..n {
        for i in 0..n {
            a[j * n + i] = f64::from(u8::from(i == j)) - net.routing[i][j];
        }
    }
    let lambda = linalg::solve(a, net.arrivals.clone()).ok_or(AnalyticError::Singular)?;
    let mut stations = Vec::with_capacity(n);
    for (j, (st, &lam)) in net.stations.iter().zip(&lambda).enumerate() {
        let m = mmc(lam.max(0.0), st.mu, st.servers).map_err(|e| match e {
            AnalyticError::Unstable { rho, .. } => AnalyticError::Unstable { station: j, rho },
            other => other,
        })?;
        stations.push(m);
    }
    let throughput: f64 = net.arrivals.iter().sum();
    let l: f64 = stations.iter().map(|m| m.l).sum();
    let w = if throughput > 0.0 {
        l / throughput
    } else {
        0.0
    };
    Ok(JacksonSolution {
        lambda,
        stations,
        throughput,
        l,
        w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tandem_of_ten_mm2() {
        // Published: ten M/M/2 stations, λ = 0.8, μ = 0.5 → 55.56 time units in the system.
        let n = 10;
        let mut routing = vec![vec![0.0; n]; n];
        for (i, row) in routing.iter_mut().enumerate().take(n - 1) {
            row[i + 1] = 1.0;
        }
        let mut arrivals = vec![0.0; n];
        arrivals[0] = 0.8;
        let net = OpenNetwork {
            stations: vec![
                OpenStation {
                    mu: 0.5,
                    servers: 2
                };
                n
            ],
            arrivals,
            routing,
        };
        let s = jackson(&net).unwrap();
        assert!((s.w - 55.556).abs() < 5e-3, "{}", s.w);
        assert!(s.lambda.iter().all(|l| (l - 0.8).abs() < 1e-12));
    }

    #[test]
    fn feedback_loop() {
        // Station 0 → station 1; from 1, back to 0 with p = 0.3, else leave. γ = 1 into 0.
        // λ0 = 1 + 0.3 λ1 and λ1 = λ0 → λ0 = λ1 = 1/0.7.
        // With μ0 = 3, μ1 = 4 (single servers): W = Σ (λ_i/(μ_i-λ_i)) / γ.
        let net = OpenNetwork {
            stations: vec![
                OpenStation {
                    mu: 3.0,
                    servers: 1,
                },
                OpenStation {
                    mu: 4.0,
                    servers: 1,
                },
            ],
            arrivals: vec![1.0, 0.0],
            routing: vec![vec![0.0, 1.0], vec![0.3, 0.0]],
        };
        let s = jackson(&net).unwrap();
        let lam = 1.0 / 0.7;
        assert!((s.lambda[0] - lam).abs() < 1e-12 && (s.lambda[1] - lam).abs() < 1e-12);
        let expected = lam / (3.0 - lam) + lam / (4.0 - lam);
        assert!((s.w - expected).abs() < 1e-12, "{} vs {expected}", s.w);
    }

    #[test]
    fn closed_loop_is_singular_and_overload_is_unstable() {
        let st = OpenStation {
            mu: 1.0,
            servers: 1,
        };
        let trap = OpenNetwork {
            stations: vec![st, st],
            arrivals: vec![1.0, 0.0],
            routing: vec![vec![0.0, 1.0], vec![1.0, 0.0]],
        };
        assert_eq!(jackson(&trap), Err(AnalyticError::Singular));
        let over = OpenNetwork {
            stations: vec![st, st],
            arrivals: vec![0.6, 0.0],
            routing: vec![vec![0.0, 1.0], vec![0.5, 0.0]],
        };
        assert!(matches!(
            jackson(&over),
            Err(AnalyticError::Unstable { station: 0, .. })
        ));
    }
}

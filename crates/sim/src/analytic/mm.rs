//! Single-station Markovian queues: M/M/1 and M/M/c (Erlang C).

use super::AnalyticError;

/// Steady-state means of one queueing station.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct QueueMetrics {
    /// Per-server utilization ρ = λ/(cμ).
    pub rho: f64,
    /// Probability that an arrival has to wait (Erlang C; ρ for M/M/1).
    pub p_wait: f64,
    /// Mean number waiting (not in service).
    pub lq: f64,
    /// Mean number in the station (waiting or in service).
    pub l: f64,
    /// Mean waiting time before service starts.
    pub wq: f64,
    /// Mean response (sojourn) time: waiting plus service.
    pub w: f64,
}

/// M/M/1 with arrival rate `lambda` and service rate `mu`.
pub fn mm1(lambda: f64, mu: f64) -> Result<QueueMetrics, AnalyticError> {
    mmc(lambda, mu, 1)
}

/// M/M/c with arrival rate `lambda`, per-server service rate `mu` and `c` servers.
///
/// The Erlang C probability is computed from the Erlang B recursion
/// `B(k) = a·B(k-1) / (k + a·B(k-1))`, which is stable for any `c` (no factorials), then
/// `C = B / (1 - ρ(1 - B))`, `Lq = C·ρ/(1-ρ)`, `Wq = Lq/λ`, `W = Wq + 1/μ`, `L = λW`.
pub fn mmc(lambda: f64, mu: f64, c: u32) -> Result<QueueMetrics, AnalyticError> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(AnalyticError::Invalid(format!(
            "arrival rate must be finite and >= 0, got {lambda}"
        )));
    }
    if !(mu.is_finite() && mu > 0.0) {
        return Err(AnalyticError::Invalid(format!(
            "service rate must be finite and > 0, got {mu}"
        )));
    }
    if c == 0 {
        return Err(AnalyticError::Invalid(
            "a station needs at least one server".into(),
        ));
    }
    let a = lambda / mu;
    let rho = a / f64::from(c);
    if rho >= 1.0 {
        return Err(AnalyticError::Unstable { station: 0, rho });
    }
    if lambda == 0.0 {
        return Ok(QueueMetrics {
            rho: 0.0,
            p_wait: 0.0,
            lq: 0.0,
            l: 0.0,
            wq: 0.0,
            w: 1.0 / mu,
        });
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let p_wait = b / (1.0 - rho * (1.0 - b));
    let lq = p_wait * rho / (1.0 - rho);
    let wq = lq / lambda;
    let w = wq + 1.0 / mu;
    Ok(QueueMetrics {
        rho,
        p_wait,
        lq,
        l: lambda * w,
        wq,
        w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mm1_textbook() {
        // ρ = 0.8: W = 1/(μ-λ) = 5, L = ρ/(1-ρ) = 4.
        let m = mm1(0.8, 1.0).unwrap();
        assert!(close(m.w, 5.0, 1e-12), "{m:?}");
        assert!(close(m.l, 4.0, 1e-12), "{m:?}");
        assert!(close(m.lq, 3.2, 1e-12), "{m:?}");
        assert!(close(m.p_wait, 0.8, 1e-12), "{m:?}");
    }

    #[test]
    fn mmc_published_values() {
        // λ = 9, μ = 5, c = 2: Lq = 7.674, R = 1.053 (published Erlang C example).
        let m = mmc(9.0, 5.0, 2).unwrap();
        assert!(close(m.lq, 7.674, 5e-4), "{m:?}");
        assert!(close(m.w, 1.053, 5e-4), "{m:?}");
        // Same arrivals with c = 4: Lq = 0.105, R = 0.212.
        let m = mmc(9.0, 5.0, 4).unwrap();
        assert!(close(m.lq, 0.105, 5e-4), "{m:?}");
        assert!(close(m.w, 0.212, 5e-4), "{m:?}");
        // Little's law ties the means together.
        assert!(close(m.l, 9.0 * m.w, 1e-12));
        assert!(close(m.l - m.lq, 9.0 / 5.0, 1e-12));
    }

    #[test]
    fn mm2_tandem_station() {
        // λ = 0.8, μ = 0.5, c = 2: W = 5.5556 per station, so 55.56 for ten in tandem.
        let m = mmc(0.8, 0.5, 2).unwrap();
        assert!(close(10.0 * m.w, 55.556, 5e-3), "{m:?}");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            mmc(1.0, 1.0, 1),
            Err(AnalyticError::Unstable { .. })
        ));
        assert!(matches!(mmc(1.0, 0.0, 1), Err(AnalyticError::Invalid(_))));
        assert!(matches!(mmc(1.0, 1.0, 0), Err(AnalyticError::Invalid(_))));
        assert!(matches!(
            mmc(f64::NAN, 1.0, 1),
            Err(AnalyticError::Invalid(_))
        ));
    }
}

//! Mean Value Analysis of closed single-class product-form networks (exact and Schweitzer).

use super::AnalyticError;

/// How a station of a closed network serves customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationKind {
    /// A FCFS queue with this many identical exponential servers.
    Queue {
        /// Number of servers c (≥ 1).
        servers: u32,
    },
    /// An infinite-server (pure delay) station, e.g. user think time.
    Delay,
}

/// One station of a closed network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedStation {
    /// Queue or delay.
    pub kind: StationKind,
    /// Service demand D = visits × mean service time per visit, per customer cycle.
    pub demand: f64,
}

/// A closed network: `population` customers cycling through the stations, plus a think time.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedNetwork {
    /// The stations visited during one cycle.
    pub stations: Vec<ClosedStation>,
    /// Think time Z between cycles (an extra delay station; 0 for none).
    pub think_time: f64,
    /// Number of customers N.
    pub population: u32,
}

/// The steady-state means of a closed network.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MvaSolution {
    /// System throughput X (cycles per time unit).
    pub throughput: f64,
    /// Response time per cycle Σ R_k, think time excluded (R = N/X - Z).
    pub response_time: f64,
    /// Residence time per cycle at each station.
    pub residence: Vec<f64>,
    /// Mean number of customers at each station.
    pub queue_length: Vec<f64>,
    /// Per-server utilization of each station (X·D/c; X·D for delay stations).
    pub utilization: Vec<f64>,
}

fn check(net: &ClosedNetwork) -> Result<(), AnalyticError> {
    if !(net.think_time.is_finite() && net.think_time >= 0.0) {
        return Err(AnalyticError::Invalid(
            "think time must be finite and >= 0".into(),
        ));
    }
    for (k, s) in net.stations.iter().enumerate() {
        if !(s.demand.is_finite() && s.demand >= 0.0) {
            return Err(AnalyticError::Invalid(format!(
                "station {k}: demand must be >= 0"
            )));
        }
        if s.kind == (StationKind::Queue { servers: 0 }) {
            return Err(AnalyticError::Invalid(format!(
                "station {k}: needs at least one server"
            )));
        }
    }
    if net.population > 0 && net.think_time == 0.0 && net.stations.iter().all(|s| s.demand == 0.0) {
        return Err(AnalyticError::Invalid(
            "all demands and the think time are zero".into(),
        ));
    }
    Ok(())
}

fn servers(kind: StationKind) -> u32 {
    match kind {
        StationKind::Queue { servers } => servers,
        StationKind::Delay => 0,
    }
}

fn solution(
    net: &ClosedNetwork,
    x: f64,
    residence: Vec<f64>,
    queue_length: Vec<f64>,
) -> MvaSolution {
    let utilization = net
        .stations
        .iter()
        .map(|s| match s.kind {
            StationKind::Queue { servers } => x * s.demand / f64::from(servers),
            StationKind::Delay => x * s.demand,
        })
        .collect();
    MvaSolution {
        throughput: x,
        response_time: residence.iter().sum(),
        residence,
        queue_length,
        utilization,
    }
}

/// Exact MVA, O(N × Σ c_k).
///
/// Single-server stations use `R_k(n) = D_k (1 + Q_k(n-1))`. A station with c > 1 servers is
/// load dependent (service rate min(j, c)/S with j customers present) and uses the marginal
/// probabilities p_k(j | n) of the j < c-1 lowest populations:
/// `R_k(n) = D_k/c · (1 + Q_k(n-1) + Σ_{j=1}^{c-1} (c-j) p_k(j-1 | n-1))`,
/// `p_k(j | n) = X(n) D_k / j · p_k(j-1 | n-1)` for 1 ≤ j < c and
/// `p_k(0 | n) = 1 - X(n) D_k / c - Σ_{j=1}^{c-1} (c-j)/c · p_k(j | n)`.
pub fn mva_exact(net: &ClosedNetwork) -> Result<MvaSolution, AnalyticError> {
    check(net)?;
    let k = net.stations.len();
    let mut q = vec![0.0; k];
    let mut r = vec![0.0; k];
    // p[k][j] = p_k(j | n-1) for 0 <= j < c_k (only multi-server stations keep any).
    let mut p: Vec<Vec<f64>> = net
        .stations
        .iter()
        .map(|s| {
            let c = servers(s.kind) as usize;
            let mut v = if c > 1 { vec![0.0; c] } else { Vec::new() };
            if let Some(p0) = v.first_mut() {
                *p0 = 1.0;
            }
            v
        })
        .collect();
    let mut x = 0.0;
    for n in 1..=net.population {
        for (i, s) in net.stations.iter().enumerate() {
            r[i] = match s.kind {
                StationKind::Delay => s.demand,
                StationKind::Queue { servers: 1 } => s.demand * (1.0 + q[i]),
                StationKind::Queue { servers } => {
                    let c = f64::from(servers);
                    let lower = &p[i][..p[i].len() - 1];
                    let extra: f64 = lower
                        .iter()
                        .enumerate()
                        .map(|(m, pm)| (c - 1.0 - m as f64) * pm)
                        .sum();
                    s.demand / c * (1.0 + q[i] + extra)
                }
            };
        }
        x = f64::from(n) / (net.think_time + r.iter().sum::<f64>());
        for (i, s) in net.stations.iter().enumerate() {
            q[i] = x * r[i];
            let pi = &mut p[i];
            if pi.len() > 1 {
                let c = pi.len() as f64;
                let xd = x * s.demand;
                let mut tail = 0.0;
                // From the top down, so pi[j - 1] still holds p(j-1 | n-1).
                for j in (1..pi.len()).rev() {
                    pi[j] = xd / j as f64 * pi[j - 1];
                    tail += (c - j as f64) / c * pi[j];
                }
                pi[0] = (1.0 - xd / c - tail).max(0.0);
            }
        }
    }
    Ok(solution(net, x, r, q))
}

/// Approximate MVA (Schweitzer–Bard), O(iterations × stations) whatever the population.
///
/// Replaces `Q_k(N-1)` by `(N-1)/N · Q_k(N)` and iterates to a fixed point (|ΔQ| < 1e-10). A
/// station with c > 1 servers is split as Seidmann proposed: a single server of demand D/c plus a
/// pure delay of D(c-1)/c. Accurate to a few percent for product-form networks, exact for N = 1.
pub fn mva_schweitzer(net: &ClosedNetwork) -> Result<MvaSolution, AnalyticError> {
    check(net)?;
    let k = net.stations.len();
    let n = f64::from(net.population);
    if net.population == 0 {
        return Ok(solution(net, 0.0, vec![0.0; k], vec![0.0; k]));
    }
    // (queueing demand, delay demand) per station.
    let parts: Vec<(f64, f64)> = net
        .stations
        .iter()
        .map(|s| match s.kind {
            StationKind::Delay => (0.0, s.demand),
            StationKind::Queue { servers } => {
                let c = f64::from(servers);
                (s.demand / c, s.demand * (c - 1.0) / c)
            }
        })
        .collect();
    // Start from customers spread evenly over the queueing parts.
    let queues = parts.iter().filter(|(dq, _)| *dq > 0.0).count().max(1) as f64;
    let mut q: Vec<f64> = parts
        .iter()
        .map(|(dq, _)| if *dq > 0.0 { n / queues } else { 0.0 })
        .collect();
    let mut r = vec![0.0; k];
    let mut x = 0.0;
    for _ in 0..100_000 {
        for (i, (dq, dd)) in parts.iter().enumerate() {
            r[i] = dq * (1.0 + (n - 1.0) / n * q[i]) + dd;
        }
        x = n / (net.think_time + r.iter().sum::<f64>());
        let mut delta = 0.0_f64;
        for (i, (dq, _)) in parts.iter().enumerate() {
            // Only the queueing part's population feeds the next iteration.
            let queued = x * (r[i] - parts[i].1);
            debug_assert!(*dq > 0.0 || queued == 0.0);
            delta = delta.max((queued - q[i]).abs());
            q[i] = queued;
        }
        if delta < 1e-10 {
            break;
        }
    }
    let total_q: Vec<f64> = r.iter().map(|ri| x * ri).collect();
    Ok(solution(net, x, r, total_q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(servers: u32, demand: f64) -> ClosedStation {
        ClosedStation {
            kind: StationKind::Queue { servers },
            demand,
        }
    }

    #[test]
    fn two_identical_single_servers() {
        // Two single-server stations with equal demand D = 1, no think time, N = 3. In a
        // product-form network with equal demands every split (n, N-n) is equally likely, so
        // P(station busy) = N/(N+1) = 3/4, X = U/D = 0.75 and R = N/X = 4.
        let net = ClosedNetwork {
            stations: vec![queue(1, 1.0), queue(1, 1.0)],
            think_time: 0.0,
            population: 3,
        };
        let s = mva_exact(&net).unwrap();
        assert!((s.throughput - 0.75).abs() < 1e-12, "{s:?}");
        assert!((s.response_time - 4.0).abs() < 1e-12, "{s:?}");
        assert!((s.queue_length[0] - 1.5).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn machine_repairman() {
        // One single server D = 1, think time Z = 1, N = 2 (M/M/1//2). Birth-death chain on the
        // number at the server: p1 = 2 p0, p2 = p1, so p0 = 1/5, U = 4/5, X = U/D = 0.8 and
        // R = N/X - Z = 1.5.
        let net = ClosedNetwork {
            stations: vec![queue(1, 1.0)],
            think_time: 1.0,
            population: 2,
        };
        let s = mva_exact(&net).unwrap();
        assert!((s.throughput - 0.8).abs() < 1e-12, "{s:?}");
        assert!((s.response_time - 1.5).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn two_server_station_finite_source() {
        // One 2-server station D = 1, Z = 1, N = 3 (M/M/2//3). Birth rate (3-n)/Z, death
        // min(n,2)/D: p1 = 3 p0, p2 = p1·2/2 = 3 p0, p3 = p2·1/2 = 1.5 p0, so p0 = 1/8.5.
        // X = Σ min(n,2) p_n = (3 + 6 + 3)/8.5 = 24/17 and R = N/X - Z = 2.125 - 1 = 1.125.
        let net = ClosedNetwork {
            stations: vec![queue(2, 1.0)],
            think_time: 1.0,
            population: 3,
        };
        let s = mva_exact(&net).unwrap();
        assert!((s.throughput - 24.0 / 17.0).abs() < 1e-12, "{s:?}");
        assert!((s.response_time - 1.125).abs() < 1e-12, "{s:?}");
        // Never more customers than servers: nobody waits, R = D.
        let net = ClosedNetwork {
            stations: vec![queue(4, 2.0)],
            think_time: 3.0,
            population: 4,
        };
        let s = mva_exact(&net).unwrap();
        assert!((s.response_time - 2.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn delay_station_and_bottleneck_bound() {
        // Large N: throughput tends to 1/D_max and R to N·D_max - Z.
        let net = ClosedNetwork {
            stations: vec![
                queue(1, 0.5),
                queue(1, 0.2),
                ClosedStation {
                    kind: StationKind::Delay,
                    demand: 0.3,
                },
            ],
            think_time: 2.0,
            population: 200,
        };
        let s = mva_exact(&net).unwrap();
        assert!((s.throughput - 2.0).abs() < 1e-9, "{s:?}");
        assert!((s.residence[2] - 0.3).abs() < 1e-12);
        let approx = mva_schweitzer(&net).unwrap();
        // Schweitzer approaches the same asymptote, from below.
        assert!((approx.throughput - 2.0).abs() < 1e-3, "{approx:?}");
    }

    #[test]
    fn schweitzer_close_to_exact() {
        let net = ClosedNetwork {
            stations: vec![queue(1, 1.0), queue(1, 0.6), queue(3, 1.5)],
            think_time: 4.0,
            population: 10,
        };
        let exact = mva_exact(&net).unwrap();
        let approx = mva_schweitzer(&net).unwrap();
        // N = 10 sits at the knee of the throughput curve, where Schweitzer is known to be least
        // accurate (here about 6% low); away from the knee it is within 1%.
        let rel = (approx.throughput - exact.throughput).abs() / exact.throughput;
        assert!(rel < 0.08, "exact {exact:?} approx {approx:?}");
        let far = ClosedNetwork {
            population: 60,
            ..net.clone()
        };
        let (e, a) = (mva_exact(&far).unwrap(), mva_schweitzer(&far).unwrap());
        assert!(
            (a.throughput - e.throughput).abs() / e.throughput < 0.01,
            "{e:?} {a:?}"
        );
        // N = 1 is exact for single servers: R = ΣD.
        let one = ClosedNetwork {
            stations: vec![queue(1, 1.0), queue(1, 0.6)],
            think_time: 4.0,
            population: 1,
        };
        let a = mva_schweitzer(&one).unwrap();
        assert!((a.response_time - 1.6).abs() < 1e-9, "{a:?}");
    }
}

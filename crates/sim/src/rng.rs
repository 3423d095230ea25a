//! Random streams: one xoshiro256++ stream per replication, and the fast variates the engine
//! needs (uniform, exponential by inversion, standard normal).
//!
//! Replication `r` of seed `s` uses the generator seeded from `s` (through SplitMix64, as
//! `seed_from_u64` does) advanced by `r` jumps of 2^128 steps, so streams never overlap and a
//! replication's numbers do not depend on how many replications run or on which thread.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The engine's random stream.
#[derive(Debug, Clone)]
pub struct SimRng(Xoshiro256PlusPlus);

impl SimRng {
    /// The stream of replication `replication` for `seed`.
    pub fn stream(seed: u64, replication: u32) -> SimRng {
        let mut g = Xoshiro256PlusPlus::seed_from_u64(seed);
        for _ in 0..replication {
            g.jump();
        }
        SimRng(g)
    }

    /// Raw 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`, safe to take the logarithm of.
    #[inline]
    pub fn uniform_pos(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with the given mean, by inversion: `-ln(U)·mean`.
    #[inline]
    pub fn exp(&mut self, mean: f64) -> f64 {
        -self.uniform_pos().ln() * mean
    }

    /// Uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias < n/2^64).
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u32
    }

    /// Standard normal (ziggurat, from `rand_distr`).
    #[inline]
    pub fn std_normal(&mut self) -> f64 {
        self.0.sample(StandardNormal)
    }
}

#[cfg(test)]
mod tests {
    use super::SimRng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, 2);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn exponential_mean_and_uniform_range() {
        let mut r = SimRng::stream(1, 0);
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| r.exp(2.0)).sum::<f64>() / n as f64;
        // Standard error of the mean is 2/sqrt(n) ≈ 0.0045: allow 5 of them.
        assert!((mean - 2.0).abs() < 0.023, "{mean}");
        for _ in 0..10_000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            let p = r.uniform_pos();
            assert!(p > 0.0 && p <= 1.0);
            assert!(r.below(3) < 3);
        }
    }
}

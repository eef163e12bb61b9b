//! Seeded randomness: one named, version-pinned PRNG and the few draws the protocols need.
//!
//! Why not `rand::Rng::random_range`: sampling a `usize` range is not value-stable between
//! 32-bit wasm and 64-bit native targets, and the hot loop wants an inlinable u32 sampler.
//! The draws below are defined on `u32` only, so a seed gives the same run everywhere; the
//! golden trace hashes in `tests/` pin that down.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg32;

/// Independent random streams derived from one master seed, one per purpose, so that
/// changing how one part draws (say, the topology) never shifts another part's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// Building the topology graph.
    Topology = 1,
    /// Choosing which nodes start crashed.
    Crashes = 2,
    /// The rounds themselves: peer choice, message loss, coin flips.
    Rounds = 3,
    /// The seeds of a batch's runs ([`crate::experiment::run_seed`]).
    Runs = 4,
    /// The simulated network's links: latency jitter, loss, duplication.
    Links = 5,
    /// Choices a scenario leaves open (which live node a joiner contacts).
    Scenario = 6,
    /// Per-node streams (the lab's nodes, live mode's tabs, the engine's test-only reference)
    /// start here.
    Nodes = 1 << 32,
}

/// The simulation's random number generator: PCG32 (XSH-RR, 64-bit state), from `rand_pcg`.
#[derive(Clone, Debug)]
pub struct GossipRng(Pcg32);

/// SplitMix64 finaliser: turns nearby seeds (0, 1, 2...) into unrelated states.
const fn splitmix64(z: u64) -> u64 {
    mix64(z.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

/// SplitMix64's mixing function: every input bit moves every output bit. Also the hash the
/// live protocols' summaries are built from (a digest's pairs, a membership's entries).
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl GossipRng {
    /// The stream `stream` (plus `index`, for per-node streams) of master seed `seed`.
    pub fn derive(seed: u64, stream: Stream, index: u64) -> Self {
        let purpose = stream as u64 + index;
        let state = splitmix64(seed ^ splitmix64(purpose));
        GossipRng(Pcg32::new(state, purpose))
    }

    /// A generator seeded directly (for tests and drivers that manage their own seeds).
    pub fn from_seed_u64(seed: u64) -> Self {
        GossipRng(Pcg32::seed_from_u64(seed))
    }

    /// 32 uniformly random bits.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A uniform integer in `0..n`. `n` MUST be at least 1.
    ///
    /// Lemire's multiply-shift with rejection: exact, and one multiplication in the common case.
    #[inline(always)]
    pub fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let mut m = u64::from(self.next_u32()) * u64::from(n);
        if (m as u32) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u32) < threshold {
                m = u64::from(self.next_u32()) * u64::from(n);
            }
        }
        (m >> 32) as u32
    }

    /// Up to `k` distinct items of `pool`, uniformly at random, in draw order: a partial
    /// Fisher-Yates shuffle, one draw per item taken (so equal pools and generators give
    /// equal picks on every platform).
    pub fn sample_distinct<T>(
        &mut self,
        mut pool: alloc::vec::Vec<T>,
        k: usize,
    ) -> alloc::vec::Vec<T> {
        let take = k.min(pool.len());
        for i in 0..take {
            let j = i + self.below((pool.len() - i) as u32) as usize;
            pool.swap(i, j);
        }
        pool.truncate(take);
        pool
    }

    /// True with probability `p.0 / 2^32` (see [`Chance`]).
    #[inline(always)]
    pub fn chance(&mut self, p: Chance) -> bool {
        match p.0 {
            0 => false,
            Chance::CERTAIN => true,
            t => u64::from(self.next_u32()) < t,
        }
    }
}

/// A probability in units of 2^-32, so that a Bernoulli draw is one integer comparison.
/// Probabilities 0 and 1 draw nothing from the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Chance(u64);

impl Chance {
    const CERTAIN: u64 = 1 << 32;

    /// Never.
    pub const NEVER: Chance = Chance(0);

    /// The probability `p`, clamped to `[0, 1]` (NaN counts as 0).
    pub fn new(p: f64) -> Self {
        if p.is_nan() || p <= 0.0 {
            Chance(0)
        } else if p >= 1.0 {
            Chance(Self::CERTAIN)
        } else {
            Chance(libm::round(p * 4_294_967_296.0) as u64)
        }
    }

    /// The probability `1 / k` (`k` MUST be at least 1).
    pub fn one_in(k: u32) -> Self {
        Chance(Self::CERTAIN / u64::from(k.max(1)))
    }

    /// This probability as a float.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 4_294_967_296.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = GossipRng::from_seed_u64(7);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            seen[rng.below(5) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&c| (1_800..2_200).contains(&c)),
            "{seen:?}"
        );
    }

    #[test]
    fn chance_extremes_draw_nothing() {
        let mut a = GossipRng::from_seed_u64(1);
        let b = a.clone();
        assert!(!a.chance(Chance::new(0.0)));
        assert!(a.chance(Chance::new(1.0)));
        assert_eq!(a.next_u32(), b.clone().next_u32());
    }

    #[test]
    fn derived_streams_differ() {
        let mut a = GossipRng::derive(1, Stream::Rounds, 0);
        let mut b = GossipRng::derive(1, Stream::Topology, 0);
        let mut c = GossipRng::derive(2, Stream::Rounds, 0);
        let (x, y, z) = (a.next_u32(), b.next_u32(), c.next_u32());
        assert!(x != y && x != z);
    }
}

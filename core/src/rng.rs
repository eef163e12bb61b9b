//! Seeded randomness: one named, version-pinned PRNG (PCG32, output for output `rand_pcg`'s)
//! and the few draws the protocols need.
//!
//! Why not `rand::Rng::random_range`: sampling a `usize` range is not value-stable between
//! 32-bit wasm and 64-bit native targets, and the hot loop wants an inlinable u32 sampler.
//! The draws below are defined on `u32` only, so a seed gives the same run everywhere; the
//! golden trace hashes in `tests/` pin that down.

use rand_core::SeedableRng;

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

/// The simulation's random number generator: PCG32 (XSH-RR, 64-bit state), the generator of
/// `rand_pcg::Pcg32`, output for output (a test holds the two equal). It is written here for
/// [`GossipRng::next_two`], which needs the state.
#[derive(Clone, Debug)]
pub struct GossipRng(Pcg32);

/// PCG32: a 64-bit LCG whose state is permuted into each output.
#[derive(Clone, Debug)]
struct Pcg32 {
    state: u64,
    increment: u64,
}

/// The LCG's multiplier.
const PCG_MUL: u64 = 6_364_136_223_846_793_005;

impl Pcg32 {
    /// As `rand_pcg::Pcg32::new(state, stream)`.
    fn new(state: u64, stream: u64) -> Self {
        Self::from_state_increment(state, (stream << 1) | 1)
    }

    /// As `rand_pcg`'s: the state advanced by the increment, then one step.
    fn from_state_increment(state: u64, increment: u64) -> Self {
        let mut pcg = Pcg32 {
            state: state.wrapping_add(increment),
            increment,
        };
        pcg.state = pcg.step(pcg.state);
        pcg
    }

    #[inline(always)]
    fn step(&self, state: u64) -> u64 {
        state.wrapping_mul(PCG_MUL).wrapping_add(self.increment)
    }

    /// XSH-RR: a xorshift of the high bits, then a rotation chosen by the top five.
    #[inline(always)]
    fn output(state: u64) -> u32 {
        let xsh = (((state >> 18) ^ state) >> 27) as u32;
        xsh.rotate_right((state >> 59) as u32)
    }

    #[inline(always)]
    fn next_u32(&mut self) -> u32 {
        let state = self.state;
        self.state = self.step(state);
        Self::output(state)
    }
}

impl SeedableRng for Pcg32 {
    type Seed = [u8; 16];

    /// As `rand_pcg`'s: the state, then the increment (made odd), little-endian.
    fn from_seed(seed: Self::Seed) -> Self {
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&seed[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        Self::from_state_increment(word(0), word(1) | 1)
    }
}

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
        // rand_core's expansion of a u64 into the 16-byte seed, as for `rand_pcg::Pcg32`.
        GossipRng(Pcg32::seed_from_u64(seed))
    }

    /// 32 uniformly random bits.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// The next two draws, in order. The state two steps on is computed from the state now
    /// (M²·s + (M + 1)·c) rather than from the state one step on, so the two steps' multiplies
    /// do not wait for each other: a loop that needs two draws per item (a peer and a
    /// message's fate) is not held to one multiply after another. [`GossipRng::back_one`]
    /// returns the second when the first was all that was wanted.
    #[inline(always)]
    pub fn next_two(&mut self) -> [u32; 2] {
        let p = &mut self.0;
        let (now, next) = (p.state, p.step(p.state));
        p.state = now
            .wrapping_mul(PCG_MUL.wrapping_mul(PCG_MUL))
            .wrapping_add(PCG_MUL.wrapping_add(1).wrapping_mul(p.increment));
        [Pcg32::output(now), Pcg32::output(next)]
    }

    /// Undoes the last draw: the next draw repeats it.
    pub fn back_one(&mut self) {
        // PCG_MUL is odd, so it has an inverse modulo 2^64 (Newton's iteration doubles the
        // correct low bits each step: 5 steps from 3 bits reach 96).
        let mut inverse = PCG_MUL;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(PCG_MUL.wrapping_mul(inverse)));
        }
        let p = &mut self.0;
        p.state = p.state.wrapping_sub(p.increment).wrapping_mul(inverse);
    }

    /// Whether `draw`, a draw for [`GossipRng::below`]`(n)`, is taken at once: Lemire's
    /// multiply-shift gives `Some(value)`, unless the draw falls where it would be rejected
    /// or needs the threshold computed (then `below` must draw itself: `None`).
    #[inline(always)]
    pub fn below_from(draw: u32, n: u32) -> Option<u32> {
        let m = u64::from(draw) * u64::from(n);
        ((m as u32) >= n).then_some((m >> 32) as u32)
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
            _ => p.of(self.next_u32()),
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

    /// Whether deciding it takes a draw (it is neither never nor certain).
    pub fn draws(self) -> bool {
        self.0 != 0 && self.0 != Self::CERTAIN
    }

    /// Its outcome for `draw`, the draw [`GossipRng::chance`] would take (when it
    /// [`Chance::draws`]).
    #[inline(always)]
    pub fn of(self, draw: u32) -> bool {
        u64::from(draw) < self.0
    }

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

    /// The generator draws what `rand_pcg::Pcg32` draws, from either constructor, one draw or
    /// two at a time; a draw undone is drawn again.
    #[test]
    fn draws_as_rand_pcg_does() {
        use rand_core::RngCore;
        for seed in [0u64, 1, 2, 42, u64::MAX, 0x9E37_79B9_7F4A_7C15] {
            for stream in [0u64, 1, 3, (1 << 32) + 7, u64::MAX >> 1] {
                let mut ours = GossipRng(Pcg32::new(seed, stream));
                let mut theirs = rand_pcg::Pcg32::new(seed, stream);
                for i in 0..1000 {
                    if i % 3 == 0 {
                        let [a, b] = ours.next_two();
                        assert_eq!([a, b], [theirs.next_u32(), theirs.next_u32()]);
                        if i % 9 == 0 {
                            ours.back_one();
                            assert_eq!(ours.next_u32(), b, "the undone draw again");
                        }
                    } else {
                        assert_eq!(
                            ours.next_u32(),
                            theirs.next_u32(),
                            "seed {seed} stream {stream}"
                        );
                    }
                }
            }
            let mut ours = GossipRng::from_seed_u64(seed);
            let mut theirs = rand_pcg::Pcg32::seed_from_u64(seed);
            for _ in 0..1000 {
                assert_eq!(ours.next_u32(), theirs.next_u32(), "seed {seed}");
            }
        }
    }

    /// `below_from` takes what `below` takes at its first draw, and declines where `below`
    /// would draw again or compute its threshold.
    #[test]
    fn below_from_agrees_with_below() {
        let mut rng = GossipRng::from_seed_u64(9);
        for n in [1u32, 2, 3, 7, 1000, 999_999, u32::MAX / 3 + 7, u32::MAX] {
            for _ in 0..2000 {
                let mut copy = rng.clone();
                let draw = rng.next_u32();
                if let Some(v) = GossipRng::below_from(draw, n) {
                    assert_eq!(copy.below(n), v, "n {n} draw {draw}");
                }
            }
        }
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

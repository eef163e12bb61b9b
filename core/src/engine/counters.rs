//! The stop rules' per-node counters ([`Counters`]), kept as bit planes: bit `j` of the
//! counters of 64 nodes in one word, a word's planes side by side.
//!
//! Why planes: a round of rumor mongering updates the counter of every node that pushes, and
//! a node pushes fewer than two messages a run, so a byte per node (a megabyte at 10^6 nodes,
//! read once per message in scattered lines) cost more than the message. As planes, the
//! counters of a word's pushers are updated together, a few word operations for 64 nodes
//! ([`Interest::after_contacts_sliced`](crate::rules::Interest::after_contacts_sliced)), and
//! take a quarter of the memory at the usual `k` of 1 to 3.
//!
//! A counter holds values up to `2^bits - 1`, the least that is at least the rule's `k`, and
//! saturates there: the rules only ask whether a counter has reached `k`, so a counter held
//! at its maximum answers as the byte that went past it did.

use alloc::vec;
use alloc::vec::Vec;

/// The counters of `nodes` nodes for a rule whose `k` needs `bits` bits; all zero at first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Counters {
    /// Word `w`'s planes at `w * bits ..`: plane `j` holds bit `j` of its 64 counters.
    planes: Vec<u64>,
    bits: usize,
}

impl Counters {
    /// Zero counters for `nodes` nodes, wide enough to count to `k` (1..=255).
    pub(super) fn new(nodes: usize, k: u8) -> Counters {
        let bits = Self::bits_for(k);
        Counters {
            planes: vec![0; nodes.div_ceil(64) * bits],
            bits,
        }
    }

    /// Bits a counter needs to reach `k`.
    fn bits_for(k: u8) -> usize {
        (u8::BITS - k.max(1).leading_zeros()) as usize
    }

    /// Sets every counter to zero, wide enough for `k` from now on.
    pub(super) fn reset(&mut self, k: u8) {
        let words = self.planes.len() / self.bits;
        self.bits = Self::bits_for(k);
        self.planes.clear();
        self.planes.resize(words * self.bits, 0);
    }

    /// Whether every counter is zero.
    pub(super) fn all_zero(&self) -> bool {
        self.planes.iter().all(|&p| p == 0)
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.planes.len() * 8
    }

    /// Node `i`'s counter.
    #[inline(always)]
    pub(super) fn get(&self, i: u32) -> u8 {
        let (planes, lane) = (self.planes_of(i), i % 64);
        let mut value = 0;
        for (j, &plane) in planes.iter().enumerate() {
            value |= ((plane >> lane) as u8 & 1) << j;
        }
        value
    }

    /// Sets node `i`'s counter to `value`, held at the widest value the counters hold.
    #[inline(always)]
    pub(super) fn set(&mut self, i: u32, value: u8) {
        let lane = i % 64;
        let value = value.min(u8::MAX >> (8 - self.bits));
        let w = i as usize / 64 * self.bits;
        for (j, plane) in self.planes[w..w + self.bits].iter_mut().enumerate() {
            let b = u64::from(value >> j & 1);
            *plane = (*plane & !(1 << lane)) | (b << lane);
        }
    }

    fn planes_of(&self, i: u32) -> &[u64] {
        let w = i as usize / 64 * self.bits;
        &self.planes[w..w + self.bits]
    }

    /// The planes of word `w` (nodes `64 * w ..`), to update 64 counters at once.
    #[inline(always)]
    pub(super) fn word_mut(&mut self, w: usize) -> &mut [u64] {
        let at = w * self.bits;
        &mut self.planes[at..at + self.bits]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_reads_what_was_set_and_holds_at_its_widest() {
        let mut c = Counters::new(130, 2);
        assert!(c.all_zero());
        for i in [0, 63, 64, 129] {
            c.set(i, 2);
            assert_eq!(c.get(i), 2);
        }
        assert_eq!(c.get(1), 0);
        // Two bits hold 3 at most; any value past `k` answers "reached k" alike.
        c.set(5, 200);
        assert_eq!(c.get(5), 3);
        c.set(5, 0);
        assert_eq!(c.get(5), 0);
        c.reset(255);
        assert!(c.all_zero());
        c.set(129, 255);
        assert_eq!(c.get(129), 255);
        assert_eq!(Counters::bits_for(1), 1);
        assert_eq!(Counters::bits_for(3), 2);
        assert_eq!(Counters::bits_for(4), 3);
    }
}

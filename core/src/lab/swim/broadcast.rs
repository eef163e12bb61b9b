//! Dissemination: the queue of news waiting to be piggybacked on probes and acks. SWIM
//! sends no message of its own to spread a membership change; each change rides on the
//! traffic the failure detector makes anyway, `λ·⌈log2(n+1)⌉` times, the least-sent first.
//! One piece of news per member is queued (the newer replaces the older). Kept apart from
//! the probe cycle because it decides only *what* rides on a message, never *when* one is
//! sent.

use super::message::Update;
use super::state::{Broadcast, Swim};
use super::view::MemberState;
use crate::lab::NodeId;
use alloc::vec::Vec;

/// Signed members: a piggybacked update carries its proof on this many of its
/// transmissions, then goes without (receivers that lack the proof ask for it).
pub const PROOF_TRANSMITS: u32 = 2;

impl Swim {
    /// How many times an update is piggybacked: `λ·⌈log2(n+1)⌉`.
    fn retransmit_limit(&self) -> u32 {
        let n = self.group_size() + 1;
        let log2 = 32 - (n - 1).leading_zeros(); // ⌈log2 n⌉ for n ≥ 2
        u32::from(self.config.retransmit_mult) * log2.max(1)
    }

    pub(super) fn broadcast(&mut self, update: Update) {
        // One piece of news per member: the newer replaces the older.
        self.broadcasts.retain(|b| b.update.member != update.member);
        self.broadcasts.push(Broadcast {
            update,
            transmits: 0,
        });
    }

    /// Updates to piggyback on a message to `to`: the least sent first, and (Lifeguard's
    /// buddy system) a suspicion of `to` itself before anything, so it can refute at once.
    pub(super) fn piggyback(&mut self, to: NodeId) -> Vec<Update> {
        let limit = self.retransmit_limit();
        let room = usize::from(self.config.max_piggyback);
        let mut order: Vec<usize> = (0..self.broadcasts.len()).collect();
        order.sort_by_key(|&i| {
            let b = &self.broadcasts[i];
            let buddy = self.config.lifeguard.is_some()
                && b.update.member == to
                && b.update.state == MemberState::Suspect;
            (!buddy, b.transmits)
        });
        let mut updates = Vec::new();
        for &i in order.iter().take(room) {
            let b = &mut self.broadcasts[i];
            let mut update = b.update;
            // A proof rides on the first transmissions only: later receivers mostly hold it
            // already, and the others ask for it (a fifth of the bytes a news costs).
            if b.transmits >= PROOF_TRANSMITS {
                update.proof = None;
            }
            b.transmits += 1;
            updates.push(update);
        }
        self.broadcasts.retain(|b| b.transmits < limit);
        updates
    }
}

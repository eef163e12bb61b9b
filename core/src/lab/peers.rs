//! Who a node may talk to: [`Peers`], the peers of a node without a membership protocol of
//! its own, and [`Roster`], the members the signaling server has in the room (live mode).
//! Re-exported by `lab`.

use super::node::NodeId;
use crate::rng::GossipRng;
use alloc::vec::Vec;

/// The peers a node without a membership protocol of its own may talk to (push-sum, the
/// key-value map): kept sorted, so a random pick depends only on the set and the generator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peers(Vec<NodeId>);

impl Peers {
    /// Adds (`up`) or removes `peer`; a node is never its own peer (`me`).
    pub fn set(&mut self, me: NodeId, peer: NodeId, up: bool) {
        match (self.0.binary_search(&peer), up) {
            (Err(i), true) if peer != me => self.0.insert(i, peer),
            (Ok(i), false) => {
                self.0.remove(i);
            }
            _ => {}
        }
    }

    /// The peers, sorted.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.iter().copied()
    }

    /// Up to `k` distinct peers uniformly at random. (Copies the list: O(peers) per call;
    /// live mode caps peers at about 20, the simulator's runs at a few thousand.)
    pub fn sample(&self, k: usize, rng: &mut GossipRng) -> Vec<NodeId> {
        rng.sample_distinct(self.0.clone(), k)
    }

    /// One peer uniformly at random, if there is any.
    pub fn random(&self, rng: &mut GossipRng) -> Option<NodeId> {
        (!self.0.is_empty()).then(|| self.0[rng.below(self.0.len() as u32) as usize])
    }
}

/// The members in the room, as the signaling server says (live mode): a node creates state
/// only for members it admits, so keys made up by the thousand, with no connection behind
/// them, take none. Everyone is admitted until the first [`Roster::set`].
#[derive(Clone, Debug, Default)]
pub struct Roster(Option<alloc::collections::BTreeSet<NodeId>>);

impl Roster {
    /// `member` is in the room (`true`) or left it; from the first call on, only members
    /// in the room are admitted.
    pub fn set(&mut self, member: NodeId, here: bool) {
        let members = self.0.get_or_insert_with(Default::default);
        if here {
            members.insert(member);
        } else {
            members.remove(&member);
        }
    }

    /// Whether state may be created for `member`.
    pub fn admits(&self, member: NodeId) -> bool {
        self.0.as_ref().is_none_or(|m| m.contains(&member))
    }
}

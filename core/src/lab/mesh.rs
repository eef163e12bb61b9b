//! Which members a live member links to: one rule for tabs and native peers, so that a room
//! is a balanced random mesh whatever the order members joined in.
//!
//! Every member aims at `target` links and never holds more than `cap`. Whom to ask is drawn
//! at random among the members it knows and is not linked to, skipping those that said they
//! are busy (for a while). Links count whichever way they were asked for, so an early member
//! filled by newcomers stops asking, and a late one asks until it has `target`. A member at
//! its cap still takes a request, and drops one of its links at random to make room (as
//! HyParView's active view does): every newcomer needs `target` links, and without the swap
//! the first members fill up and the last find nobody to link to (a first-come "link to
//! everyone you meet" mesh gave the first tabs of a room of 30 three times the links of the
//! last). The dropped member, now short, asks someone else; the shortfall wanders until it
//! meets a member under its cap. So every member ends between `target` and `cap`, and with
//! `cap ≤ 2 · target` the fewest links any member holds is at least half the most.
//!
//! Sans-IO like the rest: the driver says what it heard (members, refusals, links up and
//! down) and asks [`Mesh::to_link`] whom to try; how a link is made (WebRTC, the relay) is
//! the driver's.

use super::{Millis, NodeId};
use crate::rng::GossipRng;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// Members remembered at most (a hostile peer could announce endless ids).
pub const KNOWN_CAP: usize = 1_000;
/// A member that said it is full is not asked again for this long, ms.
pub const BUSY_BACKOFF_MS: u64 = 15_000;

/// How many links a member wants and takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkTarget {
    /// Links it asks for until it has them.
    pub target: usize,
    /// Links it holds at most (requests beyond are refused).
    pub cap: usize,
}

impl LinkTarget {
    /// A tab's: 8 links, up to 12. Eight is plenty for a rumor with fanout up to 4 and keeps
    /// a phone's WebRTC connections few; the cap at 1.5× keeps the mesh even.
    pub const TAB: LinkTarget = LinkTarget { target: 8, cap: 12 };

    /// At most `k` links, asking for three quarters of them (a native peer's `--links K`: a
    /// partial mesh on purpose). The spare quarter is room for newcomers: a member taken out
    /// of a link by a swap is usually still at its target, so it does not ask in turn (with
    /// target = cap every member is full, and a swap's shortfall would wander forever).
    ///
    /// `k` is at least 3 (fewer, and the room falls apart into pairs and chains): smaller
    /// values are taken as 3.
    pub fn capped(k: usize) -> LinkTarget {
        let cap = k.max(3);
        LinkTarget {
            target: (cap * 3 / 4).clamp(2, cap - 1),
            cap,
        }
    }
}

/// What a member answers a request for a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Yes.
    Take,
    /// Yes, in place of the link to this member (at the cap).
    Swap(NodeId),
    /// No (a request from oneself; a cap of 0).
    Busy,
}

/// One member's view of whom it could link to.
#[derive(Clone, Debug)]
pub struct Mesh {
    me: NodeId,
    want: LinkTarget,
    /// Members heard of, with the time before which they are not asked (they said busy).
    known: BTreeMap<NodeId, Millis>,
    /// Members linked or being linked.
    linked: BTreeSet<NodeId>,
    rng: GossipRng,
}

impl Mesh {
    /// `me`'s mesh, wanting `want`; `rng` draws whom to ask.
    pub fn new(me: NodeId, want: LinkTarget, rng: GossipRng) -> Mesh {
        Mesh {
            me,
            want,
            known: BTreeMap::new(),
            linked: BTreeSet::new(),
            rng,
        }
    }

    /// What this member wants.
    pub fn want(&self) -> LinkTarget {
        self.want
    }

    /// Links held or being set up.
    pub fn links(&self) -> usize {
        self.linked.len()
    }

    /// Whether `peer` is linked or being linked.
    pub fn is_linked(&self, peer: NodeId) -> bool {
        self.linked.contains(&peer)
    }

    /// Members known and not linked.
    pub fn unlinked(&self) -> usize {
        self.known.len()
            - self
                .known
                .keys()
                .filter(|k| self.linked.contains(k))
                .count()
    }

    /// The members known to be in the room, in id order.
    pub fn iter_known(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.known.keys().copied()
    }

    /// `peer` is in the room (the server listed it, a tab announced it).
    pub fn heard(&mut self, peer: NodeId) {
        if peer != self.me && (self.known.len() < KNOWN_CAP || self.known.contains_key(&peer)) {
            self.known.entry(peer).or_insert(Millis(0));
        }
    }

    /// `peer` left the room.
    pub fn gone(&mut self, peer: NodeId) {
        self.known.remove(&peer);
        self.linked.remove(&peer);
    }

    /// `peer` refused a link (at its cap): not asked again for [`BUSY_BACKOFF_MS`].
    pub fn busy(&mut self, now: Millis, peer: NodeId) {
        self.linked.remove(&peer);
        if let Some(until) = self.known.get_mut(&peer) {
            *until = now.after(BUSY_BACKOFF_MS);
        }
    }

    /// The answer to `peer`'s request for a link. When [`Answer::Swap`], the driver drops
    /// the link named (and calls [`Mesh::unlinked_from`]) before taking the new one.
    pub fn answer(&mut self, peer: NodeId) -> Answer {
        if peer == self.me {
            return Answer::Busy;
        }
        if self.linked.contains(&peer) || self.linked.len() < self.want.cap {
            return Answer::Take;
        }
        let current: Vec<NodeId> = self.linked.iter().copied().collect();
        match self.rng.sample_distinct(current, 1).first() {
            Some(&victim) => Answer::Swap(victim),
            None => Answer::Busy,
        }
    }

    /// A link to `peer` is up or being set up.
    pub fn linking(&mut self, peer: NodeId) {
        if peer != self.me {
            self.heard(peer);
            self.linked.insert(peer);
        }
    }

    /// The link to `peer` is gone (it may be asked again).
    pub fn unlinked_from(&mut self, peer: NodeId) {
        self.linked.remove(&peer);
    }

    /// Whom to ask now: random known members, not linked and not busy, as many as are
    /// missing to the target.
    pub fn to_link(&mut self, now: Millis) -> Vec<NodeId> {
        let missing = self.want.target.saturating_sub(self.linked.len());
        if missing == 0 {
            return Vec::new();
        }
        let pool: Vec<NodeId> = self
            .known
            .iter()
            .filter(|(id, &until)| !self.linked.contains(id) && until <= now)
            .map(|(&id, _)| id)
            .collect();
        self.rng.sample_distinct(pool, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// Members join one by one; each asks whom its mesh says, and a request is taken when the
    /// other accepts (a busy answer otherwise). Nobody holds more than the cap, everybody
    /// reaches the target, and the fewest links is at least half the most.
    #[test]
    fn a_room_joined_one_by_one_is_balanced() {
        let n = 60;
        let mut meshes: Vec<Mesh> = (0..n)
            .map(|i| {
                let rng = GossipRng::derive(9, Stream::Nodes, i);
                Mesh::new(NodeId(i + 1), LinkTarget::TAB, rng)
            })
            .collect();
        let mut now = Millis(0);
        let mut swaps = 0;
        for joined in 0..n as usize {
            for i in 0..joined {
                let (a, b) = (NodeId(i as u64 + 1), NodeId(joined as u64 + 1));
                meshes[i].heard(b);
                meshes[joined].heard(a);
            }
            // A few rounds of asking after each join, as the page's rediscovery tick does.
            for _ in 0..3 {
                now = now.after(1_000);
                for i in 0..=joined {
                    for peer in meshes[i].to_link(now) {
                        let j = peer.0 as usize - 1;
                        let me = NodeId(i as u64 + 1);
                        match meshes[j].answer(me) {
                            Answer::Take => {}
                            Answer::Swap(victim) => {
                                meshes[j].unlinked_from(victim);
                                meshes[victim.0 as usize - 1].unlinked_from(peer);
                                swaps += 1;
                            }
                            Answer::Busy => {
                                meshes[i].busy(now, peer);
                                continue;
                            }
                        }
                        meshes[j].linking(me);
                        meshes[i].linking(peer);
                    }
                }
            }
        }
        let degrees: Vec<usize> = meshes.iter().map(Mesh::links).collect();
        let (min, max) = (
            *degrees.iter().min().unwrap(),
            *degrees.iter().max().unwrap(),
        );
        assert!(max <= LinkTarget::TAB.cap, "{degrees:?}");
        assert!(min >= LinkTarget::TAB.target, "{degrees:?}");
        assert!(2 * min >= max, "{degrees:?}");
        // The swaps are a fraction of the links made: churn stays low.
        let links: usize = degrees.iter().sum::<usize>() / 2;
        assert!(swaps < links, "{swaps} swaps for {links} links");
    }

    #[test]
    fn a_full_member_refuses_and_a_busy_one_is_not_asked_again_soon() {
        let rng = GossipRng::derive(1, Stream::Nodes, 0);
        let one = LinkTarget { target: 1, cap: 1 };
        let mut m = Mesh::new(NodeId(1), one, rng);
        m.heard(NodeId(2));
        m.heard(NodeId(3));
        m.busy(Millis(0), NodeId(2));
        assert_eq!(m.to_link(Millis(1)), alloc::vec![NodeId(3)]);
        m.linking(NodeId(3));
        assert_eq!(m.answer(NodeId(2)), Answer::Swap(NodeId(3)));
        assert_eq!(m.answer(NodeId(3)), Answer::Take);
        assert_eq!(m.answer(NodeId(1)), Answer::Busy);
        assert!(m.to_link(Millis(1)).is_empty());
        m.unlinked_from(NodeId(3));
        m.gone(NodeId(3));
        assert!(m.to_link(Millis(1)).is_empty(), "2 is busy for a while");
        assert_eq!(m.to_link(Millis(BUSY_BACKOFF_MS)), alloc::vec![NodeId(2)]);
        // A native peer's --links: room for newcomers, never fewer than 3.
        assert_eq!(LinkTarget::capped(4), LinkTarget { target: 3, cap: 4 });
        assert_eq!(LinkTarget::capped(1), LinkTarget { target: 2, cap: 3 });
        assert_eq!(LinkTarget::capped(12), LinkTarget { target: 9, cap: 12 });
    }
}

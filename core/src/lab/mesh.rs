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
//! the driver's. What the driver keeps per member (the page: how it met the member) rides
//! along as the member's tag, `T`, so the driver needs no second list of members (capped
//! and forgotten by the same rules); a native peer keeps nothing (`Mesh<()>`).

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

/// A member heard of.
#[derive(Clone, Debug)]
struct Known<T> {
    /// Not asked before this time (it said busy).
    until: Millis,
    /// What the driver keeps for it.
    tag: T,
}

/// One member's view of whom it could link to; `T`: what the driver keeps per member heard
/// of (see [`Mesh::heard`]).
#[derive(Clone, Debug)]
pub struct Mesh<T = ()> {
    me: NodeId,
    want: LinkTarget,
    /// Members heard of (at most [`KNOWN_CAP`]), until they are gone.
    known: BTreeMap<NodeId, Known<T>>,
    /// Members linked or being linked, known or not (a member gone while linked stays here
    /// until the link goes: it holds a place under the cap).
    linked: BTreeSet<NodeId>,
    rng: GossipRng,
}

impl<T> Mesh<T> {
    /// `me`'s mesh, wanting `want`; `rng` draws whom to ask.
    pub fn new(me: NodeId, want: LinkTarget, rng: GossipRng) -> Mesh<T> {
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

    /// The members known to be in the room with their tags, in id order.
    pub fn iter_tagged(&self) -> impl Iterator<Item = (NodeId, &T)> + '_ {
        self.known.iter().map(|(&id, k)| (id, &k.tag))
    }

    /// `peer`'s tag, if it is known to be in the room.
    pub fn tag(&self, peer: NodeId) -> Option<&T> {
        self.known.get(&peer).map(|k| &k.tag)
    }

    /// `peer` left the room: it is forgotten (not asked again). A link to it still held
    /// keeps its place under the cap until [`Mesh::unlinked_from`]: the driver closes it
    /// when it will (at once, or after the peer's last messages).
    pub fn gone(&mut self, peer: NodeId) {
        self.known.remove(&peer);
    }

    /// `peer` refused a link (at its cap): not asked again for [`BUSY_BACKOFF_MS`].
    pub fn busy(&mut self, now: Millis, peer: NodeId) {
        self.linked.remove(&peer);
        if let Some(known) = self.known.get_mut(&peer) {
            known.until = now.after(BUSY_BACKOFF_MS);
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

    /// The link to `peer` is gone (it may be asked again, if it is still known).
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
            .filter(|(id, k)| !self.linked.contains(id) && k.until <= now)
            .map(|(&id, _)| id)
            .collect();
        self.rng.sample_distinct(pool, missing)
    }
}

impl<T: Default> Mesh<T> {
    /// `peer` is in the room (the server listed it, a tab announced it): its tag, for the
    /// driver to update (`T::default()` when it is new). `None` for this member itself, and
    /// for a new member past [`KNOWN_CAP`] (not remembered).
    pub fn heard(&mut self, peer: NodeId) -> Option<&mut T> {
        if peer == self.me || (self.known.len() >= KNOWN_CAP && !self.known.contains_key(&peer)) {
            return None;
        }
        let known = self.known.entry(peer).or_insert_with(|| Known {
            until: Millis(0),
            tag: T::default(),
        });
        Some(&mut known.tag)
    }

    /// A link to `peer` is up or being set up (it is heard of, too).
    pub fn linking(&mut self, peer: NodeId) {
        if peer != self.me {
            self.heard(peer);
            self.linked.insert(peer);
        }
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
        let mut m: Mesh = Mesh::new(NodeId(1), one, rng);
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

    /// A member that leaves while linked keeps its place under the cap until its link goes
    /// (the page closes a goodbye's links a moment later, after its last messages), and once
    /// it has gone it is not asked again.
    #[test]
    fn a_member_gone_while_linked_counts_until_unlinked_and_is_not_asked_again() {
        let rng = GossipRng::derive(2, Stream::Nodes, 0);
        let three = LinkTarget { target: 3, cap: 3 };
        let mut m: Mesh<u8> = Mesh::new(NodeId(1), three, rng);
        *m.heard(NodeId(2)).expect("new") = 7;
        assert_eq!(m.tag(NodeId(2)), Some(&7));
        for p in [2, 3, 4] {
            m.linking(NodeId(p));
        }
        assert_eq!(m.tag(NodeId(2)), Some(&7), "linking keeps the tag");
        m.gone(NodeId(2));
        assert_eq!(m.tag(NodeId(2)), None);
        assert_eq!(
            m.iter_known().collect::<Vec<_>>(),
            alloc::vec![NodeId(3), NodeId(4)]
        );
        // Its link still held: at the target (nobody asked) and at the cap (a request swaps).
        assert_eq!(m.links(), 3);
        assert!(m.to_link(Millis(1)).is_empty());
        assert!(matches!(m.answer(NodeId(5)), Answer::Swap(_)));
        m.unlinked_from(NodeId(2));
        assert_eq!(m.links(), 2);
        for t in [1, 2 * BUSY_BACKOFF_MS] {
            assert!(m.to_link(Millis(t)).is_empty(), "2 is never asked again");
        }
        m.heard(NodeId(5));
        assert_eq!(m.to_link(Millis(1)), alloc::vec![NodeId(5)]);
        // Back in the room: a new member, with a fresh tag.
        assert_eq!(m.heard(NodeId(2)).copied(), Some(0));
        assert_eq!(m.heard(NodeId(1)), None, "itself");
    }
}

//! Full-state exchange, the repair under the gossip: the `Sync` that answers a `Join`, the
//! periodic `PushPull` with one random member (memberlist's push-pull, which catches news
//! that ran out of retransmissions before reaching a member of a partial mesh, and lets a
//! member declared dead across a healed partition hear of it and refute), and, with signed
//! members, the `Want` that asks a digest's sender for the proofs of the news it lacks.
//! Answers are paced per peer, so a peer asking over and over gets the state no faster than
//! honest members ask for it.

use super::member::MAX_SIGNED_MEMBERS;
use super::message::{membership_hash, SwimMessage, Update, MAX_SYNC_MEMBERS};
use super::state::Swim;
use super::view::{Incarnation, MemberState, MemberView};
use crate::auth::Proof;
use crate::lab::{Millis, NodeId};
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

/// Most members in one `Sync` or `PushPull` this member sends when updates carry proofs
/// (about 125 bytes each: 100 fit the wire's 16 KiB cap with room to spare).
pub const SIGNED_SYNC_MEMBERS: usize = 100;

impl Swim {
    /// A new member asks to join: listed, and sent the membership (with signed members, a
    /// digest it asks from).
    pub(super) fn handle_join(
        &mut self,
        now: Millis,
        from: NodeId,
        incarnation: Incarnation,
        proof: Option<Proof>,
    ) {
        self.apply(
            now,
            Update {
                member: from,
                incarnation,
                state: MemberState::Alive,
                from,
                proof,
            },
        );
        if self.identity.is_some() {
            // Signed members: a digest; the joiner asks for what it lacks (from each
            // of its links, the full state with proofs would be sent many times).
            // Paced like push-pull answers: joins repeated cost no more.
            if self.push_pull_due(now, from) {
                self.push_state(from, false, None);
            }
        } else {
            for members in self.state_chunks() {
                self.send(from, SwimMessage::Sync { members });
            }
        }
    }

    /// A peer's full state (a chunk of it), and with `reply` a request for this member's.
    pub(super) fn handle_push_pull(
        &mut self,
        now: Millis,
        from: NodeId,
        members: Vec<Update>,
        gone: Vec<Update>,
        reply: bool,
    ) {
        // Signed members: entries without a proof are a digest; those that would
        // change this member's view are asked for, with their proofs.
        self.take(now, from, members, false);
        self.take(now, from, gone, true);
        if reply && self.push_pull_due(now, from) {
            self.push_state(from, false, None);
        }
    }

    /// Signed members: a peer asks for these members' news with their proofs.
    pub(super) fn handle_want(&mut self, now: Millis, from: NodeId, members: Vec<NodeId>) {
        if self.identity.is_none() {
            return;
        }
        // Paced per peer: a peer asking for everything over and over gets at most
        // the whole membership per half push-pull period.
        let every = u64::from(self.config.push_pull_ms.unwrap_or(0)) / 2;
        let (since, count) = match self.want_answers.get(&from) {
            Some(&(since, count)) if since.after(every) > now => (since, count),
            _ => (now, 0),
        };
        let room = MAX_SIGNED_MEMBERS.saturating_sub(count);
        let wanted: BTreeSet<NodeId> = members.into_iter().take(room).collect();
        self.want_answers
            .insert(from, (since, count + wanted.len()));
        if !wanted.is_empty() {
            self.push_state(from, false, Some(&wanted));
        }
    }

    /// Every `push_pull_ms`: a full-state exchange with one random reachable member.
    pub(super) fn push_pull_timeout(&mut self, now: Millis) {
        if let Some(every) = self.config.push_pull_ms {
            if self.next_push_pull <= now {
                self.next_push_pull = now.after(u64::from(every));
                if let Some(with) = self.push_pull_target() {
                    if self.config.summaries {
                        let hash = self.membership_hash();
                        self.send(with, SwimMessage::Summary { hash });
                    } else {
                        self.push_state(with, true, None);
                    }
                }
            }
        }
    }

    /// A push-pull's summary: silence if this member's membership hashes the same (in
    /// step), else this member's state asking for the sender's, as a push-pull starts.
    /// Paced as push-pull answers are: a peer sending wrong hashes over and over draws the
    /// state no faster than by asking for it.
    pub(super) fn handle_summary(&mut self, now: Millis, from: NodeId, hash: u64) {
        if hash != self.membership_hash() && self.push_pull_due(now, from) {
            self.push_state(from, true, None);
        }
    }

    /// The hash of the membership [`Swim::push_state`] would list ([`membership_hash`]).
    pub(super) fn membership_hash(&self) -> u64 {
        let me = MemberView {
            state: MemberState::Alive,
            incarnation: self.incarnation,
        };
        let listed = self.members.iter().map(|(&id, m)| (id, m.view, false));
        let gone = self.tombstones.iter().map(|(&id, t)| {
            let view = MemberView {
                state: t.state,
                incarnation: t.incarnation,
            };
            (id, view, true)
        });
        membership_hash(
            listed
                .chain(core::iter::once((self.id, me, false)))
                .chain(gone),
        )
    }

    /// Whether `peer` may be sent the full state now: one answer per peer per half
    /// push-pull period (a peer asking over and over gets it at the pace honest members
    /// ask); if so, the answer is recorded.
    fn push_pull_due(&mut self, now: Millis, peer: NodeId) -> bool {
        let every = u64::from(self.config.push_pull_ms.unwrap_or(0)) / 2;
        let due = self
            .push_pull_replies
            .get(&peer)
            .is_none_or(|&last| last.after(every) <= now);
        if due {
            self.push_pull_replies.insert(peer, now);
        }
        due
    }

    /// Whom the next push-pull goes to: a random reachable member, alive or suspect, or
    /// dead and still listed (memberlist's "gossip to the dead"): a member declared dead
    /// while it was only cut off, by a partition since healed or a freeze since thawed, is
    /// still linked, hears of its death in the exchange and refutes it. Without this, two
    /// sides of a healed partition that each declared the other dead never speak again.
    fn push_pull_target(&mut self) -> Option<NodeId> {
        let pool: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(&id, m)| m.view.state != MemberState::Left && self.can_reach(id))
            .map(|(&id, _)| id)
            .collect();
        self.rng.sample_distinct(pool, 1).first().copied()
    }

    /// Membership as this member knows it, one update per member (itself included), in
    /// chunks that fit one message.
    fn state_chunks(&self) -> Vec<Vec<Update>> {
        let mut members: Vec<Update> = self
            .members
            .iter()
            .map(|(&member, m)| Update {
                member,
                incarnation: m.view.incarnation,
                state: m.view.state,
                from: self.id,
                proof: m.proof(),
            })
            .collect();
        members.push(self.alive_update());
        members
            .chunks(self.sync_chunk())
            .map(<[Update]>::to_vec)
            .collect()
    }

    /// Most members per `Sync` or `PushPull` sent.
    fn sync_chunk(&self) -> usize {
        if self.identity.is_some() {
            SIGNED_SYNC_MEMBERS
        } else {
            MAX_SYNC_MEMBERS
        }
    }

    /// Sends this member's state to `to`: every member it lists (itself included), then its
    /// tombstones; `reply` asks for `to`'s in return. With signed members this is a digest,
    /// without proofs (the receiver asks with [`SwimMessage::Want`] for the news it lacks),
    /// unless `only` names the members wanted: those go with their proofs.
    fn push_state(&mut self, to: NodeId, reply: bool, only: Option<&BTreeSet<NodeId>>) {
        let wanted = |m: &NodeId| only.is_none_or(|o| o.contains(m));
        let digest = self.identity.is_some() && only.is_none();
        let entry = |member, view: MemberView, proof| Update {
            member,
            incarnation: view.incarnation,
            state: view.state,
            from: self.id,
            proof: if digest { None } else { proof },
        };
        let mut listed: Vec<Update> = self
            .members
            .iter()
            .filter(|(m, _)| wanted(m))
            .map(|(&member, m)| entry(member, m.view, m.proof()))
            .collect();
        if wanted(&self.id) {
            let me = self.alive_update();
            listed.push(Update {
                proof: if digest { None } else { me.proof },
                ..me
            });
        }
        let gone: Vec<Update> = self
            .tombstones
            .iter()
            .filter(|(m, _)| wanted(m))
            .map(|(&member, t)| {
                let view = MemberView {
                    state: t.state,
                    incarnation: t.incarnation,
                };
                entry(member, view, t.proof)
            })
            .collect();
        let chunk = if digest {
            MAX_SYNC_MEMBERS
        } else {
            self.sync_chunk()
        };
        let listed = listed.chunks(chunk).map(|m| (m.to_vec(), Vec::new()));
        let buried = gone.chunks(chunk).map(|g| (Vec::new(), g.to_vec()));
        for (i, (members, gone)) in listed.chain(buried).enumerate() {
            self.send(
                to,
                SwimMessage::PushPull {
                    members,
                    gone,
                    reply: reply && i == 0,
                },
            );
        }
    }
}

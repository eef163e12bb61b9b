//! The membership table: who this member lists, in which [`MemberState`] and at which
//! [`Incarnation`], and every way that table changes. News comes in through `take` (which,
//! with signed members, asks with a `Want` for proofs it lacks) and is decided by `apply`,
//! SWIM's override rules (section 4.2 of the paper, with memberlist's leave): the one place a
//! listing is created or changed, so the probe order, the group size, the suspect set, the
//! events and the gossip queue all follow from it. News about this member itself is refuted
//! (`refute`) with a higher incarnation. Also here: news held until its member enters the room
//! (pending), and dead or left members forgotten after a while, behind a tombstone.

use super::message::{SwimMessage, Update, MAX_SYNC_MEMBERS};
use super::state::{Member, Suspicion, Swim, Tombstone};
use super::view::{Incarnation, MemberState, MemberView, SwimEvent};
use crate::auth::Proof;
use crate::lab::{Millis, NodeId};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Most members listed when members are signed (live mode); news of more is refused and
/// counted (`member-cap`). A room holds 256 by default: four times that leaves room for
/// churn (departed members stay listed a minute) while bounding what a flood of fake keys
/// can make a member hold.
pub const MAX_SIGNED_MEMBERS: usize = 1_024;

/// A tombstone outlives the listing of a dead or left member by this factor.
pub const TOMBSTONE_FACTOR: u64 = 10;

/// Tombstones kept at most; the oldest go first.
pub const MAX_TOMBSTONES: usize = 4_096;

/// Most news kept for members not yet in the room.
pub const MAX_PENDING: usize = 256;

/// How long news of a member not yet in the room is kept, ms.
pub const PENDING_MS: u64 = 10_000;

/// SWIM's override rules (section 4.2 of the paper, with memberlist's leave): whether
/// `update` replaces `current`, a listed member's view.
fn overrides(current: MemberView, update: &Update) -> bool {
    let (c, inc) = (current, update.incarnation);
    match update.state {
        MemberState::Alive => inc > c.incarnation,
        MemberState::Suspect => match c.state {
            MemberState::Alive => inc >= c.incarnation,
            MemberState::Suspect => inc > c.incarnation,
            MemberState::Dead | MemberState::Left => false,
        },
        MemberState::Dead => c.state.is_member() && inc >= c.incarnation,
        MemberState::Left => c.state != MemberState::Left && inc >= c.incarnation,
    }
}

impl Swim {
    /// This member's view of `member`, if it knows it.
    pub fn member(&self, member: NodeId) -> Option<MemberView> {
        self.members.get(&member).map(|m| m.view)
    }

    /// Every member this one knows, in id order, with its view of each.
    pub fn iter_members(&self) -> impl Iterator<Item = (NodeId, MemberView)> + '_ {
        self.members.iter().map(|(&id, m)| (id, m.view))
    }

    /// How many members this one lists in `state`.
    pub fn holding(&self, state: MemberState) -> u32 {
        self.held[state as usize]
    }

    /// The members this one lists as suspect, dead or left, in id order, with its view of
    /// each: usually few, where [`Swim::iter_members`] walks them all.
    pub fn iter_unwell(&self) -> impl Iterator<Item = (NodeId, MemberView)> + '_ {
        self.unwell.iter().map(|id| (*id, self.members[id].view))
    }

    /// Whether this member lists exactly the members `0..n` other than itself (ids are
    /// distinct, so `n - 1` of them, all below `n`, are all of them).
    pub fn lists_all_below(&self, n: u32) -> bool {
        self.id.0 < u64::from(n)
            && self.members.len() as u64 + 1 == u64::from(n)
            && self
                .members
                .last_key_value()
                .is_none_or(|(id, _)| id.0 < u64::from(n))
    }

    /// Members alive or suspect, this one included: the `n` of the logarithms.
    pub(super) fn group_size(&self) -> u32 {
        1 + self.group
    }

    /// Says whether `member` is in the room (live mode: the signaling server's word). From
    /// the first call on, a listing is created only for members said to be in the room (news
    /// of others is refused as `not-in-room`); members already listed stay, and SWIM decides
    /// their fate.
    pub fn set_in_room(&mut self, now: Millis, member: NodeId, in_room: bool) {
        self.roster.set(member, in_room);
        if in_room {
            if let Some((_, news)) = self.pending.remove(&member) {
                self.apply(now, news);
            }
        } else {
            self.pending.remove(&member);
        }
    }

    /// Suspects `member` on outside evidence (live mode: the signaling server saw its
    /// connection close). Nothing if it is not listed alive. A member that is in fact alive
    /// refutes as it would a failed probe's suspicion; one that is gone is declared dead when
    /// the suspicion runs out, even if no member that stays had a link to it to probe.
    pub fn suspect_member(&mut self, now: Millis, member: NodeId) {
        if !self.left && member != self.id {
            self.suspect(now, member);
        }
    }

    /// `member` itself said it is leaving, at `incarnation` (live mode: a goodbye over the
    /// relay, from a member this one may have no link to), signed with `proof` (needed with
    /// signed members, like any leave news).
    pub fn member_left(
        &mut self,
        now: Millis,
        member: NodeId,
        incarnation: Incarnation,
        proof: Option<Proof>,
    ) {
        if !self.left && member != self.id {
            self.apply(
                now,
                Update {
                    member,
                    incarnation,
                    state: MemberState::Left,
                    from: member,
                    proof,
                },
            );
        }
    }

    /// Takes in updates from `from` (`gone`: its tombstones, which correct a listing but
    /// never create one). With signed members, an update without a proof (a digest, or news
    /// repeated past its first transmissions) is applied if a proof held here vouches for
    /// it, and otherwise, if it is news, asked for: one [`SwimMessage::Want`] to `from`.
    pub(super) fn take(&mut self, now: Millis, from: NodeId, updates: Vec<Update>, gone: bool) {
        let mut want = Vec::new();
        for u in updates {
            let vouched =
                self.identity.is_none() || u.proof.is_some() || self.held_proof(&u).is_some();
            if vouched {
                if gone {
                    self.apply_gone(now, u);
                } else {
                    self.apply(now, u);
                }
                continue;
            }
            let listed = u.member == self.id || self.members.contains_key(&u.member);
            let wanted = if gone {
                listed && !u.state.is_member() && self.is_news(&u)
            } else {
                self.is_news(&u)
            };
            if wanted {
                want.push(u.member);
            }
        }
        if !want.is_empty() {
            want.truncate(MAX_SYNC_MEMBERS);
            self.send(from, SwimMessage::Want { members: want });
        }
    }

    /// Applies one piece of news (SWIM's override rules, section 4.2 of the paper).
    ///
    /// The cheap checks come first (is it news? is the member in the room, under the cap,
    /// not buried?), the signature last: a peer replaying stale or irrelevant signed news
    /// costs no verification.
    pub(super) fn apply(&mut self, now: Millis, update: Update) {
        if update.member == self.id {
            // Suspected, declared dead or said to have left while alive: refute with a higher
            // incarnation. News at the last incarnation cannot be refuted (there is no higher
            // one): only a forger sends it, and it is dropped rather than wrapped round.
            let accused = update.state != MemberState::Alive;
            if !accused || self.left || update.incarnation < self.incarnation {
                return;
            }
            if update.incarnation.0 == u32::MAX {
                self.refusals.add("top-incarnation");
            } else if self.authentic(&update) {
                self.refute(now, update.incarnation);
            }
            return;
        }
        let current = self.members.get(&update.member).map(|m| m.view);
        if current.is_none() {
            if !self.roster.admits(update.member) {
                // Usually the server's word that it joined is on its way (a class joining at
                // once): kept, and counted only if it never comes.
                self.keep_pending(now, update);
                return;
            }
            if self.identity.is_some() && self.members.len() >= MAX_SIGNED_MEMBERS {
                self.refusals.add("member-cap");
                return;
            }
            // A forgotten member comes back only at a higher incarnation than its last.
            if self
                .tombstones
                .get(&update.member)
                .is_some_and(|t| update.incarnation <= t.incarnation)
            {
                return;
            }
        }
        if !current.is_none_or(|c| overrides(c, &update)) {
            if update.state == MemberState::Suspect
                && current.is_some_and(|c| {
                    c.state == MemberState::Suspect && c.incarnation == update.incarnation
                })
            {
                self.confirm_suspicion(now, update);
            }
            return;
        }
        if !self.authentic(&update) {
            return;
        }
        if current.is_none() {
            self.tombstones.remove(&update.member);
        }
        let view = MemberView {
            state: update.state,
            incarnation: update.incarnation,
        };
        // A suspicion or a death without a proof keeps the subject's, for this incarnation.
        let proof = update.proof.or_else(|| self.held_proof(&update));
        let update = Update { proof, ..update };
        let suspicion = (update.state == MemberState::Suspect).then(|| {
            Box::new(Suspicion {
                start: now,
                accusers: alloc::vec![update.from],
                deadline: now.after(self.suspicion_timeout(0)),
            })
        });
        let is_new = current.is_none();
        if suspicion.is_some() {
            self.suspects.insert(update.member);
        } else {
            self.suspects.remove(&update.member);
        }
        if let Some(c) = current {
            self.held[c.state as usize] -= 1;
        }
        self.held[view.state as usize] += 1;
        if view.state == MemberState::Alive {
            self.unwell.remove(&update.member);
        } else {
            self.unwell.insert(update.member);
        }
        self.members.insert(
            update.member,
            Member {
                view,
                since: now,
                suspicion,
                proof: proof.map(Box::new),
            },
        );
        let was_member = current.is_some_and(|c| c.state.is_member());
        match (was_member, view.state.is_member()) {
            (false, true) => self.group += 1,
            (true, false) => self.group -= 1,
            _ => {}
        }
        let back = !was_member && view.state.is_member();
        if back && (is_new || !self.probe_order.contains(&update.member)) {
            // A new member goes to a random place among those not yet probed this round
            // (section 4.3): appended, then swapped there.
            self.probe_order.push(update.member);
            let unprobed = (self.probe_order.len() - self.probe_next) as u32;
            let at = self.probe_next + self.rng.below(unprobed) as usize;
            let last = self.probe_order.len() - 1;
            self.probe_order.swap(at, last);
        }
        self.emit(update.member, view);
        self.broadcast(update);
    }

    /// Whether `update` would change this member's view: SWIM's override rules, and about
    /// this member itself, whether it would refute. Decides what a signed push-pull asks
    /// for ([`SwimMessage::Want`]); counts nothing.
    fn is_news(&self, update: &Update) -> bool {
        if update.member == self.id {
            return update.state != MemberState::Alive
                && !self.left
                && update.incarnation >= self.incarnation
                && update.incarnation.0 < u32::MAX;
        }
        match self.members.get(&update.member) {
            Some(m) => overrides(m.view, update),
            None => {
                let in_room = self.roster.admits(update.member);
                let buried = self
                    .tombstones
                    .get(&update.member)
                    .is_some_and(|t| update.incarnation <= t.incarnation);
                in_room && !buried && self.members.len() < MAX_SIGNED_MEMBERS
            }
        }
    }

    /// Refutes news of this member's suspicion, death or leave at `accused`: a higher
    /// incarnation, signed and gossiped. With signed members, at most once a protocol
    /// period (a later accusation is refuted at the next period, well within any suspicion
    /// timeout): a peer replaying accusations cannot make this member sign, and count up its
    /// incarnation, as fast as it can send.
    pub(super) fn refute(&mut self, now: Millis, accused: Incarnation) {
        if self.identity.is_some() && now < self.next_refutation {
            self.refutation_owed = Some(self.refutation_owed.map_or(accused, |o| o.max(accused)));
            return;
        }
        self.refutation_owed = None;
        let above = accused.max(self.incarnation).0;
        let Some(refuted) = above.checked_add(1) else {
            return;
        };
        self.incarnation = Incarnation(refuted);
        self.next_refutation = now.after(u64::from(self.config.period_ms));
        self.sign_self();
        self.change_health(1);
        self.effects.emit(SwimEvent::Refuted(self.incarnation));
        self.broadcast(self.alive_update());
    }

    /// Keeps news of a member not yet in the room (the latest incarnation per member, at
    /// most [`MAX_PENDING`], each for [`PENDING_MS`]). Refused (`not-in-room`) are the news
    /// there is no room for, and the members whose news expired with no word that they
    /// joined: news that waits for the server's word is not misbehaviour (an honest class
    /// joining at once sends much of it).
    fn keep_pending(&mut self, now: Millis, update: Update) {
        let before = self.pending.len();
        self.pending.retain(|_, (at, _)| at.after(PENDING_MS) > now);
        for _ in self.pending.len()..before {
            self.refusals.add("not-in-room");
        }
        let newer = self
            .pending
            .get(&update.member)
            .is_none_or(|(_, held)| held.incarnation <= update.incarnation);
        let room = self.pending.len() < MAX_PENDING || self.pending.contains_key(&update.member);
        if !room {
            self.refusals.add("not-in-room");
        } else if newer {
            self.pending.insert(update.member, (now, update));
        }
    }

    /// A peer's tombstone: corrects a listing of the member here, never creates one; about
    /// this member itself (forgotten while it was cut off), it is refuted like any news of
    /// its death.
    fn apply_gone(&mut self, now: Millis, update: Update) {
        if !update.state.is_member()
            && (update.member == self.id || self.members.contains_key(&update.member))
        {
            self.apply(now, update);
        }
    }

    /// Marks `member` suspect on this member's own authority (a failed probe).
    pub(super) fn suspect(&mut self, now: Millis, member: NodeId) {
        let Some(m) = self.members.get(&member) else {
            return;
        };
        if m.view.state != MemberState::Alive {
            return;
        }
        let update = Update {
            member,
            incarnation: m.view.incarnation,
            state: MemberState::Suspect,
            from: self.id,
            proof: m.proof(),
        };
        self.apply(now, update);
    }

    /// Dead and left members listed longer than `forget_after_ms` are forgotten (a
    /// tombstone stays), and tombstones past their time go.
    pub(super) fn forget(&mut self, now: Millis) {
        let Some(after) = self.config.forget_after_ms.map(u64::from) else {
            return;
        };
        let gone: Vec<(NodeId, MemberView, Option<Proof>)> = self
            .members
            .iter()
            .filter(|(_, m)| !m.view.state.is_member() && m.since.after(after) <= now)
            .map(|(&id, m)| (id, m.view, m.proof()))
            .collect();
        for (id, view, proof) in gone {
            self.members.remove(&id);
            self.held[view.state as usize] -= 1;
            self.unwell.remove(&id);
            self.push_pull_replies.remove(&id);
            self.want_answers.remove(&id);
            self.broadcasts.retain(|b| b.update.member != id);
            let tombstone = Tombstone {
                incarnation: view.incarnation,
                state: view.state,
                proof,
                until: now.after(after * TOMBSTONE_FACTOR),
            };
            self.tombstones.insert(id, tombstone);
        }
        self.tombstones.retain(|_, t| t.until > now);
        while self.tombstones.len() > MAX_TOMBSTONES {
            let oldest = self
                .tombstones
                .iter()
                .min_by_key(|(_, t)| t.until)
                .map(|(&id, _)| id);
            match oldest {
                Some(id) => self.tombstones.remove(&id),
                None => break,
            };
        }
    }

    /// When the next dead or left member is due to be forgotten.
    pub(super) fn next_forget(&self) -> Option<Millis> {
        let after = u64::from(self.config.forget_after_ms?);
        let listed = self
            .members
            .values()
            .filter(|m| !m.view.state.is_member())
            .map(|m| m.since.after(after));
        let buried = self.tombstones.values().map(|t| t.until);
        listed.chain(buried).min()
    }
}

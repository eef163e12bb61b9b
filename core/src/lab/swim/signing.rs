//! Signed members (live mode): this member signs what it says of itself, and news of
//! another member is believed only with that member's own proof ([`Update::proof`]). The
//! checks live here, once, so that the membership table and the full-state exchange ask the
//! same question (`authentic`, `held_proof`) and a proof already checked is not checked again.
//! In the simulator no member is signed and every check here answers yes.

use super::message::Update;
use super::state::Swim;
use super::view::MemberState;
use crate::auth::{Identity, Proof};

impl Swim {
    /// Signed members (live mode): this member signs what it says of itself with
    /// `identity` (whose id MUST be this member's), and accepts only news that carries its
    /// subject's valid proof ([`Update::proof`]); news of more than
    /// [`MAX_SIGNED_MEMBERS`](super::MAX_SIGNED_MEMBERS) members is refused.
    pub fn signed(mut self, identity: Identity) -> Self {
        debug_assert_eq!(identity.id(), self.id);
        self.identity = Some(identity);
        self.sign_self();
        self
    }

    /// Signs this member's statement for its incarnation now.
    pub(super) fn sign_self(&mut self) {
        let Some(identity) = &self.identity else {
            return;
        };
        let update = Update {
            member: self.id,
            incarnation: self.incarnation,
            state: if self.left {
                MemberState::Left
            } else {
                MemberState::Alive
            },
            from: self.id,
            proof: None,
        };
        self.own_proof = Some(identity.sign(&update.statement()));
    }

    /// Signed members: whether `update`'s proof is its subject's own, for its incarnation
    /// (counted as refused if not). A proof already checked (the one held for the member, for
    /// the same statement) is not checked again: gossip repeats news many times.
    pub(super) fn authentic(&mut self, update: &Update) -> bool {
        if self.identity.is_none() {
            return true;
        }
        let held = self.held_proof(update);
        let Some(proof) = update.proof else {
            // Without a proof, the one held for the same statement vouches for it (a
            // suspicion at an incarnation the subject signed, news repeated).
            if held.is_some() {
                return true;
            }
            self.refusals.add("unsigned");
            return false;
        };
        if held == Some(proof) {
            return true;
        }
        match proof.verify(update.member, &update.statement()) {
            Ok(()) => true,
            Err(e) => {
                self.refusals.add(e.name());
                false
            }
        }
    }

    /// The verified proof held for `update`'s statement (the subject's alive, or its leave,
    /// at that incarnation), if any: this member's own, or the one kept with the listing.
    pub(super) fn held_proof(&self, update: &Update) -> Option<Proof> {
        let left = update.state == MemberState::Left;
        if update.member == self.id {
            return self
                .own_proof
                .filter(|_| update.incarnation == self.incarnation && left == self.left);
        }
        let m = self.members.get(&update.member)?;
        let same =
            m.view.incarnation == update.incarnation && (m.view.state == MemberState::Left) == left;
        m.proof().filter(|_| same)
    }
}

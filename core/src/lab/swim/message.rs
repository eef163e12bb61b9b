//! SWIM's wire vocabulary: the [`SwimMessage`]s members exchange, the [`Update`] (one piece
//! of membership news) they carry, and the bounds a decoded message must respect
//! ([`SwimMessage::validate`]). Kept apart from the state machine because both ends of the
//! wire share these types (the codec in `lab::wire`, the live relay, the bench, the tests),
//! and because what may cross the wire is a contract of its own: a change here is a change
//! of the wire format.

use super::view::{Incarnation, MemberState, MemberView};
use crate::auth::{Proof, Statement};
use crate::lab::role::{Alarm, Role};
use crate::lab::NodeId;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// One membership change, as disseminated: `from` asserts that `member` is in `state` at
/// `incarnation`. `from` matters for suspicions only: Lifeguard counts independent ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Who the news is about.
    pub member: NodeId,
    /// The member's incarnation the news is about.
    pub incarnation: Incarnation,
    /// The news.
    pub state: MemberState,
    /// Who asserts it.
    pub from: NodeId,
    /// Signed members (live mode): `member`'s own signature on its [`Statement::Left`] at
    /// `incarnation` for a leave, on its [`Statement::Alive`] at `incarnation` for anything
    /// else. So a leave is only ever its subject's word, and a suspicion or a death names an
    /// incarnation its subject really announced (no forger can declare a member dead at an
    /// incarnation above any it can refute). `None` in the simulator.
    pub proof: Option<Proof>,
}

impl Update {
    /// What `proof` must sign.
    pub(super) fn statement(&self) -> Statement<'static> {
        let (member, incarnation) = (self.member, self.incarnation.0);
        if self.state == MemberState::Left {
            Statement::Left {
                member,
                incarnation,
            }
        } else {
            Statement::Alive {
                member,
                incarnation,
            }
        }
    }
}

/// Most updates piggybacked on one message (and the largest `max_piggyback`).
pub const MAX_UPDATES: usize = 64;

/// Most members in one `Sync` message; a larger membership is sent in several.
pub const MAX_SYNC_MEMBERS: usize = 512;

/// SWIM's messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SwimMessage {
    /// A probe; answer with `Ack` carrying the same `seq`.
    Ping {
        /// Matches the answer to the probe.
        seq: u32,
        /// Piggybacked membership changes.
        updates: Vec<Update>,
    },
    /// The answer to a `Ping` (forwarded by the intermediary of an indirect probe).
    Ack {
        /// The probe's `seq`.
        seq: u32,
        /// Piggybacked membership changes.
        updates: Vec<Update>,
    },
    /// "Probe `target` for me": the receiver pings it and forwards its ack.
    PingReq {
        /// The requester's probe `seq`.
        seq: u32,
        /// Whom to probe.
        target: NodeId,
        /// Piggybacked membership changes.
        updates: Vec<Update>,
    },
    /// Lifeguard: the intermediary of an indirect probe heard nothing from the target in time.
    Nack {
        /// The requester's probe `seq`.
        seq: u32,
    },
    /// A new member asks to join; the receiver answers with `Sync`.
    Join {
        /// The joiner's incarnation.
        incarnation: Incarnation,
        /// Signed members: the joiner's signed alive at `incarnation`.
        proof: Option<Proof>,
    },
    /// Membership as the sender knows it (part of it, if large): the answer to `Join`.
    Sync {
        /// One update per member, the sender included.
        members: Vec<Update>,
    },
    /// The periodic full-state exchange (memberlist's push-pull): membership as the sender
    /// knows it, in chunks of at most [`MAX_SYNC_MEMBERS`]; the first chunk asks for the
    /// receiver's own in return (`reply`). It repairs what piggybacked gossip missed: news
    /// that ran out of retransmissions before reaching a member of a partial mesh.
    PushPull {
        /// One update per member listed, the sender included.
        members: Vec<Update>,
        /// Members the sender has forgotten (its tombstones), with their last news: a
        /// receiver that still lists one alive corrects it; one that does not list it
        /// ignores it (so a tombstone is never revived as a listing, nor kept circulating).
        gone: Vec<Update>,
        /// Answer with this member's own state.
        reply: bool,
    },
    /// Signed members: "send me these members' news with their proofs" — the answer to a
    /// push-pull, which then carries no proofs (a digest: about 25 bytes a member instead
    /// of 125), for the entries that would change the asker's view. Answered with a
    /// `PushPull` whose entries carry proofs.
    Want {
        /// The members asked for, at most [`MAX_SYNC_MEMBERS`].
        members: Vec<NodeId>,
    },
    /// A push-pull's opening in live rooms ([`SwimConfig::summaries`]): "the digest I would
    /// send hashes to `hash`" ([`membership_hash`]). A member whose own hashes the same is
    /// in step and says nothing (13 bytes instead of two digests of about 22 bytes a member);
    /// another answers with its state asking for the sender's (a `PushPull` with `reply`),
    /// and the exchange goes on as any push-pull.
    ///
    /// [`SwimConfig::summaries`]: super::config::SwimConfig::summaries
    Summary {
        /// The hash of the sender's membership.
        hash: u64,
    },
}

/// A hash of a membership as a push-pull digest lists it: one entry per (member,
/// incarnation, state), the listed and the forgotten (`gone`) apart. Entries are mixed one
/// by one and added, so the order they come in does not matter (each member lists itself
/// beside the others it lists). Equal memberships hash the same, and memberships that differ
/// almost surely do not. Not a cryptographic hash: a peer that made two collide would only
/// skip an exchange with itself.
pub fn membership_hash(entries: impl Iterator<Item = (NodeId, MemberView, bool)>) -> u64 {
    use crate::rng::mix64;
    entries.fold(0, |sum, (member, view, gone)| {
        let state = view.state as u64 | u64::from(gone) << 2;
        let entry = mix64(member.0 ^ mix64(u64::from(view.incarnation.0) << 3 | state));
        sum.wrapping_add(entry)
    })
}

impl SwimMessage {
    /// Why it was sent (see [`Role`]): a probe, a request to probe, a join and the first
    /// push-pull chunk on the sender's initiative; the rest in answer.
    pub fn role(&self) -> Role {
        match self {
            SwimMessage::Ping { .. }
            | SwimMessage::PingReq { .. }
            | SwimMessage::Join { .. }
            | SwimMessage::PushPull { reply: true, .. }
            | SwimMessage::Summary { .. } => Role::Initiative,
            SwimMessage::Ack { .. }
            | SwimMessage::Nack { .. }
            | SwimMessage::Sync { .. }
            | SwimMessage::PushPull { reply: false, .. }
            | SwimMessage::Want { .. } => Role::Reply,
        }
    }

    /// The gravest news piggybacked on a probe, its answer or a request to probe: a death
    /// over a suspicion; `None` if it carries neither.
    pub fn alarm(&self) -> Option<Alarm> {
        let (SwimMessage::Ping { updates, .. }
        | SwimMessage::Ack { updates, .. }
        | SwimMessage::PingReq { updates, .. }) = self
        else {
            return None;
        };
        updates
            .iter()
            .filter_map(|u| match u.state {
                MemberState::Suspect => Some(Alarm::Suspicion),
                MemberState::Dead => Some(Alarm::Death),
                MemberState::Alive | MemberState::Left => None,
            })
            .max()
    }

    /// Its kind, for the page's message log.
    pub fn kind(&self) -> &'static str {
        match self {
            SwimMessage::Ping { .. } => "ping",
            SwimMessage::Ack { .. } => "ack",
            SwimMessage::PingReq { .. } => "ping-req",
            SwimMessage::Nack { .. } => "nack",
            SwimMessage::Join { .. } => "join",
            SwimMessage::Sync { .. } => "sync",
            SwimMessage::PushPull { .. } => "push-pull",
            SwimMessage::Want { .. } => "want",
            SwimMessage::Summary { .. } => "summary",
        }
    }

    /// Checks the bounds a decoded message must respect.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            SwimMessage::Ping { updates, .. }
            | SwimMessage::Ack { updates, .. }
            | SwimMessage::PingReq { updates, .. }
                if updates.len() > MAX_UPDATES =>
            {
                Err("too many piggybacked updates")
            }
            SwimMessage::Sync { members } if members.len() > MAX_SYNC_MEMBERS => {
                Err("too many members in one sync")
            }
            SwimMessage::PushPull { members, gone, .. }
                if members.len() + gone.len() > MAX_SYNC_MEMBERS =>
            {
                Err("too many members in one sync")
            }
            SwimMessage::Want { members } if members.len() > MAX_SYNC_MEMBERS => {
                Err("too many members wanted")
            }
            _ => Ok(()),
        }
    }
}

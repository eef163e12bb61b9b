//! The member's state: the [`Swim`] struct, every field of it, and the records those fields
//! hold (a listed [`Member`], a [`Tombstone`], a [`Suspicion`], the period's [`Probe`], a
//! [`Relay`] run for another member, a queued [`Broadcast`]). Data only; what the member does
//! with it is in the files beside this one, each adding an `impl Swim` block and importing
//! this file: `node.rs` (the inputs and outputs), `member.rs`, `probe.rs`, `broadcast.rs`,
//! `sync.rs` and `signing.rs`. This file imports none of them, so there is no import cycle
//! between the state and the code that changes it.

use super::config::SwimConfig;
use super::message::{SwimMessage, Update};
use super::view::{Incarnation, MemberState, MemberView, SwimEvent};
use crate::auth::{Identity, Proof};
use crate::lab::{Effects, Millis, NodeId, Refusals, Roster};
use crate::rng::GossipRng;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// A SWIM member.
#[derive(Clone, Debug)]
pub struct Swim {
    pub(super) id: NodeId,
    pub(super) incarnation: Incarnation,
    pub(super) config: SwimConfig,
    pub(super) rng: GossipRng,
    pub(super) members: BTreeMap<NodeId, Member>,
    /// The members suspect here, so timeouts need not scan every member.
    pub(super) suspects: BTreeSet<NodeId>,
    /// The members listed here as suspect, dead or left, so a picture of the group need not
    /// scan every member (most are alive).
    pub(super) unwell: BTreeSet<NodeId>,
    /// How many members are listed here in each state (indexed by `MemberState as usize`),
    /// so counts need no scan either.
    pub(super) held: [u32; 4],
    pub(super) probe_order: Vec<NodeId>,
    pub(super) probe_next: usize,
    pub(super) probe: Option<Probe>,
    pub(super) next_period: Millis,
    pub(super) seq: u32,
    pub(super) relays: Vec<Relay>,
    pub(super) broadcasts: Vec<Broadcast>,
    pub(super) health: u8,
    pub(super) left: bool,
    /// Members alive or suspect here (this one not included).
    pub(super) group: u32,
    /// The members this one can send to, when not all (live mode: a tab has data channels
    /// to some members only). `None`: all. Only these are probed and asked to probe; the
    /// others' failures are learnt from their own neighbours' gossip.
    pub(super) reachable: Option<BTreeSet<NodeId>>,
    /// The next full-state push-pull (with `push_pull_ms`).
    pub(super) next_push_pull: Millis,
    /// Forgotten members: their last news, and when the tombstone goes.
    pub(super) tombstones: BTreeMap<NodeId, Tombstone>,
    /// When each peer's push-pull was last answered (kept for members only).
    pub(super) push_pull_replies: BTreeMap<NodeId, Millis>,
    /// Signed members: per peer, since when and how many members its `Want`s were answered
    /// with (at most [`MAX_SIGNED_MEMBERS`](super::member::MAX_SIGNED_MEMBERS) per half
    /// push-pull period).
    pub(super) want_answers: BTreeMap<NodeId, (Millis, usize)>,
    /// Signed members (live mode): this member's key. Then every update must carry a valid
    /// proof, and this member signs its own.
    pub(super) identity: Option<Identity>,
    /// This member's signed statement for its current incarnation (alive, or left).
    pub(super) own_proof: Option<Proof>,
    /// The members a listing may be created for, when not all (live mode: those the
    /// signaling server has in the room, so keys made up by the thousand, with no
    /// connection behind them, are not listed).
    pub(super) roster: Roster,
    /// News refused as `not-in-room`, kept (the latest per member, at most
    /// [`MAX_PENDING`](super::member::MAX_PENDING)) until the member enters the room: gossip
    /// about a new member often arrives before the server's word that it joined.
    pub(super) pending: BTreeMap<NodeId, (Millis, Update)>,
    /// Signed members: no refutation before this (one per period).
    pub(super) next_refutation: Millis,
    /// An accusation heard too soon after a refutation: refuted at the next period.
    pub(super) refutation_owed: Option<Incarnation>,
    /// News refused, by reason.
    pub(super) refusals: Refusals,
    pub(super) effects: Effects<SwimMessage, SwimEvent>,
}

/// A listed member, as this member knows it.
#[derive(Clone, Debug)]
pub(super) struct Member {
    pub(super) view: MemberView,
    /// When this member entered its state here (dead and left members are forgotten
    /// `forget_after_ms` later).
    pub(super) since: Millis,
    /// When a suspicion started, who confirmed it, and when it expires. Boxed, like the
    /// proof: a lab member lists every other (a million entries at 1,000 members), and few
    /// are suspect or signed, so an entry stays 40 bytes instead of 170.
    pub(super) suspicion: Option<Box<Suspicion>>,
    /// The member's own signed statement for `view` (see [`Update::proof`]), forwarded with
    /// every update about it.
    pub(super) proof: Option<Box<Proof>>,
}

impl Member {
    /// The member's own signed statement for its view, if it has one.
    pub(super) fn proof(&self) -> Option<Proof> {
        self.proof.as_deref().copied()
    }
}

/// What is kept of a forgotten member.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tombstone {
    pub(super) incarnation: Incarnation,
    pub(super) state: MemberState,
    pub(super) proof: Option<Proof>,
    pub(super) until: Millis,
}

/// A suspicion of a listed member: when it started, who asserted it, and when it runs out.
#[derive(Clone, Debug)]
pub(super) struct Suspicion {
    pub(super) start: Millis,
    /// Distinct members who asserted it (the first included).
    pub(super) accusers: Vec<NodeId>,
    pub(super) deadline: Millis,
}

/// The probe of the current period.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    pub(super) target: NodeId,
    /// The target's incarnation when probed: a probe that went unanswered speaks of that
    /// life only (a member that restarted meanwhile is not suspected for its predecessor's
    /// silence).
    pub(super) incarnation: Incarnation,
    pub(super) seq: u32,
    /// When to go indirect if no ack came.
    pub(super) indirect_at: Millis,
    pub(super) indirect_sent: bool,
    pub(super) acked: bool,
    /// Lifeguard: nacks asked for and received.
    pub(super) nacks_expected: u8,
    pub(super) nacks: u8,
}

/// An indirect probe this member runs for another.
#[derive(Clone, Debug)]
pub(super) struct Relay {
    pub(super) seq: u32,
    pub(super) origin: NodeId,
    pub(super) origin_seq: u32,
    /// Lifeguard: when to send a nack; without Lifeguard, when to forget the relay.
    pub(super) deadline: Millis,
}

/// A piece of news queued for piggybacking, and how often it has ridden so far.
#[derive(Clone, Debug)]
pub(super) struct Broadcast {
    pub(super) update: Update,
    pub(super) transmits: u32,
}

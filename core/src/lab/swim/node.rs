//! SWIM membership and failure detection (Das, Gupta, Motivala, DSN 2002), with Lifeguard's
//! local health awareness and dynamic suspicion timeout (Dadgar, Phillips, Currey 2018) as an
//! option.
//!
//! Every protocol period a member probes one other member, chosen round-robin over a shuffled
//! list (so every member is probed within a bounded time): a `Ping`, and if no `Ack` comes
//! within the ack timeout, `PingReq`s through `k` other members. With no ack by the end of
//! the period the target becomes *suspect*; a suspect that does not refute (by announcing a
//! higher incarnation number) within the suspicion timeout is declared *dead*. Changes travel
//! piggybacked on probes and acks, each retransmitted `λ·⌈log2(n+1)⌉` times.
//!
//! Lifeguard: a member that misses acks or must refute suspicions of itself is probably slow
//! itself, so it raises its local health multiplier and stretches its own period and timeouts
//! (`× (health + 1)`); intermediaries answer a failed indirect probe with a `Nack`, so the
//! prober can tell "the target is silent" from "I am not hearing anyone". A suspicion starts
//! long and shortens as independent members confirm it.

use crate::auth::{Identity, Proof, Statement};
use crate::lab::{Effects, Millis, Node, NodeId, Refusals, Roster, Transmit};
use crate::rng::GossipRng;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// A member's incarnation number: only the member itself raises it, to refute a suspicion or
/// when it restarts; a higher incarnation's news overrides a lower one's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Incarnation(pub u32);

/// What a member believes of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Missed a probe; declared dead unless it refutes in time.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left gracefully.
    Left,
}

impl MemberState {
    /// The word shown in the page and written in JSON.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }

    /// Whether a member in this state is probed (and probes).
    pub fn is_member(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

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
    fn statement(&self) -> Statement<'static> {
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

/// Signed members: a piggybacked update carries its proof on this many of its
/// transmissions, then goes without (receivers that lack the proof ask for it).
pub const PROOF_TRANSMITS: u32 = 2;

/// Most members in one `Sync` message; a larger membership is sent in several.
pub const MAX_SYNC_MEMBERS: usize = 512;
/// Most members in one `Sync` or `PushPull` this member sends when updates carry proofs
/// (about 125 bytes each: 100 fit the wire's 16 KiB cap with room to spare).
pub const SIGNED_SYNC_MEMBERS: usize = 100;
/// Most members listed when members are signed (live mode); news of more is refused and
/// counted (`member-cap`). A room holds 256 by default: four times that leaves room for
/// churn (departed members stay listed a minute) while bounding what a flood of fake keys
/// can make a member hold.
pub const MAX_SIGNED_MEMBERS: usize = 1_024;

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
}

impl SwimMessage {
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

/// SWIM's parameters. Defaults are memberlist's LAN configuration (Serf, Consul).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwimConfig {
    /// Protocol period T: one probe per member per period, ms, `10..=60_000` (memberlist 1000).
    pub period_ms: u32,
    /// How long to wait for a direct ack before probing indirectly, ms, `1..period_ms`
    /// (memberlist 500).
    pub ack_timeout_ms: u32,
    /// k: members asked to probe indirectly, `0..=16` (memberlist 3).
    pub indirect_probes: u8,
    /// λ: each update is piggybacked `λ·⌈log2(n+1)⌉` times, `1..=16` (memberlist 4).
    pub retransmit_mult: u8,
    /// α: a suspicion lasts `α·max(1, log10 n)` periods (its minimum, with Lifeguard),
    /// `1..=32` (memberlist 4).
    pub suspicion_mult: u8,
    /// Most updates piggybacked on one message, `1..=MAX_UPDATES` (bounded by the MTU).
    pub max_piggyback: u8,
    /// How the member to probe is chosen each period.
    pub probe_order: ProbeOrder,
    /// Lifeguard's local health and dynamic suspicion, or plain SWIM.
    pub lifeguard: Option<Lifeguard>,
    /// How often a full-state push-pull runs with one random reachable member, ms
    /// (memberlist's `PushPullInterval`, 30 s on a LAN), `100..=600_000`; `None`: never (the
    /// paper's SWIM, as the lab runs it).
    pub push_pull_ms: Option<u32>,
    /// How long a dead or left member stays listed before it is forgotten, ms
    /// (`1_000..=86_400_000`); `None`: kept for good. A forgotten member leaves a tombstone
    /// (its last incarnation) for [`TOMBSTONE_FACTOR`] times as long, so that an old
    /// member's push-pull cannot bring it back: only a higher incarnation can.
    pub forget_after_ms: Option<u32>,
}

/// A tombstone outlives the listing of a dead or left member by this factor.
pub const TOMBSTONE_FACTOR: u64 = 10;
/// Tombstones kept at most; the oldest go first.
pub const MAX_TOMBSTONES: usize = 4_096;

/// How a member picks whom to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeOrder {
    /// Round-robin over a list shuffled each pass (section 4.3): every member is probed
    /// within `2n - 1` periods of a failure, not just in expectation.
    RoundRobin,
    /// Uniformly at random each period (basic SWIM, section 3): the expected time to first
    /// detection is `1 / (1 - e^{-q_f})` periods, with no worst-case bound.
    Random,
}

/// Lifeguard's parameters (defaults: memberlist's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifeguard {
    /// Largest local health multiplier: periods and timeouts stretch up to `(max + 1)×`,
    /// `1..=16` (memberlist 8).
    pub max_health: u8,
    /// β: a fresh suspicion lasts β times the minimum, shrinking as confirmations arrive,
    /// `1..=16` (memberlist 6).
    pub suspicion_max_mult: u8,
}

impl Default for Lifeguard {
    fn default() -> Self {
        Lifeguard {
            max_health: 8,
            suspicion_max_mult: 6,
        }
    }
}

impl Default for SwimConfig {
    fn default() -> Self {
        SwimConfig {
            period_ms: 1_000,
            ack_timeout_ms: 500,
            indirect_probes: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            max_piggyback: 16,
            probe_order: ProbeOrder::RoundRobin,
            lifeguard: None,
            push_pull_ms: None,
            forget_after_ms: None,
        }
    }
}

impl SwimConfig {
    /// Checks every range; the error names the parameter.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(10..=60_000).contains(&self.period_ms) {
            return Err("period must be 10..=60000 ms");
        }
        if self.ack_timeout_ms == 0 || self.ack_timeout_ms >= self.period_ms {
            return Err("ack timeout must be at least 1 ms and shorter than the period");
        }
        if self.indirect_probes > 16 {
            return Err("indirect probes must be 0..=16");
        }
        if !(1..=16).contains(&self.retransmit_mult) {
            return Err("retransmit multiplier must be 1..=16");
        }
        if !(1..=32).contains(&self.suspicion_mult) {
            return Err("suspicion multiplier must be 1..=32");
        }
        if self.max_piggyback == 0 || usize::from(self.max_piggyback) > MAX_UPDATES {
            return Err("piggyback limit must be 1..=64");
        }
        if self
            .push_pull_ms
            .is_some_and(|ms| !(100..=600_000).contains(&ms))
        {
            return Err("push-pull interval must be 100..=600000 ms");
        }
        if self
            .forget_after_ms
            .is_some_and(|ms| !(1_000..=86_400_000).contains(&ms))
        {
            return Err("forget-after must be 1000..=86400000 ms");
        }
        if let Some(l) = self.lifeguard {
            if !(1..=16).contains(&l.max_health) || !(1..=16).contains(&l.suspicion_max_mult) {
                return Err("Lifeguard's health and suspicion multipliers must be 1..=16");
            }
        }
        Ok(())
    }
}

/// What a SWIM member reports to the view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SwimEvent {
    /// This member's view of `member` changed.
    Member {
        /// Who.
        member: NodeId,
        /// Its new state here.
        state: MemberState,
        /// At which incarnation.
        incarnation: Incarnation,
    },
    /// This member refuted a suspicion of itself by raising its incarnation.
    Refuted(Incarnation),
}

/// What a user or a scenario can ask of a member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SwimCommand {
    /// Join the group through `seed`, a member already in it.
    Join(NodeId),
    /// Leave gracefully: tell a few members, then fall silent.
    Leave,
}

/// One member's view of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Its state here.
    pub state: MemberState,
    /// Its incarnation as known here.
    pub incarnation: Incarnation,
}

#[derive(Clone, Debug)]
struct Member {
    view: MemberView,
    /// When this member entered its state here (dead and left members are forgotten
    /// `forget_after_ms` later).
    since: Millis,
    /// When a suspicion started, who confirmed it, and when it expires.
    suspicion: Option<Suspicion>,
    /// The member's own signed statement for `view` (see [`Update::proof`]), forwarded with
    /// every update about it.
    proof: Option<Proof>,
}

/// What is kept of a forgotten member.
#[derive(Clone, Copy, Debug)]
struct Tombstone {
    incarnation: Incarnation,
    state: MemberState,
    proof: Option<Proof>,
    until: Millis,
}

#[derive(Clone, Debug)]
struct Suspicion {
    start: Millis,
    /// Distinct members who asserted it (the first included).
    accusers: Vec<NodeId>,
    deadline: Millis,
}

/// The probe of the current period.
#[derive(Clone, Debug)]
struct Probe {
    target: NodeId,
    /// The target's incarnation when probed: a probe that went unanswered speaks of that
    /// life only (a member that restarted meanwhile is not suspected for its predecessor's
    /// silence).
    incarnation: Incarnation,
    seq: u32,
    /// When to go indirect if no ack came.
    indirect_at: Millis,
    indirect_sent: bool,
    acked: bool,
    /// Lifeguard: nacks asked for and received.
    nacks_expected: u8,
    nacks: u8,
}

/// An indirect probe this member runs for another.
#[derive(Clone, Debug)]
struct Relay {
    seq: u32,
    origin: NodeId,
    origin_seq: u32,
    /// Lifeguard: when to send a nack; without Lifeguard, when to forget the relay.
    deadline: Millis,
}

#[derive(Clone, Debug)]
struct Broadcast {
    update: Update,
    transmits: u32,
}

/// A SWIM member.
#[derive(Clone, Debug)]
pub struct Swim {
    id: NodeId,
    incarnation: Incarnation,
    config: SwimConfig,
    rng: GossipRng,
    members: BTreeMap<NodeId, Member>,
    /// The members suspect here, so timeouts need not scan every member.
    suspects: BTreeSet<NodeId>,
    probe_order: Vec<NodeId>,
    probe_next: usize,
    probe: Option<Probe>,
    next_period: Millis,
    seq: u32,
    relays: Vec<Relay>,
    broadcasts: Vec<Broadcast>,
    health: u8,
    left: bool,
    /// Members alive or suspect here (this one not included).
    group: u32,
    /// The members this one can send to, when not all (live mode: a tab has data channels
    /// to some members only). `None`: all. Only these are probed and asked to probe; the
    /// others' failures are learnt from their own neighbours' gossip.
    reachable: Option<BTreeSet<NodeId>>,
    /// The next full-state push-pull (with `push_pull_ms`).
    next_push_pull: Millis,
    /// Forgotten members: their last news, and when the tombstone goes.
    tombstones: BTreeMap<NodeId, Tombstone>,
    /// When each peer's push-pull was last answered (kept for members only).
    push_pull_replies: BTreeMap<NodeId, Millis>,
    /// Signed members: per peer, since when and how many members its `Want`s were answered
    /// with (at most [`MAX_SIGNED_MEMBERS`] per half push-pull period).
    want_answers: BTreeMap<NodeId, (Millis, usize)>,
    /// Signed members (live mode): this member's key. Then every update must carry a valid
    /// proof, and this member signs its own.
    identity: Option<Identity>,
    /// This member's signed statement for its current incarnation (alive, or left).
    own_proof: Option<Proof>,
    /// The members a listing may be created for, when not all (live mode: those the
    /// signaling server has in the room, so keys made up by the thousand, with no
    /// connection behind them, are not listed).
    roster: Roster,
    /// News refused as `not-in-room`, kept (the latest per member, at most
    /// [`MAX_PENDING`]) until the member enters the room: gossip about a new member often
    /// arrives before the server's word that it joined.
    pending: BTreeMap<NodeId, (Millis, Update)>,
    /// Signed members: no refutation before this (one per period).
    next_refutation: Millis,
    /// An accusation heard too soon after a refutation: refuted at the next period.
    refutation_owed: Option<Incarnation>,
    /// News refused, by reason.
    refusals: Refusals,
    effects: Effects<SwimMessage, SwimEvent>,
}

/// Most news kept for members not yet in the room.
pub const MAX_PENDING: usize = 256;
/// How long news of a member not yet in the room is kept, ms.
pub const PENDING_MS: u64 = 10_000;

impl Swim {
    /// A member with no peers yet, whose first period starts at `first_period` (drivers
    /// spread these over a period, so members started together do not probe in lockstep).
    /// `config` MUST be valid.
    pub fn new(
        id: NodeId,
        incarnation: Incarnation,
        config: SwimConfig,
        rng: GossipRng,
        first_period: Millis,
    ) -> Self {
        debug_assert!(config.validate().is_ok());
        Swim {
            id,
            incarnation,
            config,
            rng,
            members: BTreeMap::new(),
            suspects: BTreeSet::new(),
            probe_order: Vec::new(),
            probe_next: 0,
            probe: None,
            next_period: first_period,
            seq: 0,
            relays: Vec::new(),
            broadcasts: Vec::new(),
            health: 0,
            left: false,
            group: 0,
            reachable: None,
            next_push_pull: first_period.after(config.push_pull_ms.map_or(0, u64::from)),
            tombstones: BTreeMap::new(),
            push_pull_replies: BTreeMap::new(),
            want_answers: BTreeMap::new(),
            identity: None,
            own_proof: None,
            roster: Roster::default(),
            pending: BTreeMap::new(),
            next_refutation: Millis(0),
            refutation_owed: None,
            refusals: Refusals::default(),
            effects: Effects::default(),
        }
    }

    /// Signed members (live mode): this member signs what it says of itself with
    /// `identity` (whose id MUST be this member's), and accepts only news that carries its
    /// subject's valid proof ([`Update::proof`]); news of more than
    /// [`MAX_SIGNED_MEMBERS`] members is refused.
    pub fn signed(mut self, identity: Identity) -> Self {
        debug_assert_eq!(identity.id(), self.id);
        self.identity = Some(identity);
        self.sign_self();
        self
    }

    /// News refused so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
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

    /// Signs this member's statement for its incarnation now.
    fn sign_self(&mut self) {
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
    fn authentic(&mut self, update: &Update) -> bool {
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
    fn held_proof(&self, update: &Update) -> Option<Proof> {
        let left = update.state == MemberState::Left;
        if update.member == self.id {
            return self
                .own_proof
                .filter(|_| update.incarnation == self.incarnation && left == self.left);
        }
        let m = self.members.get(&update.member)?;
        let same =
            m.view.incarnation == update.incarnation && (m.view.state == MemberState::Left) == left;
        m.proof.filter(|_| same)
    }

    /// Takes in updates from `from` (`gone`: its tombstones, which correct a listing but
    /// never create one). With signed members, an update without a proof (a digest, or news
    /// repeated past its first transmissions) is applied if a proof held here vouches for
    /// it, and otherwise, if it is news, asked for: one [`SwimMessage::Want`] to `from`.
    fn take(&mut self, now: Millis, from: NodeId, updates: Vec<Update>, gone: bool) {
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

    /// This member's incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// Lifeguard's local health multiplier (0: healthy).
    pub fn health(&self) -> u8 {
        self.health
    }

    /// Whether this member has left.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// This member's view of `member`, if it knows it.
    pub fn member(&self, member: NodeId) -> Option<MemberView> {
        self.members.get(&member).map(|m| m.view)
    }

    /// Every member this one knows, in id order, with its view of each.
    pub fn iter_members(&self) -> impl Iterator<Item = (NodeId, MemberView)> + '_ {
        self.members.iter().map(|(&id, m)| (id, m.view))
    }

    /// Members alive or suspect, this one included: the `n` of the logarithms.
    fn group_size(&self) -> u32 {
        1 + self.group
    }

    fn scale(&self, ms: u32) -> u64 {
        u64::from(ms) * (u64::from(self.health) + 1)
    }

    /// How many times an update is piggybacked: `λ·⌈log2(n+1)⌉`.
    fn retransmit_limit(&self) -> u32 {
        let n = self.group_size() + 1;
        let log2 = 32 - (n - 1).leading_zeros(); // ⌈log2 n⌉ for n ≥ 2
        u32::from(self.config.retransmit_mult) * log2.max(1)
    }

    /// The suspicion timeout in ms after `confirmations` independent confirmations:
    /// `α·max(1, log10 n)·T`, and with Lifeguard from β times that down to it, logarithmically.
    fn suspicion_timeout(&self, confirmations: usize) -> u64 {
        let n = f64::from(self.group_size());
        let min = f64::from(self.config.suspicion_mult)
            * libm::log10(n).max(1.0)
            * f64::from(self.config.period_ms);
        let Some(lifeguard) = self.config.lifeguard else {
            return min as u64;
        };
        let max = f64::from(lifeguard.suspicion_max_mult) * min;
        // Expected confirmations: the indirect probers, at most the others in the group.
        let expected = f64::from(self.config.indirect_probes).min(n - 2.0);
        if expected < 1.0 {
            return min as u64;
        }
        let shrink = libm::log(confirmations as f64 + 1.0) / libm::log(expected + 1.0);
        (max - (max - min) * shrink).max(min) as u64
    }

    fn emit(&mut self, member: NodeId, view: MemberView) {
        self.effects.emit(SwimEvent::Member {
            member,
            state: view.state,
            incarnation: view.incarnation,
        });
    }

    fn broadcast(&mut self, update: Update) {
        // One piece of news per member: the newer replaces the older.
        self.broadcasts.retain(|b| b.update.member != update.member);
        self.broadcasts.push(Broadcast {
            update,
            transmits: 0,
        });
    }

    /// Updates to piggyback on a message to `to`: the least sent first, and (Lifeguard's
    /// buddy system) a suspicion of `to` itself before anything, so it can refute at once.
    fn piggyback(&mut self, to: NodeId) -> Vec<Update> {
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

    fn send(&mut self, to: NodeId, message: SwimMessage) {
        self.effects.transmit(Transmit { to, message });
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn change_health(&mut self, delta: i32) {
        if let Some(l) = self.config.lifeguard {
            self.health = (i32::from(self.health) + delta).clamp(0, i32::from(l.max_health)) as u8;
        }
    }

    /// Applies one piece of news (SWIM's override rules, section 4.2 of the paper).
    ///
    /// The cheap checks come first (is it news? is the member in the room, under the cap,
    /// not buried?), the signature last: a peer replaying stale or irrelevant signed news
    /// costs no verification.
    fn apply(&mut self, now: Millis, update: Update) {
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
                self.refusals.add("not-in-room");
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
        let suspicion = (update.state == MemberState::Suspect).then(|| Suspicion {
            start: now,
            accusers: alloc::vec![update.from],
            deadline: now.after(self.suspicion_timeout(0)),
        });
        let is_new = current.is_none();
        if suspicion.is_some() {
            self.suspects.insert(update.member);
        } else {
            self.suspects.remove(&update.member);
        }
        self.members.insert(
            update.member,
            Member {
                view,
                since: now,
                suspicion,
                proof,
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
    fn refute(&mut self, now: Millis, accused: Incarnation) {
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
    /// most [`MAX_PENDING`], each for [`PENDING_MS`]).
    fn keep_pending(&mut self, now: Millis, update: Update) {
        self.pending.retain(|_, (at, _)| at.after(PENDING_MS) > now);
        let newer = self
            .pending
            .get(&update.member)
            .is_none_or(|(_, held)| held.incarnation <= update.incarnation);
        let room = self.pending.len() < MAX_PENDING || self.pending.contains_key(&update.member);
        if newer && room {
            self.pending.insert(update.member, (now, update));
        }
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

    /// Lifeguard: another member independently suspects a suspect; the timeout shrinks.
    fn confirm_suspicion(&mut self, now: Millis, update: Update) {
        if self.config.lifeguard.is_none() {
            return;
        }
        let Some(suspicion) = self
            .members
            .get(&update.member)
            .and_then(|m| m.suspicion.as_ref())
        else {
            return;
        };
        if suspicion.accusers.contains(&update.from) {
            return;
        }
        let confirmations = suspicion.accusers.len(); // after this one: accusers - 1 + 1
        let timeout = self.suspicion_timeout(confirmations);
        let member = self.members.get_mut(&update.member).expect("known");
        let suspicion = member.suspicion.as_mut().expect("suspect");
        suspicion.accusers.push(update.from);
        suspicion.deadline = suspicion.start.after(timeout).max(now);
        self.broadcast(update);
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
                proof: m.proof,
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
            .map(|(&member, m)| entry(member, m.view, m.proof))
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

    /// Dead and left members listed longer than `forget_after_ms` are forgotten (a
    /// tombstone stays), and tombstones past their time go.
    fn forget(&mut self, now: Millis) {
        let Some(after) = self.config.forget_after_ms.map(u64::from) else {
            return;
        };
        let gone: Vec<(NodeId, MemberView, Option<Proof>)> = self
            .members
            .iter()
            .filter(|(_, m)| !m.view.state.is_member() && m.since.after(after) <= now)
            .map(|(&id, m)| (id, m.view, m.proof))
            .collect();
        for (id, view, proof) in gone {
            self.members.remove(&id);
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
    fn next_forget(&self) -> Option<Millis> {
        let after = u64::from(self.config.forget_after_ms?);
        let listed = self
            .members
            .values()
            .filter(|m| !m.view.state.is_member())
            .map(|m| m.since.after(after));
        let buried = self.tombstones.values().map(|t| t.until);
        listed.chain(buried).min()
    }

    fn alive_update(&self) -> Update {
        Update {
            member: self.id,
            incarnation: self.incarnation,
            state: MemberState::Alive,
            from: self.id,
            proof: self.own_proof,
        }
    }

    /// This member's leave, as news (after [`SwimCommand::Leave`]: signed, with signed
    /// members): what a leaving member tells every linked peer itself.
    pub fn leave_update(&self) -> Update {
        Update {
            member: self.id,
            incarnation: self.incarnation,
            state: MemberState::Left,
            from: self.id,
            proof: self.own_proof.filter(|_| self.left),
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

    /// Marks `member` suspect on this member's own authority (a failed probe).
    fn suspect(&mut self, now: Millis, member: NodeId) {
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
            proof: m.proof,
        };
        self.apply(now, update);
    }

    /// Says whether this member can send to `peer` (live mode: a data channel is open). From
    /// the first call on, only members said reachable are probed and asked to probe.
    pub fn set_reachable(&mut self, peer: NodeId, reachable: bool) {
        let set = self.reachable.get_or_insert_with(BTreeSet::new);
        if reachable {
            set.insert(peer);
        } else {
            set.remove(&peer);
        }
    }

    fn can_reach(&self, peer: NodeId) -> bool {
        self.reachable.as_ref().is_none_or(|r| r.contains(&peer))
    }

    /// `count` distinct random reachable members in state Alive, other than `except`.
    fn random_alive(&mut self, count: usize, except: NodeId) -> Vec<NodeId> {
        let pool: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(&id, m)| {
                id != except && m.view.state == MemberState::Alive && self.can_reach(id)
            })
            .map(|(&id, _)| id)
            .collect();
        self.rng.sample_distinct(pool, count)
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

    /// The next member to probe: round-robin over a shuffled list (section 4.3), or random.
    fn next_target(&mut self) -> Option<NodeId> {
        if self.config.probe_order == ProbeOrder::Random {
            let members: Vec<NodeId> = self
                .members
                .iter()
                .filter(|(&id, m)| m.view.state.is_member() && self.can_reach(id))
                .map(|(&id, _)| id)
                .collect();
            return (!members.is_empty())
                .then(|| members[self.rng.below(members.len() as u32) as usize]);
        }
        for _ in 0..2 {
            while self.probe_next < self.probe_order.len() {
                let id = self.probe_order[self.probe_next];
                self.probe_next += 1;
                if self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.view.state.is_member())
                    && self.can_reach(id)
                {
                    return Some(id);
                }
            }
            // End of the list: drop those gone, reshuffle, start over.
            let members = &self.members;
            self.probe_order
                .retain(|id| members.get(id).is_some_and(|m| m.view.state.is_member()));
            for i in (1..self.probe_order.len()).rev() {
                let j = self.rng.below(i as u32 + 1) as usize;
                self.probe_order.swap(i, j);
            }
            self.probe_next = 0;
        }
        None
    }

    /// The end of a period: judge its probe, then start the next.
    fn new_period(&mut self, now: Millis) {
        if let Some(probe) = self.probe.take() {
            if probe.acked {
                self.change_health(-1);
            } else {
                // Lifeguard: missing nacks mean this member is not hearing others either.
                let missed = probe.nacks_expected.saturating_sub(probe.nacks);
                self.change_health(if probe.nacks_expected > 0 {
                    i32::from(missed)
                } else {
                    1
                });
                if self
                    .member(probe.target)
                    .is_some_and(|v| v.incarnation == probe.incarnation)
                {
                    self.suspect(now, probe.target);
                }
            }
        }
        self.next_period = now.after(self.scale(self.config.period_ms));
        let Some(target) = self.next_target() else {
            return;
        };
        let seq = self.next_seq();
        let updates = self.piggyback(target);
        self.send(target, SwimMessage::Ping { seq, updates });
        let incarnation = self
            .member(target)
            .map_or(Incarnation(0), |v| v.incarnation);
        self.probe = Some(Probe {
            target,
            incarnation,
            seq,
            indirect_at: now.after(self.scale(self.config.ack_timeout_ms)),
            indirect_sent: false,
            acked: false,
            nacks_expected: 0,
            nacks: 0,
        });
    }

    fn go_indirect(&mut self) {
        let Some(probe) = self.probe.as_ref() else {
            return;
        };
        let (target, seq) = (probe.target, probe.seq);
        let helpers = self.random_alive(usize::from(self.config.indirect_probes), target);
        for &helper in &helpers {
            let updates = self.piggyback(helper);
            self.send(
                helper,
                SwimMessage::PingReq {
                    seq,
                    target,
                    updates,
                },
            );
        }
        let probe = self.probe.as_mut().expect("probing");
        probe.indirect_sent = true;
        if self.config.lifeguard.is_some() {
            probe.nacks_expected = helpers.len() as u8;
        }
    }
}

impl Node for Swim {
    type Message = SwimMessage;
    type Command = SwimCommand;
    type Event = SwimEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_message(&mut self, now: Millis, from: NodeId, message: SwimMessage) {
        if self.left {
            return;
        }
        match message {
            SwimMessage::Ping { seq, updates } => {
                self.take(now, from, updates, false);
                let updates = self.piggyback(from);
                self.send(from, SwimMessage::Ack { seq, updates });
            }
            SwimMessage::Ack { seq, updates } => {
                self.take(now, from, updates, false);
                if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    probe.acked = true;
                } else if let Some(at) = self.relays.iter().position(|r| r.seq == seq) {
                    let relay = self.relays.swap_remove(at);
                    let updates = self.piggyback(relay.origin);
                    self.send(
                        relay.origin,
                        SwimMessage::Ack {
                            seq: relay.origin_seq,
                            updates,
                        },
                    );
                }
            }
            SwimMessage::PingReq {
                seq: origin_seq,
                target,
                updates,
            } => {
                self.take(now, from, updates, false);
                let seq = self.next_seq();
                let updates = self.piggyback(target);
                self.send(target, SwimMessage::Ping { seq, updates });
                // Lifeguard nacks at 80 % of the ack timeout, so the nack beats the requester's
                // own deadline (memberlist's choice); plain SWIM forwards acks for a period.
                let wait = if self.config.lifeguard.is_some() {
                    u64::from(self.config.ack_timeout_ms) * 4 / 5
                } else {
                    u64::from(self.config.period_ms)
                };
                self.relays.push(Relay {
                    seq,
                    origin: from,
                    origin_seq,
                    deadline: now.after(wait.max(1)),
                });
            }
            SwimMessage::Nack { seq } => {
                if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    probe.nacks += 1;
                }
            }
            SwimMessage::Join { incarnation, proof } => {
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
            SwimMessage::Sync { members } => self.take(now, from, members, false),
            SwimMessage::PushPull {
                members,
                gone,
                reply,
            } => {
                // Signed members: entries without a proof are a digest; those that would
                // change this member's view are asked for, with their proofs.
                self.take(now, from, members, false);
                self.take(now, from, gone, true);
                if reply && self.push_pull_due(now, from) {
                    self.push_state(from, false, None);
                }
            }
            SwimMessage::Want { members } => {
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
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        if self.left {
            return;
        }
        if let Some(accused) = self.refutation_owed.filter(|_| now >= self.next_refutation) {
            self.refute(now, accused);
        }
        // Suspicions that ran out: declared dead.
        let expired: Vec<Update> = self
            .suspects
            .iter()
            .map(|id| (*id, &self.members[id]))
            .filter(|(_, m)| m.suspicion.as_ref().is_some_and(|s| s.deadline <= now))
            .map(|(member, m)| Update {
                member,
                incarnation: m.view.incarnation,
                state: MemberState::Dead,
                from: self.id,
                proof: m.proof,
            })
            .collect();
        for update in expired {
            self.apply(now, update);
        }
        // Relays that heard nothing: a nack (Lifeguard), or forget them.
        let lifeguard = self.config.lifeguard.is_some();
        let (due, keep): (Vec<Relay>, Vec<Relay>) =
            self.relays.drain(..).partition(|r| r.deadline <= now);
        self.relays = keep;
        if lifeguard {
            for relay in due {
                self.send(
                    relay.origin,
                    SwimMessage::Nack {
                        seq: relay.origin_seq,
                    },
                );
            }
        }
        if self
            .probe
            .as_ref()
            .is_some_and(|p| !p.acked && !p.indirect_sent && p.indirect_at <= now)
        {
            self.go_indirect();
        }
        if self.next_period <= now {
            self.new_period(now);
        }
        if let Some(every) = self.config.push_pull_ms {
            if self.next_push_pull <= now {
                self.next_push_pull = now.after(u64::from(every));
                if let Some(with) = self.push_pull_target() {
                    self.push_state(with, true, None);
                }
            }
        }
        self.forget(now);
    }

    fn handle_peer(&mut self, now: Millis, peer: NodeId, up: bool) {
        // A peer known from outside (the simulator's initial group, a browser link): alive at
        // the first incarnation we hear of. A lost link is not failure: probes decide that.
        // Signed members are listed from their own signed join, never from outside.
        if up && peer != self.id && !self.members.contains_key(&peer) && self.identity.is_none() {
            self.apply(
                now,
                Update {
                    member: peer,
                    incarnation: Incarnation(0),
                    state: MemberState::Alive,
                    from: self.id,
                    proof: None,
                },
            );
            // Known from outside, not news: do not gossip it.
            self.broadcasts.retain(|b| b.update.member != peer);
        }
    }

    fn handle_command(&mut self, _now: Millis, command: SwimCommand) {
        if self.left {
            return;
        }
        match command {
            SwimCommand::Join(seed) => {
                self.send(
                    seed,
                    SwimMessage::Join {
                        incarnation: self.incarnation,
                        proof: self.own_proof,
                    },
                );
                self.broadcast(self.alive_update());
            }
            SwimCommand::Leave => {
                self.left = true;
                self.sign_self();
                let news = self.leave_update();
                let told = self.random_alive(usize::from(self.config.indirect_probes) + 1, self.id);
                for to in told {
                    let seq = self.next_seq();
                    self.send(
                        to,
                        SwimMessage::Ping {
                            seq,
                            updates: alloc::vec![news],
                        },
                    );
                }
                self.probe = None;
                self.relays.clear();
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<SwimMessage>> {
        self.effects.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<SwimEvent> {
        self.effects.poll_event()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        if self.left {
            return None;
        }
        let mut next = self.next_period;
        if let Some(p) = self.probe.as_ref().filter(|p| !p.acked && !p.indirect_sent) {
            next = next.min(p.indirect_at);
        }
        for r in &self.relays {
            next = next.min(r.deadline);
        }
        for id in &self.suspects {
            if let Some(s) = self.members[id].suspicion.as_ref() {
                next = next.min(s.deadline);
            }
        }
        if self.config.push_pull_ms.is_some() {
            next = next.min(self.next_push_pull);
        }
        if let Some(forget) = self.next_forget() {
            next = next.min(forget);
        }
        if self.refutation_owed.is_some() {
            next = next.min(self.next_refutation);
        }
        Some(next)
    }
}

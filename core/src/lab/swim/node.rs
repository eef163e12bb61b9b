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
//!
//! This file is the state machine's face: the [`Swim`] member's constructor, its inputs
//! ([`Node`]'s `handle_*`, [`SwimCommand`]) and outputs (`poll_*`, [`SwimEvent`]), and its one
//! next deadline (`poll_timeout`). The struct itself and its fields are in `state.rs`; each
//! concept it composes has a file of its own beside it, each adding an `impl Swim` block:
//! `member` (the membership table and its override rules), `probe` (the probe cycle and
//! Lifeguard), `broadcast` (the piggybacked news queue), `sync` (full-state exchange),
//! `signing` (signed members); `message` (the wire vocabulary), `config` and `view` (member
//! states, incarnations, events) are the words they share.

use crate::lab::{Effects, Millis, Node, NodeId, Refusals, Roster, Transmit};
use crate::rng::GossipRng;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

// The public types live with the concept they belong to; re-exported here so that every
// `swim::node::…` (and, through `swim`'s glob, `swim::…`) path stays as it was. This is the
// one file that imports every other one; none of them imports it.
pub use super::broadcast::PROOF_TRANSMITS;
pub use super::config::{Lifeguard, ProbeOrder, SwimConfig, PUSH_PULL_PERIODS};
pub use super::member::{
    MAX_PENDING, MAX_SIGNED_MEMBERS, MAX_TOMBSTONES, PENDING_MS, TOMBSTONE_FACTOR,
};
pub use super::message::{membership_hash, SwimMessage, Update, MAX_SYNC_MEMBERS, MAX_UPDATES};
pub use super::state::Swim;
pub use super::sync::SIGNED_SYNC_MEMBERS;
pub use super::view::{Incarnation, MemberState, MemberView, SwimEvent};

/// What a user or a scenario can ask of a member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SwimCommand {
    /// Join the group through `seed`, a member already in it.
    Join(NodeId),
    /// Leave gracefully: tell a few members, then fall silent.
    Leave,
}

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
            unwell: BTreeSet::new(),
            held: [0; 4],
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

    /// News refused so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
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

    /// This member's alive, at its incarnation, with its proof (if signed).
    pub(super) fn alive_update(&self) -> Update {
        Update {
            member: self.id,
            incarnation: self.incarnation,
            state: MemberState::Alive,
            from: self.id,
            proof: self.own_proof,
        }
    }

    /// Tells the view that its view of `member` changed.
    pub(super) fn emit(&mut self, member: NodeId, view: MemberView) {
        self.effects.emit(SwimEvent::Member {
            member,
            state: view.state,
            incarnation: view.incarnation,
        });
    }

    /// Queues `message` for `to` (drained with `poll_transmit`).
    pub(super) fn send(&mut self, to: NodeId, message: SwimMessage) {
        self.effects.transmit(Transmit { to, message });
    }

    /// The next probe sequence number (wrapping).
    pub(super) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
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
            SwimMessage::Ping { seq, updates } => self.handle_ping(now, from, seq, updates),
            SwimMessage::Ack { seq, updates } => self.handle_ack(now, from, seq, updates),
            SwimMessage::PingReq {
                seq,
                target,
                updates,
            } => self.handle_ping_req(now, from, seq, target, updates),
            SwimMessage::Nack { seq } => self.handle_nack(seq),
            SwimMessage::Join { incarnation, proof } => {
                self.handle_join(now, from, incarnation, proof)
            }
            SwimMessage::Sync { members } => self.take(now, from, members, false),
            SwimMessage::PushPull {
                members,
                gone,
                reply,
            } => self.handle_push_pull(now, from, members, gone, reply),
            SwimMessage::Want { members } => self.handle_want(now, from, members),
            SwimMessage::Summary { hash } => self.handle_summary(now, from, hash),
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        if self.left {
            return;
        }
        if let Some(accused) = self.refutation_owed.filter(|_| now >= self.next_refutation) {
            self.refute(now, accused);
        }
        self.expire_suspicions(now);
        self.expire_relays(now);
        self.indirect_timeout(now);
        if self.next_period <= now {
            self.new_period(now);
        }
        self.push_pull_timeout(now);
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

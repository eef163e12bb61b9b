//! Rumor dissemination in continuous time: many rumors at once, each with an id, an origin
//! and a hop count, spread by push, pull or push-pull to `fanout` peers every interval, and
//! retired by the round engine's stop rules ([`Interest::after_contact`], the one
//! implementation of them). What live mode's browser tabs run, and what the simulated network
//! drives in tests.
//!
//! How it maps onto the round engine's rules ([`crate::rules`]): an interval is a round; a
//! node pushes every rumor it is *spreading* to `fanout` distinct random peers; the receiver
//! answers with [`RumorMessage::Feedback`] naming the rumors it already knew, which is the
//! "did you know?" of the feedback stop rules (judged on arrival: in continuous time there is
//! no round start). Blind rules count each message as it is sent. Pull differs in one way the
//! round engine cannot show: a node cannot know which rumors it lacks, so every node pulls
//! every interval, with the ids it holds ([`RumorMessage::PullRequest`]), and the peer answers
//! with the rumors it is spreading that the requester lacks.

use crate::auth::{Identity, Proof, Statement};
use crate::lab::{Effects, Millis, Node, NodeId, Peers, Refusals, RoundTimer, Transmit};
use crate::rng::GossipRng;
use crate::rules::{ContactOutcome, Interest, Protocol, StopRule, MAX_FANOUT};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// A rumor's identity: who started it, and its number among theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RumorId {
    /// The node that started it.
    pub origin: NodeId,
    /// Its number at the origin, from 0.
    pub seq: u32,
}

/// A rumor on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rumor {
    /// Which rumor.
    pub id: RumorId,
    /// Messages it travelled from its origin to the sender of this copy (0 at the origin).
    pub hops: u16,
    /// The origin's clock when it started, ms: a receiver on the same clock (tabs of one
    /// machine, or the simulator) gets the rumor's latency as its own time minus this.
    pub born_ms: u64,
    /// What it says, at most [`MAX_PAYLOAD_BYTES`] of UTF-8.
    pub text: String,
    /// Signed members (live mode): the origin's signature on its id, birth and text
    /// ([`Statement::Rumor`]), so no one can start a rumor in another's name. `None` in
    /// the simulator.
    pub proof: Option<Proof>,
}

impl Rumor {
    /// What `proof` must sign.
    fn statement(&self) -> Statement<'_> {
        Statement::Rumor {
            origin: self.id.origin,
            seq: self.id.seq,
            born_ms: self.born_ms,
            text: &self.text,
        }
    }
}

/// The longest rumor text, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 200;
/// Most rumors in one push or pull reply: the spreading ones, newest first, beyond that wait.
pub const MAX_RUMORS_PER_MESSAGE: usize = 32;
/// Most ids in a pull request or a feedback (the newest known).
pub const MAX_IDS_PER_MESSAGE: usize = 512;
/// Most rumors a node keeps; beyond that the one that arrived first is forgotten (and its
/// origin's earlier numbers refused from then on, so it does not come back). A class that
/// starts a rumor every few seconds for an hour stays under it.
pub const MAX_RUMORS_KEPT: usize = 1_024;
/// Most origins whose forgotten numbers are remembered.
const MAX_FLOORS: usize = 4_096;

/// The rumor protocol's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RumorMessage {
    /// Rumors sent unasked.
    Push {
        /// The rumors.
        rumors: Vec<Rumor>,
    },
    /// "Which rumors are you spreading that I lack?", with the ids the sender holds.
    PullRequest {
        /// Ids the sender holds (the newest, if it holds more than fit).
        have: Vec<RumorId>,
    },
    /// The answer to a pull request.
    PullReply {
        /// Rumors the requester lacked.
        rumors: Vec<Rumor>,
    },
    /// The answer to a push or a pull reply: which of its rumors were news to the receiver
    /// and which it already knew. The sender's feedback stop rules count these.
    Feedback {
        /// Rumors that were news.
        useful: Vec<RumorId>,
        /// Rumors that were old news.
        knew: Vec<RumorId>,
    },
}

impl RumorMessage {
    /// Why it was sent: a push and a pull request on the sender's timer, a pull's reply and
    /// the receiver's feedback in answer (see [`Role`](crate::lab::role::Role)).
    pub fn role(&self) -> crate::lab::role::Role {
        match self {
            RumorMessage::Push { .. } | RumorMessage::PullRequest { .. } => {
                crate::lab::role::Role::Initiative
            }
            RumorMessage::PullReply { .. } | RumorMessage::Feedback { .. } => {
                crate::lab::role::Role::Reply
            }
        }
    }

    /// Its kind, for the page's message log.
    pub fn kind(&self) -> &'static str {
        match self {
            RumorMessage::Push { .. } => "push",
            RumorMessage::PullRequest { .. } => "pull",
            RumorMessage::PullReply { .. } => "pull-reply",
            RumorMessage::Feedback { .. } => "feedback",
        }
    }

    /// Checks the bounds a decoded message must respect.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            RumorMessage::Push { rumors } | RumorMessage::PullReply { rumors } => {
                if rumors.len() > MAX_RUMORS_PER_MESSAGE {
                    return Err("too many rumors in one message");
                }
                if rumors.iter().any(|r| r.text.len() > MAX_PAYLOAD_BYTES) {
                    return Err("rumor text too long");
                }
                Ok(())
            }
            RumorMessage::PullRequest { have } => {
                if have.len() > MAX_IDS_PER_MESSAGE {
                    return Err("too many rumor ids in one message");
                }
                Ok(())
            }
            RumorMessage::Feedback { useful, knew } => {
                if useful.len() + knew.len() > MAX_RUMORS_PER_MESSAGE {
                    return Err("feedback on more rumors than a message holds");
                }
                Ok(())
            }
        }
    }
}

/// The rumor protocol's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RumorConfig {
    /// Time between a node's gossip rounds, ms, `10..=60_000`.
    pub interval_ms: u32,
    /// Push, pull or push-pull.
    pub protocol: Protocol,
    /// Peers contacted per interval, `1..=MAX_FANOUT`.
    pub fanout: u8,
    /// When a node stops spreading a rumor (the round engine's stop rules).
    pub interest: Interest,
}

impl Default for RumorConfig {
    /// Push to one peer a second, forever (anti-entropy).
    fn default() -> Self {
        RumorConfig {
            interval_ms: 1_000,
            protocol: Protocol::Push,
            fanout: 1,
            interest: Interest::FOREVER,
        }
    }
}

impl RumorConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(10..=60_000).contains(&self.interval_ms) {
            return Err("rumor interval must be 10..=60000 ms");
        }
        if !(1..=MAX_FANOUT).contains(&self.fanout) {
            return Err("fanout must be 1..=16");
        }
        if self.interest.k == 0 {
            return Err("the stop rule's k must be at least 1");
        }
        Ok(())
    }
}

/// What a user asks of a rumor node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RumorCommand {
    /// Start a new rumor here.
    Start(String),
    /// The protocol's parameters change from the next interval (live controls).
    Configure(RumorConfig),
}

/// What a rumor node reports to the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RumorEvent {
    /// A rumor arrived here for the first time (or was started here: `from` is this node).
    Learned {
        /// The rumor (its hop count is what it travelled to get here).
        rumor: Rumor,
        /// Who told us.
        from: NodeId,
    },
    /// This node stopped spreading a rumor (its stop rule).
    Stopped(RumorId),
    /// A command was refused (the reason); nothing changed.
    Refused(&'static str),
}

#[derive(Clone, Debug)]
struct Known {
    rumor: Rumor,
    spreading: bool,
    /// The stop rule's per-rumor counter.
    counter: u8,
    /// When it arrived: newer rumors go first when a message cannot hold them all.
    arrival: u64,
}

/// A node of the rumor protocol.
#[derive(Clone, Debug)]
pub struct RumorNode {
    id: NodeId,
    config: RumorConfig,
    rng: GossipRng,
    known: BTreeMap<RumorId, Known>,
    arrivals: u64,
    next_seq: u32,
    peers: Peers,
    round: RoundTimer,
    /// Signed members (live mode): this node signs the rumors it starts, and takes only
    /// rumors signed by their origin.
    identity: Option<Identity>,
    /// Per origin, the numbers below which its rumors were forgotten here, and when (in
    /// `floors_made`'s count) that origin's floor was first made.
    floors: BTreeMap<NodeId, (u32, u64)>,
    /// The floors by when they were made, to find the newest.
    floors_by_age: BTreeMap<u64, NodeId>,
    /// Floors made so far.
    floors_made: u64,
    /// Rumors refused, by reason.
    refusals: Refusals,
    effects: Effects<RumorMessage, RumorEvent>,
}

impl RumorNode {
    /// A node that knows no rumor; its first round comes after a random part of an interval.
    /// `config` MUST be valid.
    pub fn new(id: NodeId, config: RumorConfig, mut rng: GossipRng, now: Millis) -> Self {
        let round = RoundTimer::random_phase(config.interval_ms, &mut rng, now);
        RumorNode {
            id,
            config,
            rng,
            known: BTreeMap::new(),
            arrivals: 0,
            next_seq: 0,
            peers: Peers::default(),
            round,
            identity: None,
            floors: BTreeMap::new(),
            floors_by_age: BTreeMap::new(),
            floors_made: 0,
            refusals: Refusals::default(),
            effects: Effects::default(),
        }
    }

    /// Signed members (live mode): rumors started here are signed with `identity` (whose id
    /// MUST be this node's), and rumors are taken only with their origin's valid signature.
    pub fn signed(mut self, identity: Identity) -> Self {
        debug_assert_eq!(identity.id(), self.id);
        self.identity = Some(identity);
        self
    }

    /// Rumors refused so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Every rumor known here, in id order, and whether this node still spreads it.
    pub fn iter_rumors(&self) -> impl Iterator<Item = (&Rumor, bool)> + '_ {
        self.known.values().map(|k| (&k.rumor, k.spreading))
    }

    /// Whether this node knows `id`.
    pub fn knows(&self, id: RumorId) -> bool {
        self.known.contains_key(&id)
    }

    /// Whether `a` reached this node before `b`; `None` unless it knows both. (Gossip
    /// promises no order: two rumors started together reach nodes in different orders.)
    pub fn heard_before(&self, a: RumorId, b: RumorId) -> Option<bool> {
        Some(self.known.get(&a)?.arrival < self.known.get(&b)?.arrival)
    }

    /// The parameters in force.
    pub fn config(&self) -> RumorConfig {
        self.config
    }

    /// The number the next rumor started here gets.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Moves this node's first round to `at` (aligned phases: every node's rounds at the same
    /// times, as synchronous rounds have).
    pub fn with_first_round(mut self, at: Millis) -> Self {
        self.round = RoundTimer::first_at(at);
        self
    }

    /// Continues the numbering of a previous life (a restart keeps its id, and its rumors
    /// must not reuse the old ones' ids).
    pub fn with_next_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    /// The rumors this node spreads, newest first, as many as a message holds; each copy one
    /// hop further than here.
    fn spreading(&self) -> Vec<Rumor> {
        let mut hot: Vec<&Known> = self.known.values().filter(|k| k.spreading).collect();
        hot.sort_by_key(|k| core::cmp::Reverse(k.arrival));
        hot.iter()
            .take(MAX_RUMORS_PER_MESSAGE)
            .map(|k| Rumor {
                hops: k.rumor.hops.saturating_add(1),
                ..k.rumor.clone()
            })
            .collect()
    }

    /// Applies the stop rule to `id` after one contact.
    fn contact(&mut self, id: RumorId, outcome: ContactOutcome) {
        let interest = self.config.interest;
        let Some(k) = self.known.get_mut(&id).filter(|k| k.spreading) else {
            return;
        };
        if interest.after_contact(outcome, &mut k.counter, &mut self.rng) {
            k.spreading = false;
            self.effects.emit(RumorEvent::Stopped(id));
        }
    }

    /// Takes in rumors from `from`; returns the ids that were news and those that were not.
    fn receive(&mut self, from: NodeId, rumors: Vec<Rumor>) -> (Vec<RumorId>, Vec<RumorId>) {
        let (mut useful, mut knew) = (Vec::new(), Vec::new());
        for rumor in rumors {
            let forgotten = self
                .floors
                .get(&rumor.id.origin)
                .is_some_and(|&(floor, _)| rumor.id.seq < floor);
            if self.known.contains_key(&rumor.id) || forgotten {
                knew.push(rumor.id);
            } else if let Err(why) = self.check(&rumor) {
                self.refusals.add(why);
            } else {
                useful.push(rumor.id);
                self.learn(rumor, from);
            }
        }
        (useful, knew)
    }

    /// Signed members: whether a new rumor carries its origin's signature.
    fn check(&self, rumor: &Rumor) -> Result<(), &'static str> {
        if self.identity.is_none() {
            return Ok(());
        }
        let proof = rumor.proof.ok_or("unsigned")?;
        proof
            .verify(rumor.id.origin, &rumor.statement())
            .map_err(|e| e.name())
    }

    /// Forgets every rumor (the conductor's reset), remembering each origin's numbers so
    /// that copies still travelling are not taken for news.
    pub fn reset(&mut self) {
        let ids: Vec<RumorId> = self.known.keys().copied().collect();
        for id in ids {
            self.forget_up_to(id);
        }
    }

    /// Forgets `id` and its origin's earlier rumors, and remembers the origin's floor (at
    /// most [`MAX_FLOORS`] origins: beyond, the newest other origin's floor is dropped). The
    /// newest, not by id: origins are ids anyone can make, so an attacker with many made-up
    /// origins of high or low ids must not push out the floors of the members that were
    /// there before; a flood of new origins only churns its own.
    fn forget_up_to(&mut self, id: RumorId) {
        let made = &mut self.floors_made;
        let by_age = &mut self.floors_by_age;
        let (floor, _) = self.floors.entry(id.origin).or_insert_with(|| {
            *made += 1;
            by_age.insert(*made, id.origin);
            (0, *made)
        });
        *floor = (*floor).max(id.seq.saturating_add(1));
        let floor = *floor;
        self.known
            .retain(|k, _| k.origin != id.origin || k.seq >= floor);
        if self.floors.len() > MAX_FLOORS {
            let newest = self
                .floors_by_age
                .iter()
                .rev()
                .find(|&(_, &o)| o != id.origin)
                .map(|(&age, &o)| (age, o));
            if let Some((age, origin)) = newest {
                self.floors_by_age.remove(&age);
                self.floors.remove(&origin);
            }
        }
    }

    /// Keeps at most [`MAX_RUMORS_KEPT`]: forgets the first arrived, and remembers its
    /// origin's number so old copies still travelling are not taken for news.
    fn bound(&mut self) {
        while self.known.len() > MAX_RUMORS_KEPT {
            let Some(oldest) = self
                .known
                .values()
                .min_by_key(|k| k.arrival)
                .map(|k| k.rumor.id)
            else {
                break;
            };
            self.forget_up_to(oldest);
        }
    }

    fn learn(&mut self, rumor: Rumor, from: NodeId) {
        self.arrivals += 1;
        self.known.insert(
            rumor.id,
            Known {
                rumor: rumor.clone(),
                spreading: true,
                counter: 0,
                arrival: self.arrivals,
            },
        );
        self.effects.emit(RumorEvent::Learned { rumor, from });
        self.bound();
    }

    fn is_blind(&self) -> bool {
        matches!(
            self.config.interest.rule,
            StopRule::BlindCounter | StopRule::BlindCoin
        )
    }
}

impl Node for RumorNode {
    type Message = RumorMessage;
    type Command = RumorCommand;
    type Event = RumorEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_message(&mut self, _now: Millis, from: NodeId, message: RumorMessage) {
        match message {
            RumorMessage::Push { rumors } | RumorMessage::PullReply { rumors } => {
                let (useful, knew) = self.receive(from, rumors);
                // Feedback only matters to feedback rules, but is always sent: a peer's rule
                // is its own business, and the message is small.
                self.effects.transmit(Transmit {
                    to: from,
                    message: RumorMessage::Feedback { useful, knew },
                });
            }
            RumorMessage::PullRequest { have } => {
                let mut have = have;
                have.sort_unstable();
                let missing: Vec<Rumor> = self
                    .spreading()
                    .into_iter()
                    .filter(|r| have.binary_search(&r.id).is_err())
                    .collect();
                if !missing.is_empty() {
                    if self.is_blind() {
                        for r in &missing {
                            self.contact(r.id, ContactOutcome::NoFeedback);
                        }
                    }
                    self.effects.transmit(Transmit {
                        to: from,
                        message: RumorMessage::PullReply { rumors: missing },
                    });
                }
            }
            RumorMessage::Feedback { useful, knew } => {
                if self.is_blind() {
                    return;
                }
                for id in useful {
                    self.contact(id, ContactOutcome::Useful);
                }
                for id in knew {
                    self.contact(id, ContactOutcome::Unnecessary);
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        if !self.round.due(now, self.config.interval_ms) {
            return;
        }
        let targets = self
            .peers
            .sample(usize::from(self.config.fanout), &mut self.rng);
        if self.config.protocol.pushes() {
            let rumors = self.spreading();
            if !rumors.is_empty() {
                for &to in &targets {
                    if self.is_blind() {
                        for r in &rumors {
                            self.contact(r.id, ContactOutcome::NoFeedback);
                        }
                    }
                    self.effects.transmit(Transmit {
                        to,
                        message: RumorMessage::Push {
                            rumors: rumors.clone(),
                        },
                    });
                }
            }
        }
        if self.config.protocol.pulls() {
            let mut ids: Vec<&Known> = self.known.values().collect();
            ids.sort_by_key(|k| core::cmp::Reverse(k.arrival));
            let have: Vec<RumorId> = ids
                .iter()
                .take(MAX_IDS_PER_MESSAGE)
                .map(|k| k.rumor.id)
                .collect();
            for &to in &targets {
                self.effects.transmit(Transmit {
                    to,
                    message: RumorMessage::PullRequest { have: have.clone() },
                });
            }
        }
    }

    fn handle_peer(&mut self, _now: Millis, peer: NodeId, up: bool) {
        self.peers.set(self.id, peer, up);
    }

    fn handle_command(&mut self, now: Millis, command: RumorCommand) {
        match command {
            RumorCommand::Start(text) => {
                if text.len() > MAX_PAYLOAD_BYTES {
                    self.effects
                        .emit(RumorEvent::Refused("rumor text longer than 200 bytes"));
                    return;
                }
                let id = RumorId {
                    origin: self.id,
                    seq: self.next_seq,
                };
                self.next_seq += 1;
                let me = self.id;
                let mut rumor = Rumor {
                    id,
                    hops: 0,
                    born_ms: now.0,
                    text,
                    proof: None,
                };
                rumor.proof = self.identity.as_ref().map(|i| i.sign(&rumor.statement()));
                self.learn(rumor, me);
            }
            RumorCommand::Configure(config) => match config.validate() {
                Ok(()) => self.config = config,
                Err(why) => self.effects.emit(RumorEvent::Refused(why)),
            },
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<RumorMessage>> {
        self.effects.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<RumorEvent> {
        self.effects.poll_event()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        Some(self.round.next())
    }
}

//! A browser tab's node in live mode: the lab's protocols (rumors, SWIM membership, the
//! key-value map) side by side over real links, with what real links need on top: a hello /
//! ack handshake with retry before a link counts (a first message after a data channel opens
//! can be lost), round-trip times, artificial loss on send (so the teaching knob works on real
//! links), and counters of what was sent, received, dropped and refused. Sans-IO like every
//! node here: the page moves the bytes and keeps the clock.
//!
//! A tab has links to some members only (a random mesh in a large room): SWIM probes those,
//! and learns of the others through gossip ([`Swim::set_reachable`]).
//!
//! Bytes in, bytes out: [`LiveNode::handle_bytes`] takes what a peer sent (anything: a peer
//! may be broken or hostile) and [`LiveNode::poll_transmit`] gives encoded messages to send.

use super::conduct::{Command, Order, Podium, Settings};
use super::kv::{KvCommand, KvConfig, KvEvent, KvNode};
use super::role::Role;
use super::room::{self, Carrier, Heard, HEARD_SLOTS};
use super::rumor::{RumorCommand, RumorConfig, RumorEvent, RumorId, RumorNode};
use super::swim::{
    Incarnation, Swim, SwimCommand, SwimConfig, SwimEvent, SwimMessage, MAX_UPDATES,
};
pub use super::wire::LinkMessage;
use super::wire::{self, Message, WireError};
use super::{Effects, Millis, Node, NodeId, Refusals, Transmit};
use crate::auth::Identity;
use crate::rng::{Chance, GossipRng, Stream};
use crate::rules::StopRule;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// How often an unanswered hello is repeated, ms.
pub const HELLO_RETRY_MS: u64 = 250;
/// How often a ready link's round-trip time is measured, ms.
pub const PING_EVERY_MS: u64 = 2_000;

/// Dead and left members stay listed this long, ms, then are forgotten (a tombstone keeps
/// them from being revived by old news for ten times as long).
pub const FORGET_AFTER_MS: u32 = 60_000;
/// Most messages taken from one peer per second, on average (bursts of twice that): an
/// honest member sends a few dozen (probes, acks, pushes, pulls, anti-entropy, push-pull
/// chunks); beyond this a peer's messages are dropped unread and counted (`peer-rate`).
pub const PEER_MESSAGES_PER_SEC: u32 = 200;
/// Most bytes of answers sent to one peer per gossip interval, on average (bursts of two
/// seconds' worth): what a request draws is charged to the peer that asked, so a request that
/// costs a few bytes and draws kilobytes (an empty digest draws a whole delta) cannot make
/// this member send more than this to it; answers past it are dropped and counted
/// (`answer-bytes`). An honest peer's exchanges draw at most two key-value deltas (8 KiB
/// each), a digest and a few acks per interval; a new member's first push-pull (the whole
/// membership, two 16 KiB chunks at 200 members) fits the burst.
pub const ANSWER_BYTES_PER_INTERVAL: u32 = 32 * 1024;
/// Forged signatures taken from one peer before everything it sends is refused unread.
pub const MAX_FORGERIES: u64 = 32;
/// Peers banned at most (each is one id; the server caps connections).
const MAX_BANNED: usize = 4_096;
/// How long after a link change the member's links record is written, ms: the links of a
/// member that just joined (and of the members it swaps out) settle within this, and one
/// write tells them all. Every version of the record travels to every member, so a member
/// meshing must not write one per link (the room view shows the links this much later).
pub const LINKS_RECORD_AFTER_MS: u64 = 2_000;

/// Counters shown in the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Messages handed to links.
    pub sent: u64,
    /// Messages received and accepted.
    pub received: u64,
    /// Messages dropped on send by the artificial loss.
    pub dropped: u64,
    /// Received bytes the decoder refused (malformed, oversized, unknown version, another
    /// protocol's), each dropped.
    pub malformed: u64,
    /// Messages this node could not encode (over the wire's size cap: a bug, reported
    /// rather than sent or lost silently).
    pub unsendable: u64,
    /// Messages dropped by the conductor's split (from or to another group) or freeze.
    pub cut: u64,
    /// Messages from members speaking another wire version ([`LiveEvent::OtherVersion`]),
    /// dropped unread.
    pub other_version: u64,
    /// Messages from members this one holds no link to, dropped: sent before the sender
    /// heard the link was dropped (a swap to make room), or over a link only the sender
    /// still holds ([`LiveEvent::HalfOpen`]). Not misbehaviour, so not counted as malformed.
    pub unlinked: u64,
}

#[derive(Clone, Debug)]
struct Link {
    ready: bool,
    next_hello: Millis,
    next_ping: Millis,
    rtt_ms: Option<u64>,
    /// The peer's message budget ([`PEER_MESSAGES_PER_SEC`]).
    budget: Bucket,
    /// The bytes of answers the peer may still draw ([`ANSWER_BYTES_PER_INTERVAL`]).
    answers: Bucket,
}

/// A token bucket: `rate` tokens a second on average, bursts of two seconds' worth.
#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    filled: Millis,
}

impl Bucket {
    /// A full bucket at `rate`.
    fn full(now: Millis, rate: f64) -> Bucket {
        Bucket {
            tokens: 2.0 * rate,
            filled: now,
        }
    }

    /// Takes `amount` tokens from the bucket, refilled at `rate` since last time; `false`
    /// (and nothing taken) if it holds fewer.
    fn take(&mut self, now: Millis, rate: f64, amount: f64) -> bool {
        let elapsed = now.since(self.filled) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate).min(2.0 * rate);
        self.filled = now;
        if self.tokens < amount {
            return false;
        }
        self.tokens -= amount;
        true
    }
}

/// [`PEER_MESSAGES_PER_SEC`] as a bucket's rate.
const MESSAGE_RATE: f64 = PEER_MESSAGES_PER_SEC as f64;

/// What the page shows of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkView {
    /// The peer.
    pub peer: NodeId,
    /// Whether the hello handshake completed (the protocols use the link only then).
    pub ready: bool,
    /// The last round-trip time measured, ms.
    pub rtt_ms: Option<u64>,
}

/// What happened, for the page.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveEvent {
    /// From the rumor protocol.
    Rumor(RumorEvent),
    /// From SWIM.
    Swim(SwimEvent),
    /// From the key-value map.
    Kv(KvEvent),
    /// `peer` speaks another version of the wire format (a tab loaded before the server was
    /// upgraded, or a `grapevine peer` of another release): its messages are dropped unread.
    /// Said once per peer; not misbehaviour, so counted apart from malformed bytes.
    OtherVersion {
        /// Who.
        peer: NodeId,
        /// The version it speaks.
        version: u8,
    },
    /// `peer` still holds a link to this member, which holds none (it pings the link every
    /// [`PING_EVERY_MS`], and pings go only over links both ends completed): the refusal
    /// that dropped it was lost. The driver tells it again, as it tells a member it swapped
    /// out; until then its probes of this member go unanswered, and it suspects this member
    /// every time round.
    HalfOpen {
        /// Who.
        peer: NodeId,
    },
    /// Bytes from `peer` were refused.
    Refused {
        /// Who sent them.
        peer: NodeId,
        /// Why.
        error: WireError,
    },
}

/// The live knobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveConfig {
    /// The rumor protocol's parameters (its fanout and interval are the page's controls).
    pub rumor: RumorConfig,
    /// Probability that a message is dropped on send, `[0, 1]`.
    pub loss: f64,
}

/// The conductor's knobs ([`super::conduct`]'s, as an order carries them) and a tab's config,
/// one from the other. Here rather than there: an order knows nothing of the node that obeys
/// it (`conduct` does not depend on `live`).
impl Settings {
    /// The knobs `config` runs with.
    pub fn of(config: &LiveConfig) -> Settings {
        let interest = config.rumor.interest;
        Settings {
            fanout: config.rumor.fanout,
            interval_ms: config.rumor.interval_ms,
            loss_percent: libm::round(config.loss * 100.0).clamp(0.0, 100.0) as u8,
            stop: StopRule::ALL
                .iter()
                .position(|&r| r == interest.rule)
                .unwrap_or(0) as u8,
            k: interest.k,
        }
    }

    /// `config` with these knobs.
    pub fn applied_to(&self, config: LiveConfig) -> LiveConfig {
        LiveConfig {
            rumor: RumorConfig {
                fanout: self.fanout,
                interval_ms: self.interval_ms,
                interest: self.interest(),
                ..config.rumor
            },
            loss: f64::from(self.loss_percent) / 100.0,
        }
    }
}

/// A room's SWIM push-pull runs every this many periods (the lab's option, every
/// [`PUSH_PULL_PERIODS`](super::swim::PUSH_PULL_PERIODS)). A cold start (a class joining
/// at once) ends by push-pull: joins piggybacked without their proofs wait for one, so 200
/// members driven in-process all listed each other after two push-pulls, 5 s at every 5
/// periods and 3 s at every 2. Between members in step a push-pull is one summary of 13
/// bytes, so running it often costs an idle room next to nothing (2 KiB/s more at 200).
pub const ROOM_PUSH_PULL_PERIODS: u32 = 2;

/// A tab's node.
pub struct LiveNode {
    id: NodeId,
    /// What this node refused itself (the protocols count theirs), by reason.
    refusals: Refusals,
    /// The budget members without a link share.
    unlinked: Bucket,
    /// Forged signatures counted per peer.
    strikes: BTreeMap<NodeId, u64>,
    /// Peers whose messages are refused unread (too many forgeries).
    banned: alloc::collections::BTreeSet<NodeId>,
    /// Peers already reported as speaking another wire version.
    other_versions: alloc::collections::BTreeSet<NodeId>,
    rng: GossipRng,
    loss: f64,
    loss_chance: Chance,
    rumor: RumorNode,
    swim: Swim,
    kv: KvNode,
    links: BTreeMap<NodeId, Link>,
    /// Encoded messages to send and events for the page, drained by
    /// [`LiveNode::poll_transmit`] and [`LiveNode::poll_event`]: the same outbox as every
    /// node's, with bytes for messages (a tab's node is where messages become bytes).
    effects: Effects<Vec<u8>, LiveEvent>,
    counters: LiveCounters,
    /// The conductor's authority as this member knows it, and the room it holds it to.
    podium: Podium,
    /// Frozen by the conductor: sends nothing, takes nothing, runs no timer.
    frozen: bool,
    /// What carries each link (the driver knows; `direct` until told).
    carriers: BTreeMap<NodeId, Carrier>,
    /// When the links record is next written, if links changed.
    links_due: Option<Millis>,
    /// The rumors this member's record holds, with their slots.
    heard: BTreeMap<RumorId, (u8, Heard)>,
    /// The slot the next rumor heard takes.
    next_slot: u8,
}

impl LiveNode {
    /// The node of `identity` (its id is the key's), with its own generator seed (the page
    /// draws both at random). Everything it says of itself is signed with the key, and it
    /// takes from others only what their own keys signed ([`crate::auth`]).
    pub fn new(identity: Identity, seed: u64, config: LiveConfig, now: Millis) -> LiveNode {
        let id = identity.id();
        let derive = |stream_index| GossipRng::derive(seed, Stream::Nodes, stream_index);
        // A period of at least 200 ms: a tab's timers are not precise enough for less.
        let period = config.rumor.interval_ms.max(200);
        // A room starts cold: a class joins within seconds, and every join is news for every
        // member. As many updates per message as the wire allows (64; memberlist's 1,400-byte
        // UDP packets are no limit on a data channel or the relay) spread them sooner: 200
        // members driven in-process listed each other in 5 s instead of 8.5, and their queues
        // were empty 40 s later (with 16, still draining: 400 KiB/s of piggybacked news). Each
        // is piggybacked 2·⌈log2(n+1)⌉ times, at least memberlist's 4·⌈log10(n+1)⌉ at every
        // size, so the cold start costs no more bytes than 16 updates sent 4·⌈log2(n+1)⌉
        // times did. Push-pull repairs what runs out.
        let swim = SwimConfig {
            forget_after_ms: Some(FORGET_AFTER_MS),
            summaries: true,
            max_piggyback: MAX_UPDATES as u8,
            retransmit_mult: 2,
            push_pull_ms: Some(period.saturating_mul(ROOM_PUSH_PULL_PERIODS)),
            ..SwimConfig::for_period(period, false, true)
        };
        LiveNode {
            id,
            rng: derive(0),
            loss: config.loss,
            loss_chance: Chance::new(config.loss),
            refusals: Refusals::default(),
            unlinked: Bucket::full(now, MESSAGE_RATE),
            strikes: BTreeMap::new(),
            banned: alloc::collections::BTreeSet::new(),
            other_versions: alloc::collections::BTreeSet::new(),
            rumor: RumorNode::new(id, config.rumor, derive(1), now).signed(identity.clone()),
            swim: Swim::new(id, Incarnation(0), swim, derive(2), now).signed(identity.clone()),
            kv: KvNode::new(
                id,
                KvConfig {
                    interval_ms: config.rumor.interval_ms,
                    clock_offset_ms: 0,
                    summaries: true,
                },
                derive(3),
                now,
            )
            .signed(identity),
            links: BTreeMap::new(),
            effects: Effects::default(),
            counters: LiveCounters::default(),
            podium: Podium::default(),
            frozen: false,
            carriers: BTreeMap::new(),
            links_due: None,
            heard: BTreeMap::new(),
            next_slot: 0,
        }
    }

    /// The conductor's authority and the room it holds this member to.
    pub fn podium(&self) -> &Podium {
        &self.podium
    }

    /// Whether the conductor froze this member.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The signaling server vouched for `conductor`: orders signed by its key are taken.
    pub fn handle_conductor(&mut self, conductor: NodeId) {
        self.podium.vouch(conductor);
    }

    /// An order's text, from the signaling server: checked ([`Podium::take`]: the vouched
    /// conductor's signature for `room`, a number above the last) and obeyed; refused
    /// otherwise (counted by reason, nothing changes).
    pub fn handle_order(
        &mut self,
        now: Millis,
        room: &str,
        text: &str,
    ) -> Result<Order, &'static str> {
        match self.podium.take(room, text) {
            Ok(order) => {
                self.obey(now, &order.command);
                Ok(order)
            }
            Err("known") => Err("known"), // taken before: nothing to refuse
            Err(why) => {
                self.refusals.add(why);
                Err(why)
            }
        }
    }

    /// Does what a (checked) command asks of this member.
    fn obey(&mut self, now: Millis, command: &Command) {
        match command {
            Command::Settings(s) => {
                let config = s.applied_to(self.config());
                self.configure(now, config);
            }
            Command::Rumor { at, text } if *at == self.id && !self.frozen => {
                self.start_rumor(now, text.clone());
            }
            Command::Freeze { member, frozen } if *member == self.id => {
                self.frozen = *frozen;
            }
            // Removed: the server closes this member's connection; the links it still has
            // (direct ones) fall silent too, as every other member drops them.
            Command::Remove { members }
                if members.contains(&self.id) && self.podium.conductor() != Some(self.id) =>
            {
                self.frozen = true
            }
            Command::Reset => {
                self.rumor.reset();
                self.counters = LiveCounters::default();
                self.heard.clear();
                self.next_slot = 0;
                // Its records of what it heard, and its guess, are emptied too (the map keeps
                // keys; an empty value reads as no record): the room's picture starts over,
                // and an old guess does not stand for the next question.
                let id = self.id;
                let stale: Vec<alloc::string::String> = self
                    .kv
                    .entries_of(id)
                    .filter(|e| !e.value.is_empty())
                    .filter(|e| {
                        e.key == room::guess_key(id)
                            || (0..HEARD_SLOTS).any(|slot| e.key == room::heard_key(id, slot))
                    })
                    .map(|e| e.key.clone())
                    .collect();
                for key in stale {
                    self.write_record(now, key, alloc::string::String::new());
                }
            }
            _ => {} // splits are read from the podium; questions are the page's
        }
    }

    /// Whether messages to or from `peer` are cut: this member or `peer` is frozen (both
    /// ends hold to a freeze, as to a split), `peer` was removed, or `peer` is in another
    /// group of the conductor's split.
    fn cut_off(&self, peer: NodeId) -> bool {
        self.frozen
            || self.podium.frozen.contains(&peer)
            || self.podium.removed.contains(&peer)
            || self.podium.group_of(peer) != self.podium.group_of(self.id)
    }

    /// Says what carries the link to `peer` (for the room's picture of links).
    pub fn set_carrier(&mut self, now: Millis, peer: NodeId, carrier: Carrier) {
        if self.carriers.insert(peer, carrier) != Some(carrier) {
            self.links_changed(now);
        }
    }

    fn links_changed(&mut self, now: Millis) {
        if self.links_due.is_none() {
            self.links_due = Some(now.after(LINKS_RECORD_AFTER_MS));
        }
    }

    /// Writes this member's links record.
    fn record_links(&mut self, now: Millis) {
        self.links_due = None;
        let links: Vec<(NodeId, Carrier)> = self
            .links
            .iter()
            .filter(|(_, l)| l.ready)
            .map(|(&p, _)| (p, self.carriers.get(&p).copied().unwrap_or(Carrier::Direct)))
            .collect();
        let value = room::links_value(&links);
        self.write_record(now, room::links_key(self.id), value);
    }

    /// Writes this member's record of `heard` (a new slot for a new rumor).
    fn record_heard(&mut self, now: Millis, heard: Heard) {
        let slot = match self.heard.get(&heard.rumor) {
            Some(&(slot, _)) => slot,
            None => {
                let slot = self.next_slot;
                self.next_slot = (self.next_slot + 1) % HEARD_SLOTS;
                self.heard.retain(|_, (s, _)| *s != slot);
                slot
            }
        };
        self.heard.insert(heard.rumor, (slot, heard));
        self.write_record(
            now,
            room::heard_key(self.id, slot),
            room::heard_value(&heard),
        );
    }

    /// This member's guess to the conductor's `question`, seconds.
    pub fn guess(&mut self, now: Millis, question: u64, seconds: f64) {
        self.write_record(
            now,
            room::guess_key(self.id),
            room::guess_value(question, seconds),
        );
        self.settle(now);
    }

    fn write_record(
        &mut self,
        now: Millis,
        key: alloc::string::String,
        value: alloc::string::String,
    ) {
        // Unchanged (links that changed and changed back, a guess given twice): a new version
        // would travel to every member and say nothing.
        let own = self.id;
        if self
            .kv
            .entries_of(own)
            .any(|e| e.key == key && e.value == value)
        {
            return;
        }
        self.kv.handle_command(now, KvCommand::Set { key, value });
    }

    /// The room as this member sees it: itself and every member SWIM lists, each with the
    /// record it gossiped ([`room`]).
    pub fn room(&self) -> Vec<room::RoomMember> {
        let kv = &self.kv;
        let removed = &self.podium.removed;
        room::members(
            self.id,
            self.swim
                .iter_members()
                .filter(|(id, _)| !removed.contains(id))
                .map(|(id, v)| (id, v.state)),
            |member| {
                room::read_record(
                    member,
                    kv.entries_of(member)
                        .map(|e| (e.key.as_str(), e.value.as_str())),
                )
            },
        )
    }

    /// This tab's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The counters.
    pub fn counters(&self) -> LiveCounters {
        self.counters
    }

    /// Everything refused from peers, by reason: this node's own refusals (bytes that did
    /// not decode, messages from a peer without a link or over its rate) and each
    /// protocol's (unsigned or forged news, writes and rumors; caps).
    pub fn refusals(&self) -> Refusals {
        let mut all = self.refusals.clone();
        all.merge(self.swim.refusals());
        all.merge(self.kv.refusals());
        all.merge(self.rumor.refusals());
        all
    }

    /// The links, by peer.
    pub fn links(&self) -> impl Iterator<Item = LinkView> + '_ {
        self.links.iter().map(|(&peer, l)| LinkView {
            peer,
            ready: l.ready,
            rtt_ms: l.rtt_ms,
        })
    }

    /// The rumor node (its rumors).
    pub fn rumor(&self) -> &RumorNode {
        &self.rumor
    }

    /// The SWIM member (its membership list).
    pub fn swim(&self) -> &Swim {
        &self.swim
    }

    /// The key-value replica.
    pub fn kv(&self) -> &KvNode {
        &self.kv
    }

    /// The live knobs now.
    pub fn config(&self) -> LiveConfig {
        LiveConfig {
            rumor: self.rumor.config(),
            loss: self.loss,
        }
    }

    /// Changes the live knobs (fanout, interval, stop rule; loss on send).
    pub fn configure(&mut self, now: Millis, config: LiveConfig) {
        self.loss = config.loss.clamp(0.0, 1.0);
        self.loss_chance = Chance::new(self.loss);
        self.rumor
            .handle_command(now, RumorCommand::Configure(config.rumor));
        self.settle(now);
    }

    /// A link to `peer` opened (a data channel): the hello handshake starts.
    pub fn handle_link_up(&mut self, now: Millis, peer: NodeId) {
        if peer == self.id || self.links.contains_key(&peer) {
            return;
        }
        self.links.insert(
            peer,
            Link {
                ready: false,
                next_hello: now,
                next_ping: now.after(PING_EVERY_MS),
                rtt_ms: None,
                budget: Bucket::full(now, MESSAGE_RATE),
                answers: Bucket::full(now, self.answer_rate()),
            },
        );
        self.handle_timeout(now);
    }

    /// The link to `peer` closed. The rumor and key-value protocols stop picking it; SWIM
    /// stops probing it but keeps its own counsel on its state (a closed link is not a
    /// failure: the peer's other neighbours' probes decide, and gossip tells).
    pub fn handle_link_down(&mut self, now: Millis, peer: NodeId) {
        if self.links.remove(&peer).is_some() {
            self.carriers.remove(&peer);
            self.links_changed(now);
            self.rumor.handle_peer(now, peer, false);
            self.kv.handle_peer(now, peer, false);
            self.swim.set_reachable(peer, false);
            self.settle(now);
        }
    }

    /// The signaling server says `peer`'s connection closed. Its links here (if any) go
    /// down with [`LiveNode::handle_link_down`]; this is about membership: `peer` becomes
    /// suspect here, so it is declared dead in time even when none of the members that stay
    /// had a link to it (a partial mesh: its leave news can die with its neighbours, when many
    /// leave at once). Alive after all (a reconnection), it refutes.
    pub fn handle_peer_gone(&mut self, now: Millis, peer: NodeId) {
        self.swim.set_in_room(now, peer, false);
        self.kv.set_in_room(peer, false);
        self.swim.suspect_member(now, peer);
        self.settle(now);
    }

    /// The signaling server says `peer` is in the room (its welcome's list, or a join; it
    /// checked the peer's key). From the first call on, membership lists only members the
    /// server has in the room: ids made up by the thousand, with no connection behind them,
    /// are refused (`not-in-room`) and cannot fill the member list.
    pub fn handle_peer_here(&mut self, now: Millis, peer: NodeId) {
        let me = self.id;
        self.swim.set_in_room(now, me, true);
        self.swim.set_in_room(now, peer, true);
        self.kv.set_in_room(me, true);
        self.kv.set_in_room(peer, true);
        self.settle(now);
    }

    /// Bytes from `peer` the driver refused before they reached the decoder (too large to
    /// copy): counted and reported like the decoder's refusals.
    pub fn refuse(&mut self, peer: NodeId, error: WireError) {
        self.counters.malformed += 1;
        self.refusals.add("malformed");
        self.effects.emit(LiveEvent::Refused { peer, error });
    }

    /// Bytes from `peer`: decoded, checked, and handed to the protocol they are for; anything
    /// else is counted, reported and dropped.
    pub fn handle_bytes(&mut self, now: Millis, peer: NodeId, bytes: &[u8]) {
        if self.banned.contains(&peer) {
            self.refusals.add("banned");
            return;
        }
        if self.cut_off(peer) {
            self.counters.cut += 1;
            return;
        }
        // Over its rate: dropped unread (decoding and checking cost too). Members without
        // a link (a goodbye over the relay) share one budget.
        let budget = match self.links.get_mut(&peer) {
            Some(link) => &mut link.budget,
            None => &mut self.unlinked,
        };
        if !budget.take(now, MESSAGE_RATE, 1.0) {
            self.refusals.add("peer-rate");
            return;
        }
        let failures = self.forgeries();
        let message = match wire::decode(bytes) {
            Ok(m) => m,
            Err(WireError::OtherVersion(version)) => {
                self.counters.other_version += 1;
                if self.other_versions.len() < MAX_BANNED && self.other_versions.insert(peer) {
                    self.effects.emit(LiveEvent::OtherVersion { peer, version });
                }
                return;
            }
            Err(error) => {
                self.refuse(peer, error);
                return;
            }
        };
        if let Message::Link(LinkMessage::Bye { incarnation, proof }) = message {
            // About the sender alone: taken with or without a link (and signed: the news
            // travels on).
            self.counters.received += 1;
            self.swim.member_left(now, peer, incarnation, proof);
            self.judge(peer, failures);
            self.settle(now);
            return;
        }
        if let Message::PushSum(_) = message {
            // No protocol of a room: whoever sent it, garbage.
            self.counters.malformed += 1;
            self.refusals.add("wrong-protocol");
            self.effects.emit(LiveEvent::Refused {
                peer,
                error: WireError::WrongProtocol,
            });
            return;
        }
        if !self.links.contains_key(&peer) {
            // Not a link of ours (any more, or yet: the page opens one first).
            self.counters.unlinked += 1;
            if let Message::Link(LinkMessage::Ping { .. }) = message {
                self.effects.emit(LiveEvent::HalfOpen { peer });
            }
            return;
        }
        self.counters.received += 1;
        match message {
            Message::Link(link) => self.handle_link(now, peer, link),
            other => {
                // A protocol message proves the peer heard our hello.
                self.ready(now, peer);
                match other {
                    Message::Rumor(m) => self.rumor.handle_message(now, peer, m),
                    Message::Swim(m) => self.swim.handle_message(now, peer, m),
                    Message::Kv(m) => self.kv.handle_message(now, peer, m),
                    Message::PushSum(_) | Message::Link(_) => {} // (taken above)
                }
            }
        }
        self.judge(peer, failures);
        self.settle(now);
    }

    /// Signatures that failed so far (forged, or made with another key), in all protocols.
    fn forgeries(&self) -> u64 {
        [
            self.swim.refusals(),
            self.kv.refusals(),
            self.rumor.refusals(),
        ]
        .iter()
        .map(|r| r.get("bad-signature") + r.get("wrong-key"))
        .sum()
    }

    /// Counts `peer`'s forgeries since `before`; past [`MAX_FORGERIES`], everything from it
    /// is refused unread (`banned`): a peer that sends forged signatures costs this node a
    /// verification each, and an honest peer sends none.
    fn judge(&mut self, peer: NodeId, before: u64) {
        let new = self.forgeries().saturating_sub(before);
        if new == 0 {
            return;
        }
        let strikes = self.strikes.entry(peer).or_default();
        *strikes += new;
        if *strikes > MAX_FORGERIES && self.banned.len() < MAX_BANNED {
            self.banned.insert(peer);
        }
    }

    fn handle_link(&mut self, now: Millis, peer: NodeId, message: LinkMessage) {
        match message {
            LinkMessage::Hello { sent_ms } => {
                self.send(
                    now,
                    peer,
                    Message::Link(LinkMessage::HelloAck { echo_ms: sent_ms }),
                );
                self.ready(now, peer);
            }
            LinkMessage::HelloAck { echo_ms } | LinkMessage::Pong { echo_ms } => {
                if let Some(link) = self.links.get_mut(&peer) {
                    link.rtt_ms = Some(now.0.saturating_sub(echo_ms));
                }
                self.ready(now, peer);
            }
            LinkMessage::Ping { sent_ms } => {
                self.send(
                    now,
                    peer,
                    Message::Link(LinkMessage::Pong { echo_ms: sent_ms }),
                );
            }
            LinkMessage::Bye { .. } => {} // taken before the link check
        }
    }

    /// The handshake with `peer` completed: the protocols may use the link.
    fn ready(&mut self, now: Millis, peer: NodeId) {
        let Some(link) = self.links.get_mut(&peer).filter(|l| !l.ready) else {
            return;
        };
        link.ready = true;
        self.links_changed(now);
        self.rumor.handle_peer(now, peer, true);
        self.kv.handle_peer(now, peer, true);
        self.swim.set_reachable(peer, true);
        self.swim.handle_peer(now, peer, true);
        self.swim.handle_command(now, SwimCommand::Join(peer));
    }

    /// Starts a rumor here.
    pub fn start_rumor(&mut self, now: Millis, text: alloc::string::String) {
        self.rumor.handle_command(now, RumorCommand::Start(text));
        self.settle(now);
    }

    /// Writes a key here.
    pub fn set(&mut self, now: Millis, key: alloc::string::String, value: alloc::string::String) {
        self.kv.handle_command(now, KvCommand::Set { key, value });
        self.settle(now);
    }

    /// Leaves the group gracefully (the tab is closing). SWIM's leave tells a few members and
    /// lets gossip tell the rest; a closing tab may not live that long, so every linked peer
    /// (about 20 at most) is told directly too.
    pub fn leave(&mut self, now: Millis) {
        self.swim.handle_command(now, SwimCommand::Leave);
        self.settle(now);
        let news = self.swim.leave_update();
        let ready: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(_, l)| l.ready)
            .map(|(&peer, _)| peer)
            .collect();
        for peer in ready {
            let ping = SwimMessage::Ping {
                seq: 0,
                updates: alloc::vec![news],
            };
            self.send(now, peer, Message::Swim(ping));
        }
    }

    /// The goodbye to send, after [`LiveNode::leave`], and whom to: every member this node
    /// lists alive or suspect, linked or not (the driver sends it over the relay), so that its
    /// leave is known even where gossip from its links would not reach in time.
    pub fn goodbye(&self) -> (Vec<u8>, Vec<NodeId>) {
        let news = self.swim.leave_update();
        let bye = LinkMessage::Bye {
            incarnation: news.incarnation,
            proof: news.proof,
        };
        let to = self
            .swim
            .iter_members()
            .filter(|(_, v)| v.state.is_member())
            .map(|(m, _)| m)
            .collect();
        (wire::pack(&Message::Link(bye)).unwrap_or_default(), to)
    }

    /// Time passed: the protocols' rounds, hello retries, round-trip probes.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.frozen {
            return;
        }
        if self.links_due.is_some_and(|t| t <= now) {
            self.record_links(now);
        }
        let mut hellos = Vec::new();
        let mut pings = Vec::new();
        for (&peer, link) in self.links.iter_mut() {
            if !link.ready && link.next_hello <= now {
                link.next_hello = now.after(HELLO_RETRY_MS);
                hellos.push(peer);
            }
            if link.ready && link.next_ping <= now {
                link.next_ping = now.after(PING_EVERY_MS);
                pings.push(peer);
            }
        }
        for peer in hellos {
            self.send(
                now,
                peer,
                Message::Link(LinkMessage::Hello { sent_ms: now.0 }),
            );
        }
        for peer in pings {
            self.send(
                now,
                peer,
                Message::Link(LinkMessage::Ping { sent_ms: now.0 }),
            );
        }
        if self.rumor.poll_timeout().is_some_and(|t| t <= now) {
            self.rumor.handle_timeout(now);
        }
        if self.swim.poll_timeout().is_some_and(|t| t <= now) {
            self.swim.handle_timeout(now);
        }
        if self.kv.poll_timeout().is_some_and(|t| t <= now) {
            self.kv.handle_timeout(now);
        }
        self.settle(now);
    }

    /// When [`LiveNode::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.frozen {
            return None; // no timer runs until thawed
        }
        let links = self
            .links
            .values()
            .map(|l| if l.ready { l.next_ping } else { l.next_hello });
        [
            self.rumor.poll_timeout(),
            self.swim.poll_timeout(),
            self.kv.poll_timeout(),
            self.links_due,
        ]
        .into_iter()
        .flatten()
        .chain(links)
        .min()
    }

    /// The next message to send: (peer, bytes).
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Vec<u8>)> {
        self.effects.poll_transmit().map(|t| (t.to, t.message))
    }

    /// The next event for the page.
    pub fn poll_event(&mut self) -> Option<LiveEvent> {
        self.effects.poll_event()
    }

    /// Encodes `message` for `peer`, unless the artificial loss drops it (or the peer has no
    /// link: protocols may name members this tab has no channel to).
    fn send(&mut self, now: Millis, peer: NodeId, message: Message) {
        if !self.links.contains_key(&peer) {
            return;
        }
        if self.cut_off(peer) {
            self.counters.cut += 1;
            return;
        }
        if self.rng.chance(self.loss_chance) {
            self.counters.dropped += 1;
            return;
        }
        match wire::pack(&message) {
            Ok(bytes) => {
                if message.role() == Role::Reply {
                    let rate = self.answer_rate();
                    let link = self.links.get_mut(&peer).expect("checked above");
                    if !link.answers.take(now, rate, bytes.len() as f64) {
                        self.refusals.add("answer-bytes");
                        return;
                    }
                }
                self.counters.sent += 1;
                self.effects.transmit(Transmit {
                    to: peer,
                    message: bytes,
                });
            }
            Err(_) => self.counters.unsendable += 1,
        }
    }

    /// [`ANSWER_BYTES_PER_INTERVAL`] as bytes a second at the gossip interval now.
    fn answer_rate(&self) -> f64 {
        f64::from(ANSWER_BYTES_PER_INTERVAL) * 1000.0
            / f64::from(self.rumor.config().interval_ms.max(1))
    }

    /// Moves every protocol's outputs into this node's: their messages encoded (or dropped by
    /// a cut or the loss), their events as they came.
    fn settle(&mut self, now: Millis) {
        while let Some(e) = self.rumor.poll_event() {
            // This member's record of what it heard, for the room's picture.
            match &e {
                RumorEvent::Learned { rumor, from } => {
                    let heard = Heard {
                        rumor: rumor.id,
                        from: *from,
                        at_ms: now.0,
                        hops: rumor.hops,
                        stopped_ms: None,
                    };
                    self.record_heard(now, heard);
                }
                RumorEvent::Stopped(id) => {
                    if let Some(&(_, heard)) = self.heard.get(id) {
                        let stopped = Heard {
                            stopped_ms: Some(now.0),
                            ..heard
                        };
                        self.record_heard(now, stopped);
                    }
                }
                RumorEvent::Refused(_) => {}
            }
            self.effects.emit(LiveEvent::Rumor(e));
        }
        while let Some(e) = self.swim.poll_event() {
            self.effects.emit(LiveEvent::Swim(e));
        }
        while let Some(e) = self.kv.poll_event() {
            self.effects.emit(LiveEvent::Kv(e));
        }
        while let Some(t) = self.rumor.poll_transmit() {
            self.send(now, t.to, Message::Rumor(t.message));
        }
        while let Some(t) = self.swim.poll_transmit() {
            self.send(now, t.to, Message::Swim(t.message));
        }
        while let Some(t) = self.kv.poll_transmit() {
            self.send(now, t.to, Message::Kv(t.message));
        }
    }
}

//! A simulated network that drives many sans-IO nodes: event-driven, seeded, deterministic.
//!
//! Messages travel as bytes, through [`wire::encode`] and [`wire::decode`], exactly as between
//! browser tabs; each link delays them by a latency plus a uniform jitter, and may lose or
//! duplicate them. Nodes can crash (they fall silent and keep their last state for the view),
//! be replaced (a restart), join and be slowed (their messages take longer, both ways, as a
//! CPU-starved process would). A partition puts nodes in groups; a message between groups
//! is dropped when it would arrive. There is no wall clock: time jumps to the next event,
//! ties are broken by the order of scheduling, and every loop is bounded.

use super::role::{Alarm, Role};
use super::wire::{self, WireError};
use super::{Millis, Node, NodeId};
use crate::rng::{Chance, GossipRng};
use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;

/// How links behave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way delay every link has, ms, `0..=60_000`.
    pub latency_ms: u32,
    /// How much links differ: each pair of nodes adds its own fixed delay, drawn uniformly
    /// from `0..=spread_ms` (the same both ways, from the seed), as nearby and distant peers
    /// would. ms, `0..=60_000`.
    pub spread_ms: u32,
    /// Extra delay drawn uniformly from `0..=jitter_ms` per message, ms, `0..=60_000`.
    pub jitter_ms: u32,
    /// Probability a message is lost, `[0, 1]`.
    pub loss: f64,
    /// Probability a message is delivered twice, `[0, 1]`.
    pub duplicate: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency_ms: 10,
            spread_ms: 0,
            jitter_ms: 5,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

impl LinkConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.latency_ms > 60_000 || self.jitter_ms > 60_000 || self.spread_ms > 60_000 {
            return Err("latency, spread and jitter must be at most 60000 ms");
        }
        if !(0.0..=1.0).contains(&self.loss) || !(0.0..=1.0).contains(&self.duplicate) {
            return Err("loss and duplication must be probabilities in [0, 1]");
        }
        Ok(())
    }
}

/// What the network carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages nodes sent.
    pub sent: u64,
    /// Bytes nodes sent (encoded).
    pub bytes: u64,
    /// Messages handed to a node.
    pub delivered: u64,
    /// Lost on the link.
    pub lost: u64,
    /// Delivered twice (the second copy counted here, not in `lost`).
    pub duplicated: u64,
    /// Dropped by a partition.
    pub partitioned: u64,
    /// Sent to a crashed node.
    pub dead_letters: u64,
    /// Refused by the decoder (never, between honest nodes: a test holds it at zero).
    pub malformed: u64,
}

/// What became of a message to or from the watched node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Sent by the watched node and on its way.
    Sent,
    /// Sent by the watched node and lost on the link.
    Lost,
    /// Delivered to the watched node.
    Received,
    /// Dropped by a partition on its way to or from the watched node.
    Partitioned,
    /// Arrived at a crashed node (traffic record only: the watch notes what its node sent).
    DeadLetter,
}

/// One message to or from the watched node (see [`Network::watch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note {
    /// When it was sent (or, for `Received` and `Partitioned`, when it arrived).
    pub at: Millis,
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// [`wire::Message::kind`].
    pub kind: &'static str,
    /// Encoded size.
    pub bytes: u32,
    /// What became of it.
    pub fate: Fate,
}

/// How many notes the watch keeps (the newest).
pub const WATCH_NOTES: usize = 64;

/// One message in the traffic record (see [`Network::record_traffic`]): who sent what to
/// whom, when, and what became of it. Its fate is `Sent` while it is on the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight {
    /// When it was sent.
    pub sent: Millis,
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// [`wire::Message::kind`].
    pub kind: &'static str,
    /// [`wire::Message::role`].
    pub role: Role,
    /// [`wire::Message::alarm`].
    pub alarm: Option<Alarm>,
    /// What became of it (its first copy, if the link duplicated it).
    pub fate: Fate,
    /// Its place in the record, counted from the first message recorded.
    id: u64,
}

/// How many messages the traffic record keeps (the newest): several periods of every
/// message of 50 members, whatever the protocol.
pub const TRAFFIC_FLIGHTS: usize = 8_192;

/// The simulation ran into its event bound: something schedules without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventBound(pub u64);

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Millis,
    seq: u64,
    from: u32,
    to: u32,
    bytes: Vec<u8>,
    /// Its [`Flight::id`] plus one in the traffic record; 0: not recorded.
    flight: u64,
}

/// Many nodes of one protocol over simulated links. Node `i` has id `NodeId(i)`.
pub struct Network<N: Node> {
    now: Millis,
    rng: GossipRng,
    /// Mixed with a pair of nodes into that link's own extra delay (see
    /// [`LinkConfig::spread_ms`]): no table of n² links.
    link_salt: u64,
    link: LinkConfig,
    loss: Chance,
    duplicate: Chance,
    nodes: Vec<N>,
    up: Vec<bool>,
    group: Vec<u16>,
    slow_ms: Vec<u32>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    timers: BinaryHeap<Reverse<(Millis, u32)>>,
    seq: u64,
    events: Vec<(Millis, NodeId, N::Event)>,
    stats: NetStats,
    /// The node whose messages are noted, and the newest notes.
    watched: Option<u32>,
    notes: VecDeque<Note>,
    /// Every message's flight, the newest [`TRAFFIC_FLIGHTS`], when recording; and how
    /// many were ever recorded (the next one's id).
    traffic: Option<VecDeque<Flight>>,
    flights: u64,
}

/// A protocol message that travels as a [`wire::Message`].
pub trait WireMessage: Into<wire::Message> + TryFrom<wire::Message, Error = WireError> {}

impl<M: Into<wire::Message> + TryFrom<wire::Message, Error = WireError>> WireMessage for M {}

impl<N> Network<N>
where
    N: Node,
    N::Message: WireMessage,
{
    /// An empty network at time 0. `link` MUST be valid.
    pub fn new(link: LinkConfig, rng: GossipRng) -> Self {
        // Drawn from a copy, so the links' draws are the same with or without a spread.
        let mut salt = rng.clone();
        let link_salt = (u64::from(salt.next_u32()) << 32) | u64::from(salt.next_u32());
        Network {
            now: Millis(0),
            rng,
            link_salt,
            link,
            loss: Chance::new(link.loss),
            duplicate: Chance::new(link.duplicate),
            nodes: Vec::new(),
            up: Vec::new(),
            group: Vec::new(),
            slow_ms: Vec::new(),
            in_flight: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            seq: 0,
            events: Vec::new(),
            stats: NetStats::default(),
            watched: None,
            notes: VecDeque::new(),
            traffic: None,
            flights: 0,
        }
    }

    /// The current time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// How many nodes were ever added (crashed ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node was ever added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i` (its last state, if crashed).
    pub fn node(&self, i: u32) -> &N {
        &self.nodes[i as usize]
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: u32) -> bool {
        self.up[i as usize]
    }

    /// What the links carried so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Notes the messages node `i` sends and receives from now on (`None`: no node), for
    /// the page's inspector; watching another node forgets the notes so far.
    pub fn watch(&mut self, i: Option<u32>) {
        if self.watched != i {
            self.watched = i;
            self.notes.clear();
        }
    }

    /// The newest messages to or from the watched node, oldest first.
    pub fn notes(&self) -> impl DoubleEndedIterator<Item = &Note> + ExactSizeIterator {
        self.notes.iter()
    }

    /// Records every message from now on (`on`), or stops and forgets the record: the
    /// pictures of small networks draw each message of the last period. Recording draws no
    /// random number, so a run is the same with or without it.
    pub fn record_traffic(&mut self, on: bool) {
        match (on, self.traffic.is_some()) {
            (true, false) => self.traffic = Some(VecDeque::new()),
            (false, true) => self.traffic = None,
            _ => {}
        }
    }

    /// The recorded messages sent at or after `since`, oldest first (none unless
    /// [`Network::record_traffic`] is on).
    pub fn traffic_since(&self, since: Millis) -> impl Iterator<Item = &Flight> {
        let record = self.traffic.as_ref();
        let start = record.map_or(0, |r| r.partition_point(|f| f.sent < since));
        record.into_iter().flat_map(move |r| r.range(start..))
    }

    /// Adds a flight to the record, if recording; returns its id plus one (0: none).
    fn record(&mut self, from: u32, to: u32, message: &wire::Message, fate: Fate) -> u64 {
        let Some(record) = self.traffic.as_mut() else {
            return 0;
        };
        if record.len() == TRAFFIC_FLIGHTS {
            record.pop_front();
        }
        let id = self.flights;
        self.flights += 1;
        record.push_back(Flight {
            sent: self.now,
            from,
            to,
            kind: message.kind(),
            role: message.role(),
            alarm: message.alarm(),
            fate,
            id,
        });
        id + 1
    }

    /// Sets the fate of recorded flight `flight` (its id plus one), if still in the record.
    fn settle_flight(&mut self, flight: u64, fate: Fate) {
        let Some(record) = self.traffic.as_mut().filter(|_| flight > 0) else {
            return;
        };
        let first = record.front().map_or(0, |f| f.id);
        if let Some(f) = (flight - 1)
            .checked_sub(first)
            .and_then(|k| record.get_mut(usize::try_from(k).ok()?))
        {
            f.fate = fate;
        }
    }

    fn note(&mut self, from: u32, to: u32, kind: &'static str, bytes: usize, fate: Fate) {
        if self.notes.len() == WATCH_NOTES {
            self.notes.pop_front();
        }
        self.notes.push_back(Note {
            at: self.now,
            from,
            to,
            kind,
            bytes: bytes as u32,
            fate,
        });
    }

    /// The fixed extra delay of the link between `a` and `b`, ms (symmetric).
    pub fn link_extra_ms(&self, a: u32, b: u32) -> u64 {
        if self.link.spread_ms == 0 {
            return 0;
        }
        let pair = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
        // SplitMix64's finaliser: a well-mixed 64-bit value per (salt, pair).
        let mut z = self.link_salt ^ pair.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z % (u64::from(self.link.spread_ms) + 1)
    }

    fn watches(&self, from: u32, to: u32) -> bool {
        self.watched.is_some_and(|w| w == from || w == to)
    }

    /// The links' behaviour from now on. `link` MUST be valid.
    pub fn set_link(&mut self, link: LinkConfig) {
        self.link = link;
        self.loss = Chance::new(link.loss);
        self.duplicate = Chance::new(link.duplicate);
    }

    /// The links' behaviour.
    pub fn link(&self) -> LinkConfig {
        self.link
    }

    /// Adds a running node; its id MUST be `NodeId(len())`. Returns its index.
    pub fn add(&mut self, node: N) -> u32 {
        let i = self.nodes.len() as u32;
        debug_assert_eq!(node.id(), NodeId(u64::from(i)));
        self.nodes.push(node);
        self.up.push(true);
        self.group.push(0);
        self.slow_ms.push(0);
        self.settle(i);
        i
    }

    /// Crashes node `i`: it falls silent; messages to it are dead letters.
    pub fn crash(&mut self, i: u32) {
        self.up[i as usize] = false;
    }

    /// Replaces node `i` by `node` (a restart: new state, same id) and runs it.
    pub fn restart(&mut self, i: u32, node: N) {
        self.nodes[i as usize] = node;
        self.up[i as usize] = true;
        self.settle(i);
    }

    /// Puts node `i` in partition group `group`; messages between groups are dropped.
    pub fn set_group(&mut self, i: u32, group: u16) {
        self.group[i as usize] = group;
    }

    /// Ends every partition.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
    }

    /// Node `i`'s messages take `ms` longer, both ways.
    pub fn set_slow(&mut self, i: u32, ms: u32) {
        self.slow_ms[i as usize] = ms;
    }

    /// Runs `f` on running node `i` as an input at the current time (a command, a peer
    /// change), then collects what it queued. Does nothing if the node is down.
    pub fn with_node(&mut self, i: u32, f: impl FnOnce(&mut N, Millis)) {
        if !self.up[i as usize] {
            return;
        }
        f(&mut self.nodes[i as usize], self.now);
        self.settle(i);
    }

    /// Takes the events the nodes reported since the last call, with when and who.
    pub fn drain_events(&mut self) -> Vec<(Millis, NodeId, N::Event)> {
        core::mem::take(&mut self.events)
    }

    /// Drains node `i`'s outputs into the links and registers its next timeout.
    fn settle(&mut self, i: u32) {
        while let Some(event) = self.nodes[i as usize].poll_event() {
            self.events.push((self.now, NodeId(u64::from(i)), event));
        }
        while let Some(t) = self.nodes[i as usize].poll_transmit() {
            self.transmit(i, t.to, t.message.into());
        }
        if let Some(at) = self.nodes[i as usize].poll_timeout() {
            self.timers.push(Reverse((at.max(self.now), i)));
        }
    }

    fn transmit(&mut self, from: u32, to: NodeId, message: wire::Message) {
        self.stats.sent += 1;
        let bytes = match wire::encode(&message) {
            Ok(b) => b,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.bytes += bytes.len() as u64;
        let Some(to) = u32::try_from(to.0)
            .ok()
            .filter(|&t| (t as usize) < self.nodes.len())
        else {
            self.stats.dead_letters += 1;
            return;
        };
        let lost = self.rng.chance(self.loss);
        if self.watched == Some(from) {
            let fate = if lost { Fate::Lost } else { Fate::Sent };
            self.note(from, to, message.kind(), bytes.len(), fate);
        }
        let flight = self.record(
            from,
            to,
            &message,
            if lost { Fate::Lost } else { Fate::Sent },
        );
        if lost {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.duplicate) {
            2
        } else {
            1
        };
        self.stats.duplicated += copies - 1;
        for copy in 0..copies {
            let jitter = self.rng.below(self.link.jitter_ms + 1);
            let delay = u64::from(self.link.latency_ms)
                + self.link_extra_ms(from, to)
                + u64::from(jitter)
                + u64::from(self.slow_ms[from as usize])
                + u64::from(self.slow_ms[to as usize]);
            self.seq += 1;
            self.in_flight.push(Reverse(InFlight {
                at: self.now.after(delay),
                seq: self.seq,
                from,
                to,
                bytes: bytes.clone(),
                flight: if copy == 0 { flight } else { 0 },
            }));
        }
    }

    /// Runs every event up to and including `until`, then sets the clock to `until`. Fails
    /// after `max_events` events (a protocol that schedules without end).
    pub fn run_until(&mut self, until: Millis, max_events: u64) -> Result<(), EventBound> {
        let mut budget = max_events;
        loop {
            let next_message = self.in_flight.peek().map(|Reverse(m)| m.at);
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            let next = match (next_message, next_timer) {
                (Some(m), Some(t)) => m.min(t),
                (Some(m), None) => m,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            if budget == 0 {
                return Err(EventBound(max_events));
            }
            budget -= 1;
            self.now = next;
            // Messages first at equal times: a reply due now beats a timeout due now.
            if next_message == Some(next) {
                let Reverse(m) = self.in_flight.pop().expect("peeked");
                self.deliver(m);
            } else {
                let Reverse((_, i)) = self.timers.pop().expect("peeked");
                let node = &self.nodes[i as usize];
                // Stale entries (the node moved its deadline, or is down) are skipped.
                if self.up[i as usize] && node.poll_timeout().is_some_and(|at| at <= self.now) {
                    self.nodes[i as usize].handle_timeout(self.now);
                    self.settle(i);
                }
            }
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Delivers every message on the links (and what their receivers send in turn), firing
    /// no timer: the end of a run, when what is in flight must not count as lost.
    pub fn deliver_in_flight(&mut self, max_events: u64) -> Result<(), EventBound> {
        for _ in 0..max_events {
            let Some(Reverse(m)) = self.in_flight.pop() else {
                return Ok(());
            };
            self.now = self.now.max(m.at);
            self.deliver(m);
        }
        Err(EventBound(max_events))
    }

    fn deliver(&mut self, m: InFlight) {
        let (from, to) = (m.from, m.to);
        if !self.up[to as usize] {
            self.stats.dead_letters += 1;
            self.settle_flight(m.flight, Fate::DeadLetter);
            return;
        }
        let decoded = wire::decode(&m.bytes);
        if self.watches(from, to) {
            let kind = decoded.as_ref().map_or("malformed", wire::Message::kind);
            let fate = if self.group[from as usize] != self.group[to as usize] {
                Fate::Partitioned
            } else {
                Fate::Received
            };
            if fate == Fate::Partitioned || self.watched == Some(to) {
                self.note(from, to, kind, m.bytes.len(), fate);
            }
        }
        if self.group[from as usize] != self.group[to as usize] {
            self.stats.partitioned += 1;
            self.settle_flight(m.flight, Fate::Partitioned);
            return;
        }
        let message = match decoded.and_then(N::Message::try_from) {
            Ok(message) => message,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.delivered += 1;
        self.settle_flight(m.flight, Fate::Received);
        self.nodes[to as usize].handle_message(self.now, NodeId(u64::from(from)), message);
        self.settle(to);
    }
}

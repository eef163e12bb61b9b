//! What every lab node is: its id ([`NodeId`]), its time ([`Millis`]), the [`Node`] trait its
//! driver calls, the [`Effects`] it queues for the driver to drain, and the parts most nodes
//! keep ([`RoundTimer`], [`Refusals`]). A leaf: it names no protocol, no network and no wire
//! format, so every file of the lab (and [`crate::auth`]) can build on it. Re-exported by
//! `lab`, so `lab::Node`, `lab::NodeId` and the rest name these.

use crate::rng::GossipRng;
use alloc::collections::{BTreeMap, VecDeque};
use serde::{Deserialize, Serialize};

/// A node's identity. In the simulator, its index; in a browser tab, a random 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl core::fmt::Display for NodeId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A point in time, in milliseconds since the driver's origin (the start of a simulation, or
/// the page's load). Only differences between two `Millis` of one driver mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + ms`, saturating.
    pub fn after(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A message a node wants sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Transmit<M> {
    /// The peer to send it to.
    pub to: NodeId,
    /// What to send (the driver encodes it with [`wire::encode`](crate::lab::wire::encode)).
    pub message: M,
}

/// A sans-IO protocol node. The driver owns time, links and randomness' seed; the node owns
/// its protocol state. After every `handle_*` call the driver MUST drain `poll_transmit` and
/// `poll_event` and ask `poll_timeout` again.
pub trait Node {
    /// What this protocol sends (one variant family of
    /// [`wire::Message`](crate::lab::wire::Message)).
    type Message;
    /// What a user or a scenario can ask of the node.
    type Command;
    /// What the node reports to the view.
    type Event;

    /// This node's id.
    fn id(&self) -> NodeId;
    /// A message from `from` arrived.
    fn handle_message(&mut self, now: Millis, from: NodeId, message: Self::Message);
    /// The deadline of [`Node::poll_timeout`] passed (calling it early MUST be harmless).
    fn handle_timeout(&mut self, now: Millis);
    /// A peer became reachable (`up`) or unreachable: links in a browser, the initial peer
    /// list in the simulator. SWIM learns members from messages too.
    fn handle_peer(&mut self, now: Millis, peer: NodeId, up: bool);
    /// A user command.
    fn handle_command(&mut self, now: Millis, command: Self::Command);
    /// The next message to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit<Self::Message>>;
    /// The next event for the view, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When the node next needs [`Node::handle_timeout`]; `None`: never, until another input.
    fn poll_timeout(&self) -> Option<Millis>;
}

/// What a node has to say after an input: messages to send and events for the view, in the
/// order they arose. Every node keeps one and hands its `poll_*` to it.
#[derive(Clone, Debug)]
pub struct Effects<M, E> {
    transmits: VecDeque<Transmit<M>>,
    events: VecDeque<E>,
}

impl<M, E> Default for Effects<M, E> {
    fn default() -> Self {
        Effects {
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
}

impl<M, E> Effects<M, E> {
    /// Queues a message.
    pub fn transmit(&mut self, transmit: Transmit<M>) {
        self.transmits.push_back(transmit);
    }

    /// Queues an event.
    pub fn emit(&mut self, event: E) {
        self.events.push_back(event);
    }

    /// The next message to send (see [`Node::poll_transmit`]).
    pub fn poll_transmit(&mut self) -> Option<Transmit<M>> {
        self.transmits.pop_front()
    }

    /// The next event (see [`Node::poll_event`]).
    pub fn poll_event(&mut self) -> Option<E> {
        self.events.pop_front()
    }
}

/// A node's gossip-round timer: a round every interval, the first after a random part of an
/// interval (so nodes started together do not all send at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTimer {
    next: Millis,
}

impl RoundTimer {
    /// The first round at a random point of the interval from `now` (one draw from `rng`).
    pub fn random_phase(interval_ms: u32, rng: &mut GossipRng, now: Millis) -> Self {
        RoundTimer {
            next: now.after(u64::from(rng.below(interval_ms))),
        }
    }

    /// The first round at `at`.
    pub fn first_at(at: Millis) -> Self {
        RoundTimer { next: at }
    }

    /// Whether a round is due at `now`; if so, the next is one interval from `now`.
    pub fn due(&mut self, now: Millis, interval_ms: u32) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now.after(u64::from(interval_ms));
        true
    }

    /// When the next round is due (the node's [`Node::poll_timeout`]).
    pub fn next(&self) -> Millis {
        self.next
    }
}

/// What a node refused from its peers, counted by reason (a short kebab-case word: the page's
/// counters and the command line's JSON show these names). Everything a peer sends is
/// checked; what fails is dropped, counted here, and never applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals(BTreeMap<&'static str, u64>);

impl Refusals {
    /// Counts one refusal for `reason`.
    pub fn add(&mut self, reason: &'static str) {
        *self.0.entry(reason).or_default() += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Refusals) {
        for (&reason, &n) in &other.0 {
            *self.0.entry(reason).or_default() += n;
        }
    }

    /// The count for `reason`.
    pub fn get(&self, reason: &str) -> u64 {
        self.0.get(reason).copied().unwrap_or(0)
    }

    /// Every reason counted, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(&r, &n)| (r, n))
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

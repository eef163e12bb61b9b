//! The protocol lab: gossip protocols as sans-IO nodes in continuous time.
//!
//! The round engine ([`crate::engine`]) answers "how fast does one rumor spread" for up to
//! 10^8 nodes. Real systems do more with gossip, and do it over real links with latency,
//! loss and failures; this module holds those protocols as the state machines that the
//! simulated network ([`net`]), the page and real WebRTC peers all drive:
//!
//! - [`swim`]: SWIM membership and failure detection (Das, Gupta, Motivala 2002), with
//!   Lifeguard's local health and dynamic suspicion timeout as an option;
//! - [`push_sum`]: push-sum aggregation (Kempe, Dobra, Gehrke 2003);
//! - [`rumor`]: rumor dissemination (push, pull, push-pull, the stop rules) with many
//!   rumors, their origins and hop counts;
//! - [`kv`]: a replicated key-value map reconciled by scuttlebutt anti-entropy, with
//!   last-writer-wins and vector-clock conflict resolution side by side.
//!
//! Each is a folder: its node, and its [`ProtocolSpec`] (config, simulator hooks, and the
//! observer that computes its figures); [`protocol`] is the seam and the registry.
//!
//! Every node follows "mutate, then drain": each input (`handle_*`) may queue messages and
//! events, which the driver drains with [`Node::poll_transmit`] and [`Node::poll_event`]
//! until `None`, and [`Node::poll_timeout`] says when the node next wants
//! [`Node::handle_timeout`]. Time comes in as [`Millis`] and never goes backwards; each node
//! owns a seeded generator its driver gave it. Bytes exist only at the boundary, in [`wire`].

pub mod conduct;
pub mod kv;
pub mod live;
pub mod mesh;
pub mod net;
pub mod protocol;
pub mod push_sum;
pub mod room;
pub mod rumor;
pub mod run;
pub mod scenario;
pub mod swim;
pub mod wire;

pub use protocol::{Figure, LabOption, LabOptions, ProtocolInfo, ProtocolSpec};
pub use run::{AnyRun, LabProtocol, Run};

/// Lists every lab protocol once, in the order menus show them, as two tables made from the
/// same list: [`PROTOCOLS`], their descriptions (data only), and [`REGISTRY`], their entries
/// with the code that runs them. A new protocol is one line.
macro_rules! registry {
    ($($spec:ty),+ $(,)?) => {
        /// Every lab protocol's description, in menu order: names, labels, options. What a
        /// page or a tool needs to route, show a menu or read a URL, without linking any
        /// protocol's code (the page's round view reads only this; [`REGISTRY`] holds the
        /// function pointers that would pull every protocol into its wasm).
        pub const PROTOCOLS: &[&ProtocolInfo] = &[$(&<$spec as ProtocolSpec>::INFO),+];
        /// Every lab protocol's entry, in the order of [`PROTOCOLS`]: the command line's
        /// `--protocol` values, the lab's runs and scenario checks come from here.
        pub const REGISTRY: &[LabProtocol] = &[$(LabProtocol::of::<$spec>(&<$spec as ProtocolSpec>::INFO)),+];
    };
}

registry!(swim::Spec, push_sum::Spec, kv::Spec, rumor::Spec);

use crate::rng::GossipRng;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The scenario of a run given no scenario: nothing happens for 60 s.
pub const QUIET_SCENARIO: &str = "end 60s";

/// A node's identity. In the simulator, its index; in a browser tab, a random 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl core::fmt::Display for NodeId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
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

/// The members in the room, as the signaling server says (live mode): a node creates state
/// only for members it admits, so keys made up by the thousand, with no connection behind
/// them, take none. Everyone is admitted until the first [`Roster::set`].
#[derive(Clone, Debug, Default)]
pub struct Roster(Option<alloc::collections::BTreeSet<NodeId>>);

impl Roster {
    /// `member` is in the room (`true`) or left it; from the first call on, only members
    /// in the room are admitted.
    pub fn set(&mut self, member: NodeId, here: bool) {
        let members = self.0.get_or_insert_with(Default::default);
        if here {
            members.insert(member);
        } else {
            members.remove(&member);
        }
    }

    /// Whether state may be created for `member`.
    pub fn admits(&self, member: NodeId) -> bool {
        self.0.as_ref().is_none_or(|m| m.contains(&member))
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
    /// What to send (the driver encodes it with [`wire::encode`]).
    pub message: M,
}

/// A sans-IO protocol node. The driver owns time, links and randomness' seed; the node owns
/// its protocol state. After every `handle_*` call the driver MUST drain `poll_transmit` and
/// `poll_event` and ask `poll_timeout` again.
pub trait Node {
    /// What this protocol sends (one variant family of [`wire::Message`]).
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

/// The peers a node without a membership protocol of its own may talk to (push-sum, the
/// key-value map): kept sorted, so a random pick depends only on the set and the generator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peers(Vec<NodeId>);

impl Peers {
    /// Adds (`up`) or removes `peer`; a node is never its own peer (`me`).
    pub fn set(&mut self, me: NodeId, peer: NodeId, up: bool) {
        match (self.0.binary_search(&peer), up) {
            (Err(i), true) if peer != me => self.0.insert(i, peer),
            (Ok(i), false) => {
                self.0.remove(i);
            }
            _ => {}
        }
    }

    /// The peers, sorted.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.iter().copied()
    }

    /// Up to `k` distinct peers uniformly at random. (Copies the list: O(peers) per call;
    /// live mode caps peers at about 20, the simulator's runs at a few thousand.)
    pub fn sample(&self, k: usize, rng: &mut GossipRng) -> Vec<NodeId> {
        rng.sample_distinct(self.0.clone(), k)
    }

    /// One peer uniformly at random, if there is any.
    pub fn random(&self, rng: &mut GossipRng) -> Option<NodeId> {
        (!self.0.is_empty()).then(|| self.0[rng.below(self.0.len() as u32) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page routes by [`PROTOCOLS`] and runs by [`REGISTRY`]: each description must be
    /// its entry's, in the same order, and a name must find both.
    #[test]
    fn descriptions_and_entries_list_the_same_protocols_in_order() {
        assert_eq!(PROTOCOLS.len(), REGISTRY.len());
        for (info, entry) in PROTOCOLS.iter().zip(REGISTRY) {
            assert_eq!(*info, entry.info);
            assert_eq!(ProtocolInfo::named(info.name), Some(*info));
            assert_eq!(LabProtocol::of_info(info), *entry);
            assert_eq!(LabProtocol::from_name(info.name), Some(*entry));
        }
        assert_eq!(ProtocolInfo::named("gossip"), None);
    }
}

//! The reference driver: one reference [`RumorNode`] per node, real messages, synchronous
//! rounds (test-only).
//!
//! It is slow (a heap-allocated node and queued messages each) and exists to keep the round
//! engine honest: both run the rules of `grapevine_core::rules`, and a statistical test checks that
//! they give the same distribution of rounds and messages on the same settings.

use super::node::{Message, RumorNode};
use grapevine_core::engine::Settings;
use grapevine_core::metrics::{Counts, Traffic};
use grapevine_core::rng::{Chance, GossipRng, Stream};
use grapevine_core::rules::{Phase, SettingsError};
use grapevine_core::topology::Graph;
use grapevine_core::{NodeView, RoundEngine};
use std::collections::VecDeque;

/// N rumor nodes and the links between them.
pub struct Lockstep {
    settings: Settings,
    graph: Graph,
    nodes: Vec<RumorNode>,
    rngs: Vec<GossipRng>,
    crashed: Vec<bool>,
    /// Draws message loss.
    links: GossipRng,
    round: u32,
    total: Traffic,
}

impl Lockstep {
    /// The same start as [`RoundEngine::new`]: same graph, same crashed nodes, same source
    /// (read off a fresh engine).
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        let engine = RoundEngine::new(settings)?;
        let graph = Graph::build(settings.topology, settings.nodes, settings.seed)?;
        let n = settings.nodes;
        let crashed: Vec<bool> = (0..n)
            .map(|i| engine.node(i) == NodeView::Crashed)
            .collect();
        let source = engine.source();
        Ok(Lockstep {
            graph,
            nodes: (0..n).map(|i| RumorNode::new(i, i == source)).collect(),
            rngs: (0..n)
                .map(|i| GossipRng::derive(settings.seed, Stream::Nodes, u64::from(i)))
                .collect(),
            crashed,
            links: GossipRng::derive(settings.seed, Stream::Rounds, 1),
            round: 0,
            total: Traffic::default(),
            settings,
        })
    }

    /// Node counts now.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for (node, &dead) in self.nodes.iter().zip(&self.crashed) {
            match (dead, node.phase()) {
                (true, _) => c.crashed += 1,
                (false, Phase::Susceptible) => c.susceptible += 1,
                (false, Phase::Spreading) => c.spreading += 1,
                (false, Phase::Stopped) => c.stopped += 1,
            }
        }
        c
    }

    /// Traffic since the start.
    pub fn total(&self) -> Traffic {
        self.total
    }

    /// Rounds played.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The run is over (same definition as the round engine's).
    pub fn is_finished(&self) -> bool {
        grapevine_core::rules::run_is_over(self.counts(), self.settings.tunables.interest.rule)
    }

    /// Plays one round: every live node decides, pushes are delivered, then pull requests
    /// (each with its reply), then every node ends the round.
    pub fn step(&mut self) {
        self.round += 1;
        let tunables = self.settings.tunables;
        let mut sent: Vec<(u32, u32, Message)> = Vec::new();
        for i in 0..self.settings.nodes as usize {
            if self.crashed[i] {
                continue;
            }
            let node = &mut self.nodes[i];
            node.handle_round_start(
                self.round,
                self.settings.protocol,
                &tunables,
                &self.graph,
                &mut self.rngs[i],
            );
            while let Some((to, m)) = node.poll_transmit() {
                sent.push((i as u32, to, m));
            }
        }
        // The round's order: all pushes first, then pull requests.
        let (pushes, pulls): (Vec<_>, Vec<_>) =
            sent.into_iter().partition(|m| m.2 == Message::Push);
        for first in pushes.into_iter().chain(pulls) {
            self.deliver(first);
        }
        for i in 0..self.settings.nodes as usize {
            if !self.crashed[i] {
                self.nodes[i].handle_round_end(tunables.interest, &mut self.rngs[i]);
            }
        }
    }

    /// Delivers one message and, depth first, everything it causes (reply, acks).
    fn deliver(&mut self, first: (u32, u32, Message)) {
        let loss = Chance::new(self.settings.tunables.loss);
        let interest = self.settings.tunables.interest;
        let mut queue = VecDeque::from([first]);
        // A message causes at most a reply and two acks: the bound is generous.
        for _ in 0..16 {
            let Some((from, to, m)) = queue.pop_front() else {
                return;
            };
            if !matches!(m, Message::Ack { .. }) {
                self.total.sent += 1;
                if self.links.chance(loss) {
                    self.total.lost += 1;
                    continue;
                }
            }
            if self.crashed[to as usize] {
                self.total.dead_letters += u64::from(!matches!(m, Message::Ack { .. }));
                continue;
            }
            let receiver = &mut self.nodes[to as usize];
            let knew = receiver.phase() != Phase::Susceptible;
            receiver.handle_message(from, m, interest, &mut self.rngs[to as usize]);
            if m.carries_rumor() {
                if knew {
                    self.total.redundant += 1;
                } else {
                    self.total.informed += 1;
                }
            }
            while let Some((next_to, next)) = receiver.poll_transmit() {
                queue.push_back((to, next_to, next));
            }
        }
        debug_assert!(queue.is_empty(), "a message caused an unbounded exchange");
    }
}

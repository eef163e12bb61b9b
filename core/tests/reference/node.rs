//! The round-driven reference node: a sans-IO state machine, one per node, that the lockstep
//! driver ([`super::lockstep`]) moves real messages between in synchronous rounds. It applies
//! the same rules as the round engine (`grapevine_core::rules`), and exists only to keep the
//! engine honest (`round_engine_matches_the_general_node_logic`). What the tabs and the lab
//! run is the time-based node, `grapevine_core::lab::rumor::RumorNode`.
//!
//! Mutate, then drain: call a `handle_*` method, then [`RumorNode::poll_transmit`] until it
//! returns `None`. The node reads no clock and owns no randomness: the driver passes both in.

use grapevine_core::rng::GossipRng;
use grapevine_core::rules::{
    answers_pull, phase_at_round_start, ContactOutcome, Interest, Phase, Protocol, Tunables,
    MAX_FANOUT,
};
use grapevine_core::topology::Graph;
use std::collections::VecDeque;

/// What rumor nodes say to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// The rumor, sent unasked.
    Push,
    /// A request for the rumor.
    PullRequest,
    /// The rumor, in answer to a pull request.
    PullReply,
    /// Acknowledges a push or pull reply and tells its sender whether it was news (the
    /// feedback of the feedback stop rules). Rides on the transport: not counted as a message.
    Ack {
        /// The receiver knew the rumor before this message arrived.
        already_knew: bool,
    },
}

impl Message {
    /// Whether the message carries the rumor.
    pub fn carries_rumor(self) -> bool {
        matches!(self, Message::Push | Message::PullReply)
    }
}

/// One node of the rumor protocol.
#[derive(Clone, Debug)]
pub struct RumorNode {
    id: u32,
    phase: Phase,
    informed_in: Option<u32>,
    round: u32,
    counter: u8,
    /// Rumor-carrying messages sent this round that have not been acknowledged yet.
    unacked: u8,
    leaving: bool,
    outbox: VecDeque<(u32, Message)>,
}

impl RumorNode {
    /// A node that knows the rumor (`source`) or not.
    pub fn new(id: u32, source: bool) -> Self {
        RumorNode {
            id,
            phase: if source {
                Phase::Spreading
            } else {
                Phase::Susceptible
            },
            informed_in: source.then_some(0),
            round: 0,
            counter: 0,
            unacked: 0,
            leaving: false,
            outbox: VecDeque::new(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Where it stands with the rumor.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The round in which it learnt the rumor (0 for the source).
    pub fn informed_in(&self) -> Option<u32> {
        self.informed_in
    }

    fn phase_at_round_start(&self) -> Phase {
        phase_at_round_start(self.phase, self.informed_in == Some(self.round))
    }

    /// Start of round `round`: a spreading node pushes, a node without the rumor pulls, each
    /// to `fanout` distinct peers chosen on `graph`.
    pub fn handle_round_start(
        &mut self,
        round: u32,
        protocol: Protocol,
        tunables: &Tunables,
        graph: &Graph,
        rng: &mut GossipRng,
    ) {
        self.round = round;
        let message = match self.phase {
            Phase::Spreading if protocol.pushes() => Message::Push,
            Phase::Susceptible if protocol.pulls() => Message::PullRequest,
            _ => return,
        };
        let mut peers = [0u32; MAX_FANOUT as usize];
        let k = graph.choose_peers(self.id, u32::from(tunables.fanout), rng, &mut peers);
        for &to in &peers[..k] {
            self.send(to, message);
        }
    }

    fn send(&mut self, to: u32, message: Message) {
        if message.carries_rumor() {
            self.unacked += 1;
        }
        self.outbox.push_back((to, message));
    }

    /// A message from `from` arrived.
    pub fn handle_message(
        &mut self,
        from: u32,
        message: Message,
        interest: Interest,
        rng: &mut GossipRng,
    ) {
        match message {
            Message::Push | Message::PullReply => {
                let already_knew = interest.feedback.receiver_knew(
                    self.phase_at_round_start() != Phase::Susceptible,
                    self.phase != Phase::Susceptible,
                );
                if self.phase == Phase::Susceptible {
                    self.phase = Phase::Spreading;
                    self.informed_in = Some(self.round);
                    self.counter = 0;
                }
                self.outbox.push_back((from, Message::Ack { already_knew }));
            }
            Message::PullRequest => {
                if answers_pull(self.phase_at_round_start()) {
                    self.send(from, Message::PullReply);
                }
            }
            Message::Ack { already_knew } => {
                self.unacked = self.unacked.saturating_sub(1);
                let outcome = if already_knew {
                    ContactOutcome::Unnecessary
                } else {
                    ContactOutcome::Useful
                };
                self.after_contact(outcome, interest, rng);
            }
        }
    }

    fn after_contact(&mut self, outcome: ContactOutcome, interest: Interest, rng: &mut GossipRng) {
        if interest.after_contact(outcome, &mut self.counter, rng) {
            self.leaving = true;
        }
    }

    /// End of the round: contacts never acknowledged count as giving no feedback (the ack
    /// timeout), and a node that lost interest stops.
    pub fn handle_round_end(&mut self, interest: Interest, rng: &mut GossipRng) {
        for _ in 0..core::mem::take(&mut self.unacked) {
            self.after_contact(ContactOutcome::NoFeedback, interest, rng);
        }
        if core::mem::take(&mut self.leaving) && self.phase == Phase::Spreading {
            self.phase = Phase::Stopped;
        }
    }

    /// The next message to send, as `(to, message)`.
    pub fn poll_transmit(&mut self) -> Option<(u32, Message)> {
        self.outbox.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grapevine_core::rules::StopRule;
    use grapevine_core::Interest;

    fn tunables(rule: StopRule, k: u8) -> Tunables {
        Tunables {
            fanout: 1,
            loss: 0.0,
            interest: Interest::new(rule, k),
        }
    }

    /// Moves every queued message between two nodes until both are quiet.
    fn exchange(a: &mut RumorNode, b: &mut RumorNode, interest: Interest, rng: &mut GossipRng) {
        for _ in 0..10 {
            let mut quiet = true;
            while let Some((_, m)) = a.poll_transmit() {
                b.handle_message(a.id(), m, interest, rng);
                quiet = false;
            }
            while let Some((_, m)) = b.poll_transmit() {
                a.handle_message(b.id(), m, interest, rng);
                quiet = false;
            }
            if quiet {
                return;
            }
        }
        panic!("the two nodes never went quiet");
    }

    #[test]
    fn push_informs_and_receiver_waits_a_round_before_spreading() {
        let g = Graph::Complete { n: 2 };
        let s = tunables(StopRule::Never, 1);
        let mut rng = GossipRng::from_seed_u64(1);
        let (mut a, mut b) = (RumorNode::new(0, true), RumorNode::new(1, false));
        a.handle_round_start(1, Protocol::PushPull, &s, &g, &mut rng);
        b.handle_round_start(1, Protocol::PushPull, &s, &g, &mut rng);
        // b's pull request reaches a, a's push reaches b.
        exchange(&mut a, &mut b, s.interest, &mut rng);
        assert_eq!(b.phase(), Phase::Spreading);
        assert_eq!(b.informed_in(), Some(1));
        // Asked again in the same round, b does not answer: it learnt the rumor this round.
        b.handle_message(0, Message::PullRequest, s.interest, &mut rng);
        assert_eq!(b.poll_transmit(), None);
    }

    #[test]
    fn feedback_counter_stops_after_k_redundant_pushes_at_round_end() {
        let g = Graph::Complete { n: 2 };
        let s = tunables(StopRule::FeedbackCounter, 1);
        let mut rng = GossipRng::from_seed_u64(1);
        let (mut a, mut b) = (RumorNode::new(0, true), RumorNode::new(1, true));
        a.handle_round_start(1, Protocol::Push, &s, &g, &mut rng);
        // b knew before the round (and, under pull, sends nothing itself).
        b.handle_round_start(1, Protocol::Pull, &s, &g, &mut rng);
        exchange(&mut a, &mut b, s.interest, &mut rng);
        assert_eq!(
            a.phase(),
            Phase::Spreading,
            "stops only at the end of the round"
        );
        a.handle_round_end(s.interest, &mut rng);
        assert_eq!(a.phase(), Phase::Stopped);
    }

    #[test]
    fn unacknowledged_push_counts_as_a_blind_contact() {
        let g = Graph::Complete { n: 2 };
        let s = tunables(StopRule::BlindCounter, 1);
        let mut rng = GossipRng::from_seed_u64(1);
        let mut a = RumorNode::new(0, true);
        a.handle_round_start(1, Protocol::Push, &s, &g, &mut rng);
        assert_eq!(a.poll_transmit(), Some((1, Message::Push)));
        a.handle_round_end(s.interest, &mut rng); // the push was lost
        assert_eq!(a.phase(), Phase::Stopped);
    }
}

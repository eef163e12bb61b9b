//! Push-sum aggregation (Kempe, Dobra, Gehrke, FOCS 2003).
//!
//! Each node holds a pair (sum s, weight w). Every round it keeps half of both and sends the
//! other half to one random peer; its estimate is s / w. The total of the s's and of the w's
//! never changes (mass conservation), so every estimate converges to Σs / Σw: the average
//! when every weight starts at 1, the sum when one node's weight starts at 1 and the others'
//! at 0, the count when moreover every value is 1. A lost message loses its half of the mass:
//! the estimates still converge, to a biased value, and the sum and count drift down. The lab
//! shows that rather than hiding it ([`PushSum::mass`]).

use crate::lab::{Effects, Millis, Node, NodeId, Peers, RoundTimer, Transmit};
use crate::rng::GossipRng;
use serde::{Deserialize, Serialize};

/// What the nodes compute together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// The mean of the values.
    Average,
    /// The sum of the values (needs one designated node).
    Sum,
    /// How many nodes there are (needs one designated node; values are ignored).
    Count,
}

impl Aggregate {
    /// Every aggregate, in the order menus show them.
    pub const ALL: [Aggregate; 3] = [Aggregate::Average, Aggregate::Sum, Aggregate::Count];

    /// The name used in the page's URL.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Average => "average",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
        }
    }

    /// The aggregate named `name`.
    pub fn from_name(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The starting (sum, weight) of a node with `value`; `designated`: the one node whose
    /// weight starts at 1 for `Sum` and `Count`.
    pub fn start(self, value: f64, designated: bool) -> (f64, f64) {
        let w = if designated { 1.0 } else { 0.0 };
        match self {
            Aggregate::Average => (value, 1.0),
            Aggregate::Sum => (value, w),
            Aggregate::Count => (1.0, w),
        }
    }
}

/// Half of a node's mass, on its way to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushSumMessage {
    /// Half the sender's sum.
    pub sum: f64,
    /// Half the sender's weight.
    pub weight: f64,
}

impl PushSumMessage {
    /// Why it was sent: a share is always the sender's own (see [`Role`]).
    pub fn role(&self) -> crate::lab::role::Role {
        crate::lab::role::Role::Initiative
    }

    /// Its kind, for the page's message log.
    pub fn kind(&self) -> &'static str {
        "share"
    }

    /// Checks what a decoded message must respect: finite numbers and a weight that is not
    /// negative (a NaN or a negative weight from a broken peer would poison every estimate).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !self.sum.is_finite() || !self.weight.is_finite() {
            return Err("push-sum numbers must be finite");
        }
        if self.weight < 0.0 {
            return Err("push-sum weight must not be negative");
        }
        Ok(())
    }
}

/// Push-sum's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PushSumConfig {
    /// One exchange per node per interval, ms, `10..=60_000`.
    pub interval_ms: u32,
    /// What is computed.
    pub aggregate: Aggregate,
}

impl Default for PushSumConfig {
    fn default() -> Self {
        PushSumConfig {
            interval_ms: 1_000,
            aggregate: Aggregate::Average,
        }
    }
}

impl PushSumConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(10..=60_000).contains(&self.interval_ms) {
            return Err("push-sum interval must be 10..=60000 ms");
        }
        Ok(())
    }
}

/// What a user or a scenario can ask of a push-sum node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PushSumCommand {
    /// The node's value changes: the difference enters its sum, so the group follows.
    SetValue(f64),
}

/// A push-sum node.
#[derive(Clone, Debug)]
pub struct PushSum {
    id: NodeId,
    config: PushSumConfig,
    rng: GossipRng,
    value: f64,
    sum: f64,
    weight: f64,
    peers: Peers,
    round: RoundTimer,
    effects: Effects<PushSumMessage, core::convert::Infallible>,
}

impl PushSum {
    /// A node holding `value`; see [`Aggregate::start`] for `designated`. Its first round
    /// comes after a random part of an interval, so nodes do not all send at once.
    pub fn new(
        id: NodeId,
        value: f64,
        designated: bool,
        config: PushSumConfig,
        mut rng: GossipRng,
        now: Millis,
    ) -> Self {
        let (sum, weight) = config.aggregate.start(value, designated);
        let round = RoundTimer::random_phase(config.interval_ms, &mut rng, now);
        PushSum {
            id,
            config,
            rng,
            value,
            sum,
            weight,
            peers: Peers::default(),
            round,
            effects: Effects::default(),
        }
    }

    /// This node's estimate, s / w; `None` while its weight is zero (it has heard from no
    /// designated node yet).
    pub fn estimate(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }

    /// The (sum, weight) this node holds.
    pub fn mass(&self) -> (f64, f64) {
        (self.sum, self.weight)
    }

    /// This node's own value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

impl Node for PushSum {
    type Message = PushSumMessage;
    type Command = PushSumCommand;
    type Event = core::convert::Infallible;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_message(&mut self, _now: Millis, _from: NodeId, message: PushSumMessage) {
        self.sum += message.sum;
        self.weight += message.weight;
    }

    fn handle_timeout(&mut self, now: Millis) {
        if !self.round.due(now, self.config.interval_ms) {
            return;
        }
        let Some(to) = self.peers.random(&mut self.rng) else {
            return;
        };
        self.sum /= 2.0;
        self.weight /= 2.0;
        self.effects.transmit(Transmit {
            to,
            message: PushSumMessage {
                sum: self.sum,
                weight: self.weight,
            },
        });
    }

    fn handle_peer(&mut self, _now: Millis, peer: NodeId, up: bool) {
        self.peers.set(self.id, peer, up);
    }

    fn handle_command(&mut self, _now: Millis, command: PushSumCommand) {
        let PushSumCommand::SetValue(value) = command;
        if self.config.aggregate != Aggregate::Count {
            self.sum += value - self.value;
        }
        self.value = value;
    }

    fn poll_transmit(&mut self) -> Option<Transmit<PushSumMessage>> {
        self.effects.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<core::convert::Infallible> {
        None
    }

    fn poll_timeout(&self) -> Option<Millis> {
        Some(self.round.next())
    }
}

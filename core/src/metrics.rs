//! What a run reports per round: every figure a user sees is computed here, once.

/// The kind of message a [`Transmission`] carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The rumor, sent unasked.
    Push,
    /// "Do you have news?"
    PullRequest,
    /// The rumor, sent in answer to a pull request.
    PullReply,
}

/// What became of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Carried the rumor to a node that did not know it.
    Informed,
    /// Carried the rumor to a node that already knew it.
    Redundant,
    /// A pull request that arrived (it may or may not be answered).
    Asked,
    /// Lost on the link.
    Lost,
    /// Sent to a crashed node.
    DeadLetter,
}

/// One message of the last round, for drawing who told whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transmission {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// What it carried.
    pub kind: MessageKind,
    /// What became of it.
    pub fate: Fate,
}

/// Node counts at one instant. `susceptible + spreading + stopped + crashed == nodes`;
/// crashed nodes are counted only as crashed, whatever they knew.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Live nodes that do not know the rumor.
    pub susceptible: u32,
    /// Live nodes spreading the rumor ("infected").
    pub spreading: u32,
    /// Live nodes that know the rumor and lost interest ("removed").
    pub stopped: u32,
    /// Crashed nodes.
    pub crashed: u32,
}

impl Counts {
    /// Live nodes that know the rumor, spreading or stopped.
    pub fn informed(&self) -> u32 {
        self.spreading + self.stopped
    }

    /// Live nodes.
    pub fn live(&self) -> u32 {
        self.susceptible + self.spreading + self.stopped
    }

    /// All nodes.
    pub fn total(&self) -> u32 {
        self.live() + self.crashed
    }
}

/// Message counters, for one round or summed over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Traffic {
    /// Messages sent, lost ones included.
    pub sent: u64,
    /// Messages lost on the link.
    pub lost: u64,
    /// Rumor deliveries to a node that already knew it.
    pub redundant: u64,
    /// Messages sent to crashed nodes.
    pub dead_letters: u64,
    /// Nodes informed.
    pub informed: u64,
}

impl core::ops::AddAssign for Traffic {
    fn add_assign(&mut self, o: Traffic) {
        self.sent += o.sent;
        self.lost += o.lost;
        self.redundant += o.redundant;
        self.dead_letters += o.dead_letters;
        self.informed += o.informed;
    }
}

/// The record of one round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoundStats {
    /// The round number (the first round played is 1; round 0 is the start).
    pub round: u32,
    /// Counts at the end of the round.
    pub counts: Counts,
    /// This round's traffic.
    pub traffic: Traffic,
    /// Traffic since the start of the run.
    pub total: Traffic,
}

/// FNV-1a over a run's per-round records: a cheap fingerprint to compare two runs (natively
/// and in wasm) for equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHash(pub u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    fn word(&mut self, w: u64) {
        for b in w.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Folds one round into the fingerprint.
    pub fn add_round(&mut self, s: &RoundStats) {
        let c = s.counts;
        for w in [s.round, c.susceptible, c.spreading, c.stopped, c.crashed] {
            self.word(u64::from(w));
        }
        let t = s.traffic;
        for w in [t.sent, t.lost, t.redundant, t.dead_letters, t.informed] {
            self.word(w);
        }
    }
}

//! SWIM's parameters ([`SwimConfig`], with Lifeguard's in [`Lifeguard`]) and their valid
//! ranges. Plain data with no behaviour beyond its defaults and its validation, so the lab's
//! options, the live page and the tests can build and check one without a member; the member
//! reads it and never changes it.

use super::message::MAX_UPDATES;

/// SWIM's parameters. Defaults are memberlist's LAN configuration (Serf, Consul).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwimConfig {
    /// Protocol period T: one probe per member per period, ms, `10..=60_000` (memberlist 1000).
    pub period_ms: u32,
    /// How long to wait for a direct ack before probing indirectly, ms, `1..period_ms`
    /// (memberlist 500).
    pub ack_timeout_ms: u32,
    /// k: members asked to probe indirectly, `0..=16` (memberlist 3).
    pub indirect_probes: u8,
    /// λ: each update is piggybacked `λ·⌈log2(n+1)⌉` times, `1..=16` (memberlist 4).
    pub retransmit_mult: u8,
    /// α: a suspicion lasts `α·max(1, log10 n)` periods (its minimum, with Lifeguard),
    /// `1..=32` (memberlist 4).
    pub suspicion_mult: u8,
    /// Most updates piggybacked on one message, `1..=MAX_UPDATES` (bounded by the MTU).
    pub max_piggyback: u8,
    /// How the member to probe is chosen each period.
    pub probe_order: ProbeOrder,
    /// Lifeguard's local health and dynamic suspicion, or plain SWIM.
    pub lifeguard: Option<Lifeguard>,
    /// How often a full-state push-pull runs with one random reachable member, ms
    /// (memberlist's `PushPullInterval`, 30 s on a LAN), `100..=600_000`; `None`: never (the
    /// paper's SWIM, as the lab runs it).
    pub push_pull_ms: Option<u32>,
    /// How long a dead or left member stays listed before it is forgotten, ms
    /// (`1_000..=86_400_000`); `None`: kept for good. A forgotten member leaves a tombstone
    /// (its last incarnation) for [`TOMBSTONE_FACTOR`](super::TOMBSTONE_FACTOR) times as
    /// long, so that an old member's push-pull cannot bring it back: only a higher
    /// incarnation can.
    pub forget_after_ms: Option<u32>,
    /// Start each push-pull with a [`SwimMessage::Summary`](super::message::SwimMessage),
    /// a hash of the membership, rather than the digest: members in step (an idle room,
    /// almost always) then exchange one small message instead of two digests. Live rooms
    /// only; the lab sends digests, so its runs stay as they were.
    pub summaries: bool,
}

/// How a member picks whom to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeOrder {
    /// Round-robin over a list shuffled each pass (section 4.3): every member is probed
    /// within `2n - 1` periods of a failure, not just in expectation.
    RoundRobin,
    /// Uniformly at random each period (basic SWIM, section 3): the expected time to first
    /// detection is `1 / (1 - e^{-q_f})` periods, with no worst-case bound.
    Random,
}

/// A full-state push-pull with one member every this many SWIM periods, when it runs (live
/// mode, and the lab's option): what piggybacked news missed on a partial mesh or across a
/// healed partition is repaired within a few of these (memberlist runs one every 30 probe
/// periods on a LAN; a class wants to see convergence sooner, and a room's state is a few
/// KiB).
pub const PUSH_PULL_PERIODS: u32 = 5;

/// Lifeguard's parameters (defaults: memberlist's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifeguard {
    /// Largest local health multiplier: periods and timeouts stretch up to `(max + 1)×`,
    /// `1..=16` (memberlist 8).
    pub max_health: u8,
    /// β: a fresh suspicion lasts β times the minimum, shrinking as confirmations arrive,
    /// `1..=16` (memberlist 6).
    pub suspicion_max_mult: u8,
}

impl Default for Lifeguard {
    fn default() -> Self {
        Lifeguard {
            max_health: 8,
            suspicion_max_mult: 6,
        }
    }
}

impl Default for SwimConfig {
    fn default() -> Self {
        SwimConfig {
            period_ms: 1_000,
            ack_timeout_ms: 500,
            indirect_probes: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            max_piggyback: 16,
            probe_order: ProbeOrder::RoundRobin,
            lifeguard: None,
            push_pull_ms: None,
            forget_after_ms: None,
            summaries: false,
        }
    }
}

impl SwimConfig {
    /// Checks every range; the error names the parameter.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(10..=60_000).contains(&self.period_ms) {
            return Err("period must be 10..=60000 ms");
        }
        if self.ack_timeout_ms == 0 || self.ack_timeout_ms >= self.period_ms {
            return Err("ack timeout must be at least 1 ms and shorter than the period");
        }
        if self.indirect_probes > 16 {
            return Err("indirect probes must be 0..=16");
        }
        if !(1..=16).contains(&self.retransmit_mult) {
            return Err("retransmit multiplier must be 1..=16");
        }
        if !(1..=32).contains(&self.suspicion_mult) {
            return Err("suspicion multiplier must be 1..=32");
        }
        if self.max_piggyback == 0 || usize::from(self.max_piggyback) > MAX_UPDATES {
            return Err("piggyback limit must be 1..=64");
        }
        if self
            .push_pull_ms
            .is_some_and(|ms| !(100..=600_000).contains(&ms))
        {
            return Err("push-pull interval must be 100..=600000 ms");
        }
        if self
            .forget_after_ms
            .is_some_and(|ms| !(1_000..=86_400_000).contains(&ms))
        {
            return Err("forget-after must be 1000..=86400000 ms");
        }
        if let Some(l) = self.lifeguard {
            if !(1..=16).contains(&l.max_health) || !(1..=16).contains(&l.suspicion_max_mult) {
                return Err("Lifeguard's health and suspicion multipliers must be 1..=16");
            }
        }
        Ok(())
    }
}

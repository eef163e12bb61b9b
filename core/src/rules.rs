//! The rumor-spreading rules, each in exactly one place.
//!
//! The million-node [`crate::engine::RoundEngine`] (struct of arrays), the lab's time-based
//! rumor node ([`crate::lab::rumor::RumorNode`], what live mode's tabs run) and the engine's
//! test-only per-node reference all call these. Nothing here knows how messages travel.
//!
//! # What one round is
//! Rounds are synchronous (Demers et al. 1987 "cycles"; Karp et al. 2000 "rounds"):
//! 1. **Who sends.** Every decision is made on the state at the *start* of the round. A live node
//!    that is *spreading* (knows the rumor and has not lost interest) pushes it to `fanout`
//!    distinct random peers (push, push-pull). A live node that does *not* know the rumor sends a
//!    pull request to `fanout` distinct random peers (pull, push-pull).
//! 2. **Pushes** are delivered first. A delivered push informs a susceptible receiver, or is
//!    *redundant* if the receiver already knew. The pusher learns, through the push's
//!    acknowledgement, whether the receiver knew the rumor *at the start of the round* (the
//!    *feedback* of the feedback stop rules): two pushes that reach one susceptible node in the
//!    same round are both useful. Demers et al.'s simulations judge feedback this way (their
//!    Table 1 is reproduced); [`Feedback::Arrival`] judges it when the message arrives, as the
//!    mean-field equations do (docs/FIDELITY.md).
//! 3. **Pull requests** reach their targets; a target that was spreading at the start of the
//!    round answers with a pull reply carrying the rumor. A target with nothing to say answers
//!    nothing. The reply informs the requester or is redundant (it may have learnt the rumor
//!    from a push or an earlier reply in this round).
//! 4. **End of round.** Nodes informed in round `r` start spreading (and answering pulls) in
//!    round `r + 1`. Nodes that lost interest in round `r` stop at the end of round `r`.
//!
//! # What is a message
//! A push, a pull request and a pull reply each count as one message, lost or not. Acknowledgements
//! that carry feedback ride on the transport and are not counted (as in Demers et al.). Each
//! message is lost independently with probability `loss`; a lost push gives its sender no feedback.
//! A message to a crashed node is a *dead letter*: sent, never answered.

use crate::rng::{Chance, GossipRng};
use core::fmt;

/// Where one node stands with the rumor (the SIR model's compartments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Does not know the rumor.
    Susceptible,
    /// Knows the rumor and spreads it ("infective").
    Spreading,
    /// Knows the rumor and has lost interest ("removed"); it no longer sends it.
    Stopped,
}

/// How nodes exchange the rumor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Spreading nodes send the rumor to random peers.
    Push,
    /// Nodes without the rumor ask random peers for it.
    Pull,
    /// Both, every round.
    PushPull,
}

impl Protocol {
    /// All protocols, in the order the page lists them.
    pub const ALL: [Protocol; 3] = [Protocol::Push, Protocol::Pull, Protocol::PushPull];

    /// Whether spreading nodes push.
    pub fn pushes(self) -> bool {
        matches!(self, Protocol::Push | Protocol::PushPull)
    }

    /// Whether uninformed nodes send pull requests.
    pub fn pulls(self) -> bool {
        matches!(self, Protocol::Pull | Protocol::PushPull)
    }

    /// The stable name used in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Push => "push",
            Protocol::Pull => "pull",
            Protocol::PushPull => "pushpull",
        }
    }

    /// Parses [`Protocol::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// When a spreading node loses interest (Demers et al. 1987, section 2).
///
/// "Feedback" rules react only to *unnecessary* contacts (the receiver already knew);
/// "blind" rules react to every contact. "Counter" rules stop after `k` such contacts;
/// "coin" rules stop with probability `1/k` after each. A *contact* is one rumor-carrying
/// message this node sent: a push, or a pull reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopRule {
    /// Anti-entropy: informed nodes spread forever.
    Never,
    /// Stop after `k` unnecessary contacts in a row: a useful contact restarts the count
    /// (Demers et al.'s bound of `k(2m - 1)` messages relies on it, and their Table 1 with it).
    FeedbackCounter,
    /// After each unnecessary contact, stop with probability `1/k`.
    FeedbackCoin,
    /// Stop after `k` contacts.
    BlindCounter,
    /// After each contact, stop with probability `1/k`.
    BlindCoin,
}

impl StopRule {
    /// All stop rules, in the order the page lists them.
    pub const ALL: [StopRule; 5] = [
        StopRule::Never,
        StopRule::FeedbackCounter,
        StopRule::FeedbackCoin,
        StopRule::BlindCounter,
        StopRule::BlindCoin,
    ];

    /// The stable name used in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StopRule::Never => "none",
            StopRule::FeedbackCounter => "feedback-counter",
            StopRule::FeedbackCoin => "feedback-coin",
            StopRule::BlindCounter => "blind-counter",
            StopRule::BlindCoin => "blind-coin",
        }
    }

    /// Parses [`StopRule::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Whether this is rumor mongering (nodes may stop) rather than anti-entropy.
    pub fn is_rumor_mongering(self) -> bool {
        self != StopRule::Never
    }
}

/// A stop rule with its parameter: the rule a spreading node applies after each contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interest {
    /// Which rule.
    pub rule: StopRule,
    /// The rule's `k`: 1..=255 (counter limit, or 1/k coin).
    pub k: u8,
    /// When the receiver's "did you know?" is judged.
    pub feedback: Feedback,
}

/// When a feedback rule judges whether the receiver already knew the rumor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Feedback {
    /// Knew at the start of the round: the messages of a synchronous round are simultaneous,
    /// so two pushes that reach one susceptible node in the same round are both useful. What
    /// Demers et al.'s simulations did (their Table 1 is reproduced with it).
    #[default]
    RoundStart,
    /// Knew when the message arrived: as if contacts happened one at a time, which is what
    /// the mean-field analysis behind `s = e^{-(k+1)(1-s)}` assumes.
    Arrival,
}

impl Feedback {
    /// Both, in the order the tools list them.
    pub const ALL: [Feedback; 2] = [Feedback::RoundStart, Feedback::Arrival];

    /// Stable name, for URLs and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Feedback::RoundStart => "round-start",
            Feedback::Arrival => "arrival",
        }
    }

    /// Parses [`Feedback::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether the sender hears "I already knew": `knew_at_round_start` implies
    /// `knew_on_arrival`.
    pub fn receiver_knew(self, knew_at_round_start: bool, knew_on_arrival: bool) -> bool {
        match self {
            Feedback::RoundStart => knew_at_round_start,
            Feedback::Arrival => knew_on_arrival,
        }
    }
}

/// What a spreading node learns about one contact it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactOutcome {
    /// The message was lost or went to a crashed node: no feedback came back.
    NoFeedback,
    /// The receiver did not know the rumor (see [`Feedback`]).
    Useful,
    /// The receiver already knew (see [`Feedback`]).
    Unnecessary,
}

impl ContactOutcome {
    /// The outcome of a contact that was lost or reached a crashed node (`unheard`), or
    /// whose receiver knew the rumor or not (`knew`). A table rather than branches, for the
    /// engine's loop (see [`Interest::after_contact_with`]).
    #[inline(always)]
    pub fn judged(unheard: bool, knew: bool) -> ContactOutcome {
        use ContactOutcome::*;
        const TABLE: [ContactOutcome; 4] = [Useful, Unnecessary, NoFeedback, NoFeedback];
        TABLE[usize::from(unheard) << 1 | usize::from(knew)]
    }
}

impl Interest {
    /// Anti-entropy (never stop).
    pub const FOREVER: Interest = Interest::new(StopRule::Never, 1);

    /// `rule` with its `k`, feedback judged at the start of the round.
    pub const fn new(rule: StopRule, k: u8) -> Interest {
        Interest {
            rule,
            k,
            feedback: Feedback::RoundStart,
        }
    }

    /// Applies the stop rule to one contact. `counter` is the node's per-rumor counter (one
    /// byte). Returns true when the node loses interest; it then stops at the end of the round.
    #[inline]
    pub fn after_contact(
        self,
        outcome: ContactOutcome,
        counter: &mut u8,
        rng: &mut GossipRng,
    ) -> bool {
        let k = self.k;
        self.after_contact_with(outcome, counter, || {
            rng.chance(Chance::one_in(u32::from(k)))
        })
    }

    /// Whether [`Interest::after_contact`] draws from the generator for some contacts and not
    /// others, depending on how they went: then what a contact does changes what is drawn
    /// after it. (The blind coin draws for every contact; the counters and anti-entropy
    /// never draw.)
    pub fn draws_on_outcome(self) -> bool {
        self.rule == StopRule::FeedbackCoin
    }

    /// Whether how each contact went, as this rule sees it, depends only on what receivers
    /// knew at the start of the round: then a round's contacts can be judged before any of
    /// them is delivered. True for anti-entropy, the blind rules, and the feedback rules with
    /// [`Feedback::RoundStart`]; with [`Feedback::Arrival`] a contact's outcome depends on the
    /// contacts before it in the round.
    pub fn judged_at_round_start(self) -> bool {
        match self.rule {
            StopRule::FeedbackCounter | StopRule::FeedbackCoin => {
                self.feedback == Feedback::RoundStart
            }
            StopRule::Never | StopRule::BlindCounter | StopRule::BlindCoin => true,
        }
    }

    /// [`Interest::after_contact`] with the coin drawn by `coin`, for a caller that draws ahead
    /// (see [`Interest::draws_on_outcome`]); called only when the rule flips its coin.
    #[inline(always)]
    pub fn after_contact_with(
        self,
        outcome: ContactOutcome,
        counter: &mut u8,
        coin: impl FnOnce() -> bool,
    ) -> bool {
        // The counters update without a branch on the outcome: mid-run whether a receiver
        // knew is a coin toss, and a mispredicted branch costs more than the contact.
        let unnecessary = outcome == ContactOutcome::Unnecessary;
        match self.rule {
            StopRule::Never => false,
            StopRule::FeedbackCounter => {
                // Counts the unnecessary contacts, restarts at a useful one.
                // A select the compiler may not turn into a branch (it did, where the outcome
                // was known to be one of two).
                let counted = counter.saturating_add(u8::from(unnecessary));
                let kept = outcome != ContactOutcome::Useful;
                *counter = core::hint::select_unpredictable(kept, counted, 0);
                unnecessary & (*counter >= self.k)
            }
            StopRule::BlindCounter => {
                *counter = counter.saturating_add(1);
                *counter >= self.k
            }
            StopRule::FeedbackCoin => unnecessary && coin(),
            StopRule::BlindCoin => coin(),
        }
    }
}

impl Interest {
    /// [`Interest::after_contact_with`] for up to 64 senders at once under a counter rule,
    /// one contact each, every contact delivered: `contacted` says which senders of a word
    /// had a contact, `knew` whether each one's receiver already knew (unnecessary) or not
    /// (useful), and `planes` holds their counters as bit planes (`planes[j]`: bit `j` of
    /// each counter; the widest value they hold is at least `k`, and a counter there stays).
    /// Returns the senders that lose interest. The same rule as `after_contact_with`, on
    /// words: a test holds the two equal for every counter value and outcome.
    #[inline(always)]
    pub fn after_contacts_sliced(self, contacted: u64, knew: u64, planes: &mut [u64]) -> u64 {
        // The usual widths (k up to 7) with their loops unrolled.
        match planes.len() {
            1 => self.sliced(contacted, knew, &mut planes[..1]),
            2 => self.sliced(contacted, knew, &mut planes[..2]),
            3 => self.sliced(contacted, knew, &mut planes[..3]),
            _ => self.sliced(contacted, knew, planes),
        }
    }

    #[inline(always)]
    fn sliced(self, contacted: u64, knew: u64, planes: &mut [u64]) -> u64 {
        let counted = match self.rule {
            // Counts the unnecessary contacts, restarts at a useful one.
            StopRule::FeedbackCounter => {
                let useful = contacted & !knew;
                for plane in planes.iter_mut() {
                    *plane &= !useful;
                }
                contacted & knew
            }
            StopRule::BlindCounter => contacted,
            _ => unreachable!("a counter rule"),
        };
        // Add one where counted, a ripple of carries through the planes; a counter that
        // overflows is held at the widest value.
        let mut carry = counted;
        for plane in planes.iter_mut() {
            let next = *plane & carry;
            *plane ^= carry;
            carry = next;
        }
        for plane in planes.iter_mut() {
            *plane |= carry;
        }
        counted & at_least(planes, self.k)
    }
}

/// Which of 64 counters, as bit planes (`planes[j]`: bit `j` of each), are at least `k`:
/// compared from the top bit down, as long as the bits above are equal.
#[inline(always)]
fn at_least(planes: &[u64], k: u8) -> u64 {
    let (mut above, mut equal) = (0u64, u64::MAX);
    for (j, &plane) in planes.iter().enumerate().rev() {
        // Where k's bit is 0, a 1 here puts the counter above; equal goes on where the bits
        // agree.
        let k_bit = 0u64.wrapping_sub(u64::from(k >> j & 1));
        above |= equal & plane & !k_bit;
        equal &= !(plane ^ k_bit);
    }
    // Bits of `k` above the planes are zero: `k` fits in them.
    above | equal
}

/// Whether a run is over: no live node spreads the rumor any more or, under anti-entropy (where
/// nobody ever stops), every live node knows it. Rumor mongering plays on after everyone knows,
/// until the last spreader loses interest: nodes cannot know that everyone knows, and those
/// last useless messages are part of its traffic (Demers et al.'s `m`, docs/FIDELITY.md).
pub fn run_is_over(counts: crate::metrics::Counts, rule: StopRule) -> bool {
    counts.spreading == 0 || (counts.susceptible == 0 && !rule.is_rumor_mongering())
}

/// The phase a node had at the start of the round: a node informed during the round was
/// still susceptible then, and does not send or answer until the next round.
#[inline(always)]
pub fn phase_at_round_start(phase: Phase, informed_this_round: bool) -> Phase {
    if informed_this_round {
        Phase::Susceptible
    } else {
        phase
    }
}

/// Whether a node answers a pull request: it knew the rumor at the start of the round and is
/// still spreading it (only "hot" rumors are sent; under anti-entropy every informed node is
/// spreading).
#[inline]
pub fn answers_pull(phase_at_round_start: Phase) -> bool {
    phase_at_round_start == Phase::Spreading
}

/// The largest fanout: peers contacted per node per round.
pub const MAX_FANOUT: u8 = 16;

/// Settings of the rumor rules that may change between rounds, while a run plays (tunables;
/// "live" names only live mode, the real WebRTC nodes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tunables {
    /// Peers contacted per node per round, `1..=MAX_FANOUT`.
    pub fanout: u8,
    /// Probability that any one message is lost, `0.0..=1.0`.
    pub loss: f64,
    /// When spreading nodes lose interest.
    pub interest: Interest,
}

/// A setting outside its valid range.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingsError {
    /// Too few or too many nodes.
    Nodes(u64),
    /// Fanout outside `1..=MAX_FANOUT`.
    Fanout(u32),
    /// Loss outside `[0, 1]`.
    Loss(f64),
    /// Stop-rule `k` outside `1..=255`.
    K(u32),
    /// Crashed fraction outside `[0, 1)`.
    Crashed(f64),
    /// The topology cannot be built on this many nodes.
    Topology(&'static str),
    /// The chosen source node does not exist.
    Source(u32),
    /// The chosen source node is crashed.
    SourceCrashed(u32),
    /// A hand-picked peer (from, to) is not a neighbour of the node that tells it.
    NotNeighbour(u32, u32),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Nodes(n) => write!(f, "nodes must be 2..=100000000, got {n}"),
            SettingsError::Fanout(x) => write!(f, "fanout must be 1..={MAX_FANOUT}, got {x}"),
            SettingsError::Loss(x) => write!(f, "loss must be a probability in [0, 1], got {x}"),
            SettingsError::K(x) => write!(f, "k must be 1..=255, got {x}"),
            SettingsError::Crashed(x) => write!(f, "crashed must be a fraction in [0, 1), got {x}"),
            SettingsError::Topology(why) => write!(f, "topology: {why}"),
            SettingsError::Source(x) => write!(f, "source node {x} does not exist"),
            SettingsError::SourceCrashed(x) => write!(f, "source node {x} is crashed"),
            SettingsError::NotNeighbour(a, b) => {
                write!(f, "node {b} is not a neighbour of node {a}")
            }
        }
    }
}

impl core::error::Error for SettingsError {}

impl Tunables {
    /// Checks every range; the engine and nodes only ever hold valid settings.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.fanout == 0 || self.fanout > MAX_FANOUT {
            return Err(SettingsError::Fanout(self.fanout.into()));
        }
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(SettingsError::Loss(self.loss));
        }
        if self.interest.k == 0 {
            return Err(SettingsError::K(0));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec, vec::Vec};

    #[test]
    fn the_sliced_counters_follow_the_rule_contact_by_contact() {
        // Every counter value a width holds, each outcome, contacted or not, for several k:
        // 64 lanes a case, against `after_contact_with` on a byte per lane.
        for rule in [StopRule::FeedbackCounter, StopRule::BlindCounter] {
            for k in [1u8, 2, 3, 4, 5, 7, 8, 100, 254, 255] {
                let bits = (u8::BITS - k.leading_zeros()) as usize;
                let widest = u8::MAX >> (8 - bits);
                let interest = Interest::new(rule, k);
                let lanes: Vec<(u8, bool, bool)> = (0..=widest)
                    .flat_map(|v| [(v, false, false), (v, true, false), (v, true, true)])
                    .collect();
                for chunk in lanes.chunks(64) {
                    let mut planes = vec![0u64; bits];
                    let (mut contacted, mut knew) = (0u64, 0u64);
                    for (lane, &(v, c, kn)) in chunk.iter().enumerate() {
                        for (j, plane) in planes.iter_mut().enumerate() {
                            *plane |= u64::from(v >> j & 1) << lane;
                        }
                        contacted |= u64::from(c) << lane;
                        knew |= u64::from(kn) << lane;
                    }
                    let stops = interest.after_contacts_sliced(contacted, knew, &mut planes);
                    for (lane, &(v, c, kn)) in chunk.iter().enumerate() {
                        let mut counter = v;
                        let stop = c
                            && interest.after_contact_with(
                                ContactOutcome::judged(false, kn),
                                &mut counter,
                                || unreachable!("no coin"),
                            );
                        let after = (0..bits)
                            .map(|j| ((planes[j] >> lane) as u8 & 1) << j)
                            .sum::<u8>();
                        let case = format!("{rule:?} k {k}, counter {v}, contact {c}, knew {kn}");
                        assert_eq!(stops >> lane & 1 == 1, stop, "stops: {case}");
                        assert_eq!(after, counter.min(widest), "counter after: {case}");
                    }
                }
            }
        }
    }

    fn rng() -> GossipRng {
        GossipRng::from_seed_u64(3)
    }

    #[test]
    fn anti_entropy_never_loses_interest() {
        let mut c = 0;
        for o in [
            ContactOutcome::Unnecessary,
            ContactOutcome::Useful,
            ContactOutcome::NoFeedback,
        ] {
            assert!(!Interest::FOREVER.after_contact(o, &mut c, &mut rng()));
        }
    }

    #[test]
    fn feedback_counter_stops_after_k_unnecessary_contacts_in_a_row() {
        let rule = Interest::new(StopRule::FeedbackCounter, 2);
        let (mut c, mut r) = (0, rng());
        assert!(!rule.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
        assert!(!rule.after_contact(ContactOutcome::Useful, &mut c, &mut r));
        assert!(!rule.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
        assert!(rule.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
    }

    #[test]
    fn feedback_counter_stops_after_k_unnecessary_contacts_only() {
        let rule = Interest::new(StopRule::FeedbackCounter, 2);
        let (mut c, mut r) = (0, rng());
        assert!(!rule.after_contact(ContactOutcome::Useful, &mut c, &mut r));
        assert!(!rule.after_contact(ContactOutcome::NoFeedback, &mut c, &mut r));
        assert!(!rule.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
        assert!(rule.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
    }

    #[test]
    fn blind_counter_counts_every_contact() {
        let rule = Interest::new(StopRule::BlindCounter, 3);
        let (mut c, mut r) = (0, rng());
        assert!(!rule.after_contact(ContactOutcome::Useful, &mut c, &mut r));
        assert!(!rule.after_contact(ContactOutcome::NoFeedback, &mut c, &mut r));
        assert!(rule.after_contact(ContactOutcome::Useful, &mut c, &mut r));
    }

    #[test]
    fn coin_with_k_one_always_stops_and_feedback_coin_ignores_useful_contacts() {
        let (mut c, mut r) = (0, rng());
        let blind = Interest::new(StopRule::BlindCoin, 1);
        assert!(blind.after_contact(ContactOutcome::Useful, &mut c, &mut r));
        let fb = Interest::new(StopRule::FeedbackCoin, 1);
        assert!(!fb.after_contact(ContactOutcome::Useful, &mut c, &mut r));
        assert!(fb.after_contact(ContactOutcome::Unnecessary, &mut c, &mut r));
    }

    #[test]
    fn coin_stops_about_one_in_k() {
        let rule = Interest::new(StopRule::BlindCoin, 4);
        let (mut c, mut r) = (0, rng());
        let stops = (0..40_000)
            .filter(|_| rule.after_contact(ContactOutcome::Useful, &mut c, &mut r))
            .count();
        assert!((9_500..10_500).contains(&stops), "{stops}");
    }

    #[test]
    fn names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
        }
        for s in StopRule::ALL {
            assert_eq!(StopRule::from_name(s.name()), Some(s));
        }
        assert_eq!(Protocol::from_name("gossip"), None);
    }
}

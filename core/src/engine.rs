//! The round engine: synchronous rounds over up to 10^8 nodes, one byte of hot state per node
//! (plus a byte for the stop rules' counter, touched only by rumor mongering), and a few bit
//! sets over the nodes so that a round touches only the nodes it concerns (see [`NodeSets`]).
//!
//! This is the fast path of the rules in [`crate::rules`]: a struct of arrays swept in node
//! order, twice a round (pushes, then pulls). A test-only reference (`core/tests/reference/`)
//! runs the same rules through a per-node state machine in lockstep, and a statistical test
//! shows the two give the same distribution of rounds and messages; another holds the lab's
//! time-based rumor node ([`crate::lab::rumor`]) to the engine in aligned rounds.

use crate::metrics::{Counts, Fate, MessageKind, RoundStats, Traffic, Transmission};
use crate::rng::{Chance, GossipRng, Stream};
use crate::rules::{
    self, answers_pull, ContactOutcome, Interest, Phase, Protocol, SettingsError, StopRule,
    Tunables, MAX_FANOUT,
};
use crate::topology::{self, Graph, Lattice, Topology};
use alloc::vec;
use alloc::vec::Vec;
use counters::Counters;

mod counters;

/// The largest network the engine accepts.
pub const MAX_NODES: u32 = 100_000_000;

/// Everything that defines a run. Equal settings give identical runs on every platform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Number of nodes, `2..=MAX_NODES` (and at least [`Topology::min_nodes`]).
    pub nodes: u32,
    /// Push, pull or push-pull.
    pub protocol: Protocol,
    /// Fanout, loss and stop rule (these may change while a run plays).
    pub tunables: Tunables,
    /// Who may contact whom.
    pub topology: Topology,
    /// Fraction of nodes crashed from the start, `[0, 1)`. Which nodes crash depends on the
    /// seed only, so moving the source keeps the same crashed set.
    pub crashed: f64,
    /// Master seed: derives the topology, the crashed set and every draw of the rounds.
    pub seed: u64,
    /// The node that knows the rumor at round 0; it MUST be live. `None`: the first live node.
    pub source: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nodes: 1_000,
            protocol: Protocol::Push,
            tunables: Tunables {
                fanout: 1,
                loss: 0.0,
                interest: Interest::new(StopRule::Never, 2),
            },
            topology: Topology::Complete,
            crashed: 0.0,
            seed: 1,
            source: None,
        }
    }
}

impl Settings {
    /// Nodes crashed from the start: exactly `round(crashed · nodes)`, leaving at least one
    /// live.
    pub fn crashed_nodes(&self) -> u32 {
        (libm::round(self.crashed * f64::from(self.nodes)) as u32).min(self.nodes - 1)
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.nodes < 2 || self.nodes > MAX_NODES {
            return Err(SettingsError::Nodes(self.nodes.into()));
        }
        self.tunables.validate()?;
        if !(0.0..1.0).contains(&self.crashed) {
            return Err(SettingsError::Crashed(self.crashed));
        }
        if let Some(source) = self.source.filter(|&s| s >= self.nodes) {
            return Err(SettingsError::Source(source));
        }
        if self.nodes < self.topology.min_nodes() {
            // Graph::build names the topology's own minimum.
            Graph::build(self.topology, self.nodes, self.seed)?;
        }
        Ok(())
    }

    /// An upper estimate of the memory one run of these settings needs at its peak (building
    /// the graph), in bytes: so a driver can refuse a run that will not fit before allocating
    /// it (Linux overcommits, so a failed allocation would surface later as the OOM killer).
    pub fn peak_memory_bytes(&self) -> u64 {
        let n = u64::from(self.nodes);
        // Node state, stop counters, the initial crash flags while they are drawn, and the
        // bit sets (`NodeSets`: five sets, and a scratch of two more with crashed nodes).
        let state = 3 * n + 7 * n / 8;
        // A sparse graph is built from an edge list (8 bytes an edge), counted and sorted
        // into adjacency lists (two 4-byte ends an edge, three 4-byte arrays per node).
        let edges_per_node = match self.topology {
            Topology::Complete => return state,
            Topology::Ring => 1,
            Topology::Torus | Topology::Regular | Topology::SmallWorld => 2,
            Topology::ScaleFree => crate::topology::SCALE_FREE_LINKS,
        };
        let edges = u64::from(edges_per_node) * n;
        let ends = if self.topology == Topology::ScaleFree {
            2 * 4 * edges // Every edge end, for degree-proportional picks.
        } else {
            0
        };
        state + 8 * edges + 8 * edges + 12 * n + ends
    }
}

/// What the view needs to know of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeView {
    /// Live; its rumor phase.
    Live(Phase),
    /// Crashed.
    Crashed,
}

/// Sixty-four nodes as bit sets ([`RoundEngine::iter_node_words`]): bit `b` is node
/// `64 w + b` of word `w`. A node in none of `spreading`, `stopped` and `crashed` is live and
/// susceptible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeWord {
    /// Live and spreading ([`Phase::Spreading`]).
    pub spreading: u64,
    /// Live, informed, and no longer spreading ([`Phase::Stopped`]).
    pub stopped: u64,
    /// Crashed, whatever they knew ([`NodeView::Crashed`]).
    pub crashed: u64,
    /// Informed in the last round played (live or crashed since).
    pub new: u64,
}

impl NodeWord {
    /// Node `b`'s view (`b` below 64).
    pub fn view(&self, b: u32) -> NodeView {
        let has = |set: u64| (set >> b) & 1 == 1;
        if has(self.crashed) {
            NodeView::Crashed
        } else if has(self.spreading) {
            NodeView::Live(Phase::Spreading)
        } else if has(self.stopped) {
            NodeView::Live(Phase::Stopped)
        } else {
            NodeView::Live(Phase::Susceptible)
        }
    }
}

/// A run's state at the end of one round, everything [`RoundEngine::restore`] needs to show
/// that round again and play on from it exactly as before (see [`crate::timeline`]). The
/// graph is not in it: it never changes during a run.
#[derive(Clone, Debug)]
pub struct Snapshot {
    settings: Settings,
    nodes: Vec<u8>,
    /// The stop counters; `None` when all are zero (always under anti-entropy).
    counters: Option<Counters>,
    rng: GossipRng,
    round: u32,
    counts: Counts,
    arrows: Vec<Transmission>,
}

impl Snapshot {
    /// The round it was taken at.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Bytes it holds (what a timeline counts against its budget).
    pub fn bytes(&self) -> usize {
        self.nodes.len()
            + self.counters.as_ref().map_or(0, Counters::bytes)
            + self.arrows.len() * core::mem::size_of::<Transmission>()
            + core::mem::size_of::<Snapshot>()
    }
}

// One byte per node. Bits 0-1: phase. FRESH: informed this round (it does not send until the
// next). NEW: informed in the last round played (for drawing). The end of a round turns FRESH
// into NEW, and those who lost interest during it into STOPPED, visiting only those nodes
// (see `NodeSets`): no per-round lists, no allocation. A round of bits pushes alone writes no
// byte at all (see `RoundEngine::bytes_behind`).
const PHASE: u8 = 0b0011;
const SUSCEPTIBLE: u8 = 0;
const SPREADING: u8 = 1;
const STOPPED: u8 = 2;
const CRASHED: u8 = 0b0100;
const FRESH: u8 = 0b1000;
const NEW: u8 = 0b10_0000;

fn phase_of(byte: u8) -> Phase {
    match byte & PHASE {
        SUSCEPTIBLE => Phase::Susceptible,
        SPREADING => Phase::Spreading,
        _ => Phase::Stopped,
    }
}

fn view_of(byte: u8) -> NodeView {
    if byte & CRASHED != 0 {
        NodeView::Crashed
    } else {
        NodeView::Live(phase_of(byte))
    }
}

fn phase_at_round_start(byte: u8) -> Phase {
    rules::phase_at_round_start(phase_of(byte), byte & FRESH != 0)
}

/// The crashed nodes at the start ([`Settings::crashed_nodes`] of them), uniformly at random
/// (Knuth's selection sampling, from the crash stream).
/// Returns one flag per node and the source: the given one, or the first live node.
pub(crate) fn initial_crashes(settings: &Settings) -> Result<(Vec<bool>, u32), SettingsError> {
    let n = settings.nodes;
    let mut crashed = vec![false; n as usize];
    let mut to_crash = settings.crashed_nodes();
    let mut rng = GossipRng::derive(settings.seed, Stream::Crashes, 0);
    for (i, flag) in crashed.iter_mut().enumerate() {
        if to_crash == 0 {
            break;
        }
        if rng.below(n - i as u32) < to_crash {
            *flag = true;
            to_crash -= 1;
        }
    }
    let source = match settings.source {
        Some(s) if crashed[s as usize] => return Err(SettingsError::SourceCrashed(s)),
        Some(s) => s,
        None => crashed
            .iter()
            .position(|&c| !c)
            .expect("at least one node is live") as u32,
    };
    Ok((crashed, source))
}

/// A run in progress. Construct with [`RoundEngine::new`], advance with [`RoundEngine::step`].
#[derive(Clone, Debug)]
pub struct RoundEngine {
    settings: Settings,
    graph: Graph,
    nodes: Vec<u8>,
    /// The stop rules' per-node counter.
    counters: Counters,
    rng: GossipRng,
    round: u32,
    counts: Counts,
    history: Vec<RoundStats>,
    arrows: Vec<Transmission>,
    arrow_cap: usize,
    /// Who pushes, who was informed, who lost interest, as bit sets (see [`NodeSets`]).
    sets: NodeSets,
    /// The node bytes lag the sets: the bits push loop keeps only the sets, and the bytes
    /// catch up ([`RoundEngine::catch_up_bytes`]) before a loop that reads them runs.
    bytes_behind: bool,
    /// Every round keeps the node bytes (see [`RoundEngine::keep_node_bytes`]).
    keep_bytes: bool,
    /// Scratch of [`Round::push_drawn_ahead`].
    ahead: Ahead,
}

impl RoundEngine {
    /// Builds the topology, crashes the initial fraction and informs the source (round 0).
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        settings.validate()?;
        let graph = Graph::build(settings.topology, settings.nodes, settings.seed)?;
        let n = settings.nodes;
        let (crashed_flags, source) = initial_crashes(&settings)?;
        let mut settings = settings;
        settings.source = Some(source);
        let mut crashed = 0;
        let mut nodes: Vec<u8> = crashed_flags
            .iter()
            .map(|&c| {
                crashed += u32::from(c);
                if c {
                    CRASHED
                } else {
                    SUSCEPTIBLE
                }
            })
            .collect();
        drop(crashed_flags);
        nodes[source as usize] = SPREADING;
        let mut sets = NodeSets::default();
        sets.rebuild(&nodes);
        let counts = Counts {
            susceptible: n - crashed - 1,
            spreading: 1,
            stopped: 0,
            crashed,
        };
        let start = RoundStats {
            round: 0,
            counts,
            ..RoundStats::default()
        };
        Ok(RoundEngine {
            settings,
            graph,
            nodes,
            counters: Counters::new(n as usize, settings.tunables.interest.k),
            rng: GossipRng::derive(settings.seed, Stream::Rounds, 0),
            round: 0,
            counts,
            history: vec![start],
            arrows: Vec::new(),
            arrow_cap: 0,
            sets,
            bytes_behind: false,
            keep_bytes: false,
            ahead: Ahead::default(),
        })
    }

    /// The settings the run started with (the source resolved), with the live ones as they
    /// are now.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The graph nodes gossip on.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node that knew the rumor at round 0.
    pub fn source(&self) -> u32 {
        self.settings.source.expect("resolved in new")
    }

    /// Rounds played so far.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Node counts now.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// One record per round, round 0 (the start) first.
    pub fn history(&self) -> &[RoundStats] {
        &self.history
    }

    /// The last round's record (round 0 before the first step).
    pub fn last(&self) -> &RoundStats {
        self.history.last().expect("history starts with round 0")
    }

    /// The run is over (see [`rules::run_is_over`]).
    pub fn is_finished(&self) -> bool {
        rules::run_is_over(self.counts, self.settings.tunables.interest.rule)
    }

    /// How one node stands now.
    pub fn node(&self, i: u32) -> NodeView {
        view_of(self.byte(i))
    }

    /// Every node in order: cheap enough to run each frame over a million nodes.
    pub fn iter_nodes(&self) -> impl ExactSizeIterator<Item = NodeView> + '_ {
        match self.bytes_behind {
            false => Nodes::Bytes(self.nodes.iter()),
            true => Nodes::Behind {
                sets: &self.sets,
                old: &self.nodes,
                word: [0; 64],
                next: 0,
            },
        }
    }

    /// Every node, 64 to a word ([`NodeWord`]), from the bit sets the rounds keep: what a view
    /// that draws every node each frame reads, so that it can paint a word whose nodes all
    /// stand alike (most words of most rounds) at once rather than node by node. Node `i` is
    /// bit `i % 64` of word `i / 64`; the last word's bits past the last node are clear.
    pub fn iter_node_words(&self) -> impl ExactSizeIterator<Item = NodeWord> + '_ {
        let s = &self.sets;
        (0..s.spreading.len()).map(move |w| {
            let crashed = s.crashed[w];
            NodeWord {
                spreading: s.spreading[w],
                stopped: s.informed[w] & !s.spreading[w] & !crashed,
                crashed,
                new: s.new[w],
            }
        })
    }

    /// Node `i`'s byte as it is now, whether or not the bytes are behind.
    #[inline(always)]
    fn byte(&self, i: u32) -> u8 {
        let old = self.nodes[i as usize];
        if self.bytes_behind {
            self.sets.byte(i, old)
        } else {
            old
        }
    }

    /// Whether every round keeps the node bytes, for a caller that reads every node after
    /// every round (a view redrawn each frame, a timeline's snapshots): then the bytes are
    /// read as they are. Off by default: a run nobody looks at between rounds pushes on the
    /// bit sets alone, faster, and its bytes catch up only when read.
    pub fn keep_node_bytes(&mut self, keep: bool) {
        self.keep_bytes = keep;
    }

    /// Nodes informed in the last round, in node order.
    pub fn iter_newly_informed(&self) -> impl Iterator<Item = u32> + '_ {
        (0..).zip(&self.sets.new).flat_map(|(w, &word)| {
            let mut word = word;
            core::iter::from_fn(move || {
                let b = word.trailing_zeros();
                word &= word.wrapping_sub(1);
                (b < 64).then_some(w * 64 + b)
            })
        })
    }

    /// The last round's messages: all of them in the order they were sent, or, past
    /// [`RoundEngine::set_arrow_cap`], a uniform sample of that many.
    pub fn transmissions(&self) -> &[Transmission] {
        &self.arrows
    }

    /// How many of each round's messages to keep for drawing (default 0).
    pub fn set_arrow_cap(&mut self, cap: usize) {
        self.arrow_cap = cap;
    }

    /// Changes fanout, loss and stop rule; they apply from the next round on. A node's stop
    /// counter restarts when the rule changes. Switching to anti-entropy ([`StopRule::Never`])
    /// puts every live node that had stopped back to spreading: under anti-entropy every
    /// informed node gossips (Demers et al.'s "anti-entropy as a backup to rumor mongering").
    pub fn set_tunables(&mut self, tunables: Tunables) -> Result<(), SettingsError> {
        tunables.validate()?;
        if tunables.interest != self.settings.tunables.interest {
            self.counters.reset(tunables.interest.k);
        }
        if tunables.interest.rule == StopRule::Never {
            self.catch_up_bytes();
            for byte in self.nodes.iter_mut() {
                if *byte & (PHASE | CRASHED) == STOPPED {
                    *byte = (*byte & !PHASE) | SPREADING;
                    self.counts.stopped -= 1;
                    self.counts.spreading += 1;
                }
            }
            self.sets.rebuild(&self.nodes);
        }
        self.settings.tunables = tunables;
        Ok(())
    }

    /// Changes push / pull / push-pull from the next round on.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.settings.protocol = protocol;
    }

    /// Makes `node` the source. Only before the first round; the node MUST be live.
    pub fn set_source(&mut self, node: u32) -> Result<(), SettingsError> {
        if self.round != 0 || node >= self.settings.nodes || self.node(node) == NodeView::Crashed {
            return Err(SettingsError::Source(node));
        }
        self.catch_up_bytes();
        let old = self.source() as usize;
        self.nodes[old] = SUSCEPTIBLE | (self.nodes[old] & CRASHED);
        if self.nodes[old] & CRASHED == 0 {
            self.counts.spreading -= 1;
            self.counts.susceptible += 1;
        }
        self.nodes[node as usize] = SPREADING;
        self.counts.susceptible -= 1;
        self.counts.spreading += 1;
        self.settings.source = Some(node);
        self.sets.rebuild(&self.nodes);
        self.history[0].counts = self.counts;
        Ok(())
    }

    /// Crashes `node` (between rounds): it no longer sends, receives or answers, and keeps
    /// what it knew. Returns false if it was already crashed.
    pub fn kill(&mut self, node: u32) -> bool {
        self.catch_up_bytes();
        let byte = &mut self.nodes[node as usize];
        if *byte & CRASHED != 0 {
            return false;
        }
        *byte |= CRASHED;
        let phase = phase_of(*byte);
        *self.count_of(phase) -= 1;
        self.counts.crashed += 1;
        self.sets.spreading[node as usize / 64] &= !bit(node);
        self.sets.crashed[node as usize / 64] |= bit(node);
        self.sets.known.stride = 0;
        true
    }

    /// Revives a crashed `node` with the knowledge it had. Returns false if it was live.
    pub fn revive(&mut self, node: u32) -> bool {
        self.catch_up_bytes();
        let byte = &mut self.nodes[node as usize];
        if *byte & CRASHED == 0 {
            return false;
        }
        *byte &= !CRASHED;
        let phase = phase_of(*byte);
        *self.count_of(phase) += 1;
        self.counts.crashed -= 1;
        if phase == Phase::Spreading {
            self.sets.spreading[node as usize / 64] |= bit(node);
            if !LEAN {
                mark_word(&mut self.sets.spreading_words, node as usize / 64, 1);
            }
        }
        self.sets.crashed[node as usize / 64] &= !bit(node);
        self.sets.known.stride = 0;
        true
    }

    /// The state now, to [`RoundEngine::restore`] later.
    pub fn snapshot(&self) -> Snapshot {
        let counters = (!self.counters.all_zero()).then(|| self.counters.clone());
        Snapshot {
            settings: self.settings,
            nodes: match self.bytes_behind {
                true => {
                    let mut bytes = self.nodes.clone();
                    self.sets.catch_up(&mut bytes);
                    bytes
                }
                false => self.nodes.clone(),
            },
            counters,
            rng: self.rng.clone(),
            round: self.round,
            counts: self.counts,
            arrows: self.arrows.clone(),
        }
    }

    /// Puts the run back as it was when `snapshot` was taken; `history` is the records of
    /// rounds 0 to the snapshot's round (the engine keeps one record per round played).
    /// The snapshot MUST come from this run (same nodes and graph).
    pub fn restore(&mut self, snapshot: &Snapshot, history: &[RoundStats]) {
        debug_assert_eq!(snapshot.nodes.len(), self.nodes.len());
        debug_assert_eq!(history.len(), snapshot.round as usize + 1);
        self.settings = snapshot.settings;
        self.nodes.copy_from_slice(&snapshot.nodes);
        match &snapshot.counters {
            Some(counters) => self.counters.clone_from(counters),
            None => self.counters.reset(snapshot.settings.tunables.interest.k),
        }
        self.rng = snapshot.rng.clone();
        self.round = snapshot.round;
        self.counts = snapshot.counts;
        self.arrows.clone_from(&snapshot.arrows);
        self.history.clear();
        self.history.extend_from_slice(history);
        self.sets.rebuild(&self.nodes);
        self.bytes_behind = false;
    }

    /// Brings the node bytes up to the sets (see [`RoundEngine::bytes_behind`]).
    fn catch_up_bytes(&mut self) {
        if self.bytes_behind {
            self.sets.catch_up(&mut self.nodes);
            self.bytes_behind = false;
        }
    }

    fn count_of(&mut self, phase: Phase) -> &mut u32 {
        match phase {
            Phase::Susceptible => &mut self.counts.susceptible,
            Phase::Spreading => &mut self.counts.spreading,
            Phase::Stopped => &mut self.counts.stopped,
        }
    }

    /// Plays one round (see [`crate::rules`] for exactly what a round is) and returns its record.
    pub fn step(&mut self) -> &RoundStats {
        self.play_round(None)
    }

    /// Plays one round in which `from`, if it pushes this round, tells `to` (and, with a
    /// fanout above 1, the other peers it drew); every other draw is the one [`RoundEngine::step`]
    /// would make, so a run steered by hand and the same seed played alone differ only by
    /// that choice. This is how a student plays node 0 in the first lesson. Refused when `to`
    /// is not a neighbour of `from`.
    pub fn step_steered(&mut self, from: u32, to: u32) -> Result<&RoundStats, SettingsError> {
        let n = self.settings.nodes;
        let neighbour = match &self.graph {
            Graph::Complete { .. } => from != to,
            sparse => sparse.sparse_neighbors(from).contains(&to),
        };
        if from >= n || to >= n || !neighbour {
            return Err(SettingsError::NotNeighbour(from, to));
        }
        Ok(self.play_round(Some((from, to))))
    }

    fn play_round(&mut self, steer: Option<(u32, u32)>) -> &RoundStats {
        self.round += 1;
        self.arrows.clear();
        let tunables = self.settings.tunables;
        let protocol = self.settings.protocol;
        // Every rule whose contacts are judged by what receivers knew at the round's start
        // (anti-entropy, the blind rules, feedback at round start: every run but feedback on
        // arrival) pushes on one bit per node: same rules, same draws, same trace (a test holds
        // them equal). Such a round of pushes alone keeps only the sets; any other round reads
        // the node bytes, so they catch up first.
        let quiet = self.arrow_cap == 0 && steer.is_none();
        let push_bits = protocol.pushes() && tunables.interest.judged_at_round_start() && quiet;
        // Pulls on bits when no draw depends on how a request went: no loss, and no stop rule
        // (an answer moves its sender's counter or flips its coin).
        let pull_bits = protocol.pulls()
            && !LEAN
            && tunables.loss <= 0.0
            && tunables.interest.rule == StopRule::Never
            && quiet;
        let bits = (push_bits || !protocol.pushes()) && (pull_bits || !protocol.pulls());
        if bits && !self.keep_bytes {
            self.bytes_behind = true;
        } else {
            self.catch_up_bytes();
        }
        let keep_bytes = !self.bytes_behind;
        // A round of fewer than about three pushers a word of the sets keeps the summary of
        // who it informs as it goes, and its end visits only the words of the summaries; a
        // denser one, whose messages would pay for that more than a sweep of every word
        // costs, sweeps them at its end (and rebuilds the summaries there). Three measured
        // best among 1/3, 1, 3 and 8 on the stop rules at 10^6.
        // The page (see [`LEAN`]) keeps the sweeps alone: code it downloads first.
        let sparse = !LEAN && (self.counts.spreading as usize) < 3 * self.sets.spreading.len();
        let mut round = Round {
            nodes: &mut self.nodes,
            fresh: &mut self.sets.fresh,
            fresh_words: &mut self.sets.fresh_words,
            leaving: &mut self.sets.leaving,
            ahead: &mut self.ahead,
            counters: &mut self.counters,
            graph: &self.graph,
            arrows: &mut self.arrows,
            arrow_cap: self.arrow_cap,
            arrows_seen: 0,
            arrow_pick: u64::from(self.round),
            rng: self.rng.clone(),
            traffic: Traffic::default(),
            fanout: u32::from(tunables.fanout),
            loss: Chance::new(tunables.loss),
            interest: tunables.interest,
            steer,
            sparse,
        };
        let crashed = (self.counts.crashed > 0).then_some(&self.sets.crashed[..]);
        if push_bits {
            round.push_phase_bits(
                &self.sets.spreading,
                &self.sets.spreading_words,
                &self.sets.informed,
                crashed,
                &mut self.sets.known,
                keep_bytes,
            );
        } else if protocol.pushes() {
            round.push_phase(&self.sets.spreading);
        }
        if pull_bits {
            round.pull_phase_bits(
                &self.sets.spreading,
                &self.sets.informed,
                crashed,
                keep_bytes,
            );
        } else if protocol.pulls() {
            round.pull_phase();
        }
        let (rng, traffic) = (round.rng, round.traffic);
        self.rng = rng;
        let informed = traffic.informed as u32;
        self.counts.susceptible -= informed;
        self.counts.spreading += informed;
        self.end_round(sparse);

        let mut total = self.last().total;
        total += traffic;
        self.history.push(RoundStats {
            round: self.round,
            counts: self.counts,
            traffic,
            total,
        });
        self.last()
    }

    /// End of the round: the newly informed (FRESH) may send from the next round and are marked
    /// NEW for the view, the last round's NEW are not new any more, and those who lost interest
    /// stop. A `sparse` round visits only those nodes, found through the sets' summaries; a
    /// dense one sweeps every word, and rebuilds the summaries as it goes (its per-message loops
    /// did not keep `fresh_words`). The node bytes only when they are kept (see
    /// [`RoundEngine::bytes_behind`]).
    fn end_round(&mut self, sparse: bool) {
        // The caller's `sparse` is already false in the page; said again here so that, with
        // this function not inlined, the page's build still drops the sparse branch below.
        let sparse = sparse && !LEAN;
        let NodeSets {
            spreading,
            informed: knows,
            fresh,
            new,
            leaving,
            spreading_words,
            fresh_words,
            new_words,
            known,
            ..
        } = &mut self.sets;
        let keep_bytes = !self.bytes_behind;
        let nodes = &mut self.nodes;
        let words = spreading.len();
        // The last round's NEW are not new any more.
        let mut clear_new = |w: usize| {
            if keep_bytes {
                for_each_bit(new[w], w, |i| nodes[i] &= !NEW);
            }
            new[w] = 0;
        };
        match sparse {
            true => {
                for (s, summary) in new_words.iter_mut().enumerate() {
                    for_each_bit(*summary, s, &mut clear_new);
                }
            }
            false if LEAN => {
                if keep_bytes {
                    for (w, &word) in new.iter().enumerate() {
                        for_each_bit(word, w, |i| nodes[i] &= !NEW);
                    }
                }
                new.fill(0);
            }
            false => (0..words).for_each(clear_new),
        }
        new_words.fill(0);
        let mut stopped = 0u32;
        // Word `w`: its informed, its leavers. Returns whether it still has a spreader, 0 or 1.
        // Most words of a dense round have neither: only that is checked for them.
        #[inline(always)]
        fn settle(
            w: usize,
            (informed, left): (u64, &mut u64),
            (spreads, knows): (&mut u64, &mut u64),
            known: &mut Known,
            nodes: Option<&mut [u8]>,
            stopped: &mut u32,
        ) -> u64 {
            if informed | *left != 0 {
                *knows |= informed;
                if !LEAN && known.stride != 0 {
                    known.words[w * known.stride] |= informed;
                }
                if let Some(nodes) = nodes {
                    for_each_bit(informed, w, |i| nodes[i] = (nodes[i] & !FRESH) | NEW);
                    for_each_bit(*left, w, |i| nodes[i] = (nodes[i] & !PHASE) | STOPPED);
                }
                *stopped += left.count_ones();
                *spreads = (*spreads | informed) & !*left;
                *left = 0;
            }
            u64::from(*spreads != 0)
        }
        if sparse {
            // Who lost interest was spreading at the round's start: the words to visit are
            // those of the two summaries.
            for (s, (spreads_summary, &fresh_summary)) in spreading_words
                .iter_mut()
                .zip(fresh_words.iter())
                .enumerate()
            {
                let mut still = 0u64;
                for_each_bit(*spreads_summary | fresh_summary, s, |w| {
                    let spreads = settle(
                        w,
                        (fresh[w], &mut leaving[w]),
                        (&mut spreading[w], &mut knows[w]),
                        known,
                        keep_bytes.then_some(&mut nodes[..]),
                        &mut stopped,
                    );
                    still |= spreads << (w % 64);
                });
                *spreads_summary = still;
            }
        } else if LEAN {
            // The page's engine: every word, no summary kept, and the known set copied again
            // when next needed (less code to download; see `LEAN`).
            known.stride = 0;
            let sets = spreading
                .iter_mut()
                .zip(knows.iter_mut())
                .zip(fresh.iter())
                .zip(leaving.iter_mut());
            for (w, (((spreads, knows), &informed), left)) in sets.enumerate() {
                let nodes = keep_bytes.then_some(&mut nodes[..]);
                settle(
                    w,
                    (informed, left),
                    (spreads, knows),
                    known,
                    nodes,
                    &mut stopped,
                );
            }
        } else {
            // 64 words a summary word, its bits gathered in registers.
            let summaries = spreading_words.iter_mut().zip(fresh_words.iter_mut());
            for (s, (spreads_summary, fresh_summary)) in summaries.enumerate() {
                let (mut still, mut told) = (0u64, 0u64);
                let at = s * 64..words.min(s * 64 + 64);
                let sets = spreading[at.clone()]
                    .iter_mut()
                    .zip(&mut knows[at.clone()])
                    .zip(&fresh[at.clone()])
                    .zip(&mut leaving[at.clone()]);
                for (b, (((spreads, knows), &informed), left)) in sets.enumerate() {
                    // The informed are the next round's NEW.
                    told |= u64::from(informed != 0) << b;
                    still |= settle(
                        at.start + b,
                        (informed, left),
                        (spreads, knows),
                        known,
                        keep_bytes.then_some(&mut nodes[..]),
                        &mut stopped,
                    ) << b;
                }
                *fresh_summary = told;
                *spreads_summary = still;
            }
        }
        debug_assert!(
            leaving.iter().all(|&word| word == 0),
            "a leaver was not spreading"
        );
        // This round's informed are the next round's NEW; the old NEW set, now all zero, is
        // the next round's FRESH.
        core::mem::swap(new, fresh);
        core::mem::swap(new_words, fresh_words);
        self.counts.spreading -= stopped;
        self.counts.stopped += stopped;
    }
}

/// The bit of node `i` in its word of a [`NodeSets`] set.
#[inline(always)]
fn bit(i: u32) -> u64 {
    1 << (i % 64)
}

/// Calls `f` with the node index of every set bit of `word`, the `w`-th word of a set, in
/// increasing order.
#[inline(always)]
fn for_each_bit(mut word: u64, w: usize, mut f: impl FnMut(usize)) {
    while word != 0 {
        f(w * 64 + word.trailing_zeros() as usize);
        word &= word - 1;
    }
}

/// [`Round::push_phase_bits`] under anti-entropy: every node of `spreading` tells the peers
/// `draw` chooses for it, each message lost with probability `loss` (drawn after the peers,
/// as [`Round::push_from_each`] does); marks those told in `known` which, with `CRASHED`,
/// holds pairs of words (knows or is crashed, is crashed; see [`inform_bits_or_crashed`]).
/// Returns the traffic.
#[inline(always)]
fn push_each<const CRASHED: bool>(
    mut draw: impl FnMut(u32, &mut GossipRng, &mut [u32]) -> usize,
    loss: Chance,
    spreading: &[u64],
    known: &mut [u64],
    rng: &mut GossipRng,
) -> Traffic {
    let (mut sent, mut lost, mut informed, mut dead) = (0u64, 0u64, 0u64, 0u64);
    let mut r = rng.clone();
    let mut peers = [0u32; MAX_FANOUT as usize];
    let stride = if CRASHED { 2 } else { 1 };
    for (w, &word) in spreading.iter().enumerate() {
        // `for_each_bit` by hand: its closure, this loop's whole body, was not always inlined.
        let mut pushers = word;
        while pushers != 0 {
            let i = w as u32 * 64 + pushers.trailing_zeros();
            pushers &= pushers - 1;
            let k = draw(i, &mut r, &mut peers);
            sent += k as u64;
            for &to in &peers[..k] {
                let gone = r.chance(loss);
                lost += u64::from(gone);
                // No bit if the link lost it.
                let bit = bit(to) * u64::from(!gone);
                let at = to as usize / 64 * stride;
                if CRASHED {
                    dead += u64::from(known[at + 1] & bit != 0);
                }
                informed += u64::from(known[at] & bit != bit);
                known[at] |= bit;
            }
        }
    }
    *rng = r;
    Traffic {
        sent,
        lost,
        redundant: sent - lost - informed - dead,
        dead_letters: dead,
        informed,
    }
}

/// [`push_each`] on a lattice (ring or torus, `D` neighbours: 2 or 4) in the plain instance
/// (one peer each, none lost, nothing crashed), a word of pushers at a time: each pusher's
/// neighbour is drawn as [`Graph::choose_peer`] draws it (one draw each, whose top bits pick
/// it, as `below(D)` does for a power of two), in node order, two draws at a time; the pushers
/// going the same way are then one mask, and a mask shifted by its step is the word (or two)
/// of its targets, marked in `known` with one read and write. Per message the loop read the
/// neighbour lists (20 MB at 10^6 nodes on the torus) and one bit of `known`, whose
/// consecutive writes to one word waited for each other. The words with nodes whose
/// neighbours wrap (near either end) go one pusher at a time through `graph`. With `SPARSE`,
/// visits the words of `summary` alone and marks in `told` the words where someone was
/// informed. Same draws, same runs (`every_loop_gives_the_same_run`).
#[inline(always)]
fn push_lattice<const SPARSE: bool, const D: u32>(
    graph: &Graph,
    lattice: &Lattice,
    (spreading, summary): (&[u64], &[u64]),
    known: &mut [u64],
    told: &mut [u64],
    rng: &mut GossipRng,
) -> Traffic {
    let (mut sent, mut informed) = (0u64, 0u64);
    let mut r = rng.clone();
    let mut tell = |known: &mut [u64], to: usize, bits: u64| {
        let new = bits & !known[to];
        known[to] |= bits;
        informed += u64::from(new.count_ones());
        if SPARSE {
            mark_word(told, to, u64::from(new != 0));
        }
    };
    let steps = lattice.steps();
    let mut word = |w: usize| {
        let pushers = spreading[w];
        sent += u64::from(pushers.count_ones());
        if !lattice.inner_word(w) {
            for_each_bit(pushers, w, |i| {
                if let Some(to) = graph.choose_peer(i as u32, &mut r) {
                    tell(known, to as usize / 64, bit(to));
                }
            });
            return;
        }
        // Bit 0 and bit 1 of each pusher's neighbour's index (D is 2 or 4: `below(D)` is
        // the draw's top bit or two, and never draws again).
        let (mut low, mut high) = (0u64, 0u64);
        let mut index = |b: u64, draw: u32| {
            let index = u64::from(draw >> (32 - D.trailing_zeros()));
            low |= b & 0u64.wrapping_sub(index & 1);
            high |= b & 0u64.wrapping_sub(index >> 1);
        };
        let mut rest = pushers;
        while rest != 0 {
            let first = rest & rest.wrapping_neg();
            rest ^= first;
            if rest == 0 {
                index(first, r.next_u32());
                break;
            }
            let second = rest & rest.wrapping_neg();
            rest ^= second;
            let [a, b] = r.next_two();
            index(first, a);
            index(second, b);
        }
        let ways: [u64; 4] = match D {
            2 => [pushers & !low, pushers & low, 0, 0],
            _ => [
                pushers & !high & !low,
                pushers & !high & low,
                pushers & high & !low,
                pushers & high & low,
            ],
        };
        for (&way, &step) in ways.iter().zip(steps) {
            // The targets of the pushers at bits j are the nodes 64 w + j + step: from bit
            // `shift` of word `to` on, and past its end into the next word.
            let first = (w * 64) as i64 + i64::from(step);
            let (to, shift) = (first.div_euclid(64) as usize, first.rem_euclid(64) as u32);
            tell(known, to, way << shift);
            if shift != 0 {
                tell(known, to + 1, way >> (64 - shift));
            }
        }
    };
    if SPARSE {
        for (s, &summary) in summary.iter().enumerate() {
            for_each_bit(summary, s, &mut word);
        }
    } else {
        for w in 0..spreading.len() {
            word(w);
        }
    }
    *rng = r;
    Traffic {
        sent,
        lost: 0,
        redundant: sent - informed,
        dead_letters: 0,
        informed,
    }
}

/// [`push_each`] with one peer per pusher on the complete graph of `n` nodes (more than 2)
/// and a loss that takes a draw: each message's peer and fate are drawn together
/// ([`peer_and_chance`]), the same draws in the same order as `push_each` takes them, so the
/// runs are the same; the two draws' multiplies then overlap rather than wait for each other,
/// which is what the lossy loop waited on (ratio to the floor at 10^6, loss 10 %: 2.19-2.24 →
/// 1.80-1.83, with 20 % crashed too 2.40-2.55 → 1.98-2.06). A loop of its own rather than
/// `push_each` with the fates passed as a mask: that measured 10-20 % slower on every row of
/// the table, the lossless ones included.
#[inline(always)]
fn push_each_lossy<const CRASHED: bool>(
    n: u32,
    loss: Chance,
    spreading: &[u64],
    known: &mut [u64],
    rng: &mut GossipRng,
) -> Traffic {
    let (mut sent, mut lost, mut informed, mut dead) = (0u64, 0u64, 0u64, 0u64);
    let mut r = rng.clone();
    let stride = if CRASHED { 2 } else { 1 };
    for (w, &word) in spreading.iter().enumerate() {
        let mut pushers = word;
        while pushers != 0 {
            let i = w as u32 * 64 + pushers.trailing_zeros();
            pushers &= pushers - 1;
            let (to, gone) = peer_and_chance(n, i, loss, &mut r);
            sent += 1;
            lost += u64::from(gone);
            let bit = bit(to) * u64::from(!gone);
            let at = to as usize / 64 * stride;
            if CRASHED {
                dead += u64::from(known[at + 1] & bit != 0);
            }
            informed += u64::from(known[at] & bit != bit);
            known[at] |= bit;
        }
    }
    *rng = r;
    Traffic {
        sent,
        lost,
        redundant: sent - lost - informed - dead,
        dead_letters: dead,
        informed,
    }
}

/// [`push_each`] under a stop rule (`interest`, whose rule is a constant at each call, so the
/// loop is compiled once per rule), on the complete graph of `n` nodes (more than 2), one
/// message per pusher, none lost, no node crashed: each pusher's target is drawn, judged by
/// whether it knew the rumor at the start of the round (`informed`) and, if it did not,
/// marked in `fresh` (all zero when the round starts).
/// Under a counter rule the 64 pushers of a word then update their counters together, on
/// bit planes ([`Interest::after_contacts_sliced`]); a coin is flipped per message, as it is
/// drawn. Who stops goes into `leaving` a word at a time. The draws are
/// [`Round::draw_judged`]'s (the peer, then the coin if the rule flips it), so the runs are
/// the same; only the target and stop lists between them are gone. The blind coin, flipped
/// after every contact, is drawn with its peer ([`peer_and_chance`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn judge_each<const SPARSE: bool>(
    interest: Interest,
    n: u32,
    (spreading, spreading_words): (&[u64], &[u64]),
    informed: &[u64],
    (fresh, fresh_words): (&mut [u64], &mut [u64]),
    counters: &mut Counters,
    leaving: &mut [u64],
    rng: &mut GossipRng,
) -> Traffic {
    let counting = matches!(
        interest.rule,
        StopRule::FeedbackCounter | StopRule::BlindCounter
    );
    let (mut sent, mut newly) = (0u64, 0u64);
    let mut r = rng.clone();
    let coin = Chance::one_in(u32::from(interest.k));
    let paired = interest.rule == StopRule::BlindCoin && coin.draws();
    // Of one length, so one bounds check serves both.
    let fresh = &mut fresh[..informed.len()];
    // Most words of most rounds of rumor mongering: nobody pushes. Only the words of the
    // spreading set's summary are visited; the others are read where someone does.
    for (s, &summary) in spreading_words.iter().enumerate() {
        let mut words = summary;
        while words != 0 {
            let w = s * 64 + words.trailing_zeros() as usize;
            words &= words - 1;
            let word = spreading[w];
            let mut pushers = word;
            let (mut knew_all, mut stops) = (0u64, 0u64);
            while pushers != 0 {
                let lane = pushers.trailing_zeros();
                let i = w as u32 * 64 + lane;
                pushers &= pushers - 1;
                sent += 1;
                let (to, heads) = match paired {
                    true => peer_and_chance(n, i, coin, &mut r),
                    false => (topology::other_node(n, i, &mut r), false),
                };
                let (at, b) = (to as usize / 64, bit(to));
                let (knew, told) = (informed[at], fresh[at]);
                let tells = u64::from((knew | told) & b == 0);
                newly += tells;
                fresh[at] = told | (b & !knew);
                if SPARSE {
                    mark_word(fresh_words, at, tells);
                }
                let knew = knew & b != 0;
                if counting {
                    knew_all |= u64::from(knew) << lane;
                } else {
                    // A coin holds no count.
                    let outcome = ContactOutcome::judged(false, knew);
                    let stop = interest.after_contact_with(outcome, &mut 0, || match paired {
                        true => heads,
                        false => r.chance(coin),
                    });
                    stops |= u64::from(stop) << lane;
                }
            }
            if counting {
                stops = interest.after_contacts_sliced(word, knew_all, counters.word_mut(w));
            }
            leaving[w] |= stops;
        }
    }
    *rng = r;
    Traffic {
        sent,
        lost: 0,
        redundant: sent - newly,
        dead_letters: 0,
        informed: newly,
    }
}

/// A peer for `i` among the other nodes of the complete graph of `n` (more than 2) and then
/// whether `p` (a chance that draws: a loss, a coin) came up: the two draws
/// [`topology::other_node`] and [`GossipRng::chance`] would take one after the other, taken
/// together ([`GossipRng::next_two`]) so that their multiplies overlap rather than wait for
/// each other. A peer draw that Lemire's method would draw again (about n / 2^32 of them)
/// goes the long way, from the peer draw on.
#[inline(always)]
fn peer_and_chance(n: u32, i: u32, p: Chance, r: &mut GossipRng) -> (u32, bool) {
    let [a, b] = r.next_two();
    match GossipRng::below_from(a, n - 1) {
        Some(index) => (index + u32::from(index >= i), p.of(b)),
        None => {
            r.back_one();
            r.back_one();
            (topology::other_node(n, i, r), r.chance(p))
        }
    }
}

/// [`judge_each`] with the rule a constant in each arm, so that its loop is compiled once per
/// rule (`Interest::after_contact_with` folds to the rule's case).
#[allow(clippy::too_many_arguments)]
fn judge_each_rule<const SPARSE: bool>(
    interest: Interest,
    n: u32,
    sets: (&[u64], &[u64]),
    informed: &[u64],
    told: (&mut [u64], &mut [u64]),
    counters: &mut Counters,
    leaving: &mut [u64],
    rng: &mut GossipRng,
) -> Traffic {
    let rule = |rule| Interest { rule, ..interest };
    let (c, l, r) = (counters, leaving, rng);
    match interest.rule {
        StopRule::Never => unreachable!("judged: a stop rule"),
        StopRule::FeedbackCounter => judge_each::<SPARSE>(
            rule(StopRule::FeedbackCounter),
            n,
            sets,
            informed,
            told,
            c,
            l,
            r,
        ),
        StopRule::FeedbackCoin => judge_each::<SPARSE>(
            rule(StopRule::FeedbackCoin),
            n,
            sets,
            informed,
            told,
            c,
            l,
            r,
        ),
        StopRule::BlindCounter => judge_each::<SPARSE>(
            rule(StopRule::BlindCounter),
            n,
            sets,
            informed,
            told,
            c,
            l,
            r,
        ),
        StopRule::BlindCoin => {
            judge_each::<SPARSE>(rule(StopRule::BlindCoin), n, sets, informed, told, c, l, r)
        }
    }
}

/// Sets the bits of `targets` in `known` and, if `SPARSE`, in the summary `told` the words
/// where that informed someone; returns how many were not set before.
fn inform_bits<const SPARSE: bool>(known: &mut [u64], told: &mut [u64], targets: &[u32]) -> u64 {
    let mut informed = 0;
    for &to in targets {
        let word = &mut known[to as usize / 64];
        let bit = 1u64 << (to % 64);
        let informs = u64::from(*word & bit == 0);
        informed += informs;
        *word |= bit;
        if SPARSE {
            mark_word(told, to as usize / 64, informs);
        }
    }
    informed
}

/// [`inform_bits`] on pairs of words, (knows or is crashed, is crashed), 64 nodes a pair;
/// returns how many it informed and how many of `targets` were crashed.
fn inform_bits_or_crashed<const SPARSE: bool>(
    known: &mut [u64],
    told: &mut [u64],
    targets: &[u32],
) -> (u64, u64) {
    let (mut informed, mut dead) = (0, 0);
    for &to in targets {
        let pair = to as usize / 64 * 2;
        let bit = bit(to);
        let informs = u64::from(known[pair] & bit == 0);
        informed += informs;
        dead += u64::from(known[pair + 1] & bit != 0);
        known[pair] |= bit;
        if SPARSE {
            mark_word(told, to as usize / 64, informs);
        }
    }
    (informed, dead)
}

/// [`RoundEngine::iter_nodes`]: the node bytes as they are or, when they are behind, as the
/// sets have them, a word at a time.
enum Nodes<'a> {
    Bytes(core::slice::Iter<'a, u8>),
    Behind {
        sets: &'a NodeSets,
        old: &'a [u8],
        /// The bytes of the word `next` is in.
        word: [u8; 64],
        next: usize,
    },
}

impl Iterator for Nodes<'_> {
    type Item = NodeView;

    #[inline]
    fn next(&mut self) -> Option<NodeView> {
        match self {
            Nodes::Bytes(bytes) => bytes.next().map(|&byte| view_of(byte)),
            Nodes::Behind {
                sets,
                old,
                word,
                next,
            } => {
                let i = *next;
                if i >= old.len() {
                    return None;
                }
                if i % 64 == 0 {
                    let old = &old[i..old.len().min(i + 64)];
                    sets.word_bytes(i / 64, old, &mut word[..old.len()]);
                }
                *next = i + 1;
                Some(view_of(word[i % 64]))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self {
            Nodes::Bytes(bytes) => bytes.len(),
            Nodes::Behind { old, next, .. } => old.len() - next,
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for Nodes<'_> {}

/// [`Round::push_drawn_ahead`]'s messages, drawn before they are delivered: kept in the
/// engine so that no round allocates.
#[derive(Clone, Debug, Default)]
struct Ahead {
    from: Vec<u32>,
    to: Vec<u32>,
    /// Whether the link lost it, whether the stop rule's coin came up.
    draws: Vec<u8>,
}

/// Pushers gathered before they are served (see [`Round::push_phase`]).
const BATCH: usize = 256;

/// Whether the engine keeps fewer specialised loops: true in the page (wasm32), whose first
/// load is budgeted (`e2e/parts.test.mjs`), since every loop compiled apart is code a student
/// downloads before the first network is drawn. Every loop gives the same run
/// (`every_loop_gives_the_same_run`, and the wasm build's trace hashes are pinned), so this
/// changes speed only: the page's engine keeps the one-loop push on the complete graph for runs
/// with nothing crashed (one peer a pusher lossless, one peer lossy, several peers), the
/// batches for the rest (crashed nodes, stop rules, sparse graphs), and no summary of the bit
/// sets (every round sweeps every word).
const LEAN: bool = cfg!(target_arch = "wasm32");

/// Bit sets over the nodes, 64 a word, so that a round touches only the nodes it concerns:
/// who pushes, who was informed, who lost interest. Without them every round swept all the
/// node bytes twice (to find the pushers, then to settle the round), which cost more than the
/// messages whenever few nodes spread: rumor mongering's tail, crashed and sparse runs, a
/// ring's slow front (thousands of rounds with a few thousand spreaders among a million).
/// Between rounds the sets say everything the node bytes do but a crashed node's phase, which
/// stays in its byte: the per-message loops that read bytes keep both, the bits push loop only
/// the sets (the bytes then catch up when next read, see [`RoundEngine::catch_up_bytes`]), and
/// a change made between rounds to the bytes rebuilds the sets from them.
#[derive(Clone, Debug, Default)]
struct NodeSets {
    /// Live and spreading, and so pushing in the next round.
    spreading: Vec<u64>,
    /// Informed (spreading or stopped, crashed or not): who knew the rumor at the start of
    /// the round. Bits are only ever added, at the end of a round.
    informed: Vec<u64>,
    /// Informed in this round (FRESH in their bytes, when the bytes are kept). All zero
    /// between rounds.
    fresh: Vec<u64>,
    /// Informed in the last round played (NEW in their bytes, when they are kept).
    new: Vec<u64>,
    /// Lost interest in this round: they stop at its end. All zero between rounds.
    leaving: Vec<u64>,
    /// Crashed.
    crashed: Vec<u64>,
    /// Summaries, one bit per word of a set: a word whose bit is clear is all zero (a set
    /// bit promises nothing). A round then visits only the words that concern it, where
    /// sweeping every word cost more than the messages in the rounds of few messages: the
    /// tail of rumor mongering, a ring's thousands of rounds with a slow front.
    /// Of `spreading`.
    spreading_words: Vec<u64>,
    /// Of `fresh` (all zero between rounds, as `fresh` is).
    fresh_words: Vec<u64>,
    /// Of `new`.
    new_words: Vec<u64>,
    /// [`Round::push_phase_bits`]'s record of who knows the rumor, kept between rounds.
    known: Known,
}

/// Who knows the rumor or is crashed, for the bits push loop: `words` holds, `stride` words
/// per 64 nodes, the informed set, and with `stride` 2 each word followed by the crashed set's
/// (so both share a cache line). Between rounds it is the informed set as it is (end of round
/// adds the informed); `stride` 0 when it is not kept (a change between rounds: it is copied
/// again when next needed).
#[derive(Clone, Debug, Default)]
struct Known {
    words: Vec<u64>,
    stride: usize,
}

impl Known {
    /// Makes `words` the informed set (with `crashed`, the pairs) unless it is already kept
    /// with that layout.
    fn follow(&mut self, informed: &[u64], crashed: Option<&[u64]>) {
        let stride = if crashed.is_some() { 2 } else { 1 };
        if self.stride == stride {
            return;
        }
        self.words.clear();
        match crashed {
            // A crashed node counts as knowing (it is never informed); the second word of a
            // pair tells the dead letters apart.
            Some(crashed) => self
                .words
                .extend(informed.iter().zip(crashed).flat_map(|(&s, &c)| [s | c, c])),
            None => self.words.extend_from_slice(informed),
        }
        self.stride = stride;
    }
}

/// The summary of a set (see [`NodeSets::spreading_words`]): sets the bit of word `w` when
/// `any` is 1.
#[inline(always)]
fn mark_word(summary: &mut [u64], w: usize, any: u64) {
    summary[w / 64] |= any << (w % 64);
}

/// The summary of `set`, one bit per word (see [`NodeSets::spreading_words`]).
fn summary_of(set: &[u64]) -> Vec<u64> {
    if LEAN {
        return Vec::new(); // The page's engine keeps none.
    }
    let mut summary = vec![0; set.len().div_ceil(64)];
    for (w, &word) in set.iter().enumerate() {
        mark_word(&mut summary, w, u64::from(word != 0));
    }
    summary
}

/// A node's byte between rounds from its bits in the sets (each 0 or 1) and its byte before,
/// `old` (see [`NodeSets::byte`]).
#[inline(always)]
fn byte_of(spreading: u8, informed: u8, crashed: u8, new: u8, old: u8) -> u8 {
    // Live: spreading, or informed and not spreading (stopped), or neither.
    let live = (spreading * SPREADING) | ((informed & (spreading ^ 1)) * STOPPED);
    let phase = [live, old & PHASE][usize::from(crashed)];
    phase | (crashed * CRASHED) | (new * NEW)
}

impl NodeSets {
    /// Node `i`'s byte as the sets have it between rounds (nothing is FRESH then), from its
    /// byte before, `old`, that the sets followed. The sets do not say which phase a crashed
    /// node kept, and it has not changed since it crashed: that is taken from `old`.
    #[inline(always)]
    fn byte(&self, i: u32, old: u8) -> u8 {
        let (w, b) = (i as usize / 64, i % 64);
        let of = |set: &[u64]| (set[w] >> b) as u8 & 1;
        byte_of(
            of(&self.spreading),
            of(&self.informed),
            of(&self.crashed),
            of(&self.new),
            old,
        )
    }

    /// The bytes of the nodes of word `w` into `out`, as [`NodeSets::byte`] has them from
    /// their bytes before, `old`. Most words of a large run are alike (no one informed yet,
    /// or all spreading, or all stopped): those are filled whole.
    #[inline]
    fn word_bytes(&self, w: usize, old: &[u8], out: &mut [u8]) {
        let (spreading, informed) = (self.spreading[w], self.informed[w]);
        let alike = self.crashed[w] | self.new[w] == 0
            && (informed == 0
                || (informed == u64::MAX && (spreading == 0 || spreading == u64::MAX)));
        if alike {
            out.fill(match (informed, spreading) {
                (0, _) => SUSCEPTIBLE,
                (_, 0) => STOPPED,
                _ => SPREADING,
            });
        } else {
            let (crashed, new) = (self.crashed[w], self.new[w]);
            for (b, (byte, &old)) in out.iter_mut().zip(old).enumerate() {
                *byte = byte_of(
                    (spreading >> b) as u8 & 1,
                    (informed >> b) as u8 & 1,
                    (crashed >> b) as u8 & 1,
                    (new >> b) as u8 & 1,
                    old,
                );
            }
        }
    }

    /// Brings node bytes that fell behind up to the sets.
    fn catch_up(&self, nodes: &mut [u8]) {
        for (w, chunk) in nodes.chunks_mut(64).enumerate() {
            let mut bytes = [0; 64];
            self.word_bytes(w, chunk, &mut bytes[..chunk.len()]);
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// The sets of the node bytes as they are between rounds.
    fn rebuild(&mut self, nodes: &[u8]) {
        let words = nodes.len().div_ceil(64);
        let sets = [
            &mut self.spreading,
            &mut self.informed,
            &mut self.fresh,
            &mut self.new,
            &mut self.leaving,
            &mut self.crashed,
        ];
        for set in sets {
            set.clear();
            set.resize(words, 0);
        }
        for (w, chunk) in nodes.chunks(64).enumerate() {
            // A word of susceptible nodes (zero bytes: every word but a few at the start of a
            // run) sets nothing. Checked first, a wide OR: a run of rumor mongering sends
            // fewer than two messages a node, and a byte-by-byte pass here was a fifth of
            // the instructions of a whole run, setup included (`grapevine sim`'s batches).
            if chunk.iter().fold(0, |any, &byte| any | byte) == 0 {
                continue;
            }
            let (mut spreading, mut informed, mut new, mut crashed) = (0u64, 0u64, 0u64, 0u64);
            for (b, &byte) in chunk.iter().enumerate() {
                spreading |= u64::from(byte & (PHASE | CRASHED) == SPREADING) << b;
                informed |= u64::from(byte & PHASE != SUSCEPTIBLE) << b;
                new |= u64::from(byte & NEW != 0) << b;
                crashed |= u64::from(byte & CRASHED != 0) << b;
            }
            self.spreading[w] = spreading;
            self.informed[w] = informed;
            self.new[w] = new;
            self.crashed[w] = crashed;
        }
        self.spreading_words = summary_of(&self.spreading);
        self.fresh_words = summary_of(&self.fresh);
        self.new_words = summary_of(&self.new);
        self.known.stride = 0;
    }
}

/// What one round touches per message, borrowed apart from the engine. The generator and the
/// counters are copies held here, so the compiler keeps them in registers: were they fields
/// behind `&mut RoundEngine`, every byte stored into the node array could alias them and force
/// a reload per message.
struct Round<'a> {
    nodes: &'a mut [u8],
    /// [`NodeSets::fresh`]: set as nodes are informed.
    fresh: &'a mut [u64],
    /// Its summary, [`NodeSets::fresh_words`].
    fresh_words: &'a mut [u64],
    /// [`NodeSets::leaving`]: set as nodes lose interest.
    leaving: &'a mut [u64],
    ahead: &'a mut Ahead,
    counters: &'a mut Counters,
    graph: &'a Graph,
    arrows: &'a mut Vec<Transmission>,
    arrow_cap: usize,
    /// Messages offered to `record` this round.
    arrows_seen: u64,
    /// State of the reservoir sampler's LCG (not the simulation's generator).
    arrow_pick: u64,
    rng: GossipRng,
    traffic: Traffic,
    fanout: u32,
    loss: Chance,
    interest: Interest,
    /// A node whose first target is chosen by hand (see [`RoundEngine::step_steered`]).
    steer: Option<(u32, u32)>,
    /// Whether the per-message loops keep `fresh_words` (see [`RoundEngine::end_round`]);
    /// the others keep it anyway.
    sparse: bool,
}

impl Round<'_> {
    /// Every live node that was spreading at the start of the round (`spreading`) pushes to
    /// `fanout` peers, in node order.
    fn push_phase(&mut self, spreading: &[u64]) {
        // Pushers are gathered into a small batch, then served in a tight loop: this keeps
        // the walk over the set out of the message loop.
        let mut batch = [0u32; BATCH];
        let mut len = 0;
        for (w, &word) in spreading.iter().enumerate() {
            for_each_bit(word, w, |i| {
                batch[len] = i as u32;
                len += 1;
            });
            if len > BATCH - 64 {
                self.serve_pushers(&batch[..len]);
                len = 0;
            }
        }
        self.serve_pushers(&batch[..len]);
    }

    /// [`Round::push_from_each`], with the hand-picked peer's check compiled in only for a
    /// steered round (lesson 1), so no other round pays for it.
    fn serve_pushers(&mut self, pushers: &[u32]) {
        if self.steer.is_some() {
            self.push_from_each::<true>(pushers);
        } else {
            self.push_from_each::<false>(pushers);
        }
    }

    fn push_from_each<const STEERED: bool>(&mut self, pushers: &[u32]) {
        if !STEERED && !self.interest.draws_on_outcome() {
            self.push_drawn_ahead(pushers);
            return;
        }
        let mut peers = [0u32; MAX_FANOUT as usize];
        for &i in pushers {
            let k = self
                .graph
                .choose_peers(i, self.fanout, &mut self.rng, &mut peers);
            if let Some((_, to)) = self
                .steer
                .filter(|&(from, _)| STEERED && from == i && k > 0)
            {
                // The hand-picked peer first; if it was drawn anyway, where it was drawn goes
                // to the first draw, so no peer is told twice.
                let at = peers[..k].iter().position(|&p| p == to).unwrap_or(0);
                peers[at] = peers[0];
                peers[0] = to;
            }
            for &to in &peers[..k] {
                let fate = self.carry_rumor(to);
                self.record(i, to, MessageKind::Push, fate);
                self.after_contact(i, to, fate, None);
            }
        }
    }

    /// [`Round::push_from_each`] when no draw depends on how a message went (see
    /// [`Interest::draws_on_outcome`]): every target, loss and coin of the batch is drawn
    /// first, in the order the message-by-message loop draws them; then every target's byte
    /// is read once, in a loop with no branch, so the processor has many of these random
    /// reads in flight at once; then the messages are delivered in order, on bytes now in
    /// the cache. Message by message, each read waited for the one before it (a stop rule's
    /// unpredictable branch between them throws the reads begun ahead away): three to five
    /// times slower.
    fn push_drawn_ahead(&mut self, pushers: &[u32]) {
        const LOST: u8 = 1;
        const COIN: u8 = 2;
        let mut peers = [0u32; MAX_FANOUT as usize];
        let Ahead { from, to, draws } = &mut *self.ahead;
        from.clear();
        to.clear();
        draws.clear();
        let coin_every_contact = self.interest.rule == StopRule::BlindCoin;
        let coin = Chance::one_in(u32::from(self.interest.k));
        let mut rng = self.rng.clone();
        for &i in pushers {
            let k = self
                .graph
                .choose_peers(i, self.fanout, &mut rng, &mut peers);
            for &peer in &peers[..k] {
                let lost = rng.chance(self.loss);
                let heads = coin_every_contact && rng.chance(coin);
                from.push(i);
                to.push(peer);
                draws.push((u8::from(lost) * LOST) | (u8::from(heads) * COIN));
            }
        }
        self.rng = rng;
        let mut touched = 0u8;
        for &t in to.iter() {
            touched |= self.nodes[t as usize];
        }
        core::hint::black_box(touched);
        let ahead = core::mem::take(self.ahead);
        for ((&i, &t), &drawn) in ahead.from.iter().zip(&ahead.to).zip(&ahead.draws) {
            self.traffic.sent += 1;
            let fate = if drawn & LOST != 0 {
                self.traffic.lost += 1;
                Fate::Lost
            } else {
                self.deliver(t)
            };
            self.record(i, t, MessageKind::Push, fate);
            self.after_contact(i, t, fate, Some(drawn & COIN != 0));
        }
        *self.ahead = ahead;
    }

    /// [`Round::push_phase`] when every contact can be judged by what its receiver knew at the
    /// start of the round (see [`Interest::judged_at_round_start`]), with no arrow to record
    /// and no hand-picked peer. Under anti-entropy on the complete graph each pusher's targets
    /// are drawn and marked in one loop ([`push_each`]); so are a stop rule's, one lossless
    /// message per pusher with nothing crashed, judged as they are drawn ([`judge_each`]).
    /// Otherwise a batch of pushers draws
    /// every target, loss and stop-rule coin first, in the order `push_phase` draws them,
    /// judging each contact as it is drawn (see [`Round::draw_judged`]); and the messages are
    /// delivered after. Either way they are delivered without a branch, on
    /// one bit per node: whether it knows the rumor (and, with `crashed`, whether it is
    /// crashed, in the next word, so both share a cache line). The delivery loop is short and
    /// branch-free, so the processor keeps many of its random reads in flight at once, and
    /// they go to an eighth of the memory of the node bytes (at 10^7 nodes 1.25 MB rather than
    /// 10 MB): cache and TLB misses are the cost. `spreading`: who pushes; `informed`: who
    /// knew the rumor at the start of the round; `keep_bytes`: whether to mark the informed in
    /// the node bytes too (see [`RoundEngine::bytes_behind`]).
    fn push_phase_bits(
        &mut self,
        spreading: &[u64],
        spreading_words: &[u64],
        informed: &[u64],
        crashed: Option<&[u64]>,
        known: &mut Known,
        keep_bytes: bool,
    ) {
        let judged = self.interest.rule != StopRule::Never;
        let plain = self.fanout == 1 && self.loss == Chance::NEVER && crashed.is_none();
        // A stop rule on the complete graph, one lossless message per pusher, nothing
        // crashed: each pusher's target drawn, judged and marked in one loop, per rule
        // compiled, straight into `fresh` (no copy of the informed to mark, no pass after to
        // find who was informed: a rumor-mongering run plays many rounds of few messages,
        // and those passes over every word cost more than the messages).
        let judged_each = match *self.graph {
            Graph::Complete { n } if judged && plain && n > 2 && !LEAN => Some(n),
            _ => None,
        };
        if let Some(n) = judged_each {
            let (counters, leaving, rng) = (&mut *self.counters, &mut *self.leaving, &mut self.rng);
            let sets = (spreading, spreading_words);
            let told = (&mut *self.fresh, &mut *self.fresh_words);
            let interest = self.interest;
            let t = match self.sparse {
                true => judge_each_rule::<true>(
                    interest, n, sets, informed, told, counters, leaving, rng,
                ),
                false => judge_each_rule::<false>(
                    interest, n, sets, informed, told, counters, leaving, rng,
                ),
            };
            self.traffic += t;
            if keep_bytes {
                // A dense round's `judge_each` does not keep the summary.
                for (s, &summary) in self.fresh_words.iter().enumerate() {
                    let summary = if self.sparse { summary } else { u64::MAX };
                    for_each_bit(summary, s, |w| {
                        let informed = self.fresh.get(w).copied().unwrap_or(0);
                        for_each_bit(informed, w, |i| self.nodes[i] |= SPREADING | FRESH);
                    });
                }
            }
            return;
        }
        known.follow(informed, crashed);
        let Known {
            words: known,
            stride,
        } = known;
        let stride = *stride;
        // Anti-entropy: each pusher's targets drawn and marked in one loop, with no batch in
        // between; it has no branch on what it reads, so the reads overlap. Lossless, lossy
        // and crashed runs compiled apart, so none pays for another. On a sparse graph in
        // dense rounds only (the lists then read in node order; a sparse round walks the
        // summaries, below): at 10^6 it measured a third faster than the batches there
        // (regular 3.4 -> 2.45, small world 3.7 -> 2.3, scale free 2.85 -> 2.05).
        let fused = match *self.graph {
            // The page's engine: crashed nodes in the batches (see `LEAN`); its fanouts 2 and
            // 3 measured the same in the one loop as in the batches (e2e/trace.mjs).
            Graph::Complete { .. } => !judged && (!LEAN || crashed.is_none()),
            Graph::Sparse { .. } => !judged && !self.sparse && !LEAN,
        };
        let lattice = match self.graph.lattice() {
            Some(lattice) if plain && !judged && !LEAN => Some(lattice),
            _ => None,
        };
        if let Some(lattice) = lattice {
            let (graph, rng, told) = (self.graph, &mut self.rng, &mut *self.fresh_words);
            let sets = (spreading, spreading_words);
            self.traffic += match (self.sparse, lattice.steps().len()) {
                (true, 2) => push_lattice::<true, 2>(graph, lattice, sets, known, told, rng),
                (false, 2) => push_lattice::<false, 2>(graph, lattice, sets, known, told, rng),
                (true, _) => push_lattice::<true, 4>(graph, lattice, sets, known, told, rng),
                (false, _) => push_lattice::<false, 4>(graph, lattice, sets, known, told, rng),
            };
        } else if fused {
            let (graph, fanout, loss, rng) = (self.graph, self.fanout, self.loss, &mut self.rng);
            let one_of_all = match *graph {
                Graph::Complete { n } if fanout == 1 && n > 2 => Some(n),
                _ => None,
            };
            let t = if let Some(n) = one_of_all {
                let one = |i: u32, rng: &mut GossipRng, out: &mut [u32]| {
                    out[0] = topology::other_node(n, i, rng);
                    1
                };
                debug_assert!(
                    !LEAN || crashed.is_none(),
                    "the page's crashed take the batches"
                );
                match (loss, crashed.is_some()) {
                    // The page's engine (see `LEAN`) has two instances for one peer a
                    // pusher, lossless and lossy (the loss read per message), and no crashed
                    // nodes (they take the batches): more instances are code it would
                    // download first. Lossy here rather than in the batches: the page's
                    // 10^6-node, 80 %-loss run spent 6.6-8.0 ms a frame in its
                    // animation-frame callbacks, against 7.7-10.0 (e2e/trace.mjs,
                    // alternating). The lossless one apart: with the loss read per message
                    // it was 15 % slower (wasm / native 1.46-1.67 -> 1.75-1.79,
                    // e2e/perf.mjs wasm, alternating).
                    (Chance::NEVER, _) if LEAN => {
                        push_each::<false>(one, Chance::NEVER, spreading, known, rng)
                    }
                    _ if LEAN => push_each::<false>(one, loss, spreading, known, rng),
                    (Chance::NEVER, false) => {
                        push_each::<false>(one, Chance::NEVER, spreading, known, rng)
                    }
                    (loss, false) if loss.draws() => {
                        push_each_lossy::<false>(n, loss, spreading, known, rng)
                    }
                    (loss, true) if loss.draws() => {
                        push_each_lossy::<true>(n, loss, spreading, known, rng)
                    }
                    (loss, false) => push_each::<false>(one, loss, spreading, known, rng),
                    (loss, true) => push_each::<true>(one, loss, spreading, known, rng),
                }
            } else {
                let any = |i: u32, rng: &mut GossipRng, out: &mut [u32]| {
                    graph.choose_peers(i, fanout, rng, out)
                };
                match crashed.is_some() && !LEAN {
                    // A graph of lists in the plain instance: with the loss a constant, no
                    // branch per message on it (3.4 rather than 2.45 at 10^6 on the regular
                    // graph with the loss read per message), and the lists taken out of the
                    // graph once rather than the graph matched per message (no lattice here:
                    // `push_lattice` took the plain ring and torus; the complete graph of 2
                    // nodes is the other arm).
                    false if plain && !LEAN => {
                        let one = |peer: Option<u32>, out: &mut [u32]| {
                            out[0] = peer.unwrap_or_default();
                            usize::from(peer.is_some())
                        };
                        match graph.lists() {
                            Some(lists) if graph.lattice().is_none() => push_each::<false>(
                                |i, rng, out| one(lists.peer(i, rng), out),
                                Chance::NEVER,
                                spreading,
                                known,
                                rng,
                            ),
                            _ => push_each::<false>(
                                |i, rng, out| one(graph.choose_peer(i, rng), out),
                                Chance::NEVER,
                                spreading,
                                known,
                                rng,
                            ),
                        }
                    }
                    false => push_each::<false>(any, loss, spreading, known, rng),
                    true => push_each::<true>(any, loss, spreading, known, rng),
                }
            };
            self.traffic += t;
        } else {
            let mut pushers = [0u32; BATCH];
            let mut targets = [0u32; BATCH * MAX_FANOUT as usize];
            let mut len = 0;
            let mut serve = |round: &mut Self, pushers: &[u32]| {
                let (through, lost) = if judged {
                    round.draw_judged(pushers, informed, crashed, &mut targets)
                } else {
                    round.draw(pushers, &mut targets)
                };
                let through_targets = &targets[..through];
                let told = &mut *round.fresh_words;
                let (informed, dead) = match (crashed, round.sparse && !LEAN) {
                    (Some(_), true) => inform_bits_or_crashed::<true>(known, told, through_targets),
                    (Some(_), false) => {
                        inform_bits_or_crashed::<false>(known, told, through_targets)
                    }
                    (None, true) => (inform_bits::<true>(known, told, through_targets), 0),
                    (None, false) => (inform_bits::<false>(known, told, through_targets), 0),
                };
                let t = &mut round.traffic;
                t.sent += through as u64 + lost;
                t.lost += lost;
                t.dead_letters += dead;
                t.informed += informed;
                t.redundant += through as u64 - informed - dead;
            };
            // A word's pushers into the batch, served when it is nearly full.
            macro_rules! push_word {
                ($w:expr) => {{
                    let w: usize = $w;
                    let word = spreading[w];
                    let base = w as u32 * 64;
                    if word == u64::MAX {
                        // Late in a run, most words: all 64 push.
                        for (lane, slot) in pushers[len..len + 64].iter_mut().enumerate() {
                            *slot = base + lane as u32;
                        }
                        len += 64;
                    } else {
                        for_each_bit(word, w, |i| {
                            pushers[len] = i as u32;
                            len += 1;
                        });
                    }
                    if len > BATCH - 64 {
                        serve(self, &pushers[..len]);
                        len = 0;
                    }
                }};
            }
            if LEAN {
                // The page's engine keeps no summary: every word (see `LEAN`).
                for w in 0..spreading.len() {
                    push_word!(w);
                }
            } else {
                for (s, &summary) in spreading_words.iter().enumerate() {
                    for_each_bit(summary, s, |w| push_word!(w));
                }
            }
            if len > 0 {
                serve(self, &pushers[..len]);
            }
        }
        // The informed: in the set and, if kept, FRESH in their bytes, as `deliver` marks them.
        if LEAN {
            // The page's engine keeps no summary (see `LEAN`).
            for (w, &before) in informed.iter().enumerate() {
                let informed = known[w * stride] & !before & !crashed.map_or(0, |c| c[w]);
                if informed != 0 {
                    self.fresh[w] = informed;
                    if keep_bytes {
                        for_each_bit(informed, w, |i| self.nodes[i] |= SPREADING | FRESH);
                    }
                }
            }
            return;
        }
        let (fresh, fresh_words, nodes) =
            (&mut *self.fresh, &mut *self.fresh_words, &mut *self.nodes);
        let mut settle = |w: usize| {
            let informed = known[w * stride] & !informed[w] & !crashed.map_or(0, |c| c[w]);
            fresh[w] = informed;
            if keep_bytes {
                for_each_bit(informed, w, |i| nodes[i] |= SPREADING | FRESH);
            }
            u64::from(informed != 0)
        };
        if fused || !self.sparse {
            // Every word: a dense round (anti-entropy on the complete graph plays few, all
            // dense), 64 words a summary word.
            let words = informed.len();
            for (s, summary) in fresh_words.iter_mut().enumerate() {
                let mut told = 0;
                for w in s * 64..words.min(s * 64 + 64) {
                    told |= settle(w) << (w % 64);
                }
                *summary = told;
            }
        } else {
            // The batches marked the words where someone was informed.
            for (s, summary) in fresh_words.iter_mut().enumerate() {
                for_each_bit(*summary, s, |w| {
                    settle(w);
                });
            }
        }
    }

    /// The targets of `pushers`' messages under anti-entropy, into `targets` (those the link
    /// lost left out), drawn in the order [`Round::push_from_each`] draws them: the batches of
    /// sparse graphs, and in the page (see [`LEAN`]) of runs with crashed nodes. Returns how
    /// many got through and how many were lost.
    #[inline(always)]
    fn draw(&mut self, pushers: &[u32], targets: &mut [u32]) -> (usize, u64) {
        let mut rng = self.rng.clone();
        let (mut through, mut lost) = (0, 0u64);
        let graph = self.graph;
        if self.fanout == 1 && self.loss == Chance::NEVER {
            for &i in pushers {
                let peer = graph.choose_peer(i, &mut rng);
                targets[through] = peer.unwrap_or_default();
                through += usize::from(peer.is_some());
            }
        } else {
            for &i in pushers {
                // Drawn into place; each kept, then overwritten by the next if the link lost it.
                let drawn = graph.choose_peers(i, self.fanout, &mut rng, &mut targets[through..]);
                let first = through;
                for j in first..first + drawn {
                    let gone = rng.chance(self.loss);
                    targets[through] = targets[j];
                    through += usize::from(!gone);
                    lost += u64::from(gone);
                }
            }
        }
        self.rng = rng;
        (through, lost)
    }

    /// [`Round::draw`] under a stop rule: each contact is judged as it is drawn, by what its
    /// receiver knew at the start of the round (`informed`, `crashed`), which no message of
    /// the round changes; the sender's counter and coin follow in message order, so the draws
    /// and the outcome are those of [`Round::after_contact`] message by message.
    #[inline(always)]
    fn draw_judged(
        &mut self,
        pushers: &[u32],
        informed: &[u64],
        crashed: Option<&[u64]>,
        targets: &mut [u32],
    ) -> (usize, u64) {
        if !LEAN && self.fanout == 1 && self.loss == Chance::NEVER && crashed.is_none() {
            // The rule as a constant in each arm, so `Interest::after_contact_with` folds to
            // its case and the loop is compiled once per rule.
            let interest = self.interest;
            let rule = |rule| Interest { rule, ..interest };
            let through = match interest.rule {
                StopRule::Never => return self.draw(pushers, targets),
                StopRule::FeedbackCounter => {
                    self.judge_one_each(rule(StopRule::FeedbackCounter), pushers, informed, targets)
                }
                StopRule::FeedbackCoin => {
                    self.judge_one_each(rule(StopRule::FeedbackCoin), pushers, informed, targets)
                }
                StopRule::BlindCounter => {
                    self.judge_one_each(rule(StopRule::BlindCounter), pushers, informed, targets)
                }
                StopRule::BlindCoin => {
                    self.judge_one_each(rule(StopRule::BlindCoin), pushers, informed, targets)
                }
            };
            return (through, 0);
        }
        let mut rng = self.rng.clone();
        let (mut through, mut lost) = (0, 0u64);
        let interest = self.interest;
        let coin = Chance::one_in(u32::from(interest.k));
        let mut peers = [0u32; MAX_FANOUT as usize];
        for &i in pushers {
            let k = self
                .graph
                .choose_peers(i, self.fanout, &mut rng, &mut peers);
            let mut counter = self.counters.get(i);
            let mut stops = false;
            for &to in &peers[..k] {
                let gone = rng.chance(self.loss);
                targets[through] = to;
                through += usize::from(!gone);
                lost += u64::from(gone);
                let (w, b) = (to as usize / 64, bit(to));
                // Judged without a branch (see `Interest::after_contact_with`).
                let dead = crashed.is_some_and(|c| c[w] & b != 0);
                let outcome = ContactOutcome::judged(gone | dead, informed[w] & b != 0);
                stops |= interest.after_contact_with(outcome, &mut counter, || rng.chance(coin));
            }
            self.counters.set(i, counter);
            self.leaving[i as usize / 64] |= u64::from(stops) << (i % 64);
        }
        self.rng = rng;
        (through, lost)
    }

    /// [`Round::draw_judged`] with one message per pusher, none lost, no node crashed, under
    /// `interest`: per message, a peer, one bit of what it knew, the pusher's counter.
    /// Returns how many messages there are.
    #[inline(always)]
    fn judge_one_each(
        &mut self,
        interest: Interest,
        pushers: &[u32],
        informed: &[u64],
        targets: &mut [u32],
    ) -> usize {
        let mut rng = self.rng.clone();
        let coin = Chance::one_in(u32::from(interest.k));
        let (graph, counters, leaving) = (self.graph, &mut *self.counters, &mut *self.leaving);
        let mut through = 0;
        for &i in pushers {
            let Some(to) = graph.choose_peer(i, &mut rng) else {
                continue;
            };
            targets[through] = to;
            through += 1;
            let knew = informed[to as usize / 64] & bit(to) != 0;
            let outcome = ContactOutcome::judged(false, knew);
            let mut counter = counters.get(i);
            let stops = interest.after_contact_with(outcome, &mut counter, || rng.chance(coin));
            counters.set(i, counter);
            leaving[i as usize / 64] |= u64::from(stops) << (i % 64);
        }
        self.rng = rng;
        through
    }

    /// [`Round::pull_phase`] when no draw depends on how a request went (no loss, no stop
    /// rule) and no arrow is recorded. Then whether a target answers is one bit, read without
    /// a branch: whether it was spreading at the start of the round (a crashed node never is;
    /// a second bit says whether the request was a dead letter). Nothing then waits on that
    /// read, so the processor keeps many in flight while it draws the next targets; the byte
    /// loop branched on each target's byte, a coin toss mid-run, and a mispredicted branch
    /// threw away the reads begun ahead. The pullers are taken a word of the sets at a time,
    /// and their answers gathered into a word. `spreading`, `informed`, `crashed`: the sets at
    /// the start of the round (a push phase before this one wrote only `fresh`);
    /// `keep_bytes`: whether to mark the informed in the node bytes too (see
    /// [`RoundEngine::bytes_behind`]).
    fn pull_phase_bits(
        &mut self,
        spreading: &[u64],
        informed: &[u64],
        crashed: Option<&[u64]>,
        keep_bytes: bool,
    ) {
        match crashed {
            Some(crashed) => self.pull_words(spreading, informed, keep_bytes, |w| crashed[w]),
            None => self.pull_words(spreading, informed, keep_bytes, |_| 0),
        }
    }

    /// [`Round::pull_phase_bits`], with the crashed nodes of word `w` given by `crashed(w)`.
    #[inline(always)]
    fn pull_words(
        &mut self,
        spreading: &[u64],
        informed: &[u64],
        keep_bytes: bool,
        crashed: impl Fn(usize) -> u64,
    ) {
        let n = self.nodes.len();
        let graph = self.graph;
        let fanout = self.fanout;
        // The plain instance: one peer among all the others.
        let one_of = match *graph {
            Graph::Complete { n } if fanout == 1 && n > 2 => Some(n),
            _ => None,
        };
        let mut rng = self.rng.clone();
        let (mut asked, mut answers, mut dead, mut newly) = (0u64, 0u64, 0u64, 0u64);
        let mut peers = [0u32; MAX_FANOUT as usize];
        // Whether the request to `to` is answered, and whether it is a dead letter, 0 or 1.
        let ask = |to: u32| {
            let (w, b) = (to as usize / 64, to % 64);
            ((spreading[w] >> b) & 1, (crashed(w) >> b) & 1)
        };
        for (w, &knew) in informed.iter().enumerate() {
            let tail = match n - w * 64 {
                left @ 1..=63 => (1 << left) - 1,
                _ => u64::MAX,
            };
            let pullers = !knew & !crashed(w) & tail;
            if pullers == 0 {
                continue;
            }
            let mut got = 0u64;
            if let Some(n) = one_of {
                asked += u64::from(pullers.count_ones());
                for_each_bit(pullers, w, |i| {
                    let (answer, gone) = ask(topology::other_node(n, i as u32, &mut rng));
                    answers += answer;
                    dead += gone;
                    got |= answer << (i % 64);
                });
            } else {
                for_each_bit(pullers, w, |i| {
                    let k = graph.choose_peers(i as u32, fanout, &mut rng, &mut peers);
                    asked += k as u64;
                    let mut any = 0;
                    for &to in &peers[..k] {
                        let (answer, gone) = ask(to);
                        answers += answer;
                        dead += gone;
                        any |= answer;
                    }
                    got |= any << (i % 64);
                });
            }
            // An answer informs a puller that no push informed this round; the rest are
            // redundant.
            let informs = got & !self.fresh[w];
            self.fresh[w] |= got;
            if !LEAN {
                mark_word(self.fresh_words, w, u64::from(got != 0));
            }
            newly += u64::from(informs.count_ones());
            if keep_bytes {
                for_each_bit(informs, w, |i| self.nodes[i] |= SPREADING | FRESH);
            }
        }
        self.rng = rng;
        let t = &mut self.traffic;
        t.sent += asked + answers;
        t.dead_letters += dead;
        t.informed += newly;
        t.redundant += answers - newly;
    }

    /// Every live node that did not know the rumor at the start of the round asks `fanout`
    /// peers; those spreading since before this round answer.
    fn pull_phase(&mut self) {
        let mut peers = [0u32; MAX_FANOUT as usize];
        for i in 0..self.nodes.len() as u32 {
            let byte = self.nodes[i as usize];
            if byte & CRASHED != 0 || phase_at_round_start(byte) != Phase::Susceptible {
                continue;
            }
            let k = self
                .graph
                .choose_peers(i, self.fanout, &mut self.rng, &mut peers);
            for &to in &peers[..k] {
                self.traffic.sent += 1;
                if self.rng.chance(self.loss) {
                    self.traffic.lost += 1;
                    self.record(i, to, MessageKind::PullRequest, Fate::Lost);
                    continue;
                }
                let target = self.nodes[to as usize];
                if target & CRASHED != 0 {
                    self.traffic.dead_letters += 1;
                    self.record(i, to, MessageKind::PullRequest, Fate::DeadLetter);
                    continue;
                }
                self.record(i, to, MessageKind::PullRequest, Fate::Asked);
                if !answers_pull(phase_at_round_start(target)) {
                    continue;
                }
                let fate = self.carry_rumor(i);
                self.record(to, i, MessageKind::PullReply, fate);
                self.after_contact(to, i, fate, None);
            }
        }
    }

    /// One rumor-carrying message to `to`: counts it and informs `to` if it gets through.
    #[inline(always)]
    fn carry_rumor(&mut self, to: u32) -> Fate {
        self.traffic.sent += 1;
        if self.rng.chance(self.loss) {
            self.traffic.lost += 1;
            return Fate::Lost;
        }
        self.deliver(to)
    }

    /// A rumor-carrying message that got through the link arrives at `to`.
    #[inline(always)]
    fn deliver(&mut self, to: u32) -> Fate {
        let byte = &mut self.nodes[to as usize];
        if *byte & CRASHED != 0 {
            self.traffic.dead_letters += 1;
            return Fate::DeadLetter;
        }
        // Branch-free: whether the receiver learns something is a coin flip mid-run, and a
        // mispredicted branch costs more than the rest of the message. A susceptible live
        // node's byte is 0 (and its stop counter too: it never sent anything).
        let informs = u8::from(*byte & PHASE == SUSCEPTIBLE);
        *byte |= informs * (SPREADING | FRESH);
        self.fresh[to as usize / 64] |= u64::from(informs) << (to % 64);
        if !LEAN {
            mark_word(self.fresh_words, to as usize / 64, u64::from(informs));
        }
        self.traffic.informed += u64::from(informs);
        self.traffic.redundant += u64::from(1 - informs);
        if informs != 0 {
            Fate::Informed
        } else {
            Fate::Redundant
        }
    }

    /// The sender's stop rule, after one contact with `receiver`; a node that loses interest
    /// stops at the end of the round. `coin`: the rule's coin if drawn ahead (see
    /// [`Round::push_drawn_ahead`]), `None` to draw it now if the rule flips it.
    #[inline(always)]
    fn after_contact(&mut self, sender: u32, receiver: u32, fate: Fate, coin: Option<bool>) {
        if self.interest.rule == StopRule::Never {
            return;
        }
        let outcome = match fate {
            Fate::Informed => ContactOutcome::Useful,
            Fate::Redundant => {
                // FRESH: informed earlier in this round, so it did not know at the start.
                let at_start = self.nodes[receiver as usize] & FRESH == 0;
                if self.interest.feedback.receiver_knew(at_start, true) {
                    ContactOutcome::Unnecessary
                } else {
                    ContactOutcome::Useful
                }
            }
            _ => ContactOutcome::NoFeedback,
        };
        let mut counter = self.counters.get(sender);
        let rng = &mut self.rng;
        let k = u32::from(self.interest.k);
        let stops = self.interest.after_contact_with(outcome, &mut counter, || {
            coin.unwrap_or_else(|| rng.chance(Chance::one_in(k)))
        });
        self.counters.set(sender, counter);
        self.leaving[sender as usize / 64] |= u64::from(stops) << (sender % 64);
    }

    #[inline(always)]
    fn record(&mut self, from: u32, to: u32, kind: MessageKind, fate: Fate) {
        if self.arrow_cap == 0 {
            return;
        }
        let t = Transmission {
            from,
            to,
            kind,
            fate,
        };
        self.arrows_seen += 1;
        if self.arrows.len() < self.arrow_cap {
            self.arrows.push(t);
        } else {
            // Reservoir sampling, so a capped round shows messages from all over the network
            // rather than from its first nodes only. Its own generator: what is drawn never
            // changes the run.
            self.arrow_pick = self
                .arrow_pick
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = ((self.arrow_pick >> 32) * self.arrows_seen) >> 32;
            if (j as usize) < self.arrow_cap {
                self.arrows[j as usize] = t;
            }
        }
    }
}

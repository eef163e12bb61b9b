//! Runs of the lab's protocols over the simulated network under a scenario, and the figures
//! each run yields: what the command-line tool summarises over many seeds, and what the
//! tests hold against the papers.

use super::kv::{KvCommand, KvConfig, KvNode};
use super::net::{EventBound, LinkConfig, Network, WireMessage};
use super::push_sum::{PushSum, PushSumCommand, PushSumConfig};
use super::rumor::{RumorCommand, RumorConfig, RumorNode};
use super::scenario::{Op, Scenario, ScenarioError};
use super::swim::{Incarnation, MemberState, Swim, SwimCommand, SwimConfig, SwimEvent};
use super::{Millis, Node, NodeId};
use crate::rng::{GossipRng, Stream};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

/// The most nodes a lab run takes (each node keeps a view of every other: n² state).
pub const MAX_LAB_NODES: u32 = 5_000;

/// Most events one run may process before it is stopped as runaway.
const MAX_EVENTS: u64 = 500_000_000;

/// What every lab run needs besides its protocol's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LabSettings {
    /// Nodes at the start, `2..=MAX_LAB_NODES`.
    pub nodes: u32,
    /// Master seed: every node's generator and the links' draws derive from it.
    pub seed: u64,
    /// How links behave at the start (the scenario may change it).
    pub link: LinkConfig,
    /// What happens, when.
    pub scenario: Scenario,
}

/// Why a lab run could not run.
#[derive(Clone, Debug, PartialEq)]
pub enum LabError {
    /// A parameter out of range (the message names it).
    Settings(String),
    /// The scenario does not fit the settings.
    Scenario(ScenarioError),
    /// The event bound was hit.
    Runaway(EventBound),
}

impl core::fmt::Display for LabError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LabError::Settings(m) => write!(f, "{m}"),
            LabError::Scenario(e) => write!(f, "{e}"),
            LabError::Runaway(b) => write!(f, "the run exceeded {} events", b.0),
        }
    }
}

impl LabSettings {
    fn validate(&self) -> Result<(), LabError> {
        if !(2..=MAX_LAB_NODES).contains(&self.nodes) {
            return Err(LabError::Settings(alloc::format!(
                "nodes must be 2..={MAX_LAB_NODES} for this protocol, not {}",
                self.nodes
            )));
        }
        self.link
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        self.scenario
            .check_nodes(self.nodes)
            .map_err(LabError::Scenario)
    }
}

/// Node `i`'s generator for its `life`-th life (restarts start a new one).
pub fn node_rng(seed: u64, i: u32, life: u32) -> GossipRng {
    GossipRng::derive(seed, Stream::Nodes, (u64::from(life) << 40) + u64::from(i))
}

/// How one protocol's nodes are made and take the scenario's node-level operations.
pub trait Spawner {
    /// The protocol's node.
    type Node: Node<Message = Self::Message>;
    /// Its message.
    type Message: WireMessage;
    /// A fresh node `i` in its `life`-th life; `previous`: its last state before a restart.
    fn spawn(&self, i: u32, life: u32, now: Millis, previous: Option<&Self::Node>) -> Self::Node;
    /// Node `i` was just added or restarted; `contacts`: a few live nodes to join through
    /// (a seed list, as memberlist's and Serf's joins take).
    fn joined(&self, net: &mut Network<Self::Node>, i: u32, contacts: &[u32]);
    /// Node `i` leaves gracefully.
    fn leave(&self, net: &mut Network<Self::Node>, i: u32);
    /// A protocol-specific operation (a key-value write, a push-sum value).
    fn command(&self, net: &mut Network<Self::Node>, op: &Op);
    /// The incarnation a node runs at (SWIM's; 0 for protocols without one).
    fn incarnation(&self, _node: &Self::Node) -> u32 {
        0
    }
}

/// One life of a node: from its start (or restart, or join) to its crash or leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Life {
    start: Millis,
    end: Option<Millis>,
    incarnation: u32,
}

/// A lab run in progress: the network, the scenario's remaining steps, and what the
/// scenario's operations need (how to make nodes, each node's restarts). The command line
/// plays it to the end; the page advances it frame by frame.
pub struct Lab<S: Spawner> {
    net: Network<S::Node>,
    spawner: S,
    steps: Vec<(u64, Op)>,
    next_step: usize,
    /// Every node's lives, oldest first.
    lives: Vec<Vec<Life>>,
    rng: GossipRng,
    end: Millis,
}

impl<S: Spawner> Lab<S> {
    /// Builds the starting group (every node knows every other) at time 0.
    fn new(settings: &LabSettings, spawner: S) -> Result<Self, LabError> {
        settings.validate()?;
        let mut net: Network<S::Node> = Network::new(
            settings.link,
            GossipRng::derive(settings.seed, Stream::Links, 0),
        );
        for i in 0..settings.nodes {
            net.add(spawner.spawn(i, 0, Millis(0), None));
        }
        for i in 0..settings.nodes {
            net.with_node(i, |node, now| {
                for j in 0..settings.nodes {
                    node.handle_peer(now, NodeId(u64::from(j)), true);
                }
            });
        }
        let lives = (0..settings.nodes)
            .map(|i| {
                alloc::vec![Life {
                    start: Millis(0),
                    end: None,
                    incarnation: spawner.incarnation(net.node(i)),
                }]
            })
            .collect();
        Ok(Lab {
            net,
            spawner,
            lives,
            steps: settings.scenario.steps.clone(),
            next_step: 0,
            rng: GossipRng::derive(settings.seed, Stream::Scenario, 0),
            end: Millis(settings.scenario.end_ms),
        })
    }

    /// The network and its nodes.
    pub fn network(&self) -> &Network<S::Node> {
        &self.net
    }

    /// Notes node `i`'s messages from now on (see [`Network::watch`]).
    pub fn watch(&mut self, i: Option<u32>) {
        self.net.watch(i);
    }

    /// Whether node `i` was running (not crashed, not left) at `at`, in a life whose
    /// incarnation started at or below `incarnation`: news about that life at that time
    /// concerns a live node. A "dead" verdict that passes this is a false positive.
    pub fn was_live(&self, i: u32, at: Millis, incarnation: u32) -> bool {
        self.lives.get(i as usize).is_some_and(|lives| {
            lives.iter().any(|life| {
                life.start <= at
                    && life.end.is_none_or(|end| at < end)
                    && incarnation >= life.incarnation
            })
        })
    }

    fn end_life(&mut self, i: u32) {
        let now = self.net.now();
        if let Some(life) = self.lives[i as usize]
            .last_mut()
            .filter(|l| l.end.is_none())
        {
            life.end = Some(now);
        }
    }

    fn start_life(&mut self, i: u32) {
        let life = Life {
            start: self.net.now(),
            end: None,
            incarnation: self.spawner.incarnation(self.net.node(i)),
        };
        match self.lives.get_mut(i as usize) {
            Some(lives) => lives.push(life),
            None => self.lives.push(alloc::vec![life]),
        }
    }

    /// When the scenario ends.
    pub fn end(&self) -> Millis {
        self.end
    }

    /// Runs the network and the scenario's steps up to and including `until` (a step due at
    /// `until` is applied after the network's events of that moment) and returns the nodes'
    /// events meanwhile, with when and who.
    #[allow(clippy::type_complexity)]
    pub fn advance(
        &mut self,
        until: Millis,
    ) -> Result<Vec<(Millis, NodeId, <S::Node as Node>::Event)>, LabError> {
        let mut events = Vec::new();
        loop {
            let step = self
                .steps
                .get(self.next_step)
                .filter(|s| Millis(s.0) <= until);
            let to = step.map_or(until, |s| Millis(s.0));
            self.net
                .run_until(to, MAX_EVENTS)
                .map_err(LabError::Runaway)?;
            events.extend(self.net.drain_events());
            let Some((_, op)) = step.cloned() else {
                return Ok(events);
            };
            self.next_step += 1;
            self.apply(&op);
            events.extend(self.net.drain_events());
        }
    }

    /// Applies one operation now (the page's buttons use the scenario's operations too).
    /// Node indices MUST exist.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Crash(i) => {
                self.end_life(i);
                self.net.crash(i);
            }
            Op::Restart(i) => {
                self.end_life(i);
                let life = self.lives[i as usize].len() as u32;
                let net = &mut self.net;
                let node = self.spawner.spawn(i, life, net.now(), Some(net.node(i)));
                net.restart(i, node);
                self.start_life(i);
                let contacts = live_contacts(&self.net, i, &mut self.rng);
                self.spawner.joined(&mut self.net, i, &contacts);
            }
            Op::Join => {
                let i = self.net.len() as u32;
                let node = self.spawner.spawn(i, 0, self.net.now(), None);
                self.net.add(node);
                self.start_life(i);
                let contacts = live_contacts(&self.net, i, &mut self.rng);
                self.spawner.joined(&mut self.net, i, &contacts);
            }
            Op::Leave(i) => {
                self.end_life(i);
                self.spawner.leave(&mut self.net, i);
            }
            Op::Split(k) => {
                let net = &mut self.net;
                let n = net.len() as u32;
                for i in 0..n {
                    net.set_group(i, (u64::from(i) * u64::from(k) / u64::from(n)) as u16);
                }
            }
            Op::Heal => self.net.heal(),
            Op::Loss(loss) => self.net.set_link(LinkConfig {
                loss,
                ..self.net.link()
            }),
            Op::Duplicate(duplicate) => self.net.set_link(LinkConfig {
                duplicate,
                ..self.net.link()
            }),
            Op::Latency(latency_ms, jitter_ms, spread_ms) => self.net.set_link(LinkConfig {
                latency_ms,
                jitter_ms,
                spread_ms,
                ..self.net.link()
            }),
            Op::Slow(i, ms) => self.net.set_slow(i, ms),
            Op::Set(..) | Op::Value(..) | Op::Rumor(..) => self.spawner.command(&mut self.net, op),
        }
    }
}

/// Plays `lab` to its end, calling `observe` with the events after every stretch and
/// `sample` every `sample_ms` (if given) and at the end.
fn play<S: Spawner>(
    mut lab: Lab<S>,
    sample_ms: Option<u64>,
    end_mode: End,
    mut observe: impl FnMut(&Lab<S>, Vec<(Millis, NodeId, <S::Node as Node>::Event)>),
    mut sample: impl FnMut(&Network<S::Node>, Millis),
) -> Result<(), LabError> {
    let end = lab.end;
    let mut t = 0;
    while let Some(next) = sample_ms.map(|ms| t + ms).filter(|&next| next < end.0) {
        t = next;
        let events = lab.advance(Millis(t))?;
        observe(&lab, events);
        sample(&lab.net, Millis(t));
    }
    let events = lab.advance(end)?;
    observe(&lab, events);
    if end_mode == End::DeliverInFlight {
        lab.net
            .deliver_in_flight(MAX_EVENTS)
            .map_err(LabError::Runaway)?;
    }
    sample(&lab.net, end);
    Ok(())
}

/// What happens to messages still on the links when the scenario ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// They are left there (the figures are about the moment of the end).
    Cut,
    /// They arrive first (no node acts on a timer meanwhile): mass in flight is not lost.
    DeliverInFlight,
}

/// Up to `JOIN_CONTACTS` distinct random live nodes other than `except`.
fn live_contacts<N: Node>(net: &Network<N>, except: u32, rng: &mut GossipRng) -> Vec<u32>
where
    N::Message: WireMessage,
{
    let mut live: Vec<u32> = (0..net.len() as u32)
        .filter(|&j| j != except && net.is_up(j))
        .collect();
    let take = JOIN_CONTACTS.min(live.len());
    for k in 0..take {
        let j = k + rng.below((live.len() - k) as u32) as usize;
        live.swap(k, j);
    }
    live.truncate(take);
    live
}

/// How many live nodes a joiner contacts: one could crash before the join arrives.
const JOIN_CONTACTS: usize = 3;

// ---------------------------------------------------------------------------------------
// SWIM

/// How a SWIM lab makes its members.
pub struct SwimNodes {
    config: SwimConfig,
    seed: u64,
    phases: Phases,
}

/// When members' protocol periods start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phases {
    /// At a random offset within the first period, each member its own (real processes).
    Random,
    /// All at time 0 (the synchronous rounds of the SWIM paper's analysis).
    Aligned,
}

impl Spawner for SwimNodes {
    type Node = Swim;
    type Message = super::swim::SwimMessage;

    fn spawn(&self, i: u32, life: u32, now: Millis, previous: Option<&Swim>) -> Swim {
        // A restarted process comes back at a higher incarnation than any it had, so its
        // news overrides the group's memory of its death.
        let incarnation = previous.map_or(Incarnation(0), |p| Incarnation(p.incarnation().0 + 1));
        let mut rng = node_rng(self.seed, i, life);
        let offset = match self.phases {
            Phases::Random => u64::from(rng.below(self.config.period_ms)),
            Phases::Aligned => 0,
        };
        Swim::new(
            NodeId(u64::from(i)),
            incarnation,
            self.config,
            rng,
            now.after(offset),
        )
    }

    fn joined(&self, net: &mut Network<Swim>, i: u32, contacts: &[u32]) {
        for &c in contacts {
            net.with_node(i, |node, now| {
                node.handle_command(now, SwimCommand::Join(NodeId(u64::from(c))))
            });
        }
    }

    fn leave(&self, net: &mut Network<Swim>, i: u32) {
        net.with_node(i, |node, now| node.handle_command(now, SwimCommand::Leave));
    }

    fn command(&self, _: &mut Network<Swim>, _: &Op) {}

    fn incarnation(&self, node: &Swim) -> u32 {
        node.incarnation().0
    }
}

impl Lab<SwimNodes> {
    /// A SWIM group under the settings' scenario.
    pub fn swim(
        settings: &LabSettings,
        config: SwimConfig,
        phases: Phases,
    ) -> Result<Self, LabError> {
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        let spawner = SwimNodes {
            config,
            seed: settings.seed,
            phases,
        };
        Lab::new(settings, spawner)
    }
}

/// One SWIM run's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwimFigures {
    /// Protocol periods from the scenario's first crash until some live member first marks
    /// the crashed node suspect or dead; `None` without a crash or a detection.
    pub first_detection_periods: Option<f64>,
    /// ... until every live member has; `None` if some never did.
    pub full_detection_periods: Option<f64>,
    /// Members some member declared dead while they were running, in the life the verdict
    /// was about (see [`Lab::was_live`]).
    pub false_positives: u32,
    /// Messages sent per node per protocol period.
    pub messages_per_node_period: f64,
}

/// Plays SWIM with `config` under the settings' scenario.
pub fn run_swim(
    settings: &LabSettings,
    config: SwimConfig,
    phases: Phases,
) -> Result<SwimFigures, LabError> {
    let lab = Lab::swim(settings, config, phases)?;
    let crash = settings
        .scenario
        .steps
        .iter()
        .find_map(|(at, op)| match op {
            Op::Crash(i) => Some((Millis(*at), *i)),
            _ => None,
        });
    // Each observer's first marking of the crashed node after the crash.
    let mut marked: BTreeMap<NodeId, Millis> = BTreeMap::new();
    let mut false_positives: BTreeSet<NodeId> = BTreeSet::new();
    let mut sent = 0;
    let mut final_live: Vec<u32> = Vec::new();
    play(
        lab,
        None,
        End::Cut,
        |lab, events| {
            for (at, observer, event) in events {
                let SwimEvent::Member {
                    member,
                    state,
                    incarnation,
                } = event
                else {
                    continue;
                };
                let m = member.0 as u32;
                if let Some((crash_at, crashed)) = crash {
                    let accused = matches!(state, MemberState::Suspect | MemberState::Dead);
                    if m == crashed && at >= crash_at && accused {
                        marked.entry(observer).or_insert(at);
                    }
                }
                if state == MemberState::Dead && lab.was_live(m, at, incarnation.0) {
                    false_positives.insert(member);
                }
            }
        },
        |net, _| {
            sent = net.stats().sent;
            final_live = (0..net.len() as u32)
                .filter(|&i| net.is_up(i) && !net.node(i).has_left())
                .collect();
        },
    )?;
    let period = f64::from(config.period_ms);
    let (first, full) = match crash {
        None => (None, None),
        Some((crash_at, crashed)) => {
            let first = marked
                .values()
                .min()
                .map(|t| t.since(crash_at) as f64 / period);
            let observers: Vec<NodeId> = final_live
                .iter()
                .filter(|&&i| i != crashed)
                .map(|&i| NodeId(u64::from(i)))
                .collect();
            let full = observers
                .iter()
                .map(|o| marked.get(o).copied())
                .collect::<Option<Vec<Millis>>>()
                .and_then(|ts| ts.into_iter().max())
                .map(|t| t.since(crash_at) as f64 / period);
            (first, full)
        }
    };
    let periods = settings.scenario.end_ms as f64 / period;
    Ok(SwimFigures {
        first_detection_periods: first,
        full_detection_periods: full,
        false_positives: false_positives.len() as u32,
        messages_per_node_period: sent as f64 / f64::from(settings.nodes) / periods,
    })
}

// ---------------------------------------------------------------------------------------
// Peer lists for the protocols without a membership of their own

/// Tells a (re)started node `i` of every running node, and every running node of it.
fn introduce<N: Node>(net: &mut Network<N>, i: u32)
where
    N::Message: WireMessage,
{
    let others: Vec<u32> = (0..net.len() as u32)
        .filter(|&j| j != i && net.is_up(j))
        .collect();
    net.with_node(i, |node, now| {
        for &j in &others {
            node.handle_peer(now, NodeId(u64::from(j)), true);
        }
    });
    for j in others {
        net.with_node(j, |node, now| {
            node.handle_peer(now, NodeId(u64::from(i)), true)
        });
    }
}

/// Tells every running node that `i` is gone.
fn farewell<N: Node>(net: &mut Network<N>, i: u32)
where
    N::Message: WireMessage,
{
    for j in 0..net.len() as u32 {
        net.with_node(j, |node, now| {
            node.handle_peer(now, NodeId(u64::from(i)), false)
        });
    }
    net.crash(i);
}

// ---------------------------------------------------------------------------------------
// Push-sum

/// Node `i`'s starting value in a push-sum run: uniform in `[0, 100)`, from the seed.
pub fn push_sum_value(seed: u64, i: u32) -> f64 {
    let mut rng = GossipRng::derive(seed, Stream::Scenario, 1 + u64::from(i));
    f64::from(rng.next_u32()) / 4_294_967_296.0 * 100.0
}

/// How a push-sum lab makes its nodes.
pub struct PushSumNodes {
    config: PushSumConfig,
    seed: u64,
}

impl Spawner for PushSumNodes {
    type Node = PushSum;
    type Message = super::push_sum::PushSumMessage;

    fn spawn(&self, i: u32, life: u32, now: Millis, _: Option<&PushSum>) -> PushSum {
        let value = push_sum_value(self.seed, i);
        let rng = node_rng(self.seed, i, life);
        PushSum::new(NodeId(u64::from(i)), value, i == 0, self.config, rng, now)
    }

    fn joined(&self, net: &mut Network<PushSum>, i: u32, _: &[u32]) {
        introduce(net, i);
    }

    fn leave(&self, net: &mut Network<PushSum>, i: u32) {
        farewell(net, i);
    }

    fn command(&self, net: &mut Network<PushSum>, op: &Op) {
        if let Op::Value(i, x) = *op {
            net.with_node(i, |node, now| {
                node.handle_command(now, PushSumCommand::SetValue(x))
            });
        }
    }
}

impl Lab<PushSumNodes> {
    /// Push-sum nodes under the settings' scenario (node 0 designated, see
    /// [`super::push_sum::Aggregate::start`]).
    pub fn push_sum(settings: &LabSettings, config: PushSumConfig) -> Result<Self, LabError> {
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        let spawner = PushSumNodes {
            config,
            seed: settings.seed,
        };
        Lab::new(settings, spawner)
    }
}

/// One push-sum run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct PushSumFigures {
    /// Rounds until every live node's estimate is within 10^-3 of the true aggregate
    /// (relative); `None` if never.
    pub rounds_to_error_1e3: Option<f64>,
    /// ... within 10^-6.
    pub rounds_to_error_1e6: Option<f64>,
    /// The live nodes' total weight at the end over their number at the start: 1 while no
    /// mass is lost (average), less with loss or crashes.
    pub mass_remaining: f64,
    /// The largest relative error among live nodes at each round, from round 1.
    pub error_per_round: Vec<f64>,
}

/// The largest relative error of the live nodes' estimates against the live nodes' true
/// aggregate (infinite for a node with no estimate yet).
pub fn push_sum_error(net: &Network<PushSum>, aggregate: super::push_sum::Aggregate) -> f64 {
    let live: Vec<&PushSum> = (0..net.len() as u32)
        .filter(|&i| net.is_up(i))
        .map(|i| net.node(i))
        .collect();
    let total: f64 = live.iter().map(|n| n.value()).sum();
    let truth = match aggregate {
        super::push_sum::Aggregate::Average => total / live.len() as f64,
        super::push_sum::Aggregate::Sum => total,
        super::push_sum::Aggregate::Count => live.len() as f64,
    };
    live.iter()
        .map(|n| match n.estimate() {
            Some(e) => libm::fabs(e - truth) / libm::fabs(truth).max(f64::MIN_POSITIVE),
            None => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

/// Plays push-sum with `config` under the settings' scenario, sampling every round.
pub fn run_push_sum(
    settings: &LabSettings,
    config: PushSumConfig,
) -> Result<PushSumFigures, LabError> {
    let lab = Lab::push_sum(settings, config)?;
    let interval = u64::from(config.interval_ms);
    let mut errors = Vec::new();
    let mut mass = 0.0;
    play(
        lab,
        Some(interval),
        End::DeliverInFlight,
        |_, _| {},
        |net, at| {
            if at.0 % interval == 0 && at.0 > 0 {
                errors.push(push_sum_error(net, config.aggregate));
            }
            mass = (0..net.len() as u32)
                .filter(|&i| net.is_up(i))
                .map(|i| net.node(i).mass().1)
                .sum();
        },
    )?;
    let first_within = |eps: f64| {
        errors
            .iter()
            .position(|&e| e <= eps)
            .map(|r| (r + 1) as f64)
    };
    Ok(PushSumFigures {
        rounds_to_error_1e3: first_within(1e-3),
        rounds_to_error_1e6: first_within(1e-6),
        mass_remaining: mass / f64::from(settings.nodes),
        error_per_round: errors,
    })
}

// ---------------------------------------------------------------------------------------
// Rumors

/// How a rumor lab makes its nodes.
pub struct RumorNodes {
    config: RumorConfig,
    seed: u64,
}

impl Spawner for RumorNodes {
    type Node = RumorNode;
    type Message = super::rumor::RumorMessage;

    fn spawn(&self, i: u32, life: u32, now: Millis, previous: Option<&RumorNode>) -> RumorNode {
        let node = RumorNode::new(
            NodeId(u64::from(i)),
            self.config,
            node_rng(self.seed, i, life),
            now,
        );
        node.with_next_seq(previous.map_or(0, RumorNode::next_seq))
    }

    fn joined(&self, net: &mut Network<RumorNode>, i: u32, _: &[u32]) {
        introduce(net, i);
    }

    fn leave(&self, net: &mut Network<RumorNode>, i: u32) {
        farewell(net, i);
    }

    fn command(&self, net: &mut Network<RumorNode>, op: &Op) {
        if let Op::Rumor(i, text) = op {
            let command = RumorCommand::Start(text.clone());
            net.with_node(*i, |node, now| node.handle_command(now, command));
        }
    }
}

impl Lab<RumorNodes> {
    /// Rumor nodes under the settings' scenario (rumors start with its `rumor` steps).
    pub fn rumor(settings: &LabSettings, config: RumorConfig) -> Result<Self, LabError> {
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        let spawner = RumorNodes {
            config,
            seed: settings.seed,
        };
        Lab::new(settings, spawner)
    }
}

// ---------------------------------------------------------------------------------------
// Key-value

/// How a key-value lab makes its replicas.
pub struct KvNodes {
    config: KvConfig,
    seed: u64,
}

impl Spawner for KvNodes {
    type Node = KvNode;
    type Message = super::kv::KvMessage;

    fn spawn(&self, i: u32, life: u32, now: Millis, _: Option<&KvNode>) -> KvNode {
        KvNode::new(
            NodeId(u64::from(i)),
            self.config,
            node_rng(self.seed, i, life),
            now,
        )
    }

    fn joined(&self, net: &mut Network<KvNode>, i: u32, _: &[u32]) {
        introduce(net, i);
    }

    fn leave(&self, net: &mut Network<KvNode>, i: u32) {
        farewell(net, i);
    }

    fn command(&self, net: &mut Network<KvNode>, op: &Op) {
        if let Op::Set(i, key, value) = op {
            let command = KvCommand::Set {
                key: key.clone(),
                value: value.clone(),
            };
            net.with_node(*i, |node, now| node.handle_command(now, command));
        }
    }
}

impl Lab<KvNodes> {
    /// Key-value replicas under the settings' scenario.
    pub fn kv(settings: &LabSettings, config: KvConfig) -> Result<Self, LabError> {
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        let spawner = KvNodes {
            config,
            seed: settings.seed,
        };
        Lab::new(settings, spawner)
    }
}

/// One key-value run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct KvFigures {
    /// Rounds (intervals) from the scenario's last write, heal, restart or join until every
    /// live replica holds the same entries; `None` if not by the end.
    pub rounds_to_converge: Option<f64>,
    /// Keys that hold concurrent writes (more than one vector-clock sibling) at node 0 at
    /// the end; last-writer-wins kept one of each and dropped the others.
    pub conflicting_keys: u32,
}

/// Whether every live replica holds the same entries.
pub fn kv_converged(net: &Network<KvNode>) -> bool {
    let mut live = (0..net.len() as u32).filter(|&i| net.is_up(i));
    let Some(first) = live.next() else {
        return true;
    };
    let digest = net.node(first).digest();
    live.all(|i| net.node(i).digest() == digest)
}

/// Plays the key-value map with `config` under the settings' scenario.
pub fn run_kv(settings: &LabSettings, config: KvConfig) -> Result<KvFigures, LabError> {
    let lab = Lab::kv(settings, config)?;
    let interval = u64::from(config.interval_ms);
    let settle_from = settings
        .scenario
        .steps
        .iter()
        .filter(|(_, op)| matches!(op, Op::Set(..) | Op::Heal | Op::Restart(_) | Op::Join))
        .map(|s| s.0)
        .max()
        .unwrap_or(0);
    let mut converged_at = None;
    let mut conflicting_keys = 0;
    play(
        lab,
        Some(interval),
        End::Cut,
        |_, _| {},
        |net, at| {
            // After the step: a sample at the very time of a step is taken before it.
            if at.0 > settle_from && converged_at.is_none() && kv_converged(net) {
                converged_at = Some(at);
            }
            let node = net.node(0);
            conflicting_keys = node
                .keys()
                .iter()
                .filter(|k| node.siblings(k).len() > 1)
                .count() as u32;
        },
    )?;
    Ok(KvFigures {
        rounds_to_converge: converged_at
            .map(|t| t.since(Millis(settle_from)) as f64 / interval as f64),
        conflicting_keys,
    })
}

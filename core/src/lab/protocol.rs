//! The seam every lab protocol goes through, and the world it runs in.
//!
//! A protocol is one folder under `lab/` holding its node (the sans-IO state machine) and
//! its [`ProtocolSpec`]: how its config derives from the user's [`LabOptions`] (validated
//! once), how the simulator makes, joins and stops its nodes, which scenario operations it
//! takes, and its [`Observer`], which turns a run's events and state into the figures users
//! see. [`Lab`] is the world: the simulated network of one protocol's nodes, the scenario's
//! steps applied on time, and every node's lives. [`super::run`] adds the observer and the
//! registry on top; nothing here knows a particular protocol.

use super::net::{EventBound, LinkConfig, Network, WireMessage};
use super::push_sum::node::Aggregate;
use super::scenario::{Command, Op, Scenario, ScenarioError};
use super::{Millis, Node, NodeId};
use crate::rng::{GossipRng, Stream};
use crate::rules::{Interest, Protocol};
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

/// Every option a user can set on a lab run, whatever the protocol (the command line's
/// flags, the page's controls and URL). A protocol reads those it takes and derives its
/// config from them in [`ProtocolSpec::config`]; [`LabOptions::unused`] names any other
/// option set away from its default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabOptions {
    /// SWIM's protocol period, the other protocols' gossip interval, ms, `10..=60_000`.
    pub interval_ms: u32,
    /// SWIM: Lifeguard's local health and dynamic suspicion timeout.
    pub lifeguard: bool,
    /// SWIM: memberlist's full-state push-pull with one member every
    /// [`PUSH_PULL_PERIODS`](super::swim::PUSH_PULL_PERIODS) periods (live mode runs it every
    /// [`ROOM_PUSH_PULL_PERIODS`](super::live::ROOM_PUSH_PULL_PERIODS)): what makes the lists
    /// whole again after a partition heals.
    pub push_pull: bool,
    /// Push-sum: what is computed.
    pub aggregate: Aggregate,
    /// Rumors: push, pull or push-pull.
    pub mode: Protocol,
    /// Rumors: peers contacted per interval.
    pub fanout: u8,
    /// Rumors: when a node stops spreading a rumor (its `feedback` does not apply: in
    /// continuous time a contact's feedback is judged when it arrives).
    pub interest: Interest,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            interval_ms: 1_000,
            lifeguard: false,
            push_pull: false,
            aggregate: Aggregate::Average,
            mode: Protocol::Push,
            fanout: 1,
            interest: Interest::FOREVER,
        }
    }
}

/// An option of [`LabOptions`] besides the interval, which every protocol takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabOption {
    /// [`LabOptions::lifeguard`].
    Lifeguard,
    /// [`LabOptions::push_pull`].
    PushPull,
    /// [`LabOptions::aggregate`].
    Aggregate,
    /// [`LabOptions::mode`].
    Mode,
    /// [`LabOptions::fanout`].
    Fanout,
    /// [`LabOptions::interest`].
    Stop,
}

impl LabOptions {
    /// The first option set away from its default that `protocol` does not take: the
    /// command line refuses it rather than ignore it.
    pub fn unused(&self, protocol: &ProtocolInfo) -> Option<LabOption> {
        let d = LabOptions::default();
        [
            (LabOption::Lifeguard, self.lifeguard != d.lifeguard),
            (LabOption::PushPull, self.push_pull != d.push_pull),
            (LabOption::Aggregate, self.aggregate != d.aggregate),
            (LabOption::Mode, self.mode != d.mode),
            (LabOption::Fanout, self.fanout != d.fanout),
            (LabOption::Stop, self.interest.rule != d.interest.rule),
        ]
        .into_iter()
        .find(|&(o, set)| set && !protocol.options.contains(&o))
        .map(|(o, _)| o)
    }
}

/// When nodes' intervals (or periods) start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phases {
    /// At a random offset within the first interval, each node its own (real processes).
    #[default]
    Random,
    /// All at time 0: synchronous rounds, as the papers' analyses and the round engine have.
    Aligned,
}

/// What happens to messages still on the links when the scenario ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// They are left there (the figures are about the moment of the end).
    Cut,
    /// They arrive first (no node acts on a timer meanwhile): push-sum's mass in flight is
    /// not lost.
    DeliverInFlight,
}

/// One figure of one run, as `grapevine sim` summarises it over runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// Its name in JSON, CSV and tables.
    pub name: &'static str,
    /// Whether a run may lack it (then the summary counts the runs that have it).
    pub optional: bool,
    /// Its value; `None` if this run never reached it.
    pub value: Option<f64>,
}

/// One line of a run's log: when, and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// When.
    pub at: Millis,
    /// What.
    pub text: String,
    /// A fault or a false verdict (the page shows it in the accent colour).
    pub alarm: bool,
}

/// The newest notable events of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log(VecDeque<LogLine>);

impl Log {
    /// Lines kept (the newest).
    pub const LINES: usize = 14;

    /// Adds a line, forgetting the oldest beyond [`Log::LINES`].
    pub fn push(&mut self, at: Millis, text: String, alarm: bool) {
        if self.0.len() == Self::LINES {
            self.0.pop_front();
        }
        self.0.push_back(LogLine { at, text, alarm });
    }

    /// The lines, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.0.iter()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A protocol's registry entry: what menus, flags and URLs need without running it.
/// Compared by name.
#[derive(Debug)]
pub struct ProtocolInfo {
    /// The name on the command line and in the page's URL.
    pub name: &'static str,
    /// The name for people.
    pub label: &'static str,
    /// The preset a run takes when given no scenario; `None`: nothing happens for 60 s
    /// ([`super::QUIET_SCENARIO`]).
    pub default_scenario: Option<&'static str>,
    /// The options besides the interval that it takes.
    pub options: &'static [LabOption],
    /// The scenario operations of its own it takes (the verbs of its [`Command`]s).
    pub commands: &'static [&'static str],
    /// Its figures' names, in the order its observer gives them.
    pub figures: &'static [&'static str],
}

impl PartialEq for ProtocolInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ProtocolInfo {}

// `ProtocolInfo::all` and `ProtocolInfo::named` read the list of protocols, so they live
// beside it, in `registry.rs`.
impl ProtocolInfo {
    /// Whether it takes `option`.
    pub fn takes(&self, option: LabOption) -> bool {
        self.options.contains(&option)
    }
}

/// A lab protocol: its node, its config, how the simulator drives it, and what it measures.
pub trait ProtocolSpec: Sized + 'static {
    /// Its registry entry.
    const INFO: ProtocolInfo;
    /// What happens to messages in flight at the end.
    const END: End = End::Cut;
    /// Its node.
    type Node: Node<Message = Self::Message> + 'static;
    /// Its message.
    type Message: WireMessage;
    /// Its node's parameters.
    type Config: Copy + core::fmt::Debug + 'static;
    /// What turns a run into its figures.
    type Observer: Observer<Self>;

    /// The config `options` ask for, validated: the one place it is derived and checked.
    fn config(options: &LabOptions) -> Result<Self::Config, LabError>;

    /// Its gossip interval (or protocol period), ms: the unit of its figures' time.
    fn interval_ms(config: &Self::Config) -> u32;

    /// A fresh node `i` in its `life`-th life; `previous`: its last state before a restart.
    fn spawn(
        config: &Self::Config,
        seed: u64,
        phases: Phases,
        i: u32,
        life: u32,
        now: Millis,
        previous: Option<&Self::Node>,
    ) -> Self::Node;

    /// Node `i` was just added or restarted; `contacts`: a few live nodes to join through.
    /// By default it learns of every running node and they of it.
    fn joined(net: &mut Network<Self::Node>, i: u32, contacts: &[u32]) {
        let _ = contacts;
        introduce(net, i);
    }

    /// Node `i` leaves gracefully. By default every node forgets it and it stops.
    fn leave(net: &mut Network<Self::Node>, i: u32) {
        farewell(net, i);
    }

    /// Whether `command` (its verb one of [`ProtocolInfo::commands`]) is well formed; the
    /// sentence says why not.
    fn check_command(command: &Command) -> Result<(), String> {
        Err(alloc::format!("unknown operation `{}`", command.verb))
    }

    /// Carries out `command` (its verb one of [`ProtocolInfo::commands`], checked).
    fn command(net: &mut Network<Self::Node>, command: &Command) {
        let _ = (net, command);
    }

    /// The incarnation a node runs at (SWIM's; 0 for protocols without one).
    fn incarnation(node: &Self::Node) -> u32 {
        let _ = node;
        0
    }

    /// Steps the run adds to every scenario (a rumor run's first rumor).
    fn implicit_steps(scenario: &Scenario) -> Vec<(u64, Op)> {
        let _ = scenario;
        Vec::new()
    }

    /// What theory expects of `figure` (one of [`ProtocolInfo::figures`]) for runs of
    /// `settings` with `config`, where the protocol has a model that fits them; `None` (the
    /// default) elsewhere. The sweeps' plots draw it dashed over the measured means.
    fn expected(figure: &str, settings: &LabSettings, config: &Self::Config) -> Option<f64> {
        let _ = (figure, settings, config);
        None
    }
}

/// A node event with when and where it happened.
pub type Timed<E> = (Millis, NodeId, E);

/// Turns a run's events and state into the figures users see. One per run.
pub trait Observer<P: ProtocolSpec>: Sized + 'static {
    /// What the charts plot, once per interval.
    type Sample: Copy + core::fmt::Debug + 'static;

    /// The observer of a run at time 0.
    fn new(lab: &Lab<P>) -> Self;

    /// The scenario's `steps` just applied and the nodes' `events` since the last call
    /// (up to the lab's time); notable ones go to `log`.
    fn observe(
        &mut self,
        lab: &Lab<P>,
        steps: &[(u64, Op)],
        events: Vec<Timed<<P::Node as Node>::Event>>,
        log: &mut Log,
    );

    /// The state at an interval boundary, for the charts (and for figures over time).
    fn sample(&mut self, lab: &Lab<P>) -> Self::Sample;

    /// The run's figures, in the order of [`ProtocolInfo::figures`].
    fn figures(&self, lab: &Lab<P>) -> Vec<Figure>;
}

/// Tells a (re)started node `i` of every running node, and every running node of it (the
/// peer lists of protocols without a membership of their own).
pub fn introduce<N: Node>(net: &mut Network<N>, i: u32)
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

/// Tells every running node that `i` is gone, and stops it.
pub fn farewell<N: Node>(net: &mut Network<N>, i: u32)
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

/// A run's figures: `values` (each with whether a run may lack it) named by `P`'s
/// [`ProtocolInfo::figures`], in order.
pub fn named<P: ProtocolSpec>(values: &[(Option<f64>, bool)]) -> Vec<Figure> {
    debug_assert_eq!(values.len(), P::INFO.figures.len());
    P::INFO
        .figures
        .iter()
        .zip(values)
        .map(|(&name, &(value, optional))| Figure {
            name,
            optional,
            value,
        })
        .collect()
}

/// Messages per node per interval: what a protocol costs.
pub fn per_node_interval(sent: u64, nodes: u32, elapsed: Millis, interval_ms: u32) -> f64 {
    let intervals = (elapsed.0 as f64 / f64::from(interval_ms)).max(f64::MIN_POSITIVE);
    sent as f64 / f64::from(nodes.max(1)) / intervals
}

// ---------------------------------------------------------------------------------------
// The world a protocol runs in

/// The most nodes a lab run takes (each node keeps a view of every other: n² state).
pub const MAX_LAB_NODES: u32 = 5_000;

/// Most events one run may process before it is stopped as runaway.
pub const MAX_EVENTS: u64 = 500_000_000;

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
    /// When nodes' intervals start.
    pub phases: Phases,
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

/// A config's or a link's `validate()` message: a parameter out of range.
impl From<&'static str> for LabError {
    fn from(message: &'static str) -> Self {
        LabError::Settings(message.into())
    }
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
        self.link.validate()?;
        self.scenario
            .check_nodes(self.nodes)
            .map_err(LabError::Scenario)
    }
}

/// Node `i`'s generator for its `life`-th life (restarts start a new one).
pub fn node_rng(seed: u64, i: u32, life: u32) -> GossipRng {
    GossipRng::derive(seed, Stream::Nodes, (u64::from(life) << 40) + u64::from(i))
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
pub struct Lab<P: ProtocolSpec> {
    net: Network<P::Node>,
    config: P::Config,
    seed: u64,
    phases: Phases,
    scenario: Scenario,
    /// The scenario's steps and the protocol's implicit ones, in time order.
    steps: Vec<(u64, Op)>,
    next_step: usize,
    /// Every node's lives, oldest first.
    lives: Vec<Vec<Life>>,
    rng: GossipRng,
    end: Millis,
}

impl<P: ProtocolSpec> Lab<P> {
    /// Builds the starting group (every node knows every other) at time 0.
    pub fn new(settings: &LabSettings, config: P::Config) -> Result<Self, LabError> {
        settings.validate()?;
        let mut net: Network<P::Node> = Network::new(
            settings.link,
            GossipRng::derive(settings.seed, Stream::Links, 0),
        );
        let (seed, phases) = (settings.seed, settings.phases);
        for i in 0..settings.nodes {
            net.add(P::spawn(&config, seed, phases, i, 0, Millis(0), None));
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
                    incarnation: P::incarnation(net.node(i)),
                }]
            })
            .collect();
        let mut steps = P::implicit_steps(&settings.scenario);
        steps.extend(settings.scenario.steps.iter().cloned());
        // Stable: the implicit steps go first among steps of the same time.
        steps.sort_by_key(|s| s.0);
        Ok(Lab {
            net,
            config,
            seed,
            phases,
            scenario: settings.scenario.clone(),
            lives,
            steps,
            next_step: 0,
            rng: GossipRng::derive(settings.seed, Stream::Scenario, 0),
            end: Millis(settings.scenario.end_ms),
        })
    }

    /// The network and its nodes.
    pub fn network(&self) -> &Network<P::Node> {
        &self.net
    }

    /// The nodes' config.
    pub fn config(&self) -> &P::Config {
        &self.config
    }

    /// The scenario as given (without the protocol's implicit steps).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The run's time.
    pub fn now(&self) -> Millis {
        self.net.now()
    }

    /// Nodes at the start of the run.
    pub fn initial_nodes(&self) -> u32 {
        let joined = self.steps[..self.next_step]
            .iter()
            .filter(|s| s.1 == Op::Join)
            .count();
        (self.net.len() - joined) as u32
    }

    /// The running nodes' indices.
    pub fn live(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.net.len() as u32).filter(|&i| self.net.is_up(i))
    }

    /// When each running node `i`'s current life started.
    pub fn life_start(&self, i: u32) -> Option<Millis> {
        self.lives.get(i as usize)?.last().map(|l| l.start)
    }

    /// Notes node `i`'s messages from now on (see [`Network::watch`]).
    pub fn watch(&mut self, i: Option<u32>) {
        self.net.watch(i);
    }

    /// Records every message from now on, or stops (see [`Network::record_traffic`]).
    pub fn record_traffic(&mut self, on: bool) {
        self.net.record_traffic(on);
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
            incarnation: P::incarnation(self.net.node(i)),
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
    /// `until` is applied after the network's events of that moment) and returns the steps
    /// applied and the nodes' events meanwhile, with when and who.
    #[allow(clippy::type_complexity)]
    pub fn advance(
        &mut self,
        until: Millis,
    ) -> Result<(Vec<(u64, Op)>, Vec<Timed<<P::Node as Node>::Event>>), LabError> {
        let mut events = Vec::new();
        let mut applied = Vec::new();
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
            let Some((at, op)) = step.cloned() else {
                return Ok((applied, events));
            };
            self.next_step += 1;
            self.apply(&op);
            events.extend(self.net.drain_events());
            applied.push((at, op));
        }
    }

    /// Lets every message on the links arrive, no node acting on a timer meanwhile.
    pub fn deliver_in_flight(&mut self) -> Result<(), LabError> {
        self.net
            .deliver_in_flight(MAX_EVENTS)
            .map_err(LabError::Runaway)
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
                let (seed, phases) = (self.seed, self.phases);
                let node = P::spawn(
                    &self.config,
                    seed,
                    phases,
                    i,
                    life,
                    net.now(),
                    Some(net.node(i)),
                );
                net.restart(i, node);
                self.start_life(i);
                let contacts = live_contacts(&self.net, i, &mut self.rng);
                P::joined(&mut self.net, i, &contacts);
            }
            Op::Join => {
                let i = self.net.len() as u32;
                let node = P::spawn(
                    &self.config,
                    self.seed,
                    self.phases,
                    i,
                    0,
                    self.net.now(),
                    None,
                );
                self.net.add(node);
                self.start_life(i);
                let contacts = live_contacts(&self.net, i, &mut self.rng);
                P::joined(&mut self.net, i, &contacts);
            }
            Op::Leave(i) => {
                self.end_life(i);
                P::leave(&mut self.net, i);
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
            Op::Command(ref c) => {
                // Another protocol's operation (a scenario shared between protocols) does
                // nothing here.
                if P::INFO.commands.contains(&c.verb.as_str()) {
                    P::command(&mut self.net, c);
                }
            }
        }
    }
}

/// Up to `JOIN_CONTACTS` distinct random live nodes other than `except`.
fn live_contacts<N: Node>(net: &Network<N>, except: u32, rng: &mut GossipRng) -> Vec<u32>
where
    N::Message: WireMessage,
{
    let live: Vec<u32> = (0..net.len() as u32)
        .filter(|&j| j != except && net.is_up(j))
        .collect();
    rng.sample_distinct(live, JOIN_CONTACTS)
}

/// How many live nodes a joiner contacts: one could crash before the join arrives.
const JOIN_CONTACTS: usize = 3;

//! The seam every lab protocol goes through, and the registry that lists them.
//!
//! A protocol is one folder under `lab/` holding its node (the sans-IO state machine) and
//! its [`ProtocolSpec`]: how its config derives from the user's [`LabOptions`] (validated
//! once), how the simulator makes, joins and stops its nodes, which scenario operations it
//! takes, and its [`Observer`], which turns a run's events and state into the figures users
//! see. [`Run`] drives any of them over the simulated network; `grapevine sim`, the page and
//! the tests all read the figures a [`Run`] yields, so no figure is computed twice.
//!
//! [`REGISTRY`] lists the protocols, in menu order: the command line's `--protocol` values,
//! the page's protocol menu and its URL parsing come from it. Adding a protocol: a folder
//! with its node and spec, one line here, one line in [`super::wire::Message`] (the wire
//! format's enum, whose variant order is the format), one view file in the page.

use super::net::{LinkConfig, NetStats, Network, Note, WireMessage};
use super::run::{Lab, LabError, LabSettings};
use super::scenario::{Op, Scenario};
use super::{kv, push_sum, rumor, swim, Millis, Node, NodeId};
use crate::rules::{Interest, Protocol};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
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
    /// Push-sum: what is computed.
    pub aggregate: push_sum::Aggregate,
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
            aggregate: push_sum::Aggregate::Average,
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
    pub fn unused(&self, protocol: LabProtocol) -> Option<LabOption> {
        let d = LabOptions::default();
        [
            (LabOption::Lifeguard, self.lifeguard != d.lifeguard),
            (LabOption::Aggregate, self.aggregate != d.aggregate),
            (LabOption::Mode, self.mode != d.mode),
            (LabOption::Fanout, self.fanout != d.fanout),
            (LabOption::Stop, self.interest.rule != d.interest.rule),
        ]
        .into_iter()
        .find(|&(o, set)| set && !protocol.0.options.contains(&o))
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

/// How a registry entry starts a run of its protocol.
pub type Starter = fn(&LabSettings, &LabOptions) -> Result<Box<dyn AnyRun>, LabError>;

/// A protocol's registry entry: what menus, flags and URLs need without running it.
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
    /// Its figures' names, in the order [`AnyRun::figures`] gives them.
    pub figures: &'static [&'static str],
    /// Starts a run (see [`Run::start`]).
    pub start: Starter,
}

/// A lab protocol: a registry entry. Compared by name.
#[derive(Clone, Copy, Debug)]
pub struct LabProtocol(pub &'static ProtocolInfo);

impl PartialEq for LabProtocol {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for LabProtocol {}

/// Every lab protocol, in the order menus show them.
pub const REGISTRY: &[LabProtocol] = &[
    LabProtocol(&swim::Spec::INFO),
    LabProtocol(&push_sum::Spec::INFO),
    LabProtocol(&kv::Spec::INFO),
    LabProtocol(&rumor::Spec::INFO),
];

impl LabProtocol {
    /// Every protocol, in the order menus show them.
    pub fn all() -> impl Iterator<Item = LabProtocol> {
        REGISTRY.iter().copied()
    }

    /// The name used on the command line and in the page's URL.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The name for people.
    pub fn label(self) -> &'static str {
        self.0.label
    }

    /// The protocol named `name`.
    pub fn from_name(name: &str) -> Option<LabProtocol> {
        LabProtocol::all().find(|p| p.name() == name)
    }

    /// Whether this is `P`'s entry.
    pub fn is<P: ProtocolSpec>(self) -> bool {
        self.name() == P::INFO.name
    }

    /// The preset a run takes when given no scenario (`None`: a quiet 60 s).
    pub fn default_scenario(self) -> Option<&'static str> {
        self.0.default_scenario
    }

    /// Whether it takes `option`.
    pub fn takes(self, option: LabOption) -> bool {
        self.0.options.contains(&option)
    }

    /// A run at time 0.
    pub fn start(
        self,
        settings: &LabSettings,
        options: &LabOptions,
    ) -> Result<Box<dyn AnyRun>, LabError> {
        (self.0.start)(settings, options)
    }

    /// Plays a whole run and returns its figures.
    pub fn play(
        self,
        settings: &LabSettings,
        options: &LabOptions,
    ) -> Result<Vec<Figure>, LabError> {
        let mut run = self.start(settings, options)?;
        run.finish()?;
        Ok(run.figures())
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

    /// A scenario operation only some protocols take (a key-value write, a push-sum value,
    /// a rumor); others ignore it.
    fn command(net: &mut Network<Self::Node>, op: &Op) {
        let _ = (net, op);
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

/// A run of protocol `P`: the lab, its observer, the samples taken at every interval
/// boundary and the log. The command line plays it to the end; the page advances it frame
/// by frame; both read the same figures.
pub struct Run<P: ProtocolSpec> {
    lab: Lab<P>,
    observer: P::Observer,
    samples: Vec<(Millis, <P::Observer as Observer<P>>::Sample)>,
    log: Log,
    finished: bool,
}

impl<P: ProtocolSpec> Run<P> {
    /// A run at time 0 under `settings` with the config `options` ask for.
    pub fn start(settings: &LabSettings, options: &LabOptions) -> Result<Self, LabError> {
        let config = P::config(options)?;
        Self::with_config(settings, config)
    }

    /// A run at time 0 with an explicit config (tests that set what users cannot).
    pub fn with_config(settings: &LabSettings, config: P::Config) -> Result<Self, LabError> {
        let lab = Lab::new(settings, config)?;
        let observer = P::Observer::new(&lab);
        Ok(Run {
            lab,
            observer,
            samples: Vec::new(),
            log: Log::default(),
            finished: false,
        })
    }

    fn boxed(settings: &LabSettings, options: &LabOptions) -> Result<Box<dyn AnyRun>, LabError> {
        Ok(Box::new(Self::start(settings, options)?))
    }

    /// The lab: network, nodes and scenario.
    pub fn lab(&self) -> &Lab<P> {
        &self.lab
    }

    /// The observer, with whatever it tracks beyond the figures.
    pub fn observer(&self) -> &P::Observer {
        &self.observer
    }

    /// One sample per interval boundary, from the first.
    pub fn samples(&self) -> &[(Millis, <P::Observer as Observer<P>>::Sample)] {
        &self.samples
    }

    fn interval(&self) -> u64 {
        u64::from(P::interval_ms(self.lab.config()))
    }

    /// Advances to `target` (the scenario's end at most), stopping at every interval
    /// boundary to sample.
    pub fn advance_to(&mut self, target: Millis) -> Result<(), LabError> {
        let target = target.min(self.lab.end());
        let interval = self.interval();
        while self.lab.now() < target {
            let boundary = Millis((self.lab.now().0 / interval + 1) * interval);
            let to = boundary.min(target);
            let (steps, events) = self.lab.advance(to)?;
            for (at, op) in &steps {
                self.log
                    .push(Millis(*at), alloc::format!("scenario: {op}"), true);
            }
            self.observer
                .observe(&self.lab, &steps, events, &mut self.log);
            if to == boundary {
                let sample = self.observer.sample(&self.lab);
                self.samples.push((to, sample));
            }
        }
        Ok(())
    }

    /// Plays to the end of the scenario, then (for [`End::DeliverInFlight`]) lets the
    /// messages on the links arrive. The run takes no more steps afterwards.
    pub fn finish(&mut self) -> Result<(), LabError> {
        if self.finished {
            return Ok(());
        }
        self.advance_to(self.lab.end())?;
        if P::END == End::DeliverInFlight {
            self.lab.deliver_in_flight()?;
        }
        self.finished = true;
        Ok(())
    }

    /// The run's figures so far (final once [`Run::finish`]ed).
    pub fn figures(&self) -> Vec<Figure> {
        self.observer.figures(&self.lab)
    }
}

/// Any protocol's run, for the page and the command line, which choose the protocol at run
/// time. Protocol views reach their own run with [`AnyRun::as_any`].
pub trait AnyRun {
    /// The run's time.
    fn now(&self) -> Millis;
    /// When the scenario ends.
    fn end(&self) -> Millis;
    /// The scenario the run plays (as given: without [`ProtocolSpec::implicit_steps`]).
    fn scenario(&self) -> &Scenario;
    /// The protocol's interval, ms.
    fn interval_ms(&self) -> u32;
    /// Nodes ever in the run (joined ones included).
    fn len(&self) -> u32;
    /// Whether the run has no node (never: a run starts with two at least).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Nodes at the start.
    fn initial_nodes(&self) -> u32;
    /// Whether node `i` is running.
    fn is_up(&self, i: u32) -> bool;
    /// What the links carried.
    fn stats(&self) -> NetStats;
    /// How links behave now.
    fn link(&self) -> LinkConfig;
    /// The newest messages of the watched node, oldest first.
    fn notes(&self) -> Vec<Note>;
    /// Notes node `i`'s messages from now on.
    fn watch(&mut self, i: Option<u32>);
    /// The run's log.
    fn log(&self) -> &Log;
    /// See [`Run::advance_to`].
    fn advance_to(&mut self, target: Millis) -> Result<(), LabError>;
    /// See [`Run::finish`].
    fn finish(&mut self) -> Result<(), LabError>;
    /// See [`Run::figures`].
    fn figures(&self) -> Vec<Figure>;
    /// The run itself, to downcast to [`Run<P>`].
    fn as_any(&self) -> &dyn Any;
}

impl<P: ProtocolSpec> AnyRun for Run<P> {
    fn now(&self) -> Millis {
        self.lab.now()
    }
    fn end(&self) -> Millis {
        self.lab.end()
    }
    fn scenario(&self) -> &Scenario {
        self.lab.scenario()
    }
    fn interval_ms(&self) -> u32 {
        P::interval_ms(self.lab.config())
    }
    fn len(&self) -> u32 {
        self.lab.network().len() as u32
    }
    fn initial_nodes(&self) -> u32 {
        self.lab.initial_nodes()
    }
    fn is_up(&self, i: u32) -> bool {
        self.lab.network().is_up(i)
    }
    fn stats(&self) -> NetStats {
        self.lab.network().stats()
    }
    fn link(&self) -> LinkConfig {
        self.lab.network().link()
    }
    fn notes(&self) -> Vec<Note> {
        self.lab.network().notes().copied().collect()
    }
    fn watch(&mut self, i: Option<u32>) {
        self.lab.watch(i);
    }
    fn log(&self) -> &Log {
        &self.log
    }
    fn advance_to(&mut self, target: Millis) -> Result<(), LabError> {
        Run::advance_to(self, target)
    }
    fn finish(&mut self) -> Result<(), LabError> {
        Run::finish(self)
    }
    fn figures(&self) -> Vec<Figure> {
        Run::figures(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl dyn AnyRun {
    /// This run as protocol `P`'s, if it is one.
    pub fn downcast<P: ProtocolSpec>(&self) -> Option<&Run<P>> {
        self.as_any().downcast_ref::<Run<P>>()
    }
}

/// The start function a registry entry holds for `P`.
pub const fn starter<P: ProtocolSpec>() -> Starter {
    Run::<P>::boxed
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

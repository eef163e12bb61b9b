//! Runs of the lab's protocols: [`Run`] drives any protocol's [`Lab`] and its observer,
//! sampling at every interval boundary; [`AnyRun`] is any protocol's run for the page and the
//! command line, which choose the protocol at run time; [`LabProtocol`] is a registry entry
//! ([`super::REGISTRY`] lists them). `grapevine sim`, the page and the tests all read the
//! figures a [`Run`] yields, so no figure is computed twice.

use super::net::{Flight, LinkConfig, NetStats, Note};
pub use super::protocol::{node_rng, Lab, LabError, LabSettings, MAX_EVENTS, MAX_LAB_NODES};
use super::protocol::{
    End, Figure, LabOption, LabOptions, Log, Observer, ProtocolInfo, ProtocolSpec,
};
use super::scenario::{Op, Scenario, ScenarioError};
use super::Millis;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;

/// How a registry entry starts a run of its protocol.
pub type Starter = fn(&LabSettings, &LabOptions) -> Result<Box<dyn AnyRun>, LabError>;

/// A lab protocol: a registry entry, its description and how to start a run of it.
/// Compared by name.
#[derive(Clone, Copy, Debug)]
pub struct LabProtocol {
    /// What menus, flags and URLs need.
    pub info: &'static ProtocolInfo,
    /// Starts a run (see [`Run::start`]).
    pub start: Starter,
    /// Checks a scenario for it (see [`LabProtocol::check`]).
    check: fn(&Scenario, u32) -> Result<(), ScenarioError>,
    /// Theory's value of a figure (see [`LabProtocol::expected`]).
    expected: fn(&str, &LabSettings, &LabOptions) -> Option<f64>,
}

/// [`ProtocolSpec::expected`] with the config `options` give (`None` if they give none).
fn expected_of<P: ProtocolSpec>(
    figure: &str,
    settings: &LabSettings,
    options: &LabOptions,
) -> Option<f64> {
    P::expected(figure, settings, &P::config(options).ok()?)
}

/// Checks `scenario` for protocol `P` with `nodes` nodes at the start: every node it names
/// exists, `P`'s own operations are well formed, and every other operation is some registered
/// protocol's (a scenario may be shared between protocols; each ignores the others').
fn check_scenario<P: ProtocolSpec>(scenario: &Scenario, nodes: u32) -> Result<(), ScenarioError> {
    scenario.check_nodes(nodes)?;
    for (k, (_, op)) in scenario.steps.iter().enumerate() {
        let Op::Command(c) = op else { continue };
        let verb = c.verb.as_str();
        let message = if P::INFO.commands.contains(&verb) {
            P::check_command(c).err()
        } else if LabProtocol::all().any(|p| p.info.commands.contains(&verb)) {
            None
        } else {
            Some(alloc::format!("unknown operation `{verb}`"))
        };
        if let Some(message) = message {
            return Err(ScenarioError {
                step: k + 1,
                message,
            });
        }
    }
    Ok(())
}

impl PartialEq for LabProtocol {
    fn eq(&self, other: &Self) -> bool {
        self.info.name == other.info.name
    }
}

impl Eq for LabProtocol {}

// `LabProtocol::all`, `LabProtocol::from_name` and `LabProtocol::of_info` read the list of
// protocols, so they live beside it, in `registry.rs`.
impl LabProtocol {
    /// The entry of protocol `P` (for [`super::REGISTRY`]).
    pub const fn of<P: ProtocolSpec>(info: &'static ProtocolInfo) -> LabProtocol {
        LabProtocol {
            info,
            start: Run::<P>::boxed,
            check: check_scenario::<P>,
            expected: expected_of::<P>,
        }
    }

    /// What theory expects of `figure` for runs of `settings` and `options`, where the
    /// protocol has a model that fits them (SWIM's first detection after one crash).
    pub fn expected(
        self,
        figure: &str,
        settings: &LabSettings,
        options: &LabOptions,
    ) -> Option<f64> {
        (self.expected)(figure, settings, options)
    }

    /// The name used on the command line and in the page's URL.
    pub fn name(self) -> &'static str {
        self.info.name
    }

    /// The name for people.
    pub fn label(self) -> &'static str {
        self.info.label
    }

    /// Whether this is `P`'s entry.
    pub fn is<P: ProtocolSpec>(self) -> bool {
        self.name() == P::INFO.name
    }

    /// The preset a run takes when given no scenario (`None`: a quiet 60 s).
    pub fn default_scenario(self) -> Option<&'static str> {
        self.info.default_scenario
    }

    /// Checks `scenario` for this protocol with `nodes` nodes at the start (a run checks it
    /// too; the command line and the page check first, to say which step is wrong).
    pub fn check(self, scenario: &Scenario, nodes: u32) -> Result<(), ScenarioError> {
        (self.check)(scenario, nodes)
    }

    /// The first option set away from its default that it does not take (see
    /// [`LabOptions::unused`]).
    pub fn unused(self, options: &LabOptions) -> Option<LabOption> {
        options.unused(self.info)
    }

    /// Whether it takes `option`.
    pub fn takes(self, option: LabOption) -> bool {
        self.info.takes(option)
    }

    /// A run at time 0.
    pub fn start(
        self,
        settings: &LabSettings,
        options: &LabOptions,
    ) -> Result<Box<dyn AnyRun>, LabError> {
        (self.start)(settings, options)
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
        check_scenario::<P>(&settings.scenario, settings.nodes).map_err(LabError::Scenario)?;
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
    /// Records every message from now on, or stops (see
    /// [`Network::record_traffic`](super::net::Network::record_traffic)).
    fn record_traffic(&mut self, on: bool);
    /// The recorded messages sent at or after `since`, oldest first.
    fn traffic_since(&self, since: Millis) -> Vec<Flight>;
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
    fn record_traffic(&mut self, on: bool) {
        self.lab.record_traffic(on);
    }
    fn traffic_since(&self, since: Millis) -> Vec<Flight> {
        self.lab.network().traffic_since(since).copied().collect()
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

//! Push-sum in the lab: its config, starting values, value changes, and the figures of a run
//! (rounds until the estimates are within 10^-3 and 10^-6, the mass left).

use super::node::{Aggregate, PushSum, PushSumCommand, PushSumConfig, PushSumMessage};
use crate::lab::net::Network;
use crate::lab::protocol::{
    named, End, Figure, LabOption, LabOptions, Log, Observer, Phases, ProtocolInfo, ProtocolSpec,
    Timed,
};
use crate::lab::protocol::{node_rng, Lab, LabError};
use crate::lab::scenario::{Command, Op};
use crate::lab::{Millis, Node, NodeId};
use crate::rng::{GossipRng, Stream};
use alloc::string::String;
use alloc::vec::Vec;

/// Push-sum's slice of the lab.
pub struct Spec;

/// Node `i`'s starting value in a push-sum run: uniform in `[0, 100)`, from the seed.
pub fn push_sum_value(seed: u64, i: u32) -> f64 {
    let mut rng = GossipRng::derive(seed, Stream::Scenario, 1 + u64::from(i));
    f64::from(rng.next_u32()) / 4_294_967_296.0 * 100.0
}

impl ProtocolSpec for Spec {
    const INFO: ProtocolInfo = ProtocolInfo {
        name: "push-sum",
        label: "Push-sum aggregation",
        default_scenario: None,
        options: &[LabOption::Aggregate],
        commands: &["value"],
        figures: &[
            "rounds_to_error_1e3",
            "rounds_to_error_1e6",
            "mass_remaining",
        ],
    };
    /// Mass in flight at the end is not lost: it arrives before the figures are taken.
    const END: End = End::DeliverInFlight;
    type Node = PushSum;
    type Message = PushSumMessage;
    type Config = PushSumConfig;
    type Observer = PushSumObserver;

    fn config(options: &LabOptions) -> Result<PushSumConfig, LabError> {
        let config = PushSumConfig {
            interval_ms: options.interval_ms,
            aggregate: options.aggregate,
        };
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        Ok(config)
    }

    fn interval_ms(config: &PushSumConfig) -> u32 {
        config.interval_ms
    }

    /// Node 0 is the designated node (see [`Aggregate::start`]). Each node draws its own
    /// phase: `phases` does not apply.
    fn spawn(
        config: &PushSumConfig,
        seed: u64,
        _: Phases,
        i: u32,
        life: u32,
        now: Millis,
        _: Option<&PushSum>,
    ) -> PushSum {
        let value = push_sum_value(seed, i);
        let rng = node_rng(seed, i, life);
        PushSum::new(NodeId(u64::from(i)), value, i == 0, *config, rng, now)
    }

    fn check_command(command: &Command) -> Result<(), String> {
        new_value(command).map(|_| ())
    }

    fn command(net: &mut Network<PushSum>, command: &Command) {
        if let Ok(x) = new_value(command) {
            net.with_node(command.node, |node, now| {
                node.handle_command(now, PushSumCommand::SetValue(x))
            });
        }
    }
}

/// `value I X`: node I's value becomes X, a finite number.
fn new_value(command: &Command) -> Result<f64, String> {
    let x = command.words.as_str();
    if x.is_empty() {
        return Err("value needs a number".into());
    }
    x.parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| alloc::format!("value `{x}` is not a finite number"))
}

/// What the charts plot each round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PushSumSample {
    /// The largest relative error of a live node's estimate (infinite while one has none).
    pub error: f64,
    /// The live nodes' weight over the nodes at the start (1 while no mass is lost).
    pub mass: f64,
}

/// Follows a push-sum run: the worst error each round.
#[derive(Clone, Debug, Default)]
pub struct PushSumObserver {
    /// The largest relative error among live nodes at each round, from round 1.
    pub error_per_round: Vec<f64>,
}

impl PushSumObserver {
    /// The true aggregate over the live nodes' values.
    pub fn truth(lab: &Lab<Spec>) -> f64 {
        let values: Vec<f64> = lab.live().map(|i| lab.network().node(i).value()).collect();
        let total: f64 = values.iter().sum();
        match lab.config().aggregate {
            Aggregate::Average => total / values.len().max(1) as f64,
            Aggregate::Sum => total,
            Aggregate::Count => values.len() as f64,
        }
    }

    /// Node `node`'s relative error against `truth` (infinite without an estimate).
    pub fn error(node: &PushSum, truth: f64) -> f64 {
        match node.estimate() {
            Some(e) => libm::fabs(e - truth) / libm::fabs(truth).max(f64::MIN_POSITIVE),
            None => f64::INFINITY,
        }
    }

    /// The largest relative error among the live nodes.
    pub fn worst_error(lab: &Lab<Spec>) -> f64 {
        let truth = Self::truth(lab);
        lab.live()
            .map(|i| Self::error(lab.network().node(i), truth))
            .fold(0.0, f64::max)
    }

    /// The live nodes' weight over the nodes at the start.
    pub fn mass(lab: &Lab<Spec>) -> f64 {
        let weight: f64 = lab.live().map(|i| lab.network().node(i).mass().1).sum();
        weight / f64::from(lab.initial_nodes().max(1))
    }
}

impl Observer<Spec> for PushSumObserver {
    type Sample = PushSumSample;

    fn new(_: &Lab<Spec>) -> Self {
        PushSumObserver::default()
    }

    fn observe(
        &mut self,
        _: &Lab<Spec>,
        _: &[(u64, Op)],
        _: Vec<Timed<core::convert::Infallible>>,
        _: &mut Log,
    ) {
    }

    fn sample(&mut self, lab: &Lab<Spec>) -> PushSumSample {
        let error = Self::worst_error(lab);
        self.error_per_round.push(error);
        PushSumSample {
            error,
            mass: Self::mass(lab),
        }
    }

    fn figures(&self, lab: &Lab<Spec>) -> Vec<Figure> {
        let first_within = |eps: f64| {
            self.error_per_round
                .iter()
                .position(|&e| e <= eps)
                .map(|r| (r + 1) as f64)
        };
        named::<Spec>(&[
            (first_within(1e-3), true),
            (first_within(1e-6), true),
            (Some(Self::mass(lab)), false),
        ])
    }
}

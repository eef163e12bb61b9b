//! Rumors in the lab: the config from the options (push, pull or push-pull, fanout, stop
//! rule), the run's first rumor (node 0 at time 0 unless the scenario starts one), and the
//! figures of its spread: intervals until every live node has it, the share that never does,
//! messages, hops.

use super::node::{
    RumorCommand, RumorConfig, RumorEvent, RumorId, RumorMessage, RumorNode, MAX_PAYLOAD_BYTES,
};
use crate::lab::net::Network;
use crate::lab::protocol::{
    named, Figure, LabOption, LabOptions, Log, Observer, Phases, ProtocolInfo, ProtocolSpec, Timed,
};
use crate::lab::protocol::{node_rng, Lab, LabError};
use crate::lab::scenario::{Command, Op, Scenario};
use crate::lab::{Millis, Node, NodeId};
use crate::rules::{Feedback, Interest};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The rumor protocol's slice of the lab.
pub struct Spec;

/// What the first rumor says when the scenario starts none.
pub const FIRST_RUMOR: &str = "hello";

impl ProtocolSpec for Spec {
    const INFO: ProtocolInfo = ProtocolInfo {
        name: "rumor",
        label: "Rumor spreading",
        default_scenario: None,
        options: &[LabOption::Mode, LabOption::Fanout, LabOption::Stop],
        commands: &["rumor"],
        figures: &[
            "intervals_to_full",
            "residue",
            "messages_per_node",
            "max_hops",
            "first_heard_first",
        ],
    };
    type Node = RumorNode;
    type Message = RumorMessage;
    type Config = RumorConfig;
    type Observer = RumorObserver;

    fn config(options: &LabOptions) -> Result<RumorConfig, LabError> {
        let config = RumorConfig {
            interval_ms: options.interval_ms,
            protocol: options.mode,
            fanout: options.fanout,
            // In continuous time there is no round start: feedback is judged on arrival.
            interest: Interest {
                feedback: Feedback::Arrival,
                ..options.interest
            },
        };
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        Ok(config)
    }

    fn interval_ms(config: &RumorConfig) -> u32 {
        config.interval_ms
    }

    fn spawn(
        config: &RumorConfig,
        seed: u64,
        phases: Phases,
        i: u32,
        life: u32,
        now: Millis,
        previous: Option<&RumorNode>,
    ) -> RumorNode {
        let node = RumorNode::new(NodeId(u64::from(i)), *config, node_rng(seed, i, life), now)
            .with_next_seq(previous.map_or(0, RumorNode::next_seq));
        match phases {
            Phases::Random => node,
            // Rounds at whole intervals from `now`, the first one interval in: a rumor started
            // at `now` goes out in round 1, as in the round engine (a pull sent at `now`
            // itself would be answered with it, a round early).
            Phases::Aligned => node.with_first_round(now.after(u64::from(config.interval_ms))),
        }
    }

    fn check_command(command: &Command) -> Result<(), String> {
        start(command).map(|_| ())
    }

    fn command(net: &mut Network<RumorNode>, command: &Command) {
        if let Ok(start) = start(command) {
            net.with_node(command.node, |node, now| node.handle_command(now, start));
        }
    }

    /// A rumor at node 0 at time 0, unless the scenario starts one.
    fn implicit_steps(scenario: &Scenario) -> Vec<(u64, Op)> {
        let starts = |op: &Op| matches!(op, Op::Command(c) if c.verb == "rumor");
        if scenario.steps.iter().any(|s| starts(&s.1)) {
            return Vec::new();
        }
        alloc::vec![(0, Op::Command(Command::new("rumor", 0, FIRST_RUMOR)))]
    }
}

/// `rumor I TEXT`: node I starts a rumor saying TEXT (at most [`MAX_PAYLOAD_BYTES`]).
fn start(command: &Command) -> Result<RumorCommand, String> {
    let text = command.words.as_str();
    if text.is_empty() {
        return Err("rumor needs a text".into());
    }
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err("a rumor's text is at most 200 bytes".into());
    }
    Ok(RumorCommand::Start(text.into()))
}

/// One node learning the first rumor: when, from whom, after how many hops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Infection {
    /// When it arrived.
    pub at: Millis,
    /// Who told it (itself, for the origin).
    pub from: u32,
    /// Messages it travelled from the origin.
    pub hops: u16,
}

/// What the charts plot each interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RumorSample {
    /// The share of live nodes that know the first rumor.
    pub informed: f64,
    /// The share of live nodes still spreading it.
    pub spreading: f64,
}

/// Follows a rumor run: the first rumor started, and who learned it, when, from whom.
#[derive(Clone, Debug, Default)]
pub struct RumorObserver {
    /// The first rumor, and when it started.
    pub first: Option<(RumorId, Millis)>,
    /// The second rumor started, if any (started by another node, or later by the first's).
    pub second: Option<RumorId>,
    /// Each node's latest infection by the first rumor (a restarted node can learn it again).
    pub infections: BTreeMap<u32, Infection>,
    /// Whether every live node knew it at the last look (to log it once).
    everyone: bool,
}

impl RumorObserver {
    /// Whether live node `i` knows the first rumor.
    pub fn knows(lab: &Lab<Spec>, first: RumorId, i: u32) -> bool {
        lab.network().node(i).knows(first)
    }

    /// Live nodes knowing the first rumor, and live nodes.
    pub fn informed(&self, lab: &Lab<Spec>) -> (u32, u32) {
        let live = lab.live().count() as u32;
        let Some((id, _)) = self.first else {
            return (0, live);
        };
        (
            lab.live().filter(|&i| Self::knows(lab, id, i)).count() as u32,
            live,
        )
    }

    /// When the last live node learned the first rumor, if every live node has.
    pub fn full_at(&self, lab: &Lab<Spec>) -> Option<Millis> {
        let (id, born) = self.first?;
        lab.live()
            .map(|i| {
                Self::knows(lab, id, i)
                    .then(|| self.infections.get(&i).map(|f| f.at))
                    .flatten()
            })
            .collect::<Option<Vec<Millis>>>()
            .map(|ts| ts.into_iter().max().unwrap_or(born))
    }

    /// Intervals from the first rumor's start until every live node had it (the figure
    /// `intervals_to_full`); `None` while one has not.
    pub fn intervals_to_full(&self, lab: &Lab<Spec>) -> Option<f64> {
        let (_, born) = self.first?;
        let at = self.full_at(lab)?;
        Some(at.since(born) as f64 / f64::from(lab.config().interval_ms))
    }

    /// Every message sent so far, feedback included, per node at the start.
    pub fn messages_per_node(lab: &Lab<Spec>) -> f64 {
        lab.network().stats().sent as f64 / f64::from(lab.initial_nodes().max(1))
    }

    /// Of the live nodes that know both the first and the second rumor started, the share that
    /// heard the first one first (the figure `first_heard_first`); `None` with one rumor.
    pub fn first_heard_first(&self, lab: &Lab<Spec>) -> Option<f64> {
        let (first, second) = (self.first?.0, self.second?);
        let order: Vec<bool> = lab
            .live()
            .filter_map(|i| lab.network().node(i).heard_before(first, second))
            .collect();
        let firsts = order.iter().filter(|&&f| f).count();
        (!order.is_empty()).then(|| firsts as f64 / order.len() as f64)
    }

    /// The most hops a node's copy travelled.
    pub fn max_hops(&self) -> u16 {
        self.infections.values().map(|f| f.hops).max().unwrap_or(0)
    }
}

impl Observer<Spec> for RumorObserver {
    type Sample = RumorSample;

    fn new(_: &Lab<Spec>) -> Self {
        RumorObserver::default()
    }

    fn observe(
        &mut self,
        lab: &Lab<Spec>,
        _: &[(u64, Op)],
        events: Vec<Timed<RumorEvent>>,
        log: &mut Log,
    ) {
        for (at, who, event) in events {
            let RumorEvent::Learned { rumor, from } = event else {
                continue;
            };
            let started = from == who;
            if started && self.second.is_none() && self.first.is_some_and(|f| f.0 != rumor.id) {
                self.second = Some(rumor.id);
            }
            if self.first.is_none() && started {
                self.first = Some((rumor.id, at));
                log.push(
                    at,
                    format!("node {who} starts the rumor \u{201c}{}\u{201d}", rumor.text),
                    false,
                );
            }
            if self.first.is_some_and(|(id, _)| id == rumor.id) {
                let infection = Infection {
                    at,
                    from: from.0 as u32,
                    hops: rumor.hops,
                };
                self.infections.insert(who.0 as u32, infection);
            }
        }
        let full = self.full_at(lab).zip(self.intervals_to_full(lab));
        if let (Some((at, intervals)), false) = (full, self.everyone) {
            let text = format!("every live node knows the rumor, after {intervals:.2} intervals");
            log.push(at, text, false);
        }
        self.everyone = full.is_some();
    }

    fn sample(&mut self, lab: &Lab<Spec>) -> RumorSample {
        let (informed, live) = self.informed(lab);
        let spreading = self.first.map_or(0, |(id, _)| {
            lab.live()
                .filter(|&i| {
                    lab.network()
                        .node(i)
                        .iter_rumors()
                        .any(|(r, spreading)| r.id == id && spreading)
                })
                .count()
        });
        let share = |k: usize| k as f64 / f64::from(live.max(1));
        RumorSample {
            informed: share(informed as usize),
            spreading: share(spreading),
        }
    }

    fn figures(&self, lab: &Lab<Spec>) -> Vec<Figure> {
        let (informed, live) = self.informed(lab);
        let residue = f64::from(live - informed) / f64::from(live.max(1));
        named::<Spec>(&[
            (self.intervals_to_full(lab), true),
            (Some(residue), false),
            (Some(Self::messages_per_node(lab)), false),
            (Some(f64::from(self.max_hops())), false),
            (self.first_heard_first(lab), true),
        ])
    }
}

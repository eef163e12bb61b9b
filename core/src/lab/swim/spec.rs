//! SWIM in the lab: its config, how the simulator makes and joins members, and the figures
//! of a run (crash detection, false positives, cost).

use super::node::{
    Incarnation, Lifeguard, MemberState, ProbeOrder, Swim, SwimCommand, SwimConfig, SwimEvent,
    SwimMessage, PUSH_PULL_PERIODS,
};
use crate::lab::net::Network;
use crate::lab::protocol::{
    named, per_node_interval, Figure, LabOption, LabOptions, LabSettings, Log, Observer, Phases,
    ProtocolInfo, ProtocolSpec, Timed,
};
use crate::lab::protocol::{node_rng, Lab, LabError};
use crate::lab::scenario::Op;
use crate::lab::{Millis, Node, NodeId};
use crate::theory::swim_first_detection_periods;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::vec::Vec;

/// SWIM's slice of the lab.
pub struct Spec;

impl SwimConfig {
    /// memberlist's defaults at protocol period `period_ms`: the direct ack is awaited half a
    /// period (memberlist: 500 ms of 1 s), so the indirect probe fits in the same period.
    pub fn for_period(period_ms: u32, lifeguard: bool, push_pull: bool) -> SwimConfig {
        SwimConfig {
            period_ms,
            ack_timeout_ms: (period_ms / 2).max(1),
            lifeguard: lifeguard.then(Lifeguard::default),
            push_pull_ms: push_pull.then(|| period_ms.saturating_mul(PUSH_PULL_PERIODS)),
            ..SwimConfig::default()
        }
    }
}

impl ProtocolSpec for Spec {
    const INFO: ProtocolInfo = ProtocolInfo {
        name: "swim",
        label: "SWIM membership",
        default_scenario: Some("crash-one"),
        options: &[LabOption::Lifeguard, LabOption::PushPull],
        commands: &[],
        figures: &[
            "first_detection_periods",
            "full_detection_periods",
            "false_positives",
            "messages_per_node_period",
            "heal_periods",
        ],
    };
    type Node = Swim;
    type Message = SwimMessage;
    type Config = SwimConfig;
    type Observer = SwimObserver;

    fn config(options: &LabOptions) -> Result<SwimConfig, LabError> {
        let config =
            SwimConfig::for_period(options.interval_ms, options.lifeguard, options.push_pull);
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        Ok(config)
    }

    fn interval_ms(config: &SwimConfig) -> u32 {
        config.period_ms
    }

    fn spawn(
        config: &SwimConfig,
        seed: u64,
        phases: Phases,
        i: u32,
        life: u32,
        now: Millis,
        previous: Option<&Swim>,
    ) -> Swim {
        // A restarted process comes back at a higher incarnation than any it had, so its
        // news overrides the group's memory of its death.
        let incarnation = previous.map_or(Incarnation(0), |p| Incarnation(p.incarnation().0 + 1));
        let mut rng = node_rng(seed, i, life);
        let offset = match phases {
            Phases::Random => u64::from(rng.below(config.period_ms)),
            Phases::Aligned => 0,
        };
        Swim::new(
            NodeId(u64::from(i)),
            incarnation,
            *config,
            rng,
            now.after(offset),
        )
    }

    fn joined(net: &mut Network<Swim>, i: u32, contacts: &[u32]) {
        for &c in contacts {
            net.with_node(i, |node, now| {
                node.handle_command(now, SwimCommand::Join(NodeId(u64::from(c))))
            });
        }
    }

    fn leave(net: &mut Network<Swim>, i: u32) {
        net.with_node(i, |node, now| node.handle_command(now, SwimCommand::Leave));
    }

    fn incarnation(node: &Swim) -> u32 {
        node.incarnation().0
    }

    /// First detection after a scenario of one crash and nothing else
    /// ([`swim_first_detection_periods`]): the model's round-robin probes, phases spread, a
    /// probe judged a period after it starts. The run must last until the latest a member can
    /// suspect (`2 (n - 1) + 1` periods after the crash), or the runs that never detect would
    /// leave the mean; and with Lifeguard a member's periods stretch when acks are lost or
    /// late, which the model does not have: then the links must lose nothing and answer well
    /// within the ack timeout.
    fn expected(figure: &str, settings: &LabSettings, config: &SwimConfig) -> Option<f64> {
        let [(at_ms, Op::Crash(_))] = settings.scenario.steps[..] else {
            return None;
        };
        let period = u64::from(config.period_ms);
        let latest = u64::from(2 * settings.nodes.saturating_sub(1) + 1) * period;
        let link = &settings.link;
        let round_trip = 2 * u64::from(link.latency_ms + link.spread_ms + link.jitter_ms);
        let fits = figure == "first_detection_periods"
            && config.probe_order == ProbeOrder::RoundRobin
            && settings.phases == Phases::Random
            && settings.scenario.end_ms >= at_ms.saturating_add(latest)
            && (config.lifeguard.is_none()
                || (link.loss == 0.0 && 2 * round_trip < u64::from(config.ack_timeout_ms)));
        fits.then(|| {
            swim_first_detection_periods(settings.nodes, at_ms as f64 / f64::from(config.period_ms))
        })
        .flatten()
    }
}

/// A crash and what the running members made of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detection {
    /// When the node crashed.
    pub crashed_at: Millis,
    /// When some member first suspected it (or declared it dead).
    pub first: Option<Millis>,
    /// Members that have accused it since the crash, and when they first did.
    pub accusers: BTreeMap<u32, Millis>,
    /// When every member running at the last look had.
    pub all: Option<Millis>,
}

impl Detection {
    /// When the last of `observers` accused it; `None` while one has not.
    fn last_of(&self, observers: impl Iterator<Item = u32>) -> Option<Millis> {
        observers
            .map(|i| self.accusers.get(&i).copied())
            .collect::<Option<Vec<Millis>>>()
            .and_then(|ts| ts.into_iter().max())
    }
}

/// What the charts plot each period: per running member, on average, how many members it
/// holds suspect, dead or left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwimSample {
    /// Suspect.
    pub suspect: f64,
    /// Dead.
    pub dead: f64,
    /// Left.
    pub left: f64,
}

/// Follows a SWIM run: each crash's detection, false verdicts, the log.
#[derive(Clone, Debug, Default)]
pub struct SwimObserver {
    /// Each crash (the node, and what the members made of it), in the order they happened:
    /// the first is the figures' detection, the last the page's.
    pub detections: Vec<(u32, Detection)>,
    /// Members declared dead while running, in the life the verdict was about.
    pub false_positives: BTreeSet<u32>,
    /// The lives (member, incarnation) so declared: each logged once.
    false_lives: BTreeSet<(u32, u32)>,
    /// Running lives (member, incarnation) suspected: each logged once.
    pub false_suspicions: BTreeSet<(u32, u32)>,
    /// The last heal of a partition, and when every running member was again held alive by
    /// every other (`None` while one is not).
    pub heal: Option<(Millis, Option<Millis>)>,
}

/// Running members wrongly accused come by the hundred in a partition: the log tells of the
/// first, the tenth, the hundredth... (the figures count them all).
fn milestone(count: usize) -> bool {
    [1, 10, 100, 1_000, 10_000].contains(&count)
}

/// Whether every running member holds every other running member alive (after a split:
/// healed).
fn whole(lab: &Lab<Spec>) -> bool {
    let up: BTreeSet<u32> = running(lab).collect();
    up.iter().all(|&i| {
        let alive = lab
            .network()
            .node(i)
            .iter_members()
            .filter(|(m, view)| view.state == MemberState::Alive && up.contains(&(m.0 as u32)))
            .count();
        alive + 1 >= up.len()
    })
}

/// Running members that have not left: the members whose verdicts count.
fn running(lab: &Lab<Spec>) -> impl Iterator<Item = u32> + '_ {
    lab.live().filter(|&i| !lab.network().node(i).has_left())
}

impl Observer<Spec> for SwimObserver {
    type Sample = SwimSample;

    fn new(_: &Lab<Spec>) -> Self {
        SwimObserver::default()
    }

    fn observe(
        &mut self,
        lab: &Lab<Spec>,
        steps: &[(u64, Op)],
        events: Vec<Timed<SwimEvent>>,
        log: &mut Log,
    ) {
        for (at, op) in steps {
            match *op {
                Op::Crash(i) => {
                    let d = Detection {
                        crashed_at: Millis(*at),
                        ..Detection::default()
                    };
                    self.detections.push((i, d));
                }
                Op::Heal => self.heal = Some((Millis(*at), None)),
                _ => {}
            }
        }
        for (at, observer, event) in events {
            let o = observer.0 as u32;
            let (member, state, incarnation) = match event {
                SwimEvent::Refuted(inc) => {
                    log.push(
                        at,
                        format!("node {o} refutes a suspicion (incarnation {})", inc.0),
                        false,
                    );
                    continue;
                }
                SwimEvent::Member {
                    member,
                    state,
                    incarnation,
                } => (member.0 as u32, state, incarnation.0),
            };
            let accused = matches!(state, MemberState::Suspect | MemberState::Dead);
            // Every crash of this member so far: an accusation after a later crash counts for
            // the earlier one too (it was never refuted by a live member in between).
            for (_, d) in self.detections.iter_mut().filter(|(m, _)| *m == member) {
                if accused && at >= d.crashed_at && !d.accusers.contains_key(&o) {
                    d.accusers.insert(o, at);
                    if d.first.is_none() {
                        d.first = Some(at);
                        log.push(
                            at,
                            format!("node {o} suspects node {member}, which crashed"),
                            false,
                        );
                    }
                }
            }
            if !lab.was_live(member, at, incarnation) {
                continue;
            }
            if state == MemberState::Dead {
                self.false_positives.insert(member);
                if self.false_lives.insert((member, incarnation))
                    && milestone(self.false_lives.len())
                {
                    let count = self.false_lives.len();
                    log.push(at, format!("node {o} declares node {member} dead while it runs: false positive no. {count}"), true);
                }
            } else if state == MemberState::Suspect
                && self.false_suspicions.insert((member, incarnation))
            {
                let count = self.false_suspicions.len();
                if milestone(count) {
                    log.push(at, format!("node {o} suspects node {member}, which runs: running members suspected so far: {count}"), false);
                }
            }
        }
        // A heal is over when the lists are whole again: looked at only until then.
        if let Some((at, None)) = self.heal {
            if whole(lab) {
                self.heal = Some((at, Some(lab.now())));
                log.push(
                    lab.now(),
                    "every running member holds every other alive again: the split has healed"
                        .into(),
                    false,
                );
            }
        }
        // Crashes every running member now knows of.
        for (m, d) in self.detections.iter_mut() {
            let m = *m;
            if d.all.is_some() || d.first.is_none() {
                continue;
            }
            if let Some(at) = d.last_of(running(lab).filter(|&i| i != m)) {
                d.all = Some(at);
                log.push(
                    at,
                    format!("every running member has marked node {m} suspect or dead"),
                    false,
                );
            }
        }
    }

    fn sample(&mut self, lab: &Lab<Spec>) -> SwimSample {
        let (mut counts, mut observers) = ([0u64; 3], 0u64);
        for i in running(lab) {
            observers += 1;
            let node = lab.network().node(i);
            for (count, state) in
                counts
                    .iter_mut()
                    .zip([MemberState::Suspect, MemberState::Dead, MemberState::Left])
            {
                *count += u64::from(node.holding(state));
            }
        }
        let per = |c: u64| c as f64 / observers.max(1) as f64;
        SwimSample {
            suspect: per(counts[0]),
            dead: per(counts[1]),
            left: per(counts[2]),
        }
    }

    fn figures(&self, lab: &Lab<Spec>) -> Vec<Figure> {
        let period = f64::from(lab.config().period_ms);
        let periods = |t: Millis, from: Millis| t.since(from) as f64 / period;
        let (first, full) = match self.detections.first() {
            None => (None, None),
            Some((crashed, d)) => (
                d.first.map(|t| periods(t, d.crashed_at)),
                d.last_of(running(lab).filter(|i| i != crashed))
                    .map(|t| periods(t, d.crashed_at)),
            ),
        };
        let sent = lab.network().stats().sent;
        let heal = self.heal.and_then(|(at, whole)| Some(periods(whole?, at)));
        named::<Spec>(&[
            (first, true),
            (full, true),
            (Some(self.false_positives.len() as f64), false),
            (
                Some(per_node_interval(
                    sent,
                    lab.initial_nodes(),
                    lab.now(),
                    lab.config().period_ms,
                )),
                false,
            ),
            (heal, true),
        ])
    }
}

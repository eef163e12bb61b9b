//! The protocol lab in the page: a run of SWIM, push-sum or the key-value map over the
//! simulated network, advanced frame by frame, with what its views need.
//!
//! A run is a pure function of its settings, its scenario and the time reached (the core's
//! network is deterministic): seeking to a time, or editing the scenario, rebuilds the run and
//! replays it to that time. The page therefore never needs to undo anything, and what it shows
//! is always what `grapevine sim --protocol ...` would compute.

pub mod chart;
pub mod draw;
pub mod panels;

use crate::params::PageSettings;
use grapevine_core::lab::kv::{KvConfig, KvNode};
use grapevine_core::lab::net::{LinkConfig, NetStats, Network, Note};
use grapevine_core::lab::push_sum::{Aggregate, PushSum, PushSumConfig};
use grapevine_core::lab::run::{
    kv_converged, push_sum_error, KvNodes, Lab, LabSettings, Phases, PushSumNodes, SwimNodes,
};
use grapevine_core::lab::scenario::{preset, Op, Scenario};
use grapevine_core::lab::swim::{Lifeguard, MemberState, Swim, SwimConfig, SwimEvent};
use grapevine_core::lab::{LabProtocol, Millis, QUIET_SCENARIO};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// SWIM's protocol period and the other protocols' gossip interval, ms: a "round" of the
/// lab, the unit of its speed control and of its charts' time axes.
pub const PERIOD_MS: u64 = 1_000;

/// Lines the run's log keeps (the newest).
const LOG_LINES: usize = 14;

/// One protocol's run.
enum Run {
    Swim(Lab<SwimNodes>),
    PushSum(Lab<PushSumNodes>),
    Kv(Lab<KvNodes>),
}

/// Runs `$body` with `$lab` bound to whichever protocol's lab `$run` holds.
macro_rules! each {
    ($run:expr, $lab:ident => $body:expr) => {
        match $run {
            Run::Swim($lab) => $body,
            Run::PushSum($lab) => $body,
            Run::Kv($lab) => $body,
        }
    };
}

/// What the charts plot, once per period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Per live member, on average: how many others it holds suspect, dead, left.
    Swim {
        /// Suspect.
        suspect: f64,
        /// Dead.
        dead: f64,
        /// Left.
        left: f64,
    },
    /// The largest relative error of a live node's estimate, and the live nodes' weight
    /// over their number at the start (1 while no mass is lost).
    PushSum {
        /// Relative error.
        error: f64,
        /// Weight over nodes.
        mass: f64,
    },
    /// The share of live replicas that hold the most common state, and how many distinct
    /// states the live replicas hold.
    Kv {
        /// Share in the most common state.
        agree: f64,
        /// Distinct states.
        states: u32,
    },
}

/// One line of the run's log: when, and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// When.
    pub at: Millis,
    /// What.
    pub text: String,
    /// A fault or a false verdict (shown in the accent colour).
    pub alarm: bool,
}

/// A crash and what the live members made of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detection {
    /// When the node crashed.
    pub crashed_at: Millis,
    /// When some live member first suspected it (or declared it dead).
    pub first: Option<Millis>,
    /// Members that have accused it since the crash, and when they first did.
    pub accusers: BTreeMap<u32, Millis>,
    /// When every live member had.
    pub all: Option<Millis>,
}

/// The lab run the page shows.
pub struct LabSim {
    /// Which protocol.
    pub protocol: LabProtocol,
    /// The scenario it plays.
    pub scenario: Scenario,
    run: Run,
    /// One sample per period, from period 1.
    pub samples: Vec<(Millis, Sample)>,
    /// The newest notable events, oldest first.
    pub log: VecDeque<LogLine>,
    /// SWIM: each crashed node's detection, by node.
    pub detections: BTreeMap<u32, Detection>,
    /// SWIM: live members declared dead (false positives), as (member, incarnation).
    pub false_positives: BTreeSet<(u32, u32)>,
    /// SWIM: running members suspected, as (member, incarnation): each logged once.
    pub false_suspicions: BTreeSet<(u32, u32)>,
    /// The scenario's steps applied so far.
    steps_done: usize,
    /// Push-sum's aggregate.
    aggregate: Aggregate,
    /// Key-value: whether the replicas agreed at the last look (to log each convergence once).
    kv_converged: bool,
}

impl LabSim {
    /// The scenario text the settings ask for: theirs, a preset's, or the protocol's default.
    pub fn scenario_text(settings: &PageSettings, protocol: LabProtocol) -> String {
        let given = settings.lab.scenario.as_deref();
        match given.or(protocol.default_scenario()) {
            Some(name_or_text) => preset(name_or_text).unwrap_or(name_or_text).to_string(),
            None => QUIET_SCENARIO.into(),
        }
    }

    /// A run at time 0. Fails with a sentence for the page if the settings or the scenario
    /// cannot run.
    pub fn new(settings: &PageSettings, protocol: LabProtocol) -> Result<LabSim, String> {
        let scenario = Scenario::parse(&Self::scenario_text(settings, protocol))
            .map_err(|e| format!("The scenario cannot run: {e}."))?;
        let lab = LabSettings {
            nodes: settings.run.nodes,
            seed: settings.run.seed,
            link: LinkConfig {
                loss: settings.run.live.loss,
                ..LinkConfig::default()
            },
            scenario: scenario.clone(),
        };
        let period = PERIOD_MS as u32;
        let aggregate = settings.lab.aggregate;
        let run = match protocol {
            LabProtocol::Swim => {
                let config = SwimConfig {
                    period_ms: period,
                    ack_timeout_ms: period / 2,
                    lifeguard: settings.lab.lifeguard.then(Lifeguard::default),
                    ..SwimConfig::default()
                };
                Lab::swim(&lab, config, Phases::Random).map(Run::Swim)
            }
            LabProtocol::PushSum => {
                let config = PushSumConfig {
                    interval_ms: period,
                    aggregate,
                };
                Lab::push_sum(&lab, config).map(Run::PushSum)
            }
            LabProtocol::Kv => {
                let config = KvConfig {
                    interval_ms: period,
                    clock_offset_ms: 0,
                };
                Lab::kv(&lab, config).map(Run::Kv)
            }
        }
        .map_err(|e| format!("These settings cannot run: {e}."))?;
        Ok(LabSim {
            protocol,
            scenario,
            run,
            samples: Vec::new(),
            log: VecDeque::new(),
            detections: BTreeMap::new(),
            false_positives: BTreeSet::new(),
            false_suspicions: BTreeSet::new(),
            steps_done: 0,
            aggregate,
            kv_converged: true,
        })
    }

    /// The run's time.
    pub fn now(&self) -> Millis {
        each!(&self.run, lab => lab.network().now())
    }

    /// When the scenario ends.
    pub fn end(&self) -> Millis {
        each!(&self.run, lab => lab.end())
    }

    /// Whether the scenario has played to its end.
    pub fn is_finished(&self) -> bool {
        self.now() >= self.end()
    }

    /// Nodes ever in the run (joined ones included).
    pub fn len(&self) -> u32 {
        each!(&self.run, lab => lab.network().len() as u32)
    }

    /// Whether the run has no node (never: a run starts with two at least).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: u32) -> bool {
        each!(&self.run, lab => lab.network().is_up(i))
    }

    /// What the links carried.
    pub fn stats(&self) -> NetStats {
        each!(&self.run, lab => lab.network().stats())
    }

    /// The links' loss now.
    pub fn loss(&self) -> f64 {
        each!(&self.run, lab => lab.network().link().loss)
    }

    /// The newest messages of the watched node, oldest first.
    pub fn notes(&self) -> Vec<Note> {
        each!(&self.run, lab => lab.network().notes().copied().collect())
    }

    /// Notes node `i`'s messages from now on.
    pub fn watch(&mut self, i: Option<u32>) {
        each!(&mut self.run, lab => lab.watch(i))
    }

    /// The SWIM network, if this is a SWIM run.
    pub fn swim(&self) -> Option<&Network<Swim>> {
        match &self.run {
            Run::Swim(lab) => Some(lab.network()),
            _ => None,
        }
    }

    /// The push-sum network, if this is a push-sum run.
    pub fn push_sum(&self) -> Option<&Network<PushSum>> {
        match &self.run {
            Run::PushSum(lab) => Some(lab.network()),
            _ => None,
        }
    }

    /// The key-value network, if this is a key-value run.
    pub fn kv(&self) -> Option<&Network<KvNode>> {
        match &self.run {
            Run::Kv(lab) => Some(lab.network()),
            _ => None,
        }
    }

    /// Push-sum's true aggregate over the live nodes.
    pub fn push_sum_truth(&self) -> Option<f64> {
        let net = self.push_sum()?;
        let live: Vec<f64> = (0..net.len() as u32)
            .filter(|&i| net.is_up(i))
            .map(|i| net.node(i).value())
            .collect();
        let total: f64 = live.iter().sum();
        Some(match self.aggregate {
            Aggregate::Average => total / live.len().max(1) as f64,
            Aggregate::Sum => total,
            Aggregate::Count => live.len() as f64,
        })
    }

    /// Advances the run by `ms` (to the end at most), sampling at every period boundary.
    pub fn advance_by(&mut self, ms: u64) -> Result<(), String> {
        let target = self.now().after(ms).min(self.end());
        self.advance_to(target)
    }

    /// Advances to the next period boundary (one "round").
    pub fn step(&mut self) -> Result<(), String> {
        let next = (self.now().0 / PERIOD_MS + 1) * PERIOD_MS;
        self.advance_to(Millis(next).min(self.end()))
    }

    /// Advances to `target`, stopping at every period boundary on the way to sample.
    pub fn advance_to(&mut self, target: Millis) -> Result<(), String> {
        while self.now() < target {
            let boundary = Millis((self.now().0 / PERIOD_MS + 1) * PERIOD_MS);
            let to = boundary.min(target);
            self.advance_once(to)?;
            if to == boundary {
                let sample = self.sample();
                self.samples.push((to, sample));
            }
        }
        Ok(())
    }

    fn advance_once(&mut self, to: Millis) -> Result<(), String> {
        let failed = |e: grapevine_core::lab::run::LabError| format!("The run stopped: {e}.");
        // The scenario's steps that this stretch applies, for the log.
        let due: Vec<(u64, Op)> = self.scenario.steps[self.steps_done..]
            .iter()
            .take_while(|s| Millis(s.0) <= to)
            .cloned()
            .collect();
        self.steps_done += due.len();
        match &mut self.run {
            Run::Swim(lab) => {
                let events = lab.advance(to).map_err(failed)?;
                self.log_steps(&due);
                self.observe_swim(&due, events);
            }
            Run::PushSum(lab) => {
                lab.advance(to).map_err(failed)?;
                self.log_steps(&due);
            }
            Run::Kv(lab) => {
                lab.advance(to).map_err(failed)?;
                let converged = kv_converged(lab.network());
                self.log_steps(&due);
                if converged && !self.kv_converged {
                    self.push_log(
                        to,
                        "every live replica holds the same entries".into(),
                        false,
                    );
                }
                self.kv_converged = converged;
            }
        }
        Ok(())
    }

    fn push_log(&mut self, at: Millis, text: String, alarm: bool) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { at, text, alarm });
    }

    fn log_steps(&mut self, due: &[(u64, Op)]) {
        for (at, op) in due {
            self.push_log(Millis(*at), format!("scenario: {op}"), true);
        }
    }

    /// Follows SWIM's events: detections of crashes, false verdicts, consensus.
    fn observe_swim(
        &mut self,
        due: &[(u64, Op)],
        events: Vec<(Millis, grapevine_core::lab::NodeId, SwimEvent)>,
    ) {
        for (at, op) in due {
            if let Op::Crash(i) = op {
                self.detections.insert(
                    *i,
                    Detection {
                        crashed_at: Millis(*at),
                        ..Detection::default()
                    },
                );
            }
        }
        let Run::Swim(lab) = &self.run else {
            return;
        };
        let mut lines = Vec::new();
        for (at, observer, event) in events {
            let o = observer.0 as u32;
            match event {
                SwimEvent::Refuted(inc) => {
                    lines.push((
                        at,
                        format!("node {o} refutes a suspicion (incarnation {})", inc.0),
                        false,
                    ));
                }
                SwimEvent::Member {
                    member,
                    state,
                    incarnation,
                } => {
                    let m = member.0 as u32;
                    let accused = matches!(state, MemberState::Suspect | MemberState::Dead);
                    if let Some(d) = self.detections.get_mut(&m) {
                        if accused && at >= d.crashed_at && !d.accusers.contains_key(&o) {
                            d.accusers.insert(o, at);
                            if d.first.is_none() {
                                d.first = Some(at);
                                lines.push((
                                    at,
                                    format!("node {o} suspects node {m}, which crashed"),
                                    false,
                                ));
                            }
                        }
                    }
                    if state == MemberState::Dead
                        && lab.was_live(m, at, incarnation.0)
                        && self.false_positives.insert((m, incarnation.0))
                    {
                        let count = self.false_positives.len();
                        if milestone(count) {
                            lines.push((at, format!("node {o} declares node {m} dead while it runs: false positive no. {count}"), true));
                        }
                    } else if state == MemberState::Suspect
                        && lab.was_live(m, at, incarnation.0)
                        && self.false_suspicions.insert((m, incarnation.0))
                    {
                        let count = self.false_suspicions.len();
                        if milestone(count) {
                            lines.push((at, format!("node {o} suspects node {m}, which runs: running members suspected so far: {count}"), false));
                        }
                    }
                }
            }
        }
        // Crashes every live member now knows of.
        let net = lab.network();
        let live: Vec<u32> = (0..net.len() as u32)
            .filter(|&i| net.is_up(i) && !net.node(i).has_left())
            .collect();
        for (&m, d) in self.detections.iter_mut() {
            if d.all.is_some() || d.first.is_none() {
                continue;
            }
            // When the last running member accused it (as the command line's
            // `full_detection_periods` counts).
            let last = live
                .iter()
                .filter(|&&i| i != m)
                .map(|i| d.accusers.get(i).copied())
                .collect::<Option<Vec<Millis>>>()
                .and_then(|ts| ts.into_iter().max());
            if let Some(at) = last {
                d.all = Some(at);
                lines.push((
                    at,
                    format!("every running member has marked node {m} suspect or dead"),
                    false,
                ));
            }
        }
        for (at, text, alarm) in lines {
            self.push_log(at, text, alarm);
        }
    }

    fn sample(&self) -> Sample {
        match &self.run {
            Run::Swim(lab) => {
                let net = lab.network();
                let (mut counts, mut observers) = ([0u64; 3], 0u64);
                for i in (0..net.len() as u32).filter(|&i| net.is_up(i)) {
                    let node = net.node(i);
                    if node.has_left() {
                        continue;
                    }
                    observers += 1;
                    for (_, view) in node.iter_members() {
                        match view.state {
                            MemberState::Suspect => counts[0] += 1,
                            MemberState::Dead => counts[1] += 1,
                            MemberState::Left => counts[2] += 1,
                            MemberState::Alive => {}
                        }
                    }
                }
                let per = |c: u64| c as f64 / observers.max(1) as f64;
                Sample::Swim {
                    suspect: per(counts[0]),
                    dead: per(counts[1]),
                    left: per(counts[2]),
                }
            }
            Run::PushSum(lab) => {
                let net = lab.network();
                let weight: f64 = (0..net.len() as u32)
                    .filter(|&i| net.is_up(i))
                    .map(|i| net.node(i).mass().1)
                    .sum();
                Sample::PushSum {
                    error: push_sum_error(net, self.aggregate),
                    mass: weight / f64::from(self.initial_nodes()),
                }
            }
            Run::Kv(lab) => {
                let (agree, states) = kv_agreement(lab.network());
                Sample::Kv { agree, states }
            }
        }
    }

    /// Nodes at the start of the run.
    pub fn initial_nodes(&self) -> u32 {
        let joined = self
            .scenario
            .steps
            .iter()
            .take(self.steps_done)
            .filter(|s| s.1 == Op::Join)
            .count() as u32;
        self.len() - joined
    }
}

/// Running members wrongly accused come by the hundred in a partition: the log tells of the
/// first, the tenth, the hundredth... (the panel counts them all).
fn milestone(count: usize) -> bool {
    [1, 10, 100, 1_000, 10_000].contains(&count)
}

/// The share of live replicas in the most common state, and the number of distinct states.
pub fn kv_agreement(net: &Network<KvNode>) -> (f64, u32) {
    let ranks: Vec<u32> = kv_state_ranks(net).into_iter().flatten().collect();
    let top = ranks.iter().filter(|&&r| r == 0).count();
    let states = ranks.iter().max().map_or(0, |&r| r + 1);
    (top as f64 / ranks.len().max(1) as f64, states)
}

/// Each live replica's state as a rank: 0 for the most common state, 1 for the next, ...
/// (`None` for a crashed replica). Equal ranks mean equal replicas.
pub fn kv_state_ranks(net: &Network<KvNode>) -> Vec<Option<u32>> {
    let digests: Vec<Option<Vec<(u64, u64)>>> = (0..net.len() as u32)
        .map(|i| {
            net.is_up(i).then(|| {
                net.node(i)
                    .digest()
                    .0
                    .iter()
                    .map(|(n, v)| (n.0, *v))
                    .collect()
            })
        })
        .collect();
    let mut counts: BTreeMap<&Vec<(u64, u64)>, u32> = BTreeMap::new();
    for d in digests.iter().flatten() {
        *counts.entry(d).or_default() += 1;
    }
    let mut order: Vec<(&Vec<(u64, u64)>, u32)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let rank: BTreeMap<&Vec<(u64, u64)>, u32> = order
        .iter()
        .enumerate()
        .map(|(r, (d, _))| (*d, r as u32))
        .collect();
    digests
        .iter()
        .map(|d| d.as_ref().map(|d| rank[d]))
        .collect()
}

//! The key-value map in the lab: its config, writes from the scenario, and the figures of a
//! run (rounds until every live replica agrees, keys with concurrent writes).

use super::node::{
    check_key_value, KvCommand, KvConfig, KvEvent, KvMessage, KvNode, MAX_CLOCK_OFFSET_MS,
};
use crate::lab::net::Network;
use crate::lab::protocol::{
    named, Figure, LabOptions, Log, Observer, Phases, ProtocolInfo, ProtocolSpec, Timed,
};
use crate::lab::protocol::{node_rng, Lab, LabError};
use crate::lab::scenario::{Command, Op};
use crate::lab::{Millis, Node, NodeId};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// The key-value map's slice of the lab.
pub struct Spec;

impl ProtocolSpec for Spec {
    const INFO: ProtocolInfo = ProtocolInfo {
        name: "kv",
        label: "Replicated key-value",
        default_scenario: Some("concurrent-writes"),
        options: &[],
        commands: &["set", "skew"],
        figures: &[
            "rounds_to_converge",
            "conflicting_keys",
            "lww_dropped_writes",
        ],
    };
    type Node = KvNode;
    type Message = KvMessage;
    type Config = KvConfig;
    type Observer = KvObserver;

    fn config(options: &LabOptions) -> Result<KvConfig, LabError> {
        let config = KvConfig {
            interval_ms: options.interval_ms,
            clock_offset_ms: 0,
            summaries: false,
        };
        config
            .validate()
            .map_err(|m| LabError::Settings(m.into()))?;
        Ok(config)
    }

    fn interval_ms(config: &KvConfig) -> u32 {
        config.interval_ms
    }

    /// Each replica draws its own phase: `phases` does not apply.
    fn spawn(
        config: &KvConfig,
        seed: u64,
        _: Phases,
        i: u32,
        life: u32,
        now: Millis,
        _: Option<&KvNode>,
    ) -> KvNode {
        KvNode::new(NodeId(u64::from(i)), *config, node_rng(seed, i, life), now)
    }

    fn check_command(command: &Command) -> Result<(), String> {
        kv_command(command).map(|_| ())
    }

    fn command(net: &mut Network<KvNode>, command: &Command) {
        if let Ok(c) = kv_command(command) {
            net.with_node(command.node, |node, now| node.handle_command(now, c));
        }
    }
}

/// A scenario's key-value command: `set I KEY VALUE` (a write at node I; the value may have
/// spaces) or `skew I MS` (node I's clock runs MS ms off from then on; negative: behind).
fn kv_command(command: &Command) -> Result<KvCommand, String> {
    if command.verb == "skew" {
        let offset_ms = command
            .words
            .parse::<i64>()
            .ok()
            .filter(|ms| ms.abs() <= MAX_CLOCK_OFFSET_MS)
            .ok_or("skew takes one number of ms, within an hour either way (negative: behind)")?;
        return Ok(KvCommand::Skew { offset_ms });
    }
    let (key, value) = command
        .words
        .split_once(' ')
        .ok_or("set needs a key and a value")?;
    check_key_value(key, value)?;
    Ok(KvCommand::Set {
        key: key.into(),
        value: value.into(),
    })
}

/// What the charts plot each round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KvSample {
    /// The share of live replicas in the most common state.
    pub agree: f64,
    /// How many distinct states the live replicas hold.
    pub states: u32,
}

/// One key across the live replicas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyAcross {
    /// Value read by last-writer-wins -> replicas reading it.
    pub reads: BTreeMap<String, u32>,
    /// Replicas where vector clocks keep siblings (concurrent writes).
    pub with_siblings: u32,
    /// The siblings' values at the first such replica.
    pub siblings: Vec<String>,
}

/// Follows a key-value run: when the replicas came to agree after the scenario's last
/// change.
#[derive(Clone, Debug)]
pub struct KvObserver {
    /// The scenario's last write, heal, restart or join: convergence counts from there.
    settle_from: Millis,
    /// The first round boundary after `settle_from` at which every live replica agreed.
    converged_at: Option<Millis>,
    /// Whether the replicas agreed at the last look (to log each convergence once).
    agreed: bool,
}

impl KvObserver {
    /// Each live replica's state as a rank: 0 for the most common state, 1 for the next, ...
    /// (`None` for a crashed replica). Equal ranks mean equal replicas.
    pub fn state_ranks(lab: &Lab<Spec>) -> Vec<Option<u32>> {
        let net = lab.network();
        let digests: Vec<Option<Vec<(u64, u64)>>> = (0..net.len() as u32)
            .map(|i| {
                net.is_up(i).then(|| {
                    let digest = net.node(i).digest();
                    digest.0.iter().map(|(n, v)| (n.0, *v)).collect()
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

    /// The share of live replicas in the most common state, and the number of states.
    pub fn agreement(lab: &Lab<Spec>) -> KvSample {
        let ranks: Vec<u32> = Self::state_ranks(lab).into_iter().flatten().collect();
        let top = ranks.iter().filter(|&&r| r == 0).count();
        KvSample {
            agree: top as f64 / ranks.len().max(1) as f64,
            states: ranks.iter().max().map_or(0, |&r| r + 1),
        }
    }

    /// Every key across the live replicas: what last-writer-wins reads where, and where
    /// vector clocks keep concurrent writes.
    pub fn keys_across(lab: &Lab<Spec>) -> BTreeMap<String, KeyAcross> {
        let mut keys: BTreeMap<String, KeyAcross> = BTreeMap::new();
        for i in lab.live() {
            let node = lab.network().node(i);
            for k in node.keys() {
                let entry = keys.entry(k.into()).or_default();
                if let Some(e) = node.lww(k) {
                    *entry.reads.entry(e.value.clone()).or_default() += 1;
                }
                let siblings = node.siblings(k);
                if siblings.len() > 1 {
                    entry.with_siblings += 1;
                    if entry.siblings.is_empty() {
                        entry.siblings = siblings.iter().map(|e| e.value.clone()).collect();
                    }
                }
            }
        }
        keys
    }

    /// Whether every live replica holds the same entries.
    pub fn converged(lab: &Lab<Spec>) -> bool {
        Self::agreement(lab).states <= 1
    }
}

impl Observer<Spec> for KvObserver {
    type Sample = KvSample;

    fn new(lab: &Lab<Spec>) -> Self {
        let settle_from = lab
            .scenario()
            .steps
            .iter()
            .filter(|(_, op)| match op {
                Op::Command(c) => Spec::INFO.commands.contains(&c.verb.as_str()),
                Op::Heal | Op::Restart(_) | Op::Join => true,
                _ => false,
            })
            .map(|s| s.0)
            .max()
            .unwrap_or(0);
        KvObserver {
            settle_from: Millis(settle_from),
            converged_at: None,
            agreed: true,
        }
    }

    fn observe(&mut self, lab: &Lab<Spec>, _: &[(u64, Op)], _: Vec<Timed<KvEvent>>, log: &mut Log) {
        let agreed = Self::converged(lab);
        if agreed && !self.agreed {
            log.push(
                lab.now(),
                "every live replica holds the same entries".into(),
                false,
            );
        }
        self.agreed = agreed;
    }

    fn sample(&mut self, lab: &Lab<Spec>) -> KvSample {
        let sample = Self::agreement(lab);
        // A sample at the very time of a step is taken after it.
        if lab.now() > self.settle_from && self.converged_at.is_none() && sample.states <= 1 {
            self.converged_at = Some(lab.now());
        }
        sample
    }

    fn figures(&self, lab: &Lab<Spec>) -> Vec<Figure> {
        let interval = f64::from(lab.config().interval_ms);
        let node = lab.network().node(0);
        let conflicting = node
            .keys()
            .iter()
            .filter(|k| node.siblings(k).len() > 1)
            .count();
        // A key whose writes vector clocks order (one write saw all the others) but whose
        // last-writer-wins read is an older one: a clock behind made the later write lose.
        let dropped = node
            .keys()
            .iter()
            .filter(|k| match (node.siblings(k).as_slice(), node.lww(k)) {
                ([latest], Some(read)) => latest.clock != read.clock,
                _ => false,
            })
            .count();
        named::<Spec>(&[
            (
                self.converged_at
                    .map(|t| t.since(self.settle_from) as f64 / interval),
                true,
            ),
            (Some(conflicting as f64), false),
            (Some(dropped as f64), false),
        ])
    }
}

//! The flags of `grapevine sim` and `grapevine bench` (the lab's included) and their
//! parsers: what each flag accepts, its default and its help text, and how a scenario's flags
//! become the round engine's [`Settings`]. `serve` and `peer` keep their own flags.
//!
//! It depends on no subcommand (only on [`Usage`] and the report formats), so every
//! subcommand can read its flags from here.

use crate::report;
use crate::usage::Usage;
use clap::Args;
use grapevine_core::engine::MAX_NODES;
use grapevine_core::experiment::DEFAULT_MAX_ROUNDS;
use grapevine_core::lab::LabProtocol;
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::{Feedback, Interest, Protocol, Settings, StopRule, Topology, Tunables};

/// The settings of one run, shared by `sim` and `bench`.
#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// Number of nodes.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(2..=i64::from(MAX_NODES)))]
    pub nodes: u32,
    /// push, pull or pushpull (the round engine), or swim, push-sum, kv or rumor (the
    /// protocol lab: nodes over a simulated network, see --scenario).
    #[arg(long, default_value = "push", value_parser = parse_protocol)]
    pub protocol: ProtocolChoice,
    /// Fanout: peers each node contacts per round.
    #[arg(long, value_name = "F", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_FANOUT)))]
    pub fanout: u8,
    /// Probability that a message is lost, in [0, 1).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_loss)]
    pub loss: f64,
}

/// The round engine's rules beyond the scenario: the stop rule, the topology, the crashed
/// fraction. Shared by `sim` and `bench`, so every setting a run takes can be measured.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// When a spreading node loses interest: none (anti-entropy), feedback-counter,
    /// feedback-coin, blind-counter, blind-coin (Demers et al. 1987).
    #[arg(long, default_value = "none", value_parser = parse_stop)]
    pub stop: StopRule,
    /// The stop rule's k: contacts for a counter, 1/k per contact for a coin.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..))]
    pub k: u8,
    /// When feedback rules judge "the receiver already knew": round-start (synchronous
    /// rounds, as Demers et al. simulated) or arrival (one contact at a time, as the
    /// mean-field equations assume). See docs/FIDELITY.md.
    #[arg(long, default_value = "round-start", value_parser = parse_feedback)]
    pub feedback: Feedback,
    /// complete, ring, torus, regular, small-world or scale-free.
    #[arg(long, default_value = "complete", value_parser = parse_topology)]
    pub topology: Topology,
    /// Fraction of nodes crashed from the start, in [0, 1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = parse_crashed)]
    pub crashed: f64,
}

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Master seed; run i plays with a seed derived from it and i (run 0 with the seed itself).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Number of runs.
    #[arg(long, value_name = "R", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub runs: u32,
    /// Rounds after which a run still spreading is cut short.
    #[arg(long, value_name = "M", default_value_t = DEFAULT_MAX_ROUNDS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rounds: u32,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    pub format: report::Format,
    /// Print every run's per-round CSV time series instead of the summary.
    #[arg(long)]
    pub per_round: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "T", default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub lab: LabArgs,
}

/// The lab's flags (ignored by the round engine's protocols, which refuse `--scenario`).
#[derive(Args, Debug, Clone)]
pub struct LabArgs {
    /// A preset (crash-one, split-brain, rolling-restart, lossy-link, slow-node,
    /// concurrent-writes) or a scenario file. Default: crash-one for swim, concurrent-writes
    /// for kv, 60 s of nothing for push-sum.
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// SWIM's protocol period, or the other protocols' gossip interval, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(10..=60_000))]
    pub interval: u32,
    /// SWIM: Lifeguard's local health and dynamic suspicion timeout.
    #[arg(long)]
    pub lifeguard: bool,
    /// SWIM: memberlist's full-state push-pull with one member every 5 periods, as live mode
    /// runs it; without it (the paper's SWIM) the sides of a healed partition stay dead to
    /// each other.
    #[arg(long)]
    pub push_pull: bool,
    /// One-way link latency, ms.
    #[arg(long, value_name = "MS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub latency: u32,
    /// How much links differ: each pair of nodes gets its own fixed extra delay, drawn
    /// uniformly from 0..=SPREAD ms.
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub spread: u32,
    /// Extra per-message delay drawn uniformly from 0..=JITTER ms.
    #[arg(long, value_name = "MS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub jitter: u32,
    /// rumor: push, pull or pushpull.
    #[arg(long, default_value = "push", value_parser = parse_mode)]
    pub mode: Protocol,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Alternating engine / baseline measurements; medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=101))]
    pub reps: u32,
    /// Messages per engine measurement (whole runs are played until at least this many).
    #[arg(long, value_name = "M", default_value_t = 20_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: u64,
    /// Measure member identities instead: Ed25519 signatures and verifications per second,
    /// next to encoding and decoding a signed message (live mode's costs).
    #[arg(long)]
    pub signatures: bool,
}

impl SimArgs {
    /// `grapevine sim`'s flags at their defaults, as clap gives them.
    pub fn default_values() -> SimArgs {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            sim: SimArgs,
        }
        <Defaults as clap::Parser>::parse_from(["grapevine"]).sim
    }
}

/// The round engine's protocols, or one of the lab's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolChoice {
    Rumor(Protocol),
    Lab(LabProtocol),
}

pub(crate) fn parse_protocol(s: &str) -> Result<ProtocolChoice, String> {
    LabProtocol::from_name(s)
        .map(ProtocolChoice::Lab)
        .or_else(|| Protocol::from_name(s).map(ProtocolChoice::Rumor))
        .ok_or_else(|| {
            let lab: Vec<&str> = LabProtocol::all().map(LabProtocol::name).collect();
            format!("expected push, pull, pushpull, {}", lab.join(", "))
        })
}

pub(crate) fn parse_stop(s: &str) -> Result<StopRule, String> {
    StopRule::from_name(s).ok_or_else(|| {
        "expected none, feedback-counter, feedback-coin, blind-counter or blind-coin".into()
    })
}

pub(crate) fn parse_feedback(s: &str) -> Result<Feedback, String> {
    Feedback::from_name(s).ok_or_else(|| "expected round-start or arrival".into())
}

pub(crate) fn parse_topology(s: &str) -> Result<Topology, String> {
    Topology::from_name(s)
        .ok_or_else(|| "expected complete, ring, torus, regular, small-world or scale-free".into())
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| "expected a number".to_string())?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err("expected a number in [0, 1)".into())
    }
}

pub fn parse_loss(s: &str) -> Result<f64, String> {
    parse_fraction(s)
}

pub(crate) fn parse_crashed(s: &str) -> Result<f64, String> {
    parse_fraction(s)
}

pub(crate) fn parse_mode(s: &str) -> Result<Protocol, String> {
    Protocol::from_name(s).ok_or_else(|| "expected push, pull or pushpull".into())
}

impl ScenarioArgs {
    /// The round engine's settings for these flags and `rules`, with `seed`.
    pub fn settings(&self, rules: &RuleArgs, seed: u64) -> Result<Settings, Usage> {
        let ProtocolChoice::Rumor(protocol) = self.protocol else {
            return Err(Usage(
                "error: invalid --protocol: the round engine runs push, pull or pushpull".into(),
            ));
        };
        Ok(Settings {
            nodes: self.nodes,
            protocol,
            tunables: Tunables {
                fanout: self.fanout,
                loss: self.loss,
                interest: Interest {
                    feedback: rules.feedback,
                    ..Interest::new(rules.stop, rules.k)
                },
            },
            topology: rules.topology,
            crashed: rules.crashed,
            seed,
            source: None,
        })
    }
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// A setting and its values: NAME=V1,V2,... or NAME=A..B (integers A to B) or NAME=A..B*F
    /// (A, A·F, A·F², ... up to B). NAME is any setting of grapevine sim: nodes, protocol,
    /// fanout, loss, stop, k, feedback, topology, crashed; and the lab's interval, lifeguard,
    /// push-pull, latency, spread, jitter, mode, scenario. Repeat it for a grid (the product;
    /// the first --vary outermost).
    #[arg(long, value_name = "NAME=VALUES", required = true)]
    pub vary: Vec<String>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub lab: LabArgs,
    /// Master seed. Common random numbers: run i of every point plays with the seed derived
    /// from it and i (as `grapevine sim`'s run i), so the differences between points are not
    /// the seeds' noise.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Runs per point.
    #[arg(long, value_name = "R", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub runs: u32,
    /// Rounds after which a run still spreading is cut short.
    #[arg(long, value_name = "M", default_value_t = DEFAULT_MAX_ROUNDS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rounds: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    pub format: report::Format,
    /// Also give every run's figures (JSON: `per_run` in each point; CSV: one row per run).
    #[arg(long)]
    pub per_run: bool,
    /// Play only shard I of N (0 ≤ I < N): every N-th (point, run) pair from the I-th, written
    /// as JSON lines to --out for `grapevine merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
    /// Write to FILE instead of standard output (required with --shard).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "T", default_value_t = 0)]
    pub threads: usize,
    /// A recorded live room (the lines of `grapevine peer --json`), reported and drawn beside
    /// the simulated points at its size, fanout or loss: each rumor's figures in gossip
    /// intervals, as a run's in rounds. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub room: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub plot: PlotArgs,
}

/// A sweep's plot.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Also draw FILE.svg: the first varied setting on the x-axis, the second as series, the
    /// mean of --figure with its 95 % band, theory dashed where the core has it.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
    /// The figure plotted, by its name in the output: rounds_to_full (the default for push,
    /// pull and pushpull), residue, messages_per_node, t_ave, t_last; a lab protocol's own
    /// (its first by default).
    #[arg(long, value_name = "NAME")]
    pub figure: Option<String>,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' files (`grapevine sweep --shard I/N --out FILE`), every one of a sweep's N
    /// shards once, in any order.
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    pub format: report::Format,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub plot: PlotArgs,
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || "expected I/N with 0 <= I < N, as 3/64".to_string();
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i < n {
        Ok((i, n))
    } else {
        Err(bad())
    }
}

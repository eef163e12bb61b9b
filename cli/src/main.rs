//! `grapevine`: the gossip core on the command line. `sim` plays many seeded runs of one
//! scenario and summarises them; `bench` measures the round engine against a baseline;
//! `serve` serves the page with live mode's signaling and relay; `peer` runs native members of a
//! live room.
//!
//! Bad input gets one line naming the flag and exit code 2 (clap's convention for usage
//! errors); results go to stdout, progress to stderr and only when it is a terminal.

mod bench;
mod lab;
mod peer;
mod report;
mod serve;
mod sim;

use clap::{Args, Parser, Subcommand};
use grapevine_core::engine::MAX_NODES;
use grapevine_core::experiment::DEFAULT_MAX_ROUNDS;
use grapevine_core::lab::LabProtocol;
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::{
    Feedback, Interest, Protocol, Settings, SettingsError, StopRule, Topology, Tunables,
};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "grapevine",
    version,
    about = "Gossip protocol experiments on the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Play R seeded runs of one scenario and summarise them.
    #[command(allow_negative_numbers = true)]
    Sim(SimArgs),
    /// Measure the round engine's ns per message next to a random read-modify-write baseline.
    #[command(allow_negative_numbers = true)]
    Bench(BenchArgs),
    /// Serve the built page with WebRTC signaling for live mode (/signal) and /health.
    Serve(serve::ServeArgs),
    /// Run N native members of a live room (the same node as a tab), over the server's relay.
    Peer(peer::PeerArgs),
}

/// The settings of one run, shared by `sim` and `bench`.
#[derive(Args, Debug, Clone)]
struct ScenarioArgs {
    /// Number of nodes.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(2..=i64::from(MAX_NODES)))]
    nodes: u32,
    /// push, pull or pushpull (the round engine), or swim, push-sum, kv or rumor (the
    /// protocol lab: nodes over a simulated network, see --scenario).
    #[arg(long, default_value = "push", value_parser = parse_protocol)]
    protocol: ProtocolChoice,
    /// Fanout: peers each node contacts per round.
    #[arg(long, value_name = "F", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_FANOUT)))]
    fanout: u8,
    /// Probability that a message is lost, in [0, 1).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_loss)]
    loss: f64,
}

#[derive(Args, Debug)]
struct SimArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// When a spreading node loses interest: none (anti-entropy), feedback-counter,
    /// feedback-coin, blind-counter, blind-coin (Demers et al. 1987).
    #[arg(long, default_value = "none", value_parser = parse_stop)]
    stop: StopRule,
    /// The stop rule's k: contacts for a counter, 1/k per contact for a coin.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..))]
    k: u8,
    /// When feedback rules judge "the receiver already knew": round-start (synchronous
    /// rounds, as Demers et al. simulated) or arrival (one contact at a time, as the
    /// mean-field equations assume). See docs/FIDELITY.md.
    #[arg(long, default_value = "round-start", value_parser = parse_feedback)]
    feedback: Feedback,
    /// complete, ring, torus, regular, small-world or scale-free.
    #[arg(long, default_value = "complete", value_parser = parse_topology)]
    topology: Topology,
    /// Fraction of nodes crashed from the start, in [0, 1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = parse_crashed)]
    crashed: f64,
    /// Master seed; run i plays with a seed derived from it and i (run 0 with the seed itself).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Number of runs.
    #[arg(long, value_name = "R", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    runs: u32,
    /// Rounds after which a run still spreading is cut short.
    #[arg(long, value_name = "M", default_value_t = DEFAULT_MAX_ROUNDS,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_rounds: u32,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    format: report::Format,
    /// Print every run's per-round CSV time series instead of the summary.
    #[arg(long)]
    per_round: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "T", default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    lab: lab::LabArgs,
}

#[derive(Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Alternating engine / baseline measurements; medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=101))]
    reps: u32,
    /// Messages per engine measurement (whole runs are played until at least this many).
    #[arg(long, value_name = "M", default_value_t = 20_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Measure member identities instead: Ed25519 signatures and verifications per second,
    /// next to encoding and decoding a signed message (live mode's costs).
    #[arg(long)]
    signatures: bool,
}

/// The round engine's protocols, or one of the lab's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProtocolChoice {
    Rumor(Protocol),
    Lab(LabProtocol),
}

fn parse_protocol(s: &str) -> Result<ProtocolChoice, String> {
    LabProtocol::from_name(s)
        .map(ProtocolChoice::Lab)
        .or_else(|| Protocol::from_name(s).map(ProtocolChoice::Rumor))
        .ok_or_else(|| {
            let lab: Vec<&str> = LabProtocol::all().map(LabProtocol::name).collect();
            format!("expected push, pull, pushpull, {}", lab.join(", "))
        })
}

fn parse_stop(s: &str) -> Result<StopRule, String> {
    StopRule::from_name(s).ok_or_else(|| {
        "expected none, feedback-counter, feedback-coin, blind-counter or blind-coin".into()
    })
}

fn parse_feedback(s: &str) -> Result<Feedback, String> {
    Feedback::from_name(s).ok_or_else(|| "expected round-start or arrival".into())
}

fn parse_topology(s: &str) -> Result<Topology, String> {
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

fn parse_loss(s: &str) -> Result<f64, String> {
    parse_fraction(s)
}

fn parse_crashed(s: &str) -> Result<f64, String> {
    parse_fraction(s)
}

/// A bad flag: printed as one line, exit code 2.
#[derive(Debug)]
struct Usage(String);

impl Usage {
    fn settings(e: SettingsError) -> Usage {
        let flag = match e {
            SettingsError::Nodes(_) => "--nodes",
            SettingsError::Fanout(_) => "--fanout",
            SettingsError::Loss(_) => "--loss",
            SettingsError::K(_) => "--k",
            SettingsError::Crashed(_) => "--crashed",
            SettingsError::Topology(_) => "--topology",
            SettingsError::Source(_) | SettingsError::SourceCrashed(_) => "--seed",
        };
        let why = match e {
            SettingsError::Topology(why) => why.to_string(),
            _ => e.to_string(),
        };
        Usage(format!("error: invalid {flag}: {why}"))
    }
}

impl ScenarioArgs {
    fn settings(
        &self,
        stop: StopRule,
        k: u8,
        topology: Topology,
        crashed: f64,
        seed: u64,
    ) -> Result<Settings, Usage> {
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
                interest: Interest::new(stop, k),
            },
            topology,
            crashed,
            seed,
            source: None,
        })
    }
}

/// Refuses settings that will not fit in memory `parallel` times over, before allocating.
fn check_memory(settings: &Settings, parallel: usize) -> Result<(), Usage> {
    let need = settings.peak_memory_bytes().saturating_mul(parallel as u64);
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if need > available {
        let gb = |b: u64| b as f64 / 1e9;
        return Err(Usage(format!(
            "error: --nodes {} on a {} graph needs about {:.1} GB ({} run(s) at once); \
             {:.1} GB is available: use fewer nodes or --threads 1",
            settings.nodes,
            settings.topology.name(),
            gb(need),
            parallel,
            gb(available)
        )));
    }
    Ok(())
}

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // Clap's first line names the flag and the problem; the usage block after it
            // is noise in a script's log.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{first} (see grapevine --help)");
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let result = match cli.command {
        Command::Sim(args) => match args.scenario.protocol {
            ProtocolChoice::Lab(protocol) => lab::run(args, protocol),
            ProtocolChoice::Rumor(_) => sim::run(args),
        },
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Peer(args) => peer::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

//! `grapevine`: the gossip core on the command line. `sim` plays many seeded runs of one
//! scenario and summarises them; `sweep` does so at every point of a grid of settings, and
//! `merge` joins a sweep's shards; `bench` measures the round engine against a baseline;
//! `serve` serves the page with live mode's signaling and relay; `peer` runs native members of a
//! live room.
//!
//! Bad input gets one line naming the flag and exit code 2 (clap's convention for usage
//! errors); results go to stdout, progress to stderr and only when it is a terminal.
//!
//! This file only parses and dispatches: the flags are in [`args`] (and `serve`'s and
//! `peer`'s own modules), the refusals in [`usage`], each subcommand in its module.

mod args;
mod bench;
mod lab;
mod peer;
mod plot;
mod report;
mod serve;
mod sim;
mod sweep;
mod usage;

use args::{BenchArgs, MergeArgs, ProtocolChoice, SimArgs, SweepArgs};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use usage::Usage;

// `peer` names these through the crate root (`crate::Usage`, `crate::parse_loss`).
use args::parse_loss;

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
    /// Play R runs at every point of a grid of settings (--vary) and summarise each point.
    #[command(allow_negative_numbers = true)]
    Sweep(SweepArgs),
    /// Put the shards of a sweep (sweep --shard I/N --out FILE) back together.
    Merge(MergeArgs),
    /// Serve the built page with WebRTC signaling for live mode (/signal) and /health.
    Serve(serve::ServeArgs),
    /// Run N native members of a live room (the same node as a tab), over the server's relay.
    Peer(peer::PeerArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // Clap's first line names the flag and the problem; the usage block after it
            // is noise in a script's log.
            let text = e.to_string();
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let mut first = lines.next().unwrap_or("error: bad arguments").to_string();
            // "the following required arguments were not provided:" names them on the next.
            if first.ends_with(':') {
                if let Some(next) = lines.next() {
                    first = format!("{first} {}", next.trim());
                }
            }
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
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
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

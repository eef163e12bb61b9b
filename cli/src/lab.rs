//! `grapevine sim --protocol swim|push-sum|kv`: the protocol lab's nodes over the simulated
//! network under a scenario, R seeded runs on every core, summarised like the round engine's.

use crate::sim::{write_csv_rows, write_table_rows, Format, Row};
use crate::{SimArgs, Usage};
use clap::Args;
use grapevine_core::experiment::{run_seed, Summary};
use grapevine_core::lab::kv::KvConfig;
use grapevine_core::lab::net::LinkConfig;
use grapevine_core::lab::push_sum::{Aggregate, PushSumConfig};
use grapevine_core::lab::run::{
    run_kv, run_push_sum, run_swim, LabSettings, Phases, MAX_LAB_NODES,
};
use grapevine_core::lab::scenario::{preset, Scenario, PRESETS};
use grapevine_core::lab::swim::{Lifeguard, SwimConfig};
use grapevine_core::lab::{LabProtocol, QUIET_SCENARIO};
use grapevine_core::{StopRule, Topology};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::Write;

/// The lab's flags (ignored by the round engine's protocols, which refuse `--scenario`).
#[derive(Args, Debug)]
pub struct LabArgs {
    /// A preset (crash-one, split-brain, rolling-restart, lossy-link, slow-node,
    /// concurrent-writes) or a scenario file. Default: crash-one for swim, concurrent-writes
    /// for kv, 60 s of nothing for push-sum.
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// SWIM's protocol period, or push-sum's and kv's gossip interval, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(10..=60_000))]
    pub interval: u32,
    /// SWIM: Lifeguard's local health and dynamic suspicion timeout.
    #[arg(long)]
    pub lifeguard: bool,
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
}

/// The scenario's text: a preset's, or a file's.
fn scenario_text(args: &SimArgs, protocol: LabProtocol) -> Result<(String, String), Usage> {
    let Some(name) = args.lab.scenario.as_deref().or(protocol.default_scenario()) else {
        return Ok(("(none)".into(), QUIET_SCENARIO.into()));
    };
    if let Some(text) = preset(name) {
        return Ok((name.into(), text.into()));
    }
    match std::fs::read_to_string(name) {
        Ok(text) => Ok((name.into(), text)),
        Err(e) => {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            Err(Usage(format!(
                "error: invalid --scenario: `{name}` is not a preset ({}) nor a readable file ({e})",
                names.join(", ")
            )))
        }
    }
}

/// Flags of the round engine that mean nothing here: refused rather than ignored.
fn refuse_engine_flags(args: &SimArgs) -> Result<(), Usage> {
    let misplaced = [
        (args.scenario.fanout != 1, "--fanout"),
        (args.stop != StopRule::Never, "--stop"),
        (args.topology != Topology::Complete, "--topology"),
        (
            args.crashed != 0.0,
            "--crashed (use a scenario's crash steps)",
        ),
        (args.per_round, "--per-round"),
    ];
    if let Some((_, flag)) = misplaced.iter().find(|m| m.0) {
        return Err(Usage(format!(
            "error: invalid {flag}: it applies to push, pull and pushpull only"
        )));
    }
    if args.scenario.nodes > MAX_LAB_NODES {
        return Err(Usage(format!(
            "error: invalid --nodes: the lab's protocols take at most {MAX_LAB_NODES} nodes \
             (every node keeps a view of every other)"
        )));
    }
    Ok(())
}

/// One figure over the runs: its name, and whether a run may lack it (then `completed`
/// counts the runs that have it).
struct Figure {
    name: &'static str,
    optional: bool,
    values: Vec<Option<f64>>,
}

pub fn run(args: SimArgs, protocol: LabProtocol) -> Result<(), Usage> {
    refuse_engine_flags(&args)?;
    let (scenario_name, text) = scenario_text(&args, protocol)?;
    let scenario =
        Scenario::parse(&text).map_err(|e| Usage(format!("error: invalid --scenario: {e}")))?;
    let link = LinkConfig {
        latency_ms: args.lab.latency,
        spread_ms: args.lab.spread,
        jitter_ms: args.lab.jitter,
        loss: args.scenario.loss,
        duplicate: 0.0,
    };
    let interval = args.lab.interval;
    let swim = SwimConfig {
        period_ms: interval,
        ack_timeout_ms: (interval / 2).max(1),
        lifeguard: args.lab.lifeguard.then(Lifeguard::default),
        ..SwimConfig::default()
    };
    let push_sum = PushSumConfig {
        interval_ms: interval,
        aggregate: Aggregate::Average,
    };
    let kv = KvConfig {
        interval_ms: interval,
        clock_offset_ms: 0,
    };
    if args.lab.lifeguard && protocol != LabProtocol::Swim {
        return Err(Usage(
            "error: invalid --lifeguard: it is a SWIM option".into(),
        ));
    }
    let settings_of = |seed| LabSettings {
        nodes: args.scenario.nodes,
        seed,
        link,
        scenario: scenario.clone(),
    };
    // Check once, with the master seed, so a bad setting is one clear line, not R of them.
    let check = match protocol {
        LabProtocol::Swim => swim.validate().map(|_| ()),
        _ => Ok(()),
    };
    check.map_err(|m| Usage(format!("error: invalid --interval: {m}")))?;
    scenario
        .check_nodes(args.scenario.nodes)
        .map_err(|e| Usage(format!("error: invalid --scenario: {e}")))?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| Usage(format!("error: invalid --threads: {e}")))?;
    let results: Result<Vec<Vec<Option<f64>>>, String> = pool.install(|| {
        (0..args.runs)
            .into_par_iter()
            .map(|i| {
                let settings = settings_of(run_seed(args.seed, i));
                let row = match protocol {
                    LabProtocol::Swim => run_swim(&settings, swim, Phases::Random).map(|f| {
                        vec![
                            f.first_detection_periods,
                            f.full_detection_periods,
                            Some(f64::from(f.false_positives)),
                            Some(f.messages_per_node_period),
                        ]
                    }),
                    LabProtocol::PushSum => run_push_sum(&settings, push_sum).map(|f| {
                        vec![
                            f.rounds_to_error_1e3,
                            f.rounds_to_error_1e6,
                            Some(f.mass_remaining),
                        ]
                    }),
                    LabProtocol::Kv => run_kv(&settings, kv)
                        .map(|f| vec![f.rounds_to_converge, Some(f64::from(f.conflicting_keys))]),
                };
                row.map_err(|e| e.to_string())
            })
            .collect()
    });
    let per_run = results.map_err(|e| Usage(format!("error: {e}")))?;
    let names: &[(&str, bool)] = match protocol {
        LabProtocol::Swim => &[
            ("first_detection_periods", true),
            ("full_detection_periods", true),
            ("false_positives", false),
            ("messages_per_node_period", false),
        ],
        LabProtocol::PushSum => &[
            ("rounds_to_error_1e3", true),
            ("rounds_to_error_1e6", true),
            ("mass_remaining", false),
        ],
        LabProtocol::Kv => &[("rounds_to_converge", true), ("conflicting_keys", false)],
    };
    let figures: Vec<Figure> = names
        .iter()
        .enumerate()
        .map(|(j, &(name, optional))| Figure {
            name,
            optional,
            values: per_run.iter().map(|r| r[j]).collect(),
        })
        .collect();

    let settings = SettingsOut {
        nodes: args.scenario.nodes,
        protocol: protocol.name(),
        scenario: scenario_name,
        interval_ms: interval,
        lifeguard: args.lab.lifeguard,
        latency_ms: link.latency_ms,
        spread_ms: link.spread_ms,
        jitter_ms: link.jitter_ms,
        loss: link.loss,
        seed: args.seed,
    };
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => print_json(&mut out, &settings, args.runs, &figures),
        Format::Csv => write_csv_rows(&mut out, &rows(&figures)),
        Format::Table => print_table(&mut out, &settings, args.runs, &figures),
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Usage(format!("error: writing the results: {e}")))
        }
        _ => Ok(()),
    }
}

#[derive(Serialize)]
struct SettingsOut {
    nodes: u32,
    protocol: &'static str,
    scenario: String,
    interval_ms: u32,
    lifeguard: bool,
    latency_ms: u32,
    spread_ms: u32,
    jitter_ms: u32,
    loss: f64,
    seed: u64,
}

fn summary(f: &Figure) -> (u32, Option<Summary>) {
    let values: Vec<f64> = f.values.iter().flatten().copied().collect();
    (values.len() as u32, Summary::of(&values))
}

fn print_json(
    out: &mut impl Write,
    settings: &SettingsOut,
    runs: u32,
    figures: &[Figure],
) -> std::io::Result<()> {
    let mut report = Map::new();
    report.insert("settings".into(), serde_json::to_value(settings)?);
    report.insert("runs".into(), runs.into());
    for f in figures {
        let (completed, s) = summary(f);
        let mut object = Map::new();
        if f.optional {
            object.insert("completed".into(), completed.into());
        }
        if let Some(s) = s {
            for (k, v) in [
                ("mean", s.mean),
                ("sd", s.sd),
                ("min", s.min),
                ("p50", s.p50),
                ("p95", s.p95),
                ("max", s.max),
            ] {
                object.insert(k.into(), v.into());
            }
        }
        report.insert(f.name.into(), Value::Object(object));
    }
    serde_json::to_writer_pretty(&mut *out, &Value::Object(report))?;
    writeln!(out)
}

fn rows(figures: &[Figure]) -> Vec<Row<'_>> {
    figures
        .iter()
        .map(|f| {
            let (n, s) = summary(f);
            (f.name, n, s)
        })
        .collect()
}

fn print_table(
    out: &mut impl Write,
    st: &SettingsOut,
    runs: u32,
    figures: &[Figure],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} nodes, {}{}, scenario {}, interval {} ms, latency {} ms + spread {} ms + jitter {} ms, loss {}",
        st.nodes,
        st.protocol,
        if st.lifeguard { " with Lifeguard" } else { "" },
        st.scenario,
        st.interval_ms,
        st.latency_ms,
        st.spread_ms,
        st.jitter_ms,
        st.loss
    )?;
    writeln!(
        out,
        "seed {}, {runs} runs; runs = how many runs reached the figure",
        st.seed
    )?;
    write_table_rows(out, 26, &rows(figures))
}

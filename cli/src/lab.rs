//! `grapevine sim --protocol swim|push-sum|kv|rumor` (the registry's names): the protocol
//! lab's nodes over the simulated network under a scenario, R seeded runs on every core,
//! summarised like the round engine's. The figures, their names and which options each
//! protocol takes come from the core; this file only maps flags and prints.

use crate::args::SimArgs;
use crate::report::{write_csv_rows, write_table_rows, Format, Row};
use crate::usage::Usage;
use grapevine_core::experiment::{run_seed, Summary};
use grapevine_core::lab::net::LinkConfig;
use grapevine_core::lab::protocol::Phases;
use grapevine_core::lab::run::{LabSettings, MAX_LAB_NODES};
use grapevine_core::lab::scenario::{preset, Scenario, PRESETS};
use grapevine_core::lab::{Figure, LabOption, LabOptions, LabProtocol, QUIET_SCENARIO};
use grapevine_core::{Interest, Topology};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::Write;

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

/// The lab's options from the flags, refusing those the protocol does not take (rather
/// than ignoring them) and those of the round engine alone.
fn options(args: &SimArgs, protocol: LabProtocol) -> Result<LabOptions, Usage> {
    let engine_only = [
        (args.rules.topology != Topology::Complete, "--topology"),
        (
            args.rules.crashed != 0.0,
            "--crashed (use a scenario's crash steps)",
        ),
        (args.per_round, "--per-round"),
    ];
    if let Some((_, flag)) = engine_only.iter().find(|m| m.0) {
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
    let options = LabOptions {
        interval_ms: args.lab.interval,
        lifeguard: args.lab.lifeguard,
        push_pull: args.lab.push_pull,
        mode: args.lab.mode,
        fanout: args.scenario.fanout,
        interest: Interest::new(args.rules.stop, args.rules.k),
        ..LabOptions::default()
    };
    if let Some(option) = protocol.unused(&options) {
        let (flag, owners) = match option {
            LabOption::Lifeguard => ("--lifeguard", "SWIM"),
            LabOption::PushPull => ("--push-pull", "SWIM"),
            LabOption::Aggregate => ("--aggregate", "push-sum"),
            LabOption::Mode => ("--mode", "rumor"),
            LabOption::Fanout => ("--fanout", "push, pull, pushpull and rumor"),
            LabOption::Stop => ("--stop", "push, pull, pushpull and rumor"),
        };
        return Err(Usage(format!(
            "error: invalid {flag}: it applies to {owners} only"
        )));
    }
    Ok(options)
}

/// One figure over the runs.
struct Summarised {
    name: &'static str,
    optional: bool,
    values: Vec<Option<f64>>,
}

/// A lab protocol's runs as the flags set them, checked: what `grapevine sim` plays R times,
/// and `grapevine sweep` at each point.
pub struct LabBatch {
    protocol: LabProtocol,
    options: LabOptions,
    settings: LabSettings,
    out: SettingsOut,
    /// The figures a run gives, in order (their values unset).
    figures: Vec<Figure>,
}

impl LabBatch {
    /// Checks the flags (once, with the master seed, so a bad setting is one clear line).
    pub fn of(args: &SimArgs, protocol: LabProtocol) -> Result<LabBatch, Usage> {
        let options = options(args, protocol)?;
        let (scenario_name, text) = scenario_text(args, protocol)?;
        let scenario =
            Scenario::parse(&text).map_err(|e| Usage(format!("error: invalid --scenario: {e}")))?;
        protocol
            .check(&scenario, args.scenario.nodes)
            .map_err(|e| Usage(format!("error: invalid --scenario: {e}")))?;
        let link = LinkConfig {
            latency_ms: args.lab.latency,
            spread_ms: args.lab.spread,
            jitter_ms: args.lab.jitter,
            loss: args.scenario.loss,
            duplicate: 0.0,
        };
        let settings = LabSettings {
            nodes: args.scenario.nodes,
            seed: args.seed,
            link,
            scenario,
            phases: Phases::Random,
        };
        let figures = protocol
            .start(&settings, &options)
            .map_err(|e| Usage(format!("error: invalid settings: {e}")))?
            .figures();
        let out = SettingsOut {
            nodes: args.scenario.nodes,
            protocol: protocol.name(),
            scenario: scenario_name,
            interval_ms: options.interval_ms,
            lifeguard: args.lab.lifeguard,
            push_pull: args.lab.push_pull,
            mode: protocol
                .takes(LabOption::Mode)
                .then_some(options.mode.name()),
            fanout: protocol.takes(LabOption::Fanout).then_some(options.fanout),
            stop: protocol
                .takes(LabOption::Stop)
                .then_some(options.interest.rule.name()),
            k: protocol
                .takes(LabOption::Stop)
                .then_some(options.interest.k),
            latency_ms: link.latency_ms,
            spread_ms: link.spread_ms,
            jitter_ms: link.jitter_ms,
            loss: link.loss,
            seed: args.seed,
        };
        Ok(LabBatch {
            protocol,
            options,
            settings,
            out,
            figures,
        })
    }

    /// Run `run`'s figures (its seed [`run_seed`] of the master seed).
    pub fn play(&self, run: u32) -> Result<Vec<Figure>, String> {
        let settings = LabSettings {
            seed: self.seed(run),
            ..self.settings.clone()
        };
        self.protocol
            .play(&settings, &self.options)
            .map_err(|e| e.to_string())
    }

    /// Run `run`'s seed.
    pub fn seed(&self, run: u32) -> u64 {
        run_seed(self.settings.seed, run)
    }

    /// What theory expects of `figure` for these runs, where the protocol has a model that
    /// fits them.
    pub fn expected(&self, figure: &str) -> Option<f64> {
        self.protocol
            .expected(figure, &self.settings, &self.options)
    }

    /// The figures a run gives: their names and whether a run may lack them.
    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    /// The settings as `grapevine sim` prints them.
    pub fn settings_json(&self) -> Value {
        serde_json::to_value(&self.out).expect("settings serialize")
    }
}

pub fn run(args: SimArgs, protocol: LabProtocol) -> Result<(), Usage> {
    let batch = LabBatch::of(&args, protocol)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| Usage(format!("error: invalid --threads: {e}")))?;
    let results: Result<Vec<Vec<Figure>>, String> = pool.install(|| {
        (0..args.runs)
            .into_par_iter()
            .map(|i| batch.play(i))
            .collect()
    });
    let per_run = results.map_err(|e| Usage(format!("error: {e}")))?;
    let figures: Vec<Summarised> = per_run[0]
        .iter()
        .enumerate()
        .map(|(j, f)| Summarised {
            name: f.name,
            optional: f.optional,
            values: per_run.iter().map(|r| r[j].value).collect(),
        })
        .collect();
    let settings = &batch.out;
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => print_json(&mut out, settings, args.runs, &figures),
        Format::Csv => write_csv_rows(&mut out, &rows(&figures)),
        Format::Table => print_table(&mut out, settings, args.runs, &figures),
    };
    crate::report::written(written)
}

#[derive(Serialize)]
struct SettingsOut {
    nodes: u32,
    protocol: &'static str,
    scenario: String,
    interval_ms: u32,
    lifeguard: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    push_pull: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fanout: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<u8>,
    latency_ms: u32,
    spread_ms: u32,
    jitter_ms: u32,
    loss: f64,
    seed: u64,
}

fn summary(f: &Summarised) -> (u32, Option<Summary>) {
    let values: Vec<f64> = f.values.iter().flatten().copied().collect();
    (values.len() as u32, Summary::of(&values))
}

fn print_json(
    out: &mut impl Write,
    settings: &SettingsOut,
    runs: u32,
    figures: &[Summarised],
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

fn rows(figures: &[Summarised]) -> Vec<Row<'_>> {
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
    figures: &[Summarised],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} nodes, {}{}{}, scenario {}, interval {} ms, latency {} ms + spread {} ms + jitter {} ms, loss {}",
        st.nodes,
        st.protocol,
        match (st.lifeguard, st.push_pull) {
            (true, true) => " with Lifeguard and push-pull",
            (true, false) => " with Lifeguard",
            (false, true) => " with push-pull",
            (false, false) => "",
        },
        match (st.mode, st.fanout, st.stop, st.k) {
            (Some(m), Some(f), Some(s), Some(k)) => format!(" ({m}, fanout {f}, stop {s} k {k})"),
            _ => String::new(),
        },
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

//! `grapevine sim`: R seeded runs of one scenario on every core, summarised.

use crate::args::SimArgs;
use crate::report::{self, progress_bar, write_csv_rows, write_table_rows, Format, Row};
use crate::usage::{check_memory, Usage};
use grapevine_core::experiment::{play_run, BatchSummary, Run, Summary};
use grapevine_core::Settings;
use rayon::prelude::*;
use serde::Serialize;
use std::io::Write;

/// Every setting of the batch, as printed with its results.
#[derive(Serialize)]
pub(crate) struct SettingsOut {
    nodes: u32,
    protocol: &'static str,
    stop: &'static str,
    k: u8,
    feedback: &'static str,
    fanout: u8,
    loss: f64,
    topology: &'static str,
    crashed: f64,
    seed: u64,
    max_rounds: u32,
}

impl SettingsOut {
    pub(crate) fn of(s: &Settings, max_rounds: u32) -> Self {
        SettingsOut {
            nodes: s.nodes,
            protocol: s.protocol.name(),
            stop: s.tunables.interest.rule.name(),
            k: s.tunables.interest.k,
            feedback: s.tunables.interest.feedback.name(),
            fanout: s.tunables.fanout,
            loss: s.tunables.loss,
            topology: s.topology.name(),
            crashed: s.crashed,
            seed: s.seed,
            max_rounds,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct SummaryOut {
    mean: f64,
    sd: f64,
    min: f64,
    p50: f64,
    p95: f64,
    max: f64,
}

impl From<Summary> for SummaryOut {
    fn from(s: Summary) -> Self {
        SummaryOut {
            mean: s.mean,
            sd: s.sd,
            min: s.min,
            p50: s.p50,
            p95: s.p95,
            max: s.max,
        }
    }
}

#[derive(Serialize)]
struct RoundsToFullOut {
    completed: u32,
    #[serde(flatten)]
    summary: Option<SummaryOut>,
}

#[derive(Serialize)]
struct Report {
    settings: SettingsOut,
    runs: u32,
    rounds_to_full: RoundsToFullOut,
    residue: SummaryOut,
    messages_per_node: SummaryOut,
    t_ave: SummaryOut,
    t_last: SummaryOut,
}

pub fn run(args: SimArgs) -> Result<(), Usage> {
    if args.per_round && args.format != Format::Table && args.format != Format::Csv {
        return Err(Usage(
            "error: invalid --format: --per-round prints CSV; drop --format".into(),
        ));
    }
    if args.lab.scenario.is_some() {
        let lab: Vec<&str> = grapevine_core::lab::LabProtocol::all()
            .map(|p| p.name())
            .collect();
        return Err(Usage(format!(
            "error: invalid --scenario: scenarios drive the lab's protocols ({})",
            lab.join(", ")
        )));
    }
    let settings = args.scenario.settings(&args.rules, args.seed)?;
    settings.validate().map_err(Usage::settings)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| Usage(format!("error: invalid --threads: {e}")))?;
    check_memory(
        &settings,
        pool.current_num_threads().min(args.runs as usize),
    )?;

    let progress = progress_bar(u64::from(args.runs));
    let keep_history = args.per_round;
    let runs: Vec<Run> = pool.install(|| {
        (0..args.runs)
            .into_par_iter()
            .map(|i| {
                let mut run =
                    play_run(settings, i, args.max_rounds).expect("settings were validated");
                if !keep_history {
                    run.history = Vec::new();
                }
                progress.inc(1);
                run
            })
            .collect()
    });
    progress.finish_and_clear();

    let mut out = std::io::stdout().lock();
    let written = if args.per_round {
        print_rounds(&mut out, &runs)
    } else {
        let figures: Vec<_> = runs.iter().map(|r| r.figures).collect();
        let summary = BatchSummary::of(&figures).expect("at least one run");
        let report = Report {
            settings: SettingsOut::of(&settings, args.max_rounds),
            runs: summary.runs,
            rounds_to_full: RoundsToFullOut {
                completed: summary.completed,
                summary: summary.rounds_to_full.map(Into::into),
            },
            residue: summary.residue.into(),
            messages_per_node: summary.messages_per_node.into(),
            t_ave: summary.t_ave.into(),
            t_last: summary.t_last.into(),
        };
        match args.format {
            Format::Json => serde_json::to_writer_pretty(&mut out, &report)
                .map_err(std::io::Error::other)
                .and_then(|()| writeln!(out)),
            Format::Csv => print_csv(&mut out, &summary),
            Format::Table => print_table(&mut out, &report.settings, &summary),
        }
    };
    report::written(written)
}

fn print_rounds(out: &mut impl Write, runs: &[Run]) -> std::io::Result<()> {
    writeln!(
        out,
        "run,round,susceptible,infected,removed,sent,lost,redundant"
    )?;
    for run in runs {
        for r in &run.history {
            let (c, t) = (r.counts, r.traffic);
            writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                run.figures.run,
                r.round,
                c.susceptible,
                c.spreading,
                c.stopped,
                t.sent,
                t.lost,
                t.redundant
            )?;
        }
    }
    Ok(())
}

/// The summary's rows: name, number of runs it is over, the distribution.
fn rows(s: &BatchSummary) -> Vec<Row<'static>> {
    vec![
        ("rounds_to_full", s.completed, s.rounds_to_full),
        ("residue", s.runs, Some(s.residue)),
        ("messages_per_node", s.runs, Some(s.messages_per_node)),
        ("t_ave", s.runs, Some(s.t_ave)),
        ("t_last", s.runs, Some(s.t_last)),
    ]
}

fn print_csv(out: &mut impl Write, s: &BatchSummary) -> std::io::Result<()> {
    write_csv_rows(out, &rows(s))
}

fn print_table(
    out: &mut impl Write,
    settings: &SettingsOut,
    s: &BatchSummary,
) -> std::io::Result<()> {
    let st = settings;
    let stop = if st.stop == "none" {
        "anti-entropy".to_string()
    } else {
        format!("{} k={} (feedback at {})", st.stop, st.k, st.feedback)
    };
    writeln!(
        out,
        "{} nodes, {} graph, {}, fanout {}, loss {}, {stop}, crashed {}",
        st.nodes, st.topology, st.protocol, st.fanout, st.loss, st.crashed
    )?;
    writeln!(
        out,
        "seed {}, {} runs (at most {} rounds each); rounds_to_full over the {} that informed everyone",
        st.seed, s.runs, st.max_rounds, s.completed
    )?;
    write_table_rows(out, 18, &rows(s))
}

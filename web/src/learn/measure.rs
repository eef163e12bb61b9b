//! What a lesson measures, read from the core: a chapter's settings (the page's URL
//! parameters) run to their end by the round engine or the lab, and the figure a question
//! names taken from what the core reports (`RunFigures`, a lab run's named figures). The
//! page computes none of them.

use super::chapters::Measure;
use crate::lab::sim::LabSim;
use crate::params::PageSettings;
use grapevine_core::experiment::{run_seed, RunFigures};
use grapevine_core::lab::LabProtocol;
use grapevine_core::theory::Model;
use grapevine_core::{RoundEngine, Settings};

/// Rounds a lesson's round-engine run may take at most (a ring of 10^6 would take longer).
pub const MAX_ROUNDS: u32 = 20_000;

/// `base` with `extra` parameters after it (a later parameter wins).
pub fn query(base: &str, extra: &str) -> String {
    match (base.is_empty(), extra.is_empty()) {
        (_, true) => base.to_string(),
        (true, _) => extra.to_string(),
        _ => format!("{base}&{extra}"),
    }
}

/// The settings a lesson's query gives (a lesson's own queries are all valid; a notice would
/// be a bug in the chapter, so it is reported on the console).
pub fn settings(query: &str) -> PageSettings {
    let (settings, notices) = PageSettings::from_query(query);
    for n in notices {
        web_sys::console::warn_1(&format!("lesson settings {query:?}: {n}").into());
    }
    settings
}

/// The figure `measure` of the run `query` describes, played to its end with seed `seed`
/// (`None`: the query's own seed). `None` when the run never reaches it.
pub fn measure(query: &str, measure: Measure, seed: Option<u64>) -> Option<f64> {
    let mut settings = settings(query);
    if let Some(seed) = seed {
        settings.run.seed = seed;
    }
    match settings.lab.protocol {
        Some(info) => {
            let (name, scale) = match measure {
                Measure::Figure(name) => (name, 1.0),
                Measure::FigurePercent(name) => (name, 100.0),
                _ => return None,
            };
            let mut sim = LabSim::new(&settings, LabProtocol::of_info(info)).ok()?;
            let end = sim.end();
            sim.advance_to(end).ok()?;
            let value = sim.figures().into_iter().find(|f| f.name == name)?.value;
            value.map(|v| v * scale)
        }
        None => {
            let figures = rounds(settings.run)?;
            let last = figures.1;
            let f = figures.0;
            match measure {
                Measure::RoundsToAll => f.rounds_to_full.map(f64::from),
                Measure::Redundant => Some(100.0 * f.redundant_share),
                Measure::Informed => Some(100.0 * (1.0 - f.residue)),
                Measure::Residue => Some(100.0 * f.residue),
                Measure::Messages => Some(last as f64),
                Measure::Figure(_) | Measure::FigurePercent(_) => None,
            }
        }
    }
}

/// The round engine's run to its end: its figures and the messages it sent.
fn rounds(run: Settings) -> Option<(RunFigures, u64)> {
    let mut engine = RoundEngine::new(run).ok()?;
    while !engine.is_finished() && engine.round() < MAX_ROUNDS {
        engine.step();
    }
    let figures = RunFigures::of(0, run.seed, run.nodes, engine.history());
    Some((figures, engine.last().total.sent))
}

/// What theory expects of `measure` for `query`, where the core has a model of it (rounds to
/// inform everyone under anti-entropy on the complete graph).
pub fn theory(query: &str, measure: Measure) -> Option<f64> {
    let settings = settings(query);
    if settings.lab.protocol.is_some() || measure != Measure::RoundsToAll {
        return None;
    }
    let run = settings.run;
    if run.topology != grapevine_core::Topology::Complete {
        return None;
    }
    let live = RoundEngine::new(run).ok()?.counts().live();
    Model::of(&run, live)
        .expected_rounds(MAX_ROUNDS)
        .map(f64::from)
}

/// The seeds of "run it 5 times": the batch seeds the command line's `--runs` uses.
pub fn batch_seeds(master: u64, runs: u32) -> impl Iterator<Item = u64> {
    (0..runs).map(move |i| run_seed(master, i))
}

//! `grapevine sweep`: R runs at every point of a grid of settings (`--vary`), summarised per
//! point; and `grapevine merge`, which puts the shards of a sweep split across machines
//! (`--shard I/N`) back together into exactly the output of the whole sweep.
//!
//! Common random numbers: run i of every point plays with [`run_seed`]`(seed, i)`, as run i of
//! `grapevine sim` does, so two points differ by their settings and not by their seeds' luck.
//! A sweep's output is built by one function ([`write_output`]) from the runs' figures,
//! whether they were played here or read back from shards; floats go through JSON exactly
//! (serde_json's `float_roundtrip`), so a merge is byte for byte the unsharded output.

use crate::args::{
    parse_crashed, parse_feedback, parse_loss, parse_protocol, parse_stop, parse_topology,
    MergeArgs, PlotArgs, ProtocolChoice, SimArgs, SweepArgs,
};
use crate::lab::LabBatch;
use crate::report::{self, progress_bar, write_table_rows, Format, Row};
use crate::sim::{SettingsOut, SummaryOut};
use crate::usage::{check_memory, Usage};
use grapevine_core::engine::MAX_NODES;
use grapevine_core::experiment::{play_run, run_seed, RunFigures, Summary};
use grapevine_core::lab::record::{Line as RecordLine, RoomRun, MEASURED_FIGURES};
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::sweep::{
    self, csv_summary_row, CSV_SUMMARY_HEADER, ENGINE_FIGURES, MAX_POINTS,
};
use grapevine_core::{theory, Settings};
use rayon::prelude::*;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The settings a sweep can vary: the round engine's, then the lab's.
const NAMES: [&str; 17] = [
    "nodes",
    "protocol",
    "fanout",
    "loss",
    "stop",
    "k",
    "feedback",
    "topology",
    "crashed",
    "interval",
    "lifeguard",
    "push-pull",
    "latency",
    "spread",
    "jitter",
    "mode",
    "scenario",
];

/// One `--vary`: a setting and its values, as given (each checked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vary {
    pub name: String,
    pub values: Vec<String>,
}

/// One figure a sweep's runs give.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct FigureName {
    name: String,
    /// Whether a run may lack it (its summary then counts the runs that have it).
    optional: bool,
    /// Whether it is summarised over the runs (else only listed per run: a run's rounds, its
    /// redundant share).
    summarised: bool,
}

/// What a sweep is, as its output and its shards state it: the settings not varied, what is
/// varied, the runs per point, the figures. Shards of one sweep carry equal plans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Plan {
    /// `grapevine sim`'s settings, those varied left out.
    settings: BTreeMap<String, Value>,
    vary: Vec<Vary>,
    runs: u32,
    per_run: bool,
    figures: Vec<FigureName>,
}

/// The first line of a shard's file.
#[derive(Serialize, Deserialize)]
struct ShardHeader {
    grapevine_sweep_shard: u32,
    shards: u32,
    plan: Plan,
}

/// One run's figures, in the plan's order (`None`: the run never reached it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RunRow {
    run: u32,
    seed: u64,
    values: Vec<Option<f64>>,
}

/// A shard's line after the header: which point, and its run's figures.
#[derive(Serialize, Deserialize)]
struct ShardRow {
    point: usize,
    #[serde(flatten)]
    row: RunRow,
}

impl RunRow {
    fn of_engine(f: &RunFigures) -> RunRow {
        RunRow {
            run: f.run,
            seed: f.seed,
            values: f.values().to_vec(),
        }
    }
}

/// What plays a point's runs: the round engine, or a lab protocol.
enum Runner {
    Engine(Settings),
    Lab(Box<LabBatch>),
}

impl Runner {
    fn play(&self, run: u32, max_rounds: u32) -> Result<RunRow, String> {
        match self {
            Runner::Engine(settings) => play_run(*settings, run, max_rounds)
                .map(|r| RunRow::of_engine(&r.figures))
                .map_err(|e| e.to_string()),
            Runner::Lab(batch) => Ok(RunRow {
                run,
                seed: batch.seed(run),
                values: batch.play(run)?.iter().map(|f| f.value).collect(),
            }),
        }
    }

    fn figures(&self) -> Vec<FigureName> {
        match self {
            Runner::Engine(_) => ENGINE_FIGURES
                .iter()
                .map(|f| FigureName {
                    name: f.name.into(),
                    optional: f.optional,
                    summarised: f.summarised,
                })
                .collect(),
            Runner::Lab(batch) => batch
                .figures()
                .iter()
                .map(|f| FigureName {
                    name: f.name.into(),
                    optional: f.optional,
                    summarised: true,
                })
                .collect(),
        }
    }

    /// The settings as `grapevine sim` prints them.
    fn settings_json(&self, max_rounds: u32) -> Value {
        match self {
            Runner::Engine(s) => {
                serde_json::to_value(SettingsOut::of(s, max_rounds)).expect("settings serialize")
            }
            Runner::Lab(batch) => batch.settings_json(),
        }
    }

    fn engine(&self) -> Option<&Settings> {
        match self {
            Runner::Engine(s) => Some(s),
            Runner::Lab(_) => None,
        }
    }

    /// What theory expects of `figure` for these runs, where the core has a model.
    fn expected(&self, figure: &str) -> Option<f64> {
        match self {
            Runner::Engine(s) => theory::expected(figure, s),
            Runner::Lab(batch) => batch.expected(figure),
        }
    }
}

pub fn run(args: SweepArgs) -> Result<(), Usage> {
    if args.shard.is_some() && args.out.is_none() {
        return Err(Usage(
            "error: invalid --shard: a shard is written for grapevine merge; give --out FILE"
                .into(),
        ));
    }
    if args.shard.is_some() && args.plot.plot.is_some() {
        return Err(Usage(
            "error: invalid --plot: a shard holds part of the runs; plot with grapevine merge \
             --plot"
                .into(),
        ));
    }
    if args.shard.is_none() {
        per_run_format(args.per_run, args.format)?;
    }
    if args.shard.is_some() && !args.room.is_empty() {
        return Err(Usage(
            "error: invalid --room: a shard holds part of the runs; a room is drawn beside the \
             whole sweep"
                .into(),
        ));
    }
    let mut varies: Vec<Vary> = Vec::new();
    for spec in &args.vary {
        let vary = parse_vary(spec, &args)?;
        if varies.iter().any(|v| v.name == vary.name) {
            return Err(Usage(format!(
                "error: invalid --vary: {} is varied twice; give its values in one --vary",
                vary.name
            )));
        }
        varies.push(vary);
    }
    let points = grid(&varies)?;
    let base = sim_args(&args);
    let runners: Vec<Runner> = points
        .iter()
        .map(|point| runner(&base, point))
        .collect::<Result<_, _>>()?;
    let figures = runners[0].figures();
    if let Some(i) = runners.iter().position(|r| r.figures() != figures) {
        return Err(Usage(format!(
            "error: invalid --vary: the point {} gives other figures than {} (sweep one lab \
             protocol at a time, or push, pull and pushpull together)",
            describe(&points[i]),
            describe(&points[0])
        )));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| Usage(format!("error: invalid --threads: {e}")))?;
    if let Some(largest) = runners
        .iter()
        .filter_map(Runner::engine)
        .max_by_key(|s| s.peak_memory_bytes())
    {
        check_memory(largest, pool.current_num_threads())?;
    }

    let plan = Plan {
        settings: fixed_settings(runners[0].settings_json(args.max_rounds), &varies),
        vary: varies,
        runs: args.runs,
        per_run: args.per_run,
        figures,
    };
    if !args.room.is_empty() && runners.iter().any(|r| r.engine().is_none()) {
        return Err(Usage(
            "error: invalid --room: a room's rumors are compared with the round engine's push, \
             pull or pushpull, not a lab protocol"
                .into(),
        ));
    }
    let rooms: Vec<Room> = args
        .room
        .iter()
        .map(|file| Room::read(file, &plan))
        .collect::<Result<_, _>>()?;
    let runs = u64::from(args.runs);
    let (shard, shards) = args.shard.unwrap_or((0, 1));
    // Pair j is run j % R of point j / R; shard I plays the pairs j ≡ I (mod N).
    let pairs: Vec<u64> = (u64::from(shard)..points.len() as u64 * runs)
        .step_by(shards as usize)
        .collect();
    let progress = progress_bar(pairs.len() as u64);
    let played: Result<Vec<RunRow>, String> = pool.install(|| {
        pairs
            .par_iter()
            .map(|&j| {
                let (point, run) = ((j / runs) as usize, (j % runs) as u32);
                let row = runners[point].play(run, args.max_rounds);
                progress.inc(1);
                row
            })
            .collect()
    });
    progress.finish_and_clear();
    let played = played.map_err(|e| Usage(format!("error: {e}")))?;

    let mut out = output_to(args.out.as_deref())?;
    let written = if args.shard.is_some() {
        write_shard(&mut out, shard, shards, &plan, &pairs, &played, runs)
    } else {
        let by_point: Vec<Vec<RunRow>> = played
            .chunks(args.runs as usize)
            .map(<[RunRow]>::to_vec)
            .collect();
        let expected = |point: usize, figure: &str| runners[point].expected(figure);
        plot(&args.plot, &plan, &points, &expected, &by_point, &rooms)?;
        write_output(
            &mut out,
            &plan,
            &points,
            &by_point,
            &rooms,
            args.format,
            args.seed,
        )
    };
    report::written(written.and_then(|()| out.flush()))
}

/// `grapevine sim`'s flags as the sweep's give them (the point's values set later).
fn sim_args(args: &SweepArgs) -> SimArgs {
    SimArgs {
        scenario: args.scenario.clone(),
        rules: args.rules.clone(),
        seed: args.seed,
        runs: args.runs,
        max_rounds: args.max_rounds,
        format: Format::Json,
        per_round: false,
        threads: args.threads,
        lab: args.lab.clone(),
    }
}

/// What plays `point`'s runs: `base` with the point's values, checked as `grapevine sim`
/// checks its flags.
fn runner(base: &SimArgs, point: &Point) -> Result<Runner, Usage> {
    let mut args = base.clone();
    for (name, value) in point {
        apply(&mut args, name, value)
            .map_err(|why| Usage(format!("error: {name}={value}: {why}")))?;
    }
    let at = |Usage(why): Usage| Usage(format!("{why} (at the point {})", describe(point)));
    match args.scenario.protocol {
        ProtocolChoice::Lab(protocol) => Ok(Runner::Lab(Box::new(
            LabBatch::of(&args, protocol).map_err(at)?,
        ))),
        ProtocolChoice::Rumor(_) => {
            if let Some(flag) = lab_flag_set(&args) {
                return Err(at(Usage(format!(
                    "error: invalid {flag}: it applies to the lab's protocols only"
                ))));
            }
            let settings = args.scenario.settings(&args.rules, args.seed).map_err(at)?;
            settings.validate().map_err(|e| at(Usage::settings(e)))?;
            Ok(Runner::Engine(settings))
        }
    }
}

/// A lab flag set away from its default, which the round engine would silently ignore.
fn lab_flag_set(args: &SimArgs) -> Option<&'static str> {
    let lab = &args.lab;
    let default = SimArgs::default_values().lab;
    [
        (lab.scenario.is_some(), "--scenario"),
        (lab.interval != default.interval, "--interval"),
        (lab.lifeguard, "--lifeguard"),
        (lab.push_pull, "--push-pull"),
        (lab.latency != default.latency, "--latency"),
        (lab.spread != default.spread, "--spread"),
        (lab.jitter != default.jitter, "--jitter"),
        (lab.mode != default.mode, "--mode"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
}

pub fn merge(args: MergeArgs) -> Result<(), Usage> {
    let mut shards: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut plan: Option<(Plan, u32, PathBuf)> = None;
    let mut rows: Vec<(PathBuf, ShardRow)> = Vec::new();
    for file in &args.files {
        let (header, these) = read_shard(file)?;
        match &plan {
            None => plan = Some((header.plan, header.shards, file.clone())),
            Some((p, n, first)) => {
                if *p != header.plan || *n != header.shards {
                    return Err(Usage(format!(
                        "error: {} is a shard of another sweep than {} (its settings, --vary, \
                         --runs, --per-run or shard count differ)",
                        file.display(),
                        first.display()
                    )));
                }
            }
        }
        if let Some(other) = shards.insert(header.grapevine_sweep_shard, file.clone()) {
            return Err(Usage(format!(
                "error: shard {}/{} given twice: {} and {}",
                header.grapevine_sweep_shard,
                header.shards,
                other.display(),
                file.display()
            )));
        }
        rows.extend(these.into_iter().map(|r| (file.clone(), r)));
    }
    let (plan, n, _) = plan.expect("clap asks for at least one file");
    per_run_format(plan.per_run, args.format)?;
    let missing: Vec<String> = (0..n)
        .filter(|i| !shards.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(Usage(format!(
            "error: shard {} missing (given: {})",
            missing.join(", "),
            shards
                .keys()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let points = grid(&plan.vary)?;
    let runs = plan.runs as usize;
    let mut by_point: Vec<Vec<Option<RunRow>>> = vec![vec![None; runs]; points.len()];
    for (file, ShardRow { point, row }) in rows {
        let run = row.run;
        let wrong = |why: &str| {
            Usage(format!(
                "error: {}: point {point} run {run} {why}",
                file.display()
            ))
        };
        if row.values.len() != plan.figures.len() {
            return Err(wrong("has another number of figures than the sweep"));
        }
        let slot = by_point
            .get_mut(point)
            .and_then(|p| p.get_mut(run as usize))
            .ok_or_else(|| wrong("is outside the sweep"))?;
        if slot.replace(row).is_some() {
            return Err(wrong("is given twice"));
        }
    }
    let by_point: Vec<Vec<RunRow>> = by_point
        .into_iter()
        .enumerate()
        .map(|(p, runs)| {
            runs.into_iter()
                .enumerate()
                .map(|(i, row)| {
                    row.ok_or_else(|| {
                        Usage(format!(
                            "error: point {p} run {i} is in no shard (a shard's file was cut \
                             short?)"
                        ))
                    })
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let seed = master_seed(&plan);
    if args.plot.plot.is_some() {
        // Each point's runner, rebuilt from the flags, for theory (none where it cannot be:
        // a scenario file no longer there).
        let base = flags_of(&plan.settings)?;
        let runners: Vec<Option<Runner>> = points
            .iter()
            .map(|point| runner(&base, point).ok())
            .collect();
        let expected = |point: usize, figure: &str| runners[point].as_ref()?.expected(figure);
        plot(&args.plot, &plan, &points, &expected, &by_point, &[])?;
    }
    let mut out = output_to(args.out.as_deref())?;
    let written = write_output(&mut out, &plan, &points, &by_point, &[], args.format, seed);
    report::written(written.and_then(|()| out.flush()))
}

/// `--per-run` adds runs to JSON and CSV; a table would silently leave them out.
fn per_run_format(per_run: bool, format: Format) -> Result<(), Usage> {
    if per_run && format == Format::Table {
        return Err(Usage(
            "error: invalid --format: --per-run gives every run in JSON or CSV; give --format \
             json or csv"
                .into(),
        ));
    }
    Ok(())
}

/// The sweep's master seed, as its plan states it.
fn master_seed(plan: &Plan) -> u64 {
    plan.settings
        .get("seed")
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// Parses one `--vary` and checks each value as the flag of that name would.
fn parse_vary(spec: &str, args: &SweepArgs) -> Result<Vary, Usage> {
    let bad = |why: String| Usage(format!("error: invalid --vary {spec}: {why}"));
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=V1,V2,... or NAME=A..B or NAME=A..B*F".into()))?;
    let name = name.trim();
    if !NAMES.contains(&name) {
        return Err(bad(format!(
            "unknown setting {name:?}; expected one of {}",
            NAMES.join(", ")
        )));
    }
    let values = sweep::values(values).map_err(bad)?;
    let base = sim_args(args);
    for v in &values {
        apply(&mut base.clone(), name, v).map_err(|why| bad(format!("{v}: {why}")))?;
    }
    Ok(Vary {
        name: name.to_string(),
        values,
    })
}

/// Sets `name` to `value` as its flag would.
fn apply(args: &mut SimArgs, name: &str, value: &str) -> Result<(), String> {
    let int = |min: u64, max: u64| -> Result<u64, String> {
        match value.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("expected a whole number from {min} to {max}")),
        }
    };
    let switch = || match value {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err("expected on or off".to_string()),
    };
    let (scenario, rules, lab) = (&mut args.scenario, &mut args.rules, &mut args.lab);
    match name {
        "nodes" => scenario.nodes = int(2, u64::from(MAX_NODES))? as u32,
        "protocol" => scenario.protocol = parse_protocol(value)?,
        "fanout" => scenario.fanout = int(1, u64::from(MAX_FANOUT))? as u8,
        "loss" => scenario.loss = parse_loss(value)?,
        "stop" => rules.stop = parse_stop(value)?,
        "k" => rules.k = int(1, u64::from(u8::MAX))? as u8,
        "feedback" => rules.feedback = parse_feedback(value)?,
        "topology" => rules.topology = parse_topology(value)?,
        "crashed" => rules.crashed = parse_crashed(value)?,
        "interval" => lab.interval = int(10, 60_000)? as u32,
        "lifeguard" => lab.lifeguard = switch()?,
        "push-pull" => lab.push_pull = switch()?,
        "latency" => lab.latency = int(0, 60_000)? as u32,
        "spread" => lab.spread = int(0, 60_000)? as u32,
        "jitter" => lab.jitter = int(0, 60_000)? as u32,
        "mode" => lab.mode = crate::args::parse_mode(value)?,
        "scenario" => lab.scenario = Some(value.to_string()),
        _ => unreachable!("names are checked"),
    }
    Ok(())
}

/// One point of the grid: a value for each varied setting, in `--vary`'s order.
type Point = Vec<(String, String)>;

/// Every point of the grid, the first `--vary` outermost ([`sweep::grid`]).
fn grid(varies: &[Vary]) -> Result<Vec<Point>, Usage> {
    let lengths: Vec<usize> = varies.iter().map(|v| v.values.len()).collect();
    let points = sweep::grid(&lengths).ok_or_else(|| {
        Usage(format!(
            "error: invalid --vary: more than {MAX_POINTS} points"
        ))
    })?;
    Ok(points
        .iter()
        .map(|at| {
            varies
                .iter()
                .zip(at)
                .map(|(v, &i)| (v.name.clone(), v.values[i].clone()))
                .collect()
        })
        .collect())
}

/// The flags a plan's fixed settings were given with (a merge rebuilds each point's settings
/// from them, for the plot's theory). The output's names (`interval_ms`) map back to the
/// flags' (`interval`).
fn flags_of(settings: &BTreeMap<String, Value>) -> Result<SimArgs, Usage> {
    let mut args = SimArgs::default_values();
    for (key, value) in settings {
        let name = output_name_to_flag(key);
        if !NAMES.contains(&name) {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        };
        // The lab's settings print the scenario's name, "(none)" for none.
        if name == "scenario" && text == "(none)" {
            continue;
        }
        apply(&mut args, name, &text)
            .map_err(|why| Usage(format!("error: the shards' {key} {text}: {why}")))?;
    }
    args.seed = settings.get("seed").and_then(Value::as_u64).unwrap_or(1);
    Ok(args)
}

/// A setting's name in `grapevine sim`'s output, as its flag's.
fn output_name_to_flag(key: &str) -> &str {
    match key {
        "interval_ms" => "interval",
        "latency_ms" => "latency",
        "spread_ms" => "spread",
        "jitter_ms" => "jitter",
        "push_pull" => "push-pull",
        other => other,
    }
}

/// Draws the plot `args` asks for, if any.
fn plot(
    args: &PlotArgs,
    plan: &Plan,
    points: &[Point],
    expected: &dyn Fn(usize, &str) -> Option<f64>,
    by_point: &[Vec<RunRow>],
    rooms: &[Room],
) -> Result<(), Usage> {
    let Some(path) = &args.plot else {
        return Ok(());
    };
    if plan.vary.len() > 2 {
        return Err(Usage(
            "error: invalid --plot: it draws one or two --vary (x-axis, then series)".into(),
        ));
    }
    let summarised: Vec<&FigureName> = plan.figures.iter().filter(|f| f.summarised).collect();
    let figure = match &args.figure {
        None if summarised.iter().any(|f| f.name == "rounds_to_full") => "rounds_to_full",
        None => summarised[0].name.as_str(),
        Some(f) => f.as_str(),
    };
    let Some(column) = plan
        .figures
        .iter()
        .position(|f| f.summarised && f.name == figure)
    else {
        return Err(Usage(format!(
            "error: invalid --figure: {figure} is not among this sweep's figures ({})",
            summarised
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let x = &plan.vary[0];
    let (xs, numeric) = sweep::positions(&x.values);
    let summaries: Vec<Option<(Summary, u32)>> = by_point
        .iter()
        .map(|runs| summarise(runs, column))
        .collect();
    let marks: Vec<crate::plot::Mark> = points
        .iter()
        .enumerate()
        .zip(&summaries)
        .map(|((i, point), &summary)| crate::plot::Mark {
            x: xs[x
                .values
                .iter()
                .position(|v| *v == point[0].1)
                .expect("a value")],
            series: point.get(1).map_or("", |(_, v)| v.as_str()),
            theory: expected(i, figure),
            summary,
        })
        .collect();
    if !rooms.is_empty() && !MEASURED_FIGURES.contains(&figure) {
        return Err(Usage(format!(
            "error: invalid --figure: a room measures {}, not {figure}",
            MEASURED_FIGURES.join(", ")
        )));
    }
    let room_marks: Vec<crate::plot::RoomMark> = rooms
        .iter()
        .map(|room| crate::plot::RoomMark {
            x: room.x,
            label: &room.name,
            summary: room.run.summary(figure),
        })
        .collect();
    crate::plot::draw(
        path,
        figure,
        &x.name,
        (!numeric).then_some(&x.values[..]),
        plan.vary.get(1).map(|v| v.name.as_str()),
        &marks,
        &room_marks,
    )
    .map_err(|why| Usage(format!("error: invalid --plot: {why}")))
}

/// A recorded room beside a sweep (`--room`): its rumors, where it sits on the x-axis, and
/// its settings as the sweep names them.
struct Room {
    /// The file's name, as the table and the plot's legend give it.
    name: String,
    run: RoomRun,
    /// Its settings that the sweep varies, by name (nodes: its members).
    point: Point,
    /// Its place on the plot's x-axis.
    x: f64,
}

impl Room {
    /// Reads `file`, a room's record, and places it on `plan`'s axes: every varied setting
    /// must be one a room has (nodes, fanout, loss, protocol: a room pushes).
    fn read(file: &Path, plan: &Plan) -> Result<Room, Usage> {
        let bad = |why: String| Usage(format!("error: invalid --room {}: {why}", file.display()));
        let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
        let run = RoomRun::read(&text, |line| {
            serde_json::from_str::<RecordLine>(line).map_err(|e| e.to_string())
        })
        .map_err(bad)?;
        let vary = plan.vary.iter().map(|v| (v.name.as_str(), &v.values[..]));
        let (point, x) = run.place(vary).map_err(bad)?;
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        Ok(Room {
            name,
            run,
            point,
            x,
        })
    }
}

/// A room as the JSON output gives it: its file, settings, rumors and measured figures.
struct RoomReport<'a>(&'a Room);

impl Serialize for RoomReport<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Room {
            name, run, point, ..
        } = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("file", name)?;
        map.serialize_entry("point", &PointOut(point))?;
        map.serialize_entry("members", &run.members)?;
        map.serialize_entry("fanout", &run.fanout)?;
        map.serialize_entry("interval_ms", &run.interval_ms)?;
        map.serialize_entry("loss", &run.loss)?;
        map.serialize_entry("rumors", &run.rumors.len())?;
        for figure in MEASURED_FIGURES {
            let summary = run.summary(figure);
            let out = FigureOut {
                completed: (figure == "rounds_to_full").then_some(summary.map_or(0, |(_, n)| n)),
                summary: summary.map(|(s, _)| s.into()),
                ci95: summary.map(|(s, n)| s.ci95(n)),
            };
            map.serialize_entry(figure, &out)?;
        }
        map.end()
    }
}

/// Figure `column`'s distribution over `runs` (those that have it) and how many have it.
fn summarise(runs: &[RunRow], column: usize) -> Option<(Summary, u32)> {
    Summary::of_present(runs.iter().map(|r| r.values[column]))
}

/// `fanout=2, protocol=pull`.
fn describe(point: &Point) -> String {
    point
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings as `grapevine sim` prints them, without those varied.
fn fixed_settings(settings: Value, varies: &[Vary]) -> BTreeMap<String, Value> {
    let Value::Object(map) = settings else {
        unreachable!("settings serialize as an object")
    };
    map.into_iter()
        .filter(|(k, _)| !varies.iter().any(|v| v.name == output_name_to_flag(k)))
        .collect()
}

/// A value as JSON: a number when it is one (nodes=1000 → 1000), else text (protocol=pull).
fn json_value(v: &str) -> Value {
    if let Ok(i) = v.parse::<u64>() {
        return Value::from(i);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Value::from(x),
        _ => Value::from(v),
    }
}

/// A figure's value as JSON: whole numbers as such (rounds), others as they are.
fn json_figure(v: Option<f64>) -> Value {
    match v {
        None => Value::Null,
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
        Some(x) => Value::from(x),
    }
}

/// A point as a JSON object, its settings in `--vary`'s order.
struct PointOut<'a>(&'a Point);

impl Serialize for PointOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &json_value(value))?;
        }
        map.end()
    }
}

/// A point's report: its settings, runs, each summarised figure, and its runs if asked.
struct PointReport<'a> {
    point: &'a Point,
    plan: &'a Plan,
    runs: &'a [RunRow],
}

/// A figure's distribution over a point's runs, with the 95 % interval of its mean.
#[derive(Serialize)]
struct FigureOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<u32>,
    #[serde(flatten)]
    summary: Option<SummaryOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ci95: Option<[f64; 2]>,
}

impl Serialize for PointReport<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("point", &PointOut(self.point))?;
        map.serialize_entry("runs", &self.runs.len())?;
        for (column, f) in self.plan.figures.iter().enumerate() {
            if !f.summarised {
                continue;
            }
            let summary = summarise(self.runs, column);
            let out = FigureOut {
                completed: f.optional.then_some(summary.map_or(0, |(_, n)| n)),
                summary: summary.map(|(s, _)| s.into()),
                ci95: summary.map(|(s, n)| s.ci95(n)),
            };
            map.serialize_entry(&f.name, &out)?;
        }
        if self.plan.per_run {
            let rows: Vec<RunOut> = self
                .runs
                .iter()
                .map(|row| RunOut {
                    row,
                    figures: &self.plan.figures,
                })
                .collect();
            map.serialize_entry("per_run", &rows)?;
        }
        map.end()
    }
}

/// One run as `--per-run` gives it: its index, seed and every figure by name.
struct RunOut<'a> {
    row: &'a RunRow,
    figures: &'a [FigureName],
}

impl Serialize for RunOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.figures.len() + 2))?;
        map.serialize_entry("run", &self.row.run)?;
        map.serialize_entry("seed", &self.row.seed)?;
        for (f, &v) in self.figures.iter().zip(&self.row.values) {
            map.serialize_entry(&f.name, &json_figure(v))?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct SweepReport<'a> {
    settings: &'a BTreeMap<String, Value>,
    vary: Vec<VaryOut<'a>>,
    runs: u32,
    points: Vec<PointReport<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rooms: Vec<RoomReport<'a>>,
}

#[derive(Serialize)]
struct VaryOut<'a> {
    name: &'a str,
    values: Vec<Value>,
}

/// A point's summarised figures as rows: name, runs over, distribution.
fn rows<'a>(plan: &'a Plan, runs: &[RunRow]) -> Vec<Row<'a>> {
    plan.figures
        .iter()
        .enumerate()
        .filter(|(_, f)| f.summarised)
        .map(|(column, f)| match summarise(runs, column) {
            Some((s, n)) => (f.name.as_str(), n, Some(s)),
            None => (f.name.as_str(), 0, None),
        })
        .collect()
}

/// The sweep's output, from every point's runs (in run order).
fn write_output(
    out: &mut impl Write,
    plan: &Plan,
    points: &[Point],
    by_point: &[Vec<RunRow>],
    rooms: &[Room],
    format: Format,
    seed: u64,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let report = SweepReport {
                settings: &plan.settings,
                vary: plan
                    .vary
                    .iter()
                    .map(|v| VaryOut {
                        name: &v.name,
                        values: v.values.iter().map(|x| json_value(x)).collect(),
                    })
                    .collect(),
                runs: plan.runs,
                points: points
                    .iter()
                    .zip(by_point)
                    .map(|(point, runs)| PointReport { point, plan, runs })
                    .collect(),
                rooms: rooms.iter().map(RoomReport).collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        Format::Csv => {
            let names: Vec<&str> = plan.vary.iter().map(|v| v.name.as_str()).collect();
            if plan.per_run {
                let figures: Vec<&str> = plan.figures.iter().map(|f| f.name.as_str()).collect();
                writeln!(out, "{},run,seed,{}", names.join(","), figures.join(","))?;
                for (point, runs) in points.iter().zip(by_point) {
                    let at = csv_point(point);
                    for row in runs {
                        let values: Vec<String> = row
                            .values
                            .iter()
                            .map(|v| v.map_or(String::new(), |x| x.to_string()))
                            .collect();
                        writeln!(out, "{at},{},{},{}", row.run, row.seed, values.join(","))?;
                    }
                }
                return Ok(());
            }
            writeln!(out, "{},{CSV_SUMMARY_HEADER}", names.join(","))?;
            for (point, runs) in points.iter().zip(by_point) {
                let at = csv_point(point);
                for (column, f) in plan.figures.iter().enumerate() {
                    if f.summarised {
                        let row = csv_summary_row(&at, &f.name, summarise(runs, column));
                        writeln!(out, "{row}")?;
                    }
                }
            }
            Ok(())
        }
        Format::Table => {
            let fixed: Vec<String> = plan
                .settings
                .iter()
                .filter(|(k, _)| k.as_str() != "seed")
                .map(|(k, v)| format!("{k} {}", v.to_string().trim_matches('"')))
                .collect();
            let varied: Vec<&str> = plan.vary.iter().map(|v| v.name.as_str()).collect();
            writeln!(out, "sweep over {}", varied.join(" × "))?;
            writeln!(out, "with {}", fixed.join(", "))?;
            writeln!(
                out,
                "seed {seed}, {} runs per point; run i of every point has the same seed \
                 (common random numbers)",
                plan.runs
            )?;
            let width = plan
                .figures
                .iter()
                .map(|f| f.name.len())
                .max()
                .unwrap_or(0)
                .max(18);
            for (point, runs) in points.iter().zip(by_point) {
                writeln!(out)?;
                writeln!(out, "{}", describe(point))?;
                write_table_rows(out, width, &rows(plan, runs))?;
            }
            for room in rooms {
                let run = &room.run;
                writeln!(out)?;
                writeln!(
                    out,
                    "room {} (recorded: {} members, fanout {}, loss {}, interval {} ms; {} \
                     rumor{}; times in intervals)",
                    room.name,
                    run.members,
                    run.fanout,
                    run.loss,
                    run.interval_ms,
                    run.rumors.len(),
                    if run.rumors.len() == 1 { "" } else { "s" }
                )?;
                let measured: Vec<Row> = MEASURED_FIGURES
                    .iter()
                    .map(|&f| match run.summary(f) {
                        Some((s, n)) => (f, n, Some(s)),
                        None => (f, 0, None),
                    })
                    .collect();
                write_table_rows(out, width, &measured)?;
            }
            Ok(())
        }
    }
}

/// A point's values as CSV fields.
fn csv_point(point: &Point) -> String {
    sweep::csv_point(point.iter().map(|(_, v)| v.as_str()))
}

/// A shard's file: its header, then one line per pair it played.
fn write_shard(
    out: &mut impl Write,
    shard: u32,
    shards: u32,
    plan: &Plan,
    pairs: &[u64],
    played: &[RunRow],
    runs: u64,
) -> std::io::Result<()> {
    let header = ShardHeader {
        grapevine_sweep_shard: shard,
        shards,
        plan: plan.clone(),
    };
    serde_json::to_writer(&mut *out, &header).map_err(std::io::Error::other)?;
    writeln!(out)?;
    for (&j, row) in pairs.iter().zip(played) {
        let row = ShardRow {
            point: (j / runs) as usize,
            row: row.clone(),
        };
        serde_json::to_writer(&mut *out, &row).map_err(std::io::Error::other)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Reads a shard's file: its header and rows, each checked.
fn read_shard(file: &Path) -> Result<(ShardHeader, Vec<ShardRow>), Usage> {
    let at = |line: usize, why: String| Usage(format!("error: {}:{line}: {why}", file.display()));
    let f = std::fs::File::open(file)
        .map_err(|e| Usage(format!("error: reading {}: {e}", file.display())))?;
    let mut lines = std::io::BufReader::new(f).lines();
    let first = lines
        .next()
        .ok_or_else(|| at(1, "empty: not a shard of grapevine sweep".into()))?
        .map_err(|e| at(1, e.to_string()))?;
    let header: ShardHeader = serde_json::from_str(&first)
        .map_err(|e| at(1, format!("not a shard of grapevine sweep ({e})")))?;
    if header.shards == 0 || header.grapevine_sweep_shard >= header.shards {
        return Err(at(1, "its shard number is not below its count".into()));
    }
    let seed = master_seed(&header.plan);
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| at(i + 2, e.to_string()))?;
        let row: ShardRow = serde_json::from_str(&line)
            .map_err(|e| at(i + 2, format!("not a run's line ({e})")))?;
        if row.row.seed != run_seed(seed, row.row.run) {
            return Err(at(i + 2, "its seed is not its run's".into()));
        }
        rows.push(row);
    }
    Ok((header, rows))
}

/// Standard output, or `file` (created, or emptied).
fn output_to(file: Option<&Path>) -> Result<Box<dyn Write>, Usage> {
    Ok(match file {
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Usage(format!("error: invalid --out {}: {e}", path.display())))?,
        )),
    })
}

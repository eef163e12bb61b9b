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
    MergeArgs, PlotArgs, ProtocolChoice, RuleArgs, ScenarioArgs, SweepArgs,
};
use crate::report::{write_table_rows, Format, Row};
use crate::sim::{SettingsOut, SummaryOut};
use crate::usage::{check_memory, Usage};
use grapevine_core::engine::MAX_NODES;
use grapevine_core::experiment::{play_run, run_seed, BatchSummary, RunFigures, Summary};
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::Settings;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The settings a sweep can vary: the round engine's.
const NAMES: [&str; 9] = [
    "nodes", "protocol", "fanout", "loss", "stop", "k", "feedback", "topology", "crashed",
];

/// The lab's settings, which `grapevine sim` takes and a sweep does not yet.
const LAB_NAMES: [&str; 8] = [
    "interval",
    "lifeguard",
    "push-pull",
    "latency",
    "spread",
    "jitter",
    "mode",
    "scenario",
];

/// Points in a grid at most: a sweep is a table a person reads, or a plot.
const MAX_POINTS: usize = 100_000;

/// One `--vary`: a setting and its values, as given (each checked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vary {
    pub name: String,
    pub values: Vec<String>,
}

/// What a sweep is, as its output and its shards state it: the settings not varied, what is
/// varied, the runs per point. Shards of one sweep carry equal plans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Plan {
    /// `grapevine sim`'s settings, those varied left out.
    settings: BTreeMap<String, Value>,
    vary: Vec<Vary>,
    runs: u32,
    per_run: bool,
}

/// The first line of a shard's file.
#[derive(Serialize, Deserialize)]
struct ShardHeader {
    grapevine_sweep_shard: u32,
    shards: u32,
    plan: Plan,
}

/// One run's figures, as a shard's line and a point's `per_run` give them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct RunOut {
    run: u32,
    seed: u64,
    rounds: u32,
    rounds_to_full: Option<u32>,
    residue: f64,
    messages_per_node: f64,
    t_ave: f64,
    t_last: u32,
    redundant_share: f64,
}

impl From<RunFigures> for RunOut {
    fn from(f: RunFigures) -> Self {
        RunOut {
            run: f.run,
            seed: f.seed,
            rounds: f.rounds,
            rounds_to_full: f.rounds_to_full,
            residue: f.residue,
            messages_per_node: f.messages_per_node,
            t_ave: f.t_ave,
            t_last: f.t_last,
            redundant_share: f.redundant_share,
        }
    }
}

impl From<RunOut> for RunFigures {
    fn from(r: RunOut) -> Self {
        RunFigures {
            run: r.run,
            seed: r.seed,
            rounds: r.rounds,
            rounds_to_full: r.rounds_to_full,
            residue: r.residue,
            messages_per_node: r.messages_per_node,
            t_ave: r.t_ave,
            t_last: r.t_last,
            redundant_share: r.redundant_share,
        }
    }
}

/// A shard's line after the header: which point, which run, its figures.
#[derive(Serialize, Deserialize)]
struct ShardRow {
    point: usize,
    #[serde(flatten)]
    figures: RunOut,
}

pub fn run(args: SweepArgs) -> Result<(), Usage> {
    let mut varies: Vec<Vary> = Vec::new();
    for spec in &args.vary {
        let vary = parse_vary(spec, &args.scenario, &args.rules)?;
        if varies.iter().any(|v| v.name == vary.name) {
            return Err(Usage(format!(
                "error: invalid --vary: {} is varied twice; give its values in one --vary",
                vary.name
            )));
        }
        varies.push(vary);
    }
    let points = grid(&varies)?;
    let settings: Vec<Settings> = points
        .iter()
        .map(|point| point_settings(&args.scenario, &args.rules, args.seed, point))
        .collect::<Result<_, _>>()?;
    if args.shard.is_some() && args.out.is_none() {
        return Err(Usage(
            "error: invalid --shard: a shard is written for grapevine merge; give --out FILE"
                .into(),
        ));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| Usage(format!("error: invalid --threads: {e}")))?;
    let largest = settings
        .iter()
        .max_by_key(|s| s.peak_memory_bytes())
        .expect("a grid has a point");
    check_memory(largest, pool.current_num_threads())?;

    let plan = Plan {
        settings: base_settings(&settings[0], args.max_rounds, &varies),
        vary: varies,
        runs: args.runs,
        per_run: args.per_run,
    };
    let runs = u64::from(args.runs);
    let (shard, shards) = args.shard.unwrap_or((0, 1));
    // Pair j is run j % R of point j / R; shard I plays the pairs j ≡ I (mod N).
    let pairs: Vec<u64> = (u64::from(shard)..points.len() as u64 * runs)
        .step_by(shards as usize)
        .collect();
    let progress = progress_bar(pairs.len() as u64);
    let played: Vec<RunFigures> = pool.install(|| {
        pairs
            .par_iter()
            .map(|&j| {
                let (point, run) = ((j / runs) as usize, (j % runs) as u32);
                let run = play_run(settings[point], run, args.max_rounds)
                    .expect("settings were validated");
                progress.inc(1);
                run.figures
            })
            .collect()
    });
    progress.finish_and_clear();

    let mut out = output_to(args.out.as_deref())?;
    let written = if args.shard.is_some() {
        write_shard(&mut out, shard, shards, &plan, &pairs, &played, runs)
    } else {
        let by_point: Vec<Vec<RunFigures>> = played
            .chunks(args.runs as usize)
            .map(<[RunFigures]>::to_vec)
            .collect();
        plot(&args.plot, &plan, &points, &settings, &by_point)?;
        write_output(&mut out, &plan, &points, &by_point, args.format, args.seed)
    };
    finish(written.and_then(|()| out.flush()))
}

pub fn merge(args: MergeArgs) -> Result<(), Usage> {
    // Shard index → (file, rows).
    let mut shards: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut plan: Option<(Plan, u32, PathBuf)> = None;
    let mut rows: Vec<(PathBuf, ShardRow)> = Vec::new();
    for file in &args.files {
        let (header, mut these) = read_shard(file)?;
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
        rows.extend(these.drain(..).map(|r| (file.clone(), r)));
    }
    let (plan, n, _) = plan.expect("clap asks for at least one file");
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
    let mut by_point: Vec<Vec<Option<RunFigures>>> = vec![vec![None; runs]; points.len()];
    for (file, row) in rows {
        let slot = by_point
            .get_mut(row.point)
            .and_then(|p| p.get_mut(row.figures.run as usize))
            .ok_or_else(|| {
                Usage(format!(
                    "error: {}: point {} run {} is outside the sweep",
                    file.display(),
                    row.point,
                    row.figures.run
                ))
            })?;
        if slot.replace(row.figures.into()).is_some() {
            return Err(Usage(format!(
                "error: {}: point {} run {} is given twice",
                file.display(),
                row.point,
                row.figures.run
            )));
        }
    }
    let by_point: Vec<Vec<RunFigures>> = by_point
        .into_iter()
        .enumerate()
        .map(|(p, runs)| {
            runs.into_iter()
                .enumerate()
                .map(|(i, f)| {
                    f.ok_or_else(|| {
                        Usage(format!(
                            "error: point {p} run {i} is in no shard (a shard's file was cut \
                             short?)"
                        ))
                    })
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let seed = plan
        .settings
        .get("seed")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    if args.plot.plot.is_some() {
        let (scenario, rules) = flags_of(&plan.settings)?;
        let settings: Vec<Settings> = points
            .iter()
            .map(|point| point_settings(&scenario, &rules, seed, point))
            .collect::<Result<_, _>>()?;
        plot(&args.plot, &plan, &points, &settings, &by_point)?;
    }
    let mut out = output_to(args.out.as_deref())?;
    let written = write_output(&mut out, &plan, &points, &by_point, args.format, seed);
    finish(written.and_then(|()| out.flush()))
}

/// Parses one `--vary` and checks each value as the flag of that name would.
fn parse_vary(spec: &str, scenario: &ScenarioArgs, rules: &RuleArgs) -> Result<Vary, Usage> {
    let bad = |why: String| Usage(format!("error: invalid --vary {spec}: {why}"));
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=V1,V2,... or NAME=A..B or NAME=A..B*F".into()))?;
    let name = name.trim();
    if LAB_NAMES.contains(&name) {
        return Err(bad(format!(
            "the lab's settings are not swept yet; vary one of {}",
            NAMES.join(", ")
        )));
    }
    if !NAMES.contains(&name) {
        return Err(bad(format!(
            "unknown setting {name:?}; expected one of {}",
            NAMES.join(", ")
        )));
    }
    let values = match values.split_once("..") {
        Some((from, to)) => range(from, to).map_err(bad)?,
        None => values.split(',').map(|v| v.trim().to_string()).collect(),
    };
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            return Err(bad("an empty value".into()));
        }
        if values[..i].contains(v) {
            return Err(bad(format!("{v} is given twice")));
        }
        let (mut s, mut r) = (scenario.clone(), rules.clone());
        apply(&mut s, &mut r, name, v).map_err(|why| bad(format!("{v}: {why}")))?;
    }
    Ok(Vary {
        name: name.to_string(),
        values,
    })
}

/// `A..B` (every integer) or `A..B*F` (A, then each times F, rounded, up to B).
fn range(from: &str, to: &str) -> Result<Vec<String>, String> {
    let (to, factor) = match to.split_once('*') {
        Some((to, f)) => {
            let f: f64 = f
                .trim()
                .parse()
                .map_err(|_| format!("the factor {f:?} is not a number"))?;
            if !(f > 1.0 && f.is_finite()) {
                return Err("the factor must be more than 1".into());
            }
            (to, Some(f))
        }
        None => (to, None),
    };
    let int = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("a range takes whole numbers, not {s:?}"))
    };
    let (a, b) = (int(from)?, int(to)?);
    if a > b {
        return Err(format!("{a} is more than {b}"));
    }
    let mut values = vec![a];
    while let Some(&last) = values.last() {
        let next = match factor {
            None => last + 1,
            Some(f) => ((last as f64 * f).round() as u64).max(last + 1),
        };
        if next > b {
            break;
        }
        if values.len() >= MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} values"));
        }
        values.push(next);
    }
    Ok(values.iter().map(u64::to_string).collect())
}

/// Sets `name` to `value` as its flag would.
fn apply(
    scenario: &mut ScenarioArgs,
    rules: &mut RuleArgs,
    name: &str,
    value: &str,
) -> Result<(), String> {
    let int = |max: u64, min: u64| -> Result<u64, String> {
        match value.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("expected a whole number from {min} to {max}")),
        }
    };
    match name {
        "nodes" => scenario.nodes = int(u64::from(MAX_NODES), 2)? as u32,
        "protocol" => match parse_protocol(value)? {
            p @ ProtocolChoice::Rumor(_) => scenario.protocol = p,
            ProtocolChoice::Lab(_) => {
                return Err(
                    "the lab's protocols are not swept yet; vary push, pull or pushpull".into(),
                )
            }
        },
        "fanout" => scenario.fanout = int(u64::from(MAX_FANOUT), 1)? as u8,
        "loss" => scenario.loss = parse_loss(value)?,
        "stop" => rules.stop = parse_stop(value)?,
        "k" => rules.k = int(u64::from(u8::MAX), 1)? as u8,
        "feedback" => rules.feedback = parse_feedback(value)?,
        "topology" => rules.topology = parse_topology(value)?,
        "crashed" => rules.crashed = parse_crashed(value)?,
        _ => unreachable!("names are checked"),
    }
    Ok(())
}

/// One point of the grid: a value for each varied setting, in `--vary`'s order.
type Point = Vec<(String, String)>;

/// Every point of the grid, the first `--vary` outermost.
fn grid(varies: &[Vary]) -> Result<Vec<Point>, Usage> {
    let size = varies
        .iter()
        .try_fold(1usize, |n, v| n.checked_mul(v.values.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| {
            Usage(format!(
                "error: invalid --vary: more than {MAX_POINTS} points"
            ))
        })?;
    let mut points: Vec<Point> = vec![Vec::new()];
    for v in varies {
        points = points
            .into_iter()
            .flat_map(|p| {
                v.values.iter().map(move |value| {
                    let mut p = p.clone();
                    p.push((v.name.clone(), value.clone()));
                    p
                })
            })
            .collect();
    }
    debug_assert_eq!(points.len(), size);
    Ok(points)
}

/// The round engine's settings at `point`, checked.
fn point_settings(
    scenario: &ScenarioArgs,
    rules: &RuleArgs,
    seed: u64,
    point: &Point,
) -> Result<Settings, Usage> {
    let (mut scenario, mut rules) = (scenario.clone(), rules.clone());
    for (name, value) in point {
        apply(&mut scenario, &mut rules, name, value)
            .map_err(|why| Usage(format!("error: {name}={value}: {why}")))?;
    }
    let settings = scenario.settings(&rules, seed)?;
    settings.validate().map_err(|e| {
        let Usage(why) = Usage::settings(e);
        Usage(format!("{why} (at the point {})", describe(point)))
    })?;
    Ok(settings)
}

/// The flags a plan's fixed settings were given with (a merge rebuilds each point's settings
/// from them, for the plot's theory).
fn flags_of(settings: &BTreeMap<String, Value>) -> Result<(ScenarioArgs, RuleArgs), Usage> {
    let mut scenario = ScenarioArgs {
        nodes: 1000,
        protocol: ProtocolChoice::Rumor(grapevine_core::Protocol::Push),
        fanout: 1,
        loss: 0.0,
    };
    let mut rules = RuleArgs {
        stop: grapevine_core::StopRule::Never,
        k: 2,
        feedback: grapevine_core::Feedback::RoundStart,
        topology: grapevine_core::Topology::Complete,
        crashed: 0.0,
    };
    for name in NAMES {
        if let Some(value) = settings.get(name) {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            apply(&mut scenario, &mut rules, name, &text)
                .map_err(|why| Usage(format!("error: the shards' {name} {text}: {why}")))?;
        }
    }
    Ok((scenario, rules))
}

/// Draws the plot `args` asks for, if any.
fn plot(
    args: &PlotArgs,
    plan: &Plan,
    points: &[Point],
    settings: &[Settings],
    by_point: &[Vec<RunFigures>],
) -> Result<(), Usage> {
    let Some(path) = &args.plot else {
        return Ok(());
    };
    if plan.vary.len() > 2 {
        return Err(Usage(
            "error: invalid --plot: it draws one or two --vary (x-axis, then series)".into(),
        ));
    }
    let x = &plan.vary[0];
    let numeric = x.values.iter().all(|v| v.parse::<f64>().is_ok());
    let summaries: Vec<BatchSummary> = by_point
        .iter()
        .map(|runs| BatchSummary::of(runs).expect("a point has runs"))
        .collect();
    let marks: Vec<crate::plot::Mark> = points
        .iter()
        .zip(settings)
        .zip(&summaries)
        .map(|((point, settings), summary)| crate::plot::Mark {
            x: if numeric {
                point[0].1.parse().expect("numeric")
            } else {
                x.values
                    .iter()
                    .position(|v| *v == point[0].1)
                    .expect("a value") as f64
            },
            series: point.get(1).map_or("", |(_, v)| v.as_str()),
            settings,
            summary,
        })
        .collect();
    crate::plot::draw(
        path,
        &args.figure,
        &x.name,
        (!numeric).then_some(&x.values[..]),
        plan.vary.get(1).map(|v| v.name.as_str()),
        &marks,
    )
    .map_err(|why| Usage(format!("error: invalid --plot: {why}")))
}

/// `fanout=2, protocol=pull`.
fn describe(point: &Point) -> String {
    point
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `grapevine sim`'s settings, without those varied.
fn base_settings(settings: &Settings, max_rounds: u32, varies: &[Vary]) -> BTreeMap<String, Value> {
    let Ok(Value::Object(map)) = serde_json::to_value(SettingsOut::of(settings, max_rounds)) else {
        unreachable!("settings serialize as an object")
    };
    map.into_iter()
        .filter(|(k, _)| !varies.iter().any(|v| v.name == *k))
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

/// A figure's distribution over a point's runs, with the 95 % interval of its mean.
#[derive(Serialize)]
struct FigureOut {
    #[serde(flatten)]
    summary: SummaryOut,
    ci95: [f64; 2],
}

impl FigureOut {
    fn of(s: Summary, runs: u32) -> Self {
        FigureOut {
            summary: s.into(),
            ci95: s.ci95(runs),
        }
    }
}

#[derive(Serialize)]
struct RoundsToFullOut {
    completed: u32,
    #[serde(flatten)]
    figure: Option<FigureOut>,
}

#[derive(Serialize)]
struct PointReport<'a> {
    point: PointOut<'a>,
    runs: u32,
    rounds_to_full: RoundsToFullOut,
    residue: FigureOut,
    messages_per_node: FigureOut,
    t_ave: FigureOut,
    t_last: FigureOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_run: Option<Vec<RunOut>>,
}

#[derive(Serialize)]
struct SweepReport<'a> {
    settings: &'a BTreeMap<String, Value>,
    vary: Vec<VaryOut<'a>>,
    runs: u32,
    points: Vec<PointReport<'a>>,
}

#[derive(Serialize)]
struct VaryOut<'a> {
    name: &'a str,
    values: Vec<Value>,
}

/// The summary's rows with their intervals: name, runs over, distribution.
fn rows(s: &BatchSummary) -> Vec<Row<'static>> {
    vec![
        ("rounds_to_full", s.completed, s.rounds_to_full),
        ("residue", s.runs, Some(s.residue)),
        ("messages_per_node", s.runs, Some(s.messages_per_node)),
        ("t_ave", s.runs, Some(s.t_ave)),
        ("t_last", s.runs, Some(s.t_last)),
    ]
}

/// The sweep's output, from every point's runs (in run order).
fn write_output(
    out: &mut impl Write,
    plan: &Plan,
    points: &[Point],
    by_point: &[Vec<RunFigures>],
    format: Format,
    seed: u64,
) -> std::io::Result<()> {
    let summaries: Vec<BatchSummary> = by_point
        .iter()
        .map(|runs| BatchSummary::of(runs).expect("a point has runs"))
        .collect();
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
                    .zip(&summaries)
                    .zip(by_point)
                    .map(|((point, s), runs)| PointReport {
                        point: PointOut(point),
                        runs: s.runs,
                        rounds_to_full: RoundsToFullOut {
                            completed: s.completed,
                            figure: s.rounds_to_full.map(|f| FigureOut::of(f, s.completed)),
                        },
                        residue: FigureOut::of(s.residue, s.runs),
                        messages_per_node: FigureOut::of(s.messages_per_node, s.runs),
                        t_ave: FigureOut::of(s.t_ave, s.runs),
                        t_last: FigureOut::of(s.t_last, s.runs),
                        per_run: plan
                            .per_run
                            .then(|| runs.iter().map(|&f| f.into()).collect()),
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        Format::Csv => {
            let names: Vec<&str> = plan.vary.iter().map(|v| v.name.as_str()).collect();
            if plan.per_run {
                writeln!(
                    out,
                    "{},run,seed,rounds,rounds_to_full,residue,messages_per_node,t_ave,t_last,redundant_share",
                    names.join(",")
                )?;
                for (point, runs) in points.iter().zip(by_point) {
                    let at = csv_point(point);
                    for f in runs {
                        let full = f.rounds_to_full.map_or(String::new(), |r| r.to_string());
                        writeln!(
                            out,
                            "{at},{},{},{},{full},{},{},{},{},{}",
                            f.run,
                            f.seed,
                            f.rounds,
                            f.residue,
                            f.messages_per_node,
                            f.t_ave,
                            f.t_last,
                            f.redundant_share
                        )?;
                    }
                }
                return Ok(());
            }
            writeln!(
                out,
                "{},figure,runs,mean,sd,min,p50,p95,max,ci95_lo,ci95_hi",
                names.join(",")
            )?;
            for (point, s) in points.iter().zip(&summaries) {
                let at = csv_point(point);
                for (figure, n, summary) in rows(s) {
                    match summary {
                        Some(x) => {
                            let [lo, hi] = x.ci95(n);
                            writeln!(
                                out,
                                "{at},{figure},{n},{},{},{},{},{},{},{lo},{hi}",
                                x.mean, x.sd, x.min, x.p50, x.p95, x.max
                            )?
                        }
                        None => writeln!(out, "{at},{figure},0,,,,,,,,")?,
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
            writeln!(
                out,
                "sweep over {}",
                plan.vary
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" × ")
            )?;
            writeln!(out, "with {}", fixed.join(", "))?;
            writeln!(
                out,
                "seed {seed}, {} runs per point; run i of every point has the same seed \
                 (common random numbers)",
                plan.runs
            )?;
            for (point, s) in points.iter().zip(&summaries) {
                writeln!(out)?;
                writeln!(out, "{}", describe(point))?;
                write_table_rows(out, 18, &rows(s))?;
            }
            Ok(())
        }
    }
}

/// A point's values as CSV fields (text quoted when it has a comma or a quote).
fn csv_point(point: &Point) -> String {
    point
        .iter()
        .map(|(_, v)| {
            if v.contains([',', '"']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A shard's file: its header, then one line per pair it played.
fn write_shard(
    out: &mut impl Write,
    shard: u32,
    shards: u32,
    plan: &Plan,
    pairs: &[u64],
    played: &[RunFigures],
    runs: u64,
) -> std::io::Result<()> {
    let header = ShardHeader {
        grapevine_sweep_shard: shard,
        shards,
        plan: plan.clone(),
    };
    serde_json::to_writer(&mut *out, &header).map_err(std::io::Error::other)?;
    writeln!(out)?;
    for (&j, &figures) in pairs.iter().zip(played) {
        let row = ShardRow {
            point: (j / runs) as usize,
            figures: figures.into(),
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
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| at(i + 2, e.to_string()))?;
        let row: ShardRow = serde_json::from_str(&line)
            .map_err(|e| at(i + 2, format!("not a run's line ({e})")))?;
        let expected = run_seed(
            header
                .plan
                .settings
                .get("seed")
                .and_then(Value::as_u64)
                .unwrap_or(1),
            row.figures.run,
        );
        if row.figures.seed != expected {
            return Err(at(i + 2, "its seed is not its run's".into()));
        }
        rows.push(row);
    }
    Ok((header, rows))
}

fn progress_bar(len: u64) -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} (eta {eta})")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    }
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

/// A closed pipe (`| head`) is not an error worth a message.
fn finish(written: std::io::Result<()>) -> Result<(), Usage> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Usage(format!("error: writing the results: {e}")))
        }
        _ => Ok(()),
    }
}

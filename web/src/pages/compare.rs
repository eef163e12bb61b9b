//! The compare panel (a part of the page, loaded when first opened): a setting on the x-axis,
//! optionally another as series, R runs at every point, played by as many batch workers as
//! the browser offers, then the mean of a figure with its 95 % band per series and theory
//! dashed. Run i of every point plays `run_seed(seed, i)`, as `grapevine sweep` does, so the
//! panel's CSV is `grapevine sweep --format csv`'s for the same settings, byte for byte.
//! The URL holds the comparison (`?compare=fanout:1..4&series=protocol:push,pull&runs=20`).

use super::{header, write_url, PageProps, Route};
use crate::batch::{csv_url, BatchWorker, Reply, Request};
use crate::charts::{sweep_chart, SweepAxes, SweepLine, SweepMark, SweepRoom};
use crate::palette;
use crate::params::{
    compare_figures, set_run_param, Compare, ComparePoint, CompareQuery, PageSettings, Varied,
    COMPARE_SETTINGS, MAX_COMPARE_RUNS,
};
use grapevine_core::experiment::{RunFigures, Summary};
use grapevine_core::lab::record::{Line, RoomRun, MEASURED_FIGURES};
use grapevine_core::sweep::{
    csv_point, csv_summary_row, positions, short_number, CSV_SUMMARY_HEADER, ENGINE_FIGURES,
};
use grapevine_core::{theory, Settings};
use std::collections::VecDeque;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The panel's styles, carried by its part: the stylesheet every view loads first is budgeted
/// (`e2e/parts.test.mjs`).
const STYLE: &str = include_str!("../../../static/compare.css");

/// Workers at most, whatever the browser offers: each holds a wasm instance.
const MAX_WORKERS: usize = 8;

/// Jobs per worker aimed at when splitting points' runs, so that the last jobs do not leave
/// workers idle while one finishes.
const JOBS_PER_WORKER: usize = 3;

/// Some runs of one point, for one worker.
#[derive(Clone, Copy, Debug)]
struct Job {
    point: usize,
    first: u32,
    runs: u32,
}

/// One worker and what it is doing.
struct Slot {
    worker: BatchWorker,
    /// The job in hand, the runs of it done, and when it was sent (ms).
    job: Option<(Job, u32, f64)>,
    /// Runs played and ms spent on them (for the panel's note on how the work was shared).
    runs: u32,
    busy_ms: f64,
}

/// A comparison being played.
struct Pool {
    slots: Vec<Slot>,
    queue: VecDeque<Job>,
    compare: Compare,
    base: Settings,
    points: Vec<ComparePoint>,
    queries: Vec<String>,
    runs: Vec<Vec<RunFigures>>,
    total: u32,
    finished: u32,
    started_ms: f64,
}

/// A comparison played.
struct Outcome {
    compare: Compare,
    base: Settings,
    points: Vec<ComparePoint>,
    /// Each point's runs, in run order.
    runs: Vec<Vec<RunFigures>>,
    csv_url: String,
    /// Per worker: runs played, ms busy; and the comparison's wall time.
    workers: Vec<(u32, f64)>,
    wall_ms: f64,
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.csv_url);
    }
}

/// What the controls hold before Run reads them.
#[derive(Clone, Debug, PartialEq)]
struct Draft {
    x_name: &'static str,
    x_values: String,
    /// `""`: no series.
    series_name: &'static str,
    series_values: String,
    runs: String,
    nodes: String,
    seed: String,
}

impl Draft {
    fn of(settings: &PageSettings, compare: &Compare) -> Draft {
        Draft {
            x_name: compare.x.name,
            x_values: compare.x.spec.clone(),
            series_name: compare.series.as_ref().map_or("", |s| s.name),
            series_values: compare
                .series
                .as_ref()
                .map_or(String::new(), |s| s.spec.clone()),
            runs: compare.runs.to_string(),
            nodes: settings.run.nodes.to_string(),
            seed: settings.run.seed.to_string(),
        }
    }

    /// The settings and comparison the draft says, `figure` on the y-axis; why not, in words.
    fn read(
        &self,
        base: &PageSettings,
        figure: &'static str,
    ) -> Result<(PageSettings, Compare), String> {
        let mut settings = base.clone();
        set_run_param(&mut settings.run, "nodes", &self.nodes)
            .map_err(|e| format!("Nodes: {e}."))?;
        set_run_param(&mut settings.run, "seed", &self.seed).map_err(|e| format!("Seed: {e}."))?;
        let x = Varied::parse(&format!("{}:{}", self.x_name, self.x_values))
            .map_err(|e| format!("Values of {}: {e}.", self.x_name))?;
        let series = match self.series_name {
            "" => None,
            name => Some(
                Varied::parse(&format!("{name}:{}", self.series_values))
                    .map_err(|e| format!("Values of {name}: {e}."))?,
            ),
        };
        let runs = match self.runs.trim().parse::<u32>() {
            Ok(r) if (1..=MAX_COMPARE_RUNS).contains(&r) => r,
            _ => {
                return Err(format!(
                    "Runs must be a whole number from 1 to {MAX_COMPARE_RUNS}."
                ))
            }
        };
        let compare = Compare {
            x,
            series,
            runs,
            figure,
        };
        settings.compare = Some(CompareQuery::of(&compare));
        Ok((settings, compare))
    }
}

pub enum Msg {
    XName(String),
    XValues(String),
    SeriesName(String),
    SeriesValues(String),
    Runs(String),
    Nodes(String),
    Seed(String),
    Figure(String),
    Run,
    Cancel,
    FromWorker(usize, Reply),
    WorkerFailed(String),
    Simulator,
    DismissNotices,
    /// Room records picked to draw beside the comparison (read as text, then `RoomText`).
    RoomFiles(Vec<web_sys::File>),
    /// A room record's file name and text, or why it could not be read.
    RoomText(String, Result<String, String>),
    ClearRooms,
}

/// A class's room, recorded (`grapevine peer --json`, the conductor's "Download the room's
/// record") and drawn beside the comparison.
struct LoadedRoom {
    /// The file's name.
    name: String,
    run: RoomRun,
}

/// The compare page.
pub struct ComparePage {
    settings: PageSettings,
    notices: Vec<String>,
    draft: Draft,
    figure: &'static str,
    error: Option<String>,
    pool: Option<Pool>,
    outcome: Option<Outcome>,
    cancelled: bool,
    /// Recorded rooms drawn beside the comparison, kept across runs.
    rooms: Vec<LoadedRoom>,
    /// Why the last room record picked could not be read.
    room_error: Option<String>,
}

/// A room record's text read into its run: each line through the browser's `JSON.parse`, the
/// rest as `grapevine sweep --room` reads it ([`RoomRun::read`]).
fn read_room(text: &str) -> Result<RoomRun, String> {
    RoomRun::read(text, |line| {
        let value = js_sys::JSON::parse(line).map_err(|_| "not JSON".to_string())?;
        serde_wasm_bindgen::from_value::<Line>(value).map_err(|e| e.to_string())
    })
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// How many workers to start: what the browser says it has, at least one, at most
/// [`MAX_WORKERS`] and the number of jobs.
fn worker_count(jobs: usize) -> usize {
    let offered = web_sys::window()
        .map(|w| w.navigator().hardware_concurrency())
        .unwrap_or(1.0) as usize;
    offered.clamp(1, MAX_WORKERS).min(jobs.max(1))
}

/// Each point's runs in jobs: enough jobs for every worker to have a few, each of at least
/// one run, points in order.
fn jobs(points: usize, runs: u32, workers: usize) -> VecDeque<Job> {
    let per_point = (workers * JOBS_PER_WORKER)
        .div_ceil(points.max(1))
        .clamp(1, runs as usize) as u32;
    let chunk = runs.div_ceil(per_point);
    let mut jobs = VecDeque::new();
    for point in 0..points {
        let mut first = 0;
        while first < runs {
            let n = chunk.min(runs - first);
            jobs.push_back(Job {
                point,
                first,
                runs: n,
            });
            first += n;
        }
    }
    jobs
}

fn spawn(ctx: &Context<ComparePage>, index: usize) -> Result<Slot, String> {
    let link = ctx.link().clone();
    let worker = BatchWorker::start(move |reply| {
        link.send_message(match reply {
            Ok(reply) => Msg::FromWorker(index, reply),
            Err(why) => Msg::WorkerFailed(why),
        })
    })?;
    Ok(Slot {
        worker,
        job: None,
        runs: 0,
        busy_ms: 0.0,
    })
}

impl Pool {
    /// Sends worker `i` the next job, if it is idle and there is one.
    fn feed(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if !slot.worker.ready || slot.job.is_some() {
            return;
        }
        let Some(job) = self.queue.pop_front() else {
            return;
        };
        let request = Request::Run {
            query: self.queries[job.point].clone(),
            first: job.first,
            runs: job.runs,
        };
        slot.worker.send(&request);
        slot.job = Some((job, 0, now_ms()));
    }

    /// Runs finished, those in hand included.
    fn done(&self) -> u32 {
        self.finished
            + self
                .slots
                .iter()
                .filter_map(|s| s.job.map(|(_, d, _)| d))
                .sum::<u32>()
    }
}

/// The summary CSV of a comparison: `grapevine sweep --format csv`'s, column for column.
fn to_csv(compare: &Compare, points: &[ComparePoint], runs: &[Vec<RunFigures>]) -> String {
    let mut names = vec![compare.x.name];
    names.extend(compare.series.as_ref().map(|s| s.name));
    let mut csv = format!("{},{CSV_SUMMARY_HEADER}\n", names.join(","));
    for (point, runs) in points.iter().zip(runs) {
        let at = csv_point(std::iter::once(point.x.as_str()).chain(point.series.as_deref()));
        for (column, figure) in ENGINE_FIGURES.iter().enumerate() {
            if figure.summarised {
                let summary = Summary::of_present(runs.iter().map(|r| r.values()[column]));
                csv.push_str(&csv_summary_row(&at, figure.name, summary));
                csv.push('\n');
            }
        }
    }
    csv
}

impl ComparePage {
    fn start(&mut self, ctx: &Context<Self>) {
        self.pool = None;
        self.cancelled = false;
        let (settings, compare) = match self.draft.read(&self.settings, self.figure) {
            Ok(read) => read,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let points = match compare.points(&settings.run) {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.settings = settings;
        write_url(&self.settings);
        let queries = points
            .iter()
            .map(|p| {
                PageSettings {
                    run: p.settings,
                    ..PageSettings::default()
                }
                .to_query()
            })
            .collect();
        let workers = worker_count(points.len() * compare.runs as usize);
        let queue = jobs(points.len(), compare.runs, workers);
        let mut slots = Vec::with_capacity(workers);
        for i in 0..workers.min(queue.len()) {
            match spawn(ctx, i) {
                Ok(slot) => slots.push(slot),
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        self.error = None;
        self.pool = Some(Pool {
            slots,
            queue,
            total: compare.runs * points.len() as u32,
            runs: vec![Vec::new(); points.len()],
            base: self.settings.run,
            compare,
            points,
            queries,
            finished: 0,
            started_ms: now_ms(),
        });
    }

    fn on_reply(&mut self, i: usize, reply: Reply) {
        let Some(pool) = &mut self.pool else {
            return;
        };
        match reply {
            Reply::Ready => {
                pool.slots[i].worker.ready = true;
                pool.feed(i);
            }
            Reply::Progress { done } => {
                if let Some((_, d, _)) = &mut pool.slots[i].job {
                    *d = done;
                }
            }
            Reply::Done { figures } => {
                let slot = &mut pool.slots[i];
                if let Some((job, _, since)) = slot.job.take() {
                    slot.runs += job.runs;
                    slot.busy_ms += now_ms() - since;
                    pool.finished += job.runs;
                    pool.runs[job.point].extend(figures);
                }
                pool.feed(i);
                if pool.finished == pool.total {
                    self.finish();
                }
            }
            Reply::Error { message } => {
                self.pool = None;
                self.error = Some(message);
            }
            Reply::Bench { .. } | Reply::BenchSignatures { .. } => {}
        }
    }

    fn finish(&mut self) {
        let Some(mut pool) = self.pool.take() else {
            return;
        };
        for runs in &mut pool.runs {
            runs.sort_by_key(|r| r.run);
        }
        let csv = to_csv(&pool.compare, &pool.points, &pool.runs);
        self.outcome = Some(Outcome {
            workers: pool.slots.iter().map(|s| (s.runs, s.busy_ms)).collect(),
            wall_ms: now_ms() - pool.started_ms,
            csv_url: csv_url(&csv),
            compare: pool.compare.clone(),
            base: pool.base,
            points: std::mem::take(&mut pool.points),
            runs: std::mem::take(&mut pool.runs),
        });
    }

    fn controls(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let running = self.pool.is_some();
        let d = &self.draft;
        let nodes_varied = d.x_name == "nodes" || d.series_name == "nodes";
        let text = |f: fn(String) -> Msg| {
            link.callback(move |e: InputEvent| {
                f(e.target_unchecked_into::<HtmlInputElement>().value())
            })
        };
        let select = |f: fn(String) -> Msg| {
            link.callback(move |e: Event| f(e.target_unchecked_into::<HtmlSelectElement>().value()))
        };
        let option = |name: &str, chosen: &str| {
            html! {
                <option value={name.to_string()} selected={name == chosen}>{ name }</option>
            }
        };
        html! {
            <section class="panel compare-controls" aria-label="What to compare">
                <div class="compare-grid">
                    <label>{ "On the x-axis" }
                        <select data-testid="compare-vary" onchange={select(Msg::XName)} disabled={running}>
                            { for COMPARE_SETTINGS.iter().map(|n| option(n, d.x_name)) }
                        </select>
                    </label>
                    <label>{ "at" }
                        <input type="text" value={d.x_values.clone()} oninput={text(Msg::XValues)} disabled={running}
                            data-testid="compare-values" spellcheck="false" aria-label="Values on the x-axis" />
                    </label>
                    <label>{ "Series" }
                        <select data-testid="compare-series" onchange={select(Msg::SeriesName)} disabled={running}>
                            <option value="" selected={d.series_name.is_empty()}>{ "none" }</option>
                            { for COMPARE_SETTINGS.iter().filter(|n| **n != d.x_name).map(|n| option(n, d.series_name)) }
                        </select>
                    </label>
                    <label>{ "at" }
                        <input type="text" value={d.series_values.clone()} oninput={text(Msg::SeriesValues)}
                            disabled={running || d.series_name.is_empty()} data-testid="compare-series-values"
                            spellcheck="false" aria-label="Values of the series" />
                    </label>
                </div>
                <div class="compare-row">
                    <label class="figure">{ "Figure" }
                        <select data-testid="compare-figure" onchange={select(Msg::Figure)}>
                            { for compare_figures().map(|f| html! {
                                <option value={f.name} selected={f.name == self.figure}>{ f.label }</option>
                            }) }
                        </select>
                    </label>
                    <label>{ "Runs per point" }
                        <input type="number" min="1" max={MAX_COMPARE_RUNS.to_string()} value={d.runs.clone()}
                            oninput={text(Msg::Runs)} disabled={running} data-testid="compare-runs" />
                    </label>
                    <label>{ "Nodes" }
                        <input type="number" min="2" value={d.nodes.clone()} oninput={text(Msg::Nodes)}
                            disabled={running || nodes_varied} data-testid="compare-nodes"
                            title={if nodes_varied { "Varied: each point has its own" } else { "" }} />
                    </label>
                    <label>{ "Seed" }
                        <input type="number" min="0" value={d.seed.clone()} oninput={text(Msg::Seed)} disabled={running}
                            data-testid="compare-seed" />
                    </label>
                </div>
                <p class="hint">{ "Values: a list (1,2,4), a range of whole numbers (1..8) or log steps (100..100000*10), as " }<code>{ "grapevine sweep --vary" }</code>{ " takes them." }</p>
                <div class="compare-actions">
                    if running {
                        <button onclick={link.callback(|_| Msg::Cancel)} data-testid="compare-cancel">{ "Cancel" }</button>
                    } else {
                        <button class="primary" onclick={link.callback(|_| Msg::Run)} data-testid="compare-run">{ "Compare" }</button>
                    }
                    <button class="link" onclick={link.callback(|_| Msg::Simulator)} data-testid="compare-simulator">{ "Back to the simulator" }</button>
                </div>
                if let Some(e) = &self.error {
                    <p class="batch-error" role="alert" data-testid="compare-error">{ e }</p>
                }
                if let Some(pool) = &self.pool {
                    <div class="batch-progress">
                        <progress max={pool.total.to_string()} value={pool.done().to_string()} data-testid="compare-progress"></progress>
                        <span>{ format!("{} / {} runs on {} workers", pool.done(), pool.total, pool.slots.len()) }</span>
                    </div>
                }
                if self.cancelled {
                    <p class="hint" data-testid="compare-cancelled">{ "Cancelled." }</p>
                }
            </section>
        }
    }
}

/// The fixed settings in words, those varied left out.
fn fixed(base: &Settings, compare: &Compare) -> String {
    let varied = |name: &str| {
        compare.x.name == name || compare.series.as_ref().is_some_and(|s| s.name == name)
    };
    let i = base.tunables.interest;
    [
        ("nodes", format!("{} nodes", base.nodes)),
        ("protocol", base.protocol.name().to_string()),
        ("fanout", format!("fanout {}", base.tunables.fanout)),
        ("loss", format!("loss {}", base.tunables.loss)),
        ("stop", format!("stop {}", i.rule.name())),
        (
            "k",
            if i.rule.is_rumor_mongering() {
                format!("k {}", i.k)
            } else {
                String::new()
            },
        ),
        ("topology", format!("{} graph", base.topology.name())),
        (
            "crashed",
            format!("{} % crashed", short_number(base.crashed * 100.0)),
        ),
    ]
    .into_iter()
    .filter(|(name, text)| !varied(name) && !text.is_empty())
    .map(|(_, text)| text)
    .collect::<Vec<_>>()
    .join(" · ")
}

/// Each room placed on the comparison's axes, as `grapevine sweep --room` places it, with its
/// mean of `figure`; why a room is not drawn, in words, for the others.
fn place_rooms(o: &Outcome, rooms: &[LoadedRoom], figure: &str) -> (Vec<SweepRoom>, Vec<String>) {
    let (mut drawn, mut notes) = (Vec::new(), Vec::new());
    if !rooms.is_empty() && !MEASURED_FIGURES.contains(&figure) {
        let label = ENGINE_FIGURES
            .iter()
            .find(|f| f.name == figure)
            .map_or(figure, |f| f.label);
        notes.push(format!(
            "A room measures rounds to full, residue, mean and last arrival; not {label}: pick one of those to see the rooms."
        ));
        return (drawn, notes);
    }
    for room in rooms {
        let vary = std::iter::once(&o.compare.x)
            .chain(&o.compare.series)
            .map(|v| (v.name, &v.values[..]));
        match (room.run.place(vary), room.run.summary(figure)) {
            (Err(why), _) => notes.push(format!("{}: not drawn, {why}.", room.name)),
            (Ok(_), None) => notes.push(format!("{}: no rumor reached this figure.", room.name)),
            (Ok((point, x)), Some((s, n))) => drawn.push(SweepRoom {
                x,
                x_label: point[0].1.clone(),
                name: room.name.clone(),
                measured: (s.mean, s.ci95(n), n),
            }),
        }
    }
    (drawn, notes)
}

fn results(
    o: &Outcome,
    figure: &'static str,
    rooms: &[LoadedRoom],
    link: &yew::html::Scope<ComparePage>,
) -> Html {
    let column = ENGINE_FIGURES
        .iter()
        .position(|f| f.name == figure)
        .expect("a figure");
    let label = ENGINE_FIGURES[column].label;
    let (xs, numeric) = positions(&o.compare.x.values);
    let x_of = |value: &str| {
        xs[o.compare
            .x
            .values
            .iter()
            .position(|v| v == value)
            .expect("a value")]
    };
    let series: Vec<Option<&String>> = match &o.compare.series {
        Some(s) => s.values.iter().map(Some).collect(),
        None => vec![None],
    };
    let lines: Vec<SweepLine> = series
        .iter()
        .enumerate()
        .map(|(i, name)| SweepLine {
            name: name.cloned().unwrap_or_default(),
            colour: palette::SERIES[i % palette::SERIES.len()],
            marks: o
                .points
                .iter()
                .zip(&o.runs)
                .filter(|(p, _)| p.series.as_ref() == *name)
                .map(|(p, runs)| SweepMark {
                    x: x_of(&p.x),
                    x_label: p.x.clone(),
                    measured: Summary::of_present(runs.iter().map(|r| r.values()[column]))
                        .map(|(s, n)| (s.mean, s.ci95(n), n)),
                    theory: theory::expected(figure, &p.settings),
                })
                .collect(),
        })
        .collect();
    let axes = SweepAxes {
        x_name: o.compare.x.name.to_string(),
        categories: (!numeric).then(|| o.compare.x.values.clone()),
        y_label: label.to_string(),
    };
    let has_theory = lines
        .iter()
        .any(|l| l.marks.iter().any(|m| m.theory.is_some()));
    let played: Vec<String> = o.workers.iter().map(|(runs, _)| runs.to_string()).collect();
    let busy: f64 = o.workers.iter().map(|(_, ms)| ms).sum();
    let use_share = busy / (o.wall_ms.max(1.0) * o.workers.len() as f64);
    let (drawn, notes) = place_rooms(o, rooms, figure);
    let pick = link.callback(|e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        let files = input.files();
        let files = (0..files.as_ref().map_or(0, |f| f.length()))
            .filter_map(|i| files.as_ref().and_then(|f| f.get(i)))
            .collect();
        input.set_value(""); // Picking the same file again reads it again.
        Msg::RoomFiles(files)
    });
    html! {
        <section class="panel compare-results" aria-label="Comparison">
            <p class="batch-of" data-testid="compare-of">
                { format!("{} runs per point, seed {} (run i of every point has the same seed); {}", o.compare.runs, o.base.seed, fixed(&o.base, &o.compare)) }
            </p>
            <ul class="legend compare-legend">
                if o.compare.series.is_some() {
                    { for lines.iter().map(|l| html! {
                        <li><span class="line" style={format!("background: {}", l.colour)}></span>{ format!("{} {}", o.compare.series.as_ref().map_or("", |s| s.name), l.name) }</li>
                    }) }
                }
                <li><span class="band-swatch"></span>{ "95 % interval of the mean" }</li>
                if has_theory {
                    <li><span class="line dashed"></span>{ "theory" }</li>
                }
                { for drawn.iter().map(|r| html! {
                    <li><span class="room-swatch">{ "✕" }</span>{ format!("{} (a class's room, {} rumors)", r.name, r.measured.2) }</li>
                }) }
            </ul>
            { sweep_chart(&axes, &lines, &drawn) }
            { for notes.iter().map(|n| html! { <p class="hint" data-testid="compare-room-note">{ n }</p> }) }
            <div class="compare-foot">
                <a class="button" href={o.csv_url.clone()} download={format!("grapevine-compare-{}-seed-{}.csv", o.compare.x.name, o.base.seed)}
                    data-testid="compare-csv">{ "Download CSV" }</a>
                // The file input is hidden: its button, styled as the others, opens it.
                <button title="A room's record: grapevine peer --json, or the conductor's “Download the room's record”"
                    onclick={Callback::from(|e: MouseEvent| {
                        let picker = e.target_unchecked_into::<web_sys::Element>().next_element_sibling();
                        if let Some(input) = picker.and_then(|p| p.dyn_into::<HtmlInputElement>().ok()) {
                            input.click();
                        }
                    })}>{ "Add a class's room…" }</button>
                <input type="file" hidden=true accept=".jsonl,.json,.txt" multiple=true onchange={pick} data-testid="compare-room" />
                if !rooms.is_empty() {
                    <button class="link" onclick={link.callback(|_| Msg::ClearRooms)} data-testid="compare-room-clear">{ "Remove the rooms" }</button>
                }
                <span class="hint" data-testid="compare-workers" data-runs={played.join(",")} data-busy={format!("{use_share:.3}")}
                    data-wall-ms={format!("{:.0}", o.wall_ms)}>
                    { format!("{} runs in {:.1} s on {} workers ({} runs each; busy {:.0} % of the time).",
                        o.points.len() as u32 * o.compare.runs, o.wall_ms / 1000.0, o.workers.len(), played.join(" / "), use_share * 100.0) }
                </span>
            </div>
        </section>
    }
}

impl Component for ComparePage {
    type Message = Msg;
    type Properties = PageProps;

    fn create(ctx: &Context<Self>) -> Self {
        let route = &ctx.props().route;
        let mut notices = route.notices.clone();
        let compare = match &route.settings.compare {
            Some(q) => {
                let (compare, more) = Compare::read(q);
                notices.extend(more);
                compare
            }
            None => Compare::first(),
        };
        let settings = route.settings.clone();
        ComparePage {
            draft: Draft::of(&settings, &compare),
            figure: compare.figure,
            settings,
            notices,
            error: None,
            pool: None,
            outcome: None,
            cancelled: false,
            rooms: Vec::new(),
            room_error: None,
        }
    }

    fn rendered(&mut self, ctx: &Context<Self>, first: bool) {
        // The URL holds a comparison: show it, as a link shared in class should.
        if first {
            ctx.link().send_message(Msg::Run);
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::XName(name) => {
                if let Some(&n) = COMPARE_SETTINGS.iter().find(|n| **n == name) {
                    self.draft.x_name = n;
                    self.draft.x_values = Varied::default_spec(n).to_string();
                    if self.draft.series_name == n {
                        self.draft.series_name = "";
                        self.draft.series_values.clear();
                    }
                }
            }
            Msg::XValues(v) => self.draft.x_values = v,
            Msg::SeriesName(name) => {
                let n = COMPARE_SETTINGS
                    .iter()
                    .find(|n| **n == name)
                    .copied()
                    .unwrap_or("");
                self.draft.series_name = n;
                self.draft.series_values = if n.is_empty() {
                    String::new()
                } else {
                    Varied::default_spec(n).to_string()
                };
            }
            Msg::SeriesValues(v) => self.draft.series_values = v,
            Msg::Runs(v) => self.draft.runs = v,
            Msg::Nodes(v) => self.draft.nodes = v,
            Msg::Seed(v) => self.draft.seed = v,
            Msg::Figure(name) => {
                if let Some(f) = compare_figures().find(|f| f.name == name) {
                    self.figure = f.name;
                    if let Some(c) = &mut self.settings.compare {
                        c.figure = Some(f.name.to_string());
                        write_url(&self.settings);
                    }
                }
            }
            Msg::Run => self.start(ctx),
            Msg::Cancel => {
                // Busy workers read no messages: terminating them is the way to stop.
                self.pool = None;
                self.cancelled = true;
            }
            Msg::FromWorker(i, reply) => self.on_reply(i, reply),
            Msg::WorkerFailed(message) => {
                self.pool = None;
                self.error = Some(message);
            }
            Msg::Simulator => {
                let settings = PageSettings {
                    compare: None,
                    ..self.settings.clone()
                };
                ctx.props().navigate.emit(Route {
                    settings,
                    notices: Vec::new(),
                });
            }
            Msg::DismissNotices => self.notices.clear(),
            Msg::RoomFiles(files) => {
                for file in files {
                    let (name, link) = (file.name(), ctx.link().clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                        let text = text
                            .ok()
                            .and_then(|t| t.as_string())
                            .ok_or_else(|| "the browser could not read the file".to_string());
                        link.send_message(Msg::RoomText(name, text));
                    });
                }
            }
            Msg::RoomText(name, text) => match text.and_then(|t| read_room(&t)) {
                Ok(run) => {
                    self.room_error = None;
                    self.rooms.retain(|r| r.name != name);
                    self.rooms.push(LoadedRoom { name, run });
                }
                Err(why) => self.room_error = Some(format!("{name}: {why}")),
            },
            Msg::ClearRooms => {
                self.rooms.clear();
                self.room_error = None;
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let id = format!("compare · seed {}", self.settings.run.seed);
        html! {
            <>
            <style>{ STYLE }</style>
            { header("Compare: one setting on the x-axis, the same seeds at every point.", id, &self.notices, link.callback(|_| Msg::DismissNotices)) }
            <main class="compare" data-testid="compare">
                { self.controls(ctx) }
                if let Some(o) = &self.outcome {
                    { results(o, self.figure, &self.rooms, link) }
                }
                if let Some(e) = &self.room_error {
                    <p class="batch-error" role="alert" data-testid="compare-room-error">{ e }</p>
                }
            </main>
            </>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_of_every_point_is_in_exactly_one_job() {
        for (points, runs, workers) in [(12, 20, 2), (1, 100, 8), (3, 1, 4), (200, 5, 8), (1, 7, 3)]
        {
            let jobs = jobs(points, runs, workers);
            let mut seen = vec![vec![0u32; runs as usize]; points];
            for j in &jobs {
                assert!(j.runs >= 1);
                for r in j.first..j.first + j.runs {
                    seen[j.point][r as usize] += 1;
                }
            }
            assert!(
                seen.iter().flatten().all(|&n| n == 1),
                "{points} {runs} {workers}"
            );
            // Enough jobs to keep every worker busy, when there are runs enough.
            let enough = (workers * JOBS_PER_WORKER).min(points * runs as usize);
            assert!(
                jobs.len() >= enough.min(points.max(workers)),
                "{points} {runs} {workers}: {}",
                jobs.len()
            );
        }
    }
}

//! The lessons: a list of chapters, and each chapter's steps. A step shows a few sentences,
//! the simulator with only what that step needs, and moves on when the model says so (the
//! run ended, everyone was informed), never on a timer. Every measured answer comes from the
//! core ([`crate::learn::measure`]); a guess stays beside it, with theory's where the core
//! has a model.

use super::{header, write_url, PageProps, Route};
use crate::charts::Charts;
use crate::controls::{icon, Icon};
use crate::draw::{Painter, ResizeWatch};
use crate::lab::draw::LabPainter;
use crate::lab::panels;
use crate::lab::sim::LabSim;
use crate::lab::views::Picture;
use crate::learn::chapters::{steps, Answer, Chapter, Measure, StepKind, CHAPTERS};
use crate::learn::measure::{self, batch_seeds, query};
use crate::learn::progress::{self, Progress};
use crate::palette;
use crate::params::PageSettings;
use crate::sim::{Ghost, Sim};
use gloo_events::EventListener;
use gloo_render::{request_animation_frame, AnimationFrame};
use grapevine_core::experiment::Summary;
use grapevine_core::lab::LabProtocol;
use grapevine_core::NodeView;
use std::collections::BTreeMap;
use web_sys::{HtmlCanvasElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The hand-played network of chapter 1 (few enough nodes to click; its seed fixed, so the run
/// alone is comparable).
const HAND_SETUP: &str = "nodes=16&protocol=push&fanout=1&seed=7";
/// Runs drawn by "run it 5 times".
const RUNS: u32 = 5;

/// The simulator a step shows.
enum Stage {
    /// The round engine's run (with its past, so a student can step back).
    Rounds(Box<Sim>),
    /// A lab protocol's run, and its seed.
    Lab(Box<LabSim>, u64),
}

impl Stage {
    fn new(query: &str) -> Option<Stage> {
        let settings = measure::settings(query);
        Some(match settings.lab.protocol {
            Some(info) => Stage::Lab(
                Box::new(LabSim::new(&settings, LabProtocol::of_info(info)).ok()?),
                settings.run.seed,
            ),
            None => {
                let mut sim = Sim::new(settings.run).ok()?;
                // Arrows only where they can be seen.
                sim.seek(0);
                Stage::Rounds(Box::new(sim))
            }
        })
    }

    fn finished(&self) -> bool {
        match self {
            Stage::Rounds(sim) => {
                sim.engine().is_finished() || sim.engine().round() >= measure::MAX_ROUNDS
            }
            Stage::Lab(sim, _) => sim.is_finished(),
        }
    }

    fn step(&mut self) {
        match self {
            Stage::Rounds(sim) => {
                if !sim.engine().is_finished() {
                    sim.timeline.step();
                }
            }
            Stage::Lab(sim, _) => {
                let _ = sim.step();
            }
        }
    }

    fn back(&mut self) {
        match self {
            Stage::Rounds(sim) => {
                if let Some(r) = sim.engine().round().checked_sub(1) {
                    sim.seek(r);
                }
            }
            Stage::Lab(sim, _) => {
                if let Some(again) = sim.back_target().and_then(|to| sim.replayed_to(to).ok()) {
                    **sim = again;
                }
            }
        }
    }

    /// The cue point this run has reached, where a presenter's run stops for the teacher to
    /// talk: half the nodes informed (what happens next is the question), or the moment the
    /// lab's scenario does its first thing (a crash, a split, a write).
    fn cue(&self) -> Option<String> {
        match self {
            Stage::Rounds(sim) => {
                let c = sim.engine().counts();
                (c.informed() * 2 >= c.live() && c.informed() < c.live()).then(|| {
                    format!(
                        "Round {}: half the nodes know. How many more rounds until everyone does?",
                        sim.engine().round()
                    )
                })
            }
            Stage::Lab(sim, _) => {
                let now = sim.now().0;
                let (at, op) = sim.scenario.steps.iter().find(|(at, _)| *at > 0)?;
                (*at <= now).then(|| {
                    format!(
                        "{:.0} s: {op}. What will the members make of it? Play to see.",
                        *at as f64 / 1000.0
                    )
                })
            }
        }
    }

    /// Where the run is, in words, with its seed.
    fn status(&self) -> String {
        match self {
            Stage::Rounds(sim) => {
                let e = sim.engine();
                let c = e.counts();
                format!(
                    "round {} · {} of {} live nodes informed · seed {}",
                    e.round(),
                    c.informed(),
                    c.live(),
                    e.settings().seed
                )
            }
            Stage::Lab(sim, seed) => format!(
                "{:.1} s of {:.0} s · {} members · seed {seed}",
                sim.now().0 as f64 / 1000.0,
                sim.end().0 as f64 / 1000.0,
                sim.initial_nodes()
            ),
        }
    }
}

/// What a chapter measured for its question.
#[derive(Clone, Debug, Default, PartialEq)]
struct Measured {
    /// The measured value (for a choice: each option's, in order).
    values: Vec<Option<f64>>,
    /// Theory's, where the core has a model.
    theory: Option<f64>,
    /// "Run it 5 times": each run's value and informed curve.
    runs: Vec<(Option<f64>, Vec<f64>)>,
}

/// The lessons' page.
pub struct LearnPage {
    settings: PageSettings,
    notices: Vec<String>,
    navigate: Callback<Route>,
    /// The chapter (1-based; 0: the list) and the step (0-based).
    chapter: u32,
    step: usize,
    progress: BTreeMap<u32, Progress>,
    guess: String,
    measured: Option<Measured>,
    /// The knob's value and what it measured.
    knob: Option<(String, Option<f64>)>,
    /// The puzzle's chosen value and the page's verdict.
    puzzle: Option<(String, Result<String, String>)>,
    stage: Option<Stage>,
    /// Chapter 1: the hand-played run's informed curve once it is over.
    hand: Option<Ghost>,
    /// What the lab stage's small network shows.
    picture: Picture,
    /// Presenter mode: the cue point the run stopped at, shown until it plays on.
    cue: Option<String>,
    /// Whether this step's run has stopped at its cue point already.
    cued: bool,
    playing: bool,
    last_ms: f64,
    frame: Option<AnimationFrame>,
    canvas: NodeRef,
    painter: Painter,
    lab_painter: LabPainter,
    /// Draws again when the canvas is resized.
    resize: ResizeWatch,
    _keys: Option<EventListener>,
}

/// What happens on the lessons' page.
pub enum Msg {
    /// The canvas changed size after it was drawn: draw it again.
    Resized,
    /// To step `usize` of the chapter.
    Go(usize),
    /// To another chapter (0: the list), at its first step.
    Chapter(u32),
    /// The guess as typed.
    Guess(String),
    /// Check the guess: measure and reveal.
    Check,
    /// Run it 5 times.
    Runs,
    /// The knob's value.
    Knob(String),
    /// The puzzle's answer.
    Puzzle(String),
    /// Play or pause the stage.
    TogglePlay,
    /// Pause the stage.
    Pause,
    /// One round on.
    Step,
    /// One round back.
    Back,
    /// Start the step's run again.
    Restart,
    /// An animation frame.
    Frame(f64),
    /// A click on the picture (chapter 1: whom node 0 tells).
    Click(f64, f64),
    /// The next step (PageDown, →).
    Next,
    /// The previous step (PageUp, ←).
    Prev,
    /// Open the full simulator (or live mode) for this chapter.
    Sandbox,
    /// Open the compare panel on the chapter's comparison.
    Compare,
    /// The lab stage's picture (messages or the view's own).
    Picture(Picture),
    /// Hide the notices.
    Dismiss,
}

fn chapter(n: u32) -> Option<&'static Chapter> {
    CHAPTERS.get((n as usize).checked_sub(1)?)
}

/// A number as the page writes it (at most one decimal, none for whole numbers).
fn shown(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn unit(answer: &Answer) -> &'static str {
    match answer {
        Answer::Number { unit, .. } => unit,
        Answer::Percent => "%",
        Answer::Choice(_) => "",
    }
}

impl LearnPage {
    fn steps(&self) -> Vec<StepKind> {
        chapter(self.chapter).map(steps).unwrap_or_default()
    }

    fn kind(&self) -> Option<StepKind> {
        self.steps().get(self.step).copied()
    }

    /// Whether the step lets the student on (the model has said so where it must).
    fn may_advance(&self) -> bool {
        match self.kind() {
            Some(StepKind::Predict) => self.measured.is_some(),
            Some(StepKind::Run) => self.stage.as_ref().is_some_and(Stage::finished),
            Some(StepKind::Hand) => self.hand.is_some(),
            Some(_) => self.step + 1 < self.steps().len(),
            None => false,
        }
    }

    /// Enters step `step`: its stage, its URL, the progress kept.
    fn enter(&mut self, step: usize) {
        let count = self.steps().len();
        self.step = step.min(count.saturating_sub(1));
        self.pause();
        self.stage = None;
        (self.cue, self.cued) = (None, false);
        let Some(ch) = chapter(self.chapter) else {
            self.settings.lesson = Some((0, 1));
            write_url(&self.settings);
            return;
        };
        let setup = ch.question.as_ref().map(|q| q.setup).unwrap_or("");
        match self.kind() {
            Some(StepKind::Hand) => {
                self.stage = Stage::new(HAND_SETUP);
            }
            Some(StepKind::Read(_)) | Some(StepKind::Predict) => {
                // The question's network at its start: what the guess is about.
                self.stage = Stage::new(if ch.hand { HAND_SETUP } else { setup });
            }
            Some(StepKind::Run) | Some(StepKind::Compare) => {
                self.stage = Stage::new(&self.run_query());
                if self.kind() == Some(StepKind::Run) {
                    self.play();
                } else if let Some(stage) = &mut self.stage {
                    while !stage.finished() {
                        stage.step();
                    }
                }
            }
            Some(StepKind::Try) => {
                let value = self.knob_value().1;
                self.stage = self.knob_run(&value).and_then(|(q, ..)| Stage::new(&q));
            }
            Some(StepKind::Puzzle) | Some(StepKind::Sandbox) | None => {}
        }
        self.settings.lesson = Some((self.chapter, self.step as u32 + 1));
        write_url(&self.settings);
        let kept = Progress {
            step: self.step as u32 + 1,
            solved: false,
            guess: self.guess.clone(),
        };
        progress::save(self.chapter, &kept);
        self.progress = progress::load();
    }

    /// The run that answers the question: for a choice, the option guessed (or the first).
    fn run_query(&self) -> String {
        let Some(q) = chapter(self.chapter).and_then(|c| c.question.as_ref()) else {
            return String::new();
        };
        match q.answer {
            Answer::Choice(options) => {
                let picked = options
                    .iter()
                    .find(|o| o.0 == self.guess)
                    .unwrap_or(&options[0]);
                query(q.setup, picked.1)
            }
            _ => q.setup.to_string(),
        }
    }

    /// The chapter's knob at `value`: the run's query, the figure measured and its unit (the
    /// knob's own run, or the question's).
    fn knob_run(&self, value: &str) -> Option<(String, Measure, &'static str)> {
        let ch = chapter(self.chapter)?;
        let knob = ch.knob.as_ref()?;
        let (setup, measure, unit) = match knob.run {
            Some(run) => run,
            None => {
                let q = ch.question.as_ref()?;
                (q.setup, q.measure, unit(&q.answer))
            }
        };
        Some((
            query(setup, &format!("{}={value}", knob.param)),
            measure,
            unit,
        ))
    }

    fn knob_value(&self) -> (&'static str, String) {
        let Some(knob) = chapter(self.chapter).and_then(|c| c.knob.as_ref()) else {
            return ("", String::new());
        };
        let value = self
            .knob
            .as_ref()
            .map(|k| k.0.clone())
            .unwrap_or_else(|| knob.values[0].to_string());
        (knob.param, value)
    }

    /// Measures the question's answer with the core.
    fn check(&mut self) {
        let Some(q) = chapter(self.chapter).and_then(|c| c.question.as_ref()) else {
            return;
        };
        let values = match q.answer {
            Answer::Choice(options) => options
                .iter()
                .map(|o| measure::measure(&query(q.setup, o.1), q.measure, None))
                .collect(),
            _ => vec![measure::measure(q.setup, q.measure, None)],
        };
        self.measured = Some(Measured {
            values,
            theory: measure::theory(q.setup, q.measure),
            runs: Vec::new(),
        });
        progress::save(
            self.chapter,
            &Progress {
                step: self.step as u32 + 1,
                solved: false,
                guess: self.guess.clone(),
            },
        );
    }

    /// Plays the question's run with 5 batch seeds.
    fn runs(&mut self) {
        let Some(q) = chapter(self.chapter).and_then(|c| c.question.as_ref()) else {
            return;
        };
        let run_query = self.run_query();
        let master = measure::settings(&run_query).run.seed;
        let runs = batch_seeds(master, RUNS)
            .map(|seed| {
                let value = measure::measure(&run_query, q.measure, Some(seed));
                let curve = match Stage::new(&query(&run_query, &format!("seed={seed}"))) {
                    Some(Stage::Rounds(mut sim)) => {
                        while !sim.engine().is_finished()
                            && sim.engine().round() < measure::MAX_ROUNDS
                        {
                            sim.timeline.step();
                        }
                        sim.informed_curve()
                    }
                    _ => Vec::new(),
                };
                (value, curve)
            })
            .collect();
        if let Some(m) = &mut self.measured {
            m.runs = runs;
        }
    }

    /// Checks the puzzle's answer `value`: it must meet the goal, and no smaller value may.
    fn judge(&self, value: &str) -> Result<String, String> {
        let ch = chapter(self.chapter).ok_or_else(String::new)?;
        let (q, p) = (
            ch.question.as_ref().ok_or_else(String::new)?,
            ch.puzzle.as_ref().ok_or_else(String::new)?,
        );
        let meets = |v: &str| {
            let figure = measure::measure(
                &query(q.setup, &format!("{}={v}", p.param)),
                p.measure,
                None,
            );
            let ok = figure.is_some_and(|f| {
                if p.at_most {
                    f <= p.bound
                } else {
                    f >= p.bound
                }
            });
            (ok, figure)
        };
        let show = |f: Option<f64>| f.map_or("never reached".to_string(), shown);
        let (ok, figure) = meets(value);
        if !ok {
            return Err(format!(
                "With {} = {value} the run measures {}: that does not meet the goal. Try a larger value.",
                p.param,
                show(figure)
            ));
        }
        for smaller in p.values.iter().take_while(|v| **v != value) {
            let (ok, figure) = meets(smaller);
            if ok {
                return Err(format!(
                    "{value} works, but so does a smaller value: {} = {smaller} measures {}.",
                    p.param,
                    show(figure)
                ));
            }
        }
        Ok(format!(
            "Solved: {} = {value} measures {}, and nothing smaller does.",
            p.param,
            show(figure)
        ))
    }

    fn play(&mut self) {
        self.cue = None;
        self.playing = true;
        self.last_ms = f64::NEG_INFINITY;
    }

    fn pause(&mut self) {
        self.playing = false;
        self.frame = None;
    }

    /// Rounds (or lab periods) per second while playing: a readable pace for small networks,
    /// one round a frame for dense ones.
    fn interval_ms(&self) -> f64 {
        match &self.stage {
            Some(Stage::Rounds(sim)) if sim.engine().settings().nodes > 2_000 => 0.0,
            Some(Stage::Rounds(_)) => 350.0,
            _ => 120.0,
        }
    }

    fn schedule(&mut self, ctx: &Context<Self>) {
        if self.playing && self.frame.is_none() {
            let cb = ctx.link().callback(Msg::Frame);
            self.frame = Some(request_animation_frame(move |t| cb.emit(t)));
        }
    }

    /// Chapter 1: node 0 tells `to`; when everyone knows, the same seed runs alone.
    fn hand_step(&mut self, to: u32) {
        let Some(Stage::Rounds(sim)) = &mut self.stage else {
            return;
        };
        if sim.engine().is_finished() || sim.timeline.step_steered(0, to).is_err() {
            return;
        }
        if sim.engine().is_finished() {
            self.hand = Some(Ghost {
                informed: sim.informed_curve(),
                messages: Vec::new(),
                label: format!("you, as node 0: {} rounds", sim.engine().round()),
            });
            // The same seed with no hand on it, to compare.
            if let Some(mut alone) = Stage::new(HAND_SETUP) {
                while !alone.finished() {
                    alone.step();
                }
                if let (Stage::Rounds(alone), Some(hand)) = (&mut alone, &self.hand) {
                    alone.ghost = Some(hand.clone());
                }
                self.stage = Some(alone);
            }
        }
    }

    /// Opens the compare panel on the chapter's comparison, over its question's settings.
    fn go_compare(&mut self) {
        let Some((q, compare)) =
            chapter(self.chapter).and_then(|ch| Some((ch.question.as_ref()?, ch.compare?)))
        else {
            return;
        };
        let (mut settings, _) = PageSettings::from_query(&format!("{}&{compare}", q.setup));
        settings.present = self.settings.present;
        self.pause();
        self.navigate.emit(Route {
            settings,
            notices: Vec::new(),
        });
    }

    fn go_sandbox(&mut self) {
        let Some(ch) = chapter(self.chapter) else {
            return;
        };
        let mut settings = match &ch.question {
            Some(q) => measure::settings(q.setup),
            None => PageSettings {
                live: Some("lobby".into()),
                ..PageSettings::default()
            },
        };
        settings.present = self.settings.present;
        settings.lesson = None;
        self.pause();
        self.navigate.emit(Route {
            settings,
            notices: Vec::new(),
        });
    }
}

fn key_listener(link: html::Scope<LearnPage>) -> Option<EventListener> {
    crate::browser::on_keys(move |key| {
        // Clickers send PageDown / PageUp (and "." or "b" for a blank screen: pause).
        let msg = match key {
            "PageDown" | "ArrowRight" => Msg::Next,
            "PageUp" | "ArrowLeft" => Msg::Prev,
            "." | "b" | "B" => Msg::Pause,
            " " => Msg::TogglePlay,
            _ => return false,
        };
        link.send_message(msg);
        true
    })
}

impl Component for LearnPage {
    type Message = Msg;
    type Properties = PageProps;

    fn create(ctx: &Context<Self>) -> Self {
        let route = &ctx.props().route;
        let (chapter, step) = route.settings.lesson.unwrap_or((0, 1));
        let progress = progress::load();
        let guess = progress
            .get(&chapter)
            .map(|p| p.guess.clone())
            .unwrap_or_default();
        let mut page = LearnPage {
            settings: route.settings.clone(),
            notices: route.notices.clone(),
            navigate: ctx.props().navigate.clone(),
            chapter,
            step: 0,
            progress,
            guess,
            measured: None,
            knob: None,
            puzzle: None,
            stage: None,
            hand: None,
            picture: Picture::default(),
            cue: None,
            cued: false,
            playing: false,
            last_ms: f64::NEG_INFINITY,
            frame: None,
            canvas: NodeRef::default(),
            painter: Painter::default(),
            lab_painter: LabPainter::default(),
            resize: ResizeWatch::default(),
            _keys: key_listener(ctx.link().clone()),
        };
        let count = page.steps().len();
        if chapter > 0 && step as usize > count {
            page.notices.push(format!(
                "Lesson {chapter} has {count} steps: here is its last."
            ));
        }
        page.enter(step as usize - 1);
        page.schedule(ctx);
        page
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Resized => {}
            Msg::Go(step) => self.enter(step),
            Msg::Next => {
                if self.may_advance() {
                    self.enter(self.step + 1);
                } else if self.chapter > 0 && self.step + 1 == self.steps().len() {
                    let next = self.chapter + 1;
                    return Component::update(
                        self,
                        ctx,
                        Msg::Chapter(if chapter(next).is_some() { next } else { 0 }),
                    );
                } else {
                    return false;
                }
            }
            Msg::Prev => {
                if self.step == 0 {
                    return false;
                }
                self.enter(self.step - 1);
            }
            Msg::Chapter(n) => {
                self.pause();
                let settings = PageSettings {
                    lesson: Some((n, 1)),
                    ..self.settings.clone()
                };
                self.navigate.emit(Route {
                    settings,
                    notices: Vec::new(),
                });
                return false;
            }
            Msg::Guess(g) => {
                self.guess = g;
                self.measured = None;
            }
            Msg::Check => {
                if self.guess.trim().is_empty() {
                    self.notices = vec!["Make a guess first: the point is to compare.".into()];
                } else {
                    self.notices.clear();
                    self.check();
                }
            }
            Msg::Runs => self.runs(),
            Msg::Knob(v) => {
                if let Some((q, measure, _)) = self.knob_run(&v) {
                    self.knob = Some((v, measure::measure(&q, measure, None)));
                    self.stage = Stage::new(&q);
                    self.play();
                }
            }
            Msg::Puzzle(v) => {
                let verdict = self.judge(&v);
                if verdict.is_ok() {
                    progress::save(
                        self.chapter,
                        &Progress {
                            step: self.step as u32 + 1,
                            solved: true,
                            guess: self.guess.clone(),
                        },
                    );
                    self.progress = progress::load();
                }
                self.puzzle = Some((v, verdict));
            }
            Msg::TogglePlay => {
                if self.playing {
                    self.pause();
                } else {
                    if self.stage.as_ref().is_some_and(Stage::finished) {
                        let kind = self.kind();
                        self.enter(self.step);
                        if kind != Some(StepKind::Run) {
                            self.stage = Stage::new(&self.run_query());
                        }
                    }
                    self.play();
                }
            }
            Msg::Pause => self.pause(),
            Msg::Step => {
                self.pause();
                if let Some(s) = &mut self.stage {
                    s.step();
                }
            }
            Msg::Back => {
                self.pause();
                if let Some(s) = &mut self.stage {
                    s.back();
                }
            }
            Msg::Restart => self.enter(self.step),
            Msg::Frame(now) => {
                self.frame = None;
                if !self.playing {
                    return false;
                }
                let due = now - self.last_ms >= self.interval_ms() - 1.0;
                if due {
                    self.last_ms = now;
                    if let Some(s) = &mut self.stage {
                        s.step();
                        if s.finished() {
                            self.pause();
                        }
                    }
                    // Presenter mode: the Run step stops once at its cue point.
                    let at_run = self.kind() == Some(StepKind::Run);
                    if self.settings.present && at_run && !self.cued {
                        if let Some(cue) = self.stage.as_ref().and_then(Stage::cue) {
                            self.cued = true;
                            self.cue = Some(cue);
                            self.pause();
                        }
                    }
                }
                self.schedule(ctx);
                return due;
            }
            Msg::Click(x, y) => {
                if self.kind() != Some(StepKind::Hand) {
                    return false;
                }
                let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else {
                    return false;
                };
                let node = match &self.stage {
                    Some(Stage::Rounds(sim)) => Painter::node_at(&canvas, sim.engine(), x, y),
                    _ => None,
                };
                match node {
                    Some(0) | None => return false,
                    Some(to) => self.hand_step(to),
                }
            }
            Msg::Sandbox => {
                self.go_sandbox();
                return false;
            }
            Msg::Compare => {
                self.go_compare();
                return false;
            }
            Msg::Picture(p) => self.picture = p,
            Msg::Dismiss => self.notices.clear(),
        }
        self.schedule(ctx);
        true
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first: bool) {
        let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else {
            return;
        };
        self.resize
            .watch(&canvas, || ctx.link().callback(|()| Msg::Resized));
        let drawn = match &self.stage {
            Some(Stage::Rounds(sim)) => self.painter.draw(&canvas, sim.engine()),
            Some(Stage::Lab(sim, _)) => {
                sim.draw(&mut self.lab_painter, &canvas, None, self.picture)
            }
            None => Ok(()),
        };
        if let Err(e) = drawn {
            web_sys::console::error_2(&"drawing the lesson failed:".into(), &e);
        }
    }

    fn destroy(&mut self, _ctx: &Context<Self>) {
        self.pause();
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let dismiss = link.callback(|_| Msg::Dismiss);
        let id = match &self.stage {
            Some(stage) => stage.status(),
            None => String::new(),
        };
        html! {
            <>
            { header("Lessons: predict, run, and see the gap.", id, &self.notices, dismiss) }
            <main class="learn" data-testid="lesson" data-lesson={self.chapter.to_string()}>
                { self.list(ctx) }
                if self.chapter > 0 {
                    { self.lesson(ctx) }
                }
            </main>
            </>
        }
    }
}

impl LearnPage {
    /// The chapters: the whole list on lesson 0, a strip of numbers in a lesson.
    fn list(&self, ctx: &Context<Self>) -> Html {
        let full = self.chapter == 0;
        let items = CHAPTERS.iter().enumerate().map(|(i, ch)| {
            let n = i as u32 + 1;
            let p = self.progress.get(&n).cloned().unwrap_or_default();
            let total = steps(ch).len() as u32;
            let state = if p.solved || p.step >= total {
                "done"
            } else if p.step > 0 {
                "started"
            } else {
                "new"
            };
            let current = n == self.chapter;
            let href = format!("?lesson={n}");
            let onclick = ctx.link().callback(move |e: MouseEvent| {
                e.prevent_default();
                Msg::Chapter(n)
            });
            let class = classes!("lesson-item", state, current.then_some("current"));
            if full {
                html! {
                    <li><a {class} {href} {onclick} data-testid="lesson-item">
                        <span class="num">{ n }</span>
                        <span class="title">{ ch.title }</span>
                        <span class="idea">{ ch.idea }</span>
                        <span class="state">{ match state { "done" => "done ✓", "started" => "started", _ => "" } }</span>
                    </a></li>
                }
            } else {
                html! {
                    <li><a {class} {href} {onclick} data-testid="lesson-item" title={ch.title}
                        aria-current={current.then_some("step")}>{ n }</a></li>
                }
            }
        });
        if full {
            html! {
                <section class="lesson-list full">
                    <h2>{ "Lessons" }</h2>
                    <p class="hint">{ "Fourteen short chapters. Each asks you to predict before it runs, then shows your guess beside what the core measured and what theory expects. Keys: → or PageDown next, ← or PageUp back, space play." }</p>
                    <ol>{ for items }</ol>
                </section>
            }
        } else {
            html! {
                <nav class="lesson-list strip" aria-label="Lessons">
                    <a href="?lesson=0" class="all" onclick={ctx.link().callback(|e: MouseEvent| { e.prevent_default(); Msg::Chapter(0) })}>{ "All lessons" }</a>
                    <a href="?" class="all">{ "Simulator" }</a>
                    <ol>{ for items }</ol>
                </nav>
            }
        }
    }

    fn lesson(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let Some(ch) = chapter(self.chapter) else {
            return html! {};
        };
        let steps = steps(ch);
        let kind = self.kind().unwrap_or(StepKind::Sandbox);
        let dots = steps.iter().enumerate().map(|(i, _)| {
            let class = classes!("dot-step", (i < self.step).then_some("past"), (i == self.step).then_some("now"));
            html! { <li {class} onclick={link.callback(move |_| Msg::Go(i))} title={format!("Step {}", i + 1)}></li> }
        });
        let last = self.step + 1 == steps.len();
        let next_label = if last {
            if chapter(self.chapter + 1).is_some() {
                "Next lesson"
            } else {
                "All lessons"
            }
        } else {
            "Next"
        };
        let may = self.may_advance() || last;
        let waiting = match kind {
            StepKind::Predict if self.measured.is_none() => Some("Guess, then check."),
            StepKind::Run if !may => Some("Next opens when the run ends."),
            StepKind::Hand if self.hand.is_none() => Some("Next opens when everyone knows."),
            _ => None,
        };
        html! {
            <div class="lesson-body">
                <section class="panel lesson-text" aria-live="polite">
                    <p class="kicker">{ format!("Lesson {} of {}", self.chapter, CHAPTERS.len()) }</p>
                    <h2>{ ch.title }</h2>
                    <ol class="progress" aria-label={format!("Step {} of {}", self.step + 1, steps.len())}>{ for dots }</ol>
                    { self.step_text(ctx, ch, kind) }
                    <div class="lesson-nav">
                        <button data-testid="lesson-prev" onclick={link.callback(|_| Msg::Prev)} disabled={self.step == 0}>{ icon(Icon::Back) }{ "Back" }</button>
                        <span class="where">{ format!("Step {} of {}", self.step + 1, steps.len()) }</span>
                        <button class="primary" data-testid="lesson-next" onclick={link.callback(|_| Msg::Next)} disabled={!may}>{ next_label }{ icon(Icon::Step) }</button>
                    </div>
                    if let Some(w) = waiting { <p class="hint">{ w }</p> }
                </section>
                { self.stage_view(ctx, kind) }
            </div>
        }
    }

    fn step_text(&self, ctx: &Context<Self>, ch: &Chapter, kind: StepKind) -> Html {
        let link = ctx.link();
        match kind {
            StepKind::Read(i) => html! { <p class="lesson-para">{ ch.intro[i] }</p> },
            StepKind::Hand => html! { <>
                <p class="lesson-para">{ "You are node 0 (ringed). Each round you tell one node: click it. Everyone else who knows tells a random node. Keep going until all 16 know." }</p>
                if let Some(hand) = &self.hand {
                    <p class="lesson-result" data-testid="lesson-result">{ format!("{}. The same seed with node 0 choosing at random: {} (the orange curve; yours is grey).", hand.label, self.stage_rounds().map_or("?".into(), |r| format!("{r} rounds"))) }</p>
                    <p class="lesson-para">{ self.hand_verdict() }</p>
                } else {
                    <p class="lesson-result" data-testid="lesson-result">{ format!("Rounds you played: {}", self.stage_rounds().unwrap_or(0)) }</p>
                }
            </> },
            StepKind::Predict | StepKind::Compare => self.question(ctx, ch, kind),
            StepKind::Run => html! { <>
                if let Some(cue) = &self.cue {
                    <p class="cue" data-testid="lesson-cue" role="status">{ icon(Icon::Pause) }{ cue }</p>
                }
                <p class="lesson-para">{ ch.watch }</p>
                <p class="hint">{ "A fixed seed: this run is the same every time and on every machine." }</p>
            </> },
            StepKind::Try => {
                let knob = ch.knob.as_ref().expect("a Try step has a knob");
                let (_, value) = self.knob_value();
                let measured = self.knob.as_ref().and_then(|k| k.1);
                let unit = self.knob_run(&value).map_or("", |r| r.2);
                html! { <>
                    <p class="lesson-para">{ knob.text }</p>
                    <label class="knob">{ knob.label }
                        <select data-testid="lesson-knob" onchange={link.callback(|e: Event| Msg::Knob(e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                            { for knob.values.iter().map(|v| html! { <option value={*v} selected={*v == value}>{ *v }</option> }) }
                        </select>
                    </label>
                    if self.knob.is_some() {
                        <p class="lesson-result" data-testid="lesson-result">{ format!("{} = {value}: {}", knob.label, measured.map_or("never reached".into(), |m| format!("{} {unit}", shown(m)))) }</p>
                    }
                </> }
            }
            StepKind::Puzzle => {
                let p = ch.puzzle.as_ref().expect("a Puzzle step has a puzzle");
                let solved = self.progress.get(&self.chapter).is_some_and(|p| p.solved);
                html! { <>
                    <p class="lesson-para"><strong>{ "Puzzle. " }</strong>{ p.ask }</p>
                    <label class="knob">{ p.param }
                        <select data-testid="lesson-guess" onchange={link.callback(|e: Event| Msg::Puzzle(e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                            <option value="" selected={self.puzzle.is_none()} disabled=true>{ "choose" }</option>
                            { for p.values.iter().map(|v| html! { <option value={*v} selected={self.puzzle.as_ref().is_some_and(|x| x.0 == *v)}>{ *v }</option> }) }
                        </select>
                    </label>
                    { match &self.puzzle {
                        Some((_, Ok(text))) => html! { <p class="lesson-result solved" data-testid="lesson-result">{ text }</p> },
                        Some((_, Err(text))) => html! { <p class="lesson-result" data-testid="lesson-result">{ text }</p> },
                        None if solved => html! { <p class="hint">{ "Solved before ✓" }</p> },
                        None => html! {},
                    } }
                </> }
            }
            StepKind::Sandbox => html! { <>
                <p class="lesson-para">{ ch.takeaway }</p>
                <button class="link" data-testid="lesson-sandbox" onclick={link.callback(|_| Msg::Sandbox)}>
                    { if ch.question.is_some() { "Open the full simulator with these settings" } else { "Go live" } }
                </button>
                if ch.compare.is_some() {
                    <button class="link" data-testid="lesson-compare" onclick={link.callback(|_| Msg::Compare)}>
                        { "Compare them side by side, many runs a point" }
                    </button>
                }
            </> },
        }
    }

    /// What chapter 1's hand-played run says beside the same seed played alone.
    fn hand_verdict(&self) -> &'static str {
        let hand = self.hand.as_ref().map(|h| h.informed.len() as u32 - 1);
        match (hand, self.stage_rounds()) {
            (Some(h), Some(a)) if h < a => "You beat chance: telling only nodes that did not know yet saves rounds. But you are one node of many; the random others did most of the work.",
            (Some(h), Some(a)) if h == a => "A tie: your choices were no better than chance, because most of the telling was done by the random others.",
            _ => "Chance did better: telling a node that already knew wastes your round. Either way, the random others did most of the work.",
        }
    }

    fn stage_rounds(&self) -> Option<u32> {
        match &self.stage {
            Some(Stage::Rounds(sim)) => Some(sim.engine().round()),
            _ => None,
        }
    }

    /// The prediction (before) and the comparison (after).
    fn question(&self, ctx: &Context<Self>, ch: &Chapter, kind: StepKind) -> Html {
        let link = ctx.link();
        let Some(q) = &ch.question else {
            return html! {};
        };
        let input = match q.answer {
            Answer::Choice(options) => html! {
                <select data-testid="lesson-guess" onchange={link.callback(|e: Event| Msg::Guess(e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                    <option value="" selected={self.guess.is_empty()} disabled=true>{ "choose" }</option>
                    { for options.iter().map(|o| html! { <option value={o.0} selected={self.guess == o.0}>{ o.0 }</option> }) }
                </select>
            },
            Answer::Number { max, .. } => html! {
                <input type="number" data-testid="lesson-guess" min="0" max={max.to_string()} step="any" inputmode="decimal"
                    value={self.guess.clone()} placeholder="your guess"
                    oninput={link.callback(|e: InputEvent| Msg::Guess(e.target_unchecked_into::<HtmlInputElement>().value()))} />
            },
            Answer::Percent => html! {
                <input type="number" data-testid="lesson-guess" min="0" max="100" step="any" inputmode="decimal"
                    value={self.guess.clone()} placeholder="your guess, %"
                    oninput={link.callback(|e: InputEvent| Msg::Guess(e.target_unchecked_into::<HtmlInputElement>().value()))} />
            },
        };
        html! { <>
            <p class="lesson-para question">{ q.ask }</p>
            // A link straight to a later step still asks first.
            if kind == StepKind::Predict || self.measured.is_none() {
                <div class="guess-row">
                    { input }
                    <span class="unit">{ unit(&q.answer) }</span>
                    <button class="primary" data-testid="lesson-check" onclick={link.callback(|_| Msg::Check)}>{ "Check" }</button>
                </div>
            }
            { self.comparison(ctx, ch) }
        </> }
    }

    /// Guess, measurement and theory as bars on one scale, and what the gap says.
    fn comparison(&self, ctx: &Context<Self>, ch: &Chapter) -> Html {
        let (Some(q), Some(m)) = (&ch.question, &self.measured) else {
            return html! {};
        };
        let u = unit(&q.answer);
        let mut rows: Vec<(String, Option<f64>, &str)> = Vec::new();
        let result;
        let verdict;
        match q.answer {
            Answer::Choice(options) => {
                let best = options
                    .iter()
                    .zip(&m.values)
                    .filter_map(|(o, v)| v.map(|v| (o.0, v)))
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                for (o, v) in options.iter().zip(&m.values) {
                    let class = if o.0 == self.guess {
                        "guess"
                    } else {
                        "measured"
                    };
                    rows.push((
                        format!(
                            "{}{}",
                            o.0,
                            if o.0 == self.guess {
                                " (your pick)"
                            } else {
                                ""
                            }
                        ),
                        *v,
                        class,
                    ));
                }
                result = match best {
                    Some((name, v)) => {
                        format!("Measured: {name} is fastest, {} rounds (seed 7).", shown(v))
                    }
                    None => "Measured: no protocol finished.".into(),
                };
                verdict = if best.is_some_and(|b| b.0 == self.guess) {
                    ch.gap.close
                } else {
                    ch.gap.low
                };
            }
            _ => {
                let guess = self.guess.trim().parse::<f64>().ok();
                let value = m.values.first().copied().flatten();
                rows.push(("your guess".into(), guess, "guess"));
                rows.push(("measured".into(), value, "measured"));
                if let Some(t) = m.theory {
                    rows.push(("theory".into(), Some(t), "theory"));
                }
                if !m.runs.is_empty() {
                    let vals: Vec<f64> = m.runs.iter().filter_map(|r| r.0).collect();
                    if let Some(summary) = Summary::of(&vals) {
                        let label = format!(
                            "{} runs: mean ({}–{})",
                            vals.len(),
                            shown(summary.min),
                            shown(summary.max)
                        );
                        rows.push((label, Some(summary.mean), "runs"));
                    }
                }
                result = match value {
                    Some(v) => format!("Measured: {} {u} (seed 7).", shown(v)),
                    None => "Measured: the run never got there.".into(),
                };
                verdict = match (guess, value) {
                    (Some(g), Some(v)) if (g - v).abs() <= 0.2 * v.abs().max(1.0) => ch.gap.close,
                    (Some(g), Some(v)) if g < v => ch.gap.low,
                    _ => ch.gap.high,
                };
            }
        }
        let max = rows
            .iter()
            .filter_map(|r| r.1)
            .fold(0.0_f64, f64::max)
            .max(1e-9);
        let bars = rows.iter().map(|(label, v, class)| {
            let width = v.map_or(0.0, |v| (100.0 * v / max).clamp(0.0, 100.0));
            html! {
                <li class={classes!("bar-row", *class)}>
                    <span class="bar-label">{ label.clone() }</span>
                    <span class="bar-track"><span class="bar-fill" style={format!("width:{width:.1}%")}></span></span>
                    <span class="bar-value">{ v.map_or("—".to_string(), |v| format!("{} {u}", shown(v))) }</span>
                </li>
            }
        });
        let runs_button =
            matches!(q.answer, Answer::Number { .. } | Answer::Percent) && m.runs.is_empty();
        html! { <>
            <p class="lesson-result" data-testid="lesson-result">{ result }</p>
            <ul class="compare" aria-label="Your guess, the measurement and theory">{ for bars }</ul>
            <p class="lesson-para gap">{ verdict }</p>
            if runs_button {
                <button class="link" data-testid="lesson-runs" onclick={ctx.link().callback(|_| Msg::Runs)}>{ "Run it 5 times (other seeds)" }</button>
            }
        </> }
    }

    /// The simulator with only what the step needs.
    fn stage_view(&self, ctx: &Context<Self>, kind: StepKind) -> Html {
        let link = ctx.link();
        let Some(stage) = &self.stage else {
            return html! {};
        };
        let controls = matches!(kind, StepKind::Run | StepKind::Compare | StepKind::Try);
        let onclick = link.callback(|ev: MouseEvent| {
            Msg::Click(f64::from(ev.offset_x()), f64::from(ev.offset_y()))
        });
        let chart = match stage {
            Stage::Rounds(sim) if !matches!(kind, StepKind::Read(_) | StepKind::Predict) => {
                let history = sim.engine().history();
                let ghost = sim.ghost.clone();
                let runs: Vec<Vec<f64>> = self
                    .measured
                    .as_ref()
                    .filter(|_| kind == StepKind::Compare)
                    .map(|m| m.runs.iter().map(|r| r.1.clone()).collect())
                    .unwrap_or_default();
                html! {
                        <Charts
                            informed={sim.informed_curve()}
                            theory={sim.theory.clone()}
                            messages={history.iter().skip(1).map(|h| (h.traffic.sent, h.traffic.lost)).collect::<Vec<_>>()}
                            {ghost}
                            {runs}
                            mongering={sim.engine().settings().tunables.interest.rule.is_rumor_mongering()} />
                }
            }
            Stage::Lab(sim, _) => {
                html! { <section class="panel stats">{ sim.view().stats(sim) }</section> }
            }
            _ => html! {},
        };
        let hand = kind == StepKind::Hand;
        let source_ring = match stage {
            Stage::Rounds(sim) if hand => sim.engine().node(0) != NodeView::Crashed,
            _ => false,
        };
        html! {
            <div class="lesson-stage">
                <section class="panel network-panel" aria-label="The network">
                    if let Stage::Lab(sim, _) = stage {
                        { panels::picture_switch(sim, self.picture, &link.callback(Msg::Picture)) }
                    }
                    <canvas ref={self.canvas.clone()} data-testid="network" class={classes!("network", hand.then_some("clickable"))} {onclick}
                        title={ if hand { "Click the node you tell this round" } else { "" } }></canvas>
                    <p class="stage-status" data-testid="round">{ stage.status() }</p>
                    if controls {
                        <div class="buttons stage-buttons">
                            <button class="primary" data-testid="play" onclick={link.callback(|_| Msg::TogglePlay)}>
                                { if self.playing { html! { <>{ icon(Icon::Pause) }{ "Pause" }</> } } else { html! { <>{ icon(Icon::Play) }{ "Play" }</> } } }
                            </button>
                            <button data-testid="step-back" onclick={link.callback(|_| Msg::Back)}>{ icon(Icon::Back) }{ "Back" }</button>
                            <button data-testid="step" onclick={link.callback(|_| Msg::Step)}>{ "Step" }{ icon(Icon::Step) }</button>
                            <button data-testid="reset" onclick={link.callback(|_| Msg::Restart)}>{ "↺ Again" }</button>
                        </div>
                    }
                    if source_ring {
                        <p class="hint light">{ "Node 0 is you (ringed)." }</p>
                    }
                    if let Stage::Lab(sim, _) = stage {
                        { panels::legend(sim, self.picture) }
                    }
                    if matches!(stage, Stage::Rounds(_)) {
                        <ul class="legend">
                            <li><span class="dot" style={format!("background:{}", palette::SUSCEPTIBLE)}></span>{ "unaware" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::SPREADING)}></span>{ "knows, spreading" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::STOPPED)}></span>{ "stopped" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::CRASHED)}></span>{ "crashed" }</li>
                        </ul>
                    }
                </section>
                { chart }
            </div>
        }
    }
}

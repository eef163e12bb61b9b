//! The batch panel: R seeded runs of the current settings in a Web Worker, with progress and
//! cancel, then a histogram of rounds to full infection, its mean and sd, theory's value and a
//! CSV download. Run `i` uses the same seed as `grapevine sim` run `i`, so the numbers agree.

use crate::batch::{csv_url, to_csv, BatchWorker, Reply, Request};
use crate::params::PageSettings;
use crate::sim::Sim;
use grapevine_core::experiment::{BatchSummary, RunFigures};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The most runs one batch may ask for (a million-node run takes about a tenth of a second).
pub const MAX_RUNS: u32 = 10_000;

/// Properties of [`BatchPanel`].
#[derive(Properties, PartialEq)]
pub struct BatchProps {
    /// The page's current settings: what a batch will run.
    pub settings: PageSettings,
}

/// A finished batch and what it was run with.
struct Results {
    settings: PageSettings,
    figures: Vec<RunFigures>,
    summary: BatchSummary,
    csv_url: String,
}

impl Drop for Results {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.csv_url);
    }
}

enum State {
    Idle,
    Running {
        runs: u32,
        done: u32,
        settings: Box<PageSettings>,
    },
    Failed(String),
}

pub enum Msg {
    RunsInput(String),
    Start,
    Cancel,
    FromWorker(Reply),
    WorkerFailed(String),
}

/// The batch panel.
pub struct BatchPanel {
    runs_text: String,
    worker: Option<BatchWorker>,
    state: State,
    results: Option<Results>,
    cancelled: bool,
}

impl BatchPanel {
    fn spawn(ctx: &Context<Self>) -> Result<BatchWorker, String> {
        let link = ctx.link().clone();
        BatchWorker::start(move |reply| {
            link.send_message(match reply {
                Ok(reply) => Msg::FromWorker(reply),
                Err(why) => Msg::WorkerFailed(why),
            })
        })
    }

    fn runs(&self) -> Result<u32, String> {
        match self.runs_text.trim().parse::<u32>() {
            Ok(r) if (1..=MAX_RUNS).contains(&r) => Ok(r),
            _ => Err(format!("Runs must be a whole number from 1 to {MAX_RUNS}.")),
        }
    }

    fn send_pending(&mut self) {
        let (Some(handle), State::Running { runs, settings, .. }) = (&self.worker, &self.state)
        else {
            return;
        };
        if handle.ready {
            let request = Request::Run {
                query: settings.to_query(),
                first: 0,
                runs: *runs,
            };
            handle.send(&request);
        }
    }
}

impl Component for BatchPanel {
    type Message = Msg;
    type Properties = BatchProps;

    fn create(_ctx: &Context<Self>) -> Self {
        BatchPanel {
            runs_text: "100".into(),
            worker: None,
            state: State::Idle,
            results: None,
            cancelled: false,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::RunsInput(text) => self.runs_text = text,
            Msg::Start => {
                let runs = match self.runs() {
                    Ok(r) => r,
                    Err(e) => {
                        self.state = State::Failed(e);
                        return true;
                    }
                };
                if self.worker.is_none() {
                    match Self::spawn(ctx) {
                        Ok(w) => self.worker = Some(w),
                        Err(e) => {
                            self.state = State::Failed(e);
                            return true;
                        }
                    }
                }
                self.cancelled = false;
                self.state = State::Running {
                    runs,
                    done: 0,
                    settings: Box::new(ctx.props().settings.clone()),
                };
                self.send_pending();
            }
            Msg::Cancel => {
                // A busy worker reads no messages: terminate it; the next batch starts another.
                self.worker = None;
                self.state = State::Idle;
                self.cancelled = true;
            }
            Msg::FromWorker(reply) => match reply {
                Reply::Ready => {
                    if let Some(w) = &mut self.worker {
                        w.ready = true;
                    }
                    self.send_pending();
                }
                Reply::Progress { done: d } => {
                    if let State::Running { done, .. } = &mut self.state {
                        *done = d;
                    }
                }
                Reply::Done { figures } => {
                    if let State::Running { settings, .. } = &self.state {
                        if let Some(summary) = BatchSummary::of(&figures) {
                            self.results = Some(Results {
                                settings: (**settings).clone(),
                                csv_url: csv_url(&to_csv(&figures)),
                                figures,
                                summary,
                            });
                        }
                        self.state = State::Idle;
                    }
                }
                Reply::Error { message } => self.state = State::Failed(message),
                Reply::Bench { .. } | Reply::BenchSignatures { .. } => {}
            },
            Msg::WorkerFailed(message) => {
                self.worker = None;
                self.state = State::Failed(message);
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let running = matches!(self.state, State::Running { .. });
        let oninput = link.callback(|e: InputEvent| {
            Msg::RunsInput(e.target_unchecked_into::<HtmlInputElement>().value())
        });
        let seed = ctx.props().settings.run.seed;
        html! {
            <section class="panel batch" aria-label="Batch runs">
                <h2>{ "Many runs" }</h2>
                <p class="hint">{ format!("Play the current settings many times, seeds derived from seed {seed} (run 0 is this very run). Same numbers as ") }<code>{ "grapevine sim" }</code>{ "." }</p>
                <div class="batch-controls">
                    <label>{ "Runs" }
                        <input type="number" min="1" max={MAX_RUNS.to_string()} value={self.runs_text.clone()} {oninput}
                            data-testid="batch-runs" disabled={running} />
                    </label>
                    if running {
                        <button onclick={link.callback(|_| Msg::Cancel)} data-testid="batch-cancel">{ "Cancel" }</button>
                    } else {
                        <button class="primary" onclick={link.callback(|_| Msg::Start)} data-testid="batch-run">{ "Run batch" }</button>
                    }
                </div>
                { match &self.state {
                    State::Running { runs, done, .. } => html! {
                        <div class="batch-progress">
                            <progress max={runs.to_string()} value={done.to_string()} data-testid="batch-progress"></progress>
                            <span>{ format!("{done} / {runs} runs") }</span>
                        </div>
                    },
                    State::Failed(message) => html! { <p class="batch-error" role="alert" data-testid="batch-error">{ message }</p> },
                    State::Idle if self.cancelled => html! { <p class="hint" data-testid="batch-cancelled">{ "Cancelled." }</p> },
                    State::Idle => html! {},
                } }
                if let Some(r) = &self.results { { results_view(r) } }
            </section>
        }
    }
}

fn results_view(r: &Results) -> Html {
    let s = &r.summary;
    let run = r.settings.run;
    let live = run.nodes - (run.crashed * f64::from(run.nodes)).round() as u32;
    let theory = if run.tunables.interest.rule.is_rumor_mongering() {
        None
    } else {
        Sim::expected_rounds(&r.settings, live)
    };
    let fmt = |x: f64| format!("{x:.2}");
    html! {
        <div class="batch-results">
            <p class="batch-of">{ format!("{} nodes, {}, seed {}, {} runs", run.nodes, run.protocol.name(), run.seed, s.runs) }</p>
            { histogram(&r.figures, s, theory) }
            <dl class="batch-figures">
                <dt>{ "rounds to inform all" }</dt>
                <dd>
                    if let Some(full) = s.rounds_to_full {
                        <span data-testid="batch-mean">{ fmt(full.mean) }</span>{ " ± " }<span data-testid="batch-sd">{ fmt(full.sd) }</span>
                    } else { { "never" } }
                    <span class="muted" data-testid="batch-completed">{ format!(" ({} of {} runs)", s.completed, s.runs) }</span>
                </dd>
                <dt>{ "theory" }</dt>
                <dd data-testid="batch-theory">{ match theory { Some(t) => t.to_string(), None => "— (rumor mongering)".into() } }</dd>
                <dt>{ "never informed" }</dt>
                <dd>{ format!("{:.2} %", 100.0 * s.residue.mean) }</dd>
                <dt>{ "messages per node" }</dt>
                <dd>{ fmt(s.messages_per_node.mean) }</dd>
            </dl>
            <a class="button" href={r.csv_url.clone()} download={format!("grapevine-batch-seed-{}.csv", run.seed)} data-testid="batch-csv">{ "Download CSV" }</a>
        </div>
    }
}

const HW: f64 = 420.0;
const HH: f64 = 120.0;
const PAD: f64 = 18.0;

/// Bars of how many runs informed everyone in each number of rounds; mean and theory marked.
fn histogram(figures: &[RunFigures], s: &BatchSummary, theory: Option<u32>) -> Html {
    let Some(full) = s.rounds_to_full else {
        return html! { <p class="hint">{ "No run informed every node." }</p> };
    };
    let (lo, hi) = (full.min as u32, full.max as u32);
    let mut counts = vec![0u32; (hi - lo + 1) as usize];
    for r in figures.iter().filter_map(|f| f.rounds_to_full) {
        counts[(r - lo) as usize] += 1;
    }
    let tallest = counts.iter().copied().max().unwrap_or(1).max(1);
    let span = f64::from(hi - lo + 1);
    let x = |rounds: f64| PAD + (HW - 2.0 * PAD) * (rounds - f64::from(lo) + 0.5) / span;
    let bar_w = ((HW - 2.0 * PAD) / span * 0.8).max(1.0);
    // Two labels, on two lines, so they never overlap when mean and theory agree.
    let marker = |at: f64, class: &'static str, label: String, y: f64| {
        let xm = x(at);
        html! { <>
            <line x1={xm.to_string()} x2={xm.to_string()} y1="4" y2={(HH - PAD).to_string()} class={class} />
            <text x={(xm + 3.0).to_string()} y={y.to_string()} class="tick">{ label }</text>
        </> }
    };
    // Every bar labelled when there are few; else the two ends.
    let labelled: Vec<u32> = if hi - lo <= 15 {
        (lo..=hi).collect()
    } else {
        vec![lo, hi]
    };
    html! {
        <svg viewBox={format!("0 0 {HW} {HH}")} class="histogram" role="img" data-testid="batch-histogram"
            aria-label="Histogram of rounds to inform every node">
            { for counts.iter().enumerate().map(|(i, &c)| {
                let h = (HH - 2.0 * PAD - 12.0) * f64::from(c) / f64::from(tallest);
                let xc = x(f64::from(lo + i as u32));
                html! { <rect x={(xc - bar_w / 2.0).to_string()} y={(HH - PAD - h).to_string()} width={bar_w.to_string()} height={h.to_string()} class="bar">
                    <title>{ format!("{} rounds: {c} runs", lo + i as u32) }</title>
                </rect> }
            }) }
            <line x1={PAD.to_string()} x2={(HW - PAD).to_string()} y1={(HH - PAD).to_string()} y2={(HH - PAD).to_string()} class="axis" />
            { for labelled.iter().map(|&r| html! {
                <text x={x(f64::from(r)).to_string()} y={(HH - 4.0).to_string()} class="tick" text-anchor="middle">{ r }</text>
            }) }
            { marker(full.mean, "mean", format!("mean {:.1}", full.mean), 12.0) }
            if let Some(t) = theory.filter(|&t| t >= lo && t <= hi + 1) {
                { marker(f64::from(t), "theory-mark", format!("theory {t}"), 27.0) }
            }
        </svg>
    }
}

//! Every chart of the page, in one SVG style: the round view's informed fraction per round
//! against theory and its messages per round, each over the previous run's faint ghost; and
//! the lab's quantities over time ([`time_chart`]), with the scenario's steps marked, on a
//! linear or a logarithmic axis. Plain SVG: a few hundred points at most.

use crate::palette;
use crate::sim::Ghost;
use grapevine_core::lab::Millis;
use yew::prelude::*;

/// Properties of [`Charts`].
#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    /// Measured informed fraction per round (round 0 first).
    pub informed: Vec<f64>,
    /// Theory's informed fraction per round.
    pub theory: Vec<f64>,
    /// Messages sent per round (round 1 first) and how many of them were lost.
    pub messages: Vec<(u64, u64)>,
    /// The previous run.
    pub ghost: Option<Ghost>,
    /// Other runs of the same settings (other seeds), each an informed curve drawn faintly.
    #[prop_or_default]
    pub runs: Vec<Vec<f64>>,
    /// Whether the current stop rule is rumor mongering (the theory assumes anti-entropy).
    pub mongering: bool,
}

const W: f64 = 420.0;
const H: f64 = 170.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;

fn sx(round: f64, max_round: f64) -> f64 {
    LEFT + (W - LEFT - RIGHT) * round / max_round.max(1.0)
}

fn sy(v: f64, max_v: f64) -> f64 {
    H - BOTTOM - (H - BOTTOM - TOP) * (v / max_v.max(1e-9)).clamp(0.0, 1.0)
}

fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    points.map(|(x, y)| format!("{x:.1},{y:.1} ")).collect()
}

/// The first of `steps` that puts at most eight ticks over `span` (else ten times the last).
fn tick_step(span: f64, steps: &[f64]) -> f64 {
    let last = steps.last().copied().unwrap_or(1.0) * 10.0;
    steps
        .iter()
        .copied()
        .find(|s| span / s <= 8.0)
        .unwrap_or(last)
}

/// Horizontal grid lines with their labels on the left, and the x axis.
fn y_grid(labels: &[(f64, String)]) -> Html {
    html! { <>
        { for labels.iter().map(|(y, label)| html! { <>
            <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={y.to_string()} y2={y.to_string()} class="grid" />
            <text x={(LEFT - 4.0).to_string()} y={(y + 3.5).to_string()} class="tick" text-anchor="end">{ label }</text>
        </> }) }
        <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM).to_string()} class="axis" />
    </> }
}

/// Round ticks: about six, at round numbers.
fn x_ticks(max_round: f64) -> Html {
    let step = tick_step(
        max_round,
        &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0],
    );
    let count = (max_round / step).floor() as u32;
    html! { <>{ for (0..=count).map(|i| {
        let r = f64::from(i) * step;
        let x = sx(r, max_round);
        html! { <>
            <line x1={x.to_string()} x2={x.to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM + 4.0).to_string()} class="axis" />
            <text x={x.to_string()} y={(H - 6.0).to_string()} class="tick" text-anchor="middle">{ r }</text>
        </> }
    }) }</> }
}

fn frame(y_labels: [(f64, String); 3], max_round: f64) -> Html {
    html! { <>
        { y_grid(&y_labels) }
        { x_ticks(max_round) }
    </> }
}

/// Both charts.
#[function_component(Charts)]
pub fn charts(p: &ChartsProps) -> Html {
    let ghost_len = p
        .ghost
        .iter()
        .map(|g| g.informed.len())
        .chain(p.runs.iter().map(Vec::len))
        .max()
        .unwrap_or(0);
    let max_round = (p.informed.len().max(p.theory.len()).max(ghost_len).max(2) - 1) as f64;
    let curve = |xs: &[f64]| {
        polyline(
            xs.iter()
                .enumerate()
                .map(|(r, &v)| (sx(r as f64, max_round), sy(v, 1.0))),
        )
    };
    let max_msgs = p
        .messages
        .iter()
        .map(|m| m.0)
        .chain(p.ghost.iter().flat_map(|g| g.messages.iter().copied()))
        .max()
        .unwrap_or(0);
    let max_msgs = nice_ceiling(max_msgs) as f64;
    let bar_w = ((W - LEFT - RIGHT) / max_round.max(1.0) * 0.7).max(1.0);
    let msg_labels = [
        (sy(0.0, 1.0), "0".to_string()),
        (sy(0.5, 1.0), compact(max_msgs / 2.0)),
        (sy(1.0, 1.0), compact(max_msgs)),
    ];
    let pct_labels = [
        (sy(0.0, 1.0), "0%".to_string()),
        (sy(0.5, 1.0), "50%".to_string()),
        (sy(1.0, 1.0), "100%".to_string()),
    ];
    let viewbox = format!("0 0 {W} {H}");
    html! {
        <section class="panel charts" aria-label="Charts">
            <h2>{ "Informed nodes per round" }</h2>
            <svg viewBox={viewbox.clone()} role="img" aria-label="Informed fraction per round, measured and theory" data-testid="chart-informed">
                { frame(pct_labels, max_round) }
                if let Some(g) = &p.ghost {
                    <polyline points={curve(&g.informed)} class="ghost" />
                }
                { for p.runs.iter().map(|r| html! { <polyline points={curve(r)} class="run" /> }) }
                <polyline points={curve(&p.theory)} class="theory" />
                <polyline points={curve(&p.informed)} class="measured" style={format!("stroke:{}", palette::SPREADING)} />
            </svg>
            <p class="key">
                <span class="swatch" style={format!("background:{}", palette::SPREADING)}></span>{ "this run " }
                <span class="swatch dashed"></span>{ if p.mongering { "theory for anti-entropy (nodes that never stop) " } else { "theory (mean field) " } }
                if let Some(g) = &p.ghost { <><span class="swatch ghost"></span>{ format!("previous run: {}", g.label) }</> }
                if !p.runs.is_empty() { <><span class="swatch run"></span>{ format!("{} runs with other seeds", p.runs.len()) }</> }
            </p>
            <h2>{ "Messages per round" }</h2>
            <svg viewBox={viewbox} role="img" aria-label="Messages per round" data-testid="chart-messages">
                { frame(msg_labels, max_round) }
                { for p.messages.iter().enumerate().map(|(i, &(sent, lost))| {
                    let x = sx((i + 1) as f64, max_round) - bar_w / 2.0;
                    let (y_sent, y_lost) = (sy(sent as f64, max_msgs), sy(lost as f64, max_msgs));
                    html! { <>
                        <rect x={x.to_string()} y={y_sent.to_string()} width={bar_w.to_string()} height={(H - BOTTOM - y_sent).to_string()} class="bar" />
                        <rect x={x.to_string()} y={y_lost.to_string()} width={bar_w.to_string()} height={(H - BOTTOM - y_lost).to_string()} class="bar-lost" />
                    </> }
                }) }
                if let Some(g) = &p.ghost {
                    <polyline points={polyline(g.messages.iter().enumerate().map(|(i, &m)| (sx((i + 1) as f64, max_round), sy(m as f64, max_msgs))))} class="ghost" />
                }
            </svg>
            <p class="key">
                <span class="swatch" style="background:#94a3b8"></span>{ "sent " }
                <span class="swatch" style={format!("background:{}", palette::LOST)}></span>{ "of which lost " }
                if p.ghost.is_some() { <><span class="swatch ghost"></span>{ "previous run" }</> }
            </p>
        </section>
    }
}

/// The smallest of 2, 5, 10, 20, 50... at or above `v`: axis labels in round numbers.
pub fn nice_ceiling(v: u64) -> u64 {
    let mut unit = 1u64;
    loop {
        for m in [2, 5, 10] {
            if v <= m * unit {
                return m * unit;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A count for an axis label: `950`, `1.5k`, `2.0M`.
pub fn compact(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// How values map to heights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// From 0 to a round number at or above the largest value (at least `min_top`).
    Linear {
        /// The smallest top of the axis.
        min_top: f64,
        /// Values are shares, labelled in per cent.
        percent: bool,
    },
    /// Powers of ten from 10^`low` to 10^`high`; values outside are drawn at the edges.
    Log {
        /// Exponent at the bottom.
        low: i32,
        /// Exponent at the top.
        high: i32,
    },
}

/// One line.
pub struct Series {
    /// Its colour (CSS).
    pub colour: &'static str,
    /// Dashed (a bound or a theory) or solid (measured).
    pub dashed: bool,
    /// (seconds, value) points.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A solid line of a run's samples over time (seconds), one value picked from each.
    pub fn of<S>(
        samples: &[(Millis, S)],
        colour: &'static str,
        pick: impl Fn(&S) -> f64,
    ) -> Series {
        Series {
            colour,
            dashed: false,
            points: samples
                .iter()
                .map(|(at, s)| (at.0 as f64 / 1000.0, pick(s)))
                .collect(),
        }
    }
}

/// A chart of `series` over 0..`end_s` seconds; `marks`: the scenario's step times, s;
/// `now_s`: the run's time.
pub fn time_chart(
    label: &str,
    testid: &str,
    axis: Axis,
    series: &[Series],
    marks: &[f64],
    end_s: f64,
    now_s: f64,
) -> Html {
    let end_s = end_s.max(1.0);
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * (t / end_s).clamp(0.0, 1.0);
    let plot_h = H - BOTTOM - TOP;
    // Linear axes: their top, a round number at or above the largest value.
    let top = match axis {
        Axis::Linear { min_top, .. } => {
            let max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(min_top, f64::max);
            if max <= min_top {
                min_top
            } else {
                nice_ceiling(max.ceil() as u64) as f64
            }
        }
        Axis::Log { .. } => 1.0,
    };
    let y = |v: f64| {
        let f = match axis {
            Axis::Linear { .. } => v / top,
            Axis::Log { low, high } => {
                let e = if v > 0.0 { v.log10() } else { f64::from(low) };
                (e - f64::from(low)) / f64::from(high - low)
            }
        };
        H - BOTTOM - plot_h * f.clamp(0.0, 1.0)
    };
    let labels: Vec<(f64, String)> = match axis {
        Axis::Linear { percent, .. } => [0.0, 0.5, 1.0]
            .iter()
            .map(|f| {
                let v = top * f;
                let text = if percent {
                    format!("{:.0}%", v * 100.0)
                } else if top < 10.0 {
                    format!("{v}")
                } else {
                    compact(v)
                };
                (y(v), text)
            })
            .collect(),
        Axis::Log { low, high } => (low..=high)
            .rev()
            .step_by(((high - low) / 4).max(1) as usize)
            .map(|e| (y(10f64.powi(e)), format!("1e{e}")))
            .collect(),
    };
    let step = tick_step(
        end_s,
        &[
            1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ],
    );
    let ticks = (0..=(end_s / step) as u32).map(|k| f64::from(k) * step);
    let line = |s: &Series| -> String {
        s.points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1} ", x(t), y(v)))
            .collect()
    };
    html! {
        <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={label.to_string()} data-testid={testid.to_string()}>
            { y_grid(&labels) }
            { for ticks.map(|t| html! {
                <text x={x(t).to_string()} y={(H - 6.0).to_string()} class="tick" text-anchor="middle">{ format!("{t}s") }</text>
            }) }
            { for marks.iter().map(|&t| html! {
                <line x1={x(t).to_string()} x2={x(t).to_string()} y1={TOP.to_string()} y2={(H - BOTTOM).to_string()} class="mark" />
            }) }
            <line x1={x(now_s).to_string()} x2={x(now_s).to_string()} y1={TOP.to_string()} y2={(H - BOTTOM).to_string()} class="now" />
            { for series.iter().map(|s| html! {
                <polyline points={line(s)} class={if s.dashed { "theory" } else { "measured" }}
                    style={format!("stroke:{}", s.colour)} />
            }) }
        </svg>
    }
}

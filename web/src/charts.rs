//! Every chart of the page, in one SVG style: the round view's informed fraction per round
//! against theory and its messages per round, each over the previous run's faint ghost; and
//! the lab's quantities over time ([`time_chart`]), with the scenario's steps marked, on a
//! linear or a logarithmic axis. Plain SVG: a few hundred points at most.

use crate::palette;
use crate::sim::Ghost;
use grapevine_core::lab::Millis;
use grapevine_core::sweep::short_number;
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

/// One bar per round (round 1 first) of `width`, as one path: a run of hundreds of rounds
/// redrawn every frame is two elements, not two per round.
fn bars(values: impl Iterator<Item = u64>, max_round: f64, max_v: f64, width: f64) -> String {
    let base = H - BOTTOM;
    (1..)
        .zip(values)
        .map(|(r, v)| {
            let x = sx(f64::from(r), max_round) - width / 2.0;
            let y = sy(v as f64, max_v);
            format!("M{x:.2} {base}V{y:.2}h{width:.2}V{base}Z")
        })
        .collect()
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
                <path d={bars(p.messages.iter().map(|m| m.0), max_round, max_msgs, bar_w)} class="bar" />
                <path d={bars(p.messages.iter().map(|m| m.1), max_round, max_msgs, bar_w)} class="bar-lost" />
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

/// One series of a [`sweep_chart`].
pub struct SweepLine {
    /// The series' value (empty when the comparison has no series).
    pub name: String,
    /// Its colour (CSS).
    pub colour: &'static str,
    /// Its points, in x order.
    pub marks: Vec<SweepMark>,
}

/// One point of a series.
pub struct SweepMark {
    /// Where on the x-axis: the value, or its index among categories.
    pub x: f64,
    /// The value as written.
    pub x_label: String,
    /// The mean over the runs that have the figure, its 95 % interval, and their number.
    pub measured: Option<(f64, [f64; 2], u32)>,
    /// What theory expects there, where the core has a model.
    pub theory: Option<f64>,
}

/// A recorded room drawn beside a comparison's series (a black cross with its interval).
pub struct SweepRoom {
    /// Where on the x-axis (see [`SweepMark::x`]).
    pub x: f64,
    /// Its value on the x-axis as written.
    pub x_label: String,
    /// The record's file name.
    pub name: String,
    /// The figure's mean over the room's rumors, its 95 % interval and their number.
    pub measured: (f64, [f64; 2], u32),
}

/// What a [`sweep_chart`]'s axes show.
pub struct SweepAxes {
    /// The x-axis' setting.
    pub x_name: String,
    /// Its values as categories (not numbers): then a mark's x is its index.
    pub categories: Option<Vec<String>>,
    /// The y-axis' label, with its unit.
    pub y_label: String,
}

const SW: f64 = 720.0;
const SH: f64 = 380.0;
const S_LEFT: f64 = 64.0;
const S_RIGHT: f64 = 16.0;
const S_TOP: f64 = 42.0;
const S_BOTTOM: f64 = 52.0;

/// A round step between ticks: 1, 2 or 5 times a power of ten, about five over `span`.
fn round_step(span: f64) -> f64 {
    let raw = (span / 5.0).max(1e-12);
    let unit = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * unit)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * unit)
}

/// The figure a comparison gives: per series the mean at each point with its 95 % band, theory
/// dashed where the core has it; a log x-axis for values spread over two decades or more,
/// categories side by side. Each mean is a `compare-point` with `data-x`, `data-series` and
/// `data-mean` (and a tooltip); each room a `compare-room-point` with `data-x`, `data-file`
/// and `data-mean`.
pub fn sweep_chart(axes: &SweepAxes, lines: &[SweepLine], rooms: &[SweepRoom]) -> Html {
    let marks = || lines.iter().flat_map(|l| l.marks.iter());
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for m in marks() {
        if let Some((_, [a, b], _)) = m.measured {
            (lo, hi) = (lo.min(a), hi.max(b));
        }
        if let Some(t) = m.theory {
            (lo, hi) = (lo.min(t), hi.max(t));
        }
    }
    for r in rooms {
        let (_, [a, b], _) = r.measured;
        (lo, hi) = (lo.min(a), hi.max(b));
    }
    if !lo.is_finite() {
        return html! { <p class="hint" data-testid="compare-chart">{ "No run reached this figure at any point." }</p> };
    }
    if lo >= 0.0 {
        lo = 0.0;
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let step = round_step(hi - lo);
    let (y0, y1) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let (x0, x1) = marks()
        .map(|m| m.x)
        .chain(rooms.iter().map(|r| r.x))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let categories = axes.categories.as_ref();
    let log_x = categories.is_none() && x0 > 0.0 && x1 / x0 >= 100.0;
    let (fx0, fx1) = if log_x {
        (x0.log10(), x1.log10())
    } else {
        (x0, x1)
    };
    let pad = if categories.is_some() || fx1 <= fx0 {
        0.5
    } else {
        (fx1 - fx0) * 0.04
    };
    let (fx0, fx1) = (fx0 - pad, fx1 + pad);
    let plot_w = SW - S_LEFT - S_RIGHT;
    // Categories with long names (topologies) take two rows of labels, alternating, so that
    // they do not run into each other where the chart is drawn small.
    let stagger = axes
        .categories
        .as_ref()
        .is_some_and(|c| c.iter().map(String::len).sum::<usize>() > 36);
    let bottom = if stagger { S_BOTTOM + 26.0 } else { S_BOTTOM };
    let plot_h = SH - S_TOP - bottom;
    let sx = |x: f64| {
        let f = if log_x { x.log10() } else { x };
        S_LEFT + plot_w * (f - fx0) / (fx1 - fx0)
    };
    let sy = |y: f64| S_TOP + plot_h * (1.0 - (y - y0) / (y1 - y0));
    // Categories' series side by side, so their intervals do not hide each other.
    let k = lines.len() as f64;
    let shift = |i: usize| match categories {
        Some(_) if lines.len() > 1 => (i as f64 - (k - 1.0) / 2.0) * 0.3 / k,
        _ => 0.0,
    };
    let y_ticks: Vec<f64> = (0..)
        .map(|i| y0 + step * f64::from(i))
        .take_while(|y| *y <= y1 + step * 1e-6)
        .collect();
    // Ticks at the values a comparison was run at (few), else round numbers.
    let mut x_ticks: Vec<(f64, String)> = Vec::new();
    for m in marks() {
        if !x_ticks.iter().any(|(x, _)| *x == m.x) {
            x_ticks.push((m.x, m.x_label.clone()));
        }
    }
    if categories.is_none() && x_ticks.len() > 12 && !log_x {
        let step = round_step(x1 - x0);
        x_ticks = (0..)
            .map(|i| (x0 / step).ceil() * step + step * f64::from(i))
            .take_while(|x| *x <= x1)
            .map(|x| (x, short_number(x)))
            .collect();
    }
    let poly = |pts: &[(f64, f64)]| -> String {
        pts.iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        <svg viewBox={format!("0 0 {SW} {SH}")} class="sweep-chart" role="img" data-testid="compare-chart"
            aria-label={format!("{} against {}", axes.y_label, axes.x_name)}>
            { for y_ticks.iter().map(|&y| html! { <>
                <line class="grid" x1={S_LEFT.to_string()} x2={(SW - S_RIGHT).to_string()} y1={format!("{:.1}", sy(y))} y2={format!("{:.1}", sy(y))} />
                <text class="tick" x={(S_LEFT - 6.0).to_string()} y={format!("{:.1}", sy(y) + 4.0)} text-anchor="end">{ short_number(y) }</text>
            </> }) }
            <line class="axis" x1={S_LEFT.to_string()} x2={(SW - S_RIGHT).to_string()} y1={(SH - bottom).to_string()} y2={(SH - bottom).to_string()} />
            <line class="axis" x1={S_LEFT.to_string()} x2={S_LEFT.to_string()} y1={S_TOP.to_string()} y2={(SH - bottom).to_string()} />
            { for x_ticks.iter().enumerate().map(|(i, (x, label))| {
                let row = if stagger && i % 2 == 1 { 24.0 } else { 0.0 };
                html! {
                    <text class="tick" x={format!("{:.1}", sx(*x))} y={(SH - bottom + 20.0 + row).to_string()} text-anchor="middle">{ label }</text>
                }
            }) }
            <text class="axis-label" x={(S_LEFT + plot_w / 2.0).to_string()} y={(SH - 8.0).to_string()} text-anchor="middle">
                { if log_x { format!("{} (log scale)", axes.x_name) } else { axes.x_name.clone() } }
            </text>
            <text class="axis-label" x={(S_LEFT - 40.0).to_string()} y="22">{ &axes.y_label }</text>
            { for lines.iter().enumerate().map(|(i, line)| {
                let d = shift(i);
                let measured: Vec<(f64, f64, [f64; 2])> = line.marks.iter()
                    .filter_map(|m| m.measured.map(|(mean, band, _)| (m.x + d, mean, band)))
                    .collect();
                let band: Vec<(f64, f64)> = measured.iter().map(|&(x, _, [a, _])| (x, a))
                    .chain(measured.iter().rev().map(|&(x, _, [_, b])| (x, b)))
                    .collect();
                let means: Vec<(f64, f64)> = measured.iter().map(|&(x, m, _)| (x, m)).collect();
                let theory: Vec<(f64, f64)> = line.marks.iter().filter_map(|m| m.theory.map(|t| (m.x + d, t))).collect();
                let joined = categories.is_none();
                html! { <g class="series" style={format!("color: {}", line.colour)}>
                    if joined && measured.len() > 1 {
                        <polygon class="band" points={poly(&band)} />
                    }
                    if !joined {
                        { for measured.iter().map(|&(x, _, [a, b])| html! {
                            <line class="whisker" x1={format!("{:.1}", sx(x))} x2={format!("{:.1}", sx(x))} y1={format!("{:.1}", sy(a))} y2={format!("{:.1}", sy(b))} />
                        }) }
                    }
                    if joined && means.len() > 1 {
                        <polyline class="mean-line" points={poly(&means)} />
                    }
                    if theory.len() > 1 && joined {
                        <polyline class="theory-line" points={poly(&theory)} />
                    }
                    if !joined {
                        { for theory.iter().map(|&(x, t)| html! {
                            <line class="theory-line" x1={format!("{:.1}", sx(x) - 9.0)} x2={format!("{:.1}", sx(x) + 9.0)} y1={format!("{:.1}", sy(t))} y2={format!("{:.1}", sy(t))} />
                        }) }
                    }
                    { for line.marks.iter().filter_map(|m| m.measured.map(|v| (m, v))).map(|(m, (mean, [a, b], n))| {
                        let series = if line.name.is_empty() { String::new() } else { format!("{}, ", line.name) };
                        let theory = m.theory.map(|t| format!("; theory {}", short_number(t))).unwrap_or_default();
                        let tip = format!("{series}{} {}: mean {} (95 % interval {} to {}, {n} runs){theory}",
                            axes.x_name, m.x_label, short_number(mean), short_number(a), short_number(b));
                        html! {
                            <circle class="mean" r="4" cx={format!("{:.1}", sx(m.x + d))} cy={format!("{:.1}", sy(mean))}
                                data-testid="compare-point" data-x={m.x_label.clone()} data-series={line.name.clone()} data-mean={mean.to_string()}>
                                <title>{ tip }</title>
                            </circle>
                        }
                    }) }
                </g> }
            }) }
            { for rooms.iter().map(|r| {
                let (mean, [a, b], n) = r.measured;
                let (x, y) = (sx(r.x), sy(mean));
                let tip = format!("{}: {} {}, mean {} over {n} rumors (95 % interval {} to {})",
                    r.name, axes.x_name, r.x_label, short_number(mean), short_number(a), short_number(b));
                html! { <g class="room" data-testid="compare-room-point" data-x={r.x_label.clone()} data-file={r.name.clone()} data-mean={mean.to_string()}>
                    <title>{ tip }</title>
                    <line class="whisker" x1={format!("{x:.1}")} x2={format!("{x:.1}")} y1={format!("{:.1}", sy(a))} y2={format!("{:.1}", sy(b))} />
                    <path class="cross" d={format!("M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}", x - 7.0, y - 7.0, x + 7.0, y + 7.0, x - 7.0, y + 7.0, x + 7.0, y - 7.0)} />
                </g> }
            }) }
        </svg>
    }
}

//! Charts beside the network: informed fraction per round against theory, and messages per
//! round, each over the previous run's faint ghost.

use crate::palette;
use crate::sim::Ghost;
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
    /// Whether the current stop rule is rumor mongering (the theory assumes anti-entropy).
    pub mongering: bool,
}

const W: f64 = 420.0;
const H: f64 = 170.0;
const LEFT: f64 = 38.0;
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

/// Round ticks: about six, at round numbers.
fn x_ticks(max_round: f64) -> Html {
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .find(|s| max_round / s <= 8.0)
        .unwrap_or(1000.0);
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
        { for y_labels.into_iter().map(|(y, label)| html! { <>
            <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={y.to_string()} y2={y.to_string()} class="grid" />
            <text x={(LEFT - 4.0).to_string()} y={(y + 3.5).to_string()} class="tick" text-anchor="end">{ label }</text>
        </> }) }
        <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM).to_string()} class="axis" />
        { x_ticks(max_round) }
    </> }
}

/// Both charts.
#[function_component(Charts)]
pub fn charts(p: &ChartsProps) -> Html {
    let ghost_len = p.ghost.as_ref().map_or(0, |g| g.informed.len());
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
                <polyline points={curve(&p.theory)} class="theory" />
                <polyline points={curve(&p.informed)} class="measured" style={format!("stroke:{}", palette::SPREADING)} />
            </svg>
            <p class="key">
                <span class="swatch" style={format!("background:{}", palette::SPREADING)}></span>{ "this run " }
                <span class="swatch dashed"></span>{ if p.mongering { "theory for anti-entropy (nodes that never stop) " } else { "theory (mean field) " } }
                if let Some(g) = &p.ghost { <><span class="swatch ghost"></span>{ format!("previous run: {}", g.label) }</> }
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

pub fn compact(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

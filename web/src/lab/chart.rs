//! The lab's charts: quantities over the run's time, with the scenario's steps marked, on a
//! linear or a logarithmic axis. Plain SVG: a few hundred points at most.

use crate::charts::{compact, nice_ceiling};
use yew::prelude::*;

const W: f64 = 420.0;
const H: f64 = 170.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;

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
    let tick_step = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| end_s / s <= 8.0)
    .unwrap_or(7200.0);
    let ticks = (0..=(end_s / tick_step) as u32).map(|k| f64::from(k) * tick_step);
    let line = |s: &Series| -> String {
        s.points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1} ", x(t), y(v)))
            .collect()
    };
    html! {
        <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={label.to_string()} data-testid={testid.to_string()}>
            { for labels.iter().map(|(ly, text)| html! { <>
                <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={ly.to_string()} y2={ly.to_string()} class="grid" />
                <text x={(LEFT - 4.0).to_string()} y={(ly + 3.5).to_string()} class="tick" text-anchor="end">{ text }</text>
            </> }) }
            <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM).to_string()} class="axis" />
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

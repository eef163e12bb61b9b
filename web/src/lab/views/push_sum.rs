//! Push-sum's view: a grid coloured by each node's error, the worst error per round on a log
//! scale against Kempe's bound, the mass off the nodes, a node's (sum, weight).

use super::super::sim::LabSim;
use super::protocol_view::{Chart, ProtocolView};
use crate::charts::{Axis, Series};
use crate::controls::Change;
use crate::palette::{self, BOUND, DEAD, DOWN, EXACT, MASS, NEW, OTHER_STATE};
use crate::stats::stat;
use grapevine_core::lab::push_sum::{PushSumObserver, Spec};
use grapevine_core::lab::scenario::{Command, Op};
use grapevine_core::lab::Run;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Push-sum's view.
pub struct PushSum;

fn run(sim: &LabSim) -> Option<&Run<Spec>> {
    sim.run::<Spec>()
}

/// A relative error as a colour, from bluish green (10^-8 or better) through yellow to
/// vermillion (100 % or worse).
fn error_colour(error: f64) -> [u8; 4] {
    let t = if error.is_finite() {
        ((error.max(1e-12).log10() + 8.0) / 8.0).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let [a, b, c] = [EXACT, NEW, DEAD].map(palette::rgba);
    let (from, to, f) = if t < 0.5 {
        (a, b, t * 2.0)
    } else {
        (b, c, t * 2.0 - 1.0)
    };
    let mix = |k: usize| (f64::from(from[k]) + (f64::from(to[k]) - f64::from(from[k])) * f) as u8;
    [mix(0), mix(1), mix(2), 255]
}

impl ProtocolView for PushSum {
    fn name(&self) -> &'static str {
        "push-sum"
    }

    fn what(&self) -> &'static str {
        "Every interval (1 s), each node keeps half of its pair (sum, weight) and sends the other half to a random node; \
         its estimate is sum / weight. No mass is created or destroyed, so every estimate converges to the true average, \
         exponentially fast (Kempe, Dobra, Gehrke 2003). A lost message loses mass: the estimates then drift."
    }

    fn picture(&self) -> &'static str {
        "Each cell is a node, coloured by the error of its estimate (green: within 10⁻⁸; red: 100 %). Click a node to inspect it."
    }

    fn message_text(&self) -> &'static str {
        "Every period each node keeps half of its (sum, weight) and sends the other half to one random node (a share, green): \
         nothing answers, so every dot is filled. A lost share is mass gone for good, and the estimates drift away from \
         the true average."
    }

    fn legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        (
            vec![
                (EXACT, "error ≤ 10⁻⁸"),
                (NEW, "10⁻⁴"),
                (DEAD, "≥ 100 %"),
                (OTHER_STATE, "no estimate yet"),
                (DOWN, "crashed"),
            ],
            None,
        )
    }

    fn stats(&self, sim: &LabSim) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let (error, mass) = run
            .samples()
            .last()
            .map_or((f64::INFINITY, 1.0), |(_, s)| (s.error, s.mass));
        html! { <>
            { stat("True value", format!("{:.4}", PushSumObserver::truth(run.lab())), None,
                Some("over the live nodes".into())) }
            { stat("Worst error", if error.is_finite() { format!("{error:.1e}") } else { "–".into() }, Some("lab-error"),
                Some(format!("relative · mass {:.6}", mass).into())) }
        </> }
    }

    fn chart(&self, sim: &LabSim) -> Option<Chart> {
        let run = run(sim)?;
        let samples = run.samples();
        let end = sim.end().0 as f64 / 1000.0;
        // Kempe et al.'s bound: the potential at least halves every round in expectation,
        // so the relative error shrinks by √2 at least; drawn from the first measured point
        // (docs/FIDELITY.md holds the measured decay against it).
        let first = samples
            .first()
            .filter(|(_, s)| s.error.is_finite())
            .map(|(at, s)| (at.0 as f64 / 1000.0, s.error));
        let mut series = vec![
            Series::of(samples, DEAD, |s| s.error),
            Series::of(samples, MASS, |s| (1.0 - s.mass).abs()),
        ];
        if let Some((t0, e0)) = first {
            let points = (0..=((end - t0) as i32).max(0))
                .map(|k| {
                    (
                        t0 + f64::from(k),
                        e0 * std::f64::consts::FRAC_1_SQRT_2.powi(k),
                    )
                })
                .take_while(|p| p.1 > 1e-13)
                .collect();
            series.push(Series {
                colour: BOUND,
                dashed: true,
                points,
            });
        }
        Some(Chart {
            title: "Worst relative error of an estimate, per round (log scale)",
            label: "Push-sum error per round, log scale",
            axis: Axis::Log { low: -12, high: 0 },
            series,
            key: vec![
                (DEAD, "worst error"),
                (MASS, "weight off the nodes: in flight or lost (1 − Σw / N)"),
                (BOUND, "Kempe's bound (÷√2 a round)"),
            ],
        })
    }

    fn inspector(&self, sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let node = run.lab().network().node(i);
        let (sum, weight) = node.mass();
        let truth = PushSumObserver::truth(run.lab());
        let estimate = node.estimate();
        let value_input = NodeRef::default();
        let set = {
            let cb = on_change.clone();
            let input = value_input.clone();
            Callback::from(move |_: MouseEvent| {
                if let Some(x) = input
                    .cast::<HtmlInputElement>()
                    .and_then(|el| el.value().trim().parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                {
                    cb.emit(Change::AddStep(Op::Command(Command::new(
                        "value",
                        i,
                        &x.to_string(),
                    ))));
                }
            })
        };
        html! { <>
            <dl class="facts-grid">
                <dt>{ "its value" }</dt><dd>{ format!("{:.4}", node.value()) }</dd>
                <dt>{ "its estimate" }</dt><dd data-testid="inspect-estimate">{ estimate.map_or("none yet (weight 0)".into(), |e| format!("{e:.6}")) }</dd>
                <dt>{ "true value" }</dt><dd>{ format!("{truth:.6}") }</dd>
                <dt>{ "error" }</dt><dd>{ estimate.map_or("–".into(), |_| format!("{:.1e}", PushSumObserver::error(node, truth))) }</dd>
                <dt>{ "sum, weight" }</dt><dd>{ format!("{sum:.4}, {weight:.6}") }</dd>
            </dl>
            <div class="add-now">
                <input ref={value_input} type="text" inputmode="decimal" placeholder="new value" aria-label="New value" />
                <button onclick={set}>{ "Set its value now" }</button>
            </div>
        </> }
    }

    fn colours(&self, sim: &LabSim) -> Vec<[u8; 4]> {
        let Some(run) = run(sim) else {
            return vec![palette::rgba(DOWN); sim.len() as usize];
        };
        let net = run.lab().network();
        let truth = PushSumObserver::truth(run.lab());
        let (down, none) = (palette::rgba(DOWN), palette::rgba(OTHER_STATE));
        let colour = |i: u32| {
            if !net.is_up(i) {
                return down;
            }
            let node = net.node(i);
            match node.estimate() {
                Some(_) => error_colour(PushSumObserver::error(node, truth)),
                None => none,
            }
        };
        (0..sim.len()).map(colour).collect()
    }
}

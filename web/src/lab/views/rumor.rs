//! Rumor spreading's view: up to 2,000 nodes the round view's picture (nodes on a circle,
//! who told whom during the last interval as arrows, newcomers ringed), beyond one cell per
//! node in the same colours; how far the first rumor got; a node's rumors.

use super::super::draw::LabPainter;
use super::super::sim::{seconds, LabSim, PERIOD_MS};
use super::protocol_view::{Chart, ProtocolView};
use crate::charts::{Axis, Series};
use crate::controls::Change;
use crate::draw::{blank, draw_layout, layout_node_at, node_colour, Scene, LAYOUT_MAX_NODES};
use crate::palette::{self, CRASHED, SPREADING, STOPPED, SUSCEPTIBLE};
use crate::stats::stat;
use grapevine_core::lab::rumor::{Infection, RumorObserver, Spec};
use grapevine_core::lab::{Millis, Run};
use grapevine_core::metrics::{Fate, MessageKind, Transmission};
use grapevine_core::{NodeView, Phase, Topology};
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// Rumor spreading's view.
pub struct Rumor;

fn run(sim: &LabSim) -> Option<&Run<Spec>> {
    sim.run::<Spec>()
}

/// The run's last interval as the round view draws a round.
struct RumorScene<'a> {
    run: &'a Run<Spec>,
    now: Millis,
}

impl<'a> RumorScene<'a> {
    fn of(sim: &'a LabSim) -> Option<Self> {
        Some(RumorScene {
            run: run(sim)?,
            now: sim.now(),
        })
    }

    /// The first rumor's infections during the last interval (the one just played).
    fn recent(&self) -> impl Iterator<Item = (u32, Infection)> + '_ {
        let since = self.now.0.saturating_sub(PERIOD_MS);
        let now = self.now;
        self.run
            .observer()
            .infections
            .iter()
            .map(|(&i, &f)| (i, f))
            .filter(move |(i, f)| f.from != *i && f.at.0 > since && f.at <= now)
    }
}

impl Scene for RumorScene<'_> {
    fn topology(&self) -> Topology {
        Topology::Complete
    }
    fn nodes(&self) -> u32 {
        self.run.lab().network().len() as u32
    }
    fn source(&self) -> u32 {
        self.run
            .observer()
            .first
            .map_or(0, |(id, _)| id.origin.0 as u32)
    }
    fn node(&self, i: u32) -> NodeView {
        let net = self.run.lab().network();
        if !net.is_up(i) {
            return NodeView::Crashed;
        }
        let first = self.run.observer().first.map(|f| f.0);
        let spreading = first.and_then(|id| {
            net.node(i)
                .iter_rumors()
                .find(|(r, _)| r.id == id)
                .map(|(_, spreading)| spreading)
        });
        NodeView::Live(match spreading {
            None => Phase::Susceptible,
            Some(true) => Phase::Spreading,
            Some(false) => Phase::Stopped,
        })
    }
    fn neighbours(&self, _: u32) -> &[u32] {
        &[]
    }
    fn messages(&self) -> Vec<Transmission> {
        self.recent()
            .map(|(to, f)| Transmission {
                from: f.from,
                to,
                kind: MessageKind::Push,
                fate: Fate::Informed,
            })
            .collect()
    }
    fn newly_informed(&self) -> Vec<u32> {
        self.recent().map(|(i, _)| i).collect()
    }
}

impl ProtocolView for Rumor {
    fn name(&self) -> &'static str {
        "rumor"
    }

    fn what(&self) -> &'static str {
        "Every interval (1 s), each node that is spreading a rumor pushes it to a random peer (or pulls from one, or both); \
         the receiver says whether it was news, and the stop rule decides when the sender loses interest. \
         A rumor starts at node 0 at time 0 (or where the scenario's rumor steps say). This is the very node live mode's tabs run, \
         in continuous time: each node on its own clock, messages with latency."
    }

    fn picture(&self) -> &'static str {
        "Each dot is a node (one cell per node beyond 2,000): grey has not heard the first rumor, orange spreads it, \
         blue heard it and stopped; ringed: heard it this interval; white ring: where it started. \
         Arrows: who told whom during the last interval. Click a node to inspect it."
    }

    fn canvas_title(&self) -> &'static str {
        "Who told whom during the last interval. Click a node to inspect it."
    }

    /// Its own picture already draws who told whom, as the round view does.
    fn message_picture(&self) -> bool {
        false
    }

    fn legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        (
            vec![
                (SUSCEPTIBLE, "has not heard it"),
                (SPREADING, "spreading"),
                (STOPPED, "heard it, stopped"),
                (CRASHED, "crashed"),
            ],
            None,
        )
    }

    /// How far the first rumor got, in the figures `grapevine sim --protocol rumor` prints.
    fn stats(&self, sim: &LabSim) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let observer = run.observer();
        let (informed, live) = observer.informed(run.lab());
        let full = observer.intervals_to_full(run.lab());
        let messages = RumorObserver::messages_per_node(run.lab());
        html! { <>
            { stat("Informed", format!("{informed} of {live}"), Some("lab-informed"),
                Some(observer.first.map_or("no rumor yet".to_string(), |(id, born)| format!("rumor {}:{} from {}", id.origin, id.seq, seconds(born))).into())) }
            { stat("Everyone knows after", full.map_or("not yet".into(), |x| format!("{x:.2}")), Some("lab-rumor-full"),
                Some(format!("intervals · {} hops at most", observer.max_hops()).into())) }
            { stat("Messages per node", format!("{messages:.1}"), None, Some("so far, feedback included".into())) }
            if let (Some((first, _)), Some(second)) = (observer.first, observer.second) {
                { stat("Heard the first rumor first",
                    observer.first_heard_first(run.lab()).map_or("—".into(), |s| format!("{:.0} %", 100.0 * s)),
                    Some("lab-rumor-order"),
                    Some(format!("of the nodes that know {}:{} and {}:{}: no global order", first.origin, first.seq, second.origin, second.seq).into())) }
            }
        </> }
    }

    fn chart(&self, sim: &LabSim) -> Option<Chart> {
        let samples = run(sim)?.samples();
        Some(Chart {
            title: "Share of live nodes that know the first rumor, and still spread it",
            label: "Rumor spread over time",
            axis: Axis::Linear {
                min_top: 1.0,
                percent: true,
            },
            series: vec![
                Series::of(samples, STOPPED, |s| s.informed),
                Series::of(samples, SPREADING, |s| s.spreading),
            ],
            key: vec![(STOPPED, "informed"), (SPREADING, "spreading")],
        })
    }

    fn inspector(&self, sim: &LabSim, i: u32, _: &Callback<Change>) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let node = run.lab().network().node(i);
        let infection = run.observer().infections.get(&i).copied();
        let rumors: Vec<_> = node.iter_rumors().collect();
        html! { <>
            <p class="facts" data-testid="inspect-rumor">{ match infection {
                Some(f) if f.from == i => format!("started the rumor at {}", seconds(f.at)),
                Some(f) => format!("heard the rumor from node {} at {}, {} hops from its origin", f.from, seconds(f.at), f.hops),
                None => "has not heard the first rumor".into(),
            } }</p>
            <table class="members">
                <thead><tr><th>{ "rumor" }</th><th>{ "hops" }</th><th>{ "state" }</th><th>{ "text" }</th></tr></thead>
                <tbody>
                { for rumors.iter().take(20).map(|(r, spreading)| html! {
                    <tr><td>{ format!("{}:{}", r.id.origin, r.id.seq) }</td><td>{ r.hops }</td>
                        <td>{ if *spreading { "spreading" } else { "stopped" } }</td><td>{ r.text.clone() }</td></tr>
                }) }
                </tbody>
            </table>
        </> }
    }

    fn colours(&self, sim: &LabSim) -> Vec<[u8; 4]> {
        let Some(scene) = RumorScene::of(sim) else {
            return vec![palette::rgba(SUSCEPTIBLE); sim.len() as usize];
        };
        (0..sim.len())
            .map(|i| palette::rgba(node_colour(scene.node(i))))
            .collect()
    }

    fn draw(
        &self,
        painter: &mut LabPainter,
        canvas: &HtmlCanvasElement,
        sim: &LabSim,
        selected: Option<u32>,
    ) -> Result<(), JsValue> {
        let Some(scene) = RumorScene::of(sim) else {
            return Ok(());
        };
        if sim.len() <= LAYOUT_MAX_NODES {
            let (ctx, size) = blank(canvas)?;
            draw_layout(&ctx, size, &scene, selected);
            return Ok(());
        }
        let colours = self.colours(sim);
        painter.grid(canvas, sim.len(), |i| colours[i as usize], selected)
    }

    fn node_at(&self, canvas: &HtmlCanvasElement, sim: &LabSim, x: f64, y: f64) -> Option<u32> {
        let n = sim.len();
        if n > LAYOUT_MAX_NODES {
            return super::super::draw::grid_node_at(canvas, n, x, y);
        }
        let size = f64::from(canvas.client_width().max(1));
        let source = RumorScene::of(sim).map_or(0, |s| s.source());
        layout_node_at(Topology::Complete, n, source, x / size, y / size)
    }
}

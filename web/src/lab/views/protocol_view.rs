//! The seam between the lab and a protocol's view: the [`ProtocolView`] trait every view
//! implements, and the [`Chart`] a view hands the panels. A leaf of the views: each view's
//! file and the list of views ([`super::VIEWS`]) import it, it knows none of them.

use super::super::draw::LabPainter;
use super::super::sim::LabSim;
use crate::charts::Series;
use crate::controls::Change;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// A protocol's chart: its title, its lines (measured, and bounds or theory dashed), its
/// axis, and the key of its colours.
pub struct Chart {
    /// Above the chart.
    pub title: &'static str,
    /// For screen readers.
    pub label: &'static str,
    /// The lines.
    pub series: Vec<Series>,
    /// How values map to heights.
    pub axis: crate::charts::Axis,
    /// (colour, what it is).
    pub key: Vec<(&'static str, &'static str)>,
}

/// What a protocol's view adds to the lab's page.
pub trait ProtocolView: Sync {
    /// The registry name of the protocol it draws.
    fn name(&self) -> &'static str;

    /// What the protocol does, in a few plain words.
    fn what(&self) -> &'static str;

    /// What the picture shows and what to try.
    fn picture(&self) -> &'static str;

    /// The canvas's tooltip.
    fn canvas_title(&self) -> &'static str {
        "One cell per node. Click one to inspect it."
    }

    /// The picture's legend: (colour, meaning), and a note.
    fn legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>);

    /// Whether a small network is drawn as members on a circle with their messages
    /// ([`crate::lab::views::Picture::Messages`]); a view whose own picture already draws
    /// them (the rumors') says no.
    fn message_picture(&self) -> bool {
        true
    }

    /// What the messages picture shows of this protocol (after the glyphs, which
    /// [`crate::lab::panels::explain`] says for every view).
    fn message_text(&self) -> &'static str {
        ""
    }

    /// The name of the view's own picture, beside "Messages" in a small network.
    fn state_picture(&self) -> &'static str {
        "Grid"
    }

    /// The members' colours on the circle of a small network: (colour, meaning), and a note.
    fn member_legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        self.legend()
    }

    /// The protocol's own numbers (beside time, nodes, messages and the seed).
    fn stats(&self, sim: &LabSim) -> Html;

    /// Its chart over time.
    fn chart(&self, sim: &LabSim) -> Option<Chart>;

    /// Node `i`'s state in the inspector (with its own actions).
    fn inspector(&self, sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html;

    /// A state node `i` is in besides running and crashed (SWIM's "left").
    fn status(&self, sim: &LabSim, i: u32) -> Option<&'static str> {
        let _ = (sim, i);
        None
    }

    /// A panel of its own below the picture.
    fn panel(&self, sim: &LabSim) -> Html {
        let _ = sim;
        html! {}
    }

    /// Each node's colour (RGBA), node by node: the grid's cells and, in a small network,
    /// the members on the circle.
    fn colours(&self, sim: &LabSim) -> Vec<[u8; 4]>;

    /// Draws the run beyond a small network (one cell per node in [`ProtocolView::colours`],
    /// unless the view has a picture of its own); `selected`: the inspected node.
    fn draw(
        &self,
        painter: &mut LabPainter,
        canvas: &HtmlCanvasElement,
        sim: &LabSim,
        selected: Option<u32>,
    ) -> Result<(), JsValue> {
        let colours = self.colours(sim);
        painter.grid(canvas, sim.len(), |i| colours[i as usize], selected)
    }

    /// The node under a point of the canvas (CSS pixels).
    fn node_at(&self, canvas: &HtmlCanvasElement, sim: &LabSim, x: f64, y: f64) -> Option<u32> {
        super::super::draw::grid_node_at(canvas, sim.len(), x, y)
    }
}

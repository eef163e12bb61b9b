//! One view per lab protocol, each in its own file: what its picture, legend, numbers, chart
//! and inspector show. The panels around them ([`super::panels`]) are the same for every
//! protocol. A view only reads its run ([`LabSim::run`]): every figure it shows comes from
//! the protocol's observer in the core.
//!
//! Up to [`MESSAGES_MAX_MEMBERS`] members every view can be drawn the same way
//! ([`LabSim::draw`], [`Picture::Messages`], the default): members on a circle in the view's
//! colours ([`ProtocolView::colours`]), each message of the last period a line in its kind's
//! colour with its glyph, so a student sees the protocol and not only its matrix.
//!
//! Adding a protocol's view: a file here implementing [`ProtocolView`] (the seam, in
//! `protocol_view.rs`), and its line in [`VIEWS`].

pub mod kv;
pub mod protocol_view;
pub mod push_sum;
pub mod rumor;
pub mod swim;

pub use protocol_view::{Chart, ProtocolView};

use super::draw::LabPainter;
use super::sim::{LabSim, MESSAGES_MAX_MEMBERS};
use crate::draw::{blank, draw_members, layout_node_at, Dot, End, Member, Stroke};
use crate::palette;
use grapevine_core::lab::net::{Fate, Flight};
use grapevine_core::lab::role::{Alarm, Role};
use grapevine_core::lab::LabProtocol;
use grapevine_core::Topology;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// What the picture of a small network shows (beyond
/// [`MESSAGES_MAX_MEMBERS`] members, always the view's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Picture {
    /// Members on a circle and the last period's messages.
    #[default]
    Messages,
    /// The view's own picture (SWIM's matrix, a grid).
    State,
}

/// Every protocol's view.
pub const VIEWS: &[&dyn ProtocolView] = &[&swim::Swim, &push_sum::PushSum, &kv::Kv, &rumor::Rumor];

/// The view of `protocol`.
pub fn of(protocol: LabProtocol) -> &'static dyn ProtocolView {
    VIEWS
        .iter()
        .copied()
        .find(|v| v.name() == protocol.name())
        .unwrap_or(VIEWS[0])
}

impl LabSim {
    /// The run's view (picture, legend, numbers, chart, inspector). Defined here rather than
    /// beside [`LabSim`], so that the run does not know its views (they read it).
    pub fn view(&self) -> &'static dyn ProtocolView {
        of(self.protocol)
    }

    /// Whether the run can be drawn as members on a circle with their messages: a small
    /// network (see [`MESSAGES_MAX_MEMBERS`]) whose view has no such picture of its own.
    pub fn can_draw_messages(&self) -> bool {
        self.len() <= MESSAGES_MAX_MEMBERS && self.view().message_picture()
    }

    /// Whether `picture` draws the messages here.
    pub fn draws_messages(&self, picture: Picture) -> bool {
        picture == Picture::Messages && self.can_draw_messages()
    }

    /// Draws the run: with [`Picture::Messages`] in a small network, each member on the round
    /// view's circle in its view's colour with every message of the last period as a line (see
    /// [`Stroke`]); else the view's own picture. `selected`: the inspected node.
    pub fn draw(
        &self,
        painter: &mut LabPainter,
        canvas: &HtmlCanvasElement,
        selected: Option<u32>,
        picture: Picture,
    ) -> Result<(), JsValue> {
        if !self.draws_messages(picture) {
            return self.view().draw(painter, canvas, self, selected);
        }
        let (ctx, size) = blank(canvas)?;
        let members: Vec<Member> = (0..self.len())
            .zip(self.view().colours(self))
            .map(|(i, colour)| Member {
                colour,
                up: self.is_up(i),
            })
            .collect();
        let messages: Vec<_> = self
            .last_period()
            .iter()
            .map(|f| (f.from, f.to, self.stroke(f)))
            .collect();
        draw_members(&ctx, size, &members, &messages, selected);
        Ok(())
    }

    /// How message `f` is drawn: its kind's colour, its role's glyph, its fate's end.
    fn stroke(&self, f: &Flight) -> Stroke {
        Stroke {
            colour: palette::message(self.protocol.name(), f.kind),
            width: 1.3,
            end: match f.fate {
                Fate::Lost => End::Lost,
                Fate::Partitioned => End::Partitioned,
                Fate::DeadLetter => End::Crashed,
                Fate::Sent | Fate::Received => End::Arrived,
            },
            dot: Some(Dot {
                filled: f.role == Role::Initiative,
                ring: f.alarm.map(alarm_colour),
            }),
        }
    }

    /// The node under a point of the canvas (CSS pixels).
    pub fn node_at(
        &self,
        canvas: &HtmlCanvasElement,
        x: f64,
        y: f64,
        picture: Picture,
    ) -> Option<u32> {
        if !self.draws_messages(picture) {
            return self.view().node_at(canvas, self, x, y);
        }
        let size = f64::from(canvas.client_width().max(1));
        layout_node_at(Topology::Complete, self.len(), 0, x / size, y / size)
    }

    /// The canvas's tooltip.
    pub fn canvas_title(&self, picture: Picture) -> &'static str {
        if self.draws_messages(picture) {
            "Each member on a circle; each line a message of the last period. Click a member to inspect it."
        } else {
            self.view().canvas_title()
        }
    }
}

/// The colour of the membership alarm a message carries: SWIM's own state colours.
pub fn alarm_colour(alarm: Alarm) -> &'static str {
    match alarm {
        Alarm::Death => palette::DEAD,
        Alarm::Suspicion => palette::SUSPECT,
    }
}

/// The last period's messages by kind, in order of first appearance: (kind, role, count).
pub fn kinds(flights: &[Flight]) -> Vec<(&'static str, Role, usize)> {
    let mut kinds: Vec<(&'static str, Role, usize)> = Vec::new();
    for f in flights {
        match kinds.iter_mut().find(|k| k.0 == f.kind) {
            Some(k) => k.2 += 1,
            None => kinds.push((f.kind, f.role, 1)),
        }
    }
    kinds
}

/// A colour swatch for legends.
pub fn dot(colour: &str) -> Html {
    html! { <span class="dot square" style={format!("background:{colour}")}></span> }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protocol in the core's registry without a view here would show another's.
    #[test]
    fn every_registered_protocol_has_its_own_view() {
        for p in LabProtocol::all() {
            assert_eq!(of(p).name(), p.name());
        }
        assert_eq!(VIEWS.len(), LabProtocol::all().count());
    }
}

//! One view per lab protocol, each in its own file: what its picture, legend, numbers, chart
//! and inspector show. The panels around them ([`super::panels`]) are the same for every
//! protocol. A view only reads its run ([`LabSim::run`]): every figure it shows comes from
//! the protocol's observer in the core.
//!
//! Adding a protocol's view: a file here implementing [`ProtocolView`] (the seam, in
//! `protocol_view.rs`), and its line in [`VIEWS`].

pub mod kv;
pub mod protocol_view;
pub mod push_sum;
pub mod rumor;
pub mod swim;

pub use protocol_view::{Chart, ProtocolView};

use super::sim::LabSim;
use grapevine_core::lab::LabProtocol;
use yew::prelude::*;

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

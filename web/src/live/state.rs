//! What the node loop holds: [`Live`] (the node, the mesh, the links, the signallers, what
//! the view shows), each linked peer's [`Peer`] record, and the rumors received
//! ([`Arrival`]). Data only, and the log line every handler writes ([`Live::say`]): what
//! changes it is in the behaviour files (`events.rs`, `peers.rs`, `links.rs`, `signaling.rs`,
//! `baton.rs`, `api.rs`), which import it; it imports none of them.

use super::relay::RelayLink;
use super::server::Server;
use super::tabs::Tabs;
use super::transport::{Door, ServerState, Sink, Transport, Via};
use super::webrtc;
use grapevine_core::auth::Identity;
use grapevine_core::lab::conduct::Baton;
use grapevine_core::lab::live::LiveNode;
use grapevine_core::lab::mesh::Mesh;
use grapevine_core::lab::record;
use grapevine_core::lab::rumor::RumorId;
use grapevine_core::lab::NodeId;
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;

/// A rumor as this tab received it.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// Who told us (ourselves for our own).
    pub from: NodeId,
    /// Hops from its origin.
    pub hops: u16,
    /// Its text.
    pub text: String,
    /// Arrival minus birth, ms (clocks of different machines may differ).
    pub latency_ms: i64,
}

/// Orders a tab keeps for the room's record: a class's session takes tens; a long-running room
/// is not allowed to grow without bound.
pub const ORDERS_KEPT: usize = 1000;

/// Everything the tab's live mode holds.
pub struct Live {
    /// This tab's id.
    pub me: NodeId,
    /// The room.
    pub room: String,
    /// The node.
    pub node: LiveNode,
    /// Rumors received, by id.
    pub rumors: BTreeMap<RumorId, Arrival>,
    /// The signaling server's state.
    pub server: ServerState,
    /// Lines for the view's log (newest last).
    pub log: Vec<String>,
    /// The conductor's orders this tab took, as the room's record gives them (the last
    /// [`ORDERS_KEPT`]).
    pub orders: Vec<record::Line>,
    /// The conductor token this page was opened with (the conductor link).
    pub(super) conductor_token: Option<String>,
    /// This tab conducts the room (the server vouched for it): it signs orders.
    pub(super) baton: Option<Baton>,
    /// Why the server refused this tab's token, if it did.
    pub conductor_refused: Option<String>,
    /// The room's join code, as the server told this (conductor's) tab, and when it changes
    /// (ms since the epoch; `None`: fixed).
    pub join_code: Option<(String, Option<u64>)>,
    /// The room's members by address, most first, and who waits at its door, as the server
    /// told this (conductor's) tab.
    pub door: Door,
    /// Another tab took the conductor's place: this one does not take it back on its own
    /// reconnections (a reload, a deliberate act, does).
    pub(super) displaced: bool,
    /// The server refused this tab (no code, a locked room, removed) and has not welcomed it
    /// since: it does not meet this browser's tabs either, even when the server is out of
    /// reach.
    pub(super) refused: bool,
    /// Whether the server holds the room locked, as it last told this (conductor's) tab.
    pub server_locked: Option<bool>,
    pub(super) identity: Identity,
    /// Whom to link to (the same rule as native peers'), and every peer heard of and how
    /// (its handshake's signaller), until it says goodbye.
    pub(super) mesh: Mesh<Via>,
    pub(super) peers: BTreeMap<NodeId, Peer>,
    /// When the mesh is next asked for links, and the server next told ours, ms since the
    /// epoch.
    pub(super) next_plan: f64,
    pub(super) next_report: f64,
    /// Incremented per direct link made (see [`super::Event`]).
    pub(super) generation: u64,
    /// RTCPeerConnections created so far (at most [`super::MAX_PEER_CONNECTIONS`]).
    pub(super) connections: u32,
    /// The page is going away: no more reconnections.
    pub(super) shutting_down: bool,
    pub(super) tabs: Option<Tabs>,
    pub(super) signaling: Server,
    pub(super) ice_servers: JsValue,
    /// The page's settings chose the ICE servers: the server's are not taken.
    pub(super) ice_fixed: bool,
    pub(super) sink: Sink,
    pub(super) _tick: Option<gloo_timers::callback::Interval>,
    pub(super) _pagehide: Option<gloo_events::EventListener>,
    /// Answers other tabs' claims of this tab's id ([`tabs::answer_claims`](super::tabs::answer_claims)),
    /// from when the id is known to be this tab's until another tab takes it.
    pub(super) claims: Option<super::tabs::Claim>,
}

/// A peer this tab is linked to (or setting a link up with): a direct WebRTC link, the
/// server's relay, or both while a direct link is tried.
pub(super) struct Peer {
    /// How it was met: the signaller its handshake goes through.
    pub(super) via: Via,
    /// The WebRTC attempt or link (`None`: relay only, given up, or past the budget).
    pub(super) direct: Option<webrtc::Link>,
    /// Its data channel is open.
    pub(super) direct_open: bool,
    /// When the current (or last) direct attempt started, ms since the epoch.
    pub(super) attempt_at: f64,
    /// This side made the current attempt's offer.
    pub(super) offered: bool,
    /// Frames may go over the server's relay.
    pub(super) relay: Option<RelayLink>,
    /// The peer links over the relay only (a native peer answered an offer with "relay").
    pub(super) relay_only: bool,
    /// The peer sent a session description (it does WebRTC).
    pub(super) heard_sdp: bool,
    /// Direct tries that failed since the pair went on the relay.
    pub(super) retries: u32,
    /// The node was told the link is up.
    pub(super) up: bool,
}

impl Peer {
    /// What carries its frames now: the direct link when open, else the relay.
    pub(super) fn transport(&self) -> Option<&dyn Transport> {
        match (&self.direct, &self.relay) {
            (Some(d), _) if self.direct_open => Some(d as &dyn Transport),
            (_, Some(r)) => Some(r as &dyn Transport),
            _ => None,
        }
    }

    /// How its frames travel, for the view: `direct`, `turn` or `relay` (`None`: not yet).
    pub(super) fn kind(&self) -> Option<&'static str> {
        self.transport().map(|t| t.kind())
    }
}

/// A peer linked over the relay only, so far.
pub(super) fn relay_peer(via: Via) -> Peer {
    Peer {
        via,
        direct: None,
        direct_open: false,
        attempt_at: js_sys::Date::now(),
        offered: false,
        relay: None,
        relay_only: false,
        retries: 0,
        heard_sdp: false,
        up: false,
    }
}

impl Live {
    /// A line for the view's log (the last 30 are kept).
    pub(super) fn say(&mut self, line: String) {
        if self.log.len() >= 30 {
            self.log.remove(0);
        }
        self.log.push(line);
    }
}

//! Live mode: this tab is a real node. It runs the core's [`LiveNode`] (rumors, SWIM, the
//! key-value map) and moves its bytes to other members: tabs and native peers.
//!
//! The node loop ([`Live`]) knows peers, links and the node, not what carries them: frames go
//! through a [`Transport`] (a WebRTC data channel, [`webrtc`], or the server's relay,
//! [`relay`]), handshakes through a [`Signaller`] (this browser's BroadcastChannel, [`tabs`],
//! or `grapevine serve`'s WebSocket, [`server`]), and every callback of theirs comes back as
//! one [`Event`] to [`Live::handle`] ([`transport`] has the seams).
//!
//! Whom to link to is the core's [`Mesh`] rule, the same as native peers': about 8 links, at
//! most 12, a request at the cap swapping out a random link, so late joiners hold as many
//! links as early ones. A link is tried directly first (WebRTC; either side may offer, and when
//! both do the smaller id's offer stands); if no data channel opens within 3 s the pair also
//! links over the relay (a network that blocks peer-to-peer traffic), and moves back to the
//! direct link when one opens later (tried again after 15 s, doubling). A page creates at most
//! [`MAX_PEER_CONNECTIONS`] RTCPeerConnections; past that, the relay. The tab's key (its id is
//! the key's digest) is kept in sessionStorage, so a reload or a reconnection (proving the key
//! to the server) is the same member. On `pagehide` the tab leaves gracefully: its leave to its links, a goodbye to every
//! member it knows over the relay, and every link closed, so peers learn of it at once.
//!
//! Files: this one holds [`Live`], [`start`] and what the page reads and asks; `events.rs`
//! is the loop (every [`Event`] to its handler, the tick, draining the node); `peers.rs` whom
//! the tab knows and links to (the [`Mesh`]); `links.rs` the links themselves (direct, relay,
//! the handshake and its timers); `signaling.rs` and `baton.rs` the loop's side of the
//! signaling server and of conducting; `session.rs` what a reload keeps. The page is [`view`]
//! ([`room`], [`conductor`]).

mod baton;
pub mod conductor;
mod events;
mod links;
mod peers;
pub mod relay;
pub mod room;
pub mod server;
mod session;
mod signaling;
pub mod tabs;
pub mod transport;
pub mod view;
pub mod webrtc;

use grapevine_core::auth::Identity;
use grapevine_core::lab::conduct::Baton;
use grapevine_core::lab::live::{LiveConfig, LiveNode};
use grapevine_core::lab::mesh::{LinkTarget, Mesh};
use grapevine_core::lab::rumor::{RumorConfig, RumorId};
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::rng::{GossipRng, Stream};
use grapevine_core::signal::IceServer;
use links::Peer;
pub use links::MAX_PEER_CONNECTIONS;
use serde::de::DeserializeOwned;
use serde::Serialize;
use server::Server;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use tabs::Tabs;
pub use transport::{Event, Frame, ServerState, Signaller, Sink, Transport, Via};
use wasm_bindgen::JsValue;

/// The loop's tick, ms: the node's deadlines are checked this often.
const TICK_MS: u32 = 50;

/// `value` as a plain JavaScript value (objects, not Maps; what `JSON.stringify` and
/// `postMessage` take).
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

/// A JavaScript value read as `T`; `None` for any other shape (the value may be hostile).
pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value).ok()
}

/// Milliseconds since the epoch: the node's clock (tabs of one machine share it, so a rumor's
/// latency is its arrival time minus its birth time).
fn now() -> Millis {
    Millis(js_sys::Date::now() as u64)
}

/// `RTCConfiguration.iceServers` for `servers`.
fn ice_js(servers: &[IceServer]) -> JsValue {
    to_js(&servers)
}

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
    /// The conductor token this page was opened with (the conductor link).
    conductor_token: Option<String>,
    /// This tab conducts the room (the server vouched for it): it signs orders.
    baton: Option<Baton>,
    /// Why the server refused this tab's token, if it did.
    pub conductor_refused: Option<String>,
    /// Another tab took the conductor's place: this one does not take it back on its own
    /// reconnections (a reload, a deliberate act, does).
    displaced: bool,
    identity: Identity,
    /// Whom to link to (the same rule as native peers').
    mesh: Mesh,
    peers: BTreeMap<NodeId, Peer>,
    /// Every peer heard of and how (its handshake's signaller), until it says goodbye.
    known: BTreeMap<NodeId, Via>,
    /// When the mesh is next asked for links, and the server next told ours, ms since the
    /// epoch.
    next_plan: f64,
    next_report: f64,
    /// Incremented per direct link made (see [`Event`]).
    generation: u64,
    /// RTCPeerConnections created so far (at most [`MAX_PEER_CONNECTIONS`]).
    connections: u32,
    /// The page is going away: no more reconnections.
    shutting_down: bool,
    tabs: Option<Tabs>,
    signaling: Server,
    ice_servers: JsValue,
    /// The page's settings chose the ICE servers: the server's are not taken.
    ice_fixed: bool,
    sink: Sink,
    _tick: Option<gloo_timers::callback::Interval>,
    _pagehide: Option<gloo_events::EventListener>,
}

/// The shared handle the page holds.
pub type Handle = Rc<RefCell<Live>>;

/// Starts live mode in `room`; `ice`: STUN / TURN URLs that override the server's (empty: the
/// server's, or none on loopback and LANs, which need none). A tab reloaded in the same room
/// keeps its id (sessionStorage), so it rejoins as the same member.
pub fn start(
    room: String,
    config: LiveConfig,
    ice: &[String],
    conductor_token: Option<String>,
) -> Handle {
    let secure = [crate::random_u64(), crate::random_u64()];
    let weakly = || (js_sys::Math::random() * 9.0e15) as u64;
    let [seed, mesh_seed] = secure.map(|r| r.unwrap_or_else(weakly));
    let mut secret = [0u8; 32];
    let keyed = getrandom::fill(&mut secret).is_ok();
    if !keyed {
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&weakly().to_le_bytes());
        }
    }
    let identity = session::identity(&room).unwrap_or_else(|| Identity::from_secret(secret));
    session::keep(&room, &identity);
    let me = identity.id();
    let ice: Vec<IceServer> = if ice.is_empty() {
        Vec::new()
    } else {
        vec![IceServer {
            urls: ice.to_vec(),
            username: None,
            credential: None,
        }]
    };
    Rc::new_cyclic(|weak: &Weak<RefCell<Live>>| {
        let weak = weak.clone();
        let sink: Sink = Rc::new(move |event| {
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    l.handle(event);
                }
            }
        });
        let mut live = Live {
            me,
            room: room.clone(),
            node: LiveNode::new(identity.clone(), seed, config, now()),
            rumors: BTreeMap::new(),
            server: ServerState::Connecting,
            log: Vec::new(),
            conductor_token: session::conductor(&room, conductor_token),
            baton: None,
            conductor_refused: None,
            displaced: false,
            identity: identity.clone(),
            mesh: Mesh::new(
                me,
                LinkTarget::TAB,
                GossipRng::derive(mesh_seed, Stream::Topology, 0),
            ),
            peers: BTreeMap::new(),
            known: BTreeMap::new(),
            next_plan: 0.0,
            next_report: 0.0,
            generation: 0,
            connections: 0,
            shutting_down: false,
            tabs: Tabs::open(&room, me, sink.clone()),
            signaling: Server::new(room, identity, sink.clone()),
            ice_servers: ice_js(&ice),
            ice_fixed: !ice.is_empty(),
            sink: sink.clone(),
            _tick: None,
            _pagehide: None,
        };
        if live.tabs.is_none() {
            live.say("this browser has no BroadcastChannel: same-browser tabs cannot meet".into());
        }
        if !keyed || secure.iter().any(Option::is_none) {
            live.say(
                "this browser gave no cryptographic randomness: this tab's key is guessable".into(),
            );
        }
        let tick = sink.clone();
        live._tick = Some(gloo_timers::callback::Interval::new(TICK_MS, move || {
            tick(Event::Tick)
        }));
        live._pagehide = web_sys::window().map(|w| {
            let sink = sink.clone();
            gloo_events::EventListener::new(&w, "pagehide", move |_| sink(Event::PageHide))
        });
        live.signaling.connect();
        RefCell::new(live)
    })
}

/// What the page shows of one link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRow {
    /// The peer.
    pub peer: NodeId,
    /// The hello handshake completed.
    pub ready: bool,
    /// The last round-trip time, ms.
    pub rtt_ms: Option<u64>,
    /// `direct`, `turn` or `relay`.
    pub transport: &'static str,
}

impl Live {
    /// Connected peers whose handshake completed.
    pub fn ready_peers(&self) -> usize {
        self.node.links().filter(|l| l.ready).count()
    }

    /// The links, with what carries each.
    pub fn link_rows(&self) -> Vec<LinkRow> {
        self.node
            .links()
            .map(|l| LinkRow {
                peer: l.peer,
                ready: l.ready,
                rtt_ms: l.rtt_ms,
                transport: self
                    .peers
                    .get(&l.peer)
                    .and_then(Peer::kind)
                    .unwrap_or("direct"),
            })
            .collect()
    }

    /// RTCPeerConnections this page has created.
    pub fn connections_made(&self) -> u32 {
        self.connections
    }

    /// A line for the view's log (the last 30 are kept).
    fn say(&mut self, line: String) {
        if self.log.len() >= 30 {
            self.log.remove(0);
        }
        self.log.push(line);
    }

    /// This tab's guess to the conductor's question, seconds.
    pub fn guess(&mut self, seconds: f64) {
        let question = self.node.podium().asked.unwrap_or(0);
        self.node.guess(now(), question, seconds);
        self.after_input();
    }

    /// Starts a rumor here.
    pub fn start_rumor(&mut self, text: String) {
        self.node.start_rumor(now(), text);
        self.after_input();
    }

    /// Writes a key here.
    pub fn set(&mut self, key: String, value: String) {
        self.node.set(now(), key, value);
        self.after_input();
    }

    /// New knobs: the rumors' fanout and gossip interval, the loss on send.
    pub fn configure(&mut self, fanout: u8, interval_ms: u32, loss: f64) {
        let mut config = self.node.config();
        config.rumor = RumorConfig {
            fanout,
            interval_ms,
            ..config.rumor
        };
        config.loss = loss;
        self.node.configure(now(), config);
        self.after_input();
    }
}

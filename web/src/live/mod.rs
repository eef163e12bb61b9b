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

pub mod conductor;
pub mod relay;
pub mod room;
pub mod server;
pub mod tabs;
pub mod transport;
pub mod view;
pub mod webrtc;

use grapevine_core::auth::Identity;
use grapevine_core::lab::conduct::{Baton, Command};
use grapevine_core::lab::live::{LiveConfig, LiveEvent, LiveNode};
use grapevine_core::lab::mesh::{Answer, LinkTarget, Mesh};
use grapevine_core::lab::room::Carrier;
use grapevine_core::lab::rumor::{RumorConfig, RumorEvent, RumorId};
use grapevine_core::lab::wire::WireError;
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::rng::{GossipRng, Stream};
use grapevine_core::signal::{peer_hex, IceServer, LinkSignal, Signal};
use relay::RelayLink;
use serde::de::DeserializeOwned;
use serde::Serialize;
use server::Server;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use tabs::Tabs;
pub use transport::{Event, Frame, ServerState, Signaller, Sink, Transport, Via};
use wasm_bindgen::JsValue;

/// How long a direct link may take to open before the pair also links over the relay, ms.
const RELAY_AFTER_MS: f64 = 3_000.0;
/// How long a direct link may take to open before the attempt is given up, ms.
const HANDSHAKE_TIMEOUT_MS: f64 = 10_000.0;
/// How long a pair on the relay waits before trying a direct link again, ms (the network may
/// allow it now); the wait doubles with each failed try, up to [`DIRECT_RETRY_MAX_MS`], so
/// the budget of connections lasts.
const DIRECT_RETRY_MS: f64 = 15_000.0;
/// The longest wait between direct tries, ms.
const DIRECT_RETRY_MAX_MS: f64 = 300_000.0;
/// RTCPeerConnections a page creates at most in its lifetime: Chromium refuses more than
/// 500; past this, links go over the relay.
pub const MAX_PEER_CONNECTIONS: u32 = 400;
/// The loop's tick, ms: the node's deadlines are checked this often.
const TICK_MS: u32 = 50;
/// How often the mesh is asked for the links it is missing, ms.
const PLAN_EVERY_MS: f64 = 1_000.0;
/// How often the tab tells the server its links, ms.
const REPORT_EVERY_MS: f64 = 5_000.0;
/// Rumors the page keeps and shows at most.
const RUMORS_SHOWN: usize = 200;
/// How long after a tab's goodbye its links still open here are dropped, ms: it closes them
/// itself after its last messages (its leave among them), which closing first would lose.
const BYE_GRACE_MS: u32 = 1_000;

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

/// What this tab keeps across a reload (sessionStorage, per room): its secret key, so a
/// reload or a reconnection is the same member with the same id (the id is the key's digest;
/// the server lets the key's holder take the id back, and nobody else). sessionStorage is the
/// tab's own: another tab, even of the same site, has another key.
mod session {
    use grapevine_core::auth::Identity;
    use grapevine_core::signal::{hex, unhex};

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok()?
    }

    fn key(room: &str) -> String {
        format!("grapevine.live.{room}.key")
    }

    /// The key this tab had in `room`, if any.
    pub fn identity(room: &str) -> Option<Identity> {
        let text = storage()?.get_item(&key(room)).ok()??;
        unhex::<32>(&text).map(Identity::from_secret)
    }

    /// Forgets this tab's key for `room` (a duplicated tab copied it): a reload draws anew.
    pub fn forget(room: &str) {
        if let Some(s) = storage() {
            let _ = s.remove_item(&key(room));
        }
    }

    /// Keeps `identity` for `room`.
    pub fn keep(room: &str, identity: &Identity) {
        if let Some(s) = storage() {
            let _ = s.set_item(&key(room), &hex(&identity.secret()));
        }
    }

    /// The conductor token this tab was opened with in `room`, kept from the URL (which
    /// then drops it: the conductor's tab is projected), or the one given now.
    pub fn conductor(room: &str, given: Option<String>) -> Option<String> {
        let key = format!("grapevine.live.{room}.conductor");
        let s = storage();
        match given {
            Some(token) => {
                if let Some(s) = &s {
                    let _ = s.set_item(&key, &token);
                }
                Some(token)
            }
            None => s?
                .get_item(&key)
                .ok()?
                .filter(|t| grapevine_core::signal::valid_token(t)),
        }
    }
}

/// A peer this tab is linked to (or setting a link up with): a direct WebRTC link, the
/// server's relay, or both while a direct link is tried.
struct Peer {
    via: Via,
    /// The WebRTC attempt or link (`None`: relay only, given up, or past the budget).
    direct: Option<webrtc::Link>,
    /// Its data channel is open.
    direct_open: bool,
    /// When the current (or last) direct attempt started, ms since the epoch.
    attempt_at: f64,
    /// This side made the current attempt's offer.
    offered: bool,
    /// Frames may go over the server's relay.
    relay: Option<RelayLink>,
    /// The peer links over the relay only (a native peer answered an offer with "relay").
    relay_only: bool,
    /// The peer sent a session description (it does WebRTC).
    heard_sdp: bool,
    /// Direct tries that failed since the pair went on the relay.
    retries: u32,
    /// The node was told the link is up.
    up: bool,
}

impl Peer {
    /// What carries its frames now: the direct link when open, else the relay.
    fn transport(&self) -> Option<&dyn Transport> {
        match (&self.direct, &self.relay) {
            (Some(d), _) if self.direct_open => Some(d as &dyn Transport),
            (_, Some(r)) => Some(r as &dyn Transport),
            _ => None,
        }
    }

    /// How its frames travel, for the view: `direct`, `turn` or `relay` (`None`: not yet).
    fn kind(&self) -> Option<&'static str> {
        self.transport().map(|t| t.kind())
    }
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

    fn say(&mut self, line: String) {
        if self.log.len() >= 30 {
            self.log.remove(0);
        }
        self.log.push(line);
    }

    /// One event from a transport, a signaller or the clock.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Tick => self.tick(),
            Event::PageHide => self.shut_down(),
            Event::Discovered(peer, via) => self.discover(peer, via),
            Event::Roster(here) => {
                // Joins and leaves this tab missed: the roster is the room.
                let gone: Vec<NodeId> = self
                    .known
                    .iter()
                    .filter(|(p, via)| **via == Via::Server && !here.contains(p))
                    .map(|(&p, _)| p)
                    .collect();
                for peer in here {
                    self.discover(peer, Via::Server);
                }
                for peer in gone {
                    self.handle(Event::Gone {
                        peer,
                        closing: false,
                    });
                }
            }
            Event::Gone { peer, closing } => {
                self.known.remove(&peer);
                self.mesh.gone(peer);
                if !closing {
                    // The server saw its connection close: suspect it, in case no member
                    // that stays has a link to it (alive after all, it refutes).
                    self.node.handle_peer_gone(now(), peer);
                }
                if let (true, Some(p)) = (closing, self.peers.get(&peer)) {
                    let generation = p.direct.as_ref().map(|d| d.generation());
                    let sink = self.sink.clone();
                    gloo_timers::callback::Timeout::new(BYE_GRACE_MS, move || {
                        sink(Event::LinkClosed(
                            peer,
                            generation.unwrap_or(0),
                            "left (closed its tab)",
                        ))
                    })
                    .forget();
                } else if !closing && self.peers.get(&peer).is_some_and(|p| !p.direct_open) {
                    // Its relay went with its server connection; a direct link stays.
                    self.drop_peer(peer, "left the room");
                }
                if self.peers.contains_key(&peer) {
                    // A link still held counts against the cap.
                    self.mesh.linking(peer);
                }
                self.after_input();
            }
            Event::Signal(peer, signal, via) => self.on_signal(peer, signal, via),
            Event::Outgoing(peer, generation, signal) => {
                let via = self.direct(peer, generation).map(|p| p.via);
                if let Some(signaller) = via.and_then(|via| self.signaller(via)) {
                    signaller.signal(peer, &signal);
                }
            }
            Event::LinkOpen(peer, generation) => {
                if let Some(p) = self.peers.get_mut(&peer).filter(|p| {
                    p.direct
                        .as_ref()
                        .is_some_and(|d| d.generation() == generation)
                }) {
                    p.direct_open = true;
                    let moved = p.relay.is_some();
                    self.say(format!(
                        "direct link to {} open{}",
                        peer_hex(peer),
                        if moved { " (moved off the relay)" } else { "" }
                    ));
                    self.up(peer);
                    self.tell_carrier(peer);
                    self.flush();
                }
            }
            Event::Frame(peer, generation, frame) => {
                if self.direct(peer, generation).is_some() {
                    self.take_frame(peer, frame);
                }
            }
            Event::Relayed(peer, frame) => self.take_frame(peer, frame),
            Event::LinkClosed(peer, generation, why) => {
                let Some(p) = self.peers.get_mut(&peer) else {
                    return;
                };
                let this_one = p
                    .direct
                    .as_ref()
                    .is_some_and(|d| d.generation() == generation);
                if p.relay.is_some() && this_one && why != "left (closed its tab)" {
                    // The direct link failed: the relay carries on.
                    if let Some(d) = p.direct.take() {
                        d.shut();
                    }
                    p.direct_open = false;
                    self.say(format!(
                        "direct link to {} closed ({why}): on the relay",
                        peer_hex(peer)
                    ));
                    self.tell_carrier(peer);
                } else if this_one || p.direct.is_none() {
                    self.drop_peer(peer, why);
                }
            }
            Event::Server(state) => {
                if self.shutting_down {
                    return;
                }
                self.server = match state {
                    ServerState::Offline(reason) => self.signaling.closed(&reason),
                    ServerState::Taken(reason) => {
                        session::forget(&self.room);
                        self.signaling.taken();
                        self.say("another tab joined with this tab's key (a duplicated tab?): reload this one to join with a new key".into());
                        ServerState::Taken(reason)
                    }
                    other => other,
                };
                if !matches!(
                    self.server,
                    ServerState::Connected | ServerState::Connecting
                ) {
                    // Relay links went with the connection (the others dropped theirs when
                    // the server said this member left); direct links stay.
                    let relayed: Vec<NodeId> = self
                        .peers
                        .iter()
                        .filter(|(_, p)| !p.direct_open && p.relay.is_some())
                        .map(|(&id, _)| id)
                        .collect();
                    for peer in relayed {
                        self.drop_peer(peer, "the server connection closed");
                    }
                }
            }
            Event::Welcome(ice, limits) => {
                self.server = ServerState::Connected;
                if limits.is_none() {
                    self.say("this server has no relay: only direct links".into());
                }
                self.signaling.welcomed(limits);
                if !self.ice_fixed {
                    self.ice_servers = ice_js(&ice);
                }
                if let Some(token) = self.conductor_token.as_ref().filter(|_| !self.displaced) {
                    self.signaling.conduct(token);
                }
            }
            Event::Conductor(peer) => {
                self.node.handle_conductor(peer);
                if peer == self.me {
                    self.conductor_refused = None;
                    if self.baton.is_none() {
                        let after = self.node.podium().last();
                        self.baton =
                            Some(Baton::new(self.identity.clone(), self.room.clone(), after));
                        self.say("the server vouched for this tab as the conductor".into());
                    }
                } else {
                    if self.baton.take().is_some() {
                        self.displaced = true;
                        self.say("another tab took the conductor's place".into());
                    }
                    self.say(format!("{} conducts the room", peer_hex(peer)));
                }
            }
            Event::ConductorRefused(reason) => {
                self.say(format!("the server refused: {reason}"));
                if self.baton.is_none() {
                    self.conductor_refused = Some(reason);
                }
            }
            Event::Order(text) => {
                let room = self.room.clone();
                match self.node.handle_order(now(), &room, &text) {
                    Ok(order) => {
                        if order.command == Command::Reset {
                            self.rumors.clear();
                        }
                        self.say(order.command.describe());
                    }
                    Err("known") => {} // a standing order again, after a reconnection
                    Err(why) => self.say(format!("refused an order ({why}): nothing changed")),
                }
                self.after_input();
            }
            Event::Reconnect => {
                if !self.shutting_down {
                    self.server = ServerState::Connecting;
                    self.signaling.connect();
                }
            }
        }
    }

    /// A frame from `peer`, whatever carried it.
    fn take_frame(&mut self, peer: NodeId, frame: Frame) {
        match frame {
            Frame::Bytes(bytes) => self.node.handle_bytes(now(), peer, &bytes),
            Frame::TooLarge(len) => self.node.refuse(peer, WireError::TooLarge(len)),
        }
        self.after_input();
    }

    /// The peer, if its direct link is of this generation.
    fn direct(&self, peer: NodeId, generation: u64) -> Option<&Peer> {
        self.peers.get(&peer).filter(|p| {
            p.direct
                .as_ref()
                .is_some_and(|d| d.generation() == generation)
        })
    }

    fn signaller(&self, via: Via) -> Option<&dyn Signaller> {
        match via {
            Via::Tabs => self.tabs.as_ref().map(|t| t as &dyn Signaller),
            Via::Server => Some(&self.signaling),
        }
    }

    fn signal(&self, peer: NodeId, via: Via, signal: Signal) {
        if let Some(s) = self.signaller(via) {
            s.signal(peer, &signal);
        }
    }

    /// A new WebRTC attempt with `peer`, within the page's budget of connections.
    fn new_direct(&mut self, peer: NodeId) -> Option<webrtc::Link> {
        if self.connections >= MAX_PEER_CONNECTIONS {
            return None;
        }
        self.generation += 1;
        self.connections += 1;
        if self.connections == MAX_PEER_CONNECTIONS {
            self.say(format!(
                "{MAX_PEER_CONNECTIONS} WebRTC connections made in this page: new links go over the relay"
            ));
        }
        webrtc::Link::new(peer, self.generation, &self.ice_servers, self.sink.clone())
    }

    /// The node learns the link to `peer` is up (once).
    fn up(&mut self, peer: NodeId) {
        if let Some(p) = self.peers.get_mut(&peer).filter(|p| !p.up) {
            p.up = true;
            self.node.handle_link_up(now(), peer);
            self.tell_carrier(peer);
        }
    }

    /// The node learns what carries the link to `peer` now (for the room's picture).
    fn tell_carrier(&mut self, peer: NodeId) {
        let carrier = self
            .peers
            .get(&peer)
            .and_then(Peer::kind)
            .and_then(Carrier::from_name);
        if let Some(c) = carrier {
            self.node.set_carrier(now(), peer, c);
        }
    }

    /// Whether this tab conducts the room.
    pub fn conducts(&self) -> bool {
        self.baton.is_some()
    }

    /// Signs `command` and has the server give it to the room (this tab obeys it when the
    /// server sends it back, like every member). Only the conductor can.
    pub fn order(&mut self, command: &Command) {
        if let Some(baton) = self.baton.as_mut() {
            let text = baton.order(now().0, command);
            self.signaling.order(text);
        }
    }

    /// This tab's guess to the conductor's question, seconds.
    pub fn guess(&mut self, seconds: f64) {
        let question = self.node.podium().asked.unwrap_or(0);
        self.node.guess(now(), question, seconds);
        self.after_input();
    }

    /// Puts the pair on the relay too (the direct link is late, failed, or not to be): told
    /// to the peer, and the link is up for the node.
    fn relay_with(&mut self, peer: NodeId, tell: bool) {
        if !self.signaling.relays() {
            return;
        }
        let outbox = self.signaling.outbox();
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.relay.is_none() {
            p.relay = Some(RelayLink::new(peer, outbox));
            if tell {
                self.signal(
                    peer,
                    Via::Server,
                    Signal::Link {
                        link: LinkSignal::Relay,
                    },
                );
            }
            self.say(format!("link to {} over the relay", peer_hex(peer)));
        }
        self.up(peer);
    }

    /// A peer exists: the mesh decides whether to link.
    fn discover(&mut self, peer: NodeId, via: Via) {
        if peer == self.me {
            return;
        }
        // In the room (the server checked its key, or it is a tab of this browser): it may
        // be listed as a member.
        self.node.handle_peer_here(now(), peer);
        if self.known.len() < grapevine_core::lab::mesh::KNOWN_CAP || self.known.contains_key(&peer)
        {
            // A peer met through this browser keeps that way (it needs no server).
            let entry = self.known.entry(peer).or_insert(via);
            if via == Via::Tabs {
                *entry = Via::Tabs;
            }
            self.mesh.heard(peer);
        }
    }

    /// Asks `peer` for a link: a WebRTC offer (the relay follows if it is slow), or the relay
    /// at once past the connection budget.
    fn connect(&mut self, peer: NodeId) {
        let Some(&via) = self.known.get(&peer) else {
            return;
        };
        if self.peers.contains_key(&peer) {
            // Linked already (its server connection went and came back): the mesh counts it.
            self.mesh.linking(peer);
            return;
        }
        self.mesh.linking(peer);
        let direct = self.new_direct(peer);
        let offered = direct.is_some();
        if let Some(d) = &direct {
            d.offer();
        }
        self.peers.insert(
            peer,
            Peer {
                via,
                direct,
                direct_open: false,
                attempt_at: js_sys::Date::now(),
                offered,
                relay: None,
                relay_only: false,
                retries: 0,
                heard_sdp: false,
                up: false,
            },
        );
        if !offered {
            self.relay_with(peer, true);
        }
    }

    /// Answers `from`'s request for a link: taken (perhaps in place of another), or refused.
    fn accept(&mut self, from: NodeId, via: Via) -> bool {
        self.discover(from, via);
        match self.mesh.answer(from) {
            Answer::Take => {}
            Answer::Swap(victim) => {
                let victim_via = self.peers.get(&victim).map_or(Via::Server, |p| p.via);
                self.signal(
                    victim,
                    victim_via,
                    Signal::Link {
                        link: LinkSignal::Busy,
                    },
                );
                self.drop_peer(victim, "made room for a newcomer");
            }
            Answer::Busy => {
                self.signal(
                    from,
                    via,
                    Signal::Link {
                        link: LinkSignal::Busy,
                    },
                );
                return false;
            }
        }
        self.mesh.linking(from);
        true
    }

    /// A handshake signal from `from`. Malformed ones never get here (they do not decode);
    /// out-of-turn ones are ignored, and the handshake then times out.
    fn on_signal(&mut self, from: NodeId, signal: Signal, via: Via) {
        match signal {
            Signal::Description { sdp } => {
                if let Some(p) = self.peers.get_mut(&from) {
                    p.heard_sdp = true;
                }
                if sdp.kind == grapevine_core::signal::DescriptionKind::Offer {
                    if let Some(p) = self.peers.get(&from) {
                        if p.direct_open {
                            return; // already linked directly
                        }
                        if p.direct.is_some() && p.offered && self.me < from {
                            return; // both offered: the smaller id's offer stands
                        }
                    } else if !self.accept(from, via) {
                        return;
                    }
                    let Some(direct) = self.new_direct(from) else {
                        // Past the budget: the relay instead.
                        self.peers.entry(from).or_insert_with(|| relay_peer(via));
                        self.relay_with(from, true);
                        return;
                    };
                    let p = self.peers.entry(from).or_insert_with(|| relay_peer(via));
                    if let Some(old) = p.direct.replace(direct) {
                        old.shut();
                    }
                    p.direct_open = false;
                    p.offered = false;
                    p.relay_only = false;
                    p.attempt_at = js_sys::Date::now();
                }
                if let Some(d) = self.peers.get(&from).and_then(|p| p.direct.as_ref()) {
                    d.handle_description(sdp);
                }
            }
            Signal::Candidate { candidate } => {
                let Some(d) = self.peers.get(&from).and_then(|p| p.direct.as_ref()) else {
                    return;
                };
                if !d.handle_candidate(candidate) {
                    self.drop_peer(from, "too many ICE candidates");
                }
            }
            Signal::Link {
                link: LinkSignal::Relay,
            } => {
                if let Some(p) = self.peers.get_mut(&from) {
                    // Our offer answered with "relay" and no description: a native peer,
                    // which never does WebRTC (no retries). A browser that answered and then
                    // found the direct link late says "relay" too: its attempt carries on.
                    if p.offered && !p.direct_open && !p.heard_sdp {
                        p.relay_only = true;
                        if let Some(d) = p.direct.take() {
                            d.shut();
                        }
                    }
                } else if !self.accept(from, via) {
                    return;
                } else {
                    // Asked for the relay before any direct try: a native peer, or a page
                    // past its connection budget. No direct tries.
                    let mut p = relay_peer(via);
                    p.relay_only = true;
                    self.peers.insert(from, p);
                }
                self.relay_with(from, false);
                self.after_input();
            }
            Signal::Link {
                link: LinkSignal::Busy,
            } => {
                if self.peers.contains_key(&from) {
                    self.drop_peer(from, "it is at its link cap");
                }
                self.mesh.busy(now(), from);
            }
        }
    }

    fn drop_peer(&mut self, peer: NodeId, why: &str) {
        if let Some(p) = self.peers.remove(&peer) {
            if let Some(d) = p.direct {
                d.shut();
            }
            self.mesh.unlinked_from(peer);
            self.node.handle_link_down(now(), peer);
            if p.up {
                self.say(format!("link to {} closed: {why}", peer_hex(peer)));
            }
            self.after_input();
        }
    }

    /// The node's deadlines; late, failed and retried direct links; links to make; the
    /// relay's frames; the report to the server.
    fn tick(&mut self) {
        let t = now();
        if self.node.poll_timeout().is_some_and(|d| d <= t) {
            self.node.handle_timeout(t);
        }
        let wall = js_sys::Date::now();
        let mut late = Vec::new();
        let mut stale = Vec::new();
        let mut retry = Vec::new();
        let mut dead = Vec::new();
        for (&id, p) in &self.peers {
            let waited = wall - p.attempt_at;
            if p.direct.is_some() && !p.direct_open {
                if waited > HANDSHAKE_TIMEOUT_MS {
                    stale.push(id);
                } else if waited > RELAY_AFTER_MS && p.relay.is_none() {
                    late.push(id);
                }
            } else if p.direct.is_none()
                && p.relay.is_some()
                && !p.relay_only
                && p.via == Via::Server
                && self.me < id
                && waited
                    > (DIRECT_RETRY_MS * f64::from(1u32 << p.retries.min(10)))
                        .min(DIRECT_RETRY_MAX_MS)
            {
                retry.push(id);
            }
            if p.direct.is_none() && p.relay.is_none() && waited > HANDSHAKE_TIMEOUT_MS {
                dead.push(id);
            }
        }
        for peer in late {
            self.relay_with(peer, true);
        }
        for peer in stale {
            let on_relay = self.peers.get(&peer).is_some_and(|p| p.relay.is_some());
            if on_relay {
                if let Some(d) = self.peers.get_mut(&peer).and_then(|p| p.direct.take()) {
                    d.shut();
                }
            } else {
                self.drop_peer(peer, "handshake timed out");
                self.mesh.busy(t, peer);
            }
        }
        for peer in dead {
            self.drop_peer(peer, "no link formed");
        }
        for peer in retry {
            if let Some(direct) = self.new_direct(peer) {
                direct.offer();
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.direct = Some(direct);
                    p.offered = true;
                    p.attempt_at = wall;
                    p.retries += 1;
                }
            } else if let Some(p) = self.peers.get_mut(&peer) {
                p.attempt_at = wall;
            }
        }
        if wall >= self.next_plan && !self.shutting_down {
            self.next_plan = wall + PLAN_EVERY_MS;
            for peer in self.mesh.to_link(t) {
                self.connect(peer);
            }
        }
        if wall >= self.next_report {
            self.next_report = wall + REPORT_EVERY_MS;
            let direct = self.peers.values().filter(|p| p.direct_open).count() as u32;
            let relay = self
                .peers
                .values()
                .filter(|p| !p.direct_open && p.relay.is_some())
                .count() as u32;
            self.signaling.report_links(direct, relay);
        }
        self.after_input();
        self.signaling.flush_relay();
    }

    /// Drains the node's events and outbox.
    fn after_input(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                LiveEvent::Rumor(RumorEvent::Learned { rumor, from }) => {
                    // born_ms is the origin's word: any u64.
                    let latency_ms = (i128::from(now().0) - i128::from(rumor.born_ms))
                        .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                        as i64;
                    if self.rumors.len() >= RUMORS_SHOWN {
                        // Forget the oldest-numbered (a flood of rumors must not grow the page).
                        if let Some(oldest) = self.rumors.keys().next().copied() {
                            self.rumors.remove(&oldest);
                        }
                    }
                    self.rumors.insert(
                        rumor.id,
                        Arrival {
                            from,
                            hops: rumor.hops,
                            text: rumor.text,
                            latency_ms,
                        },
                    );
                }
                LiveEvent::Refused { peer, error } => {
                    self.say(format!("refused bytes from {}: {error}", peer_hex(peer)));
                }
                _ => {}
            }
        }
        self.flush();
    }

    /// Sends the node's outbox over each peer's transport.
    fn flush(&mut self) {
        while let Some((to, bytes)) = self.node.poll_transmit() {
            if let Some(t) = self.peers.get(&to).and_then(Peer::transport) {
                t.send(&bytes);
            }
        }
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

    /// The tab is going away: a graceful leave, a goodbye to every member known over the
    /// relay (so those without a link to this tab hear it too), "bye" to this browser's
    /// tabs, every link closed gracefully (what is queued, the leave among it, goes out
    /// first; the browser tears the connections down as the page goes, and the peers see the
    /// channels close).
    fn shut_down(&mut self) {
        self.shutting_down = true;
        let t = now();
        self.node.leave(t);
        self.flush();
        let (bye, to) = self.node.goodbye();
        if let Some(outbox) = self.signaling.outbox().borrow_mut().as_mut() {
            for member in to {
                outbox.push(t.0, member, &bye);
            }
        }
        if let Some(t) = &self.tabs {
            t.bye();
        }
        for p in self.peers.values() {
            if let Some(d) = p.direct.as_ref() {
                d.close();
            }
        }
        self.signaling.close();
    }
}

/// A peer linked over the relay only, so far.
fn relay_peer(via: Via) -> Peer {
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

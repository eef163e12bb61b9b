//! Live mode: this tab is a real node. It runs the core's [`LiveNode`] (rumors, SWIM, the
//! key-value map) and moves its bytes to other tabs.
//!
//! The node loop ([`Live`]) knows peers, links and the node, not what carries them: frames go
//! through a [`Transport`] (a WebRTC data channel, [`webrtc`]), handshakes through a
//! [`Signaller`] (this browser's BroadcastChannel, [`tabs`], or `grapevine serve`'s WebSocket,
//! [`server`]), and every callback of theirs comes back as one [`Event`] to [`Live::handle`]
//! ([`transport`] has the seams). Of two peers, the one with the smaller id makes the offer;
//! each tab keeps at most about 20 links ([`draw_link_cap`]), so large rooms do not all
//! connect to everyone. On `pagehide` the tab leaves gracefully and closes every link, so
//! peers learn of it at once (a closed Chromium tab is otherwise seen only after ~15 s).

pub mod server;
pub mod tabs;
pub mod transport;
pub mod view;
pub mod webrtc;

use grapevine_core::lab::live::{LiveConfig, LiveEvent, LiveNode};
use grapevine_core::lab::rumor::{RumorConfig, RumorEvent, RumorId};
use grapevine_core::lab::wire::WireError;
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::signal::{peer_hex, IceServer, Signal};
use serde::de::DeserializeOwned;
use serde::Serialize;
use server::Server;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use tabs::Tabs;
pub use transport::{Event, Frame, ServerState, Signaller, Sink, Transport, Via};
use wasm_bindgen::JsValue;

/// How long a link may take to open its channel before it is given up, ms.
const HANDSHAKE_TIMEOUT_MS: f64 = 10_000.0;
/// The loop's tick, ms: the node's deadlines are checked this often.
const TICK_MS: u32 = 50;
/// How often known peers without a link are tried again, ms.
const REDISCOVERY_MS: f64 = 3_000.0;
/// Peers remembered at most (a hostile tab could announce endless ids).
const KNOWN_CAP: usize = 1_000;
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

/// 64 random bits from the browser's cryptographic generator (`crypto.getRandomValues`,
/// through getrandom): tab ids must be unguessable. `None` only if the browser has none.
pub fn random_u64() -> Option<u64> {
    getrandom::u64().ok()
}

/// Links a tab keeps at most: about 20, drawn per tab (16 to 24), so that in a large room the
/// mesh is random rather than complete.
fn draw_link_cap(random: u64) -> usize {
    16 + (random % 9) as usize
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

/// A peer this tab has a link (or a handshake) with.
struct Peer {
    link: webrtc::Link,
    via: Via,
    opened_at: f64,
    open: bool,
}

impl Peer {
    /// What carries its frames.
    fn transport(&self) -> &dyn Transport {
        &self.link
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
    cap: usize,
    peers: BTreeMap<NodeId, Peer>,
    /// Every peer heard of (and how), until it says goodbye: a dropped link, or an offer the
    /// other side refused at its cap, is tried again from here.
    known: BTreeMap<NodeId, Via>,
    /// When `known` is next looked over for peers to link to, ms since the epoch.
    next_rediscovery: f64,
    /// Incremented per link made (see [`Event`]).
    generation: u64,
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
/// server's, or none on loopback and LANs, which need none).
pub fn start(room: String, config: LiveConfig, ice: &[String]) -> Handle {
    let secure = [random_u64(), random_u64(), random_u64()];
    let weakly = || (js_sys::Math::random() * 9.0e15) as u64;
    let [id, seed, cap] = secure.map(|r| r.unwrap_or_else(weakly));
    let me = NodeId(id.max(1));
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
            node: LiveNode::new(me, seed, config, now()),
            rumors: BTreeMap::new(),
            server: ServerState::Connecting,
            log: Vec::new(),
            cap: draw_link_cap(cap),
            peers: BTreeMap::new(),
            known: BTreeMap::new(),
            next_rediscovery: 0.0,
            generation: 0,
            shutting_down: false,
            tabs: Tabs::open(&room, me, sink.clone()),
            signaling: Server::new(room, me, sink.clone()),
            ice_servers: ice_js(&ice),
            ice_fixed: !ice.is_empty(),
            sink: sink.clone(),
            _tick: None,
            _pagehide: None,
        };
        if live.tabs.is_none() {
            live.say("this browser has no BroadcastChannel: same-browser tabs cannot meet".into());
        }
        if secure.iter().any(Option::is_none) {
            live.say(
                "this browser gave no cryptographic randomness: the tab id is guessable".into(),
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

impl Live {
    /// Connected peers whose handshake completed.
    pub fn ready_peers(&self) -> usize {
        self.node.links().filter(|l| l.ready).count()
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
            Event::Gone { peer, closing } => {
                self.known.remove(&peer);
                if let (true, Some(p)) = (closing, self.peers.get(&peer)) {
                    let (sink, generation) = (self.sink.clone(), p.link.generation());
                    gloo_timers::callback::Timeout::new(BYE_GRACE_MS, move || {
                        sink(Event::LinkClosed(peer, generation, "left (closed its tab)"))
                    })
                    .forget();
                }
            }
            Event::Signal(peer, signal, via) => self.on_signal(peer, signal, via),
            Event::Outgoing(peer, generation, signal) => {
                let via = self.link(peer, generation).map(|p| p.via);
                if let Some(signaller) = via.and_then(|via| self.signaller(via)) {
                    signaller.signal(peer, &signal);
                }
            }
            Event::LinkOpen(peer, generation) => {
                if let Some(p) = self
                    .peers
                    .get_mut(&peer)
                    .filter(|p| p.link.generation() == generation)
                {
                    p.open = true;
                    self.say(format!("link to {} open", peer_hex(peer)));
                    self.node.handle_link_up(now(), peer);
                    self.flush();
                }
            }
            Event::Frame(peer, generation, frame) => {
                if self.link(peer, generation).is_some() {
                    match frame {
                        Frame::Bytes(bytes) => self.node.handle_bytes(now(), peer, &bytes),
                        Frame::TooLarge(len) => self.node.refuse(peer, WireError::TooLarge(len)),
                    }
                    self.after_input();
                }
            }
            Event::LinkClosed(peer, generation, why) => {
                if self.link(peer, generation).is_some() {
                    self.drop_peer(peer, why);
                }
            }
            Event::Server(state) => {
                if self.shutting_down {
                    return;
                }
                self.server = match state {
                    ServerState::Offline(reason) => self.signaling.closed(&reason),
                    other => other,
                };
            }
            Event::Welcome(ice) => {
                self.server = ServerState::Connected;
                self.signaling.welcomed();
                if !self.ice_fixed {
                    self.ice_servers = ice_js(&ice);
                }
            }
            Event::Reconnect => {
                if !self.shutting_down {
                    self.server = ServerState::Connecting;
                    self.signaling.connect();
                }
            }
        }
    }

    /// The peer's link, if it is still of this generation.
    fn link(&self, peer: NodeId, generation: u64) -> Option<&Peer> {
        self.peers
            .get(&peer)
            .filter(|p| p.link.generation() == generation)
    }

    fn signaller(&self, via: Via) -> Option<&dyn Signaller> {
        match via {
            Via::Tabs => self.tabs.as_ref().map(|t| t as &dyn Signaller),
            Via::Server => Some(&self.signaling),
        }
    }

    /// A new link to `peer` (its handshake to come).
    fn new_peer(&mut self, peer: NodeId, via: Via) -> Option<Peer> {
        self.generation += 1;
        let link = webrtc::Link::new(peer, self.generation, &self.ice_servers, self.sink.clone())?;
        Some(Peer {
            link,
            via,
            opened_at: js_sys::Date::now(),
            open: false,
        })
    }

    /// A peer exists: the smaller id offers, within the cap.
    fn discover(&mut self, peer: NodeId, via: Via) {
        if peer == self.me {
            return;
        }
        if self.known.len() < KNOWN_CAP || self.known.contains_key(&peer) {
            self.known.entry(peer).or_insert(via);
        }
        if self.peers.contains_key(&peer) || self.peers.len() >= self.cap || self.me > peer {
            return;
        }
        if let Some(p) = self.new_peer(peer, via) {
            p.link.offer();
            self.peers.insert(peer, p);
        }
    }

    /// A handshake signal from `from`. Malformed ones never get here (they do not decode);
    /// out-of-turn ones are ignored, and the handshake then times out.
    fn on_signal(&mut self, from: NodeId, signal: Signal, via: Via) {
        match signal {
            Signal::Description { sdp } => {
                if sdp.kind == grapevine_core::signal::DescriptionKind::Offer {
                    if self.me < from || self.peers.get(&from).is_some_and(|p| p.open) {
                        // The smaller id offers: this pair's offer is ours to make, or we are
                        // already linked. A confused or hostile peer; ignored.
                        return;
                    }
                    // A new offer replaces a handshake that did not finish (the offerer gave
                    // up).
                    if let Some(old) = self.peers.remove(&from) {
                        old.link.shut();
                    }
                    if self.peers.len() >= self.cap {
                        return;
                    }
                    let Some(p) = self.new_peer(from, via) else {
                        return;
                    };
                    self.peers.insert(from, p);
                }
                if let Some(p) = self.peers.get(&from) {
                    p.link.handle_description(sdp);
                }
            }
            Signal::Candidate { candidate } => {
                let Some(p) = self.peers.get(&from) else {
                    return;
                };
                if !p.link.handle_candidate(candidate) {
                    self.drop_peer(from, "too many ICE candidates");
                }
            }
        }
    }

    fn drop_peer(&mut self, peer: NodeId, why: &str) {
        if let Some(p) = self.peers.remove(&peer) {
            let was_open = p.open;
            p.link.shut();
            self.node.handle_link_down(now(), peer);
            if was_open {
                self.say(format!("link to {} closed: {why}", peer_hex(peer)));
            }
            self.after_input();
        }
    }

    /// The node's deadlines, handshakes that took too long, peers to link to again.
    fn tick(&mut self) {
        let t = now();
        if self.node.poll_timeout().is_some_and(|d| d <= t) {
            self.node.handle_timeout(t);
        }
        let wall = js_sys::Date::now();
        let stale: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.open && wall - p.opened_at > HANDSHAKE_TIMEOUT_MS)
            .map(|(&id, _)| id)
            .collect();
        for peer in stale {
            self.drop_peer(peer, "handshake timed out");
        }
        if wall >= self.next_rediscovery {
            self.next_rediscovery = wall + REDISCOVERY_MS;
            let unlinked: Vec<(NodeId, Via)> = self
                .known
                .iter()
                .filter(|(id, _)| !self.peers.contains_key(id))
                .map(|(&id, &via)| (id, via))
                .collect();
            for (peer, via) in unlinked {
                self.discover(peer, via);
            }
        }
        self.after_input();
    }

    /// Drains the node's events and outbox.
    fn after_input(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                LiveEvent::Rumor(RumorEvent::Learned { rumor, from }) => {
                    let latency_ms = now().0 as i64 - rumor.born_ms as i64;
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
            if let Some(p) = self.peers.get(&to).filter(|p| p.open) {
                p.transport().send(&bytes);
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

    /// The tab is going away: a graceful leave, "bye" to this browser's tabs, every link
    /// closed gracefully (what is queued, the leave included, goes out first; the browser
    /// tears the connections down as the page goes, and the peers see the channels close).
    fn shut_down(&mut self) {
        self.shutting_down = true;
        self.node.leave(now());
        self.flush();
        if let Some(t) = &self.tabs {
            t.bye();
        }
        for p in self.peers.values() {
            p.transport().close();
        }
        self.signaling.close();
    }
}

//! Live mode: this tab is a real node. It runs the core's [`LiveNode`] (rumors, SWIM, the
//! key-value map) and moves its bytes over WebRTC data channels to other tabs.
//!
//! Finding peers: tabs of this browser announce themselves on a BroadcastChannel (no server);
//! tabs elsewhere meet through `grapevine serve`'s `/signal` WebSocket, when the page is served
//! by it (reconnecting with backoff when it restarts; links already open do not need it). Both
//! carry the same three things: "I am here", WebRTC offers / answers / ICE candidates, and "I
//! am leaving". Of two peers, the one with the smaller id makes the offer; each tab keeps at
//! most [`draw_link_cap`] links, so large rooms do not all connect to everyone.
//!
//! WebRTC is `web-sys`'s `RTCPeerConnection` used directly (README, architecture: why not
//! matchbox): one negotiated data channel per peer, trickle ICE, `connectionstatechange` for
//! failures, a handshake timeout, and on `pagehide` a graceful leave and every link closed, so
//! peers learn of it at once (a closed Chromium tab is otherwise seen only after ~15 s).

pub mod view;

use grapevine_core::lab::live::{LiveConfig, LiveEvent, LiveNode};
use grapevine_core::lab::rumor::{RumorConfig, RumorEvent, RumorId};
use grapevine_core::lab::wire::{WireError, MAX_MESSAGE_BYTES};
use grapevine_core::lab::{Millis, NodeId};
use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    BroadcastChannel, MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit,
    RtcDataChannelType, RtcIceCandidateInit, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcSessionDescriptionInit, WebSocket,
};

/// How long a peer connection may take to open its channel before it is given up, ms.
const HANDSHAKE_TIMEOUT_MS: f64 = 10_000.0;
/// The driver's tick, ms: deadlines of the node are checked this often.
const TICK_MS: i32 = 50;
/// How often known peers without a link are tried again, ms.
const REDISCOVERY_MS: f64 = 3_000.0;
/// Peers remembered at most (a hostile tab could announce endless ids).
const KNOWN_CAP: usize = 1_000;
/// Rumors the page keeps and shows at most.
const RUMORS_SHOWN: usize = 200;
/// ICE candidates queued at most per peer before its description arrives.
const PENDING_CANDIDATES: usize = 50;

/// Links a tab keeps at most: about 20, drawn per tab (16 to 24), so that in a large room the
/// mesh is random rather than complete.
fn draw_link_cap() -> usize {
    16 + (js_sys::Math::random() * 9.0) as usize
}

/// `[{ urls: [...] }]`, as `RTCConfiguration.iceServers` takes them.
fn ice_servers(urls: &[String]) -> JsValue {
    let list = Array::new();
    if !urls.is_empty() {
        let urls: Array = urls.iter().map(|u| JsValue::from_str(u)).collect();
        list.push(&object(&[("urls", urls.into())]));
    }
    list.into()
}

/// A random 64-bit id (a tab's node id), never 0.
fn random_id() -> NodeId {
    let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    NodeId(((half() << 32) | half()).max(1))
}

/// The id as the signaling server and the page's hooks write it: 16 hex digits.
pub fn hex(id: NodeId) -> String {
    format!("{:016x}", id.0)
}

fn parse_hex(s: &str) -> Option<NodeId> {
    (s.len() == 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .filter(|&v| v != 0)
        .map(NodeId)
}

/// Milliseconds since the epoch: the node's clock (tabs of one machine share it, so a rumor's
/// latency is its arrival time minus its birth time).
fn now() -> Millis {
    Millis(js_sys::Date::now() as u64)
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// How a signal reaches a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// This browser's BroadcastChannel.
    Broadcast,
    /// The signaling server.
    Server,
}

/// The signaling server connection's state, for the view.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerState {
    /// Not tried (the page is not served by `grapevine serve`?) or waiting to retry.
    Offline(String),
    /// Connecting.
    Connecting,
    /// In the room.
    Connected,
}

struct Peer {
    pc: RtcPeerConnection,
    generation: u64,
    channel: RtcDataChannel,
    via: Via,
    opened_at: f64,
    open: bool,
    remote_set: bool,
    pending: Vec<JsValue>,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Peer {
    /// Detaches every handler, then closes: no callback runs into a dropped closure.
    fn close(self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.channel.set_onopen(None);
        self.channel.set_onmessage(None);
        self.channel.set_onclose(None);
        self.channel.close();
        self.pc.close();
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
    /// Incremented per peer connection made: an async step of an older connection with the
    /// same peer must not act on a newer one.
    generation: u64,
    /// The page is going away: no more reconnections.
    shutting_down: bool,
    /// The signaling socket's handlers (replaced on every reconnection, not accumulated).
    socket_handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    broadcast: Option<BroadcastChannel>,
    socket: Option<WebSocket>,
    ice_servers: JsValue,
    /// The page's settings chose the ICE servers: the server's are not taken.
    ice_fixed: bool,
    server_backoff_ms: i32,
    weak: Weak<RefCell<Live>>,
    _keep: Vec<Closure<dyn FnMut(JsValue)>>,
    _tick: Option<timer::Interval>,
}

/// A `setInterval` that is cleared when dropped.
pub mod timer {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    pub struct Interval {
        id: i32,
        _closure: Closure<dyn FnMut()>,
    }

    impl Interval {
        pub fn new(ms: i32, f: impl FnMut() + 'static) -> Option<Interval> {
            let closure = Closure::<dyn FnMut()>::new(f);
            let id = web_sys::window()?
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    closure.as_ref().unchecked_ref(),
                    ms,
                )
                .ok()?;
            Some(Interval {
                id,
                _closure: closure,
            })
        }
    }

    impl Drop for Interval {
        fn drop(&mut self) {
            if let Some(w) = web_sys::window() {
                w.clear_interval_with_handle(self.id);
            }
        }
    }
}

/// The shared handle the page holds.
pub type Handle = Rc<RefCell<Live>>;

/// Starts live mode in `room`; `ice`: STUN / TURN URLs that override the server's (empty: the
/// server's, or none on loopback and LANs, which need none).
pub fn start(room: String, config: LiveConfig, ice: &[String]) -> Handle {
    let me = random_id();
    let seed = (js_sys::Math::random() * 9.0e15) as u64;
    let live = Rc::new(RefCell::new(Live {
        me,
        room: room.clone(),
        node: LiveNode::new(me, seed, config, now()),
        rumors: BTreeMap::new(),
        server: ServerState::Connecting,
        log: Vec::new(),
        cap: draw_link_cap(),
        peers: BTreeMap::new(),
        known: BTreeMap::new(),
        next_rediscovery: 0.0,
        generation: 0,
        shutting_down: false,
        socket_handlers: Vec::new(),
        broadcast: None,
        socket: None,
        ice_servers: ice_servers(ice),
        ice_fixed: !ice.is_empty(),
        server_backoff_ms: 1_000,
        weak: Weak::new(),
        _keep: Vec::new(),
        _tick: None,
    }));
    {
        let mut l = live.borrow_mut();
        l.weak = Rc::downgrade(&live);
        l.open_broadcast();
        let weak = l.weak.clone();
        l._tick = timer::Interval::new(TICK_MS, move || {
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    l.tick();
                }
            }
        });
        let weak = l.weak.clone();
        let pagehide = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    l.shut_down();
                }
            }
        });
        if let Some(w) = web_sys::window() {
            let _ =
                w.add_event_listener_with_callback("pagehide", pagehide.as_ref().unchecked_ref());
        }
        l._keep.push(pagehide);
    }
    connect_server(&live);
    live
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

    fn open_broadcast(&mut self) {
        let Ok(channel) = BroadcastChannel::new(&format!("grapevine-live/{}", self.room)) else {
            self.say("this browser has no BroadcastChannel: same-browser tabs cannot meet".into());
            return;
        };
        let weak = self.weak.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = e.unchecked_into::<MessageEvent>().data();
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    l.on_broadcast(&data);
                }
            }
        });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let _ = channel.post_message(&object(&[
            ("kind", "hello".into()),
            ("from", hex(self.me).into()),
        ]));
        self._keep.push(onmessage);
        self.broadcast = Some(channel);
    }

    /// A message from another tab of this browser. Anything may arrive here (any script of
    /// this origin can post): unknown shapes are ignored.
    fn on_broadcast(&mut self, data: &JsValue) {
        let (Some(kind), Some(from)) = (
            get_str(data, "kind"),
            get_str(data, "from").and_then(|f| parse_hex(&f)),
        ) else {
            return;
        };
        if from == self.me {
            return;
        }
        let to_me = get_str(data, "to").and_then(|t| parse_hex(&t)) == Some(self.me);
        match kind.as_str() {
            "hello" => {
                if let Some(b) = &self.broadcast {
                    let _ = b.post_message(&object(&[
                        ("kind", "here".into()),
                        ("from", hex(self.me).into()),
                        ("to", hex(from).into()),
                    ]));
                }
                self.discover(from, Via::Broadcast);
            }
            "here" if to_me => self.discover(from, Via::Broadcast),
            "signal" if to_me => self.on_signal(from, get(data, "data"), Via::Broadcast),
            "bye" => {
                self.known.remove(&from);
                // The leaver closes its channels gracefully after its last messages (its
                // leave among them): closing our end now could drop those. A second later,
                // whatever is still open goes.
                let weak = self.weak.clone();
                let later = Closure::once_into_js(move || {
                    if let Some(live) = weak.upgrade() {
                        if let Ok(mut l) = live.try_borrow_mut() {
                            l.drop_peer(from, "left (closed its tab)");
                        }
                    }
                });
                if let Some(w) = web_sys::window() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                        later.unchecked_ref(),
                        1_000,
                    );
                }
            }
            _ => {}
        }
    }

    /// A peer exists: the smaller id offers, within the cap.
    fn discover(&mut self, peer: NodeId, via: Via) {
        if peer == self.me {
            return;
        }
        if self.known.len() < KNOWN_CAP || self.known.contains_key(&peer) {
            self.known.entry(peer).or_insert(via);
        }
        if self.peers.contains_key(&peer) || self.peers.len() >= self.cap {
            return;
        }
        if self.me < peer {
            if let Some(p) = self.new_peer(peer, via) {
                self.peers.insert(peer, p);
                self.offer(peer);
            }
        }
    }

    fn new_peer(&mut self, peer: NodeId, via: Via) -> Option<Peer> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&self.ice_servers);
        let pc = RtcPeerConnection::new_with_configuration(&config).ok()?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        let channel = pc.create_data_channel_with_data_channel_dict("gossip", &init);
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let mut handlers = Vec::new();
        let weak = self.weak.clone();
        let with = move |f: &dyn Fn(&mut Live)| {
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    f(&mut l);
                }
            }
        };
        let w = with.clone();
        let onice = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e = e.unchecked_into::<RtcPeerConnectionIceEvent>();
            if let Some(c) = e.candidate() {
                let json: JsValue = c.to_json().into();
                w(&|l| l.send_signal(peer, object(&[("candidate", json.clone())])));
            }
        });
        pc.set_onicecandidate(Some(onice.as_ref().unchecked_ref()));
        let w = with.clone();
        let pc2 = pc.clone();
        let onstate = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let state = pc2.connection_state();
            if matches!(
                state,
                RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
            ) {
                w(&|l| l.drop_peer(peer, "connection failed"));
            }
        });
        pc.set_onconnectionstatechange(Some(onstate.as_ref().unchecked_ref()));
        let w = with.clone();
        let onopen = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            w(&|l| {
                if let Some(p) = l.peers.get_mut(&peer) {
                    p.open = true;
                }
                l.say(format!("link to {} open", hex(peer)));
                l.node.handle_link_up(now(), peer);
                l.flush();
            });
        });
        channel.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        let w = with.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = e.unchecked_into::<MessageEvent>().data();
            // The size is checked before anything is copied into wasm memory: a peer can send
            // a message of a gigabyte.
            let (len, bytes) = if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                let len = buffer.byte_length() as usize;
                (
                    len,
                    (len <= MAX_MESSAGE_BYTES).then(|| Uint8Array::new(buffer).to_vec()),
                )
            } else {
                // A text frame is not a message: the decoder refuses it, and counts it.
                let text = data.as_string().unwrap_or_default();
                (
                    text.len(),
                    (text.len() <= MAX_MESSAGE_BYTES).then(|| text.into_bytes()),
                )
            };
            w(&|l| {
                match &bytes {
                    Some(bytes) => l.node.handle_bytes(now(), peer, bytes),
                    None => l.node.refuse(peer, WireError::TooLarge(len)),
                }
                l.after_input();
            });
        });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let w = with;
        let onclose = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            w(&|l| l.drop_peer(peer, "link closed"));
        });
        channel.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        handlers.extend([onice, onstate, onopen, onmessage, onclose]);
        self.generation += 1;
        Some(Peer {
            pc,
            generation: self.generation,
            channel,
            via,
            opened_at: js_sys::Date::now(),
            open: false,
            remote_set: false,
            pending: Vec::new(),
            _handlers: handlers,
        })
    }

    fn offer(&mut self, peer: NodeId) {
        let Some((pc, generation)) = self.peers.get(&peer).map(|p| (p.pc.clone(), p.generation))
        else {
            return;
        };
        let weak = self.weak.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Ok(offer) = JsFuture::from(pc.create_offer()).await else {
                return;
            };
            let offer: RtcSessionDescriptionInit = offer.unchecked_into();
            if JsFuture::from(pc.set_local_description(&offer))
                .await
                .is_err()
            {
                return;
            }
            let sdp = object(&[("type", "offer".into()), ("sdp", get(&offer, "sdp"))]);
            if let Some(live) = weak.upgrade() {
                let mut l = live.borrow_mut();
                if l.peers
                    .get(&peer)
                    .is_some_and(|p| p.generation == generation)
                {
                    l.send_signal(peer, object(&[("sdp", sdp)]));
                }
            }
        });
    }

    /// An offer, answer or candidate from `from`. Malformed ones are dropped: the handshake
    /// then times out.
    fn on_signal(&mut self, from: NodeId, data: JsValue, via: Via) {
        let sdp = get(&data, "sdp");
        let candidate = get(&data, "candidate");
        if !sdp.is_undefined() {
            let kind = get_str(&sdp, "type").unwrap_or_default();
            if kind == "offer" {
                if self.me < from || self.peers.get(&from).is_some_and(|p| p.open) {
                    // The smaller id offers: this pair's offer is ours to make, or we are
                    // already linked. A confused or hostile peer; ignored.
                    return;
                }
                // A new offer replaces a handshake that did not finish (the offerer gave up).
                if let Some(old) = self.peers.remove(&from) {
                    old.close();
                }
                if self.peers.len() >= self.cap {
                    return;
                }
                let Some(p) = self.new_peer(from, via) else {
                    return;
                };
                self.peers.insert(from, p);
            }
            let Some((pc, generation)) =
                self.peers.get(&from).map(|p| (p.pc.clone(), p.generation))
            else {
                return;
            };
            let weak = self.weak.clone();
            let description: RtcSessionDescriptionInit = sdp.unchecked_into();
            wasm_bindgen_futures::spawn_local(async move {
                if JsFuture::from(pc.set_remote_description(&description))
                    .await
                    .is_err()
                {
                    return;
                }
                let pending = weak.upgrade().map(|live| {
                    let mut l = live.borrow_mut();
                    l.peers
                        .get_mut(&from)
                        .filter(|p| p.generation == generation)
                        .map(|p| {
                            p.remote_set = true;
                            std::mem::take(&mut p.pending)
                        })
                });
                for c in pending.flatten().unwrap_or_default() {
                    let init: RtcIceCandidateInit = c.unchecked_into();
                    let _ = JsFuture::from(
                        pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)),
                    )
                    .await;
                }
                if kind != "offer" {
                    return;
                }
                let Ok(answer) = JsFuture::from(pc.create_answer()).await else {
                    return;
                };
                let answer: RtcSessionDescriptionInit = answer.unchecked_into();
                if JsFuture::from(pc.set_local_description(&answer))
                    .await
                    .is_err()
                {
                    return;
                }
                let sdp = object(&[("type", "answer".into()), ("sdp", get(&answer, "sdp"))]);
                if let Some(live) = weak.upgrade() {
                    let mut l = live.borrow_mut();
                    if l.peers
                        .get(&from)
                        .is_some_and(|p| p.generation == generation)
                    {
                        l.send_signal(from, object(&[("sdp", sdp)]));
                    }
                }
            });
        } else if !candidate.is_undefined() {
            let Some(p) = self.peers.get_mut(&from) else {
                return;
            };
            if !p.remote_set {
                if p.pending.len() >= PENDING_CANDIDATES {
                    self.drop_peer(from, "too many ICE candidates");
                    return;
                }
                p.pending.push(candidate);
                return;
            }
            let pc = p.pc.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let init: RtcIceCandidateInit = candidate.unchecked_into();
                let _ = JsFuture::from(
                    pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)),
                )
                .await;
            });
        }
    }

    fn send_signal(&mut self, to: NodeId, data: JsValue) {
        let via = self.peers.get(&to).map_or(Via::Broadcast, |p| p.via);
        match via {
            Via::Broadcast => {
                if let Some(b) = &self.broadcast {
                    let _ = b.post_message(&object(&[
                        ("kind", "signal".into()),
                        ("from", hex(self.me).into()),
                        ("to", hex(to).into()),
                        ("data", data),
                    ]));
                }
            }
            Via::Server => {
                if let Some(ws) = &self.socket {
                    let frame = object(&[
                        ("type", "signal".into()),
                        ("to", hex(to).into()),
                        ("data", data),
                    ]);
                    if let Ok(text) = JSON::stringify(&frame) {
                        let _ = ws.send_with_str(&String::from(text));
                    }
                }
            }
        }
    }

    fn drop_peer(&mut self, peer: NodeId, why: &str) {
        if let Some(p) = self.peers.remove(&peer) {
            let was_open = p.open;
            p.close();
            self.node.handle_link_down(now(), peer);
            if was_open {
                self.say(format!("link to {} closed: {why}", hex(peer)));
            }
            self.after_input();
        }
    }

    /// The node's deadlines, handshakes that took too long, and the outbox.
    fn tick(&mut self) {
        let t = now();
        if self.node.poll_timeout().is_some_and(|d| d <= t) {
            self.node.handle_timeout(t);
        }
        let stale: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.open && js_sys::Date::now() - p.opened_at > HANDSHAKE_TIMEOUT_MS)
            .map(|(&id, _)| id)
            .collect();
        for peer in stale {
            self.drop_peer(peer, "handshake timed out");
        }
        let wall = js_sys::Date::now();
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
                        let oldest = *self.rumors.keys().next().expect("not empty");
                        self.rumors.remove(&oldest);
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
                    self.say(format!("refused bytes from {}: {error}", hex(peer)));
                }
                _ => {}
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        while let Some((to, bytes)) = self.node.poll_transmit() {
            if let Some(p) = self.peers.get(&to).filter(|p| p.open) {
                let _ = p.channel.send_with_u8_array(&bytes);
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

    /// New live knobs: the rumors' fanout and gossip interval, the loss on send.
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

    /// The tab is going away: a graceful leave, "bye" to this browser's tabs, every link closed.
    fn shut_down(&mut self) {
        self.shutting_down = true;
        self.node.leave(now());
        self.flush();
        if let Some(b) = &self.broadcast {
            let _ = b.post_message(&object(&[
                ("kind", "bye".into()),
                ("from", hex(self.me).into()),
            ]));
        }
        // Closing a data channel is graceful (what is queued, the leave included, goes out
        // first); closing the peer connection now would drop it. The browser tears the
        // connections down as the page goes; the peers see the channels close at once.
        for p in self.peers.values() {
            p.channel.close();
        }
        if let Some(ws) = self.socket.take() {
            let _ = ws.close();
        }
    }

    /// Sends raw bytes to every open link (the misbehaving-peer test hook).
    pub fn send_raw_to_all(&mut self, bytes: &[u8]) {
        for p in self.peers.values().filter(|p| p.open) {
            let _ = p.channel.send_with_u8_array(bytes);
        }
    }
}

/// Opens the signaling WebSocket (the page's own origin, `/signal`), and reopens it with
/// backoff (1 s doubling to 30 s) whenever it closes.
fn connect_server(live: &Handle) {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return;
    };
    let (Ok(host), Ok(protocol)) = (location.host(), location.protocol()) else {
        return;
    };
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    let (room, me) = {
        let l = live.borrow();
        (l.room.clone(), l.me)
    };
    let url = format!("{scheme}://{host}/signal?room={room}&peer={}", hex(me));
    let Ok(ws) = WebSocket::new(&url) else { return };
    live.borrow_mut().server = ServerState::Connecting;
    let weak = Rc::downgrade(live);
    let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let text = e
            .unchecked_into::<MessageEvent>()
            .data()
            .as_string()
            .unwrap_or_default();
        let Ok(frame) = JSON::parse(&text) else {
            return;
        };
        if let Some(live) = weak.upgrade() {
            if let Ok(mut l) = live.try_borrow_mut() {
                l.on_server(&frame);
            }
        }
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    let weak = Rc::downgrade(live);
    let onclose = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let Some(live) = weak.upgrade() else { return };
        if live.borrow().shutting_down {
            return;
        }
        let reason = get_str(&e, "reason").filter(|r| !r.is_empty());
        let delay = {
            let mut l = live.borrow_mut();
            l.socket = None;
            let delay = l.server_backoff_ms;
            l.server_backoff_ms = (delay * 2).min(30_000);
            l.server = ServerState::Offline(match reason {
                Some(r) => format!("closed: {r}; retrying in {} s", delay / 1000),
                None => format!(
                    "not reachable; retrying in {} s (same-browser tabs still meet)",
                    delay / 1000
                ),
            });
            delay
        };
        let weak = Rc::downgrade(&live);
        let retry = Closure::once_into_js(move || {
            if let Some(live) = weak.upgrade() {
                connect_server(&live);
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                retry.unchecked_ref(),
                delay,
            );
        }
    });
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    let mut l = live.borrow_mut();
    // The previous socket has closed: its handlers can go.
    l.socket_handlers = vec![onmessage, onclose];
    l.socket = Some(ws);
}

impl Live {
    fn on_server(&mut self, frame: &JsValue) {
        let kind = get_str(frame, "type").unwrap_or_default();
        match kind.as_str() {
            "welcome" => {
                self.server = ServerState::Connected;
                self.server_backoff_ms = 1_000;
                let ice = get(frame, "ice_servers");
                if Array::is_array(&ice) && !self.ice_fixed {
                    self.ice_servers = ice;
                }
                let peers = Array::from(&get(frame, "peers"));
                for p in peers.iter() {
                    if let Some(id) = p.as_string().and_then(|s| parse_hex(&s)) {
                        self.discover(id, Via::Server);
                    }
                }
            }
            "peer-joined" => {
                if let Some(id) = get_str(frame, "peer").and_then(|s| parse_hex(&s)) {
                    self.discover(id, Via::Server);
                }
            }
            "signal" => {
                if let Some(id) = get_str(frame, "from").and_then(|s| parse_hex(&s)) {
                    self.on_signal(id, get(frame, "data"), Via::Server);
                }
            }
            "peer-left" => {
                if let Some(id) = get_str(frame, "peer").and_then(|s| parse_hex(&s)) {
                    self.known.remove(&id);
                }
            }
            _ => {}
        }
    }
}

//! `grapevine serve`'s `/signal` WebSocket on the page's own origin: tabs of other browsers
//! meet through it, and it carries the relay ([`super::relay`]). Frames are the core's
//! signaling types ([`grapevine_core::signal`]), the same the server decodes. When the socket
//! closes the loop is told, and asks for a new connection after a backoff (1 s doubling to
//! 30 s); each connection starts by proving this tab's key (the server's challenge, signed),
//! so the id stays this tab's; direct links already open do not need the server.

use super::js::{from_js, to_js};
use super::relay::SharedOutbox;
use super::transport::{Door, Event, Frame, ServerState, Signaller, Sink, Via};
use grapevine_core::auth::Identity;
use grapevine_core::lab::wire::MAX_MESSAGE_BYTES;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{
    close, parse_peer, peer_hex, prove, read_relay_batch, relay_decode, FromClient, Limits,
    RelayOutbox, Signal, ToClient,
};
use js_sys::JSON;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// The first wait before reconnecting, ms; it doubles up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u32 = 1_000;
/// The longest wait before reconnecting, ms.
const MAX_BACKOFF_MS: u32 = 30_000;
/// The wait before trying a full room again, ms: flat, so that a student waits a few seconds
/// after a seat frees, not the half minute a doubling backoff reaches (a class of 30 tries 10
/// times a second, under the server's join rate for one address).
pub const FULL_RETRY_MS: u32 = 3_000;
/// The wait before trying a locked room again, ms: a lock is lifted by hand, rarely.
pub const LOCKED_RETRY_MS: u32 = 10_000;

/// The signaling connection (or the wait for the next one).
pub struct Server {
    room: String,
    /// The conductor token, given as the socket opens: a full room still admits the
    /// teacher's tab.
    conductor: Option<String>,
    /// The room's join code, if the server asks for one (given as the socket opens).
    code: Option<String>,
    /// This tab's key: it answers the server's challenge.
    identity: Identity,
    sink: Sink,
    socket: Option<WebSocket>,
    backoff_ms: u32,
    /// The relay's outbox (while welcomed by a server with a relay).
    outbox: SharedOutbox,
    /// The current socket's handlers (replaced on every reconnection, not accumulated).
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Server {
    /// A connection to come: call [`Server::connect`].
    pub fn new(
        room: String,
        conductor: Option<String>,
        code: Option<String>,
        identity: Identity,
        sink: Sink,
    ) -> Server {
        Server {
            room,
            conductor,
            code,
            identity,
            sink,
            socket: None,
            backoff_ms: FIRST_BACKOFF_MS,
            outbox: SharedOutbox::default(),
            _handlers: Vec::new(),
        }
    }

    /// The relay's outbox, for relay links.
    pub fn outbox(&self) -> SharedOutbox {
        self.outbox.clone()
    }

    /// Whether the relay can carry frames now.
    pub fn relays(&self) -> bool {
        self.outbox.borrow().is_some()
    }

    /// Opens the socket (`ws[s]://HOST/signal?room=ROOM&peer=ID&relay=binary`: relayed
    /// messages in binary batches, a third fewer bytes than base64 in JSON; and
    /// `&conduct=TOKEN` from the conductor's tab). Nothing happens
    /// outside a page with a location. (It emits nothing itself: the loop that calls it is
    /// busy.)
    pub fn connect(&mut self) {
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return;
        };
        let (Ok(host), Ok(protocol)) = (location.host(), location.protocol()) else {
            return;
        };
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        let mut url = format!(
            "{scheme}://{host}/signal?room={}&peer={}&relay=binary",
            self.room,
            peer_hex(self.identity.id())
        );
        if let Some(token) = &self.conductor {
            // A token is letters, digits, '-' and '_' (checked when the page read it).
            url.push_str(&format!("&conduct={token}"));
        }
        if let Some(code) = &self.code {
            // Letters, digits, spaces and '-' (checked when read): spaces encoded.
            url.push_str(&format!("&code={}", code.replace(' ', "%20")));
        }
        let Ok(ws) = WebSocket::new(&url) else { return };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let sink = self.sink.clone();
        let (identity, room, socket) = (self.identity.clone(), self.room.clone(), ws.clone());
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = e.unchecked_into::<MessageEvent>().data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                for event in relayed(&js_sys::Uint8Array::new(buffer).to_vec()) {
                    sink(event);
                }
                return;
            }
            let text = data.as_string().unwrap_or_default();
            let frame = JSON::parse(&text)
                .ok()
                .and_then(from_js::<ToClient<Signal>>);
            if let Some(ToClient::Challenge { nonce }) = &frame {
                // The server asks for proof of this tab's key: answered at once.
                let proof = prove::<Signal>(&identity, &room, nonce);
                if let Ok(text) = JSON::stringify(&to_js(&proof)) {
                    let _ = socket.send_with_str(&String::from(text));
                }
                return;
            }
            for event in frame.map(read).unwrap_or_default() {
                sink(event);
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let sink = self.sink.clone();
        let onclose = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e = e.unchecked_into::<CloseEvent>();
            // Replaced: another connection took the id over, proving this tab's key: another
            // tab has it (a duplicated tab copies sessionStorage).
            let state = match e.code() {
                close::REPLACED => ServerState::Taken(e.reason()),
                // Try again later: the room, the server or this address is full.
                close::TRY_LATER => ServerState::Full(e.reason()),
                close::JOIN_CODE => ServerState::NeedsCode(e.reason()),
                close::LOCKED => ServerState::Locked(e.reason()),
                close::REMOVED => ServerState::Removed(e.reason()),
                _ => ServerState::Offline(e.reason()),
            };
            sink(Event::Server(state));
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        // The previous socket has closed: its handlers can go.
        self._handlers = vec![onmessage, onclose];
        self.socket = Some(ws);
    }

    /// The socket closed (`reason`, possibly empty): the state to show, after scheduling the
    /// next attempt.
    pub fn closed(&mut self, reason: &str) -> ServerState {
        let delay = self.backoff_ms;
        self.backoff_ms = (delay * 2).min(MAX_BACKOFF_MS);
        self.retry_in(delay);
        ServerState::Offline(if reason.is_empty() {
            format!(
                "not reachable; retrying in {} s (same-browser tabs still meet)",
                delay / 1000
            )
        } else {
            format!("closed: {reason}; retrying in {} s", delay / 1000)
        })
    }

    /// The room is full (`reason`, the server's): the next attempt in [`FULL_RETRY_MS`].
    pub fn full(&mut self, reason: &str) -> ServerState {
        self.retry_in(FULL_RETRY_MS);
        ServerState::Full(reason.to_string())
    }

    /// The room is locked (`reason`, the server's): the next attempt in [`LOCKED_RETRY_MS`].
    pub fn locked(&mut self, reason: &str) -> ServerState {
        self.retry_in(LOCKED_RETRY_MS);
        ServerState::Locked(reason.to_string())
    }

    /// The key to prove from now on (before the first connection: a duplicated tab drew a
    /// new one).
    pub fn set_identity(&mut self, identity: Identity) {
        self.identity = identity;
    }

    /// The join code to give from now on (typed by the student).
    pub fn set_code(&mut self, code: String) {
        self.code = Some(code);
    }

    /// The socket is gone (its relay with it): a new attempt in `ms`.
    fn retry_in(&mut self, ms: u32) {
        self.socket = None;
        self.outbox.borrow_mut().take();
        let sink = self.sink.clone();
        gloo_timers::callback::Timeout::new(ms, move || sink(Event::Reconnect)).forget();
    }

    /// No more attempts (the id is taken by another tab, the member was removed, or a code
    /// is wanted: [`Server::connect`] again when the student typed one).
    pub fn stop(&mut self) {
        self.socket = None;
        self.outbox.borrow_mut().take();
    }

    /// The server welcomed this tab: the next outage starts from the first backoff again;
    /// the relay opens (if the server has one) under its limits.
    pub fn welcomed(&mut self, limits: Option<Limits>) {
        self.backoff_ms = FIRST_BACKOFF_MS;
        *self.outbox.borrow_mut() = limits.map(|l| RelayOutbox::new(l, js_sys::Date::now() as u64));
    }

    /// Sends what waits in the relay's outbox.
    pub fn flush_relay(&self) {
        let batches = match self.outbox.borrow_mut().as_mut() {
            Some(outbox) if !outbox.is_empty() => outbox.drain(),
            _ => return,
        };
        if let Some(ws) = &self.socket {
            for batch in batches {
                let _ = ws.send_with_u8_array(&batch);
            }
        }
    }

    /// Tells the server this tab's links (for `/health`; it also keeps the connection
    /// active).
    pub fn report_links(&self, direct: u32, relay: u32) {
        self.send(&FromClient::Links { direct, relay });
    }

    /// Presents the conductor token (the page was opened with the conductor link).
    pub fn conduct(&self, token: &str) {
        self.send(&FromClient::Conduct {
            token: token.to_string(),
        });
    }

    /// Sends a signed order for the server to give the room.
    pub fn order(&self, order: String) {
        self.send(&FromClient::Order { order });
    }

    fn send(&self, frame: &FromClient<Signal>) {
        if let (Some(ws), Ok(text)) = (&self.socket, JSON::stringify(&to_js(frame))) {
            let _ = ws.send_with_str(&String::from(text));
        }
    }

    /// Closes the socket for good (the page is going).
    pub fn close(&mut self) {
        self.flush_relay();
        self._handlers.clear();
        if let Some(ws) = self.socket.take() {
            ws.set_onmessage(None);
            ws.set_onclose(None);
            let _ = ws.close();
        }
    }
}

impl Signaller for Server {
    fn signal(&self, to: NodeId, signal: &Signal) {
        self.send(&FromClient::Signal {
            to: peer_hex(to),
            data: signal.clone(),
        });
    }
}

/// A binary relay batch from the server: each message from its sender (a message over the
/// wire cap is refused unread). A batch that does not read is dropped: the server writes
/// them, and a broken one names no peer to blame.
fn relayed(batch: &[u8]) -> Vec<Event> {
    read_relay_batch(batch)
        .unwrap_or_default()
        .into_iter()
        .map(|(peer, bytes)| {
            let frame = if bytes.len() > MAX_MESSAGE_BYTES {
                Frame::TooLarge(bytes.len())
            } else {
                Frame::Bytes(bytes.to_vec())
            };
            Event::Relayed(peer, frame)
        })
        .collect()
}

/// What a server frame means for the loop: the welcome first (its ICE servers serve the
/// links that follow), then each peer it names. Peer ids are checked like any other input.
fn read(frame: ToClient<Signal>) -> Vec<Event> {
    match frame {
        ToClient::Welcome {
            peers,
            ice_servers,
            limits,
            ..
        } => std::iter::once(Event::Welcome(ice_servers, limits))
            .chain(
                peers
                    .iter()
                    .filter_map(|p| parse_peer(p))
                    .map(|p| Event::Discovered(p, Via::Server)),
            )
            .collect(),
        ToClient::Roster { peers } => {
            vec![Event::Roster(
                peers.iter().filter_map(|p| parse_peer(p)).collect(),
            )]
        }
        ToClient::PeerJoined { peer } => parse_peer(&peer)
            .map(|p| Event::Discovered(p, Via::Server))
            .into_iter()
            .collect(),
        ToClient::PeerLeft { peer } => parse_peer(&peer)
            .map(|peer| Event::Gone {
                peer,
                closing: false,
            })
            .into_iter()
            .collect(),
        ToClient::Signal { from, data } => parse_peer(&from)
            .map(|p| Event::Signal(p, data, Via::Server))
            .into_iter()
            .collect(),
        ToClient::Relay { frames } => frames
            .into_iter()
            .filter_map(|f| {
                let peer = parse_peer(&f.peer)?;
                // Undecodable data reaches the node as bytes it refuses (and counts).
                let frame = match relay_decode(&f.data, MAX_MESSAGE_BYTES) {
                    Some(bytes) => Frame::Bytes(bytes),
                    None if f.data.len() / 4 * 3 > MAX_MESSAGE_BYTES => {
                        Frame::TooLarge(f.data.len() / 4 * 3)
                    }
                    None => Frame::Bytes(Vec::new()),
                };
                Some(Event::Relayed(peer, frame))
            })
            .collect(),
        ToClient::Conductor { peer } => parse_peer(&peer)
            .map(Event::Conductor)
            .into_iter()
            .collect(),
        ToClient::ConductorRefused { reason } => vec![Event::ConductorRefused(reason)],
        ToClient::Order { order } => vec![Event::Order(order)],
        ToClient::JoinCode {
            code,
            rotates_in_ms,
        } => vec![Event::JoinCode(code, rotates_in_ms)],
        ToClient::Addresses {
            addresses,
            locked,
            waiting_room,
            waiting,
        } => {
            let rows = |rows: Vec<grapevine_core::signal::AddressMembers>| {
                rows.into_iter()
                    .map(|a| {
                        let members = a.members.iter().filter_map(|p| parse_peer(p)).collect();
                        (a.address, members)
                    })
                    .collect()
            };
            vec![Event::Addresses(Door {
                addresses: rows(addresses),
                locked,
                waiting_room,
                waiting: rows(waiting),
            })]
        }
        ToClient::Waiting => vec![Event::Server(ServerState::Waiting)],
        ToClient::Pong | ToClient::Error { .. } | ToClient::Challenge { .. } => Vec::new(),
    }
}

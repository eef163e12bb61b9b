//! `grapevine serve`'s `/signal` WebSocket on the page's own origin: tabs of other browsers
//! meet through it. Frames are the core's signaling types ([`grapevine_core::signal`]), the
//! same the server decodes. When the socket closes the loop is told, and asks for a new
//! connection after a backoff (1 s doubling to 30 s); links already open do not need it.

use super::transport::{Event, ServerState, Signaller, Sink, Via};
use super::{from_js, to_js};
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{parse_peer, peer_hex, FromClient, Signal, ToClient};
use js_sys::JSON;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// The first wait before reconnecting, ms; it doubles up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u32 = 1_000;
/// The longest wait before reconnecting, ms.
const MAX_BACKOFF_MS: u32 = 30_000;

/// The signaling connection (or the wait for the next one).
pub struct Server {
    room: String,
    me: NodeId,
    sink: Sink,
    socket: Option<WebSocket>,
    backoff_ms: u32,
    /// The current socket's handlers (replaced on every reconnection, not accumulated).
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Server {
    /// A connection to come: call [`Server::connect`].
    pub fn new(room: String, me: NodeId, sink: Sink) -> Server {
        Server {
            room,
            me,
            sink,
            socket: None,
            backoff_ms: FIRST_BACKOFF_MS,
            _handlers: Vec::new(),
        }
    }

    /// Opens the socket (`ws[s]://HOST/signal?room=ROOM&peer=ID`). Nothing happens outside a
    /// page with a location. (It emits nothing itself: the loop that calls it is busy.)
    pub fn connect(&mut self) {
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return;
        };
        let (Ok(host), Ok(protocol)) = (location.host(), location.protocol()) else {
            return;
        };
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        let url = format!(
            "{scheme}://{host}/signal?room={}&peer={}",
            self.room,
            peer_hex(self.me)
        );
        let Ok(ws) = WebSocket::new(&url) else { return };
        let sink = self.sink.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let text = e
                .unchecked_into::<MessageEvent>()
                .data()
                .as_string()
                .unwrap_or_default();
            let frame = JSON::parse(&text)
                .ok()
                .and_then(from_js::<ToClient<Signal>>);
            for event in frame.map(read).unwrap_or_default() {
                sink(event);
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let sink = self.sink.clone();
        let onclose = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let reason = e.unchecked_into::<CloseEvent>().reason();
            sink(Event::Server(ServerState::Offline(reason)));
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        // The previous socket has closed: its handlers can go.
        self._handlers = vec![onmessage, onclose];
        self.socket = Some(ws);
    }

    /// The socket closed (`reason`, possibly empty): the state to show, after scheduling the
    /// next attempt.
    pub fn closed(&mut self, reason: &str) -> ServerState {
        self.socket = None;
        let delay = self.backoff_ms;
        self.backoff_ms = (delay * 2).min(MAX_BACKOFF_MS);
        let sink = self.sink.clone();
        gloo_timers::callback::Timeout::new(delay, move || sink(Event::Reconnect)).forget();
        ServerState::Offline(if reason.is_empty() {
            format!(
                "not reachable; retrying in {} s (same-browser tabs still meet)",
                delay / 1000
            )
        } else {
            format!("closed: {reason}; retrying in {} s", delay / 1000)
        })
    }

    /// The server welcomed this tab: the next outage starts from the first backoff again.
    pub fn welcomed(&mut self) {
        self.backoff_ms = FIRST_BACKOFF_MS;
    }

    /// Closes the socket for good (the page is going).
    pub fn close(&mut self) {
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
        let frame = FromClient::Signal {
            to: peer_hex(to),
            data: signal.clone(),
        };
        if let (Some(ws), Ok(text)) = (&self.socket, JSON::stringify(&to_js(&frame))) {
            let _ = ws.send_with_str(&String::from(text));
        }
    }
}

/// What a server frame means for the loop: the welcome first (its ICE servers serve the
/// links that follow), then each peer it names. Peer ids are checked like any other input.
fn read(frame: ToClient<Signal>) -> Vec<Event> {
    match frame {
        ToClient::Welcome {
            peers, ice_servers, ..
        } => std::iter::once(Event::Welcome(ice_servers))
            .chain(
                peers
                    .iter()
                    .filter_map(|p| parse_peer(p))
                    .map(|p| Event::Discovered(p, Via::Server)),
            )
            .collect(),
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
        ToClient::Pong | ToClient::Error { .. } => Vec::new(),
    }
}

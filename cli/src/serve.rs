//! `grapevine serve`: the built page, a WebSocket signaling endpoint at `/signal`, `/health`
//! and `/config` (the ICE servers the page should use), on one port.
//!
//! Signaling only introduces browsers: a tab joins a room with the peer id it chose, learns
//! who is there, and relays WebRTC offers, answers and ICE candidates to them; gossip then
//! flows peer to peer over data channels, and the server sees none of it. The protocol is
//! JSON text frames (see [`FromClient`] and [`ToClient`]). It is small on purpose, and strict:
//! the server is reachable by anyone who can reach the port, so every frame is checked, every
//! resource is capped (frame size, peers per room, rooms, frames per second, silence), and a
//! connection that breaks a rule is closed with a close code and reason naming it, and a log
//! line, while everyone else is served on.
//!
//! Why not `matchbox_signaling`: its server has no hook for room sizes, frame sizes, rates or
//! idle time (its room state is private), and assigns ids itself; every cap the issue asks
//! for would need a custom topology, which is this handler anyway. Its wire format (offer /
//! answer / candidate inside a `signal` envelope) is the model for ours.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use grapevine_core::signal::{self, valid_peer, valid_room, IceServer};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tower_http::services::ServeDir;

/// `grapevine serve`'s flags.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the line printed at start names it).
    #[arg(long, value_name = "P", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (the LAN too).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The built page (trunk build --release --dist DIR).
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub dist: PathBuf,
    /// A STUN server the pages should use, e.g. stun:stun.example.org:3478 (repeatable).
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server, e.g. turn:turn.example.org:3478 (with --turn-user and --turn-credential).
    #[arg(long, value_name = "URL", requires_all = ["turn_user", "turn_credential"])]
    pub turn: Option<String>,
    /// The TURN server's user name.
    #[arg(long, value_name = "NAME")]
    pub turn_user: Option<String>,
    /// The TURN server's credential.
    #[arg(long, value_name = "SECRET")]
    pub turn_credential: Option<String>,
    /// Most peers in one room.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub max_room_peers: u32,
    /// Most rooms at once.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms: u32,
    /// Largest signaling frame, bytes (an offer with its candidates is a few KiB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    pub max_frame_bytes: u32,
    /// Frames a connection may send per second, on average (twice that in a burst).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rate: u32,
    /// Seconds of silence (no frame, no pong) after which a connection is closed.
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_secs: u64,
}

/// Close codes (RFC 6455 §7.4 and the private range).
mod close {
    /// A frame broke the protocol: malformed, unknown, or a field that does not belong.
    pub const POLICY: u16 = 1008;
    /// A binary frame: the protocol is text.
    pub const UNSUPPORTED: u16 = 1003;
    /// A frame over the size cap.
    pub const TOO_BIG: u16 = 1009;
    /// The room or the server is full; try later.
    pub const TRY_LATER: u16 = 1013;
    /// Silent for too long.
    pub const IDLE: u16 = 4000;
    /// The peer id is already in the room.
    pub const ID_TAKEN: u16 = 4409;
}

/// What a page may send: the core's frame, its signal data opaque here.
type FromClient = signal::FromClient<serde_json::Value>;
/// What the server sends: the core's frame, relaying signal data as it came.
type ToClient<'a> = signal::ToClient<&'a serde_json::Value>;

/// The limits every connection lives under.
#[derive(Clone, Copy, Debug)]
struct Limits {
    room_peers: usize,
    rooms: usize,
    frame_bytes: usize,
    rate: f64,
    idle: Duration,
}

/// Rooms and their peers: each peer's queue of frames to send.
#[derive(Default)]
struct Rooms(HashMap<String, HashMap<String, mpsc::Sender<Outgoing>>>);

/// Frames waiting for one connection at most; beyond, frames for it are dropped (signals are
/// retried by the pages' handshake timeouts), so a client that stops reading costs bounded
/// memory.
const QUEUE_FRAMES: usize = 64;

/// How long one send to a client may take before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A frame on its way to one connection.
#[derive(Debug)]
enum Outgoing {
    Text(String),
}

struct Shared {
    rooms: Mutex<Rooms>,
    limits: Limits,
    ice: Vec<IceServer>,
}

type AppState = Arc<Shared>;

fn log(line: &str) {
    eprintln!("grapevine serve: {line}");
}

#[derive(Deserialize)]
struct JoinQuery {
    room: Option<String>,
    peer: Option<String>,
}

/// Builds the app: static files, `/signal`, `/health`, `/config`.
fn app(args: &ServeArgs) -> Router {
    let mut ice = Vec::new();
    if !args.stun.is_empty() {
        ice.push(IceServer {
            urls: args.stun.clone(),
            username: None,
            credential: None,
        });
    }
    if let Some(turn) = &args.turn {
        ice.push(IceServer {
            urls: vec![turn.clone()],
            username: args.turn_user.clone(),
            credential: args.turn_credential.clone(),
        });
    }
    let state: AppState = Arc::new(Shared {
        rooms: Mutex::new(Rooms::default()),
        limits: Limits {
            room_peers: args.max_room_peers as usize,
            rooms: args.max_rooms as usize,
            frame_bytes: args.max_frame_bytes as usize,
            rate: f64::from(args.max_rate),
            idle: Duration::from_secs(args.idle_secs),
        },
        ice,
    });
    Router::new()
        .route("/signal", get(signal))
        .route("/health", get(health))
        .route("/config", get(config))
        .fallback_service(ServeDir::new(&args.dist).append_index_html_on_directories(true))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let rooms = state.rooms.lock().expect("rooms lock");
    let peers: usize = rooms.0.values().map(HashMap::len).sum();
    Json(serde_json::json!({ "status": "ok", "rooms": rooms.0.len(), "peers": peers }))
}

async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ice_servers": state.ice }))
}

async fn signal(
    ws: WebSocketUpgrade,
    Query(query): Query<JoinQuery>,
    State(state): State<AppState>,
) -> Response {
    // Room with a margin for the close frame; larger frames are refused by the socket itself.
    let cap = state.limits.frame_bytes;
    ws.max_message_size(cap * 2)
        .max_frame_size(cap * 2)
        .on_upgrade(move |socket| connection(socket, query, state))
        .into_response()
}

/// How long a closing connection waits for the peer's own close frame (RFC 6455 §7.1.1: the
/// server should not drop the TCP connection first, or the peer may never read the reason).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

async fn close_with(socket: WebSocket, code: u16, reason: &str) {
    let (sink, stream) = socket.split();
    finish(sink, stream, code, reason.to_string()).await;
}

/// Sends a close frame, then drains the connection until the peer's close frame (or the grace
/// period ends).
async fn finish(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    code: u16,
    reason: String,
) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    if !send_within(&mut sink, Message::Close(Some(frame))).await {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Sends one frame, giving up after [`SEND_TIMEOUT`] (a client that does not read).
async fn send_within(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

/// Joins the room or says why not.
fn join(
    state: &Shared,
    room: &str,
    peer: &str,
    tx: mpsc::Sender<Outgoing>,
) -> Result<Vec<String>, (u16, &'static str)> {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if !rooms.0.contains_key(room) && rooms.0.len() >= state.limits.rooms {
        return Err((close::TRY_LATER, "too many rooms on this server"));
    }
    let members = rooms.0.entry(room.to_string()).or_default();
    if members.contains_key(peer) {
        return Err((close::ID_TAKEN, "this peer id is already in the room"));
    }
    if members.len() >= state.limits.room_peers {
        return Err((close::TRY_LATER, "the room is full"));
    }
    let others: Vec<String> = members.keys().cloned().collect();
    let joined =
        serde_json::to_string(&ToClient::PeerJoined { peer: peer.into() }).expect("serialisable");
    for sender in members.values() {
        let _ = sender.try_send(Outgoing::Text(joined.clone()));
    }
    members.insert(peer.to_string(), tx);
    Ok(others)
}

fn leave(state: &Shared, room: &str, peer: &str) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(members) = rooms.0.get_mut(room) else {
        return;
    };
    members.remove(peer);
    if members.is_empty() {
        rooms.0.remove(room);
        return;
    }
    let left =
        serde_json::to_string(&ToClient::PeerLeft { peer: peer.into() }).expect("serialisable");
    for sender in members.values() {
        let _ = sender.try_send(Outgoing::Text(left.clone()));
    }
}

/// Sends `data` from `from` to `to` in `room`; false if `to` is not there.
fn relay(state: &Shared, room: &str, from: &str, to: &str, data: &serde_json::Value) -> bool {
    let rooms = state.rooms.lock().expect("rooms lock");
    let Some(sender) = rooms.0.get(room).and_then(|m| m.get(to)) else {
        return false;
    };
    let frame = serde_json::to_string(&ToClient::Signal {
        from: from.into(),
        data,
    })
    .expect("serialisable");
    let _ = sender.try_send(Outgoing::Text(frame));
    true
}

/// A token bucket: `rate` frames a second on average, bursts of twice that.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket {
            tokens: 2.0 * rate,
            rate,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(2.0 * self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Leaves the room when dropped: on every way out of a connection, a panic included.
struct Membership {
    state: AppState,
    room: String,
    peer: String,
}

impl Drop for Membership {
    fn drop(&mut self) {
        leave(&self.state, &self.room, &self.peer);
    }
}

/// Text from a client, fit for a close reason and a log line: printable ASCII only (no forged
/// log lines), at most `max` bytes.
fn sanitize(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

/// Why a connection ended, for the close frame and the log.
struct Verdict {
    code: u16,
    reason: String,
}

impl Verdict {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Verdict {
            code,
            reason: reason.into(),
        }
    }
}

async fn connection(socket: WebSocket, query: JoinQuery, state: AppState) {
    let (room, peer) = match (query.room, query.peer) {
        (Some(room), Some(peer)) if valid_room(&room) && valid_peer(&peer) => (room, peer),
        _ => {
            log("refused a connection: room must be 1-64 of [A-Za-z0-9._-], peer 16 hex digits");
            close_with(
                socket,
                close::POLICY,
                "join with ?room=NAME&peer=16 hex digits",
            )
            .await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel(QUEUE_FRAMES);
    let others = match join(&state, &room, &peer, tx) {
        Ok(others) => others,
        Err((code, reason)) => {
            log(&format!("refused peer {peer} in room {room}: {reason}"));
            close_with(socket, code, reason).await;
            return;
        }
    };
    let membership = Membership {
        state: state.clone(),
        room: room.clone(),
        peer: peer.clone(),
    };
    log(&format!(
        "peer {peer} joined room {room} ({} others)",
        others.len()
    ));
    let (mut sink, mut stream) = socket.split();
    let welcome = serde_json::to_string(&ToClient::Welcome {
        peer: peer.clone(),
        room: room.clone(),
        peers: others,
        ice_servers: state.ice.clone(),
    })
    .expect("serialisable");
    let limits = state.limits;
    let mut bucket = Bucket::new(limits.rate);
    let mut heard = Instant::now();
    let mut ping = tokio::time::interval(limits.idle / 3);
    ping.tick().await;
    let verdict: Option<Verdict> = 'conn: {
        if !send_within(&mut sink, Message::Text(welcome.into())).await {
            break 'conn None;
        }
        loop {
            let idle_at = heard + limits.idle;
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(frame)) = frame else {
                        // Closed, or a frame the socket itself refused (beyond twice the cap).
                        break 'conn None;
                    };
                    heard = Instant::now();
                    if !bucket.take() {
                        break 'conn Some(Verdict::new(close::POLICY, format!("more than {} frames a second", limits.rate)));
                    }
                    match frame {
                        Message::Text(text) => {
                            if text.len() > limits.frame_bytes {
                                break 'conn Some(Verdict::new(close::TOO_BIG, format!("frame of {} bytes over the {}-byte cap", text.len(), limits.frame_bytes)));
                            }
                            match serde_json::from_str::<FromClient>(text.as_str()) {
                                Ok(FromClient::Ping) => {
                                    let pong = serde_json::to_string(&ToClient::Pong).expect("serialisable");
                                    if !send_within(&mut sink, Message::Text(pong.into())).await {
                                        break 'conn None;
                                    }
                                }
                                Ok(FromClient::Signal { to, data }) => {
                                    if !relay(&state, &room, &peer, &to, &data) {
                                        let error = ToClient::Error { message: format!("no peer {to} in room {room}") };
                                        let frame = serde_json::to_string(&error).expect("serialisable");
                                        if !send_within(&mut sink, Message::Text(frame.into())).await {
                                            break 'conn None;
                                        }
                                    }
                                }
                                Err(e) => {
                                    let why = sanitize(&format!("malformed frame: {e}"), 120);
                                    break 'conn Some(Verdict::new(close::POLICY, why));
                                }
                            }
                        }
                        Message::Binary(_) => {
                            break 'conn Some(Verdict::new(close::UNSUPPORTED, "binary frames are not part of the protocol"));
                        }
                        Message::Close(_) => break 'conn None,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                out = rx.recv() => {
                    let Some(Outgoing::Text(text)) = out else { break 'conn None };
                    if !send_within(&mut sink, Message::Text(text.into())).await {
                        break 'conn None;
                    }
                }
                _ = ping.tick() => {
                    if !send_within(&mut sink, Message::Ping(Default::default())).await {
                        break 'conn None;
                    }
                }
                _ = tokio::time::sleep_until(idle_at) => {
                    break 'conn Some(Verdict::new(close::IDLE, format!("silent for {} s", limits.idle.as_secs())));
                }
            }
        }
    };
    drop(membership);
    match verdict {
        Some(v) => {
            log(&format!(
                "closed peer {peer} in room {room} ({}): {}",
                v.code, v.reason
            ));
            finish(sink, stream, v.code, v.reason).await;
        }
        None => log(&format!("peer {peer} left room {room}")),
    }
}

/// Serves until interrupted.
pub fn run(args: ServeArgs) -> Result<(), crate::Usage> {
    if !args.dist.join("index.html").is_file() {
        return Err(crate::Usage(format!(
            "error: invalid --dist: no index.html in {} (build the page first: ./scripts/play, or trunk build --release --dist {})",
            args.dist.display(),
            args.dist.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| crate::Usage(format!("error: starting the server: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .map_err(|e| {
                crate::Usage(format!(
                    "error: invalid --port: cannot listen on {}:{}: {e}",
                    args.host, args.port
                ))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| crate::Usage(format!("error: {e}")))?;
        println!(
            "serving {} on http://{addr}/ (signaling at ws://{addr}/signal, health at /health)",
            args.dist.display()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app(&args))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                log("shutting down");
            })
            .await
            .map_err(|e| crate::Usage(format!("error: serving: {e}")))
    })?;
    Ok(())
}

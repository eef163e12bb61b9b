//! `grapevine serve`: the built page, a WebSocket signaling endpoint at `/signal`, `/health`
//! and `/config` (the ICE servers the page should use), on one port.
//!
//! Signaling introduces members: a tab joins a room with the peer id it chose, learns who is
//! there, and relays WebRTC offers, answers and ICE candidates to them; gossip then flows peer
//! to peer over data channels, and the server sees none of it. Where no data channel forms
//! (a network that isolates clients or blocks UDP) and for native peers (`grapevine peer`),
//! the server relays the members' wire messages too (`relay` frames), between members of one
//! room only, under the frame caps and a byte budget per connection. The protocol is
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
use axum::extract::{ConnectInfo, Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use grapevine_core::signal::{self, valid_peer, valid_room, IceServer};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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
    /// Most peers in one room (a lecture hall fits).
    #[arg(long, value_name = "N", default_value_t = 256,
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
    /// Most connections from one IP address at once: a class behind one NAT shares an
    /// address, so the default admits a lecture hall; it still stops one machine from taking
    /// every room slot.
    #[arg(long, value_name = "N", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_peers_per_ip: u32,
    /// Relayed bytes a connection may send per second, on average (twice that in a burst).
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub max_relay_bytes: u32,
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
    /// A new connection of the same member (it proved the resume secret) took over.
    pub const REPLACED: u16 = 4001;
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
    per_ip: usize,
    frame_bytes: usize,
    rate: f64,
    relay_bytes: f64,
    idle: Duration,
}

/// One member's connection, as its room knows it.
struct Member {
    /// Its queue of frames to send.
    tx: mpsc::Sender<Outgoing>,
    /// Which connection this is (a resumed member's old one must not remove the new).
    conn: u64,
    /// The secret its successor shows to take the id back.
    resume: String,
    /// Its links, as it last said (`links` frames).
    direct: u32,
    relay: u32,
}

/// A room: its members and what its relay carried.
#[derive(Default)]
struct Room {
    members: HashMap<String, Member>,
    relay_frames: u64,
    relay_bytes: u64,
    /// Relayed messages for members no longer there (dropped).
    relay_undelivered: u64,
}

/// Every room, and connections per IP address.
#[derive(Default)]
struct Rooms {
    rooms: HashMap<String, Room>,
    per_ip: HashMap<IpAddr, usize>,
    next_conn: u64,
}

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
    /// Close with this code and reason (the member connected again elsewhere).
    Close(u16, &'static str),
}

struct Shared {
    rooms: Mutex<Rooms>,
    limits: Limits,
    ice: Vec<IceServer>,
}

impl Shared {
    fn wire_limits(&self) -> signal::Limits {
        signal::Limits {
            max_rate: self.limits.rate as u32,
            max_frame_bytes: self.limits.frame_bytes as u32,
            relay_bytes_per_sec: self.limits.relay_bytes as u32,
        }
    }
}

type AppState = Arc<Shared>;

fn log(line: &str) {
    eprintln!("grapevine serve: {line}");
}

#[derive(Deserialize)]
struct JoinQuery {
    room: Option<String>,
    peer: Option<String>,
    /// The secret of the member's previous connection (its welcome's `resume`).
    resume: Option<String>,
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
            per_ip: args.max_peers_per_ip as usize,
            frame_bytes: args.max_frame_bytes as usize,
            rate: f64::from(args.max_rate),
            relay_bytes: f64::from(args.max_relay_bytes),
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

/// Rooms listed in `/health` at most (the largest).
const HEALTH_ROOMS: usize = 50;

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let rooms = state.rooms.lock().expect("rooms lock");
    let peers: usize = rooms.rooms.values().map(|r| r.members.len()).sum();
    let relay_bytes: u64 = rooms.rooms.values().map(|r| r.relay_bytes).sum();
    let relay_frames: u64 = rooms.rooms.values().map(|r| r.relay_frames).sum();
    let mut listed: Vec<(&String, &Room)> = rooms.rooms.iter().collect();
    listed.sort_by_key(|(name, r)| (std::cmp::Reverse(r.members.len()), name.as_str()));
    let per_room: serde_json::Map<String, serde_json::Value> = listed
        .into_iter()
        .take(HEALTH_ROOMS)
        .map(|(name, room)| (name.clone(), room_health(room)))
        .collect();
    Json(serde_json::json!({
        "status": "ok",
        "rooms": rooms.rooms.len(),
        "peers": peers,
        "relay_bytes": relay_bytes,
        "relay_frames": relay_frames,
        "room": per_room,
    }))
}

/// A room's figures: members, links (as its members last said: each link counted once),
/// links per member, and what the relay carried.
fn room_health(room: &Room) -> serde_json::Value {
    let mut per_member: Vec<u32> = room
        .members
        .values()
        .map(|m| m.direct.saturating_add(m.relay))
        .collect();
    per_member.sort_unstable();
    let ends: u64 = per_member.iter().map(|&l| u64::from(l)).sum();
    let relay_ends: u64 = room.members.values().map(|m| u64::from(m.relay)).sum();
    serde_json::json!({
        "peers": room.members.len(),
        "links": ends / 2,
        "relay_links": relay_ends / 2,
        "links_per_member": {
            "min": per_member.first().copied().unwrap_or(0),
            "median": per_member.get(per_member.len() / 2).copied().unwrap_or(0),
            "max": per_member.last().copied().unwrap_or(0),
        },
        "relay_bytes": room.relay_bytes,
        "relay_frames": room.relay_frames,
        "relay_undelivered": room.relay_undelivered,
    })
}

async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ice_servers": state.ice }))
}

async fn signal(
    ws: WebSocketUpgrade,
    Query(query): Query<JoinQuery>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    // Room with a margin for the close frame; larger frames are refused by the socket itself.
    let cap = state.limits.frame_bytes;
    ws.max_message_size(cap * 2)
        .max_frame_size(cap * 2)
        .on_upgrade(move |socket| connection(socket, query, addr.ip(), state))
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

/// What one relayed message costs the sender's byte budget beyond its data and receiver id:
/// its share of the JSON envelope, and the work of forwarding it.
const RELAY_ENTRY_BYTES: usize = 40;

/// A fresh resume secret: 128 bits from the OS's generator, hex.
fn resume_secret() -> String {
    let mut bytes = [0u8; 16];
    // Without OS randomness there is no secret worth giving: an empty one never matches.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A member's place in a room, as [`join`] gives it.
struct Joined {
    others: Vec<String>,
    conn: u64,
    resume: String,
    resumed: bool,
}

/// Joins the room or says why not. A member that shows the secret of the connection holding
/// its id takes the id over (the old connection is closed with [`close::REPLACED`]).
fn join(
    state: &Shared,
    room: &str,
    peer: &str,
    resume: Option<&str>,
    ip: IpAddr,
    tx: mpsc::Sender<Outgoing>,
) -> Result<Joined, (u16, &'static str)> {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let rooms = &mut *rooms;
    // A member taking its id back is not a new connection from its address: its old one is
    // about to go (a class behind one NAT coming back from a Wi-Fi drop must not be refused).
    let resuming = rooms
        .rooms
        .get(room)
        .and_then(|r| r.members.get(peer))
        .is_some_and(|old| resume.is_some_and(|r| !old.resume.is_empty() && r == old.resume));
    if !resuming && rooms.per_ip.get(&ip).copied().unwrap_or(0) >= state.limits.per_ip {
        return Err((close::TRY_LATER, "too many connections from this address"));
    }
    if !rooms.rooms.contains_key(room) && rooms.rooms.len() >= state.limits.rooms {
        return Err((close::TRY_LATER, "too many rooms on this server"));
    }
    let here = rooms.rooms.entry(room.to_string()).or_default();
    let mut resumed = false;
    if let Some(old) = here.members.get(peer) {
        let proven = resume.is_some_and(|r| !old.resume.is_empty() && r == old.resume);
        if !proven {
            return Err((close::ID_TAKEN, "this peer id is already in the room"));
        }
        let _ = old.tx.try_send(Outgoing::Close(
            close::REPLACED,
            "this member connected again",
        ));
        resumed = true;
    } else if here.members.len() >= state.limits.room_peers {
        return Err((close::TRY_LATER, "the room is full"));
    }
    let others: Vec<String> = here
        .members
        .keys()
        .filter(|k| k.as_str() != peer)
        .cloned()
        .collect();
    if !resumed {
        let joined = serde_json::to_string(&ToClient::PeerJoined { peer: peer.into() })
            .expect("serialisable");
        for member in here.members.values() {
            let _ = member.tx.try_send(Outgoing::Text(joined.clone()));
        }
    }
    rooms.next_conn += 1;
    let conn = rooms.next_conn;
    let resume = resume_secret();
    here.members.insert(
        peer.to_string(),
        Member {
            tx,
            conn,
            resume: resume.clone(),
            direct: 0,
            relay: 0,
        },
    );
    *rooms.per_ip.entry(ip).or_default() += 1;
    Ok(Joined {
        others,
        conn,
        resume,
        resumed,
    })
}

/// Connection `conn` of `peer` ended: it leaves the room, unless a resumed connection took
/// its place.
fn leave(state: &Shared, room: &str, peer: &str, conn: u64, ip: IpAddr) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(count) = rooms.per_ip.get_mut(&ip) {
        *count -= 1;
        if *count == 0 {
            rooms.per_ip.remove(&ip);
        }
    }
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    if here.members.get(peer).is_none_or(|m| m.conn != conn) {
        return;
    }
    here.members.remove(peer);
    if here.members.is_empty() {
        rooms.rooms.remove(room);
        return;
    }
    let left =
        serde_json::to_string(&ToClient::PeerLeft { peer: peer.into() }).expect("serialisable");
    for member in here.members.values() {
        let _ = member.tx.try_send(Outgoing::Text(left.clone()));
    }
}

/// Sends `data` from `from` to `to` in `room`; false if `to` is not there.
fn relay_signal(
    state: &Shared,
    room: &str,
    from: &str,
    to: &str,
    data: &serde_json::Value,
) -> bool {
    let rooms = state.rooms.lock().expect("rooms lock");
    let Some(member) = rooms.rooms.get(room).and_then(|r| r.members.get(to)) else {
        return false;
    };
    let frame = serde_json::to_string(&ToClient::Signal {
        from: from.into(),
        data,
    })
    .expect("serialisable");
    let _ = member.tx.try_send(Outgoing::Text(frame));
    true
}

/// Relays wire messages from `from` to members of its room: one frame per receiver, its
/// messages in order, each named as from `from` (never as the frame said). Messages for
/// members no longer in the room are dropped and counted.
fn relay_frames(state: &Shared, room: &str, from: &str, frames: Vec<signal::Relayed>) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    let mut by_receiver: HashMap<String, Vec<signal::Relayed>> = HashMap::new();
    for frame in frames {
        here.relay_frames += 1;
        here.relay_bytes += frame.data.len() as u64;
        if frame.peer == from || !here.members.contains_key(&frame.peer) {
            here.relay_undelivered += 1;
            continue;
        }
        by_receiver
            .entry(frame.peer)
            .or_default()
            .push(signal::Relayed {
                peer: from.to_string(),
                data: frame.data,
            });
    }
    let receivers: Vec<(mpsc::Sender<Outgoing>, Vec<signal::Relayed>)> = by_receiver
        .into_iter()
        .filter_map(|(to, frames)| Some((here.members.get(&to)?.tx.clone(), frames)))
        .collect();
    drop(rooms);
    // Serialised and queued outside the lock: every connection's frames pass through it.
    let mut undelivered = 0;
    for (tx, frames) in receivers {
        let count = frames.len() as u64;
        let text = serde_json::to_string(&ToClient::Relay { frames }).expect("serialisable");
        if tx.try_send(Outgoing::Text(text)).is_err() {
            // Its queue is full (it does not read fast enough) or it just closed.
            undelivered += count;
        }
    }
    if undelivered > 0 {
        let mut rooms = state.rooms.lock().expect("rooms lock");
        if let Some(here) = rooms.rooms.get_mut(room) {
            here.relay_undelivered += undelivered;
        }
    }
}

/// Records a member's links as it said them.
fn record_links(state: &Shared, room: &str, peer: &str, conn: u64, direct: u32, relay: u32) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(m) = rooms
        .rooms
        .get_mut(room)
        .and_then(|r| r.members.get_mut(peer))
        .filter(|m| m.conn == conn)
    {
        m.direct = direct;
        m.relay = relay;
    }
}

/// A token bucket: `rate` a second on average (frames, or bytes), bursts of twice that.
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

    /// Takes `amount` if there is that much.
    fn take(&mut self, amount: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(2.0 * self.rate);
        self.last = now;
        if self.tokens >= amount {
            self.tokens -= amount;
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
    conn: u64,
    ip: IpAddr,
}

impl Drop for Membership {
    fn drop(&mut self) {
        leave(&self.state, &self.room, &self.peer, self.conn, self.ip);
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

async fn connection(socket: WebSocket, query: JoinQuery, ip: IpAddr, state: AppState) {
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
    let joined = match join(&state, &room, &peer, query.resume.as_deref(), ip, tx) {
        Ok(joined) => joined,
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
        conn: joined.conn,
        ip,
    };
    log(&format!(
        "peer {peer} {} room {room} ({} others)",
        if joined.resumed {
            "resumed in"
        } else {
            "joined"
        },
        joined.others.len()
    ));
    let (mut sink, mut stream) = socket.split();
    let welcome = serde_json::to_string(&ToClient::Welcome {
        peer: peer.clone(),
        room: room.clone(),
        peers: joined.others,
        ice_servers: state.ice.clone(),
        limits: Some(state.wire_limits()),
        resume: Some(joined.resume),
    })
    .expect("serialisable");
    let limits = state.limits;
    let mut bucket = Bucket::new(limits.rate);
    let mut relay_budget = Bucket::new(limits.relay_bytes);
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
                    if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
                        // Only what the client chose to send counts as activity: automatic
                        // pongs keep a forgotten tab's connection open forever otherwise.
                        heard = Instant::now();
                    }
                    if !bucket.take(1.0) {
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
                                    if !relay_signal(&state, &room, &peer, &to, &data) {
                                        let error = ToClient::Error { message: format!("no peer {to} in room {room}") };
                                        let frame = serde_json::to_string(&error).expect("serialisable");
                                        if !send_within(&mut sink, Message::Text(frame.into())).await {
                                            break 'conn None;
                                        }
                                    }
                                }
                                Ok(FromClient::Relay { frames }) => {
                                    if let Some(bad) = frames.iter().find(|f| !valid_peer(&f.peer)) {
                                        let why = sanitize(&format!("relay to a malformed peer id {:?}", bad.peer), 120);
                                        break 'conn Some(Verdict::new(close::POLICY, why));
                                    }
                                    // Each message costs its envelope too: empty messages are not free.
                                    let bytes: usize = frames.iter().map(|f| f.data.len() + f.peer.len() + RELAY_ENTRY_BYTES).sum();
                                    if !relay_budget.take(bytes as f64) {
                                        break 'conn Some(Verdict::new(close::POLICY, format!("relayed more than {} bytes a second", limits.relay_bytes)));
                                    }
                                    relay_frames(&state, &room, &peer, frames);
                                }
                                Ok(FromClient::Links { direct, relay }) => {
                                    record_links(&state, &room, &peer, joined.conn, direct, relay);
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
                    match out {
                        Some(Outgoing::Text(text)) => {
                            if !send_within(&mut sink, Message::Text(text.into())).await {
                                break 'conn None;
                            }
                        }
                        Some(Outgoing::Close(code, reason)) => break 'conn Some(Verdict::new(code, reason)),
                        None => break 'conn None,
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
        let app = app(&args).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                log("shutting down");
            })
            .await
            .map_err(|e| crate::Usage(format!("error: serving: {e}")))
    })?;
    Ok(())
}

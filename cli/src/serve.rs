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
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use grapevine_core::lab::conduct::Command;
use grapevine_core::signal::{self, valid_peer, valid_room, IceServer};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// A TURN server, e.g. turn:turn.example.org:3478 (with --turn-user, and --turn-secret
    /// or --turn-credential).
    #[arg(long, value_name = "URL", requires = "turn_user")]
    pub turn: Option<String>,
    /// The TURN server's user name.
    #[arg(long, value_name = "NAME")]
    pub turn_user: Option<String>,
    /// The TURN server's shared secret (coturn's `use-auth-secret` / `static-auth-secret`):
    /// pages get a credential derived from it that expires in an hour, never the secret.
    #[arg(long, value_name = "SECRET", conflicts_with = "turn_credential")]
    pub turn_secret: Option<String>,
    /// A fixed TURN credential (coturn's `lt-cred-mech`): handed to every page as it is, so
    /// anyone who opens the page can use the TURN server for good; prefer --turn-secret.
    #[arg(long, value_name = "CREDENTIAL")]
    pub turn_credential: Option<String>,
    /// Another origin whose pages may join (repeatable), e.g. https://class.example.org:
    /// by default only pages this server served (same host) and clients that send no
    /// Origin (native peers) may.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
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
    /// Joins one IP address may attempt per second, on average (bursts of --max-peers-per-ip,
    /// or two seconds' worth if more: a class behind one NAT joining at once passes; a join
    /// storm does not).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_joins_per_ip: u32,
    /// Most rooms one IP address may have members in at once (a school behind one NAT may
    /// run several classes, each split into groups; one address cannot take every room).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms_per_ip: u32,
    /// Relayed bytes a connection may send per second, on average (twice that in a burst).
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub max_relay_bytes: u32,
    /// The token that makes a tab the conductor of its room (the conductor link's
    /// `conductor=` parameter): 8 to 128 letters, digits, `-` or `_`. Without it, a random
    /// one is drawn; both links are printed at start.
    #[arg(long, value_name = "TOKEN")]
    pub conductor_token: Option<String>,
    /// The room the printed student and conductor links name (any room can be joined).
    #[arg(long, value_name = "NAME", default_value = "class")]
    pub room: String,
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
    /// A new connection of the same member (it proved the member's key) took over.
    pub const REPLACED: u16 = 4001;
    /// The member did not prove it holds the key of the id it joins with.
    pub const NOT_PROVEN: u16 = 4403;
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
    joins_per_ip: f64,
    rooms_per_ip: usize,
    frame_bytes: usize,
    rate: f64,
    relay_bytes: f64,
    idle: Duration,
}

/// One member's connection, as its room knows it.
struct Member {
    /// Its queue of frames to send.
    tx: mpsc::Sender<Outgoing>,
    /// Which connection this is (a replaced connection must not remove its successor).
    conn: u64,
    /// Its links, as it last said (`links` frames).
    direct: u32,
    relay: u32,
    /// A `peer-joined` or `peer-left` for it was dropped (its queue was full): it gets the
    /// whole roster at its next second.
    stale: Arc<AtomicBool>,
}

/// A room: its members and what its relay carried.
#[derive(Default)]
struct Room {
    members: HashMap<String, Member>,
    /// The member the server vouched for as the conductor (it presented the token).
    conductor: Option<String>,
    /// The conductor's standing orders (the latest of each kind, by
    /// [`grapevine_core::lab::conduct::Command::standing`]): (number, signed text), told
    /// to members that join later.
    orders: BTreeMap<String, (u64, String)>,
    /// The number of the last order relayed (an older one is a replay).
    last_order: u64,
    relay_frames: u64,
    relay_bytes: u64,
    /// Relayed messages for members no longer there (dropped).
    relay_undelivered: u64,
}

impl Room {
    /// Its members but `peer`: a welcome's and a roster's list.
    fn others(&self, peer: &str) -> Vec<String> {
        self.members
            .keys()
            .filter(|k| k.as_str() != peer)
            .cloned()
            .collect()
    }
}

/// Every room, and connections per IP address.
#[derive(Default)]
struct Rooms {
    rooms: HashMap<String, Room>,
    per_ip: HashMap<IpAddr, usize>,
    /// Connections per address in each room it has members in.
    ip_rooms: HashMap<IpAddr, HashMap<String, usize>>,
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
    /// STUN servers, and a TURN server with a fixed credential.
    ice: Vec<IceServer>,
    /// A TURN server with a shared secret: (URL, user).
    turn_rest: Option<(String, String, String)>,
    /// Origins allowed besides the server's own.
    allow_origins: Vec<String>,
    /// Join attempts per IP address (a token bucket each).
    joins: Mutex<HashMap<IpAddr, Bucket>>,
    /// Bytes queued for all connections together.
    queued: AtomicUsize,
    /// The conductor token.
    conductor_token: String,
    /// Connections and frames refused, by reason (`/health`).
    refusals: Mutex<BTreeMap<&'static str, u64>>,
}

/// Bytes queued for all connections together at most (frames beyond are dropped and
/// counted as `queue-memory`): each connection's queue is bounded in frames, and this bounds
/// them all in bytes, whatever the number of connections.
const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// How long a TURN credential derived from the shared secret is valid.
const TURN_TTL: Duration = Duration::from_secs(3_600);

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

impl Shared {
    /// Counts one refusal for `why`.
    fn refused(&self, why: &'static str) {
        *self
            .refusals
            .lock()
            .expect("refusals")
            .entry(why)
            .or_default() += 1;
    }

    /// Queues `text` for a connection, unless its queue is full or all queues together hold
    /// [`MAX_QUEUED_BYTES`]; false (and counted) if dropped.
    fn offer(&self, tx: &mpsc::Sender<Outgoing>, text: String) -> bool {
        let len = text.len();
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            self.refused("queue-memory");
            return false;
        }
        if tx.try_send(Outgoing::Text(text)).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A frame left a queue.
    fn dequeued(&self, text: &str) {
        self.queued.fetch_sub(text.len(), Ordering::Relaxed);
    }

    /// Whether `ip` may attempt a join now.
    fn may_join(&self, ip: IpAddr) -> bool {
        let mut joins = self.joins.lock().expect("joins");
        if joins.len() > 10_000 {
            // Forget addresses whose bucket is full again (they are not joining now).
            joins.retain(|_, b| !b.is_full());
        }
        let rate = self.limits.joins_per_ip;
        let burst = (self.limits.per_ip as f64).max(2.0 * rate);
        joins
            .entry(ip)
            .or_insert_with(|| Bucket::with_burst(rate, burst))
            .take(1.0)
    }

    /// Whether a page from `origin` may join: no Origin (not a browser), the server's own
    /// (`host`, as the request named it), or one allowed by `--allow-origin`.
    fn origin_allowed(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let own = host.is_some_and(|h| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(h)
        });
        own || self.allow_origins.iter().any(|a| a == origin)
    }

    /// The ICE servers a page gets now: with a shared TURN secret, a credential for
    /// `expiry:user` (coturn's REST API scheme) that expires in [`TURN_TTL`].
    fn ice_servers(&self) -> Vec<IceServer> {
        let mut servers = self.ice.clone();
        if let Some((url, user, secret)) = &self.turn_rest {
            let expiry = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                + TURN_TTL;
            let (username, credential) = turn_credential(user, secret, expiry.as_secs());
            servers.push(IceServer {
                urls: vec![url.clone()],
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
    fn wire_limits(&self) -> signal::Limits {
        signal::Limits {
            max_rate: self.limits.rate as u32,
            max_frame_bytes: self.limits.frame_bytes as u32,
            relay_bytes_per_sec: self.limits.relay_bytes as u32,
        }
    }
}

type AppState = Arc<Shared>;

/// A TURN credential under a shared secret (coturn's REST API scheme, `use-auth-secret`):
/// the user name is `expiry:user` (expiry in Unix seconds) and the credential
/// `base64(HMAC-SHA1(secret, username))`. The TURN server recomputes it and refuses it after
/// the expiry.
fn turn_credential(user: &str, secret: &str, expiry: u64) -> (String, String) {
    use base64::Engine;
    use hmac::Mac;
    let username = format!("{expiry}:{user}");
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

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
    let mut turn_rest = None;
    if let Some(turn) = &args.turn {
        let user = args.turn_user.clone().unwrap_or_default();
        match &args.turn_secret {
            Some(secret) => turn_rest = Some((turn.clone(), user, secret.clone())),
            None => ice.push(IceServer {
                urls: vec![turn.clone()],
                username: Some(user),
                credential: args.turn_credential.clone(),
            }),
        }
    }
    let state: AppState = Arc::new(Shared {
        rooms: Mutex::new(Rooms::default()),
        limits: Limits {
            room_peers: args.max_room_peers as usize,
            rooms: args.max_rooms as usize,
            per_ip: args.max_peers_per_ip as usize,
            joins_per_ip: f64::from(args.max_joins_per_ip),
            rooms_per_ip: args.max_rooms_per_ip as usize,
            frame_bytes: args.max_frame_bytes as usize,
            rate: f64::from(args.max_rate),
            relay_bytes: f64::from(args.max_relay_bytes),
            idle: Duration::from_secs(args.idle_secs),
        },
        ice,
        turn_rest,
        allow_origins: args.allow_origin.clone(),
        joins: Mutex::new(HashMap::new()),
        queued: AtomicUsize::new(0),
        // run() draws one when none was given; without it (tests building the app), no
        // token: nobody conducts.
        conductor_token: args.conductor_token.clone().unwrap_or_default(),
        refusals: Mutex::new(BTreeMap::new()),
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
    let refused: serde_json::Map<String, serde_json::Value> = state
        .refusals
        .lock()
        .expect("refusals")
        .iter()
        .map(|(&why, &n)| (why.to_string(), n.into()))
        .collect();
    Json(serde_json::json!({
        "status": "ok",
        "rooms": rooms.rooms.len(),
        "peers": peers,
        "relay_bytes": relay_bytes,
        "relay_frames": relay_frames,
        "queued_bytes": state.queued.load(Ordering::Relaxed),
        "refused": refused,
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
        "conductor": room.conductor,
    })
}

async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ice_servers": state.ice_servers() }))
}

async fn signal(
    ws: WebSocketUpgrade,
    Query(query): Query<JoinQuery>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let origin = header(header::ORIGIN);
    if !state.origin_allowed(origin, header(header::HOST)) {
        state.refused("origin");
        let origin = sanitize(origin.unwrap_or(""), 100);
        log(&format!(
            "refused a join from {}: page of another origin ({origin}; allow it with --allow-origin)",
            addr.ip()
        ));
        return (StatusCode::FORBIDDEN, "pages of this origin may not join\n").into_response();
    }
    if !state.may_join(address(addr.ip())) {
        state.refused("join-rate");
        log(&format!(
            "refused a join from {}: joining too often",
            addr.ip()
        ));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "joining too often from this address\n",
        )
            .into_response();
    }
    // Room with a margin for the close frame; larger frames are refused by the socket itself.
    let cap = state.limits.frame_bytes;
    ws.max_message_size(cap * 2)
        .max_frame_size(cap * 2)
        .on_upgrade(move |socket| connection(socket, query, address(addr.ip()), state))
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

/// A fresh challenge: 32 bytes from the OS's generator (`None` without one: then nobody can
/// join, rather than everyone with a guessable nonce).
fn nonce() -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes)
}

/// How long a new connection has to answer the challenge.
const PROVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A member's place in a room, as [`join`] gives it.
struct Joined {
    others: Vec<String>,
    /// The room's conductor and standing orders, oldest first, as frames to send after the
    /// welcome.
    conducted: Vec<String>,
    conn: u64,
    /// It took its id over from a connection still open.
    replaced: bool,
}

/// Joins the room or says why not. `peer` has proven its key: if a connection still holds
/// the id (the member's previous one, which the server has not yet seen go: a tab that slept
/// or lost its network), the new one takes it over and the old is closed with
/// [`close::REPLACED`].
fn join(
    state: &Shared,
    room: &str,
    peer: &str,
    ip: IpAddr,
    tx: mpsc::Sender<Outgoing>,
    stale: &Arc<AtomicBool>,
) -> Result<Joined, (u16, &'static str)> {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let rooms = &mut *rooms;
    // A member taking its id back is not a new connection from its address: its old one is
    // about to go (a class behind one NAT coming back from a Wi-Fi drop must not be refused).
    let replacing = rooms
        .rooms
        .get(room)
        .is_some_and(|r| r.members.contains_key(peer));
    if !replacing && rooms.per_ip.get(&ip).copied().unwrap_or(0) >= state.limits.per_ip {
        return Err((close::TRY_LATER, "too many connections from this address"));
    }
    let its_rooms = rooms.ip_rooms.get(&ip);
    if its_rooms.is_some_and(|r| !r.contains_key(room) && r.len() >= state.limits.rooms_per_ip) {
        return Err((close::TRY_LATER, "too many rooms from this address"));
    }
    if !rooms.rooms.contains_key(room) && rooms.rooms.len() >= state.limits.rooms {
        return Err((close::TRY_LATER, "too many rooms on this server"));
    }
    let here = rooms.rooms.entry(room.to_string()).or_default();
    if let Some(old) = here.members.get(peer) {
        let _ = old.tx.try_send(Outgoing::Close(
            close::REPLACED,
            "this member connected again",
        ));
    } else if here.members.len() >= state.limits.room_peers {
        return Err((close::TRY_LATER, "the room is full"));
    }
    let others = here.others(peer);
    let mut conducted = Vec::new();
    if let Some(conductor) = &here.conductor {
        conducted.push(text_of(&ToClient::Conductor {
            peer: conductor.clone(),
        }));
        let mut standing: Vec<&(u64, String)> = here.orders.values().collect();
        standing.sort_by_key(|(seq, _)| *seq);
        conducted.extend(standing.into_iter().map(|(_, order)| {
            text_of(&ToClient::Order {
                order: order.clone(),
            })
        }));
    }
    if !replacing {
        broadcast(
            state,
            here,
            &text_of(&ToClient::PeerJoined { peer: peer.into() }),
        );
    }
    rooms.next_conn += 1;
    let conn = rooms.next_conn;
    here.members.insert(
        peer.to_string(),
        Member {
            tx,
            conn,
            direct: 0,
            relay: 0,
            stale: stale.clone(),
        },
    );
    *rooms.per_ip.entry(ip).or_default() += 1;
    *rooms
        .ip_rooms
        .entry(ip)
        .or_default()
        .entry(room.to_string())
        .or_default() += 1;
    Ok(Joined {
        others,
        conducted,
        conn,
        replaced: replacing,
    })
}

/// Connection `conn` of `peer` ended: it leaves the room, unless a connection of the same member took
/// its place.
fn leave(state: &Shared, room: &str, peer: &str, conn: u64, ip: IpAddr) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(count) = rooms.per_ip.get_mut(&ip) {
        *count -= 1;
        if *count == 0 {
            rooms.per_ip.remove(&ip);
        }
    }
    if let Some(its) = rooms.ip_rooms.get_mut(&ip) {
        if let Some(count) = its.get_mut(room) {
            *count -= 1;
            if *count == 0 {
                its.remove(room);
            }
        }
        if its.is_empty() {
            rooms.ip_rooms.remove(&ip);
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
    broadcast(
        state,
        here,
        &text_of(&ToClient::PeerLeft { peer: peer.into() }),
    );
}

/// A frame's text.
fn text_of(message: &ToClient<'_>) -> String {
    serde_json::to_string(message).expect("serialisable")
}

/// Whether `given` is the conductor token, in time independent of where they differ.
fn token_matches(given: &str, token: &str) -> bool {
    !token.is_empty()
        && given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Wrong conductor tokens a connection may present before it is closed.
const MAX_WRONG_TOKENS: u32 = 3;

/// `peer` presented the right token: the server vouches for it as `room`'s conductor, to
/// every member (itself included).
fn vouch(state: &Shared, room: &str, peer: &str) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    if here.conductor.as_deref() != Some(peer) {
        // Another key: the standing orders were signed by the old one, and members would
        // refuse them (a new conductor sets the room anew).
        here.orders.clear();
        here.conductor = Some(peer.to_string());
    }
    let text = text_of(&ToClient::Conductor { peer: peer.into() });
    broadcast(state, here, &text);
}

/// Queues `text` for every member of `room` (marked stale where its queue is full).
fn broadcast(state: &Shared, room: &Room, text: &str) {
    for member in room.members.values() {
        if !state.offer(&member.tx, text.to_string()) {
            member.stale.store(true, Ordering::Relaxed);
        }
    }
}

/// Standing orders a room keeps at most (the settings, the split, the question, and one per
/// frozen member).
const MAX_STANDING_ORDERS: usize = 256;

/// An order from `peer`: relayed to the whole room if `peer` is the conductor the server
/// vouched for, the order is signed by its key for this room, and its number is above the
/// last; otherwise why not.
fn relay_order(state: &Shared, room: &str, peer: &str, order: &str) -> Result<(), String> {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return Err("no such room".into());
    };
    if here.conductor.as_deref() != Some(peer) {
        return Err("only the conductor gives orders".into());
    }
    let id = signal::parse_peer(peer).ok_or("malformed peer id")?;
    let checked = grapevine_core::lab::conduct::check_order(room, id, order)
        .map_err(|why| format!("order refused: {why}"))?;
    if checked.seq <= here.last_order {
        return Err("order refused: replayed".into());
    }
    here.last_order = checked.seq;
    match (&checked.command, checked.command.standing()) {
        // A thaw ends a freeze: nothing stands for the member any more.
        (Command::Freeze { frozen: false, .. }, Some(kind)) => {
            here.orders.remove(&kind);
        }
        (_, Some(kind))
            if here.orders.len() < MAX_STANDING_ORDERS || here.orders.contains_key(&kind) =>
        {
            here.orders.insert(kind, (checked.seq, order.to_string()));
        }
        _ => {}
    }
    let text = text_of(&ToClient::Order {
        order: order.to_string(),
    });
    broadcast(state, here, &text);
    Ok(())
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
    state.offer(&member.tx, frame);
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
        if !state.offer(&tx, text) {
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

/// The members of `room` but `peer`.
fn others(state: &Shared, room: &str, peer: &str) -> Vec<String> {
    let rooms = state.rooms.lock().expect("rooms lock");
    rooms
        .rooms
        .get(room)
        .map_or_else(Vec::new, |r| r.others(peer))
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
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket::with_burst(rate, 2.0 * rate)
    }

    /// `rate` a second, bursts of `burst`.
    fn with_burst(rate: f64, burst: f64) -> Self {
        Bucket {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    /// Whether it has refilled to the brim.
    fn is_full(&self) -> bool {
        self.tokens + self.last.elapsed().as_secs_f64() * self.rate >= self.burst
    }

    /// Takes `amount` if there is that much.
    fn take(&mut self, amount: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
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

/// Why a connection ended, for the close frame and the log, and the reason as counted in
/// `/health` (`why`).
struct Verdict {
    why: &'static str,
    code: u16,
    reason: String,
}

impl Verdict {
    fn new(why: &'static str, code: u16, reason: impl Into<String>) -> Self {
        Verdict {
            why,
            code,
            reason: reason.into(),
        }
    }
}

/// The challenge: a nonce out, a valid [`signal::FromClient::Prove`] back within
/// [`PROVE_TIMEOUT`], or the verdict that closes the connection.
async fn challenge(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    room: &str,
    peer: &str,
) -> Result<(), Verdict> {
    let unproven = |reason: &str| Verdict::new("unproven", close::NOT_PROVEN, reason);
    let nonce = nonce().ok_or_else(|| unproven("the server has no random numbers"))?;
    let frame = serde_json::to_string(&ToClient::Challenge {
        nonce: signal::hex(&nonce),
    })
    .expect("serialisable");
    if !send_within(sink, Message::Text(frame.into())).await {
        return Err(unproven("did not read the challenge"));
    }
    let answer = tokio::time::timeout(PROVE_TIMEOUT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await;
    let text = match answer {
        Ok(Some(text)) => text,
        Ok(None) => return Err(unproven("closed before proving its key")),
        Err(_) => return Err(unproven("no proof of the key in time")),
    };
    match serde_json::from_str::<FromClient>(text.as_str()) {
        Ok(FromClient::Prove { key, signature }) => {
            signal::check_proof(peer, room, &nonce, &key, &signature).map_err(unproven)
        }
        _ => Err(unproven(
            "the first frame must prove the key (a `prove` frame)",
        )),
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
    let (mut sink, mut stream) = socket.split();
    if let Err(verdict) = challenge(&mut sink, &mut stream, &room, &peer).await {
        state.refused(verdict.why);
        log(&format!(
            "refused peer {peer} in room {room}: {}",
            verdict.reason
        ));
        finish(sink, stream, verdict.code, verdict.reason).await;
        return;
    }
    let (tx, mut rx) = mpsc::channel(QUEUE_FRAMES);
    let stale = Arc::new(AtomicBool::new(false));
    let joined = match join(&state, &room, &peer, ip, tx, &stale) {
        Ok(joined) => joined,
        Err((code, reason)) => {
            state.refused("full");
            log(&format!("refused peer {peer} in room {room}: {reason}"));
            finish(sink, stream, code, reason.to_string()).await;
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
        if joined.replaced {
            "came back to"
        } else {
            "joined"
        },
        joined.others.len()
    ));
    let welcome = serde_json::to_string(&ToClient::Welcome {
        peer: peer.clone(),
        room: room.clone(),
        peers: joined.others,
        ice_servers: state.ice_servers(),
        limits: Some(state.wire_limits()),
    })
    .expect("serialisable");
    let limits = state.limits;
    let mut bucket = Bucket::new(limits.rate);
    let mut relay_budget = Bucket::new(limits.relay_bytes);
    let mut heard = Instant::now();
    let mut ping = tokio::time::interval(limits.idle / 3);
    ping.tick().await;
    let mut roster = tokio::time::interval(Duration::from_secs(1));
    let mut wrong_tokens = 0;
    let verdict: Option<Verdict> = 'conn: {
        if !send_within(&mut sink, Message::Text(welcome.into())).await {
            break 'conn None;
        }
        for text in joined.conducted {
            if !send_within(&mut sink, Message::Text(text.into())).await {
                break 'conn None;
            }
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
                        break 'conn Some(Verdict::new("frame-rate", close::POLICY, format!("more than {} frames a second", limits.rate)));
                    }
                    match frame {
                        Message::Text(text) => {
                            if text.len() > limits.frame_bytes {
                                break 'conn Some(Verdict::new("frame-size", close::TOO_BIG, format!("frame of {} bytes over the {}-byte cap", text.len(), limits.frame_bytes)));
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
                                        break 'conn Some(Verdict::new("malformed", close::POLICY, why));
                                    }
                                    // Each message costs its envelope too: empty messages are not free.
                                    let bytes: usize = frames.iter().map(|f| f.data.len() + f.peer.len() + RELAY_ENTRY_BYTES).sum();
                                    if !relay_budget.take(bytes as f64) {
                                        break 'conn Some(Verdict::new("relay-budget", close::POLICY, format!("relayed more than {} bytes a second", limits.relay_bytes)));
                                    }
                                    relay_frames(&state, &room, &peer, frames);
                                }
                                Ok(FromClient::Prove { .. }) => {
                                    break 'conn Some(Verdict::new("malformed", close::POLICY, "the key was proven already"));
                                }
                                Ok(FromClient::Links { direct, relay }) => {
                                    record_links(&state, &room, &peer, joined.conn, direct, relay);
                                }
                                Ok(FromClient::Conduct { token }) => {
                                    if token_matches(&token, &state.conductor_token) {
                                        log(&format!("peer {peer} conducts room {room}"));
                                        vouch(&state, &room, &peer);
                                        continue;
                                    }
                                    wrong_tokens += 1;
                                    log(&format!("refused peer {peer} as conductor of room {room}: wrong conductor token ({wrong_tokens})"));
                                    if wrong_tokens > MAX_WRONG_TOKENS {
                                        break 'conn Some(Verdict::new("conductor-token", close::POLICY, "too many wrong conductor tokens"));
                                    }
                                    state.refused("conductor-token");
                                    let refused = text_of(&ToClient::ConductorRefused { reason: "wrong conductor token: ask the teacher for the conductor link".into() });
                                    if !send_within(&mut sink, Message::Text(refused.into())).await {
                                        break 'conn None;
                                    }
                                }
                                Ok(FromClient::Order { order }) => {
                                    if let Err(why) = relay_order(&state, &room, &peer, &order) {
                                        state.refused("order");
                                        log(&format!("refused an order from peer {peer} in room {room}: {why}"));
                                        let refused = text_of(&ToClient::ConductorRefused { reason: why });
                                        if !send_within(&mut sink, Message::Text(refused.into())).await {
                                            break 'conn None;
                                        }
                                    }
                                }
                                Err(e) => {
                                    let why = sanitize(&format!("malformed frame: {e}"), 120);
                                    break 'conn Some(Verdict::new("malformed", close::POLICY, why));
                                }
                            }
                        }
                        Message::Binary(_) => {
                            break 'conn Some(Verdict::new("binary", close::UNSUPPORTED, "binary frames are not part of the protocol"));
                        }
                        Message::Close(_) => break 'conn None,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                out = rx.recv() => {
                    match out {
                        Some(Outgoing::Text(text)) => {
                            state.dequeued(&text);
                            if !send_within(&mut sink, Message::Text(text.into())).await {
                                break 'conn None;
                            }
                        }
                        Some(Outgoing::Close(code, reason)) => break 'conn Some(Verdict::new("replaced", code, reason)),
                        None => break 'conn None,
                    }
                }
                _ = roster.tick() => {
                    if stale.swap(false, Ordering::Relaxed) {
                        let frame = serde_json::to_string(&ToClient::Roster { peers: others(&state, &room, &peer) }).expect("serialisable");
                        if !send_within(&mut sink, Message::Text(frame.into())).await {
                            break 'conn None;
                        }
                    }
                }
                _ = ping.tick() => {
                    if !send_within(&mut sink, Message::Ping(Default::default())).await {
                        break 'conn None;
                    }
                }
                _ = tokio::time::sleep_until(idle_at) => {
                    break 'conn Some(Verdict::new("idle", close::IDLE, format!("silent for {} s", limits.idle.as_secs())));
                }
            }
        }
    };
    drop(membership);
    // What is still queued for this connection is no longer anyone's.
    rx.close();
    while let Ok(out) = rx.try_recv() {
        if let Outgoing::Text(text) = out {
            state.dequeued(&text);
        }
    }
    match verdict {
        Some(v) => {
            state.refused(v.why);
            log(&format!(
                "closed peer {peer} in room {room} ({}): {}",
                v.code, v.reason
            ));
            finish(sink, stream, v.code, v.reason).await;
        }
        None => log(&format!("peer {peer} left room {room}")),
    }
}

/// The address the per-address caps count: an IPv4 address, or an IPv6 address's /64
/// network (one host is given a whole /64, and could otherwise join from 2^64 addresses).
fn address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(net))
            }
        },
    }
}

/// Whether `origin` is written as browsers send it: `http(s)://host[:port]`, no path.
fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(['/', '?', '#', ' ']))
}

/// Accepts connections until interrupted, each served by hyper's HTTP/1 with upgrades (the
/// WebSockets) and a [`HEADER_TIMEOUT`] on request headers: `axum::serve` sets no such
/// timeout, and connections that never finish a request would stay open for good. Each
/// request carries its peer's address ([`ConnectInfo`]), as `axum::serve` would give it.
async fn serve(listener: tokio::net::TcpListener, app: Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, usually: wait, then accept again.
                    log(&format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => {
                log("shutting down");
                return;
            }
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(ConnectInfo(addr));
                app.clone().call(request)
            });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Serves until interrupted.
/// A random conductor token: 16 hex digits from the OS's generator (64 bits: a student
/// guessing it at the server's frame rate would need millennia, and is cut off after
/// [`MAX_WRONG_TOKENS`] tries per connection anyway); `None` without a generator.
fn new_token() -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(signal::hex(&bytes))
}

/// Whether `token` may be this server's conductor token: a token the page takes
/// ([`signal::valid_token`]) of at least 8 characters.
fn valid_token(token: &str) -> bool {
    token.len() >= 8 && signal::valid_token(token)
}

/// The address students should open: the listening address, or this machine's address on
/// the network its default route leads to when listening on all of them (no packet is
/// sent: connecting a UDP socket only picks a route).
fn public_host(addr: std::net::SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::UdpSocket::bind(("0.0.0.0", 0))
            .and_then(|s| s.connect(("192.0.2.1", 9)).map(|_| s))
            .and_then(|s| s.local_addr())
            .map_or(addr.ip(), |a| a.ip())
    } else {
        addr.ip()
    };
    std::net::SocketAddr::new(ip, addr.port()).to_string()
}

/// The student link as a QR code for a terminal (light modules on the terminal's dark
/// background, with the quiet zone scanners need).
fn qr_for_terminal(link: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    qrcode::QrCode::new(link.as_bytes())
        .map(|code| {
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .build()
        })
        .unwrap_or_default()
}

pub fn run(mut args: ServeArgs) -> Result<(), crate::Usage> {
    if !args.dist.join("index.html").is_file() {
        return Err(crate::Usage(format!(
            "error: invalid --dist: no index.html in {} (build the page first: ./scripts/play, or trunk build --release --dist {})",
            args.dist.display(),
            args.dist.display()
        )));
    }
    if args.turn.is_some() && args.turn_secret.is_none() && args.turn_credential.is_none() {
        return Err(crate::Usage(
            "error: invalid --turn: give the TURN server's --turn-secret (or a fixed --turn-credential)"
                .into(),
        ));
    }
    if let Some(bad) = args.conductor_token.as_ref().filter(|t| !valid_token(t)) {
        return Err(crate::Usage(format!(
            "error: invalid --conductor-token {bad:?}: 8 to 128 letters, digits, '-' or '_'"
        )));
    }
    if !valid_room(&args.room) {
        return Err(crate::Usage(format!(
            "error: invalid --room {:?}: 1 to 64 letters, digits, '.', '-' or '_'",
            args.room
        )));
    }
    let token = match args.conductor_token.clone() {
        Some(token) => token,
        None => new_token().ok_or_else(|| {
            crate::Usage("error: this system has no random number generator for the conductor token: give --conductor-token".into())
        })?,
    };
    args.conductor_token = Some(token.clone());
    if let Some(bad) = args.allow_origin.iter().find(|o| !valid_origin(o)) {
        return Err(crate::Usage(format!(
            "error: invalid --allow-origin {bad:?}: expected scheme://host[:port], e.g. https://class.example.org"
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
        let host = public_host(addr);
        let student = format!("http://{host}/?live={}", args.room);
        // Written, not println!-ed: whoever started the server may have stopped reading
        // (a closed pipe must not stop the server).
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "students open:  {student}\nconductor link: {student}&conductor={token}   (yours alone: it steers the room)\n{}",
            qr_for_terminal(&student)
        );
        let _ = out.flush();
        serve(listener, app(&args)).await;
        Ok::<(), crate::Usage>(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One host's IPv6 /64 is one address for the caps; IPv4 (mapped or not) is itself.
    #[test]
    fn per_address_caps_count_an_ipv6_host_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address(a), address(b));
        assert_ne!(address(a), address(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address(v4), v4);
        assert_eq!(address(mapped), v4);
    }

    /// Origins as browsers write them.
    #[test]
    fn allowed_origins_are_checked_for_their_form() {
        assert!(valid_origin("https://class.example.org"));
        assert!(valid_origin("http://127.0.0.1:8080"));
        assert!(!valid_origin("class.example.org"));
        assert!(!valid_origin("https://class.example.org/"));
        assert!(!valid_origin("https://"));
    }
}

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
//!
//! This module holds the flags, the state every connection shares ([`Shared`]), the app's
//! routes, the accept loop and the start (checking the flags, printing the links). The rest,
//! by concern:
//!
//! - [`static_files`]: the built page (the dist directory);
//! - [`ice`]: `/config`, the STUN and TURN servers pages get;
//! - [`limits`]: the caps, rate buckets and who may open a connection;
//! - [`connection`]: one member's WebSocket, from the challenge to the close;
//! - [`rooms`]: rooms and members, join and leave, broadcasts, `/health`;
//! - [`relay`]: signals and wire messages relayed between members;
//! - [`conductor`]: the conductor token, the vouch, and the orders it relays.
//!
//! The room state is behind one lock ([`Shared::rooms`]); nothing awaits while holding it.

mod conductor;
mod connection;
mod ice;
mod limits;
mod relay;
mod rooms;
mod static_files;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use clap::Args;
use grapevine_core::signal::{self, valid_room};
use ice::Ice;
use limits::{valid_origin, JoinRate, Limits};
use rooms::Rooms;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

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

/// Frames waiting for one connection at most; beyond, frames for it are dropped (signals are
/// retried by the pages' handshake timeouts), so a client that stops reading costs bounded
/// memory.
const QUEUE_FRAMES: usize = 64;

/// Bytes queued for all connections together at most (frames beyond are dropped and
/// counted as `queue-memory`): each connection's queue is bounded in frames, and this bounds
/// them all in bytes, whatever the number of connections.
const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A frame on its way to one connection.
#[derive(Debug)]
enum Outgoing {
    Text(String),
    /// Close with this code and reason (the member connected again elsewhere).
    Close(u16, &'static str),
}

/// What every connection shares: the rooms, the limits, and the server-wide counters.
struct Shared {
    rooms: Mutex<Rooms>,
    limits: Limits,
    /// The STUN and TURN servers pages get (`/config`, and each welcome).
    ice: Ice,
    /// Origins allowed besides the server's own.
    allow_origins: Vec<String>,
    /// Join attempts per IP address.
    joins: JoinRate,
    /// Bytes queued for all connections together.
    queued: AtomicUsize,
    /// The conductor token.
    conductor_token: String,
    /// Connections and frames refused, by reason (`/health`).
    refusals: Mutex<BTreeMap<&'static str, u64>>,
}

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

    /// The limits as a welcome tells them.
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

/// A frame's text.
fn text_of(message: &ToClient<'_>) -> String {
    serde_json::to_string(message).expect("serialisable")
}

/// Builds the app: static files, `/signal`, `/health`, `/config`.
fn app(args: &ServeArgs) -> Router {
    let state: AppState = Arc::new(Shared {
        rooms: Mutex::new(Rooms::default()),
        limits: Limits::of(args),
        ice: Ice::of(args),
        allow_origins: args.allow_origin.clone(),
        joins: JoinRate::default(),
        queued: AtomicUsize::new(0),
        // run() draws one when none was given; without it (tests building the app), no
        // token: nobody conducts.
        conductor_token: args.conductor_token.clone().unwrap_or_default(),
        refusals: Mutex::new(BTreeMap::new()),
    });
    Router::new()
        .route("/signal", get(connection::signal))
        .route("/health", get(rooms::health))
        .route("/config", get(ice::config))
        .fallback_service(static_files::router(&args.dist))
        .with_state(state)
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

/// Serves until interrupted.
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
    if let Some(bad) = args
        .conductor_token
        .as_ref()
        .filter(|t| !conductor::valid_token(t))
    {
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
        None => conductor::new_token().ok_or_else(|| {
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

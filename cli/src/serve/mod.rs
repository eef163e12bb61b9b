//! `grapevine serve`: the built page, a WebSocket signaling endpoint at `/signal`, `/health`
//! and `/config` (the ICE servers the page should use), on one port.
//!
//! Signaling introduces members: a tab joins a room with the peer id it chose, learns who is
//! there, and relays WebRTC offers, answers and ICE candidates to them; gossip then flows peer
//! to peer over data channels, and the server sees none of it. Where no data channel forms
//! (a network that isolates clients or blocks UDP) and for native peers (`grapevine peer`),
//! the server relays the members' wire messages too (`relay` frames), between members of one
//! room only, under the frame caps and a byte budget per connection. The protocol is
//! JSON text frames (see [`frames::FromClient`] and [`frames::ToClient`]). It is small on purpose, and strict:
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
//! This module only composes: it builds the app's routes over the shared state, runs the
//! accept loop, and starts (checking the flags, printing the links). It defines nothing the
//! other files import. The rest, by concern:
//!
//! - [`args`]: the flags ([`ServeArgs`]);
//! - [`frames`]: what crosses a socket: the frames, a connection's queue entries, close codes;
//! - [`static_files`]: the built page (the dist directory);
//! - [`ice`]: the STUN and TURN servers pages get (`/config`, and each welcome);
//! - [`limits`]: the caps, rate buckets and who may open a connection;
//! - [`conductor`]: the conductor token, and a room's conductor: the order check and the
//!   standing orders;
//! - [`admission`]: the join code, and what a conductor decided for its room (removed
//!   members, the lock, whom it admitted);
//! - [`state`]: what every connection shares ([`Shared`]): the rooms and their members, the
//!   limits, the counters;
//! - [`rooms`]: join and leave, broadcasts, the conductor's vouch and orders, `/health`;
//! - [`relay`]: signals and wire messages relayed between members;
//! - [`connection`]: one member's WebSocket, from the challenge to the close.
//!
//! Each file imports only from files above it in this list, and none from this module.
//!
//! The room state is behind one lock ([`Shared::rooms`]); nothing awaits while holding it.

mod admission;
mod args;
mod conductor;
mod connection;
mod frames;
mod ice;
mod limits;
mod relay;
mod rooms;
mod state;
mod static_files;

use crate::usage::Usage;
use axum::extract::{ConnectInfo, State};
use axum::response::Json;
use axum::routing::get;
use axum::Router;
use grapevine_core::signal::valid_room;
use ice::Ice;
use limits::{valid_origin, JoinRate, Limits};
use state::{log, AppState, Rooms, Shared};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use args::ServeArgs;

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the app: static files, `/signal`, `/health`, `/config`.
fn app(args: &ServeArgs) -> Router {
    let state: AppState = Arc::new(Shared {
        rooms: Mutex::new(Rooms::default()),
        limits: Limits::of(args),
        ice: Ice::of(args),
        allow_origins: args.allow_origin.clone(),
        joins: JoinRate::default(),
        queued: AtomicUsize::new(0),
        queued_at: Mutex::new(std::collections::HashMap::new()),
        // run() draws one when none was given; without it (tests building the app), no
        // token: nobody conducts.
        conductor_tokens: conductor_tokens(args),
        // run() checked the flag; without a random generator for rotating codes, nobody
        // joins rather than everyone.
        join_codes: admission::JoinCodes::of(args.join_code.as_deref())
            .unwrap_or(admission::JoinCodes::Fixed(String::new())),
        refusals: Mutex::new(BTreeMap::new()),
        give_back_due: Default::default(),
    });
    Router::new()
        .route("/signal", get(connection::signal))
        .route("/health", get(rooms::health))
        .route("/config", get(config))
        .fallback_service(static_files::router(&args.dist))
        .with_state(state)
}

/// `/config`: the ICE servers a page should use now.
async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ice_servers": state.ice.servers() }))
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
/// Each conducted room's token: `--room`'s (`--conductor-token`, drawn by [`run`] when not
/// given) and each `--conductor ROOM=TOKEN` (checked by [`run`]).
fn conductor_tokens(args: &ServeArgs) -> BTreeMap<String, String> {
    let own = args.conductor_token.clone().map(|t| (args.room.clone(), t));
    let others = args.conductor.iter().filter_map(|c| {
        c.split_once('=')
            .map(|(room, token)| (room.to_string(), token.to_string()))
    });
    own.into_iter().chain(others).collect()
}

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
pub fn run(mut args: ServeArgs) -> Result<(), Usage> {
    if !args.dist.join("index.html").is_file() {
        return Err(Usage(format!(
            "error: invalid --dist: no index.html in {} (build the page first: ./scripts/play, or trunk build --release --dist {})",
            args.dist.display(),
            args.dist.display()
        )));
    }
    if args.turn.is_some() && args.turn_secret.is_none() && args.turn_credential.is_none() {
        return Err(Usage(
            "error: invalid --turn: give the TURN server's --turn-secret (or a fixed --turn-credential)"
                .into(),
        ));
    }
    if let Some(bad) = args
        .conductor_token
        .as_ref()
        .filter(|t| !conductor::valid_token(t))
    {
        return Err(Usage(format!(
            "error: invalid --conductor-token {bad:?}: 8 to 128 letters, digits, '-' or '_'"
        )));
    }
    if !valid_room(&args.room) {
        return Err(Usage(format!(
            "error: invalid --room {:?}: 1 to 64 letters, digits, '.', '-' or '_'",
            args.room
        )));
    }
    let mut conducted = vec![args.room.as_str()];
    for c in &args.conductor {
        let bad = |why: &str| Usage(format!("error: invalid --conductor {c:?}: {why}"));
        let Some((room, token)) = c.split_once('=') else {
            return Err(bad("expected ROOM=TOKEN"));
        };
        if !valid_room(room) {
            return Err(bad("the room is 1 to 64 letters, digits, '.', '-' or '_'"));
        }
        if !conductor::valid_token(token) {
            return Err(bad("the token is 8 to 128 letters, digits, '-' or '_'"));
        }
        if conducted.contains(&room) {
            return Err(bad(
                "that room has its token already (--room names the first)",
            ));
        }
        conducted.push(room);
    }
    if let Some(bad) = args
        .join_code
        .as_deref()
        .filter(|c| !c.is_empty() && !grapevine_core::signal::valid_join_code(c))
    {
        return Err(Usage(format!(
            "error: invalid --join-code {bad:?}: 4 to 32 letters or digits (spaces and '-' allowed between them)"
        )));
    }
    if args.join_code.as_deref() == Some("") && admission::JoinCodes::of(Some("")).is_none() {
        return Err(Usage(
            "error: this system has no random number generator for rotating join codes: give --join-code CODE".into(),
        ));
    }
    let token = match args.conductor_token.clone() {
        Some(token) => token,
        None => conductor::new_token().ok_or_else(|| {
            Usage("error: this system has no random number generator for the conductor token: give --conductor-token".into())
        })?,
    };
    args.conductor_token = Some(token.clone());
    if let Some(bad) = args.allow_origin.iter().find(|o| !valid_origin(o)) {
        return Err(Usage(format!(
            "error: invalid --allow-origin {bad:?}: expected scheme://host[:port], e.g. https://class.example.org"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("error: starting the server: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .map_err(|e| {
                Usage(format!(
                    "error: invalid --port: cannot listen on {}:{}: {e}",
                    args.host, args.port
                ))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Usage(format!("error: {e}")))?;
        println!(
            "serving {} on http://{addr}/ (signaling at ws://{addr}/signal, health at /health)",
            args.dist.display()
        );
        let host = public_host(addr);
        // A fixed code goes in the student link (and its QR code); a rotating one is on the
        // conductor's page.
        let code = match args.join_code.as_deref() {
            Some("") | None => String::new(),
            Some(code) => format!("&code={}", grapevine_core::signal::join_code(code)),
        };
        let student = format!("http://{host}/?live={}{code}", args.room);
        // Written, not println!-ed: whoever started the server may have stopped reading
        // (a closed pipe must not stop the server).
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "students open:  {student}\nconductor link: {student}&conductor={token}   (yours alone: it steers the room)\n{}",
            qr_for_terminal(&student)
        );
        match args.join_code.as_deref() {
            Some("") => {
                let _ = writeln!(out, "join code: six digits per room, changing every {} minutes: the conductor's page shows the current one", admission::CODE_PERIOD.as_secs() / 60);
            }
            Some(code) => {
                let _ = writeln!(out, "join code: {} (in the student link; students who open the plain room type it)", grapevine_core::signal::join_code(code));
            }
            None => {}
        }
        for (room, token) in args.conductor.iter().filter_map(|c| c.split_once('=')) {
            let student = format!("http://{host}/?live={room}{code}");
            let _ = writeln!(
                out,
                "room {room}: students open {student}\n  conductor link: {student}&conductor={token}"
            );
        }
        let _ = out.flush();
        serve(listener, app(&args)).await;
        Ok::<(), Usage>(())
    })?;
    Ok(())
}

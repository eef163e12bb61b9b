//! One member's WebSocket, from the upgrade to the close: the admission checks before the
//! upgrade (the page's origin, the joins per address), the challenge that proves the member
//! holds its id's key, the join, and the loop that reads its frames and writes its queue,
//! under the frame, rate, byte and silence limits.
//!
//! Every way a connection ends goes through one place at the end of [`connection`]: it
//! leaves its room, its queue is emptied, and (if it broke a rule) it is closed with a code
//! and a reason ([`Verdict`]), logged, and counted in `/health`.

use super::conductor::MAX_WRONG_TOKENS;
use super::frames::{close, text_of, FromClient, Outgoing, ToClient};
use super::limits::{address, origin_allowed, Bucket};
use super::relay::{self, relay_frames, relay_signal, Data};
use super::rooms::{
    conductor_view, join, leave_door, others, record_links, relay_order, vouch, Handles,
    Membership, Refusal, Request,
};
use super::state::{log, AppState, Ending, QUEUE_FRAMES};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use grapevine_core::signal::{self, valid_peer, valid_room};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long one send to a client may take before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a closing connection waits for the peer's own close frame (RFC 6455 §7.1.1: the
/// server should not drop the TCP connection first, or the peer may never read the reason).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long a new connection has to answer the challenge.
const PROVE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
pub(super) struct JoinQuery {
    room: Option<String>,
    peer: Option<String>,
    /// `binary`: relayed messages come in binary batches ([`signal::relay_batch`]) rather
    /// than JSON `relay` frames (`json`, the default).
    relay: Option<String>,
    /// The conductor token, from the teacher's tab: a full room (or an address at its share)
    /// still admits its holder, so a room filled by others never locks the teacher out. A
    /// wrong one admits nothing more (the `conduct` frame that follows is what counts).
    conduct: Option<String>,
    /// The room's join code, as the student typed it or the link carried it (`--join-code`).
    code: Option<String>,
}

/// `/signal`: a page of an allowed origin, from an address not joining too often, is
/// upgraded to a WebSocket ([`connection`]); anything else is refused with a status and a
/// log line.
pub(super) async fn signal(
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
    if !origin_allowed(&state.allow_origins, origin, header(header::HOST)) {
        state.refused("origin");
        let origin = sanitize(origin.unwrap_or(""), 100);
        let why = if origin.ends_with(&format!("://{}", header(header::HOST).unwrap_or("?"))) {
            // Its own origin, under a name this server does not know as its own.
            "page under a name that is not an address, localhost or .local (a DNS-rebinding \
             site could send it)"
        } else {
            "page of another origin"
        };
        log(&format!(
            "refused a join from {}: {why} ({origin}; allow it with --allow-origin {origin})",
            addr.ip()
        ));
        return (StatusCode::FORBIDDEN, "pages of this origin may not join\n").into_response();
    }
    if !state.joins.may_join(address(addr.ip()), &state.limits) {
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

/// Holds a newcomer at the door until `door` is woken (`true`), or its connection closes
/// (`false`). Waiting may take minutes: the connection is kept alive with pings rather than
/// closed for silence.
async fn wait_at_door(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    door: &tokio::sync::Notify,
    idle: Duration,
) -> bool {
    let mut ping = tokio::time::interval(idle / 3);
    ping.tick().await;
    loop {
        tokio::select! {
            () = door.notified() => return true,
            frame = stream.next() => match frame {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return false,
                Some(Ok(_)) => {} // Nothing to act on before the welcome.
            },
            _ = ping.tick() => {
                if !send_within(sink, Message::Ping(Default::default())).await {
                    return false;
                }
            }
        }
    }
}

/// Queued bytes a connection must have held when it ends for the server to hand its free
/// memory back to the system: a reader that stopped reading, cut off with its queue full.
const GIVE_BACK_ABOVE: usize = 1 << 20;

/// How many times, a second apart, the server hands free memory back after such a
/// connection ends ([`give_back_memory`]).
const GIVE_BACK_TIMES: u32 = 3;

/// Hands the allocator's free pages back to the system now and once a second for the next
/// [`GIVE_BACK_TIMES`] seconds. glibc's malloc keeps freed memory for reuse (after a flood of
/// stalled readers from one address, about 10 MiB of the 50 it took stayed resident here),
/// and the memory of a flood's connections is freed over a while (each connection's queue,
/// then its socket's buffers, one connection after another): one trim at one connection's
/// end left what the others freed after it. Trims already due are not scheduled twice.
/// Elsewhere than glibc the allocator's own policy stands.
fn give_back_memory(state: &AppState) {
    if state.give_back_due.swap(GIVE_BACK_TIMES, Ordering::Relaxed) > 0 {
        return;
    }
    tokio::spawn({
        let state = state.clone();
        async move {
            loop {
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                // SAFETY: malloc_trim only releases free memory; it touches nothing the
                // program holds.
                unsafe {
                    libc::malloc_trim(0);
                }
                let due =
                    state
                        .give_back_due
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                if !matches!(due, Ok(n) if n > 1) {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
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

/// A fresh challenge: 32 bytes from the OS's generator (`None` without one: then nobody can
/// join, rather than everyone with a guessable nonce).
fn nonce() -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes)
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

/// The verdict for a connection ended from outside: replaced by the member's new connection
/// (not a refusal), or removed.
fn ended((code, reason): (u16, &'static str)) -> Verdict {
    let why = if code == close::REMOVED {
        "removed"
    } else {
        "replaced"
    };
    Verdict::new(why, code, reason)
}

/// The room's join code as a frame for its conductor, if the server asks for codes and this
/// one differs from the last told (`told`, updated).
fn join_code_news(state: &AppState, room: &str, told: &mut Option<String>) -> Option<String> {
    let (code, rotates_in_ms) = state.join_codes.now(room)?;
    if told.as_deref() == Some(code.as_str()) {
        return None;
    }
    *told = Some(code.clone());
    Some(text_of(&ToClient::JoinCode {
        code,
        rotates_in_ms,
    }))
}

/// One member's connection: the challenge, the join, then its frames and its queue until it
/// closes or breaks a rule.
async fn connection(socket: WebSocket, query: JoinQuery, ip: IpAddr, state: AppState) {
    let binary = match query.relay.as_deref() {
        None | Some("json") => false,
        Some("binary") => true,
        Some(_) => {
            log("refused a connection: relay= must be binary or json");
            close_with(socket, close::POLICY, "relay= takes binary or json").await;
            return;
        }
    };
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
    let ending = Arc::new(Ending::default());
    let conductor = query
        .conduct
        .as_deref()
        .is_some_and(|token| state.conducts(&room, token));
    let ask = Request {
        room: &room,
        peer: &peer,
        ip,
        binary,
        conductor,
        code: query.code.as_deref(),
    };
    let handles = Handles {
        tx,
        stale: stale.clone(),
        ending: ending.clone(),
    };
    let mut told_to_wait = false;
    let joined = loop {
        match join(&state, &ask, handles.clone()) {
            Ok(joined) => break joined,
            Err(Refusal {
                door: Some(door), ..
            }) => {
                // A waiting room: held at the door until the conductor decides, then asked
                // to join again (admitted, removed, or the door opened).
                if !told_to_wait {
                    told_to_wait = true;
                    log(&format!("peer {peer} waits at room {room}'s door"));
                    let waiting = text_of(&ToClient::Waiting);
                    if !send_within(&mut sink, Message::Text(waiting.into())).await {
                        leave_door(&state, &room, &door);
                        return;
                    }
                }
                if !wait_at_door(&mut sink, &mut stream, &door.wake, state.limits.idle).await {
                    leave_door(&state, &room, &door);
                    log(&format!("peer {peer} left room {room}'s door"));
                    return;
                }
                if door.replaced.load(Ordering::Relaxed) {
                    let verdict = ended((close::REPLACED, "this member connected again"));
                    state.refused(verdict.why);
                    log(&format!(
                        "closed peer {peer} at room {room}'s door ({}): {}",
                        verdict.code, verdict.reason
                    ));
                    finish(sink, stream, verdict.code, verdict.reason).await;
                    return;
                }
            }
            Err(refusal) => {
                state.refused(refusal.why);
                log(&format!(
                    "refused peer {peer} in room {room}: {}",
                    refusal.reason
                ));
                finish(sink, stream, refusal.code, refusal.reason.to_string()).await;
                return;
            }
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
        ice_servers: state.ice.servers(),
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
    // While it conducts: the join code and the room's view (by address, locked) last told.
    let mut conducting = false;
    let mut told_code: Option<String> = None;
    let mut told_view: Option<String> = None;
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
                    if let Some(why) = ending.get() {
                        // Replaced or removed: nothing more of it is relayed.
                        break 'conn Some(ended(why));
                    }
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
                            let parsed = serde_json::from_str::<FromClient>(text.as_str());
                            // Every frame is charged to the connection's byte budget: a relay
                            // frame its messages (below), any other its text. Signals went
                            // uncharged before, and forty connections writing large ones to
                            // readers that never read moved 98 MB/s through one server.
                            if !matches!(parsed, Ok(FromClient::Relay { .. })) && !relay_budget.take(text.len() as f64) {
                                break 'conn Some(Verdict::new("relay-budget", close::POLICY, format!("sent more than {} bytes a second (signals count too)", limits.relay_bytes)));
                            }
                            match parsed {
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
                                    if !relay_budget.take(relay::cost(&frames) as f64) {
                                        break 'conn Some(Verdict::new("relay-budget", close::POLICY, format!("relayed more than {} bytes a second", limits.relay_bytes)));
                                    }
                                    let messages = frames.into_iter().map(|f| (f.peer, Data::Base64(f.data))).collect();
                                    relay_frames(&state, &room, &peer, messages);
                                }
                                Ok(FromClient::Prove { .. }) => {
                                    break 'conn Some(Verdict::new("malformed", close::POLICY, "the key was proven already"));
                                }
                                Ok(FromClient::Links { direct, relay }) => {
                                    record_links(&state, &room, &peer, joined.conn, direct, relay);
                                }
                                Ok(FromClient::Conduct { token }) => {
                                    if state.conducts(&room, &token) {
                                        log(&format!("peer {peer} conducts room {room}"));
                                        vouch(&state, &room, &peer);
                                        // Told the join code at the next second, after
                                        // the vouch queued for it.
                                        conducting = true;
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
                        Message::Binary(bytes) => {
                            if bytes.len() > limits.frame_bytes {
                                break 'conn Some(Verdict::new("frame-size", close::TOO_BIG, format!("frame of {} bytes over the {}-byte cap", bytes.len(), limits.frame_bytes)));
                            }
                            let batch = match signal::read_relay_batch(&bytes) {
                                Ok(batch) => batch,
                                Err(why) => break 'conn Some(Verdict::new("binary", close::UNSUPPORTED, format!("binary frames are relay batches: {why}"))),
                            };
                            let cost: usize = batch.iter().map(|(_, b)| signal::relay_cost(b.len())).sum();
                            if !relay_budget.take(cost as f64) {
                                break 'conn Some(Verdict::new("relay-budget", close::POLICY, format!("relayed more than {} bytes a second", limits.relay_bytes)));
                            }
                            let messages = batch.into_iter().map(|(to, b)| (signal::peer_hex(to), Data::Raw(b.to_vec()))).collect();
                            relay_frames(&state, &room, &peer, messages);
                        }
                        Message::Close(_) => break 'conn None,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                out = rx.recv() => {
                    let Some(frame) = out else {
                        // The room dropped its sender: the member was replaced or removed (the
                        // ending is set first), or the room is gone.
                        break 'conn ending.get().map(ended);
                    };
                    state.dequeued(ip, &frame);
                    let message = match frame {
                        Outgoing::Binary(bytes) => Message::Binary(bytes.into()),
                        Outgoing::Text(text) => Message::Text(text.into()),
                    };
                    if !send_within(&mut sink, message).await {
                        break 'conn None;
                    }
                }
                why = ending.ended() => break 'conn Some(ended(why)),
                _ = roster.tick() => {
                    if conducting {
                        let view = conductor_view(&state, &room);
                        let news = (told_view.as_ref() != Some(&view)).then(|| view.clone());
                        told_view = Some(view);
                        for frame in join_code_news(&state, &room, &mut told_code).into_iter().chain(news) {
                            if !send_within(&mut sink, Message::Text(frame.into())).await {
                                break 'conn None;
                            }
                        }
                    }
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
    let mut dropped = 0;
    while let Ok(out) = rx.try_recv() {
        dropped += out.len();
        state.dequeued(ip, &out);
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
        None => {
            log(&format!("peer {peer} left room {room}"));
            // The socket's buffers (a frame half-written to a reader that stalled) go before
            // the memory is handed back below.
            drop((sink, stream));
        }
    }
    if dropped >= GIVE_BACK_ABOVE {
        give_back_memory(&state);
    }
}

//! A hostile room member, for the rogue-peer suite (`e2e/live-rogue.mjs`): what a student with
//! the developer console would try against the tabs of a class. Not part of `grapevine`.
//!
//! `rogue --url http://HOST:PORT --room ROOM --victim ID [--seconds S]` joins the room as a
//! member with a key of its own (that much anyone may do), links to every member over the
//! server's relay with the real hello handshake, and then sends, over those real links:
//! forged leave and death news about the victim (unsigned, signed with the rogue's key, and at
//! the last incarnation with the victim's own proof of another incarnation), news that would
//! push each member's own incarnation to the top, a rumor and a key-value write in the
//! victim's name at the largest version, 1,500 made-up members each properly signed by a key
//! of its own, 600 empty key-value digests (each draws a whole delta), and a flood of
//! messages. It stays linked for `S` seconds, printing one JSON line per step.
//!
//! `rogue --url ... --room ROOM --take-id ID` tries to join with another member's id (it
//! cannot sign for it); `rogue --url ... --room ROOM --storm N` opens N joins at once from
//! one address and never proves a key. Each prints what the server answered.
//!
//! `rogue --url ... --room ROOM --sybils N [--from ADDR] [--seconds S]` fills a room from one
//! address: N members, each proving a key of its own, connected from the local address ADDR
//! (127.0.0.2: another machine, as the server counts addresses), then idle. It prints how many
//! were admitted and why the others were refused; each sybil the server then closes tries
//! once to come back with a fresh key, a second later; once all are closed (or after S
//! seconds, 60 by default) it prints the close codes and the comebacks' answers.
//!
//! `rogue --url ... --room ROOM --usurp S` is a student after the conductor's controls: it
//! joins, presents a made-up conductor token, sends an order signed with its own key (a
//! forgery: "fanout 9"), waits up to `S` seconds for a real order of the conductor to pass
//! and sends it back (a replay), and prints each answer of the server.

use futures_util::{SinkExt, StreamExt};
use grapevine_core::auth::{Identity, Statement};
use grapevine_core::lab::kv::{Checks, Digest, Entry, KvMessage, Span, VClock};
use grapevine_core::lab::live::{LinkMessage, LiveConfig, LiveNode};
use grapevine_core::lab::rumor::{Rumor, RumorConfig, RumorId, RumorMessage};
use grapevine_core::lab::swim::{Incarnation, MemberState, SwimMessage, Update};
use grapevine_core::lab::wire::{encode, Message, MAX_MESSAGE_BYTES};
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::signal::{
    parse_peer, peer_hex, prove, relay_decode, FromClient, LinkSignal, RelayOutbox, Signal,
    ToClient,
};
use serde_json::json;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn usage() -> ! {
    eprintln!("usage: rogue --url http://HOST:PORT --room ROOM (--victim ID [--seconds S] | --take-id ID | --storm N | --sybils N [--from ADDR] [--seconds S] | --usurp S)");
    std::process::exit(2)
}

fn key() -> Identity {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("random numbers");
    Identity::from_secret(secret)
}

fn say(value: serde_json::Value) {
    println!("{value}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(url), Some(room)) = (flag("--url"), flag("--room")) else {
        usage()
    };
    let ws = format!(
        "ws://{}/signal",
        url.trim_start_matches("http://").trim_end_matches('/')
    );
    if let Some(id) = flag("--take-id") {
        take_id(&ws, &room, &id).await;
    } else if let Some(n) = flag("--storm").and_then(|n| n.parse().ok()) {
        storm(&ws, &room, n).await;
    } else if let Some(n) = flag("--sybils").and_then(|n| n.parse().ok()) {
        let from = flag("--from").unwrap_or_else(|| "127.0.0.1".into());
        let seconds = flag("--seconds").and_then(|s| s.parse().ok()).unwrap_or(60);
        sybils(&ws, &room, n, &from, seconds).await;
    } else if let Some(seconds) = flag("--usurp").and_then(|s| s.parse().ok()) {
        usurp(&ws, &room, seconds).await;
    } else if let Some(victim) = flag("--victim").as_deref().and_then(parse_peer) {
        let seconds = flag("--seconds").and_then(|s| s.parse().ok()).unwrap_or(20);
        attack(&ws, &room, victim, seconds).await;
    } else {
        usage()
    }
}

/// Joins as `id` with a key that is not `id`'s: the server must refuse.
async fn take_id(ws: &str, room: &str, id: &str) {
    let url = format!("{ws}?room={room}&peer={id}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let mut answer = json!({ "take_id": id });
    while let Some(Ok(frame)) = socket.next().await {
        match frame {
            Ws::Text(text) => {
                let frame: ToClient<Signal> = serde_json::from_str(text.as_str()).expect("json");
                match frame {
                    ToClient::Challenge { nonce } => {
                        let proof = prove::<Signal>(&key(), room, &nonce);
                        let text = serde_json::to_string(&proof).expect("json");
                        socket.send(Ws::Text(text.into())).await.expect("send");
                    }
                    ToClient::Welcome { .. } => {
                        answer["welcomed"] = true.into();
                        break;
                    }
                    _ => {}
                }
            }
            Ws::Close(Some(close)) => {
                answer["closed"] = u16::from(close.code).into();
                answer["reason"] = close.reason.as_str().into();
                break;
            }
            _ => {}
        }
    }
    say(answer);
}

/// Tries to take the conductor's controls (see the module's doc).
async fn usurp(ws: &str, room: &str, seconds: u64) {
    use grapevine_core::lab::conduct::{sign_order, Command, Settings};
    let me = key();
    let url = format!("{ws}?room={room}&peer={}", peer_hex(me.id()));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut step = 0;
    loop {
        let frame = tokio::select! {
            f = socket.next() => f,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let Some(Ok(Ws::Text(text))) = frame else {
            break;
        };
        let Ok(frame) = serde_json::from_str::<ToClient<Signal>>(text.as_str()) else {
            continue;
        };
        match frame {
            ToClient::Challenge { nonce } => send(&mut socket, &prove(&me, room, &nonce)).await,
            ToClient::Welcome { .. } => {
                say(json!({ "joined": peer_hex(me.id()) }));
                send(
                    &mut socket,
                    &FromClient::Conduct {
                        token: "let-me-in-0000".into(),
                    },
                )
                .await;
            }
            ToClient::ConductorRefused { reason } => {
                step += 1;
                say(json!({ "refused": reason, "step": step }));
                if step == 1 {
                    let forged = Command::Settings(Settings {
                        fanout: 9,
                        interval_ms: 100,
                        loss_percent: 90,
                        stop: 0,
                        k: 1,
                    });
                    let order = sign_order(&me, room, u64::MAX / 2, &forged);
                    send(&mut socket, &FromClient::Order { order }).await;
                }
            }
            ToClient::Order { order } => {
                say(json!({ "captured": true }));
                send(&mut socket, &FromClient::Order { order }).await;
            }
            _ => {}
        }
    }
    say(json!({ "done": step }));
}

/// How a join from `from` ended: admitted (the socket), or closed with a code and reason (an
/// HTTP status when refused before the upgrade).
async fn join_from(ws: &str, room: &str, from: &str) -> Result<Socket, (u16, String)> {
    let address = ws
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .expect("host:port");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("--from ADDR"))
        .expect("bind --from");
    let stream = socket
        .connect(address.parse().expect("the server's IP:port"))
        .await
        .expect("connect");
    let me = key();
    let url = format!("{ws}?room={room}&peer={}", peer_hex(me.id()));
    let upgrade =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await;
    let mut socket = match upgrade {
        Ok((socket, _)) => socket,
        // Refused before the upgrade: HTTP 429 past the address's join rate.
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            return Err((r.status().as_u16(), "refused before the upgrade".into()))
        }
        Err(e) => panic!("{e}"),
    };
    while let Some(Ok(frame)) = socket.next().await {
        match frame {
            Ws::Text(text) => match serde_json::from_str::<ToClient<Signal>>(text.as_str()) {
                Ok(ToClient::Challenge { nonce }) => {
                    send(&mut socket, &prove(&me, room, &nonce)).await
                }
                Ok(ToClient::Welcome { .. }) => return Ok(socket),
                _ => {}
            },
            Ws::Close(Some(close)) => {
                return Err((u16::from(close.code), close.reason.to_string()))
            }
            _ => {}
        }
    }
    Err((1006, "closed without a close frame".into()))
}

/// Fills `room` from the address `from` (see the module's doc).
async fn sybils(ws: &str, room: &str, n: usize, from: &str, seconds: u64) {
    use std::collections::BTreeMap;
    let mut admitted = Vec::new();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..n {
        match join_from(ws, room, from).await {
            Ok(socket) => admitted.push(socket),
            Err((_, why)) => *refused.entry(why).or_default() += 1,
        }
    }
    say(json!({ "sybils": n, "admitted": admitted.len(), "refused": refused }));
    // Each held until the server closes it; then one comeback with a fresh key.
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    for mut socket in admitted {
        let (ws, room, from, done) = (
            ws.to_string(),
            room.to_string(),
            from.to_string(),
            done_tx.clone(),
        );
        tokio::spawn(async move {
            let mut code = 1006;
            while let Some(Ok(frame)) = socket.next().await {
                if let Ws::Close(close) = frame {
                    code = close.map_or(1005, |c| u16::from(c.code));
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let back = match join_from(&ws, &room, &from).await {
                Ok(_) => 0,
                Err((c, _)) => c,
            };
            let _ = done.send((code, back));
        });
    }
    drop(done_tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let (mut closed, mut back): (BTreeMap<u16, usize>, BTreeMap<u16, usize>) = Default::default();
    loop {
        tokio::select! {
            ended = done.recv() => match ended {
                Some((code, again)) => {
                    *closed.entry(code).or_default() += 1;
                    *back.entry(again).or_default() += 1;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    // Comebacks: 0 when admitted again.
    say(json!({ "closed": closed, "comebacks": back }));
}

/// `n` joins at once from this address, none proving a key.
async fn storm(ws: &str, room: &str, n: usize) {
    let mut refused = 0;
    let mut opened = Vec::new();
    for _ in 0..n {
        let id = peer_hex(key().id());
        match tokio_tungstenite::connect_async(format!("{ws}?room={room}&peer={id}")).await {
            Ok((socket, _)) => opened.push(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429 => {
                refused += 1
            }
            Err(e) => panic!("{e}"),
        }
    }
    say(json!({ "storm": n, "refused_429": refused, "opened": opened.len() }));
}

async fn send(socket: &mut Socket, frame: &FromClient<Signal>) {
    let text = serde_json::to_string(frame).expect("json");
    let _ = socket.send(Ws::Text(text.into())).await;
}

fn now(start: Instant) -> Millis {
    Millis(start.elapsed().as_millis() as u64)
}

/// Everything the rogue sends each member once linked.
fn attacks(me: &Identity, victim: NodeId) -> Vec<(&'static str, Message)> {
    let proof_of_life = |member: NodeId| {
        // The victim's real proof of incarnation 0 would do as well: it is public.
        me.sign(&Statement::Alive {
            member,
            incarnation: 0,
        })
    };
    let news = |member, incarnation, state, proof| Update {
        member,
        incarnation: Incarnation(incarnation),
        state,
        from: me.id(),
        proof,
    };
    let ping = |updates| Message::Swim(SwimMessage::Ping { seq: 1, updates });
    let mut out = vec![
        (
            "forged-leave-unsigned",
            ping(vec![news(victim, 0, MemberState::Left, None)]),
        ),
        (
            "forged-leave-signed-by-rogue",
            ping(vec![news(
                victim,
                0,
                MemberState::Left,
                Some(me.sign(&Statement::Left {
                    member: victim,
                    incarnation: 0,
                })),
            )]),
        ),
        (
            "forged-death-at-last-incarnation",
            ping(vec![news(
                victim,
                u32::MAX,
                MemberState::Dead,
                Some(proof_of_life(victim)),
            )]),
        ),
    ];
    let text = "the exam is cancelled (signed: the victim)".to_string();
    let mut rumor = Rumor {
        id: RumorId {
            origin: victim,
            seq: 7,
        },
        hops: 0,
        born_ms: 0,
        text: text.clone(),
        proof: None,
    };
    out.push((
        "forged-rumor-unsigned",
        Message::Rumor(RumorMessage::Push {
            rumors: vec![rumor.clone()],
        }),
    ));
    rumor.proof = Some(me.sign(&Statement::Rumor {
        origin: victim,
        seq: 7,
        born_ms: 0,
        text: &text,
    }));
    out.push((
        "forged-rumor-signed-by-rogue",
        Message::Rumor(RumorMessage::Push {
            rumors: vec![rumor],
        }),
    ));
    let clock = VClock(vec![(victim, u64::MAX)]);
    let write = Entry {
        origin: victim,
        version: u64::MAX,
        key: "color".into(),
        value: "hacked".into(),
        timestamp: u64::MAX,
        proof: Some(me.sign(&Statement::Write {
            origin: victim,
            version: u64::MAX,
            key: "color",
            value: "hacked",
            timestamp: u64::MAX,
            clock: &clock.0,
        })),
        clock,
    };
    out.push((
        "forged-write-at-largest-version",
        Message::Kv(KvMessage::Ack {
            delta: vec![
                Entry {
                    proof: None,
                    ..write.clone()
                },
                write,
            ],
            want: Vec::new(),
        }),
    ));
    // 1,500 made-up members, each signed by its own key: valid signatures, no connection.
    let fakes: Vec<Update> = (0..1_500)
        .map(|_| {
            let fake = key();
            let proof = fake.sign(&Statement::Alive {
                member: fake.id(),
                incarnation: 0,
            });
            news(fake.id(), 0, MemberState::Alive, Some(proof))
        })
        .collect();
    for chunk in fakes.chunks(100) {
        out.push((
            "fake-members",
            Message::Swim(SwimMessage::Sync {
                members: chunk.to_vec(),
            }),
        ));
    }
    // Requests of a few bytes that draw kilobytes: "I hold nothing, send me everything".
    let empty = KvMessage::Syn {
        span: Span::ALL,
        digest: Digest(Vec::new()),
        checks: Checks::default(),
    };
    for _ in 0..600 {
        out.push(("empty-digests", Message::Kv(empty.clone())));
    }
    for _ in 0..1_000 {
        out.push(("flood", Message::Link(LinkMessage::Ping { sent_ms: 0 })));
    }
    out
}

/// Joins, links to every member over the relay, then attacks.
async fn attack(ws: &str, room: &str, victim: NodeId, seconds: u64) {
    let me = key();
    let url = format!("{ws}?room={room}&peer={}", peer_hex(me.id()));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let start = Instant::now();
    let config = LiveConfig {
        rumor: RumorConfig::default(),
        loss: 0.0,
    };
    let mut node = LiveNode::new(me.clone(), 1, config, now(start));
    let mut outbox: Option<RelayOutbox> = None;
    let mut peers: Vec<NodeId> = Vec::new();
    let mut queue: VecDeque<(NodeId, &'static str, Vec<u8>)> = VecDeque::new();
    let mut attacked = false;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let end = start + Duration::from_secs(seconds);
    say(json!({ "rogue": peer_hex(me.id()), "victim": peer_hex(victim) }));
    while Instant::now() < end {
        tokio::select! {
            frame = socket.next() => {
                let Some(Ok(Ws::Text(text))) = frame else { continue };
                let Ok(frame) = serde_json::from_str::<ToClient<Signal>>(text.as_str()) else { continue };
                match frame {
                    ToClient::Challenge { nonce } => send(&mut socket, &prove(&me, room, &nonce)).await,
                    ToClient::Welcome { peers: here, limits, .. } => {
                        outbox = limits.map(|l| RelayOutbox::new(l, now(start).0));
                        peers = here.iter().filter_map(|p| parse_peer(p)).collect();
                        for &p in &peers {
                            node.handle_peer_here(now(start), p);
                            let ask = FromClient::Signal { to: peer_hex(p), data: Signal::Link { link: LinkSignal::Relay } };
                            send(&mut socket, &ask).await;
                            node.handle_link_up(now(start), p);
                        }
                    }
                    ToClient::Relay { frames } => {
                        for f in frames {
                            if let (Some(p), Some(bytes)) = (parse_peer(&f.peer), relay_decode(&f.data, MAX_MESSAGE_BYTES)) {
                                node.handle_bytes(now(start), p, &bytes);
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                let t = now(start);
                node.handle_timeout(t);
                let ready: Vec<NodeId> = node.links().filter(|l| l.ready).map(|l| l.peer).collect();
                if !attacked && !peers.is_empty() && (ready.len() == peers.len() || t.0 > 8_000) {
                    attacked = true;
                    say(json!({ "linked": ready.iter().map(|&p| peer_hex(p)).collect::<Vec<_>>() }));
                    for (what, message) in attacks(&me, victim) {
                        let bytes = encode(&message).expect("under the wire cap");
                        for &p in &ready {
                            queue.push_back((p, what, bytes.clone()));
                        }
                    }
                }
                let Some(out) = outbox.as_mut() else { continue };
                while let Some((to, bytes)) = node.poll_transmit() {
                    out.push(t.0, to, &bytes);
                }
                // The attack at the pace the relay allows (the outbox refuses beyond it).
                while let Some((to, what, bytes)) = queue.pop_front() {
                    if !out.push(t.0, to, &bytes) {
                        queue.push_front((to, what, bytes));
                        break;
                    }
                    if queue.front().is_none_or(|next| next.1 != what) {
                        say(json!({ "sent": what, "to": peer_hex(to) }));
                    }
                }
                // Sent as binary batches; it reads the relay's JSON frames (no `relay=binary`):
                // the relay converts.
                for batch in out.drain() {
                    let _ = socket.send(Ws::Binary(batch.into())).await;
                }
            }
        }
    }
    say(json!({ "done": true, "unsent": queue.len() }));
    let _ = socket.close(None).await;
}

//! `grapevine serve` from the outside: the real binary on port 0, raw WebSocket clients that
//! behave, and clients that do not (garbage, binary, oversized frames, floods, forged and
//! duplicate peer ids, silence). Every misbehaving connection is closed with its own close
//! code and a log line, and the others are served on.

use futures_util::{SinkExt, StreamExt};
use grapevine_core::auth::Identity;
use grapevine_core::signal::{peer_hex, prove};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    dist: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dist);
    }
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dist = std::env::temp_dir().join(format!("grapevine-serve-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>grapevine test page</title>",
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_grapevine"))
            .args(["serve", "--port", "0", "--dist"])
            .arg(&dist)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Server {
            child,
            port,
            log,
            dist,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    /// Connects as `peer` (16 hex digits) and reads the server's challenge, answering
    /// nothing: the nonce is returned.
    async fn connect_raw(&self, room: &str, peer: &str) -> (Ws, String) {
        let url = format!(
            "ws://127.0.0.1:{}/signal?room={room}&peer={peer}",
            self.port
        );
        let mut ws = connect_async(url).await.unwrap().0;
        let challenge = next_json(&mut ws).await;
        assert_eq!(challenge["type"], "challenge", "{challenge}");
        (ws, challenge["nonce"].as_str().unwrap().to_string())
    }

    /// Connects as test member `name` and proves its key.
    async fn connect(&self, room: &str, name: &str) -> Ws {
        let (mut ws, nonce) = self.connect_raw(room, &id(name)).await;
        let proof = prove::<Value>(&identity(name), room, &nonce);
        send(&mut ws, serde_json::to_value(proof).unwrap()).await;
        ws
    }

    /// Joins and returns the socket with its welcome.
    async fn join(&self, room: &str, peer: &str) -> (Ws, Value) {
        let mut ws = self.connect(room, peer).await;
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (ws, welcome)
    }

    /// Waits until the log holds `text`.
    async fn logged(&self, text: &str) {
        for _ in 0..100 {
            if self.log.lock().unwrap().contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("log lacks {text:?}: {}", self.log.lock().unwrap());
    }
}

/// Test members by name: each has a key derived from its name, and the id that key gives
/// ([`id`]); `Server::join` proves the key as every member must.
const A1: &str = "a1";
const A2: &str = "a2";
const A3: &str = "a3";
const B1: &str = "b1";

/// The key of test member `name`.
fn identity(name: &str) -> Identity {
    let mut secret = [0u8; 32];
    secret[..name.len()].copy_from_slice(name.as_bytes());
    Identity::from_secret(secret)
}

/// The peer id of test member `name` (16 hex digits).
fn id(name: &str) -> String {
    peer_hex(identity(name).id())
}

/// The next text frame as JSON (pings and pongs skipped), within 2 s.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .expect("a frame within 2 s")
            .expect("the stream is open")
            .expect("a frame");
        match frame {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns its close code and reason.
async fn closed(ws: &mut Ws) -> (CloseCode, String) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed within 5 s");
        match frame {
            Some(Ok(Message::Close(Some(f)))) => return (f.code, f.reason.to_string()),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Nothing arrives (but pings) within `ms`.
async fn quiet(ws: &mut Ws, ms: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(frame) = tokio::time::timeout_at(deadline, ws.next()).await {
        match frame {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

#[test]
fn the_page_health_and_config_are_served() {
    let server = Server::start(&[
        "--stun",
        "stun:stun.example.org:3478",
        "--turn",
        "turn:turn.example.org:3478",
        "--turn-user",
        "u",
        "--turn-credential",
        "c",
    ]);
    let (status, body) = server.get("/");
    assert_eq!(status, 200);
    assert!(body.contains("grapevine test page"));
    let (status, body) = server.get("/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&health["status"], &health["rooms"], &health["peers"]),
        (&json!("ok"), &json!(0), &json!(0)),
        "{health}"
    );
    assert_eq!(health["relay_bytes"], 0);
    let (_, body) = server.get("/config");
    let config: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        config,
        json!({ "ice_servers": [
            { "urls": ["stun:stun.example.org:3478"] },
            { "urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c" },
        ] })
    );
}

#[test]
fn serve_refuses_a_dist_without_a_page() {
    let out = Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args([
            "serve",
            "--port",
            "0",
            "--dist",
            "/nonexistent-grapevine-dist",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: invalid --dist: no index.html in /nonexistent-grapevine-dist"),
        "{err}"
    );
}

#[tokio::test]
async fn signals_are_relayed_within_a_room_only_and_name_the_true_sender() {
    let server = Server::start(&[]);
    let (mut a1, welcome) = server.join("alpha", A1).await;
    assert_eq!(welcome["peers"], json!([]));
    let (mut a2, welcome) = server.join("alpha", A2).await;
    assert_eq!(welcome["peers"], json!([id(A1)]));
    assert_eq!(
        next_json(&mut a1).await,
        json!({ "type": "peer-joined", "peer": id(A2) })
    );
    let (mut b1, welcome) = server.join("beta", B1).await;
    assert_eq!(welcome["peers"], json!([]));
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    assert_eq!((&health["rooms"], &health["peers"]), (&json!(2), &json!(3)));
    assert_eq!(health["room"]["alpha"]["peers"], 2, "{health}");

    let offer = json!({ "offer": "v=0 ..." });
    send(
        &mut a2,
        json!({ "type": "signal", "to": id(A1), "data": offer }),
    )
    .await;
    assert_eq!(
        next_json(&mut a1).await,
        json!({ "type": "signal", "from": id(A2), "data": offer })
    );
    // Another room's peer cannot be reached: an error to the sender, nothing to anyone else.
    send(
        &mut a2,
        json!({ "type": "signal", "to": id(B1), "data": offer }),
    )
    .await;
    let error = next_json(&mut a2).await;
    assert_eq!(error["type"], "error");
    quiet(&mut b1, 300).await;
    quiet(&mut a1, 100).await;
    // A leave is announced.
    a2.close(None).await.unwrap();
    assert_eq!(
        next_json(&mut a1).await,
        json!({ "type": "peer-left", "peer": id(A2) })
    );
    server
        .logged(&format!("peer {} left room alpha", id(A2)))
        .await;
}

#[tokio::test]
async fn bad_frames_close_only_their_connection_with_a_code_and_a_log_line() {
    let server = Server::start(&["--max-frame-bytes", "2048"]);
    let (mut victim, _) = server.join("room", A1).await;
    let cases: Vec<(Message, CloseCode, &str)> = vec![
        (
            Message::Text("not json".into()),
            CloseCode::Policy,
            "malformed frame",
        ),
        (
            Message::Text(r#"{"type":"hello"}"#.into()),
            CloseCode::Policy,
            "malformed frame",
        ),
        // A forged sender: the protocol has no `from` for clients to fill in.
        (
            Message::Text(
                json!({ "type": "signal", "to": id(A1), "from": id(A3), "data": {} })
                    .to_string()
                    .into(),
            ),
            CloseCode::Policy,
            "unknown field `from`",
        ),
        (
            Message::Binary(vec![1, 2, 3].into()),
            CloseCode::Unsupported,
            "binary frames",
        ),
        // Multi-byte text and a newline echoed in the error: the reason stays printable ASCII
        // on one line (no forged log lines), and nothing panics.
        (
            Message::Text(format!("{{\"type\":\"{}\\nforged log line\"}}", "é".repeat(100)).into()),
            CloseCode::Policy,
            "malformed frame:",
        ),
        (
            Message::Text(
                json!({ "type": "signal", "to": id(A1), "data": "x".repeat(3000) })
                    .to_string()
                    .into(),
            ),
            CloseCode::Size,
            "over the 2048-byte cap",
        ),
    ];
    for (frame, code, reason) in cases {
        let (mut bad, _) = server.join("room", A2).await;
        assert_eq!(next_json(&mut victim).await["type"], "peer-joined");
        bad.send(frame).await.unwrap();
        let (got, why) = closed(&mut bad).await;
        assert_eq!(got, code, "{why}");
        assert!(
            why.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{why:?}"
        );
        assert!(why.contains(reason), "{why:?} lacks {reason:?}");
        server.logged(reason).await;
        // The victim hears of the leave, never of a signal.
        assert_eq!(
            next_json(&mut victim).await,
            json!({ "type": "peer-left", "peer": id(A2) })
        );
    }
    // And it is served on.
    send(&mut victim, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut victim).await, json!({ "type": "pong" }));
}

#[tokio::test]
async fn a_flood_is_cut_off() {
    let server = Server::start(&["--max-rate", "20"]);
    let (mut flood, _) = server.join("room", A1).await;
    for _ in 0..200 {
        if flood
            .send(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, why) = closed(&mut flood).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(why.contains("frames a second"), "{why}");
    let (_, welcome) = server.join("room", A2).await;
    assert_eq!(welcome["peers"], json!([]), "the flooder is gone");
}

#[tokio::test]
async fn ids_rooms_and_capacity_are_checked_at_the_door() {
    let server = Server::start(&["--max-room-peers", "2", "--max-rooms", "1"]);
    let (_a1, _) = server.join("room", A1).await;
    let (_a2, _) = server.join("room", A2).await;
    let mut third = server.connect("room", A3).await;
    let (code, why) = closed(&mut third).await;
    assert_eq!((code, why.as_str()), (CloseCode::Again, "the room is full"));
    let mut other = server.connect("another", B1).await;
    let (code, why) = closed(&mut other).await;
    assert_eq!(
        (code, why.as_str()),
        (CloseCode::Again, "too many rooms on this server")
    );
    for (room, peer) in [
        ("bad room!", id(A3)),
        ("room", "XYZ".to_string()),
        ("room", id(A1).to_uppercase()),
    ] {
        let url = format!(
            "ws://127.0.0.1:{}/signal?room={}&peer={peer}",
            server.port,
            room.replace(' ', "%20")
        );
        let mut ws = connect_async(url).await.unwrap().0;
        assert_eq!(closed(&mut ws).await.0, CloseCode::Policy, "{room} {peer}");
    }
    server
        .logged(&format!(
            "refused peer {} in room room: the room is full",
            id(A3)
        ))
        .await;
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let server = Server::start(&["--idle-secs", "1"]);
    let (mut ws, _) = server.join("room", A1).await;
    // Not reading: no pong goes back to the server's pings.
    // (Past the idle limit, within the second the server waits for the close reply.)
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (code, why) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Library(4000));
    assert!(why.contains("silent"), "{why}");
}

/// The relay: wire messages between members of one room, each named as from its true sender,
/// batched per receiver; nothing crosses rooms; counted in /health, with the links members
/// report.
#[tokio::test]
async fn the_relay_carries_messages_within_a_room_and_counts_them() {
    let server = Server::start(&[]);
    let (mut a1, welcome) = server.join("alpha", A1).await;
    assert_eq!(welcome["limits"]["relay_bytes_per_sec"], 128 * 1024);
    let (mut a2, _) = server.join("alpha", A2).await;
    let (mut a3, _) = server.join("alpha", A3).await;
    let (mut b1, _) = server.join("beta", B1).await;
    next_json(&mut a1).await; // a2 joined
    next_json(&mut a1).await; // a3 joined
    next_json(&mut a2).await; // a3 joined
    send(
        &mut a1,
        json!({ "type": "relay", "frames": [
            { "peer": id(A2), "data": "AQI=" },
            { "peer": id(A3), "data": "Aw==" },
            { "peer": id(A2), "data": "BA==" },
            { "peer": id(B1), "data": "BQ==" },
        ] }),
    )
    .await;
    assert_eq!(
        next_json(&mut a2).await,
        json!({ "type": "relay", "frames": [
            { "peer": id(A1), "data": "AQI=" }, { "peer": id(A1), "data": "BA==" } ] })
    );
    assert_eq!(
        next_json(&mut a3).await,
        json!({ "type": "relay", "frames": [{ "peer": id(A1), "data": "Aw==" }] })
    );
    quiet(&mut b1, 300).await;
    send(&mut a1, json!({ "type": "links", "direct": 1, "relay": 2 })).await;
    send(&mut a2, json!({ "type": "links", "direct": 1, "relay": 1 })).await;
    send(&mut a3, json!({ "type": "links", "direct": 0, "relay": 1 })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    let alpha = &health["room"]["alpha"];
    assert_eq!(alpha["relay_frames"], 4, "{health}");
    assert_eq!(alpha["relay_undelivered"], 1, "{health}");
    assert_eq!(alpha["relay_bytes"], 4 + 4 + 4 + 4, "{health}");
    assert_eq!(
        (&alpha["links"], &alpha["relay_links"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(
        alpha["links_per_member"],
        json!({ "min": 1, "median": 2, "max": 3 })
    );
    assert_eq!(health["relay_bytes"], 16);
}

/// Relaying is under its own byte budget (on top of the frame caps), and a relay frame naming
/// a malformed receiver breaks the protocol: each closes the sender, with a log line.
#[tokio::test]
async fn the_relay_budget_and_malformed_receivers_close_the_sender() {
    let server = Server::start(&["--max-relay-bytes", "4096"]);
    let (mut a1, _) = server.join("room", A1).await;
    let (_a2, _) = server.join("room", A2).await;
    let chunk = "A".repeat(4_000);
    for _ in 0..3 {
        send(
            &mut a1,
            json!({ "type": "relay", "frames": [{ "peer": id(A2), "data": chunk }] }),
        )
        .await;
    }
    let (code, why) = closed(&mut a1).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(
        why.contains("relayed more than 4096 bytes a second"),
        "{why}"
    );
    server.logged("relayed more than 4096 bytes a second").await;
    let (mut a3, _) = server.join("room", A3).await;
    send(
        &mut a3,
        json!({ "type": "relay", "frames": [{ "peer": "nobody", "data": "AA==" }] }),
    )
    .await;
    let (code, why) = closed(&mut a3).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(why.contains("malformed peer id"), "{why}");
}

/// An id is its key's: a member that comes back (slept, lost its network) while the server
/// still holds its old connection takes its id back by proving its key; anyone else who
/// claims the id (with another key, a key that is not the id's, a forged or replayed
/// signature, or no proof at all) is refused with 4403 and a log line, and the room is
/// undisturbed.
#[tokio::test]
async fn a_member_takes_its_id_back_by_proving_its_key_and_nobody_else_can() {
    let server = Server::start(&[]);
    let (mut old, _) = server.join("room", A1).await;
    let (mut other, _) = server.join("room", A2).await;
    next_json(&mut old).await; // a2 joined
                               // Thieves: the right id with another key, another key's proof, a signature made for
                               // another nonce (a replay), and no proof at all.
    let (mut thief, nonce) = server.connect_raw("room", &id(A1)).await;
    let forged = prove::<Value>(&identity("mallory"), "room", &nonce);
    send(&mut thief, serde_json::to_value(forged).unwrap()).await;
    let (code, why) = closed(&mut thief).await;
    assert_eq!(code, CloseCode::Library(4403));
    assert!(why.contains("not this peer id's"), "{why}");
    let (mut replay, _) = server.connect_raw("room", &id(A1)).await;
    let stale = prove::<Value>(&identity(A1), "room", &"00".repeat(32));
    send(&mut replay, serde_json::to_value(stale).unwrap()).await;
    let (code, why) = closed(&mut replay).await;
    assert_eq!(code, CloseCode::Library(4403));
    assert!(why.contains("does not verify"), "{why}");
    let (mut silent, _) = server.connect_raw("room", &id(A1)).await;
    send(&mut silent, json!({ "type": "ping" })).await;
    let (code, why) = closed(&mut silent).await;
    assert_eq!(code, CloseCode::Library(4403));
    assert!(why.contains("must prove the key"), "{why}");
    server.logged("is not this peer id's").await;
    // Nobody in the room heard of any of them, and the owner still holds its id.
    quiet(&mut old, 200).await;
    quiet(&mut other, 200).await;
    // The owner, back on a new connection: the old one is closed, the room sees no leave.
    let (mut back, welcome) = server.join("room", A1).await;
    assert_eq!(welcome["peers"], json!([id(A2)]));
    assert_eq!(closed(&mut old).await.0, CloseCode::Library(4001));
    send(
        &mut other,
        json!({ "type": "signal", "to": id(A1), "data": {} }),
    )
    .await;
    assert_eq!(
        next_json(&mut back).await,
        json!({ "type": "signal", "from": id(A2), "data": {} })
    );
    server
        .logged(&format!("peer {} came back to room room", id(A1)))
        .await;
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    assert_eq!(health["peers"], 2, "{health}");
    assert_eq!(health["refused"]["unproven"], 3, "{health}");
}

/// One address cannot take every room of the server: past its rooms cap, a join to yet
/// another room is refused (a class uses one room; the others are for other classes).
#[tokio::test]
async fn one_address_cannot_take_every_room() {
    let server = Server::start(&["--max-rooms-per-ip", "2"]);
    let (_r1, _) = server.join("one", A1).await;
    let (_r2, _) = server.join("two", A2).await;
    let (_r3, _) = server.join("two", A3).await;
    let mut third = server.connect("three", B1).await;
    let (code, why) = closed(&mut third).await;
    assert_eq!(
        (code, why.as_str()),
        (CloseCode::Again, "too many rooms from this address")
    );
    drop(_r1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_r4, _) = server.join("three", B1).await;
}

/// Pages of another site cannot join (the browser names the page's origin), unless allowed;
/// pages this server served and native clients (no Origin) can.
#[tokio::test]
async fn another_sites_pages_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::start(&["--allow-origin", "https://class.example.org"]);
    let request = |origin: &str| {
        let url = format!(
            "ws://127.0.0.1:{}/signal?room=room&peer={}",
            server.port,
            id(A1)
        );
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    let refused = connect_async(request("https://evil.example.com")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    server
        .logged("page of another origin (https://evil.example.com")
        .await;
    let own = format!("http://127.0.0.1:{}", server.port);
    for origin in [own.as_str(), "https://class.example.org"] {
        let (mut ws, _) = connect_async(request(origin)).await.unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "challenge", "{origin}");
    }
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    assert_eq!(health["refused"]["origin"], 1, "{health}");
}

/// A join storm from one address is cut to the join rate after a burst (a class behind one
/// NAT, joining at once, fits in the burst); each refusal is an HTTP 429, never a broadcast.
#[tokio::test]
async fn a_join_storm_from_one_address_is_cut_off() {
    let server = Server::start(&["--max-joins-per-ip", "5", "--max-peers-per-ip", "10"]);
    let (mut watcher, _) = server.join("room", A1).await;
    let mut refused = 0;
    for i in 0..60 {
        let url = format!(
            "ws://127.0.0.1:{}/signal?room=room&peer={}",
            server.port,
            id(&format!("s{i}"))
        );
        match connect_async(url).await {
            Ok((ws, _)) => drop(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), 429);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    // A burst of 10 (the per-address cap), one (the watcher's) spent: about 50 refused.
    assert!(refused >= 45, "{refused} refused");
    server.logged("joining too often").await;
    // Unproven joins were never announced to the room.
    quiet(&mut watcher, 300).await;
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    assert_eq!(health["refused"]["join-rate"], refused, "{health}");
}

/// Requests that never finish their headers are closed (slowloris), so a few thousand of
/// them do not hold the server's connections.
#[tokio::test]
async fn half_sent_requests_are_closed() {
    let server = Server::start(&[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "a half-sent request was still open after 15 s"
    );
}

/// TURN credentials are derived from the shared secret (coturn's REST API scheme) and
/// expire; the secret itself is in no response.
#[test]
fn turn_credentials_are_short_lived_and_the_secret_is_never_sent() {
    let server = Server::start(&[
        "--turn",
        "turn:127.0.0.1:3478",
        "--turn-user",
        "class",
        "--turn-secret",
        "s3cret-shared",
    ]);
    let (status, body) = server.get("/config");
    assert_eq!(status, 200);
    assert!(!body.contains("s3cret-shared"), "{body}");
    let config: Value = serde_json::from_str(&body).unwrap();
    let turn = &config["ice_servers"][0];
    let username = turn["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, "class");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 3_500..=now + 3_700).contains(&expiry),
        "{expiry} vs {now}"
    );
    // HMAC-SHA1(secret, username), base64: 28 characters.
    assert_eq!(turn["credential"].as_str().unwrap().len(), 28, "{turn}");
    let (_, health) = server.get("/health");
    assert!(!health.contains("s3cret-shared"));
}

/// Connections from one address are capped (a flag: a class behind one NAT needs hundreds).
#[tokio::test]
async fn connections_per_address_are_capped() {
    let server = Server::start(&["--max-peers-per-ip", "2"]);
    let (_a1, _) = server.join("room", A1).await;
    let (_b1, _) = server.join("other", B1).await;
    let mut third = server.connect("room", A2).await;
    let (code, why) = closed(&mut third).await;
    assert_eq!(
        (code, why.as_str()),
        (CloseCode::Again, "too many connections from this address")
    );
    drop(_b1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_a2, _) = server.join("room", A2).await;
}

/// `grapevine peer` processes with `--json`, their lines collected.
struct Peers {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Peers {
    fn start(server: &Server, flags: &[&str]) -> Peers {
        let mut child = Command::new(env!("CARGO_BIN_EXE_grapevine"))
            .args([
                "peer",
                "--url",
                &format!("http://127.0.0.1:{}", server.port),
            ])
            .args(["--json", "--interval", "200"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).expect("every line is JSON");
                sink.lock().unwrap().push(value);
            }
        });
        Peers { child, lines }
    }

    /// Waits (up to `secs`) until `test` holds of the lines so far.
    async fn until(&self, secs: u64, what: &str, test: impl Fn(&[Value]) -> bool) {
        for _ in 0..secs * 10 {
            if test(&self.lines.lock().unwrap()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("not within {secs} s: {what}");
    }

    /// Each member's latest status of each member, from the `member` lines.
    fn statuses(&self) -> std::collections::HashMap<(String, String), String> {
        statuses(&self.lines.lock().unwrap())
    }

    fn ids(&self) -> std::collections::HashSet<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == "member")
            .map(|l| l["peer"].to_string())
            .collect()
    }
}

/// Each member's latest status of each member, from the `member` lines.
fn statuses(lines: &[Value]) -> std::collections::HashMap<(String, String), String> {
    let mut latest = std::collections::HashMap::new();
    for l in lines {
        if l["event"] == "member" {
            let key = (l["peer"].to_string(), l["member"].to_string());
            latest.insert(key, l["status"].as_str().unwrap().to_string());
        }
    }
    latest
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Native peers: two processes of 8 members each, 3 links apiece, are one membership over the
/// relay; a rumor started in one reaches every member of the other; SIGTERM makes a process's
/// members leave gracefully (seen as `left`, not dead) and print a summary.
#[tokio::test]
async fn native_peers_form_one_membership_over_the_relay_and_leave_gracefully() {
    let server = Server::start(&[]);
    let a = Peers::start(
        &server,
        &[
            "--room", "lab", "--count", "8", "--links", "3", "--seed", "1",
        ],
    );
    let b = Peers::start(
        &server,
        &[
            "--room",
            "lab",
            "--count",
            "8",
            "--links",
            "3",
            "--seed",
            "2",
            "--rumor-every",
            "4",
        ],
    );
    let everyone = |p: &Peers| {
        p.ids().len() == 8 && p.statuses().values().filter(|s| *s == "alive").count() >= 8 * 15
    };
    for _ in 0..300 {
        if everyone(&a) && everyone(&b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        everyone(&a) && everyone(&b),
        "every member lists the 15 others"
    );
    // A rumor from b reaches all of a's members.
    a.until(20, "a rumor of b at every member of a", |lines| {
        let heard: std::collections::HashSet<String> = lines
            .iter()
            .filter(|l| l["event"] == "rumor" && l["hops"].as_u64() > Some(0))
            .map(|l| l["peer"].to_string())
            .collect();
        heard.len() == 8
    })
    .await;
    let b_ids = b.ids();
    let pid = b.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    b.until(10, "a summary", |lines| {
        lines
            .iter()
            .any(|l| l["event"] == "summary" && l["peers"] == 8)
    })
    .await;
    a.until(10, "b's members seen as left", |lines| {
        let s = statuses(lines);
        let left = s
            .iter()
            .filter(|((_, m), st)| b_ids.contains(m) && *st == "left");
        left.count() == 8 * 8
    })
    .await;
}

#[test]
fn peer_flags_are_checked() {
    for (flags, expect) in [
        (vec!["--url", "https://x", "--room", "r"], "invalid --url"),
        (vec!["--url", "ftp://x", "--room", "r"], "invalid --url"),
        (
            vec!["--url", "http://127.0.0.1:9", "--room", "a b"],
            "invalid --room",
        ),
        (
            vec!["--url", "http://127.0.0.1:9", "--room", "r"],
            "cannot reach the server",
        ),
        (
            vec!["--url", "http://h", "--room", "r", "--count", "0"],
            "--count",
        ),
        (
            vec!["--url", "http://h", "--room", "r", "--loss", "1.5"],
            "--loss",
        ),
        (
            vec!["--url", "http://h", "--room", "r", "--rumor-every", "x"],
            "--rumor-every",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_grapevine"))
            .arg("peer")
            .args(&flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{flags:?}: {err}");
    }
}

/// A member that stops reading costs bounded memory and is cut off: what waits for it beyond
/// the queue is dropped (counted as undelivered relay), and once one send to it has waited the
/// send timeout (10 s) it counts as gone: it leaves the room, and the sender is served on.
#[tokio::test]
async fn a_member_that_stops_reading_is_bounded_then_cut_off() {
    let server = Server::start(&[
        "--max-relay-bytes",
        "16777216",
        "--max-frame-bytes",
        "65536",
    ]);
    let (mut sender, _) = server.join("room", A1).await;
    let (_stalled, _) = server.join("room", A2).await; // never read from again
    next_json(&mut sender).await; // a2 joined
    let chunk = "A".repeat(60_000);
    let frame = json!({ "type": "relay", "frames": [{ "peer": id(A2), "data": chunk }] });
    // 40 frames a second (under the rate cap) for 6 s: 14 MB, more than the socket buffers
    // and the queue hold.
    for _ in 0..240 {
        send(&mut sender, frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    let undelivered = health["room"]["room"]["relay_undelivered"]
        .as_u64()
        .unwrap();
    assert!(undelivered > 0, "the queue overflowed: {health}");
    // Within the send timeout (and the close grace), the stalled member is gone.
    let left = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(frame)) = sender.next().await {
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "peer-left" {
                    return v;
                }
            }
        }
        Value::Null
    })
    .await
    .expect("the stalled member leaves within 20 s");
    assert_eq!(left["peer"], id(A2));
    send(&mut sender, json!({ "type": "ping" })).await;
    assert_eq!(
        next_json(&mut sender).await["type"],
        "pong",
        "the sender is served on"
    );
}

/// A member whose queue is full when someone joins misses that `peer-joined` (frames for a
/// full queue are dropped), and gets the room's roster once it reads again, so it still
/// learns who is in the room.
#[tokio::test]
async fn a_member_that_missed_a_join_gets_the_roster() {
    let server = Server::start(&[
        "--max-relay-bytes",
        "16777216",
        "--max-frame-bytes",
        "65536",
    ]);
    let (mut sender, _) = server.join("room", A1).await;
    let (mut slow, _) = server.join("room", A2).await;
    next_json(&mut sender).await; // a2 joined
    let chunk = "A".repeat(60_000);
    let frame = json!({ "type": "relay", "frames": [{ "peer": id(A2), "data": chunk }] });
    // Until its queue is full (a relayed frame for it was dropped).
    for _ in 0..400 {
        send(&mut sender, frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
        let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
        if health["room"]["room"]["relay_undelivered"].as_u64() > Some(0) {
            break;
        }
    }
    let (_late, _) = server.join("room", A3).await;
    // Reading again: the join it missed comes as a roster.
    let mut roster = None;
    let mut joined = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while roster.is_none() && tokio::time::Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(2), slow.next()).await
        else {
            continue;
        };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v["type"].as_str() {
            Some("peer-joined") => joined = true,
            Some("roster") => roster = Some(v),
            _ => {}
        }
    }
    assert!(!joined, "the peer-joined was dropped (the queue was full)");
    let roster = roster.expect("a roster within 8 s");
    let peers = roster["peers"].as_array().unwrap();
    assert!(peers.contains(&json!(id(A3))), "{roster}");
    assert!(peers.contains(&json!(id(A1))), "{roster}");
}

/// The conductor: the right token makes a member the room's vouched conductor (told to the
/// room and to later joiners with the standing orders); a wrong token, an order from anyone
/// else, a forged or replayed order are refused with a log line, and nothing reaches the
/// room.
#[tokio::test]
async fn only_the_token_holders_signed_orders_reach_the_room() {
    use grapevine_core::lab::conduct::{sign_order, Baton, Command, Settings};
    let server = Server::start(&["--conductor-token", "sesame-0123"]);
    let (mut teacher, _) = server.join("class", A1).await;
    let (mut student, _) = server.join("class", A2).await;
    next_json(&mut teacher).await; // a2 joined
                                   // A wrong token: refused, logged, nobody told.
    send(
        &mut student,
        json!({ "type": "conduct", "token": "sesame-0124" }),
    )
    .await;
    let refused = next_json(&mut student).await;
    assert_eq!(refused["type"], "conductor-refused", "{refused}");
    server
        .logged(&format!(
            "refused peer {} as conductor of room class",
            id(A2)
        ))
        .await;
    quiet(&mut teacher, 200).await;
    // The right token: the room hears who conducts.
    send(
        &mut teacher,
        json!({ "type": "conduct", "token": "sesame-0123" }),
    )
    .await;
    let vouched = json!({ "type": "conductor", "peer": id(A1) });
    assert_eq!(next_json(&mut teacher).await, vouched);
    assert_eq!(next_json(&mut student).await, vouched);
    // An order signed by the teacher reaches everyone, the teacher too.
    let settings = |fanout| {
        Command::Settings(Settings {
            fanout,
            interval_ms: 500,
            loss_percent: 0,
            stop: 0,
            k: 1,
        })
    };
    let mut baton = Baton::new(identity(A1), "class".into(), 0);
    let order = baton.order(1_000, &settings(3));
    send(&mut teacher, json!({ "type": "order", "order": order })).await;
    let relayed = json!({ "type": "order", "order": order });
    assert_eq!(next_json(&mut teacher).await, relayed);
    assert_eq!(next_json(&mut student).await, relayed);
    // A student's order (signed by itself, or the teacher's replayed), and the teacher's
    // replay: refused, logged, not relayed.
    let forged = sign_order(&identity(A2), "class", 5_000, &settings(9));
    send(&mut student, json!({ "type": "order", "order": forged })).await;
    assert_eq!(next_json(&mut student).await["type"], "conductor-refused");
    send(&mut student, json!({ "type": "order", "order": order })).await;
    assert_eq!(next_json(&mut student).await["type"], "conductor-refused");
    server.logged("only the conductor gives orders").await;
    send(&mut teacher, json!({ "type": "order", "order": order })).await;
    let replay = next_json(&mut teacher).await;
    assert_eq!(replay["type"], "conductor-refused", "{replay}");
    assert!(
        replay["reason"].as_str().unwrap().contains("replayed"),
        "{replay}"
    );
    let other_room = sign_order(&identity(A1), "elsewhere", 9_000, &settings(4));
    send(
        &mut teacher,
        json!({ "type": "order", "order": other_room }),
    )
    .await;
    assert_eq!(next_json(&mut teacher).await["type"], "conductor-refused");
    quiet(&mut student, 200).await;
    // A latecomer hears the conductor and the standing order after its welcome.
    let (mut late, _) = server.join("class", A3).await;
    assert_eq!(next_json(&mut late).await, vouched);
    assert_eq!(next_json(&mut late).await, relayed);
    // Guessing the token: cut off after a few tries.
    for _ in 0..4 {
        send(
            &mut late,
            json!({ "type": "conduct", "token": "guess-guess" }),
        )
        .await;
    }
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), late.next())
            .await
            .expect("closed within 5 s");
        if let Some(Ok(Message::Close(Some(f)))) = frame {
            assert!(f.reason.contains("conductor tokens"), "{}", f.reason);
            break;
        }
    }
    // An empty token is no token.
    send(&mut student, json!({ "type": "conduct", "token": "" })).await;
    assert_eq!(skip_room(&mut student).await["type"], "conductor-refused");
    // Another tab with the token takes over: the old key's standing orders are dropped (a
    // later joiner would refuse them), and the new conductor's orders go on above the last.
    let (mut second, _) = server.join("class", B1).await;
    send(
        &mut second,
        json!({ "type": "conduct", "token": "sesame-0123" }),
    )
    .await;
    let vouched_b1 = json!({ "type": "conductor", "peer": id(B1) });
    // (b1 was told of a1 and its standing order when it joined.)
    assert_eq!(next_json(&mut second).await["peer"], id(A1));
    assert_eq!(next_json(&mut second).await["type"], "order");
    assert_eq!(next_json(&mut second).await, vouched_b1);
    assert_eq!(skip_room(&mut teacher).await, vouched_b1);
    let (mut later, _) = server.join("class", "c1").await;
    assert_eq!(next_json(&mut later).await, vouched_b1);
    quiet(&mut later, 200).await;
    let mut baton_b1 = Baton::new(identity(B1), "class".into(), 1_000);
    let order_b1 = baton_b1.order(10, &settings(4));
    send(&mut second, json!({ "type": "order", "order": order_b1 })).await;
    assert_eq!(
        next_json(&mut later).await,
        json!({ "type": "order", "order": order_b1 })
    );
    let health: Value = serde_json::from_str(&server.get("/health").1).unwrap();
    assert_eq!(health["refused"]["conductor-token"], 6, "{health}");
    assert_eq!(health["refused"]["order"], 4, "{health}");
    assert_eq!(health["room"]["class"]["conductor"], id(B1), "{health}");
}

/// The next frame that is not a join or a leave.
async fn skip_room(ws: &mut Ws) -> Value {
    loop {
        let frame = next_json(ws).await;
        if frame["type"] != "peer-joined" && frame["type"] != "peer-left" {
            return frame;
        }
    }
}

/// `serve` prints the student and conductor links with the token, and the student link as
/// a QR code; a malformed token is refused.
#[test]
fn serve_prints_the_links_and_checks_the_token() {
    let dist = std::env::temp_dir().join(format!("grapevine-serve-links-{}", std::process::id()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args([
            "serve",
            "--port",
            "0",
            "--room",
            "lab-3",
            "--conductor-token",
            "tok_12345678",
            "--dist",
        ])
        .arg(&dist)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for _ in 0..4 {
        text.push_str(&lines.next().unwrap().unwrap());
        text.push('\n');
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(text.contains("students open:  http://127.0.0.1:"), "{text}");
    assert!(text.contains("/?live=lab-3\n"), "{text}");
    assert!(
        text.contains("/?live=lab-3&conductor=tok_12345678"),
        "{text}"
    );
    assert!(text.contains('█'), "a QR code: {text}");
    let out = Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args(["serve", "--conductor-token", "short", "--dist"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --conductor-token"));
}

//! The signaling contract between the page and `grapevine serve`, written once: the frames of
//! the `/signal` WebSocket (JSON text, `type`-tagged), what one tab tells another through it
//! (the WebRTC handshake), and the rules for room names and peer ids. The server (axum,
//! serde_json) and the page (serde-wasm-bindgen) both use these types, so neither can drift
//! from the other.
//!
//! The server relays a signal's `data` without reading it ([`FromClient`] and [`ToClient`] are
//! generic over it: the server instantiates them with an opaque JSON value, the page with
//! [`Signal`]). Everything here may come from a hostile client: decoding fails on anything
//! malformed and the caller drops the frame.

use crate::auth::{id_of, Identity, Proof, Statement};
use crate::lab::NodeId;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The codes that close a member's `/signal` connection (RFC 6455 §7.4 and the private
/// range): the server sends them, and `grapevine peer` and the page read them to say why.
pub mod close {
    /// A frame broke the protocol: malformed, unknown, or a field that does not belong.
    pub const POLICY: u16 = 1008;
    /// A binary frame that is not a relay batch.
    pub const UNSUPPORTED: u16 = 1003;
    /// A frame over the size cap.
    pub const TOO_BIG: u16 = 1009;
    /// The room or the server is full (or this address's share of it); try later.
    pub const TRY_LATER: u16 = 1013;
    /// Silent for too long.
    pub const IDLE: u16 = 4000;
    /// A new connection of the same member (it proved the member's key) took over.
    pub const REPLACED: u16 = 4001;
    /// The member did not prove it holds the key of the id it joins with.
    pub const NOT_PROVEN: u16 = 4403;
    /// The server admits only members with the room's join code (the conductor's tab shows
    /// it), and this one gave none or a wrong one: ask for it, do not retry without it.
    pub const JOIN_CODE: u16 = 4401;
    /// The conductor removed this member: its key is refused for the rest of the session.
    pub const REMOVED: u16 = 4410;
    /// The conductor locked the room: no new members (those already in it may come back).
    pub const LOCKED: u16 = 4423;
}

/// Whether `code` may be a join code as typed: 4 to 32 letters, digits, spaces or `-`
/// (spaces and dashes are dropped and letters lowered by [`join_code`]).
pub fn valid_join_code(code: &str) -> bool {
    (4..=32).contains(&join_code(code).len())
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b' ')
}

/// A join code as the server compares it: without spaces or dashes, in lowercase (a student
/// who types "123 456" for "123456" is not refused).
pub fn join_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether `room` is a room name: 1 to 64 of `A-Z a-z 0-9 . _ -` (short, plain, and safe to
/// print in a log line or a URL).
pub fn valid_room(room: &str) -> bool {
    (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Whether `token` may be a conductor token: 1 to 128 letters, digits, `-` or `_` (safe
/// in a URL as it is). The page takes any such token and lets the server judge it;
/// `grapevine serve` wants at least 8 characters for its own.
pub fn valid_token(token: &str) -> bool {
    (1..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A peer id as signaling writes it: 16 lowercase hex digits (the tab's 64-bit node id).
pub fn valid_peer(peer: &str) -> bool {
    peer.len() == 16 && peer.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `id` as signaling writes it: 16 lowercase hex digits.
pub fn peer_hex(id: NodeId) -> String {
    format!("{:016x}", id.0)
}

/// The node id a [`valid_peer`] string names (`None` for anything else, and for 0, which no
/// tab uses).
pub fn parse_peer(peer: &str) -> Option<NodeId> {
    valid_peer(peer)
        .then(|| u64::from_str_radix(peer, 16).ok())
        .flatten()
        .filter(|&v| v != 0)
        .map(NodeId)
}

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The `N` bytes that `text` (exactly `2N` lowercase or uppercase hex digits) names.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The answer to the server's challenge `nonce` (hex) for joining `room` as `identity`.
pub fn prove<D>(identity: &Identity, room: &str, nonce: &str) -> FromClient<D> {
    let nonce = unhex::<32>(nonce).unwrap_or_default();
    let proof = identity.sign(&Statement::Join {
        member: identity.id(),
        room,
        nonce: &nonce,
    });
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&proof.r);
    signature[32..].copy_from_slice(&proof.s);
    FromClient::Prove {
        key: hex(&proof.key),
        signature: hex(&signature),
    }
}

/// Checks a [`FromClient::Prove`]: `key` gives the id `peer` (hex) joins with, and
/// `signature` signs [`Statement::Join`] for `room` and the server's `nonce`. The error says
/// what failed, for the close reason and the log.
pub fn check_proof(
    peer: &str,
    room: &str,
    nonce: &[u8; 32],
    key: &str,
    signature: &str,
) -> Result<(), &'static str> {
    let member = parse_peer(peer).ok_or("malformed peer id")?;
    let key = unhex::<32>(key).ok_or("the key must be 64 hex digits")?;
    let signature = unhex::<64>(signature).ok_or("the signature must be 128 hex digits")?;
    if id_of(&key) != member {
        return Err("the key is not this peer id's");
    }
    let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    let statement = Statement::Join {
        member,
        room,
        nonce,
    };
    Proof { key, r, s }
        .verify(member, &statement)
        .map_err(|_| "the signature does not verify")
}

/// What a page sends the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FromClient<D> {
    /// Relay `data` to peer `to` of this room. The receiver learns the sender from the
    /// server, never from the frame.
    Signal {
        /// The receiving peer's id.
        to: String,
        /// What to relay.
        data: D,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
    /// Wire messages for peers of this room, through the server (the relay transport: for
    /// pairs whose WebRTC link does not form, and for native peers). At most one such frame
    /// per tick, so the frame rate cap holds however many relay links a member has.
    Relay {
        /// Each message and whom it is for.
        frames: Vec<Relayed>,
    },
    /// The answer to the server's [`ToClient::Challenge`], the first frame a member sends:
    /// its public key, whose digest MUST be the peer id it joins with, and its signature on
    /// [`Statement::Join`] with the server's nonce ([`prove`] makes it, [`check_proof`]
    /// checks it).
    Prove {
        /// The public key, 64 hex digits.
        key: String,
        /// The Ed25519 signature, 128 hex digits.
        signature: String,
    },
    /// "I conduct this room": the token `grapevine serve` printed (the conductor link's
    /// `conductor=` parameter). Answered with [`ToClient::Conductor`] to the whole room (the
    /// server vouches for this member) or [`ToClient::ConductorRefused`].
    Conduct {
        /// The token.
        token: String,
    },
    /// An order to the room ([`crate::lab::conduct`]: a command with its number, signed by
    /// the conductor's key). The server takes it only from the member it vouched for as the
    /// conductor, checks it, and sends it to every member (the sender too).
    Order {
        /// The signed order ([`crate::lab::conduct::sign_order`]).
        order: String,
    },
    /// This member's links now, for the server's `/health` (links per room).
    Links {
        /// Links over WebRTC (direct or through TURN).
        direct: u32,
        /// Links through this server's relay.
        relay: u32,
    },
}

/// One wire message through the relay: `peer` is the receiver on the way in, the sender on
/// the way out (the server writes it; a receiver never trusts a frame for it); `data` is the
/// message's bytes in base64 ([`relay_encode`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relayed {
    /// The other end.
    pub peer: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data: String,
}

/// The members of a room that joined from one address (an IPv6 host by its /64), as the
/// server tells the room's conductor: a class behind one NAT shares one; a flood stands out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressMembers {
    /// The address.
    pub address: String,
    /// Its members' ids.
    pub members: Vec<String>,
}

/// `bytes` as a relayed frame's `data`.
pub fn relay_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A relayed frame's bytes; `None` if `data` is not base64 or decodes to more than `max`
/// bytes (checked before decoding: a hostile frame costs no more than its own length).
pub fn relay_decode(data: &str, max: usize) -> Option<Vec<u8>> {
    use base64::Engine;
    if data.len() / 4 * 3 > max + 2 {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()
        .filter(|b| b.len() <= max)
}

/// The first byte of a binary `/signal` frame that is a relay batch ([`relay_batch`]); other
/// values are kept for frames to come, and refused today.
pub const BINARY_RELAY: u8 = 1;

/// What one relayed message costs its sender's byte budget beyond its bytes: its share of
/// the frame, and the work of forwarding it (so that empty messages are not free).
pub const RELAY_ENTRY_COST: usize = 40;

/// What relaying `len` bytes in a binary batch costs the sender's byte budget
/// ([`Limits::relay_bytes_per_sec`]): the server charges it, and [`RelayOutbox`] paces by it.
pub fn relay_cost(len: usize) -> usize {
    len + RELAY_ENTRY_COST
}

/// Relayed wire messages as one binary WebSocket frame: [`BINARY_RELAY`], then in postcard a
/// sequence of (peer, bytes), the peer being the receiver on the way in and the sender on the
/// way out (the server writes it). The JSON `relay` frame carries the same in base64, a third
/// more bytes and an envelope per message; members ask for binary with `relay=binary` in the
/// `/signal` URL, and the JSON frames stay for everything else.
pub fn relay_batch(messages: &[(NodeId, &[u8])]) -> Vec<u8> {
    let out = alloc::vec![BINARY_RELAY];
    // A byte slice is a postcard sequence of bytes: a length, then the bytes as they are.
    postcard::to_extend(messages, out).unwrap_or_else(|_| alloc::vec![BINARY_RELAY, 0])
}

/// The messages of a binary relay batch ([`relay_batch`]), borrowed from `frame`; an error for
/// anything else (another kind of frame, or bytes that are not a batch).
pub fn read_relay_batch(frame: &[u8]) -> Result<Vec<(NodeId, &[u8])>, &'static str> {
    match frame.split_first() {
        // A count larger than the bytes could hold is refused before anything is reserved
        // for it (each message takes at least two bytes: an id and a length).
        Some((&BINARY_RELAY, body))
            if postcard::take_from_bytes::<u32>(body)
                .is_ok_and(|(n, _)| n as usize > body.len() / 2) =>
        {
            Err("a malformed relay batch")
        }
        Some((&BINARY_RELAY, body)) => match postcard::take_from_bytes(body) {
            Ok((messages, [])) => Ok(messages),
            Ok(_) => Err("bytes after a relay batch"),
            Err(_) => Err("a malformed relay batch"),
        },
        Some(_) => Err("a binary frame of an unknown kind"),
        None => Err("an empty binary frame"),
    }
}

/// The most a batch of binary relay frames adds to its messages' bytes, per message: a
/// peer id (a varint, up to 10 bytes) and a length (up to 3).
pub const BATCH_ENTRY_BYTES: usize = 13;

/// `messages` as binary relay frames ([`relay_batch`]) of at most `max` bytes each, in order,
/// with the number of messages in each. A message too large for a frame by itself is left
/// out (callers count it).
pub fn relay_batches<'a>(
    messages: impl IntoIterator<Item = (NodeId, &'a [u8])>,
    max: usize,
) -> Vec<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut batch: Vec<(NodeId, &[u8])> = Vec::new();
    let mut size = 1 + BATCH_ENTRY_BYTES;
    for (peer, bytes) in messages {
        let len = bytes.len() + BATCH_ENTRY_BYTES;
        if 1 + len > max {
            continue;
        }
        if !batch.is_empty() && size + len > max {
            out.push((relay_batch(&batch), batch.len()));
            batch.clear();
            size = 1 + BATCH_ENTRY_BYTES;
        }
        size += len;
        batch.push((peer, bytes));
    }
    if !batch.is_empty() {
        out.push((relay_batch(&batch), batch.len()));
    }
    out
}

/// How a member sends relayed messages: batched into as few binary relay frames
/// ([`relay_batch`]) as fit the server's frame cap, and paced under its byte budget (at 80 %
/// of it, bursts of one second's worth): a busy member drops its own excess (gossip tolerates
/// loss; the drops are counted) rather than being cut off by the server. The page and native
/// peers both send through it.
#[derive(Clone, Debug)]
pub struct RelayOutbox {
    messages: Vec<(NodeId, Vec<u8>)>,
    tokens: f64,
    rate: f64,
    last_ms: u64,
    max_frame_bytes: usize,
    /// Messages dropped by the pace.
    pub dropped: u64,
    /// Bytes (the messages') queued for sending.
    pub bytes: u64,
}

impl RelayOutbox {
    /// An outbox paced for `limits`.
    pub fn new(limits: Limits, now_ms: u64) -> RelayOutbox {
        let rate = 0.8 * f64::from(limits.relay_bytes_per_sec);
        RelayOutbox {
            messages: Vec::new(),
            tokens: rate,
            rate,
            last_ms: now_ms,
            max_frame_bytes: limits.max_frame_bytes as usize,
            dropped: 0,
            bytes: 0,
        }
    }

    /// Queues `bytes` for `to`; false (and counted) when over the pace or too large for a
    /// frame.
    pub fn push(&mut self, now_ms: u64, to: crate::lab::NodeId, bytes: &[u8]) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = now_ms.max(self.last_ms);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        let cost = relay_cost(bytes.len()) as f64;
        if cost > self.tokens || 1 + bytes.len() + BATCH_ENTRY_BYTES > self.max_frame_bytes {
            self.dropped += 1;
            return false;
        }
        self.tokens -= cost;
        self.bytes += bytes.len() as u64;
        self.messages.push((to, bytes.to_vec()));
        true
    }

    /// Whether anything waits.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// What waits, as binary relay frames ([`relay_batch`]) each under the frame cap (usually
    /// one).
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let out = relay_batches(
            self.messages.iter().map(|(to, bytes)| (*to, &bytes[..])),
            self.max_frame_bytes,
        )
        .into_iter()
        .map(|(frame, _)| frame)
        .collect();
        self.messages.clear();
        out
    }
}

/// The server's limits, told in its welcome so clients can stay under them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Frames a connection may send per second, on average.
    pub max_rate: u32,
    /// Largest frame, bytes.
    pub max_frame_bytes: u32,
    /// Relayed bytes a connection may send per second, on average: a binary batch's
    /// messages cost [`relay_cost`] each; a JSON `relay` frame's, their base64 and envelope.
    pub relay_bytes_per_sec: u32,
}

/// What the server sends a page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ToClient<D> {
    /// The first frame of every connection: "prove you hold the key of the id you join
    /// with": sign [`Statement::Join`] with this nonce and answer [`FromClient::Prove`].
    /// Nothing else is taken before.
    Challenge {
        /// 32 random bytes, 64 hex digits.
        nonce: String,
    },
    /// The join succeeded: the room's other peers, and the ICE servers to use.
    Welcome {
        /// This connection's peer id (as asked).
        peer: String,
        /// The room.
        room: String,
        /// Peers already there.
        peers: Vec<String>,
        /// ICE servers (RTCIceServer dictionaries).
        ice_servers: Vec<IceServer>,
        /// The server's limits (absent from servers older than the relay).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limits: Option<Limits>,
    },
    /// The room's other members now: sent when this connection missed `peer-joined` or
    /// `peer-left` frames (its queue was full, at a burst of joins). It is the room: members
    /// add the ones they did not know, and take the ones missing from it as gone.
    Roster {
        /// Their ids.
        peers: Vec<String>,
    },
    /// A peer joined the room.
    PeerJoined {
        /// Its id.
        peer: String,
    },
    /// A peer left the room (closed, crashed, or was closed by the server).
    PeerLeft {
        /// Its id.
        peer: String,
    },
    /// Relayed from `from`.
    Signal {
        /// The sender, as the server knows it.
        from: String,
        /// What it sent.
        data: D,
    },
    /// Answer to `ping`.
    Pong,
    /// Wire messages from peers of this room, through the relay (`peer`: the sender).
    Relay {
        /// The messages.
        frames: Vec<Relayed>,
    },
    /// The server vouches for `peer` as the room's conductor: it presented the conductor
    /// token, and its key was checked at join. Members take orders signed by its key. Sent
    /// to the room when a member proves the token, and to each member that joins later.
    Conductor {
        /// The conductor's id.
        peer: String,
    },
    /// This connection's `conduct` was refused: the token is wrong (or the server has
    /// none). Nothing changed in the room.
    ConductorRefused {
        /// Why.
        reason: String,
    },
    /// An order from the room's conductor, as it signed it (members check it themselves).
    /// A member that joins later gets the standing ones (the knobs, the split, frozen
    /// members, the open question) after the `conductor` frame.
    Order {
        /// The signed order.
        order: String,
    },
    /// The room's join code now (to the conductor only, whenever it changes): the page shows
    /// it large on the projector and puts it in the student link.
    JoinCode {
        /// The code.
        code: String,
        /// For how long, ms, it is the code shown (a code stays valid one period more, for
        /// those still typing it); absent for a fixed code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rotates_in_ms: Option<u64>,
    },
    /// The room's members by the address they joined from, most first (to the conductor
    /// only, whenever it changes): who holds how many seats, for removing a flood at once.
    Addresses {
        /// Each address and its members.
        addresses: Vec<AddressMembers>,
        /// Whether the server holds the room locked (the lock outlives a conductor's key:
        /// the page's toggle shows the server's word).
        #[serde(default)]
        locked: bool,
        /// Whether newcomers wait to be admitted ([`Command::Wait`](crate::lab::conduct::Command::Wait));
        /// absent when not.
        #[serde(default, skip_serializing_if = "core::ops::Not::not")]
        waiting_room: bool,
        /// The newcomers waiting at the door, first come first, by address; absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        waiting: Vec<AddressMembers>,
    },
    /// "Wait at the door": the room has a waiting room, and this member is held there until
    /// the conductor admits it (then the welcome follows on the same connection) or removes
    /// it (closed with [`close::REMOVED`]).
    Waiting,
    /// A frame that could not be acted on, but broke no rule (a peer that just left).
    Error {
        /// What went wrong.
        message: String,
    },
}

/// One ICE server, as `RTCPeerConnection` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN's credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What one tab tells another to set up a WebRTC link: a session description or an ICE
/// candidate, in the shapes `RTCPeerConnection` gives and takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Signal {
    /// An offer or an answer.
    Description {
        /// The description.
        sdp: Description,
    },
    /// A trickled ICE candidate.
    Candidate {
        /// The candidate.
        candidate: Candidate,
    },
    /// About the link itself, whatever carries it.
    Link {
        /// What.
        link: LinkSignal,
    },
}

/// What one member tells another about their link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkSignal {
    /// "Let us link through the server's relay": the direct link did not form in time (or
    /// the sender has none: a native peer, a page past its connection budget). The receiver
    /// links over the relay too, unless it is at its cap (then `busy`).
    Relay,
    /// "I am at my link cap": try another member.
    Busy,
}

/// An SDP offer or answer (`RTCSessionDescriptionInit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// Offer or answer.
    #[serde(rename = "type")]
    pub kind: DescriptionKind,
    /// The SDP text.
    pub sdp: String,
}

/// Which side of the handshake a description is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DescriptionKind {
    /// The offerer's (the smaller id of the pair).
    Offer,
    /// The answerer's.
    Answer,
}

/// An ICE candidate (`RTCIceCandidateInit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The candidate line.
    pub candidate: String,
    /// Its media stream id.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Its media line index.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// Its ICE username fragment.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_and_peer_rules() {
        assert!(valid_room("lobby") && valid_room("a.b_c-1"));
        assert!(!valid_room("") && !valid_room("a b") && !valid_room(&"x".repeat(65)));
        assert!(valid_peer("00000000000000ff"));
        assert!(!valid_peer("00000000000000FF") && !valid_peer("ff"));
        assert_eq!(parse_peer("00000000000000ff"), Some(NodeId(255)));
        assert_eq!(parse_peer("0000000000000000"), None);
        assert_eq!(peer_hex(NodeId(255)), "00000000000000ff");
    }

    /// The frames' JSON, as the server and every page version since live mode speak it.
    #[test]
    fn frames_have_the_json_shapes_of_the_protocol() {
        let offer: FromClient<Signal> = serde_json::from_str(
            r#"{"type":"signal","to":"00000000000000ff","data":{"sdp":{"type":"offer","sdp":"v=0"}}}"#,
        )
        .unwrap();
        assert_eq!(
            offer,
            FromClient::Signal {
                to: "00000000000000ff".into(),
                data: Signal::Description {
                    sdp: Description {
                        kind: DescriptionKind::Offer,
                        sdp: "v=0".into()
                    }
                }
            }
        );
        let candidate: Signal = serde_json::from_str(
            r#"{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}"#,
        )
        .unwrap();
        let Signal::Candidate { candidate } = &candidate else {
            panic!("{candidate:?}")
        };
        assert_eq!(candidate.sdp_m_line_index, Some(0));
        assert_eq!(
            serde_json::to_string(&ToClient::<Signal>::PeerJoined { peer: "ab".into() }).unwrap(),
            r#"{"type":"peer-joined","peer":"ab"}"#
        );
        assert_eq!(
            serde_json::to_string(&FromClient::<Signal>::Ping).unwrap(),
            r#"{"type":"ping"}"#
        );
        // Unknown fields and kinds are refused, not ignored.
        assert!(serde_json::from_str::<FromClient<serde_json::Value>>(
            r#"{"type":"signal","to":"00000000000000ff","data":{},"from":"00000000000000aa"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<FromClient<Signal>>(r#"{"type":"join"}"#).is_err());
        assert!(serde_json::from_str::<Signal>(r#"{"sdp":{"type":"pranswer","sdp":""}}"#).is_err());
        // The relay and the link signals.
        let relay: FromClient<Signal> = serde_json::from_str(
            r#"{"type":"relay","frames":[{"peer":"00000000000000ff","data":"AQI="}]}"#,
        )
        .unwrap();
        let FromClient::Relay { frames } = relay else {
            panic!("{relay:?}")
        };
        assert_eq!(relay_decode(&frames[0].data, 16), Some(alloc::vec![1, 2]));
        assert_eq!(relay_encode(&[1, 2]), "AQI=");
        assert_eq!(
            serde_json::to_string(&Signal::Link {
                link: LinkSignal::Busy
            })
            .unwrap(),
            r#"{"link":"busy"}"#
        );
        assert!(serde_json::from_str::<Signal>(r#"{"link":"maybe"}"#).is_err());
        // An old welcome (no limits) still reads.
        let old: ToClient<Signal> = serde_json::from_str(
            r#"{"type":"welcome","peer":"ab","room":"r","peers":[],"ice_servers":[]}"#,
        )
        .unwrap();
        assert!(matches!(old, ToClient::Welcome { limits: None, .. }));
    }

    /// A join proof holds for its key's id, room and nonce only.
    #[test]
    fn a_join_proof_is_checked_against_the_id_room_and_nonce() {
        let me = Identity::from_secret([3; 32]);
        let peer = peer_hex(me.id());
        let nonce = [9u8; 32];
        let FromClient::<Signal>::Prove { key, signature } = prove(&me, "class", &hex(&nonce))
        else {
            panic!("a proof")
        };
        assert_eq!(
            check_proof(&peer, "class", &nonce, &key, &signature),
            Ok(())
        );
        assert!(check_proof(&peer, "other", &nonce, &key, &signature).is_err());
        assert!(check_proof(&peer, "class", &[8; 32], &key, &signature).is_err());
        let someone = peer_hex(Identity::from_secret([4; 32]).id());
        assert_eq!(
            check_proof(&someone, "class", &nonce, &key, &signature),
            Err("the key is not this peer id's")
        );
        assert!(check_proof(&peer, "class", &nonce, "zz", &signature).is_err());
        assert!(check_proof(&peer, "class", &nonce, &key, &signature[2..]).is_err());
        assert_eq!(unhex::<2>("0aFf"), Some([10, 255]));
        assert_eq!(unhex::<2>("0aF"), None);
        assert_eq!(unhex::<1>("é"), None);
    }

    /// The outbox keeps every frame under the cap and the bytes under the pace.
    #[test]
    fn the_relay_outbox_batches_under_the_frame_cap_and_paces_bytes() {
        let limits = Limits {
            max_rate: 50,
            max_frame_bytes: 1_024,
            relay_bytes_per_sec: 10_000,
        };
        let mut out = RelayOutbox::new(limits, 0);
        let mut taken = 0;
        for i in 0..100u8 {
            taken += usize::from(out.push(0, NodeId(u64::MAX - u64::from(i)), &[i; 300]));
        }
        // 8,000 bytes of pace at first, 300 + 40 each.
        assert_eq!(taken, 8_000 / relay_cost(300));
        assert_eq!(out.dropped, 100 - taken as u64);
        let frames = out.drain();
        assert!(frames.len() >= taken / 3);
        let mut read = Vec::new();
        for f in &frames {
            assert!(f.len() <= 1_024, "{}", f.len());
            read.extend(read_relay_batch(f).unwrap());
        }
        // Every message taken, in order, to its peer.
        assert_eq!(read.len(), taken);
        for (i, (to, bytes)) in read.iter().enumerate() {
            assert_eq!(*to, NodeId(u64::MAX - i as u64));
            assert_eq!(*bytes, &[i as u8; 300][..]);
        }
        assert!(out.is_empty());
        // A second later the pace has refilled.
        assert!(out.push(1_000, NodeId(1), &[0; 300]));
        assert!(
            !out.push(1_000, NodeId(1), &[0; 2_000]),
            "too large for a frame"
        );
    }

    /// A batch is its messages and nothing else: other kinds of binary frame, bytes after
    /// it, and truncated ones are refused.
    #[test]
    fn a_binary_relay_batch_reads_back_and_refuses_anything_else() {
        let batch = relay_batch(&[(NodeId(5), &[1, 2, 3][..]), (NodeId(6), &[][..])]);
        assert_eq!(batch, [BINARY_RELAY, 2, 5, 3, 1, 2, 3, 6, 0]);
        assert_eq!(
            read_relay_batch(&batch),
            Ok(alloc::vec![
                (NodeId(5), &[1, 2, 3][..]),
                (NodeId(6), &[][..])
            ])
        );
        assert!(read_relay_batch(&batch[..batch.len() - 1]).is_err());
        let mut longer = batch.clone();
        longer.push(0);
        assert_eq!(read_relay_batch(&longer), Err("bytes after a relay batch"));
        assert_eq!(
            read_relay_batch(&[2, 0]),
            Err("a binary frame of an unknown kind")
        );
        assert!(read_relay_batch(&[]).is_err());
        assert!(read_relay_batch(&[BINARY_RELAY, 1, 5, 200]).is_err());
        // A count of 2^28 messages in five bytes: refused before any room is made for them.
        assert_eq!(
            read_relay_batch(&[BINARY_RELAY, 0xff, 0xff, 0xff, 0x7f]),
            Err("a malformed relay batch")
        );
    }

    #[test]
    fn relayed_bytes_are_bounded_before_decoding() {
        assert_eq!(relay_decode("not base64!", 100), None);
        assert_eq!(
            relay_decode(&relay_encode(&[7; 100]), 100),
            Some(alloc::vec![7; 100])
        );
        assert_eq!(relay_decode(&relay_encode(&[7; 101]), 100), None);
        assert_eq!(relay_decode(&"A".repeat(10_000), 100), None);
    }
}

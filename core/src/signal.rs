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

use crate::lab::NodeId;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Whether `room` is a room name: 1 to 64 of `A-Z a-z 0-9 . _ -` (short, plain, and safe to
/// print in a log line or a URL).
pub fn valid_room(room: &str) -> bool {
    (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
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
}

/// What the server sends a page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ToClient<D> {
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
    }
}

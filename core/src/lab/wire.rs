//! The wire format: typed messages inside, bytes only here.
//!
//! A message on the wire is one version byte ([`VERSION`]) followed by the message in
//! postcard (serde's compact binary format: varints, length-prefixed sequences). Decoding
//! checks, in order: the size cap, the version, postcard's own structure, that no byte is
//! left over, and each protocol's bounds (list lengths, finite numbers, sorted clocks). Any
//! failure is a [`WireError`], never a panic: the bytes may come from a broken or hostile peer.

use super::kv::KvMessage;
use super::live::LinkMessage;
use super::push_sum::PushSumMessage;
use super::rumor::RumorMessage;
use super::swim::SwimMessage;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The format's version; a peer speaking another is refused, not misread.
pub const VERSION: u8 = 1;

/// The largest encoded message, bytes: 16 KiB, the size every WebRTC data channel
/// implementation delivers in one piece.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Every message any protocol of the lab sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// SWIM membership.
    Swim(SwimMessage),
    /// Push-sum aggregation.
    PushSum(PushSumMessage),
    /// The replicated key-value map.
    Kv(KvMessage),
    /// Rumor dissemination.
    Rumor(RumorMessage),
    /// About the link itself (live mode's handshake and round trips).
    Link(LinkMessage),
}

impl From<RumorMessage> for Message {
    fn from(m: RumorMessage) -> Self {
        Message::Rumor(m)
    }
}

impl TryFrom<Message> for RumorMessage {
    type Error = WireError;
    fn try_from(m: Message) -> Result<Self, WireError> {
        match m {
            Message::Rumor(m) => Ok(m),
            _ => Err(WireError::WrongProtocol),
        }
    }
}

impl From<SwimMessage> for Message {
    fn from(m: SwimMessage) -> Self {
        Message::Swim(m)
    }
}

impl From<PushSumMessage> for Message {
    fn from(m: PushSumMessage) -> Self {
        Message::PushSum(m)
    }
}

impl From<KvMessage> for Message {
    fn from(m: KvMessage) -> Self {
        Message::Kv(m)
    }
}

impl TryFrom<Message> for SwimMessage {
    type Error = WireError;
    fn try_from(m: Message) -> Result<Self, WireError> {
        match m {
            Message::Swim(m) => Ok(m),
            _ => Err(WireError::WrongProtocol),
        }
    }
}

impl TryFrom<Message> for PushSumMessage {
    type Error = WireError;
    fn try_from(m: Message) -> Result<Self, WireError> {
        match m {
            Message::PushSum(m) => Ok(m),
            _ => Err(WireError::WrongProtocol),
        }
    }
}

impl TryFrom<Message> for KvMessage {
    type Error = WireError;
    fn try_from(m: Message) -> Result<Self, WireError> {
        match m {
            Message::Kv(m) => Ok(m),
            _ => Err(WireError::WrongProtocol),
        }
    }
}

/// Why bytes were refused (or a message could not be encoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// No bytes at all.
    Empty,
    /// More than [`MAX_MESSAGE_BYTES`].
    TooLarge(usize),
    /// A version byte other than [`VERSION`].
    UnknownVersion(u8),
    /// Ended in the middle of a message.
    Truncated,
    /// Not a message of this version.
    Malformed,
    /// A whole message, then more bytes.
    TrailingBytes(usize),
    /// A well-formed message outside a protocol's bounds.
    OutOfBounds(&'static str),
    /// A message of another protocol than the receiver runs.
    WrongProtocol,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Empty => write!(f, "empty message"),
            WireError::TooLarge(n) => {
                write!(
                    f,
                    "message of {n} bytes exceeds the {MAX_MESSAGE_BYTES}-byte cap"
                )
            }
            WireError::UnknownVersion(v) => {
                write!(f, "unknown wire version {v} (this build speaks {VERSION})")
            }
            WireError::Truncated => write!(f, "message truncated"),
            WireError::Malformed => write!(f, "malformed message"),
            WireError::TrailingBytes(n) => write!(f, "{n} bytes after the message"),
            WireError::OutOfBounds(why) => write!(f, "message out of bounds: {why}"),
            WireError::WrongProtocol => write!(f, "message of another protocol"),
        }
    }
}

impl Message {
    /// What kind of message this is, in a word or two (the page's message log).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Swim(SwimMessage::Ping { .. }) => "ping",
            Message::Swim(SwimMessage::Ack { .. }) => "ack",
            Message::Swim(SwimMessage::PingReq { .. }) => "ping-req",
            Message::Swim(SwimMessage::Nack { .. }) => "nack",
            Message::Swim(SwimMessage::Join { .. }) => "join",
            Message::Swim(SwimMessage::Sync { .. }) => "sync",
            Message::PushSum(_) => "share",
            Message::Kv(KvMessage::Syn { .. }) => "syn",
            Message::Kv(KvMessage::SynAck { .. }) => "syn-ack",
            Message::Kv(KvMessage::Ack { .. }) => "ack",
            Message::Rumor(RumorMessage::Push { .. }) => "push",
            Message::Rumor(RumorMessage::PullRequest { .. }) => "pull",
            Message::Rumor(RumorMessage::PullReply { .. }) => "pull-reply",
            Message::Rumor(RumorMessage::Feedback { .. }) => "feedback",
            Message::Link(LinkMessage::Hello { .. }) => "hello",
            Message::Link(LinkMessage::HelloAck { .. }) => "hello-ack",
            Message::Link(LinkMessage::Ping { .. }) => "rtt-ping",
            Message::Link(LinkMessage::Pong { .. }) => "rtt-pong",
        }
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self {
            Message::Swim(m) => m.validate(),
            Message::PushSum(m) => m.validate(),
            Message::Kv(m) => m.validate(),
            Message::Rumor(m) => m.validate(),
            Message::Link(_) => Ok(()),
        }
    }
}

/// Encodes `message`; fails only if it would exceed the size cap (the protocols bound what
/// they put in a message, so that is a bug in the caller, reported rather than sent).
pub fn encode(message: &Message) -> Result<Vec<u8>, WireError> {
    let mut bytes = alloc::vec![VERSION];
    let body = postcard::to_allocvec(message).map_err(|_| WireError::Malformed)?;
    bytes.extend_from_slice(&body);
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decodes one message from exactly `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != VERSION {
        return Err(WireError::UnknownVersion(version));
    }
    let (message, rest) = postcard::take_from_bytes::<Message>(body).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => WireError::Truncated,
        _ => WireError::Malformed,
    })?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    message.validate().map_err(WireError::OutOfBounds)?;
    Ok(message)
}

//! The wire format: typed messages inside, bytes only here.
//!
//! A message on the wire is one version byte ([`VERSION`]) followed by the message in
//! postcard (serde's compact binary format: varints, length-prefixed sequences). Live links
//! send their larger messages deflated ([`pack`]): the version byte has its top bit set
//! ([`DEFLATED`]) and the rest is the postcard body, deflated. A key-value delta repeats
//! its keys' and values' text from entry to entry (`room.`, a rumor's id, the clock's
//! digits), and a room's records are most of what a rumor costs. Decoding checks, in order:
//! the size cap, the version, the inflated size (against the same cap), postcard's own
//! structure, that no byte is left over, and each protocol's bounds (list lengths, finite
//! numbers, sorted clocks). Any failure is a [`WireError`], never a panic: the bytes may come
//! from a broken or hostile peer.

use super::kv::KvMessage;
use super::push_sum::PushSumMessage;
use super::role::{Alarm, Role};
use super::rumor::RumorMessage;
use super::swim::{Incarnation, SwimMessage};
use crate::auth::Proof;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The format's version; a peer speaking another is refused, not misread (and reported as
/// such, apart from malformed bytes). 2: signed members (proofs on SWIM updates, writes,
/// rumors and goodbyes; key-value digests in spans). 3: key-value summaries (a hash of the
/// digest first; [`KvMessage::Summary`]). 4: SWIM push-pull summaries (a hash of the
/// membership first; [`SwimMessage::Summary`]), and key-value digests as versions alone
/// where both ends hold the same origins ([`KvMessage::Versions`]). 5: deflated messages
/// ([`pack`]). 6: key-value digests checked per origin, so a withheld or pinned write heals
/// ([`Checks`](super::kv::Checks), [`Held`](super::kv::Held)).
pub const VERSION: u8 = 6;

/// The version byte's flag for a deflated body ([`pack`]). A member of version 4 reads such
/// a message as an unknown version, and this one reads every message of version 4 as
/// another release's: either way refused, never misread.
pub const DEFLATED: u8 = 0x80;

/// Messages longer than this, bytes, are deflated by [`pack`] (when that makes them shorter):
/// below it, deflate's own header and the work would not pay.
pub const DEFLATE_ABOVE: usize = 128;

/// The first version whose members can share a room with this one: 2, signed members (the
/// server wants a key's proof at join, which members of version 1 never give).
pub const FIRST_ROOM_VERSION: u8 = 2;

/// The largest encoded message, bytes: 16 KiB, the size every WebRTC data channel
/// implementation delivers in one piece.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Messages about the link itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkMessage {
    /// "I am here"; repeated until acknowledged. `sent_ms`: the sender's clock.
    Hello {
        /// Echoed back, for the round-trip time.
        sent_ms: u64,
    },
    /// The answer to a hello.
    HelloAck {
        /// The hello's `sent_ms`.
        echo_ms: u64,
    },
    /// A round-trip probe.
    Ping {
        /// Echoed back.
        sent_ms: u64,
    },
    /// The answer to a ping.
    Pong {
        /// The ping's `sent_ms`.
        echo_ms: u64,
    },
    /// "I am leaving the room" (at this incarnation): sent by a leaving member to every
    /// member it knows, linked or not (over the server's relay), so its leave is known even
    /// where none of its links reach. The only message taken from a member without a link:
    /// it speaks of the sender alone, whose id the transport vouches for.
    Bye {
        /// The leaver's incarnation.
        incarnation: Incarnation,
        /// Signed members: the leaver's signed leave at `incarnation` (so receivers can pass
        /// the news on, and a leave is never anyone's word but the leaver's).
        proof: Option<Proof>,
    },
}

impl LinkMessage {
    /// Why it was sent (see [`Role`]).
    pub fn role(&self) -> Role {
        match self {
            LinkMessage::HelloAck { .. } | LinkMessage::Pong { .. } => Role::Reply,
            LinkMessage::Hello { .. } | LinkMessage::Ping { .. } | LinkMessage::Bye { .. } => {
                Role::Initiative
            }
        }
    }

    /// Its kind, for the page's message log.
    pub fn kind(&self) -> &'static str {
        match self {
            LinkMessage::Hello { .. } => "hello",
            LinkMessage::HelloAck { .. } => "hello-ack",
            LinkMessage::Ping { .. } => "rtt-ping",
            LinkMessage::Pong { .. } => "rtt-pong",
            LinkMessage::Bye { .. } => "bye",
        }
    }

    /// Every link message is within bounds (fixed size).
    pub fn validate(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// Declares [`Message`], every message of the lab, one variant per protocol (a registry
/// line: the variant order is the wire format, so new protocols go last), with its
/// conversions from and to each protocol's own message.
macro_rules! messages {
    ($($(#[$doc:meta])* $variant:ident($message:ty),)*) => {
        /// Every message any protocol of the lab sends.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub enum Message {
            $($(#[$doc])* $variant($message),)*
        }

        $(
            impl From<$message> for Message {
                fn from(m: $message) -> Self {
                    Message::$variant(m)
                }
            }

            impl TryFrom<Message> for $message {
                type Error = WireError;
                fn try_from(m: Message) -> Result<Self, WireError> {
                    match m {
                        Message::$variant(m) => Ok(m),
                        #[allow(unreachable_patterns)]
                        _ => Err(WireError::WrongProtocol),
                    }
                }
            }
        )*

        impl Message {
            /// What kind of message this is, in a word or two (the page's message log).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Message::$variant(m) => m.kind(),)*
                }
            }

            /// Why it was sent.
            pub fn role(&self) -> Role {
                match self {
                    $(Message::$variant(m) => m.role(),)*
                }
            }

            /// Checks the bounds of whichever protocol's message this is.
            fn validate(&self) -> Result<(), &'static str> {
                match self {
                    $(Message::$variant(m) => m.validate(),)*
                }
            }
        }
    };
}

messages! {
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

impl Message {
    /// The gravest membership news it carries, a suspicion or a death (SWIM piggybacks news
    /// on its probes), so a picture can mark the messages that spread an alarm.
    pub fn alarm(&self) -> Option<Alarm> {
        match self {
            Message::Swim(m) => m.alarm(),
            _ => None,
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
    /// A version byte no member of a room with this one can speak: 0, 1 (before signed
    /// members: the server refuses such a member at join) or 16 and above.
    UnknownVersion(u8),
    /// A version of this format other than [`VERSION`] that a member of a room can speak
    /// ([`FIRST_ROOM_VERSION`] to 15): a peer of another release.
    OtherVersion(u8),
    /// A deflated message ([`pack`]) that inflates past [`MAX_MESSAGE_BYTES`].
    InflatesTooLarge,
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
            WireError::OtherVersion(v) => write!(
                f,
                "wire version {v}, another release of Grapevine (this build speaks {VERSION})"
            ),
            WireError::InflatesTooLarge => write!(
                f,
                "deflated message inflates past the {MAX_MESSAGE_BYTES}-byte cap"
            ),
            WireError::Truncated => write!(f, "message truncated"),
            WireError::Malformed => write!(f, "malformed message"),
            WireError::TrailingBytes(n) => write!(f, "{n} bytes after the message"),
            WireError::OutOfBounds(why) => write!(f, "message out of bounds: {why}"),
            WireError::WrongProtocol => write!(f, "message of another protocol"),
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

/// Encodes `message` for a live link: as [`encode`], then deflated if it is longer than
/// [`DEFLATE_ABOVE`] and deflating makes it shorter. The simulator sends [`encode`]'s bytes
/// (its byte counts are the messages' own sizes, and it needs no deflate's work).
pub fn pack(message: &Message) -> Result<Vec<u8>, WireError> {
    let plain = encode(message)?;
    if plain.len() <= DEFLATE_ABOVE {
        return Ok(plain);
    }
    // Level 1: deflate's fastest; on a room's deltas within 1 % of level 6's size.
    let deflated = miniz_oxide::deflate::compress_to_vec(&plain[1..], 1);
    if deflated.len() + 1 >= plain.len() {
        return Ok(plain);
    }
    let mut bytes = Vec::with_capacity(deflated.len() + 1);
    bytes.push(VERSION | DEFLATED);
    bytes.extend_from_slice(&deflated);
    Ok(bytes)
}

/// Decodes one message from exactly `bytes` ([`encode`]'s or [`pack`]'s).
pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let (&first, body) = bytes.split_first().ok_or(WireError::Empty)?;
    let version = first & !DEFLATED;
    if version != VERSION {
        return Err(if (FIRST_ROOM_VERSION..16).contains(&version) {
            WireError::OtherVersion(version)
        } else {
            WireError::UnknownVersion(first)
        });
    }
    let inflated;
    let body = if first & DEFLATED == 0 {
        body
    } else {
        // Inflated no further than an encoded message may be: a small message that would
        // inflate to gigabytes is refused at the cap.
        inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_MESSAGE_BYTES - 1)
            .map_err(|e| match e.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => WireError::InflatesTooLarge,
                _ => WireError::Malformed,
            })?;
        &inflated[..]
    };
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

//! What crosses a member's socket: the frames a page sends ([`FromClient`]) and the server
//! sends ([`ToClient`]), their text, what waits in a connection's queue ([`Outgoing`]), and
//! the close codes that end a connection.
//!
//! The frames themselves are the core's ([`grapevine_core::signal`]), shared with the page and
//! `grapevine peer`; this file only fixes how the server holds their signal data.

use grapevine_core::signal;

/// Close codes (RFC 6455 §7.4 and the private range).
pub(super) mod close {
    /// A frame broke the protocol: malformed, unknown, or a field that does not belong.
    pub const POLICY: u16 = 1008;
    /// A binary frame that is not a relay batch.
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
pub(super) type FromClient = signal::FromClient<serde_json::Value>;
/// What the server sends: the core's frame, relaying signal data as it came.
pub(super) type ToClient<'a> = signal::ToClient<&'a serde_json::Value>;

/// A frame on its way to one connection.
#[derive(Debug)]
pub(super) enum Outgoing {
    Text(String),
    /// A binary relay batch ([`signal::relay_batch`]), for a member that asked for them.
    Binary(Vec<u8>),
    /// Close with this code and reason (the member connected again elsewhere).
    Close(u16, &'static str),
}

impl Outgoing {
    /// Its bytes, as the queue bound counts them.
    pub(super) fn len(&self) -> usize {
        match self {
            Outgoing::Text(text) => text.len(),
            Outgoing::Binary(bytes) => bytes.len(),
            Outgoing::Close(..) => 0,
        }
    }
}

/// A frame's text.
pub(super) fn text_of(message: &ToClient<'_>) -> String {
    serde_json::to_string(message).expect("serialisable")
}

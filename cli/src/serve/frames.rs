//! What crosses a member's socket: the frames a page sends ([`FromClient`]) and the server
//! sends ([`ToClient`]), their text, what waits in a connection's queue ([`Outgoing`]), and
//! the close codes that end a connection.
//!
//! The frames themselves are the core's ([`grapevine_core::signal`]), shared with the page and
//! `grapevine peer`; this file only fixes how the server holds their signal data.

use grapevine_core::signal;

/// Close codes: the core's, shared with the page and `grapevine peer`.
pub(super) use signal::close;

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
}

impl Outgoing {
    /// Its bytes, as the queue bound counts them.
    pub(super) fn len(&self) -> usize {
        match self {
            Outgoing::Text(text) => text.len(),
            Outgoing::Binary(bytes) => bytes.len(),
        }
    }
}

/// A frame's text.
pub(super) fn text_of(message: &ToClient<'_>) -> String {
    serde_json::to_string(message).expect("serialisable")
}

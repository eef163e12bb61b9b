//! The seams between the tab's node loop ([`super::Live`]) and whatever carries its bytes.
//!
//! - A [`Transport`] carries one peer's frames (the node's wire messages): a WebRTC data
//!   channel ([`super::webrtc`]) or the server's relay ([`super::relay`]). The loop sends
//!   through the trait and hears back through [`Event`]s; the node never knows which
//!   transport a peer is on.
//! - A [`Signaller`] carries the handshake that sets links up: this browser's
//!   BroadcastChannel ([`super::tabs`]) or the server's WebSocket ([`super::server`]).
//!
//! Every callback of every transport reaches the loop as one [`Event`] through a [`Sink`], so
//! the loop's state is only ever touched from [`super::Live::handle`].

use grapevine_core::lab::NodeId;
use grapevine_core::signal::{IceServer, Limits, Signal};
use std::rc::Rc;

/// How a peer was met, and so how its handshake travels. The server unless a tab of this
/// browser announced it (the default: a member first heard of otherwise is the server's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Via {
    /// This browser's BroadcastChannel.
    Tabs,
    /// The signaling server.
    #[default]
    Server,
}

/// The signaling server connection's state, for the view.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerState {
    /// Not tried (the page is not served by `grapevine serve`?) or waiting to retry.
    Offline(String),
    /// Connecting.
    Connecting,
    /// In the room.
    Connected,
    /// Another tab holds this id (a duplicated tab copies the id with its session): not
    /// retried; a reload joins with a new id.
    Taken(String),
    /// Refused because the room (or the server, or this address's share) is full: tried
    /// again every [`FULL_RETRY_MS`](super::server::FULL_RETRY_MS), not later and later, so
    /// the tab joins soon after someone leaves. The server's reason.
    Full(String),
    /// The server asks for the room's join code, and this tab gave none or a wrong one: not
    /// retried until the student types one. The server's reason.
    NeedsCode(String),
    /// The conductor locked the room and this tab is new to it: tried again every
    /// [`LOCKED_RETRY_MS`](super::server::LOCKED_RETRY_MS), in case it is unlocked.
    Locked(String),
    /// The conductor removed this tab's member: not retried (its key is refused).
    Removed(String),
    /// Held at the door of a room with a waiting room: the connection stays open, and the
    /// welcome comes on it once the conductor admits this tab.
    Waiting,
}

/// What the server tells the conductor's tab of who is in the room and at its door.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Door {
    /// The room's members by the address they joined from, most first.
    pub addresses: Vec<(String, Vec<NodeId>)>,
    /// The room is locked.
    pub locked: bool,
    /// Newcomers wait to be admitted.
    pub waiting_room: bool,
    /// Those waiting, by address, first come first.
    pub waiting: Vec<(String, Vec<NodeId>)>,
}

/// A frame as it arrived: its bytes, or only its length when it was over the wire cap (it
/// was never copied into the page's memory).
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// The bytes.
    Bytes(Vec<u8>),
    /// Too large: its length.
    TooLarge(usize),
}

/// Everything that happens to the node loop. Link events carry the link's generation: a late
/// callback of a link that was replaced must not act on its successor.
#[derive(Clone, Debug)]
pub enum Event {
    /// The loop's clock ticked: deadlines, handshake timeouts, rediscovery.
    Tick,
    /// The page is going away.
    PageHide,
    /// A peer announced itself (or was listed by the server).
    Discovered(NodeId, Via),
    /// The server's whole roster (this tab missed joins or leaves): the members in the room.
    Roster(Vec<NodeId>),
    /// A peer said goodbye; `closing`: it closes its links itself, any left open are dropped
    /// a moment later.
    Gone {
        /// Who.
        peer: NodeId,
        /// Whether its links are about to close.
        closing: bool,
    },
    /// A handshake signal from a peer.
    Signal(NodeId, Signal, Via),
    /// A link's handshake wants this sent to its peer.
    Outgoing(NodeId, u64, Signal),
    /// A link opened.
    LinkOpen(NodeId, u64),
    /// A link carried a frame.
    Frame(NodeId, u64, Frame),
    /// The server's relay carried a frame from this peer (linked or not: a goodbye comes
    /// from anyone).
    Relayed(NodeId, Frame),
    /// A link failed or closed.
    LinkClosed(NodeId, u64, &'static str),
    /// The signaling server's state changed.
    Server(ServerState),
    /// The signaling server welcomed this tab: its ICE servers, and its limits (a server
    /// with a relay).
    Welcome(Vec<IceServer>, Option<Limits>),
    /// Time to connect to the signaling server again.
    Reconnect,
    /// The server vouches for this member as the room's conductor.
    Conductor(NodeId),
    /// The server refused this tab's conductor token or order (why).
    ConductorRefused(String),
    /// The room's members by the address they joined from, most first (to the conductor's
    /// tab).
    Addresses(Door),
    /// The room's join code (to the conductor's tab), and in how many ms it changes.
    JoinCode(String, Option<u64>),
    /// An order from the conductor, as signed (the node checks it).
    Order(String),
}

/// Where transports send their events. Only from their own callbacks: an event sent while
/// the loop is handling another is dropped (the loop is borrowed).
pub type Sink = Rc<dyn Fn(Event)>;

/// Carries one peer's frames.
pub trait Transport {
    /// Sends one frame; `false` when the link cannot take it now (not open, or closed).
    fn send(&self, bytes: &[u8]) -> bool;
    /// Whether frames can go now.
    fn is_open(&self) -> bool;
    /// Closes gracefully (what is queued goes first).
    fn close(&self);
    /// How frames travel, for the view: `direct` | `turn` | `relay`.
    fn kind(&self) -> &'static str;
}

/// Carries the handshake to a peer.
pub trait Signaller {
    /// Sends `signal` to `to`.
    fn signal(&self, to: NodeId, signal: &Signal);
}

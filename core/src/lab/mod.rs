//! The protocol lab: gossip protocols as sans-IO nodes in continuous time.
//!
//! The round engine ([`crate::engine`]) answers "how fast does one rumor spread" for up to
//! 10^8 nodes. Real systems do more with gossip, and do it over real links with latency,
//! loss and failures; this module holds those protocols as the state machines that the
//! simulated network ([`net`]), the page and real WebRTC peers all drive:
//!
//! - [`swim`]: SWIM membership and failure detection (Das, Gupta, Motivala 2002), with
//!   Lifeguard's local health and dynamic suspicion timeout as an option;
//! - [`push_sum`]: push-sum aggregation (Kempe, Dobra, Gehrke 2003);
//! - [`rumor`]: rumor dissemination (push, pull, push-pull, the stop rules) with many
//!   rumors, their origins and hop counts;
//! - [`kv`]: a replicated key-value map reconciled by scuttlebutt anti-entropy, with
//!   last-writer-wins and vector-clock conflict resolution side by side.
//!
//! Each is a folder: its node, and its [`ProtocolSpec`] (config, simulator hooks, and the
//! observer that computes its figures); [`protocol`] is the seam, [`run`] runs any protocol,
//! and one list names them all ([`PROTOCOLS`], [`REGISTRY`]).
//!
//! Every node follows "mutate, then drain": each input (`handle_*`) may queue messages and
//! events, which the driver drains with [`Node::poll_transmit`] and [`Node::poll_event`]
//! until `None`, and [`Node::poll_timeout`] says when the node next wants
//! [`Node::handle_timeout`]. Time comes in as [`Millis`] and never goes backwards; each node
//! owns a seeded generator its driver gave it. Bytes exist only at the boundary, in [`wire`].
//!
//! This file is only a table of contents: every item named here is defined in a file of its
//! own and re-exported, so `lab::X` paths stay short. What a node is ([`Node`], [`NodeId`],
//! [`Millis`], [`Effects`]) is in `node.rs`, a leaf every other file builds on; who it may
//! talk to ([`Peers`], [`Roster`]) in `peers.rs`; the list of protocols in `registry.rs`.

pub mod conduct;
pub mod kv;
pub mod live;
pub mod mesh;
pub mod net;
mod node;
mod peers;
pub mod protocol;
pub mod push_sum;
pub mod record;
mod registry;
pub mod role;
pub mod room;
pub mod rumor;
pub mod run;
pub mod scenario;
pub mod swim;
pub mod wire;

pub use node::{Effects, Millis, Node, NodeId, Refusals, RoundTimer, Transmit};
pub use peers::{Peers, Roster};
pub use protocol::{Figure, LabOption, LabOptions, ProtocolInfo, ProtocolSpec};
pub use registry::{PROTOCOLS, REGISTRY};
pub use run::{AnyRun, LabProtocol, Run};
pub use scenario::QUIET_SCENARIO;

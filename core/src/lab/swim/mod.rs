//! SWIM membership and failure detection: the member ([`node`]) and its lab slice ([`spec`]:
//! config from the options, the simulator's hooks, crash detection and false positives).
//!
//! The member is one state machine, [`Swim`]: its inputs and outputs are in `node.rs`, and
//! each concept it is made of has its own file, which adds to it (an `impl Swim` block):
//! - `member.rs`: the membership table (SWIM's override rules, refutation, pending news,
//!   tombstones);
//! - `probe.rs`: the probe cycle (ping, ping-req, acks and nacks, suspicion timers) and
//!   Lifeguard's local health and dynamic suspicion timeout;
//! - `broadcast.rs`: dissemination, the queue of news piggybacked on probes and acks;
//! - `sync.rs`: full-state exchange (join's sync, push-pull, signed members' want);
//! - `signing.rs`: signed members' proofs, made and checked.
//!
//! Beneath them, files that import none of those: `state.rs`, the [`Swim`] struct and the
//! records its fields hold (data only); `message.rs`, the wire messages and their validation;
//! `config.rs`, the parameters and their ranges; and `view.rs`, what one member believes of
//! another ([`MemberState`], [`Incarnation`]) and the [`SwimEvent`] that reports it. So the
//! imports go one way: behaviour files import the state and the vocabulary, never each other's
//! `impl Swim`, and only `node.rs` imports them all.
//!
//! Their public types are re-exported by `node.rs`, so `swim::X` and `swim::node::X` name them.

mod broadcast;
mod config;
mod member;
mod message;
pub mod node;
mod probe;
mod signing;
pub mod spec;
mod state;
mod sync;
mod view;

pub use node::*;
pub use spec::{Detection, Spec, SwimObserver, SwimSample};

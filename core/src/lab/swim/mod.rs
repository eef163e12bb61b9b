//! SWIM membership and failure detection: the member ([`node`]) and its lab slice ([`spec`]:
//! config from the options, the simulator's hooks, crash detection and false positives).
//!
//! The member is one state machine, [`Swim`] in `node.rs`; each concept it is made of has its
//! own file, which adds to it (an `impl Swim` block) and owns its types:
//! - `member.rs`: the membership table (member states, incarnations, SWIM's override rules,
//!   refutation, pending news, tombstones);
//! - `probe.rs`: the probe cycle (ping, ping-req, acks and nacks, suspicion timers) and
//!   Lifeguard's local health and dynamic suspicion timeout;
//! - `broadcast.rs`: dissemination, the queue of news piggybacked on probes and acks;
//! - `sync.rs`: full-state exchange (join's sync, push-pull, signed members' want);
//! - `signing.rs`: signed members' proofs, made and checked;
//! - `message.rs`: the wire messages and their validation;
//! - `config.rs`: the parameters and their ranges.
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
mod sync;

pub use node::*;
pub use spec::{Detection, Spec, SwimObserver, SwimSample};

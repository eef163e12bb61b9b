//! The round engine's test-only reference: the same rules through a per-node state machine
//! ([`node`]) moved by a lockstep driver ([`lockstep`]).

pub mod lockstep;
pub mod node;

//! The replicated key-value map: the replica ([`node`]) and its lab slice ([`spec`]: config,
//! writes, convergence and conflicts).

pub mod node;
pub mod spec;

pub use node::*;
pub use spec::{KeyAcross, KvObserver, KvSample, Spec};

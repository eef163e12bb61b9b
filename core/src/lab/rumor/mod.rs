//! Rumor dissemination in continuous time: the node ([`node`], what live mode's tabs run) and
//! its lab slice ([`spec`]: config from the options, the first rumor, and the figures of its
//! spread).

pub mod node;
pub mod spec;

pub use node::*;
pub use spec::{Infection, RumorObserver, RumorSample, Spec};

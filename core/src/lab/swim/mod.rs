//! SWIM membership and failure detection: the member ([`node`]) and its lab slice ([`spec`]:
//! config from the options, the simulator's hooks, crash detection and false positives).

pub mod node;
pub mod spec;

pub use node::*;
pub use spec::{Detection, Spec, SwimObserver, SwimSample};

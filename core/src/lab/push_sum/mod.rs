//! Push-sum aggregation: the node ([`node`]) and its lab slice ([`spec`]: config, values,
//! the error against the true aggregate and the mass left).

pub mod node;
pub mod spec;

pub use node::*;
pub use spec::{push_sum_value, PushSumObserver, PushSumSample, Spec};

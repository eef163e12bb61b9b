//! The protocol lab in the page (its own part, see `crate::part`): a run of SWIM, push-sum,
//! the key-value map or rumors over the simulated network, advanced frame by frame, with what
//! its views need.
//!
//! A run is a pure function of its settings, its scenario and the time reached (the core's
//! network is deterministic): seeking to a time, or editing the scenario, rebuilds the run and
//! replays it to that time. The page therefore never needs to undo anything, and what it shows
//! is always what `grapevine sim --protocol ...` would compute.

pub mod draw;
pub mod panels;
pub mod sim;
pub mod views;

pub use sim::{scenario_notice, LabSim, PERIOD_MS};

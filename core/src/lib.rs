//! # grapevine-core
//!
//! The protocol core of Grapevine, a gossip-protocol playground. `no_std` + `alloc`, sans-IO:
//! it reads no clock, owns no global randomness and does no IO, so the same rules run in the
//! browser page, the command-line tool, a simulated network and real peers.
//!
//! - [`rules`]: what one round is, and each protocol rule, once.
//! - [`engine`]: the round engine, a byte of hot state per node, for up to 10^8 nodes.
//! - [`bench`]: the engine's benchmark and its baseline, timed by a clock the driver passes.
//! - [`experiment`]: many seeded runs of one scenario and their summary (Monte Carlo).
//! - [`sweep`]: settings varied over lists of values, the same runs at every point, as
//!   `grapevine sweep` and the page's compare panel both write and read them.
//! - [`lab`]: SWIM, push-sum, a replicated key-value map and rumor spreading as sans-IO nodes
//!   over time, the wire format, a simulated network and scenarios as data. Its rumor node
//!   is the one rumor logic live mode's tabs run.
//! - [`auth`]: member identities (Ed25519 keys, ids derived from them) and signed statements.
//! - [`signal`]: the signaling contract between the page and `grapevine serve`.
//! - [`timeline`]: rewind: a run's past kept, any played round shown again exactly, and a
//!   change there starting a new branch.
//! - [`topology`], [`metrics`], [`theory`], [`rng`]: who talks to whom, what is counted, what
//!   theory expects, and the seeded randomness behind every draw.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod auth;
pub mod bench;
pub mod engine;
pub mod experiment;
pub mod lab;
pub mod metrics;
pub mod rng;
pub mod rules;
pub mod signal;
pub mod sweep;
pub mod theory;
pub mod timeline;
pub mod topology;

pub use engine::{NodeView, NodeWord, RoundEngine, Settings};
pub use metrics::{Counts, RoundStats, TraceHash, Traffic};
pub use rules::{Feedback, Interest, Phase, Protocol, SettingsError, StopRule, Tunables};
pub use topology::Topology;

/// Plays `settings` for at most `max_rounds` rounds (stopping when the run is finished) and
/// fingerprints every round's record. Equal on every platform for equal settings.
pub fn trace_hash(settings: Settings, max_rounds: u32) -> Result<TraceHash, SettingsError> {
    let mut engine = RoundEngine::new(settings)?;
    let mut hash = TraceHash::default();
    hash.add_round(engine.last());
    while engine.round() < max_rounds && !engine.is_finished() {
        hash.add_round(engine.step());
    }
    Ok(hash)
}

//! The round engine's benchmark, next to its baseline, with the clock passed in: the core
//! reads no clock, so the native tool (`std::time::Instant`) and the page's worker
//! (`performance.now()`) measure the very same loops.

use crate::engine::{RoundEngine, Settings};
use crate::rng::GossipRng;
use crate::rules::SettingsError;
use alloc::vec;
use core::hint::black_box;

/// Plays whole runs of `settings` (seeds 1, 2, ...) until at least `min_messages` messages
/// were sent. Returns the messages sent and the nanoseconds spent playing rounds (building
/// the graph and the node arrays is not timed). `now_ns` reads a monotonic clock.
pub fn engine(
    settings: Settings,
    min_messages: u64,
    now_ns: &mut dyn FnMut() -> f64,
) -> Result<(u64, f64), SettingsError> {
    let (mut messages, mut nanos) = (0u64, 0f64);
    let mut seed = 1;
    while messages < min_messages {
        let mut engine = RoundEngine::new(Settings { seed, ..settings })?;
        let start = now_ns();
        while !engine.is_finished() && engine.round() < crate::experiment::DEFAULT_MAX_ROUNDS {
            engine.step();
        }
        nanos += now_ns() - start;
        let sent = black_box(engine.last().total.sent);
        if sent == 0 {
            break; // Nothing to measure (a source that cannot reach anyone).
        }
        messages += sent;
        seed += 1;
    }
    Ok((messages, nanos))
}

/// The least a message costs: `ops` increments of random bytes of an `nodes`-byte array,
/// indices drawn with the engine's generator. Returns the nanoseconds spent.
pub fn baseline(nodes: u32, ops: u64, now_ns: &mut dyn FnMut() -> f64) -> f64 {
    let mut bytes = vec![0u8; nodes as usize];
    let mut rng = GossipRng::from_seed_u64(9);
    let start = now_ns();
    for _ in 0..ops {
        let i = rng.below(nodes) as usize;
        bytes[i] = bytes[i].wrapping_add(1);
    }
    let nanos = now_ns() - start;
    black_box(&bytes);
    nanos
}

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

/// What identities cost, per operation, ns: see [`signatures`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignatureCost {
    /// Signing one statement (a member's alive at an incarnation).
    pub sign_ns: f64,
    /// Verifying one proof (the key's id, then the signature, strictly).
    pub verify_ns: f64,
    /// The baseline: encoding and decoding one SWIM ping that carries one signed update,
    /// what a message costs a member anyway.
    pub message_ns: f64,
}

/// Signs and verifies `ops` statements, and encodes and decodes `ops` signed pings, timed by
/// `now_ns`. A member verifies only news new to it (a proof it already holds is not checked
/// again), so these per-operation costs bound what signatures add to each message.
pub fn signatures(ops: u32, now_ns: &mut dyn FnMut() -> f64) -> SignatureCost {
    use crate::auth::{Identity, Statement};
    use crate::lab::swim::{Incarnation, MemberState, SwimMessage, Update};
    use crate::lab::wire::{decode, encode, Message};
    let me = Identity::from_secret([42; 32]);
    let statement = |i: u32| Statement::Alive {
        member: me.id(),
        incarnation: i,
    };
    let ops = ops.max(1);
    let start = now_ns();
    let proofs: alloc::vec::Vec<_> = (0..ops).map(|i| me.sign(&statement(i))).collect();
    let sign_ns = (now_ns() - start) / f64::from(ops);
    let start = now_ns();
    let mut valid = 0u32;
    for (i, proof) in (0..ops).zip(&proofs) {
        valid += u32::from(proof.verify(me.id(), &statement(i)).is_ok());
    }
    let verify_ns = (now_ns() - start) / f64::from(ops);
    black_box(valid);
    let start = now_ns();
    for (i, proof) in (0..ops).zip(&proofs) {
        let ping = Message::Swim(SwimMessage::Ping {
            seq: i,
            updates: vec![Update {
                member: me.id(),
                incarnation: Incarnation(i),
                state: MemberState::Alive,
                from: me.id(),
                proof: Some(*proof),
            }],
        });
        let bytes = encode(&ping).unwrap_or_default();
        black_box(decode(&bytes).is_ok());
    }
    let message_ns = (now_ns() - start) / f64::from(ops);
    SignatureCost {
        sign_ns,
        verify_ns,
        message_ns,
    }
}

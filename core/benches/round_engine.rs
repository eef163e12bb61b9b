//! Round engine speed: ns per message for push, fanout 1, anti-entropy, next to a plain random
//! read-modify-write loop over an N-byte array measured in the same process (the baseline:
//! one random draw and one byte touched per operation, which is the least a message costs).
//!
//! Run: `cargo bench -p grapevine-core --bench round_engine` (release profile). Prints one line
//! per N and the ratio engine / baseline; the machine is shared and noisy, so only the ratio
//! is meant to be compared between runs.

use grapevine_core::rng::GossipRng;
use grapevine_core::{RoundEngine, Settings};
use std::hint::black_box;
use std::time::Instant;

/// Plays whole runs until at least `min_messages` messages were sent; returns (messages, ns).
fn engine(nodes: u32, min_messages: u64) -> (u64, f64) {
    let (mut messages, mut nanos, mut seed) = (0u64, 0f64, 1u64);
    while messages < min_messages {
        let mut e = RoundEngine::new(Settings {
            nodes,
            seed,
            ..Settings::default()
        })
        .unwrap();
        let start = Instant::now();
        while !e.is_finished() {
            e.step();
        }
        nanos += start.elapsed().as_nanos() as f64;
        messages += black_box(e.last().total.sent);
        seed += 1;
    }
    (messages, nanos)
}

/// `ops` random increments of bytes of an `n`-byte array, with the engine's generator.
fn baseline(nodes: u32, ops: u64) -> f64 {
    let mut bytes = vec![0u8; nodes as usize];
    let mut rng = GossipRng::from_seed_u64(9);
    let start = Instant::now();
    for _ in 0..ops {
        let i = rng.below(nodes) as usize;
        bytes[i] = bytes[i].wrapping_add(1);
    }
    let nanos = start.elapsed().as_nanos() as f64;
    black_box(&bytes);
    nanos
}

fn main() {
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    println!("push, fanout 1, no loss, anti-entropy, complete graph; runs until all informed");
    println!(
        "{:>10} {:>12} {:>14} {:>16} {:>7}",
        "N", "messages", "engine ns/msg", "baseline ns/op", "ratio"
    );
    for n in sizes {
        let (messages, engine_ns) = engine(n, 30_000_000);
        let base_ns = baseline(n, messages);
        let (e, b) = (engine_ns / messages as f64, base_ns / messages as f64);
        println!("{n:>10} {messages:>12} {e:>14.2} {b:>16.2} {:>7.2}", e / b);
    }
}

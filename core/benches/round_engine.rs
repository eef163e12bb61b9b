//! Round engine speed: ns per message for push, fanout 1, anti-entropy, next to a plain random
//! read-modify-write loop over an N-byte array measured in the same process (the baseline:
//! one random draw and one byte touched per operation, which is the least a message costs).
//!
//! Run: `cargo bench -p grapevine-core --bench round_engine [N...]` (release profile). Engine and
//! baseline are measured alternately five times each; the medians are printed with their ratio.
//! The machine is shared and noisy, so only the ratio is meant to be compared between runs.

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

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
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
    println!("medians of 5 alternating measurements of at least 20M messages each");
    println!(
        "{:>10} {:>12} {:>14} {:>16} {:>7}",
        "N", "messages", "engine ns/msg", "baseline ns/op", "ratio"
    );
    for n in sizes {
        let (mut engine_ns, mut base_ns, mut messages) = (Vec::new(), Vec::new(), 0);
        for _ in 0..5 {
            let (m, ns) = engine(n, 20_000_000);
            messages = m;
            engine_ns.push(ns / m as f64);
            base_ns.push(baseline(n, m) / m as f64);
        }
        let (e, b) = (median(&mut engine_ns), median(&mut base_ns));
        println!("{n:>10} {messages:>12} {e:>14.2} {b:>16.2} {:>7.2}", e / b);
    }
}

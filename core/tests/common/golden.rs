//! Scenarios whose trace hashes are pinned in `data/trace-hashes.txt`, checked natively
//! (`tests/determinism.rs`) and in wasm (`web/tests/browser.rs`): equal hashes on both sides
//! prove that a seed gives the same run everywhere.

use grapevine_core::{Interest, Protocol, Settings, StopRule, Topology, Tunables};

/// The pinned hashes, one `name hash` per line.
pub const EXPECTED: &str = include_str!("../data/trace-hashes.txt");

/// (name, settings, max rounds).
pub fn scenarios() -> Vec<(&'static str, Settings, u32)> {
    let base = Settings::default();
    let tunables = |fanout, loss, rule, k| Tunables {
        fanout,
        loss,
        interest: Interest::new(rule, k),
    };
    vec![
        (
            "push-complete",
            Settings {
                nodes: 5_000,
                seed: 11,
                ..base
            },
            200,
        ),
        (
            // The complete graph's lossy push, one peer each (natively its peer and fate are
            // drawn two at a time: `push_each_lossy`; in wasm, in batches).
            "push-lossy-crashed",
            Settings {
                nodes: 3_000,
                tunables: tunables(1, 0.3, StopRule::Never, 1),
                crashed: 0.1,
                seed: 13,
                ..base
            },
            200,
        ),
        (
            // Lossy with nothing crashed: natively `push_each_lossy`, in wasm `push_each`
            // with the loss read per message; with fanout 3, `push_each` in both.
            "push-lossy",
            Settings {
                nodes: 3_001,
                tunables: tunables(1, 0.8, StopRule::Never, 1),
                seed: 18,
                ..base
            },
            300,
        ),
        (
            "push-lossy-fanout-3",
            Settings {
                nodes: 3_001,
                tunables: tunables(3, 0.25, StopRule::Never, 1),
                seed: 19,
                ..base
            },
            300,
        ),
        (
            "pull-lossy-crashed",
            Settings {
                nodes: 3_000,
                protocol: Protocol::Pull,
                tunables: tunables(2, 0.2, StopRule::Never, 1),
                crashed: 0.1,
                seed: 12,
                ..base
            },
            200,
        ),
        (
            "pushpull-feedback-coin-smallworld",
            Settings {
                nodes: 4_096,
                protocol: Protocol::PushPull,
                tunables: tunables(1, 0.05, StopRule::FeedbackCoin, 2),
                topology: Topology::SmallWorld,
                seed: 13,
                ..base
            },
            300,
        ),
        (
            "push-blind-counter-scalefree",
            Settings {
                nodes: 2_000,
                tunables: tunables(3, 0.0, StopRule::BlindCounter, 3),
                topology: Topology::ScaleFree,
                seed: 14,
                ..base
            },
            300,
        ),
        (
            "push-feedback-counter-torus",
            Settings {
                nodes: 2_500,
                tunables: tunables(2, 0.1, StopRule::FeedbackCounter, 2),
                topology: Topology::Torus,
                seed: 15,
                ..base
            },
            300,
        ),
        (
            "pull-blind-coin-regular-ring",
            Settings {
                nodes: 1_000,
                protocol: Protocol::Pull,
                tunables: tunables(1, 0.0, StopRule::BlindCoin, 4),
                topology: Topology::Regular,
                seed: 16,
                ..base
            },
            300,
        ),
        (
            "push-ring",
            Settings {
                nodes: 501,
                topology: Topology::Ring,
                seed: 17,
                ..base
            },
            600,
        ),
    ]
}

/// `name hash` lines for every scenario, as computed on this platform.
pub fn computed() -> String {
    scenarios()
        .into_iter()
        .map(|(name, settings, rounds)| {
            let hash = grapevine_core::trace_hash(settings, rounds).expect("valid scenario");
            format!("{name} {:016x}\n", hash.0)
        })
        .collect()
}

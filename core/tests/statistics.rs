//! Statistical tests with fixed seeds against theory, and the round engine against the general
//! node logic. Tolerances are set from the sampling error, not tuned to pass.

mod reference;

use grapevine_core::theory::Model;
use grapevine_core::{Interest, Protocol, RoundEngine, Settings, StopRule, Topology, Tunables};
use reference::lockstep::Lockstep;

fn tunables(fanout: u8, loss: f64, rule: StopRule, k: u8) -> Tunables {
    Tunables {
        fanout,
        loss,
        interest: Interest::new(rule, k),
    }
}

fn finish(settings: Settings) -> RoundEngine {
    let mut e = RoundEngine::new(settings).unwrap();
    while !e.is_finished() {
        e.step();
    }
    e
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Mean informed fraction per round over `runs` runs, held at its final value after a run ends.
fn mean_curve(settings: Settings, runs: u64, rounds: usize) -> Vec<f64> {
    let mut curve = vec![0.0; rounds + 1];
    for seed in 0..runs {
        let e = finish(Settings { seed, ..settings });
        let h = e.history();
        for (r, x) in curve.iter_mut().enumerate() {
            let stats = h.get(r).unwrap_or(h.last().unwrap());
            *x += f64::from(stats.counts.informed()) / f64::from(settings.nodes) / runs as f64;
        }
    }
    curve
}

#[test]
fn push_and_push_pull_curves_follow_the_mean_field_recurrence() {
    let nodes = 20_000;
    for (protocol, fanout, loss, tolerance) in [
        // Push's early growth is nearly deterministic doubling: the recurrence fits closely.
        (Protocol::Push, 1, 0.0, 0.02),
        (Protocol::Push, 2, 0.2, 0.05),
        // Push-pull's first rounds are more random (the first pull hit), which smears the mean.
        (Protocol::PushPull, 1, 0.0, 0.07),
        (Protocol::PushPull, 2, 0.2, 0.05),
    ] {
        let settings = Settings {
            nodes,
            protocol,
            tunables: tunables(fanout, loss, StopRule::Never, 1),
            ..Settings::default()
        };
        let measured = mean_curve(settings, 30, 60);
        let model = Model::of(&settings, nodes);
        let theory = model.informed_fractions(60);
        let worst = measured
            .iter()
            .zip(&theory)
            .map(|(m, t)| (m - t).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < tolerance,
            "{protocol:?} f={fanout} loss={loss}: off by {worst}"
        );
    }
}

#[test]
fn rounds_to_full_match_the_recurrence_for_every_protocol() {
    let nodes = 20_000;
    for protocol in Protocol::ALL {
        for (fanout, loss) in [(1, 0.0), (2, 0.2), (3, 0.5)] {
            let s = Settings {
                nodes,
                protocol,
                tunables: tunables(fanout, loss, StopRule::Never, 1),
                ..Settings::default()
            };
            let rounds: Vec<f64> = (0..30)
                .map(|seed| f64::from(finish(Settings { seed, ..s }).round()))
                .collect();
            let (mean, _) = mean_sd(&rounds);
            let model = Model::of(&s, nodes);
            let expected = f64::from(model.expected_rounds(1_000).unwrap());
            assert!(
                (mean - expected).abs() < 1.5,
                "{protocol:?} f={fanout} loss={loss}: {mean} vs {expected}"
            );
        }
    }
}

/// Mean and standard error of (rounds, messages sent, uninformed at the end) over `runs` seeds.
fn summary(runs: u64, mut play: impl FnMut(u64) -> [f64; 3]) -> [(f64, f64); 3] {
    let samples: Vec<[f64; 3]> = (0..runs).map(&mut play).collect();
    core::array::from_fn(|i| {
        let xs: Vec<f64> = samples.iter().map(|s| s[i]).collect();
        let (mean, sd) = mean_sd(&xs);
        (mean, sd / (runs as f64).sqrt())
    })
}

#[test]
fn round_engine_matches_the_general_node_logic() {
    let base = Settings {
        nodes: 300,
        ..Settings::default()
    };
    let cases = [
        Settings {
            protocol: Protocol::Push,
            tunables: tunables(2, 0.1, StopRule::FeedbackCounter, 2),
            ..base
        },
        Settings {
            protocol: Protocol::Pull,
            tunables: tunables(1, 0.2, StopRule::Never, 1),
            crashed: 0.1,
            ..base
        },
        Settings {
            protocol: Protocol::PushPull,
            tunables: tunables(1, 0.0, StopRule::BlindCoin, 3),
            ..base
        },
        Settings {
            protocol: Protocol::PushPull,
            tunables: tunables(3, 0.3, StopRule::FeedbackCoin, 1),
            topology: Topology::SmallWorld,
            ..base
        },
        Settings {
            protocol: Protocol::Push,
            tunables: tunables(1, 0.0, StopRule::BlindCounter, 4),
            topology: Topology::ScaleFree,
            ..base
        },
    ];
    for s in cases {
        let fast = summary(300, |seed| {
            let e = finish(Settings { seed, ..s });
            [
                e.round().into(),
                e.last().total.sent as f64,
                e.counts().susceptible.into(),
            ]
        });
        let general = summary(300, |seed| {
            let mut l = Lockstep::new(Settings { seed, ..s }).unwrap();
            while !l.is_finished() {
                l.step();
            }
            [
                l.round().into(),
                l.total().sent as f64,
                l.counts().susceptible.into(),
            ]
        });
        for (what, (a, b)) in ["rounds", "messages", "residue"]
            .iter()
            .zip(fast.iter().zip(&general))
        {
            // Two independent samples: the difference of means has standard error sqrt(se1²+se2²).
            let se = (a.1 * a.1 + b.1 * b.1).sqrt().max(1e-9);
            let z = (a.0 - b.0).abs() / se;
            assert!(
                z < 4.0,
                "{s:?}\n{what}: engine {:.3} vs nodes {:.3} (z = {z:.1})",
                a.0,
                b.0
            );
        }
    }
}

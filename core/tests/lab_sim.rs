//! The lab's protocols over the simulated network: properties over random scenarios, and
//! statistical checks against the papers (docs/FIDELITY.md).

use grapevine_core::experiment::play_run;
use grapevine_core::experiment::run_seed;
use grapevine_core::lab::kv::{self, KvConfig, KvObserver};
use grapevine_core::lab::net::{Fate, LinkConfig, Network, Note, WATCH_NOTES};
use grapevine_core::lab::protocol::{LabOptions, Phases, ProtocolSpec};
use grapevine_core::lab::push_sum::{self, Aggregate, PushSumConfig};
use grapevine_core::lab::rumor::{self, RumorConfig, RumorEvent, RumorNode};
use grapevine_core::lab::run::{Lab, LabError, LabSettings};
use grapevine_core::lab::scenario::{Command, Op, Scenario, PRESETS};
use grapevine_core::lab::swim::{MemberState, ProbeOrder, SwimConfig, SwimEvent};
use grapevine_core::lab::{swim, LabProtocol, Run};
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::rng::GossipRng;
use grapevine_core::Settings;
use proptest::prelude::*;

fn settings(nodes: u32, seed: u64, scenario: &str) -> LabSettings {
    LabSettings {
        nodes,
        seed,
        link: LinkConfig::default(),
        scenario: Scenario::parse(scenario).unwrap(),
        phases: Phases::Random,
    }
}

fn swim_lab(
    s: &LabSettings,
    config: SwimConfig,
    phases: Phases,
) -> Result<Lab<swim::Spec>, LabError> {
    Lab::new(
        &LabSettings {
            phases,
            ..s.clone()
        },
        config,
    )
}

/// A whole run's figure named `name`.
fn figure<P: ProtocolSpec>(s: &LabSettings, config: P::Config, name: &str) -> Option<f64> {
    let mut run = Run::<P>::with_config(s, config).unwrap();
    run.finish().unwrap();
    let figures = run.figures();
    figures
        .iter()
        .find(|f| f.name == name)
        .expect("a figure of this protocol")
        .value
}

/// A random churn scenario over `nodes` nodes in the first 20 s: crashes, restarts, leaves
/// and joins, each node touched at most once (the same node crashed twice says nothing more).
fn churn(nodes: u32) -> impl Strategy<Value = String> {
    proptest::collection::vec((0u64..20_000, 0u8..4), 1..6).prop_map(move |ops| {
        let mut text = String::new();
        let mut used = std::collections::BTreeSet::new();
        for (k, (at, kind)) in ops.into_iter().enumerate() {
            let i = (k as u32 * 7 + 3) % nodes;
            if kind != 3 && !used.insert(i) {
                continue;
            }
            let op = match kind {
                0 => format!("crash {i}"),
                1 => format!("crash {i}\nat {}ms restart {i}", at + 3_000),
                2 => format!("leave {i}"),
                _ => "join".into(),
            };
            text.push_str(&format!("at {at}ms {op}\n"));
        }
        text.push_str("end 150s");
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// After churn stops, every live member sees every other live member alive at its
    /// current incarnation, every crashed one dead and every departed one left: the views
    /// converge and every crash is detected by everyone. With no loss or partition, nobody
    /// alive is ever declared dead.
    #[test]
    fn membership_converges_after_churn_stops(scenario in churn(12), seed in 0u64..1000) {
        let s = settings(12, seed, &scenario);
        let mut lab = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
        let events = lab.advance(lab.end()).unwrap().1;
        let net = lab.network();
        let n = net.len() as u32;
        let live = |i: u32| net.is_up(i) && !net.node(i).has_left();
        for a in (0..n).filter(|&a| live(a)) {
            for b in (0..n).filter(|&b| b != a) {
                let view = net.node(a).member(NodeId(u64::from(b)));
                let expected = if live(b) {
                    MemberState::Alive
                } else if net.is_up(b) {
                    MemberState::Left
                } else {
                    MemberState::Dead
                };
                let state = view.map(|v| v.state);
                // A node that left may be seen as dead by a member the news never reached
                // before its suspicion ran out: both mean "gone".
                let gone = matches!(state, Some(MemberState::Left | MemberState::Dead));
                prop_assert!(
                    state == Some(expected) || (expected == MemberState::Left && gone),
                    "{a} sees {b} as {state:?}, expected {expected:?} ({scenario})"
                );
                if live(b) {
                    prop_assert_eq!(view.unwrap().incarnation, net.node(b).incarnation());
                }
            }
        }
        for (at, observer, event) in events {
            if let SwimEvent::Member { member, state: MemberState::Dead, incarnation } = event {
                let m = member.0 as u32;
                prop_assert!(
                    !lab.was_live(m, at, incarnation.0),
                    "{observer} declared {m} dead at {at:?} while it ran ({scenario})"
                );
            }
        }
    }

    /// What a member lists by state (`holding`, `iter_unwell`, `lists_all_below`: the
    /// indexes the views and the samples read instead of scanning every member) agrees with a
    /// scan of its list at every moment, through crashes, leaves, joins and forgetting.
    #[test]
    fn member_indexes_agree_with_a_scan(scenario in churn(12), seed in 0u64..1000) {
        let s = settings(12, seed, &scenario);
        let config = SwimConfig { forget_after_ms: Some(8_000), ..SwimConfig::default() };
        let mut lab = swim_lab(&s, config, Phases::Random).unwrap();
        while lab.now() < lab.end() {
            let next = lab.now().after(1_700).min(lab.end());
            lab.advance(next).unwrap();
            let net = lab.network();
            let n = net.len() as u32;
            for i in 0..n {
                let node = net.node(i);
                let members: Vec<_> = node.iter_members().collect();
                for state in [MemberState::Alive, MemberState::Suspect, MemberState::Dead, MemberState::Left] {
                    let scanned = members.iter().filter(|(_, v)| v.state == state).count() as u32;
                    prop_assert_eq!(node.holding(state), scanned, "node {} holding {:?} at {:?} ({})", i, state, lab.now(), &scenario);
                }
                let unwell: Vec<_> = members.iter().copied().filter(|(_, v)| v.state != MemberState::Alive).collect();
                prop_assert_eq!(node.iter_unwell().collect::<Vec<_>>(), unwell, "node {} at {:?} ({})", i, lab.now(), &scenario);
                let all = members.len() as u32 + 1 == n && members.iter().all(|(m, _)| m.0 < u64::from(n) && m.0 != u64::from(i));
                prop_assert_eq!(node.lists_all_below(n), all, "node {} at {:?} ({})", i, lab.now(), &scenario);
            }
        }
    }

    /// Push-sum with no loss: the sum of values and of weights never changes (messages in
    /// flight included), whatever the timing.
    #[test]
    fn push_sum_conserves_mass_without_loss(seed in 0u64..1000, nodes in 2u32..40) {
        let s = settings(nodes, seed, "end 20s");
        let mass = figure::<push_sum::Spec>(&s, PushSumConfig::default(), "mass_remaining").unwrap();
        prop_assert!((mass - 1.0).abs() < 1e-9, "{}", mass);
    }

    /// Key-value replicas written on both sides of a partition agree after it heals.
    #[test]
    fn kv_replicas_converge_after_the_partition_heals(seed in 0u64..1000, nodes in 4u32..30) {
        let text = format!(
            "at 1s split 2\nat 2s set 0 a 1\nat 2s set {} a 2\nat 3s set 1 b x\nat 5s heal\nend 60s",
            nodes - 1
        );
        let s = settings(nodes, seed, &text);
        let mut lab = Lab::<kv::Spec>::new(&s, KvConfig::default()).unwrap();
        lab.advance(Millis(4_900)).unwrap();
        prop_assert!(!KvObserver::converged(&lab), "converged across a partition");
        lab.advance(lab.end()).unwrap();
        prop_assert!(KvObserver::converged(&lab));
        let node = lab.network().node(nodes / 2);
        prop_assert_eq!(node.siblings("a").len(), 2, "concurrent writes are both kept");
    }
}

/// Same seed, same trace: events, their times and the network's counters.
#[test]
fn same_seed_same_trace() {
    let trace = |seed| {
        let s = settings(
            20,
            seed,
            "at 3s crash 4\nat 4s loss 0.1\nat 8s restart 4\nend 30s",
        );
        let mut lab = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
        let events = lab.advance(lab.end()).unwrap().1;
        (format!("{events:?}"), lab.network().stats())
    };
    assert_eq!(trace(5), trace(5));
    assert_ne!(trace(5).0, trace(6).0);
}

/// With random probe targets and periods in step, the expected time from a crash to its
/// first detection is 1 / (1 - (1 - 1/(n-1))^(n-1)) periods (SWIM, section 3.1: each of the
/// n - 1 live members picks the crashed one with probability 1/(n-1) per period; the paper's
/// 1/(1 - e^{-q_f}) is its limit). The crash comes just as the probes of period 10 go out.
#[test]
fn swim_first_detection_matches_the_paper() {
    let n = 50u32;
    let runs = 300;
    let config = SwimConfig {
        probe_order: ProbeOrder::Random,
        ..SwimConfig::default()
    };
    let times: Vec<f64> = (0..runs)
        .map(|i| {
            let s = settings(n, run_seed(1987, i), "at 10s crash 7\nend 30s");
            let s = LabSettings {
                phases: Phases::Aligned,
                ..s
            };
            figure::<swim::Spec>(&s, config, "first_detection_periods").expect("detected")
        })
        .collect();
    let mean = times.iter().sum::<f64>() / runs as f64;
    let sd = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (runs as f64 - 1.0)).sqrt();
    let m = f64::from(n - 1);
    let expected = 1.0 / (1.0 - (1.0 - 1.0 / m).powf(m));
    let tolerance = 4.0 * sd / (runs as f64).sqrt();
    println!("first detection: {mean:.3} periods (sd {sd:.3}), expected {expected:.3}");
    assert!(
        (mean - expected).abs() < tolerance,
        "mean {mean:.3} periods, expected {expected:.3} ± {tolerance:.3}"
    );
}

/// The same figure as the command line and the page measure it: round-robin probes (section
/// 4.3, the default) and each member's periods at its own phase. The paper's 1.57 periods
/// does not hold there; the core's model (`theory::swim_first_detection_periods`, which the
/// sweeps' plots draw, reached through the registry's `expected`) does. Ten members, where
/// the model and the paper differ most (1.90 against 1.57).
#[test]
fn swim_first_detection_with_spread_phases_matches_the_round_robin_model() {
    let n = 10u32;
    let runs = 3_000;
    let scenario = "at 10s crash 7\nend 30s";
    let options = LabOptions::default();
    let swim = LabProtocol::from_name("swim").unwrap();
    let expected = swim
        .expected(
            "first_detection_periods",
            &settings(n, 1, scenario),
            &options,
        )
        .expect("a model for one crash");
    let config = <swim::Spec as ProtocolSpec>::config(&options).unwrap();
    assert_eq!(config.probe_order, ProbeOrder::RoundRobin);
    let times: Vec<f64> = (0..runs)
        .map(|i| {
            let s = settings(n, run_seed(2002, i), scenario);
            figure::<swim::Spec>(&s, config, "first_detection_periods").expect("detected")
        })
        .collect();
    let mean = times.iter().sum::<f64>() / runs as f64;
    let sd = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (runs as f64 - 1.0)).sqrt();
    let tolerance = 4.0 * sd / (runs as f64).sqrt();
    println!("first detection, round robin, spread phases: {mean:.3} periods (sd {sd:.3}), model {expected:.3}");
    assert!(
        (mean - expected).abs() < tolerance,
        "mean {mean:.3} periods, the model's {expected:.3} ± {tolerance:.3}"
    );
    // Where the model does not fit (another step than the crash), there is no theory.
    // Nor where the run may end before every member could have probed the crashed one.
    let short = settings(n, 1, "at 10s crash 7\nend 25s");
    assert_eq!(
        swim.expected("first_detection_periods", &short, &options),
        None
    );
    let two = settings(n, 1, "at 10s crash 7\nat 12s split 2\nend 30s");
    assert_eq!(
        swim.expected("first_detection_periods", &two, &options),
        None
    );
    assert_eq!(
        swim.expected("false_positives", &settings(n, 1, scenario), &options),
        None
    );
}

/// Kempe et al.'s potential argument: the potential (sum of squared deviations of the
/// contributions) at least halves per round in expectation, so the relative error falls by
/// at least √2 a round, and from 10^-3 to 10^-6 takes at most log_√2(1000) ≈ 19.9 rounds on
/// average. Measured decay must be at least that fast.
#[test]
fn push_sum_error_decays_at_least_as_fast_as_kempes_bound() {
    let runs = 40;
    let mut spans = Vec::new();
    for i in 0..runs {
        let s = settings(200, run_seed(2003, i), "end 80s");
        let config = PushSumConfig {
            interval_ms: 1_000,
            aggregate: Aggregate::Average,
        };
        let at = |name| figure::<push_sum::Spec>(&s, config, name).unwrap();
        spans.push(at("rounds_to_error_1e6") - at("rounds_to_error_1e3"));
    }
    let mean = spans.iter().sum::<f64>() / runs as f64;
    let bound = 1000f64.ln() / 2f64.sqrt().ln();
    println!("push-sum: 10^-3 to 10^-6 in {mean:.2} rounds, bound {bound:.2}");
    assert!(
        mean <= bound,
        "10^-3 to 10^-6 took {mean:.1} rounds, bound {bound:.1}"
    );
}

/// Push-sum with loss loses mass (what it costs, shown rather than hidden).
#[test]
fn push_sum_loses_mass_to_loss() {
    let s = LabSettings {
        link: LinkConfig {
            loss: 0.1,
            ..LinkConfig::default()
        },
        ..settings(50, 3, "end 20s")
    };
    let mass = figure::<push_sum::Spec>(&s, PushSumConfig::default(), "mass_remaining").unwrap();
    assert!(mass < 0.5, "mass {mass}");
}

/// A node whose messages take 3 s each way is suspected; its refutation needs 6 s, longer
/// than plain SWIM's suspicion (4·log10(20) periods = 5.2 s): declared dead though alive.
/// Lifeguard's suspicion starts 6 times longer and lets the refutation arrive first.
#[test]
fn lifeguard_reduces_false_positives_from_a_slow_node() {
    let total = |lifeguard: bool| {
        (0..8)
            .map(|i| {
                let s = settings(20, run_seed(18, i), "at 5s slow 0 3000\nend 120s");
                let config = SwimConfig {
                    lifeguard: lifeguard.then(Default::default),
                    ..SwimConfig::default()
                };
                figure::<swim::Spec>(&s, config, "false_positives").unwrap() as u32
            })
            .sum::<u32>()
    };
    let (plain, lifeguard) = (total(false), total(true));
    println!("false positives over 8 runs: plain {plain}, Lifeguard {lifeguard}");
    assert!(plain > 0, "a 3 s node must be declared dead in plain SWIM");
    assert!(lifeguard < plain, "Lifeguard {lifeguard} vs plain {plain}");
}

#[test]
fn scenario_operations_refuse_missing_nodes() {
    let s = settings(5, 1, "at 1s crash 5");
    assert!(swim_lab(&s, SwimConfig::default(), Phases::Random).is_err());
    let s = settings(5, 1, "at 1s join\nat 2s crash 5");
    assert!(swim_lab(&s, SwimConfig::default(), Phases::Random).is_ok());
}

/// Any operation, with node indices below 8.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..8).prop_map(Op::Crash),
        (0u32..8).prop_map(Op::Restart),
        Just(Op::Join),
        (0u32..8).prop_map(Op::Leave),
        (2u16..=64).prop_map(Op::Split),
        Just(Op::Heal),
        (0.0f64..=1.0).prop_map(Op::Loss),
        (0.0f64..=1.0).prop_map(Op::Duplicate),
        (0u32..=60_000, 0u32..=60_000, 0u32..=60_000).prop_map(|(l, j, s)| Op::Latency(l, j, s)),
        (0u32..8, 0u32..=60_000).prop_map(|(i, ms)| Op::Slow(i, ms)),
        // A protocol's own operation: any verb but the scenario's own, any words.
        (
            prop_oneof![Just("set"), Just("value"), Just("rumor"), Just("future-op")],
            0u32..8,
            "([a-z0-9_.-]{1,8}( [a-z0-9_.-]{1,8}){0,3})?"
        )
            .prop_map(|(verb, i, words)| Op::Command(Command::new(verb, i, &words))),
    ]
}

proptest! {
    /// The text form written by `to_text` reads back to the same scenario (the page keeps
    /// scenarios in its URL as text).
    #[test]
    fn scenario_text_round_trips(
        mut steps in proptest::collection::vec((0u64..100_000, op()), 0..12),
        extra in 0u64..50_000,
    ) {
        steps.sort_by_key(|s| s.0);
        let end_ms = steps.last().map_or(0, |s| s.0) + extra;
        let scenario = Scenario { steps, end_ms };
        prop_assert_eq!(Scenario::parse(&scenario.to_text()), Ok(scenario));
    }
}

#[test]
fn every_preset_round_trips_through_its_text() {
    for (name, _, text) in PRESETS {
        let scenario = Scenario::parse(text).unwrap();
        assert_eq!(Scenario::parse(&scenario.to_text()), Ok(scenario), "{name}");
    }
}

/// The page advances a run frame by frame; the command line in one go. Both must give the
/// same run.
#[test]
fn advancing_in_small_steps_gives_the_same_run_as_one_jump() {
    let s = settings(30, 7, "at 2s crash 3\nat 5s split 2\nat 9s heal\nend 20s");
    let mut jump = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
    let all = jump.advance(jump.end()).unwrap().1;
    let mut steps = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
    let mut pieces = Vec::new();
    for t in (0..=20_000).step_by(137).chain([20_000]) {
        pieces.extend(steps.advance(Millis(t)).unwrap().1);
    }
    assert_eq!(format!("{all:?}"), format!("{pieces:?}"));
    assert_eq!(jump.network().stats(), steps.network().stats());
}

/// The inspector's log holds the watched node's messages only, both ways, the newest last.
#[test]
fn the_watch_notes_only_the_watched_nodes_messages() {
    let s = settings(10, 3, "at 3s loss 0.3\nend 10s");
    let mut lab = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
    lab.watch(Some(4));
    lab.advance(lab.end()).unwrap();
    let notes: Vec<Note> = lab.network().notes().copied().collect();
    assert_eq!(notes.len(), WATCH_NOTES);
    assert!(notes.iter().all(|n| n.from == 4 || n.to == 4));
    assert!(notes.windows(2).all(|w| w[0].at <= w[1].at));
    for fate in [Fate::Sent, Fate::Lost, Fate::Received] {
        assert!(notes.iter().any(|n| n.fate == fate), "{fate:?}");
    }
    assert!(notes.iter().any(|n| n.kind == "ping") && notes.iter().any(|n| n.kind == "ack"));
    lab.watch(None);
    assert_eq!(lab.network().notes().len(), 0);
}

/// Time (in intervals) until every node knows a rumor node 0 starts at 1 s, for each seed.
fn rumor_times_to_all(
    nodes: u32,
    config: RumorConfig,
    seeds: impl Iterator<Item = u64>,
) -> Vec<f64> {
    seeds
        .map(|seed| {
            let s = settings(nodes, seed, "at 1s rumor 0 hello\nend 120s");
            let mut lab = Lab::<rumor::Spec>::new(&s, config).unwrap();
            let mut informed = std::collections::BTreeSet::new();
            let mut last = Millis(0);
            for (at, who, event) in lab.advance(lab.end()).unwrap().1 {
                if let RumorEvent::Learned { .. } = event {
                    informed.insert(who);
                    last = last.max(at);
                }
            }
            assert_eq!(
                informed.len() as u32,
                nodes,
                "seed {seed}: the rumor reached everyone"
            );
            last.since(Millis(1_000)) as f64 / f64::from(config.interval_ms)
        })
        .collect()
}

/// The same rule, push to one random peer per interval, in continuous time (each node on its
/// own phase, latency 10-15 ms) and in the round engine's synchronous rounds. Asynchrony helps:
/// a newly informed node pushes after half an interval on average instead of a whole round, so
/// the growth phase takes about ln n intervals instead of log2 n rounds (the end phase, ln n,
/// is the same): about 2 ln n = 10.6 against log2 n + ln n = 12.9 for n = 200. The test holds
/// that continuous time is faster by more than four standard errors of the difference.
#[test]
fn rumor_push_in_continuous_time_vs_the_round_engine() {
    let n = 200;
    let runs = 60;
    let lab = rumor_times_to_all(
        n,
        RumorConfig::default(),
        (0..runs).map(|i| run_seed(11, i)),
    );
    let engine: Vec<f64> = (0..runs)
        .map(|i| {
            let settings = Settings {
                nodes: n,
                seed: 11,
                ..Settings::default()
            };
            f64::from(
                play_run(settings, i, 1_000)
                    .unwrap()
                    .figures
                    .rounds_to_full
                    .unwrap(),
            )
        })
        .collect();
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let sd = |xs: &[f64]| {
        let m = mean(xs);
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
    };
    println!("push fanout 1, n = {n}: continuous time {:.2} intervals (sd {:.2}), rounds {:.2} (sd {:.2})", mean(&lab), sd(&lab), mean(&engine), sd(&engine));
    let se = ((sd(&lab).powi(2) + sd(&engine).powi(2)) / f64::from(runs)).sqrt();
    assert!(
        mean(&lab) + 4.0 * se < mean(&engine),
        "continuous {:.2} vs rounds {:.2} (se {se:.2})",
        mean(&lab),
        mean(&engine)
    );
}

/// Links differ when asked to: each pair has its own fixed extra delay, the same both ways and
/// the same for every message; with no spread every pair is alike.
#[test]
fn each_link_has_its_own_delay_with_a_spread() {
    let net = |spread_ms| {
        let link = LinkConfig {
            spread_ms,
            ..LinkConfig::default()
        };
        Network::<RumorNode>::new(link, GossipRng::from_seed_u64(5))
    };
    let flat = net(0);
    assert!((0..50).all(|b| flat.link_extra_ms(0, b) == 0));
    let spread = net(100);
    let extras: Vec<u64> = (1..200).map(|b| spread.link_extra_ms(0, b)).collect();
    assert!(extras.iter().all(|&e| e <= 100));
    assert_eq!(spread.link_extra_ms(3, 9), spread.link_extra_ms(9, 3));
    let mean = extras.iter().sum::<u64>() as f64 / extras.len() as f64;
    // Uniform on 0..=100: mean 50, sd 29; four standard errors over 199 pairs is 8.2.
    assert!((mean - 50.0).abs() < 8.2, "mean extra {mean}");
    assert!(
        extras
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 50
    );
}

/// The one rumor logic the tabs run against the round engine, in the limit where they must
/// agree: every node's interval aligned (all rounds at the same instants), latency 1 ms and
/// no jitter (far below the 1 s interval, so every message of a round arrives before the next
/// round starts) and feedback judged on arrival in both. Then an interval is a synchronous
/// round: rounds until everyone knows, and the share never told, agree within four standard
/// errors of the difference, for push and pull, blind and feedback stop rules, fanout 1 and 2.
#[test]
fn rumor_node_in_aligned_rounds_matches_the_round_engine() {
    use grapevine_core::rules::{Feedback, Interest, Protocol, StopRule};
    use grapevine_core::Tunables;
    let n = 200u32;
    let runs = 80u32;
    let cases = [
        (Protocol::Push, 1, StopRule::Never, 1),
        (Protocol::Push, 2, StopRule::FeedbackCounter, 2),
        (Protocol::Pull, 1, StopRule::Never, 1),
        (Protocol::Push, 1, StopRule::BlindCoin, 3),
    ];
    let mean_se = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        (m, (var / xs.len() as f64).sqrt())
    };
    for (mode, fanout, rule, k) in cases {
        let interest = Interest {
            feedback: Feedback::Arrival,
            ..Interest::new(rule, k)
        };
        let config = RumorConfig {
            interval_ms: 1_000,
            protocol: mode,
            fanout,
            interest,
        };
        let (mut lab_rounds, mut lab_residue) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let s = LabSettings {
                link: LinkConfig {
                    latency_ms: 1,
                    jitter_ms: 0,
                    ..LinkConfig::default()
                },
                phases: Phases::Aligned,
                ..settings(n, run_seed(5, i), "end 60s")
            };
            let mut run = Run::<rumor::Spec>::with_config(&s, config).unwrap();
            run.finish().unwrap();
            let f = run.figures();
            // The last node hears it a millisecond or two into the interval after its round.
            if let Some(intervals) = f[0].value {
                lab_rounds.push(intervals.round());
            }
            lab_residue.push(f[1].value.unwrap());
        }
        let (mut engine_rounds, mut engine_residue) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let settings = Settings {
                nodes: n,
                seed: 5,
                protocol: mode,
                tunables: Tunables {
                    fanout,
                    loss: 0.0,
                    interest,
                },
                ..Settings::default()
            };
            let f = play_run(settings, i, 1_000).unwrap().figures;
            if let Some(r) = f.rounds_to_full {
                engine_rounds.push(f64::from(r));
            }
            engine_residue.push(f.residue);
        }
        // Runs that told everyone: a share, compared like the other means.
        let told = |rounds: &[f64]| -> Vec<f64> {
            (0..runs as usize)
                .map(|i| f64::from(u8::from(i < rounds.len())))
                .collect()
        };
        let (lab_told, engine_told) = (told(&lab_rounds), told(&engine_rounds));
        let mut figures = vec![
            ("residue", &lab_residue, &engine_residue),
            ("runs that told everyone", &lab_told, &engine_told),
        ];
        // Rounds over the runs that told everyone, when both have enough of them.
        if lab_rounds.len().min(engine_rounds.len()) >= 20 {
            figures.push(("rounds", &lab_rounds, &engine_rounds));
        }
        for (what, a, b) in figures {
            let ((ma, sa), (mb, sb)) = (mean_se(a), mean_se(b));
            let se = (sa * sa + sb * sb).sqrt().max(1e-9);
            println!("{mode:?} fanout {fanout} {rule:?} k {k}: {what} node {ma:.3} vs engine {mb:.3} (se {se:.3})");
            assert!(
                (ma - mb).abs() < 4.0 * se,
                "{mode:?} fanout {fanout} {rule:?} k {k}: {what} node {ma:.3} vs engine {mb:.3} (se {se:.3})"
            );
        }
    }
}

/// A protocol's own operations are read and checked by that protocol; another registered
/// protocol's are ignored (a scenario may serve several); a verb no protocol takes is refused,
/// with its step.
#[test]
fn scenario_operations_are_checked_by_the_protocol_that_takes_them() {
    use grapevine_core::lab::LabProtocol;
    let check = |protocol: &str, text: &str| {
        let scenario = Scenario::parse(text).expect("reads");
        LabProtocol::from_name(protocol)
            .unwrap()
            .check(&scenario, 10)
            .map_err(|e| e.to_string())
    };
    assert_eq!(check("kv", "at 1s set 0 color red"), Ok(()));
    assert_eq!(check("swim", "at 1s set 0 color red"), Ok(()));
    assert_eq!(check("push-sum", "at 1s value 3 -2.5"), Ok(()));
    assert_eq!(check("rumor", "at 1s rumor 2 hello world"), Ok(()));
    let refused = [
        ("kv", "at 1s set 0 color", "set needs a key and a value"),
        ("push-sum", "at 1s value 0 lots", "not a finite number"),
        (
            "rumor",
            "at 1s heal\nat 2s rumor 0",
            "step 2: rumor needs a text",
        ),
        (
            "swim",
            "at 1s explode 1",
            "step 1: unknown operation `explode`",
        ),
        ("kv", "at 1s set 12 color red", "node 12 does not exist"),
    ];
    let long_key = format!("at 1s set 0 {} red", "k".repeat(65));
    let refused = refused
        .into_iter()
        .map(|(p, t, w)| (p, t.to_string(), w))
        .chain([("kv", long_key, "key must be 1 to 64 bytes")]);
    for (protocol, text, why) in refused {
        let text = text.as_str();
        let error = check(protocol, text).unwrap_err();
        assert!(error.contains(why), "{protocol} {text:?}: {error}");
    }
    // A run refuses what the check refuses, and plays another protocol's operation as nothing.
    let options = grapevine_core::lab::LabOptions::default();
    let start = |protocol: &str, text: &str| {
        LabProtocol::from_name(protocol)
            .unwrap()
            .start(&settings(10, 1, text), &options)
            .map(|_| ())
    };
    assert!(start("swim", "at 1s explode 1\nend 5s").is_err());
    assert!(start("swim", "at 1s set 0 color red\nend 5s").is_ok());
}

/// Gossip keeps no order: two rumors started together reach nodes in different orders, so
/// the share that heard the first one first is strictly between 0 and 1 and changes with the
/// seed; with one rumor there is no such figure.
#[test]
fn two_rumors_started_together_reach_nodes_in_different_orders() {
    let config = RumorConfig {
        interval_ms: 1_000,
        ..RumorConfig::default()
    };
    let shares: Vec<f64> = (1..=8)
        .map(|seed| {
            let s = settings(40, seed, "at 0s rumor 0 red\nat 0s rumor 1 blue\nend 30s");
            figure::<rumor::Spec>(&s, config, "first_heard_first")
                .expect("both rumors reached nodes")
        })
        .collect();
    assert!(
        shares.iter().all(|&s| s > 0.0 && s < 1.0),
        "each order at some node: {shares:?}"
    );
    assert!(
        shares.windows(2).any(|w| w[0] != w[1]),
        "the order differs from seed to seed: {shares:?}"
    );
    let one = settings(40, 1, "at 0s rumor 0 red\nend 30s");
    assert_eq!(
        figure::<rumor::Spec>(&one, config, "first_heard_first"),
        None
    );
}

/// The traffic record, which the lab's pictures of small networks draw, holds every message
/// with its true fate (it agrees with the network's own counters, message for message), a
/// probe and its answer read as initiative and reply, a crash's suspicion rides on the
/// probes, and recording changes nothing in the run.
#[test]
fn the_traffic_record_holds_every_message_with_its_fate() {
    use grapevine_core::lab::net::TRAFFIC_FLIGHTS;
    use grapevine_core::lab::role::{Alarm, Role};
    let s = settings(
        12,
        5,
        "at 1500ms loss 0.2\nat 3s crash 5\nat 8s split 2\nend 12s",
    );
    let mut lab = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
    lab.record_traffic(true);
    lab.advance(lab.end()).unwrap();
    let mut quiet = swim_lab(&s, SwimConfig::default(), Phases::Random).unwrap();
    quiet.advance(quiet.end()).unwrap();
    let stats = lab.network().stats();
    assert_eq!(stats, quiet.network().stats(), "recording changed the run");

    let flights: Vec<_> = lab.network().traffic_since(Millis(0)).copied().collect();
    assert!(
        flights.len() < TRAFFIC_FLIGHTS,
        "the test needs the whole run recorded"
    );
    let count = |fate| flights.iter().filter(|f| f.fate == fate).count() as u64;
    assert_eq!(flights.len() as u64, stats.sent);
    assert_eq!(count(Fate::Lost), stats.lost);
    assert_eq!(count(Fate::Received), stats.delivered);
    assert_eq!(count(Fate::DeadLetter), stats.dead_letters);
    assert_eq!(count(Fate::Partitioned), stats.partitioned);
    assert!(
        stats.lost > 0 && stats.dead_letters > 0 && stats.partitioned > 0,
        "{stats:?}"
    );
    assert!(flights.windows(2).all(|w| w[0].sent <= w[1].sent));

    // Each member probes one member per period: before loss and the crash, twelve pings a
    // period (lost probes then add the intermediaries' pings of indirect probes).
    let pings = |from: u64| {
        lab.network()
            .traffic_since(Millis(from))
            .filter(|f| f.sent < Millis(from + 1000) && f.kind == "ping")
            .count()
    };
    assert_eq!(pings(1000), 12);
    let roles = |kind| {
        flights
            .iter()
            .filter(move |f| f.kind == kind)
            .map(|f| f.role)
    };
    assert!(roles("ping")
        .chain(roles("ping-req"))
        .all(|r| r == Role::Initiative));
    assert!(roles("ack").all(|r| r == Role::Reply));
    let alarm = |state| flights.iter().filter(|f| f.alarm == Some(state)).count();
    assert_eq!(
        flights
            .iter()
            .filter(|f| f.sent < Millis(3000) && f.alarm.is_some())
            .count(),
        0,
        "no alarm before the crash"
    );
    assert!(alarm(Alarm::Suspicion) > 0 && alarm(Alarm::Death) > 0);
    lab.record_traffic(false);
    assert_eq!(lab.network().traffic_since(Millis(0)).count(), 0);
}

/// A healed split: the paper's SWIM never takes the other side back (nothing probes a member
/// declared dead), and memberlist's push-pull, which also goes to the dead, makes every
/// list whole again: `heal_periods` is `None` without it and a number of periods with it,
/// for every seed tried, well inside the 50 s the preset leaves after the heal.
#[test]
fn push_pull_heals_a_split_and_plain_swim_does_not() {
    assert!(swim::Spec::INFO.figures.contains(&"heal_periods"));
    let text = grapevine_core::lab::scenario::preset("split-brain").unwrap();
    for seed in 0..5 {
        let s = settings(20, seed, text);
        let plain = SwimConfig::for_period(1_000, false, false);
        assert_eq!(
            figure::<swim::Spec>(&s, plain, "heal_periods"),
            None,
            "seed {seed}"
        );
        let synced = SwimConfig::for_period(1_000, false, true);
        let heal = figure::<swim::Spec>(&s, synced, "heal_periods");
        assert!(
            heal.is_some_and(|p| p > 0.0 && p < 50.0),
            "seed {seed}: with push-pull every {} periods the split should heal within the 50 s after it: {heal:?}",
            swim::PUSH_PULL_PERIODS
        );
    }
}

/// Last-writer-wins against vector clocks: with node 3's clock 15 s behind, its write made
/// after it had the other's is the later one (vector clocks keep it alone), yet last-writer-
/// wins reads the older one everywhere: one dropped write, for every seed tried. Two writes
/// at the same moment (`concurrent-writes`) are concurrent instead: a conflict, none dropped.
#[test]
fn a_clock_behind_makes_last_writer_wins_drop_the_later_write() {
    let skewed = grapevine_core::lab::scenario::preset("skewed-clock").unwrap();
    let concurrent = grapevine_core::lab::scenario::preset("concurrent-writes").unwrap();
    for seed in 0..5 {
        let run = |text: &str, name: &str| {
            figure::<kv::Spec>(&settings(20, seed, text), KvConfig::default(), name)
        };
        assert_eq!(run(skewed, "lww_dropped_writes"), Some(1.0), "seed {seed}");
        assert_eq!(run(skewed, "conflicting_keys"), Some(0.0), "seed {seed}");
        assert_eq!(
            run(concurrent, "lww_dropped_writes"),
            Some(0.0),
            "seed {seed}"
        );
        // The same writes with a true clock: nothing dropped.
        let honest = skewed.replace("at 0s skew 3 -15000\n", "");
        assert_eq!(run(&honest, "lww_dropped_writes"), Some(0.0), "seed {seed}");
    }
    let bad = Scenario::parse("at 0s skew 3 soon\nend 5s").unwrap();
    let kv = grapevine_core::lab::LabProtocol::from_name("kv").unwrap();
    let refused = kv.check(&bad, 5).err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("skew takes one number")),
        "a skew that is not a number is refused with the reason: {refused:?}"
    );
}

//! Behaviour of the round engine: the rules of a round, live changes, faults, invariants.

use grapevine_core::metrics::{Fate, MessageKind};
use grapevine_core::{
    Interest, NodeView, NodeWord, Phase, Protocol, RoundEngine, Settings, StopRule, Topology,
    Tunables,
};
use proptest::prelude::*;

fn tunables(fanout: u8, loss: f64, rule: StopRule, k: u8) -> Tunables {
    Tunables {
        fanout,
        loss,
        interest: Interest::new(rule, k),
    }
}

#[test]
fn push_informs_everyone_and_every_spreader_sends_fanout_messages_a_round() {
    let mut e = RoundEngine::new(Settings {
        nodes: 10_000,
        tunables: tunables(2, 0.0, StopRule::Never, 1),
        ..Settings::default()
    })
    .unwrap();
    while !e.is_finished() {
        let spreaders = e.counts().spreading;
        let stats = *e.step();
        assert_eq!(stats.traffic.sent, 2 * u64::from(spreaders));
        assert_eq!(
            stats.traffic.sent,
            stats.traffic.informed + stats.traffic.redundant
        );
    }
    assert_eq!(e.counts().informed(), 10_000);
}

#[test]
fn every_loop_gives_the_same_run() {
    // Three loops push: on one bit per node (nothing recorded, every rule judged at the
    // round's start; on the complete graph with one lossless message each, per rule), drawn ahead (recording arrows, and every stop rule but the feedback
    // coin) and message by message (a steered round, and the feedback coin). A round steered
    // from a crashed node steers nothing, so it runs the message-by-message loop with the
    // very same draws. Pulls have two loops: on bits (nothing recorded, no loss, no stop
    // rule) and request by request.
    use Protocol::{Pull, Push, PushPull};
    use StopRule::*;
    let cases = [
        (Push, 1, 0.0, 0.0, Never, Topology::Complete),
        (Push, 3, 0.0, 0.0, Never, Topology::Complete),
        (PushPull, 2, 0.0, 0.0, Never, Topology::Complete),
        (Push, 1, 0.0, 0.1, Never, Topology::Torus),
        (Push, 1, 0.2, 0.0, Never, Topology::Complete),
        (Push, 1, 0.1, 0.2, Never, Topology::Complete),
        (Push, 1, 0.0, 0.3, Never, Topology::Complete),
        (Push, 2, 0.2, 0.1, Never, Topology::Complete),
        (Push, 1, 0.1, 0.1, Never, Topology::Ring),
        // The lattices' own loop (a word of pushers at a time), against the others.
        (Push, 1, 0.0, 0.0, Never, Topology::Ring),
        (Push, 1, 0.0, 0.0, Never, Topology::Torus),
        // A dense round's one loop on a graph of lists, plain and not.
        (Push, 1, 0.0, 0.0, Never, Topology::Regular),
        (Push, 1, 0.0, 0.0, Never, Topology::ScaleFree),
        (Push, 2, 0.1, 0.1, Never, Topology::SmallWorld),
        (Push, 1, 0.1, 0.1, BlindCoin, Topology::Complete),
        (Push, 2, 0.1, 0.0, BlindCounter, Topology::Torus),
        (PushPull, 1, 0.1, 0.1, FeedbackCounter, Topology::Complete),
        (Push, 2, 0.1, 0.1, FeedbackCoin, Topology::SmallWorld),
        (Push, 1, 0.0, 0.0, FeedbackCoin, Topology::Complete),
        (Push, 1, 0.0, 0.0, FeedbackCounter, Topology::Complete),
        (Push, 1, 0.0, 0.0, BlindCounter, Topology::Complete),
        (Push, 1, 0.0, 0.0, BlindCoin, Topology::Complete),
        (Push, 3, 0.2, 0.1, FeedbackCounter, Topology::Complete),
        (Push, 1, 0.0, 0.0, FeedbackCounter, Topology::ScaleFree),
        (Pull, 1, 0.0, 0.0, Never, Topology::Complete),
        (Pull, 3, 0.1, 0.0, Never, Topology::Regular),
        (Pull, 2, 0.0, 0.0, Never, Topology::Torus),
        (PushPull, 1, 0.1, 0.0, Never, Topology::Complete),
        (PushPull, 4, 0.0, 0.0, Never, Topology::SmallWorld),
    ];
    for (protocol, fanout, crashed, loss, rule, topology) in cases {
        let s = Settings {
            // Not a multiple of 64: the last word of the bit sets is partial.
            nodes: 30_001,
            protocol,
            tunables: tunables(fanout, loss, rule, 2),
            topology,
            crashed,
            seed: 8,
            ..Settings::default()
        };
        let case = format!(
            "{protocol:?} fanout {fanout} crashed {crashed} loss {loss} {rule:?} {topology:?}"
        );
        let mut bits = RoundEngine::new(s).unwrap();
        let mut recorded = RoundEngine::new(s).unwrap();
        recorded.set_arrow_cap(1);
        // The bit loops again, marking the node bytes as they go (as the page's engine does).
        let mut kept = RoundEngine::new(s).unwrap();
        kept.keep_node_bytes(true);
        let mut steered = RoundEngine::new(s).unwrap();
        let idle = (0..s.nodes).find(|&i| steered.node(i) == NodeView::Crashed);
        let neighbour = |e: &RoundEngine, i: u32| match topology {
            Topology::Complete => (i + 1) % s.nodes,
            _ => e.graph().sparse_neighbors(i)[0],
        };
        while !bits.is_finished() && bits.round() < 2_000 {
            bits.step();
            recorded.step();
            kept.step();
            if let Some(idle) = idle {
                let to = neighbour(&steered, idle);
                steered.step_steered(idle, to).unwrap();
            }
        }
        assert!(bits.round() > 5, "{case}: too short a run to compare");
        let same = |a: &RoundEngine, b: &RoundEngine, loops: &str| {
            let diverged = a.history().iter().zip(b.history()).find(|(x, y)| x != y);
            assert!(
                diverged.is_none(),
                "{case}, {loops}: first differing round {diverged:?}"
            );
            assert_eq!(a.round(), b.round(), "{case}, {loops}: rounds played");
            assert!(
                a.iter_nodes().eq(b.iter_nodes()),
                "{case}, {loops}: the nodes differ"
            );
        };
        for (e, loops) in [(&bits, "bits"), (&recorded, "drawn ahead"), (&kept, "kept")] {
            words_agree(e).unwrap_or_else(|e| panic!("{case}, {loops}: {e}"));
        }
        same(&bits, &recorded, "bits against drawn ahead");
        same(&bits, &kept, "bits against bits with the bytes kept");
        if idle.is_some() {
            same(&bits, &steered, "against message by message");
        }
    }
}

/// Whether the engine's node words ([`RoundEngine::iter_node_words`], what the page paints)
/// say what its nodes one by one and its newly informed say, and nothing past the last node.
fn words_agree(e: &RoundEngine) -> Result<(), String> {
    let words: Vec<NodeWord> = e.iter_node_words().collect();
    let n = e.settings().nodes;
    if words.len() != n.div_ceil(64) as usize {
        return Err(format!("{} words for {n} nodes", words.len()));
    }
    let new: std::collections::BTreeSet<u32> = e.iter_newly_informed().collect();
    for (w, word) in words.iter().enumerate() {
        let (a, b, c) = (word.spreading, word.stopped, word.crashed);
        if a & b | a & c | b & c != 0 {
            return Err(format!(
                "word {w}: a node in two of spreading, stopped and crashed"
            ));
        }
    }
    for (i, view) in (0..).zip(e.iter_nodes()) {
        let word = words[i as usize / 64];
        if word.view(i % 64) != view {
            return Err(format!(
                "node {i}: word says {:?}, node {view:?}",
                word.view(i % 64)
            ));
        }
        if ((word.new >> (i % 64)) & 1 == 1) != new.contains(&i) {
            return Err(format!(
                "node {i}: new in the word and in the newly informed differ"
            ));
        }
    }
    let last = words[words.len() - 1];
    let past = match n % 64 {
        0 => 0,
        r => !0u64 << r,
    };
    if (last.spreading | last.stopped | last.crashed | last.new) & past != 0 {
        return Err("bits set past the last node".into());
    }
    Ok(())
}

#[test]
fn rounds_on_bits_and_rounds_on_bytes_mix_into_the_same_run() {
    // A round on bits alone keeps only the bit sets and lets the node bytes fall behind;
    // the byte loops, kills, revives, snapshots and what the view reads bring them up to
    // date. A run that switches loops every few rounds, crashes and revives nodes (one
    // crashed while spreading: it must come back spreading) and rewinds, against the same
    // run on bits alone; and one that keeps its bytes every round (as the page's does).
    for rule in [
        StopRule::BlindCounter,
        StopRule::FeedbackCoin,
        StopRule::Never,
    ] {
        let s = Settings {
            nodes: 20_001,
            tunables: tunables(2, 0.1, rule, 3),
            crashed: 0.05,
            seed: 5,
            ..Settings::default()
        };
        let mut bits = RoundEngine::new(s).unwrap();
        let mut mixed = RoundEngine::new(s).unwrap();
        let mut kept = RoundEngine::new(s).unwrap();
        kept.keep_node_bytes(true);
        let mut history = vec![mixed.history()[0]];
        let mut killed = Vec::new();
        while !bits.is_finished() && bits.round() < 500 {
            let r = bits.round();
            // Arrows switch the loop: 0 takes the bits, 1 the drawn-ahead bytes.
            mixed.set_arrow_cap(usize::from(r % 5 == 3));
            if r == 4 {
                // Crash a spreader and a susceptible node in both runs, revive them later.
                let spreader = (0..s.nodes)
                    .find(|&i| bits.node(i) == NodeView::Live(Phase::Spreading))
                    .unwrap();
                let idle = (0..s.nodes)
                    .find(|&i| bits.node(i) == NodeView::Live(Phase::Susceptible))
                    .unwrap();
                for e in [&mut bits, &mut mixed, &mut kept] {
                    assert!(e.kill(spreader) && e.kill(idle));
                }
                killed = vec![spreader, idle];
            }
            if r == 7 {
                assert_eq!(bits.node(killed[0]), NodeView::Crashed);
                for e in [&mut bits, &mut mixed, &mut kept] {
                    let crashed: Vec<u32> = (0..s.nodes)
                        .filter(|&i| e.node(i) == NodeView::Crashed)
                        .collect();
                    for i in crashed.into_iter().step_by(7).chain(killed.iter().copied()) {
                        e.revive(i);
                    }
                }
            }
            if r == 7 {
                assert_eq!(
                    bits.node(killed[0]),
                    NodeView::Live(Phase::Spreading),
                    "{rule:?}: crashed while spreading, revived spreading"
                );
            }
            bits.step();
            if r == 6 {
                // One round played, thrown away, and played again from a snapshot taken
                // after a round on bits.
                let snapshot = mixed.snapshot();
                mixed.step();
                mixed.restore(&snapshot, &history);
            }
            history.push(*mixed.step());
            kept.step();
            let case = format!("{rule:?}, round {}", bits.round());
            assert_eq!(bits.last(), mixed.last(), "{case}: the rounds differ");
            assert!(
                bits.iter_nodes().eq(mixed.iter_nodes()),
                "{case}: the nodes differ"
            );
            assert!(
                bits.iter_newly_informed().eq(mixed.iter_newly_informed()),
                "{case}: the newly informed differ"
            );
            assert_eq!(
                bits.last(),
                kept.last(),
                "{case}: kept bytes, the rounds differ"
            );
            assert!(
                bits.iter_nodes().eq(kept.iter_nodes()),
                "{case}: kept bytes, the nodes differ"
            );
            for (e, loops) in [(&bits, "bits"), (&mixed, "mixed"), (&kept, "kept bytes")] {
                words_agree(e).unwrap_or_else(|e| panic!("{case}, {loops}: {e}"));
            }
        }
        assert!(bits.round() > 8, "{rule:?}: too short a run to mix");
    }
}

#[test]
fn a_node_informed_in_round_r_first_sends_in_round_r_plus_1() {
    let mut e = RoundEngine::new(Settings {
        nodes: 100,
        ..Settings::default()
    })
    .unwrap();
    e.set_arrow_cap(1_000);
    assert_eq!(e.step().traffic.sent, 1, "only the source sends in round 1");
    let informed: Vec<u32> = e.iter_newly_informed().collect();
    assert_eq!(informed.len(), 1);
    e.step();
    let senders: Vec<u32> = e.transmissions().iter().map(|t| t.from).collect();
    assert_eq!(senders, vec![0, informed[0]]);
}

#[test]
fn capped_transmissions_sample_the_whole_round_without_changing_it() {
    let s = Settings {
        nodes: 10_000,
        protocol: Protocol::Pull,
        seed: 3,
        ..Settings::default()
    };
    let (mut sampled, mut plain) = (RoundEngine::new(s).unwrap(), RoundEngine::new(s).unwrap());
    sampled.set_arrow_cap(50);
    let stats = *sampled.step();
    plain.step();
    assert_eq!(&stats, plain.last(), "drawing arrows never changes the run");
    let arrows = sampled.transmissions();
    assert_eq!(arrows.len(), 50);
    // 9,999 requests in node order: a uniform sample reaches well past the first few hundred.
    assert!(arrows.iter().any(|t| t.from > 5_000), "{arrows:?}");
}

#[test]
fn pull_requests_come_from_every_uninformed_node_and_only_informed_nodes_reply() {
    let mut e = RoundEngine::new(Settings {
        nodes: 1_000,
        protocol: Protocol::Pull,
        ..Settings::default()
    })
    .unwrap();
    e.set_arrow_cap(10_000);
    let stats = *e.step();
    let requests = e
        .transmissions()
        .iter()
        .filter(|t| t.kind == MessageKind::PullRequest)
        .count();
    let replies: Vec<_> = e
        .transmissions()
        .iter()
        .filter(|t| t.kind == MessageKind::PullReply)
        .collect();
    assert_eq!(requests, 999);
    assert!(replies
        .iter()
        .all(|t| t.from == 0 && t.fate == Fate::Informed));
    assert_eq!(stats.traffic.sent as usize, requests + replies.len());
}

#[test]
fn loss_one_spreads_nothing() {
    for protocol in Protocol::ALL {
        let mut e = RoundEngine::new(Settings {
            nodes: 500,
            protocol,
            tunables: tunables(3, 1.0, StopRule::Never, 1),
            ..Settings::default()
        })
        .unwrap();
        for _ in 0..20 {
            let s = *e.step();
            assert_eq!(s.traffic.lost, s.traffic.sent);
        }
        assert_eq!(e.counts().informed(), 1);
    }
}

#[test]
fn a_live_fanout_change_takes_effect_at_the_next_round() {
    let mut e = RoundEngine::new(Settings {
        nodes: 100_000,
        ..Settings::default()
    })
    .unwrap();
    for _ in 0..8 {
        e.step();
    }
    let spreaders = u64::from(e.counts().spreading);
    let live3 = tunables(3, 0.0, StopRule::Never, 1);
    e.set_tunables(live3).unwrap();
    assert_eq!(e.step().traffic.sent, 3 * spreaders);
    assert_eq!(e.settings().tunables, live3);
}

#[test]
fn switching_to_anti_entropy_wakes_stopped_nodes() {
    let mut e = RoundEngine::new(Settings {
        nodes: 5_000,
        tunables: tunables(1, 0.0, StopRule::FeedbackCoin, 1),
        ..Settings::default()
    })
    .unwrap();
    while !e.is_finished() {
        e.step();
    }
    let residue = e.counts().susceptible;
    assert!(
        residue > 0,
        "k = 1 feedback coin leaves about 20 % uninformed"
    );
    e.set_tunables(tunables(1, 0.0, StopRule::Never, 1))
        .unwrap();
    assert_eq!(e.counts().stopped, 0);
    while !e.is_finished() {
        e.step();
    }
    assert_eq!(e.counts().susceptible, 0);
}

#[test]
fn killed_nodes_receive_nothing_and_revived_nodes_rejoin() {
    let mut e = RoundEngine::new(Settings {
        nodes: 50,
        tunables: tunables(4, 0.0, StopRule::Never, 1),
        ..Settings::default()
    })
    .unwrap();
    for i in 1..25 {
        assert!(e.kill(i));
    }
    assert!(!e.kill(1));
    assert_eq!(e.counts().crashed, 24);
    let e2 = {
        let mut e = e.clone();
        while !e.is_finished() {
            e.step();
        }
        e
    };
    assert!((1..25).all(|i| e2.node(i) == NodeView::Crashed));
    assert!(e2.last().total.dead_letters > 0);
    assert_eq!(e2.counts().informed(), 26);
    for i in 1..25 {
        assert!(e.revive(i));
    }
    assert_eq!(e.counts().susceptible, 49);
    while !e.is_finished() {
        e.step();
    }
    assert_eq!(e.counts().informed(), 50);
}

#[test]
fn crashed_fraction_is_exact_and_independent_of_the_source() {
    let e = RoundEngine::new(Settings {
        nodes: 1_000,
        crashed: 0.3,
        ..Settings::default()
    })
    .unwrap();
    assert_eq!(e.counts().crashed, 300);
    let first_live = (0..1_000)
        .find(|&i| e.node(i) != NodeView::Crashed)
        .unwrap();
    assert_eq!(e.source(), first_live);
    assert_eq!(e.node(first_live), NodeView::Live(Phase::Spreading));
    let crashed = (0..1_000)
        .find(|&i| e.node(i) == NodeView::Crashed)
        .unwrap();
    assert!(RoundEngine::new(Settings {
        source: Some(crashed),
        ..*e.settings()
    })
    .is_err());
    let other = RoundEngine::new(Settings {
        source: Some(first_live + 1),
        ..*e.settings()
    });
    if let Ok(other) = other {
        assert!(
            (0..1_000)
                .all(|i| (other.node(i) == NodeView::Crashed) == (e.node(i) == NodeView::Crashed)),
            "the crashed set depends on the seed only"
        );
    }
}

#[test]
fn the_source_can_be_moved_before_the_first_round_only() {
    let mut e = RoundEngine::new(Settings {
        nodes: 10,
        ..Settings::default()
    })
    .unwrap();
    e.set_source(5).unwrap();
    assert_eq!(e.node(0), NodeView::Live(Phase::Susceptible));
    assert_eq!(e.node(5), NodeView::Live(Phase::Spreading));
    assert_eq!(e.counts().spreading, 1);
    e.step();
    assert!(e.set_source(3).is_err());
}

#[test]
fn bad_settings_are_refused_with_an_error() {
    let bad = [
        Settings {
            nodes: 1,
            ..Settings::default()
        },
        Settings {
            tunables: tunables(0, 0.0, StopRule::Never, 1),
            ..Settings::default()
        },
        Settings {
            tunables: tunables(1, 1.5, StopRule::Never, 1),
            ..Settings::default()
        },
        Settings {
            tunables: tunables(1, f64::NAN, StopRule::Never, 1),
            ..Settings::default()
        },
        Settings {
            tunables: tunables(1, 0.0, StopRule::BlindCoin, 0),
            ..Settings::default()
        },
        Settings {
            crashed: 1.0,
            ..Settings::default()
        },
        Settings {
            nodes: 8,
            topology: Topology::Torus,
            ..Settings::default()
        },
        Settings {
            source: Some(1_000),
            ..Settings::default()
        },
    ];
    for s in bad {
        assert!(RoundEngine::new(s).is_err(), "{s:?}");
    }
}

fn any_settings() -> impl Strategy<Value = Settings> {
    (
        10u32..400,
        0usize..3,
        0usize..5,
        1u8..5,
        1u8..5,
        prop_oneof![Just(0.0), 0.0..0.6f64],
        0usize..6,
        prop_oneof![Just(0.0), 0.0..0.5f64],
        any::<u64>(),
    )
        .prop_map(
            |(nodes, p, r, k, fanout, loss, t, crashed, seed)| Settings {
                nodes,
                protocol: Protocol::ALL[p],
                tunables: tunables(fanout, loss, StopRule::ALL[r], k),
                topology: Topology::ALL[t],
                crashed,
                seed,
                source: None,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn counts_always_sum_to_n_and_match_the_nodes(s in any_settings(), kills in proptest::collection::vec((0u32..400, any::<bool>()), 0..10)) {
        let mut e = RoundEngine::new(s).unwrap();
        let mut kills = kills.into_iter();
        for _ in 0..60 {
            if let Some((node, revive)) = kills.next() {
                let node = node % s.nodes;
                if revive { e.revive(node); } else { e.kill(node); }
            }
            let st = *e.step();
            prop_assert_eq!(st.counts.total(), s.nodes);
            let mut c = grapevine_core::Counts::default();
            for v in e.iter_nodes() {
                match v {
                    NodeView::Crashed => c.crashed += 1,
                    NodeView::Live(Phase::Susceptible) => c.susceptible += 1,
                    NodeView::Live(Phase::Spreading) => c.spreading += 1,
                    NodeView::Live(Phase::Stopped) => c.stopped += 1,
                }
            }
            prop_assert_eq!(c, st.counts);
            let t = st.traffic;
            prop_assert!(t.lost + t.dead_letters + t.informed + t.redundant <= t.sent);
        }
    }

    #[test]
    fn informed_never_decreases_under_anti_entropy(s in any_settings()) {
        let s = Settings { tunables: Tunables { interest: Interest::FOREVER, ..s.tunables }, ..s };
        let mut e = RoundEngine::new(s).unwrap();
        let mut before = e.counts().informed();
        for _ in 0..60 {
            let now = e.step().counts.informed();
            prop_assert!(now >= before);
            prop_assert_eq!(e.counts().stopped, 0);
            before = now;
        }
    }
}

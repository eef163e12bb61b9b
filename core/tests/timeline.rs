//! Rewind: every round a timeline shows again is the round first played, node by node, with
//! its counts, its record and its arrows, whether it was kept or replayed from an earlier
//! checkpoint; a change after rewinding starts a new branch.

use grapevine_core::metrics::Transmission;
use grapevine_core::timeline::Timeline;
use grapevine_core::{
    Counts, Interest, NodeView, Protocol, RoundEngine, RoundStats, Settings, StopRule, Topology,
    Tunables,
};

/// Everything a view shows of one round.
#[derive(Debug, PartialEq)]
struct Shown {
    round: u32,
    nodes: Vec<NodeView>,
    newly: Vec<u32>,
    counts: Counts,
    last: RoundStats,
    arrows: Vec<Transmission>,
}

fn shown(e: &RoundEngine) -> Shown {
    Shown {
        round: e.round(),
        nodes: e.iter_nodes().collect(),
        newly: e.iter_newly_informed().collect(),
        counts: e.counts(),
        last: *e.last(),
        arrows: e.transmissions().to_vec(),
    }
}

/// Rumor mongering with loss, crashes and a sparse graph: every kind of state a round keeps.
fn busy() -> Settings {
    Settings {
        nodes: 600,
        protocol: Protocol::PushPull,
        tunables: Tunables {
            fanout: 2,
            loss: 0.2,
            interest: Interest::new(StopRule::FeedbackCounter, 3),
        },
        topology: Topology::SmallWorld,
        crashed: 0.1,
        seed: 42,
        source: None,
    }
}

fn played(settings: Settings, budget: usize) -> (Timeline, Vec<Shown>) {
    let mut engine = RoundEngine::new(settings).unwrap();
    engine.set_arrow_cap(50);
    let mut timeline = Timeline::with_budget(engine, budget);
    let mut seen = vec![shown(timeline.engine())];
    while !timeline.engine().is_finished() && timeline.round() < 200 {
        timeline.step();
        seen.push(shown(timeline.engine()));
    }
    assert!(seen.len() > 6, "the run is long enough to rewind");
    (timeline, seen)
}

#[test]
fn every_round_shows_again_exactly_kept_or_replayed() {
    // A budget of every snapshot, and one so small that most rounds are replayed.
    for budget in [usize::MAX, 2_000] {
        let (mut timeline, seen) = played(busy(), budget);
        let end = timeline.end();
        // Backwards one by one, then jumps in both directions.
        for r in (0..end).rev() {
            assert!(timeline.back());
            assert_eq!(
                shown(timeline.engine()),
                seen[r as usize],
                "round {r} going back, budget {budget}"
            );
        }
        assert!(!timeline.back(), "no round before 0");
        for r in [end, 3, end / 2, 1, end - 1, 0, 5] {
            timeline.seek(r);
            assert_eq!(
                shown(timeline.engine()),
                seen[r as usize],
                "seek to {r}, budget {budget}"
            );
        }
        // Stepping forward after a rewind replays the branch; it does not play a new round.
        timeline.seek(2);
        timeline.step();
        assert_eq!(shown(timeline.engine()), seen[3]);
        assert_eq!(
            timeline.end(),
            end,
            "stepping through the past keeps the future"
        );
        if budget == 2_000 {
            assert!(
                timeline.bytes() <= 2 * 2_000,
                "the budget thins the checkpoints: {} bytes",
                timeline.bytes()
            );
        }
    }
}

#[test]
fn a_change_after_rewinding_starts_a_branch() {
    let (mut timeline, seen) = played(busy(), usize::MAX);
    timeline.seek(4);
    let mut tunables = timeline.engine().settings().tunables;
    tunables.fanout = 4;
    timeline.change(|e| e.set_tunables(tunables)).unwrap();
    assert_eq!(timeline.end(), 4, "the old future is dropped");
    assert_eq!(timeline.history().len(), 5);
    assert_eq!(
        shown(timeline.engine()),
        seen[4],
        "the change shows from the next round"
    );
    timeline.step();
    assert_eq!(timeline.round(), 5);
    assert_ne!(
        timeline.engine().last(),
        &seen[5].last,
        "fanout 4 plays a different round 5"
    );
    assert_eq!(timeline.engine().settings().tunables.fanout, 4);
    // The branch rewinds like any run, the change included.
    let branch5 = shown(timeline.engine());
    timeline.step();
    timeline.seek(0);
    assert_eq!(shown(timeline.engine()), seen[0]);
    assert_eq!(
        timeline.engine().settings().tunables.fanout,
        2,
        "round 0 was played with fanout 2"
    );
    timeline.seek(5);
    assert_eq!(shown(timeline.engine()), branch5);
    assert_eq!(timeline.engine().settings().tunables.fanout, 4);
}

#[test]
fn a_crash_made_while_playing_is_replayed() {
    // Tiny budget: the rounds after the crash are replayed from the checkpoint it pinned.
    let mut engine = RoundEngine::new(Settings {
        nodes: 300,
        seed: 9,
        ..Settings::default()
    })
    .unwrap();
    engine.set_arrow_cap(10);
    let mut timeline = Timeline::with_budget(engine, 1);
    let mut seen = vec![shown(timeline.engine())];
    for r in 1..=12 {
        timeline.step();
        if r == 2 {
            // Round 2 as shown is the round with the crash made in it.
            assert!(timeline.change(|e| e.kill(7)));
        }
        seen.push(shown(timeline.engine()));
    }
    for r in [0, 2, 3, 4, 11, 7, 12, 1] {
        timeline.seek(r);
        assert_eq!(shown(timeline.engine()), seen[r as usize], "round {r}");
    }
    timeline.seek(4);
    assert_eq!(timeline.engine().node(7), NodeView::Crashed);
    timeline.seek(1);
    assert_ne!(
        timeline.engine().node(7),
        NodeView::Crashed,
        "crashed only from round 2"
    );
}

#[test]
fn a_hand_picked_peer_is_told_and_every_other_draw_is_kept() {
    let settings = Settings {
        nodes: 50,
        seed: 5,
        ..Settings::default()
    };
    let mut alone = RoundEngine::new(settings).unwrap();
    alone.step();
    let told = (0..50)
        .find(|&i| alone.node(i) != NodeView::Live(grapevine_core::Phase::Susceptible) && i != 0);
    // Pick a node the run alone did not tell.
    let pick = (1..50)
        .find(|&i| alone.node(i) == NodeView::Live(grapevine_core::Phase::Susceptible))
        .unwrap();
    let mut steered = RoundEngine::new(settings).unwrap();
    steered.step_steered(0, pick).unwrap();
    assert_eq!(
        steered.node(pick),
        NodeView::Live(grapevine_core::Phase::Spreading)
    );
    assert!(
        told.is_some_and(|t| steered.node(t) == NodeView::Live(grapevine_core::Phase::Susceptible))
    );
    assert_eq!(steered.counts().informed(), alone.counts().informed());
    // Round 2 alone: node 0 and the node it told push again; the other draws are the same.
    steered.step();
    alone.step();
    assert_eq!(steered.last().traffic.sent, alone.last().traffic.sent);
    // A node that is not a neighbour, or node 0 itself, is refused.
    assert!(steered.step_steered(0, 0).is_err());
    assert!(steered.step_steered(0, 50).is_err());
}

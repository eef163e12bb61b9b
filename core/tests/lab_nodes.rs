//! The lab's protocol nodes driven by hand: messages moved between instances one by one,
//! time jumped to each deadline, as in foca's and str0m's tests.

use grapevine_core::lab::kv::{Checks, KvCommand, KvConfig, KvMessage, KvNode, Span};
use grapevine_core::lab::push_sum::{PushSum, PushSumConfig, PushSumMessage};
use grapevine_core::lab::rumor::{RumorCommand, RumorConfig, RumorEvent, RumorMessage, RumorNode};
use grapevine_core::lab::swim::{
    Incarnation, Lifeguard, MemberState, Swim, SwimCommand, SwimConfig, SwimEvent, SwimMessage,
    Update,
};
use grapevine_core::lab::{Millis, Node, NodeId, Transmit};
use grapevine_core::rng::GossipRng;
use grapevine_core::{Interest, Protocol, StopRule};

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);
const C: NodeId = NodeId(2);

fn swim(id: NodeId, config: SwimConfig, peers: &[NodeId]) -> Swim {
    let mut node = Swim::new(
        id,
        Incarnation(0),
        config,
        GossipRng::from_seed_u64(id.0),
        Millis(0),
    );
    for &p in peers {
        node.handle_peer(Millis(0), p, true);
    }
    node
}

fn sent<N: Node>(node: &mut N) -> Vec<Transmit<N::Message>> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn events<N: Node>(node: &mut N) -> Vec<N::Event> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

/// `x`'s timers at `now`, then the messages between `x` and `y` moved until quiet: the kind
/// of each, in order, as `kind` names it (`None`: left out of the list, moved all the same).
fn until_quiet<N: Node>(
    x: &mut N,
    y: &mut N,
    now: u64,
    kind: impl Fn(&N::Message) -> Option<&'static str>,
) -> Vec<&'static str> {
    x.handle_timeout(Millis(now));
    let mut kinds = Vec::new();
    loop {
        let moved: Vec<(bool, N::Message)> = sent(x)
            .into_iter()
            .map(|t| (true, t.message))
            .chain(sent(y).into_iter().map(|t| (false, t.message)))
            .collect();
        if moved.is_empty() {
            return kinds;
        }
        for (from_x, message) in moved {
            kinds.extend(kind(&message));
            if from_x {
                y.handle_message(Millis(now), x.id(), message);
            } else {
                x.handle_message(Millis(now), y.id(), message);
            }
        }
    }
}

fn state_of(node: &Swim, member: NodeId) -> MemberState {
    node.member(member).expect("known").state
}

/// A's probes go to B (the only other member) and nobody answers.
#[test]
fn a_silent_member_becomes_suspect_then_dead() {
    let config = SwimConfig::default();
    let mut a = swim(A, config, &[B]);
    a.handle_timeout(Millis(0));
    let out = sent(&mut a);
    assert!(matches!(
        out[..],
        [Transmit {
            to: B,
            message: SwimMessage::Ping { .. }
        }]
    ));
    // No ack by the end of the period: suspect.
    a.handle_timeout(Millis(1_000));
    assert_eq!(state_of(&a, B), MemberState::Suspect);
    // Suspicion timeout: α·max(1, log10 n)·T = 4 s with n = 2.
    a.handle_timeout(Millis(4_999));
    assert_eq!(state_of(&a, B), MemberState::Suspect);
    a.handle_timeout(Millis(5_000));
    assert_eq!(state_of(&a, B), MemberState::Dead);
    assert!(a.poll_timeout().is_some());
}

/// Live mode: A probes B over a link, and the link goes (B swapped A out for another) before
/// any answer: the probe is abandoned, not judged, and B stays alive. The same silence with
/// the link still up is a suspicion (`a_silent_member_becomes_suspect_then_dead`).
#[test]
fn a_probe_over_a_link_that_went_is_abandoned_not_judged() {
    let mut a = swim(A, SwimConfig::default(), &[B]);
    a.set_reachable(B, true);
    a.handle_timeout(Millis(0));
    assert!(matches!(
        sent(&mut a)[..],
        [Transmit {
            to: B,
            message: SwimMessage::Ping { .. }
        }]
    ));
    a.set_reachable(B, false);
    a.handle_timeout(Millis(1_000));
    assert_eq!(state_of(&a, B), MemberState::Alive);
    // Nothing more goes to B while it cannot be reached.
    a.handle_timeout(Millis(2_000));
    assert!(sent(&mut a).iter().all(|t| t.to != B));
}

#[test]
fn an_acked_probe_keeps_the_member_alive() {
    let mut a = swim(A, SwimConfig::default(), &[B]);
    let mut b = swim(B, SwimConfig::default(), &[A]);
    a.handle_timeout(Millis(0));
    let ping = sent(&mut a).remove(0);
    b.handle_message(Millis(5), A, ping.message);
    let ack = sent(&mut b).remove(0);
    assert!(matches!(ack.message, SwimMessage::Ack { .. }));
    a.handle_message(Millis(10), B, ack.message);
    a.handle_timeout(Millis(1_000));
    assert_eq!(state_of(&a, B), MemberState::Alive);
}

#[test]
fn suspect_is_refuted_by_higher_incarnation() {
    let mut a = swim(A, SwimConfig::default(), &[B]);
    let mut b = swim(B, SwimConfig::default(), &[A]);
    // A suspects B (a probe went unanswered) and tells B so on its next ping.
    a.handle_timeout(Millis(0));
    sent(&mut a);
    a.handle_timeout(Millis(1_000));
    assert_eq!(state_of(&a, B), MemberState::Suspect);
    let ping = sent(&mut a).remove(0);
    let SwimMessage::Ping { updates, .. } = &ping.message else {
        panic!("a ping")
    };
    assert!(updates
        .iter()
        .any(|u| u.member == B && u.state == MemberState::Suspect));
    b.handle_message(Millis(1_005), A, ping.message);
    assert_eq!(b.incarnation(), Incarnation(1));
    assert!(events(&mut b).contains(&SwimEvent::Refuted(Incarnation(1))));
    // B's ack carries Alive at incarnation 1, which overrides Suspect at 0.
    let ack = sent(&mut b).remove(0);
    a.handle_message(Millis(1_010), B, ack.message);
    assert_eq!(
        a.member(B).unwrap(),
        grapevine_core::lab::swim::MemberView {
            state: MemberState::Alive,
            incarnation: Incarnation(1)
        }
    );
}

#[test]
fn an_old_alive_does_not_revive_the_dead_but_a_new_incarnation_does() {
    let mut a = swim(A, SwimConfig::default(), &[B, C]);
    let news = |state, inc| Update {
        member: B,
        incarnation: Incarnation(inc),
        state,
        from: C,
        proof: None,
    };
    let ping = |u| SwimMessage::Ping {
        seq: 1,
        updates: vec![u],
    };
    a.handle_message(Millis(1), C, ping(news(MemberState::Dead, 0)));
    assert_eq!(state_of(&a, B), MemberState::Dead);
    a.handle_message(Millis(2), C, ping(news(MemberState::Alive, 0)));
    assert_eq!(state_of(&a, B), MemberState::Dead);
    a.handle_message(Millis(3), C, ping(news(MemberState::Alive, 1)));
    assert_eq!(state_of(&a, B), MemberState::Alive);
}

#[test]
fn an_indirect_probe_forwards_the_targets_ack() {
    let config = SwimConfig::default();
    let mut a = swim(A, config, &[B, C]);
    let mut b = swim(B, config, &[A, C]);
    let mut c = swim(C, config, &[A, B]);
    a.handle_timeout(Millis(0));
    let ping = sent(&mut a).remove(0);
    let target = ping.to;
    let helper = if target == B { C } else { B };
    // The direct ping is lost; at the ack timeout A asks the helper.
    a.handle_timeout(Millis(500));
    let req = sent(&mut a).remove(0);
    assert_eq!(req.to, helper);
    assert!(matches!(req.message, SwimMessage::PingReq { target: t, .. } if t == target));
    let (helper_node, target_node) = if helper == C {
        (&mut c, &mut b)
    } else {
        (&mut b, &mut c)
    };
    helper_node.handle_message(Millis(505), A, req.message);
    let relay_ping = sent(helper_node).remove(0);
    assert_eq!(relay_ping.to, target);
    target_node.handle_message(Millis(510), helper, relay_ping.message);
    let ack = sent(target_node).remove(0);
    helper_node.handle_message(Millis(515), target, ack.message);
    let forwarded = sent(helper_node).remove(0);
    assert_eq!(forwarded.to, A);
    a.handle_message(Millis(520), helper, forwarded.message);
    a.handle_timeout(Millis(1_000));
    assert_eq!(state_of(&a, target), MemberState::Alive);
}

#[test]
fn lifeguard_raises_local_health_when_helpers_do_not_nack() {
    let config = SwimConfig {
        lifeguard: Some(Lifeguard::default()),
        ..SwimConfig::default()
    };
    let mut a = swim(A, config, &[B, C]);
    a.handle_timeout(Millis(0));
    a.handle_timeout(Millis(500)); // indirect: one helper, who never answers (not even a nack)
    sent(&mut a);
    a.handle_timeout(Millis(1_000));
    assert_eq!(
        a.health(),
        1,
        "a missed nack means this member may be the slow one"
    );
    // The next period is stretched by (health + 1).
    assert_eq!(
        a.poll_timeout(),
        Some(Millis(2_000)),
        "indirect at 1 s + 2 × 500 ms"
    );
}

#[test]
fn plain_swim_has_no_local_health() {
    let mut a = swim(A, SwimConfig::default(), &[B, C]);
    a.handle_timeout(Millis(0));
    a.handle_timeout(Millis(500));
    a.handle_timeout(Millis(1_000));
    assert_eq!(a.health(), 0);
}

#[test]
fn a_leave_is_announced_and_final() {
    let mut a = swim(A, SwimConfig::default(), &[B]);
    let mut b = swim(B, SwimConfig::default(), &[A]);
    a.handle_command(Millis(10), SwimCommand::Leave);
    let out = sent(&mut a);
    assert_eq!(out.len(), 1);
    b.handle_message(Millis(20), A, out[0].message.clone());
    assert_eq!(state_of(&b, A), MemberState::Left);
    assert!(a.has_left());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn a_joiner_learns_the_group_from_its_seed() {
    let mut a = swim(A, SwimConfig::default(), &[B]);
    let mut c = swim(C, SwimConfig::default(), &[]);
    c.handle_command(Millis(0), SwimCommand::Join(A));
    let join = sent(&mut c).remove(0);
    a.handle_message(Millis(5), C, join.message);
    assert_eq!(state_of(&a, C), MemberState::Alive);
    let sync = sent(&mut a).remove(0);
    assert!(matches!(sync.message, SwimMessage::Sync { .. }));
    c.handle_message(Millis(10), A, sync.message);
    assert_eq!(state_of(&c, A), MemberState::Alive);
    assert_eq!(state_of(&c, B), MemberState::Alive);
}

#[test]
fn push_sum_keeps_half_and_sends_half() {
    let config = PushSumConfig::default();
    let mut a = PushSum::new(
        A,
        10.0,
        false,
        config,
        GossipRng::from_seed_u64(1),
        Millis(0),
    );
    let mut b = PushSum::new(
        B,
        30.0,
        false,
        config,
        GossipRng::from_seed_u64(2),
        Millis(0),
    );
    a.handle_peer(Millis(0), B, true);
    a.handle_timeout(Millis(1_000));
    let out = sent(&mut a);
    assert_eq!(
        out,
        vec![Transmit {
            to: B,
            message: PushSumMessage {
                sum: 5.0,
                weight: 0.5
            }
        }]
    );
    assert_eq!(a.mass(), (5.0, 0.5));
    b.handle_message(Millis(1_010), A, out[0].message);
    assert_eq!(b.mass(), (35.0, 1.5));
    assert_eq!(a.estimate(), Some(10.0));
    assert!((b.estimate().unwrap() - 35.0 / 1.5).abs() < 1e-12);
}

fn kv(id: NodeId) -> KvNode {
    KvNode::new(
        id,
        KvConfig::default(),
        GossipRng::from_seed_u64(id.0),
        Millis(0),
    )
}

/// A full scuttlebutt exchange started by `from`.
fn exchange(from: &mut KvNode, to: &mut KvNode, now: Millis) {
    let syn = KvMessage::Syn {
        span: Span::ALL,
        digest: from.digest(),
        checks: Checks::default(),
    };
    to.handle_message(now, from.id(), syn);
    for t in sent(to) {
        from.handle_message(now, to.id(), t.message);
    }
    for t in sent(from) {
        to.handle_message(now, from.id(), t.message);
    }
}

fn set(node: &mut KvNode, at: u64, key: &str, value: &str) {
    node.handle_command(
        Millis(at),
        KvCommand::Set {
            key: key.into(),
            value: value.into(),
        },
    );
}

#[test]
fn concurrent_writes_are_siblings_under_vector_clocks_and_one_wins_under_lww() {
    let (mut a, mut b) = (kv(A), kv(B));
    set(&mut a, 100, "color", "red");
    set(&mut b, 100, "color", "blue");
    exchange(&mut a, &mut b, Millis(200));
    assert_eq!(a.digest(), b.digest());
    for node in [&a, &b] {
        let mut values: Vec<&str> = node
            .siblings("color")
            .iter()
            .map(|e| e.value.as_str())
            .collect();
        values.sort();
        assert_eq!(values, ["blue", "red"], "neither write saw the other");
        // Equal timestamps: the larger node id wins.
        assert_eq!(node.lww("color").unwrap().value, "blue");
    }
}

#[test]
fn a_write_that_saw_the_other_supersedes_it() {
    let (mut a, mut b) = (kv(A), kv(B));
    set(&mut a, 100, "color", "red");
    exchange(&mut a, &mut b, Millis(150));
    set(&mut b, 200, "color", "blue");
    exchange(&mut b, &mut a, Millis(250));
    for node in [&a, &b] {
        let siblings = node.siblings("color");
        assert_eq!(siblings.len(), 1);
        assert_eq!(siblings[0].value, "blue");
    }
}

#[test]
fn lww_drops_a_later_write_from_a_slow_clock_and_vector_clocks_do_not() {
    let mut a = KvNode::new(
        A,
        KvConfig {
            clock_offset_ms: -10_000,
            ..KvConfig::default()
        },
        GossipRng::from_seed_u64(1),
        Millis(0),
    );
    let mut b = kv(B);
    set(&mut b, 1_000, "color", "blue");
    exchange(&mut b, &mut a, Millis(1_100));
    // A writes after seeing B's write, but its clock is 10 s behind.
    set(&mut a, 2_000, "color", "red");
    exchange(&mut a, &mut b, Millis(2_100));
    assert_eq!(
        b.lww("color").unwrap().value,
        "blue",
        "last-writer-wins trusts the clocks"
    );
    let siblings = b.siblings("color");
    assert_eq!(siblings.len(), 1);
    assert_eq!(
        siblings[0].value, "red",
        "the vector clock knows red came after blue"
    );
}

#[test]
fn a_bad_key_is_refused_and_nothing_changes() {
    let mut a = kv(A);
    set(&mut a, 1, "", "x");
    assert!(a.keys().is_empty());
    assert!(matches!(
        events(&mut a)[..],
        [grapevine_core::lab::kv::KvEvent::Refused(_)]
    ));
}

// ---------------------------------------------------------------------------------------
// Rumors

fn rumor_node(id: NodeId, config: RumorConfig, peers: &[NodeId]) -> RumorNode {
    let mut node = RumorNode::new(id, config, GossipRng::from_seed_u64(id.0), Millis(0));
    for &p in peers {
        node.handle_peer(Millis(0), p, true);
    }
    node
}

/// Fires `node`'s next round and returns what it sent.
fn round(node: &mut RumorNode) -> Vec<Transmit<RumorMessage>> {
    let at = node
        .poll_timeout()
        .expect("a rumor node always has a next round");
    node.handle_timeout(at);
    sent(node)
}

fn deliver(to: &mut RumorNode, from: NodeId, message: RumorMessage) -> Vec<Transmit<RumorMessage>> {
    to.handle_message(Millis(0), from, message);
    sent(to)
}

#[test]
fn a_pushed_rumor_arrives_with_its_origin_hops_and_teller() {
    let config = RumorConfig::default();
    let mut a = rumor_node(A, config, &[B]);
    let mut b = rumor_node(B, config, &[C]);
    a.handle_command(Millis(0), RumorCommand::Start("hello".into()));
    let started = events(&mut a);
    assert!(matches!(&started[..], [RumorEvent::Learned { rumor, from: A }] if rumor.hops == 0));
    let out = round(&mut a);
    let [Transmit { to: B, message }] = &out[..] else {
        panic!("{out:?}")
    };
    let reply = deliver(&mut b, A, message.clone());
    let learned = events(&mut b);
    let [RumorEvent::Learned { rumor, from: A }] = &learned[..] else {
        panic!("{learned:?}")
    };
    assert_eq!(
        (
            rumor.id.origin,
            rumor.id.seq,
            rumor.hops,
            rumor.text.as_str()
        ),
        (A, 0, 1, "hello")
    );
    assert!(
        matches!(&reply[..], [Transmit { to: A, message: RumorMessage::Feedback { useful, knew } }]
        if useful == &[rumor.id] && knew.is_empty())
    );
    // B passes it on one hop further.
    let out = round(&mut b);
    let [Transmit {
        to: C,
        message: RumorMessage::Push { rumors },
    }] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(rumors[0].hops, 2);
}

#[test]
fn feedback_counter_stops_after_k_contacts_with_nodes_that_knew() {
    let config = RumorConfig {
        interest: Interest::new(StopRule::FeedbackCounter, 2),
        ..RumorConfig::default()
    };
    let mut a = rumor_node(A, config, &[B]);
    a.handle_command(Millis(0), RumorCommand::Start("x".into()));
    events(&mut a);
    let id = a.iter_rumors().next().unwrap().0.id;
    let knew = || RumorMessage::Feedback {
        useful: vec![],
        knew: vec![id],
    };
    deliver(&mut a, B, knew());
    assert!(
        a.iter_rumors().next().unwrap().1,
        "one unnecessary contact of two"
    );
    // A useful contact resets the counter (Demers et al.'s counter counts in a row).
    deliver(
        &mut a,
        B,
        RumorMessage::Feedback {
            useful: vec![id],
            knew: vec![],
        },
    );
    deliver(&mut a, B, knew());
    assert!(a.iter_rumors().next().unwrap().1);
    deliver(&mut a, B, knew());
    assert!(
        !a.iter_rumors().next().unwrap().1,
        "stopped after 2 in a row"
    );
    assert_eq!(events(&mut a), vec![RumorEvent::Stopped(id)]);
    assert!(round(&mut a).is_empty(), "a stopped rumor is not pushed");
}

#[test]
fn pull_fetches_only_the_rumors_the_requester_lacks() {
    let config = RumorConfig {
        protocol: Protocol::Pull,
        ..RumorConfig::default()
    };
    let mut a = rumor_node(A, config, &[B]);
    let mut b = rumor_node(B, config, &[A]);
    b.handle_command(Millis(0), RumorCommand::Start("one".into()));
    b.handle_command(Millis(0), RumorCommand::Start("two".into()));
    a.handle_command(Millis(0), RumorCommand::Start("mine".into()));
    // A already has B's first rumor.
    let out = round(&mut b);
    let [Transmit {
        message: RumorMessage::PullRequest { have },
        ..
    }] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(have.len(), 2);
    let first = RumorMessage::PullReply {
        rumors: vec![b.iter_rumors().next().unwrap().0.clone()],
    };
    deliver(&mut a, B, first);
    events(&mut a);
    let request = round(&mut a);
    let [Transmit { to: B, message }] = &request[..] else {
        panic!("{request:?}")
    };
    let reply = deliver(&mut b, A, message.clone());
    let [Transmit {
        to: A,
        message: RumorMessage::PullReply { rumors },
    }] = &reply[..]
    else {
        panic!("{reply:?}")
    };
    let texts: Vec<&str> = rumors.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["two"]);
}

#[test]
fn a_restarted_node_does_not_reuse_its_rumor_ids() {
    let config = RumorConfig::default();
    let mut a = rumor_node(A, config, &[B]);
    a.handle_command(Millis(0), RumorCommand::Start("before".into()));
    let again = RumorNode::new(A, config, GossipRng::from_seed_u64(9), Millis(5))
        .with_next_seq(a.next_seq());
    let mut again = again;
    again.handle_command(Millis(5), RumorCommand::Start("after".into()));
    let first = a.iter_rumors().next().unwrap().0.id;
    let second = again.iter_rumors().next().unwrap().0.id;
    assert_ne!(first, second);
}

#[test]
fn a_rumor_too_long_is_refused() {
    let mut a = rumor_node(A, RumorConfig::default(), &[B]);
    a.handle_command(Millis(0), RumorCommand::Start("x".repeat(201)));
    assert!(matches!(events(&mut a)[..], [RumorEvent::Refused(_)]));
    assert_eq!(a.iter_rumors().count(), 0);
}

/// A large class's churn leaves many writers: past about 1,200 a digest of every writer no
/// longer fits one 16 KiB message. Digests go in spans of origins, so replication completes
/// and every message encodes (it used to fail to encode, silently, and anti-entropy stopped).
#[test]
fn replication_goes_on_past_a_digest_too_large_for_one_message() {
    replicate_past_a_large_digest(false);
}

/// The same with summaries: a hash per part, a part's digest only where it differs.
#[test]
fn replication_with_summaries_goes_on_past_a_digest_too_large_for_one_message() {
    replicate_past_a_large_digest(true);
}

fn replicate_past_a_large_digest(summaries: bool) {
    use grapevine_core::lab::kv::{Entry, VClock, DIGEST_CHUNK};
    use grapevine_core::lab::wire::{decode, encode, Message};
    let writers = 3 * DIGEST_CHUNK + 300;
    let config = KvConfig {
        summaries,
        ..KvConfig::default()
    };
    let mut x = KvNode::new(NodeId(1), config, GossipRng::from_seed_u64(1), Millis(0));
    let mut y = KvNode::new(NodeId(2), config, GossipRng::from_seed_u64(2), Millis(0));
    // Ids as live members have them: 64 random bits (the longest varints).
    let origin = |i: usize| NodeId(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1) | 1 << 63);
    let entries: Vec<Entry> = (0..writers)
        .map(|i| Entry {
            origin: origin(i),
            version: 1,
            key: format!("student-{i}"),
            value: "here".into(),
            timestamp: 5,
            clock: VClock(vec![(origin(i), 1)]),
            proof: None,
        })
        .collect();
    for chunk in entries.chunks(100) {
        x.handle_message(
            Millis(0),
            NodeId(9),
            KvMessage::Ack {
                delta: chunk.to_vec(),
                want: vec![],
            },
        );
    }
    assert_eq!(x.digest().0.len(), writers);
    let whole = Message::Kv(KvMessage::Syn {
        span: Span::ALL,
        digest: x.digest(),
        checks: Checks::default(),
    });
    assert!(
        encode(&whole).is_err(),
        "one digest of every writer is too large"
    );
    x.handle_peer(Millis(0), NodeId(2), true);
    y.handle_peer(Millis(0), NodeId(1), true);
    let mut now = 0;
    while x.digest() != y.digest() && now < 60_000 {
        now += 1_000;
        x.handle_timeout(Millis(now));
        y.handle_timeout(Millis(now));
        // Deliver through the wire until quiet: every message must encode.
        loop {
            let moved: Vec<(NodeId, NodeId, KvMessage)> = sent(&mut x)
                .into_iter()
                .map(|t| (NodeId(1), t.to, t.message))
                .chain(
                    sent(&mut y)
                        .into_iter()
                        .map(|t| (NodeId(2), t.to, t.message)),
                )
                .collect();
            if moved.is_empty() {
                break;
            }
            for (from, to, message) in moved {
                let bytes = encode(&Message::Kv(message)).expect("every message fits the wire");
                let Ok(Message::Kv(message)) = decode(&bytes) else {
                    panic!("decodes")
                };
                let node = if to == NodeId(1) { &mut x } else { &mut y };
                node.handle_message(Millis(now), from, message);
            }
        }
    }
    assert_eq!(x.digest(), y.digest(), "replicas equal after {now} ms");
    assert_eq!(y.keys().len(), writers);
}

/// The answer to a digest names only the origins where its sender is behind: between
/// replicas in step it is empty (a live room's anti-entropy would otherwise be mostly whole
/// digests going both ways), and where it is behind, the first replica sends just that.
#[test]
fn a_replica_in_step_answers_a_digest_with_nothing_to_want() {
    let mut x = kv(NodeId(1));
    let mut y = kv(NodeId(2));
    for (node, key) in [(&mut x, "a"), (&mut y, "b")] {
        node.handle_command(
            Millis(0),
            KvCommand::Set {
                key: key.into(),
                value: "1".into(),
            },
        );
    }
    let exchange = |from: &mut KvNode, to: &mut KvNode| -> Vec<KvMessage> {
        let syn = KvMessage::Syn {
            span: Span::ALL,
            digest: from.digest(),
            checks: Checks::default(),
        };
        to.handle_message(Millis(1), from.id(), syn);
        let answers: Vec<KvMessage> = sent(to).into_iter().map(|t| t.message).collect();
        for a in &answers {
            from.handle_message(Millis(1), to.id(), a.clone());
        }
        let acks: Vec<KvMessage> = sent(from).into_iter().map(|t| t.message).collect();
        for a in &acks {
            to.handle_message(Millis(1), from.id(), a.clone());
        }
        answers.into_iter().chain(acks).collect()
    };
    // y lacks x's write and x lacks y's: y names x's origin at version 0 and sends its own.
    let first = exchange(&mut x, &mut y);
    let KvMessage::SynAck { digest, delta, .. } = &first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(digest.0, vec![(NodeId(1), 0)]);
    assert_eq!(delta.len(), 1);
    assert!(matches!(&first[1], KvMessage::Ack { delta, .. } if delta.len() == 1));
    assert_eq!(x.digest(), y.digest());
    // In step: the answer wants nothing and carries nothing; no Ack follows.
    let again = exchange(&mut x, &mut y);
    assert_eq!(
        again,
        vec![KvMessage::SynAck {
            span: Span::ALL,
            digest: grapevine_core::lab::kv::Digest(vec![]),
            delta: vec![],
            held: vec![],
        }]
    );
}

/// With summaries, replicas in step exchange one hash and nothing else; replicas that differ
/// go on to the whole exchange, one message later, and end equal.
#[test]
fn a_summary_is_answered_only_where_replicas_differ() {
    let config = KvConfig {
        summaries: true,
        ..KvConfig::default()
    };
    let mut x = KvNode::new(NodeId(1), config, GossipRng::from_seed_u64(1), Millis(0));
    let mut y = KvNode::new(NodeId(2), config, GossipRng::from_seed_u64(2), Millis(0));
    x.handle_peer(Millis(0), NodeId(2), true);
    for (node, key) in [(&mut x, "a"), (&mut y, "b")] {
        set(node, 0, key, "1");
    }
    let run = |x: &mut KvNode, y: &mut KvNode, now: u64| {
        until_quiet(x, y, now, |m: &KvMessage| Some(m.kind()))
    };
    assert_eq!(
        run(&mut x, &mut y, 1_000),
        ["summary", "syn", "syn-ack", "ack"]
    );
    assert_eq!(x.digest(), y.digest());
    assert_eq!(
        run(&mut x, &mut y, 2_000),
        ["summary"],
        "in step: the hash alone"
    );
    set(&mut y, 2_500, "b", "2");
    // The same origins, a version moved: y answers with its versions alone, x is behind
    // and wants the origin, y's Ack carries the write.
    assert_eq!(
        run(&mut x, &mut y, 3_000),
        ["summary", "versions", "syn-ack", "ack"]
    );
    assert_eq!(x.digest(), y.digest());
    assert_eq!(x.lww("b").map(|e| e.value.as_str()), Some("2"));
    // Versions that no longer match the receiver's origins (it met one since its summary,
    // or a peer lies) are dropped, not misread: the next exchange starts again.
    let stale = |origins: u64, versions: Vec<u64>| KvMessage::Versions {
        span: Span::ALL,
        origins,
        versions,
        checks: Checks::default(),
    };
    let ours = grapevine_core::lab::kv::origins_hash([NodeId(1), NodeId(2)].into_iter());
    for message in [stale(ours ^ 1, vec![9, 9]), stale(ours, vec![9])] {
        x.handle_message(Millis(3_500), NodeId(2), message);
        assert!(sent(&mut x).is_empty());
    }
    x.handle_message(Millis(3_500), NodeId(2), stale(ours, vec![9, 9]));
    assert!(
        matches!(&sent(&mut x)[..], [t] if matches!(t.message, KvMessage::SynAck { .. })),
        "matching versions are answered as a digest"
    );
}

/// In live rooms a push-pull opens with a hash of the membership: a member in step says
/// nothing, one that lists someone else (or someone differently) answers with its state and
/// the push-pull runs as ever.
#[test]
fn a_push_pull_summary_is_answered_only_where_memberships_differ() {
    let config = SwimConfig {
        period_ms: 10_000,
        ack_timeout_ms: 5_000,
        push_pull_ms: Some(1_000),
        summaries: true,
        ..SwimConfig::default()
    };
    let mut a = swim(A, config, &[B]);
    let mut b = swim(B, config, &[A, C]);
    // The period's probe and its ack left out.
    let run = |a: &mut Swim, b: &mut Swim, now: u64| {
        until_quiet(a, b, now, |m: &SwimMessage| {
            (!matches!(m, SwimMessage::Ping { .. } | SwimMessage::Ack { .. })).then(|| m.kind())
        })
    };
    run(&mut a, &mut b, 0);
    assert_eq!(
        run(&mut a, &mut b, 1_000),
        ["summary", "push-pull", "push-pull"],
        "B lists C, A does not: B's state asks for A's"
    );
    assert_eq!(state_of(&a, C), MemberState::Alive);
    assert_eq!(
        run(&mut a, &mut b, 2_000),
        ["summary"],
        "in step: the hash alone"
    );
    // B hears that C is suspect: the views differ again.
    let suspicion = Update {
        member: C,
        incarnation: Incarnation(0),
        state: MemberState::Suspect,
        from: B,
        proof: None,
    };
    b.handle_message(
        Millis(2_500),
        C,
        SwimMessage::Sync {
            members: vec![suspicion],
        },
    );
    assert_eq!(
        run(&mut a, &mut b, 3_000),
        ["summary", "push-pull", "push-pull"]
    );
    assert_eq!(state_of(&a, C), MemberState::Suspect);
    assert_eq!(run(&mut a, &mut b, 4_000), ["summary"]);
}

/// A flood of made-up origins cannot push out what a node remembers of the members it knew
/// before: a member's old rumor, forgotten (a reset), stays forgotten however many new
/// origins follow, with ids above and below the member's. (The floors kept evicted the
/// smallest id, so origins of small ids pushed a member's out, and its old rumor, replayed,
/// was news again.)
#[test]
fn a_flood_of_made_up_origins_keeps_the_floors_of_members_known_before() {
    use grapevine_core::lab::rumor::{Rumor, RumorId};
    let mut node = rumor_node(B, RumorConfig::default(), &[A]);
    let rumor = |origin: NodeId, seq: u32| Rumor {
        id: RumorId { origin, seq },
        hops: 1,
        born_ms: 0,
        text: "x".into(),
        proof: None,
    };
    let push = |r: Rumor| RumorMessage::Push { rumors: vec![r] };
    let member = NodeId(1_000);
    deliver(&mut node, A, push(rumor(member, 0)));
    node.reset();
    // More made-up origins than floors are kept (4,096), alternately far above and below
    // the member's id, each forgotten at once.
    for i in 0..6_000u64 {
        let origin = NodeId(if i % 2 == 0 { u64::MAX - i } else { i });
        deliver(&mut node, A, push(rumor(origin, 0)));
        node.reset();
    }
    let _ = events(&mut node);
    let reply = deliver(&mut node, A, push(rumor(member, 0)));
    let learned = events(&mut node);
    assert!(
        learned.is_empty(),
        "the member's old rumor was news again after the flood: {learned:?}"
    );
    let [Transmit {
        message: RumorMessage::Feedback { useful, knew },
        ..
    }] = &reply[..]
    else {
        panic!("{reply:?}")
    };
    assert!(useful.is_empty() && knew.len() == 1, "{useful:?} {knew:?}");
}

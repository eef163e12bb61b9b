//! Live mode's node, driven by hand: bytes moved between tabs as a data channel would, the
//! clock jumped to each deadline. What the browser adds is only the moving.

use grapevine_core::auth::Identity;
use grapevine_core::lab::live::{LiveConfig, LiveEvent, LiveNode, PING_EVERY_MS};
use grapevine_core::lab::push_sum::PushSumMessage;
use grapevine_core::lab::rumor::{RumorConfig, RumorEvent};
use grapevine_core::lab::swim::MemberState;
use grapevine_core::lab::wire::{encode, LinkMessage, Message, WireError, VERSION};
use grapevine_core::lab::{Millis, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// The key of test tab `n` (1000, 2000, ...): its id is derived from the key, as every
/// live member's is.
fn identity(n: u64) -> Identity {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&n.to_le_bytes());
    Identity::from_secret(secret)
}

/// The id of test tab `n`.
fn tab_id(n: u64) -> NodeId {
    identity(n).id()
}

fn config(loss: f64) -> LiveConfig {
    LiveConfig {
        rumor: RumorConfig {
            interval_ms: 200,
            ..RumorConfig::default()
        },
        loss,
    }
}

/// Tabs and the data channels between them; `down` tabs neither send nor receive (a crash).
struct Mesh {
    now: Millis,
    tabs: BTreeMap<NodeId, LiveNode>,
    down: BTreeSet<NodeId>,
    /// Links still to come up: (when, one end, the other).
    joins: Vec<(Millis, NodeId, NodeId)>,
    /// Every message delivered, when recording.
    record: Option<Vec<Vec<u8>>>,
}

impl Mesh {
    /// `n` tabs, each linked to every other.
    fn new(n: u64) -> Mesh {
        Mesh::linked(n, |_, _| true)
    }

    /// `n` tabs; tab `a` linked to tab `b` (from 0) where `link(a, b)` or `link(b, a)`.
    fn linked(n: u64, link: impl Fn(u64, u64) -> bool) -> Mesh {
        let tabs: BTreeMap<NodeId, LiveNode> = (1..=n)
            .map(|i| {
                (
                    tab_id(i * 1000),
                    LiveNode::new(identity(i * 1000), i, config(0.0), Millis(0)),
                )
            })
            .collect();
        let mut mesh = Mesh {
            now: Millis(0),
            tabs,
            down: BTreeSet::new(),
            joins: Vec::new(),
            record: None,
        };
        for a in 0..n {
            for b in 0..n {
                if a != b && (link(a, b) || link(b, a)) {
                    let to = tab_id((b + 1) * 1000);
                    mesh.tab((a + 1) * 1000).handle_link_up(Millis(0), to);
                }
            }
        }
        mesh
    }

    /// Delivers everything in flight (channels are fast), then advances to the next deadline.
    fn run_until(&mut self, until: u64) {
        while self.now.0 <= until {
            self.deliver();
            let next = self
                .tabs
                .iter()
                .filter(|(id, _)| !self.down.contains(id))
                .filter_map(|(_, t)| t.poll_timeout())
                .chain(self.joins.iter().map(|j| j.0))
                .min();
            let Some(next) = next.filter(|t| t.0 <= until) else {
                break;
            };
            self.now = next.max(self.now);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = self.joins.drain(..).partition(|j| j.0 <= now);
            self.joins = later;
            for (_, a, b) in due {
                self.tabs.get_mut(&a).unwrap().handle_link_up(now, b);
                self.tabs.get_mut(&b).unwrap().handle_link_up(now, a);
            }
            for (id, tab) in self.tabs.iter_mut() {
                if !self.down.contains(id) {
                    tab.handle_timeout(self.now);
                }
            }
        }
        self.deliver();
        self.now = Millis(until);
    }

    fn deliver(&mut self) {
        for _ in 0..10_000 {
            let mut moved = Vec::new();
            for (&id, tab) in self.tabs.iter_mut() {
                while let Some((to, bytes)) = tab.poll_transmit() {
                    if !self.down.contains(&id) {
                        moved.push((id, to, bytes));
                    }
                }
            }
            if moved.is_empty() {
                return;
            }
            for (from, to, bytes) in moved {
                if self.down.contains(&to) {
                    continue;
                }
                if let Some(tab) = self.tabs.get_mut(&to) {
                    tab.handle_bytes(self.now, from, &bytes);
                }
                if let Some(record) = self.record.as_mut() {
                    record.push(bytes);
                }
            }
        }
        panic!("messages without end");
    }

    fn tab(&mut self, id: u64) -> &mut LiveNode {
        self.tabs.get_mut(&tab_id(id)).unwrap()
    }
}

fn events(tab: &mut LiveNode) -> Vec<LiveEvent> {
    std::iter::from_fn(|| tab.poll_event()).collect()
}

#[test]
fn a_rumor_started_in_one_tab_reaches_the_others_with_origin_and_hops() {
    let mut mesh = Mesh::new(4);
    mesh.run_until(500);
    assert!(
        mesh.tabs.values().all(|t| t.links().all(|l| l.ready)),
        "every link ready after the hello"
    );
    let now = mesh.now;
    mesh.tab(1000).start_rumor(now, "hello".into());
    mesh.run_until(5_000);
    for (&id, tab) in mesh.tabs.iter_mut() {
        let (rumor, _) = tab
            .rumor()
            .iter_rumors()
            .next()
            .unwrap_or_else(|| panic!("{id} lacks the rumor"));
        assert_eq!(
            (rumor.id.origin, rumor.text.as_str()),
            (tab_id(1000), "hello")
        );
        if id != tab_id(1000) {
            assert!(rumor.hops >= 1);
            assert!(events(tab)
                .iter()
                .any(|e| matches!(e, LiveEvent::Rumor(RumorEvent::Learned { .. }))));
        }
        assert!(
            tab.links().all(|l| l.rtt_ms.is_some()),
            "round trips measured"
        );
    }
}

#[test]
fn the_hello_is_repeated_until_answered() {
    let (a, b) = (tab_id(1), tab_id(2));
    let mut ta = LiveNode::new(identity(1), 1, config(0.0), Millis(0));
    let mut tb = LiveNode::new(identity(2), 2, config(0.0), Millis(0));
    ta.handle_link_up(Millis(0), b);
    tb.handle_link_up(Millis(0), a);
    // The first hellos are lost, as a first message on a fresh channel sometimes is.
    while ta.poll_transmit().is_some() {}
    while tb.poll_transmit().is_some() {}
    assert!(ta.links().all(|l| !l.ready));
    ta.handle_timeout(Millis(250));
    let (to, hello) = ta.poll_transmit().expect("hello again");
    assert_eq!(to, b);
    tb.handle_bytes(Millis(260), a, &hello);
    assert!(tb.links().all(|l| l.ready), "a hello makes the link ready");
    let (_, ack) = std::iter::from_fn(|| tb.poll_transmit())
        .find(|(to, _)| *to == a)
        .unwrap();
    ta.handle_bytes(Millis(270), b, &ack);
    let link = ta.links().next().unwrap();
    assert!(link.ready);
    assert_eq!(link.rtt_ms, Some(20));
}

#[test]
fn bad_bytes_are_counted_reported_and_dropped_and_the_tab_works_on() {
    let mut mesh = Mesh::new(2);
    mesh.run_until(500);
    let (a, b) = (tab_id(1000), tab_id(2000));
    let now = mesh.now;
    let push_sum = encode(&Message::PushSum(PushSumMessage {
        sum: 1.0,
        weight: 1.0,
    }))
    .unwrap();
    let mut wrong_version = push_sum.clone();
    wrong_version[0] = 99;
    let bad: Vec<(NodeId, Vec<u8>, WireError)> = vec![
        (b, vec![], WireError::Empty),
        (
            b,
            b"garbage that is not a message".to_vec(),
            WireError::UnknownVersion(b'g'),
        ),
        (b, wrong_version, WireError::UnknownVersion(99)),
        (b, vec![0u8; 20_000], WireError::TooLarge(20_000)),
        (b, push_sum.clone(), WireError::WrongProtocol),
        (NodeId(7), push_sum, WireError::WrongProtocol),
    ];
    let before = mesh.tab(1000).counters();
    events(mesh.tab(1000));
    for (from, bytes, _) in &bad {
        mesh.tab(1000).handle_bytes(now, *from, bytes);
    }
    let after = mesh.tab(1000).counters();
    assert_eq!(after.malformed - before.malformed, bad.len() as u64);
    let refused: Vec<WireError> = events(mesh.tab(1000))
        .into_iter()
        .filter_map(|e| match e {
            LiveEvent::Refused { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(refused, bad.iter().map(|b| b.2).collect::<Vec<_>>());
    // A member of the previous release: neither malformed nor refused, said once.
    let mut old_release = encode(&Message::Link(LinkMessage::Hello { sent_ms: 1 })).unwrap();
    old_release[0] = VERSION - 1;
    for _ in 0..3 {
        mesh.tab(1000).handle_bytes(now, b, &old_release);
    }
    let later = mesh.tab(1000).counters();
    assert_eq!(later.malformed, after.malformed);
    assert_eq!(later.other_version - after.other_version, 3);
    assert_eq!(
        events(mesh.tab(1000)),
        vec![LiveEvent::OtherVersion {
            peer: b,
            version: VERSION - 1
        }]
    );
    // Still gossiping.
    mesh.tab(2000).start_rumor(now, "still here".into());
    mesh.run_until(3_000);
    assert!(mesh
        .tab(1000)
        .rumor()
        .iter_rumors()
        .any(|(r, _)| r.text == "still here"));
    let _ = a;
}

/// A link one end dropped and the other still holds (the refusal that said so was lost):
/// what the holder sends is counted apart, as benign, never as malformed, and its link pings
/// make the other end say "half open", so its driver can tell the holder again.
#[test]
fn a_link_held_at_one_end_only_is_reported_not_counted_malformed() {
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    let (a, b) = (tab_id(1000), tab_id(2000));
    assert!(mesh.tab(1000).links().all(|l| l.ready));
    let now = mesh.now;
    mesh.tab(2000).handle_link_down(now, a);
    events(mesh.tab(2000));
    let before = mesh.tab(2000).counters();
    mesh.run_until(1_000 + 2 * PING_EVERY_MS);
    let after = mesh.tab(2000).counters();
    assert_eq!(after.malformed, before.malformed, "nothing malformed");
    assert!(
        after.unlinked > before.unlinked,
        "counted as unlinked: {after:?}"
    );
    let half_open: Vec<NodeId> = events(mesh.tab(2000))
        .into_iter()
        .filter_map(|e| match e {
            LiveEvent::HalfOpen { peer } => Some(peer),
            LiveEvent::Refused { peer, error } => panic!("refused {peer}: {error}"),
            _ => None,
        })
        .collect();
    assert!(
        !half_open.is_empty() && half_open.iter().all(|&p| p == a),
        "{half_open:?}"
    );
    let _ = b;
}

#[test]
fn artificial_loss_drops_on_send() {
    let mut tab = LiveNode::new(identity(1), 1, config(1.0), Millis(0));
    tab.handle_link_up(Millis(0), NodeId(2));
    tab.handle_timeout(Millis(1_000));
    assert!(tab.poll_transmit().is_none());
    assert!(tab.counters().dropped > 0);
    assert_eq!(tab.counters().sent, 0);
}

#[test]
fn concurrent_writes_converge_and_a_crashed_tab_is_declared_dead() {
    let mut mesh = Mesh::new(4);
    mesh.run_until(500);
    let now = mesh.now;
    mesh.tab(1000).set(now, "color".into(), "red".into());
    mesh.tab(3000).set(now, "color".into(), "blue".into());
    mesh.run_until(4_000);
    let digests: BTreeSet<String> = mesh
        .tabs
        .values()
        .map(|t| format!("{:?}", t.kv().digest()))
        .collect();
    assert_eq!(digests.len(), 1, "every replica holds the same entries");
    assert!(mesh
        .tabs
        .values()
        .all(|t| t.kv().siblings("color").len() == 2));
    // Tab 4000 crashes (falls silent): the others suspect it, then declare it dead.
    mesh.down.insert(tab_id(4000));
    mesh.run_until(30_000);
    for id in [1000, 2000, 3000] {
        let view = mesh.tab(id).swim().member(tab_id(4000)).unwrap();
        assert_eq!(view.state, MemberState::Dead, "tab {id}");
    }
}

/// A closing tab may be gone before gossip runs: everyone it has a link to hears at once.
#[test]
fn a_leaving_tab_tells_every_linked_peer_at_once() {
    let mut mesh = Mesh::new(8);
    mesh.run_until(1_000);
    let now = mesh.now;
    mesh.tab(2000).leave(now);
    mesh.deliver();
    mesh.down.insert(tab_id(2000));
    for id in [1000, 3000, 4000, 5000, 6000, 7000, 8000] {
        assert_eq!(
            mesh.tab(id).swim().member(tab_id(2000)).unwrap().state,
            MemberState::Left,
            "tab {id}"
        );
    }
}

/// A large room is a partial mesh: here a ring of 10 tabs, each linked to its two neighbours.
/// Everyone still learns the whole membership by gossip, nobody running is declared dead (a
/// tab probes only the members it has links to), and a crash is known to all, neighbours or
/// not.
#[test]
fn swim_over_a_partial_mesh_knows_everyone_and_detects_a_crash_everywhere() {
    let n = 10;
    let mut mesh = Mesh::linked(n, |a, b| (a + 1) % n == b);
    mesh.run_until(20_000);
    for (id, tab) in &mesh.tabs {
        let members: Vec<(NodeId, MemberState)> = tab
            .swim()
            .iter_members()
            .map(|(m, v)| (m, v.state))
            .collect();
        assert_eq!(members.len() as u64, n - 1, "{id} knows everyone");
        assert!(
            members.iter().all(|m| m.1 == MemberState::Alive),
            "{id}: {members:?}"
        );
    }
    mesh.down.insert(tab_id(5000));
    mesh.run_until(60_000);
    for (&id, tab) in &mesh.tabs {
        if id != tab_id(5000) {
            assert_eq!(
                tab.swim().member(tab_id(5000)).unwrap().state,
                MemberState::Dead,
                "{id}"
            );
        }
    }
}

/// A tiny deterministic generator for the test's random mesh (xorshift64*).
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A connected random mesh on `n` members, every degree 4 to 6: each member in turn links to
/// random others until it has 4, skipping those at 6 (what the page's link policy aims at).
fn random_mesh(n: usize, seed: u64) -> Vec<BTreeSet<usize>> {
    let mut draw = Draw(seed | 1);
    loop {
        let mut adj = vec![BTreeSet::new(); n];
        for a in 0..n {
            for _ in 0..1_000 {
                if adj[a].len() >= 4 {
                    break;
                }
                let b = draw.below(n as u64) as usize;
                if b != a && adj[b].len() < 6 && !adj[a].contains(&b) {
                    adj[a].insert(b);
                    adj[b].insert(a);
                }
            }
        }
        let ok = adj.iter().all(|l| (4..=6).contains(&l.len()));
        if ok && diameter(&adj).is_some() {
            return adj;
        }
    }
}

/// The longest shortest path, `None` if the mesh is not connected.
fn diameter(adj: &[BTreeSet<usize>]) -> Option<usize> {
    let mut longest = 0;
    for start in 0..adj.len() {
        let mut dist = vec![usize::MAX; adj.len()];
        dist[start] = 0;
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(a) = queue.pop_front() {
            for &b in &adj[a] {
                if dist[b] == usize::MAX {
                    dist[b] = dist[a] + 1;
                    queue.push_back(b);
                }
            }
        }
        longest = longest.max(*dist.iter().max()?);
        if dist.contains(&usize::MAX) {
            return None;
        }
    }
    Some(longest)
}

/// P(Binomial(t, p) < k).
fn binomial_below(t: u64, p: f64, k: u64) -> f64 {
    let mut total = 0.0;
    let mut term = (1.0 - p).powi(t as i32); // P(X = 0)
    for x in 0..k.min(t + 1) {
        total += term;
        term *= (t - x) as f64 / (x + 1) as f64 * p / (1.0 - p);
    }
    total
}

/// Membership converges on any connected mesh, thanks to the periodic push-pull: 100 members
/// join one by one (one every 200 ms) over a random mesh of degree 4 to 6, at the page's
/// default interval (1 s: a SWIM period of 1 s, a push-pull every 5 s).
///
/// The bound, derived from the push-pull alone (piggybacked gossip only helps): each period
/// of push-pull, every member exchanges full state with one random linked member, so a given
/// link carries an exchange with probability at least `p = 1 - (1 - 1/6)^2` (either end picks
/// the other, degree at most 6). News crosses a shortest path of `D` links (the mesh's
/// diameter, measured) once `D` of its links have been picked in order, which takes more than
/// `T` push-pull periods with probability at most `P(Bin(T, p) < D)`. Over all `n²` ordered
/// pairs, the smallest `T` with `n² · P(Bin(T, p) < D) ≤ 1 %` bounds the time after the last
/// join (plus one period for the phase of each member's first push-pull).
#[test]
fn membership_converges_on_a_random_partial_mesh_within_the_push_pull_bound() {
    use grapevine_core::lab::live::ROOM_PUSH_PULL_PERIODS;
    let n = 100;
    let adj = random_mesh(n, 2026);
    let d = diameter(&adj).unwrap() as u64;
    let p = 1.0 - (5.0f64 / 6.0).powi(2);
    let pairs = (n * n) as f64;
    let t = (1..)
        .find(|&t| pairs * binomial_below(t, p, d) <= 0.01)
        .unwrap();
    let interval = 1_000u64;
    let push_pull = interval * u64::from(ROOM_PUSH_PULL_PERIODS);
    let join_every = 200u64;
    let last_join = (n as u64 - 1) * join_every;
    let bound = last_join + (t + 1) * push_pull;

    let id = |i: usize| tab_id((i as u64 + 1) * 1000);
    let key = |i: usize| identity((i as u64 + 1) * 1000);
    let config = LiveConfig {
        rumor: RumorConfig {
            interval_ms: interval as u32,
            ..RumorConfig::default()
        },
        loss: 0.0,
    };
    let mut mesh = Mesh {
        now: Millis(0),
        tabs: (0..n)
            .map(|i| {
                (
                    id(i),
                    LiveNode::new(key(i), i as u64 + 7, config, Millis(0)),
                )
            })
            .collect(),
        down: BTreeSet::new(),
        joins: Vec::new(),
        record: None,
    };
    // Member i joins at i * 200 ms: its links to members already there come up then.
    for (a, links) in adj.iter().enumerate() {
        for &b in links.iter().filter(|&&b| b < a) {
            mesh.joins
                .push((Millis(a as u64 * join_every), id(a), id(b)));
        }
    }
    let everyone_knows_everyone = |mesh: &Mesh| {
        mesh.tabs.values().all(|t| {
            t.swim()
                .iter_members()
                .filter(|(_, v)| v.state == MemberState::Alive)
                .count()
                == n - 1
        })
    };
    let mut converged = None;
    let mut at = last_join;
    while at <= bound {
        mesh.run_until(at);
        if everyone_knows_everyone(&mesh) {
            converged = Some(at);
            break;
        }
        at += 250;
    }
    eprintln!(
        "{n} members, diameter {d}, bound {:.1} s after the last join ({t} push-pulls of {push_pull} ms); converged {:?} ms after",
        (bound - last_join) as f64 / 1000.0,
        converged.map(|c| c - last_join)
    );
    let converged = converged.expect("every member lists every member alive within the bound");
    // And it stays so: nobody running is suspected over a quiet minute.
    mesh.run_until(converged + 60_000);
    assert!(
        everyone_knows_everyone(&mesh),
        "still everyone, a minute on"
    );
}

/// Dead members are forgotten after a bounded time, and an old member's push-pull does not
/// bring them back: tab 3000 is cut off (still listing tab 2000 alive) while 2000 crashes,
/// is declared dead, and forgotten by everyone else; when 3000 returns its push-pulls name
/// 2000 alive, and nobody lists 2000 again; 3000 itself, declared dead and forgotten while
/// away, refutes and is listed alive again.
#[test]
fn forgotten_members_stay_forgotten_when_an_old_member_returns() {
    use grapevine_core::lab::live::FORGET_AFTER_MS;
    let n = 8;
    let mut mesh = Mesh::linked(n, |a, b| (a + 1) % n == b || (a + 3) % n == b);
    mesh.run_until(10_000);
    for tab in mesh.tabs.values() {
        assert_eq!(tab.swim().iter_members().count() as u64, n - 1);
    }
    mesh.down.insert(tab_id(3000));
    mesh.run_until(11_000);
    mesh.down.insert(tab_id(2000));
    let forget = u64::from(FORGET_AFTER_MS);
    // Declared dead within ~10 s, forgotten a minute later.
    mesh.run_until(11_000 + 30_000 + forget);
    for (&id, tab) in &mesh.tabs {
        if id == tab_id(3000) {
            assert_eq!(
                tab.swim().member(tab_id(2000)).unwrap().state,
                MemberState::Alive,
                "the cut-off tab still lists 2000 alive"
            );
        } else if id != tab_id(2000) {
            assert_eq!(tab.swim().member(tab_id(2000)), None, "{id} forgot 2000");
            assert_eq!(tab.swim().member(tab_id(3000)), None, "{id} forgot 3000");
        }
    }
    mesh.down.remove(&tab_id(3000));
    let back = mesh.now.0;
    // Listed alive by nobody from now on, and 3000 learns 2000 is gone.
    for step in 1..=40 {
        mesh.run_until(back + step * 1_000);
        for (&id, tab) in &mesh.tabs {
            if id != tab_id(2000) && id != tab_id(3000) {
                assert_eq!(
                    tab.swim().member(tab_id(2000)),
                    None,
                    "{id}, {step} s after 3000 returned"
                );
            }
        }
    }
    let stale = mesh.tab(3000).swim().member(tab_id(2000));
    assert!(
        stale.is_none_or(|v| v.state == MemberState::Dead),
        "3000 corrected: {stale:?}"
    );
    for (&id, tab) in &mesh.tabs {
        if id != tab_id(2000) && id != tab_id(3000) {
            let back = tab
                .swim()
                .member(tab_id(3000))
                .expect("3000 is listed again");
            assert_eq!(back.state, MemberState::Alive, "{id}");
            assert!(
                back.incarnation.0 >= 1,
                "3000 refuted with a higher incarnation"
            );
        }
    }
}

/// A leaving member's goodbye reaches members it has no link to: they list it as left.
#[test]
fn a_goodbye_is_taken_without_a_link() {
    // A line: 1000 - 2000 - 3000; 1000 knows 3000 by gossip only.
    let mut mesh = Mesh::linked(3, |a, b| b == a + 1);
    mesh.run_until(5_000);
    let now = mesh.now;
    mesh.tab(1000).leave(now);
    let (bye, to) = mesh.tab(1000).goodbye();
    assert!(
        to.contains(&tab_id(3000)),
        "told to members without a link too"
    );
    mesh.tab(3000).handle_bytes(now, tab_id(1000), &bye);
    assert_eq!(
        mesh.tab(3000).swim().member(tab_id(1000)).unwrap().state,
        MemberState::Left
    );
}

/// News about a member at the last incarnation cannot be refuted: it is dropped (it used to
/// overflow the refutation), and the member stays alive everywhere. A peer asking for the full
/// state over and over is answered at the honest pace.
#[test]
fn unrefutable_news_is_dropped_and_push_pull_answers_are_paced() {
    use grapevine_core::lab::swim::{Incarnation, SwimMessage, Update};
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    let forged = SwimMessage::Ping {
        seq: 9,
        updates: vec![Update {
            member: tab_id(1000),
            incarnation: Incarnation(u32::MAX),
            state: MemberState::Dead,
            from: tab_id(2000),
            proof: None,
        }],
    };
    let now = mesh.now;
    let bytes = encode(&Message::Swim(forged)).unwrap();
    mesh.tab(1000).handle_bytes(now, tab_id(2000), &bytes);
    assert_eq!(mesh.tab(1000).swim().incarnation(), Incarnation(0));
    while mesh.tab(1000).poll_transmit().is_some() {}
    let ask = SwimMessage::PushPull {
        members: vec![],
        gone: vec![],
        reply: true,
    };
    let bytes = encode(&Message::Swim(ask)).unwrap();
    // Well after any push-pull of the run so far.
    let later = Millis(now.0 + 10_000);
    let mut answers = 0;
    for _ in 0..20 {
        mesh.tab(1000).handle_bytes(later, tab_id(2000), &bytes);
        while let Some((_, out)) = mesh.tab(1000).poll_transmit() {
            if matches!(
                grapevine_core::lab::wire::decode(&out),
                Ok(Message::Swim(SwimMessage::PushPull { .. }))
            ) {
                answers += 1;
            }
        }
    }
    assert_eq!(answers, 1, "one answer for twenty asks in the same instant");
}

// A rogue member: tab 3000 of a three-tab room turns hostile and sends, over its real links,
// what an attacker with the developer console would. Each attack is refused, counted by
// reason, and leaves the honest tabs' views and data as they were.

/// Sends `message` to tab `to` as if from tab `from` (its link vouches for the sender).
fn inject(mesh: &mut Mesh, from: u64, to: u64, message: Message) {
    let now = mesh.now;
    let bytes = encode(&message).expect("within the wire cap");
    mesh.tab(to).handle_bytes(now, tab_id(from), &bytes);
}

fn ping(updates: Vec<grapevine_core::lab::swim::Update>) -> Message {
    Message::Swim(grapevine_core::lab::swim::SwimMessage::Ping { seq: 7, updates })
}

fn update(
    member: u64,
    incarnation: u32,
    state: MemberState,
    proof: Option<grapevine_core::auth::Proof>,
) -> grapevine_core::lab::swim::Update {
    grapevine_core::lab::swim::Update {
        member: tab_id(member),
        incarnation: grapevine_core::lab::swim::Incarnation(incarnation),
        state,
        from: tab_id(3000),
        proof,
    }
}

#[test]
fn forged_leaves_and_deaths_are_refused_and_a_true_suspicion_is_refuted() {
    use grapevine_core::auth::Statement;
    let mut mesh = Mesh::new(3);
    mesh.run_until(3_000);
    let b = tab_id(2000);
    let alive_b0 = identity(2000).sign(&Statement::Alive {
        member: b,
        incarnation: 0,
    });
    let forged_by_mallory = identity(3000).sign(&Statement::Left {
        member: b,
        incarnation: 0,
    });
    // B left, with no proof: not applied; its proof is asked for from the sender (which has
    // none to give).
    inject(
        &mut mesh,
        3000,
        1000,
        ping(vec![update(2000, 0, MemberState::Left, None)]),
    );
    let asked = std::iter::from_fn(|| mesh.tab(1000).poll_transmit()).any(|(to, bytes)| {
        to == tab_id(3000)
            && matches!(
                grapevine_core::lab::wire::decode(&bytes),
                Ok(Message::Swim(grapevine_core::lab::swim::SwimMessage::Want { members }))
                    if members == vec![b]
            )
    });
    assert!(asked, "the proof of B's leave is asked for");
    // B left (signed by the rogue); B dead at the last incarnation (with B's real proof of
    // incarnation 0, copied from gossip); B left with B's alive proof.
    let attacks = vec![
        update(2000, 0, MemberState::Left, Some(forged_by_mallory)),
        update(2000, u32::MAX, MemberState::Dead, Some(alive_b0)),
        update(2000, 0, MemberState::Left, Some(alive_b0)),
        // About the victim itself, at the top incarnation: it must not jump there.
        update(1000, u32::MAX, MemberState::Suspect, Some(alive_b0)),
    ];
    for attack in attacks {
        inject(&mut mesh, 3000, 1000, ping(vec![attack]));
    }
    let a = mesh.tab(1000);
    assert_eq!(a.swim().member(b).unwrap().state, MemberState::Alive);
    assert_eq!(
        a.swim().incarnation().0,
        0,
        "no jump to the top incarnation"
    );
    let refused = a.refusals();
    // The rogue's own key; news about A at the last incarnation, refused unchecked.
    assert_eq!(refused.get("wrong-key"), 1, "{refused:?}");
    assert_eq!(refused.get("top-incarnation"), 1, "{refused:?}");
    assert_eq!(refused.get("bad-signature"), 2, "{refused:?}");
    // A suspicion at B's real incarnation is SWIM's third-party evidence: taken, and B
    // refutes it with a higher incarnation that everyone learns.
    inject(
        &mut mesh,
        3000,
        1000,
        ping(vec![update(2000, 0, MemberState::Suspect, Some(alive_b0))]),
    );
    assert_eq!(
        mesh.tab(1000).swim().member(b).unwrap().state,
        MemberState::Suspect
    );
    mesh.run_until(10_000);
    for id in [1000, 3000] {
        let view = mesh.tab(id).swim().member(b).unwrap();
        assert_eq!(view.state, MemberState::Alive, "tab {id}");
        assert!(view.incarnation.0 >= 1, "refuted: {view:?}");
    }
}

#[test]
fn forged_rumors_and_writes_are_refused_and_the_victims_writes_still_replicate() {
    use grapevine_core::auth::Statement;
    use grapevine_core::lab::kv::{Entry, KvMessage, VClock};
    use grapevine_core::lab::rumor::{Rumor, RumorId, RumorMessage};
    let mut mesh = Mesh::new(3);
    mesh.run_until(1_000);
    let now = mesh.now;
    mesh.tab(2000).set(now, "color".into(), "green".into());
    mesh.run_until(4_000);
    let b = tab_id(2000);
    // A rumor in B's name: unsigned, then signed by the rogue.
    let mut rumor = Rumor {
        id: RumorId { origin: b, seq: 9 },
        hops: 0,
        born_ms: 0,
        text: "B says the exam is cancelled".into(),
        proof: None,
    };
    inject(
        &mut mesh,
        3000,
        1000,
        Message::Rumor(RumorMessage::Push {
            rumors: vec![rumor.clone()],
        }),
    );
    rumor.proof = Some(identity(3000).sign(&Statement::Rumor {
        origin: b,
        seq: 9,
        born_ms: 0,
        text: &rumor.text,
    }));
    inject(
        &mut mesh,
        3000,
        1000,
        Message::Rumor(RumorMessage::Push {
            rumors: vec![rumor],
        }),
    );
    // A write in B's name at the largest version (it would stop B's later writes).
    let mut entry = Entry {
        origin: b,
        version: u64::MAX,
        key: "color".into(),
        value: "hacked".into(),
        timestamp: u64::MAX,
        clock: VClock(vec![(b, u64::MAX)]),
        proof: None,
    };
    inject(
        &mut mesh,
        3000,
        1000,
        Message::Kv(KvMessage::Ack {
            delta: vec![entry.clone()],
            want: vec![],
        }),
    );
    entry.proof = Some(identity(3000).sign(&Statement::Write {
        origin: b,
        version: u64::MAX,
        key: "color",
        value: "hacked",
        timestamp: u64::MAX,
        clock: &entry.clock.0,
    }));
    inject(
        &mut mesh,
        3000,
        1000,
        Message::Kv(KvMessage::Ack {
            delta: vec![entry],
            want: vec![],
        }),
    );
    let a = mesh.tab(1000);
    assert!(a.rumor().iter_rumors().all(|(r, _)| r.id.origin != b));
    assert_eq!(a.kv().lww("color").unwrap().value, "green");
    let refused = a.refusals();
    assert_eq!(refused.get("unsigned"), 2, "{refused:?}");
    assert_eq!(refused.get("wrong-key"), 2, "{refused:?}");
    // B's next write replicates as ever.
    let now = mesh.now;
    mesh.tab(2000).set(now, "color".into(), "blue".into());
    mesh.run_until(8_000);
    for id in [1000, 2000, 3000] {
        assert_eq!(
            mesh.tab(id).kv().lww("color").unwrap().value,
            "blue",
            "tab {id}"
        );
    }
}

#[test]
fn thousands_of_fake_members_are_refused_and_the_list_stays_bounded() {
    use grapevine_core::auth::Statement;
    use grapevine_core::lab::swim::{SwimMessage, MAX_PENDING, MAX_SIGNED_MEMBERS};
    let mut mesh = Mesh::new(3);
    mesh.run_until(3_000);
    // Tab 1000 knows the room from the server (the other two); tab 2000 has no server.
    for peer in [2000, 3000] {
        let id = tab_id(peer);
        let now = mesh.now;
        mesh.tab(1000).handle_peer_here(now, id);
    }
    // 1,500 made-up members, each properly signed by its own fresh key.
    let fakes: Vec<_> = (0..1_500u64)
        .map(|i| {
            let key = identity(1_000_000 + i);
            let proof = key.sign(&Statement::Alive {
                member: key.id(),
                incarnation: 0,
            });
            grapevine_core::lab::swim::Update {
                member: key.id(),
                incarnation: grapevine_core::lab::swim::Incarnation(0),
                state: MemberState::Alive,
                from: tab_id(3000),
                proof: Some(proof),
            }
        })
        .collect();
    for chunk in fakes.chunks(100) {
        let sync = Message::Swim(SwimMessage::Sync {
            members: chunk.to_vec(),
        });
        for to in [1000, 2000] {
            inject(&mut mesh, 3000, to, sync.clone());
        }
    }
    let listed = |mesh: &mut Mesh, id| mesh.tab(id).swim().iter_members().count();
    assert_eq!(listed(&mut mesh, 1000), 2, "only the room's members");
    // News of the first 256 waits for the server's word (an honest class joining at once
    // sends such news): refused are the rest, and those still unknown when it expires.
    let refused = |mesh: &mut Mesh| mesh.tab(1000).refusals().get("not-in-room");
    assert_eq!(refused(&mut mesh), 1_500 - MAX_PENDING as u64);
    // News that came before the server's word that a member joined is kept (a bounded
    // few): once the member is in the room, it is listed at once.
    let late = fakes[0].member;
    let now = mesh.now;
    mesh.tab(1000).handle_peer_here(now, late);
    assert_eq!(
        mesh.tab(1000).swim().member(late).map(|v| v.state),
        Some(MemberState::Alive)
    );
    assert_eq!(listed(&mut mesh, 2000), MAX_SIGNED_MEMBERS, "bounded");
    assert!(mesh.tab(2000).refusals().get("member-cap") >= 1_500 - MAX_SIGNED_MEMBERS as u64);
    // The honest members are still there and alive.
    mesh.run_until(6_000);
    for id in [2000, 3000] {
        let view = mesh.tab(1000).swim().member(tab_id(id)).unwrap();
        assert_eq!(view.state, MemberState::Alive);
    }
}

/// News of a member the server has not announced yet waits for its word (a class joining at
/// once: the gossip outruns the server's), uncounted; counted as `not-in-room` is news of
/// members that never join, once its wait is over.
#[test]
fn news_ahead_of_the_servers_word_is_counted_only_if_the_word_never_comes() {
    use grapevine_core::auth::Statement;
    use grapevine_core::lab::swim::{Incarnation, SwimMessage, Update, PENDING_MS};
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    let now = mesh.now;
    mesh.tab(1000).handle_peer_here(now, tab_id(2000));
    let news = |n: u64| {
        let key = identity(n);
        let proof = key.sign(&Statement::Alive {
            member: key.id(),
            incarnation: 0,
        });
        Message::Swim(SwimMessage::Sync {
            members: vec![Update {
                member: key.id(),
                incarnation: Incarnation(0),
                state: MemberState::Alive,
                from: tab_id(2000),
                proof: Some(proof),
            }],
        })
    };
    let refused = |mesh: &mut Mesh| mesh.tab(1000).refusals().get("not-in-room");
    // Ten members' news before the server's word: nothing counted; one of them joins.
    for n in 0..10 {
        inject(&mut mesh, 2000, 1000, news(5_000 + n));
    }
    assert_eq!(refused(&mut mesh), 0, "news waiting for the server's word");
    let now = mesh.now;
    mesh.tab(1000).handle_peer_here(now, tab_id(5_000));
    assert!(mesh.tab(1000).swim().member(tab_id(5_000)).is_some());
    // The other nine never join: counted once their wait is over.
    mesh.run_until(1_000 + PENDING_MS + 1_000);
    inject(&mut mesh, 2000, 1000, news(6_000));
    assert_eq!(refused(&mut mesh), 9);
}

#[test]
fn a_flooding_peer_is_cut_to_its_rate() {
    use grapevine_core::lab::live::PEER_MESSAGES_PER_SEC;
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    let hello = Message::Link(grapevine_core::lab::live::LinkMessage::Ping { sent_ms: 0 });
    for _ in 0..5_000 {
        inject(&mut mesh, 2000, 1000, hello.clone());
    }
    let refused = mesh.tab(1000).refusals().get("peer-rate");
    // A burst of two seconds' worth, then nothing in the same instant.
    let burst = 2 * u64::from(PEER_MESSAGES_PER_SEC);
    assert!(
        refused >= 5_000 - burst - 10 && refused <= 5_000 - burst + 10,
        "{refused}"
    );
    // And the link works on once the rate allows.
    mesh.run_until(5_000);
    assert!(mesh.tab(1000).links().all(|l| l.ready));
}

/// Once every member agrees, a push-pull is a summary (a hash of the membership) and nothing
/// more; where views differ it is a digest: about 25 bytes a member, no proofs (125 bytes
/// with one). News goes with its proof, to whoever asks for it.
#[test]
fn signed_push_pulls_are_summaries_in_step_and_digests_otherwise() {
    use grapevine_core::lab::swim::SwimMessage;
    use grapevine_core::lab::wire::decode;
    let n = 8;
    let mut mesh = Mesh::linked(n, |a, b| (a + 1) % n == b || (a + 3) % n == b);
    mesh.run_until(15_000);
    for tab in mesh.tabs.values() {
        assert_eq!(tab.swim().iter_members().count() as u64, n - 1);
    }
    let swim = |mesh: &mut Mesh| -> Vec<SwimMessage> {
        let record = mesh.record.take().unwrap();
        record
            .iter()
            .filter_map(|b| match decode(b).unwrap() {
                Message::Swim(m) => Some(m),
                _ => None,
            })
            .collect()
    };
    mesh.record = Some(Vec::new());
    mesh.run_until(35_000);
    let quiet = swim(&mut mesh);
    let summaries = quiet
        .iter()
        .filter(|m| matches!(m, SwimMessage::Summary { .. }));
    // 20 s of push-pulls, one every few periods of 200 ms by each member: at least half.
    let due = n * 20_000 / (200 * u64::from(grapevine_core::lab::live::ROOM_PUSH_PULL_PERIODS));
    assert!(summaries.count() as u64 >= due / 2, "summaries ran");
    let more: Vec<&SwimMessage> = quiet
        .iter()
        .filter(|m| matches!(m, SwimMessage::PushPull { .. } | SwimMessage::Want { .. }))
        .collect();
    assert!(
        more.is_empty(),
        "in step, a summary and nothing more: {more:?}"
    );
    // A member restarts its life (its key, incarnation 0): its refutation is news, and goes
    // with its proof; everyone lists it alive at the new incarnation.
    mesh.down.insert(tab_id(4000));
    mesh.run_until(45_000);
    mesh.down.remove(&tab_id(4000));
    mesh.record = Some(Vec::new());
    mesh.run_until(70_000);
    for (&id, tab) in &mesh.tabs {
        if id != tab_id(4000) {
            let view = tab.swim().member(tab_id(4000)).unwrap();
            assert_eq!(view.state, MemberState::Alive, "{id}");
            assert!(view.incarnation.0 >= 1);
        }
    }
    // Views differed: summaries were answered with digests (every member, no proof).
    let digests = swim(&mut mesh)
        .into_iter()
        .filter(|m| match m {
            SwimMessage::PushPull { members, .. } => {
                members.len() as u64 == n && members.iter().all(|u| u.proof.is_none())
            }
            _ => false,
        })
        .count();
    assert!(digests >= 1, "no digest answered a summary");
}

/// Accusations replayed by the hundred (each vouched by the victim's own proof at its
/// current incarnation, which anyone can copy from gossip) make it refute once a period at
/// most, not once per accusation: its incarnation does not run away, nor its CPU.
#[test]
fn replayed_accusations_are_refuted_once_a_period() {
    use grapevine_core::lab::swim::SwimMessage;
    let mut mesh = Mesh::new(3);
    mesh.run_until(3_000);
    let accusations: Vec<_> = (0..500)
        .map(|i| update(1000, i, MemberState::Suspect, None))
        .collect();
    for chunk in accusations.chunks(100) {
        let sync = Message::Swim(SwimMessage::Sync {
            members: chunk.to_vec(),
        });
        inject(&mut mesh, 3000, 1000, sync);
    }
    assert_eq!(mesh.tab(1000).swim().incarnation().0, 1, "one refutation");
    // The same again every 10 ms for 5 s: at most one more a period (200 ms here).
    let start = mesh.now.0;
    for step in 1..=500u64 {
        mesh.run_until(start + step * 10);
        let inc = mesh.tab(1000).swim().incarnation().0;
        inject(
            &mut mesh,
            3000,
            1000,
            ping(vec![update(1000, inc, MemberState::Suspect, None)]),
        );
    }
    let inc = mesh.tab(1000).swim().incarnation().0;
    assert!(inc <= 2 + 5_000 / 200, "incarnation {inc} after 5 s");
    // And it is alive for everyone.
    mesh.run_until(start + 10_000);
    for id in [2000, 3000] {
        let view = mesh.tab(id).swim().member(tab_id(1000)).unwrap();
        assert_eq!(view.state, MemberState::Alive, "tab {id}");
    }
}

/// A peer that sends forged signatures is refused unread after a few: each costs a
/// verification, and an honest member sends none.
#[test]
fn a_forging_peer_is_refused_unread() {
    use grapevine_core::auth::Statement;
    use grapevine_core::lab::live::MAX_FORGERIES;
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    for i in 0..(MAX_FORGERIES as u32 + 10) {
        // News of others' leaves, signed with the sender's own key: wrong-key every time.
        let member = 9_000 + u64::from(i);
        let proof = identity(2000).sign(&Statement::Left {
            member: tab_id(member),
            incarnation: 0,
        });
        let news = update(member, 0, MemberState::Left, Some(proof));
        inject(&mut mesh, 2000, 1000, ping(vec![news]));
    }
    let refused = mesh.tab(1000).refusals();
    assert!(refused.get("wrong-key") <= MAX_FORGERIES + 1, "{refused:?}");
    assert!(refused.get("banned") >= 9, "{refused:?}");
}

/// With the server's roster, a write by a key that is not in the room is refused: keys
/// made up by the thousand cannot fill the writer cap.
#[test]
fn writes_by_keys_not_in_the_room_are_refused() {
    use grapevine_core::auth::Statement;
    use grapevine_core::lab::kv::{Entry, KvMessage, VClock};
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    let now = mesh.now;
    let other = tab_id(2000);
    mesh.tab(1000).handle_peer_here(now, other);
    let fake = identity(123_456);
    let clock = VClock(vec![(fake.id(), 1)]);
    let proof = fake.sign(&Statement::Write {
        origin: fake.id(),
        version: 1,
        key: "k",
        value: "v",
        timestamp: 0,
        clock: &clock.0,
    });
    let entry = Entry {
        origin: fake.id(),
        version: 1,
        key: "k".into(),
        value: "v".into(),
        timestamp: 0,
        clock,
        proof: Some(proof),
    };
    inject(
        &mut mesh,
        2000,
        1000,
        Message::Kv(KvMessage::Ack {
            delta: vec![entry],
            want: vec![],
        }),
    );
    assert!(mesh.tab(1000).kv().lww("k").is_none());
    // Counted once the server's word that the writer joined has had its time to come.
    assert_eq!(mesh.tab(1000).refusals().get("not-in-room"), 0);
    let later = mesh.now.0 + grapevine_core::lab::swim::PENDING_MS + 1_000;
    mesh.run_until(later);
    assert!(mesh.tab(1000).kv().lww("k").is_none());
    assert_eq!(mesh.tab(1000).refusals().get("not-in-room"), 1);
}

/// A rogue that forwards an origin's writes but withholds one (its rewrite of a key) and
/// hands in the key's captured old write instead leaves its victim at the origin's latest
/// version with a stale value: version digests look in step. The per-origin checks find it,
/// and the victim holds the origin's entries as every honest replica does within 10 s of an
/// honest link. Tabs: 1000 writes, 2000 is honest, 3000 the victim, 4000 its only link
/// before (the rogue's messages arrive over it).
#[test]
fn a_withheld_write_and_a_pinned_old_one_heal_over_an_honest_link() {
    use grapevine_core::lab::kv::{Entry, KvMessage};
    let mut mesh = Mesh::linked(4, |a, b| (a, b) == (0, 1) || (a, b) == (2, 3));
    let origin = tab_id(1000);
    mesh.run_until(1_000);
    let now = mesh.now;
    mesh.tab(1000).set(now, "color".into(), "red".into());
    let old: Entry = mesh.tab(1000).kv().lww("color").unwrap().clone();
    mesh.run_until(2_000);
    let now = mesh.now;
    mesh.tab(1000).set(now, "color".into(), "green".into());
    mesh.tab(1000).set(now, "shape".into(), "round".into());
    mesh.run_until(4_000);
    let honest: Vec<Entry> = mesh.tab(2000).kv().entries_of(origin).cloned().collect();
    assert!(honest.iter().any(|e| e.value == "green"), "{honest:?}");
    // The rogue's delta: everything of the origin's but the rewrite, the old write instead.
    let mut forged: Vec<Entry> = honest
        .iter()
        .map(|e| {
            if e.key == "color" {
                old.clone()
            } else {
                e.clone()
            }
        })
        .collect();
    forged.sort_by_key(|e| e.version);
    // The server's word: who is in the room.
    let now = mesh.now;
    for member in [1000, 2000, 4000] {
        mesh.tab(3000).handle_peer_here(now, tab_id(member));
    }
    inject(
        &mut mesh,
        4000,
        3000,
        Message::Kv(KvMessage::Ack {
            delta: forged,
            want: vec![],
        }),
    );
    let version = |mesh: &mut Mesh, tab: u64| {
        let digest = mesh.tab(tab).kv().digest();
        digest.0.iter().find(|(o, _)| *o == origin).map(|p| p.1)
    };
    assert_eq!(
        version(&mut mesh, 3000),
        version(&mut mesh, 2000),
        "the victim's version of the origin looks in step"
    );
    assert_eq!(mesh.tab(3000).kv().lww("color").unwrap().value, "red");
    // An honest link; the origin writes nothing more meanwhile.
    let linked = mesh.now.0;
    mesh.joins
        .push((Millis(linked), tab_id(2000), tab_id(3000)));
    let mut healed = None;
    while mesh.now.0 < linked + 10_000 {
        mesh.run_until(mesh.now.0 + 100);
        let entries = |mesh: &mut Mesh, tab: u64| -> Vec<Entry> {
            mesh.tab(tab).kv().entries_of(origin).cloned().collect()
        };
        if entries(&mut mesh, 3000) == entries(&mut mesh, 2000) {
            healed = Some(mesh.now.0 - linked);
            break;
        }
    }
    let victim: Vec<(String, String)> = mesh
        .tab(3000)
        .kv()
        .entries_of(origin)
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert!(
        healed.is_some(),
        "10 s after an honest link the victim still holds {victim:?}"
    );
    assert_eq!(mesh.tab(3000).kv().lww("color").unwrap().value, "green");
    let refused = mesh.tab(3000).refusals();
    assert_eq!(
        refused.total(),
        0,
        "{refused:?} (healed after {healed:?} ms)"
    );
}

/// A request of a few bytes that draws kilobytes (a key-value digest that is empty: "send me
/// everything") is charged to the peer that asked: a flood of them at the message rate draws
/// at most the answer budget (plus its burst), and what is past it is counted.
#[test]
fn a_flood_of_empty_digests_draws_only_the_answer_budget() {
    use grapevine_core::lab::kv::{Checks, Digest, KvMessage, Span};
    use grapevine_core::lab::live::ANSWER_BYTES_PER_INTERVAL;
    let mut mesh = Mesh::new(2);
    mesh.run_until(1_000);
    // Values deflate cannot shrink (a live link deflates what it sends).
    let mut x = 1u64;
    for i in 0..40 {
        let value: String = (0..25)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:08x}", x >> 32)
            })
            .collect();
        let now = mesh.now;
        mesh.tab(1000).set(now, format!("key-{i}"), value);
    }
    mesh.run_until(3_000);
    let greedy = tab_id(2000);
    let empty = Message::Kv(KvMessage::Syn {
        span: Span::ALL,
        digest: Digest(vec![]),
        checks: Checks::default(),
    });
    // 150 requests a second for 4 s, under the message rate (200/s).
    let (seconds, per_second) = (4, 150);
    let mut answered = 0;
    let start = mesh.now.0;
    for i in 0..seconds * per_second {
        mesh.now = Millis(start + i * 1_000 / per_second);
        inject(&mut mesh, 2000, 1000, empty.clone());
        while let Some((to, bytes)) = mesh.tab(1000).poll_transmit() {
            if to == greedy {
                answered += bytes.len() as u64;
            }
        }
    }
    let interval = mesh.tab(1000).config().rumor.interval_ms as u64;
    let rate = u64::from(ANSWER_BYTES_PER_INTERVAL) * 1_000 / interval;
    // What the timers sent meanwhile is not in `answered` (the mesh did not run them).
    let bound = rate * seconds + 2 * rate;
    let refused = mesh.tab(1000).refusals();
    assert!(
        answered <= bound,
        "{answered} bytes answered to a flood, budget {bound} ({refused:?})"
    );
    assert!(refused.get("answer-bytes") > 0, "{refused:?}");
    assert_eq!(refused.get("peer-rate"), 0, "{refused:?}");
    // The honest room: nothing refused in the same mesh's own exchanges.
    assert_eq!(mesh.tab(2000).refusals().total(), 0);
}

/// Tabs 1000..=6000 on a ring (each linked to its two neighbours): a rumor's tree has to
/// follow real links.
fn ring(n: u64) -> Mesh {
    Mesh::linked(n, move |a, b| (a + 1) % n == b)
}

#[test]
fn every_member_draws_the_whole_room_and_the_rumors_tree() {
    use grapevine_core::lab::room::{spread, Carrier};
    let mut mesh = ring(6);
    mesh.tab(3000)
        .set_carrier(Millis(0), tab_id(4000), Carrier::Relay);
    mesh.run_until(2_000);
    let now = mesh.now;
    mesh.tab(1000).start_rumor(now, "over the ring".into());
    mesh.run_until(20_000);
    let rumor = mesh.tab(1000).rumor().iter_rumors().next().unwrap().0.id;
    let links: BTreeMap<NodeId, BTreeSet<NodeId>> = mesh
        .tabs
        .iter()
        .map(|(&id, t)| (id, t.links().filter(|l| l.ready).map(|l| l.peer).collect()))
        .collect();
    for (&id, tab) in &mesh.tabs {
        let room = tab.room();
        assert_eq!(room.len(), 6, "{id} lists the whole room");
        for m in &room {
            let recorded: BTreeSet<NodeId> = m.record.links.iter().map(|l| l.0).collect();
            assert_eq!(recorded, links[&m.id], "{id}'s picture of {}'s links", m.id);
        }
        let three = room.iter().find(|m| m.id == tab_id(3000)).unwrap();
        assert!(three.record.links.contains(&(tab_id(4000), Carrier::Relay)));
        let s = spread(&room, rumor, None);
        assert_eq!((s.informed, s.members), (6, 6), "{id}");
        assert_eq!(s.edges.len(), 5, "one arrow per member told: {:?}", s.edges);
        for e in &s.edges {
            assert!(
                links[&e.to].contains(&e.from),
                "told over a real link: {e:?}"
            );
            let teller = room.iter().find(|m| m.id == e.from).unwrap();
            let told_at = teller.heard(rumor).unwrap();
            assert!(
                e.hops == told_at.hops + 1,
                "hops count along the tree: {e:?}"
            );
        }
        assert!(s.everyone_after_ms.is_some());
        assert_eq!(s.curve.len(), 6);
    }
}

#[test]
fn the_conductors_orders_set_split_freeze_and_reset_the_room_and_nothing_else_does() {
    use grapevine_core::lab::conduct::{sign_order, Baton, Command, Settings};
    let conductor = identity(1000);
    let mut baton = Baton::new(conductor.clone(), "class".into(), 0);
    let mut mesh = Mesh::new(6);
    for tab in mesh.tabs.values_mut() {
        tab.handle_conductor(conductor.id());
    }
    mesh.run_until(1_000);
    let everyone = |mesh: &mut Mesh, text: &str| -> Vec<Result<(), &'static str>> {
        let now = mesh.now;
        mesh.tabs
            .values_mut()
            .map(|t| t.handle_order(now, "class", text).map(|_| ()))
            .collect()
    };
    let settings = |fanout| {
        Command::Settings(Settings {
            fanout,
            interval_ms: 250,
            loss_percent: 0,
            stop: 0,
            k: 1,
        })
    };
    let three = baton.order(mesh.now.0, &settings(3));
    assert!(everyone(&mut mesh, &three).iter().all(Result::is_ok));
    assert!(mesh.tabs.values().all(|t| t.config().rumor.fanout == 3));
    // A student's forgery, and an older order of the conductor's never given (a replay):
    // refused everywhere. The same order again (a reconnection) is known, not refused.
    let forged = sign_order(&identity(2000), "class", u64::MAX - 1, &settings(9));
    assert!(everyone(&mut mesh, &forged)
        .iter()
        .all(|r| *r == Err("wrong-key")));
    let older = sign_order(&conductor, "class", 1, &settings(9));
    assert!(everyone(&mut mesh, &older)
        .iter()
        .all(|r| *r == Err("replayed")));
    assert!(everyone(&mut mesh, &three)
        .iter()
        .all(|r| *r == Err("known")));
    assert!(mesh
        .tabs
        .values()
        .all(|t| t.refusals().get("replayed") == 1 && t.refusals().get("known") == 0));
    assert!(mesh.tabs.values().all(|t| t.config().rumor.fanout == 3));

    // Split: 1000..3000 | 4000..6000.
    let left: Vec<NodeId> = [1000, 2000, 3000].map(tab_id).to_vec();
    let members = mesh
        .tabs
        .keys()
        .map(|&id| (id, u8::from(!left.contains(&id))))
        .collect();
    let split = baton.order(mesh.now.0 + 1, &Command::Split { groups: 2, members });
    everyone(&mut mesh, &split);
    let rumor = baton.order(
        mesh.now.0 + 2,
        &Command::Rumor {
            at: tab_id(2000),
            text: "only the left".into(),
        },
    );
    everyone(&mut mesh, &rumor);
    let t = mesh.now.0;
    mesh.run_until(t + 10_000);
    for (id, tab) in &mesh.tabs {
        let knows = tab.rumor().iter_rumors().count() == 1;
        assert_eq!(knows, left.contains(id), "{id} across the split");
    }
    assert!(mesh.tab(4000).counters().cut > 0);
    let heal = baton.order(
        mesh.now.0,
        &Command::Split {
            groups: 1,
            members: vec![],
        },
    );
    everyone(&mut mesh, &heal);
    let t = mesh.now.0;
    mesh.run_until(t + 10_000);
    assert!(mesh
        .tabs
        .values()
        .all(|t| t.rumor().iter_rumors().count() == 1));

    // Freeze 6000: it falls silent and the others declare it dead; thawed, it is back.
    let freeze = baton.order(
        mesh.now.0,
        &Command::Freeze {
            member: tab_id(6000),
            frozen: true,
        },
    );
    everyone(&mut mesh, &freeze);
    let t = mesh.now.0;
    mesh.run_until(t + 20_000);
    let status = |mesh: &mut Mesh, of: u64| {
        mesh.tab(1000)
            .swim()
            .iter_members()
            .find(|(id, _)| *id == tab_id(of))
            .map(|(_, v)| v.state)
    };
    assert_eq!(status(&mut mesh, 6000), Some(MemberState::Dead));
    let thaw = baton.order(
        mesh.now.0,
        &Command::Freeze {
            member: tab_id(6000),
            frozen: false,
        },
    );
    everyone(&mut mesh, &thaw);
    let t = mesh.now.0;
    mesh.run_until(t + 20_000);
    // Everyone alive in everyone's list again: the sides of the healed split, and the
    // thawed member, were declared dead while still linked, and refuted it.
    for (id, tab) in &mesh.tabs {
        let dead: Vec<NodeId> = tab
            .swim()
            .iter_members()
            .filter(|(_, v)| v.state != MemberState::Alive)
            .map(|(m, _)| m)
            .collect();
        assert!(dead.is_empty(), "{id} still lists {dead:?} as not alive");
    }

    let now = mesh.now;
    mesh.tab(1000).guess(now, 1, 4.5);
    let t = mesh.now.0;
    mesh.run_until(t + 5_000);
    assert!(mesh
        .tab(2000)
        .room()
        .iter()
        .any(|m| m.record.guess.is_some()));
    let reset = baton.order(mesh.now.0, &Command::Reset);
    everyone(&mut mesh, &reset);
    let t = mesh.now.0;
    mesh.run_until(t + 5_000);
    assert!(mesh
        .tabs
        .values()
        .all(|t| t.rumor().iter_rumors().count() == 0));
    // The room's picture starts over: no member shows a rumor heard (the rumors before the
    // reset were recorded by every member) within a few anti-entropy rounds.
    for (id, tab) in &mesh.tabs {
        let heard: Vec<NodeId> = tab
            .room()
            .iter()
            .filter(|m| !m.record.heard.is_empty())
            .map(|m| m.id)
            .collect();
        assert!(
            heard.is_empty(),
            "{id} still shows rumors heard by {heard:?}"
        );
        assert!(
            tab.room().iter().all(|m| m.record.guess.is_none()),
            "{id} shows a guess"
        );
    }

    // Remove 5000 (which does not obey: a hostile member): gone from every member's
    // picture at once, its rumor reaches nobody, and it stays out (its links still open:
    // the members drop what it sends).
    let remove = baton.order(
        mesh.now.0,
        &Command::Remove {
            members: vec![tab_id(5000)],
        },
    );
    let now = mesh.now;
    for (id, tab) in mesh.tabs.iter_mut() {
        if *id != tab_id(5000) {
            tab.handle_order(now, "class", &remove).unwrap();
        }
    }
    for (id, tab) in &mesh.tabs {
        if *id != tab_id(5000) {
            assert!(
                tab.room().iter().all(|m| m.id != tab_id(5000)),
                "{id} still shows the removed member"
            );
        }
    }
    let now = mesh.now;
    mesh.tab(5000).start_rumor(now, "from the removed".into());
    let t = mesh.now.0;
    mesh.run_until(t + 10_000);
    for (id, tab) in &mesh.tabs {
        if *id != tab_id(5000) {
            assert_eq!(
                tab.rumor().iter_rumors().count(),
                0,
                "{id} heard the removed member"
            );
            assert!(tab.room().iter().all(|m| m.id != tab_id(5000)));
        }
    }
}

//! The room, seen from one member: every member's links and, for a rumor, when and from whom
//! each member heard it, so a page can draw the whole room's gossip, not only its own.
//!
//! How a member knows: each member writes a small, bounded record of itself into the
//! replicated key-value map, signed like any write, and anti-entropy spreads it: its links
//! (`room.<id>.links`), the last [`HEARD_SLOTS`] rumors it heard (`room.<id>.heard.<slot>`:
//! which, from whom, when, at how many hops, and when it stopped spreading it) and its guess
//! (`room.<id>.guess`). A record is taken only from the member it describes (the key names
//! it, and the write must be its own), so no member can draw another's links or another's
//! arrival; a member does say whom it heard a rumor from (an arrow into itself), as it says
//! everything about itself. The picture is eventually consistent, like everything gossip
//! carries: a member's record reaches the others a few gossip rounds after it changed.
//!
//! Times are the members' own clocks (ms since the epoch); the tree's times are each
//! member's arrival minus the rumor's birth on its origin's clock, so clocks that disagree
//! (machines not synchronised) shift them.

use super::rumor::RumorId;
use super::swim::MemberState;
use super::NodeId;
use crate::signal::{parse_peer, peer_hex};
use crate::theory::Model;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Rumors a member's record holds (the most recent it heard).
pub const HEARD_SLOTS: u8 = 8;
/// Links a member's record holds at most.
pub const MAX_LINKS_RECORDED: usize = 12;
/// How long a member counts as having "just heard" a rumor, ms (then it is spreading).
pub const JUST_HEARD_MS: u64 = 1_000;
/// The prefix of every record key: the page's key-value table leaves these out.
pub const PREFIX: &str = "room.";

/// What carries a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// A WebRTC data channel, peer to peer.
    Direct,
    /// A WebRTC data channel through a TURN server.
    Turn,
    /// The signaling server's relay.
    Relay,
}

impl Carrier {
    /// Its name: `direct`, `turn`, `relay`.
    pub fn name(self) -> &'static str {
        match self {
            Carrier::Direct => "direct",
            Carrier::Turn => "turn",
            Carrier::Relay => "relay",
        }
    }

    /// Parses [`Carrier::name`].
    pub fn from_name(name: &str) -> Option<Carrier> {
        Carrier::ALL.into_iter().find(|c| c.name() == name)
    }

    const ALL: [Carrier; 3] = [Carrier::Direct, Carrier::Turn, Carrier::Relay];

    fn letter(self) -> &'static str {
        match self {
            Carrier::Direct => "d",
            Carrier::Turn => "t",
            Carrier::Relay => "r",
        }
    }

    fn from_letter(letter: &str) -> Option<Carrier> {
        Carrier::ALL.into_iter().find(|c| c.letter() == letter)
    }
}

/// When and how a member heard a rumor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heard {
    /// Which rumor.
    pub rumor: RumorId,
    /// Who told it (itself, for the origin).
    pub from: NodeId,
    /// When, its clock, ms.
    pub at_ms: u64,
    /// Hops from the origin.
    pub hops: u16,
    /// When it stopped spreading it (its stop rule), if it did.
    pub stopped_ms: Option<u64>,
}

impl Heard {
    /// What the member knew at time `t` (ms, same clock): `unaware`, `heard` (within
    /// [`JUST_HEARD_MS`]), `spreading` or `stopped`.
    pub fn state_at(heard: Option<&Heard>, t: u64) -> &'static str {
        match heard {
            Some(h) if h.at_ms <= t => {
                if h.stopped_ms.is_some_and(|s| s <= t) {
                    "stopped"
                } else if t - h.at_ms < JUST_HEARD_MS {
                    "heard"
                } else {
                    "spreading"
                }
            }
            _ => "unaware",
        }
    }
}

/// The key of `member`'s links record.
pub fn links_key(member: NodeId) -> String {
    format!("{PREFIX}{}.links", peer_hex(member))
}

/// The key of `member`'s heard record in `slot`.
pub fn heard_key(member: NodeId, slot: u8) -> String {
    format!("{PREFIX}{}.heard.{slot}", peer_hex(member))
}

/// The key of `member`'s guess.
pub fn guess_key(member: NodeId) -> String {
    format!("{PREFIX}{}.guess", peer_hex(member))
}

/// A links record's value: `d:<id> r:<id> …`.
pub fn links_value(links: &[(NodeId, Carrier)]) -> String {
    let mut out = String::new();
    for (peer, carrier) in links.iter().take(MAX_LINKS_RECORDED) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(carrier.letter());
        out.push(':');
        out.push_str(&peer_hex(*peer));
    }
    out
}

fn parse_links(value: &str) -> Vec<(NodeId, Carrier)> {
    value
        .split(' ')
        .filter_map(|item| {
            let (kind, peer) = item.split_once(':')?;
            Some((parse_peer(peer)?, Carrier::from_letter(kind)?))
        })
        .take(MAX_LINKS_RECORDED)
        .collect()
}

/// A heard record's value: `<origin>.<seq> <from> <at> <hops> [<stopped>]`.
pub fn heard_value(h: &Heard) -> String {
    let mut out = format!(
        "{}.{} {} {} {}",
        peer_hex(h.rumor.origin),
        h.rumor.seq,
        peer_hex(h.from),
        h.at_ms,
        h.hops
    );
    if let Some(s) = h.stopped_ms {
        out.push_str(&format!(" {s}"));
    }
    out
}

fn parse_heard(value: &str) -> Option<Heard> {
    let mut parts = value.split(' ');
    let (origin, seq) = parts.next()?.split_once('.')?;
    let rumor = RumorId {
        origin: parse_peer(origin)?,
        seq: seq.parse().ok()?,
    };
    let from = parse_peer(parts.next()?)?;
    let at_ms = parts.next()?.parse().ok()?;
    let hops = parts.next()?.parse().ok()?;
    let stopped_ms = match parts.next() {
        Some(s) => Some(s.parse().ok()?),
        None => None,
    };
    Some(Heard {
        rumor,
        from,
        at_ms,
        hops,
        stopped_ms,
    })
}

/// A guess's value: `<question> <seconds>`.
pub fn guess_value(question: u64, seconds: f64) -> String {
    format!("{question} {seconds}")
}

/// What one member's record says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Its links.
    pub links: Vec<(NodeId, Carrier)>,
    /// The rumors it heard (the last few).
    pub heard: Vec<Heard>,
    /// Its guess: (question, seconds).
    pub guess: Option<(u64, f64)>,
}

/// Reads `member`'s record from `entries` (key, value) that `member` wrote itself; entries
/// about others, malformed ones and foreign keys are skipped.
pub fn read_record<'a>(
    member: NodeId,
    entries: impl Iterator<Item = (&'a str, &'a str)>,
) -> Record {
    let own = format!("{PREFIX}{}.", peer_hex(member));
    let mut record = Record::default();
    for (key, value) in entries {
        let Some(rest) = key.strip_prefix(own.as_str()) else {
            continue;
        };
        if rest == "links" {
            record.links = parse_links(value);
        } else if rest == "guess" {
            let mut it = value.split(' ');
            let q = it.next().and_then(|q| q.parse().ok());
            let s = it
                .next()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0);
            if let (Some(q), Some(s)) = (q, s) {
                record.guess = Some((q, s));
            }
        } else if rest
            .strip_prefix("heard.")
            .and_then(|slot| slot.parse::<u8>().ok())
            .is_some_and(|slot| slot < HEARD_SLOTS)
        {
            record.heard.extend(parse_heard(value));
        }
    }
    record
}

/// One member in the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomMember {
    /// Its id.
    pub id: NodeId,
    /// Its SWIM state as this member sees it (`alive` for itself).
    pub status: MemberState,
    /// Whether it is the member drawing the picture.
    pub me: bool,
    /// Its record (empty until its first record arrives).
    pub record: Record,
}

impl RoomMember {
    /// What it heard of `rumor`.
    pub fn heard(&self, rumor: RumorId) -> Option<&Heard> {
        self.record.heard.iter().find(|h| h.rumor == rumor)
    }
}

/// A told-whom arrow of a rumor's infection tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The teller.
    pub from: NodeId,
    /// The member told (for the first time).
    pub to: NodeId,
    /// When, ms after the rumor's birth.
    pub after_ms: i64,
    /// The hops the rumor had made to reach `to`.
    pub hops: u16,
}

/// How a rumor crossed the room.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    /// Which rumor.
    pub rumor: RumorId,
    /// When it started, its origin's clock, ms.
    pub born_ms: u64,
    /// Who told whom, in the order they heard it.
    pub edges: Vec<Edge>,
    /// Members (listed and not gone) that heard it, and members listed and not gone.
    pub informed: usize,
    /// Members in the room (alive or suspect, this one included).
    pub members: usize,
    /// When the last of them heard it, ms after birth, once all have.
    pub everyone_after_ms: Option<i64>,
    /// Members informed over time: (ms after birth, count), one step per arrival.
    pub curve: Vec<(i64, usize)>,
}

/// Builds the room's picture: `me`, the members SWIM lists, and each one's record read by
/// `records`.
pub fn members<'a>(
    me: NodeId,
    listed: impl Iterator<Item = (NodeId, MemberState)>,
    record_of: impl Fn(NodeId) -> Record + 'a,
) -> Vec<RoomMember> {
    let mut out: Vec<RoomMember> = core::iter::once((me, MemberState::Alive))
        .chain(listed.filter(|&(id, _)| id != me))
        .map(|(id, status)| RoomMember {
            id,
            status,
            me: id == me,
            record: record_of(id),
        })
        .collect();
    out.sort_by_key(|m| m.id);
    out
}

/// How `rumor` (born at `born_ms` on its origin's clock; `None`: the earliest arrival)
/// crossed `members`.
pub fn spread(members: &[RoomMember], rumor: RumorId, born_ms: Option<u64>) -> Spread {
    let here: Vec<&RoomMember> = members.iter().filter(|m| m.status.is_member()).collect();
    let heard: Vec<(&RoomMember, &Heard)> = members
        .iter()
        .filter_map(|m| m.heard(rumor).map(|h| (m, h)))
        .collect();
    let born_ms = born_ms
        .or_else(|| heard.iter().map(|(_, h)| h.at_ms).min())
        .unwrap_or(0);
    // Signed by hostile origins too: any u64 (the difference fits an i128, then is clamped).
    let after = |at: u64| (i128::from(at) - i128::from(born_ms)).clamp(-(1 << 53), 1 << 53) as i64;
    let mut edges: Vec<Edge> = heard
        .iter()
        .filter(|(m, h)| h.from != m.id)
        .map(|(m, h)| Edge {
            from: h.from,
            to: m.id,
            after_ms: after(h.at_ms),
            hops: h.hops,
        })
        .collect();
    edges.sort_by_key(|e| (e.after_ms, e.to));
    let mut times: Vec<i64> = heard
        .iter()
        .filter(|(m, _)| m.status.is_member())
        .map(|(_, h)| after(h.at_ms))
        .collect();
    times.sort_unstable();
    let informed = times.len();
    let curve = times.iter().enumerate().map(|(i, &t)| (t, i + 1)).collect();
    Spread {
        rumor,
        born_ms,
        edges,
        informed,
        members: here.len(),
        everyone_after_ms: (informed == here.len() && informed > 0)
            .then(|| times.last().copied().unwrap_or(0)),
        curve,
    }
}

/// Theory's members informed over time for a room of `members` pushing to `fanout` peers
/// every `interval_ms` with `loss`: the mean-field recurrence of [`Model`] (a complete graph;
/// a live member pushes only to its links), one point per interval, and the expected time
/// until everyone knows, ms.
pub fn theory(
    protocol: crate::rules::Protocol,
    members: usize,
    fanout: u8,
    interval_ms: u32,
    loss: f64,
) -> (Vec<(f64, f64)>, Option<f64>) {
    let n = members.max(1) as u32;
    let model = Model {
        protocol,
        fanout: u32::from(fanout),
        loss,
        nodes: n,
        live: n,
    };
    let rounds = model.expected_rounds(200);
    let shown = rounds.unwrap_or(40).max(1) + 1;
    let points = model
        .informed_fractions(shown)
        .iter()
        .enumerate()
        .map(|(r, f)| (r as f64 * f64::from(interval_ms), f * f64::from(n)))
        .collect();
    (
        points,
        rounds.map(|r| f64::from(r) * f64::from(interval_ms)),
    )
}

/// The guesses answering `question`, seconds, in member order.
pub fn guesses(members: &[RoomMember], question: u64) -> Vec<f64> {
    members
        .iter()
        .filter_map(|m| m.record.guess.filter(|g| g.0 == question).map(|g| g.1))
        .collect()
}

/// The middle guess (the upper of the two middle ones for an even count), if any: the
/// figure the conductor's panel shows beside the histogram.
pub fn median_guess(guesses: &[f64]) -> Option<f64> {
    let mut v = guesses.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Where each member sits in the room view: one of [`SLOTS`] fixed places on a sunflower
/// spiral in the unit disc, its preferred place a hash of its id; a member keeps its place
/// for as long as the layout lives, whoever joins or leaves (a newcomer whose place is taken
/// takes the next free one).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    places: BTreeMap<NodeId, u16>,
    taken: BTreeMap<u16, NodeId>,
}

/// Places in the room view (more than the 256 members a room holds).
pub const SLOTS: u16 = 320;

impl Layout {
    /// `member`'s place, given one if it has none: (x, y) in `[-1, 1]`.
    pub fn place(&mut self, member: NodeId) -> (f64, f64) {
        let slot = match self.places.get(&member) {
            Some(&s) => s,
            None => {
                let mut s = (member.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as u16 % SLOTS;
                let mut tries = 0;
                while self.taken.contains_key(&s) && tries < SLOTS {
                    s = (s + 1) % SLOTS;
                    tries += 1;
                }
                self.places.insert(member, s);
                // Every place taken (a room beyond SLOTS members): it shares one, and the
                // place stays its holder's.
                self.taken.entry(s).or_insert(member);
                s
            }
        };
        spiral(slot)
    }

    /// Frees the places of members not in `present`.
    pub fn keep_only(&mut self, present: &[NodeId]) {
        let gone: Vec<NodeId> = self
            .places
            .keys()
            .filter(|id| !present.contains(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(s) = self.places.remove(&id) {
                if self.taken.get(&s) == Some(&id) {
                    self.taken.remove(&s);
                }
            }
        }
    }
}

/// Slot `i` of a sunflower (Vogel) spiral: evenly spread over the unit disc, slot 0 in the
/// middle.
fn spiral(i: u16) -> (f64, f64) {
    let golden = core::f64::consts::PI * (3.0 - libm::sqrt(5.0));
    let r = libm::sqrt((f64::from(i) + 0.5) / f64::from(SLOTS));
    let a = f64::from(i) * golden;
    (r * libm::cos(a), r * libm::sin(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn heard(rumor: RumorId, from: u64, at_ms: u64) -> Heard {
        Heard {
            rumor,
            from: NodeId(from),
            at_ms,
            hops: 1,
            stopped_ms: None,
        }
    }

    #[test]
    fn records_round_trip_and_only_the_members_own_keys_count() {
        let r = RumorId {
            origin: NodeId(0xabc),
            seq: 4,
        };
        let h = Heard {
            stopped_ms: Some(9_000),
            ..heard(r, 0x77, 5_000)
        };
        let links = vec![(NodeId(2), Carrier::Direct), (NodeId(3), Carrier::Relay)];
        let me = NodeId(0x55);
        let entries = [
            (links_key(me), links_value(&links)),
            (heard_key(me, 3), heard_value(&h)),
            (guess_key(me), guess_value(7, 4.5)),
            // Another member's keys, and garbage, are not this member's record.
            (heard_key(NodeId(0x66), 0), heard_value(&heard(r, 1, 1))),
            (format!("{PREFIX}{}.heard.1", peer_hex(me)), "junk".into()),
            (guess_key(me).replace("guess", "x"), "1 1".into()),
        ];
        let record = read_record(me, entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(record.links, links);
        assert_eq!(record.heard, vec![h]);
        assert_eq!(record.guess, Some((7, 4.5)));
    }

    #[test]
    fn a_spread_has_one_arrow_per_member_told_and_its_curve() {
        let r = RumorId {
            origin: NodeId(1),
            seq: 0,
        };
        let member = |id: u64, status, h: Option<Heard>| RoomMember {
            id: NodeId(id),
            status,
            me: id == 1,
            record: Record {
                heard: h.into_iter().collect(),
                ..Record::default()
            },
        };
        let mut room = vec![
            member(1, MemberState::Alive, Some(heard(r, 1, 1_000))),
            member(2, MemberState::Alive, Some(heard(r, 1, 1_400))),
            member(3, MemberState::Alive, Some(heard(r, 2, 1_900))),
            member(4, MemberState::Alive, None),
        ];
        let s = spread(&room, r, Some(1_000));
        assert_eq!(s.edges.len(), 2);
        assert_eq!(
            (s.edges[1].from, s.edges[1].to, s.edges[1].after_ms),
            (NodeId(2), NodeId(3), 900)
        );
        assert_eq!((s.informed, s.members, s.everyone_after_ms), (3, 4, None));
        assert_eq!(s.curve, vec![(0, 1), (400, 2), (900, 3)]);
        room[3] = member(4, MemberState::Alive, Some(heard(r, 3, 2_500)));
        let s = spread(&room, r, Some(1_000));
        assert_eq!((s.edges.len(), s.everyone_after_ms), (3, Some(1_500)));
        assert_eq!(Heard::state_at(room[3].heard(r), 2_000), "unaware");
        assert_eq!(Heard::state_at(room[3].heard(r), 2_600), "heard");
        assert_eq!(Heard::state_at(room[3].heard(r), 4_000), "spreading");
    }

    #[test]
    fn the_median_guess_is_the_middle_one() {
        assert_eq!(median_guess(&[]), None);
        assert_eq!(median_guess(&[9.0, 2.0, 4.0]), Some(4.0));
        assert_eq!(median_guess(&[9.0, 2.0, 4.0, 6.0]), Some(6.0));
    }

    #[test]
    fn a_member_keeps_its_place_as_others_come_and_go() {
        let mut layout = Layout::default();
        let first: Vec<(f64, f64)> = (1..=50).map(|i| layout.place(NodeId(i * 7919))).collect();
        for i in 51..=250 {
            layout.place(NodeId(i * 7919));
        }
        layout.keep_only(&(1..=50).map(|i| NodeId(i * 7919)).collect::<Vec<_>>());
        let again: Vec<(f64, f64)> = (1..=50).map(|i| layout.place(NodeId(i * 7919))).collect();
        assert_eq!(first, again);
        // No two members share a place.
        let mut seen = first.clone();
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        seen.dedup();
        assert_eq!(seen.len(), 50);
    }
}
